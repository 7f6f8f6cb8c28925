"""Navigation2D: the env contract, the dynamics of the MAML paper's point env, and the meta-RL task interface."""

import gymnasium as gym
import numpy as np
import pytest

import contract
from memenvs.envs.navigation2d import Navigation2DEnv

ID = "memenvs/Navigation2D-v0"
CONFIGS = [dict(), dict(low=-0.2, high=0.2, max_steps=30), dict(low=0.0, high=2.0, max_steps=7)]

test_checkers, test_contract = contract.contract_tests([(ID, kwargs) for kwargs in CONFIGS])


def test_render_modes():
    contract.check_render_modes(ID)


def test_bad_kwargs():
    contract.check_bad_kwargs(ID, {"low": "a", "high": np.inf, "max_steps": 0})
    with pytest.raises(ValueError, match="low"):
        gym.make(ID, low=0.5, high=0.5)


def test_dynamics_reward_and_termination_follow_the_paper():
    """pos += clip(action, -0.1, 0.1) from the origin; reward = -distance; done within 0.01 of the goal per axis."""
    env = Navigation2DEnv()
    obs, info = env.reset(seed=0, options={"task": [0.25, -0.05]})
    np.testing.assert_array_equal(obs, [0.0, 0.0])
    np.testing.assert_array_equal(info["task"], [0.25, -0.05])
    obs, r, term, trunc, _ = env.step(np.array([0.5, -0.03], dtype=np.float32))  # x clipped to 0.1
    np.testing.assert_allclose(obs, [0.1, -0.03], rtol=1e-6)
    assert r == pytest.approx(-np.hypot(0.15, 0.02), rel=1e-6) and not term and not trunc
    obs, r, term, *_ = env.step(np.array([0.1, -0.02], dtype=np.float32))
    assert not term
    obs, r, term, *_ = env.step(np.array([0.05, 0.0], dtype=np.float32))
    assert term and r == pytest.approx(0.0, abs=1e-6)
    env = Navigation2DEnv(max_steps=3)
    env.reset(seed=0, options={"task": [0.5, 0.5]})
    outs = [env.step(np.zeros(2, dtype=np.float32)) for _ in range(3)]
    assert [o[3] for o in outs] == [False, False, True] and all(o[1] == pytest.approx(-np.sqrt(0.5)) for o in outs)


def test_sample_tasks_uniform_on_the_square():
    env = Navigation2DEnv(low=-0.3, high=0.7)
    tasks = env.sample_tasks(20000, np.random.default_rng(0))
    assert tasks.shape == (20000, 2) and tasks.min() >= -0.3 and tasks.max() <= 0.7
    np.testing.assert_allclose(tasks.mean(0), [0.2, 0.2], atol=0.01)
    np.testing.assert_allclose(tasks.var(0), [1 / 12, 1 / 12], atol=0.003)
    np.testing.assert_array_equal(env.sample_tasks(3, np.random.default_rng(5)),
                                  env.sample_tasks(3, np.random.default_rng(5)))
    with pytest.raises(ValueError, match="n must"):
        env.sample_tasks(0)


def test_a_trial_keeps_its_task_until_told_or_reseeded():
    env = Navigation2DEnv()
    _, info = env.reset(seed=3)
    first = info["task"].copy()
    assert env.task_space.contains(first)
    for _ in range(3):
        for _ in range(5):
            *_, info = env.step(np.array([0.1, 0.1], dtype=np.float32))
            np.testing.assert_array_equal(info["task"], first)
        np.testing.assert_array_equal(env.reset()[1]["task"], first)
    np.testing.assert_array_equal(env.reset(options={"task": [0.1, 0.2]})[1]["task"], [0.1, 0.2])
    np.testing.assert_array_equal(env.reset()[1]["task"], [0.1, 0.2])
    np.testing.assert_array_equal(env.reset(seed=3)[1]["task"], first)  # a seed fixes the task it draws
    assert not np.array_equal(env.reset(seed=4)[1]["task"], first)


def test_vector_env_takes_one_task_per_copy_and_autoreset_keeps_it():
    envs = gym.make_vec(ID, num_envs=4, max_steps=5)
    tasks = np.array([[0.1, 0.1], [0.2, -0.2], [-0.3, 0.3], [0.4, 0.0]])
    _, info = envs.reset(seed=0, options={"task": tasks})
    np.testing.assert_array_equal(info["task"], tasks)
    for _ in range(12):  # two autoresets per copy
        *_, info = envs.step(np.zeros((4, 2), dtype=np.float32))
        np.testing.assert_array_equal(info["task"], tasks)
    _, info = envs.reset(options={"task": [0.5, 0.5], "reset_mask": np.array([False, True, False, True])})
    np.testing.assert_array_equal(info["task"], [[0.1, 0.1], [0.5, 0.5], [-0.3, 0.3], [0.5, 0.5]])
    _, info = envs.reset(options={"task": tasks[:2], "reset_mask": np.array([True, False, True, False])})
    np.testing.assert_array_equal(info["task"], [[0.1, 0.1], [0.5, 0.5], [0.2, -0.2], [0.5, 0.5]])
    assert envs.sample_tasks(6, np.random.default_rng(0)).shape == (6, 2)


def test_copies_draw_different_tasks_and_a_batch_of_one_matches_the_single_env():
    envs = gym.make_vec(ID, num_envs=5)
    _, info = envs.reset(seed=1)
    assert len(np.unique(info["task"][:, 0])) == 5
    one = gym.make_vec(ID, num_envs=1)
    np.testing.assert_array_equal(one.reset(seed=1)[1]["task"][0], Navigation2DEnv().reset(seed=1)[1]["task"])


@pytest.mark.parametrize("bad", [[0.1], [[0.1, 0.1, 0.1]], [0.9, 0.0], [np.nan, 0.0], "north", None, [[0.1, 0.1]] * 2])
def test_bad_task_option_is_rejected_and_changes_nothing(bad):
    env = Navigation2DEnv()
    _, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="task"):
        env.reset(options={"task": bad})
    np.testing.assert_array_equal(env.reset()[1]["task"], info["task"])
    envs = gym.make_vec(ID, num_envs=3)
    envs.reset(seed=0)
    with pytest.raises(ValueError, match="task"):
        envs.reset(options={"task": np.zeros((2, 2)) if bad is None else bad})


def test_meta_trial_wrapper_chains_episodes_of_one_task():
    from memenvs.wrappers import MetaTrial

    env = MetaTrial(gym.make(ID, max_steps=3), episodes=2)
    obs, info = env.reset(seed=0)
    goal = info["task"]
    assert obs.shape == (6,) and env.observation_space.contains(obs)
    np.testing.assert_array_equal(obs[2:], 0.0)
    steps = []
    for _ in range(6):
        steps.append(env.step(np.array([0.5, -0.05], dtype=np.float32)))
    flags = [s[0][5] for s in steps]
    assert flags == [0, 0, 1, 0, 0, 1]
    assert [s[2] or s[3] for s in steps] == [False] * 5 + [True]
    assert [s[4]["trial_episode"] for s in steps] == [0, 0, 0, 1, 1, 1]
    np.testing.assert_array_equal(steps[2][0][:2], [0.0, 0.0])  # the second episode starts at the origin
    np.testing.assert_allclose(steps[0][0][2:4], [0.1, -0.05])  # the previous action, clipped to the box
    assert steps[0][0][4] == pytest.approx(steps[0][1])  # the previous reward
    assert steps[2][4]["episode_return"] == pytest.approx(sum(s[1] for s in steps[:3]))
    assert all(np.array_equal(s[4]["task"], goal) for s in steps)
    _, info = env.reset()
    assert not np.array_equal(info["task"], goal)  # a new trial draws a new task
    with pytest.raises(ValueError, match="episodes"):
        MetaTrial(gym.make(ID), episodes=0)
