"""PNG reports drawn with matplotlib's Agg backend: learning curves, confusion matrix with a grid
of mistakes (and, for `evaluate --robustness`, the robustness table and a bar chart), and an
image with its probability bar chart.

matplotlib takes about half a second to import, so it is imported inside the functions and only
commands that draw pay for it. Files are written atomically.
"""
import io

import numpy as np

from contest.fileio import atomic_open


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    plt = _pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def plot_learning_curves(history, path, title="learning curves"):
    """Loss and accuracy per epoch (train and validation) from a History.to_dict()."""
    plt = _pyplot()
    epochs = [e + 1 for e in history["epoch"]]
    hist = history["history"]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        ax.plot(epochs, hist[key], "o-", label=f"train {label}")
        if any(v is not None for v in hist.get(f"val_{key}", [])):
            ax.plot(epochs, hist[f"val_{key}"], "s-", label=f"validation {label}")
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    _save(fig, path)


def _confusion_axes(ax, matrix):
    shade = np.log1p(matrix)
    ax.imshow(shade, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        if value or i == j:  # blank zeros keep the off-diagonal errors readable
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                    color="white" if shade[i, j] > 0.6 * shade.max() else "black")
    ax.set_xticks(range(len(matrix)))
    ax.set_yticks(range(len(matrix)))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix")


def _mistake_axes(fig, images, labels, predicted, wrong, rows, cols=8):
    """The grid of misclassified images, in the right half of `fig` (a figure or subfigure)."""
    for slot, index in enumerate(wrong):
        ax = fig.add_subplot(rows, 2 * cols, (slot // cols) * 2 * cols + cols + slot % cols + 1)
        _show_image(ax, images[index])
        ax.set_title(f"#{index}: {labels[index]}->{predicted[index]}", fontsize=7)
        ax.axis("off")


def plot_evaluation(matrix, images, labels, predicted, path, max_mistakes=64, title="",
                    robustness=None, overlap=None):
    """Confusion matrix and a grid of the first `max_mistakes` misclassified images; below them,
    when given, the members' error overlap (a contest.evaluate.overlap.error_overlap dict) and
    the robustness table and chart (a contest.evaluate.variants.robustness_table dict)."""
    plt = _pyplot()
    all_wrong = np.flatnonzero(np.asarray(predicted) != np.asarray(labels))
    wrong = all_wrong[:max_mistakes]
    rows = max(1, -(-len(wrong) // 8))
    height = max(6, 1.5 * rows)
    below = []
    if overlap is not None:
        below.append((4.0, lambda panel: _overlap_axes(panel, overlap)))
    if robustness is not None:
        below.append((1.5 + 0.4 * len(robustness),
                      lambda panel: _robustness_axes(panel, robustness)))
    fig = top = plt.figure(figsize=(14, height + sum(h for h, _ in below)))
    if below:
        panels = fig.subfigures(len(below) + 1, 1, height_ratios=[height] + [h for h, _ in below])
        top = panels[0]
        for panel, (_, draw) in zip(panels[1:], below):
            draw(panel)
    _confusion_axes(top.add_subplot(1, 2, 1), matrix)
    _mistake_axes(top, images, labels, predicted, wrong, rows)
    top.suptitle(title or f"{len(all_wrong)} mistakes (true->predicted)")
    _save(fig, path)


def _overlap_axes(fig, overlap):
    """Left: the shared-mistake matrix; right: images by how many members miss them, and how
    many of those the ensemble misses."""
    shared = np.asarray(overlap["shared"])
    ax_matrix, ax_bars = fig.subplots(1, 2)
    ax_matrix.imshow(shared, cmap="Oranges")
    for (i, j), value in np.ndenumerate(shared):
        ax_matrix.text(j, i, str(value), ha="center", va="center", fontsize=8,
                       color="white" if value > 0.6 * shared.max() else "black")
    members = range(len(shared))
    ax_matrix.set_xticks(members)
    ax_matrix.set_yticks(members)
    ax_matrix.set_xlabel("member B")
    ax_matrix.set_ylabel("member A")
    ax_matrix.set_title("how many of A's mistakes B makes too (diagonal: A's own)", fontsize=9)
    counts = np.arange(1, len(shared) + 1)
    ax_bars.bar(counts, overlap["images_by_members_wrong"][1:], color="tab:gray",
                label="images")
    ax_bars.bar(counts, overlap["ensemble_wrong_by_members_wrong"][1:], color="tab:red",
                width=0.5, label="of them wrong in the ensemble")
    ax_bars.set_xticks(counts)
    ax_bars.set_xlabel("members that get the image wrong")
    ax_bars.set_ylabel("images")
    ax_bars.yaxis.get_major_locator().set_params(integer=True)
    ax_bars.legend(fontsize=8)
    mean = overlap["mean_shared_fraction"]
    fig.suptitle("members' mistakes" + ("" if mean is None else
                 f": {100 * mean:.0f} % of a member's mistakes are made by another member too"))


def _robustness_axes(fig, table):
    """Left: the robustness table in %; right: mean member vs ensemble bars, members as dots."""
    names = list(table)
    n_members = len(table[names[0]]["members"])
    headers = [f"m{i + 1}" for i in range(n_members)] + ["mean", "ensemble"]
    cells = [[f"{100 * v:.2f}" for v in row["members"] + [row["mean_member"], row["ensemble"]]]
             for row in table.values()]
    ax_table, ax_bars = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
    ax_table.axis("off")
    grid = ax_table.table(cellText=cells, rowLabels=names, colLabels=headers, loc="center")
    grid.auto_set_font_size(False)
    grid.set_fontsize(8)
    for i, row in enumerate(table.values(), start=1):  # the ensemble column: green if it helps
        good = row["ensemble"] > row["mean_member"]
        grid[i, len(headers) - 1].set_facecolor("#d8f0d8" if good else "#f8d8c8")
    _robustness_bars(ax_bars, table)
    fig.suptitle("accuracy (%) on the clean set and on harder variants")


def _robustness_bars(ax, table):
    names = list(table)[::-1]  # top to bottom in table order
    y = np.arange(len(names))
    mean = [100 * table[n]["mean_member"] for n in names]
    ens = [100 * table[n]["ensemble"] for n in names]
    ax.barh(y + 0.2, ens, height=0.4, color="tab:blue", label="ensemble")
    ax.barh(y - 0.2, mean, height=0.4, color="tab:gray", label="mean member")
    for k, name in enumerate(names):
        members = [100 * v for v in table[name]["members"]]
        ax.plot(members, [k - 0.2] * len(members), "k.", markersize=3)
        ax.text(ens[k], k + 0.2, f" {ens[k]:.2f}", va="center", fontsize=7)
    low = min(mean + ens + [100 * v for n in names for v in table[n]["members"]])
    ax.set_xlim(max(0.0, low - 5), 100.5)
    ax.axvline(90, color="tab:red", linewidth=0.8, linestyle="--")
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("accuracy (%); dots: members; dashed: 90 %")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=7, frameon=False)


def _show_image(ax, image):
    """An image in contest's layout: (H, W) grey, or (H, W, C) in colour."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] != 1:
        ax.imshow(image if image.dtype == np.uint8 else np.clip(image, 0, 1))
    else:
        ax.imshow(image.reshape(image.shape[:2]), cmap="gray")


def plot_prediction(image, proba, path, title="", names=None):
    """The image (grey or in colour) beside a bar chart of the class probabilities."""
    plt = _pyplot()
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, 3.5))
    _show_image(ax_img, image)
    ax_img.axis("off")
    classes = range(len(proba))
    colours = ["tab:orange" if d == int(np.argmax(proba)) else "tab:blue" for d in classes]
    ax_bar.bar(classes, proba, color=colours)
    ax_bar.set_xticks(classes)
    if names is not None:
        ax_bar.set_xticklabels(names, rotation=45, ha="right", fontsize=7)
    ax_bar.set_ylim(0, 1)
    ax_bar.set_xlabel("digit" if names is None else "class")
    ax_bar.set_ylabel("probability")
    fig.suptitle(title)
    _save(fig, path)
