"""`python -m runner.predict RUN_ID`: classify samples with a recorded run's network.

    python -m runner.predict RUN_ID                        # the run's own test part (else validation)
    python -m runner.predict RUN_ID --csv new.csv          # rows of a CSV file, as the dataset gave them
    python -m runner.predict RUN_ID --csv new.csv --target label   # ... and the accuracy on its labels

The network is the run's weights.npz; the features are scaled as the run scaled them, which its
config reproduces (same data, same seed, same split). A CSV for a run of dataset=csv needs the
feature columns the run trained on, by name (others are ignored); for any other dataset, as many
numeric columns as it has features, in its order. Writes one row per sample: the true label when
known, the predicted label and h, each output unit's activation.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
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


def read_samples(path: str, target: str | None, feature_names: list[str] | None, n_features: int,
                 categories: dict[str, list[str]] | None = None, fill: bool = False):
    """(X as the dataset gave it, the labels of column `target` or None) from a CSV file with a header; the
    columns of `categories` one-hot encoded as the run's dataset encoded them; with `fill`, empty cells kept as
    NaN (the run fills them), else refused."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise UserError(f"--csv {path} does not exist; accepted: a CSV file with a header row") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise UserError(f"--csv {path} cannot be read ({' '.join(str(error).split())}); "
                        "accepted: a comma-separated file with a header row") from None
    if target is not None and target not in frame.columns:
        raise UserError(f"--target {target} is not a column of {path}; accepted: one of "
                        + ", ".join(map(str, frame.columns)))
    labels = frame[target] if target is not None else None
    features = frame.drop(columns=[target]) if target is not None else frame
    if feature_names is not None:
        missing = [name for name in feature_names if name not in features.columns]
        if missing:
            raise UserError(f"--csv {path} lacks the feature column(s) {', '.join(missing)}; accepted: a file "
                            f"with the columns the run trained on: {', '.join(feature_names)}")
        features = features[feature_names]
        if categories:
            from plugins.datasets.csv import one_hot

            try:
                features = one_hot(features, categories)
            except ValueError as error:
                raise UserError(f"--csv {path}: {error}") from None
    elif features.shape[1] != n_features:
        raise UserError(f"--csv {path} has {features.shape[1]} feature columns; accepted: {n_features}, "
                        "the run's features in its order (with --target naming a label column, if any)")
    numbers = features.apply(pd.to_numeric, errors="coerce")
    bad = np.argwhere((numbers.isna() & (features.notna() if fill else True)).to_numpy())
    if len(bad):
        row, column = bad[0]
        raise UserError(f"--csv {path}: column {features.columns[column]!r} holds {features.iat[row, column]!r} "
                        f"at data row {row}; accepted: numbers in every feature column")
    return numbers.to_numpy(dtype=np.float64), labels


def encode(labels, classes: list, target: str) -> np.ndarray:
    """The labels as the run's class indices; a label the run never saw is an error naming it."""
    index = {str(name): k for k, name in enumerate(classes)}
    unknown = [value for value in labels.astype(str) if value not in index]
    if unknown:
        raise UserError(f"--target {target} holds {unknown[0]!r}, a class the run never saw; accepted: "
                        + ", ".join(map(str, classes)))
    return np.array([index[value] for value in labels.astype(str)], dtype=np.int64)


def csv_feature_names(config: dict) -> list[str] | None:
    """For a run of dataset=csv, its feature columns: dataset.features, else the training file's header less the
    target."""
    dataset = config.get("dataset", {})
    if not str(dataset.get("_target_", "")).endswith("CsvDataset"):
        return None
    if dataset.get("features"):
        return [str(c) for c in dataset["features"]]
    import pandas as pd

    return [str(c) for c in pd.read_csv(dataset["path"], nrows=0).columns if c != dataset["target"]]


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

    from plugins.datasets._prepare import apply_fill
    from runner.core.network import theta_shapes
    from runner.instantiate import PROJECT_PLUGIN_PACKAGES, check_targets
    from runner.replay import load_logged_config
    from runner.setup import prepare
    from runner.store import open_client, resolve_tracking_uri

    client = open_client(resolve_tracking_uri(None))
    config = load_logged_config(client, args.run_id)
    allowed = PROJECT_PLUGIN_PACKAGES + tuple(args.allow)
    check_targets(config, allowed)
    setup = prepare(config, allowed)
    Theta = load_weights(client, args.run_id, theta_shapes(setup.layer_sizes))
    splits, dtype = setup.splits, setup.splits.train.X.dtype
    if args.csv is None:
        name, part = splits.held_out()
        source, X, y = f"{name} part", part.X, part.y
    else:
        raw, labels = read_samples(args.csv, args.target, csv_feature_names(config), splits.n_features,
                                   getattr(setup.plugins["dataset"], "categories", None), splits.fill is not None)
        shift, factor = splits.scaling if splits.scaling is not None else (0.0, 1.0)
        X = ((apply_fill(raw, splits.fill) - shift) / factor).astype(dtype)
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
