"""Stable-Baselines3 ``VecEnv`` over a Gymnasium vector env, so SB3 trains on the native batched core.

SB3 expects SAME_STEP autoreset, a list of per-copy info dicts, ``infos[i]["terminal_observation"]`` and
``infos[i]["TimeLimit.truncated"]``. :class:`GymnasiumVecEnv` converts a Gymnasium ``VectorEnv`` running in
``SAME_STEP`` mode to exactly that; :func:`make_vec_env` builds one from any Gymnasium id (the native vector env where
the id has one that can reset in the same step, Gymnasium's sync vectorisation otherwise), flattens observations that
are not a ``Box`` (POPGym's discrete and tuple observations, MiniGrid's dicts) and adds SB3's ``VecMonitor`` for
episode statistics.

Importing this module imports SB3; ``import memenvs`` does not import it.
"""

from __future__ import annotations

from typing import Any, Sequence

import importlib
import inspect

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import load_env_creator
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers import FilterObservation, FlattenObservation
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


#: Spaces with a fixed-size numeric flat form (one-hot for the discrete ones) that a network can read.
_NUMERIC_SPACES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def _numeric(space: gym.Space) -> bool:
    if isinstance(space, spaces.Dict):
        return all(_numeric(sub) for sub in space.spaces.values())
    if isinstance(space, spaces.Tuple):
        return all(_numeric(sub) for sub in space.spaces)
    return isinstance(space, _NUMERIC_SPACES)


def observation_wrappers(env_id: str, space: gym.Space) -> list:
    """Gymnasium wrappers that turn ``space`` into one flat ``Box`` a baseline can read; none for a ``Box``.

    ``Discrete``, ``MultiDiscrete``, ``MultiBinary``, ``Tuple`` and ``Dict`` observations are flattened with
    Gymnasium's ``FlattenObservation`` (discrete parts one-hot). The parts of a ``Dict`` that have no numeric form
    (text, such as MiniGrid's ``mission`` sentence, graphs, sequences) are left out first with
    ``FilterObservation``, since no baseline here reads text; for MiniGrid's Memory envs the mission is the same
    sentence in every episode, so nothing is lost. A space with no numeric part at all raises a ``ValueError``.
    """
    if isinstance(space, spaces.Box):
        return []
    keep = _numeric_keys(env_id, space)
    if keep is not None and len(keep) < len(space.spaces):
        return [lambda env: FilterObservation(env, keep), FlattenObservation]
    return [FlattenObservation]


def flat_observation_space(env_id: str, space: gym.Space) -> spaces.Box:
    """The ``Box`` that :func:`observation_wrappers` turn ``space`` into (``space`` itself for a ``Box``)."""
    if isinstance(space, spaces.Box):
        return space
    keep = _numeric_keys(env_id, space)
    if keep is not None:
        space = spaces.Dict({key: space[key] for key in keep})
    return spaces.flatten_space(space)


def _numeric_keys(env_id: str, space: gym.Space) -> list[str] | None:
    """The keys of a ``Dict`` space with a numeric form (``None`` for other spaces); a ``ValueError`` where nothing
    of the space can be read by a network."""
    if isinstance(space, spaces.Dict):
        keep = [key for key, sub in space.spaces.items() if _numeric(sub)]
        if not keep:
            raise ValueError(f"{env_id}'s observation space {space} has no numeric part a network can read")
        return keep
    if not _numeric(space):
        raise ValueError(
            f"{env_id}'s observation space {space} has no numeric flat form; wrap the env so that it returns a Box"
        )
    return None


def find_spec(env_id: str) -> gym.envs.registration.EnvSpec:
    """``gym.spec`` that also takes ``"module:id"`` (as ``gym.make`` does), importing ``module`` first so that it
    registers its ids, e.g. ``"popgym:popgym-RepeatPreviousEasy-v0"`` or ``"minigrid:MiniGrid-MemoryS7-v0"``."""
    module, sep, name = env_id.rpartition(":")
    if sep:
        importlib.import_module(module)
    return gym.spec(name)


def _native_same_step(spec: gym.envs.registration.EnvSpec) -> bool:
    """Whether the id's own vector env can reset finished copies in the same step (memenvs' native envs can;
    Gymnasium's ``CartPoleVectorEnv`` and most others only autoreset on the next step and take no such argument)."""
    if spec.vector_entry_point is None:
        return False
    creator = spec.vector_entry_point
    if isinstance(creator, str):
        creator = load_env_creator(creator)
    return "autoreset_mode" in inspect.signature(creator).parameters


def make_vec_env(
    env_id: str,
    n_envs: int = 8,
    seed: int | None = None,
    monitor: bool = True,
    render_mode: str | None = None,
    **env_kwargs: Any,
) -> VecEnv:
    """An SB3 ``VecEnv`` of ``n_envs`` copies of ``env_id``, any Gymnasium id.

    Uses the id's native batched vector env when it has one that resets in the same step (all memenvs ids but
    Atari), else Gymnasium's ``SyncVectorEnv`` (Atari, CartPole-v1, POPGym, MiniGrid, ...). Observations that are
    not a ``Box`` are flattened into one (see :func:`observation_wrappers`). ``render_mode`` is passed only when
    given, since some envs (POPGym's) take no such argument. ``monitor=True`` wraps it in SB3's ``VecMonitor`` so
    episode returns are logged.

    Example::

        from stable_baselines3 import PPO
        from memenvs.sb3 import make_vec_env

        venv = make_vec_env("memenvs/TMaze-v0", n_envs=16, seed=0, length=5)
        PPO("MlpPolicy", venv).learn(10_000)
    """
    n_envs = check_int("n_envs", n_envs, 1)
    spec = find_spec(env_id)
    if render_mode is not None:
        env_kwargs["render_mode"] = render_mode
    if _native_same_step(spec):
        venv = gym.make_vec(env_id, num_envs=n_envs, autoreset_mode=AutoresetMode.SAME_STEP, **env_kwargs)
    else:
        venv = _sync_vec(env_id, n_envs, env_kwargs, [])
        wrappers = observation_wrappers(env_id, venv.single_observation_space)
        if wrappers:
            venv.close()
            venv = _sync_vec(env_id, n_envs, env_kwargs, wrappers)
    vec_env: VecEnv = GymnasiumVecEnv(venv)
    if seed is not None:
        vec_env.seed(seed)
    if monitor:
        vec_env = VecMonitor(vec_env)
    return vec_env


def _sync_vec(env_id: str, n_envs: int, env_kwargs: dict[str, Any], wrappers: list) -> gym.vector.VectorEnv:
    return gym.make_vec(
        env_id,
        num_envs=n_envs,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
        wrappers=wrappers,
        **env_kwargs,
    )
