"""Environment cores, the generic facades over them, and the shared renderer.

Names are imported on first use (PEP 562), so making one env imports its own module only, not every env's.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Core": "core",
    "State": "core",
    "MemoryEnv": "single",
    "MemoryVectorEnv": "vector",
    "TMazeEnv": "tmaze",
    "TMazeVectorEnv": "tmaze",
    "Maze4x4Env": "maze",
    "BlindMaze4x4Env": "maze",
    "RandomMazeEnv": "maze",
    "TwoStepEnv": "two_step",
    "TwoStepVectorEnv": "two_step",
    "WarehouseEnv": "warehouse",
    "WarehouseVectorEnv": "warehouse",
    "MiniWarehouseEnv": "warehouse",
    "MiniWarehouseVectorEnv": "warehouse",
    "TrafficEnv": "traffic",
    "TrafficVectorEnv": "traffic",
    "NonstationaryCartPoleEnv": "nonstationary_cartpole",
    "NonstationaryCartPoleVectorEnv": "nonstationary_cartpole",
    "Navigation2DEnv": "navigation2d",
    "Navigation2DVectorEnv": "navigation2d",
    "HalfCheetahDirEnv": "half_cheetah_dir",
    "HalfCheetahDirVectorEnv": "half_cheetah_dir",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'memenvs.envs' has no attribute {name!r}")
    return getattr(importlib.import_module(f"memenvs.envs.{module}"), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
