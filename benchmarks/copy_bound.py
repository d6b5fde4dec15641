"""How fast nnlib would train if its im2col copies cost nothing: an upper bound on what any
way of convolving without building the im2col matrix could gain, with NumPy and a BLAS.

    python benchmarks/copy_bound.py [--arch a b] [--repeats 5]

Three contenders in one process, in turn, round by round (training step: batch 128, forward,
backward, Adam): nnlib as it is; nnlib whose im2col functions return a ready buffer of the
right shape without copying anything (its numbers are wrong, its products the same size); and
PyTorch, when it is importable. Everything at one thread: at two, arch A trains in helper
processes forked once, which would keep whichever im2col they were forked with.

Then how fast im2col copies against a plain contiguous copy of as many bytes, for one chunk
of each of these networks' convolutions (what a faster copy could gain at most).
"""
from benchargs import Parser
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nnlib as nn  # noqa: E402
import nnlib.ops.conv as conv  # noqa: E402
from machine import machine_facts  # noqa: E402
from train_speed import nnlib_steps, rate, torch_steps  # noqa: E402

REAL = {"im2col": conv.im2col, "im2col_kmajor": conv.im2col_kmajor}
_READY = {}


def _ready(shape, dtype):
    """A zero matrix of `shape`, made once: zeros, so that no denormal slows the products."""
    key = (shape, np.dtype(dtype).str)
    if key not in _READY:
        _READY[key] = np.zeros(shape, dtype=dtype)
    return _READY[key]


def _window_rows(xp, kh, kw, stride):
    n, hp, wp, _ = xp.shape
    return n * ((hp - kh) // stride + 1) * ((wp - kw) // stride + 1)


def free_im2col(xp, kh, kw, stride, out=None):
    return _ready((_window_rows(xp, kh, kw, stride), kh * kw * xp.shape[3]), xp.dtype)


def free_im2col_kmajor(xp, kh, kw, stride, out=None):
    return _ready((kh * kw * xp.shape[3], _window_rows(xp, kh, kw, stride)), xp.dtype)


def copies(free):
    """Make nnlib's convolutions build their im2col matrices (free=False) or skip it."""
    conv.im2col = free_im2col if free else REAL["im2col"]
    conv.im2col_kmajor = free_im2col_kmajor if free else REAL["im2col_kmajor"]


def measure(arch, repeats, steps=24):
    rng = np.random.default_rng(0)
    contenders = {"nnlib": (False, nnlib_steps(arch, rng)[0]),
                  "nnlib, free im2col": (True, nnlib_steps(arch, rng)[0])}
    try:
        contenders["torch"] = (False, torch_steps(arch, rng, 1)[0])
    except ImportError:
        pass
    nn.set_num_threads(1)
    figures = {name: [] for name in contenders}
    with threadpool_limits(1, user_api="blas"):
        for _ in range(repeats + 1):   # the first round warms up and is not kept
            for name, (free, train) in contenders.items():
                copies(free)
                figures[name].append(rate(train, 128, steps))
    copies(False)
    return {name: float(np.median(f[1:])) for name, f in figures.items()}


# (height = width, channels, kernel) of arch A's second convolution forward and its input
# gradient, and of arch B's second and fourth convolutions; chunks of as many images as nnlib's
CHUNKS = [(14, 16, 5), (14, 32, 5), (28, 32, 3), (14, 64, 3)]


def seconds_per_call(fn, calls=300):
    for _ in range(10):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def copy_speeds():
    rng = np.random.default_rng(0)
    for size, channels, k in CHUNKS:
        padded = size + k - 1
        images = conv.chunk_size((128, padded, padded, channels), k, k, 1, 4)
        xp = rng.random((images, padded, padded, channels), dtype=np.float32)
        out = np.empty((images * size * size, k * k * channels), dtype=np.float32)
        src, dst = rng.random(out.size, dtype=np.float32), np.empty(out.size, dtype=np.float32)
        im2col = seconds_per_call(lambda: REAL["im2col"](xp, k, k, 1, out=out))
        plain = seconds_per_call(lambda: np.copyto(dst, src))
        print(f"chunk {images}x{size}x{size}x{channels}, {k}x{k} kernel: {out.nbytes / 1e6:.2f} MB; "
              f"im2col {out.nbytes / im2col / 1e9:.1f} GB/s, plain copy "
              f"{out.nbytes / plain / 1e9:.1f} GB/s ({im2col / plain:.2f}x its time)", flush=True)


def main():
    ap = Parser(__doc__)
    ap.add_argument("--arch", nargs="+", default=["a", "b"],
                    help="architectures to time [default: a b]")
    ap.add_argument("--repeats", type=int, default=5,
                    help="rounds of the three contenders in turn [default: 5]")
    a = ap.parse_args()
    print(machine_facts())
    print(f"training images/s at one thread, median of {a.repeats} rounds")
    for arch in a.arch:
        m = measure(arch, a.repeats)
        line = ", ".join(f"{name} {v:.0f}" for name, v in m.items())
        if "torch" in m:
            line += (f"; ratio to torch: {m['nnlib'] / m['torch']:.2f} as it is, "
                     f"{m['nnlib, free im2col'] / m['torch']:.2f} with free im2col")
        print(f"arch {arch}: {line}", flush=True)
    copy_speeds()


if __name__ == "__main__":
    main()
