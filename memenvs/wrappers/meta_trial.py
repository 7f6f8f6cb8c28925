"""RL^2's meta-trial as one episode: several episodes of one task, with the previous action, reward and done flag.

A memory-based meta-learner (RL^2, Duan et al. 2016; the meta-LSTM of Wang et al. 2018) adapts through its hidden
state, so the hidden state must survive the episode boundaries of a trial and be reset only between trials. This
wrapper turns ``episodes`` episodes of a meta-RL env (:mod:`memenvs.envs.meta`) that share one task into one
Gymnasium episode, so any recurrent learner that resets its state at episode starts (SB3's recurrent policies) does
the right thing.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from memenvs.envs.params import check_int


class MetaTrial(gym.Wrapper):
    """``episodes`` episodes of one task as one episode, the observation ``[obs, previous action, previous reward,
    episode ended]``.

    * ``reset()`` starts a trial on a new task from the env's task distribution (``options={"task": ...}`` sets
      it); inner episodes then reset with the task kept, as meta-RL envs do on a reset without a task.
    * When an inner episode ends before the last, the wrapper resets the inner env at once and returns the new
      episode's first observation with the flag ``episode ended = 1`` and the last step's action and reward (the
      trial goes on: neither terminated nor truncated). The last inner episode's end ends the trial.
    * The previous action (a continuous action as it was sent, clipped to the action box; a discrete one one-hot)
      and the previous reward are zero at the trial's start.
    * ``info["trial_episode"]`` is the index of the inner episode the step belongs to; on the step that ends an
      inner episode, ``info["episode_return"]`` is that episode's undiscounted return.
    """

    def __init__(self, env: gym.Env, episodes: int = 2) -> None:
        super().__init__(env)
        self.episodes = check_int("episodes", episodes, 1)
        inner_obs, act = env.observation_space, env.action_space
        if not isinstance(inner_obs, spaces.Box) or len(inner_obs.shape) != 1:
            raise ValueError(f"MetaTrial needs a one-dimensional Box observation space, got {inner_obs}")
        if isinstance(act, spaces.Box):
            self._act_low, self._act_high = act.low.astype(np.float32), act.high.astype(np.float32)
            act_dim = int(np.prod(act.shape))
        elif isinstance(act, spaces.Discrete):
            act_dim = int(act.n)
        else:
            raise ValueError(f"MetaTrial needs a Box or Discrete action space, got {act}")
        self._act_dim = act_dim
        low = np.concatenate([inner_obs.low, np.full(act_dim, -np.inf), [-np.inf, 0.0]]).astype(np.float32)
        high = np.concatenate([inner_obs.high, np.full(act_dim, np.inf), [np.inf, 1.0]]).astype(np.float32)
        if isinstance(act, spaces.Box):
            low[inner_obs.shape[0]:inner_obs.shape[0] + act_dim] = self._act_low.reshape(-1)
            high[inner_obs.shape[0]:inner_obs.shape[0] + act_dim] = self._act_high.reshape(-1)
        else:
            low[inner_obs.shape[0]:inner_obs.shape[0] + act_dim] = 0.0
            high[inner_obs.shape[0]:inner_obs.shape[0] + act_dim] = 1.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self._episode, self._return = 0, 0.0

    def _augment(self, obs: Any, action: Any, reward: float, ended: bool) -> np.ndarray:
        prev = np.zeros(self._act_dim, dtype=np.float32)
        if action is not None:
            if isinstance(self.env.action_space, spaces.Box):
                prev[:] = np.clip(np.asarray(action, dtype=np.float32).reshape(-1), self._act_low.reshape(-1),
                                  self._act_high.reshape(-1))
            else:
                prev[int(action)] = 1.0
        return np.concatenate([np.asarray(obs, dtype=np.float32).reshape(-1), prev,
                               np.array([reward, float(ended)], dtype=np.float32)])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        options = dict(options or {})
        if seed is None and "task" not in options:
            options["task"] = self.env.unwrapped.sample_tasks(1)[0]  # a new trial, a new task
        obs, info = self.env.reset(seed=seed, options=options or None)
        self._episode, self._return = 0, 0.0
        return self._augment(obs, None, 0.0, False), {**info, "trial_episode": 0}

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "trial_episode": self._episode}
        self._return += float(reward)
        if not (terminated or truncated):
            return self._augment(obs, action, float(reward), False), reward, False, False, info
        info["episode_return"] = self._return
        self._episode, self._return = self._episode + 1, 0.0
        if self._episode == self.episodes:
            return self._augment(obs, action, float(reward), True), reward, terminated, truncated, info
        obs, _ = self.env.reset()  # same task: the inner env keeps it
        return self._augment(obs, action, float(reward), True), reward, False, False, info
