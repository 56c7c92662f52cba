"""Central differences of a network's J(Theta), many coordinates at a time.

num_k = (J(Theta + eps e_k) - J(Theta - eps e_k)) / (2 eps), the numbers the naive loop of 2P
evaluations of J gives, without recomputing what a weight does not change. Perturbing
Theta(l)[i, j] by s = +-eps changes only unit i of layer l+1, in row r by

    t_r = g(z(l+1)[r, i] + s [1, a(l)][r, j]) - a(l+1)[r, i]      (t_r = s [1, a(l)][r, j] for the output layer)

and all that follows is a function of that one number per row: z(l+2)[r] += t_r Theta(l+1)[:, 1+i],
the later layers are recomputed, and row r's cost changes by f_r(t_r). All j of one unit (l, i),
both signs, share the same f_r, so the 2 (s_l + 1) perturbations of a unit are costed together:

- interpolated, when g and the cost are smooth: f_r is evaluated exactly (by the cost plugin's
  row_costs) at a few points of [-T_r, T_r], T_r = max |t_r|, and its interpolating polynomial
  gives f_r(t_r) for every perturbation (runner.core.interpolation: exact up to rounding for an
  analytic f_r, and checked at both ends; a row block that fails the check is done directly);
- directly: f_r(t_r) evaluated for every perturbation (ReLU downstream, or few perturbations);
- through cost.value on all rows, for a cost plugin without row_costs.

The penalty's difference is the regularization plugin's own (weight_penalty elementwise, or its
penalty twice per coordinate). Symbols as in runner.core.protocols.
"""
from __future__ import annotations

import numpy as np

from runner.core import interpolation
from runner.core.activations import ACTIVATIONS
from runner.core.network import unroll
from runner.core.protocols import RowCosts, Weights, WeightPenalty

ROWS = 256  # rows per block: a unit's (2 (s_l + 1), ROWS) arrays stay in the L2 cache
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
        S = net.cost_changes(l, i, j_of[where], eps)
        num[where] += (S[: where.size] - S[where.size :]) / (2 * eps * net.m)
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

    def cost_changes(self, l: int, i: int, j: np.ndarray, eps: float) -> np.ndarray:
        """S_n = m * (J_n - J) over the checked rows, for s = +eps at each j, then s = -eps."""
        if self.base is None:
            return self._by_value(l, i, self.unit_changes(l, i, j, eps, slice(None)))
        smooth = l + 2 >= self.L or any(self.g is g for g in SMOOTH)
        S = np.zeros(2 * j.size)
        for start in range(0, self.m, ROWS):
            rows = slice(start, min(start + ROWS, self.m))
            t = self.unit_changes(l, i, j, eps, rows)
            interpolated = self._interpolated(l, i, t, rows) if smooth and len(t) > len(interpolation.POINTS) else None
            S += self._direct(l, i, t, rows) if interpolated is None else interpolated
        return S

    def unit_changes(self, l: int, i: int, j: np.ndarray, eps: float, rows: slice) -> np.ndarray:
        """t (shape (2 len(j), rows)): the change of unit i of layer l+1 (of its z at the output layer)."""
        t = np.empty((2 * j.size, self.inputs[l][0, rows].size))
        np.multiply(self.inputs[l][j, rows], eps, out=t[: j.size])
        np.negative(t[: j.size], out=t[j.size :])
        if l + 1 == self.L:
            return t
        t += self.z[l + 1][rows, i]
        return self.g.g(t) - self.a[l + 1][rows, i]

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

    def _interpolated(self, l, i, t, rows) -> np.ndarray | None:
        """sum_r f_r(t[n, r]) from each f_r's polynomial on [-T_r, T_r]; None where the polynomial is off."""
        reach = np.abs(t).max(axis=0)
        moved = reach > 0
        reach[~moved] = 1.0
        f = self.row_changes(l, i, interpolation.POINTS[:, None] * reach, rows)
        f[:, ~moved] = 0.0  # a row no perturbation moves keeps its cost exactly
        c = interpolation.fit(f, self.base[rows])
        return None if c is None else interpolation.sums(c, t / reach)

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
