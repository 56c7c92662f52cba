"""Training end to end on the core and plugins (no runner): symmetric starts stay symmetric,
a larger lambda gives smaller weights, and each default optimizer learns the digits.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plugins.architecture import FeedForward
from plugins.costs import CrossEntropy
from plugins.datasets import Digits
from plugins.initializers import Constant, EpsilonUniform, Zeros
from plugins.optimizers import LBFGS, SGD, BatchGD
from plugins.regularization import L2
from runner.core.activations import get_activation
from runner.core.network import NetworkObjective, accuracy, one_hot
from runner.core.training import train


def blobs(m, n, K, seed):
    """m points in n dimensions, labelled by the nearest of K random centres (a learnable problem)."""
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((K, n))
    X = rng.standard_normal((m, n))
    y = np.argmin(((X[:, None, :] - centres) ** 2).sum(axis=2), axis=1)
    return X, y


def blob_objective(lam, seed=0, m=40, n=4, K=3, activation="sigmoid"):
    X, y = blobs(m, n, K, seed)
    return NetworkObjective(X, one_hot(y, K), get_activation(activation), CrossEntropy(), L2(lam=lam))


# --- 6. symmetry -----------------------------------------------------------------------------------

OPTIMIZERS = {"batch_gd": lambda: BatchGD(lr=1.0, epochs=25), "sgd": lambda: SGD(lr=0.2, epochs=3)}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("initializer", [Zeros(), Constant(0.3)], ids=["zeros", "constant"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_a_symmetric_start_keeps_hidden_units_identical(initializer, optimizer, activation):
    obj = blob_objective(lam=0.5, activation=activation)
    Theta0 = initializer([4, 6, 3], np.random.default_rng(0))
    Theta = OPTIMIZERS[optimizer]().minimize(obj, Theta0, np.random.default_rng(0), lambda e, T: None)

    assert not np.allclose(Theta[1], Theta0[1])  # it trained
    if not (activation == "tanh" and isinstance(initializer, Zeros)):
        # (tanh from zeros sits on a saddle: a = tanh(0) = 0, so only the output biases ever move)
        assert not np.allclose(Theta[0], Theta0[0])
    scale = np.max(np.abs(Theta[0]))
    for row in Theta[0][1:]:  # every hidden unit has the first one's incoming weights
        np.testing.assert_allclose(row, Theta[0][0], rtol=1e-12, atol=1e-12 * scale)
    for column in Theta[1][:, 2:].T:  # and the same outgoing weights
        np.testing.assert_allclose(column, Theta[1][:, 1], rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_a_random_start_gives_distinct_hidden_units(optimizer):
    obj = blob_objective(lam=0.5)
    Theta0 = EpsilonUniform()([4, 6, 3], np.random.default_rng(0))
    Theta = OPTIMIZERS[optimizer]().minimize(obj, Theta0, np.random.default_rng(0), lambda e, T: None)
    distances = [np.linalg.norm(a - b) for a, b in itertools.combinations(Theta[0], 2)]
    assert min(distances) > 1e-2


# --- 7. a larger lambda gives smaller weights ------------------------------------------------------

def non_bias_norm(Theta):
    return float(np.sqrt(sum(np.sum(T[:, 1:] ** 2) for T in Theta)))


@settings(max_examples=8, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000))
def test_larger_lambda_gives_smaller_weights(seed):
    norms = {}
    for lam in (0.1, 10.0):
        obj = blob_objective(lam, seed=seed, m=30, n=3)
        Theta0 = EpsilonUniform()([3, 5, 3], np.random.default_rng(seed))
        Theta = LBFGS(epochs=300).minimize(obj, Theta0, np.random.default_rng(seed), lambda e, T: None)
        norms[lam] = non_bias_norm(Theta)
    assert norms[10.0] < norms[0.1]


# --- 8. the defaults learn the digits --------------------------------------------------------------

DEFAULT_OPTIMIZERS = {"lbfgs": LBFGS, "batch_gd": BatchGD, "sgd": SGD}
SEED = 0  # conf/config.yaml's seed


@pytest.fixture(scope="module")
def digits_runs():
    """Each default optimizer trained once, seeded as the runner seeds a run (SeedSequence(seed).spawn(4)).

    Defaults: 25 sigmoid hidden units, EpsilonUniform, lam = 1, cross-entropy, standard scaling.
    """
    runs = {}
    for name, make in DEFAULT_OPTIMIZERS.items():
        data_rng, init_rng, optimizer_rng, _ = (
            np.random.default_rng(s) for s in np.random.SeedSequence(SEED).spawn(4))
        splits = Digits().load(data_rng)
        architecture = FeedForward()
        sizes = architecture.layer_sizes(splits.n_features, splits.n_classes)
        g, cost = get_activation(architecture.activation), CrossEntropy()
        obj = NetworkObjective(splits.train.X, one_hot(splits.train.y, sizes[-1]), g, cost, L2(lam=1.0))
        Theta0 = EpsilonUniform()(sizes, init_rng)
        epochs = []
        Theta = train(obj, Theta0, make(), optimizer_rng, lambda epoch, T: epochs.append(epoch))
        runs[name] = {
            "epochs": epochs, "J0": obj.value(Theta0), "J": obj.value(Theta),
            "train": accuracy(Theta, splits.train.X, splits.train.y, g, cost),
            "test": accuracy(Theta, splits.test.X, splits.test.y, g, cost),
        }
    return runs


@pytest.mark.parametrize("name", DEFAULT_OPTIMIZERS)
def test_default_optimizers_reach_97_percent_on_the_digits(digits_runs, name):
    """Over seeds 0-9 the defaults score 0.961-0.986 (LBFGS 0.969-0.983): 97% is a tight bar on one split."""
    run = digits_runs[name]
    assert run["epochs"][0] == 0 and run["epochs"] == list(range(len(run["epochs"])))
    assert run["J"] < run["J0"] / 10
    assert run["train"] >= 0.99, run
    assert run["test"] >= 0.97, run
