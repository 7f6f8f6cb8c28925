"""Training-time mechanisms of the baselines, one per module (each readable top to bottom):

* :mod:`.packed_ppo` — ``RecurrentPPO`` on packed minibatches of rollout chunks (the memory baselines' trainer);
* :mod:`.self_imitation`, :mod:`.trust_region_clip` — two options of it: replaying past episodes that beat the
  critic, and a clipping range widened per sample to a KL trust region;
* :mod:`.rollout_layout` — the copy-major layout of the recurrent rollout buffer, shared by the buffers above;
* :mod:`.recurrent_dqn` — off-policy Q-learning with a memory core on replayed sequences (DRQN / R2D2 style);
* :mod:`.recurrent_a2c` — A2C with a recurrent policy, the meta-LSTM's algorithm;
* :mod:`.regularizer_memory` — a quadratic penalty that remembers earlier tasks (EWC and its relatives);
* :mod:`.test_time_adaptation` — learning while being evaluated (the fast/slow baseline's test protocol);
* :mod:`.maml` — MAML for RL (Finn et al. 2017): policy-gradient inner steps, TRPO (or PPO-style) outer step.

This ``__init__`` imports nothing, so :mod:`memenvs.baselines.models` can import an algorithm without a cycle.
"""
