"""FlickerObservation and its vector and SB3 versions, on the T-maze (whose observations are never all zeros, so a
zero observation means exactly "blanked")."""

import math
import pickle
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector import AutoresetMode

import contract  # noqa: F401  (registers the ids)
from memenvs.wrappers import FlickerObservation, VectorFlickerObservation

ID = "memenvs/TMaze-v0"


def blank_bound(p: float, n: int) -> float:
    """Half-width of a 5-sigma binomial interval for a fraction over ``n`` draws (the tests are seeded, so this
    only has to hold for the fixed draws; 5 sigma leaves room for any seed)."""
    return 5 * math.sqrt(p * (1 - p) / n) + 1e-12


def run_single(env: gym.Env, seed: int, n: int, action_seed: int = 0) -> tuple[np.ndarray, np.ndarray, list]:
    """Seeded random rollout: (all observations, their flicker flags, the (reward, term, trunc) of each step)."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    observations, flags, steps = [obs], [info.get("flicker", False)], []
    for _ in range(n):
        obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        steps.append((r, term, trunc))
        observations.append(obs)
        flags.append(info.get("flicker", False))
        if term or trunc:
            obs, info = env.reset()
            observations.append(obs)
            flags.append(info.get("flicker", False))
    return np.array(observations), np.array(flags), steps


def is_zero(obs: np.ndarray) -> np.ndarray:
    return ~obs.reshape(obs.shape[0], -1).any(axis=1)


# ----------------------------------------------------------------------------- single env
@pytest.mark.parametrize("p", [0.5, 0.2, 0.9])
def test_blank_fraction_matches_p_and_flags_match_zero_frames(p):
    env = FlickerObservation(gym.make(ID, length=2), p=p)
    obs, flags, _ = run_single(env, seed=1, n=4000)
    np.testing.assert_array_equal(is_zero(obs), flags)
    assert abs(flags.mean() - p) <= blank_bound(p, flags.size)
    assert obs.dtype == env.observation_space.dtype
    assert all(env.observation_space.contains(o) for o in obs[:200])


def test_blanks_are_independent_from_step_to_step():
    env = FlickerObservation(gym.make(ID, length=2), p=0.5)
    _, flags, _ = run_single(env, seed=2, n=8000)
    f = flags.astype(float)
    # P(blank | previous blank) = p for i.i.d. draws; a sticky or alternating generator would fail this.
    after_blank = f[1:][f[:-1] == 1].mean()
    assert abs(after_blank - 0.5) <= blank_bound(0.5, int(f[:-1].sum()))


def test_same_seed_same_pattern_and_different_seed_differs():
    make = lambda: FlickerObservation(gym.make(ID, length=3), p=0.5)  # noqa: E731
    a = run_single(make(), seed=7, n=500)
    b = run_single(make(), seed=7, n=500)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = run_single(make(), seed=8, n=500)
    assert not np.array_equal(a[1][:200], c[1][:200])
    # Re-seeding the same env restarts the pattern.
    env = make()
    first = run_single(env, seed=7, n=500)
    again = run_single(env, seed=7, n=500)
    np.testing.assert_array_equal(first[1], again[1])


def test_flicker_leaves_the_wrapped_dynamics_alone():
    """Under one seed, the flickered env goes through exactly the plain env's transitions; ``hidden_state`` holds
    the unblanked observation."""
    plain_obs, _, plain_steps = run_single(gym.make(ID, length=3, corridor_noise=0.3), seed=5, n=600)
    env = FlickerObservation(gym.make(ID, length=3, corridor_noise=0.3), p=0.5)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=5)
    shown = [env.hidden_state()["observation"]]
    steps = []
    for _ in range(600):
        obs, r, term, trunc, info = env.step(int(rng.integers(env.action_space.n)))
        assert env.hidden_state()["flicker"] == info["flicker"]
        if not info["flicker"]:
            np.testing.assert_array_equal(obs, env.hidden_state()["observation"])
        shown.append(env.hidden_state()["observation"])
        steps.append((r, term, trunc))
        if term or trunc:
            env.reset()
            shown.append(env.hidden_state()["observation"])
    assert steps == plain_steps
    np.testing.assert_array_equal(np.array(shown), plain_obs)


def test_p_zero_is_the_plain_env_and_p_one_blanks_everything():
    plain = run_single(gym.make(ID, length=2), seed=3, n=300)
    zero = run_single(FlickerObservation(gym.make(ID, length=2), p=0.0), seed=3, n=300)
    np.testing.assert_array_equal(zero[0], plain[0])
    assert not zero[1].any()
    assert zero[2] == plain[2]
    one = run_single(FlickerObservation(gym.make(ID, length=2), p=1), seed=3, n=300)
    assert one[1].all() and not one[0].any()
    assert one[2] == plain[2]


def test_flicker_on_reset_false_always_shows_the_first_frame():
    env = FlickerObservation(gym.make(ID, length=1), p=1.0, flicker_on_reset=False)
    rng = np.random.default_rng(0)
    obs, info = env.reset(seed=0)
    assert obs.any() and info["flicker"] is False
    resets = 0
    for _ in range(200):
        obs, _, term, trunc, info = env.step(int(rng.integers(4)))
        assert not obs.any() and info["flicker"] is True
        if term or trunc:
            obs, info = env.reset()
            assert obs.any() and info["flicker"] is False
            resets += 1
    assert resets > 5


def test_blank_frames_are_fresh_arrays_of_the_space_dtype():
    env = FlickerObservation(gym.make(ID), p=1.0)
    a, _ = env.reset(seed=0)
    b, *_ = env.step(1)
    assert a is not b and a.dtype == b.dtype == np.float32 and a.shape == (3,)
    b[:] = 1  # mutating what the agent got must not leak into the next frame
    c, *_ = env.step(1)
    assert not c.any()


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), float("inf"), "0.5", None, True])
def test_bad_p_raises_naming_p(bad):
    with pytest.raises(ValueError, match=r"\bp\b"):
        FlickerObservation(gym.make(ID), p=bad)
    with pytest.raises(ValueError, match=r"\bp\b"):
        VectorFlickerObservation(gym.make_vec(ID, num_envs=2), p=bad)


def test_bad_arguments_and_spaces_raise():
    with pytest.raises(ValueError, match="flicker_on_reset"):
        FlickerObservation(gym.make(ID), flicker_on_reset="no")

    class Far(gym.Env):
        observation_space = spaces.Box(1.0, 2.0, (2,), np.float32)
        action_space = spaces.Discrete(2)

    class Scalar(gym.Env):
        observation_space = spaces.Discrete(3)
        action_space = spaces.Discrete(2)

    with pytest.raises(ValueError, match="outside"):
        FlickerObservation(Far())
    with pytest.raises(ValueError, match="Discrete"):
        FlickerObservation(Scalar())


def test_spec_records_the_arguments_and_rebuilds():
    env = FlickerObservation(gym.make(ID, length=4), p=0.25, flicker_on_reset=False)
    wrapper = env.spec.additional_wrappers[-1]
    assert wrapper.name == "FlickerObservation"
    assert wrapper.kwargs == {"p": 0.25, "flicker_on_reset": False}
    rebuilt = gym.make(env.spec)
    assert isinstance(rebuilt, FlickerObservation) and rebuilt.p == 0.25 and not rebuilt.flicker_on_reset
    a, b = run_single(env, seed=4, n=300), run_single(rebuilt, seed=4, n=300)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_pickle_continues_the_same_pattern():
    env = FlickerObservation(gym.make(ID, length=3), p=0.5)
    run_single(env, seed=9, n=50)
    clone = pickle.loads(pickle.dumps(env))
    for a in [0, 1, 2, 3] * 25:
        x, y = env.step(a), clone.step(a)
        np.testing.assert_array_equal(x[0], y[0])
        assert x[1:4] == y[1:4] and x[4]["flicker"] == y[4]["flicker"]
        if x[2] or x[3]:
            np.testing.assert_array_equal(env.reset()[0], clone.reset()[0])


def test_gymnasium_checker_accepts_the_wrapper():
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # it warns that it was handed a wrapper
        check_env(FlickerObservation(gym.make(ID).unwrapped, p=0.5), skip_render_check=True)


def test_import_stays_light():
    code = (
        "import sys, memenvs, memenvs.wrappers, gymnasium as gym\n"
        "gym.make('memenvs/TMaze-v0')\n"
        "heavy = [m for m in ('torch', 'stable_baselines3', 'ale_py', 'cv2') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------------------- Gymnasium vector env
def run_vector(envs: gym.vector.VectorEnv, seed: int, n: int) -> tuple[list, list]:
    rng = np.random.default_rng(1)
    obs, info = envs.reset(seed=seed)
    out, flags = [obs], [info.get("flicker")]
    for _ in range(n):
        obs, r, term, trunc, info = envs.step(rng.integers(4, size=envs.num_envs))
        out.append(obs)
        flags.append(info.get("flicker"))
    return out, flags


def test_vector_copies_flicker_independently_with_fraction_p():
    envs = VectorFlickerObservation(gym.make_vec(ID, num_envs=256, length=2), p=0.3)
    obs, flags = run_vector(envs, seed=0, n=60)
    obs, flags = np.array(obs), np.array(flags)
    assert flags.shape == (61, 256) and flags.dtype == bool
    np.testing.assert_array_equal(~obs.reshape(61, 256, -1).any(axis=2), flags)
    assert abs(flags.mean() - 0.3) <= blank_bound(0.3, flags.size)
    # Independence across copies: the fraction of steps on which two copies agree is p^2 + (1-p)^2.
    agree = (flags[:, :128] == flags[:, 128:]).mean()
    assert abs(agree - 0.58) <= blank_bound(0.58, flags[:, :128].size)
    _, info = envs.reset()
    assert info["_flicker"].all()


def test_vector_same_seed_same_pattern():
    make = lambda: VectorFlickerObservation(gym.make_vec(ID, num_envs=8, length=2), p=0.5)  # noqa: E731
    a, b = run_vector(make(), 3, 100), run_vector(make(), 3, 100)
    np.testing.assert_array_equal(np.array(a[0]), np.array(b[0]))
    np.testing.assert_array_equal(np.array(a[1]), np.array(b[1]))
    c = run_vector(make(), 4, 100)
    assert not np.array_equal(np.array(a[1]), np.array(c[1]))


def test_vector_p_zero_and_one_exact():
    plain = run_vector(gym.make_vec(ID, num_envs=16, length=2), 2, 80)[0]
    zero = run_vector(VectorFlickerObservation(gym.make_vec(ID, num_envs=16, length=2), p=0.0), 2, 80)
    np.testing.assert_array_equal(np.array(zero[0]), np.array(plain))
    assert not np.array(zero[1]).any()
    one = run_vector(VectorFlickerObservation(gym.make_vec(ID, num_envs=16, length=2), p=1.0), 2, 80)
    assert not np.array(one[0]).any() and np.array(one[1]).all()


def test_vector_next_step_autoreset_counts_as_reset():
    envs = VectorFlickerObservation(gym.make_vec(ID, num_envs=32, length=1), p=1.0, flicker_on_reset=False)
    obs, info = envs.reset(seed=0)
    assert obs.any(axis=1).all() and not info["flicker"].any()
    rng = np.random.default_rng(0)
    done = np.zeros(32, dtype=bool)
    seen_reset = 0
    for _ in range(40):
        obs, _, term, trunc, info = envs.step(rng.integers(4, size=32))
        np.testing.assert_array_equal(info["flicker"], ~done)
        np.testing.assert_array_equal(obs.any(axis=1), done)
        seen_reset += done.sum()
        done = term | trunc
    assert seen_reset > 20


def test_vector_same_step_final_obs_flickers_separately():
    base = gym.make_vec(ID, num_envs=32, length=1, autoreset_mode=AutoresetMode.SAME_STEP)
    envs = VectorFlickerObservation(base, p=1.0, flicker_on_reset=False)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    ended = 0
    for _ in range(30):
        obs, _, term, trunc, info = envs.step(rng.integers(4, size=32))
        done = term | trunc
        np.testing.assert_array_equal(info["flicker"], ~done)
        np.testing.assert_array_equal(obs.any(axis=1), done)  # finished copies show their reset frame
        if done.any():
            assert all(not info["final_obs"][i].any() for i in np.flatnonzero(done))
            np.testing.assert_array_equal(info["final_info"]["flicker"], done)
            ended += done.sum()
    assert ended > 20
    # With p = 0 the final observations are the wrapped env's, untouched.
    plain = VectorFlickerObservation(gym.make_vec(ID, num_envs=8, length=1, autoreset_mode="SameStep"), p=0.0)
    plain.reset(seed=0)
    for _ in range(10):
        _, _, term, trunc, info = plain.step(np.zeros(8, dtype=np.int64) + 1)
        for i in np.flatnonzero(term | trunc):
            assert info["final_obs"][i].any()


def test_vector_partial_reset_keeps_the_other_copies_as_they_were():
    base = gym.make_vec(ID, num_envs=64, length=3, autoreset_mode=AutoresetMode.DISABLED)
    envs = VectorFlickerObservation(base, p=0.5)
    envs.reset(seed=1)
    obs, *_, info = envs.step(np.ones(64, dtype=np.int64))
    before = info["flicker"].copy()
    mask = np.arange(64) % 2 == 0
    obs2, info2 = envs.reset(options={"reset_mask": mask})
    np.testing.assert_array_equal(info2["flicker"][~mask], before[~mask])
    np.testing.assert_array_equal(obs2[~mask], obs[~mask])
    np.testing.assert_array_equal(~obs2.any(axis=1), info2["flicker"])


def test_vector_over_sync_vector_env():
    envs = VectorFlickerObservation(gym.make_vec(ID, num_envs=4, vectorization_mode="sync", length=2), p=0.5)
    obs, flags = run_vector(envs, 0, 200)
    flags = np.array(flags)
    np.testing.assert_array_equal(~np.array(obs).any(axis=2), flags)
    assert abs(flags.mean() - 0.5) <= blank_bound(0.5, flags.size)


# ----------------------------------------------------------------------------- SB3 VecEnv
def sb3_venv(n: int, **kwargs):
    vec_env = pytest.importorskip("stable_baselines3.common.vec_env")
    return vec_env.DummyVecEnv([lambda: gym.make(ID, **kwargs) for _ in range(n)])


def test_sb3_wrapper_fraction_seed_and_terminal_observation():
    from memenvs.wrappers.flicker_sb3 import VecFlickerObservation

    def run(seed: int, p: float, **kw):
        venv = VecFlickerObservation(sb3_venv(16, length=1), p=p, **kw)
        venv.seed(seed)
        obs = venv.reset()
        rng = np.random.default_rng(0)
        all_obs, flags, infos = [obs], [[i["flicker"] for i in venv.reset_infos]], []
        for _ in range(100):
            venv.step_async(rng.integers(4, size=16))
            obs, _, dones, step_infos = venv.step_wait()
            all_obs.append(obs)
            flags.append([i["flicker"] for i in step_infos])
            infos.append((dones, step_infos))
        return np.array(all_obs), np.array(flags), infos

    obs, flags, _ = run(0, 0.4)
    np.testing.assert_array_equal(~obs.any(axis=2), flags)
    assert abs(flags.mean() - 0.4) <= blank_bound(0.4, flags.size)
    again = run(0, 0.4)
    np.testing.assert_array_equal(again[1], flags)
    np.testing.assert_array_equal(again[0], obs)
    assert not np.array_equal(run(1, 0.4)[1], flags)

    obs, flags, infos = run(0, 1.0, flicker_on_reset=False)
    assert not flags[0].any() and obs[0].any(axis=1).all()
    ended = 0
    for t, (dones, step_infos) in enumerate(infos, start=1):
        np.testing.assert_array_equal(flags[t], ~dones)
        for i in np.flatnonzero(dones):
            assert step_infos[i]["terminal_flicker"] and not step_infos[i]["terminal_observation"].any()
            ended += 1
    assert ended > 20


def test_sb3_wrapper_validates_p():
    from memenvs.wrappers.flicker_sb3 import VecFlickerObservation

    with pytest.raises(ValueError, match=r"\bp\b"):
        VecFlickerObservation(sb3_venv(2), p=2.0)
