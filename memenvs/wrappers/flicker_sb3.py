"""Flickering observations for stable-baselines3 ``VecEnv``s (imports SB3; needs the ``baselines`` extra).

``import memenvs`` and ``import memenvs.wrappers`` never import this module; import it explicitly::

    from memenvs.wrappers.flicker_sb3 import VecFlickerObservation
    venv = VecFlickerObservation(make_vec_env("CartPole-v1", n_envs=8), p=0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from memenvs.wrappers.flicker import check_flicker_args, flicker_rng

__all__ = ["VecFlickerObservation"]


class VecFlickerObservation(VecEnvWrapper):
    """Blank each copy's observation with probability ``p``, independently at every step (SB3 ``VecEnv``).

    Same semantics as :class:`memenvs.wrappers.FlickerObservation`. SB3 resets finished copies inside the step
    (their returned observation starts the next episode), so with ``flicker_on_reset=False`` those are never
    blanked; the episode's last observation, ``infos[i]["terminal_observation"]``, flickers with a second,
    independent draw recorded in ``infos[i]["terminal_flicker"]``. ``infos[i]["flicker"]`` (and
    ``reset_infos[i]["flicker"]`` after ``reset()``) say whether the returned observation was blanked.
    ``seed(s)`` seeds the flicker generator as well as the wrapped ``VecEnv``.
    """

    def __init__(self, venv: VecEnv, p: float = 0.5, flicker_on_reset: bool = True) -> None:
        self.p = check_flicker_args(p, flicker_on_reset, venv.observation_space)
        self.flicker_on_reset = bool(flicker_on_reset)
        super().__init__(venv)
        self._rng = flicker_rng(None)

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._rng = flicker_rng(seed)
        return list(self.venv.seed(seed))

    def reset(self) -> VecEnvObs:
        obs = self.venv.reset()
        blank = (self._rng.random(self.num_envs) < self.p) & self.flicker_on_reset
        inner = getattr(self.venv, "reset_infos", None) or [{} for _ in range(self.num_envs)]
        self.reset_infos = [dict(info, flicker=bool(b)) for info, b in zip(inner, blank)]
        return _blanked(obs, blank)

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        blank = self._rng.random(self.num_envs) < self.p
        terminal_blank = self._rng.random(self.num_envs) < self.p
        dones = np.asarray(dones, dtype=bool)
        if not self.flicker_on_reset:
            blank &= ~dones
        infos = [dict(info) for info in infos]
        for i, info in enumerate(infos):
            info["flicker"] = bool(blank[i])
            if dones[i] and "terminal_observation" in info:
                info["terminal_flicker"] = bool(terminal_blank[i])
                if terminal_blank[i]:
                    info["terminal_observation"] = np.zeros_like(info["terminal_observation"])
        return _blanked(obs, blank), rewards, dones, infos


def _blanked(obs: Any, blank: np.ndarray) -> Any:
    if not blank.any():
        return obs
    obs = np.array(obs, copy=True)
    obs[blank] = 0
    return obs
