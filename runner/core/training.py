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
    reference: float | None = None

    def check(self, epoch: int, J: float) -> None:
        """Raise Diverged(epoch, reason) for a NaN, infinite or exploding cost."""
        if not math.isfinite(J):
            raise Diverged(epoch, f"cost is {J}")
        if self.reference is None:
            self.reference = max(J, 1.0)
        elif J > self.factor * self.reference:
            raise Diverged(epoch, f"cost {J:.4g} exploded past {self.factor:g} x its start {self.reference:.4g}")


class StoppedEarly(RuntimeError):
    """Training stopped because the validation cost stopped improving (early stopping)."""

    def __init__(self, epoch: int, best_epoch: int, best: float):
        super().__init__(f"stopped early at epoch {epoch}: val_cost has not improved on {best:.4g} "
                         f"(epoch {best_epoch}) for {epoch - best_epoch} epochs")
        self.epoch = epoch
        self.best_epoch = best_epoch


@dataclass
class EarlyStopping:
    """Stops training once the validation cost has not fallen more than min_delta below its best for
    `patience` epochs (0: never). Checked on the epochs whose metrics are recorded. With keep_best it
    keeps a copy of the best epoch's weights (best_weights), which a run may restore at the end."""

    patience: int = 0
    min_delta: float = 0.0
    keep_best: bool = False
    best: float = math.inf
    best_epoch: int = 0
    best_weights: Weights | None = None

    def check(self, epoch: int, val_cost: float, Theta: Weights | None = None, may_stop: bool = True) -> None:
        """Note an improvement (and, with keep_best, copy Theta), or raise StoppedEarly when the last one is
        `patience` epochs old, unless may_stop is false (training is over)."""
        if val_cost < self.best - self.min_delta:
            self.best, self.best_epoch = val_cost, epoch
            if self.keep_best:
                self.best_weights = [T.copy() for T in Theta]
        elif may_stop and self.patience and epoch - self.best_epoch >= self.patience:
            raise StoppedEarly(epoch, self.best_epoch, self.best)


def train(objective: Objective, Theta: Weights, optimizer: Optimizer,
          rng: np.random.Generator, callback: EpochCallback) -> Weights:
    """Report the initial weights as epoch 0, then let the optimizer minimize J, reporting each epoch."""
    callback(0, Theta)
    return optimizer.minimize(objective, Theta, rng, callback)
