"""The tests' CLI fork server (tests/cli_server.py): a command forked from it is the command a fresh interpreter
runs, and the commands of the suite's stores are forked from it (not silently run fresh)."""
from __future__ import annotations

import os
import subprocess

import pytest
from cli_server import FRESH_VARIABLE, run_fresh
from conftest import FAST, Store, fork_server, new_fork_server

FORKING = pytest.mark.skipif(os.environ.get(FRESH_VARIABLE) == "1", reason=f"{FRESH_VARIABLE}=1 forks no command")


def fresh(store, module: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGS` against the store in a new interpreter, as Store.module ran it before the server."""
    return run_fresh(module, args, store.env(), store.root, timeout=600)


@FORKING
def test_the_commands_of_a_store_are_forked(store, monkeypatch):
    assert fork_server().forks(store.env())
    assert fork_server().forks(store.env(MLFLOW_TRACKING_URI="http://127.0.0.1:1"))
    assert fork_server().forks(store.env(PYTEST_CURRENT_TEST="another test (call)"))  # pytest sets it per test
    assert fork_server().forks(store.env(_MLFLOW_TELEMETRY_SESSION_ID="0" * 32))  # an in-process MLflow client's
    assert fork_server().forks(store.env(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false"))  # set by runner.report
    # what a process reads as it starts cannot be given to a fork: such a command runs in a fresh interpreter
    assert not fork_server().forks(store.env(OPENBLAS_CORETYPE="Prescott"))
    assert not fork_server().forks(store.env(PYTHONPATH="/elsewhere"))
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert not fork_server().forks(store.env())


@FORKING
def test_a_server_made_while_a_test_changed_the_environment_forks_the_commands_of_the_others(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    server = new_fork_server()  # as fork_server() makes it in the first test of a session that runs a command
    monkeypatch.undo()
    assert server.forks(Store(tmp_path).env())


@pytest.mark.parametrize("command", [
    ("runner", "optimizer.lr=-1"),  # a user error: one line, exit 2
    ("runner", "--help"),
    ("runner.report", "--runs", "a'b"),
    ("runner.predict", "--run", "0" * 32),
    ("runner.nothing_of_that_name",),  # Python's own error, exit 1
])
def test_a_forked_command_prints_and_exits_as_in_a_fresh_interpreter(new_store, command):
    forked, new = new_store.module(*command), fresh(new_store, *command)
    assert (forked.returncode, forked.stdout, forked.stderr) == (new.returncode, new.stdout, new.stderr)


def test_a_forked_run_trains_and_records_as_a_fresh_one(new_store):
    forked, new = new_store.cli(*FAST), fresh(new_store, "runner", *FAST)
    assert forked.returncode == new.returncode == 0, forked.stderr + new.stderr
    first, second = new_store.runs()
    assert first.info.status == second.info.status == "FINISHED"
    timings = ("train_seconds", "epochs_per_second")
    metrics = [{key: value for key, value in run.data.metrics.items() if key not in timings} for run in (first, second)]
    assert metrics[0] == metrics[1] != {}
    assert first.data.params == second.data.params
    history = [[(m.step, m.value) for m in new_store.client.get_metric_history(run.info.run_id, "train_cost")]
               for run in (first, second)]
    assert history[0] == history[1] and len(history[0]) > 1


def test_a_forked_command_past_its_timeout_is_killed_and_the_server_serves_on(new_store):
    long_run = (*FAST, "optimizer.epochs=1000000")  # minutes of training
    with pytest.raises(subprocess.TimeoutExpired):
        fork_server().run("runner", long_run, new_store.env(), new_store.root, timeout=5)
    assert new_store.module("runner", "--help").returncode == 0
