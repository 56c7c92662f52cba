"""`python -m runner.sync [RUN_DIR ...]`: upload runs kept locally when the tracking store was lost.

A run whose store stopped answering keeps everything in its output folder:
run.json (name, experiment, params, tags, status), metrics.csv, weights.npz,
config.yaml and the figures. This command records each such folder as a run of
the store it chooses as the run chose its own (store_of: the run's tracking.uri, else MLFLOW_TRACKING_URI,
else the store run.json names; --tracking-uri URI for another), then marks the folder as synced.
Without arguments it uploads every unsynced folder under outputs/. A sweep's folder holds its
parent run's run.json too (its summary: tags, status and ids, no name or params), which is not a
run to upload: passed over when the store recorded it, named in one line when the store was lost.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from runner.errors import UserError, run_command
from runner.paths import outputs_dir
from runner.store import resolve_tracking_uri

RECORD = "run.json"
RECORD_KEYS = ("experiment", "run_name", "tags", "params", "status")
SWEEP_FILE = "sweep.json"  # runner.sweep.SWEEP_FILE, beside the parent's run.json (runner.sweep imports Hydra)


def parent_record(path: Path) -> tuple[str, dict] | None:
    """(sweep id, record) when run.json `path` is a sweep parent's: the sweep's sweep.json beside it names its run
    as the parent (or its tags say sweep.role=parent); None for any other file."""
    try:
        record = json.loads(path.read_text())
        sweep = json.loads((path.parent / SWEEP_FILE).read_text()) if (path.parent / SWEEP_FILE).is_file() else {}
    except (ValueError, OSError):
        return None
    if not isinstance(record, dict) or not isinstance(sweep, dict):
        return None
    tags = record.get("tags") if isinstance(record.get("tags"), dict) else {}
    named = record.get("offline_run_id") is not None and record.get("offline_run_id") == sweep.get("parent_run_id")
    if named or tags.get("sweep.role") == "parent":
        return str(sweep.get("id") or tags.get("sweep.id") or path.parent), record
    return None


def read_record(run_dir: Path) -> dict:
    """The run.json of a run folder, checked to hold what `sync` needs; a UserError naming it otherwise."""
    path = run_dir / RECORD
    if not path.is_file():
        raise UserError(f"{str(run_dir)!r} has no {RECORD}; accepted: a run folder kept by an unreachable store")
    try:
        record = json.loads(path.read_text())
    except (ValueError, OSError) as error:
        raise UserError(f"{str(path)!r} cannot be read ({error}); accepted: a run.json written by "
                        "backprop-lab") from None
    missing = [key for key in RECORD_KEYS if not isinstance(record, dict) or key not in record]
    if missing and (parent := parent_record(path)):
        raise UserError(f"{str(path)!r} is the record of sweep {parent[0]}'s parent run, which trains nothing and "
                        "runner.sync does not upload; accepted: a run folder kept by an unreachable store, such as "
                        "the sweep's job folders")
    if missing:
        raise UserError(f"{str(path)!r} lacks {', '.join(missing)}; accepted: a run.json written by backprop-lab")
    return record


def read_metrics(path: Path) -> list[tuple[str, float, int]]:
    """metrics.csv's (key, value, step) rows; a UserError naming the file and the first bad row."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as error:
        raise UserError(f"{str(path)!r} cannot be read ({error.strerror}); accepted: the metrics.csv a run wrote "
                        "beside its run.json") from None
    metrics = []
    for line, row in enumerate(rows, start=2):
        try:
            metrics.append((row["key"], float(row["value"]), int(row["step"])))
        except (KeyError, TypeError, ValueError):
            raise UserError(f"{str(path)!r} line {line} is not a metric ({row}); accepted: rows of key, value, "
                            "step as a run writes them") from None
    return metrics


def pending(root: Path) -> list[Path]:
    """Run folders under root whose run.json says they still wait for an upload; an unreadable
    run.json is named on stderr and left alone, so that it does not hold the others back. A sweep
    parent's record is passed over: silently when the store recorded the parent (synced_run_id), in
    one line on stderr when the store was lost (its jobs' folders are uploaded, the summary is not)."""
    folders = []
    for path in sorted(root.rglob(RECORD)):
        if parent := parent_record(path):
            sweep, record = parent
            if not record.get("synced_run_id"):
                print(f"warning: not synced: {str(path)!r} is sweep {sweep}'s parent run, whose tracking store was "
                      f"lost ({record.get('lost') or 'no reason recorded'}); runner.sync uploads the sweep's jobs, "
                      "not its parent's summary", file=sys.stderr)
            continue
        try:
            record = read_record(path.parent)
        except UserError as error:
            print(f"warning: skipped: {error}", file=sys.stderr)
            continue
        if not record.get("synced_run_id"):
            folders.append(path.parent)
    return folders


def store_of(record: dict) -> str:
    """The store a kept run is uploaded to, chosen as the run chose its own: the store run.json names (its
    tracking_uri) when the run's config set tracking.uri, which beat MLFLOW_TRACKING_URI when it ran; else
    MLFLOW_TRACKING_URI if set (a server moved: the variable names the new one); else the store run.json names;
    else (a run.json written before it named its store) the default store under outputs/."""
    recorded = record.get("tracking_uri")
    configured = str(record["params"].get("tracking.uri")) not in ("None", "")
    if recorded and (configured or not os.environ.get("MLFLOW_TRACKING_URI")):
        return recorded
    return resolve_tracking_uri(None)


def sync(run_dir: Path, uri: str) -> str:
    """Record one local run folder in the store at `uri`; return the new run id."""
    from runner.tracking import Tracker

    record_path = run_dir / RECORD
    record = read_record(run_dir)
    if record.get("synced_run_id"):
        return record["synced_run_id"]
    metrics = read_metrics(run_dir / "metrics.csv")  # read before the run is made: a bad file leaves no run
    tracker = Tracker(uri, record["experiment"], run_dir)
    tags = {**record["tags"], "synced_from": str(run_dir)}
    if record.get("offline_run_id"):
        tags["original_run_id"] = record["offline_run_id"]
    run_id = tracker.start(record["run_name"], tags, record["params"])
    tracker.log_datasets(record.get("datasets", []))
    for key, value, step in metrics:
        tracker.metric(key, value, step)
    tracker.flush()
    tracker.upload_run_files()
    tracker.finish(record["status"])
    record["synced_run_id"] = run_id
    record_path.write_text(json.dumps(record, indent=1))
    if record.get("offline_run_id"):
        end_original(tracker.client, record["offline_run_id"], run_id)
    return run_id


def end_original(client, original_id: str, run_id: str) -> None:
    """The run made before the store was lost, if this store holds it still RUNNING: ended FAILED with a reason
    and a tag `synced_to` naming the run that now holds it whole; a sweep's job also `sweep.retried`, so that the
    sweep's summary, its report and runner.resume count the job once, by its copy (before, twice)."""
    from mlflow.exceptions import MlflowException

    try:
        original = client.get_run(original_id)
        if original.info.status != "RUNNING":
            return
        client.set_tag(original_id, "synced_to", run_id)
        if original.data.tags.get("sweep.role") == "job":
            client.set_tag(original_id, "sweep.retried", "true")
        client.set_tag(original_id, "failure_reason", "the tracking store stopped answering while this run trained; "
                                                      f"runner.sync recorded it whole as run {run_id}")
        client.set_terminated(original_id, "FAILED")
    except MlflowException:  # another store, which never saw the run
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.sync", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="*", type=Path,
                        help="run folders (default: every unsynced one under outputs/)")
    parser.add_argument("--tracking-uri", help="upload into this store (default: each run's own, see store_of)")
    args = parser.parse_args(argv)
    chosen = resolve_tracking_uri(args.tracking_uri) if args.tracking_uri else None
    folders = args.run_dirs or pending(outputs_dir())
    if not folders:
        print("nothing to sync")
        return 0
    for folder in folders:
        uri = chosen or store_of(read_record(folder))
        print(f"synced {folder} -> run {sync(folder, uri)} in {uri}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
