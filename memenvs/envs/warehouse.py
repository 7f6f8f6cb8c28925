"""The warehouse of the influence-aware memory paper: collect items that appear on the border and vanish unseen-old.

Two ids share one batched core: ``Warehouse-v0`` (the paper's 7x7 setting, with an option that reproduces the
authors' 7x7 code) and ``MiniWarehouse-v0`` (the authors' later 5x5 code). The observation shows where items are
but not how long they have been there, so only an agent that remembers when each item appeared knows which ones it
can still reach before they vanish.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, PerCopyTable, State, count_rows, dset_info
from memenvs.envs.params import check_choice, check_int, check_optional_int, check_probability, normalise
from memenvs.envs.rendering import GridFrame, Marker, Tile, direction_keys
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3
_DELTAS = ((-1, 0), (1, 0), (0, -1), (0, 1))
MOVES = ("grid", "cross", "shelves")
REWARDS = ("unit", "waiting", "relative")
#: Scale of the ``relative`` reward: the authors' MiniWarehouse pays 0.25 * w / max(w) (warehouse_memory/).
RELATIVE_SCALE = 0.25

EMPTY = -(2**30)  # birth time of a cell without an item: older than any lifetime
_FRESH = np.array((250, 205, 40), dtype=np.float64)  # colour of an item that just appeared
_OLD = np.array((170, 30, 30), dtype=np.float64)  # colour of an item about to vanish


@dataclasses.dataclass(frozen=True)
class WarehouseParams:
    """Parameters of the warehouse (see :class:`WarehouseEnv` for their meaning); defaults are the paper's."""

    size: int = 7
    p_item: float = 0.05
    item_lifetime: int = 8
    max_steps: int = 100
    max_items: int | None = None
    moves: str = "grid"
    reward: str = "unit"
    corner_items: bool = True
    block_emptied: bool = False
    authors_code: bool = False

    def __post_init__(self) -> None:
        normalise(self, "size", check_int, 3, 63)
        normalise(self, "p_item", check_probability)
        normalise(self, "item_lifetime", check_int, 1, 10_000)
        normalise(self, "max_steps", check_int, 1)
        normalise(self, "max_items", check_optional_int, 1)
        check_choice("moves", self.moves, MOVES)
        check_choice("reward", self.reward, REWARDS)
        for name in ("corner_items", "block_emptied", "authors_code"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {value!r}")
            object.__setattr__(self, name, bool(value))
        if self.authors_code:
            # The option reproduces one program (the 7x7 code of influence-aware-memory); settings that program
            # does not have are refused rather than guessed.
            fixed = {"max_items": None, "reward": "unit", "corner_items": True, "block_emptied": False}
            wrong = [f"{k}={getattr(self, k)!r}" for k, v in fixed.items() if getattr(self, k) != v]
            if wrong:
                raise ValueError(f"authors_code=True needs max_items=None, reward='unit', corner_items=True, "
                                 f"block_emptied=False; got {', '.join(wrong)}")


@dataclasses.dataclass(frozen=True)
class MiniWarehouseParams(WarehouseParams):
    """The 5x5 variant's defaults, those of the authors' code: the robot roams the interior and reaches into the 12
    item cells, at most 4 items living 16 steps, 96-step episodes, the relative waiting-time reward, and an
    emptied cell blocked for one step."""

    size: int = 5
    item_lifetime: int = 16
    max_steps: int = 96
    max_items: int | None = 4
    moves: str = "shelves"
    reward: str = "relative"
    corner_items: bool = False
    block_emptied: bool = True


@dataclasses.dataclass
class WarehouseState(State):
    pos: np.ndarray  # robot cell, row * size + col
    # Per item cell, the value of ``t`` at which its item was first observed (its age is ``t - birth``), or EMPTY.
    # Storing birth times instead of ages makes ageing and expiry free: an item is present while its age is below
    # the lifetime. One extra column, always EMPTY, is where a robot standing on a cell without an item slot
    # "collects", so the step needs no mask (see WarehouseCore.step).
    birth: np.ndarray


@dataclasses.dataclass
class AuthorsWarehouseState(WarehouseState):
    # ``authors_code=True``: items are present while their birth is not EMPTY (they do not expire by age alone),
    # and ``seq`` orders them as the authors' item list does (order of appearance), which decides which items
    # their removal loop skips.
    seq: np.ndarray


def item_cells(size: int, corners: bool) -> np.ndarray:
    """The item cells as ``(row, col)`` pairs in observation order, the authors' (``observation[[0, -1], ...]``
    then ``observation[1:-1, [0, -1]].flatten()``): the top row and the bottom row (left to right), then the rows
    1 to ``size - 2`` top to bottom, each as its left cell then its right cell."""
    lo, hi = (0, size) if corners else (1, size - 1)
    top = [(0, c) for c in range(lo, hi)]
    bottom = [(size - 1, c) for c in range(lo, hi)]
    sides = [(r, c) for r in range(1, size - 1) for c in (0, size - 1)]
    return np.array(top + bottom + sides, dtype=np.int64)


def bernoulli_mask(
    shape: tuple[int, int], p: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """A bool array of i.i.d. Bernoulli(``p``) trials, drawn in a way whose cost falls with ``p``.

    Returns ``(mask, uniforms, flat)``: few trials (a single env) use one uniform per trial, returned as
    ``uniforms`` (those of the successes are i.i.d. uniform below ``p``, usable as random keys); many trials draw
    the geometric gaps between successes, about ``p`` draws per trial, and return the successes' flat indices.
    The choice depends only on the shape, so a batch of one always draws what a single env draws.
    """
    m = shape[0] * shape[1]
    if m <= 64:
        u = rng.random(shape)
        return u < p, u, None
    mask = np.zeros(shape, dtype=bool)
    if p <= 0.0:
        return mask, None, np.zeros(0, dtype=np.int64)
    mean = m * p
    chunk = int(mean + 4.0 * math.sqrt(mean) + 8)
    # A gap past the end means no more successes; capping gaps there keeps the sums from overflowing int64 when
    # p is tiny (geometric draws then saturate at 2**63 - 1) and changes no success inside the array.
    flat = np.cumsum(np.minimum(rng.geometric(p, size=chunk), m + 1)) - 1
    while flat[-1] < m:  # rare: more successes than the chunk holds
        flat = np.concatenate([flat, flat[-1] + np.cumsum(np.minimum(rng.geometric(p, size=chunk), m + 1))])
    flat = flat[: np.searchsorted(flat, m)]
    mask.ravel()[flat] = True
    return mask, None, flat


class WarehouseCore(Core):
    """Batched warehouse dynamics.

    The robot moves by a lookup table ``next_cell[cell * 4 + action]`` built from the ``moves`` rule, so a step is
    one table look-up for the robot, one gather/scatter on the item birth times for collection, and a few array
    operations for appearance (ageing and expiry cost nothing, see :class:`WarehouseState`); nothing loops over
    copies. Appearances are drawn as one Bernoulli process over all ``N * n_items`` cells by geometric gaps between
    successive candidates, about ``p_item`` draws per cell instead of one uniform per cell, and a batch then works
    on the list of candidates only.
    """

    Params = WarehouseParams
    name = "Warehouse"
    render_fps = 6
    action_names = ("up", "down", "left", "right")

    def __init__(self, params: WarehouseParams) -> None:
        super().__init__(params)
        p = params
        s = p.size
        self.n_cells = s * s
        self.items_rc = item_cells(s, p.corner_items)
        self.n_items = len(self.items_rc)
        self.item_cell = self.items_rc[:, 0] * s + self.items_rc[:, 1]
        self.start_cell = (s // 2) * s + s // 2
        #: Observation indices of the item bits: what the paper's IAM feeds its recurrent branch (the d-set).
        self.dset = np.arange(self.n_cells, self.n_cells + self.n_items, dtype=np.int64)
        self.dset.flags.writeable = False
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.n_cells + self.n_items,), dtype=np.float32)
        self.action_space = spaces.Discrete(4)
        self.allowed = self._allowed_cells()
        self.next_cell = self._move_table()
        # Cells without an item slot point at the always-empty extra column of ``birth``.
        self.slot_of_cell = np.full(self.n_cells, self.n_items, dtype=np.int64)
        self.slot_of_cell[self.item_cell] = np.arange(self.n_items)
        # Reward by the age of the collected item; ages >= lifetime (no item) are clipped onto the trailing 0. The
        # relative reward starts from (age + 1) and is divided by the oldest item's (age + 1) in step.
        ages = np.arange(p.item_lifetime, dtype=np.float64)
        value = {"unit": np.ones_like(ages), "waiting": (ages + 1.0) / p.item_lifetime,
                 "relative": RELATIVE_SCALE * (ages + 1.0)}[p.reward]
        self.reward_by_age = np.append(value, 0.0).astype(np.float32)
        # Rank of each item cell in the authors' scan (row by row, left to right), in [0, 1): where more items
        # could appear than ``max_items`` allows, the first ones in this order do, as in their loop.
        scan = np.argsort(np.argsort(self.item_cell, kind="stable"), kind="stable")
        self.scan_key = (scan / self.n_items).astype(np.float64)
        # An emptied cell stays free of new items until ``block`` steps later (authors' MiniWarehouse: 1).
        self.block = int(p.block_emptied)
        self._capped = p.max_items is not None and p.max_items < self.n_items
        # Constants of the per-step arithmetic, folded here (at N = 1 every NumPy call costs about a microsecond):
        # a cell is free for a new item when its birth is at most now - lifetime - block; a collected item's birth
        # becomes t + 1 - lifetime.
        self._free_age = p.item_lifetime + self.block
        self._blocked_birth = 1 - p.item_lifetime
        self.relative = p.reward == "relative"
        self._scan_keys = PerCopyTable(self._scan_keys_of)
        if p.authors_code:
            self._build_authors_draws()
        #: Shortest number of steps between any two cells under the movement rule (-1 where unreachable).
        self.distance = self._distances()
        # Per-step work at N = 1 is dominated by the fixed cost of each NumPy call, so the hot path uses tables that
        # save calls: a 2-D view of the move table (one fancy index instead of ``pos * 4 + action`` and a take) and
        # the one-hot robot rows of the observation (one take builds them).
        self._move = self.next_cell.reshape(self.n_cells, 4)
        self._obs_robot = np.eye(self.n_cells, self.n_cells + self.n_items, dtype=np.float32)
        self._row_offsets = PerCopyTable(self._row_offsets_of)

    # ------------------------------------------------------------------ tables
    def _allowed_cells(self) -> np.ndarray:
        s, mid = self.params.size, self.params.size // 2
        r, c = np.divmod(np.arange(self.n_cells), s)
        if self.params.moves == "cross":
            return (r == mid) | (c == mid)
        if self.params.moves == "shelves":
            edge_r, edge_c = (r == 0) | (r == s - 1), (c == 0) | (c == s - 1)
            return ~(edge_r & edge_c)
        return np.ones(self.n_cells, dtype=bool)

    def _move_table(self) -> np.ndarray:
        s = self.params.size
        table = np.zeros(self.n_cells * 4, dtype=np.int64)
        for cell in range(self.n_cells):
            r, c = divmod(cell, s)
            for a, (dr, dc) in enumerate(_DELTAS):
                nr, nc = r + dr, c + dc
                ok = 0 <= nr < s and 0 <= nc < s and self.allowed[cell] and self.allowed[nr * s + nc]
                if ok and self.params.moves == "shelves":
                    # As in the authors' code: border cells are shelves, entered and left only across the border,
                    # so a robot on the top or bottom row cannot move sideways, nor one on a side column vertically.
                    ok = not ((dr == 0 and r in (0, s - 1)) or (dc == 0 and c in (0, s - 1)))
                table[cell * 4 + a] = nr * s + nc if ok else cell
        return table

    def _distances(self) -> np.ndarray:
        dist = np.full((self.n_cells, self.n_cells), -1, dtype=np.int64)
        for src in range(self.n_cells):
            if not self.allowed[src]:
                continue
            dist[src, src] = 0
            frontier = [src]
            while frontier:
                nxt = []
                for cell in frontier:
                    for a in range(4):
                        n = int(self.next_cell[cell * 4 + a])
                        if dist[src, n] < 0:
                            dist[src, n] = dist[src, cell] + 1
                            nxt.append(n)
                frontier = nxt
        return dist

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        return self.params.max_steps

    def init_state(self, num_envs: int) -> WarehouseState:
        fields = dict(
            t=np.zeros(num_envs, dtype=np.int64),
            pos=np.zeros(num_envs, dtype=np.int64),
            birth=np.full((num_envs, self.n_items + 1), EMPTY, dtype=np.int64),
        )
        if self.params.authors_code:
            return AuthorsWarehouseState(**fields, seq=np.zeros((num_envs, self.n_items), dtype=np.int64))
        return WarehouseState(**fields)

    def reset(self, state: WarehouseState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        birth = np.full((len(idx), self.n_items + 1), EMPTY, dtype=np.int64)
        now = np.zeros(len(idx), dtype=np.int64)
        if self.params.authors_code:
            seq = np.zeros((len(idx), self.n_items), dtype=np.int64)
            self._appear_authors(birth, seq, now, rng)
            state.seq[idx] = seq
        else:
            self._appear(birth, now, rng)  # the first observation may show items
        state.birth[idx] = birth
        state.pos[idx] = self.start_cell

    def _appear(self, birth: np.ndarray, t: np.ndarray, rng: np.random.Generator, ahead: int = 0) -> None:
        """Every item cell empty at time ``now = t + ahead`` (per copy) gets an item born at ``now`` with probability
        ``p_item``, keeping at most ``max_items`` items per copy; ``birth`` (with its extra column) changes in
        place.

        Where a copy has more candidates than room, the first ones in the authors' scan order (row by row) appear,
        as in their loop. Few cells (a single env) are handled as a mask over all cells, the fewest NumPy calls;
        many as a list of candidates, about ``p_item`` of the cells (the two agree; see the tests). With
        ``block_emptied`` a cell emptied in this step (collected or expired) gets no new item until the next one.
        ``now`` is computed only where there is a candidate (a single env's step mostly has none).
        """
        n, k = len(birth), self.n_items
        p = self.params.p_item
        if p <= 0.0 or n == 0:
            return
        new, _, flat = bernoulli_mask((n, k), p, rng)
        capped = self._capped
        if flat is None:
            if np.count_nonzero(new):  # most steps of a single env have no candidate
                now = t + ahead if ahead else t
                self._appear_by_mask(birth, now, new, self._scan_keys(n) if capped else None)
        elif flat.size:
            now = t + ahead if ahead else t
            self._appear_by_candidates(birth, now, flat, self.scan_key.take(flat % k) if capped else None)

    def _appear_by_mask(self, birth: np.ndarray, now: np.ndarray, new: np.ndarray, keys: np.ndarray | None) -> None:
        """:meth:`_appear` given the ``(n, n_items)`` mask of candidates ``new`` and their keys (None: no cap); the
        smallest keys win.

        Only few cells come here (a single env, or a handful of copies), where a step's cost is its number of NumPy
        calls: the ages are computed once, and the step ends as soon as nothing can appear (no candidate on a free
        cell, or every overflowing copy already full), the usual outcomes under a small cap.
        """
        k = self.n_items
        now_col = now[:, None]
        age = np.subtract(now_col, birth)[:, :k]  # exact: births and times are small integers
        free = age >= self._free_age
        new &= free
        if keys is not None:
            candidates = np.count_nonzero(new)
            if not candidates:
                return
            cap = self.params.max_items
            # A copy overflows when its items plus its candidates exceed the cap. Its items are the cells that are
            # not free, except (with blocking) the blocked ones, which are neither items nor free; candidates are
            # free cells, so the two never overlap and their counts add up.
            items = count_rows(age < self.params.item_lifetime) if self.block else k - count_rows(free)
            room = cap - items  # >= 0: at most cap items ever exist
            if len(birth) == 1:
                # A single env: full, or with room for every candidate (the usual outcomes), is decided on plain
                # numbers instead of the per-row counts and selections below, which would only confirm it.
                if not room[0]:
                    return
                if candidates <= room[0]:
                    np.copyto(birth[:, :k], now_col, where=new)
                    return
            over = np.flatnonzero(count_rows(new) > room)
            if over.size:
                rows = slice(None) if over.size == len(birth) else over  # a view when every copy overflows
                room = room[rows]
                if not np.count_nonzero(room):
                    # Every overflowing copy is full: none of its candidates appears (the ranking below would find
                    # no key below its smallest one).
                    if over.size == len(birth):
                        return
                    new[rows] = False
                else:
                    sub = np.where(new[rows], keys[rows], 2.0)
                    kth = np.sort(sub, axis=1)[np.arange(len(over)), room]
                    new[rows] &= sub < kth[:, None]
        np.copyto(birth[:, :k], now_col, where=new)

    def _appear_by_candidates(
        self, birth: np.ndarray, now: np.ndarray, flat: np.ndarray, keys: np.ndarray | None
    ) -> None:
        """:meth:`_appear` given the candidates' flat indices into ``(n, n_items)``, ascending, and their keys
        (None: no cap)."""
        k = self.n_items
        row = flat // k
        slot = flat + row  # flat index into ``birth``, which has one extra column
        deadline = (now - self.params.item_lifetime).take(row)  # items born after it are present
        free = birth.take(slot) <= deadline - self.block
        slot, row = slot[free], row[free]
        if keys is not None:
            keys, deadline = keys[free], deadline[free]
            room = self.params.max_items - count_rows(np.greater(birth.take(row, axis=0)[:, :k], deadline[:, None]))
            # Rank of each candidate among its copy's candidates by key; the first ``room`` of each copy appear. As
            # keys are in [0, 1), ``row + keys`` sorts by copy then key (a quarter of lexsort's time) unless rounding
            # made two sums equal: rounding keeps order, so only a tie can mislead, and then lexsort decides.
            order = np.argsort(row + keys)
            if not np.all(np.diff((row + keys).take(order))):
                order = np.lexsort((keys, row))
            row_sorted = row.take(order)
            rank = np.arange(len(order)) - np.searchsorted(row_sorted, row_sorted)
            keep = order[rank < room.take(order)]
            slot, row = slot.take(keep), row.take(keep)
        birth.put(slot, now.take(row))

    def step(
        self, state: WarehouseState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        # 1. move; 2. collect the item under the robot; 3. (implicit) items age by one and those that reach their
        # lifetime vanish; 4. new items appear on empty item cells, first observed at t + 1.
        if self.params.authors_code:
            return self._step_authors(state, action, rng)
        n = len(state.pos)
        state.pos[:] = pos = self._move[state.pos, action]
        birth = state.birth
        # Flat index of the robot's slot in ``birth`` (take/put on flat indices cost far less than a 2-D fancy
        # index); a batch of one needs no row offset.
        slot = self.slot_of_cell.take(pos)
        if n > 1:
            slot += self._row_offsets(n)
        # Ages >= lifetime (no item, or the always-empty extra column) clip onto the table's trailing 0.
        born = birth.take(slot)
        reward = self.reward_by_age.take(state.t - born, mode="clip")
        # A single env skips the calls below on the many steps without an item (reward 0): for it they change
        # nothing.
        collected = n > 1 or reward[0]
        if self.relative and collected:
            self._divide_by_oldest(state, reward)
        if self.block:
            # A collected item's birth becomes t + 1 - lifetime: past its lifetime, but not yet free (a cell is free
            # when its birth is at most now - lifetime - block, now = t + 1). A cell without an item has a birth at
            # most t - lifetime and keeps it, so a robot standing there does not keep it blocked: the minimum.
            if collected:
                birth.put(slot, np.minimum(born, state.t + self._blocked_birth))
        elif collected:  # a cell without an item has a birth at most t - lifetime: it is free already
            birth.put(slot, EMPTY)
        self._appear(birth, state.t, rng, ahead=1)  # items appear at t + 1
        return reward, np.zeros(n, dtype=bool)

    def _divide_by_oldest(self, state: WarehouseState, reward: np.ndarray) -> None:
        """The authors' MiniWarehouse reward: ``reward`` holds 0.25 * (age + 1) where an item was collected; divide
        it by (age + 1) of the oldest item present (the collected one included), in place."""
        rows = np.flatnonzero(reward)
        if rows.size == 0:
            return
        t = state.t.take(rows)
        birth = state.birth[rows, : self.n_items]
        present = birth > (t - self.params.item_lifetime)[:, None]
        oldest = birth.min(axis=1, where=present, initial=np.iinfo(np.int64).max)
        reward[rows] /= (t - oldest + 1).astype(np.float32)

    # ------------------------------------------------------------------ the authors' 7x7 code
    def _build_authors_draws(self) -> None:
        """The uniform draws of the authors' ``_add_items`` in order, as item slots: first the top and bottom rows
        (every column), then every row's two side cells; the corners are drawn in both loops."""
        s = self.params.size
        slot = {(int(r), int(c)): k for k, (r, c) in enumerate(self.items_rc)}
        cells = [(r, c) for r in (0, s - 1) for c in range(s)] + [(r, c) for r in range(s) for c in (0, s - 1)]
        self.draw_slot = np.array([slot[c] for c in cells], dtype=np.int64)
        # Per slot, its first and (for corners) second draw; -1 where a slot has a single draw.
        first = np.full(self.n_items, -1, dtype=np.int64)
        second = np.full(self.n_items, -1, dtype=np.int64)
        for d, k in enumerate(self.draw_slot):
            if first[k] < 0:
                first[k] = d
            else:
                second[k] = d
        self.first_draw, self.second_draw = first, second
        self.has_second = second >= 0

    def _appear_authors(self, birth: np.ndarray, seq: np.ndarray, now: np.ndarray, rng: np.random.Generator) -> None:
        """The authors' ``_add_items``: one uniform per draw (28 at 7x7), an empty cell gets an item when one of
        its draws is below ``p_item``; ``seq`` records the order in which their list receives the new items."""
        k = self.n_items
        hits = rng.random((len(birth), len(self.draw_slot))) < self.params.p_item
        first = hits[:, self.first_draw]
        second = hits[:, np.where(self.has_second, self.second_draw, 0)] & self.has_second
        new = (birth[:, :k] == EMPTY) & (first | second)
        draw = np.where(first, self.first_draw, self.second_draw)  # the draw that added it: its place in the list
        order = now[:, None] * len(self.draw_slot) + draw
        np.copyto(birth[:, :k], now[:, None], where=new)
        np.copyto(seq, order, where=new)

    def _step_authors(
        self, state: AuthorsWarehouseState, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step of the authors' 7x7 code (influence-aware-memory, environments/warehouse/warehouse.py).

        Its ``_remove_items`` removes items from the list it is iterating over, so the item right after each
        removed one is not examined in that step: it survives one more step even when it is collected or has
        reached its lifetime (the collected one stays collectable). Items are therefore present until removed,
        not until an age.
        """
        n, k = len(state.pos), self.n_items
        state.pos[:] = pos = self._move[state.pos, action]
        birth = state.birth[:, :k]
        present = birth > EMPTY
        at_robot = self.item_cell[None, :] == pos[:, None]
        reward = (present & at_robot).any(axis=1).astype(np.float32)
        # Their test is waiting time >= lifetime after the increment, i.e. age >= lifetime - 1 here.
        doomed = present & (at_robot | (state.t[:, None] - birth >= self.params.item_lifetime - 1))
        order = np.argsort(np.where(present, state.seq, np.iinfo(np.int64).max), axis=1, kind="stable")
        doomed_in_order = np.take_along_axis(doomed, order, axis=1)
        removed_in_order = np.zeros_like(doomed_in_order)
        examined = np.ones(n, dtype=bool)
        for j in range(int(present.sum(axis=1).max(initial=0))):
            removed_in_order[:, j] = examined & doomed_in_order[:, j]
            examined = ~removed_in_order[:, j]
        removed = np.zeros_like(removed_in_order)
        np.put_along_axis(removed, order, removed_in_order, axis=1)
        birth[removed] = EMPTY
        self._appear_authors(state.birth, state.seq, state.t + 1, rng)
        return reward, np.zeros(n, dtype=bool)

    def _scan_keys_of(self, n: int) -> np.ndarray:
        """``scan_key`` repeated for a batch of ``n`` (a read-only view; ``self._scan_keys(n)``)."""
        return np.broadcast_to(self.scan_key, (n, self.n_items))

    def _row_offsets_of(self, n: int) -> np.ndarray:
        """``row * (n_items + 1)`` for the rows of a batch of ``n``: flat index of each row's start in ``birth``
        (``self._row_offsets(n)``)."""
        return np.arange(n) * (self.n_items + 1)

    def _present(self, state: WarehouseState, out: np.ndarray | None = None) -> np.ndarray:
        if self.params.authors_code:
            return np.greater(state.birth[:, : self.n_items], EMPTY, out=out)
        return np.greater(state.birth[:, : self.n_items], (state.t - self.params.item_lifetime)[:, None], out=out)

    def observe(self, state: WarehouseState, rng: np.random.Generator) -> np.ndarray:
        obs = self._obs_robot.take(state.pos, axis=0)  # fresh rows: the one-hot robot cell, zero item bits
        if self.params.authors_code:
            self._present(state, out=obs[:, self.n_cells:])
        else:  # _present inlined: the single env observes every step
            np.greater(state.birth[:, : self.n_items], (state.t - self.params.item_lifetime)[:, None],
                       out=obs[:, self.n_cells:])
        return obs

    def info(self, state: WarehouseState) -> dict[str, np.ndarray]:
        return dset_info(self.dset, len(state.pos))

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: WarehouseState) -> dict[str, np.ndarray]:
        row, col = np.divmod(state.pos, self.params.size)
        return {"item_age": self.item_ages(state), "robot": np.stack([row, col], axis=1)}

    def item_ages(self, state: WarehouseState) -> np.ndarray:
        """``(N, n_items)`` ages of the items now (0 = first observed now), -1 where there is none."""
        return np.where(self._present(state), state.t[:, None] - state.birth[:, : self.n_items], -1)

    # ------------------------------------------------------------------ presentation
    def frame(self, state: WarehouseState, i: int) -> GridFrame:
        p = self.params
        s = p.size
        tiles = np.where(self.allowed, 0, 2).reshape(s, s)
        tiles[self.items_rc[:, 0], self.items_rc[:, 1]] = 1
        markers = []
        ages = self.item_ages(state)[i]
        for k in np.flatnonzero(ages >= 0):
            frac = float(ages[k]) / max(1, p.item_lifetime - 1)
            color = tuple(int(v) for v in np.round(_FRESH + frac * (_OLD - _FRESH)))
            char = str(int(ages[k])) if ages[k] < 10 else "+"
            markers.append(Marker(int(self.items_rc[k, 0]), int(self.items_rc[k, 1]), color, char, scale=0.7))
        r, c = divmod(int(state.pos[i]), s)
        return GridFrame(
            tiles=tiles,
            palette=(Tile((225, 225, 215), "."), Tile((185, 200, 225), "_"), Tile((40, 40, 48), "#")),
            agent=(r, c),
            agent_color=(60, 110, 220),
            agent_char="R",
            markers=markers,
            caption=f"t={int(state.t[i])}  items={int((ages >= 0).sum())}",  # yellow items are new, red ones old
        )

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        return direction_keys(north=UP, east=RIGHT, south=DOWN, west=LEFT)


class MiniWarehouseCore(WarehouseCore):
    """The 5x5 variant: the same dynamics with :class:`MiniWarehouseParams` defaults."""

    Params = MiniWarehouseParams
    name = "MiniWarehouse"


def scripted_action(
    core: WarehouseCore,
    robot_cell: np.ndarray,
    item_age: np.ndarray,
    know_ages: bool,
    go_prob: float = 1.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A batch of actions of a scripted collector; the figures in the docstrings and tests come from it.

    ``robot_cell`` is ``(N,)`` (``row * size + col``); ``item_age`` is ``(N, n_items)`` with -1 where there is no
    item. With ``know_ages=False`` only what one observation shows is used (any value >= 0 counts as present, so
    ``np.where(item_bits > 0, 0, -1)`` works): head for the nearest item that could
    still be there on arrival (distance <= lifetime); with ``go_prob < 1`` do so only with that probability each
    step (drawn from ``rng``) and otherwise walk towards the centre, which lets items age, a stochastic reactive
    policy that does better when older items pay more. With ``know_ages=True`` (the oracle): with the unit reward,
    head for the nearest item it reaches before the item vanishes (distance <= lifetime - age; oldest on ties);
    with the relative reward, for the oldest item it reaches (nearest on ties); with the waiting reward, let items
    age and leave for the most urgent one only when at most one spare step is left, so it arrives in its last
    steps. With no target the robot walks towards the centre.
    """
    p = core.params
    n = len(robot_cell)
    lifetime = p.item_lifetime
    d = core.distance[robot_cell][:, core.item_cell]  # (N, n_items)
    present = (item_age >= 0) & (d >= 0)
    if know_ages:
        slack = lifetime - item_age - d
        ok = present & (slack >= 0)
        if p.reward == "waiting":
            ok &= slack <= 1
            score = np.where(ok, -slack, -np.inf)
        elif p.reward == "relative":  # the oldest item pays most: head for the oldest reachable one, nearest on ties
            score = np.where(ok, item_age * (2 * lifetime + 2) - d, -np.inf)
        else:
            score = np.where(ok, -d * (lifetime + 1) - slack, -np.inf)
    else:
        ok = present & (d <= lifetime)
        if go_prob < 1.0:
            if rng is None:
                raise ValueError("go_prob < 1 needs rng")
            ok &= (rng.random(n) < go_prob)[:, None]
        score = np.where(ok, -d, -np.inf)
    best = np.argmax(score, axis=1)
    has = np.isfinite(score[np.arange(n), best])
    target = np.where(has, core.item_cell[best], core.start_cell)
    # One step along a shortest path: the first action whose next cell is nearest to the target.
    nxt = core.next_cell[(robot_cell * 4)[:, None] + np.arange(4)]  # (N, 4)
    return np.argmin(core.distance[nxt, target[:, None]], axis=1)


def scripted_returns(
    policy: str | float, episodes: int = 4000, seed: int = 0, env_id: str = "memenvs/Warehouse-v0", **kwargs: Any
) -> np.ndarray:
    """Returns of ``episodes`` whole episodes of a scripted policy, one per copy of ``env_id``'s vector env: the
    reference figures that learned policies are read against (random, reactive, oracle).

    ``policy``: ``"random"`` (uniform actions), ``"oracle"`` (:func:`scripted_action` knowing the item ages), or a
    number, the ``go_prob`` of the reactive script (:func:`scripted_action` on what the observation shows; 1.0 is
    the best reactive script we found). ``seed`` seeds the env and the policy's draws; ``kwargs`` are the env's.
    """
    import gymnasium as gym

    if not (policy in ("random", "oracle") or (isinstance(policy, (int, float)) and 0 < policy <= 1)):
        raise ValueError(f"policy must be 'random', 'oracle' or a go_prob in (0, 1], got {policy!r}")
    envs = gym.make_vec(env_id, num_envs=episodes, **kwargs)
    obs, _ = envs.reset(seed=seed)
    core = envs.unwrapped.core
    rng = np.random.default_rng(seed)
    total = np.zeros(episodes)
    for _ in range(core.max_steps):
        cell = np.argmax(obs[:, : core.n_cells], axis=1)
        if policy == "random":
            actions = rng.integers(0, 4, episodes)
        elif policy == "oracle":
            actions = scripted_action(core, cell, envs.unwrapped.hidden_state()["item_age"], know_ages=True)
        else:
            seen = np.where(obs[:, core.n_cells:] > 0, 0, -1)
            actions = scripted_action(core, cell, seen, know_ages=False, go_prob=float(policy), rng=rng)
        obs, reward, _, truncated, _ = envs.step(actions)
        total += reward
    envs.close()
    if not truncated.all():
        raise RuntimeError("a scripted episode did not end at the time limit")
    return total


class WarehouseEnv(MemoryEnv):
    """Warehouse (Suau et al., influence-aware memory): a robot collects items that vanish after a while.

    ## Description
    A robot stands in the middle of a ``size`` x ``size`` warehouse (7x7 in the paper). Items appear on the border
    cells, each empty one with probability ``p_item`` = 0.05 per step, and disappear when the robot steps onto them
    (collecting them) or after ``item_lifetime`` = 8 steps. The observation shows where the robot and the items are,
    not how old the items are; a far item may vanish before the robot arrives, and which one will is known only to
    an agent that remembers when each item appeared. In the paper's influence-aware memory (IAM) architecture the
    item bits form the d-set: the part of the observation whose history the recurrent branch must remember.

    One step: (1) the robot moves (a move off the grid leaves it in place); (2) an item on the robot's cell is
    collected; (3) every remaining item ages by one and those whose age reaches ``item_lifetime`` vanish; (4) each
    empty item cell gets a new item (age 0) with probability ``p_item``. An item is therefore visible in
    ``item_lifetime`` observations (ages 0 to ``item_lifetime - 1``) and can be collected in the ``item_lifetime``
    steps after it appeared. Items may appear under the robot; it collects such an item only by being on that cell
    after a later move. ``reset`` runs one appearance round, so the first observation may show items.

    ## Action Space
    ``Discrete(4)``: 0 up, 1 down, 2 left, 3 right (the paper's order).

    ## Observation Space
    ``Box(0, 1, (size**2 + n_items,), float32)`` of 0/1 values; 73 in the paper's setting: 49 for the one-hot robot
    cell (row-major, ``row * size + col``), then 24 item bits in the authors' order: the top row and the bottom row
    (left to right), then rows 1 to ``size - 2`` top to bottom, each as its left cell then its right cell.
    ``core.items_rc`` lists the ``(row, col)`` of every item bit.

    ## Rewards
    +1 per item collected, nothing else (``reward="unit"``). ``reward="relative"`` pays ``0.25 * w / max(w)`` (see
    MiniWarehouse); ``reward="waiting"`` pays ``(age + 1) / item_lifetime``, where ``age`` is the age of the item
    when collected.

    ## Starting State
    The robot at the centre ``(size // 2, size // 2)``; no item, then one appearance round.

    ## Episode End
    No termination; truncation after ``max_steps`` = 100 steps.

    ## Arguments
    * ``size`` (int in [3, 63], default 7): side of the grid.
    * ``p_item`` (float in [0, 1], default 0.05): appearance probability per empty item cell per step.
    * ``item_lifetime`` (int in [1, 10000], default 8): steps after which an uncollected item vanishes.
    * ``max_steps`` (int >= 1, default 100): episode length.
    * ``max_items`` (int >= 1 or None, default None): at most this many items at once (when there is not room for
      all candidates, the first ones in the row-by-row scan of the authors' code appear).
    * ``moves`` (``"grid"``, ``"cross"``, ``"shelves"``; default ``"grid"``): ``grid`` every cell; ``cross`` the
      middle row and column only; ``shelves`` as in the authors' multi-robot code: interior cells, with border cells
      (no corners) entered and left only across the border.
    * ``reward`` (``"unit"``, ``"relative"``, ``"waiting"``; default ``"unit"``).
    * ``corner_items`` (bool, default True): whether the four corners are item cells (24 item cells at size 7).
    * ``block_emptied`` (bool, default False): a cell emptied in a step (collected or expired) gets no new item in
      that step (the authors' MiniWarehouse code does this; their 7x7 code does not).
    * ``authors_code`` (bool, default False): reproduce the 7x7 code that produced the paper's curves
      (influence-aware-memory, ``environments/warehouse/warehouse.py``) instead of the paper's text. Two things
      differ: (1) its removal loop deletes items from the list it iterates over, so the item after each removed one
      is not examined in that step: it survives one step past its lifetime (items are visible for up to 9 or 10
      steps), and a collected item that is skipped stays and can be collected again; (2) its appearance loops
      visit the four corners twice, so a free corner gets an item with probability 1 - 0.95**2 = 0.0975. Returns
      for the same policy are higher than under the text (random policy 9.4 against 8.1, the greedy script 46.1
      against 40.2). Use the default to study the task the paper describes; use ``authors_code=True`` to set
      results beside the paper's curves. Needs ``max_items=None``, ``reward="unit"``, ``corner_items=True``,
      ``block_emptied=False`` (the only settings that code has).

    ## Hidden state and bounds
    ``hidden_state()`` gives ``item_age`` (per item bit, -1 where empty) and ``robot`` (row, col).
    ``info["dset"]`` (and ``core.dset``) are the observation indices of the item bits, 49..72 at size 7; the vector
    env returns them as an ``(N, 24)`` read-only view. No closed-form optimal or memoryless return is known (both
    are ``None``); Monte-Carlo figures per episode in the paper's setting (4000 episodes, seed 0;
    ``tests/test_warehouse.py``): uniform random policy 8.18; the best reactive script we found (nearest item
    not farther than the lifetime; :func:`scripted_action` with ``know_ages=False``) 40.18; the same script
    knowing the item ages (nearest item it still reaches before it vanishes) 41.38. The gap is small for a
    script; what matters for learning is that only a memory can tell the reachable items apart.
    ``docs/results/faithfulness.md`` sets these envs beside the authors' code (return, items per step, new items
    per cell, item ages, under a random and a scripted policy).

    ## Reference
    * M. Suau, J. He, E. Congeduti, R. A. N. Starre, A. Czechowski, F. A. Oliehoek, "Influence-aware Memory
      Architectures for Deep Reinforcement Learning in POMDPs", Neural Computing and Applications, 2022
      (arXiv:1911.07643). The paper's setting: 7x7, p = 0.05, items vanish after 8 steps, 100-step episodes.
      Code: github.com/INFLUENCEorg/influence-aware-memory.

    ## Version History
    * v0 (changed in place before release): item bits in the authors' order (rows 1 to ``size - 2`` interleaved
      left/right, no longer the left column then the right one); over ``max_items`` the scan order wins instead of
      a random subset; new options ``authors_code``, ``block_emptied`` and ``reward="relative"``.
    * v0: initial release.
    """

    core_class = WarehouseCore


class WarehouseVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`WarehouseEnv` (all copies step together in NumPy)."""

    core_class = WarehouseCore


class MiniWarehouseEnv(MemoryEnv):
    """MiniWarehouse: the authors' later 5x5 warehouse, where the oldest item pays most.

    ## Description
    The dynamics of :class:`WarehouseEnv` with the defaults of the authors' code (influence-aware-memory,
    ``environments/warehouse_memory/``, the same in ``warehouse2/``): a 5x5 grid whose 12 non-corner border cells
    are shelves that hold items; the robot starts at the centre, roams the 3x3 interior and steps onto a shelf from
    the neighbouring interior cell (``moves="shelves"``: on a shelf it can only step back); an item vanishes 16
    steps after it appeared; at most 4 items exist at once (when more could appear, the first in the row-by-row
    scan do), so uncollected items also block new ones; a cell emptied in a step gets no new item in that step;
    episodes last 96 steps. Collecting the oldest item present pays most, so the agent must know the items' ages,
    which the observation does not show. ``moves="cross"`` keeps the robot on the middle row and column (it then
    reaches only the 4 middle shelves).

    ## Action Space
    ``Discrete(4)``: 0 up, 1 down, 2 left, 3 right; a move off the allowed cells leaves the robot in place.

    ## Observation Space
    ``Box(0, 1, (37,), float32)``: 25 for the one-hot robot cell (row-major), then 12 item bits in the authors'
    order: top row columns 1..3, bottom row columns 1..3, then rows 1..3 as (left, right) pairs.

    ## Rewards
    Collecting an item pays ``0.25 * w / max(w)``, where ``w`` is its waiting time (``age + 1``, 1 to 16) and the
    maximum runs over the items present, the collected one included: the full 0.25 for the oldest item, less for a
    younger one (``reward="relative"``, the authors' formula). Nothing else. ``reward="waiting"`` pays
    ``(age + 1) / 16`` instead, a value that depends on the item alone.

    ## Starting State
    Robot at ``(2, 2)``; no item, then one appearance round.

    ## Episode End
    No termination; truncation after ``max_steps`` = 96 steps.

    ## Arguments
    Those of :class:`WarehouseEnv`, with defaults ``size=5``, ``p_item=0.05``, ``item_lifetime=16``,
    ``max_steps=96``, ``max_items=4``, ``moves="shelves"``, ``reward="relative"``, ``corner_items=False``,
    ``block_emptied=True``.

    ## Hidden state and bounds
    As for :class:`WarehouseEnv`; ``info["dset"]`` is 25..36. Monte-Carlo figures per episode (4000 episodes,
    seed 0; ``tests/test_warehouse.py``): uniform random 0.52; reactive scripts 4.85 (head for the nearest item)
    and 3.20 (do so with probability 0.7 each step); the oracle that knows the ages and heads for the oldest item it
    can still reach 5.85. Random and greedy agree with the authors' code within sampling error (returns, items per
    step, new items per cell, item ages; ``docs/results/faithfulness.md``).

    ## Reference
    * M. Suau et al., "Influence-aware Memory Architectures for Deep Reinforcement Learning in POMDPs", Neural
      Computing and Applications, 2022; the 5x5 variant is the authors' later public code
      (github.com/INFLUENCEorg/influence-aware-memory, ``environments/warehouse_memory/mini_warehouse.py``).

    ## Version History
    * v0 (changed in place before release): the authors' behaviour is now the default: ``moves="shelves"`` (was
      ``"cross"``), reward ``0.25 * w / max(w)`` (was ``(age + 1) / 16``), item bits interleaved row by row, an
      emptied cell blocked for one step, scan order over the cap (was a random subset).
    * v0: initial release.
    """

    core_class = MiniWarehouseCore


class MiniWarehouseVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`MiniWarehouseEnv`."""

    core_class = MiniWarehouseCore
