"""Central differences of a network's J(Theta), many coordinates at a time.

num_k = (J(Theta + eps e_k) - J(Theta - eps e_k)) / (2 eps), the numbers the naive loop of 2P
evaluations of J gives, without recomputing what a weight does not change. Perturbing
Theta(l)[i, j] by +-eps moves only z(l+1)[r, i], by v = +-eps [1, a(l)][r, j] in row r, and all
that follows is a function of that one number: a(l+1)[r, i] = g(z + v) (z itself at the output
layer), z(l+2)[r] += (g(z + v) - g(z)) Theta(l+1)[:, 1+i], the later layers recomputed, and row r's
cost changes by F_r(v). All j of one unit (l, i), both signs, share the same F_r, so:

- interpolated, when g and the cost are smooth: F_r is evaluated exactly (by the cost plugin's
  row_costs) at a few points of [-V_r, V_r], V_r = eps max_j |[1, a(l)][r, j]|, and its
  interpolating polynomial p_r gives F_r(v) - F_r(-v) = p_r(v) - p_r(-v), its odd terms twice
  (runner.core.interpolation: exact up to rounding for an analytic F_r, and checked at both
  ends; a block of rows that fails the check is done directly);
- directly: F_r evaluated at every +-v (ReLU, or few perturbations of the unit);
- through cost.value on all rows, for a cost plugin without row_costs.

The penalty's difference is the regularization plugin's own (weight_penalty elementwise, or its
penalty twice per coordinate). Symbols as in runner.core.protocols.
"""
from __future__ import annotations

import numpy as np

from runner.core import interpolation
from runner.core.activations import ACTIVATIONS
from runner.core.interpolation import POINTS
from runner.core.network import unroll
from runner.core.protocols import RowCosts, Weights, WeightPenalty

ROWS = 384  # rows per block: a unit's (s_l + 1, ROWS) arrays stay in the L2 cache
MAX_ELEMENTS = 1 << 17  # of one stacked (n, ROWS, width) array: 1 MB in float64
SMOOTH = (ACTIVATIONS["sigmoid"], ACTIVATIONS["tanh"])


def locate(k: np.ndarray, shapes: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer l, row i and column j of unrolled coordinates k (layer by layer, row-major)."""
    ends = np.cumsum([r * c for r, c in shapes])
    l = np.searchsorted(ends, k, side="right")
    within = k - np.concatenate([[0], ends])[l]
    cols = np.array([c for _, c in shapes])[l]
    return l, within // cols, within % cols


def central_differences(objective, Theta: Weights, coords: np.ndarray, eps: float,
                        rows: slice | None = None) -> np.ndarray:
    """num_k for the unrolled coordinates `coords` of J on the given rows (penalty over the full m)."""
    net = CachedNetwork(objective, Theta, rows)
    num = penalty_differences(objective.regularization, net.Theta, coords, eps, objective.m)
    l_of, i_of, j_of = locate(coords, [T.shape for T in net.Theta])
    for l, i in sorted(set(zip(l_of.tolist(), i_of.tolist()))):
        where = np.flatnonzero((l_of == l) & (i_of == i))
        num[where] += net.cost_changes(l, i, j_of[where], eps) / (2 * eps * net.m)
    return num


def penalty_differences(regularization, Theta: Weights, coords: np.ndarray, eps: float, m: int) -> np.ndarray:
    """(penalty(Theta + eps e_k) - penalty(Theta - eps e_k)) / (2 eps) for each coordinate k."""
    if isinstance(regularization, WeightPenalty):  # phi(w + eps) - phi(w - eps) of the one weight; 0 for a bias
        w, (_, _, j) = unroll(Theta)[coords], locate(coords, [T.shape for T in Theta])
        phi = regularization.weight_penalty
        return np.where(j > 0, (phi(w + eps, m) - phi(w - eps, m)) / (2 * eps), 0.0)
    flat = [T.reshape(-1) for T in Theta]  # views: writing a coordinate writes Theta
    ends = np.cumsum([T.size for T in Theta])
    out = np.empty(coords.size)
    for n, k in enumerate(coords.tolist()):
        l = int(np.searchsorted(ends, k, side="right"))
        within = k - (int(ends[l - 1]) if l else 0)
        saved = flat[l][within]
        flat[l][within] = saved + eps
        plus = regularization.penalty(Theta, m)
        flat[l][within] = saved - eps
        out[n] = (plus - regularization.penalty(Theta, m)) / (2 * eps)
        flat[l][within] = saved
    return out


class CachedNetwork:
    """One float64 forward pass on the checked rows, and the cost of networks that differ from it in one unit."""

    def __init__(self, objective, Theta: Weights, rows: slice | None):
        X, Y = (objective.X, objective.Y) if rows is None else (objective.X[rows], objective.Y[rows])
        self.g, self.cost, self.Y = objective.activation, objective.cost, np.asarray(Y, dtype=np.float64)
        self.Theta = [np.array(T, dtype=np.float64) for T in Theta]  # own copies: the penalty's are perturbed
        self.m, self.L = X.shape[0], len(self.Theta)
        self.a, self.z = [np.asarray(X, dtype=np.float64)], [None]
        for l, T in enumerate(self.Theta):
            self.z.append(self.a[-1] @ T[:, 1:].T + T[:, 0])
            self.a.append(self.g.g(self.z[-1]) if l < self.L - 1 else self.cost.output(self.z[-1]))
        self.inputs = [np.vstack([np.ones(self.m), a.T]) for a in self.a[:-1]]  # [1, a(l)]^T, row j = column j
        self.width = max(T.shape[0] for T in self.Theta)
        self.base = self.cost.row_costs(self.z[-1], self.Y) if isinstance(self.cost, RowCosts) else None
        self._scaled = {}  # _scaled_inputs by (layer, first row, j)

    def cost_changes(self, l: int, i: int, j: np.ndarray, eps: float) -> np.ndarray:
        """m (J(+eps at j) - J(-eps at j)) over the checked rows, for each j of unit (l, i)."""
        if self.base is None:
            S = self._by_value(l, i, self.unit_changes(l, i, j, eps, slice(None)))
            return S[: j.size] - S[j.size :]
        smooth = l + 1 == self.L or any(self.g is g for g in SMOOTH)
        D = np.zeros(j.size)
        for start in range(0, self.m, ROWS):
            rows = slice(start, min(start + ROWS, self.m))
            fitted = self._interpolated(l, i, j, eps, rows) if smooth and 2 * j.size > len(POINTS) else None
            if fitted is None:
                S = self._direct(l, i, self.unit_changes(l, i, j, eps, rows), rows)
                fitted = S[: j.size] - S[j.size :]
            D += fitted
        return D

    def unit_changes(self, l: int, i: int, j: np.ndarray, eps: float, rows: slice) -> np.ndarray:
        """t (shape (2 len(j), rows)): the change of unit i of layer l+1 (of its z at the output layer)."""
        t = np.empty((2 * j.size, self.inputs[l][0, rows].size))
        np.multiply(self.inputs[l][j, rows], eps, out=t[: j.size])
        np.negative(t[: j.size], out=t[j.size :])
        return self.activation_changes(l, i, t, rows)

    def activation_changes(self, l: int, i: int, v: np.ndarray, rows: slice) -> np.ndarray:
        """g(z(l+1)[rows, i] + v) - a(l+1)[rows, i]; v itself at the output layer, whose z the cost takes."""
        if l + 1 == self.L:
            return v
        return self.g.g(v + self.z[l + 1][rows, i]) - self.a[l + 1][rows, i]

    def outputs(self, l: int, i: int, t: np.ndarray, rows: slice) -> np.ndarray:
        """z(L) of the given rows when unit i of layer l+1 changes by t (shape (n, rows)): shape (n, rows, K)."""
        if l + 1 == self.L:
            Z = np.repeat(self.z[-1][None, rows], t.shape[0], axis=0)
            Z[:, :, i] += t
            return Z
        Z = self.z[l + 2][rows] + t[:, :, None] * self.Theta[l + 1][:, 1 + i]
        for k in range(l + 2, self.L):
            Z = self.g.g(Z) @ self.Theta[k][:, 1:].T + self.Theta[k][:, 0]
        return Z

    def row_changes(self, l: int, i: int, t: np.ndarray, rows: slice) -> np.ndarray:
        """f_r(t[n, r]): each row's change of cost, shape (n, rows)."""
        return self.cost.row_costs(self.outputs(l, i, t, rows), self.Y[rows]) - self.base[rows]

    def _interpolated(self, l, i, j, eps, rows) -> np.ndarray | None:
        """sum_r F_r(v) - F_r(-v) for v = eps [1, a(l)][r, j], from each F_r's polynomial; None where one is off."""
        scaled, reach, moved = self._scaled_inputs(l, j, rows)
        v = (eps * POINTS[:, None]) * reach
        F = self.row_changes(l, i, self.activation_changes(l, i, v, rows), rows)
        F[:, ~moved] = 0.0  # a row no perturbation moves keeps its cost exactly
        c = interpolation.fit(F, self.base[rows])
        return None if c is None else interpolation.odd_differences(c, scaled)

    def _scaled_inputs(self, l, j, rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """[1, a(l)][rows, j]^T divided by each row's largest |entry| (the reach), the reach, and where it is > 0.

        The same for every unit of layer l+1: made once per layer, row block and set of j."""
        key = (l, rows.start, j.tobytes())
        if key not in self._scaled:
            inputs = self.inputs[l][j, rows]
            reach = np.abs(inputs).max(axis=0)
            moved = reach > 0
            reach[~moved] = 1.0
            self._scaled[key] = (inputs / reach, reach, moved)
        return self._scaled[key]

    def _direct(self, l, i, t, rows) -> np.ndarray:
        """sum_r f_r(t[n, r]), every perturbation evaluated."""
        n = max(1, MAX_ELEMENTS // (t.shape[1] * self.width))
        return np.concatenate([self.row_changes(l, i, t[s : s + n], rows).sum(axis=1) for s in range(0, len(t), n)])

    def _by_value(self, l, i, t) -> np.ndarray:
        """m * cost.value of each perturbed network on all rows (t over all rows)."""
        n = max(1, MAX_ELEMENTS // (self.m * self.width))
        S = []
        for s in range(0, len(t), n):
            Z = self.outputs(l, i, t[s : s + n], slice(None))
            h = self.cost.output(Z.reshape(-1, Z.shape[-1])).reshape(Z.shape)  # row-wise outputs: blocks stack as rows
            S.extend(self.m * self.cost.value(Z[b], h[b], self.Y) for b in range(len(Z)))
        return np.array(S)
