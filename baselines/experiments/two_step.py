"""Wang et al. 2018's two-step task with the meta-LSTM: a reproduction of the paper's stay-probability figure.

``memenvs reproduce two-step`` (or ``python -m memenvs.baselines.experiments.two_step``) trains the ``meta_lstm``
baseline on ``memenvs/TwoStep-v0`` (LSTM 48 fed the previous action, reward and timestep; recurrent A2C with the paper's
settings, see :mod:`memenvs.baselines.policies.meta_lstm`), with a progress bar and TensorBoard logging, then freezes
the weights, plays 300 evaluation episodes (actions sampled from the policy, as in the paper: with frozen weights any
adaptation to the drifting reward comes from the LSTM's state) and runs the stay-probability analysis of
:mod:`memenvs.analysis.two_step`. It writes, under ``--out``:

* ``two_step_meta_lstm.png`` — stay probabilities with standard errors next to the published ones,
* ``two_step_meta_lstm_training.png`` — reward per episode over training,
* ``two_step_meta_lstm.json`` — every number (settings, wall time, curve, stay probabilities at each checkpoint).

The default budget is the paper's, 10k episodes (``--episodes`` shortens or lengthens it). ``--max-minutes`` bounds
the wall time: training stops there and the evaluation runs on the weights reached. Checkpoints and the raw curve go
to ``--workdir`` every ``--checkpoint-every`` episodes; ``--resume`` continues from the last one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from typing import Any, Sequence

import numpy as np

ENV_ID = "memenvs/TwoStep-v0"
STEM = "two_step_meta_lstm"


@dataclasses.dataclass
class TwoStepRun:
    """What :func:`play_frozen` returns: every trial of the evaluation episodes and each episode's return."""

    record: Any  # memenvs.analysis.two_step.TrialRecord
    returns: np.ndarray


def play_frozen(model: Any, n_episodes: int = 300, seed: int = 10_000, deterministic: bool = False) -> TwoStepRun:
    """Play ``n_episodes`` whole episodes of the model's env with frozen weights, one per copy, in lockstep.

    The env is rebuilt with the model's own wrappers (``model.memenvs_spec``); the LSTM state is carried through the
    episode and never reset inside it. Actions are sampled with torch's generator seeded by ``seed`` inside a fork
    of its state (so the same call gives the same trials, and the caller's torch RNG is left as it was). Returns the
    trial records (for the stay analysis) and the returns.
    """
    import torch as th

    with th.random.fork_rng(devices=[]):
        th.manual_seed(seed)
        return _play_frozen(model, n_episodes, seed, deterministic)


def _play_frozen(model: Any, n_episodes: int, seed: int, deterministic: bool) -> TwoStepRun:
    from memenvs.analysis.two_step import FIELDS, TrialRecorder
    from ..models import make_vec

    spec = getattr(model, "memenvs_spec", None) or {"env_id": ENV_ID, "env_kwargs": {}, "wrappers": []}
    venv = make_vec(spec["env_id"], n_episodes, seed, spec.get("env_kwargs", {}), spec.get("wrappers", []))
    recorder = TrialRecorder()
    returns = np.zeros(n_episodes)
    finished = np.zeros(n_episodes, dtype=bool)
    obs = venv.reset()
    state = None
    starts = np.ones(n_episodes, dtype=bool)
    try:
        while not finished.all():
            actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=deterministic)
            obs, rewards, dones, infos = venv.step(actions)
            live = ~finished
            returns[live] += rewards[live]
            # A copy's info is its own last step's, also when it finished (the SB3 adapter's convention).
            info = {k: np.array([inf.get(k, 0) for inf in infos]) for k in FIELDS + ("trial_end",)}
            info["trial_end"] = info["trial_end"].astype(bool) & live
            recorder.add(info)
            finished |= dones
            starts = dones
    finally:
        venv.close()
    return TwoStepRun(recorder.record(), returns)


def _curve_stats(returns: Sequence[float], bin_size: int) -> dict[str, list[float]]:
    r = np.asarray(returns, dtype=float)
    n = r.size // bin_size
    if n == 0:
        return {"episode": [], "mean": [], "se": []}
    b = r[: n * bin_size].reshape(n, bin_size)
    return {
        "episode": [int((i + 1) * bin_size) for i in range(n)],
        "mean": [round(float(x), 3) for x in b.mean(axis=1)],
        "se": [round(float(x), 3) for x in b.std(axis=1, ddof=1) / math.sqrt(bin_size)] if bin_size > 1 else [],
    }


def plot_training_curve(returns: Sequence[float], path: str, chance: float, optimal: float | None,
                        bin_size: int, title: str) -> None:
    """Reward per episode over training: every episode (faint) and means over ``bin_size`` episodes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    r = np.asarray(returns, dtype=float)
    fig, ax = plt.subplots(figsize=(7.0, 3.6))
    ax.plot(np.arange(1, r.size + 1), r, color="#9db7d8", lw=0.4, alpha=0.6, label="episode")
    stats = _curve_stats(r, bin_size)
    if stats["episode"]:
        x = np.asarray(stats["episode"]) - bin_size / 2
        m, se = np.asarray(stats["mean"]), np.asarray(stats["se"] or np.zeros(len(stats["mean"])))
        ax.plot(x, m, color="#1f4e96", lw=1.6, label=f"mean of {bin_size}")
        ax.fill_between(x, m - se, m + se, color="#1f4e96", alpha=0.25, lw=0)
    ax.axhline(chance, color="grey", ls="--", lw=1, label=f"chance / memoryless ({chance:.0f})")
    if optimal is not None:
        ax.axhline(optimal, color="#2a8c4a", ls=":", lw=1.2, label=f"Bayes-optimal ({optimal:.1f})")
    ax.set_xlabel("training episode (100 trials each)")
    ax.set_ylabel("reward per episode")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _make_callback(deadline: float | None, every: int, workdir: str, state: dict[str, Any]) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class Progress(BaseCallback):
        """Collects episode returns (from VecMonitor), checkpoints after updates, stops at the deadline.

        Checkpoints are written when the next rollout starts, i.e. after the update on the episodes they count;
        the deadline is checked on a rollout's first step, so no collected episode goes untrained."""

        pending = False

        def _on_rollout_start(self) -> None:
            if self.pending:
                _checkpoint(self.model, workdir, state)
                self.pending = False

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                ep = info.get("episode")
                if ep is not None:
                    state["returns"].append(float(ep["r"]))
                    if len(state["returns"]) % every == 0:
                        self.pending = True
                        self.logger.record("reproduce/reward_per_episode", float(np.mean(state["returns"][-every:])))
            if deadline is not None and time.time() > deadline and self.model.rollout_buffer.pos == 0:
                state["stopped_by_deadline"] = True
                return False
            return True

    return Progress()


def _checkpoint(model: Any, workdir: str, state: dict[str, Any]) -> None:
    n = len(state["returns"])
    path = os.path.join(workdir, f"checkpoint_{n:06d}.zip")
    model.save(path)
    state.setdefault("checkpoints", []).append([n, path])
    state["train_seconds"] = state["train_seconds_before"] + time.time() - state["t0"]
    with open(os.path.join(workdir, "progress.json"), "w") as f:
        json.dump(state_json(state), f)


def state_json(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("t0",)}


def _optimizer_text(optimizer: Any) -> str:
    d = optimizer.defaults
    return f"{type(optimizer).__name__}(alpha={d.get('alpha')}, eps={d.get('eps')})"


def _load(path: str, env_kwargs: dict[str, Any], n_envs: int, seed: int, tb: str | None) -> Any:
    from ..algorithms.recurrent_a2c import RecurrentA2C
    from ..hyperparams import resolve
    from ..models import make_vec

    wrappers = [[name, dict(kw)] for name, kw in resolve("meta_lstm", ENV_ID).wrappers]
    venv = make_vec(ENV_ID, n_envs, seed, env_kwargs, wrappers)
    model = RecurrentA2C.load(path, env=venv, device="cpu", tensorboard_log=tb)
    model.memenvs_spec = {"baseline": "meta_lstm", "env_id": ENV_ID, "env_kwargs": env_kwargs, "wrappers": wrappers}
    return model


def reproduce_two_step(
    episodes: int = 10_000,
    n_envs: int = 1,
    seed: int = 0,
    out: str = "docs/results",
    workdir: str = "runs/two_step_meta_lstm",
    eval_episodes: int = 300,
    max_minutes: float | None = None,
    checkpoint_every: int = 1000,
    resume: bool = False,
    progress_bar: bool = True,
    tensorboard: bool = True,
    eval_checkpoints: bool = True,
    verbose: int = 0,
) -> dict[str, Any]:
    """Train, evaluate with frozen weights, analyse and write the figures and the JSON (see the module docstring).

    Returns the JSON's content. ``n_envs`` copies train in lockstep (one update per ``n_envs`` episodes; 1 is the
    paper's schedule).
    """
    import torch as th

    from memenvs.analysis.two_step import PUBLISHED, plot_stay_probabilities, stay_probabilities
    from ..models import make_model, set_torch_threads

    if episodes < 1 or n_envs < 1 or eval_episodes < 1 or checkpoint_every < 1:
        raise ValueError("episodes, n_envs, eval_episodes and checkpoint_every must be positive integers")
    set_torch_threads(1)
    os.makedirs(out, exist_ok=True)
    os.makedirs(workdir, exist_ok=True)
    tb = os.path.join(workdir, "tensorboard") if tensorboard else None
    env_kwargs: dict[str, Any] = {}
    state: dict[str, Any] = {"returns": [], "train_seconds_before": 0.0, "stopped_by_deadline": False}
    progress_path = os.path.join(workdir, "progress.json")
    model = None
    if resume and os.path.exists(progress_path):
        with open(progress_path) as f:
            saved = json.load(f)
        if saved.get("checkpoints"):
            n_saved, ckpt = saved["checkpoints"][-1]
            state.update(saved)
            state["returns"] = saved["returns"][:n_saved]
            state["train_seconds_before"] = saved.get("train_seconds", 0.0)
            model = _load(ckpt, env_kwargs, n_envs, seed + n_saved, tb)
            print(f"resumed from {ckpt} ({n_saved} episodes)")
    if model is None:
        model = make_model("meta_lstm", ENV_ID, seed=seed, n_envs=n_envs, env_kwargs=env_kwargs,
                           tensorboard_log=tb, verbose=verbose)
    state["t0"] = time.time()
    deadline = None if max_minutes is None else state["t0"] + 60.0 * max_minutes
    remaining = episodes - len(state["returns"])
    if remaining > 0:
        # Whole rollouts only: with n_steps = one episode per copy this is exactly the episodes asked for.
        steps = (remaining + n_envs - 1) // n_envs * n_envs * model.n_steps
        callback = _make_callback(deadline, checkpoint_every, workdir, state)
        model.learn(steps, callback=callback, progress_bar=progress_bar, reset_num_timesteps=not resume,
                    tb_log_name="meta_lstm")
    state["train_seconds"] = state["train_seconds_before"] + time.time() - state["t0"]
    if not state.get("checkpoints") or state["checkpoints"][-1][0] != len(state["returns"]):
        _checkpoint(model, workdir, state)
    trained = len(state["returns"])

    t_eval = time.time()
    with th.no_grad():
        run = play_frozen(model, eval_episodes, seed=10_000 + seed)
    analysis = stay_probabilities(run.record)
    eval_seconds = time.time() - t_eval

    import gymnasium as gym

    env = gym.make(ENV_ID, **env_kwargs)
    chance, optimal = env.unwrapped.memoryless_return(), env.unwrapped.optimal_return()
    oracle = env.unwrapped.core.oracle_return()
    env.close()

    along = []
    if eval_checkpoints:
        from ..algorithms.recurrent_a2c import RecurrentA2C

        for n_ck, path in state["checkpoints"]:
            if not os.path.exists(path):
                continue
            m = RecurrentA2C.load(path, device="cpu")
            m.memenvs_spec = model.memenvs_spec
            with th.no_grad():
                r = play_frozen(m, eval_episodes, seed=10_000 + seed)
            a = stay_probabilities(r.record)
            along.append({"episodes": int(n_ck), "return_mean": round(float(r.returns.mean()), 3),
                          "stay": [round(float(x), 4) for x in a.stay], "se": [round(float(x), 4) for x in a.se],
                          "model_based_index": round(a.model_based_index, 4),
                          "model_free_index": round(a.model_free_index, 4)})

    returns = state["returns"]
    bin_size = max(1, min(200, trained // 20 or 1))
    result: dict[str, Any] = {
        "env": ENV_ID,
        "env_kwargs": env_kwargs,
        "baseline": "meta_lstm",
        "settings": {"lstm_units": int(model.policy.lstm_actor.hidden_size), "gamma": model.gamma,
                     "learning_rate": model.learning_rate, "optimizer": _optimizer_text(model.policy.optimizer),
                     "vf_coef": model.vf_coef,
                     "ent_coef": model.ent_coef, "max_grad_norm": str(model.max_grad_norm),
                     "n_steps": model.n_steps, "n_envs": n_envs, "seed": seed,
                     "inputs": "one-hot state (3) + one-hot previous action (2) + previous reward + t/200"},
        "episodes_requested": episodes,
        "episodes_trained": trained,
        "updates": int(model._n_updates),
        "stopped_by_wall_time_cap": bool(state.get("stopped_by_deadline")),
        "max_minutes": max_minutes,
        "train_seconds": round(state["train_seconds"], 1),
        "eval_seconds": round(eval_seconds, 1),
        "torch_threads": th.get_num_threads(),
        "chance_return": chance,
        "bayes_optimal_return": round(optimal, 3) if optimal is not None else None,
        "oracle_return": oracle,
        "training_curve": _curve_stats(returns, bin_size),
        "training_last_1000_mean": round(float(np.mean(returns[-1000:])), 3) if returns else None,
        "evaluation": {
            "episodes": eval_episodes,
            "sampling": "stochastic (actions sampled from the frozen policy)",
            "return_mean": round(float(run.returns.mean()), 3),
            "return_se": round(float(run.returns.std(ddof=1) / math.sqrt(run.returns.size)), 3)
            if run.returns.size > 1 else None,
            **analysis.as_dict(),
        },
        "published": {name: list(v) for name, v in PUBLISHED.items()},
        "along_training": along,
    }
    stem = os.path.join(out, STEM)
    plot_stay_probabilities({f"meta-LSTM, this run ({trained} episodes)": analysis}, path=stem + ".png",
                            reference=PUBLISHED,
                            title=f"Two-step task: stay probabilities, frozen weights, {eval_episodes} episodes")
    plot_training_curve(returns, stem + "_training.png", chance, optimal, bin_size,
                        f"meta-LSTM (A2C) on the two-step task: {trained} episodes, "
                        f"{state['train_seconds'] / 60:.0f} min on {th.get_num_threads()} thread")
    with open(stem + ".json", "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    with open(os.path.join(workdir, "returns.json"), "w") as f:
        json.dump(returns, f)
    print(f"trained {trained} episodes in {state['train_seconds'] / 60:.1f} min; evaluation: return "
          f"{result['evaluation']['return_mean']:.2f}; {analysis}")
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="memenvs reproduce two-step", description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=10_000, help="training episodes (default: the paper's 10k)")
    parser.add_argument("--n-envs", type=int, default=1,
                        help="copies trained in lockstep; one update per n_envs episodes (default 1, the paper's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/results", help="folder of the figures and the JSON")
    parser.add_argument("--workdir", default="runs/two_step_meta_lstm",
                        help="checkpoints, raw curve and TensorBoard logs")
    parser.add_argument("--eval-episodes", type=int, default=300)
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-time cap on training")
    parser.add_argument("--checkpoint-every", type=int, default=1000, help="episodes between checkpoints")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --workdir")
    parser.add_argument("--no-progress", dest="progress_bar", action="store_false", help="no progress bar")
    parser.add_argument("--no-tensorboard", dest="tensorboard", action="store_false")
    parser.add_argument("--no-checkpoint-eval", dest="eval_checkpoints", action="store_false",
                        help="skip the stay analysis of every checkpoint")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Command-line entry point (see the module docstring)."""
    return reproduce_two_step(**vars(build_parser().parse_args(argv)))


if __name__ == "__main__":
    main()
