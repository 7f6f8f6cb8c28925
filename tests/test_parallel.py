"""Parallel use: every id under Gymnasium's AsyncVectorEnv and SB3's SubprocVecEnv with the ``spawn`` start method,
envs that share a process (and a thread pool) without sharing state, renderer included, and two SB3 models trained
in one process giving exactly what each gives alone."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import random
import threading
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv

import contract
import memenvs  # noqa: F401  (registers the ids)
from memenvs.registration import ENVS

HAS_ALE = importlib.util.find_spec("ale_py") is not None and importlib.util.find_spec("cv2") is not None
HAS_MUJOCO = importlib.util.find_spec("mujoco") is not None
#: Small settings per id that keep episodes short enough for several to end inside a test (defaults otherwise).
SMALL: dict[str, dict[str, Any]] = {
    "memenvs/TMaze-v0": {"length": 3},
    "memenvs/RandomMaze-v0": {"size": 4},
    "memenvs/TwoStep-v0": {"n_trials": 10},
    "memenvs/Warehouse-v0": {"max_steps": 30},
    "memenvs/MiniWarehouse-v0": {"max_steps": 30},
    "memenvs/Traffic-v0": {"max_steps": 30},
    "memenvs/NonstationaryCartPole-v0": {"switch_every": 1},
}
ATARI_SMALL = {"max_num_frames_per_episode": 400, "noop_max": 4}


def _kwargs(env_id: str) -> dict[str, Any]:
    return dict(ATARI_SMALL) if _is_atari(env_id) else dict(SMALL.get(env_id, {}))


def _is_atari(env_id: str) -> bool:
    return gym.spec(env_id).entry_point.startswith("memenvs.envs.atari:")


ALL_IDS = [
    pytest.param(e.id, marks=[
        pytest.mark.skipif(_is_atari(e.id) and not HAS_ALE, reason="ale-py not installed"),
        pytest.mark.skipif("half_cheetah" in gym.spec(e.id).entry_point and not HAS_MUJOCO, reason="no mujoco"),
    ])
    for e in ENVS
]


def _numpy_core(entry_point: str) -> bool:
    """The id runs on a batched NumPy core (HalfCheetahDir's vector env is a SyncVectorEnv of MuJoCo copies, whose
    rendering needs an OpenGL context)."""
    try:
        return hasattr(gym.envs.registration.load_env_creator(entry_point), "core_class")
    except ImportError:
        return False


NATIVE_IDS = [e.id for e in ENVS if e.vector_entry_point is not None and _numpy_core(e.entry_point)]


def _run_gym_vector(envs: gym.vector.VectorEnv, seed: int, n_steps: int) -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    obs, _ = envs.reset(seed=seed)
    out = [(obs.copy(),)]
    for _ in range(n_steps):
        obs, r, term, trunc, _ = envs.step(contract.random_actions(envs.single_action_space, envs.num_envs, rng))
        out.append((obs.copy(), r.copy(), term.copy(), trunc.copy()))
    return out


def _assert_same(a: list[tuple[np.ndarray, ...]], b: list[tuple[np.ndarray, ...]]) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v, err_msg=f"step {i}")


# ------------------------------------------------------------------------------------ processes (spawn start)
@pytest.mark.parametrize("env_id", ALL_IDS)
def test_async_vector_env_with_spawn_matches_sync(env_id: str) -> None:
    """``make_vec(vectorization_mode="async")`` with spawned workers (which import memenvs afresh and unpickle
    the env spec) gives exactly the transitions of the in-process SyncVectorEnv under the same seed."""
    kwargs = _kwargs(env_id)
    n_steps = 40 if _is_atari(env_id) else 120
    sync = gym.make_vec(env_id, num_envs=2, vectorization_mode="sync", **kwargs)
    expected = _run_gym_vector(sync, 5, n_steps)
    sync.close()
    envs = gym.make_vec(env_id, num_envs=2, vectorization_mode="async", vector_kwargs={"context": "spawn"}, **kwargs)
    try:
        assert isinstance(envs, AsyncVectorEnv)
        _assert_same(_run_gym_vector(envs, 5, n_steps), expected)
    finally:
        envs.close()


def _sb3_run(venv: Any, seed: int, n_steps: int) -> list[tuple[np.ndarray, ...]]:
    rng = np.random.default_rng(seed)
    venv.seed(seed)
    obs = venv.reset()
    out = [(obs.copy(),)]
    for _ in range(n_steps):
        obs, r, done, infos = venv.step(contract.random_actions(venv.action_space, venv.num_envs, rng))
        terminal = [np.asarray(info.get("terminal_observation", 0)) for info in infos]
        truncated = [bool(info.get("TimeLimit.truncated", False)) for info in infos]
        # DummyVecEnv keeps rewards in a float32 buffer, SubprocVecEnv stacks the envs' Python floats: compare the
        # float32 values (HalfCheetahDir's rewards, as Gymnasium's MuJoCo envs', are float64).
        out.append((obs.copy(), r.astype(np.float32), done.copy(), *terminal, np.array(truncated)))
    return out


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_sb3_subproc_vec_env_with_spawn_matches_dummy(env_id: str) -> None:
    """SB3's SubprocVecEnv (spawn) over ``gym.make("memenvs:<id>")`` factories agrees with its DummyVecEnv,
    terminal observations and truncation flags included."""
    vec_env = pytest.importorskip("stable_baselines3.common.vec_env")
    # The "module:" prefix makes gym.make import memenvs in the fresh worker, which has not registered the ids.
    fns = [functools.partial(gym.make, f"memenvs:{env_id}", **_kwargs(env_id)) for _ in range(2)]
    n_steps = 40 if _is_atari(env_id) else 120
    dummy = vec_env.DummyVecEnv(fns)
    expected = _sb3_run(dummy, 9, n_steps)
    dummy.close()
    venv = vec_env.SubprocVecEnv(fns, start_method="spawn")
    try:
        _assert_same(_sb3_run(venv, 9, n_steps), expected)
    finally:
        venv.close()


# ---------------------------------------------------------------------------- isolation inside one process
def _single_run(env: gym.Env, seed: int, n_steps: int, render: bool) -> Iterator[tuple[np.ndarray, ...]]:
    """Transitions (and rgb frames) of seeded random play, yielded one at a time so two runs can interleave."""
    rng = np.random.default_rng(seed + 1000)
    obs, _ = env.reset(seed=seed)
    yield (np.array(obs), env.render() if render else np.zeros(0))
    for _ in range(n_steps):
        obs, r, term, trunc, _ = env.step(contract.random_action(env.action_space, rng))
        frame = env.render() if render else np.zeros(0)
        yield (np.array(obs), np.array([r, term, trunc]), frame)
        if term or trunc:
            obs, _ = env.reset()
            yield (np.array(obs), env.render() if render else np.zeros(0))


def _interleave(*runs: Iterator) -> list[list]:
    outs: list[list] = [[] for _ in runs]
    live = list(range(len(runs)))
    while live:
        for i in list(live):
            try:
                outs[i].append(next(runs[i]))
            except StopIteration:
                live.remove(i)
    return outs


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_two_single_envs_in_one_process_share_nothing(env_id: str) -> None:
    """Two envs of one id stepped alternately (rendering rgb_array frames) each give what they give alone, and a
    pickled clone and a fresh env with the same seed do not disturb each other either."""
    kwargs = _kwargs(env_id)
    make = functools.partial(gym.make, env_id, render_mode="rgb_array", **kwargs)
    alone_a = list(_single_run(make(), 1, 60, True))
    alone_b = list(_single_run(make(), 2, 60, True))
    a, b = make(), make()
    together_a, together_b = _interleave(_single_run(a, 1, 60, True), _single_run(b, 2, 60, True))
    _assert_same(together_a, alone_a)
    _assert_same(together_b, alone_b)
    a.close()  # closing one env leaves the other working
    assert isinstance(b.render(), np.ndarray)
    b.close()


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_two_vector_envs_in_one_process_share_nothing(env_id: str) -> None:
    """Native vector envs of different sizes (which size per-batch caches differently) stepped alternately."""
    kwargs = _kwargs(env_id)

    def run(num_envs: int, seed: int) -> Iterator[tuple[np.ndarray, ...]]:
        envs = gym.make_vec(env_id, num_envs=num_envs, **kwargs)
        rng = np.random.default_rng(seed)
        obs, _ = envs.reset(seed=seed)
        yield (obs.copy(),)
        for _ in range(150):
            obs, r, term, trunc, _ = envs.step(contract.random_actions(envs.single_action_space, num_envs, rng))
            yield obs.copy(), r.copy(), term.copy(), trunc.copy()
        envs.close()

    together = _interleave(run(3, 1), run(5, 2), run(3, 3))
    for got, (n, seed) in zip(together, [(3, 1), (5, 2), (3, 3)]):
        _assert_same(got, list(run(n, seed)))


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_vector_envs_stepped_from_two_threads(env_id: str) -> None:
    """Two threads stepping their own vector envs at the same time (NumPy releases the GIL inside many calls)
    get the transitions each gets alone."""
    kwargs = _kwargs(env_id)
    alone = {s: _run_gym_vector(gym.make_vec(env_id, num_envs=64, **kwargs), s, 300) for s in (1, 2)}
    results: dict[int, Any] = {}
    start = threading.Barrier(2)

    def work(seed: int) -> None:
        envs = gym.make_vec(env_id, num_envs=64, **kwargs)
        start.wait()
        results[seed] = _run_gym_vector(envs, seed, 300)

    threads = [threading.Thread(target=work, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in (1, 2):
        _assert_same(results[s], alone[s])


def test_two_human_windows_in_one_process() -> None:
    """Each env in ``human`` mode has its own window: closing one leaves the other open and drawing (before, the
    first close shut pygame's one shared display and the other env's next frame raised ``pygame.error``)."""
    import pygame

    a = gym.make("memenvs/TMaze-v0", render_mode="human", length=3)
    b = gym.make("memenvs/Maze4x4-v0", render_mode="human")
    a.reset(seed=0)
    b.reset(seed=0)
    win_a, win_b = a.unwrapped._renderer._window, b.unwrapped._renderer._window
    assert win_a is not None and win_b is not None and win_a is not win_b
    assert tuple(win_a.size) != tuple(win_b.size)  # each window keeps its own env's picture size
    a.close()
    for _ in range(5):
        b.step(1)  # draws into b's window; raised "Surface is not initialized" before the fix
    assert pygame.display.get_init()
    a.reset(seed=1)  # a reopens a window of its own after close
    assert a.unwrapped._renderer._window is not None and a.unwrapped._renderer._window is not win_b
    a.close()
    b.close()
    assert not pygame.display.get_init()  # the last window closed shuts the video subsystem down


# --------------------------------------------------------------------------------------- SB3 in one process
class GlobalRngSlot:
    """One model's share of the process-global RNGs that SB3 draws from (torch for initialisation and actions,
    NumPy's legacy global state for minibatch order, ``random``), swapped in while that model trains.

    SB3 has no per-model generator, so two models trained in turns in one process must take turns with these
    states too; everything memenvs owns (envs, adapters, cores) is per instance and needs nothing of the kind.
    """

    def __init__(self) -> None:
        self.state = self._capture()

    @staticmethod
    def _capture() -> tuple:
        import torch

        return torch.get_rng_state(), np.random.get_state(), random.getstate()

    @staticmethod
    def _restore(state: tuple) -> None:
        import torch

        torch.set_rng_state(state[0])
        np.random.set_state(state[1])
        random.setstate(state[2])

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        outside = self._capture()
        self._restore(self.state)
        try:
            yield
        finally:
            self.state = self._capture()
            self._restore(outside)


def _make_model(kind: str, seed: int) -> Any:
    from memenvs.baselines import make_model

    common = dict(n_envs=4, env_kwargs={"length": 3}, n_steps=16, batch_size=32, n_epochs=2)
    if kind == "gru":
        return make_model("gru", "memenvs/TMaze-v0", seed=seed, policy_kwargs={"lstm_hidden_size": 16}, **common)
    return make_model("mlp", "memenvs/TMaze-v0", seed=seed, **common)


def _params_of(model: Any) -> np.ndarray:
    return np.concatenate([p.detach().cpu().numpy().ravel() for p in model.policy.parameters()])


@pytest.mark.parametrize("kind", ["mlp", "gru"])
def test_two_sb3_models_in_one_process_train_as_if_alone(kind: str) -> None:
    """Two models on two instances of one id, built together and trained in alternating chunks in one process,
    end with the parameters each reaches when trained alone with the same seed."""
    pytest.importorskip("stable_baselines3")
    import torch

    torch.set_num_threads(1)  # summation order of multi-threaded kernels must not differ between the runs
    chunks, chunk_steps = 3, 64
    alone = {}
    for seed in (0, 1):
        model = _make_model(kind, seed)
        for _ in range(chunks):
            model.learn(chunk_steps, reset_num_timesteps=False)
        alone[seed] = _params_of(model)
    models, slots = {}, {}
    for seed in (0, 1):
        models[seed] = _make_model(kind, seed)  # seeds the global RNGs: take this model's share of them now
        slots[seed] = GlobalRngSlot()
    for _ in range(chunks):
        for seed in (0, 1):
            with slots[seed].active():
                models[seed].learn(chunk_steps, reset_num_timesteps=False)
    for seed in (0, 1):
        np.testing.assert_array_equal(_params_of(models[seed]), alone[seed])
    assert not np.array_equal(alone[0], alone[1])  # the seeds matter, so the comparison above has teeth
