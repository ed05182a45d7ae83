"""Runtime helpers for the rules of NumPy array functions (shapes, indexing, reductions, contractions)."""

__all__ = []
