"""The ``memenvs`` command: list the environments, play one, render episodes to video, benchmark throughput."""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import gymnasium as gym

import memenvs
from memenvs.registration import ENVS


class CLIError(Exception):
    """A user error: printed without a traceback, exit status 2."""


def parse_kwargs(pairs: Sequence[str] | None) -> dict[str, Any]:
    """``["length=100", "variant=passive"]`` -> ``{"length": 100, "variant": "passive"}`` (Python literals where
    they parse, strings otherwise)."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise CLIError(f"--kwarg takes KEY=VALUE, got {pair!r}")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        out[key.strip()] = value
    return out


def _check_id(env_id: str) -> None:
    if env_id not in gym.registry:
        known = ", ".join(e.id for e in ENVS)
        raise CLIError(f"unknown env id {env_id!r}; known ids: {known}")


def _make(env_id: str, **kwargs: Any) -> gym.Env:
    _check_id(env_id)
    try:
        return gym.make(env_id, **kwargs)
    except (ValueError, ImportError, gym.error.DependencyNotInstalled) as err:
        raise CLIError(str(err)) from err


# ----------------------------------------------------------------------------- list
def cmd_list(args: argparse.Namespace) -> None:
    for entry in ENVS:
        print(entry.id)
        print(f"    {entry.summary}")
        if args.spaces:
            try:
                env = gym.make(entry.id)
                print(f"    observation: {env.observation_space}")
                print(f"    action:      {env.action_space}")
                env.close()
            except Exception as err:  # an optional extra (e.g. atari) missing must not hide the other ids
                print(f"    (cannot build here: {err})")


# ----------------------------------------------------------------------------- play
def cmd_play(args: argparse.Namespace) -> None:
    from memenvs.play import ObservationView, is_image, play_turn_based

    fps = _check_fps(args.fps)
    env = _make(args.env_id, render_mode="rgb_array", **parse_kwargs(args.kwarg))
    if not args.show_hidden and not is_image(env.observation_space):
        env = ObservationView(env)
    keys = env.unwrapped.get_keys_to_action() if hasattr(env.unwrapped, "get_keys_to_action") else None
    if keys is None:
        raise CLIError(f"{args.env_id} has no keyboard mapping (get_keys_to_action) to play it with")
    _require_display()
    try:
        if _realtime(args.env_id):
            from gymnasium.utils.play import play

            play(env, keys_to_action=keys, fps=fps or env.metadata.get("render_fps", 30), zoom=args.zoom,
                 noop=args.noop, seed=args.seed)
        else:
            play_turn_based(env, keys, zoom=args.zoom, seed=args.seed)
    finally:
        env.close()
        import pygame

        pygame.quit()


def _realtime(env_id: str) -> bool:
    """Whether the id runs on its own clock (CartPole, Atari); grid tasks wait for the player."""
    entry = next((e for e in ENVS if e.id == env_id), None)
    return entry is None or entry.realtime


def _require_display() -> None:
    """Fail fast where no window can be shown: SDL falls back to its off-screen driver without a display, and a game
    drawn there waits forever for keys nobody can press."""
    import pygame

    try:
        pygame.display.init()
    except pygame.error as err:
        raise CLIError(f"play needs a display and none could be opened ({err})") from err
    driver = pygame.display.get_driver()
    if driver in ("dummy", "offscreen"):
        pygame.display.quit()
        raise CLIError(f"play needs a display; SDL's video driver here is {driver!r} (no window can be shown). "
                       "Use `memenvs render` to record episodes to a GIF or MP4 instead")


def _check_fps(fps: int | None) -> int | None:
    if fps is not None and fps < 1:
        raise CLIError(f"--fps must be >= 1, got {fps}")
    return fps


# ----------------------------------------------------------------------------- render
def cmd_render(args: argparse.Namespace) -> None:
    from memenvs.video import VIDEO_SUFFIXES, record_episodes, write_video

    if not args.out.lower().endswith(VIDEO_SUFFIXES):
        raise CLIError(f"--out must end in {' or '.join(VIDEO_SUFFIXES)}, got {args.out!r}")
    if args.episodes < 1:
        raise CLIError(f"--episodes must be >= 1, got {args.episodes}")
    _check_fps(args.fps)
    if args.model:
        frames, returns, env = _render_model(args)
    else:
        env = _make(args.env_id, render_mode="rgb_array", **parse_kwargs(args.kwarg))
        frames, returns = record_episodes(env, episodes=args.episodes, seed=args.seed, max_frames=args.max_frames)
    fps = args.fps or env.metadata.get("render_fps", 8)
    env.close()
    try:
        path = write_video(frames, args.out, fps=fps)
    except ImportError as err:
        raise CLIError(str(err)) from err
    print(f"wrote {path} ({len(frames)} frames, {len(returns)} episode(s), returns {[round(r, 3) for r in returns]})")


def _render_model(args: argparse.Namespace) -> tuple[list, list[float], gym.Env]:
    """Episodes of a saved model (``--model``), its recurrent state carried and reset per episode."""
    _check_id(args.env_id)
    try:
        from memenvs.baselines.compare import render_model
    except ImportError as err:
        raise CLIError(f'--model needs the baselines extra (pip install "memenvs[baselines]"): {err}') from err
    kwargs = parse_kwargs(args.kwarg) if args.kwarg else None
    try:
        return render_model(args.model, args.env_id, kwargs, episodes=args.episodes, seed=args.seed,
                            max_frames=args.max_frames, deterministic=not args.stochastic)
    except ValueError as err:
        raise CLIError(str(err)) from err


# ----------------------------------------------------------------------------- compare
def cmd_compare(args: argparse.Namespace) -> None:
    try:
        from memenvs.baselines.compare import CompareError, compare
    except ImportError as err:
        raise CLIError(f'compare needs the baselines extra (pip install "memenvs[baselines]"): {err}') from err
    runtime_env = _json_object("--ray-runtime-env", args.ray_runtime_env)
    try:
        result = compare(
            envs=args.envs, baselines=args.baselines, seeds=args.seeds, steps=args.steps, n_envs=args.n_envs,
            eval_episodes=args.eval_episodes, out=args.out, workers=args.workers, backend=args.backend,
            address=args.address, sweep=args.sweep, curve_points=args.curve_points, quiet=args.quiet,
            overrides=args.overrides,
            ray_init_kwargs={"runtime_env": runtime_env} if runtime_env is not None else None,
        )
    except CompareError as err:
        raise CLIError(str(err)) from err
    if result.interrupted:
        sys.exit(130)
    if result.failures:
        raise CLIError(f"{len(result.failures)} run(s) failed: {', '.join(result.failures)}")


def _json_object(option: str, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise CLIError(f"{option} must be a JSON object, e.g. '{{\"pip\": [\"memenvs[baselines]\"]}}'; "
                       f"cannot parse {text!r}: {err}") from err
    if not isinstance(value, dict):
        raise CLIError(f"{option} must be a JSON object (a dict of Ray runtime_env fields), got {text!r}")
    return value


# ----------------------------------------------------------------------------- bench
def cmd_bench(args: argparse.Namespace) -> None:
    from memenvs import bench

    env_ids = args.env_ids or [e.id for e in ENVS if gym.spec(e.id).vector_entry_point is not None]
    for env_id in env_ids:
        _check_id(env_id)
    kwargs = parse_kwargs(args.kwarg)
    if args.seconds <= 0:
        raise CLIError(f"--seconds must be > 0, got {args.seconds}")
    if args.rounds < 3:
        raise CLIError(f"--rounds must be >= 3 (the spread needs rounds), got {args.rounds}")
    if any(n < 1 for n in args.num_envs):
        raise CLIError(f"--num-envs must be >= 1, got {args.num_envs}")
    missing = [p for p in args.against if not bench.peer_available(p)]
    if missing:
        print(f"not installed, skipped: {', '.join(missing)} (optional peers; pip install them to compare)")
    print("machine: " + ", ".join(f"{k} {v}" for k, v in bench.machine_info().items()))
    print(f"load average before: {' '.join(map(str, bench.load_average()))}")
    print(f"{args.rounds} interleaved rounds of {args.seconds} s per case; ratios are per round, to the reference "
          "measured in the same round")
    print(bench.HEADER)

    def show(row: "bench.Row") -> None:
        print(bench.format_row(row), flush=True)

    try:
        report = bench.run(
            env_ids, args.num_envs, seconds=args.seconds, rounds=args.rounds, sync_envs=args.sync_envs,
            sb3=not args.no_sb3, against=args.against, kwargs=kwargs, progress=show,
        )
    except ValueError as err:
        raise CLIError(str(err)) from err
    print(f"load average after: {' '.join(map(str, report['load_average']['after']))}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": "memenvs " + " ".join(sys.argv[1:]), **report}, f, indent=2)
        print(f"saved {args.json}")


# ----------------------------------------------------------------------------- parser
def cmd_reproduce(args: argparse.Namespace) -> None:
    # Imported here: the baselines need torch and SB3, which `memenvs list` and friends must not.
    try:
        from memenvs.baselines import experiments
    except ImportError as err:
        raise CLIError(f'reproduce needs the baselines extra (pip install "memenvs[baselines]"): {err}') from err
    try:
        experiments.experiment_module(args.experiment)
    except ValueError as err:
        raise CLIError(str(err)) from err
    experiments.run(args.experiment, args.options)


def _baseline_names() -> str:
    """The names in the one table of baselines (``memenvs.baselines.hyperparams``), read from that torch-free module
    without importing the ``memenvs.baselines`` package, whose ``__init__`` imports torch and SB3."""
    import importlib.util

    try:
        package = importlib.util.find_spec("memenvs.baselines")
        path = Path(list(package.submodule_search_locations)[0]) / "hyperparams.py"
        name = "_memenvs_cli_hyperparams"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        try:
            spec.loader.exec_module(module)
        finally:
            del sys.modules[name]
        return ", ".join(module.BASELINES)
    except (ImportError, AttributeError, OSError, TypeError, IndexError):
        return "see memenvs.baselines.hyperparams.BASELINES"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memenvs", description="Memory benchmark environments for reinforcement learning."
    )
    parser.add_argument("--version", action="version", version=f"memenvs {memenvs.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    kwarg_help = "an env keyword argument, e.g. --kwarg length=100 (repeatable)"

    p = sub.add_parser("list", help="list every environment id with a one-line description and its spaces")
    p.add_argument("--no-spaces", dest="spaces", action="store_false", help="skip building each env to show spaces")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser(
        "play", help="play an environment with the keyboard (arrow keys or WASD)",
        description="Play an environment with the keyboard. Grid tasks take one step per key press and wait "
        "otherwise; CartPole and Atari run in real time. The window shows only what the agent observes (the "
        "observation drawn as grey cells, white = high), so playing tests your memory; --show-hidden shows the "
        "full picture with the hidden state. Escape quits.",
    )
    p.add_argument("env_id")
    p.add_argument("--kwarg", "-k", action="append", metavar="KEY=VALUE", help=kwarg_help)
    p.add_argument("--show-hidden", action="store_true",
                   help="show the env's full picture (goal, hidden cells, caption) instead of the observation")
    p.add_argument("--fps", type=int, default=None,
                   help="steps per second of the real-time envs (default: the env's render_fps)")
    p.add_argument("--zoom", type=float, default=None, help="window zoom factor")
    p.add_argument("--noop", type=int, default=0,
                   help="real-time envs: action taken when no key is pressed (default 0)")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("render", help="record episodes of a random policy (or a saved model, --model) to a GIF or MP4")
    p.add_argument("env_id")
    p.add_argument("--out", required=True, help="output file, .gif (Pillow) or .mp4 (imageio + ffmpeg)")
    p.add_argument("--episodes", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: the env's render_fps)")
    p.add_argument("--max-frames", type=int, default=2000, help="stop after this many frames (default 2000)")
    p.add_argument("--kwarg", "-k", action="append", metavar="KEY=VALUE", help=kwarg_help)
    p.add_argument("--model", metavar="PATH", help="a saved SB3 model (e.g. OUT/runs/RUN/model.zip from compare) "
                   "to act instead of a random policy; env kwargs default to the model's")
    p.add_argument("--stochastic", action="store_true", help="with --model: sample actions instead of the mode")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "compare", help="train and compare memory baselines on memory envs (locally or on a Ray cluster)",
        description="Train baselines on envs over seeds, evaluate, and write a table (mean ± SE over seeds, memory "
        "score), learning curves, TensorBoard logs and the config. With no arguments: a quick comparison that "
        "shows memory mattering. Rerunning the same command resumes; Ctrl-C keeps finished runs.",
    )
    p.add_argument("--envs", nargs="+", metavar="ID[:K=V,...]", default=None,
                   help="envs with kwargs, e.g. memenvs/TMaze-v0:variant=passive,length=20 (default: the "
                   "passive T-maze at lengths 8 and 16)")
    p.add_argument("--baselines", nargs="+", metavar="NAME", default=None,
                   help=f"baselines, any of: {_baseline_names()} (default: mlp_dqn lstm_dqn gru_dqn on the "
                   "T-maze, whose PPO baselines are less reliable there; mlp lstm gru iam elsewhere)")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="training seeds (default: 0 1)")
    p.add_argument("--steps", type=int, default=None,
                   help="env steps per run (default: the family's budget for the env, which grows with the T-maze's "
                   "corridor; 24000 where the family sets none)")
    p.add_argument("--n-envs", type=int, default=16, help="env copies per run (default 16)")
    p.add_argument("--eval-episodes", type=int, default=None,
                   help="episodes of the final evaluation (default: the env family's, 1000 on the T-maze; else 100)")
    p.add_argument("--out", default="memenvs_compare", help="output folder (default ./memenvs_compare)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: min(CPUs, runs); each uses 1 torch thread)")
    p.add_argument("--sweep", metavar="KEY=V1,V2,...", help="run every env at each value of one kwarg, "
                   "e.g. --sweep length=10,20,50,100")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="local process pool (default) or Ray tasks")
    p.add_argument("--address", default=None, help="Ray cluster address, e.g. ray://head:10001 or auto "
                   "(default: RAY_ADDRESS, else a local Ray instance)")
    p.add_argument("--ray-runtime-env", metavar="JSON", default=None,
                   help="Ray runtime_env for the tasks, e.g. '{\"pip\": [\"memenvs[baselines]\"]}'")
    p.add_argument("--overrides", metavar="K=V,...", default=None, help="algorithm kwargs for every run, replacing "
                   "the family defaults, e.g. n_steps=128,learning_rate=1e-3")
    p.add_argument("--curve-points", type=int, default=20, help="points per learning curve (default 20)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or table (files are still written)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "bench", help="measure env-steps/s as ratios to Gymnasium's CartPole in the same run: single env, sync "
        "vector, native vector, SB3 adapter",
        description="Every row is divided by a reference measured in the same interleaved rounds (CartPole-v1, its "
        "SyncVectorEnv, CartPoleVectorEnv at the same copies; the SB3 adapter by the id's native vector env) and "
        "shows the median ratio with its min-max over rounds, beside the load average.")
    p.add_argument(
        "env_ids", nargs="*", metavar="ID", help="ids to measure (default: every id with a native vector env)"
    )
    p.add_argument("--num-envs", type=int, nargs="+", default=[64, 1024, 8192],
                   help="copies of the native vector env and SB3 adapter (default 64 1024 8192)")
    p.add_argument("--sync-envs", type=int, default=16, help="copies in Gymnasium's SyncVectorEnv (default 16)")
    p.add_argument("--seconds", type=float, default=0.5, help="wall time per case and round (default 0.5)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3, at least 3)")
    p.add_argument("--no-sb3", action="store_true", help="skip the SB3 adapter")
    p.add_argument("--against", nargs="+", default=[], choices=["gymnax", "popgym", "minigrid"],
                   help="also measure these peer libraries where installed: gymnax MemoryChain (JAX vmap + scan) "
                   "beside the native vector envs, popgym CountRecallEasy and minigrid MemoryS7 beside the single envs")
    p.add_argument("--json", metavar="FILE", help="also save the results and machine info as JSON")
    p.add_argument("--kwarg", "-k", action="append", metavar="KEY=VALUE", help=kwarg_help)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("reproduce", help="reproduce a published experiment with the baselines",
                       description="Run one reproduction of memenvs.baselines.experiments; options after its name go "
                       "to it (memenvs reproduce NAME --help lists them).")
    p.add_argument("experiment", metavar="NAME", help="two-step (Wang et al. 2018), fast-slow-switch (test-time "
                   "learning after a goal switch), regularizer-forgetting (non-stationary CartPole) or maml (MAML "
                   "with an MLP or a frozen-recurrence RNN policy vs the meta-LSTM; Finn et al. 2017)")
    p.add_argument("options", nargs=argparse.REMAINDER, help="options of the reproduction")
    p.set_defaults(func=cmd_reproduce)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except CLIError as err:
        print(f"memenvs {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
