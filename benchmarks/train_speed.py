"""Training and inference throughput of nnlib on reference architectures A and B, arch d and the
default preset's arch k; when PyTorch is importable, the same networks in PyTorch in the same
process, runs alternating, and the nnlib/PyTorch ratios.

Default ("out of the box"): no thread settings at all. nnlib uses the threads it chooses (from
the cores, or NNLIB_NUM_THREADS / OMP_NUM_THREADS; printed) and handles BLAS threads itself;
PyTorch uses its own default. With --threads T...: one row per T, with `nnlib.set_num_threads(T)`
and BLAS held at one thread for nnlib, and `torch.set_num_threads(T)` for PyTorch.

    python benchmarks/train_speed.py [--arch a b d k] [--threads 1 2] [--repeats 5]

Train: batch 128, forward + backward + Adam step. Inference: batch 1000, eval mode.
Figures are medians of `--repeats` rounds of timed steps (images per second); the last column
gives the lowest and highest training ratio of a single round (nnlib's round against PyTorch's
round that follows it), to show how far this machine's drift moves a ratio.
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
from machine import machine_facts  # noqa: E402


def nnlib_steps(arch, rng):
    nn.retain_freed_memory()   # as contest does before training and predicting
    model = build_model(arch, rng)
    loss, opt = nn.SoftmaxCrossEntropy(), nn.Adam(model.parameters(), lr=1e-3)
    xt = rng.random((128, 1, 28, 28), dtype=np.float32)
    yt = rng.integers(0, 10, 128)
    xi = rng.random((1000, 1, 28, 28), dtype=np.float32)

    def train():
        logits = model.forward(xt, training=True)
        loss.forward(logits, yt)
        model.backward(loss.backward(), input_grad=False)
        opt.step()
        opt.zero_grad()

    return train, lambda: model.predict_proba(xi, batch_size=1000)


def torch_steps(arch, rng, threads):
    import torch
    from torch_reference import torch_model
    torch.manual_seed(0)
    model = torch_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    xt = torch.from_numpy(rng.random((128, 1, 28, 28), dtype=np.float32))
    yt = torch.from_numpy(rng.integers(0, 10, 128))
    xi = torch.from_numpy(rng.random((1000, 1, 28, 28), dtype=np.float32))

    def set_threads():
        if threads is not None:
            torch.set_num_threads(threads)

    def train():
        set_threads()
        model.train()
        opt.zero_grad()
        lossf(model(xt), yt).backward()
        opt.step()

    def infer():
        set_threads()
        model.eval()
        with torch.no_grad():
            torch.softmax(model(xi), dim=1)

    return train, infer


def rate(fn, images, steps):
    # PyTorch's OpenMP threads keep spinning for a while after its last parallel region; let
    # them go to sleep so they do not slow down the next contender.
    time.sleep(0.3)
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return images * steps / (time.perf_counter() - t)


def measure(arch, threads, repeats, have_torch, steps=24):
    rng = np.random.default_rng(0)
    contenders = {"nnlib": nnlib_steps(arch, rng)}
    if have_torch:
        contenders["torch"] = torch_steps(arch, rng, threads)
    figures = {name: {"train": [], "infer": []} for name in contenders}
    if threads is not None:
        nn.set_num_threads(threads)
    with threadpool_limits(1 if threads else None, user_api="blas"):
        for name, (train, infer) in contenders.items():   # warm-up
            train(); train(); infer()
        for _ in range(repeats):                           # alternate the contenders
            for name, (train, infer) in contenders.items():
                figures[name]["train"].append(rate(train, 128, steps))
                figures[name]["infer"].append(rate(infer, 1000, 2))
    medians = {n: {k: float(np.median(v)) for k, v in f.items()} for n, f in figures.items()}
    if have_torch:   # the spread of the training ratio over rounds (round i against round i)
        ratios = np.array(figures["nnlib"]["train"]) / np.array(figures["torch"]["train"])
        medians["spread"] = (float(ratios.min()), float(ratios.max()))
    return medians


def main():
    ap = Parser(__doc__)
    ap.add_argument("--arch", nargs="+", default=["a", "b", "d", "k"],
                    help="architectures to time [default: a b d k]")
    ap.add_argument("--threads", nargs="+", type=int, default=None,
                    help="thread counts to set (default: none set, out of the box)")
    ap.add_argument("--repeats", type=int, default=5, help="rounds of timing [default: 5]")
    ap.add_argument("--steps", type=int, default=24, help="timed training steps per round")
    args = ap.parse_args()
    try:
        import torch
        have_torch = True
        torch_note = f"torch {torch.__version__} (same process, alternating runs)"
    except ImportError:
        have_torch, torch_note = False, "torch not importable: nnlib figures only"
    print(machine_facts())
    print(torch_note)
    if args.threads:
        print("threads: nnlib.set_num_threads(T) with 1 BLAS thread; torch.set_num_threads(T)")
    else:
        print(f"threads: out of the box: nnlib chose {nn.get_num_threads()}"
              + (f", torch uses {torch.get_num_threads()}" if have_torch else ""))
    head = f"{'arch':4} {'thr':>3} {'nnlib train':>12} {'nnlib infer':>12}"
    if have_torch:
        head += (f" {'torch train':>12} {'torch infer':>12} {'ratio train':>11} {'ratio infer':>11}"
                 f" {'train ratio per round':>22}")
    print("images/s (median of", args.repeats, "rounds)")
    print(head)
    for arch in args.arch:
        for threads in args.threads or [None]:
            f = measure(arch, threads, args.repeats, have_torch, args.steps)
            row = f"{arch:4} {threads or nn.get_num_threads():>3} {f['nnlib']['train']:>12.0f} {f['nnlib']['infer']:>12.0f}"
            if have_torch:
                t = f["torch"]
                row += (f" {t['train']:>12.0f} {t['infer']:>12.0f}"
                        f" {f['nnlib']['train'] / t['train']:>11.2f}"
                        f" {f['nnlib']['infer'] / t['infer']:>11.2f}"
                        f" {'%.2f-%.2f' % f['spread']:>22}")
            print(row, flush=True)


if __name__ == "__main__":
    main()
