"""Initializer plugins: the starting Theta for layer sizes [s_1, ..., s_L].

Each returns a list of arrays of shape (s_{l+1}, s_l + 1), bias column first,
drawn from the run's generator only (never numpy's global random state).
"""
from __future__ import annotations

import math
import os
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np

from plugins._checks import is_number, positive_number, require
from runner.core.network import theta_shapes


@dataclass
class EpsilonUniform:
    """The course's init: Theta(l) ~ U[-eps, eps], eps = sqrt(6) / sqrt(L_in + L_out) per layer.

    L_in = s_l and L_out = s_{l+1}; a fixed eps may be given instead.
    """

    eps: float | None = None
    name: str = field(default="epsilon_uniform", init=False)

    def __post_init__(self):
        if self.eps is not None:
            positive_number("eps", self.eps)

    def __call__(self, layer_sizes, rng):
        Theta = []
        for rows, cols in theta_shapes(layer_sizes):
            eps = self.eps if self.eps is not None else math.sqrt(6) / math.sqrt(cols - 1 + rows)
            Theta.append(rng.uniform(-eps, eps, size=(rows, cols)))
        return Theta


@dataclass
class Constant:
    """Every weight equal to `value`: the symmetric start the course warns about."""

    value: float = 0.1
    name: str = field(default="constant", init=False)

    def __post_init__(self):
        require(is_number(self.value) and math.isfinite(self.value), "value", self.value, "a finite number")

    def __call__(self, layer_sizes, rng):
        return [np.full(shape, float(self.value)) for shape in theta_shapes(layer_sizes)]


@dataclass
class Zeros(Constant):
    """Every weight zero: all hidden units of a layer stay identical while training."""

    value: float = field(default=0.0, init=False)
    name: str = field(default="zeros", init=False)


@dataclass
class GlorotNormal:
    """Theta(l) ~ N(0, 2 / (L_in + L_out)) (Glorot & Bengio 2010), bias column included."""

    name: str = field(default="glorot_normal", init=False)

    def __call__(self, layer_sizes, rng):
        return [rng.normal(0.0, math.sqrt(2.0 / (cols - 1 + rows)), size=(rows, cols))
                for rows, cols in theta_shapes(layer_sizes)]


@dataclass
class HeNormal:
    """Theta(l) ~ N(0, 2 / L_in) (He et al. 2015), suited to relu units; bias column included."""

    name: str = field(default="he_normal", init=False)

    def __call__(self, layer_sizes, rng):
        return [rng.normal(0.0, math.sqrt(2.0 / (cols - 1)), size=(rows, cols))
                for rows, cols in theta_shapes(layer_sizes)]


@dataclass
class FromFile:
    """Theta1 .. ThetaN read from an .npz (as a run's weights.npz), never unpickled."""

    path: str = "weights.npz"
    name: str = field(default="from_file", init=False)

    def __post_init__(self):
        require(isinstance(self.path, str) and os.path.isfile(self.path), "path", self.path,
                "an existing .npz file holding Theta1 .. ThetaN")

    def __call__(self, layer_sizes, rng):
        expected = theta_shapes(layer_sizes)
        Theta = load_weights(self.path)
        found = [T.shape for T in Theta]
        require(found == expected, "path", self.path,
                f"weights of shapes {expected} for layers {layer_sizes} (file has {found})")
        return Theta


def load_weights(path: str) -> list[np.ndarray]:
    """Theta1 .. ThetaN from an .npz with allow_pickle=False; a clear ValueError otherwise."""
    def refuse(reason: str):
        return ValueError(f"path={path!r} is invalid ({reason}); accepted: an .npz of numeric arrays Theta1 .. ThetaN")

    if not zipfile.is_zipfile(path):  # np.load would read an .npy as one array and try text as a pickle
        with open(path, "rb") as file:
            start = file.read(6)
        raise refuse("it is one .npy array, not an .npz" if start == b"\x93NUMPY" else
                     "it is empty" if not start else "it is not an .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files if k.startswith("Theta")}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise refuse("it holds pickled objects" if "pickle" in str(error) else "it is not a readable .npz") from None
    misnamed = next((k for k in arrays if not re.fullmatch(r"Theta[1-9][0-9]*", k)), None)
    if misnamed is not None:
        raise refuse(f"it holds an array named {misnamed!r}, not Theta and a layer number from 1")
    names = sorted(arrays, key=lambda k: int(k[5:]))
    arrays = {k: arrays[k] for k in names}
    kinds = next((f"{k} holds {a.dtype}" for k, a in arrays.items() if a.dtype.kind not in "biuf"), None)
    if kinds:
        raise refuse(kinds)
    Theta = [np.array(a, dtype=float) for a in arrays.values()]
    require(bool(Theta) and [k for k in names] == [f"Theta{i}" for i in range(1, len(names) + 1)],
            "path", path, "an .npz holding arrays named Theta1 .. ThetaN")
    require(all(T.ndim == 2 for T in Theta), "path", path, "2-D arrays Theta1 .. ThetaN")
    bad = next((f"Theta{l + 1}" for l, T in enumerate(Theta) if not np.isfinite(T).all()), None)
    require(bad is None, "path", path, f"finite weights ({bad} holds NaN or inf)")
    return Theta
