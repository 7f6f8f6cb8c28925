"""The policies MAML adapts: the MAML paper's Gaussian MLP and its recurrent variant with frozen recurrent weights.

Both are ``nn.Module`` s whose forward pass is *functional*: every method takes a ``params`` dict (name -> tensor)
holding the weights to use, so MAML can evaluate the policy at adapted weights ``theta - alpha * grad`` that are not
the module's parameters. A weight in ``params`` either has its module shape (the same weights for every task) or a
leading task axis ``T`` (one set of adapted weights per task); with the latter, observations carry the matching axes
``(..., T, K, obs_dim)`` (``K`` trajectories per task), and one call evaluates every task's policy at once.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

Params = dict[str, torch.Tensor]


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ weight.T + bias`` for shared weights ``(out, in)``, or per task for weights ``(T, out, in)`` with
    ``x`` of shape ``(..., T, K, in)``."""
    if weight.dim() == 2:
        return F.linear(x, weight, bias)
    # One batched matrix product per task (faster than einsum here): move the task axis first, flatten the rest.
    xt = x.movedim(-3, 0)
    y = torch.baddbmm(bias.unsqueeze(1), xt.reshape(xt.shape[0], -1, xt.shape[-1]), weight.transpose(1, 2))
    return y.view(*xt.shape[:-1], -1).movedim(0, -3)


def per_task(v: torch.Tensor, module_dim: int) -> torch.Tensor:
    """A vector parameter (``(out,)``, or ``(T, out)`` per task) shaped to broadcast over ``(T, K, out)``."""
    return v if v.dim() == module_dim else v.unsqueeze(-2)


class MAMLPolicy(nn.Module):
    """Base of the MAML policies: a diagonal Gaussian over actions with a state-independent learned log-std.

    Subclasses define :meth:`step`. :meth:`meta_parameters` are the weights MAML adapts in the inner loop and
    meta-trains in the outer loop (the trainable ``nn.Parameter`` s, in registration order); anything registered as a
    buffer is fixed.
    """

    recurrent: bool = False

    def __init__(self, obs_dim: int, action_dim: int, init_std: float = 1.0, min_std: float = 1e-6) -> None:
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.min_log_std = math.log(min_std)
        # The paper's code (and pytorch-maml-rl) starts from std 1 and adapts the log-std with the weights.
        self.log_std = nn.Parameter(torch.full((action_dim,), math.log(init_std)))

    def meta_parameters(self) -> Params:
        """The adapted and meta-trained weights, by name (the module's trainable parameters)."""
        return {name: p for name, p in self.named_parameters() if p.requires_grad}

    def initial_state(self, batch_shape: tuple[int, ...]) -> list[torch.Tensor] | None:
        """The recurrent state at the start of an episode (None for a feed-forward policy)."""
        return None

    def step(
        self, obs: torch.Tensor, params: Params, state: list[torch.Tensor] | None
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor] | None]:
        """Mean and log-std of the action distribution for one step, and the next recurrent state."""
        raise NotImplementedError

    def sequence(self, obs: torch.Tensor, params: Params) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std for whole episodes ``obs`` of shape ``(H, *batch, obs_dim)`` that all start at step 0."""
        state = self.initial_state(tuple(obs.shape[1:-1]))
        means = []
        for t in range(obs.shape[0]):
            mean, log_std, state = self.step(obs[t], params, state)
            means.append(mean)
        return torch.stack(means), log_std

    def _log_std(self, params: Params) -> torch.Tensor:
        return torch.clamp(per_task(params["log_std"], 1), min=self.min_log_std)


class MAMLMLPPolicy(MAMLPolicy):
    """The MAML paper's policy: an MLP from observation to the Gaussian mean, with a learned log-std.

    Finn et al. (2017, Section 5.3) use two hidden layers of 100 units; ``tristandeleu/pytorch-maml-rl`` uses
    ``64, 64`` with tanh. Weights are Xavier-uniform, biases zero (as in pytorch-maml-rl), the output layer linear.
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: tuple[int, ...] = (100, 100),
                 activation: str = "tanh", init_std: float = 1.0) -> None:
        super().__init__(obs_dim, action_dim, init_std)
        self.act = {"tanh": torch.tanh, "relu": torch.relu}[activation]
        sizes = (obs_dim, *hidden_sizes, action_dim)
        self.num_layers = len(sizes) - 1
        for i in range(self.num_layers):
            weight = nn.Parameter(torch.empty(sizes[i + 1], sizes[i]))
            nn.init.xavier_uniform_(weight)
            setattr(self, f"layer{i}_weight", weight)
            setattr(self, f"layer{i}_bias", nn.Parameter(torch.zeros(sizes[i + 1])))

    def step(self, obs, params, state):
        x = obs
        for i in range(self.num_layers):
            x = linear(x, params[f"layer{i}_weight"], params[f"layer{i}_bias"])
            if i < self.num_layers - 1:
                x = self.act(x)
        return x, self._log_std(params), None

    def sequence(self, obs, params):
        # No state: every step at once.
        mean, log_std, _ = self.step(obs, params, None)
        return mean, log_std


class MAMLRNNPolicy(MAMLPolicy):
    """The recurrent variant: every linear layer of the MLP replaced by an Elman RNN cell.

    Layer ``l`` computes ``h_l[t] = tanh(W_ih_l x_l[t] + b_ih_l + W_hh_l h_l[t-1] + b_hh_l)`` with ``x_0 = obs``,
    ``x_{l+1} = h_l`` and the Gaussian mean the last cell's output (so the mean is tanh-squashed to ``[-1, 1]``,
    which covers the action boxes of Navigation2D and HalfCheetah). Hidden states start at zero at every episode
    start and are carried only within an episode.

    **What "frozen" covers.** The hidden-to-hidden weight ``W_hh_l`` and bias ``b_hh_l`` of *every* cell (the
    hidden layers and the output cell) are drawn once at construction (PyTorch's ``RNNCell`` initialisation,
    uniform in ``+-1/sqrt(hidden)``) and never change: they are buffers, not parameters, so they are neither adapted
    by the inner policy-gradient steps nor updated by the outer TRPO/PPO step, and no gradient is computed for them.
    Everything else -- the input-to-hidden weights ``W_ih_l`` and biases ``b_ih_l`` of every cell and the log-std --
    is adapted in the inner loop and meta-trained in the outer loop, exactly the parameters of the MLP it replaces.
    """

    recurrent = True

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: tuple[int, ...] = (100, 100),
                 init_std: float = 1.0) -> None:
        super().__init__(obs_dim, action_dim, init_std)
        sizes = (obs_dim, *hidden_sizes, action_dim)
        self.sizes = sizes
        self.num_layers = len(sizes) - 1
        for i in range(self.num_layers):
            weight = nn.Parameter(torch.empty(sizes[i + 1], sizes[i]))
            nn.init.xavier_uniform_(weight)
            setattr(self, f"cell{i}_w_ih", weight)
            setattr(self, f"cell{i}_b_ih", nn.Parameter(torch.zeros(sizes[i + 1])))
            bound = 1.0 / math.sqrt(sizes[i + 1])
            self.register_buffer(f"cell{i}_w_hh", torch.empty(sizes[i + 1], sizes[i + 1]).uniform_(-bound, bound))
            self.register_buffer(f"cell{i}_b_hh", torch.empty(sizes[i + 1]).uniform_(-bound, bound))

    def frozen(self) -> dict[str, torch.Tensor]:
        """The frozen recurrent weights and biases, by name."""
        return dict(self.named_buffers())

    def initial_state(self, batch_shape):
        return [self.log_std.new_zeros(*batch_shape, n) for n in self.sizes[1:]]

    def step(self, obs, params, state):
        x, new_state = obs, []
        for i in range(self.num_layers):
            recurrent = F.linear(state[i], getattr(self, f"cell{i}_w_hh"), getattr(self, f"cell{i}_b_hh"))
            x = torch.tanh(linear(x, params[f"cell{i}_w_ih"], params[f"cell{i}_b_ih"]) + recurrent)
            new_state.append(x)
        return x, self._log_std(params), new_state


POLICIES: dict[str, type[MAMLPolicy]] = {"mlp": MAMLMLPPolicy, "rnn": MAMLRNNPolicy}
