"""An action distribution that cannot saturate completely, and the actor-critic policies that use it.

PPO's junction trap on the passive T-maze (the junction is seen only after ``length`` steps east, by which time the
east logit is saturated there too) leaves ``p(east | junction) = 1.0000``: north and south are never sampled, and
the softmax's gradient ``p (1 - p)`` is zero, so neither the advantage nor the entropy bonus can bring them back.

:class:`BallCategoricalDistribution` puts the centred logits on a ball of radius ``logit_radius``: any centred
logit vector longer than the radius is scaled back onto the sphere. Every action then keeps at least
``1 / (1 + (n - 1) exp(r sqrt(n / (n - 1))))`` probability (:func:`probability_range`; 0.33% for four actions at
radius 4, where the greedy action has at most 97.1%), so the trap's missing actions keep being sampled. Unlike a
probability floor (a mixture ``(1 - eps) softmax + eps / n``, whose gradient vanishes once the softmax part is far
below ``eps / n``) or ``tanh``-bounded logits (whose gradient vanishes where ``tanh`` saturates), the projection
removes only the radial component of the gradient (scaling the rest by ``radius / norm``): moving probability from
one action to another, a rotation on the sphere, still moves the logits, and the radial direction, which no
gradient can lengthen, keeps the norm near the radius. The greedy action is unchanged (the projection is a positive
scaling of the centred logits). Measured in docs/results/ppo_junction_trap.md.
"""

from __future__ import annotations

import math
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule


def ball_logits(logits: th.Tensor, radius: float) -> th.Tensor:
    """Centre ``logits`` (last axis) and scale those longer than ``radius`` back onto the sphere of that radius."""
    centred = logits - logits.mean(dim=-1, keepdim=True)
    norm = centred.norm(dim=-1, keepdim=True)
    return centred * th.clamp(radius / norm.clamp_min(1e-12), max=1.0)


def probability_range(radius: float, n_actions: int) -> tuple[float, float]:
    """The smallest and the largest probability an action can have under :func:`ball_logits` with ``radius``: one
    action down (up) by ``gap = radius * sqrt(n / (n - 1))`` from the others, which are equal."""
    if n_actions < 2:
        return 1.0, 1.0
    gap = radius * math.sqrt(n_actions / (n_actions - 1))
    return 1.0 / (1.0 + (n_actions - 1) * math.exp(gap)), 1.0 / (1.0 + (n_actions - 1) * math.exp(-gap))


class BallCategoricalDistribution(CategoricalDistribution):
    """SB3's categorical distribution over logits bounded by :func:`ball_logits` (``radius``)."""

    def __init__(self, action_dim: int, radius: float) -> None:
        super().__init__(action_dim)
        self.radius = float(radius)

    def proba_distribution(self, action_logits: th.Tensor) -> BallCategoricalDistribution:
        return super().proba_distribution(ball_logits(action_logits, self.radius))


def check_radius(logit_radius: float | None, action_space: spaces.Space) -> float | None:
    """Validate the ``logit_radius`` policy argument."""
    if logit_radius is None:
        return None
    if isinstance(logit_radius, bool) or not isinstance(logit_radius, (int, float)) or not logit_radius > 0:
        raise ValueError(f"logit_radius must be a number > 0 or None, got {logit_radius!r}")
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"logit_radius needs a Discrete action space, got {action_space}")
    return float(logit_radius)


class BoundedDistributionMixin:
    """Gives an SB3 actor-critic policy the ``logit_radius`` argument (``None``: the plain categorical)."""

    logit_radius: float | None

    def _build(self, lr_schedule: Schedule) -> None:
        if self.logit_radius is not None:
            self.action_dist = BallCategoricalDistribution(int(self.action_space.n), self.logit_radius)
        super()._build(lr_schedule)  # type: ignore[misc]

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data["logit_radius"] = self.logit_radius
        return data


class BoundedActorCriticPolicy(BoundedDistributionMixin, ActorCriticPolicy):
    """SB3's ``ActorCriticPolicy`` (the MLP baseline's) with an optional ``logit_radius`` (see the module)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Schedule, *,
                 logit_radius: float | None = None, **kwargs: Any) -> None:
        self.logit_radius = check_radius(logit_radius, action_space)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
