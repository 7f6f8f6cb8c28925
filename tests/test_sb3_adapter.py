"""The SB3 VecEnv adapter over the native batched core."""

import gc
from collections.abc import Sequence

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import VecEnv, VecMonitor  # noqa: E402

from memenvs.registration import ENVS  # noqa: E402
from memenvs.sb3 import EpisodeMonitor, GymnasiumVecEnv, make_vec_env  # noqa: E402


def test_terminal_observation_and_truncation_flags():
    venv = make_vec_env("memenvs/TMaze-v0", n_envs=3, seed=0, monitor=False, length=2, max_steps=4)
    assert isinstance(venv, VecEnv)
    obs = venv.reset()
    assert obs.shape == (3, 3) and obs.dtype == np.float32
    # East twice reaches the junction, then north: every copy ends at step 3 (terminated, not truncated).
    for _ in range(2):
        obs, rew, done, infos = venv.step(np.array([1, 1, 1]))
        assert not done.any()
    obs, rew, done, infos = venv.step(np.array([0, 0, 0]))
    assert done.all()
    for i in range(3):
        assert infos[i]["TimeLimit.truncated"] is False
        np.testing.assert_array_equal(infos[i]["terminal_observation"], [1, 0, 1])  # arms look like corridor
    assert {float(r) for r in rew} <= {4.0, np.float32(-0.1)}
    # The returned observation is already the next episode's first (a cue).
    assert {tuple(o) for o in obs} <= {(0, 1, 1), (1, 1, 0)}
    # Bumping the north wall four times hits the time limit: truncated.
    for _ in range(3):
        _, _, done, _ = venv.step(np.zeros(3, dtype=np.int64))
        assert not done.any()
    _, _, done, infos = venv.step(np.zeros(3, dtype=np.int64))
    assert done.all() and all(info["TimeLimit.truncated"] for info in infos)


def test_seed_reproduces():
    def run(seed):
        venv = make_vec_env("memenvs/TMaze-v0", n_envs=4, seed=seed, length=3)
        out = [venv.reset()]
        rng = np.random.default_rng(0)
        for _ in range(30):
            out.append(venv.step(rng.integers(4, size=4))[0])
        return np.stack(out)

    np.testing.assert_array_equal(run(1), run(1))
    assert not np.array_equal(run(1), run(2))


def test_needs_same_step_mode():
    venv = gym.make_vec("memenvs/TMaze-v0", num_envs=2)
    with pytest.raises(ValueError, match="SAME_STEP"):
        GymnasiumVecEnv(venv)


def test_get_attr_and_env_method():
    venv = make_vec_env("memenvs/TMaze-v0", n_envs=2, seed=0, monitor=False)
    venv.reset()
    assert venv.get_attr("render_mode") == [None, None]
    assert venv.env_method("optimal_return") == [4.0, 4.0]
    assert venv.env_method("memoryless_return", indices=[1]) == [pytest.approx(1.95)]


def test_ppo_trains_through_the_adapter():
    venv = make_vec_env("memenvs/TMaze-v0", n_envs=8, seed=0, length=3)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=128, n_epochs=2, seed=0, verbose=0)
    model.learn(3000)
    assert model.num_timesteps >= 3000
    assert len(model.ep_info_buffer) > 0  # VecMonitor recorded finished episodes


def test_finished_copy_reports_its_last_step_info():
    # TwoStep's per-trial record must survive the episode end: the info of the final step, not of the reset.
    venv = make_vec_env("memenvs/TwoStep-v0", n_envs=2, seed=0, monitor=False)
    venv.reset()
    for step in range(200):
        _, _, done, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert done.all()
    for info in infos:
        assert info["trial_end"] and info["trial"] == 100  # the 100th trial just ended
        assert "terminal_observation" in info
    assert all(not r["trial_end"] for r in venv.reset_infos)


def test_per_copy_info_is_the_batched_info_and_read_only():
    # TwoStep's per-step info differs between copies: each copy's row reads its own entries of the batched arrays.
    from gymnasium.vector import AutoresetMode

    venv = make_vec_env("memenvs/TwoStep-v0", n_envs=3, seed=0, monitor=False)
    native = gym.make_vec("memenvs/TwoStep-v0", num_envs=3, autoreset_mode=AutoresetMode.SAME_STEP)
    venv.reset()
    native.reset(seed=0)
    rng = np.random.default_rng(1)
    for _ in range(7):
        actions = rng.integers(2, size=3)
        _, _, _, infos = venv.step(actions)
        info = native.step(actions)[4]
        for i in range(3):
            assert dict(infos[i]) == {k: v[i].item() for k, v in info.items() if not k.startswith("_")}
            assert infos[i].get("episode") is None and "trial" in infos[i] and len(infos[i]) == 8
    with pytest.raises(TypeError):
        infos[0]["trial"] = 5  # a row of the step's arrays: writing into it would corrupt them
    row = infos[0].copy()
    row["trial"] = 5  # a copy is a plain dict


class _Flagging(gym.Env):
    """Reports ``info["flag"]`` on every third step only, as many Gymnasium envs report a key now and then."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = int(self.np_random.integers(3))
        return np.zeros(1, np.float32), {"t": 0}

    def step(self, action):
        self.t += 1
        info = {"t": 0, **({"flag": self.t} if self.t % 3 == 0 else {})}
        return np.zeros(1, np.float32), 0.0, False, self.t >= 10, info


def test_a_key_some_copies_lack_appears_only_in_theirs():
    # Gymnasium's sync vector env masks a key that only some copies report ("_flag"): those copies get their own
    # dict with it; the others share one read-only row, as do all copies when every copy's info is the same.
    n = 6
    native = gym.vector.SyncVectorEnv([_Flagging] * n, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    seen, step = [], native.step
    native.step = lambda actions: seen.append(step(actions)) or seen[-1]
    venv = GymnasiumVecEnv(native)
    venv.seed(0)
    venv.reset()
    flagged = 0
    for _ in range(12):
        _, _, done, infos = venv.step(np.zeros(n, dtype=np.int64))
        info = seen[-1][4]
        marked = info.get("_flag", np.zeros(n, dtype=bool))
        for i in np.flatnonzero(~done):  # a finished copy gets its last step's info instead
            if marked[i]:
                assert dict(infos[i]) == {"t": 0, "flag": info["flag"][i]}
                flagged += 1
            else:
                assert dict(infos[i]) == {"t": 0}
        plain = [infos[i] for i in np.flatnonzero(~done & ~marked)]
        assert all(row is plain[0] for row in plain)  # one shared row
        if plain:
            with pytest.raises(TypeError):
                plain[0]["x"] = 1
    assert flagged > 0


def test_one_value_in_every_copy_is_one_shared_row():
    # RandomMaze reports success on every step; while no copy stands on its goal it is False everywhere.
    venv = make_vec_env("memenvs/RandomMaze-v0", n_envs=8, seed=0, monitor=False)
    venv.reset()
    _, _, done, infos = venv.step(np.zeros(8, dtype=np.int64))
    assert not done.any() and all(info is infos[0] for info in infos)
    assert dict(infos[0]) == {"success": False} and type(infos[0]["success"]) is bool


def test_identical_info_is_one_read_only_mapping():
    # Warehouse's d-set is the same for every copy: the copies share one row, which nobody can write into.
    venv = make_vec_env("memenvs/Warehouse-v0", n_envs=4, seed=0, monitor=False)
    venv.reset()
    _, _, _, infos = venv.step(np.zeros(4, dtype=np.int64))
    expected = gym.make("memenvs/Warehouse-v0").unwrapped.core.dset
    for info in infos:
        np.testing.assert_array_equal(info["dset"], expected)
    with pytest.raises(TypeError):
        infos[1]["dset"] = None
    assert not infos[1]["dset"].flags.writeable


def test_step_infos_read_like_a_list():
    venv = make_vec_env("memenvs/TwoStep-v0", n_envs=4, seed=0, monitor=False)
    venv.reset()
    _, _, _, infos = venv.step(np.zeros(4, dtype=np.int64))
    assert isinstance(infos, Sequence) and len(infos) == 4
    rows = list(infos)
    assert infos == rows and rows == [dict(r) for r in infos] and infos[-1] == rows[3]
    assert infos[np.int64(2)] == rows[2] and infos[1:3] == rows[1:3]
    with pytest.raises(IndexError):
        infos[4]
    infos[2] = {"mine": 1}  # SB3's wrappers replace the rows of finished copies so
    assert infos[2] == {"mine": 1} and infos[-2] is infos[2] and infos[1] == rows[1]


def test_a_step_makes_no_object_per_copy():
    # One object per copy per step set off Python's garbage collector and made the adapter ~100x slower than the
    # native env at 8,192 copies; rows are made when read instead.
    n = 4096
    venv = make_vec_env("memenvs/TwoStep-v0", n_envs=n, seed=0)
    venv.reset()
    actions = np.zeros(n, dtype=np.int64)
    venv.step(actions)
    gc.collect()
    before = len(gc.get_objects())
    _, _, done, infos = venv.step(actions)
    assert not done.any() and len(gc.get_objects()) - before < n // 8
    assert infos[n - 1]["trial"] == infos[0]["trial"]


def test_episode_monitor_reports_what_sb3_vecmonitor_reports():
    def make(monitor):
        return monitor(make_vec_env("memenvs/TMaze-v0", n_envs=8, seed=3, monitor=False, length=2),
                       info_keywords=("success",))

    ours, sb3 = make(EpisodeMonitor), make(VecMonitor)
    ours.reset(), sb3.reset()
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(60):
        actions = rng.integers(0, 4, 8)
        _, r1, d1, i1 = ours.step(actions)
        _, r2, d2, i2 = sb3.step(actions)
        np.testing.assert_array_equal(d1, d2)
        for a, b in zip(i1, i2):
            a, b = dict(a), dict(b)
            ea, eb = a.pop("episode", None), b.pop("episode", None)
            assert (ea is None) == (eb is None)
            if ea is not None:
                finished += 1
                assert (ea["r"], ea["l"], ea["success"]) == (eb["r"], eb["l"], eb["success"])
            np.testing.assert_equal(a, b)
    assert finished > 20 and ours.episode_count == sb3.episode_count == finished


def test_episode_monitor_leaves_another_vecenvs_infos_untouched():
    from stable_baselines3.common.vec_env import DummyVecEnv

    inner = DummyVecEnv([lambda: gym.make("CartPole-v1")] * 2)
    seen = []
    step_wait = inner.step_wait

    def keep(*args):
        out = step_wait(*args)
        seen.append(out[3])
        return out

    inner.step_wait = keep
    monitor = EpisodeMonitor(inner)
    monitor.reset()
    for _ in range(200):
        _, _, done, infos = monitor.step(np.zeros(2, dtype=np.int64))
        if done.any():
            break
    i = int(np.flatnonzero(done)[0])
    assert "episode" in infos[i] and "episode" not in seen[-1][i] and infos is not seen[-1]


_NATIVE_IDS = [e.id for e in ENVS if e.vector_entry_point and "MemoryVectorEnv" in [
    c.__name__ for c in gym.envs.registration.load_env_creator(e.vector_entry_point).__mro__]]


@pytest.mark.parametrize("env_id,kwargs", [
    ("memenvs/TMaze-v0", {"length": 2}),
    ("memenvs/TMaze-v0", {"length": 2, "corridor_noise": 0.3}),  # observations that draw from the generator
    ("memenvs/TwoStep-v0", {}),
    *[(env_id, {"max_episode_steps": 6}) for env_id in _NATIVE_IDS],
])
def test_resetting_by_index_matches_the_vector_envs_same_step_reset(env_id, kwargs):
    # make_vec_env runs the native env with its autoreset disabled and resets finished copies by index itself
    # (MemoryVectorEnv.reset_copies), so their last observations stay one array; steps, terminal observations and
    # infos are those of SAME_STEP, which resets the same way.
    from gymnasium.vector import AutoresetMode

    n = 6
    ours = make_vec_env(env_id, n_envs=n, seed=4, monitor=False, **kwargs)
    theirs = GymnasiumVecEnv(gym.make_vec(env_id, num_envs=n, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs))
    assert ours.venv.metadata["autoreset_mode"] is AutoresetMode.DISABLED and ours._reset_copies is not None
    theirs.seed(4)
    np.testing.assert_array_equal(ours.reset(), theirs.reset())
    rng = np.random.default_rng(0)
    finished = 0
    for _ in range(250 if env_id == "memenvs/TwoStep-v0" else 40):
        actions = np.stack([ours.action_space.sample() for _ in range(n)]) if not hasattr(ours.action_space, "n") \
            else rng.integers(ours.action_space.n, size=n)
        a, b = ours.step(actions), theirs.step(actions)
        for x, y in zip(a[:3], b[:3]):
            np.testing.assert_array_equal(x, y)
        for i in range(n):
            np.testing.assert_equal(dict(a[3][i]), dict(b[3][i]))
            np.testing.assert_equal(dict(ours.reset_infos[i]), dict(theirs.reset_infos[i]))
        finished += int(a[2].sum())
    assert finished >= n  # every copy finished at least once (a TwoStep episode is 200 steps)


def test_a_reset_by_index_leaves_the_other_copies_as_they_were_shown():
    # Only the reset copies are observed again: with the T-maze's corridor noise a second observation of the others
    # would show them different bits than the step just did.
    venv = gym.make_vec("memenvs/TMaze-v0", num_envs=64, length=30, corridor_noise=0.5,
                        autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    venv.reset(seed=0)
    obs, *_ = venv.step(np.ones(64, dtype=np.int64))
    before = obs.copy()
    idx = np.array([3, 10, 40])
    info = venv.reset_copies(idx, obs)
    others = np.setdiff1d(np.arange(64), idx)
    np.testing.assert_array_equal(obs[others], before[others])
    assert venv.unwrapped._state.t[idx].tolist() == [0, 0, 0] and (venv.unwrapped._state.t[others] == 1).all()
    assert venv.hidden_state()["x"][idx].tolist() == [0, 0, 0]
    from memenvs.envs.tmaze import OBS_CUE_NORTH, OBS_CUE_SOUTH  # the start shows the cue, never noisy
    goal = venv.hidden_state()["goal"][idx]
    np.testing.assert_array_equal(obs[idx], np.where(goal[:, None] == 0, OBS_CUE_NORTH, OBS_CUE_SOUTH))
    assert info.keys() == {"success"} and info["success"].tolist() == [False] * 3  # the reset copies' info only


def test_reset_infos_drop_layers_when_one_copy_never_resets():
    # Copy 1 keeps the first layer while copy 0 resets in every step: the layer ids in use then span more than 16
    # copies' worth, where the pruning sorts them instead of counting them. Either way only live layers stay.
    from memenvs.sb3 import ResetInfos

    venv = make_vec_env("memenvs/TMaze-v0", n_envs=2, monitor=False)
    layers = ResetInfos(2, {"k": np.array([0, 0])}, venv._infos)
    for step in range(1, 200):
        layers.record(np.array([0]), {"k": np.array([step, -1])})
    last_prune = 199 - 199 % ResetInfos.PRUNE_EVERY
    assert set(layers._layers) == {0, *range(last_prune, 200)}
    assert layers[1]["k"] == 0 and layers[0]["k"] == 199


def test_finished_rows_are_made_when_read_and_keep_what_is_written_into_them():
    n = 4096
    venv = make_vec_env("memenvs/TMaze-v0", n_envs=n, seed=0, length=1, max_steps=2)
    venv.reset()
    actions = np.zeros(n, dtype=np.int64)
    venv.step(actions)
    gc.collect()
    before = len(gc.get_objects())
    _, _, done, infos = venv.step(actions)  # every copy hits the time limit
    assert done.all() and len(gc.get_objects()) - before < n // 8
    row = infos[5]
    assert row["TimeLimit.truncated"] is True and row["episode"]["l"] == 2 and "terminal_observation" in row
    row["terminal_observation"] = "normalised"  # as VecNormalize does
    assert infos[5] is row and infos[5]["terminal_observation"] == "normalised"


def test_reset_infos_follow_each_copys_latest_reset():
    from memenvs.sb3 import ResetInfos

    n = 8
    venv = make_vec_env("memenvs/TwoStep-v0", n_envs=n, seed=0, monitor=False)
    venv.reset()
    assert isinstance(venv.reset_infos, ResetInfos) and len(venv.reset_infos) == n
    venv.reset_infos[3] = {"mine": 1}
    assert venv.reset_infos[3] == {"mine": 1}
    steps = 200 * (ResetInfos.PRUNE_EVERY + 2)  # a TwoStep episode is 200 steps: every copy resets each time
    for _ in range(steps):
        venv.step(np.zeros(n, dtype=np.int64))
    rows = list(venv.reset_infos)
    assert all(not r["trial_end"] and r["trial"] == 0 for r in rows)  # the fresh episode's info, mine replaced
    assert len(venv.reset_infos._layers) <= ResetInfos.PRUNE_EVERY + 1  # old layers are dropped


def test_episode_monitor_writes_the_monitor_file_sb3_writes(tmp_path):
    def run(monitor, name):
        venv = monitor(make_vec_env("memenvs/TMaze-v0", n_envs=4, seed=1, monitor=False, length=2),
                       filename=str(tmp_path / name))
        venv.reset()
        rng = np.random.default_rng(0)
        episodes = []
        for _ in range(40):
            _, _, done, infos = venv.step(rng.integers(0, 4, 4))
            episodes += [(infos[i]["episode"]["r"], infos[i]["episode"]["l"]) for i in np.flatnonzero(done)]
        venv.close()
        lines = (tmp_path / f"{name}.monitor.csv").read_text().splitlines()[2:]
        return episodes, [tuple(line.split(",")[:2]) for line in lines]

    ours, sb3 = run(EpisodeMonitor, "ours"), run(VecMonitor, "sb3")
    assert len(ours[0]) > 5 and ours[0] == pytest.approx(sb3[0]) and ours[1] == sb3[1]


def test_one_task_name_in_every_copy_is_one_shared_row():
    # The non-stationary CartPole names each copy's task; while every copy runs the same task they share one row.
    venv = make_vec_env("memenvs/NonstationaryCartPole-v0", n_envs=4, seed=0, monitor=False)
    venv.reset()
    _, _, _, infos = venv.step(np.zeros(4, dtype=np.int64))
    assert all(info is infos[0] for info in infos) and infos[0]["task"] == "standard"
    from memenvs.sb3 import _same_for_every_copy

    assert _same_for_every_copy(np.array(["standard", "standard"]))
    assert not _same_for_every_copy(np.array(["standard", "heavy"]))
    assert not _same_for_every_copy(np.array(["ab", "ba"]))  # same characters, other order


class _OneBuffer(gym.vector.VectorEnv):
    """Two copies that observe into one buffer, reused by every step and reset; copy 0 ends every step."""

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.DISABLED}

    def __init__(self):
        self.num_envs = 2
        self.single_observation_space = gym.spaces.Box(-1e3, 1e3, (1,), np.float32)
        self.single_action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, 2)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, 2)
        self.buf, self.t = np.zeros((2, 1), np.float32), 0

    def reset(self, *, seed=None, options=None):
        mask = (options or {}).get("reset_mask", np.ones(2, bool))
        self.buf[mask] = -1.0  # a fresh episode's first observation
        return self.buf, {}

    def step(self, actions):
        self.t += 1
        self.buf[:] = self.t
        return self.buf, np.zeros(2), np.array([True, False]), np.zeros(2, bool), {}


def test_terminal_observation_survives_a_vector_env_that_reuses_its_buffer():
    venv = GymnasiumVecEnv(_OneBuffer())
    venv.reset()
    obs, _, done, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert done.tolist() == [True, False] and obs[0, 0] == -1.0
    assert infos[0]["terminal_observation"][0] == 1.0  # the last step's observation, not the reset's
