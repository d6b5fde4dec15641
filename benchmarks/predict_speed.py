"""Whole-process speed of the contest CLI, each figure next to its target:

- `contest predict-one --index 0` with a 5-member default-preset ensemble (target <= 0.3 s),
- `contest predict` of the 10,000 MNIST test images with that ensemble (target <= 5 s),
- `contest train-ensemble --n 4` with --jobs 2 vs --jobs 1 (target >= 1.7x),
- peak memory (RSS summed over the process tree) of `train-ensemble --n 5` (< 2 GiB), with its
  default workers (3 on 2 cores).

    python benchmarks/predict_speed.py [--models DIR] [--work DIR] [--train-limit 6000]
                                       [--skip-training]

--models: the model directory to time (e.g. the one `contest train-ensemble --n 5` wrote);
without it, a 5-member default-preset ensemble is trained on 600 images for 1 epoch (prediction
costs the same however well it was trained). Wall times are medians of --repeats runs of a fresh
`contest` process.
"""
from benchargs import Parser, run_main
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import machine_facts  # noqa: E402

CONTEST = [sys.executable, "-m", "contest"]


def run(args, quiet=True):
    return subprocess.run(CONTEST + args, check=True, capture_output=quiet, text=True)


def timed(args, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run(args)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def tree_rss(root):
    """Resident memory in bytes of `root` and all its descendants (Linux /proc)."""
    children, rss = {}, {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{pid}/statm") as f:
                rss[int(pid)] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(ppid, []).append(int(pid))
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def peak_memory(args):
    proc = subprocess.Popen(CONTEST + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss(proc.pid))
        time.sleep(0.2)
    if proc.returncode:
        raise SystemExit(f"train-ensemble failed with status {proc.returncode}")
    return peak


def train_default(out):
    """A 5-member ensemble of the default preset, trained on a tiny slice: for its speed only."""
    run(["train-ensemble", "--n", "5", "--train-limit", "600", "--epochs", "1", "--out", out,
         "--quiet"])


def train(out, n, jobs, limit):
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    limit_args = ["--train-limit", str(limit)] if limit else []
    run(["train-ensemble", "--preset", "fast", "--n", str(n), "--jobs", str(jobs), "--epochs", "1",
         "--out", out, "--quiet", *limit_args])
    return time.perf_counter() - t


def main():
    ap = Parser(__doc__)
    ap.add_argument("--models", default=None, help="model directory to time (default: train one)")
    ap.add_argument("--work", default=None, help="scratch directory (default: a temp dir)")
    ap.add_argument("--train-limit", type=int, default=None,
                    help="training images for the --jobs comparison (default: all 60,000)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each timed command [default: 3]")
    ap.add_argument("--skip-training", action="store_true", help="only the prediction figures")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="contest-speed-")
    models = a.models or os.path.join(work, "models-default")
    images = os.path.join(work, "test.npy")
    print(machine_facts())
    if not os.path.exists(os.path.join(models, "ensemble.json")):
        if a.models:
            raise SystemExit(f"--models {a.models}: no ensemble.json there")
        train_default(models)
    run(["export", "--split", "test", "--out", images])
    print(f"models: {models}")
    one = timed(["predict-one", "--index", "0", "--models", models], a.repeats)
    print(f"predict-one --index 0: {one:.2f} s (target <= 0.3 s)", flush=True)
    many = timed(["predict", images, "-o", os.path.join(work, "submit.txt"), "--models", models],
                 a.repeats)
    print(f"predict 10,000 images: {many:.2f} s (target <= 5 s)", flush=True)
    if a.skip_training:
        return
    t1 = train(os.path.join(work, "j1"), 4, 1, a.train_limit)
    t2 = train(os.path.join(work, "j2"), 4, 2, a.train_limit)
    print(f"train-ensemble --n 4 (fast, 1 epoch, {a.train_limit or 'all'} images): --jobs 1 {t1:.1f} s, "
          f"--jobs 2 {t2:.1f} s, speed-up {t1 / t2:.2f}x (target >= 1.7x)", flush=True)
    out5 = os.path.join(work, "mem")
    shutil.rmtree(out5, ignore_errors=True)
    peak = peak_memory(["train-ensemble", "--n", "5", "--epochs", "1", "--out", out5, "--quiet"])
    print(f"peak RSS of train-ensemble --n 5 (default preset and workers, full data, 1 epoch): "
          f"{peak / 2**30:.2f} GiB (target < 2 GiB)")


if __name__ == "__main__":
    run_main(main)
