"""The report as one HTML page, report.html: its tables and figures inline (images as data URIs), so the
MLflow UI's artifact viewer shows the whole report on the sweep's parent run, and the file opens anywhere
without its folder (`python -m runner.report`, runner/report.py)."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

CAPTIONS = {  # what each figure shows, in the order the page shows them
    "search_history.png": "the search's course: each trial's objective in the order it started, the best so far",
    "objective.png": "the final objective against each swept value",
    "train_cost.png": "every run's training cost J by epoch",
    "val_cost.png": "every run's validation cost by epoch: where it climbs while J falls, the run overfits",
    "val_accuracy.png": "every run's validation accuracy by epoch",
    "bias_variance.png": "training and validation error against each numeric swept value (the course's learning "
                         "and validation curves)",
    "decision_regions.png": "each run's decision regions, in the order of the swept values",
    "hidden_units.png": "each run's first-layer units over the input plane",
    "hidden_weights.png": "each run's first-layer weights as images",
}
MAX_ROWS = 50  # of a table on the page: a sweep of hundreds of runs would make it megabytes of rows; its .csv has all
STYLE = ("body{font-family:sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;font-size:13px}"
         "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}"
         "img{max-width:100%;border:1px solid #eee}h2{margin-top:1.6em}")


def table_html(table: pd.DataFrame) -> str:
    """A table, its text escaped, numbers with 4 significant digits, missing values blank."""
    def cell(value) -> str:
        if isinstance(value, (float, np.floating)):
            return "" if np.isnan(value) else f"{value:.4g}"
        return str(value)

    return table.map(cell).to_html(index=False, border=0, escape=True)


def table_section(heading: str, table: pd.DataFrame, file: str) -> str:
    """A table under its heading, its first MAX_ROWS rows (the best, as the report's tables are ordered), then
    how many more `file` (the table's .csv beside the page) holds."""
    more = len(table) - MAX_ROWS
    rest = f"<p>... {more} more row{'' if more == 1 else 's'} in {html.escape(file)}</p>" if more > 0 else ""
    return f"<h2>{html.escape(heading)}</h2>{table_html(table.head(MAX_ROWS))}{rest}"


def figure_html(path: Path) -> str:
    """A PNG inline, as a data URI, with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = html.escape(CAPTIONS.get(path.name, path.stem))
    return (f'<figure><img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(path.name)}: {caption}</figcaption></figure>")


def write_page(path: Path, title: str, lead: str, tables: list[tuple[str, pd.DataFrame, str]],
               figures: list[Path]) -> Path:
    """report.html: the title, a lead paragraph, each (heading, table, the file with all its rows) as table_section
    shows it, then the figures in CAPTIONS' order."""
    order = list(CAPTIONS)
    figures = sorted(figures, key=lambda f: order.index(f.name) if f.name in order else len(order))
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p>{html.escape(lead)}</p>"]
    parts += [table_section(heading, table, file) for heading, table, file in tables]
    if figures:
        parts.append("<h2>Figures</h2>" + "".join(figure_html(figure) for figure in figures))
    path.write_text("".join(parts) + "</body></html>")
    return path
