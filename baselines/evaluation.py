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
from stable_baselines3.common.callbacks import BaseCallback

from .models import make_vec


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Outcome of :func:`evaluate`. ``success_rate`` is ``nan`` when the env reports no success (``n/a``)."""

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


def episode_success(info: dict[str, Any]) -> bool | None:
    """The env's verdict on an episode from the info of its last step: ``info["success"]``, or ``None`` where the
    env reports none."""
    value = info.get("success")
    return None if value is None else bool(value)


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

    Success is the env's to define: ``info["success"]`` of an episode's last step (the T-maze: standing on the
    correct arm; the mazes: on the goal), so an episode that times out counts as a failure. Envs whose info has no
    ``success`` (e.g. Warehouse) get ``success_rate = nan``, shown as ``n/a``.
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
    known_success = True
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
                    ok = episode_success(infos[i])
                    known_success &= ok is not None
                    returns.append(float(ep_return[i]))
                    lengths.append(int(ep_len[i]))
                    successes.append(float(bool(ok)))
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


class PeriodicEvaluation(BaseCallback):
    """Deterministic evaluation of the policy being trained, every ``every`` env steps and once at the end.

    Works for any SB3 algorithm whose ``predict`` takes ``state``/``episode_start`` (PPO, A2C, DQN, the recurrent
    on- and off-policy learners): it calls :func:`evaluate` on a fresh, separately seeded env, so training sees no
    difference (deterministic actions draw no random numbers). ``points`` holds ``{"steps", "return", "success"}``
    per evaluation (``success`` is ``nan`` where the env reports none); :attr:`best` is the best of them, so a
    policy that solved the task and later lost it shows as best 1.0 beside a lower final. The values are also
    logged as ``eval/mean_return`` and ``eval/success_rate``.

    Args:
        every: env steps between evaluations (counted as ``model.num_timesteps``).
        n_episodes: episodes per evaluation.
        seed: seed of the evaluation envs (the same every time, so points differ only by the policy).
        env_id, env_kwargs: the env to evaluate on (default: the one the model was made for).
    """

    def __init__(self, every: int, n_episodes: int = 50, seed: int = 0, env_id: str | None = None,
                 env_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        if isinstance(n_episodes, bool) or not isinstance(n_episodes, (int, np.integer)) or n_episodes < 1:
            raise ValueError(f"n_episodes must be an integer >= 1, got {n_episodes!r}")
        self.every, self.n_episodes, self.seed = int(every), int(n_episodes), seed
        self.env_id, self.env_kwargs = env_id, env_kwargs
        self.points: list[dict[str, float]] = []
        self._next = self.every

    def _on_step(self) -> bool:
        if self.num_timesteps >= self._next:
            self._next = (self.num_timesteps // self.every + 1) * self.every
            self.evaluate_now()
        return True

    def _on_training_end(self) -> None:
        # the last point is the final policy: one taken at this step count came before the last update
        if self.points and self.points[-1]["steps"] == self.num_timesteps:
            self.points.pop()
        self.evaluate_now()

    def evaluate_now(self) -> dict[str, float]:
        """Evaluate the current policy and record the point."""
        result = evaluate(self.model, self.env_id, self.n_episodes, self.seed, env_kwargs=self.env_kwargs)
        point = {"steps": int(self.num_timesteps), "return": result.mean_return, "success": result.success_rate}
        self.points.append(point)
        self.logger.record("eval/mean_return", result.mean_return)
        if math.isfinite(result.success_rate):
            self.logger.record("eval/success_rate", result.success_rate)
        return point

    def state(self) -> dict[str, Any]:
        """The evaluations so far and the step of the next one (JSON-able), for a checkpoint."""
        return {"points": list(self.points), "next": self._next}

    def load_state(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state` of an interrupted run."""
        self.points, self._next = [dict(p) for p in state["points"]], int(state["next"])

    @property
    def best(self) -> dict[str, float] | None:
        """The best evaluation so far: highest success (where the env reports one), then highest return, then the
        earliest."""
        if not self.points:
            return None

        def key(p: dict[str, float]) -> tuple[float, float, int]:
            success = p["success"] if math.isfinite(p["success"]) else 0.0
            return (success, p["return"], -p["steps"])

        return max(self.points, key=key)
