"""How a trapped recurrent PPO policy sees the junction: its action probabilities there and along the corridor, how
saturated its memory (the LSTM's cell, the GRU's state) is when the junction comes, and how strongly the junction
bit of the observation reaches it (docs/results/ppo_junction_trap.md, "Adam's epsilon").

    python docs/results/ppo_junction_trap/saturation.py docs/results/tmaze_acceptance/runs/<run_id> [...]

For each run folder of ``memenvs compare`` (an ``lstm`` or ``gru`` run on the passive T-maze; the models are not
committed: rerun the run's command to get them), feeds the actor the observations of an episode walked on schedule
(the cue, then the corridor, then the junction; Ni et al.'s ``(junction, y)`` observation plus the time feature the
actor does not see), once per cue, and prints: p(action) at the junction; the smallest p(east) along the corridor
and its product over the corridor (the chance that a sampled episode stays on schedule); the share of memory units
above 0.95 in size just before the junction (``|tanh c|`` for the LSTM, ``|h|`` for the GRU); the mean absolute
input weight of the junction bit and of the cue (``y``) in the first layer.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from memenvs.baselines.compare.saved_models import load_model


def describe(run: Path) -> str:
    model = load_model(run / "model.zip")
    policy = model.policy
    rnn = policy.lstm_actor.rnn
    lstm = isinstance(rnn, torch.nn.LSTM)
    steps = int(model.memenvs_spec["env_kwargs"]["length"]) + 1
    parts = []
    for name, cue in (("north", 1.0), ("south", -1.0)):
        obs = torch.zeros(steps, 3)
        obs[0, 1] = cue
        obs[-1, 0] = 1.0  # the junction
        obs[:, 2] = torch.arange(steps) / steps  # the time feature (hidden from the actor)
        with torch.no_grad():
            features = policy.extract_features(obs, policy.pi_features_extractor)
            features = features[0] if isinstance(features, tuple) else features
            zeros = torch.zeros(rnn.num_layers, 1, rnn.hidden_size)
            if lstm:
                outputs, (hidden, cell) = rnn(features[:-1].unsqueeze(1), (zeros, zeros))
                last, _ = rnn(features[-1:].unsqueeze(1), (hidden, cell))
                memory = cell.tanh()  # what the LSTM's output gate reads
            else:  # a GRU: its state is its output, bounded by 1
                outputs, memory = rnn(features[:-1].unsqueeze(1), zeros)
                last, _ = rnn(features[-1:].unsqueeze(1), memory)
            latent = torch.cat([outputs[:, 0], last[:, 0]])
            probs = torch.softmax(policy.action_net(policy.mlp_extractor.forward_actor(latent)), -1)
        junction = " ".join(f"{p:.4f}" for p in probs[-1].tolist())
        corridor = probs[:-1, 1]
        saturated = (memory.abs() > 0.95).float().mean().item()
        parts.append(f"cue {name}: p(N E S W) at the junction {junction}; p(east) along the corridor min "
                     f"{corridor.min().item():.4f}, product {corridor.prod().item():.3f}; before the junction "
                     f"{saturated:.0%} of the {'cell' if lstm else 'state'} units saturated")
    weights = rnn.weight_ih_l0.abs().mean(0)
    return (f"{run.name} ({type(rnn).__name__}): " + "; ".join(parts)
            + f"; input weights |W| junction bit {weights[0].item():.3f}, cue {weights[1].item():.3f}")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(describe(Path(arg)))
