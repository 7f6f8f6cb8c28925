"""Training defaults that hold the whole episode, success as the env defines it, periodic evaluation, and PPO's
junction trap on the passive T-maze (docs/results/ppo_junction_trap.md)."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th

pytest.importorskip("stable_baselines3")
pytest.importorskip("sb3_contrib")

import memenvs  # noqa: E402,F401
from memenvs.baselines import BASELINES, PeriodicEvaluation, evaluate, make_model, resolve  # noqa: E402
from memenvs.baselines.compare import plan  # noqa: E402
from memenvs.baselines.hyperparams import tmaze_episode_steps  # noqa: E402
from memenvs.baselines.policies.distributions import ball_logits, probability_range  # noqa: E402

TMAZE = "memenvs/TMaze-v0"
ROLLOUT_BASELINES = [name for name in BASELINES if "n_steps" in resolve(name, TMAZE).algo_kwargs]


# ------------------------------------------------------------------ rollouts hold whole episodes
@pytest.mark.parametrize("variant", ["passive", "active", "bakker", "bakker_active"])
@pytest.mark.parametrize("length", [1, 8, 31, 32, 50, 100, 333, 1000])
def test_tmaze_rollouts_hold_a_whole_episode(variant, length):
    """A rollout shorter than the episode splits every episode between rollouts: no back-propagation sequence holds
    both the cue and the junction (the former default n_steps=32 made memory unlearnable beyond length 31)."""
    kwargs = {"variant": variant, "length": length}
    episode = gym.make(TMAZE, **kwargs).unwrapped.core.optimal_steps
    assert tmaze_episode_steps(kwargs) == episode
    for name in ROLLOUT_BASELINES:
        n_steps = resolve(name, TMAZE, kwargs).algo_kwargs["n_steps"]
        assert n_steps >= episode, (name, n_steps, episode)
        if variant in ("passive", "active"):  # fixed horizon: rollouts cut at episode boundaries only
            assert n_steps % episode == 0, (name, n_steps, episode)
        if length == 50 and name in ("mlp", "gru"):  # what make_model builds is what resolve says
            assert make_model(name, TMAZE, n_envs=2, env_kwargs=kwargs, batch_size=16).n_steps == n_steps


def test_tmaze_budget_grows_with_the_corridor_and_compare_uses_it():
    steps = [resolve("lstm", TMAZE, {"variant": "passive", "length": n}).steps for n in (8, 20, 50, 100, 200)]
    assert all(a < b for a, b in zip(steps, steps[1:])), steps
    runs = plan(envs=[f"{TMAZE}:variant=passive"], baselines=["mlp"], seeds=[0], sweep="length=10,100")
    by_length = {r.env_kwargs["length"]: r.steps for r in runs}
    assert by_length[100] == resolve("mlp", TMAZE, {"variant": "passive", "length": 100}).steps > by_length[10]
    maze = plan(envs=["memenvs/RandomMaze-v0:size=3"], baselines=["mlp"], seeds=[0])
    assert maze[0].steps == 24_000  # no family budget: the comparison's default
    explicit = plan(envs=[f"{TMAZE}:variant=passive,length=100"], baselines=["mlp"], seeds=[0], steps=1234)
    assert explicit[0].steps == 1234


def test_tmaze_dqn_budget_per_step_grows_beyond_length_100_and_the_lstm_buffer_holds_the_run():
    """Recurrent DQN: 10,000 steps per step of the episode up to length 100, then that times length / 100 (the
    length-200 runs of the acceptance sweep used 4.02M); lstm_dqn's buffer holds the whole run."""
    for length, steps in ((10, 110_000), (100, 1_010_000), (150, 2_265_000), (200, 4_020_000)):
        kwargs = {"variant": "passive", "length": length}
        for name in ("mlp_dqn", "lstm_dqn", "gru_dqn"):
            assert resolve(name, TMAZE, kwargs).steps == steps, (name, length)
        assert resolve("lstm_dqn", TMAZE, kwargs).algo_kwargs["buffer_size"] == steps
    assert resolve("lstm", TMAZE, {"variant": "passive", "length": 200}).steps == 5000 * 201  # PPO's unchanged


def test_tmaze_recurrent_ppo_entropy_shrinks_with_the_episode():
    """The recurrent T-maze PPO baselines' ent_coef is 0.01 up to length 29, then 0.3 / (length + 1) up to length
    100, so ent_coef times the episode's steps (what sets the share of sampled episodes that stay on schedule) stops
    growing, and length 100's value beyond; the feed-forward PPO baselines keep 0.01, A2C's meta-LSTM and the
    fast/slow baselines their own."""
    for length in (1, 10, 20, 29, 30, 50, 100, 101, 200, 1000):
        kwargs = {"variant": "passive", "length": length}
        want = min(0.01, 0.3 / (min(length, 100) + 1))
        for name in ("lstm", "gru", "iam"):
            assert resolve(name, TMAZE, kwargs).algo_kwargs["ent_coef"] == pytest.approx(want), (name, length)
        for name in ("mlp", "framestack", "oracle"):
            assert resolve(name, TMAZE, kwargs).algo_kwargs["ent_coef"] == 0.01
        assert resolve("meta_lstm", TMAZE, kwargs).algo_kwargs["ent_coef"] == 0.05
        assert resolve("fast_slow", TMAZE, kwargs).algo_kwargs["ent_coef"] == 0.05
    lengths = (30, 50, 75, 100)
    products = [resolve("lstm", TMAZE, {"variant": "passive", "length": n}).algo_kwargs["ent_coef"] * (n + 1)
                for n in lengths]
    assert products == pytest.approx([0.3] * len(lengths))


def test_tmaze_final_evaluation_resolves_the_memoryless_bound():
    """A memoryless policy's success is the share of its arm among the evaluated goals: over 100 episodes its
    standard error (0.05) is as wide as the band around 0.5 a result is read against, so the T-maze family evaluates
    the final policy on 1,000 episodes unless told otherwise; other families keep the comparison's 100."""
    runs = plan(envs=[f"{TMAZE}:variant=passive,length=10", "memenvs/RandomMaze-v0:size=3"],
                baselines=["mlp", "gru_dqn"], seeds=[0])
    episodes = {(r.env_id, r.baseline): r.eval_episodes for r in runs}
    assert episodes[(TMAZE, "mlp")] == episodes[(TMAZE, "gru_dqn")] == 1_000
    assert episodes[("memenvs/RandomMaze-v0", "mlp")] == 100
    assert plan(envs=[TMAZE], baselines=["mlp"], seeds=[0], eval_episodes=7)[0].eval_episodes == 7
    share = evaluate(JunctionNorth(), TMAZE, n_episodes=1_000, seed=10_000, env_kwargs={"variant": "passive",
                                                                                        "length": 10})
    assert abs(share.success_rate - 0.5) < 0.05 and share.success_se < 0.02


# ------------------------------------------------------------------ success is the env's
class Constant:
    """A policy that always takes the same action (a stand-in for a trained model)."""

    def __init__(self, action: int) -> None:
        self.action = action

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return np.full(len(obs), self.action), state


class JunctionNorth:
    """East along the corridor, north at the junction of Ni et al.'s passive T-maze."""

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return np.where(obs[:, 0] == 1.0, 0, 1), state


def test_timeouts_score_success_zero_and_envs_without_success_report_na():
    # west forever never reaches an arm: every episode of Bakker's T-maze is truncated
    stuck = evaluate(Constant(3), TMAZE, n_episodes=6, env_kwargs={"variant": "bakker", "length": 4})
    assert stuck.success_rate == 0.0 and stuck.success_se == 0.0
    # the passive T-maze always ends at its horizon; standing in the corridor is a failure
    walker = evaluate(Constant(1), TMAZE, n_episodes=6, env_kwargs={"variant": "passive", "length": 4})
    assert walker.success_rate == 0.0 and walker.mean_return == 0.0
    # the memoryless optimum: east, then north at the junction (observation (1, 0)): right half the time
    guess = evaluate(JunctionNorth(), TMAZE, n_episodes=200, env_kwargs={"variant": "passive", "length": 4})
    assert 0.35 < guess.success_rate < 0.65 and guess.success_rate == guess.mean_return
    # an env whose info has no success: n/a (nan), not 0
    none = evaluate(Constant(0), "memenvs/Warehouse-v0", n_episodes=2, n_envs=2, env_kwargs={"max_steps": 5})
    assert math.isnan(none.success_rate) and "success n/a" in str(none)


# ------------------------------------------------------------------ periodic evaluation
@pytest.mark.parametrize("baseline", ["mlp", "gru"])
def test_periodic_evaluation_records_best_and_final_without_changing_training(baseline):
    kwargs = {"variant": "passive", "length": 3}
    plain = make_model(baseline, TMAZE, seed=0, n_envs=4, env_kwargs=kwargs, n_steps=8, batch_size=16, n_epochs=1)
    plain.learn(96)
    watched = make_model(baseline, TMAZE, seed=0, n_envs=4, env_kwargs=kwargs, n_steps=8, batch_size=16, n_epochs=1)
    periodic = PeriodicEvaluation(every=32, n_episodes=4, seed=5)
    watched.learn(96, callback=periodic)
    assert [p["steps"] for p in periodic.points] == [32, 64, 96]
    assert periodic.best in periodic.points
    assert all(0.0 <= p["success"] <= 1.0 for p in periodic.points)
    for a, b in zip(plain.policy.parameters(), watched.policy.parameters()):
        assert th.equal(a, b)  # evaluating draws nothing from training's random streams
    final = evaluate(watched, n_episodes=4, seed=5)
    assert periodic.points[-1]["return"] == final.mean_return


def test_periodic_evaluation_works_off_policy():
    from stable_baselines3 import DQN

    from memenvs.sb3 import make_vec_env

    model = DQN("MlpPolicy", make_vec_env(TMAZE, n_envs=2, seed=0, variant="passive", length=3), learning_starts=16,
                train_freq=4, buffer_size=100, seed=0)
    periodic = PeriodicEvaluation(every=20, n_episodes=2, env_id=TMAZE, env_kwargs={"variant": "passive", "length": 3})
    model.learn(60, callback=periodic)
    steps = [p["steps"] for p in periodic.points]
    assert steps[:3] == [20, 40, 60] and steps[-1] == model.num_timesteps and periodic.best is not None
    with pytest.raises(ValueError, match="every"):
        PeriodicEvaluation(every=0)


# ------------------------------------------------------------------ bounded logits
def test_ball_logits_bound_every_probability_and_keep_the_greedy_action():
    logits = th.tensor([[30.0, 0.0, -5.0, 1.0], [0.1, 0.2, 0.0, 0.0], [0.0, 0.0, 0.0, -40.0]])
    bounded = ball_logits(logits, 4.0)
    probs = th.softmax(bounded, -1)
    low, high = probability_range(4.0, 4)
    assert (probs >= low - 1e-6).all() and (probs <= high + 1e-6).all()
    assert th.equal(bounded.argmax(-1), logits.argmax(-1))
    assert th.allclose(bounded[1], logits[1] - logits[1].mean())  # inside the ball: only centred
    # a rarely sampled action, once sampled, still moves the logits; behind a probability floor it would not
    z = logits[:1].clone().requires_grad_(True)
    th.log_softmax(ball_logits(z, 4.0), -1)[0, 2].backward()
    assert z.grad.abs().max() > 0.01
    floor = logits[:1].clone().requires_grad_(True)
    th.log(0.9 * th.softmax(floor, -1) + 0.1 / 4)[0, 2].backward()
    assert floor.grad.abs().max() < 1e-9


# ------------------------------------------------------------------ the uniform-KL bonus and the critic's time
def test_uniform_kl_bonus_is_zero_at_uniform_and_keeps_its_gradient_where_the_entropy_loses_it():
    from memenvs.baselines.policies.distributions import CategoricalPolicyDistribution

    def bonus_grad(kind, logits):
        z = th.tensor(logits, requires_grad=True)
        dist = CategoricalPolicyDistribution(4, entropy_bonus=kind).proba_distribution(z[None])
        dist.entropy().sum().backward()
        return dist.entropy().item(), z.grad

    value, _ = bonus_grad("uniform_kl", [0.3, 0.3, 0.3, 0.3])
    assert value == pytest.approx(0.0, abs=1e-6)
    value, grad = bonus_grad("uniform_kl", [0.0, 20.0, 0.0, 0.0])  # east saturated, as in the junction trap
    p = th.softmax(th.tensor([0.0, 20.0, 0.0, 0.0]), -1)
    assert value == pytest.approx(float(th.log(p).mean() + math.log(4)), rel=1e-5)
    assert th.allclose(grad, 0.25 - p, atol=1e-6)  # d/dz (mean log p) = 1/n - p: north still pulled up by ~1/4
    _, entropy_grad = bonus_grad("entropy", [0.0, 20.0, 0.0, 0.0])
    assert entropy_grad.abs().max() < 1e-6
    with pytest.raises(ValueError, match="entropy_bonus must be one of entropy, uniform_kl"):
        make_model("mlp", TMAZE, n_envs=2, policy_kwargs={"entropy_bonus": "kl"})


def test_time_feature_counts_steps_and_restarts_with_each_episode():
    from memenvs.baselines.vec_wrappers import VecTimeFeature
    from memenvs.sb3 import make_vec_env

    venv = VecTimeFeature(make_vec_env(TMAZE, n_envs=2, seed=0, variant="passive", length=3))
    horizon = 4  # Ni et al.'s fixed horizon: length + 1
    obs = venv.reset()
    assert obs.shape == (2, 3) and venv.observation_space.shape == (3,) and np.all(obs[:, -1] == 0.0)
    for t in range(1, horizon + 1):
        obs, _, done, infos = venv.step(np.array([1, 3]))
        if t < horizon:
            assert not done.any() and np.allclose(obs[:, -1], t / horizon)
    assert done.all() and np.all(obs[:, -1] == 0.0)
    assert all(info["terminal_observation"][-1] == 1.0 for info in infos)
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        VecTimeFeature(make_vec_env(TMAZE, n_envs=1, seed=0), max_steps=0)


@pytest.mark.parametrize("baseline", ["mlp", "lstm"])
def test_the_critic_alone_sees_the_time(baseline, tmp_path):
    """The T-maze's PPO baselines append t / max_steps for the critic; the actor sees it as 0, so the policy stays
    what its name says (the MLP memoryless) and the value can follow the time."""
    kwargs = {"variant": "passive", "length": 4}
    record = resolve(baseline, TMAZE, kwargs)
    assert record.policy_kwargs["critic_only_features"] == 1 and record.wrappers[-1][0] == "time_feature"
    model = make_model(baseline, TMAZE, seed=0, n_envs=2, env_kwargs=kwargs)
    with th.no_grad():  # make the time matter to both extractors, as training would
        for layer in model.policy.modules():
            if isinstance(layer, th.nn.Linear):
                layer.weight.normal_()
    early, late = th.tensor([[0.0, 0.0, 0.1]]), th.tensor([[0.0, 0.0, 0.9]])
    start = th.ones(1)

    def actor_and_critic(policy, obs):
        if baseline == "mlp":
            return policy.get_distribution(obs).distribution.probs, policy.predict_values(obs)
        states = model._last_lstm_states  # shapes only: zeros are the episode start
        zero = tuple(th.zeros_like(s[:, :1]) for s in states.pi)
        return (policy.get_distribution(obs, zero, start)[0].distribution.probs,
                policy.predict_values(obs, tuple(th.zeros_like(s[:, :1]) for s in states.vf), start))

    with th.no_grad():
        probs_early, value_early = actor_and_critic(model.policy, early)
        probs_late, value_late = actor_and_critic(model.policy, late)
    assert th.equal(probs_early, probs_late) and not th.allclose(value_early, value_late)
    model.save(tmp_path / "m.zip")
    loaded = type(model).load(tmp_path / "m.zip")
    assert loaded.policy.critic_only_features == 1 and loaded.policy.entropy_bonus == "uniform_kl"
    with th.no_grad():
        assert th.equal(actor_and_critic(loaded.policy, late)[0], probs_late)


def test_critic_only_features_rejects_bad_values():
    for bad, message in [(-1, "integer >= 0"), (True, "integer >= 0"), (3, "smaller than the observation's 3")]:
        with pytest.raises(ValueError, match=message):
            make_model("mlp", TMAZE, n_envs=2, env_kwargs={"variant": "passive", "length": 4},
                       policy_kwargs={"critic_only_features": bad})
    with pytest.raises(ValueError, match="share_features_extractor=False"):
        make_model("mlp", TMAZE, n_envs=2, env_kwargs={"variant": "passive", "length": 4},
                   policy_kwargs={"share_features_extractor": True})


# ------------------------------------------------------------------ the junction trap
PLAIN = {"entropy_bonus": "entropy", "critic_only_features": 0}


def trained_from_the_trap(policy_kwargs=None):
    """The MLP on a passive T-maze of length 4, started in the trap's state (east saturated everywhere, as PPO leaves
    it once the corridor is learned before the junction is ever reached), then trained 6,000 steps at the family's
    initial learning rate held constant (the family decays it to 0 over a budget four times longer; this test is
    about the action distribution, so the 6,000 steps are all taken at full rate). ``policy_kwargs`` replace the
    family's (``PLAIN``: SB3's categorical, its entropy bonus, a critic without the time)."""
    kwargs = {"variant": "passive", "length": 4}
    lr = resolve("mlp", TMAZE, kwargs).algo_kwargs["learning_rate"]
    lr = float(lr.removeprefix("lin_")) if isinstance(lr, str) else lr
    wrappers = [] if policy_kwargs == PLAIN else None
    model = make_model("mlp", TMAZE, seed=0, n_envs=16, env_kwargs=kwargs, policy_kwargs=policy_kwargs,
                       wrappers=wrappers, learning_rate=lr)
    with th.no_grad():
        model.policy.action_net.bias[:] = th.tensor([0.0, 20.0, 0.0, 0.0])
    model.learn(6_000)
    junction = th.zeros((1, *model.observation_space.shape))
    junction[0, 0] = 1.0  # Ni et al.'s junction reads (1, 0); a time feature, if any, follows
    with th.no_grad():
        probs = model.policy.get_distribution(junction).distribution.probs[0]
    return float(probs[1]), evaluate(model, n_episodes=100, seed=1)


def test_family_defaults_leave_the_junction_trap():
    """PPO's junction trap (docs/results/ppo_junction_trap.md): with p(east | junction) = 1 north and south are
    never sampled, and the entropy's gradient vanishes there, so nothing moves it. With the T-maze defaults (the
    uniform-KL bonus, the critic told the time) the MLP reaches the memoryless bound (success 0.5); the plain
    categorical stays in the trap (return 0)."""
    assert resolve("mlp", TMAZE).policy_kwargs.get("entropy_bonus") == "uniform_kl"
    east, result = trained_from_the_trap()
    assert east < 0.5 and result.success_rate >= 0.4, (east, result)
    east, result = trained_from_the_trap(PLAIN)
    assert east > 0.999 and result.success_rate == 0.0, (east, result)
