"""Runtime helpers for the rules of numpy.linalg, numpy.fft and scipy.linalg."""

__all__ = []
