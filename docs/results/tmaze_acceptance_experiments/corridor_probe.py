"""Where a saved recurrent PPO model stops walking the passive T-maze's corridor on schedule: for each cue, its
action distribution at every step of an episode driven east along the corridor (the schedule) and then north, with
the recurrent state the policy itself carries; and how often its sampled actions stay on schedule.

    python docs/results/tmaze_acceptance_experiments/corridor_probe.py MODEL.zip LENGTH [EPISODES]

MODEL.zip: a model saved by ``memenvs compare`` (``runs/<run_id>/model.zip``, or a mid-run checkpoint's
``model-<steps>.zip``). Prints, per cue, p(east) along the corridor (mean, minimum and the product, which is the
chance of reaching the junction on schedule) and the junction's p(north, east, south, west); then the outcomes of
EPISODES sampled episodes (default 100).
"""

import collections
import sys

import gymnasium as gym
import numpy as np
import torch as th

import memenvs  # noqa: F401  (registers the envs)
from memenvs.baselines.compare.saved_models import ModelPolicy, _Tap, load_model
from memenvs.envs.tmaze import EAST, NORTH


def main(path: str, length: int, episodes: int) -> None:
    th.set_num_threads(1)
    model = load_model(path)
    probs: list[np.ndarray] = []
    get_distribution = model.policy.get_distribution

    def recording(*args, **kwargs):
        out = get_distribution(*args, **kwargs)
        dist = out[0] if isinstance(out, tuple) else out
        probs.append(dist.distribution.probs[0].detach().numpy().copy())
        return out

    model.policy.get_distribution = recording
    env = _Tap(gym.make("memenvs/TMaze-v0", variant="passive", length=length))
    seen = set()
    for seed in range(16):  # the cue is drawn at reset: find both
        obs, _ = env.reset(seed=seed)
        cue = tuple(float(x) for x in np.asarray(obs).round(3))
        if cue in seen:
            continue
        seen.add(cue)
        policy = ModelPolicy(model, env, deterministic=True)
        probs.clear()
        for t in range(length + 1):
            policy(obs)
            obs, *_ = env.step(EAST if t < length else NORTH)
        p = np.array(probs)
        east = p[:length, EAST]
        print(f"cue {cue}: corridor p(east) mean {east.mean():.4f}, min {east.min():.4f} (step {east.argmin()}), "
              f"product {np.prod(east):.3g}; junction p(N, E, S, W) {np.round(p[length], 4).tolist()}")
    model.policy.get_distribution = get_distribution
    policy = ModelPolicy(model, env, deterministic=False)
    outcomes = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=10_000 + episode)
        policy.reset()
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total, done = total + float(reward), terminated or truncated
        outcomes.append((total, bool(info.get("success", False))))
    returns = np.array([r for r, _ in outcomes])
    print(f"{episodes} sampled episodes: mean return {returns.mean():.3f}, success "
          f"{np.mean([s for _, s in outcomes]):.2f}, on schedule to the end (return >= 0) "
          f"{np.mean(returns >= 0):.2f}; returns {collections.Counter(returns.round(2)).most_common(3)}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 100)
