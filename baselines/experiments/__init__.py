"""Published reproductions with the baselines, one module each, each runnable as ``memenvs reproduce NAME``
(options after the name go to the experiment; ``memenvs reproduce NAME --help`` lists them):

* ``two-step`` — :mod:`.two_step`: Wang et al. 2018's two-step task with the meta-LSTM (stay probabilities);
* ``fast-slow-switch`` — :mod:`.fast_slow_switch`: does learning at test time recover faster after the T-maze's goal
  switches (the fast/slow baseline);
* ``regularizer-forgetting`` — :mod:`.regularizer_forgetting`: forgetting on the non-stationary CartPole with and
  without a quadratic regularizer memory (EWC, Kirkpatrick et al. 2017, and relatives);
* ``maml`` — :mod:`.maml_comparison`: MAML-TRPO with an MLP and with a frozen-recurrence RNN policy, and the
  meta-LSTM, on Navigation2D and HalfCheetahDir (pre- and post-adaptation returns; Finn et al. 2017).

Each module also runs as ``python -m memenvs.baselines.experiments.<module>`` with the same options.
"""

from __future__ import annotations

import importlib
from typing import Any, Sequence

#: ``memenvs reproduce NAME`` -> the module under this package whose ``main(argv)`` runs it.
EXPERIMENTS: dict[str, str] = {
    "two-step": "two_step",
    "fast-slow-switch": "fast_slow_switch",
    "regularizer-forgetting": "regularizer_forgetting",
    "maml": "maml_comparison",
}


def experiment_module(name: str) -> str:
    """The module name of experiment ``name`` (``two-step`` or ``two_step``); a clear error for an unknown one."""
    key = name.replace("_", "-")
    if key not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[key]


def run(name: str, argv: Sequence[str] = ()) -> Any:
    """Run experiment ``name`` with its command-line options ``argv``; returns what its ``main`` returns."""
    module = importlib.import_module(f"{__name__}.{experiment_module(name)}")
    return module.main(list(argv))
