"""Memory baselines for Stable-Baselines3 (imported as ``memenvs.baselines``; needs the ``baselines`` extra)."""
