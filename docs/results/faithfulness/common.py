"""Shared helpers of the side-by-side scripts: stand-ins for the packages the authors' env code imports, and
summary statistics.

The authors' repositories are not part of memenvs; each script says where to clone them (default
``/tmp/scratch``). The stand-ins replace only imports the env code does not use for its dynamics (old ``gym``'s
spaces and base class, ``yaml``), and NumPy aliases removed since (``np.int``).
"""

from __future__ import annotations

import sys
import types

import numpy as np


def install_gym_stub() -> None:
    """A minimal ``gym`` (``Env``, ``spaces.Discrete``, ``spaces.Box``, ``spaces.Dict``) in ``sys.modules``."""
    if "gym" in sys.modules and getattr(sys.modules["gym"], "_memenvs_stub", False):
        return
    gym = types.ModuleType("gym")
    spaces = types.ModuleType("gym.spaces")

    class Space:
        def __init__(self, *args, **kwargs) -> None:
            self.args, self.kwargs = args, kwargs
            self.n = args[0] if args and isinstance(args[0], int) else None
            self.shape = kwargs.get("shape")

        def contains(self, a) -> bool:
            return 0 <= int(a) < self.n

    spaces.Discrete = spaces.Box = spaces.Dict = Space
    gym.Env, gym.spaces, gym._memenvs_stub = object, spaces, True
    sys.modules["gym"], sys.modules["gym.spaces"] = gym, spaces
    if not hasattr(np, "int"):
        np.int = int  # removed from NumPy 1.24; the authors' code builds bitmaps with it


def summary(values) -> dict[str, float]:
    """Mean, SD and SE of a sample."""
    v = np.asarray(values, dtype=np.float64)
    sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
    return {"n": len(v), "mean": float(v.mean()), "sd": sd, "se": sd / np.sqrt(len(v))}


def fmt(s: dict[str, float], digits: int = 3) -> str:
    return f"{s['mean']:.{digits}f} (SD {s['sd']:.{digits}f}, SE {s['se']:.{digits}f}, n={s['n']})"


def z(a: dict[str, float], b: dict[str, float]) -> float:
    """Difference of two means in units of its standard error."""
    se = np.hypot(a["se"], b["se"])
    return float((a["mean"] - b["mean"]) / se) if se > 0 else 0.0
