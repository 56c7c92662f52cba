"""Gradient checking by central differences.

For a coordinate (or direction) v:  num = (J(theta + eps v) - J(theta - eps v)) / (2 eps),
compared with backprop's D . v.  The reported error is the course's relative
difference ||num - bp|| / ||num + bp|| over the checked coordinates.

The coordinates' num come from 2 evaluations of J each (the naive loop), or from a
`differences(Theta, coords, eps)` function that computes the same numbers faster,
such as runner.core.differences.central_differences for a network.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from runner.core.network import roll, unroll
from runner.core.protocols import Weights

Differences = Callable[[Weights, np.ndarray, float], np.ndarray]
"""differences(Theta, coords, eps) -> num at the unrolled coordinates `coords`, as the naive loop gives them."""

MODES = ("full", "sample", "direction")


@dataclass(frozen=True)
class GradCheck:
    """Result of one check: the relative difference, how it was checked, and its cost."""

    rel_error: float
    mode: str
    n_checked: int
    n_evaluations: int


class GradientCheckFailed(RuntimeError):
    """Training stopped because backprop's gradient disagreed with the central differences."""


def choose_mode(n_params: int, full_limit: int = 5000) -> str:
    """Every coordinate for small networks, a random sample of them otherwise."""
    return "full" if n_params <= full_limit else "sample"


def relative_difference(num: np.ndarray, bp: np.ndarray) -> float:
    """||num - bp|| / ||num + bp|| (0 when both are zero)."""
    denominator = np.linalg.norm(num + bp)
    if denominator == 0.0:
        return 0.0 if np.linalg.norm(num - bp) == 0.0 else float("inf")
    return float(np.linalg.norm(num - bp) / denominator)


def naive_differences(J: Callable[[Weights], float], Theta: Weights, coords: np.ndarray, eps: float) -> np.ndarray:
    """num_k = (J(Theta + eps e_k) - J(Theta - eps e_k)) / (2 eps), two full evaluations of J per coordinate."""
    shapes = [T.shape for T in Theta]
    theta = unroll(Theta).astype(float)
    num = np.empty(coords.size)
    for i, k in enumerate(coords):
        saved = theta[k]
        theta[k] = saved + eps
        plus = J(roll(theta, shapes))
        theta[k] = saved - eps
        minus = J(roll(theta, shapes))
        theta[k] = saved
        num[i] = (plus - minus) / (2 * eps)
    return num


def gradient_check(
    J: Callable[[Weights], float],
    Theta: Weights,
    D: Weights,
    mode: str = "full",
    eps: float = 1e-4,
    n_samples: int = 200,
    rng: np.random.Generator | None = None,
    differences: Differences | None = None,
) -> GradCheck:
    """Compare backprop's D with central differences of J around Theta.

    mode "full" checks every coordinate (2P evaluations of J), "sample" a random
    subset of n_samples coordinates, "direction" one random unit direction
    (two evaluations of J). With `differences`, full and sample take num from it
    instead of `naive_differences` (n_evaluations still counts 2 per coordinate).
    """
    if mode not in MODES:
        raise ValueError(f"gradcheck mode={mode!r} is unknown; accepted: {', '.join(MODES)}")
    if eps <= 0:
        raise ValueError(f"gradcheck eps={eps!r} must be > 0")
    theta = unroll(Theta).astype(float)
    grad = unroll(D)
    rng = rng if rng is not None else np.random.default_rng(0)

    if mode == "direction":
        shapes = [T.shape for T in Theta]
        v = rng.standard_normal(theta.size)
        v /= np.linalg.norm(v)
        num = np.array([(J(roll(theta + eps * v, shapes)) - J(roll(theta - eps * v, shapes))) / (2 * eps)])
        return GradCheck(relative_difference(num, np.array([grad @ v])), mode, 1, 2)

    if mode == "full":
        coords = np.arange(theta.size)
    else:
        coords = rng.choice(theta.size, size=min(n_samples, theta.size), replace=False)
    if differences is None:
        num = naive_differences(J, Theta, coords, eps)
    else:
        num = differences(Theta, coords, eps)
    return GradCheck(relative_difference(num, grad[coords]), mode, coords.size, 2 * coords.size)
