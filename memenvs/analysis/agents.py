"""Scripted reference agents for the two-step task, batched over copies of the native vector env.

Their stay-probability signatures are the fixtures of :mod:`memenvs.analysis.two_step`:

* :class:`ModelFreeAgent` learns stage-1 action values from reward alone (SARSA(lambda) as in Daw et al. 2011; with
  lambda = 1 the stage-1 value moves straight toward the trial's reward), so a reward makes it repeat its action
  whatever the transition was: only a reward main effect.
* :class:`ModelBasedAgent` learns the value of each stage-2 state and plans through the known transition
  probabilities, so a reward after a rare transition makes it switch: the reward x transition interaction.
* :class:`BayesianAgent` tracks the posterior over the good state (wang variants) and acts greedily on it, which is
  the optimal policy there (its return is what :meth:`TwoStepCore.optimal_return` computes).

An agent sees only what a learner would: its own actions, the stage-2 state it landed in, and the reward. Every agent
keeps one row of values per copy and draws its choices from the ``rng`` it is given.
"""

from __future__ import annotations

import numpy as np


def _softmax_choice(q: np.ndarray, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Sample one of two actions per row with P(1) = sigmoid(beta * (q1 - q0))."""
    p1 = 1.0 / (1.0 + np.exp(-beta * (q[:, 1] - q[:, 0])))
    return (rng.random(q.shape[0]) < p1).astype(np.int64)


class TwoStepAgent:
    """Interface of the scripted agents: batched over ``n`` copies, one episode at a time."""

    def reset(self, n: int) -> None:
        """Forget everything (a new episode for every copy)."""
        raise NotImplementedError

    def act1(self, rng: np.random.Generator) -> np.ndarray:
        """Stage-1 actions, shape ``(n,)``."""
        raise NotImplementedError

    def act2(self, stage2_state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Stage-2 actions in the states reached (0 = S1, 1 = S2)."""
        raise NotImplementedError

    def update(self, action1: np.ndarray, stage2_state: np.ndarray, action2: np.ndarray, reward: np.ndarray) -> None:
        """Learn from one completed trial of every copy."""
        raise NotImplementedError


class ModelFreeAgent(TwoStepAgent):
    """SARSA(lambda) on stage-1 and stage-2 action values with softmax choice (inverse temperature ``beta``)."""

    def __init__(self, alpha: float = 0.5, beta: float = 5.0, lam: float = 1.0) -> None:
        self.alpha, self.beta, self.lam = alpha, beta, lam

    def reset(self, n: int) -> None:
        self.q1 = np.zeros((n, 2))
        self.q2 = np.zeros((n, 2, 2))

    def act1(self, rng: np.random.Generator) -> np.ndarray:
        return _softmax_choice(self.q1, self.beta, rng)

    def act2(self, stage2_state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _softmax_choice(self.q2[np.arange(len(stage2_state)), stage2_state], self.beta, rng)

    def update(self, action1: np.ndarray, stage2_state: np.ndarray, action2: np.ndarray, reward: np.ndarray) -> None:
        rows = np.arange(len(action1))
        q2 = self.q2[rows, stage2_state, action2]
        delta1 = q2 - self.q1[rows, action1]
        delta2 = reward - q2
        self.q1[rows, action1] += self.alpha * (delta1 + self.lam * delta2)
        self.q2[rows, stage2_state, action2] += self.alpha * delta2


class ModelBasedAgent(TwoStepAgent):
    """Learns stage-2 option values and plans stage 1 through the transition probability ``common_prob``."""

    def __init__(self, common_prob: float = 0.8, alpha: float = 0.5, beta: float = 5.0) -> None:
        self.common_prob, self.alpha, self.beta = common_prob, alpha, beta

    def reset(self, n: int) -> None:
        self.q2 = np.zeros((n, 2, 2))

    def act1(self, rng: np.random.Generator) -> np.ndarray:
        best = self.q2.max(axis=2)  # value of each stage-2 state: its best option
        pc = self.common_prob
        # action 0 commonly leads to S1, action 1 to S2
        q1 = np.stack([pc * best[:, 0] + (1 - pc) * best[:, 1], pc * best[:, 1] + (1 - pc) * best[:, 0]], axis=1)
        return _softmax_choice(q1, self.beta, rng)

    def act2(self, stage2_state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return _softmax_choice(self.q2[np.arange(len(stage2_state)), stage2_state], self.beta, rng)

    def update(self, action1: np.ndarray, stage2_state: np.ndarray, action2: np.ndarray, reward: np.ndarray) -> None:
        rows = np.arange(len(action1))
        self.q2[rows, stage2_state, action2] += self.alpha * (reward - self.q2[rows, stage2_state, action2])


class BayesianAgent(TwoStepAgent):
    """Exact posterior over which stage-2 state is good (wang variants) and the greedy stage-1 choice.

    The information a trial brings does not depend on the action when ``good + bad = 1`` (true for the presets), so
    greedy is then optimal; ties (at the uniform prior) are broken at random.
    """

    def __init__(self, common_prob: float = 0.8, good_reward_prob: float = 0.9, bad_reward_prob: float = 0.1,
                 switch_prob: float = 0.025) -> None:
        self.pc, self.pg, self.pb, self.ps = common_prob, good_reward_prob, bad_reward_prob, switch_prob

    def reset(self, n: int) -> None:
        self.belief = np.full(n, 0.5)  # P(S1 is good)

    def act1(self, rng: np.random.Generator) -> np.ndarray:
        # Going for S1 (action 0) pays pc*b*pg + ... ; it beats action 1 exactly when b > 1/2 (for pc > 1/2).
        b = self.belief
        toward_s1 = np.where(b == 0.5, rng.random(len(b)) < 0.5, b > 0.5)
        return np.where(toward_s1 == (self.pc >= 0.5), 0, 1).astype(np.int64)

    def act2(self, stage2_state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(len(stage2_state), dtype=np.int64)

    def update(self, action1: np.ndarray, stage2_state: np.ndarray, action2: np.ndarray, reward: np.ndarray) -> None:
        b = self.belief
        in_s1 = stage2_state == 0
        like1 = np.where(in_s1, self.pg, self.pb)  # P(reward | landed state, S1 good)
        like2 = np.where(in_s1, self.pb, self.pg)
        won = reward > 0
        l1 = np.where(won, like1, 1 - like1)
        l2 = np.where(won, like2, 1 - like2)
        post = b * l1 / (b * l1 + (1 - b) * l2)
        self.belief = post * (1 - self.ps) + (1 - post) * self.ps
