"""Hydra's "Could not override 'optimizer.lr'. To append to your config use +optimizer.lr=V" said for our groups.

Hydra's advice does not work here: a plugin refuses a key its option's config does not have, and in a sweep
(`-m optimizer=sgd,adam optimizer.lr=0.1`) Hydra sets the key on the sweep's base config, composed with the
group's default option (lbfgs, no lr), before each job takes its own option (Hydra issues #283, #2888). So the
line names the option that lacks the key, the options that have it, and, in a sweep over the group, the `++`
override that sets the key in each job (runner.sweep_checks.check_group_keys then checks every swept option).
"""
from __future__ import annotations

import re

from omegaconf import DictConfig, OmegaConf

from runner.paths import PROJECT_ROOT

CONF = PROJECT_ROOT / "conf"
COULD_NOT_OVERRIDE = re.compile(r"Could not override '([\w.]+)'")


def could_not_override(message: str, argv: list[str]) -> str | None:
    """The line for Hydra's "Could not override 'GROUP.KEY'" given command line `argv`; None for anything else."""
    found = COULD_NOT_OVERRIDE.search(message)
    group, _, dotted = found.group(1).partition(".") if found else ("", "", "")
    overrides = parsed(argv) if dotted and (CONF / group).is_dir() else None
    if overrides is None:
        return None
    key = dotted.split(".")[0]
    given = next((o.input_line for o in reversed(overrides) if o.key_or_group == f"{group}.{dotted}"), found.group(1))
    base = base_option(group, overrides)
    keys = conf_keys(group, base)
    if keys is None or key in keys:
        return None
    having = [option for option in conf_options(group) if key in (conf_keys(group, option) or [])]
    sweep = next((o for o in reversed(overrides) if o.key_or_group == group and o.is_sweep_override()), None)
    if sweep is not None and ("-m" in argv or "--multirun" in argv):
        return (f"{given} is set on the sweep's base config, {group}={base}, whose config has no key {key}, before "
                f"each job takes its {sweep.input_line}; accepted: ++{given}, which sets it in each job (each "
                f"{group} swept must have the key {key}: {', '.join(having) or 'none has'})")
    others = f", or {group}=OPTION with the key {key}: {', '.join(having)}" if having else ""
    return (f"{given} cannot be set with {group}={base}, whose config has no key {key}; accepted: the keys of "
            f"{group}={base}: {', '.join(k for k in keys if not k.startswith('_')) or 'none'}{others}")


def parsed(argv: list[str]) -> list | None:
    """The command line's overrides as Hydra parses them; None when it cannot (Hydra then says why itself)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_overrides([a for a in argv if "=" in a and not a.startswith("-")])
    except Exception:  # noqa: BLE001 - any parse failure leaves Hydra's own message
        return None


def base_option(group: str, overrides: list) -> str | None:
    """The option of `group` the base config composes: the command line's (not a sweep), else the preset's
    (+experiment=NAME's `override /group: option`), else conf/config.yaml's default."""
    for override in reversed(overrides):
        if override.key_or_group == group and not override.is_sweep_override() and not override.is_delete():
            return str(override.value())
    presets = [str(o.value()) for o in overrides if o.key_or_group == "experiment" and not o.is_sweep_override()]
    for source in [*(CONF / "experiment" / f"{name}.yaml" for name in reversed(presets)), CONF / "config.yaml"]:
        if source.is_file():
            for entry in OmegaConf.load(source).get("defaults") or []:
                if isinstance(entry, DictConfig):
                    for name, option in entry.items():
                        if str(name).removeprefix("override ").strip().lstrip("/") == group:
                            return str(option)
    return None


def conf_keys(group: str, option: str | None) -> list[str] | None:
    """The keys conf/<group>/<option>.yaml writes; None when there is no such file. Read from the file, not through
    Hydra's repository as runner.sweep_checks.option_keys does: here the config failed to compose, so there are no
    config sources to build one from (an option from hydra.searchpath is then left to Hydra's own line)."""
    path = CONF / group / f"{option}.yaml"
    return list(OmegaConf.load(path)) if option and path.is_file() else None


def conf_options(group: str) -> list[str]:
    """The options of a config group under conf/, by name."""
    return sorted(path.stem for path in (CONF / group).glob("*.yaml"))
