"""Storage and resume: a finished run's files under ``out/runs/<run_id>/``, ``result.json`` written last as the
mark that it is done, and :func:`load_done`, which finds the runs a rerun can skip (by those marks, and by the rows
of the folder's ``runs.json``, which a results folder commits where it does not commit ``runs/``).

Claims let several ``compare`` invocations on one ``--out`` share the work: before a run starts, its driver
creates ``out/runs/<run_id>/claim.json`` with ``O_CREAT | O_EXCL`` (atomic, so exactly one invocation gets it) and
removes it when the run is stored, fails or is interrupted (an interrupted run keeps its mid-run checkpoint, from
which the next invocation resumes it). A claim left by a process that died on this host is
stale and taken over; one from another host is trusted (remove it by hand if that host is gone).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any, Sequence

from . import report
from .planning import RunSpec


def _run_dir(out: Path, run_id: str) -> Path:
    return out / "runs" / run_id


def checkpoint_dir(out: Path, run_id: str) -> Path:
    """Where a run keeps its mid-run checkpoint (:mod:`.checkpoints`) until it is stored."""
    return _run_dir(out, run_id) / "checkpoint"


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so no reader ever sees half of it."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def store(out: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """Write a finished run's files, then its ``result.json`` (written last, atomically: it marks the run done),
    then drop its mid-run checkpoint."""
    folder = _run_dir(out, payload["run_id"])
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in payload["files"].items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    write_atomically(folder / "result.json", json.dumps(report._plain(payload["row"]), indent=1))
    shutil.rmtree(checkpoint_dir(out, payload["run_id"]), ignore_errors=True)
    return payload["row"]


def is_done(out: Path, run_id: str) -> bool:
    return (_run_dir(out, run_id) / "result.json").is_file()


def _claim_path(out: Path, run_id: str) -> Path:
    return _run_dir(out, run_id) / "claim.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


def claim_is_live(out: Path, run_id: str) -> bool:
    """Whether another invocation holds the run: a claim exists and its process is alive (or on another host).
    A stale claim (its process on this host is gone) is removed."""
    path = _claim_path(out, run_id)
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return False
    except (json.JSONDecodeError, OSError):
        return True  # being written right now
    if holder.get("host") != socket.gethostname() or _pid_alive(int(holder.get("pid", -1))):
        return True
    path.unlink(missing_ok=True)
    return False


def claim(out: Path, run_id: str) -> bool:
    """Claim a run for this process; ``False`` if it is done or another live invocation holds it."""
    if is_done(out, run_id):
        return False
    path = _claim_path(out, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):  # a second try after removing a stale claim
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if claim_is_live(out, run_id):
                return False
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}, f)
        if is_done(out, run_id):  # finished by another invocation between the check above and the claim
            release(out, run_id)
            return False
        return True
    return False


def release(out: Path, run_id: str) -> None:
    _claim_path(out, run_id).unlink(missing_ok=True)


def _table_rows(out: Path) -> dict[str, dict[str, Any]]:
    """The rows of ``out/runs.json`` (the table :func:`.report.write_rows` writes) by run id; none if it is missing or
    unreadable."""
    try:
        rows = report.load_rows(out / "runs.json")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):  # missing, not JSON, or not rows of dicts
        return {}
    return {row["run_id"]: row for row in rows if isinstance(row.get("run_id"), str)}


def load_done(out: Path, runs: Sequence[RunSpec]) -> dict[str, dict[str, Any]]:
    """Rows of the runs of ``runs`` finished in ``out``: from their ``runs/<run_id>/result.json``, else from their
    row in ``out/runs.json``. A results folder commits ``runs.json`` but not ``runs/`` (models and checkpoints are
    large), so on a fresh clone the table is what says which runs are done: rerunning the folder's command then
    trains only the missing ones. A run id covers the run's whole configuration (env, its arguments, baseline,
    resolved hyperparameters, seed, budget), so a row with the same id is the same run."""
    done = {}
    table = None
    for spec in runs:
        path = _run_dir(out, spec.run_id) / "result.json"
        if path.is_file():
            try:
                done[spec.run_id] = report.restore_nans(json.loads(path.read_text()))
                continue
            except json.JSONDecodeError:
                pass  # a torn file from a crash: the table's row if it has one, else the run is redone
        if table is None:
            table = _table_rows(out)
        if spec.run_id in table:
            done[spec.run_id] = table[spec.run_id]
    return done
