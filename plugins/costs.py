"""Cost plugins: the data term of J(Theta), its output layer, and delta(L).

Saturated units (z = +-800) never take log(0): row costs are computed from z(L)
(log(sigmoid(z)) = -softplus(-z), log(1 - sigmoid(z)) = -softplus(z)), and J from z(L)
and h by logs of numbers no smaller than 1/2 (sigmoid) or 1/K (softmax).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from runner.core.activations import sigmoid


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def row_max(z: np.ndarray) -> np.ndarray:
    """max_k z_k of each row, taken down the columns of z^T: numpy reduces short rows ten times slower."""
    return np.ascontiguousarray(z.T).max(axis=0)


def softmax(z: np.ndarray) -> np.ndarray:
    """exp(z_k) / sum_j exp(z_j) per row, shifted by the row max so exp cannot overflow.

    Row sums are e @ 1 (a matrix-vector product), in place, for the same reason as row_max.
    """
    e = z - row_max(z)[:, None]
    np.exp(e, out=e)
    e /= (e @ np.ones(e.shape[1], e.dtype))[:, None]
    return e


def sum_of_products(a: np.ndarray, b: np.ndarray) -> float:
    """sum_ij a_ij b_ij: np.vdot, of the transposes when both are column-major (vdot copies what is not row-major)."""
    if a.flags.f_contiguous and b.flags.f_contiguous:
        return np.vdot(a.T, b.T)
    return np.vdot(a, b)


def sigmoid_cross_entropy(z: np.ndarray, h: np.ndarray, Y: np.ndarray) -> float:
    """(1/m) sum [softplus(z) - y z] for h = sigmoid(z), with softplus(z) = max(z, 0) - log(max(h, 1 - h))
    (z - log h for z >= 0, -log(1 - h) below): one log of a number >= 1/2 per unit, where softplus costs an
    exp and a log1p."""
    larger = np.subtract(1.0, h)
    np.maximum(larger, h, out=larger)
    np.log(larger, out=larger)
    return float((np.sum(np.maximum(z, 0.0)) - np.sum(larger) - sum_of_products(Y, z)) / z.shape[0])


@dataclass
class CrossEntropy:
    """The course's cost: J = (1/m) sum_i sum_k [-y log h - (1 - y) log(1 - h)], h = sigmoid(z).

    Per unit this equals softplus(z) - y z. With sigmoid outputs, dJ_i/dz = h - y:
    the sigmoid's derivative cancels the log's, hence delta(L) = a(L) - y.
    """

    name: str = field(default="cross_entropy", init=False)

    def output(self, z):
        return sigmoid(z)

    def value(self, z, h, Y):
        return sigmoid_cross_entropy(z, h, Y)

    def row_costs(self, z, Y):
        return np.sum(softplus(z) - Y * z, axis=-1)

    def delta(self, z, h, Y):
        return h - Y


@dataclass
class MeanSquaredError:
    """J = (1/(2m)) sum_i sum_k (h - y)^2 with sigmoid outputs; delta(L) = (h - y) .* h .* (1 - h)."""

    name: str = field(default="mse", init=False)

    def output(self, z):
        return sigmoid(z)

    def value(self, z, h, Y):
        return float(0.5 * np.sum((h - Y) ** 2) / z.shape[0])

    def row_costs(self, z, Y):
        return 0.5 * np.sum((sigmoid(z) - Y) ** 2, axis=-1)

    def delta(self, z, h, Y):
        return (h - Y) * h * (1.0 - h)


@dataclass
class SoftmaxCrossEntropy:
    """Softmax outputs, J = -(1/m) sum_i sum_k y log h = (1/m) sum_i [logsumexp(z_i) - y_i . z_i].

    With one-hot targets dJ_i/dz = h - y, as for the sigmoid pair. For K = 1 (two
    classes) a single softmax unit would be constant, so two classes use the
    sigmoid form: h = sigmoid(z), identical to cross_entropy.
    """

    name: str = field(default="softmax_cross_entropy", init=False)

    def output(self, z):
        return sigmoid(z) if z.shape[1] == 1 else softmax(z)

    def value(self, z, h, Y):
        """logsumexp(z_i) = max_k z_ik - log max_k h_ik, for h = softmax(z): its largest output is
        exp(0) / sum_j exp(z_ij - max_k z_ik). One log per row, never of less than 1/K, where logsumexp
        itself costs K exps."""
        if z.shape[1] == 1:
            return sigmoid_cross_entropy(z, h, Y)
        log_sum_exp = row_max(z) - np.log(row_max(h))
        return float((np.sum(log_sum_exp) - sum_of_products(Y, z)) / z.shape[0])

    def row_costs(self, z, Y):
        """logsumexp(z_i) - y_i . z_i per row, for z with any leading axes."""
        if z.shape[-1] == 1:
            return np.sum(softplus(z) - Y * z, axis=-1)
        z_max = np.max(z, axis=-1)
        log_sum_exp = z_max + np.log(np.sum(np.exp(z - z_max[..., None]), axis=-1))
        return log_sum_exp - np.sum(Y * z, axis=-1)

    def delta(self, z, h, Y):
        return h - Y
