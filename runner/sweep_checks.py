"""A sweep's own settings (hydra.launcher, hydra.sweeper, hydra.sweep.dir), checked before its parent run.

Hydra hands them to the launcher and sweeper plugins as they are, and those meet a bad value with
a traceback once the jobs are due, after the parent run was made: joblib, Optuna, a plugin that
is not installed. `check_sweep_settings` turns each into one UserError first.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from runner.errors import UserError


def check_sweep_settings(launcher, sweeper, sweep_dir: Path) -> None:
    """Every check below; called first thing in a sweep (runner.sweep.SweepCallback)."""
    check_installed("launcher", launcher)
    check_installed("sweeper", sweeper)
    if str(launcher.get("_target_", "")).endswith("JoblibLauncher"):
        check_joblib(launcher)
    if str(sweeper.get("_target_", "")).endswith("OptunaSweeper"):
        check_optuna(sweeper)
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"hydra.sweep.dir={str(sweep_dir)!r} cannot be made ({error.strerror or error}); "
                        "accepted: a folder that can be written (or set BACKPROP_LAB_OUTPUTS)") from None


def check_installed(kind: str, plugin) -> None:
    """hydra.<kind>'s plugin module imports (Hydra's own message would be "Unknown plugin class")."""
    target = str(plugin.get("_target_", ""))
    module = target.rpartition(".")[0]
    try:
        importlib.import_module(module)
    except ImportError as error:
        parts = module.split(".")
        package = parts[1].replace("_", "-") if parts[0] == "hydra_plugins" and len(parts) > 1 else parts[0]
        raise UserError(f"hydra.{kind}._target_={target!r} cannot be imported ({error}); accepted: "
                        f"an installed plugin (pip install {package})") from None


def check_joblib(launcher) -> None:
    """hydra.launcher's settings that joblib refuses: n_jobs an integer other than 0 (-1: every
    core, -2: all but one, ...); backend one of joblib's; prefer and require its hints; timeout
    null or seconds > 0."""
    from joblib.parallel import BACKENDS, VALID_BACKEND_CONSTRAINTS, VALID_BACKEND_HINTS

    n_jobs = launcher.get("n_jobs")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise UserError(f"hydra.launcher.n_jobs={n_jobs!r} is invalid; accepted: an integer >= 1, "
                        "or -1 for every core, -2 for all but one, ...")
    for key, accepted in (("backend", [None, *BACKENDS]), ("prefer", VALID_BACKEND_HINTS),
                          ("require", VALID_BACKEND_CONSTRAINTS)):
        value = launcher.get(key)
        if value not in accepted:
            raise UserError(f"hydra.launcher.{key}={value!r} is invalid; accepted: "
                            f"{', '.join('null' if a is None else a for a in accepted)}")
    timeout = launcher.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise UserError(f"hydra.launcher.timeout={timeout!r} is invalid; accepted: null (no limit) or seconds > 0")


def check_optuna(sweeper) -> None:
    """hydra.sweeper's settings that the Optuna sweeper meets with a traceback once the study starts
    (direction, n_trials=0, max_failure_rate; n_jobs=0: an empty batch, divided by; a storage: the
    sweeper requires optuna < 3, whose database storage fails an assertion under SQLAlchemy 2, which MLflow needs)."""
    direction = sweeper.get("direction")
    direction = getattr(direction, "name", direction)  # Hydra's default is its Direction enum
    if direction not in ("minimize", "maximize"):
        raise UserError(f"hydra.sweeper.direction={direction!r} is invalid; accepted: minimize, maximize "
                        "(a job returns one value, tracking.objective)")
    for key in ("n_trials", "n_jobs"):
        value = sweeper.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"hydra.sweeper.{key}={value!r} is invalid; accepted: an integer >= 1")
    storage = sweeper.get("storage")
    if storage is not None and not optuna_storage_works():
        raise UserError(f"hydra.sweeper.storage={storage!r} is not supported: the Optuna sweeper requires optuna < 3, "
                        "which cannot open a database under the SQLAlchemy 2 that MLflow needs; accepted: null (the "
                        "study in memory; every trial is an MLflow run under the sweep's parent)")
    rate = sweeper.get("max_failure_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise UserError(f"hydra.sweeper.max_failure_rate={rate!r} is invalid; accepted: a number from 0 to 1")


def optuna_storage_works() -> bool:
    """Whether Optuna's database storage can work here: optuna < 3 asserts on SQLAlchemy 2's schema check."""
    from importlib.metadata import version

    return int(version("optuna").split(".")[0]) >= 3 or int(version("sqlalchemy").split(".")[0]) < 2
