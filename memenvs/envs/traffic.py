"""Traffic control from the influence-aware memory paper, as a cellular traffic model on the authors' figure-8.

The IAM paper ran SUMO on a network of two loops through one signalised junction (influence-aware-memory,
``environments/sumo/scenarios/loop_network``); every car drives a figure-8, alternating between the junction's two
approaches. This is a NumPy re-implementation of that task: the same layout, observation window, car count, light
logic and reward, with a cellular car model in place of SUMO's car-following physics.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, PerCopyTable, State, count_rows, dset_info
from memenvs.envs.params import check_int, check_probability, normalise
from memenvs.envs.rendering import GridFrame, Marker, Tile
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv

ROAD_NAMES = ("north-south", "east-west")

# The authors' network (scenarios/loop_network/sample.net.xml): junction 0 at (40, 40) m; loop A through (40, 0),
# (0, 0), (0, 40); loop B through (100, 40), (100, 100), (40, 100); one lane per edge, 8.3 m/s everywhere. Every
# route is the figure-8 L68 -> L61 -> L62 -> L63 -> L64 -> L65 -> L66 -> L67 -> L68 (with the junction's straight
# internal lanes and 2.58 m corners between edges). Positions below are metres along that route, 0 at the start of
# L68 (the north approach, (38.4, 100)), in the direction of travel.
EDGES = (  # (name, start, end) in metres along the route
    ("L68", 0.0, 56.0), (":0_0", 56.0, 67.2), ("L61", 67.2, 96.8), (":2_0", 96.8, 99.38),
    ("L62", 99.38, 132.98), (":3_0", 132.98, 135.56), ("L63", 135.56, 169.16), (":4_0", 169.16, 171.74),
    ("L64", 171.74, 201.34), (":0_3", 201.34, 212.54), ("L65", 212.54, 268.54), (":5_0", 268.54, 271.12),
    ("L66", 271.12, 331.12), (":6_0", 331.12, 333.70), ("L67", 333.70, 393.70), (":7_0", 393.70, 396.28),
)
LOOP = 396.28
#: Where a car stops for a red light: 1 m before the ends of L68 (north approach) and L64 (west approach), where
#: SUMO 1.20 halts the first car of a queue on this network.
STOP = (55.0, 200.34)
#: Where each route's cars enter: 5 m (a car length, SUMO's departPos "base") into L67 and into L63.
ENTRY = (338.70, 140.56)
# The observation: the authors' 15x15 map of 4 m cells (0.25 pixels per metre) over x, y in [9, 68] m, of which
# they keep column 8 (x in [38, 42): the north-south road, north to south) and row 6 (y in [38, 42): the east-west
# road, west to east). On the route, column 8 cell r is (34 + 4r, 38 + 4r] and row 6 cell c is
# [174.54 + 4c, 178.54 + 4c) (x = position - 168.54 there).
VIEW_START = (34.0, 174.54)
CELLS_PER_METRE = 50  # resolution of the position -> observation element table
CENTRE = (6, 23)  # the observation elements of the junction's centre cell, which both lines contain
CELL = 4.0
# SUMO's default passenger car (Krauss model) and the network's speed limit.
MAX_SPEED = 8.3
ACCEL, DECEL, TAU = 2.6, 4.5, 1.0
CAR_LENGTH, MIN_GAP = 5.0, 2.5
HALTING_SPEED = 0.1  # SUMO counts waiting time below this speed
NUMERICAL_EPS = 0.001  # SUMO's slack on safe gaps (metres)
REWARD_SCALE = 10.0  # the authors' scaling_factor
_FAR = 1e9  # gap to a car that is not on the road (yet)


@dataclasses.dataclass(frozen=True)
class TrafficParams:
    """Parameters of the traffic task (see :class:`TrafficEnv` for their meaning)."""

    n_cars: int = 6
    yellow_steps: int = 6
    sigma: float = 0.5
    max_steps: int = 250

    def __post_init__(self) -> None:
        normalise(self, "n_cars", check_int, 1, 40)
        normalise(self, "yellow_steps", check_int, 0, 100)
        normalise(self, "sigma", check_probability)
        normalise(self, "max_steps", check_int, 1)


@dataclasses.dataclass
class TrafficState(State):
    pos: np.ndarray  # (N, n_cars) metres along the route of each car's front, -1 before the car is on the road
    speed: np.ndarray  # (N, n_cars) m/s
    route: np.ndarray  # (N, n_cars) 0: enters on L67, 1: enters on L63
    # (N, n_cars) index of the car in front (the car itself while it is alone or not on the road): one lane and no
    # overtaking, so this changes only when a car enters between two others.
    leader: np.ndarray
    # The light as one code: 0 / 1 green for the north-south / east-west approach; 2 + 2 * timer + target during a
    # yellow phase (timer = yellow steps left after this one); ``unset`` before the first step, when the first
    # action sets the light at once, as the authors' adapter does.
    light: np.ndarray


def brake_gap(speed: np.ndarray) -> np.ndarray:
    """Distance to stop from ``speed`` braking at DECEL once per 1 s step (SUMO's MSCFModel::brakeGap, Euler)."""
    steps = np.floor(speed / DECEL)
    return steps * speed - DECEL * steps * (steps + 1) / 2


def safe_stop_speed(gap: np.ndarray) -> np.ndarray:
    """The fastest speed this step from which a car still stops within ``gap`` metres, moving that speed now and
    braking by DECEL in each later 1 s step, with reaction time TAU (SUMO's maximumSafeStopSpeed, Euler update): n
    full braking steps, then the rest of the gap spread over the first one."""
    # SUMO first takes NUMERICAL_EPS off the gap, so a car that is (almost) at its stop point gets exactly 0;
    # without it speeds and gaps decay geometrically into subnormal floats, which are also ruinously slow.
    g = np.array(gap, dtype=np.float64, ndmin=1)  # a fresh array (also for a scalar) that the formula overwrites
    g -= NUMERICAL_EPS
    np.maximum(g, 0.0, out=g)
    return _safe_stop_speed_inplace(g).reshape(np.shape(gap))


def _safe_stop_speed_inplace(g: np.ndarray) -> np.ndarray:
    """:func:`safe_stop_speed` of ``g`` = max(gap - NUMERICAL_EPS, 0), a float64 array that it overwrites and returns.

    At N = 1 a step costs about one microsecond per NumPy call, so SUMO's formula
    ``n = floor(0.5 - TAU + sqrt((TAU - 0.5)**2 + 2 g / DECEL))``, ``h = 0.5 n (n - 1) DECEL + n DECEL TAU``,
    ``n DECEL + (g - h) / (n + TAU)`` is evaluated in fewer calls that give the same bits: ``2 g / DECEL`` is
    ``g / (DECEL / 2)`` (scaling by two is exact, and both round the same quotient); with TAU = 1 every term of
    ``h`` is an exact multiple of 1/4 far below 2**53 (n is at most about 2 * 10**4 for the largest gap, 1e9 m),
    so ``h`` is exactly ``n (n + 1) DECEL / 2`` however it is grouped, and ``n + TAU`` is ``n + 1``.
    """
    n = g / (DECEL / 2.0)
    n += (TAU - 0.5) ** 2
    np.sqrt(n, out=n)
    n += 0.5 - TAU
    np.floor(n, out=n)
    n1 = n + TAU
    h = n * n1
    h *= DECEL / 2.0
    g -= h
    g /= n1
    n *= DECEL
    g += n
    return g


# The shortcuts above and in TrafficCore.step rely on these (exact arithmetic with TAU = 1; speeds below 2 DECEL
# brake to a stop in at most one full step).
assert TAU == 1.0 and DECEL / 2.0 * 2.0 == DECEL and 0.0 <= MAX_SPEED < 2.0 * DECEL


def _last_below(line: float, reach: float) -> float:
    """The largest float ``x`` with ``line - x >= reach`` (in float64): past it a car is within reach of ``line``."""
    x = line - reach
    while line - x < reach:
        x = np.nextafter(x, -np.inf)
    while line - np.nextafter(x, np.inf) >= reach:
        x = np.nextafter(x, np.inf)
    return float(x)


class TrafficCore(Core):
    """Batched traffic on the authors' figure-8: SUMO's Krauss car-following model, one step per second.

    Cars are stored by position along the route, so a step is a handful of whole-array operations over
    ``(N, n_cars)`` and the ``(N, n_cars, n_cars)`` distances between cars.
    """

    Params = TrafficParams
    name = "Traffic"
    render_fps = 8
    action_names = ("green north-south", "green east-west")

    def __init__(self, params: TrafficParams) -> None:
        super().__init__(params)
        p = params
        self.observation_space = spaces.Box(0.0, 1.0, shape=(30,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        #: Observation indices of the far end of the two outgoing lanes (the authors' manual d-set, configs/traffic/
        #: IAM_manual.yaml): the cars about to leave the view, which come back on the other approach.
        self.dset = np.array([13, 14, 28, 29], dtype=np.int64)
        self.dset.flags.writeable = False
        self.unset = 2 + 2 * p.yellow_steps
        self._light_next = self._light_table()
        # What each light code asks of each approach: 0 go, 1 stop if you can (yellow), 2 stop (red). Yellow shows on
        # the approach that had green; the other one stays red.
        rule = np.full((self.unset + 1, 2), 2, dtype=np.int64)
        rule[0, 0] = rule[1, 1] = 0
        for code in range(2, self.unset):
            rule[code, 1 - (code - 2) % 2] = 1
        self._stop_rule = rule.ravel()
        # Observation element by position, in bins of 1 / CELLS_PER_METRE m (every cell boundary is a bin boundary):
        # column 8 cell r holds (34 + 4r, 38 + 4r], row 6 cell c holds [174.54 + 4c, 178.54 + 4c).
        start = np.arange(-CELLS_PER_METRE, int(LOOP * CELLS_PER_METRE) + 1) / CELLS_PER_METRE
        col = np.ceil((start + 0.5 / CELLS_PER_METRE - VIEW_START[0]) / CELL) - 1
        row = np.floor((start - VIEW_START[1]) / CELL + 1e-9)
        cell = np.where((col >= 0) & (col < 15), col, np.where((row >= 0) & (row < 15), 15 + row, 30))
        self._cell_of_bin = np.where(start < 0, 30, cell).astype(np.int64)
        # The observation elements each bin sets: its cell and, for the junction's centre cell (in both lines), the
        # other line's element too; 30 is a spare element that takes what is out of view.
        other = np.select([self._cell_of_bin == CENTRE[0], self._cell_of_bin == CENTRE[1]], [CENTRE[1], CENTRE[0]], 30)
        self._elements_of_bin = np.stack([self._cell_of_bin, other], axis=1)
        self._row_offsets = PerCopyTable(self._row_offsets_of)
        self._car_rows = PerCopyTable(self._car_rows_of)
        self._build_step_tables()

    def _build_step_tables(self) -> None:
        """Lookup tables that let a step classify cars by their next stop line with one ``searchsorted`` instead of
        some ten comparisons and selections (at N = 1 the cost of a step is the number of NumPy calls, not their
        size; for large batches a searchsorted costs about as much as those calls). The tables give exactly the
        values the comparisons did, so the dynamics are unchanged."""
        # Where a car stands relative to the next stop line: its region, by ``_line_bounds.searchsorted(pos)`` (a
        # region holds the positions in (bounds[i - 1], bounds[i]]): 0 north line out of reach, 1 north line within
        # reach, 2 west line out of reach, 3 west line within reach, 4 past the west line (north line, far). "Within
        # reach" is the step's test ``to_line < 4 * MAX_SPEED``, with the exact float threshold of the subtraction.
        reach = 4 * MAX_SPEED
        self._line_bounds = np.array([_last_below(STOP[0], reach), STOP[0], _last_below(STOP[1], reach), STOP[1]])
        # Past the west line the north line is more than a loop minus its distance away: never within reach.
        assert (STOP[0] - np.nextafter(LOOP, 0.0)) + LOOP >= reach
        # to_line = _line_of_region[region] - pos where it matters (within reach; elsewhere any finite value).
        self._line_of_region = np.array([0.0, STOP[0], 0.0, STOP[1], 0.0])
        # A car must stop when brake_gap(speed) + offset <= to_line, offset by light code and region: -inf where
        # the rule is red (always), 0 where it is yellow (if it can brake in time), +inf where it is green or the
        # line is out of reach (never).
        offset = np.full((self.unset + 1, 5), np.inf)
        for code in range(self.unset + 1):
            for region, west in ((1, 0), (3, 1)):
                offset[code, region] = (np.inf, 0.0, -np.inf)[self._stop_rule[2 * code + west]]
        self._stop_offset = offset.ravel()
        self._light_next_by_5 = self._light_next * 5  # row of the new light code in _stop_offset, by 2 * code + action
        # Reward by number of halted cars, computed as the step did.
        halted = np.arange(self.params.n_cars + 1)
        self._reward_of_halted = halted.astype(np.float32) * np.float32(-1.0 / REWARD_SCALE) + np.float32(0.0)

    def _light_table(self) -> np.ndarray:
        """Next light code by ``2 * code + action``: the authors' adapter (SumoGymAdapter._set_lights). Asking for
        the other approach turns the green one yellow for ``yellow_steps`` steps (the first of them this step),
        after which the approach asked for gets green, whatever the actions during the yellow were."""
        y = self.params.yellow_steps
        table = np.zeros(2 * (self.unset + 1), dtype=np.int64)
        for code in range(self.unset + 1):
            for action in (0, 1):
                if code == self.unset:
                    nxt = action
                elif code < 2:  # a green: the same approach stays, the other one starts a yellow phase
                    nxt = code if action == code else (2 + 2 * (y - 1) + action if y else action)
                else:
                    timer, target = divmod(code - 2, 2)
                    nxt = 2 + 2 * (timer - 1) + target if timer > 0 else target
                table[2 * code + action] = nxt
        return table

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        return self.params.max_steps

    def init_state(self, num_envs: int) -> TrafficState:
        k = self.params.n_cars
        return TrafficState(
            t=np.zeros(num_envs, dtype=np.int64),
            pos=np.full((num_envs, k), -1.0),
            speed=np.zeros((num_envs, k)),
            route=np.zeros((num_envs, k), dtype=np.int64),
            leader=np.tile(np.arange(k), (num_envs, 1)),
            light=np.zeros(num_envs, dtype=np.int64),
        )

    def reset(self, state: TrafficState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        # The authors' route generation (car_tm = 6, car_pr = 1): car k departs at t = k on one of the two routes,
        # drawn uniformly; no car is on the road at the first observation.
        state.route[idx] = rng.integers(0, 2, size=(len(idx), self.params.n_cars))
        state.pos[idx] = -1.0
        state.speed[idx] = 0.0
        state.leader[idx] = np.arange(self.params.n_cars)
        state.light[idx] = self.unset

    def step(
        self, state: TrafficState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        # Every line is a whole-array NumPy call; at N = 1 a call costs about a microsecond whatever its size, so
        # the step is written in as few calls as give the same bits (see _build_step_tables, safe_stop_speed).
        p = self.params
        light = state.light * 2
        light += action
        self._light_next.take(light, out=state.light)
        code = self._light_next_by_5.take(light[:, None])  # 5 * the new code, a column: see _build_step_tables
        pos, speed = state.pos, state.speed
        n = len(pos)
        on_road = pos >= 0
        # Krauss (SUMO's default): the fastest speed from which the car can still stop behind its leader (who may
        # brake at DECEL) and, at a red light or a yellow one it can stop for, before its next stop line.
        lead = state.leader if n == 1 else state.leader + self._car_rows(n)
        slower = speed - DECEL  # full braking, also the least speed this step
        braking = np.maximum(slower, 0.0)  # brake_gap(speed): below 2 DECEL at most one full braking step
        # Distances along the loop: x % LOOP for x in (-LOOP, 2 * LOOP), written as one conditional add, because
        # NumPy's float remainder costs some thirty times as much (the result is the same to the bit).
        lead_pos = pos.take(lead)
        gap = lead_pos - pos
        gap += (gap < 0) * LOOP
        gap -= CAR_LENGTH + MIN_GAP
        gap[lead_pos == pos] = _FAR  # no car in front (the car's own index)
        np.maximum(gap, 0.0, out=gap)
        gap += braking.take(lead)
        # The next stop line, and whether the car must stop before it: at a red light, or at a yellow one it can
        # stop for (SUMO's rule for yellow: a car that cannot stop with its normal deceleration drives on); lines
        # out of reach this step do not matter.
        region = self._line_bounds.searchsorted(pos)
        to_line = self._line_of_region.take(region)
        to_line -= pos
        region += code
        must_stop = self._stop_offset.take(region)
        must_stop += braking
        must_stop = np.less_equal(must_stop, to_line)
        # The safe speed grows with the gap, so the smaller of the two gaps gives the smaller of the two speeds.
        np.minimum(gap, to_line, out=gap, where=must_stop)
        gap -= NUMERICAL_EPS
        np.maximum(gap, 0.0, out=gap)
        safe = _safe_stop_speed_inplace(gap)
        fastest = speed + ACCEL
        np.minimum(fastest, MAX_SPEED, out=fastest)
        np.minimum(fastest, safe, out=fastest)
        # Dawdling (Krauss sigma, SUMO's dawdle2): slower by a random fraction of sigma * accel (of the speed itself
        # below accel), never below what full braking allows, nor above the safe speed.
        dawdle = rng.random(pos.shape)
        dawdle *= np.minimum(fastest, ACCEL)
        dawdle *= p.sigma
        new = np.subtract(fastest, dawdle, out=dawdle)
        np.maximum(new, slower, out=new)
        np.maximum(new, 0.0, out=new)
        np.minimum(new, fastest, out=new)
        np.multiply(new, on_road, out=speed)  # cars not on the road stay at -1
        pos += speed
        pos -= (pos >= LOOP) * LOOP
        # Halted cars have waited >= 1 s: the authors' reward, -sum over cars of min(waiting time, 1), / 10.
        halted = speed < HALTING_SPEED
        halted &= on_road
        reward = self._reward_of_halted.take(count_rows(halted))
        # Cars still off the road (pos stays -1 until a car enters) are the only ones that can enter.
        if not on_road.all():
            self._insert(state)
        return reward, np.zeros(n, dtype=bool)

    @staticmethod
    def set_leaders(state: TrafficState) -> None:
        """Recompute every car's leader from the positions (for states written by hand; the dynamics keep them)."""
        pos = state.pos
        d = np.remainder(pos[:, None, :] - pos[:, :, None], LOOP)
        d[(pos < 0)[:, None, :] | (pos < 0)[:, :, None] | (d == 0)] = _FAR
        alone = d.min(axis=2) >= _FAR
        state.leader[:] = np.where(alone, np.arange(pos.shape[1]), d.argmin(axis=2))

    def _car_rows_of(self, n: int) -> np.ndarray:
        """``row * n_cars`` for a batch of ``n``: flat index of each row's first car (``self._car_rows(n)``)."""
        k = self.params.n_cars
        return np.repeat(np.arange(n) * k, k).reshape(n, k)

    def _insert(self, state: TrafficState) -> None:
        """Cars whose departure time has come enter at their route's entry, standing, when the car in front has
        moved on far enough (its back at least MIN_GAP ahead) and none is close behind; one that cannot waits
        (SUMO's delayed insertion). Cars enter in departure order."""
        pos = state.pos
        due = (pos < 0) & (np.arange(self.params.n_cars) <= state.t[:, None])
        if not due.any():
            return
        entries = np.array(ENTRY)
        spacing = CAR_LENGTH + MIN_GAP
        for k in np.flatnonzero(due.any(axis=0)):
            rows = np.flatnonzero(due[:, k])
            entry = entries[state.route[rows, k]]
            others = pos[rows]
            ahead = np.where(others < 0, _FAR, (others - entry[:, None]) % LOOP)
            behind = np.where(others < 0, _FAR, (entry[:, None] - others) % LOOP)
            clear = (ahead >= spacing).all(axis=1) & (behind >= spacing).all(axis=1)
            rows, ahead, behind = rows[clear], ahead[clear], behind[clear]
            pos[rows, k] = entries[state.route[rows, k]]
            state.speed[rows, k] = 0.0
            # The new car's leader is the nearest car ahead; the nearest car behind follows it now (alone: itself).
            alone = ahead.min(axis=1) >= _FAR
            state.leader[rows, k] = np.where(alone, k, ahead.argmin(axis=1))
            follower = behind.argmin(axis=1)
            state.leader[rows[~alone], follower[~alone]] = k

    def cells(self, state: TrafficState) -> np.ndarray:
        """``(N, n_cars)`` observation element (0..29) of each car, 30 for a car out of view or not on the road."""
        index = state.pos * CELLS_PER_METRE
        index += CELLS_PER_METRE  # -1 (not on the road) -> bin 0
        return self._cell_of_bin.take(index.astype(np.int64))

    def observe(self, state: TrafficState, rng: np.random.Generator) -> np.ndarray:
        n = len(state.pos)
        # The n observations, then one spare element that takes every car out of view: a scatter with no mask (the
        # 7.5 m between fronts on a lane keeps them in distinct 4 m cells); the observations are a contiguous view.
        # Each car sets two elements (see _elements_of_bin): the junction centre (x, y in [38, 42) m) is one cell
        # of the authors' map, in both lines, so a car there, from either approach, shows in elements 6 and 23.
        index = state.pos * CELLS_PER_METRE
        index += CELLS_PER_METRE  # -1 (not on the road) -> bin 0
        elements = self._elements_of_bin.take(index.astype(np.int64), axis=0)
        if n > 1:  # a batch of one needs no row offsets, and its spare element is already n * 30
            elements = np.where(elements == 30, n * 30, elements + self._row_offsets(n))
        buf = np.zeros(n * 30 + 1, dtype=np.float32)
        buf[elements] = 1.0
        return buf[: n * 30].reshape(n, 30)

    def _row_offsets_of(self, n: int) -> np.ndarray:
        """Flat offset of each row in the observation buffer, ``(n, 1, 1)`` (``self._row_offsets(n)``)."""
        return (np.arange(n) * 30)[:, None, None]

    def info(self, state: TrafficState) -> dict[str, np.ndarray]:
        return dset_info(self.dset, len(state.pos))

    # ------------------------------------------------------------------ analysis
    def green(self, state: TrafficState) -> np.ndarray:
        """Approach that has green (or will have, after a yellow phase); 0 before the first step."""
        code = state.light
        return np.where(code == self.unset, 0, np.where(code < 2, code, (code - 2) % 2))

    def yellow_left(self, state: TrafficState) -> np.ndarray:
        """Yellow steps still to come, this one included (0 while a green is shown)."""
        code = state.light
        return np.where((code >= 2) & (code < self.unset), (code - 2) // 2 + 1, 0)

    def hidden_state(self, state: TrafficState) -> dict[str, np.ndarray]:
        return {
            "car_pos": state.pos.copy(),
            "speed": state.speed.copy(),
            "green": self.green(state),
            "yellow_left": self.yellow_left(state),
            "hidden_cars": ((state.pos >= 0) & (self.cells(state) == 30)).sum(axis=1),
        }

    # ------------------------------------------------------------------ presentation
    def frame(self, state: TrafficState, i: int) -> GridFrame:
        tiles = np.zeros((15, 15), dtype=np.int64)
        tiles[:, 8] = 1  # the north-south line, north at the top
        tiles[6, :] = 1  # the east-west line, west at the left
        tiles[6, 8] = 3
        yellow, green = int(self.yellow_left(state)[i]), int(self.green(state)[i])
        tiles[5, 8] = 5 if yellow > 0 else (4 if green == 0 else 6)  # the north approach's stop line is in cell 5
        tiles[6, 6] = 5 if yellow > 0 else (4 if green == 1 else 6)  # the west approach's in cell 6
        markers, off = [], 0
        for index, x in zip(self.cells(state)[i], state.pos[i]):
            if index < 15:
                markers.append(Marker(int(index), 8, (235, 140, 40), "v", scale=0.75))
            elif index < 30:
                markers.append(Marker(6, int(index) - 15, (60, 110, 220), ">", scale=0.75))
            else:
                off += 1
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
            (pygame.K_UP,): 0, (pygame.K_DOWN,): 0, (pygame.K_w,): 0, (pygame.K_s,): 0,
            (pygame.K_LEFT,): 1, (pygame.K_RIGHT,): 1, (pygame.K_a,): 1, (pygame.K_d,): 1,
        }


def scripted_action(core: TrafficCore, state: TrafficState | None, obs: np.ndarray, know_hidden: bool) -> np.ndarray:
    """A batch of actions of a scripted light controller; the figures in the docstrings and tests come from it.

    Reactive (``know_hidden=False``, uses only ``obs``): green for the approach with more cars on its incoming
    cells (north-south cells 0..5, east-west cells 15..21; ties: north-south). Oracle (``know_hidden=True``, also
    reads ``state``: every car, in view or not): keep the current green while one of its cars is within 20 m of its
    stop line; otherwise green for the approach whose nearest car is nearer.
    """
    incoming = (obs[:, :6].sum(axis=1), obs[:, 15:22].sum(axis=1))
    if not know_hidden:
        return (incoming[1] > incoming[0]).astype(np.int64)
    if state is None:
        raise ValueError("the oracle (know_hidden=True) needs the state")
    on_road = state.pos >= 0
    near = [np.where(on_road, (STOP[r] - state.pos) % LOOP, _FAR).min(axis=1) for r in (0, 1)]
    cur = core.green(state)
    busy = np.where(cur == 0, near[0], near[1]) <= 20.0
    best = (near[1] < near[0]).astype(np.int64)
    return np.where(busy, cur, best).astype(np.int64)


class TrafficEnv(MemoryEnv):
    """Traffic control (Suau et al., influence-aware memory) on the authors' network, without SUMO.

    ## Description
    The authors' network (influence-aware-memory, ``environments/sumo/scenarios/loop_network``): two one-lane loops
    meet at one signalised junction at (40, 40) m, loop A (about 145 m) to the south-west and loop B (about 251 m)
    to the north-east. All ``n_cars`` = 6 cars drive the same figure-8 (their generated routes): down the north
    approach L68, straight through the junction into loop A, round it, in again on the west approach L64, straight
    through into loop B, round it and back to L68, so every car alternates between the two approaches. The agent
    chooses every second (one step) which approach has green. It sees two 15-cell lines of 4 m cells through the
    junction: about 6 cells of each approach, the junction, and 6 to 8 cells of each outgoing road. A car leaving
    the view on an outgoing road comes back some 15 to 30 s later on the other approach; the far end of the two
    outgoing lines (the authors' d-set, observation indices 13, 14, 28, 29) is what a memory should keep. The light
    is not in the observation, and a change of green takes a 6 s yellow phase.

    **Cars** follow SUMO's default model, re-implemented in NumPy with one step per second: Krauss car-following
    (acceleration 2.6 m/s^2, deceleration 4.5 m/s^2, reaction time 1 s, driver imperfection ``sigma`` = 0.5, car
    length 5 m, minimum gap 2.5 m, speed limit 8.3 m/s: about two 4 m cells per step), with SUMO's Euler-update
    formulas for the safe speed behind a leader and before a stop line. A car stops for a red light 1 m before the
    stop line (where SUMO 1.20 halts it on this network), and for a yellow one when it can brake in time. Car
    ``k`` departs at ``t = k`` s on one of the two routes drawn uniformly (entering 5 m into L67 or L63, standing,
    and waiting while the entry is taken), as the authors' route generation does (``car_tm`` = 6, ``car_pr`` = 1).

    **The light** follows the authors' adapter (``SumoGymAdapter._set_lights``): the first action sets the green at
    once; later, asking for the other approach turns the green one yellow for ``yellow_steps`` = 6 steps (the first
    of them that step; the other approach stays red), after which the approach asked for gets green whatever the
    actions during the yellow were.

    **What a NumPy model does not reproduce of SUMO**: its random number streams (so no step-by-step equality);
    the junction's internal right-of-way logic (foe checks, impatience; with the figure-8 routes and a 6 s yellow
    no two cars meet in the junction, so it never acts here); lane changing and teleporting (one lane, no
    gridlock); SUMO's exact insertion checks (approximated: a car enters when the car ahead is 7.5 m on); its
    rule for the curved corner lanes (here straight, at the speed limit, as the network's connections allow); and
    anything finer than a 1 s step. Under the random, fixed-cycle and reactive policies the returns agree with the
    authors' SUMO environment within 2 % (within sampling error at 500 episodes each), and so do the cars in view
    and how often each observation element is occupied (``docs/results/faithfulness.md``).

    ## Action Space
    ``Discrete(2)``: 0 green for the north approach (the authors' phase ``GGrr``), 1 green for the west approach
    (``rrGG``).

    ## Observation Space
    ``Box(0, 1, (30,), float32)``: whether a car's front is in each 4 m cell of the authors' map column 8 (x in
    [38, 42) m, north to south: indices 0 to 14; the north stop line is in cell 5, the junction centre in 6) and
    row 6 (y in [38, 42) m, west to east: indices 15 to 29; the west stop line is in cell 21, the junction centre
    in 23). The centre cell belongs to both lines, so a car there
    shows in elements 6 and 23.

    ## Rewards
    The authors' ``waiting_time`` reward: minus the number of cars in the network that are halted (speed below
    0.1 m/s, so their SUMO waiting time is at least 1 s), divided by 10. Between -0.6 and 0 with 6 cars.

    ## Starting State
    No car on the road; each car's route drawn uniformly; the light unset until the first action.

    ## Episode End
    No termination; truncation after ``max_steps`` = 250 steps (the authors' ``max_episode_steps``).

    ## Arguments
    * ``n_cars`` (int in [1, 40], default 6): cars, departing one per second.
    * ``yellow_steps`` (int in [0, 100], default 6): length of the yellow phase (the authors' ``y_t``).
    * ``sigma`` (float in [0, 1], default 0.5): Krauss driver imperfection (SUMO's default).
    * ``max_steps`` (int >= 1, default 250): episode length.

    ## Hidden state and bounds
    ``hidden_state()`` gives ``car_pos`` (metres along the route, -1 before departure), ``speed``, ``green``,
    ``yellow_left`` and ``hidden_cars`` (cars on the road out of view); ``info["dset"]`` and ``core.dset`` give the
    d-set indices 13, 14, 28, 29. No closed-form optimal or memoryless return is known (both ``None``).
    Monte-Carlo figures per episode (2000 episodes, seed 0; ``tests/test_traffic.py``, :func:`scripted_action`):
    uniform random -39.7; a fixed cycle of 20 steps per approach (needs a step counter: memory) -33.8; the reactive
    script (green for the approach with more incoming cars) -33.2; the oracle script that sees every car -9.9.

    ## Reference
    * M. Suau, J. He, E. Congeduti, R. A. N. Starre, A. Czechowski, F. A. Oliehoek, "Influence-aware Memory
      Architectures for Deep Reinforcement Learning in POMDPs", Neural Computing and Applications, 2022
      (arXiv:1911.07643); code: github.com/INFLUENCEorg/influence-aware-memory (``environments/sumo``).
    * S. Krauss, "Microscopic Modeling of Traffic Flow: Investigation of Collision Free Vehicle Dynamics", 1998;
      P. A. Lopez et al., "Microscopic Traffic Simulation using SUMO", ITSC 2018.

    ## Version History
    * v0 (changed in place before release): rebuilt on the authors' layout. Was: two separate loops of 30 cells
      with 6 cars each, a car returning to its own approach, 15 approach cells per road with the stop line at the
      end of the view, a rule-184 automaton at one cell per step, yellow 3 steps, reward minus the waiting cars in
      view. Now: one figure-8 with 6 cars in total, the authors' observation window and d-set, SUMO's Krauss
      car-following at up to 8.3 m/s (about 2 cells per step), yellow 6 steps, the authors' reward. The arguments
      ``segment_length``, ``hidden_length`` and ``p_slow`` are gone; ``sigma`` is new.
    * v0: initial release.
    """

    core_class = TrafficCore


class TrafficVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`TrafficEnv` (all copies step together in NumPy)."""

    core_class = TrafficCore
