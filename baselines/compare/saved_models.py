"""Trained models of a comparison: :func:`load_model` (whatever its algorithm), :class:`ModelPolicy` (a saved
model as ``policy(obs) -> action`` with its own wrappers and memory) and :func:`render_model` (its episodes' frames,
for ``memenvs render --model``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from .parsing import CompareError


def load_model(path: str | Path) -> Any:
    """Load an SB3 model saved by a comparison (``runs/<run_id>/model.zip``) or by ``model.save``, whatever its
    algorithm: the class comes from the saved policy (recurrent -> ``RecurrentPPO``), else each known algorithm
    is tried in turn."""
    from ..models import ALGORITHMS

    path = Path(path)
    if not path.is_file():
        raise CompareError(f"no model file at {str(path)!r}")
    errors = []
    for name, cls in _algorithm_order(path, ALGORITHMS):
        try:
            return cls.load(path, device="cpu")
        except Exception as err:  # a mismatched class fails somewhere inside SB3's loader; try the next
            errors.append(f"{name}: {err}")
    raise CompareError(f"cannot load {str(path)!r} with any known algorithm ({'; '.join(errors)})")


def _algorithm_order(path: Path, algorithms: dict[str, type]) -> list[tuple[str, type]]:
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
    from stable_baselines3.common.save_util import load_from_zip_file

    data, _, _ = load_from_zip_file(path, device="cpu", load_data=True)
    data = data or {}
    policy_class = data.get("policy_class")
    recurrent = isinstance(policy_class, type) and issubclass(policy_class, RecurrentActorCriticPolicy)
    feed_forward_first = "PPO" if "clip_range" in data else "A2C"  # A2C saves no clip range

    def rank(item: tuple[str, type]) -> tuple[int, int]:
        from sb3_contrib import RecurrentPPO

        name, cls = item
        return (0 if issubclass(cls, RecurrentPPO) == recurrent else 1, 0 if name == feed_forward_first else 1)

    return sorted(algorithms.items(), key=rank)


class _Tap(gym.Wrapper):
    """Remembers the last step's reward and info so a policy that only sees observations can feed them on."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.last: tuple[float, dict[str, Any]] = (0.0, {})

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.last = (float(reward), info)
        return obs, reward, terminated, truncated, info


class ModelPolicy:
    """A saved model as a ``policy(obs) -> action`` for :func:`memenvs.video.record_episodes`.

    The model's own observation wrappers (frame stack, oracle, previous action/reward, ...) are the SB3 VecEnv
    wrappers it trained with, applied to a one-copy VecEnv that replays what the real env just returned; the
    recurrent state is carried between steps and cleared by :meth:`reset` (``on_episode_start``).
    """

    def __init__(self, model: Any, env: _Tap, deterministic: bool = True) -> None:
        from stable_baselines3.common.vec_env import VecEnv

        from ..vec_wrappers import apply_wrappers

        self.model, self.env, self.deterministic = model, env, deterministic
        outer = self

        class Replay(VecEnv):
            """One copy whose reset/step return what the real env returned (the step already happened)."""

            def __init__(self) -> None:
                super().__init__(1, env.observation_space, env.action_space)

            def reset(self) -> np.ndarray:
                return outer.obs[None]

            def step_async(self, actions: np.ndarray) -> None:
                pass

            def step_wait(self) -> Any:
                reward, info = env.last
                return outer.obs[None], np.array([reward], dtype=np.float32), np.array([False]), [dict(info)]

            def close(self) -> None:
                pass

            def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
                return [getattr(env.unwrapped, attr_name)]

            def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
                setattr(env.unwrapped, attr_name, value)

            def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
                return [getattr(env.unwrapped, method_name)(*args, **kwargs)]

            def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
                return [False]

            def seed(self, seed: int | None = None) -> list[Any]:
                return [None]

        spec = getattr(model, "memenvs_spec", None) or {}
        wrappers = [(name, dict(kw)) for name, kw in spec.get("wrappers", [])]
        space = env.observation_space
        if isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 2:
            wrappers.insert(0, ("add_channel", {}))  # as make_vec does for 2-D images
        self.obs = np.zeros(space.shape, dtype=space.dtype)
        self.venv = apply_wrappers(Replay(), wrappers)
        self.reset()

    def reset(self) -> None:
        """A new episode: clear the recurrent state and the wrappers' memory."""
        self.state: Any = None
        self.action: Any = None

    def __call__(self, obs: Any) -> Any:
        self.obs = np.asarray(obs)
        if self.action is None:
            x = self.venv.reset()
            start = np.array([True])
        else:
            self.venv.step_async(np.asarray([self.action]))
            x = self.venv.step_wait()[0]
            start = np.array([False])
        actions, self.state = self.model.predict(x, state=self.state, episode_start=start,
                                                 deterministic=self.deterministic)
        self.action = actions[0]
        return self.action.item() if np.ndim(self.action) == 0 else self.action


def _check_fits(model: Any, policy: ModelPolicy, env: gym.Env, env_id: str, spec: dict[str, Any]) -> None:
    """The env (through the model's wrappers) gives the observations and takes the actions the model was trained
    on; otherwise an error naming both ids (SB3's own message is a bare shape mismatch)."""
    seen, trained = policy.venv.observation_space, model.observation_space
    if seen.shape == trained.shape and env.action_space == model.action_space:
        return
    trained_on = spec.get("env_id", "another env")
    if spec.get("env_kwargs"):
        trained_on += " " + ",".join(f"{k}={v}" for k, v in spec["env_kwargs"].items())
    # The env's own shape, and the model's after its wrappers (a time feature or a frame stack widens it), when
    # they differ: a user compares what the env gives with what the model saw.
    through = f", {seen.shape} through the model's wrappers" if seen.shape != env.observation_space.shape else ""
    raise CompareError(
        f"the model was trained on {trained_on} (observations {trained.shape} after its wrappers, actions "
        f"{model.action_space}); {env_id} gives observations {env.observation_space.shape}{through} and takes "
        f"actions {env.action_space}. Render it on the env it was trained on (the env id may be left out) or on one "
        "with the same spaces"
    )


def render_model(
    model_path: str | Path, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None, episodes: int = 1,
    seed: int = 0, max_frames: int = 2000, deterministic: bool = True,
) -> tuple[list[np.ndarray], list[float], gym.Env]:
    """Frames and returns of ``episodes`` episodes of a saved model (env id and kwargs default to the model's).

    Returns the env too (closed), for its ``metadata``.
    """
    from memenvs.video import record_episodes

    import memenvs  # noqa: F401

    model = load_model(model_path)
    spec = getattr(model, "memenvs_spec", None) or {}
    env_id = env_id or spec.get("env_id")
    if env_id is None:
        raise CompareError("the model does not say which env it was trained on; give the env id")
    if env_kwargs is None:
        env_kwargs = spec.get("env_kwargs", {}) if env_id == spec.get("env_id") else {}
    env = _Tap(gym.make(env_id, render_mode="rgb_array", **env_kwargs))
    try:
        policy = ModelPolicy(model, env, deterministic)
        _check_fits(model, policy, env, env_id, spec)
        frames, returns = record_episodes(env, episodes=episodes, seed=seed, policy=policy, max_frames=max_frames,
                                          on_episode_start=policy.reset)
    finally:
        env.close()
    return frames, returns, env
