"""Each run records the data it saw: MLflow dataset inputs per part, and the tag data_digest that replay reads."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import yaml
import pytest

from runner.core.protocols import Split, Splits
from runner.data_inputs import combined_digest, describe_parts, part_digest, with_recorded_data_path
from runner.errors import UserError

from conftest import FAST


def test_the_digest_changes_with_any_value_row_order_dtype_or_label_and_only_then():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)
    digest = part_digest(X, y)
    assert part_digest(X.copy(), y.copy()) == digest and part_digest(np.asfortranarray(X), y) == digest
    changed = X.copy()
    changed[7, 1] += 1e-12
    swapped = X[[1, 0, *range(2, 20)]]
    flipped = y.copy()
    flipped[3] = 1 - flipped[3]
    others = {part_digest(changed, y), part_digest(swapped, y), part_digest(X.astype(np.float32), y),
              part_digest(X, flipped), part_digest(X[:19], y[:19])}
    assert digest not in others and len(others) == 5
    assert re.fullmatch(r"[0-9a-f]{16}", digest)


def test_each_part_is_described_with_its_context_rows_class_counts_and_a_tensor_schema(tmp_path):
    class Plugin:
        name = "csv"
        path = str(tmp_path / "data.csv")

    rng = np.random.default_rng(1)
    splits = Splits(Split(rng.normal(size=(6, 2)), np.array([0, 1, 1, 2, 2, 2])), None,
                    Split(rng.normal(size=(3, 2)).astype(np.float32), np.array([0, 0, 2])), ["a", "b", "c"])
    parts = describe_parts(splits, Plugin(), {"path": "data.csv"})
    assert [p["context"] for p in parts] == ["training", "test"]  # no validation part
    assert {p["name"] for p in parts} == {"data.csv"}
    assert {p["source_type"] for p in parts} == {"local"}
    assert json.loads(parts[0]["source"]) == {"uri": str(tmp_path / "data.csv")}
    assert [json.loads(p["profile"])["class_counts"] for p in parts] == [{"a": 1, "b": 2, "c": 3},
                                                                         {"a": 2, "b": 0, "c": 1}]
    features = json.loads(json.loads(parts[1]["schema"])["mlflow_tensorspec"]["features"])
    assert features[0]["tensor-spec"] == {"dtype": "float32", "shape": [-1, 2]}
    assert parts[0]["digest"] == part_digest(splits.train.X, splits.train.y)
    assert combined_digest(parts) != combined_digest(parts[:1])

    class MyData:  # a user's plugin may leave out `name`, as the run's plugin.* tags allow
        pass

    unnamed = describe_parts(splits, MyData(), {"_target_": "my_plugins.MyData"})
    assert {p["name"] for p in unnamed} == {"MyData"} and {p["source_type"] for p in unnamed} == {"code"}


def run_id_of(result) -> str:
    assert result.returncode == 0, result.stderr[-3000:]
    return re.search(r"run ([0-9a-f]{32})", result.stdout).group(1)


def inputs_of(client, run_id) -> dict[str, object]:
    """{context: dataset} of a run's dataset inputs."""
    run = client.get_run(run_id)
    return {next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset
            for d in run.inputs.dataset_inputs}


def test_runs_record_their_data_findable_in_the_store_and_replay_names_changed_data(new_store):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    path = new_store.root / "points.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{a},{b},{int(a + b > 0)}\n" for a, b in X))
    csv = ("dataset=csv", f"dataset.path={path}", "dataset.target=label", *FAST[2:])
    client = new_store.client
    first, again, other_seed = (run_id_of(new_store.cli(*csv, f"seed={seed}")) for seed in (0, 0, 1))
    parts = inputs_of(client, first)
    assert sorted(parts) == ["test", "training", "validation"]
    assert {d.name for d in parts.values()} == {"points.csv"}
    assert json.loads(parts["training"].source) == {"uri": str(path)}
    assert sum(json.loads(d.profile)["rows"] for d in parts.values()) == 60
    assert {c: d.digest for c, d in inputs_of(client, again).items()} == {c: d.digest for c, d in parts.items()}
    assert inputs_of(client, other_seed)["training"].digest != parts["training"].digest  # another split
    tags = [client.get_run(r).data.tags["data_digest"] for r in (first, again, other_seed)]
    assert tags[0] == tags[1] != tags[2]
    found = client.search_runs([client.get_run(first).info.experiment_id],
                               f"dataset.digest = '{parts['training'].digest}' and dataset.context = 'training'")
    assert {r.info.run_id for r in found} == {first, again}

    path.write_text(path.read_text().replace(f"{X[5, 0]},", f"{X[5, 0] + 0.5},", 1))  # one value changed
    replay = new_store.module("runner.replay", first)
    assert replay.returncode == 1 and "MISMATCH" in replay.stdout
    assert re.search(rf"data_digest\s+{tags[0]} -> (?!{tags[0]})[0-9a-f]{{16}}", replay.stdout), replay.stdout
    assert "the data are not the original run's" in replay.stdout and "please report it" not in replay.stdout

    from runner.setup import prepare

    splits = prepare(yaml.safe_load(new_store.download(first, "config.yaml").read_text())).splits
    test_row = splits.unscaled(splits.test.X[:1])[0]
    row = next(i for i, x in enumerate(X) if np.allclose(x, test_row, rtol=1e-12, atol=0))
    lines = [f"{a},{b},{int(a + b > 0)}" for a, b in X]
    lines[row] = f"{X[row, 0] + 1e-9},{X[row, 1]},{int(X[row].sum() > 0)}"  # moves no logged number
    path.write_text("x1,x2,label\n" + "\n".join(lines) + "\n")
    unmoved = new_store.module("runner.replay", first)
    assert unmoved.returncode == 0 and "MISMATCH" not in unmoved.stdout, unmoved.stdout
    assert re.search(rf"every metric matches, but the data are not the original run's \(data_digest {tags[0]} -> "
                     rf"(?!{tags[0]})[0-9a-f]{{16}}\)", unmoved.stdout), unmoved.stdout


def test_a_run_kept_offline_brings_its_data_inputs_when_synced(tmp_path):
    from mlflow.tracking import MlflowClient

    from runner.sync import sync

    parts = describe_parts(Splits(Split(np.eye(3), np.array([0, 1, 1])), None, None, [0, 1]),
                           type("Plugin", (), {"name": "xor"})(), {"_target_": "plugins.datasets.Xor"})
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"experiment": "backprop-lab", "run_name": "kept", "tags": {},
                                                 "params": {}, "status": "FINISHED", "datasets": parts}))
    (folder / "metrics.csv").write_text("key,value,step\n")
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    synced = inputs_of(MlflowClient(tracking_uri=uri), sync(folder, uri))
    assert list(synced) == ["training"] and synced["training"].digest == parts[0]["digest"]
    assert json.loads(synced["training"].source) == {"config": {"_target_": "plugins.datasets.Xor"}}


@pytest.mark.parametrize("changes, expected", [
    ([("data_digest", "a" * 16, "b" * 16)], "the data are not the original run's"),
    ([("git_commit", "1" * 40, "2" * 40)], "git_commit"),
])
def test_replay_explains_changed_data_apart_from_changed_code(changes, expected):
    from runner.replay import explain_mismatch

    text = "\n".join(explain_mismatch(changes, "abc"))
    assert expected in text
    assert ("the data are not" in text) == (changes[0][0] == "data_digest")


class RecordedClient:
    """As much of an MlflowClient as with_recorded_data_path reads: one run whose dataset inputs have `sources`."""

    def __init__(self, *sources: str):
        self.inputs = SimpleNamespace(dataset_inputs=[SimpleNamespace(dataset=SimpleNamespace(source=source))
                                                      for source in sources])

    def get_run(self, run_id):
        return SimpleNamespace(inputs=self.inputs)


def test_a_relative_data_path_missing_here_is_read_where_the_run_recorded_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "sub").mkdir()
    (tmp_path / "data.csv").write_text("x,label\n1,a\n")
    recorded = RecordedClient(json.dumps({"uri": str(tmp_path / "data.csv")}))
    config = {"seed": 0, "dataset": {"_target_": "plugins.datasets.CsvDataset", "path": "data.csv", "target": "label"}}
    monkeypatch.chdir(tmp_path / "sub")
    found = with_recorded_data_path(recorded, "r1", config)
    assert found == {**config, "dataset": {**config["dataset"], "path": str(tmp_path / "data.csv")}}
    assert config["dataset"]["path"] == "data.csv"  # the logged config itself is left as it was
    note = f"dataset.path data.csv: read from {tmp_path / 'data.csv'}, where the run found it\n"
    assert capsys.readouterr().out == note

    (tmp_path / "sub" / "data.csv").write_text("x,label\n2,b\n")  # a file of that name here is the one used
    assert with_recorded_data_path(recorded, "r1", config) is config and capsys.readouterr().out == ""
    moons = {"dataset": {"_target_": "plugins.datasets.Moons", "n_samples": 100}}
    assert with_recorded_data_path(RecordedClient(), "r1", moons) is moons

    (tmp_path / "sub" / "data.csv").unlink()
    (tmp_path / "data.csv").unlink()
    with pytest.raises(UserError) as gone:
        with_recorded_data_path(recorded, "r1", config)
    assert str(gone.value) == (f"dataset.path='data.csv' of run r1 is found neither from here "
                               f"({tmp_path / 'sub' / 'data.csv'}) nor at {tmp_path / 'data.csv'}, where the run found "
                               "it; accepted: the run's CSV file at one of those places")
    with pytest.raises(UserError, match=r"nor in the run's dataset inputs \(none recorded\)"):
        with_recorded_data_path(RecordedClient(json.dumps({"config": {}})), "r1", config)


def in_folder(store, folder, module: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m MODULE ARGS` against the store, started in `folder` rather than the store's root."""
    return subprocess.run([sys.executable, "-m", module, *args], cwd=folder, env=store.env(), capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_predict_and_replay_from_another_folder_read_the_csv_file_the_run_recorded(new_store):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    path = new_store.root / "data.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{a},{b},{int(a + b > 0)}\n" for a, b in X))
    run_id = run_id_of(new_store.cli("dataset=csv", "dataset.path=data.csv", "dataset.target=label", *FAST[2:]))
    sub = new_store.root / "sub"
    sub.mkdir()
    note = f"dataset.path data.csv: read from {path.resolve()}, where the run found it"
    predictions = new_store.root / "outputs" / "predictions" / f"{run_id}.csv"
    here = new_store.module("runner.predict", run_id)  # from the run's own folder, data.csv is found as before
    assert here.returncode == 0 and note not in here.stdout, here.stderr
    expected = predictions.read_text()
    predicted = in_folder(new_store, sub, "runner.predict", run_id)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0] == note and predictions.read_text() == expected
    replay = in_folder(new_store, sub, "runner.replay", run_id)
    assert replay.returncode == 0 and "MISMATCH" not in replay.stdout, replay.stdout + replay.stderr
    assert replay.stdout.splitlines()[0] == note

    path.write_text(path.read_text().replace(f"{X[5, 0]},", f"{X[5, 0] + 0.5},", 1))  # the recorded file changed
    changed = in_folder(new_store, sub, "runner.replay", run_id)
    assert changed.returncode == 1 and note in changed.stdout, changed.stdout + changed.stderr
    assert "the data are not the original run's" in changed.stdout

    path.rename(new_store.root / "moved.csv")
    for module in ("runner.predict", "runner.replay"):
        gone = in_folder(new_store, sub, module, run_id)
        assert gone.returncode == 2 and gone.stderr.strip().splitlines() == [
            f"error: dataset.path='data.csv' of run {run_id} is found neither from here ({sub / 'data.csv'}) nor at "
            f"{path.resolve()}, where the run found it; accepted: the run's CSV file at one of those places"], \
            gone.stderr


def test_a_from_file_initializer_records_its_files_digest_and_absolute_path(tmp_path, monkeypatch):
    import hashlib

    from plugins.initializers import EpsilonUniform, FromFile
    from runner.data_inputs import initial_weights_tags

    monkeypatch.chdir(tmp_path)
    np.savez("w0.npz", Theta1=np.ones((2, 3)))
    tags = initial_weights_tags(FromFile("w0.npz"))
    assert tags == {"init_digest": hashlib.sha256((tmp_path / "w0.npz").read_bytes()).hexdigest()[:16],
                    "init_path": str(tmp_path / "w0.npz")}
    np.savez("w0.npz", Theta1=np.ones((2, 3)) + 1e-12)
    assert initial_weights_tags(FromFile("w0.npz"))["init_digest"] != tags["init_digest"]
    assert initial_weights_tags(EpsilonUniform()) == {}  # drawn from the seed, which the config records


def test_a_relative_initial_weights_path_missing_here_is_read_where_the_run_recorded_it(tmp_path, monkeypatch,
                                                                                       capsys):
    from runner.data_inputs import with_recorded_init_path

    class Tagged:
        def __init__(self, **tags):
            self.tags = tags

        def get_run(self, run_id):
            return SimpleNamespace(data=SimpleNamespace(tags=self.tags))

    (tmp_path / "sub").mkdir()
    (tmp_path / "w0.npz").write_bytes(b"")
    config = {"initializer": {"_target_": "plugins.initializers.FromFile", "path": "w0.npz"}}
    monkeypatch.chdir(tmp_path / "sub")
    found = with_recorded_init_path(Tagged(init_path=str(tmp_path / "w0.npz")), "r1", config)
    assert found == {"initializer": {**config["initializer"], "path": str(tmp_path / "w0.npz")}}
    note = f"initializer.path w0.npz: read from {tmp_path / 'w0.npz'}, where the run found it\n"
    assert capsys.readouterr().out == note
    with pytest.raises(UserError, match=r"^initializer.path='w0.npz' of run r1 is found neither from here .* nor in "
                                        r"the run's tag init_path \(none recorded\); accepted: the run's initial "
                                        "weights file at one of those places$"):
        with_recorded_init_path(Tagged(), "r1", config)


def test_replay_explains_changed_initial_weights_rather_than_blaming_reproducibility():
    from runner.replay import ENVIRONMENT_TAGS, explain_mismatch

    assert "init_digest" in ENVIRONMENT_TAGS
    text = "\n".join(explain_mismatch([("init_digest", "a" * 16, "b" * 16)], "abc"))
    assert f"init_digest     {'a' * 16} -> {'b' * 16}" in text and "the initial weights are not the original" in text
    assert "please report it" not in text


@pytest.mark.slow
def test_a_from_file_run_replays_from_another_folder_and_a_changed_weights_file_is_named(new_store):
    """Before, nothing recorded the initial weights: replay from another folder failed on initializer.path, and
    after the file changed it blamed reproducibility."""
    from conftest import resolved_config
    from runner.setup import prepare

    Theta0 = prepare(resolved_config(*FAST)).Theta0
    w0 = new_store.root / "w0.npz"
    np.savez(w0, **{f"Theta{l + 1}": T for l, T in enumerate(Theta0)})
    run_id = run_id_of(new_store.cli(*FAST, "initializer=from_file", "initializer.path=w0.npz"))
    tags = new_store.client.get_run(run_id).data.tags
    assert tags["init_path"] == str(w0.resolve()) and re.fullmatch(r"[0-9a-f]{16}", tags["init_digest"])
    sub = new_store.root / "sub"
    sub.mkdir()
    replay = in_folder(new_store, sub, "runner.replay", run_id)
    assert replay.returncode == 0 and "MISMATCH" not in replay.stdout, replay.stdout + replay.stderr
    assert replay.stdout.splitlines()[0] == f"initializer.path w0.npz: read from {w0.resolve()}, where the run found it"

    np.savez(w0, **{f"Theta{l + 1}": T + 0.01 for l, T in enumerate(Theta0)})
    changed = in_folder(new_store, sub, "runner.replay", run_id)
    assert changed.returncode == 1 and "MISMATCH" in changed.stdout, changed.stdout + changed.stderr
    assert re.search(rf"init_digest\s+{tags['init_digest']} -> (?!{tags['init_digest']})[0-9a-f]{{16}}",
                     changed.stdout), changed.stdout
    assert "the initial weights are not the original run's" in changed.stdout
    assert "please report it" not in changed.stdout
