"""The non-stationary cart-pole: API contract, physics against Gymnasium's CartPole, the documented task schedule."""

import gymnasium as gym
import numpy as np
import pytest

import contract
from memenvs.envs.nonstationary_cartpole import TASK_NAMES, TASKS, NonstationaryCartPoleEnv

ID = "memenvs/NonstationaryCartPole-v0"
CONFIGS = [
    dict(),
    dict(tasks=("standard", "short_pole", "inverted"), switch_every=1),
    dict(tasks=("long_pole", "weak_force"), switch_every=2, schedule="random", task_in_obs=True),
    dict(tasks=("high_gravity",), max_steps=40),
]


test_checkers, test_contract = contract.contract_tests([(ID, kwargs) for kwargs in CONFIGS])


def test_render_modes():
    contract.check_render_modes(ID, switch_every=1)


def test_bad_kwargs():
    contract.check_bad_kwargs(
        ID,
        {"tasks": ("standard", "moon"), "switch_every": 0, "schedule": "sometimes", "task_in_obs": "yes",
         "max_steps": 0},
    )
    for bad in ((), "standard", None, ["standard", 3]):
        with pytest.raises(ValueError, match="tasks"):
            gym.make(ID, tasks=bad)


def test_bad_reset_option_changes_nothing():
    env = NonstationaryCartPoleEnv(switch_every=1)
    env.reset(seed=0)
    before = env.hidden_state()
    for bad in ({"episode": -1}, {"episode": 1.5}, {"task": "standard"}):
        with pytest.raises(ValueError, match="episode|unknown option"):
            env.reset(options=bad)
    assert env.hidden_state() == before
    assert env.reset()[1]["task"] == "inverted"  # the failed calls did not advance the schedule


def _gym_cartpole_like(task_name):
    ref = gym.make("CartPole-v1").unwrapped
    task = TASKS[task_name]
    ref.gravity, ref.force_mag, ref.length = task.gravity, task.force, task.half_length
    ref.polemass_length = ref.masspole * ref.length
    return ref


@pytest.mark.parametrize("task", TASK_NAMES)
def test_physics_match_gymnasium_cartpole(task):
    """Each catalogue task is Gymnasium's CartPole with its constants changed (and the actions swapped when
    inverted): same observations to float32 rounding, same termination step."""
    env = NonstationaryCartPoleEnv(tasks=(task,))
    ref = _gym_cartpole_like(task)
    rng = np.random.default_rng(0)
    for episode in range(5):
        obs, info = env.reset(seed=episode)
        assert info["task"] == task
        ref.reset(seed=0)
        ref.state = env.unwrapped._state.phys[0].copy()
        for _ in range(500):
            a = int(rng.integers(2))
            obs, r, term, trunc, _ = env.step(a)
            ref_obs, _, ref_term, _, _ = ref.step(1 - a if TASKS[task].inverted else a)
            np.testing.assert_allclose(obs, ref_obs, rtol=1e-6, atol=1e-7)
            assert r == 1.0 and term == ref_term
            if term or trunc:
                break
        assert term


def test_batch_equals_copies_alone():
    """A copy steps bit-identically inside a batch and alone (the batched and the one-copy code paths agree)."""
    envs = gym.make_vec(ID, num_envs=32, tasks=TASK_NAMES, switch_every=1, schedule="random")
    envs.reset(seed=3)
    core, state = envs.unwrapped.core, envs.unwrapped._state
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = rng.integers(2, size=32)
        alone = [state.take(np.array([i])) for i in range(32)]
        core.step(state, a, rng)
        for i, s in enumerate(alone):
            core.step(s, a[i:i + 1], rng)
            np.testing.assert_array_equal(s.phys[0], state.phys[i])


def test_cycle_schedule_switches_exactly_when_documented():
    tasks = ("standard", "long_pole", "inverted")
    env = NonstationaryCartPoleEnv(tasks=tasks, switch_every=3)
    core = env.core
    seen = [env.reset(seed=0)[1]["task"]] + [env.reset()[1]["task"] for _ in range(20)]
    assert seen == [tasks[(k // 3) % 3] for k in range(21)]
    assert seen == [core.scheduled_task(k) for k in range(21)]
    # episodes count resets, not steps; stepping to the end of an episode changes nothing
    env.reset(options={"episode": 2})
    assert env.hidden_state()["episode"] == 2
    for _ in range(30):
        *_, info = env.step(0)
    assert info["task"] == "standard"
    assert env.reset()[1]["task"] == "long_pole"
    # a seeded reset restarts the schedule
    assert env.reset(seed=5)[1]["task"] == "standard" and env.hidden_state()["episode"] == 0


def test_schedule_survives_vector_autoreset():
    """Each copy advances its own schedule on every autoreset, in both autoreset modes."""
    tasks = ("standard", "inverted")
    for mode in ("NextStep", "SameStep"):
        envs = gym.make_vec(ID, num_envs=5, tasks=tasks, switch_every=2, autoreset_mode=mode)
        _, info = envs.reset(seed=1)
        assert list(info["task"]) == ["standard"] * 5
        episodes = np.zeros(5, dtype=int)
        for _ in range(400):
            _, _, term, trunc, info = envs.step(np.zeros(5, dtype=np.int64))  # pushing left fails in ~10 steps
            done = term | trunc
            if mode == "SameStep":
                episodes += done
                expected = [tasks[(k // 2) % 2] for k in episodes]
                assert list(info["task"]) == expected
            else:
                hidden = envs.unwrapped.hidden_state()
                assert [tasks[(k // 2) % 2] for k in hidden["episode"]] == list(info["task"])
        assert envs.unwrapped.hidden_state()["episode"].min() >= 10


def test_random_schedule_switches_every_block_to_another_task():
    tasks = ("standard", "inverted", "short_pole", "low_gravity")
    envs = gym.make_vec(ID, num_envs=2000, tasks=tasks, switch_every=3, schedule="random", autoreset_mode="Disabled")
    _, info = envs.reset(seed=0)
    history = [info["task"]]
    for _ in range(8):
        _, info = envs.reset()
        history.append(info["task"])
    history = np.array(history)  # (episode, copy)
    for k in range(1, 9):
        changed = history[k] != history[k - 1]
        assert changed.all() if k % 3 == 0 else not changed.any()
    # the first block is uniform over the tasks, each switch uniform over the other three
    for name in tasks:
        assert abs((history[0] == name).mean() - 0.25) < 0.04
    repeat_two_back = (history[6] == history[0]).mean()  # A -> B -> A has probability 1/3
    assert abs(repeat_two_back - 1 / 3) < 0.04


def test_seed_fixes_the_random_schedule():
    def tasks_seen(seed):
        env = NonstationaryCartPoleEnv(tasks=TASK_NAMES, switch_every=1, schedule="random")
        return [env.reset(seed=seed)[1]["task"]] + [env.reset()[1]["task"] for _ in range(15)]

    assert tasks_seen(4) == tasks_seen(4)
    assert tasks_seen(4) != tasks_seen(5)


def test_task_code_in_observation():
    env = NonstationaryCartPoleEnv(tasks=("inverted", "weak_force"), switch_every=1, task_in_obs=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (4 + len(TASK_NAMES),)
    np.testing.assert_array_equal(obs[4:], np.eye(len(TASK_NAMES))[TASK_NAMES.index("inverted")])
    assert info["task_id"] == TASK_NAMES.index("inverted")
    obs, _ = env.reset()
    assert obs[4 + TASK_NAMES.index("weak_force")] == 1.0 and obs[4:].sum() == 1.0
    assert NonstationaryCartPoleEnv().observation_space.shape == (4,)


def test_inverted_swaps_the_push():
    for task, sign in (("standard", 1), ("inverted", -1)):
        env = NonstationaryCartPoleEnv(tasks=(task,))
        env.reset(seed=0)
        v0 = env.unwrapped._state.phys[0, 1]
        obs, *_ = env.step(1)
        assert np.sign(obs[1] - v0) == sign
        assert env.hidden_state()["inverted"] == (sign < 0)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_controller_that_knows_the_task_reaches_the_optimal_return(task):
    """The claim behind optimal_return(): a linear controller told the task balances every task from every start."""
    envs = gym.make_vec(ID, num_envs=64, tasks=(task,), autoreset_mode="Disabled")
    obs, _ = envs.reset(seed=0)
    total = np.zeros(64)
    alive = np.ones(64, dtype=bool)
    gains = np.array([0.1, 0.5, 10.0, 2.0])
    for _ in range(envs.unwrapped.core.max_steps):
        push_right = (obs @ gains > 0).astype(np.int64)
        action = np.where(envs.unwrapped.hidden_state()["inverted"], 1 - push_right, push_right)
        obs, r, term, trunc, _ = envs.step(action)
        total += r * alive
        alive &= ~(term | trunc)
    assert (total == envs.unwrapped.optimal_return()).all()
    assert envs.unwrapped.memoryless_return() is None
