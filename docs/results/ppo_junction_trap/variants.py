"""PPO baselines on the passive T-maze with the junction-trap settings switched one at a time
(docs/results/ppo_junction_trap.md, "The critic's time and the uniform-KL bonus").

    python docs/results/ppo_junction_trap/variants.py --out OUT --baselines mlp --length 50 --seeds 0 1 2 3 \
        [--entropy-bonus entropy|uniform_kl] [--radius R|none] [--time-critic on|off] [--forget-bias B] \
        [--obs-shortcut on|off] [--policy-kwargs JSON] [--overrides K=V,...]

Runs ``memenvs compare`` (one worker: the patched defaults live in this process) on
``memenvs/TMaze-v0:variant=passive,length=L`` with the T-maze family's defaults except the named settings:
``--entropy-bonus`` (what ``ent_coef`` rewards), ``--radius`` (``logit_radius``), ``--time-critic`` (the critic told
``t / max_steps`` by the ``time_feature`` wrapper, the actor not), ``--forget-bias`` (the recurrent cores' initial
forget-gate bias), ``--obs-shortcut`` (the recurrent heads read the current observation beside the core's
output), ``--policy-kwargs`` (further policy keyword arguments, as JSON). Unnamed settings keep the family's defaults.
Outputs are compare's: per-seed tables, curves and ``runs/*/result.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json

import torch as th

from memenvs.baselines import hyperparams
from memenvs.baselines.compare import compare


def patch(baseline: str, entropy_bonus: str | None, radius: str | None, time_critic: str | None,
          forget_bias: float | None = None, obs_shortcut: str | None = None,
          extra_policy_kwargs: dict | None = None) -> None:
    """Change the T-maze family's row of ``baseline`` in place (this process only)."""
    row = hyperparams.OVERRIDES[(baseline, "tmaze")]
    policy_kwargs = row.setdefault("policy_kwargs", {})
    if entropy_bonus is not None:
        policy_kwargs["entropy_bonus"] = entropy_bonus
    if radius is not None:
        policy_kwargs["logit_radius"] = None if radius == "none" else float(radius)
    if forget_bias is not None:
        policy_kwargs["forget_bias"] = forget_bias
    policy_kwargs.update(extra_policy_kwargs or {})
    if obs_shortcut is not None:
        policy_kwargs["obs_shortcut"] = obs_shortcut == "on"
    if time_critic == "off":
        policy_kwargs["critic_only_features"] = 0
        row["wrappers"] = tuple(w for w in row.get("wrappers", ()) if w[0] != "time_feature")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--baselines", nargs="+", default=["mlp"])
    ap.add_argument("--length", type=int, default=50)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--entropy-bonus", choices=["entropy", "uniform_kl"])
    ap.add_argument("--radius", help="logit_radius: a number or 'none'")
    ap.add_argument("--time-critic", choices=["on", "off"])
    ap.add_argument("--forget-bias", type=float)
    ap.add_argument("--obs-shortcut", choices=["on", "off"])
    ap.add_argument("--policy-kwargs", type=json.loads, help='policy keyword arguments, e.g. \'{"net_arch": [64]}\'')
    ap.add_argument("--overrides", default=None, help="algorithm kwargs, as compare's --overrides")
    a = ap.parse_args()
    th.set_num_threads(1)
    for baseline in a.baselines:
        patch(baseline, a.entropy_bonus, a.radius, a.time_critic, a.forget_bias, a.obs_shortcut, a.policy_kwargs)
    compare(envs=[f"memenvs/TMaze-v0:variant=passive,length={a.length}"], baselines=a.baselines, seeds=a.seeds,
            workers=1, quiet=True, out=a.out, overrides=a.overrides)


if __name__ == "__main__":
    main()
