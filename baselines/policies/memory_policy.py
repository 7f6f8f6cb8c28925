"""One ``RecurrentActorCriticPolicy`` subclass that runs any memory core inside sb3-contrib's ``RecurrentPPO``.

:class:`MemoryActorCriticPolicy` fixes two upstream defects:

* **Speed.** Upstream ``_process_sequence`` falls back to a per-timestep Python loop whenever any padded sequence
  of a minibatch holds an episode start, which is every training minibatch (the rollout buffer cuts sequences at
  episode starts, so each begins with one). Here the state is reset at ``t = 0`` only and the whole ``[T, B, F]``
  sequence goes through the core in one call; identical outputs and gradients. When starts do occur later in a
  sequence (only if the caller builds such batches) the sequence is cut into segments at those steps, which is
  exact too.
* **Saving.** Upstream ``_get_constructor_parameters`` omits the recurrent arguments, so ``policy.save()`` of a
  non-default size cannot be loaded. Here they are saved, together with the core and its kwargs.

The core (``core="lstm" | "gru" | "iam"`` or a :class:`~memenvs.baselines.policies.cores.MemoryCore` subclass) replaces
``lstm_actor`` and ``lstm_critic``; ``lstm_hidden_size`` / ``n_lstm_layers`` keep their upstream names (RecurrentPPO
reads them from the core) and size the core's state.
"""

from __future__ import annotations

from typing import Any

import torch as th
from gymnasium import spaces
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.torch_layers import MlpExtractor
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from .cores import (
    GRUCore, LSTMCore, MemoryCore, ObservationShortcut, State, core_class, set_chrono_bias, set_remember_bias,
)
from .critic_inputs import CriticInputsMixin, check_critic_only_features, hide_from_actor
from .distributions import BoundedDistributionMixin, check_entropy_bonus, check_radius
from .packing import SequencePacking, run_packed


def process_sequence(
    features: th.Tensor, states: State, episode_starts: th.Tensor | SequencePacking, core: nn.Module
) -> tuple[th.Tensor, State | None]:
    """Run ``core`` over padded sequences, resetting the state where an episode starts.

    ``features`` is ``(n_seq * T, F)`` in sequence-major order and ``episode_starts`` ``(n_seq * T,)``, as built by
    sb3-contrib's recurrent rollout buffer; ``states`` are ``(num_layers, n_seq, hidden)``. Returns the outputs as
    ``(n_seq * T, output_size)`` and the state after the last step.

    A packed minibatch (a :class:`~memenvs.baselines.policies.packing.SequencePacking` in place of
    ``episode_starts``, built by :class:`~memenvs.baselines.algorithms.packed_ppo.PackedRolloutBuffer`) runs
    through :func:`~memenvs.baselines.policies.packing.run_packed`; its sequences end at different steps, so no
    single final state exists and ``None`` is returned in its place (training never reads it).
    """
    if isinstance(episode_starts, SequencePacking):
        return run_packed(features, states, episode_starts, core), None
    n_seq = states[0].shape[1]
    x = features.reshape(n_seq, -1, core.input_size).transpose(0, 1)  # [T, n_seq, F]
    starts = episode_starts.reshape(n_seq, -1).transpose(0, 1)  # [T, n_seq]
    t_len = x.shape[0]
    # Time steps (after the first) at which some sequence starts an episode: segment boundaries.
    later = th.nonzero(starts[1:].any(dim=1)).flatten().tolist() if t_len > 1 else []
    bounds = [0, *(t + 1 for t in later), t_len]
    h, c = states
    outs = []
    for t0, t1 in zip(bounds[:-1], bounds[1:]):
        keep = (1.0 - starts[t0]).view(1, n_seq, 1)
        y, (h, c) = core(x[t0:t1], (keep * h, keep * c))
        outs.append(y)
    y = outs[0] if len(outs) == 1 else th.cat(outs)
    return th.flatten(y.transpose(0, 1), start_dim=0, end_dim=1), (h, c)


class MemoryActorCriticPolicy(CriticInputsMixin, BoundedDistributionMixin, RecurrentActorCriticPolicy):
    """Recurrent actor-critic policy for ``RecurrentPPO`` with a swappable memory core and a fast sequence path.

    Takes every argument of sb3-contrib's ``RecurrentActorCriticPolicy`` plus:

    Args:
        core: ``"lstm"`` (default), ``"gru"``, ``"iam"`` or a ``MemoryCore`` subclass.
        core_kwargs: extra keyword arguments for the core (e.g. IAM's ``dset``, ``dset_indices``, ``fnn_arch``).
        logit_radius: bound the centred action logits to a ball of this radius, so no action's probability reaches
            0 (:mod:`~memenvs.baselines.policies.distributions`); ``None`` (default): the plain categorical.
        entropy_bonus: what ``ent_coef`` rewards: ``"entropy"`` (default, SB3's) or ``"uniform_kl"``
            (``-KL(uniform || p)``, whose gradient does not vanish for a rarely taken action; same module).
        forget_bias: initial bias of the LSTM forget gates / GRU update gates of both cores (0, the default:
            PyTorch's initialisation), as for the recurrent DQN's.
        chrono_horizon: instead of ``forget_bias``, the chrono initialisation of those gates for memories of up to
            this many steps (:func:`~memenvs.baselines.policies.cores.set_chrono_bias`); ``None`` (default): off.
        critic_only_features: the last ``k`` observation features are seen by the critic (and its core) only
            (:mod:`~memenvs.baselines.policies.critic_inputs`); 0 (default): the actor sees everything.
        obs_shortcut: the heads read the current step's features beside the core's output
            (:class:`~memenvs.baselines.policies.cores.ObservationShortcut`, as in Ni et al. 2022's recurrent
            actor-critic); ``False`` (default): the core's output alone.

    ``lstm_hidden_size`` and ``n_lstm_layers`` give the core's state shape (for IAM: its recurrent branch); the heads
    see ``core.output_size`` features. ``net_arch`` is the MLP between the core and the linear heads (``[]`` for
    linear heads on the core output, as in the IAM paper).

    Example::

        from sb3_contrib import RecurrentPPO
        from memenvs.baselines import MemoryActorCriticPolicy

        model = RecurrentPPO(MemoryActorCriticPolicy, venv, policy_kwargs={"core": "gru", "lstm_hidden_size": 64})
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        *,
        core: str | type[MemoryCore] = "lstm",
        core_kwargs: dict[str, Any] | None = None,
        logit_radius: float | None = None,
        entropy_bonus: str = "entropy",
        critic_only_features: int = 0,
        forget_bias: float = 0.0,
        chrono_horizon: int | None = None,
        obs_shortcut: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(obs_shortcut, bool):
            raise ValueError(f"obs_shortcut must be True or False, got {obs_shortcut!r}")
        self.obs_shortcut = obs_shortcut
        self.logit_radius = check_radius(logit_radius, action_space)
        self.entropy_bonus = check_entropy_bonus(entropy_bonus, action_space)
        self.critic_only_features = check_critic_only_features(critic_only_features, observation_space, kwargs)
        self.core = core
        self.core_kwargs = dict(core_kwargs or {})
        self._core_class = core_class(core)
        hidden = int(kwargs.get("lstm_hidden_size", 256))
        self._core_shape = (hidden, int(kwargs.get("n_lstm_layers", 1)))
        # The heads are built inside the parent constructor, before the features width (and so the core) exists;
        # the core class tells the output width from its arguments alone.
        self._core_output_dim = self._core_class.output_size_for(hidden, **self.core_kwargs)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
        hide_from_actor(self, self.critic_only_features)
        self.lstm_actor = self._make_core()
        if self.lstm_critic is not None:
            self.lstm_critic = self._make_core()
        elif self.critic is not None:
            self.critic = nn.Linear(self.features_dim, self._head_input_dim)
        if isinstance(forget_bias, bool) or not isinstance(forget_bias, (int, float)):
            raise ValueError(f"forget_bias must be a number, got {forget_bias!r}")
        self.forget_bias = float(forget_bias)
        if chrono_horizon is not None and self.forget_bias:
            raise ValueError("give forget_bias or chrono_horizon, not both")
        self.chrono_horizon = chrono_horizon
        if chrono_horizon is not None:
            set_chrono_bias(self, chrono_horizon)
        elif self.forget_bias:
            set_remember_bias(self, self.forget_bias)
        self.lstm_output_dim = self._head_input_dim
        self.lstm_hidden_state_shape = (self.lstm_actor.num_layers, 1, self.lstm_actor.hidden_size)
        # The parent built its optimizer over the nn.LSTMs that were just replaced.
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

    def _make_core(self) -> MemoryCore:
        kwargs = dict(self.core_kwargs)
        if getattr(self._core_class, "needs_feature_shape", False) and "feature_shape" not in kwargs:
            kwargs["feature_shape"] = getattr(self.features_extractor, "map_shape", None)
        if issubclass(self._core_class, (LSTMCore, GRUCore)):
            kwargs.update(self.lstm_kwargs)
        hidden, layers = self._core_shape
        built = self._core_class(self.features_dim, hidden, layers, **kwargs)
        if built.output_size != self._core_output_dim:
            raise ValueError(f"core output {built.output_size} != announced {self._core_output_dim}")
        return ObservationShortcut(built) if self.obs_shortcut else built

    @property
    def _head_input_dim(self) -> int:
        """Width of what the heads read: the core's output, and the features too through the shortcut."""
        return self._core_output_dim + (self.features_dim if self.obs_shortcut else 0)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = MlpExtractor(
            self._head_input_dim, net_arch=self.net_arch, activation_fn=self.activation_fn, device=self.device
        )

    @staticmethod
    def _process_sequence(
        features: th.Tensor, lstm_states: State, episode_starts: th.Tensor, lstm: nn.Module
    ) -> tuple[th.Tensor, State]:
        return process_sequence(features, lstm_states, episode_starts, lstm)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            lstm_hidden_size=int(self.lstm_actor.hidden_size),
            n_lstm_layers=int(self.lstm_actor.num_layers),
            shared_lstm=self.shared_lstm,
            enable_critic_lstm=self.enable_critic_lstm,
            lstm_kwargs=self.lstm_kwargs,
            share_features_extractor=self.share_features_extractor,
            core=self.core,
            core_kwargs=self.core_kwargs,
            forget_bias=self.forget_bias,
            chrono_horizon=self.chrono_horizon,
            obs_shortcut=self.obs_shortcut,
        )
        return data
