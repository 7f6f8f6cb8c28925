"""Feature extractors and VecEnv wrappers used by the baselines.

* :class:`MlpFeatures` — fully connected layers before the memory core (the IAM paper's LSTM baseline: FC 640 → LSTM).
* :class:`SpatialCNN` — the Nature-DQN convolutions without the final dense layer; it keeps the ``(C, H, W)`` map
  shape so IAM's spatial attention can look at regions.
* :class:`VecOracleObservation` — appends the env's hidden state to each observation (calibration: an upper bound
  for memory baselines, computed by a feed-forward policy that is told what memory would have to infer).
* Frame stacking uses SB3's own ``VecFrameStack`` on the VecEnv (the frame-stack baseline is a plain ``MlpPolicy``
  on the last ``k`` observations concatenated); :data:`WRAPPERS` names it ``"frame_stack"``.
* :class:`VecAddChannel` — gives 2-D image observations (e.g. 84x84 grayscale Atari) the channel axis SB3's CNN
  policies expect.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecFrameStack
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn
from torch import nn


class MlpFeatures(BaseFeaturesExtractor):
    """Flatten, then fully connected layers with ReLU: ``net_arch=[640]`` is the IAM paper's LSTM-baseline FC."""

    def __init__(self, observation_space: gym.Space, net_arch: Sequence[int] = (640,)) -> None:
        net_arch = [int(n) for n in net_arch]
        if not net_arch or min(net_arch) < 1:
            raise ValueError(f"net_arch must be a non-empty list of positive ints, got {net_arch}")
        super().__init__(observation_space, net_arch[-1])
        n_in = int(np.prod(observation_space.shape))
        layers: list[nn.Module] = [nn.Flatten()]
        for width in net_arch:
            layers += [nn.Linear(n_in, width), nn.ReLU()]
            n_in = width
        self.net = nn.Sequential(*layers)

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return self.net(observations)


class SpatialCNN(BaseFeaturesExtractor):
    """Nature-DQN convolutions (32x8x8/4, 64x4x4/2, 64x3x3/1, ReLU), flattened; ``map_shape`` is ``(C, H, W)``.

    The observation must be a channel-first image (SB3 transposes channel-last images before the policy sees them).
    """

    def __init__(self, observation_space: spaces.Box) -> None:
        n_channels = int(observation_space.shape[0])
        convs = nn.Sequential(
            nn.Conv2d(n_channels, 32, kernel_size=8, stride=4),
            nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2),
            nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1),
            nn.ReLU(),
        )
        with th.no_grad():
            shape = convs(th.as_tensor(observation_space.sample()[None]).float()).shape[1:]
        super().__init__(observation_space, int(np.prod(shape)))
        self.map_shape = tuple(int(s) for s in shape)
        self.convs = convs

    def forward(self, observations: th.Tensor) -> th.Tensor:
        return th.flatten(self.convs(observations), start_dim=1)


def flatten_hidden_state(hidden: dict[str, np.ndarray], num_envs: int) -> np.ndarray:
    """The hidden-state dict of a vector env as one float32 row per copy (keys in sorted order)."""
    parts = [np.asarray(hidden[k], dtype=np.float32).reshape(num_envs, -1) for k in sorted(hidden)]
    return np.concatenate(parts, axis=1) if parts else np.zeros((num_envs, 0), dtype=np.float32)


class VecOracleObservation(VecEnvWrapper):
    """Appends the env's hidden state (``hidden_state()`` of the memenvs vector env) to each observation.

    Observations are flattened first (a ``(7, 7, 2)`` egocentric view becomes 98 numbers); image (uint8)
    observations are refused, since an MLP on raw pixels plus state is not a meaningful calibration.

    With SAME_STEP autoreset the state after a step already belongs to the next episode for copies that ended, so
    the ``terminal_observation`` of those copies is given the hidden state of the new episode; it is used only to
    bootstrap values at truncation, so the oracle's bound is unaffected in practice.
    """

    def __init__(self, venv: VecEnv) -> None:
        space = venv.observation_space
        if not isinstance(space, spaces.Box) or space.dtype == np.uint8:
            raise ValueError(f"the oracle needs a non-image Box observation space, got {space}")
        hidden = self._hidden(venv)
        width = hidden.shape[1]
        low = np.concatenate([space.low.reshape(-1), np.full(width, -np.inf)]).astype(np.float32)
        high = np.concatenate([space.high.reshape(-1), np.full(width, np.inf)]).astype(np.float32)
        super().__init__(venv, observation_space=spaces.Box(low, high, dtype=np.float32))

    @staticmethod
    def _hidden(venv: VecEnv) -> np.ndarray:
        try:
            hidden = venv.env_method("hidden_state", indices=[0])[0]
        except AttributeError:
            raise ValueError("the oracle needs a memenvs env (its vector env has hidden_state())") from None
        return flatten_hidden_state(hidden, venv.num_envs)

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        return np.concatenate([obs.reshape(len(obs), -1).astype(np.float32), self._hidden(self.venv)], axis=1)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, done, infos = self.venv.step_wait()
        hidden = self._hidden(self.venv)
        for i in np.flatnonzero(done):
            term = infos[i].get("terminal_observation")
            if term is not None:
                infos[i]["terminal_observation"] = np.concatenate([term.reshape(-1).astype(np.float32), hidden[i]])
        return np.concatenate([obs.reshape(len(obs), -1).astype(np.float32), hidden], axis=1), reward, done, infos


class VecAddChannel(VecEnvWrapper):
    """Adds a trailing channel axis to 2-D image observations (``(H, W)`` → ``(H, W, 1)``)."""

    def __init__(self, venv: VecEnv) -> None:
        space = venv.observation_space
        if not isinstance(space, spaces.Box) or len(space.shape) != 2:
            raise ValueError(f"VecAddChannel needs a 2-D Box observation space, got {space}")
        new = spaces.Box(space.low[..., None], space.high[..., None], dtype=space.dtype)
        super().__init__(venv, observation_space=new)

    def reset(self) -> np.ndarray:
        return self.venv.reset()[..., None]

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, done, infos = self.venv.step_wait()
        for i in np.flatnonzero(done):
            if infos[i].get("terminal_observation") is not None:
                infos[i]["terminal_observation"] = infos[i]["terminal_observation"][..., None]
        return obs[..., None], reward, done, infos


#: VecEnv wrappers a baseline record may name (name -> class; the record gives the kwargs).
WRAPPERS: dict[str, type[VecEnvWrapper]] = {
    "frame_stack": VecFrameStack,
    "oracle": VecOracleObservation,
    "add_channel": VecAddChannel,
}


def apply_wrappers(venv: VecEnv, wrappers: Sequence[tuple[str, dict[str, Any]]]) -> VecEnv:
    """Wrap ``venv`` in the named wrappers, innermost first."""
    for name, kwargs in wrappers:
        if name not in WRAPPERS:
            raise ValueError(f"unknown wrapper {name!r}; known: {', '.join(WRAPPERS)}")
        venv = WRAPPERS[name](venv, **kwargs)
    return venv
