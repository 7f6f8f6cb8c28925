"""Step memenvs' passive and active T-maze in lockstep with Ni et al.'s own env code, and compare every step.

Needs the authors' repository outside the project::

    git clone https://github.com/twni2016/Memory-RL /tmp/scratch/Memory-RL
    python docs/results/faithfulness/tmaze_lockstep.py --authors /tmp/scratch/Memory-RL

Their ``envs/tmaze.py`` imports the old ``gym``; a minimal stand-in (``Env``, ``spaces.Discrete``, ``spaces.Box``)
is installed in ``sys.modules`` so it runs without it. Their episodes are driven with the same random actions as
memenvs' (their action ids are a permutation of memenvs': 0 east, 1 north, 2 west, 3 south), and the observation,
reward and end of every step must agree exactly. Prints the number of compared steps and the returns per policy.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import types

import numpy as np

from memenvs.envs.tmaze import TMazeEnv

# memenvs action (north, east, south, west) -> Ni et al.'s action (0 x+1, 1 y+1, 2 x-1, 3 y-1)
TO_NI = {0: 1, 1: 0, 2: 3, 3: 2}


def load_authors(path: str) -> types.ModuleType:
    """Import their envs/tmaze.py with a stand-in for the ``gym`` package it imports."""
    gym = types.ModuleType("gym")
    spaces = types.ModuleType("gym.spaces")

    class Discrete:
        def __init__(self, n: int) -> None:
            self.n = n

        def contains(self, a: int) -> bool:
            return 0 <= int(a) < self.n

    class Box:
        def __init__(self, low: float, high: float, shape: tuple, dtype: type) -> None:
            self.shape = shape

    spaces.Discrete, spaces.Box = Discrete, Box
    gym.Env, gym.spaces = object, spaces
    sys.modules["gym"], sys.modules["gym.spaces"] = gym, spaces
    spec = importlib.util.spec_from_file_location("ni_tmaze", f"{path}/envs/tmaze.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_authors(module: types.ModuleType, variant: str, length: int):
    cls = module.TMazeClassicPassive if variant == "passive" else module.TMazeClassicActive
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # their constructor prints the map
        return cls(corridor_length=length, penalty=-1.0 / length)  # the penalty of their configs/envs/tmaze_*.py


def policy_action(name: str, rng: np.random.Generator, t: int, variant: str, length: int, goal: int) -> int:
    if name == "random":
        return int(rng.integers(4))
    if name == "still":  # bump into the north wall every step: never moves (the start is never the junction)
        return 0
    # scripted: the optimal plan, and a random arm half of the time (a memoryless agent's best)
    plan = ([3] if variant == "active" else []) + [1] * (length + (1 if variant == "active" else 0))
    if t < len(plan):
        return plan[t]
    return 0 if goal == 0 else 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", default="/tmp/scratch/Memory-RL")
    parser.add_argument("--episodes", type=int, default=2000)
    args = parser.parse_args(argv)
    module = load_authors(args.authors)
    rng = np.random.default_rng(0)
    steps = 0
    for variant in ("passive", "active"):
        for length in (1, 2, 5, 10):
            ours, theirs = TMazeEnv(variant=variant, length=length), make_authors(module, variant, length)
            for policy in ("random", "still", "scripted"):
                returns = []
                for ep in range(args.episodes):
                    np.random.seed(ep)  # their reset draws the goal with np.random.choice([-1, 1])
                    obs_t = theirs.reset()
                    goal = 0 if theirs.goal_y == 1 else 1
                    obs_o, _ = ours.reset(seed=ep, options={"goal": goal})
                    assert np.array_equal(obs_o, obs_t), (variant, length, obs_o, obs_t)
                    done, t, total = False, 0, 0.0
                    while not done:
                        a = policy_action(policy, rng, t, variant, length, goal if rng.random() < 0.5 else 1 - goal)
                        obs_o, r_o, term, trunc, _ = ours.step(a)
                        obs_t, r_t, done, _ = theirs.step(TO_NI[a])
                        assert np.array_equal(obs_o, obs_t), (variant, length, policy, t, obs_o, obs_t)
                        assert abs(r_o - r_t) < 1e-6, (variant, length, policy, t, r_o, r_t)
                        assert (term or trunc) == done and not trunc, (variant, length, t)
                        total += r_o
                        t += 1
                        steps += 1
                    returns.append(total)
                r = np.array(returns)
                print(f"{variant:8s} L={length:3d} {policy:9s} return {r.mean():+.4f} sd {r.std(ddof=1):.4f} "
                      f"se {r.std(ddof=1) / np.sqrt(len(r)):.4f} length {t}")
    print(f"{steps} steps compared: observation, reward and episode end identical at every step")


if __name__ == "__main__":
    main()
