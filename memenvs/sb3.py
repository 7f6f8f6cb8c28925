"""Stable-Baselines3 ``VecEnv`` over a Gymnasium vector env, so SB3 trains on the native batched core.

SB3 expects SAME_STEP autoreset, a list of per-copy info dicts, ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"]``. :class:`GymnasiumVecEnv` converts a Gymnasium ``VectorEnv`` running in
``SAME_STEP`` mode to exactly that; :func:`make_vec_env` builds one from an id (the native vector env where the id has
one, Gymnasium's sync vectorisation otherwise) and adds SB3's ``VecMonitor`` for episode statistics.

Importing this module imports SB3; ``import memenvs`` does not import it.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn

import memenvs  # noqa: F401  (registers the ids)
from memenvs.envs.params import check_int

_VECTOR_KEYS = ("final_obs", "final_info")


class GymnasiumVecEnv(VecEnv):
    """An SB3 ``VecEnv`` backed by one Gymnasium ``VectorEnv`` in ``SAME_STEP`` autoreset mode.

    Attribute access and method calls (``get_attr``, ``env_method``) go to the vector env once and the answer is
    repeated for each requested index, because the copies share one batched object. ``seed(s)`` reseeds the
    vector env's single generator with ``s`` at the next ``reset()``.
    """

    def __init__(self, venv: gym.vector.VectorEnv) -> None:
        mode = venv.metadata.get("autoreset_mode")
        if mode is not AutoresetMode.SAME_STEP:
            raise ValueError(f"GymnasiumVecEnv needs a vector env with autoreset_mode=SAME_STEP, got {mode}")
        self.venv = venv
        self._actions: np.ndarray | None = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        options = self._options[0] or None
        obs, info = self.venv.reset(seed=seed, options=options)
        self.reset_infos = self._split_info(info)
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, terminated, truncated, info = self.venv.step(self._actions)
        infos = self._split_info(info)
        done = terminated | truncated
        if done.any():
            # As in SB3's DummyVecEnv: a finished copy's info is that of its last step (the info of the reset that
            # followed goes to reset_infos), plus the terminal observation and the truncation flag.
            final_obs = info["final_obs"]
            final_infos = self._split_info(info.get("final_info", {}))
            for i in np.flatnonzero(done):
                self.reset_infos[i] = infos[i]
                infos[i] = final_infos[i]
                infos[i]["terminal_observation"] = final_obs[i]
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
        return obs, reward.astype(np.float32, copy=False), done, infos

    def _split_info(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        """Gymnasium's dict of batched arrays -> SB3's list of per-copy dicts.

        Keys present for every copy (the native envs' case) are transposed in one pass with ``zip``; a per-copy
        loop runs only for keys whose ``_key`` mask says some copies lack them (Gymnasium's sync vector env)."""
        n = self.num_envs
        full, partial = [], []
        for key, value in info.items():
            if key.startswith("_") or key in _VECTOR_KEYS:
                continue
            mask = info.get("_" + key)
            (full if mask is None or bool(np.all(mask)) else partial).append(key)
        if full:
            columns = [_rows(info[k]) for k in full]
            infos = [dict(zip(full, row)) for row in zip(*columns)]
        else:
            infos = [{} for _ in range(n)]
        for key in partial:
            mask, value = info["_" + key], info[key]
            for i in np.flatnonzero(mask):
                infos[i][key] = value[i]
        return infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self) -> Sequence[np.ndarray | None]:
        if self.venv.render_mode != "rgb_array":
            return [None] * self.num_envs
        return list(self.venv.render())

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        value = getattr(self.venv, attr_name)
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        if len(list(self._get_indices(indices))) != self.num_envs:
            raise ValueError("set_attr applies to all copies of a batched env at once; pass indices=None")
        setattr(self.venv, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list:
        result = getattr(self.venv, method_name)(*method_args, **method_kwargs)
        return [result for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def _rows(value: Any) -> list:
    """The per-copy entries of a batched info value: Python scalars for 1-D arrays (``tolist`` is the fast
    transpose), row views for arrays with more dimensions."""
    value = np.asarray(value)
    return value.tolist() if value.ndim == 1 else list(value)


def make_vec_env(
    env_id: str,
    n_envs: int = 8,
    seed: int | None = None,
    monitor: bool = True,
    render_mode: str | None = None,
    **env_kwargs: Any,
) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` copies of ``env_id``.

    Uses the id's native batched vector env when it has one (all memenvs grid envs), else Gymnasium's
    ``SyncVectorEnv`` (e.g. Atari). ``monitor=True`` wraps it in SB3's ``VecMonitor`` so episode returns are logged.

    Example::

        from stable_baselines3 import PPO
        from memenvs.sb3 import make_vec_env

        venv = make_vec_env("memenvs/TMaze-v0", n_envs=16, seed=0, length=5)
        PPO("MlpPolicy", venv).learn(10_000)
    """
    n_envs = check_int("n_envs", n_envs, 1)
    spec = gym.spec(env_id)
    if spec.vector_entry_point is not None:
        venv = gym.make_vec(
            env_id, num_envs=n_envs, autoreset_mode=AutoresetMode.SAME_STEP, render_mode=render_mode, **env_kwargs
        )
    else:
        venv = gym.make_vec(
            env_id,
            num_envs=n_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            render_mode=render_mode,
            **env_kwargs,
        )
    vec_env: VecEnv = GymnasiumVecEnv(venv)
    if seed is not None:
        vec_env.seed(seed)
    if monitor:
        vec_env = VecMonitor(vec_env)
    return vec_env
