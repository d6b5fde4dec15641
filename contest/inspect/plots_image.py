"""The PNGs of the one-image view:

- overview: the input as the networks see it, the probabilities of every member and of the
  ensemble, saliency and occlusion maps overlaid on the image, the nearest training images;
- feature maps: every member's image-shaped layers, a row per layer (a sample of channels);
- filters: every member's first-layer filters (in colour for colour ensembles).

Speed matters here (the whole `contest inspect image` process should take under 2 s): each row
of tiles is composed in NumPy and drawn by one `imshow`, on a bare matplotlib Figure (Agg, no
pyplot) laid out by hand, with no tight bounding box (which draws everything twice).
"""
import io

import numpy as np

from contest.fileio import atomic_open
from contest.inspect.mosaic import display_image, mosaic, seen_image, unit_range

TOP_CLASSES = 10
ROW_INCHES = 1.3      # height of a row of tiles
DPI = 100


def new_figure(width, height):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI)


def save_figure(fig, path):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})   # 3x faster
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def overlay(image, heat, cmap, top):
    """RGB (H, W, 3): the image dimmed, and over it `heat` in the colour map, opaque where
    |heat| reaches `top` and transparent where it is 0 (signed maps use a diverging map)."""
    from matplotlib import colormaps

    base = display_image(image)
    base = np.repeat(base[..., None], 3, axis=2) if base.ndim == 2 else base
    signed = cmap == "RdBu_r"
    colour = colormaps[cmap](np.clip((heat / top + 1) / 2 if signed else heat / top, 0, 1))
    alpha = (np.clip(np.abs(heat) / top, 0, 1) ** 0.7)[..., None]
    return ((1 - alpha) * 0.6 * base + alpha * colour[..., :3]).astype(np.float32)


def as_rgb(image):
    shown = display_image(image)
    return np.repeat(shown[..., None], 3, axis=2) if shown.ndim == 2 else shown


def tile_row(fig, rect, tiles, captions, fontsize=7):
    """One axes at `rect` (figure fraction) showing RGB tiles side by side, a caption above
    each."""
    row, step = mosaic([tiles], pad=max(1, tiles[0].shape[1] // 8))
    ax = fig.add_axes(rect)
    ax.imshow(row, interpolation="nearest")
    width = row.shape[1] / len(tiles)
    for j, caption in enumerate(captions):
        ax.text((j + 0.5) * width, -1, caption, ha="center", va="bottom", fontsize=fontsize)
    ax.set_anchor("W")
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
    ax.set_xticklabels([spec.label(int(k))[:12] for k in classes], fontsize=7)
    ax.set_yticks(range(len(table)))
    ax.set_yticklabels([f"member {m}" for m in range(len(table) - 1)] + ["ensemble"], fontsize=7)
    ax.set_title("probabilities (the ensemble's most probable classes)", fontsize=8)


def _legend(analysis, spec, k):
    text = "Saliency: |gradient of the member's class score| (SmoothGrad; yellow: strongest)."
    if analysis.occlusion is not None:
        text += (f"\nOcclusion: hiding a patch there lowers (red) or raises (blue) the "
                 f"probability of {spec.label(int(analysis.proba.argmax()))[:12]}, by up to "
                 f"{float(np.abs(analysis.occlusion).max()):.2f}.")
    return text + ("\nBottom: the nearest training images in the ensemble's feature space "
                   "(d: distance)." if k else "")


def _map_rows(image, analysis, spec):
    """[(tiles, captions)] of the saliency row and (if computed) the occlusion row."""
    a, rows = analysis, []
    said = [spec.label(int(p.argmax()))[:10] for p in a.member_proba]
    rows.append(([overlay(image, s, "hot", 1.0) for s in a.saliency],
                 [f"saliency m{m} ({said[m]})" for m in range(len(said))]))
    if a.occlusion is not None:
        top = float(np.abs(a.occlusion).max()) or 1.0
        rows.append(([overlay(image, o, "RdBu_r", top) for o in a.occlusion],
                     [f"occlusion m{m}" for m in range(len(said))] + ["occlusion ensemble"]))
    return rows


def plot_overview(path, image, analysis, spec, title, neighbours=None, train=None):
    """The overview PNG; `neighbours`: (indices, distances) into `train` = (images, labels)."""
    rows = _map_rows(image, analysis, spec)
    if neighbours is not None:
        images, labels = train
        rows.append(([as_rgb(images[i]) for i in neighbours[0]],
                     [f"#{i}: {spec.label(int(labels[i]))[:8]} d={d:.2f}"
                      for i, d in zip(*neighbours)]))
    cols = max(8, max(len(t) for t, _ in rows))
    height = 2.1 + ROW_INCHES * len(rows) + 0.6
    fig = new_figure(1.3 * cols, height)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height)
    top = 1 - 0.45 / height
    ax = fig.add_axes([0.01, top - 1.5 / height, 1.5 / (1.3 * cols), 1.5 / height])
    ax.imshow(seen_image(analysis.seen), cmap="gray", interpolation="nearest")
    ax.set_title("as the networks see it", fontsize=8)
    ax.axis("off")
    _probability_table(fig.add_axes([0.3, top - 1.4 / height, 0.68, 1.3 / height]), analysis,
                       spec)
    for r, (tiles, captions) in enumerate(rows):
        bottom = 1 - (2.1 + ROW_INCHES * (r + 1)) / height
        tile_row(fig, [0.01, bottom, 0.98 * len(tiles) / cols, (ROW_INCHES - 0.25) / height],
                 tiles, captions)
    fig.text(0.01, 0.01, _legend(analysis, spec, neighbours is not None), fontsize=7)
    save_figure(fig, path)


def _member_mosaic(maps):
    """(mosaic, row height, row labels) of one member's feature maps (analysis.feature_maps)."""
    rows = [list(unit_range(tiles)) for _, _, _, tiles in maps]
    labels = [f"{name} {'x'.join(map(str, shape))}" for name, shape, _, _ in maps]
    image, step = mosaic(rows)
    return image, step, labels


def labelled_panel(path, rgb, step, labels, title, width=640, margin=170):
    """Save an RGB mosaic (H, W, 3) in 0..1, upscaled by a whole factor to about `width`
    pixels, with a label at the left of every row of height `step` and a title: drawn with
    Pillow (a tenth of matplotlib's time for these tile grids)."""
    from PIL import Image, ImageDraw, ImageFont

    factor = max(1, width // rgb.shape[1])
    big = np.repeat(np.repeat(np.round(rgb * 255).astype(np.uint8), factor, 0), factor, 1)
    canvas = Image.new("RGB", (big.shape[1] + margin + 8, big.shape[0] + 30), "white")
    canvas.paste(Image.fromarray(big), (margin, 26))
    draw, font = ImageDraw.Draw(canvas), ImageFont.load_default(size=12)
    draw.text((6, 6), title, fill="black", font=font)
    for r, label in enumerate(labels):
        draw.text((6, 26 + (r + 0.5) * step * factor), label, fill="black", font=font,
                  anchor="lm")
    with atomic_open(path, "wb") as handle:
        canvas.save(handle, format="PNG", compress_level=1)


def plot_feature_maps(path, maps, title, member=0):
    """A member's feature maps: a row per image-shaped layer, its most active channels (each
    row scaled by its own range, viridis: yellow = strongly active)."""
    from matplotlib import colormaps

    image, step, labels = _member_mosaic(maps)
    rgb = colormaps["viridis"](np.nan_to_num(image, nan=1.0))[..., :3]
    rgb[np.isnan(image)] = 1.0                       # white between the tiles
    labelled_panel(path, rgb, step, labels, f"{title} - member {member}: feature maps, layer "
                                            f"by layer (most active channels; yellow: strong)")


def filter_tiles(weights):
    """Tiles of first-layer filters (O, C, kh, kw): RGB (kh, kw, 3) each scaled by its own range
    for 3-channel input, else grey (kh, kw) of the channel mean scaled to 0..1 around 0.5."""
    if weights.shape[1] == 3:
        return [unit_range(np.moveaxis(w, 0, 2)) for w in weights]
    grey = weights.mean(axis=1)
    top = float(np.abs(grey).max()) or 1.0
    return [(g / top + 1) / 2 for g in grey]


def plot_filters(path, weights_by_member, title, per_row=16):
    """Every member's first-layer filters, `per_row` to a row: in colour (each filter scaled by
    its own range) for 3-channel input, else red for positive and blue for negative weights."""
    from matplotlib import colormaps

    colour = weights_by_member[0].shape[1] == 3
    rows, labels = [], []
    for m, weights in enumerate(weights_by_member):
        tiles = filter_tiles(weights)
        for i in range(0, len(tiles), per_row):
            rows.append(tiles[i:i + per_row])
            labels.append(f"member {m}" if i == 0 else "")
    image, step = mosaic(rows, pad=1)
    if not colour:
        blank = np.isnan(image)
        image = colormaps["RdBu_r"](np.nan_to_num(image, nan=0.5))[..., :3]
        image[blank] = 1.0
    kind = "colour" if colour else "red: positive weight, blue: negative"
    labelled_panel(path, image, step, labels, f"{title} - first-layer filters ({kind})",
                   width=560, margin=90)
