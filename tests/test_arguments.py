"""Arguments of NumPy functions through the whole pipeline (both code generators and the tracer).

The rules themselves are checked against finite differences in test_rules.py; here the
calls are written in user functions: keywords such as ``where=`` and ``initial=``, the
forms of ``np.pad``, ``np.einsum`` and ``np.linalg.qr``, and the errors, which name the
user's line, for arguments no rule covers.
"""

import warnings

import numpy as np
import pytest

import s2sgrad
from gradcheck import assert_close, numeric_grad
from tangentcheck import numeric_jvp, random_like

rng = np.random.default_rng(11)
FALLBACKS = ["never", "always"]      # the code generator alone, the tracer alone


def _line(f, offset):
    return f"test_arguments.py:{f.__code__.co_firstlineno + offset}"


def check(f, *args, wrt=0):
    """Gradient and tangent of ``f`` by the code generator and by the tracer, against
    finite differences."""
    wrt_t = wrt if isinstance(wrt, tuple) else (wrt,)
    tangents = tuple(random_like(args[w], rng) for w in wrt_t)
    expected_t = numeric_jvp(f, args, wrt_t, tangents)
    for fallback in FALLBACKS:
        g = s2sgrad.grad(f, wrt, fallback=fallback)(*args)
        for w, gw in zip(wrt_t, g if isinstance(wrt, tuple) else (g,)):
            assert_close(gw, numeric_grad(f, args, w))
        _, t = s2sgrad.jvp(f, wrt, fallback=fallback)(
            *args, tangents if isinstance(wrt, tuple) else tangents[0])
        assert_close(t, expected_t)


# ---------------------------------------------------------------------------
# Arguments no rule covers: an error naming the user's line
# ---------------------------------------------------------------------------


def _sum_into(x):
    buf = np.zeros(4)
    np.sum(x, axis=0, out=buf)
    return np.sum(buf ** 2)


def _sum_into_and_use(x):
    buf = np.zeros(4)
    y = np.sum(x, axis=0, out=buf)
    return np.sum(y ** 2)


def _sin_into(x):
    buf = np.zeros((3, 4))
    np.sin(x, out=buf)
    return np.sum(buf ** 2)


@pytest.mark.parametrize("fallback", ["auto"] + FALLBACKS)
@pytest.mark.parametrize("f", [_sum_into, _sum_into_and_use, _sin_into])
def test_out_is_an_error_naming_the_line(f, fallback):
    x = rng.normal(size=(3, 4))
    if fallback == "always":
        # The tracer writes into the array made by np.zeros (issue 12): out= is traced.
        from gradcheck import numeric_grad
        want = numeric_grad(f, [x])
        np.testing.assert_allclose(s2sgrad.grad(f, fallback=fallback)(x), want, rtol=1e-6)
        assert s2sgrad.jvp(f, fallback=fallback)(x, x)[1] == pytest.approx(np.sum(want * x))
        return
    with pytest.raises(s2sgrad.S2SGradError, match="out=") as info:
        s2sgrad.grad(f, fallback=fallback)(x)
    assert "cannot differentiate" in str(info.value) and "assign the result" in str(info.value)
    assert _line(f, 2) in str(info.value)
    with pytest.raises(s2sgrad.S2SGradError, match=_line(f, 2)):
        s2sgrad.jvp(f, fallback=fallback)(x, x)


@pytest.mark.parametrize("fallback", ["auto"] + FALLBACKS)
def test_out_on_values_that_carry_no_derivative_is_fine(fallback):
    data = rng.normal(size=(3, 4))

    def f(x):
        buf = np.zeros(4)
        np.sum(data, axis=0, out=buf)
        return np.sum(x * buf)

    np.testing.assert_allclose(s2sgrad.grad(f, fallback=fallback)(rng.normal(size=4)),
                               np.sum(data, axis=0))


@pytest.mark.parametrize("fallback", FALLBACKS)
def test_an_argument_the_rules_do_not_take_is_an_error_naming_the_line(fallback):
    def f(x):
        y = x * 2.0
        return np.std(y, correction=1)      # (NumPy 2's name for ddof: no rule takes it yet)

    with pytest.raises(s2sgrad.UnsupportedError, match="correction") as info:
        s2sgrad.grad(f, fallback=fallback)(np.arange(3.0))
    assert _line(f, 2) in str(info.value)


def _scaled(x, out=None):
    return 2.0 * x if out is None else out * x


@pytest.mark.parametrize("fallback", ["auto"] + FALLBACKS)
def test_a_users_own_parameter_called_out_is_just_an_argument(fallback):
    def f(x):
        return np.sum(_scaled(x, out=3.0) ** 2)

    x = rng.normal(size=3)
    np.testing.assert_allclose(s2sgrad.grad(f, fallback=fallback)(x), 18.0 * x)


def test_unsupported_call_is_refused_without_a_fallback_that_would_fail_too():
    def f(x):
        return np.sum(np.cumsum(x, out=np.zeros(3)))

    with warnings.catch_warnings(record=True) as record, \
            pytest.raises(s2sgrad.UnsupportedError, match="out="):
        warnings.simplefilter("always")
        s2sgrad.grad(f)(np.ones(3))
    assert not [w for w in record if "traces" in str(w.message)]


# ---------------------------------------------------------------------------
# Reductions: where= and initial=
# ---------------------------------------------------------------------------


def test_reductions_with_where_and_initial():
    def f(x, c):
        m = x > 0.2
        s = np.sum(x, axis=1, where=m, initial=c)
        p = np.max(x, axis=0, initial=c, where=m)
        q = np.min(x, axis=1, initial=-c, where=~m)
        return (np.sum(s[:, None] * p) + np.sum(q ** 2) + np.mean(x, where=m) + x.prod(where=m)
                + np.amax(x, initial=c) + x.sum(axis=0, where=m)[1])

    x = rng.normal(size=(3, 4))
    check(f, x, 0.4, wrt=(0, 1))
    check(f, x, 3.0, wrt=(0, 1))        # initial is the maximum of every column


def test_nan_reductions_with_where_and_initial():
    def f(x, c):
        m = np.array([True, False, True, True])
        return (np.nansum(x, axis=1, where=m, initial=c) @ np.nanmax(x, axis=1, where=m,
                                                                    initial=c)
                + np.nanmean(x, where=m) * np.nanprod(x, axis=0, initial=c)[0]
                + np.nanvar(x, axis=1, where=m)[2] + np.nanstd(x, where=m))

    x = rng.normal(size=(3, 4))
    x[0, 2] = x[2, 0] = np.nan
    check(f, x, 0.3, wrt=(0, 1))


def test_var_and_std_with_where():
    def f(x):
        m = np.abs(x) > 0.1
        return np.var(x, axis=0, where=m, ddof=1) @ x.std(axis=0, where=m)

    check(f, rng.normal(size=(4, 3)))


# ---------------------------------------------------------------------------
# np.pad: every differentiable mode
# ---------------------------------------------------------------------------

GATHER_MODES = [("constant", {}), ("edge", {}), ("wrap", {}), ("linear_ramp", {}),
                ("reflect", {}), ("symmetric", {}), ("reflect", {"reflect_type": "odd"}),
                ("symmetric", {"reflect_type": "odd"})]


@pytest.mark.parametrize("mode,options", GATHER_MODES)
def test_pad_adjoint_is_the_transpose_of_numpys_map(mode, options):
    """Against the dense matrix of each one-axis pad: all lengths, widths past the axis."""
    from s2sgrad import runtime
    for n in range(1, 6):
        for before, after in [(0, 0), (1, 0), (0, 2), (3, 1), (n + 2, 2 * n + 3), (11, 13)]:
            dense = np.stack([np.pad(e, (before, after), mode, **options) for e in np.eye(n)], 1)
            g = rng.normal(size=n + before + after)
            ct = runtime.pad_vjp(g, np.zeros(n), (before, after), mode, None,
                                 options.get("reflect_type", "even"))
            np.testing.assert_allclose(ct, dense.T @ g, atol=1e-12)


def test_pad_through_generated_code_and_the_tracer():
    def f(x, c):
        y = np.pad(x, ((1, 2), (0, 3)), "reflect", reflect_type="odd")
        z = np.pad(y, 2, constant_values=c) * np.pad(y, ((3, 1), (2, 2)), "symmetric")
        w = np.pad(z, 1, "maximum", stat_length=2) + np.pad(z, 1, "median")
        v = np.pad(x, {1: (2, 1)}, "linear_ramp", end_values=(c, 2 * c))
        return (np.sum(w ** 2) + np.sum(np.sin(v)) + np.sum(np.pad(x, 2, "wrap") ** 3)
                + np.sum(np.pad(x, (1, 3), "mean", stat_length=((1, 2), (3, 1))) ** 2)
                + np.sum(np.pad(x, 1, "minimum") * np.pad(x, 1, "edge")))

    check(f, rng.normal(size=(3, 4)), 0.7, wrt=(0, 1))


def _pad_with_ones(vector, width, axis, options):
    vector[:width[0]] = vector[len(vector) - width[1]:] = 1.0


@pytest.mark.parametrize("fallback", FALLBACKS)
def test_pad_without_a_derivative_is_an_error_naming_the_line(fallback):
    def f(x):
        return np.sum(np.pad(x, 1, "empty"))

    def g(x):
        return np.sum(np.pad(x, 1, _pad_with_ones))

    for fn, what in ((f, "mode='empty'"), (g, "a function as mode")):
        with pytest.raises(s2sgrad.UnsupportedError, match=what) as info:
            s2sgrad.grad(fn, fallback=fallback)(np.ones(3))
        assert _line(fn, 1) in str(info.value)


# ---------------------------------------------------------------------------
# np.einsum: the sublist form and optimize=
# ---------------------------------------------------------------------------


def test_einsum_sublist_form_and_optimize():
    def f(x, y):
        a = np.einsum(x, [0, 1], y, [1, 2], [0, 2])
        b = np.einsum(x, [0, 1], x, [0, 1], optimize=True)          # implicit output: scalar
        c = np.einsum(y, [Ellipsis, 0], [Ellipsis])
        d = np.einsum("ij,jk,kl->il", x, y, y.T, optimize="optimal")
        return np.sum(a ** 2) + b * np.sum(c) + np.sum(np.sin(d))

    check(f, rng.normal(size=(2, 3)), rng.normal(size=(3, 3)), wrt=(0, 1))


# ---------------------------------------------------------------------------
# np.linalg.qr: wide matrices, mode='r' and mode='complete'
# ---------------------------------------------------------------------------


def test_qr_of_wide_matrices_and_its_modes():
    def f(a):
        q, r = np.linalg.qr(a)                         # wide: q is 3x3, r is 3x5
        qc, rc = np.linalg.qr(a, mode="complete")      # the same for a wide matrix
        return (np.sum(np.sin(q) * r[..., :3]) + np.sum(r[..., 3:] ** 2) + np.sum(qc * rc[..., :3])
                + np.sum(np.linalg.qr(a, mode="r") ** 3) + np.sum(np.linalg.qr(a.T, "r") ** 2))

    check(f, rng.normal(size=(3, 5)))
    check(f, rng.normal(size=(2, 3, 5)))


def test_qr_of_a_wide_complex_matrix():
    def f(a):
        q, r = np.linalg.qr(a)
        return np.sum(np.abs(q[0] * r[:, -1]) ** 2)

    a = rng.normal(size=(2, 4)) + 1j * rng.normal(size=(2, 4))
    for fallback in FALLBACKS:
        g = s2sgrad.grad(f, fallback=fallback)(a)
        eps, expected = 1e-6, np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            for unit in (1.0, 1j):              # Autograd's convention: d/dRe - i d/dIm
                e = np.zeros_like(a)
                e[idx] = unit * eps
                expected[idx] += np.conj(unit) * (f(a + e) - f(a - e)) / (2 * eps)
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fallback", FALLBACKS)
def test_qr_without_a_derivative_is_an_error(fallback):
    def raw(a):
        h, tau = np.linalg.qr(a, mode="raw")
        return np.sum(h)

    def complete(a):
        q, r = np.linalg.qr(a, mode="complete")
        return np.sum(q)

    with pytest.raises(s2sgrad.UnsupportedError, match=_line(raw, 1) + ".*mode='raw'"):
        s2sgrad.grad(raw, fallback=fallback)(rng.normal(size=(3, 2)))
    with pytest.raises(s2sgrad.S2SGradError if fallback == "always" else NotImplementedError,
                       match="complete.*tall"):
        s2sgrad.grad(complete, fallback=fallback)(rng.normal(size=(3, 2)))


# ---------------------------------------------------------------------------
# Second derivatives: the generated code, transformed again (never traced)
# ---------------------------------------------------------------------------


def _reductions(x):
    m = np.array([[True, False, True], [True, True, False]])
    return (np.sum(np.sin(x) * np.sum(x ** 2, axis=1, where=m, keepdims=True))
            + np.prod(x, where=m, initial=1.5) + np.max(x ** 2, axis=1, initial=0.1, where=m).sum()
            + np.var(x, axis=0, where=m | m[::-1]).sum())


def _pads(x):
    return (np.sum(np.sin(np.pad(x, ((1, 2), (2, 1)), "reflect", reflect_type="odd")) ** 2)
            + np.sum(np.pad(x, 1, "maximum") ** 3)
            + np.sum(np.cos(np.pad(x, 2, "linear_ramp", end_values=0.3))))


def _sublists(x):
    return np.sum(np.einsum(x, [0, 1], np.sin(x), [0, 2], [1, 2]) ** 2)


def _wide_qr(x):
    q, r = np.linalg.qr(x.reshape(2, 3))
    return np.sum(np.sin(q) * r[:, :2]) + np.sum(r ** 2)


@pytest.mark.parametrize("f", [_reductions, _pads, _sublists, _wide_qr])
def test_second_derivatives_through_generated_code(f):
    x, v = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    g = s2sgrad.grad(f)
    eps = 1e-5
    expected = (g(x + eps * v) - g(x - eps * v)) / (2 * eps)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no tracing: the code is transformed again
        np.testing.assert_allclose(s2sgrad.hvp(f)(x, v), expected, rtol=1e-6, atol=1e-7)
        if f is not _wide_qr:                   # (batched hessian of a tuple result: not yet)
            np.testing.assert_allclose(np.tensordot(s2sgrad.hessian(f)(x), v, 2), expected,
                                       rtol=1e-6, atol=1e-7)
