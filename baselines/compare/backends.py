"""Where the runs execute: in this process, in a local spawn-context process pool, or as Ray tasks. Each backend
hands every finished payload to ``on_done`` in the driver, which stores it.

``todo`` is consumed lazily, one run as a slot frees up: the driver claims a run only when it starts it, so another
``compare`` on the same folder can take the runs this one has not reached yet.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .display import _Display
from .parsing import CompareError
from .planning import RunSpec
from .running import _safe_execute
from .storage import checkpoint_dir

BACKENDS = ("local", "ray")


_QUEUE: Any = None


def _init_worker(queue: Any) -> None:
    global _QUEUE
    _QUEUE = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver handles Ctrl-C and terminates the pool


def _queue_progress(run_id: str, steps: int, total: int) -> None:
    _QUEUE.put((run_id, steps, total))


def _pool_task(spec: RunSpec, checkpoints: Path | None) -> dict[str, Any]:
    return _safe_execute(spec, _queue_progress, checkpoints)


def _take(todo: Iterator[RunSpec], n: int) -> list[RunSpec]:
    out = []
    for spec in todo:
        out.append(spec)
        if len(out) == n:
            break
    return out


def _checkpoints(out: Path | None, spec: RunSpec) -> Path | None:
    return None if out is None else checkpoint_dir(out, spec.run_id)


def _run_inline(todo: Iterable[RunSpec], display: _Display, on_done: Callable[[dict], None],
                out: Path | None = None) -> None:
    """In this process, one run after the other; with ``out`` each run checkpoints into its folder there."""
    for spec in todo:
        on_done(_safe_execute(spec, display.update, _checkpoints(out, spec)))


def _run_pool(todo: Iterable[RunSpec], workers: int, display: _Display, on_done: Callable[[dict], None],
              out: Path | None = None) -> None:
    """A spawn-context process pool (a fresh interpreter per worker: no forked torch state); with ``out`` each run
    checkpoints into its folder there."""
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    pool = ctx.Pool(workers, initializer=_init_worker, initargs=(queue,))
    todo = iter(todo)
    try:
        pending = {spec.run_id: pool.apply_async(_pool_task, (spec, _checkpoints(out, spec)))
                   for spec in _take(todo, workers)}
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
                for spec in _take(todo, 1):
                    pending[spec.run_id] = pool.apply_async(_pool_task, (spec, _checkpoints(out, spec)))
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


def _run_ray(todo: Iterable[RunSpec], address: str | None, display: _Display, on_done: Callable[[dict], None],
             ray_init_kwargs: dict[str, Any] | None) -> None:
    """Each run a Ray task (1 CPU), as many in flight as the cluster has CPUs; payloads come back to this driver,
    which writes them."""
    import ray
    from ray.util.queue import Queue

    started = False
    if not ray.is_initialized():
        try:
            ray.init(address=address, **(ray_init_kwargs or {}))
        except ConnectionError as err:  # something answered at the address, but not a Ray cluster
            raise CompareError(f"cannot connect to a Ray cluster at --address {address!r}: {err}; check the address "
                               "and that the cluster is running") from None
        started = True
    queue = Queue()
    task = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
    todo = iter(todo)
    slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
    refs = {task.remote(spec, queue): spec for spec in _take(todo, slots)}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0.3)
            for msg in queue.get_nowait_batch(queue.qsize()) if queue.qsize() else []:
                display.update(*msg)
            for ref in ready:
                refs.pop(ref)
                on_done(ray.get(ref))
                for spec in _take(todo, 1):
                    refs[task.remote(spec, queue)] = spec
    finally:
        for ref in refs:
            ray.cancel(ref, force=True)
        queue.shutdown()
        if started:
            ray.shutdown()
