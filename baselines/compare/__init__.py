"""``memenvs compare``: train baselines on memory envs over seeds, locally or on a Ray cluster, and report.

Example (the same as ``memenvs compare`` with no arguments)::

    from memenvs.baselines.compare import compare

    result = compare()                      # passive T-maze + small RandomMaze; mlp, lstm, gru, iam; 2 seeds
    result = compare(envs=["memenvs/TMaze-v0:variant=passive"], baselines=["mlp", "lstm"],
                     sweep="length=10,20,50", steps=50_000, out="tmaze_sweep")

Each (env, kwargs, baseline, seed) is one *run*: build the model with :func:`memenvs.baselines.models.make_model`,
train it for ``steps`` env steps (TensorBoard logs and a learning curve on the way), evaluate the final policy
with :func:`memenvs.baselines.evaluation.evaluate`, save it. A run's whole output (row, curve, TensorBoard files, model)
comes back to the driver as one payload, which writes ``runs/<run_id>/`` and, last, ``runs/<run_id>/result.json``.
That file marks the run done: an interrupted sweep keeps every finished run, and rerunning the same command skips
them. Runs execute in a local process pool (``backend="local"``) or as Ray tasks (``backend="ray"``); since the
payload travels back to the driver, both write the same files and Ray workers need no shared file system.

Outputs in ``out``: ``runs.csv``/``runs.json`` (one row per run), ``summary.md``/``summary.json`` (mean ± SE over
seeds per env x baseline, with the memory score), ``curves.png``, ``sweep.md``/``sweep.png`` with ``sweep``,
``config.json`` (the exact configuration, the command that reruns it and package versions) and ``runs/``.

The package, one module per step: :mod:`.parsing` (arguments), :mod:`.planning` (defaults, :class:`RunSpec`,
:func:`plan`), :mod:`.running` (one run, in a worker), :mod:`.checkpoints` (a run's mid-run checkpoints),
:mod:`.backends` (in-process, local pool, Ray), :mod:`.storage` (store and resume), :mod:`.display` (progress and
the terminal table), :mod:`.report` (tables, plots and files of the results), :mod:`.saved_models` (loading and
rendering a trained model) and :mod:`.main` (:func:`compare` itself).
"""

from .backends import BACKENDS
from .main import CompareResult, command_line, compare, versions
from .parsing import CompareError, env_label, parse_env, parse_overrides, parse_sweep
from .planning import (
    DEFAULT_BASELINES, DEFAULT_CURVE_POINTS, DEFAULT_ENVS, DEFAULT_EVAL_EPISODES, DEFAULT_N_ENVS, DEFAULT_OUT,
    DEFAULT_SEEDS, DEFAULT_STEPS, FAMILY_BASELINES, RunSpec, default_baselines, env_bounds, plan,
)
from .running import EVAL_SEED_OFFSET, ProgressFn, execute
from .saved_models import ModelPolicy, load_model, render_model
from .storage import load_done, store

__all__ = [
    "BACKENDS", "DEFAULT_BASELINES", "DEFAULT_CURVE_POINTS", "DEFAULT_ENVS", "DEFAULT_EVAL_EPISODES", "DEFAULT_N_ENVS",
    "DEFAULT_OUT", "DEFAULT_SEEDS", "DEFAULT_STEPS", "EVAL_SEED_OFFSET", "FAMILY_BASELINES", "CompareError",
    "CompareResult", "ModelPolicy", "ProgressFn", "RunSpec", "command_line", "compare", "default_baselines",
    "env_bounds", "env_label", "execute", "load_done",
    "load_model", "parse_env", "parse_overrides", "parse_sweep", "plan", "render_model", "store", "versions",
]
