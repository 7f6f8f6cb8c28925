"""Storage and resume: a finished run's files under ``out/runs/<run_id>/``, ``result.json`` written last as the
mark that it is done, and :func:`load_done`, which finds the runs a rerun can skip."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

from . import report
from .planning import RunSpec


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
