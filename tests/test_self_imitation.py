"""Self-imitation for recurrent PPO: the episode replay, the packed replay minibatches and the update."""

from __future__ import annotations

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from sb3_contrib.common.recurrent.type_aliases import RNNStates  # noqa: E402
from stable_baselines3.common.logger import configure  # noqa: E402

from memenvs.baselines import make_model  # noqa: E402
from memenvs.baselines.algorithms.self_imitation import EpisodeReplay, replay_minibatch  # noqa: E402

TMAZE = {"variant": "passive", "length": 4}


def rollout(n_steps, starts_by_copy, rewards_by_copy, values=0.0):
    """Arrays of one rollout of one copy per entry of ``starts_by_copy``; observation = (copy, 0), the second
    element for the test to fill."""
    n_envs = len(starts_by_copy)
    obs = np.zeros((n_steps, n_envs, 2), dtype=np.float32)
    obs[:, :, 0] = np.arange(n_envs)
    starts = np.zeros((n_steps, n_envs), dtype=np.float32)
    for i, ts in enumerate(starts_by_copy):
        starts[list(ts), i] = 1.0
    rewards = np.asarray(rewards_by_copy, dtype=np.float32).T
    actions = np.zeros((n_steps, n_envs, 1), dtype=np.float32)
    return obs, actions, rewards, np.full((n_steps, n_envs), values, dtype=np.float32), starts


def test_replay_keeps_complete_episodes_across_rollouts_with_their_discounted_returns():
    replay = EpisodeReplay(capacity=100, gamma=0.5, n_envs=2)
    # Copy 0: one episode over both rollouts (steps 0-7). Copy 1: joined mid-episode in the first rollout (skipped),
    # then an episode from step 2 to step 5 and one from step 6 that ends with the second rollout.
    obs, act, rew, val, starts = rollout(4, [[0], [2]], [[0, 0, 0, 0], [5, 5, 1, 1]])
    obs[:, :, 1] = np.arange(4)[:, None]
    starts[0, 1] = 0.0
    assert replay.add_rollout(obs, act, rew, val, starts, np.array([False, False])) == 0
    obs2, act2, rew2, val2, starts2 = rollout(4, [[], [2]], [[0, 0, 0, 1], [0, 2, 0, 4]])
    obs2[:, :, 1] = 4 + np.arange(4)[:, None]
    assert replay.add_rollout(obs2, act2, rew2, val2, starts2, np.array([True, True])) == 3
    first, second, third = replay.episodes
    # Episodes are added copy by copy as they end within a rollout.
    assert np.array_equal(first.observations[:, 1], np.arange(8)) and first.observations[0, 0] == 0
    assert np.allclose(first.returns, [0.5 ** (7 - t) for t in range(8)])
    assert np.array_equal(second.observations[:, 1], [2, 3, 4, 5]) and second.observations[0, 0] == 1
    assert np.allclose(second.returns, [1 + 0.5 * (1 + 0.5 * (0 + 0.5 * 2)), 1 + 0.5 * (0 + 0.5 * 2), 1.0, 2.0])
    assert np.array_equal(third.observations[:, 1], [6, 7]) and np.allclose(third.returns, [2.0, 4.0])
    assert replay.n_steps == 14 and first.priority == pytest.approx(first.returns.sum())


def test_replay_drops_the_oldest_episodes_beyond_its_capacity_and_samples_by_priority():
    replay = EpisodeReplay(capacity=6, gamma=1.0, n_envs=1)
    for reward in (1.0, 0.0, 3.0):
        obs, act, rew, val, starts = rollout(3, [[0]], [[0, 0, reward]], values=0.5)
        replay.add_rollout(obs, act, rew, val, starts, np.array([True]))
    assert len(replay) == 2 and replay.n_steps == 6  # the first episode left
    assert [e.priority for e in replay.episodes] == [0.0, pytest.approx(3 * 2.5)]
    picks = replay.sample(50, np.random.default_rng(0))
    assert set(picks.tolist()) == {1}  # an episode no better than expected is never replayed
    replay.episodes[1].priority = 0.0
    assert replay.sample(5, np.random.default_rng(0)) is None


def test_replay_minibatch_packs_the_picked_episodes_and_refresh_sums_per_episode():
    replay = EpisodeReplay(capacity=100, gamma=1.0, n_envs=2)
    obs, act, rew, val, starts = rollout(5, [[0, 3], [0]], [[1, 1, 1, 2, 2], [1, 1, 1, 1, 1]])
    obs[:, :, 1] = np.arange(5)[:, None]
    replay.add_rollout(obs, act, rew, val, starts, np.array([True, True]))
    assert [len(e.returns) for e in replay.episodes] == [3, 2, 5]
    picks = np.array([2, 0, 1])
    o, a, r, packing, n_seq = replay_minibatch(replay, picks, call_cost=0.0, device="cpu")
    assert n_seq == 3 and len(o) == len(r) == 10 and packing.n_samples == 10
    flat_returns = np.concatenate([replay.episodes[k].returns for k in picks])
    assert np.allclose(r.numpy(), flat_returns[packing.sample_index])
    replay.refresh(picks, packing.sample_index, np.ones(10))
    assert [replay.episodes[k].priority for k in (0, 1, 2)] == [3.0, 2.0, 5.0]


def _log_prob_of(model, episode):
    policy, lstm = model.policy, model.policy.lstm_actor
    zeros = th.zeros(lstm.num_layers, 1, lstm.hidden_size)
    states = RNNStates((zeros, zeros), (zeros, zeros))
    obs = th.as_tensor(episode.observations)[:, None]
    with th.no_grad():
        _, log_prob, _ = policy.evaluate_actions(obs.reshape(len(obs), -1), th.as_tensor(episode.actions).long()
                                                 .flatten(), states, th.zeros(len(obs)))
    return log_prob.sum().item()


def test_self_imitation_raises_the_probability_of_an_episode_that_beat_its_value():
    model = make_model("lstm", "memenvs/TMaze-v0", seed=0, n_envs=2, env_kwargs=TMAZE, n_steps=10, batch_size=20,
                       sil_coef=1.0, sil_updates=1, sil_episodes=4)
    model.set_logger(configure(None, []))
    replay = EpisodeReplay(capacity=100, gamma=model.gamma, n_envs=1)
    # One episode of five steps, always "north", that earned 1 at its end while the critic expected about 0.
    obs, act, rew, val, starts = rollout(5, [[0]], [[0, 0, 0, 0, 1]])
    obs = np.zeros((5, 1, *model.observation_space.shape), dtype=np.float32)
    replay.add_rollout(obs, act, rew, np.full((5, 1), -10.0, dtype=np.float32), starts, np.array([True]))
    before = _log_prob_of(model, replay.episodes[0])
    for _ in range(5):
        model._self_imitate(replay)
    assert _log_prob_of(model, replay.episodes[0]) > before + 0.1


def test_learn_with_self_imitation_fills_the_replay_and_saves_and_loads(tmp_path):
    model = make_model("gru", "memenvs/TMaze-v0", seed=0, n_envs=4, env_kwargs=TMAZE, n_steps=10, batch_size=40,
                       n_epochs=1, sil_coef=1.0)
    model.learn(200)
    # 200 steps of 4 copies: 10 whole episodes of 5 steps per copy.
    assert len(model._sil_replay) == 40 and model._sil_replay.n_steps == 200
    model.save(tmp_path / "m.zip")
    loaded = type(model).load(tmp_path / "m.zip", env=model.get_env())
    assert loaded.sil_coef == 1.0 and len(loaded._sil_replay) == 0  # the episodes are training data, not saved
    loaded.learn(80)


@pytest.mark.parametrize("kwargs, match", [
    ({"sil_coef": -1.0}, "sil_coef"), ({"sil_value_coef": "x"}, "sil_value_coef"), ({"sil_updates": 0}, "sil_updates"),
    ({"sil_episodes": 1.5}, "sil_episodes"), ({"sil_buffer_steps": True}, "sil_buffer_steps"),
])
def test_bad_self_imitation_arguments_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_model("lstm", "memenvs/TMaze-v0", n_envs=2, env_kwargs=TMAZE, n_steps=10, **kwargs)
