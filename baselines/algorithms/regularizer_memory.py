"""Regularizer memory: a quadratic penalty that stands in for the likelihood of past data, for any SB3 on-policy
algorithm (PPO, A2C, RecurrentPPO) without touching its training loop.

The memory term is

    M(θ) = λ/2 · Σ_j c_j (θ − θ*)ᵀ H_j (θ − θ*),     H_j = (1/n_j) Σ_i w_i g_i g_iᵀ,

with g_i = ∇θ log π(a_i | s_i) the score of a stored sample, w_i = |r̂_i|^(2b) (r̂ the sample's reward, return or
advantage), θ* the latest consolidated parameters (the anchor) and c_j = γ^(age of consolidation j) a recency decay.
With b = 0 each H_j is the empirical Fisher of the policy on its own data, as in EWC (Kirkpatrick et al. 2017) and
online EWC with γ < 1 (Schwarz et al. 2018); with b > 0 it is a *reward-weighted score second moment*, not a Fisher.

Forms: ``"diagonal"`` keeps diag(H) only (EWC); ``"lowrank"`` keeps the weighted score vectors themselves and
evaluates Σ w_i (g_iᵀ Δθ)² exactly, never forming H (memory: rank × parameters); ``"l2"`` is the plain anchor
H = I (the control that has no memory of *which* directions mattered).

How it plugs in: :meth:`RegularizerMemory.attach` registers a step pre-hook on the policy's optimizer that adds
∇M = λ Σ_j c_j H_j (θ − θ*) to the gradients just before each optimizer step (after SB3's gradient clipping, which
therefore applies to the algorithm's own loss only); :class:`RegularizerMemoryCallback` collects samples at the end
of every rollout and consolidates either then (``consolidate="rollout"``) or when you call
:meth:`RegularizerMemory.end_task` (``consolidate="task"``). With λ = 0 nothing the algorithm computes changes: the
samples are drawn from the memory's own generator and scored without sampling, so training is bit-identical.

Example::

    model = make_model("mlp", "memenvs/NonstationaryCartPole-v0", env_kwargs={"tasks": ("standard",)})
    memory, callback = regularizer_memory(model, form="diagonal", strength=10.0)
    model.learn(50_000, callback=callback)
    memory.end_task()                       # anchor here; H from the last rollout, scored with the final θ
    model.set_env(env_of_task_b)
    model.learn(50_000, callback=callback, reset_num_timesteps=False)
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Iterator, Sequence

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback

FORMS = ("diagonal", "lowrank", "l2")
WEIGHT_SOURCES = ("reward", "return", "advantage")
CONSOLIDATE = ("task", "rollout")


@dataclasses.dataclass(frozen=True)
class RegularizerConfig:
    """Options of the memory term (validated; see the module docstring for the formula).

    Args:
        form: ``"diagonal"``, ``"lowrank"`` or ``"l2"``.
        strength: λ >= 0.
        b: exponent of the sample weights w_i = |r̂_i|^(2b) (b = 0: Fisher; b > 0: reward-weighted).
        weight_source: r̂ is the sample's ``"reward"``, its ``"return"`` (the algorithm's λ-return target) or its
            ``"advantage"`` (GAE, before any normalisation).
        decay: γ in (0, 1]: every consolidation multiplies the older H_j by γ.
        n_samples: samples scored per consolidation (drawn without replacement from the last rollout).
        max_rank: ``lowrank`` only: most stored score vectors; the oldest consolidations are dropped beyond it.
        normalize: ``"trace"`` rescales each H_j to mean diagonal 1 (as H = I has), so one λ means the same total
            stiffness for every form and b and only the *shape* of the penalty differs; ``"none"`` keeps the raw
            moments (λ then depends on the scale of the scores and weights).
        consolidate: ``"task"`` (on :meth:`RegularizerMemory.end_task`) or ``"rollout"`` (at every rollout end).
        seed: seeds the memory's own sample generator (never the algorithm's).
    """

    form: str = "diagonal"
    strength: float = 1.0
    b: float = 0.0
    weight_source: str = "advantage"
    decay: float = 1.0
    n_samples: int = 256
    max_rank: int = 1024
    normalize: str = "trace"
    consolidate: str = "task"
    seed: int = 0

    def __post_init__(self) -> None:
        def bad(name: str, allowed: str) -> ValueError:
            return ValueError(f"{name} must be {allowed}, got {getattr(self, name)!r}")

        if self.form not in FORMS:
            raise bad("form", f"one of {FORMS}")
        if self.weight_source not in WEIGHT_SOURCES:
            raise bad("weight_source", f"one of {WEIGHT_SOURCES}")
        if self.consolidate not in CONSOLIDATE:
            raise bad("consolidate", f"one of {CONSOLIDATE}")
        if self.normalize not in ("trace", "none"):
            raise bad("normalize", "'trace' or 'none'")
        if not (isinstance(self.strength, (int, float)) and np.isfinite(self.strength) and self.strength >= 0):
            raise bad("strength", "a finite number >= 0")
        if not (isinstance(self.b, (int, float)) and np.isfinite(self.b) and self.b >= 0):
            raise bad("b", "a finite number >= 0")
        if not (isinstance(self.decay, (int, float)) and 0 < self.decay <= 1):
            raise bad("decay", "a number in (0, 1]")
        for name in ("n_samples", "max_rank"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise bad(name, "an integer >= 1")
        if self.form == "lowrank" and self.n_samples > self.max_rank:
            raise ValueError(f"n_samples ({self.n_samples}) must be <= max_rank ({self.max_rank}) for lowrank")


def trainable_parameters(policy: th.nn.Module) -> list[th.nn.Parameter]:
    """The parameters the memory covers: every trainable parameter of the policy, in ``named_parameters`` order."""
    return [p for p in policy.parameters() if p.requires_grad]


def flat(tensors: Sequence[th.Tensor]) -> th.Tensor:
    """Concatenate tensors into one flat vector (differentiable)."""
    return th.cat([t.reshape(-1) for t in tensors])


@contextlib.contextmanager
def _no_distribution_validation() -> Iterator[None]:
    # torch.distributions validates logits with a data-dependent ``if``, which vmap cannot trace.
    old = th.distributions.Distribution._validate_args
    th.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        th.distributions.Distribution.set_default_validate_args(old)


class _LogProb(th.nn.Module):
    """``log π(a | s)`` of a feed-forward SB3 policy as a module, so ``torch.func.functional_call`` can swap its
    parameters."""

    def __init__(self, policy: th.nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, obs: th.Tensor, actions: th.Tensor) -> th.Tensor:
        return self.policy.evaluate_actions(obs, actions)[1]


def _is_recurrent(policy: th.nn.Module) -> bool:
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

    return isinstance(policy, RecurrentActorCriticPolicy)


def score_vectors(
    policy: th.nn.Module, obs: th.Tensor, actions: th.Tensor, recurrent: dict[str, th.Tensor] | None = None
) -> th.Tensor:
    """Per-sample scores g_i = ∇θ log π(a_i | s_i), one row per sample, shape ``(n, P)`` over
    :func:`trainable_parameters`.

    Feed-forward policies: exact, vectorised with ``torch.func``. Recurrent policies (``recurrent`` holds the stored
    ``h_pi, c_pi, h_vf, c_vf`` of shape ``(n, layers, H)`` and ``episode_starts``): the score of one step given the
    stored recurrent state, i.e. truncated at that state (no backpropagation through time), one sample at a time.
    """
    params = trainable_parameters(policy)
    if isinstance(policy.action_space, spaces.Discrete):
        actions = actions.long().reshape(-1)
    if recurrent is not None:
        return _recurrent_scores(policy, params, obs, actions, recurrent)
    from torch.func import functional_call, grad, vmap

    module = _LogProb(policy)
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    frozen = {n: p for n, p in module.named_parameters() if not p.requires_grad}
    frozen.update(dict(module.named_buffers()))

    def logp(theta: dict[str, th.Tensor], o: th.Tensor, a: th.Tensor) -> th.Tensor:
        return functional_call(module, ({**theta, **frozen},), (o.unsqueeze(0), a.unsqueeze(0)))[0]

    theta = {n: p.detach() for n, p in zip(names, params)}
    with _no_distribution_validation():
        grads = vmap(grad(logp), in_dims=(None, 0, 0))(theta, obs, actions)
    return th.cat([grads[n].reshape(len(obs), -1) for n in names], dim=1)


def _recurrent_scores(
    policy: th.nn.Module, params: list[th.nn.Parameter], obs: th.Tensor, actions: th.Tensor,
    rec: dict[str, th.Tensor],
) -> th.Tensor:
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    rows = []
    for i in range(len(obs)):
        def state(key: str) -> th.Tensor:
            return rec[key][i].unsqueeze(1).contiguous()  # (layers, 1 sequence, H)

        lstm = RNNStates((state("h_pi"), state("c_pi")), (state("h_vf"), state("c_vf")))
        _, logp, _ = policy.evaluate_actions(obs[i:i + 1], actions[i:i + 1], lstm, rec["episode_starts"][i:i + 1])
        g = th.autograd.grad(logp.sum(), params, allow_unused=True)
        rows.append(flat([th.zeros_like(p) if gi is None else gi for gi, p in zip(g, params)]))
    return th.stack(rows)


class RegularizerMemory:
    """The quadratic memory term over a policy's parameters: its value, its gradient, consolidation.

    State: the anchor θ* (``None`` until the first consolidation), and the accumulated curvature: a diagonal
    (``diagonal``), a list of ``(G_j, c_j)`` blocks with H_j = G_jᵀ G_j (``lowrank``), or nothing (``l2``).
    """

    def __init__(self, policy: th.nn.Module, config: RegularizerConfig | None = None, **options: Any) -> None:
        if config is not None and options:
            raise ValueError("give either config or keyword options, not both")
        self.config = config if config is not None else RegularizerConfig(**options)
        self.policy = policy
        self.params = trainable_parameters(policy)
        self.n_params = sum(p.numel() for p in self.params)
        self.anchor: th.Tensor | None = None
        self.diag = th.zeros(self.n_params)
        self.blocks: list[tuple[th.Tensor, float]] = []
        self.n_consolidations = 0
        self.rng = np.random.default_rng(self.config.seed)
        self._pending: dict[str, Any] | None = None
        self._hook: Any = None
        self._hooked_optimizer: Any = None

    # ------------------------------------------------------------------ the term
    @property
    def strength(self) -> float:
        return float(self.config.strength)

    def curvature_product(self, delta: th.Tensor) -> th.Tensor:
        """Σ_j c_j H_j · delta (for ``l2``: delta), without forming any matrix."""
        form = self.config.form
        if form == "l2":
            return delta
        if form == "diagonal":
            return self.diag * delta
        out = th.zeros_like(delta)
        for g, c in self.blocks:
            out += c * (g.T @ (g @ delta))
        return out

    def penalty(self) -> th.Tensor:
        """M(θ) at the current parameters, differentiable with respect to them (0 before any consolidation)."""
        if self.anchor is None:
            return flat(self.params).sum() * 0.0
        delta = flat(self.params) - self.anchor
        form = self.config.form
        if form == "l2":
            quad = (delta * delta).sum()
        elif form == "diagonal":
            quad = (self.diag * delta * delta).sum()
        else:
            quad = sum(c * ((g @ delta) ** 2).sum() for g, c in self.blocks) if self.blocks else delta.sum() * 0.0
        return 0.5 * self.strength * quad

    def gradient(self) -> th.Tensor:
        """∇M(θ) = λ Σ_j c_j H_j (θ − θ*), flat, in closed form (zeros before any consolidation)."""
        with th.no_grad():
            if self.anchor is None:
                return th.zeros(self.n_params)
            return self.strength * self.curvature_product(flat(self.params) - self.anchor)

    def add_gradient(self) -> None:
        """Add ∇M to every parameter's ``.grad`` (creating it where missing)."""
        if self.anchor is None:
            return
        grad = self.gradient()
        offset = 0
        for p in self.params:
            piece = grad[offset:offset + p.numel()].view_as(p)
            offset += p.numel()
            if p.grad is None:
                p.grad = piece.clone()
            else:
                p.grad.add_(piece)

    # ------------------------------------------------------------------ hooking into the algorithm
    def attach(self, optimizer: th.optim.Optimizer | None = None) -> None:
        """Make ``optimizer`` (default: the policy's) add ∇M before each of its steps. Idempotent."""
        optimizer = optimizer if optimizer is not None else self.policy.optimizer
        if self._hooked_optimizer is optimizer:
            return
        self.detach()
        self._hook = optimizer.register_step_pre_hook(lambda opt, args, kwargs: self.add_gradient())
        self._hooked_optimizer = optimizer

    def detach(self) -> None:
        """Remove the optimizer hook."""
        if self._hook is not None:
            self._hook.remove()
        self._hook = None
        self._hooked_optimizer = None

    # ------------------------------------------------------------------ consolidation
    def sample_rollout(self, buffer: Any) -> dict[str, Any]:
        """Draw ``n_samples`` transitions of a full (not yet flattened) SB3 rollout buffer and their weights."""
        cfg = self.config
        if getattr(buffer, "generator_ready", False):
            raise ValueError("the rollout buffer was already flattened; sample it at rollout end")
        n_steps, n_envs = buffer.rewards.shape
        total = n_steps * n_envs
        idx = self.rng.choice(total, size=min(cfg.n_samples, total), replace=False)
        t, e = np.divmod(idx, n_envs)
        source = {"reward": buffer.rewards, "return": buffer.returns, "advantage": buffer.advantages}
        sample: dict[str, Any] = {
            "obs": th.as_tensor(buffer.observations[t, e]),
            "actions": th.as_tensor(buffer.actions[t, e]),
            "weights": self.sample_weights(np.asarray(source[cfg.weight_source][t, e], dtype=np.float64)),
        }
        if hasattr(buffer, "hidden_states_pi"):
            # (steps, layers, envs, H) -> the (layers, H) state stored before each sampled step
            for key, name in (("h_pi", "hidden_states_pi"), ("c_pi", "cell_states_pi"),
                              ("h_vf", "hidden_states_vf"), ("c_vf", "cell_states_vf")):
                sample[key] = th.as_tensor(getattr(buffer, name)[t, :, e])
            sample["episode_starts"] = th.as_tensor(buffer.episode_starts[t, e], dtype=th.float32)
        return sample

    def sample_weights(self, r_hat: np.ndarray) -> th.Tensor:
        """w_i = |r̂_i|^(2b) (so b = 0 gives 1 everywhere, including r̂ = 0)."""
        return th.as_tensor(np.abs(r_hat) ** (2.0 * self.config.b), dtype=th.float32)

    def scores(self, sample: dict[str, Any]) -> th.Tensor:
        """Score vectors of a sample at the current parameters."""
        recurrent = None
        if "h_pi" in sample:
            recurrent = {k: sample[k] for k in ("h_pi", "c_pi", "h_vf", "c_vf", "episode_starts")}
        was_training = self.policy.training
        self.policy.set_training_mode(False)
        try:
            return score_vectors(self.policy, sample["obs"], sample["actions"], recurrent).detach()
        finally:
            self.policy.set_training_mode(was_training)

    def consolidate(self, scores: th.Tensor | None = None, weights: th.Tensor | None = None) -> None:
        """Decay the stored curvature by γ, add H_new = (1/n) Σ w_i g_i g_iᵀ, and move the anchor to the current
        parameters. ``scores`` may be omitted for ``l2`` (which needs none)."""
        cfg = self.config
        if cfg.form != "l2":
            if scores is None:
                raise ValueError(f"form {cfg.form!r} needs score vectors to consolidate")
            scores = scores.detach().to(th.float32)
            n = scores.shape[0]
            w = th.ones(n) if weights is None else th.as_tensor(weights, dtype=th.float32)
            rows = scores * (w / n).sqrt().unsqueeze(1)  # H_new = rowsᵀ rows
            if cfg.normalize == "trace":
                trace = float((rows * rows).sum())
                if trace > 0:
                    rows = rows * (self.n_params / trace) ** 0.5
            if cfg.form == "diagonal":
                self.diag = cfg.decay * self.diag + (rows * rows).sum(0)
            else:
                self.blocks = [(g, c * cfg.decay) for g, c in self.blocks] + [(rows, 1.0)]
                while sum(g.shape[0] for g, _ in self.blocks) > cfg.max_rank:
                    self.blocks.pop(0)
        self.anchor = flat(self.params).detach().clone()
        self.n_consolidations += 1

    def consolidate_sample(self, sample: dict[str, Any]) -> None:
        """Score ``sample`` at the current parameters and consolidate."""
        scores = None if self.config.form == "l2" else self.scores(sample)
        self.consolidate(scores, sample["weights"])

    def end_task(self) -> None:
        """Consolidate at a task boundary from the last rollout's samples, scored with the current parameters."""
        if self._pending is None:
            raise ValueError("no rollout has been collected since the last consolidation; train first")
        self.consolidate_sample(self._pending)
        self._pending = None

    def on_rollout(self, buffer: Any) -> None:
        """What :class:`RegularizerMemoryCallback` does at each rollout end."""
        sample = self.sample_rollout(buffer)
        if self.config.consolidate == "rollout":
            self.consolidate_sample(sample)
        else:
            self._pending = sample

    def summary(self) -> dict[str, Any]:
        """Numbers worth logging: consolidations, stored rank, penalty value."""
        return {
            "consolidations": self.n_consolidations,
            "rank": sum(g.shape[0] for g, _ in self.blocks),
            "penalty": float(self.penalty().detach()),
        }


class RegularizerMemoryCallback(BaseCallback):
    """Hooks a :class:`RegularizerMemory` into ``model.learn``: attaches the optimizer hook at training start and
    hands each finished rollout (returns and advantages computed, buffer not yet flattened) to the memory."""

    def __init__(self, memory: RegularizerMemory, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.memory = memory

    def _on_training_start(self) -> None:
        if self.model.policy is not self.memory.policy:
            raise ValueError("the memory was built for another policy")
        self.memory.attach(self.model.policy.optimizer)

    def _on_rollout_end(self) -> None:
        self.memory.on_rollout(self.model.rollout_buffer)
        if self.verbose:
            self.logger.record("memory/penalty", self.memory.summary()["penalty"])

    def _on_step(self) -> bool:
        return True


def regularizer_memory(model: Any, **options: Any) -> tuple[RegularizerMemory, RegularizerMemoryCallback]:
    """A memory over ``model.policy`` with :class:`RegularizerConfig` ``options``, and the callback to pass to
    ``model.learn``."""
    memory = RegularizerMemory(model.policy, **options)
    return memory, RegularizerMemoryCallback(memory)
