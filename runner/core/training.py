"""The training loop around an optimizer, and the divergence check it applies each epoch."""
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


def train(objective: Objective, Theta: Weights, optimizer: Optimizer,
          rng: np.random.Generator, callback: EpochCallback) -> Weights:
    """Report the initial weights as epoch 0, then let the optimizer minimize J, reporting each epoch."""
    callback(0, Theta)
    return optimizer.minimize(objective, Theta, rng, callback)
