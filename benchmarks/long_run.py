"""Long runs: memory stays flat over millions of vector steps, and rendering leaks nothing over many resets.

Not a unit test: a script that prints figures (and optionally writes them as Markdown) for the hardening report.

For every id with a native vector env it

1. steps ``--steps`` env-steps (default 10 million) with ``--num-envs`` copies (default 1024) on pregenerated random
   actions, and reads the process's resident memory (RSS, from ``/proc/self/statm``) after a warm-up of
   ``--warmup`` batched steps and at the end; the growth must stay under ``--max-growth-mib``;
2. does ``--resets`` resets (default 1,000) of a single env in ``rgb_array`` mode, rendering after each, and reports
   RSS growth, live pygame surfaces (counted with ``gc``) and open ``human`` windows before and after;
3. opens and closes a ``human`` window (SDL's dummy driver) ``--windows`` times and checks none is left open.

Usage::

    python benchmarks/long_run.py                       # everything, the default sizes
    python benchmarks/long_run.py --steps 1e6 --ids memenvs/TMaze-v0 --out docs/results/hardening_long_run.md

Exit status 1 if any memory bound or leak check fails.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # human windows off-screen: a server has no display
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

import memenvs  # noqa: E402, F401  (registers the ids)
from memenvs import bench  # noqa: E402
from memenvs.envs.rendering import Renderer  # noqa: E402
from memenvs.registration import ENVS  # noqa: E402

MIB = 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """Resident set size of this process in MiB, now (not the peak)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / MIB


def live_surfaces() -> int:
    import pygame

    gc.collect()
    return sum(isinstance(o, pygame.Surface) for o in gc.get_objects())


def vector_run(env_id: str, num_envs: int, steps: int, warmup: int) -> dict[str, Any]:
    """``steps`` env-steps on ``num_envs`` copies; RSS after ``warmup`` batched steps and at the end."""
    envs = gym.make_vec(env_id, num_envs=num_envs)
    rng = np.random.default_rng(0)
    actions = rng.integers(envs.single_action_space.n, size=(64, num_envs))
    envs.reset(seed=0)
    for i in range(warmup):
        envs.step(actions[i % 64])
    gc.collect()
    start = rss_mib()

    def chunk() -> int:
        for a in actions:
            envs.step(a)
        return len(actions) * num_envs

    rate, elapsed = bench.timed_steps(chunk, steps)
    gc.collect()
    end = rss_mib()
    envs.close()
    return {
        "env_steps": round(rate * elapsed),
        "seconds": elapsed,
        "steps_per_s": rate,
        "rss_start_mib": start,
        "rss_end_mib": end,
        "growth_mib": end - start,
    }


def render_resets(env_id: str, resets: int) -> dict[str, Any]:
    """``resets`` resets of one ``rgb_array`` env, each followed by a render (and a step and a render)."""
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.render()
    gc.collect()
    start, surfaces_start, windows_start = rss_mib(), live_surfaces(), Renderer._open_windows
    t0 = time.perf_counter()
    for i in range(resets):
        env.reset(seed=i)
        env.render()
        env.step(int(env.action_space.sample()))
        env.render()
    elapsed = time.perf_counter() - t0
    gc.collect()
    result = {
        "resets": resets,
        "seconds": elapsed,
        "rss_start_mib": start,
        "rss_end_mib": rss_mib(),
        "surfaces_start": surfaces_start,
        "surfaces_end": live_surfaces(),
        "windows_start": windows_start,
        "windows_end": Renderer._open_windows,
    }
    env.close()
    result["growth_mib"] = result["rss_end_mib"] - start
    return result


def window_cycles(env_id: str, cycles: int) -> dict[str, Any]:
    """Open a ``human`` window (reset renders) and close it, ``cycles`` times."""
    import pygame

    gc.collect()
    start = rss_mib()
    for i in range(cycles):
        env = gym.make(env_id, render_mode="human")
        env.reset(seed=i)
        env.step(0)
        env.close()
        env.close()
    gc.collect()
    return {
        "cycles": cycles,
        "rss_start_mib": start,
        "rss_end_mib": rss_mib(),
        "windows_open_after": Renderer._open_windows,
        "display_up_after": pygame.display.get_init(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=float, default=10e6, help="env-steps per id in the vector run")
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--warmup", type=int, default=2000, help="batched steps before the first RSS reading")
    parser.add_argument("--resets", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--max-growth-mib", type=float, default=8.0, help="allowed RSS growth per run")
    parser.add_argument("--ids", nargs="*", help="ids to run (default: every id with a native vector env)")
    parser.add_argument("--out", help="also write the report (Markdown) to this file")
    args = parser.parse_args(argv)
    ids = args.ids or [e.id for e in ENVS if e.vector_entry_point is not None]
    lines: list[str] = []
    failures: list[str] = []

    def emit(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    emit("## Machine")
    emit()
    for key, value in {**bench.machine_info(), "os": platform.platform()}.items():
        emit(f"- {key}: {value}")
    emit(f"- load average before: {' '.join(map(str, bench.load_average()))}")
    import pygame

    emit(f"- pygame-ce: {pygame.version.ver} (SDL {'.'.join(map(str, pygame.get_sdl_version()))}), "
         f"video driver {os.environ.get('SDL_VIDEODRIVER')}")
    emit()
    emit(f"## Vector runs: {args.steps:.3g} env-steps per id, {args.num_envs} copies, RSS after "
         f"{args.warmup} warm-up batches and at the end")
    emit()
    emit("| id | env-steps | seconds | env-steps/s | RSS start (MiB) | RSS end (MiB) | growth (MiB) |")
    emit("|---|---:|---:|---:|---:|---:|---:|")
    for env_id in ids:
        r = vector_run(env_id, args.num_envs, int(args.steps), args.warmup)
        emit(f"| {env_id} | {r['env_steps']:,} | {r['seconds']:.2f} | {r['steps_per_s'] / 1e6:.2f}M | "
             f"{r['rss_start_mib']:.1f} | {r['rss_end_mib']:.1f} | {r['growth_mib']:+.2f} |")
        if r["growth_mib"] > args.max_growth_mib:
            failures.append(f"{env_id}: RSS grew {r['growth_mib']:.1f} MiB over the vector run")
    emit()
    emit(f"## {args.resets} resets with rgb_array rendering (reset, render, step, render)")
    emit()
    emit("| id | seconds | RSS start (MiB) | RSS end (MiB) | growth (MiB) | live surfaces before / after | "
         "open windows before / after |")
    emit("|---|---:|---:|---:|---:|---:|---:|")
    for env_id in ids:
        r = render_resets(env_id, args.resets)
        emit(f"| {env_id} | {r['seconds']:.2f} | {r['rss_start_mib']:.1f} | {r['rss_end_mib']:.1f} | "
             f"{r['growth_mib']:+.2f} | {r['surfaces_start']} / {r['surfaces_end']} | "
             f"{r['windows_start']} / {r['windows_end']} |")
        if r["growth_mib"] > args.max_growth_mib:
            failures.append(f"{env_id}: RSS grew {r['growth_mib']:.1f} MiB over {args.resets} rendered resets")
        if r["surfaces_end"] > r["surfaces_start"] or r["windows_end"] != r["windows_start"]:
            failures.append(f"{env_id}: rgb_array rendering left surfaces or windows behind")
    emit()
    emit(f"## {args.windows} human windows opened and closed (SDL {os.environ.get('SDL_VIDEODRIVER')} driver)")
    emit()
    emit("| id | RSS start (MiB) | RSS end (MiB) | windows open after | display still up |")
    emit("|---|---:|---:|---:|---|")
    for env_id in ids:
        r = window_cycles(env_id, args.windows)
        emit(f"| {env_id} | {r['rss_start_mib']:.1f} | {r['rss_end_mib']:.1f} | {r['windows_open_after']} | "
             f"{r['display_up_after']} |")
        if r["windows_open_after"] or r["display_up_after"]:
            failures.append(f"{env_id}: a human window stayed open after close()")
        if r["rss_end_mib"] - r["rss_start_mib"] > args.max_growth_mib:
            failures.append(f"{env_id}: RSS grew over {args.windows} window cycles")
    emit()
    emit("Result: " + ("all memory bounds and leak checks hold" if not failures else "; ".join(failures)))
    if args.out:
        with open(args.out, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
