"""Plain-text rendering for the terminal: digit art, probability bars, histograms, tables.

ASCII only, so output survives any terminal encoding, pipes and log files.
"""
import numpy as np

RAMP = " .:-=+*#%@"


def digit_art(image):
    """A 28x28 image (uint8 0-255 or float 0-1) as 14 lines of 28 characters.

    Terminal cells are about twice as tall as wide, so each character shows two pixel rows.
    """
    pixels = np.asarray(image, dtype=np.float32).reshape(28, 28)
    if np.asarray(image).dtype == np.uint8:
        pixels = pixels / 255.0
    pairs = pixels.reshape(14, 2, 28).mean(axis=1)
    levels = np.clip((pairs * len(RAMP)).astype(int), 0, len(RAMP) - 1)
    lines = ["".join(RAMP[level] for level in row).rstrip() for row in levels]
    border = "+" + "-" * 28 + "+"
    return "\n".join([border] + [f"|{line:<28}|" for line in lines] + [border])


def bar(fraction, width=30):
    filled = int(round(float(np.clip(fraction, 0.0, 1.0)) * width))
    return "#" * filled + "." * (width - filled)


def probability_bars(proba, width=30, marked=None):
    """One line per class: digit, bar, probability; `marked` puts '<' after that class."""
    lines = []
    for digit, p in enumerate(np.asarray(proba, dtype=np.float64)):
        suffix = "  <" if digit == marked else ""
        lines.append(f"  {digit} {bar(p, width)} {p:6.3f}{suffix}")
    return "\n".join(lines)


def class_histogram(labels, num_classes=10, width=30):
    """Count of each predicted class with a bar scaled to the largest count."""
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes)
    top = max(int(counts.max()), 1)
    return "\n".join(f"  {digit} {bar(count / top, width)} {count:7d}"
                     for digit, count in enumerate(counts))


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
