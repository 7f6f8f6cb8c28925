"""Stable-Baselines3 ``VecEnv`` over a Gymnasium vector env, so SB3 trains on the native batched core.

SB3 expects a finished copy to be reset inside the step that ended it, a list of per-copy info dicts,
``infos[i]["terminal_observation"]`` and ``infos[i]["TimeLimit.truncated"]``. :class:`GymnasiumVecEnv` converts a
Gymnasium ``VectorEnv`` to exactly that; :func:`make_vec_env` builds one from any Gymnasium id (the native vector env
where the id has one that resets copies by mask, Gymnasium's sync vectorisation otherwise), flattens observations that
are not a ``Box`` (POPGym's discrete and tuple observations, MiniGrid's dicts) and adds :class:`EpisodeMonitor` (SB3's
``VecMonitor``, visiting only the copies that finished) for episode statistics.

Importing this module imports SB3; ``import memenvs`` does not import it.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Mapping, Sequence as SequenceABC
from types import MappingProxyType
from typing import Any, Callable, NamedTuple, Sequence

import importlib
import inspect

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import FilterObservation, FlattenObservation
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

import memenvs  # noqa: F401  (registers the ids)
from memenvs.envs.vector import MemoryVectorEnv
from memenvs.envs.params import check_int

_VECTOR_KEYS = ("final_obs", "final_info")
_NONE_FINISHED = np.zeros(0, dtype=np.intp)
_NONE_FINISHED.flags.writeable = False


class GymnasiumVecEnv(VecEnv):
    """An SB3 ``VecEnv`` backed by one Gymnasium ``VectorEnv`` whose ``autoreset_mode`` is ``DISABLED`` or
    ``SAME_STEP``.

    With ``DISABLED`` (what :func:`make_vec_env` uses) the adapter resets the copies that finished itself, in the
    same step, with ``reset(options={"reset_mask": done})``: their last observations are copied into one array
    first and their last infos stay the step's batched info. ``SAME_STEP`` vector envs do that reset
    themselves and hand back Gymnasium's per-copy ``final_obs`` and ``final_info``, which cost a Python object per
    finished copy before anyone reads them (at 8,192 copies of the T-maze, as much as the batched step itself).

    Attribute access and method calls (``get_attr``, ``env_method``) go to the vector env once and the answer is
    repeated for each requested index, because the copies share one batched object. ``seed(s)`` reseeds the
    vector env's single generator with ``s`` at the next ``reset()``.
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        mode = venv.metadata.get("autoreset_mode")
        if mode not in (AutoresetMode.DISABLED, AutoresetMode.SAME_STEP):
            raise ValueError(
                f"GymnasiumVecEnv needs a vector env with autoreset_mode=DISABLED or SAME_STEP, got {mode}"
            )
        self.venv = venv
        self._resets = mode is AutoresetMode.DISABLED
        # memenvs' native vector env, unwrapped (a wrapper's reset_copies would be its env's, past the wrapper),
        # resets copies by index straight into the step's observation (MemoryVectorEnv.reset_copies), which spares a
        # masked reset's checks and a second observation of every copy
        self._reset_copies = venv.reset_copies if self._resets and isinstance(venv, MemoryVectorEnv) else None
        self._actions: np.ndarray | None = None
        self._every_copy: np.ndarray | None = None  # a read-only info mask seen to be all True
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, info = self.venv.reset(seed=seed, options=options)
        self.reset_infos = ResetInfos(self.num_envs, info, self._infos)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        infos = self._infos(info)
        done = terminated | truncated
        if np.count_nonzero(done):  # one C call each here, where any() and flatnonzero add Python wrappers
            # As in SB3's DummyVecEnv: a finished copy's info is that of its last step (the info of the reset that
            # follows goes to reset_infos), plus the terminal observation and the truncation flag.
            idx = done.nonzero()[0]
            last = None  # the finished copies' last info: this step's
            if self._reset_copies is not None:
                # memenvs' own vector env: it observes the reset copies into the step's array, which is fresh
                last_obs = obs[idx]
                started, of = self._reset_copies(idx, obs), idx  # the reset copies' infos only
            elif self._resets:
                # the finished copies' observations, copied before the reset (a vector env may observe into one
                # buffer), as one array with a row per finished copy
                last_obs = obs[idx]
                obs, started = self.venv.reset(options={"reset_mask": done})
                of = None  # every copy's info
            else:  # SAME_STEP: the step's info is already the reset's
                last_obs, started, of = info["final_obs"][idx], info, None
                last = self._infos(info.get("final_info", {}))
            if isinstance(self.reset_infos, ResetInfos):
                self.reset_infos.record(idx, started, of)
            else:  # before the first reset: SB3's list
                started = self._infos(started, len(of) if of is not None else None)
                for j, i in enumerate(idx.tolist()):
                    self.reset_infos[i] = started[i if of is None else j]
            infos.finish(idx, done, last_obs, truncated & ~terminated, last)
        return obs, reward.astype(np.float32, copy=False), done, infos

    def _infos(self, info: dict[str, Any], n: int | None = None) -> StepInfos:
        """SB3's per-copy infos over Gymnasium's batched ``info`` (of ``n`` copies; default: all)."""
        return StepInfos(self.num_envs if n is None else n, info, self._layout)

    def _layout(self, info: dict[str, Any]) -> _Layout:
        """How Gymnasium's dict of batched arrays ``info`` becomes SB3's per-copy infos (a :class:`StepInfos` asks
        when its first row is read).

        What SB3 reads from the info of a copy that did not just finish is ``info.get("episode")`` and
        ``info.get("is_success")`` (its episode statistics, which only a finished copy has); it writes only into the
        info of finished copies. So where every copy's info is the same (no info at all, rows broadcast from one
        read-only array as the IAM d-set, or one value in every copy as the mazes' ``success`` while no copy is at
        its goal) the copies share one read-only mapping. Where it differs but every copy has every key (the native
        envs with per-step info) a copy's info is an :class:`_InfoRow` that reads its entries from the step's arrays
        when asked. Where a ``_key`` mask says only some copies have a key (Gymnasium's sync vector env) only the
        copies with it get a dict."""
        full, partial = [], []
        everywhere: dict[int, bool] = {}  # a vector env may give every key the same mask object: test it once
        for key in info:
            if key.startswith("_") or key in _VECTOR_KEYS:
                continue
            mask = info.get("_" + key)
            if mask is not None and mask is not self._every_copy and everywhere.get(id(mask)) is None:
                everywhere[id(mask)] = every = bool(np.asarray(mask).all())
                if every and isinstance(mask, np.ndarray) and not mask.flags.writeable:
                    self._every_copy = mask  # read-only: all-True for good (memenvs' vector envs reuse one)
            if mask is None or mask is self._every_copy or everywhere[id(mask)]:
                full.append(key)
            else:
                partial.append((key, np.asarray(mask), info[key]))
        if all(_same_for_every_copy(info[k]) for k in full):
            return _Layout(MappingProxyType({k: _first_row(info[k]) for k in full}), None, partial)
        return _Layout(None, {k: np.asarray(info[k]) for k in full}, partial)

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        if self.venv.render_mode != "rgb_array":
            return [None] * self.num_envs
        return list(self.venv.render())

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("set_attr applies to all copies of a batched env at once; pass indices=None")
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


class _InfoSequence(SequenceABC):
    """A read-mostly list of per-copy info rows, each made when read (:meth:`_row`) unless one is stored for it
    (``infos[i] = row``). Indexing (negative indices too), iteration, ``len``, slicing (a list), item assignment and
    equality work as on a list; ``list(infos)`` gives the list."""

    __slots__ = ("_n", "_rows")

    def __init__(self, n: int) -> None:
        self._n = n
        self._rows: dict[int, Any] = {}

    def _row(self, i: int) -> Any:
        raise NotImplementedError

    def __len__(self) -> int:
        return self._n

    def _index(self, i: Any) -> int:
        i = operator.index(i)
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"info index {i} out of range for {self._n} copies")
        return i

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        i = self._index(i)
        row = self._rows.get(i)
        return row if row is not None else self._row(i)

    def __setitem__(self, i: Any, row: Any) -> None:
        self._rows[self._index(i)] = row

    def __iter__(self) -> Any:
        return map(self.__getitem__, range(self._n))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SequenceABC) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable, as a list

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class _Layout(NamedTuple):
    """One step's info as :class:`StepInfos` reads it (see :meth:`GymnasiumVecEnv._layout`)."""

    shared: Mapping | None  # the one row every copy has, or None
    columns: dict[str, np.ndarray] | None  # else the batched arrays of the keys every copy has
    partial: list[tuple[str, np.ndarray, Any]]  # (key, mask, values) of the keys only the masked copies have


class StepInfos(_InfoSequence):
    """The per-copy infos of one step of :class:`GymnasiumVecEnv`: a sequence of ``num_envs`` mappings in
    place of SB3's list of dicts, whose rows are made when read.

    At thousands of copies a list of one object per copy per step cost more than the batched step itself, mostly in
    Python's cyclic garbage collector, which those objects set off: at 8,192 copies of the two-step task the
    adapter's step took ~12 ms against the native env's ~0.1 ms. Here no row costs anything until it is read, and
    the step's batched ``info`` is looked at (``layout(info)``, a :class:`_Layout`) only when the first row is.
    A copy's row is, in this order: the dict stored for it (anything assigned with ``infos[i] = row``, and a
    finished copy's row once read, so what SB3's wrappers write into it stays), else, for a copy that finished in
    the step, a fresh dict of its last step's info with ``terminal_observation``, ``TimeLimit.truncated`` and what
    :meth:`extend_finished` added, else the one mapping every copy shares, else an :class:`_InfoRow` over the step's
    arrays (a dict where the copy has keys that others lack). It reads like a list (:class:`_InfoSequence`).
    """

    __slots__ = ("_info", "_layout_of", "_layout", "_finished", "_done", "_last", "_final_obs", "_time_limit",
                 "_extras")

    def __init__(self, n: int, info: dict[str, Any], layout: Callable[[dict[str, Any]], _Layout]) -> None:
        super().__init__(n)
        self._info, self._layout_of, self._layout = info, layout, None
        self._done: np.ndarray | None = None

    def _row(self, i: int) -> Any:
        if self._done is not None and self._done[i]:
            last = self._step_row(i) if self._last is None else self._last[i]
            row = self._rows[i] = dict(last)
            row["terminal_observation"] = self._final_obs[_row_among(self._finished, i)]
            row["TimeLimit.truncated"] = self._time_limit.item(i)
            for key, make in self._extras:
                row[key] = make(i, row)
            return row
        return self._step_row(i)

    def _step_row(self, i: int) -> Any:
        """Copy ``i``'s info of the step, as the vector env gave it."""
        layout = self._layout
        if layout is None:
            layout = self._layout = self._layout_of(self._info)
        row = layout.shared if layout.shared is not None else _InfoRow((layout.columns, i))
        if layout.partial:
            extra = {key: values[i] for key, mask, values in layout.partial if mask[i]}
            if extra:
                row = dict(row)
                row.update(extra)
                if self._done is None or not self._done[i]:
                    self._rows[i] = row  # a dict: what is written into it stays
        return row

    def finish(self, idx: np.ndarray, done: np.ndarray, final_obs: Any, time_limit: np.ndarray,
               last: StepInfos | None = None) -> None:
        """The copies ``idx`` (ascending; ``done`` is their mask) finished in this step: a finished copy's row is
        its info of the step (``last``'s row where given: a ``SAME_STEP`` vector env's ``final_info``) with
        ``terminal_observation`` from ``final_obs`` (one row per copy of ``idx``, in that order) and
        ``TimeLimit.truncated`` from ``time_limit[i]``, made when first read."""
        if self._rows:
            for i in [i for i in self._rows if done[i]]:
                del self._rows[i]
        self._finished, self._done, self._last, self._final_obs = idx, done, last, final_obs
        self._time_limit, self._extras = time_limit, []

    @property
    def finished_copies(self) -> np.ndarray:
        """The copies that finished in this step, ascending (empty if none did)."""
        return self._finished if self._done is not None else _NONE_FINISHED

    def extend_finished(self, key: str, make: Any) -> None:
        """Add ``row[key] = make(i, row)`` to each finished copy's row ``i`` (rows already read get it now)."""
        if self._done is None:
            raise ValueError("no copy finished in this step")
        self._extras.append((key, make))
        for i, row in self._rows.items():
            if self._done[i] and type(row) is dict:
                row[key] = make(i, row)


class ResetInfos(_InfoSequence):
    """SB3's ``reset_infos`` of a :class:`GymnasiumVecEnv`: each copy's info from its latest reset.

    Copies reset a few at a time, in many steps; rather than storing a row per copy at every reset (at 8,192 copies
    of the non-stationary CartPole, twice the batched step), each step's reset info is kept whole, as one layer,
    with the layer each copy last reset in; a layer is split into rows (``split(info, n)``, a :class:`StepInfos`
    over its ``n`` rows, as the adapter splits a step's info) when one of its rows is first read. A layer holds
    either every copy's info or only the reset copies' (a row per copy in ``idx``, as memenvs' vector env gives
    it). Layers no copy points to any more are dropped every :attr:`PRUNE_EVERY` resets. It reads like a list
    (:class:`_InfoSequence`).
    """

    __slots__ = ("_owner", "_layers", "_count", "_split")
    PRUNE_EVERY = 64

    def __init__(self, n: int, first: dict[str, Any], split: Callable[[dict[str, Any], int], StepInfos]) -> None:
        super().__init__(n)
        self._owner = np.zeros(self._n, dtype=np.int64)
        # layer id -> (info, split or not, the copies its rows belong to: None for every copy)
        self._layers: dict[int, tuple[StepInfos | dict[str, Any], np.ndarray | None]] = {0: (first, None)}
        self._count = 0
        self._split = split

    def _row(self, i: int) -> Any:
        key = self._owner.item(i)
        layer, of = self._layers[key]
        if not isinstance(layer, StepInfos):
            layer = self._split(layer, self._n if of is None else len(of))
            self._layers[key] = (layer, of)
        return layer[i if of is None else _row_among(of, i)]

    def record(self, idx: np.ndarray, info: StepInfos | dict[str, Any], of: np.ndarray | None = None) -> None:
        """The copies ``idx`` (ascending) were just reset; ``info`` holds their reset infos (split or a batched info
        dict), of every copy, or with ``of=idx`` of those copies only, one row each."""
        self._count += 1
        self._owner[idx] = self._count
        self._layers[self._count] = (info, of)
        if self._rows:
            for i in idx.tolist():
                self._rows.pop(i, None)
        if self._count % self.PRUNE_EVERY == 0:
            self._layers = {k: self._layers[k] for k in self._live()}

    def _live(self) -> list[int]:
        """The layers some copy still points to. Counting the owners over the span of layer ids in use is linear,
        where ``np.unique`` sorts them (at 8,192 copies 0.03 ms against 0.2 ms). A copy that has not reset for very
        long widens the span; then the sort is the cheaper."""
        lo = int(self._owner.min())
        if self._count - lo > 16 * self._n:
            return np.unique(self._owner).tolist()
        return (np.flatnonzero(np.bincount(self._owner - lo)) + lo).tolist()


class _InfoRow(tuple):
    """Copy ``i``'s info of one step as a read-only mapping over that step's batched arrays, read on demand.

    SB3's ``VecEnv`` API wants one info object per copy per step, but SB3 reads only ``get("episode")`` and
    ``get("is_success")`` from copies that did not just finish; building a dict per copy cost the envs with
    per-step info 10-20x their native step. The row is the tuple ``(columns, i)`` (a tuple subclass without an
    ``__init__``: the cheapest object per copy), made by :class:`StepInfos` when the copy is read. Values are those
    of the dict rows it replaces: Python scalars from 1-D arrays, row views from wider ones. Writing into it raises
    ``TypeError``; ``copy()`` gives a plain dict.
    """

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # a mapping is not hashable

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        columns, i = tuple.__getitem__(self, 0), tuple.__getitem__(self, 1)
        value = columns[key]
        return value.item(i) if value.ndim == 1 else value[i]

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in tuple.__getitem__(self, 0) else default

    def __contains__(self, key: Any) -> bool:
        return key in tuple.__getitem__(self, 0)

    def __iter__(self) -> Any:
        return iter(tuple.__getitem__(self, 0))

    def __len__(self) -> int:
        return len(tuple.__getitem__(self, 0))

    def keys(self) -> Any:
        return tuple.__getitem__(self, 0).keys()

    def items(self) -> list[tuple[str, Any]]:
        return [(k, self[k]) for k in self]

    def values(self) -> list[Any]:
        return [self[k] for k in self]

    def copy(self) -> dict[str, Any]:
        return {k: self[k] for k in self}

    def __eq__(self, other: object) -> bool:
        return self.copy() == (dict(other) if isinstance(other, Mapping) else other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __repr__(self) -> str:
        return repr(self.copy())


Mapping.register(_InfoRow)


class EpisodeMonitor(VecMonitor):
    """SB3's ``VecMonitor`` (episode return, length and time in the finished copies' ``info["episode"]``, the same
    ``info_keywords`` and monitor file) that visits only the copies that finished.

    SB3's monitor loops over every copy in Python each step and copies the whole info list, which at thousands of
    copies costs more than the batched env's step; here the returns and lengths are updated as arrays. Over a
    :class:`GymnasiumVecEnv` the ``episode`` entry is added to a finished copy's row when the row is first read
    (:meth:`StepInfos.extend_finished`), unless a monitor file is written, which needs every row now; any other
    VecEnv's infos, and their rows, are copied first, as SB3 does.
    """

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.episode_returns += rewards
        self.episode_lengths += 1
        lazy = isinstance(infos, StepInfos) and not self.results_writer
        if not (infos.finished_copies.size if lazy else np.count_nonzero(dones)):
            return obs, rewards, dones, infos
        now = round(time.time() - self.t_start, 6)
        keywords = self.info_keywords
        returns, lengths = self.episode_returns, self.episode_lengths
        if lazy:
            # the finished copies' rows are made when read, so their sums are kept aside (a gather of the few that
            # finished, where a fresh array for every copy cost two passes over all of them)
            finished = infos.finished_copies
            returns, lengths = returns[finished], lengths[finished]
            self.episode_returns[finished] = 0
            self.episode_lengths[finished] = 0

            def episode(i: int, row: Mapping) -> dict[str, Any]:
                j = _row_among(finished, i)
                out = {"r": returns[j], "l": lengths[j], "t": now}  # NumPy scalars, as SB3's VecMonitor
                for key in keywords:
                    out[key] = row[key]
                return out

            infos.extend_finished("episode", episode)
            self.episode_count += finished.size
            return obs, rewards, dones, infos
        if not isinstance(infos, StepInfos):
            infos = list(infos)
        finished = np.flatnonzero(dones)
        for i, r, n in zip(finished.tolist(), returns[finished], lengths[finished]):
            info = infos[i]
            if type(info) is not dict or not isinstance(infos, StepInfos):
                info = infos[i] = dict(info)
            info["episode"] = episode = {"r": r, "l": n, "t": now, **{k: info[k] for k in keywords}}
            if self.results_writer:
                self.results_writer.write_row(episode)
        self.episode_count += finished.size
        returns[finished] = 0
        lengths[finished] = 0
        return obs, rewards, dones, infos


def _row_among(copies: np.ndarray, i: int) -> int:
    """The row of copy ``i`` in arrays that hold one row per copy of ``copies`` (ascending, ``i`` among them)."""
    return int(np.searchsorted(copies, i))


def _same_for_every_copy(value: Any) -> bool:
    """One row stands for every copy: a read-only array broadcast along the copies (stride 0), as the IAM d-set, or
    a 1-D array holding one value, as the mazes' ``success`` on every step where no copy reached its goal."""
    if not isinstance(value, np.ndarray) or value.size == 0:
        return False
    if value.dtype == bool and value.ndim == 1:  # one C call, where comparing makes an array and reduces it
        return np.count_nonzero(value) in (0, value.size)
    if value.ndim == 1:
        if value.dtype.kind in "US" and value.itemsize:  # NumPy's string comparison is ~30x slower than comparing
            word = next(w for w in (8, 4, 2, 1) if value.itemsize % w == 0)  # the strings' bytes as integers
            value = np.ascontiguousarray(value).view(f"u{word}").reshape(len(value), -1)
        return bool((value == value[0]).all())
    return value.strides[0] == 0 and not value.flags.writeable


def _first_row(value: np.ndarray) -> Any:
    """Copy 0's entry, typed as :class:`_InfoRow` reads it (a Python scalar from a 1-D array, else a row view)."""
    return value.item(0) if value.ndim == 1 else value[0]


#: Spaces with a fixed-size numeric flat form (one-hot for the discrete ones) that a network can read.
_NUMERIC_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def _numeric(space: gym.Space) -> bool:
    if isinstance(space, spaces.Dict):
        return all(_numeric(sub) for sub in space.spaces.values())
    if isinstance(space, spaces.Tuple):
        return all(_numeric(sub) for sub in space.spaces)
    return isinstance(space, _NUMERIC_SPACES)


def observation_wrappers(env_id: str, space: gym.Space) -> list:
    """Gymnasium wrappers that turn ``space`` into one flat ``Box`` a baseline can read; none for a ``Box``.

    ``Discrete``, ``MultiDiscrete``, ``MultiBinary``, ``Tuple`` and ``Dict`` observations are flattened with
    Gymnasium's ``FlattenObservation`` (discrete parts one-hot). The parts of a ``Dict`` that have no numeric form
    (text, such as MiniGrid's ``mission`` sentence, graphs, sequences) are left out first with
    ``FilterObservation``, since no baseline here reads text; for MiniGrid's Memory envs the mission is the same
    sentence in every episode, so nothing is lost. A space with no numeric part at all raises a ``ValueError``.
    """
    if isinstance(space, spaces.Box):
        return []
    keep = _numeric_keys(env_id, space)
    if keep is not None and len(keep) < len(space.spaces):
        return [lambda env: FilterObservation(env, keep), FlattenObservation]
    return [FlattenObservation]


def flat_observation_space(env_id: str, space: gym.Space) -> spaces.Box:
    """The ``Box`` that :func:`observation_wrappers` turn ``space`` into (``space`` itself for a ``Box``)."""
    if isinstance(space, spaces.Box):
        return space
    keep = _numeric_keys(env_id, space)
    if keep is not None:
        space = spaces.Dict({key: space[key] for key in keep})
    return spaces.flatten_space(space)


def _numeric_keys(env_id: str, space: gym.Space) -> list[str] | None:
    """The keys of a ``Dict`` space with a numeric form (``None`` for other spaces); a ``ValueError`` where nothing
    of the space can be read by a network."""
    if isinstance(space, spaces.Dict):
        keep = [key for key, sub in space.spaces.items() if _numeric(sub)]
        if not keep:
            raise ValueError(f"{env_id}'s observation space {space} has no numeric part a network can read")
        return keep
    if not _numeric(space):
        raise ValueError(
            f"{env_id}'s observation space {space} has no numeric flat form; wrap the env so that it returns a Box"
        )
    return None


def find_spec(env_id: str) -> gym.envs.registration.EnvSpec:
    """``gym.spec`` that also takes ``"module:id"`` (as ``gym.make`` does), importing ``module`` first so that it
    registers its ids, e.g. ``"popgym:popgym-RepeatPreviousEasy-v0"`` or ``"minigrid:MiniGrid-MemoryS7-v0"``."""
    module, sep, name = env_id.rpartition(":")
    if sep:
        importlib.import_module(module)
    return gym.spec(name)


def _native_autoreset_modes(spec: gym.envs.registration.EnvSpec) -> bool:
    """Whether the id's own vector env takes an ``autoreset_mode`` (memenvs' native envs do, and reset copies by
    mask when it is ``DISABLED``; Gymnasium's ``CartPoleVectorEnv`` and most others take no such argument)."""
    if spec.vector_entry_point is None:
        return False
    creator = spec.vector_entry_point
    if isinstance(creator, str):
        creator = load_env_creator(creator)
    return "autoreset_mode" in inspect.signature(creator).parameters


def make_vec_env(
    env_id: str,
    n_envs: int = 8,
    seed: int | None = None,
    monitor: bool = True,
    render_mode: str | None = None,
    **env_kwargs: Any,
) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` copies of ``env_id``, any Gymnasium id.

    Uses the id's native batched vector env when it has one that takes an ``autoreset_mode`` (all memenvs ids but
    Atari), else Gymnasium's ``SyncVectorEnv`` (Atari, CartPole-v1, POPGym, MiniGrid, ...). Observations that are
    not a ``Box`` are flattened into one (see :func:`observation_wrappers`). ``render_mode`` is passed only when
    given, since some envs (POPGym's) take no such argument. ``monitor=True`` wraps it in :class:`EpisodeMonitor`
    (SB3's ``VecMonitor``, visiting only the finished copies) so episode returns are logged.

    Example::

        from stable_baselines3 import PPO
        from memenvs.sb3 import make_vec_env

        venv = make_vec_env("memenvs/TMaze-v0", n_envs=16, seed=0, length=5)
        PPO("MlpPolicy", venv).learn(10_000)
    """
    n_envs = check_int("n_envs", n_envs, 1)
    spec = find_spec(env_id)
    if render_mode is not None:
        env_kwargs["render_mode"] = render_mode
    if _native_autoreset_modes(spec):
        venv = gym.make_vec(env_id, num_envs=n_envs, autoreset_mode=AutoresetMode.DISABLED, **env_kwargs)
    else:
        venv = _sync_vec(env_id, n_envs, env_kwargs, [])
        wrappers = observation_wrappers(env_id, venv.single_observation_space)
        if wrappers:
            venv.close()
            venv = _sync_vec(env_id, n_envs, env_kwargs, wrappers)
    vec_env: VecEnv = GymnasiumVecEnv(venv)
    if seed is not None:
        vec_env.seed(seed)
    if monitor:
        vec_env = EpisodeMonitor(vec_env)
    return vec_env


def _sync_vec(env_id: str, n_envs: int, env_kwargs: dict[str, Any], wrappers: list) -> gym.vector.VectorEnv:
    return gym.make_vec(
        env_id,
        num_envs=n_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED},
        wrappers=wrappers,
        **env_kwargs,
    )
