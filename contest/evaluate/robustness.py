"""`contest evaluate --robustness`: an ensemble's accuracy on harder variants of a labelled set.

Every member, the mean member and the ensemble are scored on the clean images and on each variant
of `contest.evaluate.variants` (seeded; one variant in memory at a time), with the ensemble's own
normalisation and, optionally, test-time augmentation. The result is the dict of
`contest.evaluate.variants.robustness_table`: row name ("clean", then the variants) ->
{"members": [M fractions], "mean_member": fraction, "ensemble": fraction}.
"""
import io
from pathlib import Path

import numpy as np

from contest.evaluate import variants
from contest.fileio import atomic_open
from contest.evaluate.tta import probabilities

GRID_EXAMPLES = 8  # images per variant in the example grid


def as_uint8(images, spec):
    """(N, H, W) uint8 grey images (the variants work on 0-255 pixels) of any layout of the
    InputSpec `spec` (flat rows, (N, 1, H, W)); floats 0-1 are rounded."""
    images = np.asarray(images)
    shape = (len(images),) + spec.image_shape
    if images.dtype == np.uint8:
        return images.reshape(shape)
    scaled = np.rint(images.astype(np.float32) * np.float32(255.0))
    return np.clip(scaled, 0, 255).astype(np.uint8).reshape(shape)


def check_variant_names(text):
    """Comma-separated variant names (or 'all') as a list; ValueError naming the unknown ones
    (contest.evaluate.variants.check_names)."""
    if text is None or str(text).strip().lower() == "all":
        return variants.check_names(None)
    names = [name.strip() for name in str(text).split(",") if name.strip()]
    if not names:
        raise ValueError(f"no variant named in {text!r}; name some of "
                         f"{', '.join(variants.VARIANTS)}, or 'all'")
    return variants.check_names(names)


class _Scorer:
    """prob_fn for robustness_table: (member list, ensemble) probabilities of a batch. Reuses
    `known` (mean, members) for the clean images, and keeps each batch's first images."""

    def __init__(self, ensemble, batch_size, tta, clean=None, known=None, keep=GRID_EXAMPLES):
        self.ensemble, self.batch_size, self.tta = ensemble, batch_size, tta
        self.clean, self.known, self.keep = clean, known, keep
        self.examples = []

    def __call__(self, images):
        self.examples.append(images[:self.keep].copy())
        if images is self.clean and self.known is not None:
            mean, members = self.known
        else:
            mean, members = probabilities(self.ensemble, images, self.batch_size, self.tta)
        return list(members), mean


def evaluate_robustness(ensemble, images, labels, seed=0, names=None, batch_size=1000,
                        tta=False, known=None):
    """(table, examples): the robustness table of `ensemble` on `images`/`labels`, and a dict
    row name -> its first GRID_EXAMPLES images (uint8) for `save_examples`. `known`, the
    (mean, members) probabilities of the clean images if already computed, spares one pass."""
    if np.asarray(images).dtype != np.uint8:
        known = None  # probabilities of the float images, not of their uint8 rounding
    images = as_uint8(images, ensemble.spec)
    scorer = _Scorer(ensemble, batch_size, tta, clean=images, known=known)
    table = variants.robustness_table(scorer, images, np.asarray(labels), seed, names)
    return table, dict(zip(table, scorer.examples))


def closing_lines(table):
    """Whether the ensemble beats its mean member everywhere, and its lowest variant accuracy."""
    behind = [name for name, row in table.items() if not row["ensemble"] > row["mean_member"]]
    verdict = ("yes" if not behind else "no (not on " + ", ".join(behind) + ")")
    lines = [f"ensemble beats its mean member on the clean set and every variant: {verdict}"]
    harder = {name: row for name, row in table.items() if name != "clean"}
    if harder:
        worst = min(harder, key=lambda name: harder[name]["ensemble"])
        lines.append(f"lowest ensemble accuracy over variants: "
                     f"{100 * harder[worst]['ensemble']:.2f} % ({worst})")
    return lines


def robustness_text(table, seed, n_images):
    """The table (accuracies in %) with a heading and the closing lines."""
    heading = (f"robustness (accuracy in %, {n_images} images per variant, seed {seed}; "
               f"m1..mM: members, mean: mean member):")
    return "\n".join([heading, variants.format_table(table), *closing_lines(table)])


def variants_path(report_path):
    """Where the grid of variant examples goes: FILE-variants.png beside FILE.png."""
    report_path = Path(report_path)
    return report_path.with_name(f"{report_path.stem}-variants{report_path.suffix}")


def save_examples(examples, path):
    """The example grid (first row clean, one row per variant), written atomically."""
    rows = dict(examples)
    clean = rows.pop("clean", None)
    buffer = io.BytesIO()
    variants.save_variant_grid(rows, buffer, n=GRID_EXAMPLES, original=clean)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())
