"""MAML-MLP vs MAML-RNN (frozen recurrent weights) vs the meta-LSTM on Navigation2D and HalfCheetahDir.

The question (from a founding document of the project): does MAML improve when every linear layer of its policy
is an RNN cell whose recurrent weights stay frozen? Measured as the pre- and post-adaptation return per
meta-iteration of MAML-TRPO with each policy, next to an RL^2-style meta-LSTM (no inner gradient: its adaptation
is its hidden state, carried across the two episodes of a trial).

``memenvs reproduce maml run --env navigation --methods mlp rnn --seeds 0 1 2 --iterations N``
appends one row per meta-iteration to ``OUT/runs.jsonl`` and one row per finished run (the final policy's
deterministic evaluation on 40 fixed tasks, wall time, env steps/s, the command) to ``OUT/final.jsonl``; runs
already in ``final.jsonl`` are skipped, and a MAML run interrupted in the middle continues from its checkpoint in
``OUT/checkpoints`` (saved every 10 minutes; exactly the run it would have been), so an interrupted job resumes.
``report`` writes the tables and the curves of the finished runs (mean +- standard error over seeds; ``--every K``
thins the per-iteration table to every K-th meta-iteration). ``--paper`` runs the configuration of
``tristandeleu/pytorch-maml-rl`` (the implementation the founding document used; its ``configs/maml/2d-navigation.yaml``
and ``halfcheetah-dir.yaml``) unchanged: the MAML paper's budget (500 meta-iterations, meta-batch 20 tasks for
Navigation2D and 40 for HalfCheetahDir, 20 trajectories per task) and its policy, two hidden layers of 64 tanh
units, with the envs' own horizons (100 for Navigation2D; 200 for HalfCheetahDir, the paper's, where that config
uses 100); add ``--device cuda`` on a machine with a GPU. Without ``--paper`` the hidden layers default to Finn
et al.'s (2017) two of 100 (their code, ``cbfinn/maml_rl``, used ReLU; every memenvs MAML policy uses tanh). A
run is known by its configuration: ``final.jsonl`` records the hidden sizes and the averaging rule (``--average``),
a folder holds one configuration, and a checkpoint is resumed only by a run of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..algorithms.maml import AVERAGES
from ..statistics import mean_se

ENVS = {"navigation": "memenvs/Navigation2D-v0", "cheetah": "memenvs/HalfCheetahDir-v0"}
#: The paper's meta-batch size (tasks per meta-iteration) per env; 20 trajectories per task and 500 iterations.
PAPER_META_BATCH = {"navigation": 20, "cheetah": 40}
PAPER_ITERATIONS = 500
#: pytorch-maml-rl's hidden layers for both envs (64, 64, tanh); Finn et al.'s paper: (100, 100).
PAPER_HIDDEN = (64, 64)
DEFAULT_HIDDEN = (100, 100)
METHODS = ("mlp", "rnn", "meta_lstm")
EVAL_TASKS, EVAL_SEED = 40, 12345


def env_kwargs(max_steps: int | None) -> dict[str, Any]:
    """The env's own horizon (the paper's) unless ``--max-steps`` shortens it (the tests do)."""
    return {} if max_steps is None else {"max_steps": max_steps}


def eval_tasks(env: str, n: int = EVAL_TASKS) -> np.ndarray:
    """The fixed evaluation tasks of ``env`` (the same for every method and seed)."""
    import gymnasium as gym

    import memenvs  # noqa: F401

    e = gym.make(ENVS[env])
    tasks = e.unwrapped.sample_tasks(n, np.random.default_rng(EVAL_SEED))
    e.close()
    return tasks


def checkpoint_stem(out: str, env: str, method: str, seed: int, iterations: int, meta_batch: int, fast_batch: int,
                    hidden: tuple[int, ...], max_steps: int | None, average: str = "trajectories") -> str:
    """Where a run keeps its mid-run checkpoint, one per run and configuration under ``OUT/checkpoints``: a MAML run
    the file ``<stem>.pt``, the meta-LSTM (``hidden=()``, its size is fixed) the folder ``<stem>``."""
    sizes = f"_h{'-'.join(map(str, hidden))}" if hidden else ""
    rule = "" if not hidden or average == "trajectories" else f"_{average}"
    name = f"{env}_{method}_s{seed}_it{iterations}_T{meta_batch}_K{fast_batch}{sizes}{rule}_H{max_steps or 'env'}"
    return os.path.join(out, "checkpoints", name)


def _drop_rows_from(runs_path: str, env: str, method: str, seed: int, iteration: int) -> None:
    """Remove the rows of iterations >= ``iteration`` of one run from ``runs_path`` (they were written after the
    checkpoint a resumed run continues from, and it writes them again)."""
    if not os.path.exists(runs_path):
        return
    with open(runs_path) as f:
        rows = [json.loads(line) for line in f]
    keep = [r for r in rows if (r["env"], r["method"], r["seed"]) != (env, method, seed) or r["iteration"] < iteration]
    if len(keep) < len(rows):
        with open(runs_path, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in keep)


def run_maml(env: str, method: str, seed: int, iterations: int, meta_batch: int, fast_batch: int, device: str,
             hidden: tuple[int, ...], runs_path: str | None, max_steps: int | None = None,
             checkpoint: str | None = None, average: str = "trajectories") -> dict[str, Any]:
    """Meta-train one MAML policy and evaluate it; rows go to ``runs_path`` as they come. With ``checkpoint`` the
    training saves its state there every 10 minutes and an interrupted run resumes exactly where it was
    (:func:`~memenvs.baselines.algorithms.maml.train_maml`); the file is removed once the run is evaluated."""
    import gymnasium as gym

    from ..algorithms.maml import MAMLConfig, evaluate_adaptation, train_maml
    from ..policies.maml_policies import POLICIES

    torch.manual_seed(seed)
    probe = gym.make(ENVS[env])
    obs_dim, act_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
    probe.close()
    policy = POLICIES[method](obs_dim, act_dim, hidden_sizes=hidden).to(device)
    cfg = MAMLConfig(meta_batch_size=meta_batch, fast_batch_size=fast_batch, average=average)

    logged = False

    def log(row: dict[str, Any]) -> None:
        nonlocal logged
        print(f"[{env} {method} seed {seed}] it {row['iteration']}: pre {row['pre_return']:.2f} "
              f"post {row['post_return']:.2f} ({row['wall_s']:.0f}s)", flush=True)
        if runs_path:
            if not logged:  # a resumed run: what an interrupted one wrote after its checkpoint comes again now
                logged = True
                _drop_rows_from(runs_path, env, method, seed, row["iteration"])
            with open(runs_path, "a") as f:
                f.write(json.dumps({"env": env, "method": method, "seed": seed, **row}) + "\n")

    if checkpoint is not None:
        os.makedirs(os.path.dirname(checkpoint), exist_ok=True)
    history = train_maml(ENVS[env], policy, cfg, iterations, seed=seed, env_kwargs=env_kwargs(max_steps), log=log,
                         device=device, checkpoint=checkpoint)
    tasks = eval_tasks(env)
    envs = gym.make_vec(ENVS[env], num_envs=len(tasks) * fast_batch, autoreset_mode="Disabled",
                        **env_kwargs(max_steps))
    envs.reset(seed=EVAL_SEED)
    final = evaluate_adaptation(envs, policy, cfg, tasks, torch.Generator().manual_seed(EVAL_SEED), device=device)
    envs.close()
    if checkpoint is not None:
        os.remove(checkpoint)
    wall = history[-1]["wall_s"]
    steps = history[-1]["total_env_steps"]
    return {"eval_pre_return": final["pre_return"], "eval_post_return": final["post_return"],
            "last_pre_return": history[-1]["pre_return"], "last_post_return": history[-1]["post_return"],
            "wall_s": wall, "env_steps": steps, "env_steps_per_s": steps / wall}


def run_meta_lstm(env: str, seed: int, iterations: int, meta_batch: int, fast_batch: int, runs_path: str | None,
                  tasks: np.ndarray, eval_seed: int, max_steps: int | None = None,
                  checkpoint: str | None = None) -> dict[str, Any]:
    """The RL^2-style meta-LSTM (:class:`~memenvs.baselines.algorithms.recurrent_a2c.RecurrentA2C`
    with :class:`~memenvs.baselines.policies.meta_lstm.MetaLSTMPolicy`) on trials of two episodes of one task
    (:class:`memenvs.wrappers.MetaTrial`): the first episode's return is its pre-adaptation return, the second's
    (the hidden state carried over) its post-adaptation return.

    Matched budget: ``meta_batch`` copies run one trial each per update (``n_steps`` = two horizons), and one
    "meta-iteration" is ``fast_batch`` updates, the env steps of one MAML meta-iteration (``2 * T * K * H``). The
    settings are the meta-LSTM row of :mod:`memenvs.baselines.hyperparams` (LSTM 48, RMSprop lr 7e-4, value
    coefficient 0.05) except gamma 0.99 (MAML's, for the 100-200-step episodes), no entropy bonus (a Gaussian
    policy's entropy grows without bound) and the reward divided by a running estimate of the discounted return's
    standard deviation (SB3's ``VecNormalize``, rewards only; the LSTM's reward input stays unscaled): the row was
    made for rewards of 0 and 1, and these tasks' returns of -40 to -100 per episode left the policy where it began.

    With ``checkpoint`` (a folder) the run saves its weights, optimizer state and step count there every 10
    minutes (:mod:`memenvs.baselines.compare.checkpoints`) and an interrupted run continues from them; unlike a
    MAML run's, the continuation is not bit-identical (its trials start afresh), and the result says where it
    resumed (``resumed_at``)."""
    import gymnasium as gym
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from .. import BASELINES, MetaLSTMPolicy, RecurrentA2C
    from ..compare import checkpoints
    from memenvs.wrappers import MetaTrial

    kwargs = env_kwargs(max_steps)

    def make() -> gym.Env:
        return MetaTrial(gym.make(ENVS[env], **kwargs), episodes=2)

    copies = DummyVecEnv([make] * meta_batch)
    horizon = copies.envs[0].unwrapped.max_steps if env == "cheetah" else copies.envs[0].unwrapped.core.max_steps
    # The reward divided by a running estimate of the discounted return's std: unscaled, this task's returns (about
    # -40 to -100 at gamma 0.99) give a value loss that swamps the policy gradient in the shared LSTM once the
    # gradient norm is clipped, and the policy never moved (220 meta-iterations at -90, its std still 1).
    venv = VecNormalize(copies, norm_obs=False, norm_reward=True, gamma=0.99)
    row = BASELINES["meta_lstm"]  # the one table of defaults; the trial length and three env-specific changes
    algo_kwargs = {**row.algo_kwargs, "n_steps": 2 * horizon, "gamma": 0.99, "ent_coef": 0.0}
    model = RecurrentA2C(MetaLSTMPolicy, venv, policy_kwargs=dict(row.policy_kwargs), seed=seed, device="cpu",
                         **algo_kwargs)
    start = time.perf_counter()
    spent, resumed_at = 0.0, []
    saved = None if checkpoint is None else checkpoints.load(Path(checkpoint))
    if saved is not None:
        checkpoints.restore(model, Path(checkpoint), saved)
        spent, resumed_at = saved["wall_s"], [*saved["resumed_at"], int(model.num_timesteps)]
        venv.ret_rms.mean, venv.ret_rms.var, venv.ret_rms.count = map(np.float64, saved["return_scale"])
        if runs_path:
            _drop_rows_from(runs_path, env, "meta_lstm", seed, saved["rollouts"] // fast_batch)

    class Log(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.returns: dict[int, list[float]] = {0: [], 1: []}
            self.rollouts = 0 if saved is None else int(saved["rollouts"])
            self.last: dict[str, Any] = {}

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode_return" in info:
                    self.returns[info["trial_episode"]].append(info["episode_return"])
            return True

        def _on_rollout_end(self) -> None:
            self.rollouts += 1
            if self.rollouts % fast_batch:
                return
            row = {"iteration": self.rollouts // fast_batch - 1, "pre_return": float(np.mean(self.returns[0])),
                   "post_return": float(np.mean(self.returns[1])), "total_env_steps": int(self.num_timesteps),
                   "wall_s": spent + time.perf_counter() - start}
            self.returns = {0: [], 1: []}
            print(f"[{env} meta_lstm seed {seed}] it {row['iteration']}: pre {row['pre_return']:.2f} "
                  f"post {row['post_return']:.2f} ({row['wall_s']:.0f}s)", flush=True)
            if runs_path:
                with open(runs_path, "a") as f:
                    f.write(json.dumps({"env": env, "method": "meta_lstm", "seed": seed, **row}) + "\n")
            self.last = row

    log = Log()
    callbacks: list = [log]
    if checkpoint is not None:
        # saved when a rollout starts, i.e. after the previous iteration's row was written (rollouts % fast_batch)
        def state() -> dict[str, Any]:
            return {"rollouts": log.rollouts, "resumed_at": resumed_at, "wall_s": spent + time.perf_counter() - start,
                    "return_scale": [float(venv.ret_rms.mean), float(venv.ret_rms.var), float(venv.ret_rms.count)]}

        saver = checkpoints.Checkpointer(Path(checkpoint), None, state)
        callbacks.append(saver.callback())
    total = iterations * fast_batch * meta_batch * 2 * horizon
    model.learn(total_timesteps=total - model.num_timesteps, callback=callbacks, reset_num_timesteps=saved is None)
    wall = spent + time.perf_counter() - start
    final = evaluate_meta_lstm(model, env, tasks, eval_seed, kwargs)
    venv.close()
    if checkpoint is not None:
        checkpoints.remove(Path(checkpoint))
    return {"eval_pre_return": final[0], "eval_post_return": final[1], "last_pre_return": log.last["pre_return"],
            "last_post_return": log.last["post_return"], "wall_s": wall, "env_steps": int(model.num_timesteps),
            "env_steps_per_s": model.num_timesteps / wall, "resumed_at": resumed_at}


def evaluate_meta_lstm(model: Any, env: str, tasks: np.ndarray, seed: int, kwargs: dict[str, Any]
                       ) -> tuple[float, float]:
    """Deterministic returns of the first and second episode of one trial per task, the hidden state carried."""
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv

    from memenvs.wrappers import MetaTrial

    venv = DummyVecEnv([lambda: MetaTrial(gym.make(ENVS[env], **kwargs), episodes=2)] * len(tasks))
    venv.seed(seed)
    venv.set_options([{"task": t} for t in tasks])
    obs = venv.reset()
    state, starts = None, np.ones(len(tasks), dtype=bool)
    returns = np.full((len(tasks), 2), np.nan)
    done_trials = np.zeros(len(tasks), dtype=bool)
    while not done_trials.all():
        action, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
        obs, _, dones, infos = venv.step(action)
        starts = dones
        for i, info in enumerate(infos):
            if "episode_return" in info and not done_trials[i]:
                returns[i, info["trial_episode"]] = info["episode_return"]
        done_trials |= dones
    venv.close()
    return float(returns[:, 0].mean()), float(returns[:, 1].mean())


def hidden_sizes(paper: bool, hidden: Sequence[int] | None) -> tuple[int, ...]:
    """The MAML policies' hidden sizes: ``hidden`` if given, else pytorch-maml-rl's with ``paper``, else Finn et
    al.'s."""
    if hidden is None:
        return PAPER_HIDDEN if paper else DEFAULT_HIDDEN
    if not hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in hidden):
        raise ValueError(f"--hidden sizes must be integers >= 1, got {list(hidden)}")
    return tuple(hidden)


def run_key(row: dict[str, Any]) -> tuple[str, str, int, tuple[int, ...], str]:
    """What identifies a finished run in ``final.jsonl``: env, method, seed, hidden sizes and averaging rule (the
    meta-LSTM has neither; rows written before they were recorded ran with the then defaults, Finn et al.'s
    100-100 and every step weighed alike)."""
    if row["method"] == "meta_lstm":
        return row["env"], row["method"], row["seed"], (), ""
    return (row["env"], row["method"], row["seed"], tuple(row.get("hidden_sizes", DEFAULT_HIDDEN)),
            row.get("average", "steps"))


def done_runs(path: str) -> set[tuple[str, str, int, tuple[int, ...], str]]:
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        return {run_key(r) for r in map(json.loads, f)}


def cmd_run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    final_path, runs_path = os.path.join(args.out, "final.jsonl"), os.path.join(args.out, "runs.jsonl")
    iterations = PAPER_ITERATIONS if args.paper else args.iterations
    meta_batch = PAPER_META_BATCH[args.env] if args.paper or args.meta_batch_size is None else args.meta_batch_size
    fast_batch = 20 if args.paper else args.fast_batch_size
    if args.paper:
        args.max_steps = None
    command = "memenvs reproduce maml " + " ".join(map(shlex.quote, args.argv))
    if os.path.exists(final_path):  # one configuration per folder: runs.jsonl rows do not carry it
        with open(final_path) as f:
            other = {run_key(r)[3:] for r in map(json.loads, f)
                     if r["env"] == args.env and r["method"] != "meta_lstm"} - {(tuple(args.hidden), args.average)}
        if other and set(args.methods) - {"meta_lstm"}:
            hidden, average = sorted(other)[0]
            raise SystemExit(f"{args.out} holds MAML runs on {args.env} with hidden sizes {hidden} and average "
                             f"{average!r}, not {tuple(args.hidden)} and {args.average!r}: give another --out for "
                             "another configuration")
    for seed in args.seeds:  # seeds outermost: an interrupted job leaves every method with as many seeds
        for method in args.methods:
            hidden = () if method == "meta_lstm" else tuple(args.hidden)
            key = run_key({"env": args.env, "method": method, "seed": seed, "hidden_sizes": hidden,
                           "average": args.average})
            if key in done_runs(final_path):
                continue
            stem = checkpoint_stem(args.out, args.env, method, seed, iterations, meta_batch, fast_batch, hidden,
                                   args.max_steps, args.average)
            if method == "meta_lstm":
                result = run_meta_lstm(args.env, seed, iterations, meta_batch, fast_batch, runs_path,
                                       eval_tasks(args.env), EVAL_SEED, args.max_steps, stem)
            else:
                result = run_maml(args.env, method, seed, iterations, meta_batch, fast_batch, args.device, hidden,
                                  runs_path, args.max_steps, stem + ".pt", args.average)
            row = {"env": args.env, "method": method, "seed": seed, "iterations": iterations,
                   "meta_batch_size": meta_batch, "fast_batch_size": fast_batch, "hidden_sizes": list(hidden),
                   **({} if method == "meta_lstm" else {"average": args.average}),
                   "device": args.device,
                   **result, "command": command}
            with open(final_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


# ------------------------------------------------------------------------------------------------------ report
def report(out: str, every: int = 1) -> str:
    """Markdown tables of ``OUT/final.jsonl`` (per seed, then mean +- SE, then the sampled returns of every
    ``every``-th meta-iteration and the last) and ``OUT/curves_<env>.png``. Only finished runs (those in
    ``final.jsonl``) are reported: the rows a run still training has written to ``runs.jsonl`` wait for it."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}")
    with open(os.path.join(out, "final.jsonl")) as f:
        finals = [json.loads(line) for line in f]
    finished = {(r["env"], r["method"], r["seed"]) for r in finals}
    with open(os.path.join(out, "runs.jsonl")) as f:
        runs = [row for row in map(json.loads, f) if (row["env"], row["method"], row["seed"]) in finished]
    lines = []
    for env in dict.fromkeys(r["env"] for r in finals):
        rows = [r for r in finals if r["env"] == env]
        lines += [f"## {ENVS[env]}", "", "Per seed (final policy; eval = deterministic, 40 fixed tasks):", "",
                  "| method | seed | hidden | iterations | eval pre | eval post | last-iteration pre "
                  "| last-iteration post | wall (s) | env steps | env steps/s |", "|" + "---|" * 11]
        for r in sorted(rows, key=lambda r: (METHODS.index(r["method"]), r["seed"])):
            hidden = "-".join(map(str, run_key(r)[3])) or "LSTM 48"
            lines.append(f"| {r['method']} | {r['seed']} | {hidden} | {r['iterations']} | {r['eval_pre_return']:.2f} | "
                         f"{r['eval_post_return']:.2f} | {r['last_pre_return']:.2f} | {r['last_post_return']:.2f} | "
                         f"{r['wall_s']:.0f} | {r['env_steps']} | {r['env_steps_per_s']:.0f} |")
        lines += ["", "Mean +- SE over seeds:", "", "| method | seeds | eval pre | eval post | eval post - pre "
                  "| last-iteration pre | last-iteration post | wall (s) | env steps/s |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for method in METHODS:
            rs = [r for r in rows if r["method"] == method]
            if not rs:
                continue
            cells = [mean_se([r[k] for r in rs]) for k in ("eval_pre_return", "eval_post_return")]
            gain = mean_se([r["eval_post_return"] - r["eval_pre_return"] for r in rs])
            last = [mean_se([r[k] for r in rs]) for k in ("last_pre_return", "last_post_return")]
            wall, rate = mean_se([r["wall_s"] for r in rs]), mean_se([r["env_steps_per_s"] for r in rs])
            fmt = " | ".join(_plus_minus(m, s, 2) for m, s in (*cells, gain, *last))
            lines.append(f"| {method} | {len(rs)} | {fmt} | {wall[0]:.0f} | {rate[0]:.0f} |")
        lines += ["", *per_iteration_table([r for r in runs if r["env"] == env], every), ""]
        plot_curves([r for r in runs if r["env"] == env], os.path.join(out, f"curves_{env}.png"), ENVS[env])
    text = "\n".join(lines)
    command = f"memenvs reproduce maml report --out {out}" + (f" --every {every}" if every > 1 else "")
    with open(os.path.join(out, "tables.md"), "w") as f:
        f.write(f"# MAML comparison: tables\n\nWritten by `{command}` from `final.jsonl` and `runs.jsonl` (finished "
                f"runs only); the runs' commands are in `final.jsonl`.\n\n{text}")
    return text


def _plus_minus(mean: float, se: float, digits: int) -> str:
    """``mean +- se``, or the mean alone while one seed leaves the standard error undefined."""
    return f"{mean:.{digits}f}" if np.isnan(se) else f"{mean:.{digits}f} +- {se:.{digits}f}"


def per_iteration_table(rows: list[dict[str, Any]], every: int = 1) -> list[str]:
    """Markdown lines: the sampled pre/post returns of every ``every``-th meta-iteration and the last (mean +- SE over
    seeds) and, in each of those batches, the difference of post-adaptation returns MAML-RNN minus MAML-MLP with
    Welch's t (the difference over its standard error) and Welch-Satterthwaite degrees of freedom (3 seeds per arm:
    2 to 4, two-sided 5 % critical value of t from 4.30 to 2.78)."""
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    n = min(max(r["iteration"] for r in rows if r["method"] == m) + 1 for m in methods)
    table = {(r["method"], r["iteration"], r["seed"]): r for r in rows}
    seeds = {m: sorted({r["seed"] for r in rows if r["method"] == m}) for m in methods}
    header = ["iteration"] + [f"{m} {p}" for m in methods for p in ("pre", "post")]
    compare = "mlp" in methods and "rnn" in methods
    if compare:
        header += ["rnn post - mlp post", "Welch t (df)"]
    which = "Per meta-iteration" if every == 1 else f"Meta-iterations 0, {every}, {2 * every}, ... and the last"
    out = [f"{which} (returns of the sampled trajectories, mean +- SE over seeds; for meta_lstm pre/post "
           "are the first and second episode of a trial):", "", "| " + " | ".join(header) + " |",
           "|" + "---|" * len(header)]
    for it in sorted({*range(0, n, every), n - 1}):
        cells = [str(it)]
        for m in methods:
            for key in ("pre_return", "post_return"):
                mean, se = mean_se([table[(m, it, s)][key] for s in seeds[m] if (m, it, s) in table])
                cells.append(_plus_minus(mean, se, 1))
        if compare:
            (a, sa), (b, sb) = (mean_se([table[(m, it, s)]["post_return"] for s in seeds[m]]) for m in ("rnn", "mlp"))
            diff_se = float(np.hypot(sa, sb))
            if diff_se > 0:
                df = diff_se ** 4 / (sa ** 4 / (len(seeds["rnn"]) - 1) + sb ** 4 / (len(seeds["mlp"]) - 1))
                welch = f"{(a - b) / diff_se:.2f} ({df:.1f})"
            else:
                welch = "n/a"
            cells += [_plus_minus(a - b, diff_se, 1), welch]
        out.append("| " + " | ".join(cells) + " |")
    return out


def plot_curves(rows: list[dict[str, Any]], path: str, title: str) -> None:
    """Pre- and post-adaptation return per meta-iteration, mean +- SE over the seeds of each method: the whole run on
    the left; on the right the run after its first tenth (at most 50 iterations), its y-axis fitted to the 1st-99th
    percentile of the curves there, so the gap between the methods is not flattened by the first iterations' returns
    (-450 on Navigation2D) or by a brief collapse."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"mlp": "tab:blue", "rnn": "tab:red", "meta_lstm": "tab:green"}
    lines = []  # (label, style, colour, mean, se)
    for method in METHODS:
        rs = [r for r in rows if r["method"] == method]
        if not rs:
            continue
        seeds = sorted({r["seed"] for r in rs})
        n = min(max(r["iteration"] for r in rs if r["seed"] == s) + 1 for s in seeds)
        for key, style in (("pre_return", "--"), ("post_return", "-")):
            curve = np.full((len(seeds), n), np.nan)
            for r in rs:
                if r["iteration"] < n:
                    curve[seeds.index(r["seed"]), r["iteration"]] = r[key]
            mean = curve.mean(0)
            se = curve.std(0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else np.zeros(n)
            phase = key.split("_")[0]
            if method == "meta_lstm":  # no inner gradient: the first and second episode of a trial
                phase = {"pre": "episode 1", "post": "episode 2"}[phase]
            lines.append((f"{method} {phase}", style, colors[method], mean, se))
    longest = max((len(mean) for *_, mean, _se in lines), default=0)
    start = min(50, longest // 10)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, first in zip(axes, (0, start)):
        for label, style, color, mean, se in lines:
            x = np.arange(first, len(mean))
            m, s = mean[first:], se[first:]
            ax.plot(x, m, style, color=color, label=label)
            ax.fill_between(x, m - s, m + s, color=color, alpha=0.2)
        ax.set_xlabel("meta-iteration")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_ylabel("mean return (sampled actions)")
    axes[0].set_title("every meta-iteration", fontsize=9)
    tail = np.concatenate([mean[start:] for *_, mean, _se in lines]) if lines else np.array([])
    tail = tail[np.isfinite(tail)]
    if tail.size:
        lo, hi = np.percentile(tail, [1, 99])
        pad = 0.1 * (hi - lo) or 1.0
        axes[1].set_ylim(lo - pad, hi + pad)
    axes[1].set_title(f"from meta-iteration {start}, y-axis: 1st-99th percentile of the curves", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{title}: pre-adaptation (dashed) and post-adaptation (solid), mean +- SE over seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="memenvs reproduce maml", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train and evaluate (resumable run by run)")
    r.add_argument("--env", choices=sorted(ENVS), default="navigation")
    r.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    r.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    r.add_argument("--iterations", type=int, default=PAPER_ITERATIONS, help="meta-iterations")
    r.add_argument("--meta-batch-size", type=int, default=None, help="tasks per meta-iteration (default: paper's)")
    r.add_argument("--fast-batch-size", type=int, default=20, help="trajectories per task")
    r.add_argument("--hidden", nargs="+", type=int, default=None,
                   help="hidden sizes of the MAML policies (default: 100 100, Finn et al.'s; with --paper 64 64)")
    r.add_argument("--average", choices=AVERAGES, default="trajectories",
                   help="how a task's steps are averaged in MAML's losses (default: each trajectory's mean first, "
                        "as pytorch-maml-rl; 'steps': every step alike, memenvs' rule before 2026-12-01)")
    r.add_argument("--max-steps", type=int, default=None, help="shorter episodes (default: the paper's horizon)")
    r.add_argument("--paper", action="store_true",
                   help="pytorch-maml-rl's configuration unchanged: the paper's budget (overrides the sizes) and "
                        "64-64 hidden layers unless --hidden is given")
    r.add_argument("--device", default="cpu")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--out", default="docs/results/maml")
    rep = sub.add_parser("report", help="tables and curves from OUT (finished runs)")
    rep.add_argument("--out", default="docs/results/maml")
    rep.add_argument("--every", type=int, default=1, help="the per-iteration table's stride (default: every one)")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    if args.cmd == "run":
        try:
            args.hidden = list(hidden_sizes(args.paper, args.hidden))
        except ValueError as e:
            build_parser().error(str(e))
        if args.meta_batch_size is None:
            args.meta_batch_size = PAPER_META_BATCH[args.env]
        cmd_run(args)
    else:
        if args.every < 1:
            build_parser().error(f"--every must be >= 1, got {args.every}")
        print(report(args.out, args.every))


if __name__ == "__main__":
    main()
