"""Self-imitation for recurrent PPO: replaying the agent's own past episodes that did better than it expected.

Self-imitation learning (Oh, Guo, Singh and Lee, "Self-Imitation Learning", ICML 2018) keeps past episodes with
their discounted returns ``R`` and, beside the on-policy update, raises ``log pi(a | history)`` in proportion to the
clipped advantage ``(R - V)+`` while pulling the value up towards ``R``:

    L_sil = mean( -log pi(a_t | h_t) * (R_t - V(h_t))+  +  value_coef / 2 * ((R_t - V(h_t))+)**2 )

Only steps whose return beat the current value estimate contribute, so an episode stops mattering once the policy
expects what it earned. For a recurrent policy every replayed episode runs whole through the core from its zero
start state, so the gradient reaches back from the rewarded choice to the observations it depended on.

:class:`EpisodeReplay` gathers complete episodes from successive rollouts of an sb3-contrib recurrent rollout buffer
(an episode may span several rollouts) and samples them with probability proportional to their summed clipped
advantage, refreshed whenever an episode is replayed (the paper's prioritised replay, per episode instead of per
step, because a recurrent policy replays whole episodes).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch as th

from ..policies.packing import SequencePacking, pack_sequences


@dataclasses.dataclass
class Episode:
    """One complete episode: what the policy saw and did, and the discounted return from each step."""

    observations: np.ndarray  # (T, *obs_shape)
    actions: np.ndarray  # (T, *action_shape)
    returns: np.ndarray  # (T,) float32
    priority: float  # sum over steps of (R_t - V_t)+ when last measured


class EpisodeReplay:
    """The complete episodes of the last ``capacity`` steps of rollouts, replayed by the self-imitation step of
    :class:`~memenvs.baselines.algorithms.packed_ppo.PackedRecurrentPPO`.

    Args:
        capacity: time steps kept; the oldest episodes leave first.
        gamma: discount of the returns.
        n_envs: copies of the vector env whose rollouts are added.
    """

    def __init__(self, capacity: int, gamma: float, n_envs: int) -> None:
        if int(capacity) < 1:
            raise ValueError(f"capacity must be a positive number of steps, got {capacity}")
        self.capacity, self.gamma, self.n_envs = int(capacity), float(gamma), int(n_envs)
        self.episodes: list[Episode] = []
        self.n_steps = 0
        # Per copy, the pieces (observations, actions, rewards, values) of the episode still running.
        self._open: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(self.n_envs)]

    def __len__(self) -> int:
        return len(self.episodes)

    def add_rollout(self, observations: np.ndarray, actions: np.ndarray, rewards: np.ndarray, values: np.ndarray,
                    episode_starts: np.ndarray, ended_after: np.ndarray) -> int:
        """Add one rollout, arrays ``(n_steps, n_envs, ...)`` in time order as a rollout buffer holds them before
        sampling; ``episode_starts[t, i]`` marks step ``t`` as the first of copy ``i``'s episode and
        ``ended_after[i]`` says whether the episode running at the rollout's last step ended there. Returns the
        number of episodes completed."""
        n_steps = len(rewards)
        done = 0
        for i in range(self.n_envs):
            starts = np.flatnonzero(episode_starts[:, i] > 0)
            bounds = [0, *(int(t) for t in starts if t > 0), n_steps]
            for t0, t1 in zip(bounds[:-1], bounds[1:]):
                if t0 == 0 and not (episode_starts[0, i] > 0) and not self._open[i]:
                    continue  # the rest of an episode that began before this replay saw it: not complete
                # Copies: the rollout buffer's arrays are the caller's to reuse.
                self._open[i].append(tuple(a[t0:t1, i].copy() for a in (observations, actions, rewards, values)))
                if t1 < n_steps or ended_after[i]:
                    self._close(i)
                    done += 1
        return done

    def _close(self, i: int) -> None:
        obs, act, rew, val = (np.concatenate(parts) for parts in zip(*self._open[i]))
        self._open[i] = []
        returns = np.empty(len(rew), dtype=np.float32)
        running = 0.0
        for t in range(len(rew) - 1, -1, -1):
            running = float(rew[t]) + self.gamma * running
            returns[t] = running
        priority = float(np.maximum(returns - val.astype(np.float32).reshape(-1), 0.0).sum())
        self.episodes.append(Episode(obs, act, returns, priority))
        self.n_steps += len(returns)
        while self.n_steps > self.capacity and len(self.episodes) > 1:
            self.n_steps -= len(self.episodes.pop(0).returns)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """Indices of ``n`` episodes drawn with probability proportional to their priority (with replacement);
        ``None`` when no episode has a positive priority."""
        priority = np.array([e.priority for e in self.episodes], dtype=np.float64)
        total = priority.sum()
        if not total > 0:
            return None
        return rng.choice(len(priority), size=n, p=priority / total)

    def offsets(self, picks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lengths of the episodes ``picks`` and where each starts when they are laid end to end."""
        lengths = np.array([len(self.episodes[k].returns) for k in picks], dtype=np.int64)
        return lengths, np.cumsum(lengths) - lengths

    def refresh(self, picks: np.ndarray, sample_index: np.ndarray, weights: np.ndarray) -> None:
        """Set the priorities of the episodes ``picks`` (as passed to :func:`replay_minibatch`) to their summed
        clipped advantages ``weights``, given per packed sample (``sample_index``: flat index of each into the
        picked episodes laid end to end)."""
        _, firsts = self.offsets(picks)
        of = np.searchsorted(firsts, sample_index, side="right") - 1
        sums = np.bincount(of, weights=weights, minlength=len(picks))
        for k, total in zip(picks, sums):
            self.episodes[k].priority = float(total)


def replay_minibatch(replay: EpisodeReplay, picks: np.ndarray, call_cost: float, device: th.device | str
                     ) -> tuple[th.Tensor, th.Tensor, th.Tensor, SequencePacking, int]:
    """The picked episodes as one packed minibatch: observations, actions and returns in packed order, the
    :class:`~memenvs.baselines.policies.packing.SequencePacking` and the number of sequences (every one starts an
    episode, so from a zero state)."""
    episodes = [replay.episodes[k] for k in picks]
    lengths, firsts = replay.offsets(picks)
    packing, _ = pack_sequences(firsts, lengths, call_cost, device)
    idx = packing.sample_index
    obs = np.concatenate([e.observations for e in episodes])[idx]
    act = np.concatenate([e.actions for e in episodes])[idx]
    ret = np.concatenate([e.returns for e in episodes])[idx]
    as_tensor = functools.partial(th.as_tensor, device=device)
    return as_tensor(obs), as_tensor(act), as_tensor(ret), packing, len(episodes)
