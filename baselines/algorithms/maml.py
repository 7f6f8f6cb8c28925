"""MAML for reinforcement learning (Finn, Abbeel & Levine 2017): policy-gradient inner steps, TRPO outer step.

One meta-iteration, read top to bottom in :func:`meta_iteration`:

1. Draw ``meta_batch_size`` tasks ``T`` from the env's task distribution and reset one native vector env of
   ``T * fast_batch_size`` copies with each task repeated ``fast_batch_size`` (``K``) times (:func:`collect`).
2. **Inner loop** (:func:`adapt`): with the meta-parameters ``theta`` sample ``K`` trajectories per task, fit the
   linear feature baseline per task (:func:`linear_feature_baseline`), and take the REINFORCE step
   ``theta'_i = theta - fast_lr * grad L_i(theta)``, one per task, all tasks at once (the weights get a task axis).
   With ``num_inner_steps > 1`` each further step samples new trajectories with the weights adapted so far.
3. Sample ``K`` more trajectories per task with the adapted ``theta'_i``: their mean return is the
   *post-adaptation* return, the first batch's the *pre-adaptation* return.
4. **Outer loop** (:func:`trpo_step`): TRPO on the post-adaptation surrogate ``mean_i L_i(theta'_i(theta))``, whose
   gradient goes through the inner step (second order unless ``first_order``): conjugate gradient on the
   Hessian of the mean KL of the adapted policies, a step of KL ``max_kl``, and a backtracking line search. With
   ``outer="ppo"`` a first-order clipped-surrogate (PPO-style) step with Adam replaces TRPO (:func:`ppo_step`).

The numbers of the defaults (:class:`MAMLConfig`) are those of the paper and of ``tristandeleu/pytorch-maml-rl``'s
configs: fast lr 0.1, one inner step, 20 trajectories per task, meta-batch 20 tasks (40 for HalfCheetahDir),
gamma 0.99, GAE lambda 1 (plain returns minus the baseline), normalised advantages, TRPO max KL 0.01 with 10 CG
iterations, damping 1e-5 and a 15-step line search with ratio 0.8, and the linear feature baseline of Duan et al.
(2016): ``[obs, obs**2, t/100, (t/100)**2, (t/100)**3, 1]`` fitted by ridge regression to the discounted returns.
Means over a task's steps (the losses, the KL, the advantages' normalisation) are pytorch-maml-rl's: each
trajectory's mean over its own steps, then the mean over the task's trajectories, so a trajectory that reaches the
goal early weighs as much as a full one (``average="trajectories"``). ``average="steps"`` weighs every step the
same instead (memenvs' rule until 2026-12-01): on Navigation2D its post-adaptation return fell after about 80
meta-iterations where the reference's did not (docs/results/maml_reference).
MAML is not an SB3 algorithm, so it has no row in :mod:`memenvs.baselines.hyperparams`: :class:`MAMLConfig` holds its
defaults and :func:`train_maml` is its entry point.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from ..policies.maml_policies import MAMLPolicy, Params


#: How a task's steps are averaged: each trajectory's mean first (pytorch-maml-rl), or every step alike.
AVERAGES = ("trajectories", "steps")


@dataclasses.dataclass
class MAMLConfig:
    """Hyperparameters of MAML-TRPO; defaults from Finn et al. (2017) and pytorch-maml-rl's 2D-navigation config."""

    fast_lr: float = 0.1
    num_inner_steps: int = 1
    meta_batch_size: int = 20
    fast_batch_size: int = 20
    gamma: float = 0.99
    first_order: bool = False
    outer: str = "trpo"
    max_kl: float = 1e-2
    cg_iters: int = 10
    cg_damping: float = 1e-5
    ls_max_steps: int = 15
    ls_backtrack_ratio: float = 0.8
    ppo_epochs: int = 5
    ppo_clip: float = 0.2
    ppo_lr: float = 3e-4
    average: str = "trajectories"

    def __post_init__(self) -> None:
        if self.outer not in ("trpo", "ppo"):
            raise ValueError(f"outer must be one of 'trpo', 'ppo'; got {self.outer!r}")
        if self.average not in AVERAGES:
            raise ValueError(f"average must be one of {', '.join(map(repr, AVERAGES))}; got {self.average!r}")
        for name in ("num_inner_steps", "meta_batch_size", "fast_batch_size", "cg_iters", "ls_max_steps",
                     "ppo_epochs"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {getattr(self, name)!r}")
        for name in ("fast_lr", "max_kl", "ppo_lr", "ppo_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma!r}")


# ---------------------------------------------------------------------------------------------------------- data
@dataclasses.dataclass
class Episodes:
    """``K`` trajectories of each of ``T`` tasks, padded to the horizon ``H``: arrays ``(H, T, K, ...)``."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    mask: torch.Tensor  # 1 where the step was taken (before the episode ended), 0 in the padding
    advantages: torch.Tensor | None = None

    def returns(self) -> torch.Tensor:
        """Undiscounted return of each trajectory, ``(T, K)``."""
        return (self.rewards * self.mask).sum(0)


def horizon_of(envs: gym.vector.VectorEnv) -> int:
    """The episode step limit of a memenvs meta-RL vector env (NumPy core or HalfCheetahDir)."""
    core = getattr(envs, "core", None)
    if core is not None:
        return int(core.max_steps)
    return int(envs.envs[0].unwrapped.max_steps)


def gaussian_log_prob(actions: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over the action dimensions."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z * z - log_std - 0.5 * np.log(2 * np.pi)).sum(-1)


@torch.no_grad()
def collect(envs: gym.vector.VectorEnv, policy: MAMLPolicy, params: Params, tasks: np.ndarray, k: int,
            generator: torch.Generator, deterministic: bool = False, device: str | torch.device = "cpu") -> Episodes:
    """Run ``k`` episodes of each task in ``tasks`` (``(T, *task_shape)``) at once, with ``params`` (shared, or one
    set per task), on a vector env of ``T * k`` copies whose autoreset is disabled. Actions are sampled from the
    Gaussian with ``generator`` (a CPU generator, so a seed gives the same noise on every device), or are its mean
    when ``deterministic``."""
    t_count = len(tasks)
    horizon = horizon_of(envs)
    obs, _ = envs.reset(options={"task": np.repeat(tasks, k, axis=0)})
    obs_buf = torch.zeros(horizon, t_count, k, policy.obs_dim, device=device)
    act_buf = torch.zeros(horizon, t_count, k, policy.action_dim, device=device)
    rew_buf = torch.zeros(horizon, t_count, k, device=device)
    mask = torch.zeros(horizon, t_count, k, device=device)
    alive = np.ones(t_count * k, dtype=bool)
    state = policy.initial_state((t_count, k))
    for t in range(horizon):
        o = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=device).view(t_count, k, -1)
        mean, log_std, state = policy.step(o, params, state)
        if deterministic:
            action = mean
        else:
            noise = torch.randn(mean.shape, generator=generator).to(device)
            action = mean + torch.exp(log_std) * noise
        obs_buf[t], act_buf[t] = o, action
        mask[t] = torch.as_tensor(alive.reshape(t_count, k), dtype=torch.float32, device=device)
        obs, reward, terminated, truncated, _ = envs.step(action.reshape(t_count * k, -1).cpu().numpy())
        rew_buf[t] = torch.as_tensor(np.asarray(reward, dtype=np.float32), device=device).view(t_count, k) * mask[t]
        alive &= ~(np.asarray(terminated) | np.asarray(truncated))
        if not alive.any():
            break
    return Episodes(obs_buf, act_buf, rew_buf, mask)


# ------------------------------------------------------------------------------------------------------ baseline
def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] * mask[t] + gamma * running
        out[t] = running
    return out * mask


def linear_feature_baseline(episodes: Episodes, returns: torch.Tensor, reg: float = 1e-5) -> torch.Tensor:
    """Values ``(H, T, K)`` of the linear feature baseline of Duan et al. (2016), fitted per task by ridge
    regression of the discounted ``returns`` on ``[obs, obs**2, t/100, (t/100)**2, (t/100)**3, 1]`` (masked)."""
    h, t_count, k, _ = episodes.obs.shape
    m = episodes.mask.unsqueeze(-1).double()
    obs = episodes.obs.double()
    time_ = torch.arange(h, dtype=torch.float64, device=obs.device).view(h, 1, 1, 1).expand(h, t_count, k, 1) / 100.0
    feats = torch.cat([obs, obs ** 2, time_, time_ ** 2, time_ ** 3, torch.ones_like(time_)], -1) * m
    x = feats.permute(1, 0, 2, 3).reshape(t_count, h * k, -1)  # one design matrix per task
    y = returns.double().permute(1, 0, 2).reshape(t_count, h * k, 1)
    xtx, xty = x.transpose(1, 2) @ x, x.transpose(1, 2) @ y
    eye = torch.eye(x.shape[-1], dtype=torch.float64, device=obs.device)
    for _ in range(5):  # more regularisation when the normal equations are singular (as rllab does)
        coef = torch.linalg.solve(xtx + reg * eye, xty)
        if torch.isfinite(coef).all():
            break
        reg *= 10
    values = (x @ coef).view(t_count, h, k).permute(1, 0, 2)
    return values.float() * episodes.mask


def compute_advantages(episodes: Episodes, gamma: float, average: str = "trajectories") -> Episodes:
    """Advantages with GAE lambda = 1 (discounted return minus the baseline), normalised per task (mean and
    variance by :func:`per_task_mean`), as pytorch-maml-rl does."""
    returns = discounted_returns(episodes.rewards, episodes.mask, gamma)
    adv = returns - linear_feature_baseline(episodes, returns)
    mean = per_task_mean(adv, episodes.mask, average).view(1, -1, 1)
    var = per_task_mean((adv - mean) ** 2, episodes.mask, average).view(1, -1, 1)
    episodes.advantages = (adv - mean) / (var.sqrt() + 1e-8) * episodes.mask
    return episodes


# ---------------------------------------------------------------------------------------------------- inner loop
def per_task_mean(x: torch.Tensor, mask: torch.Tensor, average: str = "trajectories") -> torch.Tensor:
    """Mean of ``x`` ``(H, T, K)`` over each task's valid steps, ``(T,)``: with ``"trajectories"`` the mean over
    the task's trajectories of each one's mean over its own steps (pytorch-maml-rl's ``weighted_mean``), with
    ``"steps"`` the mean over all its valid steps. The two agree when every trajectory runs to the horizon."""
    if average == "steps":
        return (x * mask).sum((0, 2)) / mask.sum((0, 2))
    return ((x * mask).sum(0) / mask.sum(0).clamp(min=1)).mean(-1)


def reinforce_loss(policy: MAMLPolicy, params: Params, episodes: Episodes,
                   average: str = "trajectories") -> torch.Tensor:
    """Per-task REINFORCE loss ``-mean(log pi(a|s) * A)`` over each task's valid steps, ``(T,)``."""
    mean, log_std = policy.sequence(episodes.obs, params)
    log_prob = gaussian_log_prob(episodes.actions, mean, log_std)
    return -per_task_mean(log_prob * episodes.advantages, episodes.mask, average)


def adapt(policy: MAMLPolicy, params: Params, batches: list[Episodes], fast_lr: float,
          create_graph: bool, average: str = "trajectories") -> Params:
    """``num_inner_steps`` policy-gradient steps per task: ``theta_i <- theta_i - fast_lr * grad L_i(theta_i)`` with
    one batch of trajectories per step. The shared ``params`` get a task axis first (an expanded view, so the
    gradient of the summed per-task losses with respect to it is each task's own gradient). With ``create_graph``
    the result is differentiable with respect to ``params`` through the gradients (second-order MAML); without, only
    through the identity term (first-order MAML)."""
    t_count = batches[0].obs.shape[1]
    with torch.enable_grad():  # the inner gradient needs a graph even when the caller runs under no_grad
        # Detached weights (sampling, evaluation) still need a graph for the inner gradient itself.
        params = {n: p if p.requires_grad else p.detach().requires_grad_() for n, p in params.items()}
        fast = {n: (p.unsqueeze(0).expand(t_count, *p.shape) if p.dim() == getattr(policy, n).dim() else p)
                for n, p in params.items()}
        for episodes in batches:
            loss = reinforce_loss(policy, fast, episodes, average).sum()
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=create_graph)
            fast = {n: p - fast_lr * g for (n, p), g in zip(fast.items(), grads)}
    return fast


# ---------------------------------------------------------------------------------------------------- outer loop
def surrogate(policy: MAMLPolicy, params: Params, train: list[Episodes], valid: Episodes, cfg: MAMLConfig,
              old: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None, create_graph: bool
              ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Mean over tasks of the post-adaptation importance-weighted loss ``-mean(ratio * A)`` and of the KL from the
    ``old`` adapted policies (itself if None), plus the adapted policies' (log-prob, mean, log-std)."""
    fast = adapt(policy, params, train, cfg.fast_lr, create_graph, cfg.average)
    mean, log_std = policy.sequence(valid.obs, fast)
    log_prob = gaussian_log_prob(valid.actions, mean, log_std)
    if old is None:
        old = (log_prob.detach(), mean.detach(), log_std.detach())
    old_log_prob, old_mean, old_log_std = old
    ratio = torch.exp(log_prob - old_log_prob)
    loss = -per_task_mean(ratio * valid.advantages, valid.mask, cfg.average).mean()
    # KL(old || new) of diagonal Gaussians, summed over action dimensions.
    var, old_var = torch.exp(2 * log_std), torch.exp(2 * old_log_std)
    kl = (log_std - old_log_std + (old_var + (old_mean - mean) ** 2) / (2 * var) - 0.5).sum(-1)
    kl = per_task_mean(kl.expand_as(valid.mask), valid.mask, cfg.average).mean()
    return loss, kl, old


def conjugate_gradient(hvp: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor, iters: int) -> torch.Tensor:
    """Approximate ``H^-1 b`` by ``iters`` conjugate-gradient iterations."""
    x, r, p = torch.zeros_like(b), b.clone(), b.clone()
    rr = r @ r
    for _ in range(iters):
        hp = hvp(p)
        alpha = rr / (p @ hp)
        x += alpha * p
        r -= alpha * hp
        new_rr = r @ r
        if new_rr < 1e-10:
            break
        p = r + (new_rr / rr) * p
        rr = new_rr
    return x


def trpo_step(policy: MAMLPolicy, train: list[Episodes], valid: Episodes, cfg: MAMLConfig) -> dict[str, float]:
    """One TRPO step of the meta-parameters on the post-adaptation surrogate (Schulman et al. 2015)."""
    params = policy.meta_parameters()
    theta = list(params.values())
    loss, kl, old = surrogate(policy, params, train, valid, cfg, None, create_graph=not cfg.first_order)
    grad = parameters_to_vector(torch.autograd.grad(loss, theta, retain_graph=True))
    grad_kl = parameters_to_vector(torch.autograd.grad(kl, theta, create_graph=True))

    def hvp(v: torch.Tensor) -> torch.Tensor:
        return parameters_to_vector(torch.autograd.grad(grad_kl @ v, theta, retain_graph=True)) + cfg.cg_damping * v

    step_dir = conjugate_gradient(hvp, grad, cfg.cg_iters)
    shs = 0.5 * step_dir @ hvp(step_dir)
    step = step_dir / torch.sqrt(shs / cfg.max_kl)
    old_theta = parameters_to_vector(theta).detach()
    old_loss = loss.item()
    size = 1.0
    for _ in range(cfg.ls_max_steps):
        vector_to_parameters(old_theta - size * step, theta)
        with torch.no_grad():
            new_loss, new_kl, _ = surrogate(policy, policy.meta_parameters(), train, valid, cfg, old, False)
        if new_loss.item() < old_loss and new_kl.item() < cfg.max_kl:
            return {"loss_before": old_loss, "loss_after": new_loss.item(), "kl": new_kl.item(), "step_size": size}
        size *= cfg.ls_backtrack_ratio
    vector_to_parameters(old_theta, theta)  # no acceptable step: keep the old parameters
    return {"loss_before": old_loss, "loss_after": old_loss, "kl": 0.0, "step_size": 0.0}


def ppo_step(policy: MAMLPolicy, train: list[Episodes], valid: Episodes, cfg: MAMLConfig,
             optimizer: torch.optim.Optimizer) -> dict[str, float]:
    """First-order outer step, PPO-style: ``ppo_epochs`` Adam steps on the clipped post-adaptation surrogate, the
    adaptation re-run (first order) at the current meta-parameters each epoch."""
    old = None
    for _ in range(cfg.ppo_epochs):
        params = policy.meta_parameters()
        fast = adapt(policy, params, train, cfg.fast_lr, False, cfg.average)
        mean, log_std = policy.sequence(valid.obs, fast)
        log_prob = gaussian_log_prob(valid.actions, mean, log_std)
        if old is None:
            old = log_prob.detach()
        ratio = torch.exp(log_prob - old)
        clipped = torch.clamp(ratio, 1 - cfg.ppo_clip, 1 + cfg.ppo_clip)
        objective = torch.minimum(ratio * valid.advantages, clipped * valid.advantages)
        loss = -per_task_mean(objective, valid.mask, cfg.average).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return {"loss_after": loss.item()}


# -------------------------------------------------------------------------------------------------- the training
def sample_and_adapt(envs: gym.vector.VectorEnv, policy: MAMLPolicy, cfg: MAMLConfig, tasks: np.ndarray,
                     generator: torch.Generator, device: str | torch.device = "cpu") -> tuple[list[Episodes], Params]:
    """The inner loop as sampling sees it: ``num_inner_steps`` times, sample ``fast_batch_size`` trajectories per
    task with the weights adapted so far and adapt again (first order: these weights only sample). Returns the
    batches with their advantages and the adapted weights (detached), as training and evaluation both use them."""
    params = {n: p.detach() for n, p in policy.meta_parameters().items()}
    train, fast = [], params
    for _ in range(cfg.num_inner_steps):
        episodes = collect(envs, policy, fast, tasks, cfg.fast_batch_size, generator, device=device)
        train.append(compute_advantages(episodes, cfg.gamma, cfg.average))
        fast = {n: p.detach() for n, p in adapt(policy, params, train, cfg.fast_lr, False, cfg.average).items()}
    return train, fast


def meta_iteration(envs: gym.vector.VectorEnv, policy: MAMLPolicy, cfg: MAMLConfig, tasks: np.ndarray,
                   generator: torch.Generator, optimizer: torch.optim.Optimizer | None = None,
                   device: str | torch.device = "cpu") -> dict[str, Any]:
    """Steps 2-4 of the module docstring for the tasks ``tasks``; returns the returns and the outer step's logs."""
    k = cfg.fast_batch_size
    train, fast = sample_and_adapt(envs, policy, cfg, tasks, generator, device)
    valid = compute_advantages(collect(envs, policy, fast, tasks, k, generator, device=device), cfg.gamma,
                               cfg.average)
    if cfg.outer == "trpo":
        logs = trpo_step(policy, train, valid, cfg)
    else:
        logs = ppo_step(policy, train, valid, cfg, optimizer)
    steps = sum(int(e.mask.sum()) for e in train) + int(valid.mask.sum())
    return {"pre_return": train[0].returns().mean().item(), "post_return": valid.returns().mean().item(),
            "env_steps": steps, **logs}


def evaluate_adaptation(envs: gym.vector.VectorEnv, policy: MAMLPolicy, cfg: MAMLConfig, tasks: np.ndarray,
                        generator: torch.Generator, device: str | torch.device = "cpu") -> dict[str, float]:
    """Deterministic returns before and after adaptation on ``tasks``: the mean action of ``theta`` (pre), then the
    mean action of the policy adapted from ``fast_batch_size`` sampled trajectories per task (post)."""
    k = cfg.fast_batch_size
    params = {n: p.detach() for n, p in policy.meta_parameters().items()}
    pre = collect(envs, policy, params, tasks, k, generator, True, device).returns().mean().item()
    _, fast = sample_and_adapt(envs, policy, cfg, tasks, generator, device)
    post = collect(envs, policy, fast, tasks, k, generator, True, device).returns().mean().item()
    return {"pre_return": pre, "post_return": post}


def train_maml(env_id: str, policy: MAMLPolicy, cfg: MAMLConfig, num_iterations: int, seed: int = 0,
               env_kwargs: dict[str, Any] | None = None, log: Callable[[dict[str, Any]], None] | None = None,
               device: str | torch.device = "cpu", checkpoint: str | Path | None = None,
               checkpoint_every_s: float = 600.0) -> list[dict[str, Any]]:
    """Meta-train ``policy`` on ``env_id`` for ``num_iterations`` meta-iterations; one row per iteration with the
    pre- and post-adaptation mean return of the sampled trajectories, env steps and wall time. ``policy`` must
    already be on ``device``; the envs step on the CPU.

    With ``checkpoint`` (a file path) the whole training state -- weights, outer optimizer, the task and action
    generators, the envs, the rows so far -- is saved there every ``checkpoint_every_s`` seconds and after the last
    iteration, and a call that finds the file continues from it: the same rows and weights as a run that was never
    interrupted (``log`` is called only for the iterations this call runs). Delete the file to start over."""
    torch.manual_seed(seed)
    envs = gym.make_vec(env_id, num_envs=cfg.meta_batch_size * cfg.fast_batch_size, autoreset_mode="Disabled",
                        **(env_kwargs or {}))
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(policy.meta_parameters().values(), lr=cfg.ppo_lr) if cfg.outer == "ppo" else None
    history: list[dict[str, Any]] = []
    if checkpoint is not None and os.path.exists(checkpoint):
        saved = torch.load(checkpoint, map_location=device, weights_only=False)
        policy.load_state_dict(saved["policy"])
        if optimizer is not None:
            optimizer.load_state_dict(saved["optimizer"])
        envs.close()
        envs, rng, history = saved["envs"], saved["rng"], saved["history"]
        generator.set_state(saved["generator"])
    spent = history[-1]["wall_s"] if history else 0.0
    steps = history[-1]["total_env_steps"] if history else 0
    start = last_saved = time.perf_counter()

    def save() -> None:
        state = {"policy": policy.state_dict(), "optimizer": None if optimizer is None else optimizer.state_dict(),
                 "envs": envs, "rng": rng, "generator": generator.get_state(), "history": history}
        tmp = f"{checkpoint}.{os.getpid()}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, checkpoint)

    for it in range(len(history), num_iterations):
        tasks = envs.sample_tasks(cfg.meta_batch_size, rng)
        row = meta_iteration(envs, policy, cfg, tasks, generator, optimizer, device)
        steps += row["env_steps"]
        row.update(iteration=it, total_env_steps=steps, wall_s=spent + time.perf_counter() - start)
        history.append(row)
        if log is not None:
            log(row)
        if checkpoint is not None and (time.perf_counter() - last_saved >= checkpoint_every_s
                                       or it == num_iterations - 1):
            save()
            last_saved = time.perf_counter()
    envs.close()
    return history
