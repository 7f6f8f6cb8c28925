"""A small comparison runner: train baselines for a fixed budget over seeds, evaluate, print one JSON line per run.

Usage::

    python -m memenvs.baselines.experiments --env memenvs/Warehouse-v0 --baselines mlp framestack lstm gru iam \\
        --seeds 0 1 2 --steps 40000 --episodes 50 --jobs 2

It is the seed of the later ``memenvs compare`` command; each run is a separate process so runs can go in parallel.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_one(baseline: str, env_id: str, seed: int, steps: int, episodes: int, n_envs: int) -> dict[str, Any]:
    """Train ``baseline`` on ``env_id`` for ``steps`` env steps with ``seed``; evaluate on ``episodes`` episodes."""
    import torch as th

    from memenvs.baselines.api import evaluate, make_model

    th.set_num_threads(1)
    start = time.perf_counter()
    model = make_model(baseline, env_id, seed=seed, n_envs=n_envs)
    model.learn(steps)
    train_s = time.perf_counter() - start
    result = evaluate(model, n_episodes=episodes, seed=10_000 + seed)
    return {
        "baseline": baseline, "env": env_id, "seed": seed, "steps": int(model.num_timesteps),
        "train_s": round(train_s, 1), "mean_return": result.mean_return, "return_se": result.return_se,
        "success_rate": result.success_rate,
    }


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean over seeds of each baseline's mean return, with the standard error across seeds."""
    out = []
    for name in dict.fromkeys(r["baseline"] for r in rows):
        values = [r["mean_return"] for r in rows if r["baseline"] == name]
        se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan")
        out.append({"baseline": name, "mean_return": statistics.mean(values), "se_over_seeds": se,
                    "per_seed": values, "train_s": [r["train_s"] for r in rows if r["baseline"] == name]})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="memenvs/Warehouse-v0")
    parser.add_argument("--baselines", nargs="+", default=["mlp", "framestack", "lstm", "gru", "iam"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--one", action="store_true", help="run a single (baseline, seed) in this process")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.baselines[0], args.env, args.seeds[0], args.steps, args.episodes,
                                 args.n_envs)), flush=True)
        return

    def launch(job: tuple[str, int]) -> dict[str, Any]:
        cmd = [sys.executable, "-m", "memenvs.baselines.experiments", "--one", "--env", args.env,
               "--baselines", job[0], "--seeds", str(job[1]), "--steps", str(args.steps),
               "--episodes", str(args.episodes), "--n-envs", str(args.n_envs)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        return row

    jobs = [(b, s) for b in args.baselines for s in args.seeds]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(launch, jobs))
    for line in summarize(rows):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
