"""MAML for RL: the inner update, the outer gradient, the frozen recurrent weights, and a learning check."""

import functools
import json

import gymnasium as gym
import numpy as np
import pytest
import torch

from memenvs.baselines.algorithms.maml import (
    Episodes, MAMLConfig, adapt, compute_advantages, evaluate_adaptation, linear_feature_baseline, surrogate,
    train_maml,
)
from memenvs.baselines.experiments import maml_comparison
from memenvs.baselines.policies.maml_policies import MAMLMLPPolicy, MAMLRNNPolicy

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _episodes(h=4, t=2, k=3, obs_dim=2, act_dim=2, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(h, t, k, dtype=dtype)
    mask[2:, 0, 1] = 0  # one trajectory ends early
    mask[3:, 1, 2] = 0
    ep = Episodes(obs=torch.randn(h, t, k, obs_dim, generator=g, dtype=dtype) * mask.unsqueeze(-1),
                  actions=torch.randn(h, t, k, act_dim, generator=g, dtype=dtype) * mask.unsqueeze(-1),
                  rewards=torch.randn(h, t, k, generator=g, dtype=dtype) * mask, mask=mask)
    ep.advantages = torch.randn(h, t, k, generator=g, dtype=dtype) * mask
    return ep


@pytest.mark.parametrize("average", ["trajectories", "steps"])
def test_inner_update_is_the_hand_computed_policy_gradient(average):
    """A linear Gaussian policy mean = W o + b, log-std s: grad log pi is ((a - mu) / sigma^2) o^T for W,
    (a - mu) / sigma^2 for b and (a - mu)^2 / sigma^2 - 1 for s; the inner step is theta + lr * mean(A grad log pi),
    one step per task, the mean taken over each trajectory's valid steps and then over the task's trajectories
    (pytorch-maml-rl's) or over all the task's valid steps alike (two trajectories here end early)."""
    torch.manual_seed(0)
    policy = MAMLMLPPolicy(2, 2, hidden_sizes=()).double()
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.3, 0.2]))
        policy.layer0_bias.copy_(torch.tensor([0.1, -0.2]))
    ep = _episodes()
    lr = 0.37
    fast = adapt(policy, policy.meta_parameters(), [ep], lr, create_graph=False, average=average)
    w, b, s = (p.detach().numpy() for p in (policy.layer0_weight, policy.layer0_bias, policy.log_std))
    obs, act, adv, mask = (x.numpy() for x in (ep.obs, ep.actions, ep.advantages, ep.mask))
    for task in range(2):
        gw, gb, gs = np.zeros_like(w), np.zeros_like(b), np.zeros_like(s)
        for k in range(3):
            length = int(mask[:, task, k].sum())
            weight = 1 / (3 * length) if average == "trajectories" else 1 / mask[:, task].sum()
            for t in range(length):
                o, a, advantage = obs[t, task, k], act[t, task, k], adv[t, task, k]
                z = (a - (w @ o + b)) / np.exp(2 * s)
                gw += weight * advantage * np.outer(z, o)
                gb += weight * advantage * z
                gs += weight * advantage * ((a - (w @ o + b)) ** 2 / np.exp(2 * s) - 1)
        np.testing.assert_allclose(fast["layer0_weight"][task].detach().numpy(), w + lr * gw, rtol=1e-10)
        np.testing.assert_allclose(fast["layer0_bias"][task].detach().numpy(), b + lr * gb, rtol=1e-10)
        np.testing.assert_allclose(fast["log_std"][task].detach().numpy(), s + lr * gs, rtol=1e-10)


@pytest.mark.parametrize("policy_class", [MAMLMLPPolicy, MAMLRNNPolicy])
def test_outer_gradient_through_one_inner_step_matches_finite_differences(policy_class):
    """The meta-gradient of the post-adaptation loss L(theta - lr * grad L_train(theta)), second order, along
    random directions, against central differences (float64)."""
    torch.manual_seed(1)
    policy = policy_class(2, 2, hidden_sizes=(5,)).double()
    train, valid = _episodes(seed=2), _episodes(seed=3)
    cfg = MAMLConfig(fast_lr=0.5)
    params = policy.meta_parameters()
    loss, _, old = surrogate(policy, params, [train], valid, cfg, None, create_graph=True)
    grads = torch.autograd.grad(loss, list(params.values()))
    old = tuple(x.detach() for x in old)

    def value(shift):
        shifted = {n: p.detach() + eps for (n, p), eps in zip(params.items(), shift)}
        return surrogate(policy, shifted, [train], valid, cfg, old, create_graph=False)[0].item()

    g = torch.Generator().manual_seed(4)
    for _ in range(3):
        direction = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in params.values()]
        h = 1e-5
        numeric = (value([h * d for d in direction]) - value([-h * d for d in direction])) / (2 * h)
        analytic = sum((gr * d).sum() for gr, d in zip(grads, direction)).item()
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-8)
    # First-order MAML drops the second-order term: a different gradient on the same data.
    fo_loss, _, _ = surrogate(policy, params, [train], valid, cfg, None, create_graph=False)
    fo = torch.autograd.grad(fo_loss, list(params.values()))
    assert max((a - b).abs().max().item() for a, b in zip(grads, fo)) > 1e-6


@pytest.mark.parametrize("outer", ["trpo", "ppo"])
def test_frozen_recurrent_weights_are_bit_identical_after_meta_training(outer):
    torch.manual_seed(0)
    policy = MAMLRNNPolicy(2, 2, hidden_sizes=(6, 6))
    frozen = {n: b.clone() for n, b in policy.frozen().items()}
    assert sorted(frozen) == [f"cell{i}_{w}" for i in range(3) for w in ("b_hh", "w_hh")]
    assert not set(frozen) & set(policy.meta_parameters())
    trained = {n: p.detach().clone() for n, p in policy.meta_parameters().items()}
    cfg = MAMLConfig(meta_batch_size=3, fast_batch_size=4, outer=outer)
    train_maml("memenvs/Navigation2D-v0", policy, cfg, 3, seed=0, env_kwargs=dict(max_steps=8))
    for name, value in policy.frozen().items():
        assert torch.equal(value, frozen[name]), name
    assert all(not torch.equal(p, trained[n]) for n, p in policy.meta_parameters().items())


def test_linear_feature_baseline_fits_returns_that_are_linear_in_its_features():
    ep = _episodes(h=6, t=2, k=5, dtype=torch.float32)
    o = ep.obs.double()
    time_ = torch.arange(6, dtype=torch.float64).view(6, 1, 1) / 100
    for task, scale in enumerate((1.0, -2.0)):  # a different function per task: the fit is per task
        target = scale * (0.5 * o[..., 0] - 0.3 * o[..., 1] ** 2 + 2.0 * time_ + 1.0)[:, task]
        ep.rewards[:, task] = target.float()  # used only as the regression target below
    values = linear_feature_baseline(ep, ep.rewards * ep.mask)
    np.testing.assert_allclose(values.numpy(), (ep.rewards * ep.mask).numpy(), atol=1e-3)


def test_advantages_are_normalised_per_task_over_valid_steps():
    """Centred and scaled per task with the same mean as the losses: over all valid steps (``"steps"``), or over
    trajectories of each one's mean over its steps (``"trajectories"``, pytorch-maml-rl's ``weighted_normalize``)."""
    ep = compute_advantages(_episodes(h=6, k=5, dtype=torch.float32), 0.99, "steps")
    for task in range(2):
        valid = ep.advantages[:, task][ep.mask[:, task] > 0]
        assert abs(valid.mean().item()) < 1e-5 and abs(valid.std(unbiased=False).item() - 1) < 1e-3
    assert (ep.advantages[ep.mask == 0] == 0).all()
    ep = compute_advantages(_episodes(h=6, k=5, dtype=torch.float32), 0.99, "trajectories")
    m = ep.mask
    mean = ((ep.advantages * m).sum(0) / m.sum(0)).mean(-1)
    second = ((ep.advantages ** 2 * m).sum(0) / m.sum(0)).mean(-1)
    np.testing.assert_allclose(mean.numpy(), 0, atol=1e-5)
    np.testing.assert_allclose(second.numpy(), 1, atol=1e-3)
    assert (ep.advantages[m == 0] == 0).all()
    with pytest.raises(ValueError, match="average must be one of 'trajectories', 'steps'; got 'episodes'"):
        MAMLConfig(average="episodes")


def test_collect_batches_tasks_and_copies_and_masks_finished_episodes():
    from memenvs.baselines.algorithms.maml import collect

    envs = gym.make_vec("memenvs/Navigation2D-v0", num_envs=6, autoreset_mode="Disabled", max_steps=50)
    envs.reset(seed=0)
    policy = MAMLMLPPolicy(2, 2, hidden_sizes=(4,))
    tasks = np.array([[0.05, 0.05], [0.4, -0.4]])
    # A policy that heads straight for each copy's goal (mean 0.1 * sign) ends early on the near goal only.
    with torch.no_grad():
        for p in policy.parameters():
            p.zero_()
    ep = collect(envs, policy, policy.meta_parameters(), tasks, 3, torch.Generator().manual_seed(0))
    assert ep.obs.shape == (50, 2, 3, 2) and ep.actions.shape == (50, 2, 3, 2)
    assert (ep.mask == 1).all()  # zero mean, std 1: nobody stops on the goal by chance in 50 steps
    np.testing.assert_allclose(ep.returns().numpy(), (ep.rewards * ep.mask).sum(0).numpy())
    ep2 = collect(envs, policy, policy.meta_parameters(), tasks, 3, torch.Generator().manual_seed(0))
    assert torch.equal(ep.actions, ep2.actions)  # the generator fixes the sampled actions


def test_config_rejects_bad_values():
    for kwargs, name in ((dict(outer="sgd"), "outer"), (dict(meta_batch_size=0), "meta_batch_size"),
                         (dict(fast_lr=0.0), "fast_lr"), (dict(gamma=1.5), "gamma")):
        with pytest.raises(ValueError, match=name):
            MAMLConfig(**kwargs)


def test_learning_check_navigation2d():
    """A few seconds of meta-training on short Navigation2D episodes: one adaptation step on 10 trajectories per
    task clearly raises the deterministic return on 20 unseen goals, and beats the adapted untrained policy."""
    torch.manual_seed(0)
    policy = MAMLMLPPolicy(2, 2, hidden_sizes=(32, 32))
    cfg = MAMLConfig(meta_batch_size=10, fast_batch_size=10)
    envs = gym.make_vec("memenvs/Navigation2D-v0", num_envs=200, autoreset_mode="Disabled", max_steps=20)
    envs.reset(seed=1)
    tasks = envs.sample_tasks(20, np.random.default_rng(1))
    before = evaluate_adaptation(envs, policy, cfg, tasks, torch.Generator().manual_seed(1))
    train_maml("memenvs/Navigation2D-v0", policy, cfg, 5, seed=0, env_kwargs=dict(max_steps=20))
    after = evaluate_adaptation(envs, policy, cfg, tasks, torch.Generator().manual_seed(1))
    assert after["post_return"] > after["pre_return"] + 2.0, after
    assert after["post_return"] > before["post_return"] + 1.0, (before, after)


def test_comparison_script_runs_end_to_end_on_a_tiny_budget(tmp_path):
    """The script that runs the paper's budget with --paper --device cuda, here on a tiny budget on the CPU."""
    pytest.importorskip("mujoco")
    out = str(tmp_path)
    maml_comparison.main(["run", "--env", "navigation", "--methods", "mlp", "rnn", "meta_lstm", "--seeds", "0", "1",
                          "--iterations", "2", "--meta-batch-size", "2", "--fast-batch-size", "2", "--hidden", "4",
                          "--max-steps", "10", "--out", out])
    maml_comparison.main(["run", "--env", "cheetah", "--methods", "mlp", "--seeds", "0", "--iterations", "1",
                          "--meta-batch-size", "2", "--fast-batch-size", "1", "--hidden", "4", "--max-steps", "20",
                          "--out", out])
    with open(tmp_path / "final.jsonl") as f:
        finals = [json.loads(line) for line in f]
    assert [(r["env"], r["method"], r["seed"]) for r in finals] == [
        ("navigation", "mlp", 0), ("navigation", "rnn", 0), ("navigation", "meta_lstm", 0),
        ("navigation", "mlp", 1), ("navigation", "rnn", 1), ("navigation", "meta_lstm", 1), ("cheetah", "mlp", 0)]
    assert finals[-1]["env_steps"] == 2 * 2 * 1 * 20 and "--env cheetah" in finals[-1]["command"]
    # resumable: a second call skips the finished runs
    maml_comparison.main(["run", "--env", "cheetah", "--methods", "mlp", "--seeds", "0", "--iterations", "1",
                          "--meta-batch-size", "2", "--fast-batch-size", "1", "--hidden", "4", "--max-steps", "20",
                          "--out", out])
    assert len((tmp_path / "final.jsonl").read_text().splitlines()) == 7
    assert not list((tmp_path / "checkpoints").glob("*.pt")), "a finished run's checkpoint is removed"
    text = maml_comparison.report(out)
    assert "| mlp | 2 |" in text and "| meta_lstm | 2 |" in text and (tmp_path / "curves_navigation.png").exists()
    args = maml_comparison.build_parser().parse_args(["run", "--env", "cheetah", "--paper", "--device", "cuda"])
    assert args.paper and args.device == "cuda" and maml_comparison.PAPER_META_BATCH["cheetah"] == 40
    # --paper is pytorch-maml-rl's configuration, its 64-64 policy included; the sizes are part of a run's identity
    assert maml_comparison.hidden_sizes(True, None) == (64, 64)
    assert maml_comparison.hidden_sizes(False, None) == (100, 100)
    assert maml_comparison.hidden_sizes(True, [100, 100]) == (100, 100)
    stem = functools.partial(maml_comparison.checkpoint_stem, out, "navigation", "mlp", 0, 500, 20, 20, (64, 64), None)
    assert stem() == stem(average="trajectories") != stem(average="steps")  # a checkpoint resumes its own rule only
    with pytest.raises(ValueError, match="--hidden sizes must be integers >= 1"):
        maml_comparison.hidden_sizes(False, [0])
    assert [r["hidden_sizes"] for r in finals] == [[4], [4], [], [4], [4], [], [4]]
    with pytest.raises(SystemExit, match="hidden sizes \\(4,\\) and average .trajectories., not \\(5,\\)"):
        maml_comparison.main(["run", "--env", "navigation", "--methods", "mlp", "--seeds", "0", "--iterations", "1",
                              "--meta-batch-size", "2", "--fast-batch-size", "1", "--hidden", "5", "--max-steps", "10",
                              "--out", out])
    assert len((tmp_path / "final.jsonl").read_text().splitlines()) == 7


def test_the_report_shows_finished_runs_only_and_strides_its_per_iteration_table(tmp_path):
    """A long run set is reported while some of its runs still train: their rows in ``runs.jsonl`` wait (else
    they would cut every curve at the shortest run), and ``every`` keeps a 500-iteration table readable."""
    def row(method, seed, it):
        return {"env": "navigation", "method": method, "seed": seed, "iteration": it, "pre_return": -10.0 + it + seed,
                "post_return": -5.0 + it + seed}

    runs = [row(m, s, it) for m in ("mlp", "rnn") for s in (0, 1) for it in range(7)]
    runs += [row("mlp", 2, it) for it in range(3)]  # still training
    final = {"env": "navigation", "iterations": 7, "eval_pre_return": -3.0, "eval_post_return": -1.0,
             "last_pre_return": -3.0, "last_post_return": -1.0, "wall_s": 10.0, "env_steps": 100,
             "env_steps_per_s": 10.0}
    (tmp_path / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    (tmp_path / "final.jsonl").write_text("".join(json.dumps({**final, "method": m, "seed": s}) + "\n"
                                                  for m in ("mlp", "rnn") for s in (0, 1)))
    text = maml_comparison.report(str(tmp_path), every=3)
    table = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [line.split(" | ")[0] for line in table] == ["| 0", "| 3", "| 6"]
    assert "| 6 | -3.5 +- 0.5 | 1.5 +- 0.5 |" in text  # seeds 0 and 1 only: the unfinished seed 2 waits
    assert "| mlp | 2 |" in text and "--every 3" in (tmp_path / "tables.md").read_text()
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        maml_comparison.report(str(tmp_path), every=0)


@pytest.mark.parametrize("env_id, outer", [("memenvs/Navigation2D-v0", "trpo"), ("memenvs/HalfCheetahDir-v0", "ppo")])
def test_an_interrupted_meta_training_resumes_exactly_from_its_checkpoint(tmp_path, env_id, outer):
    if "Cheetah" in env_id:
        pytest.importorskip("mujoco")
    cfg = MAMLConfig(meta_batch_size=2, fast_batch_size=2, outer=outer)
    kwargs = dict(max_steps=6)

    def fresh():
        torch.manual_seed(3)
        return MAMLRNNPolicy(obs_dim, act_dim, hidden_sizes=(5,))

    probe = gym.make(env_id)
    obs_dim, act_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
    probe.close()
    straight = fresh()
    expected = train_maml(env_id, straight, cfg, 4, seed=1, env_kwargs=kwargs)
    path = tmp_path / "run.pt"
    first = fresh()
    # "interrupted" after 2 of 4 iterations, with a checkpoint after every one
    train_maml(env_id, first, cfg, 2, seed=1, env_kwargs=kwargs, checkpoint=path, checkpoint_every_s=0.0)
    resumed_policy = fresh()
    logged = []
    resumed = train_maml(env_id, resumed_policy, cfg, 4, seed=1, env_kwargs=kwargs, log=logged.append,
                         checkpoint=path, checkpoint_every_s=0.0)
    assert [r["iteration"] for r in logged] == [2, 3]
    for a, b in zip(expected, resumed):
        assert (a["pre_return"], a["post_return"], a["total_env_steps"]) == (
            b["pre_return"], b["post_return"], b["total_env_steps"])
    for (name, a), b in zip(straight.state_dict().items(), resumed_policy.state_dict().values()):
        assert torch.equal(a, b), name


def test_a_resumed_run_replaces_the_rows_written_after_its_checkpoint(tmp_path):
    path = tmp_path / "runs.jsonl"
    rows = [{"env": "navigation", "method": m, "seed": 0, "iteration": i} for m in ("mlp", "rnn") for i in range(4)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    maml_comparison._drop_rows_from(str(path), "navigation", "rnn", 0, 2)
    left = [json.loads(line) for line in path.read_text().splitlines()]
    assert left == rows[:4] + rows[4:6]


def test_the_meta_lstm_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    from memenvs.baselines.compare import checkpoints

    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY_S", 0.0)  # one at every rollout start
    folder = str(tmp_path / "meta_lstm")
    tasks = maml_comparison.eval_tasks("navigation", 2)
    args = ("navigation", 0, 2, 2, 2, str(tmp_path / "runs.jsonl"), tasks, 5, 4)
    first = maml_comparison.run_meta_lstm(*args, checkpoint=folder)
    assert first["resumed_at"] == [] and not (tmp_path / "meta_lstm").exists(), "removed once the run is done"
    # an interrupted run: keep a checkpoint of the last rollout's start by saving one there again
    model_steps = first["env_steps"]
    saved = {}

    def keep(self, model):
        saved["steps"] = int(model.num_timesteps)
        original(self, model)

    original = checkpoints.Checkpointer.save
    monkeypatch.setattr(checkpoints.Checkpointer, "save", keep)
    monkeypatch.setattr(checkpoints, "remove", lambda folder: None)
    maml_comparison.run_meta_lstm(*args, checkpoint=folder)
    monkeypatch.undo()
    scale = json.loads((tmp_path / "meta_lstm" / "state.json").read_text())["return_scale"]
    assert scale[2] > 1, "the running return statistics are saved with the weights"
    monkeypatch.setattr(checkpoints, "CHECKPOINT_EVERY_S", 1e9)
    from stable_baselines3.common import vec_env

    started_with = []

    class Recording(vec_env.VecNormalize):
        def step_wait(self):
            if not started_with:
                started_with.append([float(self.ret_rms.mean), float(self.ret_rms.var), float(self.ret_rms.count)])
            return super().step_wait()

    monkeypatch.setattr(vec_env, "VecNormalize", Recording)
    resumed = maml_comparison.run_meta_lstm(*args, checkpoint=folder)
    assert resumed["resumed_at"] == [saved["steps"]] and resumed["env_steps"] == model_steps
    assert started_with == [scale], "the resumed run scales rewards as the interrupted one had learnt to"
    # Two full runs wrote iterations 0, 1, 0, 1; the resumed one started in iteration 1 (the checkpoint of its 4th
    # and last rollout), so the rows of iteration 1 written after that checkpoint went, and its own came instead.
    rows = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [0, 0, 1]
