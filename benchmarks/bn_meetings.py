"""What BatchNorm networks could gain from training in per-process blocks at two cores: two
processes each train arch B (or another network) on half a batch, and meet, or not, at every
BatchNorm reduction, against two nnlib threads sharing the whole batch in one process.

    python benchmarks/bn_meetings.py [--arch b] [--steps 25] [--rounds 3]

Each process trains its own 64-image step (forward, backward, Adam), BLAS at one thread. "free":
the processes never meet; "barrier": they meet at a multiprocessing.Barrier after every
BatchNorm reduction (its batch sums, as block training would have to exchange them) and after
each backward pass; "spin": the same meetings on a shared-memory spin barrier. Nothing is
exchanged, so this measures the meetings alone: a block trainer would add the weight and
gradient copies and the parent's serial Adam. "threads": one process, two nnlib threads, the
whole 128-image batch.
"""
from benchargs import Parser
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_facts  # noqa: E402
from thread_scaling import images_per_second, training_step  # noqa: E402


def _meeting(mode, rank, counters, barrier):
    seen = [0]

    def spin():
        seen[0] += 1
        counters[rank] = seen[0]
        while min(counters) < seen[0]:
            pass

    return {"free": lambda: None, "barrier": barrier.wait, "spin": spin}[mode]


def _half_batch_step(arch, meet):
    """A one-thread, 64-image training step whose BatchNorm reductions and end of backward
    each call meet()."""
    import nnlib.layers.batchnorm as bn

    reduce_groups = bn.reduce_groups

    def reduce_and_meet(*args, **kwargs):
        sums = reduce_groups(*args, **kwargs)
        meet()
        return sums

    bn.reduce_groups = reduce_and_meet
    return training_step(arch, 1, batch=64, after_backward=meet)


def _process(arch, mode, rank, counters, barrier, out, steps):
    from threadpoolctl import threadpool_limits
    with threadpool_limits(1, user_api="blas"):
        step = _half_batch_step(arch, _meeting(mode, rank, counters, barrier))
        barrier.wait()   # start together
        out.put(images_per_second(step, steps, batch=64))


def two_processes(arch, mode, steps):
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    counters, barrier, out = ctx.RawArray("q", 2), ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_process, args=(arch, mode, r, counters, barrier, out, steps))
             for r in range(2)]
    for p in procs:
        p.start()
    rates = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def main():
    ap = Parser(__doc__)
    ap.add_argument("--arch", default="b", help="architecture to train [default: b]")
    ap.add_argument("--steps", type=int, default=25,
                    help="timed training steps per set-up and round [default: 25]")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of all set-ups in turn [default: 3]")
    a = ap.parse_args()
    from threadpoolctl import threadpool_limits
    print(machine_facts())
    print(f"arch {a.arch}, images/s of the two cores together")
    for r in range(a.rounds):
        with threadpool_limits(1, user_api="blas"):
            threads = images_per_second(training_step(a.arch, 2), a.steps)
        rates = {m: two_processes(a.arch, m, a.steps) for m in ("free", "barrier", "spin")}
        print(f"round {r + 1}: 2 threads {threads:.0f}; 2 processes: "
              + ", ".join(f"{m} {v:.0f}" for m, v in rates.items()), flush=True)


if __name__ == "__main__":
    main()
