"""Gymnasium wrappers that add or expose memory demands on any environment."""

from memenvs.wrappers.previous_action_reward import PreviousActionReward, VectorPreviousActionReward

__all__ = ["PreviousActionReward", "VectorPreviousActionReward"]
