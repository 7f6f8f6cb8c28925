"""Train one baseline on the passive T-maze with periodic deterministic evaluation; the script behind
docs/results/recurrent_dqn_tmaze.md.

    python docs/results/recurrent_dqn_tmaze/run.py BASELINE LENGTH STEPS SEED ['{"policy_kwargs": {...}}']

16 copies, the baseline's family defaults from ``memenvs.baselines.hyperparams``; every ``STEPS / 20`` env steps the
greedy policy plays 100 episodes (seed 1000); at the end the final policy plays 200 (seed 10000 + SEED), the
figure reported. One torch thread. Prints one line per evaluation and a ``FINAL`` line.
"""

from __future__ import annotations

import json
import sys
import time

import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from memenvs.baselines import evaluate, make_model


def main(argv: list[str]) -> None:
    baseline, length, steps, seed = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    overrides = json.loads(argv[4]) if len(argv) > 4 and argv[4].strip() else {}
    th.set_num_threads(1)
    model = make_model(baseline, "memenvs/TMaze-v0", seed=seed, n_envs=16,
                       env_kwargs={"variant": "passive", "length": length}, **overrides)
    start = time.time()

    class Periodic(BaseCallback):
        def __init__(self, every: int) -> None:
            super().__init__()
            self.every, self.next = every, every

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next:
                self.next += self.every
                result = evaluate(model, n_episodes=100, seed=1000)
                print(f"{self.num_timesteps:8d} {time.time() - start:6.1f}s upd={getattr(model, '_n_updates', 0)} "
                      f"{result}", flush=True)
            return True

    model.learn(steps, callback=Periodic(steps // 20))
    result = evaluate(model, n_episodes=200, seed=10_000 + seed)
    print("FINAL", baseline, length, seed, result, f"{time.time() - start:.0f}s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
