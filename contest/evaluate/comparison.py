"""The report of `contest compare`: each variant's final accuracy on the training slice (eval
mode), the validation split and the test set, and its training time, as a terminal table,
compare.csv and compare.md; and compare-curves.png with every variant's learning curves overlaid
(validation solid, training dashed; accuracy and loss by epoch).

The training-set figure is measured after training on the whole training slice in eval mode (no
dropout, no augmentation); the curves' training points are the running figures of each epoch.
"""
import csv
import io
from pathlib import Path

import numpy as np

from contest.data.preprocess import apply_normalisation, normalise
from contest.evaluate.plots import _pyplot, _save
from contest.fileio import write_text
from contest.modeldir.files import member_path

CSV_FILE, MARKDOWN_FILE, CURVES_FILE = "compare.csv", "compare.md", "compare-curves.png"
COLUMNS = ("variant", "epochs", "train_acc", "val_acc", "test_acc", "train_seconds")
TIMING = ("train_seconds",)


def variant_results(out_dir, data, labels):
    """One row per variant (dict of COLUMNS, plus its history), read from its member file."""
    import nnlib as nn

    spec, norm = data.source.spec, data.run["normalisation"]
    x_train = apply_normalisation(data.x_train, norm)
    test = data.source.test
    x_test = None if test is None else normalise(test.images, norm, spec)
    rows = []
    for k, label in enumerate(labels):
        model, meta = nn.load_with_metadata(member_path(out_dir, k))
        rows.append({
            "variant": label, "epochs": len(meta["history"]["epoch"]),
            "train_acc": _accuracy(model, x_train, data.y_train),
            "val_acc": _accuracy(model, data.x_val, data.y_val),
            "test_acc": None if test is None else _accuracy(model, x_test, test.labels),
            "train_seconds": meta["train_seconds"], "history": meta["history"]})
    return rows


def _accuracy(model, x, y):
    return float(np.mean(model.predict(x) == np.asarray(y)))


def _cells(row, timing=True):
    pct = lambda v: "-" if v is None else f"{100 * v:.2f}"   # noqa: E731
    cells = [row["variant"], str(row["epochs"]), pct(row["train_acc"]), pct(row["val_acc"]),
             pct(row["test_acc"])]
    return cells + ([f"{row['train_seconds']:.1f}"] if timing else [])


HEADERS = ["variant", "epochs", "train %", "validation %", "test %", "time (s)"]


def text_table(rows):
    cells = [HEADERS] + [_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    lines = ["  ".join([c[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(c[1:], widths[1:])])
             for c in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows):
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" + "---:|" * (len(HEADERS) - 1)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def csv_table(rows, timing=True):
    """CSV of the results (accuracies as fractions); timing=False leaves the time out."""
    columns = [c for c in COLUMNS if timing or c not in TIMING]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else row[c] for c in columns])
    return buffer.getvalue()


def plot_comparison(rows, path, title="comparison"):
    """Accuracy and loss by epoch of every variant: validation solid, training dashed."""
    plt = _pyplot()
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = plt.get_cmap("tab10")
    for i, row in enumerate(rows):
        hist, colour = row["history"], colours(i % 10)
        epochs = [e + 1 for e in hist["epoch"]]
        style = "o-" if len(epochs) <= 25 else "-"   # markers only where they can be told apart
        for ax, key in ((ax_acc, "acc"), (ax_loss, "loss")):
            ax.plot(epochs, _series(hist["history"][key]), "--", color=colour, alpha=0.7)
            ax.plot(epochs, _series(hist["history"][f"val_{key}"]), style, color=colour,
                    markersize=3, label=row["variant"])
    _log_axis(ax_loss)   # a diverging first epoch must not flatten the others
    for ax, name in ((ax_acc, "accuracy"), (ax_loss, "loss (cross-entropy, log scale)")):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    handles, names = ax_acc.get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.02), fontsize=8,
               ncol=min(3, len(names)), title="validation solid, training dashed",
               title_fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def _log_axis(ax):
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _series(values):
    return [np.nan if v is None else v for v in values]


def write_report(out_dir, rows, title):
    """compare.csv, compare.md and compare-curves.png in `out_dir` (each written atomically)."""
    out_dir = Path(out_dir)
    write_text(out_dir / CSV_FILE, csv_table(rows))
    write_text(out_dir / MARKDOWN_FILE, markdown_table(rows))
    plot_comparison(rows, out_dir / CURVES_FILE, title)
    return [out_dir / name for name in (CURVES_FILE, CSV_FILE, MARKDOWN_FILE)]
