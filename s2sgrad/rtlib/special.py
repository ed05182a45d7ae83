"""Runtime helpers for the rules of scipy.special, scipy.stats and scipy.signal."""

__all__ = []
