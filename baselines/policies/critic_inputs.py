"""Observation features that only the critic sees (an asymmetric actor-critic).

A policy built with ``critic_only_features=k`` hides the last ``k`` features of the flat observation from the actor:
its features extractor sees them as zeros, so the action distribution cannot depend on them, while the critic (its
own extractor, and its own memory core in the recurrent policies) reads them in full. The value function is used
only in training, so the acting policy stays what its name says (a memoryless MLP stays memoryless) while its
advantage estimates may use information the actor must not have (Pinto et al. 2018, "Asymmetric Actor Critic for
Image-Based Robot Learning").

The use in memenvs is the time in a fixed-horizon episode (:class:`~memenvs.baselines.vec_wrappers.VecTimeFeature`).
Pardo et al. 2018 ("Time Limits in Reinforcement Learning") show that a value function which cannot see the time in
a time-limited task fits an average over times. On Ni et al.'s passive T-maze every corridor cell looks the same, so
a critic without the time gives advantages dominated by that averaging error (largest at the last step, where the
return jumps), and PPO's per-minibatch normalisation turns it into noise as large as the signal of the few
on-schedule steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from torch import nn


class ActorView(nn.Module):
    """A features extractor that sees the observation with its last ``hidden`` features set to zero."""

    def __init__(self, extractor: nn.Module, hidden: int) -> None:
        super().__init__()
        self.extractor = extractor
        self.hidden = int(hidden)
        self.features_dim = extractor.features_dim
        if hasattr(extractor, "map_shape"):
            self.map_shape = extractor.map_shape

    def forward(self, observations: th.Tensor) -> th.Tensor:
        shown = observations.reshape(len(observations), -1).clone()
        shown[:, -self.hidden:] = 0.0
        return self.extractor(shown.reshape(observations.shape))


def check_critic_only_features(value: Any, observation_space: spaces.Space, kwargs: dict[str, Any]) -> int:
    """Validate ``critic_only_features`` and, when it is > 0, ask the policy for separate actor and critic extractors
    (``kwargs`` is the policy's remaining keyword arguments, updated in place)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"critic_only_features must be an integer >= 0, got {value!r}")
    value = int(value)
    if value == 0:
        return 0
    if not isinstance(observation_space, spaces.Box):
        raise ValueError(f"critic_only_features needs a Box observation space, got {observation_space}")
    width = int(np.prod(observation_space.shape))
    if value >= width:
        raise ValueError(f"critic_only_features must be smaller than the observation's {width} features, got {value}")
    if kwargs.get("share_features_extractor", False):
        raise ValueError("critic_only_features needs share_features_extractor=False: the actor's extractor hides "
                         "features the critic's reads")
    kwargs["share_features_extractor"] = False
    return value


def hide_from_actor(policy: Any, hidden: int) -> None:
    """Put the actor's features extractor of a built SB3 actor-critic ``policy`` behind an :class:`ActorView`."""
    if hidden:
        policy.pi_features_extractor = ActorView(policy.pi_features_extractor, hidden)
        policy.features_extractor = policy.pi_features_extractor


class CriticInputsMixin:
    """Saves an SB3 actor-critic policy's ``critic_only_features`` with its other constructor arguments."""

    critic_only_features: int

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data["critic_only_features"] = self.critic_only_features
        return data
