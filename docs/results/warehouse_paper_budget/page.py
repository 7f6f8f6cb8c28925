"""Warehouse at the IAM paper's budget: learning curves against scripted references, and each baseline at 1M, 2M and
4M steps (Suau et al., "Influence-aware Memory Architectures for Deep Reinforcement Learning": PPO, 4e6 steps).

Reads every finished run in the folder (``runs/*/result.json``, whichever ``memenvs compare`` invocation trained it:
the runs land over several sessions, and compare's mid-run checkpoints carry the unfinished ones over) and the rows
already in its committed ``runs.json``, writes
compare's own tables for them (``runs.csv``, ``runs.json``, ``summary.md``, ``per_seed.md``, ``curves.png``) headed
by the command below, and next to them:

* ``learning_curves.png``: per baseline, the mean +- SE over seeds of the training-episode return and (dashed) the
  mean of the periodic deterministic evaluations, with the returns of three scripted policies as reference lines
  (uniform random, the best reactive script we found, the same script knowing the item ages; 4,000 episodes,
  seed 0, :func:`memenvs.envs.warehouse.scripted_returns`);
* ``milestones.md``: per baseline, the deterministic evaluation nearest 1M, 2M and 4M steps (mean +- SE over
  seeds, and per seed), the seeds finished, and the wall time per run.

Usage (from the repository root), after or while the runs of :data:`COMMAND` train::

    python docs/results/warehouse_paper_budget/page.py
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from memenvs.baselines.compare import plan, report
from memenvs.baselines.compare.storage import load_done
from memenvs.baselines.statistics import mean_se
from memenvs.envs.warehouse import scripted_returns

HERE = Path(__file__).resolve().parent
#: The command that trains the runs (two of them may share the folder, one run each at a time).
COMMAND = ("memenvs compare --envs memenvs/Warehouse-v0 --baselines iam lstm gru framestack mlp --seeds 0 1 2 "
           "--steps 4000000 --n-envs 8 --workers 1 --out docs/results/warehouse_paper_budget")
TITLE = "Warehouse at the paper's budget (4M steps)"
BASELINES = ("iam", "lstm", "gru", "framestack", "mlp")
MILESTONES = (1_000_000, 2_000_000, 4_000_000)
SCRIPTS = {"uniform random": "random", "best reactive script": 1.0, "script knowing the item ages": "oracle"}


def finished_rows(folder: Path) -> list[dict[str, Any]]:
    """The result rows of the finished runs of :data:`COMMAND` in ``folder`` (whichever invocation trained them),
    in the command's order: baseline, then seed (:func:`~memenvs.baselines.compare.storage.load_done`: a run's
    ``runs/<id>/result.json``, else its row in the folder's committed ``runs.json``)."""
    runs = plan(["memenvs/Warehouse-v0"], list(BASELINES), [0, 1, 2], 4_000_000, 8)
    done = load_done(folder, runs)
    return [done[r.run_id] for r in runs if r.run_id in done]


def references(episodes: int = 4000, seed: int = 0) -> dict[str, float]:
    """The scripted policies' mean episode returns."""
    return {name: float(scripted_returns(policy, episodes, seed).mean()) for name, policy in SCRIPTS.items()}


def evaluation_at(row: dict[str, Any], steps: int) -> float:
    """The run's deterministic evaluation return at the evaluation nearest ``steps`` (nan before it is reached)."""
    curve = row["eval_curve"]
    if not curve["steps"] or max(curve["steps"]) < steps * 0.95:
        return math.nan
    i = min(range(len(curve["steps"])), key=lambda j: abs(curve["steps"][j] - steps))
    return float(curve["returns"][i])


def milestones_markdown(rows: Sequence[dict[str, Any]], refs: dict[str, float]) -> str:
    heads = [f"return at {m / 1e6:.0f}M (mean ± SE; per seed)" for m in MILESTONES]
    lines = ["| baseline | seeds done | " + " | ".join(heads) + " | wall s per run |",
             "|---|---|" + "---|" * len(MILESTONES) + "---|"]
    for baseline in BASELINES:
        runs = sorted((r for r in rows if r["baseline"] == baseline), key=lambda r: r["seed"])
        if not runs:
            lines.append(f"| {baseline} | none yet |" + " |" * len(MILESTONES) + " |")
            continue
        cells = []
        for m in MILESTONES:
            values = [evaluation_at(r, m) for r in runs]
            finite = [v for v in values if math.isfinite(v)]
            mean, se = mean_se(finite) if finite else (math.nan, math.nan)
            per_seed = " / ".join(f"{v:.1f}" for v in values)
            cells.append(f"{mean:.1f} ± {se:.1f}; {per_seed}" if len(finite) > 1 else per_seed)
        seeds = ", ".join(str(r["seed"]) for r in runs)
        walls = [r["wall_s"] for r in runs]
        lines.append(f"| {baseline} | {len(runs)} ({seeds}) | " + " | ".join(cells)
                     + f" | {min(walls):,.0f}–{max(walls):,.0f} |")
    refs_text = "; ".join(f"{name} {value:.2f}" for name, value in refs.items())
    return (f"# {TITLE}: each baseline at 1M, 2M and 4M steps\n\nMade by: `{COMMAND}`, then "
            "`python docs/results/warehouse_paper_budget/page.py`\n\n"
            "Deterministic evaluation (50 episodes, the same seed at every point) of each run's policy at the "
            "evaluation nearest each step count; the 4M column is the final policy's evaluation of the periodic "
            f"series. Scripted references per episode (4,000 episodes, seed 0): {refs_text}.\n\n"
            + "\n".join(lines) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folder", type=Path, default=HERE, help="the compare output folder (default: this one)")
    args = parser.parse_args(argv)
    rows = finished_rows(args.folder)
    report.write_all(rows, args.folder, TITLE, command=COMMAND)
    refs = references()
    report.plot_curves(rows, args.folder / "learning_curves.png", references=refs)
    text = milestones_markdown(rows, refs)
    (args.folder / "milestones.md").write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
