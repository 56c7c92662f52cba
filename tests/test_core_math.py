"""The core's math against independent computations: the course's debug network, every
cost x regularization x activation by gradient checking and by the per-sample textbook
reference (tests/conftest.py), a network worked by hand, scikit-learn's MLP as a peer,
and properties of sigmoid, softmax and unrolling.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from conftest import random_problem
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.neural_network import MLPClassifier

from plugins.costs import CrossEntropy, MeanSquaredError, SoftmaxCrossEntropy, softmax
from plugins.regularization import L1, L2, NoRegularization
from runner.core.activations import get_activation, sigmoid
from runner.core.gradcheck import choose_mode, gradient_check, relative_difference
from runner.core.network import (NetworkObjective, accuracy, backprop, class_scores, confusion_matrix, forward,
                                 macro_f1, one_hot, predict, rms, roll, theta_shapes, unroll)
from runner.core.training import DivergenceGuard, Diverged, EarlyStopping, StoppedEarly

COSTS = {"cross_entropy": CrossEntropy, "mse": MeanSquaredError, "softmax_cross_entropy": SoftmaxCrossEntropy}
REGULARIZATIONS = {"l2": lambda: L2(lam=0.7), "l1": lambda: L1(lam=0.7), "none": NoRegularization}


def objective(problem, activation="sigmoid", cost="cross_entropy", regularization="none"):
    """The core's J(Theta) for a conftest.Problem."""
    return NetworkObjective(problem.X, problem.Y, get_activation(activation), COSTS[cost](),
                            REGULARIZATIONS[regularization]())


def check(obj, Theta, D=None, **kwargs):
    """gradient_check of obj's J around Theta, with obj's own D unless one is given."""
    if D is None:
        D = obj.value_and_gradient(Theta)[1]
    return gradient_check(obj.value, Theta, D, **kwargs)


# --- 1. The course's debug network (ex4 checkNNGradients) -------------------------------

def debug_initialize_weights(fan_out, fan_in):
    """ex4's debugInitializeWeights: reshape(sin(1:numel(W)), size(W)) / 10, MATLAB column-major."""
    rows, cols = fan_out, 1 + fan_in
    return np.sin(np.arange(1, rows * cols + 1)).reshape((rows, cols), order="F") / 10


@pytest.fixture
def debug_network():
    """3 inputs, 5 hidden, 3 outputs, m = 5, as checkNNGradients builds it; labels 1 + mod(1:m, 3) - 1."""
    Theta = [debug_initialize_weights(5, 3), debug_initialize_weights(3, 5)]
    X = debug_initialize_weights(5, 3 - 1)
    y = (1 + np.mod(np.arange(1, 6), 3)) - 1
    return Theta, X, y


def test_debug_network_inputs_are_the_courses(debug_network):
    Theta, X, y = debug_network
    assert [T.shape for T in Theta] == [(5, 4), (3, 6)] and X.shape == (5, 3)
    assert y.tolist() == [1, 2, 0, 1, 2]
    # MATLAB fills columns first: W(2,1) = sin(2)/10 and W(1,2) = sin(rows + 1)/10.
    assert Theta[0][1, 0] == np.sin(2) / 10 and Theta[0][0, 1] == np.sin(6) / 10


@pytest.mark.parametrize("lam", [0.0, 3.0])
def test_debug_network_gradient_check_and_cost(debug_network, textbook, lam):
    Theta, X, y = debug_network
    Y = one_hot(y, 3)
    obj = NetworkObjective(X, Y, get_activation("sigmoid"), CrossEntropy(), L2(lam=lam))
    J, D = obj.value_and_gradient(Theta)

    result = gradient_check(obj.value, Theta, D, mode="full")
    assert result.rel_error < 1e-9
    assert result.n_checked == 20 + 18 and result.n_evaluations == 2 * 38

    # The course's J, vectorized with the explicit column of ones.
    m = X.shape[0]
    a1 = np.hstack([np.ones((m, 1)), X])
    a2 = np.hstack([np.ones((m, 1)), 1 / (1 + np.exp(-(a1 @ Theta[0].T)))])
    h = 1 / (1 + np.exp(-(a2 @ Theta[1].T)))
    J_course = (np.sum(-Y * np.log(h) - (1 - Y) * np.log(1 - h)) / m
                + lam / (2 * m) * (np.sum(Theta[0][:, 1:] ** 2) + np.sum(Theta[1][:, 1:] ** 2)))
    assert J == pytest.approx(J_course, rel=1e-13)
    assert J == pytest.approx(2.100950569902465 if lam == 0 else 2.146359815024358, rel=1e-13)

    J_ref, D_ref = textbook.cost_and_gradient(Theta, X, Y, regularization="l2", lam=lam)
    assert J == pytest.approx(J_ref, rel=1e-13)
    for Dl, Dl_ref in zip(D, D_ref):
        np.testing.assert_allclose(Dl, Dl_ref, rtol=1e-12, atol=1e-15)


# --- every cost x regularization x activation -------------------------------------------

NETWORKS = {"4-5-3": [4, 5, 3], "4-3-1": [4, 3, 1], "3-4-3-2": [3, 4, 3, 2]}


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("regularization", ["l2", "l1", "none"])
@pytest.mark.parametrize("cost", ["cross_entropy", "mse", "softmax_cross_entropy"])
def test_gradients_of_every_combination(textbook, cost, regularization, activation, network):
    problem = random_problem(NETWORKS[network], m=6, seed=1, activation=activation)
    obj = objective(problem, activation, cost, regularization)
    J, D = obj.value_and_gradient(problem.Theta)

    assert check(obj, problem.Theta, D, mode="full").rel_error < 1e-7

    lam = 0.0 if regularization == "none" else 0.7
    J_ref, D_ref = textbook.cost_and_gradient(problem.Theta, problem.X, problem.Y, activation, cost,
                                              regularization, lam)
    assert J == pytest.approx(J_ref, rel=1e-12)
    for Dl, Dl_ref in zip(D, D_ref):
        np.testing.assert_allclose(Dl, Dl_ref, rtol=1e-10, atol=1e-14)


def test_value_and_gradient_agree_with_value_and_do_not_change_theta():
    problem = random_problem([4, 5, 3], seed=2)
    obj = objective(problem, regularization="l2")
    before = [T.copy() for T in problem.Theta]
    J, _ = obj.value_and_gradient(problem.Theta)
    assert J == obj.value(problem.Theta)
    for T, T0 in zip(problem.Theta, before):
        np.testing.assert_array_equal(T, T0)


def test_rows_use_their_own_mean_but_the_penalty_uses_the_full_m(textbook):
    problem = random_problem([4, 5, 3], m=8, seed=3)
    obj = objective(problem, regularization="l2")
    rows = np.array([1, 4, 6])
    J, D = obj.value_and_gradient(problem.Theta, rows)
    J_ref, D_ref = textbook.cost_and_gradient(problem.Theta, problem.X[rows], problem.Y[rows],
                                              regularization="l2", lam=0.7, m=8)
    assert J == pytest.approx(J_ref, rel=1e-12)
    assert obj.value(problem.Theta, rows) == pytest.approx(J_ref, rel=1e-12)
    for Dl, Dl_ref in zip(D, D_ref):
        np.testing.assert_allclose(Dl, Dl_ref, rtol=1e-12, atol=1e-15)


# --- gradient_check's modes --------------------------------------------------------------

@pytest.fixture
def checked():
    """A 4-5-3 problem (43 weights) with its objective and correct D."""
    problem = random_problem([4, 5, 3], seed=4)
    obj = objective(problem, regularization="l2")
    return obj, problem.Theta, obj.value_and_gradient(problem.Theta)[1]


@pytest.mark.parametrize("mode", ["full", "sample", "direction"])
def test_every_mode_passes_a_correct_gradient_and_catches_a_scaled_one(checked, mode):
    obj, Theta, D = checked
    rng = np.random.default_rng(0)
    assert gradient_check(obj.value, Theta, D, mode=mode, n_samples=10, rng=rng).rel_error < 1e-7
    wrong = [1.1 * Dl for Dl in D]
    assert gradient_check(obj.value, Theta, wrong, mode=mode, n_samples=10, rng=rng).rel_error > 1e-2


def test_sample_and_direction_modes_count_their_work(checked):
    obj, Theta, D = checked
    sample = gradient_check(obj.value, Theta, D, mode="sample", n_samples=10)
    assert (sample.mode, sample.n_checked, sample.n_evaluations) == ("sample", 10, 20)
    direction = gradient_check(obj.value, Theta, D, mode="direction")
    assert (direction.mode, direction.n_checked, direction.n_evaluations) == ("direction", 1, 2)
    capped = gradient_check(obj.value, Theta, D, mode="sample", n_samples=10_000)
    assert capped.n_checked == unroll(Theta).size == 43


def test_full_mode_catches_one_wrong_coordinate(checked):
    obj, Theta, D = checked
    wrong = [Dl.copy() for Dl in D]
    wrong[0][2, 3] += 0.05
    assert gradient_check(obj.value, Theta, wrong).rel_error > 1e-3


def test_gradient_check_leaves_theta_unchanged_and_rejects_bad_arguments(checked):
    obj, Theta, D = checked
    before = unroll(Theta).copy()
    gradient_check(obj.value, Theta, D)
    np.testing.assert_array_equal(unroll(Theta), before)
    with pytest.raises(ValueError, match="mode='exact'"):
        gradient_check(obj.value, Theta, D, mode="exact")
    with pytest.raises(ValueError, match="eps=0"):
        gradient_check(obj.value, Theta, D, eps=0)


def test_relative_difference_and_mode_choice():
    assert relative_difference(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_difference(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_difference(np.array([1.0, -1.0]), np.array([-1.0, 1.0])) == float("inf")
    assert relative_difference(np.array([3.0]), np.array([1.0])) == pytest.approx(0.5)
    assert choose_mode(5000) == "full" and choose_mode(5001) == "sample"


# --- 2. A network worked by hand ----------------------------------------------------------

def test_one_one_one_network_by_hand():
    """1 input, 1 hidden sigmoid unit, 1 sigmoid output; x = 2, y = 1.

    z2 = 0.5 + (-1)(2)                   = -1.5
    a2 = 1 / (1 + exp(1.5))              = 0.18242552380635635
    z3 = -0.25 + 2 a2                    = 0.1148510476127127
    h  = 1 / (1 + exp(-z3))              = 0.5286812415435106
    J  = -log(h)                         = 0.6373695967115581
    delta3 = h - y                       = -0.4713187584564894
    delta2 = Theta2_11 delta3 a2 (1 - a2) = 2 (-0.4713...) (0.1824...)(0.8175...) = -0.1405910412359592
    D1 = delta2 [1, x]                   = [-0.1405910412359592, -0.2811820824719184]
    D2 = delta3 [1, a2]                  = [-0.4713187584564894, -0.08598057139118663]
    With lam = 1, m = 1: J += (1/2)((-1)^2 + 2^2) = 3.137369596711558,
    D1_11 += 1 * (-1) -> -1.2811820824719184, D2_11 += 1 * 2 -> 1.9140194286088135; biases unchanged.
    """
    Theta = [np.array([[0.5, -1.0]]), np.array([[-0.25, 2.0]])]
    X, Y = np.array([[2.0]]), np.array([[1.0]])
    g, cost = get_activation("sigmoid"), CrossEntropy()

    a, z = forward(Theta, X, g, cost)
    assert a[1][0, 0] == pytest.approx(0.18242552380635635, abs=1e-15)
    assert z[0, 0] == pytest.approx(0.1148510476127127, abs=1e-15)
    assert a[2][0, 0] == pytest.approx(0.5286812415435106, abs=1e-15)
    delta3 = cost.delta(z, a[-1], Y)
    assert delta3[0, 0] == pytest.approx(-0.4713187584564894, abs=1e-15)
    D = backprop(Theta, a, delta3, g)
    assert D[0][0].tolist() == pytest.approx([-0.1405910412359592, -0.2811820824719184], abs=1e-12)
    assert D[1][0].tolist() == pytest.approx([-0.4713187584564894, -0.08598057139118663], abs=1e-12)

    J, D = NetworkObjective(X, Y, g, cost, NoRegularization()).value_and_gradient(Theta)
    assert J == pytest.approx(0.6373695967115581, abs=1e-12)

    J, D = NetworkObjective(X, Y, g, cost, L2(lam=1.0)).value_and_gradient(Theta)
    assert J == pytest.approx(3.137369596711558, abs=1e-12)
    assert D[0][0].tolist() == pytest.approx([-0.1405910412359592, -1.2811820824719184], abs=1e-12)
    assert D[1][0].tolist() == pytest.approx([-0.4713187584564894, 1.9140194286088135], abs=1e-12)


def test_softmax_output_by_hand():
    """z = [0, ln 3] -> h = [1/4, 3/4]; with y = class 1, J = -ln(3/4), delta = [1/4, -1/4]."""
    cost = SoftmaxCrossEntropy()
    z = np.array([[0.0, math.log(3.0)]])
    h = cost.output(z)
    Y = one_hot(np.array([1]), 2)
    assert h[0].tolist() == pytest.approx([0.25, 0.75], abs=1e-15)
    assert cost.value(z, h, Y) == pytest.approx(-math.log(0.75), abs=1e-15)
    assert cost.delta(z, h, Y)[0].tolist() == pytest.approx([0.25, -0.25], abs=1e-15)


# --- 5. scikit-learn's MLPClassifier as a peer ---------------------------------------------

SKLEARN_ACTIVATION = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}


def sklearn_loss_and_gradients(Theta, X, y, activation, lam):
    """sklearn's loss and (coef, intercept) gradients at the weights Theta, from its own _backprop."""
    hidden = tuple(T.shape[0] for T in Theta[:-1])
    mlp = MLPClassifier(hidden_layer_sizes=hidden, activation=SKLEARN_ACTIVATION[activation], alpha=lam,
                        solver="sgd", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.partial_fit(X, y, classes=np.unique(y))
    mlp.coefs_ = [T[:, 1:].T.copy() for T in Theta]
    mlp.intercepts_ = [T[:, 0].copy() for T in Theta]
    Y = mlp._label_binarizer.transform(y).astype(float)
    activations = [X] + [None] * len(Theta)
    deltas = [None] * len(Theta)
    coef_grads = [np.empty_like(c) for c in mlp.coefs_]
    intercept_grads = [np.empty_like(b) for b in mlp.intercepts_]
    loss, coef_grads, intercept_grads = mlp._backprop(X, Y, None, activations, deltas, coef_grads,
                                                      intercept_grads)
    return mlp, loss, coef_grads, intercept_grads


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("sizes, cost", [([4, 5, 1], CrossEntropy), ([4, 5, 1], SoftmaxCrossEntropy),
                                         ([4, 5, 3], SoftmaxCrossEntropy), ([4, 5, 4, 3], SoftmaxCrossEntropy)])
@pytest.mark.parametrize("lam", [0.0, 0.7])
def test_cost_and_gradients_equal_sklearn_mlp(sizes, cost, activation, lam):
    problem = random_problem(sizes, m=9, seed=5, activation=activation)
    mlp, loss, coef_grads, intercept_grads = sklearn_loss_and_gradients(
        problem.Theta, problem.X, problem.y, activation, lam)
    assert mlp.out_activation_ == ("logistic" if sizes[-1] == 1 else "softmax")

    obj = NetworkObjective(problem.X, problem.Y, get_activation(activation), cost(), L2(lam=lam))
    J, D = obj.value_and_gradient(problem.Theta)
    assert J == pytest.approx(loss, rel=1e-10, abs=1e-12)
    for Dl, coef_grad, intercept_grad in zip(D, coef_grads, intercept_grads):
        np.testing.assert_allclose(Dl[:, 1:], coef_grad.T, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(Dl[:, 0], intercept_grad, rtol=1e-10, atol=1e-12)
    # predictions agree too
    np.testing.assert_array_equal(predict(problem.Theta, problem.X, get_activation(activation), cost()),
                                  mlp._label_binarizer.classes_[np.argmax(mlp.predict_proba(problem.X), 1)])


# --- forward, predict, one_hot, shapes ------------------------------------------------------

def test_theta_shapes_one_hot_and_predict():
    assert theta_shapes([400, 25, 10]) == [(25, 401), (10, 26)]
    np.testing.assert_array_equal(one_hot(np.array([2, 0, 1]), 3), np.eye(3)[[2, 0, 1]])
    np.testing.assert_array_equal(one_hot(np.array([1, 0]), 1), [[1.0], [0.0]])

    # K = 1: h >= 0.5 is class 1. Output z = -x, so x < 0 predicts 1.
    Theta = [np.array([[0.0, -1.0]])]
    X = np.array([[-3.0], [2.0], [0.0]])
    g, cost = get_activation("sigmoid"), CrossEntropy()
    np.testing.assert_array_equal(predict(Theta, X, g, cost), [1, 0, 1])
    assert accuracy(Theta, X, np.array([1, 1, 1]), g, cost) == pytest.approx(2 / 3)


def test_unknown_activation_is_a_value_error():
    with pytest.raises(ValueError, match="activation='swish'"):
        get_activation("swish")


def test_divergence_guard():
    guard = DivergenceGuard(factor=10.0)
    guard.check(0, 0.5)          # the limit is 10 x max(J0, 1) = 10
    guard.check(1, 9.9)
    with pytest.raises(Diverged) as error:
        guard.check(2, 10.5)
    assert error.value.epoch == 2
    with pytest.raises(Diverged, match="nan"):
        DivergenceGuard().check(3, float("nan"))


def test_early_stopping_stops_patience_epochs_after_the_last_improvement_by_more_than_min_delta():
    stopping = EarlyStopping(patience=3)
    for epoch, val_cost in enumerate([5.0, 4.0, 4.5, 3.9, 3.95, 4.1]):
        stopping.check(epoch, val_cost)  # best 3.9 at epoch 3; epochs 4 and 5 are 1 and 2 past it
    with pytest.raises(StoppedEarly, match=r"at epoch 6: val_cost has not improved on 3.9 \(epoch 3\) for 3"):
        stopping.check(6, 3.9)  # equal is no improvement
    strict = EarlyStopping(patience=2, min_delta=0.5)
    strict.check(0, 5.0)
    strict.check(1, 4.6)  # lower, but by less than min_delta: patience counts on from 5.0 at epoch 0
    with pytest.raises(StoppedEarly) as error:
        strict.check(2, 4.55)  # the lowest, 4.55, is what restore_best would end with
    assert (error.value.epoch, strict.improved_epoch, strict.improved, strict.best_epoch, strict.best) == \
        (2, 0, 5.0, 2, 4.55)
    never = EarlyStopping(patience=0)
    for epoch in range(100):
        never.check(epoch, float(epoch))  # rising all along, and never stopped
    assert never.best_epoch == 0 and never.best == 0.0


def test_early_stopping_keeps_a_copy_of_the_best_weights_and_notes_the_last_epoch_without_stopping():
    stopping = EarlyStopping(patience=2, keep_best=True)
    Theta = [np.zeros((2, 3))]
    for epoch, val_cost in enumerate([5.0, 4.0, 4.5]):
        Theta[0][:] = epoch  # the optimizer updates its weights in place
        stopping.check(epoch, val_cost, Theta)
    assert stopping.best_epoch == 1 and np.all(stopping.best_weights[0] == 1)  # a copy: not moved by epoch 2
    stopping.check(3, 4.2, Theta, may_stop=False)  # 2 epochs past the best, but training is over: no stop
    stopping.check(4, 3.0, [np.full((2, 3), 4.0)], may_stop=False)  # an improvement is still noted
    assert (stopping.best_epoch, stopping.best) == (4, 3.0) and np.all(stopping.best_weights[0] == 4)
    assert EarlyStopping(patience=2).best_weights is None  # keep_best off: no copies
    plain = EarlyStopping(patience=2)
    plain.check(0, 1.0, Theta)
    assert plain.best_weights is None


# --- 7. properties ---------------------------------------------------------------------------

finite_z = st.floats(-1e3, 1e3, allow_nan=False)


@given(arrays(np.float64, st.integers(1, 50), elements=finite_z))
def test_sigmoid_is_in_0_1_and_monotone(z):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = sigmoid(z)
    assert np.all((s >= 0) & (s <= 1))
    order = np.argsort(z, kind="stable")
    assert np.all(np.diff(s[order]) >= 0)
    np.testing.assert_allclose(s + sigmoid(-z), 1.0, atol=1e-15)


@given(st.floats(-30, 30))
def test_sigmoid_matches_the_plain_formula(z):
    assert sigmoid(np.array([z]))[0] == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-14)


@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(2, 5)), elements=finite_z))
def test_softmax_rows_are_probabilities_that_sum_to_1(z):
    h = softmax(z)
    assert np.all((h >= 0) & (h <= 1))
    np.testing.assert_allclose(h.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(softmax(z + 123.0), h, rtol=1e-12, atol=1e-300)


@given(st.lists(st.integers(1, 6), min_size=2, max_size=5), st.integers(0, 2**32 - 1))
def test_roll_unroll_round_trip(layer_sizes, seed):
    shapes = theta_shapes(layer_sizes)
    Theta = [np.random.default_rng(seed).standard_normal(shape) for shape in shapes]
    theta = unroll(Theta)
    assert theta.shape == (sum(r * c for r, c in shapes),)
    back = roll(theta, shapes)
    assert [T.shape for T in back] == shapes
    for T, T_back in zip(Theta, back):
        np.testing.assert_array_equal(T, T_back)
    np.testing.assert_array_equal(unroll(back), theta)


def test_unroll_order_is_layer_by_layer_row_major_and_roll_rejects_a_wrong_size():
    Theta = [np.arange(6.0).reshape(2, 3), np.arange(6.0, 9.0).reshape(1, 3)]
    np.testing.assert_array_equal(unroll(Theta), np.arange(9.0))
    with pytest.raises(ValueError, match="8 weights"):
        roll(np.zeros(8), [(2, 3), (1, 3)])


@pytest.mark.parametrize("cost", [CrossEntropy(), SoftmaxCrossEntropy(), MeanSquaredError()])
@pytest.mark.parametrize("layer_sizes", [[4, 5, 3], [4, 3, 1]])
def test_value_and_accuracy_from_one_forward_pass_equal_value_and_accuracy(cost, layer_sizes):
    p = random_problem(layer_sizes, m=40)
    g = get_activation("tanh")
    objective = NetworkObjective(p.X, p.Y, g, cost, L2(lam=0.7))
    J, fraction = objective.value_and_accuracy(p.Theta, p.y)
    assert J == pytest.approx(objective.value(p.Theta), rel=1e-14)
    assert fraction == accuracy(p.Theta, p.X, p.y, g, cost)


@pytest.mark.parametrize("regularization", ["l2", "l1", "none"])
def test_data_cost_is_j_of_the_same_network_without_its_penalty(regularization):
    p = random_problem([4, 5, 3], m=30)
    g, cost = get_activation("sigmoid"), CrossEntropy()
    penalized = NetworkObjective(p.X, p.Y, g, cost, REGULARIZATIONS[regularization]())
    unpenalized = NetworkObjective(p.X, p.Y, g, cost, NoRegularization())
    assert penalized.data_cost(p.Theta) == pytest.approx(unpenalized.value(p.Theta), rel=1e-14)
    penalty = penalized.regularization.penalty(p.Theta, penalized.m)
    assert penalized.data_cost(p.Theta) == pytest.approx(penalized.value(p.Theta) - penalty, rel=1e-12)
    if regularization != "none":
        assert penalty > 0.01  # so the test tells the data term from J


def labelled(max_classes: int):
    """Hypothesis cases (K, true labels, predicted labels): 1 to 60 samples of K classes."""
    pairs = st.integers(2, max_classes).flatmap(lambda K: st.tuples(st.just(K), st.lists(
        st.tuples(st.integers(0, K - 1), st.integers(0, K - 1)), min_size=1, max_size=60)))
    return pairs.map(lambda case: (case[0], *(np.array(column) for column in zip(*case[1]))))


@given(labelled(12))
def test_confusion_matrix_equals_scikit_learns_with_every_class_a_row_and_a_column(case):
    from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix

    K, y, predicted = case
    counts = confusion_matrix(y, predicted, K)
    np.testing.assert_array_equal(counts, sklearn_confusion_matrix(y, predicted, labels=range(K)))
    assert counts.shape == (K, K) and np.trace(counts) == np.sum(y == predicted)


@given(labelled(8))
def test_class_scores_and_macro_f1_equal_scikit_learns(case):
    import warnings

    from sklearn.metrics import f1_score, precision_recall_fscore_support

    K, y, predicted = case
    counts = confusion_matrix(y, predicted, K)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns where a class has no prediction or no sample
        expected = precision_recall_fscore_support(y, predicted, labels=range(K), zero_division=0)
        macro = f1_score(y, predicted, average="macro", zero_division=0)
    for ours, theirs in zip(class_scores(counts), expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=0)
    assert macro_f1(counts) == pytest.approx(macro, rel=1e-12)


def test_class_scores_worked_by_hand():
    counts = np.array([[8, 2, 0], [1, 4, 0], [0, 0, 0]])  # class 2: no sample, never predicted
    precision, recall, f1, support = class_scores(counts)
    np.testing.assert_allclose(precision, [8 / 9, 4 / 6, 0])
    np.testing.assert_allclose(recall, [0.8, 0.8, 0])
    np.testing.assert_allclose(f1, [2 * (8 / 9) * 0.8 / (8 / 9 + 0.8), 2 * (2 / 3) * 0.8 / (2 / 3 + 0.8), 0])
    assert list(support) == [10, 5, 0] and macro_f1(counts) == pytest.approx((f1[0] + f1[1]) / 2)


def test_rms_is_the_root_mean_square_of_each_matrix_worked_by_hand():
    D = [np.array([[3.0, -4.0]]), np.array([[1.0], [-1.0], [1.0], [-1.0]]), np.zeros((2, 2), dtype=np.float32)]
    assert rms(D) == [math.sqrt(12.5), 1.0, 0.0]  # sqrt((9 + 16) / 2), sqrt(4 / 4), 0


def test_the_cost_along_the_line_is_the_cost_of_the_interpolated_weights_worked_by_hand():
    from runner.core.landscape import LINE_POINTS, cost_along_line

    Theta0, Theta1 = [np.array([[1.0, 2.0]]), np.array([[0.0]])], [np.array([[3.0, 2.0]]), np.array([[-1.0]])]
    # sum of squares of (1 + 2t, 2, -t): (1 + 2t)^2 + 4 + t^2
    J = cost_along_line(lambda Theta: sum(float(np.sum(T ** 2)) for T in Theta), Theta0, Theta1,
                        np.array([-1.0, 0.0, 0.5, 1.0]))
    np.testing.assert_allclose(J, [1 + 4 + 1, 1 + 4, 4 + 4 + 0.25, 9 + 4 + 1], rtol=1e-15)
    assert LINE_POINTS[0] == -0.25 and LINE_POINTS[-1] == 1.25 and {0.0, 1.0} <= set(LINE_POINTS)
    assert np.all(np.diff(LINE_POINTS) > 0)

