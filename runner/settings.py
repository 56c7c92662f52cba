"""Validation of the config's own (non-plugin) settings: seed, dtype, gradient check, tracking,
early stopping."""
from __future__ import annotations

import math
from dataclasses import dataclass

from plugins._checks import is_one_of
from runner.core.gradcheck import MODES
from runner.errors import UserError

PLUGIN_GROUPS = ("dataset", "architecture", "initializer", "optimizer", "cost", "regularization")
RUNNER_KEYS = ("workers",)  # top-level keys read elsewhere: workers by runner/jobs.py and runner/workers.py
DTYPES = ("float64", "float32")
OBJECTIVES = {"val_cost": "minimize", "val_accuracy": "maximize", "train_cost": "minimize",
              "train_accuracy": "maximize", "test_accuracy": "maximize", "test_f1_macro": "maximize"}


def _check(ok: bool, key: str, value, accepted: str) -> None:
    if not ok:
        raise UserError(f"{key}={value!r} is invalid; accepted: {accepted}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    """A finite int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class GradcheckSettings:
    """When and how backprop is checked against central differences."""

    every: int = 0
    mode: str = "auto"
    eps: float = 1e-4
    coordinates: int = 200
    rows: int = 200
    tolerance: float | None = None

    def __post_init__(self):
        _check(_is_int(self.every) and self.every >= 0, "gradcheck.every", self.every,
               "an integer >= 0 (0: check only at the start and the end)")
        _check(is_one_of(self.mode, ("auto", *MODES)), "gradcheck.mode", self.mode, "auto, " + ", ".join(MODES))
        _check(_is_number(self.eps) and self.eps > 0, "gradcheck.eps", self.eps, "a number > 0")
        _check(_is_int(self.coordinates) and self.coordinates >= 1, "gradcheck.coordinates",
               self.coordinates, "an integer >= 1")
        _check(_is_int(self.rows) and self.rows >= 1, "gradcheck.rows", self.rows, "an integer >= 1")
        _check(self.tolerance is None or (_is_number(self.tolerance) and self.tolerance > 0), "gradcheck.tolerance",
               self.tolerance, "a number > 0 (fail the run above it), or null (only record the checks)")


@dataclass(frozen=True)
class EarlyStoppingSettings:
    """When a run stops before optimizer.epochs because its validation cost no longer improves."""

    patience: int = 0
    min_delta: float = 0.0
    restore_best: bool = False

    def __post_init__(self):
        _check(_is_int(self.patience) and self.patience >= 0, "early_stopping.patience", self.patience,
               "an integer >= 0 (epochs without improvement of val_cost; 0: never stop early)")
        _check(_is_number(self.min_delta) and self.min_delta >= 0, "early_stopping.min_delta", self.min_delta,
               "a number >= 0")
        _check(isinstance(self.restore_best, bool), "early_stopping.restore_best", self.restore_best,
               "true or false")


POINTS_PER_CURVE = 250
"""What tracking.every=auto records at most per metric, plus the last epoch: MLflow's charts
show about 300 points, and every point costs the store ~0.15 ms to write and the run a forward
pass on the training and validation sets."""


@dataclass(frozen=True)
class TrackingSettings:
    """Where and how a run is recorded."""

    experiment: str = "backprop-lab"
    uri: str | None = None
    progress: str = "auto"
    objective: str = "val_cost"
    every: int | str = "auto"
    figures: bool = True
    layer_stats: bool = False
    cost_path: bool = False

    def __post_init__(self):
        _check(isinstance(self.experiment, str) and self.experiment.strip() != "", "tracking.experiment",
               self.experiment, "a non-empty name")
        _check(self.uri is None or isinstance(self.uri, str), "tracking.uri", self.uri, "a tracking URI or null")
        _check(is_one_of(self.progress, ("auto", "on", "off")), "tracking.progress", self.progress, "auto, on, off")
        _check(is_one_of(self.objective, OBJECTIVES), "tracking.objective", self.objective, ", ".join(OBJECTIVES))
        _check(self.every == "auto" or (_is_int(self.every) and self.every >= 1), "tracking.every", self.every,
               "auto or an integer >= 1 (1: every epoch)")
        _check(isinstance(self.figures, bool), "tracking.figures", self.figures, "true or false")
        _check(isinstance(self.layer_stats, bool), "tracking.layer_stats", self.layer_stats, "true or false")
        _check(isinstance(self.cost_path, bool), "tracking.cost_path", self.cost_path, "true or false")

    def record_every(self, epochs: int) -> int:
        """Record the per-epoch metrics every N epochs (and the last); auto: at most POINTS_PER_CURVE points."""
        return max(1, -(-epochs // POINTS_PER_CURVE)) if self.every == "auto" else self.every


@dataclass(frozen=True)
class RunSettings:
    """The top-level settings of one run."""

    seed: int
    gradcheck: GradcheckSettings
    tracking: TrackingSettings
    dtype: str = "float64"
    early_stopping: EarlyStoppingSettings = EarlyStoppingSettings()

    @classmethod
    def from_dict(cls, cfg: dict) -> "RunSettings":
        """Build and validate from the resolved config (plain dict); unknown keys are rejected, at the top
        level too (a `+seeed=1` typo would otherwise run with the default seed and log the typo as a param)."""
        accepted = (*PLUGIN_GROUPS, *cls.__dataclass_fields__, *RUNNER_KEYS)
        for key in cfg:
            if not is_one_of(key, accepted):
                raise UserError(f"unknown key {key}; accepted top-level keys: {', '.join(accepted)}")
        _check(_is_int(cfg.get("seed")) and cfg["seed"] >= 0, "seed", cfg.get("seed"), "an integer >= 0")
        _check(is_one_of(cfg.get("dtype", "float64"), DTYPES), "dtype", cfg.get("dtype"), ", ".join(DTYPES))
        return cls(cfg["seed"], _section(GradcheckSettings, "gradcheck", cfg.get("gradcheck")),
                   _section(TrackingSettings, "tracking", cfg.get("tracking")), cfg.get("dtype", "float64"),
                   _section(EarlyStoppingSettings, "early_stopping", cfg.get("early_stopping")))


def _section(kind, name: str, values: dict | None):
    """kind(**values) for the config section `name` (null: its defaults), every key known to kind."""
    known = kind.__dataclass_fields__
    _check(values is None or isinstance(values, dict), name, values,
           f"a section of keys ({', '.join(known)}), e.g. {name}.{next(iter(known))}=VALUE")
    for key in values or {}:
        if not is_one_of(key, known):
            raise UserError(f"unknown key {name}.{key}; accepted keys: {', '.join(known)}")
    return kind(**(values or {}))
