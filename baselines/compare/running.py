"""One run of a comparison, as a worker executes it: build the model, train it with a learning curve and
TensorBoard logs, evaluate the final policy, and return everything as one payload (it writes nothing itself but
its mid-run checkpoint, when given a folder for one: :mod:`.checkpoints`)."""

from __future__ import annotations

import json
import math
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import checkpoints, report
from .planning import RunSpec

#: Evaluation episodes are seeded with ``EVAL_SEED_OFFSET + seed``, away from the training seeds.
EVAL_SEED_OFFSET = 10_000
#: Episodes of each periodic evaluation during training (at most ``eval_episodes``); the final evaluation uses all.
PERIODIC_EVAL_EPISODES = 50

ProgressFn = Callable[[str, int, int], None]


def _curve(episodes: list[tuple[int, float, float]], total: int, points: int) -> dict[str, list]:
    """Training-episode return and success averaged over ``points`` equal windows of env steps; a window with no
    finished episode repeats the previous value."""
    edges = np.linspace(0, total, points + 1)[1:]
    steps_done = np.array([e[0] for e in episodes], dtype=float)
    bins = np.minimum(np.searchsorted(edges, steps_done, side="left"), points - 1) if episodes else []
    returns: list[float | None] = []
    success: list[float | None] = []
    last_r = last_s = None
    for b in range(points):
        sel = [e for e, k in zip(episodes, bins) if k == b]
        if sel:
            last_r = float(np.mean([e[1] for e in sel]))
            last_s = float(np.mean([e[2] for e in sel]))
        returns.append(last_r)
        success.append(last_s)
    return {"steps": [int(x) for x in edges], "returns": returns, "success": success}


def execute(spec: RunSpec, progress: ProgressFn | None = None, checkpoint_dir: Path | None = None) -> dict[str, Any]:
    """Train and evaluate one run; returns its payload: ``row`` (the result row, with ``curve``) and ``files``
    (relative path -> bytes: the TensorBoard event files and ``model.zip``). Without ``checkpoint_dir`` it writes
    nothing outside a temporary directory, so it can run on any Ray node; with it, an on-policy run saves a
    checkpoint there every :data:`~.checkpoints.CHECKPOINT_EVERY_S` seconds and resumes from the one it finds."""
    import torch as th
    from stable_baselines3.common.callbacks import BaseCallback

    from ..evaluation import PeriodicEvaluation, episode_success, evaluate
    from ..models import make_model

    class Recorder(BaseCallback):
        """Collects (step, return, success) of every finished training episode; reports progress."""

        def __init__(self) -> None:
            super().__init__()
            self.episodes: list[tuple[int, float, float]] = []
            self.last = 0.0
            self.window: list[float] = []

        def _on_step(self) -> bool:
            dones, infos = self.locals["dones"], self.locals["infos"]
            for i in np.flatnonzero(dones):
                ep = infos[i].get("episode")
                if ep is not None:
                    ok = episode_success(infos[i])
                    ok = math.nan if ok is None else float(ok)
                    self.episodes.append((self.num_timesteps, float(ep["r"]), ok))
                    if math.isfinite(ok):
                        self.window.append(ok)
            now = time.monotonic()
            if progress is not None and now - self.last > 0.5:
                self.last = now
                progress(spec.run_id, self.num_timesteps, spec.steps)
            return True

        def _on_rollout_end(self) -> None:
            if self.window:
                self.logger.record("rollout/success_rate", float(np.mean(self.window)))
                self.window = []

    threads = th.get_num_threads()
    th.set_num_threads(1)  # small nets: one thread each beats a contended pool, and keeps runs reproducible
    try:
        with tempfile.TemporaryDirectory(prefix="memenvs_run_") as tmp:
            start = time.perf_counter()
            model = make_model(spec.baseline, spec.env_id, seed=spec.seed, n_envs=spec.n_envs,
                               env_kwargs=dict(spec.env_kwargs), policy_kwargs=spec.policy_kwargs,
                               tensorboard_log=tmp, **spec.overrides)
            recorder = Recorder()
            # deterministic evaluation at every curve point: a policy that solved the task and lost it again shows
            # as best beside final (the final policy stays the reported figure)
            periodic = PeriodicEvaluation(max(1, spec.steps // spec.curve_points),
                                          min(PERIODIC_EVAL_EPISODES, spec.eval_episodes), EVAL_SEED_OFFSET + spec.seed)
            callbacks: list = [recorder, periodic]
            spent = {"train_s": 0.0, "wall_s": 0.0}  # by earlier sessions of this run, when it resumes
            resumed_at: list[int] = []
            tensorboard_dir = Path(tmp) / "tb_1"  # where SB3 logs the first (and, resumed, the continued) run
            if checkpoint_dir is not None and checkpoints.supports(model):
                saved = checkpoints.load(checkpoint_dir)
                if saved is not None:
                    checkpoints.restore(model, checkpoint_dir, saved, tensorboard_dir)
                    recorder.episodes = [tuple(e) for e in saved["episodes"]]
                    periodic.load_state(saved["evaluations"])
                    spent = saved["spent"]
                    resumed_at = [*saved["resumed_at"], int(model.num_timesteps)]

                def state() -> dict[str, Any]:
                    now = time.perf_counter() - start
                    return {"episodes": recorder.episodes, "evaluations": periodic.state(), "resumed_at": resumed_at,
                            "spent": {"train_s": spent["train_s"] + now, "wall_s": spent["wall_s"] + now}}

                callbacks.append(checkpoints.Checkpointer(checkpoint_dir, tensorboard_dir, state).callback())
            model.learn(spec.steps - model.num_timesteps, callback=callbacks, tb_log_name="tb",
                        reset_num_timesteps=not resumed_at)
            train_s = spent["train_s"] + time.perf_counter() - start
            model.logger.close()
            result = evaluate(model, n_episodes=spec.eval_episodes, seed=EVAL_SEED_OFFSET + spec.seed)
            model.save(Path(tmp) / "model.zip")
            wall_s = spent["wall_s"] + time.perf_counter() - start
            files = {}
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    rel = path.relative_to(tmp)
                    name = "model.zip" if rel.name == "model.zip" else str(Path("tensorboard") / rel.name)
                    files[name] = path.read_bytes()
            if progress is not None:
                progress(spec.run_id, int(model.num_timesteps), spec.steps)
    finally:
        th.set_num_threads(threads)
    best = periodic.best
    row = {
        "run_id": spec.run_id, "env": spec.env_id, "kwargs": json.dumps(spec.env_kwargs), "label": spec.label,
        "baseline": spec.baseline, "seed": spec.seed, "steps": int(model.num_timesteps), "n_envs": spec.n_envs,
        "eval_episodes": result.n_episodes, "wall_s": round(wall_s, 2), "train_s": round(train_s, 2),
        "env_steps_per_s": round(model.num_timesteps / max(train_s, 1e-9), 1),
        "final_return": result.mean_return, "return_se": result.return_se,
        "success_rate": result.success_rate, "success_se": result.success_se,
        "best_return": best["return"], "best_success": best["success"], "best_step": best["steps"],
        "optimal_return": spec.optimal_return, "memoryless_return": spec.memoryless_return,
        "memory_score": report.memory_score(result.mean_return, spec.optimal_return, spec.memoryless_return),
        "sweep_key": spec.sweep_key, "sweep_value": spec.sweep_value, "sweep_group": spec.sweep_group,
        "spec": {**spec.identity(), "run_id": spec.run_id},
        "curve": _curve(recorder.episodes, spec.steps, spec.curve_points),
        "eval_curve": {key: [p[name] for p in periodic.points]
                       for key, name in (("steps", "steps"), ("returns", "return"), ("success", "success"))},
        "resumed_at": resumed_at,
    }
    return {"run_id": spec.run_id, "row": row, "files": files}


def _safe_execute(spec: RunSpec, progress: ProgressFn | None, checkpoint_dir: Path | None = None) -> dict[str, Any]:
    """:func:`execute` that turns a failure into a payload (one broken run must not stop a sweep)."""
    try:
        return execute(spec, progress, checkpoint_dir)
    except Exception:
        return {"run_id": spec.run_id, "error": traceback.format_exc()}
