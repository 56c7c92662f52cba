"""Building plugin objects from config nodes `{_target_: module.Class, arg: value, ...}`.

The runner does this itself rather than through hydra.utils.instantiate so that
(1) every mistake becomes one line naming the config key, and (2) a config read
back from a tracking store, which others can write to, can be limited to the
project's own plugin packages before anything is imported or called.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect

from runner.errors import UserError

PROJECT_PLUGIN_PACKAGES = ("plugins",)


def target_allowed(target: str, allowed: tuple[str, ...]) -> bool:
    """True when target is inside one of the allowed packages (or is one of them)."""
    return any(target == package or target.startswith(package + ".") for package in allowed)


def check_targets(config: dict, allowed: tuple[str, ...]) -> None:
    """Refuse, before importing anything, any `_target_` anywhere in config outside `allowed`."""
    for path, target in _targets(config, ""):
        if not isinstance(target, str) or not target_allowed(target, allowed):
            raise UserError(f"{path}._target_={target!r} is not allowed; accepted: classes inside "
                            f"{', '.join(p + '.*' for p in allowed)} (allow more with --allow MODULE)")


def _targets(node, path: str):
    if isinstance(node, dict):
        if "_target_" in node:
            yield path or "<root>", node["_target_"]
        for key, value in node.items():
            yield from _targets(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _targets(value, f"{path}[{index}]")


def build(group: str, node: dict, allowed: tuple[str, ...] | None = None):
    """Instantiate the plugin described by `node` (a plain dict), validating its keys first.

    allowed=None trusts the target (the user's own config); otherwise the target must lie
    inside one of the allowed packages.
    """
    if not isinstance(node, dict) or "_target_" not in node:
        raise UserError(f"{group} has no _target_; accepted: a config node naming a plugin class")
    target = node["_target_"]
    if allowed is not None:
        check_targets({group: node}, allowed)
    cls = _import(group, target)
    kwargs = {key: value for key, value in node.items() if key != "_target_"}
    accepted = _accepted_keys(cls)
    for key in kwargs:
        if accepted is not None and key not in accepted:
            takes = f"keys: {', '.join(accepted)}" if accepted else f"no key ({target} takes none)"
            raise UserError(f"unknown key {group}.{key} for {target}; accepted {takes}")
    try:
        return cls(**kwargs)
    except ValueError as error:
        raise UserError(qualify(group, error)) from None


def qualify(group: str, error: Exception) -> str:
    """'lr=-1 is invalid ...' from group optimizer becomes 'optimizer.lr=-1 is invalid ...'."""
    message = " ".join(str(error).split())
    head = message.split("=", 1)[0]
    return f"{group}.{message}" if "=" in message and head.isidentifier() else f"{group}: {message}"


def _import(group: str, target: str):
    module_name, _, attribute = str(target).rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise UserError(f"{group}._target_={target!r} cannot be imported; accepted: an importable module.Class") from None


def _accepted_keys(cls) -> list[str] | None:
    if dataclasses.is_dataclass(cls):
        return [f.name for f in dataclasses.fields(cls) if f.init]
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return None
    return [p.name for p in parameters if p.name != "self"]
