"""Tests of the fast/slow baseline: per-tower learning rates under SB3's schedule, test-time adaptation with the
muxer frozen, task schedules, save/load."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from sb3_contrib import RecurrentPPO  # noqa: E402
from stable_baselines3 import A2C, PPO  # noqa: E402
from stable_baselines3.common.utils import update_learning_rate  # noqa: E402

from memenvs.baselines import (  # noqa: E402
    FastSlowActorCriticPolicy, FastSlowRecurrentPolicy, FastSlowTowers, block_schedule, evaluate_adapting, make_model,
)
from memenvs.baselines.algorithms.test_time_adaptation import make_task_vec  # noqa: E402
from memenvs.baselines.policies.fast_slow import (  # noqa: E402
    DEFAULT_LR_SCALES, LRScaleMixin, effective_learning_rates, parameter_groups, scaled_optimizer_class,
)
from memenvs.sb3 import make_vec_env  # noqa: E402

TMAZE = "memenvs/TMaze-v0"
SHORT = {"length": 3}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def snapshot(params):
    return [p.detach().clone() for p in params]


def all_equal(a, b):
    return all(th.equal(x, y) for x, y in zip(a, b))


def none_equal(a, b):
    return all(not th.equal(x, y) for x, y in zip(a, b))


def small_model(algo=PPO, optimizer_class=None, lr=1e-3, **kwargs):
    venv = make_vec_env(TMAZE, n_envs=2, seed=0, **SHORT)
    policy_kwargs = {"fast_arch": [16], "slow_arch": [8, 8], "net_arch": [16]}
    if optimizer_class is not None:
        policy_kwargs["optimizer_class"] = optimizer_class
    extra = {"batch_size": 16, "n_epochs": 1} if algo is PPO else {}
    return algo(FastSlowActorCriticPolicy, venv, n_steps=8, learning_rate=lr, policy_kwargs=policy_kwargs, seed=0,
                **extra, **kwargs)


# ------------------------------------------------------------------ structure
def test_towers_and_muxer_partition_the_parameters():
    model = small_model()
    policy = model.policy
    groups = parameter_groups(policy)
    towers = policy.features_extractor
    assert isinstance(towers, FastSlowTowers)
    assert [id(p) for p in groups["fast"]] == [id(p) for p in towers.fast.parameters()]
    assert [id(p) for p in groups["slow"]] == [id(p) for p in towers.slow.parameters()]
    ids = [id(p) for g in groups.values() for p in g]
    assert sorted(ids) == sorted(id(p) for p in policy.parameters())  # each parameter in exactly one group
    assert {id(p) for p in policy.action_net.parameters()} <= {id(p) for p in groups["muxer"]}
    assert policy.features_dim == 16 + 8
    obs = th.rand(5, 3)
    assert th.equal(towers(obs), th.cat([towers.fast(obs), towers.slow(obs)], dim=1))


# ------------------------------------------------------------------ learning rates
@pytest.mark.parametrize("algo", [PPO, A2C])
def test_per_tower_rates_hold_after_many_scheduled_updates(algo):
    def schedule(progress):
        return 1e-3 * progress

    model = small_model(algo, lr=schedule)
    model.learn(400)  # 25 rollouts of 16 steps, each followed by SB3 rewriting every group's lr
    opt = model.policy.optimizer
    base = optimizer_base = {PPO: th.optim.Adam, A2C: th.optim.RMSprop}[algo]
    assert isinstance(opt, optimizer_base) and isinstance(opt, LRScaleMixin)
    assert [g["name"] for g in opt.param_groups] == ["fast", "slow", "muxer"]
    assert [g["lr_scale"] for g in opt.param_groups] == [10.0, 0.1, 1.0]
    current = schedule(model._current_progress_remaining)
    assert current < 1e-3 * 0.2  # the schedule really moved
    assert all(g["lr"] == pytest.approx(current) for g in opt.param_groups)
    rates = effective_learning_rates(opt)
    assert rates == pytest.approx({"fast": 10 * current, "slow": 0.1 * current, "muxer": current})
    del base


def test_controlled_sgd_update_moves_each_group_by_its_multiplier_exactly():
    model = small_model(optimizer_class=th.optim.SGD)
    policy = model.policy
    update_learning_rate(policy.optimizer, 0.01)  # what SB3 does before each update: one lr for every group
    groups = parameter_groups(policy)
    before = {k: snapshot(v) for k, v in groups.items()}
    obs = th.rand(6, 3)
    actions = th.tensor([0, 1, 2, 3, 1, 1])
    values, log_prob, entropy = policy.evaluate_actions(obs, actions)
    policy.optimizer.zero_grad()
    (values.sum() - log_prob.sum() - entropy.sum()).backward()
    grads = {k: [p.grad.clone() for p in v] for k, v in groups.items()}
    policy.optimizer.step()
    for name, scale in DEFAULT_LR_SCALES.items():
        for p, p0, g in zip(groups[name], before[name], grads[name]):
            assert th.allclose(p.detach() - p0, -0.01 * scale * g, atol=1e-7, rtol=1e-4)
    assert all(g["lr"] == 0.01 for g in policy.optimizer.param_groups)  # the step leaves the scheduled rate


def test_controlled_adam_update_moves_towers_by_the_relative_amounts():
    model = small_model()
    policy = model.policy
    update_learning_rate(policy.optimizer, 1e-4)
    groups = parameter_groups(policy)
    before = {k: snapshot(v) for k, v in groups.items()}
    values, log_prob, entropy = policy.evaluate_actions(th.rand(6, 3), th.tensor([0, 1, 2, 3, 1, 1]))
    policy.optimizer.zero_grad()
    (values.sum() - log_prob.sum()).backward()
    grads = {k: th.cat([p.grad.flatten() for p in v]) for k, v in groups.items()}
    policy.optimizer.step()
    for name, scale in DEFAULT_LR_SCALES.items():
        delta = th.cat([(p.detach() - p0).flatten() for p, p0 in zip(groups[name], before[name])])
        big = grads[name].abs() > 1e-3  # Adam's first step is lr * g / (|g| + eps): lr where |g| >> eps = 1e-5
        assert big.sum() > 5
        assert th.allclose(delta[big].abs(), th.full_like(delta[big], 1e-4 * scale), rtol=2e-2)


def test_scaled_optimizer_class_is_cached_and_idempotent():
    cls = scaled_optimizer_class(th.optim.Adam)
    assert scaled_optimizer_class(th.optim.Adam) is cls
    assert scaled_optimizer_class(cls) is cls
    assert cls.__mro__[1:3] == (LRScaleMixin, th.optim.Adam)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr_scales": {"fastest": 1.0}},
        {"lr_scales": {"fast": -1.0}},
        {"lr_scales": {"slow": float("nan")}},
        {"lr_scales": {"slow": "x"}},
        {"fast_arch": []},
        {"slow_arch": [0]},
        {"features_extractor_class": th.nn.Identity},
    ],
)
def test_bad_policy_arguments_raise_value_error(kwargs):
    venv = make_vec_env(TMAZE, n_envs=1, seed=0, **SHORT)
    with pytest.raises(ValueError, match=next(iter(kwargs))[:8]):
        PPO(FastSlowActorCriticPolicy, venv, policy_kwargs=kwargs)


# ------------------------------------------------------------------ test-time adaptation
@pytest.fixture(scope="module")
def trained():
    th.set_num_threads(1)
    model = make_model("fast_slow", TMAZE, seed=0, n_envs=4, env_kwargs=SHORT, n_steps=8, batch_size=32, n_epochs=1)
    model.learn(256)
    return model


def test_adaptation_keeps_muxer_bit_identical_and_moves_the_towers(trained):
    policy = trained.policy
    original = snapshot(policy.parameters())
    result = evaluate_adapting(trained, n_episodes=4, n_envs=4, seed=3, trainable="towers", update_every=4)
    adapted = result.model.policy
    assert result.n_updates > 0
    assert result.returns.shape == (4, 4) and np.isfinite(result.returns).all()
    assert all_equal(snapshot(adapted.muxer_parameters()), snapshot(policy.muxer_parameters()))
    assert none_equal(snapshot(adapted.tower_parameters()), snapshot(policy.tower_parameters()))
    assert all_equal(snapshot(policy.parameters()), original)  # the caller's model is untouched
    assert all(p.requires_grad for p in adapted.parameters())  # freezing is undone afterwards


def test_adapting_everything_moves_the_muxer_and_frozen_moves_nothing(trained):
    policy = trained.policy
    everything = evaluate_adapting(trained, n_episodes=3, n_envs=4, seed=3, trainable="all").model.policy
    assert none_equal(snapshot(everything.muxer_parameters()), snapshot(policy.muxer_parameters()))
    frozen = evaluate_adapting(trained, n_episodes=3, n_envs=4, seed=3, trainable="none")
    assert frozen.n_updates == 0
    assert all_equal(snapshot(frozen.model.policy.parameters()), snapshot(policy.parameters()))


def test_adaptation_is_reproducible_and_leaves_the_file_on_disk_alone(trained, tmp_path):
    path = tmp_path / "model.zip"
    trained.save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    loaded = PPO.load(path)
    loaded.memenvs_spec = trained.memenvs_spec
    a = evaluate_adapting(loaded, n_episodes=3, n_envs=2, seed=7)
    b = evaluate_adapting(loaded, n_episodes=3, n_envs=2, seed=7)
    assert np.array_equal(a.returns, b.returns)
    assert all_equal(snapshot(a.model.policy.parameters()), snapshot(b.model.policy.parameters()))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_adaptation_argument_errors(trained):
    with pytest.raises(ValueError, match="trainable"):
        evaluate_adapting(trained, trainable="muxer")
    with pytest.raises(ValueError, match="update_every"):
        evaluate_adapting(trained, update_every=0)
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate_adapting(trained, n_episodes=0)
    with pytest.raises(ValueError, match="no_such_setting"):
        evaluate_adapting(trained, no_such_setting=1)
    mlp = make_model("mlp", TMAZE, n_envs=2, env_kwargs=SHORT)
    with pytest.raises(ValueError, match="fast/slow"):
        evaluate_adapting(mlp, trainable="towers")


# ------------------------------------------------------------------ task schedules
def test_block_schedule():
    s = block_schedule([{"goal": 0}, {"goal": 1}], 3)
    assert [s(j)["goal"] for j in range(8)] == [0, 0, 0, 1, 1, 1, 0, 0]
    once = block_schedule([{"goal": 0}, {"goal": 1}], 2, cycle=False)
    assert [once(j)["goal"] for j in range(6)] == [0, 0, 1, 1, 1, 1]
    with pytest.raises(ValueError, match="block"):
        block_schedule([{"goal": 0}], 0)


def test_task_schedule_sets_each_copys_episode_goal():
    venv = make_task_vec(TMAZE, 3, 0, {"length": 1}, [], block_schedule([{"goal": 0}, {"goal": 1}], 2))
    inner = venv.unwrapped.venv
    venv.reset()
    goals = [inner.hidden_state()["goal"].copy()]
    for _ in range(4):  # north from the start of a length-1 corridor: east then north ends every episode in 2 steps
        venv.step(np.full(3, 1))
        _, _, dones, _ = venv.step(np.full(3, 0))
        assert dones.all()
        goals.append(inner.hidden_state()["goal"].copy())
    assert [int(g[0]) for g in goals] == [0, 0, 1, 1, 0]
    assert all((g == g[0]).all() for g in goals)


def test_adaptation_records_returns_per_episode_under_a_schedule(trained):
    tasks = block_schedule([{"goal": 0}, {"goal": 1}], 2)
    result = evaluate_adapting(trained, n_episodes=4, n_envs=2, seed=1, tasks=tasks, trainable="none")
    assert result.tasks == ({"goal": 0}, {"goal": 0}, {"goal": 1}, {"goal": 1})
    assert result.episode_mean.shape == (4,)
    summary = result.summary()
    assert summary.n_episodes == 8 and summary.mean_return == pytest.approx(result.returns.mean())


# ------------------------------------------------------------------ save / load
def test_save_load_round_trip_keeps_architecture_multipliers_and_optimizer(tmp_path):
    model = make_model("fast_slow", TMAZE, seed=1, n_envs=2, env_kwargs=SHORT, n_steps=8, batch_size=16,
                       policy_kwargs={"lr_scales": {"fast": 5.0, "slow": 0.2}, "fast_arch": [32]})
    model.learn(64)
    model.save(tmp_path / "m.zip")
    loaded = PPO.load(tmp_path / "m.zip")
    assert isinstance(loaded.policy, FastSlowActorCriticPolicy)
    assert loaded.policy.fast_arch == [32] and loaded.policy.lr_scales == {"fast": 5.0, "slow": 0.2, "muxer": 1.0}
    assert [g["lr_scale"] for g in loaded.policy.optimizer.param_groups] == [5.0, 0.2, 1.0]
    assert isinstance(loaded.policy.optimizer, LRScaleMixin)
    assert all_equal(snapshot(loaded.policy.parameters()), snapshot(model.policy.parameters()))
    a_state = model.policy.optimizer.state_dict()["state"]
    b_state = loaded.policy.optimizer.state_dict()["state"]
    assert a_state.keys() == b_state.keys() and all(th.equal(a_state[k]["exp_avg"], b_state[k]["exp_avg"])
                                                    for k in a_state)
    obs = np.random.default_rng(0).random((5, 3)).astype(np.float32)
    assert np.array_equal(model.predict(obs, deterministic=True)[0], loaded.predict(obs, deterministic=True)[0])
    # The policy on its own too (its constructor arguments carry the towers' sizes and the multipliers).
    model.policy.save(tmp_path / "policy.pt")
    policy = FastSlowActorCriticPolicy.load(tmp_path / "policy.pt")
    assert policy.lr_scales == model.policy.lr_scales and policy.fast_arch == [32]
    assert all_equal(snapshot(policy.parameters()), snapshot(model.policy.parameters()))


# ------------------------------------------------------------------ recurrent trunk
def test_recurrent_policy_uses_the_towers_as_trunk_and_adapts_with_the_core_frozen(tmp_path):
    model = make_model("fast_slow_lstm", TMAZE, seed=0, n_envs=2, env_kwargs={"variant": "passive", "length": 3},
                       n_steps=8, batch_size=16, n_epochs=1, policy_kwargs={"fast_arch": [16], "slow_arch": [16]})
    policy = model.policy
    assert isinstance(model, RecurrentPPO) and isinstance(policy, FastSlowRecurrentPolicy)
    assert policy.lstm_actor.input_size == 32
    core_ids = {id(p) for p in policy.lstm_actor.parameters()}
    assert core_ids <= {id(p) for p in policy.muxer_parameters()}
    assert [g["name"] for g in policy.optimizer.param_groups] == ["fast", "slow", "muxer"]
    model.learn(64)
    assert [g["lr_scale"] for g in policy.optimizer.param_groups] == [10.0, 0.1, 1.0]
    result = evaluate_adapting(model, n_episodes=3, n_envs=2, seed=0, trainable="towers")
    adapted = result.model.policy
    assert result.n_updates > 0
    assert all_equal(snapshot(adapted.muxer_parameters()), snapshot(policy.muxer_parameters()))
    assert none_equal(snapshot(adapted.tower_parameters()), snapshot(policy.tower_parameters()))
    model.save(tmp_path / "r.zip")
    loaded = RecurrentPPO.load(tmp_path / "r.zip")
    assert [g["lr_scale"] for g in loaded.policy.optimizer.param_groups] == [10.0, 0.1, 1.0]
    assert all_equal(snapshot(loaded.policy.parameters()), snapshot(policy.parameters()))
