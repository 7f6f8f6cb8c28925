"""``memenvs play``: one step per key press in grid tasks, only the observation on screen, and a clear error
without a display."""

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import memenvs  # noqa: F401  (registers the ids)
from memenvs.play import ObservationView, observation_panels, play_turn_based


def _goal(env: gym.Env) -> int:
    return int(env.unwrapped.hidden_state()["goal"])


def test_turn_based_play_steps_once_per_key_press_and_never_by_itself():
    import pygame

    env = gym.make("memenvs/TMaze-v0", render_mode="rgb_array", length=4)
    keys = env.unwrapped.get_keys_to_action()
    script = [
        [],  # nothing happens: no step (Gymnasium's play would send its no-op here)
        [pygame.event.Event(pygame.MOUSEMOTION, pos=(1, 1), rel=(0, 0), buttons=(0, 0, 0))],
        [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT)],  # one step east
        [pygame.event.Event(pygame.KEYUP, key=pygame.K_RIGHT)],
        [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_x)],  # not a mapped key: no step
        [pygame.event.Event(pygame.KEYDOWN, key=pygame.K_d)],  # one more step east
        [pygame.event.Event(pygame.QUIT)],
    ]
    batches = iter(script)
    steps = play_turn_based(env, keys, seed=0, events=lambda: next(batches))
    assert steps == 2
    assert int(env.unwrapped._state.t[0]) == 2
    env.close()


def test_observation_view_hides_what_the_agent_does_not_see():
    """Two passive T-mazes with different goals look the same after the cue: the picture is the observation."""
    envs = {}
    for seed in range(20):
        env = gym.make("memenvs/TMaze-v0", render_mode="rgb_array", variant="passive", length=4)
        env.reset(seed=seed)
        envs.setdefault(_goal(env), (seed, env))
        if len(envs) == 2:
            break
    views, full = [], []
    for seed, env in envs.values():
        view = ObservationView(env)
        view.reset(seed=seed)
        view.step(1)  # east: the cue is gone
        views.append(view.render())
        full.append(env.render())
    assert views[0].shape == views[1].shape and views[0].dtype == np.uint8
    np.testing.assert_array_equal(views[0], views[1])
    assert not np.array_equal(full[0], full[1])  # the full picture shows the goal: what --show-hidden gives


def test_observation_panels_lay_out_vectors_and_images():
    box = gym.spaces.Box(0.0, 1.0, (20,))
    (panel,) = observation_panels(np.linspace(0, 1, 20), box)
    assert panel.shape == (2, 16) and np.isnan(panel[1, 4:]).all() and panel[0, 0] == 0.0
    grid = gym.spaces.Box(0.0, 1.0, (7, 7, 2))
    assert [p.shape for p in observation_panels(np.zeros((7, 7, 2)), grid)] == [(7, 7), (7, 7)]
    unbounded = gym.spaces.Box(-np.inf, np.inf, (3,))
    (panel,) = observation_panels(np.array([-1e9, 0.0, 1e9]), unbounded)
    np.testing.assert_allclose(panel[0], [0.0, 0.5, 1.0], atol=1e-6)


def _play(*args: str) -> subprocess.CompletedProcess:
    # A subprocess with a timeout: the old `memenvs play` waited forever on SDL's off-screen driver.
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen"}
    return subprocess.run([sys.executable, "-m", "memenvs", "play", "memenvs/TMaze-v0", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_play_without_a_display_fails_fast_with_exit_2():
    out = _play()
    assert out.returncode == 2
    assert "play needs a display" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("fps", ["0", "-3"])
def test_fps_below_one_is_refused(fps, tmp_path, capsys):
    from memenvs.cli import main

    assert main(["render", "memenvs/TMaze-v0", "--out", str(tmp_path / "x.mp4"), "--fps", fps]) == 2
    assert f"--fps must be >= 1, got {fps}" in capsys.readouterr().err
    assert not (tmp_path / "x.mp4").exists()
    out = _play("--fps", fps)
    assert out.returncode == 2 and f"--fps must be >= 1, got {fps}" in out.stderr
