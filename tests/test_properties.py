"""Property-based tests (hypothesis) over every registered id.

For each id in :data:`memenvs.registration.ENVS`, hypothesis draws keyword arguments within the documented ranges
and random action sequences, and checks that

* single env: observations lie in the observation space with its exact dtype (and are finite), rewards are finite
  Python floats, ``terminated``/``truncated`` are Python bools, and every episode ends within the documented limit
  (for the native envs: truncated exactly at it unless terminated first);
* vector env (random number of copies, autoreset mode, per-copy actions and partial resets with ``reset_mask``): the
  same per copy, with the autoreset bookkeeping of each mode (NEXT_STEP reset steps give reward 0, SAME_STEP final
  observations lie in the space, DISABLED copies are reset by hand);
* invalid arguments (out of range, wrong type, not applicable, unknown names) raise ``ValueError`` naming the
  argument, for ``gym.make`` and ``gym.make_vec``, and never another exception.

The strategies live in one table, :data:`SPECS`, one row per id, written from each env's "Arguments" and "Episode
End" docstring sections. A registered id without a row fails (it does not skip), so a new env must add one.
Examples per test and id: ``EnvSpec.examples`` (see ``pytest --hypothesis-show-statistics``). Atari ids run few
examples (ALE is slow) and skip only when ale-py is missing.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import math
import re
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import memenvs  # noqa: F401  (registers the ids)
from memenvs.registration import ENVS

Bound = Any  # a number, None (unbounded) or a function of the other arguments (with their defaults) to a number

# Values of the wrong type for almost any argument (each kind below removes the ones it accepts).
ODD_VALUES = (
    "1", "", b"1", [1], (1,), {}, {"a": 1}, 1 + 1j, object(), np.array([1, 2]), np.array(1.5), float("nan"),
    float("inf"), float("-inf"),
)


def _bound(b: Bound, kw: dict[str, Any]) -> Any:
    return b(kw) if callable(b) else b


def _always(kw: dict[str, Any]) -> bool:
    return True


@dataclasses.dataclass(frozen=True)
class Int:
    """An integer argument in ``[low, high]``; ``cap`` bounds the valid values drawn (to keep episodes short)."""

    low: Bound
    high: Bound = None
    optional: bool = False
    cap: int | None = None
    applies: Callable[[dict], bool] = _always

    def valid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        lo, hi = _bound(self.low, kw), _bound(self.high, kw)
        top = self.cap if hi is None else (hi if self.cap is None else min(hi, self.cap))
        ints = st.integers(lo, top)
        ints = st.one_of(ints, ints.filter(lambda v: abs(v) < 2**62).map(np.int64))
        return st.one_of(st.none(), ints) if self.optional else ints

    def invalid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        lo, hi = _bound(self.low, kw), _bound(self.high, kw)
        bad = [st.integers(max_value=lo - 1), st.sampled_from([True, False, 2.0, np.float64(3.0), lo + 0.5])]
        bad.append(st.floats(allow_nan=True).filter(lambda v: not float(v).is_integer()))
        if hi is not None:
            bad.append(st.integers(min_value=hi + 1))
        if not self.optional:
            bad.append(st.none())
        return st.one_of(*bad, st.sampled_from(ODD_VALUES))


@dataclasses.dataclass(frozen=True)
class Float:
    """A finite number in ``[low, high]`` (an ``int`` is accepted too)."""

    low: Bound
    high: Bound = None
    optional: bool = False
    cap: float | None = None
    applies: Callable[[dict], bool] = _always

    def valid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        lo, hi = _bound(self.low, kw), _bound(self.high, kw)
        top = self.cap if hi is None else hi
        floats = st.floats(lo, top, allow_nan=False, allow_infinity=False)
        ints = st.integers(math.ceil(lo), math.floor(top))
        values = st.one_of(floats, floats.map(np.float64), st.sampled_from([lo, top]), ints)
        return st.one_of(st.none(), values) if self.optional else values

    def invalid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        lo, hi = _bound(self.low, kw), _bound(self.high, kw)
        bad = [st.floats(max_value=lo, exclude_max=True), st.integers(max_value=math.ceil(lo) - 1),
               st.sampled_from([True, False, 10**400, -(10**400)])]
        if hi is not None:
            bad += [st.floats(min_value=hi, exclude_min=True), st.integers(min_value=math.floor(hi) + 1)]
        if not self.optional:
            bad.append(st.none())
        return st.one_of(*bad, st.sampled_from(ODD_VALUES))


@dataclasses.dataclass(frozen=True)
class Choice:
    """One of a fixed set of values."""

    choices: tuple
    applies: Callable[[dict], bool] = _always

    def valid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        return st.sampled_from(self.choices)

    def invalid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        others = st.one_of(st.text(max_size=12), st.integers(), st.none(), st.sampled_from(ODD_VALUES))
        boxed = st.sampled_from(self.choices).map(lambda c: np.array([c]))  # a choice inside a one-element array
        return st.one_of(others.filter(lambda v: not any(_same(v, c) for c in self.choices)), boxed)


@dataclasses.dataclass(frozen=True)
class Bool:
    """``True`` or ``False`` (NumPy bools too); integers are not bools."""

    applies: Callable[[dict], bool] = _always

    def valid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        return st.one_of(st.booleans(), st.booleans().map(np.bool_))

    def invalid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        return st.one_of(st.sampled_from([0, 1, 1.0, "True", None]), st.sampled_from(ODD_VALUES))


@dataclasses.dataclass(frozen=True)
class Custom:
    """An argument with hand-written strategies (pairs, names...)."""

    valid_values: st.SearchStrategy
    invalid_values: st.SearchStrategy
    applies: Callable[[dict], bool] = _always

    def valid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        return self.valid_values

    def invalid(self, kw: dict[str, Any]) -> st.SearchStrategy:
        return self.invalid_values


def _same(value: Any, choice: Any) -> bool:
    return type(value) is type(choice) and value == choice


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """The strategy table row of one id.

    ``args``: every argument, in the order the env validates them (a bound may depend on arguments before it).
    ``limit(kwargs)``: the documented episode limit in steps. ``exact``: episodes are truncated exactly at the limit
    (native envs); otherwise the limit is an upper bound (Atari, whose no-ops at reset use up emulator frames).
    ``examples``: hypothesis examples of the single and vector env tests; ``invalid_examples``: of the invalid
    arguments test (cheap: nothing is built). ``atari``: needs ale-py. ``valid_if``: a documented
    constraint between arguments that the per-argument bounds cannot express (e.g. one on a default).
    """

    args: dict[str, Any]
    limit: Callable[[dict], int]
    valid_if: Callable[[dict], bool] = _always
    exact: bool = True
    examples: int = 60
    invalid_examples: int = 200
    atari: bool = False
    mujoco: bool = False


def _get(kw: dict[str, Any], name: str, default: Any) -> Any:
    value = kw.get(name)
    return default if value is None else value


def _tmaze_limit(kw: dict[str, Any]) -> int:
    length, variant = _get(kw, "length", 10), _get(kw, "variant", "bakker")
    default = {"passive": length + 1, "active": length + 3, "bakker_active": 4 * (length + 3)}.get(
        variant, 4 * (length + 1))
    return int(_get(kw, "max_steps", default))


def _two_step_limit(kw: dict[str, Any]) -> int:
    n_trials = _get(kw, "n_trials", 201 if kw.get("variant") == "daw2011" else 100)
    return int(min(2 * n_trials, _get(kw, "max_steps", 2 * n_trials)))


def _warehouse_args() -> dict[str, Any]:
    return {
        "size": Int(3, 63, cap=25),
        "p_item": Float(0.0, 1.0),
        "item_lifetime": Int(1, 10_000),
        "max_steps": Int(1),
        "max_items": Int(1, optional=True),
        "moves": Choice(("grid", "cross", "shelves")),
        "reward": Choice(("unit", "waiting", "relative")),
        "corner_items": Bool(),
        "block_emptied": Bool(),
        "authors_code": Bool(),
    }


def _authors_code_ok(defaults: dict[str, Any]) -> Callable[[dict], bool]:
    """``authors_code=True`` needs the settings of the authors' 7x7 code (a documented constraint)."""
    def ok(kw: dict[str, Any]) -> bool:
        if not _get(kw, "authors_code", False):
            return True
        value = {**defaults, **{k: v for k, v in kw.items() if v is not None or k == "max_items"}}
        return (value.get("max_items") is None and value["reward"] == "unit" and bool(value["corner_items"])
                and not bool(value["block_emptied"]))
    return ok


def _not_daw(kw: dict[str, Any]) -> bool:
    return kw.get("variant", "wang2018") != "daw2011"


def _daw(kw: dict[str, Any]) -> bool:
    return kw.get("variant") == "daw2011"


_PAIRS = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0)).filter(lambda p: p[0] < p[1])
_BAD_PAIRS = st.one_of(
    _PAIRS.map(lambda p: (p[1], p[0])), st.floats(0.0, 1.0).map(lambda x: (x, x)), _PAIRS.map(lambda p: p[:1]),
    _PAIRS.map(lambda p: (p[0] - 1.5, p[1])), _PAIRS.map(lambda p: (p[0], p[1] + 1.5)), st.just((0.1, 0.5, 0.9)),
    st.just(("a", "b")), st.just("ab"), st.just(0.5), st.just((float("nan"), 0.5)),
)
_BAD_FLOATS = st.sampled_from([float("nan"), float("inf"), float("-inf"), "1", None, True, [1.0], 1 + 1j, 10**400])
_CARTPOLE_TASKS = ("standard", "inverted", "long_pole", "short_pole", "high_gravity", "low_gravity", "strong_force",
                   "weak_force")
_ATARI_ARGS = {
    "p": Float(0.0, 1.0),
    "flicker_on_reset": Bool(),
    "frame_stack": Int(1, 64, cap=4),
    "noop_max": Int(0, cap=40),
    "frame_skip": Int(1, cap=6),
    "screen_size": Int(8, 1024, cap=96),
    "terminal_on_life_loss": Bool(),
    "repeat_action_probability": Float(0.0, 1.0),
    "full_action_space": Bool(),
    "max_num_frames_per_episode": Int(1, cap=400),
    "render_scale": Int(1, 16),
}


def _atari_limit(kw: dict[str, Any]) -> int:
    return math.ceil(_get(kw, "max_num_frames_per_episode", 108_000) / _get(kw, "frame_skip", 4))


#: One row per registered id: the argument strategies and the documented episode limit. Add a row with each new id.
SPECS: dict[str, EnvSpec] = {
    "memenvs/TMaze-v0": EnvSpec(
        {
            "length": Int(1, cap=300),
            "variant": Choice(("bakker", "bakker_active", "passive", "active")),
            "corridor_noise": Float(0.0, 1.0),
            "max_steps": Int(1, optional=True),
        },
        _tmaze_limit,
    ),
    "memenvs/Maze4x4-v0": EnvSpec(
        {"random_start": Bool(), "step_cost": Float(0.0, 1.0, optional=True), "max_steps": Int(1, optional=True)},
        lambda kw: int(_get(kw, "max_steps", 100)),
    ),
    "memenvs/BlindMaze4x4-v0": EnvSpec(
        {"random_start": Bool(), "step_cost": Float(0.0, 1.0, optional=True), "max_steps": Int(1, optional=True)},
        lambda kw: int(_get(kw, "max_steps", 100)),
    ),
    "memenvs/RandomMaze-v0": EnvSpec(
        {
            "size": Int(2, cap=20),
            "view": Int(0, lambda kw: _get(kw, "size", 8)),
            "regenerate": Choice(("episode", "never")),
            "generator": Choice(("fractal", "wilson")),
            "maze_seed": Int(0),
            "step_cost": Float(0.0, 1.0, optional=True),
            "max_steps": Int(1, optional=True),
        },
        lambda kw: int(_get(kw, "max_steps", 4 * _get(kw, "size", 8) ** 2)),
    ),
    "memenvs/TwoStep-v0": EnvSpec(
        {
            "variant": Choice(("wang2018", "wang2016", "daw2011")),
            "n_trials": Int(1, optional=True, cap=400),
            "common_prob": Float(0.0, 1.0, optional=True),
            "good_reward_prob": Float(0.0, 1.0, optional=True, applies=_not_daw),
            "bad_reward_prob": Float(0.0, 1.0, optional=True, applies=_not_daw),
            "switch_prob": Float(0.0, 1.0, optional=True, applies=_not_daw),
            "drift_sd": Float(0.0, optional=True, cap=10.0, applies=_daw),
            "reward_bounds": Custom(st.one_of(st.none(), _PAIRS, _PAIRS.map(list)), _BAD_PAIRS, applies=_daw),
            "max_steps": Int(1, optional=True),
        },
        _two_step_limit,
    ),
    "memenvs/Warehouse-v0": EnvSpec(
        _warehouse_args(), lambda kw: int(_get(kw, "max_steps", 100)),
        valid_if=_authors_code_ok({"max_items": None, "reward": "unit", "corner_items": True,
                                   "block_emptied": False})),
    "memenvs/MiniWarehouse-v0": EnvSpec(
        _warehouse_args(), lambda kw: int(_get(kw, "max_steps", 96)),
        valid_if=_authors_code_ok({"max_items": 4, "reward": "relative", "corner_items": False,
                                   "block_emptied": True})),
    "memenvs/Traffic-v0": EnvSpec(
        {
            "n_cars": Int(1, 40),
            "yellow_steps": Int(0, 100),
            "sigma": Float(0.0, 1.0),
            "max_steps": Int(1),
        },
        lambda kw: int(_get(kw, "max_steps", 250)),
    ),
    "memenvs/NonstationaryCartPole-v0": EnvSpec(
        {
            "tasks": Custom(
                st.one_of(st.lists(st.sampled_from(_CARTPOLE_TASKS), min_size=1, max_size=4).map(tuple),
                          st.lists(st.sampled_from(_CARTPOLE_TASKS), min_size=1, max_size=4)),
                st.one_of(st.just(()), st.just([]), st.sampled_from(_CARTPOLE_TASKS), st.just(("standard", "x")),
                          st.just((1,)), st.none(), st.just(7), st.just(("standard", ["inverted"]))),
            ),
            "switch_every": Int(1),
            "schedule": Choice(("cycle", "random")),
            "task_in_obs": Bool(),
            "max_steps": Int(1, optional=True),
        },
        lambda kw: int(_get(kw, "max_steps", 500)),
    ),
    "memenvs/Navigation2D-v0": EnvSpec(
        {
            "low": Custom(st.one_of(st.floats(-5.0, 5.0), st.integers(-5, 5)), _BAD_FLOATS),
            "high": Custom(st.one_of(st.floats(-5.0, 5.0), st.integers(-5, 5)), _BAD_FLOATS),
            "max_steps": Int(1, optional=True, cap=300),
        },
        lambda kw: int(_get(kw, "max_steps", 100)),
        valid_if=lambda kw: kw.get("low", -0.5) < kw.get("high", 0.5),
    ),
    # MuJoCo steps cost ~50 us each: fewer examples.
    "memenvs/HalfCheetahDir-v0": EnvSpec(
        {"max_steps": Int(1, optional=True, cap=300)}, lambda kw: int(_get(kw, "max_steps", 200)), examples=5,
        mujoco=True,
    ),
    "memenvs/FlickeringPong-v0": EnvSpec(_ATARI_ARGS, _atari_limit, exact=False, examples=5, atari=True),
    "memenvs/FlickeringBreakout-v0": EnvSpec(_ATARI_ARGS, _atari_limit, exact=False, examples=5, atari=True),
    "memenvs/FlickeringAtari-v0": EnvSpec(
        {
            "game": Custom(
                st.sampled_from(["pong", "Pong", "breakout", "Breakout", " PONG "]),
                st.one_of(st.text(alphabet="xyz!", max_size=6), st.sampled_from([None, 3, ["pong"], b"pong"])),
            ),
            **_ATARI_ARGS,
        },
        _atari_limit, exact=False, examples=5, atari=True,
    ),
}

#: Steps run per example (a few episodes, or part of a long one): enough to reach every documented limit drawn
#: except ``max_steps`` values far beyond it, which are still checked for truncating no earlier than documented.
STEP_BUDGET = 2500
VECTOR_STEP_BUDGET = 600
#: Keyword names that gym.make / make_vec / the vector facade take themselves (so not "unknown" to them).
RESERVED = {"id", "max_episode_steps", "disable_env_checker", "render_mode", "num_envs", "vectorization_mode",
            "vector_kwargs", "wrappers", "autoreset_mode"}
HAS_ALE = importlib.util.find_spec("ale_py") is not None and importlib.util.find_spec("cv2") is not None
HAS_MUJOCO = importlib.util.find_spec("mujoco") is not None


def spec_of(env_id: str) -> EnvSpec:
    if env_id not in SPECS:
        pytest.fail(f"{env_id} is registered but has no row in tests/test_properties.py SPECS: add its strategies")
    return SPECS[env_id]


def valid_kwargs(spec: EnvSpec) -> st.SearchStrategy:
    """Some of the arguments (each present or left to its default), each drawn within its documented range."""
    return _some_kwargs(spec).filter(spec.valid_if)


@st.composite
def _some_kwargs(draw: Callable, spec: EnvSpec) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    for name, arg in spec.args.items():
        if arg.applies(kw) and draw(st.booleans(), label=f"give {name}"):
            kw[name] = draw(arg.valid(kw), label=name)
    return kw


def check_observation(space: spaces.Space, obs: Any, what: str) -> None:
    assert isinstance(obs, np.ndarray), f"{what}: {type(obs)}"
    assert obs.dtype == space.dtype, f"{what}: dtype {obs.dtype}, space {space.dtype}"
    assert space.contains(obs), f"{what} outside {space}: {obs}"
    if obs.dtype.kind == "f":
        assert np.isfinite(obs).all(), f"{what} not finite: {obs}"


def _make_vec(env_id: str, num_envs: int, mode: AutoresetMode, kwargs: dict[str, Any]) -> gym.vector.VectorEnv:
    if gym.spec(env_id).vector_entry_point is not None:
        return gym.make_vec(env_id, num_envs=num_envs, autoreset_mode=mode, **kwargs)
    return gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": mode}, **kwargs)


def _action(space: spaces.Space, code: int | None, rng: np.random.Generator) -> Any:
    """An action from a drawn byte ``code`` (a prefix hypothesis shrinks) or, if None, at random: an index for
    ``Discrete``; for a ``Box``, a point of one and a half times the box (the env clips the excess)."""
    if isinstance(space, spaces.Box):
        u = rng.uniform(0.0, 1.0, size=space.shape) if code is None else np.full(space.shape, code / 255.0)
        return (1.5 * (space.low + u * (space.high - space.low))).astype(space.dtype)
    n = int(space.n)
    return code % n if code is not None else int(rng.integers(n))


# ---------------------------------------------------------------------------------------------------- properties
def single_env_property(env_id: str, data: st.DataObject) -> None:
    spec = spec_of(env_id)
    kwargs = data.draw(valid_kwargs(spec), label="kwargs")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    prefix = data.draw(st.lists(st.integers(0, 255), max_size=64), label="actions")
    limit = spec.limit(kwargs)
    env = gym.make(env_id, **kwargs)
    try:
        rng = np.random.default_rng(seed)
        obs, info = env.reset(seed=seed)
        check_observation(env.observation_space, obs, "reset observation")
        assert isinstance(info, dict)
        t, episodes = 0, 0
        for i in range(STEP_BUDGET):
            a = _action(env.action_space, prefix[i] if i < len(prefix) else None, rng)
            obs, r, term, trunc, info = env.step(a)
            t += 1
            check_observation(env.observation_space, obs, f"observation at step {t}")
            assert type(r) is float and math.isfinite(r), f"reward {r!r} at step {t}"
            assert type(term) is bool and type(trunc) is bool, (term, trunc)
            assert t <= limit, f"episode still running after the documented limit {limit}"
            if spec.exact and not term:
                assert trunc == (t == limit), f"truncated={trunc} at step {t}, documented limit {limit}"
            if term or trunc:
                episodes += 1
                if episodes == 3:
                    break
                t = 0
                obs, info = env.reset()
                check_observation(env.observation_space, obs, "reset observation")
    finally:
        env.close()


def vector_env_property(env_id: str, data: st.DataObject) -> None:
    spec = spec_of(env_id)
    kwargs = data.draw(valid_kwargs(spec), label="kwargs")
    num_envs = data.draw(st.integers(1, 2 if spec.atari else 9), label="num_envs")
    mode = data.draw(st.sampled_from(list(AutoresetMode)), label="autoreset_mode")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    n_steps = VECTOR_STEP_BUDGET if not spec.atari else 150
    resets = data.draw(st.dictionaries(st.integers(0, n_steps - 1), st.lists(st.booleans(), min_size=num_envs,
                                                                             max_size=num_envs), max_size=5),
                       label="partial resets")
    limit = spec.limit(kwargs)
    envs = _make_vec(env_id, num_envs, mode, kwargs)
    single_space, batch_space = envs.single_observation_space, envs.observation_space
    try:
        rng = np.random.default_rng(seed)
        obs, info = envs.reset(seed=seed)
        check_observation(batch_space, obs, "reset observations")
        t = np.zeros(num_envs, dtype=np.int64)
        pending = np.zeros(num_envs, dtype=bool)  # NEXT_STEP: copies whose next step is a reset
        must_reset = np.zeros(num_envs, dtype=bool)  # DISABLED: finished copies we have to reset ourselves
        for step in range(n_steps):
            mask = must_reset | np.array(resets.get(step, [False] * num_envs))
            if mask.any():
                obs, info = envs.reset(options={"reset_mask": mask})
                check_observation(batch_space, obs, f"observations after reset_mask={mask}")
                t[mask], pending[mask], must_reset[:] = 0, False, False
            actions = np.stack([_action(envs.single_action_space, None, rng) for _ in range(num_envs)])
            obs, r, term, trunc, info = envs.step(actions)
            check_observation(batch_space, obs, f"observations at step {step}")
            assert isinstance(r, np.ndarray) and r.shape == (num_envs,) and r.dtype.kind == "f", r
            assert np.isfinite(r).all(), r
            for flags in (term, trunc):
                assert isinstance(flags, np.ndarray) and flags.shape == (num_envs,) and flags.dtype == bool, flags
            if mode is AutoresetMode.NEXT_STEP:
                assert (r[pending] == 0).all() and not term[pending].any() and not trunc[pending].any()
                t = np.where(pending, 0, t + 1)
            else:
                t += 1
            live = ~pending if mode is AutoresetMode.NEXT_STEP else np.ones(num_envs, dtype=bool)
            assert (t <= limit).all(), f"copy ran past the documented limit {limit}: {t}"
            if spec.exact:
                expected = ~term & (t == limit)
                assert (trunc[live] == expected[live]).all(), f"truncated {trunc} at t={t}, limit {limit}"
            done = (term | trunc) & live
            if mode is AutoresetMode.SAME_STEP:
                for i in np.flatnonzero(done):
                    check_observation(single_space, info["final_obs"][i], f"final observation of copy {i}")
                t[done] = 0
            elif mode is AutoresetMode.NEXT_STEP:
                pending = done
            else:
                must_reset = done
    finally:
        envs.close()


def invalid_kwargs_property(env_id: str, data: st.DataObject) -> None:
    spec = spec_of(env_id)
    base = data.draw(valid_kwargs(spec), label="valid kwargs")
    names = sorted(spec.args)
    unknown = st.one_of(
        st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True),
        st.sampled_from(["self", "kwargs", "seed", "options", "Length", "params", "core_class"]),
    ).filter(lambda s: s not in spec.args and s not in RESERVED)
    name = data.draw(st.one_of(st.sampled_from(names), unknown), label="argument")
    if name in spec.args:
        arg = spec.args[name]
        context = {k: v for k, v in base.items() if k != name}
        if arg.applies(context):
            bad = data.draw(arg.invalid(context), label="bad value")
        else:  # an argument that does not apply to this configuration is an error whatever its value
            bad = data.draw(arg.valid({}) if not isinstance(arg, Custom) else arg.valid_values, label="bad value")
            if bad is None:
                bad = 0.5
    else:
        bad = data.draw(st.sampled_from([0, 1.5, "x", None]), label="bad value")
    kwargs = {**{k: v for k, v in base.items() if k != name}, name: bad}
    pattern = rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])"
    for make in (lambda: gym.make(env_id, **kwargs), lambda: gym.make_vec(env_id, num_envs=2, **kwargs)):
        try:
            env = make()
        except ValueError as err:
            assert re.search(pattern, str(err)), f"ValueError for {name}={bad!r} does not name it: {err}"
        except Exception as err:  # noqa: BLE001  (any other exception type is the defect this test looks for)
            raise AssertionError(f"{name}={bad!r} raised {type(err).__name__}, not ValueError: {err}") from err
        else:
            env.close()
            raise AssertionError(f"{name}={bad!r} (with {base}) was accepted")


# ------------------------------------------------------------------------------------------- tests, per budget
def _params(ids: list[str]) -> list:
    return [
        pytest.param(i, marks=[
            pytest.mark.skipif(SPECS.get(i, EnvSpec({}, int)).atari and not HAS_ALE,
                               reason="ale-py / OpenCV not installed"),
            pytest.mark.skipif(SPECS.get(i, EnvSpec({}, int)).mujoco and not HAS_MUJOCO, reason="mujoco not installed"),
        ])
        for i in ids
    ]


def _define(kind: str, prop: Callable[[str, st.DataObject], None], budget: Callable[[EnvSpec], int]) -> None:
    """One hypothesis test per distinct example budget, parametrized over the registered ids with that budget
    (hypothesis settings are per test function, and ALE ids need a smaller budget than the native envs)."""
    groups: dict[int, list[str]] = {}
    for entry in ENVS:
        groups.setdefault(budget(SPECS[entry.id]) if entry.id in SPECS else 1, []).append(entry.id)
    for examples, ids in sorted(groups.items()):
        @pytest.mark.parametrize("env_id", _params(ids))
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
        @given(data=st.data())
        def test(env_id: str, data: st.DataObject) -> None:
            prop(env_id, data)

        name = f"test_{kind}_{examples}_examples"
        test.__name__ = test.__qualname__ = name
        globals()[name] = test


_define("single_env", single_env_property, lambda spec: spec.examples)
_define("vector_env", vector_env_property, lambda spec: spec.examples)
_define("invalid_kwargs", invalid_kwargs_property, lambda spec: spec.invalid_examples)


def test_every_registered_id_has_a_strategy() -> None:
    missing = [e.id for e in ENVS if e.id not in SPECS]
    assert not missing, f"add rows for {missing} to SPECS in tests/test_properties.py"
    stale = sorted(set(SPECS) - {e.id for e in ENVS})
    assert not stale, f"SPECS rows for ids that are not registered: {stale}"


@pytest.mark.parametrize("env_id", [e.id for e in ENVS if e.id in SPECS and not SPECS[e.id].atari])
def test_strategy_table_matches_params(env_id: str) -> None:
    """The table lists exactly the env's arguments, so a new argument cannot go unfuzzed."""
    creator = gym.envs.registration.load_env_creator(gym.spec(env_id).entry_point)
    if hasattr(creator, "core_class"):
        params = [f.name for f in dataclasses.fields(creator.core_class.Params) if f.init]
    else:  # an env without a NumPy core (HalfCheetahDir): its constructor's keyword arguments
        params = [n for n, p in inspect.signature(creator).parameters.items()
                  if n != "render_mode" and p.kind is not p.VAR_KEYWORD]
    assert sorted(params) == sorted(SPECS[env_id].args)
