"""The training loop around an optimizer, and the checks that may end it: divergence, early stopping."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runner.core.protocols import EpochCallback, Objective, Optimizer, Weights


class Diverged(RuntimeError):
    """Training stopped because J(Theta) became NaN, infinite, or exploded."""

    def __init__(self, epoch: int, reason: str):
        super().__init__(f"diverged at epoch {epoch}: {reason}")
        self.epoch = epoch
        self.reason = reason


@dataclass
class DivergenceGuard:
    """Stops training when J is not finite or exceeds `factor` times max(J at epoch 0, 1)."""

    factor: float = 1e3
    start: float | None = None  # J at epoch 0

    def check(self, epoch: int, J: float) -> None:
        """Raise Diverged(epoch, reason) for a NaN or infinite cost, or one past factor x max(start, 1); the
        reason states that limit as it is, so a start below 1 is not shown as 1."""
        if not math.isfinite(J):
            raise Diverged(epoch, f"cost is {J}")
        if self.start is None:
            self.start = J
        elif J > self.factor * max(self.start, 1.0):
            raise Diverged(epoch, f"cost {J:.4g} exploded past {self.factor:g} x max(its start {self.start:.4g}, 1)")


class StoppedEarly(RuntimeError):
    """Training stopped because the validation cost stopped improving (early stopping)."""

    def __init__(self, epoch: int, reason: str, unit: str = "epoch"):
        super().__init__(f"stopped early at {unit} {epoch}: {reason}")
        self.epoch = epoch
        self.reason = reason


@dataclass
class EarlyStopping:
    """Early stopping on the validation cost, checked on the epochs whose metrics are recorded. It keeps two
    bests apart (with min_delta 0 they are one):

    - `best`, `best_epoch`: the lowest val_cost recorded and its epoch, with keep_best a copy of that epoch's
      weights (`best_weights`), which restore_best ends with ("the recorded epoch of lowest val_cost");
    - `improved`, `improved_epoch`: the val_cost of the last improvement, a fall of more than min_delta below
      the previous improvement, and its epoch. Patience counts from it: training stops once `patience`
      epochs (0: never) pass without one, as Keras's EarlyStopping counts."""

    patience: int = 0
    min_delta: float = 0.0
    keep_best: bool = False
    unit: str = "epoch"  # what a step is called in the stop message: "iteration" for lbfgs, cg (setup.step_unit)
    best: float = math.inf
    best_epoch: int = 0
    best_weights: Weights | None = None
    improved: float = math.inf
    improved_epoch: int = 0

    def check(self, epoch: int, val_cost: float, Theta: Weights | None = None, may_stop: bool = True) -> None:
        """Note a new lowest val_cost (and, with keep_best, copy Theta) and an improvement by more than min_delta,
        or raise StoppedEarly when the last improvement is `patience` epochs old, unless may_stop is false
        (training is over)."""
        if val_cost < self.best:
            self.best, self.best_epoch = val_cost, epoch
            if self.keep_best:
                self.best_weights = [T.copy() for T in Theta]
        if val_cost < self.improved - self.min_delta:
            self.improved, self.improved_epoch = val_cost, epoch
        elif may_stop and self.patience and epoch - self.improved_epoch >= self.patience:
            raise StoppedEarly(epoch, self.stop_reason(epoch), self.unit)

    def stop_reason(self, epoch: int) -> str:
        """Why training stops at `epoch`: the value patience counts from, with min_delta, and the lowest
        val_cost when it is another epoch's (lower than that value by min_delta or less)."""
        by = f" by more than min_delta {self.min_delta:g}" if self.min_delta else ""
        lowest = f"; its lowest {self.best:.4g} ({self.unit} {self.best_epoch})" \
            if self.best_epoch != self.improved_epoch else ""
        waited = epoch - self.improved_epoch
        return (f"val_cost has not improved on {self.improved:.4g} ({self.unit} {self.improved_epoch}){by} "
                f"for {waited} {self.unit}{'s' if waited != 1 else ''}{lowest}")


def train(objective: Objective, Theta: Weights, optimizer: Optimizer,
          rng: np.random.Generator, callback: EpochCallback) -> Weights:
    """Report the initial weights as epoch 0, then let the optimizer minimize J, reporting each epoch."""
    callback(0, Theta)
    return optimizer.minimize(objective, Theta, rng, callback)
