"""Environment throughput measured comparatively: every figure is a ratio to a reference measured in the same run.

This is the one timing helper of the project: ``memenvs bench``, the docs' performance page
(``benchmarks/performance_page.py``) and the long runs (``benchmarks/long_run.py``) all time through it.

Method. A figure measured alone on a machine shared with other processes says more about the load than about the
env, so every case is measured beside a reference, in groups, one group per mode and number of copies:

* ``single``: one env through ``gym.make``; reference Gymnasium's ``CartPole-v1``.
* ``sync_vector``: Gymnasium's ``SyncVectorEnv`` (``vectorization_mode="sync"``); reference the same of
  ``CartPole-v1``.
* ``native_vector``: the id's own batched vector env (``gym.make_vec``); reference Gymnasium's ``CartPoleVectorEnv``
  at the same number of copies.
* ``sb3_adapter``: :func:`memenvs.sb3.make_vec_env` as SB3 trains on it (finished copies reset in the same step,
  SB3's per-copy infos, the episode monitor); reference the same id's native vector env at the same copies (for
  ids without one, its ``sync_vector`` row).

Every env of a group is built first; then in each of ``rounds`` rounds every case is measured for ``seconds`` of wall
time right beside a measurement of its reference (the reference first in even rounds, second in odd ones; the pairs
in an order rotated from round to round), so that load from other processes falls on a case and its reference
alike. A row reports the median env-steps/s over all its measurements and the ratio to its reference as the median
and the min-max over rounds of the ratio to the reference measured beside it. Actions are pregenerated uniform
random integers (sampling is not timed); episodes reset as they end; the first call of each case is a warm-up that
is not timed.

``against`` adds peer libraries when they are installed (they are optional and never required): ``gymnax`` (its
``MemoryChain-bsuite``, ``jax.vmap`` over copies and ``lax.scan`` over steps on the CPU, in the native vector
groups), ``popgym`` (``CountRecallEasy``) and ``minigrid`` (``MiniGrid-MemoryS7-v0``), both in the single group.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

import memenvs

REFERENCE_ID = "CartPole-v1"
MODES = ("single", "sync_vector", "native_vector", "sb3_adapter")
PEERS = ("gymnax", "popgym", "minigrid")
#: Chunks of work timed between clock reads: ``chunk()`` steps and returns how many env-steps it took.
Chunk = Callable[[], int]


# ----------------------------------------------------------------------------------------------- the timing helper
def timed(chunk: Chunk, seconds: float, warmup: bool = True) -> tuple[float, float]:
    """Env-steps per second of calling ``chunk`` (which returns the env-steps it took) for ``seconds`` of wall time,
    after one untimed warm-up call unless ``warmup`` is false (first-call allocations and lazy imports are not
    throughput). Returns ``(steps_per_s, elapsed_s)``."""
    if warmup:
        chunk()
    steps, start = 0, time.perf_counter()
    while True:
        steps += chunk()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed, elapsed


def timed_steps(chunk: Chunk, steps: int) -> tuple[float, float]:
    """Env-steps per second of calling ``chunk`` until at least ``steps`` env-steps are done (no warm-up: a long run
    measures from where the caller stands). Returns ``(steps_per_s, elapsed_s)``."""
    done, start = 0, time.perf_counter()
    while done < steps:
        done += chunk()
    elapsed = time.perf_counter() - start
    return done / elapsed, elapsed


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS does not report them)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict[str, str]:
    """CPU, core count and library versions, printed beside every benchmark."""
    info = {
        "cpu": _cpu_name(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gym.__version__,
        "memenvs": memenvs.__version__,
    }
    for name in ("stable_baselines3", "jax", "gymnax", "popgym", "minigrid"):
        version = _version(name)
        if version is not None:
            info[name] = version
    return info


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module.replace("_", "-"))
    except metadata.PackageNotFoundError:
        return None


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# ----------------------------------------------------------------------------------------------- what is measured
@dataclass
class Case:
    """One thing to time: ``build()`` makes the env and returns ``(chunk, close)``."""

    env_id: str
    mode: str
    num_envs: int
    build: Callable[[], tuple[Chunk, Callable[[], None]]]
    reference: tuple[str, str, int] | None = None  # key of the case this one is divided by

    @property
    def key(self) -> tuple[str, str, int]:
        return self.env_id, self.mode, self.num_envs


@dataclass
class Row:
    """The result of one case: env-steps/s per round and the ratio to its reference per round."""

    env_id: str
    mode: str
    num_envs: int
    rates: list[float]
    reference: tuple[str, str, int] | None = None
    ratios: list[float] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None  # why the case could not be built here (e.g. an optional extra missing)

    @property
    def env_steps_per_s(self) -> float:
        return statistics.median(self.rates) if self.rates else float("nan")

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"env_id": self.env_id, "mode": self.mode, "num_envs": self.num_envs}
        if self.skipped is not None:
            return {**d, "skipped": self.skipped}
        d.update(env_steps_per_s=self.env_steps_per_s, rates=self.rates, seconds=self.seconds)
        if self.reference is not None and self.ratios:
            ref_id, ref_mode, ref_n = self.reference
            d["reference"] = {"env_id": ref_id, "mode": ref_mode, "num_envs": ref_n}
            d["ratio"] = {"median": statistics.median(self.ratios), "min": min(self.ratios),
                          "max": max(self.ratios), "rounds": self.ratios}
        return d


def random_actions(space: gym.spaces.Space, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` random actions of ``space``: indices of a ``Discrete``, points of a ``Box``."""
    if isinstance(space, gym.spaces.Box):
        return rng.uniform(space.low, space.high, size=(size, *space.shape)).astype(space.dtype)
    return rng.integers(space.n, size=size)


def _single(env_id: str, kwargs: dict[str, Any]) -> tuple[Chunk, Callable[[], None]]:
    return _single_env(gym.make(env_id, **kwargs))


def _single_env(env: gym.Env) -> tuple[Chunk, Callable[[], None]]:
    env.reset(seed=0)
    drawn = random_actions(env.action_space, 1024, np.random.default_rng(0))
    actions = list(drawn) if drawn.ndim > 1 else [int(a) for a in drawn]

    def chunk() -> int:
        step, reset = env.step, env.reset
        for a in actions:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                reset()
        return len(actions)

    return chunk, env.close


def _gym_vector(envs: gym.vector.VectorEnv) -> tuple[Chunk, Callable[[], None]]:
    envs.reset(seed=0)
    n = envs.num_envs
    batches = [random_actions(envs.single_action_space, n, np.random.default_rng(i)) for i in range(16)]

    def chunk() -> int:
        step = envs.step
        for a in batches:
            step(a)
        return len(batches) * n

    return chunk, envs.close


def _sync(env_id: str, n: int, kwargs: dict[str, Any]) -> tuple[Chunk, Callable[[], None]]:
    return _gym_vector(gym.make_vec(env_id, num_envs=n, vectorization_mode="sync", **kwargs))


def _native(env_id: str, n: int, kwargs: dict[str, Any]) -> tuple[Chunk, Callable[[], None]]:
    return _gym_vector(gym.make_vec(env_id, num_envs=n, vectorization_mode="vector_entry_point", **kwargs))


def _sb3(env_id: str, n: int, kwargs: dict[str, Any]) -> tuple[Chunk, Callable[[], None]]:
    from memenvs.sb3 import make_vec_env

    venv = make_vec_env(env_id, n_envs=n, seed=0, **kwargs)
    venv.reset()
    batches = [random_actions(venv.action_space, n, np.random.default_rng(i)) for i in range(16)]

    def chunk() -> int:
        for a in batches:
            venv.step(a)
        return len(batches) * n

    return chunk, venv.close


def _gymnax(name: str, n: int) -> tuple[Chunk, Callable[[], None]]:
    """gymnax's env stepped by ``jax.vmap`` over the copies inside one jitted ``lax.scan`` of 16 steps, on the
    pregenerated actions (as the memenvs rows); gymnax steps reset finished copies themselves."""
    import gymnax
    import jax

    env, params = gymnax.make(name)
    steps = 16
    actions = jax.numpy.asarray(np.random.default_rng(0).integers(env.num_actions, size=(steps, n)))
    step = jax.vmap(env.step, in_axes=(0, 0, 0, None))

    @jax.jit
    def rollout(key: Any, state: Any) -> tuple[Any, Any]:
        def body(carry: Any, action: Any) -> tuple[Any, Any]:
            key, state = carry
            key, sub = jax.random.split(key)
            out = step(jax.random.split(sub, n), state, action, params)  # obs, state, reward, ...
            state, reward = out[1], out[2]
            return (key, state), reward.sum()

        (key, state), rewards = jax.lax.scan(body, (key, state), actions)
        return (key, state), rewards

    key = jax.random.PRNGKey(0)
    _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, n), params)
    carry = [(key, state)]

    def chunk() -> int:
        carry[0], rewards = rollout(*carry[0])
        rewards.block_until_ready()
        return steps * n

    return chunk, lambda: None


def _peer_single(peer: str) -> tuple[Chunk, Callable[[], None]]:
    if peer == "popgym":
        from popgym.envs.count_recall import CountRecallEasy

        from gymnasium.wrappers import OrderEnforcing, PassiveEnvChecker

        env = OrderEnforcing(PassiveEnvChecker(CountRecallEasy()))  # the wrappers gym.make adds to every env
    else:
        import minigrid  # noqa: F401  (registers the ids)

        env = gym.make("MiniGrid-MemoryS7-v0")
    return _single_env(env)


PEER_IDS = {"gymnax": "gymnax/MemoryChain-bsuite", "popgym": "popgym/CountRecallEasy",
            "minigrid": "minigrid/MiniGrid-MemoryS7-v0"}


def peer_available(peer: str) -> bool:
    """Whether the optional peer library is importable here (``jax`` as well for gymnax)."""
    import importlib.util

    needed = {"gymnax": ("gymnax", "jax"), "popgym": ("popgym",), "minigrid": ("minigrid",)}[peer]
    return all(importlib.util.find_spec(m) is not None for m in needed)


def has_native_vector(env_id: str) -> bool:
    return gym.spec(env_id).vector_entry_point is not None


def sb3_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("stable_baselines3") is not None


def plan(
    env_ids: Sequence[str],
    num_envs: Sequence[int] = (64, 1024, 8192),
    sync_envs: int = 16,
    sb3: bool = True,
    against: Sequence[str] = (),
    kwargs: dict[str, Any] | None = None,
) -> list[list[Case]]:
    """The groups to measure, each starting with its reference. ``kwargs`` go to the memenvs ids only."""
    for peer in against:
        if peer not in PEERS:
            raise ValueError(f"against must name peers among {', '.join(PEERS)}; got {peer!r}")
    kwargs = dict(kwargs or {})
    sb3 = sb3 and sb3_available()
    ref = REFERENCE_ID
    single = [Case(ref, "single", 1, lambda: _single(ref, {}))]
    sync = [Case(ref, "sync_vector", sync_envs, lambda: _sync(ref, sync_envs, {}))]
    native = {n: [Case(ref, "native_vector", n, lambda n=n: _native(ref, n, {}))] for n in num_envs}
    for env_id in env_ids:
        single.append(Case(env_id, "single", 1, lambda e=env_id: _single(e, kwargs), (ref, "single", 1)))
        sync.append(Case(env_id, "sync_vector", sync_envs, lambda e=env_id: _sync(e, sync_envs, kwargs),
                         (ref, "sync_vector", sync_envs)))
        if has_native_vector(env_id):
            for n in num_envs:
                native[n].append(Case(env_id, "native_vector", n, lambda e=env_id, n=n: _native(e, n, kwargs),
                                      (ref, "native_vector", n)))
                if sb3:
                    native[n].append(Case(env_id, "sb3_adapter", n, lambda e=env_id, n=n: _sb3(e, n, kwargs),
                                          (env_id, "native_vector", n)))
        elif sb3:
            # Without a native vector env the adapter runs Gymnasium's sync vectorisation: size it like that row.
            sync.append(Case(env_id, "sb3_adapter", sync_envs, lambda e=env_id: _sb3(e, sync_envs, kwargs),
                             (env_id, "sync_vector", sync_envs)))
    for peer in against:
        if not peer_available(peer):
            continue
        if peer == "gymnax":
            for n in num_envs:
                native[n].append(Case(PEER_IDS[peer], "native_vector", n,
                                      lambda n=n: _gymnax("MemoryChain-bsuite", n), (ref, "native_vector", n)))
        else:
            single.append(Case(PEER_IDS[peer], "single", 1, lambda p=peer: _peer_single(p), (ref, "single", 1)))
    return [single, sync, *native.values()]


def measure(
    groups: Sequence[Sequence[Case]],
    seconds: float = 0.5,
    rounds: int = 3,
    progress: Callable[[Row], None] | None = None,
) -> list[Row]:
    """Measure every group as described in the module docstring; ``progress`` gets each row as its group ends."""
    if rounds < 1 or seconds <= 0:
        raise ValueError(f"rounds must be >= 1 and seconds > 0, got rounds={rounds}, seconds={seconds}")
    rows: list[Row] = []
    for group in groups:
        built, skipped = [], {}
        for case in group:
            try:
                built.append((case, *case.build()))
            except Exception as err:  # noqa: BLE001  (e.g. the atari extra missing: keep the other rows)
                skipped[case.key] = f"{type(err).__name__}: {err}"
        runners = {case.key: chunk for case, chunk, _ in built}
        rates: dict[tuple[str, str, int], list[float]] = {case.key: [] for case in group}
        ratios: dict[tuple[str, str, int], list[float]] = {case.key: [] for case in group}
        elapsed: dict[tuple[str, str, int], float] = {case.key: 0.0 for case in group}
        warm: set[tuple[str, str, int]] = set()

        def time_case(key: tuple[str, str, int]) -> float:
            rate, took = timed(runners[key], seconds, warmup=key not in warm)
            warm.add(key)
            rates[key].append(rate)
            elapsed[key] += took
            return rate

        try:
            for r in range(rounds):
                # Each case right beside its reference, the reference first in even rounds and second in odd ones,
                # and the pairs in an order rotated from round to round.
                pairs = [case for case in group if case.reference in runners and case.key in runners]
                shift = r % max(1, len(pairs))
                for case in pairs[shift:] + pairs[:shift]:
                    first, second = (case.reference, case.key) if r % 2 == 0 else (case.key, case.reference)
                    a, b = time_case(first), time_case(second)
                    ours, ref = (b, a) if r % 2 == 0 else (a, b)
                    ratios[case.key].append(ours / ref)
                for case in group:  # a reference nobody is paired with (every case skipped) is still measured
                    if case.key in runners and not rates[case.key]:
                        time_case(case.key)
        finally:
            for _, _, close in built:
                close()
        for case in group:
            row = Row(*case.key, rates=rates[case.key], seconds=elapsed[case.key], skipped=skipped.get(case.key))
            if ratios[case.key]:
                row.reference, row.ratios = case.reference, ratios[case.key]
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def run(
    env_ids: Sequence[str],
    num_envs: Sequence[int] = (64, 1024, 8192),
    seconds: float = 0.5,
    rounds: int = 3,
    sync_envs: int = 16,
    sb3: bool = True,
    against: Sequence[str] = (),
    kwargs: dict[str, Any] | None = None,
    progress: Callable[[Row], None] | None = None,
) -> dict[str, Any]:
    """Plan and measure; returns the report: machine, load averages before and after, settings and rows."""
    groups = plan(env_ids, num_envs, sync_envs, sb3, against, kwargs)
    started, load_before = time.strftime("%Y-%m-%d %H:%M:%S"), load_average()
    rows = measure(groups, seconds, rounds, progress)
    return {
        "started": started,
        "machine": machine_info(),
        "load_average": {"before": load_before, "after": load_average()},
        "settings": {"seconds": seconds, "rounds": rounds, "num_envs": list(num_envs), "sync_envs": sync_envs,
                     "against": [p for p in against if peer_available(p)], "kwargs": kwargs or {}},
        "reference_id": REFERENCE_ID,
        "results": [row.as_dict() for row in rows],
    }


# ----------------------------------------------------------------------------------------------- display
HEADER = f"{'env':34s} {'mode':14s} {'copies':>6s} {'env-steps/s':>12s}  {'ratio (median [min-max])':26s} reference"


def format_row(row: Row) -> str:
    """One line: the median rate, the ratio to the reference with its spread over rounds, and the reference."""
    if row.skipped is not None:
        return f"{row.env_id:34s} {row.mode:14s} {row.num_envs:6d} {'skipped':>12s}  {row.skipped}"
    text = f"{row.env_id:34s} {row.mode:14s} {row.num_envs:6d} {row.env_steps_per_s:12,.0f}"
    if row.reference is None or not row.ratios:
        return text + f"  {'(reference)':26s}"
    ratio = f"{statistics.median(row.ratios):.2f}x [{min(row.ratios):.2f}-{max(row.ratios):.2f}]"
    ref_id, ref_mode, ref_n = row.reference
    return text + f"  {ratio:26s} {ref_id} {ref_mode} {ref_n}"
