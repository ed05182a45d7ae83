"""Derivative rules for NumPy functions that create arrays from values: full, linspace, meshgrid.

(Creation functions that take only shapes, such as ``zeros`` and ``eye``, are
declared nondiff in ``numpy.py``.)
"""

import math  # noqa: F401  (rules may use it)

from .registry import primitive
from ..runtime import (
    along_shape, broadcast_like, meshgrid_axes, ndim, shape, unbroadcast, zeros_like,
)


@primitive("full", linear=True)
class _Full:
    def vjp_fill_value(xp, g, ans, shape, fill_value, dtype=None, order="C"):
        return unbroadcast(g, fill_value)

    def jvp_fill_value(xp, t, ans, shape, fill_value, dtype=None, order="C"):
        return broadcast_like(t, ans)


@primitive("full_like", linear=True)
class _FullLike:
    def vjp_fill_value(xp, g, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None):
        return unbroadcast(g, fill_value)

    def jvp_fill_value(xp, t, ans, a, fill_value, dtype=None, order="K", subok=True, shape=None):
        return broadcast_like(t, ans)


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("linspace")
class _Linspace:
    """``start + (stop - start) * w`` with ``w`` evenly spaced in [0, 1] along ``axis``."""

    def vjp_start(xp, g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                  axis=0):
        w = xp.reshape(xp.linspace(0.0, 1.0, num, endpoint=endpoint),
                       along_shape(ndim(ans), axis, (num,)))
        return unbroadcast(xp.sum(g * (1.0 - w), axis=axis), start)

    def vjp_stop(xp, g, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                 axis=0):
        w = xp.reshape(xp.linspace(0.0, 1.0, num, endpoint=endpoint),
                       along_shape(ndim(ans), axis, (num,)))
        return unbroadcast(xp.sum(g * w, axis=axis), stop)

    def jvp_start(xp, t, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                  axis=0):
        return xp.linspace(t, zeros_like(stop), num, endpoint=endpoint, axis=axis)

    def jvp_stop(xp, t, ans, start, stop, num=50, endpoint=True, retstep=False, dtype=None,
                 axis=0):
        return xp.linspace(zeros_like(start), t, num, endpoint=endpoint, axis=axis)


@primitive("logspace")
class _Logspace:
    """``base ** linspace(start, stop)``; ``base`` is a constant."""

    def vjp_start(xp, g, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
        w = xp.reshape(xp.linspace(0.0, 1.0, num, endpoint=endpoint),
                       along_shape(ndim(ans), axis, (num,)))
        return unbroadcast(xp.sum(g * ans * (1.0 - w), axis=axis) * xp.log(base), start)

    def vjp_stop(xp, g, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
        w = xp.reshape(xp.linspace(0.0, 1.0, num, endpoint=endpoint),
                       along_shape(ndim(ans), axis, (num,)))
        return unbroadcast(xp.sum(g * ans * w, axis=axis) * xp.log(base), stop)

    def jvp_start(xp, t, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
        return ans * xp.log(base) * xp.linspace(t, zeros_like(stop), num, endpoint=endpoint,
                                                axis=axis)

    def jvp_stop(xp, t, ans, start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
        return ans * xp.log(base) * xp.linspace(zeros_like(start), t, num, endpoint=endpoint,
                                                axis=axis)


# its output holds the other arguments as they are: linear in them together only, no linear=True
@primitive("meshgrid", view=True)
class _Meshgrid:
    """Output ``k`` repeats input ``k`` (flattened) along the other inputs' axes."""

    def vjp_xi(xp, g, ans, *xi, copy=True, sparse=False, indexing="xy", argnum=0):
        own, others = meshgrid_axes(len(xi), argnum, indexing)
        return xp.reshape(xp.sum(g[argnum], axis=others), shape(xi[argnum]))

    def jvp_xi(xp, t, ans, *xi, copy=True, sparse=False, indexing="xy", argnum=0):
        own, others = meshgrid_axes(len(xi), argnum, indexing)
        out = [0.0] * len(xi)
        out[argnum] = xp.broadcast_to(xp.reshape(t, along_shape(len(xi), own, (-1,))),
                                      shape(ans[argnum]))
        return out
