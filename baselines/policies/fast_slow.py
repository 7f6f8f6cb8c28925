"""Fast/slow weights: two towers on the observation that learn at different rates, combined by a muxer.

The weights of a network are a memory of what the agent
has experienced; a tower with a high learning rate (*fast*) follows the last few episodes, a tower with a low one
(*slow*) keeps what held over the whole of training, and a *muxer* combines them into the policy and the value.
At test time the towers keep learning by backprop while the muxer is frozen
(:func:`memenvs.baselines.algorithms.test_time_adaptation.evaluate_adapting`), so evaluation is online learning.
Classical roots: Hinton & Plaut 1987 (fast and slow weights on each connection); Ba et al. 2016 (fast weights as a
short-term memory).

Layout inside SB3 (``ActorCriticPolicy``: features extractor -> ``mlp_extractor`` -> heads):

* :class:`FastSlowTowers` is the features extractor: the flattened observation goes through the fast MLP and the
  slow MLP (default two tanh layers of 64 each, as in the original sketch); their outputs are concatenated. With
  ``share_features_extractor=True`` (the default) actor and critic share the towers.
* The **muxer** is everything after the towers: SB3's ``mlp_extractor`` (default two tanh layers of 64 over the
  concatenation, separate for the policy and the value) and the linear action and value heads. Separate branches
  were chosen so that value regression does not pull on the policy's combination of the towers; the towers are
  shared, so both losses teach them.
* In :class:`FastSlowRecurrentPolicy` (sb3-contrib ``RecurrentPPO``) the towers are the feature trunk in front of
  the memory core, and the core belongs to the muxer.

Per-tower learning rates are *multipliers* of the algorithm's learning rate (``lr_scales``, default fast x10,
slow x0.1, muxer x1). SB3 writes the same ``lr`` into every parameter group at every update
(``update_learning_rate``), which would erase per-group rates; so each group keeps its multiplier under the key
``"lr_scale"`` and the optimizer (a subclass of the configured one made by :func:`scaled_optimizer_class`)
multiplies ``lr`` by it inside ``step()`` only. ``param_groups[i]["lr"]`` therefore always shows SB3's scheduled
rate and :func:`effective_learning_rates` the rates actually applied. The multipliers are saved in the optimizer's
state dict and in the policy's constructor arguments, so they survive ``save``/``load``.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from .memory_policy import MemoryActorCriticPolicy

#: Default learning-rate multipliers per parameter group.
DEFAULT_LR_SCALES: dict[str, float] = {"fast": 10.0, "slow": 0.1, "muxer": 1.0}
GROUPS = ("fast", "slow", "muxer")


# ------------------------------------------------------------------ optimizer with per-group multipliers
class LRScaleMixin:
    """Mixed into a ``torch.optim.Optimizer`` subclass: ``step()`` uses ``lr * group["lr_scale"]`` for each group.

    The scaled rate is written only for the duration of the step, so whatever sets ``group["lr"]`` between steps
    (SB3's schedule) keeps being multiplied, never overwritten.
    """

    applies_lr_scale = True

    def step(self, closure: Any = None) -> Any:
        base = [group["lr"] for group in self.param_groups]
        for group in self.param_groups:
            group["lr"] = group["lr"] * group.get("lr_scale", 1.0)
        try:
            return super().step(closure)
        finally:
            for group, lr in zip(self.param_groups, base):
                group["lr"] = lr


def scaled_optimizer_class(base: type[th.optim.Optimizer]) -> type[th.optim.Optimizer]:
    """The subclass of ``base`` that applies each group's ``lr_scale`` (``base`` itself if it already does).

    Classes are made once per base and kept as module attributes under their own name, so optimizers stay
    picklable.
    """
    if getattr(base, "applies_lr_scale", False):
        return base
    name = f"LRScaled{base.__name__}"
    cls = globals().get(name)
    if cls is None or cls.__mro__[2] is not base:
        cls = type(name, (LRScaleMixin, base), {"__module__": __name__, "__qualname__": name})
        globals()[name] = cls
    return cls


def effective_learning_rates(optimizer: th.optim.Optimizer) -> dict[str, float]:
    """The learning rate each named group gets at the next ``step()`` (scheduled rate x multiplier)."""
    return {
        group.get("name", str(i)): float(group["lr"] * group.get("lr_scale", 1.0))
        for i, group in enumerate(optimizer.param_groups)
    }


def check_lr_scales(lr_scales: dict[str, float] | None) -> dict[str, float]:
    """Defaults filled in; ``ValueError`` for unknown groups or multipliers that are not finite and >= 0."""
    scales = dict(DEFAULT_LR_SCALES)
    for key, value in (lr_scales or {}).items():
        if key not in GROUPS:
            raise ValueError(f"lr_scales: unknown group {key!r}; allowed: {', '.join(GROUPS)}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"lr_scales[{key!r}] must be a number >= 0, got {value!r}") from None
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"lr_scales[{key!r}] must be a finite number >= 0, got {value!r}")
        scales[key] = value
    return scales


def _check_arch(name: str, arch: Sequence[int]) -> list[int]:
    try:
        out = [int(n) for n in arch]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a non-empty list of positive ints, got {arch!r}") from None
    if not out or min(out) < 1:
        raise ValueError(f"{name} must be a non-empty list of positive ints, got {arch!r}")
    return out


# ------------------------------------------------------------------ towers
def _mlp(n_in: int, arch: Sequence[int], activation_fn: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in arch:
        layers += [nn.Linear(n_in, width), activation_fn()]
        n_in = width
    return nn.Sequential(*layers)


class FastSlowTowers(BaseFeaturesExtractor):
    """Fast and slow MLP towers on the flattened observation; the features are their outputs concatenated.

    Args:
        observation_space: any space SB3 flattens to a vector (Box, Discrete one-hot, ...).
        fast_arch, slow_arch: layer widths of each tower (default ``[64, 64]``).
        activation_fn: activation after every layer (default ``nn.Tanh``, SB3's ``MlpPolicy`` default).

    ``fast`` and ``slow`` are the two ``nn.Sequential`` towers; features are ``[fast(x), slow(x)]``.
    """

    def __init__(
        self,
        observation_space: gym.Space,
        fast_arch: Sequence[int] = (64, 64),
        slow_arch: Sequence[int] = (64, 64),
        activation_fn: type[nn.Module] = nn.Tanh,
    ) -> None:
        fast_arch = _check_arch("fast_arch", fast_arch)
        slow_arch = _check_arch("slow_arch", slow_arch)
        super().__init__(observation_space, fast_arch[-1] + slow_arch[-1])
        n_in = int(spaces.flatdim(observation_space))
        self.flatten = nn.Flatten()
        self.fast = _mlp(n_in, fast_arch, activation_fn)
        self.slow = _mlp(n_in, slow_arch, activation_fn)

    def forward(self, observations: th.Tensor) -> th.Tensor:
        x = self.flatten(observations)
        return th.cat([self.fast(x), self.slow(x)], dim=-1)


def parameter_groups(module: nn.Module) -> dict[str, list[nn.Parameter]]:
    """``{"fast": [...], "slow": [...], "muxer": [...]}``: the parameters of every :class:`FastSlowTowers` inside
    ``module`` by tower, and all the others (heads, muxer layers, a recurrent core, ``log_std``) as the muxer."""
    groups: dict[str, list[nn.Parameter]] = {name: [] for name in GROUPS}
    seen: set[int] = set()
    for sub in module.modules():
        if isinstance(sub, FastSlowTowers):
            for name in ("fast", "slow"):
                for p in getattr(sub, name).parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        groups[name].append(p)
    groups["muxer"] = [p for p in module.parameters() if id(p) not in seen]
    return groups


class _FastSlowMixin:
    """What both fast/slow policies share: argument handling, grouped optimizer, saving the extra arguments."""

    fast_arch: list[int]
    slow_arch: list[int]
    lr_scales: dict[str, float]

    def _prepare(self, fast_arch: Sequence[int], slow_arch: Sequence[int], lr_scales: dict[str, float] | None,
                 kwargs: dict[str, Any]) -> None:
        self.fast_arch = _check_arch("fast_arch", fast_arch)
        self.slow_arch = _check_arch("slow_arch", slow_arch)
        self.lr_scales = check_lr_scales(lr_scales)
        fe = kwargs.get("features_extractor_class", FastSlowTowers)
        if not (isinstance(fe, type) and issubclass(fe, FastSlowTowers)):
            raise ValueError(f"features_extractor_class must be FastSlowTowers (the towers), got {fe!r}")
        fe_kwargs = dict(kwargs.get("features_extractor_kwargs") or {})
        fe_kwargs.update(fast_arch=self.fast_arch, slow_arch=self.slow_arch)
        fe_kwargs.setdefault("activation_fn", kwargs.get("activation_fn", nn.Tanh))
        kwargs["features_extractor_class"] = fe
        kwargs["features_extractor_kwargs"] = fe_kwargs

    def _make_grouped_optimizer(self, lr: float) -> None:
        groups = parameter_groups(self)  # type: ignore[arg-type]
        opt_cls = scaled_optimizer_class(self.optimizer_class)  # type: ignore[attr-defined]
        param_groups = [
            {"params": groups[name], "lr_scale": self.lr_scales[name], "name": name} for name in GROUPS if groups[name]
        ]
        self.optimizer = opt_cls(param_groups, lr=lr, **self.optimizer_kwargs)  # type: ignore[attr-defined]

    def tower_parameters(self) -> list[nn.Parameter]:
        """The parameters that keep learning at test time (both towers)."""
        groups = parameter_groups(self)  # type: ignore[arg-type]
        return groups["fast"] + groups["slow"]

    def muxer_parameters(self) -> list[nn.Parameter]:
        """Everything but the towers (frozen at test time)."""
        return parameter_groups(self)["muxer"]  # type: ignore[arg-type]

    def _extra_constructor_parameters(self, data: dict[str, Any]) -> dict[str, Any]:
        data.update(fast_arch=self.fast_arch, slow_arch=self.slow_arch, lr_scales=dict(self.lr_scales))
        return data


class FastSlowActorCriticPolicy(_FastSlowMixin, ActorCriticPolicy):
    """Fast/slow towers and a muxer for SB3's ``PPO`` and ``A2C`` (see the module docstring for the layout).

    Takes every argument of SB3's ``ActorCriticPolicy`` (``net_arch`` sizes the muxer; default two layers of 64 for
    each of policy and value) plus:

    Args:
        fast_arch: layer widths of the fast tower (default ``[64, 64]``).
        slow_arch: layer widths of the slow tower (default ``[64, 64]``).
        lr_scales: learning-rate multipliers ``{"fast": 10, "slow": 0.1, "muxer": 1}`` (missing keys take these
            defaults); each must be a finite number >= 0.

    Example::

        from stable_baselines3 import PPO
        from memenvs.baselines import FastSlowActorCriticPolicy

        model = PPO(FastSlowActorCriticPolicy, venv, policy_kwargs={"lr_scales": {"fast": 20.0}})
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        *,
        fast_arch: Sequence[int] = (64, 64),
        slow_arch: Sequence[int] = (64, 64),
        lr_scales: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        self._prepare(fast_arch, slow_arch, lr_scales, kwargs)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build(self, lr_schedule: Schedule) -> None:
        super()._build(lr_schedule)
        self._make_grouped_optimizer(lr_schedule(1))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return self._extra_constructor_parameters(super()._get_constructor_parameters())


class FastSlowRecurrentPolicy(_FastSlowMixin, MemoryActorCriticPolicy):
    """The fast/slow towers as the feature trunk of :class:`~.memory_policy.MemoryActorCriticPolicy`
    (sb3-contrib ``RecurrentPPO``): observation -> towers -> memory core -> ``net_arch`` -> heads.

    Same extra arguments as :class:`FastSlowActorCriticPolicy`; the memory core counts as part of the muxer (its
    own learning rate is ``lr_scales["muxer"]`` and it is frozen during test-time adaptation).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        *,
        fast_arch: Sequence[int] = (64, 64),
        slow_arch: Sequence[int] = (64, 64),
        lr_scales: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        self._prepare(fast_arch, slow_arch, lr_scales, kwargs)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
        # MemoryActorCriticPolicy rebuilt one flat optimizer after swapping its core; regroup it.
        self._make_grouped_optimizer(lr_schedule(1))

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return self._extra_constructor_parameters(super()._get_constructor_parameters())
