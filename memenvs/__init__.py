"""memenvs: Gymnasium environments that cannot be solved without memory.

``import memenvs`` registers every id under the ``memenvs/`` namespace::

    import gymnasium as gym
    import memenvs

    env = gym.make("memenvs/TMaze-v0", length=100)
    envs = gym.make_vec("memenvs/TMaze-v0", num_envs=1024)   # the native batched vector env

This package imports only NumPy and Gymnasium (pygame when something is drawn); the baselines live in
``memenvs.baselines`` and need the ``baselines`` extra.
"""

from memenvs.registration import ENVS, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["ENVS", "register_envs", "__version__"]
