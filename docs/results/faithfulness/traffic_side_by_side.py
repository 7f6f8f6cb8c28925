"""Traffic side by side with the authors' SUMO environment (INFLUENCEorg/influence-aware-memory, LoopNetwork).

Needs the authors' repository and SUMO, both outside the project::

    git clone https://github.com/INFLUENCEorg/influence-aware-memory /tmp/scratch/iam
    pip install --target /tmp/scratch/sumo eclipse-sumo==1.20.0 libsumo==1.20.0 traci==1.20.0 sumolib==1.20.0
    python docs/results/faithfulness/traffic_side_by_side.py --authors /tmp/scratch/iam --sumo /tmp/scratch/sumo

Their ``LoopNetwork`` runs as their configs/traffic files set it (scene ``loop_network``, 250-step episodes, no
light bits in the observation) through libsumo; the ``gym`` it imports is replaced by a stand-in. Compared per
policy: return per episode (mean, SD, SE), cars in view per step, how often each observation element is occupied,
and the share of steps with a halted car. Policies: uniform random; a fixed cycle (20 steps per approach); the
reactive script :func:`memenvs.envs.traffic.scripted_action` (more cars on the incoming cells), computed from the
observation only, so both envs are driven by the same rule.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys

import gymnasium as gym
import numpy as np

import memenvs  # noqa: F401  (registers the ids)
from memenvs.envs.traffic import scripted_action

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import fmt, install_gym_stub, summary, z  # noqa: E402

POLICIES = ("random", "cycle", "reactive")


def make_authors(root: str, sumo: str):
    sys.path.insert(0, sumo)
    os.environ["SUMO_HOME"] = os.path.join(sumo, "sumo")
    os.environ["PATH"] = os.path.join(sumo, "sumo", "bin") + os.pathsep + os.environ["PATH"]
    install_gym_stub()
    if root not in sys.path:
        sys.path.insert(0, root)
    from environments.sumo.LoopNetwork import LoopNetwork

    params = {"gui": False, "libsumo": True, "num_frames": 1, "max_episode_steps": 250, "scene": "loop_network",
              "obs_size": 30, "traffic_lights": False}
    with contextlib.redirect_stdout(io.StringIO()):
        return LoopNetwork(params, seed=0)


def act(policy: str, core, obs: np.ndarray, t: int, rng: np.random.Generator) -> np.ndarray:
    if policy == "random":
        return rng.integers(0, 2, len(obs))
    if policy == "cycle":
        return np.full(len(obs), (t // 20) % 2)
    return scripted_action(core, None, obs, know_hidden=False)


def run_memenvs(policy: str, episodes: int, seed: int) -> dict:
    envs = gym.make_vec("memenvs/Traffic-v0", num_envs=episodes)
    core = envs.unwrapped.core
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed + 1)
    total, in_view, halted_steps = np.zeros(episodes), np.zeros(episodes), np.zeros(episodes)
    occupancy = np.zeros(30)
    for t in range(core.max_steps):
        obs, reward, term, trunc, _ = envs.step(act(policy, core, obs, t, rng))
        total += reward
        in_view += obs.sum(axis=1)
        occupancy += obs.sum(axis=0)
        halted_steps += reward < 0
    steps = core.max_steps
    return {"return": summary(total), "cars_in_view": summary(in_view / steps),
            "halted_share": summary(halted_steps / steps), "occupancy": (occupancy / (episodes * steps)).tolist()}


def run_authors(env, core, policy: str, episodes: int, seed: int) -> dict:
    rng = np.random.default_rng(seed + 1)
    totals, in_view, halted = [], [], []
    occupancy = np.zeros(30)
    steps = 0
    for ep in range(episodes):
        env.seed(seed + ep)  # route draws and SUMO's seed follow it
        with contextlib.redirect_stdout(io.StringIO()):
            obs = np.asarray(env.reset(), dtype=np.float32)
        done, total, seen, stopped, t = False, 0.0, 0.0, 0, 0
        while not done:
            obs, reward, done, _ = env.step(int(act(policy, core, obs[None], t, rng)[0]))
            obs = np.asarray(obs, dtype=np.float32)
            total += reward
            seen += obs.sum()
            occupancy += obs
            stopped += reward < 0
            t += 1
        steps += t
        totals.append(total)
        in_view.append(seen / t)
        halted.append(stopped / t)
    return {"return": summary(totals), "cars_in_view": summary(in_view), "halted_share": summary(halted),
            "occupancy": (occupancy / steps).tolist()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", default="/tmp/scratch/iam")
    parser.add_argument("--sumo", default="/tmp/scratch/sumo/pkgs")
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    core = gym.make("memenvs/Traffic-v0").unwrapped.core
    env = make_authors(args.authors, args.sumo)
    results = {}
    print("| policy | source | return per episode | cars in view per step | share of steps with a halted car |"
          " z (return) |")
    print("|---|---|---|---|---|---|")
    for policy in POLICIES:
        ours = run_memenvs(policy, args.episodes, args.seed)
        theirs = run_authors(env, core, policy, args.episodes, args.seed)
        results[policy] = {"memenvs": ours, "authors": theirs}
        print(f"| {policy} | memenvs | {fmt(ours['return'])} | {fmt(ours['cars_in_view'])} | "
              f"{fmt(ours['halted_share'])} | {z(ours['return'], theirs['return']):+.1f} |")
        print(f"| {policy} | SUMO (authors) | {fmt(theirs['return'])} | {fmt(theirs['cars_in_view'])} | "
              f"{fmt(theirs['halted_share'])} | |")
    for policy, pair in results.items():
        print(f"\n{policy}: share of steps each observation element is occupied (memenvs / SUMO)")
        print(" ".join(f"{i}:{a:.3f}/{b:.3f}" for i, (a, b) in
                       enumerate(zip(pair["memenvs"]["occupancy"], pair["authors"]["occupancy"]))))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
