"""Rules for the runtime helpers of the linalg, fft and scipy.linalg/signal rules
(``s2sgrad.runtime.linalg``).

Most helpers are linear and come in transpose pairs (``from_triangle`` /
``to_triangle``, ``diag_part`` / ``diag_matrix``, ``fft_pad`` / ``fft_unpad`` ...):
each is declared by its transpose in one line, and the registry writes its rules,
so derivative code stays differentiable.
"""

from .registry import nondiff, primitive, set_shape_params, transpose, transpose_pair
from ..runtime import (
    band_matmul, band_outer, band_transpose, cholesky_jvp, cholesky_vjp, factor_triangle,
    solve_tri, tri_mask, block_upper, from_triangle, half_triangle, mT, multi_dot_hvp,
    multi_dot_hvp_vjp, multi_dot_jvp, multi_dot_vjp, shape, to_triangle, unbroadcast, zeros_like,
)

R = "s2sgrad.runtime"

# Linear helpers, declared by their transposes.
transpose("mT(x)", "mT(g)", view=True)
transpose("as_matrix(x, a)", "xp.reshape(g, shape(x))", view=True)
transpose_pair("diag_part(x)", "diag_matrix(d)")
transpose("expand_mat(x)", "xp.reshape(g, shape(x))", view=True)
transpose_pair("from_triangle(x, lower=True)", "to_triangle(x, lower=True)")
transpose("half_triangle(x, lower=True)", "half_triangle(g, lower)")
transpose("tri_mask(x, lower=True, strict=False)", "tri_mask(g, lower, strict)")
transpose("fft_pad(x, sizes, axes)", "fft_unpad(g, x, axes)")
transpose("fft_unpad(value, like, axes)", "fft_unpad(g, value, axes)")
transpose("halfspec_weight(x, n, axis=-1)", "halfspec_weight(g, n, axis)")
transpose("band_transpose(ab, l, u)", "band_transpose(g, u, l)")
transpose_pair("conv_crop(y, in1, in2, mode='full')", "conv_embed(y, in1, in2, mode='full')")


@primitive("inv_gaps", family=R)
class _InvGaps:
    # F[i, j] = 1 / (w[j] - w[i]):  dF[i, j] = -F[i, j]**2 * (dw[j] - dw[i])
    def vjp_w(xp, g, ans, w):
        h = g * ans ** 2
        return xp.sum(h, axis=-1) - xp.sum(h, axis=-2)

    def jvp_w(xp, t, ans, w):
        return -ans ** 2 * (t[..., None, :] - t[..., :, None])


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("block_upper", family=R)
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


@primitive("multi_dot_vjp", family=R, linear=("cotangent",))
class _MultiDotVjp:
    def vjp_cotangent(xp, g, ans, cotangent, arrays):
        return multi_dot_jvp(g, arrays)

    def vjp_arrays(xp, g, ans, cotangent, arrays):
        return multi_dot_hvp_vjp(cotangent, g, arrays)

    def jvp_arrays(xp, t, ans, cotangent, arrays):
        return multi_dot_hvp_vjp(cotangent, t, arrays)


@primitive("multi_dot_jvp", family=R, linear=("tangents",))
class _MultiDotJvp:
    def vjp_tangents(xp, g, ans, tangents, arrays):
        return multi_dot_vjp(g, arrays)

    def vjp_arrays(xp, g, ans, tangents, arrays):
        return multi_dot_hvp_vjp(g, tangents, arrays)

    def jvp_arrays(xp, t, ans, tangents, arrays):
        return multi_dot_hvp(tangents, t, arrays)


# The second derivatives of multi_dot's rules in the factors ``arrays``: ``multi_dot_hvp``
# (the product's second derivative along two sets of factors) and its adjoint
# ``multi_dot_hvp_vjp``, linear in everything but ``arrays`` (a third derivative raises).
@primitive("multi_dot_hvp", family=R, linear=("tangents", "steps"))
class _MultiDotHvp:
    """Symmetric in ``tangents`` and ``steps``."""

    def vjp_tangents(xp, g, ans, tangents, steps, arrays):
        return multi_dot_hvp_vjp(g, steps, arrays)

    def vjp_steps(xp, g, ans, tangents, steps, arrays):
        return multi_dot_hvp_vjp(g, tangents, arrays)

    def vjp_arrays(xp, g, ans, tangents, steps, arrays):
        raise NotImplementedError("third derivatives of multi_dot; use chained @ instead")


@primitive("multi_dot_hvp_vjp", family=R, linear=("cotangent", "tangents"))
class _MultiDotHvpVjp:
    def vjp_cotangent(xp, g, ans, cotangent, tangents, arrays):
        return multi_dot_hvp(tangents, g, arrays)

    def vjp_tangents(xp, g, ans, cotangent, tangents, arrays):
        return multi_dot_hvp_vjp(cotangent, g, arrays)

    def vjp_arrays(xp, g, ans, cotangent, tangents, arrays):
        raise NotImplementedError("third derivatives of multi_dot; use chained @ instead")


nondiff("is_matrix_norm", "check_reduced_svd", "fft_axes", family=R)
nondiff("check_complete_qr", family=R)


@primitive("band_matmul", family=R, linear=True)     # bilinear in ab and x
class _BandMatmul:
    def vjp_ab(xp, g, ans, ab, x, l, u):
        return band_outer(g, x, l, u)

    def vjp_x(xp, g, ans, ab, x, l, u):
        return band_matmul(band_transpose(ab, l, u), g, u, l)


@primitive("band_outer", family=R, linear=True)      # bilinear in x and y
class _BandOuter:
    def vjp_x(xp, g, ans, x, y, l, u):
        return band_matmul(g, y, l, u)

    def vjp_y(xp, g, ans, x, y, l, u):
        return band_matmul(band_transpose(g, l, u), x, u, l)


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


set_shape_params(R, {"fft_unpad": ("like",), "as_matrix": ("a",)})
