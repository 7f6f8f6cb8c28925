"""The switch experiment for the fast/slow baseline: does learning at test time recover faster after a task change?

Task: the T-maze (``variant="bakker"``, corridor ``--length``, default 4) with the **cue hidden** (every cue
observation shows as a corridor cell, :class:`VecHideCue`) and the goal arm **held fixed for a block** of episodes
by reset options, then switched. No observation tells the arm, so the only memory of it is in the weights: what the
agent learned from its recent episodes. Within a block the task is solvable reactively (always turn the same way at
the junction, return 4); a switch flips the right answer (the old turn returns -0.1).

Protocol, per seed:

1. Pretrain the ``fast_slow`` baseline (PPO) on ``--pretrain-blocks`` blocks of ``--block-steps`` env steps whose goal
   alternates south, north, ..., ending on north (the goal changes for episodes that start after the switch).
2. Test for ``--episodes`` episodes per copy (``--n-envs`` copies): the arm the pretrained policy takes (A) for
   ``--test-block`` episodes, then the other arm (B), then A again
   (:func:`~memenvs.baselines.algorithms.test_time_adaptation.block_schedule`; the last pretraining switch does not
   always complete, so A is read off the policy), under three conditions: ``frozen`` (no learning), ``towers`` (fast and
   slow towers learn every ``--update-every`` steps, muxer frozen) and ``all`` (every parameter learns). Actions are
   sampled in all three.
3. Record the return of every episode; per seed, the mean over copies at each episode index.

Outputs ``<out>.json`` (every seed's curves, written after each seed so an interrupted run resumes), ``<out>.png``
(return per episode across the switches, mean over seeds with standard-error bands) and ``<out>.md`` (the figures).

Usage::

    memenvs reproduce fast-slow-switch --seeds 0 1 2 --out docs/results/fast_slow_switch
    python -m memenvs.baselines.experiments.fast_slow_switch --seeds 0 1 2   # the same
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvStepReturn

from memenvs.envs.tmaze import OBS_CORRIDOR, OBS_CUE_NORTH, OBS_CUE_SOUTH, OBS_JUNCTION

from .. import vec_wrappers
from ..algorithms.test_time_adaptation import VecTaskSchedule, block_schedule, evaluate_adapting, make_task_vec
from ..models import make_model, set_torch_threads
from ..statistics import ci95, mean_se

ENV_ID = "memenvs/TMaze-v0"
CONDITIONS = ("frozen", "towers", "all")
TRAINABLE = {"frozen": "none", "towers": "towers", "all": "all"}
NORTH, SOUTH = {"goal": 0}, {"goal": 1}
RECOVERED = 2.0  # halfway between the wrong arm (-0.1) and the right one (+4)


class VecHideCue(VecEnvWrapper):
    """T-maze observations with the cue replaced by the corridor code, so no observation tells the goal arm."""

    def __init__(self, venv: VecEnv) -> None:
        super().__init__(venv)
        self._cues = np.array([OBS_CUE_NORTH, OBS_CUE_SOUTH], dtype=np.float32)
        self._corridor = np.array(OBS_CORRIDOR, dtype=np.float32)

    def _hide(self, obs: np.ndarray) -> np.ndarray:
        is_cue = (obs[:, None, :] == self._cues[None]).all(axis=2).any(axis=1)
        obs = obs.copy()
        obs[is_cue] = self._corridor
        return obs

    def reset(self) -> np.ndarray:
        return self._hide(self.venv.reset())

    def step_wait(self) -> VecEnvStepReturn:
        obs, rewards, dones, infos = self.venv.step_wait()
        for i in np.flatnonzero(dones):
            term = infos[i].get("terminal_observation")
            if term is not None:
                infos[i]["terminal_observation"] = self._hide(term[None])[0]
        return self._hide(obs), rewards, dones, infos


vec_wrappers.WRAPPERS["tmaze_hide_cue"] = VecHideCue


def _schedule_wrapper(venv: VecEnv) -> VecTaskSchedule:
    while not isinstance(venv, VecTaskSchedule):
        venv = venv.venv
    return venv


def pretrain(seed: int, args: argparse.Namespace) -> Any:
    """The fast/slow model after alternating goal blocks (time-based: all copies switch together), ending north."""
    env_kwargs = {"length": args.length}
    wrappers = [("tmaze_hide_cue", {})]
    model = make_model("fast_slow", ENV_ID, seed=seed, n_envs=args.n_envs, env_kwargs=env_kwargs, wrappers=wrappers,
                       **_algo_kwargs(args))
    venv = make_task_vec(ENV_ID, args.n_envs, seed, env_kwargs, wrappers, lambda j: NORTH)
    model.set_env(venv)
    schedule = _schedule_wrapper(venv)
    for k in range(args.pretrain_blocks):
        goal = NORTH if (args.pretrain_blocks - 1 - k) % 2 == 0 else SOUTH
        schedule.tasks = lambda j, goal=goal: goal
        model.learn(args.block_steps, reset_num_timesteps=(k == 0))
    return model


def _algo_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"learning_rate": args.lr, "n_epochs": args.n_epochs, "ent_coef": args.ent_coef, "n_steps": args.n_steps,
            "batch_size": args.batch_size}


def believed_goal(model: Any) -> dict[str, int]:
    """The goal (reset options) whose arm the policy prefers at the junction."""
    import torch as th

    with th.no_grad():
        probs = model.policy.get_distribution(th.tensor([OBS_JUNCTION])).distribution.probs[0]
    return NORTH if probs[0] >= probs[2] else SOUTH


def run_seed(seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Pretrain one model and test it under the three conditions; each condition's mean return per episode."""
    start = time.perf_counter()
    model = pretrain(seed, args)
    row: dict[str, Any] = {"seed": seed, "pretrain_s": round(time.perf_counter() - start, 1), "curves": {},
                           "updates": {}}
    # The test starts with the arm the pretrained policy takes (the last pretraining switch does not always
    # complete), so the first switch always flips the answer the agent has learned.
    first = believed_goal(model)
    row["first_goal"] = first["goal"]
    tasks = block_schedule([first, SOUTH if first is NORTH else NORTH], args.test_block)
    for name in CONDITIONS:
        result = evaluate_adapting(model, n_episodes=args.episodes, seed=10_000 + seed, trainable=TRAINABLE[name],
                                   n_envs=args.n_envs, tasks=tasks, update_every=args.update_every,
                                   normalize_advantage=not args.raw_advantage)
        row["curves"][name] = [round(float(x), 4) for x in result.episode_mean]
        row["updates"][name] = result.n_updates
    row["total_s"] = round(time.perf_counter() - start, 1)
    return row


def recovery_episodes(curve: np.ndarray, start: int, stop: int) -> int:
    """Episodes after the switch at ``start`` until the mean return first reaches :data:`RECOVERED` (``stop -
    start`` if it never does within the block)."""
    above = np.flatnonzero(curve[start:stop] >= RECOVERED)
    return int(above[0]) if above.size else stop - start


def summarize(rows: list[dict[str, Any]], block: int, early: int = 10) -> dict[str, Any]:
    """Per condition, mean and standard error over seeds of: the return before the first switch, over the whole
    block after each switch, over its first ``early`` episodes, and the episodes needed to recover."""
    out: dict[str, Any] = {}
    for name in CONDITIONS:
        stats: dict[str, list[float]] = {}
        for row in rows:
            c = np.asarray(row["curves"][name])
            n_blocks = len(c) // block
            stats.setdefault("before_switch", []).append(float(c[:block].mean()))
            for b in range(1, n_blocks):
                lo, hi = b * block, (b + 1) * block
                stats.setdefault(f"switch{b}_block", []).append(float(c[lo:hi].mean()))
                stats.setdefault(f"switch{b}_first{early}", []).append(float(c[lo:lo + early].mean()))
                stats.setdefault(f"switch{b}_recovery_episodes", []).append(float(recovery_episodes(c, lo, hi)))
        out[name] = {key: {**dict(zip(("mean", "se"), mean_se(vals))), "ci95": list(ci95(vals))}
                     for key, vals in stats.items()}
    return out


def plot(rows: list[dict[str, Any]], block: int, path: str, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"frozen": "tab:gray", "towers": "tab:blue", "all": "tab:orange"}
    labels = {"frozen": "frozen (no test-time learning)", "towers": "towers learn, muxer frozen",
              "all": "everything learns"}
    fig, ax = plt.subplots(figsize=(8, 4))
    for name in CONDITIONS:
        curves = np.asarray([row["curves"][name] for row in rows])
        mean = curves.mean(axis=0)
        se = curves.std(axis=0, ddof=1) / math.sqrt(len(curves)) if len(curves) > 1 else np.zeros_like(mean)
        x = np.arange(len(mean))
        ax.plot(x, mean, color=colors[name], label=labels[name], lw=1.5)
        ax.fill_between(x, mean - se, mean + se, color=colors[name], alpha=0.25, lw=0)
    n = len(rows[0]["curves"]["frozen"])
    for b in range(1, n // block + (n % block > 0)):
        ax.axvline(b * block - 0.5, color="k", ls="--", lw=0.8)
    for b in range(n // block):
        label = "pretrained arm (A)" if b % 2 == 0 else "other arm (B)"
        ax.text((b + 0.5) * block, 4.3, label, ha="center", fontsize=9)
    ax.set_xlabel("test episode (per copy)")
    ax.set_ylabel("return (mean over copies and seeds)")
    ax.set_ylim(-2.2, 4.7)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_markdown(data: dict[str, Any], path: str, png_name: str) -> None:
    summary, cfg, rows = data["summary"], data["config"], data["rows"]
    block = cfg["test_block"]
    lines = [
        "# Fast/slow weights: recovery after a task switch",
        "",
        f"T-maze (bakker, length {cfg['length']}), cue hidden, goal arm held fixed for blocks of {block} episodes "
        "(A, B, A: A is the arm the pretrained policy takes, B the other). Pretraining: `fast_slow` (PPO, lr "
        f"{cfg['lr']}, towers fast x10 / slow x0.1) for {cfg['pretrain_blocks']} alternating blocks of "
        f"{cfg['block_steps']} steps, entropy coefficient {cfg['ent_coef']}. Test: {cfg['n_envs']} copies x "
        f"{cfg['episodes']} episodes, actions sampled, "
        f"update every {cfg['update_every']} steps per copy ({cfg['update_every'] * cfg['n_envs']} samples, "
        "one PPO minibatch). "
        f"Seeds: {', '.join(str(r['seed']) for r in rows)}; figures are mean ± standard error [95% confidence "
        "interval, Student's t] over seeds of each seed's mean over copies. Recovery: episodes after the switch "
        f"until the mean return first reaches {RECOVERED} (capped at {block}).",
        "",
        f"![return per episode]({png_name})",
        "",
        "| condition | before switch | block after switch 1 | first 10 after switch 1 | recovery 1 (episodes) "
        "| block after switch 2 | first 10 after switch 2 | recovery 2 (episodes) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(stats: dict[str, Any], key: str) -> str:
        s = stats.get(key)
        if s is None:
            return "n/a"
        low, high = s.get("ci95", (math.nan, math.nan))
        return f"{s['mean']:.2f} ± {s['se']:.2f} [{low:.2f}, {high:.2f}]"

    for name in CONDITIONS:
        s = summary[name]
        lines.append(f"| {name} | {cell(s, 'before_switch')} | {cell(s, 'switch1_block')} | "
                     f"{cell(s, 'switch1_first10')} | {cell(s, 'switch1_recovery_episodes')} | "
                     f"{cell(s, 'switch2_block')} | {cell(s, 'switch2_first10')} | "
                     f"{cell(s, 'switch2_recovery_episodes')} |")
    lines += ["", "Switch 1 (A to B) is the test of adaptation: the frozen policy keeps taking A. After switch 2 the "
              "goal is A again, which the frozen policy never stopped taking (its recovery of 0 there is not an "
              "adaptation), while the adapting conditions must unlearn B. A seed whose pretrained policy was still "
              "close to 50/50 between the arms lowers every condition's 'before switch' figure.",
              "", f"Wall time: {sum(r['total_s'] for r in rows):.0f} s in total on the shared 2-core CPU "
              "(one torch thread).", ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="memenvs reproduce fast-slow-switch", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--length", type=int, default=4)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--n-epochs", type=int, default=4)
    parser.add_argument("--n-steps", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ent-coef", type=float, default=0.05)
    parser.add_argument("--pretrain-blocks", type=int, default=6)
    parser.add_argument("--block-steps", type=int, default=3000)
    parser.add_argument("--test-block", type=int, default=30)
    parser.add_argument("--episodes", type=int, default=90)
    parser.add_argument("--update-every", type=int, default=4)
    parser.add_argument("--raw-advantage", type=int, default=0,
                        help="1: no advantage normalisation at test time (a minibatch of uniform failures after a "
                             "switch would otherwise normalise to zero-mean noise)")
    parser.add_argument("--out", default="docs/results/fast_slow_switch")
    args = parser.parse_args(argv)
    set_torch_threads(1)
    config = {k: v for k, v in vars(args).items() if k not in ("seeds", "out")}
    json_path = args.out + ".json"
    rows: list[dict[str, Any]] = []
    if os.path.exists(json_path):
        with open(json_path) as fh:
            old = json.load(fh)
        if old.get("config") == config:  # resume: keep the seeds already done with the same settings
            rows = [r for r in old["rows"] if r["seed"] in args.seeds]
    done = {r["seed"] for r in rows}
    for seed in args.seeds:
        if seed in done:
            continue
        row = run_seed(seed, args)
        rows.append(row)
        summary = summarize(rows, args.test_block)
        with open(json_path, "w") as fh:
            json.dump({"config": config, "summary": summary, "rows": rows}, fh, indent=1)
        print(json.dumps({"seed": seed, "total_s": row["total_s"],
                          **{name: summary[name]["switch1_first10"]["mean"] for name in CONDITIONS}}), flush=True)
    rows.sort(key=lambda r: r["seed"])
    data = {"config": config, "summary": summarize(rows, args.test_block), "rows": rows}
    with open(json_path, "w") as fh:
        json.dump(data, fh, indent=1)
    title = (f"T-maze (length {args.length}, cue hidden), goal switched every {args.test_block} episodes; "
             f"{len(rows)} seeds, mean ± s.e.")
    plot(rows, args.test_block, args.out + ".png", title)
    write_markdown(data, args.out + ".md", os.path.basename(args.out) + ".png")
    print(json.dumps(data["summary"]), flush=True)


if __name__ == "__main__":
    main()
