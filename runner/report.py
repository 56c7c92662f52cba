"""`python -m runner.report`: a sweep (or a whole experiment) as a ranked table and figures.

    python -m runner.report                      # the latest sweep of experiment backprop-lab (every run when none)
    python -m runner.report --sweep ID           # a sweep by its id (tag sweep.id) or parent run id
    python -m runner.report --all                # every run of the experiment, less attempts a resume ran again
    python -m runner.report --runs ID ID ...     # these runs, e.g. single runs made by hand
    python -m runner.report --all --filter "tags.`choice.optimizer` = 'sgd'"   # only the runs an MLflow filter matches

Writes, under outputs/reports/<sweep id>/: ranking.csv and ranking.md (the config params
that vary across the runs, their final metrics and status, best first by the sweep's
objective), seeds.csv and seeds.md when seed varies (each configuration's metrics as mean and
standard deviation over its seeds), importance.csv and importance.md (the share of the objective's spread
each varied key explains alone; the tables: runner.report_tables), train_cost.png, val_cost.png and
val_accuracy.png (every run's curve; the last two when the runs have a validation part),
objective.png (the objective against each varied parameter), search_history.png for an Optuna search
(each trial's objective in start order and the best so far),
bias_variance.png (training and validation error against each numeric varied parameter:
the course's learning curve for dataset.train_size, validation curve for lambda) and the
runs' own figures side by side (up to MAX_PANELS runs): decision_regions.png and
hidden_units.png for two-feature data, hidden_weights.png for images, confusion_matrix.png, cost_path.png
(tracking.cost_path); report.html, all of it on one page
(runner.report_html); logs them as artifacts of the sweep's parent run. A report narrowed by --filter or ranked by
another --objective than the sweep's goes to a folder of its own (variant) and leaves the parent's description alone.

Every run of an experiment (--all) goes under outputs/reports/experiment-<name>/, of a store other than the default
(outputs/mlflow.db) under experiment-<name>-store-<digest of its URI>/ (store_mark).

Metric histories are read in bulk: one SQL query on the `metrics` table for a database
store, a thread pool of get_metric_history calls for an MLflow server; the runs' own figures straight from each run's
artifact URI, one listing a run (run_figures). The HTML page shows a long table's best rows (report_html.MAX_ROWS).
"""
from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from runner.data_inputs import text_digest
from runner.errors import UserError, run_command
from runner.report_figures import (natural_key, plot_bias_variance, plot_curves, plot_objective, plot_panels,
                                   plot_search_history, short_label)
from runner.report_html import write_page
from runner.report_tables import description, importance, markdown, ranking, seed_statistics
from runner.paths import default_tracking_uri, outputs_dir
from runner.sweep_runs import all_runs, direction, launch_order, ranked_metric, resume_command, sweep_children
from runner.settings import OBJECTIVES
from runner.store import deleted_experiment, normalized_uri, open_client, resolve_tracking_uri, same_store

DATABASES = ("sqlite", "postgresql", "mysql", "mssql")
MAX_PANELS = 16
MAX_NAMED = 20  # experiments an unknown --experiment lists
RUN_FIGURES = {"decision_regions.png": "decision regions", "hidden_units.png": "first hidden layer's units",
               "hidden_weights.png": "first hidden layer's weights", "confusion_matrix.png": "confusion matrices",
               "cost_path.png": "cost from start to end (tracking.cost_path)"}
"""The runs' own figures that the report lays side by side, and what they show."""


def open_experiment(client, uri: str, name: str):
    """The active experiment `name` of the store at `uri`: one missing or deleted in the store (mlflow ui, `mlflow
    experiments delete`) is a UserError naming the experiments there, or how to restore the deleted one."""
    found = client.get_experiment_by_name(name)
    if found is None:
        names = [experiment.name for experiment in client.search_experiments(max_results=MAX_NAMED)]
        raise UserError(f"--experiment {name!r} does not exist in {uri}; accepted: an experiment of the store ("
                        f"{', '.join(names) or 'it holds none'}{', ...' if len(names) == MAX_NAMED else ''})")
    if found.lifecycle_stage == "deleted":
        raise deleted_experiment(f"--experiment {name!r}", uri, found.experiment_id, "another (--experiment NAME)")
    return found


def find_parent(client, experiment_id: str, sweep: str | None):
    """The parent run of sweep `sweep` (its sweep.id tag or run id); the latest sweep's when None."""
    parents = "tags.`sweep.role` = 'parent'"
    if sweep is None:
        found = client.search_runs([experiment_id], parents, max_results=1, order_by=["attributes.start_time DESC"])
        return found[0] if found else None
    if not sweep.replace("-", "").replace("_", "").isalnum():
        raise UserError(f"--sweep {sweep!r} is invalid; accepted: a sweep id (20261127-211722-7cb4) or a run id")
    found = client.search_runs([experiment_id], f"{parents} and tags.`sweep.id` = '{sweep}'", max_results=1)
    found = found or client.search_runs([experiment_id], f"attributes.run_id = '{sweep}'")
    if not found:
        raise UserError(f"--sweep {sweep} is not a sweep of this experiment; "
                        "accepted: a sweep id (tag sweep.id) or a parent run id")
    return found[0]


def sweep_parent(client, experiment_id: str, sweep: str | None):
    """find_parent, refusing a run that is not a sweep's parent: a sweep's job (child run) names its sweep, a
    single run --runs. (runner.resume calls find_parent itself and words its own refusal of such a run.)"""
    run = find_parent(client, experiment_id, sweep)
    tags = run.data.tags if run is not None else {}
    if run is None or tags.get("sweep.role") == "parent":
        return run
    if tags.get("mlflow.parentRunId"):
        owner = tags.get("sweep.id") or tags["mlflow.parentRunId"]
        raise UserError(f"--sweep {sweep} is a job (child run) of sweep {owner}, not a sweep; accepted: a sweep id or "
                        f"a parent run id (--sweep {owner} reports its sweep, --runs {sweep} this run alone)")
    raise UserError(f"--sweep {sweep} is a single run, not a sweep; accepted: a sweep id or a parent run id "
                    f"(--runs {sweep} reports this run)")


def counted(run) -> bool:
    """Whether a run belongs in a report of every run: not a sweep's parent (it trains nothing) nor an attempt a
    resumed sweep ran again (tag sweep.retried), which runner.sweep_runs.sweep_children leaves out of a sweep too."""
    return run.data.tags.get("sweep.role") != "parent" and run.data.tags.get("sweep.retried") != "true"


def runs_frame(runs: list) -> pd.DataFrame:
    """One row per run: id, name, status, start time, its job's number in its sweep (sweep.job, inf for a single
    run), params, final metrics, config choices (choice.*)."""
    return pd.DataFrame([{"run_id": run.info.run_id, "run_name": run.info.run_name, "status": run.info.status,
                          "start_time": run.info.start_time, "sweep.job": launch_order(run)[0], **run.data.params,
                          **_choices(run), **run.data.metrics}
                         for run in runs])


def _choices(run) -> dict[str, str]:
    """The run's config group choices, from its choice.* tags: {'optimizer': 'sgd', ...}."""
    return {k.removeprefix("choice."): v for k, v in run.data.tags.items() if k.startswith("choice.")}


def varied_columns(frame: pd.DataFrame, params: set[str], space: list[str]) -> list[str]:
    """Params and config choices taking more than one value across the runs (`_target_`s: by choice),
    in the order of the sweep's search space `space` (keys such as 'optimizer', 'architecture.hidden.0')."""
    varied = [c for c in frame.columns if c in params and not c.endswith("._target_")
              and frame[c].dropna().astype(str).nunique() > 1]

    def position(column: str) -> int:
        return next((i for i, key in enumerate(space) if key == column or key.startswith(column + ".")), len(space))

    return sorted(varied, key=position)


def metric_histories(uri: str, client, experiment_id: str, run_ids: list[str], key: str) -> pd.DataFrame:
    """(run_id, step, value) of metric `key` for the runs: one SQL query, or a thread pool over HTTP."""
    if uri.split(":", 1)[0].split("+", 1)[0] in DATABASES:
        import sqlalchemy

        query = sqlalchemy.text("SELECT m.run_uuid AS run_id, m.step, m.value, m.is_nan FROM metrics m "
                                "JOIN runs r ON r.run_uuid = m.run_uuid "
                                "WHERE r.experiment_id = :experiment AND m.key = :key")
        engine = sqlalchemy.create_engine(uri)
        try:
            with engine.connect() as connection:
                rows = pd.read_sql(query, connection, params={"experiment": int(experiment_id), "key": key})
        finally:
            engine.dispose()
        rows.loc[rows["is_nan"].astype(bool), "value"] = np.nan
        rows = rows[rows["run_id"].isin(set(run_ids))].drop(columns="is_nan")
    else:
        def history(run_id):
            return [(run_id, m.step, m.value) for m in client.get_metric_history(run_id, key)]

        with ThreadPoolExecutor(max_workers=16) as pool:
            rows = pd.DataFrame([row for rows in pool.map(history, run_ids) for row in rows],
                                columns=["run_id", "step", "value"])
    return rows.sort_values(["run_id", "step"]).reset_index(drop=True)


def panel_rows(table: pd.DataFrame, varied: list[str]) -> tuple[list[dict], int]:
    """The ranking's rows whose own figures are laid side by side, and the columns to lay them out in: up to
    MAX_PANELS runs, all of them in the order of their swept values, the last key across (a grid of its values when
    they are 4 or fewer); past it the MAX_PANELS best, best first."""
    records = table.to_dict("records")
    columns = 4
    if len(records) <= MAX_PANELS and varied:
        records.sort(key=lambda row: [_order(row[column]) for column in varied])
        columns = min(table[varied[-1]].astype(str).nunique(), 4)
    return records[:MAX_PANELS], columns


def run_figures(uri: str, artifact_uris: dict[str, str], folder: Path) -> dict[str, dict[str, Path]]:
    """{run id: {figure: its copy under folder/<run id>/}} of the RUN_FIGURES each run (id: artifact URI) drew. One
    listing of a run's artifacts, then a download of each figure it holds, the runs in parallel (a server answers
    each request in a round trip). Before, MlflowClient.download_artifacts for every run and figure fetched the run
    again each time and, for a figure the run lacked, searched its logged models too: 80 calls and 7 s of a report."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    def fetch(run_id: str) -> tuple[str, dict[str, Path]]:
        target = folder / run_id
        target.mkdir(parents=True, exist_ok=True)
        try:
            repository = get_artifact_repository(artifact_uris[run_id], tracking_uri=uri)
            drawn = [item.path for item in repository.list_artifacts() if item.path in RUN_FIGURES]
            return run_id, {name: Path(repository.download_artifacts(name, str(target))) for name in drawn}
        except Exception:  # its artifacts cannot be read (gone, or their store away): it gives no panel
            return run_id, {}

    with ThreadPoolExecutor(max_workers=16) as pool:
        return dict(pool.map(fetch, artifact_uris))


def figure_panels(rows: list[dict], drawn: dict[str, dict[str, Path]], varied: list[str], objective: str,
                  figure: str) -> list[tuple[str, Path]]:
    """(label, image) of `figure` (a run artifact such as decision_regions.png) for the rows (panel_rows) whose run
    drew it (drawn: run_figures), labelled with the run's rank, swept values and objective."""
    panels = []
    for row in rows:
        image = drawn.get(row["run_id"], {}).get(figure)
        if image is not None:
            values = " ".join(f"{column}={short_label(row[column])}" for column in varied) or row["run_name"]
            panels.append((f"#{row['rank']} {values}\n{objective} {row[objective]:.4g}", image))
    return panels


def _order(value) -> tuple:
    """A sort key for one swept value: numbers by size, then text with its digit runs as numbers ('[8]' < '[32]')."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, natural_key(str(value)))


def select_runs(client, uri: str, experiment_id: str, args: argparse.Namespace) -> tuple:
    """(parent run or None, the runs to report, the report's name): a sweep's children, the runs named by
    --runs, or every run (--all, or no --sweep in an experiment that holds no sweep, which is said on stderr; named
    after the experiment and, but for the default store, the store at `uri`: store_mark);
    only those --filter matches, when given. A sweep and every run leave out the attempts a resume ran again (tag
    sweep.retried); --runs keeps such a run when it names it."""
    from mlflow.exceptions import MlflowException

    narrower = args.filter or ""
    try:
        if args.runs:
            runs = named_runs(client, experiment_id, args, narrower)
            parent, name = None, "runs-" + digest(" ".join(sorted(set(args.runs))))
        elif (parent := None if args.all else sweep_parent(client, experiment_id, args.sweep)) is None:
            runs = [run for run in all_runs(client, [experiment_id], narrower) if counted(run)]
            name = f"experiment-{args.experiment}{store_mark(uri)}"
            if runs and not args.all:
                print(f"note: experiment {args.experiment} holds no sweep, so every run of it is reported (as --all)",
                      file=sys.stderr)
        else:
            runs = sweep_children(client, experiment_id, parent.info.run_id, narrower)
            name = parent.data.tags.get("sweep.id", parent.info.run_id)
    except MlflowException as error:
        if not narrower:
            raise
        raise UserError(f"--filter {narrower!r} is invalid ({' '.join(error.message.split())}); accepted: an MLflow "
                        "search filter, e.g. \"metrics.val_accuracy > 0.9 and params.`regularization.lam` = '1'\" "
                        "or \"tags.`choice.optimizer` = 'sgd'\"") from None
    return parent, runs, name


def store_mark(uri: str) -> str:
    """What an experiment's report adds to its folder's name for a store other than the default one (outputs/
    mlflow.db): '-store-<digest of the store's URI>', so that experiments of one name in two stores, reported into
    one outputs folder, do not overwrite each other's files. A sweep's and --runs' names are their runs' ids,
    which MLflow draws at random, so they differ from store to store already."""
    return "" if same_store(uri, default_tracking_uri()) else f"-store-{digest(normalized_uri(uri))}"


def named_runs(client, experiment_id: str, args: argparse.Namespace, narrower: str) -> list:
    """The runs of the experiment with the ids of --runs (every id must name one), those `narrower` matches."""
    run_ids = args.runs
    bad = [run_id for run_id in run_ids if not run_id.isalnum()]
    if bad:
        raise UserError(f"--runs {bad[0]!r} is invalid; accepted: run ids (32 hexadecimal digits, as a run's summary "
                        "and the dashboard show them)")
    listed = "attributes.run_id IN (" + ", ".join(f"'{run_id}'" for run_id in dict.fromkeys(run_ids)) + ")"
    found = {run.info.run_id: run for run in all_runs(client, [experiment_id], listed)}
    unknown = [run_id for run_id in run_ids if run_id not in found]
    if unknown:
        raise UserError(f"--runs {unknown[0]} is not a run of experiment {args.experiment}; accepted: ids of its "
                        "runs (--experiment NAME for runs of another)")
    parents = [run_id for run_id, run in found.items() if run.data.tags.get("sweep.role") == "parent"]
    if parents:
        raise UserError(f"--runs {parents[0]} is a sweep's parent run, which trains nothing; accepted: ids of runs "
                        f"that trained (--sweep {parents[0]} reports its jobs)")
    return all_runs(client, [experiment_id], " and ".join(filter(None, [listed, narrower])))


def variant(args: argparse.Namespace, own_objective: str) -> str:
    """What a report narrowed by --filter or ranked by another --objective than `own_objective` (the sweep's) adds
    to its folder's name and to the parent's artifacts folder (report<variant>/), so that it overwrites neither the
    whole report nor the parent's description: '-filter-<digest>', '-objective-<name>', both, or ''."""
    narrowed = f"-filter-{digest(args.filter)}" if args.filter else ""
    other = args.objective and args.objective != own_objective
    return narrowed + (f"-objective-{args.objective}" if other else "")


def digest(text: str) -> str:
    """8 hexadecimal digits of text's sha256: a short, stable name for a selection of runs."""
    return text_digest(text, 8)


@dataclass
class Source:
    """Where the report's figures read from: the store (its client and URI), the experiment, and the artifact URI of
    each run reported (run id: URI)."""

    client: object
    uri: str
    experiment_id: str
    artifact_uris: dict[str, str]


def write_figures(source: Source, table: pd.DataFrame, varied: list[str], objective: str, out: Path) -> list[str]:
    """The report's figures, written into out: the cost curves (train, and validation cost and
    accuracy when the runs have a validation part), the objective against each varied value, the training and validation
    error against each numeric one, the runs' own figures side by side (RUN_FIGURES). Returns their file
    names; figures a rerun no longer draws are removed."""
    files = []
    for key in ("train_cost", "val_cost", "val_accuracy"):  # accuracy compares runs of different costs
        (out / f"{key}.png").unlink(missing_ok=True)  # from an earlier report of these runs
        histories = metric_histories(source.uri, source.client, source.experiment_id, list(table["run_id"]), key)
        if key == "train_cost" or len(histories):
            files.append(plot_curves(histories, table, key, out / f"{key}.png").name)
    files.append(plot_objective(table, varied, objective, out / "objective.png").name)
    (out / "bias_variance.png").unlink(missing_ok=True)
    if plot_bias_variance(table, varied, out / "bias_variance.png"):
        files.append("bias_variance.png")
    rows, columns = panel_rows(table, varied)
    with tempfile.TemporaryDirectory() as folder:
        drawn = run_figures(source.uri, {row["run_id"]: source.artifact_uris[row["run_id"]] for row in rows},
                            Path(folder))
        for figure, shows in RUN_FIGURES.items():
            (out / figure).unlink(missing_ok=True)
            panels = figure_panels(rows, drawn, varied, objective, figure)
            if panels:
                shown = f"{len(panels)} of {len(table)} runs" if len(panels) < len(table) else f"all {len(table)} runs"
                plot_panels(panels, columns, out / figure, f"{shows} of {shown}")
                files.append(figure)
    return files


def report(client, uri: str, args: argparse.Namespace) -> Path:
    """Build the table and figures, write them under outputs/reports/<name>/, log them on the parent."""
    experiment = open_experiment(client, uri, args.experiment)
    parent, runs, name = select_runs(client, uri, experiment.experiment_id, args)
    if not runs:
        matched = f" (--filter {args.filter!r} matched none of its runs)" if args.filter else ""
        raise UserError(f"no runs to report in {name}{matched}; accepted: a sweep or experiment with runs")
    tags = parent.data.tags if parent else {}
    suffix = variant(args, tags.get("sweep.objective") or "val_cost")
    name += suffix
    objective = args.objective or tags.get("sweep.objective") or "val_cost"
    direction(objective)  # an unknown objective fails here, before any work
    frame = runs_frame(runs)
    objective = ranked_metric([run.data.metrics for run in runs], objective)  # as the sweep's summary ranks
    if args.objective and objective not in frame.columns:
        logged = [metric for metric in OBJECTIVES if metric in frame.columns]
        raise UserError(f"--objective {args.objective} is invalid for {name}: none of its runs logged it (a test_ "
                        f"metric needs a test part); accepted: {', '.join(logged) or 'a metric the runs logged'}")
    params = {key for run in runs for key in [*run.data.params, *_choices(run)]}
    space = [spec.split("=", 1)[0].lstrip("+~") for spec in tags.get("sweep.space", "").split() if "=" in spec]
    varied = varied_columns(frame, params, space)
    table = ranking(frame, varied, objective)
    out = outputs_dir() / "reports" / name
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ranking.csv", index=False)
    (out / "ranking.md").write_text(markdown(table))
    files = ["ranking.csv", "ranking.md"]
    swept = [c for c in varied if any(key == c or key.startswith(c + ".") for key in space)] if space else varied
    seeds, shares = seed_statistics(table, varied, objective), importance(table, swept, objective)
    for stem, extra in (("seeds", seeds), ("importance", shares)):
        (out / f"{stem}.csv").unlink(missing_ok=True)  # from an earlier report of these runs
        (out / f"{stem}.md").unlink(missing_ok=True)
        if extra is not None:
            extra.to_csv(out / f"{stem}.csv", index=False)
            (out / f"{stem}.md").write_text(markdown(extra))
            files += [f"{stem}.csv", f"{stem}.md"]
    source = Source(client, uri, experiment.experiment_id, {run.info.run_id: run.info.artifact_uri for run in runs})
    files += write_figures(source, table, varied, objective, out)
    (out / "search_history.png").unlink(missing_ok=True)
    if tags.get("sweep.sweeper") == "OptunaSweeper":  # a search's order means something; a grid's does not
        files.append(plot_search_history(frame, objective, out / "search_history.png").name)
    lead = (f"{len(table)} run{'' if len(table) == 1 else 's'} ranked by {objective} ({direction(objective)}), best "
            f"first" + (f"; sweep space: {tags['sweep.space']}" if tags.get("sweep.space") else "")
            + (f"; only the runs matching {args.filter}" if args.filter else "") + ".")
    tables = [(heading, t, file) for heading, t, file in ((f"What moves {objective}", shares, "importance.csv"),
                                                          ("Over seeds", seeds, "seeds.csv"),
                                                          ("Ranking", table.drop(columns=["run_id"]), "ranking.csv"))
              if t is not None]
    files.append(write_page(out / "report.html", f"Report: {name}", lead, tables,
                            [out / f for f in files if f.endswith(".png")]).name)
    folder = f"report{suffix}"
    if parent is not None:
        for file in files:
            client.log_artifact(parent.info.run_id, str(out / file), folder)
        if not suffix:  # the parent's description is its whole sweep's ranking by its own objective
            client.set_tag(parent.info.run_id, "mlflow.note.content", description(name, table, objective, files,
                                                                                   shares))
    print(f"{name}: {len(table)} run{'' if len(table) == 1 else 's'} ranked by {objective} ({direction(objective)})")
    print(markdown(table.drop(columns=["run_id"]).head(args.top)), end="")
    if len(table) > args.top:
        print(f"... {len(table) - args.top} more rows in ranking.csv")
    if seeds is not None:
        print(f"over seeds: {len(seeds)} configuration{'' if len(seeds) == 1 else 's'}, mean and standard deviation")
        print(markdown(seeds.head(args.top)), end="")
    if shares is not None:
        print(f"what moves {objective}: the share of its spread over the FINISHED runs each swept key explains alone "
              "(epsilon squared of its ranks, then of its values)")
        print(markdown(shares), end="")
    print(f"report: {out}" + (f" (and artifacts {folder}/ of run {parent.info.run_id})" if parent else ""))
    if parent is not None and (note := running_note(parent, args.experiment, uri)):
        print(note, file=sys.stderr)
    return out


def running_note(parent, experiment: str, uri: str) -> str | None:
    """A line for a sweep whose parent run is RUNNING: still running (its launching process lives: the report holds
    the runs recorded so far), or left RUNNING by a launching process killed outright, which runner.resume --force
    ends; None for a sweep that has ended. The process is the parent's tags process.pid and process.host."""
    from runner.tracking import running_process

    if parent.info.status != "RUNNING":
        return None
    tags = parent.data.tags
    sweep_id = tags.get("sweep.id", parent.info.run_id)
    force = f"{resume_command(sweep_id, experiment, uri)} --force"
    pid = running_process(tags)
    if pid is not None:
        return (f"note: sweep {sweep_id} is still running (its launching process {pid}): this report holds the runs "
                "recorded so far")
    host, recorded = tags.get("process.host"), tags.get("process.pid")
    if not (host and recorded):  # a parent made before runs recorded their process
        return (f"note: sweep {sweep_id}'s parent run is RUNNING: it still runs, or its launching process was killed "
                f"outright (then {force} ends its RUNNING runs)")
    if host != socket.gethostname():
        return (f"note: sweep {sweep_id}'s parent run is RUNNING: it still runs on {host}, or its launching process "
                f"was killed outright there (then {force} on that machine ends its RUNNING runs)")
    return (f"note: sweep {sweep_id}'s parent run is RUNNING, but its launching process {recorded} is gone (killed "
            f"outright, or out of memory): {force} ends its RUNNING runs (and a grid sweep then runs again the jobs "
            "that did not finish)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", default="backprop-lab", help="experiment name (default: backprop-lab)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--sweep", help="sweep id or parent run id (default: the latest sweep; every run when the "
                                       "experiment holds no sweep)")
    which.add_argument("--all", action="store_true", help="every run of the experiment, not one sweep (less the "
                                                          "attempts a resume ran again)")
    which.add_argument("--runs", nargs="+", metavar="RUN_ID", help="these runs of the experiment, e.g. single runs")
    parser.add_argument("--filter", help="only the runs this MLflow search filter matches, e.g. "
                                         "\"tags.`choice.optimizer` = 'sgd'\" or \"metrics.val_accuracy > 0.9\"")
    parser.add_argument("--objective", help="rank by this metric (default: the sweep's tracking.objective)")
    parser.add_argument("--tracking-uri", help="default: MLFLOW_TRACKING_URI, else SQLite under outputs/")
    parser.add_argument("--top", type=int, default=20, help="rows to print (all are written)")
    args = parser.parse_args(argv)
    if args.top < 0:
        raise UserError(f"--top {args.top} is invalid; accepted: an integer >= 0 (rows to print)")
    if args.objective is not None and args.objective not in OBJECTIVES:
        raise UserError(f"--objective {args.objective!r} is invalid; accepted: {', '.join(OBJECTIVES)}")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per downloaded figure
    uri = args.tracking_uri or resolve_tracking_uri(None)
    report(open_client(uri), uri, args)
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
