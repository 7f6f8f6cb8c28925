"""Traffic: API contract, the authors' layout and light logic, SUMO's car-following by hand, and returns measured
against the authors' SUMO environment."""

import gymnasium as gym
import numpy as np
import pytest

import contract
from memenvs.envs.traffic import (ENTRY, LOOP, STOP, TrafficEnv, brake_gap, safe_stop_speed,
                                  scripted_action)

ID = "memenvs/Traffic-v0"
CONFIGS = [
    {},
    dict(n_cars=1, sigma=0.0, max_steps=40),
    dict(n_cars=40, yellow_steps=0),
    dict(n_cars=12, yellow_steps=2, sigma=1.0),
]


test_checkers, test_contract = contract.contract_tests([(ID, kwargs) for kwargs in CONFIGS])


def test_render_modes():
    contract.check_render_modes(ID)


def test_bad_kwargs():
    contract.check_bad_kwargs(ID, {"n_cars": 0, "sigma": 1.5, "yellow_steps": -1, "max_steps": 0})
    with pytest.raises(ValueError, match="n_cars"):
        gym.make(ID, n_cars=41)


def _place(env, pos, speed=None, light=0):
    state = env.unwrapped._state
    state.pos[0] = pos
    state.speed[0] = 0.0 if speed is None else speed
    state.light[0] = light
    state.t[0] = 100  # every car has departed
    env.unwrapped.core.set_leaders(state)
    return env.unwrapped.core.observe(state, None)[0]


def test_observation_layout_and_dset():
    """Column 8 and row 6 of the authors' 15x15 map of 4 m cells: the north-south road north to south (L68, the
    junction, L61), then the east-west road west to east (L64, the junction, L65)."""
    env = gym.make(ID)
    obs, info = env.reset(seed=0)
    assert not obs.any()  # no car has departed at the first observation
    np.testing.assert_array_equal(info["dset"], [13, 14, 28, 29])
    # 34.5 m along the route: y = 65.5 (north cell 0); 55 m: the north stop line, y = 45 (cell 5); 61.6: the
    # junction centre (cell 6); 93.9: y = 6.1 (cell 14); 175: x = 6.46 (east-west cell 0); 200.34: the west stop
    # line, x = 31.8 (cell 6); 207: x = 38.46 (cell 8, the centre); 236: x = 67.46 (out of view); 300: loop B.
    obs = _place(env, [34.5, 55.0, 61.6, 93.9, 175.0, 200.34])
    assert np.flatnonzero(obs).tolist() == [0, 5, 6, 14, 15, 21, 23]  # the centre cell is in both lines
    obs = _place(env, [207.0, 236.0, 300.0, 10.0, 20.0, 30.0])
    assert np.flatnonzero(obs).tolist() == [6, 23]
    envs = gym.make_vec(ID, num_envs=4)
    _, info = envs.reset(seed=0)
    assert info["dset"].shape == (4, 4)


def test_safe_stop_speed_stops_within_the_gap():
    """SUMO's Euler stop speed: move that speed now, then brake by 4.5 m/s per step, and cover exactly the gap (less
    SUMO's 1 mm slack)."""
    for gap in (0.0, 1.0, 2.8, 4.5, 7.5, 20.0, 40.0):
        v = float(safe_stop_speed(np.array(gap)))
        travelled, w = v, v
        while w > 0:
            w = max(w - 4.5, 0.0)
            travelled += w
        assert travelled == pytest.approx(max(gap - 0.001, 0.0))
    assert brake_gap(np.array([0.0, 4.5, 8.3])).tolist() == pytest.approx([0.0, 0.0, 3.8])


def test_queue_and_yellow_by_hand():
    """Cars queue 7.5 m apart (car length plus minimum gap) at a red light; asking for green starts a yellow phase
    of 6 steps, and the first car moves on the 7th, whatever the actions during the yellow."""
    env = gym.make(ID, n_cars=3, sigma=0.0)
    env.reset(seed=0)
    _place(env, [STOP[0], STOP[0] - 7.5, STOP[0] - 15.0], light=1)  # north approach red
    for a in (1, 1, 1):
        obs, r, *_ = env.step(a)
        assert r == pytest.approx(-0.3)  # three halted cars
    state = env.unwrapped._state
    for t in range(6):
        obs, r, *_ = env.step(0 if t == 0 else 1)  # only the first request counts
        assert env.unwrapped.hidden_state()["yellow_left"] == 6 - t and state.speed[0].max() == 0.0
    obs, r, *_ = env.step(1)
    assert env.unwrapped.hidden_state()["green"] == 0
    assert state.speed[0, 0] == pytest.approx(2.6) and state.speed[0, 1:].max() == 0.0  # SUMO's acceleration
    assert r == pytest.approx(-0.2)
    obs, r, *_ = env.step(0)
    assert state.speed[0, 1] == pytest.approx(2.6, abs=0.002)  # the follower starts a step later (1 mm slack)


def test_cars_depart_one_per_second_on_the_two_routes():
    envs = gym.make_vec(ID, num_envs=3000)
    envs.reset(seed=0)
    state = envs.unwrapped._state
    assert (state.pos < 0).all()
    for t in range(6):
        envs.step(np.zeros(3000, dtype=np.int64))
        on_road = (state.pos >= 0).sum(axis=1)
        assert 1 <= on_road.min() and on_road.max() <= t + 1  # a car may wait for room to enter
    routes = state.route.ravel()
    assert abs(routes.mean() - 0.5) < 4 * np.sqrt(0.25 / routes.size)
    for _ in range(20):
        envs.step(np.zeros(3000, dtype=np.int64))
    assert (state.pos >= 0).all() and ((state.pos >= 0) & (state.pos < LOOP)).all()
    assert set(ENTRY) == {338.70, 140.56}


def test_leaders_follow_the_order_on_the_road():
    """The leader kept through insertions is the nearest car ahead, as recomputed from the positions."""
    envs = gym.make_vec(ID, num_envs=300, n_cars=12)
    envs.reset(seed=2)
    state, core = envs.unwrapped._state, envs.unwrapped.core
    for _ in range(40):
        envs.step(np.zeros(300, dtype=np.int64))
        kept = state.leader.copy()
        core.set_leaders(state)
        np.testing.assert_array_equal(kept, state.leader)


def test_cars_keep_their_distance():
    envs = gym.make_vec(ID, num_envs=500, n_cars=20)
    envs.reset(seed=1)
    rng = np.random.default_rng(1)
    state = envs.unwrapped._state
    for _ in range(200):
        envs.step(rng.integers(0, 2, 500))
        pos = state.pos
        d = (pos[:, None, :] - pos[:, :, None]) % LOOP
        on = (pos >= 0)[:, None, :] & (pos >= 0)[:, :, None] & ~np.eye(20, dtype=bool)
        assert not on.any() or d[on].min() >= 7.5 - 1e-9  # fronts a car length plus the minimum gap apart


def _returns(policy, n=2000, seed=0, **kwargs):
    envs = gym.make_vec(ID, num_envs=n, **kwargs)
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    for t in range(250):
        if policy == "random":
            actions = rng.integers(0, 2, n)
        elif policy == "cycle":  # a fixed cycle: needs only a step counter, which is memory
            actions = np.full(n, (t // 20) % 2)
        else:
            actions = scripted_action(envs.unwrapped.core, envs.unwrapped._state, obs, policy == "oracle")
        obs, r, term, trunc, _ = envs.step(actions)
        total += r
    assert trunc.all()
    return total.mean(), total.std() / np.sqrt(n)


# Measured from the authors' SUMO environment (influence-aware-memory, LoopNetwork with their traffic config; SUMO
# 1.20 through libsumo; 500 episodes, seeds 0..499) with docs/results/faithfulness/traffic_side_by_side.py:
# (mean return per episode, its standard error).
SUMO = {"random": (-40.190, 0.137), "cycle": (-34.303, 0.110), "reactive": (-32.575, 0.446)}
# A NumPy model of SUMO's dynamics is not SUMO: beyond sampling error, the means may differ by this share of the
# return (measured, 2000 memenvs episodes against 500 SUMO ones: 1.2 % random, 1.5 % cycle, 1.9 % reactive).
MODEL_TOLERANCE = 0.03


@pytest.mark.parametrize("policy", list(SUMO))
def test_returns_match_the_authors_sumo_environment(policy):
    mean, se = _returns(policy)
    theirs, their_se = SUMO[policy]
    assert abs(mean - theirs) < 4 * np.hypot(se, their_se) + MODEL_TOLERANCE * abs(theirs), (mean, theirs)


def test_memory_helps():
    """The oracle, which sees every car, beats the best reactive script by far more than the sampling error."""
    reactive, se_r = _returns("reactive")
    oracle, se_o = _returns("oracle")
    assert oracle - reactive > 20 * np.hypot(se_r, se_o)


def test_direct_class():
    env = TrafficEnv(n_cars=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (30,) and env.hidden_state()["car_pos"].shape == (2,)
    assert env.optimal_return() is None
