"""Whole-process time of `contest predict-one --index 0` (start-up, loading and verifying the
members, one prediction) and of `contest --help`: best and median wall time and CPU time (user +
system) of --repeats fresh processes. Target: at most 0.3 s for predict-one.

    contest train-ensemble --n 2 --preset fast --train-limit 2000 --epochs 1 --out /tmp/models
    python benchmarks/startup_time.py --models /tmp/models
    python benchmarks/startup_time.py --models /tmp/models --before OTHER_CHECKOUT

--before also times the contest, nnlib and augment packages of another checkout (PYTHONPATH),
with this interpreter, alternating run by run with this one, so that both see the same load on a
shared machine. The runs use Python's bytecode cache, as an installed contest does
(PYTHONDONTWRITEBYTECODE is dropped; a warm-up run writes the cache): without it every process
compiles contest's modules again. On a busy machine the wall times wait for a core; the CPU
times do not.
"""
import os
import resource
import statistics
import subprocess
import sys
import time

from benchargs import Parser, run_main
from machine import machine_facts


def run_once(command, env):
    """(wall seconds, CPU seconds) of one run of `command` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd="/")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(name, runs):
    walls, cpus = sorted(r[0] for r in runs), sorted(r[1] for r in runs)
    return (f"{name}: wall best {walls[0]:.3f} s, median {statistics.median(walls):.3f} s; "
            f"CPU best {cpus[0]:.3f} s, median {statistics.median(cpus):.3f} s")


def environments(before):
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    versions = {"this checkout": env}
    if before:
        versions["--before"] = dict(env, PYTHONPATH=os.path.abspath(before))
    return versions


def main():
    parser = Parser(__doc__)
    parser.add_argument("--models", required=True, help="model directory to predict with")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs of each command")
    parser.add_argument("--before", default=None, help="another checkout to time alongside")
    args = parser.parse_args()
    contest = [sys.executable, "-m", "contest"]
    commands = {"predict-one --index 0": contest + ["predict-one", "--index", "0", "--models",
                                                    os.path.abspath(args.models)],
                "--help": contest + ["--help"]}
    versions = environments(args.before)
    print(machine_facts())
    print(f"{args.repeats} runs of each command and version, alternating; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    for label, command in commands.items():
        for env in versions.values():
            run_once(command, env)   # warm-up: page cache and bytecode cache
        runs = {version: [] for version in versions}
        for _ in range(args.repeats):
            for version, env in versions.items():
                runs[version].append(run_once(command, env))
        for version in versions:
            print(summary(f"contest {label} ({version})", runs[version]))


if __name__ == "__main__":
    run_main(main)
