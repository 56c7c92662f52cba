"""PNG figures of a run: learning curves, and the first hidden layer's weights as images."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(history: list[tuple[str, float, int]], path: Path, title: str) -> Path:
    """Cost (left) and accuracy (right) against epoch for the train and validation sets."""
    plt = _pyplot()
    fig, (cost_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for ax, keys, label in ((cost_ax, ("train_cost", "val_cost"), "cost"),
                            (acc_ax, ("train_accuracy", "val_accuracy"), "accuracy")):
        for key in keys:
            points = [(step, value) for k, value, step in history if k == key]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def hidden_weights(Theta1: np.ndarray, image_shape: tuple[int, int], path: Path) -> Path:
    """Each hidden unit's incoming weights (bias dropped) shown as an image, as the course's displayData."""
    plt = _pyplot()
    units = Theta1[:, 1:]
    columns = math.ceil(math.sqrt(units.shape[0]))
    rows = math.ceil(units.shape[0] / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.2))
    for index, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if index < units.shape[0]:
            ax.imshow(units[index].reshape(image_shape), cmap="gray")
    fig.suptitle("first hidden layer: incoming weights per unit")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
