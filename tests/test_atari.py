"""Flickering Atari on the real ALE (ROMs ship in the ale-py wheel, so this runs offline).

The tests that need ALE skip, saying so, only when the ``atari`` extra is absent; the missing-extra behaviour is
tested by hiding ale_py, so it runs either way.
"""

import importlib.util
import math
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import contract  # noqa: F401  (registers the ids)
from memenvs.wrappers import FlickerObservation, VectorFlickerObservation

HAVE_ATARI = all(importlib.util.find_spec(m) is not None for m in ("ale_py", "cv2"))
needs_atari = pytest.mark.skipif(
    not HAVE_ATARI,
    reason='the atari extra (ale-py, opencv-python-headless) is not installed: pip install "memenvs[atari]"',
)
PONG = "memenvs/FlickeringPong-v0"
IDS = ("memenvs/FlickeringPong-v0", "memenvs/FlickeringBreakout-v0", "memenvs/FlickeringAtari-v0")


def within(fraction: float, p: float, n: int) -> bool:
    return abs(fraction - p) <= 5 * math.sqrt(p * (1 - p) / n)


def rollout(env: gym.Env, seed: int, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=seed)
    frames, flags, steps = [obs], [info["flicker"]], []
    for _ in range(n):
        obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        frames.append(obs)
        flags.append(info["flicker"])
        steps.append((r, term, trunc))
        if term or trunc:
            obs, info = env.reset()
            frames.append(obs)
            flags.append(info["flicker"])
    return np.array(frames), np.array(flags), steps


# ----------------------------------------------------------------------------- without the extra
def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ale_py", None)  # `import ale_py` now raises ImportError
    for env_id in IDS:
        with pytest.raises(gym.error.DependencyNotInstalled, match=r'memenvs\[atari\]'):
            gym.make(env_id)


def test_import_memenvs_works_without_ale_py():
    code = (
        "import sys\n"
        "sys.modules['ale_py'] = None\n"
        "import gymnasium as gym, memenvs, memenvs.wrappers\n"
        "assert 'memenvs/FlickeringPong-v0' in gym.registry\n"
        "gym.make('memenvs/TMaze-v0')\n"
        "try:\n"
        "    gym.make('memenvs/FlickeringPong-v0')\n"
        "except gym.error.DependencyNotInstalled as e:\n"
        "    assert 'pip install \"memenvs[atari]\"' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('made Pong without ale_py')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- real ALE
@needs_atari
def test_pong_shapes_dtypes_and_blank_fraction():
    env = gym.make(PONG)
    assert env.observation_space.shape == (1, 84, 84) and env.observation_space.dtype == np.uint8
    assert env.action_space == gym.spaces.Discrete(6)
    frames, flags, steps = rollout(env, seed=0, n=400)
    assert frames.dtype == np.uint8 and frames.shape[1:] == (1, 84, 84)
    assert all(env.observation_space.contains(f) for f in frames)
    assert all(type(r) is float and type(t) is bool and type(u) is bool for r, t, u in steps)
    # A shown Pong frame is never all black (the court is grey), so zero frames are exactly the blanked ones.
    np.testing.assert_array_equal(~frames.reshape(len(frames), -1).any(axis=1), flags)
    assert within(flags.mean(), 0.5, flags.size)
    env.close()


@needs_atari
def test_pong_seeded_flicker_leaves_the_game_alone():
    """Same seed, same frames and blanks; and the game behind the blanks is the p = 0 game under that seed."""
    a = rollout(gym.make(PONG), seed=3, n=150)
    b = rollout(gym.make(PONG), seed=3, n=150)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]
    plain = rollout(gym.make(PONG, p=0.0), seed=3, n=150)
    assert not plain[1].any()
    shown = ~a[1]
    np.testing.assert_array_equal(a[0][shown], plain[0][shown])
    assert a[2] == plain[2]
    ones = rollout(gym.make(PONG, p=1.0), seed=3, n=60)
    # the first frame of an episode is never blank by default (the IAM code's reset frame); every later one is
    assert not ones[1][0] and ones[0][0].any() and ones[1][1:].all() and not ones[0][1:].any()
    ones = rollout(gym.make(PONG, p=1.0, flicker_on_reset=True), seed=3, n=60)
    assert ones[1].all() and not ones[0].any()


@needs_atari
def test_frame_stack_and_agent_view_rendering():
    env = gym.make(PONG, frame_stack=4, render_mode="rgb_array")
    assert env.observation_space.shape == (4, 84, 84)
    obs, _ = env.reset(seed=1)
    blank_seen = shown_seen = False
    for t in range(40):
        image = env.render()
        assert image.shape == (252, 4 * 252, 3) and image.dtype == np.uint8
        # The picture is the observation itself: stacked frames side by side, upscaled 3x, grey in RGB.
        np.testing.assert_array_equal(image[::3, ::3, 0], np.concatenate(list(obs), axis=1))
        np.testing.assert_array_equal(image[..., 0], image[..., 2])
        blank_seen |= not image[:, -252:].any()
        shown_seen |= bool(image[:, -252:].any())
        obs, *_ = env.step(t % 6)
    assert blank_seen and shown_seen
    env.close()
    env = gym.make(PONG, render_mode="rgb_array", render_scale=1)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(env.render(), np.repeat(obs[0][:, :, None], 3, axis=2))


@needs_atari
@pytest.mark.filterwarnings("ignore:.*HumanRendering")
def test_human_rendering_runs_headless():
    env = gym.make(PONG, render_mode="human")
    env.reset(seed=0)
    env.step(0)
    env.close()


@needs_atari
def test_breakout_and_generic_ids():
    env = gym.make("memenvs/FlickeringBreakout-v0")
    assert env.action_space == gym.spaces.Discrete(4)
    frames, flags, _ = rollout(env, seed=0, n=50)
    assert frames.shape[1:] == (1, 84, 84)
    env = gym.make("memenvs/FlickeringAtari-v0", game="SpaceInvaders", p=0.25, screen_size=64)
    obs, info = env.reset(seed=0)
    assert obs.shape == (1, 64, 64) and env.action_space.n == 6 and "flicker" in info
    for name in ("space_invaders", "spaceinvaders"):
        assert gym.make("memenvs/FlickeringAtari-v0", game=name).action_space.n == 6


@needs_atari
@pytest.mark.filterwarnings("ignore:.*render_mode='ansi'")
def test_bad_arguments_raise_naming_them():
    for name, value in [
        ("p", 1.5), ("p", -0.5), ("frame_stack", 0), ("noop_max", -1), ("frame_skip", 0),
        ("repeat_action_probability", 2.0), ("flicker_on_reset", "yes"), ("game", "no_such_game"),
        ("render_scale", 0), ("no_such_argument", 1), ("render_mode", "ansi"),
    ]:
        with pytest.raises(ValueError, match=name):
            gym.make("memenvs/FlickeringAtari-v0", **{name: value})


@needs_atari
def test_spec_rebuilds_the_same_env():
    env = gym.make(PONG, p=0.3, frame_stack=2)
    rebuilt = gym.make(env.spec)
    assert str(rebuilt) == str(env)
    a, b = rollout(env, seed=5, n=60), rollout(rebuilt, seed=5, n=60)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@needs_atari
def test_vector_pong_through_make_vec_and_the_vector_wrapper():
    envs = gym.make_vec(PONG, num_envs=4)
    obs, info = envs.reset(seed=0)
    flags = [info["flicker"]]
    rng = np.random.default_rng(0)
    for _ in range(60):
        obs, r, term, trunc, info = envs.step(rng.integers(6, size=4))
        assert obs.shape == (4, 1, 84, 84) and obs.dtype == np.uint8 and r.shape == (4,)
        np.testing.assert_array_equal(~obs.reshape(4, -1).any(axis=1), info["flicker"])
        flags.append(info["flicker"])
    flags = np.array(flags)
    assert within(flags.mean(), 0.5, flags.size)
    assert not (flags == flags[:, :1]).all()  # the copies do not flicker in lockstep
    envs.close()

    # The vector wrapper over a plain (p = 0) preprocessed Pong gives the same kind of flicker.
    envs = VectorFlickerObservation(gym.make_vec(PONG, num_envs=3, p=0.0), p=0.5)
    obs, info = envs.reset(seed=1)
    flags = [info["flicker"]]
    for _ in range(60):
        obs, *_, info = envs.step(rng.integers(6, size=3))
        np.testing.assert_array_equal(~obs.reshape(3, -1).any(axis=1), info["flicker"])
        flags.append(info["flicker"])
    assert within(np.mean(flags), 0.5, np.size(flags))
    envs.close()


@needs_atari
def test_flicker_wrapper_on_plain_ale():
    import ale_py
    from gymnasium.wrappers import AtariPreprocessing

    gym.register_envs(ale_py)
    env = FlickerObservation(AtariPreprocessing(gym.make("ALE/Pong-v5", frameskip=1)), p=0.5)
    frames, flags, _ = rollout(env, seed=2, n=100)
    np.testing.assert_array_equal(~frames.reshape(len(frames), -1).any(axis=1), flags)


@needs_atari
def test_render_cli_writes_what_the_agent_sees(tmp_path):
    cli = pytest.importorskip("memenvs.cli")
    Image = pytest.importorskip("PIL.Image")
    out = tmp_path / "pong.gif"
    cli.main(["render", PONG, "--out", str(out), "--max-frames", "40", "--seed", "0"])
    with Image.open(out) as gif:
        assert gif.size == (252, 252)
        dark = []
        for i in range(gif.n_frames):
            gif.seek(i)
            dark.append(not np.asarray(gif.convert("L")).any())
    assert any(dark) and not all(dark)


@needs_atari
def test_sb3_cnn_policy_takes_one_frame_without_a_stack():
    """The observation has its channel axis first even without a frame stack, so SB3's CnnPolicy builds and
    trains on it as it is (a bare (84, 84) frame is not an image to SB3)."""
    pytest.importorskip("stable_baselines3")
    from stable_baselines3 import PPO

    from memenvs.sb3 import make_vec_env

    venv = make_vec_env(PONG, n_envs=1, seed=0)
    assert venv.observation_space.shape == (1, 84, 84)
    model = PPO("CnnPolicy", venv, n_steps=8, batch_size=8, n_epochs=1, seed=0, device="cpu")
    model.learn(8)
    action, _ = model.predict(venv.reset(), deterministic=True)
    assert action.shape == (1,)
    venv.close()


@needs_atari
def test_list_prints_no_ale_banner():
    out = subprocess.run([sys.executable, "-m", "memenvs", "list"], capture_output=True, text=True, check=True)
    assert "memenvs/FlickeringPong-v0" in out.stdout and "observation: Box(0, 255, (1, 84, 84)" in out.stdout
    assert "A.L.E" not in out.stdout + out.stderr and "Stella" not in out.stdout + out.stderr


@needs_atari
def test_defaults_are_drqn_and_iam_no_sticky_actions():
    """DRQN's ALE had no sticky actions and the IAM code used <Game>NoFrameskip-v4 (none either)."""
    assert gym.make(PONG).unwrapped.ale.getFloat("repeat_action_probability") == 0.0
    sticky = gym.make(PONG, repeat_action_probability=0.25)
    assert sticky.unwrapped.ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
