"""The cost along the straight line from the initial weights Theta0 to the trained ones Theta1 (Goodfellow,
Vinyals and Saxe, "Qualitatively characterizing neural network optimization problems", 2015):

    J(t) = J((1 - t) Theta0 + t Theta1),   t = 0 the start, t = 1 the trained weights.

A J that falls smoothly from t = 0 to 1 says the start and the end lie in one basin; a bump between them,
a barrier the optimizer went around; a J flat near t = 0, a start where the gradient vanishes (zero
initialization's symmetry); t < 0 and t > 1 look past either end.
"""
from __future__ import annotations

import numpy as np

from runner.core.protocols import Weights

LINE_POINTS = np.arange(-10, 51) / 40
"""t from -0.25 to 1.25 in steps of 0.025, 0 and 1 among them exactly."""


def cost_along_line(value, Theta0: Weights, Theta1: Weights, ts: np.ndarray = LINE_POINTS) -> np.ndarray:
    """value(Theta0 + t (Theta1 - Theta0)) for each t in ts; `value` is a cost of weights, such as
    NetworkObjective.value."""
    steps = [T1 - T0 for T0, T1 in zip(Theta0, Theta1)]
    return np.array([value([T0 + t * step for T0, step in zip(Theta0, steps)]) for t in ts])
