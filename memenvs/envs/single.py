"""The Gymnasium single-environment facade: a batched core run with N = 1."""

from __future__ import annotations

import operator
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from gymnasium import spaces

from memenvs.envs.core import Core, check_box_actions
from memenvs.envs.params import build_params
from memenvs.envs.rendering import RENDER_MODES, Renderer


class MemoryEnv(gym.Env):
    """A Gymnasium ``Env`` over one copy of a :class:`~memenvs.envs.core.Core`.

    Subclasses set ``core_class``; keyword arguments are the core's parameters. Beyond the Gymnasium API it offers
    ``hidden_state()``, ``optimal_return()``, ``memoryless_return()`` and ``get_keys_to_action()``.
    """

    core_class: ClassVar[type[Core]]
    metadata: dict[str, Any] = {"render_modes": list(RENDER_MODES), "render_fps": 8}

    def __init__(self, /, render_mode: str | None = None, **kwargs: Any) -> None:
        core_class = type(self).core_class
        self.core = core_class(build_params(core_class.Params, kwargs, core_class.name))
        self.metadata = {"render_modes": list(RENDER_MODES), "render_fps": int(core_class.render_fps)}
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self._renderer = Renderer(render_mode, core_class.render_fps, title=core_class.name)
        self.render_mode = render_mode
        self._max_steps = self.core.max_steps
        self._box = isinstance(self.action_space, spaces.Box)
        self._n_actions = 0 if self._box else int(self.action_space.n)
        self._state = self.core.init_state(1)
        self._all = np.zeros(1, dtype=np.intp)
        if self._box:
            self._action = np.zeros((1, *self.action_space.shape), dtype=np.float32)
        else:
            self._action = np.zeros(1, dtype=np.int64)
        self._t = 0  # state.t[0] as a Python int: one array write per step instead of an in-place add and a read
        # A core without info (most) costs nothing per step; one with info is asked for it.
        self._has_info = type(self.core).info is not Core.info
        self._has_reset = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        self.core.check_options(options)
        super().reset(seed=seed)
        if seed is not None:
            self.core.restart(self._state, self._all)
        self.core.reset(self._state, self._all, self.np_random, options)
        self._state.t[0] = self._t = 0
        self._has_reset = True
        obs = self.core.observe(self._state, self.np_random)[0]
        if self.render_mode == "human":
            self.render()
        return obs, self._info() if self._has_info else {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        # The per-step cost of this facade is a large part of a small core's step at N = 1 (a numpy call costs about
        # as much as a whole CartPole step), so it avoids every avoidable one: the generator is read once, the
        # time counter is a Python int, and an in-range int action skips the general check.
        if not self._has_reset:
            raise gym.error.ResetNeeded("Call reset() before step().")
        if type(action) is int and 0 <= action < self._n_actions:
            self._action[0] = action
        else:
            self._action[0] = self._check_action(action)
        state, rng = self._state, self._np_random
        reward, terminated = self.core.step(state, self._action, rng)
        self._t = t = self._t + 1
        state.t[0] = t
        term = bool(terminated[0])
        trunc = not term and t >= self._max_steps
        obs = self.core.observe(state, rng)[0]
        if self.render_mode == "human":
            self.render()
        return obs, float(reward[0]), term, trunc, self._info() if self._has_info else {}

    def _check_action(self, action: Any) -> int | np.ndarray:
        if self._box:
            return check_box_actions(action, self.action_space.shape)
        try:
            a = operator.index(action)
        except TypeError:
            a = None
        if a is None or not 0 <= a < self._n_actions:
            raise ValueError(f"action must be an integer in [0, {self._n_actions}), got {action!r}")
        return a

    def _info(self) -> dict[str, Any]:
        return {k: v[0] for k, v in self.core.info(self._state).items()}

    # ----------------------------------------------------------------- extras
    def hidden_state(self) -> dict[str, Any]:
        """The variables the observation hides (for oracle baselines and probes)."""
        self._require_reset()
        return {k: v[0] for k, v in self.core.hidden_state(self._state).items()}

    def optimal_return(self) -> float | None:
        """Expected undiscounted return of an optimal policy with memory, for this configuration."""
        return self.core.optimal_return()

    def memoryless_return(self) -> float | None:
        """Expected undiscounted return of the best reactive (observation -> action) policy."""
        return self.core.memoryless_return()

    def get_keys_to_action(self) -> dict[tuple[int, ...], Any]:
        """Keyboard mapping for :func:`gymnasium.utils.play.play`."""
        return self.core.keys_to_action()

    def render(self) -> np.ndarray | str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode= to the constructor.")
            return None
        self._require_reset()
        return self._renderer.render(self.core.frame(self._state, 0))

    def close(self) -> None:
        self._renderer.close()

    def _require_reset(self) -> None:
        if not self._has_reset:
            raise gym.error.ResetNeeded("Call reset() first.")
