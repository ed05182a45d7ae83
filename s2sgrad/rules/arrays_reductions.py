"""Derivative rules for NumPy reductions and cumulative functions.

``reduce_vjp(g, a, axis, keepdims)`` spreads a reduction's cotangent back over
``a``'s shape; a forward rule reduces the tangent the same way the function
reduces ``a``.  Functions of complex arrays follow Autograd's convention (see
``numpy.py``); ``var`` and ``std`` are real-valued, so their rules conjugate.
"""

from .registry import primitive
from ..runtime import (
    along_shape, axis_pad, batch_axes, broadcast_like, cumprod_jvp, cumprod_vjp, extremum_shares,
    max_vjp, median_weights, ndim, prod_others, reduce_vjp, shape, size, specialize, unbroadcast,
)


# ``where=`` selects the elements a reduction reads and ``initial=`` is one more
# term (a differentiable scalar); each rule's first branch is the common call
# without them, kept whenever the code generator can see they are absent.


# linear in a and initial together (a sum plus initial): no linear=True
@primitive("sum", methods=("sum",))
class _Sum:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True):
            if axis is None:
                return xp.broadcast_to(g, shape(a))
            return reduce_vjp(g, a, axis, keepdims)
        return xp.where(where, reduce_vjp(g, a, axis, keepdims), 0.0)

    def vjp_initial(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return unbroadcast(g, initial)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True):
            if axis is None and not keepdims:
                return xp.sum(t)
            return xp.sum(t, axis=axis, keepdims=keepdims)
        return xp.sum(t, axis=axis, keepdims=keepdims, where=where)

    def jvp_initial(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return broadcast_like(t, ans)

    def batch_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                where=True):
        if specialize(where is True):
            return xp.sum(t, axis=batch_axes(axis, t), keepdims=keepdims)
        return xp.sum(t, axis=batch_axes(axis, t), keepdims=keepdims, where=where)


# its derivative skips the input's NaN entries, so it is not itself at the tangent: no linear=True
@primitive("nansum")
class _Nansum:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True):
            return xp.where(xp.isnan(a), 0.0, reduce_vjp(g, a, axis, keepdims))
        return xp.where(~xp.isnan(a) & where, reduce_vjp(g, a, axis, keepdims), 0.0)

    def vjp_initial(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return unbroadcast(g, initial)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True):
            return xp.sum(xp.where(xp.isnan(a), 0.0, t), axis=axis, keepdims=keepdims)
        return xp.sum(xp.where(xp.isnan(a), 0.0, t), axis=axis, keepdims=keepdims, where=where)

    def jvp_initial(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return broadcast_like(t, ans)


@primitive("mean", methods=("mean",), linear=True)
class _Mean:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
        if specialize(where is True):
            if axis is None:
                return xp.broadcast_to(g / size(a), shape(a))
            return reduce_vjp(g, a, axis, keepdims) * (size(ans) / size(a))
        w = xp.broadcast_to(where, shape(a))
        return xp.where(w, reduce_vjp(g, a, axis, keepdims) / xp.sum(w, axis=axis, keepdims=True),
                        0.0)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
        if specialize(where is True):
            if axis is None and not keepdims:
                return xp.mean(t)
            return xp.mean(t, axis=axis, keepdims=keepdims)
        return xp.mean(t, axis=axis, keepdims=keepdims, where=where)

    def batch_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
        if specialize(where is True):
            return xp.mean(t, axis=batch_axes(axis, t), keepdims=keepdims)
        return xp.mean(t, axis=batch_axes(axis, t), keepdims=keepdims, where=where)


# its derivative skips the input's NaN entries, so it is not itself at the tangent: no linear=True
@primitive("nanmean")
class _Nanmean:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
        if specialize(where is True):
            n = xp.sum(~xp.isnan(a), axis=axis, keepdims=True)
            return xp.where(xp.isnan(a), 0.0, reduce_vjp(g, a, axis, keepdims) / n)
        keep = ~xp.isnan(a) & where
        n = xp.sum(keep, axis=axis, keepdims=True)
        return xp.where(keep, reduce_vjp(g, a, axis, keepdims) / n, 0.0)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
        if specialize(where is True):
            n = xp.sum(~xp.isnan(a), axis=axis, keepdims=keepdims)
            return xp.sum(xp.where(xp.isnan(a), 0.0, t), axis=axis, keepdims=keepdims) / n
        keep = ~xp.isnan(a) & where
        n = xp.sum(keep, axis=axis, keepdims=keepdims)
        return xp.sum(xp.where(keep, t, 0.0), axis=axis, keepdims=keepdims) / n


@primitive("average")
class _Average:
    def vjp_a(xp, g, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
        if weights is None:
            return reduce_vjp(g, a, axis, keepdims) * (size(ans) / size(a))
        w = xp.reshape(weights, along_shape(ndim(a), axis, shape(weights)))
        return reduce_vjp(g, a, axis, keepdims) * (w / xp.sum(w, axis=axis, keepdims=True))

    def vjp_weights(xp, g, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
        w = xp.reshape(weights, along_shape(ndim(a), axis, shape(weights)))
        d = (a - reduce_vjp(ans, a, axis, keepdims)) / xp.sum(w, axis=axis, keepdims=True)
        return xp.reshape(unbroadcast(reduce_vjp(g, a, axis, keepdims) * d, w), shape(weights))

    def jvp_a(xp, t, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
        return xp.average(t, axis=axis, weights=weights, keepdims=keepdims)

    def jvp_weights(xp, t, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
        w = xp.reshape(weights, along_shape(ndim(a), axis, shape(weights)))
        dw = xp.reshape(t, shape(w))
        d = a - reduce_vjp(ans, a, axis, keepdims)
        return xp.sum(dw * d, axis=axis, keepdims=keepdims) / xp.sum(w, axis=axis,
                                                                     keepdims=keepdims)


@primitive("var", methods=("var",))
class _Var:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.conj(a - xp.mean(a, axis=axis, keepdims=True))
            return reduce_vjp(g, a, axis, keepdims) * d * (2.0 / (size(a) / size(ans) - ddof))
        w = xp.broadcast_to(where, shape(a))
        d = xp.where(w, xp.conj(a - xp.mean(a, axis=axis, keepdims=True, where=w)), 0.0)
        n = xp.sum(w, axis=axis, keepdims=True)
        return reduce_vjp(g, a, axis, keepdims) * d * (2.0 / (n - ddof))

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.conj(a - xp.mean(a, axis=axis, keepdims=True))
            return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) * (
                2.0 / (size(a) / size(ans) - ddof))
        w = xp.broadcast_to(where, shape(a))
        d = xp.where(w, xp.conj(a - xp.mean(a, axis=axis, keepdims=True, where=w)), 0.0)
        n = xp.sum(w, axis=axis, keepdims=keepdims)
        return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) * (2.0 / (n - ddof))


@primitive("std", methods=("std",))
class _Std:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.conj(a - xp.mean(a, axis=axis, keepdims=True))
            return reduce_vjp(g / xp.where(ans == 0, 1.0, ans), a, axis, keepdims) * d / (
                size(a) / size(ans) - ddof)
        w = xp.broadcast_to(where, shape(a))
        d = xp.where(w, xp.conj(a - xp.mean(a, axis=axis, keepdims=True, where=w)), 0.0)
        n = xp.sum(w, axis=axis, keepdims=True)
        return reduce_vjp(g / xp.where(ans == 0, 1.0, ans), a, axis, keepdims) * d / (n - ddof)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.conj(a - xp.mean(a, axis=axis, keepdims=True))
            return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) / (
                (size(a) / size(ans) - ddof) * xp.where(ans == 0, 1.0, ans))
        w = xp.broadcast_to(where, shape(a))
        d = xp.where(w, xp.conj(a - xp.mean(a, axis=axis, keepdims=True, where=w)), 0.0)
        n = xp.sum(w, axis=axis, keepdims=keepdims)
        return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) / (
            (n - ddof) * xp.where(ans == 0, 1.0, ans))


@primitive("nanvar")
class _Nanvar:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.where(xp.isnan(a), 0.0, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True)))
            n = xp.sum(~xp.isnan(a), axis=axis, keepdims=True)
            return reduce_vjp(g, a, axis, keepdims) * d * (2.0 / (n - ddof))
        keep = ~xp.isnan(a) & where
        d = xp.where(keep, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True, where=where)), 0.0)
        n = xp.sum(keep, axis=axis, keepdims=True)
        return reduce_vjp(g, a, axis, keepdims) * d * (2.0 / (n - ddof))

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.where(xp.isnan(a), 0.0, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True)))
            n = xp.sum(~xp.isnan(a), axis=axis, keepdims=keepdims)
            return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) * (2.0 / (n - ddof))
        keep = ~xp.isnan(a) & where
        d = xp.where(keep, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True, where=where)), 0.0)
        n = xp.sum(keep, axis=axis, keepdims=keepdims)
        return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) * (2.0 / (n - ddof))


@primitive("nanstd")
class _Nanstd:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.where(xp.isnan(a), 0.0, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True)))
            n = xp.sum(~xp.isnan(a), axis=axis, keepdims=True)
            return reduce_vjp(g / ans, a, axis, keepdims) * d / (n - ddof)
        keep = ~xp.isnan(a) & where
        d = xp.where(keep, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True, where=where)), 0.0)
        n = xp.sum(keep, axis=axis, keepdims=True)
        return reduce_vjp(g / ans, a, axis, keepdims) * d / (n - ddof)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
              where=True):
        if specialize(where is True):
            d = xp.where(xp.isnan(a), 0.0, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True)))
            n = xp.sum(~xp.isnan(a), axis=axis, keepdims=keepdims)
            return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) / ((n - ddof) * ans)
        keep = ~xp.isnan(a) & where
        d = xp.where(keep, xp.conj(a - xp.nanmean(a, axis=axis, keepdims=True, where=where)), 0.0)
        n = xp.sum(keep, axis=axis, keepdims=keepdims)
        return xp.real(xp.sum(d * t, axis=axis, keepdims=keepdims)) / ((n - ddof) * ans)


@primitive("prod", methods=("prod",))
class _Prod:
    """``prod_others(a, axis)``, each element's product of the others, is exact with zeros."""

    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True and initial is None):
            return reduce_vjp(g, a, axis, keepdims) * prod_others(a, axis)
        others = prod_others(xp.where(where, a, 1.0), axis) * (1.0 if initial is None else initial)
        return xp.where(where, reduce_vjp(g, a, axis, keepdims) * others, 0.0)

    def vjp_initial(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return unbroadcast(g * xp.prod(a, axis=axis, keepdims=keepdims, where=where), initial)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True and initial is None):
            return xp.sum(t * prod_others(a, axis), axis=axis, keepdims=keepdims)
        others = prod_others(xp.where(where, a, 1.0), axis) * (1.0 if initial is None else initial)
        return xp.sum(t * others, axis=axis, keepdims=keepdims, where=where)

    def jvp_initial(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return t * xp.prod(a, axis=axis, keepdims=keepdims, where=where)


@primitive("nanprod")
class _Nanprod:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True and initial is None):
            others = prod_others(xp.where(xp.isnan(a), 1.0, a), axis)
            return xp.where(xp.isnan(a), 0.0, reduce_vjp(g, a, axis, keepdims) * others)
        keep = ~xp.isnan(a) & where
        others = prod_others(xp.where(keep, a, 1.0), axis) * (1.0 if initial is None else initial)
        return xp.where(keep, reduce_vjp(g, a, axis, keepdims) * others, 0.0)

    def vjp_initial(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return unbroadcast(g * xp.nanprod(a, axis=axis, keepdims=keepdims, where=where), initial)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):
        if specialize(where is True and initial is None):
            others = prod_others(xp.where(xp.isnan(a), 1.0, a), axis)
            return xp.sum(xp.where(xp.isnan(a), 0.0, t * others), axis=axis, keepdims=keepdims)
        keep = ~xp.isnan(a) & where
        others = prod_others(xp.where(keep, a, 1.0), axis) * (1.0 if initial is None else initial)
        return xp.sum(xp.where(keep, t * others, 0.0), axis=axis, keepdims=keepdims)

    def jvp_initial(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False,
                    initial=None, where=True):
        return t * xp.nanprod(a, axis=axis, keepdims=keepdims, where=where)


@primitive("max", "amax", "nanmax", methods=("max",))
class _Max:
    """Ties share the derivative equally (with ``initial`` when it ties); NaNs (for nanmax)
    get none."""

    def vjp_a(xp, g, ans, a, axis=None, out=None, keepdims=False, initial=None, where=True):
        if specialize(where is True and initial is None):
            return max_vjp(g, ans, a, axis, keepdims)
        shares = extremum_shares(ans, a, axis, keepdims, initial, where)
        return reduce_vjp(g, a, axis, keepdims) * shares[0]

    def vjp_initial(xp, g, ans, a, axis=None, out=None, keepdims=False, initial=None,
                    where=True):
        return unbroadcast(g * extremum_shares(ans, a, axis, keepdims, initial, where)[1],
                           initial)

    def jvp_a(xp, t, ans, a, axis=None, out=None, keepdims=False, initial=None, where=True):
        if specialize(where is True and initial is None):
            return xp.sum(t * max_vjp(1.0, ans, a, axis, keepdims), axis=axis, keepdims=keepdims)
        shares = extremum_shares(ans, a, axis, keepdims, initial, where)
        return xp.sum(t * shares[0], axis=axis, keepdims=keepdims)

    def jvp_initial(xp, t, ans, a, axis=None, out=None, keepdims=False, initial=None,
                    where=True):
        return t * extremum_shares(ans, a, axis, keepdims, initial, where)[1]


primitive("min", "amin", "nanmin", methods=("min",))(_Max)


@primitive("ptp")
class _Ptp:
    def vjp_a(xp, g, ans, a, axis=None, out=None, keepdims=False):
        hi = xp.max(a, axis=axis, keepdims=keepdims)
        lo = xp.min(a, axis=axis, keepdims=keepdims)
        return max_vjp(g, hi, a, axis, keepdims) - max_vjp(g, lo, a, axis, keepdims)

    def jvp_a(xp, t, ans, a, axis=None, out=None, keepdims=False):
        hi = xp.max(a, axis=axis, keepdims=keepdims)
        lo = xp.min(a, axis=axis, keepdims=keepdims)
        w = max_vjp(1.0, hi, a, axis, keepdims) - max_vjp(1.0, lo, a, axis, keepdims)
        return xp.sum(t * w, axis=axis, keepdims=keepdims)


@primitive("median")
class _Median:
    """The derivative goes to the middle element, or half to each of the two middle ones."""

    def vjp_a(xp, g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        return reduce_vjp(g, a, axis, keepdims) * median_weights(a, axis)

    def jvp_a(xp, t, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        return xp.sum(t * median_weights(a, axis), axis=axis, keepdims=keepdims)


@primitive("nanmedian")
class _Nanmedian:
    def vjp_a(xp, g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        return reduce_vjp(g, a, axis, keepdims) * median_weights(a, axis, True)

    def jvp_a(xp, t, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
        return xp.sum(t * median_weights(a, axis, True), axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------
# Cumulative functions (axis=None works on the flattened array)
# ---------------------------------------------------------------------------


@primitive("cumsum", methods=("cumsum",), linear=True)
class _Cumsum:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None):
        if axis is None:
            return xp.reshape(xp.flip(xp.cumsum(xp.flip(g))), shape(a))
        return xp.flip(xp.cumsum(xp.flip(g, axis=axis), axis=axis), axis=axis)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None):
        return xp.cumsum(t, axis=axis)


# its derivative skips the input's NaN entries, so it is not itself at the tangent: no linear=True
@primitive("nancumsum")
class _Nancumsum:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None):
        if axis is None:
            return xp.where(xp.isnan(a), 0.0, xp.reshape(xp.flip(xp.cumsum(xp.flip(g))), shape(a)))
        return xp.where(xp.isnan(a), 0.0,
                        xp.flip(xp.cumsum(xp.flip(g, axis=axis), axis=axis), axis=axis))

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None):
        return xp.cumsum(xp.where(xp.isnan(a), 0.0, t), axis=axis)


@primitive("cumprod", methods=("cumprod",))
class _Cumprod:
    """``cumprod_vjp`` and ``cumprod_jvp`` are exact when ``a`` has zeros."""

    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None):
        return cumprod_vjp(g, a, axis)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None):
        return cumprod_jvp(t, a, axis)


@primitive("nancumprod")
class _Nancumprod:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None):
        return xp.where(xp.isnan(a), 0.0, cumprod_vjp(g, xp.where(xp.isnan(a), 1.0, a), axis))

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None):
        return cumprod_jvp(xp.where(xp.isnan(a), 0.0, t), xp.where(xp.isnan(a), 1.0, a), axis)


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("diff")
class _Diff:
    """``prepend`` and ``append`` are constants: they extend ``a`` before differencing."""

    def vjp_a(xp, g, ans, a, n=1, axis=-1, prepend=None, append=None):
        ct = xp.diff(xp.pad(g, axis_pad(ndim(g), axis, n, n)), n, axis=axis)
        if n % 2 == 1:
            ct = -ct
        if prepend is None and append is None:
            return ct
        start = 0 if prepend is None else 1 if ndim(prepend) == 0 else shape(prepend)[axis]
        return xp.split(ct, [start, start + shape(a)[axis]], axis=axis)[1]

    def jvp_a(xp, t, ans, a, n=1, axis=-1, prepend=None, append=None):
        if prepend is None and append is None:
            return xp.diff(t, n, axis=axis)
        before = 0 if prepend is None else 1 if ndim(prepend) == 0 else shape(prepend)[axis]
        after = 0 if append is None else 1 if ndim(append) == 0 else shape(append)[axis]
        return xp.diff(xp.pad(t, axis_pad(ndim(t), axis, before, after)), n, axis=axis)
