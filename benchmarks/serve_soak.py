"""Soak of `contest serve` on loopback: CLIENTS clients for DURATION seconds, each sending a mix of
normal single images, 10,000-image batches, 4096x4096 PNG drawings, ~100 MB JSON bodies,
malformed bodies and stalled (half-sent) requests. Targets (issue 35):

- no 5xx other than 503 (the admission bound's "retry shortly");
- every well-formed request that is answered 200 answered correctly (labels and probabilities
  of `contest.Ensemble` on the same images, computed here);
- server RSS (all its processes) never above 1.5 GiB, and back within 10 % of its idle size
  after the soak (idle: after one warm-up request of each kind, as the processes keep the memory
  of their first large request);
- p99 of the single-image requests <= 250 ms.

A client that gets 503 waits the second its Retry-After asks before its next request.

    python benchmarks/serve_soak.py --models models [--duration 300] [--clients 16] [--seed 0]

Only loopback is used; the server is started here (its defaults, as `contest serve` runs) and
stopped at the end; the whole run is bounded by DURATION plus the slowest request's timeout.
"""
import argparse
import http.client
import io
import json
import os
import random
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchargs import Parser, run_main  # noqa: E402
from machine import machine_facts  # noqa: E402
from serve_load import MemorySampler, free_port, npy_bytes, start_server, tree_rss  # noqa: E402

KINDS = {"single": 70, "batch": 4, "png": 6, "json": 3, "malformed": 12, "stalled": 5}
TIMEOUT = 300
GIB = 2**30


def png_drawing(digit, side=4096):
    """A digit scaled up to side x side, dark on white, as PNG bytes (RGBA, as a browser sends)."""
    from PIL import Image

    picture = Image.fromarray(255 - digit).resize((side, side), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    picture.convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def expected_answers(models, images):
    """Request bodies and the (labels, probabilities) `contest.Ensemble` gives for them."""
    from contest import Ensemble

    ensemble = Ensemble.load(models)
    singles = [(npy_bytes(images[k:k + 1]), ensemble.predict_proba(images[k:k + 1]))
               for k in range(100)]
    batch = images[:10000]
    floats = np.round(batch / 255.0, 8)
    png = png_drawing(images[0])
    with tempfile.NamedTemporaryFile(suffix=".png") as file:
        file.write(png)
        file.flush()
        png_proba = ensemble.predict_proba(file.name)
    return {"single": singles,
            "batch": [(npy_bytes(batch), ensemble.predict_proba(batch))],
            "json": [(json.dumps({"images": floats.tolist()}).encode(),
                      ensemble.predict_proba(floats))],
            "png": [(png, png_proba)]}


def npy_with_header(descr, shape, payload=b""):
    """.npy bytes with a hand-written header (shapes and dtypes np.save never writes)."""
    header = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


MALFORMED = [  # (Content-Type, body): each must get a 4xx
    ("application/x-npy", npy_with_header("'|V0'", "(1, 784)")),
    ("application/x-npy", npy_with_header("'<u1'", "(-1, 784)", bytes(784))),
    ("application/x-npy", npy_with_header("'<u1'", "(4294967296, 4294967296, 784)")),
    ("application/json", b"[" * 3000 + b"]" * 3000),
    ("application/json", b"[[1, 2], [3]]"),
    ("text/csv", b"\xef\xbb\xbfa,b\n1,2\n"),
    ("image/png", b"\x89PNG\r\n\x1a\nbroken"),
]
STALLS = [  # half-sent requests: headers cut off, or a body cut off
    b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Half: ",
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100000\r\n\r\n[[1, 2",
]
MEDIA = {"single": "application/x-npy", "batch": "application/x-npy", "json": "application/json",
         "png": "image/png"}


def post(port, media, body):
    """(status, parsed JSON or None, seconds) of one POST /predict on a new connection."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("POST", "/predict", body=body, headers={"Content-Type": media})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    answer = json.loads(data) if response.status == 200 else None
    return response.status, answer, time.perf_counter() - start


def stall(port, half):
    """Send half a request and wait until the server closes the connection: its status."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(half)
        head = sock.recv(64)
    return int(head.split()[1]) if head.startswith(b"HTTP/1.1 ") else 0


def correct(answer, proba):
    return answer["labels"] == proba.argmax(axis=1).tolist() and \
        np.allclose(answer["probabilities"], proba, atol=2e-6)


class Tally:
    """Counts per kind and status, wrong answers, single-image latencies (thread-safe)."""

    def __init__(self):
        self.lock, self.counts, self.wrong, self.single_seconds = threading.Lock(), {}, [], []

    def add(self, kind, status, right=True, seconds=None):
        with self.lock:
            key = (kind, status)
            self.counts[key] = self.counts.get(key, 0) + 1
            if not right:
                self.wrong.append((kind, status))
            if seconds is not None and kind == "single" and status == 200:
                self.single_seconds.append(seconds)


def one_request(port, kind, rng, bodies, tally):
    """Send one request of `kind`, count its outcome; its status."""
    if kind == "stalled":
        status = stall(port, rng.choice(STALLS))
        tally.add(kind, status)
    elif kind == "malformed":
        media, body = rng.choice(MALFORMED)
        status, _, _ = post(port, media, body)
        tally.add(kind, status, right=400 <= status < 500 or status == 503)
    else:
        body, proba = rng.choice(bodies[kind])
        status, answer, seconds = post(port, MEDIA[kind], body)
        tally.add(kind, status, status != 200 or correct(answer, proba), seconds)
    return status


def client(port, deadline, seed, bodies, tally):
    rng = random.Random(seed)
    kinds, weights = list(KINDS), list(KINDS.values())
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        try:
            status = one_request(port, kind, rng, bodies, tally)
        except (OSError, http.client.HTTPException) as exc:
            tally.add(kind, f"connection error ({type(exc).__name__})", right=False)
            continue
        if status == 503:   # as Retry-After asks (1 s), before this client's next request
            time.sleep(1)


def warm_up(port, bodies):
    """Two requests of each kind in a row: connections are handed to the processes in turn,
    so each of two processes meets each kind once."""
    for kind in ("single", "batch", "json", "png"):
        for _ in range(2):
            post(port, MEDIA[kind], bodies[kind][0][0])


def report(tally, rss, args):
    statuses = sorted(tally.counts.items(), key=lambda item: (item[0][0], str(item[0][1])))
    for (kind, status), count in statuses:
        print(f"  {kind:9s} {status}: {count}")
    fives = sum(count for (kind, status), count in tally.counts.items()
                if isinstance(status, int) and status >= 500 and status != 503)
    latencies = np.array(tally.single_seconds) * 1000
    p50, p99 = np.percentile(latencies, [50, 99]) if len(latencies) else (np.nan, np.nan)
    cold, idle, peak, after = (value / 2**20 for value in rss)
    print(f"5xx other than 503: {fives} (target 0); wrong or failed answers: "
          f"{len(tally.wrong)} (target 0)")
    print(f"single images: {len(latencies)} answered 200, p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          "(target p99 <= 250 ms)")
    print(f"server RSS (all processes): {cold:.0f} MiB at start, idle {idle:.0f} MiB after "
          f"warm-up, peak {peak:.0f} MiB (target <= {1.5 * GIB / 2**20:.0f}), {after:.0f} MiB "
          f"idle after the soak ({(after / idle - 1) * 100:+.1f} %, target within 10 %)")


def main():
    parser = Parser(__doc__)
    parser.add_argument("--models", required=True, help="model directory to serve")
    parser.add_argument("--duration", type=float, default=300, help="seconds of load [300]")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients [16]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the request mix [0]")
    args = parser.parse_args()
    print(machine_facts())
    from contest.data.datasets import load_split

    bodies = expected_answers(args.models, load_split("test")[0])
    port = free_port()
    settings = argparse.Namespace(models=args.models, batch_size=10000, workers=None,
                                  threads=None)
    with tempfile.TemporaryFile() as log:
        server = start_server(settings, port, log)
        try:
            run_soak(server, port, bodies, args)
        finally:
            server.terminate()
            server.wait(timeout=60)
        log.seek(0)
        replaced = log.read().count(b"when idle, more than")
    print(f"server processes replaced because their idle memory had grown: {replaced}")


def run_soak(server, port, bodies, args):
    cold = tree_rss(server.pid)
    warm_up(port, bodies)
    time.sleep(2)
    idle = tree_rss(server.pid)
    sampler = MemorySampler(server.pid)
    sampler.start()
    tally, deadline = Tally(), time.monotonic() + args.duration
    print(f"soak: {args.clients} clients for {args.duration:.0f} s, mix {KINDS}")
    with ThreadPoolExecutor(args.clients) as pool:
        clients = [pool.submit(client, port, deadline, args.seed * 1000 + number, bodies, tally)
                   for number in range(args.clients)]
        for running in clients:
            running.result()
    sampler.done.set()
    sampler.join()
    time.sleep(5)   # the server's last requests finish, freed memory settles
    report(tally, (cold, idle, sampler.peak, tree_rss(server.pid)), args)


if __name__ == "__main__":
    run_main(main)
