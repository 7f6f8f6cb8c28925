"""Tests of the meta-LSTM baseline: the previous-action/reward VecEnv wrapper, the recurrent A2C configuration
(equal to SB3's A2C in the feed-forward case), the shared-core policy, and a short two-step reproduction run."""

from __future__ import annotations

import json
import math
import os

import gymnasium as gym
import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from stable_baselines3 import A2C  # noqa: E402
from stable_baselines3.common.vec_env import DummyVecEnv  # noqa: E402

import memenvs  # noqa: E402,F401
from memenvs.baselines import make_model, resolve  # noqa: E402
from memenvs.baselines.algorithms.recurrent_a2c import RecurrentA2C, WholeSequenceRolloutBuffer  # noqa: E402
from memenvs.baselines.experiments.two_step import play_frozen, reproduce_two_step  # noqa: E402
from memenvs.baselines.policies.cores import MemoryCore  # noqa: E402
from memenvs.baselines.policies.memory_policy import MemoryActorCriticPolicy  # noqa: E402
from memenvs.baselines.policies.meta_lstm import MetaLSTMPolicy  # noqa: E402
from memenvs.baselines.vec_wrappers import WRAPPERS, VecPreviousActionReward  # noqa: E402
from memenvs.sb3 import make_vec_env  # noqa: E402
from memenvs.wrappers import PreviousActionReward  # noqa: E402

TWO_STEP = "memenvs/TwoStep-v0"


pytestmark = pytest.mark.usefixtures("torch_one_thread")


# ---------------------------------------------------------------------------------------------------- the wrapper
def test_wrapper_feeds_previous_action_and_reward_by_hand():
    venv = VecPreviousActionReward(make_vec_env(TWO_STEP, n_envs=2, seed=0, n_trials=2), timestep=True)
    assert venv.observation_space.shape == (3 + 2 + 1 + 1,)
    assert venv.max_steps == 4  # two trials of two steps, read from the core
    obs = venv.reset()
    assert obs.tolist() == [[1, 0, 0, 0, 0, 0, 0]] * 2
    # Stage 1: copy 0 goes left, copy 1 right; no reward yet, t = 1.
    obs, r, done, _ = venv.step(np.array([0, 1]))
    assert r.tolist() == [0, 0] and not done.any()
    assert obs[:, 3:].tolist() == [[1, 0, 0, 0.25], [0, 1, 0, 0.25]]
    assert (obs[:, 0] == 0).all()  # both in a stage-2 state
    # Stage 2: the reward of this step shows up as the previous reward.
    obs, r, done, _ = venv.step(np.array([1, 0]))
    assert obs[:, 3:5].tolist() == [[0, 1], [1, 0]]
    assert obs[:, 5].tolist() == r.tolist() and obs[:, 6].tolist() == [0.5, 0.5]
    assert obs[:, :3].tolist() == [[1, 0, 0]] * 2
    venv.step(np.array([1, 1]))
    obs, r, done, infos = venv.step(np.array([0, 1]))
    assert done.all()
    # The returned observation starts the next episode: nothing happened before it.
    assert obs.tolist() == [[1, 0, 0, 0, 0, 0, 0]] * 2
    # The terminal observation keeps the finished episode's last action, reward and time.
    for i, a in enumerate((0, 1)):
        term = infos[i]["terminal_observation"]
        assert term[3:5].tolist() == [1 - a, a] and term[5] == r[i] and term[6] == 1.0
    # And the next step counts from the new start.
    obs, *_ = venv.step(np.array([1, 1]))
    assert obs[:, 3:].tolist() == [[0, 1, 0, 0.25]] * 2


def test_wrapper_matches_the_single_env_wrapper_through_episodes():
    # A batch of one draws what the single env draws; both wrappers share augment_observation, so the streams of
    # augmented observations must agree step by step, across an episode boundary.
    venv = VecPreviousActionReward(make_vec_env(TWO_STEP, n_envs=1, seed=3, n_trials=3), timestep=True)
    env = PreviousActionReward(gym.make(TWO_STEP, n_trials=3), timestep=True)
    actions = np.random.default_rng(0).integers(0, 2, size=15)
    obs_v = venv.reset()
    obs_s, _ = env.reset(seed=3)
    np.testing.assert_array_equal(obs_v[0], obs_s)
    for a in actions:
        obs_v, r_v, done, infos = venv.step(np.array([a]))
        obs_s, r_s, term, trunc, _ = env.step(int(a))
        assert r_v[0] == r_s
        if term or trunc:
            np.testing.assert_array_equal(infos[0]["terminal_observation"], obs_s)
            obs_s, _ = env.reset()
        np.testing.assert_array_equal(obs_v[0], obs_s)


def test_wrapper_reset_starts_fresh_and_checks_input():
    venv = VecPreviousActionReward(make_vec_env(TWO_STEP, n_envs=3, seed=0), timestep=False)
    assert venv.observation_space.shape == (6,)
    venv.reset()
    venv.step(np.array([1, 1, 0]))
    obs, *_ = venv.step(np.array([0, 1, 0]))
    assert obs[:, 3:5].sum() == 3
    obs = venv.reset()  # mid-episode reset: no previous action or reward
    assert (obs[:, 3:] == 0).all()
    with pytest.raises(ValueError, match="max_steps"):
        VecPreviousActionReward(make_vec_env(TWO_STEP, n_envs=1), max_steps=0)
    with pytest.raises(ValueError, match="Discrete"):
        VecPreviousActionReward(DummyVecEnv([lambda: gym.make("Pendulum-v1")]))
    assert WRAPPERS["prev_action_reward"] is VecPreviousActionReward


def test_wrapper_flattens_grid_observations():
    inner = make_vec_env("memenvs/RandomMaze-v0", n_envs=2, seed=0)
    shape = inner.observation_space.shape
    venv = VecPreviousActionReward(inner, timestep=True)
    n = inner.action_space.n
    assert venv.observation_space.shape == (int(np.prod(shape)) + n + 2,)
    raw = inner.reset()
    obs = venv.reset()
    assert obs.shape == (2, int(np.prod(shape)) + n + 2)
    obs, *_ = venv.step(np.array([1, 2]))
    assert obs[:, -n - 2:-2].argmax(axis=1).tolist() == [1, 2] and raw.shape[1:] == shape


# ------------------------------------------------------------------------------------- recurrent A2C is A2C
class PassThrough(MemoryCore):
    """A memory core that forgets: output = input, state carried unchanged. Makes a recurrent policy feed-forward."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, width: int = 0) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.output_size = input_size

    @classmethod
    def output_size_for(cls, hidden_size: int, width: int = 0) -> int:
        return width

    def forward(self, x, state):
        return x, state


def test_recurrent_a2c_update_equals_sb3_a2c_in_the_feed_forward_case():
    n_envs, n_steps, arch = 3, 24, {"pi": [16], "vf": [16]}
    settings = dict(learning_rate=7e-4, n_steps=n_steps, gamma=0.9, ent_coef=0.05, vf_coef=0.05,
                    max_grad_norm=math.inf, rms_prop_eps=1e-5, seed=0, device="cpu")
    a2c = A2C("MlpPolicy", make_vec_env(TWO_STEP, n_envs=n_envs, seed=0, n_trials=5), gae_lambda=1.0,
              normalize_advantage=False, policy_kwargs={"net_arch": arch}, **settings)
    rec = RecurrentA2C(MetaLSTMPolicy, make_vec_env(TWO_STEP, n_envs=n_envs, seed=0, n_trials=5),
                       policy_kwargs={"core": PassThrough, "core_kwargs": {"width": 3}, "lstm_hidden_size": 1,
                                      "net_arch": arch, "shared_lstm": True, "enable_critic_lstm": False},
                       **settings)
    missing, unexpected = rec.policy.load_state_dict(a2c.policy.state_dict(), strict=False)
    assert not missing and not unexpected  # the same parameters, by name; the pass-through core has none
    before = {k: v.clone() for k, v in a2c.policy.state_dict().items()}
    for model in (a2c, rec):
        th.manual_seed(123)  # the same action samples in both rollouts
        model.learn(n_steps * n_envs)
    # Same rollouts (both buffers are flattened copy-major by now).
    np.testing.assert_array_equal(rec.rollout_buffer.actions, a2c.rollout_buffer.actions)
    np.testing.assert_array_equal(rec.rollout_buffer.returns, a2c.rollout_buffer.returns)
    a2c_params, rec_params = a2c.policy.state_dict(), rec.policy.state_dict()
    moved = 0.0
    for name, value in a2c_params.items():
        # Equal up to float summation order (A2C's buffer shuffles rows, the recurrent one keeps sequences).
        np.testing.assert_allclose(rec_params[name].numpy(), value.numpy(), rtol=0, atol=1e-7, err_msg=name)
        moved = max(moved, float((value - before[name]).abs().max()))
    assert moved > 1e-4  # an update did happen (RMSprop's first step is about lr / sqrt(1 - alpha) = 7e-3)
    # Same optimiser state: RMSprop's square averages agree too.
    sq_a = sorted(float(s["square_avg"].sum()) for s in a2c.policy.optimizer.state.values())
    sq_r = sorted(float(s["square_avg"].sum()) for s in rec.policy.optimizer.state.values())
    np.testing.assert_allclose(sq_r, sq_a, rtol=1e-4)


def test_recurrent_a2c_refuses_ppo_settings():
    venv = make_vec_env(TWO_STEP, n_envs=2, seed=0)
    kwargs = {"core": "lstm", "lstm_hidden_size": 8, "shared_lstm": True, "enable_critic_lstm": False}
    with pytest.raises(ValueError, match="n_epochs"):
        RecurrentA2C(MetaLSTMPolicy, venv, n_epochs=4, policy_kwargs=kwargs)
    with pytest.raises(ValueError, match="batch_size"):
        RecurrentA2C(MetaLSTMPolicy, venv, n_steps=10, batch_size=5, policy_kwargs=kwargs)
    model = RecurrentA2C(MetaLSTMPolicy, venv, n_steps=10, batch_size=20, policy_kwargs=kwargs)
    assert model.batch_size == 20 and model.n_epochs == 1 and model.gae_lambda == 1.0
    assert not model.normalize_advantage and isinstance(model.rollout_buffer, WholeSequenceRolloutBuffer)
    opt = model.policy.optimizer
    assert isinstance(opt, th.optim.RMSprop)
    assert opt.defaults["alpha"] == 0.99 and opt.defaults["eps"] == 1e-5 and opt.defaults["lr"] == 7e-4


# --------------------------------------------------------------------------- the meta-LSTM configuration
def test_meta_lstm_baseline_row_and_model():
    record = resolve("meta_lstm", TWO_STEP)
    assert record.algorithm == "RecurrentA2C" and record.wrappers == (("prev_action_reward", {"timestep": True}),)
    model = make_model("meta_lstm", TWO_STEP, seed=0, n_envs=2)
    assert isinstance(model, RecurrentA2C) and isinstance(model.policy, MetaLSTMPolicy)
    assert model.policy.lstm_actor.hidden_size == 48 and model.policy.lstm_critic is None
    assert (model.gamma, model.ent_coef, model.vf_coef, model.max_grad_norm) == (0.9, 0.05, 0.05, math.inf)
    assert model.n_steps == 200 and model.observation_space.shape == (7,)
    # Usable beyond the two-step task: the PPO family rows of other envs do not leak PPO epochs into it.
    tmaze = make_model("meta_lstm", "memenvs/TMaze-v0", seed=0, n_envs=2, env_kwargs={"length": 4})
    assert tmaze.n_epochs == 1 and tmaze.batch_size == tmaze.n_steps * 2
    tmaze.learn(2 * tmaze.n_steps)


def test_two_passes_rebuild_the_rollout_and_the_value_loss_trains_the_core():
    model = make_model("meta_lstm", TWO_STEP, seed=1, n_envs=2, n_steps=40)
    model.learn(80)  # one rollout + one update; then collect a fresh rollout without training on it
    from stable_baselines3.common.callbacks import BaseCallback

    class Noop(BaseCallback):
        def _on_step(self) -> bool:
            return True

    cb = Noop()
    cb.init_callback(model)
    model.collect_rollouts(model.env, cb, model.rollout_buffer, n_rollout_steps=model.n_steps)
    (batch,) = list(model.rollout_buffer.get(model.batch_size))
    # One sequence per copy, as in the rollout (no random cut): the whole-sequence pass covers whole rollouts.
    assert len(model.rollout_buffer.seq_start_indices) == 2
    mask = batch.mask > 1e-8
    values, log_prob, _ = model.policy.evaluate_actions(batch.observations, batch.actions.long().flatten(),
                                                        batch.lstm_states, batch.episode_starts)
    # The second pass (training) rebuilds the first (acting): same log-probabilities and values.
    np.testing.assert_allclose(log_prob[mask].detach().numpy(), batch.old_log_prob[mask].numpy(), atol=1e-5)
    np.testing.assert_allclose(values.flatten()[mask].detach().numpy(), batch.old_values[mask].numpy(), atol=1e-5)
    # The value loss reaches the shared LSTM here; upstream's shared_lstm detaches it.
    model.policy.zero_grad()
    ((batch.returns - values.flatten())[mask] ** 2).mean().backward()
    assert model.policy.lstm_actor.rnn.weight_hh_l0.grad.abs().sum() > 0
    model.policy.zero_grad()
    values, _, _ = MemoryActorCriticPolicy.evaluate_actions(model.policy, batch.observations,
                                                            batch.actions.long().flatten(), batch.lstm_states,
                                                            batch.episode_starts)
    ((batch.returns - values.flatten())[mask] ** 2).mean().backward()
    grad = model.policy.lstm_actor.rnn.weight_hh_l0.grad
    assert grad is None or grad.abs().sum() == 0


# ----------------------------------------------------------------------------------- the reproduction
def test_short_two_step_reproduction_runs_and_analyses(tmp_path):
    out, work = str(tmp_path / "out"), str(tmp_path / "work")
    kw = dict(n_envs=4, out=out, workdir=work, eval_episodes=20, checkpoint_every=4, progress_bar=False,
              tensorboard=False)
    result = reproduce_two_step(episodes=8, **kw)
    assert result["episodes_trained"] == 8 and result["updates"] == 2
    ev = result["evaluation"]
    assert ev["n_episodes"] == 20 and 0 <= ev["return_mean"] <= 100
    for case in ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare"):
        assert 0.0 <= ev[case]["stay"] <= 1.0 and ev[case]["pairs"] > 0
    assert sum(ev[c]["pairs"] for c in ("rewarded_common", "rewarded_rare", "unrewarded_common",
                                        "unrewarded_rare")) == 20 * 99
    assert [a["episodes"] for a in result["along_training"]] == [4, 8]
    for name in ("two_step_meta_lstm.png", "two_step_meta_lstm_training.png", "two_step_meta_lstm.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    with open(os.path.join(out, "two_step_meta_lstm.json")) as f:
        assert json.load(f)["episodes_trained"] == 8
    # Resuming continues from the last checkpoint instead of starting over.
    again = reproduce_two_step(episodes=12, resume=True, eval_checkpoints=False, **kw)
    assert again["episodes_trained"] == 12 and again["updates"] == 3


def test_play_frozen_records_whole_episodes():
    model = make_model("meta_lstm", TWO_STEP, seed=0, n_envs=1)
    run = play_frozen(model, n_episodes=5, seed=7)
    assert run.record.n_episodes == 5 and len(run.record) == 500
    assert (np.bincount(run.record.episode, weights=run.record.reward) == run.returns).all()
    assert run.record.trial.tolist() == list(range(1, 101)) * 5
    # Sampling is seeded: the same call gives the same trials, and the caller's torch generator is untouched.
    th.manual_seed(0)
    expected = th.rand(1)
    th.manual_seed(0)
    again = play_frozen(model, n_episodes=5, seed=7)
    assert th.rand(1) == expected
    np.testing.assert_array_equal(again.record.action1, run.record.action1)
    other = play_frozen(model, n_episodes=5, seed=8)
    assert not np.array_equal(other.record.action1, run.record.action1)


def test_cli_forwards_to_the_reproduction(monkeypatch):
    from memenvs import cli
    from memenvs.baselines.experiments import two_step

    calls = []
    monkeypatch.setattr(two_step, "reproduce_two_step", lambda **kw: calls.append(kw))
    assert cli.main(["reproduce", "two-step", "--episodes", "7", "--max-minutes", "1.5", "--no-progress"]) == 0
    assert calls and calls[0]["episodes"] == 7 and calls[0]["max_minutes"] == 1.5
    assert calls[0]["progress_bar"] is False and calls[0]["n_envs"] == 1


def test_every_registered_reproduction_runs_from_the_cli(monkeypatch, capsys):
    import importlib

    from memenvs import cli
    from memenvs.baselines import experiments

    help_text = cli.build_parser()._subparsers._group_actions[0].choices["reproduce"].format_help()
    help_text = "".join(help_text.split())  # argparse wraps lines (also at hyphens) to the terminal's width
    for name, module_name in experiments.EXPERIMENTS.items():
        assert name in help_text
        module = importlib.import_module(f"memenvs.baselines.experiments.{module_name}")
        calls = []
        monkeypatch.setattr(module, "main", lambda argv, calls=calls: calls.append(argv))
        for spelling in (name, name.replace("-", "_")):
            assert cli.main(["reproduce", spelling, "--seeds", "3"]) == 0
        assert calls == [["--seeds", "3"]] * 2
    assert cli.main(["reproduce", "two-stp"]) == 2
    err = capsys.readouterr().err
    assert "two-stp" in err and all(name in err for name in experiments.EXPERIMENTS)
