"""Wall time of `contest compare` of 5 optimizers (sgd, momentum, adagrad, rmsprop, adam) on
5,000 MNIST training images for 3 epochs, arch a (the fast preset), against its target of
3 minutes on a 2-core machine; prints the comparison's table and the machine facts.

    python benchmarks/compare_speed.py [--work DIR] [--train-limit 5000] [--epochs 3]

The time covers the whole command in a fresh process: loading the data, training the five
variants in parallel workers and scoring them on the training slice, validation split and the
10,000 test images, and drawing the report. The load average before and after is printed: a
figure taken while other work runs is not a clean one.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchargs import Parser  # noqa: E402
from machine import machine_facts  # noqa: E402

TARGET_SECONDS = 180
OPTIMIZERS = "sgd,momentum,adagrad,rmsprop,adam"


def main():
    parser = Parser(__doc__)
    parser.add_argument("--work", default=None, help="directory for the comparison [a temp dir]")
    parser.add_argument("--train-limit", type=int, default=5000,
                        help="training images of each variant [default: 5000]")
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs of each variant [default: 3]")
    args = parser.parse_args()
    print(machine_facts())
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(args.work or tmp, "compare-optimizers")
        command = [sys.executable, "-m", "contest", "compare", "--preset", "fast",
                   "--train-limit", str(args.train_limit), "--epochs", str(args.epochs),
                   "--vary", f"optimizer={OPTIMIZERS}", "--out", out, "-q"]
        print("command:", " ".join(command[1:]))
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        started = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        print(result.stdout.strip() or result.stderr.strip())
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    status = "meets" if seconds <= TARGET_SECONDS else "misses"
    print(f"compare of 5 optimizers, {args.train_limit} images, {args.epochs} epochs: "
          f"{seconds:.1f} s ({status} the target of {TARGET_SECONDS} s)")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
