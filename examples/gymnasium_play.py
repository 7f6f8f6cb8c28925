"""Play a memenvs id with Gymnasium's own ``play`` (a window; arrow keys or WASD; Escape quits).

    python examples/gymnasium_play.py

Every grid env supplies ``get_keys_to_action``. Grid tasks are turn-based: ``wait_on_player=True`` makes ``play``
step only while a key is held (without it, ``play`` sends ``noop``, action 0 = north, at ``render_fps``). Gymnasium
shows ``render()``, the full picture with the hidden state; ``memenvs play ID`` instead steps once per key press
and shows only the observation, which is the version that tests your memory.
"""

from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
from gymnasium.utils.play import play

import memenvs  # noqa: F401  (registers the ids)


def main(env: gym.Env | None = None, callback: Callable[..., Any] | None = None) -> None:
    env = env or gym.make("memenvs/TMaze-v0", render_mode="rgb_array", length=6)
    play(env, keys_to_action=env.unwrapped.get_keys_to_action(), wait_on_player=True, seed=0, callback=callback)


if __name__ == "__main__":
    main()
