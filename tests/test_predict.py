"""`python -m runner.predict` on real runs: the run's own test part, raw rows of a CSV file scaled as
the run scaled them (checked against scikit-learn's scaler and the course's forward pass written out),
CSV runs by column name, and one-line errors for every kind of bad input."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.preprocessing import StandardScaler

from conftest import FAST, resolved_config
from runner.setup import TRAINING_ONLY, prepare

pytestmark = pytest.mark.slow

RUN = ("optimizer=lbfgs", "optimizer.epochs=30", "tracking.figures=false", "tracking.progress=off")


def run_id_of(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.split("run ", 1)[1].split(":", 1)[0]


def weights(store, run_id: str) -> list[np.ndarray]:
    with np.load(store.download(run_id, "weights.npz"), allow_pickle=False) as npz:
        return [npz[f"Theta{l}"] for l in range(1, len(npz.files) + 1)]


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


@pytest.fixture(scope="module")
def digits_run(store):
    """A short L-BFGS run on the digits: (run id, its config)."""
    import yaml

    run_id = run_id_of(store.cli(*RUN))
    return run_id, yaml.safe_load(store.download(run_id, "config.yaml").read_text())


def test_without_a_file_it_classifies_the_runs_test_part_as_the_run_did(store, digits_run):
    run_id, _ = digits_run
    result = store.module("runner.predict", run_id)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(store.root / "outputs" / "predictions" / f"{run_id}.csv")
    assert list(table.columns) == ["row", "true", "predicted", *[f"h_{k}" for k in range(10)]] and len(table) == 359
    accuracy = store.client.get_run(run_id).data.metrics["test_accuracy"]
    assert (table["true"] == table["predicted"]).mean() == pytest.approx(accuracy, abs=1e-12)
    assert f"accuracy   {accuracy:.4f}" in result.stdout and "359 samples of test part" in result.stdout


def test_raw_rows_of_a_file_are_scaled_as_the_run_scaled_its_training_part(store, digits_run, tmp_path):
    run_id, config = digits_run
    digits = load_digits()
    frame = pd.DataFrame(digits.data, columns=[f"pixel{i}" for i in range(64)])
    frame.insert(10, "digit", digits.target)  # the label column anywhere, named by --target
    frame.to_csv(tmp_path / "digits.csv", index=False)
    out = tmp_path / "out" / "predictions.csv"
    result = store.module("runner.predict", run_id, "--csv", str(tmp_path / "digits.csv"), "--target", "digit",
                          "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    # Independently: scikit-learn's scaler fitted on the run's training rows, the course's forward pass.
    splits = prepare(config).splits
    scaler = StandardScaler().fit(splits.unscaled(splits.train.X))
    Theta1, Theta2 = weights(store, run_id)
    a2 = sigmoid(np.c_[np.ones(1797), scaler.transform(digits.data)] @ Theta1.T)
    h = sigmoid(np.c_[np.ones(1797), a2] @ Theta2.T)
    np.testing.assert_allclose(table[[f"h_{k}" for k in range(10)]].to_numpy(), h, rtol=1e-9, atol=1e-12)
    assert list(table["predicted"]) == list(h.argmax(axis=1)) and list(table["true"]) == list(digits.target)
    right = int((h.argmax(axis=1) == digits.target).sum())
    assert f"accuracy   {right / 1797:.4f} ({right} of 1797)" in result.stdout


@pytest.fixture(scope="module")
def iris_csv_run(store, tmp_path_factory):
    """A run of dataset=csv on iris with named columns and text labels: (run id, the data frame)."""
    iris = load_iris()
    frame = pd.DataFrame(iris.data, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    frame["species"] = np.array(iris.target_names)[iris.target]
    path = tmp_path_factory.mktemp("iris") / "iris.csv"
    frame.to_csv(path, index=False)
    run_id = run_id_of(store.cli("dataset=csv", f"dataset.path={path}", "dataset.target=species", *RUN))
    return run_id, frame


def test_a_csv_run_reads_its_feature_columns_by_name_in_any_order(store, iris_csv_run, tmp_path):
    run_id, frame = iris_csv_run
    new = frame[["species", "petal_w", "sepal_w", "petal_l", "sepal_l"]].assign(note="ignored").head(40)
    new.to_csv(tmp_path / "new.csv", index=False)
    result = store.module("runner.predict", run_id, "--csv", str(tmp_path / "new.csv"), "--target", "species")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(store.root / "outputs" / "predictions" / f"{run_id}.csv")
    assert list(table.columns) == ["row", "true", "predicted", "h_setosa", "h_versicolor", "h_virginica"]
    assert set(table["predicted"]) <= {"setosa", "versicolor", "virginica"}
    assert (table["true"] == table["predicted"]).mean() > 0.9  # iris's first 40 rows are easy setosas
    unlabelled = store.module("runner.predict", run_id, "--csv", str(tmp_path / "new.csv"))
    assert unlabelled.returncode == 0, unlabelled.stderr  # species is just an extra column then
    assert "accuracy" not in unlabelled.stdout


def test_a_run_on_chosen_csv_features_predicts_from_those_columns_alone(store, iris_csv_run, tmp_path):
    from runner.predict import csv_feature_names

    _, frame = iris_csv_run
    path = tmp_path / "with_ids.csv"
    frame.assign(plant_id=range(len(frame)), garden="north").to_csv(path, index=False)
    run_id = run_id_of(store.cli("dataset=csv", f"dataset.path={path}", "dataset.target=species",
                                 "dataset.features=[petal_w,petal_l]", *RUN))
    assert csv_feature_names({"dataset": {"_target_": "plugins.datasets.CsvDataset", "path": str(path),
                                          "target": "species", "features": ["petal_w", "petal_l"]}}) == \
        ["petal_w", "petal_l"]
    frame[["petal_l", "petal_w", "species"]].to_csv(tmp_path / "petals.csv", index=False)  # no sepals, no ids
    result = store.module("runner.predict", run_id, "--csv", str(tmp_path / "petals.csv"), "--target", "species")
    assert result.returncode == 0, result.stderr
    assert float(re.search(r"accuracy\s+([0-9.]+)", result.stdout).group(1)) > 0.9


def test_a_run_with_categorical_columns_encodes_new_rows_as_it_was_trained(store, tmp_path):
    rng = np.random.default_rng(0)
    ages, cities = rng.uniform(20, 60, 200), rng.choice(["oslo", "rome", "lima"], 200)
    frame = pd.DataFrame({"age": ages.round(2), "city": cities, "label": np.where(cities == "rome", "yes", "no")})
    frame.to_csv(tmp_path / "people.csv", index=False)
    run_id = run_id_of(store.cli("dataset=csv", f"dataset.path={tmp_path / 'people.csv'}", "dataset.target=label",
                                 "dataset.categorical=[city]", "architecture.hidden=[8]", *RUN))
    frame.sample(60, random_state=1)[["label", "city", "age"]].to_csv(tmp_path / "new.csv", index=False)
    result = store.module("runner.predict", run_id, "--csv", str(tmp_path / "new.csv"), "--target", "label")
    assert result.returncode == 0, result.stderr
    assert float(re.search(r"accuracy\s+([0-9.]+)", result.stdout).group(1)) > 0.95  # the label is the city's
    frame.head(3).assign(city=["rome", "paris", "oslo"]).to_csv(tmp_path / "paris.csv", index=False)
    unknown = store.module("runner.predict", run_id, "--csv", str(tmp_path / "paris.csv"))
    assert unknown.returncode == 2 and unknown.stderr.strip().splitlines() == [
        f"error: --csv {tmp_path / 'paris.csv'}: categorical column 'city' has the value 'paris' at data row 1; "
        "accepted: one of the values the run trained on: lima, oslo, rome"]


def test_a_run_that_filled_missing_values_fills_new_rows_with_the_same_means(store, iris_csv_run, tmp_path):
    _, frame = iris_csv_run
    gappy = frame.copy()
    gappy.loc[::7, "petal_l"] = np.nan
    gappy.to_csv(tmp_path / "gappy.csv", index=False)
    run_id = run_id_of(store.cli("dataset=csv", f"dataset.path={tmp_path / 'gappy.csv'}", "dataset.target=species",
                                 "dataset.missing=mean", *RUN))
    from runner.replay import load_logged_config

    fill = prepare(load_logged_config(store.client, run_id)).splits.fill  # the run's own, remade from its config
    assert fill is not None and np.isnan(gappy["petal_l"]).any()
    new = frame.head(6)[["sepal_l", "sepal_w", "petal_l", "petal_w"]].copy()
    new.loc[[1, 4], "petal_l"] = np.nan
    new.to_csv(tmp_path / "new.csv", index=False)
    explicit = new.fillna({"petal_l": fill[2]})
    explicit.to_csv(tmp_path / "explicit.csv", index=False)
    outputs = []
    for name in ("new.csv", "explicit.csv"):
        result = store.module("runner.predict", run_id, "--csv", str(tmp_path / name), "--out",
                              str(tmp_path / f"p_{name}"))
        assert result.returncode == 0, result.stderr
        outputs.append(pd.read_csv(tmp_path / f"p_{name}"))
    pd.testing.assert_frame_equal(outputs[0], outputs[1])  # an empty cell is the training mean


@pytest.mark.parametrize("case, args, words", [
    ("unknown run", ["0123abcd"], ["run id '0123abcd' is not in the tracking store"]),
    ("target without csv", ["{run}", "--target", "species"], ["--target needs --csv"]),
    ("no such file", ["{run}", "--csv", "{tmp}/none.csv"], ["none.csv does not exist"]),
    ("empty file", ["{run}", "--csv", "{tmp}/empty.csv"], ["empty.csv cannot be read"]),
    ("missing column", ["{run}", "--csv", "{tmp}/missing.csv"], ["lacks the feature column(s) petal_w",
                                                                 "sepal_l, sepal_w, petal_l, petal_w"]),
    ("text feature", ["{run}", "--csv", "{tmp}/text.csv"], ["column 'sepal_w' holds 'wide' at data row 1"]),
    ("unknown target", ["{run}", "--csv", "{tmp}/text.csv", "--target", "kind"], ["--target kind is not a column",
                                                                                 "sepal_l"]),
    ("unknown class", ["{run}", "--csv", "{tmp}/rose.csv", "--target", "species"], ["holds 'rose'", "setosa"]),
    ("bad out", ["{run}", "--out", "{tmp}/empty.csv/x.csv"], ["--out", "cannot be written"]),
    ("header only", ["{run}", "--csv", "{tmp}/header.csv"], ["header.csv has a header row but no data rows",
                                                               "at least one data row"]),
    ("header only, labelled", ["{run}", "--csv", "{tmp}/header.csv", "--target", "species"], ["no data rows"]),
    ("a folder", ["{run}", "--csv", "{tmp}"], ["is a folder; accepted: a CSV file with a header row, not a folder"]),
    ("inf", ["{run}", "--csv", "{tmp}/inf.csv"], ["column 'petal_l' holds inf at data row 1", "finite numbers"]),
    ("-inf", ["{run}", "--csv", "{tmp}/-inf.csv"], ["column 'petal_l' holds -inf at data row 1", "finite numbers"]),
    ("1e400", ["{run}", "--csv", "{tmp}/1e400.csv"], ["column 'petal_l' holds inf at data row 1", "finite numbers"]),
    ("empty cell", ["{run}", "--csv", "{tmp}/gap.csv"], [
        "column 'sepal_w' holds a missing value at data row 1; accepted: a value in every feature column (the run "
        "fills none: its dataset.missing was error)"]),
    ("empty label", ["{run}", "--csv", "{tmp}/nolabel.csv", "--target", "species"], [
        "--target species has a missing value at data row 1; accepted: a label in every row"]),
])
def test_bad_input_is_one_line_with_exit_code_2(store, iris_csv_run, tmp_path, case, args, words):
    run_id, frame = iris_csv_run
    (tmp_path / "empty.csv").write_text("")
    frame.drop(columns="petal_w").to_csv(tmp_path / "missing.csv", index=False)
    frame.head(3).astype({"sepal_w": object}).assign(sepal_w=["3.5", "wide", "3.2"]).to_csv(tmp_path / "text.csv",
                                                                                           index=False)
    frame.head(3).assign(species=["setosa", "rose", "setosa"]).to_csv(tmp_path / "rose.csv", index=False)
    (tmp_path / "header.csv").write_text(",".join(frame.columns) + "\n")
    for value in ("inf", "-inf", "1e400"):  # pandas reads 1e400 as inf
        frame.head(3).astype({"petal_l": object}).assign(petal_l=["1.4", value, "1.3"]).to_csv(
            tmp_path / f"{value}.csv", index=False)
    frame.head(3).assign(sepal_w=[3.5, np.nan, 3.2]).to_csv(tmp_path / "gap.csv", index=False)
    frame.head(3).assign(species=["setosa", np.nan, "setosa"]).to_csv(tmp_path / "nolabel.csv", index=False)
    args = [a.format(run=run_id, tmp=tmp_path) for a in args]
    result = store.module("runner.predict", *args)
    assert result.returncode == 2, (case, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert all(word in lines[0] for word in words), lines[0]


def test_a_digits_run_takes_as_many_columns_as_features(store, digits_run, tmp_path):
    run_id, _ = digits_run
    pd.DataFrame(np.zeros((2, 63))).to_csv(tmp_path / "short.csv", index=False)
    result = store.module("runner.predict", run_id, "--csv", str(tmp_path / "short.csv"))
    assert result.returncode == 2
    assert "has 63 feature columns; accepted: 64" in result.stderr


def test_an_unreadable_file_is_one_line(monkeypatch, tmp_path):
    from runner.errors import UserError
    from runner.predict import RunInputs, read_samples

    def refuse(path, **_):  # as chmod 000 would, which root (the tests' user on some machines) reads through
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(pd, "read_csv", refuse)
    with pytest.raises(UserError, match=r"x\.csv cannot be read \(Permission denied\); accepted: a CSV file with a "
                                        "header row that this user can read"):
        read_samples(str(tmp_path / "x.csv"), None, RunInputs(4))


def test_whole_number_labels_are_one_class_however_they_are_written(store, digits_run, iris_csv_run, tmp_path):
    run_id, _ = digits_run  # trained on labels 0 .. 9
    digits = load_digits()
    frame = pd.DataFrame(digits.data[:100]).assign(digit=digits.target[:100].astype(float))
    frame.to_csv(tmp_path / "floats.csv", index=False)
    assert "3.0" in (tmp_path / "floats.csv").read_text()
    result = store.module("runner.predict", run_id, "--csv", str(tmp_path / "floats.csv"), "--target", "digit")
    assert result.returncode == 0, result.stderr
    assert float(re.search(r"accuracy\s+([0-9.]+)", result.stdout).group(1)) > 0.8
    _, iris = iris_csv_run
    numbered = iris.assign(species=iris["species"].map({"setosa": 1.0, "versicolor": 2.0, "virginica": 3.0}))
    numbered.to_csv(tmp_path / "numbered.csv", index=False)  # labels written 1.0, 2.0, 3.0
    float_run = run_id_of(store.cli("dataset=csv", f"dataset.path={tmp_path / 'numbered.csv'}",
                                    "dataset.target=species", *RUN))
    numbered.astype({"species": int}).to_csv(tmp_path / "ints.csv", index=False)  # the same labels written 1, 2, 3
    result = store.module("runner.predict", float_run, "--csv", str(tmp_path / "ints.csv"), "--target", "species")
    assert result.returncode == 0, result.stderr
    assert float(re.search(r"accuracy\s+([0-9.]+)", result.stdout).group(1)) > 0.9
    numbered.head(3).assign(species=[1, 2.5, 3]).to_csv(tmp_path / "half.csv", index=False)
    half = store.module("runner.predict", float_run, "--csv", str(tmp_path / "half.csv"), "--target", "species")
    assert half.returncode == 2 and half.stderr.strip().splitlines() == [
        "error: --target species holds '2.5' at data row 1, a class the run never saw; accepted: 1, 2, 3"]


def test_text_labels_stay_compared_as_written(tmp_path):
    from runner.errors import UserError
    from runner.predict import RunInputs, encode, read_samples

    pd.DataFrame({"x": [1, 2], "kind": ["1.0", "1.0"]}).to_csv(tmp_path / "kinds.csv", index=False)
    _, labels = read_samples(str(tmp_path / "kinds.csv"), "kind", RunInputs(1, text_labels=True))
    assert list(encode(labels, ["1.0", "a"], "kind")) == [0, 0]  # a text class '1.0' is not the number 1
    with pytest.raises(UserError, match="holds '1.0' at data row 0, a class the run never saw; accepted: 1, a"):
        encode(labels, ["1", "a"], "kind")


def test_new_rows_are_read_as_training_reads_them(tmp_path):
    """Only an empty cell is missing (a category 'NA', a label 'None' stay), and the unnamed empty column of
    trailing commas is left out, also when the run's feature columns come from its training file's header."""
    from runner.errors import UserError
    from runner.predict import RunInputs, csv_feature_names, read_samples

    (tmp_path / "train.csv").write_text("a,3,city,\n1,x,NA,\n2,y,EU,\n")
    config = {"dataset": {"_target_": "plugins.datasets.CsvDataset", "path": str(tmp_path / "train.csv"),
                          "target": 3}}  # as the command line gives dataset.target=3
    assert csv_feature_names(config) == ["a", "city"]
    (tmp_path / "new.csv").write_text("city,a,kind,\r\nNA,1.5,None,\r\nEU,2,NA,\r\n")
    run = RunInputs(3, ["a", "city"], {"city": ["EU", "NA"]}, text_labels=True)
    X, labels = read_samples(str(tmp_path / "new.csv"), "kind", run)
    np.testing.assert_array_equal(X, [[1.5, 0, 1], [2, 1, 0]])
    assert list(labels) == ["None", "NA"]
    (tmp_path / "na.csv").write_text("a,city\n1,EU\nNA,EU\n")
    with pytest.raises(UserError, match=r"na.csv: column 'a' holds 'NA' at data row 1; accepted: numbers"):
        read_samples(str(tmp_path / "na.csv"), None, run)


def test_predict_needs_neither_the_initial_weights_file_nor_the_initializer_or_optimizer_plugin(new_store):
    """Before, predict built the run's initializer and optimizer: from another folder a relative initializer.path,
    or a plugin module importable only where the run started, failed it (or needed --allow), though it reads only
    the trained weights."""
    root = new_store.root
    Theta0 = prepare(resolved_config(*FAST)).Theta0
    np.savez(root / "w0.npz", **{f"Theta{l + 1}": T for l, T in enumerate(Theta0)})
    (root / "my_plugins").mkdir()
    (root / "my_plugins" / "__init__.py").write_text(
        "import numpy as np\nfrom plugins.optimizers import BatchGD\nfrom runner.core.network import theta_shapes\n\n\n"
        "class ScaledUniform:\n    name = 'scaled_uniform'\n\n    def __call__(self, layer_sizes, rng):\n"
        "        return [rng.uniform(-0.05, 0.05, shape) for shape in theta_shapes(layer_sizes)]\n\n\n"
        "class MyGD(BatchGD):\n    name = 'my_gd'\n")
    from_file = run_id_of(new_store.cli(*FAST, "initializer=from_file", "initializer.path=w0.npz"))
    plugins = run_id_of(new_store.cli(*FAST, "initializer=glorot_normal", "optimizer._target_=my_plugins.MyGD",
                                      "initializer._target_=my_plugins.ScaledUniform", PYTHONPATH=str(root)))
    (root / "w0.npz").unlink()  # gone, as a scratch file may be
    (root / "sub").mkdir()
    for run_id in (from_file, plugins):
        result = subprocess.run([sys.executable, "-m", "runner.predict", run_id], cwd=root / "sub",
                                env=new_store.env(), capture_output=True, text=True, timeout=600)
        assert result.returncode == 0 and "samples of test part classified" in result.stdout, result.stderr
    setup = prepare(resolved_config(*FAST, "initializer=from_file", "initializer.path=none.npz",
                                    "optimizer._target_=nowhere.Optimizer"), training=False)
    assert setup.Theta0 is None and not set(TRAINING_ONLY) & set(setup.plugins)


def test_predict_on_the_runs_own_data_warns_when_the_data_file_changed_since(store, tmp_path):
    """Before, an edited data file gave other samples and another accuracy with no word of it (replay said so)."""
    X = np.random.default_rng(0).normal(size=(60, 2))
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{a},{b},{int(a + b > 0)}\n" for a, b in X))
    run_id = run_id_of(store.cli("dataset=csv", f"dataset.path={path}", "dataset.target=label", *FAST[2:]))
    recorded = store.client.get_run(run_id).data.tags["data_digest"]
    same = store.module("runner.predict", run_id)
    assert same.returncode == 0 and same.stderr == "", same.stderr
    path.write_text(path.read_text().replace(f"{X[5, 0]},", f"{X[5, 0] + 0.5},", 1))
    changed = store.module("runner.predict", run_id)
    assert changed.returncode == 0 and "samples of test part classified" in changed.stdout, changed.stderr
    (line,) = changed.stderr.strip().splitlines()
    assert re.fullmatch(rf"warning: the data are not run {run_id}'s \(data_digest {recorded} recorded, "
                        rf"(?!{recorded})[0-9a-f]{{16}} now: .*\); .*the accuracy is not the run's", line), line
    (line,) = store.module("runner.predict", run_id, "--csv", str(path)).stderr.strip().splitlines()
    assert line.startswith("warning: the data are not run") and "--csv rows below are filled and scaled as the run " \
        "recorded, but its classes and feature columns are remade from them" in line, line


def test_predict_on_a_file_scales_as_the_run_recorded_after_its_training_file_changed(store, tmp_path):
    """Before, the scaling was refitted on the training file as it is now: an edit changed every prediction."""
    X = np.random.default_rng(1).normal(size=(60, 2))
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,label\n" + "".join(f"{a},{b},{int(a + b > 0)}\n" for a, b in X))
    run_id = run_id_of(store.cli("dataset=csv", f"dataset.path={path}", "dataset.target=label", *FAST[2:]))
    with np.load(store.download(run_id, "preprocessing.npz"), allow_pickle=False) as npz:
        recorded = {name: npz[name] for name in npz.files}
    from runner.replay import load_logged_config

    splits = prepare(load_logged_config(store.client, run_id)).splits
    assert set(recorded) == {"shift", "factor"}  # no fill: the run filled nothing
    np.testing.assert_array_equal(recorded["shift"], splits.scaling[0])
    np.testing.assert_array_equal(recorded["factor"], splits.scaling[1])
    pd.DataFrame(X[:10], columns=["x1", "x2"]).to_csv(tmp_path / "new.csv", index=False)

    def predicted(name):
        result = store.module("runner.predict", run_id, "--csv", str(tmp_path / "new.csv"), "--out",
                              str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        return pd.read_csv(tmp_path / name), result.stderr

    before, said = predicted("before.csv")
    assert said == ""
    path.write_text("x1,x2,label\n" + "".join(f"{a + 3 * (i % 5 == 0)},{b},{int(a + b > 0)}\n"
                                              for i, (a, b) in enumerate(X)))  # x1 of every 5th row changed
    after, said = predicted("after.csv")
    pd.testing.assert_frame_equal(before, after)
    assert said.count("\n") == 1 and said.startswith("warning: the data are not run"), said


def test_predict_on_a_run_that_did_not_finish_says_how_it_ended(store):
    """Before, a diverged (FAILED) run's predictions came with no word of it."""
    result = store.cli(*FAST, "optimizer.lr=1e7", "optimizer.epochs=50")
    run_id = result.stdout.split("run ", 1)[1].split(":", 1)[0]
    reason = store.client.get_run(run_id).data.tags["failure_reason"]
    assert result.returncode == 1 and reason.startswith("diverged at epoch")
    predicted = store.module("runner.predict", run_id)
    assert predicted.returncode == 0 and "samples of test part classified" in predicted.stdout, predicted.stderr
    assert predicted.stderr.strip().splitlines() == [f"note: run {run_id} ended FAILED ({reason})"]
