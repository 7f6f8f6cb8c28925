"""Memory baselines for Stable-Baselines3 (imported as ``memenvs.baselines``; needs the ``baselines`` extra).

* :func:`make_model` / :func:`evaluate` — a configured SB3 model for (baseline, env id) and its evaluation.
* :class:`~memenvs.baselines.policies.memory_policy.MemoryActorCriticPolicy` — any memory core (LSTM, GRU, IAM, your
  own) inside sb3-contrib's ``RecurrentPPO``, with a whole-sequence training path and complete ``save``/``load``.
* :mod:`~memenvs.baselines.hyperparams` — the one table of defaults.

Layout, by kind: :mod:`.models` (``make_model``) and :mod:`.evaluation` (``evaluate``), the entry point;
:mod:`.hyperparams`; :mod:`.vec_wrappers` (the SB3 VecEnv wrappers a baseline names); :mod:`.policies` (memory cores,
feature extractors, the policies); :mod:`.algorithms` (training-time mechanisms); :mod:`.compare` (the comparison
runner, ``memenvs compare``); :mod:`.experiments` (published reproductions, ``memenvs reproduce NAME``).
"""

try:  # the baselines extra; without it, say which install fixes it rather than a bare "No module named torch"
    import sb3_contrib  # noqa: F401
    import stable_baselines3  # noqa: F401
    import torch  # noqa: F401
except ImportError as err:
    raise ImportError(f'memenvs.baselines needs the baselines extra: pip install "memenvs[baselines]" ({err})') from err

from .algorithms.recurrent_a2c import RecurrentA2C
from .algorithms.regularizer_memory import (
    RegularizerConfig, RegularizerMemory, RegularizerMemoryCallback, regularizer_memory,
)
from .algorithms.test_time_adaptation import AdaptResult, block_schedule, evaluate_adapting
from .evaluation import EvalResult, PeriodicEvaluation, evaluate
from .hyperparams import BASELINES, Baseline, env_family, resolve
from .models import env_dset, make_model
from .policies.cores import CORES, GRUCore, IAMCore, LSTMCore, MemoryCore
from .policies.fast_slow import FastSlowActorCriticPolicy, FastSlowRecurrentPolicy, FastSlowTowers
from .policies.memory_policy import MemoryActorCriticPolicy
from .policies.meta_lstm import MetaLSTMPolicy
from .vec_wrappers import VecPreviousActionReward

__all__ = [
    "BASELINES",
    "CORES",
    "Baseline",
    "AdaptResult",
    "EvalResult",
    "PeriodicEvaluation",
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
