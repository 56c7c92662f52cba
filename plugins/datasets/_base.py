"""The base every dataset plugin shares: the common arguments, their checks, and load()."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from plugins._checks import is_integer, is_number, one_of, require
from plugins.datasets._prepare import (SCALES, apply_fill, apply_scaling, encode_labels, first_rows, fit_fill,
                                       fit_scaling, split_rows)
from runner.core.protocols import Split, Splits


@dataclass(kw_only=True)
class SplitScaleDataset:
    """A dataset split into seeded, stratified train/val/test parts, scaled on the training part.

    Subclasses give their raw data in features_and_labels(rng); load() does the rest.
    """

    val_fraction: float = 0.2
    test_fraction: float = 0.2
    train_size: int | None = None  # train on this many of the training part's samples; None: all
    scale: str = "standard"
    name: str = field(default="", init=False)
    image_shape: ClassVar[tuple[int, int] | None] = None

    def __post_init__(self):
        for arg in ("val_fraction", "test_fraction"):
            value = getattr(self, arg)
            require(is_number(value) and 0 <= value < 1, arg, value, f"a number with 0 <= {arg} < 1")
        require(self.val_fraction + self.test_fraction < 1, "test_fraction", self.test_fraction,
                f"a number with val_fraction + test_fraction < 1 (val_fraction={self.val_fraction!r})")
        require(self.train_size is None or (is_integer(self.train_size) and self.train_size >= 2), "train_size",
                self.train_size, "an integer >= 2 (training samples to use), or null for all of them")
        one_of("scale", self.scale, SCALES)

    def features_and_labels(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The raw X, shape (m, n), and labels of any sortable type, shape (m,)."""
        raise NotImplementedError

    def load(self, rng: np.random.Generator) -> Splits:
        """Raw data -> labels 0..K-1 -> stratified seeded splits (train_size of the training part) -> missing
        values (NaN, which a subclass may give, in any part) filled with the training rows' means -> scaling
        fitted on the training rows used."""
        X, labels = self.features_and_labels(rng)
        X = np.asarray(X, dtype=np.float64)
        y, classes = encode_labels(labels)
        train, val, test = split_rows(y, self.val_fraction, self.test_fraction, rng)
        train = first_rows(train, y, self.train_size)
        names = getattr(self, "column_names", None)
        fill = fit_fill(X, train, names)
        X = apply_fill(X, fill)
        shift, factor = fit_scaling(X[train], self.scale, names)

        def part(rows):
            return None if rows is None else Split(apply_scaling(X[rows], shift, factor), y[rows])

        return Splits(part(train), part(val), part(test), classes, self.image_shape, (shift, factor), fill)
