"""Trustworthy runs: divergence, interrupts, bitwise reproducibility, safe replay."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pytest
import scipy
import yaml
from mlflow.tracking import MlflowClient

from conftest import FAST

pytestmark = pytest.mark.slow


def run_id_of(result: subprocess.CompletedProcess) -> str:
    """The run id from the summary's first line, 'run <id>: STATUS'."""
    return result.stdout.split("run ", 1)[1].split(":", 1)[0]


def weights_path_of(result: subprocess.CompletedProcess) -> Path:
    return Path(re.search(r"weights (\S+\.npz)", result.stdout).group(1))


def histories(client, run_id: str) -> dict[str, list[tuple[int, float]]]:
    metrics = client.get_run(run_id).data.metrics
    return {key: [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
            for key in metrics if key not in ("train_seconds", "epochs_per_second")}


def test_an_absurd_learning_rate_ends_failed_with_the_reason_and_keeps_finite_weights(new_store):
    result = new_store.cli(*FAST, "optimizer.lr=1e7", "optimizer.epochs=50")
    assert result.returncode == 1, result.stderr
    (run,) = new_store.runs()
    assert run.info.status == "FAILED"
    reason = run.data.tags["failure_reason"]
    assert "diverged at epoch" in reason and ("exploded" in reason or "nan" in reason or "inf" in reason)
    assert run.data.tags["diverged"] == "true"
    assert run.data.tags["mlflow.note.content"].startswith(f"**{run.info.run_name}**: FAILED ({reason})")
    assert "FAILED" in result.stdout and "diverged" in result.stdout
    with np.load(weights_path_of(result), allow_pickle=False) as npz:
        assert all(np.all(np.isfinite(npz[k])) for k in npz.files)
        Theta = [npz[f"Theta{l}"] for l in range(1, len(npz.files) + 1)]
    logged = histories(new_store.client, run.info.run_id)
    (diverged_at, exploded), *_ = [(step, J) for step, J in logged["train_cost"] if not J < 1e3 * logged[
        "train_cost"][0][1]]
    (restored_epoch,) = [value for _, value in logged["restored_epoch"]]
    assert reason.endswith(f"; the weights saved are those of epoch {int(restored_epoch)}")
    assert restored_epoch < diverged_at  # the last finite epoch's weights, logged one step past the divergence
    from runner.setup import prepare
    from conftest import resolved_config

    setup = prepare(resolved_config(*FAST, "optimizer.lr=1e7", "optimizer.epochs=50"))
    J, accuracy = setup.objective.value_and_accuracy(Theta, setup.splits.train.y)
    assert logged["train_cost"][-1] == (diverged_at + 1, pytest.approx(J, rel=1e-12))  # the last value: the saved
    assert logged["train_accuracy"][-1] == (diverged_at + 1, pytest.approx(accuracy))  # weights', not the
    assert logged["val_cost"][-1][0] == diverged_at + 1 and exploded > 1e3 * J  # exploded cost's
    assert f"final cost {J:.4f}" in result.stdout or f"final cost {J:.4g}" in result.stdout


@pytest.mark.parametrize("overrides, status, cost", [
    (["initializer=constant", "initializer.value=1e300"], "FAILED (diverged at epoch 0: cost is inf)", r"inf"),
    (["regularization.lam=1e308", "gradcheck.mode=direction"], "FAILED (diverged at epoch 1", r"\d\.\d{3}e\+30\d"),
])
def test_huge_accepted_values_print_no_numpy_warnings_and_a_readable_cost(new_store, overrides, status, cost):
    """Before, numpy's RuntimeWarnings (overflow in square, invalid value in divide) reached stderr, and the
    summary wrote a cost of 1e306 out in 300 digits."""
    result = new_store.cli(*FAST, *overrides)
    assert result.returncode == 1 and "Warning" not in result.stderr, result.stderr
    (run,) = new_store.runs()
    assert result.stdout.startswith(f"run {run.info.run_id}: {status}"), result.stdout
    (line,) = [line for line in result.stdout.splitlines() if "final cost" in line]
    assert re.fullmatch(cost, line.split()[2]), line
    assert "(direction, a random direction)" in line or "gradient check -" in line, line


def test_a_gradient_check_above_the_tolerance_fails_the_run_at_once(new_store):
    result = new_store.cli(*FAST, "gradcheck.tolerance=1e-30")  # no check is that close: fails at epoch 0
    assert result.returncode == 1, result.stderr
    (run,) = new_store.runs()
    assert run.info.status == "FAILED" and "diverged" not in run.data.tags
    assert run.data.tags["failure_reason"].startswith("gradient check failed at epoch 0: relative error ")
    assert "> gradcheck.tolerance 1e-30" in run.data.tags["failure_reason"]
    logged = histories(new_store.client, run.info.run_id)
    assert [step for step, _ in logged["train_cost"]] == [0]  # no epoch trained on a gradient found wrong
    assert [step for step, _ in logged["gradcheck_rel_error"]] == [0]
    assert result.stdout.startswith(f"run {run.info.run_id}: FAILED (gradient check failed at epoch 0")


def test_a_gradient_check_above_the_tolerance_at_the_end_fails_a_trained_run(new_store, monkeypatch):
    """The tolerance between the errors of the first and the last check: the run trains, then fails."""
    from conftest import resolved_config
    from runner.experiment import run_experiment

    for key, value in new_store.env().items():
        monkeypatch.setenv(key, value)
    plain = run_experiment(resolved_config(*FAST), new_store.root / "plain")
    client = MlflowClient(new_store.env()["MLFLOW_TRACKING_URI"])
    (_, first), (last_epoch, last) = histories(client, plain.run_id)["gradcheck_rel_error"]
    low, high = sorted((first, last))
    assert last_epoch == 12 and high > 1.01 * low
    tolerance = (low * high) ** 0.5
    checked = run_experiment(resolved_config(*FAST, f"gradcheck.tolerance={tolerance!r}"), new_store.root / "tol")
    failed_at = 12 if first < last else 0
    assert checked.status == "FAILED" and checked.reason.startswith(f"gradient check failed at epoch {failed_at}:")
    trained = histories(client, checked.run_id)["train_cost"]
    assert trained[-1][0] == failed_at and trained == histories(client, plain.run_id)["train_cost"][:len(trained)]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_mid_training_ends_the_run_killed_with_its_metrics_and_weights(new_store, signum):
    env = new_store.env()
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", *FAST, "optimizer.epochs=1000000", "tracking.progress=on",
         "tracking.every=1"],
        cwd=new_store.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        seen = ""
        while "epoch" not in seen and time.monotonic() < deadline:
            seen += os.read(process.stderr.fileno(), 4096).decode()
        time.sleep(1.0)  # let it train a while: many epochs buffered, none sent yet
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signum, stderr  # 130 after SIGINT, 143 after SIGTERM, as the shell's
    assert f"interrupted by {signal.Signals(signum).name}" in stderr
    assert "KILLED" in stderr and "Traceback" not in stderr
    (run,) = new_store.runs()
    assert run.info.status == "KILLED"
    # What a replay must match, and the dashboard's description: before, only a run that ended recorded them.
    assert {"python_version", "numpy_version", "blas", "blas_threads", "cpu", "platform"} <= set(run.data.tags)
    description = run.data.tags["mlflow.note.content"]
    by = re.escape("Ctrl-C (SIGINT)" if signum == signal.SIGINT
                   else "SIGTERM (kill, timeout or a scheduler's time limit)")
    assert re.match(rf"\*\*.+\*\*: KILLED \(stopped by {by}; last recorded at epoch \d+\)", description), description
    assert "| accuracy | 0." in description and "| - |" in description  # train and val recorded, no test yet
    history = histories(new_store.client, run.info.run_id)["train_cost"]
    assert len(history) > 10 and [s for s, _ in history] == list(range(len(history)))
    artifacts = {a.path for a in new_store.client.list_artifacts(run.info.run_id)}
    assert {"weights.npz", "preprocessing.npz", "metrics.csv", "config.yaml", ".hydra"} <= artifacts  # predict, replay
    weights = new_store.download(run.info.run_id, "weights.npz")
    with np.load(weights, allow_pickle=False) as npz:
        assert sorted(npz.files) == ["Theta1", "Theta2"]
    if signum == signal.SIGTERM:  # a stopped run's network still predicts
        predicted = new_store.module("runner.predict", run.info.run_id)
        assert predicted.returncode == 0 and "samples of test part classified" in predicted.stdout, predicted.stderr


def test_same_seed_gives_bitwise_identical_metrics_and_weights_and_another_seed_differs(new_store):
    args = (*FAST, "optimizer=sgd", "optimizer.epochs=5", "gradcheck.every=2")
    first, second, other = (new_store.cli(*args, f"seed={seed}") for seed in (7, 7, 8))
    for result in (first, second, other):
        assert result.returncode == 0, result.stderr
    client = new_store.client
    a, b, c = (histories(client, run_id_of(r)) for r in (first, second, other))
    assert a == b
    assert a["train_cost"] != c["train_cost"]
    with np.load(weights_path_of(first)) as wa, np.load(weights_path_of(second)) as wb, \
            np.load(weights_path_of(other)) as wc:
        assert all(np.array_equal(wa[k], wb[k]) for k in wa.files)
        assert not np.array_equal(wa["Theta1"], wc["Theta1"])
    tags = client.get_run(run_id_of(first)).data.tags
    assert tags["numpy_version"] == np.__version__ and "blas" in tags and "blas_threads" in tags
    assert (tags["scipy_version"], tags["numba_version"]) == (scipy.__version__, numba.__version__)


def test_replay_of_a_normal_run_matches(new_store):
    original = new_store.cli(*FAST, "optimizer=sgd", "optimizer.epochs=3")
    assert original.returncode == 0, original.stderr
    replay = new_store.module("runner.replay", run_id_of(original))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "MISMATCH" not in replay.stdout and "match    train_cost" in replay.stdout
    runs = new_store.runs()
    assert len(runs) == 2 and runs[1].data.tags["replay_of"] == run_id_of(original)


def numpy_blas_kernel(**env: str) -> str | None:
    """The kernel numpy's OpenBLAS chooses in a new process with this environment, as threadpoolctl reads it."""
    code = ("import numpy; from threadpoolctl import threadpool_info; "
            "print(next((p.get('architecture') for p in threadpool_info() if p['user_api'] == 'blas'), None))")
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True)
    return result.stdout.strip() if result.returncode == 0 else None


def test_replay_on_another_blas_kernel_says_what_differs_and_how_to_replay_on_the_original_kernel(new_store):
    """OpenBLAS (numpy's wheels) picks its kernel for the CPU when it loads; OPENBLAS_CORETYPE forces one.
    The same config and seed on two kernels differ in the last bits: the replay says why, and how to match."""
    default = numpy_blas_kernel()
    if numpy_blas_kernel(OPENBLAS_CORETYPE="Sandybridge") != "Sandybridge" or default in (None, "Sandybridge"):
        pytest.skip(f"needs numpy's OpenBLAS choosing a kernel other than Sandybridge at run time (here: {default})")
    original = new_store.cli(*FAST, OPENBLAS_CORETYPE="Sandybridge")
    assert original.returncode == 0, original.stderr
    run_id = run_id_of(original)
    replay = new_store.module("runner.replay", run_id)
    recorded, replayed = (run.data.tags for run in new_store.runs())
    assert "Sandybridge (1 threads)" in recorded["blas"] and f"{default} (1 threads)" in replayed["blas"]
    assert recorded["cpu"] == replayed["cpu"] != "unknown"
    assert replay.returncode == 1 and "MISMATCH train_cost" in replay.stdout, replay.stdout + replay.stderr
    kernel_line = next(line for line in replay.stdout.splitlines() if line.strip().startswith("blas "))
    assert "Sandybridge (1 threads) -> openblas" in kernel_line, replay.stdout
    assert f"OPENBLAS_CORETYPE=Sandybridge python -m runner.replay {run_id}" in replay.stdout
    again = new_store.module("runner.replay", run_id, OPENBLAS_CORETYPE="Sandybridge")  # as the hint says
    assert again.returncode == 0 and "MISMATCH" not in again.stdout, again.stdout + again.stderr


def test_a_mismatch_is_explained_by_what_differs_or_reported_as_a_reproducibility_bug():
    from runner.replay import explain_mismatch, openblas_kernel

    assert openblas_kernel("openblas 0.3.31 SkylakeX (1 threads); openblas 0.3.30 SkylakeX (1 threads)") == "SkylakeX"
    assert openblas_kernel("openblas 0.3.31 (1 threads)") is None  # recorded before the kernel was
    assert openblas_kernel("mkl 2024.1 (4 threads)") is None
    same = "\n".join(explain_mismatch([], "abc"))
    assert "not reproducible; please report it" in same
    threads_only = "\n".join(explain_mismatch([("blas", "openblas 0.3.31 Haswell (2 threads)",
                                                 "openblas 0.3.31 Haswell (1 threads)")], "abc"))
    assert "blas" in threads_only and "OPENBLAS_CORETYPE" not in threads_only and "--tolerance" in threads_only
    code = "\n".join(explain_mismatch([("git_commit", "1" * 40, "2" * 40)], "abc"))
    assert "git_commit" in code and f"{'1' * 40} -> {'2' * 40}" in code
    assert "uncommitted" not in code
    dirty = "\n".join(explain_mismatch([("git_dirty", "true", "true")], "abc"))
    assert "uncommitted changes to tracked files" in dirty and "please report it" not in dirty


def test_code_tags_say_whether_tracked_files_differed_from_the_commit(tmp_path, monkeypatch):
    from runner import paths

    repo = tmp_path / "repo"
    repo.mkdir()
    git = lambda *args: subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    (repo / "a.py").write_text("x = 1\n")
    git("add", "a.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    monkeypatch.setattr(paths, "PROJECT_ROOT", repo)
    states = []
    for change in (None, ("b.txt", "untracked\n"), ("a.py", "x = 2\n")):
        if change:
            (repo / change[0]).write_text(change[1])
        paths.git_state.cache_clear()
        states.append(paths.code_tags("python -m runner"))
    paths.git_state.cache_clear()
    assert [t["git_dirty"] for t in states] == ["false", "false", "true"]  # an untracked file is not the code
    assert {t["git_commit"] for t in states} == {t["mlflow.source.git.commit"] for t in states}
    assert re.fullmatch(r"[0-9a-f]{40}", states[0]["git_commit"])
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path / "not_a_checkout")
    (tmp_path / "not_a_checkout").mkdir()
    assert "git_commit" not in paths.code_tags("x") and paths.code_tags("x")["mlflow.source.name"] == "x"
    paths.git_state.cache_clear()


@pytest.mark.parametrize("target, arguments", [
    ("os.system", {"command": "touch {marker}"}),
    ("subprocess.run", {"args": ["touch", "{marker}"]}),
    ("builtins.eval", {"source": "open('{marker}', 'w')"}),
])
def test_replay_refuses_a_logged_config_that_names_code_outside_the_plugins(new_store, tmp_path, target, arguments):
    original = new_store.cli(*FAST, "optimizer.epochs=2")
    run_id = run_id_of(original)
    config_path = new_store.download(run_id, "config.yaml")
    config = yaml.safe_load(config_path.read_text())
    marker = tmp_path / "marker"
    filled = {k: (v.format(marker=marker) if isinstance(v, str) else [x.format(marker=marker) for x in v])
              for k, v in arguments.items()}
    config["initializer"] = {"_target_": target, **filled}
    altered = tmp_path / "altered" / "config.yaml"
    altered.parent.mkdir()
    altered.write_text(yaml.safe_dump(config))
    new_store.client.log_artifact(run_id, str(altered))  # overwrites the logged config.yaml
    runs_before = len(new_store.runs())

    replay = new_store.module("runner.replay", run_id)

    assert replay.returncode == 2
    assert f"initializer._target_='{target}' is not allowed" in replay.stderr
    assert "Traceback" not in replay.stderr
    assert not marker.exists()
    assert len(new_store.runs()) == runs_before


def test_a_server_lost_mid_run_keeps_the_results_locally_and_sync_uploads_them(tmp_path):
    """A real server is killed while a run trains: the run completes, keeps its metrics and weights
    in its folder, says so, and `runner.sync` uploads it, every metric step, to a new server."""
    from conftest import Store, mlflow_server_at, stop_server

    local = Store(tmp_path / "client")
    local.root.mkdir()
    with mlflow_server_at(tmp_path / "first") as (url, server):
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", *FAST, "dataset.n_samples=2000", "architecture.hidden=[25]",
             "optimizer.epochs=20000", "tracking.progress=on"],
            cwd=local.root, env=local.env(MLFLOW_TRACKING_URI=url),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen = ""
        deadline = time.monotonic() + 120
        while "epoch" not in seen and time.monotonic() < deadline:
            seen += os.read(process.stderr.fileno(), 4096).decode()
        stop_server(server)  # training goes on; the store is gone
        stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    assert "upload them with: python -m runner.sync" in stdout + stderr, stdout + stderr
    run_dir = Path((stdout + stderr).split("python -m runner.sync ", 1)[1].split()[0])
    assert {"weights.npz", "preprocessing.npz", "metrics.csv"} <= {path.name for path in run_dir.iterdir()}
    local_steps = [line for line in (run_dir / "metrics.csv").read_text().splitlines()[1:]
                   if line.startswith("train_cost,")]
    assert len(local_steps) > 10

    with mlflow_server_at(tmp_path / "second") as (url, _):
        synced = local.module("runner.sync", str(run_dir), MLFLOW_TRACKING_URI=url)
        assert synced.returncode == 0, synced.stderr
        client = MlflowClient(tracking_uri=url)
        (run,) = client.search_runs([client.get_experiment_by_name("backprop-lab").experiment_id])
        history = client.get_metric_history(run.info.run_id, "train_cost")
        assert len(history) == len(local_steps)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"weights.npz", "preprocessing.npz", "metrics.csv", "config.yaml"} <= artifacts
        assert run.data.params["optimizer.lr"] == "1"


def test_a_second_stop_while_a_stopped_run_records_itself_is_ignored(new_store, monkeypatch):
    """Before, a second Ctrl-C or SIGTERM while a stopped run flushed its metrics and uploaded its files raised in
    the middle of it: a traceback and a half-written record. Now both are ignored meanwhile, then handled again."""
    import signal

    from conftest import resolved_config
    from runner import experiment

    for key, value in new_store.env().items():
        monkeypatch.setenv(key, value)
    finish, seen = experiment._finish_quietly, {}

    def finish_noting_the_handlers(*args, **kwargs):
        seen.update({signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)})
        if seen[signal.SIGINT] is signal.SIG_IGN:  # (else it would stop pytest itself: the assert below fails)
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C, mid-record
        finish(*args, **kwargs)

    def stopped(*args, **kwargs):
        raise experiment.Interrupted()  # SIGTERM during training

    monkeypatch.setattr(experiment, "train", stopped)
    monkeypatch.setattr(experiment, "_finish_quietly", finish_noting_the_handlers)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(experiment.Interrupted):  # the first stop, not the second
        experiment.run_experiment(resolved_config(*FAST), new_store.root / "killed")
    assert seen == {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN}
    assert signal.getsignal(signal.SIGINT) is before  # handled again afterwards
    (run,) = new_store.runs()
    assert run.info.status == "KILLED" and {"config.yaml", "weights.npz", "metrics.csv"} <= {
        a.path for a in new_store.client.list_artifacts(run.info.run_id)}


def test_a_stop_just_after_the_run_is_made_ends_it_killed(new_store, monkeypatch):
    """A SIGTERM or Ctrl-C between the run's creation and its training (its dataset inputs being sent): before, the
    handler was not installed yet and the run stayed RUNNING for good (found by timing signals 5-15 ms in)."""
    from conftest import resolved_config
    from runner import experiment
    from runner.tracking import Tracker

    for key, value in new_store.env().items():
        monkeypatch.setenv(key, value)

    def stopped(self, parts):
        raise experiment.Interrupted()

    monkeypatch.setattr(Tracker, "log_datasets", stopped)
    with pytest.raises(experiment.Interrupted):
        experiment.run_experiment(resolved_config(*FAST), new_store.root / "stopped")
    (run,) = new_store.runs()
    assert run.info.status == "KILLED" and run.data.tags["failure_reason"] == (
        "stopped by SIGTERM (kill, timeout or a scheduler's time limit)")
    assert {"config.yaml", "weights.npz", "metrics.csv"} <= {a.path for a in new_store.client.list_artifacts(
        run.info.run_id)}


def test_a_stop_during_a_store_call_is_handled_after_it_and_the_run_ends_killed(new_store, monkeypatch):
    """A SIGTERM raised in the middle of a store call (here: as SQLite has written the run's metrics, before the
    commit) left that write transaction open in the process: the stopped run's own record then waited on the lock
    (in a sweep's worker until its 5 s grace ran out) and the run stayed RUNNING for good (1 of 14 jobs after a
    kill -9 of a sweep). Now the call completes first, and the stop ends the run KILLED."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from conftest import resolved_config
    from runner import experiment

    for key, value in new_store.env().items():
        monkeypatch.setenv(key, value)
    stops = []

    def stop_mid_write(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO METRICS") and not stops:
            stops.append(statement)
            signal.raise_signal(signal.SIGTERM)  # handled by run_experiment's handler at the next bytecode

    event.listen(Engine, "after_cursor_execute", stop_mid_write)
    try:
        with pytest.raises(experiment.Interrupted):
            experiment.run_experiment(resolved_config(*FAST), new_store.root / "stopped")
    finally:
        event.remove(Engine, "after_cursor_execute", stop_mid_write)
    assert stops
    (run,) = new_store.runs()
    assert run.info.status == "KILLED", run.data.tags.get("failure_reason")
    assert {"train_cost", "val_cost"} <= set(run.data.metrics)


def test_an_interrupt_says_what_it_ended(monkeypatch):
    """Before, an interrupt during the imports said 'the run was ended as KILLED' of a run never made."""
    from runner.__main__ import interrupted_what
    from runner.tracking import Tracker

    monkeypatch.setattr(Tracker, "runs_started", 0)
    assert interrupted_what() == "stopped before any run was recorded"
    monkeypatch.setattr(Tracker, "runs_started", 1)
    monkeypatch.setattr(sys, "argv", ["runner"])
    assert interrupted_what() == "the run was ended as KILLED"
    monkeypatch.setattr(sys, "argv", ["runner", "-m", "seed=1,2"])
    assert interrupted_what().startswith("the sweep was stopped: its parent run ended FAILED")


class StoredHistories:
    """As much of an MlflowClient as compare_histories reads: {run id: {metric: {step: value}}}."""

    def __init__(self, runs: dict[str, dict[str, dict[int, float]]]):
        self.runs = runs

    def get_run(self, run_id):
        from types import SimpleNamespace

        return SimpleNamespace(data=SimpleNamespace(metrics={key: 0.0 for key in self.runs[run_id]}))

    def get_metric_history(self, run_id, key):
        from types import SimpleNamespace

        return [SimpleNamespace(step=step, value=value) for step, value in self.runs[run_id].get(key, {}).items()]


def test_replay_names_the_steps_that_differ_rather_than_their_counts():
    """Before, two different sets of two steps each printed 'steps differ (2 vs 2)'."""
    from runner.replay import compare_histories

    client = StoredHistories({
        "a": {"gradcheck_rel_error": {0: 1e-9, 12: 2e-9}, "train_cost": dict.fromkeys(range(228), 1.0)},
        "b": {"gradcheck_rel_error": {0: 1e-9, 5: 2e-9}, "train_cost": dict.fromkeys(range(6), 1.0)}})
    rows = {key: (steps, matches, detail) for key, steps, matches, detail in compare_histories(client, "a", "b", 0.0)}
    assert rows["gradcheck_rel_error"] == (2, False, "steps differ: step 12 only in the original, step 5 only in the "
                                                     "replay")
    assert rows["train_cost"] == (228, False, "steps differ: steps 6, 7, ..., 227 (222 steps) only in the original")
    reached = {key: matches for key, _, matches, _ in compare_histories(client, "b", "a", 0.0, reached_only=True)}
    assert reached == {"gradcheck_rel_error": False, "train_cost": True}  # the replay's later steps left out only


def killed_run(store, monkeypatch, stop_at: int, *overrides: str):
    """A FAST run of `overrides` into store, ended KILLED as SIGTERM at epoch stop_at would end it: the epochs before
    it recorded and their weights saved (runner.experiment)."""
    from conftest import resolved_config
    from runner.experiment import Interrupted, run_experiment
    from runner.recording import EpochRecorder

    for key, value in store.env().items():
        monkeypatch.setenv(key, value)
    record = EpochRecorder.__call__

    def stopped(self, epoch, Theta):
        if epoch == stop_at:
            raise Interrupted()
        record(self, epoch, Theta)

    monkeypatch.setattr(EpochRecorder, "__call__", stopped)
    with pytest.raises(Interrupted):
        run_experiment(resolved_config(*FAST, *overrides), store.root / "killed")
    monkeypatch.setattr(EpochRecorder, "__call__", record)
    (killed,) = store.runs()
    assert killed.info.status == "KILLED"
    return killed


def test_replay_of_a_killed_run_says_so_and_compares_the_steps_it_recorded(new_store, monkeypatch):
    """Before, it printed MISMATCH for each metric the killed run had not reached; and it trained every epoch of the
    original's config (of a run killed at epoch 300 of 100000, all 100000): now only those the original recorded."""
    killed = killed_run(new_store, monkeypatch, 6, "tracking.every=1")  # 0 .. 5 recorded, their weights saved
    run_id = killed.info.run_id
    replay = new_store.module("runner.replay", run_id)
    assert replay.returncode == 0 and "MISMATCH" not in replay.stdout, replay.stdout + replay.stderr
    assert replay.stdout.splitlines()[0] == ("the original run ended KILLED at epoch 5 (stopped by SIGTERM (kill, "
                                             "timeout or a scheduler's time limit)): only the metric steps it "
                                             "recorded are compared; the replay trains up to them "
                                             "(optimizer.epochs=5 tracking.every=1)")
    assert re.search(r"match    train_cost\s+6 steps", replay.stdout), replay.stdout
    replayed = new_store.runs()[1]
    assert replayed.info.status == "FINISHED" and replayed.data.params["optimizer.epochs"] == "5"  # of 12
    assert max(m.step for m in new_store.client.get_metric_history(replayed.info.run_id, "train_cost")) == 5
    predicted = new_store.module("runner.predict", run_id)
    assert predicted.returncode == 0 and "samples of test part classified" in predicted.stdout, predicted.stderr
    assert predicted.stderr.strip().splitlines() == [
        f"note: run {run_id} ended KILLED at epoch 5 (stopped by SIGTERM (kill, timeout or a scheduler's time "
        "limit)): its weights are those of epoch 5"]


def test_the_replay_of_a_killed_run_records_the_steps_the_original_did(new_store, monkeypatch, capsys):
    """tracking.every=auto records every ceil(epochs / 250) epochs: cut to 300 of 600 epochs, the replay must keep
    the original's 3, not take 2 from its own 300, or half the steps the original recorded would be missing."""
    from runner import replay

    killed = killed_run(new_store, monkeypatch, 301, "optimizer.epochs=600")  # 0, 3, ..., 300 recorded
    assert replay.main([killed.info.run_id]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "the replay trains up to them (optimizer.epochs=300 tracking.every=3)" in out
    assert re.search(r"match    train_cost\s+101 steps", out), out
    replayed = next(run for run in new_store.runs() if run.info.run_id != killed.info.run_id)
    assert replayed.data.params["optimizer.epochs"] == "300"
    assert replayed.data.tags["replay_cut"] == "optimizer.epochs=300 tracking.every=3"  # the dashboard says why


def test_a_replay_carries_the_originals_rerun_command_config_hash_and_choices(new_store):
    """Before, the replay run had no command, overrides, config_hash, choice.* tags nor .hydra/ files."""
    original = new_store.cli(*FAST, "optimizer.epochs=3")
    assert original.returncode == 0, original.stderr
    replay = new_store.module("runner.replay", run_id_of(original))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    before, after = new_store.runs()
    kept = [key for key in before.data.tags if key in ("command", "overrides", "config_hash") or
            key.startswith("choice.")]
    assert len(kept) > 6 and {key: after.data.tags.get(key) for key in kept} == {key: before.data.tags[key]
                                                                                  for key in kept}
    assert after.data.tags["replay_of"] == before.info.run_id
    assert after.data.tags["mlflow.source.name"] == "python -m runner.replay"  # its own code, not the original's
    assert ".hydra" in {a.path for a in new_store.client.list_artifacts(after.info.run_id)}
