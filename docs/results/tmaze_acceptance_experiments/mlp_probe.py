"""Where PPO's memoryless MLP goes on a long passive T-maze: its action probabilities at the cue cell, in the
corridor and at the junction (and the critic's values there) every twelfth of training, then the final policy's
deterministic evaluation (200 episodes, seed 10000 + seed).

    python docs/results/tmaze_acceptance_experiments/mlp_probe.py LENGTH SEED STEPS ['{"learning_rate": 1e-3}']

Family defaults of ``make_model("mlp", "memenvs/TMaze-v0", variant="passive")`` with 16 copies, plus the
algorithm overrides given as a Python dict literal (``"pk"`` in it: policy kwargs). One torch thread.
"""

import ast
import sys

import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback

from memenvs.baselines import evaluate, make_model

# Ni et al.'s observations: the cue cell on its first visit (both cues), a corridor cell, the junction.
PROBES = th.tensor([[0.0, 1.0], [0.0, -1.0], [0.0, 0.0], [1.0, 0.0]])


class Probe(BaseCallback):
    """Prints p(north, east, south, west) and V at the probe observations every ``every`` steps."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every, self.next = every, 0

    def _on_step(self) -> bool:
        if self.num_timesteps >= self.next:
            self.next += self.every
            with th.no_grad():
                p = self.model.policy.get_distribution(PROBES).distribution.probs.numpy().round(3)
                v = self.model.policy.predict_values(PROBES).numpy().ravel().round(2)
            returns = [e["r"] for e in self.model.ep_info_buffer] or [np.nan]
            print(f"{self.num_timesteps:>7}  cue(N) {p[0]}  corridor {p[2]}  junction {p[3]}  V {v}  "
                  f"training return {np.mean(returns):.2f}", flush=True)
        return True


def main() -> None:
    th.set_num_threads(1)
    length, seed, steps = (int(a) for a in sys.argv[1:4])
    overrides = ast.literal_eval(sys.argv[4]) if len(sys.argv) > 4 else {}
    policy_kwargs = overrides.pop("pk", None)
    model = make_model("mlp", "memenvs/TMaze-v0", seed=seed, n_envs=16, policy_kwargs=policy_kwargs,
                       env_kwargs={"variant": "passive", "length": length}, **overrides)
    print("actions: north, east, south, west")
    model.learn(steps, callback=Probe(max(1, steps // 12)))
    final = evaluate(model, n_episodes=200, seed=10_000 + seed)
    print(f"final success {final.success_rate:.3f} return {final.mean_return:.3f}")


if __name__ == "__main__":
    main()
