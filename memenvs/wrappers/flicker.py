"""Flickering observations: blank the whole observation with probability ``p`` each step.

Hausknecht & Stone (2015, "Deep Recurrent Q-Learning for Partially Observable MDPs") turned Atari games into POMDPs
by showing the agent either the full screen or a blank one, i.i.d. with probability 0.5 at every step; the IAM paper
(Suau et al.) reused the setting. Neither ALE nor Gymnasium has the option, so memenvs provides it as a seeded
wrapper for single envs (:class:`FlickerObservation`), Gymnasium vector envs (:class:`VectorFlickerObservation`) and
SB3 ``VecEnv``s (:class:`memenvs.wrappers.flicker_sb3.VecFlickerObservation`, which imports SB3).

Randomness. The flicker draws come from the wrapper's own generator, seeded from the seed given to ``reset(seed=...)``
(``SeedSequence(seed, spawn_key=(FLICKER_STREAM,))``, a stream independent of the one the wrapped env seeds from the
same integer). So a seed reproduces the same blank pattern, and adding flicker does not change the wrapped env's own
dynamics: under one seed the flickered and the plain env go through the same states. Drawing from the wrapped env's
``np_random`` instead would shift its draws (in Atari, the no-op counts) the moment flicker is added. Until a first
seeded reset the generator starts from fresh OS entropy, like Gymnasium's ``np_random``.
"""

from __future__ import annotations

from typing import Any, Sequence, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from memenvs.envs.params import check_probability

__all__ = ["FLICKER_STREAM", "FlickerObservation", "VectorFlickerObservation", "flicker_rng", "check_flicker_args"]

#: Spawn key that separates the flicker stream from the wrapped env's stream seeded with the same integer.
FLICKER_STREAM = 0xF11C


def flicker_rng(seed: int | Sequence[int] | None) -> np.random.Generator:
    """The flicker generator for ``seed`` (fresh OS entropy for ``None``)."""
    if seed is None:
        return np.random.default_rng()
    entropy = [int(s) for s in seed] if isinstance(seed, (list, tuple, np.ndarray)) else int(seed)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(FLICKER_STREAM,))))


def check_flicker_args(p: Any, flicker_on_reset: Any, observation_space: spaces.Space) -> float:
    """Validate the flicker arguments against the space they will blank; return ``p`` as a float."""
    p = check_probability("p", p)
    if not isinstance(flicker_on_reset, (bool, np.bool_)):
        raise ValueError(f"flicker_on_reset must be a bool, got {flicker_on_reset!r}")
    if not isinstance(observation_space, (spaces.Box, spaces.MultiBinary, spaces.MultiDiscrete)):
        raise ValueError(
            "flickering needs an array observation space (Box, MultiBinary or MultiDiscrete), "
            f"got {type(observation_space).__name__}"
        )
    zeros = np.zeros(observation_space.shape, dtype=observation_space.dtype)
    if not observation_space.contains(zeros):
        raise ValueError(f"flickering blanks observations to zeros, which are outside {observation_space}")
    return p


class FlickerObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Replace the whole observation by zeros with probability ``p``, independently at every step.

    Args:
        env: an env with an array observation space (``Box``, ``MultiBinary``, ``MultiDiscrete``) that contains
            the all-zeros observation.
        p: blanking probability in [0, 1] (0.5 in DRQN). ``p = 0`` returns the wrapped observations unchanged and
            ``p = 1`` blanks every one, exactly.
        flicker_on_reset: whether the first observation of an episode may be blanked too (default ``True``, as in
            DRQN); with ``False`` the observation returned by ``reset`` is always shown.

    ``info["flicker"]`` is ``True`` when the returned observation was blanked. One draw is made per ``reset`` and
    per ``step`` whatever ``p`` is, so changing ``p`` under a fixed seed keeps the draws aligned (a frame blanked
    at ``p = 0.3`` is also blanked at ``p = 0.5``). Rewards, terminations and the wrapped env's state are untouched.
    The wrapper records ``p`` and ``flicker_on_reset`` in ``env.spec.additional_wrappers``, so
    ``gym.make(env.spec)`` rebuilds it. ``render()`` is the wrapped env's and so shows the unblanked scene.
    ``hidden_state()`` returns the latest unblanked observation (what the blank hid) and the flag.

    On Atari, wrap the *processed* env (after ``AtariPreprocessing``, before any frame stack), as the registered
    ``memenvs/Flickering*-v0`` ids do: the blank then falls once per agent step, after frame skipping and the
    two-frame max-pool, and each stacked frame flickers on its own. See
    :func:`memenvs.envs.atari.make_flickering_atari` for the full stack and how this differs from the sprite
    flicker of the Atari hardware.
    """

    def __init__(self, env: gym.Env, p: float = 0.5, flicker_on_reset: bool = True) -> None:
        p = check_flicker_args(p, flicker_on_reset, env.observation_space)
        gym.utils.RecordConstructorArgs.__init__(self, p=p, flicker_on_reset=bool(flicker_on_reset))
        gym.Wrapper.__init__(self, env)
        self.p = p
        self.flicker_on_reset = bool(flicker_on_reset)
        self._flicker_rng: np.random.Generator | None = None
        self._shown: Any = None
        self._blank = False

    @property
    def flicker_rng(self) -> np.random.Generator:
        """The generator of the blank/show draws (see the module docstring for how it is seeded)."""
        if self._flicker_rng is None:
            self._flicker_rng = flicker_rng(None)
        return self._flicker_rng

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._flicker_rng = flicker_rng(seed)
        blank = self.flicker_rng.random() < self.p and self.flicker_on_reset
        return self._apply(obs, info, blank)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        obs, info = self._apply(obs, info, self.flicker_rng.random() < self.p)
        return obs, reward, terminated, truncated, info

    def hidden_state(self) -> dict[str, Any]:
        """What the flicker hides: the wrapped env's latest observation, unblanked, and whether it was blanked."""
        if self._shown is None:
            raise gym.error.ResetNeeded("Call reset() first.")
        return {"observation": np.array(self._shown, copy=True), "flicker": self._blank}

    def _apply(self, obs: np.ndarray, info: dict[str, Any], blank: bool) -> tuple[np.ndarray, dict[str, Any]]:
        self._shown, self._blank = obs, bool(blank)
        # A fresh info dict: some envs hand out the same dict every step, and it must not carry an old flag.
        info = dict(info)
        info["flicker"] = bool(blank)
        return (np.zeros_like(obs) if blank else obs), info


class VectorFlickerObservation(VectorWrapper):
    """:class:`FlickerObservation` for a Gymnasium ``VectorEnv``: every copy flickers independently.

    One generator draws ``num_envs`` numbers per ``reset`` and per ``step``; ``reset(seed=s)`` reseeds it (an int,
    or the list of per-copy seeds, which is used whole as the entropy). ``info["flicker"]`` is a bool array (with
    the ``"_flicker"`` mask Gymnasium's vector infos use). Autoreset modes are honoured:

    * ``NEXT_STEP``: the step that returns a copy's reset observation counts as a reset (``flicker_on_reset``).
    * ``SAME_STEP``: the returned observation of a finished copy is its reset observation; the last observation of
      the episode in ``info["final_obs"]`` flickers with a second, independent draw, recorded in
      ``info["final_info"]["flicker"]``.
    * ``DISABLED``: ``reset(options={"reset_mask": m})`` draws for the reset copies; the others keep showing what
      they showed (blank or not), since their observation did not change.
    """

    def __init__(self, env: VectorEnv, p: float = 0.5, flicker_on_reset: bool = True) -> None:
        self.p = check_flicker_args(p, flicker_on_reset, env.single_observation_space)
        self.flicker_on_reset = bool(flicker_on_reset)
        super().__init__(env)
        self._mode = AutoresetMode(env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
        self._blank = np.zeros(self.num_envs, dtype=bool)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._flicker_rng: np.random.Generator | None = None

    @property
    def flicker_rng(self) -> np.random.Generator:
        """The generator of the blank/show draws."""
        if self._flicker_rng is None:
            self._flicker_rng = flicker_rng(None)
        return self._flicker_rng

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        if seed is not None and not (isinstance(seed, list) and any(s is None for s in seed)):
            self._flicker_rng = flicker_rng(seed)
        draw = self.flicker_rng.random(self.num_envs) < self.p
        draw &= self.flicker_on_reset
        mask = None if options is None else options.get("reset_mask")
        if mask is None:
            self._blank = draw
        else:
            mask = np.asarray(mask, dtype=bool)
            self._blank = np.where(mask, draw, self._blank)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        return self._blanked(obs, self._blank), self._with_flag(info, self._blank)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        blank = self.flicker_rng.random(self.num_envs) < self.p
        done = np.logical_or(terminated, truncated)
        if self._mode is AutoresetMode.NEXT_STEP:
            # Copies that ended last step were reset by this step: their observation is a reset observation.
            if not self.flicker_on_reset:
                blank &= ~self._autoreset
            self._autoreset = done
        elif self._mode is AutoresetMode.SAME_STEP:
            if not self.flicker_on_reset:
                blank &= ~done
            final_blank = self.flicker_rng.random(self.num_envs) < self.p
            if done.any() and "final_obs" in info:
                info = self._blank_final(info, final_blank & done)
        self._blank = blank
        return self._blanked(obs, blank), reward, terminated, truncated, self._with_flag(info, blank)

    def _blank_final(self, info: dict[str, Any], final_blank: np.ndarray) -> dict[str, Any]:
        info = dict(info)
        final_obs = np.array(info["final_obs"], dtype=object, copy=True)
        for i in np.flatnonzero(final_blank):
            final_obs[i] = np.zeros_like(final_obs[i])
        info["final_obs"] = final_obs
        final_info = dict(info.get("final_info", {}))
        final_info["flicker"] = final_blank
        final_info["_flicker"] = np.asarray(info.get("_final_obs", final_blank), dtype=bool)
        info["final_info"] = final_info
        return info

    @staticmethod
    def _blanked(obs: np.ndarray, blank: np.ndarray) -> np.ndarray:
        if not blank.any():
            return obs
        # Copy rather than zero in place: the vector env may hand out (and later read) its own buffer.
        obs = np.array(obs, copy=True)
        obs[blank] = 0
        return obs

    def _with_flag(self, info: dict[str, Any], blank: np.ndarray) -> dict[str, Any]:
        info = dict(info)
        info["flicker"] = blank.copy()
        info["_flicker"] = np.ones(self.num_envs, dtype=bool)
        return info
