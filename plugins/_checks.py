"""One-line argument checks shared by the plugins' constructors."""
from __future__ import annotations

import math
import numbers


def require(ok: bool, name: str, value, accepted: str) -> None:
    """Raise ValueError('name=value is invalid; accepted: ...') unless ok."""
    if not ok:
        raise ValueError(f"{name}={value!r} is invalid; accepted: {accepted}")


def is_number(value) -> bool:
    """A finite real number that is not a bool (True is an int in Python, but not a learning rate; inf passes
    every comparison a range check makes, and NaN fails them all)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value) -> bool:
    """An integral number that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_number(name: str, value) -> None:
    require(is_number(value) and value > 0, name, value, "a number > 0")


def non_negative_number(name: str, value) -> None:
    require(is_number(value) and value >= 0, name, value, "a number >= 0")


def non_negative_integer(name: str, value) -> None:
    require(is_integer(value) and value >= 0, name, value, "an integer >= 0")


def positive_integer(name: str, value) -> None:
    require(is_integer(value) and value >= 1, name, value, "an integer >= 1")


def is_one_of(value, choices) -> bool:
    """Whether value equals one of choices (a tuple, or a dict's keys). Compared by == and never hashed: a list or
    a map given on the command line (activation=[sigmoid]) is none of them, where `value in a_dict` raises
    TypeError (unhashable type: 'list')."""
    return any(value == choice for choice in choices)


def one_of(name: str, value, choices) -> None:
    require(is_one_of(value, choices), name, value, "one of " + ", ".join(map(str, choices)))
