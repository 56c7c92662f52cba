"""Forward propagation, backpropagation and J(Theta) of a fully connected network.

Symbols are those of `runner.core.protocols`. Samples are rows, so the course's
column-vector formulas appear transposed: z(l+1) = a(l) Theta(l)^T with the bias
unit handled as Theta[l][:, 0] added to every row (no column of ones is built).
`NetworkObjective` computes the same J and D in `runner.core.workspace`'s buffers,
where samples are columns as in the course; `forward` and `backprop` stay the plain
reference (and `forward` serves `predict`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from runner.core.activations import Activation
from runner.core.protocols import Cost, Regularization, Weights
from runner.core.workspace import Workspace


def theta_shapes(layer_sizes: list[int]) -> list[tuple[int, int]]:
    """Shapes of Theta: (s_{l+1}, s_l + 1) for each pair of consecutive layers."""
    return [(s_out, s_in + 1) for s_in, s_out in zip(layer_sizes[:-1], layer_sizes[1:])]


def unroll(Theta: Weights) -> np.ndarray:
    """All of Theta as one vector, layer by layer, each matrix in row-major order."""
    return np.concatenate([T.ravel() for T in Theta])


def roll(theta: np.ndarray, shapes: list[tuple[int, int]]) -> Weights:
    """The inverse of `unroll`: views of theta reshaped to the given Theta shapes."""
    sizes = [r * c for r, c in shapes]
    if theta.size != sum(sizes):
        raise ValueError(f"vector of {theta.size} weights does not fit shapes {shapes}")
    ends = np.cumsum(sizes)
    return [theta[end - size : end].reshape(shape) for end, size, shape in zip(ends, sizes, shapes)]


def one_hot(y: np.ndarray, K: int) -> np.ndarray:
    """Targets Y of shape (m, K): row i has a 1 in column y_i; for K = 1 the column is y itself."""
    if K == 1:
        return y.reshape(-1, 1).astype(float)
    Y = np.zeros((y.size, K))
    Y[np.arange(y.size), y] = 1.0
    return Y


def forward(Theta: Weights, X: np.ndarray, g: Activation, cost: Cost) -> tuple[list[np.ndarray], np.ndarray]:
    """Forward propagation: a(1) = X, a(l+1) = g(z(l+1)), z(l+1) = a(l) Theta(l)^T.

    The last layer uses the cost's output function (sigmoid or softmax).
    Returns the activations [a(1), ..., a(L)] (a(L) = h) and z(L).
    """
    a = [X]
    for l, T in enumerate(Theta):
        z = a[-1] @ T[:, 1:].T
        z += T[:, 0]
        a.append(cost.output(z) if l == len(Theta) - 1 else g.g(z))
    return a, z


def backprop(Theta: Weights, a: list[np.ndarray], delta_L: np.ndarray, g: Activation) -> Weights:
    """Unregularized gradients D(l) = Delta(l) / m from the activations and delta(L).

    delta(l) = (delta(l+1) Theta(l))[:, 1:] .* g'(z(l))   (bias column dropped),
    Delta(l) = delta(l+1)^T [1, a(l)], summed over the m rows at once.
    """
    m = a[0].shape[0]
    D = [np.empty_like(T) for T in Theta]
    delta = delta_L
    for l in range(len(Theta) - 1, -1, -1):
        D[l][:, 0] = delta.sum(axis=0)
        D[l][:, 1:] = delta.T @ a[l]  # matmul into a strided view would bypass BLAS
        D[l] /= m
        if l > 0:
            delta = (delta @ Theta[l][:, 1:]) * g.gradient(a[l])
    return D


@dataclass
class NetworkObjective:
    """J(Theta) = cost over the training set + regularization penalty, and its gradient D.

    Computed in `Workspace` buffers kept per batch size (the whole set, a mini-batch, its
    last shorter batch), in X's dtype; `forward` and `backprop` above are the plain
    formulas the workspace is tested against.
    """

    X: np.ndarray
    Y: np.ndarray
    activation: Activation
    cost: Cost
    regularization: Regularization
    _workspaces: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def m(self) -> int:
        return int(self.X.shape[0])

    def value(self, Theta: Weights, rows: slice | np.ndarray | None = None) -> float:
        """J(Theta) on the given rows; the penalty always divides by the full m."""
        workspace, Y = self._prepare(Theta, rows)
        Theta = workspace.cast(Theta)
        z, h = workspace.forward(Theta, self.activation, self.cost)
        return float(self.cost.value(z, h, Y) + self.regularization.penalty(Theta, self.m))

    def data_cost(self, Theta: Weights) -> float:
        """The data term alone on all rows, J(Theta) with lambda = 0: the course's training error J_train,
        which its learning and validation curves plot against the validation error."""
        workspace, Y = self._prepare(Theta, None)
        Theta = workspace.cast(Theta)
        z, h = workspace.forward(Theta, self.activation, self.cost)
        return float(self.cost.value(z, h, Y))

    def value_and_accuracy(self, Theta: Weights, y: np.ndarray) -> tuple[float, float]:
        """J(Theta) on all rows and the fraction of them whose predicted label equals y, from one forward pass."""
        workspace, Y = self._prepare(Theta, None)
        Theta = workspace.cast(Theta)
        z, h = workspace.forward(Theta, self.activation, self.cost)
        J = self.cost.value(z, h, Y) + self.regularization.penalty(Theta, self.m)
        return float(J), float(np.mean(labels(h) == y))

    def value_and_gradient(self, Theta: Weights, rows: slice | np.ndarray | None = None) -> tuple[float, Weights]:
        """J and D(l) = Delta(l)/m_rows + d penalty/d Theta(l) (bias columns excluded)."""
        workspace, Y = self._prepare(Theta, rows)
        Theta = workspace.cast(Theta)
        z, h = workspace.forward(Theta, self.activation, self.cost)
        J = self.cost.value(z, h, Y) + self.regularization.penalty(Theta, self.m)
        D = workspace.backprop(Theta, self.cost.delta(z, h, Y), self.activation)
        self.regularization.add_gradient(D, Theta, self.m)
        return float(J), D

    def gradient(self, Theta: Weights, rows: slice | np.ndarray | None = None) -> Weights:
        """D alone, as `value_and_gradient` computes it, without summing J: a first-order step never reads J.

        The arrays are this objective's own, overwritten by its next `gradient` on as many rows: a step
        uses them at once (value_and_gradient's are new arrays, the caller's).
        """
        workspace, Y = self._prepare(Theta, rows)
        Theta = workspace.cast(Theta)
        z, h = workspace.forward(Theta, self.activation, self.cost)
        D = workspace.backprop(Theta, self.cost.delta(z, h, Y), self.activation, reuse=True)
        self.regularization.add_gradient(D, Theta, self.m)
        return D

    def in_float64(self) -> "NetworkObjective":
        """The same J in float64 (itself when it already is): central differences divide by eps."""
        if self.X.dtype == np.float64 and self.Y.dtype == np.float64:
            return self
        return NetworkObjective(self.X.astype(np.float64), self.Y.astype(np.float64), self.activation,
                                self.cost, self.regularization)

    def _prepare(self, Theta: Weights, rows) -> tuple[Workspace, np.ndarray]:
        """The workspace for these rows and Theta's layers, its A(0) holding the rows of X; and their Y.

        The whole set's workspace copies X once, when it is made; a batch's rows are copied in each call.
        """
        sizes = [T.shape[1] - 1 for T in Theta] + [Theta[-1].shape[0]]
        if rows is None:
            key = ("all", id(self.X), id(self.Y), *sizes)
            if key not in self._workspaces:
                self._workspaces[key] = Workspace(sizes, self.m, self.X.dtype, self.X, self.Y)
            return self._workspaces[key], self._workspaces[key].Y
        X, Y = self.X[rows], self.Y[rows]
        key = (X.shape[0], *sizes)
        if key not in self._workspaces:
            if len(self._workspaces) >= 4:  # a run needs three at most: all rows, a batch, the last batch
                self._workspaces.clear()
            self._workspaces[key] = Workspace(sizes, X.shape[0], self.X.dtype)
        self._workspaces[key].load(X, Y)
        return self._workspaces[key], self._workspaces[key].Y


def labels(h: np.ndarray) -> np.ndarray:
    """Class labels from the hypothesis h (m, K): argmax over the K outputs, or h >= 0.5 when K = 1."""
    if h.shape[1] == 1:
        return (h[:, 0] >= 0.5).astype(int)
    return np.argmax(h, axis=1)


def predict(Theta: Weights, X: np.ndarray, g: Activation, cost: Cost) -> np.ndarray:
    """Class labels of the rows of X."""
    return labels(forward(Theta, X, g, cost)[0][-1])


def rms(D: Weights) -> list[float]:
    """Each matrix's root mean square, sqrt(mean of D(l)_ij^2): one number per layer that compares
    layers of different sizes (vanishing gradients show as a small rms in the first layers)."""
    return [float(np.sqrt(np.mean(np.square(D_l, dtype=np.float64)))) for D_l in D]


def confusion_matrix(y: np.ndarray, predicted: np.ndarray, K: int) -> np.ndarray:
    """C of shape (K, K): C[i, j] = the number of samples of class i predicted as class j
    (the diagonal holds the correct ones; row i sums to class i's count)."""
    return np.bincount(K * np.asarray(y) + np.asarray(predicted), minlength=K * K).reshape(K, K)


def class_scores(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per class k of a confusion matrix C: precision C[k, k] / sum_i C[i, k], recall C[k, k] / sum_j C[k, j],
    F1 = 2 P R / (P + R) and support sum_j C[k, j]; a score whose denominator is 0 is 0 (as scikit-learn's
    zero_division=0 gives it)."""
    C = np.asarray(counts, dtype=float)
    correct, predicted, support = np.diag(C), C.sum(axis=0), C.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros_like(correct), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(correct), where=precision + recall > 0)
    return precision, recall, f1, support.astype(int)


def macro_f1(counts: np.ndarray) -> float:
    """The mean F1 over the classes that occur, as true or as predicted labels (scikit-learn's f1_score
    with average='macro'): every class weighs the same, however rare."""
    C = np.asarray(counts)
    occurring = (C.sum(axis=0) + C.sum(axis=1)) > 0
    return float(np.mean(class_scores(C)[2][occurring]))


def accuracy(Theta: Weights, X: np.ndarray, y: np.ndarray, g: Activation, cost: Cost) -> float:
    """Fraction of samples whose predicted label equals y."""
    return float(np.mean(predict(Theta, X, g, cost) == y))
