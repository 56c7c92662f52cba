"""The small interfaces that plugins implement.

Symbols (the course's; code counts layers from 0 where the formulas count from 1):
  m        number of samples;  K  number of output units (1 for two classes)
  X        inputs, shape (m, n)            y  integer labels in 0..K-1, shape (m,)
  Y        targets, shape (m, K): one-hot rows (a single 0/1 column when K = 1)
  Theta    list of weight matrices, Theta[l] of shape (s_{l+1}, s_l + 1), bias column first
  z, a     a layer's weighted input and activation, shape (m, s_l), bias unit not stored
  h        the hypothesis, the output layer's activation a(L)
  delta    error terms dJ/dz, shape (m, s_l);   D  gradient matrices dJ/dTheta, like Theta
  lam      the regularization strength lambda
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

import numpy as np

Weights = list[np.ndarray]
EpochCallback = Callable[[int, Weights], None]
"""Called as callback(epoch, Theta) after every epoch (iteration) with the updated Theta."""


@runtime_checkable
class Cost(Protocol):
    """The data term of J(Theta) and the output layer that goes with it."""

    name: str

    def output(self, z: np.ndarray) -> np.ndarray:
        """h = output activation of the last layer's z, shape (m, K)."""

    def value(self, z: np.ndarray, h: np.ndarray, Y: np.ndarray) -> float:
        """(1/m) * sum over samples and the K outputs of the per-unit cost."""

    def delta(self, z: np.ndarray, h: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """delta(L) = dJ_i/dz(L) per sample i (not yet divided by m), shape (m, K)."""


@runtime_checkable
class RowCosts(Protocol):
    """Optional for a Cost: each row's cost, which lets gradient checks move one row at a time.

    runner.core.differences uses it when a cost has it (all bundled costs do) and
    falls back to `value` otherwise.
    """

    def row_costs(self, z: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """sum over the K outputs of each row's per-unit cost (not divided by m), shape z.shape[:-1].

        z may carry leading axes (stacks of (m, K) blocks); value(z, h, Y) == row_costs(z, Y).sum() / m.
        """


@runtime_checkable
class Regularization(Protocol):
    """The penalty term of J(Theta); bias columns Theta[l][:, 0] are never penalized."""

    name: str

    def penalty(self, Theta: Weights, m: int) -> float:
        """The penalty added to the data cost, e.g. lam/(2m) * sum of squared non-bias weights."""

    def add_gradient(self, D: Weights, Theta: Weights, m: int) -> None:
        """D[l] += d penalty / d Theta[l], in place."""


@runtime_checkable
class WeightPenalty(Protocol):
    """Optional for a Regularization whose penalty is a sum over the non-bias weights of one function."""

    def weight_penalty(self, w: np.ndarray, m: int) -> np.ndarray:
        """Each weight's share, elementwise: penalty(Theta, m) == sum_l sum(weight_penalty(Theta[l][:, 1:], m))."""


@runtime_checkable
class Initializer(Protocol):
    """Makes the initial Theta for the given layer sizes [s_1, ..., s_L]."""

    def __call__(self, layer_sizes: list[int], rng: np.random.Generator) -> Weights: ...


@runtime_checkable
class Objective(Protocol):
    """J(Theta) on the training set, as an optimizer sees it (it never sees lam)."""

    m: int

    def value_and_gradient(
        self, Theta: Weights, rows: slice | np.ndarray | None = None
    ) -> tuple[float, Weights]:
        """J and D on the given training rows (all by default); the penalty always uses m."""

    def gradient(self, Theta: Weights, rows: slice | np.ndarray | None = None) -> Weights:
        """D alone, as value_and_gradient's, for steps that never read J; the arrays may be the
        objective's own, overwritten by its next call."""


@runtime_checkable
class Optimizer(Protocol):
    """Minimizes an Objective from a starting Theta, reporting each epoch.

    It may also have prepare(objective, Theta): one-time work (loading compiled code) that the
    runner does before the training clock starts, so that train_seconds times training alone.
    """

    name: str
    epochs: int

    def minimize(
        self,
        objective: Objective,
        Theta: Weights,
        rng: np.random.Generator,
        callback: EpochCallback,
    ) -> Weights: ...


@runtime_checkable
class Architecture(Protocol):
    """Hidden layers and their activation; input and output sizes come from the data."""

    hidden: list[int]
    activation: str

    def layer_sizes(self, n_features: int, n_classes: int) -> list[int]: ...


@dataclass(frozen=True)
class Split:
    """One part of a dataset: X of shape (m, n), integer labels y of shape (m,)."""

    X: np.ndarray
    y: np.ndarray

    @property
    def m(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class Splits:
    """A dataset ready to train on: seeded splits, scaled on the training part."""

    train: Split
    val: Split | None
    test: Split | None
    classes: list = field(default_factory=list)
    image_shape: tuple[int, int] | None = None
    scaling: tuple[np.ndarray, np.ndarray] | None = None  # (shift, factor): x' = (x - shift) / factor, or unknown
    fill: np.ndarray | None = None  # each feature's value where the data had none (its training mean), or None

    @property
    def n_features(self) -> int:
        return int(self.train.X.shape[1])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def held_out(self) -> tuple[str, Split]:
        """The part a trained network is judged on: ('test', test), else ('validation', val), else
        ('training', train) when the dataset keeps no sample out."""
        return next((name, part) for name, part in (("test", self.test), ("validation", self.val),
                                                    ("training", self.train)) if part is not None)

    def unscaled(self, X: np.ndarray) -> np.ndarray:
        """The features as the dataset gave them, x = x' * factor + shift (X itself when the scaling is unknown)."""
        if self.scaling is None:
            return X
        shift, factor = self.scaling
        return X * factor + shift


@runtime_checkable
class Dataset(Protocol):
    """Loads, splits and scales a dataset with the given generator."""

    name: str

    def load(self, rng: np.random.Generator) -> Splits: ...
