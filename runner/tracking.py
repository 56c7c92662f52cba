"""Recording a run in MLflow: params, tags, buffered metrics (sent with log_batch), artifacts.

Metrics are kept in memory and sent in batches of up to 1000, because one
log_metric call to SQLite costs milliseconds; they are also written to
metrics.csv in the run's output folder, so nothing is lost if the store is. Which store,
and how it is opened safely, is runner/store.py.
"""
from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import signal
import socket
import threading
import time
from pathlib import Path

from runner.paths import default_artifact_root
from runner.store import (RetryingClient, check_reachable, deleted_experiment, error_detail, store_lock,
                          unusable_store)

MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_PARAM_LENGTH = 6000
RUN_FILES = ("weights.npz", "preprocessing.npz", "config.yaml", "metrics.csv", "confusion_matrix.csv",
             "class_scores.csv", "learning_curves.png", "hidden_weights.png", "decision_regions.png",
             "confusion_matrix.png", "layer_stats.png", "misclassified.png", "hidden_units.png",
             "regions_over_training.png", "cost_path.csv", "cost_path.png")


def flatten(config: dict, prefix: str = "") -> dict[str, str]:
    """{'optimizer': {'lr': 0.1}} -> {'optimizer.lr': '0.1'}; lists stay whole ('[25, 25]'); numbers as
    canonical_numbers writes them."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = str(canonical_numbers(value))[:MAX_PARAM_LENGTH]
    return flat


def canonical_numbers(value):
    """value with every whole float as its int (1.0 -> 1, 1e6 -> 1000000), through dicts and lists: one text and
    one config_hash for a number however it was typed (regularization.lam=1 on the command line, 1.0 the
    default), so a filter params.`regularization.lam` = '1' finds both. Where 1 and 1.0 behave differently,
    the plugins refuse the float (an integer setting), so nothing that runs differently shares a hash."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return int(value)
    if isinstance(value, dict):
        return {key: canonical_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [canonical_numbers(item) for item in value]
    return value


@contextlib.contextmanager
def quiet_mlflow():
    """MLflow's own log of a failing call left out, dozens of lines of tracebacks: the caller says what happened in
    one line."""
    disabled = logging.root.manager.disable
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(disabled)


@contextlib.contextmanager
def stops_deferred():
    """A Ctrl-C or SIGTERM that comes meanwhile (to a Python handler, in the main thread) handled when the block ends.

    Around each store call: one cut short by the interrupt (KeyboardInterrupt, runner.experiment's Interrupted) left
    SQLite's write transaction open in this process, so the stopped run's own record waited on that lock, in a sweep's
    worker until its grace ran out (runner.workers), and the run stayed RUNNING for good."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    previous = {signum: handler for signum, handler in previous.items() if callable(handler)}
    for signum in previous:
        signal.signal(signum, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if held:  # as it would have been handled, now that the store's transaction is over
        previous[held[0]](held[0], None)


def process_tags() -> dict[str, str]:
    """The process that makes a run: `process.host`, `process.pid` and, where Linux's /proc says it,
    `process.started` (when it started, in clock ticks since boot: a pid alone names another process once reused).
    runner.resume --force reads a sweep parent's to tell whether its launching process still runs."""
    started = process_state(os.getpid())
    return {"process.host": socket.gethostname(), "process.pid": str(os.getpid()),
            **({"process.started": started[1]} if started else {})}


def process_state(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of process pid, from /proc/PID/stat (fields 3 and 22); None
    where there is no such process or no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command's name, which may hold spaces
    return fields[0], fields[19]


def running_process(tags: dict[str, str]) -> int | None:
    """The pid of the process that made a run (its process_tags), if it still runs on this machine; else None (ended,
    a zombie, its pid taken by another process since, on another host, or not recorded)."""
    pid = tags.get("process.pid", "")
    if tags.get("process.host") != socket.gethostname() or not pid.isdigit() or int(pid) <= 0:
        return None
    state = process_state(int(pid))
    if state is None:  # no /proc (macOS) or no such process: the kernel says which
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # another user's
            pass
        return None if os.path.isdir("/proc/self") else int(pid)
    if state[0] == "Z" or state[1] != tags.get("process.started", state[1]):
        return None
    return int(pid)


class Tracker:
    """One MLflow run: created by `start`, fed metrics and artifacts, closed by `finish`."""

    def __init__(self, uri: str, experiment: str, local_dir: Path):
        from mlflow.tracking import MlflowClient

        self.uri = uri
        self.local_dir = Path(local_dir)
        check_reachable(uri)
        if uri.startswith(("http://", "https://")):  # a server lost mid-run must not stall the run for minutes
            for key, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2"), ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"),
                               ("MLFLOW_HTTP_REQUEST_TIMEOUT", "30"),
                               # nor print two lines of links for every run and sweep job: the summary has them
                               ("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")):
                os.environ.setdefault(key, value)
        with store_lock(uri):  # a new SQLite file gets its schema from one process only
            try:
                self.client = RetryingClient(MlflowClient(tracking_uri=uri))
            except Exception as error:  # an unknown scheme fails here, before any call
                raise unusable_store(uri, error) from None
            self.experiment_id = self._experiment_id(experiment)
        self.experiment = experiment
        self.run_id: str | None = None
        self.lost: str | None = None
        self.record: dict = {}
        self._pending: list = []
        self.history: list[tuple[str, float, int]] = []

    def _experiment_id(self, name: str) -> str:
        """The id of experiment `name`, created when the store has none. One deleted in the store (mlflow ui, `mlflow
        experiments delete`) is refused: MLflow makes no run in it, and its name stays taken until it is restored."""
        try:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                local = not self.uri.startswith(("http://", "https://", "databricks"))
                return self.client.create_experiment(name, artifact_location=default_artifact_root() if local else None)
        except Exception as error:  # any failure to reach or create the store is the user's setup
            from mlflow.exceptions import MlflowException

            if not (isinstance(error, MlflowException) and "already exists" in str(error)):
                raise unusable_store(self.uri, error) from None
            found = self.client.get_experiment_by_name(name)  # another process created it first
        if found.lifecycle_stage == "deleted":
            raise deleted_experiment(f"tracking.experiment={name!r}", self.uri, found.experiment_id,
                                     "another name (tracking.experiment=NAME)")
        return found.experiment_id

    runs_started = 0  # in this process: what an interrupt has to end (runner.__main__)

    def start(self, run_name: str, tags: dict[str, str], params: dict[str, str],
              parent_run_id: str | None = None) -> str:
        """Create the run (RUNNING) and record its params and tags. A store that refuses (a read-only SQLite file or
        folder: it reads but cannot be written) is the UserError of unusable_store, MLflow's tracebacks left out."""
        tags = {**tags, **process_tags(), **({"mlflow.parentRunId": parent_run_id} if parent_run_id else {})}
        self.record = {"experiment": self.experiment, "run_name": run_name, "tags": dict(tags), "params": params}
        with quiet_mlflow():
            try:
                with stops_deferred():  # the run's id known before a stop is handled: the run is ended
                    self.run_id = self.client.create_run(self.experiment_id, tags=tags, run_name=run_name).info.run_id
            except Exception as error:
                raise unusable_store(self.uri, error) from None
            Tracker.runs_started += 1
            self._log_params(params)
        return self.run_id

    def _log_params(self, params: dict[str, str]) -> None:
        """The run's params in batches of at most 100; should the store refuse them, the run ends FAILED (not left
        looking RUNNING), the Tracker holds no run any more (its caller has nothing left to end) and the refusal is
        the UserError of unusable_store."""
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        try:
            for start in range(0, len(items), MAX_PARAMS_PER_BATCH):
                with stops_deferred():
                    self.client.log_batch(self.run_id, params=items[start : start + MAX_PARAMS_PER_BATCH])
        except Exception as error:
            self._send(self.client.set_terminated, self.run_id, "FAILED")
            self.run_id = None
            raise unusable_store(self.uri, error) from None

    def log_datasets(self, parts: list[dict]) -> None:
        """The run's data as MLflow dataset inputs (runner.data_inputs.describe_parts), each tagged with its
        context (training, validation, test); kept in run.json for runner.sync."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        self.record["datasets"] = parts
        fields = ("name", "digest", "source_type", "source", "schema", "profile")
        inputs = [DatasetInput(Dataset(*(p[f] for f in fields)), [InputTag("mlflow.data.context", p["context"])])
                  for p in parts]
        if inputs:
            self._send(self.client.log_inputs, self.run_id, datasets=inputs)

    def metric(self, key: str, value: float, step: int) -> None:
        """Buffer one metric value; sent by `flush`."""
        from mlflow.entities import Metric

        self._pending.append(Metric(key, float(value), int(time.time() * 1000), int(step)))
        self.history.append((key, float(value), int(step)))

    def _send(self, call, *args, **kwargs) -> None:
        """One call to the store; once the store is lost, calls stop and the run is kept locally."""
        if self.lost:
            return
        with quiet_mlflow(), stops_deferred():
            try:
                call(*args, **kwargs)
            except Exception as error:  # the store went away mid-run: keep training, keep results here
                self.lost = error_detail(error)

    def flush(self) -> None:
        """Send the buffered metrics in batches of at most 1000."""
        while self._pending and not self.lost:
            batch, self._pending = self._pending[:MAX_METRICS_PER_BATCH], self._pending[MAX_METRICS_PER_BATCH:]
            self._send(self.client.log_batch, self.run_id, metrics=batch)

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.record.setdefault("tags", {}).update({k: str(v) for k, v in tags.items()})
        self._send(self.client.log_batch, self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def write_metrics_csv(self) -> Path:
        """All metrics of the run as metrics.csv (key, value, step) in the run's output folder."""
        path = self.local_dir / "metrics.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["key", "value", "step"])
            writer.writerows(self.history)
        return path

    def artifact(self, path: Path, artifact_path: str | None = None) -> None:
        """Upload a file, or a folder's contents, as artifacts of the run."""
        path = Path(path)
        if path.is_dir():
            self._send(self.client.log_artifacts, self.run_id, str(path), artifact_path)
        elif path.exists():
            self._send(self.client.log_artifact, self.run_id, str(path), artifact_path)

    def upload_run_files(self) -> None:
        """Upload the run folder's files that exist (RUN_FILES) and Hydra's .hydra/ folder."""
        for name in RUN_FILES:
            self.artifact(self.local_dir / name)
        self.artifact(self.local_dir / ".hydra", ".hydra")

    def finish(self, status: str) -> None:
        """Flush what is buffered, end the run as FINISHED, FAILED or KILLED, and write run.json.

        run.json (name, experiment, params, tags, status, the store's tracking_uri) beside metrics.csv is what
        `python -m runner.sync` uploads when the store was lost (`lost` says why). A stop meanwhile is handled
        after it: it would leave the run RUNNING between its last metrics and its end.
        """
        with stops_deferred():
            self.flush()
            self._send(self.client.set_terminated, self.run_id, status)
            self.write_metrics_csv()
            record = {**self.record, "status": status, "tracking_uri": self.uri, "offline_run_id": self.run_id,
                      "synced_run_id": None if self.lost else self.run_id, "lost": self.lost}
            (self.local_dir / "run.json").write_text(json.dumps(record, indent=1))
