"""The native Gymnasium vector-environment facade: one batched core steps all copies with no Python loop."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from gymnasium import spaces

from memenvs.envs.core import Core, check_box_actions
from memenvs.envs.params import build_params, check_int
from memenvs.envs.rendering import RENDER_MODES, Renderer


class MemoryVectorEnv(VectorEnv):
    """A Gymnasium ``VectorEnv`` over ``num_envs`` copies of a :class:`~memenvs.envs.core.Core`.

    Registered as the ``vector_entry_point`` of every memenvs id, so ``gym.make_vec(id, num_envs=...)`` returns it.

    Args:
        num_envs: number of copies.
        max_episode_steps: overrides the env's own time limit (its ``max_steps`` parameter).
        render_mode: ``"rgb_array"`` and ``"ansi"`` return one picture per copy; ``"human"`` shows copy 0.
        autoreset_mode: ``NEXT_STEP`` (Gymnasium's default: the step after an episode ends resets that copy, ignores
            its action and returns reward 0), ``SAME_STEP`` (the copy is reset inside the step that ended it; the last
            observation is in ``info["final_obs"]``, its info in ``info["final_info"]``) or ``DISABLED`` (reset
            copies yourself with ``reset(options={"reset_mask": mask})``).
        **kwargs: the env's parameters.

    Randomness: one generator (``self.np_random``) drives all copies; ``reset(seed=s)`` reseeds it, so the same seed
    gives the same batch of trajectories. With ``num_envs=1`` the draws are those of the single env, step for step.
    """

    core_class: ClassVar[type[Core]]

    def __init__(
        self,
        /,
        num_envs: int = 1,
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        **kwargs: Any,
    ) -> None:
        core_class = type(self).core_class
        self.num_envs = check_int("num_envs", num_envs, 1)
        if max_episode_steps is not None:
            if kwargs.get("max_steps") is not None:
                raise ValueError("give either max_episode_steps or max_steps, not both")
            kwargs["max_steps"] = max_episode_steps
        try:
            self.autoreset_mode = AutoresetMode(autoreset_mode)
        except ValueError:
            allowed = ", ".join(m.value for m in AutoresetMode)
            raise ValueError(f"autoreset_mode must be one of {allowed}, got {autoreset_mode!r}") from None
        self.core = core_class(build_params(core_class.Params, kwargs, core_class.name))
        self.metadata = {
            "render_modes": list(RENDER_MODES),
            "render_fps": int(core_class.render_fps),
            "autoreset_mode": self.autoreset_mode,
        }
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = render_mode
        self._renderer = Renderer(render_mode, core_class.render_fps, title=core_class.name)
        self._max_steps = self.core.max_steps
        self._box = isinstance(self.single_action_space, spaces.Box)
        self._n_actions = 0 if self._box else int(self.single_action_space.n)
        self._state = self.core.init_state(self.num_envs)
        self._all = np.arange(self.num_envs)
        self._pending = np.zeros(self.num_envs, dtype=bool)
        self._any_pending = False
        self._has_reset = False
        self._every_copy: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        options = dict(options) if options else {}
        mask = options.pop("reset_mask", None)
        idx = self._all if mask is None else self._mask_to_idx(mask)
        if options:
            self.core.check_options(options)
        if seed is not None and not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed must be an int or None (one generator drives all copies), got {seed!r}")
        super().reset(seed=seed)
        if seed is not None:
            self.core.restart(self._state, idx)
        self._start_episodes(idx, options)
        self._has_reset = True
        return self.core.observe(self._state, self.np_random), self._info()

    def step(
        self, actions: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._has_reset:
            raise gym.error.ResetNeeded("Call reset() before step().")
        actions = self._check_actions(actions)
        core, state, rng = self.core, self._state, self.np_random
        if self._any_pending:
            # NEXT_STEP: copies that ended last step start over now. The others step as usual; the step drawn for
            # the pending copies is overwritten by their reset. When every copy is pending nothing is stepped, so a
            # batch of one draws exactly what a single env does.
            idx = self._pending.nonzero()[0]
            if idx.size == self.num_envs:
                reward = np.zeros(self.num_envs, dtype=np.float32)
                terminated = np.zeros(self.num_envs, dtype=bool)
            else:
                reward, terminated = core.step(state, actions, rng)
                state.t += 1
                reward[idx] = 0.0
                terminated[idx] = False
            core.reset(state, idx, rng, None)
            state.t[idx] = 0
        else:
            reward, terminated = core.step(state, actions, rng)
            state.t += 1
        truncated = state.t >= self._max_steps
        np.greater(truncated, terminated, out=truncated)  # truncated and not terminated, in one call
        done = terminated | truncated
        obs = core.observe(state, rng)
        info = self._info()
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            self._pending = done
            # count_nonzero and nonzero are C calls; any() and flatnonzero add Python wrappers that cost more than
            # the test itself at tens of copies, and the step is that small
            self._any_pending = bool(np.count_nonzero(done))
        elif self.autoreset_mode is AutoresetMode.SAME_STEP and np.count_nonzero(done):
            idx = done.nonzero()[0]
            final_obs = np.empty(self.num_envs, dtype=object)
            for i in idx:
                final_obs[i] = obs[i]
            final_info = info
            obs = obs.copy()  # the final observations above are views of the step's array
            self.reset_copies(idx, obs)
            info = self._info()
            info.update(final_obs=final_obs, _final_obs=done, final_info=final_info, _final_info=done)
        return obs, reward, terminated, truncated, info

    def reset_copies(self, idx: np.ndarray, obs: np.ndarray) -> dict[str, Any]:
        """Start new episodes in the copies ``idx`` and write their first observations into those rows of ``obs``,
        the batch's observation of the step just taken, in place; return the reset copies' info (the core's arrays,
        one row per index of ``idx``, without Gymnasium's ``_key`` masks).

        This is ``reset(options={"reset_mask": mask})`` for a caller that holds the mask's indices (ascending, no
        repeats; not checked) and owns the step's observation array: only the reset copies are observed, so the
        others keep the observation they were just shown, as Gymnasium's ``SAME_STEP`` autoreset promises (the
        T-maze's corridor noise is not drawn again for them). The ``SAME_STEP`` autoreset and the SB3 adapter
        (:mod:`memenvs.sb3`) reset finished copies this way.
        """
        self._start_episodes(idx, None)
        rows = self._state.take(idx)
        obs[idx] = self.core.observe(rows, self.np_random)
        return self.core.info(rows)

    def _start_episodes(self, idx: np.ndarray, options: dict[str, Any] | None) -> None:
        """Reset the copies ``idx`` in the state (the core's reset, time 0); an autoreset they had pending is done."""
        self.core.reset(self._state, idx, self.np_random, options)
        self._state.t[idx] = 0
        if self._any_pending:
            self._pending[idx] = False
            self._any_pending = bool(np.count_nonzero(self._pending))

    def _check_actions(self, actions: Any) -> np.ndarray:
        if self._box:
            return check_box_actions(actions, (self.num_envs, *self.single_action_space.shape), "actions")
        a = np.asarray(actions)
        if a.shape != (self.num_envs,) or a.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be an integer array of shape ({self.num_envs},), got dtype {a.dtype} shape {a.shape}"
            )
        # One reduction instead of min() and max(): seen as unsigned, a negative action is larger than any valid one.
        if (a if a.dtype.kind == "u" else a.view(f"u{a.itemsize}")).max() >= self._n_actions:
            bad = np.flatnonzero((a < 0) | (a >= self._n_actions))
            raise ValueError(
                f"actions must be in [0, {self._n_actions}); copy {int(bad[0])} got {int(a[bad[0]])}"
            )
        return a

    def _mask_to_idx(self, mask: Any) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.shape != (self.num_envs,) or mask.dtype != bool:
            raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},)")
        return np.flatnonzero(mask)

    def _info(self) -> dict[str, Any]:
        info = self.core.info(self._state)
        if info:
            # Every copy has every key, so every key's mask is one read-only all-True array, made once: a reader can
            # tell it from a partial mask without scanning it (the SB3 adapter does, each step).
            mask = self._every_copy
            if mask is None:
                mask = self._every_copy = np.ones(self.num_envs, dtype=bool)
                mask.flags.writeable = False
            info.update({"_" + k: mask for k in list(info)})
        return info

    # ----------------------------------------------------------------- extras
    def hidden_state(self) -> dict[str, np.ndarray]:
        """The variables the observations hide, batched (for oracle baselines and probes)."""
        return self.core.hidden_state(self._state)

    def optimal_return(self) -> float | None:
        """Expected undiscounted return of an optimal policy with memory, for this configuration."""
        return self.core.optimal_return()

    def memoryless_return(self) -> float | None:
        """Expected undiscounted return of the best reactive (observation -> action) policy."""
        return self.core.memoryless_return()

    def render(self) -> tuple[Any, ...] | None:
        """One picture (or string) per copy for ``rgb_array``/``ansi``; ``human`` shows copy 0."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode= to make_vec.")
            return None
        if not self._has_reset:
            raise gym.error.ResetNeeded("Call reset() first.")
        if self.render_mode == "human":
            return self._renderer.render(self.core.frame(self._state, 0))
        return tuple(self._renderer.render(self.core.frame(self._state, i)) for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        self._renderer.close()
