"""Record episodes of a memenvs id with Gymnasium's ``RecordVideo`` (MP4 files through moviepy).

    python examples/record_video.py

``rgb_array`` frames are the env's full picture (for Flickering Atari: what the agent sees). ``memenvs render`` does
the same from the command line, for a random policy or a saved model.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
from gymnasium.wrappers import RecordEpisodeStatistics, RecordVideo

import memenvs  # noqa: F401  (registers the ids)


def main(video_folder: str = "videos", episodes: int = 3, seed: int = 0) -> list[Path]:
    env = gym.make("memenvs/TMaze-v0", render_mode="rgb_array", variant="passive", length=8)
    env = RecordVideo(env, video_folder, episode_trigger=lambda episode: True, name_prefix="tmaze")
    env = RecordEpisodeStatistics(env)
    env.action_space.seed(seed)
    for episode in range(episodes):
        env.reset(seed=seed if episode == 0 else None)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            done = terminated or truncated
        print(f"episode {episode}: return {info['episode']['r']:.2f}, {info['episode']['l']} steps")
    env.close()
    return sorted(Path(video_folder).glob("tmaze-episode-*.mp4"))


if __name__ == "__main__":
    main()
