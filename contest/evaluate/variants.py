"""Harder variants of a grey test set (digits first), and per-member / ensemble accuracy on each.

Images are uint8 batches of shape (N, H, W) (MNIST: (N, 28, 28)), 0 = background, 255 = ink.
Every variant is a function ``fn(images, rng) -> images`` of the same shape and dtype that never
modifies its input and draws every random number from the `numpy.random.Generator` it is given
(deterministic variants ignore it). `VARIANTS` lists them in report order:

    shift           whole-pixel translation by a random offset of length 2-4 px, zero fill
    rotate          rotation about the centre by 10-25 degrees, random sign
    scale           zoom about the centre by 0.75-0.85 or 1.15-1.25
    shear           horizontal shear x' = x + s * y (slant), |s| in 0.2-0.35, random sign
    elastic         Simard et al. (2003) elastic distortion, alpha=34, sigma=4
    gaussian_noise  additive Gaussian noise, sigma 0.25-0.3 on the 0-1 scale, clipped
    salt_pepper     8-10 % of the pixels set to 0 or 255 (half each)
    low_contrast    faint scan: x -> floor + gain * x, floor 0.05-0.15, gain 0.25-0.35 (0-1 scale)
    blur            Gaussian blur, sigma 1.1 px
    thick           grey dilation with a 3x3 cross (strokes ~2 px wider)
    thin            grey erosion with a 2x2 square (strokes ~1 px narrower), peak restored
    line            one straight anti-aliased 255 line, 2 px wide, within 30 degrees of horizontal,
                    across the image through the central 9x9 px region

Severities are those of "harder contest data": every digit stays easy for a human to read. The
variants are the training augmentations of `augment` at these fixed severities: geometry through
`augment.affine` and `augment.elastic` (bilinear, zero outside the image), pixel corruptions
through `augment.pixel` on the 0-1 scale, rounded back to uint8. Each variant gets its own
Generator, spawned from `SeedSequence(seed)` in registry order, so its output depends only on the
seed and the images.
"""
import numpy as np

import augment
from augment import pixel

# Every whole-pixel offset (dy, dx) whose length is between 2 and 4 px: 40 offsets, all directions.
SHIFT_OFFSETS = np.array([(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                          if 4 <= dy * dy + dx * dx <= 16], dtype=np.float64)


def _signed_uniform(rng, low, high, size):
    """Magnitudes uniform in [low, high] with a random sign."""
    return rng.uniform(low, high, size) * rng.choice([-1.0, 1.0], size)


def _shift(images, rng):
    # integer shifts sample exactly at pixel centres: a zero-filled translation, no interpolation
    offsets = SHIFT_OFFSETS[rng.integers(len(SHIFT_OFFSETS), size=len(images))]
    return augment.affine(images, shifts=offsets)


def _rotate(images, rng):
    return augment.affine(images, angles=_signed_uniform(rng, 10.0, 25.0, len(images)))


def _scale(images, rng):
    n = len(images)
    zoom = np.where(rng.random(n) < 0.5, rng.uniform(0.75, 0.85, n), rng.uniform(1.15, 1.25, n))
    return augment.affine(images, zooms=zoom)


def _shear(images, rng):
    return augment.affine(images, shears=_signed_uniform(rng, 0.2, 0.35, len(images)))


def _elastic(images, rng):
    return augment.elastic(images, rng, alpha=34.0, sigma=4.0)


def _on_unit_scale(corrupt):
    """A variant applying `corrupt(x, rng)` of augment.pixel to 0-1 float32 images (N, H, W)."""
    def variant(images, rng):
        unit = images.astype(np.float32) / np.float32(255.0)
        scaled = corrupt(unit, rng) * np.float32(255.0)
        np.rint(scaled, out=scaled)
        return np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)
    return variant


VARIANTS = {
    "shift": _shift,
    "rotate": _rotate,
    "scale": _scale,
    "shear": _shear,
    "elastic": _elastic,
    "gaussian_noise": _on_unit_scale(lambda x, rng: pixel.add_noise(x, rng, 0.3, sigma_min=0.25)),
    "salt_pepper": _on_unit_scale(lambda x, rng: pixel.salt_pepper(x, rng, 0.10,
                                                                   fraction_min=0.08)),
    "low_contrast": _on_unit_scale(lambda x, rng: pixel.low_contrast(
        x, rng, 0.25, contrast_max=0.35, background=(0.05, 0.15))),
    "blur": _on_unit_scale(lambda x, rng: pixel.blur(x, 1.1)),
    "thick": _on_unit_scale(lambda x, rng: pixel.stroke_width(x, thicker=True)),
    "thin": _on_unit_scale(lambda x, rng: pixel.stroke_width(x, thicker=False)),
    # steeper lines are left out: a line along a stroke makes another digit (1 -> X, 0 -> theta)
    "line": _on_unit_scale(lambda x, rng: pixel.stray_line(
        x, rng, width_max=2.0, width_min=2.0, max_tilt=30.0, centre_range=4.5)),
}


def _check_images(images):
    if not isinstance(images, np.ndarray) or images.ndim != 3 or images.dtype != np.uint8:
        shape = getattr(images, "shape", None)
        dtype = getattr(images, "dtype", type(images).__name__)
        raise ValueError("images must be a uint8 array of shape (N, H, W) "
                         f"(received: shape={shape}, dtype={dtype})")
    return images


def check_names(names):
    """The variant names to make (None: all of them, in report order); ValueError naming the
    unknown ones."""
    if names is None:
        return list(VARIANTS)
    names = [names] if isinstance(names, str) else list(names)
    unknown = [name for name in names if name not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown robustness variant(s) {', '.join(map(repr, unknown))} "
                         f"(known: {', '.join(VARIANTS)})")
    return names


def _rngs(seed):
    """One Generator per registry entry, so a variant's draws never depend on the others."""
    children = np.random.SeedSequence(seed).spawn(len(VARIANTS))
    return {name: np.random.default_rng(child) for name, child in zip(VARIANTS, children)}


def iter_variants(images, seed=0, names=None):
    """Yield (name, variant images) one at a time, in registry order (one variant in memory)."""
    images = _check_images(images)
    names = check_names(names)
    rngs = _rngs(seed)
    for name in VARIANTS:
        if name in names:
            yield name, VARIANTS[name](images, rngs[name])


def make_variants(images, seed=0, names=None):
    """dict name -> uint8 (N, H, W) array for the requested variant names (all by default), in
    registry order. Raises ValueError for a bad image batch or an unknown name."""
    return dict(iter_variants(images, seed, names))


def _accuracy(probs, labels):
    probs = np.asarray(probs)
    if probs.ndim != 2 or len(probs) != len(labels):
        raise ValueError(f"probabilities must have shape (N, classes) with N={len(labels)} "
                         f"(received: shape={probs.shape})")
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def _row(output, labels):
    """Accuracies of one prob_fn output: an (N, K) array or (member_probs list, ensemble_probs)."""
    if isinstance(output, tuple):
        members, ensemble = output
        accuracies = [_accuracy(p, labels) for p in members]
        mean = float(np.mean(accuracies)) if accuracies else None
        return {"members": accuracies, "mean_member": mean, "ensemble": _accuracy(ensemble, labels)}
    return {"members": [], "mean_member": None, "ensemble": _accuracy(output, labels)}


def robustness_table(prob_fn, images, labels, seed=0, names=None):
    """Accuracy of a model or an ensemble on the clean images and on every variant.

    prob_fn(images uint8 (N, H, W)) must return either an (N, K) array of class probabilities
    (one model) or a tuple ``(member_probs, ensemble_probs)``: a list of M arrays (N, K), one per
    member, and the (N, K) ensemble probabilities. Prediction is the argmax.

    Returns an ordered dict row name -> row, rows "clean" then the variants in registry order
    (`names`, default all). Each row is ``{"members": [M floats], "mean_member": float,
    "ensemble": float}``, accuracies as fractions in [0, 1]; for a single model ``members`` is
    empty, ``mean_member`` None and ``ensemble`` the model's accuracy.
    """
    images = _check_images(images)
    labels = np.asarray(labels)
    if labels.shape != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},) "
                         f"(received: shape={labels.shape})")
    table = {"clean": _row(prob_fn(images), labels)}
    for name, variant in iter_variants(images, seed, names):
        table[name] = _row(prob_fn(variant), labels)
    return table


def format_table(table):
    """Plain-text table of `robustness_table` output: one row per variant, accuracies in %,
    columns member 1..M, mean member, ensemble (just "accuracy" for a single model)."""
    n_members = max(len(row["members"]) for row in table.values())
    if n_members:
        headers = [f"m{i + 1}" for i in range(n_members)] + ["mean", "ensemble"]
    else:
        headers = ["accuracy"]
    name_width = max(len("variant"), *(len(name) for name in table))
    width = max(8, *(len(h) for h in headers))
    lines = ["variant".ljust(name_width) + "".join(h.rjust(width + 1) for h in headers)]
    for name, row in table.items():
        values = row["members"] + [row["mean_member"]] if n_members else []
        cells = ["-" if v is None else f"{100 * v:.2f}" for v in values + [row["ensemble"]]]
        lines.append(name.ljust(name_width) + "".join(c.rjust(width + 1) for c in cells))
    return "\n".join(lines)


def save_variant_grid(variants, path, n=8, original=None):
    """Write a PNG with the first n images of each variant, one labelled row per variant.

    variants: dict name -> uint8 (N, H, W) (as from `make_variants`); original: optional clean
    (N, H, W) batch shown as a first row "clean", for comparison. Rows are in dict order.
    """
    # matplotlib takes about half a second to import: only the commands that draw pay for it
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer (received: n={n!r})")
    rows = ({"clean": original} if original is not None else {}) | dict(variants)
    if not rows:
        raise ValueError("variants must name at least one variant (received: an empty dict)")
    fig = Figure(figsize=(1.6 + 0.75 * n, 0.78 * len(rows)), dpi=100)
    FigureCanvasAgg(fig)
    for i, (name, batch) in enumerate(rows.items()):
        batch = _check_images(np.asarray(batch))[:n]
        _, h, w = batch.shape
        strip = np.full((h, len(batch) * (w + 2) - 2), 128, np.uint8)   # grey 2-px separators
        for j, image in enumerate(batch):
            strip[:, j * (w + 2):j * (w + 2) + w] = image
        ax = fig.add_axes([1.5 / (1.6 + 0.75 * n), 1 - (i + 1) / len(rows),
                           0.75 * n / (1.6 + 0.75 * n), 0.96 / len(rows)])
        ax.imshow(strip, cmap="gray", vmin=0, vmax=255, interpolation="nearest", aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=10)
    fig.savefig(path, format="png")
