"""A sweep's own settings (runner/sweep_checks.py): what joblib, Optuna or Hydra would meet with a
traceback after the parent run is made becomes one UserError before it. The command-line side of
these (exit code 2, one line, no run) is in tests/test_bad_input.py."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.errors import UserError
from runner.sweep_checks import check_installed, check_joblib, check_optuna, check_sweep_settings

JOBLIB = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2,
          "backend": None, "prefer": "processes", "require": None, "timeout": None}
OPTUNA = {"_target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper", "direction": "minimize",
          "n_trials": 20, "n_jobs": 2, "max_failure_rate": 0.0}
BASIC_SWEEPER = {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"}


@pytest.mark.parametrize("setting, message", [
    ({"n_jobs": 0}, "hydra.launcher.n_jobs=0 is invalid; accepted: an integer >= 1, or -1 for every core"),
    ({"n_jobs": "2"}, "hydra.launcher.n_jobs='2' is invalid"),
    ({"n_jobs": True}, "hydra.launcher.n_jobs=True is invalid"),
    ({"backend": "dask"}, "hydra.launcher.backend='dask' is invalid; accepted: null, threading, sequential, "
                          "multiprocessing, loky"),
    ({"prefer": "cores"}, "hydra.launcher.prefer='cores' is invalid; accepted: processes, threads, null"),
    ({"require": "private"}, "hydra.launcher.require='private' is invalid; accepted: sharedmem, null"),
    ({"timeout": 0}, "hydra.launcher.timeout=0 is invalid; accepted: null (no limit) or seconds > 0"),
    ({"timeout": -1.5}, "hydra.launcher.timeout=-1.5 is invalid"),
])
def test_joblib_settings_joblib_would_refuse_are_user_errors(setting, message):
    check_joblib(JOBLIB)
    check_joblib({**JOBLIB, "n_jobs": -2, "backend": "loky", "prefer": "threads", "require": "sharedmem",
                  "timeout": 0.5})
    with pytest.raises(UserError, match=re.escape(message)):
        check_joblib({**JOBLIB, **setting})


class Direction:  # stands for Hydra's enum, which is what hydra.sweeper.direction holds by default
    name = "maximize"


@pytest.mark.parametrize("setting, message", [
    ({"direction": "up"}, "hydra.sweeper.direction='up' is invalid; accepted: minimize, maximize"),
    ({"direction": ["minimize", "maximize"]}, "hydra.sweeper.direction=['minimize', 'maximize'] is invalid"),
    ({"n_trials": 0}, "hydra.sweeper.n_trials=0 is invalid; accepted: an integer >= 1"),
    ({"n_jobs": 0}, "hydra.sweeper.n_jobs=0 is invalid; accepted: an integer >= 1"),
    ({"n_jobs": 1.5}, "hydra.sweeper.n_jobs=1.5 is invalid"),
    ({"max_failure_rate": 1.5}, "hydra.sweeper.max_failure_rate=1.5 is invalid; accepted: a number from 0 to 1"),
    ({"max_failure_rate": -0.1}, "hydra.sweeper.max_failure_rate=-0.1 is invalid"),
    ({"storage": "sqlite:///optuna.db"}, "hydra.sweeper.storage='sqlite:///optuna.db' is not supported"),
])
def test_optuna_settings_the_sweeper_would_fail_on_are_user_errors(setting, message):
    check_optuna(OPTUNA)
    check_optuna({**OPTUNA, "direction": Direction(), "n_trials": 1, "n_jobs": 1, "max_failure_rate": 1})
    with pytest.raises(UserError, match=re.escape(message)):
        check_optuna({**OPTUNA, **setting})


def test_a_plugin_that_is_not_installed_names_the_package_to_install():
    check_installed("launcher", JOBLIB)
    check_installed("sweeper", BASIC_SWEEPER)
    missing = {"_target_": "hydra_plugins.hydra_no_such_launcher.no_such_launcher.NoSuchLauncher"}
    with pytest.raises(UserError, match=re.escape(
            "hydra.launcher._target_='hydra_plugins.hydra_no_such_launcher.no_such_launcher.NoSuchLauncher' cannot "
            "be imported (No module named 'hydra_plugins.hydra_no_such_launcher'); accepted: an installed plugin "
            "(pip install hydra-no-such-launcher)")):
        check_installed("launcher", missing)


def test_the_sweep_folder_is_made_or_named_in_the_error(tmp_path):
    check_sweep_settings(JOBLIB, OPTUNA, tmp_path / "a" / "sweep")
    assert (tmp_path / "a" / "sweep").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match=re.escape(f"hydra.sweep.dir='{tmp_path}/file/sweep' cannot be made")):
        check_sweep_settings(JOBLIB, BASIC_SWEEPER, tmp_path / "file" / "sweep")


def test_the_checks_are_of_the_plugin_in_use():
    basic_launcher = {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher", "n_jobs": 0}
    check_sweep_settings(basic_launcher, {**BASIC_SWEEPER, "n_trials": 0}, Path("."))
    with pytest.raises(UserError, match="hydra.launcher.n_jobs=0"):
        check_sweep_settings({**JOBLIB, "n_jobs": 0}, BASIC_SWEEPER, Path("."))
    with pytest.raises(UserError, match="hydra.sweeper.n_trials=0"):
        check_sweep_settings(JOBLIB, {**OPTUNA, "n_trials": 0}, Path("."))
