"""A sweep's own settings (hydra.launcher, hydra.sweeper, hydra.sweep.dir), checked before its parent run.

Hydra hands them to the launcher and sweeper plugins as they are, and those meet a bad value with
a traceback once the jobs are due, after the parent run was made: joblib, Optuna, a plugin that
is not installed, a swept value the sweeper cannot expand. `check_sweep_settings` turns each into one
UserError first. A value a setting's schema cannot hold (n_jobs=abc) Hydra refuses before any of this;
`merge_error` words that refusal with what the setting accepts (runner.errors.one_line calls it).
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

from runner.errors import UserError
from runner.settings import TrackingSettings

# What a setting accepts, said by the checks below and by merge_error when Hydra refuses a value of the wrong type.
ACCEPTED = {
    "hydra.launcher.n_jobs": "an integer >= 1, or -1 for every core, -2 for all but one, ...",
    "hydra.launcher.timeout": "null (no limit) or seconds > 0",
    "hydra.launcher.batch_size": "auto, or an integer >= 1 (the jobs a worker is sent at once)",
    "hydra.launcher.pre_dispatch": "all, an integer >= 1, or an expression of n_jobs such as 2*n_jobs "
                                   "(the jobs queued before the first returns)",
    "hydra.sweeper.n_trials": "an integer >= 1",
    "hydra.sweeper.n_jobs": "an integer >= 1",
    "hydra.sweeper.max_failure_rate": "a number from 0 to 1",
    "hydra.sweeper.sampler.seed": "null (a new seed each study) or an integer from 0 to 2**32-1 (4294967295)",
    "hydra.sweeper.sampler._target_": "a sampler of optuna.samplers: TPESampler, RandomSampler, CmaEsSampler, "
                                      "NSGAIISampler, MOTPESampler or GridSampler (hydra/sweeper/sampler=tpe, random, "
                                      "cmaes, nsgaii, motpe or grid)",
    "hydra.sweeper.search_space": "hydra.sweeper.params={KEY: 'interval(0,1)', ...}, which the Optuna sweeper reads "
                                  "instead (it deprecated search_space)",
    "hydra.sweeper.params": "a map of swept keys to their values, hydra.sweeper.params={KEY: 'V1,V2', ...} (a dotted "
                            "key is one key), or KEY=V1,V2 on the command line",
}
# Keys a sweep cannot sweep: why, and what it accepts.
ONE_PER_SWEEP = {
    "tracking.experiment": ("a sweep's parent run and its jobs are recorded in one experiment",
                            "one experiment per sweep (set tracking.experiment=NAME without a comma list)"),
    "tracking.uri": ("a sweep's parent run and its jobs are recorded in one store",
                     "one store per sweep (set tracking.uri=URI without a comma list)"),
    "tracking.objective": ("a sweep ranks its jobs, and Optuna steers its trials, by one objective",
                           "one objective per sweep (set tracking.objective=NAME without a comma list)"),
}
OPTUNA_SPACE = ("choice(A,B,...), range(START,STOP[,STEP]) with START <= STOP, interval(LOW,HIGH) with LOW <= HIGH, "
                "or tag(log, interval(LOW,HIGH)) with LOW > 0")
SAMPLER_SEEDS = range(2**32)  # what Optuna's samplers take (numpy's RandomState)


def check_sweep_settings(launcher, sweeper, sweep_dir: Path, overrides: list[str] = (),
                         objective: str = TrackingSettings.objective) -> None:
    """Every check below, `overrides` being the command line's (hydra.overrides.task) and `objective` the sweep's
    tracking.objective; called first thing in a sweep (runner.sweep.SweepCallback)."""
    for kind, plugin in (("launcher", launcher), ("sweeper", sweeper)):
        check_installed(kind, plugin)
        check_known_settings(kind, plugin)
    if str(launcher.get("_target_", "")).endswith("JoblibLauncher"):
        check_joblib(launcher)
    if str(sweeper.get("_target_", "")).endswith("OptunaSweeper"):
        check_optuna(sweeper, objective)
    check_sweep_space(sweeper, list(overrides))
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


def check_known_settings(kind: str, plugin) -> None:
    """Every key under hydra.<kind> is a setting its plugin takes ('+hydra.launcher.foo=1' made Hydra's
    instantiation fail with a traceback after the parent run); joblib's launcher passes its keys to joblib.Parallel."""
    import inspect

    target = str(plugin.get("_target_", ""))
    module, _, name = target.rpartition(".")
    plugin_class = getattr(importlib.import_module(module), name, None)
    if plugin_class is None:
        return
    parameters = inspect.signature(plugin_class.__init__).parameters
    if name == "JoblibLauncher":
        from joblib import Parallel

        parameters = inspect.signature(Parallel).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    known = sorted(set(parameters) - {"self"})
    unknown = sorted(key for key in set(plugin) - set(known) if not key.startswith("_"))  # _target_, _partial_
    if unknown:
        raise UserError(f"hydra.{kind}.{unknown[0]} is not a setting of {name}; accepted: "
                        f"{', '.join(known) or 'no settings'}")


def check_joblib(launcher) -> None:
    """hydra.launcher's settings that joblib refuses: n_jobs an integer other than 0 (-1: every
    core, -2: all but one, ...); backend one of joblib's; prefer and require its hints; timeout
    null or seconds > 0."""
    from joblib.parallel import BACKENDS, VALID_BACKEND_CONSTRAINTS, VALID_BACKEND_HINTS

    n_jobs = launcher.get("n_jobs")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise UserError(f"hydra.launcher.n_jobs={n_jobs!r} is invalid; accepted: {ACCEPTED['hydra.launcher.n_jobs']}")
    for key, accepted in (("backend", [None, *BACKENDS]), ("prefer", VALID_BACKEND_HINTS),
                          ("require", VALID_BACKEND_CONSTRAINTS)):
        value = launcher.get(key)
        if value not in accepted:
            raise UserError(f"hydra.launcher.{key}={value!r} is invalid; accepted: "
                            f"{', '.join('null' if a is None else a for a in accepted)}")
    timeout = launcher.get("timeout")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise UserError(f"hydra.launcher.timeout={timeout!r} is invalid; "
                        f"accepted: {ACCEPTED['hydra.launcher.timeout']}")
    check_joblib_batches(launcher, n_jobs)


def check_joblib_batches(launcher, n_jobs: int) -> None:
    """batch_size and pre_dispatch as joblib.Parallel takes them: batch_size 'auto' or an int >= 1 (else a
    ValueError); pre_dispatch 'all' or an int, or an expression of n_jobs it evaluates, that comes to >= 1 (0 starts
    no job, and the sweep ends with none)."""
    from joblib import effective_n_jobs
    from joblib.parallel import eval_expr

    batch_size = as_launched(launcher.get("batch_size", "auto"))
    if batch_size != "auto" and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise UserError(f"hydra.launcher.batch_size={batch_size!r} is invalid; "
                        f"accepted: {ACCEPTED['hydra.launcher.batch_size']}")
    pre_dispatch = as_launched(launcher.get("pre_dispatch", "2*n_jobs"))
    if pre_dispatch == "all":
        return
    cores, expression = effective_n_jobs(n_jobs), isinstance(pre_dispatch, str)
    try:  # the jobs queued ahead, as joblib.Parallel computes them
        ahead = int(eval_expr(pre_dispatch.replace("n_jobs", str(cores))) if expression else pre_dispatch)
    except (TypeError, ValueError, OverflowError):
        ahead = None
    if ahead is None or ahead < 1:
        comes_to = f" (it comes to {ahead} with n_jobs={cores})" if expression and ahead is not None else ""
        raise UserError(f"hydra.launcher.pre_dispatch={pre_dispatch!r} is invalid{comes_to}; "
                        f"accepted: {ACCEPTED['hydra.launcher.pre_dispatch']}")


def as_launched(value):
    """A value as Hydra's joblib launcher hands it to joblib: its schema holds strings, and a string of an
    integer becomes that integer ('2' -> 2; '2*n_jobs' and 'auto' stay)."""
    try:
        return int(value) if isinstance(value, str) and value else value
    except ValueError:
        return value


def check_optuna(sweeper, objective: str) -> None:
    """hydra.sweeper's settings that the Optuna sweeper meets with a traceback once the study starts
    (direction, n_trials=0, max_failure_rate, the sampler; n_jobs=0: an empty batch, divided by; a storage: the
    sweeper requires optuna < 3, whose database storage fails an assertion under SQLAlchemy 2, which MLflow needs)."""
    check_optuna_direction(sweeper.get("direction"), objective)
    for key in ("n_trials", "n_jobs"):
        value = sweeper.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"hydra.sweeper.{key}={value!r} is invalid; accepted: {ACCEPTED['hydra.sweeper.' + key]}")
    storage = sweeper.get("storage")
    if storage is not None and not optuna_storage_works():
        raise UserError(f"hydra.sweeper.storage={storage!r} is not supported: the Optuna sweeper requires optuna < 3, "
                        "which cannot open a database under the SQLAlchemy 2 that MLflow needs; accepted: null (the "
                        "study in memory; every trial is an MLflow run under the sweep's parent)")
    if sweeper.get("search_space") is not None:  # the sweeper would use hydra.sweeper.params, {} (conf/config.yaml)
        raise UserError("hydra.sweeper.search_space is not read (the Optuna sweeper deprecated it for "
                        "hydra.sweeper.params); accepted: the same space under hydra.sweeper.params")
    rate = sweeper.get("max_failure_rate")
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        raise UserError(f"hydra.sweeper.max_failure_rate={rate!r} is invalid; "
                        f"accepted: {ACCEPTED['hydra.sweeper.max_failure_rate']}")
    if sweeper.get("sampler") is not None:  # null: Optuna's default sampler, TPE
        check_optuna_sampler(sweeper.get("sampler"))


def check_optuna_direction(direction, objective: str) -> None:
    """The study's direction is the objective's (runner.sweep_runs.direction): a study minimizing val_accuracy
    (Hydra's default direction, minimize, under hydra/sweeper=optuna) searched for the worst trials while the
    parent run named the best one."""
    from runner.sweep_runs import direction as objective_direction

    direction = getattr(direction, "name", direction)  # Hydra's default is its Direction enum
    if direction not in ("minimize", "maximize"):
        raise UserError(f"hydra.sweeper.direction={direction!r} is invalid; accepted: minimize, maximize "
                        "(a job returns one value, tracking.objective)")
    wanted = objective_direction(objective)
    if direction != wanted:
        best = "highest" if wanted == "maximize" else "lowest"
        raise UserError(f"hydra.sweeper.direction={direction} contradicts tracking.objective={objective}, best "
                        f"{best}; accepted: hydra.sweeper.direction={wanted} (+experiment=optuna_search sets it from "
                        "tracking.objective)")


def check_optuna_sampler(sampler) -> None:
    """hydra.sweeper.sampler makes an Optuna sampler: its class exists, takes its keys and a seed from 0 to 2**32-1
    (+experiment=optuna_search passes it ${seed}: a run's seed may be larger). Hydra made it only after the parent
    run, and worded a failure as "Error in call to target ...": any other failure of it is said in one line too."""
    from hydra.utils import instantiate

    target = sampler.get("_target_")
    module, _, name = str(target).rpartition(".")
    try:
        getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):  # ValueError: no module named ('NoSuch')
        raise UserError(f"hydra.sweeper.sampler._target_={target!r} cannot be found; "
                        f"accepted: {ACCEPTED['hydra.sweeper.sampler._target_']}") from None
    check_known_settings("sweeper.sampler", sampler)
    seed = sampler.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed not in SAMPLER_SEEDS):
        given = f" (it is {seed_text(sampler)}, the run's seed)" if seed_text(sampler) != str(seed) else ""
        raise UserError(f"hydra.sweeper.sampler.seed={seed!r} is invalid{given}; "
                        f"accepted: {ACCEPTED['hydra.sweeper.sampler.seed']}")
    try:
        instantiate(sampler)
    except Exception as error:
        reason = error.__cause__ or error
        raise UserError(f"hydra.sweeper.sampler cannot be made ({type(reason).__name__}: {reason}); accepted: the "
                        f"settings {str(target).rpartition('.')[2]} takes") from None


def seed_text(sampler) -> str:
    """The sampler's seed as its config writes it: '${seed}' where conf/experiment/optuna_search.yaml passes it
    the run's seed."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(sampler, DictConfig):
        return str(OmegaConf.to_container(sampler, resolve=False).get("seed"))
    return str(sampler.get("seed"))


def check_sweep_space(sweeper, overrides: list[str]) -> None:
    """The swept values (the command line's and hydra.sweeper.params) a sweep cannot run: an experiment, a store
    or an objective per job (the parent run is in one, its summary would find no job or mix costs and accuracies),
    under the basic sweeper an interval() (it expands lists of values) and under Optuna what it cannot sample
    (Hydra's messages, or a traceback, came after the parent run was made)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = sweeper.get("params") or {}
    given = [*(f"{key}={value}" for key, value in params.items()), *overrides]  # as both sweepers read them
    basic = str(sweeper.get("_target_", "")).endswith("BasicSweeper")
    optuna = str(sweeper.get("_target_", "")).endswith("OptunaSweeper")
    parsed = OverridesParser.create().parse_overrides(given)
    for override in parsed:
        if not override.is_sweep_override():
            continue
        key, line = override.key_or_group, override.input_line
        if key in ONE_PER_SWEEP:
            why, accepted = ONE_PER_SWEEP[key]
            raise UserError(f"{line} cannot be swept: {why}; accepted: {accepted}")
        if basic and not override.is_discrete_sweep():
            raise UserError(f"{line} cannot be swept by the basic sweeper, which runs lists of values; accepted: a "
                            "comma list, range(), choice() or glob(), or hydra/sweeper=optuna for interval()")
        if optuna:
            check_optuna_distribution(override)
    if optuna:
        check_optuna_space(sweeper, parsed)


def check_optuna_distribution(override) -> None:
    """A swept override makes an Optuna distribution as the sweeper makes it (an interval or range whose ends are
    reversed, a log interval from 0, a glob(): a ValueError or a bare AssertionError after the parent run), and
    carries no tag the sweeper would ignore (only interval() reads one: log)."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_optuna_distribution_from_override

    line = override.input_line
    try:
        create_optuna_distribution_from_override(override)
    except (ValueError, AssertionError, NotImplementedError) as error:
        kind = line.partition("=")[2].partition("(")[0]
        reason = str(error).rstrip(".") or f"{kind}() is not a distribution Optuna samples"
        raise UserError(f"{line} cannot be sampled by Optuna ({reason}); accepted: {OPTUNA_SPACE}") from None
    read = {"log"} if override.is_interval_sweep() else set()
    ignored = sorted(set(getattr(override.value(), "tags", ())) - read)
    if ignored:
        raise UserError(f"{line} has the tag {ignored[0]!r}, which the Optuna sweeper ignores; accepted: "
                        "tag(log, interval(LOW,HIGH)) for a log scale, or no tag")


def check_optuna_space(sweeper, overrides: list) -> None:
    """What the Optuna sweeper searches, worked out as it does (a key's fixed value wins over its distribution):
    at least one key of more than one value (with none, its n_trials trials ran the same job), and under GridSampler
    lists of values only (an interval made a ValueError's traceback after the parent run)."""
    from hydra_plugins.hydra_optuna_sweeper._impl import create_params_from_overrides
    from optuna.distributions import CategoricalDistribution, DiscreteUniformDistribution, IntUniformDistribution

    space, fixed = create_params_from_overrides([override.input_line for override in overrides])
    lines = {override.get_key_element(): override.input_line for override in overrides}
    if str((sweeper.get("sampler") or {}).get("_target_", "")).endswith("GridSampler"):
        listed = (CategoricalDistribution, DiscreteUniformDistribution, IntUniformDistribution)  # what it can list
        for key, distribution in space.items():
            if not isinstance(distribution, listed):
                raise UserError(f"{lines[key]} cannot be searched by GridSampler (hydra/sweeper/sampler=grid), "
                                "which runs a list of values; accepted: choice(A,B,...) or range(START,STOP[,STEP]), "
                                "or another sampler (tpe, random) for an interval")
    searched = [key for key, distribution in space.items() if key not in fixed and not distribution.single()]
    if not searched and sweeper.get("custom_search_space") is None:
        one = sorted(key for key in space if key in fixed or space[key].single())
        given_one = f" (every key it would search is given one value: {', '.join(one)})" if one else ""
        raise UserError(f"the Optuna sweep has nothing to search{given_one}, so its {sweeper.get('n_trials')} trials "
                        "would run the same job; accepted: at least one key searched with choice(A,B,...), "
                        "range(START,STOP) or interval(LOW,HIGH) (e.g. regularization.lam='interval(0,10)'), or one "
                        "run without -m")


def last_overrides(config) -> dict:
    """The sweep's overrides (sweep_overrides) by key, the last of a key's winning as in BasicSweeper.sweep."""
    return {override.get_key_element(): override for override in sweep_overrides(config)}


def sweep_overrides(config) -> list:
    """The sweep's overrides parsed as the basic sweeper reads them: hydra.sweeper.params, then the command line's
    (hydra.overrides.task), whose value for a key given in both wins (BasicSweeper.sweep)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = config.hydra.sweeper.get("params") or {}
    given = [*(f"{key}={value}" for key, value in params.items()), *config.hydra.overrides.task]
    return OverridesParser.create().parse_overrides(given)


def check_group_keys(config) -> None:
    """Each key the sweep sets under a plugin group (optimizer.lr=... or ++optimizer.lr=..., swept or not; not
    +optimizer.lr) is a key of every option its jobs take of that group (optimizer=choice(lbfgs,sgd), or the one the
    config chooses): Hydra stopped the sweep at the first such job, after the ones before it, with "Could not
    override 'optimizer.lr'. To append to your config use +optimizer.lr=..." (which lbfgs refuses too), and a ++ at
    the first job whose option's plugin refused the key. An option whose config this cannot read as a plain map of
    keys (a defaults list, a package of its own), and a glob() of options, are left to the jobs."""
    last = last_overrides(config)
    options = group_options(config, last.values())
    repository = config_repository(config)
    for override in last.values():
        group, _, key = override.key_or_group.partition(".")
        if override.is_add() or override.is_delete() or group not in options or not key:  # ++: as KEY=V
            continue
        for option in options[group]:
            keys = option_keys(repository, group, option)
            if keys is not None and key.split(".")[0] not in keys:
                swept = f" (of {last[group].input_line})" if group in last and last[group].is_sweep_override() else ""
                raise UserError(f"{override.input_line} cannot be set with {group}={option}{swept}, whose config has "
                                f"no key {key.split('.')[0]}; accepted: the keys of {group}={option}: "
                                f"{', '.join(k for k in keys if not k.startswith('_')) or 'none'}")


def group_options(config, overrides) -> dict[str, list[str]]:
    """The options the sweep's jobs take of each plugin group: the swept ones (optimizer=choice(lbfgs,sgd)), else
    the one the config chooses; none for a glob() of options, which the sweeper expands against the files."""
    from hydra.core.override_parser.types import ValueType

    options = {group: [str(option)] for group, option in config.hydra.runtime.choices.items()
               if not group.startswith("hydra/") and group != "experiment" and option is not None}
    for override in overrides:
        if override.key_or_group not in options or override.is_delete():
            continue
        if override.value_type == ValueType.GLOB_CHOICE_SWEEP:
            options[override.key_or_group] = []
        elif override.is_sweep_override():
            options[override.key_or_group] = list(override.sweep_string_iterator())
        else:
            options[override.key_or_group] = [str(override.value())]
    return options


def config_repository(config):
    """Hydra's repository of the sweep's config sources (conf/, hydra.searchpath's), to read a group's options."""
    from hydra._internal.config_repository import ConfigRepository
    from hydra._internal.config_search_path_impl import ConfigSearchPathImpl

    search_path = ConfigSearchPathImpl()
    for source in config.hydra.runtime.config_sources:
        search_path.append(source.provider, f"{source.schema}://{source.path}")
    return ConfigRepository(search_path)


def option_keys(repository, group: str, option: str) -> list[str] | None:
    """The keys of config group option group/option as its file writes them; None when that is not what a job gets
    under `group` (no such option, a defaults list, a package of its own)."""
    found = repository.load_config(f"{group}/{option}")
    if found is None or found.defaults_list or found.header.get("package") not in (None, "_group_"):
        return None
    return list(found.config)


def check_swept_values(config) -> None:
    """Under the basic sweeper and Optuna, the sweep's base config and each listed value set alone on it pass what a
    job checks before it loads data (check_job), so a bad value (optimizer.lr=0.5,-1, or a fixed optimizer.lr=-1 in
    an Optuna study), a missing data file or an unknown key stops the sweep before its parent run, not at its job
    after the ones before it ran. What swept_lists leaves out is left to the jobs."""
    from omegaconf import OmegaConf, open_dict

    if not str(config.hydra.sweeper.get("_target_", "")).endswith(("BasicSweeper", "OptunaSweeper")):
        return
    found = swept_lists(config)
    if found is None:
        return
    values, skip = found
    first = OmegaConf.create(OmegaConf.to_container(config, resolve=False))  # the first job: each key's first value
    with open_dict(first):
        del first["hydra"]
        for key, listed in values.items():
            OmegaConf.update(first, key, listed[0], merge=False, force_add=True)
    check_job(first, skip)
    for key, listed in values.items():  # then each other value alone on it
        for value in listed[1:]:
            job = first.copy()
            with open_dict(job):
                OmegaConf.update(job, key, value, merge=False, force_add=True)
            check_job(job, skip)


def swept_lists(config) -> tuple[dict[str, list], tuple[str, ...]] | None:
    """The values each swept key lists (the last override of a key winning), and the plugin groups swept: those
    (optimizer=sgd,adam), with the keys under them, are left to their jobs, as are Optuna's interval()s, which its
    trials sample. None when every check is left to the jobs (a swept experiment preset may set anything) or there
    is no job (an empty list, seed=range(0): the sweep's end says so in one line)."""
    from hydra.core.override_parser.types import ValueType

    from runner.paths import PROJECT_ROOT

    swept = [o for o in last_overrides(config).values() if o.is_sweep_override() and not o.is_delete()]
    groups = {*config.hydra.runtime.choices, *(p.name for p in (PROJECT_ROOT / "conf").iterdir() if p.is_dir())}
    swept_groups = {o.key_or_group for o in swept if o.key_or_group in groups}
    if "experiment" in swept_groups:
        return None
    values = {o.key_or_group: list(o.sweep_iterator()) for o in swept if o.key_or_group not in swept_groups
              and o.key_or_group.split(".")[0] not in swept_groups and o.is_discrete_sweep()
              and o.value_type != ValueType.GLOB_CHOICE_SWEEP}
    return (values, tuple(swept_groups)) if all(values.values()) else None


def check_job(job, skip: tuple[str, ...]) -> None:
    """A job's config passes what the job checks before it loads data: its settings and every plugin but those of
    the groups in `skip` built (runner.setup.check_config), and a test_ objective has a test part to be measured on
    (runner.setup.prepare says the same once the data is loaded: the dataset's test_fraction tells already)."""
    from omegaconf import OmegaConf

    from runner.setup import check_config, check_test_part

    settings, plugins = check_config(OmegaConf.to_container(job, resolve=True), skip)
    check_test_part(settings.tracking.objective, getattr(plugins.get("dataset"), "test_fraction", None) != 0)


def merge_error(error: BaseException) -> str | None:
    """Hydra's "Error merging override hydra.launcher.n_jobs=abc" (a value the setting's schema cannot hold) as
    one line naming the value, Hydra's reason and what the setting accepts (also a key a config file gives the
    sampler chosen, which it lacks: sampler_key_error); None for any other error."""
    from hydra.errors import ConfigCompositionException
    from omegaconf.errors import ValidationError

    if line := sampler_key_error(error):
        return line
    cause = error.__cause__
    if not isinstance(error, ConfigCompositionException) or not isinstance(cause, ValidationError) \
            or not getattr(cause, "full_key", None):
        return None
    value = getattr(cause, "value", None)
    key = "hydra.sweeper.params" if cause.full_key.startswith("hydra.sweeper.params.") else cause.full_key
    accepted = ACCEPTED.get(key, f"a value of the type {cause.object_type_str}.{cause.key} declares")
    return (f"{cause.full_key}={'null' if value is None else repr(value)} is invalid "
            f"({str(cause.msg).splitlines()[0]}); accepted: {accepted}")


def sampler_key_error(error: BaseException) -> str | None:
    """Hydra's "In 'experiment/optuna_search': ConfigKeyError raised while composing config: Key 'seed' not in
    'SamplerConfig'" (a config file sets a hydra.sweeper.sampler key the sampler chosen lacks: the preset's seed under
    hydra/sweeper/sampler=grid) as one line naming both and what is accepted; None for any other error."""
    from omegaconf.errors import ConfigKeyError

    source = re.match(r"In '(\w+)/([^']+)': ConfigKeyError", str(error))
    context = error.__context__
    if source is None or not isinstance(context, ConfigKeyError) \
            or not str(getattr(context, "full_key", "")).startswith("hydra.sweeper.sampler."):
        return None
    group, option = source.groups()
    key = context.full_key.rpartition(".")[2]
    lacking, taking = sampler_options(key)
    grid = ("; for a grid, the basic sweeper (python -m runner -m KEY=V1,V2 ...), or hydra/sweeper/sampler=grid "
            "with choice() or range() values and no preset") if "grid" in lacking else ""
    return (f"{'+' if group == 'experiment' else ''}{group}={option} cannot be used with hydra/sweeper/sampler="
            f"{' or '.join(lacking) or '...'}: it sets hydra.sweeper.sampler.{key}, which that sampler does not take; "
            f"accepted: a sampler that takes it ({', '.join(taking)}){grid}")


def sampler_options(key: str) -> tuple[list[str], list[str]]:
    """The options of hydra/sweeper/sampler whose config lacks `key`, and those that have it (seed: grid lacks it)."""
    from hydra.core.config_store import ConfigStore

    importlib.import_module("hydra_plugins.hydra_optuna_sweeper.config")  # registers the options
    options = {name.removesuffix(".yaml"): node.node for name, node in
               ConfigStore.instance().repo["hydra"]["sweeper"]["sampler"].items()}
    return ([name for name, config in options.items() if key not in config],
            [name for name, config in options.items() if key in config])


def null_node_error(error: BaseException) -> str | None:
    """An override Hydra applied to a null node of its own config ('+hydra.sweeper.search_space={...}': OmegaConf
    cannot merge into null and raises a bare AttributeError or AssertionError, which Hydra does not wrap) as one
    line naming the override, the null key and what it accepts; None for any other error."""
    import traceback

    frames = [frame for frame, _ in traceback.walk_tb(error.__traceback__)]
    override = next((frame.f_locals.get("override") for frame in frames
                     if frame.f_code.co_name == "_apply_overrides_to_config"), None)
    if not isinstance(error, (AttributeError, AssertionError)) or override is None:
        return None
    full_key = re.search(r"full_key: (\S+)", str(error))
    key = full_key.group(1) if full_key else override.key_or_group.lstrip("+~").rpartition(".")[0]  # its parent
    accepted = ACCEPTED.get(key, "the value in a config file, such as an experiment preset under conf/experiment/")
    return f"{override.input_line} cannot be applied: {key} is null in Hydra's config; accepted: {accepted}"


def optuna_storage_works() -> bool:
    """Whether Optuna's database storage can work here: optuna < 3 asserts on SQLAlchemy 2's schema check."""
    from importlib.metadata import version

    return int(version("optuna").split(".")[0]) >= 3 or int(version("sqlalchemy").split(".")[0]) < 2
