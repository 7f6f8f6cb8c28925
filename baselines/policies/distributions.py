"""Action distributions that cannot saturate completely, and the actor-critic policies that use them.

PPO's junction trap on the passive T-maze (the junction is seen only after ``length`` steps east, by which time the
east logit is saturated there too) leaves ``p(east | junction) = 1.0000``: north and south are never sampled, and
the softmax's gradient ``p (1 - p)`` is zero, so neither the advantage nor the entropy bonus can bring them back.

``logit_radius`` puts the centred logits on a ball of radius ``logit_radius``: any centred
logit vector longer than the radius is scaled back onto the sphere. Every action then keeps at least
``1 / (1 + (n - 1) exp(r sqrt(n / (n - 1))))`` probability (:func:`probability_range`; 0.33% for four actions at
radius 4, where the greedy action has at most 97.1%), so the trap's missing actions keep being sampled. Unlike a
probability floor (a mixture ``(1 - eps) softmax + eps / n``, whose gradient vanishes once the softmax part is far
below ``eps / n``) or ``tanh``-bounded logits (whose gradient vanishes where ``tanh`` saturates), the projection
removes only the radial component of the gradient (scaling the rest by ``radius / norm``): moving probability from
one action to another, a rotation on the sphere, still moves the logits, and the radial direction, which no
gradient can lengthen, keeps the norm near the radius. The greedy action is unchanged (the projection is a positive
scaling of the centred logits). Measured in docs/results/ppo_junction_trap.md.

:class:`CategoricalPolicyDistribution` adds a second, independent option, ``entropy_bonus``: what PPO's
``ent_coef`` term rewards. ``"entropy"`` (SB3's) is the entropy ``H(p)``, whose gradient with respect to a logit,
``-p_a (log p_a + H)``, also vanishes as ``p_a -> 0``: in a state where the advantages do not separate the actions
(the junction of a trapped policy: every episode there ends with return 0), the entropy cannot undo a saturation
that the network carried over from other states. ``"uniform_kl"`` is ``-KL(uniform || p) = mean_a log p_a + log n``
(0 at the uniform policy, below it elsewhere), whose gradient ``1/n - p_a`` stays near ``1/n`` for an action that
is almost never taken. Where the advantages do separate the actions it holds a rarely right action at about
``ent_coef / (n * advantage gap)``, where they do not it pulls the state back toward uniform. On the passive T-maze,
with the critic told the time, the MLP reached the memoryless bound at length 50 on 4 of 4 seeds with this bonus
and no bound, on 2 of 4 with the bounded logits and either bonus (docs/results/ppo_junction_trap.md). PPO logs the
bonus under its usual name ``entropy_loss``.
"""

from __future__ import annotations

import math
from typing import Any

import torch as th
from gymnasium import spaces
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.type_aliases import Schedule

from .critic_inputs import CriticInputsMixin, check_critic_only_features, hide_from_actor


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


#: What PPO's ``ent_coef`` term rewards (see the module).
ENTROPY_BONUSES = ("entropy", "uniform_kl")


class CategoricalPolicyDistribution(CategoricalDistribution):
    """SB3's categorical distribution, its logits optionally bounded by :func:`ball_logits` (``radius``), with the
    ``entropy_bonus`` (see the module) as what :meth:`entropy` returns to the algorithm's bonus term."""

    def __init__(self, action_dim: int, radius: float | None = None, entropy_bonus: str = "entropy") -> None:
        super().__init__(action_dim)
        self.radius = None if radius is None else float(radius)
        self.entropy_bonus = entropy_bonus

    def proba_distribution(self, action_logits: th.Tensor) -> CategoricalPolicyDistribution:
        if self.radius is not None:
            action_logits = ball_logits(action_logits, self.radius)
        return super().proba_distribution(action_logits)

    def entropy(self) -> th.Tensor:
        if self.entropy_bonus == "uniform_kl":
            log_p = self.distribution.logits  # torch keeps them normalised: log-probabilities
            return log_p.mean(dim=-1) + math.log(log_p.shape[-1])
        return super().entropy()


def check_radius(logit_radius: float | None, action_space: spaces.Space) -> float | None:
    """Validate the ``logit_radius`` policy argument."""
    if logit_radius is None:
        return None
    if isinstance(logit_radius, bool) or not isinstance(logit_radius, (int, float)) or not logit_radius > 0:
        raise ValueError(f"logit_radius must be a number > 0 or None, got {logit_radius!r}")
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"logit_radius needs a Discrete action space, got {action_space}")
    return float(logit_radius)


def check_entropy_bonus(entropy_bonus: str, action_space: spaces.Space) -> str:
    """Validate the ``entropy_bonus`` policy argument."""
    if entropy_bonus not in ENTROPY_BONUSES:
        raise ValueError(f"entropy_bonus must be one of {', '.join(ENTROPY_BONUSES)}, got {entropy_bonus!r}")
    if entropy_bonus != "entropy" and not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"entropy_bonus={entropy_bonus!r} needs a Discrete action space, got {action_space}")
    return entropy_bonus


class BoundedDistributionMixin:
    """Gives an SB3 actor-critic policy the ``logit_radius`` and ``entropy_bonus`` arguments (``None`` and
    ``"entropy"``: the plain categorical)."""

    logit_radius: float | None
    entropy_bonus: str

    def _build(self, lr_schedule: Schedule) -> None:
        if self.logit_radius is not None or self.entropy_bonus != "entropy":
            self.action_dist = CategoricalPolicyDistribution(int(self.action_space.n), self.logit_radius,
                                                             self.entropy_bonus)
        super()._build(lr_schedule)  # type: ignore[misc]

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()  # type: ignore[misc]
        data["logit_radius"] = self.logit_radius
        data["entropy_bonus"] = self.entropy_bonus
        return data


class BoundedActorCriticPolicy(CriticInputsMixin, BoundedDistributionMixin, ActorCriticPolicy):
    """SB3's ``ActorCriticPolicy`` (the MLP baseline's) with optional ``logit_radius`` and ``entropy_bonus`` (see the
    module) and ``critic_only_features``, the trailing observation features only the critic sees
    (:mod:`~memenvs.baselines.policies.critic_inputs`)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, lr_schedule: Schedule, *,
                 logit_radius: float | None = None, entropy_bonus: str = "entropy", critic_only_features: int = 0,
                 **kwargs: Any) -> None:
        self.logit_radius = check_radius(logit_radius, action_space)
        self.entropy_bonus = check_entropy_bonus(entropy_bonus, action_space)
        self.critic_only_features = check_critic_only_features(critic_only_features, observation_space, kwargs)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
        hide_from_actor(self, self.critic_only_features)
