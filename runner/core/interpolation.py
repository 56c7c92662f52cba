"""Polynomial interpolation of many smooth functions of one variable at once, at Chebyshev points.

A function f on [-1, 1] sampled at the NODES Chebyshev points x_q = cos(pi (q + 1/2) / NODES)
has one interpolating polynomial p(x) = sum_k c_k x^k of degree NODES - 1, c = V^-1 f(x_q) with
V the Vandermonde matrix of the x_q. By the Chebyshev bound

    |f(x) - p(x)| <= max |f^(NODES)| / (2^(NODES - 1) NODES!)

so for an f analytic well beyond [-1, 1] (a cost moved by a tiny step) p is f up to rounding.
Each column of an array is one function. Both ends x = +-1 are sampled as well, and a fit
whose ends miss f by more than rounding is refused: a kink or a jump cannot pass for smooth.
"""
from __future__ import annotations

import numpy as np

NODES = 6
POINTS = np.concatenate([np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES), [1.0, -1.0]])
"""Where to sample each function: the NODES Chebyshev points, then the two ends."""

_TO_COEFFICIENTS = np.linalg.inv(np.vander(POINTS[:NODES], NODES, increasing=True))
_AT_MINUS_ONE = (-1.0) ** np.arange(NODES)


def fit(f: np.ndarray, scale: np.ndarray, rtol: float = 1e-9, atol: float = 1e-13) -> np.ndarray | None:
    """c of shape (NODES, n): the coefficients of each column of f (f sampled at POINTS, shape (NODES + 2, n)).

    None when some column's p(+-1) differs from its sampled f(+-1) by more than
    rtol |f(+-1)| + atol (1 + |scale|), scale being the size of the numbers f was computed from
    (the rounding of a difference of two costs is relative to the costs, not to the difference).
    """
    c = _TO_COEFFICIENTS @ f[:NODES]
    ends = np.stack([c.sum(axis=0), _AT_MINUS_ONE @ c])
    tolerance = rtol * np.abs(f[NODES:]) + atol * (1.0 + np.abs(scale))
    return None if np.any(np.abs(ends - f[NODES:]) > tolerance) else c


def odd_differences(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """sum_r p_r(x[n, r]) - p_r(-x[n, r]) = 2 sum_r sum_{k odd} c[k, r] x[n, r]^k, for each row n of x."""
    square = x * x
    power = x.copy()
    total = power @ c[1]
    for k in range(3, NODES, 2):
        power *= square
        total += power @ c[k]
    return 2.0 * total
