"""Recurrent DQN on the passive T-maze with the time ``t / max_steps`` appended to its observation (the
``time_feature`` wrapper that the T-maze PPO baselines' critic reads), the family's defaults otherwise
(docs/results/tmaze_acceptance.md, "What was tried and not kept").

    python docs/results/tmaze_acceptance_not_kept/dqn_time_input.py --out OUT --baselines lstm_dqn --length 200 \
        --seeds 0 1 2 3 4

Runs ``memenvs compare`` with the recurrent DQN rows of the T-maze family patched in this process (one worker).
"""
from __future__ import annotations

import argparse

import torch as th

from memenvs.baselines import hyperparams
from memenvs.baselines.compare import compare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--baselines", nargs="+", default=["lstm_dqn"])
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    a = ap.parse_args()
    th.set_num_threads(1)
    row = hyperparams.OVERRIDES[("*RecurrentDQN", "tmaze")]
    row["wrappers"] = (*row.get("wrappers", ()), hyperparams.TIME)
    compare(envs=[f"memenvs/TMaze-v0:variant=passive,length={a.length}"], baselines=a.baselines, seeds=a.seeds,
            workers=1, quiet=True, out=a.out)


if __name__ == "__main__":
    main()
