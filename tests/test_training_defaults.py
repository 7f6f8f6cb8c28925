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


# ------------------------------------------------------------------ the junction trap
def trained_from_the_trap(logit_radius):
    """The MLP on a passive T-maze of length 4, started in the trap's state (east saturated everywhere, as PPO leaves
    it once the corridor is learned before the junction is ever reached), then trained 6,000 steps at the family's
    initial learning rate held constant (the family decays it to 0 over a budget four times longer; this test is
    about the action distribution, so the 6,000 steps are all taken at full rate)."""
    kwargs = {"variant": "passive", "length": 4}
    lr = resolve("mlp", TMAZE, kwargs).algo_kwargs["learning_rate"]
    lr = float(lr.removeprefix("lin_")) if isinstance(lr, str) else lr
    model = make_model("mlp", TMAZE, seed=0, n_envs=16, env_kwargs=kwargs, policy_kwargs={"logit_radius": logit_radius},
                       learning_rate=lr)
    with th.no_grad():
        model.policy.action_net.bias[:] = th.tensor([0.0, 20.0, 0.0, 0.0])
    model.learn(6_000)
    with th.no_grad():
        junction = model.policy.get_distribution(th.tensor([[1.0, 0.0]])).distribution.probs[0]
    return float(junction[1]), evaluate(model, n_episodes=100, seed=1)


def test_family_defaults_leave_the_junction_trap():
    """PPO's junction trap (docs/results/ppo_junction_trap.md): with p(east | junction) = 1 north and south are
    never sampled, so nothing moves it. The T-maze defaults bound the logits, and the MLP reaches the memoryless
    bound (success 0.5); the plain categorical stays in the trap (return 0)."""
    radius = resolve("mlp", TMAZE).policy_kwargs.get("logit_radius")
    assert radius is not None
    east, result = trained_from_the_trap(radius)
    assert east < 0.5 and result.success_rate >= 0.4, (east, result)
    east, result = trained_from_the_trap(None)
    assert east > 0.999 and result.success_rate == 0.0, (east, result)
