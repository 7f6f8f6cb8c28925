"""Continue a trapped run at a constant learning rate: does PPO leave the junction trap when given more steps?

    python docs/results/tmaze_acceptance_experiments/continue_trapped.py MODEL.zip LENGTH

Loads a model saved by ``memenvs compare`` (e.g. the acceptance run's ``length-10__lstm__s2`` run, which ended
walking the corridor and staying at the junction), trains it four more times for ``2520 x (LENGTH + 1)`` steps
(half its original budget each) at the family's initial learning rate held constant (2e-3) on 16 fresh copies
(seed 5), and prints the deterministic evaluation (200 episodes, seed 1) after each.
"""

import sys

import torch as th
from stable_baselines3.common.utils import ConstantSchedule

from memenvs.baselines import evaluate
from memenvs.baselines.compare import load_model
from memenvs.sb3 import make_vec_env


def main() -> None:
    th.set_num_threads(1)
    path, length = sys.argv[1], int(sys.argv[2])
    model = load_model(path)
    model.set_env(make_vec_env("memenvs/TMaze-v0", n_envs=16, seed=5, variant="passive", length=length))
    model.learning_rate = 2e-3
    model.lr_schedule = ConstantSchedule(2e-3)
    chunk = 2520 * (length + 1)
    for k in range(1, 5):
        model.learn(chunk, reset_num_timesteps=False)
        result = evaluate(model, n_episodes=200, seed=1)
        print(f"{k * chunk} more steps: success {result.success_rate:.3f} return {result.mean_return:.3f}", flush=True)


if __name__ == "__main__":
    main()
