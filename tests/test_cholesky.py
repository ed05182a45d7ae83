"""The Cholesky derivatives: blocked NumPy algorithms against the formulas they replace.

``cholesky_vjp`` / ``cholesky_jvp`` (``s2sgrad/runtime/linalg.py``) run blocked
algorithms on NumPy matrices.  The systematic rule tests (test_rules.py) use
3x3 matrices, a single block; here small block sizes force several blocks, and
the results are compared with the formulas of the rules before the blocked
algorithms, and with finite differences.
"""

import numpy as np
import pytest
import scipy.linalg

import s2sgrad
from s2sgrad import runtime
from s2sgrad.runtime import linalg as rtlinalg
from s2sgrad.runtime import from_triangle, half_triangle, mT, solve_tri, to_triangle
from s2sgrad.rules import registry

from rule_cases import C
from rule_cases_linalg import M, Z
from test_rules import test_rule_matches_finite_differences as _rule_matches_fd


def _formula_vjp(g, ans, upper=False):
    """The reverse rule of cholesky as it was: x = l^-T Φ(l^T g) conj(l)^-1, two triangular solves."""
    xp = np
    if upper:
        ans, g = mT(xp.conj(ans)), mT(xp.conj(g))
    y = solve_tri(ans, half_triangle(mT(ans) @ g), True, True)
    x = mT(xp.conj(solve_tri(ans, xp.conj(mT(y)), True, True)))
    return to_triangle(x, not upper)


def _formula_jvp(t, ans, upper=False):
    """The forward rule as it was: l Φ(l^-1 e l^-H)."""
    xp = np
    if upper:
        ans = mT(xp.conj(ans))
    y = solve_tri(ans, from_triangle(t, not upper), True, False)
    dl = ans @ half_triangle(xp.conj(mT(solve_tri(ans, xp.conj(mT(y)), True, False))))
    if upper:
        return mT(xp.conj(dl))
    return dl


def _spd(shape, dtype, rng):
    n = shape[-1]
    x = rng.standard_normal(shape)
    if dtype is complex:
        x = x + 1j * rng.standard_normal(shape)
    return x @ np.conj(np.swapaxes(x, -1, -2)) + n * np.eye(n)


def _random(shape, dtype, rng):
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if dtype is complex else x


@pytest.fixture
def blocks(monkeypatch):
    """Set the block size (and let stacks of any size take the blocked algorithms)."""
    def set_block(nb, loop_min=1):
        monkeypatch.setattr(rtlinalg, "CHOLESKY_BLOCK", nb)
        monkeypatch.setattr(rtlinalg, "CHOLESKY_LOOP_MIN", loop_min)
    return set_block


# n smaller than the block, a multiple of it, not a multiple, one column per block, n = 1
SIZES = [(1, 4), (3, 4), (8, 4), (7, 3), (13, 5), (6, 1), (40, 16)]


@pytest.mark.parametrize("n,nb", SIZES)
@pytest.mark.parametrize("dtype", [float, complex])
@pytest.mark.parametrize("upper", [False, True])
def test_blocked_vjp_and_jvp_equal_the_formulas(blocks, n, nb, dtype, upper):
    blocks(nb)
    rng = np.random.default_rng(n * 100 + nb)
    ans = np.linalg.cholesky(_spd((n, n), dtype, rng), upper=upper)
    g = _random((n, n), dtype, rng)
    got = runtime.cholesky_vjp(g, ans, upper)
    want = _formula_vjp(g, ans, upper)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())
    got = runtime.cholesky_jvp(g, ans, upper)
    want = _formula_jvp(g, ans, upper)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * np.abs(want).max())


def test_default_blocks_on_a_larger_matrix():
    # 150 columns: several blocks at the default block size
    rng = np.random.default_rng(7)
    for upper in (False, True):
        ans = np.linalg.cholesky(_spd((150, 150), float, rng), upper=upper)
        g = rng.standard_normal((150, 150))
        want = _formula_vjp(g, ans, upper)
        np.testing.assert_allclose(runtime.cholesky_vjp(g, ans, upper), want,
                                   rtol=1e-9, atol=1e-12 * np.abs(want).max())
        want = _formula_jvp(g, ans, upper)
        np.testing.assert_allclose(runtime.cholesky_jvp(g, ans, upper), want,
                                   rtol=1e-9, atol=1e-12 * np.abs(want).max())


@pytest.mark.parametrize("loop_min", [1, 100])   # matrix by matrix, or the formula on the stack
@pytest.mark.parametrize("dtype", [float, complex])
def test_stacks(blocks, loop_min, dtype):
    blocks(3, loop_min)
    rng = np.random.default_rng(3)
    ans = np.linalg.cholesky(_spd((2, 3, 7, 7), dtype, rng))
    g = _random((2, 3, 7, 7), dtype, rng)
    for upper in (False, True):
        a = mT(np.conj(ans)) if upper else ans
        np.testing.assert_allclose(runtime.cholesky_vjp(g, a, upper), _formula_vjp(g, a, upper),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(runtime.cholesky_jvp(g, a, upper), _formula_jvp(g, a, upper),
                                   rtol=1e-10, atol=1e-12)


def test_dtypes_and_what_is_read(blocks):
    blocks(3)
    rng = np.random.default_rng(5)
    ans = np.linalg.cholesky(_spd((8, 8), float, rng))
    g = _random((8, 8), complex, rng)
    # a real factor with a complex cotangent (tangent) promotes, as the formula does
    np.testing.assert_allclose(runtime.cholesky_vjp(g, ans), _formula_vjp(g, ans), rtol=1e-10)
    np.testing.assert_allclose(runtime.cholesky_jvp(g, ans), _formula_jvp(g, ans), rtol=1e-10)
    # single precision stays single
    got = runtime.cholesky_vjp(g.real.astype(np.float32), ans.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _formula_vjp(g.real, ans), rtol=1e-3, atol=1e-4)
    # only the factor's triangle, and the cotangent's, are read
    junk = np.triu(rng.standard_normal((8, 8)), 1)
    for fn in (runtime.cholesky_vjp, runtime.cholesky_jvp):
        np.testing.assert_allclose(fn(g.real + junk, ans + junk), fn(g.real, ans), rtol=1e-13)


def _cases():
    return [
        ("linalg.cholesky", C(M(5, 5, kind="spd"))),
        ("linalg.cholesky", C(M(7, 7, kind="spd", dtype=Z), upper=True)),
        ("linalg.cholesky", C(M(2, 5, 5, kind="spd", dtype=Z))),
        ("scipy.linalg.cholesky", C(M(5, 5, kind="spd"))),
        ("scipy.linalg.cholesky", C(M(5, 5, kind="spd", dtype=Z), lower=True)),
        ("scipy.linalg.cho_factor", C(M(5, 5, kind="spd"), True,
                                      fn=lambda a, lower: (scipy.linalg.cho_factor(a, lower)[0], 1.0))),
        ("s2sgrad.runtime.cholesky_vjp", C(M(5, 5, dtype=Z), M(5, 5, dtype=Z))),
        ("s2sgrad.runtime.cholesky_vjp", C(M(5, 5), M(5, 5), True)),
        ("s2sgrad.runtime.cholesky_jvp", C(M(5, 5, dtype=Z), M(5, 5, dtype=Z), True)),
        ("s2sgrad.runtime.cholesky_jvp", C(M(2, 5, 5), M(2, 5, 5))),
    ]


@pytest.mark.parametrize("name,case", _cases(), ids=lambda v: v if isinstance(v, str) else repr(v))
def test_rules_with_small_blocks_match_finite_differences(blocks, name, case):
    blocks(2)
    prim = next(p for p in registry.all_primitives() if p.qualname == name)
    _rule_matches_fd(prim, case)


def test_second_derivatives_through_generated_code(blocks):
    blocks(2)

    def f(a):
        l = np.linalg.cholesky(a)
        return np.sum(np.sin(l) * l)

    rng = np.random.default_rng(11)
    s2sgrad.check_grads(f, 0, _spd((5, 5), float, rng), order=2, fallback="never")


def test_other_namespaces_take_the_formula():
    xp = pytest.importorskip("array_api_strict")

    def f(a):
        l = xp.linalg.cholesky(a)
        return xp.sum(l * l * l)

    def f_np(a):
        l = np.linalg.cholesky(a)
        return np.sum(l * l * l)

    a = _spd((5, 5), float, np.random.default_rng(2))
    got = s2sgrad.grad(f)(xp.asarray(a))
    assert type(got) is type(xp.asarray(a))
    np.testing.assert_allclose(np.asarray(got), s2sgrad.grad(f_np)(a), rtol=1e-10, atol=1e-12)
