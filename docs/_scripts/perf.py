"""Measure the numbers of the docs' performance page and save them as JSON (``docs/results/performance.json``).

Usage (from the repository root; takes about 3 minutes, most of it the training-speed comparison)::

    python docs/_scripts/perf.py                    # every registered id + Gymnasium's CartPole-v1, then training
    python docs/_scripts/perf.py --no-train --seconds 1

Every registered id is measured with :mod:`memenvs.bench` (single env through ``gym.make``, Gymnasium's
``SyncVectorEnv``, the native vector env and the SB3 adapter), and in the same run Gymnasium's own ``CartPole-v1``
single env, ``SyncVectorEnv`` and native ``CartPoleVectorEnv`` as the reference rows, so the page can state
ratios measured under the same load. Then ``python -m memenvs.baselines.bench`` (training env-steps/s of
sb3-contrib's ``MlpLstmPolicy`` vs the memenvs LSTM policy). The docs build only reads the JSON; it measures nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

import memenvs
from memenvs import bench

REFERENCE_ID = "CartPole-v1"
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "performance.json"


def measure_env(env_id: str, num_envs: int, sync_envs: int, seconds: float) -> list[dict[str, Any]]:
    """Every mode that applies to ``env_id``; a mode that cannot run here (a missing extra) is recorded as skipped."""
    rows: list[dict[str, Any]] = []
    jobs = [("single", lambda: bench.bench_single(env_id, seconds)),
            ("sync_vector", lambda: bench.bench_sync_vector(env_id, sync_envs, seconds))]
    if bench.has_native_vector(env_id):
        jobs.append(("native_vector", lambda: bench.bench_native_vector(env_id, num_envs, seconds)))
    if env_id != REFERENCE_ID and bench._sb3_available():
        n = num_envs if bench.has_native_vector(env_id) else sync_envs
        jobs.append(("sb3_adapter", lambda: bench.bench_sb3(env_id, n, seconds)))
    for mode, job in jobs:
        try:
            m = job()
        except Exception as err:  # e.g. the atari extra missing: keep the other rows
            rows.append({"env_id": env_id, "mode": mode, "skipped": f"{type(err).__name__}: {err}"})
            print(f"{env_id:32s} {mode:14s} skipped ({err})", flush=True)
            continue
        rows.append(m.as_dict())
        print(f"{m.env_id:32s} {m.mode:14s} {m.num_envs:8d} {m.env_steps_per_s:14,.0f}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seconds", type=float, default=2.0, help="wall time per measurement")
    parser.add_argument("--num-envs", type=int, default=1024, help="copies in the native vector env")
    parser.add_argument("--sync-envs", type=int, default=16, help="copies in Gymnasium's SyncVectorEnv")
    parser.add_argument("--no-train", action="store_true", help="skip the training-speed comparison")
    parser.add_argument("--reuse-training", action="store_true",
                        help="with --no-train: keep the training comparison already saved in --out (its own run)")
    parser.add_argument("ids", nargs="*", help="ids to measure (default: every registered memenvs id)")
    args = parser.parse_args(argv)

    ids = args.ids or [e.id for e in memenvs.ENVS]
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    load_before = os.getloadavg()
    results: list[dict[str, Any]] = []
    for env_id in [REFERENCE_ID, *ids]:
        results.extend(measure_env(env_id, args.num_envs, args.sync_envs, args.seconds))
    out: dict[str, Any] = {
        "command": "python docs/_scripts/perf.py" + (" --no-train" if args.no_train else ""),
        "started": started,
        "machine": bench.machine_info(),
        "load_average": {"before": list(load_before), "after_envs": list(os.getloadavg())},
        "settings": {"seconds": args.seconds, "num_envs": args.num_envs, "sync_envs": args.sync_envs},
        "reference_id": REFERENCE_ID,
        "results": results,
        "training": None,
    }
    if args.no_train and args.reuse_training and args.out.exists():
        out["training"] = json.loads(args.out.read_text()).get("training")
    if not args.no_train:
        from memenvs.baselines import bench as train_bench

        argv_train = ["--rounds", "3"]
        speeds = train_bench.main(argv_train)
        out["training"] = {"command": "python -m memenvs.baselines.bench " + " ".join(argv_train),
                           "machine": train_bench.machine_info(), **speeds}
    out["gymnasium"] = gym.__version__
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"saved {args.out}")
    return out


if __name__ == "__main__":
    main()
