"""CleanRL-style: a single-file loop over ``gym.make_vec``, which builds memenvs' native batched env (one NumPy
core for all copies, no per-copy Python objects).

    python examples/cleanrl_make_vec.py

The vector env resets finished copies the way Gymnasium's own vector envs do by default (``NEXT_STEP``): the step
that ends an episode returns its last observation, and the next ``step`` resets that copy and ignores its action.
A recurrent agent therefore clears a copy's state on the step after ``done``, as CleanRL's LSTM scripts do with
``next_done``. Scripts written for the other convention pass ``autoreset_mode=gym.vector.AutoresetMode.SAME_STEP``
and read the last observation from ``info["final_obs"]``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

import memenvs  # noqa: F401  (registers the ids)


class Agent(nn.Module):
    def __init__(self, n_obs: int, n_actions: int, hidden: int = 32) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_obs, hidden)
        self.actor = nn.Linear(hidden, n_actions)

    def act(self, obs: torch.Tensor, state: tuple, done: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        keep = (1.0 - done).view(1, -1, 1)  # a copy whose episode ended starts from a zero state
        out, state = self.lstm(obs.unsqueeze(0), (state[0] * keep, state[1] * keep))
        logits = self.actor(out.squeeze(0))
        return torch.distributions.Categorical(logits=logits).sample(), state


def main(num_envs: int = 64, num_steps: int = 2_000, seed: int = 0) -> list[float]:
    envs = gym.make_vec("memenvs/TMaze-v0", num_envs=num_envs, variant="passive", length=8)
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    torch.manual_seed(seed)
    agent = Agent(envs.single_observation_space.shape[0], envs.single_action_space.n)
    state = (torch.zeros(1, num_envs, 32), torch.zeros(1, num_envs, 32))
    obs, _ = envs.reset(seed=seed)
    done = torch.zeros(num_envs)
    returns: list[float] = []
    with torch.no_grad():
        for _ in range(num_steps):
            action, state = agent.act(torch.as_tensor(obs), state, done)
            obs, reward, terminated, truncated, info = envs.step(action.numpy())
            done = torch.as_tensor(terminated | truncated, dtype=torch.float32)
            if "episode" in info:
                returns += info["episode"]["r"][info["_episode"]].tolist()
    envs.close()
    print(f"{len(returns)} episodes of the untrained LSTM agent, mean return {np.mean(returns):.3f}")
    return returns


if __name__ == "__main__":
    main()
