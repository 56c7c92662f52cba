"""`python -m runner.resume SWEEP_ID`: launch a stopped sweep again, under its own parent run.

A sweep stopped by a bad job, Ctrl-C, a scheduler's time limit or a crash keeps the runs it made.
This launches its jobs again as they were launched (the overrides its folder's multirun.yaml
holds), into the same folder and store. A job whose config (tag config_hash) FINISHED in the sweep
before is skipped and returns that run's objective; a run that failed or was killed stays under
the parent, tagged sweep.retried, and its job runs again. The parent's summary and
`python -m runner.report` then count each job once. The launch takes this process's place (os.execve), so a
signal sent to it stops the sweep. An Optuna study cannot be resumed; --force ends the runs of one killed outright.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from runner.errors import UserError, run_command

def relaunch_command(parent, sweep_id: str) -> list[str]:
    """`python -m runner -m ...` as the sweep was launched, into its own folder (hydra.sweep.dir)."""
    sweep_dir = Path(parent.data.tags.get("sweep.dir", ""))
    multirun = sweep_dir / "multirun.yaml"
    if not multirun.is_file():
        raise UserError(f"sweep {sweep_id}'s folder {sweep_dir} holds no multirun.yaml (moved, deleted, or on "
                        "another machine); accepted: a sweep whose folder is on this machine")
    hydra, task = saved_overrides(multirun, sweep_id)
    hydra = [o for o in hydra if not o.startswith(("hydra.mode=", "hydra.sweep.dir="))]
    return [sys.executable, "-m", "runner", "-m", *hydra, *task,
            f"hydra.sweep.dir='{sweep_dir}'"]


def saved_overrides(multirun: Path, sweep_id: str) -> tuple[list[str], list[str]]:
    """The hydra and task overrides the sweep was launched with, as Hydra saved them in its multirun.yaml."""
    try:
        overrides = (yaml.safe_load(multirun.read_text()) or {})["hydra"]["overrides"]
        return list(overrides.get("hydra") or []), list(overrides.get("task") or [])
    except (OSError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)  # YAML's message spans lines: what went wrong, and where
        reason = f"{error.problem}, line {mark.line + 1}" if mark else getattr(error, "strerror", None) or str(error)
    except (KeyError, TypeError, AttributeError):
        reason = "it holds no hydra.overrides"
    raise UserError(f"sweep {sweep_id}'s {multirun} cannot be read ({reason}); accepted: the multirun.yaml Hydra "
                    "wrote into the sweep's folder")


def check_resumable(client, parent, sweep_id: str, force: bool) -> None:
    """One line for a sweep that must not be launched again: an Optuna study (said first, whatever its state), or
    one still running. With --force, a study whose process is gone (killed outright) has its RUNNING runs ended
    first, since no relaunch will end them."""
    from runner.sweep import RESUMABLE_SWEEPERS

    running = parent.info.status == "RUNNING"
    sweeper = parent.data.tags.get("sweep.sweeper", "")
    if running and force:
        check_launcher_gone(parent, sweep_id)
    if sweeper not in RESUMABLE_SWEEPERS:
        if running and force:
            end_abandoned(client, parent, sweep_id)
        still = (f"; it is RUNNING (parent run {parent.info.run_id}): --force ends its runs when its process is gone"
                 if running and not force else "")
        raise UserError(f"sweep {sweep_id} ran the {sweeper or 'unknown'} sweeper, whose jobs a new launch would "
                        f"not repeat, so it cannot be resumed{still}; accepted: a sweep of "
                        f"{', '.join(RESUMABLE_SWEEPERS)} (a grid of values)")
    if running and not force:
        raise UserError(f"sweep {sweep_id} is RUNNING (parent run {parent.info.run_id}); accepted: a sweep that "
                        "has ended, or --force when its process is gone (killed outright, so it could not end)")


def check_launcher_gone(parent, sweep_id: str) -> None:
    """--force ends a RUNNING sweep's RUNNING runs, taking its process for gone: one line while that process (tags
    process.pid and process.host of its parent run, runner.tracking.process_tags) still runs on this machine, where
    --force would end the runs of jobs still training and give the sweep a second launching process."""
    from runner.tracking import running_process

    pid = running_process(parent.data.tags)
    if pid is not None:
        raise UserError(f"sweep {sweep_id} is still running: its launching process {pid} is alive (parent run "
                        f"{parent.info.run_id}), so --force would end its running jobs' runs and launch it a second "
                        f"time; accepted: --force once that process is gone: stop the sweep with kill {pid} "
                        "(its running jobs end KILLED; then resume it without --force), or let it end")


def end_abandoned(client, parent, sweep_id: str) -> None:
    """End a sweep whose process is gone: its RUNNING jobs KILLED (runner.sweep_runs.end_orphans), its parent FAILED
    with the reason; one line says so."""
    from runner.sweep_runs import all_runs, children_filter, end_orphans, experiment_option

    parent_id, experiment_id = parent.info.run_id, parent.info.experiment_id
    running = all_runs(client, [experiment_id], children_filter(parent_id) + " and attributes.status = 'RUNNING'")
    end_orphans(client, experiment_id, parent_id)
    client.set_tag(parent_id, "failure_reason", "its process was gone (killed outright); ended by runner.resume "
                                                "--force")
    client.set_terminated(parent_id, "FAILED")
    report = f"python -m runner.report --sweep {sweep_id}{experiment_option(client.get_experiment(experiment_id).name)}"
    print(f"sweep {sweep_id}: its process is gone, so its parent run {parent_id} ended FAILED and its {len(running)} "
          f"RUNNING job{'' if len(running) == 1 else 's'} KILLED; its finished jobs stay ({report})", flush=True)


def record_launcher(client, parent_run_id: str) -> None:
    """This process as the parent's launching process (its process tags): the relaunch takes its place, pid and
    all, so a later --force sees it run."""
    from mlflow.entities import RunTag

    from runner.tracking import process_tags

    client.log_batch(parent_run_id, tags=[RunTag(key, value) for key, value in process_tags().items()])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.resume", description=__doc__.splitlines()[0])
    parser.add_argument("sweep", help="the sweep id (tag sweep.id, printed when it started) or its parent run id")
    parser.add_argument("--experiment", default="backprop-lab", help="experiment name (default: backprop-lab)")
    parser.add_argument("--force", action="store_true", help="resume a sweep whose parent run is still RUNNING")
    args = parser.parse_args(argv)

    from runner.report import find_parent, open_experiment
    from runner.store import open_client, resolve_tracking_uri
    from runner.sweep import RESUME_VARIABLE

    uri = resolve_tracking_uri(None)
    client = open_client(uri)
    experiment = open_experiment(client, uri, args.experiment)
    try:
        parent = find_parent(client, experiment.experiment_id, args.sweep)
    except UserError:  # in runner.report's words, for its --sweep option; here the sweep is the argument
        raise UserError(f"sweep {args.sweep!r} is not in experiment {args.experiment!r} of {uri}; accepted: a sweep "
                        "id (tag sweep.id, printed when it started) or its parent run id, and --experiment NAME "
                        "for a sweep of another experiment") from None
    sweep_id = parent.data.tags.get("sweep.id")
    if parent.data.tags.get("sweep.role") != "parent" or not sweep_id:
        raise UserError(f"run {args.sweep} is not a sweep's parent run; accepted: a sweep id or a parent run id")
    check_resumable(client, parent, sweep_id, args.force)
    command = relaunch_command(parent, sweep_id)
    print(f"resuming sweep {sweep_id}: python {' '.join(command[1:])}", flush=True)
    environment = {**os.environ, "MLFLOW_TRACKING_URI": uri, RESUME_VARIABLE: sweep_id}
    record_launcher(client, parent.info.run_id)
    # the sweep takes this process's place: a SIGTERM or Ctrl-C sent to it stops the sweep, and its exit code is
    # this command's (a child process went on running every job after its parent exited 143)
    os.execve(command[0], command, environment)


if __name__ == "__main__":
    sys.exit(run_command(main))
