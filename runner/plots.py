"""PNG figures of a run: learning curves, the first hidden layer's weights as images, the confusion
matrix and the misclassified images, and for data of two features the regions the network assigns
to each class."""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


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
                (line,) = ax.plot(steps[:trained], values[:trained], label=key)
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
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.86, wspace=0.25)  # tight_layout's result, 0.3 s cheaper
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def layer_curves(history: list[tuple[str, float, int]], path: Path, title: str,
                 activations: list[tuple[str, np.ndarray, np.ndarray]] = ()) -> Path:
    """The rms of each layer's gradient (top left) and weights (top right) against epoch, log scale: where
    a deep network's first layers learn slowest (vanishing gradients) and how its weights grow. Below, for
    each (label, at the start, at the end) of `activations`, a hidden layer's activations over the training
    samples as two histograms: how many units sit saturated, where g'(z) and so delta(l) vanish."""
    plt = pyplot()
    fig = plt.figure(figsize=(10, 7.5 if activations else 4))
    rows = fig.add_gridspec(2 if activations else 1, 1, height_ratios=[1.4, 1] if activations else None, hspace=0.35)
    axes = rows[0].subgridspec(1, 2, wspace=0.28).subplots()
    for ax, prefix, label in ((axes[0], "grad_rms_", "rms of D(l), the gradient"),
                              (axes[1], "weight_rms_", "rms of Theta(l), the weights")):
        keys = sorted({k for k, _, _ in history if k.startswith(prefix)}, key=lambda k: int(k.rsplit("Theta", 1)[1]))
        for key in keys:
            steps, values = zip(*[(step, value) for k, value, step in history if k == key])
            ax.plot(steps, values, label=key.removeprefix(prefix))
        if any(value > 0 for k, value, _ in history if k in keys):
            ax.set_yscale("log")
        ax.set_xlabel("epoch (iteration for lbfgs and cg)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if keys:
            ax.legend(fontsize=8)
    histograms = rows[1].subgridspec(1, len(activations), wspace=0.15).subplots(squeeze=False)[0] if activations else []
    for index, (label, start, end) in enumerate(activations):
        ax = histograms[index]
        low, high = min(start.min(), end.min()), max(start.max(), end.max())
        bins = np.linspace(low, high if high > low else low + 1, 41)
        ax.hist(start.ravel(), bins=bins, color="grey", alpha=0.6, label="start")
        ax.hist(end.ravel(), bins=bins, histtype="step", color="crimson", linewidth=1.2, label="end")
        ax.set_title(label, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
        if index == 0:
            ax.set_ylabel("hidden activations over\nthe training samples", fontsize=8)
            ax.legend(fontsize=7)
    fig.suptitle(f"{title}: layer by layer")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.07 if activations else 0.12, top=0.92 if activations else 0.88)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def mosaic(units: np.ndarray, image_shape: tuple[int, int], pad: int = 1) -> np.ndarray:
    """The course's displayData: each row of units as an image, scaled by its max |w| to [-1, 1],
    tiled into a near-square grid with `pad` pixels of -1 between and around the tiles."""
    rows_px, cols_px = image_shape
    columns = math.ceil(math.sqrt(units.shape[0]))
    rows = math.ceil(units.shape[0] / columns)
    grid = -np.ones((pad + rows * (rows_px + pad), pad + columns * (cols_px + pad)))
    for index, unit in enumerate(units):
        top = pad + (index // columns) * (rows_px + pad)
        left = pad + (index % columns) * (cols_px + pad)
        largest = np.max(np.abs(unit))
        grid[top:top + rows_px, left:left + cols_px] = (unit / largest if largest > 0 else unit).reshape(image_shape)
    return grid


def hidden_weights(Theta1: np.ndarray, image_shape: tuple[int, int], path: Path) -> Path:
    """Each hidden unit's incoming weights (bias dropped) as an image, tiled as the course's displayData
    does: one image, so one axes to draw (25 axes took most of a second)."""
    plt = pyplot()
    grid = mosaic(Theta1[:, 1:], image_shape)
    fig, ax = plt.subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1]))
    ax.imshow(grid, cmap="gray", vmin=-1, vmax=1)
    ax.axis("off")
    ax.set_title("first hidden layer: incoming weights per unit")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plane_images(values: Callable[[np.ndarray], np.ndarray], X: np.ndarray, steps: int) -> np.ndarray:
    """Each column of values(points) over region_grid's plane as an image: shape (columns, steps * steps),
    row-major, its first row at the highest x2 (as an image is drawn: x2 up)."""
    _, _, grid = region_grid(values, X, steps)  # (steps, steps, columns), row i at x2[i]
    return np.moveaxis(grid[::-1], 2, 0).reshape(grid.shape[2], -1)


def hidden_units(activations: Callable[[np.ndarray], np.ndarray], X: np.ndarray, path: Path, title: str,
                 steps: int = 60) -> Path:
    """What each unit of the first hidden layer computes over the two-feature input plane (the
    region decision_regions draws): its activation a(2)_j at every point, scaled by its largest
    |value|, tiled as `mosaic` does (one axes), x2 up, black at 0 (at -1 when some unit goes negative)
    and white at 1. activations(points) gives a(2), one column a unit."""
    plt = pyplot()
    images = plane_images(activations, X, steps)
    grid = mosaic(images, (steps, steps), pad=3)
    fig, ax = plt.subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1] + 0.6))
    low = -1 if images.min() < 0 else 0  # sigmoid's and relu's units span black (0) to white, tanh's -1 to 1
    ax.imshow(grid, cmap="gray", vmin=low, vmax=1, interpolation="nearest")
    ax.axis("off")
    ax.set_title(f"{title}\nfirst hidden layer: each unit's activation over the input plane (light: high)",
                 fontsize=9)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def region_grid(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, steps: int = 200,
                margin: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What predict gives each point of a steps x steps grid over X's two features, widened by `margin`
    of their range on every side: (x1 values, x2 values, its values of shape (steps, steps, ...)),
    row i at x2[i] and column j at x1[j]."""
    low, high = X.min(axis=0), X.max(axis=0)
    pad = margin * np.where(high > low, high - low, 1.0)
    x1, x2 = (np.linspace(low[i] - pad[i], high[i] + pad[i], steps) for i in (0, 1))
    grid1, grid2 = np.meshgrid(x1, x2)  # row i: x2[i]; column j: x1[j]
    values = np.asarray(predict(np.column_stack([grid1.ravel(), grid2.ravel()])))
    return x1, x2, values.reshape(steps, steps, *values.shape[1:])


def class_colours(n_classes: int) -> list:
    """One colour per class (tab10, tab20 past 10 classes, repeating past 20), at least two."""
    palette = pyplot().get_cmap("tab10" if n_classes <= 10 else "tab20")
    return [palette(k % palette.N) for k in range(max(n_classes, 2))]


def draw_regions(ax, predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, colours: list,
                 steps: int = 200) -> None:
    """On ax, faintly: region_grid's plane over X coloured by the class predict gives each point."""
    from matplotlib.colors import ListedColormap

    x1, x2, regions = region_grid(predict, X, steps)
    ax.imshow(regions, origin="lower", extent=(x1[0], x1[-1], x2[0], x2[-1]), aspect="auto", alpha=0.35,
              cmap=ListedColormap(colours), vmin=-0.5, vmax=len(colours) - 0.5, interpolation="nearest")


def decision_regions(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray, y: np.ndarray, classes: list,
                     path: Path, title: str, max_points: int = 2000) -> Path:
    """The two-feature input plane coloured by the class the trained network predicts there, with
    the training samples on top in their true class's colour: what the network learned, at a glance.
    Past max_points samples only the first max_points are drawn (the split is shuffled), as more
    would hide the regions; the grid spans them all."""
    plt = pyplot()
    samples = "training samples" if len(X) <= max_points else f"{max_points} of {len(X)} training samples"
    colours = class_colours(len(classes))
    fig, ax = plt.subplots(figsize=(6, 5))
    draw_regions(ax, predict, X, colours)
    X, y = X[:max_points], y[:max_points]
    for k, name in enumerate(classes):
        mine = y == k
        ax.scatter(X[mine, 0], X[mine, 1], s=12, color=colours[k], edgecolors="black", linewidths=0.4,
                   label=f"class {name}")
    ax.set_xlabel("feature 1 (scaled)")
    ax.set_ylabel("feature 2 (scaled)")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(f"{title}\npredicted class (regions) and {samples} (points)", fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def regions_over_training(panels: list[tuple[int, Callable[[np.ndarray], np.ndarray]]], X: np.ndarray,
                          y: np.ndarray, classes: list, path: Path, title: str, unit: str = "epoch",
                          max_points: int = 500, steps: int = 100) -> Path:
    """decision_regions at several points of training, side by side: panels are (epoch, predict) in
    order, each drawn on a steps x steps grid with the first max_points training samples and titled
    with its epoch and the training accuracy of that epoch's network on all of X."""
    plt = pyplot()
    colours = class_colours(len(classes))
    columns = min(len(panels), 3)
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows + 0.5), squeeze=False)
    shown_X, shown_y = X[:max_points], y[:max_points]
    for ax, (epoch, predict) in zip(axes.flat, panels):
        draw_regions(ax, predict, X, colours, steps)
        ax.scatter(shown_X[:, 0], shown_X[:, 1], s=5, c=[colours[k] for k in shown_y], edgecolors="black",
                   linewidths=0.2)
        ax.set_title(f"{unit} {epoch}: train accuracy {np.mean(predict(X) == y):.3f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{title}\npredicted class (regions) during training", fontsize=10)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.02, top=1 - 0.9 / fig.get_figheight(), wspace=0.06,
                        hspace=0.18)
    fig.savefig(path, dpi=80)
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
