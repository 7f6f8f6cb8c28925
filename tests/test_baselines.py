"""Tests of memenvs.baselines: cores, the fast sequence path, save/load, IAM's d-set, make_model/evaluate, learning."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from sb3_contrib import RecurrentPPO  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402

import memenvs  # noqa: E402,F401
from memenvs.baselines import (  # noqa: E402
    BASELINES, IAMCore, MemoryActorCriticPolicy, env_dset, env_family, evaluate, make_model, resolve,
)
from memenvs.baselines.models import make_vec  # noqa: E402
from memenvs.baselines.policies.cores import GRUCore, LSTMCore  # noqa: E402
from memenvs.baselines.policies.memory_policy import process_sequence  # noqa: E402

TMAZE = "memenvs/TMaze-v0"
PASSIVE = {"variant": "passive", "length": 4}
QUICK = {"n_steps": 16, "batch_size": 32, "n_epochs": 1}
QUICK_OFF_POLICY = {"learning_starts": 16, "buffer_size": 1_000, "batch_size": 4, "sequence_length": 8, "burn_in": 2}


def registered(env_id: str) -> bool:
    return env_id in gym.registry


pytestmark = pytest.mark.usefixtures("torch_one_thread")


# ------------------------------------------------------------------ fast sequence path
def per_step_reference(features, states, starts, core):
    """The upstream semantics written out: reset rows where an episode starts, one time step at a time."""
    n_seq = states[0].shape[1]
    x = features.reshape(n_seq, -1, core.input_size).transpose(0, 1)
    s = starts.reshape(n_seq, -1).transpose(0, 1)
    h, c = states
    outs = []
    for t in range(x.shape[0]):
        keep = (1.0 - s[t]).view(1, n_seq, 1)
        y, (h, c) = core(x[t:t + 1], (keep * h, keep * c))
        outs.append(y)
    return th.cat(outs).transpose(0, 1).flatten(0, 1), (h, c)


def make_cores():
    th.manual_seed(0)
    return [
        LSTMCore(5, 7, num_layers=2),
        GRUCore(5, 7),
        IAMCore(5, 7, dset="manual", dset_indices=[1, 3], fnn_arch=[6]),
        IAMCore(5, 7, dset="learned", dset_size=3, fnn_arch=[6], rnn="gru"),
        IAMCore(2 * 2 * 3, 7, dset="attention", feature_shape=(2, 2, 3), fnn_arch=[6]),
    ]


@pytest.mark.parametrize("mid_resets", [False, True])
@pytest.mark.parametrize("index", range(5))
def test_fast_sequence_path_matches_per_step_outputs_and_gradients(index, mid_resets):
    core = make_cores()[index].double()
    n_seq, t_len = 3, 9
    gen = th.Generator().manual_seed(index)
    features = th.randn(n_seq * t_len, core.input_size, generator=gen, dtype=th.float64)
    starts = th.zeros(n_seq, t_len, dtype=th.float64)
    starts[:, 0] = th.tensor([1.0, 0.0, 1.0])
    if mid_resets:
        starts[0, 4] = starts[2, 7] = starts[1, 1] = 1.0
    starts = starts.flatten()
    h0 = th.randn(core.num_layers, n_seq, core.hidden_size, generator=gen, dtype=th.float64)
    c0 = th.randn(core.num_layers, n_seq, core.hidden_size, generator=gen, dtype=th.float64)

    results = []
    for fn in (process_sequence, per_step_reference):
        core.zero_grad()
        x = features.clone().requires_grad_(True)
        y, (h, c) = fn(x, (h0, c0), starts, core)
        weights = th.linspace(-1, 1, y.numel(), dtype=th.float64).reshape(y.shape)
        ((y * weights).sum() + h.sum() + 0.5 * c.sum()).backward()
        grads = [p.grad.clone() for p in core.parameters() if p.grad is not None]
        results.append((y.detach(), h.detach(), c.detach(), x.grad.clone(), grads))
    fast, slow = results
    for a, b in zip(fast[:4], slow[:4]):
        assert th.allclose(a, b, atol=1e-12, rtol=1e-10)
    assert len(fast[4]) == len(slow[4]) > 0
    for a, b in zip(fast[4], slow[4]):
        assert th.allclose(a, b, atol=1e-12, rtol=1e-10)


def test_fast_path_matches_sb3_contrib_upstream_loop():
    """The memenvs policy and upstream ``_process_sequence`` agree on an nn.LSTM-equivalent core."""
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    core = LSTMCore(4, 6)
    x = th.randn(2 * 5, 4)
    starts = th.tensor([1, 0, 0, 1, 0, 0, 0, 0, 1, 0], dtype=th.float32)
    state = (th.randn(1, 2, 6), th.randn(1, 2, 6))
    with th.no_grad():
        ours = MemoryActorCriticPolicy._process_sequence(x, state, starts, core)
        theirs = RecurrentActorCriticPolicy._process_sequence(x, state, starts, core)
    assert th.allclose(ours[0], theirs[0], atol=1e-6)
    assert th.allclose(ours[1][0], theirs[1][0], atol=1e-6)


# ------------------------------------------------------------------ IAM
def test_iam_recurrent_branch_sees_only_the_dset():
    th.manual_seed(1)
    dset = [0, 4, 5]
    core = IAMCore(8, 6, dset="manual", dset_indices=dset, fnn_arch=[10])
    x = th.randn(7, 3, 8)
    state = (th.zeros(1, 3, 6), th.zeros(1, 3, 6))
    outside = th.zeros(8, dtype=th.bool)
    outside[[i for i in range(8) if i not in dset]] = True
    noisy = x.clone()
    noisy[..., outside] += 5.0 * th.randn_like(noisy[..., outside])
    with th.no_grad():
        y, (h, c) = core(x, state)
        y2, (h2, c2) = core(noisy, state)
        inside = x.clone()
        inside[..., 4] += 1.0
        _, (h3, _) = core(inside, state)
    assert th.equal(h, h2) and th.equal(c, c2)
    assert th.equal(y[..., 10:], y2[..., 10:])  # the recurrent half of the output
    assert not th.allclose(y[..., :10], y2[..., :10])  # the feed-forward half does see everything
    assert not th.allclose(h, h3)  # and a d-set entry does reach the memory


@pytest.mark.skipif(not registered("memenvs/Warehouse-v0"), reason="memenvs/Warehouse-v0 not registered yet")
def test_iam_takes_the_dset_from_the_env_on_warehouse():
    dset = env_dset("memenvs/Warehouse-v0")
    assert dset == list(range(49, 73))
    model = make_model("iam", "memenvs/Warehouse-v0", n_envs=2, **QUICK)
    core = model.policy.lstm_actor
    assert core.dset_indices.tolist() == dset
    assert core.fnn[0].out_features == 576 and core.hidden_size == 64  # the paper's sizes
    obs = th.as_tensor(model.env.reset())[None]
    state = (th.zeros(1, 2, 64), th.zeros(1, 2, 64))
    noisy = obs.clone()
    noisy[..., :49] = 1.0 - noisy[..., :49]
    with th.no_grad():
        assert th.equal(core(obs, state)[1][0], core(noisy, state)[1][0])


def test_iam_rejects_bad_arguments():
    with pytest.raises(ValueError, match="dset"):
        IAMCore(4, 3, dset="magic")
    with pytest.raises(ValueError, match="dset_indices"):
        IAMCore(4, 3, dset="manual")
    with pytest.raises(ValueError, match="dset_indices"):
        IAMCore(4, 3, dset="manual", dset_indices=[4])
    with pytest.raises(ValueError, match="feature_shape"):
        IAMCore(4, 3, dset="attention")
    with pytest.raises(ValueError, match="exposes no d-set"):
        make_model("iam", TMAZE, env_kwargs=PASSIVE)


# ------------------------------------------------------------------ build and train
def envs_to_train():
    cases = [(TMAZE, PASSIVE)]
    for env_id in ("memenvs/RandomMaze-v0", "memenvs/Warehouse-v0"):
        cases.append(pytest.param(env_id, {}, marks=pytest.mark.skipif(
            not registered(env_id), reason=f"{env_id} not registered yet")))
    return cases


@pytest.mark.parametrize("env_id,env_kwargs", envs_to_train())
@pytest.mark.parametrize("baseline", sorted(BASELINES))
def test_every_baseline_trains(baseline, env_id, env_kwargs):
    policy_kwargs = None
    if BASELINES[baseline].policy_kwargs.get("core") == "iam" and env_dset(env_id, **env_kwargs) is None:
        policy_kwargs = {"core_kwargs": {"dset": "learned", "dset_size": 2}}
    quick = QUICK_OFF_POLICY if BASELINES[baseline].algorithm == "RecurrentDQN" else QUICK
    model = make_model(baseline, env_id, n_envs=2, env_kwargs=env_kwargs, policy_kwargs=policy_kwargs, **quick)
    model.learn(64)
    assert model.num_timesteps >= 64
    result = evaluate(model, n_episodes=2, seed=3)
    assert result.n_episodes == 2 and np.isfinite(result.mean_return)


@pytest.mark.skipif(not registered("memenvs/FlickeringPong-v0"), reason="memenvs/FlickeringPong-v0 not registered")
@pytest.mark.parametrize("baseline", ["lstm", "iam", "mlp"])
def test_image_observations_train(baseline):
    model = make_model(baseline, "memenvs/FlickeringPong-v0", n_envs=1, n_steps=8, batch_size=8, n_epochs=1,
                       policy_kwargs={"lstm_hidden_size": 16} if baseline != "mlp" else None)
    model.learn(16)
    assert model.num_timesteps >= 16
    if baseline == "iam":
        core = model.policy.lstm_actor
        assert core.dset == "attention" and core.feature_shape == (64, 7, 7)


# ------------------------------------------------------------------ save / load
def rollout_predictions(model, n_steps=12):
    """The model's actions (and recurrent states) over ``n_steps`` of 3 passive T-mazes seen through its own VecEnv
    wrappers (the T-maze PPO baselines append the critic's time feature)."""
    venv = make_vec(TMAZE, 3, 5, PASSIVE, model.memenvs_spec["wrappers"]) if hasattr(model, "memenvs_spec") else None
    if venv is None:  # a bare policy: it hides the time feature from its actor when it was trained with one
        wrappers = [("time_feature", {})] if getattr(model, "critic_only_features", 0) else []
        venv = make_vec(TMAZE, 3, 5, PASSIVE, wrappers)
    obs = venv.reset()
    state, starts, out = None, np.ones(3, dtype=bool), []
    for _ in range(n_steps):
        actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
        out.append((actions.copy(), None if state is None else tuple(s.copy() for s in state)))
        obs, _, starts, _ = venv.step(actions)
    return out


def assert_same_predictions(a, b):
    for (act_a, st_a), (act_b, st_b) in zip(a, b):
        np.testing.assert_array_equal(act_a, act_b)
        if st_a is not None:
            for x, y in zip(st_a, st_b):
                np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("baseline", ["lstm", "gru", "framestack", "mlp"])
def test_model_save_load_round_trip(baseline, tmp_path):
    model = make_model(baseline, TMAZE, n_envs=2, env_kwargs=PASSIVE, **QUICK)
    model.learn(64)
    path = tmp_path / "model.zip"
    model.save(path)
    cls = RecurrentPPO if baseline in ("lstm", "gru") else PPO
    loaded = cls.load(path, device="cpu")
    assert loaded.memenvs_spec == model.memenvs_spec
    if baseline != "framestack":  # frame-stacked observations are built by the VecEnv wrapper, not predict()
        assert_same_predictions(rollout_predictions(model), rollout_predictions(loaded))
    th.manual_seed(0)
    a = evaluate(model, n_episodes=6, seed=2)
    th.manual_seed(0)
    b = evaluate(loaded, n_episodes=6, seed=2)
    assert a.returns == b.returns


@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_policy_only_save_load_at_non_default_sizes(core, tmp_path):
    model = make_model(core, TMAZE, n_envs=2, env_kwargs=PASSIVE,
                       policy_kwargs={"lstm_hidden_size": 19, "n_lstm_layers": 2, "net_arch": [11]}, **QUICK)
    model.learn(32)
    path = tmp_path / "policy.pth"
    model.policy.save(path)
    loaded = MemoryActorCriticPolicy.load(path, device="cpu")
    assert loaded.lstm_actor.hidden_size == 19 and loaded.lstm_actor.num_layers == 2
    assert type(loaded.lstm_actor) is type(model.policy.lstm_actor)
    for (k, v), (k2, v2) in zip(model.policy.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and th.equal(v, v2)
    assert_same_predictions(rollout_predictions(model.policy), rollout_predictions(loaded))


@pytest.mark.parametrize("core", ["lstm", "gru", "iam"])
def test_forget_bias_starts_every_recurrent_gate_of_actor_and_critic_open(core):
    """``forget_bias`` (as for the recurrent DQN) sets the LSTM forget gates / GRU update gates of both cores; 0 keeps
    PyTorch's initialisation bit for bit."""
    pk = {"core_kwargs": {"dset": "learned", "dset_size": 2}} if core == "iam" else {}
    plain = make_model(core, TMAZE, seed=3, n_envs=2, env_kwargs=PASSIVE, policy_kwargs=pk, **QUICK)
    opened = make_model(core, TMAZE, seed=3, n_envs=2, env_kwargs=PASSIVE, policy_kwargs={**pk, "forget_bias": 1.5},
                        **QUICK)
    rnns = [m for m in opened.policy.modules() if isinstance(m, (th.nn.LSTM, th.nn.GRU))]
    assert len(rnns) == 2  # the actor's core and the critic's
    for rnn in rnns:
        size = rnn.hidden_size
        assert th.all(rnn.bias_ih_l0[size:2 * size] == 1.5) and th.all(rnn.bias_hh_l0[size:2 * size] == 0.0)
    assert opened.policy._get_constructor_parameters()["forget_bias"] == 1.5
    zero = make_model(core, TMAZE, seed=3, n_envs=2, env_kwargs=PASSIVE, policy_kwargs={**pk, "forget_bias": 0},
                      **QUICK)
    for (k, v), (_, w) in zip(plain.policy.state_dict().items(), zero.policy.state_dict().items()):
        assert th.equal(v, w), k
    with pytest.raises(ValueError, match="forget_bias must be a number"):
        make_model(core, TMAZE, n_envs=2, env_kwargs=PASSIVE, policy_kwargs={**pk, "forget_bias": "1"}, **QUICK)


@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_chrono_horizon_spreads_the_gates_of_actor_and_critic_up_to_the_horizon(core, tmp_path):
    """``chrono_horizon`` (as for the recurrent DQN) draws each unit's forget / update-gate bias in
    ``[0, log(horizon - 1)]`` (LSTM input gates the negative), in both cores; it is saved with the model and
    cannot be combined with ``forget_bias``."""
    model = make_model(core, TMAZE, seed=3, n_envs=2, env_kwargs=PASSIVE, policy_kwargs={"chrono_horizon": 201},
                       **QUICK)
    rnns = [m for m in model.policy.modules() if isinstance(m, (th.nn.LSTM, th.nn.GRU))]
    assert len(rnns) == 2
    for rnn in rnns:
        size = rnn.hidden_size
        keep = rnn.bias_ih_l0[size:2 * size]
        assert th.all(keep >= 0) and th.all(keep <= np.log(200) + 1e-6) and keep.std() > 0.5
        assert th.all(rnn.bias_hh_l0[size:2 * size] == 0.0)
        if core == "lstm":
            assert th.equal(rnn.bias_ih_l0[:size], -keep)
    model.save(tmp_path / "m.zip")
    loaded = type(model).load(tmp_path / "m.zip")
    assert loaded.policy._get_constructor_parameters()["chrono_horizon"] == 201
    with pytest.raises(ValueError, match="forget_bias or chrono_horizon"):
        make_model(core, TMAZE, n_envs=2, env_kwargs=PASSIVE, policy_kwargs={"forget_bias": 1.0, "chrono_horizon": 201},
                   **QUICK)
    with pytest.raises(ValueError, match="chrono_horizon must be an integer >= 3"):
        make_model(core, TMAZE, n_envs=2, env_kwargs=PASSIVE, policy_kwargs={"chrono_horizon": 2}, **QUICK)


@pytest.mark.parametrize("core", ["lstm", "gru"])
def test_obs_shortcut_heads_read_the_core_output_then_the_step_features(core, tmp_path):
    """With ``obs_shortcut`` the actor's and critic's heads read ``[core output, features]`` of the same step; the
    state is the plain core's; the model saves, loads and acts alike; a non-bool is refused."""
    model = make_model(core, TMAZE, seed=1, n_envs=2, env_kwargs=PASSIVE,
                       policy_kwargs={"obs_shortcut": True, "lstm_hidden_size": 6, "net_arch": []}, **QUICK)
    policy = model.policy
    width = policy.features_dim
    assert policy.action_net.in_features == 6 + width and policy.value_net.in_features == 6 + width
    shortcut = policy.lstm_actor
    x = th.randn(5, 3, width)
    state = (th.randn(1, 3, 6), th.zeros(1, 3, 6))
    y, new_state = shortcut(x, state)
    y_core, core_state = shortcut.core(x, state)
    assert th.equal(y[..., :6], y_core) and th.equal(y[..., 6:], x)
    assert all(th.equal(a, b) for a, b in zip(new_state, core_state))
    assert (shortcut.hidden_size, shortcut.num_layers) == (6, 1)
    model.learn(32)
    path = tmp_path / "shortcut.zip"
    model.save(path)
    loaded = RecurrentPPO.load(path, device="cpu")
    assert loaded.policy.obs_shortcut is True
    for (k, v), (k2, v2) in zip(policy.state_dict().items(), loaded.policy.state_dict().items()):
        assert k == k2 and th.equal(v, v2)
    assert_same_predictions(rollout_predictions(policy), rollout_predictions(loaded.policy))
    with pytest.raises(ValueError, match="obs_shortcut must be True or False"):
        make_model(core, TMAZE, n_envs=2, env_kwargs=PASSIVE, policy_kwargs={"obs_shortcut": 1}, **QUICK)


def test_iam_model_save_load(tmp_path):
    model = make_model("iam", TMAZE, n_envs=2, env_kwargs=PASSIVE,
                       policy_kwargs={"core_kwargs": {"dset": "manual", "dset_indices": [1]}}, **QUICK)
    model.learn(32)
    model.save(tmp_path / "iam.zip")
    loaded = RecurrentPPO.load(tmp_path / "iam.zip", device="cpu")
    assert loaded.policy.lstm_actor.dset_indices.tolist() == [1]
    assert_same_predictions(rollout_predictions(model), rollout_predictions(loaded))


# ------------------------------------------------------------------ API
def test_resolve_applies_family_overrides_and_rejects_unknown_names():
    assert env_family("memenvs/Warehouse-v0") == "warehouse" and env_family("Acrobot-v1") == "other"
    assert env_family("memenvs/NonstationaryCartPole-v0") == env_family("CartPole-v1") == "cartpole"
    record = resolve("lstm", "memenvs/Warehouse-v0")
    assert record.policy_kwargs["lstm_hidden_size"] == 256
    assert record.policy_kwargs["features_extractor_kwargs"] == {"net_arch": [640]}
    assert resolve("framestack", "memenvs/Warehouse-v0").wrappers[0][1]["n_stack"] == 8
    assert BASELINES["lstm"].policy_kwargs["lstm_hidden_size"] == 128  # resolving did not mutate the table
    with pytest.raises(ValueError, match="unknown baseline"):
        resolve("transformer", TMAZE)
    with pytest.raises(ValueError, match="unknown override"):
        make_model("mlp", TMAZE, env_kwargs=PASSIVE, learning_rat=1e-3)


def test_schedule_strings_become_linear_decays_and_bad_ones_name_the_argument():
    """RL Zoo's ``lin_<start>`` in a scheduled argument decays linearly to 0 over training; other strings fail
    before any env is built, naming the argument and the accepted forms."""
    model = make_model("mlp", TMAZE, n_envs=2, env_kwargs=PASSIVE, learning_rate="lin_2e-3", clip_range="lin_0.2")
    assert model.lr_schedule(1.0) == pytest.approx(2e-3) and model.lr_schedule(0.25) == pytest.approx(5e-4)
    assert model.clip_range(0.5) == pytest.approx(0.1)
    held = make_model("mlp", TMAZE, n_envs=2, env_kwargs=PASSIVE, learning_rate="lin_1e-3_from_0.6").lr_schedule
    assert [held(p) for p in (1.0, 0.5, 0.4, 0.2, 0.0)] == pytest.approx([1e-3, 1e-3, 1e-3, 5e-4, 0.0])
    for bad in ("linear", "lin_", "lin_-1", "2e-3", "lin_1e-3_from_1", "lin_1e-3_from_", "lin_1e-3_from_-0.1"):
        with pytest.raises(ValueError, match=r"learning_rate=.*'lin_<start>'"):
            make_model("mlp", TMAZE, env_kwargs=PASSIVE, learning_rate=bad)


@pytest.mark.parametrize("n_envs,expected", [(16, 176), (4, 132), (6, 198), (12, 198), (1, 33)])
def test_family_batch_size_fits_the_rollout_without_a_minibatch_warning(n_envs, expected):
    """T-maze family: batch 256 (tuned for 16 copies), n_steps 33 on the default maze (whole 11-step episodes). With
    any copy count the batch is the largest divisor of the rollout not above 256, so SB3 never warns about a
    truncated mini-batch."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = make_model("lstm", "memenvs/TMaze-v0", n_envs=n_envs)
    assert model.batch_size == expected and (model.n_steps * n_envs) % model.batch_size == 0
    assert not [w for w in caught if "mini-batch" in str(w.message)]
    assert make_model("lstm", "memenvs/TMaze-v0", n_envs=4, batch_size=64).batch_size == 64  # explicit: kept


def test_wrappers_override_sets_the_frame_stack_length():
    model = make_model("framestack", TMAZE, n_envs=2, env_kwargs=PASSIVE, wrappers=[("frame_stack", {"n_stack": 3})],
                       **QUICK)
    assert model.observation_space.shape == (3 * 2,)  # three stacked 2-element passive observations
    assert model.memenvs_spec["wrappers"] == [["frame_stack", {"n_stack": 3}]]


def test_oracle_appends_the_hidden_state():
    model = make_model("mlp", TMAZE, n_envs=4, env_kwargs=PASSIVE, oracle=True, **QUICK)
    venv = model.get_env()
    obs = venv.reset()
    assert obs.shape == (4, 2 + 3 + 1)  # the passive observation (2 elements), then arm, goal, x, then the time
    hidden = venv.env_method("hidden_state", indices=[0])[0]
    np.testing.assert_array_equal(obs[:, 2], hidden["arm"])
    np.testing.assert_array_equal(obs[:, 3], hidden["goal"])
    np.testing.assert_array_equal(obs[:, 4], hidden["x"])


class ScriptedPassiveAgent:
    """East down the corridor, then north; counts its steps in the recurrent state to check episode starts."""

    def __init__(self, length: int) -> None:
        self.length = length

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        n = obs.shape[0]
        count = np.zeros(n) if state is None else state[0].copy()
        count[episode_start] = 0
        actions = np.where(count >= self.length, 0, 1)  # north at the junction, east before
        cue = obs[:, 1] != 0  # (0, +1) or (0, -1); only the first observation shows it
        assert ((count == 0) == cue).all()
        return actions, (count + 1,)


def test_evaluate_counts_episodes_returns_and_success():
    agent = ScriptedPassiveAgent(PASSIVE["length"])
    result = evaluate(agent, TMAZE, n_episodes=300, seed=0, env_kwargs=PASSIVE, n_envs=7)
    returns = np.asarray(result.returns)
    assert result.n_episodes == 300 and set(result.lengths) == {PASSIVE["length"] + 1}
    assert set(returns.tolist()) <= {0.0, 1.0}  # on schedule, so the only reward is the goal
    assert result.success_rate == pytest.approx(returns.mean())
    assert 0.4 < result.success_rate < 0.6  # north is right half the time
    assert result.success_se == pytest.approx(returns.std(ddof=1) / np.sqrt(300))


# ------------------------------------------------------------------ learning check
LEARNING = {"variant": "passive", "length": 8}


def test_learning_check_memory_solves_passive_tmaze_and_mlp_cannot():
    """GRU reaches success >= 0.9 on the passive T-maze (corridor 8); the memoryless MLP stays at 0.5."""
    gru = make_model("gru", TMAZE, seed=0, n_envs=16, env_kwargs=LEARNING)
    gru.learn(24_000)
    solved = evaluate(gru, n_episodes=200, seed=100)
    mlp = make_model("mlp", TMAZE, seed=0, n_envs=16, env_kwargs=LEARNING)
    mlp.learn(24_000)
    memoryless = evaluate(mlp, n_episodes=200, seed=100)
    bound = gym.make(TMAZE, **LEARNING).unwrapped.core.memoryless_return()
    assert solved.success_rate >= 0.9, solved
    assert memoryless.success_rate <= 0.5 + 3 * max(memoryless.success_se, 0.035), memoryless
    assert memoryless.mean_return <= bound + 3 * max(memoryless.return_se, 0.035), memoryless


def test_mean_se_over_seeds_skips_runs_without_a_value():
    from memenvs.baselines.statistics import mean_se

    mean, se = mean_se([1.0, 2.0, 3.0, None, float("nan")])
    assert mean == 2.0 and se == pytest.approx(1.0 / math.sqrt(3))
    assert mean_se([4.0])[0] == 4.0 and math.isnan(mean_se([4.0])[1])
    assert all(math.isnan(x) for x in mean_se([]))


def test_ci95_uses_students_t_and_matches_scipy():
    from memenvs.baselines.statistics import ci95, mean_se

    values = [1.0, 2.0, 4.0, 8.0, 9.0]
    mean, se = mean_se(values)
    low, high = ci95(values)
    assert (low + high) / 2 == pytest.approx(mean) and (high - mean) / se == pytest.approx(2.776)
    assert all(math.isnan(x) for x in ci95([3.0]))
    stats = pytest.importorskip("scipy.stats")
    for n in range(2, 40):
        half = (ci95(range(n))[1] - ci95(range(n))[0]) / 2 / mean_se(range(n))[1]
        assert half == pytest.approx(stats.t.ppf(0.975, n - 1) if n <= 31 else 1.960, abs=1e-3)
