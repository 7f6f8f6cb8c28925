"""``evaluate``: the final policy's evaluation (mean return, success rate, standard errors) on the env it was made
for, rebuilt with the model's own wrappers.

Example::

    from memenvs.baselines import make_model, evaluate

    model = make_model("lstm", "memenvs/TMaze-v0", seed=0, env_kwargs={"variant": "passive", "length": 8})
    model.learn(30_000)
    print(evaluate(model, n_episodes=200, seed=1))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm

from .models import make_vec


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
        # "n/a" where the env gives no success signal, not "nan ± nan".
        success = (f"{self.success_rate:.3f} ± {self.success_se:.3f}" if math.isfinite(self.success_rate)
                   else "n/a")
        return f"return {self.mean_return:.3f} ± {self.return_se:.3f}, success {success} (n={self.n_episodes})"


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
