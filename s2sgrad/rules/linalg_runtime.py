"""Rules for the runtime helpers of the linalg, fft and scipy rules (``s2sgrad/rtlib``).

Most helpers are linear; their rules are each other's adjoints
(``from_triangle`` / ``to_triangle``, ``diag_part`` / ``diag_matrix``,
``fft_pad`` / ``fft_unpad`` ...), so derivative code stays differentiable.
"""

from .registry import nondiff, primitive, set_shape_params
from ..runtime import (
    band_matmul, band_outer, band_transpose, cholesky_jvp, cholesky_vjp, conv_crop, conv_embed,
    factor_triangle, solve_tri, tri_mask,
    as_matrix, block_upper, diag_matrix, diag_part, dirichlet_alpha, expand_mat, fft_pad, fft_unpad,
    from_triangle, half_triangle, halfspec_weight, inv_gaps, mT, multi_dot_jvp, multi_dot_vjp, multipsi,
    multi_dot_hvp, multi_dot_hvp_vjp,
    shape, to_triangle, unbroadcast, zeros_like,
)

R = "s2sgrad.runtime"


@primitive("mT", family=R, linear=True, view=True)
class _MT:
    def vjp_x(xp, g, ans, x):
        return mT(g)

    def jvp_x(xp, t, ans, x):
        return mT(t)


@primitive("as_matrix", family=R, linear=True, view=True)
class _AsMatrix:
    def vjp_x(xp, g, ans, x, a):
        return xp.reshape(g, shape(x))

    def jvp_x(xp, t, ans, x, a):
        return as_matrix(t, a)


@primitive("diag_part", family=R, linear=True)
class _DiagPart:
    def vjp_x(xp, g, ans, x):
        return diag_matrix(g)

    def jvp_x(xp, t, ans, x):
        return diag_part(t)


@primitive("diag_matrix", family=R, linear=True)
class _DiagMatrix:
    def vjp_d(xp, g, ans, d):
        return diag_part(g)

    def jvp_d(xp, t, ans, d):
        return diag_matrix(t)


@primitive("expand_mat", family=R, linear=True, view=True)
class _ExpandMat:
    def vjp_x(xp, g, ans, x):
        return xp.reshape(g, shape(x))

    def jvp_x(xp, t, ans, x):
        return expand_mat(t)


@primitive("from_triangle", family=R, linear=True)
class _FromTriangle:
    def vjp_x(xp, g, ans, x, lower=True):
        return to_triangle(g, lower)

    def jvp_x(xp, t, ans, x, lower=True):
        return from_triangle(t, lower)


@primitive("to_triangle", family=R, linear=True)
class _ToTriangle:
    def vjp_x(xp, g, ans, x, lower=True):
        return from_triangle(g, lower)

    def jvp_x(xp, t, ans, x, lower=True):
        return to_triangle(t, lower)


@primitive("half_triangle", family=R, linear=True)
class _HalfTriangle:
    def vjp_x(xp, g, ans, x, lower=True):
        return half_triangle(g, lower)

    def jvp_x(xp, t, ans, x, lower=True):
        return half_triangle(t, lower)


@primitive("inv_gaps", family=R)
class _InvGaps:
    # F[i, j] = 1 / (w[j] - w[i]):  dF[i, j] = -F[i, j]**2 * (dw[j] - dw[i])
    def vjp_w(xp, g, ans, w):
        h = g * ans ** 2
        return xp.sum(h, axis=-1) - xp.sum(h, axis=-2)

    def jvp_w(xp, t, ans, w):
        return -ans ** 2 * (t[..., None, :] - t[..., :, None])


@primitive("block_upper", family=R, linear=True)
class _BlockUpper:
    def vjp_a(xp, g, ans, a, b):
        m = shape(a)[-1]
        return unbroadcast(g[..., :m, :m] + g[..., m:, m:], a)

    def vjp_b(xp, g, ans, a, b):
        m = shape(a)[-1]
        return unbroadcast(g[..., :m, m:], b)

    def jvp_a(xp, t, ans, a, b):
        return block_upper(t, zeros_like(b))

    def jvp_b(xp, t, ans, a, b):
        return block_upper(zeros_like(a), t)


@primitive("fft_pad", family=R, linear=True)
class _FftPad:
    def vjp_x(xp, g, ans, x, sizes, axes):
        return fft_unpad(g, x, axes)

    def jvp_x(xp, t, ans, x, sizes, axes):
        return fft_pad(t, sizes, axes)


@primitive("fft_unpad", family=R, linear=True)
class _FftUnpad:
    def vjp_value(xp, g, ans, value, like, axes):
        return fft_unpad(g, value, axes)

    def jvp_value(xp, t, ans, value, like, axes):
        return fft_unpad(t, like, axes)


@primitive("halfspec_weight", family=R, linear=True)
class _HalfspecWeight:
    def vjp_x(xp, g, ans, x, n, axis=-1):
        return halfspec_weight(g, n, axis)

    def jvp_x(xp, t, ans, x, n, axis=-1):
        return halfspec_weight(t, n, axis)


# The helpers of multi_dot's rules.  Their second derivatives in the factors ``arrays`` are
# ``multi_dot_hvp`` (the second derivative of the product along two sets of factors) and its
# adjoint ``multi_dot_hvp_vjp``; those two are linear in everything but ``arrays`` (a third
# derivative in the factors raises).

@primitive("multi_dot_vjp", family=R, linear=True)
class _MultiDotVjp:
    def vjp_cotangent(xp, g, ans, cotangent, arrays):
        return multi_dot_jvp(g, arrays)

    def vjp_arrays(xp, g, ans, cotangent, arrays):
        return multi_dot_hvp_vjp(cotangent, g, arrays)

    def jvp_cotangent(xp, t, ans, cotangent, arrays):
        return multi_dot_vjp(t, arrays)

    def jvp_arrays(xp, t, ans, cotangent, arrays):
        return multi_dot_hvp_vjp(cotangent, t, arrays)


@primitive("multi_dot_jvp", family=R, linear=True)
class _MultiDotJvp:
    def vjp_tangents(xp, g, ans, tangents, arrays):
        return multi_dot_vjp(g, arrays)

    def vjp_arrays(xp, g, ans, tangents, arrays):
        return multi_dot_hvp_vjp(g, tangents, arrays)

    def jvp_tangents(xp, t, ans, tangents, arrays):
        return multi_dot_jvp(t, arrays)

    def jvp_arrays(xp, t, ans, tangents, arrays):
        return multi_dot_hvp(tangents, t, arrays)


@primitive("multi_dot_hvp", family=R, linear=True)
class _MultiDotHvp:
    """Symmetric in ``tangents`` and ``steps``."""

    def vjp_tangents(xp, g, ans, tangents, steps, arrays):
        return multi_dot_hvp_vjp(g, steps, arrays)

    def vjp_steps(xp, g, ans, tangents, steps, arrays):
        return multi_dot_hvp_vjp(g, tangents, arrays)

    def vjp_arrays(xp, g, ans, tangents, steps, arrays):
        raise NotImplementedError("third derivatives of multi_dot; use chained @ instead")

    def jvp_tangents(xp, t, ans, tangents, steps, arrays):
        return multi_dot_hvp(t, steps, arrays)

    def jvp_steps(xp, t, ans, tangents, steps, arrays):
        return multi_dot_hvp(tangents, t, arrays)


@primitive("multi_dot_hvp_vjp", family=R, linear=True)
class _MultiDotHvpVjp:
    def vjp_cotangent(xp, g, ans, cotangent, tangents, arrays):
        return multi_dot_hvp(tangents, g, arrays)

    def vjp_tangents(xp, g, ans, cotangent, tangents, arrays):
        return multi_dot_hvp_vjp(cotangent, g, arrays)

    def vjp_arrays(xp, g, ans, cotangent, tangents, arrays):
        raise NotImplementedError("third derivatives of multi_dot; use chained @ instead")

    def jvp_cotangent(xp, t, ans, cotangent, tangents, arrays):
        return multi_dot_hvp_vjp(t, tangents, arrays)

    def jvp_tangents(xp, t, ans, cotangent, tangents, arrays):
        return multi_dot_hvp_vjp(cotangent, t, arrays)


nondiff("is_matrix_norm", "check_reduced_svd", "fft_axes", family=R)
nondiff("check_complete_qr", family=R)


@primitive("multipsi", family=R)
class _Multipsi:
    def vjp_a(xp, g, ans, a, d, k=0):
        return g * multipsi(a, d, k + 1)

    def jvp_a(xp, t, ans, a, d, k=0):
        return t * multipsi(a, d, k + 1)


@primitive("dirichlet_alpha", family=R, linear=True, view=True)
class _DirichletAlpha:
    def vjp_alpha(xp, g, ans, alpha, x):
        return xp.reshape(g, shape(alpha))

    def jvp_alpha(xp, t, ans, alpha, x):
        return dirichlet_alpha(t, x)


@primitive("tri_mask", family=R, linear=True)
class _TriMask:
    def vjp_x(xp, g, ans, x, lower=True, strict=False):
        return tri_mask(g, lower, strict)

    def jvp_x(xp, t, ans, x, lower=True, strict=False):
        return tri_mask(t, lower, strict)


@primitive("band_matmul", family=R)
class _BandMatmul:
    def vjp_ab(xp, g, ans, ab, x, l, u):
        return band_outer(g, x, l, u)

    def vjp_x(xp, g, ans, ab, x, l, u):
        return band_matmul(band_transpose(ab, l, u), g, u, l)

    def jvp_ab(xp, t, ans, ab, x, l, u):
        return band_matmul(t, x, l, u)

    def jvp_x(xp, t, ans, ab, x, l, u):
        return band_matmul(ab, t, l, u)


@primitive("band_outer", family=R)
class _BandOuter:
    def vjp_x(xp, g, ans, x, y, l, u):
        return band_matmul(g, y, l, u)

    def vjp_y(xp, g, ans, x, y, l, u):
        return band_matmul(band_transpose(g, l, u), x, u, l)

    def jvp_x(xp, t, ans, x, y, l, u):
        return band_outer(t, y, l, u)

    def jvp_y(xp, t, ans, x, y, l, u):
        return band_outer(x, t, l, u)


@primitive("band_transpose", family=R, linear=True)
class _BandTranspose:
    def vjp_ab(xp, g, ans, ab, l, u):
        return band_transpose(g, u, l)

    def jvp_ab(xp, t, ans, ab, l, u):
        return band_transpose(t, l, u)


@primitive("conv_crop", family=R, linear=True)
class _ConvCrop:
    def vjp_y(xp, g, ans, y, in1, in2, mode="full"):
        return conv_embed(g, in1, in2, mode)

    def jvp_y(xp, t, ans, y, in1, in2, mode="full"):
        return conv_crop(t, in1, in2, mode)


@primitive("conv_embed", family=R, linear=True)
class _ConvEmbed:
    def vjp_y(xp, g, ans, y, in1, in2, mode="full"):
        return conv_crop(g, in1, in2, mode)

    def jvp_y(xp, t, ans, y, in1, in2, mode="full"):
        return conv_embed(t, in1, in2, mode)


@primitive("solve_tri", family=R)
class _SolveTri:
    # x = op(a)^-1 b, op(a) = a or a.T, reading one triangle of a
    def vjp_a(xp, g, ans, a, b, lower=True, trans=False):
        gb = solve_tri(a, g, lower, not trans)
        if trans:
            return unbroadcast(tri_mask(-ans @ mT(gb), lower), a)
        return unbroadcast(tri_mask(-gb @ mT(ans), lower), a)

    def vjp_b(xp, g, ans, a, b, lower=True, trans=False):
        return unbroadcast(solve_tri(a, g, lower, not trans), b)

    def jvp_a(xp, t, ans, a, b, lower=True, trans=False):
        dm = tri_mask(t, lower)
        if trans:
            dm = mT(dm)
        return -solve_tri(a, dm @ ans, lower, trans)

    def jvp_b(xp, t, ans, a, b, lower=True, trans=False):
        return solve_tri(a, t, lower, trans)


@primitive("factor_triangle", family=R, linear=True)
class _FactorTriangle:
    def vjp_x(xp, g, ans, x, lower=True):
        return factor_triangle(g, lower)

    def jvp_x(xp, t, ans, x, lower=True):
        return factor_triangle(t, lower)


# The reverse and forward rules of the Cholesky factorization are each other's
# adjoints in the cotangent (tangent).  Their derivatives in the factor (second
# derivatives of the factorization) are written for the lower factor l; the upper
# one is l^H, with conjugate transposes of everything.
#   cholesky_vjp:  x = l^-T p conj(l)^-1,  p = Φ(l^T g),  result to_triangle(x)
#   cholesky_jvp:  l Φ(y),  y = l^-1 from_triangle(t) l^-H


@primitive("cholesky_vjp", family=R)
class _CholeskyVjp:
    def vjp_cotangent(xp, g, ans, cotangent, l, upper=False):
        return cholesky_jvp(g, l, upper)

    def vjp_l(xp, g, ans, cotangent, l, upper=False):
        c = cotangent
        if upper:
            l, c, g = mT(xp.conj(l)), mT(xp.conj(c)), mT(xp.conj(g))
        f = factor_triangle(l)
        p = half_triangle(mT(f) @ c)
        # s = l^-1 q l^-H for q = from_triangle(g), Hermitian
        y = solve_tri(f, from_triangle(g), True, False)
        s = solve_tri(f, mT(xp.conj(y)), True, False)
        w = c @ mT(half_triangle(s)) - solve_tri(f, p + mT(xp.conj(p)), True, True) @ mT(s)
        if upper:
            return factor_triangle(mT(xp.conj(w)), False)
        return factor_triangle(w)

    def jvp_cotangent(xp, t, ans, cotangent, l, upper=False):
        return cholesky_vjp(t, l, upper)

    def jvp_l(xp, t, ans, cotangent, l, upper=False):
        c = cotangent
        if upper:
            l, c, t = mT(xp.conj(l)), mT(xp.conj(c)), mT(xp.conj(t))
        f = factor_triangle(l)
        d = factor_triangle(t)
        p = half_triangle(mT(f) @ c)
        # dx = l^-T (Φ(d^T g) - d^T l^-T p - p conj(l)^-1 conj(d)) conj(l)^-1
        pl = mT(xp.conj(solve_tri(f, xp.conj(mT(p)), True, True)))
        m = half_triangle(mT(d) @ c) - mT(d) @ solve_tri(f, p, True, True) - pl @ xp.conj(d)
        y = solve_tri(f, m, True, True)
        return to_triangle(mT(xp.conj(solve_tri(f, xp.conj(mT(y)), True, True))), not upper)


@primitive("cholesky_jvp", family=R)
class _CholeskyJvp:
    def vjp_tangent(xp, g, ans, tangent, l, upper=False):
        return cholesky_vjp(g, l, upper)

    def vjp_l(xp, g, ans, tangent, l, upper=False):
        if upper:
            l, g = mT(xp.conj(l)), mT(xp.conj(g))
        f = factor_triangle(l)
        y = solve_tri(f, from_triangle(tangent, not upper), True, False)
        y = solve_tri(f, mT(xp.conj(y)), True, False)
        m = half_triangle(mT(f) @ g)
        w = g @ mT(half_triangle(y)) - solve_tri(f, (m + mT(xp.conj(m))) @ mT(y), True, True)
        if upper:
            return factor_triangle(mT(xp.conj(w)), False)
        return factor_triangle(w)

    def jvp_tangent(xp, t, ans, tangent, l, upper=False):
        return cholesky_jvp(t, l, upper)

    def jvp_l(xp, t, ans, tangent, l, upper=False):
        if upper:
            l, t = mT(xp.conj(l)), mT(xp.conj(t))
        f = factor_triangle(l)
        d = factor_triangle(t)
        y = solve_tri(f, from_triangle(tangent, not upper), True, False)
        y = solve_tri(f, mT(xp.conj(y)), True, False)
        zy = solve_tri(f, d, True, False) @ y
        dl = d @ half_triangle(y) - f @ half_triangle(zy + mT(xp.conj(zy)))
        if upper:
            return mT(xp.conj(dl))
        return dl


# Arguments read only for their shape: no derivative flows through them (so a second
# derivative of code that calls the helper needs no rule for them).
set_shape_params(R, {"as_matrix": ("a",)})
