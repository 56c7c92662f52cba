"""What a run records while and after it trains: per-epoch metrics, gradient checks on schedule,
the divergence guard, early stopping, the final metrics and the environment tags (its files:
runner.artifacts)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from plugins.regularization import NoRegularization
from runner.core.differences import central_differences
from runner.core.gradcheck import GradCheck, GradientCheckFailed, choose_mode, gradient_check
from runner.core.network import NetworkObjective, accuracy, confusion_matrix, macro_f1, one_hot, predict, rms
from runner.core.training import DivergenceGuard, EarlyStopping
from runner.progress import Progress
from runner.setup import Setup
from runner.tracking import Tracker


PART_PREFIX = {"test": "test", "validation": "val", "training": "train"}  # Splits.held_out()'s parts, as metrics


@dataclass
class EpochRecorder:
    """The per-epoch callback: metrics into the tracker, gradient checks on schedule, divergence guard,
    early stopping on the validation cost."""

    setup: Setup
    tracker: Tracker
    progress: Progress
    guard: DivergenceGuard = field(default_factory=DivergenceGuard)
    stopping: EarlyStopping = field(default_factory=EarlyStopping)  # patience 0: never stops
    every: int = 1  # record metrics every N epochs (tracking.every)
    last_epoch: int = 0
    recorded_epoch: int = -1
    last_finite: list | None = None  # the weights of the last recorded epoch whose cost was finite
    finite_epoch: int = 0  # that epoch
    last_check: GradCheck | None = None
    last_values: dict = field(default_factory=dict)  # the metrics of the last recorded epoch (evaluate)
    checked_epochs: set = field(default_factory=set)
    check_seconds: float = 0.0
    failed_check: str | None = None  # the first check above gradcheck.tolerance, said in one line
    snapshots: dict | None = None  # {}: keep the weights of epoch 0 and each power of two (regions_over_training)
    val_objective: NetworkObjective | None = None  # made once: it keeps its buffers from epoch to epoch

    def __call__(self, epoch: int, Theta: list) -> None:
        self.last_epoch = epoch
        if self.snapshots is not None and epoch & (epoch - 1) == 0:  # 0, 1, 2, 4, 8, ...
            self.snapshots[epoch] = [T.copy() for T in Theta]
        if epoch % self.every == 0:
            self.record(epoch, Theta)
        every = self.setup.settings.gradcheck.every
        if epoch == 0 or (every and epoch % every == 0):
            self.check(epoch, Theta)
            if self.failed_check:
                raise GradientCheckFailed(self.failed_check)

    def snapshot_panels(self, Theta: list, final: int, panels: int = 6) -> list[tuple[int, list]]:
        """Up to `panels` (epoch, weights) in order: epoch 0, the final weights Theta (those of epoch `final`)
        and, between them, kept snapshots evenly spaced by their index, so by log epoch."""
        between = sorted(epoch for epoch in self.snapshots or {} if 0 < epoch < final)
        if len(between) > panels - 2:
            between = [between[i] for i in np.linspace(0, len(between) - 1, panels - 2).round().astype(int)]
        start = [(0, self.snapshots[0])] if final > 0 and 0 in (self.snapshots or {}) else []
        return start + [(epoch, self.snapshots[epoch]) for epoch in between] + [(final, Theta)]

    def finish(self, Theta: list) -> None:
        """Record the last epoch if `every` skipped it: the last logged values describe the final Theta."""
        if self.recorded_epoch != self.last_epoch:
            self.record(self.last_epoch, Theta, may_stop=False)

    def record(self, epoch: int, Theta: list, may_stop: bool = True) -> None:
        """Train and validation cost and accuracy of Theta at this epoch; the divergence guard sees the
        cost, early stopping the validation cost (and may raise StoppedEarly, unless training is over)."""
        s = self.setup
        values = self.evaluate(Theta)
        J, val_accuracy = values["train_cost"], values.get("val_accuracy")
        self.recorded_epoch, self.last_values = epoch, values
        self.tracker.metric("train_cost", J, epoch)
        self.guard.check(epoch, J)
        self.last_finite, self.finite_epoch = [T.copy() for T in Theta], epoch
        for key in ("train_accuracy", "val_cost", "val_accuracy"):
            if key in values:
                self.tracker.metric(key, values[key], epoch)
        if s.settings.tracking.layer_stats:
            self.record_layers(epoch, Theta)
        optimizer = s.plugins["optimizer"]
        if getattr(optimizer, "lr_decay", 0):  # the rate of the epoch's last step (epoch 0: the first step's)
            self.tracker.metric("lr", optimizer.rate if optimizer.rate is not None and epoch else optimizer.lr, epoch)
        self.progress.update(epoch, J, val_accuracy)
        if val_accuracy is not None:
            self.stopping.check(epoch, values["val_cost"], Theta, may_stop)

    def record_restored(self, Theta: list, epoch: int) -> None:
        """Log train_cost, train_accuracy, val_cost and val_accuracy of weights Theta kept from an earlier epoch
        (the best by val_cost, or the last finite before a divergence), and restored_epoch (that epoch), at step
        last_epoch + 1, as MLflow's Keras autologging logs restored weights: the last logged values describe
        the final weights."""
        for key, value in (*self.evaluate(Theta).items(), ("restored_epoch", epoch)):
            self.tracker.metric(key, value, self.last_epoch + 1)

    def evaluate(self, Theta: list) -> dict[str, float]:
        """train_cost (J, penalty included) and train_accuracy of Theta and, with a validation part, val_cost (the
        data term alone) and val_accuracy."""
        s = self.setup
        values = dict(zip(("train_cost", "train_accuracy"), s.objective.value_and_accuracy(Theta, s.splits.train.y)))
        if s.splits.val is not None:
            if self.val_objective is None:
                self.val_objective = validation_objective(s)
            values["val_cost"], values["val_accuracy"] = self.val_objective.value_and_accuracy(Theta, s.splits.val.y)
        return values

    def record_layers(self, epoch: int, Theta: list) -> None:
        """Per layer l, grad_rms_Theta<l>: the rms of D(l), the gradient of J on the whole training part
        (the step full-batch descent takes, over lr); and weight_rms_Theta<l>, the rms of Theta(l)."""
        _, D = self.setup.objective.value_and_gradient(Theta)
        for l, (grad, weight) in enumerate(zip(rms(D), rms(Theta)), start=1):
            self.tracker.metric(f"grad_rms_Theta{l}", grad, epoch)
            self.tracker.metric(f"weight_rms_Theta{l}", weight, epoch)

    def check(self, epoch: int, Theta: list) -> GradCheck:
        """Gradient check on the first `gradcheck.rows` training rows, logged as gradcheck_rel_error;
        one above gradcheck.tolerance is noted in failed_check."""
        started = time.perf_counter()
        settings, objective = self.setup.settings.gradcheck, self.setup.objective
        rows = slice(0, min(settings.rows, objective.m))
        n_params = sum(T.size for T in Theta)
        mode = choose_mode(n_params) if settings.mode == "auto" else settings.mode
        _, D = objective.value_and_gradient(Theta, rows)
        exact = objective.in_float64()  # differences divide by eps: they need float64's digits
        result = gradient_check(lambda T: exact.value(T, rows), Theta, D, mode=mode, eps=settings.eps,
                                n_samples=settings.coordinates, rng=self.setup.check_rng,
                                differences=partial(central_differences, exact, rows=rows))
        self.tracker.metric("gradcheck_rel_error", result.rel_error, epoch)
        tolerance = settings.tolerance
        if tolerance is not None and not result.rel_error <= tolerance and self.failed_check is None:  # NaN fails
            self.failed_check = (f"gradient check failed at epoch {epoch}: relative error {result.rel_error:.3g} > "
                                 f"gradcheck.tolerance {tolerance:g} (backprop's D disagrees with the central "
                                 "differences: a cost's delta or an activation's gradient, or a kink at 0 that the "
                                 "differences step across: relu's, or L1's at weights within gradcheck.eps of 0)")
        self.last_check = result
        self.checked_epochs.add(epoch)
        self.check_seconds += time.perf_counter() - started
        return result


def validation_objective(setup: Setup) -> NetworkObjective:
    """The validation error as the course's: the data term alone (lam = 0) on the validation part."""
    val, objective = setup.splits.val, setup.objective
    return NetworkObjective(val.X, one_hot(val.y, setup.layer_sizes[-1]).astype(val.X.dtype), objective.activation,
                            objective.cost, NoRegularization())


def final_metrics(setup: Setup, Theta: list, recorder: EpochRecorder, status: str) -> dict[str, float]:
    """The end-of-run gradient check, the training data cost (lambda = 0), test accuracy and the macro F1 of
    the held-out part (test_f1_macro, else val_ or train_); the last logged values describe Theta."""
    tracker, epoch = recorder.tracker, recorder.last_epoch
    if status == "FINISHED" and epoch not in recorder.checked_epochs:
        recorder.check(epoch, Theta)
    tracker.metric("hidden_weight_spread", hidden_weight_spread(Theta), epoch)
    if recorder.stopping.patience or recorder.stopping.keep_best:
        tracker.metric("best_val_cost", recorder.stopping.best, epoch)
        tracker.metric("best_epoch", recorder.stopping.best_epoch, epoch)
    tracker.metric("train_data_cost", setup.objective.data_cost(Theta), epoch)  # J_train of the course's curves
    g, cost = setup.objective.activation, setup.objective.cost
    if setup.splits.test is not None:
        test = setup.splits.test
        tracker.metric("test_accuracy", accuracy(Theta, test.X, test.y, g, cost), epoch)
    part, _, _, counts = held_out_counts(setup, Theta)  # the part confusion_matrix.csv counts
    tracker.metric(f"{PART_PREFIX[part]}_f1_macro", macro_f1(counts), epoch)
    latest = {}
    for key, value, _ in tracker.history:
        latest[key] = value
    return latest


def held_out_counts(setup: Setup, Theta: list) -> tuple[str, object, np.ndarray, np.ndarray]:
    """(part, its split, the labels Theta predicts for it, their confusion matrix) for the part a network is
    judged on (Splits.held_out: test, else validation, else training)."""
    splits, objective = setup.splits, setup.objective
    part, data = splits.held_out()
    predicted = predict(Theta, data.X.astype(splits.train.X.dtype), objective.activation, objective.cost)
    return part, data, predicted, confusion_matrix(data.y, predicted, len(splits.classes))


def run_description(name: str, status: str, reason: str | None, metrics: dict[str, float], check: GradCheck | None,
                    epochs: int, train_seconds: float, unit: str = "epochs") -> str:
    """The run's description in the MLflow dashboard (tag mlflow.note.content, Markdown): how it ended,
    its final accuracy and cost on each part, its last gradient check and its training time."""
    def cell(key: str) -> str:
        return f"{metrics[key]:.4f}" if key in metrics else "-"

    check_text = f"gradient check {check.rel_error:.2e} ({check.mode}, {check.n_checked} coordinates); " \
        if check else ""
    return "\n".join([f"**{name}**: {status}" + (f" ({reason})" if reason else ""), "",
                      "| | training | validation | test |", "|---|---|---|---|",
                      f"| accuracy | {cell('train_accuracy')} | {cell('val_accuracy')} | {cell('test_accuracy')} |",
                      f"| cost | {cell('train_cost')} (J) | {cell('val_cost')} | |", "",
                      f"{check_text}{epochs} {unit} in {train_seconds:.3g} s of training"])


def hidden_weight_spread(Theta: list) -> float:
    """max over hidden layers of max |Theta(l)[j, :] - Theta(l)[0, :]|: 0 when all units are identical
    (the symmetry a zero or constant initialization never breaks)."""
    return max(float(np.max(np.abs(T - T[0]))) for T in Theta[:-1]) if len(Theta) > 1 else 0.0


def environment_tags() -> dict[str, str]:
    """What a bitwise re-run needs to match: Python, numpy, scipy (its L-BFGS and CG) and numba (the compiled
    epochs), the CPU, and the BLAS library with the kernel it chose for this CPU (OpenBLAS's Haswell and SkylakeX
    kernels round differently) and its threads."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from threadpoolctl import threadpool_info

    blas = sorted(" ".join(str(p[key]) for key in ("internal_api", "version", "architecture") if p.get(key))
                  + f" ({p.get('num_threads')} threads)" for p in threadpool_info() if p.get("user_api") == "blas")
    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    return {"python_version": platform.python_version(), "numpy_version": np.__version__,
            "scipy_version": installed("scipy"), "numba_version": installed("numba"),
            "blas": "; ".join(blas) or "unknown", "cpu": cpu_model(), "platform": platform.platform()}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux), else what platform knows of it."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"
