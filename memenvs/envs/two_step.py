"""The two-step task (Daw et al. 2011) in the form Wang et al. 2018 used to show model-based behaviour emerging
from a model-free-trained recurrent network, with the Wang 2016 and the original Daw 2011 variants."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from gymnasium import spaces

from memenvs.envs.core import Core, State
from memenvs.envs.params import check_choice, check_float, check_int, check_optional_int, check_probability, normalise
from memenvs.envs.rendering import Frame
from memenvs.envs.single import MemoryEnv
from memenvs.envs.vector import MemoryVectorEnv

STAGE1, STATE_S1, STATE_S2 = 0, 1, 2
VARIANTS = ("wang2018", "wang2016", "daw2011")

#: Preset values of every parameter that depends on the variant (``None`` means "does not apply").
PRESETS: dict[str, dict[str, Any]] = {
    "wang2018": dict(
        n_trials=100, common_prob=0.8, good_reward_prob=0.9, bad_reward_prob=0.1, switch_prob=0.025,
        drift_sd=None, reward_bounds=None,
    ),
    "wang2016": dict(
        n_trials=100, common_prob=0.75, good_reward_prob=0.9, bad_reward_prob=0.1, switch_prob=0.025,
        drift_sd=None, reward_bounds=None,
    ),
    "daw2011": dict(
        n_trials=201, common_prob=0.7, good_reward_prob=None, bad_reward_prob=None, switch_prob=None,
        drift_sd=0.025, reward_bounds=(0.25, 0.75),
    ),
}
_WANG_ONLY = ("good_reward_prob", "bad_reward_prob", "switch_prob")
_DAW_ONLY = ("drift_sd", "reward_bounds")

#: Grid size of the belief dynamic programme behind :meth:`TwoStepCore.optimal_return`.
_BELIEF_GRID = 4001


@dataclasses.dataclass(frozen=True)
class TwoStepParams:
    """Parameters of the two-step task (see :class:`TwoStepEnv`); ``None`` takes the variant's preset."""

    variant: str = "wang2018"
    n_trials: int | None = None
    common_prob: float | None = None
    good_reward_prob: float | None = None
    bad_reward_prob: float | None = None
    switch_prob: float | None = None
    drift_sd: float | None = None
    reward_bounds: tuple[float, float] | None = None
    max_steps: int | None = None

    def __post_init__(self) -> None:
        check_choice("variant", self.variant, VARIANTS)
        preset = PRESETS[self.variant]
        not_here = _DAW_ONLY if self.variant != "daw2011" else _WANG_ONLY
        for name in not_here:
            if getattr(self, name) is not None:
                raise ValueError(
                    f"{name} does not apply to variant {self.variant!r}; it is a parameter of "
                    f"{'daw2011' if name in _DAW_ONLY else 'wang2018 and wang2016'}"
                )
        values = {name: preset[name] if getattr(self, name) is None else getattr(self, name) for name in preset}
        values["n_trials"] = check_int("n_trials", values["n_trials"], 1)
        values["common_prob"] = check_probability("common_prob", values["common_prob"])
        if self.variant == "daw2011":
            values["drift_sd"] = check_float("drift_sd", values["drift_sd"], 0.0)
            values["reward_bounds"] = _check_bounds(values["reward_bounds"])
        else:
            for name in _WANG_ONLY:
                values[name] = check_probability(name, values[name])
        for name, value in values.items():
            object.__setattr__(self, name, value)
        normalise(self, "max_steps", check_optional_int, 1)


def _check_bounds(value: Any) -> tuple[float, float]:
    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"reward_bounds must be a pair (low, high) with 0 <= low < high <= 1, got {value!r}") from None
    lo = check_probability("reward_bounds[0]", lo)
    hi = check_probability("reward_bounds[1]", hi)
    if not lo < hi:
        raise ValueError(f"reward_bounds must be a pair (low, high) with 0 <= low < high <= 1, got {value!r}")
    return lo, hi


@dataclasses.dataclass
class TwoStepState(State):
    stage: np.ndarray  # current state: 0 stage 1, 1 state S1, 2 state S2
    good: np.ndarray  # which stage-2 state is currently good (0 = S1, 1 = S2); for daw2011 the one with the best option
    probs: np.ndarray  # (N, 2, 2) reward probability of each stage-2 state x stage-2 action
    trial: np.ndarray  # trials completed in this episode
    # The record of the trial in progress (stage-1 fields) or just completed (all fields), for info().
    action1: np.ndarray
    common: np.ndarray
    stage2_state: np.ndarray
    stage2_action: np.ndarray
    reward: np.ndarray
    good_at_trial: np.ndarray
    trial_end: np.ndarray


class TwoStepCore(Core):
    """Batched two-step task.

    Every step draws ``rng.random((N, 3))`` (transition, reward, switch) for all copies whatever stage each is in;
    ``daw2011`` also draws ``rng.normal(size=(N, 2, 2))`` (the drift) on steps where some copy ends a trial. So a
    batch of one draws exactly what a single env does.
    """

    Params = TwoStepParams
    name = "TwoStep"
    render_fps = 4
    action_names = ("left", "right")
    reset_options = ("good_state",)

    def __init__(self, params: TwoStepParams) -> None:
        super().__init__(params)
        self.observation_space = spaces.Box(0.0, 1.0, shape=(3,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.daw = params.variant == "daw2011"
        self._eye = np.eye(3, dtype=np.float32)
        self._base = np.zeros(0, dtype=np.int64)
        if not self.daw:
            # probs_by_good[g, s, a]: state-level probabilities; both stage-2 actions are equivalent in Wang's task.
            pg, pb = params.good_reward_prob, params.bad_reward_prob
            self._probs_by_good = np.array([[[pg, pg], [pb, pb]], [[pb, pb], [pg, pg]]], dtype=np.float64)

    # ------------------------------------------------------------------ dynamics
    @property
    def max_steps(self) -> int:
        p = self.params
        return 2 * p.n_trials if p.max_steps is None else p.max_steps

    def init_state(self, num_envs: int) -> TwoStepState:
        def ints() -> np.ndarray:
            return np.zeros(num_envs, dtype=np.int64)

        return TwoStepState(
            t=ints(), stage=ints(), good=ints(), probs=np.zeros((num_envs, 2, 2)), trial=ints(),
            action1=ints(), common=np.zeros(num_envs, dtype=bool), stage2_state=ints(), stage2_action=ints(),
            reward=np.zeros(num_envs, dtype=np.float32), good_at_trial=ints(),
            trial_end=np.zeros(num_envs, dtype=bool),
        )

    def check_options(self, options: dict | None) -> None:
        super().check_options(options)
        if options and "good_state" in options:
            if self.daw:
                raise ValueError("options['good_state'] applies to variants wang2018 and wang2016 only")
            check_choice("options['good_state']", options["good_state"], (0, 1))

    def reset(self, state: TwoStepState, idx: np.ndarray, rng: np.random.Generator, options: dict | None) -> None:
        n = len(idx)
        if self.daw:
            lo, hi = self.params.reward_bounds
            probs = rng.uniform(lo, hi, size=(n, 2, 2))
            state.probs[idx] = probs
            state.good[idx] = _best_state(probs)
        else:
            good = rng.integers(0, 2, size=n)
            if options and "good_state" in options:
                good[:] = options["good_state"]
            state.good[idx] = good
            state.probs[idx] = self._probs_by_good[good]
        state.stage[idx] = STAGE1
        state.trial[idx] = 0
        state.action1[idx] = -1
        state.common[idx] = False
        state.stage2_state[idx] = -1
        state.stage2_action[idx] = -1
        state.reward[idx] = 0.0
        state.good_at_trial[idx] = -1
        state.trial_end[idx] = False

    def step(self, state: TwoStepState, action: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = action.shape[0]
        u = rng.random((n, 3))  # columns: transition, reward, switch
        # Copies normally move in lockstep (every episode has the same length), so the whole batch is usually in
        # one stage and is stepped with whole-array operations; a mixed batch is split into its two stages.
        n_first = int(np.count_nonzero(state.stage == STAGE1))
        if n_first == n:
            self._stage1(state, action, u)
            return np.zeros(n, dtype=np.float32), np.zeros(n, dtype=bool)
        noise = rng.normal(size=(n, 2, 2)) if self.daw else None
        if n_first == 0:
            return self._stage2(state, action, u, noise)
        reward = np.zeros(n, dtype=np.float32)
        terminated = np.zeros(n, dtype=bool)
        first = state.stage == STAGE1
        rows1, rows2 = np.flatnonzero(first), np.flatnonzero(~first)
        part = state.take(rows1)
        self._stage1(part, action[rows1], u[rows1])
        state.put(rows1, part)
        part = state.take(rows2)
        reward[rows2], terminated[rows2] = self._stage2(
            part, action[rows2], u[rows2], None if noise is None else noise[rows2]
        )
        state.put(rows2, part)
        return reward, terminated

    def _stage1(self, state: TwoStepState, action: np.ndarray, u: np.ndarray) -> None:
        """Every copy of ``state`` is at stage 1: choose the way, draw the transition."""
        rare = u[:, 0] >= self.params.common_prob
        # Action 0 commonly leads to S1 (index 0) and action 1 to S2 (index 1); a rare transition flips that.
        landed = action ^ rare
        np.copyto(state.action1, action)
        np.logical_not(rare, out=state.common)
        np.copyto(state.stage2_state, landed)
        np.add(landed, 1, out=state.stage)
        # fill() is far cheaper than a ufunc on the tiny batches of a single env.
        state.stage2_action.fill(-1)
        state.good_at_trial.fill(-1)
        state.reward.fill(0.0)
        state.trial_end.fill(False)

    def _stage2(
        self, state: TwoStepState, action: np.ndarray, u: np.ndarray, noise: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every copy of ``state`` is in a stage-2 state: draw the reward, end the trial, move the rewards on."""
        p = self.params
        key = self._row_base(action.shape[0]) + 2 * state.stage2_state + action
        reward = (u[:, 1] < state.probs.reshape(-1).take(key)).astype(np.float32)
        np.copyto(state.reward, reward)
        np.copyto(state.stage2_action, action)
        np.copyto(state.good_at_trial, state.good)
        state.trial_end.fill(True)
        state.trial += 1
        state.stage.fill(STAGE1)
        terminated = state.trial >= p.n_trials
        # Between trials the reward structure moves on: a switch of the good state (Wang) or a reflected Gaussian
        # step of every option's probability (Daw).
        if noise is not None:
            lo, hi = p.reward_bounds
            state.probs += p.drift_sd * noise
            _reflect(state.probs, lo, hi)
            np.copyto(state.good, _best_state(state.probs))
        elif p.switch_prob > 0.0:
            switch = u[:, 2] < p.switch_prob
            if switch.any():
                state.good ^= switch
                state.probs[switch] = self._probs_by_good[state.good[switch]]
        return reward, terminated

    def _row_base(self, n: int) -> np.ndarray:
        """``4 * arange(n)``: the offset of each copy in the flattened (N, 2, 2) probability table (cached)."""
        if self._base.shape[0] != n:
            self._base = 4 * np.arange(n)
        return self._base

    def observe(self, state: TwoStepState, rng: np.random.Generator) -> np.ndarray:
        return self._eye.take(state.stage, axis=0)

    def info(self, state: TwoStepState) -> dict[str, np.ndarray]:
        return {
            "trial_end": state.trial_end.copy(),
            "trial": state.trial.copy(),
            "action1": state.action1.copy(),
            "common": state.common.copy(),
            "stage2_state": state.stage2_state.copy(),
            "stage2_action": state.stage2_action.copy(),
            "reward": state.reward.copy(),
            "good_state": state.good_at_trial.copy(),
        }

    # ------------------------------------------------------------------ analysis
    def hidden_state(self, state: TwoStepState) -> dict[str, np.ndarray]:
        return {
            "good_state": state.good.copy(),
            "reward_probs": state.probs.copy(),
            "trial": state.trial.copy(),
        }

    def optimal_return(self) -> float | None:
        """Expected return of the Bayes-optimal agent (wang variants), by dynamic programming over its belief."""
        if self.daw or self.max_steps < 2 * self.params.n_trials:
            return None
        return _belief_value(self.params)

    def memoryless_return(self) -> float | None:
        # Stage 1 always looks the same, so a reactive policy plays a fixed mixture of the two actions. The good
        # state (Wang) is uniform at every trial, and each option's probability (Daw) is uniform on its bounds at
        # every trial (the reflected walk keeps the uniform law), so every such policy earns the average.
        p = self.params
        trials = min(p.n_trials, self.max_steps // 2)
        if self.daw:
            return trials * sum(p.reward_bounds) / 2
        return trials * (p.good_reward_prob + p.bad_reward_prob) / 2

    def oracle_return(self) -> float | None:
        """Expected return of an agent told the good state at every trial (an upper bound; wang variants only)."""
        p = self.params
        if self.daw:
            return None
        best = p.common_prob * p.good_reward_prob + (1 - p.common_prob) * p.bad_reward_prob
        worst = p.common_prob * p.bad_reward_prob + (1 - p.common_prob) * p.good_reward_prob
        return min(p.n_trials, self.max_steps // 2) * max(best, worst)

    # ------------------------------------------------------------------ presentation
    def frame(self, state: TwoStepState, i: int) -> "TwoStepFrame":
        return TwoStepFrame(
            stage=int(state.stage[i]),
            good=int(state.good[i]),
            probs=state.probs[i].copy(),
            action1=int(state.action1[i]),
            common=bool(state.common[i]),
            landed=int(state.stage2_state[i]),
            reward=float(state.reward[i]),
            trial_end=bool(state.trial_end[i]),
            show_options=self.daw,
            caption=f"trial {int(state.trial[i]) + (0 if state.trial_end[i] else 1)}/{self.params.n_trials}"
            f"  t={int(state.t[i])}  {self.params.variant}",
        )

    def keys_to_action(self) -> dict[tuple[int, ...], int]:
        import pygame

        return {(pygame.K_LEFT,): 0, (pygame.K_a,): 0, (pygame.K_RIGHT,): 1, (pygame.K_d,): 1}


def _best_state(probs: np.ndarray) -> np.ndarray:
    """The stage-2 state holding the best option (ties go to S1)."""
    # Elementwise maxima rather than max(axis=2): reductions over a length-2 axis are slow in NumPy.
    best1 = np.maximum(probs[:, 0, 0], probs[:, 0, 1])
    best2 = np.maximum(probs[:, 1, 0], probs[:, 1, 1])
    return (best2 > best1).astype(np.int64)


def _reflect(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Fold ``x`` into ``[lo, hi]`` by reflection at both bounds, in place (also returned).

    A step longer than the interval bounces more than once, hence the loop; with the usual small steps it runs
    once."""
    for _ in range(8):
        over, under = x > hi, x < lo
        if not (over.any() or under.any()):
            return x
        np.subtract(2 * hi, x, out=x, where=over)
        np.subtract(2 * lo, x, out=x, where=under)
    # A step many intervals long (a large drift_sd, narrow bounds) would take one pass per bounce, about 1e306 of
    # them for bounds 1e-308 apart: fold what is left in closed form (whole periods of bouncing cancel out).
    width = hi - lo
    y = np.mod(x - lo, 2 * width)
    folded = np.clip(lo + np.where(y > width, 2 * width - y, y), lo, hi)
    np.copyto(x, folded, where=(x > hi) | (x < lo))
    return x


def _belief_value(p: TwoStepParams) -> float:
    """Optimal expected return of the wang variants from the uniform prior over the good state.

    The belief b = P(S1 good) is a sufficient statistic. Backward induction over trials on a grid of beliefs with
    linear interpolation gives V_0(1/2); the grid is fine enough that the error is far below 0.01 per episode.
    """
    b = np.linspace(0.0, 1.0, _BELIEF_GRID)
    pc, pg, pb, ps = p.common_prob, p.good_reward_prob, p.bad_reward_prob, p.switch_prob
    outcomes = []  # for each action: list of (probability of the outcome, reward, next belief)
    for a in (0, 1):
        rows = []
        for s, p_s in ((0, pc if a == 0 else 1 - pc), (1, 1 - pc if a == 0 else pc)):
            like1 = pg if s == 0 else pb  # P(reward | landed in s, S1 good)
            like2 = pb if s == 0 else pg
            for r in (1.0, 0.0):
                l1, l2 = (like1, like2) if r else (1 - like1, 1 - like2)
                joint = b * l1 + (1 - b) * l2
                post = np.divide(b * l1, joint, out=b.copy(), where=joint > 0)
                rows.append((p_s * joint, r, post * (1 - ps) + (1 - post) * ps))
        outcomes.append(rows)
    trials = min(p.n_trials, (p.max_steps or 2 * p.n_trials) // 2)
    value = np.zeros_like(b)
    for _ in range(trials):
        q = [sum(w * (r + np.interp(nxt, b, value)) for w, r, nxt in rows) for rows in outcomes]
        value = np.maximum(q[0], q[1])
    return float(np.interp(0.5, b, value))


class TwoStepFrame(Frame):
    """The three states, the transition just taken (green common, orange rare), the good state (gold border, hidden
    from the agent) and the reward."""

    W, H = 420, 250
    BOXES = {STAGE1: (150, 20, 120, 56), STATE_S1: (30, 160, 140, 64), STATE_S2: (250, 160, 140, 64)}

    def __init__(
        self, stage: int, good: int, probs: np.ndarray, action1: int, common: bool, landed: int, reward: float,
        trial_end: bool, show_options: bool, caption: str,
    ) -> None:
        self.stage, self.good, self.probs = stage, good, probs
        self.action1, self.common, self.landed = action1, common, landed
        self.reward, self.trial_end, self.show_options = reward, trial_end, show_options
        self.caption = caption

    def size(self) -> tuple[int, int]:
        return self.W, self.H

    def _labels(self) -> dict[int, str]:
        def option_text(s: int) -> str:
            if self.show_options:
                return f"{self.probs[s, 0]:.2f} / {self.probs[s, 1]:.2f}"
            return f"p={self.probs[s, 0]:.2f}"

        return {STAGE1: "stage 1", STATE_S1: f"S1  {option_text(0)}", STATE_S2: f"S2  {option_text(1)}"}

    def draw(self, surface: Any) -> None:
        import pygame

        if not pygame.font.get_init():
            pygame.font.init()
        font = pygame.font.Font(None, 22)
        surface.fill((245, 245, 240))
        x1, y1, w1, h1 = self.BOXES[STAGE1]
        for s, side in ((STATE_S1, 0), (STATE_S2, 1)):
            x, y, w, _ = self.BOXES[s]
            start = (x1 + (w1 // 4 if side == 0 else 3 * w1 // 4), y1 + h1)
            pygame.draw.line(surface, (170, 170, 170), start, (x + w // 2, y), 2)
        if self.landed >= 0 and self.action1 >= 0:
            x, y, w, _ = self.BOXES[1 + self.landed]
            start = (x1 + (w1 // 4 if self.action1 == 0 else 3 * w1 // 4), y1 + h1)
            color = (60, 170, 80) if self.common else (235, 140, 40)
            pygame.draw.line(surface, color, start, (x + w // 2, y), 6)
        labels = self._labels()
        for s, (x, y, w, h) in self.BOXES.items():
            fill = (255, 225, 110) if s == self.stage else (225, 230, 240)
            pygame.draw.rect(surface, fill, (x, y, w, h), border_radius=8)
            is_good = s == 1 + self.good
            border = (200, 140, 0) if is_good else (60, 60, 70)  # hidden from the agent, shown to the viewer
            pygame.draw.rect(surface, border, (x, y, w, h), 4 if is_good else 2, border_radius=8)
            surface.blit(font.render(labels[s], True, (20, 20, 20)), (x + 8, y + 8))
            if is_good:
                surface.blit(font.render("good", True, (170, 110, 0)), (x + w - 44, y + 8))
        if self.trial_end and self.landed >= 0:
            x, y, w, h = self.BOXES[1 + self.landed]
            color = (240, 190, 20) if self.reward > 0 else (150, 150, 150)
            pygame.draw.circle(surface, color, (x + w - 22, y + h - 20), 12)
            surface.blit(font.render(f"+{self.reward:g}", True, (20, 20, 20)), (x + 8, y + h - 28))
        for a, label in ((0, "0"), (1, "1")):
            surface.blit(font.render(label, True, (80, 80, 80)), (x1 + (w1 // 4 if a == 0 else 3 * w1 // 4) - 4,
                                                                  y1 + h1 + 4))

    def text(self) -> str:
        labels = self._labels()
        lines = []
        for s in (STAGE1, STATE_S1, STATE_S2):
            here = "*" if s == self.stage else " "
            good = "  (good)" if s == 1 + self.good else ""
            lines.append(f"[{here}] {labels[s]}{good}")
        if self.landed >= 0 and self.action1 >= 0:
            last = f"action {self.action1} -> S{self.landed + 1} ({'common' if self.common else 'rare'})"
            if self.trial_end:
                last += f", reward {self.reward:g}"
            lines.append(last)
        return "\n".join(lines)


class TwoStepEnv(MemoryEnv):
    """Two-step task (Daw et al. 2011) as used by Wang et al. 2018 to probe learned model-based behaviour.

    ## Description
    Each trial has two steps. From the stage-1 state the agent picks action 0 or 1; action 0 leads to stage-2 state
    S1 with probability ``common_prob`` (a *common* transition) and to S2 otherwise (*rare*); action 1 is the
    mirror image. In the stage-2 state any action collects a Bernoulli reward, with probability
    ``good_reward_prob`` in the *good* state and ``bad_reward_prob`` in the other. Then the next trial starts at
    stage 1, and the good state switches with probability ``switch_prob``. One episode is ``n_trials`` trials
    (``2 * n_trials`` steps). Nothing in the observation says which state is good: the agent must infer it from
    the history of transitions and rewards, so the task needs memory. An agent that knows the transition structure
    (model-based) repeats its stage-1 action after a reward that followed a common transition and switches after a
    reward that followed a rare one; a model-free learner repeats rewarded actions whatever the transition. The
    stay-probability analysis in :mod:`memenvs.analysis.two_step` reads off which.

    Variants (``variant=``; every other argument defaults to the variant's preset and may be overridden):

    * ``"wang2018"`` (default): Wang et al. 2018 — common 0.8, rewards 0.9 / 0.1, switch 0.025, 100 trials.
    * ``"wang2016"``: Wang et al. 2016 ("Learning to reinforcement learn") — common 0.75, otherwise as above.
    * ``"daw2011"``: the original task of Daw et al. 2011 — common 0.7; each stage-2 state has two options
      (the stage-2 action matters), whose reward probabilities follow independent Gaussian random walks
      (sd ``drift_sd`` = 0.025 per trial) reflected at ``reward_bounds`` = (0.25, 0.75); 201 trials.

    ## Action Space
    ``Discrete(2)``. At stage 1: 0 or 1 (which way to go). At stage 2: the option to take (``daw2011``); in the
    wang variants both actions do the same.

    ## Observation Space
    ``Box(0, 1, (3,), float32)``: one-hot of the current state (stage 1, S1, S2). Wang et al. also fed the
    previous action and reward to the network: use :class:`memenvs.wrappers.PreviousActionReward`.

    ## Rewards
    1 or 0 on every stage-2 step (Bernoulli with that state's / option's probability); 0 on stage-1 steps.

    ## Starting State
    Stage 1. The good state is drawn uniformly (or set with ``reset(options={"good_state": 0 | 1})``, wang
    variants); ``daw2011`` draws each option's probability uniformly within ``reward_bounds``.

    ## Episode End
    * Termination: after the stage-2 step of trial ``n_trials`` (step ``2 * n_trials``).
    * Truncation: after ``max_steps`` steps if that is set lower.

    ## Per-trial record in ``info``
    ``info["trial_end"]`` is True on each stage-2 step; then ``info`` describes the trial just completed:
    ``trial`` (1-based number of that trial), ``action1`` (stage-1 action), ``common`` (bool: common transition),
    ``stage2_state`` (0 = S1, 1 = S2), ``stage2_action``, ``reward`` and ``good_state`` (the good state during that
    trial; for ``daw2011`` the state holding the best option). On stage-1 steps ``trial_end`` is False,
    ``action1``/``common``/``stage2_state`` describe the trial in progress and the other fields are -1 / 0. After
    a reset the fields are -1 / False / 0. In the vector env each field is an array over copies.

    ## Arguments
    * ``variant`` (``"wang2018"``, ``"wang2016"``, ``"daw2011"``; default ``"wang2018"``).
    * ``n_trials`` (int >= 1; default 100, 201 for ``daw2011``).
    * ``common_prob`` (float in [0, 1]; default 0.8 / 0.75 / 0.7).
    * ``good_reward_prob``, ``bad_reward_prob`` (floats in [0, 1]; default 0.9, 0.1; wang variants only).
    * ``switch_prob`` (float in [0, 1]; default 0.025; wang variants only).
    * ``drift_sd`` (float >= 0; default 0.025; ``daw2011`` only).
    * ``reward_bounds`` (pair 0 <= low < high <= 1; default (0.25, 0.75); ``daw2011`` only).
    * ``max_steps`` (int >= 1 or None): an earlier time limit (default ``2 * n_trials``).

    ## Hidden state and bounds
    ``hidden_state()`` gives ``good_state``, ``reward_probs`` (2 states x 2 options) and ``trial``.
    ``memoryless_return()`` is ``n_trials`` x the average reward probability (50 for the defaults): stage 1 always
    looks the same, so a reactive agent cannot track the good state. ``optimal_return()`` (wang variants) is the
    expected return of the Bayes-optimal agent, which tracks the posterior over the good state, computed by dynamic
    programming over that belief: 70.6 for ``wang2018``, 67.2 for ``wang2016`` (``None`` for ``daw2011``). A
    hypothetical agent told the good state would get 74 (``oracle_return()``). Reproductions of Wang et al.'s
    meta-LSTM reached about 63-68.

    ## Reference
    * N. D. Daw, S. J. Gershman, B. Seymour, P. Dayan, R. J. Dolan, "Model-based influences on humans' choices and
      striatal prediction errors", Neuron 69, 2011.
    * J. X. Wang et al., "Learning to reinforcement learn", arXiv:1611.05763, 2016.
    * J. X. Wang et al., "Prefrontal cortex as a meta-reinforcement learning system", Nature Neuroscience 21, 2018.

    ## Version History
    * v0: initial release.
    """

    core_class = TwoStepCore

    def oracle_return(self) -> float | None:
        """Expected return of an agent told the good state every trial (an upper bound; wang variants)."""
        return self.core.oracle_return()


class TwoStepVectorEnv(MemoryVectorEnv):
    """Native vector version of :class:`TwoStepEnv` (all copies step together in NumPy)."""

    core_class = TwoStepCore
