"""Grid mazes: a fixed 4 x 4 maze seen fully (Maze4x4), the same maze seen not at all (BlindMaze4x4), and random
perfect N x N mazes seen through a small egocentric window (RandomMaze)."""

from __future__ import annotations

import dataclasses
import functools
import heapq
from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, PerCopyTable, State
from memenvs.envs.maze_generation import (
    DCOL,
    DROW,
    EAST,
    NORTH,
    OPEN_BITS,
    SOUTH,
    WEST,
    distances_from,
    generate_openings,
    num_edges,
    openings_to_bits,
    parse_maze,
    wilson_openings,
)
from memenvs.envs.params import check_choice, check_float, check_int, check_optional_int, normalise
from memenvs.envs.rendering import GridFrame, Tile, direction_keys
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv

GOAL_REWARD = 1.0
ACTION_NAMES = ("north", "east", "south", "west")

#: The fixed maze of Maze4x4 and BlindMaze4x4: a perfect maze with six dead ends, start S and goal G 10 steps apart.
LAYOUT_4X4 = """
+---+---+---+---+
| S         |   |
+---+   +---+   +
|   |   |       |
+   +   +   +   +
|       |   |   |
+---+   +   +   +
|           | G |
+---+---+---+---+
"""

# Block-grid tile codes shared by the drawings (and by RandomMaze's observation: wall, free, goal).
WALL, FREE, GOAL, START = 0, 1, 2, 3
PALETTE = (
    Tile((40, 40, 48), "#"),
    Tile((225, 225, 215), "."),
    Tile((80, 190, 90), "G"),
    Tile((150, 185, 235), "S"),
)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_step_cost(value: Any) -> float | None:
    return None if value is None else check_float("step_cost", value, 0.0, 1.0)


def _block_tiles(bits: np.ndarray) -> np.ndarray:
    """The ``(2h + 1, 2w + 1)`` wall/free picture of a maze given by its open-side masks ``(h, w)``."""
    h, w = bits.shape
    tiles = np.full((2 * h + 1, 2 * w + 1), WALL, dtype=np.int64)
    tiles[1::2, 1::2] = FREE
    tiles[1::2, 2:-1:2][(bits[:, :-1] & OPEN_BITS[EAST]) != 0] = FREE
    tiles[2:-1:2, 1::2][(bits[:-1, :] & OPEN_BITS[SOUTH]) != 0] = FREE
    return tiles


# =============================================================================== the fixed 4 x 4 maze
LAYOUT_BITS, _MARKS = parse_maze(LAYOUT_4X4)
START_4X4 = _MARKS["S"]
GOAL_4X4 = _MARKS["G"]


def _move_table(bits: np.ndarray) -> np.ndarray:
    """``next_cell[4 * cell + action]`` of a maze (a move into a wall leaves the agent where it is)."""
    h, w = bits.shape
    nxt = np.zeros(h * w * 4, dtype=np.int64)
    for r in range(h):
        for c in range(w):
            for a in range(4):
                moved = bits[r, c] & OPEN_BITS[a]
                nxt[4 * (r * w + c) + a] = (r + DROW[a]) * w + c + DCOL[a] if moved else r * w + c
    return nxt


@functools.lru_cache(maxsize=8)
def shortest_blind_plan(random_start: bool) -> tuple[int, ...] | None:
    """The shortest action sequence that takes the agent of BlindMaze4x4 to the goal from the fixed start
    (``random_start=False``) or from every possible start at once (``True``); ``None`` if there is none.

    A breadth-first search over the sets of cells the agent may be in (the goal removed, since reaching it ends the
    episode): the first empty set found is reached by a shortest plan.
    """
    nxt = _move_table(LAYOUT_BITS)
    w = LAYOUT_BITS.shape[1]
    goal = GOAL_4X4[0] * w + GOAL_4X4[1]
    start = frozenset(_start_cells(random_start).tolist())
    previous: dict[frozenset, tuple[frozenset, int] | None] = {start: None}
    queue = deque([start])
    while queue:
        cells = queue.popleft()
        if not cells:
            plan = []
            while previous[cells] is not None:
                cells, a = previous[cells]
                plan.append(a)
            return tuple(reversed(plan))
        for a in range(4):
            after = frozenset(int(nxt[4 * x + a]) for x in cells) - {goal}
            if after not in previous:
                previous[after] = (cells, a)
                queue.append(after)
    return None


def _start_cells(random_start: bool) -> np.ndarray:
    h, w = LAYOUT_BITS.shape
    goal = GOAL_4X4[0] * w + GOAL_4X4[1]
    if random_start:
        return np.array([c for c in range(h * w) if c != goal], dtype=np.int64)
    return np.array([START_4X4[0] * w + START_4X4[1]], dtype=np.int64)


@functools.lru_cache(maxsize=32)
def _open_loop_optimum(random_start: bool, step_cost: float, max_steps: int) -> float:
    """Expected return of the best action sequence in BlindMaze4x4 (the best policy with memory: the observation
    carries nothing, so a policy is a plan), by an exact A* search.

    A search node is a time and a belief: how many of the equally likely starts put the agent in each cell (a
    multiset, since two starts that merge still collect two goal rewards). A step costs ``step_cost`` per start still
    under way; a start still under way at ``max_steps`` also loses the goal reward. The heuristic charges each start
    ``min(step_cost * distance to the goal, step_cost * time left + goal reward)``, which never overestimates and drops
    by at most one step's cost per step, so the first complete node popped is optimal.
    """
    nxt = _move_table(LAYOUT_BITS).tolist()
    w = LAYOUT_BITS.shape[1]
    goal = GOAL_4X4[0] * w + GOAL_4X4[1]
    dist = distances_from(LAYOUT_BITS, GOAL_4X4).ravel().tolist()
    starts = _start_cells(random_start)
    n_cells = len(dist)

    def bound(counts: tuple[int, ...], t: int) -> float:
        left = step_cost * (max_steps - t) + GOAL_REWARD
        return sum(m * min(step_cost * dist[x], left) for x, m in enumerate(counts) if m)

    first = tuple(np.bincount(starts, minlength=n_cells).tolist())
    frontier = [(bound(first, 0), 0.0, 0, first)]
    best_cost: dict[tuple[tuple[int, ...], int], float] = {}
    while True:
        _, cost, t, counts = heapq.heappop(frontier)
        if best_cost.get((counts, t), np.inf) <= cost:
            continue
        best_cost[(counts, t)] = cost
        alive = sum(counts)
        if alive == 0 or t == max_steps:
            return (GOAL_REWARD * len(starts) - cost - GOAL_REWARD * alive) / len(starts)
        for a in range(4):
            after = [0] * n_cells
            for x, m in enumerate(counts):
                if m:
                    after[nxt[4 * x + a]] += m
            after[goal] = 0
            key, new_cost = tuple(after), cost + step_cost * alive
            if best_cost.get((key, t + 1), np.inf) > new_cost:
                heapq.heappush(frontier, (new_cost + bound(key, t + 1), new_cost, t + 1, key))


def _reactive_blind_returns(policies: np.ndarray, random_start: bool, step_cost: float, max_steps: int) -> np.ndarray:
    """Exact expected returns ``(M,)`` in BlindMaze4x4 of stationary action distributions ``policies (M, 4)``
    (the only reactive policies there, as every observation is the same)."""
    nxt = _move_table(LAYOUT_BITS)
    w = LAYOUT_BITS.shape[1]
    goal = GOAL_4X4[0] * w + GOAL_4X4[1]
    move = np.zeros((4, 16, 16))
    for c in range(16):
        for a in range(4):
            move[a, c, nxt[4 * c + a]] = 1.0
    move[:, goal, :] = 0.0  # the episode ends at the goal: its probability mass leaves the chain
    alive = np.zeros((len(policies), 16))
    starts = _start_cells(random_start)
    alive[:, starts] = 1.0 / len(starts)
    total = np.zeros(len(policies))
    for _ in range(max_steps):
        total -= step_cost * alive.sum(axis=1)
        alive = np.einsum("ma,mc,acd->md", policies, alive, move)
        total += GOAL_REWARD * alive[:, goal]
        alive[:, goal] = 0.0
    return total


@functools.lru_cache(maxsize=32)
def _reactive_blind_optimum(random_start: bool, step_cost: float, max_steps: int) -> float:
    """Best expected return of a reactive policy in BlindMaze4x4, found numerically: all action distributions on a
    grid of step 1/20 over the simplex, then a pattern search with shrinking steps from the best of them."""
    grid = [(i, j, k, 20 - i - j - k) for i in range(21) for j in range(21 - i) for k in range(21 - i - j)]
    pts = np.array(grid, dtype=np.float64) / 20.0
    values = _reactive_blind_returns(pts, random_start, step_cost, max_steps)
    best, best_value = pts[int(values.argmax())], float(values.max())
    moves = np.array([np.eye(4)[i] - np.eye(4)[j] for i in range(4) for j in range(4) if i != j])
    step = 1 / 20
    while step > 1e-4:
        cand = np.clip(best + step * moves, 0.0, None)
        cand /= cand.sum(axis=1, keepdims=True)
        vals = _reactive_blind_returns(cand, random_start, step_cost, max_steps)
        if vals.max() > best_value + 1e-12:
            best, best_value = cand[int(vals.argmax())], float(vals.max())
        else:
            step /= 2
    return best_value


@dataclasses.dataclass(frozen=True)
class Maze4x4Params:
    """Parameters of Maze4x4 and BlindMaze4x4 (see :class:`Maze4x4Env`)."""

    random_start: bool = False
    step_cost: float | None = None
    max_steps: int | None = None

    def __post_init__(self) -> None:
        normalise(self, "random_start", _check_bool)
        object.__setattr__(self, "step_cost", _check_step_cost(self.step_cost))
        normalise(self, "max_steps", check_optional_int, 1)


@dataclasses.dataclass
class Maze4x4State(State):
    cell: np.ndarray  # flat cell index r * 4 + c of the agent


class Maze4x4Core(Core):
    """Batched dynamics of the fixed 4 x 4 maze as lookup tables over (cell, action).

    ``blind`` selects the observation: a one-hot position (Maze4x4) or a constant (BlindMaze4x4).
    """

    Params = Maze4x4Params
    name = "Maze4x4"
    blind = False
    render_fps = 6
    action_names = ACTION_NAMES
    reset_options = ("start",)

    def __init__(self, params: Maze4x4Params) -> None:
        super().__init__(params)
        self.size = LAYOUT_BITS.shape[0]
        n_cells = self.size * self.size
        self.goal = GOAL_4X4[0] * self.size + GOAL_4X4[1]
        self.start_cells = _start_cells(params.random_start)
        self.action_space = spaces.Discrete(4)
        if self.blind:
            self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
            self._obs_table = np.ones((n_cells, 1), dtype=np.float32)
        else:
            self.observation_space = spaces.Box(0.0, 1.0, shape=(n_cells,), dtype=np.float32)
            self._obs_table = np.eye(n_cells, dtype=np.float32)
        self.next_cell = _move_table(LAYOUT_BITS)
        arrive = self.next_cell == self.goal
        self.reward = np.where(arrive, GOAL_REWARD - self.step_cost, -self.step_cost).astype(np.float32)
        self.terminal = arrive
        self.distance = distances_from(LAYOUT_BITS, GOAL_4X4).ravel()

    @property
    def max_steps(self) -> int:
        return self.params.max_steps if self.params.max_steps is not None else 100

    @property
    def step_cost(self) -> float:
        """Cost of every step; by default ``1 / max_steps``, so a whole episode of steps costs at most 1."""
        return self.params.step_cost if self.params.step_cost is not None else 1.0 / self.max_steps

    def init_state(self, num_envs: int) -> Maze4x4State:
        return Maze4x4State(t=np.zeros(num_envs, dtype=np.int64), cell=np.zeros(num_envs, dtype=np.int64))

    def check_options(self, options: dict | None) -> None:
        super().check_options(options)
        if options and "start" in options:
            self._option_cell(options["start"])

    def _option_cell(self, start: Any) -> int:
        free = [divmod(int(c), self.size) for c in range(self.size ** 2) if c != self.goal]
        try:
            r, c = (int(x) for x in start)
        except (TypeError, ValueError):
            r = c = -1
        if (r, c) not in free or len(tuple(start)) != 2:
            raise ValueError(
                f"options['start'] must be a (row, col) pair of a non-goal cell, e.g. (0, 0); got {start!r}"
            )
        return r * self.size + c

    def reset(self, state: Maze4x4State, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        if options and "start" in options:
            state.cell[idx] = self._option_cell(options["start"])
        elif self.params.random_start:
            n = len(self.start_cells)
            state.cell[idx] = self.start_cells.take(np.minimum((rng.random(len(idx)) * n).astype(np.int64), n - 1))
        else:
            state.cell[idx] = self.start_cells[0]

    def step(self, state: Maze4x4State, action: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        k = state.cell * 4 + action
        np.take(self.next_cell, k, out=state.cell)
        return self.reward.take(k), self.terminal.take(k)

    def info(self, state: Maze4x4State) -> dict[str, np.ndarray]:
        return {"success": state.cell == self.goal}  # the episode's verdict, read when it ends: the goal reached

    def observe(self, state: Maze4x4State, rng: np.random.Generator) -> np.ndarray:
        return self._obs_table.take(state.cell, axis=0)

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: Maze4x4State) -> dict[str, np.ndarray]:
        n = state.num_envs
        return {
            "position": np.stack(divmod(state.cell, self.size), axis=1),
            "goal": np.tile(np.array(GOAL_4X4, dtype=np.int64), (n, 1)),
            "distance": self.distance.take(state.cell),
            "walls": np.tile(LAYOUT_BITS, (n, 1, 1)),
        }

    def _value(self, distance: np.ndarray) -> np.ndarray:
        """Return of a shortest path of ``distance`` steps, or of running out of time when it is too long."""
        return np.where(distance <= self.max_steps, GOAL_REWARD - self.step_cost * distance,
                        -self.step_cost * self.max_steps)

    def optimal_return(self) -> float:
        if self.blind and self.params.random_start:
            return _open_loop_optimum(True, self.step_cost, self.max_steps)
        # a known start (or, seeing its position, any start): follow the BFS shortest path
        return float(self._value(self.distance.take(self.start_cells)).mean())

    def memoryless_return(self) -> float:
        if not self.blind:
            return self.optimal_return()  # the observation is the state: the shortest-path policy is reactive
        return _reactive_blind_optimum(self.params.random_start, self.step_cost, self.max_steps)

    # ------------------------------------------------------------------ presentation
    def frame(self, state: Maze4x4State, i: int) -> GridFrame:
        tiles = _block_tiles(LAYOUT_BITS)
        tiles[2 * GOAL_4X4[0] + 1, 2 * GOAL_4X4[1] + 1] = GOAL
        if not self.params.random_start:
            tiles[2 * START_4X4[0] + 1, 2 * START_4X4[1] + 1] = START
        r, c = divmod(int(state.cell[i]), self.size)
        seen = "nothing (constant observation)" if self.blind else f"position ({r}, {c})"
        return GridFrame(
            tiles=tiles,
            palette=PALETTE,
            agent=(2 * r + 1, 2 * c + 1),
            caption=f"t={int(state.t[i])}  sees: {seen}",
        )

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        return direction_keys(NORTH, EAST, SOUTH, WEST)


class BlindMaze4x4Core(Maze4x4Core):
    """The Maze4x4 dynamics with a constant observation."""

    name = "BlindMaze4x4"
    blind = True


# =============================================================================== random N x N mazes
REGENERATE = ("episode", "never")
GENERATORS = {"fractal": generate_openings, "wilson": wilson_openings}


@dataclasses.dataclass(frozen=True)
class RandomMazeParams:
    """Parameters of RandomMaze (see :class:`RandomMazeEnv`)."""

    size: int = 8
    view: int = 1
    regenerate: str = "episode"
    maze_seed: int = 0
    generator: str = "fractal"
    step_cost: float | None = None
    max_steps: int | None = None

    def __post_init__(self) -> None:
        normalise(self, "size", check_int, 2)
        normalise(self, "view", check_int, 0, self.size)
        check_choice("regenerate", self.regenerate, REGENERATE)
        normalise(self, "maze_seed", check_int, 0)
        check_choice("generator", self.generator, GENERATORS)
        object.__setattr__(self, "step_cost", _check_step_cost(self.step_cost))
        normalise(self, "max_steps", check_optional_int, 1)


@dataclasses.dataclass
class RandomMazeState(State):
    pos: np.ndarray  # flat cell index of the agent
    start: np.ndarray  # flat cell index where the episode started
    goal: np.ndarray  # flat cell index of the goal
    grid: np.ndarray  # (N, size * P * side * 2) uint8: the maze as strips, see RandomMazeCore
    delta: np.ndarray  # (N, size * size * 4) signed: how far each (cell, action) moves the agent's flat cell index


class RandomMazeCore(Core):
    """Batched random mazes.

    A maze is drawn as a block picture of ``(2 * size + 1)`` squares per side where walls are squares of their own (a
    step looks up the square beside the agent in the direction it moves), padded with ``2 * view`` wall squares on
    every side so that the agent's window never leaves it. A square is stored as its observation: two bytes (wall,
    goal), each 0 or 1. A copy keeps its picture cut into ``size`` overlapping vertical strips, one per column of
    cells, each as wide as the window (``side = 4 * view + 3`` squares) and as tall as the picture, row after row. The
    window around a cell is then ``side`` consecutive rows of its column's strip: one contiguous run of bytes laid
    out exactly as the observation, so observing is one gather of one item per copy (a fancy index into an
    overlapping view of the strips whose items are whole windows) and one contiguous cast to float32.

    Why strips: the observation is most of the work of a step. Gathering the window's rows from a plain picture
    costs one item per window row (about 3 ns each in NumPy, whatever the size of the item), and the packed codes
    used before cost two look-ups of one element per square; both made a copy cost as much at 8,192 copies as at
    1,024 or more. A strip copy of every cell's window would make observing as cheap but cost ``size`` times more
    memory and reset time; strips cost ``size * P * side * 2`` bytes (``P = 2 * size + 1 + 4 * view``), about
    ``side / 2`` times the picture: 2.3 kB per 8 x 8 maze with ``view=1``, but 208 kB at ``size=16, view=16``, so
    a view much wider than the memory task needs costs memory in proportion.
    """

    Params = RandomMazeParams
    name = "RandomMaze"
    render_fps = 8
    action_names = ACTION_NAMES

    def __init__(self, params: RandomMazeParams) -> None:
        super().__init__(params)
        n, v = params.size, params.view
        self.n_cells = n * n
        self.side = side = 4 * v + 3  # the window: the agent's cell, `view` cells each way, and the walls around them
        self.pad = 2 * v
        self.padded = p = 2 * n + 1 + 2 * self.pad
        self.action_space = spaces.Discrete(4)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(side, side, 2), dtype=np.float32)
        rows, cols = np.divmod(np.arange(self.n_cells), n)
        # squares (y, x) of the padded picture: every cell, and every edge (horizontal edges first, as the openings)
        centre = side // 2  # the agent's square in its window, and its picture square is (2 * row, 2 * col) + centre
        self.cell_square = np.stack([2 * rows + centre, 2 * cols + centre], axis=1)
        er, ec = np.divmod(np.arange(n * (n - 1)), n - 1)
        vr, vc = np.divmod(np.arange((n - 1) * n), n)
        edge_square = np.concatenate([np.stack([2 * er + centre, 2 * ec + centre + 1], axis=1),
                                      np.stack([2 * vr + centre + 1, 2 * vc + centre], axis=1)])
        self.strip_rows = n * p  # rows of `side` squares per copy
        # the strips of a maze with every edge closed and no goal: walls everywhere but on the cells
        picture = np.ones((p, p, 2), dtype=np.uint8)
        picture[..., 1] = 0
        picture[self.cell_square[:, 0], self.cell_square[:, 1], 0] = 0
        self.template = np.stack([picture[:, 2 * c:2 * c + side] for c in range(n)]).ravel()
        # the tables the step, the reset and the observation read, computed once here rather than every step: per
        # cell, the first strip row of its window and the byte of its own wall flag; per action, the offset from
        # that byte to the square beside it; the bytes of every edge's wall flag and of every cell's goal flag (a
        # square lies in up to `side // 2 + 1` strips, each of which must show it)
        self.window_start = cols * p + 2 * rows
        self.cell_byte = ((self.window_start + centre) * side + centre) * 2
        self.side_byte = np.array([-2 * side, 2, 2 * side, -2], dtype=np.int64)
        self.edge_byte = self._square_bytes(edge_square)
        self.goal_byte = self._square_bytes(self.cell_square) + 1
        self.move = np.array([-n, 1, n, -1], dtype=np.int64)
        self.exit_byte = (self.cell_byte[:, None] + self.side_byte).ravel()  # per (cell, action): the wall beside it
        self.delta_dtype = np.result_type(np.min_scalar_type(-n), np.int8)
        self._move_row = np.tile(self.move, self.n_cells).astype(self.delta_dtype)
        self._choices = np.array([[self.n_cells], [self.n_cells - 1]])  # for the goal, then the start among the rest
        self._last_choice = self._choices - 1
        self.window_dtype = np.dtype((np.void, side * side * 2))
        self.reset_block = max(1, (1 << 19) // (n * p * side * 2))  # copies whose strips fill about 512 kB
        self._windows: np.ndarray | None = None
        # per copy, where its rows start (an arange per step costs as much as a step of a small batch)
        self._grid_base = PerCopyTable(self._grid_offsets)
        self._delta_base = PerCopyTable(self._delta_offsets)
        self.reward_table = np.array([-self.step_cost, GOAL_REWARD - self.step_cost], dtype=np.float32)
        self.generate = GENERATORS[params.generator]
        self.fixed_openings = None
        if params.regenerate == "never":
            self.fixed_openings = self.generate(np.random.default_rng(params.maze_seed), 1, n)

    def _square_bytes(self, squares: np.ndarray) -> np.ndarray:
        """``(k, m)``: the byte of the wall flag of each picture square ``(y, x)`` in each strip that shows it,
        repeated to fill the row where a square lies in fewer than ``m`` strips (writing a byte twice is harmless)."""
        n, p, side = self.params.size, self.padded, self.side
        out = []
        for y, x in squares.tolist():
            strips = [c for c in range(n) if 2 * c <= x < 2 * c + side]
            out.append([((c * p + y) * side + x - 2 * c) * 2 for c in strips])
        m = max(len(b) for b in out) if out else 1
        return np.array([b + b[:1] * (m - len(b)) for b in out], dtype=np.int64).reshape(len(out), m)

    @property
    def max_steps(self) -> int:
        return self.params.max_steps if self.params.max_steps is not None else 4 * self.n_cells

    @property
    def step_cost(self) -> float:
        """Cost of every step; by default ``1 / max_steps``, so a whole episode of steps costs at most 1."""
        return self.params.step_cost if self.params.step_cost is not None else 1.0 / self.max_steps

    def init_state(self, num_envs: int) -> RandomMazeState:
        zeros = np.zeros(num_envs, dtype=np.int64)
        return RandomMazeState(
            t=zeros.copy(), pos=zeros.copy(), start=zeros.copy(), goal=zeros.copy(),
            grid=np.tile(self.template, (num_envs, 1)),
            delta=np.zeros((num_envs, 4 * self.n_cells), dtype=self.delta_dtype),
        )

    def reset(self, state: RandomMazeState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        k = len(idx)
        if self.fixed_openings is None:
            opened = self.generate(rng, k, self.params.size)
        else:
            opened = np.broadcast_to(self.fixed_openings, (k, self.fixed_openings.shape[1]))
        # goal uniform over the cells, start uniform over the others (rng.random: integers() costs 10 us a call)
        cells = np.empty((2, k), dtype=np.int64)
        np.multiply(rng.random((2, k)), self._choices, out=cells, casting="unsafe")
        np.minimum(cells, self._last_choice, out=cells)  # u * n may round up to n for u just below 1
        goal, start = cells
        start += start >= goal
        # every copy at once (a single env, or a batch whose episodes all timed out together): draw in place
        copies = np.arange(k)  # not cached: k varies from reset to reset
        whole = k == len(state.grid) and bool((idx == copies).all())
        if not whole:
            # A partial reset builds one block at a time in this buffer and copies it into the copies' rows at once,
            # while it is still in cache. Building the whole batch first cost twice as much per copy when most copies
            # reset together (as a batch started together times out): tens of MB of fresh temporaries at 8,192
            # copies, faulted in, written, evicted and read back again for the copy.
            buffer = np.empty((min(k, self.reset_block), self.template.size), dtype=np.uint8)
            moves = np.empty((len(buffer), 4 * self.n_cells), dtype=self.delta_dtype)
        walls = (~opened).view(np.uint8)[:, :, None]  # a wall where the edge is closed (as bytes: no cast to store)
        goal_bytes = self.goal_byte.take(goal, axis=0)
        # In blocks of copies whose strips stay in cache: the scatter writes each edge into every copy before the
        # next edge, so over a whole large batch it would miss the cache for nearly every byte (2x slower at 8,192).
        for first in range(0, k, self.reset_block):
            rows = slice(first, first + self.reset_block)
            if whole:
                block, delta = state.grid[rows], state.delta[rows]
            else:
                m = min(k - first, len(buffer))
                block, delta = buffer[:m], moves[:m]
            block[...] = self.template
            block[:, self.edge_byte] = walls[rows]
            # the moves, read by the step from this small table rather than from the large strips (at 8,192 copies
            # the strips outgrow the caches and a step's look-up there cost more than the rest of the step)
            np.subtract(1, block.take(self.exit_byte, axis=1), out=delta, dtype=self.delta_dtype)
            delta *= self._move_row
            block[copies[:len(block), None], goal_bytes[rows]] = 1
            if not whole:
                state.grid[idx[rows]] = block
                state.delta[idx[rows]] = delta
        state.goal[idx] = goal
        state.start[idx] = start
        state.pos[idx] = start

    def step(
        self, state: RandomMazeState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        move = state.pos * 4
        move += action
        move += self._delta_base(len(action))
        state.pos += state.delta.reshape(-1).take(move)
        reached = state.pos == state.goal
        return self.reward_table.take(reached.view(np.uint8)), reached

    def info(self, state: RandomMazeState) -> dict[str, np.ndarray]:
        return {"success": state.pos == state.goal}  # the episode's verdict, read when it ends: the goal reached

    def observe(self, state: RandomMazeState, rng: np.random.Generator) -> np.ndarray:
        n, side = len(state.pos), self.side
        rows = self._grid_base(n)
        windows = self._all_windows(state.grid)[rows + self.window_start.take(state.pos)]
        return windows.view(np.uint8).reshape(n, side, side, 2).astype(np.float32)

    def _all_windows(self, grid: np.ndarray) -> np.ndarray:
        """The strips as one overlapping array of windows: item ``j`` is the ``side`` strip rows from row ``j`` on
        (of all copies' strips laid end to end). Kept for the grid it was made for: building it costs as much as a
        step of a small batch."""
        windows = self._windows
        if windows is not None and windows.base is grid:
            return windows
        flat = np.ascontiguousarray(grid).reshape(-1)
        row = 2 * self.side
        windows = np.ndarray((flat.size // row - self.side + 1,), dtype=self.window_dtype, buffer=flat, strides=(row,))
        self._windows = windows  # a view of the grid itself when the grid owns its contiguous memory, as states do
        return windows

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_windows": None}  # a pickled view would come back as a copy of the old windows

    def _grid_offsets(self, n: int) -> np.ndarray:
        return np.arange(n) * self.strip_rows  # where each copy's rows start in the flattened grid, in strip rows

    def _delta_offsets(self, n: int) -> np.ndarray:
        return np.arange(n) * (4 * self.n_cells)  # where each copy's moves start in the flattened delta

    # ------------------------------------------------------------------ analysis
    def _picture(self, grid: np.ndarray) -> np.ndarray:
        """The tile code (WALL, FREE or GOAL) of every square of the padded picture of one copy's ``grid``."""
        n, p, side = self.params.size, self.padded, self.side
        strips = grid.reshape(n, p, side, 2)
        pairs = np.zeros((p, p, 2), dtype=np.uint8)
        for c in range(n):
            pairs[:, 2 * c:2 * c + side] = strips[c]
        return np.where(pairs[..., 0] != 0, WALL, np.where(pairs[..., 1] != 0, GOAL, FREE))

    def _positions(self, cells: np.ndarray) -> np.ndarray:
        return np.stack(np.divmod(cells, self.params.size), axis=1)

    def hidden_state(self, state: RandomMazeState) -> dict[str, np.ndarray]:
        """Position, goal and start ``(N, 2)``, walls ``(N, size, size)`` (open-side bits: 1 north, 2 east,
        4 south, 8 west), the BFS ``distance`` from the agent to the goal, and ``optimal_return``: the return of a
        shortest path from this episode's start (what an agent that knew the maze would get)."""
        from memenvs.envs.maze_generation import batched_distances

        n, size = state.num_envs, self.params.size
        walls = np.zeros((n, self.n_cells), dtype=np.uint8)
        for a in range(4):
            walls |= (state.grid[:, self.cell_byte + self.side_byte[a]] == 0) * OPEN_BITS[a]
        walls = walls.reshape(n, size, size)
        dist = batched_distances(walls, state.goal)
        rows = np.arange(n)
        return {
            "position": self._positions(state.pos),
            "goal": self._positions(state.goal),
            "start": self._positions(state.start),
            "walls": walls,
            "distance": dist[rows, state.pos],
            "optimal_return": self._value(dist[rows, state.start]).astype(np.float32),
        }

    def _value(self, distance: np.ndarray) -> np.ndarray:
        return np.where(distance <= self.max_steps, GOAL_REWARD - self.step_cost * distance,
                        -self.step_cost * self.max_steps)

    def optimal_return(self) -> float | None:
        """For ``regenerate="never"``: the mean, over all (start, goal) pairs, of the shortest-path return. For
        ``"episode"`` the expectation over random mazes has no closed form (``None``); the per-episode value is in
        ``hidden_state()["optimal_return"]``."""
        if self.fixed_openings is None:
            return None
        size, n_cells = self.params.size, self.n_cells
        bits = openings_to_bits(self.fixed_openings, size).reshape(size, size)
        if self.max_steps >= n_cells - 1:  # no path is too long: only the mean distance matters (Wiener index)
            return float(GOAL_REWARD - self.step_cost * _mean_tree_distance(bits))
        if n_cells > 1024:
            return None
        values = [self._value(distances_from(bits, divmod(g, size)).ravel()) for g in range(n_cells)]
        total = sum(float(v.sum()) for v in values) - n_cells * GOAL_REWARD  # drop start == goal (distance 0)
        return total / (n_cells * (n_cells - 1))

    # ------------------------------------------------------------------ presentation
    def frame(self, state: RandomMazeState, i: int) -> GridFrame:
        size, p, pad = self.params.size, self.padded, self.pad
        tiles = self._picture(state.grid[i])[pad:p - pad, pad:p - pad].astype(np.int64)
        sr, sc = divmod(int(state.start[i]), size)
        if tiles[2 * sr + 1, 2 * sc + 1] == FREE:
            tiles[2 * sr + 1, 2 * sc + 1] = START
        r, c = divmod(int(state.pos[i]), size)
        highlight = np.zeros(tiles.shape, dtype=bool)
        h = 2 * self.params.view + 1
        highlight[max(0, 2 * r + 1 - h):2 * r + 2 + h, max(0, 2 * c + 1 - h):2 * c + 2 + h] = True
        gr, gc = divmod(int(state.goal[i]), size)
        return GridFrame(
            tiles=tiles,
            palette=PALETTE,
            agent=(2 * r + 1, 2 * c + 1),
            highlight=highlight,
            caption=f"t={int(state.t[i])}  agent=({r}, {c})  goal=({gr}, {gc})  view={self.params.view}",
        )

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        return direction_keys(NORTH, EAST, SOUTH, WEST)


def _mean_tree_distance(bits: np.ndarray) -> float:
    """Mean path length over ordered pairs of distinct cells of a perfect maze: each opening lies on the paths
    between the cells on its two sides, ``2 * sum(a * (V - a)) / (V * (V - 1))`` (the Wiener index)."""
    h, w = bits.shape
    n = h * w
    dist = distances_from(bits, (0, 0)).ravel()
    order = np.argsort(dist, kind="stable")
    below = np.ones(n, dtype=np.int64)  # cells in the subtree hanging below each cell (the root is cell 0)
    total = 0
    for cell in order[::-1][:-1]:  # deepest first; every cell but the root has one parent
        r, c = divmod(int(cell), w)
        for a in range(4):
            if bits[r, c] & OPEN_BITS[a]:
                parent = (r + DROW[a]) * w + c + DCOL[a]
                if dist[parent] == dist[cell] - 1:
                    below[parent] += below[cell]
                    total += below[cell] * (n - below[cell])
                    break
    return 2.0 * total / (n * (n - 1))


__all__ = [
    "BlindMaze4x4Env", "BlindMaze4x4VectorEnv", "Maze4x4Env", "Maze4x4VectorEnv", "RandomMazeEnv",
    "RandomMazeVectorEnv", "LAYOUT_4X4", "shortest_blind_plan", "num_edges",
]


class Maze4x4Env(MemoryEnv):
    """A fixed 4 x 4 maze seen with complete information: the sanity check of the maze family.

    ## Description
    A perfect maze of 4 x 4 cells (walls between cells, drawn in :data:`LAYOUT_4X4`): start ``S`` in the north-west
    corner, goal ``G`` in the south-east corner, 10 steps apart along the only path, with six dead ends. The agent
    sees its own position, so the task is a fully observed MDP: a memoryless policy (the BFS shortest-path policy) is
    optimal. A learner that fails here is broken, not short of memory.

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west. A move into a wall leaves the agent where it is.

    ## Observation Space
    ``Box(0, 1, (16,), float32)``: one-hot of the agent's cell, index ``4 * row + col``.

    ## Rewards
    +1 on the step that reaches the goal, and ``-step_cost`` on every step (that one included). By default
    ``step_cost = 1 / max_steps = 0.01``, so a shortest episode returns 1 - 10 * 0.01 = 0.9.

    ## Starting State
    The cell ``S = (0, 0)``; with ``random_start=True`` a cell drawn uniformly among the 15 non-goal cells.
    ``reset(options={"start": (row, col)})`` chooses any non-goal cell.

    ## Episode End
    * Termination: reaching the goal.
    * Truncation: after ``max_steps`` steps (default 100, ten times the shortest path).

    ## Arguments
    * ``random_start`` (bool, default False): draw the start among all non-goal cells each episode.
    * ``step_cost`` (float in [0, 1] or None, default None = ``1 / max_steps``).
    * ``max_steps`` (int >= 1 or None, default None = 100).

    ## Hidden state and bounds
    ``hidden_state()`` gives ``position`` (row, col), ``goal``, ``distance`` (BFS steps left) and ``walls``
    (per-cell open sides, bits 1 north, 2 east, 4 south, 8 west). Nothing is hidden from the agent here.
    ``optimal_return()`` is 0.9 (fixed start) or 0.93867 (random start: the mean of ``1 - 0.01 * distance`` over the
    15 starts); ``memoryless_return()`` equals it.

    ## Reference
    The "Maze4x4 with complete information" experiment of the memenvs plan; a maze in the style of Sutton & Barto's
    grid worlds. Layout chosen for this package (a perfect maze with a 10-step solution and six dead ends).

    ## Version History
    * v0 (changed in place before release): every step's info carries ``success``, whether the agent stands on the
      goal (the episode's verdict when read at its end).
    * v0: initial release.
    """

    core_class = Maze4x4Core


class Maze4x4VectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`Maze4x4Env` (all copies step together in NumPy)."""

    core_class = Maze4x4Core


class BlindMaze4x4Env(MemoryEnv):
    """The 4 x 4 maze of :class:`Maze4x4Env` with a constant observation: the agent must remember where it is in a plan.

    ## Description
    Same layout, dynamics, rewards and time limit as Maze4x4, but every observation is the same single number, so
    the only way to the goal is an action sequence executed from memory (a count of the steps taken). From the fixed
    start the shortest plan is the 10-step path ``E S S S E N N E S S``.

    With ``random_start=True`` the agent does not know where it starts either, and needs one sequence that reaches
    the goal from every start (the goal ends the episode, so the sequence only has to pass through it). One exists
    for this layout: a breadth-first search over the sets of cells the agent may occupy
    (:func:`shortest_blind_plan`) finds that the shortest has 12 steps, ``W S E S S S E N N E S S``
    (walking into walls first gathers every start in the west end of the top row).

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west. A move into a wall leaves the agent where it is.

    ## Observation Space
    ``Box(0, 1, (1,), float32)``, always ``[1.0]``.

    ## Rewards
    +1 on the step that reaches the goal, and ``-step_cost`` on every step (default ``1 / max_steps = 0.01``).

    ## Starting State
    The cell ``(0, 0)``; with ``random_start=True`` a cell drawn uniformly among the 15 non-goal cells.
    ``reset(options={"start": (row, col)})`` chooses any non-goal cell.

    ## Episode End
    * Termination: reaching the goal.
    * Truncation: after ``max_steps`` steps (default 100).

    ## Arguments
    * ``random_start`` (bool, default False): draw the start among all non-goal cells each episode.
    * ``step_cost`` (float in [0, 1] or None, default None = ``1 / max_steps``).
    * ``max_steps`` (int >= 1 or None, default None = 100).

    ## Hidden state and bounds
    ``hidden_state()`` gives ``position`` (row, col), ``goal``, ``distance`` (BFS steps left) and ``walls``.

    ``optimal_return()`` is the return of the best action sequence (with a constant observation a policy with memory
    is a plan), computed exactly by an A* search over time and the multiset of cells the possible starts put the
    agent in: 0.9 with the fixed start; 0.902 with random starts, reached by the 20-step plan
    ``S S E S E N N E S S W S S S E N N E S S`` (it first takes the starts near the main path to the goal, then
    gathers the rest), where the shortest 12-step plan returns 0.8913. With full information the random-start
    optimum would be 0.9387 (Maze4x4).

    ``memoryless_return()`` is the best return of a reactive policy, which here is one fixed distribution over the
    four actions: -0.2515 with the fixed start and 0.2839 with random starts (default arguments), found by
    evaluating every distribution exactly (a Markov chain over the 16 cells) on a 1/20 grid of the simplex and
    refining the best by pattern search. No *deterministic* reactive policy (a constant action) ever reaches the goal
    from the fixed start (return -1.0), and only the starts in line with the goal reach it from random starts.

    ## Reference
    The "4x4 maze with no observation" experiment of the memenvs plan. Finding one sequence that brings a
    deterministic system from every state to a target is the synchronising-word problem of automata theory
    (Cerny 1964); here the goal absorbs.

    ## Version History
    * v0 (changed in place before release): every step's info carries ``success``, whether the agent stands on the
      goal (the episode's verdict when read at its end).
    * v0: initial release.
    """

    core_class = BlindMaze4x4Core


class BlindMaze4x4VectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`BlindMaze4x4Env` (all copies step together in NumPy)."""

    core_class = BlindMaze4x4Core


class RandomMazeEnv(MemoryEnv):
    """A random perfect maze each episode, seen through a small window around the agent.

    ## Description
    A perfect maze of ``size`` x ``size`` cells (exactly one path between any two cells) is generated from the
    env's random generator for every episode (``regenerate="episode"``), or once from ``maze_seed`` and kept
    (``regenerate="never"``). Start and goal are distinct cells drawn uniformly each episode. The agent sees only
    the walls within ``view`` cells of itself, so finding the goal means exploring while remembering which branches
    it has already searched and how to get back: a memoryless agent keeps re-entering dead ends.

    The generator (:mod:`memenvs.envs.maze_generation`) is hierarchical: blocks of 2 x 2 cells, each given a random
    spanning tree, joined along the openings of a random maze of half the size through one random door per opening.
    It is vectorised over all copies being reset, so regenerating per episode costs a few tens of microseconds per
    batched reset. The mazes are perfect but not uniform spanning trees (every aligned 2 x 2 block is internally
    connected). ``generator="wilson"`` draws uniform spanning trees instead (Wilson's algorithm), at about 180 us
    per 8 x 8 maze in a Python loop: unbiased, slower to reset.

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west (absolute directions). A move into a wall does nothing.

    ## Observation Space
    ``Box(0, 1, (4 * view + 3, 4 * view + 3, 2), float32)``. Draw the maze with walls as squares of their own, a
    ``(2 * size + 1)``-square picture; the observation is the window of that picture centred on the agent's square
    that covers every cell within ``view`` cells (Chebyshev distance) and the walls around them: 7 x 7 for
    ``view=1``, 3 x 3 (the agent's own four walls) for ``view=0``. Channel 0 is 1 on walls (and outside the maze),
    channel 1 is 1 on the goal; a free square is (0, 0). The agent is always in the centre.

    ## Rewards
    +1 on the step that reaches the goal, and ``-step_cost`` on every step (that one included). By default
    ``step_cost = 1 / max_steps``, so the step costs of a whole episode add up to at most 1.

    ## Starting State
    A fresh maze (or the fixed one), a goal cell drawn uniformly and a start drawn uniformly among the other cells.

    ## Episode End
    * Termination: reaching the goal.
    * Truncation: after ``max_steps`` steps, default ``4 * size**2``. A depth-first search of the maze's tree visits
      every cell in at most ``2 * (size**2 - 1)`` steps, so an agent that remembers where it has been always has time
      to finish, and one that does not usually does not.

    ## Arguments
    * ``size`` (int >= 2, default 8): cells per side.
    * ``view`` (int in [0, size], default 1): view radius in cells.
    * ``regenerate`` (``"episode"`` or ``"never"``, default ``"episode"``).
    * ``maze_seed`` (int >= 0, default 0): seed of the fixed maze used with ``regenerate="never"``.
    * ``generator`` (``"fractal"`` or ``"wilson"``, default ``"fractal"``): the fast hierarchical generator, or
      uniform spanning trees (Wilson 1996).
    * ``step_cost`` (float in [0, 1] or None, default None = ``1 / max_steps``).
    * ``max_steps`` (int >= 1 or None, default None = ``4 * size**2``).

    ## Hidden state and bounds
    ``hidden_state()`` gives ``position``, ``goal`` and ``start`` (row, col), ``walls`` (per-cell open sides, bits
    1 north, 2 east, 4 south, 8 west), ``distance`` (BFS steps from the agent to the goal) and ``optimal_return``:
    the return of the shortest path from this episode's start, ``1 - step_cost * distance`` (the best any agent,
    even one that knew the maze, can get in this episode).
    ``optimal_return()``: with ``regenerate="never"``, the exact mean of that value over all (start, goal) pairs of
    the fixed maze (from the tree's Wiener index); with ``"episode"`` it is ``None`` (an expectation over random
    mazes, estimate it from ``hidden_state()``). ``memoryless_return()`` is ``None``: no closed form.

    ## Reference
    The "random NxN mazes with partial information" experiment of the memenvs plan; partially observed mazes are a
    standard memory test (e.g. MiniGrid's and Memory Maze's, whose code this does not use).

    ## Version History
    * v0 (changed in place before release): every step's info carries ``success``, whether the agent stands on the
      goal (the episode's verdict when read at its end).
    * v0: initial release.
    """

    core_class = RandomMazeCore


class RandomMazeVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`RandomMazeEnv` (all copies step together in NumPy)."""

    core_class = RandomMazeCore
