"""Traffic: API contract, the cellular model by hand, conservation of cars, and memory helps."""

import gymnasium as gym
import numpy as np
import pytest

import contract
from memenvs.envs.traffic import TrafficEnv, scripted_action

ID = "memenvs/Traffic-v0"
CONFIGS = [
    {},
    dict(segment_length=4, hidden_length=3, n_cars=5, yellow_steps=0),
    dict(n_cars=1, p_slow=0.0, max_steps=40),
    dict(n_cars=29, p_slow=1.0),
    dict(segment_length=20, hidden_length=40, n_cars=12, yellow_steps=5, p_slow=0.3),
]


test_checkers, test_contract = contract.contract_tests([(ID, kwargs) for kwargs in CONFIGS])


def test_render_modes():
    contract.check_render_modes(ID)
    contract.check_render_modes(ID, segment_length=5, hidden_length=20)  # part of each loop drawn off-screen


def test_bad_kwargs():
    contract.check_bad_kwargs(
        ID,
        {"segment_length": 1, "hidden_length": 0, "n_cars": 0, "p_slow": 1.5, "yellow_steps": -1, "max_steps": 0},
    )
    with pytest.raises(ValueError, match="n_cars"):
        gym.make(ID, n_cars=30)  # a full loop could never move


def _place(env, east_west, north_south, green=0, yellow=0):
    state = env.unwrapped._state
    ring = env.unwrapped.core.ring
    state.cell[0, 0] = sorted(east_west)
    state.cell[0, 1] = np.array(sorted(north_south)) + ring
    state.light[0] = 2 * yellow + green
    return env.unwrapped.core.observe(state, None)[0]


def test_observation_layout_and_dset():
    env = gym.make(ID, n_cars=3)
    _, info = env.reset(seed=0)
    np.testing.assert_array_equal(info["dset"], [13, 14, 28, 29])
    assert env.unwrapped.core.dset.tolist() == [13, 14, 28, 29]
    obs = _place(env, [0, 14, 20], [3, 13, 29])
    expected = np.zeros(30, dtype=np.float32)
    expected[[0, 14, 15 + 3, 15 + 13]] = 1  # cells 20 and 29 are beyond the view
    np.testing.assert_array_equal(obs, expected)
    envs = gym.make_vec(ID, num_envs=4)
    _, info = envs.reset(seed=0)
    assert info["dset"].shape == (4, 4)


def test_cellular_model_by_hand():
    """Loops of 8 cells (view 0-4, stop line 4, 5-7 beyond the view); cars keep their order in car_pos."""
    env = gym.make(ID, segment_length=5, hidden_length=3, n_cars=3, p_slow=0.0, yellow_steps=2)
    env.reset(seed=0)
    _place(env, [3, 4, 7], [1, 4, 5])

    def check(action, east_west, north_south, reward, green, yellow):
        obs, r, *_ = env.step(action)
        h = env.unwrapped.hidden_state()
        assert h["car_pos"][0].tolist() == east_west and h["car_pos"][1].tolist() == north_south
        assert r == reward and h["green"] == green and h["yellow_left"] == yellow
        return obs

    # East-west green: its stop-line car crosses (4 -> 5), the car behind it waits (its front cell was taken at
    # the start of the step), the car on 7 wraps to 0. North-south: the stop-line car waits at red.
    obs = check(0, [3, 5, 0], [2, 4, 6], -2.0, 0, 0)
    np.testing.assert_array_equal(obs, [1, 0, 0, 1, 0, 0, 0, 1, 0, 1])
    # Asking for north-south starts a 2-step yellow phase: nobody crosses.
    check(1, [4, 6, 1], [3, 4, 7], -1.0, 1, 1)
    # An action during yellow is ignored; both stop-line cars wait, and so does the queue behind one of them.
    check(0, [4, 7, 2], [3, 4, 0], -3.0, 1, 0)
    # North-south has green now: its stop-line car crosses; east-west waits at red.
    check(1, [4, 0, 3], [3, 5, 1], -2.0, 1, 0)
    # Asking for east-west again starts another yellow phase.
    check(0, [4, 1, 3], [4, 6, 2], -2.0, 0, 1)


@pytest.mark.parametrize("yellow_steps", [0, 1, 3])
def test_light_follows_the_documented_rule(yellow_steps):
    """The light's look-up tables against the rule written out plainly, over random requests in many copies: a
    request for the other road while no yellow phase runs starts one; the new road has green after it."""
    n, seg = 64, 15
    envs = gym.make_vec(ID, num_envs=n, yellow_steps=yellow_steps, n_cars=1, p_slow=0.0)
    envs.reset(seed=3)
    green, yellow = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    rng = np.random.default_rng(1)
    for _ in range(60):
        # Park every copy's two cars on their stop lines: a car crosses exactly when its road is not red.
        envs.unwrapped._state.cell[:, :, 0] = [seg - 1, envs.unwrapped.core.ring + seg - 1]
        action = rng.integers(0, 2, n)
        switch = (yellow == 0) & (action != green)
        green[switch], yellow[switch] = action[switch], yellow_steps
        red = np.stack([(yellow > 0) | (green != road) for road in (0, 1)], axis=1)
        yellow = np.maximum(yellow - 1, 0)
        _, reward, *_ = envs.step(action)
        h = envs.unwrapped.hidden_state()
        np.testing.assert_array_equal(h["green"], green)
        np.testing.assert_array_equal(h["yellow_left"], yellow)
        np.testing.assert_array_equal(h["car_pos"][:, :, 0] == seg - 1, red)  # red cars stay on the stop line
        np.testing.assert_array_equal(reward, -red.sum(axis=1))  # and count as waiting


def test_cars_are_conserved_and_never_share_a_cell():
    n = 300
    envs = gym.make_vec(ID, num_envs=n, n_cars=12, p_slow=0.2)
    obs, _ = envs.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(120):
        obs, r, *_ = envs.step(rng.integers(0, 2, n))
        pos = envs.unwrapped.hidden_state()["car_pos"]
        s = np.sort(pos, axis=2)
        assert (np.diff(s, axis=2) > 0).all() and pos.min() >= 0 and pos.max() < 30
        assert (obs.reshape(n, 2, 15).sum(axis=2) == (pos < 15).sum(axis=2)).all()
        assert (r <= 0).all() and (r >= -24).all()


def test_dawdling_rate():
    """A free car moves with probability 1 - p_slow: one car per loop and green forever on its road."""
    n = 4000
    envs = gym.make_vec(ID, num_envs=n, n_cars=1, p_slow=0.25)
    envs.reset(seed=2)
    before = envs.unwrapped.hidden_state()["car_pos"][:, 0, 0].copy()
    moved = total = 0
    for _ in range(10):
        envs.step(np.zeros(n, dtype=np.int64))
        after = envs.unwrapped.hidden_state()["car_pos"][:, 0, 0]
        moved += int((after != before).sum())  # road 0 always has green: its lone car is always free
        total += n
        before = after.copy()
    assert abs(moved / total - 0.75) < 4 * np.sqrt(0.75 * 0.25 / total)


def _returns(policy, n=2000, seed=0):
    envs = gym.make_vec(ID, num_envs=n)
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    total = np.zeros(n)
    for t in range(250):
        if policy == "random":
            actions = rng.integers(0, 2, n)
        elif policy == "clock":  # a fixed cycle: needs only a step counter, which is memory
            actions = np.full(n, (t // 10) % 2)
        else:
            actions = scripted_action(envs.unwrapped.core, envs.unwrapped._state, obs, policy == "oracle")
        obs, r, term, trunc, _ = envs.step(actions)
        total += r
    assert trunc.all()
    return total.mean(), total.std() / np.sqrt(n)


def test_memory_helps():
    """Figures (2000 episodes, seed 0): random -1676, best reactive script -920, a fixed 10-step cycle (a clock
    is memory) -530, oracle that sees the light and the cars out of view -291."""
    random, _ = _returns("random")
    reactive, se_r = _returns("reactive")
    clock, _ = _returns("clock")
    oracle, se_o = _returns("oracle")
    assert random == pytest.approx(-1676, abs=15)
    assert reactive == pytest.approx(-920, abs=15)
    assert clock == pytest.approx(-530, abs=10)
    assert oracle == pytest.approx(-291, abs=8)
    assert oracle - reactive > 50 * np.hypot(se_r, se_o)


def test_direct_class():
    env = TrafficEnv(n_cars=2)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (30,) and env.hidden_state()["car_pos"].shape == (2, 2)
    assert env.optimal_return() is None
