"""``gru_dqn`` on the passive T-maze with ``lstm_dqn``'s settings: a buffer of the whole run, 10-step targets and
bias 1 on the GRU's update gate (docs/results/tmaze_acceptance.md, "What was tried and not kept").

    python docs/results/tmaze_acceptance_not_kept/gru_dqn_lstm_recipe.py --out OUT [--lengths 10 20 50 100] \
        [--seeds 0 1 2 3 4] [--workers 1]

Runs ``memenvs compare`` on ``memenvs/TMaze-v0:variant=passive`` swept over ``--lengths`` with the T-maze family's
``gru_dqn`` defaults patched in this process (so one worker: spawned workers would read the unpatched defaults).
"""

from __future__ import annotations

import argparse

import torch as th

from memenvs.baselines import hyperparams
from memenvs.baselines.compare import compare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--lengths", type=int, nargs="+", default=[10, 20, 50, 100])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    a = ap.parse_args()
    th.set_num_threads(1)
    hyperparams.SCALED[("gru_dqn", "tmaze")] = hyperparams.SCALED[("lstm_dqn", "tmaze")]
    hyperparams.OVERRIDES[("gru_dqn", "tmaze")] = hyperparams.OVERRIDES[("lstm_dqn", "tmaze")]
    compare(envs=["memenvs/TMaze-v0:variant=passive"], baselines=["gru_dqn"], seeds=a.seeds, workers=1, quiet=True,
            out=a.out, sweep="length=" + ",".join(map(str, a.lengths)))


if __name__ == "__main__":
    main()
