"""One experiment: build the plugins, train with a logging callback, record everything.

Knows MLflow only through runner.tracking and Hydra not at all: `run_experiment`
takes the resolved config as a plain dict, so replay and tests can call it directly.
"""
from __future__ import annotations

import gc
import signal
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import yaml

from plugins.regularization import NoRegularization
from runner import plots
from runner.blas import limit_blas_threads
from runner.core.activations import get_activation
from runner.core.differences import central_differences
from runner.core.gradcheck import GradCheck, choose_mode, gradient_check
from runner.core.network import NetworkObjective, accuracy, one_hot
from runner.core.training import Diverged, DivergenceGuard, train
from runner.errors import UserError
from runner.instantiate import build, qualify
from runner.progress import Progress
from runner.settings import OBJECTIVES, PLUGIN_GROUPS, RunSettings
from runner.tracking import Tracker, flatten, resolve_tracking_uri


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run ends KILLED with what it has."""


@dataclass
class Setup:
    """Everything a run needs, validated before any record is created."""

    settings: RunSettings
    plugins: dict
    splits: object
    layer_sizes: list[int]
    Theta0: list
    objective: NetworkObjective
    optimizer_rng: np.random.Generator
    check_rng: np.random.Generator


@dataclass
class Outcome:
    """What a finished (or failed) run reports back."""

    run_id: str
    status: str
    metrics: dict[str, float]
    gradcheck: GradCheck | None
    seconds: float
    reason: str | None = None
    weights_path: Path | None = None
    tracking_uri: str = ""
    store_lost: str | None = None  # why the store stopped answering; the results are in the run folder


def prepare(config: dict, allowed: tuple[str, ...] | None = None) -> Setup:
    """Validate settings, instantiate every plugin, load the data and make Theta0 (seeded)."""
    settings = RunSettings.from_dict(config)
    for group in PLUGIN_GROUPS:
        if group not in config:
            raise UserError(f"config group {group} is missing; accepted: a config with {', '.join(PLUGIN_GROUPS)}")
    plugins = {group: build(group, config[group], allowed) for group in PLUGIN_GROUPS}
    data_rng, init_rng, optimizer_rng, check_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(settings.seed).spawn(4))
    try:
        splits = plugins["dataset"].load(data_rng)
        layer_sizes = plugins["architecture"].layer_sizes(splits.n_features, splits.n_classes)
    except (ValueError, OSError) as error:
        raise UserError(qualify("dataset", error)) from None
    batch_size = getattr(plugins["optimizer"], "batch_size", None)
    if batch_size is not None and batch_size > splits.train.m:
        raise UserError(f"optimizer.batch_size={batch_size} is invalid; accepted: an integer from 1 to "
                        f"the training-set size m = {splits.train.m}")
    try:
        Theta0 = plugins["initializer"](layer_sizes, init_rng)
    except (ValueError, OSError) as error:
        raise UserError(qualify("initializer", error)) from None
    K = layer_sizes[-1]
    dtype = np.dtype(settings.dtype)  # cast once: every epoch then runs in it, nothing is copied per epoch
    splits = replace(splits, **{part: replace(getattr(splits, part), X=getattr(splits, part).X.astype(dtype))
                                for part in ("train", "val", "test") if getattr(splits, part) is not None})
    Theta0 = [T.astype(dtype) for T in Theta0]
    objective = NetworkObjective(splits.train.X, one_hot(splits.train.y, K).astype(dtype),
                                 get_activation(plugins["architecture"].activation),
                                 plugins["cost"], plugins["regularization"])
    return Setup(settings, plugins, splits, layer_sizes, Theta0, objective, optimizer_rng, check_rng)


def run_name(plugins: dict) -> str:
    """A name that says what the run is, e.g. 'sgd lr=0.1 lam=1 [25]'."""
    optimizer, regularization = plugins["optimizer"], plugins["regularization"]
    parts = [optimizer.name]
    parts.append(f"lr={optimizer.lr:g}" if hasattr(optimizer, "lr") else f"epochs={optimizer.epochs}")
    parts.append(f"lam={regularization.lam:g}" if hasattr(regularization, "lam") else regularization.name)
    parts.append(str(list(plugins["architecture"].hidden)))
    return " ".join(parts)


@dataclass
class EpochRecorder:
    """The per-epoch callback: metrics into the tracker, gradient checks on schedule, divergence guard."""

    setup: Setup
    tracker: Tracker
    progress: Progress
    guard: DivergenceGuard = field(default_factory=DivergenceGuard)
    every: int = 1  # record metrics every N epochs (tracking.every)
    last_epoch: int = 0
    recorded_epoch: int = -1
    last_finite: list | None = None
    last_check: GradCheck | None = None
    checked_epochs: set = field(default_factory=set)
    check_seconds: float = 0.0
    val_objective: NetworkObjective | None = None  # made once: it keeps its buffers from epoch to epoch

    def __call__(self, epoch: int, Theta: list) -> None:
        self.last_epoch = epoch
        if epoch % self.every == 0:
            self.record(epoch, Theta)
        every = self.setup.settings.gradcheck.every
        if epoch == 0 or (every and epoch % every == 0):
            self.check(epoch, Theta)

    def finish(self, Theta: list) -> None:
        """Record the last epoch if `every` skipped it: the last logged values describe the final Theta."""
        if self.recorded_epoch != self.last_epoch:
            self.record(self.last_epoch, Theta)

    def record(self, epoch: int, Theta: list) -> None:
        """Train and validation cost and accuracy of Theta at this epoch; the divergence guard sees the cost."""
        s = self.setup
        g, cost = s.objective.activation, s.objective.cost
        J, train_accuracy = s.objective.value_and_accuracy(Theta, s.splits.train.y)
        self.recorded_epoch = epoch
        self.tracker.metric("train_cost", J, epoch)
        self.guard.check(epoch, J)
        self.last_finite = [T.copy() for T in Theta]
        self.tracker.metric("train_accuracy", train_accuracy, epoch)
        val_accuracy = None
        if s.splits.val is not None:
            val = s.splits.val
            if self.val_objective is None:  # the validation error is the data term alone (lam = 0), as the course's
                self.val_objective = NetworkObjective(val.X, one_hot(val.y, s.layer_sizes[-1]).astype(val.X.dtype),
                                                      g, cost, NoRegularization())
            val_cost, val_accuracy = self.val_objective.value_and_accuracy(Theta, val.y)
            self.tracker.metric("val_cost", val_cost, epoch)
            self.tracker.metric("val_accuracy", val_accuracy, epoch)
        self.progress.update(epoch, J, val_accuracy)

    def check(self, epoch: int, Theta: list) -> GradCheck:
        """Gradient check on the first `gradcheck.rows` training rows, logged as gradcheck_rel_error."""
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
        self.last_check = result
        self.checked_epochs.add(epoch)
        self.check_seconds += time.perf_counter() - started
        return result


def save_weights(Theta: list, path: Path) -> Path:
    """weights.npz holding Theta1 .. ThetaN in the core's layout (bias column first)."""
    np.savez(path, **{f"Theta{l + 1}": T for l, T in enumerate(Theta)})
    return path


def objective_value(metrics: dict[str, float], name: str) -> float:
    """The sweep objective; falls back to the train metric of the same kind when there is no val split."""
    value = metrics.get(name, metrics.get(name.replace("val_", "train_")))
    return float(value)


def worst_value(name: str) -> float:
    """A finite worst value of the objective for failed runs, so an Optuna study goes on."""
    return 0.0 if OBJECTIVES[name] == "maximize" else 1e9


def run_experiment(config: dict, run_dir: Path, tags: dict[str, str] | None = None,
                   parent_run_id: str | None = None, allowed: tuple[str, ...] | None = None,
                   name: str | None = None) -> Outcome:
    """Train one network from a resolved config and record it in MLflow; return its outcome.

    `name` is the run's name (a sweep job's overrides); by default `run_name` of its plugins.
    """
    started = time.perf_counter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    setup = prepare(config, allowed)
    settings = setup.settings
    uri = resolve_tracking_uri(settings.tracking.uri)
    tracker = Tracker(uri, settings.tracking.experiment, run_dir)
    freeze_imported_objects()
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    plugin_tags = {f"plugin.{group}": getattr(setup.plugins[group], "name", type(setup.plugins[group]).__name__)
                   for group in PLUGIN_GROUPS}
    run_id = tracker.start(name or run_name(setup.plugins), {**plugin_tags, **(tags or {})}, flatten(config),
                           parent_run_id)
    progress = Progress(setup.plugins["optimizer"].epochs, settings.tracking.progress)
    recorder = EpochRecorder(setup, tracker, progress,
                             every=settings.tracking.record_every(setup.plugins["optimizer"].epochs))
    status, reason, Theta = "FINISHED", None, setup.Theta0
    blas = limit_blas_threads(config.get("workers") or {}, setup.layer_sizes, setup.objective.m)
    previous_sigterm = signal.signal(signal.SIGTERM, _raise_interrupted) if _main_thread() else None
    try:
        train_started = time.perf_counter()
        try:
            Theta = train(setup.objective, setup.Theta0, setup.plugins["optimizer"], setup.optimizer_rng, recorder)
            recorder.finish(Theta)
        except Diverged as diverged:
            status, reason, Theta = "FAILED", str(diverged), recorder.last_finite or setup.Theta0
        train_seconds = time.perf_counter() - train_started - recorder.check_seconds
        progress.close()
        metrics = final_metrics(setup, Theta, recorder, status)
        tracker.metric("train_seconds", train_seconds, recorder.last_epoch)
        tracker.metric("epochs_per_second", recorder.last_epoch / train_seconds if train_seconds > 0 else 0.0,
                       recorder.last_epoch)
        weights = save_weights(Theta, run_dir / "weights.npz")
        tracker.flush()
        backend = getattr(setup.plugins["optimizer"], "backend_used", None)
        tracker.set_tags({"blas_threads": blas.description, **environment_tags(),
                          **({"optimizer.backend": backend} if backend else {})})
        write_artifacts(tracker, setup, Theta, run_dir, run_name(setup.plugins))
        if reason:
            tracker.set_tags({"failure_reason": reason, "diverged": "true"})
    except KeyboardInterrupt:
        progress.close()
        save_weights(recorder.last_finite or setup.Theta0, run_dir / "weights.npz")
        _finish_quietly(tracker, "KILLED", "interrupted by the user (SIGINT/SIGTERM)", run_dir)
        raise
    except BaseException as error:
        progress.close()
        _finish_quietly(tracker, "FAILED", f"{type(error).__name__}: {error}")
        raise
    finally:
        blas.restore()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    tracker.finish(status)
    return Outcome(run_id, status, metrics, recorder.last_check, time.perf_counter() - started, reason,
                   weights, uri, tracker.lost)


def freeze_imported_objects() -> None:
    """Once per process, after MLflow, Hydra and the plugins are imported: gc.freeze() moves their
    ~10^6 objects out of the collector's reach, so a full collection later (one hit the metrics flush)
    takes milliseconds instead of 0.2 s. Objects made afterwards, runs of a serial sweep included,
    are collected as usual."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True


_frozen = False


def final_metrics(setup: Setup, Theta: list, recorder: EpochRecorder, status: str) -> dict[str, float]:
    """The end-of-run gradient check and test accuracy; the last logged values describe Theta."""
    tracker, epoch = recorder.tracker, recorder.last_epoch
    if status == "FINISHED" and epoch not in recorder.checked_epochs:
        recorder.check(epoch, Theta)
    tracker.metric("hidden_weight_spread", hidden_weight_spread(Theta), epoch)
    g, cost = setup.objective.activation, setup.objective.cost
    if setup.splits.test is not None:
        test = setup.splits.test
        tracker.metric("test_accuracy", accuracy(Theta, test.X, test.y, g, cost), epoch)
    latest = {}
    for key, value, _ in tracker.history:
        latest[key] = value
    return latest


def hidden_weight_spread(Theta: list) -> float:
    """max over hidden layers of max |Theta(l)[j, :] - Theta(l)[0, :]|: 0 when all units are identical
    (the symmetry a zero or constant initialization never breaks)."""
    return max(float(np.max(np.abs(T - T[0]))) for T in Theta[:-1]) if len(Theta) > 1 else 0.0


def write_artifacts(tracker: Tracker, setup: Setup, Theta: list, run_dir: Path, title: str) -> None:
    """weights.npz, the resolved config, Hydra's .hydra/ files, metrics.csv and the PNG figures."""
    plots.learning_curves(tracker.history, run_dir / "learning_curves.png", title)
    if setup.splits.image_shape is not None:
        plots.hidden_weights(Theta[0], setup.splits.image_shape, run_dir / "hidden_weights.png")
    tracker.write_metrics_csv()
    for name in ("weights.npz", "config.yaml", "metrics.csv", "learning_curves.png", "hidden_weights.png"):
        tracker.artifact(run_dir / name)
    if (run_dir / ".hydra").is_dir():
        tracker.artifact(run_dir / ".hydra", ".hydra")


def _finish_quietly(tracker: Tracker, status: str, reason: str, run_dir: Path | None = None) -> None:
    """End the run with `status`, keeping its buffered metrics (and weights), without masking the error."""
    try:
        tracker.set_tags({"failure_reason": reason[:5000]})
        tracker.flush()
        if run_dir is not None:
            tracker.artifact(tracker.write_metrics_csv())
            tracker.artifact(run_dir / "weights.npz")
        tracker.finish(status)
    except Exception:
        pass


def environment_tags() -> dict[str, str]:
    """What a bitwise re-run needs to match: Python, numpy and the BLAS library with its threads."""
    import platform

    from threadpoolctl import threadpool_info

    blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)"
            for p in threadpool_info() if p.get("user_api") == "blas"]
    return {"python_version": platform.python_version(), "numpy_version": np.__version__,
            "blas": "; ".join(blas) or "unknown", "platform": platform.platform()}


def _raise_interrupted(signum, frame):
    raise Interrupted()


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


