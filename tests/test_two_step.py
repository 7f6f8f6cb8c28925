"""The two-step task: API contract, exact dynamics, statistics of its parameters, bounds, and the stay analysis."""

import gymnasium as gym
import numpy as np
import pytest

import contract
from memenvs.analysis.agents import BayesianAgent, ModelBasedAgent, ModelFreeAgent
from memenvs.analysis.two_step import (
    CASES, TrialRecorder, plot_stay_probabilities, run_agent, stay_probabilities,
)
from memenvs.envs.two_step import TwoStepEnv, _reflect

ID = "memenvs/TwoStep-v0"
CONFIGS = [
    dict(),
    dict(variant="wang2016"),
    dict(variant="daw2011"),
    dict(n_trials=3, common_prob=0.6, switch_prob=0.5),
    dict(n_trials=4, max_steps=5),
    dict(variant="daw2011", n_trials=5, drift_sd=0.4, reward_bounds=(0.1, 0.3)),
]


def z_ok(observed: float, p: float, n: int, z: float = 4.5) -> bool:
    """``observed`` is a frequency over ``n`` Bernoulli(p) draws within ``z`` standard errors."""
    return abs(observed - p) <= z * np.sqrt(p * (1 - p) / n)


test_checkers, test_contract = contract.contract_tests([(ID, kwargs) for kwargs in CONFIGS])


@pytest.mark.parametrize("kwargs", [dict(), dict(variant="daw2011")], ids=["wang", "daw"])
def test_render_modes(kwargs):
    contract.check_render_modes(ID, **kwargs)


def test_ansi_shows_states_transition_and_reward():
    env = TwoStepEnv(render_mode="ansi")
    env.reset(seed=0, options={"good_state": 1})
    text = env.render()
    assert "stage 1" in text and "S2" in text and "(good)" in text.splitlines()[2]
    env.step(0)
    text = env.render()
    assert "action 0 -> S" in text and ("common" in text or "rare" in text)
    env.step(0)
    assert "reward" in env.render()


def test_bad_kwargs():
    contract.check_bad_kwargs(
        ID,
        {"variant": "daw", "n_trials": 0, "common_prob": 1.5, "good_reward_prob": -0.1, "bad_reward_prob": 2,
         "switch_prob": 1.1, "max_steps": 0},
    )
    with pytest.raises(ValueError, match="drift_sd"):
        gym.make(ID, variant="daw2011", drift_sd=-1.0)
    for bad in ((0.5, 0.5), (0.8, 0.2), (0.1,), "x", (0.2, 1.5)):
        with pytest.raises(ValueError, match="reward_bounds"):
            gym.make(ID, variant="daw2011", reward_bounds=bad)
    # A parameter of the other variant is refused, not silently ignored.
    with pytest.raises(ValueError, match="switch_prob"):
        gym.make(ID, variant="daw2011", switch_prob=0.1)
    with pytest.raises(ValueError, match="drift_sd"):
        gym.make(ID, drift_sd=0.1)


def test_bad_reset_options_change_nothing():
    env = TwoStepEnv()
    env.reset(seed=0, options={"good_state": 1})
    env.step(1)
    before = env.hidden_state()
    with pytest.raises(ValueError, match="good_state"):
        env.reset(options={"good_state": 2})
    with pytest.raises(ValueError, match="unknown option"):
        env.reset(options={"colour": 1})
    after = env.hidden_state()
    assert after["good_state"] == before["good_state"] and after["trial"] == before["trial"]
    with pytest.raises(ValueError, match="good_state"):
        TwoStepEnv(variant="daw2011").reset(options={"good_state": 0})


def test_presets_and_overrides():
    p = TwoStepEnv().core.params
    assert (p.common_prob, p.good_reward_prob, p.bad_reward_prob, p.switch_prob, p.n_trials) == (
        0.8, 0.9, 0.1, 0.025, 100)
    assert TwoStepEnv(variant="wang2016").core.params.common_prob == 0.75
    d = TwoStepEnv(variant="daw2011").core.params
    assert (d.common_prob, d.drift_sd, d.reward_bounds, d.n_trials) == (0.7, 0.025, (0.25, 0.75), 201)
    assert TwoStepEnv(variant="wang2016", common_prob=0.9).core.params.common_prob == 0.9


def test_dynamics_by_hand():
    """With deterministic parameters every transition and reward is known."""
    env = TwoStepEnv(n_trials=3, common_prob=1.0, good_reward_prob=1.0, bad_reward_prob=0.0, switch_prob=0.0)
    obs, info = env.reset(seed=0, options={"good_state": 1})
    assert obs.tolist() == [1, 0, 0] and not info["trial_end"] and info["trial"] == 0
    obs, r, term, trunc, info = env.step(1)  # action 1 -> S2 (common)
    assert obs.tolist() == [0, 0, 1] and r == 0.0 and not term
    assert not info["trial_end"] and info["action1"] == 1 and info["common"] and info["stage2_state"] == 1
    obs, r, term, trunc, info = env.step(0)  # S2 is good: reward 1, back to stage 1
    assert obs.tolist() == [1, 0, 0] and r == 1.0 and not term
    assert info["trial_end"] and info["trial"] == 1 and info["reward"] == 1.0 and info["good_state"] == 1
    assert info["stage2_action"] == 0
    obs, r, *_ = env.step(0)  # action 0 -> S1
    assert obs.tolist() == [0, 1, 0]
    obs, r, term, trunc, info = env.step(1)
    assert r == 0.0 and not term and info["reward"] == 0.0
    env.step(1)
    _, r, term, trunc, info = env.step(1)
    assert r == 1.0 and term and not trunc and info["trial"] == 3
    # Always-rare transitions: action 0 leads to S2.
    env = TwoStepEnv(common_prob=0.0)
    env.reset(seed=0)
    obs, _, _, _, info = env.step(0)
    assert obs.tolist() == [0, 0, 1] and not info["common"]


def test_episode_is_200_steps_and_truncation():
    env = TwoStepEnv()
    env.reset(seed=3)
    for t in range(200):
        _, _, term, trunc, _ = env.step(t % 2)
        assert term == (t == 199) and not trunc
    env = TwoStepEnv(n_trials=4, max_steps=5)
    env.reset(seed=0)
    for t in range(5):
        _, _, term, trunc, _ = env.step(0)
    assert trunc and not term


def test_daw_stage2_action_matters():
    env = TwoStepEnv(variant="daw2011", common_prob=1.0)
    env.reset(seed=0)
    probs = env.hidden_state()["reward_probs"]
    assert probs.shape == (2, 2) and ((probs >= 0.25) & (probs <= 0.75)).all()
    envs = gym.make_vec(ID, num_envs=20000, variant="daw2011", common_prob=1.0, drift_sd=0.0)
    envs.reset(seed=1)
    probs = envs.unwrapped.hidden_state()["reward_probs"]
    envs.step(np.zeros(20000, dtype=np.int64))  # all to S1
    for option in (0, 1):
        _, r, *_ = envs.step(np.full(20000, option))
        envs.step(np.zeros(20000, dtype=np.int64))
        expected = probs[:, 0, option].mean()
        assert abs(r.mean() - expected) < 4.5 * np.sqrt(0.25 / 20000)


def test_reflect_keeps_bounds_and_uniform_law():
    rng = np.random.default_rng(0)
    x = rng.uniform(0.25, 0.75, 200000)
    for _ in range(20):
        x = _reflect(x + 0.3 * rng.normal(size=x.size), 0.25, 0.75)
    assert x.min() >= 0.25 and x.max() <= 0.75
    hist = np.histogram(x, bins=5, range=(0.25, 0.75))[0] / x.size
    assert np.abs(hist - 0.2).max() < 0.01
    assert _reflect(np.array([0.8, 0.2, 1.3]), 0.25, 0.75).tolist() == pytest.approx([0.7, 0.3, 0.3])


# ----------------------------------------------------------------------------- statistics of the parameters
@pytest.mark.parametrize("variant,pc", [("wang2018", 0.8), ("wang2016", 0.75)])
def test_measured_frequencies_match_parameters(variant, pc):
    rng = np.random.default_rng(0)
    n_envs, n_trials = 2000, 100
    envs = gym.make_vec(ID, num_envs=n_envs, variant=variant, autoreset_mode="Disabled")
    envs.reset(seed=5)
    recorder = TrialRecorder()
    for _ in range(n_trials):
        envs.step(rng.integers(0, 2, n_envs))
        _, _, _, _, info = envs.step(rng.integers(0, 2, n_envs))
        recorder.add(info)
    rec = recorder.record()
    n = len(rec)
    assert n == n_envs * n_trials and rec.n_episodes == n_envs
    assert z_ok(rec.common.mean(), pc, n)
    # the stage-2 state follows from the action and the transition type
    np.testing.assert_array_equal(rec.stage2_state, np.where(rec.common, rec.action1, 1 - rec.action1))
    good = rec.stage2_state == rec.good_state
    assert z_ok(rec.reward[good].mean(), 0.9, int(good.sum()))
    assert z_ok(rec.reward[~good].mean(), 0.1, int((~good).sum()))
    same = rec.episode[1:] == rec.episode[:-1]
    switches = (rec.good_state[1:] != rec.good_state[:-1])[same]
    assert z_ok(switches.mean(), 0.025, switches.size)
    assert z_ok((rec.good_state[rec.trial == 1] == 0).mean(), 0.5, n_envs)
    # the good state in the record is the one hidden_state() showed before the trial
    summary = rec.summary()
    assert summary["trials"] == n and abs(summary["reward_per_episode"] - 50) < 1.0


def test_daw_drift_statistics():
    n_envs, sd = 4000, 0.025
    envs = gym.make_vec(ID, num_envs=n_envs, variant="daw2011", n_trials=30)
    envs.reset(seed=2)
    before = envs.unwrapped.hidden_state()["reward_probs"].copy()
    envs.step(np.zeros(n_envs, dtype=np.int64))
    assert np.array_equal(envs.unwrapped.hidden_state()["reward_probs"], before)  # stage 1 leaves them alone
    envs.step(np.zeros(n_envs, dtype=np.int64))
    after = envs.unwrapped.hidden_state()["reward_probs"]
    inside = (before > 0.25 + 5 * sd) & (before < 0.75 - 5 * sd)
    step = (after - before)[inside]
    assert abs(step.mean()) < 4.5 * sd / np.sqrt(step.size)
    assert abs(step.std() / sd - 1) < 4.5 * np.sqrt(0.5 / step.size)
    assert ((after >= 0.25) & (after <= 0.75)).all()


def test_info_record_in_vector_env_and_hidden_state():
    envs = gym.make_vec(ID, num_envs=4)
    _, info = envs.reset(seed=0)
    good = envs.unwrapped.hidden_state()["good_state"].copy()
    assert info["trial_end"].shape == (4,) and not info["trial_end"].any() and info["_trial_end"].all()
    envs.step(np.array([0, 1, 0, 1]))
    _, _, _, _, info = envs.step(np.zeros(4, dtype=np.int64))
    assert info["trial_end"].all() and (info["trial"] == 1).all()
    np.testing.assert_array_equal(info["good_state"], good)
    np.testing.assert_array_equal(info["action1"], [0, 1, 0, 1])


# ----------------------------------------------------------------------------- bounds
def test_memoryless_and_optimal_returns():
    env = TwoStepEnv()
    assert env.memoryless_return() == pytest.approx(50.0)
    assert env.oracle_return() == pytest.approx(74.0)
    assert 70.0 < env.optimal_return() < 71.0
    assert TwoStepEnv(variant="daw2011").optimal_return() is None
    assert TwoStepEnv(variant="daw2011").memoryless_return() == pytest.approx(100.5)
    # With a good state that never hides (reward certain, no switching) the optimum is known by hand:
    # trial 1 is a guess (0.5 * pc + 0.5 * (1 - pc) hits), after which the agent knows and gets pc per trial.
    env = TwoStepEnv(n_trials=10, common_prob=0.8, good_reward_prob=1.0, bad_reward_prob=0.0, switch_prob=0.0)
    assert env.optimal_return() == pytest.approx(0.5 + 9 * 0.8, abs=1e-6)


def test_memoryless_return_is_what_reactive_policies_get():
    for action in (0, 1):
        rec = run_agent(_Fixed(action), n_episodes=3000, seed=action)
        rewards = np.bincount(rec.episode, weights=rec.reward)
        assert abs(rewards.mean() - 50.0) < 4.5 * rewards.std() / np.sqrt(rewards.size)


def test_bayes_agent_reaches_the_optimal_return():
    env = TwoStepEnv()
    rec = run_agent(BayesianAgent(), n_episodes=4000, seed=3)
    rewards = np.bincount(rec.episode, weights=rec.reward)
    assert abs(rewards.mean() - env.optimal_return()) < 4.5 * rewards.std() / np.sqrt(rewards.size)


class _Fixed:
    def __init__(self, action):
        self.action = action

    def reset(self, n):
        self.n = n

    def act1(self, rng):
        return np.full(self.n, self.action)

    def act2(self, stage2_state, rng):
        return np.zeros(self.n, dtype=np.int64)

    def update(self, *args):
        pass


# ----------------------------------------------------------------------------- the stay analysis
@pytest.fixture(scope="module")
def analyses():
    return {
        "mf": stay_probabilities(run_agent(ModelFreeAgent(), n_episodes=1500, seed=0)),
        "mb": stay_probabilities(run_agent(ModelBasedAgent(0.8), n_episodes=1500, seed=0)),
    }


def test_model_based_agent_shows_the_interaction(analyses):
    res = analyses["mb"]
    rc, rr, uc, ur = res.stay
    assert min(rc, ur) > max(rr, uc) + 0.3
    assert res.interaction > 0.3
    assert res.model_based_index > 0.8 and res.model_based_index > 10 * res.model_based_index_se
    assert abs(res.model_free_index) < 0.2


def test_model_free_agent_shows_only_the_reward_effect(analyses):
    res = analyses["mf"]
    rc, rr, uc, ur = res.stay
    assert min(rc, rr) > max(uc, ur) + 0.1
    assert res.reward_effect > 0.2
    assert res.model_free_index > 1.5
    # After the correction for correct choices the interaction is a small fraction of the reward effect ...
    assert abs(res.model_based_index) < 0.15 * res.model_free_index
    # ... and far below the model-based agent's.
    assert res.model_based_index < 0.25 * analyses["mb"].model_based_index


def test_stay_probabilities_by_hand():
    """A hand-made record: episode 0 stays after trial 1 (rewarded, common), switches after trial 2 (unrewarded,
    rare); episode 1 stays after its trial 1 (rewarded, rare)."""
    recorder = TrialRecorder()
    rows = [  # trial, action1, common, reward, good_state (single env infos, one per trial end)
        (1, 0, True, 1.0, 0), (2, 0, False, 0.0, 0), (3, 1, True, 0.0, 0),
        (1, 1, False, 1.0, 1), (2, 1, True, 1.0, 1),
    ]
    for trial, a, common, reward, good in rows:
        recorder.add({"trial_end": True, "trial": trial, "action1": a, "common": common,
                      "stage2_state": a if common else 1 - a, "stage2_action": 0, "reward": reward,
                      "good_state": good})
        recorder.add({"trial_end": False, "trial": trial, "action1": a, "common": common, "stage2_state": 0,
                      "stage2_action": -1, "reward": 0.0, "good_state": -1})
    rec = recorder.record()
    assert rec.episode.tolist() == [0, 0, 0, 1, 1] and len(rec) == 5
    res = stay_probabilities(rec)
    assert res.pairs.tolist() == [1, 1, 0, 1]
    assert res.stays.tolist() == [1, 1, 0, 0]
    assert res.stay[0] == 1.0 and res.stay[1] == 1.0 and np.isnan(res.stay[2]) and res.stay[3] == 0.0
    assert set(res.as_dict()) >= set(CASES) | {"model_based_index", "regression"}


def test_recorder_splits_vector_copies_into_episodes():
    recorder = TrialRecorder()
    base = {"stage2_state": np.zeros(2, int), "stage2_action": np.zeros(2, int), "good_state": np.zeros(2, int),
            "common": np.ones(2, bool), "reward": np.zeros(2)}
    for trial in (1, 2, 1):  # copy 0 starts a second episode at its third record; copy 1 ends a trial only once
        recorder.add({**base, "trial_end": np.array([True, trial == 2]), "trial": np.array([trial, 5]),
                      "action1": np.array([trial, 7])})
    rec = recorder.record()
    assert rec.episode.tolist() == [0, 0, 1, 2] and rec.trial.tolist() == [1, 2, 1, 5]


def test_analysis_rejects_too_little_data():
    with pytest.raises(ValueError, match="stay_probabilities"):
        stay_probabilities(TrialRecorder().record())


def test_plot(tmp_path, analyses):
    pytest.importorskip("matplotlib")
    path = tmp_path / "stay.png"
    fig = plot_stay_probabilities(analyses, path=str(path), reference={"paper": (0.98, 0.65, 0.63, 0.98)})
    assert path.stat().st_size > 1000 and len(fig.axes) == 3
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_daw_variant_runs_with_agents():
    rec = run_agent(ModelBasedAgent(0.7), n_episodes=300, seed=0, variant="daw2011")
    assert len(rec) == 300 * 201
    res = stay_probabilities(rec)
    assert res.model_based_index > 0.3
