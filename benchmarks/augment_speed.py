"""Speed of the augment transforms, next to one arch-A training step of nnlib.

    python benchmarks/augment_speed.py [--batch 128] [--repeats 30] [--grid out.png] [--blas-threads 1]

(with the project installed, `pip install -e .`, or from the checkout: `PYTHONPATH=. python ...`)

Prints the machine (cores, BLAS), microseconds per image for each transform on a batch of real
MNIST digits (float32, (N, 1, 28, 28), values in [0, 1]), the interpolation back-ends that were
considered for the affine warp, and the time of the default augmenter per batch as a fraction of one
arch-A training step (forward + backward + Adam), measured interleaved as a training loop runs them.
`--grid out.png` also saves originals next to augmented variants, to check the digits by eye.
Run it alone: the machine's other jobs show up in the timings.
"""
from benchargs import Parser
import contextlib
import gzip
import os
import platform
import time
from pathlib import Path

import numpy as np
import scipy
from scipy import ndimage

import augment
from augment.geometric import inverse_matrices

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_DATA = ROOT / "contest" / "data" / "mnist" / "train-images-idx3-ubyte.gz"
ELASTIC = {"elastic_alpha": 34.0, "elastic_sigma": 4.0}                 # Simard 2003


def _preset_augment(name):
    """The augmentation of a contest preset (geometry + optional "pixel" corruptions)."""
    from contest.train.presets import PRESETS
    return dict(PRESETS[name].augment)


def make_augmenter(kwargs, labels):
    """The training augmentation of a preset's `augment` dict (contest's build_augmenter: styles,
    geometry, pixel corruptions), as f(batch, rng) for a batch whose labels are `labels`."""
    from contest.train.member import build_augmenter
    augmenter = build_augmenter(kwargs)
    if getattr(augmenter, "uses_labels", False):
        return lambda batch, rng: augmenter(batch, rng, labels=labels[:len(batch)])
    return augmenter


DEFAULT_AUGMENT = _preset_augment("default")
LARGE_AUGMENT = _preset_augment("large")


def load_digits(path, n):
    """The first n images of an IDX3 file as (n, 1, 28, 28) float32 in [0, 1], and their labels
    from the IDX1 file beside it (all -1, i.e. no class styles, when there is none)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if int.from_bytes(raw[:4], "big") != 2051:
        raise SystemExit(f"{path}: not an IDX3 image file")
    count, rows, cols = (int.from_bytes(raw[4 * i:4 * i + 4], "big") for i in (1, 2, 3))
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(count, rows, cols)[:n]
    labels_path = Path(str(path).replace("images-idx3", "labels-idx1"))
    labels = np.full(len(images), -1, np.int64)
    if labels_path != Path(path) and labels_path.is_file():
        with gzip.open(labels_path, "rb") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)[:len(images)].astype(np.int64)
    return (images.astype(np.float32) / 255)[:, None], labels


def median_seconds(fn, repeats):
    fn()                                  # warm caches and lazily built grids
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def print_machine():
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores (os.cpu_count), "
          f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}")
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("BLAS: threadpoolctl not installed")
        return
    for pool in threadpool_info():
        print(f"BLAS: {pool.get('internal_api')} {pool.get('version')}, "
              f"{pool.get('num_threads')} threads, {pool.get('user_api')}")


def transform_table(x, labels, repeats, seed):
    """Median microseconds per image for each transform on the batch x."""
    rng = np.random.default_rng(seed)
    cases = {
        "shift 1 px (slicing)": lambda: augment.shift(x, 1, -1),
        "shift 0.5 px (bilinear)": lambda: augment.shift(x, 0.5, -0.5),
        "affine, fixed parameters": lambda: augment.affine(x, 10.0, (1.0, -1.0), 1.05, 0.1),
        "random_affine rot10 shift2 zoom.1": lambda: augment.random_affine(x, rng, 10, 2, 0.1),
        "elastic alpha34 sigma4": lambda: augment.elastic(x, rng, 34, 4),
        "Augmenter default preset": lambda: augmenters["default"](x, rng),
        "Augmenter large preset": lambda: augmenters["large"](x, rng),
        "Augmenter default + elastic": lambda: augmenters["default+elastic"](x, rng),
    }
    augmenters = {"default": make_augmenter(DEFAULT_AUGMENT, labels),
                  "large": make_augmenter(LARGE_AUGMENT, labels),
                  "default+elastic": make_augmenter({**DEFAULT_AUGMENT, **ELASTIC}, labels)}
    print(f"\ntransforms on {len(x)} MNIST digits {x.shape[1:]} float32 (median of {repeats}):")
    results = {}
    for name, fn in cases.items():
        seconds = median_seconds(fn, repeats)
        results[name] = seconds
        print(f"  {name:36s} {seconds / len(x) * 1e6:8.1f} us/image  {seconds * 1e3:7.2f} ms/batch")
    return results


def backend_table(x, repeats, seed):
    """The same random affine warps through three interpolation back-ends (why we sample in NumPy)."""
    rng = np.random.default_rng(seed)
    n, h, w = len(x), x.shape[-2], x.shape[-1]
    angles, shifts = rng.uniform(-10, 10, n), rng.uniform(-2, 2, (n, 2))
    zooms, shears = rng.uniform(0.9, 1.1, n), np.zeros(n)
    matrices = inverse_matrices(angles, zooms, shears)
    centre = np.array([(h - 1) / 2, (w - 1) / 2])
    offsets = centre - np.einsum("nij,nj->ni", matrices, centre + shifts)
    planes = x[:, 0]

    def per_image_affine_transform():
        out = np.empty_like(planes)
        for i in range(n):
            ndimage.affine_transform(planes[i], matrices[i], offsets[i], order=1,
                                     mode="grid-constant", output=out[i])
        return out

    def batch_map_coordinates():
        yy, xx = np.mgrid[:h, :w].astype(np.float32)
        ys = matrices[:, 0, 0, None, None] * yy + matrices[:, 0, 1, None, None] * xx + offsets[:, 0, None, None]
        xs = matrices[:, 1, 0, None, None] * yy + matrices[:, 1, 1, None, None] * xx + offsets[:, 1, None, None]
        batch_index = np.broadcast_to(np.arange(n, dtype=np.float32)[:, None, None], (n, h, w))
        return ndimage.map_coordinates(planes, np.stack([batch_index, ys, xs]), order=1,
                                       mode="grid-constant")

    def numpy_gather():
        return augment.affine(planes, angles, shifts, zooms, shears)

    reference = per_image_affine_transform()
    print(f"\naffine interpolation back-ends, same {n} warps (order=1, zero fill):")
    for name, fn in [("scipy affine_transform, one call per image", per_image_affine_transform),
                     ("scipy map_coordinates, one call on the batch", batch_map_coordinates),
                     ("augment: NumPy bilinear gather (chosen)", numpy_gather)]:
        seconds = median_seconds(fn, repeats)
        error = np.abs(fn() - reference).max()
        print(f"  {name:46s} {seconds / n * 1e6:8.1f} us/image  max |diff| {error:.1e}")


def training_step_ratio(x, labels, repeats, seed, results):
    """Interleave default augmentation and arch-A steps, as a training loop does; print the ratio."""
    try:
        import nnlib
        from contest.train.architectures import build_model
    except Exception as error:           # nnlib is optional here: the augment figures stand alone
        print(f"\nnnlib step unavailable ({type(error).__name__}: {error})")
        return
    nnlib.retain_freed_memory()          # as contest does before training
    rng = np.random.default_rng(seed)
    model = build_model("a", rng)
    loss = nnlib.SoftmaxCrossEntropy()
    opt = nnlib.Adam(model.parameters(), lr=1e-3)
    augmenter = make_augmenter(DEFAULT_AUGMENT, labels)
    labels = np.where(labels >= 0, labels, 0)
    aug_times, step_times = [], []
    for i in range(repeats + 2):
        start = time.perf_counter()
        batch = augmenter(x, rng)
        middle = time.perf_counter()
        logits = model.forward(batch, training=True)
        loss.forward(logits, labels)
        model.backward(loss.backward(), input_grad=False)   # as nnlib.fit does
        opt.step()
        opt.zero_grad()
        end = time.perf_counter()
        if i >= 2:                        # the first steps allocate optimizer state
            aug_times.append(middle - start)
            step_times.append(end - middle)
    step, aug = float(np.median(step_times)), float(np.median(aug_times))
    print(f"\narch-A training step (forward + backward + Adam), batch {len(x)}, median of {repeats}:")
    print(f"  nnlib step                           {step * 1e3:8.2f} ms/batch")
    print(f"  default augmenter, same loop         {aug * 1e3:8.2f} ms/batch  = {aug / step:6.1%} of a step "
          f"(budget 10 %)")
    elastic = results["Augmenter default + elastic"]
    print(f"  default + elastic (from the table)   {elastic * 1e3:8.2f} ms/batch  = {elastic / step:6.1%} of a step")


def save_grid(path, x, labels, seed, n_digits=8):
    """PNG: per row one original, then variants from the default preset, the large preset, the
    default preset with Simard's elastic distortion, and the digit styles alone (every 1 flagged,
    every 9 with a curled tail)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    digits = x[:n_digits]
    columns = [("original", digits)]
    styles = {"style": {"p_flag": 1.0, "p_tail": 1.0}}
    for title, kwargs, count in [("default", DEFAULT_AUGMENT, 4), ("large", LARGE_AUGMENT, 3),
                                 ("default+elastic", {**DEFAULT_AUGMENT, **ELASTIC}, 3),
                                 ("styles", styles, 2)]:
        augmenter = make_augmenter(kwargs, labels)
        columns += [(title, augmenter(digits, rng)) for _ in range(count)]
    fig, axes = plt.subplots(n_digits, len(columns), figsize=(len(columns) * 0.9, n_digits * 0.9 + 0.3))
    for col, (title, images) in enumerate(columns):
        for row in range(n_digits):
            ax = axes[row, col]
            ax.imshow(images[row, 0], cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            # A centre cross-hair makes drift away from the centre visible.
            ax.axhline(13.5, color="tab:red", lw=0.3, alpha=0.5)
            ax.axvline(13.5, color="tab:red", lw=0.3, alpha=0.5)
        axes[0, col].set_title(title, fontsize=5)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"\ngrid saved to {path}: {n_digits} digits x (original, 4 default, 3 large, 3 default+elastic, 2 styles)")


def main(argv=None):
    parser = Parser(__doc__)
    parser.add_argument("--batch", type=int, default=128, help="images per batch (default 128)")
    parser.add_argument("--repeats", type=int, default=30, help="timed repetitions per figure")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="gzipped IDX3 image file")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random transforms [default: 0]")
    parser.add_argument("--grid", type=Path, help="also save a PNG of originals and variants")
    parser.add_argument("--blas-threads", type=int,
                        help="limit BLAS threads (needs threadpoolctl); "
                        "training workers run with 1")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.repeats < 1:
        parser.error(f"--batch and --repeats must be >= 1 (received: {args.batch}, {args.repeats})")
    if args.blas_threads is not None and args.blas_threads < 1:
        parser.error(f"--blas-threads must be >= 1 (received: {args.blas_threads})")
    if not args.data.is_file():
        parser.error(f"--data: no such file {args.data}")
    x, labels = load_digits(args.data, args.batch)
    limits = contextlib.nullcontext()
    if args.blas_threads is not None:
        from threadpoolctl import threadpool_limits
        limits = threadpool_limits(args.blas_threads, user_api="blas")
    with limits:
        print_machine()
        results = transform_table(x, labels, args.repeats, args.seed)
        backend_table(x, max(5, args.repeats // 3), args.seed)
        training_step_ratio(x, labels, max(5, args.repeats // 3), args.seed, results)
    if args.grid:
        save_grid(args.grid, x, labels, args.seed)


if __name__ == "__main__":
    main()
