"""``make_model`` and ``evaluate``: a configured SB3 model for (baseline, env id), and its evaluation.

Example::

    from memenvs.baselines import make_model, evaluate

    model = make_model("lstm", "memenvs/TMaze-v0", seed=0, env_kwargs={"variant": "passive", "length": 8})
    model.learn(30_000)
    print(evaluate(model, n_episodes=200, seed=1))
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import math
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.torch_layers import NatureCNN
from stable_baselines3.common.vec_env import VecEnv

from memenvs.baselines.features import MlpFeatures, SpatialCNN, apply_wrappers
from memenvs.baselines.hyperparams import Baseline, resolve
from memenvs.baselines.policies import MemoryActorCriticPolicy

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"PPO": PPO, "A2C": A2C, "RecurrentPPO": RecurrentPPO}
POLICIES: dict[str, Any] = {"memory": MemoryActorCriticPolicy}
EXTRACTORS: dict[str, type] = {"MlpFeatures": MlpFeatures, "SpatialCNN": SpatialCNN, "NatureCNN": NatureCNN}


def env_dset(env_id: str, **env_kwargs: Any) -> list[int] | None:
    """The env's d-set (observation indices that IAM's recurrent branch reads), or ``None`` if it has none.

    Looked up as the core attribute ``dset`` of the single env, then as ``info["dset"]`` after a reset (indices, or
    a boolean mask over the observation).
    """
    env = gym.make(env_id, **env_kwargs)
    try:
        dset = getattr(getattr(env.unwrapped, "core", None), "dset", None)
        if dset is None:
            _, info = env.reset(seed=0)
            dset = info.get("dset")
    finally:
        env.close()
    if dset is None:
        return None
    arr = np.asarray(dset)
    if arr.dtype == bool:
        arr = np.flatnonzero(arr.reshape(-1))
    return [int(i) for i in arr.reshape(-1)]


def _is_image(space: gym.Space) -> bool:
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) in (2, 3)


def _resolve_names(policy_kwargs: dict[str, Any]) -> dict[str, Any]:
    out = dict(policy_kwargs)
    fe = out.get("features_extractor_class")
    if isinstance(fe, str):
        if fe not in EXTRACTORS:
            raise ValueError(f"unknown features_extractor_class {fe!r}; known: {', '.join(EXTRACTORS)}")
        out["features_extractor_class"] = EXTRACTORS[fe]
    return out


def _split_overrides(algo_cls: type[BaseAlgorithm], overrides: dict[str, Any]) -> dict[str, Any]:
    allowed = set(inspect.signature(algo_cls.__init__).parameters) - {"self", "policy", "env"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise ValueError(
            f"unknown override(s) {unknown} for {algo_cls.__name__}; allowed: {', '.join(sorted(allowed))}"
        )
    return overrides


def make_vec(
    env_id: str, n_envs: int, seed: int | None, env_kwargs: dict[str, Any] | None, wrappers: Sequence
) -> VecEnv:
    """The SB3 VecEnv a baseline trains and evaluates on: the native batched env, then the baseline's wrappers."""
    from memenvs.sb3 import make_vec_env

    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed, **(env_kwargs or {}))
    wrappers = list(wrappers)
    space = venv.observation_space
    if isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 2:
        wrappers.insert(0, ("add_channel", {}))
    return apply_wrappers(venv, wrappers)


def make_model(
    baseline: str,
    env_id: str,
    seed: int = 0,
    n_envs: int = 8,
    *,
    env_kwargs: dict[str, Any] | None = None,
    oracle: bool = False,
    policy_kwargs: dict[str, Any] | None = None,
    wrappers: Sequence[tuple[str, dict[str, Any]]] | None = None,
    verbose: int = 0,
    device: str = "cpu",
    **overrides: Any,
) -> BaseAlgorithm:
    """A configured SB3 model of ``baseline`` on ``n_envs`` copies of ``env_id`` (the native batched env).

    Args:
        baseline: a name from :data:`memenvs.baselines.hyperparams.BASELINES` (``mlp``, ``framestack``,
            ``oracle``, ``lstm``, ``gru``, ``iam``).
        env_id: a Gymnasium id; its family picks the defaults (:func:`~memenvs.baselines.hyperparams.resolve`).
        seed: seeds the env and the algorithm.
        n_envs: copies of the env stepped together.
        env_kwargs: the env's parameters (e.g. ``{"variant": "passive", "length": 8}``).
        oracle: also append the env's hidden state to the observation (any baseline; 1-D observations only).
        policy_kwargs: merged into the defaults (``core_kwargs`` key by key).
        wrappers: replaces the baseline's VecEnv wrappers, e.g. ``[("frame_stack", {"n_stack": 16})]``.
        **overrides: algorithm keyword arguments (``learning_rate``, ``n_steps``, ...), replacing the defaults.

    For IAM with ``dset="manual"`` and no ``dset_indices``, the indices come from the env (:func:`env_dset`).
    The model carries ``memenvs_spec`` (baseline, env id, env kwargs, wrappers), saved with ``model.save`` so
    :func:`evaluate` rebuilds the same observation pipeline after ``load``.
    """
    record: Baseline = resolve(baseline, env_id)
    algo_cls = ALGORITHMS[record.algorithm]
    algo_kwargs = {**record.algo_kwargs, **_split_overrides(algo_cls, overrides)}
    pk = copy.deepcopy(record.policy_kwargs)
    for key, value in (policy_kwargs or {}).items():
        if key == "core_kwargs" and isinstance(pk.get(key), dict):
            pk[key] = {**pk[key], **value}
        else:
            pk[key] = value
    wrappers = list(record.wrappers if wrappers is None else wrappers)
    if oracle and not any(name == "oracle" for name, _ in wrappers):
        wrappers.insert(0, ("oracle", {}))
    env_kwargs = dict(env_kwargs or {})

    core_kwargs = pk.get("core_kwargs")
    if pk.get("core") == "iam" and core_kwargs is not None and core_kwargs.get("dset", "manual") == "manual":
        if core_kwargs.get("dset_indices") is None:
            dset = env_dset(env_id, **env_kwargs)
            if dset is None:
                raise ValueError(
                    f"{env_id} exposes no d-set (core.dset or info['dset']); pass "
                    "policy_kwargs={'core_kwargs': {'dset_indices': [...]}} or use dset='learned'"
                )
            pk["core_kwargs"] = {**core_kwargs, "dset_indices": dset}

    venv = make_vec(env_id, n_envs, seed, env_kwargs, wrappers)
    if _is_image(venv.observation_space) and record.policy == "MlpPolicy":
        raise ValueError(f"baseline {baseline!r} has an MLP policy but {env_id} has image observations")
    policy = POLICIES.get(record.policy, record.policy)
    recurrent = isinstance(policy, type) and issubclass(policy, MemoryActorCriticPolicy)
    if record.algorithm == "RecurrentPPO" and not recurrent and not isinstance(policy, str):
        raise ValueError("RecurrentPPO baselines need a RecurrentActorCriticPolicy")
    algo_kwargs.setdefault("verbose", verbose)
    model = algo_cls(policy, venv, policy_kwargs=_resolve_names(pk), seed=seed, device=device, **algo_kwargs)
    model.memenvs_spec = {
        "baseline": baseline,
        "env_id": env_id,
        "env_kwargs": env_kwargs,
        "wrappers": [[name, dict(kw)] for name, kw in wrappers],  # lists: what JSON gives back on load
    }
    return model


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Outcome of :func:`evaluate`. ``success_rate`` is ``nan`` when the env gives no way to tell success."""

    mean_return: float
    return_se: float
    success_rate: float
    success_se: float
    n_episodes: int
    returns: tuple[float, ...]
    lengths: tuple[int, ...]

    def __str__(self) -> str:
        return (
            f"return {self.mean_return:.3f} ± {self.return_se:.3f}, success {self.success_rate:.3f} ± "
            f"{self.success_se:.3f} (n={self.n_episodes})"
        )


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def model_env(
    model: BaseAlgorithm, env_id: str | None, env_kwargs: dict[str, Any] | None
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The model's setup record (``model.memenvs_spec``, written by :func:`make_model`) and the env to run it on:
    the caller's ``env_id``/``env_kwargs`` where given, else the ones the model was made with."""
    spec = getattr(model, "memenvs_spec", None) or {}
    env_id = env_id or spec.get("env_id")
    if env_id is None:
        raise ValueError("env_id is required for a model not made by make_model")
    if env_kwargs is None:
        env_kwargs = spec.get("env_kwargs", {}) if env_id == spec.get("env_id") else {}
    return spec, env_id, env_kwargs


def evaluate(
    model: BaseAlgorithm,
    env_id: str | None = None,
    n_episodes: int = 100,
    seed: int = 0,
    *,
    deterministic: bool = True,
    n_envs: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
) -> EvalResult:
    """Run ``model`` for ``n_episodes`` episodes and return mean return, success rate and their standard errors.

    The env is rebuilt with the model's own wrappers (``model.memenvs_spec``); ``env_id``/``env_kwargs`` default to
    the ones the model was made with. Recurrent state is carried per copy and reset at episode starts. Each of the
    ``n_envs`` copies runs a fixed share of the episodes, so short episodes are not over-represented.

    Success of an episode: it *terminated* (not truncated) with a positive last reward (the T-maze's correct arm).
    If no episode terminated, ``success_rate`` is ``nan`` (e.g. Warehouse, which only truncates).
    """
    spec, env_id, env_kwargs = model_env(model, env_id, env_kwargs)
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    n_envs = min(n_episodes, 16) if n_envs is None else n_envs
    venv = make_vec(env_id, n_envs, seed, env_kwargs, spec.get("wrappers", []))
    targets = np.array([(n_episodes + i) // n_envs for i in range(n_envs)])
    counts = np.zeros(n_envs, dtype=int)
    ep_return = np.zeros(n_envs)
    ep_len = np.zeros(n_envs, dtype=int)
    returns: list[float] = []
    lengths: list[int] = []
    successes: list[float] = []
    known_success = False
    obs = venv.reset()
    state = None
    starts = np.ones(n_envs, dtype=bool)
    try:
        while (counts < targets).any():
            actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=deterministic)
            obs, rewards, dones, infos = venv.step(actions)
            ep_return += rewards
            ep_len += 1
            for i in np.flatnonzero(dones):
                if counts[i] < targets[i]:
                    truncated = bool(infos[i].get("TimeLimit.truncated", False))
                    ok = (not truncated) and rewards[i] > 0
                    known_success |= not truncated
                    returns.append(float(ep_return[i]))
                    lengths.append(int(ep_len[i]))
                    successes.append(float(ok))
                    counts[i] += 1
                ep_return[i] = 0.0
                ep_len[i] = 0
            starts = dones
    finally:
        venv.close()
    r = np.asarray(returns)
    s = np.asarray(successes)
    rate, rate_se = (float(s.mean()), _se(s)) if known_success else (math.nan, math.nan)
    return EvalResult(float(r.mean()), _se(r), rate, rate_se, len(r), tuple(returns), tuple(lengths))


def set_torch_threads(n: int = 1) -> None:
    """Pin torch to ``n`` CPU threads (small recurrent nets run faster on one thread than on a contended pool)."""
    th.set_num_threads(n)
