"""Stable-Baselines3 PPO on a memenvs id, stepping the native batched env through ``memenvs.sb3.make_vec_env``.

    python examples/sb3_ppo.py

A memoryless MLP: on the passive T-maze it cannot know at the junction which arm the cue pointed to (see
``recurrent_ppo.py`` for a policy with memory, and ``memenvs compare`` for tuned memory baselines).
"""

from __future__ import annotations

from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy

from memenvs.sb3 import make_vec_env

ENV_ID, ENV_KWARGS = "memenvs/TMaze-v0", {"variant": "passive", "length": 8}


def main(total_timesteps: int = 30_000, n_envs: int = 16, eval_episodes: int = 50) -> float:
    venv = make_vec_env(ENV_ID, n_envs=n_envs, seed=0, **ENV_KWARGS)
    model = PPO("MlpPolicy", venv, n_steps=32, batch_size=128, learning_rate=2e-3, seed=0, device="cpu")
    model.learn(total_timesteps)
    eval_env = make_vec_env(ENV_ID, n_envs=4, seed=1, **ENV_KWARGS)
    mean, std = evaluate_policy(model, eval_env, n_eval_episodes=eval_episodes, deterministic=True)
    print(f"PPO (MLP) on {ENV_ID} {ENV_KWARGS}: return {mean:.3f} +- {std:.3f} over {eval_episodes} episodes")
    return mean


if __name__ == "__main__":
    main()
