"""One PPO run on the passive T-maze, measured for the junction trap (docs/results/ppo_junction_trap.md).

    python docs/results/ppo_junction_trap/trap.py --baseline mlp --length 20 --seed 0 --steps 100000 \
        [--radius 4] [--eps 0.1 | --tanh-bound 3] [--ov ent_coef=0.01 ...] [--pk KEY=VALUE ...]

Trains ``make_model(baseline, "memenvs/TMaze-v0", variant="passive", length=L)`` with the family defaults plus the
given algorithm (``--ov``) and policy (``--pk``) overrides, evaluates the policy deterministically every ``--every``
steps (100 episodes) and at the end (200 episodes, seed 10000 + seed), reads p(actions | junction reached on
schedule) for both cues, and prints one JSON line. ``--radius`` sets the policies' ``logit_radius`` (None: the
plain categorical, whatever the family default); ``--eps`` (a probability floor, ``(1 - eps) softmax + eps / 4``)
and ``--tanh-bound`` (logits ``c tanh(z / c)``) are the two alternatives measured against it, kept here only.
One torch thread.
"""

import argparse
import ast
import dataclasses
import json
import time

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.distributions import CategoricalDistribution
from torch.distributions import Categorical

from memenvs.baselines import PeriodicEvaluation, evaluate, models
from memenvs.baselines.policies.distributions import BoundedActorCriticPolicy
from memenvs.baselines.policies.memory_policy import MemoryActorCriticPolicy

ENV = "memenvs/TMaze-v0"


class FloorCategorical(CategoricalDistribution):
    """The alternatives: a probability floor ``eps`` (a mixture with the uniform) or ``tanh``-bounded logits."""

    def __init__(self, action_dim: int, eps: float, bound: float | None) -> None:
        super().__init__(action_dim)
        self.eps, self.bound = eps, bound

    def proba_distribution(self, action_logits):
        if self.bound:
            action_logits = self.bound * th.tanh(action_logits / self.bound)
        if self.eps:
            probs = (1 - self.eps) * th.softmax(action_logits, -1) + self.eps / self.action_dim
            self.distribution = Categorical(probs=probs)
        else:
            self.distribution = Categorical(logits=action_logits)
        return self


def floor_policy(base):
    class Floor(base):
        def __init__(self, *args, floor_eps=0.0, floor_bound=None, **kwargs):
            self.floor = (floor_eps, floor_bound)
            super().__init__(*args, **kwargs)

        def _build(self, lr_schedule):
            self.action_dist = FloorCategorical(int(self.action_space.n), *self.floor)
            super()._build(lr_schedule)

    return Floor


def junction_probs(model, length: int) -> dict[str, list[float]]:
    """p(north, east, south, west | junction) after walking east on schedule, for each cue."""
    pol, out = model.policy, {}
    for goal in ("north", "south"):
        env = gym.make(ENV, variant="passive", length=length)
        obs, _ = env.reset(seed=0, options={"goal": goal})
        state, start = None, th.ones(1)
        for t in range(length + 1):
            x, _ = pol.obs_to_tensor(obs[None])
            with th.no_grad():
                if isinstance(pol, MemoryActorCriticPolicy):
                    if state is None:
                        shape = (pol.lstm_actor.num_layers, 1, pol.lstm_actor.hidden_size)
                        state = (th.zeros(shape), th.zeros(shape))
                    dist, state = pol.get_distribution(x, state, start)
                else:
                    dist = pol.get_distribution(x)
            start = th.zeros(1)
            if t == length:
                out[goal] = [round(float(p), 5) for p in dist.distribution.probs[0]]
            obs, *_ = env.step(1)
        env.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default="mlp")
    ap.add_argument("--length", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--n-envs", type=int, default=16)
    ap.add_argument("--every", type=int, default=10_000)
    ap.add_argument("--radius", type=float, default=None)
    ap.add_argument("--eps", type=float, default=0.0)
    ap.add_argument("--tanh-bound", type=float, default=None)
    ap.add_argument("--ov", nargs="*", default=[])
    ap.add_argument("--pk", nargs="*", default=[])
    a = ap.parse_args()
    th.set_num_threads(1)
    ov = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in a.ov)}
    pk = {k: ast.literal_eval(v) for k, v in (s.split("=", 1) for s in a.pk)}
    pk["logit_radius"] = a.radius
    if a.eps or a.tanh_bound:
        pk.update(floor_eps=a.eps, floor_bound=a.tanh_bound)
        models.POLICIES["floor_memory"] = floor_policy(MemoryActorCriticPolicy)
        models.POLICIES["floor_mlp"] = floor_policy(BoundedActorCriticPolicy)
        resolve = models.resolve

        def floored(baseline, env_id, env_kwargs=None):
            record = resolve(baseline, env_id, env_kwargs)
            return dataclasses.replace(record, policy="floor_memory" if record.policy == "memory" else "floor_mlp")

        models.resolve = floored
    model = models.make_model(a.baseline, ENV, seed=a.seed, n_envs=a.n_envs,
                              env_kwargs={"variant": "passive", "length": a.length}, policy_kwargs=pk, **ov)
    periodic = PeriodicEvaluation(a.every, n_episodes=100, seed=20_000)
    start = time.time()
    model.learn(a.steps, callback=periodic)
    train_s = time.time() - start
    final = evaluate(model, n_episodes=200, seed=10_000 + a.seed)
    points = [(p["steps"], round(p["success"], 3), round(p["return"], 4)) for p in periodic.points]
    best = periodic.best
    print(json.dumps({
        "baseline": a.baseline, "L": a.length, "seed": a.seed, "steps": a.steps, "radius": a.radius, "eps": a.eps,
        "tanh_bound": a.tanh_bound, "ov": a.ov, "pk": a.pk,
        "algo": {k: getattr(model, k, None) for k in ("n_steps", "batch_size", "n_epochs", "ent_coef", "gamma")},
        "lr": float(model.lr_schedule(1)),
        "final_success": round(final.success_rate, 3), "final_return": round(final.mean_return, 4),
        "best": [best["steps"], round(best["success"], 3), round(best["return"], 4)],
        "solved_at": next((p[0] for p in points if p[1] >= 0.9), None),
        "junction": junction_probs(model, a.length), "train_s": round(train_s, 1), "curve": points,
    }), flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
