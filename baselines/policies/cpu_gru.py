"""A one-layer GRU over whole sequences on the CPU, with back-propagation through time written out by hand.

Why: the memory baselines train small recurrent nets (hidden 32-256) on long sequences (a T-maze episode of 201
steps) with one torch thread. PyTorch's CPU ``nn.GRU`` records every step's cell as a chain of autograd nodes, and
the backward pass through those tiny operations costs several times the forward: in recurrent PPO on the
length-200 T-maze the GRU's backward was 60 % of training time and its forward 25 %. Here the forward keeps, per
step, the gate activations the backward needs, and the backward runs over time in one loop of a few NumPy
operations per step; the weight gradients are then one matrix product over all steps. Recurrent PPO's GRU trained
4-5x faster so there, 2-3x at 128-step chunks of hidden 128 (docs/results/training_throughput.md).

Not for the LSTM: PyTorch runs its CPU LSTM on oneDNN's fused kernels, which were twice as fast as the same
scheme written for the LSTM's gates.

The matrix products go through torch (its thread setting, one thread in training), the element-wise work through
NumPy, whose calls on small arrays cost a fraction of torch's. The equations and the weight layout are
``torch.nn.GRU``'s (gates r, z, n), so the module's parameters are used as they are; outputs and gradients equal
``nn.GRU``'s up to float32 rounding (tests/test_cpu_gru.py).

:func:`usable` says when a module can take this path: on the CPU, float32, one layer with biases, sequence-first,
one direction, no dropout, and only when a gradient will be taken (inference keeps PyTorch's kernel, so rollouts
and evaluations are unchanged).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch as th
from torch import nn
from torch.autograd.function import once_differentiable

_enabled = True


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Inside this block the GRU cores train with PyTorch's own kernel (to compare the two: the benchmark
    ``benchmarks/training_throughput.py`` measures its ``gru-torch`` row so)."""
    global _enabled
    before, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = before


def usable(rnn: nn.GRU, x: th.Tensor) -> bool:
    """Whether :func:`gru` can stand in for ``rnn(x, h0)`` (see the module docstring)."""
    return (
        _enabled
        and th.is_grad_enabled()
        and x.device.type == "cpu"
        and x.dtype == th.float32
        and rnn.num_layers == 1
        and rnn.bias
        and not rnn.batch_first
        and not rnn.bidirectional
        and (rnn.dropout == 0.0 or not rnn.training)
        and (x.requires_grad or rnn.weight_hh_l0.requires_grad)
    )


def gru(x: th.Tensor, h0: th.Tensor, rnn: nn.GRU) -> tuple[th.Tensor, th.Tensor]:
    """``rnn(x, h0)`` for ``x`` ``[T, B, F]`` and ``h0`` ``[1, B, H]``: the outputs ``[T, B, H]`` and the last
    state ``[1, B, H]``."""
    y, h = _GRU.apply(x, h0[0], rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    return y, h.unsqueeze(0)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """The logistic function in place, as ``(tanh(a / 2) + 1) / 2``: one transcendental call and no overflow."""
    a *= 0.5
    np.tanh(a, out=a)
    a += 1.0
    a *= 0.5
    return a


class _GRU(th.autograd.Function):
    """PyTorch's GRU: ``r = s(W_ir x + b_ir + W_hr h + b_hr)``, ``z`` likewise, ``n = tanh(W_in x + b_in + r *
    (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``."""

    @staticmethod
    def forward(ctx, x, h0, weight_ih, weight_hh, bias_ih, bias_hh):  # type: ignore[override]
        t_len, batch, width = x.shape
        hid = h0.shape[-1]
        with th.no_grad():  # the input side of every gate for every step at once
            gi = th.addmm(bias_ih, x.reshape(t_len * batch, width), weight_ih.t()).reshape(t_len, batch, -1).numpy()
        hs = np.empty((t_len + 1, batch, hid), dtype=np.float32)  # the states, h0 first
        hs[0] = h0.detach().numpy()
        rz = np.empty((t_len, batch, 2 * hid), dtype=np.float32)  # r and z after the sigmoid
        n = np.empty((t_len, batch, hid), dtype=np.float32)
        ghn = np.empty((t_len, batch, hid), dtype=np.float32)  # W_hn h + b_hn, which r scales
        gh = np.empty((batch, 3 * hid), dtype=np.float32)
        gh_t, w_t, b_t = th.from_numpy(gh), weight_hh.detach().t(), bias_hh.detach()
        h_views = th.from_numpy(hs).unbind(0)
        for t in range(t_len):
            th.addmm(b_t, h_views[t], w_t, out=gh_t)
            a = rz[t]
            np.add(gi[t, :, : 2 * hid], gh[:, : 2 * hid], out=a)
            _sigmoid(a)
            ghn[t] = gh[:, 2 * hid:]
            nt = n[t]
            np.multiply(a[:, :hid], ghn[t], out=nt)
            nt += gi[t, :, 2 * hid:]
            np.tanh(nt, out=nt)
            h = hs[t + 1]  # n + z * (h - n)
            np.subtract(hs[t], nt, out=h)
            h *= a[:, hid:]
            h += nt
        ctx.save_for_backward(x, weight_ih, weight_hh)
        ctx.arrays = hs, rz, n, ghn
        return th.from_numpy(hs[1:].copy()), th.from_numpy(hs[t_len].copy())

    @staticmethod
    @once_differentiable  # the backward is NumPy: no graph of it for a second derivative
    def backward(ctx, dy, dh_last):  # type: ignore[override]
        x, weight_ih, weight_hh = ctx.saved_tensors
        hs, rz, n, ghn = ctx.arrays
        t_len, batch, hid = n.shape
        r, z = rz[..., :hid], rz[..., hid:]
        # What each pre-activation's gradient is per unit of dh, for every step at once (none depends on dh).
        per_n = (1.0 - z) * (1.0 - n * n)
        per_z = (hs[:-1] - n) * z * (1.0 - z)
        per_r = ghn * r * (1.0 - r)  # per unit of the n pre-activation's gradient
        dy = np.zeros((t_len, batch, hid), np.float32) if dy is None else dy.numpy()
        carry = np.zeros((batch, hid), np.float32) if dh_last is None else dh_last.numpy().copy()
        d_hh = np.empty((t_len, batch, 3 * hid), dtype=np.float32)  # of r, z and (W_hn h + b_hn)
        d_n = np.empty((t_len, batch, hid), dtype=np.float32)  # of the n pre-activation
        dh = np.empty((batch, hid), dtype=np.float32)
        carry_t, w_t = th.from_numpy(carry), weight_hh.detach()
        g_views = th.from_numpy(d_hh).unbind(0)
        for t in range(t_len - 1, -1, -1):
            np.add(dy[t], carry, out=dh)
            g, dn = d_hh[t], d_n[t]
            np.multiply(dh, per_n[t], out=dn)
            np.multiply(dn, per_r[t], out=g[:, :hid])
            np.multiply(dh, per_z[t], out=g[:, hid: 2 * hid])
            np.multiply(dn, r[t], out=g[:, 2 * hid:])
            np.multiply(dh, z[t], out=carry)
            carry_t.addmm_(g_views[t], w_t)
        # The input side's gradients: those of r and z, and of the n pre-activation itself; then every weight's
        # gradient as one product over all steps.
        d_in = d_hh.copy()
        d_in[..., 2 * hid:] = d_n
        d_in_t = th.from_numpy(d_in.reshape(t_len * batch, -1))
        d_hh_t = th.from_numpy(d_hh.reshape(t_len * batch, -1))
        need = ctx.needs_input_grad
        dx = (d_in_t @ weight_ih).reshape(x.shape) if need[0] else None
        dw_ih = d_in_t.t() @ x.reshape(t_len * batch, -1) if need[2] else None
        dw_hh = d_hh_t.t() @ th.from_numpy(hs[:-1].reshape(t_len * batch, hid)) if need[3] else None
        db_ih = d_in_t.sum(0) if need[4] else None
        db_hh = d_hh_t.sum(0) if need[5] else None
        return dx, th.from_numpy(carry), dw_ih, dw_hh, db_ih, db_hh
