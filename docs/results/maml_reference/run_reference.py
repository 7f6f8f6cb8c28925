"""Run tristandeleu/pytorch-maml-rl's own MAML-TRPO on its 2D-navigation config and log every meta-iteration.

    python docs/results/maml_reference/run_reference.py --repo PATH --seed 0 --iterations 200 --out OUT.jsonl

``PATH`` is a checkout of https://github.com/tristandeleu/pytorch-maml-rl (measured at commit ``21d4ba1``), run in
an environment with ``gym==0.17.3`` beside this package's requirements. The loop is its ``train.py``'s (sampler,
``MAMLTRPO.step`` with the config's settings, one sampling worker) with two additions: one JSON row per
meta-iteration (the mean pre- and post-adaptation return of the sampled trajectories, as memenvs' ``runs.jsonl``
has them, the wall time and the learned log-std) and two shims that let its 2020 code run on today's libraries
(``reference_compat.py``). Nothing of the reference is copied here: it is imported from ``PATH``.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", required=True, help="a checkout of tristandeleu/pytorch-maml-rl")
    ap.add_argument("--config", default="configs/maml/2d-navigation.yaml", help="relative to --repo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iterations", type=int, default=500)
    ap.add_argument("--out", required=True, help="JSON lines, one per meta-iteration")
    a = ap.parse_args()
    if a.iterations < 1:
        ap.error(f"--iterations must be >= 1, got {a.iterations}")

    import torch
    from reference_compat import use_reference

    use_reference(a.repo)
    torch.set_num_threads(1)
    import gym
    import yaml

    import maml_rl.envs  # noqa: F401  (registers 2DNavigation-v0)
    from maml_rl.baseline import LinearFeatureBaseline
    from maml_rl.metalearners import MAMLTRPO
    from maml_rl.samplers import MultiTaskSampler
    from maml_rl.utils.helpers import get_input_size, get_policy_for_env
    from maml_rl.utils.reinforcement_learning import get_returns

    with open(f"{a.repo}/{a.config}") as f:
        config = yaml.load(f, Loader=yaml.FullLoader)
    torch.manual_seed(a.seed)
    env = gym.make(config["env-name"], **config.get("env-kwargs", {}))
    env.close()
    policy = get_policy_for_env(env, hidden_sizes=config["hidden-sizes"], nonlinearity=config["nonlinearity"])
    policy.share_memory()
    sampler = MultiTaskSampler(config["env-name"], env_kwargs=config.get("env-kwargs", {}),
                               batch_size=config["fast-batch-size"], policy=policy,
                               baseline=LinearFeatureBaseline(get_input_size(env)), env=env, seed=a.seed,
                               num_workers=1)
    learner = MAMLTRPO(policy, fast_lr=config["fast-lr"], first_order=config["first-order"], device="cpu")
    start = time.perf_counter()
    with open(a.out, "w") as out:
        for it in range(a.iterations):
            tasks = sampler.sample_tasks(num_tasks=config["meta-batch-size"])
            futures = sampler.sample_async(tasks, num_steps=config["num-steps"], fast_lr=config["fast-lr"],
                                           gamma=config["gamma"], gae_lambda=config["gae-lambda"], device="cpu")
            learner.step(*futures, max_kl=config["max-kl"], cg_iters=config["cg-iters"],
                         cg_damping=config["cg-damping"], ls_max_steps=config["ls-max-steps"],
                         ls_backtrack_ratio=config["ls-backtrack-ratio"])
            train, valid = sampler.sample_wait(futures)
            row = {"iteration": it, "seed": a.seed, "pre_return": float(get_returns(train[0]).mean()),
                   "post_return": float(get_returns(valid).mean()), "wall_s": time.perf_counter() - start,
                   "log_std": policy.sigma.detach().tolist()}
            out.write(json.dumps(row) + "\n")
            out.flush()
    sampler.close()


if __name__ == "__main__":
    main()
