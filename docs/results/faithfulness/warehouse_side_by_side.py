"""Warehouse and MiniWarehouse side by side with the authors' env code (INFLUENCEorg/influence-aware-memory).

Needs the authors' repository outside the project::

    git clone https://github.com/INFLUENCEorg/influence-aware-memory /tmp/scratch/iam
    python docs/results/faithfulness/warehouse_side_by_side.py --authors /tmp/scratch/iam --episodes 2000

Compared, per configuration and policy: return per episode (mean, SD, SE), items present per step, new items per
cell per step, and how often an item of each age is present. Configurations: ``Warehouse-v0`` (the paper's text),
``Warehouse-v0`` with ``authors_code=True`` against ``environments/warehouse/warehouse.py`` (the 7x7 code), and
``MiniWarehouse-v0`` against ``environments/warehouse_memory/mini_warehouse.py``. Policies: uniform random, and
the greedy script (:func:`memenvs.envs.warehouse.scripted_action`, nearest visible item, computed from the
observation only, so both envs are driven by the same rule). Prints a Markdown table and writes JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys

import gymnasium as gym
import numpy as np

import memenvs  # noqa: F401  (registers the ids)
from memenvs.envs.warehouse import scripted_action

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import fmt, install_gym_stub, summary, z  # noqa: E402

CONFIGS = {
    # name: (memenvs id, kwargs, authors' module, max age shown in the histogram)
    "Warehouse (paper text)": ("memenvs/Warehouse-v0", {}, "warehouse", 12),
    "Warehouse authors_code": ("memenvs/Warehouse-v0", {"authors_code": True}, "warehouse", 12),
    "MiniWarehouse": ("memenvs/MiniWarehouse-v0", {}, "warehouse_memory", 18),
}


def make_authors(root: str, module: str):
    install_gym_stub()
    if root not in sys.path:
        sys.path.insert(0, root)
    with contextlib.redirect_stdout(io.StringIO()):
        if module == "warehouse":
            from environments.warehouse.warehouse import Warehouse

            return Warehouse(seed=None, parameters={"num_frames": 1, "obs_size": 73})
        from environments.warehouse_memory.mini_warehouse import MiniWarehouse

        return MiniWarehouse(seed=None)


def act(policy: str, core, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if policy == "random":
        return rng.integers(0, 4, len(obs))
    cell = np.argmax(obs[:, : core.n_cells], axis=1)
    seen = np.where(obs[:, core.n_cells:] > 0, 0, -1)
    return scripted_action(core, cell, seen, know_ages=False)


def run_memenvs(env_id: str, kwargs: dict, policy: str, episodes: int, seed: int, max_age: int) -> dict:
    envs = gym.make_vec(env_id, num_envs=episodes, **kwargs)
    core = envs.unwrapped.core
    obs, _ = envs.reset(seed=seed)
    rng = np.random.default_rng(seed + 1)
    total = np.zeros(episodes)
    items = np.zeros(episodes)
    new = np.zeros(core.n_items)
    ages = np.zeros(max_age + 1)
    for _ in range(core.max_steps):
        obs, reward, term, trunc, _ = envs.step(act(policy, core, obs, rng))
        total += reward
        age = envs.unwrapped.hidden_state()["item_age"]
        items += (age >= 0).sum(axis=1)
        new += (age == 0).sum(axis=0)
        ages += np.bincount(np.minimum(age[age >= 0], max_age), minlength=max_age + 1)
    assert trunc.all()
    steps = core.max_steps
    return {"return": summary(total), "items_per_step": summary(items / steps),
            "new_per_cell_step": (new / (episodes * steps)).tolist(), "age_hist": (ages / ages.sum()).tolist(),
            "length": steps}


def run_authors(env, core, policy: str, episodes: int, seed: int, max_age: int) -> dict:
    np.random.seed(seed)  # their env draws from NumPy's global generator
    rng = np.random.default_rng(seed + 1)
    slot = {tuple(rc): k for k, rc in enumerate(core.items_rc.tolist())}
    totals, items_per_step = [], []
    new = np.zeros(core.n_items)
    ages = np.zeros(max_age + 1)
    steps = 0
    for _ in range(episodes):
        obs = np.asarray(env.reset(), dtype=np.float32)
        done, total, items, length = False, 0.0, 0, 0
        while not done:
            a = int(act(policy, core, obs[None], rng)[0])
            obs, reward, done, _ = env.step(a)
            obs = np.asarray(obs, dtype=np.float32)
            total += reward
            length += 1
            items += len(env.items)
            for item in env.items:
                w = item.get_waiting_time
                ages[min(w, max_age)] += 1
                if w == 0:
                    new[slot[tuple(item.get_position)]] += 1
        steps += length
        totals.append(total)
        items_per_step.append(items / length)
    return {"return": summary(totals), "items_per_step": summary(items_per_step),
            "new_per_cell_step": (new / steps).tolist(), "age_hist": (ages / ages.sum()).tolist(),
            "length": steps / episodes}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", default="/tmp/scratch/iam")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    results = {}
    print("| env | policy | source | return per episode | items per step | z (return) |")
    print("|---|---|---|---|---|---|")
    for name, (env_id, kwargs, module, max_age) in CONFIGS.items():
        core = gym.make(env_id, **kwargs).unwrapped.core
        authors = make_authors(args.authors, module)
        for policy in ("random", "greedy"):
            ours = run_memenvs(env_id, kwargs, policy, args.episodes, args.seed, max_age)
            theirs = run_authors(authors, core, policy, args.episodes, args.seed, max_age)
            results[f"{name} / {policy}"] = {"memenvs": ours, "authors": theirs}
            zr = z(ours["return"], theirs["return"])
            print(f"| {name} | {policy} | memenvs | {fmt(ours['return'])} | {fmt(ours['items_per_step'])} | "
                  f"{zr:+.2f} |")
            print(f"| {name} | {policy} | authors | {fmt(theirs['return'])} | {fmt(theirs['items_per_step'])} | |")
    for key, pair in results.items():
        print(f"\n{key}: new items per cell per step (memenvs / authors), observation order")
        print(" ".join(f"{a:.4f}/{b:.4f}" for a, b in zip(pair["memenvs"]["new_per_cell_step"],
                                                          pair["authors"]["new_per_cell_step"])))
        shares = zip(pair["memenvs"]["age_hist"], pair["authors"]["age_hist"])
        print("share of present items by age (memenvs / authors): "
              + " ".join(f"{i}:{a:.3f}/{b:.3f}" for i, (a, b) in enumerate(shares)))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
