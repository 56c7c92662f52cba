"""runner.sync on run folders it cannot trust: a clear error naming the file, and no run half-made."""
from __future__ import annotations

import json

import pytest

from runner.errors import UserError
from runner.sync import pending, read_record, sync

RECORD = {"experiment": "backprop-lab", "run_name": "kept", "tags": {"a": "1"}, "params": {"seed": "0"},
          "status": "FINISHED", "synced_run_id": None}


def folder(root, name, record=RECORD, metrics="key,value,step\ntrain_cost,0.5,0\ntrain_cost,0.25,1\n"):
    path = root / name
    path.mkdir(parents=True)
    (path / "run.json").write_text(record if isinstance(record, str) else json.dumps(record))
    (path / "metrics.csv").write_text(metrics)
    return path


def test_a_record_that_cannot_be_trusted_is_named_in_one_line(tmp_path):
    with pytest.raises(UserError, match="has no run.json; accepted: a run folder kept by an unreachable store"):
        read_record(tmp_path)
    with pytest.raises(UserError, match=r"run.json' cannot be read \(Unterminated string .*\); accepted: a run.json written"):
        read_record(folder(tmp_path, "truncated", '{"experiment": "backprop-lab", "run_na'))
    with pytest.raises(UserError, match="run.json' lacks run_name, tags, params, status; accepted"):
        read_record(folder(tmp_path, "partial", {"experiment": "backprop-lab"}))
    assert read_record(folder(tmp_path, "good")) == RECORD


def test_pending_names_an_unreadable_record_and_goes_on_with_the_others(tmp_path, capsys):
    good = folder(tmp_path, "a")
    folder(tmp_path, "b", "{not json")
    folder(tmp_path, "c", {**RECORD, "synced_run_id": "abc"})
    assert pending(tmp_path) == [good]
    err = capsys.readouterr().err
    assert err.startswith("warning: skipped: ") and "b/run.json" in err and err.count("\n") == 1


def test_a_bad_metrics_file_leaves_no_run_in_the_store(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    bad = folder(tmp_path, "bad", metrics="key,value,step\ntrain_cost,0.5,0\ntrain_cost,oops,1\n")
    with pytest.raises(UserError, match=r"metrics.csv' line 3 is not a metric .*oops"):
        sync(bad, uri)
    good = folder(tmp_path, "good")
    run_id = sync(good, uri)
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert [r.info.run_id for r in runs] == [run_id] and runs[0].info.status == "FINISHED"
    assert [m.value for m in client.get_metric_history(run_id, "train_cost")] == [0.5, 0.25]
    assert json.loads((good / "run.json").read_text())["synced_run_id"] == run_id


def test_the_run_left_running_when_the_store_was_lost_is_ended_and_points_to_its_synced_copy(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("backprop-lab", artifact_location=str(tmp_path / "artifacts"))
    original = client.create_run(experiment).info.run_id  # RUNNING: the store went away
    run_id = sync(folder(tmp_path, "kept", {**RECORD, "offline_run_id": original}), uri)
    ended = client.get_run(original)
    assert ended.info.status == "FAILED" and ended.data.tags["synced_to"] == run_id
    assert ended.data.tags["failure_reason"].endswith(f"runner.sync recorded it whole as run {run_id}")
    assert client.get_run(run_id).data.tags["original_run_id"] == original
    elsewhere = sync(folder(tmp_path, "other", {**RECORD, "offline_run_id": "0" * 32}), uri)  # not in this store
    assert client.get_run(elsewhere).info.status == "FINISHED"


def test_a_store_lost_mid_run_is_one_line_and_mlflow_s_own_tracebacks_stay_out(tmp_path, capfd):
    """Before, MLflow logged each failing call with two tracebacks (about 90 lines) and the warning carried the SQL."""
    from runner.tracking import Tracker

    (tmp_path / "db").mkdir()
    tracker = Tracker(f"sqlite:///{tmp_path}/db/mlflow.db", "backprop-lab", tmp_path)
    tracker.start("kept", {}, {})
    capfd.readouterr()
    for step in range(10):
        tracker.metric("train_cost", 1.0 / (step + 1), step)
    (tmp_path / "db").rename(tmp_path / "gone")  # the store's folder goes away: SQLite can no longer write
    tracker.flush()
    assert tracker.lost == "sqlite3.OperationalError: attempt to write a readonly database"
    assert capfd.readouterr().err == ""


def sweep_folder(root, lost=False):
    """A sweep's folder as runner.sweep leaves it: sweep.json naming the parent run, and the run.json that the
    parent's Tracker writes when the sweep ends (its summary's tags, status and ids; no name, experiment or params)."""
    from runner.tracking import Tracker

    (root / "db").mkdir(parents=True)
    path = root / "sweep"
    path.mkdir()
    tracker = Tracker(f"sqlite:///{root}/db/mlflow.db", "backprop-lab", path)
    tracker.run_id = tracker.client.create_run(tracker.experiment_id, tags={"sweep.role": "parent"}).info.run_id
    (path / "sweep.json").write_text(json.dumps({"id": "20261129-153638-ee60", "parent_run_id": tracker.run_id}))
    tracker.set_tags({"best.run_id": "0" * 32})
    if lost:
        (root / "db").rename(root / "gone")  # the store's folder goes away: SQLite can no longer write
    tracker.finish("FINISHED")
    return path


def test_pending_passes_over_a_sweep_parent_s_record_and_names_one_whose_store_was_lost(tmp_path, capsys):
    """Before, every sweep's folder gave `warning: skipped: ... lacks experiment, run_name, params; accepted: a
    run.json written by backprop-lab`, though backprop-lab wrote it."""
    recorded = sweep_folder(tmp_path / "recorded")
    job = folder(recorded, "0")
    assert pending(tmp_path / "recorded") == [job]
    assert capsys.readouterr().err == ""
    with pytest.raises(UserError, match="is the record of sweep 20261129-153638-ee60's parent run, which trains"):
        read_record(recorded)  # named by hand
    lost = sweep_folder(tmp_path / "lost", lost=True)
    assert pending(tmp_path / "lost") == []
    err = capsys.readouterr().err
    assert err.startswith(f"warning: not synced: {str(lost / 'run.json')!r} is sweep 20261129-153638-ee60's parent "
                          "run, whose tracking store was lost (sqlite3.OperationalError: attempt to write a readonly "
                          "database); runner.sync uploads the sweep's jobs") and err.count("\n") == 1, err
