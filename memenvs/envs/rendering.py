"""Shared rendering for every memenvs environment: pygame drawing, text output and the ``human`` window.

A core describes one copy of its environment as a :class:`Frame`; most are grids and return a :class:`GridFrame`
(tile codes, a palette, the agent, highlighted cells, markers and a caption), which this module draws with pygame for
``rgb_array`` and ``human`` and as characters for ``ansi``. Environments that are not grids subclass :class:`Frame`
and implement ``size``, ``draw`` and ``text`` themselves; the :class:`Renderer` handles the modes for all of them.

pygame is imported only when something is drawn, so ``import memenvs`` stays light and ``ansi`` needs no pygame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

# pygame-ce greets on import; a library should not print.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

RENDER_MODES = ("human", "rgb_array", "ansi")
CAPTION_PX = 22

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Tile:
    """How one tile code looks: its fill colour and its character in ``ansi`` output."""

    color: Color
    char: str


@dataclass(frozen=True)
class Marker:
    """Something drawn on top of a cell (an item, a cue): a disc of ``color`` scaled by ``scale`` in (0, 1]."""

    row: int
    col: int
    color: Color
    char: str
    scale: float = 0.6


class Frame:
    """What a core returns from ``frame(state, i)``: something the renderer can draw and print."""

    caption: str = ""

    def size(self) -> tuple[int, int]:
        """Width and height in pixels, not counting the caption strip."""
        raise NotImplementedError

    def draw(self, surface: Any) -> None:
        """Draw onto a pygame surface of :meth:`size`."""
        raise NotImplementedError

    def text(self) -> str:
        """A text picture for ``ansi`` mode (without the caption)."""
        raise NotImplementedError


@dataclass
class GridFrame(Frame):
    """A grid world seen from above."""

    tiles: np.ndarray
    palette: Sequence[Tile]
    agent: tuple[int, int] | None = None
    agent_color: Color = (220, 60, 50)
    agent_char: str = "A"
    highlight: np.ndarray | None = None
    markers: Sequence[Marker] = field(default_factory=tuple)
    caption: str = ""
    max_px: tuple[int, int] = (960, 640)

    @property
    def cell_px(self) -> int:
        h, w = self.tiles.shape
        return int(max(4, min(40, self.max_px[0] // w, self.max_px[1] // h)))

    def size(self) -> tuple[int, int]:
        h, w = self.tiles.shape
        return w * self.cell_px, h * self.cell_px

    def draw(self, surface: Any) -> None:
        import pygame

        c = self.cell_px
        h, w = self.tiles.shape
        for r in range(h):
            for col in range(w):
                surface.fill(self.palette[self.tiles[r, col]].color, (col * c, r * c, c, c))
        if self.highlight is not None:
            overlay = pygame.Surface((c, c), pygame.SRCALPHA)
            overlay.fill((255, 235, 120, 90))
            for r, col in zip(*np.nonzero(self.highlight)):
                surface.blit(overlay, (int(col) * c, int(r) * c))
        if c >= 8:  # grid lines only where cells are big enough to keep them readable
            for x in range(0, w * c + 1, c):
                pygame.draw.line(surface, (90, 90, 90), (x, 0), (x, h * c))
            for y in range(0, h * c + 1, c):
                pygame.draw.line(surface, (90, 90, 90), (0, y), (w * c, y))
        for m in self.markers:
            center = (m.col * c + c // 2, m.row * c + c // 2)
            pygame.draw.circle(surface, m.color, center, max(1, int(c * m.scale / 2)))
        if self.agent is not None:
            r, col = self.agent
            pygame.draw.circle(surface, self.agent_color, (col * c + c // 2, r * c + c // 2), max(2, int(c * 0.38)))

    def text(self) -> str:
        grid = [[self.palette[v].char for v in row] for row in self.tiles]
        for m in self.markers:
            grid[m.row][m.col] = m.char
        if self.agent is not None:
            grid[self.agent[0]][self.agent[1]] = self.agent_char
        return "\n".join("".join(row) for row in grid)


class Renderer:
    """Turns frames into what a render mode returns: an RGB array, a string, or a window update.

    One renderer belongs to one environment; ``close`` shuts its window (and is safe to call twice). Each ``human``
    renderer has a window of its own (``pygame.Window``), so two envs in one process neither draw into nor close
    each other's window; the video subsystem is shut down when the last window closes.
    """

    #: ``human`` windows open in this process, over all renderers.
    _open_windows = 0

    def __init__(self, render_mode: str | None, fps: int, title: str = "memenvs") -> None:
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be one of {RENDER_MODES} or None, got {render_mode!r}")
        self.render_mode = render_mode
        self.fps = fps
        self.title = title
        self._window = None
        self._clock = None
        self._font = None

    def render(self, frame: Frame) -> np.ndarray | str | None:
        if self.render_mode is None:
            return None
        if self.render_mode == "ansi":
            return frame.text() + ("\n" + frame.caption if frame.caption else "") + "\n"
        surface = self._draw(frame)
        if self.render_mode == "rgb_array":
            return _surface_to_array(surface)
        self._show(surface)
        return None

    def rgb(self, frame: Frame) -> np.ndarray:
        """The RGB picture of a frame whatever the render mode (used by the video writer)."""
        return _surface_to_array(self._draw(frame))

    def _draw(self, frame: Frame) -> Any:
        import pygame

        w, h = frame.size()
        surface = pygame.Surface((w, h + CAPTION_PX))
        surface.fill((30, 30, 30))
        frame.draw(surface.subsurface((0, 0, w, h)))
        if frame.caption:
            if self._font is None:
                if not pygame.font.get_init():
                    pygame.font.init()
                self._font = pygame.font.Font(None, 20)
            text = self._font.render(frame.caption, True, (235, 235, 235))
            surface.blit(text, (4, h + 3))
        return surface

    def _show(self, surface: Any) -> None:
        import pygame

        if self._window is None:
            try:
                pygame.display.init()
                self._window = _open_window(self.title, surface.get_size())
            except pygame.error as err:
                raise RuntimeError(
                    f"render_mode='human' needs a display and none could be opened ({err}). "
                    "Use render_mode='rgb_array' or 'ansi', or set SDL_VIDEODRIVER=dummy to draw off-screen."
                ) from err
            Renderer._open_windows += 1
            # Off-screen (SDL's dummy or offscreen driver: tests, CI, no display) nobody watches: frames are not paced.
            self._clock = None if pygame.display.get_driver() in ("dummy", "offscreen") else pygame.time.Clock()
        elif tuple(self._window.size) != surface.get_size():
            self._window.size = surface.get_size()
        pygame.event.pump()
        self._window.get_surface().blit(surface, (0, 0))
        self._window.flip()
        if self._clock is not None:
            self._clock.tick(self.fps)

    def close(self) -> None:
        if self._window is not None:
            import pygame

            self._window.destroy()
            self._window = None
            self._clock = None
            Renderer._open_windows -= 1
            if Renderer._open_windows == 0:  # the last memenvs window: release the video subsystem as well
                pygame.display.quit()

    def __getstate__(self) -> dict:
        # Windows and fonts are process-local; a pickled env reopens its window when it next renders.
        state = self.__dict__.copy()
        state.update(_window=None, _clock=None, _font=None)
        return state


class _DisplayWindow:
    """The ``pygame.Window`` interface over pygame's single display, for pygame-ce releases without ``Window``."""

    def __init__(self, title: str, size: tuple[int, int]) -> None:
        import pygame

        self._surface = pygame.display.set_mode(size)
        pygame.display.set_caption(title)

    @property
    def size(self) -> tuple[int, int]:
        return self._surface.get_size()

    @size.setter
    def size(self, size: tuple[int, int]) -> None:
        import pygame

        self._surface = pygame.display.set_mode(size)

    def get_surface(self) -> Any:
        return self._surface

    def flip(self) -> None:
        import pygame

        pygame.display.flip()

    def destroy(self) -> None:
        pass


def _open_window(title: str, size: tuple[int, int]) -> Any:
    import pygame

    window_class = getattr(pygame, "Window", None)
    if window_class is None or not hasattr(window_class, "get_surface"):
        return _DisplayWindow(title, size)
    return window_class(title, size)


def _surface_to_array(surface: Any) -> np.ndarray:
    import pygame

    return np.ascontiguousarray(np.transpose(pygame.surfarray.array3d(surface), (1, 0, 2)), dtype=np.uint8)


def headless() -> None:
    """Make pygame draw off-screen (for tests, servers and CI) unless a video driver was chosen already."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def direction_keys(north: int = 0, east: int = 1, south: int = 2, west: int = 3) -> dict[tuple[int, ...], int]:
    """Arrow keys and WASD mapped to four move actions, for :func:`gymnasium.utils.play.play`."""
    import pygame

    pairs = (
        ((pygame.K_UP, pygame.K_w), north),
        ((pygame.K_RIGHT, pygame.K_d), east),
        ((pygame.K_DOWN, pygame.K_s), south),
        ((pygame.K_LEFT, pygame.K_a), west),
    )
    return {(key,): action for keys, action in pairs for key in keys}
