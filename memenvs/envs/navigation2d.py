"""2D point navigation to a hidden goal: the MAML paper's cheap meta-RL task, as a batched NumPy core."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import State
from memenvs.envs.meta import MetaCore, MetaEnvMixin
from memenvs.envs.params import check_float, check_optional_int, normalise
from memenvs.envs.rendering import Frame
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv

#: Largest move per step along each axis (the action is a velocity clipped to this box; Finn et al. 2017).
MAX_SPEED = 0.1
#: The episode terminates when the point is within this distance of the goal along both axes.
GOAL_TOLERANCE = 0.01


@dataclasses.dataclass(frozen=True)
class Navigation2DParams:
    """Parameters of 2D navigation (see :class:`Navigation2DEnv`)."""

    low: float = -0.5
    high: float = 0.5
    max_steps: int | None = None

    def __post_init__(self) -> None:
        normalise(self, "low", check_float)
        normalise(self, "high", check_float)
        if not self.low < self.high:
            raise ValueError(f"low must be smaller than high, got low={self.low!r}, high={self.high!r}")
        normalise(self, "max_steps", check_optional_int, 1)


@dataclasses.dataclass
class Navigation2DState(State):
    pos: np.ndarray  # (N, 2) float64: the point's position
    task: np.ndarray  # (N, 2) float64: the goal
    has_task: np.ndarray  # (N,) bool: the copy holds a task (kept by resets without a task option)


class Navigation2DCore(MetaCore):
    """Batched point mass: ``pos += clip(action, -0.1, 0.1)``; reward minus the distance to the copy's goal."""

    Params = Navigation2DParams
    name = "Navigation2D"
    render_fps = 20

    def __init__(self, params: Navigation2DParams) -> None:
        super().__init__(params)
        self.action_space = spaces.Box(-MAX_SPEED, MAX_SPEED, shape=(2,), dtype=np.float32)
        # The point moves at most MAX_SPEED per axis and step from the origin, so this bound is exact.
        reach = np.float32(MAX_SPEED * self.max_steps)
        self.observation_space = spaces.Box(-reach, reach, shape=(2,), dtype=np.float32)
        self.task_space = spaces.Box(params.low, params.high, shape=(2,), dtype=np.float64)

    # ------------------------------------------------------------------ tasks
    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(self.params.low, self.params.high, size=(n, 2))

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        return 100 if self.params.max_steps is None else self.params.max_steps

    def init_state(self, num_envs: int) -> Navigation2DState:
        return Navigation2DState(
            t=np.zeros(num_envs, dtype=np.int64),
            pos=np.zeros((num_envs, 2)),
            task=np.zeros((num_envs, 2)),
            has_task=np.zeros(num_envs, dtype=bool),
        )

    def reset(self, state: Navigation2DState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        self.assign_tasks(state, idx, rng, options)
        state.pos[idx] = 0.0

    def step(
        self, state: Navigation2DState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        # float64 position, float32 observation: the same arithmetic for a copy alone and in a batch. Bare ufuncs
        # instead of np.clip and the array methods' reductions: at N = 1 their Python wrappers cost more than the
        # arithmetic (np.clip alone about 3 us, a third of a CartPole step).
        state.pos += np.maximum(np.minimum(action, MAX_SPEED), -MAX_SPEED)
        diff = state.pos - state.task
        reward = np.sqrt(np.add.reduce(diff * diff, axis=1))
        terminated = np.logical_and.reduce(np.abs(diff) < GOAL_TOLERANCE, axis=1)
        return np.negative(reward, out=reward).astype(np.float32), terminated

    def observe(self, state: Navigation2DState, rng: np.random.Generator) -> np.ndarray:
        return state.pos.astype(np.float32)

    def info(self, state: Navigation2DState) -> dict[str, np.ndarray]:
        return {"task": state.task.copy()}

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: Navigation2DState) -> dict[str, np.ndarray]:
        return {"goal": state.task.copy()}

    # ------------------------------------------------------------------ presentation
    def frame(self, state: Navigation2DState, i: int) -> "PointFrame":
        return PointFrame(
            pos=tuple(map(float, state.pos[i])), goal=tuple(map(float, state.task[i])),
            low=self.params.low, high=self.params.high,
            caption=f"t={int(state.t[i])}  goal=({state.task[i, 0]:+.2f}, {state.task[i, 1]:+.2f})",
        )

    def keys_to_action(self) -> dict[tuple[int, ...], Any]:
        import pygame

        step = np.float32(MAX_SPEED)
        moves = {pygame.K_UP: (0, step), pygame.K_RIGHT: (step, 0),
                 pygame.K_DOWN: (0, -step), pygame.K_LEFT: (-step, 0)}
        return {(k,): np.array(v, dtype=np.float32) for k, v in moves.items()}


class PointFrame(Frame):
    """The plane around the goal square: the square of possible goals, the goal (green), the point (red)."""

    SIZE = 320

    def __init__(self, pos: tuple[float, float], goal: tuple[float, float], low: float, high: float,
                 caption: str) -> None:
        self.pos, self.goal, self.caption = pos, goal, caption
        margin = 0.5 * (high - low)
        self.lo, self.hi = low - margin, high + margin
        self.square = (low, high)

    def _px(self, x: float, y: float) -> tuple[int, int]:
        scale = self.SIZE / (self.hi - self.lo)
        col = (min(max(x, self.lo), self.hi) - self.lo) * scale
        row = (self.hi - min(max(y, self.lo), self.hi)) * scale
        return int(round(col)), int(round(row))

    def size(self) -> tuple[int, int]:
        return self.SIZE, self.SIZE

    def draw(self, surface: Any) -> None:
        import pygame

        surface.fill((250, 250, 250))
        (x0, y0), (x1, y1) = self._px(self.square[0], self.square[1]), self._px(self.square[1], self.square[0])
        pygame.draw.rect(surface, (200, 200, 200), pygame.Rect(x0, y0, x1 - x0, y1 - y0), 1)
        pygame.draw.circle(surface, (60, 170, 80), self._px(*self.goal), 7)
        pygame.draw.circle(surface, (220, 60, 50), self._px(*self.pos), 5)

    def text(self) -> str:
        cells = 21
        grid = [["."] * cells for _ in range(cells)]
        for (x, y), char in ((self.goal, "G"), (self.pos, "A")):
            col, row = self._px(x, y)
            grid[min(row * cells // self.SIZE, cells - 1)][min(col * cells // self.SIZE, cells - 1)] = char
        return "\n".join("".join(r) for r in grid) + f"\npos=({self.pos[0]:+.3f}, {self.pos[1]:+.3f})"


class Navigation2DEnv(MetaEnvMixin, MemoryEnv):
    """A point in the plane must reach a goal it cannot see, guided only by the reward.

    ## Description
    The 2D navigation task of Finn, Abbeel & Levine (2017), as in their code (``point_env_randgoal.py``) and in
    ``tristandeleu/pytorch-maml-rl``: a point starts at the origin and moves by its action each step; the goal is
    drawn uniformly from the square ``[low, high]^2`` and appears only through the reward, so an agent must find it
    by trial and error and then remember it. A meta-RL env (see :mod:`memenvs.envs.meta`): ``sample_tasks(n, rng)``
    draws goals, ``reset(options={"task": goal})`` sets one, and a reset without a task keeps the copy's goal, so
    the episodes of a meta-trial share it.

    ## Action Space
    ``Box(-0.1, 0.1, (2,), float32)``: the velocity. Any finite action is accepted and clipped to the box, as in
    the paper's code (a Gaussian policy's samples are unbounded).

    ## Observation Space
    ``Box(float32)`` of shape ``(2,)``: the position. Bounded by ``0.1 * max_steps`` along each axis, the farthest
    the point can move.

    ## Rewards
    Minus the Euclidean distance from the new position to the goal, every step.

    ## Starting State
    The point at ``(0, 0)``. The goal: the ``task`` reset option if given, else the copy's current goal, else (first
    reset, or ``reset(seed=...)``) a goal drawn uniformly from ``[low, high]^2``.

    ## Episode End
    * Termination: the point is within 0.01 of the goal along both axes.
    * Truncation: after ``max_steps`` steps (default 100, the paper's horizon).

    ## Arguments
    * ``low``, ``high`` (floats, ``low < high``, default -0.5 and 0.5): the square goals are drawn from.
    * ``max_steps`` (int >= 1 or None): the time limit (default 100).

    ``info["task"]`` is the goal, ``hidden_state()["goal"]`` too. ``sample_tasks(n, rng)`` returns goals ``(n, 2)``.

    ## Reference
    * C. Finn, P. Abbeel, S. Levine, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks", ICML 2017
      (Section 5.3; the goal square, velocity clip, horizon 100 and termination are those of their
      ``point_env_randgoal.py`` and of ``tristandeleu/pytorch-maml-rl``'s ``2DNavigation-v0``).

    ## Version History
    * v0: initial release.
    """

    core_class = Navigation2DCore


class Navigation2DVectorEnv(MetaEnvMixin, MemoryVectorEnv):
    """Native vector version of :class:`Navigation2DEnv` (all copies step together in NumPy). The ``task`` reset
    option takes one goal for every reset copy or one row per reset copy."""

    core_class = Navigation2DCore
