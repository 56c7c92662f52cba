"""Shared steps that turn raw (X, labels) into seeded, scaled train/validation/test splits.

Symbols (see runner.core.protocols): m samples, n features, K classes;
X has shape (m, n), y holds integer labels 0..K-1, shape (m,).
"""
from __future__ import annotations

import math

import numpy as np

SCALES = ("none", "standard", "minmax")


def encode_labels(labels) -> tuple[np.ndarray, list]:
    """Map labels of any sortable type to y in 0..K-1; classes[y[i]] == labels[i], classes sorted."""
    classes, y = np.unique(np.asarray(labels), return_inverse=True)
    return y.reshape(-1).astype(np.int64), classes.tolist()


def stratified_order(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A seeded row order in which every prefix holds the classes in about their overall proportions.

    A row of class c with random rank r among the m_c rows of its class gets the key
    (r + u) / m_c with u ~ U[0, 1); sorting by the key interleaves the shuffled classes.
    """
    key = np.empty(len(y))
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        key[rows] = (rng.permutation(len(rows)) + rng.random(len(rows))) / len(rows)
    return np.argsort(key, kind="stable")


def split_size(fraction: float, m: int, name: str) -> int:
    """round(fraction * m), half up; a ValueError if a fraction > 0 would give an empty split, naming the smallest
    fraction that gives one sample, 0.5 / m, rounded up (0.00333 of m=150 samples would give none)."""
    size = int(np.floor(fraction * m + 0.5))
    if fraction > 0 and size == 0:
        raise ValueError(f"{name}={fraction!r} gives an empty split of m={m} samples; "
                         f"accepted: {name}=0 or {name} >= {rounded_up(0.5 / m)}")
    return size


def rounded_up(x: float, digits: int = 3) -> str:
    """x > 0 rounded up to `digits` significant digits, as text: a bound that still holds as it is typed."""
    unit = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return f"{math.ceil(x / unit - 1e-9) * unit:.{digits}g}"


def split_rows(y: np.ndarray, val_fraction: float, test_fraction: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Stratified row indices (train, val, test); a part is None when its fraction is 0.

    Test takes the first round(test_fraction * m) rows of a stratified order, validation
    the next round(val_fraction * m), training the rest, which must hold at least 2 classes.
    """
    m = len(y)
    n_test = split_size(test_fraction, m, "test_fraction")
    n_val = split_size(val_fraction, m, "val_fraction")
    order = stratified_order(y, rng)
    train = order[n_test + n_val:]
    if len(np.unique(y[train])) < 2:
        raise ValueError(f"val_fraction={val_fraction!r} and test_fraction={test_fraction!r} leave "
                         f"{len(train)} training samples of m={m} with fewer than 2 classes; "
                         "accepted: smaller fractions or more samples")
    test = order[:n_test] if test_fraction > 0 else None
    val = order[n_test:n_test + n_val] if val_fraction > 0 else None
    return train, val, test


def first_rows(train: np.ndarray, y: np.ndarray, train_size: int | None) -> np.ndarray:
    """The first train_size rows of the training part (all when None): a part of a stratified order,
    so they hold the classes in about their proportions, and the validation and test parts stay the same."""
    if train_size is None:
        return train
    if train_size > len(train):
        raise ValueError(f"train_size={train_size!r} is more than the {len(train)} training samples; "
                         f"accepted: an integer from 2 to {len(train)}, or null for all of them")
    rows = train[:train_size]
    if len(np.unique(y[rows])) < 2:
        raise ValueError(f"train_size={train_size!r} gives a training part of one class; "
                         "accepted: a larger train_size, or null for all training samples")
    return rows


def fit_fill(X: np.ndarray, train: np.ndarray, names: list[str] | None = None) -> np.ndarray | None:
    """Each feature's mean over the training rows (X[train]) that have it, the value a missing one (NaN) takes in
    every part; None when no row of any part misses one. A ValueError names a feature the training rows never give
    (by its column name, given `names`)."""
    if not np.isnan(X).any():
        return None
    X_train = X[train]
    empty = np.flatnonzero(np.isnan(X_train).all(axis=0))
    if empty.size:
        feature = f"feature column {names[empty[0]]!r}" if names else f"feature {int(empty[0])}"
        raise ValueError(f"{feature} has no value in the {X_train.shape[0]} training rows; accepted: "
                         "features with a value in some training row (dataset.features=[...] leaves a column out)")
    return np.nanmean(X_train, axis=0)


def apply_fill(X: np.ndarray, fill: np.ndarray | None) -> np.ndarray:
    """X with each NaN replaced by its feature's fill value (X itself when fill is None)."""
    return X if fill is None else np.where(np.isnan(X), fill, X)


def fit_scaling(X_train: np.ndarray, scale: str, names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(shift, factor) for x' = (x - shift) / factor, fitted on the training rows only.

    standard: shift = mean, factor = std; minmax: shift = min, factor = max - min;
    none: 0 and 1. A constant feature gets factor 1, so it maps to 0 instead of dividing by 0.
    A ValueError names a feature whose max - min is beyond float64 (1.8e308), which minmax cannot divide by.
    """
    n = X_train.shape[1]
    if scale == "none":
        return np.zeros(n), np.ones(n)
    with np.errstate(over="ignore", invalid="ignore"):
        shift, factor = _moments(X_train, scale)
        if not (np.isfinite(shift).all() and np.isfinite(factor).all()):  # values near 1e200 overflow a square
            magnitude = np.abs(X_train).max(axis=0)
            magnitude = np.where(magnitude > 0, magnitude, 1.0)
            shift, factor = (magnitude * moment for moment in _moments(X_train / magnitude, scale))
    wide = np.flatnonzero(~np.isfinite(factor))  # std <= max |x| stays finite; max - min may not
    if wide.size:
        j = int(wide[0])
        feature = f"feature column {names[j]!r}" if names else f"feature {j}"
        raise ValueError(f"{feature} spans {X_train[:, j].min():.3g} to {X_train[:, j].max():.3g}, a range beyond "
                         "float64's 1.8e308, which scale=minmax cannot divide by; accepted: scale=standard, or "
                         "values spanning less")
    return shift, np.where(factor > 0, factor, 1.0)


def _moments(X: np.ndarray, scale: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) for standard, (min, max - min) for minmax, over the rows."""
    if scale == "standard":
        return X.mean(axis=0), X.std(axis=0)
    return X.min(axis=0), np.ptp(X, axis=0)


def apply_scaling(X: np.ndarray, shift: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """(X - shift) / factor as a float64, C-contiguous array, computed as (X/2 - shift/2) / (factor/2): the same
    numbers (halving is exact), but x - shift of values near 1.8e308 and of the other sign no longer overflows."""
    return np.ascontiguousarray((X / 2 - shift / 2) / (factor / 2), dtype=np.float64)
