"""Recurrent Q-network policy for :class:`~memenvs.baselines.algorithms.recurrent_dqn.RecurrentDQN`.

Observation -> SB3 features extractor -> optional MLP -> memory core (any :class:`MemoryCore`: LSTM, GRU, IAM, or
none for the memoryless calibration) -> linear head with one Q-value per action. The policy owns an online and a
target copy of that network, as SB3's ``DQNPolicy`` does, and its ``predict`` carries the recurrent state the way
sb3-contrib's recurrent policies do (``state`` is ``(h, c)`` as NumPy arrays of shape ``(layers, n_envs, hidden)``),
so :func:`memenvs.baselines.evaluate`, ``memenvs render --model`` and any caller of ``model.predict`` work unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, FlattenExtractor, create_mlp
from stable_baselines3.common.type_aliases import Schedule
from torch import nn

from .cores import MemoryCore, State, core_class, set_chrono_bias, set_remember_bias
from .memory_policy import process_sequence

NO_CORE = "none"


class NoMemoryCore(MemoryCore):
    """A stateless stand-in core: the output is the input, the (1-wide) state passes through unchanged.

    It lets the memoryless Q-network share every code path with the recurrent ones (the calibration baseline).
    """

    def __init__(self, input_size: int, hidden_size: int = 1, num_layers: int = 1) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.output_size = input_size

    def forward(self, x: th.Tensor, state: State) -> tuple[th.Tensor, State]:
        return x, state


class RecurrentQNetwork(BasePolicy):
    """One Q-network: features -> MLP ``net_arch`` -> memory core -> ``Linear(core output, n_actions)``.

    ``forward_sequence`` runs ``[B, T]`` windows (resetting the state at episode starts inside them), ``step`` one
    time step of ``N`` copies.
    """

    action_space: spaces.Discrete

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        features_extractor: BaseFeaturesExtractor,
        features_dim: int,
        net_arch: list[int],
        core: str | type[MemoryCore],
        core_kwargs: dict[str, Any],
        hidden_size: int,
        n_layers: int,
        activation_fn: type[nn.Module] = nn.ReLU,
        normalize_images: bool = True,
        forget_bias: float = 0.0,
        chrono_horizon: int | None = None,
    ) -> None:
        super().__init__(observation_space, action_space, features_extractor=features_extractor,
                         normalize_images=normalize_images)
        self.trunk = nn.Sequential(*create_mlp(features_dim, -1, net_arch, activation_fn)) if net_arch else None
        width = net_arch[-1] if net_arch else features_dim
        if core == NO_CORE:
            self.core: MemoryCore = NoMemoryCore(width)
        else:
            cls = core_class(core)
            self.core = cls(width, hidden_size, n_layers, **core_kwargs)
        self.head = nn.Linear(self.core.output_size, int(action_space.n))
        if forget_bias:
            set_remember_bias(self.core, forget_bias)
        if chrono_horizon is not None:
            set_chrono_bias(self.core, chrono_horizon)

    def _features(self, obs: th.Tensor) -> th.Tensor:
        x = self.extract_features(obs, self.features_extractor)
        return self.trunk(x) if self.trunk is not None else x

    def initial_state(self, n: int) -> State:
        """The all-zero state of ``n`` copies."""
        shape = (self.core.num_layers, n, self.core.hidden_size)
        return th.zeros(shape, device=self.device), th.zeros(shape, device=self.device)

    def forward_sequence(self, obs: th.Tensor, episode_starts: th.Tensor, state: State) -> th.Tensor:
        """Q-values ``[B, T, n_actions]`` of windows ``obs[B, T, ...]`` that start from ``state``; the state is
        zeroed before every step whose ``episode_starts[b, t]`` is 1 (also at ``t = 0``)."""
        b, t = episode_starts.shape
        x = self._features(obs.reshape(b * t, *obs.shape[2:]))
        y, _ = process_sequence(x, state, episode_starts.reshape(-1).float(), self.core)
        return self.head(y).reshape(b, t, -1)

    def step(self, obs: th.Tensor, state: State, episode_starts: th.Tensor) -> tuple[th.Tensor, State]:
        """Q-values ``[N, n_actions]`` of one step of ``N`` copies, and the state after it."""
        keep = (1.0 - episode_starts.float()).view(1, -1, 1)
        y, state = self.core(self._features(obs).unsqueeze(0), (keep * state[0], keep * state[1]))
        return self.head(y[0]), state

    def forward(self, obs: th.Tensor) -> th.Tensor:  # one step from a zero state (for SB3 utilities)
        return self.step(obs, self.initial_state(obs.shape[0]), th.ones(obs.shape[0], device=self.device))[0]

    def _predict(self, observation: th.Tensor, deterministic: bool = True) -> th.Tensor:
        return self(observation).argmax(dim=1)


def _takes_foreach(optimizer_class: type[th.optim.Optimizer]) -> bool:
    return "foreach" in inspect.signature(optimizer_class).parameters


class RecurrentQPolicy(BasePolicy):
    """Online and target :class:`RecurrentQNetwork` plus the optimizer, for ``RecurrentDQN``.

    Args:
        core: ``"lstm"`` (default), ``"gru"``, ``"iam"``, ``"none"`` (memoryless) or a ``MemoryCore`` subclass.
        core_kwargs: extra arguments of the core (IAM's ``dset``, ``dset_indices``, ``fnn_arch``, ...).
        lstm_hidden_size: width of the core's state (the name RecurrentPPO's policies use).
        n_lstm_layers: layers of the core.
        net_arch: MLP between the features and the core (empty: the features go straight in).
        forget_bias: initial bias of the LSTM forget gates / GRU update gates (0: PyTorch's initialisation).
        chrono_horizon: instead of ``forget_bias``, the chrono initialisation of those gates for memories of up to
            this many steps (:func:`~memenvs.baselines.policies.cores.set_chrono_bias`).
        features_extractor_class / features_extractor_kwargs: SB3's (``FlattenExtractor`` by default).
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Discrete,
        lr_schedule: Schedule,
        core: str | type[MemoryCore] = "lstm",
        core_kwargs: dict[str, Any] | None = None,
        lstm_hidden_size: int = 64,
        n_lstm_layers: int = 1,
        net_arch: list[int] | None = None,
        activation_fn: type[nn.Module] = nn.ReLU,
        features_extractor_class: type[BaseFeaturesExtractor] = FlattenExtractor,
        features_extractor_kwargs: dict[str, Any] | None = None,
        normalize_images: bool = True,
        forget_bias: float = 0.0,
        chrono_horizon: int | None = None,
        optimizer_class: type[th.optim.Optimizer] = th.optim.Adam,
        optimizer_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(action_space, spaces.Discrete):
            raise ValueError(f"RecurrentQPolicy needs a Discrete action space, got {action_space}")
        super().__init__(
            observation_space, action_space, features_extractor_class, features_extractor_kwargs or {},
            optimizer_class=optimizer_class, optimizer_kwargs=optimizer_kwargs, normalize_images=normalize_images,
        )
        if core != NO_CORE:
            core_class(core)  # fail early with the list of known cores
        self.core = core
        self.core_kwargs = dict(core_kwargs or {})
        self.lstm_hidden_size, self.n_lstm_layers = int(lstm_hidden_size), int(n_lstm_layers)
        self.net_arch = list(net_arch or [])
        self.activation_fn = activation_fn
        self.forget_bias = float(forget_bias)
        if chrono_horizon is not None and self.forget_bias:
            raise ValueError("give forget_bias or chrono_horizon, not both")
        self.chrono_horizon = chrono_horizon
        self.q_net = self.make_q_net()
        self.q_net_target = self.make_q_net()
        self.q_net_target.load_state_dict(self.q_net.state_dict())
        self.q_net_target.set_training_mode(False)
        # PyTorch batches the optimizer's arithmetic over the parameters only on GPUs unless asked; on CPUs the
        # per-parameter loop was a tenth of an update's time, and the batched one computes the same numbers.
        kwargs = dict(self.optimizer_kwargs)
        if _takes_foreach(self.optimizer_class):
            kwargs.setdefault("foreach", True)
        self.optimizer = self.optimizer_class(self.q_net.parameters(), lr=lr_schedule(1), **kwargs)

    def make_q_net(self) -> RecurrentQNetwork:
        extractor = self.make_features_extractor()
        return RecurrentQNetwork(
            self.observation_space, self.action_space, extractor, extractor.features_dim, self.net_arch, self.core,
            self.core_kwargs, self.lstm_hidden_size, self.n_lstm_layers, self.activation_fn, self.normalize_images,
            self.forget_bias, self.chrono_horizon,
        ).to(self.device)

    def _predict(self, observation: th.Tensor, deterministic: bool = True) -> th.Tensor:
        return self.q_net._predict(observation, deterministic)

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Greedy actions for a batch of observations, carrying the recurrent state (reset where
        ``episode_start`` is true). Exploration is the algorithm's (``RecurrentDQN.predict``)."""
        self.set_training_mode(False)
        obs, vectorized = self.obs_to_tensor(observation)
        n, device = obs.shape[0], obs.device  # (SB3's self.device walks the parameters on every call)
        with th.no_grad():
            if state is None:
                st = self.q_net.initial_state(n)
                starts = th.ones(n, device=device)
            else:
                st = (th.as_tensor(state[0], device=device), th.as_tensor(state[1], device=device))
                starts = th.as_tensor(np.ones(n) if episode_start is None else episode_start, device=device)
            q, st = self.q_net.step(obs, st, starts)
            actions = q.argmax(dim=1).cpu().numpy()
        new_state = (st[0].cpu().numpy(), st[1].cpu().numpy())
        if not vectorized:
            actions = actions.squeeze(axis=0)
        return actions, new_state

    def set_training_mode(self, mode: bool) -> None:
        if self.q_net.training != mode:  # called on every env step and update: walking the modules costs
            self.q_net.set_training_mode(mode)
        self.training = mode

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            core=self.core,
            core_kwargs=self.core_kwargs,
            lstm_hidden_size=self.lstm_hidden_size,
            n_lstm_layers=self.n_lstm_layers,
            net_arch=self.net_arch,
            activation_fn=self.activation_fn,
            forget_bias=self.forget_bias,
            chrono_horizon=self.chrono_horizon,
            features_extractor_class=self.features_extractor_class,
            features_extractor_kwargs=self.features_extractor_kwargs,
            normalize_images=self.normalize_images,
            optimizer_class=self.optimizer_class,
            optimizer_kwargs=self.optimizer_kwargs,
        )
        return data
