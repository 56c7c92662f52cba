"""The Hydra entry point: compose the config, run the experiment, print a summary.

This module, runner.__main__ and runner.sweep (the sweep's callback) are the only places that know Hydra.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from runner.errors import UserError, one_line
from runner.experiment import Outcome, objective_value, run_experiment, worst_value
from runner.paths import PROJECT_ROOT, code_tags, command_line, outputs_dir
from runner.store import dashboard_command, open_client, resolve_tracking_uri
from runner.sweep_runs import ranked_metric
from runner.tracking import canonical_numbers
from runner.jobs import earlier_attempt, job_context

OmegaConf.register_new_resolver("blab.outputs", lambda: str(outputs_dir()), replace=True)


def help_dashboard() -> str:
    """--help's footer: the dashboard of the store a run would record into (a bare `mlflow ui` opens ./mlruns
    instead); for a store that cannot be used (an in-memory MLFLOW_TRACKING_URI), why, and the help is still shown."""
    try:
        return dashboard_command(resolve_tracking_uri(None))
    except UserError as error:
        return f"no dashboard: {error}"


OmegaConf.register_new_resolver("blab.dashboard", help_dashboard, replace=True)


def run_tags(config: dict, hydra_cfg) -> dict[str, str]:
    """Tags that make a run findable and re-runnable: choices, config hash, the code (git commit), overrides."""
    resolved = OmegaConf.to_yaml(OmegaConf.create(canonical_numbers(config)), sort_keys=True)  # 1 and 1.0: one hash
    tags = {"config_hash": hashlib.sha256(resolved.encode()).hexdigest()[:16],
            "overrides": " ".join(hydra_cfg.overrides.task) or "(none)",
            "command": command_line("python -m runner", hydra_cfg.overrides.hydra, hydra_cfg.overrides.task)}
    tags.update({f"choice.{group}": str(choice) for group, choice in hydra_cfg.runtime.choices.items()
                 if not group.startswith("hydra/") and choice is not None})
    tags.update(code_tags("python -m runner"))
    return tags


def readable(value: float) -> str:
    """4 decimals, or 4 significant digits where that would be long: 0.3212, 2.369e+307 (not 308 digits)."""
    return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"


def note_unswept_preset(hydra_cfg) -> None:
    """One line on stderr when a single run's config holds a sweep space (a sweep preset such as +experiment=costs
    run without -m): Hydra then runs the preset's fixed settings once and sweeps nothing, silently."""
    params = hydra_cfg.sweeper.get("params") or {}
    if params:
        preset = hydra_cfg.runtime.choices.get("experiment")
        space = " ".join(f"{key}={value}" for key, value in params.items())
        print(f"note: {f'+experiment={preset}' if preset else 'this config'} sweeps {space}; without -m this is one "
              f"run of its fixed settings: add -m to run the sweep", file=sys.stderr)


def summary(outcome: Outcome) -> str:
    """The few lines a user reads after a run."""
    m = outcome.metrics
    fmt = lambda key: readable(m[key]) if key in m else "-"  # noqa: E731
    check = outcome.gradcheck
    check_text = "-"
    if check:
        checked = "a random direction" if check.mode == "direction" else f"{check.n_checked} coordinates"
        check_text = f"{check.rel_error:.2e} ({check.mode}, {checked})"
    lines = [f"run {outcome.run_id}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else ""),
             f"  accuracy   train {fmt('train_accuracy')}  val {fmt('val_accuracy')}  test {fmt('test_accuracy')}",
             f"  final cost {fmt('train_cost')}   gradient check {check_text}",
             f"  wall time  {outcome.seconds:.2f} s   weights {outcome.weights_path}",
             f"  dashboard  {dashboard_command(outcome.tracking_uri)}"]
    return "\n".join(lines + store_lost_warning(outcome))


def job_line(outcome: Outcome, number: int, name: str, objective: str) -> str:
    """A sweep job's one line (hundreds of jobs print hundreds of lines): what it ran, how it ended,
    its objective and test accuracy, its time and its run; the sweep's summary follows the last."""
    m = outcome.metrics
    parts = [f"job {number} {name}: {outcome.status}" + (f" ({outcome.reason})" if outcome.reason else "")]
    shown = ranked_metric([m], objective)  # without a validation part, the train metric of its kind
    parts += [f"{shown} {m[shown]:.4g}"] if shown in m else []
    parts += [f"test {m['test_accuracy']:.4f}"] if "test_accuracy" in m else []
    parts += [f"{outcome.seconds:.2f} s", f"run {outcome.run_id}"]
    return "\n".join(["  ".join(parts)] + store_lost_warning(outcome))


def store_lost_warning(outcome: Outcome) -> list[str]:
    """The line that says where a run's results wait when the store stopped answering, if it did."""
    if not outcome.store_lost:
        return []
    folder = outcome.weights_path.parent if outcome.weights_path else "the run folder"
    return [f"warning: the tracking store stopped answering ({outcome.store_lost}); the results are kept "
            f"in {folder}; upload them with: python -m runner.sync {folder}"]


@hydra.main(config_path=str(PROJECT_ROOT / "conf"), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> float:
    """Run one experiment; return the configured objective (for sweepers such as Optuna)."""
    hydra_cfg = HydraConfig.get()
    try:
        config = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        job = job_context(hydra_cfg, config)  # in a sweep: its parent run, this job's name, BLAS threads
        tags = run_tags(config, hydra_cfg)
        earlier, superseded = earlier_attempt(job, tags["config_hash"], config)  # a resumed sweep's job
        if superseded:  # it FINISHED before with another config or data: that run no longer counts
            print(f"job {hydra_cfg.job.num} {job.name}: {superseded['why']}, run again")
            open_client(resolve_tracking_uri(config["tracking"]["uri"])).set_tag(superseded["run_id"],
                                                                                  "sweep.retried", "true")
        if earlier:
            print(f"job {hydra_cfg.job.num} {job.name}: FINISHED before, skipped (run {earlier['run_id']})")
            value = earlier["value"]
            return worst_value(config["tracking"]["objective"]) if value is None else value
        if hydra_cfg.mode == RunMode.RUN:
            note_unswept_preset(hydra_cfg)
        with job.limits():
            outcome = run_experiment(config, Path(hydra_cfg.runtime.output_dir), {**tags, **job.tags},
                                     parent_run_id=job.parent_run_id, name=job.name)
    except (UserError, OmegaConfBaseException) as error:
        # Raised past Hydra's job wrapper an Exception would be reported twice; SystemExit is not.
        if os.environ.get("BACKPROP_LAB_DEBUG") == "1":
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(2)
    objective = config.get("tracking", {}).get("objective", "val_cost")
    if hydra_cfg.mode == RunMode.MULTIRUN:
        print(job_line(outcome, hydra_cfg.job.num, job.name or " ".join(hydra_cfg.overrides.task), objective))
    else:
        print(summary(outcome))
    if outcome.status != "FINISHED":
        if hydra_cfg.mode != RunMode.MULTIRUN:
            sys.exit(1)
        return worst_value(objective)
    return objective_value(outcome.metrics, objective)
