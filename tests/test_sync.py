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
