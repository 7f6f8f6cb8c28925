"""Checks every memenvs environment must pass, written once and called from each env's test module.

Each function takes a registered id and keyword arguments and asserts one property of the facades over the env's
core: Gymnasium's and SB3's checkers, determinism, vector-vs-single agreement, pickling, rendering, bad input.
"""

from __future__ import annotations

import pickle
import re
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

import memenvs  # noqa: F401  (registers the ids)


def config_id(env_id: str, kwargs: dict[str, Any]) -> str:
    """A readable pytest id for one configuration: the env's name (no namespace, no version), then its kwargs."""
    name = env_id.split("/")[-1].rsplit("-v", 1)[0]
    return name + "".join((":" if i == 0 else ",") + f"{k}={v}" for i, (k, v) in enumerate(kwargs.items()))


def contract_tests(configs: list[tuple[str, dict[str, Any]]]) -> tuple[Any, Any]:
    """The two tests every env module runs over its ``(env_id, kwargs)`` configurations: Gymnasium's and SB3's
    checkers (:func:`check_checkers`) and the memenvs contract (:func:`check_all`). In a test module::

        test_checkers, test_contract = contract.contract_tests(CONFIGS)
    """
    parametrize = pytest.mark.parametrize("env_id,kwargs", configs, ids=[config_id(e, k) for e, k in configs])

    @parametrize
    def test_checkers(env_id: str, kwargs: dict[str, Any]) -> None:
        check_checkers(env_id, **kwargs)

    @parametrize
    def test_contract(env_id: str, kwargs: dict[str, Any]) -> None:
        check_all(env_id, **kwargs)

    return test_checkers, test_contract


def random_action(space: spaces.Space, rng: np.random.Generator) -> Any:
    """A random action of a ``Discrete`` space (an int), or of a ``Box`` (float32, drawn from one and a half times
    the box so that the clipping is exercised too)."""
    if isinstance(space, spaces.Box):
        return (1.5 * rng.uniform(space.low, space.high)).astype(space.dtype)
    return int(rng.integers(space.n))


def random_actions(space: spaces.Space, n: int, rng: np.random.Generator) -> np.ndarray:
    """A batch of ``n`` random actions for a vector env whose single action space is ``space``."""
    if isinstance(space, spaces.Box):
        return (1.5 * rng.uniform(space.low, space.high, size=(n, *space.shape))).astype(space.dtype)
    return rng.integers(space.n, size=n)


def null_actions(space: spaces.Space, n: int) -> np.ndarray:
    """A batch of ``n`` zero actions (action 0, or the zero vector)."""
    return np.zeros((n, *space.shape), dtype=space.dtype) if isinstance(space, spaces.Box) else np.zeros(n, np.int64)


def rollout(env: gym.Env, seed: int, n_steps: int, action_seed: int = 123) -> list[tuple]:
    """Run seeded random actions for ``n_steps`` (resetting at episode ends); return every transition."""
    rng = np.random.default_rng(action_seed)
    obs, _ = env.reset(seed=seed)
    out = [("reset", np.array(obs))]
    for _ in range(n_steps):
        a = random_action(env.action_space, rng)
        obs, r, term, trunc, _ = env.step(a)
        out.append((a, np.array(obs), r, term, trunc))
        if term or trunc:
            obs, _ = env.reset()
            out.append(("reset", np.array(obs)))
    return out


def assert_same(a: list[tuple], b: list[tuple]) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert len(x) == len(y), f"transition {i} differs: {x} vs {y}"
        for u, v in zip(x, y):
            if isinstance(u, np.ndarray):
                np.testing.assert_array_equal(u, v, err_msg=f"transition {i}")
            else:
                assert u == v, f"transition {i}: {x} vs {y}"


def check_checkers(env_id: str, **kwargs: Any) -> None:
    """Gymnasium's ``check_env`` (with every render mode) and SB3's ``check_env``."""
    from gymnasium.utils.env_checker import check_env

    for mode in (None, "rgb_array", "ansi", "human"):
        env = gym.make(env_id, render_mode=mode, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # check_env warns about our unbounded human rendering fps etc.
            check_env(env.unwrapped, skip_render_check=mode is None)
        env.close()
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    env = gym.make(env_id, **kwargs)
    sb3_checker.check_env(env.unwrapped, warn=False)
    env.close()


def check_spaces_and_types(env_id: str, n_steps: int = 300, **kwargs: Any) -> None:
    """Observations in the space with its exact dtype and never the same object twice; Python scalar types."""
    env = gym.make(env_id, **kwargs)
    obs, info = env.reset(seed=0)
    seen = [obs]
    rng = np.random.default_rng(0)
    for _ in range(n_steps):
        obs, r, term, trunc, info = env.step(random_action(env.action_space, rng))
        assert env.observation_space.contains(obs), obs
        assert obs.dtype == env.observation_space.dtype
        assert type(r) is float and type(term) is bool and type(trunc) is bool
        assert all(obs is not o for o in seen[-3:])
        seen.append(obs)
        if term or trunc:
            obs, info = env.reset()
    env.close()


def check_determinism(env_id: str, n_steps: int = 400, **kwargs: Any) -> None:
    """Same seed, same trajectory (single env); a different seed gives a different one where the env is random."""
    a = rollout(gym.make(env_id, **kwargs), seed=7, n_steps=n_steps)
    b = rollout(gym.make(env_id, **kwargs), seed=7, n_steps=n_steps)
    assert_same(a, b)


def vector_rollout(envs: gym.vector.VectorEnv, seed: int, n_steps: int) -> list[tuple]:
    rng = np.random.default_rng(5)
    obs, _ = envs.reset(seed=seed)
    out = [(obs.copy(),)]
    for _ in range(n_steps):
        actions = random_actions(envs.single_action_space, envs.num_envs, rng)
        obs, r, term, trunc, _ = envs.step(actions)
        out.append((obs.copy(), r.copy(), term.copy(), trunc.copy()))
    return out


def check_vector_determinism(env_id: str, num_envs: int = 8, n_steps: int = 300, **kwargs: Any) -> None:
    """Two native vector envs with one seed agree, in both autoreset modes."""
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        make = lambda: gym.make_vec(env_id, num_envs=num_envs, autoreset_mode=mode, **kwargs)  # noqa: E731
        assert_same(vector_rollout(make(), 3, n_steps), vector_rollout(make(), 3, n_steps))


def check_vector_matches_single(env_id: str, n_steps: int = 400, **kwargs: Any) -> None:
    """A native vector env of one copy reproduces the single env step for step under the same seed."""
    single = rollout(gym.make(env_id, **kwargs), seed=11, n_steps=n_steps)
    actions = [t[0] for t in single if not isinstance(t[0], str)]
    for mode in (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP):
        envs = gym.make_vec(env_id, num_envs=1, autoreset_mode=mode, **kwargs)
        obs, _ = envs.reset(seed=11)
        got = [("reset", obs[0].copy())]
        pending = False
        for a in actions:
            if pending:  # NEXT_STEP: this step only resets
                obs, r, term, trunc, _ = envs.step(null_actions(envs.single_action_space, 1))
                assert r[0] == 0 and not term[0] and not trunc[0]
                got.append(("reset", obs[0].copy()))
                pending = False
            obs, r, term, trunc, info = envs.step(np.array([a]))
            done = bool(term[0] or trunc[0])
            if mode is AutoresetMode.SAME_STEP and done:
                got.append((a, info["final_obs"][0].copy(), float(r[0]), bool(term[0]), bool(trunc[0])))
                got.append(("reset", obs[0].copy()))
            else:
                got.append((a, obs[0].copy(), float(r[0]), bool(term[0]), bool(trunc[0])))
                pending = done and mode is AutoresetMode.NEXT_STEP
        if pending:
            obs, *_ = envs.step(null_actions(envs.single_action_space, 1))
            got.append(("reset", obs[0].copy()))
        assert_same(single, got)


def check_pickle(env_id: str, n_steps: int = 50, **kwargs: Any) -> None:
    """A pickled env, single or vector, continues exactly as the original; close() twice is harmless."""
    env = gym.make(env_id, **kwargs)
    rollout(env, seed=1, n_steps=n_steps)
    clone = pickle.loads(pickle.dumps(env))
    assert_same(_continue(env), _continue(clone))
    env.close()
    env.close()
    envs = gym.make_vec(env_id, num_envs=4, **kwargs)
    vector_rollout(envs, 2, n_steps)
    clone = pickle.loads(pickle.dumps(envs))
    rng = np.random.default_rng(0)
    for _ in range(n_steps):
        actions = random_actions(envs.single_action_space, 4, rng)
        for x, y in zip(envs.step(actions)[:4], clone.step(actions)[:4]):
            np.testing.assert_array_equal(x, y)
    envs.close()
    envs.close()


def _continue(env: gym.Env, n: int = 60) -> list[tuple]:
    rng = np.random.default_rng(9)
    out = []
    for _ in range(n):
        a = random_action(env.action_space, rng)
        obs, r, term, trunc, _ = env.step(a)
        out.append((a, np.array(obs), r, term, trunc))
        if term or trunc:
            obs, _ = env.reset()
            out.append(("reset", np.array(obs)))
    return out


def check_render_modes(env_id: str, **kwargs: Any) -> None:
    """``rgb_array`` gives (H, W, 3) uint8 that changes as the agent acts, ``ansi`` a string, ``human`` runs
    headless and closes twice; the vector env renders one picture per copy."""
    env = gym.make(env_id, render_mode="rgb_array", **kwargs)
    env.reset(seed=0)
    first = env.render()
    assert isinstance(first, np.ndarray) and first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    changed = False
    rng = np.random.default_rng(0)
    for _ in range(30):
        _, _, term, trunc, _ = env.step(random_action(env.action_space, rng))
        frame = env.render()
        assert frame.shape == first.shape
        changed |= not np.array_equal(frame, first)
        if term or trunc:
            env.reset()
    assert changed, "rgb_array frames never changed"
    env.close()
    env = gym.make(env_id, render_mode="ansi", **kwargs)
    env.reset(seed=0)
    text = env.render()
    assert isinstance(text, str) and text.strip()
    env.close()
    env = gym.make(env_id, render_mode="human", **kwargs)
    env.reset(seed=0)
    env.step(null_actions(env.action_space, 1)[0] if isinstance(env.action_space, spaces.Box) else 0)
    env.close()
    env.close()
    keys = env.unwrapped.get_keys_to_action()
    if isinstance(env.action_space, spaces.Box):
        assert keys and all(env.action_space.contains(a) for a in keys.values())
    else:
        assert keys and set(keys.values()) == set(range(env.action_space.n))
    envs = gym.make_vec(env_id, num_envs=3, render_mode="rgb_array", **kwargs)
    envs.reset(seed=0)
    frames = envs.render()
    assert len(frames) == 3 and all(f.shape == first.shape for f in frames)
    envs.close()


def check_invalid_actions(env_id: str, bad_actions: tuple | None = None, vector: bool = True,
                          **kwargs: Any) -> None:
    """An invalid action raises ValueError and changes nothing: the episode continues as if it never happened.
    ``vector=False`` skips the vector env (a Gymnasium ``SyncVectorEnv`` steps its copies one by one, so a bad row
    for the third copy is found after the first two have moved)."""
    env = gym.make(env_id, **kwargs)
    ref = gym.make(env_id, **kwargs)
    box = isinstance(env.action_space, spaces.Box)
    if bad_actions is None:
        shape = env.action_space.shape
        bad_actions = ((None, "a", np.zeros(shape[0] + 1), np.full(shape, np.nan), np.zeros((1, *shape)), True)
                       if box else (-1, 99, 1.5, "a", None))
    env.reset(seed=4)
    ref.reset(seed=4)
    for bad in bad_actions:
        with pytest.raises(ValueError, match="action"):
            env.step(bad)
    assert_same(_continue(env), _continue(ref))
    if not vector:
        return
    envs = gym.make_vec(env_id, num_envs=3, **kwargs)
    refs = gym.make_vec(env_id, num_envs=3, **kwargs)
    envs.reset(seed=4)
    refs.reset(seed=4)
    space = envs.single_action_space
    if box:
        good = null_actions(space, 3)
        nan = good.copy()
        nan[2, 0] = np.inf
        bads = (good[:2], good[:, :-1], nan, good.astype(str), None)
    else:
        n = space.n
        bads = (np.array([0, n, 0]), np.array([-1, 0, 0]), np.array([0, 0]), np.array([0.5, 0, 0]))
    for bad in bads:
        with pytest.raises(ValueError, match="actions"):
            envs.step(bad)
    actions = null_actions(space, 3)
    for x, y in zip(envs.step(actions)[:4], refs.step(actions)[:4]):
        np.testing.assert_array_equal(x, y)


def check_bad_kwargs(env_id: str, bad: dict[str, Any]) -> None:
    """Each bad keyword raises ValueError naming it, for the single and the vector env; an unknown one too."""
    for name, value in bad.items():
        with pytest.raises(ValueError, match=re.escape(name)):
            gym.make(env_id, **{name: value})
        with pytest.raises(ValueError, match=re.escape(name)):
            gym.make_vec(env_id, num_envs=2, **{name: value})
    with pytest.raises(ValueError, match="no_such_argument"):
        gym.make(env_id, no_such_argument=1)


def check_all(env_id: str, **kwargs: Any) -> None:
    """Every check above that needs no env-specific input."""
    check_spaces_and_types(env_id, **kwargs)
    check_determinism(env_id, **kwargs)
    check_vector_determinism(env_id, **kwargs)
    check_vector_matches_single(env_id, **kwargs)
    check_pickle(env_id, **kwargs)
    check_invalid_actions(env_id, **kwargs)
