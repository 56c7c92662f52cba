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
    check_test_part(settings.tracking.objective, splits.test is not None)
    try:
        Theta0 = plugins["initializer"](layer_sizes, init_rng) if training else None
    except (ValueError, OSError) as error:
        raise UserError(qualify("initializer", error)) from None
    K = layer_sizes[-1]
    dtype = np.dtype(settings.dtype)  # cast once: every epoch then runs in it, nothing is copied per epoch
    check_representable(splits, dtype)
    splits = replace(splits, **{part: replace(getattr(splits, part), X=getattr(splits, part).X.astype(dtype))
                                for part in ("train", "val", "test") if getattr(splits, part) is not None})
    Theta0 = [T.astype(dtype) for T in Theta0] if training else None
    objective = NetworkObjective(splits.train.X, one_hot(splits.train.y, K).astype(dtype),
                                 get_activation(plugins["architecture"].activation),
                                 plugins["cost"], plugins["regularization"])
    return Setup(settings, plugins, splits, layer_sizes, Theta0, objective, optimizer_rng, check_rng)


def check_representable(splits, dtype: np.dtype) -> None:
    """The features as the network gets them (scaled) fit in `dtype`: cast to float32, a value beyond 3.4e38
    (dataset.scale=none) would become inf, and the run train on nonsense."""
    largest = np.finfo(dtype).max
    for name in ("train", "val", "test"):
        part = getattr(splits, name)
        if part is not None and part.X.size and (peak := float(np.abs(part.X).max())) > largest:
            raise UserError(f"dtype={dtype.name} is invalid for these data: a feature of the {name} part reaches "
                            f"{peak:.3g} as the network gets it, beyond {dtype.name}'s largest {largest:.3g}; "
                            "accepted: dtype=float64, or dataset.scale=standard or minmax")


def check_test_part(objective: str, has_test: bool) -> None:
    """A test_ objective needs a test part to be measured on (runner.sweep_checks asks it of a sweep's jobs before
    its parent run, from dataset.test_fraction)."""
    if objective.startswith("test_") and not has_test:
        raise UserError(f"tracking.objective={objective} needs a test part, and dataset.test_fraction is 0; accepted: "
                        "dataset.test_fraction > 0, or a val_ or train_ objective")


def step_unit(optimizer) -> str:
    """What one step of training is called for this optimizer: an iteration of scipy's lbfgs and cg
    (they have a `method`), else an epoch."""
    return "iteration" if hasattr(optimizer, "method") else "epoch"


def run_name(plugins: dict, dtype: str = "float64") -> str:
    """A name that says what the run is: the optimizer, its lr and decay, its epochs (iterations for lbfgs and cg),
    batch size, lam and the hidden sizes, then each setting that differs from the course's defaults, e.g. 'sgd
    lr=0.1 epochs=30 lam=1 [25]', 'sgd lr=1 decay=0.1 epochs=30 lam=1 [25]', per step 'sgd lr=1 decay=0.001/step
    epochs=30 lam=1 [25]'. Added when not the default: 'batch=8' (not the optimizer's own default; 'batch=all': the
    whole training part), the penalty's kind when not l2 ('l1 lam=1', 'none'), the activation when not sigmoid, the
    cost when not cross_entropy, the initializer when not epsilon_uniform ('init=zeros', 'init=constant(0.1)', a
    fixed eps 'init=epsilon_uniform(0.05)'), dataset.train_size ('m=80', the training samples used) and the dtype
    when not float64: 'batch_gd lr=1 epochs=100 l1 lam=1 [25] tanh mse', 'lbfgs epochs=200 lam=0 [25] m=80
    float32'."""
    optimizer, regularization = plugins["optimizer"], plugins["regularization"]
    architecture, initializer = plugins["architecture"], plugins["initializer"]
    parts = [optimizer.name]
    if hasattr(optimizer, "lr"):
        parts.append(f"lr={optimizer.lr:g}")
    if getattr(optimizer, "lr_decay", 0):
        parts.append(f"decay={optimizer.lr_decay:g}" + ("/step" if optimizer.lr_decay_per == "step" else ""))
    parts.append(f"epochs={optimizer.epochs}")
    batch_size = getattr(optimizer, "batch_size", None)
    if batch_size != getattr(type(optimizer), "batch_size", None):  # a dataclass's class attribute: its default
        parts.append(f"batch={'all' if batch_size is None else batch_size}")
    if regularization.name != "l2":
        parts.append(regularization.name)
    if hasattr(regularization, "lam"):
        parts.append(f"lam={regularization.lam:g}")
    parts.append(str(list(architecture.hidden)))
    if architecture.activation != "sigmoid":
        parts.append(architecture.activation)
    cost = getattr(plugins["cost"], "name", type(plugins["cost"]).__name__)  # a plugin's name is optional
    if cost != "cross_entropy":
        parts.append(cost)
    init = getattr(initializer, "name", type(initializer).__name__)  # an initializer is any callable: maybe unnamed
    argument = {"constant": "value", "epsilon_uniform": "eps"}.get(init)  # the number it may be given
    value = getattr(initializer, argument, None) if argument else None
    if init != "epsilon_uniform" or value is not None:
        parts.append(f"init={init}" + ("" if value is None else f"({value:g})"))
    train_size = getattr(plugins["dataset"], "train_size", None)
    if train_size is not None:
        parts.append(f"m={train_size}")
    if dtype != "float64":
        parts.append(dtype)
    return " ".join(parts)
