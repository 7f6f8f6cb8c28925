"""Environment throughput: steps per second of the single env, Gymnasium's sync vector env, the native vector env
and the SB3 adapter, with the machine and library versions they ran on.

Used by ``memenvs bench``. Every measurement steps with pregenerated uniform random actions (so action sampling is not
timed) for at least ``seconds`` of wall time, resetting as episodes end.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np

import memenvs


@dataclass
class Measurement:
    """One throughput figure."""

    env_id: str
    mode: str  # "single", "sync_vector", "native_vector", "sb3_adapter"
    num_envs: int
    env_steps_per_s: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    try:
        import stable_baselines3

        info["stable_baselines3"] = stable_baselines3.__version__
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _timed(step_chunk: Callable[[], int], seconds: float) -> tuple[float, float]:
    """Call ``step_chunk`` (which returns how many env-steps it took) until ``seconds`` have passed."""
    step_chunk()  # warm-up: first-call allocations and lazy imports are not throughput
    steps, start = 0, time.perf_counter()
    while True:
        steps += step_chunk()
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return steps / elapsed, elapsed


def bench_single(env_id: str, seconds: float, **kwargs: Any) -> Measurement:
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    actions = [int(a) for a in np.random.default_rng(0).integers(env.action_space.n, size=4096)]

    def chunk() -> int:
        step, reset = env.step, env.reset
        for a in actions:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                reset()
        return len(actions)

    rate, elapsed = _timed(chunk, seconds)
    env.close()
    return Measurement(env_id, "single", 1, rate, elapsed)


def _bench_gym_vector(envs: gym.vector.VectorEnv, env_id: str, mode: str, seconds: float) -> Measurement:
    envs.reset(seed=0)
    n = envs.num_envs
    batches = [np.random.default_rng(i).integers(envs.single_action_space.n, size=n) for i in range(64)]

    def chunk() -> int:
        step = envs.step
        for a in batches:
            step(a)
        return len(batches) * n

    rate, elapsed = _timed(chunk, seconds)
    envs.close()
    return Measurement(env_id, mode, n, rate, elapsed)


def bench_sync_vector(env_id: str, num_envs: int, seconds: float, **kwargs: Any) -> Measurement:
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="sync", **kwargs)
    return _bench_gym_vector(envs, env_id, "sync_vector", seconds)


def bench_native_vector(env_id: str, num_envs: int, seconds: float, **kwargs: Any) -> Measurement:
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
    return _bench_gym_vector(envs, env_id, "native_vector", seconds)


def bench_sb3(env_id: str, num_envs: int, seconds: float, **kwargs: Any) -> Measurement:
    from memenvs.sb3 import make_vec_env

    venv = make_vec_env(env_id, n_envs=num_envs, seed=0, monitor=False, **kwargs)
    venv.reset()
    batches = [np.random.default_rng(i).integers(venv.action_space.n, size=num_envs) for i in range(16)]

    def chunk() -> int:
        for a in batches:
            venv.step(a)
        return len(batches) * num_envs

    rate, elapsed = _timed(chunk, seconds)
    venv.close()
    return Measurement(env_id, "sb3_adapter", num_envs, rate, elapsed)


def has_native_vector(env_id: str) -> bool:
    return gym.spec(env_id).vector_entry_point is not None


def run(
    env_ids: list[str],
    num_envs: list[int],
    seconds: float = 1.0,
    sync_envs: int = 16,
    sb3: bool = True,
    kwargs: dict[str, Any] | None = None,
    progress: Callable[[Measurement], None] | None = None,
) -> list[Measurement]:
    """Measure every mode for every id; ``progress`` is called with each measurement as it completes."""
    kwargs = kwargs or {}
    results: list[Measurement] = []

    def record(m: Measurement) -> None:
        results.append(m)
        if progress is not None:
            progress(m)

    for env_id in env_ids:
        record(bench_single(env_id, seconds, **kwargs))
        record(bench_sync_vector(env_id, sync_envs, seconds, **kwargs))
        if has_native_vector(env_id):
            for n in num_envs:
                record(bench_native_vector(env_id, n, seconds, **kwargs))
        if sb3 and _sb3_available():
            # Without a native vector env the adapter runs Gymnasium's sync vectorisation: size it like that row,
            # not like the batched core (1024 emulators would measure memory, not the adapter).
            n = max(num_envs) if has_native_vector(env_id) else sync_envs
            record(bench_sb3(env_id, n, seconds, **kwargs))
    return results


def _sb3_available() -> bool:
    try:
        import stable_baselines3  # noqa: F401
    except ImportError:
        return False
    return True
