"""Tests of RecurrentDQN: the sequence replay buffer, n-step targets, the Q-network's sequence path, save/load,
recurrent predict, bad arguments, and a learning check on a short passive T-maze."""

from __future__ import annotations

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("stable_baselines3")

from gymnasium import spaces  # noqa: E402

from memenvs.baselines.algorithms.recurrent_dqn import (  # noqa: E402
    RecurrentDQN, SequenceReplayBuffer, n_step_targets, soft_update,
)
from memenvs.baselines.policies.recurrent_q import RecurrentQPolicy  # noqa: E402
from memenvs.sb3 import make_vec_env  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TMAZE = "memenvs/TMaze-v0"


# ------------------------------------------------------------------ replay buffer
def filled_buffer(size: int = 20, steps: int = 27) -> SequenceReplayBuffer:
    """Two copies: copy 0 has episodes of 3 steps, copy 1 of 4; the observation encodes (time, copy) and the
    stored state is the time step, so every sampled field can be checked against where it came from."""
    buf = SequenceReplayBuffer(size, spaces.Box(-1e9, 1e9, (1,), np.float32), spaces.Discrete(4), "cpu", n_envs=2)
    for t in range(steps):
        starts = np.array([t % 3 == 0, t % 4 == 0])
        dones = np.array([t % 3 == 2, t % 4 == 3])
        state = np.full((1, 2, 1), t, np.float32)
        buf.add_context((state, state + 0.5), starts)
        obs = np.array([[t * 10.0], [t * 10.0 + 1]], np.float32)
        buf.add(obs, obs + 10, np.array([[t % 4], [t % 4]]), np.array([t, t + 0.5]), dones, [{}, {}])
    return buf


@pytest.mark.parametrize("align", ["episode", "any"])
def test_windows_are_consecutive_steps_of_one_copy(align):
    buf = filled_buffer()
    batch = buf.sample_sequences(64, 5, align, np.random.default_rng(0))
    obs = batch.observations[..., 0].numpy()
    copy = obs[:, :1] % 10
    time = obs // 10
    assert (obs % 10 == copy).all()  # one copy per window
    assert (np.diff(time, axis=1) == 1).all()  # consecutive steps
    oldest = 27 - 20
    assert time.min() >= oldest and time.max() <= 26  # only written rows, never across the write position
    assert np.array_equal(batch.state[0][0, :, 0].numpy(), time[:, 0])  # the state stored at the window start
    assert np.array_equal(batch.state[1][0, :, 0].numpy(), time[:, 0] + 0.5)
    period = np.where(copy[:, 0] == 0, 3, 4)[:, None]
    assert np.array_equal(batch.dones.numpy(), (time % period == period - 1).astype(np.float32))
    expected_starts = time % period == 0
    if align == "episode":
        assert expected_starts[:, 0].all()  # windows begin at episode starts
        expected_starts[:, 0] = True
    assert np.array_equal(batch.episode_starts.numpy().astype(bool), expected_starts)
    assert np.array_equal(batch.actions.numpy(), time % 4)


def test_windows_from_episode_starts_need_no_stored_state():
    # align="episode" windows start from a zero state, so the buffer keeps only the flags (RecurrentDQN sets it).
    buf = SequenceReplayBuffer(20, spaces.Box(-1e9, 1e9, (1,), np.float32), spaces.Discrete(4), "cpu", n_envs=2,
                               store_states=False)
    stored = filled_buffer()
    for t in range(27):
        buf.add_context((np.full((1, 2, 3), t, np.float32),) * 2, np.array([t % 3 == 0, t % 4 == 0]))
        obs = np.array([[t * 10.0], [t * 10.0 + 1]], np.float32)
        buf.add(obs, obs + 10, np.array([[t % 4], [t % 4]]), np.array([t, t + 0.5]),
                np.array([t % 3 == 2, t % 4 == 3]), [{}, {}])
    assert buf.state_h.size == 0
    batch = buf.sample_sequences(8, 5, "episode", np.random.default_rng(0))
    assert batch.state[0].shape == (1, 8, 3) and not batch.state[0].any() and not batch.state[1].any()
    same = stored.sample_sequences(8, 5, "episode", np.random.default_rng(0))
    assert th.equal(batch.observations, same.observations) and th.equal(batch.episode_starts, same.episode_starts)
    with pytest.raises(ValueError, match="store_states"):
        buf.sample_sequences(8, 5, "any", np.random.default_rng(0))
    episode = RecurrentDQN("MlpPolicy", "memenvs/TMaze-v0", align="episode", sequence_length=8, buffer_size=64)
    anywhere = RecurrentDQN("MlpPolicy", "memenvs/TMaze-v0", align="any", sequence_length=8, buffer_size=64)
    assert not episode.replay_buffer.store_states and anywhere.replay_buffer.store_states


@pytest.mark.parametrize("size, steps", [(20, 27), (20, 13), (9, 40)])
def test_episode_starts_are_drawn_uniformly_from_every_start(size, steps):
    # The draw goes through per-row counts; it must pick exactly what indexing the list of every start in time
    # order, then copy order, would (the buffer may have wrapped), also from a buffer pickled without the counts.
    buf = filled_buffer(size, steps)
    oldest = buf.pos if buf.full else 0
    n_starts = buf.filled() - 3 + 1
    rows = (oldest + np.arange(n_starts)) % buf.buffer_size
    k_all, env_all = np.nonzero(buf.episode_starts[rows])
    pick = np.random.default_rng(7).integers(0, len(k_all), size=500)
    k, env = buf._pick_episode_starts(oldest, n_starts, 500, np.random.default_rng(7))
    assert np.array_equal(k, k_all[pick]) and np.array_equal(env, env_all[pick])
    assert set(zip(k.tolist(), env.tolist())) == set(zip(k_all.tolist(), env_all.tolist()))  # every start drawn
    old = buf.__getstate__() if hasattr(buf, "__getstate__") else dict(buf.__dict__)
    old = {key: value for key, value in old.items() if key != "row_starts"}
    restored = SequenceReplayBuffer.__new__(SequenceReplayBuffer)
    restored.__setstate__(old)
    again = restored._pick_episode_starts(oldest, n_starts, 500, np.random.default_rng(7))
    assert np.array_equal(again[0], k) and np.array_equal(again[1], env)


def test_buffer_too_short_for_a_window_says_so():
    buf = filled_buffer(size=20, steps=3)
    with pytest.raises(ValueError, match="sequence_length=5"):
        buf.sample_sequences(4, 5, "any", np.random.default_rng(0))


# ------------------------------------------------------------------ targets
def test_n_step_targets_by_hand():
    r = th.tensor([[0.0, 0, 1, 0, 0, 2]])
    d = th.tensor([[0.0, 0, 1, 0, 0, 1]])
    v = th.tensor([[10.0, 20, 30, 40, 50, 60]])
    no_timeouts = th.zeros_like(d)
    target, valid = n_step_targets(r, d, no_timeouts, v, 0.5, 1)
    assert th.allclose(target, th.tensor([[10.0, 15, 1, 25, 30, 2]]))
    assert valid.all()
    target, valid = n_step_targets(r, d, no_timeouts, v, 0.5, 2)
    assert th.allclose(target, th.tensor([[7.5, 0.5, 1, 15, 1, 2]]))
    assert valid.all()
    # A window that ends mid-episode: the last step's target would need a value past the window.
    target, valid = n_step_targets(r[:, :5], d[:, :5], no_timeouts[:, :5], v[:, :5], 0.5, 2)
    assert valid.tolist() == [[True, True, True, False, False]]
    # A truncation (time limit) at step 2: returns that reach it are not defined inside the window.
    timeouts = th.tensor([[0.0, 0, 1, 0, 0, 0]])
    _, valid = n_step_targets(r, d, timeouts, v, 0.5, 2)
    assert valid.tolist() == [[True, False, False, True, True, True]]
    # Returns longer than the window: the whole rest of each episode, the same for every n_step >= T.
    whole, valid = n_step_targets(r, d, no_timeouts, v, 0.5, 6)
    assert th.allclose(whole, th.tensor([[0.25, 0.5, 1, 0.5, 1, 2]])) and valid.all()
    for longer in (7, 50):
        target, valid_longer = n_step_targets(r, d, no_timeouts, v, 0.5, longer)
        assert th.equal(target, whole) and th.equal(valid_longer, valid)


@pytest.mark.parametrize("n_step", [1, 3, 11, 12, 40])
def test_n_step_targets_match_the_definition_step_by_step(n_step):
    # Random windows of 12 steps with terminations and truncations, against the definition written per element.
    rng = np.random.default_rng(n_step)
    b, t, gamma = 6, 12, 0.9
    r = rng.normal(size=(b, t)).astype(np.float32)
    d = (rng.random((b, t)) < 0.2).astype(np.float32)
    to = d * (rng.random((b, t)) < 0.4).astype(np.float32)
    v = rng.normal(size=(b, t)).astype(np.float32)
    target, valid = n_step_targets(*(th.from_numpy(x) for x in (r, d, to, v)), gamma, n_step)
    for i in range(b):
        for j in range(t):
            ret, k, ok = 0.0, j, True
            while True:
                ret += gamma ** (k - j) * r[i, k]
                if d[i, k]:
                    ok = not to[i, k]
                    break
                k += 1
                if k - j == n_step:
                    if k < t:
                        ret += gamma ** n_step * v[i, k]
                    else:
                        ok = False
                    break
                if k == t:
                    ok = False
                    break
            assert bool(valid[i, j]) == ok, (i, j)
            if ok:
                assert float(target[i, j]) == pytest.approx(ret, rel=1e-5, abs=1e-5), (i, j)


def test_soft_update_is_polyak_averaging():
    from stable_baselines3.common.utils import polyak_update

    online = [th.randn(3, 4), th.randn(5)]
    target = [th.randn(3, 4), th.randn(5)]
    expected = [t.clone() for t in target]
    polyak_update(online, expected, 0.005)
    soft_update(online, target, 0.005)
    assert all(th.equal(a, b) for a, b in zip(target, expected))


# ------------------------------------------------------------------ network
@pytest.mark.parametrize("core", ["lstm", "gru", "none"])
def test_sequence_path_equals_step_by_step(core):
    """forward_sequence over windows with episode starts inside them == stepping one copy at a time."""
    venv = make_vec_env(TMAZE, n_envs=2, seed=0, variant="passive", length=3)
    policy = RecurrentQPolicy(venv.observation_space, venv.action_space, lambda _: 1e-3, core=core,
                              lstm_hidden_size=5, net_arch=[8])
    q_net = policy.q_net
    g = th.Generator().manual_seed(0)
    obs = th.rand(3, 7, *venv.observation_space.shape, generator=g)
    starts = th.zeros(3, 7)
    starts[:, 0] = 1
    starts[1, 4] = 1
    starts[2, 2] = 1
    state = q_net.initial_state(3)
    with th.no_grad():
        seq = q_net.forward_sequence(obs, starts, state)
        steps, st = [], state
        for t in range(7):
            q, st = q_net.step(obs[:, t], st, starts[:, t])
            steps.append(q)
    assert th.allclose(seq, th.stack(steps, dim=1), atol=1e-6)


def make_tiny(seed: int = 0, **kwargs) -> RecurrentDQN:
    venv = make_vec_env(TMAZE, n_envs=4, seed=seed, variant="passive", length=3)
    defaults = dict(learning_starts=32, buffer_size=2_000, sequence_length=4, align="episode", batch_size=8,
                    policy_kwargs={"core": "gru", "lstm_hidden_size": 8})
    return RecurrentDQN("MlpPolicy", venv, seed=seed, **{**defaults, **kwargs})


def test_predict_carries_the_state_and_resets_it_at_episode_starts():
    model = make_tiny()
    obs = np.array([[0, 1], [0, -1]], np.float32)  # the two cues of the passive T-maze
    _, state = model.predict(obs, deterministic=True)
    assert state[0].shape == (1, 2, 8)
    corridor = np.array([[0, 0], [0, 0]], np.float32)
    _, carried = model.predict(corridor, state, np.array([False, False]), deterministic=True)
    _, fresh = model.predict(corridor, state, np.array([True, True]), deterministic=True)
    _, zero = model.predict(corridor, None, None, deterministic=True)
    assert not np.allclose(carried[0], fresh[0])
    assert np.allclose(fresh[0], zero[0])


def test_save_load_round_trip(tmp_path):
    model = make_tiny()
    model.learn(200)
    path = tmp_path / "drqn.zip"
    model.save(path)
    loaded = RecurrentDQN.load(path)
    obs = np.array([[0, 1], [0, 0], [1, 0]], np.float32)  # cue, corridor, junction
    a1, s1 = model.predict(obs, deterministic=True)
    a2, s2 = loaded.predict(obs, deterministic=True)
    assert np.array_equal(a1, a2)
    assert np.allclose(s1[0], s2[0])
    assert loaded.policy.core == "gru" and loaded.sequence_length == 4


@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_chrono_initialisation_spreads_the_keep_gates_up_to_the_horizon(core, tmp_path):
    """``chrono_horizon=T`` starts each unit's forget (GRU: update) gate at ``log(u)``, ``u`` in ``[1, T - 1]``, the
    LSTM's input gate at its negative, the recurrent biases of those gates at 0; the target network starts equal,
    the setting is saved with the model, and it cannot be combined with ``forget_bias``."""
    model = make_tiny(policy_kwargs={"core": core, "lstm_hidden_size": 64, "chrono_horizon": 201})
    size = 64
    for net in (model.policy.q_net, model.policy.q_net_target):
        (rnn,) = [m for m in net.modules() if isinstance(m, (th.nn.LSTM, th.nn.GRU))]
        keep = rnn.bias_ih_l0[size:2 * size].detach()
        assert th.all(keep >= 0.0) and th.all(keep <= np.log(200) + 1e-6) and keep.std() > 0.5
        assert th.all(rnn.bias_hh_l0[size:2 * size] == 0.0)
        if core == "lstm":
            assert th.equal(rnn.bias_ih_l0[:size], -keep) and th.all(rnn.bias_hh_l0[:size] == 0.0)
    for a, b in zip(model.policy.q_net.state_dict().values(), model.policy.q_net_target.state_dict().values()):
        assert th.equal(a, b)
    model.save(tmp_path / "chrono.zip")
    assert RecurrentDQN.load(tmp_path / "chrono.zip").policy.chrono_horizon == 201
    with pytest.raises(ValueError, match="forget_bias or chrono_horizon"):
        make_tiny(policy_kwargs={"core": core, "forget_bias": 1.0, "chrono_horizon": 201})
    with pytest.raises(ValueError, match="chrono_horizon must be an integer >= 3"):
        make_tiny(policy_kwargs={"core": core, "chrono_horizon": 2})


def test_replay_ratio_sets_the_number_of_updates():
    model = make_tiny(replay_ratio=4.0, learning_starts=0)
    model.learn(400)  # 400 transitions * 4 replays / (8 windows * 4 steps) = 50 updates
    assert 48 <= model._n_updates <= 50


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"align": "middle"}, "align must be one of episode, any"),
        ({"sequence_length": 0}, "sequence_length must be an int >= 1"),
        ({"burn_in": 4}, "burn_in must be < sequence_length"),
        ({"n_step": 0}, "n_step must be an int >= 1"),
        ({"replay_ratio": 0}, "replay_ratio must be > 0"),
        ({"exploration_alpha": -1.0}, "exploration_alpha must be >= 0"),
        ({"policy_kwargs": {"core": "transformer"}}, "core must be one of"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_tiny(**kwargs)


def test_continuous_actions_are_refused():
    space = spaces.Box(-1, 1, (2,), np.float32)
    with pytest.raises(ValueError, match="Discrete action space"):
        RecurrentQPolicy(spaces.Box(0, 1, (3,), np.float32), space, lambda _: 1e-3)


def test_ape_x_epsilon_spread():
    model = make_tiny(exploration_alpha=7.0)
    model.exploration_rate = 0.4
    eps = model.copy_epsilons()
    assert eps[0] == pytest.approx(0.4) and eps[-1] == pytest.approx(0.4 ** 8)
    assert (np.diff(eps) < 0).all()


# ------------------------------------------------------------------ through make_model
def test_tmaze_defaults_replay_whole_episodes():
    from memenvs.baselines import make_model

    model = make_model("gru_dqn", TMAZE, n_envs=2, env_kwargs={"variant": "passive", "length": 30})
    assert (model.sequence_length, model.n_step, model.align) == (31, 31, "episode")
    assert model.exploration_final_eps == pytest.approx(1 / 31)
    assert model.buffer_size == 100_000
    # The LSTM keeps its whole run (10,000 steps per step of the episode), bootstraps after 10 steps and starts its
    # forget gates at bias 1: with the family's settings its length-100 cue came and went.
    model = make_model("lstm_dqn", TMAZE, n_envs=2, env_kwargs={"variant": "passive", "length": 30})
    assert (model.sequence_length, model.n_step, model.align, model.buffer_size) == (31, 10, "episode", 310_000)
    rnn, hidden = model.q_net.core.rnn, model.q_net.core.rnn.hidden_size
    assert float(rnn.bias_ih_l0[hidden:2 * hidden].min()) == 1.0  # the forget block of (i, f, g, o)


def test_learns_a_short_passive_tmaze():
    """The learning check: a GRU Q-network carries the cue over a corridor of 4 cells (success 1.0, where a
    memoryless policy gets 0.5), in 8k env steps."""
    from memenvs.baselines import evaluate, make_model

    model = make_model("gru_dqn", TMAZE, seed=0, n_envs=16, env_kwargs={"variant": "passive", "length": 4},
                       learning_starts=500)
    model.learn(8_000)
    result = evaluate(model, n_episodes=100, seed=7)
    assert result.success_rate == 1.0
