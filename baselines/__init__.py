"""Memory baselines for Stable-Baselines3 (imported as ``memenvs.baselines``; needs the ``baselines`` extra).

* :func:`make_model` / :func:`evaluate` — a configured SB3 model for (baseline, env id) and its evaluation.
* :class:`~memenvs.baselines.policies.MemoryActorCriticPolicy` — any memory core (LSTM, GRU, IAM, your own) inside
  sb3-contrib's ``RecurrentPPO``, with a whole-sequence training path and complete ``save``/``load``.
* :mod:`~memenvs.baselines.cores` — the cores; :mod:`~memenvs.baselines.hyperparams` — the one table of defaults.
* ``python -m memenvs.baselines.bench`` — steps/s of sb3-contrib's ``MlpLstmPolicy`` vs the memenvs LSTM policy.
"""

from memenvs.baselines.api import EvalResult, env_dset, evaluate, make_model
from memenvs.baselines.cores import CORES, GRUCore, IAMCore, LSTMCore, MemoryCore
from memenvs.baselines.hyperparams import BASELINES, Baseline, env_family, resolve
from memenvs.baselines.policies import MemoryActorCriticPolicy
from memenvs.baselines.regularizer_memory import (
    RegularizerConfig, RegularizerMemory, RegularizerMemoryCallback, regularizer_memory,
)
from memenvs.baselines.meta_lstm import MetaLSTMPolicy, RecurrentA2C, VecPreviousActionReward
from memenvs.baselines.fast_slow import FastSlowActorCriticPolicy, FastSlowRecurrentPolicy, FastSlowTowers
from memenvs.baselines.adapt import AdaptResult, block_schedule, evaluate_adapting

__all__ = [
    "BASELINES",
    "CORES",
    "Baseline",
    "AdaptResult",
    "EvalResult",
    "FastSlowActorCriticPolicy",
    "FastSlowRecurrentPolicy",
    "FastSlowTowers",
    "GRUCore",
    "IAMCore",
    "LSTMCore",
    "MemoryActorCriticPolicy",
    "MemoryCore",
    "RegularizerConfig",
    "RegularizerMemory",
    "RegularizerMemoryCallback",
    "regularizer_memory",
    "MetaLSTMPolicy",
    "RecurrentA2C",
    "VecPreviousActionReward",
    "block_schedule",
    "env_dset",
    "env_family",
    "evaluate",
    "evaluate_adapting",
    "make_model",
    "resolve",
]
