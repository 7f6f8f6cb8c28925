"""The hand-written CPU GRU equals PyTorch's ``nn.GRU``: outputs, final state and every gradient."""

import pytest
import torch as th
from torch import nn

from memenvs.baselines.policies import cpu_gru
from memenvs.baselines.policies.cores import GRUCore, IAMCore


@pytest.mark.parametrize("t_len, batch, width, hidden", [(1, 1, 1, 1), (7, 3, 4, 5), (40, 6, 9, 16)])
def test_matches_nn_gru(t_len: int, batch: int, width: int, hidden: int) -> None:
    th.manual_seed(t_len * 100 + hidden)
    rnn = nn.GRU(width, hidden)
    # a non-contiguous input (the sequence-first view of a batch-first tensor), as the policies pass it
    x = th.randn(batch, t_len, width).transpose(0, 1).requires_grad_()
    h0 = (0.5 * th.randn(1, batch, hidden)).requires_grad_()
    wy, wh = th.randn(t_len, batch, hidden), th.randn(1, batch, hidden)
    inputs = [x, h0, *rnn.parameters()]
    assert cpu_gru.usable(rnn, x)
    y_ref, h_ref = rnn(x, h0)
    y_new, h_new = cpu_gru.gru(x, h0, rnn)
    ref = th.autograd.grad((y_ref * wy).sum() + (h_ref * wh).sum(), inputs)
    new = th.autograd.grad((y_new * wy).sum() + (h_new * wh).sum(), inputs)
    for a, b in [(y_ref, y_new), (h_ref, h_new), *zip(ref, new)]:
        assert a.shape == b.shape
        th.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_loss_on_outputs_only_and_input_without_gradient() -> None:
    """No gradient into the final state, and an input that needs none (the policies' features when no layer comes
    before the core): only the weights get gradients, equal to nn.GRU's."""
    th.manual_seed(1)
    rnn = nn.GRU(3, 4)
    x, h0 = th.randn(5, 2, 3), th.zeros(1, 2, 4)
    ref = th.autograd.grad(rnn(x, h0)[0].square().sum(), list(rnn.parameters()))
    new = th.autograd.grad(cpu_gru.gru(x, h0, rnn)[0].square().sum(), list(rnn.parameters()))
    for a, b in zip(ref, new):
        th.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


def test_usable_only_where_it_applies() -> None:
    x = th.randn(4, 2, 3)
    assert cpu_gru.usable(nn.GRU(3, 4), x)
    assert not cpu_gru.usable(nn.GRU(3, 4, num_layers=2), x)
    assert not cpu_gru.usable(nn.GRU(3, 4, bias=False), x)
    assert not cpu_gru.usable(nn.GRU(3, 4, batch_first=True), x)
    assert not cpu_gru.usable(nn.GRU(3, 4, bidirectional=True), x)
    assert not cpu_gru.usable(nn.GRU(3, 4).double(), x.double())
    with th.no_grad():  # inference keeps PyTorch's kernel
        assert not cpu_gru.usable(nn.GRU(3, 4), x)
    assert not cpu_gru.usable(nn.GRU(3, 4).requires_grad_(False), x)
    with cpu_gru.disabled():
        assert not cpu_gru.usable(nn.GRU(3, 4), x)
    assert cpu_gru.usable(nn.GRU(3, 4), x)


def _iam_with_gru() -> IAMCore:
    return IAMCore(3, 4, dset="manual", dset_indices=[0, 2], fnn_arch=[8], rnn="gru")


@pytest.mark.parametrize("make_core", [lambda: GRUCore(3, 4), _iam_with_gru])
def test_cores_take_it_for_a_gradient_step_only(make_core, monkeypatch: pytest.MonkeyPatch) -> None:
    """The GRU cores (plain, and IAM's recurrent branch) use the hand-written path for a gradient step and
    nn.GRU otherwise, with equal outputs."""
    th.manual_seed(2)
    core = make_core()
    x = th.randn(6, 2, 3)
    state = (th.randn(1, 2, 4), th.zeros(1, 2, 4))
    calls = []
    original = cpu_gru.gru
    monkeypatch.setattr(cpu_gru, "gru", lambda *a: calls.append(1) or original(*a))
    y_fast, _ = core(x, state)
    assert calls == [1]
    with th.no_grad():
        y_ref, _ = core(x, state)
    assert calls == [1]
    th.testing.assert_close(y_fast.detach(), y_ref, rtol=1e-5, atol=1e-6)
