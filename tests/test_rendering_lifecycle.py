"""Rendering lifecycle: ``human`` windows close on ``close()`` (twice is harmless), ``rgb_array`` rendering leaks no
surfaces or windows, and without a display rendering either falls back headless or fails with a clear error, never
hangs (checked in subprocesses with timeouts, since the display is per process)."""

from __future__ import annotations

import gc
import importlib.util
import os
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest

import contract
import memenvs  # noqa: F401  (registers the ids)
from memenvs.envs.rendering import Renderer
from memenvs.registration import ENVS

#: Ids drawn by the shared pygame renderer (HalfCheetahDir renders through MuJoCo, which needs OpenGL).
MUJOCO_PREFIX = "memenvs.envs.half_cheetah_dir:"
NATIVE_IDS = [e.id for e in ENVS if e.vector_entry_point is not None and not e.entry_point.startswith(MUJOCO_PREFIX)]
ATARI_IDS = [e.id for e in ENVS if e.vector_entry_point is None]
HAS_ALE = importlib.util.find_spec("ale_py") is not None and importlib.util.find_spec("cv2") is not None
#: Seconds a subprocess may take before it counts as hung (imports and a few frames take about one).
HANG_S = 60


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_human_window_closes_on_close_and_twice(env_id: str) -> None:
    import pygame

    before = Renderer._open_windows
    env = gym.make(env_id, render_mode="human")
    env.reset(seed=0)
    env.step(contract.null_actions(env.action_space, 1)[0])
    renderer = env.unwrapped._renderer
    assert renderer._window is not None and Renderer._open_windows == before + 1
    env.close()
    assert renderer._window is None and Renderer._open_windows == before
    assert pygame.display.get_init() == (before > 0)  # video shut down with the last window
    env.close()  # a second close is harmless
    assert Renderer._open_windows == before


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_vector_human_window_closes_on_close_and_twice(env_id: str) -> None:
    before = Renderer._open_windows
    envs = gym.make_vec(env_id, num_envs=3, render_mode="human")
    envs.reset(seed=0)
    envs.step(contract.null_actions(envs.single_action_space, 3))
    envs.render()
    assert Renderer._open_windows == before + 1  # one window (copy 0), not one per copy
    envs.close()
    envs.close()
    assert Renderer._open_windows == before


@pytest.mark.skipif(not HAS_ALE, reason="ale-py / OpenCV not installed")
@pytest.mark.parametrize("env_id", ATARI_IDS)
def test_atari_human_close_twice(env_id: str) -> None:
    env = gym.make(env_id, render_mode="human", max_num_frames_per_episode=200)
    env.reset(seed=0)
    env.step(0)
    env.close()
    env.close()


@pytest.mark.parametrize("env_id", NATIVE_IDS)
def test_rgb_array_rendering_leaks_no_surfaces_or_windows(env_id: str) -> None:
    """Many resets and renders in ``rgb_array`` mode open no window and leave no pygame surfaces alive."""
    import pygame

    def live_surfaces() -> int:
        gc.collect()
        return sum(isinstance(o, pygame.Surface) for o in gc.get_objects())

    before_windows = Renderer._open_windows
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.render()
    base = live_surfaces()
    for i in range(100):
        env.reset(seed=i)
        frame = env.render()
        assert frame.dtype == np.uint8 and frame.ndim == 3
    assert live_surfaces() <= base
    assert Renderer._open_windows == before_windows and env.unwrapped._renderer._window is None
    env.close()


def _run_isolated(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter with ``env`` as its whole display environment; a run that outlives
    ``HANG_S`` is a hang and fails the test."""
    clean = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    clean.update(env)
    try:
        return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=clean, capture_output=True,
                              text=True, timeout=HANG_S)
    except subprocess.TimeoutExpired as err:
        pytest.fail(f"rendering hung for {HANG_S} s with {env}: {err.stdout!r} {err.stderr!r}")


HUMAN_SCRIPT = """
    import gymnasium as gym
    import memenvs, pygame
    env = gym.make("memenvs/TMaze-v0", render_mode="human", length=3)
    try:
        env.reset(seed=0)
        for _ in range(20):
            env.step(1)
    except RuntimeError as err:
        print("ERROR", err)
    else:
        renderer = env.unwrapped._renderer
        print("HEADLESS", pygame.display.get_driver(), "unpaced" if renderer._clock is None else "paced")
    env.close()
    env.close()
    print("CLOSED")
"""


@pytest.mark.parametrize(
    "display_env",
    [{}, {"SDL_VIDEODRIVER": "x11", "DISPLAY": ":97"}, {"SDL_VIDEODRIVER": "wayland"}, {"SDL_VIDEODRIVER": "dummy"}],
    ids=["no-display", "x11-without-server", "wayland-without-compositor", "dummy"],
)
def test_human_without_display_falls_back_or_fails_clearly(display_env: dict[str, str]) -> None:
    """No display: SDL's off-screen fallback draws headless (and unpaced), or the env raises a RuntimeError that
    says what to do; either way close() works twice and nothing hangs."""
    out = _run_isolated(HUMAN_SCRIPT, display_env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[-1] == "CLOSED", out.stdout
    if lines[0].startswith("ERROR"):
        assert "needs a display" in lines[0] and "rgb_array" in lines[0] and "SDL_VIDEODRIVER=dummy" in lines[0]
    else:
        driver, pacing = lines[0].split()[1:]
        assert driver in ("dummy", "offscreen") and pacing == "unpaced", out.stdout
    if display_env.get("SDL_VIDEODRIVER") == "dummy":
        assert lines[0] == "HEADLESS dummy unpaced"
    if display_env.get("SDL_VIDEODRIVER") == "x11":
        assert lines[0].startswith("ERROR"), "an explicitly requested x11 driver with no server must fail clearly"


def test_rgb_array_and_ansi_need_no_display() -> None:
    code = """
        import gymnasium as gym
        import numpy as np
        import memenvs, pygame
        from memenvs.registration import ENVS
        for entry in ENVS:
            if entry.vector_entry_point is None or entry.entry_point.startswith("memenvs.envs.half_cheetah_dir:"):
                continue
            for mode in ("rgb_array", "ansi"):
                env = gym.make(entry.id, render_mode=mode)
                env.reset(seed=0)
                space = env.action_space
                env.step(np.zeros(space.shape, space.dtype) if isinstance(space, gym.spaces.Box) else 0)
                out = env.render()
                assert isinstance(out, np.ndarray if mode == "rgb_array" else str), (entry.id, mode)
                env.close()
        print("OK", pygame.display.get_init())
    """
    out = _run_isolated(code, {"SDL_VIDEODRIVER": "x11", "DISPLAY": ":97"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["OK", "False"]  # drawing never touched the display
