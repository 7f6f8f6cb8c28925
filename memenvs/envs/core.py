"""The batched-core contract every memenvs environment implements.

An environment's dynamics are written once, as a :class:`Core` that resets and steps ``N`` copies at a time over a
:class:`State` of NumPy arrays with a leading batch axis. The Gymnasium single env
(:class:`memenvs.envs.single.MemoryEnv`), the Gymnasium vector env (:class:`memenvs.envs.vector.MemoryVectorEnv`) and
the SB3 ``VecEnv`` (:mod:`memenvs.sb3`) are generic facades over a core, so a new environment needs only:

* a frozen params dataclass that validates itself (see :mod:`memenvs.envs.params`),
* a :class:`State` subclass and a :class:`Core` subclass (reset, step, observe, hidden state, analytic returns),
* a ``frame`` method that describes one copy for the shared renderer (:mod:`memenvs.envs.rendering`),
* two three-line facade classes and one line in :mod:`memenvs.registration`.

State and dynamics are kept apart (as in gymnax): the core holds only immutable parameters and lookup tables, and
all mutable per-episode data lives in the state, so one core serves any number of copies and a state can be copied,
sliced and restored generically. Randomness comes only from the ``rng`` argument, which the facades take from
Gymnasium's seeded ``np_random``; a core must draw the same numbers for a batch of one as a single env does.
"""

from __future__ import annotations

import dataclasses
import functools
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import numpy as np
from gymnasium import spaces

from memenvs.envs.rendering import Frame


@dataclasses.dataclass
class State:
    """Per-copy mutable data of a batch of environments; every field is an array with a leading batch axis.

    ``t`` counts the steps taken in the current episode; the facades maintain it (reset to 0, incremented after each
    step) and use it for the time limit, and a core may read it (for example for a schedule that depends on time).
    """

    t: np.ndarray

    @property
    def num_envs(self) -> int:
        return int(self.t.shape[0])

    def take(self, idx: np.ndarray) -> "State":
        """A copy of the rows ``idx`` (an integer or boolean index array) of every field."""
        # indexing with an array copies already; the field names are looked up once per class, as this runs in
        # every step of the SB3 adapter
        return type(self)(**{name: getattr(self, name)[idx] for name in _field_names(type(self))})

    def put(self, idx: np.ndarray, rows: "State") -> None:
        """Write ``rows`` (as returned by :meth:`take`) back into the rows ``idx``."""
        for f in dataclasses.fields(self):
            getattr(self, f.name)[idx] = getattr(rows, f.name)


@functools.cache
def _field_names(cls: type[State]) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


class Core(ABC):
    """Batched dynamics of one environment family, parameterised by an immutable params dataclass.

    Subclasses set ``Params`` (the params dataclass), ``name`` (used in error messages), ``metadata`` extras
    (``render_fps``) and build ``observation_space`` / ``action_space`` (for one copy) in ``__init__``.
    """

    Params: ClassVar[type]
    name: ClassVar[str] = "env"
    render_fps: ClassVar[int] = 8
    #: Human-readable names of the discrete actions, in order (used by ``ansi`` output and ``memenvs list``).
    action_names: ClassVar[tuple[str, ...]] = ()
    #: Keys accepted in ``reset(options=...)``; :meth:`check_options` rejects any other.
    reset_options: ClassVar[tuple[str, ...]] = ()

    observation_space: spaces.Space
    #: ``Discrete`` (integer actions) or a float32 ``Box`` (continuous actions: the facades pass finite float32
    #: arrays of the box's shape and leave the clipping to the core, as continuous-control envs do).
    action_space: spaces.Discrete | spaces.Box

    def __init__(self, params: Any) -> None:
        self.params = params

    # ------------------------------------------------------------------ dynamics
    @property
    @abstractmethod
    def max_steps(self) -> int:
        """Number of steps after which an episode is truncated (the env's own time limit)."""

    @abstractmethod
    def init_state(self, num_envs: int) -> State:
        """Allocate a state for ``num_envs`` copies. Its contents are undefined until :meth:`reset` fills them."""

    def check_options(self, options: dict | None) -> None:
        """Validate ``reset(options=...)`` before anything changes; subclasses extend it to check values."""
        if options is None:
            return
        if not isinstance(options, dict):
            raise ValueError(f"options must be a dict or None, got {type(options).__name__}")
        unknown = sorted(set(options) - set(self.reset_options))
        if unknown:
            allowed = ", ".join(self.reset_options) or "none"
            raise ValueError(f"{self.name} reset got unknown option(s) {unknown}; allowed: {allowed}")

    @abstractmethod
    def reset(self, state: State, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        """Start new episodes in the copies ``idx`` (an integer index array), in place. ``state.t`` is set by the
        caller. ``options`` are the ``reset(options=...)`` of Gymnasium, validated by the core."""

    def restart(self, state: State, idx: np.ndarray) -> None:
        """Called just before :meth:`reset` when ``reset(seed=...)`` reseeds the env: forget whatever the copies
        ``idx`` carry from one episode to the next (e.g. a task schedule), so a seed fixes the whole trajectory.
        Most envs carry nothing across episodes; the default does nothing."""

    @abstractmethod
    def step(
        self, state: State, action: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Advance every copy by one step with the (already validated) actions, in place: integers ``int64[N]`` for a
        ``Discrete`` action space, ``float32[N, *shape]`` for a ``Box``.

        Returns ``(reward float32[N], terminated bool[N])``. ``state.t`` still holds the index of this step; the
        caller increments it afterwards. A copy in a terminal state may be stepped (its result is discarded)."""

    @abstractmethod
    def observe(self, state: State, rng: np.random.Generator) -> np.ndarray:
        """A freshly allocated batch of observations, shape ``(N, *observation_space.shape)``."""

    def info(self, state: State) -> dict[str, np.ndarray]:
        """Extra per-copy information returned by ``reset`` and ``step`` (arrays with a leading batch axis)."""
        return {}

    # ------------------------------------------------------------------ analysis
    @abstractmethod
    def hidden_state(self, state: State) -> dict[str, np.ndarray]:
        """The variables that are not in the observation and make the task a POMDP (batched)."""

    def optimal_return(self) -> float | None:
        """Expected undiscounted return of an optimal policy with memory, or ``None`` if not known analytically."""
        return None

    def memoryless_return(self) -> float | None:
        """Expected undiscounted return of the best reactive (observation -> action) policy, or ``None``."""
        return None

    # ------------------------------------------------------------------ presentation
    @abstractmethod
    def frame(self, state: State, i: int) -> Frame:
        """A drawable description of copy ``i`` for the shared renderer."""

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        """Keyboard mapping for :func:`gymnasium.utils.play.play` (pygame key codes to actions)."""
        return {}


class PerCopyTable:
    """Per-copy constants of a core for batches of any size: ``table(n)`` is the first ``n`` rows of one array
    ``make(m)`` built for the largest batch seen so far, for arrays whose rows do not depend on the batch size (row
    offsets such as ``arange(n) * k``, or a broadcast row).

    Building them every step costs as much as a small batch's step, and a cache keyed by the batch size would grow
    without bound: the vector env calls a core with its own number of copies and also with the few copies it resets
    (:meth:`~memenvs.envs.vector.MemoryVectorEnv.reset_copies`), a different number every step. Pass a bound method
    or a module-level function as ``make``, so that the core still pickles.
    """

    def __init__(self, make: Callable[[int], np.ndarray]) -> None:
        self._make = make
        self._table = make(0)

    def __call__(self, n: int) -> np.ndarray:
        if len(self._table) < n:
            self._table = self._make(n)
        return self._table[:n]


def check_box_actions(actions: Any, shape: tuple[int, ...], name: str = "action") -> np.ndarray:
    """``actions`` as a float32 array of ``shape`` if it is made of finite real numbers of that shape; a
    ``ValueError`` naming ``name`` otherwise. Values outside the box are allowed (the core clips them): a Gaussian
    policy's samples are unbounded and Gymnasium's continuous-control envs accept them too."""
    a = np.asarray(actions) if not isinstance(actions, np.ndarray) else actions
    if a.dtype.kind not in "iuf" or a.shape != shape:
        raise ValueError(
            f"{name} must be an array of finite numbers of shape {shape}, got {actions!r}"
            if a.dtype.kind not in "iuf" else f"{name} must have shape {shape}, got shape {a.shape}"
        )
    a = a.astype(np.float32, copy=False)  # no copy: cores only read their actions, as on the discrete path
    if not np.logical_and.reduce(np.isfinite(a), axis=None):
        raise ValueError(f"{name} must be finite, got {actions!r}")
    return a


def dset_info(dset: np.ndarray, num_envs: int) -> dict[str, np.ndarray]:
    """The ``info`` entry of the cores with an IAM d-set (Warehouse, Traffic): the observation indices that the
    paper's IAM feeds its recurrent branch, one row per copy. A single env gets a fresh row every step (Gymnasium's
    checker insists on fresh info data); a batch shares one read-only view, so nothing is allocated per copy and
    nobody can corrupt it."""
    if num_envs == 1:
        return {"dset": dset[None].copy()}
    return {"dset": np.broadcast_to(dset, (num_envs, len(dset)))}


def count_rows(mask: np.ndarray) -> np.ndarray:
    """Number of True per row of a 2-D bool array: a float32 mat-vec product, much faster than a row-wise sum; for
    one row (a single env) a plain count, which is a quarter of the calls."""
    if len(mask) == 1:
        return np.array([np.count_nonzero(mask)])
    return (mask.astype(np.float32) @ np.ones(mask.shape[1], dtype=np.float32)).astype(np.int64)
