"""Recurrent DQN: off-policy Q-learning with a memory core, trained on replayed sequences (DRQN / R2D2 style).

Why it exists. On tasks whose memory must be carried over a long, rewarded-little stretch (the T-maze), on-policy
PPO saturates its softmax on the frequent action before the rare decision point is ever explored, and stays there.
The published anchors for long memory used epsilon-greedy off-policy learners instead: Bakker (2002) an LSTM trained
with advantage learning, Hausknecht & Stone (2015) DRQN, Kapturowski et al. (2019) R2D2, Ni et al. (2023) recurrent
and transformer agents on the passive T-maze.

What it does, top to bottom:

1. **Acting.** Every copy of the vector env carries its own recurrent state; the action is greedy in the online
   Q-network with probability ``1 - eps_i``, uniform otherwise. ``eps`` decays linearly from
   ``exploration_initial_eps`` to ``exploration_final_eps`` over ``exploration_fraction`` of training (as SB3's DQN).
   With ``exploration_alpha > 0`` the copies get the spread of Ape-X (Horgan et al. 2018):
   ``eps_i = eps ** (1 + alpha * i / (N - 1))``, so some copies explore while others act almost greedily — what a
   long corridor needs, where one random step spoils the episode (``(1 - 3 eps / 4) ** length`` of the episodes of
   a length-100 passive T-maze reach the junction on time: 2 % at ``eps = 0.05``, 47 % at ``eps = 0.01``).
2. **Storing.** Transitions go into :class:`SequenceReplayBuffer`, SB3's ``ReplayBuffer`` (rows are time steps,
   columns are copies, so each column is one copy's stream) plus an episode-start flag and, for windows that may
   start anywhere (``align="any"``), the recurrent state each step started from.
3. **Sampling.** Windows of ``sequence_length`` consecutive steps of one copy. ``align="episode"`` starts them at
   episode starts from a zero state (whole episodes when ``sequence_length`` is at least the episode length: the
   cue and the decision always share a window); ``align="any"`` starts them anywhere from the stored state (R2D2's
   "stored state"), with the first ``burn_in`` steps used only to refresh that state. Episode starts inside a
   window reset the state there.
4. **Learning.** Double-DQN targets (van Hasselt et al. 2016) with ``n_step`` returns, the target network run over
   the same window; Huber loss on every step of the window whose target lies inside it (a step whose return would
   bootstrap past the window, or past a time-limit truncation, is masked rather than guessed), gradient clipping,
   Adam. The target network is copied every ``target_update_interval`` env steps (``tau < 1``: Polyak averaging).

Everything else — ``learn``, callbacks, logging, ``save``/``load``, ``learning_starts``, ``train_freq``,
``gradient_steps`` — is SB3's ``OffPolicyAlgorithm``. sb3-contrib has no recurrent off-policy algorithm.
"""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv
from torch.nn import functional as F

from ..policies.recurrent_q import RecurrentQPolicy

ALIGNS = ("episode", "any")


class SequenceBatch(NamedTuple):
    """``B`` windows of ``T`` steps (tensors ``[B, T, ...]``) and the state each window starts from."""

    observations: th.Tensor
    actions: th.Tensor
    rewards: th.Tensor
    dones: th.Tensor
    timeouts: th.Tensor
    episode_starts: th.Tensor
    state: tuple[th.Tensor, th.Tensor]


class SequenceReplayBuffer(ReplayBuffer):
    """SB3's ``ReplayBuffer`` that also stores each step's starting recurrent state and episode-start flag, and
    samples windows of consecutive steps of one copy (:meth:`sample_sequences`).

    Call :meth:`add_context` with the state and flags of the step about to be added, then ``add`` as usual.
    ``store_states=False`` keeps only the flags: windows aligned to episode starts begin from a zero state and never
    read a stored one (at length 200 with a whole-run buffer the states would take 1 GB).
    """

    def __init__(self, buffer_size: int, observation_space: spaces.Space, action_space: spaces.Space,
                 device: th.device | str = "auto", n_envs: int = 1, optimize_memory_usage: bool = False,
                 handle_timeout_termination: bool = True, store_states: bool = True) -> None:
        super().__init__(buffer_size, observation_space, action_space, device, n_envs=n_envs,
                         optimize_memory_usage=False, handle_timeout_termination=handle_timeout_termination)
        self.store_states = store_states
        self.episode_starts = np.zeros((self.buffer_size, self.n_envs), dtype=bool)
        self.row_starts = np.zeros(self.buffer_size, dtype=np.int64)  # episode starts per row (for sampling)
        self.state_h = self.state_c = np.zeros((0,), dtype=np.float32)  # sized at the first add_context
        self.state_shape = (0, 0)  # (layers, hidden), known at the first add_context

    def add_context(self, state: tuple[np.ndarray, np.ndarray], episode_starts: np.ndarray) -> None:
        """Record the state (``(layers, n_envs, hidden)`` each) and episode-start flags of the next ``add``."""
        if self.state_shape == (0, 0):
            layers, _, hidden = state[0].shape
            self.state_shape = (layers, hidden)
            if self.store_states:
                self.state_h = np.zeros((self.buffer_size, self.n_envs, layers, hidden), dtype=np.float32)
                self.state_c = np.zeros_like(self.state_h)
        if self.store_states:
            self.state_h[self.pos] = np.swapaxes(state[0], 0, 1)
            self.state_c[self.pos] = np.swapaxes(state[1], 0, 1)
        self.episode_starts[self.pos] = episode_starts
        self.row_starts[self.pos] = np.count_nonzero(episode_starts)

    def filled(self) -> int:
        return self.buffer_size if self.full else self.pos

    def _pick_episode_starts(self, oldest: int, n_starts: int, batch_size: int, rng: np.random.Generator
                             ) -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` episode starts drawn uniformly among those in the first ``n_starts`` rows after the
        oldest, as (rows after the oldest, copy). The draw is the ``j``-th start in time order, then copy order;
        it is found through the per-row counts rather than by listing every start of a buffer that at T-maze
        length 200 holds 4M steps."""
        counts = np.concatenate((self.row_starts[oldest:], self.row_starts[:oldest]))[:n_starts]
        before = np.cumsum(counts)
        if len(before) == 0 or before[-1] == 0:
            raise ValueError("no episode start lies early enough in the buffer for a full window yet")
        pick = rng.integers(0, before[-1], size=batch_size)
        k = np.searchsorted(before, pick, side="right")
        nth = pick - (before[k] - counts[k])  # which of row k's starts, in copy order
        flags = self.episode_starts[(oldest + k) % self.buffer_size]  # [B, n_envs]
        env = np.argmax(np.cumsum(flags, axis=1) > nth[:, None], axis=1)
        return k, env

    def __setstate__(self, state: dict[str, Any]) -> None:  # buffers pickled before the counts were kept
        self.__dict__.update(state)
        if "row_starts" not in state:
            self.row_starts = self.episode_starts.sum(axis=1).astype(np.int64)

    def sample_sequences(self, batch_size: int, length: int, align: str, rng: np.random.Generator) -> SequenceBatch:
        """``batch_size`` windows of ``length`` steps that lie wholly in the written part of the buffer and never
        run across the write position (oldest data first, so a window is always one stretch of one copy's time)."""
        filled = self.filled()
        if filled < length:
            raise ValueError(f"the buffer holds {filled} steps per copy, fewer than sequence_length={length}")
        oldest = self.pos if self.full else 0
        n_starts = filled - length + 1  # window starts, counted in steps after the oldest row
        if align == "episode":
            k, env = self._pick_episode_starts(oldest, n_starts, batch_size, rng)
        else:
            k = rng.integers(0, n_starts, size=batch_size)
            env = rng.integers(0, self.n_envs, size=batch_size)
        idx = (oldest + k[:, None] + np.arange(length)) % self.buffer_size  # [B, T]
        col = env[:, None]
        starts = self.episode_starts[idx, col].copy()
        starts[:, 0] |= align == "episode"
        if self.store_states:
            h0 = np.swapaxes(self.state_h[idx[:, 0], env], 0, 1)  # [layers, B, hidden]
            c0 = np.swapaxes(self.state_c[idx[:, 0], env], 0, 1)
        else:
            if align != "episode":
                raise ValueError('windows that start anywhere need the stored states (store_states=True)')
            h0 = c0 = np.zeros((self.state_shape[0], batch_size, self.state_shape[1]), dtype=np.float32)
        t = self.to_torch
        return SequenceBatch(
            observations=t(self.observations[idx, col]),
            actions=t(self.actions[idx, col].reshape(batch_size, length)).long(),
            rewards=t(self.rewards[idx, col]),
            dones=t(self.dones[idx, col]),
            timeouts=t(self.timeouts[idx, col]),
            episode_starts=t(starts.astype(np.float32)),
            state=(t(h0), t(c0)),
        )


def n_step_targets(
    rewards: th.Tensor, dones: th.Tensor, timeouts: th.Tensor, values: th.Tensor, gamma: float, n_step: int
) -> tuple[th.Tensor, th.Tensor]:
    """n-step returns of every step of ``[B, T]`` windows, and which of them are defined inside the window.

    ``values[b, t]`` is the bootstrap value of the state at step ``t``. A return that reaches a termination stops
    there; one that would need a value past the window's end, or past a time-limit truncation (whose next state is
    not in the window), is marked invalid.

    Computed in NumPy (float32, the same operations in the same order as in torch, so the same numbers): the loops
    run over time, and a torch call costs several times a NumPy one on arrays this small.
    """
    r, d, v = (x.detach().cpu().numpy() for x in (rewards, dones, values))
    ends = (d * (np.float32(1.0) - timeouts.detach().cpu().numpy())) > 0  # true terminations
    running = d == 0
    discount = np.float32(gamma) * (np.float32(1.0) - d)
    if n_step >= r.shape[1]:
        target, valid = _whole_window_returns(r, discount, ends, running)
    else:
        target, valid = v, np.ones(v.shape, dtype=bool)
        nxt, nxt_valid = np.zeros_like(v), np.zeros(v.shape, dtype=bool)  # last column: past the window's end
        for _ in range(n_step):  # each pass moves every return one step further
            nxt[:, :-1] = target[:, 1:]
            nxt_valid[:, :-1] = valid[:, 1:]
            target = r + discount * nxt
            valid = ends | (running & nxt_valid)
    return th.from_numpy(target).to(values.device), th.from_numpy(valid).to(values.device)


def _whole_window_returns(r: np.ndarray, discount: np.ndarray, ends: np.ndarray, running: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """What ``n_step >= T`` passes of :func:`n_step_targets`' loop leave (every return runs to a termination or
    off the window's end, where its value is 0 and it is invalid), computed backwards in one pass over time."""
    r, discount, ends, running = (np.ascontiguousarray(x.T) for x in (r, discount, ends, running))  # [T, B]
    target, valid = np.empty_like(r), np.empty(r.shape, dtype=bool)
    nxt, nxt_valid = np.zeros(r.shape[1], dtype=r.dtype), np.zeros(r.shape[1], dtype=bool)
    for t in range(r.shape[0] - 1, -1, -1):
        target[t] = r[t] + discount[t] * nxt
        valid[t] = ends[t] | (running[t] & nxt_valid)
        nxt, nxt_valid = target[t], valid[t]
    return target.T, valid.T


def soft_update(params: list[th.Tensor], target_params: list[th.Tensor], tau: float) -> None:
    """``target <- (1 - tau) * target + tau * online``, parameter by parameter: the arithmetic of SB3's
    ``polyak_update`` in one batched call per operation."""
    with th.no_grad():
        th._foreach_mul_(target_params, 1.0 - tau)
        th._foreach_add_(target_params, params, alpha=tau)


class RecurrentDQN(OffPolicyAlgorithm):
    """Recurrent DQN (DRQN / R2D2-style) for SB3: see the module docstring for the method. It takes SB3's
    ``OffPolicyAlgorithm`` arguments and these.

    Args:
        sequence_length: steps per replayed window.
        align: ``"episode"`` (windows start at episode starts, zero state) or ``"any"`` (anywhere, stored state).
        burn_in: leading steps of each window that only refresh the state (no loss); for ``align="any"``.
        n_step: steps of the n-step return.
        target_update_interval: env steps between target-network updates.
        tau: Polyak coefficient of the target update (1 = hard copy).
        exploration_fraction: share of training over which epsilon decays linearly.
        exploration_initial_eps: epsilon at the start.
        exploration_final_eps: epsilon after the decay.
        exploration_alpha: Ape-X spread of epsilon over the copies (0: every copy uses the same epsilon).
        max_grad_norm: gradient clipping.
        replay_ratio: if given, how many times each stored step is replayed on average, so the number of updates
            follows the data (``replay_ratio * new steps / (batch_size * sequence_length)``) and
            ``gradient_steps`` is ignored; the update count per episode then stays fixed when
            ``sequence_length`` grows with the episode (R2D2 states its budget this way).
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {"MlpPolicy": RecurrentQPolicy}
    policy: RecurrentQPolicy

    def __init__(
        self,
        policy: str | type[RecurrentQPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 1e-3,
        buffer_size: int = 200_000,
        learning_starts: int = 5_000,
        batch_size: int = 32,
        sequence_length: int = 64,
        align: str = "any",
        burn_in: int = 0,
        n_step: int = 1,
        gamma: float = 0.99,
        train_freq: int | tuple[int, str] = 4,
        gradient_steps: int = 1,
        target_update_interval: int = 2_000,
        tau: float = 1.0,
        exploration_fraction: float = 0.2,
        exploration_initial_eps: float = 1.0,
        exploration_final_eps: float = 0.01,
        exploration_alpha: float = 0.0,
        max_grad_norm: float = 10.0,
        replay_ratio: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        if align not in ALIGNS:
            raise ValueError(f"align must be one of {', '.join(ALIGNS)}, got {align!r}")
        for name, value, low in (("sequence_length", sequence_length, 1), ("n_step", n_step, 1),
                                 ("burn_in", burn_in, 0), ("batch_size", batch_size, 1)):
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if burn_in >= sequence_length:
            raise ValueError(f"burn_in must be < sequence_length ({sequence_length}), got {burn_in}")
        if replay_ratio is not None and not replay_ratio > 0:
            raise ValueError(f"replay_ratio must be > 0 or None, got {replay_ratio!r}")
        if replay_ratio is not None:
            gradient_steps = -1  # SB3 then hands train() the number of transitions just collected
        if not 0.0 <= exploration_alpha:
            raise ValueError(f"exploration_alpha must be >= 0, got {exploration_alpha}")
        super().__init__(
            policy, env, learning_rate, buffer_size, learning_starts, batch_size, tau, gamma, train_freq,
            gradient_steps, action_noise=None, replay_buffer_class=SequenceReplayBuffer,
            replay_buffer_kwargs={"store_states": align == "any"},
            optimize_memory_usage=False, policy_kwargs=policy_kwargs, stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log, verbose=verbose, device=device, seed=seed, sde_support=False,
            supported_action_spaces=(spaces.Discrete,), support_multi_env=True,
        )
        self.sequence_length, self.align, self.burn_in, self.n_step = int(sequence_length), align, burn_in, n_step
        self.target_update_interval = target_update_interval
        self.exploration_fraction = exploration_fraction
        self.exploration_initial_eps, self.exploration_final_eps = exploration_initial_eps, exploration_final_eps
        self.exploration_alpha = exploration_alpha
        self.max_grad_norm = max_grad_norm
        self.replay_ratio = replay_ratio
        self._owed_updates = 0.0
        self.exploration_rate = exploration_initial_eps
        self._n_calls = 0
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ setup
    def _setup_model(self) -> None:
        super()._setup_model()  # the policy and the SequenceReplayBuffer
        self._create_aliases()
        self.exploration_schedule = LinearSchedule(
            self.exploration_initial_eps, self.exploration_final_eps, self.exploration_fraction
        )
        self._sample_rng = np.random.default_rng(self.seed)
        self._reset_acting_state()

    def _reset_acting_state(self) -> None:
        shape = (self.policy.q_net.core.num_layers, self.n_envs, self.policy.q_net.core.hidden_size)
        self._acting_state = (np.zeros(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32))
        self._acting_starts = np.ones(self.n_envs, dtype=bool)
        self._state_before = self._acting_state

    def _setup_learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True,
                     tb_log_name: str = "run", progress_bar: bool = False) -> tuple[int, Any]:
        out = super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
        if reset_num_timesteps or self._last_obs is None:
            self._reset_acting_state()  # the env was just reset: every copy starts an episode
        return out

    # ------------------------------------------------------------------ acting
    def copy_epsilons(self) -> np.ndarray:
        """Exploration probability of each copy now."""
        eps = np.full(self.n_envs, self.exploration_rate)
        if self.exploration_alpha > 0 and self.n_envs > 1:
            eps = eps ** (1.0 + self.exploration_alpha * np.arange(self.n_envs) / (self.n_envs - 1))
        return eps

    def _sample_action(self, learning_starts: int, action_noise: Any = None, n_envs: int = 1
                       ) -> tuple[np.ndarray, np.ndarray]:
        greedy, new_state = self.policy.predict(
            self._last_obs, self._acting_state, self._acting_starts, deterministic=True
        )
        eps = np.ones(n_envs) if self.num_timesteps < learning_starts else self.copy_epsilons()
        explore = self._sample_rng.random(n_envs) < eps
        random_actions = self._sample_rng.integers(0, self.action_space.n, size=n_envs)
        actions = np.where(explore, random_actions, greedy).astype(np.int64)
        self._state_before, self._acting_state = self._acting_state, new_state
        return actions, actions

    def _store_transition(self, replay_buffer: ReplayBuffer, buffer_action: np.ndarray, new_obs: Any,
                          reward: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]) -> None:
        assert isinstance(replay_buffer, SequenceReplayBuffer)
        replay_buffer.add_context(self._state_before, self._acting_starts)
        super()._store_transition(replay_buffer, buffer_action, new_obs, reward, dones, infos)
        self._acting_starts = np.asarray(dones, dtype=bool).copy()

    def predict(  # type: ignore[override]
        self,
        observation: np.ndarray,
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...] | None]:
        """Greedy actions (``deterministic=True``) or epsilon-greedy ones at the current exploration rate."""
        actions, state = self.policy.predict(observation, state, episode_start, deterministic=True)
        if not deterministic:
            arr = np.atleast_1d(actions)
            explore = np.random.random(arr.shape[0]) < self.exploration_rate
            arr = np.where(explore, np.random.randint(self.action_space.n, size=arr.shape[0]), arr)
            actions = arr if np.ndim(actions) else arr[0]
        return actions, state

    def _on_step(self) -> None:
        self._n_calls += 1
        if self._n_calls % max(self.target_update_interval // self.n_envs, 1) == 0:
            soft_update(self._online_params, self._target_params, self.tau)
        self.exploration_rate = self.exploration_schedule(self._current_progress_remaining)
        self.logger.record("rollout/exploration_rate", self.exploration_rate)

    def _create_aliases(self) -> None:
        self.q_net = self.policy.q_net
        self.q_net_target = self.policy.q_net_target
        # Listed once: walking the modules for them on every env step cost more than the update itself.
        self._online_params = list(self.q_net.parameters())
        self._target_params = list(self.q_net_target.parameters())

    # ------------------------------------------------------------------ learning
    def train(self, gradient_steps: int, batch_size: int = 32) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        if self.replay_buffer.filled() < self.sequence_length:  # type: ignore[union-attr]
            return
        if self.replay_ratio is not None:  # gradient_steps is the number of new transitions
            self._owed_updates += gradient_steps * self.replay_ratio / (batch_size * self.sequence_length)
            gradient_steps, self._owed_updates = int(self._owed_updates), self._owed_updates % 1.0
        losses, q_means = [], []
        for _ in range(gradient_steps):
            batch = self.replay_buffer.sample_sequences(  # type: ignore[union-attr]
                batch_size, self.sequence_length, self.align, self._sample_rng
            )
            q = self.q_net.forward_sequence(batch.observations, batch.episode_starts, batch.state)
            with th.no_grad():
                q_target = self.q_net_target.forward_sequence(batch.observations, batch.episode_starts, batch.state)
                best = q.argmax(dim=2, keepdim=True)  # double DQN: the online net picks, the target net values
                values = q_target.gather(2, best).squeeze(2)
                target, valid = n_step_targets(
                    batch.rewards, batch.dones, batch.timeouts, values, self.gamma, self.n_step
                )
                valid[:, : self.burn_in] = False
            q_taken = q.gather(2, batch.actions.unsqueeze(2)).squeeze(2)
            mask = valid.float()
            loss = (F.smooth_l1_loss(q_taken, target, reduction="none") * mask).sum() / mask.sum().clamp(min=1.0)
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self._online_params, self.max_grad_norm, foreach=True)
            self.policy.optimizer.step()
            losses.append(loss.item())
            q_means.append(float((q_taken.detach() * mask).sum() / mask.sum().clamp(min=1.0)))
        if not losses:
            return
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/loss", float(np.mean(losses)))
        self.logger.record("train/q_taken", float(np.mean(q_means)))

    # ------------------------------------------------------------------ saving
    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "q_net", "q_net_target", "_acting_state", "_state_before",
                "_acting_starts", "_sample_rng", "_online_params", "_target_params"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer"], []

    def learn(self, total_timesteps: int, callback: Any = None, log_interval: int = 4,
              tb_log_name: str = "RecurrentDQN", reset_num_timesteps: bool = True,
              progress_bar: bool = False) -> "RecurrentDQN":
        return super().learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)

    def set_env(self, env: GymEnv, force_reset: bool = True) -> None:
        super().set_env(env, force_reset)
        if isinstance(env, VecEnv) and force_reset:
            self._reset_acting_state()
