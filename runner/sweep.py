"""Sweeps (`python -m runner -m ...`): one parent MLflow run per sweep, one child run per job.

`SweepCallback`, a Hydra callback (conf/hydra/callbacks/sweep.yaml), runs in the process
that launches the jobs. Before any job starts it creates the store, the experiment and the
parent run, and writes the parent's id to `<hydra.sweep.dir>/sweep.json`; every job reads
that file (`runner.jobs.job_context`), so the id reaches jobs in this process, in joblib's worker
processes and on SLURM nodes alike. When the jobs are done it records the sweep's summary
on the parent (jobs FINISHED/FAILED, the best job by `tracking.objective`) and ends it.

A job that diverges ends FAILED (tag diverged=true) and returns a finite worst value,
so the sweep, and an Optuna study, go on.
"""
from __future__ import annotations

import atexit
import contextlib
import json
import logging
import math
import os
import secrets
import signal
import sys
import time
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from runner.errors import UserError, one_line
from runner.paths import code_tags, command_line
from runner.sweep_checks import (check_group_keys, check_swept_values, check_sweep_settings, last_overrides,
                                 sweep_overrides)
from runner.sweep_runs import (direction, end_orphans, override_key, resume_command, set_aside_for_resume,
                               summarize, sweep_children)
from runner.workers import start_workers

SWEEP_FILE = "sweep.json"
RESUME_VARIABLE = "BACKPROP_LAB_RESUME"  # set by runner.resume: the id of the sweep this launch resumes
RESUMABLE_SWEEPERS = ("BasicSweeper",)  # an Optuna study would sample new trials, not repeat its jobs
LOCAL_LAUNCHERS = ("BasicLauncher", "JoblibLauncher")  # their jobs stop when the sweep's process does
MAX_RUN_NAME = 240
OPTUNA_LOG = "hydra_plugins.hydra_optuna_sweeper._impl"  # the Optuna sweeper's logger
OmegaConf.register_new_resolver("blab.direction", lambda objective: direction(objective), replace=True)


def swept(config: DictConfig) -> tuple[list[str], list[str]]:
    """The sweep's search space as 'key=spec' strings, and its keys: the swept overrides of hydra.sweeper.params
    and the command line, the command line's value winning for a key given in both (a fixed value there replaces a
    preset's list: optimizer.lr_decay=0.5 under +experiment=lr_decay sweeps nothing)."""
    specs = [override.input_line for override in last_overrides(config).values() if override.is_sweep_override()]
    return specs, [override_key(spec) for spec in specs]


def planned_jobs(config: DictConfig) -> int | None:
    """How many jobs the sweep will launch: the product of the swept lists' lengths under the basic sweeper, n_trials
    under Optuna (at most the grid's size under GridSampler, which the sweeper takes as n_trials); None when unknown
    ahead (glob(), another sampler or sweeper)."""
    sweeper = config.hydra.sweeper
    name = str(sweeper._target_).rsplit(".", 1)[-1]
    if name == "OptunaSweeper":
        grid = str((sweeper.get("sampler") or {}).get("_target_", "")).endswith("GridSampler")
        return min(int(sweeper.n_trials), listed_jobs(config)) if grid else int(sweeper.n_trials)
    return listed_jobs(config) if name == "BasicSweeper" else None


def listed_jobs(config: DictConfig) -> int | None:
    """The product of the swept lists' lengths (as BasicSweeper.split_arguments); None for a glob(), which the
    sweeper expands against files."""
    from hydra.core.override_parser.types import ValueType

    lengths = {}  # per key: the command line's value wins over the params', as in BasicSweeper.sweep
    for override in sweep_overrides(config):
        if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
            return None
        swept = override.is_sweep_override()
        lengths[override.get_key_element()] = len(list(override.sweep_string_iterator())) if swept else 1
    return math.prod(lengths.values())


def sampler_tags(sweeper: DictConfig) -> dict[str, str]:
    """An Optuna study's sampler and its seed as the parent's tags: a study repeats its trials only with a seed
    (+experiment=optuna_search passes it ${seed}; hydra/sweeper=optuna alone leaves it null)."""
    sampler = sweeper.get("sampler")
    if not str(sweeper._target_).endswith("OptunaSweeper") or sampler is None:
        return {}
    tags = {"sweep.sampler": str(sampler._target_).rsplit(".", 1)[-1]}
    if "seed" in sampler:  # GridSampler has none
        seed = sampler.seed
        tags["sweep.sampler_seed"] = "null (a new seed each study)" if seed is None else str(seed)
    return tags


def resume(tracker, sweep_dir: Path, sweep_id: str) -> dict:
    """Reopen sweep `sweep_id`'s parent run, whose sweep.json is in sweep_dir, for `python -m runner.resume`:
    it is RUNNING again, its earlier failure reason is gone, and sweep.json gains `done` (set_aside_for_resume)."""
    from runner.store import same_store

    path = sweep_dir / SWEEP_FILE
    sweep = json.loads(path.read_text()) if path.exists() else {}
    if sweep.get("id") != sweep_id:
        raise UserError(f"{path} is not sweep {sweep_id}'s; accepted: python -m runner.resume SWEEP_ID, which "
                        "launches the sweep into its own folder and store")
    if not same_store(str(sweep.get("uri")), tracker.uri):  # another spelling of the same file is the same store
        raise UserError(f"sweep {sweep_id} ran in the store {sweep.get('uri')}, not {tracker.uri}; accepted: "
                        f"MLFLOW_TRACKING_URI={sweep.get('uri')} python -m runner.resume {sweep_id}")
    client, parent = tracker.client, sweep["parent_run_id"]
    tracker.run_id = parent  # the Tracker goes on with the parent
    sweep["done"] = set_aside_for_resume(client, tracker.experiment_id, parent, sweep["objective"])
    tags = client.get_run(parent).data.tags
    resumes = int(tags.get("sweep.resumes", "0")) + 1
    client.update_run(parent, "RUNNING")
    if "failure_reason" in tags:
        client.delete_tag(parent, "failure_reason")
    tracker.set_tags({"sweep.resumes": str(resumes)})
    return sweep


def record_best_params(client, parent_run_id: str, best_params: dict[str, str], resumed: bool) -> dict[str, str]:
    """The best job's values as params best.<key> of the parent. A resumed sweep's parent may hold an earlier
    best, which MLflow will not change: it stays, and the tag returned says so ({} otherwise)."""
    from mlflow.entities import Param

    best = {f"best.{key}": value for key, value in best_params.items()}
    logged = client.get_run(parent_run_id).data.params if resumed and best else {}
    params = [Param(key, value) for key, value in best.items() if key not in logged]
    if params:
        client.log_batch(parent_run_id, params=params)
    if any(logged.get(key, value) != value for key, value in best.items()):  # a resume found a new best
        return {"best.params": "an earlier launch's best (MLflow keeps a param's first value); the tags "
                               "best.run_id and best.overrides name the best job now"}
    return {}


def without_study_best(record: logging.LogRecord) -> bool:
    """The Optuna sweeper's log without its "Best parameters" and "Best value" lines: the sweep's summary names the
    best job from its runs, and says when there is none, where the study's best value of a sweep whose every trial
    diverged was the worst value a failed job returns for Optuna (1e9 for a cost: runner.experiment.worst_value)."""
    return not str(record.msg).startswith(("Best parameters:", "Best value:"))


def without_best(path: Path, why: str) -> None:
    """Optuna's optimization_results.yaml, when no trial finished: it says why there is no best, where it named a
    failed trial's worst value (1e9) the best."""
    import yaml

    if path.exists():
        path.write_text(yaml.safe_dump({"name": "optuna", "best_params": None, "best_value": None, "no_best": why}))


def stop_reason() -> str:
    """A stopped sweep's parent's failure_reason: what stopped it, the signal its process took
    (runner.experiment.stop_signal) or else an error."""
    from runner import experiment

    by = experiment.STOPPED_BY.get(experiment.stop_signal)
    return f"the sweep was stopped by {by} before all its jobs returned" if by else \
        "the sweep stopped on an error before all its jobs returned (its output says which)"


def check_folder_unused(sweep_dir: Path) -> None:
    """A new sweep's folder (hydra.sweep.dir) holds no other sweep: its jobs find their parent run by the folder's
    sweep.json, so two sweeps in one folder took each other's jobs (one counted 11 of 8, the other 5 of 8), and a
    sweep after another counted the earlier one's job folders as its own."""
    path = sweep_dir / SWEEP_FILE
    if not path.exists():
        return
    try:
        earlier = json.loads(path.read_text())
        earlier = earlier if isinstance(earlier, dict) else {}
    except (ValueError, OSError):
        earlier = {}
    sweep_id = earlier.get("id", "?")
    resume = (f", or python -m runner.resume {sweep_id} to run that sweep's unfinished jobs"
              if earlier.get("resumable", True) else "")
    raise UserError(f"hydra.sweep.dir={str(sweep_dir)!r} holds sweep {sweep_id} already (its {SWEEP_FILE}); accepted: "
                    f"a folder of its own for each sweep (Hydra's default, or another hydra.sweep.dir){resume}")


def keep_parent_locally(sweep: dict, status: str, lost: str) -> None:
    """The parent's run.json in the sweep folder, as Tracker.finish writes it for a run whose store was lost:
    runner.sync then names it in one line (it uploads the jobs, not the parent's summary)."""
    record = {"experiment": sweep["experiment"], "tags": {"sweep.role": "parent", "sweep.id": sweep["id"]},
              "status": status, "tracking_uri": sweep["uri"], "offline_run_id": sweep["parent_run_id"],
              "synced_run_id": None, "lost": lost}
    with contextlib.suppress(OSError):
        (Path(sweep["dir"]) / "run.json").write_text(json.dumps(record, indent=1))


class SweepCallback(Callback):
    """Hydra callback: the parent run of a sweep, made before the jobs and closed after them."""

    def __init__(self):
        self.sweep: dict = {}  # what sweep.json holds; plain data, as joblib pickles the callback

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        try:
            self._start(config)
        except UserError as error:  # Hydra would turn any exception here into a warning and launch the jobs
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except InterpolationResolutionError as error:  # a resolver's UserError: ${blab.direction:...} of a bad
            if not isinstance(error.__context__, UserError):  # tracking.objective, read by the Optuna checks
                raise
            print(f"error: {error.__context__}", file=sys.stderr)
            sys.exit(2)

    def _start(self, config: DictConfig) -> None:
        """Make the store, the experiment and the parent run; write sweep.json."""
        sweep_dir = Path(str(config.hydra.sweep.dir))
        check_sweep_settings(config.hydra.launcher, config.hydra.sweeper, sweep_dir, list(config.hydra.overrides.task),
                             str(config.tracking.objective))
        resumed = os.environ.get(RESUME_VARIABLE)
        if not resumed:
            check_folder_unused(sweep_dir)
        check_group_keys(config)  # optimizer=choice(lbfgs,sgd) optimizer.lr=...: lbfgs has no lr
        check_swept_values(config)  # a bad value stops the sweep here, not at its job after the ones before it
        # Next, a fork server imports the jobs' modules while this process sets the sweep up.
        worker_start = start_workers(config.get("workers") or {}, config.hydra.launcher)
        from runner.experiment import freeze_imported_objects, in_main_thread, raise_interrupted
        from runner.store import resolve_tracking_uri
        from runner.tracking import Tracker

        # Creating the store and experiment here, once, spares the jobs a race to create them.
        tracker = Tracker(resolve_tracking_uri(config.tracking.uri), str(config.tracking.experiment), sweep_dir)
        freeze_imported_objects()  # MLflow's objects: this process then exits 1 s sooner when the sweep ends
        if resumed:
            self.sweep = resume(tracker, sweep_dir, resumed)
            print(f"sweep {resumed} resumed: parent run {self.sweep['parent_run_id']}; its "
                  f"{len(self.sweep['done'])} FINISHED jobs are skipped, the others run again")
        else:
            self.sweep = self._parent(config, tracker, sweep_dir, worker_start)
        (sweep_dir / SWEEP_FILE).write_text(json.dumps(self.sweep, indent=2))
        atexit.register(self._end_if_open)
        if str(config.hydra.sweeper._target_).endswith("OptunaSweeper"):
            logging.getLogger(OPTUNA_LOG).addFilter(without_study_best)
        if in_main_thread():  # SIGTERM (a scheduler's time limit, kill) then stops the sweep as Ctrl-C does
            signal.signal(signal.SIGTERM, raise_interrupted)
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not ignored (a background sweep)
                signal.signal(signal.SIGINT, raise_interrupted)  # the same KeyboardInterrupt, its signal noted

    @staticmethod
    def _parent(config: DictConfig, tracker, sweep_dir: Path, worker_start: str | None) -> dict:
        """Create the sweep's parent run; what sweep.json holds."""
        objective = str(config.tracking.objective)
        specs, keys = swept(config)
        sweep_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
        overrides = " ".join(config.hydra.overrides.task)
        tags = {"sweep.id": sweep_id, "sweep.role": "parent", "sweep.dir": str(sweep_dir),
                "sweep.overrides": overrides or "(none)", "sweep.space": " ".join(specs) or "(none)",
                "sweep.sweeper": str(config.hydra.sweeper._target_).rsplit(".", 1)[-1],
                "sweep.launcher": str(config.hydra.launcher._target_).rsplit(".", 1)[-1],
                **({"sweep.worker_start": worker_start} if worker_start else {}), **sampler_tags(config.hydra.sweeper),
                "sweep.objective": objective, "sweep.direction": direction(objective),
                "command": command_line("python -m runner -m", config.hydra.overrides.hydra,
                                        config.hydra.overrides.task, keep_sweep_settings=True),
                **code_tags("python -m runner -m")}
        name = ("sweep " + (" ".join(specs) or overrides))[:MAX_RUN_NAME]
        parent_run_id = tracker.start(name, tags, {})
        sweep = {"id": sweep_id, "parent_run_id": parent_run_id, "swept_keys": keys, "space": tags["sweep.space"],
                 "dir": str(sweep_dir), "uri": tracker.uri, "experiment": str(config.tracking.experiment),
                 "objective": objective, "planned": planned_jobs(config),
                 "local": tags["sweep.launcher"] in LOCAL_LAUNCHERS,
                 "resumable": tags["sweep.sweeper"] in RESUMABLE_SWEEPERS}
        print(f"sweep {sweep_id}: parent run {parent_run_id} ({name})")
        return sweep

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self.sweep:
            space = self.sweep["space"]
            summary = self._end("FINISHED")  # SystemExit passes Hydra's callback guard below, an Exception would not
            if summary.jobs_launched == 0:
                print(f"error: the sweep launched no job (its space: {space}); accepted: a sweep space with at "
                      "least one value for each swept key", file=sys.stderr)
                sys.exit(2)
            if summary.finished == 0:  # as a single run that fails exits 1
                print(f"error: none of the sweep's {summary.jobs_launched} jobs finished; its parent run ended FAILED",
                      file=sys.stderr)
                sys.exit(1)

    def _end_if_open(self) -> None:
        """At exit: a sweep stopped by an error never reaches on_multirun_end; its parent ends FAILED. The exit code
        stays the error's, also when the store refuses the summary (one line, and no traceback of atexit's)."""
        if self.sweep:
            sweep = self.sweep  # _end empties it
            with contextlib.suppress(SystemExit):
                self._end("FAILED", stop_reason())
            if sweep.get("resumable", True):
                print(f"  resume: {resume_command(sweep['id'], sweep['experiment'], sweep['uri'])}  "
                      "(runs the jobs that did not finish)", flush=True)

    def _end(self, status: str, reason: str | None = None):
        """Record the summary of the children on the parent run and end it; the summary. Should the store
        refuse, the parent ends FAILED with the reason, and the sweep exits 1."""
        from runner.store import dashboard_command
        from runner.tracking import Tracker

        sweep, self.sweep = self.sweep, {}
        try:
            tracker = Tracker(sweep["uri"], sweep["experiment"], Path(sweep["dir"]))
        except UserError as error:  # the store was lost while the jobs ran: they kept their runs locally
            keep_parent_locally(sweep, status, str(error))
            print(f"error: the sweep's summary could not be recorded ({error}); its parent run "
                  f"{sweep['parent_run_id']} stays RUNNING there (python -m runner.sync uploads the jobs kept "
                  "locally)", file=sys.stderr)
            sys.exit(1)
        tracker.run_id = sweep["parent_run_id"]  # the Tracker goes on with the parent made at the start
        try:
            if status == "FAILED" and sweep.get("local"):
                end_orphans(tracker.client, tracker.experiment_id, tracker.run_id)
            summary = summarize(sweep_children(tracker.client, tracker.experiment_id, tracker.run_id),
                                sweep["objective"])
            summary.jobs_launched = len(list(Path(sweep["dir"]).glob("**/.hydra/overrides.yaml")))
            summary.jobs_planned = sweep.get("planned")
            if summary.jobs_launched == 0:
                reason = reason or "the sweep launched no job"
            reason = reason or summary.no_best()
            for key, value in summary.metrics().items():
                tracker.metric(key, value, 0)
            stale = record_best_params(tracker.client, tracker.run_id, summary.best_params, "done" in sweep)
            text = summary.text(sweep["id"], tracker.run_id, sweep["experiment"], sweep["uri"])
            tracker.set_tags({**summary.tags(), **stale, **({"failure_reason": reason} if reason else {}),
                              "mlflow.note.content": f"```\n{text}\n```"})  # the run's description in the dashboard
            if summary.no_best():
                without_best(Path(sweep["dir"]) / "optimization_results.yaml", summary.no_best())
            for name in ("multirun.yaml", "optimization_results.yaml"):
                tracker.artifact(Path(sweep["dir"]) / name)
            if summary.finished == 0:
                status = "FAILED"
            tracker.finish(status)
        except Exception as error:  # the store refused the summary: the parent must not stay RUNNING
            message = f"the sweep's summary could not be recorded ({type(error).__name__}: {one_line(error)})"
            with contextlib.suppress(Exception):
                tracker.client.set_tag(tracker.run_id, "failure_reason", message)
                tracker.client.set_terminated(tracker.run_id, "FAILED")
            print(f"error: {message}; its parent run {tracker.run_id} ended FAILED", file=sys.stderr)
            sys.exit(1)
        print(text)
        print(f"  dashboard: {dashboard_command(sweep['uri'])}")
        return summary
