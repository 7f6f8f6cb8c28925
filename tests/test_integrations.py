"""The examples of the integrations page ("Use memenvs with ..."), each run on a tiny budget so that a release
cannot break them silently. The page includes these very files."""

from __future__ import annotations

import importlib.util
import math
import os
import runpy
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sb3_ppo(torch_one_thread):
    pytest.importorskip("stable_baselines3")
    assert math.isfinite(example("sb3_ppo").main(total_timesteps=256, n_envs=4, eval_episodes=4))


def test_sb3_contrib_recurrent_ppo(torch_one_thread):
    pytest.importorskip("sb3_contrib")
    assert math.isfinite(example("recurrent_ppo").main(total_timesteps=256, n_envs=4, eval_episodes=4))


def test_cleanrl_style_make_vec_is_the_native_env(torch_one_thread):
    import gymnasium as gym

    assert type(gym.make_vec("memenvs/TMaze-v0", num_envs=2)).__name__ == "TMazeVectorEnv"
    returns = example("cleanrl_make_vec").main(num_envs=8, num_steps=100)
    assert len(returns) > 0 and all(math.isfinite(r) for r in returns)


def test_gymnasium_play_waits_for_the_player_and_sends_the_key_held():
    import gymnasium as gym
    import pygame

    class PressRight(gym.Wrapper):
        """Holds the right arrow down once play's window is open (from play's second reset on)."""

        resets = 0

        def reset(self, **kwargs):
            self.resets += 1
            if self.resets == 2:
                pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT))
            return super().reset(**kwargs)

    actions = []

    def callback(obs, next_obs, action, *rest):
        actions.append(action)
        if len(actions) == 3:
            pygame.event.post(pygame.event.Event(pygame.QUIT))  # close the window

    env = PressRight(gym.make("memenvs/TMaze-v0", render_mode="rgb_array", length=6))
    example("gymnasium_play").main(env, callback=callback)
    assert actions == [1, 1, 1]  # east while the key is held; never play's no-op (north)


def test_record_video(tmp_path):
    pytest.importorskip("moviepy")
    videos = example("record_video").main(str(tmp_path / "videos"), episodes=2)
    assert len(videos) == 2 and all(v.stat().st_size > 0 for v in videos)


def test_rllib_ppo_lstm_on_a_remote_env_runner():
    if not os.environ.get("MEMENVS_REQUIRE_RLLIB"):  # .ci/run runs it in an environment with RLlib's Gymnasium
        pytest.importorskip("tree", reason="RLlib needs dm-tree (pip install 'ray[rllib]')")
        pytest.importorskip("ray.rllib")
    import ray

    module = example("rllib_ppo")
    env = module.make_tmaze({"length": 3})  # the register_env creator builds the env by itself
    assert env.unwrapped.core.params.length == 3
    try:
        assert math.isfinite(module.main(iterations=1, batch_size=64, num_env_runners=1))
    finally:
        ray.shutdown()


def _zoo(module: str, *args: str) -> None:
    """Run an RL Zoo command line in this process, as ``python -m module args`` would: a new process per command
    spent most of the test's time importing torch, SB3 and the zoo again."""
    argv = sys.argv
    sys.argv = [module, *args]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        assert stop.code in (None, 0), f"{module} exited with {stop.code}"
    finally:
        sys.argv = argv


@pytest.mark.parametrize("algo", ["ppo", "ppo_lstm"])
def test_rl_zoo_trains_with_the_hyperparams_file_and_enjoys(algo, tmp_path, monkeypatch, capsys):
    pytest.importorskip("rl_zoo3")
    monkeypatch.chdir(tmp_path)
    conf = EXAMPLES / "rl_zoo" / f"{algo}.yml"
    common = ["--algo", algo, "--env", "memenvs/TMaze-v0"]
    _zoo("rl_zoo3.train", *common, "--gym-packages", "memenvs", "-conf", str(conf), "-n", "512", "--seed", "0",
         "--eval-freq", "-1", "--log-folder", "logs")
    assert (tmp_path / "logs" / algo / "memenvs-TMaze-v0_1" / "memenvs-TMaze-v0.zip").exists()
    if algo == "ppo":
        return  # enjoy and record_video run once, on the recurrent model
    capsys.readouterr()
    _zoo("rl_zoo3.enjoy", *common, "--gym-packages", "memenvs", "-f", "logs", "-n", "40", "--no-render",
         "--deterministic")
    assert "Mean reward" in capsys.readouterr().out
    # record_video has no --gym-packages (memenvs is imported here already) and ignores the env_kwargs of the
    # hyperparams file (repeat them with --env-kwargs).
    _zoo("rl_zoo3.record_video", *common, "-f", "logs", "-n", "20", "-o", "videos",
         "--env-kwargs", 'variant:"passive"', "length:8")
    assert list((tmp_path / "videos").glob("*.mp4"))


def test_the_page_shows_every_example_file():
    page = (ROOT / "docs" / "integrations.md").read_text()
    files = sorted(p.relative_to(ROOT).as_posix() for p in [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("rl_zoo/*.yml")])
    shown = [f for f in files if f"../{f}" in page or f in page]
    assert shown == files and len(files) >= 7
