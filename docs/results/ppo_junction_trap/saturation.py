"""How a trapped recurrent PPO policy sees the junction: its action probabilities there and in the corridor, how
saturated its LSTM cell is when the junction comes, and how strongly the junction bit of the observation reaches
the cell (docs/results/ppo_junction_trap.md, "Adam's epsilon").

    python docs/results/ppo_junction_trap/saturation.py docs/results/tmaze_acceptance/runs/<run_id> [...]

For each run folder of ``memenvs compare`` (a ``lstm`` run on the passive T-maze; the models are not committed:
rerun the acceptance command to get them), feeds the actor the observations of an episode walked on schedule
(cue north, then the corridor, then the junction; Ni et al.'s ``(junction, y)`` observation plus the time feature
the actor does not see) and prints: p(action) at the junction and at corridor step ``length // 2``; the share of
cell units with ``|tanh c| > 0.95`` and the mean ``|c|`` just before the junction; the mean absolute input weight
of the junction bit and of the cue (``y``) in the LSTM.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from memenvs.baselines.compare.saved_models import load_model


def describe(run: Path) -> str:
    model = load_model(run / "model.zip")
    policy = model.policy
    steps = int(model.memenvs_spec["env_kwargs"]["length"]) + 1
    obs = torch.zeros(steps, 3)
    obs[0, 1] = 1.0  # the cue: north
    obs[-1, 0] = 1.0  # the junction
    obs[:, 2] = torch.arange(steps) / steps  # the time feature (hidden from the actor)
    with torch.no_grad():
        features = policy.extract_features(obs, policy.pi_features_extractor)
        features = features[0] if isinstance(features, tuple) else features
        rnn = policy.lstm_actor.rnn
        zeros = torch.zeros(rnn.num_layers, 1, rnn.hidden_size)
        outputs, (_, cell) = rnn(features[:-1].unsqueeze(1), (zeros, zeros))
        last, _ = rnn(features[-1:].unsqueeze(1), (outputs[-1:].transpose(0, 1).contiguous(), cell))
        latent = torch.cat([outputs[:, 0], last[:, 0]])
        probs = torch.softmax(policy.action_net(policy.mlp_extractor.forward_actor(latent)), -1)
    fmt = " ".join
    junction = fmt(f"{p:.4f}" for p in probs[-1].tolist())
    corridor = fmt(f"{p:.4f}" for p in probs[steps // 2].tolist())
    saturated = (cell.tanh().abs() > 0.95).float().mean().item()
    weights = rnn.weight_ih_l0.abs().mean(0)
    return (f"{run.name}: p(N E S W) at the junction {junction}, at step {steps // 2} {corridor}; before the "
            f"junction {saturated:.0%} of the cell units saturated, mean |c| {cell.abs().mean().item():.2f}; "
            f"input weights |W| junction bit {weights[0].item():.3f}, cue {weights[1].item():.3f}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(describe(Path(arg)))
