"""Learning at test time: evaluate a model while it keeps training online, on a task that may change.

:func:`evaluate_adapting` runs a trained SB3 on-policy model (``PPO``, ``A2C``, ``RecurrentPPO``) on test episodes and
keeps updating it with the algorithm's own loss every ``update_every`` steps. What learns is chosen by
``trainable``:

* ``"towers"``: the fast and slow towers of a fast/slow policy learn, the muxer (everything else) is frozen
  (backprop continues during testing for the towers);
* ``"all"``: every parameter learns (plain fine-tuning; works for any policy);
* ``"none"``: nothing learns; the same sampling loop, for a frozen control.

Actions are sampled from the policy in all three modes (adaptation needs exploration; the frozen control samples
too so the comparison is like for like). The run uses a copy of the model: the model passed in, and any file it
was loaded from, are left untouched; the adapted copy is returned in the result.

Tasks that change between episodes: :class:`VecTaskSchedule` gives each copy's ``j``-th episode the reset options
``tasks(j)``, e.g. :func:`block_schedule` ``([{"goal": 0}, {"goal": 1}], block=30)`` holds the T-maze goal north
for 30 episodes, then south for 30, and so on.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import math
from typing import Any, Callable, Sequence

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from ..evaluation import EvalResult, _se, model_env
from ..vec_wrappers import apply_wrappers

TRAINABLE = ("towers", "all", "none")
Tasks = Callable[[int], "dict[str, Any] | None"]


def block_schedule(tasks: Sequence[dict[str, Any]], block: int, cycle: bool = True) -> Tasks:
    """Episode ``j`` gets ``tasks[(j // block) % len(tasks)]`` (``cycle=False``: the last task stays after the end)."""
    tasks = [dict(t) for t in tasks]
    if not tasks:
        raise ValueError("tasks must hold at least one options dict")
    if int(block) < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    block = int(block)

    def schedule(j: int) -> dict[str, Any]:
        k = j // block
        return tasks[k % len(tasks) if cycle else min(k, len(tasks) - 1)]

    return schedule


class VecTaskSchedule(VecEnvWrapper):
    """Resets each copy's ``j``-th episode with the options ``tasks(j)`` (``j`` counts that copy's episodes).

    Wraps the SB3 adapter of a memenvs native vector env directly (:class:`memenvs.sb3.GymnasiumVecEnv`): when
    copies finish, the adapter has already reset them (in the same step); this wrapper resets those copies once
    more with ``reset(options={"reset_mask": ..., **tasks(j)})`` of the vector env and hands on their new first
    observations. Only the reset observation changes; rewards, dones and terminal observations are untouched.
    ``episodes`` holds each copy's count of finished episodes.
    """

    def __init__(self, venv: VecEnv, tasks: Tasks) -> None:
        gym_venv = getattr(venv, "venv", None)
        if gym_venv is None or not hasattr(gym_venv, "core"):
            raise ValueError("VecTaskSchedule needs memenvs.sb3.GymnasiumVecEnv over a memenvs native vector env")
        super().__init__(venv)
        self.tasks = tasks
        self._gym_venv = gym_venv
        self.episodes = np.zeros(self.num_envs, dtype=np.int64)

    def _apply(self, idx: np.ndarray, obs: np.ndarray) -> np.ndarray:
        by_task: dict[str, tuple[dict[str, Any], list[int]]] = {}
        for i in idx:
            task = self.tasks(int(self.episodes[i])) or {}
            by_task.setdefault(repr(sorted(task.items())), (task, []))[1].append(int(i))
        for task, rows in by_task.values():
            if not task:
                continue  # the adapter's own reset already drew this copy's episode
            mask = np.zeros(self.num_envs, dtype=bool)
            mask[rows] = True
            new_obs, _ = self._gym_venv.reset(options={"reset_mask": mask, **task})
            obs[rows] = new_obs[rows]
        return obs

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self.episodes[:] = 0
        return self._apply(np.arange(self.num_envs), obs)

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        idx = np.flatnonzero(dones)
        if idx.size:
            self.episodes[idx] += 1
            obs = self._apply(idx, obs)
        return obs, rewards, dones, infos


def make_task_vec(
    env_id: str,
    n_envs: int,
    seed: int | None,
    env_kwargs: dict[str, Any] | None,
    wrappers: Sequence,
    tasks: Tasks | None,
) -> VecEnv:
    """Like :func:`memenvs.baselines.models.make_vec`, with :class:`VecTaskSchedule` innermost when ``tasks`` is given
    (so frame stacks and other wrappers see the scheduled episodes' observations)."""
    from memenvs.sb3 import EpisodeMonitor, make_vec_env

    venv = make_vec_env(env_id, n_envs=n_envs, seed=seed, monitor=False, **(env_kwargs or {}))
    if tasks is not None:
        venv = VecTaskSchedule(venv, tasks)
    venv = EpisodeMonitor(venv)
    wrappers = [tuple(w) for w in wrappers]
    space = venv.observation_space
    if isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 2:
        wrappers.insert(0, ("add_channel", {}))
    return apply_wrappers(venv, wrappers)


class _EpisodeRecorder(BaseCallback):
    """Records each copy's first ``n_episodes`` returns in order; stops the run when every copy has them all."""

    def __init__(self, n_envs: int, n_episodes: int) -> None:
        super().__init__()
        self.returns = np.full((n_envs, n_episodes), np.nan)
        self.lengths = np.zeros((n_envs, n_episodes), dtype=np.int64)
        self.count = np.zeros(n_envs, dtype=np.int64)
        self._ret = np.zeros(n_envs)
        self._len = np.zeros(n_envs, dtype=np.int64)
        self.rollouts = 0  # completed rollouts; each one is followed by one train() call

    def _on_rollout_end(self) -> None:
        self.rollouts += 1

    def _on_step(self) -> bool:
        rewards = np.asarray(self.locals["rewards"], dtype=np.float64)
        dones = np.asarray(self.locals["dones"], dtype=bool)
        self._ret += rewards
        self._len += 1
        n_episodes = self.returns.shape[1]
        for i in np.flatnonzero(dones):
            j = self.count[i]
            if j < n_episodes:
                self.returns[i, j] = self._ret[i]
                self.lengths[i, j] = self._len[i]
                self.count[i] += 1
            self._ret[i] = 0.0
            self._len[i] = 0
        return bool((self.count < n_episodes).any())


@dataclasses.dataclass(frozen=True)
class AdaptResult:
    """Outcome of :func:`evaluate_adapting`.

    ``returns[i, j]`` is the return of copy ``i``'s ``j``-th episode (``lengths`` likewise); ``tasks[j]`` the reset
    options of episode ``j`` (``None`` without a schedule); ``n_updates`` the number of ``train()`` calls made during
    the run (each is ``n_epochs`` passes for PPO, one step for A2C);
    ``model`` the adapted copy (the caller's model is not modified).
    """

    returns: np.ndarray
    lengths: np.ndarray
    tasks: tuple[dict[str, Any] | None, ...]
    trainable: str
    n_updates: int
    model: BaseAlgorithm

    @property
    def episode_mean(self) -> np.ndarray:
        """Mean return at each episode index, over the copies (the learning curve across the test)."""
        return self.returns.mean(axis=0)

    @property
    def episode_se(self) -> np.ndarray:
        """Standard error of :attr:`episode_mean` over the copies."""
        n = self.returns.shape[0]
        return self.returns.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros(self.returns.shape[1])

    def summary(self) -> EvalResult:
        """All episodes pooled, as :func:`memenvs.baselines.evaluation.evaluate` reports them (success not tracked)."""
        r = self.returns.reshape(-1)
        return EvalResult(float(r.mean()), _se(r), math.nan, math.nan, len(r), tuple(r.tolist()),
                          tuple(int(n) for n in self.lengths.reshape(-1)))


def _accepts(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.__init__).parameters


def evaluate_adapting(
    model: BaseAlgorithm,
    env_id: str | None = None,
    n_episodes: int = 50,
    seed: int = 0,
    *,
    trainable: str = "towers",
    n_envs: int = 8,
    env_kwargs: dict[str, Any] | None = None,
    tasks: Tasks | None = None,
    update_every: int = 4,
    **overrides: Any,
) -> AdaptResult:
    """Run ``n_episodes`` test episodes on each of ``n_envs`` copies while the model keeps learning.

    Args:
        model: a trained PPO, A2C or RecurrentPPO model (``trainable="towers"`` needs a fast/slow policy).
        env_id, env_kwargs: default to those the model was made with (``model.memenvs_spec``).
        n_episodes: episodes per copy; ``result.returns`` is ``(n_envs, n_episodes)``.
        seed: seeds the env and the algorithm (sampling, minibatch order).
        trainable: ``"towers"`` (muxer frozen), ``"all"`` or ``"none"`` (see the module docstring).
        n_envs: copies run side by side; each update uses ``update_every * n_envs`` fresh steps.
        tasks: per-episode reset options (see :func:`block_schedule`); ``None`` for the env's own draws.
        update_every: steps per copy between updates (the algorithm's ``n_steps`` during the test).
        **overrides: algorithm settings for the test (``learning_rate``, ``n_epochs``, ``batch_size``, ``ent_coef``,
            ...); by default the model's own, with one minibatch per update for PPO.

    The update is the algorithm's ``train()`` on the last ``update_every`` steps (its own loss, clipping, optimizer
    and optimizer state). Frozen parameters get ``requires_grad=False``, so they receive no gradient and the
    optimizer leaves them bit-identical.
    """
    if trainable not in TRAINABLE:
        raise ValueError(f"trainable must be one of {', '.join(TRAINABLE)}, got {trainable!r}")
    if int(n_episodes) < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    if int(update_every) < 1:
        raise ValueError(f"update_every must be >= 1, got {update_every}")
    if trainable == "towers" and not hasattr(model.policy, "tower_parameters"):
        raise ValueError("trainable='towers' needs a fast/slow policy (baseline 'fast_slow'); use 'all' or 'none'")
    spec, env_id, env_kwargs = model_env(model, env_id, env_kwargs)
    n_episodes, n_envs, update_every = int(n_episodes), int(n_envs), int(update_every)

    algo_cls = type(model)
    settings: dict[str, Any] = {"n_steps": update_every}
    if _accepts(algo_cls, "batch_size"):
        settings["batch_size"] = update_every * n_envs
    unknown = sorted(k for k in overrides if not _accepts(algo_cls, k) or k in ("policy", "env", "policy_kwargs"))
    if unknown:
        raise ValueError(f"unknown override(s) {unknown} for {algo_cls.__name__}")
    settings.update(overrides)

    venv = make_task_vec(env_id, n_envs, seed, env_kwargs, spec.get("wrappers", []), tasks)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    adapted = algo_cls.load(buffer, env=venv, device=model.device, seed=seed, **settings)
    adapted.memenvs_spec = {**spec, "env_id": env_id, "env_kwargs": dict(env_kwargs)}

    policy = adapted.policy
    if trainable == "towers":
        for p in policy.muxer_parameters():
            p.requires_grad_(False)
    elif trainable == "none":
        for p in policy.parameters():
            p.requires_grad_(False)
        adapted.train = lambda: None  # the same rollout loop with no update

    recorder = _EpisodeRecorder(n_envs, n_episodes)
    # An upper bound on the steps needed; the recorder ends the run as soon as every copy has its episodes.
    max_steps = int(getattr(getattr(venv.unwrapped, "venv", None), "_max_steps", 10_000))
    try:
        adapted.learn(n_envs * n_episodes * max_steps + n_envs * update_every, callback=recorder,
                      reset_num_timesteps=True)
    finally:
        venv.close()
    for p in policy.parameters():
        p.requires_grad_(True)
    if trainable == "none":
        del adapted.train
    if tasks is None:
        task_list: tuple[dict[str, Any] | None, ...] = (None,) * n_episodes
    else:
        task_list = tuple(tasks(j) for j in range(n_episodes))
    n_updates = 0 if trainable == "none" else recorder.rollouts
    return AdaptResult(recorder.returns, recorder.lengths, task_list, trainable, n_updates, adapted)
