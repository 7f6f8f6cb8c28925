"""RLlib PPO with its LSTM on a memenvs id, sampled by a remote env runner (a separate Ray worker process).

    python examples/rllib_ppo.py

A remote env runner is a fresh process that has not imported memenvs, so a plain ``"memenvs/TMaze-v0"`` is unknown
there. Either name the id with its module, ``"memenvs:memenvs/TMaze-v0"`` (Gymnasium imports ``memenvs`` before
looking the id up, in every process), as :func:`main` does, or register a creator that imports memenvs itself
(:func:`register_tmaze`) and pass its name.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

ENV_KWARGS = {"variant": "passive", "length": 8}


def make_tmaze(config: dict[str, Any]) -> gym.Env:
    """An env creator for ``ray.tune.register_env``: it runs in the env runner, so it imports memenvs there."""
    import memenvs  # noqa: F401  (registers the ids in this process)

    return gym.make("memenvs/TMaze-v0", **config)


def register_tmaze(name: str = "tmaze") -> str:
    from ray import tune

    tune.register_env(name, make_tmaze)
    return name


def main(iterations: int = 20, batch_size: int = 2000, num_env_runners: int = 1) -> float:
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    ray.init(ignore_reinit_error=True, include_dashboard=False)
    config = (
        PPOConfig()
        .environment("memenvs:memenvs/TMaze-v0", env_config=ENV_KWARGS)  # or: .environment(register_tmaze(), ...)
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=2)
        .training(train_batch_size_per_learner=batch_size, minibatch_size=min(batch_size, 256), num_epochs=4)
        .rl_module(model_config=DefaultModelConfig(use_lstm=True, lstm_cell_size=32, max_seq_len=16))
    )
    algo = config.build_algo()
    try:
        for _ in range(iterations):
            result = algo.train()
    finally:
        algo.stop()
    mean = float(result["env_runners"]["episode_return_mean"])
    print(f"RLlib PPO (LSTM) on memenvs/TMaze-v0 {ENV_KWARGS}: training episode return {mean:.3f}")
    return mean


if __name__ == "__main__":
    main()
