"""Statistics over seeds, one definition for every report (``compare``'s tables and the experiments' pages): the
mean with its standard error, and a 95% confidence interval of the mean."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np


def mean_se(values: Iterable[float]) -> tuple[float, float]:
    """Mean and standard error (``std(ddof=1) / sqrt(n)``) of the finite values: ``nan`` for none, SE ``nan`` for a
    single value. ``None`` and non-finite values (a run with no success signal) are left out."""
    arr = _finite(values)
    if arr.size == 0:
        return math.nan, math.nan
    if arr.size == 1:
        return float(arr[0]), math.nan
    return float(arr.mean()), float(arr.std(ddof=1) / math.sqrt(arr.size))


#: Two-sided 95% quantiles of Student's t for 1 to 30 degrees of freedom (the standard table); beyond, the normal's.
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def ci95(values: Iterable[float]) -> tuple[float, float]:
    """95% confidence interval of the mean of the finite values, ``mean ± t(n - 1) * SE`` (Student's t: with 5
    seeds the half-width is 2.78 standard errors, not 1.96); ``(nan, nan)`` with fewer than two values."""
    arr = _finite(values)
    if arr.size < 2:
        return math.nan, math.nan
    mean, se = mean_se(arr)
    t = T_975[arr.size - 2] if arr.size - 1 <= len(T_975) else 1.960
    return mean - t * se, mean + t * se


def _finite(values: Iterable[float]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
