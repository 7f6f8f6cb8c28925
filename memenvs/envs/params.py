"""Validation helpers for environment parameters.

Every env's parameters live in a frozen dataclass whose ``__post_init__`` calls these helpers, so a bad keyword
argument fails at construction with a ``ValueError`` that names the argument and the allowed values, before any
state exists that could be left half-changed.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable, Iterable, TypeVar

import numpy as np

P = TypeVar("P")


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an ``int`` if it is an integer in ``[low, high]``; raise ``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer{_range_text(low, high)}, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer{_range_text(low, high)}, got {value!r}")
    return value


def check_float(
    name: str, value: Any, low: float | None = None, high: float | None = None, *, low_open: bool = False
) -> float:
    """Return ``value`` as a finite ``float`` in ``[low, high]`` (``(low, high]`` if ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not _finite(value):
        raise ValueError(f"{name} must be a finite number{_range_text(low, high, low_open)}, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    if too_low or (high is not None and value > high):
        raise ValueError(f"{name} must be a number{_range_text(low, high, low_open)}, got {value!r}")
    return value


def check_probability(name: str, value: Any) -> float:
    """Return ``value`` as a ``float`` in ``[0, 1]``."""
    return check_float(name, value, 0.0, 1.0)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if not any(_is_choice(value, c) for c in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_optional_int(name: str, value: Any, low: int | None = None) -> int | None:
    """Like :func:`check_int`, but ``None`` is allowed and returned unchanged."""
    return None if value is None else check_int(name, value, low)


def normalise(params: Any, name: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Validate field ``name`` of a frozen params dataclass with ``check(name, value, *args, **kwargs)`` and store
    the normalised value (an ``int`` for an integer-valued numpy scalar, and so on); for ``__post_init__``."""
    object.__setattr__(params, name, check(name, getattr(params, name), *args, **kwargs))


def build_params(params_class: type[P], kwargs: dict[str, Any], env_name: str) -> P:
    """Construct ``params_class(**kwargs)``, turning an unknown keyword into a ``ValueError`` that lists the
    accepted ones (a dataclass would raise a ``TypeError`` without saying what is allowed)."""
    allowed = [f.name for f in dataclasses.fields(params_class) if f.init]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"{env_name} got unknown argument(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(allowed)}"
        )
    return params_class(**kwargs)


def _is_choice(value: Any, choice: Any) -> bool:
    # ``in`` would compare arrays elementwise: a one-element array passed as the choice and a longer one raised
    # NumPy's "truth value is ambiguous" instead of this module's error naming the argument.
    if isinstance(value, np.ndarray):
        return False
    try:
        return bool(value == choice)
    except (TypeError, ValueError):
        return False


def _finite(value: numbers.Real) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _range_text(low: Any, high: Any, low_open: bool = False) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if low_open else '>='} {low}"
    if low is None:
        return f" <= {high}"
    return f" in {'(' if low_open else '['}{low}, {high}]"
