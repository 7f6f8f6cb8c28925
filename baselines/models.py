"""``make_model``: a configured SB3 model for (baseline, env id) from the one table of defaults.

The names a baseline record uses (algorithm, policy, feature extractor) are resolved here: :data:`ALGORITHMS`,
:data:`POLICIES` and :data:`EXTRACTORS`. Its evaluation is :func:`memenvs.baselines.evaluation.evaluate`.

Example::

    from memenvs.baselines import make_model, evaluate

    model = make_model("lstm", "memenvs/TMaze-v0", seed=0, env_kwargs={"variant": "passive", "length": 8})
    model.learn(30_000)
    print(evaluate(model, n_episodes=200, seed=1))
"""

from __future__ import annotations

import copy
import inspect
import re
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.torch_layers import NatureCNN
from stable_baselines3.common.vec_env import VecEnv

from .algorithms.packed_ppo import PackedRecurrentPPO
from .algorithms.recurrent_a2c import RecurrentA2C
from .algorithms.recurrent_dqn import RecurrentDQN
from .hyperparams import Baseline, resolve
from .policies.fast_slow import FastSlowActorCriticPolicy, FastSlowRecurrentPolicy
from .policies.distributions import BoundedActorCriticPolicy
from .policies.features import MlpFeatures, SpatialCNN
from .policies.memory_policy import MemoryActorCriticPolicy
from .policies.meta_lstm import MetaLSTMPolicy
from .policies.recurrent_q import RecurrentQPolicy
from .vec_wrappers import apply_wrappers

# Names the baseline table uses (it stays free of imports); resolved by make_model. "RecurrentPPO" trains memory
# policies on packed minibatches (PackedRecurrentPPO is sb3-contrib's RecurrentPPO otherwise).
ALGORITHMS: dict[str, type[BaseAlgorithm]] = {
    "PPO": PPO, "A2C": A2C, "RecurrentPPO": PackedRecurrentPPO, "RecurrentA2C": RecurrentA2C,
    "RecurrentDQN": RecurrentDQN,
}
POLICIES: dict[str, Any] = {
    # SB3's MLP actor-critic, plus the optional logit_radius (None: exactly SB3's MlpPolicy)
    "MlpPolicy": BoundedActorCriticPolicy,
    "memory": MemoryActorCriticPolicy, "meta": MetaLSTMPolicy,
    "fast_slow": FastSlowActorCriticPolicy, "fast_slow_recurrent": FastSlowRecurrentPolicy,
    "recurrent_q": RecurrentQPolicy,
}
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


#: Algorithm arguments that SB3 accepts as a schedule (a function of the remaining progress, 1 -> 0).
SCHEDULED = ("learning_rate", "clip_range", "clip_range_vf")


def linear_schedule(start: float, hold: float = 0.0) -> Callable[[float], float]:
    """``start`` until ``hold`` of training has passed, then falling linearly to 0 at the end (SB3's
    ``progress_remaining`` runs from 1 to 0). ``hold=0`` is RL Zoo's ``lin_<start>``."""
    if not start >= 0 or not 0.0 <= hold < 1.0:
        raise ValueError(f"start={start!r}, hold={hold!r}: expected start >= 0 and hold a fraction in [0, 1)")

    def schedule(progress_remaining: float) -> float:
        return start * min(1.0, progress_remaining / (1.0 - hold))

    return schedule


def resolve_schedules(algo_kwargs: dict[str, Any]) -> dict[str, Any]:
    """Turn schedule strings into SB3 schedules: RL Zoo's ``learning_rate="lin_1e-3"`` decays 1e-3 linearly to 0;
    ``"lin_1e-3_from_0.5"`` holds 1e-3 for the first half of training and then decays it linearly to 0.

    Strings keep a baseline's table (and ``memenvs compare --overrides``) plain JSON; a float or a callable passes
    through. Anything else in a scheduled argument is an error that names the argument and the accepted forms."""
    out = dict(algo_kwargs)
    for key in SCHEDULED:
        value = out.get(key)
        if not isinstance(value, str):
            continue
        match = re.fullmatch(r"lin_([0-9.eE+-]+?)(?:_from_([0-9.eE+-]+))?", value.strip())
        try:
            out[key] = linear_schedule(float(match.group(1)), float(match.group(2) or 0.0))
        except (AttributeError, ValueError):  # no match, not numbers, or out of range
            raise ValueError(f"{key}={value!r}: expected a number, 'lin_<start>' (linear decay from <start> to 0 "
                             "over training, e.g. 'lin_1e-3') or 'lin_<start>_from_<fraction>' (<start> until "
                             "<fraction> of training, then linear decay to 0, e.g. 'lin_1e-3_from_0.5')") from None
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


def _fit_batch_size(algo_kwargs: dict[str, Any], n_envs: int) -> dict[str, Any]:
    """The family's mini-batch size fitted to this rollout: the largest divisor of ``n_steps * n_envs`` not above
    it. The family sizes are tuned for 16 copies; with fewer, the rollout is smaller than one mini-batch (or not a
    multiple of it) and SB3 warns on every run about a truncated mini-batch. An explicit ``batch_size`` is kept."""
    batch, n_steps = algo_kwargs.get("batch_size"), algo_kwargs.get("n_steps")
    if batch is None or n_steps is None:
        return algo_kwargs
    rollout = int(n_steps) * int(n_envs)
    fitted = next(b for b in range(min(int(batch), rollout), 0, -1) if rollout % b == 0)
    return {**algo_kwargs, "batch_size": fitted}


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
            Without a ``batch_size`` among them, the family's is fitted to ``n_steps * n_envs``
            (:func:`_fit_batch_size`).

    For IAM with ``dset="manual"`` and no ``dset_indices``, the indices come from the env (:func:`env_dset`).
    The model carries ``memenvs_spec`` (baseline, env id, env kwargs, wrappers), saved with ``model.save`` so
    :func:`evaluate` rebuilds the same observation pipeline after ``load``.
    """
    record: Baseline = resolve(baseline, env_id, env_kwargs)
    algo_cls = ALGORITHMS[record.algorithm]
    algo_kwargs = resolve_schedules({**record.algo_kwargs, **_split_overrides(algo_cls, overrides)})
    if "batch_size" not in overrides:
        algo_kwargs = _fit_batch_size(algo_kwargs, n_envs)
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


def set_torch_threads(n: int = 1) -> None:
    """Pin torch to ``n`` CPU threads (small recurrent nets run faster on one thread than on a contended pool)."""
    th.set_num_threads(n)
