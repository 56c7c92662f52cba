"""A sweep's own settings (runner/sweep_checks.py): what joblib, Optuna or Hydra would meet with a
traceback after the parent run is made becomes one UserError before it. The command-line side of
these (exit code 2, one line, no run) is in tests/test_bad_input.py, and for the later checks at the end here."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import multirun_config
from runner.errors import UserError, one_line
from runner.sweep_checks import (check_group_keys, check_installed, check_joblib, check_known_settings, check_optuna,
                                 check_swept_values, check_sweep_settings, check_sweep_space)

JOBLIB = {"_target_": "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher", "n_jobs": 2,
          "backend": None, "prefer": "processes", "require": None, "timeout": None, "batch_size": "auto",
          "pre_dispatch": "2*n_jobs"}
TPE = {"_target_": "optuna.samplers.TPESampler", "seed": None}
OPTUNA = {"_target_": "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper", "direction": "minimize",
          "n_trials": 20, "n_jobs": 2, "max_failure_rate": 0.0, "sampler": TPE}
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
    # Hydra's schema holds batch_size and pre_dispatch as strings; its launcher makes '0' the int 0 for joblib.
    ({"batch_size": "0"}, "hydra.launcher.batch_size=0 is invalid; accepted: auto, or an integer >= 1"),
    ({"batch_size": "-2"}, "hydra.launcher.batch_size=-2 is invalid"),
    ({"batch_size": "1.5"}, "hydra.launcher.batch_size='1.5' is invalid"),
    ({"batch_size": "abc"}, "hydra.launcher.batch_size='abc' is invalid"),
    ({"pre_dispatch": "abc"}, "hydra.launcher.pre_dispatch='abc' is invalid; accepted: all, an integer >= 1, or an "
                              "expression of n_jobs such as 2*n_jobs"),
    ({"pre_dispatch": "0"}, "hydra.launcher.pre_dispatch=0 is invalid"),  # joblib starts no job, silently
    ({"pre_dispatch": "n_jobs-2"}, "hydra.launcher.pre_dispatch='n_jobs-2' is invalid (it comes to 0 with n_jobs=2)"),
    ({"pre_dispatch": ""}, "hydra.launcher.pre_dispatch='' is invalid"),
])
def test_joblib_settings_joblib_would_refuse_are_user_errors(setting, message):
    check_joblib(JOBLIB)
    check_joblib({**JOBLIB, "n_jobs": -2, "backend": "loky", "prefer": "threads", "require": "sharedmem",
                  "timeout": 0.5, "batch_size": "3", "pre_dispatch": "all"})
    for pre_dispatch in ("3", "n_jobs", "1.5*n_jobs", "n_jobs + 1"):
        check_joblib({**JOBLIB, "pre_dispatch": pre_dispatch})
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
    # with hydra.sweeper.params a map (conf/config.yaml), the sweeper would ignore a search_space without a word
    ({"search_space": {"a": {"type": "float"}}}, "hydra.sweeper.search_space is not read (the Optuna sweeper "
     "deprecated it for hydra.sweeper.params); accepted: the same space under hydra.sweeper.params"),
])
def test_optuna_settings_the_sweeper_would_fail_on_are_user_errors(setting, message):
    check_optuna(OPTUNA, "val_cost")
    check_optuna({**OPTUNA, "direction": Direction(), "n_trials": 1, "n_jobs": 1, "max_failure_rate": 1},
                 "val_accuracy")
    with pytest.raises(UserError, match=re.escape(message)):
        check_optuna({**OPTUNA, **setting}, "val_cost")


@pytest.mark.parametrize("direction, objective, message", [
    ("maximize", "val_cost", "hydra.sweeper.direction=maximize contradicts tracking.objective=val_cost, best lowest; "
     "accepted: hydra.sweeper.direction=minimize (+experiment=optuna_search sets it from tracking.objective)"),
    ("minimize", "val_accuracy", "hydra.sweeper.direction=minimize contradicts tracking.objective=val_accuracy, best "
     "highest; accepted: hydra.sweeper.direction=maximize"),
    ("minimize", "test_f1_macro", "accepted: hydra.sweeper.direction=maximize"),
    ("minimize", "foo", "tracking.objective='foo' is invalid; accepted: val_cost, val_accuracy"),
])
def test_optunas_direction_must_be_the_objectives(direction, objective, message):
    """Before, hydra/sweeper=optuna with tracking.objective=val_accuracy searched for the lowest accuracy (Hydra's
    default direction) while the parent run named the highest its best; a direction given against the preset's
    was taken as given."""
    check_optuna({**OPTUNA, "direction": "minimize"}, "train_cost")
    check_optuna({**OPTUNA, "direction": "maximize"}, "test_accuracy")
    with pytest.raises(UserError, match=re.escape(message)):
        check_optuna({**OPTUNA, "direction": direction}, objective)


@pytest.mark.parametrize("overrides, message", [
    (["hydra/sweeper=optuna", "tracking.objective=val_accuracy"], "hydra.sweeper.direction=minimize contradicts "
     "tracking.objective=val_accuracy"),  # Hydra's own default direction
    (["+experiment=optuna_search", "hydra.sweeper.direction=maximize"], "hydra.sweeper.direction=maximize "
     "contradicts tracking.objective=val_cost"),
])
def test_an_optuna_sweep_against_its_objective_is_refused_before_its_parent_run(tmp_path, overrides, message):
    for agreeing in (["+experiment=optuna_search", "tracking.objective=val_accuracy"],
                     ["hydra/sweeper=optuna", "+hydra.sweeper.params={seed: 'range(0,3)'}"]):
        config = multirun_config(*agreeing)
        check_sweep_settings(config.hydra.launcher, config.hydra.sweeper, tmp_path, [], config.tracking.objective)
    config = multirun_config(*overrides)
    with pytest.raises(UserError, match=re.escape(message)):
        check_sweep_settings(config.hydra.launcher, config.hydra.sweeper, tmp_path, [], config.tracking.objective)


@pytest.mark.parametrize("sampler, message", [
    ({"seed": -1}, "hydra.sweeper.sampler.seed=-1 is invalid; accepted: null (a new seed each study) or an integer "
     "from 0 to 2**32-1 (4294967295)"),
    ({"seed": 2**32}, "hydra.sweeper.sampler.seed=4294967296 is invalid; accepted: null"),
    ({"foo": 1}, "hydra.sweeper.sampler.foo is not a setting of TPESampler; accepted: consider_endpoints"),
    ({"_target_": "optuna.samplers.NoSuch"}, "hydra.sweeper.sampler._target_='optuna.samplers.NoSuch' cannot be "
     "found; accepted: a sampler of optuna.samplers: TPESampler, RandomSampler, CmaEsSampler"),
    ({"_target_": "NoSuch"}, "hydra.sweeper.sampler._target_='NoSuch' cannot be found"),
    ({"_target_": "optuna.samplers.NSGAIISampler", "population_size": 1}, "hydra.sweeper.sampler cannot be made "
     "(ValueError: `population_size` must be greater than or equal to 2.); accepted: the settings NSGAIISampler takes"),
])
def test_a_sampler_optuna_cannot_make_is_a_user_error(sampler, message):
    """Before, the sampler was made after the parent run, and Hydra's "Error in call to target ..." was the line."""
    for good in (TPE, {**TPE, "seed": 2**32 - 1}, {"_target_": "optuna.samplers.RandomSampler", "seed": 0},
                 {"_target_": "optuna.samplers.GridSampler", "_partial_": True}):
        check_optuna({**OPTUNA, "sampler": good}, "val_cost")
    check_optuna({**OPTUNA, "sampler": None}, "val_cost")  # Optuna's default sampler
    with pytest.raises(UserError, match=re.escape(message)):
        check_optuna({**OPTUNA, "sampler": {**TPE, **sampler}}, "val_cost")


def test_the_presets_sampler_seed_is_the_runs_seed_which_may_be_too_large_for_it(tmp_path):
    """A seed a single run takes (any integer >= 0) is too large for Optuna's sampler, which the preset gives it."""
    config = multirun_config("+experiment=optuna_search", "seed=4294967296")
    with pytest.raises(UserError, match=re.escape("hydra.sweeper.sampler.seed=4294967296 is invalid (it is ${seed}, "
                                                  "the run's seed); accepted: null (a new seed each study) or an "
                                                  "integer from 0 to 2**32-1")):
        check_sweep_settings(config.hydra.launcher, config.hydra.sweeper, tmp_path, [], "val_cost")


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
    check_sweep_settings(JOBLIB, OPTUNA, tmp_path / "a" / "sweep", ["seed=0,1"])  # a study with a key to search
    assert (tmp_path / "a" / "sweep").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match=re.escape(f"hydra.sweep.dir='{tmp_path}/file/sweep' cannot be made")):
        check_sweep_settings(JOBLIB, BASIC_SWEEPER, tmp_path / "file" / "sweep")


def test_a_key_the_plugin_does_not_take_is_a_user_error():
    """Before, '+hydra.launcher.foo=1' failed Hydra's instantiation of the launcher, after the parent run was made."""
    basic_launcher = {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}
    check_known_settings("launcher", basic_launcher)
    check_known_settings("sweeper", {**BASIC_SWEEPER, "max_batch_size": None, "params": {}})
    check_known_settings("sweeper", OPTUNA)
    check_known_settings("launcher", {**JOBLIB, "temp_folder": None})  # joblib.Parallel's own settings
    with pytest.raises(UserError, match=re.escape("hydra.launcher.foo is not a setting of BasicLauncher; "
                                                  "accepted: no settings")):
        check_known_settings("launcher", {**basic_launcher, "foo": 1})
    with pytest.raises(UserError, match=re.escape("hydra.sweeper.trials is not a setting of OptunaSweeper; "
                                                  "accepted: custom_search_space, direction, max_failure_rate")):
        check_known_settings("sweeper", {**OPTUNA, "trials": 5})


def test_the_checks_are_of_the_plugin_in_use():
    basic_launcher = {"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"}
    check_sweep_settings(basic_launcher, {**BASIC_SWEEPER, "params": {}}, Path("."))
    with pytest.raises(UserError, match="hydra.launcher.n_jobs is not a setting of BasicLauncher"):  # not joblib's
        check_sweep_settings({**basic_launcher, "n_jobs": 0}, BASIC_SWEEPER, Path("."))
    with pytest.raises(UserError, match="hydra.launcher.n_jobs=0"):
        check_sweep_settings({**JOBLIB, "n_jobs": 0}, BASIC_SWEEPER, Path("."))
    with pytest.raises(UserError, match="hydra.sweeper.n_trials=0"):
        check_sweep_settings(JOBLIB, {**OPTUNA, "n_trials": 0}, Path("."))


BASIC_SPACE = ["hydra/launcher=joblib", "seed=0,1", "optimizer=sgd,adam", "regularization.lam=range(0,3)",
               "architecture.hidden=choice([5],[8])", "dataset.path=glob(*.csv)", "tracking.experiment=one"]


@pytest.mark.parametrize("override, message", [
    ("regularization.lam=interval(0,1)", "regularization.lam=interval(0,1) cannot be swept by the basic sweeper, "
     "which runs lists of values; accepted: a comma list, range(), choice() or glob(), or hydra/sweeper=optuna for "
     "interval()"),
    ("tracking.experiment=qa_a,qa_b", "tracking.experiment=qa_a,qa_b cannot be swept: a sweep's parent run and its "
     "jobs are recorded in one experiment; accepted: one experiment per sweep (set tracking.experiment=NAME without "
     "a comma list)"),
    ("tracking.uri=sqlite:///a.db,sqlite:///b.db", "tracking.uri=sqlite:///a.db,sqlite:///b.db cannot be swept: a "
     "sweep's parent run and its jobs are recorded in one store; accepted: one store per sweep (set tracking.uri=URI"),
    ("tracking.objective=val_cost,val_accuracy", "tracking.objective=val_cost,val_accuracy cannot be swept: a sweep "
     "ranks its jobs, and Optuna steers its trials, by one objective; accepted: one objective per sweep (set "
     "tracking.objective=NAME without a comma list)"),
])
def test_a_swept_value_the_sweep_cannot_run_is_a_user_error(override, message):
    """Before, the basic sweeper refused interval() only after the parent run was made, and jobs of a swept
    experiment were recorded away from their parent, whose summary then found none of them."""
    check_sweep_space(BASIC_SWEEPER, BASIC_SPACE)
    with pytest.raises(UserError, match=re.escape(message)):
        check_sweep_space(BASIC_SWEEPER, [*BASIC_SPACE, override])
    key, _, values = override.partition("=")
    with pytest.raises(UserError, match=re.escape(key)):  # the same, from the sweeper's params (the presets')
        check_sweep_space({**BASIC_SWEEPER, "params": {key: values}}, BASIC_SPACE)


def test_optuna_samples_an_interval_but_not_an_experiment():
    check_sweep_space({**OPTUNA, "params": {"regularization.lam": "interval(0.0, 10.0)",
                                            "optimizer.lr": "tag(log, interval(0.001, 1.0))"}}, ["seed=1"])
    with pytest.raises(UserError, match=re.escape("tracking.experiment=choice(a,b) cannot be swept")):
        check_sweep_space({**OPTUNA, "params": {"tracking.experiment": "choice(a,b)"}}, [])
    with pytest.raises(UserError, match=re.escape("tracking.objective=choice(val_cost,val_accuracy) cannot be swept")):
        check_sweep_space(OPTUNA, ["tracking.objective=choice(val_cost,val_accuracy)"])


OPTUNA_ACCEPTS = ("accepted: choice(A,B,...), range(START,STOP[,STEP]) with START <= STOP, interval(LOW,HIGH) with "
                  "LOW <= HIGH, or tag(log, interval(LOW,HIGH)) with LOW > 0")


@pytest.mark.parametrize("override, message", [
    ("optimizer.lr=interval(1,0.1)", "optimizer.lr=interval(1,0.1) cannot be sampled by Optuna (The `low` value must "
     "be smaller than or equal to the `high` value (low=1.0, high=0.1)); " + OPTUNA_ACCEPTS),
    ("optimizer.lr=tag(log,interval(0,1))", "optimizer.lr=tag(log,interval(0,1)) cannot be sampled by Optuna (The "
     "`low` value must be larger than 0 for a log distribution (low=0.0, high=1.0)); accepted: choice("),
    ("architecture.hidden.0=range(5,1)", "architecture.hidden.0=range(5,1) cannot be sampled by Optuna (The `low` "
     "value must be smaller than or equal to the `high` value (low=5, high=1)); accepted: choice("),
    ("optimizer.lr=glob(*)", "optimizer.lr=glob(*) cannot be sampled by Optuna (glob() is not a distribution Optuna "
     "samples); accepted: choice("),
    ("optimizer.lr=tag(foo,interval(0.01,0.1))", "optimizer.lr=tag(foo,interval(0.01,0.1)) has the tag 'foo', which "
     "the Optuna sweeper ignores; accepted: tag(log, interval(LOW,HIGH)) for a log scale, or no tag"),
    ("seed=tag(log,choice(0,1))", "seed=tag(log,choice(0,1)) has the tag 'log', which the Optuna sweeper ignores"),
])
def test_a_space_optuna_cannot_sample_is_a_user_error(override, message):
    """Before, these failed with a traceback (a bare AssertionError for glob()) after the parent run was made, and
    an unknown tag was ignored."""
    good = ["optimizer.lr=tag(log,interval(0.001,1))", "architecture.hidden.0=range(1,5)", "seed=choice(0,1)",
            "regularization.lam=interval(0,10)", "optimizer.epochs=10"]
    check_sweep_space(OPTUNA, good)
    with pytest.raises(UserError, match=re.escape(message)):
        check_sweep_space(OPTUNA, [*good, override])
    key, _, values = override.partition("=")
    with pytest.raises(UserError, match=re.escape(message)):  # the same from the sweeper's params (the presets')
        check_sweep_space({**OPTUNA, "params": {key: values}}, good)


@pytest.mark.parametrize("overrides, message", [
    (["+experiment=optuna_search", "optimizer=choice(lbfgs,sgd)"], "optimizer.lr=tag(log, interval(0.001, 1.0)) "
     "cannot be set with optimizer=lbfgs (of optimizer=choice(lbfgs,sgd)), whose config has no key lr; accepted: "
     "the keys of optimizer=lbfgs: epochs"),
    (["hydra/sweeper=optuna", "optimizer.lr=interval(0.1,1)"], "optimizer.lr=interval(0.1,1) cannot be set with "
     "optimizer=lbfgs, whose config has no key lr; accepted: the keys of optimizer=lbfgs: epochs"),
    (["optimizer=cg,sgd", "+hydra.sweeper.params={optimizer.lr: '0.1,0.2'}"], "optimizer.lr=0.1,0.2 cannot be set "
     "with optimizer=cg (of optimizer=cg,sgd), whose config has no key lr"),
    (["optimizer=sgd", "optimizer.momentum=0.5,0.9"], "optimizer.momentum=0.5,0.9 cannot be set with optimizer=sgd, "
     "whose config has no key momentum; accepted: the keys of optimizer=sgd: lr, epochs, lr_decay"),
])
def test_a_key_a_swept_option_has_not_is_refused_before_the_parent_run(overrides, message):
    """Before, the sweep stopped at the first job of that option, after the jobs before it, with Hydra's "Could not
    override 'optimizer.lr'. To append to your config use +optimizer.lr=...", which that optimizer refuses too."""
    for fine in (["+experiment=optuna_search"], ["optimizer=sgd,adam", "+hydra.sweeper.params={optimizer.lr: '1,2'}"],
                 ["optimizer=sgd,adam", "+optimizer.momentum=0.9,0.5"],  # added keys: the plugins check them
                 ["optimizer=glob(*)", "optimizer.epochs=3"], ["+experiment=batch_sizes"],
                 ["architecture.hidden.0=1,2"], ["hydra/sweeper=optuna", "optimizer=choice(sgd,adam)",
                                                 "optimizer.lr=interval(0.1,1)"]):
        check_group_keys(multirun_config(*fine))
    with pytest.raises(UserError, match=re.escape(message)):
        check_group_keys(multirun_config(*overrides))


def test_the_sweep_checks_read_the_command_lines_overrides_as_the_sweep_passes_them(tmp_path):
    config = multirun_config("seed=0,1", "tracking.experiment=a,b")
    with pytest.raises(UserError, match=re.escape("tracking.experiment=a,b cannot be swept")):
        check_sweep_settings(config.hydra.launcher, config.hydra.sweeper, tmp_path / "sweep",
                             list(config.hydra.overrides.task))
    assert not (tmp_path / "sweep").exists()  # nothing is made before the checks pass
    config = multirun_config("+experiment=lambda_sweep", "seed=0,1")
    check_sweep_settings(config.hydra.launcher, config.hydra.sweeper, tmp_path / "sweep",
                         list(config.hydra.overrides.task))


@pytest.mark.parametrize("sweeper", ["basic", "optuna"])
def test_the_command_line_can_add_to_the_sweepers_params(sweeper):
    """Hydra's params are null, and OmegaConf cannot merge a map into null: before conf/config.yaml made them an
    empty map, '+hydra.sweeper.params={...}' ended in an AttributeError's traceback."""
    config = multirun_config(f"hydra/sweeper={sweeper}", "+hydra.sweeper.params={regularization.lam: '0,1'}")
    assert dict(config.hydra.sweeper.params) == {"regularization.lam": "0,1"}
    config = multirun_config("+experiment=lambda_sweep", "+hydra.sweeper.params={seed: '0,1'}")
    assert dict(config.hydra.sweeper.params) == {**multirun_config("+experiment=lambda_sweep").hydra.sweeper.params,
                                                 "seed": "0,1"}


@pytest.mark.parametrize("overrides, message", [
    (["hydra/launcher=joblib", "hydra.launcher.n_jobs=abc"], "hydra.launcher.n_jobs='abc' is invalid (Value 'abc' "
     "of type 'str' could not be converted to Integer); accepted: an integer >= 1, or -1 for every core, -2 for all "
     "but one, ..."),
    (["hydra/launcher=joblib", "hydra.launcher.n_jobs=1.5"], "hydra.launcher.n_jobs=1.5 is invalid (Value '1.5' of "
     "type 'float' could not be converted to Integer); accepted: an integer >= 1, or -1"),
    (["hydra/launcher=joblib", "hydra.launcher.n_jobs=null"], "hydra.launcher.n_jobs=null is invalid (field "
     "'hydra.launcher.n_jobs' is not Optional); accepted: an integer >= 1, or -1"),
    (["hydra/launcher=joblib", "hydra.launcher.timeout=abc"], "hydra.launcher.timeout='abc' is invalid (Value 'abc' "
     "of type 'str' could not be converted to Float); accepted: null (no limit) or seconds > 0"),
    (["hydra/sweeper=optuna", "hydra.sweeper.n_trials=abc"], "hydra.sweeper.n_trials='abc' is invalid (Value 'abc' "
     "of type 'str' could not be converted to Integer); accepted: an integer >= 1"),
    (["hydra/sweeper=optuna", "hydra.sweeper.sampler.seed=abc"], "hydra.sweeper.sampler.seed='abc' is invalid "
     "(Value 'abc' of type 'str' could not be converted to Integer); accepted: null (a new seed each study) or an "
     "integer from 0 to 2**32-1 (4294967295)"),
    (["hydra.job.chdir=abc"], "hydra.job.chdir='abc' is invalid (Value 'abc' is not a valid bool (type str)); "
     "accepted: a value of the type JobConf.chdir declares"),
])
def test_a_value_hydras_schema_cannot_hold_names_what_the_setting_accepts(overrides, message):
    """Before, Hydra's "Error merging override hydra.launcher.n_jobs=abc" was all the line said."""
    with pytest.raises(Exception) as refused:
        multirun_config(*overrides)
    assert one_line(refused.value).startswith(message)


@pytest.mark.parametrize("overrides, expected", [
    (["hydra/launcher=joblib", "hydra.launcher.batch_size=0"], "error: hydra.launcher.batch_size=0 is invalid"),
    (["hydra/launcher=joblib", "hydra.launcher.pre_dispatch=abc"], "error: hydra.launcher.pre_dispatch='abc'"),
    (["hydra/launcher=joblib", "hydra.launcher.n_jobs=abc"], "error: hydra.launcher.n_jobs='abc' is invalid (Value"),
    (["regularization.lam=interval(0,1)"], "error: regularization.lam=interval(0,1) cannot be swept by the basic"),
    (["tracking.experiment=qa_a,qa_b"], "error: tracking.experiment=qa_a,qa_b cannot be swept"),
    # Optuna's direction resolves ${blab.direction:${tracking.objective}}: Hydra's UserWarning and a wrapped message
    (["hydra/sweeper=optuna", "+experiment=optuna_search", "tracking.objective=foo"],
     "error: tracking.objective='foo' is invalid; accepted: val_cost, val_accuracy, train_cost"),
    (["+hydra.launcher.foo=1"], "error: hydra.launcher.foo is not a setting of BasicLauncher"),
    (["hydra/sweeper=optuna", "tracking.objective=val_accuracy"], "error: hydra.sweeper.direction=minimize "
     "contradicts tracking.objective=val_accuracy, best highest; accepted: hydra.sweeper.direction=maximize"),
    (["hydra/sweeper=optuna", "optimizer.lr=interval(1,0.1)"], "error: optimizer.lr=interval(1,0.1) cannot be "
     "sampled by Optuna"),
    (["+experiment=optuna_search", "seed=4294967296"], "error: hydra.sweeper.sampler.seed=4294967296 is invalid"),
    (["+experiment=optuna_search", "optimizer=choice(lbfgs,sgd)"], "error: optimizer.lr=tag(log, interval(0.001, "
     "1.0)) cannot be set with optimizer=lbfgs"),
    (["+hydra.sweeper.params.regularization.lam=1"], "error: hydra.sweeper.params.regularization={} is invalid "
     "(Cannot convert 'dict' to string: '{}'); accepted: a map of swept keys to their values, hydra.sweeper.params="
     "{KEY: 'V1,V2', ...} (a dotted key is one key), or KEY=V1,V2 on the command line"),
    # OmegaConf cannot merge into a null node of Hydra's config, and raised a bare AttributeError or AssertionError
    (["hydra/sweeper=optuna", "+hydra.sweeper.search_space={a: 1}"], "error: +hydra.sweeper.search_space={a: 1} "
     "cannot be applied: hydra.sweeper.search_space is null in Hydra's config; accepted: hydra.sweeper.params="),
    (["hydra.sweeper.params=null", "+hydra.sweeper.params.x=1"], "error: +hydra.sweeper.params.x=1 cannot be "
     "applied: hydra.sweeper.params is null in Hydra's config; accepted: a map of swept keys"),
])
def test_a_bad_sweep_setting_is_one_line_exit_2_and_no_parent_run(new_store, overrides, expected):
    result = new_store.cli("-m", "dataset=iris", "optimizer.epochs=5", "seed=0,1", *overrides)
    assert result.returncode == 2 and result.stderr.startswith(expected), result.stderr[-3000:]
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert new_store.runs() == []


@pytest.mark.parametrize("overrides", [
    ["seed=0,1", "regularization.lam=0,1,10"],
    ["optimizer=sgd,adam", "optimizer.lr=0.1,0.2"],  # keys under a swept group: the group's jobs check them
    ["optimizer=sgd,adam", "+optimizer.momentum=0.9,0.5"],  # lbfgs, the base's optimizer, takes neither
    ["+experiment=lambda_sweep", "optimizer.epochs=5"],
    ["+experiment=initializers"],
    ["hydra/sweeper=optuna", "+experiment=optuna_search"],  # Optuna samples: its trials check themselves
    ["seed=range(0)"],  # no job: the sweep's end says so
    ["hydra/sweeper=optuna", "optimizer=sgd", "optimizer.lr=interval(0.0,1.0)"],  # an interval: its trials sample it
])
def test_swept_values_that_jobs_would_accept_pass_the_check(overrides):
    check_swept_values(multirun_config(*overrides))


@pytest.mark.parametrize("overrides, message", [
    (["regularization.lam=0,-1"], "regularization.lam=-1 is invalid"),
    (["+experiment=lambda_sweep", "+optimizer.lr=1"], "unknown key optimizer.lr for plugins.optimizers.LBFGS"),
    (["+hydra.sweeper.params={dtype: 'float64,float16'}"], "dtype='float16' is invalid"),
    (["seed=0,-1"], "seed=-1 is invalid"),
    # Under Optuna too (before, trial 0 refused them, after the parent run): a fixed value, a choice's, the objective
    (["hydra/sweeper=optuna", "optimizer=sgd", "optimizer.lr=-1", "regularization.lam=interval(0,1)"],
     "optimizer.lr=-1 is invalid; accepted: a number > 0"),
    (["hydra/sweeper=optuna", "optimizer=sgd", "optimizer.lr=choice(0.1,-2)"], "optimizer.lr=-2 is invalid"),
    (["+experiment=optuna_search", "architecture.hidden.0=0"], "architecture.hidden=[0] is invalid"),
    (["+experiment=optuna_search", "tracking.objective=test_accuracy", "dataset.test_fraction=0"],
     "tracking.objective=test_accuracy needs a test part, and dataset.test_fraction is 0; accepted: "
     "dataset.test_fraction > 0, or a val_ or train_ objective"),
    (["seed=0,1", "tracking.objective=test_f1_macro", "dataset.test_fraction=0"],  # the basic sweeper's first job's
     "tracking.objective=test_f1_macro needs a test part"),
])
def test_a_swept_value_a_job_would_refuse_is_refused_first(overrides, message):
    with pytest.raises(UserError, match=re.escape(message)):
        check_swept_values(multirun_config(*overrides))


@pytest.mark.parametrize("overrides, message", [
    (["+experiment=optuna_search", "optimizer=sgd", "optimizer.lr=0.5", "regularization.lam=1",
      "architecture.hidden.0=8"], "the Optuna sweep has nothing to search (every key it would search is given one "
     "value: architecture.hidden.0, optimizer, optimizer.lr, regularization.lam), so its 20 trials would run the same "
     "job; accepted: at least one key searched with choice(A,B,...), range(START,STOP) or interval(LOW,HIGH)"),
    (["hydra/sweeper=optuna", "hydra.sweeper.n_trials=3"], "the Optuna sweep has nothing to search, so its 3 trials"),
    (["hydra/sweeper=optuna", "regularization.lam=choice(1)", "seed=interval(2,2)"], "the Optuna sweep has nothing "
     "to search (every key it would search is given one value: regularization.lam, seed)"),
])
def test_an_optuna_study_with_nothing_to_search_is_refused(tmp_path, overrides, message):
    """Before, such a study ran n_trials copies of one job."""
    for fine in (["+experiment=optuna_search", "optimizer=sgd"], ["hydra/sweeper=optuna", "seed=0,1"],
                 ["hydra/sweeper=optuna", "+hydra.sweeper.params={regularization.lam: 'interval(0,1)'}"]):
        config = multirun_config(*fine)
        check_sweep_space(config.hydra.sweeper, list(config.hydra.overrides.task))
    config = multirun_config(*overrides)
    with pytest.raises(UserError, match=re.escape(message)):
        check_sweep_space(config.hydra.sweeper, list(config.hydra.overrides.task))


def test_the_grid_sampler_is_refused_an_interval_and_the_optuna_preset_in_one_line():
    """Before: with the preset, Hydra's "In 'experiment/optuna_search': ConfigKeyError raised while composing config:
    Key 'seed' not in 'SamplerConfig' ..."; with an interval, a ValueError's traceback after the parent run."""
    grid = ("hydra/sweeper=optuna", "hydra/sweeper/sampler=grid")
    check_sweep_space(multirun_config(*grid).hydra.sweeper, ["optimizer.epochs=range(1,4)", "seed=choice(0,1)"])
    with pytest.raises(UserError, match=re.escape("regularization.lam=interval(0,1) cannot be searched by GridSampler "
                                                  "(hydra/sweeper/sampler=grid), which runs a list of values; "
                                                  "accepted: choice(A,B,...) or range(START,STOP[,STEP])")):
        check_sweep_space(multirun_config(*grid).hydra.sweeper, ["seed=0,1", "regularization.lam=interval(0,1)"])
    with pytest.raises(Exception) as refused:
        multirun_config("+experiment=optuna_search", "hydra/sweeper/sampler=grid")
    assert one_line(refused.value) == (
        "+experiment=optuna_search cannot be used with hydra/sweeper/sampler=grid: it sets hydra.sweeper.sampler.seed, "
        "which that sampler does not take; accepted: a sampler that takes it (tpe, random, cmaes, nsgaii, motpe); for "
        "a grid, the basic sweeper (python -m runner -m KEY=V1,V2 ...), or hydra/sweeper/sampler=grid with choice() "
        "or range() values and no preset")


@pytest.mark.parametrize("overrides, expected", [
    (["hydra/sweeper=optuna", "optimizer=sgd"], "error: the Optuna sweep has nothing to search, so its 20 trials "
     "would run the same job"),
    (["hydra/sweeper=optuna", "optimizer=sgd", "optimizer.lr=-1", "seed=0,1"], "error: optimizer.lr=-1 is invalid"),
    (["+experiment=optuna_search", "tracking.objective=test_accuracy", "dataset.test_fraction=0"],
     "error: tracking.objective=test_accuracy needs a test part"),
    (["+experiment=optuna_search", "hydra/sweeper/sampler=grid"], "error: +experiment=optuna_search cannot be used "
     "with hydra/sweeper/sampler=grid"),
    (["hydra/sweeper=optuna", "hydra/sweeper/sampler=grid", "regularization.lam=interval(0,1)"],
     "error: regularization.lam=interval(0,1) cannot be searched by GridSampler"),
])
def test_an_optuna_study_it_would_refuse_later_is_one_line_exit_2_and_no_parent_run(new_store, overrides, expected):
    result = new_store.cli("-m", "dataset=iris", "optimizer.epochs=5", *overrides)
    assert result.returncode == 2 and result.stderr.startswith(expected), result.stderr[-3000:]
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert new_store.runs() == []
