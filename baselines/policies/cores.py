"""Memory cores: recurrent modules that plug into sb3-contrib's ``RecurrentPPO`` in place of its ``nn.LSTM``.

``RecurrentPPO`` sizes its rollout buffer from ``policy.lstm_actor.num_layers`` and ``.hidden_size`` and stores
exactly two state tensors ``(h, c)``, each ``(num_layers, n_envs, hidden_size)``. A memory core is therefore any
``nn.Module`` with

* ``input_size``, ``hidden_size``, ``num_layers`` (the state shape RecurrentPPO allocates) and ``output_size``
  (the width of what it hands to the policy and value heads; it may differ from ``hidden_size``),
* ``forward(x[T, B, F], (h, c)) -> (y[T, B, output_size], (h', c'))``.

A GRU carries an unused second tensor; a core with a bigger state packs it into that shape. Cores never reset
their state themselves: the policy zeroes the state rows of copies whose episode starts (see
:mod:`memenvs.baselines.policies.memory_policy`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch as th
from torch import nn

from . import cpu_gru

State = tuple[th.Tensor, th.Tensor]


class MemoryCore(nn.Module):
    """Base class of memory cores (see the module docstring for the contract).

    Subclasses set ``input_size``, ``hidden_size``, ``num_layers`` and ``output_size`` in ``__init__`` and
    implement :meth:`forward`. ``output_size_for`` lets a policy size its heads before the core is built (the
    features width is known only later).
    """

    #: Whether the core wants the ``(C, H, W)`` shape of its input features (spatial attention does).
    needs_feature_shape: bool = False

    input_size: int
    hidden_size: int
    num_layers: int
    output_size: int

    @classmethod
    def output_size_for(cls, hidden_size: int, **core_kwargs: Any) -> int:
        """Width of the output of a core built with these arguments (the hidden size for plain RNNs)."""
        return hidden_size

    def forward(self, x: th.Tensor, state: State) -> tuple[th.Tensor, State]:  # pragma: no cover - abstract
        raise NotImplementedError


class LSTMCore(MemoryCore):
    """``nn.LSTM`` as a memory core; the state is the LSTM's own ``(h, c)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **lstm_kwargs: Any) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.output_size = hidden_size
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers=num_layers, **lstm_kwargs)

    def forward(self, x: th.Tensor, state: State) -> tuple[th.Tensor, State]:
        y, (h, c) = self.rnn(x, (state[0].contiguous(), state[1].contiguous()))
        return y, (h, c)


class GRUCore(MemoryCore):
    """``nn.GRU`` as a memory core; the second state tensor is carried through unchanged (it stays zero)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, **gru_kwargs: Any) -> None:
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.output_size = hidden_size
        self.rnn = nn.GRU(input_size, hidden_size, num_layers=num_layers, **gru_kwargs)

    def forward(self, x: th.Tensor, state: State) -> tuple[th.Tensor, State]:
        if cpu_gru.usable(self.rnn, x):  # a gradient step on the CPU: the hand-written backward, several times faster
            y, h = cpu_gru.gru(x, state[0], self.rnn)
        else:
            y, h = self.rnn(x, state[0].contiguous())
        return y, (h, state[1])


RNN_CORES: dict[str, type[MemoryCore]] = {"lstm": LSTMCore, "gru": GRUCore}


class ObservationShortcut(MemoryCore):
    """A core whose output at each step is the wrapped core's output followed by the step's own input, so the heads
    read the current observation directly as well as through the memory (the "shortcut" of Ni et al. 2022's
    recurrent actor and critic, twni2016/pomdp-baselines).

    Why: under a constant input the state of a recurrent core drifts for many steps (an untrained or half-trained
    LSTM's state kept moving for ~100 steps along the T-maze's corridor), so a policy that reads only the state
    sees a new input at every step of a corridor whose cells all look alike, and must learn the corridor one cell at
    a time. Through the shortcut, what the observation alone decides is learnt once for every step, as by a
    memoryless policy. The state shape is the wrapped core's.
    """

    def __init__(self, core: MemoryCore) -> None:
        super().__init__()
        self.core = core
        self.input_size, self.hidden_size, self.num_layers = core.input_size, core.hidden_size, core.num_layers
        self.output_size = core.output_size + core.input_size

    def forward(self, x: th.Tensor, state: State) -> tuple[th.Tensor, State]:
        y, state = self.core(x, state)
        return th.cat([y, x], dim=-1), state


def _mlp(sizes: Sequence[int], activation: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers)


DSET_MODES = ("manual", "learned", "attention")
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


class IAMCore(MemoryCore):
    """Influence-aware memory (Suau et al.): a feed-forward branch on the full input in parallel with a recurrent
    branch on the d-set ``D(x)``; the two outputs are concatenated for the policy and value heads.

    Args:
        input_size: width of the features (the flattened observation, or a flattened CNN map for ``attention``).
        hidden_size: recurrent branch width (paper: 64 on Warehouse).
        num_layers: recurrent branch layers (1 for ``attention``).
        dset: ``"manual"`` (``dset_indices`` pick input entries), ``"learned"`` (a linear projection to
            ``dset_size`` inputs) or ``"attention"`` (spatial attention over the regions of a CNN map, queried by
            the previous recurrent state; needs ``feature_shape = (C, H, W)``, given by the policy).
        dset_indices: the manual d-set (required for ``manual``; :func:`memenvs.baselines.models.make_model` fills it
            from the env's ``info["dset"]``).
        dset_size: number of inputs of the ``learned`` projection.
        fnn_arch: layer widths of the feed-forward branch (paper: ``[576, 256]`` on Warehouse); empty means the
            raw input is passed through.
        rnn: ``"lstm"`` (paper) or ``"gru"``.
        activation: ``"relu"`` or ``"tanh"`` for the feed-forward branch.
        attention_size: width of the additive attention's hidden layer.
        feature_shape: ``(C, H, W)`` of the input map, for ``attention``.

    The state is the recurrent branch's ``(h, c)`` (``c`` unused with a GRU). Because the recurrent branch gets
    only ``D(x)``, its state cannot depend on input entries outside the d-set in ``manual`` mode.
    """

    needs_feature_shape = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int = 64,
        num_layers: int = 1,
        dset: str = "manual",
        dset_indices: Sequence[int] | None = None,
        dset_size: int = 16,
        fnn_arch: Sequence[int] = (576, 256),
        rnn: str = "lstm",
        activation: str = "relu",
        attention_size: int = 64,
        feature_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if dset not in DSET_MODES:
            raise ValueError(f"dset must be one of {', '.join(DSET_MODES)}, got {dset!r}")
        if rnn not in RNN_CORES:
            raise ValueError(f"rnn must be one of {', '.join(RNN_CORES)}, got {rnn!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.dset, self.rnn_kind = dset, rnn
        fnn_arch = list(fnn_arch)
        self.fnn = _mlp([input_size, *fnn_arch], ACTIVATIONS[activation])
        self.output_size = self.output_size_for(hidden_size, fnn_arch=fnn_arch, input_size=input_size)

        if dset == "manual":
            if dset_indices is None or len(dset_indices) == 0:
                raise ValueError("dset='manual' needs dset_indices (a non-empty list of input indices)")
            idx = th.as_tensor([int(i) for i in dset_indices], dtype=th.long)
            if idx.min() < 0 or idx.max() >= input_size:
                raise ValueError(f"dset_indices must lie in [0, {input_size}), got {list(dset_indices)}")
            # A buffer, so it moves with the module and is saved in the state dict.
            self.register_buffer("dset_indices", idx)
            rnn_in = len(idx)
        elif dset == "learned":
            if int(dset_size) < 1:
                raise ValueError(f"dset_size must be >= 1, got {dset_size}")
            self.project = nn.Linear(input_size, int(dset_size))
            rnn_in = int(dset_size)
        else:
            if feature_shape is None or len(feature_shape) != 3:
                raise ValueError("dset='attention' needs feature_shape=(C, H, W) of a CNN map (use SpatialCNN)")
            if num_layers != 1:
                raise ValueError("dset='attention' supports num_layers=1 only")
            c, h, w = (int(v) for v in feature_shape)
            if c * h * w != input_size:
                raise ValueError(f"feature_shape {tuple(feature_shape)} does not match input_size {input_size}")
            self.feature_shape = (c, h, w)
            self.att_region = nn.Linear(c, attention_size)
            self.att_query = nn.Linear(hidden_size, attention_size, bias=False)
            self.att_score = nn.Linear(attention_size, 1, bias=False)
            rnn_in = c
        if dset == "attention":
            # The query at step t is the state after step t-1, so the recurrence is stepped one cell at a time.
            self.cell = nn.LSTMCell(rnn_in, hidden_size) if rnn == "lstm" else nn.GRUCell(rnn_in, hidden_size)
        else:
            self.memory = RNN_CORES[rnn](rnn_in, hidden_size, num_layers)

    @classmethod
    def output_size_for(
        cls, hidden_size: int, fnn_arch: Sequence[int] = (576, 256), input_size: int | None = None, **_: Any
    ) -> int:
        fnn_arch = list(fnn_arch)
        if not fnn_arch and input_size is None:
            raise ValueError("IAM with an empty fnn_arch passes the input through; its width is not known yet")
        return (fnn_arch[-1] if fnn_arch else int(input_size)) + hidden_size  # type: ignore[arg-type]

    def dset_input(self, x: th.Tensor) -> th.Tensor:
        """``D(x)`` for ``manual`` and ``learned`` modes (``x`` of shape ``[..., input_size]``)."""
        if self.dset == "manual":
            return x.index_select(-1, self.dset_indices)
        if self.dset == "learned":
            return self.project(x)
        raise ValueError("dset_input is defined for the manual and learned modes only")

    def forward(self, x: th.Tensor, state: State) -> tuple[th.Tensor, State]:
        ff = self.fnn(x)
        if self.dset != "attention":
            y, state = self.memory(self.dset_input(x), state)
            return th.cat([ff, y], dim=-1), state
        y, state = self._attend(x, state)
        return th.cat([ff, y], dim=-1), state

    def _attend(self, x: th.Tensor, state: State) -> tuple[th.Tensor, State]:
        t_len, batch = x.shape[:2]
        c, hh, ww = self.feature_shape
        regions = x.reshape(t_len, batch, c, hh * ww).transpose(2, 3)  # [T, B, R, C]
        keys = self.att_region(regions)  # [T, B, R, A], computed for all steps at once
        h, cell = state[0][0], state[1][0]
        outs = []
        for t in range(t_len):
            score = self.att_score(th.tanh(keys[t] + self.att_query(h).unsqueeze(1))).squeeze(-1)  # [B, R]
            weights = th.softmax(score, dim=-1)
            d = th.bmm(weights.unsqueeze(1), regions[t]).squeeze(1)  # [B, C]
            if self.rnn_kind == "lstm":
                h, cell = self.cell(d, (h, cell))
            else:
                h = self.cell(d, h)
            outs.append(h)
        return th.stack(outs), (h.unsqueeze(0), cell.unsqueeze(0))


CORES: dict[str, type[MemoryCore]] = {"lstm": LSTMCore, "gru": GRUCore, "iam": IAMCore}


def core_class(core: str | type[MemoryCore]) -> type[MemoryCore]:
    """The core class named by ``core`` (``"lstm"``, ``"gru"``, ``"iam"``) or ``core`` itself if it is a class."""
    if isinstance(core, str):
        if core not in CORES:
            raise ValueError(f"core must be one of {', '.join(CORES)} or a MemoryCore subclass, got {core!r}")
        return CORES[core]
    if isinstance(core, type) and issubclass(core, nn.Module):
        return core
    raise ValueError(f"core must be one of {', '.join(CORES)} or a MemoryCore subclass, got {core!r}")


def _gate_biases(module: nn.Module) -> Any:
    """For every LSTM and GRU of ``module``: ``(bias_ih, bias_hh, hidden size, is an LSTM)`` per layer, the gate
    blocks in PyTorch's order ((i, f, g, o) for the LSTM, (r, z, n) for the GRU)."""
    for rnn in module.modules():
        if isinstance(rnn, (nn.LSTM, nn.GRU)):
            params = dict(rnn.named_parameters())
            for name, bias_ih in params.items():
                if name.startswith("bias_ih"):
                    yield bias_ih, params["bias_hh" + name[len("bias_ih"):]], rnn.hidden_size, isinstance(rnn, nn.LSTM)


def set_remember_bias(module: nn.Module, value: float) -> None:
    """Start every LSTM's forget gate (and every GRU's update gate) of ``module`` at bias ``value``, so the state
    is kept by default at initialisation: gradients then reach back further, which long memories need (Gers et
    al. 2000; Jozefowicz et al. 2015 recommend 1 for the LSTM forget gate)."""
    with th.no_grad():
        for bias_ih, bias_hh, size, _ in _gate_biases(module):
            bias_ih[size:2 * size] = value  # the second block: the forget gate of (i, f, g, o), the update gate
            bias_hh[size:2 * size] = 0.0  # of (r, z, n)


def set_chrono_bias(module: nn.Module, horizon: int) -> None:
    """Chrono initialisation (Tallec & Ollivier 2018, "Can recurrent neural networks warp time?") of every LSTM and
    GRU of ``module``, for dependencies up to ``horizon`` steps: each unit's forget gate (GRU: update gate) starts at
    bias ``log(u)``, ``u`` uniform in ``[1, horizon - 1]``, and each LSTM input gate at ``-log(u)``, so the units
    start out keeping their state for characteristic times spread up to the horizon (a bias of 1 keeps about 27% of
    the state after 5 steps, and none after 200). Draws from torch's global generator."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 3:
        raise ValueError(f"chrono_horizon must be an integer >= 3 (steps of the longest dependency), got {horizon!r}")
    with th.no_grad():
        for bias_ih, bias_hh, size, lstm in _gate_biases(module):
            keep = th.log(th.empty(size).uniform_(1.0, horizon - 1.0))
            bias_ih[size:2 * size] = keep
            bias_hh[size:2 * size] = 0.0
            if lstm:
                bias_ih[:size] = -keep
                bias_hh[:size] = 0.0
