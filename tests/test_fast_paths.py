"""The fast paths compute the same numbers as the reference paths (nothing here is timed):
the workspace's in-place full batch against the plain forward/backprop formulas, the
compiled (numba) SGD and mini-batch epochs against the numpy loop on the same seed,
the batched central differences against the naive loop, float32 against float64, and
the run's BLAS thread limit and dtype setting.
"""
from __future__ import annotations

import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import random_problem

from plugins.costs import CrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from plugins.optimizers import CG, COMPILED_BATCH_WORK, LBFGS, SGD, BatchGD, MiniBatch
from plugins.regularization import L1, L2, NoRegularization
from runner.blas import SMALL_PRODUCT, largest_product, limit_blas_threads
from runner.core.activations import Activation, get_activation, sigmoid
from runner.core import interpolation
from runner.core.differences import central_differences, locate
from runner.core.gradcheck import gradient_check, naive_differences
from runner.core.network import NetworkObjective, backprop, forward, theta_shapes, unroll
from runner.core.workspace import activate_in_place
from runner.errors import UserError
from runner.settings import RunSettings

COSTS = {"cross_entropy": CrossEntropy, "mse": MeanSquaredError, "softmax_cross_entropy": SoftmaxCrossEntropy}
PENALTIES = {"l2": lambda: L2(lam=0.7), "l1": lambda: L1(lam=0.7), "none": NoRegularization}
NOOP = lambda epoch, Theta: None  # noqa: E731


def make(sizes, m=12, seed=0, activation="sigmoid", cost="cross_entropy", penalty="l2", dtype=np.float64):
    problem = random_problem(sizes, m=m, seed=seed, activation=activation)
    obj = NetworkObjective(problem.X.astype(dtype), problem.Y.astype(dtype), get_activation(activation),
                           COSTS[cost](), PENALTIES[penalty]())
    return obj, [T.astype(dtype) for T in problem.Theta]


def reference(obj, Theta, rows=None):
    """J and D by the plain formulas: runner.core.network.forward and backprop on X[rows]."""
    X, Y = (obj.X, obj.Y) if rows is None else (obj.X[rows], obj.Y[rows])
    a, z = forward(Theta, X, obj.activation, obj.cost)
    J = obj.cost.value(z, a[-1], Y) + obj.regularization.penalty(Theta, obj.m)
    D = backprop(Theta, a, obj.cost.delta(z, a[-1], Y), obj.activation)
    obj.regularization.add_gradient(D, Theta, obj.m)
    return J, D


def assert_close(A, B, rtol, atol=0.0):
    for a, b in zip(A, B):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# --- the workspace: preallocated, in place, against the plain formulas ----------------------------

@pytest.mark.parametrize("sizes", [[4, 5, 3], [4, 3, 1], [3, 4, 3, 2], [5, 2]])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("cost", list(COSTS))
def test_workspace_full_batch_equals_the_plain_formulas(sizes, activation, cost):
    obj, Theta = make(sizes, activation=activation, cost=cost)
    J_ref, D_ref = reference(obj, Theta)
    for _ in range(2):  # the second call reuses every buffer
        J, D = obj.value_and_gradient(Theta)
        assert J == pytest.approx(J_ref, rel=1e-13) and obj.value(Theta) == J
        assert_close(D, D_ref, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("rows", [slice(2, 7), np.array([0, 3, 4, 9]), np.array([5]), slice(11, 12)])
def test_workspace_batches_equal_the_plain_formulas_on_those_rows(rows):
    obj, Theta = make([4, 5, 3], penalty="l1")
    for _ in range(2):
        J, D = obj.value_and_gradient(Theta, rows)
        J_ref, D_ref = reference(obj, Theta, rows)
        assert J == pytest.approx(J_ref, rel=1e-13)
        assert_close(D, D_ref, rtol=1e-12, atol=1e-15)
    obj.value_and_gradient(Theta)  # the whole set's workspace beside the batch's
    assert obj.value(Theta, rows) == pytest.approx(J_ref, rel=1e-13)


@pytest.mark.parametrize("cost", list(COSTS))
def test_batches_of_one_size_each_bring_their_own_targets_in_the_layout_of_z(cost):
    """A workspace holds Y^T as it holds X^T: the cost reads Y and z(L) in one order (h - Y, sum of Y .* z), and
    each batch of the same size reloads it."""
    obj, Theta = make([4, 5, 3], cost=cost)
    for rows in (np.array([0, 1, 2]), np.array([9, 4, 7]), np.array([0, 1, 2]), None):
        J, D = obj.value_and_gradient(Theta, rows)
        J_ref, D_ref = reference(obj, Theta, rows)
        assert J == pytest.approx(J_ref, rel=1e-13)
        assert_close(D, D_ref, rtol=1e-12, atol=1e-15)
        workspace, Y = obj._prepare(Theta, rows)
        np.testing.assert_array_equal(Y, obj.Y if rows is None else obj.Y[rows])
        assert Y.flags.f_contiguous and workspace.z_L.T.flags.f_contiguous


def test_the_gradient_is_the_callers_and_theta_is_left_alone():
    obj, Theta = make([4, 5, 3])
    before = [T.copy() for T in Theta]
    _, D1 = obj.value_and_gradient(Theta)
    kept = [Dl.copy() for Dl in D1]
    _, D2 = obj.value_and_gradient([2 * T for T in Theta])
    assert_close(D1, kept, rtol=0)  # a later call does not write into an earlier D
    assert all(a is not b for a, b in zip(D1, D2))
    assert_close(Theta, before, rtol=0)


@pytest.mark.parametrize("rows", [None, slice(2, 7), np.array([0, 3, 4, 9]), np.array([5])])
@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_alone_equals_the_plain_formulas(rows, penalty, dtype):
    """objective.gradient, a first-order step's (no J summed, the workspace's own D), is backprop's D."""
    obj, Theta = make([4, 5, 3], penalty=penalty, dtype=dtype)
    _, D_ref = reference(obj, Theta, rows)
    rtol, atol = (1e-12, 1e-15) if dtype == np.float64 else (1e-5, 1e-7)
    for _ in range(2):  # the second call writes into the first call's arrays
        D = obj.gradient(Theta, rows)
        assert [Dl.dtype for Dl in D] == [dtype] * len(Theta)
        assert_close(D, D_ref, rtol=rtol, atol=atol)
        _, D_full = obj.value_and_gradient(Theta, rows)
        assert_close(D, D_full, rtol=0)


def test_gradient_reuses_its_arrays_and_leaves_value_and_gradients_alone():
    obj, Theta = make([4, 5, 3])
    _, D_caller = obj.value_and_gradient(Theta)
    kept = [Dl.copy() for Dl in D_caller]
    D1 = obj.gradient(Theta)
    D2 = obj.gradient([2 * T for T in Theta])
    assert all(a is b for a, b in zip(D1, D2))  # no new array per step: the page faults cost a quarter of it
    assert all(a is not b for a, b in zip(D_caller, D1))
    assert_close(D_caller, kept, rtol=0)
    assert_close(D2, reference(obj, [2 * T for T in Theta])[1], rtol=1e-12, atol=1e-15)


def test_an_epoch_does_not_copy_x():
    """X is laid into the workspace once; after that an epoch allocates far less than X itself."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 150))
    obj = NetworkObjective(X, np.eye(3)[rng.integers(0, 3, 4000)], get_activation("sigmoid"), CrossEntropy(), L2())
    Theta = [rng.uniform(-0.1, 0.1, shape) for shape in theta_shapes([150, 8, 3])]
    optimizer = BatchGD(lr=0.1, epochs=3)
    optimizer.minimize(obj, Theta, None, NOOP)
    tracemalloc.start()
    try:
        optimizer.minimize(obj, Theta, None, NOOP)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4, (peak, X.nbytes)


def test_batch_gd_epoch_in_place_is_theta_minus_lr_d_by_the_plain_formulas():
    obj, Theta = make([4, 5, 4, 3], cost="softmax_cross_entropy")
    expected = [T.copy() for T in Theta]
    for _ in range(3):
        _, D = reference(obj, expected)
        expected = [T - 0.5 * Dl for T, Dl in zip(expected, D)]
    assert_close(BatchGD(lr=0.5, epochs=3).minimize(obj, Theta, None, NOOP), expected, rtol=1e-12, atol=1e-14)


def test_in_place_activations_equal_the_activation_functions():
    z = np.random.default_rng(0).normal(0, 30, (50, 7))
    z[0, :3] = [-800.0, 800.0, 0.0]
    for name in ("sigmoid", "tanh", "relu"):
        a = z.copy()
        activate_in_place(get_activation(name), a)
        np.testing.assert_array_equal(a, get_activation(name).g(z))
    own = Activation("softsign", lambda z: z / (1 + np.abs(z)), lambda a: (1 - np.abs(a)) ** 2)
    a = z.copy()
    activate_in_place(own, a)
    np.testing.assert_array_equal(a, own.g(z))
    assert sigmoid(0.0) == 0.5 and sigmoid(np.float64(-800.0)) == 0.0
    with np.errstate(over="ignore"):  # the textbook formula, bit for bit, in either dtype
        for x in (z, z.astype(np.float32)):
            np.testing.assert_array_equal(sigmoid(x), 1 / (1 + np.exp(-x)), strict=True)


# --- compiled SGD and mini-batch against the numpy loop ------------------------------------------

@pytest.mark.parametrize("penalty", list(PENALTIES))
@pytest.mark.parametrize("cost", list(COSTS))
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_numba_sgd_equals_numpy_sgd_on_the_same_seed(activation, cost, penalty):
    obj, Theta = make([4, 5, 3], m=15, activation=activation, cost=cost, penalty=penalty)
    fast, slow = SGD(lr=0.2, epochs=2), SGD(lr=0.2, epochs=2, backend="numpy")
    A = fast.minimize(obj, Theta, np.random.default_rng(7), NOOP)
    B = slow.minimize(obj, Theta, np.random.default_rng(7), NOOP)
    assert (fast.backend_used, slow.backend_used) == ("numba", "numpy")
    assert_close(A, B, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sizes, cost", [([4, 6, 5, 3], "softmax_cross_entropy"), ([4, 3, 1], "softmax_cross_entropy"),
                                         ([4, 3, 1], "mse"), ([6, 2], "cross_entropy")])
@pytest.mark.parametrize("batch_size, shuffle", [(1, False), (1, True), (4, True), (5, False), (15, True)])
def test_numba_steps_equal_numpy_steps_for_every_batch_size(sizes, cost, batch_size, shuffle):
    obj, Theta = make(sizes, m=15, cost=cost, penalty="l2")
    kind = SGD if batch_size == 1 else MiniBatch
    extra = {} if batch_size == 1 else {"batch_size": batch_size}
    fast = kind(lr=0.3, epochs=3, shuffle=shuffle, **extra)
    slow = kind(lr=0.3, epochs=3, shuffle=shuffle, backend="numpy", **extra)
    seen = []
    A = fast.minimize(obj, Theta, np.random.default_rng(3), lambda e, T: seen.append(unroll(T).copy()))
    B = slow.minimize(obj, Theta, np.random.default_rng(3), NOOP)
    assert fast.backend_used == "numba" and len(seen) == 3
    np.testing.assert_array_equal(seen[-1], unroll(A))
    assert_close(A, B, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("per", ["epoch", "step"])
@pytest.mark.parametrize("kind, extra", [(SGD, {}), (MiniBatch, {"batch_size": 4})])
def test_numba_steps_equal_numpy_steps_with_a_decaying_learning_rate(kind, extra, per):
    obj, Theta = make([4, 5, 3], m=15, penalty="l2")
    fast = kind(lr=0.5, epochs=4, lr_decay=0.7, lr_decay_per=per, **extra)
    slow = kind(lr=0.5, epochs=4, lr_decay=0.7, lr_decay_per=per, backend="numpy", **extra)
    A = fast.minimize(obj, Theta, np.random.default_rng(3), NOOP)
    B = slow.minimize(obj, Theta, np.random.default_rng(3), NOOP)
    assert (fast.backend_used, slow.backend_used) == ("numba", "numpy")
    assert_close(A, B, rtol=1e-12, atol=1e-12)
    constant = kind(lr=0.5, epochs=4, **extra).minimize(obj, Theta, np.random.default_rng(3), NOOP)
    assert not np.allclose(unroll(A), unroll(constant))


def test_numba_sgd_in_float32_stays_close_to_float64():
    obj64, Theta = make([4, 5, 3], m=15)
    obj32, Theta32 = make([4, 5, 3], m=15, dtype=np.float32)
    A = SGD(lr=0.2, epochs=2).minimize(obj32, Theta32, np.random.default_rng(1), NOOP)
    B = SGD(lr=0.2, epochs=2).minimize(obj64, Theta, np.random.default_rng(1), NOOP)
    assert all(T.dtype == np.float32 for T in A)
    assert_close(A, B, rtol=1e-4, atol=1e-5)


@dataclass
class Hinge:
    """A cost the compiled loop does not know: it must fall back to numpy."""

    name: str = field(default="hinge", init=False)

    def output(self, z):
        return sigmoid(z)

    def value(self, z, h, Y):
        return float(np.sum((h - Y) ** 2) / z.shape[0])

    def delta(self, z, h, Y):
        return 2 * (h - Y) * h * (1 - h)


def test_unknown_plugins_and_large_batches_fall_back_to_numpy():
    problem = random_problem([4, 5, 3], m=12)
    obj = NetworkObjective(problem.X, problem.Y, get_activation("sigmoid"), Hinge(), L2())
    optimizer = SGD(epochs=1)
    optimizer.minimize(obj, problem.Theta, np.random.default_rng(0), NOOP)
    assert optimizer.backend_used == "numpy"

    rng = np.random.default_rng(0)
    wide = NetworkObjective(rng.standard_normal((40, 300)), np.eye(2)[rng.integers(0, 2, 40)],
                            get_activation("sigmoid"), CrossEntropy(), L2())
    Theta = [rng.uniform(-0.1, 0.1, s) for s in theta_shapes([300, 60, 2])]
    assert 32 * sum(T.size for T in Theta) > COMPILED_BATCH_WORK
    batches, single = MiniBatch(epochs=1, batch_size=32), SGD(epochs=1)
    batches.minimize(wide, Theta, rng, NOOP)
    single.minimize(wide, Theta, rng, NOOP)
    assert (batches.backend_used, single.backend_used) == ("numpy", "numba")
    below = [rng.uniform(-0.1, 0.1, s) for s in theta_shapes([300, 25, 2])]  # 32 x 7577 rows x weights
    assert 32 * sum(T.size for T in below) <= COMPILED_BATCH_WORK
    batches.minimize(wide, below, rng, NOOP)
    assert batches.backend_used == "numba"
    with pytest.raises(ValueError, match="backend='jax'"):
        SGD(backend="jax")


# --- batched central differences against the naive loop -----------------------------------------

@pytest.mark.parametrize("sizes", [[4, 5, 3], [3, 4, 3, 2], [4, 3, 1], [5, 2], [3, 4, 4, 3, 2]])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("cost", list(COSTS))
@pytest.mark.parametrize("penalty", list(PENALTIES))
def test_fast_differences_equal_the_naive_loop(sizes, activation, cost, penalty):
    obj, Theta = make(sizes, m=9, activation=activation, cost=cost, penalty=penalty)
    coords = np.arange(unroll(Theta).size)
    fast = central_differences(obj, Theta, coords, 1e-4)
    naive = naive_differences(obj.value, Theta, coords, 1e-4)
    assert np.linalg.norm(fast - naive) <= 1e-8 * np.linalg.norm(naive)


def test_fast_differences_on_rows_and_a_sample_of_coordinates(monkeypatch):
    obj, Theta = make([4, 6, 5, 3], m=20, cost="softmax_cross_entropy", penalty="l1")
    rows = slice(3, 14)
    coords = np.random.default_rng(0).choice(unroll(Theta).size, 30, replace=False)
    naive = naive_differences(lambda T: obj.value(T, rows), Theta, coords, 1e-4)
    monkeypatch.setattr("runner.core.differences.MAX_ELEMENTS", 50)  # many small chunks
    fast = central_differences(obj, Theta, coords, 1e-4, rows=rows)
    assert np.linalg.norm(fast - naive) <= 1e-8 * np.linalg.norm(naive)


def test_gradient_check_with_fast_differences_matches_the_naive_check():
    obj, Theta = make([4, 5, 3], m=10)
    _, D = obj.value_and_gradient(Theta)
    naive = gradient_check(obj.value, Theta, D)
    fast = gradient_check(obj.value, Theta, D, differences=lambda T, k, eps: central_differences(obj, T, k, eps))
    assert fast.rel_error == pytest.approx(naive.rel_error, rel=0.05) and fast.rel_error < 1e-8  # both O(eps^2)
    assert (fast.n_checked, fast.n_evaluations) == (naive.n_checked, naive.n_evaluations) == (43, 86)
    wrong = [Dl.copy() for Dl in D]
    wrong[0][1, 2] += 0.01
    assert gradient_check(obj.value, Theta, wrong, differences=lambda T, k, eps: central_differences(obj, T, k, eps)
                          ).rel_error > 1e-3


# --- interpolation: what lets a unit's perturbations share a few exact evaluations -------------

POINTS = interpolation.POINTS[:, None]


def test_interpolation_reproduces_polynomials_and_smooth_functions():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (50, 3))
    coefficients = rng.standard_normal((interpolation.NODES, 3))  # degree NODES - 1: reproduced exactly
    polynomial = lambda x: sum(c * x**k for k, c in enumerate(coefficients))  # noqa: E731
    c = interpolation.fit(polynomial(np.repeat(POINTS, 3, axis=1)), np.zeros(3))
    np.testing.assert_allclose(c, coefficients, atol=1e-12)
    odd = (polynomial(x) - polynomial(-x)).sum(axis=1)
    np.testing.assert_allclose(interpolation.odd_differences(c, x), odd, rtol=1e-12)
    f = lambda x: np.log1p(np.exp(0.3 + 1e-3 * x))  # noqa: E731  a softplus moved by a small step
    c = interpolation.fit(f(np.repeat(POINTS, 3, axis=1)), np.zeros(3))
    np.testing.assert_allclose(interpolation.odd_differences(c, x), (f(x) - f(-x)).sum(axis=1), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("kinked", [np.abs, lambda x: np.sin(40 * x), lambda x: np.maximum(x - 0.3, 0.0)])
def test_interpolation_refuses_what_a_polynomial_cannot_follow(kinked):
    smooth = np.exp(0.01 * POINTS)  # a smooth function over a small step
    assert interpolation.fit(np.hstack([smooth, kinked(POINTS)]), np.zeros(2)) is None
    assert interpolation.fit(smooth, np.zeros(1)) is not None


@dataclass
class Wiggly:
    """A smooth cost that oscillates faster than a step of 1e-4 can follow: sum_k sin(w z_k) / w."""

    w: float
    name: str = "wiggly"

    def output(self, z):
        return sigmoid(z)

    def row_costs(self, z, Y):
        return np.sum(np.sin(self.w * z), axis=-1) / self.w

    def value(self, z, h, Y):
        return float(self.row_costs(z, Y).sum() / z.shape[0])

    def delta(self, z, h, Y):
        return np.cos(self.w * z)


@dataclass
class ValueOnly:
    """A cost plugin with only the required methods (no row_costs): cross-entropy underneath."""

    name: str = "value_only"
    inner: CrossEntropy = field(default_factory=CrossEntropy)

    def output(self, z):
        return self.inner.output(z)

    def value(self, z, h, Y):
        return self.inner.value(z, h, Y)

    def delta(self, z, h, Y):
        return self.inner.delta(z, h, Y)


@dataclass
class PenaltyOnly:
    """A regularization plugin with only the required methods (no weight_penalty): L2 underneath."""

    name: str = "penalty_only"
    inner: L2 = field(default_factory=lambda: L2(lam=0.7))

    def penalty(self, Theta, m):
        return self.inner.penalty(Theta, m)

    def add_gradient(self, D, Theta, m):
        self.inner.add_gradient(D, Theta, m)


def fits_made(monkeypatch) -> list:
    """Record what every interpolation.fit call returns (None: refused)."""
    made, fit = [], interpolation.fit
    monkeypatch.setattr(interpolation, "fit", lambda *args: made.append(fit(*args)) or made[-1])
    return made


@pytest.mark.parametrize("sizes", [[20, 12, 5], [6, 10, 9, 4]])
def test_row_blocks_and_interpolation_equal_the_naive_loop_on_many_rows(monkeypatch, sizes):
    obj, Theta = make(sizes, m=600, cost="softmax_cross_entropy")
    made = fits_made(monkeypatch)
    coords = np.arange(unroll(Theta).size)
    fast = central_differences(obj, Theta, coords, 1e-4)
    naive = naive_differences(obj.value, Theta, coords, 1e-4)
    assert np.linalg.norm(fast - naive) <= 1e-8 * np.linalg.norm(naive)
    assert len(made) >= 2 * 6 and all(c is not None for c in made)  # 600 rows: 2 blocks of each wide unit, all fitted


@pytest.mark.parametrize("w, refused", [(1.0, False), (3e5, True)])
def test_a_refused_fit_falls_back_to_evaluating_every_perturbation(monkeypatch, w, refused):
    problem = random_problem([6, 7, 3], m=40, seed=2)
    obj = NetworkObjective(problem.X, problem.Y, get_activation("sigmoid"), Wiggly(w), L2(lam=0.7))
    made = fits_made(monkeypatch)
    coords = np.arange(unroll(problem.Theta).size)
    fast = central_differences(obj, problem.Theta, coords, 1e-4)
    naive = naive_differences(obj.value, problem.Theta, coords, 1e-4)
    assert np.linalg.norm(fast - naive) <= 1e-8 * np.linalg.norm(naive)
    assert made and any(c is None for c in made) == refused


@pytest.mark.parametrize("cost, regularization", [(ValueOnly(), L2(lam=0.7)), (CrossEntropy(), PenaltyOnly())])
def test_plugins_without_the_optional_methods_get_the_same_differences(cost, regularization):
    problem = random_problem([4, 6, 5, 3], m=15, seed=1)
    obj = NetworkObjective(problem.X, problem.Y, get_activation("tanh"), cost, regularization)
    coords = np.arange(unroll(problem.Theta).size)
    fast = central_differences(obj, problem.Theta, coords, 1e-4)
    naive = naive_differences(obj.value, problem.Theta, coords, 1e-4)
    assert np.linalg.norm(fast - naive) <= 1e-8 * np.linalg.norm(naive)


def test_locate_inverts_unrolling():
    shapes = theta_shapes([3, 4, 2])
    Theta = [np.arange(r * c).reshape(r, c) + 100 * l for l, (r, c) in enumerate(shapes)]
    theta = unroll(Theta)
    l, i, j = locate(np.arange(theta.size), shapes)
    assert all(Theta[a][b, c] == theta[k] for k, (a, b, c) in enumerate(zip(l, i, j)))


# --- float32 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cost", list(COSTS))
def test_float32_objective_stays_float32_and_close_to_float64(cost):
    obj64, Theta = make([4, 5, 4, 3], cost=cost)
    obj32, Theta32 = make([4, 5, 4, 3], cost=cost, dtype=np.float32)
    J32, D32 = obj32.value_and_gradient(Theta)  # float64 weights are cast once, to X's dtype
    J64, D64 = obj64.value_and_gradient(Theta)
    assert all(Dl.dtype == np.float32 for Dl in D32)
    assert J32 == pytest.approx(J64, rel=1e-5)
    assert_close(D32, D64, rtol=1e-3, atol=1e-5)
    A = BatchGD(lr=0.5, epochs=5).minimize(obj32, Theta32, None, NOOP)
    B = BatchGD(lr=0.5, epochs=5).minimize(obj64, Theta, None, NOOP)
    assert_close(A, B, rtol=1e-4, atol=1e-5)
    assert obj32.in_float64().X.dtype == np.float64 and obj64.in_float64() is obj64


@pytest.mark.parametrize("optimizer", [CG(epochs=20), LBFGS(epochs=20)], ids=lambda o: o.name)
def test_scipy_optimizers_on_a_float32_objective_search_in_float64_without_overflow(optimizer):
    import warnings

    obj32, Theta32 = make([4, 6, 3], m=40, dtype=np.float32)
    obj64, Theta64 = make([4, 6, 3], m=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # float32 values in scipy's line search: overflow in cast
        A = optimizer.minimize(obj32, Theta32, None, NOOP)
    B = optimizer.minimize(obj64, Theta64, None, NOOP)
    assert obj32.value(A) < obj32.value(Theta32) and all(np.isfinite(T).all() for T in A)
    assert obj32.value(A) == pytest.approx(obj64.value(B), rel=1e-2)


def test_dtype_setting_is_validated():
    base = {"seed": 0}
    assert RunSettings.from_dict(base).dtype == "float64"
    assert RunSettings.from_dict({**base, "dtype": "float32"}).dtype == "float32"
    with pytest.raises(UserError, match="dtype='float16' is invalid; accepted: float64, float32"):
        RunSettings.from_dict({**base, "dtype": "float16"})


# --- BLAS threads of a run -------------------------------------------------------------------------

def test_blas_threads_one_for_small_networks_as_configured_otherwise():
    from threadpoolctl import threadpool_info

    def threads():
        return max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")

    before = threads()
    assert largest_product([64, 25, 10], 1078) < SMALL_PRODUCT < largest_product([400, 100, 10], 16000)
    small = limit_blas_threads({"blas_threads": "auto"}, [64, 25, 10], 1078)
    assert small.description == "1 (auto: small network)" and threads() == 1
    small.restore()
    assert threads() == before
    large = limit_blas_threads({}, [400, 100, 10], 16000)
    assert large.description == f"{before} (auto: large network)"
    large.restore()
    configured = limit_blas_threads({"blas_threads": 1}, [400, 100, 10], 16000)
    assert configured.description == "1 (configured)" and threads() == 1
    configured.restore()
    assert threads() == before


def test_the_blas_limit_covers_the_blas_that_scipy_s_optimizers_load(new_store):
    """scipy ships its own OpenBLAS, loaded with scipy.optimize: the run's limit (1 thread for a small
    network) must cover it too, so the optimizer loads it first (prepare), before the limit."""
    result = new_store.cli("dataset=moons", "dataset.n_samples=100", "architecture.hidden=[5]", "optimizer=lbfgs",
                           "optimizer.epochs=5", "tracking.progress=off", "tracking.figures=false",
                           OPENBLAS_NUM_THREADS="2")
    assert result.returncode == 0, result.stderr
    tags = new_store.runs()[-1].data.tags
    assert tags["blas_threads"] == "1 (auto: small network)"
    libraries = tags["blas"].split("; ")
    assert len(libraries) == 2 and all(lib.endswith("(1 threads)") for lib in libraries), tags["blas"]


@pytest.mark.parametrize("optimizer", [LBFGS(epochs=3), CG(epochs=3)], ids=["lbfgs", "cg"])
def test_scipy_optimizers_prepare_changes_neither_the_weights_nor_the_result(optimizer):
    obj, Theta = make([4, 5, 3], m=16)
    before = [T.copy() for T in Theta]
    plain = optimizer.minimize(obj, Theta, np.random.default_rng(3), NOOP)
    optimizer.prepare(obj, Theta)
    assert all(np.array_equal(T, B) for T, B in zip(Theta, before))
    assert all(np.array_equal(A, B) for A, B in zip(optimizer.minimize(obj, Theta, np.random.default_rng(3), NOOP), plain))


# --- the garbage collector ------------------------------------------------------------------------

def test_imported_objects_are_frozen_once_per_process(monkeypatch):
    """A run freezes what the imports made (gc.freeze), once: later runs of a serial sweep don't
    freeze their own garbage out of the collector's reach."""
    import gc

    from runner import experiment

    monkeypatch.setattr(experiment, "_frozen", False)
    gc.unfreeze()
    try:
        experiment.freeze_imported_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # the modules pytest and this project imported
        garbage = [[] for _ in range(1000)]
        experiment.freeze_imported_objects()
        # not one of the 1000 new lists frozen; the count may fall a little as frozen objects are freed
        assert gc.get_freeze_count() <= frozen and garbage
    finally:
        gc.unfreeze()


# --- loading the compiled epochs before the clock ------------------------------------------------

@pytest.mark.parametrize("optimizer", [SGD(epochs=3), MiniBatch(epochs=3, batch_size=4), SGD(epochs=3, backend="numpy")],
                         ids=["sgd", "minibatch", "numpy"])
def test_prepare_changes_neither_the_weights_nor_the_rng_nor_the_result(optimizer):
    obj, Theta = make([4, 5, 3], m=16)
    before = [T.copy() for T in Theta]
    plain = optimizer.minimize(obj, Theta, np.random.default_rng(3), NOOP)
    rng = np.random.default_rng(3)
    optimizer.prepare(obj, Theta)
    assert all(np.array_equal(T, B) for T, B in zip(Theta, before))
    assert all(np.array_equal(A, B) for A, B in zip(optimizer.minimize(obj, Theta, rng, NOOP), plain))


def test_prepare_loads_the_compiled_epochs_in_a_fresh_process():
    """In a new interpreter nothing is compiled or loaded yet: prepare loads the epoch the run will use."""
    import subprocess
    import sys
    import textwrap

    from conftest import PROJECT_ROOT

    code = textwrap.dedent("""
        import numpy as np
        from plugins import compiled_steps
        from plugins.costs import CrossEntropy
        from plugins.optimizers import SGD, MiniBatch
        from plugins.regularization import L2
        from runner.core.activations import get_activation
        from runner.core.network import NetworkObjective
        rng = np.random.default_rng(0)
        X, Y = rng.standard_normal((10, 3)), (rng.random((10, 2)) > 0.5).astype(float)
        obj = NetworkObjective(X, Y, get_activation("sigmoid"), CrossEntropy(), L2(1.0))
        Theta = [rng.standard_normal((4, 4)), rng.standard_normal((2, 5))]
        counts = lambda: (len(compiled_steps._sample_epoch.signatures), len(compiled_steps._batch_epoch.signatures))
        print(counts())
        SGD().prepare(obj, Theta)
        print(counts())
        MiniBatch(batch_size=4).prepare(obj, Theta)
        print(counts())
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["(0, 0)", "(1, 0)", "(1, 1)"]


def test_a_run_prepares_its_optimizer_before_the_training_clock_starts(tmp_path, monkeypatch):
    from conftest import resolved_config
    from runner import experiment

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("BACKPROP_LAB_OUTPUTS", str(tmp_path / "outputs"))
    config = resolved_config("dataset=moons", "dataset.n_samples=60", "optimizer=sgd", "optimizer.epochs=2",
                             "tracking.progress=off", "tracking.figures=false")
    import sys

    events = []  # ("prepare", None), and ("clock", the function of ours that read it)
    clock, ours = experiment.time.perf_counter, str(Path(experiment.__file__).parent)

    def read_clock():
        caller = sys._getframe(1).f_code  # libraries read it too (SQLAlchemy compiling a statement the first time)
        if caller.co_filename.startswith(ours):
            events.append(("clock", caller.co_name))
        return clock()

    monkeypatch.setattr(SGD, "prepare", lambda self, objective, Theta: events.append(("prepare", None)))
    monkeypatch.setattr(experiment.time, "perf_counter", read_clock)
    outcome = experiment.run_experiment(config, tmp_path / "run")
    assert outcome.status == "FINISHED"
    after = events.index(("prepare", None)) + 1
    assert events[after] == ("clock", "run_experiment")  # the next clock read is the training's start
    assert ("clock", "check") in events[after:]  # the gradient check at epoch 0, inside the training loop
