"""Packed sequences: a minibatch of variable-length sequences run through a memory core without padding waste.

A training minibatch of a recurrent policy is a set of *sequences*: pieces of one copy's rollout that start either
at an episode start (zero state) or where the piece was cut from the rollout (the state stored during the rollout).
sb3-contrib pads every sequence to the longest one; with episodes that end inside a rollout, half of the padded
time steps can be padding. Here the sequences are sorted by length, longest first, so that the ones still running
at any time ``t`` are a prefix of the batch, and the core runs over a few consecutive time ranges ("calls"): each
call continues the state rows of the sequences still running and drops the ones that ended. One call over all
steps is plain padding; one call per distinct length wastes nothing but pays the fixed cost of a call many times
(a fused CPU LSTM forward+backward call costs about as much as 20-100 row-steps). :func:`plan_calls`
picks the boundaries that minimise ``n_calls * call_cost + computed row-steps``.

Samples are kept in *packed order* (time-major; at each step the running sequences in sorted order), the order of
``torch.nn.utils.rnn.PackedSequence.data``; the loss is a mean over samples, so the order does not matter to PPO.
Within a call a sequence that ends before the call does is padded with zeros after its end, which cannot change
its earlier outputs (cores are causal), so outputs and gradients are exactly those of running each sequence alone.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch as th
from torch import nn

from .cores import State


@dataclasses.dataclass(frozen=True)
class PackedCall:
    """One core call of a packed minibatch: time steps ``[t0, t1)`` of the first ``n_rows`` sequences.

    ``start:stop`` is the call's slice of the packed samples; ``index`` (``None`` when the call has no padding)
    maps each of those samples to its row of the call's ``[(t1 - t0) * n_rows]`` time-major block.
    """

    t0: int
    t1: int
    n_rows: int
    start: int
    stop: int
    index: th.Tensor | None


@dataclasses.dataclass(frozen=True)
class SequencePacking:
    """Layout of a packed minibatch (built by :func:`pack_sequences`).

    Passed to a :class:`~memenvs.baselines.policies.MemoryActorCriticPolicy` in place of the ``episode_starts``
    tensor of a padded minibatch; the initial states that go with it are one per sequence, in sorted order.

    Attributes:
        lengths: sequence lengths, longest first.
        calls: the core calls that cover them (see :func:`plan_calls`).
        sample_index: for each packed sample, its index in the caller's flat sample array.
        n_samples: number of real samples (the sum of ``lengths``).
    """

    lengths: np.ndarray
    calls: tuple[PackedCall, ...]
    sample_index: np.ndarray
    n_samples: int

    @property
    def n_seq(self) -> int:
        return len(self.lengths)


def plan_calls(lengths: Sequence[int], call_cost: float) -> list[int]:
    """Time boundaries ``[0, b1, ..., max(lengths)]`` of the calls that minimise
    ``n_calls * call_cost + sum over calls of (running sequences at its start) * (its duration)``.

    ``lengths`` must be sorted longest first. Boundaries are chosen among the distinct lengths (a boundary
    anywhere else only adds a call); dynamic programming over them is exact and cheap (a minibatch has at most a
    few dozen distinct lengths).
    """
    lens = np.asarray(lengths, dtype=np.int64)
    if lens.size == 0 or np.any(lens < 1) or np.any(np.diff(lens) > 0):
        raise ValueError(f"lengths must be positive and sorted longest first, got {list(lens)}")
    times = np.concatenate([[0], np.unique(lens)])  # candidate boundaries, ascending
    running = (lens[None, :] > times[:, None]).sum(axis=1)  # sequences still running at each candidate
    best = np.full(len(times), np.inf)
    best[0] = 0.0
    prev = np.zeros(len(times), dtype=np.int64)
    for j in range(1, len(times)):
        costs = best[:j] + call_cost + running[:j] * (times[j] - times[:j])
        i = int(np.argmin(costs))
        best[j], prev[j] = costs[i], i
    bounds = [len(times) - 1]
    while bounds[-1] != 0:
        bounds.append(int(prev[bounds[-1]]))
    return [int(times[k]) for k in reversed(bounds)]


def pack_sequences(
    starts: np.ndarray, lengths: np.ndarray, call_cost: float = 64.0, device: th.device | str = "cpu"
) -> tuple[SequencePacking, np.ndarray]:
    """Pack sequences given by their first sample (``starts``, indices into a flat sample array in which each
    sequence is contiguous) and ``lengths``.

    Returns the layout and ``order``, the permutation that sorts the sequences longest first (initial states must
    be given in that order). ``layout.sample_index`` lists the flat indices of the samples in packed order.
    """
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    lens, firsts = lengths[order], starts[order]
    t_max = int(lens[0])
    running = (lens[None, :] > np.arange(t_max)[:, None]).sum(axis=1)  # [t_max], non-increasing
    offsets = np.concatenate([[0], np.cumsum(running)])
    n = int(offsets[-1])
    t_of = np.repeat(np.arange(t_max), running)
    row_of = np.arange(n) - np.repeat(offsets[:-1], running)
    sample_index = firsts[row_of] + t_of
    calls = []
    bounds = plan_calls(lens, call_cost)
    for t0, t1 in zip(bounds[:-1], bounds[1:]):
        rows = int(running[t0])
        start, stop = int(offsets[t0]), int(offsets[t1])
        index = None
        if stop - start != (t1 - t0) * rows:
            index = th.as_tensor((t_of[start:stop] - t0) * rows + row_of[start:stop], device=device)
        calls.append(PackedCall(t0, t1, rows, start, stop, index))
    return SequencePacking(lens, tuple(calls), sample_index, n), order


def run_packed(features: th.Tensor, states: State, packing: SequencePacking, core: nn.Module) -> th.Tensor:
    """Run ``core`` over a packed minibatch: ``features`` ``(n_samples, F)`` in packed order, ``states`` the
    initial states ``(num_layers, n_seq, hidden)`` in sorted order. Returns the outputs in packed order."""
    h, c = states
    width = features.shape[-1]
    outs = []
    for call in packing.calls:
        steps = call.t1 - call.t0
        x = features[call.start:call.stop]
        if call.index is not None:
            x = x.new_zeros(steps * call.n_rows, width).index_copy(0, call.index, x)
        y, (h, c) = core(x.reshape(steps, call.n_rows, width), (h[:, :call.n_rows], c[:, :call.n_rows]))
        y = y.reshape(steps * call.n_rows, -1)
        outs.append(y if call.index is None else y.index_select(0, call.index))
    return outs[0] if len(outs) == 1 else th.cat(outs)
