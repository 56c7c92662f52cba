"""`python -m runner.replay RUN_ID`: re-run a recorded run from its logged config and compare metrics.

A logged config comes from a tracking store that others can write to, so before
anything is imported every `_target_` in it must lie inside the project's plugin
packages or a module the user allows with --allow.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from runner.errors import UserError, run_command
from runner.instantiate import PROJECT_PLUGIN_PACKAGES, check_targets
from runner.paths import outputs_dir

TIMING_METRICS = {"train_seconds", "epochs_per_second"}


def load_logged_config(client, run_id: str) -> dict:
    """The run's resolved config.yaml artifact, parsed with yaml.safe_load (no objects built)."""
    try:
        client.get_run(run_id)
    except Exception:
        raise UserError(f"run id {run_id!r} is not in the tracking store; accepted: the id of a recorded run") from None
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, "config.yaml", folder)
        except Exception:
            raise UserError(f"run {run_id!r} has no config.yaml artifact; accepted: a run recorded by backprop-lab") from None
        config = yaml.safe_load(Path(path).read_text())
    if not isinstance(config, dict):
        raise UserError(f"run {run_id!r} has a config.yaml that is not a mapping; accepted: a backprop-lab config")
    return config


def compare_histories(client, original_id: str, replay_id: str, tolerance: float) -> list[tuple[str, int, bool, str]]:
    """Per metric: (key, steps, matches, detail), comparing every logged step's value."""
    original = client.get_run(original_id).data.metrics
    rows = []
    for key in sorted(set(original) - TIMING_METRICS):
        before = {m.step: m.value for m in client.get_metric_history(original_id, key)}
        after = {m.step: m.value for m in client.get_metric_history(replay_id, key)}
        if set(before) != set(after):
            rows.append((key, len(before), False, f"steps differ ({len(before)} vs {len(after)})"))
            continue
        worst = max((abs(before[s] - after[s]) for s in before), default=0.0)
        rows.append((key, len(before), worst <= tolerance, f"max |difference| {worst:.3g}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.replay", description=__doc__.splitlines()[0])
    parser.add_argument("run_id")
    parser.add_argument("--allow", action="append", default=[], metavar="MODULE",
                        help="also allow _target_s inside this module or package (repeatable)")
    parser.add_argument("--tolerance", type=float, default=0.0, help="largest accepted |difference| (default 0: bitwise)")
    args = parser.parse_args(argv)
    if not args.tolerance >= 0:
        raise UserError(f"--tolerance {args.tolerance} is invalid; accepted: a number >= 0 (0: bitwise)")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    from runner.experiment import run_experiment
    from runner.store import open_client, resolve_tracking_uri

    client = open_client(resolve_tracking_uri(None))
    config = load_logged_config(client, args.run_id)
    allowed = PROJECT_PLUGIN_PACKAGES + tuple(args.allow)
    check_targets(config, allowed)
    run_dir = outputs_dir() / "replays" / args.run_id / time.strftime("%Y-%m-%d_%H-%M-%S")
    outcome = run_experiment(config, run_dir, {"replay_of": args.run_id}, allowed=allowed)
    rows = compare_histories(client, args.run_id, outcome.run_id, args.tolerance)
    print(f"replay of {args.run_id} -> run {outcome.run_id} ({outcome.status})")
    for key, steps, matches, detail in rows:
        print(f"  {'match   ' if matches else 'MISMATCH'} {key:<22} {steps:>5} steps  {detail}")
    return 0 if rows and all(matches for _, _, matches, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(run_command(main))
