"""The meta-learning LSTM of Wang et al. 2018 (and RL^2, Duan et al. 2016): an LSTM that sees its previous action
and reward, trained with a recurrent A2C, so that with frozen weights it runs a learning algorithm of its own.

Pieces (all usable on any memenvs id with a ``Discrete`` action space and a ``Box`` observation):

* :class:`~memenvs.baselines.vec_wrappers.VecPreviousActionReward` — an SB3 ``VecEnvWrapper`` appending the one-hot
  previous action, the previous reward and the timestep ``t / max_steps`` to the observation; named
  ``"prev_action_reward"`` in :data:`memenvs.baselines.vec_wrappers.WRAPPERS`.
* :class:`MetaLSTMPolicy` — :class:`~memenvs.baselines.policies.memory_policy.MemoryActorCriticPolicy` whose shared
  core is trained by the value loss too (upstream ``shared_lstm=True`` detaches the critic from the LSTM; the paper's
  network is one LSTM with a policy and a value head trained by one loss).
* :class:`~memenvs.baselines.algorithms.recurrent_a2c.RecurrentA2C` — A2C as a configuration of sb3-contrib's
  ``RecurrentPPO``, with whole-episode backpropagation; the update schedule and the one-pass/two-pass question
  are discussed in :mod:`memenvs.baselines.algorithms.recurrent_a2c`.
* The ``meta_lstm`` row of :mod:`memenvs.baselines.hyperparams`: LSTM 48, linear heads, gamma 0.9, lr 7e-4, value
  coefficient 0.05, entropy 0.05, no gradient clipping (``max_grad_norm=inf``), ``n_steps=200``.
"""

from __future__ import annotations

import torch as th
from sb3_contrib.common.recurrent.type_aliases import RNNStates

from .memory_policy import MemoryActorCriticPolicy


class MetaLSTMPolicy(MemoryActorCriticPolicy):
    """:class:`~.memory_policy.MemoryActorCriticPolicy` whose shared core learns from both heads.

    With ``shared_lstm=True`` sb3-contrib feeds the critic ``latent_pi.detach()``, so only the policy loss trains
    the LSTM. Wang et al.'s network is one LSTM with a policy head and a value head trained by one loss
    (``policy + 0.05 value - 0.05 entropy``), so here the value gradient reaches the core as well. Everything else
    (including ``shared_lstm=False`` configurations) is the parent's.
    """

    def evaluate_actions(
        self, obs: th.Tensor, actions: th.Tensor, lstm_states: RNNStates, episode_starts: th.Tensor
    ) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        if not self.shared_lstm:
            return super().evaluate_actions(obs, actions, lstm_states, episode_starts)
        features = self.extract_features(obs)
        latent, _ = self._process_sequence(features, lstm_states.pi, episode_starts, self.lstm_actor)
        distribution = self._get_action_dist_from_latent(self.mlp_extractor.forward_actor(latent))
        values = self.value_net(self.mlp_extractor.forward_critic(latent))
        return values, distribution.log_prob(actions), distribution.entropy()
