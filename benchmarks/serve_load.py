"""Load on `contest serve` from this machine to loopback (issue 20), each figure next to its target:

- a quarter of the single-image requests on one connection, one at a time: the latency of one
  request when the server has nothing else to do;
- 2,000 single-image requests at 16 concurrent connections: requests/s, p50 (target <= 20 ms)
  and p99 (target <= 100 ms) latency, errors (target 0);
- 20 requests of 10,000 images: images/s, per-request latency and server CPU, compared with
  `contest predict` on the same file minus its start-up (the same command on one image), wall
  and CPU, run with the server idle after the first, the middle and the last request;
- the server's CPU time per single-image request, and the mean latency that the throughput
  implies when 16 requests are always in flight (Little's law: 16 / requests per second);
- the server's peak memory (RSS of its process tree, sampled every 100 ms) and its RSS after each
  phase (target: flat).

    python benchmarks/serve_load.py --models models [--singles 2000] [--concurrency 16]
        [--batches 20] [--batch-size 10000] [--workers N] [--threads N] [--compare-cli]

Only loopback is used; the server is started here on a free port and stopped at the end. The
load generator (one asyncio loop on raw sockets, kept-alive connections) shares the machine's
cores with the server, so figures are a lower bound.
"""
from benchargs import Parser
import asyncio
import http.client
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_facts  # noqa: E402

CONTEST = [sys.executable, "-m", "contest"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def tree_pids(pid):
    """`pid` and its descendants, from /proc/PID/task/*/children (no scan of all of /proc)."""
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    stack.extend(int(child) for child in f.read().split())
        except OSError:
            continue
    return pids


def _tree_sum(pid, name, count):
    """Sum of count(text of /proc/MEMBER/name) over `pid` and its descendants (Linux /proc);
    members that end meanwhile are skipped."""
    total = 0
    for member in tree_pids(pid):
        try:
            with open(f"/proc/{member}/{name}") as f:
                total += count(f.read())
        except (OSError, IndexError, ValueError):
            pass
    return total


def tree_rss(pid):
    """Resident memory in bytes of `pid` and its descendants."""
    return _tree_sum(pid, "statm", lambda text: int(text.split()[1])) * os.sysconf("SC_PAGE_SIZE")


def tree_cpu_seconds(pid):
    """User + system CPU seconds used so far by `pid` and its descendants."""
    def ticks(text):
        fields = text.rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    return _tree_sum(pid, "stat", ticks) / os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    """Peak RSS of a process tree, sampled until stopped."""

    def __init__(self, pid, every=0.1):
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            time.sleep(self.every)


def start_server(args, port, log=subprocess.DEVNULL):
    """`contest serve` of args.models on `port`, started and ready; its standard error to
    `log` (a file)."""
    command = CONTEST + ["serve", "--models", args.models, "--port", str(port),
                         "--max-batch", str(args.batch_size)]
    if args.workers:   # else the server's default, one process per core
        command += ["--workers", str(args.workers)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with status {process.returncode}")
        try:
            if request(port, "GET", "/health")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    sys.exit("server not ready after 120 s")


def request(port, method, path, body=None, headers=None, connection=None):
    """(status, body bytes) of one request, on `connection` if given (kept alive)."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    if connection is None:
        conn.close()
    return response.status, data


async def _exchange(reader, writer, port, body):
    """One POST /predict on a kept-alive connection: the response's status."""
    writer.write(b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                 b"Content-Type: application/x-npy\r\nContent-Length: %d\r\n\r\n"
                 % (port, len(body)) + body)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines
                  if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return int(lines[0].split()[1])


async def _connection(port, bodies, results):
    """Send bodies (shared iterator) one after another over one connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for index, body in bodies:
            start = time.perf_counter()
            try:
                status = await _exchange(reader, writer, port, body)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                status = None
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            results[index] = (time.perf_counter() - start, status == 200)
    finally:
        writer.close()


def load_phase(port, bodies, concurrency):
    """Send every body in `bodies` over `concurrency` kept-alive connections: wall seconds,
    latencies and errors. The client is one asyncio loop on raw sockets, so that it takes as
    little as possible of the cores the server shares with it."""
    results = [None] * len(bodies)

    async def phase():
        shared = iter(enumerate(bodies))
        await asyncio.gather(*(_connection(port, shared, results) for _ in range(concurrency)))
    start = time.perf_counter()
    asyncio.run(phase())
    wall = time.perf_counter() - start
    latencies = np.array([r[0] for r in results])
    errors = sum(1 for r in results if not r[1])
    return wall, latencies, errors


def report(name, wall, latencies, errors, images_per_request):
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    count = len(latencies)
    print(f"{name}: {count} requests in {wall:.1f} s: {count / wall:.1f} requests/s, "
          f"{count * images_per_request / wall:,.0f} images/s; latency p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms; errors {errors}")
    return p50, p99


def batch_phase(port, pid, body, args, compare=None):
    """`args.batches` requests of one batch each, in turn; RSS after each (flat is the target)
    and the server's CPU seconds per request. `compare` (if given) is called with the server
    idle after the first, the middle and the last request, so that the two are timed under the
    same conditions of the machine."""
    walls, latencies, errors, rss, cpus = 0.0, [], 0, [], []
    checkpoints = {0, args.batches // 2, args.batches - 1}
    for index in range(args.batches):
        cpu = tree_cpu_seconds(pid)
        wall, latency, failed = load_phase(port, [body], 1)
        cpus.append(tree_cpu_seconds(pid) - cpu)
        walls, errors = walls + wall, errors + failed
        latencies.extend(latency)
        rss.append(tree_rss(pid) >> 20)
        if compare is not None and index in checkpoints:
            compare()
    report(f"batches of {args.batch_size}", walls, np.array(latencies), errors, args.batch_size)
    print(f"  server CPU per request: {np.median(cpus):.2f} s (median)")
    print(f"  RSS after each batch (MiB): {' '.join(map(str, rss))}")
    return np.array(latencies)


def _timed_cli(path, out):
    """(wall, CPU) seconds of one `contest predict` process on `path`."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(CONTEST + ["predict", path, "--models", ARGS.models, "-o", out], check=True,
                   capture_output=True)
    after = os.times()
    cpu = (after.children_user - before.children_user) + \
        (after.children_system - before.children_system)
    return time.perf_counter() - start, cpu


class CliTimer:
    """`contest predict` on the batch minus the same command on one image (its start-up), wall
    and CPU seconds, each call one measurement."""

    def __init__(self, images, work):
        self.all, self.one = os.path.join(work, "all.npy"), os.path.join(work, "one.npy")
        np.save(self.all, images)
        np.save(self.one, images[:1])
        self.out, self.walls, self.cpus = os.path.join(work, "out.txt"), [], []

    def __call__(self):
        wall, cpu = _timed_cli(self.all, self.out)
        wall_one, cpu_one = _timed_cli(self.one, self.out)
        self.walls.append(wall - wall_one)
        self.cpus.append(cpu - cpu_one)


def singles_phases(port, pid, singles, concurrency):
    """Single-image requests, one at a time then `concurrency` at once: latencies, server CPU
    per request and whether the latency targets hold."""
    wall, latencies, errors = load_phase(port, singles[:len(singles) // 4], 1)
    report("single images (1 connection, one request at a time)", wall, latencies, errors, 1)
    cpu = tree_cpu_seconds(pid)
    wall, latencies, errors = load_phase(port, singles, concurrency)
    cpu = tree_cpu_seconds(pid) - cpu
    p50, p99 = report(f"single images ({concurrency} connections)", wall, latencies, errors, 1)
    print(f"  server CPU per request: {cpu / len(singles) * 1000:.2f} ms; with "
          f"{concurrency} requests always in flight, the mean latency is "
          f"{concurrency} / throughput = "
          f"{concurrency * wall / len(singles) * 1000:.1f} ms (Little's law)")
    print(f"  targets: p50 <= 20 ms ({'met' if p50 <= 20 else 'MISSED'}), p99 <= 100 ms "
          f"({'met' if p99 <= 100 else 'MISSED'}); RSS {tree_rss(pid) >> 20} MiB")


def main(args):
    from contest.data.datasets import load_split

    print(machine_facts())
    test_images = load_split("test")[0]
    batch = np.resize(test_images, (args.batch_size, 28, 28))
    singles = [npy_bytes(test_images[i % len(test_images)][None]) for i in range(args.singles)]
    port = free_port()
    server, cli = start_server(args, port), None
    sampler = MemorySampler(server.pid)
    sampler.start()
    try:
        print(f"server ready (pid {server.pid}, port {port}; --workers "
              f"{args.workers or 'default'}, --threads {args.threads or 'default'}): RSS "
              f"{tree_rss(server.pid) >> 20} MiB")
        singles_phases(port, server.pid, singles, args.concurrency)
        with tempfile.TemporaryDirectory() as work:
            cli = CliTimer(batch, work) if args.compare_cli else None
            latencies = batch_phase(port, server.pid, npy_bytes(batch), args, cli)
    finally:
        sampler.done.set()
        sampler.join()
        server.terminate()
        server.wait(timeout=60)
    print(f"server peak memory: {sampler.peak >> 20} MiB")
    if cli is not None:
        print(f"contest predict of {args.batch_size} images minus start-up, run between the "
              f"requests: {np.median(cli.walls):.2f} s wall, {np.median(cli.cpus):.2f} s CPU "
              f"(medians of {len(cli.walls)}); median POST /predict: "
              f"{np.median(latencies):.2f} s")


def parse():
    parser = Parser(__doc__)
    parser.add_argument("--models", required=True, help="model directory to serve")
    parser.add_argument("--singles", type=int, default=2000,
                        help="single-image requests of the concurrent phase [default: 2000]")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="connections sending them at once [default: 16]")
    parser.add_argument("--batches", type=int, default=20,
                        help="large requests of the batch phase [default: 20]")
    parser.add_argument("--batch-size", type=int, default=10000,
                        help="images per large request [default: 10000]")
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes [default: the server's, one per core]")
    parser.add_argument("--threads", type=int, default=None,
                        help="the server's --threads [default: the server's default]")
    parser.add_argument("--compare-cli", action="store_true",
                        help="also time `contest predict` on the same batch")
    return parser.parse_args()


if __name__ == "__main__":
    ARGS = parse()
    main(ARGS)
