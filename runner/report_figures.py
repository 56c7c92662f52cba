"""The report's figures: every run's curve coloured by rank, the final objective against each
varied parameter, the training and validation error against each numeric one (the course's learning
and validation curves), and the runs' own figures side by side (decision regions, hidden units and
weights) (`python -m runner.report`, runner/report.py)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from runner.plots import pyplot
from runner.report_tables import as_labels
from runner.sweep_runs import direction


def plot_curves(histories: pd.DataFrame, table: pd.DataFrame, key: str, path: Path, named: int = 10) -> Path:
    """Every run's `key` curve. Up to `named` runs: each in its own colour, named in the legend by
    rank and run name. More: coloured by rank (dark: best), the best run drawn thick and named.
    A run that restored its best weights (restored_epoch) logged their values one step past its last
    epoch: that point is a dot, not the end of its line (as in the run's learning_curves.png)."""
    from matplotlib.collections import LineCollection

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    rank = dict(zip(table["run_id"], table["rank"]))
    restored = set(table.loc[table["restored_epoch"].notna(), "run_id"]) if "restored_epoch" in table else set()
    curves = run_curves(histories)
    dots = {run_id: curves[run_id][-1] for run_id in curves if run_id in restored and len(curves[run_id]) > 1}
    curves = {run_id: curve[:-1] if run_id in dots else curve for run_id, curve in curves.items()}
    order = sorted(curves, key=lambda run_id: -rank.get(run_id, 0))
    if len(curves) <= named:
        best_first = order[::-1]
        for index, (run_id, label) in enumerate(zip(best_first, legend_labels(table, best_first))):
            colour = plt.get_cmap("tab10")(index)
            ax.plot(*curves[run_id].T, color=colour, linewidth=2 if index == 0 else 1.2, label=label)
            if run_id in dots:
                ax.plot(*dots[run_id], "o", color=colour)
        if curves:  # runs that logged nothing of it (KILLED at once) draw no line and need no legend
            ax.legend(loc="best", fontsize=8)
        title = f"{key} of {len(curves)} runs (legend: rank, best first)"
    else:
        colors = plt.get_cmap("viridis")(np.array([rank.get(r, 1) - 1 for r in order]) / max(len(table) - 1, 1))
        ax.add_collection(LineCollection([curves[r] for r in order], colors=colors, linewidths=0.8, alpha=0.7))
        if dots:
            ax.scatter(*np.array([dots[r] for r in order if r in dots]).T, s=10,
                       c=[colour for r, colour in zip(order, colors) if r in dots])
        best = table["run_id"].iloc[0] if len(table) else None
        if best in curves:
            ax.plot(*curves[best].T, color="crimson", linewidth=2, label=f"best: {table['run_name'].iloc[0]}"[:80])
            ax.legend(loc="upper right", fontsize=8)
        title = f"{key} of {len(curves)} runs (colour: rank, dark = best)"
    values = histories["value"].to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    if len(values):
        finished = histories[histories["run_id"].isin(table.loc[table["status"] == "FINISHED", "run_id"])]
        shown = finished["value"].to_numpy(dtype=float) if len(finished) else values
        shown = shown[np.isfinite(shown)] if np.isfinite(shown).any() else values
        if shown.min() > 0 and shown.max() / shown.min() > 100:  # diverged runs would hide the rest
            ax.set_yscale("log")
            ax.set_ylim(shown.min() / 1.5, shown.max() * 1.5)
        else:
            margin = 0.05 * (shown.max() - shown.min() or 1.0)
            ax.set_ylim(shown.min() - margin, shown.max() + margin)
        ax.set_xlim(histories["step"].min(), max(histories["step"].max(), 1))
    ax.set_xlabel("epoch (iteration for lbfgs and cg)")
    ax.set_ylabel(key)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def run_curves(histories: pd.DataFrame) -> dict[str, np.ndarray]:
    """{run id: its (step, value) points in the histories' order}: one sort and split (a groupby made a frame per run,
    a second of a 150-run report's three curve figures)."""
    ordered = histories.sort_values("run_id", kind="stable")
    run_ids, starts = np.unique(ordered["run_id"].to_numpy(), return_index=True)
    points = ordered[["step", "value"]].to_numpy()
    return dict(zip(run_ids, np.split(points, starts[1:])))


def legend_labels(table: pd.DataFrame, run_ids: list[str]) -> list[str]:
    """'#rank run name' for each run (at most 60 characters): what a curve's legend entry says."""
    rows = table.set_index("run_id")
    return [f"#{rows.at[r, 'rank']} {rows.at[r, 'run_name']}"[:60] if r in rows.index else r for r in run_ids]


def plot_objective(table: pd.DataFrame, varied: list[str], objective: str, path: Path) -> Path:
    """The final objective of the FINISHED runs against each varied parameter, one panel each."""
    plt = pyplot()
    finished = table[table["status"] == "FINISHED"]
    columns = varied or ["rank"]
    n_cols = min(len(columns), 3)
    n_rows = -(-len(columns) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.5 * n_cols, 3.6 * n_rows), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        x, y = finished[column], finished[objective].astype(float)
        if not pd.api.types.is_numeric_dtype(x):  # categories at 0, 1, ... in sorted order
            x = as_labels(x)  # a run without the key (another preset, another optimizer's keys): '(none)'
            labels = sorted(x.unique(), key=natural_key)
            x = x.map({label: i for i, label in enumerate(labels)})
            ax.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 4 else 0, fontsize=8)
        else:
            _log_axis(ax, x)
        ax.scatter(x, y, s=18, alpha=0.7)
        if len(finished):
            ax.scatter([x.iloc[0]], [y.iloc[0]], marker="*", s=160, color="crimson", label="best", zorder=3)
            ax.legend(fontsize=8, loc="best")
        ax.set_xlabel(column)
        ax.set_ylabel(objective)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(columns):]:
        ax.set_visible(False)
    fig.suptitle(f"final {objective} ({direction(objective)}) of {len(finished)} finished runs")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def running_best(values: pd.Series, minimize: bool) -> np.ndarray:
    """The best value so far after each run (NaN, a run without the objective, keeps the best before it)."""
    numbers = values.astype(float).to_numpy()
    best = np.where(np.isnan(numbers), np.inf if minimize else -np.inf, numbers)
    best = np.minimum.accumulate(best) if minimize else np.maximum.accumulate(best)
    return np.where(np.isfinite(best), best, np.nan)


def plot_search_history(frame: pd.DataFrame, objective: str, path: Path) -> Path:
    """A search's course (Optuna): each run's final objective in the order the search launched them (sweep.job, its
    trial number; then start), the others (FAILED, KILLED) as crosses at the worst end, whatever they logged, and the
    best so far as a step line."""
    plt = pyplot()
    runs = frame.sort_values([c for c in ("sweep.job", "start_time") if c in frame], kind="stable")
    runs = runs.reset_index(drop=True)
    values = runs[objective].astype(float) if objective in runs else pd.Series(np.nan, index=runs.index)
    finished = (runs["status"] == "FINISHED").to_numpy()
    order = np.arange(1, len(runs) + 1)
    minimize = direction(objective) == "minimize"
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(order[finished], values[finished], s=20, alpha=0.7, label="a run")
    if (~finished).any():
        ax.scatter(order[~finished], np.full((~finished).sum(), worst_end(values[finished], minimize)), marker="x",
                   color="grey", label="not FINISHED (drawn at the worst end)")
    ax.step(*best_so_far_steps(order, running_best(values.where(finished), minimize)), where="post", color="crimson",
            label="best so far")
    if (values[finished] > 0).all() and values[finished].max() > 30 * values[finished].min():
        ax.set_yscale("log")
    ax.set_xlabel("run, in the order the search launched them")
    ax.set_ylabel(objective)
    ax.set_title(f"{objective} ({direction(objective)}) over the search's {len(runs)} runs")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def worst_end(finished_values: pd.Series, minimize: bool) -> float:
    """Where the runs that did not finish are drawn: the finished runs' worst value (the top when the objective is
    minimized, the bottom when maximized), 1 when none finished with a value."""
    numbers = finished_values.dropna()
    if not len(numbers):
        return 1.0
    return numbers.max() if minimize else numbers.min()


def best_so_far_steps(order: np.ndarray, best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The best-so-far step line's points, held half a run past the last so that its last step has a width: a best
    found by the last run alone was a single point, which a line does not draw."""
    return np.append(order, order[-1] + 0.5), np.append(best, best[-1])


def bias_variance_curves(table: pd.DataFrame, varied: list[str]) -> list[tuple[str, list[str], list]]:
    """What plot_bias_variance draws: (x, the other varied columns, curves) for each numeric varied
    column x, a curve being (the other columns' values, the FINISHED runs sharing them sorted by x) with
    3 values of x or more, best first (the table's order). Empty when the runs lack either cost."""
    if not {"train_data_cost", "val_cost"} <= set(table.columns):
        return []
    finished = table[table["status"] == "FINISHED"]
    panels = []
    for x in varied:
        if not pd.api.types.is_numeric_dtype(finished[x]):
            continue
        others = [c for c in varied if c != x]
        groups = finished.groupby(others, sort=False, dropna=False) if others else [((), finished)]
        curves = [(key if isinstance(key, tuple) else (key,), rows.sort_values(x))
                  for key, rows in groups if rows[x].nunique() >= 3]
        if curves:
            panels.append((x, others, curves))
    return panels


def plot_bias_variance(table: pd.DataFrame, varied: list[str], path: Path, max_series: int = 6) -> Path | None:
    """The course's learning and validation curves (week 6): the final training error
    (train_data_cost, J with lambda = 0) and validation error (val_cost) of the FINISHED runs against
    each numeric varied parameter, one panel each, at most max_series curves a panel
    (bias_variance_curves). None, and nothing drawn, when there is no curve."""
    panels = bias_variance_curves(table, varied)
    if not panels:
        return None
    finished = table[table["status"] == "FINISHED"]
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(max(7.5, 5.5 * len(panels)), 4.5), squeeze=False)
    for ax, (x, others, series) in zip(axes.flat, panels):
        colors = plt.get_cmap("tab10")(np.arange(max_series) % 10)
        for color, (key, rows) in zip(colors, series[:max_series]):
            label = " ".join(f"{c}={short_label(v)}" for c, v in zip(others, key))
            ax.plot(rows[x], rows["val_cost"], "-o", color=color, markersize=4, label=label or None)
            ax.plot(rows[x], rows["train_data_cost"], "--s", color=color, markersize=3, alpha=0.8)
        _log_axis(ax, finished[x])
        values = pd.concat([finished["val_cost"], finished["train_data_cost"]]).astype(float)
        values = values[np.isfinite(values)]
        if len(values) and values.min() > 0 and values.max() / values.min() > 100:
            ax.set_yscale("log")
        name = {"dataset.train_size": "learning curve", "regularization.lam": "validation curve"}.get(x, "")
        shown = f" (best {max_series} of {len(series)} curves)" if len(series) > max_series else ""
        ax.set_title(f"{name + ': ' if name else ''}error against {x}{shown}", fontsize=10)
        ax.set_xlabel(x)
        ax.set_ylabel("cost with lambda = 0")
        ax.grid(alpha=0.3)
        if others:
            ax.legend(fontsize=8, loc="best")
    fig.suptitle("training error (dashed, train_data_cost) and validation error (solid, val_cost)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def short_label(value) -> str:
    """A value as a label: 0.3, 3 and 1e-05 for floats, as given otherwise."""
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def plot_panels(panels: list[tuple[str, Path]], columns: int, path: Path, title: str) -> Path:
    """The runs' own figures (decision_regions.png, hidden_weights.png: runner.plots) in rows of
    `columns`, in the given order, each under its label: how what a network learned changes with
    what the sweep varies. The images are tiled into one (tile_images) drawn on one axes: an axes per run
    took matplotlib 1.5 s a figure to lay out and draw."""
    plt = pyplot()
    n_cols = min(len(panels), columns)
    n_rows = -(-len(panels) // n_cols)
    grid, (cell_h, cell_w, label_h) = tile_images([plt.imread(image) for _, image in panels], n_cols)
    height = 3.4 * n_rows + 0.5
    fig = plt.figure(figsize=(4 * n_cols, height))
    ax = fig.add_axes((0, 0, 1, 1 - 0.5 / height))  # half an inch on top for the title
    ax.imshow(grid)
    ax.axis("off")
    for index, (label, _) in enumerate(panels):
        row, column = divmod(index, n_cols)
        ax.text((column + 0.5) * cell_w, row * (cell_h + label_h) + label_h, label, ha="center", va="bottom",
                fontsize=9)
    fig.suptitle(title)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def tile_images(images: list[np.ndarray], n_cols: int) -> tuple[np.ndarray, tuple[int, int, int]]:
    """The images (as plt.imread gives them: grey, RGB or RGBA, 0 to 1) in rows of n_cols on white, as one RGBA
    uint8 image, each centred in a cell of the largest image's size below a strip for its label (an eighth of the
    cell's height); and (cell height, cell width, label strip height) in pixels."""
    rgba = [np.dstack([image] * 3 + [np.ones_like(image)]) if image.ndim == 2 else
            np.dstack([image, np.ones(image.shape[:2])]) if image.shape[2] == 3 else image for image in images]
    cell_h, cell_w = max(image.shape[0] for image in rgba), max(image.shape[1] for image in rgba)
    label_h = cell_h // 8
    n_rows = -(-len(rgba) // n_cols)
    grid = np.full((n_rows * (cell_h + label_h), n_cols * cell_w, 4), 255, dtype=np.uint8)
    for index, image in enumerate(rgba):
        row, column = divmod(index, n_cols)
        top = row * (cell_h + label_h) + label_h + (cell_h - image.shape[0]) // 2
        left = column * cell_w + (cell_w - image.shape[1]) // 2
        grid[top:top + image.shape[0], left:left + image.shape[1]] = np.round(np.asarray(image) * 255)
    return grid, (cell_h, cell_w, label_h)


def natural_key(label: str) -> tuple:
    """Sort key putting '[8]' before '[64]': digit runs compare as numbers (tagged, so a number
    never meets text in a comparison)."""
    return tuple((1, int(part)) if part.isdigit() else (0, part) for part in re.split(r"(\d+)", label))


def _log_axis(ax, x: pd.Series) -> None:
    """A log x axis for values spanning two decades or more (symlog when 0 is among them)."""
    positive = x[x > 0]
    if len(positive) and x.min() >= 0 and x.max() / positive.min() >= 100:
        if (x == 0).any():
            ax.set_xscale("symlog", linthresh=float(positive.min()))
        else:
            ax.set_xscale("log")
