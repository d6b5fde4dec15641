"""The PNGs of the one-image view (matplotlib, Agg; written atomically by contest.report's _save).

- overview: the input as the networks see it, the probabilities of every member and of the
  ensemble, saliency and occlusion maps overlaid on the image, the nearest training images;
- feature maps: every member's image-shaped layers, a row per layer (a sample of channels);
- filters: every member's first-layer filters (in colour for colour ensembles).
"""
import numpy as np

from contest.inspect.mosaic import display_image, mosaic, seen_image, unit_range
from contest.evaluate.plots import _pyplot, _save

TOP_CLASSES = 10


def _overlay(ax, image, heat, cmap, top, title):
    """The image dimmed, and over it the map in colour, opaque where the map is strong: |heat|
    of `top` is fully coloured, 0 transparent."""
    plt = _pyplot()
    ax.imshow(0.6 * display_image(image), cmap="gray", vmin=0, vmax=1)   # cmap: grey images only
    signed = cmap == "RdBu_r"
    scaled = (heat / top + 1) / 2 if signed else heat / top
    rgba = plt.get_cmap(cmap)(np.clip(scaled, 0, 1))
    rgba[..., 3] = np.clip(np.abs(heat) / top, 0, 1) ** 0.7
    ax.imshow(rgba)
    ax.set_title(title, fontsize=8)
    ax.axis("off")


def _probability_table(ax, analysis, spec):
    """Members and ensemble (rows) by the ensemble's most probable classes (columns)."""
    classes = np.argsort(-analysis.proba, kind="stable")[:TOP_CLASSES]
    table = np.vstack([analysis.member_proba[:, classes], analysis.proba[classes]])
    ax.imshow(table, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(table):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                color="white" if v > 0.6 else "black")
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels([spec.label(int(k))[:12] for k in classes], fontsize=7, rotation=30)
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels([f"member {m}" for m in range(len(table) - 1)] + ["ensemble"], fontsize=7)
    ax.set_title("probabilities (most probable classes of the ensemble)", fontsize=9)


def _neighbour_axes(axes, neighbours, images, labels, spec):
    indices, distances = neighbours
    for ax, i, d in zip(axes, indices, distances):
        ax.imshow(display_image(images[i]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"#{i}: {spec.label(int(labels[i]))[:10]}\nd={d:.2f}", fontsize=7)
        ax.axis("off")


def plot_overview(path, image, analysis, spec, title, neighbours=None, train=None):
    """The overview PNG; `neighbours`: (indices, distances) into `train` = (images, labels)."""
    plt = _pyplot()
    m, k = len(analysis.member_proba), 0 if neighbours is None else len(neighbours[0])
    cols = max(m + 1, k, 4)
    rows = 3 + (k > 0)
    fig = plt.figure(figsize=(1.5 * cols, 1.75 * rows + 0.6))
    grid = fig.add_gridspec(rows, cols)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(seen_image(analysis.seen), cmap="gray")
    ax.set_title("as the networks see it", fontsize=8)
    ax.axis("off")
    _probability_table(fig.add_subplot(grid[0, 2:]), analysis, spec)
    for j in range(m):
        said = spec.label(int(analysis.member_proba[j].argmax()))[:10]
        _overlay(fig.add_subplot(grid[1, j]), image, analysis.saliency[j], "hot", 1.0,
                 f"saliency m{j} ({said})")
    if analysis.occlusion is not None:
        top = float(np.abs(analysis.occlusion).max()) or 1.0
        for j in range(m + 1):
            name = "ensemble" if j == m else f"m{j}"
            _overlay(fig.add_subplot(grid[2, j]), image, analysis.occlusion[j], "RdBu_r", top,
                     f"occlusion {name}")
    if k:
        _neighbour_axes([fig.add_subplot(grid[3, j]) for j in range(k)], neighbours, *train, spec)
    fig.suptitle(title, fontsize=10)
    fig.text(0.01, 0.005, _legend(analysis, spec, k), fontsize=7)
    _save(fig, path)


def _legend(analysis, spec, k):
    text = "saliency: |gradient of the member's class score| (yellow: strongest)."
    if analysis.occlusion is not None:
        text += (f" Occlusion: hiding a patch there lowers (red) or raises (blue) the probability"
                 f" of {spec.label(int(analysis.proba.argmax()))[:12]} by up to "
                 f"{float(np.abs(analysis.occlusion).max()):.2f}.")
    return text + ("\nBottom: the nearest training images in the ensemble's feature space, "
                   "d = distance." if k else "")


def _member_mosaic(maps):
    """(mosaic, row height, row labels) of one member's feature maps (analysis.feature_maps)."""
    rows, labels = [], []
    for name, shape, _, tiles in maps:
        scaled = unit_range(tiles)
        rows.append(list(scaled))
        labels.append(f"{name} {shape[0]}x{shape[1]}x{shape[2]}")
    image, step = mosaic(rows)
    return image, step, labels


def plot_feature_maps(path, maps_by_member, title):
    """One panel per member: a row per image-shaped layer, its most active channels (each row
    scaled by its own range: bright = strongly active)."""
    plt = _pyplot()
    panels = [_member_mosaic(maps) for maps in maps_by_member]
    height = sum(6.0 * p[0].shape[0] / p[0].shape[1] + 0.5 for p in panels) + 0.5
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, height), squeeze=False)
    for m, (ax, (image, step, labels)) in enumerate(zip(axes[:, 0], panels)):
        ax.imshow(image, cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_yticks([step * (r + 0.5) for r in range(len(labels))])
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_xticks([])
        ax.set_title(f"member {m}: feature maps, layer by layer (most active channels)",
                     fontsize=8)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def filter_tiles(weights):
    """Tiles of first-layer filters (O, C, kh, kw): RGB (kh, kw, 3) each scaled by its own range
    for 3-channel input, else grey (kh, kw) of the channel mean scaled to -1..1 over the layer."""
    if weights.shape[1] == 3:
        return [unit_range(np.moveaxis(w, 0, 2)) for w in weights]
    grey = weights.mean(axis=1)
    top = float(np.abs(grey).max()) or 1.0
    return [(g / top + 1) / 2 for g in grey]


def plot_filters(path, weights_by_member, title, per_row=16):
    """Every member's first-layer filters, a panel per member."""
    plt = _pyplot()
    colour = weights_by_member[0].shape[1] == 3
    panels = []
    for weights in weights_by_member:
        tiles = filter_tiles(weights)
        panels.append(mosaic([tiles[i:i + per_row] for i in range(0, len(tiles), per_row)],
                             pad=1)[0])
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 1.0 + 1.2 * sum(
        p.shape[0] for p in panels) / max(p.shape[1] for p in panels) * 8), squeeze=False)
    for m, (ax, image) in enumerate(zip(axes[:, 0], panels)):
        ax.imshow(image, cmap=None if colour else "RdBu_r", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.axis("off")
        ax.set_title(f"member {m}: {len(weights_by_member[m])} first-layer filters "
                     f"{'(colour)' if colour else '(red +, blue -)'}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
