"""The SB3 adapter and the baselines on Gymnasium ids that are not memenvs': classic control, POPGym, MiniGrid."""

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from memenvs.sb3 import find_spec, make_vec_env, observation_wrappers  # noqa: E402

# (id, flat observation size): CartPole's Box as is; POPGym's Tuple(Discrete(2), Discrete(4)) one-hot (2 + 4);
# MiniGrid's Dict without the text mission: direction one-hot (4) + the 7x7x3 egocentric grid (147).
IDS = [
    ("CartPole-v1", 4),
    ("popgym:popgym-AutoencodeEasy-v0", 6),
    ("minigrid:MiniGrid-MemoryS7-v0", 151),
]


def _needs(env_id: str) -> None:
    module, sep, _ = env_id.partition(":")
    if sep:
        pytest.importorskip(module)


@pytest.mark.parametrize("env_id,size", IDS, ids=[i for i, _ in IDS])
def test_make_vec_env_runs_other_ids_with_flat_observations(env_id, size):
    _needs(env_id)
    venv = make_vec_env(env_id, n_envs=3, seed=0)
    obs = venv.reset()
    assert venv.observation_space.shape == (size,) and obs.shape == (3, size)
    assert venv.observation_space.contains(obs[0])
    venv.action_space.seed(0)
    dones = 0
    for _ in range(300):
        obs, reward, done, infos = venv.step(np.array([venv.action_space.sample() for _ in range(3)]))
        assert obs.shape == (3, size) and reward.shape == (3,)
        for i in np.flatnonzero(done):
            assert infos[i]["terminal_observation"].shape == (size,)
            dones += 1
    assert dones > 0  # the episodes ended and the copies were reset in the same step, as SB3 expects
    venv.close()


def test_cartpole_uses_sync_vectorisation_not_its_next_step_vector_env():
    venv = make_vec_env("CartPole-v1", n_envs=2, monitor=False)
    assert isinstance(venv.venv, gym.vector.SyncVectorEnv)
    venv.close()
    native = make_vec_env("memenvs/TMaze-v0", n_envs=2, monitor=False)
    assert not isinstance(native.venv, gym.vector.SyncVectorEnv)
    native.close()


def test_find_spec_imports_the_module_of_a_prefixed_id():
    pytest.importorskip("popgym")
    assert find_spec("popgym:popgym-RepeatPreviousEasy-v0").id == "popgym-RepeatPreviousEasy-v0"


def test_observation_without_any_numeric_part_is_refused_by_name():
    text_only = gym.spaces.Dict({"mission": gym.spaces.Text(8)})
    with pytest.raises(ValueError, match="Some-v0.*no numeric part"):
        observation_wrappers("Some-v0", text_only)
    with pytest.raises(ValueError, match="Some-v0.*no numeric flat form"):
        observation_wrappers("Some-v0", gym.spaces.Text(8))
    assert observation_wrappers("Some-v0", gym.spaces.Box(0, 1, (2,))) == []


@pytest.mark.parametrize("baseline", ["lstm", "gru"])
@pytest.mark.parametrize("env_id", [i for i, _ in IDS], ids=[i for i, _ in IDS])
def test_memory_baselines_train_and_evaluate_on_other_ids(env_id, baseline, torch_one_thread):
    _needs(env_id)
    from memenvs.baselines import evaluate, make_model

    model = make_model(baseline, env_id, seed=0, n_envs=2, n_steps=16, batch_size=32)
    model.learn(64)
    result = evaluate(model, n_episodes=2, seed=1, n_envs=2)
    assert result.n_episodes == 2 and np.isfinite(result.mean_return)


def test_compare_runs_other_ids_written_with_their_module(tmp_path, torch_one_thread):
    """``memenvs compare --envs CartPole-v1 popgym:popgym-...:K=V minigrid:MiniGrid-...``: the module prefix is
    part of the id (it registers the id), what follows a further ':' are the kwargs."""
    pytest.importorskip("popgym")
    pytest.importorskip("minigrid")
    from memenvs.baselines import compare as cmp
    from memenvs.baselines.compare.parsing import parse_env

    assert parse_env("popgym:popgym-RepeatPreviousEasy-v0") == ("popgym:popgym-RepeatPreviousEasy-v0", {})
    minigrid = parse_env("minigrid:MiniGrid-MemoryS7-v0:max_steps=30")
    assert minigrid == ("minigrid:MiniGrid-MemoryS7-v0", {"max_steps": 30})
    assert parse_env("memenvs/TMaze-v0:length=5") == ("memenvs/TMaze-v0", {"length": 5})
    envs = ["CartPole-v1", "popgym:popgym-RepeatPreviousEasy-v0", "minigrid:MiniGrid-MemoryS7-v0:max_steps=30"]
    result = cmp.compare(envs=envs, baselines=["lstm"], seeds=[0], steps=64, n_envs=2, eval_episodes=2,
                         out=tmp_path, workers=1, quiet=True, overrides={"n_steps": 16, "n_epochs": 1})
    assert not result.failures and [r["env"] for r in result.rows] == [e.rsplit(":max", 1)[0] for e in envs]
    with pytest.raises(cmp.CompareError, match="cannot import the module"):
        cmp.compare(envs=["nosuchmodule:Thing-v0"], out=tmp_path / "o", quiet=True)


def test_overrides_and_plain_kwargs_are_not_read_as_a_module_prefix():
    pytest.importorskip("torch")
    from memenvs.baselines.compare.parsing import parse_env, parse_overrides

    assert parse_overrides("n_steps=16,batch_size=32") == {"n_steps": 16, "batch_size": 32}
    assert parse_env("CartPole-v1:sutton_barto_reward=True") == ("CartPole-v1", {"sutton_barto_reward": True})
