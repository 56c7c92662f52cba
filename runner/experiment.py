"""One experiment: build the plugins, train with a logging callback, record everything.

Knows MLflow only through runner.tracking and Hydra not at all: `run_experiment`
takes the resolved config as a plain dict, so replay and tests can call it directly.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from runner.artifacts import save_model, write_artifacts
from runner.blas import limit_blas_threads
from runner.core.gradcheck import GradCheck, GradientCheckFailed
from runner.core.training import Diverged, EarlyStopping, StoppedEarly, train
from runner.data_inputs import combined_digest, describe_parts, initial_weights_tags
from runner.progress import Progress
from runner.recording import EpochRecorder, environment_tags, final_metrics, run_description
from runner.settings import OBJECTIVES, PLUGIN_GROUPS
from runner.setup import prepare, run_name, step_unit
from runner.store import resolve_tracking_uri
from runner.sweep_runs import objective_of
from runner.tracking import Tracker, flatten
from runner.workers import sweep_stop_reason


class Interrupted(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the run ends KILLED with what it has."""

    signum = signal.SIGTERM


stop_signal: int | None = None  # the last stop signal this process took (raise_interrupted): a sweep's parent names it
STOPPED_BY = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM (kill, timeout or a scheduler's time limit)"}


@dataclass
class Outcome:
    """What a finished (or failed) run reports back."""

    run_id: str
    status: str
    metrics: dict[str, float]
    gradcheck: GradCheck | None
    seconds: float
    reason: str | None = None  # why it failed, or why it stopped before its last epoch
    weights_path: Path | None = None
    tracking_uri: str = ""
    store_lost: str | None = None  # why the store stopped answering; the results are in the run folder


def objective_value(metrics: dict[str, float], name: str) -> float:
    """The sweep objective (sweep_runs.objective_of: the train metric of the same kind when there is no
    val split; setup.prepare refuses a test_ objective without a test part)."""
    return float(objective_of(metrics, name))


def worst_value(name: str) -> float:
    """A finite worst value of the objective for failed runs, so an Optuna study goes on."""
    return 0.0 if OBJECTIVES[name] == "maximize" else 1e9


def floating_point_warnings_silenced(function):
    """numpy's floating-point warnings silenced while `function` runs (--debug, BACKPROP_LAB_DEBUG=1, keeps them):
    what overflows or turns NaN, a run reports itself as its divergence or its check's nan."""
    @functools.wraps(function)
    def silenced(*args, **kwargs):
        with np.errstate(all="warn" if os.environ.get("BACKPROP_LAB_DEBUG") == "1" else "ignore"):
            return function(*args, **kwargs)
    return silenced


@floating_point_warnings_silenced  # for a run, a sweep's job and a replay alike
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
    data = describe_parts(setup.splits, setup.plugins["dataset"], config.get("dataset") or {})
    full_name = run_name(setup.plugins, setup.settings.dtype)  # figures' titles and the description name it whole
    progress = Progress(setup.plugins["optimizer"].epochs, settings.tracking.progress)
    stopping = settings.early_stopping
    recorder = EpochRecorder(setup, tracker, progress,
                             every=settings.tracking.record_every(setup.plugins["optimizer"].epochs),
                             stopping=EarlyStopping(stopping.patience, stopping.min_delta, stopping.restore_best,
                                                    step_unit(setup.plugins["optimizer"])),
                             snapshots={} if settings.tracking.figures and setup.splits.n_features == 2 else None)
    status, reason, stopped_early, restored, Theta, blas = "FINISHED", None, None, None, setup.Theta0, None
    failure_tags, train_started = {}, None
    previous_sigterm = signal.signal(signal.SIGTERM, raise_interrupted) if in_main_thread() else None
    try:  # from the run's creation on: a Ctrl-C or SIGTERM just after it still ends it KILLED, not RUNNING for good
        run_id = tracker.start(name or full_name,
                               {**plugin_tags, "data_digest": combined_digest(data),
                                **initial_weights_tags(setup.plugins["initializer"]), **(tags or {})},
                               flatten(config), parent_run_id)
        tracker.log_datasets(data)
        warm_up = getattr(setup.plugins["optimizer"], "prepare", None)
        if warm_up is not None:  # code the optimizer loads (plugins.optimizers): before the clock, and before
            warm_up(setup.objective, setup.Theta0)  # the BLAS limit, which covers only the libraries loaded
        blas = limit_blas_threads(config.get("workers") or {}, setup.layer_sizes, setup.objective.m)
        # Before training, so that a run stopped midway (KILLED) records what a replay of it must match too.
        tracker.set_tags({"blas_threads": blas.description, **environment_tags()})
        train_started = time.perf_counter()
        try:
            Theta = train(setup.objective, setup.Theta0, setup.plugins["optimizer"], setup.optimizer_rng, recorder)
            recorder.finish(Theta)
        except Diverged as divergence:  # it ends with the last finite recorded weights, or restore_best's
            status, reason, Theta = "FAILED", str(divergence), recorder.last_finite or setup.Theta0
            failure_tags["diverged"] = "true"
        except GradientCheckFailed as failed:
            status, reason, Theta = "FAILED", str(failed), recorder.last_finite or setup.Theta0
        except StoppedEarly as stopped:  # the weights of the epoch it stopped at, which its last metrics describe
            stopped_early, Theta = str(stopped), recorder.last_finite
        train_seconds = time.perf_counter() - train_started - recorder.check_seconds
        progress.close()
        diverged = "diverged" in failure_tags
        final_epoch = recorder.finite_epoch if diverged else max(recorder.recorded_epoch, 0)
        if status == "FINISHED" or diverged:  # a run that ends with trained weights: finished, stopped, diverged
            Theta, final_epoch, restored = restore_best(recorder.stopping, Theta, final_epoch)
        if restored or (diverged and recorder.last_finite is not None):  # the saved weights' metrics come last
            recorder.record_restored(Theta, final_epoch)
        if diverged and recorder.last_finite is not None:
            reason += f"; the weights saved are those of epoch {final_epoch}"
        metrics = final_metrics(setup, Theta, recorder, status)
        if status == "FINISHED" and recorder.failed_check:  # the check at the end
            status, reason = "FAILED", recorder.failed_check
        tracker.metric("train_seconds", train_seconds, recorder.last_epoch)
        tracker.metric("epochs_per_second", recorder.last_epoch / train_seconds if train_seconds > 0 else 0.0,
                       recorder.last_epoch)
        weights = save_model(Theta, setup.splits, run_dir)
        tracker.flush()
        backend = getattr(setup.plugins["optimizer"], "backend_used", None)
        if backend:
            tracker.set_tags({"optimizer.backend": backend})
        write_artifacts(tracker, setup, Theta, run_dir, full_name, recorder.snapshot_panels(Theta, final_epoch))
        said = "; ".join(filter(None, (reason or stopped_early, restored))) or None
        description = run_description(full_name, status, said, metrics, recorder.last_check,
                                      recorder.last_epoch, train_seconds, step_unit(setup.plugins["optimizer"]) + "s")
        tracker.set_tags({**({"failure_reason": reason, **failure_tags} if reason else {}),
                          **({"stopped_early": stopped_early} if stopped_early else {}),
                          **({"restored": restored} if restored else {}), "mlflow.note.content": description})
    except KeyboardInterrupt as stop:
        if tracker.run_id is None:  # stopped before the store made the run: nothing to end
            raise
        with further_stops_ignored():  # a second Ctrl-C or SIGTERM would cut the record of the first short
            progress.close()
            save_model(recorder.last_finite or setup.Theta0, setup.splits, run_dir)
            by = STOPPED_BY[signal.SIGTERM if isinstance(stop, Interrupted) else signal.SIGINT]
            reason = sweep_stop_reason() or f"stopped by {by}"
            _finish_quietly(tracker, "KILLED", reason, run_dir,
                            stopped_description(setup, recorder, "KILLED", reason, train_started))
        raise
    except BaseException as error:
        if tracker.run_id is None:  # the store refused to make the run, or its params (ended then): none to end
            raise
        progress.close()
        reason = f"{type(error).__name__}: {error}"
        _finish_quietly(tracker, "FAILED", reason, None,
                        stopped_description(setup, recorder, "FAILED", reason, train_started))
        raise
    finally:
        if blas is not None:
            blas.restore()
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
    tracker.finish(status)
    return Outcome(run_id, status, metrics, recorder.last_check, time.perf_counter() - started, said, weights, uri,
                   tracker.lost)


def restore_best(stopping: EarlyStopping, Theta: list, final_epoch: int) -> tuple[list, int, str | None]:
    """early_stopping.restore_best (README, Early stopping): a run that ends with trained weights (finished,
    stopped early or diverged) ends with those of the recorded epoch of lowest val_cost, unless they are the
    final ones already. Returns the weights, their epoch and the `restored` tag (None: nothing restored)."""
    if not stopping.keep_best or stopping.best_weights is None or stopping.best_epoch == final_epoch:
        return Theta, final_epoch, None
    return stopping.best_weights, stopping.best_epoch, (f"restored the weights of epoch {stopping.best_epoch}, "
                                                        f"its val_cost {stopping.best:.4g} the best")


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


def stopped_description(setup, recorder: EpochRecorder, status: str, reason: str,
                        train_started: float | None) -> str:
    """The dashboard description of a run stopped midway: how it ended, the metrics and gradient check it last
    recorded, and its epochs (recording.run_description; no test metrics, which come after training)."""
    said = f"{reason[:500]}; last recorded at epoch {max(recorder.recorded_epoch, 0)}"
    seconds = time.perf_counter() - train_started if train_started else 0.0
    steps = step_unit(setup.plugins["optimizer"]) + "s"
    return run_description(run_name(setup.plugins, setup.settings.dtype), status, said, recorder.last_values,
                           recorder.last_check, recorder.last_epoch, seconds, steps)


def _finish_quietly(tracker: Tracker, status: str, reason: str, run_dir: Path | None = None,
                    description: str | None = None) -> None:
    """End the run with `status`, keeping its buffered metrics (and weights), without masking the error."""
    try:
        tracker.set_tags({"failure_reason": reason[:5000],
                          **({"mlflow.note.content": description} if description else {})})
        tracker.flush()
        if run_dir is not None:  # weights.npz, preprocessing.npz, metrics.csv, config.yaml: what predict, replay need
            tracker.write_metrics_csv()
            tracker.upload_run_files()
        tracker.finish(status)
    except Exception:
        pass


def raise_interrupted(signum, frame):
    """The SIGTERM handler, and a sweep's SIGINT handler (runner.sweep): raise Interrupted for SIGTERM, so that it
    ends what runs as Ctrl-C does, and Ctrl-C's KeyboardInterrupt for SIGINT; either kept in stop_signal, which a
    stopped sweep's parent run names."""
    global stop_signal
    stop_signal = signum
    if signum == signal.SIGINT:
        raise KeyboardInterrupt()
    raise Interrupted()


@contextlib.contextmanager
def further_stops_ignored():
    """SIGINT and SIGTERM ignored meanwhile (in the main thread, where handlers are set), then their handlers back:
    while a stopped run flushes its metrics and uploads its files (~0.2 s), a second Ctrl-C (an impatient user, a
    terminal's and a launcher's both) would interrupt that with a traceback and a half-written record."""
    if not in_main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


