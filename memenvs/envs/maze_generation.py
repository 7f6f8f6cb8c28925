"""Perfect-maze generation, vectorised over a batch of mazes, and small maze utilities.

A maze of ``h`` x ``w`` cells is described by its *openings*: the edges of the grid graph that have no wall. Edges are
numbered horizontal first (``(r, c)-(r, c+1)`` is ``r * (w - 1) + c``), then vertical (``(r, c)-(r+1, c)`` is
``h * (w - 1) + r * w + c``). Environments store, per cell, a bit mask of its open sides (:data:`OPEN_BITS`).

The generator is hierarchical ("random fractal tessellation"): an ``h`` x ``w`` maze is cut into blocks of 2 x 2 cells
(1-wide at an odd edge), each block gets a random spanning tree of its own cells (a 2 x 2 block opens three of its four
inner edges), and the blocks are joined along the openings of a random maze of ``ceil(h / 2)`` x ``ceil(w / 2)``
cells, generated the same way, through one randomly placed door per coarse opening. By induction the result is a
spanning tree of the grid, i.e. a *perfect* maze: ``h * w - 1`` openings, connected, no cycles. Every level is a
handful of NumPy operations over all mazes of the batch at once, which is what lets an environment draw a fresh maze
for each episode inside a batched reset (randomised depth-first search or Kruskal are inherently sequential and cost
tens of microseconds per maze in NumPy). The mazes are not uniform spanning trees: every aligned 2 x 2 block is
internally connected, so dead ends are short at the finest scale, while paths wind at every coarser scale.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass

import numpy as np

NORTH, EAST, SOUTH, WEST = 0, 1, 2, 3
#: Bit of a cell's open-side mask for each move action (north, east, south, west).
OPEN_BITS = np.array([1, 2, 4, 8], dtype=np.uint8)
#: Row and column step of each move action.
DROW = np.array([-1, 0, 1, 0], dtype=np.int64)
DCOL = np.array([0, 1, 0, -1], dtype=np.int64)


def num_edges(h: int, w: int) -> int:
    """Number of edges of the ``h`` x ``w`` grid graph (the possible openings)."""
    return h * (w - 1) + (h - 1) * w


#: Edges per block of mazes that :func:`generate_openings` decides together.
_BLOCK_EDGES = 1 << 16


@dataclass(frozen=True)
class _Level:
    """How the edges of an ``h`` x ``w`` maze follow from its blocks and from the coarse maze of its blocks."""

    columns: np.ndarray  # per fine edge: the draw that decides it (its block's, or its coarse edge's door draw)
    coarse_edge: np.ndarray  # per fine edge: the coarse edge it is a door of (0 inside a block, where it is unused)
    table: np.ndarray  # bool (num_edges * 8): open given 4 * (coarse edge open) + floor(4 * draw), per edge
    table4: np.ndarray  # 4 * table as intp: the term a finer level adds for this level's edges
    base: np.ndarray  # 8 * edge index, to look the tables up
    n_random_total: int  # draws used by this level and all coarser ones


@functools.lru_cache(maxsize=64)
def _plan(h: int, w: int) -> tuple[_Level, ...]:
    """The levels from the coarsest (one block) to ``h`` x ``w``; cached per shape."""
    if h == 1 and w == 1:
        return ()
    big_h, big_w = (h + 1) // 2, (w + 1) // 2
    ne = num_edges(h, w)
    internal = np.zeros(ne, dtype=bool)
    block = np.zeros(ne, dtype=np.int64)
    etype = np.full(ne, -1, dtype=np.int64)
    cedge = np.zeros(ne, dtype=np.int64)
    variant = np.full(ne, -1, dtype=np.int64)

    def full(br: int, bc: int) -> bool:
        return 2 * br + 1 < h and 2 * bc + 1 < w

    for r in range(h):
        for c in range(w - 1):  # horizontal edge (r, c)-(r, c+1)
            e = r * (w - 1) + c
            br, bc = r // 2, c // 2
            if c % 2 == 0:  # both cells in block (br, bc)
                internal[e] = True
                block[e] = br * big_w + bc
                if full(br, bc):
                    etype[e] = r % 2  # 0 top edge, 1 bottom edge
            else:  # door between blocks (br, bc) and (br, bc + 1)
                cedge[e] = br * (big_w - 1) + bc
                if 2 * br + 1 < h:
                    variant[e] = r % 2
    for r in range(h - 1):
        for c in range(w):  # vertical edge (r, c)-(r+1, c)
            e = h * (w - 1) + r * w + c
            br, bc = r // 2, c // 2
            if r % 2 == 0:
                internal[e] = True
                block[e] = br * big_w + bc
                if full(br, bc):
                    etype[e] = 2 + c % 2  # 2 left edge, 3 right edge
            else:  # door between blocks (br, bc) and (br + 1, bc)
                cedge[e] = big_h * (big_w - 1) + br * big_w + bc
                if 2 * bc + 1 < w:
                    variant[e] = c % 2
    coarser = _plan(big_h, big_w)
    n_coarse_edges = num_edges(big_h, big_w)
    start = coarser[-1].n_random_total if coarser else 0
    n_blocks = big_h * big_w
    table = np.zeros((ne, 8), dtype=bool)
    for v in range(8):
        coarse_open, q = v >= 4, v % 4
        # internal: open unless q (the block's draw) names it as the dropped edge, whatever the coarse term; door:
        # the coarse edge is open and the door bit (draw < 0.5, i.e. q < 2) picks this position, or there is only one
        table[:, v] = np.where(internal, etype != q, coarse_open & ((variant == int(q < 2)) | (variant < 0)))
    level = _Level(
        columns=np.where(internal, start + block, start + n_blocks + cedge).astype(np.intp),
        coarse_edge=np.where(internal, 0, cedge).astype(np.intp),
        table=table.ravel(),
        table4=4 * table.ravel().astype(np.intp),
        base=8 * np.arange(ne, dtype=np.intp),
        n_random_total=start + n_blocks + n_coarse_edges,
    )
    return coarser + (level,)


def generate_openings(rng: np.random.Generator, count: int, h: int, w: int | None = None) -> np.ndarray:
    """``count`` random perfect mazes of ``h`` x ``w`` cells as a bool array ``(count, num_edges(h, w))`` of openings.

    Draws the numbers of one ``rng.random((count, n))`` array (``n`` = blocks plus coarse openings over all levels):
    per block, which inner edge of a 2 x 2 block stays closed; per coarse opening, which of the two possible doors
    it uses.
    """
    w = h if w is None else w
    plan = _plan(h, w)
    if not plan:
        return np.zeros((count, 0), dtype=bool)
    # Four NumPy calls a level (a reset of a few copies is mostly their fixed cost): the draw of each edge, the
    # edge's place in the table, and for a door whether its coarse edge is open. Many mazes go in blocks whose
    # temporaries (8 bytes an edge) stay in cache: one pass over 8,192 8x8 mazes took two to three times as long,
    # mostly in faulting in fresh pages for its several MB of temporaries. The blocks draw their uniforms in turn,
    # which are the numbers one rng.random((count, n)) would give (it fills row after row); rng.integers would cost
    # ~10 us per call, about the whole budget of a batched reset.
    n_random = plan[-1].n_random_total
    block = max(1, _BLOCK_EDGES // len(plan[-1].base))
    parts = []
    for start in range(0, max(count, 1), block):
        q = np.empty((min(block, count - start), n_random), dtype=np.intp)
        np.multiply(rng.random(q.shape), 4.0, out=q, casting="unsafe")  # floor(4u): a dropped edge; door bit q < 2
        coarse = None  # 4 * (edge open) per edge of the level before
        for lv in plan:
            index = q.take(lv.columns, axis=1)
            index += lv.base
            if coarse is not None:
                index += coarse.take(lv.coarse_edge, axis=1)
            if lv is not plan[-1]:
                coarse = lv.table4.take(index)
        parts.append(plan[-1].table.take(index))
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


@functools.lru_cache(maxsize=64)
def _neighbours(h: int, w: int) -> tuple[tuple[tuple[int, int], ...], ...]:
    """Per cell: its ``(neighbour cell, edge index)`` pairs, in the edge numbering of :func:`num_edges`."""
    out: list[list[tuple[int, int]]] = [[] for _ in range(h * w)]
    for r in range(h):
        for c in range(w):
            if c + 1 < w:
                e = r * (w - 1) + c
                out[r * w + c].append((r * w + c + 1, e))
                out[r * w + c + 1].append((r * w + c, e))
            if r + 1 < h:
                e = h * (w - 1) + r * w + c
                out[r * w + c].append(((r + 1) * w + c, e))
                out[(r + 1) * w + c].append((r * w + c, e))
    return tuple(tuple(cell) for cell in out)


def wilson_openings(rng: np.random.Generator, count: int, h: int, w: int | None = None) -> np.ndarray:
    """Like :func:`generate_openings`, but each maze is a *uniform* random spanning tree of the grid (Wilson 1996,
    "Generating random spanning trees more quickly than the cover time": loop-erased random walks into the growing
    tree). Unbiased, but a Python loop per maze: use it where fidelity matters more than reset speed."""
    w = h if w is None else w
    n, neighbours = h * w, _neighbours(h, w)
    opened = np.zeros((count, num_edges(h, w)), dtype=bool)
    draws, used = rng.random(4 * n), 0
    for m in range(count):
        in_tree = [False] * n
        in_tree[0] = True
        step: list[tuple[int, int]] = [(-1, -1)] * n  # the walk's last exit from each cell: (next cell, edge)
        for first in range(1, n):
            cell = first
            while not in_tree[cell]:  # random walk until it hits the tree; revisits overwrite exits (loop erasure)
                if used == len(draws):
                    draws, used = rng.random(4 * n), 0
                options = neighbours[cell]
                step[cell] = options[int(draws[used] * len(options))]
                used += 1
                cell = step[cell][0]
            cell = first
            while not in_tree[cell]:
                in_tree[cell] = True
                opened[m, step[cell][1]] = True
                cell = step[cell][0]
    return opened


@functools.lru_cache(maxsize=64)
def _bits_plan(h: int, w: int) -> tuple[tuple[np.ndarray, np.ndarray, int], ...]:
    """Per direction: the cells that have a neighbour that way, the edge to it, and the direction's bit."""
    plan = []
    for a in range(4):
        cells, edges = [], []
        for r in range(h):
            for c in range(w):
                nr, nc = r + int(DROW[a]), c + int(DCOL[a])
                if 0 <= nr < h and 0 <= nc < w:
                    cells.append(r * w + c)
                    if nr == r:
                        edges.append(r * (w - 1) + min(c, nc))
                    else:
                        edges.append(h * (w - 1) + min(r, nr) * w + c)
        plan.append((np.array(cells, dtype=np.int64), np.array(edges, dtype=np.int64), int(OPEN_BITS[a])))
    return tuple(plan)


def openings_to_bits(opened: np.ndarray, h: int, w: int | None = None) -> np.ndarray:
    """Per-cell open-side masks ``(count, h * w)`` uint8 from openings ``(count, num_edges)``."""
    w = h if w is None else w
    bits = np.zeros((opened.shape[0], h * w), dtype=np.uint8)
    for cells, edges, bit in _bits_plan(h, w):
        bits[:, cells] |= opened[:, edges].view(np.uint8) * np.uint8(bit)
    return bits


def generate_mazes(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """``count`` random perfect ``size`` x ``size`` mazes as open-side masks, shape ``(count, size, size)`` uint8."""
    return openings_to_bits(generate_openings(rng, count, size), size).reshape(count, size, size)


def parse_maze(picture: str) -> tuple[np.ndarray, dict[str, tuple[int, int]]]:
    """Open-side masks ``(h, w)`` of a maze drawn in ASCII, and the cells marked with a letter.

    The picture alternates wall rows (``+---+   +``) and cell rows (``| S     |``); a cell is 3 characters wide and a
    wall segment is ``---`` (horizontal) or ``|`` (vertical). Any letter in a cell marks it (e.g. ``S`` and ``G``).
    """
    lines = [line for line in picture.strip("\n").splitlines() if line.strip()]
    h = (len(lines) - 1) // 2
    w = (len(lines[0].rstrip()) - 1) // 4
    bits = np.zeros((h, w), dtype=np.uint8)
    marks: dict[str, tuple[int, int]] = {}
    for r in range(h):
        row = lines[2 * r + 1].ljust(4 * w + 1)
        below = lines[2 * r + 2].ljust(4 * w + 1)
        for c in range(w):
            label = row[4 * c + 1: 4 * c + 4].strip()
            if label:
                marks[label] = (r, c)
            if c + 1 < w and row[4 * c + 4] == " ":
                bits[r, c] |= OPEN_BITS[EAST]
                bits[r, c + 1] |= OPEN_BITS[WEST]
            if r + 1 < h and below[4 * c + 1: 4 * c + 4] == "   ":
                bits[r, c] |= OPEN_BITS[SOUTH]
                bits[r + 1, c] |= OPEN_BITS[NORTH]
    return bits, marks


def distances_from(bits: np.ndarray, cell: tuple[int, int]) -> np.ndarray:
    """Shortest-path (BFS) distance from ``cell`` to every cell of one maze ``(h, w)``; -1 where unreachable."""
    h, w = bits.shape
    dist = np.full((h, w), -1, dtype=np.int64)
    dist[cell] = 0
    queue = deque([cell])
    while queue:
        r, c = queue.popleft()
        for a in range(4):
            if bits[r, c] & OPEN_BITS[a]:
                nr, nc = r + int(DROW[a]), c + int(DCOL[a])
                if dist[nr, nc] < 0:
                    dist[nr, nc] = dist[r, c] + 1
                    queue.append((nr, nc))
    return dist


def batched_distances(bits: np.ndarray, target: np.ndarray) -> np.ndarray:
    """BFS distances to ``target`` in a batch of mazes: ``bits (N, h, w)``, ``target (N,)`` flat cell indices;
    returns ``(N, h * w)`` int64 (-1 where unreachable). One relaxation sweep per distance level, over all mazes."""
    n, h, w = bits.shape
    flat = bits.reshape(n, h * w)
    dist = np.full((n, h * w), -1, dtype=np.int64)
    rows = np.arange(n)
    dist[rows, target] = 0
    frontier = np.zeros((n, h * w), dtype=bool)
    frontier[rows, target] = True
    step = np.array([-w, 1, w, -1])
    d = 0
    while frontier.any():
        d += 1
        nxt = np.zeros_like(frontier)
        for a in range(4):
            src = frontier & ((flat & OPEN_BITS[a]) != 0)
            b, cell = np.nonzero(src)
            nxt[b, cell + step[a]] = True
        nxt &= dist < 0
        dist[nxt] = d
        frontier = nxt
    return dist
