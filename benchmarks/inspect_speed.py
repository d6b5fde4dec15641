"""How long the look-inside views take, each figure next to its target:

- `contest inspect image` (one image: every picture, the JSON, the nearest training images), the
  whole process from the shell: target <= 2 s (after the first run, which computes the training
  images' features once and caches them: reported apart);
- the page's look-inside request, POST /inspect of a PNG to a running `contest serve`, from this
  machine over loopback: target <= 300 ms (p50 and p90 of --requests requests);
- `contest inspect set` on the 10,000 test images, the whole process: target <= 60 s;
- `contest inspect labels` on the training set (with the cache), for information.

    python benchmarks/inspect_speed.py --models models [--repeats 5] [--requests 30]

The cache goes to a fresh temporary directory (the first image run is a cold one); outputs to
another, removed at the end.
"""
import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_facts  # noqa: E402

CONTEST = [sys.executable, "-m", "contest"]


CPU = []   # CPU seconds (user + system) of every timed process, in order


def timed(args, env):
    """Wall seconds of one `contest` process (it must succeed); its CPU seconds go to CPU: on a
    machine busy with other work the wall time grows, the CPU time much less."""
    before, start = os.times(), time.perf_counter()
    subprocess.run(CONTEST + args, check=True, capture_output=True, env=env)
    wall, after = time.perf_counter() - start, os.times()
    CPU.append(after.children_user - before.children_user
               + after.children_system - before.children_system)
    return wall


def verdict(value, target):
    return f"target <= {target:g} s: {'met' if value <= target else 'MISSED'}"


def image_phase(args, env, out):
    cold = timed(["inspect", "image", "--models", args.models, "--index", "8", "--out", out],
                 env)
    print(f"inspect image, first run (computes and caches the training features unless the "
          f"cache holds them): {cold:.2f} s")
    walls = [timed(["inspect", "image", "--models", args.models, "--index", str(i), "--out",
                    out], env) for i in range(args.repeats)]
    median = statistics.median(walls)
    print(f"inspect image, whole process, {args.repeats} runs: median {median:.2f} s, "
          f"min {min(walls):.2f} s, max {max(walls):.2f} s ({verdict(median, 2)}); CPU per "
          f"run: median {statistics.median(CPU[-args.repeats:]):.2f} s")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png_of(image):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(255 - image).save(buffer, format="PNG")   # dark ink on white, as drawn
    return buffer.getvalue()


def post(url, body):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "image/png"})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        answer = json.loads(response.read())
    return time.perf_counter() - start, answer


def wait_ready(url, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server stopped: " + process.stderr.read().decode())
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server not ready after {seconds} s")


def request_phase(args, env, digits):
    port = free_port()
    server = subprocess.Popen(CONTEST + ["serve", "--models", args.models, "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, server)
        bodies = [png_of(d) for d in digits]
        start = time.perf_counter()
        while post(url + "/inspect", bodies[0])[1]["neighbours_status"] != "ready":
            time.sleep(0.2)
        print(f"server's training index ready {time.perf_counter() - start:.1f} s after the "
              f"first look-inside request (read from the cache)")
        walls = [post(url + "/inspect", bodies[i % len(bodies)])[0]
                 for i in range(args.requests)]
        p50, p90 = np.percentile(walls, [50, 90])
        print(f"POST /inspect (PNG, 8 neighbours), {args.requests} requests one at a time: "
              f"p50 {1000 * p50:.0f} ms, p90 {1000 * p90:.0f} ms (target <= 300 ms: "
              f"{'met' if p50 <= 0.3 else 'MISSED'})")
    finally:
        server.terminate()
        server.wait(timeout=30)


def main(args):
    from contest.data.datasets import load_split

    print(machine_facts())
    digits = load_split("test")[0][:10]
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "CONTEST_CACHE_DIR": args.cache_dir or os.path.join(work, "cache")}
        out = os.path.join(work, "out")
        image_phase(args, env, out)
        request_phase(args, env, digits)
        wall = timed(["inspect", "set", "--models", args.models, "--out", out], env)
        print(f"inspect set on the test set, whole process: {wall:.1f} s ({verdict(wall, 60)}); "
              f"CPU {CPU[-1]:.1f} s")
        wall = timed(["inspect", "labels", "--models", args.models, "--out", out], env)
        print(f"inspect labels on the training set (cached features), whole process: "
              f"{wall:.1f} s")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="models", help="model directory")
    parser.add_argument("--repeats", type=int, default=5, help="warm image runs")
    parser.add_argument("--requests", type=int, default=30, help="look-inside requests")
    parser.add_argument("--cache-dir", default=None,
                        help="a cache to reuse (skips the cold first run's two minutes) "
                             "[default: a fresh temporary one]")
    return parser.parse_args()


if __name__ == "__main__":
    main(parse_args())
