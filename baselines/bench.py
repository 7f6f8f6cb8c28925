"""Training speed of sb3-contrib's ``MlpLstmPolicy`` vs the memenvs LSTM policy, same settings, same env, same run.

Usage::

    python -m memenvs.baselines.bench                      # passive T-maze, length 100 (101-step episodes)
    python -m memenvs.baselines.bench --env memenvs/Warehouse-v0 --env-kwargs '{}' --steps 4096 --rounds 3

Both models are ``RecurrentPPO`` with identical hyperparameters, seeds, LSTM size and heads; only the policy class
differs. Rounds alternate the two policies so that load from other processes hits both alike; the ratio is of the
median env-steps/s. Long episodes are where the upstream per-timestep loop costs most, and memory tasks have them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any

import torch as th
from sb3_contrib import RecurrentPPO

from memenvs.baselines.policies.memory_policy import MemoryActorCriticPolicy


def train_speed(policy: Any, policy_kwargs: dict[str, Any], args: argparse.Namespace) -> float:
    """Env-steps/s of ``RecurrentPPO(policy)`` learning ``args.steps`` steps (model construction not timed)."""
    from memenvs.sb3 import make_vec_env

    venv = make_vec_env(args.env, n_envs=args.n_envs, seed=args.seed, **json.loads(args.env_kwargs))
    model = RecurrentPPO(
        policy, venv, n_steps=args.n_steps, batch_size=args.batch_size, n_epochs=args.n_epochs,
        policy_kwargs=policy_kwargs, seed=args.seed, device="cpu",
    )
    start = time.perf_counter()
    model.learn(args.steps)
    elapsed = time.perf_counter() - start
    venv.close()
    return model.num_timesteps / elapsed


def machine_info() -> str:
    import sb3_contrib
    import stable_baselines3

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return (
        f"{cpu}; {os.cpu_count()} logical CPUs; torch {th.__version__} ({th.get_num_threads()} thread(s)); "
        f"stable-baselines3 {stable_baselines3.__version__}; sb3-contrib {sb3_contrib.__version__}; "
        f"Python {platform.python_version()}"
    )


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="memenvs/TMaze-v0")
    parser.add_argument("--env-kwargs", default='{"variant": "passive", "length": 100}', help="JSON")
    parser.add_argument("--steps", type=int, default=2048, help="env steps per training run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--n-steps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-epochs", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=256, help="LSTM hidden size")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads > 0:
        th.set_num_threads(args.threads)

    shared = {"lstm_hidden_size": args.hidden, "net_arch": [64]}
    runs = {"sb3-contrib MlpLstmPolicy": ("MlpLstmPolicy", dict(shared)),
            "memenvs LSTM policy": (MemoryActorCriticPolicy, {**shared, "core": "lstm"})}
    speeds: dict[str, list[float]] = {name: [] for name in runs}
    print(machine_info())
    print(f"env {args.env} {args.env_kwargs}; RecurrentPPO n_envs={args.n_envs} n_steps={args.n_steps} "
          f"batch_size={args.batch_size} n_epochs={args.n_epochs} lstm_hidden_size={args.hidden}; "
          f"{args.steps} steps x {args.rounds} rounds")
    for r in range(args.rounds):
        for name, (policy, kwargs) in runs.items():
            sps = train_speed(policy, kwargs, args)
            speeds[name].append(sps)
            print(f"  round {r + 1}: {name:28s} {sps:8.0f} env-steps/s", flush=True)
    med = {name: statistics.median(v) for name, v in speeds.items()}
    base, ours = med["sb3-contrib MlpLstmPolicy"], med["memenvs LSTM policy"]
    for name, value in med.items():
        print(f"median {name:28s} {value:8.0f} env-steps/s")
    print(f"speed-up (memenvs / sb3-contrib): {ours / base:.2f}x")
    return {"sb3_contrib": base, "memenvs": ours, "ratio": ours / base}


if __name__ == "__main__":
    main()
