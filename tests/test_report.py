"""`python -m runner.report` on a real sweep: the ranked table (CSV, Markdown), the figures,
and the artifacts on the parent run; the bulk SQL read of metric histories against MLflow's API.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import FAST

PNG = b"\x89PNG\r\n\x1a\n"
METRICS = ["val_cost", "val_accuracy", "train_cost", "train_data_cost", "train_accuracy", "test_accuracy",
           "test_f1_macro", "train_seconds"]


def report_cli(store, *args: str) -> subprocess.CompletedProcess:
    """`python -m runner.report ARGS` in a subprocess against the store."""
    return store.module("runner.report", *args)


def sweep_and_report(store, *overrides: str) -> tuple[str, str, object]:
    """`python -m runner -m OVERRIDES`, then its report: (sweep id, parent run id, the report's folder)."""
    result = store.cli("-m", *overrides)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE).groups()
    report = report_cli(store, "--sweep", sweep_id)
    assert report.returncode == 0, report.stderr
    return sweep_id, parent_id, store.root / "outputs" / "reports" / sweep_id


@pytest.fixture(scope="module")
def sweep(store):
    """A 2 x 2 sweep, learning rate x lambda, and its report: (sweep id, parent id, children, report process)."""
    overrides = [o for o in FAST if not o.startswith("optimizer.lr")]
    result = store.cli("-m", *overrides, "optimizer.lr=0.3,1", "regularization.lam=0,1")
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE).groups()
    ids = [e.experiment_id for e in store.client.search_experiments()]
    runs = store.client.search_runs(ids, f"tags.`mlflow.parentRunId` = '{parent_id}'")
    return sweep_id, parent_id, runs, report_cli(store, "--sweep", sweep_id)


@pytest.mark.slow
def test_the_table_ranks_one_row_per_job_by_the_objective(store, sweep):
    sweep_id, _, runs, result = sweep
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(store.root / "outputs" / "reports" / sweep_id / "ranking.csv")
    assert list(table.columns) == ["rank", "run_name", "status", "optimizer.lr", "regularization.lam", *METRICS,
                                   "run_id"]
    assert sorted(table["run_id"]) == sorted(run.info.run_id for run in runs)
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert list(table["val_cost"]) == sorted(run.data.metrics["val_cost"] for run in runs)
    by_id = {run.info.run_id: run for run in runs}
    for row in table.to_dict("records"):
        run = by_id[row["run_id"]]
        assert row["status"] == "FINISHED"
        assert row["optimizer.lr"] == float(run.data.params["optimizer.lr"])
        assert row["regularization.lam"] == float(run.data.params["regularization.lam"])
        assert row["val_accuracy"] == pytest.approx(run.data.metrics["val_accuracy"])


@pytest.mark.slow
def test_the_report_writes_markdown_and_figures_prints_the_table_and_logs_artifacts(store, sweep):
    sweep_id, parent_id, _, result = sweep
    folder = store.root / "outputs" / "reports" / sweep_id
    markdown = (folder / "ranking.md").read_text().splitlines()
    assert len(markdown) == 2 + 4
    assert markdown[0].startswith("| rank | run_name | status | optimizer.lr | regularization.lam | val_cost")
    assert markdown[0].replace(" | run_id", "") in result.stdout  # printed without the ids
    figures = ("train_cost.png", "val_cost.png", "val_accuracy.png", "objective.png", "decision_regions.png",
               "hidden_units.png", "confusion_matrix.png")
    for name in figures:  # moons: 2 features, so decision regions and hidden units; every run's confusion matrix
        assert (folder / name).read_bytes().startswith(PNG)
    logged = {a.path for a in store.client.list_artifacts(parent_id, "report")}
    assert logged == {f"report/{name}" for name in ("ranking.csv", "ranking.md", "importance.csv", "importance.md",
                                                    "report.html", *figures)}
    page = (folder / "report.html").read_text()  # the whole report on one page, figures inline
    assert page.count("<img ") == len(figures) and page.count("data:image/png;base64,iVBORw0KGgo") == len(figures)
    assert page.index("<h2>What moves val_cost</h2>") < page.index("<h2>Ranking</h2>") < page.index("<h2>Figures")
    assert page.count("<tr>") == 2 + 4  # the body rows: importance's 2 keys, ranking's 4 runs
    note = store.client.get_run(parent_id).data.tags["mlflow.note.content"]  # the run's description in the UI
    assert note.startswith(f"**{sweep_id}**: 4 runs ranked by val_cost (minimize), best first.")
    shares = pd.read_csv(folder / "importance.csv")
    assert set(shares["key"]) == {"optimizer.lr", "regularization.lam"} and (shares["levels"] == 2).all()
    assert re.search(r"What moves val_cost \(.*\): (optimizer\.lr|regularization\.lam) \d+%, ", note)
    assert "what moves val_cost" in result.stdout
    assert markdown[0].replace(" | run_id", "") in note  # the table without the ids, best first
    positions = [note.index(f"| {row.split(' | ')[1]} |") for row in markdown[2:]]
    assert positions == sorted(positions)


def drawn_panels(store, table: pd.DataFrame, varied: list[str], folder: Path, figure: str) -> tuple[list, int]:
    """The panels of `figure` the report lays side by side for the runs of the ranking `table`, and their columns."""
    from runner import report

    rows, columns = report.panel_rows(table, varied)
    uris = {run.info.run_id: run.info.artifact_uri for run in store.runs()}
    drawn = report.run_figures(store.uri, {row["run_id"]: uris[row["run_id"]] for row in rows}, folder)
    return report.figure_panels(rows, drawn, varied, "val_cost", figure), columns


@pytest.mark.slow
def test_the_decision_regions_panels_are_the_runs_own_figures_in_the_order_of_the_swept_values(
        store, sweep, tmp_path, monkeypatch):
    from runner import report

    sweep_id = sweep[0]
    table = pd.read_csv(store.root / "outputs" / "reports" / sweep_id / "ranking.csv")
    varied = ["optimizer.lr", "regularization.lam"]
    panels, columns = drawn_panels(store, table, varied, tmp_path / "a", "decision_regions.png")
    values = [tuple(float(part.split("=")[1]) for part in label.split("\n")[0].split()[1:]) for label, _ in panels]
    assert values == [(0.3, 0), (0.3, 1), (1, 0), (1, 1)] and columns == 2  # a grid: lr down, lambda across
    by_id = table.set_index("run_id")
    for label, image in panels:  # each run's own figure, as the run drew it, labelled with its rank and objective
        run_id = image.parent.name
        row = by_id.loc[run_id]
        assert label == (f"#{row['rank']} optimizer.lr={row['optimizer.lr']:g} "
                         f"regularization.lam={row['regularization.lam']:g}\nval_cost {row['val_cost']:.4g}")
        assert image.read_bytes() == store.download(run_id, "decision_regions.png").read_bytes()
    monkeypatch.setattr(report, "MAX_PANELS", 3)  # more runs than panels: the best, best first
    panels, columns = drawn_panels(store, table, varied, tmp_path / "b", "decision_regions.png")
    assert [label.split()[0] for label, _ in panels] == ["#1", "#2", "#3"] and columns == 4


def test_runs_without_decision_regions_or_a_validation_part_give_a_report_without_those_figures(new_store):
    result = new_store.cli("-m", *FAST, "tracking.figures=false", "dataset.val_fraction=0", "regularization.lam=0,1")
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE).groups()
    folder = new_store.root / "outputs" / "reports" / sweep_id
    folder.mkdir(parents=True)
    for stale in ("decision_regions.png", "val_cost.png", "val_accuracy.png"):  # from an earlier report: not kept
        (folder / stale).write_bytes(PNG)
    report = report_cli(new_store, "--sweep", sweep_id)
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith(f"{sweep_id}: 2 runs ranked by train_cost")
    assert (folder / "train_cost.png").exists() and (folder / "objective.png").exists()
    assert not {path.name for path in folder.iterdir()} & {"decision_regions.png", "val_cost.png", "val_accuracy.png"}
    logged = {a.path for a in new_store.client.list_artifacts(parent_id, "report")}
    assert logged == {f"report/{name}" for name in ("ranking.csv", "ranking.md", "train_cost.png", "objective.png",
                                                    "report.html")}
    assert "Downloading artifacts" not in report.stderr


@pytest.mark.slow
def test_image_runs_get_their_hidden_weights_side_by_side(new_store, tmp_path):
    _, parent_id, folder = sweep_and_report(new_store, "optimizer=batch_gd", "optimizer.epochs=3",
                                            "tracking.progress=off", "regularization.lam=0,10")
    assert (folder / "hidden_weights.png").read_bytes().startswith(PNG)
    assert not (folder / "decision_regions.png").exists()  # digits have 64 features
    logged = {a.path for a in new_store.client.list_artifacts(parent_id, "report")}
    assert "report/hidden_weights.png" in logged and "report/decision_regions.png" not in logged

    table = pd.read_csv(folder / "ranking.csv")
    panels, _ = drawn_panels(new_store, table, ["regularization.lam"], tmp_path, "hidden_weights.png")
    assert [label.split("\n")[0].split()[1] for label, _ in panels] == ["regularization.lam=0",
                                                                        "regularization.lam=10"]
    for label, image in panels:
        assert image.read_bytes() == new_store.download(image.parent.name, "hidden_weights.png").read_bytes()


@pytest.mark.slow
def test_without_a_sweep_id_the_report_is_of_the_latest_sweep(store, sweep):
    sweep_id = sweep[0]
    result = report_cli(store, "--top", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{sweep_id}: 4 runs ranked by val_cost (minimize)")
    assert "... 2 more rows in ranking.csv" in result.stdout


@pytest.mark.slow
def test_an_unknown_sweep_is_one_line_and_exit_code_2(store, sweep):
    result = report_cli(store, "--sweep", "no-such-sweep")
    assert result.returncode == 2
    assert result.stderr.startswith("error: --sweep no-such-sweep is not a sweep") and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_a_filter_narrows_the_sweep_into_its_own_report_and_leaves_the_parent_s_description(store, sweep):
    from runner.report import digest

    sweep_id, parent_id, runs, _ = sweep
    note = store.client.get_run(parent_id).data.tags["mlflow.note.content"]
    narrower = "params.`regularization.lam` = '1'"
    result = report_cli(store, "--sweep", sweep_id, "--filter", narrower)
    assert result.returncode == 0, result.stderr
    name = f"{sweep_id}-filter-{digest(narrower)}"
    assert result.stdout.startswith(f"{name}: 2 runs ranked by val_cost")
    table = pd.read_csv(store.root / "outputs" / "reports" / name / "ranking.csv")
    assert set(table["run_id"]) == {r.info.run_id for r in runs if r.data.params["regularization.lam"] == "1"}
    assert "only the runs matching params.`regularization.lam` = &#x27;1&#x27;" in (
        store.root / "outputs" / "reports" / name / "report.html").read_text()
    logged = {a.path for a in store.client.list_artifacts(parent_id, f"report-filter-{digest(narrower)}")}
    assert f"report-filter-{digest(narrower)}/ranking.csv" in logged
    assert store.client.get_run(parent_id).data.tags["mlflow.note.content"] == note  # the whole sweep's ranking


@pytest.mark.slow
def test_another_objective_goes_to_its_own_report_and_leaves_the_sweep_s_own(store, sweep):
    """Before, `--objective val_accuracy` on a val_cost sweep overwrote its ranking.csv, the parent's report/
    artifacts and its description, which then said "ranked by val_accuracy" while the sweep's best stayed val_cost."""
    sweep_id, parent_id, _, _ = sweep
    own = store.root / "outputs" / "reports" / sweep_id
    ranking_before, note = (own / "ranking.csv").read_text(), store.client.get_run(parent_id).data.tags[
        "mlflow.note.content"]
    result = report_cli(store, "--sweep", sweep_id, "--objective", "val_accuracy")
    assert result.returncode == 0, result.stderr
    name = f"{sweep_id}-objective-val_accuracy"
    assert result.stdout.startswith(f"{name}: 4 runs ranked by val_accuracy (maximize)")
    assert (own / "ranking.csv").read_text() == ranking_before
    assert (store.root / "outputs" / "reports" / name / "ranking.csv").is_file()
    assert store.client.get_run(parent_id).data.tags["mlflow.note.content"] == note
    logged = {a.path for a in store.client.list_artifacts(parent_id, "report-objective-val_accuracy")}
    assert "report-objective-val_accuracy/ranking.csv" in logged


def test_a_report_s_variant_names_its_filter_and_an_objective_other_than_the_sweep_s():
    from argparse import Namespace

    from runner.report import digest, variant

    assert variant(Namespace(filter=None, objective=None), "val_cost") == ""
    assert variant(Namespace(filter=None, objective="val_cost"), "val_cost") == ""  # the sweep's own report
    assert variant(Namespace(filter=None, objective="val_cost"), "val_accuracy") == "-objective-val_cost"
    assert variant(Namespace(filter="x", objective="val_accuracy"), "val_cost") == (f"-filter-{digest('x')}"
                                                                                   "-objective-val_accuracy")


def test_a_deleted_or_unknown_experiment_is_named_as_such(new_store, monkeypatch, capsys):
    """Before, a deleted experiment had `no runs to report in experiment-todel` (--all) or a sweep that `is not a
    sweep of this experiment` (--sweep), and `--experiment ''` printed the empty name unquoted."""
    from runner.errors import run_command
    from runner.report import main

    client = new_store.client
    experiment_id = client.create_experiment("todel")
    client.set_terminated(client.create_run(experiment_id, tags={"sweep.role": "parent", "sweep.id": "s1"}).info.run_id)
    client.delete_experiment(experiment_id)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", new_store.uri)
    deleted = (f"error: --experiment 'todel' is deleted in the store {new_store.uri} (experiment {experiment_id}); "
               f"accepted: an active experiment: restore it (MLFLOW_TRACKING_URI={new_store.uri} mlflow experiments "
               f"restore --experiment-id {experiment_id}), or choose another (--experiment NAME)\n")
    for which in (["--all"], ["--sweep", "s1"]):
        assert run_command(main, ["--experiment", "todel", *which]) == 2
        assert capsys.readouterr().err == deleted
    assert run_command(main, ["--experiment", ""]) == 2
    assert capsys.readouterr().err == (f"error: --experiment '' does not exist in {new_store.uri}; accepted: an "
                                       "experiment of the store (Default)\n")


@pytest.mark.slow
def test_runs_named_by_id_are_reported_together(store, sweep):
    from runner.report import digest

    ids = sorted(run.info.run_id for run in sweep[2])[:3]
    result = report_cli(store, "--runs", *ids)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"runs-{digest(' '.join(ids))}: 3 runs ranked by val_cost")
    table = pd.read_csv(store.root / "outputs" / "reports" / f"runs-{digest(' '.join(ids))}" / "ranking.csv")
    assert sorted(table["run_id"]) == ids
    filtered = report_cli(store, "--runs", *ids, "--filter", "metrics.val_cost < 0")
    assert filtered.returncode == 2 and "--filter 'metrics.val_cost < 0' matched none" in filtered.stderr


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["--all", "--filter", "val_cost < 1"], "error: --filter 'val_cost < 1' is invalid (Invalid attribute key "
                                            "'val_cost' specified."),
    (["--runs", "0" * 32], f"error: --runs {'0' * 32} is not a run of experiment backprop-lab; accepted: ids of its"),
    (["--runs", "a'b"], "error: --runs \"a'b\" is invalid; accepted: run ids (32 hexadecimal digits"),
    (["--runs", "PARENT"], "error: --runs PARENT is a sweep's parent run, which trains nothing; accepted: ids of"),
])
def test_a_bad_filter_or_run_id_is_one_line_and_exit_code_2(store, sweep, args, message):
    message = message.replace("PARENT", sweep[1])
    result = report_cli(store, *[arg.replace("PARENT", sweep[1]) for arg in args])
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert "accepted: " in result.stderr


@pytest.mark.slow
def test_importance_weighs_only_the_swept_keys_and_an_objective_no_run_logged_is_refused(new_store):
    """Each optimizer's default lr varies with the optimizer, but was not swept."""
    overrides = [o for o in FAST if not o.startswith("optimizer.lr")]
    result = new_store.cli("-m", *overrides, "dataset.test_fraction=0", "optimizer=batch_gd,sgd", "seed=0,1,2")
    assert result.returncode == 0, result.stderr[-3000:]
    report = report_cli(new_store)
    assert report.returncode == 0, report.stderr
    folder = next((new_store.root / "outputs" / "reports").iterdir())
    assert "optimizer.lr" in pd.read_csv(folder / "ranking.csv").columns
    assert set(pd.read_csv(folder / "importance.csv")["key"]) <= {"optimizer", "seed"}
    refused = report_cli(new_store, "--objective", "test_accuracy")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "error: --objective test_accuracy is invalid for " in refused.stderr
    assert "none of its runs logged it (a test_ metric needs a test part); accepted: val_cost, " in refused.stderr


@pytest.mark.slow
def test_the_bulk_sql_read_matches_mlflows_metric_history(store, sweep):
    from runner.report import metric_histories

    _, _, runs, _ = sweep
    client = store.client
    ids = [run.info.run_id for run in runs]
    bulk = metric_histories(store.uri, client, runs[0].info.experiment_id, ids, "train_cost")
    for run_id in ids:
        reference = sorted((m.step, m.value) for m in client.get_metric_history(run_id, "train_cost"))
        mine = bulk[bulk["run_id"] == run_id]
        assert list(zip(mine["step"], mine["value"])) == reference


def test_the_ranking_puts_failed_runs_last_and_follows_the_objectives_direction():
    from runner.report_tables import ranking

    frame = pd.DataFrame({"run_id": list("abcd"), "run_name": list("abcd"),
                          "status": ["FINISHED", "FAILED", "FINISHED", "FINISHED"],
                          "regularization.lam": ["0", "1", "3", "10"],
                          "val_cost": [0.5, 0.1, 0.3, np.nan], "val_accuracy": [0.7, 0.99, 0.9, 0.8]})
    assert list(ranking(frame, ["regularization.lam"], "val_cost")["run_id"]) == ["c", "a", "d", "b"]
    table = ranking(frame, ["regularization.lam"], "val_accuracy")
    assert list(table["run_id"]) == ["c", "d", "a", "b"]
    assert list(table["regularization.lam"]) == [3, 10, 0, 1]  # numbers, not strings
    assert "best_epoch" not in table  # no run stopped early: no empty column
    table = ranking(frame.assign(best_epoch=[14, np.nan, 30, 7]), ["regularization.lam"], "val_cost")
    assert list(table.columns)[-2:] == ["best_epoch", "run_id"] and list(table["best_epoch"][:2]) == [30, 14]
    tied = frame.assign(val_cost=[0.3, 0.1, 0.3, 0.3], start_time=[30, 10, 20, 40])
    assert list(ranking(tied, [], "val_cost")["run_id"]) == ["c", "a", "d", "b"]  # a tie: the first started first


def test_of_tied_runs_the_report_ranks_first_the_job_the_sweep_names_its_best():
    """Under joblib a later job may start first: ranked by start time, the report's rank 1 of tied jobs was not the
    sweep's best (runner.sweep_runs.summarize: the lowest sweep.job, as Optuna's best trial)."""
    from types import SimpleNamespace

    from runner.report import runs_frame
    from runner.report_tables import ranking
    from runner.sweep_runs import summarize

    def job(number, start, cost):
        return SimpleNamespace(info=SimpleNamespace(status="FINISHED", start_time=start, run_id=f"r{number}",
                                                    run_name=f"j{number}"),
                               data=SimpleNamespace(metrics={"val_cost": cost}, params={"seed": str(number)},
                                                    tags={"sweep.job": str(number),
                                                          "sweep.job_overrides": f"seed={number}"}))

    children = [job(10, 100, 0.5), job(2, 300, 0.5), job(1, 200, 0.9), job(3, 50, 0.5)]
    table = ranking(runs_frame(children), ["seed"], "val_cost")
    assert list(table["run_id"]) == ["r2", "r3", "r10", "r1"]
    assert table["run_id"][0] == summarize(children, "val_cost").best_run_id


def test_a_negative_top_is_one_line_and_exit_code_2(capsys):
    from runner.errors import run_command
    from runner.report import main

    assert run_command(main, ["--top", "-1"]) == 2
    assert capsys.readouterr().err == "error: --top -1 is invalid; accepted: an integer >= 0 (rows to print)\n"


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command, args, message", [
    ("report", ["--objective", "foo"], "--objective 'foo' is invalid; accepted: val_cost, val_accuracy, "),
    ("report", ["--tracking-uri", "nosuch://store"], "tracking URI 'nosuch://store' cannot be used ("),
    ("report", ["--tracking-uri", "http://127.0.0.1:{port}"], "tracking URI 'http://127.0.0.1:{port}' cannot be "
                                                              "reached"),
    ("report", ["--tracking-uri", "sqlite:///{tmp}/none/mlflow.db"], "names no existing store ({tmp}/none/mlflow.db "
                                                                     "is missing)"),
    ("replay", ["some-run", "--tolerance", "-1"], "--tolerance -1.0 is invalid; accepted: a number >= 0"),
    ("replay", ["some-run"], "tracking URI 'sqlite:///{tmp}/none/mlflow.db' names no existing store"),
])
def test_the_reading_commands_refuse_bad_input_in_one_line_and_make_no_store(tmp_path, monkeypatch, capsys,
                                                                               command, args, message):
    import importlib

    from runner.errors import run_command

    values = {"port": _closed_port(), "tmp": tmp_path}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/none/mlflow.db")
    main = importlib.import_module(f"runner.{command}").main
    assert run_command(main, [a.format(**values) for a in args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message.format(**values) in err, err
    assert not (tmp_path / "none").exists()


@pytest.mark.slow
def test_a_reader_that_goes_away_ends_the_report_quietly(store, sweep):
    """`python -m runner.report | head -1`: no BrokenPipeError traceback, the shell's 141 (128 + SIGPIPE)."""
    process = subprocess.Popen([sys.executable, "-m", "runner.report", "--sweep", sweep[0]], cwd=store.root,
                               env=store.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # gone before the report prints its first line
    stderr = process.stderr.read()
    assert process.wait(timeout=300) == 141, stderr
    assert stderr == ""


def test_bias_variance_curves_follow_each_numeric_swept_value_one_curve_per_value_of_the_others():
    from runner.report_figures import bias_variance_curves

    sizes, lams = [10, 40, 20, 80], [0.0, 1.0]
    table = pd.DataFrame([{"rank": 0, "status": "FINISHED", "dataset.train_size": m, "regularization.lam": lam,
                           "optimizer": "lbfgs", "val_cost": 1 / m + lam, "train_data_cost": lam / m}
                          for lam in lams for m in sizes])
    table.loc[7, "status"] = "FAILED"  # lam = 1, m = 80: left out
    (panel,) = bias_variance_curves(table, ["dataset.train_size", "regularization.lam", "optimizer"])
    x, others, curves = panel  # lambda takes 2 values: no curve; the optimizer is not a number
    assert x == "dataset.train_size" and others == ["regularization.lam", "optimizer"]
    assert [key for key, _ in curves] == [(0.0, "lbfgs"), (1.0, "lbfgs")]
    assert list(curves[0][1][x]) == [10, 20, 40, 80] and list(curves[1][1][x]) == [10, 20, 40]
    assert list(curves[1][1]["val_cost"]) == [1.1, 1.05, 1.025]
    assert bias_variance_curves(table.drop(columns="train_data_cost"), ["dataset.train_size"]) == []
    optuna_like = pd.DataFrame({"status": ["FINISHED"] * 4, "val_cost": [1, 2, 3, 4], "train_data_cost": [1] * 4,
                                "optimizer.lr": [0.1, 0.2, 0.3, 0.4], "regularization.lam": [1, 2, 3, 4]})
    assert bias_variance_curves(optuna_like, ["optimizer.lr", "regularization.lam"]) == []  # no shared curve


@pytest.mark.slow
def test_a_sweep_of_training_set_sizes_gets_its_learning_curve(new_store):
    _, parent_id, folder = sweep_and_report(new_store, *FAST, "tracking.figures=false", "dataset.train_size=10,20,40")
    assert (folder / "bias_variance.png").read_bytes().startswith(PNG)
    assert "report/bias_variance.png" in {a.path for a in new_store.client.list_artifacts(parent_id, "report")}
    table = pd.read_csv(folder / "ranking.csv")
    runs = {run.info.run_id: run for run in new_store.runs() if run.info.run_id != parent_id}
    for row in table.to_dict("records"):
        assert row["train_data_cost"] == pytest.approx(runs[row["run_id"]].data.metrics["train_data_cost"])
    assert sorted(table["dataset.train_size"]) == [10, 20, 40]


def test_curves_spanning_decades_get_a_log_axis_without_a_warning(tmp_path):
    """Costs from 1 down to 1e-8 (lambda = 0 fitting the training set): a log axis, whose limits
    must stay positive (matplotlib warned of a non-positive ylim and ignored it)."""
    import warnings

    from runner.report_figures import plot_curves

    steps = np.arange(50)
    histories = pd.DataFrame({"run_id": ["a"] * 50 + ["b"] * 50, "step": np.tile(steps, 2),
                              "value": np.concatenate([np.logspace(0, -8, 50), np.linspace(0.7, 0.3, 50)])})
    table = pd.DataFrame({"run_id": ["a", "b"], "rank": [1, 2], "run_name": ["lam=0", "lam=1"],
                          "status": ["FINISHED", "FINISHED"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plot_curves(histories, table, "train_cost", tmp_path / "curves.png")
    assert path.read_bytes().startswith(PNG)


def test_a_text_key_only_some_runs_have_is_a_none_category_of_the_objective_figure(tmp_path):
    """Before, under pandas 3, a report of runs of which only some have a key (a preset's `experiment`, sgd's
    optimizer.shuffle) stopped with a TypeError traceback in natural_key: astype(str) kept their NaN."""
    from runner.report_figures import plot_objective

    table = pd.DataFrame({"run_id": list("abc"), "rank": [1, 2, 3], "status": "FINISHED", "val_cost": [0.7, 2.1, 3.3],
                          "experiment": ["course", np.nan, "zero_init"]})
    path = plot_objective(table, ["experiment"], "val_cost", tmp_path / "objective.png")
    assert path.read_bytes().startswith(PNG)


def test_a_bin_of_one_value_is_labelled_by_it():
    """Before, '1e+03 to 1e+03', then '1e+03' (a learning curve's 1000 samples): now '1000'."""
    from runner.report_tables import importance

    search = pd.DataFrame({"status": "FINISHED", "optimizer.lr": [1000.0] * 8 + list(np.linspace(1, 2, 32)),
                           "val_cost": [0.0] * 8 + list(np.arange(1.0, 33.0))})  # the eight 1000s: one bin, the best
    assert importance(search, ["optimizer.lr"], "val_cost")["best"].item() == "1000"


def test_runs_without_a_history_give_an_empty_figure_without_a_warning(tmp_path):
    """Before, matplotlib's UserWarning 'No artists with labels found to put in legend' (jobs KILLED at once)."""
    import warnings

    from runner.report_figures import plot_curves

    histories = pd.DataFrame({"run_id": pd.Series([], dtype=str), "step": pd.Series([], dtype=int),
                              "value": pd.Series([], dtype=float)})
    table = pd.DataFrame({"run_id": ["a"], "rank": [1], "run_name": ["seed=1"], "status": ["KILLED"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plot_curves(histories, table, "train_cost", tmp_path / "curves.png")
    assert path.read_bytes().startswith(PNG)


def test_few_runs_curves_are_named_in_the_legend_best_first_and_many_coloured_by_rank(tmp_path):
    import warnings

    from runner.report_figures import legend_labels, plot_curves

    table = pd.DataFrame({"run_id": ["b", "a", "c"], "rank": [1, 2, 3], "status": ["FINISHED"] * 3,
                          "run_name": ["cost=cross_entropy", "cost=mse " + "x" * 80, "cost=softmax_cross_entropy"]})
    labels = legend_labels(table, ["b", "a", "c"])
    assert labels[0] == "#1 cost=cross_entropy" and labels[1].startswith("#2 cost=mse") and len(labels[1]) == 60
    histories = pd.DataFrame({"run_id": list("abc") * 5, "step": np.repeat(np.arange(5), 3),
                              "value": np.linspace(1, 0.1, 15)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for named in (10, 2):  # 3 runs: named in the legend; more than `named`: coloured by rank
            path = plot_curves(histories, table, "val_cost", tmp_path / f"{named}.png", named)
            assert path.read_bytes().startswith(PNG)


@pytest.mark.parametrize("named", [10, 1])
def test_a_run_s_restored_weights_are_a_dot_past_its_line_in_the_report_curves(tmp_path, monkeypatch, named):
    from matplotlib.axes import Axes
    from matplotlib.collections import LineCollection

    from runner.report_figures import plot_curves

    lines, dots = [], []
    plot, scatter = Axes.plot, Axes.scatter
    monkeypatch.setattr(Axes, "plot", lambda ax, x, y, *a, **kw: (dots if a == ("o",) else lines).append(
        (list(np.ravel(x)), list(np.ravel(y)))) or plot(ax, x, y, *a, **kw))
    monkeypatch.setattr(Axes, "scatter", lambda ax, x, y, **kw: dots.append((list(x), list(y))) or scatter(ax, x, y, **kw))
    collection = LineCollection.__init__
    monkeypatch.setattr(LineCollection, "__init__", lambda self, segments, **kw: lines.extend(
        (list(seg[:, 0]), list(seg[:, 1])) for seg in segments) or collection(self, segments, **kw))
    table = pd.DataFrame({"run_id": ["r", "p"], "rank": [1, 2], "run_name": ["restored", "plain"],
                          "status": ["FINISHED"] * 2, "restored_epoch": [1.0, np.nan]})
    histories = pd.DataFrame({"run_id": ["r"] * 5 + ["p"] * 4, "step": [0, 1, 2, 3, 4, 0, 1, 2, 3],
                              "value": [3.0, 1.0, 2.0, 2.5, 1.0, 3.0, 2.0, 1.5, 1.2]})
    plot_curves(histories, table, "val_cost", tmp_path / "curves.png", named)
    assert ([0.0, 1.0, 2.0, 3.0], [3.0, 1.0, 2.0, 2.5]) in lines and ([0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 1.5, 1.2]) in lines
    assert dots == [([4.0], [1.0])]


def test_the_parent_description_holds_as_many_best_rows_as_fit_and_says_how_many_more():
    from runner.report_tables import description

    table = pd.DataFrame({"rank": range(1, 101), "run_name": [f"lam={i}" for i in range(100)],
                          "status": ["FINISHED"] * 100, "val_cost": np.linspace(0.1, 1, 100), "run_id": ["x"] * 100})
    note = description("sweep-1", table, "val_cost", ["ranking.csv"], limit=600)
    assert len(note.split("\n\n... ")[0]) < 600
    shown = [line for line in note.splitlines() if line.startswith("| ") and "rank" not in line]
    assert [line.split(" | ")[1] for line in shown] == [f"lam={i}" for i in range(len(shown))] and len(shown) > 3
    assert note.endswith(f"... {100 - len(shown)} more rows in report/ranking.csv")
    assert "x" not in note.split("|")[1:]  # no run ids
    assert description("s", table.head(1), "val_cost", [])[:30] == "**s**: 1 run ranked by val_cos"


def test_seed_statistics_give_each_configuration_s_mean_and_sample_std_over_its_finished_seeds():
    from runner.report_tables import seed_statistics

    table = pd.DataFrame({"run_name": list("abcdef"), "status": ["FINISHED"] * 5 + ["FAILED"],
                          "seed": [0, 1, 2, 0, 1, 2], "regularization.lam": [0, 0, 0, 1, 1, 1],
                          "val_cost": [0.9, 0.5, 1.3, 0.30, 0.32, np.nan],
                          "test_accuracy": [0.8, 0.9, 0.7, 0.95, 0.97, 0.1]})
    varied = ["seed", "regularization.lam"]
    stats = seed_statistics(table, varied, "val_cost")
    assert list(stats["regularization.lam"]) == [1, 0] and list(stats["rank"]) == [1, 2]  # lowest mean first
    assert list(stats["seeds"]) == [2, 3] and list(stats["failed"]) == [1, 0]
    lam0, lam1 = stats.iloc[1], stats.iloc[0]
    assert lam0["val_cost_mean"] == pytest.approx(0.9) and lam0["val_cost_std"] == pytest.approx(0.4)  # n - 1
    assert lam1["val_cost_mean"] == pytest.approx(0.31) and lam1["test_accuracy_mean"] == pytest.approx(0.96)
    assert lam1["test_accuracy_std"] == pytest.approx(np.std([0.95, 0.97], ddof=1))  # the FAILED run left out
    by_accuracy = seed_statistics(table, varied, "test_accuracy")
    assert list(by_accuracy["regularization.lam"]) == [1, 0] and "test_accuracy_std" in by_accuracy
    assert seed_statistics(table, ["regularization.lam"], "val_cost") is None  # seed not varied
    alone = seed_statistics(table.head(3), ["seed"], "val_cost")  # only the seed varies
    assert len(alone) == 1 and alone["seeds"].item() == 3 and alone["val_cost_mean"].item() == pytest.approx(0.9)
    single = seed_statistics(table.iloc[[0, 3]], varied, "val_cost")
    assert single["val_cost_std"].isna().all()  # one seed each: no spread to give


def test_a_sweep_over_seeds_reports_each_configuration_over_its_seeds(new_store):
    _, parent_id, out = sweep_and_report(new_store, *FAST, "seed=0,1", "regularization.lam=0,1",
                                         "tracking.figures=false")
    ranking = pd.read_csv(out / "ranking.csv")
    seeds = pd.read_csv(out / "seeds.csv")
    assert list(seeds.columns[:4]) == ["rank", "regularization.lam", "seeds", "failed"] and len(seeds) == 2
    for _, row in seeds.iterrows():
        runs = ranking[ranking["regularization.lam"] == row["regularization.lam"]]
        assert row["seeds"] == 2 and row["val_cost_mean"] == pytest.approx(runs["val_cost"].mean(), rel=1e-12)
        assert row["val_cost_std"] == pytest.approx(runs["val_cost"].std(ddof=1), rel=1e-12)
    assert (out / "seeds.md").read_text().startswith("| rank | regularization.lam | seeds | failed | val_cost_mean")
    logged = {a.path for a in new_store.client.list_artifacts(parent_id, "report")}
    assert {"report/seeds.csv", "report/seeds.md"} <= logged


def test_importance_is_epsilon_squared_of_ranks_and_values_worked_by_hand():
    """Six runs, lambda 1 best in every seed. On ranks, lambda: SS_between = 3 (2 - 3.5)^2 + 3 (5 - 3.5)^2 = 13.5
    of SS_total = sum (r - 3.5)^2 = 17.5, MS_within = (17.5 - 13.5) / (6 - 2) = 1, so (13.5 - 1 x 1) / 17.5; the
    seed: SS_between = 2 (1 + 0 + 1) = 4, MS_within = 13.5 / 3 = 4.5, (4 - 2 x 4.5) / 17.5 < 0, so 0. On values,
    one seed's 2.58 swamps lambda's effect (0.03)."""
    from runner.report_tables import importance

    table = pd.DataFrame({"status": ["FINISHED"] * 6 + ["FAILED"], "seed": [0, 1, 2, 0, 1, 2, 3],
                          "regularization.lam": [1, 1, 1, 0, 0, 0, 0],
                          "val_cost": [0.22, 0.23, 0.24, 0.28, 0.30, 2.58, 1e9]})
    shares = importance(table, ["seed", "regularization.lam"], "val_cost").set_index("key")
    assert list(shares.index) == ["regularization.lam", "seed"]  # by the share of ranks
    assert shares.loc["regularization.lam", "epsilon_squared_ranks"] == pytest.approx(12.5 / 17.5)
    assert shares.loc["seed", "epsilon_squared_ranks"] == 0.0
    y = np.array([0.22, 0.23, 0.24, 0.28, 0.30, 2.58])  # the FAILED run is left out
    total = ((y - y.mean()) ** 2).sum()
    by_lam = 3 * (y[:3].mean() - y.mean()) ** 2 + 3 * (y[3:].mean() - y.mean()) ** 2
    expected = (by_lam - (total - by_lam) / 4) / total
    assert shares.loc["regularization.lam", "epsilon_squared"] == pytest.approx(max(0.0, expected))
    assert 0 < shares.loc["regularization.lam", "epsilon_squared"] < 0.05
    assert (shares.loc["regularization.lam", "best"], shares.loc["regularization.lam", "worst"]) == ("1", "0")
    assert shares.loc["regularization.lam", "best_val_cost_mean"] == pytest.approx(0.23)
    maximize = importance(table.assign(val_accuracy=-table["val_cost"]), ["regularization.lam"], "val_accuracy")
    assert maximize["best"].item() == "1"


def test_importance_agrees_with_scipy_s_one_way_anova_and_bins_a_continuous_search():
    from scipy.stats import f_oneway

    from runner.report_tables import importance

    rng = np.random.default_rng(0)
    grid = pd.DataFrame([{"optimizer": o, "regularization.lam": lam, "seed": seed} for o in ("sgd", "adam", "cg")
                         for lam in (0, 0.1, 1, 10) for seed in range(3)])
    grid["val_cost"] = grid["regularization.lam"] * 0.05 + (grid["optimizer"] == "sgd") * 0.2 + rng.normal(0, 0.1,
                                                                                                             len(grid))
    grid["status"] = "FINISHED"
    shares = importance(grid, ["optimizer", "regularization.lam", "seed"], "val_cost").set_index("key")
    n = len(grid)
    for key in ("optimizer", "regularization.lam", "seed"):
        for column, y in (("epsilon_squared", grid["val_cost"]),
                          ("epsilon_squared_ranks", grid["val_cost"].rank())):
            groups = [y[grid[key] == level] for level in grid[key].unique()]
            F, k = f_oneway(*groups).statistic, len(groups)  # epsilon^2 = (k - 1)(F - 1) / ((k - 1) F + n - k)
            assert shares.loc[key, column] == pytest.approx(max(0.0, (k - 1) * (F - 1) / ((k - 1) * F + n - k)),
                                                            rel=1e-10, abs=1e-15)
    assert shares.loc["regularization.lam", "epsilon_squared"] > shares.loc["optimizer", "epsilon_squared"] > 0.05
    assert shares.loc["seed", "epsilon_squared"] == 0.0  # the seed only draws the noise
    search = pd.DataFrame({"status": "FINISHED", "optimizer.lr": 10 ** rng.uniform(-3, 0, 40),
                           "val_cost": rng.normal(size=40)})
    binned = importance(search, ["optimizer.lr"], "val_cost")
    assert binned["levels"].item() == 5 and re.fullmatch(r"\S+ to \S+", binned["best"].item())
    low, high = map(float, binned["best"].item().split(" to "))
    inside = search[(search["optimizer.lr"] > low * 0.999) & (search["optimizer.lr"] <= high * 1.001)]
    assert len(inside) == 8 and binned["best_val_cost_mean"].item() == pytest.approx(inside["val_cost"].mean())


def test_importance_leaves_out_keys_that_explain_trivially_and_tables_without_spread():
    from runner.report_tables import importance

    one_each = pd.DataFrame({"status": "FINISHED", "regularization.lam": [0, 1, 3], "val_cost": [0.3, 0.2, 0.5]})
    assert importance(one_each, ["regularization.lam"], "val_cost") is None  # every level a single run
    flat = one_each.assign(seed=[0, 0, 1], val_cost=0.4)
    assert importance(flat, ["seed"], "val_cost") is None  # no spread to explain
    assert importance(one_each.head(2), ["regularization.lam"], "val_cost") is None  # too few runs
    missing = pd.DataFrame({"status": "FINISHED", "optimizer.lr": [0.1, 0.1, None, None],
                            "val_cost": [0.3, 0.4, 0.9, 1.0]})  # lbfgs runs have no lr
    assert importance(missing, ["optimizer.lr"], "val_cost")["worst"].item() == "(none)"
    searched = pd.DataFrame({"status": "FINISHED", "optimizer.lr": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, None, None, None],
                             "val_cost": [0.3, 0.3, 0.4, 0.4, 0.5, 0.5, 0.9, 1.0, 1.1]})  # binned, and lbfgs has none
    shares = importance(searched, ["optimizer.lr"], "val_cost")
    assert shares["levels"].item() == 4 and shares["worst"].item() == "(none)"  # 3 bins and the runs without
    assert shares["best"].item() == "0.1 to 0.2"  # the values in the bin, not qcut's edges (0.0995 to 0.2)


def test_the_search_history_s_best_so_far_follows_the_direction_and_skips_failed_runs(tmp_path):
    from runner.report_figures import plot_search_history, running_best

    values = pd.Series([0.5, np.nan, 0.7, 0.3, 0.4, 0.1])
    np.testing.assert_array_equal(running_best(values, minimize=True), [0.5, 0.5, 0.5, 0.3, 0.3, 0.1])
    np.testing.assert_array_equal(running_best(values, minimize=False), [0.5, 0.5, 0.7, 0.7, 0.7, 0.7])
    np.testing.assert_array_equal(running_best(pd.Series([np.nan, 2.0]), minimize=True), [np.nan, 2.0])
    frame = pd.DataFrame({"start_time": [3, 1, 2], "status": ["FINISHED", "FAILED", "FINISHED"],
                          "val_cost": [0.2, 1e9, 0.5]})
    path = plot_search_history(frame, "val_cost", tmp_path / "search_history.png")
    assert path.read_bytes().startswith(PNG)


def drawn_search_history(monkeypatch, tmp_path, frame: pd.DataFrame, objective: str) -> dict:
    """The points plot_search_history gives matplotlib: {label: (x, y)} of its scatters and its step line."""
    from matplotlib.axes import Axes

    from runner.report_figures import plot_search_history

    drawn = {}
    for method in ("scatter", "step"):
        original = getattr(Axes, method)

        def record(ax, x, y, *args, original=original, **kwargs):
            drawn[kwargs.get("label")] = (np.asarray(x, dtype=float), np.asarray(y, dtype=float))
            return original(ax, x, y, *args, **kwargs)

        monkeypatch.setattr(Axes, method, record)
    plot_search_history(frame, objective, tmp_path / "search_history.png")
    return drawn


def test_the_search_history_draws_unfinished_trials_at_the_worst_end_and_a_last_best_visibly(monkeypatch, tmp_path):
    """Before, a trial that did not finish was drawn at the top, the best end of a maximized objective; and a best
    found by the last trial alone was one point of the step line, which draws nothing."""
    frame = pd.DataFrame({"start_time": [1, 2, 3], "sweep.job": [0, 1, 2], "status": ["FINISHED", "FAILED", "FINISHED"],
                          "val_accuracy": [0.9, np.nan, 0.5]})
    drawn = drawn_search_history(monkeypatch, tmp_path, frame, "val_accuracy")
    unfinished = next(points for label, points in drawn.items() if label.startswith("not FINISHED"))
    assert list(unfinished[1]) == [0.5]  # the lowest accuracy, the worst end
    frame = frame.assign(status=["FAILED", "KILLED", "FINISHED"])
    x, y = drawn_search_history(monkeypatch, tmp_path, frame, "val_accuracy")["best so far"]
    assert np.isfinite(y).sum() >= 2 and np.ptp(x[np.isfinite(y)]) > 0  # a step of some width


def test_a_sweep_s_summary_says_what_moves_its_objective():
    """The parent's summary (runner.sweep_runs) ranks the swept keys by importance as the report does."""
    from types import SimpleNamespace

    from runner.sweep_runs import summarize

    def job(n, lam, seed, cost, status="FINISHED"):
        return SimpleNamespace(info=SimpleNamespace(status=status, start_time=n, run_id=f"r{n}", run_name=f"j{n}"),
                               data=SimpleNamespace(metrics={"val_cost": cost},
                                                    tags={"sweep.job_overrides":
                                                          f"regularization.lam={lam} seed={seed}"}))

    costs = [0.22, 0.23, 0.24, 0.28, 0.30, 2.58]
    children = [job(n, lam, seed, cost) for n, ((lam, seed), cost) in
                enumerate(zip([(1, 0), (1, 1), (1, 2), (0, 0), (0, 1), (0, 2)], costs))] + [job(9, 3, 0, 9.9, "FAILED")]
    summary = summarize(children, "val_cost")
    assert [key for key, _ in summary.importance] == ["regularization.lam", "seed"]
    assert summary.importance[0][1] == pytest.approx(12.5 / 17.5)  # as worked by hand above
    text = summary.text("s1", "p1")
    assert "  what moves val_cost (share of the jobs' order each swept key explains alone): regularization.lam 71%, " \
           "seed 0%" in text.splitlines()
    assert summarize(children[:2], "val_cost").importance == []  # one value of lam: nothing to tell apart
    assert text.splitlines()[-1] == "  report: python -m runner.report --sweep s1"
    assert summary.text("s1", "p1", "my lab").splitlines()[-1] == \
        "  report: python -m runner.report --sweep s1 --experiment 'my lab'"  # the command must find the sweep
    nothing = summarize([], "val_cost").text("s2", "p2")  # before, it printed a report command the report refused
    assert nothing == "sweep s2: 0 of 0 jobs recorded (no runs); parent run p2", nothing


def test_the_report_page_escapes_its_text_and_orders_its_figures(tmp_path):
    from runner.plots import pyplot
    from runner.report_html import write_page

    plt = pyplot()
    for name in ("val_cost.png", "objective.png", "custom.png"):
        fig, ax = plt.subplots(figsize=(1, 1))
        fig.savefig(tmp_path / name)
        plt.close(fig)
    table = pd.DataFrame({"run_name": ["<script>alert(1)</script>"], "val_cost": [0.123456], "seed": [np.nan]})
    page = write_page(tmp_path / "report.html", "Report: <s>", "1 run & more", [("Ranking", table, "ranking.csv")],
                      [tmp_path / n for n in ("val_cost.png", "custom.png", "objective.png")]).read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<title>Report: &lt;s&gt;</title>" in page and "1 run &amp; more" in page
    assert "<td>0.1235</td>" in page and "<td></td>" in page  # 4 significant digits; NaN blank
    captions = re.findall(r"<figcaption>([\w.]+):", page)
    assert captions == ["objective.png", "val_cost.png", "custom.png"]  # the report's order, others last


@pytest.mark.slow
def test_a_sweep_s_job_or_a_single_run_given_as_a_sweep_is_named_in_one_line(store, sweep):
    """Before, either id was taken for a parent: `no runs to report in <its sweep id>` though the sweep had 4."""
    sweep_id, _, runs, _ = sweep
    job = runs[0].info.run_id
    result = report_cli(store, "--sweep", job)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: --sweep {job} is a job (child run) of sweep {sweep_id}, not a sweep; "
                                    "accepted: a sweep id or a parent run id")
    assert f"(--sweep {sweep_id} reports its sweep, --runs {job} this run alone)" in result.stderr
    client = store.client
    single = client.create_run(client.get_experiment_by_name("backprop-lab").experiment_id).info.run_id
    try:
        result = report_cli(store, "--sweep", single)
    finally:
        client.delete_run(single)  # the module's other tests see the sweep alone
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"error: --sweep {single} is a single run, not a sweep; accepted: a sweep id or a "
                                    f"parent run id (--runs {single} reports this run)")


@pytest.mark.slow
def test_an_experiment_without_a_sweep_reports_every_run_and_says_so(new_store):
    """The default is the latest sweep; where there is none, every run is reported, which is said in one line."""
    result = new_store.cli(*FAST, "tracking.experiment=other", "tracking.figures=false")
    assert result.returncode == 0, result.stderr[-3000:]
    report = report_cli(new_store, "--experiment", "other")
    assert report.returncode == 0, report.stderr
    from runner.report import store_mark

    assert report.stdout.startswith(f"experiment-other{store_mark(new_store.uri)}: 1 run ranked by val_cost")
    assert store_mark(new_store.uri).startswith("-store-")  # not the default store: its folder names it
    assert report.stderr == "note: experiment other holds no sweep, so every run of it is reported (as --all)\n"
    every = report_cli(new_store, "--experiment", "other", "--all")
    assert every.returncode == 0 and every.stderr == ""  # asked for every run: nothing to explain


@pytest.mark.slow
def test_every_run_leaves_out_the_attempts_a_resume_ran_again_and_runs_keeps_one_it_names(new_store):
    """A resume sets a stopped sweep's KILLED attempt aside (tag sweep.retried) and runs its job again: --all counted
    both, so the seeds table said `failed 1` where --sweep, which leaves the attempt out, said 0."""
    result = new_store.cli("-m", *FAST, "seed=0,1", "tracking.figures=false")
    assert result.returncode == 0, result.stderr[-3000:]
    sweep_id, parent_id = re.search(r"^sweep (\S+): parent run (\w+)", result.stdout, re.MULTILINE).groups()
    client = new_store.client
    experiment_id = client.get_experiment_by_name("backprop-lab").experiment_id
    runs = client.search_runs([experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'")
    stopped = next(run.info.run_id for run in runs if run.data.params["seed"] == "1")
    client.set_terminated(stopped, "KILLED")  # as a SIGTERM mid-job leaves it
    client.set_terminated(parent_id, "FAILED")
    resumed = new_store.module("runner.resume", sweep_id)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert client.get_run(stopped).data.tags["sweep.retried"] == "true"
    counted = {run.info.run_id for run in client.search_runs([experiment_id], f"tags.`sweep.id` = '{sweep_id}'")
               if run.info.run_id not in (stopped, parent_id)}
    assert len(counted) == 2  # seed 0, and seed 1 again
    narrower = f"tags.`sweep.id` = '{sweep_id}'"
    for args in (["--all"], ["--all", "--filter", narrower]):
        report = report_cli(new_store, *args)
        assert report.returncode == 0, report.stderr
        out = Path(report.stdout.splitlines()[-1].removeprefix("report: "))
        assert set(pd.read_csv(out / "ranking.csv")["run_id"]) == counted, args
        seeds = pd.read_csv(out / "seeds.csv")
        assert (seeds["seeds"].tolist(), seeds["failed"].tolist()) == ([2], [0]), args
    named = report_cli(new_store, "--runs", stopped, *counted)  # named by id: reported, as asked
    assert named.returncode == 0, named.stderr
    out = Path(named.stdout.splitlines()[-1].removeprefix("report: "))
    assert set(pd.read_csv(out / "ranking.csv")["run_id"]) == counted | {stopped}


def logged_sweep(store, experiment: str, lams: list[float], seeds: int = 1, steps: int = 5) -> str:
    """A sweep logged straight with MlflowClient, as runner logs one (no training): a parent, and a job per lambda
    and seed with its params, choice.* and sweep tags, metric histories and final metrics. Returns the sweep id."""
    from mlflow.entities import Metric, Param

    client = store.client
    experiment_id = client.create_experiment(experiment, artifact_location=(store.root / "artifacts").as_uri())
    sweep_id = f"sweep-{experiment}"
    parent = client.create_run(experiment_id, run_name="sweep", tags={
        "sweep.id": sweep_id, "sweep.role": "parent", "sweep.objective": "val_cost",
        "sweep.space": "regularization.lam=... seed=..."}).info.run_id
    rng = np.random.default_rng(len(lams) * seeds)
    for job, (lam, seed) in enumerate((lam, seed) for lam in lams for seed in range(seeds)):
        tags = {"mlflow.parentRunId": parent, "sweep.id": sweep_id, "sweep.role": "job", "sweep.job": str(job),
                "choice.optimizer": "batch_gd"}
        run_id = client.create_run(experiment_id, run_name=f"regularization.lam={lam:g} seed={seed}",
                                   tags=tags).info.run_id
        curve = 0.7 * np.exp(-np.arange(steps) / (1 + lam)) + 0.1 * rng.random()
        metrics = [Metric(key, float(value), 0, step) for step, cost in enumerate(curve) for key, value in
                   (("train_cost", cost), ("val_cost", cost * 1.1), ("val_accuracy", 1 - cost / 2))]
        metrics += [Metric(key, float(value), 0, steps - 1) for key, value in
                    (("train_data_cost", curve[-1]), ("test_accuracy", rng.random()), ("train_seconds", 0.5))]
        params = {"regularization.lam": f"{lam:g}", "seed": str(seed), "optimizer.lr": "1"}
        client.log_batch(run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()])
        client.set_terminated(run_id, "FAILED" if job == 1 else "FINISHED")
    client.set_terminated(parent, "FINISHED")
    return sweep_id


@pytest.mark.slow
def test_experiments_of_one_name_in_two_stores_get_a_report_folder_each(new_store, _store_template, tmp_path,
                                                                         monkeypatch, capsys):
    """Before, --all wrote both stores' experiment `twin` into outputs/reports/experiment-twin: the second store's
    report overwrote the first's files. The default store (outputs/mlflow.db) keeps the plain name."""
    from conftest import _store_from
    from runner.errors import run_command
    from runner.paths import default_tracking_uri
    from runner.report import digest, main
    from runner.store import normalized_uri

    (tmp_path / "other").mkdir()
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    shutil.copyfile(_store_template, outputs / "mlflow.db")
    stores = [new_store, _store_from(_store_template, tmp_path / "other"), type(new_store)(outputs)]
    monkeypatch.setenv("BACKPROP_LAB_OUTPUTS", str(outputs))  # every report into one outputs folder
    assert stores[2].uri == default_tracking_uri()
    folders = []
    for index, store in enumerate(stores):
        logged_sweep(store, "twin", [0, 1, 3, 10][: index + 2])
        assert run_command(main, ["--experiment", "twin", "--all", "--tracking-uri", store.uri]) == 0
        printed = Path(capsys.readouterr().out.splitlines()[-1].removeprefix("report: "))
        assert len(pd.read_csv(printed / "ranking.csv")) == index + 2  # the printed folder holds this store's runs
        folders.append(printed)
    marks = [f"-store-{digest(normalized_uri(store.uri))}" for store in stores[:2]]
    assert folders == [outputs / "reports" / f"experiment-twin{mark}" for mark in [*marks, ""]]
    assert [len(pd.read_csv(folder / "ranking.csv")) for folder in folders] == [2, 3, 4]  # none overwritten


def test_the_report_page_shows_a_long_table_s_best_rows_and_says_how_many_more_its_csv_holds(tmp_path):
    """Before, report.html held every row: a sweep of hundreds of runs made a page of megabytes of ranking."""
    from runner.report_html import MAX_ROWS, write_page

    def page(rows: int) -> str:
        table = pd.DataFrame({"rank": range(1, rows + 1), "val_cost": np.linspace(0.1, 1, rows)})
        return write_page(tmp_path / "report.html", "Report", "lead", [("Ranking", table, "ranking.csv")],
                          []).read_text()

    long = page(MAX_ROWS + 70)
    assert long.count("<tr>") == MAX_ROWS  # the body rows: the best MAX_ROWS
    assert f"<td>{MAX_ROWS}</td>" in long and f"<td>{MAX_ROWS + 1}</td>" not in long
    assert "<p>... 70 more rows in ranking.csv</p>" in long
    assert "more row" not in page(MAX_ROWS) and page(MAX_ROWS).count("<tr>") == MAX_ROWS
    assert "<p>... 1 more row in ranking.csv</p>" in page(MAX_ROWS + 1)


@pytest.mark.slow
def test_a_logged_sweep_s_tables_are_as_before_and_its_runs_figures_are_read_without_asking_the_store_again(
        new_store, monkeypatch, capsys):
    """The faster report (figures read from each run's artifact URI, panels tiled into one image) writes the tables
    it wrote before (their digests, from the report before the change). Before, each run's figures were fetched with
    one MlflowClient.download_artifacts per figure, each asking the store for the run again: 5 calls a run."""
    import hashlib

    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from runner.errors import run_command
    from runner.plots import pyplot
    from runner.report import main

    sweep_id = logged_sweep(new_store, "gold", [0, 1, 3], seeds=2)
    client = new_store.client
    children = client.search_runs([client.get_experiment_by_name("gold").experiment_id], "tags.`sweep.role` = 'job'")
    figure = pyplot().figure(figsize=(1, 1))
    figure.savefig(new_store.root / "decision_regions.png")
    for run in children:
        if run.data.params["seed"] == "0":  # half the runs drew the figure
            client.log_artifact(run.info.run_id, str(new_store.root / "decision_regions.png"))
    asked, get_run = [], SqlAlchemyStore.get_run

    def counted_get_run(store, run_id):
        asked.append(run_id)
        return get_run(store, run_id)

    monkeypatch.setattr(SqlAlchemyStore, "get_run", counted_get_run)
    monkeypatch.setenv("BACKPROP_LAB_OUTPUTS", str(new_store.root / "outputs"))
    assert run_command(main, ["--experiment", "gold", "--tracking-uri", new_store.uri]) == 0
    assert not set(asked) & {run.info.run_id for run in children}
    folder = Path(capsys.readouterr().out.splitlines()[-1].split(" (")[0].removeprefix("report: "))
    assert folder.name == sweep_id and (folder / "decision_regions.png").exists()
    assert not (folder / "hidden_weights.png").exists()
    ranking = pd.read_csv(folder / "ranking.csv").drop(columns="run_id")
    assert list(ranking["run_name"]) == [f"regularization.lam={lam} seed={seed}" for lam, seed in
                                         ((0, 0), (1, 1), (1, 0), (3, 1), (3, 0), (0, 1))]  # the FAILED one last
    digests = [hashlib.sha256(text.encode()).hexdigest()[:16] for text in
               (ranking.to_csv(index=False), (folder / "seeds.csv").read_text(),
                (folder / "importance.csv").read_text())]
    assert digests == ["82f0930dde350057", "30818f89eacec8e4", "583c3546ade3fdca"]


def test_a_sweep_whose_parent_is_running_is_noted_still_running_or_its_process_gone(new_store, tmp_path, monkeypatch,
                                                                                    capsys):
    """Before, the report of a sweep whose launching process was killed outright (kill -9, out of memory) did not say
    that its parent run, RUNNING in the dashboard, will stay so: now one line on stderr names runner.resume --force,
    and for a sweep still running, that the report holds the runs recorded so far."""
    import os
    import socket

    from runner.errors import run_command
    from runner.report import main
    from runner.tracking import process_tags

    monkeypatch.setenv("BACKPROP_LAB_OUTPUTS", str(tmp_path / "outputs"))  # new_store is not the default store
    sweep_id = logged_sweep(new_store, "live", [0, 1, 3])
    client = new_store.client
    (parent,) = client.search_runs([client.get_experiment_by_name("live").experiment_id],
                                   "tags.`sweep.role` = 'parent'")
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    args = ["--experiment", "live", "--sweep", sweep_id, "--tracking-uri", new_store.uri]
    assert run_command(main, args) == 0
    assert "note:" not in capsys.readouterr().err  # a FINISHED parent: nothing to say
    client.update_run(parent.info.run_id, status="RUNNING")
    for tags, said in (
            (process_tags(), f"note: sweep {sweep_id} is still running (its launching process {os.getpid()}): "
                             "this report holds the runs recorded so far"),
            ({"process.host": socket.gethostname(), "process.pid": ended.stdout.strip()},
             f"note: sweep {sweep_id}'s parent run is RUNNING, but its launching process {ended.stdout.strip()} is "
             f"gone (killed outright, or out of memory): MLFLOW_TRACKING_URI={new_store.uri} python -m runner.resume "
             f"{sweep_id} --experiment live --force ends its RUNNING runs"),
            ({"process.host": "elsewhere"}, f"note: sweep {sweep_id}'s parent run is RUNNING: it still runs on "
                                             "elsewhere, or its launching process was killed outright there")):
        for key, value in tags.items():
            client.set_tag(parent.info.run_id, key, value)
        assert run_command(main, args) == 0
        printed = capsys.readouterr()
        assert said in printed.err, printed.err
        assert printed.out.splitlines()[-1].startswith("report: ")  # stdout still ends with the report's folder
