"""Packed recurrent minibatches: the same losses and gradients as running the policy one step at a time."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from gymnasium import spaces  # noqa: E402
from sb3_contrib.common.recurrent.type_aliases import RNNStates  # noqa: E402

from memenvs.baselines import make_model  # noqa: E402
from memenvs.baselines.algorithms.packed_ppo import PackedRecurrentPPO, PackedRolloutBuffer  # noqa: E402
from memenvs.baselines.policies.packing import pack_sequences, plan_calls  # noqa: E402
from memenvs.baselines.policies import MemoryActorCriticPolicy  # noqa: E402

N_ENVS, N_STEPS, OBS_DIM, HIDDEN = 3, 12, 4, 5


def brute_force_cost(lengths: list[int], call_cost: float) -> float:
    lens = np.asarray(lengths)
    times = sorted(set(lengths))
    best = np.inf
    for k in range(len(times)):
        for inner in itertools.combinations(times[:-1], k):
            bounds = [0, *inner, times[-1]]
            cost = sum(call_cost + (lens > a).sum() * (b - a) for a, b in zip(bounds[:-1], bounds[1:]))
            best = min(best, cost)
    return best


@pytest.mark.parametrize("call_cost", [0.0, 3.0, 20.0, 1e9])
def test_plan_calls_is_optimal(call_cost):
    rng = np.random.default_rng(1)
    for _ in range(20):
        lengths = sorted(rng.integers(1, 15, size=rng.integers(1, 8)).tolist(), reverse=True)
        bounds = plan_calls(lengths, call_cost)
        assert bounds[0] == 0 and bounds[-1] == lengths[0] and bounds == sorted(set(bounds))
        lens = np.asarray(lengths)
        cost = sum(call_cost + (lens > a).sum() * (b - a) for a, b in zip(bounds[:-1], bounds[1:]))
        assert cost == pytest.approx(brute_force_cost(lengths, call_cost))
    assert plan_calls([5, 3, 3, 1], 0.0) == [0, 1, 3, 5]  # free calls: no padding at all
    assert plan_calls([5, 3, 3, 1], 1e9) == [0, 5]  # expensive calls: one padded call


def test_plan_calls_rejects_unsorted_lengths():
    with pytest.raises(ValueError, match="sorted longest first"):
        plan_calls([2, 5], 1.0)
    with pytest.raises(ValueError, match="positive"):
        plan_calls([3, 0], 1.0)


def test_pack_sequences_lists_each_sample_once_in_time_major_order():
    starts, lengths = np.array([0, 10, 20, 30]), np.array([2, 5, 1, 5])
    packing, order = pack_sequences(starts, lengths, call_cost=0.0)
    assert list(packing.lengths) == [5, 5, 2, 1] and list(order) == [1, 3, 0, 2]
    expected = [10, 30, 0, 20, 11, 31, 1, 12, 32, 13, 33, 14, 34]
    assert packing.sample_index.tolist() == expected
    assert packing.n_samples == 13 and packing.n_seq == 4
    assert [(c.t0, c.t1, c.n_rows) for c in packing.calls] == [(0, 1, 4), (1, 2, 3), (2, 5, 2)]


def make_policy(core: str) -> MemoryActorCriticPolicy:
    th.manual_seed(0)
    core_kwargs = {"dset_indices": [0, 2], "fnn_arch": [6]} if core == "iam" else {}
    policy = MemoryActorCriticPolicy(
        spaces.Box(-1.0, 1.0, (OBS_DIM,), np.float32), spaces.Discrete(3), lambda _: 1e-3,
        core=core, core_kwargs=core_kwargs, lstm_hidden_size=HIDDEN, net_arch=[7],
    ).double()
    # SB3 casts Box observations to float32 before the features extractor (a flatten here); skip that cast.
    policy.extract_features = lambda obs, *args: obs
    return policy


def filled_buffer(starts: str, chunk_len: int, call_cost: float) -> PackedRolloutBuffer:
    """A full buffer of random rollout data with random stored states (so a chunk's first state matters)."""
    rng = np.random.default_rng(2)
    buf = PackedRolloutBuffer(
        N_STEPS, spaces.Box(-1.0, 1.0, (OBS_DIM,), np.float32), spaces.Discrete(3),
        (N_STEPS, 1, N_ENVS, HIDDEN), "cpu", n_envs=N_ENVS, chunk_len=chunk_len, call_cost=call_cost,
    )
    buf.reset()
    if starts == "mid":  # starts anywhere: at chunk starts, mid-chunk, on consecutive steps (1-step sequences)
        episode_starts = rng.random((N_STEPS, N_ENVS)) < 0.25
        episode_starts[[3, 4, 5], 1] = True
    else:  # only the rollout's first step
        episode_starts = np.zeros((N_STEPS, N_ENVS), dtype=bool)
        episode_starts[0] = True
    for t in range(N_STEPS):
        states = [th.as_tensor(rng.normal(size=(1, N_ENVS, HIDDEN)), dtype=th.float32) for _ in range(4)]
        buf.add(
            rng.normal(size=(N_ENVS, OBS_DIM)).astype(np.float32), rng.integers(0, 3, (N_ENVS, 1)),
            rng.normal(size=N_ENVS), episode_starts[t], th.as_tensor(rng.normal(size=(N_ENVS, 1))),
            th.as_tensor(rng.normal(-1.1, 0.3, size=N_ENVS)),
            lstm_states=RNNStates((states[0], states[1]), (states[2], states[3])),
        )
    buf.compute_returns_and_advantage(th.as_tensor(rng.normal(size=(N_ENVS, 1))), np.zeros(N_ENVS))
    return buf


def per_step_outputs(policy, buf: PackedRolloutBuffer) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
    """Values, log-probabilities and entropies of every sample, computed one step at a time over all copies, the
    state carried from step to step, reset at episode starts and taken from the buffer at each chunk's start."""
    def stored(name: str, t: int) -> th.Tensor:
        return th.as_tensor(getattr(buf, name)[rows + t]).transpose(0, 1).double()

    rows = np.arange(N_ENVS) * N_STEPS  # flat (copy-major) index of each copy's first step
    values, log_probs, entropies = [], [], []
    for t in range(N_STEPS):
        if t % buf.chunk_len == 0:
            states = RNNStates((stored("hidden_states_pi", t), stored("cell_states_pi", t)),
                               (stored("hidden_states_vf", t), stored("cell_states_vf", t)))
        obs = th.as_tensor(buf.observations[rows + t]).double()
        starts = th.as_tensor(buf.episode_starts.reshape(-1)[rows + t]).double()
        actions = th.as_tensor(buf.actions[rows + t]).long().flatten()
        latent_pi, pi = policy._process_sequence(obs, states.pi, starts, policy.lstm_actor)
        latent_vf, vf = policy._process_sequence(obs, states.vf, starts, policy.lstm_critic)
        states = RNNStates(pi, vf)
        dist = policy._get_action_dist_from_latent(policy.mlp_extractor.forward_actor(latent_pi))
        values.append(policy.value_net(policy.mlp_extractor.forward_critic(latent_vf)).flatten())
        log_probs.append(dist.log_prob(actions))
        entropies.append(dist.entropy())
    # [T, n_envs] -> copy-major flat order, the buffer's
    return tuple(th.stack(x).transpose(0, 1).reshape(-1) for x in (values, log_probs, entropies))


def ppo_loss(values, log_prob, entropy, data) -> th.Tensor:
    """RecurrentPPO's minibatch loss (clip 0.2, normalised advantages, ent_coef 0.01, vf_coef 0.5)."""
    adv = data.advantages.double()
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    ratio = th.exp(log_prob - data.old_log_prob.double())
    policy_loss = -th.min(adv * ratio, adv * th.clamp(ratio, 0.8, 1.2)).mean()
    value_loss = ((data.returns.double() - values) ** 2).mean()
    return policy_loss - 0.01 * entropy.mean() + 0.5 * value_loss


def grads(policy, loss: th.Tensor) -> list[th.Tensor]:
    policy.zero_grad()
    loss.backward()
    return [p.grad.clone() if p.grad is not None else th.zeros_like(p) for p in policy.parameters()]


@pytest.mark.parametrize("core", ["lstm", "gru", "iam"])
@pytest.mark.parametrize("starts", ["none", "mid"])
@pytest.mark.parametrize("chunk_len,batch_size,call_cost", [(12, 24, 0.0), (5, 10, 4.0), (4, 12, 1e9)])
def test_packed_minibatches_equal_the_per_step_path(core, starts, chunk_len, batch_size, call_cost):
    th.manual_seed(3)
    np.random.seed(3)
    policy = make_policy(core)
    buf = filled_buffer(starts, chunk_len, call_cost)
    seen = []
    mid_starts = 0
    for data in buf.get(batch_size):
        packing = data.episode_starts
        idx = th.as_tensor(packing.sample_index)
        seen.extend(packing.sample_index.tolist())
        mid_starts += packing.n_seq - len({(i // N_STEPS, i % N_STEPS // chunk_len) for i in packing.sample_index})
        states = RNNStates(tuple(s.double() for s in data.lstm_states.pi),
                           tuple(s.double() for s in data.lstm_states.vf))
        values, log_prob, entropy = policy.evaluate_actions(
            data.observations.double(), data.actions.long().flatten(), states, packing
        )
        packed_loss = ppo_loss(values.flatten(), log_prob, entropy, data)
        packed_grads = grads(policy, packed_loss)

        ref_values, ref_log_prob, ref_entropy = (x[idx] for x in per_step_outputs(policy, buf))
        ref_loss = ppo_loss(ref_values, ref_log_prob, ref_entropy, data)
        ref_grads = grads(policy, ref_loss)

        th.testing.assert_close(values.flatten(), ref_values, rtol=0, atol=1e-10)
        th.testing.assert_close(log_prob, ref_log_prob, rtol=0, atol=1e-10)
        assert abs(packed_loss.item() - ref_loss.item()) < 1e-10
        assert any(g.abs().sum() > 0 for g in ref_grads)
        for got, want in zip(packed_grads, ref_grads):
            th.testing.assert_close(got, want, rtol=0, atol=1e-10)
    assert sorted(seen) == list(range(N_ENVS * N_STEPS))  # every sample once per epoch
    assert (mid_starts > 0) == (starts == "mid")


def test_make_model_trains_on_packed_minibatches_and_saves(tmp_path):
    model = make_model("lstm", "memenvs/TMaze-v0", seed=0, n_envs=4, env_kwargs={"variant": "passive", "length": 4},
                       n_steps=16, batch_size=32, n_epochs=2, chunk_len=8)
    assert isinstance(model, PackedRecurrentPPO) and isinstance(model.rollout_buffer, PackedRolloutBuffer)
    assert model.rollout_buffer.chunk_len == 8
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(128)
    assert any(not th.equal(a, b) for a, b in zip(before, model.policy.parameters()))
    model.save(tmp_path / "m.zip")
    loaded = PackedRecurrentPPO.load(tmp_path / "m.zip")
    assert isinstance(loaded.rollout_buffer, PackedRolloutBuffer) and loaded.rollout_buffer.chunk_len == 8
    obs = np.zeros((2, *model.observation_space.shape), dtype=np.float32)
    a1, s1 = model.predict(obs, deterministic=True)
    a2, s2 = loaded.predict(obs, deterministic=True)
    assert np.array_equal(a1, a2) and np.allclose(s1[0], s2[0])
    loaded.set_env(model.get_env())
    loaded.learn(64)  # and it trains after loading


def test_default_chunk_is_the_whole_rollout_when_the_batch_holds_it():
    model = make_model("gru", "memenvs/TMaze-v0", n_envs=4, env_kwargs={"variant": "passive", "length": 4},
                       n_steps=16, batch_size=64)
    assert model.rollout_buffer.chunk_len == 16
    model = make_model("gru", "memenvs/TMaze-v0", n_envs=4, env_kwargs={"variant": "passive", "length": 4},
                       n_steps=16, batch_size=8)
    assert model.rollout_buffer.chunk_len == 8


def test_bad_chunk_len_is_rejected():
    with pytest.raises(ValueError, match="chunk_len"):
        make_model("lstm", "memenvs/TMaze-v0", n_envs=2, env_kwargs={"variant": "passive", "length": 4},
                   n_steps=16, chunk_len=17)
