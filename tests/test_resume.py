"""`python -m runner.resume`: a signal to it stops the sweep it resumed; an Optuna study killed outright is refused
at once, and --force ends its runs; a deleted experiment is named as such."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

SWEEP = ("-m", "optimizer=batch_gd", "optimizer.epochs=3000", "regularization.lam=0,1,2,3", "tracking.progress=off",
         "tracking.figures=false")


def started(store, module: str, *args: str) -> subprocess.Popen:
    """`python -m MODULE ARGS` against the store, in a session of its own (so that a test can end all of it)."""
    return subprocess.Popen([sys.executable, "-m", module, *args], cwd=store.root, env=store.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def terminated_after_jobs(process: subprocess.Popen, jobs: int) -> tuple[int, str]:
    """SIGTERM to the process once it printed `jobs` job lines; (its exit code, its output)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if sum(text.startswith("job ") for text in lines) == jobs:
            break
    process.send_signal(signal.SIGTERM)
    lines += process.stdout.readlines()
    return process.wait(timeout=120), "".join(lines)


def end_session(process: subprocess.Popen) -> None:
    """Whatever is left of the process's session (an orphaned sweep, when resume failed to stop it)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.mark.slow
def test_a_sigterm_to_resume_stops_the_sweep_it_resumed_and_exits_143(new_store):
    """Before, runner.resume ran the sweep as a child process and exited 143 on SIGTERM while the child went on
    to finish every job, its parent RUNNING meanwhile."""
    sweep = started(new_store, "runner", *SWEEP)
    try:
        code, output = terminated_after_jobs(sweep, 1)
    finally:
        end_session(sweep)
    assert code == 143, output[-3000:]
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", output, re.MULTILINE).groups()
    resume = started(new_store, "runner.resume", sweep_id)
    try:
        code, output = terminated_after_jobs(resume, 2)
        parent = new_store.client.get_run(parent_id)
        running = [run for run in new_store.runs() if run.info.status == "RUNNING"]
    finally:
        end_session(resume)
    assert code == 143, output[-3000:]
    assert parent.info.status == "FAILED" and not running, output[-3000:]  # the sweep ended with the command
    assert "job 3 " not in output


def fake_study(client, status: str = "RUNNING") -> tuple[str, str, str]:
    """An Optuna study's parent left `status`, with a FINISHED trial and a RUNNING one, as `kill -9` leaves them:
    (parent id, finished trial's id, running trial's id)."""
    experiment_id = client.create_experiment("backprop-lab")
    parent = client.create_run(experiment_id, tags={"sweep.role": "parent", "sweep.id": "20260101-000000-dddd",
                                                    "sweep.sweeper": "OptunaSweeper"}).info.run_id
    client.update_run(parent, status)
    trials = [client.create_run(experiment_id, tags={"mlflow.parentRunId": parent, "sweep.id": "20260101-000000-dddd"})
              .info.run_id for _ in range(2)]
    client.set_terminated(trials[0], "FINISHED")
    return parent, *trials


def resume(store, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """runner.resume ARGS in this process against the store: (exit code, stdout, stderr)."""
    from runner.errors import run_command
    from runner.resume import main

    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    monkeypatch.setattr(os, "execve", relaunch_refused)  # a resume that relaunched would replace pytest itself
    code = run_command(main, list(args))
    out, err = capsys.readouterr()
    return code, out, err


def relaunch_refused(*args):
    raise AssertionError(f"runner.resume relaunched the sweep: {args[1]}")


def test_a_study_killed_outright_is_refused_at_once_and_force_ends_its_runs(new_store, monkeypatch, capsys):
    """Before, resume first said the study was RUNNING and that --force was accepted, then --force refused it as an
    Optuna study, and no project command ended its RUNNING runs."""
    client = new_store.client
    parent, finished, running = fake_study(client)
    code, out, err = resume(new_store, monkeypatch, capsys, "20260101-000000-dddd")
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith("error: sweep 20260101-000000-dddd ran the OptunaSweeper sweeper, whose jobs a new launch "
                          "would not repeat, so it cannot be resumed; it is RUNNING") and "--force ends its runs" in err
    assert client.get_run(parent).info.status == "RUNNING"

    code, out, err = resume(new_store, monkeypatch, capsys, "20260101-000000-dddd", "--force")
    assert code == 2 and err.count("\n") == 1 and "cannot be resumed; accepted: a sweep of BasicSweeper" in err, err
    assert out == (f"sweep 20260101-000000-dddd: its process is gone, so its parent run {parent} ended FAILED and its "
                   "1 RUNNING job KILLED; its finished jobs stay (python -m runner.report --sweep "
                   "20260101-000000-dddd)\n")
    ended = client.get_run(parent)
    assert ended.info.status == "FAILED" and "killed outright" in ended.data.tags["failure_reason"]
    assert [client.get_run(run).info.status for run in (finished, running)] == ["FINISHED", "KILLED"]


def test_resume_names_a_deleted_experiment_and_how_to_restore_it(new_store, monkeypatch, capsys):
    """Before: `sweep ... is not in experiment 'todel'`, as if the sweep were elsewhere."""
    client = new_store.client
    experiment_id = client.create_experiment("todel")
    client.delete_experiment(experiment_id)
    code, _, err = resume(new_store, monkeypatch, capsys, "20260101-000000-eeee", "--experiment", "todel")
    assert code == 2 and err == (f"error: --experiment 'todel' is deleted in the store {new_store.uri} (experiment "
                                 f"{experiment_id}); accepted: an active experiment: restore it (MLFLOW_TRACKING_URI="
                                 f"{new_store.uri} mlflow experiments restore --experiment-id {experiment_id}), or "
                                 "choose another (--experiment NAME)\n")


def fake_sweep(client, tags: dict[str, str]) -> tuple[str, str]:
    """A basic sweep's parent left RUNNING, with the process tags `tags`, and a RUNNING job: (parent id, job id)."""
    experiment_id = client.create_experiment("backprop-lab")
    parent = client.create_run(experiment_id, tags={"sweep.role": "parent", "sweep.id": "20260101-000000-ffff",
                                                    "sweep.sweeper": "BasicSweeper", **tags}).info.run_id
    job = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent, "sweep.id": "20260101-000000-ffff",
                                                 "sweep.role": "job"}).info.run_id
    return parent, job


def test_force_is_refused_while_the_sweep_s_launching_process_runs(new_store, monkeypatch, capsys):
    """Before, --force took any RUNNING sweep for one killed outright: with its process alive it ended the runs of
    jobs still training and launched the sweep a second time, two launching processes on one sweep."""
    from runner.tracking import process_tags

    client = new_store.client
    parent, job = fake_sweep(client, process_tags())  # this process: alive
    code, out, err = resume(new_store, monkeypatch, capsys, "20260101-000000-ffff", "--force")
    pid = os.getpid()
    assert code == 2 and out == "" and err == (
        f"error: sweep 20260101-000000-ffff is still running: its launching process {pid} is alive (parent run "
        f"{parent}), so --force would end its running jobs' runs and launch it a second time; accepted: --force once "
        f"that process is gone: stop the sweep with kill {pid} (its running jobs end KILLED; then resume it "
        "without --force), or let it end\n")
    assert [client.get_run(run).info.status for run in (parent, job)] == ["RUNNING", "RUNNING"]


def test_the_launching_process_counts_as_gone_once_ended_or_its_pid_taken_by_another():
    """runner.tracking.running_process: the recorded process, while it runs on this machine; not another process
    that got its pid since (Linux reuses pids, after 32768 by default), one on another host, or one ended."""
    from runner.tracking import process_tags, running_process

    tags = process_tags()
    assert running_process(tags) == os.getpid()
    assert running_process({**tags, "process.host": "elsewhere"}) is None
    assert running_process({**tags, "process.started": "1"}) is None  # same pid, another start: another process
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert running_process({**tags, "process.pid": ended.stdout.strip()}) is None
    assert running_process({}) is None and running_process({**tags, "process.pid": "0"}) is None


@pytest.mark.slow
def test_force_is_refused_while_a_real_sweep_runs_and_names_its_process(new_store, monkeypatch, capsys):
    """The sweep's parent run records its launching process (tags process.pid, process.host): --force reads them."""
    overrides = [o for o in SWEEP if not o.startswith("optimizer.epochs")]
    sweep = started(new_store, "runner", *overrides, "optimizer.epochs=50000000")
    try:
        sweep_id = next(match.group(1) for match in map(re.compile(r"^sweep (\S+): parent run").match, sweep.stdout)
                        if match)
        code, out, err = resume(new_store, monkeypatch, capsys, sweep_id, "--force")
        assert sweep.poll() is None
        running = [run for run in new_store.runs() if run.info.status == "RUNNING"]
    finally:
        end_session(sweep)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert f"its launching process {sweep.pid} is alive" in err and f"kill {sweep.pid} (" in err, err
    assert {run.data.tags["sweep.role"] for run in running} >= {"parent"}
