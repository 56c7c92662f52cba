"""The job's side of a sweep: which parent run it belongs to, its name and tags, its BLAS threads.

A job reads its sweep's sweep.json, written by runner.sweep.SweepCallback before the first job,
in whatever process or machine the launcher runs it.
"""
from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hydra.types import RunMode

from runner.errors import UserError
from runner.sweep import MAX_RUN_NAME, SWEEP_FILE
from runner.sweep_runs import override_key
from runner.tracking import canonical_numbers
from runner.workers import job_stops, start_method


@dataclass(frozen=True)
class Job:
    """What a job needs to know of its sweep: the parent run, its own name and tags, its BLAS threads."""

    parent_run_id: str | None = None
    name: str | None = None
    tags: dict = field(default_factory=dict)
    blas_threads: int | None = None
    done: dict = field(default_factory=dict)  # a resumed sweep's FINISHED jobs: {config_hash: {run_id, value, ...}}

    @contextlib.contextmanager
    def limits(self):
        """While the job's run trains: its BLAS/OpenMP threads limited (jobs in parallel would oversubscribe the
        cores), and in a sweep's worker, a stop request ends it (runner.workers.job_stops)."""
        with job_stops():
            if self.blas_threads is None:
                yield
                return
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=self.blas_threads):
                yield


def job_context(hydra_cfg, config: dict) -> Job:
    """The Job of this Hydra job: in a multirun, read from the sweep's sweep.json; else only BLAS threads."""
    threads = blas_threads(config.get("workers") or {}, str(hydra_cfg.launcher._target_))
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return Job(blas_threads=threads)
    path = Path(str(hydra_cfg.sweep.dir)) / SWEEP_FILE
    if not path.exists():
        print(f"warning: {path} is missing (is hydra/callbacks=sweep configured?); this job has no parent run",
              file=sys.stderr)
        return Job(blas_threads=threads)
    sweep = json.loads(path.read_text())
    overrides = list(hydra_cfg.overrides.task)
    own = [o for o in overrides if override_key(o) in sweep["swept_keys"]] or overrides
    name = " ".join(map(canonical_override, own)) or "(defaults)"
    tags = {"sweep.id": sweep["id"], "sweep.role": "job", "sweep.job": str(hydra_cfg.job.num),
            "sweep.job_overrides": name}
    return Job(sweep["parent_run_id"], name[:MAX_RUN_NAME], tags, threads, sweep.get("done", {}))


def canonical_override(override: str) -> str:
    """key=VALUE with a whole number as the run's params write it (runner.tracking.canonical_numbers): Hydra gives
    a swept 1e6 as 1000000.0, whose param is 1000000; any other override as it is."""
    key, _, value = override.partition("=")
    try:
        whole = canonical_numbers(float(value))  # no '=': float('') refuses
    except ValueError:
        return override
    written_whole = value.lstrip("+-").isdigit()  # 007 stays 007
    return f"{key}={whole}" if isinstance(whole, int) and not written_whole else override


def earlier_attempt(job: Job, config_hash: str, config: dict) -> tuple[dict | None, dict | None]:
    """For a job of a resumed sweep: (the FINISHED run to skip it for, None) when its config FINISHED before
    on the same data; (None, {run_id, why}) when the job FINISHED before but its config (a default changed
    since, so config_hash did) or its data changed: that run no longer counts, and the job runs again;
    (None, None) when it never FINISHED."""
    earlier = job.done.get(config_hash)
    if earlier:
        changed = changed_data(config, earlier)
        if not changed:
            return earlier, None
        return None, {"run_id": earlier["run_id"], "why": f"its data changed since run {earlier['run_id']} "
                                                          f"(data_digest {changed})"}
    name = job.tags.get("sweep.job_overrides")
    for before, run in job.done.items():
        if name and run.get("job") == name:
            return None, {"run_id": run["run_id"], "why": f"its config changed since run {run['run_id']} "
                                                          f"(config_hash {before} -> {config_hash})"}
    return None, None


def changed_data(config: dict, earlier: dict) -> str | None:
    """For a resumed sweep's job whose config FINISHED before: 'then -> now' when its data's digest (tag
    data_digest, runner.data_inputs) is no longer that run's, as after a data file was fixed; None when it is,
    or when that run recorded none. Loads the job's data (runner.setup.prepare) to know."""
    before = earlier.get("data_digest")
    if not before:
        return None
    from runner.data_inputs import combined_digest, describe_parts
    from runner.setup import prepare

    setup = prepare(config)
    now = combined_digest(describe_parts(setup.splits, setup.plugins["dataset"], config.get("dataset") or {}))
    return None if now == before else f"{before} -> {now}"


def blas_threads(workers: dict, launcher_target: str) -> int | None:
    """workers.blas_threads: an integer >= 1, or auto: 1 under a parallel launcher, else no limit (None)."""
    start_method(workers)
    for key in workers:
        if key not in ("blas_threads", "start"):
            raise UserError(f"unknown key workers.{key}; accepted keys: blas_threads, start")
    value = workers.get("blas_threads", "auto")
    if value in ("auto", None):
        return None if launcher_target.endswith("BasicLauncher") else 1
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise UserError(f"workers.blas_threads={value!r} is invalid; accepted: auto, or an integer >= 1")
