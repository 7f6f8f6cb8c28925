"""Traffic control from the influence-aware memory paper, as a cellular traffic model on two loop roads.

The IAM paper ran SUMO; this is a NumPy re-implementation of the task's structure, not of SUMO's car physics: one
light at the crossing of two loop roads, an observation of the two approaches only, and cars that leave the view
through the crossing and come back round the loop later. Remembering which cars left, and when, predicts arrivals.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, State
from memenvs.envs.params import check_int, check_probability
from memenvs.envs.rendering import GridFrame, Marker, Tile
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv
from memenvs.envs.warehouse import bernoulli_mask

ROAD_NAMES = ("east-west", "north-south")


@dataclasses.dataclass(frozen=True)
class TrafficParams:
    """Parameters of the traffic task (see :class:`TrafficEnv` for their meaning)."""

    segment_length: int = 15
    hidden_length: int = 15
    n_cars: int = 6
    p_slow: float = 0.1
    yellow_steps: int = 3
    max_steps: int = 250

    def __post_init__(self) -> None:
        object.__setattr__(self, "segment_length", check_int("segment_length", self.segment_length, 2, 200))
        object.__setattr__(self, "hidden_length", check_int("hidden_length", self.hidden_length, 1, 1000))
        ring = self.segment_length + self.hidden_length
        object.__setattr__(self, "n_cars", check_int("n_cars", self.n_cars, 1, ring - 1))
        object.__setattr__(self, "p_slow", check_probability("p_slow", self.p_slow))
        object.__setattr__(self, "yellow_steps", check_int("yellow_steps", self.yellow_steps, 0, 100))
        object.__setattr__(self, "max_steps", check_int("max_steps", self.max_steps, 1))


@dataclasses.dataclass
class TrafficState(State):
    # Car cells (N, 2 roads, n_cars), numbered across both loops: road r's cells are r * ring + (0 .. ring - 1),
    # so one lookup table serves both roads. Cars never overtake, so car i + 1 (cyclically) is always the car in
    # front of car i; reset sorts them so.
    cell: np.ndarray
    green: np.ndarray  # road that has green (or will have, after the yellow phase)
    yellow: np.ndarray  # yellow steps left; both approaches are stopped while it is > 0


class TrafficCore(Core):
    """Batched cellular traffic model (a stochastic rule-184 / Nagel-Schreckenberg automaton with top speed 1).

    Each road is a loop of ``segment_length + hidden_length`` cells; cells ``0 .. segment_length - 1`` are the
    observed approach, the stop line is cell ``segment_length - 1``, and the crossing sits between it and cell
    ``segment_length``. Cars are stored by position, so a step is a handful of whole-array operations over
    ``(N, 2, n_cars)``.
    """

    Params = TrafficParams
    name = "Traffic"
    render_fps = 8
    action_names = ("green east-west", "green north-south")

    def __init__(self, params: TrafficParams) -> None:
        super().__init__(params)
        p = params
        self.seg = p.segment_length
        self.ring = p.segment_length + p.hidden_length
        self.observation_space = spaces.Box(0.0, 1.0, shape=(2 * self.seg,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        #: Observation indices of the last two cells of each approach (the IAM paper's d-set): the cars about to
        #: leave the view, whose return round the loop a memory can predict.
        self.dset = np.array([self.seg - 2, self.seg - 1, 2 * self.seg - 2, 2 * self.seg - 1], dtype=np.int64)
        self.dset.flags.writeable = False
        # Lookup tables beat arithmetic on small arrays: the cell in front, the car in front (index), and the
        # observation column of a car (road * (seg + 1) + cell, with one spare column per road for cars out of view).
        cells = np.arange(self.ring)
        self._next_cell = np.concatenate([np.roll(cells, -1) + r * self.ring for r in (0, 1)])
        self._in_view = np.concatenate([cells < self.seg] * 2)
        self._ahead = np.roll(np.arange(p.n_cars), -1)
        self._ring_offset = (np.arange(2) * self.ring).reshape(1, 2, 1)
        self._obs_col = np.concatenate([r * (self.seg + 1) + np.minimum(cells, self.seg) for r in (0, 1)])
        # _phantom_by_light[in_yellow, g, r, 0]: the cell a red light blocks on road r when road g has (or will have)
        # green; during yellow both roads are red. Green leaves -1, a cell never reached.
        red_both = [[self.seg], [self.ring + self.seg]]
        self._phantom_by_light = np.array([[[[-1], [self.ring + self.seg]], [[self.seg], [-1]]],
                                           [red_both, red_both]], dtype=np.int64)
        self._phantom_by_code = self._phantom_by_light.reshape(4, 2, 1)
        self._rows_cache: dict[int, np.ndarray] = {}
        self._minus_ones = np.full(2 * p.n_cars, -1.0, dtype=np.float32)
        # The observation columns kept from the buffer (all but each road's spare column), and the d-set row the
        # single env copies: each saves a NumPy call per step, which is most of the cost for a batch of one.
        self._keep_cols = np.array([c for c in range(2 * (self.seg + 1)) if c % (self.seg + 1) != self.seg])
        self._dset_row = self.dset[None]

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        return self.params.max_steps

    def init_state(self, num_envs: int) -> TrafficState:
        return TrafficState(
            t=np.zeros(num_envs, dtype=np.int64),
            cell=np.zeros((num_envs, 2, self.params.n_cars), dtype=np.int64),
            green=np.zeros(num_envs, dtype=np.int64),
            yellow=np.zeros(num_envs, dtype=np.int64),
        )

    def reset(self, state: TrafficState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        # n_cars distinct cells per road, uniformly: the first n_cars of a random permutation, sorted.
        keys = rng.random((len(idx), 2, self.ring))
        cells = np.argsort(keys, axis=2)[:, :, : self.params.n_cars]
        state.cell[idx] = np.sort(cells, axis=2) + self._ring_offset
        state.green[idx] = 0
        state.yellow[idx] = 0

    def step(
        self, state: TrafficState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        # The light: asking for the other road while not in a yellow phase starts one; actions during yellow are
        # ignored. The new road gets green once the yellow steps have passed.
        yellow = state.yellow
        switch = action != state.green
        switch &= yellow == 0
        np.copyto(state.green, action, where=switch)
        np.copyto(yellow, p.yellow_steps, where=switch)
        in_yellow = yellow > 0
        # Cars: each advances one cell if the cell in front was empty at the start of the step (parallel update)
        # and, at the stop line, its road has green; a car free to move dawdles with probability p_slow. A red
        # light acts as a phantom car on the first cell past the crossing (cell -1, never reached, when green).
        cell = state.cell
        n = len(cell)
        in_yellow = in_yellow.view(np.uint8)  # 0/1, usable as an index (a bool array would be a mask)
        if n == 1:  # for a batch of one, one fancy lookup is the fewest calls
            phantom = self._phantom_by_light[in_yellow, state.green]  # (N, 2, 1)
        else:  # for many, a flat light code (2 * in_yellow + green) and a take cost half the 2-index lookup
            phantom = self._phantom_by_code.take(state.green + in_yellow * np.uint8(2), axis=0)
        nxt = self._next_cell.take(cell)
        free = nxt != cell.take(self._ahead, axis=2)
        free &= nxt != phantom
        # For bools a > b is a & ~b: one NumPy call where ``&`` and ``~`` would take two.
        waiting = np.greater(self._in_view.take(cell), free)  # in view and blocked (dawdling does not count)
        dawdle = bernoulli_mask((n, 2 * p.n_cars), p.p_slow, rng)[0].reshape(cell.shape)
        np.copyto(cell, nxt, where=np.greater(free, dawdle, out=free))
        yellow -= in_yellow
        reward = waiting.reshape(n, -1).astype(np.float32) @ self._minus_ones
        return reward, np.zeros(n, dtype=bool)

    def observe(self, state: TrafficState, rng: np.random.Generator) -> np.ndarray:
        n = len(state.cell)
        width = 2 * (self.seg + 1)
        buf = np.zeros((n, width), dtype=np.float32)
        cols = self._obs_col.take(state.cell)
        # Then drop the spare columns (cars out of view), which makes a fresh array: for a batch of one (no row
        # offsets) a take is the cheapest call; for many, the reshape of a strided view copies faster.
        if n == 1:
            buf.put(cols, 1.0)
            return buf.take(self._keep_cols, axis=1)
        cols += self._row_offsets(n)
        buf.ravel()[cols] = 1.0  # buf is fresh and contiguous, so ravel is a view (and this beats put when large)
        return buf.reshape(n, 2, self.seg + 1)[:, :, : self.seg].reshape(n, 2 * self.seg)

    def _row_offsets(self, n: int) -> np.ndarray:
        """Flat offset of each car's row in the observation buffer, ``(n, 2, n_cars)``: adding a full array is much
        faster than broadcasting an ``(n, 1, 1)`` one."""
        rows = self._rows_cache.get(n)
        if rows is None:
            rows = np.arange(n) * 2 * (self.seg + 1)
            rows = self._rows_cache[n] = np.repeat(rows, 2 * self.params.n_cars).reshape(n, 2, self.params.n_cars)
        return rows

    def info(self, state: TrafficState) -> dict[str, np.ndarray]:
        n = len(state.cell)
        if n == 1:  # a single env's info must be fresh data every step (Gymnasium's checker insists)
            return {"dset": self._dset_row.copy()}
        return {"dset": np.broadcast_to(self.dset, (n, len(self.dset)))}

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: TrafficState) -> dict[str, np.ndarray]:
        return {
            "car_pos": self.car_pos(state),
            "green": state.green.copy(),
            "yellow_left": state.yellow.copy(),
            "hidden_cars": (~self._in_view.take(state.cell)).sum(axis=2),
        }

    def car_pos(self, state: TrafficState) -> np.ndarray:
        """``(N, 2, n_cars)`` cell of every car along its own loop (0 .. ring - 1; the view is 0 .. seg - 1)."""
        return state.cell - self._ring_offset

    # ------------------------------------------------------------------ presentation
    def frame(self, state: TrafficState, i: int) -> GridFrame:
        seg, shown = self.seg, min(self.params.hidden_length, self.seg)
        side = 2 * seg + 1
        tiles = np.zeros((side, side), dtype=np.int64)
        tiles[seg, :seg] = 1
        tiles[:seg, seg] = 1
        tiles[seg, seg + 1: seg + 1 + shown] = 2
        tiles[seg + 1: seg + 1 + shown, seg] = 2
        tiles[seg, seg] = 3
        yellow, green = int(state.yellow[i]), int(state.green[i])
        for road, cell in ((0, (seg + 1, seg - 1)), (1, (seg - 1, seg + 1))):
            tiles[cell] = 5 if yellow > 0 else (4 if road == green else 6)
        markers = []
        off = 0
        for road, color, char in ((0, (60, 110, 220), ">"), (1, (235, 140, 40), "v")):
            for x in self.car_pos(state)[i, road]:
                x = int(x)
                if x >= seg + shown:
                    off += 1
                    continue
                along = x if x < seg else x + 1
                r, c = (seg, along) if road == 0 else (along, seg)
                markers.append(Marker(r, c, color, char, scale=0.75))
        light = "yellow" if yellow > 0 else f"green {ROAD_NAMES[green]}"
        return GridFrame(
            tiles=tiles,
            palette=(
                Tile((120, 160, 100), " "),
                Tile((200, 200, 200), "."),
                Tile((120, 120, 130), ","),
                Tile((90, 90, 90), "+"),
                Tile((60, 200, 80), "G"),
                Tile((240, 210, 40), "Y"),
                Tile((220, 50, 50), "R"),
            ),
            markers=markers,
            caption=f"t={int(state.t[i])}  light: {light}  cars off-screen: {off}",
        )

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        import pygame

        return {
            (pygame.K_LEFT,): 0, (pygame.K_RIGHT,): 0, (pygame.K_a,): 0, (pygame.K_d,): 0,
            (pygame.K_UP,): 1, (pygame.K_DOWN,): 1, (pygame.K_w,): 1, (pygame.K_s,): 1,
        }


def scripted_action(core: TrafficCore, state: TrafficState | None, obs: np.ndarray, know_hidden: bool) -> np.ndarray:
    """A batch of actions of a scripted light controller; the figures in the docstrings and tests come from it.

    Reactive (``know_hidden=False``, uses only ``obs``): green for the approach with more cars in view (ties:
    east-west); of the reactive rules we tried (fuller approach, longer queue at the stop line, nearest car, cars in
    the last five cells) it did best. Oracle (``know_hidden=True``, also reads ``state``: the light and every car,
    in view or not): with ``dist`` a car's distance to the stop line round the loop, keep the green road while one
    of its cars is within 2 cells of the stop line, unless the other road has more than 2 more cars within 5 cells;
    with no such car, switch as soon as the other road has a car within 5 cells.
    """
    if not know_hidden:
        occ = obs.reshape(len(obs), 2, core.seg)
        return (occ[:, 1].sum(axis=1) > occ[:, 0].sum(axis=1)).astype(np.int64)
    if state is None:
        raise ValueError("the oracle (know_hidden=True) needs the state")
    rows = np.arange(len(state.green))
    dist = (core.seg - 1 - core.car_pos(state)) % core.ring  # (N, 2, n_cars); cars past the crossing have a lap to go
    cur, other = state.green, 1 - state.green
    cur_busy = (dist[rows, cur] <= 2).any(axis=1)
    other_soon, cur_soon = (dist[rows, other] <= 5).sum(axis=1), (dist[rows, cur] <= 5).sum(axis=1)
    switch = (~cur_busy & (other_soon > 0)) | (other_soon > cur_soon + 2)
    return np.where(switch, other, cur).astype(np.int64)


class TrafficEnv(MemoryEnv):
    """Traffic control (Suau et al., influence-aware memory), re-implemented as a cellular model without SUMO.

    ## Description
    Two loop roads cross at one intersection with a traffic light: road 0 runs east-west, road 1 north-south. The
    agent sees the last ``segment_length`` = 15 cells of each road before the crossing (its approach) and decides
    every step which approach has green. The rest of each loop (``hidden_length`` = 15 cells) is out of view: a car
    that crosses disappears and comes back at the start of its approach some 15 steps later. A memory of the cars
    that left (the paper's d-set: the last two cells of each approach, observation indices 13, 14, 28, 29) predicts
    arrivals; the current observation does not, nor does it show the light, which changes only after a yellow phase.

    **The traffic model** (a cellular automaton, not SUMO's car-following physics; the IAM paper used SUMO). Each
    road is a loop of ``segment_length + hidden_length`` cells holding ``n_cars`` cars (at most one per cell), placed
    uniformly at random at reset. Every step, in parallel, each car moves one cell forward if the cell in front of
    it was empty at the start of the step (rule 184), except that a car on the stop line (the last approach cell)
    crosses only if its road has green, and a car free to move stays put with probability ``p_slow`` (the
    Nagel-Schreckenberg dawdling that makes arrivals irregular). A car crossing goes straight to the first cell
    past the crossing, on its own road; the roads never share a cell, and the light never gives both green.

    **The light.** Action ``a`` asks for green on road ``a``. If road ``a`` has green, or a yellow phase is running,
    nothing changes (actions during yellow are ignored). Otherwise a yellow phase of ``yellow_steps`` = 3 steps
    starts, during which no car crosses, and road ``a`` has green from the step after it. At reset road 0 has green.

    ## Action Space
    ``Discrete(2)``: 0 green for east-west, 1 green for north-south.

    ## Observation Space
    ``Box(0, 1, (2 * segment_length,), float32)``, 30 by default: occupancy (1 = a car) of the east-west approach
    cells from the far end to the stop line (indices 0..14), then the north-south approach likewise (15..29).

    ## Rewards
    Minus the number of waiting cars in the two approaches: cars in view that could not move this step because the
    cell in front was taken or their light was not green (dawdling cars do not count). Between -2 * ``n_cars`` and 0.

    ## Starting State
    Cars at ``n_cars`` distinct uniformly random cells of each loop; road 0 green, no yellow phase.

    ## Episode End
    No termination; truncation after ``max_steps`` = 250 steps.

    ## Arguments
    * ``segment_length`` (int in [2, 200], default 15): observed approach cells per road.
    * ``hidden_length`` (int in [1, 1000], default 15): cells of each loop out of view.
    * ``n_cars`` (int in [1, segment_length + hidden_length - 1], default 6): cars per road.
    * ``p_slow`` (float in [0, 1], default 0.1): dawdling probability.
    * ``yellow_steps`` (int in [0, 100], default 3): length of the yellow phase between greens.
    * ``max_steps`` (int >= 1, default 250): episode length.

    ## Hidden state and bounds
    ``hidden_state()`` gives ``car_pos`` (``(2, n_cars)`` cells along each loop), ``green``, ``yellow_left`` and
    ``hidden_cars`` (cars out of view per road); ``info["dset"]`` and ``core.dset`` give the d-set indices
    (13, 14, 28, 29 by default). No closed-form optimal or memoryless return is known (both ``None``). Monte-Carlo
    figures per episode (2000 episodes, seed 0; ``tests/test_traffic.py``, :func:`scripted_action`): uniform random
    -1676; the best reactive script we found (green for the fuller approach) -920; a fixed cycle of 10 steps per
    road, which needs only a step counter (memory) -530; the oracle script that sees the light and the cars out of
    view -291.

    ## Reference
    * M. Suau, J. He, E. Congeduti, R. A. N. Starre, A. Czechowski, F. A. Oliehoek, "Influence-aware Memory
      Architectures for Deep Reinforcement Learning in POMDPs", Neural Computing and Applications, 2022
      (arXiv:1911.07643): the traffic-control task (SUMO there; a cellular model here).
    * K. Nagel, M. Schreckenberg, "A cellular automaton model for freeway traffic", J. Physique I 2, 1992.

    ## Version History
    * v0: initial release.
    """

    core_class = TrafficCore


class TrafficVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`TrafficEnv` (all copies step together in NumPy)."""

    core_class = TrafficCore
