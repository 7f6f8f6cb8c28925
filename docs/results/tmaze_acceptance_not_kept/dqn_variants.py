"""Recurrent DQN on the passive T-maze with the T-maze family's defaults changed in this process
(docs/results/tmaze_acceptance.md, "What was tried and not kept"): ``--chrono`` puts the chrono initialisation of
the gates (Tallec & Ollivier 2018; ``chrono_horizon`` = the episode's steps) in place of the forget-gate bias,
``--time`` appends ``t / max_steps`` to the observation (the ``time_feature`` wrapper the PPO critic reads).

    python docs/results/tmaze_acceptance_not_kept/dqn_variants.py --out OUT --baselines lstm_dqn --length 200 \\
        --seeds 0 1 2 3 4 [--chrono] [--time]

Runs ``memenvs compare`` with one worker (the patched defaults live in this process); the run ids are those of the
committed per-seed tables.
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
    ap.add_argument("--chrono", action="store_true", help="chrono-initialised gates instead of the forget-gate bias")
    ap.add_argument("--time", action="store_true", help="append t / max_steps to the observation")
    a = ap.parse_args()
    th.set_num_threads(1)
    if a.chrono:
        for b in a.baselines:
            row = hyperparams.OVERRIDES.setdefault((b, "tmaze"), {})
            row["policy_kwargs"] = {**row.get("policy_kwargs", {}), "forget_bias": 0.0, "chrono_horizon": a.length + 1}
    if a.time:
        row = hyperparams.OVERRIDES[("*RecurrentDQN", "tmaze")]
        row["wrappers"] = (*row.get("wrappers", ()), hyperparams.TIME)
    compare(envs=[f"memenvs/TMaze-v0:variant=passive,length={a.length}"], baselines=a.baselines, seeds=a.seeds,
            workers=1, quiet=True, out=a.out)


if __name__ == "__main__":
    main()
