"""Regularization plugins: the penalty term of J(Theta) and its gradient.

The bias column Theta[l][:, 0] is never penalized: shifting a unit's threshold
is not model complexity. m is always the full training-set size, so lam means
the same for full-batch, mini-batch and per-sample optimizers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from plugins._checks import non_negative_number


@dataclass
class L2:
    """The course's penalty: (lam / (2m)) * sum_l sum_{i, j >= 1} Theta(l)_ij^2; gradient (lam/m) Theta."""

    lam: float = 1.0
    name: str = field(default="l2", init=False)

    def __post_init__(self):
        non_negative_number("lam", self.lam)

    def penalty(self, Theta, m):
        return self.lam / (2 * m) * sum(float(np.sum(T[:, 1:] ** 2)) for T in Theta)

    def weight_penalty(self, w, m):
        return self.lam / (2 * m) * w**2

    def add_gradient(self, D, Theta, m):
        if self.lam:
            for Dl, T in zip(D, Theta):
                Dl[:, 1:] += (self.lam / m) * T[:, 1:]


@dataclass
class L1:
    """Lasso penalty: (lam / m) * sum |Theta(l)_ij| over non-bias weights; gradient (lam/m) sign(Theta)."""

    lam: float = 1.0
    name: str = field(default="l1", init=False)

    def __post_init__(self):
        non_negative_number("lam", self.lam)

    def penalty(self, Theta, m):
        return self.lam / m * sum(float(np.sum(np.abs(T[:, 1:]))) for T in Theta)

    def weight_penalty(self, w, m):
        return self.lam / m * np.abs(w)

    def add_gradient(self, D, Theta, m):
        if self.lam:
            for Dl, T in zip(D, Theta):
                Dl[:, 1:] += (self.lam / m) * np.sign(T[:, 1:])


@dataclass
class NoRegularization:
    """No penalty: J is the data cost alone."""

    name: str = field(default="none", init=False)

    def penalty(self, Theta, m):
        return 0.0

    def weight_penalty(self, w, m):
        return np.zeros_like(w)

    def add_gradient(self, D, Theta, m):
        return None
