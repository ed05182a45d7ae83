"""Derivative rules for numpy.linalg (family "array": they serve cupy.linalg and the like too).

Matrices come in stacks: every rule works on the last two axes and broadcasts
over the rest, as the functions do.  Complex matrices follow Autograd's
convention (see ``registry.py``); a rule's cotangent for a matrix ``a`` is the
matrix ``ct`` with ``Re sum(ct * da) = Re sum(g * d ans)``.

Formulas: M. Giles, "Collected matrix derivative results for forward and
reverse mode AD" (2008); I. Murray, "Differentiation of the Cholesky
decomposition" (2016); J. Townsend, "Differentiating the singular value
decomposition" (2016).  Functions that read one triangle of their input
(``eigh``, ``cholesky``) get the exact derivative for that triangle
(``from_triangle`` / ``to_triangle``); decompositions assume distinct
eigenvalues / singular values and full rank.  Complex
eigenvectors and singular vectors are defined up to a phase: their rules fix
one (unit-norm vectors whose phase does not turn), so derivatives of functions
that do not depend on the phase are exact.  ``cholesky``'s rules call runtime
helpers (``cholesky_vjp`` / ``cholesky_jvp``) that run Murray's blocked
algorithms on NumPy matrices, at about twice the factorization's cost.
"""

from .registry import UNKNOWN, nondiff, primitive
from ..runtime import (
    as_matrix, block_upper, check_complete_qr, check_reduced_svd, cholesky_jvp, cholesky_vjp,
    diag_matrix, diag_part, expand_mat, from_triangle, inv_gaps, is_matrix_norm, max_vjp, mT,
    multi_dot_jvp, multi_dot_vjp, ndim, reduce_vjp, shape, size, specialize, to_complex_like,
    to_triangle,
    unbroadcast,
)


@primitive("linalg.inv")
class _Inv:
    def vjp_a(xp, g, ans, a):
        if specialize(ndim(a) == 2):
            return -ans.T @ g @ ans.T
        return -mT(ans) @ g @ mT(ans)

    def jvp_a(xp, t, ans, a):
        return -ans @ t @ ans


@primitive("linalg.solve")
class _Solve:
    def vjp_a(xp, g, ans, a, b):
        if specialize(ndim(a) == 2 and ndim(b) == 2):
            return -xp.linalg.solve(a.T, g) @ ans.T
        gb = xp.linalg.solve(mT(a), as_matrix(g, a))
        return unbroadcast(-gb @ mT(as_matrix(ans, a)), a)

    def vjp_b(xp, g, ans, a, b):
        if specialize(ndim(a) == 2 and ndim(b) <= 2):
            return xp.linalg.solve(a.T, g)
        gb = xp.linalg.solve(mT(a), as_matrix(g, a))
        return unbroadcast(xp.reshape(gb, shape(ans)), b)

    def jvp_a(xp, t, ans, a, b):
        return -xp.reshape(xp.linalg.solve(a, t @ as_matrix(ans, a)), shape(ans))

    def jvp_b(xp, t, ans, a, b):
        return xp.linalg.solve(a, t)


@primitive("linalg.det")
class _Det:
    def vjp_a(xp, g, ans, a):
        if specialize(ndim(a) == 2):
            return g * ans * xp.linalg.inv(a).T
        return expand_mat(g * ans) * mT(xp.linalg.inv(a))

    def jvp_a(xp, t, ans, a):
        return ans * xp.sum(mT(xp.linalg.inv(a)) * t, axis=(-2, -1))


@primitive("linalg.slogdet")
class _Slogdet:
    def vjp_a(xp, g, ans, a):
        # The sign turns only for complex matrices: it adds i * Im(g_sign * sign).
        w = g[0] * ans[0]
        c = g[1] + (w - xp.conj(w)) / 2
        return expand_mat(c) * mT(xp.linalg.inv(a))

    def jvp_a(xp, t, ans, a):
        z = xp.sum(mT(xp.linalg.inv(a)) * t, axis=(-2, -1))
        return ans[0] * (z - xp.conj(z)) / 2, xp.real(z)


@primitive("linalg.cholesky")
class _Cholesky:
    # a = l l^H reading the lower triangle of a (upper: a = u^H u, the upper triangle)
    def vjp_a(xp, g, ans, a, *, upper=False):
        return cholesky_vjp(g, ans, upper)

    def jvp_a(xp, t, ans, a, *, upper=False):
        return cholesky_jvp(t, ans, upper)


@primitive("linalg.eigh")
class _Eigh:
    def vjp_a(xp, g, ans, a, UPLO="L"):
        w, v = ans
        k = diag_matrix(g[0]) + inv_gaps(w) * (mT(v) @ g[1])
        return to_triangle(xp.conj(v) @ k @ mT(v), UPLO in ("L", "l"))

    def jvp_a(xp, t, ans, a, UPLO="L"):
        w, v = ans
        m = mT(xp.conj(v)) @ from_triangle(t, UPLO in ("L", "l")) @ v
        return xp.real(diag_part(m)), v @ (inv_gaps(w) * m)


@primitive("linalg.eigvalsh")
class _Eigvalsh:
    def vjp_a(xp, g, ans, a, UPLO="L"):
        w, v = xp.linalg.eigh(a, UPLO=UPLO)
        return to_triangle((xp.conj(v) * g[..., None, :]) @ mT(v), UPLO in ("L", "l"))

    def jvp_a(xp, t, ans, a, UPLO="L"):
        w, v = xp.linalg.eigh(a, UPLO=UPLO)
        m = mT(xp.conj(v)) @ from_triangle(t, UPLO in ("L", "l")) @ v
        return xp.real(diag_part(m))


@primitive("linalg.eig")
class _Eig:
    def vjp_a(xp, g, ans, a):
        # eigenvectors have unit norm: their scale moves with the off-diagonal terms
        w, v = ans
        k = mT(v) @ g[1]
        k = k - mT(mT(xp.conj(v)) @ v) * xp.real(diag_part(k))[..., None, :]
        z = diag_matrix(g[0]) + inv_gaps(w) * k
        return to_complex_like(xp.linalg.solve(mT(v), z @ mT(v)), a)

    def jvp_a(xp, t, ans, a):
        w, v = ans
        m = xp.linalg.solve(v, t @ v)
        c = inv_gaps(w) * m
        c = c - diag_matrix(xp.real(xp.sum(mT(mT(xp.conj(v)) @ v) * c, axis=-2)))
        return diag_part(m), v @ c


@primitive("linalg.eigvals")
class _Eigvals:
    def vjp_a(xp, g, ans, a):
        w, v = xp.linalg.eig(a)
        return to_complex_like(xp.linalg.solve(mT(v), g[..., :, None] * mT(v)), a)

    def jvp_a(xp, t, ans, a):
        w, v = xp.linalg.eig(a)
        return diag_part(xp.linalg.solve(v, t @ v))


@primitive("linalg.svd")
class _Svd:
    def vjp_a(xp, g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
        if not compute_uv:
            u, s, vh = xp.linalg.svd(a, full_matrices=False)
            ct = (xp.conj(u) * g[..., None, :]) @ xp.conj(vh)
        else:
            check_reduced_svd(a, full_matrices)
            u, s, vh = ans
            gu, gs, gvh = g
            f = inv_gaps(s ** 2)
            ku = mT(u) @ gu
            kv = xp.conj(vh @ mT(gvh))
            yu = f * ku
            yv = f * kv
            # the phase of complex singular vectors: Im diag(kv) / s (zero for real matrices)
            d = diag_part(kv)
            z = ((yu + mT(xp.conj(yu))) * s[..., None, :] + s[..., :, None] * (yv + mT(xp.conj(yv)))
                 + diag_matrix(gs + (xp.conj(d) - d) / (2 * s)))
            inner = z @ xp.conj(vh) + (gvh - (gvh @ mT(vh)) @ xp.conj(vh)) / s[..., :, None]
            ct = xp.conj(u) @ inner + ((gu - xp.conj(u) @ ku) / s[..., None, :]) @ xp.conj(vh)
        if hermitian:
            return to_triangle(ct, True)
        return ct

    def jvp_a(xp, t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
        if hermitian:
            t = from_triangle(t, True)
        if not compute_uv:
            u, s, vh = xp.linalg.svd(a, full_matrices=False)
            return xp.real(diag_part(mT(xp.conj(u)) @ t @ mT(xp.conj(vh))))
        check_reduced_svd(a, full_matrices)
        u, s, vh = ans
        dp = mT(xp.conj(u)) @ t @ mT(xp.conj(vh))
        f = inv_gaps(s ** 2)
        omega_u = f * (dp * s[..., None, :] + s[..., :, None] * mT(xp.conj(dp)))
        d = diag_part(dp)
        omega_v = (f * (s[..., :, None] * dp + mT(xp.conj(dp)) * s[..., None, :])
                   + diag_matrix((xp.conj(d) - d) / (2 * s)))
        du = u @ omega_u + (t @ mT(xp.conj(vh)) - u @ dp) / s[..., None, :]
        dvh = -omega_v @ vh + (mT(xp.conj(u)) @ t - dp @ vh) / s[..., :, None]
        return du, xp.real(d), dvh


@primitive("linalg.pinv")
class _Pinv:
    def vjp_a(xp, g, ans, a, rcond=None, hermitian=False):
        if hermitian:
            a = from_triangle(a, True)
        ph = mT(xp.conj(ans))
        w = (mT(g) @ ans) @ ph
        v = ph @ (ans @ mT(g))
        ct = -mT(ans) @ g @ mT(ans) + xp.conj(w - a @ (ans @ w) + v - (v @ ans) @ a)
        if hermitian:
            return to_triangle(ct, True)
        return ct

    def jvp_a(xp, t, ans, a, rcond=None, hermitian=False):
        if hermitian:
            a, t = from_triangle(a, True), from_triangle(t, True)
        ph = mT(xp.conj(ans))
        th = mT(xp.conj(t))
        return (-ans @ t @ ans + ans @ (ph @ (th - (th @ a) @ ans))
                + (th - ans @ (a @ th)) @ (ph @ ans))


@primitive("linalg.qr")
class _Qr:
    """a = q r of full rank, r's diagonal real (as LAPACK makes it), any shape.

    For a tall or square a (m >= n) r is square: d(q^H a) = q^H dq r + dr splits
    into a skew-Hermitian part times r and an upper-triangular dr.  A wide a
    (m < n) is [x y] with x square: q r1 = x is the square case and r2 = q^H y,
    so y's cotangent is q g_r2 and q's grows by conj(y g_r2^T) (D. Roberts and
    L. Roberts, "QR and LQ decomposition matrix backpropagation algorithms for
    square, wide, and deep matrices", 2020).  One formula covers both: for a
    tall a, y and r2 are empty.  mode='r' computes q again; mode='complete' is
    'reduced' unless a is tall, when q's extra columns are arbitrary.
    """

    def check(args):
        mode, a = args.get("mode"), args.get("a", UNKNOWN)
        if mode == "raw":
            return ("mode='raw'", "its Householder reflectors have no derivative rule; "
                                  "use mode='reduced' (or 'r')")
        if mode == "complete" and a is not UNKNOWN and shape(a)[-2] > shape(a)[-1]:
            return ("mode='complete' of a tall matrix", "the last m - n columns of q are "
                                                        "arbitrary; use mode='reduced'")
        return None

    def vjp_a(xp, g, ans, a, mode="reduced"):
        if mode == "complete":
            check_complete_qr(a)
        if mode == "r":
            q, r = xp.linalg.qr(a)
            gq, gr = xp.zeros_like(q), g
        else:
            q, r = ans
            gq, gr = g
        k = shape(r)[-2]
        gq = gq + xp.conj(a[..., k:] @ mT(gr[..., k:]))
        n = gr[..., :k] @ mT(r[..., :k]) - mT(q) @ gq
        ct = mT(xp.linalg.solve(r[..., :k], mT(gq + xp.conj(q) @ from_triangle(n, False))))
        return xp.concatenate([ct, xp.conj(q) @ gr[..., k:]], axis=-1)

    def jvp_a(xp, t, ans, a, mode="reduced"):
        if mode == "complete":
            check_complete_qr(a)
        if mode == "r":
            q, r = xp.linalg.qr(a)
        else:
            q, r = ans
        k = shape(r)[-2]
        c = mT(xp.linalg.solve(mT(r[..., :k]), mT(mT(xp.conj(q)) @ t[..., :k])))
        dr = to_triangle(c, False) @ r[..., :k]
        dq = mT(xp.linalg.solve(mT(r[..., :k]), mT(t[..., :k] - q @ dr)))
        dr = xp.concatenate([dr, mT(xp.conj(q)) @ (t[..., k:] - dq @ r[..., k:])], axis=-1)
        if mode == "r":
            return dr
        return dq, dr


@primitive("linalg.lstsq")
class _Lstsq:
    def vjp_a(xp, g, ans, a, b, rcond=None):
        p = xp.linalg.pinv(a)
        ph = mT(xp.conj(p))
        x = as_matrix(ans[0], a)
        gx = as_matrix(g[0], a)
        r = as_matrix(b, a) - a @ x
        gxt = mT(gx)
        ct = -mT(p) @ gx @ mT(x) + xp.conj(r @ ((gxt @ p) @ ph) + (ph @ x) @ (gxt - (gxt @ p) @ a))
        if size(ans[1]) > 0:
            ct = ct - (2 * xp.conj(r) * g[1]) @ mT(x)
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        return ct + (xp.conj(u) * g[3]) @ xp.conj(vh)

    def vjp_b(xp, g, ans, a, b, rcond=None):
        ct = mT(xp.linalg.pinv(a)) @ as_matrix(g[0], a)
        if size(ans[1]) > 0:
            ct = ct + 2 * xp.conj(as_matrix(b, a) - a @ as_matrix(ans[0], a)) * g[1]
        return xp.reshape(ct, shape(b))

    def jvp_a(xp, t, ans, a, b, rcond=None):
        p = xp.linalg.pinv(a)
        ph = mT(xp.conj(p))
        th = mT(xp.conj(t))
        x = as_matrix(ans[0], a)
        r = as_matrix(b, a) - a @ x
        dx = -p @ (t @ x) + p @ (ph @ (th @ r)) + th @ (ph @ x) - p @ (a @ (th @ (ph @ x)))
        dres = 0.0 * ans[1]
        if size(ans[1]) > 0:
            dres = -2 * xp.sum(xp.real(xp.conj(r) * (t @ x)), axis=0)
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        ds = xp.real(diag_part(mT(xp.conj(u)) @ t @ mT(xp.conj(vh))))
        return xp.reshape(dx, shape(ans[0])), dres, 0.0, ds

    def jvp_b(xp, t, ans, a, b, rcond=None):
        dx = xp.reshape(xp.linalg.pinv(a) @ t, shape(ans[0]))
        dres = 0.0 * ans[1]
        if size(ans[1]) > 0:
            r = as_matrix(b, a) - a @ as_matrix(ans[0], a)
            dres = 2 * xp.sum(xp.real(xp.conj(r) * as_matrix(t, a)), axis=0)
        return dx, dres, 0.0, 0.0 * ans[3]


@primitive("linalg.matrix_power")
class _MatrixPower:
    # d(a^n) in direction e is the upper right block of [[a, e], [0, a]]^n
    def vjp_a(xp, g, ans, a, n):
        if n == 2:
            return g @ mT(a) + mT(a) @ g
        m = shape(a)[-1]
        return xp.linalg.matrix_power(block_upper(mT(a), g), n)[..., :m, m:]

    def jvp_a(xp, t, ans, a, n):
        if n == 2:
            return t @ a + a @ t
        m = shape(a)[-1]
        return xp.linalg.matrix_power(block_upper(a, t), n)[..., :m, m:]


@primitive("linalg.multi_dot")
class _MultiDot:
    def vjp_arrays(xp, g, ans, arrays, *, out=None):
        return multi_dot_vjp(g, arrays)

    def jvp_arrays(xp, t, ans, arrays, *, out=None):
        return multi_dot_jvp(t, arrays)


@primitive("linalg.norm")
class _Norm:
    # vjp: g times the norm's gradient d; jvp: Re sum(d * t) over the reduced axes
    def vjp_x(xp, g, ans, x, ord=None, axis=None, keepdims=False):
        gx = reduce_vjp(g, x, axis, keepdims)
        if ord is None or ord == "fro":
            return gx * xp.conj(x) / reduce_vjp(ans, x, axis, keepdims)
        elif ord == "nuc" or is_matrix_norm(x, ord, axis):
            if ord not in ("nuc", 2, -2):
                raise NotImplementedError(f"derivative of the matrix norm with ord={ord!r}")
            if axis is not None:
                x = xp.moveaxis(x, axis, (-2, -1))
            u, s, vh = xp.linalg.svd(x, full_matrices=False)
            if ord == 2:
                u, vh = u[..., :1], vh[..., :1, :]
            elif ord == -2:
                u, vh = u[..., -1:], vh[..., -1:, :]
            d = xp.conj(u @ vh)
            if axis is not None:
                d = xp.moveaxis(d, (-2, -1), axis)
            return gx * d
        elif ord == 2:
            return gx * xp.conj(x) / reduce_vjp(ans, x, axis, keepdims)
        elif ord in (1e309, -1e309):  # inf, -inf (1e309 is the literal of infinity)
            return max_vjp(g, ans, xp.abs(x), axis, keepdims) * xp.conj(x) / xp.abs(x)
        elif ord == 0:
            return 0.0 * gx
        else:
            d = xp.abs(x) ** (ord - 2) * xp.conj(x)
            return gx * d / reduce_vjp(ans, x, axis, keepdims) ** (ord - 1)

    def jvp_x(xp, t, ans, x, ord=None, axis=None, keepdims=False):
        if ord is None or ord == "fro":
            return xp.sum(xp.real(xp.conj(x) * t), axis=axis, keepdims=keepdims) / ans
        elif ord == "nuc" or is_matrix_norm(x, ord, axis):
            if ord not in ("nuc", 2, -2):
                raise NotImplementedError(f"derivative of the matrix norm with ord={ord!r}")
            if axis is not None:
                x = xp.moveaxis(x, axis, (-2, -1))
            u, s, vh = xp.linalg.svd(x, full_matrices=False)
            if ord == 2:
                u, vh = u[..., :1], vh[..., :1, :]
            elif ord == -2:
                u, vh = u[..., -1:], vh[..., -1:, :]
            d = xp.conj(u @ vh)
            if axis is not None:
                d = xp.moveaxis(d, (-2, -1), axis)
            return xp.sum(xp.real(d * t), axis=axis, keepdims=keepdims)
        elif ord == 2:
            return xp.sum(xp.real(xp.conj(x) * t), axis=axis, keepdims=keepdims) / ans
        elif ord in (1e309, -1e309):  # inf, -inf
            d = max_vjp(1.0, ans, xp.abs(x), axis, keepdims) * xp.conj(x) / xp.abs(x)
            return xp.sum(xp.real(d * t), axis=axis, keepdims=keepdims)
        elif ord == 0:
            return 0.0 * ans
        else:
            d = xp.abs(x) ** (ord - 2) * xp.conj(x) * t
            return xp.sum(xp.real(d), axis=axis, keepdims=keepdims) / ans ** (ord - 1)


nondiff("linalg.matrix_rank")   # cond has no rule: an error, not a silent zero
