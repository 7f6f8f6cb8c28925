"""Trust-region-guided clipping for recurrent PPO: the per-sample ratio bounds and the update that uses them."""

from __future__ import annotations

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from stable_baselines3.common.logger import configure  # noqa: E402

from memenvs.baselines import make_model  # noqa: E402
from memenvs.baselines.algorithms.trust_region_clip import clip_bounds, kl_to_old, ratio_bounds  # noqa: E402

TMAZE = {"variant": "passive", "length": 4}
PROBS = th.tensor([1e-4, 1e-3, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99], dtype=th.float64)


@pytest.mark.parametrize("delta", [1e-3, 0.02, 0.3])
def test_the_bounds_lie_on_the_trust_region_boundary(delta):
    lower, upper = ratio_bounds(PROBS, delta)
    assert th.all(lower < 1) and th.all(upper > 1)
    # The KL of the old policy to the new one is delta at either bound. Checked where the new probability is
    # resolved in float64: q = p * u within 1e-9 of 1 (p = 0.99 at delta 0.3) or p * l below 1e-30 are not.
    q = PROBS * upper
    resolved = q < 1 - 1e-9
    at_upper = kl_to_old(PROBS[resolved], q[resolved])
    assert resolved.sum() >= 7 and th.allclose(at_upper, th.full_like(at_upper, delta), rtol=1e-6)
    at_lower = kl_to_old(PROBS, PROBS * lower)
    reachable = lower > 1e-30
    assert th.allclose(at_lower[reachable], th.full_like(at_lower[reachable], delta), rtol=1e-6)
    # The rarer the action, the further its probability may rise in proportion.
    assert th.all(upper[:-1] >= upper[1:])


def test_a_rare_action_may_rise_to_about_delta_and_a_likely_one_keeps_ppos_range():
    lower, upper = clip_bounds(th.log(th.tensor([1e-4, 0.997])), clip_range=0.2, delta=0.02)
    assert 150 < upper[0] < 250  # q = 1e-4 * u, about 0.02
    assert lower[1] == pytest.approx(0.8) and upper[1] == pytest.approx(1.2)
    plain_lower, plain_upper = clip_bounds(th.log(th.tensor([1e-4, 0.997])), clip_range=0.2, delta=None)
    assert th.allclose(plain_lower, th.tensor(0.8)) and th.allclose(plain_upper, th.tensor(1.2))


def _params_after_learning(**kwargs):
    model = make_model("gru", "memenvs/TMaze-v0", seed=0, n_envs=4, env_kwargs=TMAZE, n_steps=10, batch_size=20,
                       n_epochs=3, **kwargs)
    model.learn(200)
    return th.cat([p.detach().flatten() for p in model.policy.parameters()])


def test_with_a_vanishing_trust_region_the_update_is_upstreams():
    # The own epochs of trust_region_delta reproduce RecurrentPPO's update (same minibatches, loss, early stop).
    upstream = _params_after_learning(learning_rate=0.05, target_kl=0.05)
    vanishing = _params_after_learning(learning_rate=0.05, target_kl=0.05, trust_region_delta=1e-12)
    widened = _params_after_learning(learning_rate=0.05, target_kl=0.05, trust_region_delta=0.3)
    assert th.equal(upstream, vanishing)
    assert not th.allclose(upstream, widened)


def _ratio_of_rewarded_action(delta):
    """Mean ratio new / old of action 0 after one train() on a rollout where only action 0 has an advantage (+1),
    with plain SGD so that nothing moves a sample once its ratio is clipped."""
    model = make_model("gru", "memenvs/TMaze-v0", seed=0, n_envs=2, env_kwargs=TMAZE, n_steps=10, batch_size=20,
                       n_epochs=30, learning_rate=0.2, normalize_advantage=False, ent_coef=0.0,
                       trust_region_delta=delta, policy_kwargs={"optimizer_class": th.optim.SGD})
    _, callback = model._setup_learn(20, None)
    model.set_logger(configure(None, []))
    callback.on_training_start(locals(), globals())
    model.collect_rollouts(model.env, callback, model.rollout_buffer, n_rollout_steps=model.n_steps)
    buffer = model.rollout_buffer
    buffer.advantages[:] = np.where(buffer.actions[..., 0] == 0, 1.0, 0.0)
    model.train()
    batch = next(buffer.get(None))
    _, log_prob, _ = model.policy.evaluate_actions(batch.observations, batch.actions.long().flatten(),
                                                   batch.lstm_states, batch.episode_starts)
    chosen = batch.actions.flatten() == 0
    ratio = (log_prob.detach() - batch.old_log_prob).exp()[chosen].mean().item()
    return ratio, batch.old_log_prob.exp()[chosen]


def test_a_rewarded_action_rises_past_ppos_clip_to_its_trust_region_bound():
    ppo_ratio, old_prob = _ratio_of_rewarded_action(None)
    widened_ratio, _ = _ratio_of_rewarded_action(0.3)
    bound = ratio_bounds(old_prob, 0.3)[1].mean().item()  # about 2.5 at the initial policy's 0.25
    assert 1.2 <= ppo_ratio < 1.35  # stops at the first step past 1 + clip_range
    assert bound * 0.95 < widened_ratio < bound * 1.15


@pytest.mark.parametrize("value", [0, -0.1, "0.1", True])
def test_bad_trust_region_delta_is_rejected(value):
    with pytest.raises(ValueError, match="trust_region_delta"):
        make_model("lstm", "memenvs/TMaze-v0", n_envs=2, env_kwargs=TMAZE, n_steps=10, trust_region_delta=value)


def test_trust_region_delta_needs_discrete_actions():
    with pytest.raises(ValueError, match="trust_region_delta needs a Discrete action space"):
        make_model("lstm", "memenvs/Navigation2D-v0", n_envs=2, n_steps=10, trust_region_delta=0.02)


def test_the_upstream_buffer_path_clips_per_minibatch_and_learns():
    # sb3-contrib's own policy reads padded minibatches (no packing), whose ranges are solved per minibatch.
    import gymnasium as gym
    from sb3_contrib import RecurrentPPO

    from memenvs.baselines.algorithms.packed_ppo import PackedRecurrentPPO

    env = gym.make("memenvs/TMaze-v0", **TMAZE)
    params = {}
    for delta in (None, 1e-12):
        algo = PackedRecurrentPPO if delta else RecurrentPPO
        extra = {"trust_region_delta": delta} if delta else {}
        model = algo("MlpLstmPolicy", env, n_steps=16, batch_size=8, n_epochs=2, seed=0, learning_rate=0.05,
                     policy_kwargs={"lstm_hidden_size": 8}, **extra)
        model.learn(64)
        params[delta] = th.cat([p.detach().flatten() for p in model.policy.parameters()])
    assert th.allclose(params[None], params[1e-12])
