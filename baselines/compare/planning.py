"""Planning a comparison: the defaults, one :class:`RunSpec` per (env, kwargs, baseline, seed), and :func:`plan`,
which checks every argument and expands them into runs before anything is trained."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
from typing import Any, Sequence

import gymnasium as gym
import numpy as np

from memenvs.sb3 import find_spec, flat_observation_space

from ..hyperparams import BASELINES, env_family, resolve
from .parsing import CompareError, _check_overrides, _fmt_value, env_label, parse_env, parse_overrides, parse_sweep

#: The no-argument comparison: the passive T-maze at two memory lengths, where both bounds are known (a policy with
#: memory succeeds every time, the memoryless MLP at most half the time), so the table says at a glance whether each
#: baseline reached them; it finishes in a few minutes on a 2-core laptop.
DEFAULT_ENVS: tuple[str, ...] = (
    "memenvs/TMaze-v0:variant=passive,length=8", "memenvs/TMaze-v0:variant=passive,length=16",
)
DEFAULT_BASELINES: tuple[str, ...] = ("mlp", "lstm", "gru", "iam")
#: Env families whose baselines, when none are named, are not :data:`DEFAULT_BASELINES`. The T-maze's are the
#: recurrent DQNs and their memoryless calibration: in the acceptance sweep of the passive T-maze (lengths 10 and
#: 20, 5 seeds) they ended at the optimum (LSTM, GRU) and at the memoryless bound (MLP) on 30 of 30 runs, where
#: PPO's ended so on 36 of 40: 4 recurrent runs were caught in the junction trap, and PPO's MLP lost the corridor
#: on 2 of 8 seeds at length 16 (docs/results/tmaze_acceptance.md).
FAMILY_BASELINES: dict[str, tuple[str, ...]] = {"tmaze": ("mlp_dqn", "lstm_dqn", "gru_dqn")}
DEFAULT_SEEDS: tuple[int, ...] = (0, 1)
DEFAULT_STEPS = 24_000
DEFAULT_N_ENVS = 16
DEFAULT_EVAL_EPISODES = 100
DEFAULT_OUT = "memenvs_compare"
DEFAULT_CURVE_POINTS = 20


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
        """Everything that decides the run's outcome (what :attr:`run_id` hashes), the baseline's resolved defaults
        included: after a change to the table a resumed comparison trains afresh instead of reusing a run made with
        other settings."""
        record = resolve(self.baseline, self.env_id, self.env_kwargs)
        return {
            "env_id": self.env_id, "env_kwargs": self.env_kwargs, "baseline": self.baseline, "seed": self.seed,
            "steps": self.steps, "n_envs": self.n_envs, "eval_episodes": self.eval_episodes,
            "curve_points": self.curve_points, "policy_kwargs": self.policy_kwargs, "overrides": self.overrides,
            "defaults": {"algorithm": record.algorithm, "policy": record.policy,
                         "policy_kwargs": record.policy_kwargs, "algo_kwargs": record.algo_kwargs,
                         "wrappers": [[name, dict(kw)] for name, kw in record.wrappers]},
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
    from ..models import env_dset

    record = resolve("iam", env_id)
    core_kwargs = record.policy_kwargs.get("core_kwargs") or {}
    if core_kwargs.get("dset", "manual") != "manual" or core_kwargs.get("dset_indices") is not None:
        return None
    if env_dset(env_id, **kwargs) is not None:
        return None
    width = int(np.prod(flat_observation_space(env_id, env.observation_space).shape))
    return {"core_kwargs": {"dset": "learned", "dset_size": min(8, width)}}


def default_baselines(env_id: str) -> tuple[str, ...]:
    """The baselines a comparison runs on ``env_id`` when none are named: its family's
    (:data:`FAMILY_BASELINES`), else :data:`DEFAULT_BASELINES`."""
    return FAMILY_BASELINES.get(env_family(env_id), DEFAULT_BASELINES)


def plan(
    envs: Sequence[str] | None = None,
    baselines: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    steps: int | None = None,
    n_envs: int = DEFAULT_N_ENVS,
    eval_episodes: int | None = None,
    sweep: str | None = None,
    curve_points: int = DEFAULT_CURVE_POINTS,
    overrides: str | dict[str, Any] | None = None,
) -> list[RunSpec]:
    """Check every argument and expand them into runs (env-major, then sweep value, baseline, seed).

    ``steps=None`` trains each run for its baseline's budget on that env (the record's ``steps`` from
    :func:`~memenvs.baselines.hyperparams.resolve`; the T-maze's grows with the corridor), or :data:`DEFAULT_STEPS`
    where the family sets none. ``eval_episodes=None`` likewise takes the family's (the T-maze's 1,000), else
    :data:`DEFAULT_EVAL_EPISODES`. ``baselines=None`` runs each env's :func:`default_baselines`.

    Raises :class:`CompareError` (a ``ValueError``) naming the bad argument before anything is trained: unknown
    baseline or env id, malformed kwargs or sweep, kwargs the env rejects, non-positive sizes.
    """
    import memenvs  # noqa: F401  (registers the ids)

    envs = list(DEFAULT_ENVS if envs is None else envs)
    seeds = list(DEFAULT_SEEDS if seeds is None else seeds)
    for name, value, low in (("steps", steps, 1), ("n_envs", n_envs, 1), ("eval_episodes", eval_episodes, 1),
                             ("curve_points", curve_points, 1)):
        if name in ("steps", "eval_episodes") and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise CompareError(f"{name} must be an integer >= {low}, got {value!r}")
    if not envs:
        raise CompareError("envs is empty; give at least one env id")
    if baselines is not None and not baselines:
        raise CompareError(f"baselines is empty; known: {', '.join(BASELINES)}")
    if not seeds:
        raise CompareError("seeds is empty; give at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise CompareError(f"seeds must be integers >= 0, got {seed!r}")
    if len(set(seeds)) != len(seeds):
        raise CompareError(f"seeds must be distinct, got {list(seeds)}")
    unknown = [b for b in baselines or () if b not in BASELINES]
    if unknown:
        raise CompareError(f"unknown baseline(s) {', '.join(map(repr, unknown))}; known: {', '.join(BASELINES)}")
    sweep_key, sweep_values = parse_sweep(sweep) if sweep else (None, [None])
    overrides = parse_overrides(overrides)

    runs: list[RunSpec] = []
    for text in envs:
        env_id, base_kwargs = parse_env(text)
        try:
            find_spec(env_id)  # imports the module of a "module:id"
        except ModuleNotFoundError as err:
            raise CompareError(f"env {env_id!r}: cannot import the module that registers it ({err})") from err
        except gym.error.Error:
            known = ", ".join(sorted(i for i in gym.registry if i.startswith("memenvs/")))
            raise CompareError(f"unknown env id {env_id!r}; known memenvs ids: {known} (ids of other packages: "
                               "import the package first, or write MODULE:ID)") from None
        env_baselines = list(default_baselines(env_id) if baselines is None else baselines)
        for baseline in env_baselines:
            _check_overrides(baseline, overrides)
        group = env_label(env_id, {k: v for k, v in base_kwargs.items() if k != sweep_key})
        for value in sweep_values:
            kwargs = dict(base_kwargs)
            if sweep_key is not None:
                kwargs[sweep_key] = value
            env, optimal, memoryless = env_bounds(env_id, kwargs)
            try:
                image = (isinstance(env.observation_space, gym.spaces.Box) and env.observation_space.dtype == np.uint8
                         and len(env.observation_space.shape) in (2, 3))
                iam_kwargs = _iam_policy_kwargs(env, env_id, kwargs) if "iam" in env_baselines else None
            finally:
                env.close()
            for baseline in env_baselines:
                record = resolve(baseline, env_id, kwargs)
                if image and record.policy == "MlpPolicy":
                    raise CompareError(f"baseline {baseline!r} has an MLP policy but {env_id} has image observations")
                run_steps = steps if steps is not None else (record.steps or DEFAULT_STEPS)
                run_episodes = eval_episodes if eval_episodes is not None else (
                    record.eval_episodes or DEFAULT_EVAL_EPISODES)
                for seed in seeds:
                    runs.append(RunSpec(
                        env_id=env_id, env_kwargs=kwargs, baseline=baseline, seed=int(seed), steps=int(run_steps),
                        n_envs=int(n_envs), eval_episodes=int(run_episodes), curve_points=int(curve_points),
                        policy_kwargs=iam_kwargs if baseline == "iam" else None, overrides=overrides,
                        sweep_key=sweep_key,
                        sweep_value=value, sweep_group=group if sweep_key else None,
                        optimal_return=optimal, memoryless_return=memoryless,
                    ))
    ids = [r.run_id for r in runs]
    if len(set(ids)) != len(ids):
        raise CompareError("the same (env, kwargs, baseline, seed) appears twice; remove the duplicate env")
    return runs
