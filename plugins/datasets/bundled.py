"""The classic small datasets that ship with scikit-learn (no download); labels are sklearn's integers."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

from plugins.datasets._base import SplitScaleDataset


@dataclass
class Digits(SplitScaleDataset):
    """8x8 grey-level images of handwritten digits: m = 1797, n = 64 pixels (0..16), K = 10."""

    name: str = field(default="digits", init=False)
    image_shape: ClassVar[tuple[int, int]] = (8, 8)

    def features_and_labels(self, rng):
        """sklearn's bundled copy of the UCI optical digits test set."""
        return load_digits(return_X_y=True)


@dataclass
class Iris(SplitScaleDataset):
    """Fisher's iris flowers: m = 150, n = 4 measurements in cm, K = 3 species."""

    name: str = field(default="iris", init=False)

    def features_and_labels(self, rng):
        """sklearn's bundled iris data."""
        return load_iris(return_X_y=True)


@dataclass
class BreastCancer(SplitScaleDataset):
    """Wisconsin diagnostic breast cancer: m = 569, n = 30 cell-nucleus features, K = 2 (0 malignant, 1 benign)."""

    name: str = field(default="breast_cancer", init=False)

    def features_and_labels(self, rng):
        """sklearn's bundled breast cancer data."""
        return load_breast_cancer(return_X_y=True)


@dataclass
class Wine(SplitScaleDataset):
    """Wine recognition: m = 178, n = 13 chemical measurements, K = 3 cultivars."""

    name: str = field(default="wine", init=False)

    def features_and_labels(self, rng):
        """sklearn's bundled wine data."""
        return load_wine(return_X_y=True)
