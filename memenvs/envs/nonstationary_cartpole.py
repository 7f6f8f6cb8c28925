"""CartPole whose physics switch between tasks on a seeded schedule: the test bed of "regularizers as memory"."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, State
from memenvs.envs.params import check_choice, check_int, check_optional_int, normalise
from memenvs.envs.rendering import Frame
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv

# Physical constants of the classic cart-pole (Barto, Sutton & Anderson 1983, with the values Gymnasium's CartPole
# uses): SI units, Euler integration with a 20 ms step.
CART_MASS = 1.0
POLE_MASS = 0.1
TAU = 0.02
X_LIMIT = 2.4
THETA_LIMIT = 12 * 2 * math.pi / 360
TOTAL_MASS = CART_MASS + POLE_MASS


@dataclasses.dataclass(frozen=True)
class CartPoleTask:
    """One setting of the physics. ``half_length`` is the distance from the pivot to the pole's centre of mass (the
    ``length`` constant of Gymnasium's CartPole); ``inverted`` swaps the meaning of the two actions."""

    gravity: float = 9.8
    half_length: float = 0.5
    force: float = 10.0
    inverted: bool = False


#: The catalogue of named tasks, in a fixed order: ``task_id`` and the optional one-hot task code index into it.
TASKS: dict[str, CartPoleTask] = {
    "standard": CartPoleTask(),
    "inverted": CartPoleTask(inverted=True),
    "long_pole": CartPoleTask(half_length=1.0),
    "short_pole": CartPoleTask(half_length=0.25),
    "high_gravity": CartPoleTask(gravity=19.6),
    "low_gravity": CartPoleTask(gravity=4.9),
    "strong_force": CartPoleTask(force=20.0),
    "weak_force": CartPoleTask(force=5.0),
}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)
SCHEDULES = ("cycle", "random")


@dataclasses.dataclass(frozen=True)
class NonstationaryCartPoleParams:
    """Parameters of the non-stationary cart-pole (see :class:`NonstationaryCartPoleEnv`)."""

    tasks: tuple[str, ...] = ("standard", "inverted")
    switch_every: int = 10
    schedule: str = "cycle"
    task_in_obs: bool = False
    max_steps: int | None = None

    def __post_init__(self) -> None:
        tasks = self.tasks
        if isinstance(tasks, str) or not isinstance(tasks, (tuple, list)) or not tasks:
            raise ValueError(f"tasks must be a non-empty tuple of names from {TASK_NAMES}, got {tasks!r}")
        for name in tasks:
            check_choice("tasks entry", name, TASK_NAMES)
        object.__setattr__(self, "tasks", tuple(tasks))
        normalise(self, "switch_every", check_int, 1)
        check_choice("schedule", self.schedule, SCHEDULES)
        if not isinstance(self.task_in_obs, (bool, np.bool_)):  # check_choice would take 0, 1 and 1.0 for bools
            raise ValueError(f"task_in_obs must be True or False, got {self.task_in_obs!r}")
        object.__setattr__(self, "task_in_obs", bool(self.task_in_obs))
        normalise(self, "max_steps", check_optional_int, 1)


@dataclasses.dataclass
class NonstationaryCartPoleState(State):
    phys: np.ndarray  # (N, 4) float64: x, x_dot, theta, theta_dot
    task: np.ndarray  # index into TASK_NAMES of the current episode's task
    episode: np.ndarray  # episodes this copy has started since it was created or reseeded (0 for the first)
    slot: np.ndarray  # position of the current task in params.tasks (the random schedule draws a different one)


class NonstationaryCartPoleCore(Core):
    """Batched cart-pole physics with per-copy task parameters looked up from the task index.

    The schedule lives in the state (episode counter and current task), so it survives the vector env's autoreset
    and is carried by pickling; each reset of a copy advances that copy's schedule by one episode.
    """

    Params = NonstationaryCartPoleParams
    name = "NonstationaryCartPole"
    render_fps = 50
    action_names = ("push left", "push right")
    reset_options = ("episode",)

    def __init__(self, params: NonstationaryCartPoleParams) -> None:
        super().__init__(params)
        n_codes = len(TASK_NAMES) if params.task_in_obs else 0
        high = np.array([2 * X_LIMIT, np.inf, 2 * THETA_LIMIT, np.inf] + [1.0] * n_codes, dtype=np.float32)
        low = -high
        low[4:] = 0.0
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        cat = [TASKS[n] for n in TASK_NAMES]
        self.gravity = np.array([t.gravity for t in cat])
        self.half_length = np.array([t.half_length for t in cat])
        # Signed push of action 1 (action 0 pushes the other way): an inverted task negates it.
        self.push = np.array([-t.force if t.inverted else t.force for t in cat])
        self.push_by_key = np.stack([-self.push, self.push], axis=1).reshape(-1)  # index 2 * task + action
        self.half_list, self.gravity_list = self.half_length.tolist(), self.gravity.tolist()
        self.push_list = self.push_by_key.tolist()
        self.names = np.array(TASK_NAMES)
        self.slot_task = np.array([TASK_NAMES.index(n) for n in params.tasks], dtype=np.int64)

    # ------------------------------------------------------------------ schedule
    def scheduled_task(self, episode: int) -> str:
        """Task of episode ``episode`` under the ``cycle`` schedule (the ``random`` one depends on the seed)."""
        tasks = self.params.tasks
        return tasks[(episode // self.params.switch_every) % len(tasks)]

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        return 500 if self.params.max_steps is None else self.params.max_steps

    def init_state(self, num_envs: int) -> NonstationaryCartPoleState:
        return NonstationaryCartPoleState(
            t=np.zeros(num_envs, dtype=np.int64),
            phys=np.zeros((num_envs, 4)),
            task=np.zeros(num_envs, dtype=np.int64),
            episode=np.full(num_envs, -1, dtype=np.int64),
            slot=np.zeros(num_envs, dtype=np.int64),
        )

    def check_options(self, options: dict | None) -> None:
        super().check_options(options)
        if options and "episode" in options:
            check_int("options['episode']", options["episode"], 0, np.iinfo(np.int64).max)  # an int64 counter

    def restart(self, state: NonstationaryCartPoleState, idx: np.ndarray) -> None:
        state.episode[idx] = -1

    def reset(
        self, state: NonstationaryCartPoleState, idx: np.ndarray, rng: np.random.Generator, options: dict | None
    ) -> None:
        p = self.params
        n = len(idx)
        # Episode counters are int64: a longer block (switch_every >= 2**63) behaves the same as the longest int64.
        every = min(p.switch_every, np.iinfo(np.int64).max)
        # Draw everything for every copy first, whatever the schedule, so the draws do not depend on which copies
        # happen to start a block.
        phys = rng.uniform(-0.05, 0.05, size=(n, 4))
        first_draw = rng.integers(0, len(p.tasks), size=n)
        shift = rng.integers(1, max(len(p.tasks), 2), size=n)
        if options and "episode" in options:
            episode = np.full(n, int(options["episode"]), dtype=np.int64)
            new_block = np.ones(n, dtype=bool)
        else:
            episode = state.episode[idx] + 1
            new_block = (episode % every == 0) | (episode == 0)
        if p.schedule == "cycle":
            slot = (episode // every) % len(p.tasks)
        else:
            # A block starts on a task drawn uniformly among the others, so every block boundary is a real switch;
            # a copy's first block (or one set by an option) draws among all tasks.
            first = (episode == 0) | bool(options and "episode" in options)
            old = state.slot[idx]
            drawn = np.where(first, first_draw, (old + shift) % len(p.tasks))
            slot = np.where(new_block, drawn, old)
        state.phys[idx] = phys
        state.episode[idx] = episode
        state.slot[idx] = slot
        state.task[idx] = self.slot_task[slot]

    def step(
        self, state: NonstationaryCartPoleState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        if state.t.shape[0] == 1:
            return self._step_one(state, int(action[0]))
        task = state.task
        x, x_dot, theta, theta_dot = state.phys.T
        # Contiguous copies: a strided column costs twice as much in every one of the ~30 array operations below.
        x, x_dot, theta, theta_dot = x.copy(), x_dot.copy(), theta.copy(), theta_dot.copy()
        half = self.half_length.take(task)
        force = self.push_by_key.take(2 * task + action)
        cos, sin = np.cos(theta), np.sin(theta)
        pole_ml = POLE_MASS * half
        # Equations of motion of the frictionless cart-pole (Barto, Sutton & Anderson 1983), integrated with
        # explicit Euler as Gymnasium's CartPole does. _step_one evaluates the same expressions in the same order,
        # so a copy gives bit-identical trajectories alone or in a batch.
        temp = pole_ml * theta_dot
        temp *= theta_dot
        temp *= sin
        temp += force
        temp /= TOTAL_MASS
        theta_acc = self.gravity.take(task) * sin
        theta_acc -= cos * temp
        denom = cos * cos
        denom *= POLE_MASS
        denom /= TOTAL_MASS
        np.subtract(4.0 / 3.0, denom, out=denom)
        denom *= half
        theta_acc /= denom
        x_acc = pole_ml * theta_acc
        x_acc *= cos
        x_acc /= TOTAL_MASS
        np.subtract(temp, x_acc, out=x_acc)
        new = np.empty_like(state.phys)
        new[:, 0] = x + TAU * x_dot
        new[:, 1] = x_dot + TAU * x_acc
        new[:, 2] = theta + TAU * theta_dot
        new[:, 3] = theta_dot + TAU * theta_acc
        state.phys = new
        terminated = np.abs(new[:, 0]) > X_LIMIT
        terminated |= np.abs(new[:, 2]) > THETA_LIMIT
        return np.ones(len(task), dtype=np.float32), terminated

    def _step_one(self, state: NonstationaryCartPoleState, action: int) -> tuple[np.ndarray, np.ndarray]:
        # A batch of one (the single env) in Python floats: NumPy's per-call overhead on 1-element arrays would
        # make the single env three times slower. Same formulas and order of operations as the batched path.
        task = int(state.task[0])
        x, x_dot, theta, theta_dot = state.phys[0].tolist()
        half = self.half_list[task]
        force = self.push_list[2 * task + action]
        cos, sin = math.cos(theta), math.sin(theta)
        pole_ml = POLE_MASS * half
        temp = (pole_ml * theta_dot * theta_dot * sin + force) / TOTAL_MASS
        theta_acc = (self.gravity_list[task] * sin - cos * temp) / (
            (4.0 / 3.0 - cos * cos * POLE_MASS / TOTAL_MASS) * half
        )
        x_acc = temp - pole_ml * theta_acc * cos / TOTAL_MASS
        x, theta = x + TAU * x_dot, theta + TAU * theta_dot
        state.phys[0] = (x, x_dot + TAU * x_acc, theta, theta_dot + TAU * theta_acc)
        terminated = abs(x) > X_LIMIT or abs(theta) > THETA_LIMIT
        return np.ones(1, dtype=np.float32), np.array([terminated])

    def observe(self, state: NonstationaryCartPoleState, rng: np.random.Generator) -> np.ndarray:
        if not self.params.task_in_obs:
            return state.phys.astype(np.float32)
        n = state.phys.shape[0]
        obs = np.zeros((n, 4 + len(TASK_NAMES)), dtype=np.float32)
        obs[:, :4] = state.phys
        obs[np.arange(n), 4 + state.task] = 1.0
        return obs

    def info(self, state: NonstationaryCartPoleState) -> dict[str, np.ndarray]:
        return {"task": self.names.take(state.task), "task_id": state.task.copy()}

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: NonstationaryCartPoleState) -> dict[str, np.ndarray]:
        task = state.task
        return {
            "task_id": task.copy(),
            "episode": state.episode.copy(),
            "gravity": self.gravity.take(task),
            "half_length": self.half_length.take(task),
            "force": np.abs(self.push.take(task)),
            "inverted": self.push.take(task) < 0,
        }

    def optimal_return(self) -> float:
        # Every task in the catalogue can be balanced for ever from the start region by a controller that knows
        # it (the test suite runs one on each task), and one step of pushing reveals an inversion.
        return float(self.max_steps)

    def memoryless_return(self) -> float | None:
        return None  # no closed form: reactive controllers that survive both a task and its inversion are not known

    # ------------------------------------------------------------------ presentation
    def frame(self, state: NonstationaryCartPoleState, i: int) -> "CartPoleFrame":
        task = int(state.task[i])
        x, _, theta, _ = (float(v) for v in state.phys[i])
        return CartPoleFrame(
            x=x, theta=theta, half_length=float(self.half_length[task]),
            caption=f"t={int(state.t[i])}  episode={int(state.episode[i])}  task={TASK_NAMES[task]}",
        )

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        import pygame

        return {(pygame.K_LEFT,): 0, (pygame.K_a,): 0, (pygame.K_RIGHT,): 1, (pygame.K_d,): 1}


class CartPoleFrame(Frame):
    """A cart on a track with its pole, drawn from the physical state; the caption names the hidden task."""

    W, H = 600, 300
    SCALE = W / (2 * X_LIMIT)

    def __init__(self, x: float, theta: float, half_length: float, caption: str) -> None:
        self.x, self.theta, self.half_length, self.caption = x, theta, half_length, caption

    def size(self) -> tuple[int, int]:
        return self.W, self.H

    def draw(self, surface: Any) -> None:
        import pygame

        surface.fill((250, 250, 250))
        track_y = self.H - 80
        pygame.draw.line(surface, (40, 40, 40), (0, track_y), (self.W, track_y), 2)
        cx = int(self.W / 2 + self.x * self.SCALE)
        cart = pygame.Rect(cx - 25, track_y - 15, 50, 30)
        pygame.draw.rect(surface, (40, 40, 40), cart)
        pole_px = 2 * self.half_length * self.SCALE * 0.5
        tip = (cx + pole_px * math.sin(self.theta), track_y - 15 - pole_px * math.cos(self.theta))
        pygame.draw.line(surface, (202, 152, 101), (cx, track_y - 15), tip, 8)
        pygame.draw.circle(surface, (129, 132, 203), (cx, track_y - 15), 5)

    def text(self) -> str:
        width = 41
        col = int(round((self.x + X_LIMIT) / (2 * X_LIMIT) * (width - 1)))
        col = min(max(col, 0), width - 1)
        track = ["-"] * width
        track[col] = "#"
        lean = "/" if self.theta > 0.02 else "\\" if self.theta < -0.02 else "|"
        pole = [" "] * width
        pole[col] = lean
        return "".join(pole) + "\n" + "".join(track) + f"\nx={self.x:+.3f} theta={math.degrees(self.theta):+.2f} deg"


class NonstationaryCartPoleEnv(MemoryEnv):
    """CartPole whose physics switch between named tasks every ``switch_every`` episodes.

    ## Description
    The cart-pole of Barto, Sutton & Anderson (1983) with Gymnasium's constants (cart 1 kg, pole 0.1 kg, 20 ms Euler
    steps), except that the task parameters -- pole half-length, gravity, push force, or whether the two actions are
    swapped -- change on a schedule over episodes. The schedule is part of the env's state: each ``reset()`` starts
    the next episode of the schedule (the vector env's autoreset too), and ``reset(seed=...)`` restarts it, so a seed
    fixes the whole sequence of tasks. Made to measure forgetting: the return on task A after training on task B.
    Without ``task_in_obs`` the task is hidden, and an agent must infer it from how the cart responds (one push
    reveals an inversion) and remember it through the episode.

    ## Action Space
    ``Discrete(2)``: 0 pushes the cart left, 1 pushes it right (the other way round in the ``inverted`` task).

    ## Observation Space
    ``Box(float32)`` of cart position, cart velocity, pole angle (radians), pole angular velocity; bounds as in
    Gymnasium (position +-4.8, angle +-0.419). With ``task_in_obs=True`` a one-hot code of the task over the whole
    catalogue (8 entries, in the order of :data:`TASK_NAMES`) is appended, so envs with different ``tasks`` share
    one observation space.

    ## Rewards
    +1 for every step, including the one that ends the episode (Gymnasium's CartPole-v1 convention).

    ## Starting State
    All four physical variables uniform in [-0.05, 0.05]. The task of episode ``k`` (counting from 0 since creation
    or the last seeded reset) is, with ``schedule="cycle"``, ``tasks[(k // switch_every) % len(tasks)]``; with
    ``schedule="random"`` a block of ``switch_every`` episodes gets a task drawn uniformly from ``tasks`` (the first
    block) or uniformly among the tasks other than the previous block's (later blocks), from the env's seeded
    generator. ``reset(options={"episode": k})`` moves a copy's schedule to episode ``k`` (and, for ``random``,
    draws the block's task afresh). Each copy of a vector env has its own schedule: episode lengths differ, so
    copies drift apart.

    ## Episode End
    * Termination: ``|x| > 2.4`` or ``|theta| > 12`` degrees.
    * Truncation: after ``max_steps`` steps (default 500, as CartPole-v1).

    ## Arguments
    * ``tasks`` (non-empty tuple of names from :data:`TASK_NAMES`, default ``("standard", "inverted")``):
      ``standard`` (g 9.8, half-length 0.5 m, force 10 N), ``inverted`` (actions swapped), ``long_pole`` (1.0 m),
      ``short_pole`` (0.25 m), ``high_gravity`` (19.6), ``low_gravity`` (4.9), ``strong_force`` (20 N),
      ``weak_force`` (5 N). One name gives a stationary env of that task.
    * ``switch_every`` (int >= 1, default 10): episodes per block of the schedule.
    * ``schedule`` (``"cycle"`` or ``"random"``, default ``"cycle"``).
    * ``task_in_obs`` (bool, default False): append the one-hot task code to the observation.
    * ``max_steps`` (int >= 1 or None): the time limit (default 500).

    ``info["task"]`` is the current task's name, ``info["task_id"]`` its index in :data:`TASK_NAMES`.

    ## Hidden state and bounds
    ``hidden_state()`` gives ``task_id``, ``episode``, and the task's ``gravity``, ``half_length``, ``force`` and
    ``inverted``. ``optimal_return()`` is ``max_steps``: a controller that knows the task balances every catalogue
    task from every start (checked in the tests with a scripted controller that reads the hidden state).
    ``memoryless_return()`` is ``None``: no closed form is known.

    ## Reference
    * A. G. Barto, R. S. Sutton, C. W. Anderson, "Neuronlike adaptive elements that can solve difficult learning
      control problems", IEEE Trans. SMC 13(5), 1983.
    * Gymnasium's ``CartPole-v1`` (constants, bounds, reward convention).
    * J. Kirkpatrick et al., "Overcoming catastrophic forgetting in neural networks", PNAS 2017 (the forgetting
      protocol this env is built for).

    ## Version History
    * v0: initial release.
    """

    core_class = NonstationaryCartPoleCore


class NonstationaryCartPoleVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`NonstationaryCartPoleEnv` (all copies step together in NumPy)."""

    core_class = NonstationaryCartPoleCore
