"""Derivative rules for scipy.linalg (family "scipy.linalg").

Like numpy.linalg's rules (``linalg.py``), cotangents of a matrix argument
are exact for the part of it the function reads: the triangle of a
triangular solve or Cholesky factorization, the band of ``solve_banded``.
Matrix functions (``expm``, ``sqrtm``) use their Fréchet derivatives:
``expm`` through the block matrix ``[[a, e], [0, a]]``, ``sqrtm`` through a
Sylvester equation.
"""

import scipy.linalg
import scipy.linalg as sla

from .registry import primitive
from ..runtime import (
    as_matrix, band_matmul, band_outer, band_transpose, block_upper, cholesky_jvp, cholesky_vjp,
    mT, shape, tri_mask,
)

L = "scipy.linalg"


@primitive("solve_triangular", family=L)
class _SolveTriangular:
    # x = op(a)^-1 b with op(a) = a, a.T or a.conj().T for trans 0, 1, 2 ('N', 'T', 'C')
    def vjp_a(xp, g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
              check_finite=True):
        if trans in (0, "N"):
            gb = sla.solve_triangular(a, g, trans=1, lower=lower, unit_diagonal=unit_diagonal)
            ct = -as_matrix(gb, a) @ mT(as_matrix(ans, a))
        elif trans in (1, "T"):
            gb = sla.solve_triangular(a, g, trans=0, lower=lower, unit_diagonal=unit_diagonal)
            ct = -as_matrix(ans, a) @ mT(as_matrix(gb, a))
        else:
            gb = xp.conj(sla.solve_triangular(a, xp.conj(g), lower=lower, unit_diagonal=unit_diagonal))
            ct = -xp.conj(as_matrix(ans, a) @ mT(as_matrix(gb, a)))
        return tri_mask(ct, lower, unit_diagonal)

    def vjp_b(xp, g, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
              check_finite=True):
        if trans in (0, "N"):
            return sla.solve_triangular(a, g, trans=1, lower=lower, unit_diagonal=unit_diagonal)
        elif trans in (1, "T"):
            return sla.solve_triangular(a, g, trans=0, lower=lower, unit_diagonal=unit_diagonal)
        else:
            return xp.conj(sla.solve_triangular(a, xp.conj(g), lower=lower, unit_diagonal=unit_diagonal))

    def jvp_a(xp, t, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
              check_finite=True):
        dm = tri_mask(t, lower, unit_diagonal)
        if trans in (1, "T"):
            dm = mT(dm)
        elif trans in (2, "C"):
            dm = xp.conj(mT(dm))
        dx = sla.solve_triangular(a, dm @ as_matrix(ans, a), trans=trans, lower=lower,
                                  unit_diagonal=unit_diagonal)
        return -xp.reshape(dx, shape(ans))

    def jvp_b(xp, t, ans, a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
              check_finite=True):
        return sla.solve_triangular(a, t, trans=trans, lower=lower, unit_diagonal=unit_diagonal)


@primitive("solve_banded", family=L)
class _SolveBanded:
    # ab holds the band of a: ab[u + i - j, j] = a[i, j]
    def vjp_ab(xp, g, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False,
               check_finite=True):
        l, u = l_and_u
        gb = sla.solve_banded((u, l), band_transpose(ab, l, u), g)
        return -band_outer(gb, ans, l, u)

    def vjp_b(xp, g, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False,
              check_finite=True):
        l, u = l_and_u
        return sla.solve_banded((u, l), band_transpose(ab, l, u), g)

    def jvp_ab(xp, t, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False,
               check_finite=True):
        l, u = l_and_u
        return -sla.solve_banded((l, u), ab, band_matmul(t, ans, l, u))

    def jvp_b(xp, t, ans, l_and_u, ab, b, overwrite_ab=False, overwrite_b=False,
              check_finite=True):
        return sla.solve_banded(l_and_u, ab, t)


@primitive("solve_sylvester", family=L)
class _SolveSylvester:
    # a x + x b = q;  the adjoint equation is a.T y + y b.T = g
    def vjp_a(xp, g, ans, a, b, q):
        return -sla.solve_sylvester(mT(a), mT(b), g) @ mT(ans)

    def vjp_b(xp, g, ans, a, b, q):
        return -mT(ans) @ sla.solve_sylvester(mT(a), mT(b), g)

    def vjp_q(xp, g, ans, a, b, q):
        return sla.solve_sylvester(mT(a), mT(b), g)

    def jvp_a(xp, t, ans, a, b, q):
        return -sla.solve_sylvester(a, b, t @ ans)

    def jvp_b(xp, t, ans, a, b, q):
        return -sla.solve_sylvester(a, b, ans @ t)

    def jvp_q(xp, t, ans, a, b, q):
        return sla.solve_sylvester(a, b, t)


@primitive("cholesky", family=L)
class _Cholesky:
    # as numpy.linalg.cholesky, but upper (a = u^H u, reading the upper triangle) by default
    def vjp_a(xp, g, ans, a, lower=False, overwrite_a=False, check_finite=True):
        return cholesky_vjp(g, ans, not lower)

    def jvp_a(xp, t, ans, a, lower=False, overwrite_a=False, check_finite=True):
        return cholesky_jvp(t, ans, not lower)


@primitive("cho_factor", family=L)
class _ChoFactor:
    # returns (c, lower): c holds the factor in one triangle and a's own entries in the other
    def vjp_a(xp, g, ans, a, lower=False, overwrite_a=False, check_finite=True):
        return cholesky_vjp(g[0], ans[0], not lower) + tri_mask(g[0], not lower, True)

    def jvp_a(xp, t, ans, a, lower=False, overwrite_a=False, check_finite=True):
        return cholesky_jvp(t, ans[0], not lower) + tri_mask(t, not lower, True), 0.0


@primitive("cho_solve", family=L)
class _ChoSolve:
    # x = (l l^H)^-1 b  (or (u^H u)^-1 b) for the factor in one triangle of c
    def vjp_c_and_lower(xp, g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
        c, lower = c_and_lower
        gb = xp.conj(sla.cho_solve(c_and_lower, xp.conj(g)))
        ca = -as_matrix(gb, c) @ mT(as_matrix(ans, c))
        ca = ca + xp.conj(mT(ca))
        f = xp.conj(tri_mask(c, lower))
        if lower:
            return tri_mask(ca @ f, True), 0.0
        return tri_mask(f @ ca, False), 0.0

    def vjp_b(xp, g, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
        return xp.conj(sla.cho_solve(c_and_lower, xp.conj(g)))

    def jvp_c_and_lower(xp, t, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
        c, lower = c_and_lower
        f = tri_mask(c, lower)
        df = tri_mask(t[0], lower)
        x = as_matrix(ans, c)
        if lower:
            da_x = df @ (mT(xp.conj(f)) @ x) + f @ (mT(xp.conj(df)) @ x)
        else:
            da_x = mT(xp.conj(df)) @ (f @ x) + mT(xp.conj(f)) @ (df @ x)
        return -xp.reshape(sla.cho_solve(c_and_lower, da_x), shape(ans))

    def jvp_b(xp, t, ans, c_and_lower, b, overwrite_b=False, check_finite=True):
        return sla.cho_solve(c_and_lower, t)


@primitive("expm", family=L)
class _Expm:
    def vjp_A(xp, g, ans, A):
        n = shape(A)[-1]
        return sla.expm(block_upper(mT(A), g))[..., :n, n:]

    def jvp_A(xp, t, ans, A):
        n = shape(A)[-1]
        return sla.expm(block_upper(A, t))[..., :n, n:]


@primitive("sqrtm", family=L)
class _Sqrtm:
    # x x = a:  x dx + dx x = da
    def vjp_A(xp, g, ans, A, disp=True, blocksize=64):
        return sla.solve_sylvester(mT(ans), mT(ans), g)

    def jvp_A(xp, t, ans, A, disp=True, blocksize=64):
        return sla.solve_sylvester(ans, ans, t)
