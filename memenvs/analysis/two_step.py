"""Stay-probability analysis of the two-step task (Daw et al. 2011; Wang et al. 2018, Fig. 4).

The analysis asks how the outcome of one trial changes the next stage-1 choice. Each pair of consecutive trials in
an episode is classed by the first trial's reward (rewarded / unrewarded) and transition (common / rare), and the
*stay probability* is how often the second trial repeats the first trial's stage-1 action:

* a model-free learner repeats rewarded actions: stay is high after rewarded trials, low after unrewarded ones,
  whatever the transition (a **reward main effect**);
* a model-based learner credits the stage-2 state that paid, so after a reward that followed a *rare* transition it
  switches to the action that commonly leads there: stay is high after rewarded-common and unrewarded-rare, low after
  rewarded-rare and unrewarded-common (a **reward x transition interaction**).

Raw stay probabilities are confounded (Akam, Costa & Dayan 2015): a model-free learner that does better than chance
mostly chose the good side, so an unrewarded *rare* trial usually followed a good choice it keeps, and its raw stay
probabilities show a spurious interaction. The model-based index is therefore the interaction coefficient of Daw et
al.'s logistic regression of stay on reward, transition and their interaction, with Akam et al.'s correction: a
covariate for whether the previous choice was the correct one (it commonly led to the good state, which the env's
record provides). Raw contrasts are reported too.

Record trials with :class:`TrialRecorder` (fed the ``info`` of every step of a single or vector
:class:`~memenvs.envs.two_step.TwoStepEnv`), or run a scripted agent with :func:`run_agent`; then
:func:`stay_probabilities` and :func:`plot_stay_probabilities`. Standard errors are across episodes (each episode
plays the part of one subject), as in the papers.

``python -m memenvs.analysis.two_step --out docs/results`` regenerates the chart and figures of the scripted agents.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any, Mapping, Sequence

import numpy as np

from memenvs.analysis.agents import BayesianAgent, ModelBasedAgent, ModelFreeAgent, TwoStepAgent

CASES = ("rewarded_common", "rewarded_rare", "unrewarded_common", "unrewarded_rare")
CASE_LABELS = ("rewarded\ncommon", "rewarded\nrare", "unrewarded\ncommon", "unrewarded\nrare")
FIELDS = ("trial", "action1", "common", "stage2_state", "stage2_action", "reward", "good_state")


@dataclasses.dataclass
class TrialRecord:
    """Completed trials, one row each, ordered by episode then trial (flat arrays of equal length).

    ``episode`` numbers the episodes from 0; ``trial`` is the 1-based trial number within its episode.
    """

    episode: np.ndarray
    trial: np.ndarray
    action1: np.ndarray
    common: np.ndarray
    stage2_state: np.ndarray
    stage2_action: np.ndarray
    reward: np.ndarray
    good_state: np.ndarray

    def __len__(self) -> int:
        return int(self.trial.shape[0])

    @property
    def n_episodes(self) -> int:
        return int(np.unique(self.episode).size)

    def summary(self) -> dict[str, float]:
        """Frequencies over all trials: common transitions, rewards, and switches of the good state."""
        same_episode = self.episode[1:] == self.episode[:-1]
        switched = self.good_state[1:] != self.good_state[:-1]
        return {
            "trials": float(len(self)),
            "common_rate": float(self.common.mean()),
            "reward_rate": float(self.reward.mean()),
            "switch_rate": float(switched[same_episode].mean()) if same_episode.any() else float("nan"),
            "reward_per_episode": float(self.reward.sum() / max(self.n_episodes, 1)),
        }


class TrialRecorder:
    """Collects the per-trial records of a :class:`~memenvs.envs.two_step.TwoStepEnv` from its ``info`` dicts.

    Call :meth:`add` with the ``info`` of every step (or reset) of a single env or of a vector env, in order; rows
    where ``info["trial_end"]`` is False are ignored. A new episode of a copy starts at its trial number 1, so
    episodes are found without help from the caller.
    """

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, dict[str, np.ndarray]]] = []

    def add(self, info: Mapping[str, Any]) -> None:
        end = np.atleast_1d(np.asarray(info["trial_end"], dtype=bool))
        if not end.any():
            return
        rows = np.flatnonzero(end)
        self._chunks.append((rows, {k: np.atleast_1d(np.asarray(info[k]))[rows] for k in FIELDS}))

    def record(self) -> TrialRecord:
        if not self._chunks:
            empty = np.zeros(0, dtype=np.int64)
            return TrialRecord(*(empty.copy() for _ in range(8)))
        copy = np.concatenate([rows for rows, _ in self._chunks])
        cols = {k: np.concatenate([c[k] for _, c in self._chunks]) for k in FIELDS}
        order = np.argsort(copy, kind="stable")  # by copy, keeping time order within each copy
        copy = copy[order]
        cols = {k: v[order] for k, v in cols.items()}
        starts = (cols["trial"] == 1) | np.r_[True, copy[1:] != copy[:-1]]
        episode = np.cumsum(starts) - 1
        return TrialRecord(
            episode=episode,
            trial=cols["trial"].astype(np.int64),
            action1=cols["action1"].astype(np.int64),
            common=cols["common"].astype(bool),
            stage2_state=cols["stage2_state"].astype(np.int64),
            stage2_action=cols["stage2_action"].astype(np.int64),
            reward=cols["reward"].astype(np.float64),
            good_state=cols["good_state"].astype(np.int64),
        )


REGRESSORS = ("intercept", "reward", "transition", "interaction", "correct")


@dataclasses.dataclass
class StayAnalysis:
    """Stay probabilities in the order of :data:`CASES`, raw contrasts, and the corrected regression.

    * ``stay``/``se``: mean over episodes of each episode's stay probability, and its standard error (SEM across
      episodes; the binomial standard error when there is a single episode).
    * ``pairs``/``stays``: pooled counts of trial pairs and of stays per case.
    * Raw contrasts in probability units (``*_se``: SEM across episodes that contain all four cases):
      ``reward_effect`` = (rewarded - unrewarded) averaged over transitions, ``transition_effect`` = (common - rare)
      averaged over rewards, ``interaction`` = (rewarded common + unrewarded rare - rewarded rare - unrewarded
      common) / 2.
    * ``coef``/``coef_se``: logistic regression of stay on :data:`REGRESSORS` (each coded +-1/2; ``interaction``
      = +1/2 for rewarded-common and unrewarded-rare; ``correct`` = +1/2 when the previous stage-1 action was the one
      that commonly leads to that trial's good state), pooled over pairs, with standard errors clustered by
      episode. ``model_based_index`` is its ``interaction`` coefficient and ``model_free_index`` its ``reward``
      coefficient (log-odds units).
    """

    stay: np.ndarray
    se: np.ndarray
    pairs: np.ndarray
    stays: np.ndarray
    n_episodes: int
    reward_effect: float
    reward_effect_se: float
    transition_effect: float
    transition_effect_se: float
    interaction: float
    interaction_se: float
    coef: dict[str, float]
    coef_se: dict[str, float]

    @property
    def model_based_index(self) -> float:
        return self.coef["interaction"]

    @property
    def model_based_index_se(self) -> float:
        return self.coef_se["interaction"]

    @property
    def model_free_index(self) -> float:
        return self.coef["reward"]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready numbers."""
        out: dict[str, Any] = {
            case: {"stay": round(float(p), 4), "se": round(float(s), 4), "pairs": int(n)}
            for case, p, s, n in zip(CASES, self.stay, self.se, self.pairs)
        }
        for name in ("reward_effect", "transition_effect", "interaction"):
            out["raw_" + name] = round(float(getattr(self, name)), 4)
            out["raw_" + name + "_se"] = round(float(getattr(self, name + "_se")), 4)
        out["regression"] = {k: [round(self.coef[k], 4), round(self.coef_se[k], 4)] for k in REGRESSORS}
        out["model_based_index"] = round(self.model_based_index, 4)
        out["model_based_index_se"] = round(self.model_based_index_se, 4)
        out["n_episodes"] = self.n_episodes
        return out

    def __str__(self) -> str:
        cells = ", ".join(f"{c} {p:.3f}±{s:.3f}" for c, p, s in zip(CASES, self.stay, self.se))
        return (f"stay: {cells}; raw reward effect {self.reward_effect:.3f}, raw interaction {self.interaction:.3f}; "
                f"regression: reward {self.coef['reward']:.2f}±{self.coef_se['reward']:.2f}, "
                f"model-based index {self.model_based_index:.2f}±{self.model_based_index_se:.2f} "
                f"({self.n_episodes} episodes)")


def stay_probabilities(record: TrialRecord) -> StayAnalysis:
    """Stay probabilities after each of the four outcomes, raw contrasts and the corrected logistic regression (see
    :class:`StayAnalysis`)."""
    if len(record) < 2:
        raise ValueError("stay_probabilities needs at least two consecutive trials of one episode")
    ep, trial = record.episode, record.trial
    pair = (ep[1:] == ep[:-1]) & (trial[1:] == trial[:-1] + 1)
    if not pair.any():
        raise ValueError("stay_probabilities found no pair of consecutive trials within an episode")
    prev = np.flatnonzero(pair)
    rewarded = record.reward[prev] > 0
    common = record.common[prev]
    case = 2 * (~rewarded) + (~common)
    stay = record.action1[prev + 1] == record.action1[prev]
    episodes, ep_index = np.unique(ep[prev], return_inverse=True)
    k = episodes.size
    n = np.bincount(ep_index * 4 + case, minlength=4 * k).reshape(k, 4)
    s = np.bincount(ep_index * 4 + case, weights=stay, minlength=4 * k).reshape(k, 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_episode = s / n  # nan where an episode has no pair of that case
    has = n > 0
    mean = np.array([per_episode[has[:, c], c].mean() if has[:, c].any() else np.nan for c in range(4)])
    pooled_n, pooled_s = n.sum(axis=0), s.sum(axis=0)
    if k > 1:
        se = np.array([_sem(per_episode[has[:, c], c]) for c in range(4)])
    else:
        p = pooled_s / np.maximum(pooled_n, 1)
        se = np.sqrt(p * (1 - p) / np.maximum(pooled_n, 1))
    full = per_episode[has.all(axis=1)]
    rc, rr, uc, ur = (full[:, c] for c in range(4))
    m_rc, m_rr, m_uc, m_ur = mean
    # Choices are coded by the state they commonly lead to (action 0 -> S1 when common_prob > 1/2, as in every
    # preset); "correct" means that state was the good one on that trial.
    correct = record.action1[prev] == record.good_state[prev]
    r, c = rewarded - 0.5, common - 0.5
    x = np.stack([np.ones(prev.size), r, c, 2 * r * c, correct - 0.5], axis=1)
    coef, coef_se = _logistic_regression(x, stay.astype(np.float64), ep_index)
    return StayAnalysis(
        stay=mean,
        se=se,
        pairs=pooled_n.astype(np.int64),
        stays=pooled_s.astype(np.int64),
        n_episodes=int(k),
        reward_effect=float((m_rc + m_rr - m_uc - m_ur) / 2),
        reward_effect_se=_sem((rc + rr - uc - ur) / 2),
        transition_effect=float((m_rc + m_uc - m_rr - m_ur) / 2),
        transition_effect_se=_sem((rc + uc - rr - ur) / 2),
        interaction=float((m_rc + m_ur - m_rr - m_uc) / 2),
        interaction_se=_sem((rc + ur - rr - uc) / 2),
        coef=dict(zip(REGRESSORS, map(float, coef))),
        coef_se=dict(zip(REGRESSORS, map(float, coef_se))),
    )


def _logistic_regression(x: np.ndarray, y: np.ndarray, cluster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression by Newton's method, with cluster-robust (sandwich) standard errors.

    A tiny ridge keeps the Newton step defined when a regressor is constant or the data are separable (a
    deterministic agent); such coefficients then come out very large and mean only "deterministic"."""
    w = np.zeros(x.shape[1])
    ridge = 1e-6 * np.eye(x.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + ridge
        step = np.linalg.solve(hessian, x.T @ (y - p) - ridge @ w)
        w += step
        if np.abs(step).max() < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
    bread = np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]) + ridge)
    scores = np.zeros((int(cluster.max()) + 1, x.shape[1]))
    np.add.at(scores, cluster, x * (y - p)[:, None])
    cov = bread @ (scores.T @ scores) @ bread
    return w, np.sqrt(np.maximum(np.diag(cov), 0.0))


def _sem(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")


def run_agent(
    agent: TwoStepAgent, n_episodes: int = 1000, seed: int = 0, agent_seed: int | None = None, **env_kwargs: Any
) -> TrialRecord:
    """Play ``n_episodes`` episodes of ``memenvs/TwoStep-v0`` (one per copy of the native vector env, in lockstep)
    with a scripted agent and return every trial."""
    import gymnasium as gym

    import memenvs  # noqa: F401  (registers the ids)

    envs = gym.make_vec("memenvs/TwoStep-v0", num_envs=n_episodes, autoreset_mode="Disabled", **env_kwargs)
    core = envs.unwrapped.core
    if core.max_steps < 2 * core.params.n_trials:
        raise ValueError("run_agent needs whole episodes; leave max_steps at its default")
    rng = np.random.default_rng(seed if agent_seed is None else agent_seed)
    recorder = TrialRecorder()
    obs, _ = envs.reset(seed=seed)
    agent.reset(n_episodes)
    for _ in range(core.params.n_trials):
        action1 = agent.act1(rng)
        obs, _, _, _, info = envs.step(action1)
        stage2_state = obs.argmax(axis=1) - 1
        action2 = agent.act2(stage2_state, rng)
        obs, reward, _, _, info = envs.step(action2)
        recorder.add(info)
        agent.update(action1, stage2_state, action2, reward)
    envs.close()
    return recorder.record()


def plot_stay_probabilities(
    results: StayAnalysis | Mapping[str, StayAnalysis],
    path: str | None = None,
    title: str | None = None,
    reference: Mapping[str, Sequence[float]] | None = None,
) -> Any:
    """Bar chart of stay probabilities in the style of Wang et al. 2018 Fig. 4: rewarded / unrewarded groups,
    common (blue) and rare (red) bars with standard errors; one panel per entry of ``results``.

    ``reference`` optionally adds panels of published values (four numbers in :data:`CASES` order, no errors).
    Returns the matplotlib ``Figure`` (saved to ``path`` when given). Needs matplotlib (the ``baselines`` extra).
    """
    try:
        import matplotlib

        if path is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError(
            "plot_stay_probabilities needs matplotlib: pip install 'memenvs[baselines]' (or pip install matplotlib)"
        ) from err
    if isinstance(results, StayAnalysis):
        results = {"": results}
    panels: list[tuple[str, np.ndarray, np.ndarray | None, str]] = []
    for name, res in results.items():
        if abs(res.model_based_index) > 10:  # separable data: the logit fit diverges (a deterministic agent)
            note = "regression degenerate\n(deterministic choices)"
        else:
            note = (f"model-based index {res.model_based_index:.2f}±{res.model_based_index_se:.2f}\n"
                    f"model-free index {res.model_free_index:.2f}±{res.coef_se['reward']:.2f}")
        panels.append((name, np.asarray(res.stay), np.asarray(res.se), note))
    for name, values in (reference or {}).items():
        panels.append((name, np.asarray(values, dtype=float), None, "published values"))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.0 * len(panels), 3.8), sharey=True, squeeze=False)
    for ax, (name, stay, se, note) in zip(axes[0], panels):
        x = np.array([0.0, 0.35, 1.0, 1.35])
        colors = ["#3b6fb6", "#c8453c", "#3b6fb6", "#c8453c"]
        ax.bar(x, stay, width=0.33, color=colors, yerr=se, capsize=3)
        ax.set_xticks([0.175, 1.175], ["rewarded", "unrewarded"])
        ax.set_ylim(0.0, 1.05)
        ax.set_title(name, fontsize=8)
        ax.text(0.5, -0.3, note, transform=ax.transAxes, ha="center", fontsize=7)
    axes[0][0].set_ylabel("stay probability")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("#3b6fb6", "#c8453c")]
    fig.legend(handles, ["common", "rare"], fontsize=8, loc="upper right", ncol=2)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


#: Stay probabilities of trained meta-LSTMs, in CASES order, approximate: read off Wang et al. 2018 Fig. 4, and off
#: the plots of M. Trazzi's reproduction
#: (github.com/mtrazzi/two-step-task: 8 seeds of 20k episodes, twice the paper's 10k).
PUBLISHED = {
    "Wang 2018 meta-LSTM (read off Fig. 4)": (0.98, 0.65, 0.63, 0.98),
    "meta-LSTM, a reproduction": (0.94, 0.71, 0.59, 0.95),
}


def scripted_agent_figures(n_episodes: int = 2000, seed: int = 0, **env_kwargs: Any) -> dict[str, Any]:
    """Stay analysis and returns of the three scripted agents on one configuration (default: wang2018)."""
    import gymnasium as gym

    import memenvs  # noqa: F401

    env = gym.make("memenvs/TwoStep-v0", **env_kwargs)
    params = env.unwrapped.core.params
    out: dict[str, Any] = {"env": "memenvs/TwoStep-v0", "env_kwargs": dict(env_kwargs), "n_episodes": n_episodes,
                           "seed": seed, "optimal_return": env.unwrapped.optimal_return(),
                           "memoryless_return": env.unwrapped.memoryless_return(), "agents": {}}
    agents: dict[str, TwoStepAgent] = {
        "model-free (alpha=0.5, beta=5, lambda=1)": ModelFreeAgent(alpha=0.5, beta=5.0, lam=1.0),
        "model-based (alpha=0.5, beta=5)": ModelBasedAgent(params.common_prob, alpha=0.5, beta=5.0),
    }
    if params.variant != "daw2011":
        agents["Bayes-optimal"] = BayesianAgent(params.common_prob, params.good_reward_prob,
                                                params.bad_reward_prob, params.switch_prob)
    analyses = {}
    for name, agent in agents.items():
        record = run_agent(agent, n_episodes=n_episodes, seed=seed, **env_kwargs)
        analyses[name] = stay_probabilities(record)
        rewards = np.bincount(record.episode, weights=record.reward)
        out["agents"][name] = {
            "return_mean": round(float(rewards.mean()), 3),
            "return_se": round(float(rewards.std(ddof=1) / np.sqrt(rewards.size)), 3),
            **analyses[name].as_dict(),
        }
    out["_analyses"] = analyses
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Regenerate ``two_step_scripted_agents.png`` and ``.json`` (the docs' chart and figures)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", default="docs/results", help="output folder")
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures = scripted_agent_figures(n_episodes=args.episodes, seed=args.seed)
    analyses = figures.pop("_analyses")
    stem = f"{args.out.rstrip('/')}/two_step_scripted_agents"
    plot_stay_probabilities(analyses, path=stem + ".png", reference=PUBLISHED,
                            title=f"Two-step task (wang2018), stay probabilities, {args.episodes} episodes each")
    with open(stem + ".json", "w") as f:
        json.dump(figures, f, indent=2)
        f.write("\n")
    for name, fig in figures["agents"].items():
        print(f"{name}: return {fig['return_mean']:.2f} ± {fig['return_se']:.2f}; {analyses[name]}")


if __name__ == "__main__":
    main()
