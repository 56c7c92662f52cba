"""Optimizer plugins. Each minimizes the same J(Theta) and calls callback(epoch, Theta) after every epoch.

Optimizers see only the objective's J and D: lambda lives in the cost side, so a
per-sample or mini-batch step uses that batch's mean data gradient plus the
penalty's gradient with m = the training-set size, exactly as the full batch does.
Their learning rate may decay with time (`lr_decay`, inverse time), counted in epochs or in steps (`lr_decay_per`).

SGD and MiniBatch run their epochs compiled (plugins.compiled_steps, `backend: numba`)
when the objective's cost, activation and penalty are ones the compiled loop mirrors
and, for batches of b > 1 rows, the network is small enough that the row loop beats
numpy's matrix products; otherwise they run this module's numpy loop. `backend_used`
says which ran.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from plugins._checks import (is_number, non_negative_integer, non_negative_number, one_of, positive_integer,
                             positive_number, require)
from runner.core.network import roll, unroll

BACKENDS = ("numba", "numpy")
DECAY_UNITS = ("epoch", "step")
COMPILED_BATCH_WORK = 250_000  # batch rows x weights; above it numpy's matrix products beat the compiled row loop
# (measured on digits, b = 8..128: at 240k rows x weights numba is 5-16% faster for b <= 16, numpy 7-30% for b >= 32;
# at 480k numpy wins for every b, by up to 1.45x)


@dataclass
class _GradientSteps:
    """Shared loop of the first-order optimizers: batches per epoch, one `update` per batch."""

    lr: float = 0.1
    epochs: int = 100
    batch_size: int | None = None
    shuffle: bool = True
    lr_decay: float = 0.0
    lr_decay_per: str = "epoch"
    rate: float | None = field(default=None, init=False, repr=False)  # the latest step's learning rate

    def __post_init__(self):
        positive_number("lr", self.lr)
        non_negative_number("lr_decay", self.lr_decay)
        one_of("lr_decay_per", self.lr_decay_per, DECAY_UNITS)
        non_negative_integer("epochs", self.epochs)
        if self.batch_size is not None:
            positive_integer("batch_size", self.batch_size)
        require(isinstance(self.shuffle, bool), "shuffle", self.shuffle, "true or false")

    def minimize(self, objective, Theta, rng, callback):
        m = objective.m
        require(self.batch_size is None or self.batch_size <= m, "batch_size", self.batch_size,
                f"an integer from 1 to the training-set size m = {m}")
        Theta = [T.copy() for T in Theta]
        state = self.start(Theta)
        steps = self.steps_per_epoch(m)
        for epoch in range(1, self.epochs + 1):
            rates = self.step_sizes(epoch, steps)
            for n, rows in enumerate(self.batches(m, rng)):
                D = objective.gradient(Theta, rows)
                self.update(Theta, D, state, float(rates[n]))
            callback(epoch, Theta)
        return Theta

    def whole_batch(self, m: int) -> bool:
        """Whether an epoch over m samples is one step on all of them, in their order."""
        return self.batch_size is None or self.batch_size >= m and not self.shuffle

    def steps_per_epoch(self, m: int) -> int:
        """Updates in one epoch over m samples: one for the whole batch, else one per batch of batch_size rows."""
        return 1 if self.whole_batch(m) else -(-m // self.batch_size)

    def step_sizes(self, epoch: int, steps: int) -> np.ndarray:
        """The learning rate of each of the `steps` steps of epoch t (1, 2, ...), inverse-time decay:
        lr / (1 + lr_decay (t - 1)) for every step of the epoch (lr_decay_per: epoch), or lr / (1 + lr_decay (k - 1))
        for the k-th step since training began (lr_decay_per: step), the course's alpha = const1 / (iteration +
        const2) with const1 = lr / lr_decay and const2 = 1 / lr_decay - 1; lr_decay = 0: lr, constant."""
        if self.lr_decay_per == "step":
            first = (epoch - 1) * steps  # k - 1 of the epoch's first step
            rates = self.lr / (1 + self.lr_decay * np.arange(first, first + steps, dtype=np.float64))
        else:
            rates = np.full(steps, self.lr / (1 + self.lr_decay * (epoch - 1)))
        self.rate = float(rates[-1])
        return rates

    def batches(self, m, rng):
        """The rows of each update in one epoch: all at once, or shuffled/sequential batches."""
        if self.whole_batch(m):
            yield None
            return
        order = rng.permutation(m) if self.shuffle else np.arange(m)
        for start in range(0, m, self.batch_size):
            rows = order[start : start + self.batch_size]
            yield slice(rows[0], rows[0] + 1) if rows.size == 1 else np.sort(rows)

    def start(self, Theta):
        """Optimizer state (velocities, moments) for the given weights."""
        return None

    def update(self, Theta, D, state, lr):
        """Plain gradient step, in place: Theta(l) := Theta(l) - lr * D(l) (D is this step's own, so scaled in place)."""
        for T, Dl in zip(Theta, D):
            Dl *= lr
            T -= Dl


@dataclass
class _PlainSteps(_GradientSteps):
    """Plain steps in b-row batches, compiled with numba when the objective allows (`backend`)."""

    backend: str = "numba"

    def __post_init__(self):
        super().__post_init__()
        one_of("backend", self.backend, BACKENDS)

    def _epoch_for(self, objective, Theta):
        """The compiled epoch when `backend` and the network's size allow it, else None (numpy's loop).
        batch_size null is the whole batch, as for Momentum and Adam: one step an epoch on all m rows, the
        matrix products numpy's loop makes (BatchGD's update)."""
        if self.batch_size is None:
            return None
        work = self.batch_size * sum(T.size for T in Theta)
        compiled = self.backend == "numba" and (self.batch_size == 1 or work <= COMPILED_BATCH_WORK)
        return compiled_epoch(objective) if compiled else None

    def prepare(self, objective, Theta):
        """Before the clock starts (runner.experiment): import numba and load the compiled epoch for
        these dtypes from its cache, by one step on a copy of Theta, so that a run's train_seconds
        times its training and not this (about 0.5 s, once a process). Theta and rng are untouched."""
        epoch_of = self._epoch_for(objective, Theta)
        if epoch_of is not None and objective.m > 0:
            shapes = [T.shape for T in Theta]
            layer_sizes = [shapes[0][1] - 1] + [rows for rows, _ in shapes]
            rows = 1 if self.batch_size == 1 else 2  # the per-sample or the batch kernel, whichever minimize runs
            epoch_of(unroll(Theta).astype(objective.X.dtype), layer_sizes, np.zeros(rows, np.int64), rows,
                     np.full(1, self.lr))

    def minimize(self, objective, Theta, rng, callback):
        epoch_of = self._epoch_for(objective, Theta)
        self.backend_used = "numba" if epoch_of else "numpy"
        if epoch_of is None:
            return super().minimize(objective, Theta, rng, callback)
        m = objective.m
        require(self.batch_size <= m, "batch_size", self.batch_size,
                f"an integer from 1 to the training-set size m = {m}")
        shapes = [T.shape for T in Theta]
        theta = unroll(Theta).astype(objective.X.dtype)  # a copy: the start stays as it was
        Theta = roll(theta, shapes)  # views: the callback sees every step
        layer_sizes = [shapes[0][1] - 1] + [rows for rows, _ in shapes]
        steps = self.steps_per_epoch(m)
        for epoch in range(1, self.epochs + 1):
            order = rng.permutation(m) if self.shuffle else np.arange(m)  # as `batches` draws it
            epoch_of(theta, layer_sizes, order, self.batch_size, self.step_sizes(epoch, steps))
            callback(epoch, Theta)
        return Theta


def compiled_epoch(objective):
    """plugins.compiled_steps' epoch for this objective, or None (numba missing, or plugins it does not mirror)."""
    try:
        from plugins.compiled_steps import kernel_for
    except ImportError:
        return None
    return kernel_for(objective)


@dataclass
class BatchGD(_GradientSteps):
    """Full-batch gradient descent: one update per epoch, Theta := Theta - lr * D over all m samples."""

    lr: float = 2.0
    epochs: int = 1000
    batch_size: None = field(default=None, init=False)
    shuffle: bool = field(default=False, init=False)
    name: str = field(default="batch_gd", init=False)


@dataclass
class SGD(_PlainSteps):
    """Per-sample gradient descent as the course states it: for each sample in turn forward,
    backprop and update at once. Shuffled every epoch from the run's seed unless shuffle=false."""

    lr: float = 0.1
    epochs: int = 30
    batch_size: int = field(default=1, init=False)
    name: str = field(default="sgd", init=False)


@dataclass
class MiniBatch(_PlainSteps):
    """Mini-batch gradient descent: updates from the mean gradient of batch_size samples (null: all m, one
    update an epoch, as Momentum and Adam read it)."""

    lr: float = 0.5
    epochs: int = 100
    batch_size: int | None = 32
    name: str = field(default="minibatch", init=False)


@dataclass
class Momentum(_GradientSteps):
    """Gradient descent with velocity: v := mu v - lr D; Theta := Theta + v (classical) or
    Theta := Theta + mu v - lr D (Nesterov, in Sutskever et al.'s form)."""

    lr: float = 0.1
    epochs: int = 100
    batch_size: int | None = 32
    momentum: float = 0.9
    nesterov: bool = False
    name: str = field(default="momentum", init=False)

    def __post_init__(self):
        super().__post_init__()
        require(is_number(self.momentum) and 0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")
        require(isinstance(self.nesterov, bool), "nesterov", self.nesterov, "true or false")

    def start(self, Theta):
        return [np.zeros_like(T) for T in Theta]

    def update(self, Theta, D, velocity, lr):
        for T, Dl, v in zip(Theta, D, velocity):
            v *= self.momentum
            v -= lr * Dl
            T += self.momentum * v - lr * Dl if self.nesterov else v


@dataclass
class Adam(_GradientSteps):
    """Adam (Kingma & Ba 2015): bias-corrected first and second moments of D.

    m_t = b1 m + (1 - b1) D;  v_t = b2 v + (1 - b2) D^2;
    Theta := Theta - lr * sqrt(1 - b2^t) / (1 - b1^t) * m_t / (sqrt(v_t) + epsilon).
    """

    lr: float = 0.01
    epochs: int = 100
    batch_size: int | None = 32
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8
    name: str = field(default="adam", init=False)

    def __post_init__(self):
        super().__post_init__()
        for key in ("beta1", "beta2"):
            value = getattr(self, key)
            require(is_number(value) and 0 <= value < 1, key, value, "a number in [0, 1)")
        positive_number("epsilon", self.epsilon)

    def start(self, Theta):
        return {"t": 0, "m": [np.zeros_like(T) for T in Theta], "v": [np.zeros_like(T) for T in Theta]}

    def update(self, Theta, D, state, lr):
        state["t"] += 1
        t = state["t"]
        step = lr * np.sqrt(1 - self.beta2**t) / (1 - self.beta1**t)
        for T, Dl, m1, v in zip(Theta, D, state["m"], state["v"]):
            m1 *= self.beta1
            m1 += (1 - self.beta1) * Dl
            v *= self.beta2
            v += (1 - self.beta2) * Dl * Dl
            T -= step * m1 / (np.sqrt(v) + self.epsilon)


@dataclass
class _Scipy:
    """scipy.optimize.minimize on the unrolled Theta with backprop's analytic gradient;
    one epoch is one iteration of the method (the course trains with fmincg)."""

    epochs: int = 100
    method: str = field(default="L-BFGS-B", init=False)

    def __post_init__(self):
        non_negative_integer("epochs", self.epochs)

    def prepare(self, objective, Theta):
        """Before the clock starts and before the run's BLAS limit (runner.experiment): import
        scipy.optimize (about 0.3 s, once a process), and with it scipy's own OpenBLAS, which the
        limit then covers too. Nothing else is touched."""
        importlib.import_module("scipy.optimize")

    def minimize(self, objective, Theta, rng, callback):
        from scipy.optimize import minimize as scipy_minimize  # here: half a second to import, needed by these two only

        shapes = [T.shape for T in Theta]
        if self.epochs == 0:
            return [T.copy() for T in Theta]

        def J_and_gradient(theta):
            J, D = objective.value_and_gradient(roll(theta, shapes))
            return float(J), unroll(D).astype(np.float64, copy=False)  # scipy searches lines in float64

        iteration = [0]
        last = [None]

        def after_iteration(theta):
            iteration[0] += 1
            last[0] = theta.copy()
            callback(iteration[0], roll(last[0], shapes))

        result = scipy_minimize(J_and_gradient, unroll(Theta).astype(float), jac=True, method=self.method,
                                callback=after_iteration, options={"maxiter": self.epochs})
        if last[0] is None or not np.array_equal(last[0], result.x):
            after_iteration(result.x)  # the last reported weights are the ones returned
        return roll(result.x.copy(), shapes)


@dataclass
class LBFGS(_Scipy):
    """Limited-memory BFGS (scipy's L-BFGS-B without bounds)."""

    epochs: int = 200
    method: str = field(default="L-BFGS-B", init=False)
    name: str = field(default="lbfgs", init=False)


@dataclass
class CG(_Scipy):
    """Nonlinear conjugate gradient (Polak-Ribiere, scipy's CG): the closest peer of the course's fmincg."""

    epochs: int = 50
    method: str = field(default="CG", init=False)
    name: str = field(default="cg", init=False)
