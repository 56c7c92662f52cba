"""runner.sync on run folders it cannot trust: a clear error naming the file, and no run half-made."""
from __future__ import annotations

import json

import pytest

from runner.errors import UserError
from runner.sync import main, pending, read_record, sync

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
    from runner.replay import load_logged_config  # replay and predict: the original names its copy

    with pytest.raises(UserError, match=rf"^run '{original}' lost its store mid-run and holds only part of its "
                                        rf"record; runner.sync uploaded it whole as run {run_id}; accepted: that run's "
                                        "id$"):
        load_logged_config(client, original)


def test_a_synced_sweep_job_counts_once_in_its_sweep(tmp_path):
    """Before, the original (FAILED, synced_to) and its synced copy were both children of the parent: the report
    ranked the job twice and the summary counted it twice."""
    from mlflow.tracking import MlflowClient

    from runner.sweep_runs import sweep_children

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("backprop-lab", artifact_location=str(tmp_path / "artifacts"))
    parent = client.create_run(experiment, tags={"sweep.role": "parent"}).info.run_id
    job_tags = {"mlflow.parentRunId": parent, "sweep.role": "job", "sweep.job": "0"}
    original = client.create_run(experiment, tags=job_tags).info.run_id  # RUNNING: the store went away
    copy = sync(folder(tmp_path, "kept", {**RECORD, "tags": job_tags, "offline_run_id": original}), uri)
    assert client.get_run(original).data.tags["sweep.retried"] == "true"
    assert [run.info.run_id for run in sweep_children(client, experiment, parent)] == [copy]


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


def lost_run(root, store, params):
    """A run folder kept by a Tracker whose SQLite store (root/store/mlflow.db) went away mid-run and came back:
    its run.json and the original run, left RUNNING in that store; (its store's URI, its folder, the run's id)."""
    from runner.tracking import Tracker

    (root / store).mkdir(parents=True)
    uri = f"sqlite:///{root}/{store}/mlflow.db"
    run_dir = root / "outputs" / f"run-{store}"
    run_dir.mkdir(parents=True)
    tracker = Tracker(uri, "backprop-lab", run_dir)
    original = tracker.start("kept", {}, params)
    tracker.metric("train_cost", 0.5, 0)
    (root / store).rename(root / "away")
    tracker.finish("FINISHED")
    (root / "away").rename(root / store)
    return uri, run_dir, original


def test_a_kept_run_goes_back_to_the_store_its_tracking_uri_chose_whatever_mlflow_tracking_uri_says(
        tmp_path, monkeypatch, capsys):
    """Before, `python -m runner.sync FOLDER` (the command the run printed) uploaded into MLFLOW_TRACKING_URI, marked
    the folder synced, and the run the store of the run's tracking.uri held stayed RUNNING for good."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("BACKPROP_LAB_OUTPUTS", str(tmp_path / "outputs"))  # artifacts under outputs/mlartifacts
    uri, run_dir, original = lost_run(tmp_path, "chosen", {"tracking.uri": "sqlite:///chosen/mlflow.db"})
    assert json.loads((run_dir / "run.json").read_text())["tracking_uri"] == uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/environment.db")
    assert main([str(run_dir)]) == 0
    synced = json.loads((run_dir / "run.json").read_text())["synced_run_id"]
    assert capsys.readouterr().out == f"synced {run_dir} -> run {synced} in {uri}\n"
    client = MlflowClient(tracking_uri=uri)
    assert client.get_run(original).info.status == "FAILED"
    assert client.get_run(original).data.tags["synced_to"] == synced
    assert not (tmp_path / "environment.db").exists()


def test_sync_without_folders_uploads_each_kept_run_to_its_own_store(tmp_path, monkeypatch):
    """Before, every pending folder went into the one current store, whichever stores the runs came from."""
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("BACKPROP_LAB_OUTPUTS", str(tmp_path / "outputs"))
    kept = [lost_run(tmp_path, store, {"tracking.uri": "None"}) for store in ("a", "b")]
    assert main([]) == 0
    for uri, run_dir, original in kept:
        synced = json.loads((run_dir / "run.json").read_text())["synced_run_id"]
        assert MlflowClient(tracking_uri=uri).get_run(original).data.tags["synced_to"] == synced


def test_store_of_a_kept_run_follows_the_run_s_own_choice(tmp_path, monkeypatch):
    """tracking.uri beats MLFLOW_TRACKING_URI, as when the run ran; the variable beats the store the run found in it
    (a server moved); without the variable, the recorded store; a run.json without one: the variable, as before."""
    from runner.sync import store_of

    recorded = {**RECORD, "tracking_uri": "sqlite:////runs/a.db"}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://moved:5000")
    assert store_of({**recorded, "params": {"tracking.uri": "sqlite:///a.db"}}) == "sqlite:////runs/a.db"
    assert store_of({**recorded, "params": {"tracking.uri": "None"}}) == "http://moved:5000"
    assert store_of(RECORD) == "http://moved:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert store_of(recorded) == "sqlite:////runs/a.db"
