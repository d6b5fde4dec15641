"""Whole-process time of `contest predict-one --index 0` (start-up, loading and verifying the
members, one prediction): best and median of --repeats fresh processes, and the same for
`contest --help`. Target: at most 0.3 s for predict-one.

    contest train-ensemble --n 2 --preset fast --train-limit 2000 --epochs 1 --out /tmp/models
    python benchmarks/startup_time.py --models /tmp/models
    python benchmarks/startup_time.py --models /tmp/models --source OTHER_CHECKOUT   # compare

--source runs the contest, nnlib and augment packages of another checkout (PYTHONPATH), with
this interpreter, so two versions are timed on the same machine in the same minute. The runs use
Python's bytecode cache, as an installed contest does (PYTHONDONTWRITEBYTECODE is dropped; the
warm-up run writes the cache): without it every process compiles contest's modules again.
"""
import os
import subprocess
import sys
import time

from benchargs import Parser, run_main
from machine import machine_facts


def timed(command, env, repeats):
    """Wall times of `repeats` runs of `command`, each in a fresh process (one warm-up first)."""
    times = []
    for attempt in range(repeats + 1):
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd="/")
        if attempt:   # the first run warms the page cache
            times.append(time.perf_counter() - started)
    return times


def summary(name, times):
    ordered = sorted(times)
    return f"{name}: best {ordered[0]:.3f} s, median {ordered[len(ordered) // 2]:.3f} s"


def main():
    parser = Parser(__doc__)
    parser.add_argument("--models", required=True, help="model directory to predict with")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--source", default=None, help="checkout whose packages to time")
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    if args.source:
        env["PYTHONPATH"] = os.path.abspath(args.source)
    contest = [sys.executable, "-m", "contest"]
    print(machine_facts())
    print(f"source: {args.source or 'the installed contest'}; {args.repeats} runs each")
    print(summary("contest predict-one --index 0", timed(
        contest + ["predict-one", "--index", "0", "--models", os.path.abspath(args.models)],
        env, args.repeats)))
    print(summary("contest --help", timed(contest + ["--help"], env, args.repeats)))


if __name__ == "__main__":
    run_main(main)
