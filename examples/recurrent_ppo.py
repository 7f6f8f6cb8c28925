"""sb3-contrib's RecurrentPPO (an LSTM policy) on a memenvs id, and the evaluation loop that carries its state.

    python examples/recurrent_ppo.py

``model.predict`` takes the LSTM state and a per-copy ``episode_start`` flag and returns the next state; the state
of a copy is reset where its episode started. ``memenvs.baselines.evaluate`` does the same for every baseline.
"""

from __future__ import annotations

import numpy as np
from sb3_contrib import RecurrentPPO

from memenvs.sb3 import make_vec_env

ENV_ID, ENV_KWARGS = "memenvs/TMaze-v0", {"variant": "passive", "length": 8}


def evaluate(model: RecurrentPPO, n_episodes: int, n_envs: int = 4, seed: int = 1) -> float:
    venv = make_vec_env(ENV_ID, n_envs=n_envs, seed=seed, **ENV_KWARGS)
    obs, state = venv.reset(), None
    starts = np.ones(n_envs, dtype=bool)
    returns, running = [], np.zeros(n_envs)
    while len(returns) < n_episodes:
        action, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
        obs, reward, done, _ = venv.step(action)
        running += reward
        returns += running[done].tolist()
        running[done] = 0.0
        starts = done
    venv.close()
    return float(np.mean(returns[:n_episodes]))


def main(total_timesteps: int = 30_000, n_envs: int = 16, eval_episodes: int = 50) -> float:
    venv = make_vec_env(ENV_ID, n_envs=n_envs, seed=0, **ENV_KWARGS)
    model = RecurrentPPO(
        "MlpLstmPolicy", venv, n_steps=32, batch_size=128, learning_rate=2e-3, seed=0, device="cpu",
        policy_kwargs={"lstm_hidden_size": 32},
    )
    model.learn(total_timesteps)
    mean = evaluate(model, eval_episodes)
    print(f"RecurrentPPO (LSTM) on {ENV_ID} {ENV_KWARGS}: mean return {mean:.3f} over {eval_episodes} episodes")
    return mean


if __name__ == "__main__":
    main()
