"""Append the previous action, the previous reward and optionally the timestep to the observation.

This is the input of the meta-reinforcement-learning agents of Wang et al. 2016/2018 and Duan et al. 2016 (RL^2):
a recurrent network that sees what it did and what it got can learn, within an episode, a learning algorithm of its
own. :func:`augment_observation` builds the augmented observation from plain arrays (batched or not), so the
single-env wrapper, the Gymnasium vector wrapper and an SB3 ``VecEnvWrapper`` all share one definition.

Layout of the augmented observation (always ``float32``, one dimension)::

    [ obs (flattened) | one-hot previous action (n) | previous reward | t / max_steps (optional) ]

At the start of an episode there is no previous action (the one-hot part is all zeros), the previous reward is 0 and
the timestep is 0.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

NO_ACTION = -1


def augment_observation(
    obs: np.ndarray,
    prev_action: np.ndarray | int,
    prev_reward: np.ndarray | float,
    n_actions: int,
    t: np.ndarray | int | None = None,
    max_steps: int | None = None,
) -> np.ndarray:
    """The augmented observation, for one copy (``obs`` of shape ``(F,)``) or a batch (``(N, F)``).

    Args:
        obs: observation(s), already one-dimensional per copy.
        prev_action: previous action index in ``[0, n_actions)``, or ``-1`` (:data:`NO_ACTION`) at an episode start;
            a scalar for one copy, shape ``(N,)`` for a batch.
        prev_reward: previous reward (0 at an episode start), same shape as ``prev_action``.
        n_actions: size of the discrete action space.
        t: steps taken so far in the episode; appended as ``t / max_steps`` when given.
        max_steps: the normaliser for ``t`` (required with ``t``).
    """
    obs = np.asarray(obs, dtype=np.float32)
    batched = obs.ndim == 2
    if not batched:
        obs = obs[None]
    n = obs.shape[0]
    extra = n_actions + 1 + (t is not None)
    out = np.zeros((n, obs.shape[1] + extra), dtype=np.float32)
    f = obs.shape[1]
    out[:, :f] = obs
    a = np.broadcast_to(np.asarray(prev_action, dtype=np.int64), (n,))
    has = a >= 0
    out[np.flatnonzero(has), f + a[has]] = 1.0
    out[:, f + n_actions] = prev_reward
    if t is not None:
        if not max_steps:
            raise ValueError("max_steps must be a positive integer when the timestep t is appended")
        out[:, -1] = np.asarray(t, dtype=np.float32) / np.float32(max_steps)
    return out if batched else out[0]


def augmented_space(observation_space: spaces.Space, n_actions: int, timestep: bool) -> spaces.Box:
    """The ``Box`` of augmented observations (rewards are unbounded; the timestep lies in [0, 1])."""
    if not isinstance(observation_space, spaces.Box) or len(observation_space.shape) != 1:
        raise ValueError(
            "PreviousActionReward needs a one-dimensional Box observation space, got "
            f"{observation_space}; wrap the env in gymnasium.wrappers.FlattenObservation first"
        )
    low = [observation_space.low.astype(np.float32), np.zeros(n_actions, np.float32), [-np.inf]]
    high = [observation_space.high.astype(np.float32), np.ones(n_actions, np.float32), [np.inf]]
    if timestep:
        low.append([0.0])
        high.append([1.0])
    return spaces.Box(np.concatenate(low).astype(np.float32), np.concatenate(high).astype(np.float32),
                      dtype=np.float32)


def _check_discrete(action_space: spaces.Space) -> spaces.Discrete:
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"PreviousActionReward needs a Discrete action space, got {action_space}")
    return action_space


def _time_limit(env: Any, max_steps: int | None, timestep: bool) -> int | None:
    """The normaliser of the timestep: ``max_steps``, else the spec's limit, else the memenvs core's own."""
    if not timestep:
        if max_steps is not None:
            raise ValueError("max_steps is only used with timestep=True")
        return None
    if max_steps is not None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
        return int(max_steps)
    spec = getattr(env, "spec", None)
    if spec is not None and spec.max_episode_steps:
        return int(spec.max_episode_steps)
    core = getattr(env.unwrapped, "core", None)
    if core is not None:
        return int(core.max_steps)
    raise ValueError("timestep=True needs max_steps=...: the env declares no time limit")


class PreviousActionReward(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Append the one-hot previous action, the previous reward and optionally the normalised timestep.

    Works with any single env whose action space is ``Discrete`` and whose observation space is a one-dimensional
    ``Box`` (flatten others first). Everything is reset at the start of each episode (see the module docstring for
    the layout).

    Args:
        env: the env to wrap.
        timestep: also append ``t / max_steps`` (t = steps taken so far in the episode).
        max_steps: the normaliser for the timestep; default: the env spec's ``max_episode_steps``, else the memenvs
            core's own limit.
    """

    def __init__(self, env: gym.Env, timestep: bool = False, max_steps: int | None = None) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, timestep=timestep, max_steps=max_steps)
        gym.ObservationWrapper.__init__(self, env)
        action_space = _check_discrete(env.action_space)
        self.n_actions = int(action_space.n)
        self._start = int(action_space.start)
        self.timestep = bool(timestep)
        self.max_steps = _time_limit(env, max_steps, self.timestep)
        self.observation_space = augmented_space(env.observation_space, self.n_actions, self.timestep)
        self._prev_action, self._prev_reward, self._t = NO_ACTION, 0.0, 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._prev_action, self._prev_reward, self._t = NO_ACTION, 0.0, 0
        return self.observation(obs), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        # Only reached when the inner env accepted the action, so it is a valid index.
        self._prev_action, self._prev_reward, self._t = int(action) - self._start, float(reward), self._t + 1
        return self.observation(obs), reward, terminated, truncated, info

    def observation(self, observation: Any) -> np.ndarray:
        t = self._t if self.timestep else None
        return augment_observation(observation, self._prev_action, self._prev_reward, self.n_actions, t,
                                   self.max_steps)


class VectorPreviousActionReward(VectorWrapper):
    """:class:`PreviousActionReward` for a Gymnasium ``VectorEnv`` (one previous action/reward per copy).

    Handles the three autoreset modes: with ``NEXT_STEP`` the step that resets a copy shows it a fresh start; with
    ``SAME_STEP`` the returned first observation of the new episode is fresh and ``info["final_obs"]`` carries the
    last observation of the old one augmented with its own previous action and reward; with ``DISABLED`` the copies
    reset through ``reset(options={"reset_mask": ...})`` start fresh.
    """

    def __init__(self, env: VectorEnv, timestep: bool = False, max_steps: int | None = None) -> None:
        super().__init__(env)
        action_space = _check_discrete(env.single_action_space)
        self.n_actions = int(action_space.n)
        self._start = int(action_space.start)
        self.timestep = bool(timestep)
        self.max_steps = _time_limit(env, max_steps, self.timestep)
        self.single_observation_space = augmented_space(env.single_observation_space, self.n_actions, self.timestep)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self._mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self._prev_action = np.full(self.num_envs, NO_ACTION, dtype=np.int64)
        self._prev_reward = np.zeros(self.num_envs, dtype=np.float32)
        self._t = np.zeros(self.num_envs, dtype=np.int64)
        self._pending = np.zeros(self.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        mask = None if not options else options.get("reset_mask")
        rows = slice(None) if mask is None else np.asarray(mask, dtype=bool)
        self._prev_action[rows] = NO_ACTION
        self._prev_reward[rows] = 0.0
        self._t[rows] = 0
        self._pending[rows] = False
        return self._augment(obs), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        actions = np.asarray(actions, dtype=np.int64) - self._start
        done = np.logical_or(terminated, truncated)
        if self._mode is AutoresetMode.SAME_STEP and done.any() and "final_obs" in info:
            info = dict(info)
            final_obs = np.array(info["final_obs"], dtype=object, copy=True)
            t_next = self._t + 1
            for i in np.flatnonzero(done):
                t = int(t_next[i]) if self.timestep else None
                final_obs[i] = augment_observation(final_obs[i], int(actions[i]), float(reward[i]), self.n_actions,
                                                   t, self.max_steps)
            info["final_obs"] = final_obs
        self._prev_action[:] = actions
        self._prev_reward[:] = reward
        self._t += 1
        # Copies whose episode starts with this observation see no previous action or reward: under NEXT_STEP
        # those that ended on the previous step (this step reset them), under SAME_STEP those that ended now.
        if self._mode is AutoresetMode.NEXT_STEP:
            fresh, self._pending = self._pending, done
        elif self._mode is AutoresetMode.SAME_STEP:
            fresh = done
        else:
            fresh = np.zeros(self.num_envs, dtype=bool)
        self._prev_action[fresh] = NO_ACTION
        self._prev_reward[fresh] = 0.0
        self._t[fresh] = 0
        return self._augment(obs), reward, terminated, truncated, info

    def _augment(self, obs: np.ndarray) -> np.ndarray:
        t = self._t if self.timestep else None
        return augment_observation(np.reshape(obs, (self.num_envs, -1)), self._prev_action, self._prev_reward,
                                   self.n_actions, t, self.max_steps)
