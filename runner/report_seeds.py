"""A sweep over seeds, summarized: each configuration's final metrics as mean and standard deviation
over the seeds it ran with (runner.report writes it as seeds.csv and seeds.md)."""
from __future__ import annotations

import numpy as np
import pandas as pd

SEED = "seed"
SPREAD_METRICS = ("train_data_cost", "train_accuracy", "test_accuracy", "train_seconds")  # after the objective


def seed_statistics(table: pd.DataFrame, varied: list[str], objective: str, minimize: bool) -> pd.DataFrame | None:
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
    frame = frame.sort_values(f"{objective}_mean", ascending=minimize, na_position="last", kind="stable")
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)
