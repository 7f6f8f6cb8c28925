"""Parsing and checking ``memenvs compare`` arguments: env specs ``ID:KEY=VALUE,...``, ``--sweep KEY=V1,V2``,
``--overrides K=V,...``, and the error every bad argument raises (:class:`CompareError`)."""

from __future__ import annotations

import ast
import re
from typing import Any

import gymnasium as gym

from ..hyperparams import resolve


class CompareError(ValueError):
    """Bad arguments to a comparison, raised before any training starts."""


def _literal(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes (so ``sizes=[1,2]`` stays one pair)."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_env(text: str) -> tuple[str, dict[str, Any]]:
    """``"memenvs/TMaze-v0:variant=passive,length=20"`` -> ``("memenvs/TMaze-v0", {"variant": "passive",
    "length": 20})``. Values are Python literals where they parse, strings otherwise. An id may carry the module
    that registers it, as Gymnasium's ``"module:id"`` (``"popgym:popgym-RepeatPreviousEasy-v0:K=V"``): a first
    part that is a dotted module name, not an id, belongs to the id."""
    text = text.strip()
    head, sep, tail = text.partition(":")
    if (sep and re.fullmatch(r"[A-Za-z_][\w.]*", head) and head not in gym.registry
            and tail.strip() and "=" not in tail.partition(":")[0]):
        env_id, sep, rest = tail.partition(":")
        env_id = f"{head}:{env_id}"
    else:
        env_id, sep, rest = head, sep, tail
    if not env_id:
        raise CompareError(f"empty env id in {text!r}; expected ID or ID:KEY=VALUE,KEY=VALUE")
    kwargs: dict[str, Any] = {}
    if sep and rest.strip():
        for pair in _split_top(rest):
            key, eq, raw = pair.partition("=")
            if not eq or not key.strip() or not key.strip().isidentifier() or not raw.strip():
                raise CompareError(
                    f"malformed env kwargs in {text!r}: {pair!r} is not KEY=VALUE "
                    "(expected ID:KEY=VALUE,KEY=VALUE, e.g. memenvs/TMaze-v0:variant=passive,length=20)"
                )
            kwargs[key.strip()] = _literal(raw.strip())
    elif sep:
        raise CompareError(f"malformed env {text!r}: nothing after ':' (expected ID:KEY=VALUE,...)")
    return env_id, kwargs


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """``"length=10,20,50"`` -> ``("length", [10, 20, 50])``."""
    key, eq, raw = text.partition("=")
    values = [_literal(v.strip()) for v in _split_top(raw)] if raw.strip() else []
    if not eq or not key.strip().isidentifier() or not values or any(v == "" for v in values):
        raise CompareError(f"malformed --sweep {text!r}: expected KEY=V1,V2,... (e.g. length=10,20,50,100)")
    return key.strip(), values


def parse_overrides(overrides: str | dict[str, Any] | None) -> dict[str, Any]:
    """Algorithm keyword arguments for every run: ``"n_steps=128,learning_rate=1e-3"`` or a dict."""
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    return parse_env("overrides:" + overrides)[1]


def _check_overrides(baseline: str, overrides: dict[str, Any]) -> None:
    import inspect

    from ..models import ALGORITHMS

    algo = ALGORITHMS[resolve(baseline, "").algorithm]
    allowed = set(inspect.signature(algo.__init__).parameters) - {"self", "policy", "env", "policy_kwargs", "seed",
                                                                  "tensorboard_log", "device"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise CompareError(f"unknown override(s) {unknown} for {baseline} ({algo.__name__}); allowed: "
                           f"{', '.join(sorted(allowed))}")


def _fmt_value(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def env_label(env_id: str, kwargs: dict[str, Any]) -> str:
    """The inverse of :func:`parse_env`: ``ID`` or ``ID:KEY=VALUE,...``."""
    if not kwargs:
        return env_id
    return env_id + ":" + ",".join(f"{k}={_fmt_value(v)}" for k, v in kwargs.items())
