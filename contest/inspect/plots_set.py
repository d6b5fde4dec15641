"""The PNGs of the set view and of the label check (matplotlib, Agg, written atomically)."""
import numpy as np

from contest.inspect.mosaic import display_image
from contest.evaluate.plots import _pyplot, _save

GALLERY_COLUMNS = 8


def _plain_log(ax):
    """A log y axis labelled 1, 10, 100 (not 10^0 ...), without minor labels."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_gallery(path, images, indices, captions, title):
    """A grid of images with a caption under each."""
    plt = _pyplot()
    rows = max(1, -(-len(indices) // GALLERY_COLUMNS))
    fig, axes = plt.subplots(rows, GALLERY_COLUMNS, figsize=(1.6 * GALLERY_COLUMNS, 1.9 * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i, caption in zip(axes.flat, indices, captions):
        ax.imshow(display_image(images[i]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(caption, fontsize=7)
    if not len(indices):
        axes[0, 0].text(0, 0.5, "none", fontsize=10)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_calibration(path, calibration, title):
    """Reliability diagrams: accuracy against confidence per bin, ensemble thick, members thin;
    ECE in the legend; below, how many images fall in each bin (ensemble)."""
    plt = _pyplot()
    fig, (ax, ax_count) = plt.subplots(2, 1, figsize=(6, 7), height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for name, r in calibration.items():
        ensemble = name == "ensemble"
        ok = r["count"] > 0
        ax.plot(r["confidence"][ok], r["accuracy"][ok], "o-" if ensemble else ".-",
                linewidth=2.5 if ensemble else 0.8, alpha=1 if ensemble else 0.6,
                label=f"{name}: ECE {100 * r['ece']:.2f} %", zorder=3 if ensemble else 2)
    ax.set_ylabel("accuracy in the bin")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    r = calibration["ensemble"]
    centres = (r["edges"][:-1] + r["edges"][1:]) / 2
    ax_count.bar(centres, r["count"], width=np.diff(r["edges"]) * 0.9, color="tab:blue")
    _plain_log(ax_count)
    ax_count.set_xlabel("confidence (probability of the predicted class)")
    ax_count.set_ylabel("images (ensemble)")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_agreement(path, agreement, title):
    """Images by how many members vote for the ensemble's class, and the accuracy there."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    levels, count = agreement["level"], agreement["count"]
    ax.bar(levels, count, color="tab:blue")
    _plain_log(ax)
    ax.set_xlabel("members voting for the ensemble's class")
    ax.set_ylabel("images")
    ax.set_xticks(levels)
    twin = ax.twinx()
    ok = count > 0
    twin.plot(levels[ok], 100 * agreement["accuracy"][ok], "o-", color="tab:red")
    for x, n, a in zip(levels[ok], count[ok], agreement["accuracy"][ok]):
        twin.annotate(f"{100 * a:.1f} %\n({n})", (x, 100 * a), fontsize=7, ha="center",
                      textcoords="offset points", xytext=(0, 6))
    twin.set_ylabel("ensemble accuracy (%)", color="tab:red")
    twin.set_ylim(0, 112)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_pca(path, coords, labels, wrong, explained, spec, title):
    """The penultimate features on their first two principal components, a colour per class,
    mistakes as black crosses."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10" if spec.classes <= 10 else "turbo")
    colours = cmap(labels % 10 if spec.classes <= 10 else labels / max(1, spec.classes - 1))
    size = float(np.clip(3000 / max(1, len(coords)), 3, 16))
    ax.scatter(coords[:, 0], coords[:, 1], c=colours, s=size, alpha=0.5, linewidths=0)
    ax.scatter(coords[wrong, 0], coords[wrong, 1], marker="x", c="black", s=18, linewidths=0.8,
               label=f"mistakes ({len(wrong)})")
    if spec.classes <= 20:   # each class's name at the median of its points
        for k in range(spec.classes):
            if np.any(labels == k):
                centre = np.median(coords[labels == k], axis=0)
                edge = cmap(k % 10 if spec.classes <= 10 else k / (spec.classes - 1))
                ax.text(*centre, spec.label(k)[:12], fontsize=9, weight="bold", ha="center",
                        va="center", bbox={"boxstyle": "round,pad=0.2", "facecolor": "white",
                                           "edgecolor": edge, "linewidth": 2, "alpha": 0.9})
    ax.set_xlabel(f"PC 1 ({100 * explained[0]:.1f} % of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * explained[1]:.1f} %)")
    ax.legend(fontsize=8, loc="best")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def plot_confusions(path, pairs, spec, title):
    """The costliest confusion pairs as horizontal bars."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 0.8 + 0.3 * max(1, len(pairs))))
    names = [f"{spec.label(t)[:12]} -> {spec.label(p)[:12]}" for t, p, _ in pairs][::-1]
    ax.barh(range(len(pairs)), [c for _, _, c in pairs][::-1], color="tab:orange")
    ax.set_yticks(range(len(pairs)))
    ax.set_yticklabels(names, fontsize=8)
    ax.set_xlabel("images (true -> predicted)")
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
