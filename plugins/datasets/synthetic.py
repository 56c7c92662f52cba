"""Generated two-class problems in the plane (n = 2), drawn from the rng given to load().

noise is the standard deviation of Gaussian noise added to every coordinate.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from plugins._checks import non_negative_number, positive_integer, positive_number
from plugins.datasets._base import SplitScaleDataset


@dataclass
class _Generated(SplitScaleDataset):
    """Shared arguments of the generated sets: n_samples = m and the noise level."""

    n_samples: int = 400
    noise: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        positive_integer("n_samples", self.n_samples)
        non_negative_number("noise", self.noise)

    def jitter(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """X plus N(0, noise^2) noise on every coordinate."""
        return X + self.noise * rng.standard_normal(X.shape)


@dataclass
class Xor(_Generated):
    """Points uniform in [-1, 1]^2, class 1 where the two coordinates have the same sign (x1 * x2 > 0)."""

    name: str = field(default="xor", init=False)

    def features_and_labels(self, rng):
        """Labels come from the clean points; noise is added afterwards, so it blurs the boundary."""
        X = rng.uniform(-1.0, 1.0, size=(self.n_samples, 2))
        y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
        return self.jitter(X, rng), y


@dataclass
class Moons(_Generated):
    """Two interleaving half circles: class 0 on (cos t, sin t), class 1 on (1 - cos t, 1/2 - sin t), t in [0, pi]."""

    name: str = field(default="moons", init=False)

    def features_and_labels(self, rng):
        """Half the samples (rounded down) on the upper moon, the rest on the lower one."""
        y = (np.arange(self.n_samples) >= self.n_samples // 2).astype(np.int64)
        t = rng.uniform(0.0, np.pi, self.n_samples)
        X = np.column_stack([np.where(y == 0, np.cos(t), 1 - np.cos(t)),
                             np.where(y == 0, np.sin(t), 0.5 - np.sin(t))])
        return self.jitter(X, rng), y


@dataclass
class Spirals(_Generated):
    """Two interleaved arms r (cos phi, sin phi), phi = 2 pi turns r + pi k for class k, r in [0, 1]."""

    turns: float = 1.5
    name: str = field(default="spirals", init=False)

    def __post_init__(self):
        super().__post_init__()
        positive_number("turns", self.turns)

    def features_and_labels(self, rng):
        """r = sqrt(u), u ~ U[0, 1], spreads the points evenly along the arms' area."""
        y = (np.arange(self.n_samples) >= self.n_samples // 2).astype(np.int64)
        r = np.sqrt(rng.random(self.n_samples))
        phi = 2 * np.pi * self.turns * r + np.pi * y
        X = np.column_stack([r * np.cos(phi), r * np.sin(phi)])
        return self.jitter(X, rng), y
