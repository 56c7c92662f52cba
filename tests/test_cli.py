"""End to end: the real `python -m runner` in a subprocess, against a SQLite store in a temp dir,
read back with the MLflow client.

Each subprocess costs seconds of imports, so one run (`fast_run`) is shared by several tests.
"""
from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from conftest import FAST, PROJECT_ROOT
from plugins.regularization import NoRegularization
from runner.core.network import NetworkObjective, accuracy, one_hot, predict, theta_shapes
from runner.setup import prepare

pytestmark = pytest.mark.slow

OVERRIDES = (*FAST, "gradcheck.every=5")
PER_EPOCH = ("train_cost", "val_cost", "train_accuracy", "val_accuracy")


def history(store, run_id: str, key: str) -> list[tuple[int, float]]:
    """(step, value) of one metric of a run, by step."""
    return sorted((m.step, m.value) for m in store.client.get_metric_history(run_id, key))


def artifact_paths(store, run_id: str, folder: str | None = None) -> set[str]:
    return {a.path for a in store.client.list_artifacts(run_id, folder)}


def run_config(store, run_id: str) -> dict:
    """The resolved config the run recorded as its config.yaml artifact."""
    return yaml.safe_load(store.download(run_id, "config.yaml").read_text())


def load_weights(store, run_id: str) -> list[np.ndarray]:
    with np.load(store.download(run_id, "weights.npz"), allow_pickle=False) as npz:
        return [npz[f"Theta{l}"] for l in range(1, len(npz.files) + 1)]


@pytest.fixture(scope="module")
def fast_run(store):
    """One short batch-GD run on moons with a gradient check every 5 epochs: (process, run)."""
    result = store.cli(*OVERRIDES)
    assert result.returncode == 0, result.stderr
    (run,) = store.runs()
    return result, run


def test_run_finishes_with_a_descriptive_name_and_a_summary(store, fast_run):
    result, run = fast_run
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "batch_gd lr=1 epochs=12 lam=1 [5]"
    assert run.info.run_id in result.stdout
    assert re.search(r"test \d\.\d{4}", result.stdout)
    assert f"python -m runner.dashboard --tracking-uri {store.uri}" in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("override, name", [
    ("optimizer.lr=1000000.0", "optimizer.lr=1000000"), ("regularization.lam=1.0", "regularization.lam=1"),
    ("optimizer.lr=0.5", "optimizer.lr=0.5"), ("seed=007", "seed=007"), ("architecture.hidden=[5,5]", None),
    ("dataset=moons", None), ("k=inf", None), ("k=1e300", None), ("+x=2.0", "+x=2")])
def test_a_job_is_named_with_its_whole_numbers_as_its_params_write_them(override, name):
    """Before, a sweep over optimizer.lr=0.5,1e6 named its second job `optimizer.lr=1000000.0` (Hydra's text of the
    swept value) while its param said 1000000."""
    from runner.jobs import canonical_override

    assert canonical_override(override) == (name or override)


def test_a_number_has_one_text_and_one_config_hash_however_it_was_typed(new_store):
    """Before, regularization.lam=1 on the command line logged '1' and another config_hash than the default 1.0
    (logged '1.0'), and a filter params.`regularization.lam` = '1' missed every run with the default."""
    from runner.tracking import canonical_numbers, flatten

    assert canonical_numbers({"a": 1.0, "b": [2.0, 0.5], "c": {"d": 1e6, "e": True, "f": "1.0"}, "g": 1e300}) == \
        {"a": 1, "b": [2, 0.5], "c": {"d": 1000000, "e": True, "f": "1.0"}, "g": 1e300}
    assert flatten({"optimizer": {"lr": 1e6, "decay": 1e-3}}) == {"optimizer.lr": "1000000", "optimizer.decay": "0.001"}
    for overrides in ([], ["regularization.lam=1"], ["regularization.lam=1.0"]):
        assert new_store.cli(*FAST, *overrides).returncode == 0
    runs = new_store.runs()
    assert len(runs) == 3 and {run.data.params["regularization.lam"] for run in runs} == {"1"}
    assert len({run.data.tags["config_hash"] for run in runs}) == 1
    assert len({run.data.metrics["train_cost"] for run in runs}) == 1


def test_tracking_uri_given_wins_over_the_environment_s_store(new_store, monkeypatch):
    """Before, MLFLOW_TRACKING_URI won: a run given tracking.uri=B recorded into the variable's store, B logged as its
    param. Now the explicit choice wins, as mlflow.set_tracking_uri() does over the variable."""
    from mlflow.tracking import MlflowClient

    other = f"sqlite:///{new_store.root / 'other.db'}"
    result = new_store.cli(*FAST, f"tracking.uri={other}")
    assert result.returncode == 0, result.stderr
    client = MlflowClient(tracking_uri=other)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert run.data.params["tracking.uri"] == other and run.info.run_id in result.stdout
    assert new_store.runs() == [] and other in result.stdout  # the summary's dashboard command names it
    sweep = new_store.cli("-m", *FAST, f"tracking.uri={other}", "seed=0,1")
    (report,) = [line.split(": ", 1)[1] for line in sweep.stdout.splitlines() if line.startswith("  report: ")]
    assert report.endswith(f" --tracking-uri {other}"), sweep.stdout  # the command finds the sweep where it is
    reported = new_store.module(*shlex.split(report)[2:])
    assert reported.returncode == 0 and "2 runs ranked by val_cost" in reported.stdout, reported.stderr
    from runner.sweep_runs import resume_command

    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_store.uri)
    assert resume_command("s1", "backprop-lab", other) == f"MLFLOW_TRACKING_URI={other} python -m runner.resume s1"
    assert resume_command("s1", "backprop-lab", new_store.uri) == "python -m runner.resume s1"


def test_params_are_the_config_flattened_to_dotted_keys(fast_run):
    params = fast_run[1].data.params
    assert params["optimizer.lr"] == "1"
    assert params["optimizer.epochs"] == "12"
    assert params["optimizer._target_"] == "plugins.optimizers.BatchGD"
    assert params["architecture.hidden"] == "[5]"
    assert params["regularization.lam"] == "1"  # the default 1.0, canonical_numbers' text of it
    assert params["seed"] == "0"
    assert params["dataset.n_samples"] == "100"
    assert params["gradcheck.every"] == "5"
    assert params["tracking.progress"] == "off"
    assert not any(value.startswith("{") for value in params.values())  # no nested section left whole


def test_metrics_are_logged_every_epoch_and_gradcheck_on_schedule(store, fast_run):
    run_id, epochs = fast_run[1].info.run_id, int(fast_run[1].data.params["optimizer.epochs"])
    for key in PER_EPOCH:
        assert [step for step, _ in history(store, run_id, key)] == list(range(epochs + 1)), key
    checks = history(store, run_id, "gradcheck_rel_error")
    assert [step for step, _ in checks] == sorted({0, *range(5, epochs + 1, 5), epochs})  # start, every 5, end
    assert all(0 <= error < 1e-6 for _, error in checks)
    ((step, test_accuracy),) = history(store, run_id, "test_accuracy")
    assert step == epochs and 0 <= test_accuracy <= 1
    costs = [J for _, J in history(store, run_id, "train_cost")]
    assert costs[-1] < costs[0]


def test_artifacts_hold_weights_config_figures_and_hydra_files(store, fast_run):
    run_id = fast_run[1].info.run_id
    assert {"weights.npz", "config.yaml", "learning_curves.png", "metrics.csv", ".hydra"} <= artifact_paths(store, run_id)
    assert {".hydra/config.yaml", ".hydra/overrides.yaml"} <= artifact_paths(store, run_id, ".hydra")
    assert yaml.safe_load(store.download(run_id, ".hydra/overrides.yaml").read_text()) == list(OVERRIDES)
    assert "hidden_weights.png" not in artifact_paths(store, run_id)  # moons are not images
    assert {"decision_regions.png", "hidden_units.png", "regions_over_training.png"} <= artifact_paths(store, run_id)
    assert {"confusion_matrix.csv", "confusion_matrix.png"} <= artifact_paths(store, run_id)
    assert "cost_path.csv" not in artifact_paths(store, run_id)  # tracking.cost_path is off by default
    header, *rows = store.download(run_id, "metrics.csv").read_text().splitlines()
    assert header == "key,value,step"
    assert sum(row.startswith("train_cost,") for row in rows) == len(history(store, run_id, "train_cost"))


def test_tags_make_the_run_findable_and_rerunnable(store, fast_run):
    tags = fast_run[1].data.tags
    assert tags["plugin.optimizer"] == tags["choice.optimizer"] == "batch_gd"
    assert tags["plugin.dataset"] == tags["choice.dataset"] == "moons"
    assert tags["choice.initializer"] == "epsilon_uniform"
    assert tags["overrides"] == " ".join(OVERRIDES)
    # config_hash identifies the resolved config: recomputed from the recorded config.yaml, whole floats as ints.
    from runner.tracking import canonical_numbers

    config = canonical_numbers(run_config(store, fast_run[1].info.run_id))
    resolved = OmegaConf.to_yaml(OmegaConf.create(config), sort_keys=True)
    assert tags["config_hash"] == hashlib.sha256(resolved.encode()).hexdigest()[:16]
    if (PROJECT_ROOT / ".git").exists():
        # Compared with git itself, not HEAD: others may commit while the tests run.
        assert re.fullmatch(r"[0-9a-f]{40}", tags["git_commit"])
        kind = subprocess.run(["git", "cat-file", "-t", tags["git_commit"]], cwd=PROJECT_ROOT,
                              capture_output=True, text=True)
        assert kind.stdout.strip() == "commit"
        assert tags["mlflow.source.git.commit"] == tags["git_commit"]  # the dashboard's Version column
        assert tags["git_dirty"] in ("true", "false")
    assert tags["mlflow.source.name"] == "python -m runner" and tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"]


def test_the_run_s_dashboard_description_gives_its_final_numbers(fast_run):
    run = fast_run[1]
    m, note = run.data.metrics, run.data.tags["mlflow.note.content"]
    lines = note.splitlines()
    assert lines[0] == f"**{run.info.run_name}**: FINISHED"
    accuracies = " | ".join(f"{m[key]:.4f}" for key in ("train_accuracy", "val_accuracy", "test_accuracy"))
    assert lines[4] == f"| accuracy | {accuracies} |"
    assert lines[5] == f"| cost | {m['train_cost']:.4f} (J) | {m['val_cost']:.4f} | |"
    assert lines[7].startswith(f"gradient check {m['gradcheck_rel_error']:.2e} (full, ")
    assert lines[7].endswith(f"; 12 epochs in {m['train_seconds']:.3g} s of training")


def test_weights_reproduce_the_logged_final_metrics(store, fast_run):
    run = fast_run[1]
    Theta = load_weights(store, run.info.run_id)
    setup = prepare(run_config(store, run.info.run_id))
    assert [T.shape for T in Theta] == theta_shapes(setup.layer_sizes) == [(5, 3), (1, 6)]
    g, cost, splits = setup.objective.activation, setup.objective.cost, setup.splits
    # The validation cost is the data term alone, as the course's validation error.
    val_objective = NetworkObjective(splits.val.X, one_hot(splits.val.y, 1), g, cost, NoRegularization())
    logged = run.data.metrics
    assert setup.objective.value(Theta) == pytest.approx(logged["train_cost"], abs=1e-9)
    assert val_objective.value(Theta) == pytest.approx(logged["val_cost"], abs=1e-9)
    # The training error of the course's learning curves: the data term on the training part, lambda = 0.
    train_objective = NetworkObjective(splits.train.X, one_hot(splits.train.y, 1), g, cost, NoRegularization())
    assert train_objective.value(Theta) == pytest.approx(logged["train_data_cost"], abs=1e-9)
    assert logged["train_cost"] - logged["train_data_cost"] > 1e-4  # lambda = 1: the penalty is not 0
    assert accuracy(Theta, splits.train.X, splits.train.y, g, cost) == pytest.approx(logged["train_accuracy"], abs=1e-9)
    assert accuracy(Theta, splits.test.X, splits.test.y, g, cost) == pytest.approx(logged["test_accuracy"], abs=1e-9)
    # The confusion matrix of the test part: a row per true class, a column per predicted one.
    confusion = pd.read_csv(store.download(run.info.run_id, "confusion_matrix.csv"), index_col=0)
    assert confusion.index.name == "true \\ predicted (test part)" and list(confusion.columns) == ["0", "1"]
    counts = confusion.to_numpy()
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(splits.test.y, minlength=2))
    assert np.trace(counts) / counts.sum() == pytest.approx(logged["test_accuracy"], abs=1e-12)
    predicted = predict(Theta, splits.test.X, g, cost)
    assert counts[0, 1] == np.sum((splits.test.y == 0) & (predicted == 1))
    # Each class's precision, recall and F1 on the test part, and their macro mean, as scikit-learn gives them.
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    scores = pd.read_csv(store.download(run.info.run_id, "class_scores.csv"))
    assert list(scores.columns) == ["class (test part)", "precision", "recall", "f1", "support"]
    expected = precision_recall_fscore_support(splits.test.y, predicted, labels=[0, 1], zero_division=0)
    for column, values in zip(("precision", "recall", "f1", "support"), expected):
        np.testing.assert_allclose(scores[column], values, rtol=1e-5)
    macro = f1_score(splits.test.y, predicted, average="macro", zero_division=0)
    assert logged["test_f1_macro"] == pytest.approx(macro, rel=1e-12)


def test_without_a_test_part_the_macro_f1_is_the_validation_part_s(new_store):
    result = new_store.cli(*FAST, "dataset.test_fraction=0", "tracking.figures=false")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    assert "val_f1_macro" in run.data.metrics and "test_f1_macro" not in run.data.metrics
    scores = pd.read_csv(new_store.download(run.info.run_id, "class_scores.csv"))
    assert scores.columns[0] == "class (validation part)"
    assert run.data.metrics["val_f1_macro"] == pytest.approx(scores["f1"].mean(), rel=1e-5)


def test_a_class_absent_from_the_part_and_never_predicted_has_no_scores_as_the_macro_f1_leaves_it_out():
    """Before, its F1 read 0 in class_scores.csv while test_f1_macro left it out: the column's mean was not it."""
    from runner.artifacts import class_score_rows
    from runner.core.network import macro_f1

    counts = np.array([[8, 2, 0], [1, 4, 0], [0, 0, 0]])  # class c: no sample, never predicted
    rows = class_score_rows(["a", "b", "c"], counts)
    assert rows[2] == ["c", "", "", "", 0] and rows[1][0] == "b" and rows[1][4] == 5
    assert np.mean([float(row[3]) for row in rows[:2]]) == pytest.approx(macro_f1(counts), rel=1e-5)
    assert class_score_rows(["a", "b"], np.array([[3, 0], [2, 0]]))[1][1:] == ["0", "0", "0", 2]  # never predicted


def test_a_sweep_preset_run_without_multirun_says_it_sweeps_nothing(new_store):
    """Before, +experiment=costs without -m silently trained one network (cross_entropy) and swept nothing."""
    result = new_store.cli("+experiment=costs", "optimizer.epochs=1", "tracking.figures=false", "tracking.progress=off")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0] == (
        "note: +experiment=costs sweeps cost=cross_entropy,mse,softmax_cross_entropy; without -m this is one run of "
        "its fixed settings: add -m to run the sweep")
    plain = new_store.cli(*FAST, "tracking.figures=false")
    assert plain.returncode == 0 and "note:" not in plain.stderr, plain.stderr


def test_tracking_every_records_every_nth_epoch_and_the_last(new_store):
    """tracking.every=4 over 10 epochs: steps 0, 4, 8 and the last, 10, whose values describe the final weights."""
    result = new_store.cli(*FAST, "optimizer.epochs=10", "tracking.every=4")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    for key in PER_EPOCH:
        assert [step for step, _ in history(new_store, run.info.run_id, key)] == [0, 4, 8, 10], key
    Theta = load_weights(new_store, run.info.run_id)
    setup = prepare(run_config(new_store, run.info.run_id))
    assert setup.objective.value(Theta) == pytest.approx(run.data.metrics["train_cost"], abs=1e-9)
    assert run.data.metrics["epochs_per_second"] > 0


def test_the_zero_init_preset_shows_identical_hidden_units_and_a_network_that_learns_like_one(new_store):
    """What conf/experiment/zero_init.yaml and the README promise, on the real digits run."""
    result = new_store.cli("+experiment=zero_init", "tracking.progress=off", "tracking.figures=false")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    assert run.data.params["optimizer.epochs"] == "100"
    assert run.data.metrics["hidden_weight_spread"] < 1e-3  # identical up to rounding (3e-5 here)
    assert run.data.metrics["test_accuracy"] < 0.2  # one effective hidden unit: about chance over 10 digits
    Theta1 = load_weights(new_store, run.info.run_id)[0]
    np.testing.assert_allclose(Theta1, np.broadcast_to(Theta1[0], Theta1.shape), atol=1e-3)


@pytest.mark.parametrize("optimizer", ["sgd", "lbfgs"])
def test_early_stopping_ends_a_finished_run_patience_epochs_after_its_best_validation_cost(new_store, optimizer):
    """Digits without lambda overfit: val_cost turns up, and the run stops (sgd: per-epoch kernels;
    lbfgs: inside scipy's callback), keeping the weights its last metrics describe."""
    result = new_store.cli(f"optimizer={optimizer}", "optimizer.epochs=100", "regularization.lam=0",
                           "early_stopping.patience=5", "tracking.progress=off", "tracking.figures=false")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    unit = "iteration" if optimizer == "lbfgs" else "epoch"
    assert run.info.status == "FINISHED" and f"(stopped early at {unit}" in result.stdout.splitlines()[0]
    val_cost = history(new_store, run.info.run_id, "val_cost")
    stop, best = val_cost[-1][0], int(run.data.metrics["best_epoch"])
    assert stop == best + 5 < 100 and [step for step, _ in val_cost] == list(range(stop + 1))
    assert run.data.metrics["best_val_cost"] == min(value for _, value in val_cost) == dict(val_cost)[best]
    assert run.data.tags["stopped_early"].startswith(f"stopped early at {unit} {stop}: val_cost has not improved")
    assert history(new_store, run.info.run_id, "gradcheck_rel_error")[-1][0] == stop  # checked at the end
    Theta = load_weights(new_store, run.info.run_id)
    setup = prepare(run_config(new_store, run.info.run_id))
    splits = setup.splits
    val_objective = NetworkObjective(splits.val.X, one_hot(splits.val.y, 10), setup.objective.activation,
                                     setup.objective.cost, NoRegularization())
    assert val_objective.value(Theta) == pytest.approx(val_cost[-1][1], abs=1e-12)  # the weights at the stop


@pytest.mark.parametrize("patience", [5, 0])
def test_restore_best_ends_with_the_weights_of_the_lowest_validation_cost(new_store, patience):
    """Digits without lambda overfit. With patience the run stops 5 iterations past its best, without it
    trains on until L-BFGS ends (31 iterations, its best 14); either way it ends with the best iteration's
    weights, their metrics logged one step past the last, so the last logged values describe them."""
    result = new_store.cli("optimizer.epochs=40", "regularization.lam=0", f"early_stopping.patience={patience}",
                           "early_stopping.restore_best=true", "tracking.progress=off", "tracking.figures=false")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    run_id, metrics = run.info.run_id, run.data.metrics
    val_cost = history(new_store, run_id, "val_cost")
    *trained, (restored_step, restored_value) = val_cost
    best = min(range(len(trained)), key=lambda i: trained[i][1])
    last = best + 5 if patience else trained[-1][0]
    assert last >= best + 5 and [step for step, _ in trained] == list(range(last + 1)) and restored_step == last + 1
    assert metrics["restored_epoch"] == metrics["best_epoch"] == best < last
    assert restored_value == trained[best][1] == metrics["best_val_cost"] == metrics["val_cost"]
    assert history(new_store, run_id, "train_cost")[-1] == (last + 1, history(new_store, run_id, "train_cost")[best][1])
    restored = f"restored the weights of epoch {best}, its val_cost {restored_value:.4g} the best"
    assert run.data.tags["restored"] == restored
    assert ("stopped_early" in run.data.tags) == bool(patience)
    assert f"restored the weights of epoch {best}" in result.stdout.splitlines()[0]
    Theta = load_weights(new_store, run_id)
    setup = prepare(run_config(new_store, run_id))
    splits, g, cost = setup.splits, setup.objective.activation, setup.objective.cost
    val_objective = NetworkObjective(splits.val.X, one_hot(splits.val.y, 10), g, cost, NoRegularization())
    assert val_objective.value(Theta) == pytest.approx(restored_value, abs=1e-12)
    assert metrics["test_accuracy"] == accuracy(Theta, splits.test.X, splits.test.y, g, cost)


def test_layer_stats_record_each_layers_gradient_and_weights_and_leave_training_unchanged(new_store):
    """One sweep: each optimizer with and without tracking.layer_stats. The extra gradient must not
    disturb the optimizer's buffers: the same costs, bitwise; the last values are those of the saved weights."""
    overrides = [o for o in FAST if not o.startswith("optimizer")]
    result = new_store.cli("-m", *overrides, "architecture.hidden=[5,4]", "optimizer=batch_gd,sgd,lbfgs",
                           "tracking.layer_stats=false,true")
    assert result.returncode == 0, result.stderr[-3000:]
    runs = {(run.data.params["optimizer._target_"], run.data.params["tracking.layer_stats"]): run
            for run in new_store.runs() if run.data.tags.get("sweep.role") != "parent"}
    assert len(runs) == 6
    for (optimizer, layer_stats), run in runs.items():
        keys = {key for key in run.data.metrics if key.startswith(("grad_rms_", "weight_rms_"))}
        if layer_stats == "False":
            assert not keys
            continue
        assert keys == {f"{kind}_rms_Theta{l}" for kind in ("grad", "weight") for l in (1, 2, 3)}
        plain = runs[optimizer, "False"].info.run_id
        assert history(new_store, run.info.run_id, "train_cost") == history(new_store, plain, "train_cost")
        steps = [step for step, _ in history(new_store, run.info.run_id, "grad_rms_Theta1")]
        assert steps == [step for step, _ in history(new_store, run.info.run_id, "train_cost")]
        Theta = load_weights(new_store, run.info.run_id)
        _, D = prepare(run_config(new_store, run.info.run_id)).objective.value_and_gradient(Theta)
        for l in (1, 2, 3):
            T, D_l = Theta[l - 1], D[l - 1]
            assert run.data.metrics[f"grad_rms_Theta{l}"] == pytest.approx(np.sqrt(np.mean(D_l ** 2)), rel=1e-12)
            assert run.data.metrics[f"weight_rms_Theta{l}"] == pytest.approx(np.sqrt(np.mean(T ** 2)), rel=1e-12)
        assert "layer_stats.png" in artifact_paths(new_store, run.info.run_id)


def test_the_cost_path_runs_from_the_logged_start_to_the_logged_end(new_store):
    """cost_path.csv at t = 0 and t = 1 holds the train_cost and val_cost the run logged at its first and last
    epochs (computed there by the recorder, here along the line), and the figure is uploaded."""
    result = new_store.cli(*FAST, "tracking.cost_path=true")
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = new_store.runs()
    path = pd.read_csv(new_store.download(run.info.run_id, "cost_path.csv"))
    assert list(path.columns) == ["t", "train_cost", "val_cost"] and len(path) == 61
    for key in ("train_cost", "val_cost"):
        logged = history(new_store, run.info.run_id, key)
        assert path.loc[path["t"] == 0, key].item() == pytest.approx(logged[0][1], rel=1e-9)
        assert path.loc[path["t"] == 1, key].item() == pytest.approx(logged[-1][1], rel=1e-9)
    assert {"cost_path.csv", "cost_path.png"} <= artifact_paths(new_store, run.info.run_id)


def test_regions_over_training_show_the_networks_of_epoch_0_the_powers_of_two_and_the_last(new_store, monkeypatch):
    """Each panel classifies as the same network retrained independently for that many epochs does."""
    from conftest import resolved_config
    from plugins.optimizers import BatchGD
    from runner import plane_plots
    from runner.experiment import run_experiment

    for key, value in new_store.env().items():
        monkeypatch.setenv(key, value)
    drawn = []
    draw = plane_plots.regions_over_training
    monkeypatch.setattr(plane_plots, "regions_over_training",
                        lambda panels, *args: drawn.append(panels) or draw(panels, *args))
    config = resolved_config(*FAST, "optimizer.epochs=13")
    outcome = run_experiment(config, new_store.root / "run")
    assert outcome.status == "FINISHED" and "regions_over_training.png" in artifact_paths(new_store, outcome.run_id)
    (panels,) = drawn
    assert [epoch for epoch, _ in panels] == [0, 1, 2, 4, 8, 13]
    setup = prepare(config)
    X, g, cost = setup.splits.train.X, setup.objective.activation, setup.objective.cost
    for epoch, classify in panels:
        weights = BatchGD(lr=1, epochs=epoch).minimize(setup.objective, setup.Theta0, None, lambda e, T: None)
        np.testing.assert_array_equal(classify(X), predict(weights, X, g, cost))
    assert not np.array_equal(panels[0][1](X), panels[-1][1](X))  # the network changed as it trained


def test_a_decaying_learning_rate_is_logged_as_lr_at_each_recorded_epoch(new_store):
    result = new_store.cli(*FAST, "optimizer.lr_decay=0.5", "tracking.every=4", "tracking.figures=false")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    assert history(new_store, run.info.run_id, "lr") == [(0, 1.0), (4, 1 / 2.5), (8, 1 / 4.5), (12, 1 / 6.5)]
    plain = new_store.cli(*FAST, "tracking.figures=false")
    assert plain.returncode == 0 and "lr" not in new_store.runs()[-1].data.metrics  # constant: nothing to chart
    steps = new_store.cli(*FAST, "optimizer=minibatch", "optimizer.batch_size=20", "optimizer.lr_decay=0.5",
                          "optimizer.lr_decay_per=step", "tracking.every=4", "tracking.figures=false")
    assert steps.returncode == 0, steps.stderr
    m = 60  # moons' 100 samples, 20 for validation and 20 for test: 3 steps an epoch
    assert history(new_store, new_store.runs()[-1].info.run_id, "lr") == [
        (0, 1.0), *((t, 1 / (1 + 0.5 * (t * m // 20 - 1))) for t in (4, 8, 12))]  # each epoch's last step


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_minibatch_with_batch_size_null_trains_on_the_whole_batch_like_batch_gd(new_store, backend):
    """batch_size null is the whole batch (as for momentum and adam): a run that FINISHED with batch_gd's
    metrics, where it crashed with a TypeError's traceback before."""
    quiet = (*FAST, "tracking.figures=false")
    result = new_store.cli(*quiet, "optimizer=minibatch", "optimizer.batch_size=null", "optimizer.lr=1",
                           "optimizer.epochs=12", f"optimizer.backend={backend}")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert new_store.cli(*quiet).returncode == 0
    minibatch, batch_gd = new_store.runs()
    assert minibatch.info.status == "FINISHED" and minibatch.data.params["optimizer.batch_size"] == "None"
    assert history(new_store, minibatch.info.run_id, "train_cost") == history(new_store, batch_gd.info.run_id,
                                                                              "train_cost")


def test_digits_without_a_validation_split(new_store):
    """An image dataset adds hidden_weights.png and misclassified.png; val_fraction=0 leaves the val metrics out."""
    result = new_store.cli("dataset=digits", "dataset.val_fraction=0", "optimizer=cg", "optimizer.epochs=10",
                           "architecture.hidden=[10]", "tracking.progress=off")
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    assert run.info.status == "FINISHED"
    assert {"hidden_weights.png", "misclassified.png"} <= artifact_paths(new_store, run.info.run_id)
    assert not {"decision_regions.png", "regions_over_training.png"} & artifact_paths(new_store, run.info.run_id)
    assert {"train_cost", "train_accuracy", "test_accuracy", "gradcheck_rel_error"} <= set(run.data.metrics)
    assert not {"val_cost", "val_accuracy"} & set(run.data.metrics)
    assert re.search(r"val -\s", result.stdout)


def test_tracking_figures_false_draws_no_figure_and_never_imports_matplotlib(new_store):
    """The same artifacts less the PNGs, in the run folder and the store; the process never
    imports matplotlib (what figures=false spares a sweep of short runs)."""
    code = ("import sys\n"
            "from runner.__main__ import cli\n"
            "code = cli()\n"
            "print('matplotlib imported:', 'matplotlib' in sys.modules)\n"
            "sys.exit(code)\n")
    overrides = ["dataset=moons", "optimizer=batch_gd", "optimizer.epochs=5", "architecture.hidden=[10]",
                 "tracking.progress=off", "tracking.figures=false"]
    result = subprocess.run([sys.executable, "-c", code, *overrides], cwd=new_store.root, env=new_store.env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "matplotlib imported: False" in result.stdout
    (run,) = new_store.runs()
    assert run.info.status == "FINISHED" and run.data.params["tracking.figures"] == "False"
    artifacts = artifact_paths(new_store, run.info.run_id)
    assert {"weights.npz", "config.yaml", "metrics.csv", "confusion_matrix.csv", ".hydra"} <= artifacts
    assert not {"learning_curves.png", "hidden_weights.png", "decision_regions.png", "confusion_matrix.png",
                "misclassified.png", "hidden_units.png", "regions_over_training.png"} & artifacts
    (run_dir,) = {path.parent for path in (new_store.root / "outputs" / "runs").rglob("weights.npz")}
    assert not list(run_dir.glob("*.png"))


@pytest.mark.parametrize("bad, named", [("optimizer=nadam", "nadam"), ("optimizer.lr=abc", "abc")])
def test_user_errors_are_one_line_with_exit_code_2_and_no_run(new_store, bad, named):
    """A bad choice fails while Hydra composes, a bad value when the plugin is built: both the same way."""
    result = new_store.cli(*FAST, bad)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0], result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert new_store.runs() == []


PLUGIN = '''
    """An initializer written outside backprop-lab: it uses only the core's interface."""
    from dataclasses import dataclass, field

    import numpy as np

    from runner.core.network import theta_shapes


    @dataclass
    class ScaledUniform:
        """Theta(l) ~ U[-scale, scale]; the weights it made are saved to `marker` as proof of use."""

        scale: float
        marker: str
        name: str = field(default="scaled_uniform", init=False)

        def __post_init__(self):
            if not (isinstance(self.scale, (int, float)) and self.scale > 0):
                raise ValueError(f"scale={self.scale!r} is invalid; accepted: a number > 0")

        def __call__(self, layer_sizes, rng):
            Theta = [rng.uniform(-self.scale, self.scale, size=shape) for shape in theta_shapes(layer_sizes)]
            np.savez(self.marker, **{f"Theta{l + 1}": T for l, T in enumerate(Theta)})
            return Theta
'''


def test_a_plugin_outside_the_project_is_found_through_the_search_path(new_store, tmp_path, monkeypatch):
    package = tmp_path / "my_blab_plugins"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    marker = tmp_path / "initial_weights.npz"
    (tmp_path / "confs" / "initializer").mkdir(parents=True)
    (tmp_path / "confs" / "initializer" / "scaled_uniform.yaml").write_text(
        f"_target_: my_blab_plugins.ScaledUniform\nscale: 0.05\nmarker: {marker}\n")

    result = new_store.cli(*FAST, f"hydra.searchpath=[file://{tmp_path}/confs]", "initializer=scaled_uniform",
                           PYTHONPATH=str(tmp_path))
    assert result.returncode == 0, result.stderr
    (run,) = new_store.runs()
    assert run.info.status == "FINISHED"
    assert run.data.tags["plugin.initializer"] == run.data.tags["choice.initializer"] == "scaled_uniform"
    assert run.data.params["initializer._target_"] == "my_blab_plugins.ScaledUniform"
    assert run.data.params["initializer.scale"] == "0.05"

    # The plugin's weights were the start: J(Theta0) is the logged cost of epoch 0.
    with np.load(marker, allow_pickle=False) as npz:
        Theta0 = [npz["Theta1"], npz["Theta2"]]
    assert all(np.max(np.abs(T)) <= 0.05 for T in Theta0)
    monkeypatch.syspath_prepend(str(tmp_path))
    setup = prepare(run_config(new_store, run.info.run_id))
    for T, T_run in zip(Theta0, setup.Theta0):
        np.testing.assert_array_equal(T, T_run)  # same seed, same plugin, same weights
    (step, J0), *_ = history(new_store, run.info.run_id, "train_cost")
    assert step == 0 and setup.objective.value(Theta0) == pytest.approx(J0, abs=1e-9)


def test_help_says_what_the_tool_is_how_to_run_and_sweep_and_what_comes_next(new_store):
    result = new_store.cli("--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("backprop-lab: train classic backpropagation networks") and "powered by Hydra" not in text
    assert "python -m runner -m key=a,b,c" in text and "optimizer: adam, batch_gd, cg, lbfgs" in text
    assert "python -m runner.report" in text and "python -m runner.replay RUN_ID" in text
    assert "python -m runner.resume SWEEP_ID" in " ".join(text.split())
    assert f"python -m runner.dashboard --tracking-uri {new_store.uri} (the dashboard of this store)" in text
    assert not new_store.runs()  # help trains nothing and records nothing
    unusable = new_store.cli("--help", MLFLOW_TRACKING_URI="sqlite:///")  # before: Hydra's interpolation error alone
    assert unusable.returncode == 0 and unusable.stdout.startswith("backprop-lab: train"), unusable.stderr
    assert "no dashboard: tracking URI 'sqlite:///' cannot be used (an in-memory SQLite store" in unusable.stdout


@pytest.mark.parametrize("args, words", [
    (["--tracking-uri", "sqlite:////nonexistent/x.db"], "tracking URI 'sqlite:////nonexistent/x.db' names no "
                                                        "existing store (/nonexistent/x.db is missing)"),
    (["--tracking-uri", "http://127.0.0.1:9"], "is a server, whose page is the dashboard; accepted: a database store"),
    (["--port", "0"], "--port 0 is invalid; accepted: a port number from 1 to 65535"),
])
def test_the_dashboard_refuses_what_it_cannot_show_in_one_line(new_store, args, words):
    result = new_store.module("runner.dashboard", *args)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and words in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and not result.stdout


def test_the_dashboard_shows_the_store_from_one_worker_without_mlflow_s_server_jobs(new_store):
    """Before, the printed `mlflow ui` started 4 workers and MLflow's job runner: 15 processes importing MLflow."""
    import json
    import urllib.request

    from conftest import free_port, group_commands, stop_server, wait_for_health

    new_store.client.create_experiment("shown-by-the-dashboard")
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "runner.dashboard", "--port", str(port)], cwd=new_store.root,
                          env=new_store.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", ui, "the dashboard", lambda: ui.communicate())
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=10"
        with urllib.request.urlopen(url, timeout=30) as response:
            names = {e["name"] for e in json.load(response)["experiments"]}
        commands = group_commands(ui.pid)
    finally:
        stop_server(ui)
    stdout = ui.stdout.read()
    assert "shown-by-the-dashboard" in names  # the store of MLFLOW_TRACKING_URI, as the runs recorded into
    assert not any("mlflow.server.jobs" in command for command in commands), commands
    workers = [command for command in commands if "uvicorn" in command]
    assert len(workers) == 1 and "--workers 1" in workers[0], commands
    assert stdout.splitlines()[0] == f"dashboard of {new_store.uri}: http://127.0.0.1:{port} (Ctrl-C stops it)"
