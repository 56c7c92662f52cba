"""`python -m runner.predict RUN_ID`: classify samples with a recorded run's network.

    python -m runner.predict RUN_ID                        # the run's own test part (else validation)
    python -m runner.predict RUN_ID --csv new.csv          # rows of a CSV file, as the dataset gave them
    python -m runner.predict RUN_ID --csv new.csv --target label   # ... and the accuracy on its labels

The network is the run's weights.npz; the features are filled and scaled as the run recorded in its
preprocessing.npz (a run recorded before it: as its config reproduces them, same data, seed and split).
A CSV for a run of dataset=csv needs the feature columns the run trained on, by name (others are ignored); for
any other dataset, as many numeric columns as it has features, in its order. Writes one row per sample: the true
label when known, the predicted label and h, each output unit's activation.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from runner.errors import UserError, run_command
from runner.paths import outputs_dir


def load_weights(client, run_id: str, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """The run's weights.npz as Theta1 .. ThetaN, checked against the shapes its config gives."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, "weights.npz", folder)
        except Exception:
            raise UserError(f"run {run_id} has no weights.npz artifact; accepted: a run recorded by backprop-lab, "
                            "which saves its weights at the end") from None
        with np.load(path, allow_pickle=False) as npz:
            Theta = [npz[f"Theta{l}"] for l in range(1, len(shapes) + 1) if f"Theta{l}" in npz.files]
    if [T.shape for T in Theta] != shapes:
        raise UserError(f"run {run_id}'s weights.npz holds shapes {[T.shape for T in Theta]}; "
                        f"accepted: the shapes its config gives, {shapes}")
    return Theta


@dataclass
class RunInputs:
    """What a run reads from a CSV file: as many feature columns as n_features, by name for dataset=csv
    (feature_names); the categories of the columns it one-hot encodes; why it fills no empty feature cell (None:
    it fills them with its training means); whether its class labels are text (then compared as written)."""

    n_features: int
    feature_names: list[str] | None = None
    categories: dict[str, list[str]] = field(default_factory=dict)
    unfilled: str | None = "it kept no training means"
    text_labels: bool = False


def run_inputs(config: dict, setup) -> RunInputs:
    """The RunInputs of a run prepared from its config."""
    dataset, splits = setup.plugins["dataset"], setup.splits
    missing = getattr(dataset, "missing", None)
    if splits.fill is not None:
        unfilled = None
    elif missing is None:
        unfilled = f"dataset={dataset.name} has no dataset.missing"
    elif missing == "mean":
        unfilled = "its dataset.missing was mean, but its data had no empty cell, so it kept no means"
    else:
        unfilled = f"its dataset.missing was {missing}"
    return RunInputs(splits.n_features, csv_feature_names(config), getattr(dataset, "categories", None) or {},
                     unfilled, all(isinstance(name, str) for name in splits.classes))


def read_frame(path: str, target: str | None, run: RunInputs):
    """The CSV file's rows, at least one; the target column read as written when the run's labels are text."""
    import pandas as pd

    from plugins.datasets.csv import CsvFileError, read_table

    try:  # as training reads CSV files: only an empty cell is missing, an unnamed empty column left out
        frame = read_table(path, [target] if target is not None and run.text_labels else [])
    except CsvFileError as error:
        raise UserError(error.said_of(f"--csv {path}")) from None
    except FileNotFoundError:
        raise UserError(f"--csv {path} does not exist; accepted: a CSV file with a header row") from None
    except IsADirectoryError:
        raise UserError(f"--csv {path} is a folder; accepted: a CSV file with a header row, not a folder") from None
    except OSError as error:
        raise UserError(f"--csv {path} cannot be read ({error.strerror}); "
                        "accepted: a CSV file with a header row that this user can read") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"--csv {path} cannot be read ({' '.join(str(error).split())}); "
                        "accepted: a comma-separated file with a header row") from None
    if len(frame) == 0:
        raise UserError(f"--csv {path} has a header row but no data rows; "
                        "accepted: a CSV file with a header row and at least one data row")
    return frame


def read_samples(path: str, target: str | None, run: RunInputs):
    """(X as the dataset gave it, the labels of column `target` or None) from a CSV file with a header; the
    columns of run.categories one-hot encoded as the run's dataset encoded them; empty cells kept as NaN when the
    run fills them, else refused; infinite values refused."""
    import pandas as pd

    frame = read_frame(path, target, run)
    if target is not None and target not in frame.columns:
        raise UserError(f"--target {target} is not a column of {path}; accepted: one of "
                        + ", ".join(map(str, frame.columns)))
    labels = frame[target] if target is not None else None
    features = frame.drop(columns=[target]) if target is not None else frame
    if run.feature_names is not None:
        missing = [name for name in run.feature_names if name not in features.columns]
        if missing:
            raise UserError(f"--csv {path} lacks the feature column(s) {', '.join(missing)}; accepted: a file "
                            f"with the columns the run trained on: {', '.join(run.feature_names)}")
        features = features[run.feature_names]
        if run.categories:
            from plugins.datasets.csv import one_hot

            try:
                features = one_hot(features, run.categories)
            except ValueError as error:
                raise UserError(f"--csv {path}: {error}") from None
    elif features.shape[1] != run.n_features:
        raise UserError(f"--csv {path} has {features.shape[1]} feature columns; accepted: {run.n_features}, "
                        "the run's features in its order (with --target naming a label column, if any)")
    X = features.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    empty = features.isna().to_numpy()
    bad = np.argwhere(np.isinf(X) | (np.isnan(X) & ~(empty & (run.unfilled is None))))
    if len(bad):
        row, column = bad[0]
        value = features.iat[row, column]
        if empty[row, column]:
            shown, accepted = "a missing value", f"a value in every feature column (the run fills none: {run.unfilled})"
        elif np.isinf(X[row, column]):
            shown = repr(value) if isinstance(value, str) else str(float(value))
            accepted = "finite numbers in every feature column (of magnitude below 1.8e308)"
        else:
            shown, accepted = repr(value), "numbers in every feature column"
        raise UserError(f"--csv {path}: column {features.columns[column]!r} holds {shown} at data row {row}; "
                        f"accepted: {accepted}")
    return X, labels


def encode(labels, classes: list, target: str) -> np.ndarray:
    """The labels as the run's class indices. Both are compared as `category_text` writes them, so a whole number
    is one class however it is written (2, 2.0), as training read it, and text stays text. A missing label or one
    the run never saw is an error naming it."""
    import pandas as pd

    from plugins.datasets.csv import category_text

    names = list(category_text(pd.Series(classes, dtype=object)))
    index = {name: k for k, name in enumerate(names)}
    texts = category_text(labels)
    missing = np.flatnonzero(labels.isna().to_numpy())
    if len(missing):
        raise UserError(f"--target {target} has a missing value at data row {missing[0]}; accepted: a label in "
                        "every row")
    unknown = np.flatnonzero(~texts.isin(index).to_numpy())
    if len(unknown):
        raise UserError(f"--target {target} holds {texts.iloc[unknown[0]]!r} at data row {unknown[0]}, a class the "
                        "run never saw; accepted: " + ", ".join(names))
    return texts.map(index).to_numpy(dtype=np.int64)


def csv_feature_names(config: dict) -> list[str] | None:
    """For a run of dataset=csv, its feature columns: dataset.features, else the training file's header less the
    target."""
    dataset = config.get("dataset", {})
    if not str(dataset.get("_target_", "")).endswith("CsvDataset"):
        return None
    if dataset.get("features"):
        return [str(c) for c in dataset["features"]]
    from plugins.datasets.csv import read_table

    return [str(c) for c in read_table(dataset["path"]).columns if c != str(dataset["target"])]


def predictions_table(Theta, X, setup, y=None):
    """One row per sample: true (when known), predicted, and h_<class> for each output unit."""
    import pandas as pd

    from runner.core.network import forward, labels

    objective, classes = setup.objective, setup.splits.classes
    activations, _ = forward(Theta, X, objective.activation, objective.cost)
    h = activations[-1]
    table = pd.DataFrame({"true": [classes[k] for k in y]} if y is not None else {})
    table["predicted"] = [classes[k] for k in labels(h)]
    outputs = classes[1:] if h.shape[1] == 1 else classes  # one sigmoid unit: h is P(the second class)
    for k, name in enumerate(outputs):
        table[f"h_{name}"] = h[:, k]
    return table


def weights_epoch(ending) -> str:
    """What a stopped run's saved weights are, unless its reason says (a FAILED run's does, when they are not its
    last): those of the last epoch it recorded."""
    if ending.status == "FAILED":
        return ""
    return f": its weights are those of epoch {ending.epoch}" if ending.epoch is not None else \
        ": its weights are the initial ones"


OWN_PARTS = "its parts below are remade from them, so the accuracy is not the run's"
CSV_CONSEQUENCE = {  # whether the run recorded its preprocessing.npz: what changed data change for --csv rows
    True: "the --csv rows below are filled and scaled as the run recorded, but its classes and feature columns are "
          "remade from them",
    False: "the --csv rows below are filled and scaled as the training rows remade from them say (the run recorded "
           "no preprocessing.npz), so the predictions may not be those the run would make"}


def with_recorded_preprocessing(client, run_id: str, splits):
    """splits with the scaling and fill the run recorded in preprocessing.npz (runner.artifacts.save_model),
    which the training file as it is now may no longer give; splits itself for a run recorded before it kept them."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            path = client.download_artifacts(run_id, "preprocessing.npz", folder)
        except Exception:  # a run recorded before preprocessing.npz
            return splits
        with np.load(path, allow_pickle=False) as npz:
            return replace(splits, scaling=(npz["shift"], npz["factor"]), fill=npz["fill"] if "fill" in npz else None)


def warn_if_other_data(client, run_id: str, config: dict, setup, consequence: str = OWN_PARTS) -> None:
    """One line on stderr when the data remade from the run's config are not those it recorded (tag data_digest),
    saying what that changes (consequence): its own parts are then not what it was judged on (a data file edited
    since), though they are still classified."""
    from runner.data_inputs import combined_digest, describe_parts

    recorded = client.get_run(run_id).data.tags.get("data_digest")
    here = combined_digest(describe_parts(setup.splits, setup.plugins["dataset"], config.get("dataset") or {}))
    if recorded is not None and recorded != here:
        print(f"warning: the data are not run {run_id}'s (data_digest {recorded} recorded, {here} now: a changed "
              f"data file, or a dataset plugin that now makes other data); {consequence}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runner.predict", description=__doc__.splitlines()[0])
    parser.add_argument("run_id")
    parser.add_argument("--csv", help="classify this file's rows (default: the run's test part)")
    parser.add_argument("--target", help="the --csv column holding the true labels, for the accuracy")
    parser.add_argument("--out", help="where to write the predictions (default: outputs/predictions/RUN_ID.csv)")
    parser.add_argument("--allow", action="append", default=[], metavar="MODULE",
                        help="also allow _target_s inside this module or package (repeatable)")
    args = parser.parse_args(argv)
    if args.target is not None and args.csv is None:
        raise UserError("--target needs --csv; accepted: --csv FILE --target COLUMN, or neither")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    from plugins.datasets._prepare import apply_fill, apply_scaling
    from runner.core.network import theta_shapes
    from runner.data_inputs import with_recorded_data_path
    from runner.instantiate import PROJECT_PLUGIN_PACKAGES, check_targets
    from runner.replay import load_logged_config, run_ending
    from runner.setup import TRAINING_ONLY, prepare
    from runner.store import open_client, resolve_tracking_uri

    client = open_client(resolve_tracking_uri(None))
    config = load_logged_config(client, args.run_id)
    allowed = PROJECT_PLUGIN_PACKAGES + tuple(args.allow)
    check_targets({group: node for group, node in config.items() if group not in TRAINING_ONLY}, allowed)
    config = with_recorded_data_path(client, args.run_id, config)
    setup = prepare(config, allowed, training=False)  # the trained weights, not how they were trained
    Theta = load_weights(client, args.run_id, theta_shapes(setup.layer_sizes))
    ending = run_ending(client, args.run_id)
    if ending is not None:
        print(f"note: run {args.run_id} ended {ending}" + weights_epoch(ending), file=sys.stderr)
    splits, dtype = setup.splits, setup.splits.train.X.dtype
    if args.csv is None:
        warn_if_other_data(client, args.run_id, config, setup)
        name, part = splits.held_out()
        source, X, y = f"{name} part", part.X, part.y
    else:
        splits = with_recorded_preprocessing(client, args.run_id, splits)
        warn_if_other_data(client, args.run_id, config, setup, CSV_CONSEQUENCE[splits is not setup.splits])
        raw, labels = read_samples(args.csv, args.target, run_inputs(config, replace(setup, splits=splits)))
        shift, factor = splits.scaling if splits.scaling is not None else (0.0, 1.0)
        X = apply_scaling(apply_fill(raw, splits.fill), shift, factor).astype(dtype)
        y = encode(labels, splits.classes, args.target) if labels is not None else None
        source = args.csv
    table = predictions_table(Theta, X, setup, y)
    out = Path(args.out) if args.out else outputs_dir() / "predictions" / f"{args.run_id}.csv"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index_label="row")
    except OSError as error:
        raise UserError(f"--out {out} cannot be written ({error.strerror}); accepted: a writable path") from None
    counts = table["predicted"].value_counts().sort_index()
    print(f"run {args.run_id}: {len(table)} samples of {source} classified")
    print("  predicted  " + "  ".join(f"{name}: {n}" for name, n in counts.items()))
    if "true" in table:
        right = int((table["true"] == table["predicted"]).sum())
        print(f"  accuracy   {right / len(table):.4f} ({right} of {len(table)})")
    print(f"  predictions {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_command(main))
