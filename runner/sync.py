"""`python -m runner.sync [RUN_DIR ...]`: upload runs kept locally when the tracking store was lost.

A run whose store stopped answering keeps everything in its output folder:
run.json (name, experiment, params, tags, status), metrics.csv, weights.npz,
config.yaml and the figures. This command records each such folder as a run of
the current store (MLFLOW_TRACKING_URI), then marks the folder as synced.
Without arguments it uploads every unsynced folder under outputs/.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from runner.errors import UserError, run_command
from runner.paths import outputs_dir

RECORD = "run.json"


def pending(root: Path) -> list[Path]:
    """Run folders under root whose run.json says they still wait for an upload."""
    return sorted(path.parent for path in root.rglob(RECORD) if not json.loads(path.read_text()).get("synced_run_id"))


def sync(run_dir: Path, uri: str) -> str:
    """Record one local run folder in the store at `uri`; return the new run id."""
    from runner.tracking import Tracker

    record_path = run_dir / RECORD
    if not record_path.is_file():
        raise UserError(f"{str(run_dir)!r} has no {RECORD}; accepted: a run folder kept by an unreachable store")
    record = json.loads(record_path.read_text())
    if record.get("synced_run_id"):
        return record["synced_run_id"]
    tracker = Tracker(uri, record["experiment"], run_dir)
    tags = {**record["tags"], "synced_from": str(run_dir)}
    if record.get("offline_run_id"):
        tags["original_run_id"] = record["offline_run_id"]
    run_id = tracker.start(record["run_name"], tags, record["params"])
    with open(run_dir / "metrics.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            tracker.metric(row["key"], float(row["value"]), int(row["step"]))
    tracker.flush()
    tracker.upload_run_files()
    tracker.finish(record["status"])
    record["synced_run_id"] = run_id
    record_path.write_text(json.dumps(record, indent=1))
    return run_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.sync", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path, help="run folders (default: every unsynced one under outputs/)")
    args = parser.parse_args(argv)
    from runner.store import resolve_tracking_uri

    uri = resolve_tracking_uri(None)
    folders = args.run_dirs or pending(outputs_dir())
    if not folders:
        print("nothing to sync")
        return 0
    for folder in folders:
        print(f"synced {folder} -> run {sync(folder, uri)} in {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
