"""A run's setup: the config's settings validated, every plugin built, the data loaded and split,
Theta0 made, all from one seed, before anything is trained or recorded."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from runner.core.activations import get_activation
from runner.core.network import NetworkObjective, one_hot
from runner.errors import UserError
from runner.instantiate import build, qualify
from runner.settings import PLUGIN_GROUPS, RunSettings

TRAINING_ONLY = ("initializer", "optimizer")  # what classifying with trained weights needs neither of


@dataclass
class Setup:
    """Everything a run needs, validated before any record is created."""

    settings: RunSettings
    plugins: dict
    splits: object
    layer_sizes: list[int]
    Theta0: list | None  # None when prepared for classifying (runner.predict reads trained weights)
    objective: NetworkObjective
    optimizer_rng: np.random.Generator
    check_rng: np.random.Generator


def check_config(config: dict, skip: tuple[str, ...] = (), allowed: tuple[str, ...] | None = None
                 ) -> tuple[RunSettings, dict]:
    """The settings validated and every plugin group but those in `skip` built: what a run checks before it loads
    data (a sweep checks its swept values with it before its parent run, runner.sweep_checks.check_swept_values)."""
    settings = RunSettings.from_dict(config)
    for group in PLUGIN_GROUPS:
        if group not in config:
            raise UserError(f"config group {group} is missing; accepted: a config with {', '.join(PLUGIN_GROUPS)}")
    return settings, {group: build(group, config[group], allowed) for group in PLUGIN_GROUPS if group not in skip}


def prepare(config: dict, allowed: tuple[str, ...] | None = None, training: bool = True) -> Setup:
    """Validate settings, instantiate every plugin, load the data and make Theta0 (seeded). training=False builds
    neither the initializer nor the optimizer (TRAINING_ONLY; Theta0 None): what classifies with trained weights
    needs no start nor a way to train, nor the file or module they came from."""
    settings, plugins = check_config(config, () if training else TRAINING_ONLY, allowed)
    data_rng, init_rng, optimizer_rng, check_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(settings.seed).spawn(4))
    try:
        splits = plugins["dataset"].load(data_rng)
        layer_sizes = plugins["architecture"].layer_sizes(splits.n_features, splits.n_classes)
    except (ValueError, OSError) as error:
        raise UserError(qualify("dataset", error)) from None
    batch_size = getattr(plugins.get("optimizer"), "batch_size", None)
    if batch_size is not None and batch_size > splits.train.m:
        raise UserError(f"optimizer.batch_size={batch_size} is invalid; accepted: an integer from 1 to "
                        f"the training-set size m = {splits.train.m}")
    patience = settings.early_stopping.patience
    if patience and splits.val is None:
        raise UserError(f"early_stopping.patience={patience} needs a validation part, and "
                        "dataset.val_fraction is 0; accepted: dataset.val_fraction > 0, or early_stopping.patience=0")
    if settings.early_stopping.restore_best and splits.val is None:
        raise UserError("early_stopping.restore_best=true needs a validation part, and dataset.val_fraction is 0; "
                        "accepted: dataset.val_fraction > 0, or early_stopping.restore_best=false")
    objective = settings.tracking.objective
    if objective.startswith("test_") and splits.test is None:
        raise UserError(f"tracking.objective={objective} needs a test part, and dataset.test_fraction is 0; accepted: "
                        "dataset.test_fraction > 0, or a val_ or train_ objective")
    try:
        Theta0 = plugins["initializer"](layer_sizes, init_rng) if training else None
    except (ValueError, OSError) as error:
        raise UserError(qualify("initializer", error)) from None
    K = layer_sizes[-1]
    dtype = np.dtype(settings.dtype)  # cast once: every epoch then runs in it, nothing is copied per epoch
    splits = replace(splits, **{part: replace(getattr(splits, part), X=getattr(splits, part).X.astype(dtype))
                                for part in ("train", "val", "test") if getattr(splits, part) is not None})
    Theta0 = [T.astype(dtype) for T in Theta0] if training else None
    objective = NetworkObjective(splits.train.X, one_hot(splits.train.y, K).astype(dtype),
                                 get_activation(plugins["architecture"].activation),
                                 plugins["cost"], plugins["regularization"])
    return Setup(settings, plugins, splits, layer_sizes, Theta0, objective, optimizer_rng, check_rng)


def step_unit(optimizer) -> str:
    """What one step of training is called for this optimizer: an iteration of scipy's lbfgs and cg
    (they have a `method`), else an epoch."""
    return "iteration" if hasattr(optimizer, "method") else "epoch"


def run_name(plugins: dict) -> str:
    """A name that says what the run is, e.g. 'sgd lr=0.1 lam=1 [25]', 'sgd lr=1 decay=0.1 lam=1 [25]' or, decayed
    per step, 'sgd lr=1 decay=0.001/step lam=1 [25]'."""
    optimizer, regularization = plugins["optimizer"], plugins["regularization"]
    parts = [optimizer.name]
    parts.append(f"lr={optimizer.lr:g}" if hasattr(optimizer, "lr") else f"epochs={optimizer.epochs}")
    if getattr(optimizer, "lr_decay", 0):
        parts.append(f"decay={optimizer.lr_decay:g}" + ("/step" if optimizer.lr_decay_per == "step" else ""))
    parts.append(f"lam={regularization.lam:g}" if hasattr(regularization, "lam") else regularization.name)
    parts.append(str(list(plugins["architecture"].hidden)))
    return " ".join(parts)
