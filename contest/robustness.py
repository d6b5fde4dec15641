"""Harder variants of a digit test set, and per-member / ensemble accuracy on each of them.

Images are uint8 batches of shape (N, 28, 28) (any (N, H, W) works), 0 = background, 255 = ink.
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
    line            one straight anti-aliased 255 line, ~2 px wide, within 30 degrees of horizontal,
                    across the image through the central 9x9 px region

Severities are those of "harder contest data": every digit stays easy for a human to read.
Geometric variants sample bilinearly (order=1) with zero outside the image, in one
`map_coordinates` call per chunk of the batch. Each variant gets its own Generator, spawned from
`SeedSequence(seed)` in registry order, so its output depends only on the seed and the images.
"""
import numpy as np
from scipy import ndimage

_CHUNK = 2048       # images per map_coordinates call: bounds the (3, n, H, W) float64 coordinates
_LINE_WIDTH = 2.0   # full-intensity core 1 px, linear fall-off over 0.5 px each side


def _to_uint8(values):
    """Round and clip a float temporary (overwritten, to spare a copy per step) to uint8."""
    np.rint(values, out=values)
    return np.clip(values, 0, 255, out=values).astype(np.uint8)


def _grid(h, w):
    """(2, H, W) float32 pixel coordinates (y, x)."""
    return np.stack(np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32),
                                indexing="ij"))


def _sample(images, coords_fn):
    """out[n, y, x] = images[n] at input position (y', x') (bilinear, zero outside the image),
    where coords_fn(start, stop) returns the (stop - start, 2, H, W) positions of images
    start..stop-1. Chunks of `_CHUNK` images bound the memory of the coordinate arrays."""
    n, h, w = images.shape
    out = np.empty(images.shape, np.float32)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        coords = coords_fn(start, stop)
        index = np.broadcast_to(np.arange(stop - start, dtype=np.float32)[:, None, None],
                                (stop - start, h, w))
        stacked = np.stack([index, coords[:, 0], coords[:, 1]])
        ndimage.map_coordinates(images[start:stop].astype(np.float32), stacked,
                                output=out[start:stop], order=1, mode="grid-constant", cval=0.0)
    return _to_uint8(out)


def _affine(images, matrices):
    """Warp each image by its (2, 2) matrix about the centre; matrices (N, 2, 2) map OUTPUT
    positions (y, x) to the input positions they show, i.e. they are the inverse content map."""
    _, h, w = images.shape
    centre = np.array([(h - 1) / 2, (w - 1) / 2], np.float32)[:, None, None]
    relative = _grid(h, w) - centre
    matrices = matrices.astype(np.float32)
    return _sample(images, lambda start, stop:
                   np.einsum("nij,jhw->nihw", matrices[start:stop], relative) + centre)


def _signed_uniform(rng, low, high, size):
    """Magnitudes uniform in [low, high] with a random sign."""
    return rng.uniform(low, high, size) * rng.choice([-1.0, 1.0], size)


# Every whole-pixel offset (dy, dx) whose length is between 2 and 4 px: 40 offsets, all directions.
_SHIFT_OFFSETS = np.array([(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5)
                           if 4 <= dy * dy + dx * dx <= 16])


def shift(images, rng):
    """Move image n's content by offset (dy, dx) drawn from `_SHIFT_OFFSETS`; zero fill."""
    n, h, w = images.shape
    offsets = _SHIFT_OFFSETS[rng.integers(len(_SHIFT_OFFSETS), size=n)]
    pad = 4
    padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    rows = np.arange(h)[None, :, None] - offsets[:, 0, None, None] + pad
    cols = np.arange(w)[None, None, :] - offsets[:, 1, None, None] + pad
    return padded[np.arange(n)[:, None, None], rows, cols]


def rotate(images, rng):
    """Rotate about the centre by 10-25 degrees, either direction (theta > 0 turns the content
    counter-clockwise on screen, as `scipy.ndimage.rotate` does)."""
    theta = np.deg2rad(_signed_uniform(rng, 10.0, 25.0, len(images)))
    cos, sin = np.cos(theta), np.sin(theta)
    matrices = np.stack([np.stack([cos, sin], 1), np.stack([-sin, cos], 1)], 1)
    return _affine(images, matrices)


def scale(images, rng):
    """Zoom about the centre by 0.75-0.85 (smaller digit) or 1.15-1.25 (larger), half each."""
    n = len(images)
    zoom = np.where(rng.random(n) < 0.5, rng.uniform(0.75, 0.85, n), rng.uniform(1.15, 1.25, n))
    return _affine(images, np.eye(2)[None] / zoom[:, None, None])


def shear(images, rng):
    """Slant: content point (y, x) moves to (y, x + s * y) about the centre, |s| in 0.2-0.35."""
    factor = _signed_uniform(rng, 0.2, 0.35, len(images))
    matrices = np.zeros((len(images), 2, 2))
    matrices[:, 0, 0] = matrices[:, 1, 1] = 1.0
    matrices[:, 1, 0] = -factor            # the inverse map: x_in = x_out - s * y_out
    return _affine(images, matrices)


def elastic(images, rng, alpha=34.0, sigma=4.0):
    """Simard elastic distortion: uniform(-1, 1) displacement fields, Gaussian-smoothed with zero
    padding (as the common MNIST implementations), scaled by alpha; ~1.4 px std in the centre."""
    n, h, w = images.shape
    fields = rng.random((n, 2, h, w), dtype=np.float32)
    grid = _grid(h, w)

    def coords(start, stop):    # smoothing acts within each (H, W) plane, so chunks are exact
        noise = fields[start:stop] * 2 - 1
        return grid + ndimage.gaussian_filter(noise, (0, 0, sigma, sigma), mode="constant") * alpha
    return _sample(images, coords)


def gaussian_noise(images, rng):
    """Add N(0, sigma^2) noise on the 0-1 scale, sigma 0.25-0.3 per image, then clip to 0..1."""
    sigma = rng.uniform(0.25, 0.3, (len(images), 1, 1)).astype(np.float32)
    noise = rng.standard_normal(images.shape, dtype=np.float32)
    noise *= sigma * 255
    noise += images
    return _to_uint8(noise)


def salt_pepper(images, rng):
    """Each image hits a fraction p in 0.08-0.10 of its pixels; a hit pixel becomes 0 or 255."""
    p = rng.uniform(0.08, 0.10, (len(images), 1, 1))
    u = rng.random(images.shape, dtype=np.float32)
    out = images.copy()
    out[u < p / 2] = 0
    out[(u >= p / 2) & (u < p)] = 255
    return out


def low_contrast(images, rng):
    """Faint scan: grey background `floor` (0.05-0.15) and ink reaching only floor + gain (gain
    0.25-0.35), an affine map of the 0-1 intensities, drawn per image."""
    n = len(images)
    floor = rng.uniform(0.05, 0.15, (n, 1, 1)).astype(np.float32)
    gain = rng.uniform(0.25, 0.35, (n, 1, 1)).astype(np.float32)
    return _to_uint8(floor * 255 + gain * images)


def blur(images, rng, sigma=1.1):
    """Out-of-focus scan: Gaussian blur of width sigma px (zero outside the image)."""
    del rng
    return _to_uint8(ndimage.gaussian_filter(images.astype(np.float32), (0, sigma, sigma),
                                             mode="constant"))


def thick(images, rng):
    """Bold pen: grey dilation with a 3x3 cross, one pixel wider on each side of a stroke."""
    del rng
    footprint = ndimage.generate_binary_structure(2, 1)[None]
    return ndimage.grey_dilation(images, footprint=footprint, mode="constant", cval=0)


def thin(images, rng):
    """Fine pen: grey erosion with a 2x2 square, one pixel narrower, then each image rescaled to
    its original peak intensity. Without the rescale the thinnest ~1 % of MNIST digits (strokes
    under 2 px) kept only a faint grey trace (peak ~110 of 255); a fine pen still writes dark."""
    del rng
    eroded = ndimage.grey_erosion(images, size=(1, 2, 2), mode="constant", cval=0)
    peak = images.max(axis=(1, 2), keepdims=True).astype(np.float32)
    gain = peak / np.maximum(eroded.max(axis=(1, 2), keepdims=True), 1)
    return _to_uint8(eroded * gain)


def line(images, rng):
    """Overlay one straight line across the whole image (a ruling, underline or strike-through):
    within 30 degrees of horizontal, passing within 4.5 px (each axis) of the centre; intensity
    255 within 0.5 px of the line, 0 beyond 1.5 px. Steeper lines are left out because a line
    running along a stroke makes a different digit (a 1 becomes an X, a 0 a theta)."""
    n, h, w = images.shape
    point = np.array([(h - 1) / 2, (w - 1) / 2]) + rng.uniform(-4.5, 4.5, (n, 2))
    angle = rng.uniform(-np.pi / 6, np.pi / 6, n)        # of the line's normal from vertical
    along_y = ((np.arange(h)[None, :] - point[:, :1]) * np.cos(angle)[:, None]).astype(np.float32)
    along_x = ((np.arange(w)[None, :] - point[:, 1:]) * np.sin(angle)[:, None]).astype(np.float32)
    distance = np.abs(along_y[:, :, None] + along_x[:, None, :])     # (N, H, W) to the line
    ink = np.clip((_LINE_WIDTH + 1) / 2 - distance, 0, 1, out=distance) * 255
    return np.maximum(images, _to_uint8(ink))


VARIANTS = {fn.__name__: fn for fn in (shift, rotate, scale, shear, elastic, gaussian_noise,
                                       salt_pepper, low_contrast, blur, thick, thin, line)}


def _check_images(images):
    if not isinstance(images, np.ndarray) or images.ndim != 3 or images.dtype != np.uint8:
        shape = getattr(images, "shape", None)
        dtype = getattr(images, "dtype", type(images).__name__)
        raise ValueError("images must be a uint8 array of shape (N, H, W) "
                         f"(received: shape={shape}, dtype={dtype})")
    return images


def _check_names(names):
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
    names = _check_names(names)
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
