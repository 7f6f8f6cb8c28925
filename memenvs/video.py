"""Recording episodes as pictures and writing them to GIF (Pillow) or MP4 (imageio with its bundled ffmpeg)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import gymnasium as gym
import numpy as np

VIDEO_SUFFIXES = (".gif", ".mp4")

Policy = Callable[[Any], Any]


def record_episodes(
    env: gym.Env,
    episodes: int = 1,
    seed: int | None = 0,
    policy: Policy | None = None,
    max_frames: int = 2000,
    on_episode_start: Callable[[], None] | None = None,
) -> tuple[list[np.ndarray], list[float]]:
    """Run ``episodes`` episodes in an ``rgb_array`` env and return every frame (one after reset and one after each
    step) and each episode's return. ``policy(obs) -> action`` defaults to uniform random actions drawn from the
    action space seeded with ``seed``; ``on_episode_start`` lets a stateful policy clear its memory."""
    if env.render_mode != "rgb_array":
        raise ValueError(f"record_episodes needs an env made with render_mode='rgb_array', got {env.render_mode!r}")
    if policy is None:
        env.action_space.seed(seed)
        policy = lambda obs: env.action_space.sample()  # noqa: E731
    frames: list[np.ndarray] = []
    returns: list[float] = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed if episode == 0 else None)
        if on_episode_start is not None:
            on_episode_start()
        frames.append(env.render())
        total, done = 0.0, False
        while not done and len(frames) < max_frames:
            obs, reward, terminated, truncated, _ = env.step(policy(obs))
            total += float(reward)
            done = terminated or truncated
            frames.append(env.render())
        returns.append(total)
        if len(frames) >= max_frames:
            break
    return frames, returns


def write_video(frames: Sequence[np.ndarray], path: str | Path, fps: int = 8) -> Path:
    """Write RGB frames to ``path``; the suffix picks the format (``.gif`` or ``.mp4``)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ValueError(f"output file must end in {' or '.join(VIDEO_SUFFIXES)}, got {path.name!r}")
    if not frames:
        raise ValueError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        _write_gif(frames, path, fps)
    else:
        _write_mp4(frames, path, fps)
    return path


def _write_gif(frames: Sequence[np.ndarray], path: Path, fps: int) -> None:
    try:
        from PIL import Image
    except ImportError as err:
        raise ImportError('writing GIFs needs Pillow: pip install "memenvs[video]"') from err
    images = [Image.fromarray(np.asarray(f, dtype=np.uint8)) for f in frames]
    # Every frame is kept (disposal=1, no optimisation) so a GIF has exactly one picture per step.
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=int(1000 / max(1, fps)), loop=0,
        optimize=False, disposal=1,
    )


def _write_mp4(frames: Sequence[np.ndarray], path: Path, fps: int) -> None:
    try:
        import imageio.v2 as imageio
    except ImportError as err:
        raise ImportError('writing MP4 needs imageio and imageio-ffmpeg: pip install "memenvs[video]"') from err
    # H.264 wants even sizes; pad by one row/column where needed instead of resampling.
    h, w = frames[0].shape[:2]
    pad = ((0, h % 2), (0, w % 2), (0, 0))
    with imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(np.pad(np.asarray(frame, dtype=np.uint8), pad))
