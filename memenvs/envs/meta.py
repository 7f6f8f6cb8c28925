"""The task interface shared by the meta-RL environments (Navigation2D, HalfCheetahDir).

A meta-RL env is a family of MDPs indexed by a *task* drawn from a task distribution. Here a task is a small float
array of a fixed shape (:attr:`TaskDistribution.task_space`): the goal position of Navigation2D, the direction
(+1 forward, -1 backward) of HalfCheetahDir. The interface has three parts, the same for the single and the vector
env:

* ``env.sample_tasks(n, rng)`` draws ``n`` tasks, an array ``(n, *task_shape)``, from the env's task distribution
  with the generator ``rng`` (the env's own ``np_random`` when ``rng`` is None);
* ``env.reset(options={"task": task})`` sets the task: one task (shape ``task_shape``) for a single env or for
  every reset copy of a vector env, or one per reset copy (shape ``(k, *task_shape)``, ``k`` the number of copies
  being reset, so a meta-batch of ``T`` tasks times ``K`` trajectories is one vector env of ``T * K`` copies);
* ``info["task"]`` is the current task after every ``reset`` and ``step``.

**A meta-trial keeps its task across episodes.** A reset without the ``task`` option keeps the copy's task (the
vector env's autoreset too), so the episodes of one trial -- the trajectories MAML adapts on, then the ones it is
evaluated on, or the episodes an RL^2 learner carries its memory through -- share a task. The task is drawn from
the distribution only when a copy has none: on its first reset, and on a seeded reset (``reset(seed=s)`` forgets
the task, so a seed fixes the whole trajectory, task included).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, State


class TaskDistribution:
    """What a meta-RL env (or its core) exposes about its tasks: their space, how to draw and check them.

    Subclasses set :attr:`task_space` (a ``Box``) and implement :meth:`sample_tasks`; :meth:`check_tasks` validates
    a ``task`` reset option against the space and, where tasks are a discrete set inside the box, the set.
    """

    task_space: spaces.Box

    def sample_tasks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` tasks drawn independently from the task distribution, an array ``(n, *task_space.shape)``."""
        raise NotImplementedError

    def check_tasks(self, task: Any, n: int | None = None) -> np.ndarray:
        """``task`` as a float array ``(k, *task_shape)`` (one task is broadcast to ``k = n`` rows, or 1 when ``n``
        is None); a ``ValueError`` naming ``options['task']`` if its shape, type or values are wrong."""
        shape = self.task_space.shape
        a = np.asarray(task) if not isinstance(task, np.ndarray) else task
        if a.dtype.kind not in "iuf":
            raise ValueError(f"options['task'] must be an array of numbers of shape {shape}, got {task!r}")
        a = a.astype(np.float64)
        if a.shape == shape:
            a = np.broadcast_to(a, (1 if n is None else n, *shape)).copy()
        if a.shape[1:] != shape or a.ndim != len(shape) + 1 or (n is not None and a.shape[0] != n):
            rows = "k" if n is None else str(n)
            raise ValueError(f"options['task'] must have shape {shape} or ({rows}, {', '.join(map(str, shape))}), "
                             f"got shape {a.shape}")
        if not np.isfinite(a).all() or not all(self.task_space.contains(t.astype(self.task_space.dtype)) for t in a):
            raise ValueError(f"options['task'] must lie in {self.task_space}, got {task!r}")
        self.check_task_values(a)
        return a

    def check_task_values(self, tasks: np.ndarray) -> None:
        """Extra checks on tasks already inside :attr:`task_space` (a discrete set of tasks, say)."""


class MetaCore(TaskDistribution, Core):
    """A :class:`~memenvs.envs.core.Core` of a meta-RL env: its state has a ``task`` row per copy and a
    ``has_task`` flag; :meth:`assign_tasks` implements the reset rule of the module docstring."""

    reset_options = ("task",)

    def check_options(self, options: dict | None) -> None:
        super().check_options(options)
        if options and "task" in options:
            task = options["task"]
            # One task, or one row per reset copy (how many copies are reset is checked in assign_tasks).
            rows = np.ndim(task) == len(self.task_space.shape) + 1
            self.check_tasks(task, np.shape(task)[0] if rows else None)

    def restart(self, state: State, idx: np.ndarray) -> None:
        state.has_task[idx] = False

    def assign_tasks(self, state: State, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        """Set the task of the copies ``idx`` on reset: the option's task(s), else keep the copy's task, else draw.

        The draw is made for every reset copy whether or not it is used, so the generator advances the same way
        whichever copies happen to hold a task (a batch of one draws what a single env does)."""
        given = self.check_tasks(options["task"], len(idx)) if options and "task" in options else None
        drawn = self.sample_tasks(len(idx), rng)
        if given is not None:
            state.task[idx] = given
        else:
            keep = state.has_task[idx]
            state.task[idx] = np.where(keep.reshape(-1, *([1] * len(self.task_space.shape))), state.task[idx], drawn)
        state.has_task[idx] = True


class MetaEnvMixin:
    """The task interface on a facade (single or vector env) over a :class:`MetaCore`."""

    core: MetaCore

    @property
    def task_space(self) -> spaces.Box:
        """The space of one task."""
        return self.core.task_space

    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n`` tasks from the env's task distribution, drawn with ``rng`` (the env's ``np_random`` if None)."""
        from memenvs.envs.params import check_int

        n = check_int("n", n, 1)
        return self.core.sample_tasks(n, self.np_random if rng is None else rng)
