"""Runtime helpers for the rules of scipy.special, scipy.stats and scipy.signal."""

import numpy

from .core import namespace

__all__ = ["multipsi", "dirichlet_alpha"]


def multipsi(a, d, k=0):
    """``sum(polygamma(k, a - j / 2) for j in range(d))``: the derivatives of ``multigammaln(a, d)``."""
    import scipy.special
    a = numpy.asarray(a, dtype=float)
    out = numpy.sum(scipy.special.polygamma(k, a[..., None] - numpy.arange(d) / 2.0), axis=-1)
    return out if out.shape else float(out)


def dirichlet_alpha(alpha, x):
    """``alpha`` shaped to broadcast against quantiles ``x`` of ``scipy.stats.dirichlet``.

    Dirichlet quantiles hold their components along the first axis (``x`` has
    shape ``(k,)`` or ``(k, n)``); ``alpha`` has shape ``(k,)``.
    """
    xp = namespace(alpha)
    alpha = xp.asarray(alpha)
    return xp.reshape(alpha, (-1,) + (1,) * (numpy.ndim(x) - 1))
