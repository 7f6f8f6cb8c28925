"""The T-maze: API contract, exact dynamics, and a brute-force proof that it needs memory."""

import itertools

import gymnasium as gym
import numpy as np
import pytest

import contract
from memenvs.envs.tmaze import (NI_CORRIDOR, NI_CUE_NORTH, NI_CUE_SOUTH, NI_JUNCTION, NI_NORTH_ARM, NI_SOUTH_ARM,
                                OBS_CORRIDOR, OBS_CUE_NORTH, OBS_CUE_SOUTH, OBS_JUNCTION, TMazeEnv)

CONFIGS = [
    dict(length=1),
    dict(length=4),
    dict(length=10),
    dict(length=30, variant="passive"),
    dict(length=3, variant="passive"),
    dict(length=5, variant="active"),
    dict(length=5, variant="bakker_active"),
    dict(length=4, variant="active", corridor_noise=0.3),
    dict(length=6, corridor_noise=0.2),
    dict(length=8, max_steps=12),
]
ID = "memenvs/TMaze-v0"


test_checkers, test_contract = contract.contract_tests([(ID, kwargs) for kwargs in CONFIGS])


@pytest.mark.parametrize("kwargs", [dict(length=3), dict(length=4, variant="bakker_active"),
                                    dict(length=4, variant="active")], ids=["bakker", "bakker_active", "active"])
def test_render_modes(kwargs):
    contract.check_render_modes(ID, **kwargs)


def test_bad_kwargs():
    contract.check_bad_kwargs(
        ID,
        {"length": 0, "variant": "x", "corridor_noise": 1.5, "max_steps": 0},
    )
    for bad in (-3, 2.5, True, "10"):
        with pytest.raises(ValueError, match="length"):
            gym.make(ID, length=bad)
    with pytest.raises(ValueError, match="corridor_noise"):
        gym.make(ID, corridor_noise=-0.1)


def test_bad_reset_options_change_nothing():
    env = gym.make(ID, length=3)
    env.reset(seed=0)
    before = env.unwrapped.hidden_state()
    with pytest.raises(ValueError, match="goal"):
        env.reset(options={"goal": "east"})
    with pytest.raises(ValueError, match="unknown option"):
        env.reset(options={"colour": 1})
    assert env.unwrapped.hidden_state() == before


def test_num_envs_validated():
    with pytest.raises(ValueError, match="num_envs"):
        gym.make_vec(ID, num_envs=0)
    with pytest.raises(ValueError, match="autoreset_mode"):
        gym.make_vec(ID, num_envs=2, autoreset_mode="sometimes")


@pytest.mark.parametrize("goal,cue", [("north", OBS_CUE_NORTH), ("south", OBS_CUE_SOUTH)])
def test_bakker_dynamics_by_hand(goal, cue):
    env = TMazeEnv(length=3)
    obs, _ = env.reset(seed=0, options={"goal": goal})
    assert tuple(obs) == cue
    obs, r, term, trunc, _ = env.step(3)  # west into the wall at the start: the cue is still visible
    assert (tuple(obs), r, term) == (cue, pytest.approx(-0.1), False)
    obs, r, *_ = env.step(0)  # north wall
    assert r == pytest.approx(-0.1)
    for x in (1, 2):
        obs, r, term, _, _ = env.step(1)
        assert tuple(obs) == OBS_CORRIDOR and r == 0.0 and not term
    obs, r, term, _, _ = env.step(1)
    assert tuple(obs) == OBS_JUNCTION and r == 0.0
    obs, r, term, _, _ = env.step(1)  # east wall at the junction
    assert r == pytest.approx(-0.1) and not term
    right, wrong = (0, 2) if goal == "north" else (2, 0)
    clone = TMazeEnv(length=3)
    clone.reset(seed=0, options={"goal": goal})
    for a in (3, 0, 1, 1, 1, 1):
        clone.step(a)
    _, r, term, _, _ = env.step(right)
    assert r == 4.0 and term
    _, r, term, _, _ = clone.step(wrong)
    assert r == pytest.approx(-0.1) and term


def test_passive_schedule_and_length():
    """Ni et al.'s passive T-maze (twni2016/Memory-RL envs/tmaze.py, penalty -1/length)."""
    env = TMazeEnv(length=4, variant="passive")
    obs, _ = env.reset(seed=0, options={"goal": "south"})
    assert tuple(obs) == NI_CUE_SOUTH
    obs, r, term, trunc, _ = env.step(3)  # stays at x=0: behind schedule, and the cue is gone
    assert tuple(obs) == NI_CORRIDOR and r == pytest.approx(-0.25) and not term
    rewards = [r]
    for a in (1, 1, 1):
        obs, r, term, trunc, _ = env.step(a)
        rewards.append(r)
    assert tuple(obs) == NI_CORRIDOR and not term
    obs, r, term, trunc, _ = env.step(1)  # reaches the junction on the last step: no penalty, no goal
    rewards.append(r)
    # after 5 = length + 1 steps the episode ends; the last step never pays the schedule penalty
    assert term and not trunc and tuple(obs) == NI_JUNCTION
    assert rewards == pytest.approx([-0.25, -0.25, -0.25, -0.25, 0.0])
    env.reset(options={"goal": "south"})
    total = sum(env.step(a)[1] for a in (1, 1, 1, 1, 2))
    assert total == pytest.approx(1.0)
    env.reset(options={"goal": "south"})
    total = sum(env.step(0)[1] for _ in range(5))  # never moves: exactly -1
    assert total == pytest.approx(-1.0)


def test_passive_arm_observation_and_wrong_arm():
    env = TMazeEnv(length=2, variant="passive")
    obs, _ = env.reset(seed=0, options={"goal": "north"})
    assert tuple(obs) == NI_CUE_NORTH
    obs, r, term, *_ = env.step(1)
    obs, r, term, *_ = env.step(1)
    assert tuple(obs) == NI_JUNCTION and r == 0.0 and not term
    obs, r, term, *_ = env.step(2)
    assert tuple(obs) == NI_SOUTH_ARM and r == 0.0 and term


def test_active_cue_on_first_visit_only_and_fixed_horizon():
    """Ni et al.'s active T-maze: horizon length + 3, cue one cell west, shown on the first visit only."""
    env = TMazeEnv(length=2, variant="active")
    assert env.core.max_steps == 5
    obs, _ = env.reset(seed=0, options={"goal": "north"})
    assert tuple(obs) == NI_CORRIDOR
    obs, r, *_ = env.step(3)
    assert tuple(obs) == NI_CUE_NORTH and r == 0.0
    obs, r, *_ = env.step(3)  # bumps into the west wall: the cue cell now looks like corridor, and it is late
    assert tuple(obs) == NI_CORRIDOR and r == pytest.approx(-0.5)
    obs, r, term, *_ = env.step(1)  # still one cell behind the schedule
    assert r == pytest.approx(-0.5) and not term
    obs, r, *_ = env.step(1)
    assert tuple(obs) == NI_CORRIDOR and r == pytest.approx(-0.5)
    obs, r, term, trunc, _ = env.step(0)  # the horizon ends the episode wherever the agent is; no penalty at the end
    assert term and not trunc and r == 0.0
    env.reset(options={"goal": "north"})
    rewards = [env.step(a)[1] for a in (3, 1, 1, 1, 0)]
    assert rewards == pytest.approx([0.0, 0.0, 0.0, 0.0, 1.0])


def test_active_arm_is_not_the_end():
    env = TMazeEnv(length=1, variant="active")
    env.reset(seed=0, options={"goal": "south"})
    for a in (1,):
        obs, r, term, *_ = env.step(a)
    assert tuple(obs) == NI_JUNCTION
    obs, r, term, *_ = env.step(0)
    assert tuple(obs) == NI_NORTH_ARM and not term and r == 0.0
    obs, r, term, *_ = env.step(2)  # back to the junction, then into the correct arm on the last step
    assert tuple(obs) == NI_JUNCTION and not term
    obs, r, term, *_ = env.step(2)
    assert tuple(obs) == NI_SOUTH_ARM and term and r == 1.0


def test_bakker_active_cue_is_one_cell_west():
    env = TMazeEnv(length=2, variant="bakker_active")
    assert env.core.max_steps == 4 * 5
    obs, _ = env.reset(seed=0, options={"goal": "north"})
    assert tuple(obs) == OBS_CORRIDOR
    obs, r, *_ = env.step(3)
    assert tuple(obs) == OBS_CUE_NORTH and r == 0.0
    obs, r, *_ = env.step(1)
    obs, r, *_ = env.step(3)  # the cue shows on every visit in Bakker's maze
    assert tuple(obs) == OBS_CUE_NORTH
    total = sum(env.step(a)[1] for a in (1, 1, 1, 0))
    assert total == 4.0


def test_corridor_noise_flips_only_corridor_bits():
    envs = gym.make_vec(ID, num_envs=4000, length=5, corridor_noise=0.25)
    obs, _ = envs.reset(seed=0)
    assert set(map(tuple, obs)) == {OBS_CUE_NORTH, OBS_CUE_SOUTH}  # the start cell is never noisy
    obs, *_ = envs.step(np.ones(4000, dtype=np.int64))
    flips = np.abs(obs - np.array(OBS_CORRIDOR)).mean()
    assert abs(flips - 0.25) < 4 * np.sqrt(0.25 * 0.75 / obs.size)


def test_hidden_state_and_options():
    envs = gym.make_vec(ID, num_envs=6, length=2)
    envs.reset(seed=0, options={"goal": "south"})
    h = envs.unwrapped.hidden_state()
    assert (h["goal"] == 1).all() and (h["x"] == 0).all() and (h["arm"] == 0).all()
    envs.step(np.ones(6, dtype=np.int64))
    assert (envs.unwrapped.hidden_state()["x"] == 1).all()


# ----------------------------------------------------------------------------- memory is needed
BAKKER_KINDS = [OBS_CUE_NORTH, OBS_CUE_SOUTH, OBS_CORRIDOR, OBS_JUNCTION]
NI_KINDS = [NI_CUE_NORTH, NI_CUE_SOUTH, NI_CORRIDOR, NI_JUNCTION, NI_NORTH_ARM, NI_SOUTH_ARM]


def obs_kinds(kwargs):
    return NI_KINDS if kwargs.get("variant") in ("passive", "active") else BAKKER_KINDS


def exact_return(kwargs, policy):
    """Expected return of a deterministic reactive policy (observation -> action): both goals, no randomness."""
    kinds, total = obs_kinds(kwargs), 0.0
    for goal in ("north", "south"):
        env = TMazeEnv(**kwargs)
        obs, _ = env.reset(seed=0, options={"goal": goal})
        done = False
        while not done:
            obs, r, term, trunc, _ = env.step(policy[kinds.index(tuple(obs))])
            total += r
            done = term or trunc
    return total / 2


@pytest.mark.parametrize(
    "kwargs",
    [dict(length=1), dict(length=3), dict(length=5), dict(length=2, variant="passive"),
     dict(length=4, variant="passive"), dict(length=2, variant="active"), dict(length=4, variant="active"),
     dict(length=2, variant="bakker_active"), dict(length=4, variant="bakker_active")],
    ids=["b1", "b3", "b5", "p2", "p4", "a2", "a4", "ba2", "ba4"],
)
def test_brute_force_memoryless_bound(kwargs):
    env = TMazeEnv(**kwargs)
    n_kinds = len(obs_kinds(kwargs))
    best = max(exact_return(kwargs, policy) for policy in itertools.product(range(4), repeat=n_kinds))
    assert best == pytest.approx(env.memoryless_return())
    assert best < env.optimal_return()


@pytest.mark.parametrize("variant", ["bakker", "bakker_active", "passive", "active"])
@pytest.mark.parametrize("length", [1, 7, 50])
def test_scripted_memory_policy_is_optimal(variant, length):
    env = TMazeEnv(length=length, variant=variant)
    for goal in ("north", "south"):
        obs, _ = env.reset(seed=1, options={"goal": goal})
        plan = []
        if variant in ("active", "bakker_active"):
            obs, *_ = env.step(3)
            plan = [1]
        cue = tuple(obs)
        plan += [1] * length + [0 if cue in (OBS_CUE_NORTH, NI_CUE_NORTH) else 2]
        total, done = 0.0, False
        for a in plan:
            assert not done
            _, r, term, trunc, _ = env.step(a)
            total += r
            done = term or trunc
        assert done and total == pytest.approx(env.optimal_return())
