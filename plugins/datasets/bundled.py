"""The classic small datasets that ship with scikit-learn (no download); labels are sklearn's integers.

Importing scikit-learn takes more than a second, longer than reading the data, and every
process of a parallel sweep would pay it. So the CSV files in scikit-learn's package are
read directly, as its loaders read them (a header line "m,n,names..." except for digits,
then rows of n features and an integer label), and scikit-learn's own loader is used only
when a file is not where it should be or not of the expected shape.
"""
from __future__ import annotations

import gzip
import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

from plugins.datasets._base import SplitScaleDataset


def sklearn_data_file(name: str) -> Path | None:
    """scikit-learn's sklearn/datasets/data/<name>, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder, "datasets", "data", name)
        if path.is_file():
            return path
    return None


def read_bundled_csv(path: Path, header: bool) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from one of scikit-learn's CSV files: features, then the integer label last."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as file:
        table = np.loadtxt(file, delimiter=",", skiprows=1 if header else 0, ndmin=2)
    return table[:, :-1], table[:, -1].astype(int)


@dataclass
class _Bundled(SplitScaleDataset):
    """A dataset of scikit-learn's: its file read directly, else sklearn.datasets.load_<name>(return_X_y=True)."""

    file: ClassVar[str] = ""
    shape: ClassVar[tuple[int, int]] = (0, 0)

    def features_and_labels(self, rng):
        """scikit-learn's bundled copy of the data, as (X, y)."""
        path = sklearn_data_file(self.file)
        if path is not None:
            try:
                X, y = read_bundled_csv(path, header=not self.file.endswith(".gz"))
                if X.shape == self.shape:
                    return X, y
            except ValueError:  # a changed format: scikit-learn's loader knows it
                pass
        return getattr(importlib.import_module("sklearn.datasets"), f"load_{self.name}")(return_X_y=True)


@dataclass
class Digits(_Bundled):
    """8x8 grey-level images of handwritten digits (the UCI optical digits test set):
    m = 1797, n = 64 pixels (0..16), K = 10."""

    name: str = field(default="digits", init=False)
    file: ClassVar[str] = "digits.csv.gz"
    shape: ClassVar[tuple[int, int]] = (1797, 64)
    image_shape: ClassVar[tuple[int, int]] = (8, 8)


@dataclass
class Iris(_Bundled):
    """Fisher's iris flowers: m = 150, n = 4 measurements in cm, K = 3 species."""

    name: str = field(default="iris", init=False)
    file: ClassVar[str] = "iris.csv"
    shape: ClassVar[tuple[int, int]] = (150, 4)


@dataclass
class BreastCancer(_Bundled):
    """Wisconsin diagnostic breast cancer: m = 569, n = 30 cell-nucleus features, K = 2 (0 malignant, 1 benign)."""

    name: str = field(default="breast_cancer", init=False)
    file: ClassVar[str] = "breast_cancer.csv"
    shape: ClassVar[tuple[int, int]] = (569, 30)


@dataclass
class Wine(_Bundled):
    """Wine recognition: m = 178, n = 13 chemical measurements, K = 3 cultivars."""

    name: str = field(default="wine", init=False)
    file: ClassVar[str] = "wine_data.csv"
    shape: ClassVar[tuple[int, int]] = (178, 13)
