"""Regularizer memory: the closed-form gradient and the low-rank penalty against explicit matrices, the optimizer
hook, bit-identical training at λ = 0, and option validation."""

import numpy as np
import pytest

th = pytest.importorskip("torch")
pytest.importorskip("sb3_contrib")

from memenvs.baselines.models import make_model, set_torch_threads  # noqa: E402
from memenvs.baselines.algorithms.regularizer_memory import (  # noqa: E402
    RegularizerConfig,
    RegularizerMemory,
    flat,
    regularizer_memory,
    score_vectors,
    trainable_parameters,
)

ID = "memenvs/NonstationaryCartPole-v0"


@pytest.fixture(autouse=True)
def one_thread():
    set_torch_threads(1)


def small_model(algo_baseline="mlp", seed=0, **overrides):
    kwargs = dict(n_steps=16, batch_size=32, n_epochs=2, learning_rate=1e-3)
    kwargs.update(overrides)
    return make_model(algo_baseline, ID, seed=seed, n_envs=4, env_kwargs={"tasks": ("standard",)},
                      policy_kwargs={"net_arch": [8]}, **kwargs)


def perturb(params, seed):
    gen = th.Generator().manual_seed(seed)
    with th.no_grad():
        for p in params:
            p.add_(0.1 * th.randn(p.shape, generator=gen))


def random_scores(n, p, seed):
    gen = th.Generator().manual_seed(seed)
    return th.randn(n, p, generator=gen), th.rand(n, generator=gen) * 3


def explicit_h(scores, weights, n_params):
    """H_j = (1/n) Σ w_i g_i g_iᵀ, rescaled to mean diagonal 1 (the default trace normalisation)."""
    h = (scores.T * weights) @ scores / len(scores)
    return h * n_params / th.trace(h)


@pytest.mark.parametrize("form", ["diagonal", "lowrank", "l2"])
def test_penalty_and_gradient_match_the_explicit_quadratic_form(form):
    model = small_model()
    memory = RegularizerMemory(model.policy, form=form, strength=2.5, decay=0.7, max_rank=64, n_samples=20)
    params = trainable_parameters(model.policy)
    n = memory.n_params
    s1, w1 = random_scores(20, n, 1)
    s2, w2 = random_scores(20, n, 2)
    memory.consolidate(s1, w1)
    perturb(params, 3)
    memory.consolidate(s2, w2)
    anchor = flat(params).detach().clone()
    perturb(params, 4)

    full = 0.7 * explicit_h(s1, w1, n) + explicit_h(s2, w2, n)
    h = {"lowrank": full, "diagonal": th.diag(th.diagonal(full)), "l2": th.eye(n)}[form]
    delta = flat(params) - anchor
    expected = 0.5 * 2.5 * delta @ h @ delta
    expected_grad = th.autograd.grad(expected, params)

    assert memory.penalty().item() == pytest.approx(expected.item(), rel=1e-4)
    got = memory.gradient()
    np.testing.assert_allclose(got.numpy(), flat(expected_grad).detach().numpy(), rtol=1e-4, atol=1e-6)
    # the penalty's own autograd agrees with the closed form too
    auto = th.autograd.grad(memory.penalty(), params)
    np.testing.assert_allclose(flat(auto).numpy(), got.numpy(), rtol=1e-4, atol=1e-6)
    assert got.abs().max() > 0


def test_lowrank_keeps_only_the_most_recent_rows():
    model = small_model()
    memory = RegularizerMemory(model.policy, form="lowrank", max_rank=25, n_samples=10)
    for seed in range(4):
        memory.consolidate(*random_scores(10, memory.n_params, seed))
    assert [g.shape[0] for g, _ in memory.blocks] == [10, 10]
    assert [c for _, c in memory.blocks] == [1.0, 1.0]  # decay 1 by default


def test_score_vectors_are_per_sample_log_likelihood_gradients():
    model = small_model()
    model.learn(64)
    obs = th.as_tensor(model.rollout_buffer.observations.reshape(-1, 4)[:6])
    actions = th.as_tensor(model.rollout_buffer.actions.reshape(-1)[:6])
    scores = score_vectors(model.policy, obs, actions)
    params = trainable_parameters(model.policy)
    for i in range(6):
        _, logp, _ = model.policy.evaluate_actions(obs[i:i + 1], actions[i:i + 1].long())
        grads = th.autograd.grad(logp.sum(), params, allow_unused=True)
        ref = flat([th.zeros_like(p) if g is None else g for g, p in zip(grads, params)])
        np.testing.assert_allclose(scores[i].numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)
    # the value head does not enter log π: its score entries are zero
    value_params = {id(p) for p in model.policy.value_net.parameters()}
    offset = 0
    for p in params:
        if id(p) in value_params:
            assert scores[:, offset:offset + p.numel()].abs().max() == 0
        offset += p.numel()


def test_sample_weights():
    model = small_model()
    r_hat = np.array([-2.0, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(RegularizerMemory(model.policy, b=0.0).sample_weights(r_hat).numpy(), 1.0)
    np.testing.assert_allclose(RegularizerMemory(model.policy, b=0.5).sample_weights(r_hat).numpy(), np.abs(r_hat))
    np.testing.assert_allclose(RegularizerMemory(model.policy, b=1.0).sample_weights(r_hat).numpy(), r_hat ** 2)


def test_hook_adds_the_memory_gradient_before_each_step():
    model = small_model()
    memory = RegularizerMemory(model.policy, form="diagonal", strength=3.0)
    params = trainable_parameters(model.policy)
    memory.consolidate(*random_scores(16, memory.n_params, 0))
    perturb(params, 1)
    expected_step = memory.gradient()
    before = flat(params).detach().clone()
    sgd = th.optim.SGD(params, lr=1.0)
    memory.attach(sgd)
    memory.attach(sgd)  # idempotent: the gradient is added once
    sgd.zero_grad()
    for p in params:
        p.grad = th.zeros_like(p)
    sgd.step()
    np.testing.assert_allclose((before - flat(params).detach()).numpy(), expected_step.numpy(), rtol=1e-5,
                               atol=1e-7)
    memory.detach()
    for p in params:
        p.grad = th.zeros_like(p)
    before = flat(params).detach().clone()
    sgd.step()
    assert th.equal(before, flat(params).detach())


def _train(baseline, memory_options, steps, **overrides):
    model = small_model(baseline, seed=3, **overrides)
    callback = None
    memory = None
    if memory_options is not None:
        memory, callback = regularizer_memory(model, **memory_options)
    model.learn(steps, callback=callback)
    if memory is not None and memory.config.consolidate == "task":
        memory.end_task()
    model.learn(steps, callback=callback, reset_num_timesteps=False)
    return model, memory


@pytest.mark.parametrize("baseline,options", [
    ("mlp", {"form": "lowrank", "b": 0.5, "consolidate": "rollout", "n_samples": 16, "max_rank": 40}),
    ("mlp", {"form": "diagonal", "b": 1.0, "weight_source": "return"}),
    ("lstm", {"form": "diagonal", "b": 0.5, "consolidate": "rollout", "n_samples": 8}),
], ids=["ppo-lowrank-rollout", "ppo-diagonal-task", "recurrentppo-diagonal"])
def test_zero_strength_is_bit_identical_to_the_plain_algorithm(baseline, options):
    overrides = {"policy_kwargs": {"lstm_hidden_size": 8, "net_arch": []}} if baseline == "lstm" else {}
    if baseline == "lstm":
        def make():  # seeds the global RNGs, so each model is made right before it trains
            return make_model("lstm", ID, seed=3, n_envs=4, env_kwargs={"tasks": ("standard",)}, n_steps=16,
                              batch_size=32, n_epochs=2, **overrides)

        model_plain = make()
        model_plain.learn(128)
        model_mem = make()
        memory, callback = regularizer_memory(model_mem, strength=0.0, **options)
        model_mem.learn(128, callback=callback)
        assert memory.n_consolidations == 2 and memory.diag.abs().sum() > 0  # the recurrent scores were used
    else:
        model_plain, _ = _train(baseline, None, 128)
        model_mem, memory = _train(baseline, {"strength": 0.0, **options}, 128)
        assert memory.n_consolidations >= 1
        if memory.config.form == "lowrank":
            assert memory.blocks
        assert memory.anchor is not None
    for p, q in zip(model_plain.policy.parameters(), model_mem.policy.parameters()):
        assert th.equal(p, q)


def test_a2c_zero_strength_is_bit_identical_and_positive_strength_is_not():
    from stable_baselines3 import A2C

    from memenvs.baselines.models import make_vec

    def run(strength):
        venv = make_vec(ID, 4, 1, {"tasks": ("standard",)}, [])
        a2c = A2C("MlpPolicy", venv, n_steps=8, seed=1, policy_kwargs={"net_arch": [8]})
        memory = callback = None
        if strength is not None:
            memory, callback = regularizer_memory(a2c, strength=strength, b=0.5)
        a2c.learn(96, callback=callback)
        if memory is not None:
            memory.end_task()
        a2c.learn(96, callback=callback, reset_num_timesteps=False)
        return flat(list(a2c.policy.parameters())).detach()

    plain = run(None)
    assert th.equal(plain, run(0.0))
    assert not th.equal(plain, run(100.0))


def test_strong_memory_holds_the_parameters_at_the_anchor():
    def drift(strength):
        model = small_model(seed=2, learning_rate=3e-3)
        memory, callback = regularizer_memory(model, form="l2", strength=strength)
        model.learn(64, callback=callback)
        memory.end_task()
        model.learn(256, callback=callback, reset_num_timesteps=False)
        return float((flat(memory.params).detach() - memory.anchor).norm())

    assert drift(1000.0) < 0.2 * drift(0.0)


def test_end_task_needs_a_rollout_and_l2_needs_no_scores():
    model = small_model()
    memory = RegularizerMemory(model.policy, form="diagonal")
    with pytest.raises(ValueError, match="rollout"):
        memory.end_task()
    with pytest.raises(ValueError, match="score"):
        memory.consolidate()
    assert memory.penalty().item() == 0.0 and memory.gradient().abs().sum() == 0
    l2 = RegularizerMemory(model.policy, form="l2", strength=1.0)
    l2.consolidate()
    assert l2.penalty().item() == 0.0


@pytest.mark.parametrize("name,value", [
    ("form", "full"), ("strength", -1.0), ("b", -0.5), ("weight_source", "value"), ("decay", 0.0),
    ("decay", 1.5), ("n_samples", 0), ("max_rank", 2.5), ("normalize", "max"), ("consolidate", "episode"),
])
def test_bad_options_raise_naming_the_option(name, value):
    with pytest.raises(ValueError, match=name):
        RegularizerConfig(**{name: value})
    with pytest.raises(ValueError, match="n_samples"):
        RegularizerConfig(form="lowrank", n_samples=100, max_rank=10)
