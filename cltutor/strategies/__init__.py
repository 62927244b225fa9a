"""Continual-learning strategies: one short file each."""

from cltutor.strategies.base import Clock, Naive

__all__ = ["Clock", "Naive"]
