"""Derivative rules for more NumPy functions: interpolation, 1-D convolution and correlation,
integration and finite differences, quantiles, polynomials and floating-point decompositions.

Parameters that carry no derivative are declared with ``set_shape_params``:
``np.interp``'s sample points ``xp`` (its rules name that parameter ``xp_``, as
``xp`` is the array namespace; a call's ``xp=`` keyword binds to it) and the integer exponents of ``np.ldexp``.  The sign
source of ``np.copysign`` has a zero derivative (almost everywhere).
"""

from .registry import UNKNOWN, primitive, set_keyword_aliases, set_shape_params
from ..runtime import (
    along_shape, axis_pad, broadcast_like, conv1d_start, gradient_vjp, interp_index, ndim,
    quantile_jvp, quantile_vjp, scatter, shape, to_complex_like, unbroadcast,
)


# ---------------------------------------------------------------------------
# Floating-point decompositions
# ---------------------------------------------------------------------------


@primitive("copysign", cheap=True)
class _Copysign:
    def vjp_x1(xp, g, ans, x1, x2):
        return unbroadcast(g * (xp.copysign(1.0, x1) * xp.copysign(1.0, x2)), x1)

    def jvp_x1(xp, t, ans, x1, x2):
        return broadcast_like(t * (xp.copysign(1.0, x1) * xp.copysign(1.0, x2)), ans)

    def vjp_x2(xp, g, ans, x1, x2):
        return xp.zeros_like(x2 * 1.0)

    def jvp_x2(xp, t, ans, x1, x2):
        return xp.zeros_like(ans)


@primitive("ldexp", cheap=True, linear=True)
class _Ldexp:
    def vjp_x1(xp, g, ans, x1, x2):
        return unbroadcast(xp.ldexp(g, x2), x1)

    def jvp_x1(xp, t, ans, x1, x2):
        return broadcast_like(xp.ldexp(t, x2), ans)


@primitive("frexp")
class _Frexp:
    """``x = m * 2**e``: the mantissa's derivative is ``2**-e``, the integer exponent's zero."""

    def vjp_x(xp, g, ans, x):
        return xp.ldexp(g[0], -ans[1])

    def jvp_x(xp, t, ans, x):
        return xp.ldexp(t, -ans[1]), xp.zeros_like(ans[1])


@primitive("modf")
class _Modf:
    """``(x - trunc(x), trunc(x))``: the fractional part moves with ``x``, the integral part not."""

    def vjp_x(xp, g, ans, x):
        return g[0]

    def jvp_x(xp, t, ans, x):
        return t, xp.zeros_like(t)


# ---------------------------------------------------------------------------
# Polynomials, interpolation
# ---------------------------------------------------------------------------


@primitive("polyval")
class _Polyval:
    def vjp_p(xp, g, ans, p, x):
        powers = xp.reshape(x, (-1, 1)) ** xp.arange(shape(p)[0] - 1, -1, -1)
        return to_complex_like(xp.sum(xp.reshape(g, (-1, 1)) * powers, axis=0), p)

    def vjp_x(xp, g, ans, p, x):
        return to_complex_like(g * xp.polyval(p[:-1] * xp.arange(shape(p)[0] - 1, 0, -1), x), x)

    def jvp_p(xp, t, ans, p, x):
        return xp.polyval(t, x)

    def jvp_x(xp, t, ans, p, x):
        return t * xp.polyval(p[:-1] * xp.arange(shape(p)[0] - 1, 0, -1), x)


@primitive("interp")
class _Interp:
    """Piecewise linear: the slope of the segment ``x`` lies in (zero outside the samples),
    and the interpolation weights on the two values ``fp`` at its ends."""

    def check(args):
        if args.get("period") is not None:
            return ("period=", "the rules cover non-periodic interpolation")
        return None

    def vjp_x(xp, g, ans, x, xp_, fp, left=None, right=None, period=None):
        i, inside = interp_index(x, xp_, period)
        slope = xp.diff(fp) / xp.diff(xp_)
        return to_complex_like(g * xp.where(inside, slope[i], 0.0), x)

    def jvp_x(xp, t, ans, x, xp_, fp, left=None, right=None, period=None):
        i, inside = interp_index(x, xp_, period)
        slope = xp.diff(fp) / xp.diff(xp_)
        return t * xp.where(inside, slope[i], 0.0)

    def vjp_fp(xp, g, ans, x, xp_, fp, left=None, right=None, period=None):
        i = interp_index(x, xp_, period)[0]
        w = xp.clip((x - xp_[i]) / (xp_[i + 1] - xp_[i]), 0.0, 1.0)
        if left is not None:                 # outside the samples the value is a constant
            g = xp.where(x < xp_[0], 0.0, g)
        if right is not None:
            g = xp.where(x > xp_[-1], 0.0, g)
        return scatter(g * (1.0 - w), fp, i) + scatter(g * w, fp, i + 1)

    def jvp_fp(xp, t, ans, x, xp_, fp, left=None, right=None, period=None):
        i = interp_index(x, xp_, period)[0]
        w = xp.clip((x - xp_[i]) / (xp_[i + 1] - xp_[i]), 0.0, 1.0)
        out = (1.0 - w) * t[i] + w * t[i + 1]
        if left is not None:
            out = xp.where(x < xp_[0], 0.0, out)
        if right is not None:
            out = xp.where(x > xp_[-1], 0.0, out)
        return out


# ---------------------------------------------------------------------------
# 1-D convolution and correlation: bilinear; the adjoint of each is a "valid"
# convolution of the cotangent, placed in the full output, with the other input
# ---------------------------------------------------------------------------


@primitive("convolve")
class _Convolve:
    def vjp_a(xp, g, ans, a, v, mode="full"):
        start = conv1d_start(shape(a)[0], shape(v)[0], mode)
        full = xp.pad(g, (start, shape(a)[0] + shape(v)[0] - 1 - start - shape(g)[0]))
        return to_complex_like(xp.convolve(full, xp.flip(v), "valid"), a)

    def vjp_v(xp, g, ans, a, v, mode="full"):
        start = conv1d_start(shape(a)[0], shape(v)[0], mode)
        full = xp.pad(g, (start, shape(a)[0] + shape(v)[0] - 1 - start - shape(g)[0]))
        return to_complex_like(xp.convolve(full, xp.flip(a), "valid"), v)

    def jvp_a(xp, t, ans, a, v, mode="full"):
        return xp.convolve(t, v, mode)

    def jvp_v(xp, t, ans, a, v, mode="full"):
        return xp.convolve(a, t, mode)


@primitive("correlate")
class _Correlate:
    """``correlate(a, v)`` is a window of ``convolve(a, conj(flip(v)), "full")``: holomorphic
    in ``a``, antiholomorphic in ``v``."""

    def vjp_a(xp, g, ans, a, v, mode="valid"):
        start = conv1d_start(shape(a)[0], shape(v)[0], mode, True)
        full = xp.pad(g, (start, shape(a)[0] + shape(v)[0] - 1 - start - shape(g)[0]))
        return to_complex_like(xp.convolve(full, xp.conj(v), "valid"), a)

    def vjp_v(xp, g, ans, a, v, mode="valid"):
        start = conv1d_start(shape(a)[0], shape(v)[0], mode, True)
        full = xp.pad(g, (start, shape(a)[0] + shape(v)[0] - 1 - start - shape(g)[0]))
        return to_complex_like(xp.conj(xp.flip(xp.convolve(full, xp.flip(a), "valid"))), v)

    def jvp_a(xp, t, ans, a, v, mode="valid"):
        return xp.correlate(t, v, mode)

    def jvp_v(xp, t, ans, a, v, mode="valid"):
        return xp.correlate(a, t, mode)


# ---------------------------------------------------------------------------
# Integration and finite differences (linear in the samples)
# ---------------------------------------------------------------------------


@primitive("trapezoid")
class _Trapezoid:
    def vjp_y(xp, g, ans, y, x=None, dx=1.0, axis=-1):
        n = shape(y)[axis]
        if x is None:
            d = xp.reshape(dx * xp.ones(n - 1), along_shape(ndim(y), axis, (n - 1,)))
        elif ndim(x) == 1:
            d = xp.reshape(xp.diff(x), along_shape(ndim(y), axis, (n - 1,)))
        else:
            d = xp.diff(x, axis=axis)
        h = xp.expand_dims(g, axis) * d / 2
        ct = xp.pad(h, axis_pad(ndim(h), axis, 1, 0)) + xp.pad(h, axis_pad(ndim(h), axis, 0, 1))
        return unbroadcast(ct, y)

    def vjp_x(xp, g, ans, y, x=None, dx=1.0, axis=-1):
        n = shape(y)[axis]
        ym = xp.moveaxis(y, axis, -1)
        c = xp.moveaxis(xp.expand_dims(g, axis), axis, -1) * (ym[..., 1:] + ym[..., :-1]) / 2
        cx = xp.pad(c, axis_pad(ndim(c), -1, 1, 0)) - xp.pad(c, axis_pad(ndim(c), -1, 0, 1))
        if ndim(x) == 1:
            return xp.sum(xp.reshape(cx, (-1, n)), axis=0)
        return unbroadcast(xp.moveaxis(cx, -1, axis), x)

    def jvp_y(xp, t, ans, y, x=None, dx=1.0, axis=-1):
        return xp.trapezoid(t, x, dx, axis)

    def jvp_x(xp, t, ans, y, x=None, dx=1.0, axis=-1):
        return xp.trapezoid(y, t, dx, axis)


@primitive("gradient", linear=True)
class _Gradient:
    """Uniform (scalar) spacings only; coordinate arrays are not covered."""

    def check(args):
        for h in args.get("varargs", ()) or ():
            if h is not UNKNOWN and ndim(h) != 0:
                return ("coordinate arrays as spacing", "the rules cover scalar spacings")
        return None

    def vjp_f(xp, g, ans, f, *varargs, axis=None, edge_order=1):
        return gradient_vjp(g, f, varargs, axis, edge_order)


# ---------------------------------------------------------------------------
# Quantiles (method="linear"): interpolation weights on two order statistics
# (``quantile_jvp`` gathers them, its adjoint ``quantile_vjp`` scatters back)
# ---------------------------------------------------------------------------


def _check_quantile(args):
    # (a method the code generator cannot tell is checked at run time by the helpers)
    method = args.get("method", "linear")
    if method is not UNKNOWN and method != "linear":
        return (f"method={method!r}", "the rules cover method='linear'")
    if args.get("weights") is not None or args.get("interpolation") is not None:
        return ("weights= or interpolation=", "the rules cover method='linear' without weights")
    return None


@primitive("quantile")
class _Quantile:
    check = _check_quantile

    def vjp_a(xp, g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_vjp(g, a, q, axis, keepdims, False, method)

    def jvp_a(xp, t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_jvp(t, a, q, axis, keepdims, False, method)


@primitive("nanquantile")
class _Nanquantile:
    check = _check_quantile

    def vjp_a(xp, g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_vjp(g, a, q, axis, keepdims, True, method)

    def jvp_a(xp, t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_jvp(t, a, q, axis, keepdims, True, method)


@primitive("percentile")
class _Percentile:
    check = _check_quantile

    def vjp_a(xp, g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_vjp(g, a, xp.asarray(q) / 100, axis, keepdims, False, method)

    def jvp_a(xp, t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_jvp(t, a, xp.asarray(q) / 100, axis, keepdims, False, method)


@primitive("nanpercentile")
class _Nanpercentile:
    check = _check_quantile

    def vjp_a(xp, g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_vjp(g, a, xp.asarray(q) / 100, axis, keepdims, True, method)

    def jvp_a(xp, t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
              keepdims=False, *, weights=None, interpolation=None):
        return quantile_jvp(t, a, xp.asarray(q) / 100, axis, keepdims, True, method)


set_shape_params("array", {"interp": ("xp_",), "ldexp": ("x2",),
                           "quantile": ("q",), "nanquantile": ("q",), "percentile": ("q",),
                           "nanpercentile": ("q",)})
set_keyword_aliases("array", {"interp": {"xp": "xp_"}})


# ---------------------------------------------------------------------------
# Covariance and correlation of the variables of one array (no ``y``, no weights): with X
# the variables as rows and Xc = X - mean(X), cov = Xc Xc^H / (N - ddof), and
# corrcoef = Z Z^H with Z the rows of Xc scaled to unit length.  Neither is holomorphic:
# the reverse rules give the conjugate of the real adjoint (Autograd's convention).
# ---------------------------------------------------------------------------


def _check_cov(args):
    for name in ("y", "fweights", "aweights"):
        if args.get(name) is not None:
            return (f"{name}=", "the rules cover the variables of one array")
    return None


@primitive("cov")
class _Cov:
    check = _check_cov

    def vjp_m(xp, g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
              aweights=None, *, dtype=None):
        x = xp.reshape(m, (1, -1)) if ndim(m) == 1 else m
        turned = not rowvar and ndim(m) != 1
        if turned:
            x = xp.transpose(x)
        n = shape(x)[1] - ((0 if bias else 1) if ddof is None else ddof)
        xc = x - xp.mean(x, axis=1, keepdims=True)
        gm = xp.reshape(g, (shape(x)[0], shape(x)[0]))
        dxc = (gm + xp.conj(xp.transpose(gm))) @ xp.conj(xc) / n
        dx = dxc - xp.mean(dxc, axis=1, keepdims=True)
        if turned:
            dx = xp.transpose(dx)
        return to_complex_like(xp.reshape(dx, shape(m)), m)

    def jvp_m(xp, t, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
              aweights=None, *, dtype=None):
        x = xp.reshape(m, (1, -1)) if ndim(m) == 1 else m
        tx = xp.reshape(t, (1, -1)) if ndim(m) == 1 else t
        if not rowvar and ndim(m) != 1:
            x = xp.transpose(x)
            tx = xp.transpose(tx)
        n = shape(x)[1] - ((0 if bias else 1) if ddof is None else ddof)
        xc = x - xp.mean(x, axis=1, keepdims=True)
        tc = tx - xp.mean(tx, axis=1, keepdims=True)
        dc = tc @ xp.conj(xp.transpose(xc)) / n
        return xp.reshape(dc + xp.conj(xp.transpose(dc)), shape(ans))


@primitive("corrcoef")
class _Corrcoef:
    check = _check_cov

    def vjp_x(xp, g, ans, x, y=None, rowvar=True, *, dtype=None):
        a = xp.reshape(x, (1, -1)) if ndim(x) == 1 else x
        turned = not rowvar and ndim(x) != 1
        if turned:
            a = xp.transpose(a)
        ac = a - xp.mean(a, axis=1, keepdims=True)
        norm = xp.sqrt(xp.sum(xp.real(ac * xp.conj(ac)), axis=1, keepdims=True))
        z = ac / norm
        gm = xp.reshape(g, (shape(a)[0], shape(a)[0]))
        h = (gm + xp.conj(xp.transpose(gm))) @ xp.conj(z)
        dac = (h - xp.conj(z) * xp.real(xp.sum(z * h, axis=1, keepdims=True))) / norm
        da = dac - xp.mean(dac, axis=1, keepdims=True)
        if turned:
            da = xp.transpose(da)
        return to_complex_like(xp.reshape(da, shape(x)), x)

    def jvp_x(xp, t, ans, x, y=None, rowvar=True, *, dtype=None):
        a = xp.reshape(x, (1, -1)) if ndim(x) == 1 else x
        ta = xp.reshape(t, (1, -1)) if ndim(x) == 1 else t
        if not rowvar and ndim(x) != 1:
            a = xp.transpose(a)
            ta = xp.transpose(ta)
        ac = a - xp.mean(a, axis=1, keepdims=True)
        tc = ta - xp.mean(ta, axis=1, keepdims=True)
        norm = xp.sqrt(xp.sum(xp.real(ac * xp.conj(ac)), axis=1, keepdims=True))
        z = ac / norm
        dz = (tc - z * xp.real(xp.sum(xp.conj(z) * tc, axis=1, keepdims=True))) / norm
        dr = dz @ xp.conj(xp.transpose(z))
        return xp.reshape(dr + xp.conj(xp.transpose(dr)), shape(ans))
