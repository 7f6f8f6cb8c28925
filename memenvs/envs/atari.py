"""Flickering Atari: ALE games whose processed frame is blanked with probability ``p`` each step (DRQN's POMDP).

Built from ALE itself (``ale-py``, whose wheels bundle the ROMs, so this works offline) and Gymnasium's
``AtariPreprocessing`` (which needs OpenCV); both come with the ``atari`` extra: ``pip install "memenvs[atari]"``.
Nothing here is imported by ``import memenvs``; the ids point at :func:`make_flickering_atari` by name.
"""

from __future__ import annotations

import dataclasses
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from memenvs.envs.params import build_params, check_float, check_int, check_probability, normalise
from memenvs.wrappers.flicker import FlickerObservation

__all__ = ["FlickeringAtariParams", "AgentView", "make_flickering_atari", "atari_games"]

INSTALL_HINT = 'pip install "memenvs[atari]"'
#: ALE ROMs that have no single-player mode; ALE registers no v5 id for them.
MULTIPLAYER_ONLY = frozenset({"combat", "joust", "maze_craze", "warlords"})
#: ALE emulates the Atari 2600 at 60 frames per second; the agent acts every ``frame_skip`` of them.
ATARI_FPS = 60


@dataclasses.dataclass(frozen=True)
class FlickeringAtariParams:
    """Arguments of :func:`make_flickering_atari` (see its docstring); validated on construction."""

    game: str = "pong"
    p: float = 0.5
    flicker_on_reset: bool = False
    frame_stack: int = 1
    noop_max: int = 30
    frame_skip: int = 4
    screen_size: int = 84
    terminal_on_life_loss: bool = False
    repeat_action_probability: float = 0.0
    full_action_space: bool = False
    max_num_frames_per_episode: int = 108_000
    render_scale: int = 3

    def __post_init__(self) -> None:
        if not isinstance(self.game, str) or not self.game:
            raise ValueError(f"game must be an ALE game name such as 'pong' or 'Breakout', got {self.game!r}")
        normalise(self, "p", check_probability)
        for name in ("flicker_on_reset", "terminal_on_life_loss", "full_action_space"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        normalise(self, "frame_stack", check_int, 1, 64)
        normalise(self, "noop_max", check_int, 0)
        normalise(self, "frame_skip", check_int, 1)
        normalise(self, "screen_size", check_int, 8, 1024)
        object.__setattr__(
            self,
            "repeat_action_probability",
            check_float("repeat_action_probability", self.repeat_action_probability, 0.0, 1.0),
        )
        frames = check_int("max_num_frames_per_episode", self.max_num_frames_per_episode, 1)
        object.__setattr__(self, "max_num_frames_per_episode", frames)
        normalise(self, "render_scale", check_int, 1, 16)


def _import_atari() -> Any:
    """``ale_py`` (with its ids registered), or an error that names the extra to install."""
    try:
        import ale_py
        import cv2  # noqa: F401  (AtariPreprocessing resizes with OpenCV; fail here, with the hint, not later)
    except ImportError as e:
        raise gym.error.DependencyNotInstalled(
            f"Flickering Atari needs ale-py and OpenCV, which come with the atari extra: {INSTALL_HINT} ({e})"
        ) from e
    gym.register_envs(ale_py)
    # ALE prints its banner (version, "Powered by Stella") from C++ when the first game loads, in the middle of
    # whatever the user's program prints; its logger at Error level keeps it quiet and still reports errors.
    ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
    return ale_py


def atari_games() -> tuple[str, ...]:
    """The ALE game names (snake_case ROM ids) accepted as ``game``; needs the ``atari`` extra."""
    ale_py = _import_atari()
    return tuple(sorted(set(ale_py.roms.get_all_rom_ids()) - MULTIPLAYER_ONLY))


def _rom_id(game: str) -> str:
    """Map ``"pong"``, ``"Pong"``, ``"space_invaders"`` or ``"SpaceInvaders"`` to the ROM id ALE uses."""
    games = atari_games()
    by_key = {}
    for rom in games:
        by_key[rom] = rom
        by_key[rom.replace("_", "")] = rom  # the PascalCase id name, lower-cased
    key = game.strip().lower()
    if key not in by_key:
        raise ValueError(f"game must be one of the ALE games {', '.join(games)}; got {game!r}")
    return by_key[key]


class AgentView(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Make ``render()`` show what the agent sees: its current observation, blank frames included.

    ``rgb_array`` returns the latest observation as an ``(H * scale, W * k * scale, 3)`` uint8 image: grayscale
    repeated into three channels, each pixel upscaled ``scale`` times (3 by default, so an 84x84 frame becomes
    252x252), and with a frame stack the ``k`` stacked frames side by side, oldest on the left. The emulator's own
    full-colour screen is never shown, since that is not what the agent gets. ``human`` is provided by Gymnasium's
    ``HumanRendering`` over this (``gym.make`` applies it).
    """

    def __init__(self, env: gym.Env, render_mode: str | None = None, scale: int = 3) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array' ('human' via gym.make), got {render_mode!r}")
        scale = check_int("render_scale", scale, 1, 16)
        # The render mode is gym.make's argument to the entry point, not part of this wrapper's identity: recorded
        # here, a spec re-made with another render mode (as check_env does) would no longer match its wrappers.
        gym.utils.RecordConstructorArgs.__init__(self, scale=scale)
        gym.Wrapper.__init__(self, env)
        self._render_mode = render_mode
        self.scale = scale
        self.metadata = {**env.metadata, "render_modes": ["rgb_array"]}
        self._last: np.ndarray | None = None

    @property
    def render_mode(self) -> str | None:
        return self._render_mode

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._last = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._last = obs
        return obs, reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self._render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array' to gym.make.")
            return None
        if self._last is None:
            raise gym.error.ResetNeeded("Call reset() before render().")
        frames = np.asarray(self._last, dtype=np.uint8)
        if frames.ndim == 3 and frames.shape[-1] == 3:  # already an RGB observation
            image = frames
        else:
            image = np.concatenate(list(frames), axis=1) if frames.ndim == 3 else frames
            image = np.repeat(image[:, :, None], 3, axis=2)
        return np.repeat(np.repeat(image, self.scale, axis=0), self.scale, axis=1)


def make_flickering_atari(render_mode: str | None = None, **kwargs: Any) -> gym.Env:
    """Flickering Atari (Hausknecht & Stone 2015): an ALE game seen through frames blanked with probability ``p``.

    ## Description
    DRQN's "Flickering Pong" and the IAM paper's flickering Atari: at every agent step the whole screen is either
    shown or replaced by a black frame, i.i.d. with probability ``p`` (0.5 in both papers). A single frame of
    Pong already hides the ball's velocity; with flicker the agent also has to carry the ball's position and
    motion through runs of blank frames, so a memoryless policy scores far below one with memory. DRQN (an LSTM
    over one frame per step) beat DQN with a 10-frame stack on Flickering Pong.

    ## Where the flicker sits
    The stack, innermost first, with the registered defaults:

    1. ALE ``v5`` (``ALE/<Game>-v5``'s settings: minimal action set, episodes truncated at 108,000 emulator
       frames) with ``frameskip=1``, so the preprocessing below does the skipping, and without v5's sticky actions
       (``repeat_action_probability=0``: DRQN's ALE had none, and the IAM code used ``<Game>NoFrameskip-v4``,
       which has none either);
    2. Gymnasium's ``AtariPreprocessing``: up to ``noop_max`` = 30 no-ops at reset, the action repeated for
       ``frame_skip`` = 4 emulator frames, the pixel-wise maximum of the last two of them (this is what removes
       the game's own sprite flicker, see below), grayscale, resized to ``screen_size`` = 84 (84x84 ``uint8``);
    3. :class:`~memenvs.wrappers.FlickerObservation`: the processed 84x84 frame is replaced by zeros with
       probability ``p``;
    4. ``FrameStackObservation(frame_stack)``, which stacks the flickered frames along a leading channel axis
       (one frame by default), so each frame in the stack is blanked independently (as for DQN in the DRQN
       paper);
    5. :class:`AgentView`, which makes ``render()`` show the agent's observation.

    So flicker acts on the agent's processed frame once per agent step (every 4 emulator frames), after frame
    skipping and max-pooling; it never touches the emulator, its sprites or its RAM, and the game goes on
    unchanged behind a blank frame. The draws come from the wrapper's own generator seeded by ``reset(seed=...)``:
    under one seed the game (including the no-op counts drawn by ``AtariPreprocessing``) is the same with or
    without flicker, and the same seed gives the same blank pattern.

    ## Not Atari's own flicker
    Many 2600 games (Pac-Man, Asteroids, Space Invaders' missiles...) draw some sprites only on every other
    emulator frame because the hardware has few sprite slots. That flicker is deterministic, per sprite, and at
    the 60 Hz emulator rate; the max over the last two frames in ``AtariPreprocessing`` removes it. The flicker
    here is random, blanks the whole screen, and happens at the agent's rate after that max.

    ## Action Space
    ``Discrete(n)``: the game's minimal action set (6 for Pong, 4 for Breakout), or 18 with
    ``full_action_space=True``.

    ## Observation Space
    ``Box(0, 255, (frame_stack, screen_size, screen_size), uint8)``: the last ``frame_stack`` grayscale frames
    along a leading channel axis, ``(1, 84, 84)`` by default (DRQN saw one frame per step). The channel axis comes
    first, so SB3's ``CnnPolicy`` and the ``NatureCNN`` take the observation as it is with any ``frame_stack``.
    A blank frame is all zeros;
    ``info["flicker"]`` is ``True`` when the returned (newest) frame was blanked.

    ## Rewards
    The game's score change over the ``frame_skip`` emulator frames (Pong: +1 / -1 per point, episodes in
    [-21, 21]). Not clipped.

    ## Starting State
    The game's start after a random number of no-ops in ``[1, noop_max]``. The first observation of an episode
    is never blank (the IAM code returns its reset frame unflickered), unless ``flicker_on_reset=True``.

    ## Episode End
    Termination at game over (or at a lost life with ``terminal_on_life_loss=True``); truncation after
    ``max_num_frames_per_episode`` emulator frames (27,000 agent steps with the defaults).

    ## Arguments
    * ``game`` (str, default ``"pong"``): an ALE game, as a ROM id (``"space_invaders"``) or id name
      (``"SpaceInvaders"``); :func:`atari_games` lists them. Fixed by ``FlickeringPong-v0`` /
      ``FlickeringBreakout-v0``; ``FlickeringAtari-v0`` takes it as an argument.
    * ``p`` (float in [0, 1], default 0.5): blanking probability. ``p = 0`` is the plain preprocessed game.
    * ``flicker_on_reset`` (bool, default ``False``): may the first frame of an episode be blank. (The IAM code
      blanks neither the first frame of its first episode nor any later reset frame it returns from ``reset``;
      the reset frames its workers return from ``step`` at an episode's end do pass through its flicker.)
    * ``frame_stack`` (int in [1, 64], default 1): frames per observation; 1 means no stack.
    * ``noop_max`` (int >= 0, default 30), ``frame_skip`` (int >= 1, default 4), ``screen_size`` (int in
      [8, 1024], default 84), ``terminal_on_life_loss`` (bool, default ``False``): passed to
      ``AtariPreprocessing``.
    * ``repeat_action_probability`` (float in [0, 1], default 0: no sticky actions, as in DRQN and the IAM code;
      0.25 gives ALE v5's sticky actions, Machado et al.'s recommendation), ``full_action_space`` (bool, default
      ``False``),
      ``max_num_frames_per_episode`` (int >= 1, default 108,000): passed to ALE.
    * ``render_scale`` (int in [1, 16], default 3): pixel upscaling of ``render()``.
    * ``render_mode``: ``None``, ``"rgb_array"`` (the agent's frame as an RGB image, ``render_scale`` times
      larger, blank frames included) or ``"human"`` (the same in a window, via Gymnasium's ``HumanRendering``).

    ## Hidden state and bounds
    What flicker hides is the unblanked processed frame: ``env.get_wrapper_attr("hidden_state")()`` returns it
    as ``{"observation": ..., "flicker": ...}``. No analytic optimal or memoryless return is known for Atari.

    ## Reference
    M. Hausknecht and P. Stone, "Deep Recurrent Q-Learning for Partially Observable MDPs", AAAI Fall Symposium
    2015 (Flickering Pong, p = 0.5). M. Suau et al., "Influence-aware Memory Architectures for Deep Reinforcement
    Learning" (flickering Atari). M. C. Machado et al., "Revisiting the Arcade Learning Environment", JAIR 2018
    (the preprocessing and sticky actions).

    ## Version History
    * v0 (changed in place before release): defaults ``repeat_action_probability=0`` (was 0.25) and
      ``flicker_on_reset=False`` (was ``True``), as in DRQN and the IAM code.
    * v0: initial release. Changed in place: observations always carry a leading channel axis (``(1, 84, 84)``
      instead of ``(84, 84)`` without a frame stack); ``gym.make(env.spec, render_mode=...)`` re-makes the env.

    Raises:
        gym.error.DependencyNotInstalled: without ale-py or OpenCV; the message names the ``atari`` extra.
        ValueError: for a bad or unknown argument, naming it.
    """
    params = build_params(FlickeringAtariParams, kwargs, "FlickeringAtari")
    if render_mode not in (None, "rgb_array"):
        raise ValueError(
            f"render_mode must be None or 'rgb_array' ('human' via gym.make), got {render_mode!r}"
        )
    _import_atari()
    from ale_py.env import AtariEnv
    from ale_py.registration import rom_id_to_name
    from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

    rom = _rom_id(params.game)
    # The v5 id's own settings, so "ALE v5" means what ale-py means by it; only frame skipping moves out of ALE.
    ale_kwargs = dict(gym.spec(f"ALE/{rom_id_to_name(rom)}-v5").kwargs)
    ale_kwargs.update(
        game=rom,
        frameskip=1,
        repeat_action_probability=params.repeat_action_probability,
        full_action_space=params.full_action_space,
        max_num_frames_per_episode=params.max_num_frames_per_episode,
    )
    env: gym.Env = AtariEnv(**ale_kwargs)
    env = AtariPreprocessing(
        env,
        noop_max=params.noop_max,
        frame_skip=params.frame_skip,
        screen_size=params.screen_size,
        terminal_on_life_loss=params.terminal_on_life_loss,
    )
    env = FlickerObservation(env, p=params.p, flicker_on_reset=params.flicker_on_reset)
    # Stacked even for one frame: the stack axis is the channel axis image policies expect.
    env = FrameStackObservation(env, params.frame_stack)
    env = AgentView(env, render_mode=render_mode, scale=params.render_scale)
    env.metadata = {**env.metadata, "render_fps": ATARI_FPS // params.frame_skip or 1}
    return env


# gym.make reads the creator's render modes from here; listing only rgb_array makes it add HumanRendering for
# render_mode="human".
make_flickering_atari.metadata = {  # type: ignore[attr-defined]
    "render_modes": ["rgb_array"],
    "render_fps": ATARI_FPS // 4,
}
