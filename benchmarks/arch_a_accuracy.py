"""nnlib's accuracy check (issue 2): reference arch A, three epochs on all 60,000 MNIST training
images, batch 128, Adam lr 1e-3, no augmentation, inputs scaled to [0, 1]; prints test accuracy
and wall time. PyTorch with the same recipe on this machine reached 98.88 %.

    python benchmarks/arch_a_accuracy.py [--epochs 3] [--seed 0] [--threads 2]
"""
from benchargs import Parser
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nnlib as nn  # noqa: E402
from contest.train.architectures import build_model  # noqa: E402
from contest.data.datasets import load_split  # noqa: E402
from machine import machine_facts  # noqa: E402


def main():
    ap = Parser(__doc__)
    ap.add_argument("--epochs", type=int, default=3, help="training epochs [default: 3]")
    ap.add_argument("--seed", type=int, default=0,
                    help="seed of the weights and batches [default: 0]")
    ap.add_argument("--threads", type=int, default=2, help="nnlib threads [default: 2]")
    args = ap.parse_args()
    print(machine_facts())
    xtr, ytr = load_split("train")
    xte, yte = load_split("test")
    scale = lambda x: (x.astype(np.float32) / 255.0)[:, None]
    rng = np.random.default_rng(args.seed)
    model = build_model("a", rng)
    opt = nn.Adam(model.parameters(), lr=1e-3)
    log = nn.LambdaCallback(on_epoch_end=lambda e, logs: print(
        f"epoch {e + 1}: loss {logs['loss']:.4f} acc {logs['acc']:.4f} "
        f"({time.perf_counter() - t0:.0f} s)", flush=True))
    t0 = time.perf_counter()
    with threadpool_limits(args.threads):
        nn.fit(model, nn.SoftmaxCrossEntropy(), opt, scale(xtr), ytr, epochs=args.epochs,
               batch_size=128, rng=rng, callbacks=[log])
        acc = float((model.predict(scale(xte)) == yte).mean())
    print(f"arch A, {args.epochs} epochs, seed {args.seed}: test accuracy {acc * 100:.2f} % "
          f"in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
