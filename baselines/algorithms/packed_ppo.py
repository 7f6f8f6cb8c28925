"""``PackedRecurrentPPO``: sb3-contrib's ``RecurrentPPO`` trained on packed fixed-length chunks of each copy's rollout.

sb3-contrib's recurrent rollout buffer cuts each minibatch (a contiguous slice of the flattened rollout, rotated
by a random offset) into sequences at episode starts and pads them all to the longest. On the passive T-maze of
length 100 with 256 copies, 128-step rollouts and minibatches of 256, 51-63% of the padded time steps are real.

:class:`PackedRolloutBuffer` builds minibatches differently:

1. Each copy's rollout is cut into chunks of ``chunk_len`` steps (the last one shorter if ``chunk_len`` does not
   divide ``n_steps``); a chunk starts from the state stored during the rollout at its first step.
2. Each epoch, the chunks are shuffled and grouped ``batch_size // chunk_len`` to a minibatch.
3. Episode starts inside a chunk cut it into sequences (the state is reset there); the sequences are packed
   (:mod:`memenvs.baselines.policies.packing`): sorted by length and run in a few core calls whose batch shrinks as
   sequences end, so almost no time step is padding, and the loss is over real samples only.

The result of a minibatch is exactly what running the policy one step at a time over its chunks would give, the
state carried from step to step and reset at episode starts, as during the rollout. The default ``chunk_len`` is
``min(n_steps, batch_size)``: with ``batch_size >= n_steps``, each copy's whole rollout is one chunk, so
backpropagation through time covers everything the rollout holds of an episode.

Only the memory policy (:class:`~memenvs.baselines.policies.MemoryActorCriticPolicy` and its subclasses) reads
packed minibatches; with any other policy, or a ``Dict`` observation space, the upstream buffer is used unchanged.
Everything else, the loss included, is ``RecurrentPPO``'s own code, with two options, both off by default: the
self-imitation step after each rollout's epochs (``sil_coef > 0``;
:mod:`~memenvs.baselines.algorithms.self_imitation`), which replays whole past episodes packed the same way, and
a clipping range widened per sample to a KL trust region (``trust_region_delta``;
:mod:`~memenvs.baselines.algorithms.trust_region_clip`), for which :meth:`PackedRecurrentPPO.train` runs its own
epochs with the same loss terms, early stop and logs as upstream's.
"""

from __future__ import annotations

from typing import Any, Generator

import numpy as np
import torch as th
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RecurrentRolloutBufferSamples, RNNStates
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from stable_baselines3.common.utils import explained_variance

from .rollout_layout import lay_out_copy_major
from .self_imitation import EpisodeReplay, replay_minibatch
from .trust_region_clip import clip_bounds
from ..policies.memory_policy import MemoryActorCriticPolicy
from ..policies.packing import SequencePacking, pack_sequences

# Fixed cost of one core call in row-steps (see memenvs.baselines.policies.packing): a fused CPU LSTM
# forward+backward call costs about as much as 20-100 row-steps (more for narrow cores).
DEFAULT_CALL_COST = 64.0


class PackedRolloutBuffer(RecurrentRolloutBuffer):
    """Recurrent rollout buffer whose minibatches are shuffled fixed-length chunks, packed (see the module).

    Args:
        chunk_len: steps per chunk (``1 <= chunk_len <= buffer_size``).
        call_cost: the fixed cost of a core call in row-steps, which sets how many calls a minibatch is run in.
        Other arguments are ``RecurrentRolloutBuffer``'s.
    """

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        hidden_state_shape: tuple[int, int, int, int],
        device: th.device | str = "auto",
        gae_lambda: float = 1,
        gamma: float = 0.99,
        n_envs: int = 1,
        *,
        chunk_len: int,
        call_cost: float = DEFAULT_CALL_COST,
    ) -> None:
        if not 1 <= int(chunk_len) <= buffer_size:
            raise ValueError(f"chunk_len must be in [1, n_steps={buffer_size}], got {chunk_len}")
        if not call_cost >= 0:
            raise ValueError(f"call_cost must be >= 0, got {call_cost}")
        self.chunk_len, self.call_cost = int(chunk_len), float(call_cost)
        super().__init__(buffer_size, observation_space, action_space, hidden_state_shape, device, gae_lambda,
                         gamma, n_envs)

    def chunks(self) -> tuple[np.ndarray, np.ndarray]:
        """First flat sample index and length of every chunk (the flat layout is copy-major, as upstream's)."""
        offsets = np.arange(0, self.buffer_size, self.chunk_len)
        lengths = np.minimum(self.chunk_len, self.buffer_size - offsets)
        firsts = (np.arange(self.n_envs)[:, None] * self.buffer_size + offsets[None, :]).reshape(-1)
        return firsts, np.tile(lengths, self.n_envs)

    def get(self, batch_size: int | None = None) -> Generator[RecurrentRolloutBufferSamples, None, None]:
        assert self.full, "Rollout buffer must be full before sampling from it"
        lay_out_copy_major(self)
        firsts, lengths = self.chunks()
        per_batch = len(firsts) if batch_size is None else max(1, batch_size // self.chunk_len)
        order = np.random.permutation(len(firsts))
        for i in range(0, len(order), per_batch):
            pick = np.sort(order[i:i + per_batch])
            yield self.packed_samples(firsts[pick], lengths[pick])

    def packed_samples(self, firsts: np.ndarray, lengths: np.ndarray) -> RecurrentRolloutBufferSamples:
        """The packed minibatch of the chunks that start at flat indices ``firsts`` and run ``lengths`` steps.

        Its ``episode_starts`` field holds the :class:`~memenvs.baselines.policies.packing.SequencePacking` and
        ``mask`` is all ones (no padded sample reaches the loss).
        """
        # Flat indices of the chunks' samples, chunk after chunk; a sequence begins at each chunk's first step and
        # at each episode start inside a chunk.
        sizes = np.asarray(lengths, dtype=np.int64)
        within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        flat = np.repeat(np.asarray(firsts, dtype=np.int64), sizes) + within
        episode_starts = self.episode_starts.reshape(-1)
        begins = (within == 0) | (episode_starts[flat] > 0)
        seq_at = np.flatnonzero(begins)
        seq_len = np.diff(np.append(seq_at, len(flat)))
        packing, order = pack_sequences(flat[seq_at], seq_len, self.call_cost, self.device)
        idx = packing.sample_index
        # Initial states, one per sequence in sorted order: the stored state at its first step, zeroed where that
        # step starts an episode (what the policy does to the state there during the rollout).
        first = flat[seq_at][order]
        keep = (1.0 - episode_starts[first]).astype(np.float32)[:, None, None]

        def state(name: str) -> th.Tensor:
            # (n_seq, layers, hidden) -> (layers, n_seq, hidden)
            return self.to_torch(getattr(self, name)[first] * keep).transpose(0, 1).contiguous()

        return RecurrentRolloutBufferSamples(
            observations=self.to_torch(self.observations[idx]),
            actions=self.to_torch(self.actions[idx]),
            old_values=self.to_torch(self.values[idx].flatten()),
            old_log_prob=self.to_torch(self.log_probs[idx].flatten()),
            advantages=self.to_torch(self.advantages[idx].flatten()),
            returns=self.to_torch(self.returns[idx].flatten()),
            lstm_states=RNNStates((state("hidden_states_pi"), state("cell_states_pi")),
                                  (state("hidden_states_vf"), state("cell_states_vf"))),
            episode_starts=packing,  # type: ignore[arg-type]  # read by MemoryActorCriticPolicy only
            mask=th.ones(len(idx), device=self.device),
        )


class PackedRecurrentPPO(RecurrentPPO):
    """sb3-contrib's ``RecurrentPPO`` with :class:`PackedRolloutBuffer` minibatches (see the module docstring).

    Args:
        chunk_len: steps per chunk of a copy's rollout; ``None`` (default) is ``min(n_steps, batch_size)``.
            Backpropagation through time stops at chunk boundaries (the next chunk starts from the stored state).
        call_cost: fixed cost of one core call, in row-steps, traded against padding when a minibatch is packed.
        sil_coef: weight of the self-imitation loss (:mod:`~memenvs.baselines.algorithms.self_imitation`, Oh et al.
            2018) added after each rollout's PPO epochs; 0 (default) turns it off.
        sil_value_coef: weight of its value term (the paper's 0.01).
        sil_updates: self-imitation minibatches per rollout.
        sil_episodes: episodes per self-imitation minibatch.
        sil_buffer_steps: time steps of past episodes kept for it.
        trust_region_delta: ``None`` (default) clips every ratio to ``[1 - clip_range, 1 + clip_range]``; a number
            ``> 0`` widens each sample's range to the ratios a KL trust region of that radius allows
            (:mod:`~memenvs.baselines.algorithms.trust_region_clip`, Wang et al. 2019; their Atari runs used 0.001).
            Discrete action spaces only.
        Other arguments are ``RecurrentPPO``'s. Saved and loaded like it (``PackedRecurrentPPO.load``; sb3-contrib's
        ``RecurrentPPO.load`` also reads the file, and then trains with the upstream buffer).
    """

    def __init__(
        self,
        policy: str | type[MemoryActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float | Schedule = 3e-4,
        n_steps: int = 128,
        batch_size: int | None = 128,
        n_epochs: int = 10,
        gamma: float = 0.99,
        gae_lambda: float = 0.95,
        clip_range: float | Schedule = 0.2,
        clip_range_vf: float | Schedule | None = None,
        normalize_advantage: bool = True,
        ent_coef: float = 0.0,
        vf_coef: float = 0.5,
        max_grad_norm: float = 0.5,
        use_sde: bool = False,
        sde_sample_freq: int = -1,
        target_kl: float | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        chunk_len: int | None = None,
        call_cost: float = DEFAULT_CALL_COST,
        sil_coef: float = 0.0,
        sil_value_coef: float = 0.01,
        sil_updates: int = 4,
        sil_episodes: int = 8,
        sil_buffer_steps: int = 100_000,
        trust_region_delta: float | None = None,
        _init_setup_model: bool = True,
    ) -> None:
        self.chunk_len, self.call_cost = chunk_len, call_cost
        for name, value in (("sil_coef", sil_coef), ("sil_value_coef", sil_value_coef)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        for name, value in (("sil_updates", sil_updates), ("sil_episodes", sil_episodes),
                            ("sil_buffer_steps", sil_buffer_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if trust_region_delta is not None and (isinstance(trust_region_delta, bool) or not isinstance(
                trust_region_delta, (int, float)) or not trust_region_delta > 0):
            raise ValueError(f"trust_region_delta must be a number > 0 or None, got {trust_region_delta!r}")
        self.trust_region_delta = None if trust_region_delta is None else float(trust_region_delta)
        self.sil_coef, self.sil_value_coef = float(sil_coef), float(sil_value_coef)
        self.sil_updates, self.sil_episodes, self.sil_buffer_steps = sil_updates, sil_episodes, sil_buffer_steps
        self._sil_replay: EpisodeReplay | None = None
        super().__init__(
            policy, env, learning_rate=learning_rate, n_steps=n_steps, batch_size=batch_size, n_epochs=n_epochs,
            gamma=gamma, gae_lambda=gae_lambda, clip_range=clip_range, clip_range_vf=clip_range_vf,
            normalize_advantage=normalize_advantage, ent_coef=ent_coef, vf_coef=vf_coef,
            max_grad_norm=max_grad_norm, use_sde=use_sde, sde_sample_freq=sde_sample_freq, target_kl=target_kl,
            stats_window_size=stats_window_size, tensorboard_log=tensorboard_log, policy_kwargs=policy_kwargs,
            verbose=verbose, seed=seed, device=device, _init_setup_model=_init_setup_model,
        )

    def _setup_model(self) -> None:
        super()._setup_model()
        if self.trust_region_delta is not None and not isinstance(self.action_space, spaces.Discrete):
            raise ValueError(f"trust_region_delta needs a Discrete action space, got {self.action_space}")
        packable = isinstance(self.policy, MemoryActorCriticPolicy) and not isinstance(self.observation_space,
                                                                                       spaces.Dict)
        if self.sil_coef > 0:
            if not packable:
                raise ValueError("sil_coef > 0 needs the memory policy (MemoryActorCriticPolicy) and a Box or "
                                 "Discrete observation space: self-imitation replays packed episodes")
            self._sil_replay = EpisodeReplay(self.sil_buffer_steps, self.gamma, self.n_envs)
            self._sil_rng = np.random.default_rng(self.seed)
        if not packable:
            return
        chunk_len = self.chunk_len
        if chunk_len is None:
            chunk_len = min(self.n_steps, self.batch_size or self.n_steps)
        lstm = self.policy.lstm_actor
        self.rollout_buffer = PackedRolloutBuffer(
            self.n_steps, self.observation_space, self.action_space,
            (self.n_steps, lstm.num_layers, self.n_envs, lstm.hidden_size), self.device,
            gamma=self.gamma, gae_lambda=self.gae_lambda, n_envs=self.n_envs,
            chunk_len=chunk_len, call_cost=self.call_cost,
        )

    def _excluded_save_params(self) -> list[str]:
        # The replayed episodes are training data, like the rollout buffer: not saved with the model.
        return [*super()._excluded_save_params(), "_sil_replay", "_sil_rng"]

    def train(self) -> None:
        replay = self._sil_replay
        if replay is not None:
            buf = self.rollout_buffer  # still in time order: its get() lays it out copy-major
            replay.add_rollout(buf.observations, buf.actions, buf.rewards, buf.values, buf.episode_starts,
                               np.asarray(self._last_episode_starts))
        if self.trust_region_delta is None:
            super().train()
        else:
            self._train_trust_region_clip()
        if replay is not None:
            self._self_imitate(replay)

    def _train_trust_region_clip(self) -> None:
        """PPO's epochs over the rollout with each sample's ratio clipped to its trust-region range
        (:func:`~memenvs.baselines.algorithms.trust_region_clip.clip_bounds`); otherwise upstream's update: the
        same loss terms, gradient clipping, early stop on ``target_kl`` and logs."""
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)
        clip_range_vf = None if self.clip_range_vf is None else self.clip_range_vf(self._current_progress_remaining)
        logs: dict[str, list[float]] = {"entropy_loss": [], "policy_gradient_loss": [], "value_loss": [],
                                        "clip_fraction": [], "widened_range": []}
        rollout_bounds = None  # the whole rollout's ranges, solved once: the old log-probabilities do not change
        for epoch in range(self.n_epochs):
            kls, stop = [], False
            for batch in self.rollout_buffer.get(self.batch_size):
                packing = batch.episode_starts
                if isinstance(packing, SequencePacking):
                    if rollout_bounds is None:  # get() has laid the buffer out flat, as sample_index reads it
                        flat = self.rollout_buffer.to_torch(self.rollout_buffer.log_probs.reshape(-1))
                        rollout_bounds = clip_bounds(flat, clip_range, self.trust_region_delta)
                    lower, upper = (bound[packing.sample_index] for bound in rollout_bounds)
                else:
                    lower, upper = clip_bounds(batch.old_log_prob, clip_range, self.trust_region_delta)
                mask = batch.mask > 1e-8
                values, log_prob, entropy = self.policy.evaluate_actions(
                    batch.observations, batch.actions.long().flatten(), batch.lstm_states, batch.episode_starts)
                advantages = batch.advantages
                if self.normalize_advantage:
                    advantages = (advantages - advantages[mask].mean()) / (advantages[mask].std() + 1e-8)
                ratio = th.exp(log_prob - batch.old_log_prob)
                surrogate = th.min(advantages * ratio, advantages * th.clamp(ratio, lower, upper))
                policy_loss = -surrogate[mask].mean()
                values = values.flatten()
                if clip_range_vf is not None:
                    values = batch.old_values + th.clamp(values - batch.old_values, -clip_range_vf, clip_range_vf)
                value_loss = ((batch.returns - values) ** 2)[mask].mean()
                entropy_loss = -(entropy if entropy is not None else -log_prob)[mask].mean()
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                with th.no_grad():
                    log_ratio = log_prob - batch.old_log_prob
                    kls.append(((th.exp(log_ratio) - 1) - log_ratio)[mask].mean().item())
                    logs["clip_fraction"].append(((ratio < lower) | (ratio > upper)).float()[mask].mean().item())
                    logs["widened_range"].append((upper > 1 + clip_range).float()[mask].mean().item())
                logs["entropy_loss"].append(entropy_loss.item())
                logs["policy_gradient_loss"].append(policy_loss.item())
                logs["value_loss"].append(value_loss.item())
                if self.target_kl is not None and kls[-1] > 1.5 * self.target_kl:
                    stop = True
                    break
                self.policy.optimizer.zero_grad()
                loss.backward()
                th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
                self.policy.optimizer.step()
            self._n_updates += 1
            if stop:
                break
        for name, series in logs.items():
            self.logger.record(f"train/{name}", float(np.mean(series)) if series else 0.0)
        self.logger.record("train/approx_kl", float(np.mean(kls)) if kls else 0.0)
        self.logger.record("train/explained_variance", explained_variance(self.rollout_buffer.values.flatten(),
                                                                          self.rollout_buffer.returns.flatten()))
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)

    def _self_imitate(self, replay: EpisodeReplay) -> None:
        """``sil_updates`` minibatches of the self-imitation loss (see its module), each over ``sil_episodes``
        replayed episodes; the replayed episodes' priorities are refreshed with the new clipped advantages."""
        losses = []
        lstm = self.policy.lstm_actor
        for _ in range(self.sil_updates):
            picks = replay.sample(self.sil_episodes, self._sil_rng)
            if picks is None:
                break
            obs, actions, returns, packing, n_seq = replay_minibatch(replay, picks, self.call_cost, self.device)
            if isinstance(self.action_space, spaces.Discrete):
                actions = actions.long().flatten()
            zeros = th.zeros(lstm.num_layers, n_seq, lstm.hidden_size, device=self.device)
            states = RNNStates((zeros, zeros), (zeros, zeros))
            values, log_prob, _ = self.policy.evaluate_actions(obs, actions, states, packing)
            clipped = (returns - values.flatten()).clamp(min=0.0)
            weight = clipped.detach()
            loss = self.sil_coef * (-(log_prob * weight).mean() + self.sil_value_coef * 0.5 * (clipped ** 2).mean())
            self.policy.optimizer.zero_grad()
            loss.backward()
            th.nn.utils.clip_grad_norm_(self.policy.parameters(), self.max_grad_norm)
            self.policy.optimizer.step()
            losses.append(loss.item())
            replay.refresh(picks, packing.sample_index, weight.cpu().numpy())
        self.logger.record("train/sil_loss", float(np.mean(losses)) if losses else 0.0)
        self.logger.record("train/sil_episodes", len(replay))
