"""Training throughput of the baselines: env-steps/s of ``model.learn`` at several numbers of env copies.

Usage::

    python benchmarks/training_throughput.py                  # passive T-maze of length 100, n_envs 8 64 256
    python benchmarks/training_throughput.py --device cuda    # the same on a GPU
    python benchmarks/training_throughput.py --n-envs 8 --baselines lstm sb3-lstm --rounds 5
    python benchmarks/training_throughput.py --layout-only    # real fraction of the LSTM's time steps, no timing

Every baseline (``mlp``, ``lstm``, ``gru``, ``iam`` from :func:`memenvs.baselines.make_model`; ``gru-torch``: the
``gru`` baseline with PyTorch's own GRU kernel in the update instead of the hand-written backward of
:mod:`memenvs.baselines.policies.cpu_gru`; and ``sb3-lstm``: sb3-contrib's own ``RecurrentPPO`` with
``MlpLstmPolicy``) trains with the same PPO settings (``--n-steps``,
``--batch-size``, ``--n-epochs``) and the same recurrent width (``--hidden``); everything else is the baseline's
default for the env. A measurement is ``--iterations`` rollout+update cycles, model construction not timed. Rounds
interleave all baselines and copy counts, so load from other processes hits every row alike; the table gives the
median and the min-max over rounds.

IAM's recurrent branch reads the env's d-set; on an env without one (the T-maze) it reads the whole observation.

``bare LSTM`` is the reference for the recurrent rows: a plain ``nn.LSTM`` (observation width -> ``--hidden``)
doing forward and backward over the same real samples, ``--n-epochs`` passes of minibatches of ``--batch-size``
samples laid out as whole per-copy rollouts (``n_steps`` long, ``batch_size // n_steps`` of them), with nothing
else: no environment, heads, optimizer or padding. ``x bare`` is a baseline's env-steps/s over the bare LSTM's
samples/s (the memenvs recurrent baselines run two cores, actor and critic, so 0.5 would be two bare LSTMs and
nothing else).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

import torch as th

BASELINES = ("mlp", "lstm", "gru", "gru-torch", "iam", "sb3-lstm")
RECURRENT = ("lstm", "gru", "gru-torch", "iam", "sb3-lstm")


def machine_info(device: str) -> str:
    """CPU, thread count, accelerator and library versions, printed above the table."""
    import sb3_contrib
    import stable_baselines3

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    gpu = f"; {th.cuda.get_device_name(th.device(device))}" if device.startswith("cuda") else ""
    return (
        f"{cpu}; {os.cpu_count()} logical CPUs; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}{gpu}; "
        f"torch {th.__version__} ({th.get_num_threads()} thread(s)); "
        f"stable-baselines3 {stable_baselines3.__version__}; "
        f"sb3-contrib {sb3_contrib.__version__}; Python {platform.python_version()}"
    )


def build(name: str, n_envs: int, args: argparse.Namespace) -> Any:
    """The model of baseline ``name`` with the benchmark's shared settings."""
    from memenvs.baselines import env_dset, make_model, resolve

    env_kwargs = json.loads(args.env_kwargs)
    algo = {"n_steps": args.n_steps, "batch_size": args.batch_size, "n_epochs": args.n_epochs}
    if name == "sb3-lstm":
        from sb3_contrib import RecurrentPPO

        from memenvs.baselines.models import resolve_schedules
        from memenvs.sb3 import make_vec_env

        record = resolve("lstm", args.env)
        kwargs = resolve_schedules({**record.algo_kwargs, **algo})  # the table's "lin_..." strings, as make_model
        policy_kwargs = {"lstm_hidden_size": args.hidden, "net_arch": record.policy_kwargs.get("net_arch", [])}
        venv = make_vec_env(args.env, n_envs=n_envs, seed=args.seed, **env_kwargs)
        return RecurrentPPO("MlpLstmPolicy", venv, policy_kwargs=policy_kwargs, seed=args.seed, device=args.device,
                            **kwargs)
    policy_kwargs = {"lstm_hidden_size": args.hidden} if name in RECURRENT else None
    if name == "iam" and env_dset(args.env, **env_kwargs) is None:
        # An env without a d-set (the T-maze): the recurrent branch reads the whole observation.
        policy_kwargs = {**policy_kwargs, "core_kwargs": {"dset_indices": list(range(args.obs_dim))}}
    return make_model(name, args.env, seed=args.seed, n_envs=n_envs, env_kwargs=env_kwargs,
                      policy_kwargs=policy_kwargs, device=args.device, **algo)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        th.cuda.synchronize()


def train_speed(name: str, n_envs: int, args: argparse.Namespace) -> float:
    """Env-steps/s of ``--iterations`` rollout+update cycles of baseline ``name`` on ``n_envs`` copies."""
    from memenvs.baselines.policies import cpu_gru

    model = build("gru" if name == "gru-torch" else name, n_envs, args)
    sync(args.device)
    start = time.perf_counter()
    with cpu_gru.disabled() if name == "gru-torch" else contextlib.nullcontext():
        model.learn(args.iterations * args.n_steps * n_envs)
    sync(args.device)
    elapsed = time.perf_counter() - start
    model.get_env().close()
    return model.num_timesteps / elapsed


def bare_lstm_speed(n_envs: int, obs_dim: int, args: argparse.Namespace) -> float:
    """Samples/s of a plain ``nn.LSTM`` forward+backward over one update's samples (see the module docstring)."""
    lstm = th.nn.LSTM(obs_dim, args.hidden).to(args.device)
    rows = max(1, min(n_envs, args.batch_size // args.n_steps))
    x = th.randn(args.n_steps, n_envs, obs_dim, device=args.device)

    def update() -> None:
        for _ in range(args.n_epochs):
            for r in range(0, n_envs, rows):
                y, _ = lstm(x[:, r:r + rows])
                y.sum().backward()

    update()  # warm-up (allocations, kernel choice)
    sync(args.device)
    start, passes = time.perf_counter(), 0
    while passes < args.iterations or time.perf_counter() - start < 0.5:  # at least half a second
        update()
        sync(args.device)
        passes += 1
    return passes * args.n_steps * n_envs / (time.perf_counter() - start)


def layout_stats(episode_starts: Any, batch_size: int, chunk_len: int, call_cost: float) -> dict[str, float]:
    """Real samples over computed core row-steps for one epoch over a rollout, in sb3-contrib's padded layout and in
    :class:`~memenvs.baselines.algorithms.packed_ppo.PackedRolloutBuffer`'s packed one, and the packed core calls
    per minibatch. ``episode_starts`` is the rollout's ``[n_steps, n_envs]`` array."""
    import numpy as np

    from memenvs.baselines.policies.packing import pack_sequences

    n_steps, n_envs = episode_starts.shape
    total = n_steps * n_envs
    starts = np.asarray(episode_starts, dtype=bool).T.reshape(-1)  # copy-major, as both buffers flatten it
    starts[::n_steps] = True  # a copy's first step begins a sequence
    # sb3-contrib: contiguous slices of a randomly rotated order, each sequence padded to the slice's longest.
    order = np.roll(np.arange(total), -np.random.randint(total))
    padded = 0
    for i in range(0, total, batch_size):
        first = starts[order[i:i + batch_size]].copy()
        first[0] = True
        lengths = np.diff(np.append(np.flatnonzero(first), len(first)))
        padded += len(lengths) * lengths.max()
    # Packed: chunks of chunk_len steps, batch_size // chunk_len to a minibatch, cut at episode starts.
    offsets = np.arange(0, n_steps, chunk_len)
    firsts = (np.arange(n_envs)[:, None] * n_steps + offsets[None, :]).reshape(-1)
    per_batch = max(1, batch_size // chunk_len)
    computed, calls, batches = 0, 0, 0
    for i in range(0, len(firsts), per_batch):
        picked = firsts[i:i + per_batch]
        flat = np.concatenate([np.arange(f, f + min(chunk_len, n_steps - f % n_steps)) for f in picked])
        begin = starts[flat] | (flat % n_steps % chunk_len == 0)
        at = np.flatnonzero(begin)
        packing, _ = pack_sequences(flat[at], np.diff(np.append(at, len(flat))), call_cost)
        computed += sum((c.t1 - c.t0) * c.n_rows for c in packing.calls)
        calls += len(packing.calls)
        batches += 1
    return {"sb3_contrib_real": total / padded, "packed_real": total / computed, "packed_calls": calls / batches}


def layout_table(args: argparse.Namespace) -> dict[int, dict[str, float]]:
    """:func:`layout_stats` on one rollout of an untrained ``lstm`` baseline per copy count."""
    from stable_baselines3.common.callbacks import BaseCallback

    from memenvs.baselines.algorithms.packed_ppo import DEFAULT_CALL_COST

    class Nothing(BaseCallback):
        def _on_step(self) -> bool:
            return True

    stats = {}
    for n in args.n_envs:
        model = build("lstm", n, args)
        model._setup_learn(n * args.n_steps, None)
        callback = Nothing()
        callback.init_callback(model)
        model.collect_rollouts(model.env, callback, model.rollout_buffer, args.n_steps)
        chunk_len = getattr(model.rollout_buffer, "chunk_len", min(args.n_steps, args.batch_size))
        stats[n] = layout_stats(model.rollout_buffer.episode_starts, args.batch_size, chunk_len, DEFAULT_CALL_COST)
        model.get_env().close()
    print("real samples / computed core row-steps over one epoch (one rollout of the untrained lstm baseline)\n")
    print("| | " + " | ".join(f"n_envs {n}" for n in args.n_envs) + " |\n|---|" + "---:|" * len(args.n_envs))
    print("| sb3-contrib padded | " + " | ".join(f"{stats[n]['sb3_contrib_real']:.2f}" for n in args.n_envs) + " |")
    print("| packed | " + " | ".join(f"{stats[n]['packed_real']:.2f}" for n in args.n_envs) + " |")
    print("| packed: core calls per minibatch | " + " | ".join(f"{stats[n]['packed_calls']:.1f}" for n in args.n_envs)
          + " |")
    return stats


def cell(values: list[float], fmt: Callable[[float], str]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return fmt(values[0])
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def table(speeds: dict[str, dict[int, list[float]]], n_envs: list[int], bare: dict[int, list[float]]) -> str:
    """Markdown tables: env-steps/s per baseline and copy count, then each recurrent baseline over the bare LSTM."""
    head = "| | " + " | ".join(f"n_envs {n}" for n in n_envs) + " |\n|---|" + "---:|" * len(n_envs) + "\n"
    lines = ["env-steps/s, median (min-max) over rounds\n", head]
    for name, per_n in speeds.items():
        lines.append(f"| {name} | " + " | ".join(cell(per_n[n], lambda v: f"{v:,.0f}") for n in n_envs) + " |\n")
    lines.append("| bare LSTM (samples/s) | " + " | ".join(cell(bare[n], lambda v: f"{v:,.0f}") for n in n_envs)
                 + " |\n")
    lines += ["\nx bare: env-steps/s over the bare LSTM's samples/s of the same round, median (min-max)\n", head]
    for name, per_n in speeds.items():
        if name in RECURRENT:
            ratios = {n: [s / b for s, b in zip(per_n[n], bare[n])] for n in n_envs}
            lines.append(f"| {name} | " + " | ".join(cell(ratios[n], lambda v: f"{v:.2f}") for n in n_envs) + " |\n")
    return "".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="memenvs/TMaze-v0")
    parser.add_argument("--env-kwargs", default='{"variant": "passive", "length": 100}', help="JSON")
    parser.add_argument("--baselines", nargs="+", default=list(BASELINES), choices=BASELINES)
    parser.add_argument("--n-envs", nargs="+", type=int, default=[8, 64, 256])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=1, help="rollout+update cycles per measurement")
    parser.add_argument("--n-steps", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-epochs", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=128, help="recurrent width (lstm_hidden_size)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: leave torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layout-only", action="store_true",
                        help="only print the real fraction of the core's time steps in both layouts (no timing)")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args(argv)
    for flag in ("rounds", "iterations", "n_steps", "batch_size", "n_epochs", "hidden"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if min(args.n_envs) < 1:
        parser.error(f"--n-envs must be >= 1, got {args.n_envs}")
    if args.device.startswith("cuda") and not th.cuda.is_available():
        parser.error(f"--device {args.device}: no CUDA device is available")
    if args.threads > 0:
        th.set_num_threads(args.threads)

    from memenvs.sb3 import make_vec_env

    probe = make_vec_env(args.env, n_envs=1, **json.loads(args.env_kwargs))
    obs_dim = int(probe.observation_space.shape[0]) if len(probe.observation_space.shape) == 1 else 0
    probe.close()
    args.obs_dim = obs_dim
    settings = (f"env {args.env} {args.env_kwargs}; n_steps={args.n_steps} batch_size={args.batch_size} "
                f"n_epochs={args.n_epochs} hidden={args.hidden} device={args.device} seed={args.seed}; "
                f"{args.iterations} rollout+update cycle(s) per measurement, {args.rounds} interleaved rounds")
    print(machine_info(args.device))
    print(settings, flush=True)
    if args.layout_only:
        return {"settings": settings, "layout": layout_table(args)}
    speeds = {name: {n: [] for n in args.n_envs} for name in args.baselines}
    bare: dict[int, list[float]] = {n: [] for n in args.n_envs}
    for r in range(args.rounds):
        for n in args.n_envs:
            if obs_dim:
                bare[n].append(bare_lstm_speed(n, obs_dim, args))
            # Rotate the order each round so no baseline always runs first (warm caches) or last.
            names = args.baselines[r % len(args.baselines):] + args.baselines[:r % len(args.baselines)]
            for name in names:
                speeds[name][n].append(train_speed(name, n, args))
            print(f"round {r + 1} n_envs {n}: " + ", ".join(f"{k} {speeds[k][n][-1]:,.0f}" for k in args.baselines)
                  + (f", bare LSTM {bare[n][-1]:,.0f}" if obs_dim else ""), flush=True)
    text = table(speeds, args.n_envs, bare)
    print("\n" + text)
    result = {"machine": machine_info(args.device), "settings": settings,
              "argv": sys.argv[1:] if argv is None else argv, "speeds": speeds,
              "bare_lstm": bare}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return result


if __name__ == "__main__":
    main()
