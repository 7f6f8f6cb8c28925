"""Environment cores, the generic facades over them, and the shared renderer."""

from memenvs.envs.core import Core, State
from memenvs.envs.single import MemoryEnv
from memenvs.envs.tmaze import TMazeEnv, TMazeVectorEnv
from memenvs.envs.vector import MemoryVectorEnv

__all__ = ["Core", "State", "MemoryEnv", "MemoryVectorEnv", "TMazeEnv", "TMazeVectorEnv"]
