"""Forgetting on the non-stationary CartPole: does a quadratic regularizer remember task A while PPO learns task B?

Protocol (``memenvs/NonstationaryCartPole-v0`` with the task code in the observation, so one network *can* solve
both tasks): train PPO on task A, then on task B, then on A again (``aba``), or on a longer alternation (``cycle``:
A B A B A B with shorter phases). Task A is ``standard``, task B ``inverted`` (the two actions swapped): the policy
that solves one is the worst policy for the other, which makes forgetting large and easy to see. Both tasks are
evaluated (deterministic policy, fresh seeds) every ``eval_every`` steps. The memory consolidates at each phase end
(``end_task``), except the ``rw_online`` variant, which consolidates at every rollout with a recency decay.

Reported per run: the return on each task at the end of each phase; *forgetting* = drop of the previous task's return
over a phase that trains the other task; *backward transfer* (Lopez-Paz & Ranzato 2017) = return on each earlier
task after the last phase minus its return right after it was last trained; *current* = return on the task being
trained at the end of its phase (plasticity).

Usage::

    memenvs reproduce regularizer-forgetting                       # the committed results
    memenvs reproduce regularizer-forgetting --protocol cycle --variants plain ewc --seeds 0
    memenvs reproduce regularizer-forgetting --report-only         # table + plot from saved runs

(``python -m memenvs.baselines.experiments.regularizer_forgetting`` takes the same options.)

Runs are appended one JSON line each to ``--runs`` as they finish, and runs already there are skipped, so an
interrupted experiment resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from ..statistics import ci95, mean_se

ENV_ID = "memenvs/NonstationaryCartPole-v0"
TASK_A, TASK_B = "standard", "inverted"
MAX_STEPS = 200  # CartPole-v0's limit: keeps phases and evaluations short on a shared CPU

N_ENVS = 16  # PPO settings: the "cartpole" family row of memenvs.baselines.hyperparams

#: The compared variants: memory options (None = plain PPO). λ is shared through trace normalisation (each H_j has
#: mean diagonal 1, like the L2 anchor's identity), so the variants differ in the shape of the penalty only.
VARIANTS: dict[str, dict[str, Any] | None] = {
    "plain": None,
    "l2": {"form": "l2"},
    "ewc": {"form": "diagonal", "b": 0.0},
    "rw_diag": {"form": "diagonal", "b": 0.5, "weight_source": "advantage"},
    "rw_lowrank": {"form": "lowrank", "b": 0.5, "weight_source": "advantage", "n_samples": 512, "max_rank": 1024},
    "rw_online": {"form": "diagonal", "b": 0.5, "weight_source": "advantage", "consolidate": "rollout",
                  "decay": 0.9},
}

PROTOCOLS = {"aba": (TASK_A, TASK_B, TASK_A), "cycle": (TASK_A, TASK_B) * 3}


def env_kwargs(task: str) -> dict[str, Any]:
    return {"tasks": (task,), "task_in_obs": True, "max_steps": MAX_STEPS}


def run_one(variant: str, protocol: str, seed: int, phase_steps: int, eval_every: int, strength: float,
            eval_episodes: int = 16) -> dict[str, Any]:
    """Train one variant through the protocol's phases; evaluate both tasks every ``eval_every`` steps."""
    from ..algorithms.regularizer_memory import regularizer_memory
    from ..evaluation import evaluate
    from ..models import make_model, make_vec, set_torch_threads

    set_torch_threads(1)
    tasks = PROTOCOLS[protocol]
    model = make_model("mlp", ENV_ID, seed=seed, n_envs=N_ENVS, env_kwargs=env_kwargs(tasks[0]))
    options = VARIANTS[variant]
    memory = callback = None
    if options is not None:
        memory, callback = regularizer_memory(model, **{"strength": strength, "seed": seed, **options})
    n_evals = 0

    def eval_both() -> dict[str, float]:
        nonlocal n_evals
        n_evals += 1
        return {task: evaluate(model, ENV_ID, n_episodes=eval_episodes, seed=100_000 * (seed + 1) + n_evals,
                               env_kwargs=env_kwargs(task)).mean_return for task in (TASK_A, TASK_B)}

    start = time.perf_counter()
    curve = [{"step": 0, **eval_both()}]
    phase_end = []
    for k, task in enumerate(tasks):
        if k > 0:
            model.set_env(make_vec(ENV_ID, N_ENVS, seed + 1000 * k, env_kwargs(task), []))
        phase_start = model.num_timesteps
        # SB3 finishes the rollout it is in, so count the steps actually taken (whole rollouts of 1024 steps)
        while model.num_timesteps - phase_start < phase_steps:
            chunk = min(eval_every, phase_steps - (model.num_timesteps - phase_start))
            model.learn(chunk, callback=callback, reset_num_timesteps=False)
            curve.append({"step": int(model.num_timesteps), **eval_both()})
        phase_end.append(curve[-1])
        if memory is not None and memory.config.consolidate == "task":
            memory.end_task()
    return {
        "variant": variant, "protocol": protocol, "seed": seed, "phase_steps": phase_steps, "strength": strength,
        "options": options, "tasks": list(tasks), "curve": curve, "phase_end": phase_end,
        "train_s": round(time.perf_counter() - start, 1), **metrics(tasks, phase_end),
    }


def metrics(tasks: tuple[str, ...], phase_end: list[dict[str, float]]) -> dict[str, float]:
    """Forgetting, backward transfer and current-task return from the end-of-phase evaluations."""
    current = [phase_end[k][t] for k, t in enumerate(tasks)]
    # each phase after the first trains one task; forgetting is how much the task trained just before it lost
    forgetting = [phase_end[k - 1][tasks[k - 1]] - phase_end[k][tasks[k - 1]]
                  for k in range(1, len(tasks)) if tasks[k - 1] != tasks[k]]
    last = {t: max(k for k, u in enumerate(tasks) if u == t) for t in set(tasks)}
    final_task = tasks[-1]
    bwt = [phase_end[-1][t] - phase_end[k][t] for t, k in last.items() if t != final_task]
    return {
        "forgetting": sum(forgetting) / len(forgetting),
        "first_forgetting": forgetting[0],
        "bwt": sum(bwt) / len(bwt),
        "current": sum(current) / len(current),
        "final_A": phase_end[-1][TASK_A],
        "final_B": phase_end[-1][TASK_B],
    }


# ----------------------------------------------------------------------------- reporting
def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard error over seeds of every metric, per (protocol, variant)."""
    keys = ("forgetting", "first_forgetting", "bwt", "current", "final_A", "final_B")
    out = []
    for protocol in dict.fromkeys(r["protocol"] for r in runs):
        for variant in VARIANTS:
            rows = [r for r in runs if r["protocol"] == protocol and r["variant"] == variant]
            if not rows:
                continue
            line: dict[str, Any] = {"protocol": protocol, "variant": variant, "seeds": sorted(r["seed"] for r in rows)}
            for key in keys:
                line[key], line[key + "_se"] = mean_se([r[key] for r in rows])
                line[key + "_ci95"] = list(ci95([r[key] for r in rows]))
            n_phases = len(rows[0]["phase_end"])
            for task in (TASK_A, TASK_B):
                line[f"phase_{task}"] = [mean_se([r["phase_end"][k][task] for r in rows]) for k in range(n_phases)]
            out.append(line)
    return out


def table(summary: list[dict[str, Any]], level: int = 3) -> str:
    """Markdown tables, one per protocol, under headings of ``level``."""
    lines = []
    for protocol in dict.fromkeys(s["protocol"] for s in summary):
        rows = [s for s in summary if s["protocol"] == protocol]
        n_phases = len(rows[0][f"phase_{TASK_A}"])
        phase_cols = " | ".join(f"A/B after phase {k + 1}" for k in range(n_phases))
        lines += [f"{'#' * level} Protocol `{protocol}`", "",
                  f"| variant | seeds | forgetting of A over first B phase ↓ | mean forgetting ↓ | backward transfer ↑ "
                  f"| current task ↑ | {phase_cols} |",
                  "|---|---|---|---|---|---|" + "---|" * n_phases]
        for s in rows:
            def f(key: str) -> str:
                low, high = s.get(key + "_ci95", (float("nan"), float("nan")))
                return f"{s[key]:.1f} ± {s[key + '_se']:.1f} [{round(low)}, {round(high)}]"  # round: no "-0"
            phases = " | ".join(
                f"{s[f'phase_{TASK_A}'][k][0]:.0f} / {s[f'phase_{TASK_B}'][k][0]:.0f}" for k in range(n_phases))
            lines.append(f"| {s['variant']} | {len(s['seeds'])} | {f('first_forgetting')} | {f('forgetting')} | "
                         f"{f('bwt')} | {f('current')} | {phases} |")
        lines.append("")
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], path: str) -> None:
    """Return on A and on B during training (mean ± s.e. over seeds), one row per protocol."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    protocols = list(dict.fromkeys(r["protocol"] for r in runs))
    fig, axes = plt.subplots(len(protocols), 2, figsize=(12, 3.6 * len(protocols)), squeeze=False)
    colors = dict(zip(VARIANTS, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for row, protocol in enumerate(protocols):
        for col, task in enumerate((TASK_A, TASK_B)):
            ax = axes[row, col]
            for variant in VARIANTS:
                rows = [r for r in runs if r["protocol"] == protocol and r["variant"] == variant]
                if not rows:
                    continue
                n = min(len(r["curve"]) for r in rows)
                steps = np.array([p["step"] for p in rows[0]["curve"][:n]])
                values = np.array([[p[task] for p in r["curve"][:n]] for r in rows])
                mean = values.mean(0)
                se = values.std(0, ddof=1) / np.sqrt(len(rows)) if len(rows) > 1 else np.zeros_like(mean)
                ax.plot(steps, mean, label=variant, color=colors[variant])
                ax.fill_between(steps, mean - se, mean + se, color=colors[variant], alpha=0.15)
            first = [r for r in runs if r["protocol"] == protocol][0]
            bounds = [0] + [p["step"] for p in first["phase_end"]]
            for k, t in enumerate(first["tasks"]):
                if t == TASK_B:
                    ax.axvspan(bounds[k], bounds[k + 1], color="0.9", zorder=0)
            ax.set_title(f"{protocol}: return on task {'A' if task == TASK_A else 'B'} ({task}); "
                         "grey = training B", fontsize=10)
            ax.set_xlabel("env steps")
            ax.set_ylabel("return")
            ax.set_ylim(0, MAX_STEPS * 1.05)
        axes[row, 0].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load_runs(path: str) -> list[dict[str, Any]]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="memenvs reproduce regularizer-forgetting",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--protocol", nargs="+", default=["aba"], choices=sorted(PROTOCOLS))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--phase-steps", type=int, default=None,
                        help="env steps per phase (default: 32768 for aba, 12288 for cycle)")
    parser.add_argument("--eval-every", type=int, default=None, help="default: a quarter of a phase")
    parser.add_argument("--strength", type=float, default=0.1, help="λ (default 0.1)")
    parser.add_argument("--runs", default="docs/results/regularizer_memory_runs.jsonl")
    parser.add_argument("--out", default="docs/results/regularizer_memory", help="prefix of the .md/.json/.png")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)

    if not args.report_only:
        done = {(r["protocol"], r["variant"], r["seed"], r["strength"]) for r in load_runs(args.runs)}
        for protocol in args.protocol:
            steps = args.phase_steps or (32_768 if protocol == "aba" else 12_288)
            every = args.eval_every or steps // 4
            for seed in args.seeds:
                for variant in args.variants:
                    if (protocol, variant, seed, args.strength) in done:
                        continue
                    row = run_one(variant, protocol, seed, steps, every, args.strength)
                    os.makedirs(os.path.dirname(args.runs) or ".", exist_ok=True)
                    with open(args.runs, "a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(json.dumps({k: row[k] for k in ("protocol", "variant", "seed", "forgetting", "bwt",
                                                          "current", "final_A", "final_B", "train_s")}), flush=True)
    runs = [r for r in load_runs(args.runs) if r["strength"] == args.strength]
    if not runs:
        return
    summary = summarize(runs)
    with open(args.out + ".json", "w") as f:
        from ..hyperparams import resolve

        ppo = resolve("mlp", ENV_ID).algo_kwargs
        json.dump({"strength": args.strength, "ppo": ppo, "n_envs": N_ENVS, "max_steps": MAX_STEPS,
                   "variants": VARIANTS, "summary": summary}, f, indent=1)
    with open(args.out + "_table.md", "w") as f:
        f.write("# Regularizer memory: generated tables\n\nWritten by `memenvs reproduce "
                "regularizer-forgetting`; discussion in [regularizer_memory.md](regularizer_memory.md).\n\n"
                + table(summary, level=2))
    plot(runs, args.out + ".png")
    print(table(summary))


if __name__ == "__main__":
    main()
