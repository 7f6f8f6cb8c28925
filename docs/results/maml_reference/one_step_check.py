"""One MAML-TRPO meta-step of memenvs and of tristandeleu/pytorch-maml-rl on the same episodes and weights.

    python docs/results/maml_reference/one_step_check.py --repo PATH --seeds 0 1 2 [--average steps]

For each seed: a 64-64 tanh policy (log-std -1.3, a trained policy's), 4 Navigation2D tasks x 10 trajectories
sampled by memenvs before and after its inner step; the same trajectories are handed to the reference as its
``BatchEpisodes`` (its own linear baseline and advantages) and to memenvs (``compute_advantages``), and each takes
its TRPO step from the same weights; then the reference steps again on memenvs' advantages, which compares the
two learners alone (``--average steps``: memenvs weighs every step alike, its rule until 2026-12-01). Printed per
seed and case: the largest difference of the normalised advantages, and the two
parameter steps' norms, cosine and KL. ``PATH`` and its requirements as for ``run_reference.py``.
"""

from __future__ import annotations

import argparse
import asyncio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--average", choices=["trajectories", "steps"], default="trajectories",
                    help="memenvs' rule for the means over a task's steps (the reference's is 'trajectories')")
    a = ap.parse_args()

    import numpy as np
    import torch

    from reference_compat import use_reference

    use_reference(a.repo)
    import gymnasium as gym
    from maml_rl.baseline import LinearFeatureBaseline
    from maml_rl.episode import BatchEpisodes
    from maml_rl.metalearners import MAMLTRPO
    from maml_rl.policies.normal_mlp import NormalMLPPolicy

    import memenvs  # noqa: F401
    from memenvs.baselines.algorithms import maml as M
    from memenvs.baselines.policies.maml_policies import MAMLMLPPolicy

    tasks_n, k = 4, 10
    names = [f"layer{i + 1}.{w}" for i in range(2) for w in ("weight", "bias")] + ["mu.weight", "mu.bias", "sigma"]
    ours_names = [f"layer{i}_{w}" for i in range(3) for w in ("weight", "bias")] + ["log_std"]
    print("| seed | trajectories ending before the horizon | max abs advantage difference "
          "| step norm memenvs / reference | cosine | KL memenvs / reference |")
    print("|---|---|---|---|---|---|")
    for seed in a.seeds:
        torch.manual_seed(seed)
        ours = MAMLMLPPolicy(2, 2, hidden_sizes=(64, 64))
        with torch.no_grad():
            ours.log_std.fill_(-1.3)
        ref = NormalMLPPolicy(2, 2, hidden_sizes=(64, 64), nonlinearity=torch.tanh)
        with torch.no_grad():
            for src, dst in zip(names, ours_names):
                dict(ref.named_parameters())[src].copy_(getattr(ours, dst))
        cfg = M.MAMLConfig(meta_batch_size=tasks_n, fast_batch_size=k, average=a.average)
        envs = gym.make_vec("memenvs/Navigation2D-v0", num_envs=tasks_n * k, autoreset_mode="Disabled")
        envs.reset(seed=seed)
        tasks = envs.unwrapped.sample_tasks(tasks_n, np.random.default_rng(seed))
        g = torch.Generator().manual_seed(seed)
        params = {n: p.detach() for n, p in ours.meta_parameters().items()}
        train = M.compute_advantages(M.collect(envs, ours, params, tasks, k, g), cfg.gamma, cfg.average)
        fast = {n: p.detach() for n, p in M.adapt(ours, params, [train], cfg.fast_lr, False, cfg.average).items()}
        valid = M.compute_advantages(M.collect(envs, ours, fast, tasks, k, g), cfg.gamma, cfg.average)
        envs.close()

        def as_reference(ep: M.Episodes, t: int) -> BatchEpisodes:
            b = BatchEpisodes(batch_size=k, gamma=cfg.gamma)
            for h in range(ep.obs.shape[0]):
                ids = [i for i in range(k) if ep.mask[h, t, i] > 0]
                if not ids:
                    break
                b.append(ep.obs[h, t, ids].numpy(), ep.actions[h, t, ids].numpy(), ep.rewards[h, t, ids].numpy(),
                         ids)
            baseline = LinearFeatureBaseline(2)
            baseline.fit(b)
            b.compute_advantages(baseline, gae_lambda=1.0, normalize=True)
            return b

        short = int((train.mask[-1] == 0).sum() + (valid.mask[-1] == 0).sum())
        rtrain = [as_reference(train, t) for t in range(tasks_n)]
        rvalid = [as_reference(valid, t) for t in range(tasks_n)]
        gap = max(float((r.advantages - e.advantages[:, t]).abs().max())
                  for es, rs in ((train, rtrain), (valid, rvalid)) for t, (r, e) in enumerate(zip(rs, [es] * tasks_n)))

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # the reference learner gathers on the current loop

        def done(x: object) -> asyncio.Future:
            f = loop.create_future()
            f.set_result(x)
            return f

        def ref_vector() -> torch.Tensor:
            p = dict(ref.named_parameters())
            return torch.cat([p[n].detach().reshape(-1) for n in names]).clone()

        learner = MAMLTRPO(ref, fast_lr=cfg.fast_lr, first_order=False)
        learner._event_loop = loop
        before = ref_vector()

        def reference_step() -> tuple[torch.Tensor, float]:
            torch.nn.utils.vector_to_parameters(before.clone(), [dict(ref.named_parameters())[n] for n in names])
            logs = learner.step([[done(b) for b in rtrain]], [done(b) for b in rvalid], max_kl=cfg.max_kl,
                                cg_iters=cfg.cg_iters, cg_damping=cfg.cg_damping, ls_max_steps=cfg.ls_max_steps,
                                ls_backtrack_ratio=cfg.ls_backtrack_ratio)
            return ref_vector() - before, float(np.mean(logs.get("kl_after", [np.nan])))

        ours_logs = M.trpo_step(ours, [train], valid, cfg)
        d_ours = torch.cat([ours.meta_parameters()[n].detach().reshape(-1) for n in ours_names]) - before
        for label in ("own", "memenvs'"):
            if label != "own":  # the reference's step on memenvs' advantages: the learners alone compared
                for es, rs in ((train, rtrain), (valid, rvalid)):
                    for t, r in enumerate(rs):
                        r._advantages = es.advantages[:, t].clone()
            d_ref, kl_ref = reference_step()
            cos = float(d_ref @ d_ours / (d_ref.norm() * d_ours.norm()))
            diff = f"{gap:.2g}" if label == "own" else "0 (memenvs' advantages given to both)"
            norms = f"{float(d_ours.norm()):.4f} / {float(d_ref.norm()):.4f}"
            print(f"| {seed} | {short} of {2 * tasks_n * k} | {diff} | {norms} | {cos:.3f} | "
                  f"{ours_logs['kl']:.4f} / {kl_ref:.4f} |")
        loop.close()


if __name__ == "__main__":
    main()
