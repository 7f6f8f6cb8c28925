"""MAML's HalfCheetahDir: Gymnasium's MuJoCo HalfCheetah rewarded for running in a hidden direction (mujoco extra)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from memenvs.envs.meta import TaskDistribution
from memenvs.envs.params import check_int, check_optional_int

try:
    import mujoco
    from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "memenvs/HalfCheetahDir-v0 needs MuJoCo: pip install 'memenvs[mujoco]' (or pip install mujoco)"
    ) from err

#: Weight of the control cost ``sum(action**2)``: 0.5 * 1e-1 in the MAML paper's rllab environment
#: (``half_cheetah_env_rand_direc.py``), half of Gymnasium's default 0.1.
CTRL_COST_WEIGHT = 0.05
#: The paper's horizon for the locomotion tasks (Finn et al. 2017, Section 5.3).
DEFAULT_MAX_STEPS = 200
_FULL_STATE = mujoco.mjtState.mjSTATE_INTEGRATION


class HalfCheetahDirEnv(TaskDistribution, HalfCheetahEnv):
    """HalfCheetah that must run forward or backward, the direction appearing only in the reward.

    ## Description
    The HalfCheetahDir meta-RL task of Finn, Abbeel & Levine (2017): the planar cheetah of Gymnasium's
    ``HalfCheetah-v5`` (MuJoCo, 6 actuated joints, ``dt = 0.05``), whose task is a direction ``d`` in {-1, +1}
    drawn with probability 1/2 each. The direction is not observed. A meta-RL env (see :mod:`memenvs.envs.meta`):
    ``sample_tasks(n, rng)`` draws directions, ``reset(options={"task": [d]})`` sets one, and a reset without a task
    keeps the current direction, so the episodes of a meta-trial share it.

    ## Action Space
    ``Box(-1, 1, (6,), float32)``: joint torques, as Gymnasium's HalfCheetah. Any finite action is accepted and
    clipped to the box before it is applied and charged for, as the paper's rllab ``NormalizedEnv`` and
    pytorch-maml-rl's action wrapper do (a Gaussian policy's samples are unbounded).

    ## Observation Space
    ``Box(-inf, inf, (17,), float64)``: Gymnasium's HalfCheetah-v5 observation (joint positions without the root's
    x, and all velocities). The paper's rllab env also appended the torso's centre of mass; Gymnasium's does not.

    ## Rewards
    ``d * x_velocity - 0.05 * sum(clip(action)**2)``: the velocity along the task's direction minus the paper's
    control cost (its rllab code's ``0.5 * 1e-1``) of the clipped action. ``info`` keeps Gymnasium's
    ``x_velocity``, ``reward_forward`` (here ``d * x_velocity``) and ``reward_ctrl``.

    ## Starting State
    Gymnasium's: the rest pose with uniform noise of 0.1 on positions and Gaussian noise of 0.1 on velocities. The
    direction: the ``task`` option, else the current one, else (first reset, or ``reset(seed=...)``) a fair draw.

    ## Episode End
    * Termination: never.
    * Truncation: after ``max_steps`` steps (default 200, the paper's locomotion horizon).

    ## Arguments
    * ``max_steps`` (int >= 1 or None): the time limit (default 200).
    * ``render_mode``: Gymnasium's MuJoCo modes (``human``, ``rgb_array``, ``depth_array``; these need OpenGL).

    ``info["task"]`` is ``[d]``. ``sample_tasks(n, rng)`` returns an array ``(n, 1)`` of -1.0 and +1.0.

    ## Reference
    * C. Finn, P. Abbeel, S. Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks", ICML 2017
      (Section 5.3: forward/backward cheetah, horizon 200).
    * ``tristandeleu/pytorch-maml-rl``'s ``HalfCheetahDir`` (the same reward, on the older Gym HalfCheetah).
    * Gymnasium's ``HalfCheetah-v5`` (dynamics, observation, reset noise).

    ## Version History
    * v0: initial release.
    """

    task_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float64)

    def __init__(self, /, render_mode: str | None = None, max_steps: int | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise ValueError(
                f"HalfCheetahDir got unknown argument(s) {', '.join(map(repr, sorted(kwargs)))}; "
                "allowed: max_steps, render_mode"
            )
        max_steps = check_optional_int("max_steps", max_steps, 1)
        HalfCheetahEnv.__init__(self, ctrl_cost_weight=CTRL_COST_WEIGHT, render_mode=render_mode)
        EzPickle.__init__(self, render_mode=render_mode, max_steps=max_steps)
        self.max_steps = DEFAULT_MAX_STEPS if max_steps is None else max_steps
        self._task = np.ones(1)
        self._has_task = False
        self._next_task: np.ndarray | None = None  # set by the vector env for a per-copy task option
        self._t = 0

    # ------------------------------------------------------------------ tasks
    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        n = check_int("n", n, 1)
        rng = self.np_random if rng is None else rng
        return (2.0 * rng.integers(0, 2, size=(n, 1)) - 1.0).astype(np.float64)

    def check_task_values(self, tasks: np.ndarray) -> None:
        if not np.isin(tasks, (-1.0, 1.0)).all():
            raise ValueError(f"options['task'] must be [1] (forward) or [-1] (backward), got {tasks.tolist()}")

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        task = self._check_options(options)
        if self._next_task is not None:
            task, self._next_task = self._next_task, None
        obs, info = super().reset(seed=seed)
        if seed is not None:
            self._has_task = False
        drawn = self.sample_tasks(1)[0]  # drawn on every reset, so the generator advances the same way
        if task is not None:
            self._task = task
        elif not self._has_task:
            self._task = drawn
        self._has_task = True
        self._t = 0
        return obs, {**info, "task": self._task.copy()}

    def _check_options(self, options: dict[str, Any] | None) -> np.ndarray | None:
        if options is None:
            return None
        if not isinstance(options, dict):
            raise ValueError(f"options must be a dict or None, got {type(options).__name__}")
        unknown = sorted(set(options) - {"task"})
        if unknown:
            raise ValueError(f"HalfCheetahDir reset got unknown option(s) {unknown}; allowed: task")
        return self.check_tasks(options["task"])[0] if "task" in options else None

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = np.asarray(action) if not isinstance(action, np.ndarray) else action
        if a.dtype.kind not in "iuf" or a.shape != self.action_space.shape or not np.isfinite(a).all():
            raise ValueError(f"action must be a finite array of shape {self.action_space.shape}, got {action!r}")
        a = np.clip(a, self.action_space.low, self.action_space.high)
        obs, _, _, _, info = super().step(a)
        forward = float(self._task[0]) * info["x_velocity"]
        ctrl = self.control_cost(a)
        self._t += 1
        info.update(reward_forward=forward, reward_ctrl=-ctrl, task=self._task.copy())
        return obs, float(forward - ctrl), False, self._t >= self.max_steps, info

    def hidden_state(self) -> dict[str, Any]:
        """The direction the reward asks for (hidden from the observation)."""
        return {"direction": float(self._task[0])}

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        # EzPickle rebuilds the env from its arguments; keep the physics, the generator and the trial too, so a
        # pickled env continues exactly where the original is.
        state = EzPickle.__getstate__(self)
        sim = np.empty(mujoco.mj_stateSize(self.model, _FULL_STATE))
        mujoco.mj_getState(self.model, self.data, sim, _FULL_STATE)
        state["_trial"] = dict(sim=sim, rng=self.np_random.bit_generator.state, task=self._task.copy(),
                               has_task=self._has_task, t=self._t)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        trial = state.pop("_trial")
        EzPickle.__setstate__(self, state)
        mujoco.mj_setState(self.model, self.data, trial["sim"], _FULL_STATE)
        mujoco.mj_forward(self.model, self.data)
        self._np_random = np.random.Generator(np.random.PCG64())
        self._np_random.bit_generator.state = trial["rng"]
        self._task, self._has_task, self._t = trial["task"], trial["has_task"], trial["t"]


class HalfCheetahDirVectorEnv(SyncVectorEnv):
    """``num_envs`` :class:`HalfCheetahDirEnv` copies stepped in one process (MuJoCo has no batched core here).

    The ``task`` reset option takes one direction for every reset copy or one row per reset copy, as the NumPy
    meta-RL envs do; ``sample_tasks(n, rng)`` and ``task_space`` are those of the single env.
    """

    def __init__(self, /, num_envs: int = 1, autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
                 render_mode: str | None = None, max_steps: int | None = None, **kwargs: Any) -> None:
        num_envs = check_int("num_envs", num_envs, 1)
        HalfCheetahDirEnv(max_steps=max_steps, **kwargs).close()  # validate the arguments once, with clear errors
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            allowed = ", ".join(m.value for m in AutoresetMode)
            raise ValueError(f"autoreset_mode must be one of {allowed}, got {autoreset_mode!r}") from None
        make = functools.partial(HalfCheetahDirEnv, render_mode=render_mode, max_steps=max_steps)  # picklable
        super().__init__([make] * num_envs, autoreset_mode=mode)

    @property
    def task_space(self) -> spaces.Box:
        return HalfCheetahDirEnv.task_space

    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n`` directions, drawn with ``rng`` (the first copy's generator if None)."""
        return self.envs[0].unwrapped.sample_tasks(n, rng)

    def reset(self, *, seed: int | list[int | None] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        options = dict(options) if options else {}
        if "task" in options:
            mask = options.get("reset_mask")
            idx = np.arange(self.num_envs) if mask is None else np.flatnonzero(np.asarray(mask))
            tasks = self.envs[0].unwrapped.check_tasks(options.pop("task"), len(idx))
            for i, task in zip(idx, tasks):
                self.envs[i].unwrapped._next_task = task
        return super().reset(seed=seed, options=options or None)
