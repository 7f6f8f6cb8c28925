"""Feature extractors: the torch layers between an observation and a policy's memory core or heads.

* :class:`MlpFeatures` — fully connected layers before the memory core (the IAM paper's LSTM baseline: FC 640 → LSTM).
* :class:`SpatialCNN` — the Nature-DQN convolutions without the final dense layer; it keeps the ``(C, H, W)`` map
  shape so IAM's spatial attention can look at regions.

The VecEnv wrappers a baseline names (frame stacking, the oracle's hidden state, ...) are in
:mod:`memenvs.baselines.vec_wrappers`.
"""

from __future__ import annotations

from typing import Sequence


import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
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
