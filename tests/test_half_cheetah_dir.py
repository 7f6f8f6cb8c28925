"""HalfCheetahDir (mujoco extra): the env contract, the paper's reward, and the meta-RL task interface."""

import gymnasium as gym
import numpy as np
import pytest

import contract

pytest.importorskip("mujoco")
from memenvs.envs.half_cheetah_dir import HalfCheetahDirEnv  # noqa: E402

ID = "memenvs/HalfCheetahDir-v0"


def test_checkers():
    """Gymnasium's and SB3's checkers without rendering (MuJoCo rendering needs an OpenGL context)."""
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ID)
    check_env(env.unwrapped, skip_render_check=True)
    sb3_checker = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3_checker.check_env(gym.make(ID).unwrapped, warn=False)


@pytest.mark.parametrize("kwargs", [dict(max_steps=30)])
def test_contract(kwargs):
    contract.check_spaces_and_types(ID, n_steps=80, **kwargs)
    contract.check_determinism(ID, n_steps=80, **kwargs)
    contract.check_vector_determinism(ID, num_envs=3, n_steps=70, **kwargs)
    contract.check_vector_matches_single(ID, n_steps=80, **kwargs)
    contract.check_pickle(ID, n_steps=20, **kwargs)
    contract.check_invalid_actions(ID, vector=False, **kwargs)


def test_bad_kwargs():
    contract.check_bad_kwargs(ID, {"max_steps": 0})
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec(ID, num_envs=0)


def test_reward_is_direction_times_velocity_minus_the_papers_control_cost():
    rng = np.random.default_rng(0)
    for d in (1.0, -1.0):
        env = HalfCheetahDirEnv()
        ref = gym.make("HalfCheetah-v5").unwrapped
        env.reset(seed=2, options={"task": [d]})
        ref.reset(seed=2)
        for _ in range(40):
            a = rng.uniform(-1.5, 1.5, size=6).astype(np.float32)  # beyond the box: clipped, cost of the clipped
            obs, r, term, trunc, info = env.step(a)
            clipped = np.clip(a, -1, 1)
            ref_obs, _, _, _, ref_info = ref.step(clipped)
            np.testing.assert_array_equal(obs, ref_obs)  # Gymnasium's HalfCheetah dynamics and observation
            cost = 0.05 * float(np.sum(clipped.astype(np.float64) ** 2))
            assert r == pytest.approx(d * ref_info["x_velocity"] - cost)
            assert info["reward_forward"] == pytest.approx(d * ref_info["x_velocity"]) and not term and not trunc
            np.testing.assert_array_equal(info["task"], [d])


def test_horizon_is_the_papers_200_steps():
    env = HalfCheetahDirEnv()
    env.reset(seed=0)
    truncs = [env.step(np.zeros(6))[3] for _ in range(200)]
    assert truncs == [False] * 199 + [True]


def test_tasks_are_fair_directions_kept_across_episodes():
    env = HalfCheetahDirEnv(max_steps=3)
    tasks = env.sample_tasks(4000, np.random.default_rng(0))
    assert tasks.shape == (4000, 1) and set(np.unique(tasks)) == {-1.0, 1.0}
    assert abs(tasks.mean()) < 0.05
    _, info = env.reset(seed=5)
    first = info["task"].copy()
    for _ in range(3):
        np.testing.assert_array_equal(env.reset()[1]["task"], first)
    np.testing.assert_array_equal(env.reset(options={"task": -first})[1]["task"], -first)
    np.testing.assert_array_equal(env.reset()[1]["task"], -first)
    assert env.hidden_state() == {"direction": float(-first[0])}
    for bad in ([0.5], [2.0], [1.0, 1.0], "forward"):
        with pytest.raises(ValueError, match="task"):
            env.reset(options={"task": bad})
    with pytest.raises(ValueError, match="unknown option"):
        env.reset(options={"goal": [1.0]})


def test_vector_env_takes_one_task_per_copy():
    envs = gym.make_vec(ID, num_envs=4, max_steps=5)
    tasks = np.array([[1.0], [-1.0], [-1.0], [1.0]])
    _, info = envs.reset(seed=0, options={"task": tasks})
    np.testing.assert_array_equal(info["task"], tasks)
    for _ in range(12):  # autoresets keep each copy's task
        *_, info = envs.step(np.zeros((4, 6)))
        np.testing.assert_array_equal(info["task"], tasks)
    assert envs.sample_tasks(3, np.random.default_rng(0)).shape == (3, 1)
