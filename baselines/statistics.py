"""Statistics over seeds, one definition for every report (``compare``'s tables and the experiments' pages)."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


def mean_se(values: Iterable[float]) -> tuple[float, float]:
    """Mean and standard error (``std(ddof=1) / sqrt(n)``) of the finite values: ``nan`` for none, SE ``nan`` for a
    single value. ``None`` and non-finite values (a run with no success signal) are left out."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if arr.size == 0:
        return math.nan, math.nan
    if arr.size == 1:
        return float(arr[0]), math.nan
    return float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(arr.size))
