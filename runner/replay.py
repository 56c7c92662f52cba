"""`python -m runner.replay RUN_ID`: re-run a recorded run from its logged config and compare metrics.

A logged config comes from a tracking store that others can write to, so before
anything is imported every `_target_` in it must lie inside the project's plugin
packages or a module the user allows with --allow.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner.errors import UserError, run_command
from runner.instantiate import PROJECT_PLUGIN_PACKAGES, check_targets
from runner.paths import code_tags, outputs_dir

TIMING_METRICS = {"train_seconds", "epochs_per_second"}
# the tags that decide every number: the data and the initial weights (runner.data_inputs), then the code and what
# decides the last bits (runner.recording.environment_tags, runner.app.run_tags)
ENVIRONMENT_TAGS = ("data_digest", "init_digest", "git_commit", "git_dirty", "python_version", "numpy_version",
                    "scipy_version", "numba_version", "blas", "cpu", "platform")
# what the replay shares with the original, since it runs the same config (runner.app.run_tags), besides choice.*
RERUN_TAGS = ("command", "overrides", "config_hash")
# the digests of the inputs a run read, and what each names when it differs
INPUT_DIGESTS = {"data_digest": ("the data", "a changed data file"),
                 "init_digest": ("the initial weights", "a changed initializer.path file")}


def load_logged_config(client, run_id: str) -> dict:
    """The run's resolved config.yaml artifact, parsed with yaml.safe_load (no objects built). A run whose store was
    lost mid-run, uploaded since by runner.sync as another run (tag synced_to), is named with that run."""
    try:
        run = client.get_run(run_id)
    except Exception:
        raise UserError(f"run id {run_id!r} is not in the tracking store; accepted: the id of a recorded run") from None
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, "config.yaml", folder)
        except Exception:
            synced = run.data.tags.get("synced_to")
            if synced:
                raise UserError(f"run {run_id!r} lost its store mid-run and holds only part of its record; "
                                f"runner.sync uploaded it whole as run {synced}; accepted: that run's id") from None
            raise UserError(f"run {run_id!r} has no config.yaml artifact; accepted: a run recorded by "
                            "backprop-lab") from None
        config = yaml.safe_load(Path(path).read_text())
    if not isinstance(config, dict):
        raise UserError(f"run {run_id!r} has a config.yaml that is not a mapping; accepted: a backprop-lab config")
    return config


def compare_histories(client, original_id: str, replay_id: str, tolerance: float,
                      reached_only: bool = False) -> list[tuple[str, int, bool, str]]:
    """Per metric: (key, steps, matches, detail), comparing every logged step's value; with reached_only (an
    original stopped midway) the replay's steps past those the original recorded are left out."""
    original = client.get_run(original_id).data.metrics
    rows = []
    for key in sorted(set(original) - TIMING_METRICS):
        before = {m.step: m.value for m in client.get_metric_history(original_id, key)}
        after = {m.step: m.value for m in client.get_metric_history(replay_id, key)}
        only_before, only_after = set(before) - set(after), set() if reached_only else set(after) - set(before)
        if only_before or only_after:
            differ = [f"{steps_text(steps)} only in the {run}" for run, steps in
                      (("original", only_before), ("replay", only_after)) if steps]
            rows.append((key, len(before), False, "steps differ: " + ", ".join(differ)))
            continue
        worst = max((abs(before[s] - after[s]) for s in before), default=0.0)
        rows.append((key, len(before), worst <= tolerance, f"max |difference| {worst:.3g}"))
    return rows


def steps_text(steps: set[int]) -> str:
    """'step 12', 'steps 5, 7, 9' or, for more, 'steps 6, 7, ..., 228 (223 steps)'."""
    s = sorted(steps)
    if len(s) <= 3:
        return ("step " if len(s) == 1 else "steps ") + ", ".join(map(str, s))
    return f"steps {s[0]}, {s[1]}, ..., {s[-1]} ({len(s)} steps)"


@dataclass(frozen=True)
class Ending:
    """How a run that did not finish ended: its status, its failure_reason and the last epoch it recorded (None:
    none), whose weights a KILLED run saved (a FAILED one's reason says which it saved)."""

    status: str
    reason: str
    epoch: int | None

    def __str__(self) -> str:
        at = ("" if self.status == "FAILED" else f" at epoch {self.epoch}" if self.epoch is not None
              else " before its first epoch")
        return f"{self.status}{at} ({self.reason})"


def run_ending(client, run_id: str) -> Ending | None:
    """The Ending of a run that did not end FINISHED (KILLED, FAILED, or still RUNNING); None for one that did."""
    run = client.get_run(run_id)
    if run.info.status == "FINISHED":
        return None
    steps = [m.step for m in client.get_metric_history(run_id, "train_cost")]
    return Ending(run.info.status, run.data.tags.get("failure_reason", "no reason recorded"), max(steps, default=None))


def replay_config(config: dict, ending: Ending | None) -> tuple[dict, str | None]:
    """The config the replay runs, and what it changed: that of a run stopped midway (KILLED, or left RUNNING) is cut
    to the epochs it recorded (optimizer.epochs = the last one; iterations for lbfgs and cg), with tracking.every
    pinned to what the original's epochs gave it (auto records every ceil(epochs / 250)): the steps it recorded are
    then recorded and compared alike, and no epoch past them is trained. A FAILED run is replayed whole, to fail
    alike."""
    optimizer = config.get("optimizer") or {}
    if ending is None or ending.status == "FAILED" or ending.epoch is None or "epochs" not in optimizer:
        return config, None
    from runner.settings import RunSettings

    every = RunSettings.from_dict(config).tracking.record_every(optimizer["epochs"])
    cut = {**config, "optimizer": {**optimizer, "epochs": ending.epoch},
           "tracking": {**(config.get("tracking") or {}), "every": every}}
    return cut, f"optimizer.epochs={ending.epoch} tracking.every={every}"


def environment_changes(client, original_id: str, replay_id: str) -> list[tuple[str, str, str]]:
    """(tag, original's value, replay's value) for each ENVIRONMENT_TAGS tag that differs between the runs, and
    git_dirty when either ran with uncommitted changes (the same commit then need not be the same code)."""
    before, after = (client.get_run(run_id).data.tags for run_id in (original_id, replay_id))
    return [(key, before.get(key, "(not recorded)"), after.get(key, "(not recorded)")) for key in ENVIRONMENT_TAGS
            if before.get(key) != after.get(key) or key == "git_dirty" and "true" in (before.get(key), after.get(key))]


def explain_mismatch(changes: list[tuple[str, str, str]], run_id: str) -> list[str]:
    """Lines that say why a replay differs: what changed, and how to re-run on the original's BLAS kernel."""
    if not changes:
        return ["  the data, code and environment are the original run's (tags " + ", ".join(ENVIRONMENT_TAGS) + "):",
                "  a mismatch here means the run is not reproducible; please report it"]
    lines = ["  what differs between the original run and this replay (original -> replay):"]
    lines += [f"    {key:<15} {before} -> {after}" for key, before, after in changes]
    if any(key == "git_dirty" and "true" in (before, after) for key, before, after in changes):
        lines.append("  uncommitted changes to tracked files (git_dirty true): the commit does not say which code ran")
    if any(key == "data_digest" for key, _, _ in changes):
        lines.append("  the data are not the original run's (its Dataset inputs give each part's digest and source): "
                     "a changed data file, or a dataset plugin that now makes other data")
    if any(key == "init_digest" for key, _, _ in changes):
        lines.append("  the initial weights are not the original run's (its tag init_path gives the file): "
                     "a changed initializer.path file")
    blas = {key: (before, after) for key, before, after in changes}.get("blas", ("", ""))
    recorded, here = (openblas_kernel(tag) for tag in blas)
    if recorded and here and recorded != here:
        lines.append(f"  OpenBLAS's {recorded} and {here} kernels round differently; to replay on the {recorded} "
                     f"kernel (if this CPU runs it): OPENBLAS_CORETYPE={recorded} python -m runner.replay {run_id}")
    lines.append("  or accept the differences up to a size: --tolerance X")
    return lines


def copy_hydra_files(client, run_id: str, run_dir: Path) -> None:
    """The original's .hydra/ files (how its config was composed) into run_dir, which the replay uploads as its own;
    nothing for a run that has none (one recorded by run_experiment alone)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        client.download_artifacts(run_id, ".hydra", str(run_dir))
    except Exception:
        pass


def openblas_kernel(blas_tag: str) -> str | None:
    """The OpenBLAS kernel a `blas` tag names ('openblas 0.3.31 Haswell (1 threads)'), if any."""
    found = re.match(r"openblas \S+ (\w+) \(", blas_tag)
    return found[1] if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.replay", description=__doc__.splitlines()[0])
    parser.add_argument("run_id")
    parser.add_argument("--allow", action="append", default=[], metavar="MODULE",
                        help="also allow _target_s inside this module or package (repeatable)")
    parser.add_argument("--tolerance", type=float, default=0.0,
                        help="largest accepted |difference| (default 0: bitwise)")
    args = parser.parse_args(argv)
    if not args.tolerance >= 0:
        raise UserError(f"--tolerance {args.tolerance} is invalid; accepted: a number >= 0 (0: bitwise)")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    from runner.data_inputs import with_recorded_data_path, with_recorded_init_path
    from runner.experiment import run_experiment
    from runner.store import open_client, resolve_tracking_uri

    client = open_client(resolve_tracking_uri(None))
    config = load_logged_config(client, args.run_id)
    allowed = PROJECT_PLUGIN_PACKAGES + tuple(args.allow)
    check_targets(config, allowed)
    config = with_recorded_init_path(client, args.run_id, with_recorded_data_path(client, args.run_id, config))
    ending = run_ending(client, args.run_id)
    config, cut = replay_config(config, ending)
    if ending is not None:  # what it recorded before it stopped is still comparable, step by step
        print(f"the original run ended {ending}: only the metric steps it recorded are compared"
              + (f"; the replay trains up to them ({cut})" if cut else ""))
    run_dir = outputs_dir() / "replays" / args.run_id / time.strftime("%Y-%m-%d_%H-%M-%S")
    copy_hydra_files(client, args.run_id, run_dir)
    original_tags = client.get_run(args.run_id).data.tags
    tags = {**{key: value for key, value in original_tags.items() if key in RERUN_TAGS or key.startswith("choice.")},
            "replay_of": args.run_id, **({"replay_cut": cut} if cut else {}), **code_tags("python -m runner.replay")}
    outcome = run_experiment(config, run_dir, tags, allowed=allowed)
    rows = compare_histories(client, args.run_id, outcome.run_id, args.tolerance, reached_only=ending is not None)
    print(f"replay of {args.run_id} -> run {outcome.run_id} ({outcome.status})")
    for key, steps, matches, detail in rows:
        print(f"  {'match   ' if matches else 'MISMATCH'} {key:<22} {steps:>5} steps  {detail}")
    changes = environment_changes(client, args.run_id, outcome.run_id)
    if rows and all(matches for _, _, matches, _ in rows):
        for key, before, after in changes:  # a change that moved no logged number (a test row's value, say) is
            if key in INPUT_DIGESTS:  # still another experiment
                what, cause = INPUT_DIGESTS[key]
                print(f"  every metric matches, but {what} are not the original run's ({key} {before} -> {after}): "
                      f"{cause}")
        return 0
    print("\n".join(explain_mismatch(changes, args.run_id)))
    return 1


if __name__ == "__main__":
    sys.exit(run_command(main))
