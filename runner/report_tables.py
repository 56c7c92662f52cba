"""The report's tables (runner.report): the ranking of the runs, a sweep over seeds as each
configuration's mean and standard deviation, Markdown, and the parent run's description."""
from __future__ import annotations

import numpy as np
import pandas as pd

from runner.sweep_runs import direction

FINAL_METRICS = ("val_cost", "val_accuracy", "train_cost", "train_data_cost", "train_accuracy", "test_accuracy",
                 "test_f1_macro", "best_epoch", "restored_epoch", "train_seconds")  # each shown when runs have it

SEED = "seed"
SPREAD_METRICS = ("train_data_cost", "train_accuracy", "test_accuracy", "train_seconds")  # after the objective
MAX_LEVELS = 5  # importance: a numeric key of more distinct values is cut into this many quantile bins


def _numeric(column: pd.Series) -> pd.Series:
    """The column as numbers when all its values are numbers, else unchanged."""
    converted = pd.to_numeric(column, errors="coerce")
    return converted if converted.notna().sum() == column.notna().sum() else column


def ranking(frame: pd.DataFrame, varied: list[str], objective: str) -> pd.DataFrame:
    """The table: rank, run, status, varied params, final metrics; FINISHED runs first, best first."""
    metrics = [objective] + [m for m in FINAL_METRICS if m != objective and m in frame.columns]
    table = frame.reindex(columns=["run_name", "status", *varied, *metrics, "run_id"]).copy()
    for column in varied:
        table[column] = _numeric(table[column])
    sign = 1.0 if direction(objective) == "minimize" else -1.0
    table["_key"] = sign * table[objective].astype(float)
    table["_failed"] = table["status"] != "FINISHED"
    table = table.sort_values(["_failed", "_key"], na_position="last", kind="stable")
    table = table.drop(columns=["_key", "_failed"]).reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def seed_statistics(table: pd.DataFrame, varied: list[str], objective: str) -> pd.DataFrame | None:
    """When `seed` is among the varied columns of the ranking `table`: one row per combination of the other
    varied columns, with `seeds` (its FINISHED runs), `failed` (its other runs) and, over the FINISHED runs,
    <metric>_mean and <metric>_std (sample standard deviation, n - 1; empty for one seed) of the objective
    and SPREAD_METRICS; best mean objective first. None when seed is not varied."""
    if SEED not in varied:
        return None
    keys = [column for column in varied if column != SEED]
    metrics = [objective] + [m for m in SPREAD_METRICS if m != objective and m in table.columns]
    work = table.assign(_finished=table["status"] == "FINISHED", _all="all")
    rows = []
    for values, group in work.groupby(keys or ["_all"], dropna=False, sort=False):
        done = group[group["_finished"]]
        row = dict(zip(keys, values))
        row.update(seeds=len(done), failed=len(group) - len(done))
        for metric in metrics:
            numbers = done[metric].astype(float).to_numpy()
            row[f"{metric}_mean"] = numbers.mean() if len(numbers) else np.nan
            row[f"{metric}_std"] = numbers.std(ddof=1) if len(numbers) > 1 else np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    minimize = direction(objective) == "minimize"
    frame = frame.sort_values(f"{objective}_mean", ascending=minimize, na_position="last", kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def importance(table: pd.DataFrame, varied: list[str], objective: str) -> pd.DataFrame | None:
    """How much of the objective's spread over the FINISHED runs each varied key explains on its own: eta squared
    of a one-way analysis of variance, SS_between / SS_total with SS_between = sum_g n_g (mean_g - mean)^2 over the
    key's levels g and SS_total = sum_i (y_i - mean)^2, of the objective's ranks (eta_squared_ranks, the order of the
    runs, which one diverging or overfit run cannot dominate) and of its values (eta_squared). In a full grid these
    are the keys' main effects; what they leave is interactions and noise. A numeric key of more than MAX_LEVELS
    values (an Optuna search) is cut into MAX_LEVELS quantile bins. Per key also its best and worst level by mean
    objective. A key whose every level holds one run explains everything trivially and is left out; None when no
    key is left."""
    done = table[(table["status"] == "FINISHED") & np.isfinite(table[objective].astype(float))]
    y = done[objective].astype(float)
    if len(done) < 3 or y.nunique() < 2:
        return None
    minimize = direction(objective) == "minimize"
    rows = []
    for key in varied:
        levels = _levels(done[key])
        means = y.groupby(levels, sort=False).mean()
        if not 2 <= len(means) < len(done):
            continue
        best, worst = (means.idxmin(), means.idxmax()) if minimize else (means.idxmax(), means.idxmin())
        rows.append({"key": key, "eta_squared_ranks": eta_squared(y.rank(), levels),
                     "eta_squared": eta_squared(y, levels), "levels": len(means), "best": best,
                     f"best_{objective}_mean": means[best], "worst": worst, f"worst_{objective}_mean": means[worst]})
    if not rows:
        return None
    return pd.DataFrame(rows).sort_values("eta_squared_ranks", ascending=False, kind="stable").reset_index(drop=True)


def eta_squared(y: pd.Series, levels: pd.Series) -> float:
    """SS_between / SS_total of y grouped by levels (one-way analysis of variance)."""
    groups = y.groupby(levels, sort=False)
    between = float((groups.size() * (groups.mean() - y.mean()) ** 2).sum())
    return between / float(((y - y.mean()) ** 2).sum())


def _levels(column: pd.Series) -> pd.Series:
    """A varied key's values as group labels: as they are, '(none)' where a run lacks the key, and quantile bins
    for a numeric key of more than MAX_LEVELS values."""
    numbers = _numeric(column)
    if pd.api.types.is_numeric_dtype(numbers) and numbers.nunique() > MAX_LEVELS:
        bins = pd.qcut(numbers, MAX_LEVELS, duplicates="drop")
        return bins.map(lambda interval: f"{interval.left:.3g} to {interval.right:.3g}").astype(str)
    return column.astype(object).where(column.notna(), "(none)").astype(str)


def markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; numbers with 4 significant digits."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def description(name: str, table: pd.DataFrame, objective: str, files: list[str], shares: pd.DataFrame | None = None,
                limit: int = 7000) -> str:
    """The parent run's description in the MLflow dashboard (tag mlflow.note.content, Markdown): what
    the report ranked, where its files are, and as many of the best rows as fit in `limit` characters
    (MLflow keeps tag values up to 8000)."""
    runs = f"{len(table)} run{'' if len(table) == 1 else 's'}"
    head = (f"**{name}**: {runs} ranked by {objective} ({direction(objective)}), best first. "
            f"Figures and tables: artifacts `report/` ({', '.join(files)}).\n\n")
    if shares is not None:  # importance: what moves the objective
        head += (f"What moves {objective} (share of the runs' order by it each swept key explains alone, eta squared "
                 "of ranks): " + ", ".join(f"{key} {share:.0%}" for key, share in
                                            zip(shares["key"], shares["eta_squared_ranks"])) + ".\n\n")
    rows = markdown(table.drop(columns=["run_id"])).splitlines()
    shown = 2
    while shown < len(rows) and len(head) + len("\n".join(rows[:shown + 1])) < limit:
        shown += 1
    more = f"\n\n... {len(rows) - shown} more rows in report/ranking.csv" if shown < len(rows) else ""
    return head + "\n".join(rows[:shown]) + more
