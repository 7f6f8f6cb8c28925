"""Playing an environment with the keyboard, as a test of one's own memory.

Two things make human play a memory test rather than a look at the answer:

* **What is shown.** An env's ``render()`` is the omniscient picture (the T-maze's goal arm, the blind maze's agent,
  the whole random maze, the cars on the hidden loops). :class:`ObservationView` replaces it by a picture of the
  observation alone, which is all an agent gets; ``memenvs play --show-hidden`` shows the full picture instead.
* **When the env steps.** Gymnasium's ``play`` steps at a fixed rate and sends a no-op when no key is down, so in a
  grid task a player who stops to think walks into walls until the episode times out. :func:`play_turn_based`
  steps exactly once per key press and otherwise waits.

Real-time envs (CartPole, Atari) are played with Gymnasium's own ``play``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from memenvs.envs.rendering import Frame, Renderer

#: Cells per row when a long 1-D observation is wrapped onto several rows.
ROW_CELLS = 16
CELL_PX = 28
#: ``ansi`` characters from low to high value.
LEVELS = " .:-=+*#%@"


def is_image(space: gym.Space) -> bool:
    """A ``uint8`` image observation (Atari's frames): its ``render()`` already shows just the observation."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) >= 2


def _unit(obs: np.ndarray, space: spaces.Box) -> np.ndarray:
    """Observation values mapped to [0, 1]: by the space's bounds where they are finite, else squashed around 0."""
    x = np.asarray(obs, dtype=np.float64)
    low = np.broadcast_to(space.low, x.shape).astype(np.float64)
    high = np.broadcast_to(space.high, x.shape).astype(np.float64)
    bounded = np.isfinite(low) & np.isfinite(high) & (high > low)
    out = 0.5 + 0.5 * x / (1.0 + np.abs(x))
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = (x - low) / (high - low)
    out[bounded] = scaled[bounded]
    return np.clip(out, 0.0, 1.0)


def observation_panels(obs: Any, space: gym.Space) -> list[np.ndarray]:
    """The observation as 2-D grids of values in [0, 1]: a 1-D vector wrapped onto rows of :data:`ROW_CELLS`
    (padding is ``nan``, drawn as background), a 2-D array as it is, a 3-D ``(H, W, C)`` array one panel per
    channel."""
    if not isinstance(space, spaces.Box):
        obs, space = spaces.flatten(space, obs), spaces.flatten_space(space)
    x = _unit(np.asarray(obs), space)
    if x.ndim <= 1:
        x = x.reshape(-1)
        cols = min(ROW_CELLS, max(1, x.size))
        rows = -(-x.size // cols)
        grid = np.full(rows * cols, np.nan)
        grid[: x.size] = x
        return [grid.reshape(rows, cols)]
    if x.ndim == 2:
        return [x]
    return [x[..., c] for c in range(x.shape[-1])] if x.ndim == 3 else [x.reshape(x.shape[0], -1)]


@dataclass
class ObservationFrame(Frame):
    """A picture of an observation: one grid of grey cells per panel (white = high), panels side by side."""

    panels: list[np.ndarray]
    caption: str = ""
    cell_px: int = CELL_PX

    def size(self) -> tuple[int, int]:
        c = self.cell_px
        width = sum(p.shape[1] * c for p in self.panels) + c // 2 * (len(self.panels) - 1)
        return max(width, 240), max(p.shape[0] for p in self.panels) * c

    def draw(self, surface: Any) -> None:
        import pygame

        c, x0 = self.cell_px, 0
        for panel in self.panels:
            rows, cols = panel.shape
            for r in range(rows):
                for col in range(cols):
                    value = panel[r, col]
                    if np.isnan(value):
                        continue
                    grey = int(round(40 + 215 * float(value)))
                    rect = (x0 + col * c, r * c, c, c)
                    surface.fill((grey, grey, grey), rect)
                    pygame.draw.rect(surface, (90, 90, 90), rect, 1)
            x0 += cols * c + c // 2

    def text(self) -> str:
        lines: list[str] = []
        for panel in self.panels:
            for row in panel:
                lines.append("".join(" " if np.isnan(v) else LEVELS[min(len(LEVELS) - 1, int(v * len(LEVELS)))]
                                     for v in row))
            lines.append("")
        return "\n".join(lines[:-1])


class ObservationView(gym.Wrapper):
    """Make ``render()`` show only the current observation (see :class:`ObservationFrame`), with the step count,
    the last reward and the episode's return in the caption; nothing the agent does not see."""

    def __init__(self, env: gym.Env, render_mode: str = "rgb_array") -> None:
        super().__init__(env)
        self._renderer = Renderer(render_mode, int(env.metadata.get("render_fps", 8)), title="memenvs (agent view)")
        self._obs: Any = None
        self._t, self._reward, self._return = 0, 0.0, 0.0

    @property
    def render_mode(self) -> str | None:
        return self._renderer.render_mode

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self._obs, info = self.env.reset(**kwargs)
        self._t, self._reward, self._return = 0, 0.0, 0.0
        return self._obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        self._reward = float(reward)
        self._return += self._reward
        return self._obs, reward, terminated, truncated, info

    def render(self) -> Any:
        if self._obs is None:
            raise gym.error.ResetNeeded("Call reset() before render().")
        caption = f"t={self._t}  reward={self._reward:+.3g}  return={self._return:+.3g}"
        frame = ObservationFrame(observation_panels(self._obs, self.env.observation_space), caption=caption)
        return self._renderer.render(frame)

    def close(self) -> None:
        self._renderer.close()
        super().close()


def play_turn_based(
    env: gym.Env,
    keys_to_action: dict[tuple[int, ...], Any],
    *,
    zoom: float | None = None,
    seed: int | None = None,
    events: Callable[[], Iterable[Any]] | None = None,
) -> int:
    """Play ``env`` (made with ``render_mode="rgb_array"``) one step per key press; returns the steps taken.

    Nothing happens until a mapped key goes down; holding it does not repeat. Escape or closing the window ends the
    game; an episode that ends starts the next one. ``events`` yields the next batch of pygame events (default:
    wait for one), so the loop can be driven without a keyboard.
    """
    import pygame
    from gymnasium.utils.play import PlayableGame, display_arr

    env.reset(seed=seed)
    game = PlayableGame(env, keys_to_action=keys_to_action, zoom=zoom)  # sizes its window from a first render
    next_events = events if events is not None else (lambda: [pygame.event.wait()])
    steps = 0
    while game.running:
        display_arr(game.screen, env.render(), video_size=game.video_size, transpose=True)
        pygame.display.flip()
        for event in next_events():
            game.process_event(event)
            action = keys_to_action.get((event.key,)) if event.type == pygame.KEYDOWN else None
            if action is None or not game.running:
                continue
            _, _, terminated, truncated, _ = env.step(action)
            steps += 1
            if terminated or truncated:
                env.reset()
    return steps
