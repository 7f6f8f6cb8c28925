"""How a trained PPO policy walks the passive T-maze's corridor: the recurrent state's drift along it, and how often
its sampled episodes reach the junction on schedule (docs/results/ppo_junction_trap.md, "Why recurrent PPO learns
the corridor one cell at a time").

    python docs/results/ppo_junction_trap/drift.py RUN_DIR [RUN_DIR ...]

``RUN_DIR`` is one run of ``memenvs compare`` with a PPO baseline on ``memenvs/TMaze-v0:variant=passive``
(``runs/<run_id>``, holding ``model.zip``). Through the model's own wrappers, on the env it was trained on (both
saved with the model):

* for a recurrent policy, one deterministic episode: the action at every step (``1`` is east, along the corridor)
  and the size of the actor's state change ``|h_t - h_(t-1)|`` at a few steps. Every corridor cell shows the
  policy the same observation; a state that still moves far into the corridor tells the policy where it is in time;
* for any policy, the share of sampled episodes (actions drawn as in training) that reach the junction on schedule,
  i.e. never pay the schedule penalty: only these episodes show PPO the junction's choice.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch as th
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy
from stable_baselines3.common.vec_env import VecEnv

from memenvs.baselines.compare.saved_models import load_model
from memenvs.baselines.evaluation import model_env
from memenvs.baselines.models import make_vec

PROBE_STEPS = (1, 5, 10, 20, 50, 100, 150, 200)


def model_venv(model: Any, n_envs: int, seed: int) -> VecEnv:
    """The env the model was trained on, ``n_envs`` copies, through the model's own wrappers (``memenvs_spec``)."""
    spec, env_id, env_kwargs = model_env(model, None, None)
    return make_vec(env_id, n_envs, seed, env_kwargs, spec["wrappers"])


def corridor_drift(model: Any) -> tuple[str, dict[int, float]]:
    """One deterministic episode of a recurrent model: its actions as a string and ``|h_t - h_(t-1)|`` of the
    actor's first layer at :data:`PROBE_STEPS`."""
    venv = model_venv(model, 1, 0)
    obs, state, start = venv.reset(), None, np.ones(1, dtype=bool)
    actions, states = [], []
    done = np.zeros(1, dtype=bool)
    while not done[0]:
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=True)
        actions.append(int(action[0]))
        states.append(np.asarray(state[0])[0, 0].copy())  # the actor's h: (layers, n_envs, hidden) -> first layer
        obs, _, done, _ = venv.step(action)
        start = done
    steps = np.linalg.norm(np.diff(np.array(states), axis=0), axis=-1)
    return "".join(map(str, actions)), {t: float(steps[t - 1]) for t in PROBE_STEPS if t <= len(steps)}


def on_schedule_share(model: Any, episodes: int = 512, n_envs: int = 16) -> float:
    """Share of ``episodes`` sampled episodes (stochastic actions) with no negative reward, i.e. on schedule."""
    venv = model_venv(model, n_envs, 1)
    obs, state, start = venv.reset(), None, np.ones(n_envs, dtype=bool)
    penalised = np.zeros(n_envs, dtype=bool)
    finished = on_schedule = 0
    while finished < episodes:
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=False)
        obs, reward, done, _ = venv.step(action)
        penalised |= reward < 0
        finished += int(done.sum())
        on_schedule += int((done & ~penalised).sum())
        penalised[done] = False
        start = done
    return on_schedule / finished


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders of memenvs compare (runs/<run_id>)")
    th.set_num_threads(1)
    for run_dir in ap.parse_args().runs:
        model = load_model(run_dir / "model.zip")
        print(f"{run_dir.name}\n  sampled episodes on schedule to the junction: {on_schedule_share(model):.3f}")
        if isinstance(model.policy, RecurrentActorCriticPolicy):
            actions, drift = corridor_drift(model)
            print(f"  deterministic actions: {actions}\n  |h_t - h_(t-1)|: "
                  + ", ".join(f"t={t}: {v:.3f}" for t, v in drift.items()))


if __name__ == "__main__":
    main()
