"""Trust-region-guided clipping for PPO with a categorical policy (Wang, He, Tan and Gan, "Trust Region-Guided
Proximal Policy Optimization", NeurIPS 2019).

PPO clips the probability ratio ``r = pi(a | s) / pi_old(a | s)`` of every sample to ``[1 - eps, 1 + eps]``. For an
action the old policy rarely takes that is a tight leash: one rewarded sample of an action at probability 1e-3 can
raise it to 1.2e-3 at most, so a policy that has nearly ruled an action out needs many lucky samples to bring it
back (the paper's analysis of PPO's exploration; on the passive T-maze, the junction's arms once the corridor's
east has saturated).

The paper widens each sample's range to what a KL trust region allows. With ``p = pi_old(a | s)`` of the action
taken, the bounds are the smallest and largest ratio ``q / p`` of a new policy within ``KL(pi_old || pi) <= delta``
at that state; the KL is smallest when the other actions keep their proportions, so with ``q`` the action's new
probability

    KL(q) = p log(p / q) + (1 - p) log((1 - p) / (1 - q)),

which falls from ``+inf`` at ``q = 0`` to 0 at ``q = p`` and rises to ``+inf`` at ``q = 1``. The clipping range of
the sample is then ``[min(l, 1 - eps), max(u, 1 + eps)]`` with ``l`` and ``u`` the roots of ``KL(q) = delta`` below
and above ``p``, divided by ``p``: never narrower than PPO's.
A rare action (``p`` much below ``delta``) may rise to about ``delta`` in probability in one update; a likely one
keeps PPO's range. The paper solves the roots from a table; here they are bisected, vectorised over the minibatch.
"""

from __future__ import annotations

from typing import Callable

import torch as th

#: Bisection steps: each halves the bracket of ``log q`` (below ``p``) or ``log(1 - q)`` (above it), 80 wide; after
#: 40 it is 7e-11 wide, a relative error in the bound far below float32's.
_STEPS = 40


def kl_to_old(p: th.Tensor, q: th.Tensor) -> th.Tensor:
    """``KL(pi_old || pi)`` of two categorical policies that differ only in one action's probability, ``p`` before and
    ``q`` after, the others rescaled in proportion."""
    return _kl(p, th.log(q), th.log1p(-q))


def _kl(p: th.Tensor, log_q: th.Tensor, log_rest: th.Tensor) -> th.Tensor:
    # KL(q) from log q and log(1 - q): a root near 1 is resolved in 1 - q, which float64 keeps to its last digit
    # where q itself would round to 1.
    rest = 1 - p
    moved = th.where(rest > 0, rest * (th.log(rest) - log_rest), th.zeros_like(p))
    return p * (th.log(p) - log_q) + moved


def ratio_bounds(old_prob: th.Tensor, delta: float) -> tuple[th.Tensor, th.Tensor]:
    """The smallest and largest ratio ``q / p`` with ``KL(q) <= delta`` (see the module), per sample.

    Args:
        old_prob: the old policy's probability of each sample's action, in ``(0, 1]``.
        delta: the trust region's radius, ``> 0``.
    """
    p = old_prob.detach().double().clamp(1e-30, 1.0)
    # Below p the root is bisected in s = log q, above p in s = log(1 - q) (at p = 1 that bracket is the point
    # q = 1, and the bound 1). KL grows like -p log q below p, so for delta up to 80 p the root lies within 80 of
    # log p; beyond, the ratio is under e^-80, 0 in float32 anyway.
    log_q = _root_towards(p.log(), lambda s: _kl(p, s, th.log1p(-s.exp())) <= delta)
    log_rest = _root_towards(th.log1p(-p), lambda s: _kl(p, th.log1p(-s.exp()), s) <= delta)
    return (log_q.exp() / p).to(old_prob.dtype), (-th.expm1(log_rest) / p).to(old_prob.dtype)


def _root_towards(edge: th.Tensor, inside: Callable[[th.Tensor], th.Tensor]) -> th.Tensor:
    """Bisect ``[edge - 80, edge]``, where ``edge`` (the old policy) is inside the region and ``edge - 80`` is not,
    for the point farthest from ``edge`` that ``inside`` still accepts."""
    lo, hi = edge - 80.0, edge
    for _ in range(_STEPS):
        mid = 0.5 * (lo + hi)
        accepted = inside(mid)
        lo, hi = th.where(accepted, lo, mid), th.where(accepted, mid, hi)
    return hi


def clip_bounds(old_log_prob: th.Tensor, clip_range: float, delta: float | None) -> tuple[th.Tensor, th.Tensor]:
    """Per-sample clipping range of the ratio: PPO's ``[1 - clip_range, 1 + clip_range]``, widened to the trust
    region of radius ``delta`` (see the module) unless ``delta`` is ``None``."""
    lower = th.full_like(old_log_prob, 1.0 - clip_range)
    upper = th.full_like(old_log_prob, 1.0 + clip_range)
    if delta is None:
        return lower, upper
    kl_lower, kl_upper = ratio_bounds(old_log_prob.exp(), delta)
    return th.minimum(lower, kl_lower), th.maximum(upper, kl_upper)
