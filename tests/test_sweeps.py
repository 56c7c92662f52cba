"""Sweeps end to end: `python -m runner -m ...` in a subprocess, read back with the MLflow client.

A sweep is one parent run (made by runner.sweep.SweepCallback before the first job) and one
child run per job; the tests check that nothing is lost with parallel workers, a store that
does not exist yet, a job that diverges, Optuna, and a real `mlflow server`.
"""
from __future__ import annotations

import itertools
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from mlflow.tracking import MlflowClient
from omegaconf import OmegaConf

import runner.app  # noqa: F401  (registers the resolvers conf/config.yaml uses)
from conftest import FAST, PROJECT_ROOT, Store, multirun_config


# FAST without its optimizer, for sweeps that choose it: moons, 100 points, a 2-5-1 network.
BASE = tuple(o for o in FAST if not o.startswith("optimizer"))
JOBLIB = ("hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
PER_EPOCH = ("train_cost", "val_cost", "train_accuracy", "val_accuracy")


def started(result: subprocess.CompletedProcess) -> tuple[str, str]:
    """(sweep id, parent run id), as the sweep printed them before its first job."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    match = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE)
    assert match, result.stdout
    return match.group(1), match.group(2)


def children(client, parent_run_id: str) -> list:
    """The child runs of a parent, in the order their jobs started."""
    ids = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(ids, f"tags.`mlflow.parentRunId` = '{parent_run_id}'")
    return sorted(runs, key=lambda run: run.info.start_time)


def assert_complete(client, run, epochs: int = 12) -> None:
    """A FINISHED run with every per-epoch metric at every epoch 0..epochs, and its weights."""
    assert run.info.status == "FINISHED", run.data.tags.get("failure_reason")
    for key in PER_EPOCH:
        steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, key))
        assert steps == list(range(epochs + 1)), key
    assert "weights.npz" in {a.path for a in client.list_artifacts(run.info.run_id)}


@pytest.fixture(scope="module")
def grid(store):
    """A 2 x 3 grid, optimizer x lambda, with the basic launcher: (sweep id, parent, children)."""
    result = store.cli("-m", *BASE, "optimizer=batch_gd,sgd", "optimizer.epochs=12", "regularization.lam=0,1,3")
    sweep_id, parent_id = started(result)
    return sweep_id, store.client.get_run(parent_id), children(store.client, parent_id), result.stdout


@pytest.mark.slow
def test_each_job_prints_one_line_and_the_sweep_its_summary_with_the_dashboard(store, grid):
    """Hundreds of jobs print hundreds of lines, not a single run's five each."""
    sweep_id, parent, runs, stdout = grid
    lines = re.findall(r"^job (\d) (.+): FINISHED  val_cost (\S+)  test (\S+)  \S+ s  run (\w+)$", stdout, re.MULTILINE)
    assert sorted(int(number) for number, *_ in lines) == list(range(6))
    by_id = {run.info.run_id: run for run in runs}
    for _, name, val_cost, test, run_id in lines:
        run = by_id[run_id]
        assert name == run.info.run_name
        assert float(val_cost) == pytest.approx(run.data.metrics["val_cost"], rel=1e-3)
        assert test == f"{run.data.metrics['test_accuracy']:.4f}"
    assert "accuracy   train" not in stdout and stdout.count("python -m runner.dashboard") == 1
    assert f"  dashboard: python -m runner.dashboard --tracking-uri {store.uri}" in stdout
    note = parent.data.tags["mlflow.note.content"]  # the parent's description in the dashboard: the summary
    assert f"sweep {sweep_id}: 6 of 6 jobs recorded (6 FINISHED)" in note and "best val_cost" in note


@pytest.mark.slow
def test_a_grid_sweep_is_one_parent_with_a_child_run_per_job(store, grid):
    sweep_id, parent, runs, _ = grid
    expected = {f"optimizer={o} regularization.lam={lam}" for o, lam in itertools.product(("batch_gd", "sgd"),
                                                                                           (0, 1, 3))}
    assert sorted(run.info.run_name for run in runs) == sorted(expected)
    for run in runs:
        assert_complete(store.client, run)
        assert run.data.tags["sweep.id"] == sweep_id
        assert run.data.tags["sweep.job_overrides"] == run.info.run_name
    assert parent.info.status == "FINISHED"
    assert "mlflow.parentRunId" not in parent.data.tags
    assert parent.info.run_name == "sweep optimizer=batch_gd,sgd regularization.lam=0,1,3"
    assert parent.data.tags["sweep.id"] == sweep_id
    assert "optimizer=batch_gd,sgd" in parent.data.tags["sweep.overrides"]
    assert parent.data.tags["sweep.objective"] == "val_cost" and parent.data.tags["sweep.direction"] == "minimize"
    assert parent.data.tags["mlflow.source.name"] == "python -m runner -m"  # the dashboard's Source column


@pytest.mark.slow
def test_the_parent_holds_the_summary_and_the_best_job(grid):
    _, parent, runs, _ = grid
    metrics, params, tags = parent.data.metrics, parent.data.params, parent.data.tags
    counts = [metrics[f"jobs{suffix}"] for suffix in ("", "_launched", "_finished", "_failed")]
    assert counts == [6, 6, 6, 0]
    best = min(runs, key=lambda run: run.data.metrics["val_cost"])
    assert metrics["best_val_cost"] == pytest.approx(best.data.metrics["val_cost"])
    assert tags["best.run_id"] == best.info.run_id
    assert f"optimizer={params['best.optimizer']} regularization.lam={params['best.regularization.lam']}" \
        == best.info.run_name


@pytest.mark.slow
def test_parallel_jobs_into_a_store_that_does_not_exist_yet_lose_nothing(tmp_path):
    """Two joblib workers, four jobs, a store created by the sweep itself; three times, a fresh store each."""
    for attempt in range(3):
        fresh = Store(tmp_path / f"fresh{attempt}")
        fresh.root.mkdir()
        assert not (fresh.root / "mlflow.db").exists()
        result = fresh.cli("-m", *JOBLIB, *FAST, "regularization.lam=0,1,2,3")
        _, parent_id = started(result)
        assert "database is locked" not in result.stderr
        runs = children(fresh.client, parent_id)
        assert sorted(run.info.run_name for run in runs) == [f"regularization.lam={lam}" for lam in range(4)]
        for run in runs:
            assert_complete(fresh.client, run)
            assert run.data.tags["blas_threads"].startswith("1 ")  # what was in force, e.g. '1 (auto: ...)'
        parent = fresh.client.get_run(parent_id)
        assert parent.info.status == "FINISHED" and parent.data.metrics["jobs_finished"] == 4
        assert len(fresh.runs()) == 5  # the parent and its four jobs, nothing else


def compose(*overrides: str, hydra: bool = True):
    """The config `python -m runner -m OVERRIDES` would compose, with Hydra's own part (unresolved) or not."""
    with initialize_config_dir(config_dir=str(PROJECT_ROOT / "conf"), version_base="1.3"):
        return hydra_compose(config_name="config", overrides=list(overrides), return_hydra_config=hydra)


@pytest.mark.parametrize("objective, direction", [("val_cost", "minimize"), ("val_accuracy", "maximize")])
def test_the_optuna_preset_searches_four_values_in_the_objectives_direction(objective, direction):
    cfg = compose("+experiment=optuna_search", f"tracking.objective={objective}")
    assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert cfg.hydra.sweeper.direction == direction
    assert set(cfg.hydra.sweeper.params) == {"optimizer", "optimizer.lr", "regularization.lam",
                                             "architecture.hidden.0"}
    assert "sweep" in cfg.hydra.callbacks


def test_every_value_of_the_optuna_search_space_instantiates():
    """Each choice, and both ends of each interval, appear in one of a few configs built and validated."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from runner.setup import prepare

    params = compose("+experiment=optuna_search").hydra.sweeper.params
    space = {}
    for override in OverridesParser.create().parse_overrides([f"{k}={v}" for k, v in params.items()]):
        value = override.value()
        space[override.key_or_group] = list(value.list) if override.is_choice_sweep() else [value.start, value.end]
    for i in range(max(len(values) for values in space.values())):
        chosen = [f"{key}={values[i % len(values)]}" for key, values in space.items()]
        config = OmegaConf.to_container(compose(*BASE, *chosen, hydra=False), resolve=True)
        plugins = prepare(config).plugins
        assert plugins["optimizer"].name == space["optimizer"][i % 3]


def test_the_boundaries_preset_sweeps_hidden_units_and_lambda_on_two_features():
    """Every job of the 3 x 3 grid composes into a 2-h-1 network on the spirals, so each draws
    decision_regions.png and the report lays the nine out as a grid."""
    from runner.setup import prepare

    params = compose("+experiment=boundaries").hydra.sweeper.params
    assert dict(params) == {"architecture.hidden": "[2],[8],[32]", "regularization.lam": "0,0.1,1"}
    for hidden, lam in itertools.product((2, 8, 32), (0, 0.1, 1)):
        config = OmegaConf.to_container(compose("+experiment=boundaries", f"architecture.hidden=[{hidden}]",
                                                f"regularization.lam={lam}", hydra=False), resolve=True)
        setup = prepare(config)
        assert setup.layer_sizes == [2, hidden, 1] and setup.splits.n_features == 2
        assert setup.plugins["optimizer"].name == "lbfgs" and setup.plugins["regularization"].lam == lam


def test_the_initializers_preset_sweeps_every_initializer():
    from runner.setup import prepare

    params = compose("+experiment=initializers").hydra.sweeper.params
    choices = params["initializer"].split(",")
    assert sorted(choices) == sorted(path.stem for path in (PROJECT_ROOT / "conf" / "initializer").glob("*.yaml")
                                     if path.stem != "from_file")  # from_file needs a path of one's own
    for choice in choices:
        config = OmegaConf.to_container(compose("+experiment=initializers", f"initializer={choice}", hydra=False),
                                        resolve=True)
        setup = prepare(config)
        assert setup.plugins["initializer"].name == choice and setup.plugins["optimizer"].epochs == 100


def test_the_learning_curve_preset_trains_on_growing_parts_of_the_same_training_set():
    from runner.setup import prepare

    params = compose("+experiment=learning_curve").hydra.sweeper.params
    sizes = [int(size) for size in params["dataset.train_size"].split(",")]
    assert sizes == sorted(sizes) and sizes[0] == 10 and params["regularization.lam"] == "0,1"
    parts = []
    for size in (sizes[0], sizes[-1]):
        config = OmegaConf.to_container(compose("+experiment=learning_curve", f"dataset.train_size={size}",
                                                hydra=False), resolve=True)
        setup = prepare(config)
        assert setup.splits.train.m == size and setup.layer_sizes == [64, 25, 10]
        parts.append(setup.splits)
    assert parts[0].val.m == parts[1].val.m == 359  # the same validation part for every size


@pytest.mark.slow
def test_the_learning_curve_preset_shows_variance_without_lambda_and_a_closing_gap_with_it(new_store):
    """What conf/experiment/learning_curve.yaml and the README promise, on the real 16 jobs."""
    result = new_store.cli("-m", "+experiment=learning_curve", "tracking.progress=off", "tracking.figures=false")
    _, parent = started(result)
    runs = children(new_store.client, parent)
    curves = {}
    for run in runs:
        assert run.info.status == "FINISHED"
        key = (float(run.data.params["regularization.lam"]), int(run.data.params["dataset.train_size"]))
        curves[key] = run.data.metrics["train_data_cost"], run.data.metrics["val_cost"]
    assert len(curves) == 16
    unregularized = [curves[0.0, m] for m in (10, 20, 40, 80, 160, 320, 640, 1000)]
    assert all(train < 1e-3 for train, _ in unregularized)  # every training set fitted: the gap is variance
    assert unregularized[-1][1] < unregularized[0][1] / 4
    gap = {m: curves[1.0, m][1] - curves[1.0, m][0] for m in (10, 1000)}
    assert gap[1000] < gap[10] / 10 and curves[1.0, 1000][1] < unregularized[-1][1]


@pytest.mark.slow
def test_the_vanishing_gradients_preset_shows_sigmoids_first_layer_starved(new_store):
    """What conf/experiment/vanishing_gradients.yaml and the README promise, on the real 3 jobs."""
    result = new_store.cli("-m", "+experiment=vanishing_gradients", "tracking.progress=off", "tracking.figures=false")
    _, parent = started(result)
    runs = {run.data.params["architecture.activation"]: run for run in children(new_store.client, parent)}
    assert sorted(runs) == ["relu", "sigmoid", "tanh"]
    for activation, run in runs.items():
        first, last = (new_store.client.get_metric_history(run.info.run_id, f"grad_rms_Theta{l}")[0] for l in (1, 5))
        assert first.step == last.step == 0
        ratio, test_accuracy = last.value / first.value, run.data.metrics["test_accuracy"]
        if activation == "sigmoid":
            assert ratio > 300 and test_accuracy < 0.5, (ratio, test_accuracy)  # 1150 and 0.21 here
        else:
            assert ratio < 30 and test_accuracy > 0.9, (activation, ratio, test_accuracy)  # about 8, 0.96


def test_the_optimizers_and_costs_presets_sweep_every_option_on_the_digits():
    from runner.setup import prepare

    for preset, group in (("optimizers", "optimizer"), ("costs", "cost")):
        choices = compose(f"+experiment={preset}").hydra.sweeper.params[group].split(",")
        assert sorted(choices) == sorted(path.stem for path in (PROJECT_ROOT / "conf" / group).glob("*.yaml"))
        for choice in choices:
            setup = prepare(OmegaConf.to_container(compose(f"+experiment={preset}", f"{group}={choice}", hydra=False),
                                                   resolve=True))
            assert setup.layer_sizes == [64, 25, 10] and setup.plugins[group].name == choice
    costs = compose("+experiment=costs", "cost=mse", hydra=False)
    assert costs.tracking.objective == "val_accuracy" and costs.optimizer.epochs == 300


@pytest.mark.slow
def test_the_costs_preset_shows_the_squared_error_learning_slower(new_store):
    """What conf/experiment/costs.yaml and the README promise: with sigmoid outputs, mse lags."""
    _, parent = started(new_store.cli("-m", "+experiment=costs", "tracking.progress=off", "tracking.figures=false"))
    at_30 = {}
    for run in children(new_store.client, parent):
        history = {m.step: m.value for m in new_store.client.get_metric_history(run.info.run_id, "val_accuracy")}
        at_30[run.data.tags["choice.cost"]] = history[30]
    assert at_30["mse"] < min(at_30["cross_entropy"], at_30["softmax_cross_entropy"]) - 0.1, at_30  # 0.78, 0.94


@pytest.mark.slow
def test_the_optimizers_preset_reaches_the_same_validation_cost_lbfgs_the_lowest_j(new_store):
    result = new_store.cli("-m", "+experiment=optimizers", "tracking.progress=off", "tracking.figures=false")
    _, parent = started(result)
    runs = {run.data.tags["choice.optimizer"]: run.data.metrics for run in children(new_store.client, parent)}
    assert len(runs) == 7 and all(m["val_cost"] < 0.3 for m in runs.values())  # 0.270 to 0.282
    assert min(runs, key=lambda name: runs[name]["train_cost"]) == "lbfgs"


@pytest.mark.slow
def test_the_lr_decay_preset_shows_decayed_sgd_settling_near_the_minimum_of_j(new_store):
    """What conf/experiment/lr_decay.yaml and the README promise: with lr = 1 held constant, per-sample SGD
    ends far above J's minimum (L-BFGS: 0.3212); decayed by lr_decay = 0.1 it ends close to it."""
    result = new_store.cli("-m", "+experiment=lr_decay", "optimizer.lr_decay=0,0.1", "tracking.progress=off",
                           "tracking.figures=false")
    _, parent = started(result)
    final = {float(run.data.params["optimizer.lr_decay"]): run.data.metrics["train_cost"]
             for run in children(new_store.client, parent)}
    assert final[0.0] > 1.0 and final[0.1] < 0.36, final  # 1.70 and 0.347


@pytest.mark.slow
def test_the_batch_sizes_preset_shows_small_batches_ahead_after_the_same_epochs(new_store):
    """What conf/experiment/batch_sizes.yaml and the README promise: after 30 epochs at lr 0.5, batches of 8
    stand far lower than full-batch steps (1079: one step an epoch), and single samples are the noisiest."""
    result = new_store.cli("-m", "+experiment=batch_sizes", "optimizer.batch_size=1,8,1079", "tracking.progress=off",
                           "tracking.figures=false")
    _, parent = started(result)
    final = {int(run.data.params["optimizer.batch_size"]): run.data.metrics["train_cost"]
             for run in children(new_store.client, parent)}
    assert final[8] < final[1] < final[1079] and final[1079] > 4 * final[8], final  # 0.35, 0.64, 1.87


@pytest.mark.slow
def test_the_learning_curve_preset_with_two_hidden_units_shows_high_bias(new_store):
    """Both errors meet high: the README's example of bias (lambda 1, the sizes on the command line win)."""
    result = new_store.cli("-m", "+experiment=learning_curve", "architecture.hidden=[2]", "regularization.lam=1",
                           "dataset.train_size=160,1000", "tracking.progress=off", "tracking.figures=false")
    _, parent = started(result)
    costs = {int(run.data.params["dataset.train_size"]): (run.data.metrics["train_data_cost"],
                                                          run.data.metrics["val_cost"])
             for run in children(new_store.client, parent)}
    assert sorted(costs) == [160, 1000]
    train, val = costs[1000]
    assert train > 1.5 and val - train < 0.2, costs  # 1.92 and 2.05; 25 units: 0.11 and 0.28


def test_the_lambda_preset_and_the_slurm_launcher_compose():
    assert compose("+experiment=lambda_sweep").hydra.sweeper.params["regularization.lam"].startswith("0,0.001,")
    launcher = compose("hydra/launcher=submitit_slurm").hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher.cpus_per_task == 1


def test_blas_threads_is_one_under_a_parallel_launcher_unless_set():
    from runner.errors import UserError
    from runner.jobs import blas_threads

    joblib = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
    assert blas_threads({}, joblib) == 1
    assert blas_threads({"blas_threads": "auto"}, "hydra._internal.core_plugins.basic_launcher.BasicLauncher") is None
    assert blas_threads({"blas_threads": 2}, joblib) == 2
    for bad in ({"blas_threads": 0}, {"blas_threads": "one"}, {"threads": 1}):
        with pytest.raises(UserError, match="workers"):
            blas_threads(bad, joblib)


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_a_job_that_diverges_fails_and_the_sweep_goes_on(store, launcher):
    overrides = (*(o for o in FAST if not o.startswith("optimizer.lr")), "optimizer.lr=0.5,1e6")
    result = store.cli("-m", f"hydra/launcher={launcher}", *overrides)
    _, parent_id = started(result)
    good, diverged = sorted(children(store.client, parent_id), key=lambda run: float(run.data.params["optimizer.lr"]))
    assert_complete(store.client, good)
    assert diverged.info.status == "FAILED"
    assert diverged.data.tags["diverged"] == "true"
    assert "diverged" in diverged.data.tags["failure_reason"]
    assert (diverged.info.run_name, diverged.data.params["optimizer.lr"]) == ("optimizer.lr=1000000", "1000000")
    parent = store.client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert (parent.data.metrics["jobs_finished"], parent.data.metrics["jobs_failed"]) == (1, 1)
    assert parent.data.tags["best.run_id"] == good.info.run_id


@pytest.mark.parametrize("bad, message", [
    (["optimizer.lr=0.5,-1,0.3"], "optimizer.lr=-1 is invalid; accepted: a number > 0"),
    (["architecture.hidden=[5],[0]"], "architecture.hidden=[0] is invalid"),
    (["+optimizer.foo=1,2"], "unknown key optimizer.foo for plugins.optimizers.BatchGD"),
    (["seed=0,1", "dataset=csv", "dataset.target=label", "dataset.path=missing.csv"],
     "dataset.path='missing.csv' is invalid; accepted: the path of an existing CSV file"),
])
def test_a_bad_swept_value_stops_the_sweep_before_its_parent_run(new_store, bad, message):
    """Before, the sweep ran the jobs before the bad value's, then stopped at it with a FAILED parent and a resume
    command that would stop there again; now the values are checked before anything is made."""
    keys = {override.split("=")[0].lstrip("+~") for override in bad}  # FAST's own of them, and under them, left out
    kept = [o for o in FAST if not any(o.split("=")[0] == k or o.startswith(k + ".") for k in keys)]
    result = new_store.cli("-m", *kept, *bad)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.startswith(f"error: {message}") and len(result.stderr.strip().splitlines()) == 1, \
        result.stderr
    assert "parent run" not in result.stdout and new_store.runs() == []


def test_a_job_that_fails_a_check_on_its_data_stops_the_sweep_in_one_line_keeping_the_jobs_done(store):
    """What needs the data (a batch larger than the training part) is checked by the job itself."""
    overrides = (*(o for o in FAST if not o.startswith("optimizer=")), "optimizer=minibatch",
                 "optimizer.batch_size=8,5000,16")
    result = store.cli("-m", *overrides)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip() == ("error: optimizer.batch_size=5000 is invalid; accepted: an integer from 1 to the "
                                     "training-set size m = 60")
    parent_id = re.search(r"^sweep \S+: parent run (\w+)", result.stdout, re.MULTILINE).group(1)
    parent = store.client.get_run(parent_id)
    assert parent.info.status == "FAILED" and parent.data.metrics["jobs_finished"] == 1
    [done] = children(store.client, parent_id)  # the bad job made no run, and the third never started
    assert done.info.status == "FINISHED" and done.data.params["optimizer.batch_size"] == "8"


@pytest.mark.slow
def test_a_sweep_whose_every_job_fails_exits_1_with_its_parent_failed(store):
    overrides = (*(o for o in FAST if not o.startswith("optimizer.lr")), "optimizer.lr=1e6,2e6")
    result = store.cli("-m", *overrides)
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1] == "error: none of the sweep's 2 jobs finished; its parent run ended FAILED"
    parent_id = re.search(r"^sweep \S+: parent run (\w+)", result.stdout, re.MULTILINE).group(1)
    assert store.client.get_run(parent_id).info.status == "FAILED"
    assert {run.info.status for run in children(store.client, parent_id)} == {"FAILED"}


@pytest.mark.slow
def test_an_optuna_study_logs_its_best_trial_on_the_parent(store, tmp_path):
    result = store.cli("-m", "hydra/sweeper=optuna", "+experiment=optuna_search", "hydra.sweeper.n_trials=3",
                       *BASE, "optimizer.epochs=12", "tracking.objective=val_accuracy")
    _, parent_id = started(result)
    assert "Directions: ['maximize']" in result.stdout + result.stderr
    runs = children(store.client, parent_id)
    assert len(runs) == 3
    parent = store.client.get_run(parent_id)
    study = yaml.safe_load(store.download(parent_id, "optimization_results.yaml").read_text())
    assert set(study["best_params"]) == {"optimizer", "optimizer.lr", "regularization.lam", "architecture.hidden.0"}
    assert {k: str(v) for k, v in study["best_params"].items()} == \
        {k.removeprefix("best."): v for k, v in parent.data.params.items()}
    assert parent.data.metrics["best_val_accuracy"] == pytest.approx(study["best_value"])
    assert parent.data.metrics["best_val_accuracy"] == max(run.data.metrics["val_accuracy"] for run in runs)
    assert parent.data.tags["sweep.direction"] == "maximize"
    assert f"best val_accuracy {study['best_value']:.6g}" in result.stdout
    report = store.module("runner.report", "--sweep", parent_id)
    assert report.returncode == 0, report.stderr
    logged = {a.path for a in store.client.list_artifacts(parent_id, "report")}
    assert "report/search_history.png" in logged  # a search's course; a grid sweep's report has none
    assert store.download(parent_id, "report/search_history.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_a_parallel_sweep_against_an_mlflow_server(tmp_path, mlflow_server):
    local = Store(tmp_path / "client")
    local.root.mkdir()
    result = local.cli("-m", *FAST, "regularization.lam=0,1,2,3", MLFLOW_TRACKING_URI=mlflow_server)
    _, parent_id = started(result)
    client = MlflowClient(tracking_uri=mlflow_server)
    runs = children(client, parent_id)
    assert len(runs) == 4
    for run in runs:
        assert_complete(client, run)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    assert client.get_run(parent_id).data.metrics["jobs_finished"] == 4
    assert not (local.root / "mlflow.db").exists()  # everything went to the server
    assert len(list((tmp_path / "server" / "served").glob("**/weights.npz"))) == 4
    assert "View run" not in result.stdout and "View experiment" not in result.stdout  # MLflow's two links per job


def test_a_sweep_whose_store_cannot_be_reached_stops_before_its_first_job_in_one_line(tmp_path):
    """Hydra turns an exception in a callback into a warning; the sweep's callback exits instead."""
    store = Store(tmp_path)
    result = store.cli("-m", *FAST, "regularization.lam=0,1", MLFLOW_TRACKING_URI="http://127.0.0.1:9")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: tracking URI 'http://127.0.0.1:9' cannot be reached ([Errno 111] Connection refused); "
        "accepted: a running MLflow server (start one with `mlflow server`)"]
    assert list((tmp_path / "outputs" / "sweeps").glob("*/*")) and not list(tmp_path.glob("outputs/sweeps/*/*/0"))


@pytest.mark.slow
@pytest.mark.parametrize("start", ["forkserver", "loky"])
def test_sigterm_stops_a_parallel_sweep_its_jobs_killed_its_parent_failed_no_process_left(new_store, start):
    store = new_store  # its tables made already: the test reads it while the sweep writes
    overrides = (*(o for o in FAST if not o.startswith("optimizer.epochs")), "optimizer.epochs=50000000")
    sweep = subprocess.Popen([sys.executable, "-m", "runner", "-m", *JOBLIB, f"workers.start={start}", *overrides,
                              "regularization.lam=0,1,2"], cwd=store.root, env=store.env(), start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len([r for r in store.runs() if r.info.status == "RUNNING"]) < 3:  # the parent and two jobs
            assert time.monotonic() < deadline and sweep.poll() is None, "the jobs never started"
            time.sleep(0.5)
        sweep.send_signal(signal.SIGTERM)  # to the sweep's own process only, as `kill` does
        _, stderr = sweep.communicate(timeout=120)
    finally:
        sweep.kill()
    assert sweep.returncode == 128 + signal.SIGTERM, stderr[-3000:]  # 143, as a shell reports it
    assert "interrupted by SIGTERM" in stderr
    runs = store.runs()
    (parent,) = [run for run in runs if run.data.tags.get("sweep.role") == "parent"]
    jobs = [run for run in runs if run.data.tags.get("sweep.role") == "job"]
    assert parent.info.status == "FAILED" and parent.data.metrics["jobs_killed"] == len(jobs) == 2
    assert all(run.info.status == "KILLED" for run in jobs)
    deadline = time.monotonic() + 30  # the workers, and the fork server, end with the sweep
    while session_processes(sweep.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert session_processes(sweep.pid) == []


def session_processes(session_id: int) -> list[str]:
    """The processes still alive in a session (those a sweep started with start_new_session)."""
    table = subprocess.run(["ps", "-eo", "sid,stat,args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in table[1:] if line.split()[0] == str(session_id) and not line.split()[1].startswith("Z")]


@pytest.mark.slow
def test_a_job_past_the_launchers_timeout_stops_the_sweep_in_one_line(store):
    overrides = [o for o in FAST if not o.startswith("optimizer.epochs")]
    # 5 s: the jobs must have started their runs by then, also on cores busy with other tests (1 s was not, once)
    result = store.cli("-m", *JOBLIB, "hydra.launcher.timeout=5", *overrides, "optimizer.epochs=1000000", "seed=1,2")
    assert result.returncode == 1, result.stderr[-3000:]
    assert result.stderr.strip() == ("error: a sweep job ran longer than hydra.launcher.timeout; the sweep stopped, "
                                     "its parent run and running jobs ended FAILED and KILLED")
    parent_id = re.search(r"^sweep \S+: parent run (\w+)", result.stdout, re.MULTILINE).group(1)
    assert store.client.get_run(parent_id).info.status == "FAILED"
    jobs = children(store.client, parent_id)
    assert jobs and {run.info.status for run in jobs} == {"KILLED"}


def test_a_job_without_a_validation_part_ranks_after_those_with_one_in_the_sweep_as_in_the_report(new_store):
    """Before, the sweep ranked a job without a validation part by its train_cost under the name val_cost, so its
    best (that job: 0.02 < 10.5) contradicted the report's rank 1; the job's line, too, called 0.02 val_cost."""
    result = new_store.cli("-m", "dataset=iris", "optimizer.epochs=100", "regularization.lam=0",
                           "dataset.val_fraction=0,0.2", "tracking.figures=false")
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(r"^job 0 dataset.val_fraction=0: FINISHED  train_cost \S+  test", result.stdout, re.MULTILINE)
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE).groups()
    (no_val, with_val) = children(new_store.client, parent_id)
    assert no_val.data.metrics["train_cost"] < with_val.data.metrics["val_cost"]  # what fooled the summary
    best = new_store.client.get_run(parent_id).data.tags["best.run_id"]
    assert best == with_val.info.run_id and "best_val_cost" in new_store.client.get_run(parent_id).data.metrics
    report = new_store.module("runner.report", "--sweep", sweep_id)
    assert report.returncode == 0, report.stderr
    ranking = (new_store.root / "outputs" / "reports" / sweep_id / "ranking.csv").read_text().splitlines()
    assert ranking[1].endswith(best)  # rank 1, its run_id last

    alone = new_store.cli("-m", "dataset=iris", "optimizer.epochs=20", "dataset.val_fraction=0",
                          "regularization.lam=0,1", "tracking.figures=false")
    assert re.search(r"^  best train_cost \S+: regularization.lam=", alone.stdout, re.MULTILINE), alone.stdout


def test_a_command_tag_quotes_its_overrides_and_keeps_hydras_own_but_not_the_sweeps():
    from runner.paths import command_line

    hydra = ["hydra.mode=MULTIRUN", "hydra.searchpath=[file:///my confs]", "hydra/launcher=joblib",
             "hydra.launcher.n_jobs=2", "hydra.sweep.dir=/tmp/s", "hydra.run.dir=/tmp/r", "hydra.job.chdir=true"]
    task = ["tracking.experiment=my\\ exp", "seed=1"]
    assert command_line("python -m runner", hydra, task) == \
        "python -m runner 'hydra.searchpath=[file:///my confs]' hydra.job.chdir=true " \
        "'tracking.experiment=my\\ exp' seed=1"
    assert command_line("python -m runner -m", hydra, task, keep_sweep_settings=True) == \
        "python -m runner -m 'hydra.searchpath=[file:///my confs]' hydra/launcher=joblib hydra.launcher.n_jobs=2 " \
        "hydra.sweep.dir=/tmp/s hydra.run.dir=/tmp/r hydra.job.chdir=true 'tracking.experiment=my\\ exp' seed=1"


def test_a_jobs_command_tag_runs_it_again_with_the_users_config_files(new_store, tmp_path):
    """Before, the tag dropped hydra.searchpath (the run again: "Could not find 'initializer/mine'") and did not
    quote a value with a space (`tracking.experiment=my exp`: "missing EQUAL")."""
    import shlex

    (tmp_path / "confs" / "initializer").mkdir(parents=True)
    (tmp_path / "confs" / "initializer" / "mine.yaml").write_text(
        (PROJECT_ROOT / "conf" / "initializer" / "epsilon_uniform.yaml").read_text())
    sweep = new_store.cli("-m", *FAST, f"hydra.searchpath=[file://{tmp_path}/confs]", "initializer=mine",
                          "tracking.experiment=my exp", "seed=0,1")
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    client = new_store.client
    experiment = client.get_experiment_by_name("my exp").experiment_id
    job = next(run for run in client.search_runs([experiment]) if run.data.tags.get("sweep.role") != "parent"
               and run.data.params["seed"] == "1")
    command = shlex.split(job.data.tags["command"])
    assert command[:3] == ["python", "-m", "runner"], command
    again = new_store.cli(*command[3:])
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = max(client.search_runs([experiment]), key=lambda run: run.info.start_time)
    assert rerun.info.run_id != job.info.run_id and rerun.data.tags["config_hash"] == job.data.tags["config_hash"]
    assert rerun.data.metrics["train_cost"] == job.data.metrics["train_cost"]


@pytest.mark.parametrize("overrides, planned", [
    (["seed=0,1", "optimizer=sgd,adam"], 4),
    (["seed=range(0,3)", "regularization.lam=1"], 3),
    (["+experiment=lambda_sweep"], 10),
    (["+experiment=lambda_sweep", "regularization.lam=0,1"], 2),  # the command line's list wins, as in Hydra
    (["+experiment=lambda_sweep", "seed=0,1"], 20),
    (["hydra/sweeper=optuna", "+experiment=optuna_search", "hydra.sweeper.n_trials=7"], 7),
    # GridSampler runs at most its grid (before: 20 planned, and "18 of 20 never launched" after a grid of 2)
    (["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "seed=choice(0,1)", "optimizer.epochs=range(1,4)"], 6),
    (["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "seed=choice(0,1)", "hydra.sweeper.n_trials=1"], 1),
    (["dataset.path=glob(*.csv)", "seed=0,1"], None),  # glob() is expanded by the sweeper, against files
])
def test_a_sweep_knows_how_many_jobs_it_plans(overrides, planned):
    """Before, a sweep stopped at its third of six jobs said "2 of 3 jobs recorded", as if it had run whole."""
    from runner.sweep import planned_jobs

    assert planned_jobs(multirun_config(*overrides)) == planned


@pytest.mark.parametrize("overrides, space", [
    (["seed=0,1", "optimizer=sgd,adam", "regularization.lam=1"], ["seed=0,1", "optimizer=sgd,adam"]),
    (["+experiment=lr_decay"], ["optimizer.lr_decay=0,0.01,0.1,1"]),
    (["+experiment=lr_decay", "optimizer.lr_decay=0.5"], []),  # the command line's value wins, as in Hydra
    (["+experiment=lr_decay", "optimizer.lr_decay=0,1", "seed=0,1"], ["optimizer.lr_decay=0,1", "seed=0,1"]),
])
def test_a_sweeps_space_is_what_its_jobs_sweep(overrides, space):
    """Before, a fixed value on the command line replaced a preset's swept list, and one job ran, but the parent run
    was named after the list and its sweep.space tag held it: the dashboard showed a sweep that never ran."""
    from runner.sweep import swept

    assert swept(multirun_config(*overrides)) == (space, [spec.split("=", 1)[0] for spec in space])


def test_resume_runs_again_only_the_jobs_of_a_stopped_sweep_that_did_not_finish(new_store):
    """A sweep stops at its third job, whose CSV file has no rows yet; after they appear,
    `python -m runner.resume` skips the job that FINISHED, runs the FAILED one again (its earlier run set
    aside as sweep.retried) and the ones that never ran, under the same parent, which then counts each once."""
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    table = "x1,x2,label\n" + "".join(f"{a},{b},{int(a + b > 0)}\n" for a, b in X)
    (new_store.root / "a.csv").write_text(table)
    big = "1000000"  # a learning rate that diverges: the job FAILS again when it runs again; its param's text
    sweep = ("-m", "dataset=csv", "dataset.target=label", "dataset.path=a.csv,b.csv", "optimizer=batch_gd",
             "optimizer.epochs=50", "optimizer.lr=1,1e6", "tracking.progress=off", "tracking.figures=false")
    (new_store.root / "b.csv").write_text("x1,x2,label\n")  # no rows yet: the sweep stops at its job
    stopped = new_store.cli(*sweep)
    assert stopped.returncode == 2 and "dataset.path='b.csv' is invalid" in stopped.stderr, stopped.stderr
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", stopped.stdout, re.MULTILINE).groups()
    assert f"resume: python -m runner.resume {sweep_id}" in stopped.stdout
    assert "2 of 3 jobs recorded (1 FAILED, 1 FINISHED), 1 of 4 never launched; parent run" in stopped.stdout
    client = new_store.client
    first = {(r.data.params["dataset.path"], r.data.params["optimizer.lr"]): r for r in children(client, parent_id)}
    assert {key: r.info.status for key, r in first.items()} == {("a.csv", "1"): "FINISHED", ("a.csv", big): "FAILED"}
    assert client.get_run(parent_id).info.status == "FAILED"

    client.update_run(parent_id, "RUNNING")  # as if its process were still at work
    refused = new_store.module("runner.resume", sweep_id)
    assert refused.returncode == 2 and refused.stderr.startswith(f"error: sweep {sweep_id} is RUNNING")
    client.update_run(parent_id, "FAILED")
    unknown = new_store.module("runner.resume", "20000101-000000-dead")
    assert unknown.returncode == 2 and "'20000101-000000-dead' is not in experiment 'backprop-lab'" in unknown.stderr

    (new_store.root / "b.csv").write_text(table)
    resumed = new_store.module("runner.resume", sweep_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"FINISHED before, skipped (run {first['a.csv', '1'].info.run_id})" in resumed.stdout
    every = children(client, parent_id)
    assert len(every) == 5  # 2 of the first launch, 3 of the second: one job was skipped
    retried = [r for r in every if r.data.tags.get("sweep.retried") == "true"]
    assert [r.info.run_id for r in retried] == [first["a.csv", big].info.run_id]
    counted = {(r.data.params["dataset.path"], r.data.params["optimizer.lr"]): r.info.status
               for r in every if r not in retried}
    assert counted == {("a.csv", "1"): "FINISHED", ("a.csv", big): "FAILED", ("b.csv", "1"): "FINISHED",
                       ("b.csv", big): "FAILED"}
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and "failure_reason" not in parent.data.tags
    assert parent.data.tags["sweep.resumes"] == "1"
    assert {k: parent.data.metrics[k] for k in ("jobs", "jobs_launched", "jobs_planned", "jobs_finished",
                                                 "jobs_failed")} == \
        {"jobs": 4, "jobs_launched": 4, "jobs_planned": 4, "jobs_finished": 2, "jobs_failed": 2}
    assert "never launched" not in resumed.stdout
    report = new_store.module("runner.report", "--sweep", sweep_id)
    assert report.returncode == 0 and f"{sweep_id}: 4 runs ranked" in report.stdout


def test_a_resumed_job_whose_data_changed_runs_again_instead_of_being_skipped(new_store):
    """The same config on other data is another experiment: config_hash alone would skip it on resume."""
    import numpy as np

    X = np.random.default_rng(1).normal(size=(60, 2))
    table = "x1,x2,label\n" + "".join(f"{a},{b},{int(a + b > 0)}\n" for a, b in X)
    (new_store.root / "a.csv").write_text(table)
    (new_store.root / "c.csv").write_text(table)
    sweep = ("-m", "dataset=csv", "dataset.target=label", "dataset.path=a.csv,c.csv,b.csv", "optimizer=batch_gd",
             "optimizer.epochs=20", "tracking.progress=off", "tracking.figures=false")
    (new_store.root / "b.csv").write_text("x1,x2,label\n")
    stopped = new_store.cli(*sweep)  # b.csv has no rows yet: the sweep stops at its third job
    assert stopped.returncode == 2
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", stopped.stdout, re.MULTILINE).groups()
    first = {r.data.params["dataset.path"]: r for r in children(new_store.client, parent_id)}
    assert {path: r.info.status for path, r in first.items()} == {"a.csv": "FINISHED", "c.csv": "FINISHED"}
    (new_store.root / "a.csv").write_text(table.replace(f"{X[3, 0]},", f"{X[3, 0] + 1},", 1))  # a value fixed
    (new_store.root / "b.csv").write_text(table)
    resumed = new_store.module("runner.resume", sweep_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    before = first["a.csv"].data.tags["data_digest"]
    assert re.search(rf"job 0 dataset.path=a.csv: its data changed since run {first['a.csv'].info.run_id} "
                     rf"\(data_digest {before} -> (?!{before})\w+\), run again", resumed.stdout), resumed.stdout
    assert f"job 1 dataset.path=c.csv: FINISHED before, skipped (run {first['c.csv'].info.run_id})" in resumed.stdout
    every = children(new_store.client, parent_id)
    retried = {r.info.run_id for r in every if r.data.tags.get("sweep.retried") == "true"}
    assert retried == {first["a.csv"].info.run_id}
    assert sorted(r.data.params["dataset.path"] for r in every if r.info.run_id not in retried) == \
        ["a.csv", "b.csv", "c.csv"]
    parent = new_store.client.get_run(parent_id)
    assert parent.data.metrics["jobs"] == 3 and parent.data.metrics["jobs_finished"] == 3


def test_a_stopped_optuna_study_prints_no_resume_command(store):
    """runner.resume refuses an Optuna study, so a stopped one must not suggest it (a grid sweep does, below)."""
    result = store.cli("-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.n_jobs=1", *BASE,
                       "optimizer=batch_gd", "optimizer.epochs=3", "optimizer.lr=interval(-2.0,-1.0)")
    assert result.returncode == 2 and "optimizer.lr=" in result.stderr
    parent_id = re.search(r"^sweep \S+: parent run (\w+)", result.stdout, re.MULTILINE).group(1)
    assert store.client.get_run(parent_id).info.status == "FAILED"
    assert store.client.get_run(parent_id).data.tags["sweep.sampler_seed"] == "null (a new seed each study)"
    assert "runner.resume" not in result.stdout + result.stderr


@pytest.mark.parametrize("overrides, tags", [
    (["+experiment=optuna_search", "seed=7"], {"sweep.sampler": "TPESampler", "sweep.sampler_seed": "7"}),
    (["hydra/sweeper=optuna"], {"sweep.sampler": "TPESampler", "sweep.sampler_seed": "null (a new seed each study)"}),
    (["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid"], {"sweep.sampler": "GridSampler"}),
    (["seed=0,1"], {}),
])
def test_an_optuna_studys_parent_names_its_sampler_and_seed(overrides, tags):
    """Without the preset, an Optuna study's sampler has no seed, and its trials cannot be repeated: the parent
    says which, where before nothing did."""
    from runner.sweep import sampler_tags

    assert sampler_tags(multirun_config(*overrides).hydra.sweeper) == tags


def test_of_tied_jobs_the_sweeps_best_is_the_one_launched_first_as_optunas():
    """Under joblib a later job may start first: ranked by start time, the parent's best of tied jobs was not
    Optuna's best trial (the lowest number), nor the first job of a grid."""
    from types import SimpleNamespace

    from runner.sweep_runs import summarize

    def job(number, start, cost):
        return SimpleNamespace(info=SimpleNamespace(status="FINISHED", start_time=start, run_id=f"r{number}",
                                                    run_name=f"j{number}"),
                               data=SimpleNamespace(metrics={"val_cost": cost},
                                                    tags={"sweep.job": str(number),
                                                          "sweep.job_overrides": f"seed={number}"}))

    children = [job(10, 100, 0.5), job(2, 300, 0.5), job(1, 200, 0.9), job(3, 50, 0.5)]
    summary = summarize(children, "val_cost")
    assert (summary.best_run_id, summary.best_params) == ("r2", {"seed": "2"})  # job 2 < 3 < 10; job 3 started first
    assert summarize(children[::-1], "val_cost").best_run_id == "r2"


def test_resume_refuses_an_optuna_study_and_a_sweep_whose_folder_is_gone(new_store):
    client = new_store.client
    experiment_id = client.create_experiment("backprop-lab")
    for sweep_id, sweeper, folder in (("20260101-000000-aaaa", "OptunaSweeper", new_store.root),
                                      ("20260101-000000-bbbb", "BasicSweeper", new_store.root / "gone")):
        run = client.create_run(experiment_id, tags={"sweep.role": "parent", "sweep.id": sweep_id,
                                                     "sweep.sweeper": sweeper, "sweep.dir": str(folder)})
        client.set_terminated(run.info.run_id, "FAILED")
    optuna = new_store.module("runner.resume", "20260101-000000-aaaa")
    assert optuna.returncode == 2 and optuna.stderr.startswith(
        "error: sweep 20260101-000000-aaaa ran the OptunaSweeper sweeper, whose jobs a new launch would not repeat")
    gone = new_store.module("runner.resume", "20260101-000000-bbbb")
    assert gone.returncode == 2 and "holds no multirun.yaml" in gone.stderr and len(gone.stderr.splitlines()) == 1


def test_resume_names_a_corrupt_multirun_yaml_and_the_experiment_it_searched_in_one_line(new_store):
    """Before, a corrupt multirun.yaml was a yaml ParserError traceback, and an unknown sweep's message named
    runner.report's --sweep option, which runner.resume does not have, and not the experiment searched."""
    client = new_store.client
    run = client.create_run(client.create_experiment("backprop-lab"), tags={
        "sweep.role": "parent", "sweep.id": "20260101-000000-cccc", "sweep.sweeper": "BasicSweeper",
        "sweep.dir": str(new_store.root)})
    client.set_terminated(run.info.run_id, "FAILED")
    (new_store.root / "multirun.yaml").write_text("garbage: [\n")
    corrupt = new_store.module("runner.resume", "20260101-000000-cccc")
    assert corrupt.returncode == 2 and len(corrupt.stderr.splitlines()) == 1, corrupt.stderr
    assert corrupt.stderr.startswith(f"error: sweep 20260101-000000-cccc's {new_store.root / 'multirun.yaml'} cannot "
                                     "be read (expected the node content, but found '<stream end>', line 2); accepted")
    unknown = new_store.module("runner.resume", "nosuch")
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1, unknown.stderr
    assert unknown.stderr.startswith(f"error: sweep 'nosuch' is not in experiment 'backprop-lab' of {new_store.uri}; "
                                     "accepted: a sweep id") and "--experiment NAME" in unknown.stderr
    assert "--sweep" not in unknown.stderr


def test_a_resume_that_finds_a_new_best_job_keeps_the_first_best_param_and_says_so(new_store):
    """MLflow params cannot change: the parent's best.* params stay the first launch's best, its best.* tags
    name the new one, and the tag best.params says which is which (before, the parent's end raised)."""
    import numpy as np

    def write(name, easy, seed):
        X = np.random.default_rng(seed).normal(size=(60, 2))
        y = (X[:, 0] > 0).astype(int) if easy else np.random.default_rng(seed + 1).integers(0, 2, 60)
        (new_store.root / name).write_text("x1,x2,label\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, y)))

    write("hard.csv", easy=False, seed=0)
    (new_store.root / "easy.csv").write_text("x1,x2,label\n")  # no rows yet: the sweep stops at its job
    sweep = ("-m", "dataset=csv", "dataset.target=label", "dataset.path=hard.csv,easy.csv", "optimizer=batch_gd",
             "optimizer.epochs=50", "tracking.progress=off", "tracking.figures=false")
    stopped = new_store.cli(*sweep)
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", stopped.stdout, re.MULTILINE).groups()
    assert stopped.returncode == 2
    assert new_store.client.get_run(parent_id).data.params == {"best.dataset.path": "hard.csv"}
    write("easy.csv", easy=True, seed=1)
    resumed = new_store.module("runner.resume", sweep_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    parent = new_store.client.get_run(parent_id)
    assert parent.info.status == "FINISHED" and parent.data.params == {"best.dataset.path": "hard.csv"}
    assert parent.data.tags["best.overrides"] == "dataset.path=easy.csv"
    assert parent.data.tags["best.params"].startswith("an earlier launch's best")


def test_a_summary_the_store_refuses_ends_the_parent_failed_not_running(new_store, capsys):
    """Before, an error while recording the summary left the parent RUNNING and the sweep exited 0."""
    from runner.sweep import SweepCallback

    client = new_store.client
    experiment_id = client.create_experiment("backprop-lab")
    parent = client.create_run(experiment_id, tags={"sweep.role": "parent", "sweep.id": "s"}).info.run_id
    client.log_param(parent, "best.regularization.lam", "0")  # a param MLflow will not let the summary change
    job = client.create_run(experiment_id, tags={"mlflow.parentRunId": parent, "sweep.job_overrides":
                                                 "regularization.lam=1", "config_hash": "h"}).info.run_id
    client.log_metric(job, "val_cost", 0.5)
    client.set_terminated(job, "FINISHED")
    callback = SweepCallback()
    callback.sweep = {"id": "s", "parent_run_id": parent, "dir": str(new_store.root), "uri": new_store.uri,
                      "experiment": "backprop-lab", "objective": "val_cost", "local": True}
    with pytest.raises(SystemExit) as stopped:
        callback._end("FINISHED")
    assert stopped.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("error: the sweep's summary could not be recorded (MlflowException: ") and \
        error.count("\n") == 1 and f"its parent run {parent} ended FAILED" in error
    ended = client.get_run(parent)
    assert ended.info.status == "FAILED" and ended.data.tags["failure_reason"].startswith("the sweep's summary")


def test_a_sweep_can_maximize_the_test_part_s_macro_f1(new_store):
    result = new_store.cli("-m", *FAST, "tracking.objective=test_f1_macro", "optimizer.epochs=200", "regularization.lam=0,30",
                           "tracking.figures=false")
    _, parent_id = started(result)
    scores = [run.data.metrics["test_f1_macro"] for run in children(new_store.client, parent_id)]
    parent = new_store.client.get_run(parent_id)
    assert parent.data.tags["sweep.direction"] == "maximize" and len(set(scores)) == 2
    assert parent.data.metrics["best_test_f1_macro"] == max(scores)


def test_a_resumed_job_whose_config_changed_since_it_finished_runs_again_and_is_counted_once(new_store):
    """A default changed by an update changes every job's config_hash: the earlier FINISHED runs must be set
    aside, not counted beside the new ones (4 of 2 jobs)."""
    sweep = ("-m", *BASE, "optimizer.epochs=3", "regularization.lam=0,1")
    result = new_store.cli(*sweep)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE).groups()
    first = {r.data.params["regularization.lam"]: r for r in children(new_store.client, parent_id)}
    new_store.client.set_tag(first["0"].info.run_id, "config_hash", "0" * 16)  # as if made by older code
    resumed = new_store.module("runner.resume", sweep_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    old = first["0"].info.run_id
    assert re.search(rf"job 0 regularization.lam=0: its config changed since run {old} \(config_hash 0{{16}} -> "
                     r"\w+\), run again", resumed.stdout), resumed.stdout
    assert f"job 1 regularization.lam=1: FINISHED before, skipped (run {first['1'].info.run_id})" in resumed.stdout
    every = children(new_store.client, parent_id)
    assert {r.info.run_id for r in every if r.data.tags.get("sweep.retried") == "true"} == {old}
    parent = new_store.client.get_run(parent_id)
    assert parent.data.metrics["jobs"] == 2 and parent.data.metrics["jobs_finished"] == 2


def test_resume_takes_another_spelling_of_the_sweeps_store(new_store):
    """The store a sweep ran in, named through a symbolic link to its folder: the same file, so the same store.
    Before, resume compared the URIs' text and refused with a message naming neither store rightly."""
    table = "x1,x2,label\n" + "".join(f"{i % 7},{i % 5},{i % 2}\n" for i in range(40))
    (new_store.root / "a.csv").write_text(table)
    (new_store.root / "b.csv").write_text("x1,x2,label\n")  # no rows yet: the sweep stops at its job
    stopped = new_store.cli("-m", "dataset=csv", "dataset.target=label", "dataset.path=a.csv,b.csv",
                            "optimizer=batch_gd", "optimizer.epochs=5", "tracking.progress=off", "tracking.figures=false")
    assert stopped.returncode == 2, stopped.stderr[-3000:]
    sweep_id = re.search(r"^sweep (\S+): parent run", stopped.stdout, re.MULTILINE).group(1)
    (new_store.root / "b.csv").write_text(table)
    link = new_store.root / "linked"
    link.symlink_to(new_store.uri.removeprefix("sqlite:///").rsplit("/", 1)[0])
    uri = f"sqlite:///{link}/{new_store.uri.rsplit('/', 1)[1]}"
    resumed = new_store.module("runner.resume", sweep_id, MLFLOW_TRACKING_URI=uri)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "FINISHED before, skipped" in resumed.stdout


def test_a_sweep_whose_store_was_lost_says_so_in_one_line_and_keeps_its_parents_record(tmp_path, capsys):
    """The store gone when the jobs are done (a server stopped mid-sweep): before, Hydra turned the error into a
    warning and the sweep exited 0, or, stopped by an error, atexit printed a traceback and no resume command."""
    import json

    from runner.sweep import SweepCallback
    from runner.sync import pending

    sweep = {"id": "20260101-000000-abcd", "parent_run_id": "p" * 32, "uri": "http://127.0.0.1:9",
             "experiment": "backprop-lab", "dir": str(tmp_path), "objective": "val_cost", "planned": 2,
             "local": True, "resumable": True, "space": "regularization.lam=0,1"}
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    ended = SweepCallback()
    ended.sweep = dict(sweep)
    with pytest.raises(SystemExit) as exit_:
        ended.on_multirun_end(None)
    assert exit_.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: the sweep's summary could not be recorded (tracking URI 'http://127.0.0.1:9' "
                            "cannot be reached") and error.endswith(f"its parent run {'p' * 32} stays RUNNING there "
                                                                    "(python -m runner.sync uploads the jobs kept "
                                                                    "locally)") and "\n" not in error
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["offline_run_id"] == "p" * 32 and record["synced_run_id"] is None and "cannot be reached" in \
        record["lost"]
    assert pending(tmp_path) == []
    assert f"is sweep {sweep['id']}'s parent run, whose tracking store was lost" in capsys.readouterr().err

    stopped = SweepCallback()  # stopped by an error: at exit, the error's exit code stays and the resume line comes
    stopped.sweep = dict(sweep)
    stopped._end_if_open()
    out, err = capsys.readouterr()
    assert "resume: " in out and sweep["id"] in out
    assert err.startswith("error: the sweep's summary could not be recorded") and "Traceback" not in err


def test_a_second_sweep_into_a_folder_holding_a_sweep_is_refused_before_its_parent_run(new_store):
    """Jobs find their parent by the folder's sweep.json: two sweeps in one folder (QA: at the same time) took each
    other's jobs, one counting 11 of 8 and the other 5 of 8, and one after another counted the first's folders."""
    folder = new_store.root / "one_folder"
    first = new_store.cli("-m", *FAST, f"hydra.sweep.dir={folder}", "regularization.lam=0,1")
    sweep_id, _ = started(first)
    second = new_store.cli("-m", *FAST, f"hydra.sweep.dir={folder}", "seed=1,2,3")
    assert second.returncode == 2, second.stderr[-3000:]
    assert second.stderr.strip() == (f"error: hydra.sweep.dir='{folder}' holds sweep {sweep_id} already (its "
                                     "sweep.json); accepted: a folder of its own for each sweep (Hydra's default, or "
                                     f"another hydra.sweep.dir), or python -m runner.resume {sweep_id} to run that "
                                     "sweep's unfinished jobs")
    assert len([run for run in new_store.runs() if run.data.tags.get("sweep.role") == "parent"]) == 1
    resumed = new_store.module("runner.resume", sweep_id)  # the folder's own sweep may still be resumed there
    assert resumed.returncode == 0, resumed.stderr[-3000:]


def diverging(number: int, status: str, cost: float):
    """A sweep's child run as summarize reads it: FAILED with the tag diverged=true, or FINISHED with its cost."""
    from types import SimpleNamespace

    tags = {"sweep.job": str(number), "sweep.job_overrides": f"optimizer.lr={number}",
            **({"diverged": "true"} if status == "FAILED" else {})}
    return SimpleNamespace(info=SimpleNamespace(status=status, start_time=number, run_id=f"r{number}",
                                                run_name=f"j{number}"),
                           data=SimpleNamespace(metrics={"val_cost": cost}, tags=tags))


def test_a_sweep_whose_every_job_diverged_says_so_instead_of_a_best_value():
    """Before, such an Optuna study printed "Best value: 1000000000.0", the worst value a diverged job returns it."""
    from runner.sweep_runs import summarize

    every = summarize([diverging(0, "FAILED", 0.94), diverging(1, "FAILED", 0.95)], "val_cost")
    assert every.no_best() == "every job diverged (cost NaN or inf)" and every.best_run_id is None
    assert "  no best val_cost: every job diverged (cost NaN or inf)" in every.text("s", "p").splitlines()
    assert "best_val_cost" not in every.metrics() and every.tags() == {}
    some = summarize([diverging(0, "FAILED", 0.94), diverging(1, "FINISHED", 0.3)], "val_cost")
    assert some.no_best() is None and (some.best_run_id, some.best_value) == ("r1", 0.3)
    assert "  best val_cost 0.3: optimizer.lr=1 (run r1)" in some.text("s", "p").splitlines()
    other = summarize([diverging(0, "FAILED", 0.94), diverging(1, "KILLED", 0.5)], "val_cost")
    assert other.no_best() == "no job finished"


@pytest.mark.slow
def test_an_optuna_study_whose_every_trial_diverged_records_no_best_value(new_store):
    """Its parent ends FAILED saying why, and its optimization_results.yaml and output name no best value, where
    before they named a diverged trial's 1e9; with one trial that did not diverge, that one is the best."""
    grid = ("-m", "hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", *(o for o in FAST if "lr=" not in o))
    result = new_store.cli(*grid, "optimizer.lr=choice(1e6,2e6)")
    assert result.returncode == 1, result.stderr[-3000:]
    _, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE).groups()
    assert "  no best val_cost: every job diverged (cost NaN or inf)" in result.stdout.splitlines()
    assert "Best value" not in result.stdout + result.stderr and "1000000000" not in result.stdout + result.stderr
    parent = new_store.client.get_run(parent_id)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["failure_reason"] == "every job diverged (cost NaN or inf)"
    assert "best_val_cost" not in parent.data.metrics and parent.data.metrics["jobs_planned"] == 2
    study = yaml.safe_load(new_store.download(parent_id, "optimization_results.yaml").read_text())
    assert study["best_value"] is None and study["no_best"] == "every job diverged (cost NaN or inf)"
    partly = new_store.cli(*grid, "optimizer.lr=choice(1e6,0.5)")
    _, parent_id = started(partly)
    parent = new_store.client.get_run(parent_id)
    (finished,) = [run for run in children(new_store.client, parent_id) if run.info.status == "FINISHED"]
    assert parent.info.status == "FINISHED" and parent.data.tags["best.run_id"] == finished.info.run_id
    assert parent.data.metrics["best_val_cost"] == finished.data.metrics["val_cost"]
    study = yaml.safe_load(new_store.download(parent_id, "optimization_results.yaml").read_text())
    assert study["best_value"] == pytest.approx(finished.data.metrics["val_cost"])


@pytest.mark.parametrize("signum, named", [(signal.SIGINT, "the sweep was stopped by Ctrl-C (SIGINT) before all its "
                                                          "jobs returned"),
                                          (signal.SIGTERM, "the sweep was stopped by SIGTERM (kill, timeout or a "
                                                           "scheduler's time limit) before all its jobs returned"),
                                          (None, "the sweep stopped on an error before all its jobs returned")])
def test_a_stopped_sweeps_parent_names_what_stopped_it(monkeypatch, signum, named):
    """Before, it said "the sweep stopped before all its jobs returned" whatever had stopped it."""
    from runner import experiment
    from runner.sweep import stop_reason

    monkeypatch.setattr(experiment, "stop_signal", signum)
    assert stop_reason().startswith(named)
    if signum is not None:  # the handler the sweep gives both signals notes which came, and raises as before
        monkeypatch.setattr(experiment, "stop_signal", None)
        with pytest.raises(KeyboardInterrupt) as raised:
            experiment.raise_interrupted(signum, None)
        assert experiment.stop_signal == signum
        assert getattr(raised.value, "signum", signal.SIGINT) == signum  # what runner.__main__'s exit code reads


@pytest.mark.slow
def test_sigterm_to_a_sweep_names_sigterm_as_its_parents_failure_reason(new_store):
    overrides = (*(o for o in FAST if not o.startswith("optimizer.epochs")), "optimizer.epochs=50000000")
    sweep = subprocess.Popen([sys.executable, "-m", "runner", "-m", *overrides, "regularization.lam=0,1"],
                             cwd=new_store.root, env=new_store.env(), start_new_session=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len([r for r in new_store.runs() if r.info.status == "RUNNING"]) < 2:  # the parent and its first job
            assert time.monotonic() < deadline and sweep.poll() is None, "the first job never started"
            time.sleep(0.5)
        sweep.send_signal(signal.SIGTERM)
        _, stderr = sweep.communicate(timeout=120)
    finally:
        sweep.kill()
    assert sweep.returncode == 128 + signal.SIGTERM, stderr[-3000:]
    (parent,) = [run for run in new_store.runs() if run.data.tags.get("sweep.role") == "parent"]
    assert parent.info.status == "FAILED"
    assert parent.data.tags["failure_reason"] == ("the sweep was stopped by SIGTERM (kill, timeout or a scheduler's "
                                                  "time limit) before all its jobs returned")
    (job,) = [run for run in new_store.runs() if run.data.tags.get("sweep.role") == "job"]  # the basic launcher's
    assert (job.info.status, job.data.tags["failure_reason"]) == (  # before: "interrupted by the user (SIGINT/SIGTERM)"
        "KILLED", "stopped by SIGTERM (kill, timeout or a scheduler's time limit)")
