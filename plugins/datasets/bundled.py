"""The classic small datasets that ship with scikit-learn (no download); labels are sklearn's integers.

scikit-learn is imported only when one of them loads: it takes seconds, and runs on the
generated or CSV datasets never need it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import ClassVar

from plugins.datasets._base import SplitScaleDataset


@dataclass
class _Bundled(SplitScaleDataset):
    """A dataset read with sklearn.datasets.<loader>(return_X_y=True)."""

    loader: ClassVar[str] = ""

    def features_and_labels(self, rng):
        """sklearn's bundled copy of the data, as (X, y)."""
        return getattr(importlib.import_module("sklearn.datasets"), self.loader)(return_X_y=True)


@dataclass
class Digits(_Bundled):
    """8x8 grey-level images of handwritten digits (the UCI optical digits test set):
    m = 1797, n = 64 pixels (0..16), K = 10."""

    name: str = field(default="digits", init=False)
    loader: ClassVar[str] = "load_digits"
    image_shape: ClassVar[tuple[int, int]] = (8, 8)


@dataclass
class Iris(_Bundled):
    """Fisher's iris flowers: m = 150, n = 4 measurements in cm, K = 3 species."""

    name: str = field(default="iris", init=False)
    loader: ClassVar[str] = "load_iris"


@dataclass
class BreastCancer(_Bundled):
    """Wisconsin diagnostic breast cancer: m = 569, n = 30 cell-nucleus features, K = 2 (0 malignant, 1 benign)."""

    name: str = field(default="breast_cancer", init=False)
    loader: ClassVar[str] = "load_breast_cancer"


@dataclass
class Wine(_Bundled):
    """Wine recognition: m = 178, n = 13 chemical measurements, K = 3 cultivars."""

    name: str = field(default="wine", init=False)
    loader: ClassVar[str] = "load_wine"
