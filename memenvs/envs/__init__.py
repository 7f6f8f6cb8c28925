"""Environment cores, the generic facades over them, and the shared renderer."""

from memenvs.envs.core import Core, State
from memenvs.envs.maze import BlindMaze4x4Env, Maze4x4Env, RandomMazeEnv
from memenvs.envs.nonstationary_cartpole import NonstationaryCartPoleEnv, NonstationaryCartPoleVectorEnv  # noqa: F401
from memenvs.envs.single import MemoryEnv
from memenvs.envs.tmaze import TMazeEnv, TMazeVectorEnv
from memenvs.envs.traffic import TrafficEnv, TrafficVectorEnv
from memenvs.envs.two_step import TwoStepEnv, TwoStepVectorEnv
from memenvs.envs.vector import MemoryVectorEnv
from memenvs.envs.warehouse import MiniWarehouseEnv, MiniWarehouseVectorEnv, WarehouseEnv, WarehouseVectorEnv

__all__ = [
    "Core",
    "State",
    "MemoryEnv",
    "MemoryVectorEnv",
    "TMazeEnv",
    "TMazeVectorEnv",
    "Maze4x4Env",
    "BlindMaze4x4Env",
    "RandomMazeEnv",
    "TwoStepEnv",
    "TwoStepVectorEnv",
    "WarehouseEnv",
    "WarehouseVectorEnv",
    "MiniWarehouseEnv",
    "MiniWarehouseVectorEnv",
    "TrafficEnv",
    "TrafficVectorEnv",
]
