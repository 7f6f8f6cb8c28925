"""Gymnasium wrappers that add or expose memory demands on any environment."""

__all__: list[str] = []
