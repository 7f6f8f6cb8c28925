"""Env-steps/s of PPO's LSTM on the passive T-maze (length 200, T-maze defaults) with trust-region clipping off
(``none``), on with the ranges solved once per rollout (``per_rollout``, what the option does), or on with them
solved per minibatch (``per_minibatch``: the packed-minibatch lookup disabled, as before commit 054b117).

    python docs/results/ppo_junction_trap/trust_region_speed.py none|per_rollout|per_minibatch
"""
import sys
import time

import torch as th

import memenvs.baselines.algorithms.packed_ppo as packed_ppo
from memenvs.baselines import make_model

th.set_num_threads(1)
mode = sys.argv[1]
if mode not in ("none", "per_rollout", "per_minibatch"):
    sys.exit(f"mode must be none, per_rollout or per_minibatch, got {mode!r}")
if mode == "per_minibatch":
    packed_ppo.SequencePacking = type("NeverPacked", (), {})
kw = {} if mode == "none" else {"trust_region_delta": 0.02}
m = make_model("lstm", "memenvs/TMaze-v0", seed=0, n_envs=16, env_kwargs={"variant": "passive", "length": 200}, **kw)
m.learn(16 * 201 * 2)  # warm-up: two rollouts
start = time.perf_counter()
m.learn(16 * 201 * 6, reset_num_timesteps=False)
print(mode, "env-steps/s", round(16 * 201 * 6 / (time.perf_counter() - start)))
