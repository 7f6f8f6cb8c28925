"""Measure every number of the docs' performance page and save them as ``docs/results/performance.json``.

Usage (from the repository root; about 10 minutes on 2 cores, a third of it the training comparison)::

    python benchmarks/performance_page.py               # every registered id, then the training comparison
    python benchmarks/performance_page.py --no-train    # env throughput only; keeps no training row

Env throughput comes from :mod:`memenvs.bench` (the helper behind ``memenvs bench``): every registered id as a
single env through ``gym.make``, in Gymnasium's ``SyncVectorEnv``, as its native vector env and through the SB3
adapter, at 64, 1,024 and 8,192 copies, each row divided by Gymnasium's ``CartPole-v1`` (single, sync vector,
``CartPoleVectorEnv`` at the same copies) measured in the same interleaved rounds, with the median and min-max of
the per-round ratios and the load average. The peers of ``memenvs bench --against`` (gymnax, popgym, minigrid) are
added where they are installed. Then the training comparison: ``benchmarks/training_throughput.py`` with the memenvs
``lstm`` baseline against sb3-contrib's ``RecurrentPPO`` with ``MlpLstmPolicy`` at 8 copies, interleaved rounds,
whose settings and per-round figures are saved beside its result. The docs build only reads the JSON; it measures
nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import memenvs
from memenvs import bench

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "performance.json"
#: The training row: the memenvs ``lstm`` baseline against sb3-contrib's ``MlpLstmPolicy`` at 8 copies (the
#: training-throughput page has 64 and 256 copies and the other baselines).
TRAIN_ARGV = ["--baselines", "lstm", "sb3-lstm", "--n-envs", "8", "--rounds", "3"]


def training(argv: list[str]) -> dict[str, Any]:
    """Run ``benchmarks/training_throughput.py`` with ``argv`` and keep its settings, its per-round figures of the
    two policies at the first ``--n-envs`` and the per-round ratio (both measured in the same interleaved round)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ is a folder of scripts, not a package
    import training_throughput

    result = training_throughput.main(argv)
    n = min(result["speeds"]["lstm"])
    ours, theirs = result["speeds"]["lstm"][n], result["speeds"]["sb3-lstm"][n]
    ratios = [a / b for a, b in zip(ours, theirs)]
    return {
        "command": "python benchmarks/training_throughput.py " + " ".join(argv),
        "machine": result["machine"],
        "settings": f"{result['settings']}; n_envs={n}",
        "rounds": {"sb3-contrib MlpLstmPolicy": theirs, "memenvs LSTM policy": ours},
        "round_ratios": ratios,
        "sb3_contrib": statistics.median(theirs),
        "memenvs": statistics.median(ours),
        "ratio": statistics.median(ratios),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seconds", type=float, default=0.5, help="wall time per case and round (default 0.5)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[64, 1024, 8192],
                        help="copies of the native vector env and SB3 adapter (default 64 1024 8192)")
    parser.add_argument("--sync-envs", type=int, default=16, help="copies in Gymnasium's SyncVectorEnv (default 16)")
    parser.add_argument("--no-train", action="store_true", help="skip the training-speed comparison")
    parser.add_argument("ids", nargs="*", help="ids to measure (default: every registered memenvs id)")
    args = parser.parse_args(argv)
    if args.rounds < 3:
        parser.error(f"--rounds must be >= 3 (the spread needs rounds), got {args.rounds}")

    ids = args.ids or [e.id for e in memenvs.ENVS]
    print(f"load average before: {' '.join(map(str, bench.load_average()))}")
    print(bench.HEADER)
    report = bench.run(ids, args.num_envs, seconds=args.seconds, rounds=args.rounds, sync_envs=args.sync_envs,
                       against=bench.PEERS, progress=lambda row: print(bench.format_row(row), flush=True))
    command = " ".join(["python benchmarks/performance_page.py", *(argv if argv is not None else sys.argv[1:])])
    out: dict[str, Any] = {"command": command.strip(), **report, "training": None}
    if not args.no_train:
        out["training"] = training(TRAIN_ARGV)
        out["load_average"]["after_training"] = bench.load_average()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"saved {args.out}")
    return out


if __name__ == "__main__":
    main()
