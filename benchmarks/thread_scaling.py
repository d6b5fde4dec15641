"""How nnlib's training step uses two cores: one thread, two threads in one process, and two
independent one-thread processes at the same time (what two cores can give without any
sharing), plus where a two-thread step's time goes between nnlib's parallel sections.

    python benchmarks/thread_scaling.py [--arch b] [--steps 30] [--rounds 3]

Training step: batch 128, forward + backward + Adam, BLAS at one thread. Each round runs the
three set-ups one after the other (this machine's speed drifts over minutes; compare within a
round). The section figures wrap `nnlib.runtime.threads.run_parallel` (the Dense layers' own
hand-offs are left in the serial time). The sleeps per thread count every time a thread
blocked (Linux's voluntary context switches): once per section it waits for, plus every wait for
Python's interpreter lock.
"""
import argparse

from benchargs import Parser
import glob
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_facts  # noqa: E402


def training_step(arch, threads, batch=128, after_backward=None):
    """One training step of `arch` on `batch` random images with nnlib at `threads` threads;
    `after_backward()`, if given, runs between the backward pass and Adam's update."""
    import nnlib as nn
    from contest.train.architectures import build_model

    nn.set_num_threads(threads)
    nn.retain_freed_memory()
    rng = np.random.default_rng(0)
    model = build_model(arch, rng)
    loss, opt = nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=1e-3)
    x = rng.random((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)

    def step():
        loss.forward(model.forward(x, training=True), y)
        model.backward(loss.backward(), input_grad=False)
        if after_backward is not None:
            after_backward()
        opt.step()
        opt.zero_grad()
    return step


def images_per_second(step, steps, batch=128):
    for _ in range(3):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t)


class SectionClock:
    """Wraps run_parallel: time the caller spends in its own share, waiting for the helpers,
    the helpers' busy time and how long after the hand-off they start."""

    def __init__(self, threads):
        self.threads, self.calls = threads, 0
        self.own = self.wait = self.helper = self.lag = 0.0
        self.original = threads.run_parallel
        threads.run_parallel = self.run_parallel

    def run_parallel(self, *fns):
        t = self.threads
        if t.get_num_threads() == 1 or len(fns) == 1 or t._inline():
            return [f() for f in fns]
        start = time.perf_counter()
        futures = [t._pool().submit(self._timed, f) for f in fns[1:]]
        first = fns[0]()
        mid = time.perf_counter()
        done = [f.result() for f in futures]
        self.calls += 1
        self.own += mid - start
        self.wait += time.perf_counter() - mid
        self.helper += sum(e - s for _, s, e in done)
        self.lag += sum(s - start for _, s, _ in done)
        return [first] + [r for r, _, _ in done]

    @staticmethod
    def _timed(f):
        s = time.perf_counter()
        r = f()
        return r, s, time.perf_counter()


def child(arch, steps):
    """One one-thread process's rate, printed for the parent."""
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1, user_api="blas"):
        print(images_per_second(training_step(arch, 1), steps))


def two_processes(arch, steps):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--arch", arch,
           "--steps", str(steps)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    return [float(p.communicate()[0]) for p in procs]


def blocking_waits():
    """{thread id: voluntary context switches so far} of this process's threads (Linux): a
    thread switches voluntarily each time it sleeps, on a hand-off or on the interpreter lock."""
    waits = {}
    for status in glob.glob(f"/proc/{os.getpid()}/task/*/status"):
        with open(status) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    waits[status.split("/")[4]] = int(line.split()[1])
    return waits


def sections(arch, steps):
    import nnlib.runtime.threads as threads
    step = training_step(arch, 2)
    for _ in range(3):
        step()
    clock = SectionClock(threads)
    try:
        before, t = blocking_waits(), time.perf_counter()
        for _ in range(steps):
            step()
        ms = (time.perf_counter() - t) / steps * 1e3
        after = blocking_waits()
    finally:
        threads.run_parallel = clock.original
    per = 1e3 / steps
    # threads that never slept (idle BLAS workers) are left out
    sleeps = sorted(n for n in ((after[k] - before.get(k, 0)) / steps for k in after) if n > 0)
    return (f"two-thread step {ms:.1f} ms: {clock.calls / steps:.0f} parallel sections, caller's "
            f"own share {clock.own * per:.1f} ms, caller waiting {clock.wait * per:.1f} ms, "
            f"helper busy {clock.helper * per:.1f} ms, helper start lag "
            f"{clock.lag / max(clock.calls, 1) * 1e6:.0f} us a section; sleeps a step per thread "
            f"(hand-offs and waits for the interpreter lock): "
            + (", ".join(f"{n:.0f}" for n in sleeps) or "not available (no /proc)"))


def main():
    ap = Parser(__doc__)
    ap.add_argument("--arch", default="b", help="architecture to train [default: b]")
    ap.add_argument("--steps", type=int, default=30,
                    help="timed training steps per set-up and round [default: 30]")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of the three set-ups in turn [default: 3]")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.arch, a.steps)
    from threadpoolctl import threadpool_limits
    print(machine_facts())
    print(f"arch {a.arch}, batch 128, images/s over {a.steps} steps")
    for r in range(a.rounds):
        with threadpool_limits(1, user_api="blas"):
            one = images_per_second(training_step(a.arch, 1), a.steps)
            two = images_per_second(training_step(a.arch, 2), a.steps)
        p1, p2 = two_processes(a.arch, a.steps)
        print(f"round {r + 1}: 1 thread {one:.0f}; 2 threads {two:.0f} ({two / one:.2f}x); "
              f"2 processes at once {p1:.0f} + {p2:.0f} = {p1 + p2:.0f} ({(p1 + p2) / one:.2f}x)",
              flush=True)
    with threadpool_limits(1, user_api="blas"):
        print(sections(a.arch, a.steps))


if __name__ == "__main__":
    main()
