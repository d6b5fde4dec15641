"""Plain-text rendering for the terminal: digit art, probability bars, histograms, tables.

ASCII only, so output survives any terminal encoding, pipes and log files.
"""
import numpy as np

RAMP = " .:-=+*#%@"


MAX_ART_WIDTH = 56


def digit_art(image):
    """An image (uint8 0-255 or float 0-1; (H, W) grey, or (H, W, C) colour shown by its
    brightness) as lines of at most MAX_ART_WIDTH characters (one per pixel column up to that).

    Terminal cells are about twice as tall as wide, so each character shows two pixel rows.
    """
    pixels = np.asarray(image, dtype=np.float32)
    pixels = pixels.mean(axis=2) if pixels.ndim == 3 else pixels
    if np.asarray(image).dtype == np.uint8:
        pixels = pixels / 255.0
    step = -(-pixels.shape[1] // MAX_ART_WIDTH)        # columns per character
    rows = np.arange(0, pixels.shape[0] - 2 * step + 1, 2 * step)
    columns = np.arange(0, pixels.shape[1] - step + 1, step)
    pairs = (pixels[rows][:, columns] + pixels[rows + step][:, columns]) / 2
    levels = np.clip((pairs * len(RAMP)).astype(int), 0, len(RAMP) - 1)
    width = len(columns)
    lines = ["".join(RAMP[level] for level in row).rstrip() for row in levels]
    border = "+" + "-" * width + "+"
    return "\n".join([border] + [f"|{line:<{width}}|" for line in lines] + [border])


def class_labels(count, names=None):
    """How classes 0..count-1 are printed, padded to one width: '7', or '7 Sneaker'."""
    labels = [str(k) if names is None else f"{k} {names[k]}" for k in range(count)]
    width = max(len(label) for label in labels)
    return [label.ljust(width) for label in labels]


def bar(fraction, width=30):
    filled = int(round(float(np.clip(fraction, 0.0, 1.0)) * width))
    return "#" * filled + "." * (width - filled)


def probability_bars(proba, width=30, marked=None, names=None):
    """One line per class: class, bar, probability; `marked` puts '<' after that class."""
    proba = np.asarray(proba, dtype=np.float64)
    lines = []
    for digit, (label, p) in enumerate(zip(class_labels(len(proba), names), proba)):
        suffix = "  <" if digit == marked else ""
        lines.append(f"  {label} {bar(p, width)} {p:6.3f}{suffix}")
    return "\n".join(lines)


def class_histogram(labels, num_classes, width=30, names=None):
    """Count of each predicted class with a bar scaled to the largest count."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    top = max(int(counts.max()), 1)
    return "\n".join(f"  {label} {bar(count / top, width)} {count:7d}"
                     for label, count in zip(class_labels(len(counts), names), counts))


def confusion_table(matrix):
    """A confusion matrix (rows: true, columns: predicted) as an aligned text table."""
    matrix = np.asarray(matrix, dtype=np.int64)
    width = max(4, len(str(int(matrix.max()))) + 1)
    head = "true\\pred" + "".join(f"{j:>{width}}" for j in range(matrix.shape[1]))
    rows = [f"{i:>9}" + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(matrix)]
    return "\n".join([head] + rows)


def table(headers, rows):
    """Left-aligned first column, right-aligned others, widths fitted to the content."""
    cells = [list(map(str, headers))] + [list(map(str, row)) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts))
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def percent(fraction):
    return f"{100.0 * fraction:.2f} %"
