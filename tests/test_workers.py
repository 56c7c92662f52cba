"""How a joblib sweep's workers start and stop (runner/workers.py, runner/preload.py).

With workers.start=forkserver the workers are forked from a server that imported runner.preload;
with loky each is a fresh interpreter. Both must give the same runs; only the first is preloaded.
A sweep stopped while its workers train must record their runs as a stopped single run is recorded.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import FAST, PROJECT_ROOT
from test_sweeps import JOBLIB, children, session_processes, started

RUN_FILES = {"config.yaml", "weights.npz", "preprocessing.npz", "metrics.csv"}  # what predict and replay need

# An initializer plugin (outside the project) that writes down, per job, whether the process
# running the job had runner.preload imported before the job began.
PROBE = '''
import json, os, sys, uuid
from dataclasses import dataclass, field

from plugins.initializers import EpsilonUniform


@dataclass
class Probe(EpsilonUniform):
    folder: str = ""
    name: str = field(default="probe", init=False)

    def __call__(self, layer_sizes, rng):
        record = {"preloaded": "runner.preload" in sys.modules, "parent_pid": os.getppid()}
        with open(os.path.join(self.folder, f"{uuid.uuid4().hex}.json"), "w") as file:
            json.dump(record, file)
        return super().__call__(layer_sizes, rng)
'''


def probe_sweep(store, tmp_path, start: str) -> tuple[object, list, list[dict]]:
    """A 4-job joblib sweep with workers.start=start and the probe: (parent run, children, probe records)."""
    package = tmp_path / "probe_plugins"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text(textwrap.dedent(PROBE))
    folder = tmp_path / f"probe-{start}"
    folder.mkdir()
    (tmp_path / "confs" / "initializer").mkdir(parents=True, exist_ok=True)
    (tmp_path / "confs" / "initializer" / "probe.yaml").write_text(
        f"_target_: probe_plugins.Probe\nfolder: {folder}\n")
    result = store.cli("-m", *JOBLIB, *FAST, f"workers.start={start}", "initializer=probe",
                       f"hydra.searchpath=[file://{tmp_path}/confs]", "regularization.lam=0,1,2,3",
                       PYTHONPATH=str(tmp_path))
    _, parent_id = started(result)
    records = [json.loads(path.read_text()) for path in folder.glob("*.json")]
    return store.client.get_run(parent_id), children(store.client, parent_id), records


@pytest.mark.slow
def test_forkserver_workers_are_preloaded_and_give_the_same_runs_as_loky(store, tmp_path):
    forked_parent, forked, forked_records = probe_sweep(store, tmp_path, "forkserver")
    loky_parent, fresh, fresh_records = probe_sweep(store, tmp_path, "loky")

    assert forked_parent.data.tags["sweep.worker_start"] == "forkserver"
    assert loky_parent.data.tags["sweep.worker_start"] == "loky"
    assert len(forked_records) == len(fresh_records) == 4
    assert all(record["preloaded"] for record in forked_records)
    assert not any(record["preloaded"] for record in fresh_records)
    # forked from one server, which is not the sweep's own process
    assert len({record["parent_pid"] for record in forked_records}) == 1
    by_name = {run.info.run_name: run for run in fresh}
    assert sorted(by_name) == sorted(run.info.run_name for run in forked)
    for a in forked:
        b = by_name[a.info.run_name]
        assert a.info.status == b.info.status == "FINISHED"
        assert a.data.tags["blas_threads"].startswith("1 ") and b.data.tags["blas_threads"].startswith("1 ")
        for key in ("train_cost", "val_cost", "train_accuracy", "gradcheck_rel_error"):
            assert a.data.metrics[key] == b.data.metrics[key], key  # same seed: the same numbers


def test_a_job_imports_nothing_of_note_after_the_preload(tmp_path):
    """Whatever a job (batch GD and numba SGD) imports beyond runner.preload must be small."""
    script = textwrap.dedent('''
        import json, sys
        import runner.preload
        before = set(sys.modules)
        import runner.app
        for optimizer in ("batch_gd", "sgd"):
            sys.argv = ["runner", "dataset=moons", "dataset.n_samples=50", "optimizer=" + optimizer,
                        "optimizer.epochs=3", "architecture.hidden=[3]", "tracking.progress=off"]
            try:
                runner.app.main()
            except SystemExit as exit:
                assert not exit.code, exit.code
        print(json.dumps(sorted(set(sys.modules) - before)))
    ''')
    env = {"PYTHONPATH": str(PROJECT_ROOT), "BACKPROP_LAB_OUTPUTS": str(tmp_path),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    new = json.loads(result.stdout.strip().splitlines()[-1])
    # Hydra's own plugins, image format plugins, MLflow's schema scripts (read by alembic on every
    # store open), and numba's typing modules, loaded when a cached kernel is: small, or not preloadable.
    small = ("hydra", "omegaconf", "antlr4", "PIL.", "netrc", "mlflow.store.db.", "numba.", "llvmlite.",
             "cffi", "pycparser")
    assert [name for name in new if not name.startswith(small)] == []


def test_workers_start_is_checked_and_only_joblib_gets_a_fork_server():
    from runner.errors import UserError
    from runner.workers import start_method, start_workers

    assert start_method({}) == "forkserver"
    assert start_method({"start": "loky"}) == "loky"
    with pytest.raises(UserError, match=r"workers.start='spawn' is invalid; accepted: forkserver, loky"):
        start_method({"start": "spawn"})
    basic = {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}
    joblib = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 1}
    assert start_workers({}, basic) is None
    assert start_workers({}, joblib) is None  # one job at a time: joblib runs them in this process
    for other in ({"backend": "threading"}, {"backend": "multiprocessing"}, {"prefer": "threads"},
                  {"require": "sharedmem"}):  # no loky workers: no fork server
        assert start_workers({}, {**joblib, "n_jobs": 2, **other}) is None


@pytest.mark.slow
def test_a_bad_workers_start_fails_the_sweep_in_one_line(store):
    result = store.cli("-m", *JOBLIB, *FAST, "workers.start=threads", "regularization.lam=0,1")
    assert result.returncode == 2
    assert result.stderr.strip() == "error: workers.start='threads' is invalid; accepted: forkserver, loky"
    assert "Traceback" not in result.stderr


def stop_and_wait(sweep: subprocess.Popen, signum: int, to: str, grace: float) -> list[str]:
    """Send signum to the sweep's process (to="sweep") or to every process of its session ("group", as a terminal's
    Ctrl-C or `timeout` does), wait for it to exit and up to `grace` s for the rest; the processes still alive."""
    if to == "group":
        os.killpg(sweep.pid, signum)
    else:
        sweep.send_signal(signum)
    sweep.wait(timeout=120)
    deadline = time.monotonic() + grace
    while session_processes(sweep.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return session_processes(sweep.pid)


def training_sweep(store, tmp_path, start: str) -> subprocess.Popen:
    """A joblib sweep of 3 long jobs (workers.start=start) in a session of its own, once both workers train (each
    job's progress says it recorded epoch 0 in tmp_path/stderr, which the workers write to as well)."""
    overrides = (*(o for o in FAST if not o.startswith(("optimizer.epochs", "tracking.progress"))),
                 "optimizer.epochs=50000000", "tracking.progress=on")
    with open(tmp_path / "stderr", "w") as stderr:  # a file: the workers write to it too
        sweep = subprocess.Popen([sys.executable, "-m", "runner", "-m", *JOBLIB, f"workers.start={start}", *overrides,
                                  "seed=1,2,3"], cwd=store.root, env=store.env(), start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while (tmp_path / "stderr").read_text().count("epoch 0/") < 2:
            assert time.monotonic() < deadline and sweep.poll() is None, "the jobs never trained"
            time.sleep(0.2)
    except BaseException:
        kill_session(sweep)
        raise
    return sweep


def kill_session(sweep: subprocess.Popen) -> None:
    """Whatever of the sweep a failed test left running: killed."""
    sweep.kill()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sweep.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("to, after", [("group", 0), ("group", 0.3), ("sweep", 0.3)])
def test_ctrl_c_while_the_fork_server_imports_prints_no_traceback_and_leaves_no_process(store, tmp_path, to, after):
    """A terminal's Ctrl-C signals the whole process group: the fork server too, which spends its first seconds
    importing (it printed a 40-line KeyboardInterrupt traceback). `kill -INT` signals the sweep's process alone:
    the server, importing still, must end with it, not seconds later."""
    with open(tmp_path / "stderr", "w") as stderr:  # a file: a pipe would stay open as long as the server
        sweep = subprocess.Popen([sys.executable, "-m", "runner", "-m", *JOBLIB, *FAST, "regularization.lam=0,1,2,3"],
                                 cwd=store.root, env=store.env(), start_new_session=True, stdout=subprocess.DEVNULL,
                                 stderr=stderr)
    try:
        deadline = time.monotonic() + 120
        while subprocess.run(["pgrep", "-s", str(sweep.pid), "-f", "multiprocessing.forkserver"],
                             stdout=subprocess.DEVNULL).returncode:
            assert time.monotonic() < deadline and sweep.poll() is None, "no fork server started"
            time.sleep(0.02)
        time.sleep(after)  # 0: Python starts in the server; 0.3: it imports runner.preload's modules, MLflow first
        left = stop_and_wait(sweep, signal.SIGINT, to, grace=1)  # the server had 2 s of imports left
    finally:
        kill_session(sweep)
    stderr = (tmp_path / "stderr").read_text()
    assert "forkserver.py" not in stderr and "preload.py" not in stderr, stderr[-3000:]  # the server says nothing
    assert left == []
    # -2: CPython ends with SIGINT itself when a KeyboardInterrupt went through an exec() of a string (dataclasses'
    # while MLflow is imported), even one caught; a shell reports 130 for both. Rarely (about 1 in 70 here) the
    # launching process loses the Ctrl-C inside a library's import (pandas', pydantic's) and the sweep goes on:
    # that is theirs, and the interrupt tests of test_faults and test_sweeps check the launching process's side.
    if sweep.returncode in (128 + signal.SIGINT, -signal.SIGINT):
        assert "interrupted by SIGINT" in stderr
        assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("signum, to, start", [(signal.SIGTERM, "sweep", "forkserver"),
                                               (signal.SIGINT, "group", "forkserver"),
                                               (signal.SIGINT, "group", "loky"),
                                               (signal.SIGTERM, "group", "forkserver")],
                         ids=["kill-forkserver", "ctrl-c-forkserver", "ctrl-c-loky", "timeout-command-forkserver"])
def test_a_stopped_parallel_sweep_records_its_training_jobs_as_a_stopped_run_is_recorded(new_store, tmp_path,
                                                                                          signum, to, start):
    """`kill` (SIGTERM to the sweep's process), Ctrl-C (SIGINT to every process of the sweep) or `timeout` (SIGTERM
    to every process) while both workers train: each job's run ends KILLED with its metrics flushed and config.yaml,
    weights.npz and metrics.csv uploaded, as a single run stopped so is, and not killed with its pool before it
    could record any of it. The third job, queued for the first worker free, never starts."""
    store = new_store  # its tables made already: the test reads it while the sweep writes
    sweep = training_sweep(store, tmp_path, start)
    try:
        left = stop_and_wait(sweep, signum, to, grace=30)  # the workers, and the fork server, end with the sweep
    finally:
        kill_session(sweep)
    stderr = (tmp_path / "stderr").read_text()
    assert sweep.returncode == 128 + signum, stderr[-3000:]
    assert f"interrupted by {signal.Signals(signum).name}" in stderr and "Traceback" not in stderr, stderr[-3000:]
    assert left == []
    runs = store.runs()
    (parent,) = [run for run in runs if run.data.tags.get("sweep.role") == "parent"]
    jobs = children(store.client, parent.info.run_id)
    assert parent.info.status == "FAILED" and parent.data.metrics["jobs_killed"] == len(jobs) == 2
    assert parent.data.metrics["jobs_launched"] == 2
    for job in jobs:
        assert job.info.status == "KILLED", job.data.tags.get("failure_reason")
        assert job.data.tags["failure_reason"] == ("stopped with the sweep (Ctrl-C, SIGTERM, hydra.launcher.timeout "
                                                   "or another job's error)")  # not "stopped by Ctrl-C (SIGINT)"
        assert {"train_cost", "val_cost"} <= set(job.data.metrics), job.data.tags.get("failure_reason")
        assert RUN_FILES <= {a.path for a in store.client.list_artifacts(job.info.run_id)}


@pytest.mark.slow
@pytest.mark.parametrize("start", ["forkserver", "loky"])
def test_workers_whose_launching_process_was_killed_record_their_jobs_and_end(new_store, tmp_path, start):
    """kill -9 of the launching process while both workers train: no one is left to stop the sweep. Before, the
    workers trained on, ran the jobs queued for them, then waited for more with the fork server, for good. Now each
    ends its job KILLED with its records, saying why, and exits, and so does the fork server."""
    store = new_store
    sweep = training_sweep(store, tmp_path, start)
    try:
        left = stop_and_wait(sweep, signal.SIGKILL, "sweep", grace=30)
    finally:
        kill_session(sweep)
    assert left == [], (tmp_path / "stderr").read_text()[-3000:]
    (parent,) = [run for run in store.runs() if run.data.tags.get("sweep.role") == "parent"]
    assert parent.info.status == "RUNNING"  # no one could end it: runner.resume --force does
    jobs = children(store.client, parent.info.run_id)
    assert len(jobs) == 2  # the third job, queued, never started
    for job in jobs:
        assert job.info.status == "KILLED", job.data.tags.get("failure_reason")
        assert job.data.tags["failure_reason"] == ("stopped: the sweep's launching process had ended without "
                                                   "stopping it (killed, or out of memory)")
        assert {"train_cost", "val_cost"} <= set(job.data.metrics)
        assert RUN_FILES <= {a.path for a in store.client.list_artifacts(job.info.run_id)}


def test_a_worker_ends_its_job_on_the_first_stop_request_only_and_runs_no_job_after_it(tmp_path):
    """A Ctrl-C reaches a worker from the terminal and again from the launching process: the first ends the job's
    run, the second must not interrupt its record (it stays blocked); a job handed to the worker afterwards does
    not run. Outside a worker, job_stops does nothing."""
    script = textwrap.dedent('''
        import json, os, signal, time
        from runner.workers import job_stops, prepare_worker
        with job_stops():  # not a worker yet: a single run's process
            pass
        prepare_worker()
        seen = []
        try:
            with job_stops():
                os.kill(os.getpid(), signal.SIGINT)  # the terminal's Ctrl-C
                while True:
                    time.sleep(0.01)
        except KeyboardInterrupt as interrupt:
            seen.append(type(interrupt).__name__)
            os.kill(os.getpid(), signal.SIGTERM)  # the launching process's, as the run records itself
        held = signal.SIGTERM in signal.sigpending()
        try:
            with job_stops():
                seen.append("the next job ran")
        except KeyboardInterrupt as interrupt:
            seen.append(type(interrupt).__name__)
        print(json.dumps({"seen": seen, "held": held}))
    ''')
    env = {"PYTHONPATH": str(PROJECT_ROOT), "BACKPROP_LAB_OUTPUTS": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"seen": ["Interrupted", "Interrupted"], "held": True}
