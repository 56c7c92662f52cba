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
    """The table: rank, run, status, varied params, final metrics; FINISHED runs first, best first; of tied runs the
    job launched first (frame's sweep.job, then start_time)."""
    metrics = [objective] + [m for m in FINAL_METRICS if m != objective and m in frame.columns]
    table = frame.reindex(columns=["run_name", "status", *varied, *metrics, "run_id"]).copy()
    for column in varied:
        table[column] = _numeric(table[column])
    sign = 1.0 if direction(objective) == "minimize" else -1.0
    table["_key"] = sign * table[objective].astype(float)
    table["_failed"] = table["status"] != "FINISHED"
    order = ["sweep.job", "start_time"]  # ties: the job launched first, as the sweep's best (sweep_runs.launch_order)
    launch = frame.reindex(columns=order).fillna(np.inf).set_axis(["_job", "_start"], axis=1)
    table = table.join(launch).sort_values(["_failed", "_key", "_job", "_start"], na_position="last", kind="stable")
    table = table.drop(columns=["_key", "_failed", "_job", "_start"]).reset_index(drop=True)
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
    """How much of the objective's spread over the FINISHED runs each varied key explains on its own: epsilon
    squared of a one-way analysis of variance over the key's levels g, (SS_between - (k - 1) MS_within) / SS_total,
    with SS_between = sum_g n_g (mean_g - mean)^2, SS_total = sum_i (y_i - mean)^2, MS_within = (SS_total -
    SS_between) / (n - k): eta squared SS_between / SS_total less what k levels would explain of pure noise
    (k - 1 of n - 1 runs' worth), 0 when nothing is left. Of the objective's ranks (epsilon_squared_ranks: the
    order of the runs, which one diverging or overfit run cannot dominate) and of its values (epsilon_squared).
    In a full grid these are the keys' main effects; what they leave is interactions and noise. A numeric key of
    more than MAX_LEVELS values (an Optuna search) is cut into MAX_LEVELS quantile bins, fewer when the runs are
    fewer than 3 a bin. Per key also its best and worst level by mean objective. A key of fewer than 2 levels, or with
    every level a single run, is left out; None when no key is left."""
    done = table[(table["status"] == "FINISHED") & np.isfinite(table[objective].astype(float))]
    y = done[objective].astype(float)
    if len(done) < 3 or y.nunique() < 2:
        return None
    minimize = direction(objective) == "minimize"
    rows = []
    for key in varied:
        levels = _levels(done[key], min(MAX_LEVELS, max(2, len(done) // 3)) if _many(done[key]) else None)
        means = y.groupby(levels, sort=False).mean()
        if not 2 <= len(means) < len(done):
            continue
        best, worst = (means.idxmin(), means.idxmax()) if minimize else (means.idxmax(), means.idxmin())
        rows.append({"key": key, "epsilon_squared_ranks": epsilon_squared(y.rank(), levels),
                     "epsilon_squared": epsilon_squared(y, levels), "levels": len(means), "best": best,
                     f"best_{objective}_mean": means[best], "worst": worst, f"worst_{objective}_mean": means[worst]})
    if not rows:
        return None
    return pd.DataFrame(rows).sort_values("epsilon_squared_ranks", ascending=False,
                                          kind="stable").reset_index(drop=True)


def epsilon_squared(y: pd.Series, levels: pd.Series) -> float:
    """(SS_between - (k - 1) MS_within) / SS_total of y grouped by its k levels, at least 0 (one-way analysis of
    variance; eta squared corrected for the levels' count)."""
    groups = y.groupby(levels, sort=False)
    between = float((groups.size() * (groups.mean() - y.mean()) ** 2).sum())
    total = float(((y - y.mean()) ** 2).sum())
    k, n = groups.ngroups, len(y)
    within = (total - between) / (n - k)
    return max(0.0, (between - (k - 1) * within) / total)


def _many(column: pd.Series) -> bool:
    """Whether a key is numeric with more than MAX_LEVELS values (a search's, not a grid's): binned then."""
    numbers = _numeric(column)
    return pd.api.types.is_numeric_dtype(numbers) and numbers.nunique() > MAX_LEVELS


def _levels(column: pd.Series, bins: int | None) -> pd.Series:
    """A varied key's values as group labels: as they are, '(none)' where a run lacks the key; or, given `bins`,
    that many quantile bins of its numbers."""
    if bins:
        numbers = _numeric(column)
        binned = pd.qcut(numbers, bins, duplicates="drop")
        spans = numbers.groupby(binned, observed=True).agg(["min", "max"])  # the values in each bin, not qcut's edges
        labels = {interval: short_number(low) if low == high else f"{short_number(low)} to {short_number(high)}"
                  for interval, (low, high) in spans.iterrows()}
        return as_labels(binned.astype(object).map(labels))
    return as_labels(column)


def short_number(x: float) -> str:
    """x to 3 significant digits, written out from 1e-4 to 1e6 (1000, 0.00316, 12300), else with an exponent."""
    if x == 0 or 1e-4 <= abs(x) < 1e6:
        return np.format_float_positional(x, precision=3, unique=False, fractional=False, trim="-")
    return f"{x:.3g}"


def as_labels(column: pd.Series) -> pd.Series:
    """A column's values as text, '(none)' where a run lacks the key (astype(str) alone keeps NaN under pandas 3)."""
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
        head += (f"What moves {objective} (share of the runs' order by it each swept key explains alone, epsilon "
                 "squared of ranks): " + ", ".join(f"{key} {share:.0%}" for key, share in
                                                zip(shares["key"], shares["epsilon_squared_ranks"])) + ".\n\n")
    rows = markdown(table.drop(columns=["run_id"])).splitlines()
    shown = 2
    while shown < len(rows) and len(head) + len("\n".join(rows[:shown + 1])) < limit:
        shown += 1
    more = f"\n\n... {len(rows) - shown} more rows in report/ranking.csv" if shown < len(rows) else ""
    return head + "\n".join(rows[:shown]) + more
