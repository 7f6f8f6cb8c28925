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
VARIANTS = ("bakker", "bakker_active", "passive", "active")
#: Variants that follow Ni et al. 2023 (fixed horizon, schedule penalty, cue on the first visit only).
NI_VARIANTS = ("passive", "active")

# Bakker's observation bits (variants ``bakker`` and ``bakker_active``).
OBS_CUE_NORTH = (0.0, 1.0, 1.0)
OBS_CUE_SOUTH = (1.0, 1.0, 0.0)
OBS_CORRIDOR = (1.0, 0.0, 1.0)
OBS_JUNCTION = (0.0, 1.0, 0.0)

# Ni et al.'s observation (variants ``passive`` and ``active``): (at the junction or on an arm, y), where y is the
# cue (+1 north, -1 south) at the oracle cell on its first visit and the arm (+1 north, -1 south) at the far end.
NI_CUE_NORTH = (0.0, 1.0)
NI_CUE_SOUTH = (0.0, -1.0)
NI_CORRIDOR = (0.0, 0.0)
NI_JUNCTION = (1.0, 0.0)
NI_NORTH_ARM = (1.0, 1.0)
NI_SOUTH_ARM = (1.0, -1.0)

GOAL_REWARD = {"bakker": 4.0, "bakker_active": 4.0, "passive": 1.0, "active": 1.0}
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
    key: np.ndarray  # 4 * (2 * s + goal), s = cell + n_cells * seen: an index into the tables, times the action count
    goal: np.ndarray  # 0 = north arm, 1 = south arm


class TMazeCore(Core):
    """Batched T-maze dynamics as lookup tables over (cell, cue seen, goal, action).

    Cells are the corridor positions ``x = x_min .. length`` (the start is ``x = 0``, the junction ``x = length``;
    ``x_min`` is -1 in the active variants, whose cue sits west of the start), then the north and south arms. In Ni et
    al.'s variants the state also records whether the cue cell has been observed, because their cue shows on the
    first visit only. A step is then three table look-ups, which is what makes a batch of 1024 copies step in a few
    tens of microseconds.
    """

    Params = TMazeParams
    name = "TMaze"
    render_fps = 8
    action_names = ("north", "east", "south", "west")
    reset_options = ("goal",)

    def __init__(self, params: TMazeParams) -> None:
        super().__init__(params)
        p = params
        self.ni = p.variant in NI_VARIANTS
        if self.ni:
            self.observation_space = spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        else:
            self.observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Discrete(4)
        # Ni et al.'s "oracle length" o: the cue is o cells west of the start (1 in the active variants).
        self.oracle = 1 if p.variant in ("active", "bakker_active") else 0
        self.x_min = -self.oracle
        self.n_corridor = p.length - self.x_min + 1
        self.junction = self.n_corridor - 1
        self.north_arm, self.south_arm = self.n_corridor, self.n_corridor + 1
        self.n_cells = self.n_corridor + 2
        self.start_cell = -self.x_min
        # Ni et al.'s fixed horizon: length + 1 + 2 * o steps (their episode_length); the schedule is x = t - 2o in
        # memenvs' coordinates (start at x = 0), i.e. x = t - o in theirs (start at x = o).
        self.horizon = p.length + 1 + 2 * self.oracle
        self._build_tables()

    # ------------------------------------------------------------------ tables
    def _cell_x(self, cell: int) -> int:
        return cell + self.x_min if cell < self.n_corridor else self.params.length

    def _move(self, cell: int, action: int) -> int:
        """Where ``action`` leads from ``cell`` (the same cell when it bumps into a wall)."""
        if cell == self.north_arm:  # Bakker's arms end the episode; Ni's agent may step back to the junction
            return self.junction if self.ni and action == SOUTH else cell
        if cell == self.south_arm:
            return self.junction if self.ni and action == NORTH else cell
        if cell == self.junction:
            return {NORTH: self.north_arm, SOUTH: self.south_arm, WEST: cell - 1}.get(action, cell)
        if action == EAST:
            return cell + 1
        if action == WEST and cell > 0:
            return cell - 1
        return cell

    def _cell_obs(self, cell: int, seen: int, goal: int) -> tuple[float, ...]:
        if self.ni:
            if cell == 0 and not seen:
                return NI_CUE_NORTH if goal == 0 else NI_CUE_SOUTH
            return {self.junction: NI_JUNCTION, self.north_arm: NI_NORTH_ARM,
                    self.south_arm: NI_SOUTH_ARM}.get(cell, NI_CORRIDOR)
        if cell == 0:  # Bakker: the cue shows whenever the agent stands on the cue cell
            return OBS_CUE_NORTH if goal == 0 else OBS_CUE_SOUTH
        return OBS_JUNCTION if cell == self.junction else OBS_CORRIDOR

    def _build_tables(self) -> None:
        n_seen = 2 if self.ni else 1
        n_keys = self.n_cells * n_seen * 2 * 4
        dim = self.observation_space.shape[0]
        self.next_key = np.zeros(n_keys, dtype=np.int64)
        self.reward = np.zeros(n_keys, dtype=np.float32)
        self.terminal = np.zeros(n_keys, dtype=bool)
        self.obs_by_key = np.zeros((n_keys, dim), dtype=np.float32)
        self.x_by_key = np.zeros(n_keys, dtype=np.int64)
        self.correct_arm_by_key = np.zeros(n_keys, dtype=np.float32)
        self.noisy_by_key = np.zeros(n_keys, dtype=bool)
        win = GOAL_REWARD[self.params.variant]
        corridor = NI_CORRIDOR if self.ni else OBS_CORRIDOR
        for seen in range(n_seen):
            for cell in range(self.n_cells):
                for goal in (0, 1):
                    s = cell + self.n_cells * seen
                    on_arm = cell in (self.north_arm, self.south_arm)
                    correct_arm = self.north_arm if goal == 0 else self.south_arm
                    # the cue counts as seen once an observation was made on its cell
                    seen_next = int(seen or cell == 0) if self.ni else 0
                    for a in range(4):
                        k = 4 * (2 * s + goal) + a
                        nxt = self._move(cell, a)
                        self.next_key[k] = 4 * (2 * (nxt + self.n_cells * seen_next) + goal)
                        self.obs_by_key[k] = self._cell_obs(cell, seen, goal)
                        self.x_by_key[k] = self._cell_x(cell)
                        self.correct_arm_by_key[k] = float(cell == correct_arm)
                        self.noisy_by_key[k] = cell < self.junction and self.obs_by_key[k].tolist() == list(corridor)
                        if self.ni:
                            continue  # rewards and ends come from the schedule and the horizon (see step)
                        if on_arm:
                            self.terminal[k] = True
                        elif nxt in (self.north_arm, self.south_arm):
                            self.terminal[k] = True
                            self.reward[k] = win if nxt == correct_arm else PENALTY
                        elif nxt == cell:
                            self.reward[k] = PENALTY

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        p = self.params
        if p.max_steps is not None:
            return p.max_steps
        if self.ni:
            return self.horizon
        return 4 * self.optimal_steps

    @property
    def optimal_steps(self) -> int:
        """Length of the shortest successful episode."""
        return self.params.length + 1 + 2 * self.oracle

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
        if not self.ni:
            return self.reward.take(k), self.terminal.take(k)
        # Ni et al. 2023 (twni2016/Memory-RL, envs/tmaze.py): the episode lasts exactly `horizon` steps; the last step
        # pays +1 for standing on the correct arm and nothing else; every earlier step after which the agent is behind
        # the schedule x = t + 1 - 2o (t = steps before this one) costs 1/length.
        last = state.t >= self.horizon - 1
        behind = self.x_by_key.take(state.key) <= state.t - 2 * self.oracle
        reward = np.where(last, self.correct_arm_by_key.take(state.key),
                          behind * np.float32(-1.0 / self.params.length)).astype(np.float32)
        return reward, last

    def info(self, state: TMazeState) -> dict[str, np.ndarray]:
        # The task's own verdict, read at the end of an episode: standing on the correct arm (Bakker's variants end
        # there; Ni's count where the agent stands after the last step). A policy that never reaches an arm scores 0.
        return {"success": self.correct_arm_by_key.take(state.key) > 0}

    def observe(self, state: TMazeState, rng: np.random.Generator) -> np.ndarray:
        obs = self.obs_by_key.take(state.key, axis=0)
        if self.params.corridor_noise > 0.0:
            flip = rng.random(obs.shape) < self.params.corridor_noise
            flip &= self.noisy_by_key.take(state.key)[:, None]
            obs[flip] = 1.0 - obs[flip]
        return obs

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: TMazeState) -> dict[str, np.ndarray]:
        cell = (state.key // 8) % self.n_cells
        x = np.where(cell >= self.n_corridor, self.params.length, cell + self.x_min)
        arm = np.where(cell == self.north_arm, -1, np.where(cell == self.south_arm, 1, 0))
        return {"goal": state.goal.copy(), "x": x, "arm": arm}

    def optimal_return(self) -> float:
        p, limit = self.params, self.max_steps
        win = GOAL_REWARD[p.variant]
        if limit >= self.optimal_steps:
            return win
        if p.variant == "bakker_active" and limit >= p.length + 1:  # no time to fetch the cue: the best is a guess
            return 0.5 * win + 0.5 * PENALTY
        return 0.0

    def memoryless_return(self) -> float | None:
        p = self.params
        if p.corridor_noise > 0.0:
            return None  # a noisy corridor bit can mimic the junction or a cue; no closed form is derived
        if self.ni:
            # run east on schedule and guess an arm; the horizon must leave time to reach the arm at all
            return 0.5 * GOAL_REWARD[p.variant] if self.max_steps >= self.horizon else 0.0
        if self.max_steps < p.length + 1:
            return 0.0
        return 0.5 * GOAL_REWARD[p.variant] + 0.5 * PENALTY

    # ------------------------------------------------------------------ presentation
    def frame(self, state: TMazeState, i: int) -> GridFrame:
        hidden = self.hidden_state(state)
        goal, x, arm = int(hidden["goal"][i]), int(hidden["x"][i]), int(hidden["arm"][i])
        tiles = np.zeros((3, self.n_corridor), dtype=np.int64)
        tiles[1, :] = 1
        tiles[0, self.junction] = 2 if goal == 0 else 3
        tiles[2, self.junction] = 2 if goal == 1 else 3
        tiles[1, 0] = 4
        key = int(state.key[i])
        obs = " ".join(f"{b:g}" for b in self.obs_by_key[key])
        cue_note = " (cue shown on the first visit only)" if self.ni else ""
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
    """T-maze (Bakker 2002), with the passive and active T-mazes of Ni et al. 2023.

    ## Description
    The agent stands in a corridor that ends, ``length`` cells east of the start, in a T-junction. One arm of the T
    (north or south, drawn at random each episode) holds the goal. The only clue is a cue seen at the cue cell; along
    the corridor every cell looks the same, so the agent must carry the cue in memory. Bakker showed LSTM solving
    corridors up to length 70 (with discount 0.98); Ni et al. report transformers solving the passive variant up to
    length 1500. Four variants:

    * ``bakker``: Bakker's maze. The cue is the start cell; entering an arm ends the episode.
    * ``bakker_active``: Bakker's rewards and ends, with the cue one cell west of the start, so the agent must step
      back to see it.
    * ``passive``: Ni et al.'s passive T-maze, as their code has it (twni2016/Memory-RL, ``envs/tmaze.py``,
      ``TMazeClassicPassive`` with the penalty of ``configs/envs/tmaze_passive.py``): the cue is shown at the start on
      the first step only, and the episode has a fixed horizon.
    * ``active``: Ni et al.'s active T-maze (``TMazeClassicActive``, ``configs/envs/tmaze_active.py``): the start
      shows nothing; the cue cell is one cell west and shows the cue on its first visit only.

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west. (Ni et al.'s code numbers the same moves 1, 0, 3, 2.)

    ## Observation Space
    * ``bakker``, ``bakker_active``: ``Box(0, 1, (3,), float32)``, three bits: ``011`` cue "goal north", ``110`` cue
      "goal south", ``101`` corridor, ``010`` junction (an arm, reached only at the end, shows ``101``).
    * ``passive``, ``active``: ``Box(-1, 1, (2,), float32)``, Ni et al.'s ambiguous-position observation
      ``(far end, y)``: ``(0, +1)`` / ``(0, -1)`` the cue "goal north" / "goal south" (on the cue cell's first
      observation only; later it shows as corridor), ``(0, 0)`` corridor, ``(1, 0)`` junction, ``(1, +1)`` north arm,
      ``(1, -1)`` south arm.

    With ``corridor_noise = p`` each element of a corridor observation flips (0 <-> 1) independently with probability
    ``p``; the cue, the junction and the arms are never noisy.

    ## Rewards
    * ``bakker`` and ``bakker_active``: +4 for entering the correct arm, -0.1 for entering the wrong arm, -0.1 for a
      move that bumps into a wall (the agent does not move), 0 otherwise.
    * ``passive`` and ``active``: on the last step of the horizon, +1 for standing on the correct arm (0 otherwise)
      and no penalty; on every earlier step, -1/``length`` when the agent is behind the schedule, i.e. after step
      ``t`` (1-based) its distance east of the cue cell is less than ``t - 1 - o`` (``o`` = 0 passive, 1 active:
      the active schedule allows one step west and one back). The optimal return is 1; an agent that never moves
      gets exactly -1.

    ## Starting State
    At ``x = 0``, ``length`` cells west of the junction. The cue cell is ``x = 0`` (``bakker``, ``passive``) or
    ``x = -1`` (``bakker_active``, ``active``). The goal arm is drawn uniformly, or set with
    ``reset(options={"goal": "north" | "south" | 0 | 1})``.

    ## Episode End
    * Termination: entering an arm (``bakker``, ``bakker_active``); after exactly ``length + 1`` steps (``passive``)
      or ``length + 3`` steps (``active``), wherever the agent is. In Ni et al.'s variants the agent may step from an
      arm back to the junction before the horizon.
    * Truncation: after ``max_steps`` steps; default ``4 * (length + 1)`` for ``bakker``, ``4 * (length + 3)`` for
      ``bakker_active`` (four times the shortest successful episode), the horizon for ``passive`` and ``active``
      (never binding).

    ## Arguments
    * ``length`` (int >= 1, default 10): corridor length; the junction is ``length`` steps east of the start.
    * ``variant`` (``"bakker"``, ``"bakker_active"``, ``"passive"``, ``"active"``; default ``"bakker"``).
    * ``corridor_noise`` (float in [0, 1], default 0): flip probability of corridor observation elements.
    * ``max_steps`` (int >= 1 or None): the time limit (``make_vec(..., max_episode_steps=)`` sets it too).

    ## Hidden state and bounds
    ``hidden_state()`` gives ``goal`` (0 north, 1 south), ``x`` and ``arm`` (-1 north, 0 corridor, +1 south).
    ``optimal_return()`` is 4 (``bakker``, ``bakker_active``) or 1 (``passive``, ``active``) when the time limit
    allows the shortest successful episode. ``memoryless_return()`` is the best return of a reactive policy, which
    must guess at the junction: 0.5 * 4 + 0.5 * (-0.1) = 1.95 for Bakker's variants, 0.5 for Ni et al.'s (``None``
    with corridor noise, which has no closed form here). The test suite checks both numbers by enumerating every
    deterministic reactive policy, and ``docs/results/faithfulness/tmaze_lockstep.py`` steps ``passive`` and
    ``active`` in lockstep with Ni et al.'s code (identical observations, rewards and ends at every step).

    ## Reference
    * B. Bakker, "Reinforcement Learning with Long Short-Term Memory", NIPS 14, 2002.
    * T. Ni, M. Ma, B. Eysenbach, P.-L. Bacon, "When Do Transformers Shine in RL? Decoupling Memory from Credit
      Assignment", NeurIPS 2023 (passive and active T-maze); code: github.com/twni2016/Memory-RL.

    ## Version History
    * v0 (changed in place before release): ``passive`` no longer charges the schedule penalty on the last step (an
      agent that never moves gets -1, not -1.1) and its observation is Ni et al.'s two-element one; ``active`` is
      now Ni et al.'s active T-maze (fixed horizon ``length + 3``, +1 at the end on the correct arm, schedule
      penalty, cue on the first visit only, their observation). The former ``active`` (Bakker's rewards with the
      cue west of the start) is ``bakker_active``. Every step's info carries ``success``: whether the agent stands
      on the correct arm, the episode's verdict when read at its end (an agent that never reaches an arm scores 0).
    * v0: initial release.
    """

    core_class = TMazeCore


class TMazeVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`TMazeEnv` (all copies step together in NumPy)."""

    core_class = TMazeCore
