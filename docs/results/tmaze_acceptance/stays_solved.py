"""Do solved T-maze policies stay solved? Read from the periodic evaluations of a ``memenvs compare`` folder.

A run counts as *solved during training* once ``k`` periodic deterministic evaluations in a row scored success 1.0
(``k`` = 1, 2, 3), and as *held* when its final policy (the reported figure) still has success >= 0.9. A policy
that reaches the optimum on one evaluation only and falls back is told apart from one that held it for a while,
so the table separates a marginal solution, whose greedy junction choice flips with small updates, from the
collapse of a learned one.

Usage (reads only ``runs.json``, which ``compare`` commits beside the tables)::

    python docs/results/tmaze_acceptance/stays_solved.py [docs/results/tmaze_acceptance]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SOLVED = 0.99  # a periodic evaluation at the optimum (success is a fraction of episodes)
HELD = 0.9  # the acceptance criterion's "solved" for the final policy


def longest_solved_streak(successes: list[float]) -> int:
    """The most periodic evaluations in a row at the optimum."""
    best = run = 0
    for s in successes:
        run = run + 1 if s >= SOLVED else 0
        best = max(best, run)
    return best


def main(folder: Path) -> None:
    rows = json.loads((folder / "runs.json").read_text())["runs"]
    unseen = [r for r in rows if not r.get("eval_curve")]  # runs whose periodic evaluations were not kept
    rows = [r for r in rows if r.get("eval_curve")]
    if unseen:
        print(f"({len(unseen)} runs without their periodic evaluations left out: "
              + ", ".join(f"{r['baseline']} {r['sweep_value']} s{r['seed']}" for r in unseen) + ")\n")
    print("| solved on k evaluations in a row | runs | final still solved | fell back (baseline, length, seed) |")
    print("|---|---|---|---|")
    for k in (1, 2, 3):
        reached = [r for r in rows if longest_solved_streak(r["eval_curve"]["success"]) >= k]
        fell = [r for r in reached if r["success_rate"] < HELD]
        names = ", ".join(f"{r['baseline']} {r['sweep_value']} s{r['seed']}" for r in fell) or "none"
        print(f"| {k} | {len(reached)} | {len(reached) - len(fell)} | {names} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
