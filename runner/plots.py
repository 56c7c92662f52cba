"""PNG figures of a run: learning curves, layer by layer statistics, the first hidden layer's weights as
images, the confusion matrix, the cost along the line from start to end and the misclassified images
(two-feature data: runner.plane_plots)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


FEW_POINTS = 30  # a curve of up to this many points shows each as a marker: a line alone hides a single point


def point_markers(values) -> dict:
    """plot's keyword arguments that mark every point of a curve of up to FEW_POINTS points, else the finite
    points with no finite neighbour, which no line segment reaches (matplotlib draws such a lone point, the
    epoch-0 value before a divergence or the single point of epochs=0, as nothing); none when no point needs it."""
    finite = np.isfinite(np.asarray(values, dtype=float))
    if len(finite) > FEW_POINTS:
        before, after = np.r_[False, finite[:-1]], np.r_[finite[1:], False]
        marked = finite & ~before & ~after
        return {"marker": "o", "markersize": 3, "markevery": marked.tolist()} if marked.any() else {}
    return {"marker": "o", "markersize": 3}


def learning_curves(history: list[tuple[str, float, int]], path: Path, title: str) -> Path:
    """Cost (left) and accuracy (right) against epoch for the train and validation sets. Weights restored
    at the end (metric restored_epoch, logged one step past the last epoch) show as a dot per curve at that
    step and a dotted line at the epoch they are from."""
    plt = pyplot()
    fig, (cost_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    restored = {step: int(value) for key, value, step in history if key == "restored_epoch"}
    for ax, keys, label in ((cost_ax, ("train_cost", "val_cost"), "cost"),
                            (acc_ax, ("train_accuracy", "val_accuracy"), "accuracy")):
        for key in keys:
            points = [(step, value) for k, value, step in history if k == key]
            if points:
                steps, values = zip(*points)
                trained = len(steps) - (steps[-1] in restored)
                (line,) = ax.plot(steps[:trained], values[:trained], label=key, **point_markers(values[:trained]))
                if trained < len(steps):
                    ax.plot(steps[trained:], values[trained:], "o", color=line.get_color())
        for epoch in restored.values():
            ax.axvline(epoch, linestyle=":", color="grey", label=f"weights restored from epoch {epoch} (dots)")
        ax.set_xlabel("epoch (iteration for lbfgs and cg)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.lines:  # a run that diverged at epoch 0 has a cost and no accuracy
            ax.legend()
    fig.suptitle(title)
    # tight_layout's result, 0.3 s cheaper
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.25)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def log_ticks_fit(values) -> bool:
    """Whether a log axis suits these values: their finite positive ones span two of the values n x 10^k
    (n = 1 .. 9) that it labels briefly (2x10^-1); with fewer matplotlib falls back to ticks labelled
    1.225x10^-1, 1.23x10^-1, ..., too wide for the figure's margin."""
    positive = [value for value in values if 0 < value < math.inf]
    if not positive:
        return False
    low, high = min(positive), max(positive)
    decades = range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1)
    ticks = [n * 10.0**k for k in decades for n in range(1, 10)]  # 3 * 10.0**-1 is 0.30000000000000004: a tolerance
    return sum(low * (1 - 1e-9) <= tick <= high * (1 + 1e-9) for tick in ticks) >= 2


def layer_curves(history: list[tuple[str, float, int]], path: Path, title: str,
                 activations: list[tuple[str, np.ndarray, np.ndarray]] = ()) -> Path:
    """The rms of each layer's gradient (top left) and weights (top right) against epoch, log scale (linear
    where log_ticks_fit says a log axis would label its ticks too long): where a deep network's first
    layers learn slowest (vanishing gradients) and how its weights grow. Below, for
    each (label, at the start, at the end) of `activations`, a hidden layer's activations over the training
    samples as two histograms over one range for all layers: how many units sit saturated, where g'(z) and so
    delta(l) vanish, and how the layers' spreads compare."""
    plt = pyplot()
    fig = plt.figure(figsize=(10, 7.5 if activations else 4))
    rows = fig.add_gridspec(2 if activations else 1, 1, height_ratios=[1.4, 1] if activations else None, hspace=0.35)
    axes = rows[0].subgridspec(1, 2, wspace=0.28).subplots()
    for ax, prefix, label in ((axes[0], "grad_rms_", "rms of D(l), the gradient"),
                              (axes[1], "weight_rms_", "rms of Theta(l), the weights")):
        keys = sorted({k for k, _, _ in history if k.startswith(prefix)}, key=lambda k: int(k.rsplit("Theta", 1)[1]))
        for key in keys:
            steps, values = zip(*[(step, value) for k, value, step in history if k == key])
            ax.plot(steps, values, label=key.removeprefix(prefix), **point_markers(values))
        if log_ticks_fit([value for k, value, _ in history if k in keys]):
            ax.set_yscale("log")
        ax.set_xlabel("epoch (iteration for lbfgs and cg)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if keys:
            ax.legend(fontsize=8)
    histograms = rows[1].subgridspec(1, len(activations), wspace=0.15).subplots(squeeze=False)[0] if activations else []
    # one range for every layer: a layer whose activations crowd together looks crowded beside the others
    low = min((min(start.min(), end.min()) for _, start, end in activations), default=0.0)
    high = max((max(start.max(), end.max()) for _, start, end in activations), default=1.0)
    bins = np.linspace(low, high if high > low else low + 1, 41)
    for index, (label, start, end) in enumerate(activations):
        ax = histograms[index]
        ax.hist(start.ravel(), bins=bins, color="grey", alpha=0.6, label="start")
        ax.hist(end.ravel(), bins=bins, histtype="step", color="crimson", linewidth=1.2, label="end")
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
        if index == 0:
            ax.set_ylabel("hidden activations over\nthe training samples", fontsize=8)
            ax.legend(fontsize=7)
    fig.suptitle(f"{title}: layer by layer")
    # left: room for the y label beside a log axis's tick labels such as 2x10^-1 (0.08 cut the label off)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.07 if activations else 0.12, top=0.92 if activations else 0.88)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def tile_corners(count: int, image_shape: tuple[int, int], pad: int = 1) -> tuple[tuple[int, int], list]:
    """Where `mosaic` puts `count` tiles of image_shape: the grid's shape and each tile's (top, left) pixel,
    in a near-square grid row by row with `pad` pixels between and around the tiles."""
    rows_px, cols_px = image_shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    corners = [(pad + (index // columns) * (rows_px + pad), pad + (index % columns) * (cols_px + pad))
               for index in range(count)]
    return (pad + rows * (rows_px + pad), pad + columns * (cols_px + pad)), corners


def mosaic(units: np.ndarray, image_shape: tuple[int, int], pad: int = 1) -> np.ndarray:
    """The course's displayData: each row of units as an image, scaled by its max |w| to [-1, 1],
    tiled into a near-square grid with `pad` pixels of -1 between and around the tiles."""
    shape, corners = tile_corners(units.shape[0], image_shape, pad)
    grid = -np.ones(shape)
    for unit, (top, left) in zip(units, corners):
        largest = np.max(np.abs(unit))
        scaled = unit / largest if largest > 0 else unit
        grid[top:top + image_shape[0], left:left + image_shape[1]] = scaled.reshape(image_shape)
    return grid


def hidden_weights(Theta1: np.ndarray, image_shape: tuple[int, int], path: Path, title: str) -> Path:
    """Each hidden unit's incoming weights (bias dropped) as an image, tiled as the course's displayData
    does: one image, so one axes to draw (25 axes took most of a second)."""
    plt = pyplot()
    grid = mosaic(Theta1[:, 1:], image_shape)
    fig, ax = plt.subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1] + 0.5))
    ax.imshow(grid, cmap="gray", vmin=-1, vmax=1)
    ax.axis("off")
    ax.set_title(f"{title}\nfirst hidden layer: incoming weights per unit", fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def confusion(counts: np.ndarray, classes: list, path: Path, title: str, part: str) -> Path:
    """The confusion matrix of one part of the data: row i (true class) coloured by the fraction of its
    samples predicted as each class (the diagonal is each class's recall), with the counts written in
    the cells up to 20 classes and the class names on the axes up to 40."""
    plt = pyplot()
    K = len(classes)
    totals = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    size = min(max(5, 3 + 0.3 * K), 12)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(fractions, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if K <= 20:
        for i, j in np.ndindex(K, K):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8 if K <= 10 else 6,
                        color="white" if fractions[i, j] > 0.6 else "black")
    if K <= 40:
        names = [str(name) for name in classes]
        ax.set_xticks(range(K), names, rotation=90 if K * max(map(len, names)) > 40 else 0, fontsize=8)
        ax.set_yticks(range(K), names, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    right = int(np.trace(counts))
    ax.set_title(f"{title}\n{part} part: {right} of {int(counts.sum())} right", fontsize=10)
    fig.tight_layout()  # fixed margins cut long class names off
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def cost_path(ts: np.ndarray, curves: dict[str, np.ndarray], path: Path, title: str) -> Path:
    """Each curve, a cost J((1 - t) Theta0 + t Theta) (runner.core.landscape), against t, with the start
    (t = 0) and the trained weights (t = 1) marked; a log cost axis when a curve spans two decades."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(ts, values, label=label)
    for t, name in ((0, "start"), (1, "trained")):
        ax.axvline(t, linestyle=":", color="grey")
        ax.annotate(name, (t, 1), xycoords=("data", "axes fraction"), xytext=(3, -12), textcoords="offset points",
                    fontsize=8, color="grey")
    finite = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in curves.values()])
    if len(finite) and finite.max() / finite.min() >= 100:
        ax.set_yscale("log")
    ax.set_xlabel("t, along the line from the initial weights (0) to the trained ones (1)")
    ax.set_ylabel("cost")
    ax.set_title(f"{title}\ncost along the straight line from start to end", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def misclassified(images: np.ndarray, y: np.ndarray, predicted: np.ndarray, classes: list,
                  image_shape: tuple[int, int], path: Path, title: str, part: str, limit: int = 30) -> Path:
    """The first `limit` samples of the part whose predicted class is wrong, as the images they are
    (unscaled rows of shape image_shape, tiled as `mosaic` does: one axes to draw), each labelled
    true -> predicted above it."""
    plt = pyplot()
    wrong = np.flatnonzero(predicted != y)
    shown = wrong[:limit]
    columns = min(max(len(shown), 1), 10)
    rows = max(-(-len(shown) // columns), 1)
    rows_px, cols_px = image_shape
    label_px = rows_px // 2  # room for each label above its image
    grid = np.zeros((rows * (rows_px + label_px) + 1, columns * (cols_px + 1) + 1))
    fig, ax = plt.subplots(figsize=(0.9 * columns + 0.4, 1.1 * rows + 0.8))
    for index, i in enumerate(shown):
        top = (index // columns) * (rows_px + label_px) + label_px
        left = 1 + (index % columns) * (cols_px + 1)
        image = images[i].reshape(image_shape)
        largest = np.max(np.abs(image))
        grid[top:top + rows_px, left:left + cols_px] = image / largest if largest > 0 else image
        ax.text(left + cols_px / 2 - 0.5, top - 1, f"{classes[y[i]]} -> {classes[predicted[i]]}", ha="center",
                va="bottom", fontsize=8)
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    count = f"the first {len(shown)} of {len(wrong)}" if len(wrong) > len(shown) else f"all {len(wrong)}"
    ax.set_title(f"{title}\n{part} part: {count if len(wrong) else 'none'} misclassified (true -> predicted)",
                 fontsize=9)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.7 / (1.1 * rows + 0.8))
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
