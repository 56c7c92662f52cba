"""Forward and backpropagation in preallocated buffers, for a fixed number of rows n.

The formulas of `runner.core.network.forward` and `backprop` (symbols of
`runner.core.protocols`; layers counted from 0), in the course's own layout: samples
are columns, and each a(l) is stored with its bias unit, as A(l) = [1; a(l)^T] of shape
(s_l + 1, n). Then every product writes a contiguous buffer and the bias needs no
separate step:

    z(l+1)^T = Theta(l) A(l)                 (into the rows 1.. of A(l+1), then g in place)
    D(l)     = delta(l+1)^T A(l)^T / n       (bias column included)
    delta(l)^T = Theta(l)[:, 1:]^T delta(l+1)^T .* g'(z(l))

A(0) is X^T with its row of ones: for the whole training set it is copied once, when the
workspace is made, and never again; a batch's rows are copied into it. Every buffer has
X's dtype, and Theta is cast to it (a no-op when it matches), so float32 stays float32.
The cost plugin sees z(L) and h as (n, K) views, as everywhere else, and Y as one too: Y^T
is held like X^T, so that h - Y and the sum of Y .* z read both in the same order.
"""
from __future__ import annotations

import numpy as np

from runner.core.activations import ACTIVATIONS, Activation
from runner.core.protocols import Cost, Weights


def activate_in_place(g: Activation, a: np.ndarray) -> None:
    """a := g(a), for a holding z on entry (the sigmoid as runner.core.activations.sigmoid, in place)."""
    if g is ACTIVATIONS["sigmoid"]:
        with np.errstate(over="ignore"):  # exp(-z) = inf where g(z) < 1e-308: 1 / inf = 0 is right
            np.negative(a, out=a)
            np.exp(a, out=a)
        a += 1.0
        np.divide(1.0, a, out=a)  # np.reciprocal(a)'s numbers at twice its speed, as in activations.sigmoid
    elif g is ACTIVATIONS["tanh"]:
        np.tanh(a, out=a)
    elif g is ACTIVATIONS["relu"]:
        np.maximum(a, 0.0, out=a)
    else:  # an activation of one's own: its own (allocating) functions
        a[...] = g.g(a)


def gradient_into(g: Activation, a: np.ndarray, out: np.ndarray) -> None:
    """out := g'(z) written in terms of a = g(z) (a(1 - a), 1 - a^2, or [a > 0])."""
    if g is ACTIVATIONS["sigmoid"]:
        np.subtract(1.0, a, out=out)
        out *= a
    elif g is ACTIVATIONS["tanh"]:
        np.multiply(a, a, out=out)
        np.subtract(1.0, out, out=out)
    elif g is ACTIVATIONS["relu"]:
        np.greater(a, 0.0, out=out)
    else:
        out[...] = g.gradient(a)


class Workspace:
    """Buffers for n samples through a network of layer sizes [s_1, ..., s_L]; X and Y given: A(0) and Y^T
    hold them, once."""

    def __init__(self, layer_sizes: list[int], n: int, dtype, X: np.ndarray | None = None,
                 Y: np.ndarray | None = None):
        self.dtype = np.dtype(dtype)
        self.A = [np.empty((s + 1, n), self.dtype) for s in layer_sizes[:-1]]
        for A in self.A:
            A[0] = 1.0
        self.z_L = np.empty((layer_sizes[-1], n), self.dtype)  # z(L)^T
        self.Y_T: np.ndarray | None = None  # Y^T, in Y's dtype
        if X is not None:
            self.load(X, Y)
        self.delta = [np.empty((s, n), self.dtype) for s in layer_sizes[1:-1]]  # delta(l)^T, hidden l
        self.g_prime = [np.empty_like(d) for d in self.delta]
        self.D: Weights | None = None  # backprop(reuse=True)'s gradients, made at its first call

    def load(self, X_rows: np.ndarray, Y_rows: np.ndarray | None = None) -> None:
        """Copy a batch's rows of X into A(0), and of Y into Y^T."""
        self.A[0][1:] = X_rows.T
        if Y_rows is not None:
            if self.Y_T is None:
                self.Y_T = np.empty(Y_rows.T.shape, Y_rows.dtype)
            self.Y_T[...] = Y_rows.T

    @property
    def Y(self) -> np.ndarray:
        """The loaded rows of Y, (n, K): a view of Y^T."""
        return self.Y_T.T

    def cast(self, Theta: Weights) -> Weights:
        """Theta in the workspace's dtype (the same arrays when they already are)."""
        return [T if T.dtype == self.dtype else T.astype(self.dtype) for T in Theta]

    def forward(self, Theta: Weights, g: Activation, cost: Cost) -> tuple[np.ndarray, np.ndarray]:
        """z(l+1)^T = Theta(l) A(l), a(l+1) = g(z(l+1)) for hidden layers; returns z(L) and h = cost.output(z(L)),
        both (n, K)."""
        for l, T in enumerate(Theta):
            out = self.A[l + 1][1:] if l + 1 < len(self.A) else self.z_L
            np.matmul(T, self.A[l], out=out)
            if out is not self.z_L:
                activate_in_place(g, out)
        z = self.z_L.T
        return z, cost.output(z)

    def backprop(self, Theta: Weights, delta_L: np.ndarray, g: Activation, reuse: bool = False) -> Weights:
        """D(l) = delta(l+1)^T A(l)^T / n from delta(L) (shape (n, K)); D is new arrays, the caller's,
        or with reuse=True the workspace's own, overwritten by its next backprop(reuse=True)."""
        n = self.z_L.shape[1]
        if not reuse:
            D = [np.empty_like(T) for T in Theta]
        else:  # a fresh 100 x 400 array each step costs page faults: a quarter of a mini-batch step
            if self.D is None:
                self.D = [np.empty_like(T) for T in Theta]
            D = self.D
        delta = delta_L.T
        for l in range(len(Theta) - 1, -1, -1):
            np.matmul(delta, self.A[l].T, out=D[l])
            D[l] /= n
            if l > 0:
                below = self.delta[l - 1]
                np.matmul(Theta[l][:, 1:].T, delta, out=below)
                gradient_into(g, self.A[l][1:], self.g_prime[l - 1])
                below *= self.g_prime[l - 1]
                delta = below
        return D
