"""``lstm_dqn`` on the length-100 passive T-maze with its LSTM's forget gates starting at bias 1 (as ``gru_dqn``'s
update gates do), through ``memenvs compare`` (which has no policy-kwargs flag, hence this script).

    python docs/results/tmaze_acceptance_experiments/forget_bias.py OUT SEED [SEED ...]
"""

import dataclasses
import sys

from memenvs.baselines import compare, hyperparams


def main() -> None:
    record = hyperparams.BASELINES["lstm_dqn"]
    hyperparams.BASELINES["lstm_dqn"] = dataclasses.replace(
        record, policy_kwargs={**record.policy_kwargs, "forget_bias": 1.0})
    compare.compare(envs=["memenvs/TMaze-v0:variant=passive,length=100"], baselines=["lstm_dqn"],
                    seeds=[int(s) for s in sys.argv[2:]], eval_episodes=100, workers=1, out=sys.argv[1], quiet=True)


if __name__ == "__main__":
    main()
