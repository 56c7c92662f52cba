"""PNG figures of a network on data of two features: the input plane coloured by the predicted class
(at the end, and at several points of training), and what each first-layer unit computes over it."""
from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from runner.plots import mosaic, pyplot, tile_corners


def plane_images(values: Callable[[np.ndarray], np.ndarray], X: np.ndarray, steps: int) -> np.ndarray:
    """Each column of values(points) over region_grid's plane as an image: shape (columns, steps * steps),
    row-major, its first row at the highest x2 (as an image is drawn: x2 up)."""
    _, _, grid = region_grid(values, X, steps)  # (steps, steps, columns), row i at x2[i]
    return np.moveaxis(grid[::-1], 2, 0).reshape(grid.shape[2], -1)


SEPARATOR_COLOUR = "#4c72b0"  # a blue, that no tile's grey (black to white) takes


def hidden_units(activations: Callable[[np.ndarray], np.ndarray], X: np.ndarray, path: Path, title: str,
                 steps: int = 60) -> Path:
    """What each unit of the first hidden layer computes over the two-feature input plane (the
    region decision_regions draws): its activation a(2)_j at every point, scaled by its largest
    |value|, tiled as `mosaic` does (one axes) between blue separators, x2 up, black at 0 (at -1 when
    some unit goes negative) and white at 1. A dead unit, 0 over the whole plane (a relu whose z is
    negative everywhere), is labelled "dead" on its tile and counted in the title.
    activations(points) gives a(2), one column a unit."""
    plt = pyplot()
    images = plane_images(activations, X, steps)
    grid = mosaic(images, (steps, steps), pad=3)
    _, corners = tile_corners(len(images), (steps, steps), pad=3)
    separators = np.ones(grid.shape, dtype=bool)
    for top, left in corners:
        separators[top:top + steps, left:left + steps] = False
    fig, ax = plt.subplots(figsize=(6, 6 * grid.shape[0] / grid.shape[1] + 0.6))
    low = -1 if images.min() < 0 else 0  # sigmoid's and relu's units span black (0) to white, tanh's -1 to 1
    ax.imshow(np.ma.masked_array(grid, separators), cmap=plt.get_cmap("gray").with_extremes(bad=SEPARATOR_COLOUR),
              vmin=low, vmax=1, interpolation="nearest")
    dead = [index for index, image in enumerate(images) if not np.any(image)]
    for index in dead:
        top, left = corners[index]
        ax.text(left + steps / 2, top + steps / 2, "dead", ha="center", va="center", color="tomato", fontsize=9)
    ax.axis("off")
    dead_units = f"\n{len(dead)} of {len(images)} units dead: 0 over the whole plane" if dead else ""
    ax.set_title(f"{title}\nfirst hidden layer: each unit's activation over the input plane (light: high)"
                 f"{dead_units}", fontsize=9)
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
