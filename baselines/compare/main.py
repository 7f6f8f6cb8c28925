""":func:`compare`: plan the runs, skip those already done, run the rest on a backend, store each as it
finishes, then write the report (see :mod:`memenvs.baselines.compare` for the outputs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import socket
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from . import report
from .backends import BACKENDS, _run_inline, _run_pool, _run_ray
from .display import _Display, _print_report
from .parsing import CompareError, _fmt_value, parse_env, parse_overrides
from .planning import (
    DEFAULT_CURVE_POINTS, DEFAULT_ENVS, DEFAULT_N_ENVS, DEFAULT_OUT, DEFAULT_SEEDS, default_baselines, plan,
)
from .running import EVAL_SEED_OFFSET
from .storage import claim, claim_is_live, is_done, load_done, release, store


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
    named = config.get("baselines")  # None: each env's family defaults (different families, no shared list)
    parts = ["memenvs", "compare", "--envs", *config["envs"], *(["--baselines", *named] if named else []),
             "--seeds", *map(str, config["seeds"]),
             *(["--steps", str(config["steps"])] if config.get("steps") is not None else []),
             "--n-envs", str(config["n_envs"]),
             *(["--eval-episodes", str(config["eval_episodes"])] if config.get("eval_episodes") is not None else []),
             "--out", str(config["out"])]
    if config.get("sweep"):
        parts += ["--sweep", config["sweep"]]
    if config.get("overrides"):
        parts += ["--overrides", ",".join(f"{k}={_fmt_value(v)}" for k, v in config["overrides"].items())]
    if config.get("curve_points") != DEFAULT_CURVE_POINTS:
        parts += ["--curve-points", str(config["curve_points"])]
    return shlex.join(parts)


def _output_folder(out: Path) -> Path:
    """``out`` created if needed and checked to be a folder this process can write, before any run starts."""
    if out.exists() and not out.is_dir():
        raise CompareError(f"--out {str(out)!r} is a file; give a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".memenvs_write_test.{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except (FileExistsError, NotADirectoryError):
        raise CompareError(f"--out {str(out)!r} cannot be made: a part of the path is a file") from None
    except OSError as err:
        raise CompareError(f"--out {str(out)!r} is not a writable folder ({err.strerror or err})") from None
    return out


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """A Ray ``address`` (``host:port`` or ``ray://host:port``) that accepts connections; ``ray.init`` itself waits
    minutes on an unreachable one. ``None`` and ``"auto"`` (a local or already running instance) are not probed."""
    address = address or os.environ.get("RAY_ADDRESS")
    if not address or address in ("auto", "local"):
        return
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise CompareError(f"--address must be HOST:PORT, ray://HOST:PORT or auto, got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise CompareError(f"cannot reach the Ray cluster at --address {address!r}: {err.strerror or err}; "
                           "check the address and that the cluster is running") from None


def compare(
    envs: Sequence[str] | None = None,
    baselines: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    steps: int | None = None,
    n_envs: int = DEFAULT_N_ENVS,
    eval_episodes: int | None = None,
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
        baselines: names from :data:`memenvs.baselines.hyperparams.BASELINES` (default: each env's
            :func:`~memenvs.baselines.compare.planning.default_baselines`; the T-maze's are mlp_dqn, lstm_dqn and
            gru_dqn, other families' mlp, lstm, gru and iam).
        seeds: training seeds (default 0, 1); evaluation uses ``EVAL_SEED_OFFSET + seed``.
        steps: env steps per run (default: each baseline's budget for the env, see :func:`plan`). n_envs: env
            copies per run. eval_episodes: episodes of the final evaluation (default: the family's, see
            :func:`plan`, else :data:`DEFAULT_EVAL_EPISODES`).
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
    if backend == "ray":
        _check_reachable(address)
    out = _output_folder(Path(out))
    envs = list(DEFAULT_ENVS if envs is None else envs)
    if baselines is None:  # the families' defaults, written out when every env shares them
        defaults = {default_baselines(parse_env(text)[0]) for text in envs}
        baselines = list(defaults.pop()) if len(defaults) == 1 else None
    config = {
        "envs": envs,
        "baselines": None if baselines is None else list(baselines),
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
    failures: dict[str, str] = {}
    mine: set[str] = set()  # runs this invocation has claimed and not yet stored
    display = _Display(len(runs), len(done), quiet, console)

    def open_runs() -> list:
        return [r for r in runs if r.run_id not in done and r.run_id not in failures and not is_done(out, r.run_id)]

    def claimed(pending: list) -> Any:
        # Lazily, as the backend has a free slot: another invocation on this folder takes the runs not reached yet.
        for spec in pending:
            if claim(out, spec.run_id):
                mine.add(spec.run_id)
                yield spec

    def on_done(payload: dict[str, Any]) -> None:
        run_id = payload["run_id"]
        if "error" in payload:
            failures[run_id] = payload["error"]
        else:
            done[run_id] = store(out, payload)
        release(out, run_id)
        mine.discard(run_id)
        display.finish(run_id)

    interrupted = False
    waiting_said = False
    try:
        while True:
            pending = open_runs()
            if not pending:
                break
            n_workers = workers if workers is not None else max(1, min(os.cpu_count() or 1, len(pending)))
            if backend == "ray":
                _run_ray(claimed(pending), address, display, on_done, ray_init_kwargs)
            elif n_workers == 1:
                _run_inline(claimed(pending), display, on_done, out)
            else:
                _run_pool(claimed(pending), min(n_workers, len(pending)), display, on_done, out)
            held = open_runs()
            if held and all(claim_is_live(out, r.run_id) for r in held):
                # Another compare on this folder is training them: wait, so this summary has every run too.
                if not waiting_said:
                    display.note(f"waiting for {len(held)} run(s) that another compare on {out} is training")
                    waiting_said = True
                time.sleep(1.0)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for run_id in list(mine):  # interrupted mid-run: let a rerun or another invocation take them
            release(out, run_id)
        display.close()

    done = load_done(out, runs)  # every finished run in the folder, whichever invocation trained it
    rows = [done[r.run_id] for r in runs if r.run_id in done]
    paths = report.write_all(rows, out, title or "memenvs compare", command=command_line(config)) if rows else {}
    summary = report.summarize(rows)
    if not quiet:
        _print_report(console, rows, summary, paths, failures, interrupted, len(runs), len(skipped), config)
    return CompareResult(rows, summary, paths, skipped, failures, interrupted, len(runs))
