"""PreviousActionReward: layout, resets at episode starts, any Discrete env, and the vector version's autoreset."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AutoresetMode

import memenvs  # noqa: F401
from memenvs.wrappers import PreviousActionReward, VectorPreviousActionReward
from memenvs.wrappers.previous_action_reward import augment_observation


def test_augment_observation_layout():
    out = augment_observation(np.array([1.0, 2.0]), 2, 0.5, n_actions=3, t=5, max_steps=10)
    assert out.dtype == np.float32
    assert out.tolist() == [1.0, 2.0, 0.0, 0.0, 1.0, 0.5, 0.5]
    start = augment_observation(np.array([1.0, 2.0]), -1, 0.0, n_actions=3)
    assert start.tolist() == [1.0, 2.0, 0.0, 0.0, 0.0, 0.0]
    batch = augment_observation(np.zeros((2, 1)), np.array([0, -1]), np.array([1.0, 0.0]), n_actions=2)
    assert batch.tolist() == [[0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
    with pytest.raises(ValueError, match="max_steps"):
        augment_observation(np.zeros(1), 0, 0.0, n_actions=2, t=1)


def test_single_env_on_two_step():
    env = PreviousActionReward(gym.make("memenvs/TwoStep-v0", n_trials=2), timestep=True)
    assert env.observation_space.shape == (3 + 2 + 1 + 1,)
    obs, _ = env.reset(seed=0)
    assert obs.tolist() == [1, 0, 0, 0, 0, 0, 0]
    obs, r, *_ = env.step(1)
    assert obs[3:5].tolist() == [0, 1] and obs[5] == r and obs[6] == pytest.approx(1 / 4)
    obs, r, *_ = env.step(0)
    assert obs[3:5].tolist() == [1, 0] and obs[5] == r and obs[6] == pytest.approx(2 / 4)
    env.step(0)
    _, _, term, _, _ = env.step(0)
    assert term
    obs, _ = env.reset()
    assert obs[3:].tolist() == [0, 0, 0, 0]
    check_env(PreviousActionReward(gym.make("memenvs/TwoStep-v0"), timestep=True).unwrapped)


def test_any_discrete_env_and_time_limit_from_spec():
    env = PreviousActionReward(gym.make("CartPole-v1"), timestep=True)
    assert env.max_steps == 500 and env.observation_space.shape == (4 + 2 + 1 + 1,)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    obs, r, *_ = env.step(1)
    assert obs[4:6].tolist() == [0, 1] and obs[6] == 1.0
    # A Discrete space with a non-zero start is shifted to a zero-based one-hot.
    env = PreviousActionReward(gym.make("memenvs/TMaze-v0", length=2))
    env.reset(seed=0)
    obs, *_ = env.step(3)
    assert obs[3:7].tolist() == [0, 0, 0, 1]


def test_bad_input():
    with pytest.raises(ValueError, match="Discrete"):
        PreviousActionReward(gym.make("Pendulum-v1"))
    with pytest.raises(ValueError, match="one-dimensional"):
        PreviousActionReward(_ImageEnv())
    with pytest.raises(ValueError, match="max_steps"):
        PreviousActionReward(gym.make("memenvs/TwoStep-v0"), timestep=True, max_steps=0)
    with pytest.raises(ValueError, match="max_steps"):
        PreviousActionReward(gym.make("memenvs/TwoStep-v0"), max_steps=10)
    # An invalid action leaves the previous action untouched.
    env = PreviousActionReward(gym.make("memenvs/TwoStep-v0"))
    env.reset(seed=0)
    env.step(1)
    with pytest.raises(ValueError):
        env.step(5)
    assert env.observation(np.zeros(3, np.float32))[3:5].tolist() == [0, 1]


class _ImageEnv(gym.Env):
    observation_space = gym.spaces.Box(0, 255, (4, 4), np.uint8)
    action_space = gym.spaces.Discrete(2)


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_matches_single_across_episodes(mode):
    """Each copy of the wrapped vector env sees what a wrapped single env sees over several episodes."""
    n_trials, steps = 2, 13
    envs = VectorPreviousActionReward(
        gym.make_vec("memenvs/TwoStep-v0", num_envs=1, n_trials=n_trials, autoreset_mode=mode), timestep=True)
    single = PreviousActionReward(gym.make("memenvs/TwoStep-v0", n_trials=n_trials), timestep=True)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, steps)
    obs, _ = envs.reset(seed=4)
    s_obs, _ = single.reset(seed=4)
    np.testing.assert_array_equal(obs[0], s_obs)
    pending = False
    i = 0
    while i < steps:
        if pending:  # NEXT_STEP: this step only resets the copy
            obs, r, *_ = envs.step(np.array([0]))
            s_obs, _ = single.reset()
            np.testing.assert_array_equal(obs[0], s_obs)
            assert obs[0][3:].tolist() == [0, 0, 0, 0]
            pending = False
            continue
        obs, r, term, trunc, info = envs.step(actions[i:i + 1])
        s_obs, s_r, s_term, s_trunc, _ = single.step(int(actions[i]))
        i += 1
        done = bool(term[0] or trunc[0])
        if done and mode is AutoresetMode.SAME_STEP:
            np.testing.assert_array_equal(info["final_obs"][0], s_obs)
            s_obs, _ = single.reset()
            assert obs[0][3:].tolist() == [0, 0, 0, 0]
        np.testing.assert_array_equal(obs[0], s_obs)
        pending = done and mode is AutoresetMode.NEXT_STEP


def test_vector_disabled_reset_mask():
    envs = VectorPreviousActionReward(
        gym.make_vec("memenvs/TwoStep-v0", num_envs=3, autoreset_mode="Disabled"))
    assert envs.single_observation_space.shape == (6,)
    envs.reset(seed=0)
    obs, *_ = envs.step(np.array([1, 0, 1]))
    assert obs[:, 3:5].tolist() == [[0, 1], [1, 0], [0, 1]]
    obs, _ = envs.reset(options={"reset_mask": np.array([False, True, False])})
    assert obs[:, 3:5].tolist() == [[0, 1], [0, 0], [0, 1]]
