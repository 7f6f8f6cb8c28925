"""Traffic control from the influence-aware memory paper, as a cellular traffic model on two loop roads.

The IAM paper ran SUMO; this is a NumPy re-implementation of the task's structure, not of SUMO's car physics: one
light at the crossing of two loop roads, an observation of the two approaches only, and cars that leave the view
through the crossing and come back round the loop later. Remembering which cars left, and when, predicts arrivals.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, State, dset_info
from memenvs.envs.params import check_int, check_probability, normalise
from memenvs.envs.rendering import GridFrame, Marker, Tile
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv
from memenvs.envs.warehouse import bernoulli_mask

ROAD_NAMES = ("east-west", "north-south")
_OUT_OF_VIEW = np.iinfo(np.int64).max // 2  # an observation index beyond any batch, clipped to the spare element


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
        normalise(self, "segment_length", check_int, 2, 200)
        normalise(self, "hidden_length", check_int, 1, 1000)
        ring = self.segment_length + self.hidden_length
        normalise(self, "n_cars", check_int, 1, ring - 1)
        normalise(self, "p_slow", check_probability)
        normalise(self, "yellow_steps", check_int, 0, 100)
        normalise(self, "max_steps", check_int, 1)


@dataclasses.dataclass
class TrafficState(State):
    # Car cells (N, 2 roads, n_cars), numbered across both loops: road r's cells are r * ring + (0 .. ring - 1),
    # so one lookup table serves both roads. Cars never overtake, so car i + 1 (cyclically) is always the car in
    # front of car i; reset sorts them so.
    cell: np.ndarray
    # The light as one code, 2 * yellow steps left + road that has green (or will have, after the yellow phase):
    # a finite-state machine whose step and effect on the cars are table look-ups (see TrafficCore.__init__).
    light: np.ndarray

    @property
    def green(self) -> np.ndarray:
        """Road that has green, or will have once the yellow phase is over."""
        return self.light % 2

    @property
    def yellow(self) -> np.ndarray:
        """Yellow steps left; both approaches are stopped while it is > 0."""
        return self.light // 2


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
        # Lookup tables beat arithmetic on small arrays: the cell in front, the car in front (index), whether a
        # cell is in view, and a car's element in the flat observation buffer of one copy (see observe; for cars out
        # of view _OUT_OF_VIEW, clipped to the spare element once the batch's row offsets are added).
        cells = np.arange(self.ring)
        self._next_cell = np.concatenate([np.roll(cells, -1) + r * self.ring for r in (0, 1)])
        self._in_view = np.concatenate([cells < self.seg] * 2)
        self._ahead = np.roll(np.arange(p.n_cars), -1)
        self._ring_offset = (np.arange(2) * self.ring).reshape(1, 2, 1)
        self._obs_index = np.concatenate(
            [np.where(cells < self.seg, r * self.seg + cells, _OUT_OF_VIEW) for r in (0, 1)]
        )
        self._obs_index_one = np.minimum(self._obs_index, 2 * self.seg)
        self._light_next, self._light_phantom = self._light_tables()
        self._rows_cache: dict[int, np.ndarray] = {}
        self._minus_ones = np.full(2 * p.n_cars, -1.0, dtype=np.float32)

    def _light_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """The light as a finite-state machine over codes ``2 * yellow_left + green``, indexed by
        ``2 * code + action``: the next code, and for each road the cell its red light blocks during the step (the
        first cell past the crossing, where a phantom car stands; -1, a cell never reached, for green).

        Asking for the other road while no yellow phase runs starts one (the new road has green once it is over);
        any other action changes nothing. Both roads are red while a yellow phase runs, including its first step.
        """
        y_max, n_codes = self.params.yellow_steps, 2 * (self.params.yellow_steps + 1)
        nxt = np.zeros(2 * n_codes, dtype=np.int64)
        phantom = np.full((2 * n_codes, 2, self.params.n_cars), -1, dtype=np.int64)
        for code in range(n_codes):
            for action in (0, 1):
                yellow, green = divmod(code, 2)
                if yellow == 0 and action != green:
                    yellow, green = y_max, action
                for road in (0, 1):
                    if yellow > 0 or road != green:
                        phantom[2 * code + action, road] = road * self.ring + self.seg
                nxt[2 * code + action] = 2 * max(yellow - 1, 0) + green
        return nxt, phantom

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        return self.params.max_steps

    def init_state(self, num_envs: int) -> TrafficState:
        return TrafficState(
            t=np.zeros(num_envs, dtype=np.int64),
            cell=np.zeros((num_envs, 2, self.params.n_cars), dtype=np.int64),
            light=np.zeros(num_envs, dtype=np.int64),
        )

    def reset(self, state: TrafficState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        # n_cars distinct cells per road, uniformly: the first n_cars of a random permutation, sorted.
        keys = rng.random((len(idx), 2, self.ring))
        cells = np.argsort(keys, axis=2)[:, :, : self.params.n_cars]
        state.cell[idx] = np.sort(cells, axis=2) + self._ring_offset
        state.light[idx] = 0  # road 0 green, no yellow phase

    def step(
        self, state: TrafficState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        p = self.params
        # The light: one look-up by (light, action) for its next code, one for the cells its red roads block during
        # this step, already broadcast to every car (comparing against an (N, 2, 1) array is three times slower).
        light_action = state.light * 2
        light_action += action
        phantom = self._light_phantom.take(light_action, axis=0)
        self._light_next.take(light_action, out=state.light)
        # Cars: each advances one cell if the cell in front was empty at the start of the step (parallel update)
        # and, at the stop line, its road has green; a car free to move dawdles with probability p_slow.
        cell = state.cell
        n = len(cell)
        nxt = self._next_cell.take(cell)
        free = nxt != cell.take(self._ahead, axis=2)
        free &= nxt != phantom
        # For bools a > b is a & ~b: one NumPy call where ``&`` and ``~`` would take two.
        waiting = np.greater(self._in_view.take(cell), free)  # in view and blocked (dawdling does not count)
        dawdle = bernoulli_mask((n, 2 * p.n_cars), p.p_slow, rng)[0].reshape(cell.shape)
        move = np.greater(free, dawdle, out=free)
        # cell += (nxt - cell) * move: a masked copy would branch on random data, which costs twice as much.
        nxt -= cell
        nxt *= move
        cell += nxt
        reward = waiting.reshape(n, -1).astype(np.float32) @ self._minus_ones
        return reward, np.zeros(n, dtype=bool)

    def observe(self, state: TrafficState, rng: np.random.Generator) -> np.ndarray:
        n, width = len(state.cell), 2 * self.seg
        # The n observations, then a spare row whose first element takes every car out of view: a scatter with no
        # mask, and the observations are a contiguous view of the buffer.
        buf = np.zeros((n + 1, width), dtype=np.float32)
        if n == 1:  # no row offsets, so the table can send cars out of view to the spare element itself
            buf.put(self._obs_index_one.take(state.cell), 1.0)
        else:
            index = self._obs_index.take(state.cell)
            index += self._row_offsets(n)
            np.minimum(index, n * width, out=index)
            buf.ravel()[index] = 1.0  # buf is fresh and contiguous, so ravel is a view (and this beats put when large)
        return buf[:n]

    def _row_offsets(self, n: int) -> np.ndarray:
        """Flat offset of each car's row in the observation buffer, ``(n, 2, n_cars)``: adding a full array is much
        faster than broadcasting an ``(n, 1, 1)`` one."""
        rows = self._rows_cache.get(n)
        if rows is None:
            rows = np.arange(n) * 2 * self.seg
            rows = self._rows_cache[n] = np.repeat(rows, 2 * self.params.n_cars).reshape(n, 2, self.params.n_cars)
        return rows

    def info(self, state: TrafficState) -> dict[str, np.ndarray]:
        return dset_info(self.dset, len(state.cell))

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: TrafficState) -> dict[str, np.ndarray]:
        return {
            "car_pos": self.car_pos(state),
            "green": state.green,
            "yellow_left": state.yellow,
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
