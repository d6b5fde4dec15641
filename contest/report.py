"""PNG reports drawn with matplotlib's Agg backend: learning curves, confusion matrix with a grid
of mistakes, and an image with its probability bar chart.

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
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix")


def plot_evaluation(matrix, images, labels, predicted, path, max_mistakes=64, title=""):
    """Confusion matrix and a grid of the first `max_mistakes` misclassified images."""
    plt = _pyplot()
    wrong = np.flatnonzero(np.asarray(predicted) != np.asarray(labels))[:max_mistakes]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig = plt.figure(figsize=(14, max(6, 1.5 * rows)))
    _confusion_axes(fig.add_subplot(1, 2, 1), matrix)
    for slot, index in enumerate(wrong):
        ax = fig.add_subplot(rows, 2 * cols, (slot // cols) * 2 * cols + cols + slot % cols + 1)
        ax.imshow(np.asarray(images[index]).reshape(28, 28), cmap="gray")
        ax.set_title(f"#{index}: {labels[index]}->{predicted[index]}", fontsize=7)
        ax.axis("off")
    fig.suptitle(title or f"{len(np.flatnonzero(np.asarray(predicted) != np.asarray(labels)))} "
                          f"mistakes (true->predicted)")
    _save(fig, path)


def plot_prediction(image, proba, path, title=""):
    """The image beside a bar chart of the class probabilities."""
    plt = _pyplot()
    fig, (ax_img, ax_bar) = plt.subplots(1, 2, figsize=(8, 3.5))
    ax_img.imshow(np.asarray(image).reshape(28, 28), cmap="gray")
    ax_img.axis("off")
    colours = ["tab:orange" if d == int(np.argmax(proba)) else "tab:blue" for d in range(10)]
    ax_bar.bar(range(10), proba, color=colours)
    ax_bar.set_xticks(range(10))
    ax_bar.set_ylim(0, 1)
    ax_bar.set_xlabel("digit")
    ax_bar.set_ylabel("probability")
    fig.suptitle(title)
    _save(fig, path)
