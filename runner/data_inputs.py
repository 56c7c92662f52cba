"""What data a run trained on and was judged on, described for MLflow's dataset inputs.

For each part (training, validation, test): the dataset's name, a digest of exactly the rows the
network saw (after the seeded split and the scaling, in the run's dtype), where the data came
from, its shape and class counts. The dashboard shows them in its Dataset column; `data_digest`
(one digest of all parts) lets `python -m runner.replay` tell a changed data file from a changed
environment. Plain data only: runner.tracking turns the descriptions into MLflow entities. A run's recorded
source also finds its CSV file again when predict or replay start elsewhere (`with_recorded_data_path`).
A run whose initializer reads a weights file (initializer=from_file) records that file's digest and place too
(`initial_weights_tags`), which replay compares and finds it by (`with_recorded_init_path`).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from runner.errors import UserError

CONTEXTS = {"train": "training", "val": "validation", "test": "test"}  # MLflow's tag mlflow.data.context
DIGEST_LENGTH = 16


def part_digest(X: np.ndarray, y: np.ndarray) -> str:
    """sha256 over the dtype, shape and bytes of X, then of y: any changed value, row order, split or dtype
    changes it."""
    digest = hashlib.sha256()
    for array in (X, y):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()[:DIGEST_LENGTH]


def combined_digest(parts: list[dict]) -> str:
    """One digest of every part's (context, digest): the run's tag data_digest."""
    return text_digest(";".join(f"{part['context']}={part['digest']}" for part in parts))


def text_digest(text: str, length: int = DIGEST_LENGTH) -> str:
    """The first `length` hexadecimal digits of text's sha256."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def initial_weights_tags(initializer) -> dict[str, str]:
    """For an initializer that reads its weights from a file (its `path`, as initializer=from_file): the tags
    init_digest (sha256 of the file's bytes, short as data_digest) and init_path (its absolute path); else none."""
    path = getattr(initializer, "path", None)
    if not isinstance(path, str) or not Path(path).is_file():
        return {}
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:DIGEST_LENGTH]
    return {"init_digest": digest, "init_path": str(Path(path).resolve())}


def data_source(path, dataset_config: dict) -> tuple[str, str]:
    """(source type, source as JSON): the data file's absolute path, else (path None) the plugin's config (a
    generator's settings, or which bundled dataset), which with the run's seed remakes the data."""
    if path is not None:
        return "local", json.dumps({"uri": str(Path(path).resolve())})
    return "code", json.dumps({"config": dataset_config}, default=str)


def describe_parts(splits, plugin, dataset_config: dict) -> list[dict]:
    """One description per part of the data: name, digest, source, schema (MLflow's tensor spec), profile."""
    path = getattr(plugin, "path", None)
    name = Path(path).name if path is not None else getattr(plugin, "name", type(plugin).__name__)
    source_type, source = data_source(path, dataset_config)
    parts = []
    for part, context in CONTEXTS.items():
        split = getattr(splits, part)
        if split is None:
            continue
        features = [{"type": "tensor", "tensor-spec": {"dtype": split.X.dtype.name, "shape": [-1, split.X.shape[1]]}}]
        targets = [{"type": "tensor", "tensor-spec": {"dtype": split.y.dtype.name, "shape": [-1]}}]
        counts = np.bincount(split.y, minlength=len(splits.classes)).tolist()
        profile = {"rows": split.m, "features": int(split.X.shape[1]), "classes": len(splits.classes),
                   "class_counts": dict(zip(map(str, splits.classes), counts))}
        parts.append({"name": name, "digest": part_digest(split.X, split.y), "context": context,
                      "source_type": source_type, "source": source,
                      "schema": json.dumps({"mlflow_tensorspec": {"features": json.dumps(features),
                                                                  "targets": json.dumps(targets)}}),
                      "profile": json.dumps(profile)})
    return parts


def recorded_data_path(client, run_id: str) -> str | None:
    """The absolute path of the data file a run recorded as its dataset inputs' source, None if it recorded none
    (data a plugin made, or a run recorded before dataset inputs)."""
    inputs = getattr(client.get_run(run_id).inputs, "dataset_inputs", None) or []
    for dataset_input in inputs:
        try:
            uri = json.loads(dataset_input.dataset.source).get("uri")
        except (TypeError, ValueError, AttributeError):
            continue
        if isinstance(uri, str) and uri:
            return uri
    return None


def with_recorded_data_path(client, run_id: str, config: dict) -> dict:
    """The run's config, its relative dataset.path replaced by the absolute path the run recorded when the
    relative one names no file from here (predict or replay started in another folder than the run) and the
    recorded one does, with a line saying so; a UserError naming both places when neither does. A path that
    names a file from here is kept, so the file used stays the one it names."""
    return _with_recorded_path(config, "dataset", run_id, lambda: recorded_data_path(client, run_id),
                               "in the run's dataset inputs (none recorded)", "the run's CSV file")


def with_recorded_init_path(client, run_id: str, config: dict) -> dict:
    """As with_recorded_data_path, for the initial weights file of initializer.path, recorded as tag init_path."""
    return _with_recorded_path(config, "initializer", run_id,
                               lambda: client.get_run(run_id).data.tags.get("init_path"),
                               "in the run's tag init_path (none recorded)", "the run's initial weights file")


def _with_recorded_path(config: dict, group: str, run_id: str, recorded_path, none_recorded: str, what: str) -> dict:
    """config with {group}.path, when relative and naming no file from here, replaced by recorded_path() (called
    only then), the absolute path the run recorded."""
    node = config.get(group)
    path = node.get("path") if isinstance(node, dict) else None
    if not isinstance(path, str) or not path or Path(path).is_absolute() or Path(path).is_file():
        return config
    recorded = recorded_path()
    if recorded is None or not Path(recorded).is_file():
        where = f"at {recorded}, where the run found it" if recorded else none_recorded
        raise UserError(f"{group}.path={path!r} of run {run_id} is found neither from here ({Path.cwd() / path}) nor "
                        f"{where}; accepted: {what} at one of those places")
    print(f"{group}.path {path}: read from {recorded}, where the run found it")
    return {**config, group: {**node, "path": recorded}}
