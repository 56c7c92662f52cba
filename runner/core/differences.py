"""Central differences of a network's J(Theta), many coordinates at a time.

num_k = (J(Theta + eps e_k) - J(Theta - eps e_k)) / (2 eps), as the naive loop of 2P
evaluations of J computes it, but without repeating what a weight does not change.
Perturbing Theta(l)[i, j] changes only unit i of layer l+1:

    z(l+1)[:, i] += eps * [1, a(l)][:, j]                 (a column of the cached forward pass)
    z(l+2)       += (g(z(l+1)[:, i]) - a(l+1)[:, i]) Theta(l+1)[:, 1+i]^T     (rank one)

and only the layers after l+2 are recomputed in full. The forward pass is cached once;
all j of one row i, both signs, are stacked on a leading axis and go through at once.
The cost plugin still evaluates every perturbed network (its value and output, on
each stacked block), and the penalty's difference is the regularization plugin's own,
so this checks the same J as the naive loop. Symbols as in runner.core.protocols.
"""
from __future__ import annotations

import numpy as np

from runner.core.protocols import Weights

MAX_ELEMENTS = 1 << 17  # of one stacked (2B, m, s) array: 1 MB in float64, within the L2 cache


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
    X, Y = (objective.X, objective.Y) if rows is None else (objective.X[rows], objective.Y[rows])
    g, cost = objective.activation, objective.cost
    Theta = [np.array(T, dtype=np.float64) for T in Theta]  # own copies: the penalty's are perturbed
    a, z = [X], [None]
    for l, T in enumerate(Theta):
        z.append(a[-1] @ T[:, 1:].T + T[:, 0])
        a.append(g.g(z[-1]) if l < len(Theta) - 1 else cost.output(z[-1]))
    num = _penalty_differences(objective, Theta, coords, eps)
    l_of, i_of, j_of = locate(coords, [T.shape for T in Theta])
    widest = max(T.shape[0] for T in Theta)
    for l, i in sorted(set(zip(l_of.tolist(), i_of.tolist()))):
        where = np.flatnonzero((l_of == l) & (i_of == i))
        step = max(1, MAX_ELEMENTS // (2 * X.shape[0] * widest))
        for chunk in np.array_split(where, -(-where.size // step)):
            j = j_of[chunk]
            column = np.where(j[:, None] == 0, 1.0, a[l][:, np.maximum(j - 1, 0)].T)  # [1, a(l)][:, j]^T
            z_i = z[l + 1][:, i] + np.concatenate([eps * column, -eps * column])
            J = _data_costs(Theta, a, z, l, i, z_i, Y, g, cost)
            num[chunk] += (J[: j.size] - J[j.size :]) / (2 * eps)
    return num


def _data_costs(Theta, a, z, l, i, z_i, Y, g, cost) -> np.ndarray:
    """cost.value of each network whose z(l+1)[:, i] is a row of z_i (shape (n, m))."""
    n, m = z_i.shape
    L = len(Theta)
    if l + 1 == L:
        Z = np.repeat(z[L][None], n, axis=0)
        Z[:, :, i] = z_i
    else:
        change = g.g(z_i) - a[l + 1][:, i]
        Z = z[l + 2] + change[:, :, None] * Theta[l + 1][:, 1 + i]
        for k in range(l + 2, L):
            Z = g.g(Z) @ Theta[k][:, 1:].T + Theta[k][:, 0]
    h = cost.output(Z.reshape(n * m, -1)).reshape(Z.shape)  # row-wise outputs: blocks stack as rows
    return np.array([cost.value(Z[b], h[b], Y) for b in range(n)])


def _penalty_differences(objective, Theta: Weights, coords: np.ndarray, eps: float) -> np.ndarray:
    """(penalty(Theta + eps e_k) - penalty(Theta - eps e_k)) / (2 eps), by the regularization plugin."""
    penalty, m = objective.regularization.penalty, objective.m
    flat = [T.reshape(-1) for T in Theta]  # views: writing a coordinate writes Theta
    ends = np.cumsum([T.size for T in Theta])
    out = np.empty(coords.size)
    for n, k in enumerate(coords.tolist()):
        l = int(np.searchsorted(ends, k, side="right"))
        within = k - (int(ends[l - 1]) if l else 0)
        saved = flat[l][within]
        flat[l][within] = saved + eps
        plus = penalty(Theta, m)
        flat[l][within] = saved - eps
        minus = penalty(Theta, m)
        flat[l][within] = saved
        out[n] = (plus - minus) / (2 * eps)
    return out
