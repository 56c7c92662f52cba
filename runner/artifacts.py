"""The files a run leaves in its folder and uploads: the weights, the preprocessing (scaling and fill), the figures,
the confusion matrix, metrics.csv and Hydra's files."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from runner import plane_plots, plots
from runner.core.landscape import LINE_POINTS, cost_along_line
from runner.core.network import class_scores, forward, predict
from runner.recording import held_out_counts, validation_objective
from runner.setup import Setup, step_unit
from runner.tracking import Tracker


def save_weights(Theta: list, path: Path) -> Path:
    """weights.npz holding Theta1 .. ThetaN in the core's layout (bias column first)."""
    np.savez(path, **{f"Theta{l + 1}": T for l, T in enumerate(Theta)})
    return path


def save_model(Theta: list, splits, run_dir: Path) -> Path:
    """What runner.predict needs besides the config, in run_dir: weights.npz (save_weights) and preprocessing.npz,
    what turned the dataset's features into the network's, x' = (x - shift) / factor with a missing x first taken
    as fill (each feature's training mean; no array when the run filled nothing), so that new rows are scaled as
    the run did whatever the training file holds later (no preprocessing.npz for a dataset that does not say how
    it scaled). The path of weights.npz."""
    path = save_weights(Theta, run_dir / "weights.npz")
    if splits.scaling is not None:
        shift, factor = splits.scaling
        np.savez(run_dir / "preprocessing.npz", shift=shift, factor=factor,
                 **({} if splits.fill is None else {"fill": splits.fill}))
    return path


def write_artifacts(tracker: Tracker, setup: Setup, Theta: list, run_dir: Path, title: str,
                    snapshots: list[tuple[int, list]] = ()) -> None:
    """The resolved config, Hydra's .hydra/ files, metrics.csv, confusion_matrix.csv and, unless tracking.figures
    is false, the PNG figures, uploaded with save_model's files, saved before (also by a run stopped midway);
    snapshots, (epoch, weights) during training, are drawn for two-feature data."""
    if setup.settings.tracking.figures:
        plots.learning_curves(tracker.history, run_dir / "learning_curves.png", title)
        if setup.settings.tracking.layer_stats:
            plots.layer_curves(tracker.history, run_dir / "layer_stats.png", title, hidden_activations(setup, Theta))
        if setup.splits.image_shape is not None:
            plots.hidden_weights(Theta[0], setup.splits.image_shape, run_dir / "hidden_weights.png", title)
        if setup.splits.n_features == 2:
            objective, train = setup.objective, setup.splits.train

            def classifier(weights):
                return lambda X: predict(weights, X.astype(train.X.dtype), objective.activation, objective.cost)

            plane_plots.decision_regions(classifier(Theta), train.X, train.y, setup.splits.classes,
                                         run_dir / "decision_regions.png", title)
            if len(snapshots) > 1:
                panels = [(epoch, classifier(weights)) for epoch, weights in snapshots]
                plane_plots.regions_over_training(panels, train.X, train.y, setup.splits.classes,
                                                  run_dir / "regions_over_training.png", title,
                                                  step_unit(setup.plugins["optimizer"]))

            def first_hidden_layer(X):
                return forward(Theta, X.astype(train.X.dtype), objective.activation, objective.cost)[0][1]

            if len(Theta) > 1:
                plane_plots.hidden_units(first_hidden_layer, train.X, run_dir / "hidden_units.png", title)
    write_evaluation(setup, Theta, run_dir, title)
    if setup.settings.tracking.cost_path:
        write_cost_path(setup, Theta, run_dir, title)
    tracker.write_metrics_csv()
    tracker.upload_run_files()


def hidden_activations(setup: Setup, Theta: list, rows: int = 1000) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, at the start, at the end): each hidden layer's activations a(l) over the first `rows`
    training samples, from the initial weights and from Theta (the core's forward pass)."""
    X, objective = setup.splits.train.X[:rows], setup.objective
    start, _ = forward(setup.Theta0, X, objective.activation, objective.cost)
    end, _ = forward(Theta, X, objective.activation, objective.cost)
    return [(f"a({l + 1})", start[l], end[l]) for l in range(1, len(Theta))]


def write_cost_path(setup: Setup, Theta: list, run_dir: Path, title: str) -> Path:
    """cost_path.csv: J (penalty included, as train_cost) on the training part and the data cost on the
    validation part (as val_cost) along the line from Theta0 to Theta (runner.core.landscape); unless
    tracking.figures is false, cost_path.png."""
    curves = {"train_cost": cost_along_line(setup.objective.value, setup.Theta0, Theta)}
    if setup.splits.val is not None:
        curves["val_cost"] = cost_along_line(validation_objective(setup).value, setup.Theta0, Theta)
    path = run_dir / "cost_path.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["t", *curves])
        writer.writerows([f"{t:g}", *(f"{curve[i]:.10g}" for curve in curves.values())]
                         for i, t in enumerate(LINE_POINTS))
    if setup.settings.tracking.figures:
        plots.cost_path(LINE_POINTS, curves, run_dir / "cost_path.png", title)
    return path


def class_score_rows(classes, counts) -> list[list]:
    """class_scores.csv's rows: each class's precision, recall, F1 (6 digits) and support; for a class neither in the
    part nor predicted the three are left empty, undefined, as macro_f1 (test_f1_macro) leaves it out."""
    occurring = (counts.sum(axis=0) + counts.sum(axis=1)) > 0
    return [[name, *((f"{score:.6g}" for score in scores[:3]) if present else ("", "", "")), scores[3]]
            for name, present, *scores in zip(classes, occurring, *class_scores(counts))]


def write_evaluation(setup: Setup, Theta: list, run_dir: Path, title: str) -> Path:
    """What the network gets right and wrong on the test part (else validation, else training):
    confusion_matrix.csv (a row per true class, a column per predicted class, counts), class_scores.csv
    (each class's precision, recall, F1 and support, runner.core.network.class_scores) and, unless
    tracking.figures is false, confusion_matrix.png and, for images, misclassified.png."""
    splits = setup.splits
    part, data, predicted, counts = held_out_counts(setup, Theta)
    path = run_dir / "confusion_matrix.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([f"true \\ predicted ({part} part)", *splits.classes])
        writer.writerows([name, *row] for name, row in zip(splits.classes, counts.tolist()))
    with (run_dir / "class_scores.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow([f"class ({part} part)", "precision", "recall", "f1", "support"])
        writer.writerows(class_score_rows(splits.classes, counts))
    if setup.settings.tracking.figures:
        plots.confusion(counts, splits.classes, run_dir / "confusion_matrix.png", title, part)
        if splits.image_shape is not None:
            plots.misclassified(splits.unscaled(data.X), data.y, predicted, splits.classes, splits.image_shape,
                                run_dir / "misclassified.png", title, part)
    return path
