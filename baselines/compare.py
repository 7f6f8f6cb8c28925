"""``memenvs compare``: train baselines on memory envs over seeds, locally or on a Ray cluster, and report.

Example (the same as ``memenvs compare`` with no arguments)::

    from memenvs.baselines.compare import compare

    result = compare()                      # passive T-maze + small RandomMaze; mlp, lstm, gru, iam; 2 seeds
    result = compare(envs=["memenvs/TMaze-v0:variant=passive"], baselines=["mlp", "lstm"],
                     sweep="length=10,20,50", steps=50_000, out="tmaze_sweep")

Each (env, kwargs, baseline, seed) is one *run*: build the model with :func:`memenvs.baselines.api.make_model`,
train it for ``steps`` env steps (TensorBoard logs and a learning curve on the way), evaluate the final policy
with :func:`memenvs.baselines.api.evaluate`, save it. A run's whole output (row, curve, TensorBoard files, model)
comes back to the driver as one payload, which writes ``runs/<run_id>/`` and, last, ``runs/<run_id>/result.json``.
That file marks the run done: an interrupted sweep keeps every finished run, and rerunning the same command skips
them. Runs execute in a local process pool (``backend="local"``) or as Ray tasks (``backend="ray"``); since the
payload travels back to the driver, both write the same files and Ray workers need no shared file system.

Outputs in ``out``: ``runs.csv``/``runs.json`` (one row per run), ``summary.md``/``summary.json`` (mean ± SE over
seeds per env x baseline, with the memory score), ``curves.png``, ``sweep.md``/``sweep.png`` with ``sweep``,
``config.json`` (the exact configuration, the command that reruns it and package versions) and ``runs/``.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import math
import multiprocessing as mp
import os
import platform
import re
import shlex
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

from memenvs.baselines import report
from memenvs.baselines.hyperparams import BASELINES, resolve

#: The no-argument comparison: memory matters on both envs (the memoryless MLP is capped at success 0.5 on the
#: passive T-maze), and it finishes in a few minutes on a 2-core laptop.
DEFAULT_ENVS: tuple[str, ...] = ("memenvs/TMaze-v0:variant=passive,length=8", "memenvs/RandomMaze-v0:size=3")
DEFAULT_BASELINES: tuple[str, ...] = ("mlp", "lstm", "gru", "iam")
DEFAULT_SEEDS: tuple[int, ...] = (0, 1)
DEFAULT_STEPS = 24_000
DEFAULT_N_ENVS = 16
DEFAULT_EVAL_EPISODES = 100
DEFAULT_OUT = "memenvs_compare"
DEFAULT_CURVE_POINTS = 20
#: Evaluation episodes are seeded with ``EVAL_SEED_OFFSET + seed``, away from the training seeds.
EVAL_SEED_OFFSET = 10_000
BACKENDS = ("local", "ray")

ProgressFn = Callable[[str, int, int], None]


class CompareError(ValueError):
    """Bad arguments to a comparison, raised before any training starts."""


# ----------------------------------------------------------------------------- parsing
def _literal(raw: str) -> Any:
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside brackets or quotes (so ``sizes=[1,2]`` stays one pair)."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_env(text: str) -> tuple[str, dict[str, Any]]:
    """``"memenvs/TMaze-v0:variant=passive,length=20"`` -> ``("memenvs/TMaze-v0", {"variant": "passive",
    "length": 20})``. Values are Python literals where they parse, strings otherwise."""
    env_id, sep, rest = text.strip().partition(":")
    if not env_id:
        raise CompareError(f"empty env id in {text!r}; expected ID or ID:KEY=VALUE,KEY=VALUE")
    kwargs: dict[str, Any] = {}
    if sep and rest.strip():
        for pair in _split_top(rest):
            key, eq, raw = pair.partition("=")
            if not eq or not key.strip() or not key.strip().isidentifier() or not raw.strip():
                raise CompareError(
                    f"malformed env kwargs in {text!r}: {pair!r} is not KEY=VALUE "
                    "(expected ID:KEY=VALUE,KEY=VALUE, e.g. memenvs/TMaze-v0:variant=passive,length=20)"
                )
            kwargs[key.strip()] = _literal(raw.strip())
    elif sep:
        raise CompareError(f"malformed env {text!r}: nothing after ':' (expected ID:KEY=VALUE,...)")
    return env_id, kwargs


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """``"length=10,20,50"`` -> ``("length", [10, 20, 50])``."""
    key, eq, raw = text.partition("=")
    values = [_literal(v.strip()) for v in _split_top(raw)] if raw.strip() else []
    if not eq or not key.strip().isidentifier() or not values or any(v == "" for v in values):
        raise CompareError(f"malformed --sweep {text!r}: expected KEY=V1,V2,... (e.g. length=10,20,50,100)")
    return key.strip(), values


def parse_overrides(overrides: str | dict[str, Any] | None) -> dict[str, Any]:
    """Algorithm keyword arguments for every run: ``"n_steps=128,learning_rate=1e-3"`` or a dict."""
    if not overrides:
        return {}
    if isinstance(overrides, dict):
        return dict(overrides)
    return parse_env("overrides:" + overrides)[1]


def _check_overrides(baseline: str, overrides: dict[str, Any]) -> None:
    import inspect

    from memenvs.baselines import api

    algo = api.ALGORITHMS[resolve(baseline, "").algorithm]
    allowed = set(inspect.signature(algo.__init__).parameters) - {"self", "policy", "env", "policy_kwargs", "seed",
                                                                  "tensorboard_log", "device"}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise CompareError(f"unknown override(s) {unknown} for {baseline} ({algo.__name__}); allowed: "
                           f"{', '.join(sorted(allowed))}")


def _fmt_value(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)


def env_label(env_id: str, kwargs: dict[str, Any]) -> str:
    """The inverse of :func:`parse_env`: ``ID`` or ``ID:KEY=VALUE,...``."""
    if not kwargs:
        return env_id
    return env_id + ":" + ",".join(f"{k}={_fmt_value(v)}" for k, v in kwargs.items())


# ----------------------------------------------------------------------------- runs
@dataclasses.dataclass
class RunSpec:
    """One run: train ``baseline`` on ``env_id(**env_kwargs)`` with ``seed`` for ``steps`` env steps.

    ``policy_kwargs`` holds what the runner adds to the baseline's defaults (IAM's learned d-set on envs that
    publish none). ``optimal_return``/``memoryless_return`` are the env's analytic bounds (``None`` if unknown).
    """

    env_id: str
    env_kwargs: dict[str, Any]
    baseline: str
    seed: int
    steps: int
    n_envs: int
    eval_episodes: int
    curve_points: int = DEFAULT_CURVE_POINTS
    policy_kwargs: dict[str, Any] | None = None
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    sweep_key: str | None = None
    sweep_value: Any = None
    sweep_group: str | None = None
    optimal_return: float | None = None
    memoryless_return: float | None = None

    @property
    def label(self) -> str:
        return env_label(self.env_id, self.env_kwargs)

    def identity(self) -> dict[str, Any]:
        """Everything that decides the run's outcome (what :attr:`run_id` hashes)."""
        return {
            "env_id": self.env_id, "env_kwargs": self.env_kwargs, "baseline": self.baseline, "seed": self.seed,
            "steps": self.steps, "n_envs": self.n_envs, "eval_episodes": self.eval_episodes,
            "curve_points": self.curve_points, "policy_kwargs": self.policy_kwargs, "overrides": self.overrides,
        }

    @property
    def run_id(self) -> str:
        digest = hashlib.sha1(json.dumps(self.identity(), sort_keys=True, default=repr).encode()).hexdigest()[:10]
        name = self.env_id.split("/")[-1]
        kw = "_".join(f"{k}-{_fmt_value(v)}" for k, v in self.env_kwargs.items())
        slug = re.sub(r"[^A-Za-z0-9._-]+", "", f"{name}_{kw}" if kw else name)[:60]
        return f"{slug}__{self.baseline}__s{self.seed}__{digest}"


def env_bounds(env_id: str, kwargs: dict[str, Any]) -> tuple[gym.Env, float | None, float | None]:
    """Build the env (so bad kwargs fail here) and read its analytic optimal and memoryless returns."""
    try:
        env = gym.make(env_id, **kwargs)
    except (TypeError, ValueError) as err:
        raise CompareError(f"env {env_label(env_id, kwargs)!r} rejects its kwargs: {err}") from err
    except (ImportError, gym.error.DependencyNotInstalled) as err:
        raise CompareError(f"env {env_id!r} cannot be built here: {err}") from err
    bounds = []
    for name in ("optimal_return", "memoryless_return"):
        fn = getattr(env.unwrapped, name, None) or getattr(getattr(env.unwrapped, "core", None), name, None)
        value = fn() if callable(fn) else None
        bounds.append(None if value is None or not math.isfinite(value) else float(value))
    return env, bounds[0], bounds[1]


def _iam_policy_kwargs(env: gym.Env, env_id: str, kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """IAM reads its d-set from the env; for envs that publish none, a learned linear d-set of at most 8 inputs."""
    from memenvs.baselines.api import env_dset

    record = resolve("iam", env_id)
    core_kwargs = record.policy_kwargs.get("core_kwargs") or {}
    if core_kwargs.get("dset", "manual") != "manual" or core_kwargs.get("dset_indices") is not None:
        return None
    if env_dset(env_id, **kwargs) is not None:
        return None
    width = int(np.prod(env.observation_space.shape or (1,)))
    return {"core_kwargs": {"dset": "learned", "dset_size": min(8, width)}}


def plan(
    envs: Sequence[str] | None = None,
    baselines: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    steps: int = DEFAULT_STEPS,
    n_envs: int = DEFAULT_N_ENVS,
    eval_episodes: int = DEFAULT_EVAL_EPISODES,
    sweep: str | None = None,
    curve_points: int = DEFAULT_CURVE_POINTS,
    overrides: str | dict[str, Any] | None = None,
) -> list[RunSpec]:
    """Check every argument and expand them into runs (env-major, then sweep value, baseline, seed).

    Raises :class:`CompareError` (a ``ValueError``) naming the bad argument before anything is trained: unknown
    baseline or env id, malformed kwargs or sweep, kwargs the env rejects, non-positive sizes.
    """
    import memenvs  # noqa: F401  (registers the ids)

    envs = list(DEFAULT_ENVS if envs is None else envs)
    baselines = list(DEFAULT_BASELINES if baselines is None else baselines)
    seeds = list(DEFAULT_SEEDS if seeds is None else seeds)
    for name, value, low in (("steps", steps, 1), ("n_envs", n_envs, 1), ("eval_episodes", eval_episodes, 1),
                             ("curve_points", curve_points, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise CompareError(f"{name} must be an integer >= {low}, got {value!r}")
    if not envs:
        raise CompareError("envs is empty; give at least one env id")
    if not baselines:
        raise CompareError(f"baselines is empty; known: {', '.join(BASELINES)}")
    if not seeds:
        raise CompareError("seeds is empty; give at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise CompareError(f"seeds must be integers >= 0, got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise CompareError(f"seeds must be distinct, got {list(seeds)}")
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise CompareError(f"unknown baseline(s) {', '.join(map(repr, unknown))}; known: {', '.join(BASELINES)}")
    sweep_key, sweep_values = parse_sweep(sweep) if sweep else (None, [None])
    overrides = parse_overrides(overrides)
    for baseline in baselines:
        _check_overrides(baseline, overrides)

    runs: list[RunSpec] = []
    for text in envs:
        env_id, base_kwargs = parse_env(text)
        if env_id not in gym.registry:
            known = ", ".join(sorted(i for i in gym.registry if i.startswith("memenvs/")))
            raise CompareError(f"unknown env id {env_id!r}; known memenvs ids: {known}")
        group = env_label(env_id, {k: v for k, v in base_kwargs.items() if k != sweep_key})
        for value in sweep_values:
            kwargs = dict(base_kwargs)
            if sweep_key is not None:
                kwargs[sweep_key] = value
            env, optimal, memoryless = env_bounds(env_id, kwargs)
            try:
                image = (isinstance(env.observation_space, gym.spaces.Box) and env.observation_space.dtype == np.uint8
                         and len(env.observation_space.shape) in (2, 3))
                iam_kwargs = _iam_policy_kwargs(env, env_id, kwargs) if "iam" in baselines else None
            finally:
                env.close()
            for baseline in baselines:
                if image and resolve(baseline, env_id).policy == "MlpPolicy":
                    raise CompareError(f"baseline {baseline!r} has an MLP policy but {env_id} has image observations")
                for seed in seeds:
                    runs.append(RunSpec(
                        env_id=env_id, env_kwargs=kwargs, baseline=baseline, seed=int(seed), steps=int(steps),
                        n_envs=int(n_envs), eval_episodes=int(eval_episodes), curve_points=int(curve_points),
                        policy_kwargs=iam_kwargs if baseline == "iam" else None, overrides=overrides,
                        sweep_key=sweep_key,
                        sweep_value=value, sweep_group=group if sweep_key else None,
                        optimal_return=optimal, memoryless_return=memoryless,
                    ))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise CompareError("the same (env, kwargs, baseline, seed) appears twice; remove the duplicate env")
    return runs


# ----------------------------------------------------------------------------- one run (runs in a worker)
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


def execute(spec: RunSpec, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Train and evaluate one run; returns its payload: ``row`` (the result row, with ``curve``) and ``files``
    (relative path -> bytes: the TensorBoard event files and ``model.zip``). Writes nothing outside a temporary
    directory, so it can run on any Ray node."""
    import torch as th
    from stable_baselines3.common.callbacks import BaseCallback

    from memenvs.baselines.api import evaluate, make_model

    class Recorder(BaseCallback):
        """Collects (step, return, success) of every finished training episode; reports progress."""

        def __init__(self) -> None:
            super().__init__()
            self.episodes: list[tuple[int, float, float]] = []
            self.last = 0.0
            self.window: list[float] = []

        def _on_step(self) -> bool:
            dones, infos, rewards = self.locals["dones"], self.locals["infos"], self.locals["rewards"]
            for i in np.flatnonzero(dones):
                ep = infos[i].get("episode")
                if ep is not None:
                    ok = float(not infos[i].get("TimeLimit.truncated", False) and rewards[i] > 0)
                    self.episodes.append((self.num_timesteps, float(ep["r"]), ok))
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
            model.learn(spec.steps, callback=recorder, tb_log_name="tb")
            train_s = time.perf_counter() - start
            model.logger.close()
            result = evaluate(model, n_episodes=spec.eval_episodes, seed=EVAL_SEED_OFFSET + spec.seed)
            model.save(Path(tmp) / "model.zip")
            wall_s = time.perf_counter() - start
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
    row = {
        "run_id": spec.run_id, "env": spec.env_id, "kwargs": json.dumps(spec.env_kwargs), "label": spec.label,
        "baseline": spec.baseline, "seed": spec.seed, "steps": int(model.num_timesteps), "n_envs": spec.n_envs,
        "eval_episodes": result.n_episodes, "wall_s": round(wall_s, 2), "train_s": round(train_s, 2),
        "env_steps_per_s": round(model.num_timesteps / max(train_s, 1e-9), 1),
        "final_return": result.mean_return, "return_se": result.return_se,
        "success_rate": result.success_rate, "success_se": result.success_se,
        "optimal_return": spec.optimal_return, "memoryless_return": spec.memoryless_return,
        "memory_score": report.memory_score(result.mean_return, spec.optimal_return, spec.memoryless_return),
        "sweep_key": spec.sweep_key, "sweep_value": spec.sweep_value, "sweep_group": spec.sweep_group,
        "spec": {**spec.identity(), "run_id": spec.run_id},
        "curve": _curve(recorder.episodes, spec.steps, spec.curve_points),
    }
    return {"run_id": spec.run_id, "row": row, "files": files}


def _safe_execute(spec: RunSpec, progress: ProgressFn | None) -> dict[str, Any]:
    """:func:`execute` that turns a failure into a payload (one broken run must not stop a sweep)."""
    try:
        return execute(spec, progress)
    except Exception:
        return {"run_id": spec.run_id, "error": traceback.format_exc()}


# ----------------------------------------------------------------------------- storage
def _run_dir(out: Path, run_id: str) -> Path:
    return out / "runs" / run_id


def store(out: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """Write a finished run's files, then its ``result.json`` (written last, atomically: it marks the run done)."""
    folder = _run_dir(out, payload["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in payload["files"].items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    tmp = folder / "result.json.tmp"
    tmp.write_text(json.dumps(report._plain(payload["row"]), indent=1))
    os.replace(tmp, folder / "result.json")
    return payload["row"]


def load_done(out: Path, runs: Sequence[RunSpec]) -> dict[str, dict[str, Any]]:
    """Rows of the runs of ``runs`` that already have a ``result.json`` in ``out``."""
    done = {}
    for spec in runs:
        path = _run_dir(out, spec.run_id) / "result.json"
        if path.is_file():
            try:
                row = json.loads(path.read_text())
            except json.JSONDecodeError:
                continue  # a torn file from a crash: the run is simply redone
            for key in ("final_return", "return_se", "success_rate", "success_se", "memory_score"):
                if row.get(key) is None:
                    row[key] = math.nan
            done[spec.run_id] = row
    return done


# ----------------------------------------------------------------------------- progress display
class _Display:
    """Rich progress bars: one for the whole sweep, one per running run."""

    def __init__(self, total: int, done: int, quiet: bool, console: Any = None) -> None:
        self.tasks: dict[str, Any] = {}
        self.progress = None
        if quiet:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        )
        self.progress.start()
        self.sweep = self.progress.add_task("[bold]all runs", total=total, completed=done)

    def update(self, run_id: str, steps: int, total: int) -> None:
        if self.progress is None:
            return
        if run_id not in self.tasks:
            self.tasks[run_id] = self.progress.add_task(f"  {run_id.rsplit('__', 1)[0]}", total=total)
        self.progress.update(self.tasks[run_id], completed=min(steps, total))

    def finish(self, run_id: str) -> None:
        if self.progress is None:
            return
        task = self.tasks.pop(run_id, None)
        if task is not None:
            self.progress.remove_task(task)
        self.progress.advance(self.sweep)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


# ----------------------------------------------------------------------------- backends
_QUEUE: Any = None


def _init_worker(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and terminates the pool


def _queue_progress(run_id: str, steps: int, total: int) -> None:
    _QUEUE.put((run_id, steps, total))


def _pool_task(spec: RunSpec) -> dict[str, Any]:
    return _safe_execute(spec, _queue_progress)


def _run_inline(todo: Sequence[RunSpec], display: _Display, on_done: Callable[[dict], None]) -> None:
    for spec in todo:
        on_done(_safe_execute(spec, display.update))


def _run_pool(todo: Sequence[RunSpec], workers: int, display: _Display, on_done: Callable[[dict], None]) -> None:
    """A spawn-context process pool (a fresh interpreter per worker: no forked torch state)."""
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    pool = ctx.Pool(workers, initializer=_init_worker, initargs=(queue,))
    try:
        pending = {spec.run_id: pool.apply_async(_pool_task, (spec,)) for spec in todo}
        while pending:
            try:
                msg = queue.get(timeout=0.2)
                while True:
                    display.update(*msg)
                    msg = queue.get_nowait()
            except queue_mod.Empty:
                pass
            for run_id in [r for r, res in pending.items() if res.ready()]:
                on_done(pending.pop(run_id).get())
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _ray_task(spec: RunSpec, queue: Any) -> dict[str, Any]:
    def progress(run_id: str, steps: int, total: int) -> None:
        try:
            queue.put_nowait((run_id, steps, total))
        except Exception:
            pass  # progress is cosmetic; never fail a run over it

    return _safe_execute(spec, progress)


def _run_ray(todo: Sequence[RunSpec], address: str | None, display: _Display, on_done: Callable[[dict], None],
             ray_init_kwargs: dict[str, Any] | None) -> None:
    """Each run a Ray task (1 CPU); payloads come back to this driver, which writes them."""
    import ray
    from ray.util.queue import Queue

    started = False
    if not ray.is_initialized():
        ray.init(address=address, **(ray_init_kwargs or {}))
        started = True
    queue = Queue()
    task = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
    refs = {task.remote(spec, queue): spec for spec in todo}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0.3)
            for msg in queue.get_nowait_batch(queue.qsize()) if queue.qsize() else []:
                display.update(*msg)
            for ref in ready:
                refs.pop(ref)
                on_done(ray.get(ref))
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)
        queue.shutdown()
        if started:
            ray.shutdown()


# ----------------------------------------------------------------------------- the comparison
@dataclasses.dataclass
class CompareResult:
    """What :func:`compare` did: the rows of finished runs (plan order), the summary, the files written, the
    runs skipped because they were already done, failures (run id -> traceback) and whether it was interrupted."""

    rows: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    paths: dict[str, Path]
    skipped: list[str]
    failures: dict[str, str]
    interrupted: bool
    total: int


def versions() -> dict[str, str]:
    """Versions of everything that decides the numbers, plus the machine."""
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": str(os.cpu_count())}
    for dist in ("memenvs", "numpy", "gymnasium", "torch", "stable-baselines3", "sb3-contrib", "ray", "rich",
                 "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def command_line(config: dict[str, Any]) -> str:
    """The ``memenvs compare`` command that reproduces ``config`` (and resumes it in the same ``--out``)."""
    parts = ["memenvs", "compare", "--envs", *config["envs"], "--baselines", *config["baselines"],
             "--seeds", *map(str, config["seeds"]), "--steps", str(config["steps"]),
             "--n-envs", str(config["n_envs"]), "--eval-episodes", str(config["eval_episodes"]),
             "--out", str(config["out"])]
    if config.get("sweep"):
        parts += ["--sweep", config["sweep"]]
    if config.get("overrides"):
        parts += ["--overrides", ",".join(f"{k}={_fmt_value(v)}" for k, v in config["overrides"].items())]
    if config.get("curve_points") != DEFAULT_CURVE_POINTS:
        parts += ["--curve-points", str(config["curve_points"])]
    return shlex.join(parts)


def compare(
    envs: Sequence[str] | None = None,
    baselines: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    steps: int = DEFAULT_STEPS,
    n_envs: int = DEFAULT_N_ENVS,
    eval_episodes: int = DEFAULT_EVAL_EPISODES,
    out: str | Path = DEFAULT_OUT,
    workers: int | None = None,
    backend: str = "local",
    address: str | None = None,
    sweep: str | None = None,
    curve_points: int = DEFAULT_CURVE_POINTS,
    quiet: bool = False,
    console: Any = None,
    ray_init_kwargs: dict[str, Any] | None = None,
    title: str | None = None,
    overrides: str | dict[str, Any] | None = None,
) -> CompareResult:
    """Run (or resume) a comparison and write its outputs to ``out``; see the module docstring.

    Args:
        envs: env specs ``ID`` or ``ID:KEY=VALUE,...`` (default :data:`DEFAULT_ENVS`).
        baselines: names from :data:`memenvs.baselines.hyperparams.BASELINES` (default mlp, lstm, gru, iam).
        seeds: training seeds (default 0, 1); evaluation uses ``EVAL_SEED_OFFSET + seed``.
        steps: env steps per run. n_envs: env copies per run. eval_episodes: episodes of the final evaluation.
        out: output folder; runs already finished there are skipped.
        workers: local processes (default ``min(os.cpu_count(), runs to do)``; 1 runs in this process).
        backend: ``"local"`` or ``"ray"``. address: Ray cluster address (default: ``RAY_ADDRESS`` or a new local
            instance; ignored if Ray is already initialised). ray_init_kwargs: extra ``ray.init`` arguments,
            e.g. ``{"runtime_env": {...}}``.
        sweep: ``KEY=V1,V2,...``: every env is run at each value of that kwarg.
        curve_points: points per learning curve. quiet: no progress bars or table. console: a ``rich`` Console.
        overrides: algorithm kwargs for every run, e.g. ``"n_steps=128"`` (replacing the family defaults).

    Raises :class:`CompareError` for bad arguments before training. On Ctrl-C, finished runs are kept and reported
    and the result has ``interrupted=True``.
    """
    if backend not in BACKENDS:
        raise CompareError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise CompareError(f"workers must be an integer >= 1, got {workers!r}")
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise CompareError('backend "ray" needs Ray: pip install "memenvs[ray]"') from None
    runs = plan(envs, baselines, seeds, steps, n_envs, eval_episodes, sweep, curve_points, overrides)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config = {
        "envs": list(DEFAULT_ENVS if envs is None else envs),
        "baselines": list(DEFAULT_BASELINES if baselines is None else baselines),
        "seeds": [int(s) for s in (DEFAULT_SEEDS if seeds is None else seeds)], "steps": steps, "n_envs": n_envs,
        "eval_episodes": eval_episodes, "sweep": sweep, "curve_points": curve_points, "out": str(out),
        "backend": backend, "address": address, "overrides": parse_overrides(overrides),
    }
    (out / "config.json").write_text(json.dumps(report._plain({
        "command": command_line(config), "argv": sys.argv, "config": config, "versions": versions(),
        "eval_seed_offset": EVAL_SEED_OFFSET, "runs": [{**r.identity(), "run_id": r.run_id} for r in runs],
    }), indent=1))

    done = load_done(out, runs)
    skipped = list(done)
    todo = [r for r in runs if r.run_id not in done]
    n_workers = workers if workers is not None else max(1, min(os.cpu_count() or 1, len(todo)))
    failures: dict[str, str] = {}
    display = _Display(len(runs), len(done), quiet, console)

    def on_done(payload: dict[str, Any]) -> None:
        if "error" in payload:
            failures[payload["run_id"]] = payload["error"]
        else:
            done[payload["run_id"]] = store(out, payload)
        display.finish(payload["run_id"])

    interrupted = False
    try:
        if not todo:
            pass
        elif backend == "ray":
            _run_ray(todo, address, display, on_done, ray_init_kwargs)
        elif n_workers == 1:
            _run_inline(todo, display, on_done)
        else:
            _run_pool(todo, min(n_workers, len(todo)), display, on_done)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        display.close()

    rows = [done[r.run_id] for r in runs if r.run_id in done]
    paths = report.write_all(rows, out, title or "memenvs compare") if rows else {}
    summary = report.summarize(rows)
    if not quiet:
        _print_report(console, rows, summary, paths, failures, interrupted, len(runs), len(skipped), config)
    return CompareResult(rows, summary, paths, skipped, failures, interrupted, len(runs))


def _print_report(console: Any, rows: list, summary: list, paths: dict, failures: dict, interrupted: bool,
                  total: int, skipped: int, config: dict) -> None:
    from rich.console import Console

    console = console or Console()
    if summary:
        console.print(report.rich_table(summary))
        console.print("Mean ± SE over seeds of the final policy (deterministic evaluation). " + report.NO_BOUND_NOTE)
        for line in report.bounds_line(summary):
            console.print(f"  bounds: {line}")
        sweep = report.sweep_summary(rows)
        if sweep:
            console.print(report.sweep_markdown(sweep))
    if skipped:
        console.print(f"{skipped} run(s) were already done in {config['out']} and were skipped (resumed).")
    for run_id, err in failures.items():
        console.print(f"[red]run {run_id} failed:[/red]\n{err.strip().splitlines()[-1]}")
    if interrupted:
        console.print(f"[yellow]interrupted: {len(rows)} of {total} runs are finished and kept; rerun the same "
                      "command to resume.[/yellow]")
    if paths:
        console.print("wrote " + ", ".join(str(p) for p in paths.values()))


# ----------------------------------------------------------------------------- rendering a saved model
def load_model(path: str | Path) -> Any:
    """Load an SB3 model saved by a comparison (``runs/<run_id>/model.zip``) or by ``model.save``, whatever its
    algorithm: the class comes from the saved policy (recurrent -> ``RecurrentPPO``), else each known algorithm
    is tried in turn."""
    from memenvs.baselines import api

    path = Path(path)
    if not path.is_file():
        raise CompareError(f"no model file at {str(path)!r}")
    errors = []
    for name, cls in _algorithm_order(path, api.ALGORITHMS):
        try:
            return cls.load(path, device="cpu")
        except Exception as err:  # a mismatched class fails somewhere inside SB3's loader; try the next
            errors.append(f"{name}: {err}")
    raise CompareError(f"cannot load {str(path)!r} with any known algorithm ({'; '.join(errors)})")


def _algorithm_order(path: Path, algorithms: dict[str, type]) -> list[tuple[str, type]]:
    from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
    from stable_baselines3.common.save_util import load_from_zip_file

    data, _, _ = load_from_zip_file(path, device="cpu", load_data=True)
    data = data or {}
    policy_class = data.get("policy_class")
    recurrent = isinstance(policy_class, type) and issubclass(policy_class, RecurrentActorCriticPolicy)
    feed_forward_first = "PPO" if "clip_range" in data else "A2C"  # A2C saves no clip range

    def rank(item: tuple[str, type]) -> tuple[int, int]:
        from sb3_contrib import RecurrentPPO

        name, cls = item
        return (0 if issubclass(cls, RecurrentPPO) == recurrent else 1, 0 if name == feed_forward_first else 1)

    return sorted(algorithms.items(), key=rank)


class _Tap(gym.Wrapper):
    """Remembers the last step's reward and info so a policy that only sees observations can feed them on."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.last: tuple[float, dict[str, Any]] = (0.0, {})

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.last = (float(reward), info)
        return obs, reward, terminated, truncated, info


class ModelPolicy:
    """A saved model as a ``policy(obs) -> action`` for :func:`memenvs.video.record_episodes`.

    The model's own observation wrappers (frame stack, oracle, previous action/reward, ...) are the SB3 VecEnv
    wrappers it trained with, applied to a one-copy VecEnv that replays what the real env just returned; the
    recurrent state is carried between steps and cleared by :meth:`reset` (``on_episode_start``).
    """

    def __init__(self, model: Any, env: _Tap, deterministic: bool = True) -> None:
        from stable_baselines3.common.vec_env import VecEnv

        from memenvs.baselines.features import apply_wrappers

        self.model, self.env, self.deterministic = model, env, deterministic
        outer = self

        class Replay(VecEnv):
            """One copy whose reset/step return what the real env returned (the step already happened)."""

            def __init__(self) -> None:
                super().__init__(1, env.observation_space, env.action_space)

            def reset(self) -> np.ndarray:
                return outer.obs[None]

            def step_async(self, actions: np.ndarray) -> None:
                pass

            def step_wait(self) -> Any:
                reward, info = env.last
                return outer.obs[None], np.array([reward], dtype=np.float32), np.array([False]), [dict(info)]

            def close(self) -> None:
                pass

            def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
                return [getattr(env.unwrapped, attr_name)]

            def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
                setattr(env.unwrapped, attr_name, value)

            def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
                return [getattr(env.unwrapped, method_name)(*args, **kwargs)]

            def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
                return [False]

            def seed(self, seed: int | None = None) -> list[Any]:
                return [None]

        spec = getattr(model, "memenvs_spec", None) or {}
        wrappers = [(name, dict(kw)) for name, kw in spec.get("wrappers", [])]
        space = env.observation_space
        if isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 2:
            wrappers.insert(0, ("add_channel", {}))  # as api.make_vec does for 2-D images
        self.obs = np.zeros(space.shape, dtype=space.dtype)
        self.venv = apply_wrappers(Replay(), wrappers)
        self.reset()

    def reset(self) -> None:
        """A new episode: clear the recurrent state and the wrappers' memory."""
        self.state: Any = None
        self.action: Any = None

    def __call__(self, obs: Any) -> Any:
        self.obs = np.asarray(obs)
        if self.action is None:
            x = self.venv.reset()
            start = np.array([True])
        else:
            self.venv.step_async(np.asarray([self.action]))
            x = self.venv.step_wait()[0]
            start = np.array([False])
        actions, self.state = self.model.predict(x, state=self.state, episode_start=start,
                                                 deterministic=self.deterministic)
        self.action = actions[0]
        return self.action.item() if np.ndim(self.action) == 0 else self.action


def render_model(
    model_path: str | Path, env_id: str | None = None, env_kwargs: dict[str, Any] | None = None, episodes: int = 1,
    seed: int = 0, max_frames: int = 2000, deterministic: bool = True,
) -> tuple[list[np.ndarray], list[float], gym.Env]:
    """Frames and returns of ``episodes`` episodes of a saved model (env id and kwargs default to the model's).

    Returns the env too (closed), for its ``metadata``.
    """
    from memenvs.video import record_episodes

    import memenvs  # noqa: F401

    model = load_model(model_path)
    spec = getattr(model, "memenvs_spec", None) or {}
    env_id = env_id or spec.get("env_id")
    if env_id is None:
        raise CompareError("the model does not say which env it was trained on; give the env id")
    if env_kwargs is None:
        env_kwargs = spec.get("env_kwargs", {}) if env_id == spec.get("env_id") else {}
    env = _Tap(gym.make(env_id, render_mode="rgb_array", **env_kwargs))
    try:
        policy = ModelPolicy(model, env, deterministic)
        frames, returns = record_episodes(env, episodes=episodes, seed=seed, policy=policy, max_frames=max_frames,
                                          on_episode_start=policy.reset)
    finally:
        env.close()
    return frames, returns, env
