"""A2C with a recurrent policy, as a configuration of sb3-contrib's ``RecurrentPPO``: the meta-LSTM's algorithm
(Wang et al. 2018; RL^2, Duan et al. 2016).

:class:`RecurrentA2C` is ``RecurrentPPO`` with one epoch, one batch holding the whole rollout, ``gae_lambda=1``, no
advantage normalisation, RMSprop(alpha=0.99, eps=1e-5). With one gradient step on freshly collected data the probability
ratio is 1, the clipped surrogate has the gradient of ``-A * log pi`` and clipping never binds, so the update is A2C's
(checked against SB3's ``A2C`` in the feed-forward case in ``tests/test_meta_lstm.py``). Its buffer keeps every copy's
rollout as one sequence (upstream cuts one sequence at a random point each update), so backpropagation runs through
whole episodes.

**One update per episode.** Wang et al. (as the public reproductions) update once per 100-trial (200-step) episode
of a single worker. Here ``n_steps=200`` and ``n_envs`` copies run in lockstep, so one update averages the gradient
of ``n_envs`` whole episodes: with ``n_envs=1`` it is the paper's schedule exactly; with more copies there are
``n_envs`` times fewer updates per episode, each with a less noisy gradient (the loss is a mean over steps, and
RMSprop divides out the gradient's scale, so the step size per update does not grow with ``n_envs``).

**One pass or two.** The original PyTorch port of the task asked whether the episode rollout and the gradient can be
computed in one forward pass (keep the graph while acting, backpropagate at the episode's end) or need two (act
without a graph, then re-run the network over the recorded episode). This implementation does **two passes**: SB3
collects the rollout under ``no_grad`` and stores observations (which include the previous action and reward), the
actions taken, and the recurrent state at every step; ``train`` then re-runs the LSTM over each copy's whole episode
from its stored initial state (zeros at the episode start) and backpropagates. The gradients are the same as the
one-pass ones: the weights do not change between the two passes (one update per rollout), the inputs are the same
recorded observations and the actions are data, not functions of the weights (the policy-gradient term is
``A * grad log pi(a|h)`` with the sampled ``a`` fixed), so the second pass rebuilds the same activations, hence the
same graph, up to float rounding between the step-by-step and whole-sequence LSTM kernels (log-probabilities agree
to ~1e-6, so the PPO ratio is 1 to that precision and the clip at 0.2 is never reached). The two-pass form costs one
extra forward pass but lets rollouts run batched without graphs, which is what SB3's collectors do.
"""

from __future__ import annotations

import math
from typing import Any, Generator

import numpy as np
import torch as th
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RecurrentRolloutBufferSamples
from stable_baselines3.common.type_aliases import GymEnv

from .rollout_layout import lay_out_copy_major
from ..policies.memory_policy import MemoryActorCriticPolicy


class WholeSequenceRolloutBuffer(RecurrentRolloutBuffer):
    """Recurrent rollout buffer that hands out the whole rollout as one batch of per-copy sequences, in order.

    Upstream ``get`` rotates the flattened rollout by a random offset before batching, which cuts one copy's
    sequence in two (the second half starts from the stored state, without a gradient path to the first). With a
    single full batch there is nothing to shuffle, so here every copy's rollout stays one sequence (cut only at
    episode starts) and backpropagation through time covers whole episodes. Smaller ``batch_size`` falls back to
    the upstream behaviour.
    """

    def get(self, batch_size: int | None = None) -> Generator[RecurrentRolloutBufferSamples, None, None]:
        total = self.buffer_size * self.n_envs
        if batch_size is not None and batch_size < total:
            yield from super().get(batch_size)
            return
        assert self.full, "Rollout buffer must be full before sampling from it"
        lay_out_copy_major(self)
        copy_start = np.zeros((self.n_envs, self.buffer_size), dtype=np.float32)
        copy_start[:, 0] = 1.0
        yield self._get_samples(np.arange(total), copy_start.reshape(-1, 1))


class RecurrentA2C(RecurrentPPO):
    """A2C with a recurrent policy: sb3-contrib's ``RecurrentPPO`` configured so that its update is A2C's.

    Defaults are Wang et al. 2018's two-step settings (see the module docstring for the equivalence, the update
    schedule and the one-pass/two-pass question). The loss is the mean over the rollout's steps of
    ``-A_t log pi(a_t|h_t) + vf_coef (R_t - V(h_t))^2 - ent_coef H(pi(.|h_t))``, with ``R_t`` the discounted return
    bootstrapped from the value at the rollout's end (``gae_lambda=1``) and ``A_t = R_t - V(h_t)``.

    Args:
        policy: a ``RecurrentActorCriticPolicy`` (class or sb3-contrib name); :class:`MetaLSTMPolicy` for the
            meta-LSTM.
        env: the VecEnv (or env, or id) to train on.
        learning_rate, n_steps, gamma, ent_coef, vf_coef: as in SB3's ``A2C``.
        max_grad_norm: gradient-norm clip; ``inf`` (the default) is no clipping, as in the paper.
        rms_prop_eps, rms_prop_alpha: RMSprop's epsilon and smoothing constant (SB3 A2C's defaults).
        n_epochs, batch_size: accepted only as ``1`` and ``None`` / ``n_steps * n_envs`` (anything else is not A2C);
            they exist so that hyperparameter tables shared with PPO baselines can state them.
        clip_range: PPO's ratio clip; with one step on fresh data the ratio is 1 and it never binds.
        Other arguments are ``RecurrentPPO``'s.
    """

    def __init__(
        self,
        policy: str | type[MemoryActorCriticPolicy],
        env: GymEnv | str,
        learning_rate: float = 7e-4,
        n_steps: int = 200,
        gamma: float = 0.9,
        ent_coef: float = 0.05,
        vf_coef: float = 0.05,
        max_grad_norm: float = math.inf,
        rms_prop_eps: float = 1e-5,
        rms_prop_alpha: float = 0.99,
        n_epochs: int = 1,
        batch_size: int | None = None,
        clip_range: float = 0.2,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        if n_epochs != 1:
            raise ValueError(f"RecurrentA2C makes one gradient step per rollout: n_epochs must be 1, got {n_epochs}")
        policy_kwargs = dict(policy_kwargs or {})
        policy_kwargs.setdefault("optimizer_class", th.optim.RMSprop)
        policy_kwargs.setdefault("optimizer_kwargs", {"alpha": rms_prop_alpha, "eps": rms_prop_eps,
                                                      "weight_decay": 0.0})
        self.rms_prop_eps, self.rms_prop_alpha = rms_prop_eps, rms_prop_alpha
        super().__init__(
            policy, env, learning_rate=learning_rate, n_steps=n_steps, batch_size=batch_size, n_epochs=1,
            gamma=gamma, gae_lambda=1.0, clip_range=clip_range, clip_range_vf=None, normalize_advantage=False,
            ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, use_sde=False, target_kl=None,
            stats_window_size=stats_window_size, tensorboard_log=tensorboard_log, policy_kwargs=policy_kwargs,
            verbose=verbose, seed=seed, device=device, _init_setup_model=False,
        )
        if self.env is not None and batch_size not in (None, self.n_steps * self.n_envs):
            raise ValueError(
                f"RecurrentA2C trains on the whole rollout at once: batch_size must be None or n_steps * n_envs = "
                f"{self.n_steps * self.n_envs}, got {batch_size}"
            )
        self.batch_size = None
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self.batch_size = self.n_steps * self.n_envs
        old = self.rollout_buffer
        if type(old) is RecurrentRolloutBuffer:
            lstm = self.policy.lstm_actor
            self.rollout_buffer = WholeSequenceRolloutBuffer(
                self.n_steps, self.observation_space, self.action_space,
                (self.n_steps, lstm.num_layers, self.n_envs, lstm.hidden_size), self.device,
                gamma=self.gamma, gae_lambda=self.gae_lambda, n_envs=self.n_envs,
            )
