"""Model parts of the baselines, one module each (as SB3's ``torch_layers.py`` and ``policies.py``):

* :mod:`.cores` — the memory cores (LSTM, GRU, IAM) behind one contract;
* :mod:`.features` — feature extractors between an observation and the core or heads;
* :mod:`.memory_policy` — :class:`MemoryActorCriticPolicy`, any core inside sb3-contrib's ``RecurrentPPO``;
* :mod:`.packing` — variable-length sequences run through a core in a few calls, without padding waste;
* :mod:`.fast_slow` — fast and slow towers combined by a muxer (weights as memory);
* :mod:`.meta_lstm` — the meta-learning LSTM policy of Wang et al. 2018;
* :mod:`.maml_policies` — the MAML paper's Gaussian MLP and its RNN-cell variant with frozen recurrent weights.
"""

from .memory_policy import MemoryActorCriticPolicy

__all__ = ["MemoryActorCriticPolicy"]
