"""The plugins against hand computations: regularization never touches the bias column,
costs are non-negative and safe when saturated, optimizers take exactly the course's steps,
initializers respect their bounds and seeds, every plugin rejects bad arguments, and the
core/plugin import boundaries hold.
"""
from __future__ import annotations

import ast
import math
import pickle
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import random_problem
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from plugins.architecture import FeedForward
from plugins.costs import CrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from plugins.initializers import (Constant, EpsilonUniform, FromFile, GlorotNormal, HeNormal, Zeros,
                                  load_weights)
from plugins.optimizers import CG, LBFGS, SGD, Adam, BatchGD, MiniBatch, Momentum
from plugins.regularization import L1, L2, NoRegularization
from runner.core.activations import get_activation
from runner.core.network import NetworkObjective, theta_shapes, unroll
from runner.core.protocols import Architecture, Cost, Initializer, Optimizer, Regularization

ROOT = Path(__file__).resolve().parents[1]


# --- 3. regularization: value, gradient, bias column excluded -------------------------------

@pytest.fixture
def Theta():
    rng = np.random.default_rng(7)
    return [rng.standard_normal((5, 4)), rng.standard_normal((3, 6))]


@pytest.mark.parametrize("regularization", [L2(lam=2.5), L1(lam=2.5)])
def test_bias_columns_are_not_regularized(Theta, regularization):
    m = 10
    moved = [T.copy() for T in Theta]
    for T in moved:
        T[:, 0] += np.arange(1, T.shape[0] + 1) * 100.0
    assert regularization.penalty(moved, m) == regularization.penalty(Theta, m)

    D = [np.full_like(T, 0.125) for T in Theta]
    regularization.add_gradient(D, moved, m)
    for Dl in D:
        np.testing.assert_array_equal(Dl[:, 0], 0.125)
        assert np.all(Dl[:, 1:] != 0.125)


def test_l2_and_l1_penalties_and_gradients_by_formula(Theta):
    m, lam = 8, 2.5
    W = np.concatenate([T[:, 1:].ravel() for T in Theta])
    assert L2(lam=lam).penalty(Theta, m) == pytest.approx(lam / (2 * m) * np.sum(W**2), rel=1e-14)
    assert L1(lam=lam).penalty(Theta, m) == pytest.approx(lam / m * np.sum(np.abs(W)), rel=1e-14)
    for regularization, gradient in [(L2(lam=lam), lambda T: lam / m * T), (L1(lam=lam), lambda T: lam / m * np.sign(T))]:
        D = [np.zeros_like(T) for T in Theta]
        regularization.add_gradient(D, Theta, m)
        for Dl, T in zip(D, Theta):
            np.testing.assert_allclose(Dl[:, 1:], gradient(T[:, 1:]), rtol=1e-15)


@pytest.mark.parametrize("regularization", [L2(lam=0.0), L1(lam=0.0), NoRegularization()])
def test_no_penalty_and_no_gradient_without_lambda(Theta, regularization):
    D = [np.ones_like(T) for T in Theta]
    regularization.add_gradient(D, Theta, 5)
    assert regularization.penalty(Theta, 5) == 0.0
    assert all(np.array_equal(Dl, np.ones_like(Dl)) for Dl in D)


@pytest.mark.parametrize("regularization", [L2(lam=2.5), L1(lam=2.5), NoRegularization()])
def test_weight_penalty_sums_to_the_penalty(Theta, regularization):
    """Gradient checks difference weight_penalty one weight at a time: it must add up to penalty."""
    m = 8
    total = sum(float(np.sum(regularization.weight_penalty(T[:, 1:], m))) for T in Theta)
    assert total == pytest.approx(regularization.penalty(Theta, m), rel=1e-14, abs=0.0)
    w = np.array([-2.0, 0.0, 3.0])
    assert regularization.weight_penalty(w, m).shape == w.shape


# --- costs: properties and saturation -----------------------------------------------------------

def targets(K, labels):
    return labels.reshape(-1, 1).astype(float) if K == 1 else np.eye(K)[labels % K]


z_arrays = arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)),
                  elements=st.floats(-1e3, 1e3, allow_nan=False))


@pytest.mark.parametrize("cost", [CrossEntropy(), MeanSquaredError(), SoftmaxCrossEntropy()])
@given(z=z_arrays, seed=st.integers(0, 2**16))
def test_every_cost_is_non_negative_and_finite(cost, z, seed):
    labels = np.random.default_rng(seed).integers(0, max(z.shape[1], 2), z.shape[0])
    Y = targets(z.shape[1], labels)
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        h = cost.output(z)
        J = cost.value(z, h, Y)
        delta = cost.delta(z, h, Y)
    assert math.isfinite(J) and J >= 0
    assert np.all(np.isfinite(delta))


@pytest.mark.parametrize("cost", [CrossEntropy(), MeanSquaredError(), SoftmaxCrossEntropy()])
@given(z=arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 4)),
                elements=st.floats(-50, 50, allow_nan=False)), seed=st.integers(0, 2**16))
def test_row_costs_add_up_to_value_on_every_block_of_a_stack(cost, z, seed):
    """row_costs(z, Y).sum() / m is value(z, h, Y), for each (m, K) block of a stack at once."""
    m, K = z.shape[1:]
    Y = targets(K, np.random.default_rng(seed).integers(0, max(K, 2), m))
    rows = cost.row_costs(z, Y)
    assert rows.shape == z.shape[:2]
    for block, row in zip(z, rows):
        np.testing.assert_allclose(row, cost.row_costs(block, Y), rtol=1e-14, atol=1e-14)
        assert row.sum() / m == pytest.approx(cost.value(block, cost.output(block), Y), rel=1e-12, abs=1e-13)


@given(z=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)),
                elements=st.floats(-15, 15, allow_nan=False)), seed=st.integers(0, 2**16))
def test_costs_equal_their_textbook_formulas_away_from_saturation(z, seed):
    K = z.shape[1]
    Y = targets(K, np.random.default_rng(seed).integers(0, max(K, 2), z.shape[0]))
    m = z.shape[0]
    h = 1 / (1 + np.exp(-z))
    assert CrossEntropy().value(z, h, Y) == pytest.approx(
        np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / m, rel=1e-9, abs=1e-12)
    assert MeanSquaredError().value(z, h, Y) == pytest.approx(np.sum((h - Y) ** 2) / (2 * m), rel=1e-12, abs=1e-15)
    if K > 1:
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        assert SoftmaxCrossEntropy().value(z, p, Y) == pytest.approx(-np.sum(Y * np.log(p)) / m, rel=1e-9, abs=1e-12)


def test_softmax_cross_entropy_with_one_output_is_cross_entropy():
    z = np.array([[-3.0], [0.5], [7.0]])
    Y = np.array([[1.0], [0.0], [1.0]])
    softmax_ce, ce = SoftmaxCrossEntropy(), CrossEntropy()
    np.testing.assert_array_equal(softmax_ce.output(z), ce.output(z))
    assert softmax_ce.value(z, ce.output(z), Y) == ce.value(z, ce.output(z), Y)


@pytest.mark.parametrize("big", [40.0, 800.0])
@pytest.mark.parametrize("cost", [CrossEntropy(), MeanSquaredError(), SoftmaxCrossEntropy()])
def test_saturated_units_give_finite_cost_and_gradients_without_warnings(cost, big):
    """Hidden and output z of +-big, with targets on the wrong side (the worst case for log(h)).

    Underflow is allowed: exp(-800) rounding to 0 is the correct answer and numpy's default.
    """
    X = np.array([[1.0], [-1.0]])
    Theta = [np.array([[0.0, big], [0.0, -big]]),                  # hidden z = +-big
             np.array([[-big, 2 * big, 0.0], [big, -2 * big, 0.0]])]  # output z = +-big
    Y = np.array([[1.0, 0.0], [0.0, 1.0]])[::-1]
    obj = NetworkObjective(X, Y, get_activation("sigmoid"), cost, L2(lam=1.0))
    with warnings.catch_warnings(), np.errstate(all="raise", under="ignore"):
        warnings.simplefilter("error")
        J, D = obj.value_and_gradient(Theta)
    assert math.isfinite(J) and all(np.all(np.isfinite(Dl)) for Dl in D)
    if not isinstance(cost, MeanSquaredError):
        assert J > big  # each sample pays about |z| = big on a wrong unit


def test_cross_entropy_at_z_40_is_exact():
    """log(1 - sigmoid(40)) is log(0) in floating point; the cost must still be softplus(40) ~ 40."""
    z = np.array([[40.0], [-800.0]])
    Y = np.array([[0.0], [1.0]])
    assert CrossEntropy().value(z, CrossEntropy().output(z), Y) == pytest.approx((40.0 + 800.0) / 2, rel=1e-15)


@pytest.mark.parametrize("scale", [1.0, 30.0, 800.0])
@pytest.mark.parametrize("cost", [CrossEntropy(), SoftmaxCrossEntropy()])
def test_value_from_h_equals_the_softplus_and_logsumexp_forms(cost, scale):
    """value() takes one log of max(h, 1 - h) or of the largest softmax output; row_costs works from z alone
    (softplus, logsumexp). They agree to rounding, saturated rows (h of 0 or 1, softmax outputs of 0) included."""
    rng = np.random.default_rng(int(scale))
    for K in (1, 3, 10):
        z = scale * rng.standard_normal((400, K))
        Y = targets(K, rng.integers(0, max(K, 2), 400))
        with np.errstate(over="ignore", under="ignore"):
            J = cost.value(z, cost.output(z), Y)
        assert J == pytest.approx(cost.row_costs(z, Y).sum() / 400, rel=1e-14)


# --- 4. optimizers take exactly the course's steps ---------------------------------------------

@pytest.fixture
def small():
    """A 3-4-2 problem with m = 7 and its L2 objective (lam = 0.9)."""
    problem = random_problem([3, 4, 2], m=7, seed=11)
    obj = NetworkObjective(problem.X, problem.Y, get_activation("sigmoid"), CrossEntropy(), L2(lam=0.9))
    return problem, obj


def hand_step(textbook, Theta, X, Y, rows, lr, lam, m):
    """Theta - lr * (data gradient of the rows by the textbook + (lam/m) Theta on non-bias columns)."""
    _, D = textbook.cost_and_gradient(Theta, X[rows], Y[rows])
    new = []
    for T, Dl in zip(Theta, D):
        Dl = Dl.copy()
        Dl[:, 1:] += lam / m * T[:, 1:]
        new.append(T - lr * Dl)
    return new


def assert_weights_equal(A, B, tol=1e-12):
    for T, T_ref in zip(A, B):
        np.testing.assert_allclose(T, T_ref, rtol=tol, atol=tol)


def test_sgd_epoch_is_m_sequential_single_sample_steps(small, textbook):
    problem, obj = small
    Theta = SGD(lr=0.3, epochs=1, shuffle=False).minimize(obj, problem.Theta, np.random.default_rng(0),
                                                          lambda epoch, T: None)
    expected = problem.Theta
    for i in range(obj.m):
        expected = hand_step(textbook, expected, problem.X, problem.Y, [i], 0.3, 0.9, obj.m)
    assert_weights_equal(Theta, expected)
    # and it is not the same as one full-batch step
    one_batch = hand_step(textbook, problem.Theta, problem.X, problem.Y, slice(None), 0.3, 0.9, obj.m)
    assert not np.allclose(Theta[0], one_batch[0])


def test_shuffled_sgd_visits_the_rows_in_the_generators_permutation(small, textbook):
    problem, obj = small
    Theta = SGD(lr=0.3, epochs=2).minimize(obj, problem.Theta, np.random.default_rng(5), lambda e, T: None)
    rng = np.random.default_rng(5)
    expected = problem.Theta
    for _ in range(2):
        for i in rng.permutation(obj.m):
            expected = hand_step(textbook, expected, problem.X, problem.Y, [i], 0.3, 0.9, obj.m)
    assert_weights_equal(Theta, expected)


def test_batch_gd_epoch_is_theta_minus_lr_d(small):
    problem, obj = small
    _, D = obj.value_and_gradient(problem.Theta)
    Theta = BatchGD(lr=0.7, epochs=1).minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    assert_weights_equal(Theta, [T - 0.7 * Dl for T, Dl in zip(problem.Theta, D)], tol=1e-15)


def test_decayed_batch_gd_steps_with_lr_over_one_plus_decay_times_epochs_before(small):
    """Epoch t steps with lr / (1 + lr_decay (t - 1)): 0.7, 0.7 / 1.5, 0.7 / 2."""
    problem, obj = small
    Theta = BatchGD(lr=0.7, epochs=3, lr_decay=0.5).minimize(obj, problem.Theta, np.random.default_rng(0),
                                                             lambda e, T: None)
    expected = problem.Theta
    for lr in (0.7, 0.7 / 1.5, 0.7 / 2):
        _, D = obj.value_and_gradient(expected)
        expected = [T - lr * Dl for T, Dl in zip(expected, D)]
    assert_weights_equal(Theta, expected)
    assert [BatchGD(lr=0.7, lr_decay=0).step_sizes(t, 1)[0] for t in (1, 50)] == [0.7, 0.7]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_decayed_sgd_keeps_one_learning_rate_for_every_sample_of_an_epoch(small, textbook, backend):
    problem, obj = small
    sgd = SGD(lr=0.3, epochs=2, shuffle=False, lr_decay=2.0, backend=backend)
    Theta = sgd.minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    expected = problem.Theta
    for lr in (0.3, 0.1):
        for i in range(obj.m):
            expected = hand_step(textbook, expected, problem.X, problem.Y, [i], lr, 0.9, obj.m)
    assert sgd.backend_used == backend
    assert_weights_equal(Theta, expected)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_sgd_decayed_per_step_steps_with_lr_over_one_plus_decay_times_the_steps_before(small, textbook, backend):
    """The course's alpha = const1 / (iteration + const2): the k-th sample step since the start uses
    lr / (1 + lr_decay (k - 1)), counting on across epochs."""
    problem, obj = small
    sgd = SGD(lr=0.3, epochs=2, shuffle=False, lr_decay=0.25, lr_decay_per="step", backend=backend)
    Theta = sgd.minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    expected, k = problem.Theta, 0
    for _ in range(2):
        for i in range(obj.m):
            expected = hand_step(textbook, expected, problem.X, problem.Y, [i], 0.3 / (1 + 0.25 * k), 0.9, obj.m)
            k += 1
    assert sgd.backend_used == backend
    assert_weights_equal(Theta, expected)
    assert sgd.rate == pytest.approx(0.3 / (1 + 0.25 * (2 * obj.m - 1)))
    per_epoch = SGD(lr=0.3, epochs=2, shuffle=False, lr_decay=0.25, backend=backend)
    assert not np.allclose(unroll(per_epoch.minimize(obj, problem.Theta, None, lambda e, T: None)), unroll(Theta))


def test_full_batch_descent_takes_one_step_an_epoch_so_both_decay_units_agree(small):
    problem, obj = small
    runs = [BatchGD(lr=0.7, epochs=4, lr_decay=0.5, lr_decay_per=per).minimize(obj, problem.Theta, None,
                                                                               lambda e, T: None)
            for per in ("epoch", "step")]
    assert_weights_equal(runs[0], runs[1], tol=0)


@pytest.mark.parametrize("make", [lambda d: Momentum(lr=0.3, epochs=2, batch_size=7, shuffle=False, lr_decay=d),
                                  lambda d: Adam(lr=0.3, epochs=2, batch_size=7, shuffle=False, lr_decay=d)])
def test_decay_scales_the_second_epoch_of_momentum_and_adam(small, make):
    """With one batch an epoch and lr_decay = 1, the two epochs are the optimizer's own updates with lr 0.3,
    then 0.15 (its velocity or moments carried over)."""
    problem, obj = small
    decayed = make(1.0).minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    plain = make(0.0)
    state = plain.start(problem.Theta)
    expected = [T.copy() for T in problem.Theta]
    for lr in (0.3, 0.15):
        plain.update(expected, obj.gradient(expected, None), state, lr)
    assert_weights_equal(decayed, expected)
    constant = make(0.0).minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    assert not np.allclose(unroll(decayed), unroll(constant))


def test_minibatch_epoch_steps_through_consecutive_batches(small, textbook):
    problem, obj = small
    Theta = MiniBatch(lr=0.4, epochs=1, batch_size=3, shuffle=False).minimize(
        obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    expected = problem.Theta
    for rows in ([0, 1, 2], [3, 4, 5], [6]):
        expected = hand_step(textbook, expected, problem.X, problem.Y, rows, 0.4, 0.9, obj.m)
    assert_weights_equal(Theta, expected)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_two_full_batch_steps_by_hand(small, nesterov):
    problem, obj = small
    mu, lr = 0.8, 0.3
    Theta = Momentum(lr=lr, epochs=2, batch_size=obj.m, shuffle=False, momentum=mu, nesterov=nesterov).minimize(
        obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    expected, v = [T.copy() for T in problem.Theta], [np.zeros_like(T) for T in problem.Theta]
    for _ in range(2):
        _, D = obj.value_and_gradient(expected)
        v = [mu * vl - lr * Dl for vl, Dl in zip(v, D)]
        expected = [T + (mu * vl - lr * Dl if nesterov else vl) for T, vl, Dl in zip(expected, v, D)]
    assert_weights_equal(Theta, expected)


def test_adam_first_step_moves_every_weight_by_about_lr(small):
    """At t = 1, m_hat = D and v_hat = D^2, so the step is lr * D / (|D| + eps') ~ lr * sign(D)."""
    problem, obj = small
    _, D = obj.value_and_gradient(problem.Theta)
    Theta = Adam(lr=0.01, epochs=1, batch_size=obj.m, shuffle=False).minimize(
        obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for T, T0, Dl in zip(Theta, problem.Theta, D):
        m1, v = (1 - b1) * Dl, (1 - b2) * Dl**2
        step = 0.01 * math.sqrt(1 - b2) / (1 - b1) * m1 / (np.sqrt(v) + eps)
        np.testing.assert_allclose(T, T0 - step, rtol=1e-13, atol=1e-15)
        assert np.all(np.abs(T - T0) <= 0.01) and np.max(np.abs(T - T0)) > 0.0099


@pytest.mark.parametrize("optimizer", [BatchGD(lr=0.5, epochs=4), SGD(epochs=4), MiniBatch(epochs=4, batch_size=3),
                                       Momentum(epochs=4, batch_size=3), Adam(epochs=4, batch_size=3),
                                       LBFGS(epochs=4), CG(epochs=4)], ids=lambda o: o.name)
def test_optimizers_report_every_epoch_lower_j_and_leave_the_start_alone(small, optimizer):
    problem, obj = small
    start = [T.copy() for T in problem.Theta]
    seen = []
    Theta = optimizer.minimize(obj, problem.Theta, np.random.default_rng(0),
                               lambda epoch, T: seen.append((epoch, unroll(T).copy())))
    assert [epoch for epoch, _ in seen] == list(range(1, len(seen) + 1))
    assert len(seen) == 4 or (isinstance(optimizer, (LBFGS, CG)) and 1 <= len(seen) <= 5)
    np.testing.assert_array_equal(seen[-1][1], unroll(Theta))
    assert obj.value(Theta) < obj.value(start)
    assert_weights_equal(problem.Theta, start, tol=0)
    assert isinstance(optimizer, Optimizer)


@pytest.mark.parametrize("optimizer", [BatchGD(epochs=0), SGD(epochs=0), LBFGS(epochs=0)], ids=lambda o: o.name)
def test_zero_epochs_return_a_copy_of_the_start(small, optimizer):
    problem, obj = small
    Theta = optimizer.minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: pytest.fail("no epoch"))
    assert_weights_equal(Theta, problem.Theta, tol=0)
    assert all(T is not T0 for T, T0 in zip(Theta, problem.Theta))


@pytest.mark.parametrize("make", [lambda: MiniBatch(batch_size=8), lambda: Momentum(batch_size=8),
                                  lambda: Adam(batch_size=8)])
def test_batch_size_larger_than_m_is_rejected_when_minimizing(small, make):
    problem, obj = small
    optimizer = make()  # m is not known on construction
    with pytest.raises(ValueError, match=r"batch_size=8 .*m = 7"):
        optimizer.minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_minibatch_batch_size_null_is_the_whole_batch_as_for_momentum_and_adam(small, backend):
    """batch_size null (None) means all m rows, one step an epoch, as _GradientSteps reads it for Momentum and
    Adam: the same steps as BatchGD's, prepared and trained on either backend (a TypeError before)."""
    problem, obj = small
    optimizer = MiniBatch(lr=0.4, epochs=3, batch_size=None, backend=backend)
    optimizer.prepare(obj, problem.Theta)
    Theta = optimizer.minimize(obj, problem.Theta, np.random.default_rng(0), lambda e, T: None)
    assert optimizer.steps_per_epoch(obj.m) == 1 and optimizer.backend_used == "numpy"
    expected = BatchGD(lr=0.4, epochs=3).minimize(obj, problem.Theta, None, lambda e, T: None)
    assert_weights_equal(Theta, expected, tol=0)


# --- 7. initializers -------------------------------------------------------------------------------

RANDOM_INITIALIZERS = [EpsilonUniform(), EpsilonUniform(eps=0.05), GlorotNormal(), HeNormal()]
ALL_INITIALIZERS = RANDOM_INITIALIZERS + [Constant(0.3), Zeros()]


@pytest.mark.parametrize("initializer", ALL_INITIALIZERS, ids=lambda i: i.name)
def test_initializer_shapes_and_no_global_random_state(initializer):
    state = np.random.get_state()
    Theta = initializer([64, 25, 7, 10], np.random.default_rng(0))
    assert [T.shape for T in Theta] == [(25, 65), (7, 26), (10, 8)]
    assert all(T.dtype == np.float64 for T in Theta)
    assert pickle.dumps(np.random.get_state()) == pickle.dumps(state)
    assert isinstance(initializer, Initializer)


@pytest.mark.parametrize("initializer", RANDOM_INITIALIZERS, ids=lambda i: i.name)
def test_same_seed_same_weights_different_seed_different(initializer):
    sizes = [10, 6, 3]
    a = initializer(sizes, np.random.default_rng(1))
    b = initializer(sizes, np.random.default_rng(1))
    c = initializer(sizes, np.random.default_rng(2))
    assert_weights_equal(a, b, tol=0)
    assert not np.any(unroll(a) == unroll(c))
    assert np.unique(unroll(a)).size == unroll(a).size  # every weight its own draw: no symmetry


def test_epsilon_uniform_stays_within_and_reaches_the_courses_bound():
    sizes = [400, 25, 10]
    Theta = EpsilonUniform()([400, 25, 10], np.random.default_rng(3))
    for T, (s_in, s_out) in zip(Theta, zip(sizes[:-1], sizes[1:])):
        eps = math.sqrt(6) / math.sqrt(s_in + s_out)
        assert np.max(np.abs(T)) <= eps
        # 10025 and 260 uniform draws nearly reach it (P(max < 0.999 eps) = 0.999^10025 ~ 4e-5)
        assert np.max(np.abs(T)) > (0.999 if T.size > 10_000 else 0.98) * eps
    assert math.sqrt(6) / math.sqrt(425) == pytest.approx(0.1188, abs=1e-4)  # the course's 0.12


def test_epsilon_uniform_with_a_fixed_eps():
    Theta = EpsilonUniform(eps=0.01)([30, 20, 5], np.random.default_rng(4))
    assert all(np.max(np.abs(T)) <= 0.01 for T in Theta)
    assert np.max(np.abs(Theta[0])) > 0.0099


@pytest.mark.parametrize("initializer, std", [(GlorotNormal(), math.sqrt(2 / (300 + 200))),
                                              (HeNormal(), math.sqrt(2 / 300))], ids=["glorot", "he"])
def test_normal_initializers_have_the_right_spread(initializer, std):
    T = initializer([300, 200], np.random.default_rng(5))[0]  # 60200 draws: std error ~0.3%
    assert np.std(T) == pytest.approx(std, rel=0.02)
    assert abs(np.mean(T)) < 0.02 * std


def test_constant_and_zeros():
    assert all(np.all(T == 0.3) for T in Constant(0.3)([3, 2, 1], np.random.default_rng(0)))
    assert all(np.all(T == 0.0) for T in Zeros()([3, 2, 1], np.random.default_rng(0)))


def test_from_file_round_trip(tmp_path):
    sizes = [5, 4, 3]
    Theta = EpsilonUniform()(sizes, np.random.default_rng(6))
    path = tmp_path / "weights.npz"
    np.savez(path, Theta1=Theta[0], Theta2=Theta[1])
    assert_weights_equal(FromFile(str(path))(sizes, np.random.default_rng(0)), Theta, tol=0)


def test_from_file_orders_theta10_after_theta9(tmp_path):
    path = tmp_path / "deep.npz"
    np.savez(path, **{f"Theta{i}": np.full((2, 3), float(i)) for i in range(1, 12)})
    assert [T[0, 0] for T in load_weights(str(path))] == [float(i) for i in range(1, 12)]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_from_file_refuses_weights_that_are_not_finite(tmp_path, bad):
    path = tmp_path / "weights.npz"
    Theta2 = np.zeros((3, 5))
    Theta2[1, 2] = bad
    np.savez(path, Theta1=np.zeros((4, 6)), Theta2=Theta2)
    with pytest.raises(ValueError, match=r"path='.*weights.npz' is invalid; accepted: finite weights "
                                         r"\(Theta2 holds NaN or inf\)"):
        FromFile(str(path))([5, 4, 3], np.random.default_rng(0))


def test_from_file_shape_mismatch_names_the_path_and_shapes(tmp_path):
    path = tmp_path / "weights.npz"
    np.savez(path, Theta1=np.zeros((4, 6)), Theta2=np.zeros((3, 5)))
    with pytest.raises(ValueError) as error:
        FromFile(str(path))([5, 3, 3], np.random.default_rng(0))
    message = str(error.value)
    assert str(path) in message and "[(3, 6), (3, 4)]" in message and "[(4, 6), (3, 5)]" in message


def test_from_file_refuses_pickled_objects(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, Theta1=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="pickled"):
        FromFile(str(path))([1, 1], np.random.default_rng(0))


@pytest.mark.parametrize("content", [b"not a zip", None])
def test_from_file_unreadable_or_misnamed(tmp_path, content):
    path = tmp_path / "weights.npz"
    if content is None:
        np.savez(path, Theta1=np.zeros((2, 3)), Theta3=np.zeros((1, 3)))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        FromFile(str(path))([2, 2, 1], np.random.default_rng(0))


@pytest.mark.parametrize("name", ["ThetaX", "Theta", "Theta0", "Theta01"])
def test_from_file_names_an_array_that_is_not_theta_and_a_layer_number(tmp_path, name):
    path = tmp_path / "weights.npz"
    np.savez(path, Theta1=np.zeros((2, 3)), Theta2=np.zeros((1, 3)), **{name: np.zeros(3)})
    with pytest.raises(ValueError, match=rf"^path='.*weights.npz' is invalid \(it holds an array named '{name}', not "
                                         r"Theta and a layer number from 1\); accepted: an .npz of numeric arrays "
                                         r"Theta1 .. ThetaN$"):
        FromFile(str(path))([2, 2, 1], np.random.default_rng(0))


# --- 9. every plugin rejects bad arguments on construction --------------------------------------

BAD_ARGUMENTS = [
    (BatchGD, "lr", 0), (BatchGD, "lr", -1.0), (BatchGD, "lr", "abc"), (BatchGD, "lr", float("nan")),
    (BatchGD, "lr", True), (BatchGD, "epochs", -1), (BatchGD, "epochs", 2.5),
    (SGD, "lr", 0.0), (SGD, "lr", "abc"), (SGD, "epochs", -3), (SGD, "shuffle", "yes"),
    (MiniBatch, "batch_size", 0), (MiniBatch, "batch_size", -2), (MiniBatch, "batch_size", 1.5),
    (Momentum, "momentum", 1.0), (Momentum, "momentum", 1.5), (Momentum, "momentum", -0.1),
    (Momentum, "momentum", "abc"), (Momentum, "batch_size", 0), (Momentum, "nesterov", "no"),
    (Adam, "lr", -0.01), (Adam, "beta1", 1.0), (Adam, "beta2", -0.5), (Adam, "epsilon", 0.0),
    (LBFGS, "epochs", -1), (CG, "epochs", "many"),
    (FeedForward, "hidden", []), (FeedForward, "hidden", [0]), (FeedForward, "hidden", [-3]),
    (FeedForward, "hidden", [25, 0]), (FeedForward, "hidden", "25"), (FeedForward, "hidden", [2.5]),
    (FeedForward, "activation", "foo"),
    (L2, "lam", -1.0), (L2, "lam", "abc"), (L1, "lam", -0.5),
    (EpsilonUniform, "eps", 0.0), (EpsilonUniform, "eps", -0.1), (EpsilonUniform, "eps", "abc"),
    (Constant, "value", float("inf")), (Constant, "value", "abc"),
    (FromFile, "path", "/no/such/weights.npz"),
]


@pytest.mark.parametrize("plugin, argument, value", BAD_ARGUMENTS,
                         ids=[f"{p.__name__}-{a}={v!r}" for p, a, v in BAD_ARGUMENTS])
def test_bad_arguments_raise_a_value_error_naming_argument_and_value(plugin, argument, value):
    with pytest.raises(ValueError, match=re.escape(f"{argument}={value!r}")):
        plugin(**{argument: value})


@pytest.mark.parametrize("plugin", [BatchGD, SGD, MiniBatch, Momentum, Adam, LBFGS, CG, FeedForward, L2, L1,
                                    NoRegularization, EpsilonUniform, Constant, Zeros, GlorotNormal, HeNormal,
                                    CrossEntropy, MeanSquaredError, SoftmaxCrossEntropy])
def test_defaults_construct_and_satisfy_their_protocols(plugin):
    instance = plugin()
    protocol = {"optimizers": Optimizer, "architecture": Architecture, "regularization": Regularization,
                "initializers": Initializer, "costs": Cost}[plugin.__module__.split(".")[-1]]
    assert isinstance(instance, protocol)


CHOICES_GIVEN_AS_LIST_OR_MAP = [(FeedForward, "activation", ["sigmoid"]), (FeedForward, "activation", {"a": 1}),
                                (MiniBatch, "backend", ["numba"]), (SGD, "lr_decay_per", {"epoch": 1})]


@pytest.mark.parametrize("plugin, argument, value", CHOICES_GIVEN_AS_LIST_OR_MAP,
                         ids=[f"{p.__name__}-{a}={v!r}" for p, a, v in CHOICES_GIVEN_AS_LIST_OR_MAP])
def test_a_list_or_map_for_a_named_choice_is_a_value_error_not_unhashable(plugin, argument, value):
    """activation=[sigmoid] on the command line: `value in ACTIVATIONS` (a dict) raised TypeError: unhashable."""
    with pytest.raises(ValueError, match=re.escape(f"{argument}={value!r} is invalid; accepted: ")):
        plugin(**{argument: value})


def test_architecture_layer_sizes():
    assert FeedForward().layer_sizes(64, 10) == [64, 25, 10]
    assert FeedForward(hidden=(8, 4)).layer_sizes(2, 2) == [2, 8, 4, 1]
    assert theta_shapes(FeedForward().layer_sizes(400, 10)) == [(25, 401), (10, 26)]


# --- 10. import boundaries -------------------------------------------------------------------------

def imported_modules(path):
    """Every absolute module name a file imports (import a.b -> a.b; from a.b import c -> a.b, a.b.c)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def python_files(folder):
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}"
    return files


@pytest.mark.parametrize("path", python_files("runner/core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_only_numpy_and_the_standard_library(path):
    forbidden = {"hydra", "omegaconf", "mlflow"}
    imports = imported_modules(path)
    assert not {name for name in imports if name.split(".")[0] in forbidden}
    assert not {name for name in imports if name.startswith("runner.") and not name.startswith("runner.core")}
    assert {name.split(".")[0] for name in imports} <= {"numpy", "runner", *sys.stdlib_module_names}


@pytest.mark.parametrize("path", python_files("plugins"), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_core_of_the_runner(path):
    imports = imported_modules(path)
    assert not {name for name in imports if name.split(".")[0] in {"hydra", "omegaconf", "mlflow"}}
    assert {name for name in imports if name == "runner" or name.startswith("runner.")} <= {
        name for name in imports if name == "runner.core" or name.startswith("runner.core.")}


def test_import_checker_sees_the_forms_it_must_catch(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import hydra\nfrom mlflow.tracking import MlflowClient\nimport omegaconf as oc\n"
                      "from runner import experiment\nfrom runner.core.network import roll\n")
    assert {"hydra", "mlflow.tracking", "omegaconf", "runner", "runner.experiment",
            "runner.core.network"} <= imported_modules(sample)
