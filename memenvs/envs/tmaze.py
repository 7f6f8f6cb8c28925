"""The T-maze: remember a cue seen at the start of a corridor until the junction at its end."""

from __future__ import annotations

import dataclasses
import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, State
from memenvs.envs.params import check_choice, check_int, check_optional_int, check_probability, normalise
from memenvs.envs.rendering import GridFrame, Tile, direction_keys
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv

NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3
VARIANTS = ("bakker", "passive", "active")

OBS_CUE_NORTH = (0.0, 1.0, 1.0)
OBS_CUE_SOUTH = (1.0, 1.0, 0.0)
OBS_CORRIDOR = (1.0, 0.0, 1.0)
OBS_JUNCTION = (0.0, 1.0, 0.0)

GOAL_REWARD = {"bakker": 4.0, "active": 4.0, "passive": 1.0}
PENALTY = -0.1


@dataclasses.dataclass(frozen=True)
class TMazeParams:
    """Parameters of the T-maze (see :class:`TMazeEnv` for their meaning)."""

    length: int = 10
    variant: str = "bakker"
    corridor_noise: float = 0.0
    max_steps: int | None = None

    def __post_init__(self) -> None:
        normalise(self, "length", check_int, 1)
        check_choice("variant", self.variant, VARIANTS)
        normalise(self, "corridor_noise", check_probability)
        normalise(self, "max_steps", check_optional_int, 1)


@dataclasses.dataclass
class TMazeState(State):
    key: np.ndarray  # 4 * (2 * cell + goal): an index into the transition tables, pre-multiplied by the action count
    goal: np.ndarray  # 0 = north arm, 1 = south arm


class TMazeCore(Core):
    """Batched T-maze dynamics as lookup tables over (cell, goal, action).

    Cells are the corridor positions ``x = x_min .. length`` (the junction is ``x = length``; ``x_min`` is -1 in the
    active variant, whose cue sits west of the start), then the north and south arms, then, in the passive variant,
    a separate start cell that shows the cue and that the agent leaves on its first step. A step is then three table
    look-ups, which is what makes a batch of 1024 copies step in a few tens of microseconds.
    """

    Params = TMazeParams
    name = "TMaze"
    render_fps = 8
    action_names = ("north", "east", "south", "west")
    reset_options = ("goal",)

    def __init__(self, params: TMazeParams) -> None:
        super().__init__(params)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Discrete(4)
        p = params
        self.x_min = -1 if p.variant == "active" else 0
        self.n_corridor = p.length - self.x_min + 1
        self.north_arm, self.south_arm = self.n_corridor, self.n_corridor + 1
        self.fresh_start = self.n_corridor + 2 if p.variant == "passive" else None
        self.start_cell = self.fresh_start if p.variant == "passive" else -self.x_min
        self._build_tables()

    # ------------------------------------------------------------------ tables
    def _cell_x(self, cell: int) -> int:
        if cell < self.n_corridor:
            return cell + self.x_min
        if cell == self.fresh_start:
            return 0
        return self.params.length

    def _move(self, cell: int, action: int) -> int:
        """Where ``action`` leads from ``cell`` (the same cell when it bumps into a wall)."""
        junction = self.n_corridor - 1
        if cell in (self.north_arm, self.south_arm):
            return cell
        if cell == self.fresh_start:
            return 1 - self.x_min if action == EAST else -self.x_min
        if cell == junction:
            return {NORTH: self.north_arm, SOUTH: self.south_arm, WEST: cell - 1}.get(action, cell)
        if action == EAST:
            return cell + 1
        if action == WEST and cell > 0:
            return cell - 1
        return cell

    def _cell_obs(self, cell: int, goal: int) -> tuple[float, float, float]:
        cue = OBS_CUE_NORTH if goal == 0 else OBS_CUE_SOUTH
        if cell == self.fresh_start:
            return cue
        if self.params.variant != "passive" and self._cell_x(cell) == self.x_min and cell < self.n_corridor:
            return cue
        if cell == self.n_corridor - 1:
            return OBS_JUNCTION
        return OBS_CORRIDOR

    def _build_tables(self) -> None:
        n_cells = self.n_corridor + (3 if self.fresh_start is not None else 2)
        n_keys = n_cells * 2 * 4
        self.next_key = np.zeros(n_keys, dtype=np.int64)
        self.reward = np.zeros(n_keys, dtype=np.float32)
        self.terminal = np.zeros(n_keys, dtype=bool)
        self.obs_by_key = np.zeros((n_keys, 3), dtype=np.float32)
        self.x_by_key = np.zeros(n_keys, dtype=np.int64)
        self.correct_arm_by_key = np.zeros(n_keys, dtype=np.float32)
        self.noisy_by_key = np.zeros(n_keys, dtype=bool)
        win = GOAL_REWARD[self.params.variant]
        for cell in range(n_cells):
            for goal in (0, 1):
                s = 2 * cell + goal
                on_arm = cell in (self.north_arm, self.south_arm)
                correct_arm = self.north_arm if goal == 0 else self.south_arm
                for a in range(4):
                    k = 4 * s + a
                    nxt = self._move(cell, a)
                    self.next_key[k] = 4 * (2 * nxt + goal)
                    self.obs_by_key[k] = self._cell_obs(cell, goal)
                    self.x_by_key[k] = self.params.length + 1 if on_arm else self._cell_x(cell)
                    self.correct_arm_by_key[k] = float(cell == correct_arm)
                    self.noisy_by_key[k] = not on_arm and self.obs_by_key[k].tolist() == list(OBS_CORRIDOR)
                    if on_arm:
                        self.terminal[k] = True
                    elif nxt in (self.north_arm, self.south_arm):
                        self.terminal[k] = True
                        self.reward[k] = win if nxt == correct_arm else PENALTY
                    elif nxt == cell or (cell == self.fresh_start and a != EAST):
                        self.reward[k] = PENALTY

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        p = self.params
        if p.max_steps is not None:
            return p.max_steps
        if p.variant == "passive":
            return p.length + 1
        return 4 * self.optimal_steps

    @property
    def optimal_steps(self) -> int:
        """Length of the shortest successful episode."""
        return self.params.length + (3 if self.params.variant == "active" else 1)

    def init_state(self, num_envs: int) -> TMazeState:
        return TMazeState(
            t=np.zeros(num_envs, dtype=np.int64),
            key=np.zeros(num_envs, dtype=np.int64),
            goal=np.zeros(num_envs, dtype=np.int64),
        )

    def check_options(self, options: dict | None) -> None:
        super().check_options(options)
        if options and "goal" in options:
            check_choice("options['goal']", options["goal"], (0, 1, "north", "south"))

    def reset(self, state: TMazeState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        if options and "goal" in options:
            goal = np.full(len(idx), {"north": 0, "south": 1}.get(options["goal"], options["goal"]), dtype=np.int64)
        else:
            goal = rng.integers(0, 2, size=len(idx))
        state.goal[idx] = goal
        state.key[idx] = 4 * (2 * self.start_cell + goal)

    def step(self, state: TMazeState, action: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k = state.key + action
        np.take(self.next_key, k, out=state.key)
        if self.params.variant != "passive":
            return self.reward.take(k), self.terminal.take(k)
        # Passive (Ni et al. 2023): -1/length for every step that leaves the agent behind the schedule x = t + 1,
        # +1 for standing on the correct arm after the last step; the episode always lasts length + 1 steps.
        behind = self.x_by_key.take(state.key) <= state.t
        reward = self.correct_arm_by_key.take(state.key)
        reward -= behind * np.float32(1.0 / self.params.length)
        return reward, state.t >= self.params.length

    def observe(self, state: TMazeState, rng: np.random.Generator) -> np.ndarray:
        obs = self.obs_by_key.take(state.key, axis=0)
        if self.params.corridor_noise > 0.0:
            flip = rng.random(obs.shape) < self.params.corridor_noise
            flip &= self.noisy_by_key.take(state.key)[:, None]
            obs[flip] = 1.0 - obs[flip]
        return obs

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: TMazeState) -> dict[str, np.ndarray]:
        cell = state.key // 8
        x = np.where(cell >= self.n_corridor, self.params.length, cell + self.x_min)
        x = np.where(cell == (self.fresh_start if self.fresh_start is not None else -1), 0, x)
        arm = np.where(cell == self.north_arm, -1, np.where(cell == self.south_arm, 1, 0))
        return {"goal": state.goal.copy(), "x": x, "arm": arm}

    def optimal_return(self) -> float:
        p, limit = self.params, self.max_steps
        win = GOAL_REWARD[p.variant]
        if limit >= self.optimal_steps:
            return win
        if p.variant == "active" and limit >= p.length + 1:  # no time to fetch the cue: the best is a guess
            return 0.5 * win + 0.5 * PENALTY
        return 0.0

    def memoryless_return(self) -> float | None:
        p = self.params
        if p.corridor_noise > 0.0:
            return None  # a noisy corridor bit can mimic the junction or a cue; no closed form is derived
        if self.max_steps < p.length + 1:
            return 0.0
        if p.variant == "passive":
            return 0.5 * GOAL_REWARD["passive"]
        return 0.5 * GOAL_REWARD[p.variant] + 0.5 * PENALTY

    # ------------------------------------------------------------------ presentation
    def frame(self, state: TMazeState, i: int) -> GridFrame:
        p = self.params
        hidden = self.hidden_state(state)
        goal, x, arm = int(hidden["goal"][i]), int(hidden["x"][i]), int(hidden["arm"][i])
        tiles = np.zeros((3, self.n_corridor), dtype=np.int64)
        tiles[1, :] = 1
        junction = self.n_corridor - 1
        tiles[0, junction] = 2 if goal == 0 else 3
        tiles[2, junction] = 2 if goal == 1 else 3
        tiles[1, 0] = 4
        key = int(state.key[i])
        obs = "".join(str(int(b)) for b in self.obs_by_key[key])
        cue_note = " (cue shown at t=0 only)" if p.variant == "passive" else ""
        return GridFrame(
            tiles=tiles,
            palette=(
                Tile((40, 40, 48), "#"),
                Tile((225, 225, 215), "."),
                Tile((80, 190, 90), "G"),
                Tile((225, 225, 215), "."),
                Tile((90, 140, 230), "N" if goal == 0 else "S"),
            ),
            agent=(1 + arm, x - self.x_min),
            caption=f"t={int(state.t[i])}  goal={'north' if goal == 0 else 'south'}{cue_note}  obs={obs}",
        )

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        return direction_keys(NORTH, EAST, SOUTH, WEST)


class TMazeEnv(MemoryEnv):
    """T-maze (Bakker 2002), with the passive and active variants of Ni et al. 2023.

    ## Description
    The agent stands at the west end of a corridor of ``length`` cells that ends in a T-junction. One arm of the T
    (north or south, drawn at random each episode) holds the goal. The only clue is a cue shown at the start; along
    the corridor every cell looks the same, so the agent must carry the cue in memory for ``length`` steps. Bakker
    showed LSTM solving corridors up to length 70 (with discount 0.98); Ni et al. report transformers solving the
    passive variant up to length 1500.

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west.

    ## Observation Space
    ``Box(0, 1, (3,), float32)``, three bits: ``011`` cue "goal north", ``110`` cue "goal south", ``101`` corridor,
    ``010`` junction. With ``corridor_noise = p`` each bit of a corridor observation flips independently with
    probability ``p``.

    ## Rewards
    * ``bakker`` and ``active``: +4 for entering the correct arm, -0.1 for entering the wrong arm, -0.1 for a move
      that bumps into a wall (the agent does not move), 0 otherwise.
    * ``passive``: +1 for standing on the correct arm after the last step; -1/``length`` for every step after which
      the agent is behind the schedule ``x = t`` (it has not moved east every step).

    ## Starting State
    * ``bakker``: at the west end, ``x = 0``; the cue is shown whenever the agent stands there.
    * ``passive``: at ``x = 0``; the cue is shown at ``t = 0`` only.
    * ``active``: at ``x = 0``; the cue sits one cell west, at ``x = -1``, and the agent must step back to see it.
    The goal arm is drawn uniformly, or set with ``reset(options={"goal": "north" | "south" | 0 | 1})``.

    ## Episode End
    * Termination: entering an arm (``bakker``, ``active``); after exactly ``length + 1`` steps (``passive``).
    * Truncation: after ``max_steps`` steps; default ``4 * (length + 1)`` for ``bakker``, ``4 * (length + 3)`` for
      ``active`` (four times the shortest successful episode), ``length + 1`` for ``passive`` (never binding).

    ## Arguments
    * ``length`` (int >= 1, default 10): corridor length; the junction is ``length`` steps east of the start.
    * ``variant`` (``"bakker"``, ``"passive"``, ``"active"``; default ``"bakker"``).
    * ``corridor_noise`` (float in [0, 1], default 0): bit-flip probability on corridor observations.
    * ``max_steps`` (int >= 1 or None): the time limit (``make_vec(..., max_episode_steps=)`` sets it too).

    ## Hidden state and bounds
    ``hidden_state()`` gives ``goal`` (0 north, 1 south), ``x`` and ``arm`` (-1 north, 0 corridor, +1 south).
    ``optimal_return()`` is 4 (``bakker``, ``active``) or 1 (``passive``) when the time limit allows the shortest
    successful episode. ``memoryless_return()`` is the best return of a reactive policy, which must guess at the
    junction: 0.5 * 4 + 0.5 * (-0.1) = 1.95, or 0.5 for ``passive`` (``None`` with corridor noise, which has no
    closed form here). The test suite checks both numbers by enumerating every deterministic reactive policy.

    ## Reference
    * B. Bakker, "Reinforcement Learning with Long Short-Term Memory", NIPS 14, 2002.
    * T. Ni, M. Ma, B. Eysenbach, P.-L. Bacon, "When Do Transformers Shine in RL? Decoupling Memory from Credit
      Assignment", NeurIPS 2023 (passive and active T-maze).

    ## Version History
    * v0: initial release.
    """

    core_class = TMazeCore


class TMazeVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`TMazeEnv` (all copies step together in NumPy)."""

    core_class = TMazeCore
