"""SB3 VecEnv wrappers a baseline record may name, and :func:`apply_wrappers`, which applies them.

* :class:`VecOracleObservation` — appends the env's hidden state to each observation (calibration: an upper bound
  for memory baselines, computed by a feed-forward policy that is told what memory would have to infer).
* Frame stacking uses SB3's own ``VecFrameStack`` on the VecEnv (the frame-stack baseline is a plain ``MlpPolicy``
  on the last ``k`` observations concatenated); :data:`WRAPPERS` names it ``"frame_stack"``.
* :class:`VecAddChannel` — gives 2-D image observations (a grayscale frame of another package; memenvs' Atari ids
  have their channel axis already) the channel axis SB3's CNN policies expect.
* :class:`VecPreviousActionReward` — appends the one-hot previous action, the previous reward and the timestep
  ``t / max_steps`` to the observation (the meta-LSTM's inputs). It reuses the single definition in
  :func:`memenvs.wrappers.previous_action_reward.augment_observation`.
* :class:`VecTimeFeature` — appends the elapsed share of the episode's step limit, ``t / max_steps`` (for a critic
  that must know the time in a fixed-horizon task; see :mod:`memenvs.baselines.policies.critic_inputs`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecFrameStack
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from memenvs.wrappers.previous_action_reward import NO_ACTION, augment_observation, augmented_space


def flatten_hidden_state(hidden: dict[str, np.ndarray], num_envs: int) -> np.ndarray:
    """The hidden-state dict of a vector env as one float32 row per copy (keys in sorted order)."""
    parts = [np.asarray(hidden[k], dtype=np.float32).reshape(num_envs, -1) for k in sorted(hidden)]
    return np.concatenate(parts, axis=1) if parts else np.zeros((num_envs, 0), dtype=np.float32)


class VecOracleObservation(VecEnvWrapper):
    """Appends the env's hidden state (``hidden_state()`` of the memenvs vector env) to each observation.

    Observations are flattened first (a ``(7, 7, 2)`` egocentric view becomes 98 numbers); image (uint8)
    observations are refused, since an MLP on raw pixels plus state is not a meaningful calibration.

    SB3 resets a finished copy within the step that ended it, so the state after a step already belongs to the next
    episode for copies that ended, and the ``terminal_observation`` of those copies is given the hidden state of the
    new episode; it is used only to bootstrap values at truncation, so the oracle's bound is unaffected in practice.
    """

    def __init__(self, venv: VecEnv) -> None:
        space = venv.observation_space
        if not isinstance(space, spaces.Box) or space.dtype == np.uint8:
            raise ValueError(f"the oracle needs a non-image Box observation space, got {space}")
        hidden = self._hidden(venv)
        width = hidden.shape[1]
        low = np.concatenate([space.low.reshape(-1), np.full(width, -np.inf)]).astype(np.float32)
        high = np.concatenate([space.high.reshape(-1), np.full(width, np.inf)]).astype(np.float32)
        super().__init__(venv, observation_space=spaces.Box(low, high, dtype=np.float32))

    @staticmethod
    def _hidden(venv: VecEnv) -> np.ndarray:
        try:
            hidden = venv.env_method("hidden_state", indices=[0])[0]
        except AttributeError:
            raise ValueError("the oracle needs a memenvs env (its vector env has hidden_state())") from None
        return flatten_hidden_state(hidden, venv.num_envs)

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        return np.concatenate([obs.reshape(len(obs), -1).astype(np.float32), self._hidden(self.venv)], axis=1)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, done, infos = self.venv.step_wait()
        hidden = self._hidden(self.venv)
        for i in np.flatnonzero(done):
            term = infos[i].get("terminal_observation")
            if term is not None:
                infos[i]["terminal_observation"] = np.concatenate([term.reshape(-1).astype(np.float32), hidden[i]])
        return np.concatenate([obs.reshape(len(obs), -1).astype(np.float32), hidden], axis=1), reward, done, infos


class VecAddChannel(VecEnvWrapper):
    """Adds a trailing channel axis to 2-D image observations (``(H, W)`` → ``(H, W, 1)``)."""

    def __init__(self, venv: VecEnv) -> None:
        space = venv.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 2:
            raise ValueError(f"VecAddChannel needs a 2-D Box observation space, got {space}")
        new = spaces.Box(space.low[..., None], space.high[..., None], dtype=space.dtype)
        super().__init__(venv, observation_space=new)

    def reset(self) -> np.ndarray:
        return self.venv.reset()[..., None]

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, done, infos = self.venv.step_wait()
        for i in np.flatnonzero(done):
            if infos[i].get("terminal_observation") is not None:
                infos[i]["terminal_observation"] = infos[i]["terminal_observation"][..., None]
        return obs[..., None], reward, done, infos


def _venv_time_limit(venv: VecEnv) -> int:
    """The episode step limit of a memenvs VecEnv (its core's ``max_steps``), else its spec's ``max_episode_steps``."""
    try:
        core = venv.get_attr("core", [0])[0]
        return int(core.max_steps)
    except (AttributeError, IndexError):
        pass
    try:
        spec = venv.get_attr("spec", [0])[0]
    except (AttributeError, IndexError):
        spec = None
    if spec is not None and spec.max_episode_steps:
        return int(spec.max_episode_steps)
    raise ValueError("the env declares no time limit: pass max_steps=...")


def _check_max_steps(max_steps: Any) -> int | None:
    """The ``max_steps`` argument of the wrappers that append the time, validated."""
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer))
                                  or max_steps < 1):
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
    return None if max_steps is None else int(max_steps)


class VecPreviousActionReward(VecEnvWrapper):
    """SB3 ``VecEnvWrapper``: ``[obs (flattened) | one-hot previous action | previous reward | t / max_steps]``.

    The layout and the episode-start convention (no action, reward 0, t = 0) are those of
    :class:`memenvs.wrappers.PreviousActionReward`. The wrapped VecEnv autoresets on the same step (SB3's
    convention): a copy that finished is shown a fresh start, and its ``infos[i]["terminal_observation"]`` is
    augmented with the episode's own last action and reward.

    Args:
        venv: an SB3 VecEnv with a ``Discrete`` action space and a ``Box`` observation space (flattened).
        timestep: also append ``t / max_steps`` (the meta-LSTM's timestep input).
        max_steps: normaliser of ``t``; default: the memenvs core's ``max_steps``, else the spec's limit.
    """

    def __init__(self, venv: VecEnv, timestep: bool = True, max_steps: int | None = None) -> None:
        space = venv.action_space
        if not isinstance(space, spaces.Discrete):
            raise ValueError(f"VecPreviousActionReward needs a Discrete action space, got {space}")
        max_steps = _check_max_steps(max_steps)
        self.n_actions = int(space.n)
        self._start = int(space.start)
        self.timestep = bool(timestep)
        self.max_steps = (max_steps or _venv_time_limit(venv)) if timestep else None
        obs_space = venv.observation_space
        if isinstance(obs_space, spaces.Box) and len(obs_space.shape) != 1:
            # Flattened here (as the observations are in _augment), so grids and views need no extra wrapper.
            obs_space = spaces.Box(obs_space.low.reshape(-1), obs_space.high.reshape(-1), dtype=obs_space.dtype)
        super().__init__(venv, observation_space=augmented_space(obs_space, self.n_actions, self.timestep))
        n = venv.num_envs
        self._prev_action = np.full(n, NO_ACTION, dtype=np.int64)
        self._prev_reward = np.zeros(n, dtype=np.float32)
        self._t = np.zeros(n, dtype=np.int64)
        self._actions = np.full(n, NO_ACTION, dtype=np.int64)

    def _augment(self, obs: np.ndarray) -> np.ndarray:
        t = self._t if self.timestep else None
        return augment_observation(obs.reshape(self.num_envs, -1), self._prev_action, self._prev_reward,
                                   self.n_actions, t, self.max_steps)

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._prev_action.fill(NO_ACTION)
        self._prev_reward.fill(0.0)
        self._t.fill(0)
        return self._augment(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs) - self._start
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, done, infos = self.venv.step_wait()
        self._prev_action[:] = self._actions
        self._prev_reward[:] = reward
        self._t += 1
        for i in np.flatnonzero(done):
            term = infos[i].get("terminal_observation")
            if term is not None:
                t = int(self._t[i]) if self.timestep else None
                infos[i]["terminal_observation"] = augment_observation(
                    np.reshape(term, -1), int(self._actions[i]), float(reward[i]), self.n_actions, t, self.max_steps
                )
        # Copies that finished now show the first observation of their next episode: nothing happened before it.
        self._prev_action[done] = NO_ACTION
        self._prev_reward[done] = 0.0
        self._t[done] = 0
        return self._augment(obs), reward, done, infos


class VecTimeFeature(VecEnvWrapper):
    """SB3 ``VecEnvWrapper``: ``[obs (flattened) | t / max_steps]``, ``t`` the steps taken in the current episode.

    Pardo et al. 2018 ("Time Limits in Reinforcement Learning") add the time to the input of agents on time-limited
    tasks; memenvs' T-maze baselines give it to the critic only (``critic_only_features=1``), so the actor keeps its
    own inputs. A copy that finished shows ``t = 0`` with its next episode's first observation (SB3's same-step
    autoreset), and its ``infos[i]["terminal_observation"]`` carries the episode's last ``t``.

    Args:
        venv: an SB3 VecEnv with a ``Box`` observation space.
        max_steps: normaliser of ``t``; default: the memenvs core's ``max_steps``, else the spec's limit.
    """

    def __init__(self, venv: VecEnv, max_steps: int | None = None) -> None:
        space = venv.observation_space
        if not isinstance(space, spaces.Box):
            raise ValueError(f"VecTimeFeature needs a Box observation space, got {space}")
        max_steps = _check_max_steps(max_steps)
        self.max_steps = max_steps or _venv_time_limit(venv)
        low = np.append(space.low.reshape(-1), 0.0).astype(np.float32)
        high = np.append(space.high.reshape(-1), 1.0).astype(np.float32)
        super().__init__(venv, observation_space=spaces.Box(low, high, dtype=np.float32))
        self._t = np.zeros(venv.num_envs, dtype=np.int64)

    def _augment(self, obs: np.ndarray, t: np.ndarray) -> np.ndarray:
        time = np.minimum(t, self.max_steps).astype(np.float32) / self.max_steps
        return np.concatenate([obs.reshape(len(t), -1).astype(np.float32), time[:, None]], axis=1)

    def reset(self) -> np.ndarray:
        self._t.fill(0)
        return self._augment(self.venv.reset(), self._t)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, done, infos = self.venv.step_wait()
        self._t += 1
        for i in np.flatnonzero(done):
            term = infos[i].get("terminal_observation")
            if term is not None:
                infos[i]["terminal_observation"] = self._augment(np.reshape(term, (1, -1)), self._t[i:i + 1])[0]
        self._t[done] = 0
        return self._augment(obs, self._t), reward, done, infos


#: VecEnv wrappers a baseline record may name (name -> class; the record gives the kwargs).
WRAPPERS: dict[str, type[VecEnvWrapper]] = {
    "frame_stack": VecFrameStack,
    "oracle": VecOracleObservation,
    "add_channel": VecAddChannel,
    "prev_action_reward": VecPreviousActionReward,
    "time_feature": VecTimeFeature,
}


def apply_wrappers(venv: VecEnv, wrappers: Sequence[tuple[str, dict[str, Any]]]) -> VecEnv:
    """Wrap ``venv`` in the named wrappers, innermost first."""
    for name, kwargs in wrappers:
        if name not in WRAPPERS:
            raise ValueError(f"unknown wrapper {name!r}; known: {', '.join(WRAPPERS)}")
        venv = WRAPPERS[name](venv, **kwargs)
    return venv
