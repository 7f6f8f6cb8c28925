"""Gymnasium wrappers that add or expose memory demands on any environment."""

from memenvs.wrappers.flicker import FlickerObservation, VectorFlickerObservation
from memenvs.wrappers.meta_trial import MetaTrial
from memenvs.wrappers.previous_action_reward import PreviousActionReward, VectorPreviousActionReward

__all__ = ["FlickerObservation", "VectorFlickerObservation", "MetaTrial", "PreviousActionReward",
           "VectorPreviousActionReward"]
