"""The meta-learning LSTM of Wang et al. 2018 (and RL^2, Duan et al. 2016): an LSTM that sees its previous action
and reward, trained with a recurrent A2C, so that with frozen weights it runs a learning algorithm of its own.

Pieces (all usable on any memenvs id with a ``Discrete`` action space and a ``Box`` observation):

* :class:`VecPreviousActionReward` — an SB3 ``VecEnvWrapper`` appending the one-hot previous action, the previous
  reward and the timestep ``t / max_steps`` to the observation. It reuses the single definition in
  :func:`memenvs.wrappers.previous_action_reward.augment_observation`; named ``"prev_action_reward"`` in
  :data:`memenvs.baselines.features.WRAPPERS`.
* :class:`MetaLSTMPolicy` — :class:`~memenvs.baselines.policies.MemoryActorCriticPolicy` whose shared core is trained
  by the value loss too (upstream ``shared_lstm=True`` detaches the critic from the LSTM; the paper's network is one
  LSTM with a policy and a value head trained by one loss).
* :class:`RecurrentA2C` — A2C as a configuration of sb3-contrib's ``RecurrentPPO`` (DESIGN 2.3): one epoch, one
  batch holding the whole rollout, ``gae_lambda=1``, no advantage normalisation, RMSprop(alpha=0.99, eps=1e-5).
  With one gradient step on freshly collected data the probability ratio is 1, the clipped surrogate has the
  gradient of ``-A * log pi`` and clipping never binds, so the update is A2C's (checked against SB3's ``A2C`` in the
  feed-forward case in ``tests/test_meta_lstm.py``). Its buffer keeps every copy's rollout as one sequence
  (upstream cuts one sequence at a random point each update), so backpropagation runs through whole episodes.
* The ``meta_lstm`` row of :mod:`memenvs.baselines.hyperparams`: LSTM 48, linear heads, gamma 0.9, lr 7e-4, value
  coefficient 0.05, entropy 0.05, no gradient clipping (``max_grad_norm=inf``), ``n_steps=200``.

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
from gymnasium import spaces
from sb3_contrib import RecurrentPPO
from sb3_contrib.common.recurrent.buffers import RecurrentRolloutBuffer
from sb3_contrib.common.recurrent.type_aliases import RecurrentRolloutBufferSamples, RNNStates
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from memenvs.baselines import api, features
from memenvs.baselines.policies import MemoryActorCriticPolicy
from memenvs.wrappers.previous_action_reward import NO_ACTION, augment_observation, augmented_space


def _venv_time_limit(venv: VecEnv) -> int:
    """The episode step limit of a memenvs VecEnv (its core's ``max_steps``), else its spec's ``max_episode_steps``."""
    try:
        core = venv.get_attr("core", [0])[0]
        return int(core.max_steps)
    except (AttributeError, IndexError):
        pass
    try:
        spec = venv.get_attr("spec", [0])[0]
    except (AttributeError, IndexError):
        spec = None
    if spec is not None and spec.max_episode_steps:
        return int(spec.max_episode_steps)
    raise ValueError("timestep=True needs max_steps=...: the env declares no time limit")


class VecPreviousActionReward(VecEnvWrapper):
    """SB3 ``VecEnvWrapper``: ``[obs (flattened) | one-hot previous action | previous reward | t / max_steps]``.

    The layout and the episode-start convention (no action, reward 0, t = 0) are those of
    :class:`memenvs.wrappers.PreviousActionReward`. The wrapped VecEnv autoresets on the same step (SB3's
    convention): a copy that finished is shown a fresh start, and its ``infos[i]["terminal_observation"]`` is
    augmented with the episode's own last action and reward.

    Args:
        venv: an SB3 VecEnv with a ``Discrete`` action space and a ``Box`` observation space (flattened).
        timestep: also append ``t / max_steps`` (the meta-LSTM's timestep input).
        max_steps: normaliser of ``t``; default: the memenvs core's ``max_steps``, else the spec's limit.
    """

    def __init__(self, venv: VecEnv, timestep: bool = True, max_steps: int | None = None) -> None:
        space = venv.action_space
        if not isinstance(space, spaces.Discrete):
            raise ValueError(f"VecPreviousActionReward needs a Discrete action space, got {space}")
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer))
                                      or max_steps < 1):
            raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
        self.n_actions = int(space.n)
        self._start = int(space.start)
        self.timestep = bool(timestep)
        self.max_steps = (int(max_steps) if max_steps is not None else _venv_time_limit(venv)) if timestep else None
        obs_space = venv.observation_space
        if isinstance(obs_space, spaces.Box) and len(obs_space.shape) != 1:
            # Flattened here (as the observations are in _augment), so grids and views need no extra wrapper.
            obs_space = spaces.Box(obs_space.low.reshape(-1), obs_space.high.reshape(-1), dtype=obs_space.dtype)
        super().__init__(venv, observation_space=augmented_space(obs_space, self.n_actions, self.timestep))
        n = venv.num_envs
        self._prev_action = np.full(n, NO_ACTION, dtype=np.int64)
        self._prev_reward = np.zeros(n, dtype=np.float32)
        self._t = np.zeros(n, dtype=np.int64)
        self._actions = np.full(n, NO_ACTION, dtype=np.int64)

    def _augment(self, obs: np.ndarray) -> np.ndarray:
        t = self._t if self.timestep else None
        return augment_observation(obs.reshape(self.num_envs, -1), self._prev_action, self._prev_reward,
                                   self.n_actions, t, self.max_steps)

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        self._prev_action.fill(NO_ACTION)
        self._prev_reward.fill(0.0)
        self._t.fill(0)
        return self._augment(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.int64).reshape(self.num_envs) - self._start
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, reward, done, infos = self.venv.step_wait()
        self._prev_action[:] = self._actions
        self._prev_reward[:] = reward
        self._t += 1
        for i in np.flatnonzero(done):
            term = infos[i].get("terminal_observation")
            if term is not None:
                t = int(self._t[i]) if self.timestep else None
                infos[i]["terminal_observation"] = augment_observation(
                    np.reshape(term, -1), int(self._actions[i]), float(reward[i]), self.n_actions, t, self.max_steps
                )
        # Copies that finished now show the first observation of their next episode: nothing happened before it.
        self._prev_action[done] = NO_ACTION
        self._prev_reward[done] = 0.0
        self._t[done] = 0
        return self._augment(obs), reward, done, infos


class MetaLSTMPolicy(MemoryActorCriticPolicy):
    """:class:`~memenvs.baselines.policies.MemoryActorCriticPolicy` whose shared core learns from both heads.

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
        if not self.generator_ready:
            # The same layout upstream prepares: copy-major, time order kept within each copy.
            for name in ("hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf"):
                setattr(self, name, getattr(self, name).swapaxes(1, 2))
            for name in ("observations", "actions", "values", "log_probs", "advantages", "returns",
                         "hidden_states_pi", "cell_states_pi", "hidden_states_vf", "cell_states_vf",
                         "episode_starts"):
                setattr(self, name, self.swap_and_flatten(getattr(self, name)))
            self.generator_ready = True
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


# Names the baseline table uses (resolved by make_model); registered here so the table stays free of imports.
api.ALGORITHMS["RecurrentA2C"] = RecurrentA2C
api.POLICIES["meta"] = MetaLSTMPolicy
features.WRAPPERS["prev_action_reward"] = VecPreviousActionReward
