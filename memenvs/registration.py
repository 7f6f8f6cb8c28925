"""The one table of every environment id memenvs registers with Gymnasium."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym


@dataclass(frozen=True)
class EnvEntry:
    """One registered id: where its single and vector classes live, fixed kwargs, a one-line summary, and whether
    it runs in real time (``memenvs play`` steps it on a clock rather than once per key press)."""

    id: str
    entry_point: str
    vector_entry_point: str | None
    summary: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    realtime: bool = False


ENVS: tuple[EnvEntry, ...] = (
    EnvEntry(
        "memenvs/TMaze-v0",
        "memenvs.envs.tmaze:TMazeEnv",
        "memenvs.envs.tmaze:TMazeVectorEnv",
        "Bakker's T-maze: carry a cue seen at the start down a corridor (variants bakker, bakker_active, and Ni et "
        "al.'s passive and active).",
    ),
    EnvEntry(
        "memenvs/Maze4x4-v0",
        "memenvs.envs.maze:Maze4x4Env",
        "memenvs.envs.maze:Maze4x4VectorEnv",
        "Fixed 4x4 maze seen as a one-hot position: the sanity check (a memoryless policy is optimal).",
    ),
    EnvEntry(
        "memenvs/BlindMaze4x4-v0",
        "memenvs.envs.maze:BlindMaze4x4Env",
        "memenvs.envs.maze:BlindMaze4x4VectorEnv",
        "The 4x4 maze with a constant observation: execute a remembered plan (random_start=True: one for all starts).",
    ),
    EnvEntry(
        "memenvs/RandomMaze-v0",
        "memenvs.envs.maze:RandomMazeEnv",
        "memenvs.envs.maze:RandomMazeVectorEnv",
        "Random perfect NxN maze per episode seen through an egocentric window of radius view: explore and remember.",
    ),
    EnvEntry("memenvs/TwoStep-v0", "memenvs.envs.two_step:TwoStepEnv", "memenvs.envs.two_step:TwoStepVectorEnv",
             "Two-step task (Daw 2011 / Wang 2018): infer the drifting good state from transitions and rewards."),
    EnvEntry("memenvs/Warehouse-v0", "memenvs.envs.warehouse:WarehouseEnv",
             "memenvs.envs.warehouse:WarehouseVectorEnv",
             "IAM warehouse (Suau et al.): collect border items that vanish after 8 steps; ages are hidden."),
    EnvEntry("memenvs/MiniWarehouse-v0", "memenvs.envs.warehouse:MiniWarehouseEnv",
             "memenvs.envs.warehouse:MiniWarehouseVectorEnv",
             "IAM warehouse, the authors' 5x5 code: at most 4 items living 16 steps; the oldest pays most."),
    EnvEntry("memenvs/Traffic-v0", "memenvs.envs.traffic:TrafficEnv", "memenvs.envs.traffic:TrafficVectorEnv",
             "IAM traffic control on the authors' figure-8: one light, SUMO's car model in NumPy, cars return unseen."),
    EnvEntry("memenvs/NonstationaryCartPole-v0", "memenvs.envs.nonstationary_cartpole:NonstationaryCartPoleEnv", "memenvs.envs.nonstationary_cartpole:NonstationaryCartPoleVectorEnv", "CartPole whose physics (pole, gravity, force, inverted actions) switch on a seeded schedule of episodes.", realtime=True),  # noqa: E501
    EnvEntry("memenvs/Navigation2D-v0", "memenvs.envs.navigation2d:Navigation2DEnv",
             "memenvs.envs.navigation2d:Navigation2DVectorEnv",
             "MAML's 2D navigation (meta-RL): reach a goal seen only through the reward; the goal is the task."),
    EnvEntry("memenvs/HalfCheetahDir-v0", "memenvs.envs.half_cheetah_dir:HalfCheetahDirEnv",
             "memenvs.envs.half_cheetah_dir:HalfCheetahDirVectorEnv",
             "MAML's HalfCheetahDir (meta-RL): run forward or backward, the direction seen only in the reward "
             "(mujoco extra)."),
    EnvEntry("memenvs/FlickeringPong-v0", "memenvs.envs.atari:make_flickering_atari", None,
             "DRQN's Flickering Pong: ALE Pong, 84x84 frames blanked with p=0.5 each step (atari extra).",
             {"game": "pong"}, realtime=True),
    EnvEntry("memenvs/FlickeringBreakout-v0", "memenvs.envs.atari:make_flickering_atari", None,
             "Flickering Breakout: ALE Breakout, 84x84 frames blanked with p=0.5 each step (atari extra).",
             {"game": "breakout"}, realtime=True),
    EnvEntry("memenvs/FlickeringAtari-v0", "memenvs.envs.atari:make_flickering_atari", None,
             "Any ALE game (game=..., default pong) with 84x84 frames blanked with p=0.5 (atari extra).",
             realtime=True),
)


def register_envs() -> None:
    """Register every id in :data:`ENVS` with Gymnasium; ids already registered are left alone."""
    for entry in ENVS:
        if entry.id in gym.registry:
            continue
        gym.register(
            id=entry.id,
            entry_point=entry.entry_point,
            vector_entry_point=entry.vector_entry_point,
            kwargs=dict(entry.kwargs),
        )


def env_entry(env_id: str) -> EnvEntry:
    """The table row of ``env_id``; a ``ValueError`` lists the known ids otherwise."""
    for entry in ENVS:
        if entry.id == env_id:
            return entry
    raise ValueError(f"unknown env id {env_id!r}; known ids: {', '.join(e.id for e in ENVS)}")
