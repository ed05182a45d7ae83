"""The tracing fallback (``s2sgrad.fallback``) against central finite differences.

Every gradient is checked numerically at several points (both sides of every
branch), in reverse mode (``trace_vjp``) and forward mode (``trace_jvp``),
for plain NumPy code that imports nothing from s2sgrad.
"""

import copy
import math
import warnings

import numpy as np
import pytest

from s2sgrad.errors import NoRuleError, S2SGradError
from s2sgrad.fallback import (
    FallbackWarning, TracedConversionError, trace_jvp, trace_vjp,
)

from gradcheck import _get, _replace

EPS = 1e-6


# ---------------------------------------------------------------------------
# Finite differences through containers
# ---------------------------------------------------------------------------


def _paths(x, prefix=()):
    """Paths to the float/complex/array leaves of a nested dict/list/tuple."""
    if isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _paths(v, prefix + (i,))
    elif isinstance(x, (float, np.ndarray)):
        yield prefix


def _nudge(leaf, i, h):
    if isinstance(leaf, float):
        return leaf + h
    out = leaf.astype(np.result_type(leaf, float), copy=True)
    out.flat[i] += h
    return out


def numerical_grad(f, args, k):
    """Central-difference gradient of scalar ``f(*args)`` in argument ``k`` (same structure)."""
    grad = args[k]
    for path in _paths(args[k]):
        leaf = _get(args[k], path)
        d = np.zeros(np.shape(leaf))
        for i in range(d.size):
            up = list(args)
            up[k] = _replace(args[k], path, _nudge(leaf, i, EPS))
            dn = list(args)
            dn[k] = _replace(args[k], path, _nudge(leaf, i, -EPS))
            d.flat[i] = (f(*up) - f(*dn)) / (2 * EPS)
        grad = _replace(grad, path, float(d) if isinstance(leaf, float) else d)
    return grad


def assert_same_structure(a, b):
    """Same container types and keys, float for float, arrays of the same shape."""
    if not isinstance(b, (dict, list, tuple, float, np.ndarray)):
        return                     # a leaf that is not differentiated (checked by the caller)
    assert type(a) is type(b), f"{type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same_structure(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same_structure(u, v)
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape


def assert_close(a, b, tol=1e-5):
    for path in _paths(b):
        np.testing.assert_allclose(_get(a, path), _get(b, path), rtol=tol, atol=tol)


def grad_of(f, *args, argnums=(0,)):
    value, backward = trace_vjp(f, args, {}, argnums)
    return value, backward(1.0)


def check_grad(f, *args, argnums=(0,), tol=1e-5, plain=None):
    """Reverse-mode gradient against finite differences, structure and type included.

    ``plain`` is ``f`` for the finite differences (one that copies arguments ``f`` mutates).
    """
    plain = plain or f
    value, cts = grad_of(f, *args, argnums=argnums)
    np.testing.assert_allclose(value, plain(*args), rtol=1e-12)
    for k, ct in zip(argnums, cts):
        expected = numerical_grad(plain, args, k)
        assert_same_structure(ct, expected)
        assert_close(ct, expected, tol)
    return cts


def check_jvp(f, x, t, tol=1e-5):
    """Forward-mode derivative along ``t`` against a central difference of ``f``."""
    value, tangent = trace_jvp(f, (x,), {}, (0,), (t,))
    fd = (np.asarray(f(x + EPS * t)) - np.asarray(f(x - EPS * t))) / (2 * EPS)
    np.testing.assert_allclose(value, f(x), rtol=1e-12)
    assert np.shape(tangent) == np.shape(value)
    np.testing.assert_allclose(tangent, fd, rtol=tol, atol=tol)
    return tangent


RNG = np.random.default_rng(42)
A23 = RNG.uniform(-1.0, 1.0, (2, 3))
B3 = RNG.uniform(0.5, 1.5, 3)
V4 = np.array([0.3, -1.2, 0.8, 2.1])


# ---------------------------------------------------------------------------
# Arithmetic, NumPy functions and array methods
# ---------------------------------------------------------------------------


def arith(x, y):
    z = 2.0 * x + y - x / y + (-x) * y ** 2 + (+y) / 3.0 - 1.5 / y
    z = z + x ** 3 - 2.0 ** x + np.float64(0.5) * x + y * np.ones(3) + x % 0.7
    return np.sum(z * z) + abs(x).sum()


def test_arithmetic_with_broadcasting():
    check_grad(arith, A23, B3, argnums=(0, 1))


def test_matmul_operator_both_ways():
    m = RNG.uniform(-1, 1, (3, 4))
    check_grad(lambda a, b: np.sum((a @ b) ** 2) + np.sum(b.T @ a.T), A23, m, argnums=(0, 1))
    check_grad(lambda b: np.sum(A23 @ b @ np.ones(4)), m)


def funcs(x):
    y = np.sin(x) * np.cos(x) + np.exp(x / 3) + np.log(x + 2.0) + np.sqrt(x + 1.5)
    y = y + np.tanh(x) * np.arctan(x) + np.square(x) + np.maximum(x, 0.1) + np.minimum(x, -0.2)
    y = y + np.where(x > 0, x ** 2, np.sinh(x)) + np.clip(x, -0.5, 0.5) + np.abs(x) ** 1.5
    return np.sum(y)


@pytest.mark.parametrize("x", [V4, np.array([-0.3, 1.2, -0.8, 1.4]), V4[::-1] * 0.5])
def test_numpy_functions(x):
    check_grad(funcs, x)


def methods(x):
    y = x.reshape(2, 3).T
    z = y.dot(x.reshape(2, 3)) + y.sum() + y.mean(axis=0).sum()
    w = x.reshape((3, 2)).transpose().copy() * x.max() + np.transpose(x.reshape(3, 2), (1, 0))
    assert y.shape == (3, 2) and y.ndim == 2 and y.dtype == np.float64 and y.size == 6
    return z.sum() + np.sum(w ** 2) + x.clip(-0.35, 0.45).sum() + x.prod() + x.min()


def test_array_methods_and_attributes():
    check_grad(methods, RNG.uniform(0.2, 1.0, 6) * np.array([1, -1, 1, -1, 1, 1]))


def test_stack_concatenate_outer():
    def f(x):
        s = np.stack([x, x ** 2, np.ones(3)], axis=1)
        c = np.concatenate([x, np.sin(x), np.zeros(2)])
        return np.sum(s ** 2) + np.sum(c * np.arange(8)) + np.sum(np.outer(x, x[::-1]) ** 2)
    check_grad(f, B3)


REDUCTIONS = [(name, kw) for name in ("sum", "mean", "prod", "max", "min")
              for kw in (dict(), dict(axis=0), dict(axis=1), dict(axis=-1, keepdims=True),
                         dict(axis=(0, 2)))
              if not (name in ("max", "min") and kw.get("axis") == (0, 2))]  # one axis for max


@pytest.mark.parametrize("name,kwargs", REDUCTIONS)
def test_reductions_with_axis(name, kwargs):
    x = RNG.uniform(0.5, 1.5, (2, 3, 4))
    weights = np.linspace(0.5, 1.5, 24).reshape(2, 3, 4)
    check_grad(lambda x: np.sum(getattr(np, name)(x * weights, **kwargs) ** 2), x)
    check_grad(lambda x: np.sum(getattr(x * weights, name)(**kwargs) ** 2), x)


def test_getattr_numpy_and_exec_made_functions():
    env = {"np": np}
    exec("def f(x):\n    return getattr(np, 'sin')(x).sum() + np.exp(x[0])\n", env)
    check_grad(env["f"], B3)
    check_grad(eval("lambda x: np.sum(x ** 3)", {"np": np}), B3)


def test_nondifferentiable_functions_give_plain_values():
    def f(x):
        k = np.argmax(x)
        assert type(k) is np.int64 and type(np.floor(x)) is np.ndarray
        assert type(x > 0) is np.ndarray and type(x[0] > 0) is np.bool_
        return x[k] * np.sum(np.floor(x * 3)) + np.sum(x[np.round(x) == 1]) + np.sign(x[0]) * x[1]
    check_grad(f, np.array([0.3, 1.4, 0.9, -0.1]))


def test_keyword_and_variadic_arguments_of_primitives():
    from s2sgrad.fallback.tracer import apply, function_spec
    check_grad(lambda x: np.sum(a=x ** 2, axis=0).sum() + np.dot(a=x[0], b=x[1]).sum(), A23)
    vmax = function_spec(max)                       # builtins.max(*args): a variadic rule
    f = lambda a, b: apply(vmax, max, (a * 3.0, b * 2.0, 0.1), {}) ** 2  # noqa: E731
    for a, b in ((0.3, 0.9), (0.8, 0.2)):
        check_grad(f, a, b, argnums=(0, 1))
        assert np.isclose(trace_jvp(f, (a, b), {}, (0, 1), (1.0, 0.5))[1],
                          2 * max(3 * a, 2 * b) * (3.0 if 3 * a > 2 * b else 1.0))
    with pytest.raises(NoRuleError, match="positional"):
        trace_vjp(lambda x: np.sum(np.clip(x, 0.0, 1.0, None)), (B3,), {}, (0,))


def test_ufunc_keywords_and_out():
    def f(x):
        y = np.sin(x, dtype=np.float64) + np.multiply(x, 2.0, where=True)
        z = x * 1.0
        r = np.add(z, y, out=(z,))            # in place into a traced array
        assert r is z
        return np.sum(z ** 2)
    check_grad(f, B3)
    with pytest.raises(NoRuleError, match="where="):
        trace_vjp(lambda x: np.sin(x, where=x > 0.8), (B3,), {}, (0,))


def test_box_protocols():
    def f(x, n):
        assert int(x[0] * 10 + 0.5) == 3 and round(x[0], 1) == 0.3 and math.floor(x[1]) == 0
        assert math.ceil(x[1]) == 1 and math.trunc(x[2] * 2) == 2 and bool(x[0] > 0)
        assert f"{x[0]:.2f}" == "0.30" and (x[2] == x[2]) and (x[0] != 0.4)
        assert x[1] <= 0.61 and x[1] >= 0.59 and type(x[0] < x[1]) is np.bool_
        acc = 0.0
        for i in range(n):                    # n may be a traced integer: a loop bound
            acc = acc + x[i] * i
        return acc + x[[n - 1]].sum() + (x // 0.5).sum() * x[0]
    x = np.array([0.3, 0.6, 1.2])
    check_grad(f, x, 3)
    assert trace_vjp(f, (x, 3), {}, (0, 1))[1](1.0)[1] == 0.0
    def g(x):
        c = copy.deepcopy(x)
        c[0] = 5.0                            # a copy: x is unchanged
        return copy.copy(x[1]) * x + c
    check_grad(lambda x: np.sum(g(x) ** 2), x,
               plain=lambda x: np.sum(g(x.copy()) ** 2))
    seen = []
    trace_vjp(lambda x: seen.append((repr(x), len({x, x[0]}))) or x, (x,), {}, (0,))
    assert seen[0][0].startswith("Box(array([0.3, 0.6, 1.2])") and seen[0][1] == 2


# ---------------------------------------------------------------------------
# Indexing and in-place writes
# ---------------------------------------------------------------------------


def indexing(x):
    y = x[0] * x[-1] + x[1:3].sum() + x[::2] @ x[1::2] + x[[0, 2, 2, 3]].sum() * x[1]
    y = y + np.sum(x[x > 0] ** 2) + x[None, :2].sum() + x[..., 1]
    m = x.reshape(2, 2)
    y = y + m[1, 0] * m[:, 1].sum() + m[np.array([1, 1, 0])][:, 0].sum()
    rows = [r.sum() ** 2 for r in m]
    return y + sum(rows) + len(m) * m[0][1]


@pytest.mark.parametrize("x", [V4, -V4, np.array([1.5, 0.2, -0.4, 0.9])])
def test_indexing(x):
    check_grad(indexing, x)


def writes(x):
    y = x * 1.0
    y[0] = y[1] * y[2]          # element write from other elements
    y[1:3] *= 2.0               # augmented slice write
    y[0] += y[-1]               # augmented element write reading the array
    y[y > 1.0] = 0.5            # masked constant write
    y[[3, 1, 3]] = np.sin(x[:3])  # fancy write with a repeated index: the last one wins
    y[:2] = [y[2] ** 2, x[0]]   # a list of traced values
    m = np.outer(x, x)
    m[1] = x ** 2               # row write (broadcast)
    m[:, 2] += x                # column update
    m[2:, :2] = 1.0
    return np.sum(y ** 3) + np.sum(m * np.arange(16.0).reshape(4, 4))


WRITE_POINTS = [V4, np.array([0.9, -0.3, 1.2, 0.4]), np.array([-1.0, 0.6, 0.2, 0.7])]


@pytest.mark.parametrize("x", WRITE_POINTS)
def test_inplace_writes(x):
    before = x.copy()
    check_grad(writes, x)
    check_jvp(writes, x, np.array([0.3, -0.2, 0.5, 0.1]))
    np.testing.assert_array_equal(x, before)


def test_inplace_has_array_semantics_and_inputs_are_not_mutated():
    def f(x, d):
        alias = x               # a second name for the same array
        x += 1.0                # updates the array both names refer to
        x[0] = x[1] ** 2
        d["w"] *= 3.0           # the traced copy of the dict, not the caller's
        d["w"][1] = x[2]
        s = 2.0
        t = s
        s += x[0]               # floats are immutable: t keeps its value
        return np.sum(alias * d["w"]) + s * t
    x, d = np.array([0.5, -0.3, 0.8]), {"w": np.array([1.0, 2.0, 3.0])}
    x0, w0 = x.copy(), d["w"].copy()
    check_grad(f, x, d, argnums=(0, 1), plain=lambda x, d: f(x.copy(), {"w": d["w"].copy()}))
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(d["w"], w0)
    assert list(d) == ["w"]


def test_inplace_shape_errors_match_numpy():
    def f(x):
        y = x * 1.0
        y += np.ones((2, 3))
        return y
    with pytest.raises(ValueError):
        trace_vjp(f, (B3,), {}, (0,))
    with pytest.raises(ValueError):
        trace_vjp(lambda x: x.__setitem__(slice(0, 2), x) or x, (B3,), {}, (0,))


# ---------------------------------------------------------------------------
# Control flow: loops, branches, recursion, closures, generators, exceptions
# ---------------------------------------------------------------------------


def control(x, n):
    acc = 0.0
    for i in range(n):
        if acc > 1.0:
            acc = acc * 0.5 + np.sin(x) * i
        else:
            acc = acc + x ** 2
    k = 0
    while x * k < 2.0 and k < 10:
        k += 1
        acc = acc + x / k
    return acc


@pytest.mark.parametrize("x", [0.3, 0.9, 1.7, -0.6])
def test_loops_and_branches(x):
    check_grad(control, x, 5)
    check_jvp(lambda x: control(x, 5), x, 1.0)


def power(x, n):
    return 1.0 if n == 0 else x * power(x, n - 1)


def test_recursion_closures_generators_and_exceptions():
    scale = np.array([1.0, 2.0, 3.0])

    def outer(x):
        def inner(y):
            return np.sum(scale * y * x)      # closes over x and scale

        def gen(v):
            for e in v:
                yield e ** 2

        try:
            bad = x[10]
        except IndexError:
            bad = 0.0
        return inner(x ** 2) + power(x[0], 4) + sum(gen(x)) + bad
    check_grad(outer, np.array([0.4, -0.7, 1.1]))
    check_grad(power, 0.8, 5)


# ---------------------------------------------------------------------------
# Containers, Python floats, integers, several arguments and outputs
# ---------------------------------------------------------------------------


def model(params, x):
    h = np.tanh(params["W"] @ x + params["b"])
    out = params["layers"][0] * np.sum(h) + params["layers"][1][1] ** 2 * params["scale"]
    return out + params["layers"][1][0].sum() * params["pair"][0]


def test_containers_as_the_differentiated_argument():
    params = {
        "W": RNG.uniform(-1, 1, (2, 3)), "b": np.array([0.1, -0.2]), "scale": 1.5,
        "layers": [0.7, (np.array([0.2, 0.4]), 1.2)], "pair": (0.5, 3.0), "name": "net",
        "flag": True,
    }
    (ct,) = check_grad(model, params, B3)[:1]
    assert type(ct) is dict and type(ct["layers"]) is list and type(ct["layers"][1]) is tuple
    assert type(ct["scale"]) is float and type(ct["pair"][1]) is float and ct["pair"][1] == 0.0
    assert ct["name"] is None and ct["flag"] == 0.0
    assert params["name"] == "net" and type(params["layers"][1]) is tuple


def test_several_arguments_and_tuple_outputs():
    def f(a, s, b):
        return a * s, {"sum": np.sum(a * b) + s}
    value, backward = trace_vjp(f, (A23[0], 2.0, B3), {}, (0, 1, 2))
    assert type(value) is tuple and type(value[1]) is dict
    g = (np.array([1.0, -1.0, 0.5]), {"sum": 2.0})
    da, ds, db = backward(g)
    np.testing.assert_allclose(da, g[0] * 2.0 + 2.0 * B3)
    assert type(ds) is float and np.isclose(ds, np.dot(g[0], A23[0]) + 2.0)
    np.testing.assert_allclose(db, 2.0 * A23[0])
    again = backward(g)                       # backward can run more than once
    for u, v in zip(again, (da, ds, db)):
        np.testing.assert_allclose(u, v)


def test_python_floats_and_builtins():
    def f(x):
        y = abs(x) * 2.0 + max(x, 0.1) + min(x * x, 3.0) + pow(x, 3) + sum([x, 1.0, x])
        return 1.5 ** x + y / (1.0 + x * x) - 3.0 % (x + 4.0)
    for x in (0.7, -0.4, 2.5):
        (ct,) = check_grad(f, x)
        assert type(ct) is float
    value, backward = trace_vjp(lambda x: x * 2.0 + 1.0, (1.5,), {}, (0,))
    assert type(value) is float and value == 4.0 and backward(1.0) == (2.0,)


def test_integer_arguments_and_constant_outputs():
    value, backward = trace_vjp(lambda n, x: n ** 2 * x, (3, 0.5), {}, (0, 1))
    assert backward(1.0) == (3.0, 9.0)
    value, backward = trace_vjp(lambda x: 7.0, (B3,), {}, (0,))
    np.testing.assert_array_equal(backward(1.0)[0], np.zeros(3))
    value, tangent = trace_jvp(lambda x: (x * 2.0, 7.0), (1.0,), {}, (0,), (1.0,))
    assert tangent == (2.0, 0.0)


def test_keyword_arguments_are_passed_untraced():
    def f(x, *, power=2.0, axis=None):
        return np.sum(np.sum(x ** power, axis=axis) ** 2)
    value, backward = trace_vjp(f, (A23,), {"power": 3.0, "axis": 0}, (0,))
    expected = numerical_grad(lambda x: f(x, power=3.0, axis=0), (A23,), 0)
    np.testing.assert_allclose(backward(1.0)[0], expected, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# Complex values (Autograd's convention, as in test_rules.py)
# ---------------------------------------------------------------------------


def _inner(a, b):
    return float(np.real(np.sum(np.conj(a) * b)))


@pytest.mark.parametrize("f", [
    lambda z: np.sin(z) * z ** 2 + np.exp(z / 2) - 1j * z,
    lambda z: np.sum(np.outer(z, z) @ z) * z[::-1] + z / (z + 3.0),
    lambda z: (z * (1.0 + 2.0j)) @ z + 1.0 / z[0],
])
def test_complex_vjp_and_jvp(f):
    z = np.array([0.3 + 0.4j, -0.6 + 0.2j, 1.1 - 0.5j])
    v = np.array([0.5 - 0.2j, 0.1 + 0.9j, -0.3 + 0.4j])
    jv = (f(z + EPS * v) - f(z - EPS * v)) / (2 * EPS)
    value, backward = trace_vjp(f, (z,), {}, (0,))
    g = RNG.standard_normal(np.shape(value)) + 1j * RNG.standard_normal(np.shape(value))
    (ct,) = backward(np.conj(g))
    # the rule convention: backward maps conj(g) to the conjugate of the pull-back of g
    assert np.isclose(_inner(v, np.conj(ct)), _inner(g, jv), rtol=1e-5)
    np.testing.assert_allclose(trace_jvp(f, (z,), {}, (0,), (v,))[1], jv, rtol=1e-5, atol=1e-7)


def test_complex_scalars_and_real_arguments_of_complex_code():
    value, backward = trace_vjp(lambda z: z * z + 2.0 * z, (1.0 + 2.0j,), {}, (0,))
    (ct,) = backward(1.0 + 0j)
    assert type(ct) is complex and np.isclose(ct, 2 * (1.0 + 2.0j) + 2.0)
    # a real argument of complex code receives a real cotangent (the real part)
    f = lambda x: np.sum(np.exp(1j * x) * (1.0 - 0.5j))  # noqa: E731
    _, backward = trace_vjp(f, (B3,), {}, (0,))
    g = 0.7 - 0.3j
    (ct,) = backward(np.conj(g))
    assert ct.dtype == np.float64
    for i in range(3):
        e = np.eye(3)[i]
        jv = (f(B3 + EPS * e) - f(B3 - EPS * e)) / (2 * EPS)
        assert np.isclose(ct[i], _inner(g, jv), rtol=1e-5)


# ---------------------------------------------------------------------------
# Higher order: nested traces
# ---------------------------------------------------------------------------


def grad(f):
    return lambda x: trace_vjp(f, (x,), {}, (0,))[1](1.0)[0]


def jvp(f, v):
    return lambda x: trace_jvp(f, (x,), {}, (0,), (v,))[1]


def logistic_tanh(x):
    return (1 - np.exp(-x)) / (1 + np.exp(-x))       # = tanh(x / 2)


@pytest.mark.parametrize("x", [-1.3, 0.0, 0.7, 2.4])
def test_second_and_third_derivatives_against_closed_form(x):
    t = np.tanh(x / 2)
    d1 = 0.5 * (1 - t ** 2)
    d2 = -t * d1
    d3 = -0.5 * d1 * (1 - t ** 2) + t ** 2 * d1
    assert np.isclose(grad(logistic_tanh)(x), d1, rtol=1e-12)
    assert np.isclose(grad(grad(logistic_tanh))(x), d2, rtol=1e-10, atol=1e-14)
    assert np.isclose(grad(grad(grad(logistic_tanh)))(x), d3, rtol=1e-10, atol=1e-14)
    # every mixture of modes gives the same second derivative
    assert np.isclose(jvp(grad(logistic_tanh), 1.0)(x), d2, atol=1e-12)
    assert np.isclose(grad(jvp(logistic_tanh, 1.0))(x), d2, atol=1e-12)
    assert np.isclose(jvp(jvp(logistic_tanh, 1.0), 1.0)(x), d2, atol=1e-12)
    assert np.isclose(jvp(grad(grad(logistic_tanh)), 1.0)(x), d3, atol=1e-12)


def hessian_cases():
    def setw(x):
        y = x * 1.0
        y[0] = y[1] * y[2]
        y[[1, 2, 1]] = x[:3] ** 2
        y[y > 0.5] *= 3.0
        y[1:] = [y[0] * x[1], x[2] ** 2]
        return np.sum(y ** 3)
    return {
        "elementwise": lambda x: np.sum(np.sin(x) * x ** 2 / (1.0 + x ** 2)),
        "indexing": lambda x: (np.sum(x[1:] * x[0]) + np.sum(x[[0, 2, 2]] ** 2)
                               + np.sum(x[x > 0] ** 3)),
        "matmul": lambda x: x @ np.outer(x, x) @ x + np.sum(np.dot(np.outer(x, x), x ** 2)),
        "reductions": lambda x: (np.mean(np.exp(x)) + np.max(x ** 2)
                                 + np.sum(np.sum(np.outer(x, x) ** 2, axis=0) ** 2)),
        "writes": setw,
        "stack": lambda x: (np.sum(np.stack([x, x ** 2]) ** 2)
                            + np.sum(np.concatenate([x, np.sin(x)]) ** 3)),
        "shapes": lambda x: np.sum(np.tanh(x.reshape(3, 1) * x).T ** 2),
        "where": lambda x: np.sum(np.where(x > 0, x ** 3, np.cos(x))),
        "builtins": lambda x: sum(e ** 3 for e in x) + max(x[0] * x[1], x[2]) + abs(x[1]) ** 3,
    }


@pytest.mark.parametrize("name", list(hessian_cases()))
def test_hessian_vector_products_in_all_mode_combinations(name):
    f = hessian_cases()[name]
    x, v = np.array([0.3, -0.7, 1.1]), np.array([0.2, 0.5, -0.4])
    g = grad(f)
    hv = (g(x + EPS * v) - g(x - EPS * v)) / (2 * EPS)
    np.testing.assert_allclose(grad(lambda x: np.dot(g(x), v))(x), hv, atol=1e-5)  # rev over rev
    np.testing.assert_allclose(jvp(g, v)(x), hv, atol=1e-5)                        # fwd over rev
    np.testing.assert_allclose(grad(jvp(f, v))(x), hv, atol=1e-5)                  # rev over fwd
    assert np.isclose(jvp(jvp(f, v), v)(x), np.dot(hv, v), atol=1e-5)              # fwd over fwd


def test_cross_derivatives_of_two_arguments():
    # d/dy of (d/dx f): the inner trace sees y only as a box of the outer trace
    f = lambda x, y: np.sum(np.sin(x * y) * y)  # noqa: E731
    x, y = np.array([0.3, 0.8]), np.array([1.2, -0.4])
    dfdx = lambda x, y: trace_vjp(f, (x, y), {}, (0,))[1](1.0)[0]  # noqa: E731
    _, backward = trace_vjp(lambda y: np.sum(dfdx(x, y)), (y,), {}, (0,))
    expected = numerical_grad(lambda y: np.sum(dfdx(x, y)), (y,), 0)
    np.testing.assert_allclose(backward(1.0)[0], expected, atol=1e-6)


def test_outer_boxes_updated_in_place_after_an_inner_trace():
    def outer(y):
        z = y * 1.0
        _, backward = trace_vjp(lambda x: np.sum(x * z), (y,), {}, (0,))
        z += 5.0                 # the inner tape recorded z before this update
        return np.sum(backward(1.0)[0] * y)
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(trace_vjp(outer, (x,), {}, (0,))[1](1.0)[0], 2 * x)


# ---------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("f", [funcs, indexing, lambda x: methods(np.concatenate([x, x[:2]])),
                               lambda x: np.outer(x, x) @ x, lambda x: (x * 2.0, np.sum(x ** 2))])
def test_forward_mode_against_finite_differences(f):
    x, t = np.array([0.6, -0.4, 1.3, 0.2]), np.array([0.1, 0.7, -0.3, 0.5])
    value, tangent = trace_jvp(f, (x,), {}, (0,), (t,))
    up, down = np.asarray(f(x + EPS * t), dtype=object), np.asarray(f(x - EPS * t), dtype=object)
    fd = (up - down) / (2 * EPS)
    if isinstance(value, tuple):
        assert type(tangent) is tuple
        for u, w in zip(tangent, fd):
            np.testing.assert_allclose(u, w, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_allclose(tangent, fd.astype(float), rtol=1e-5, atol=1e-6)


def test_forward_mode_with_containers():
    params = {"W": RNG.uniform(-1, 1, (2, 3)), "b": np.array([0.1, -0.2]), "scale": 1.5,
              "layers": [0.7, (np.array([0.2, 0.4]), 1.2)], "pair": (0.5, 3.0)}
    tan = {"W": np.ones((2, 3)), "b": np.array([1.0, -1.0]), "scale": 0.5,
           "layers": [1.0, (np.array([0.0, 2.0]), -1.0)], "pair": (1.0, 0.0)}
    _, tangent = trace_jvp(model, (params, B3), {}, (0,), (tan,))
    _, backward = trace_vjp(model, (params, B3), {}, (0,))
    (ct,) = backward(1.0)
    expected = sum(float(np.sum(_get(ct, p) * _get(tan, p))) for p in _paths(tan))
    assert type(tangent) is float and np.isclose(tangent, expected)


# ---------------------------------------------------------------------------
# Errors instead of silently wrong gradients
# ---------------------------------------------------------------------------


def test_math_module_functions_fail_clearly():
    with pytest.raises(TracedConversionError, match=r"math\.sin.*np\.sin") as info:
        trace_vjp(lambda x: math.sin(x), (0.5,), {}, (0,))
    assert "test_fallback.py" in str(info.value)             # the user's file and line
    with pytest.raises(TracedConversionError, match="float"):
        trace_vjp(lambda x: float(x) * 2.0, (B3[0],), {}, (0,))
    # np.asarray / np.array in a traced function are traced (issue 13): a derivative, not an error
    value, backward = trace_vjp(lambda x: np.sum(np.asarray(x) * 2.0), (B3,), {}, (0,))
    np.testing.assert_allclose(backward(1.0)[0], 2.0 * np.ones_like(B3))
    with pytest.raises(TracedConversionError, match="np.zeros"):
        def f(x):
            out = np.zeros(3)
            out[0] = x[0]
            return out
        trace_vjp(f, (B3,), {}, (0,))
    with pytest.raises(TracedConversionError, match="in-place"):
        def g(x):
            out = np.zeros(3)
            out += x
            return out
        trace_vjp(g, (B3,), {}, (0,))
    # values that do not depend on the traced arguments still convert
    assert trace_vjp(lambda x: x * math.sin(0.5) + float(np.float64(2.0)), (1.0,), {}, (0,))[0] > 0


def test_functions_without_rules_fail_clearly():
    with pytest.raises(NoRuleError, match=r"numpy\.unwrap has no derivative rule"):
        trace_vjp(lambda x: np.unwrap(x), (B3,), {}, (0,))
    with pytest.raises(NoRuleError, match=r"numpy\.add\.reduce"):
        trace_vjp(lambda x: np.add.reduce(x), (B3,), {}, (0,))
    with pytest.raises(NoRuleError, match=r"correction="):
        trace_vjp(lambda x: np.std(x, correction=1), (B3,), {}, (0,))
    with pytest.raises(NoRuleError) as info:
        trace_jvp(lambda x: np.unwrap(x), (B3,), {}, (0,), (B3,))
    assert isinstance(info.value, S2SGradError) and info.value.name == "numpy.unwrap"


def test_item_is_traced_with_its_derivative():
    (ct,) = trace_vjp(lambda x: x.item(1) * 2.0 + x[1:].item(1), (B3,), {}, (0,))[1](1.0)
    np.testing.assert_allclose(ct, [0.0, 2.0, 1.0])


def test_runtime_helpers_called_directly_are_traced_through_traced():
    from s2sgrad import runtime as rt
    from s2sgrad.fallback import traced

    def generated_like(x):          # calls helpers the way generated code does
        s = rt.scatter(x[:2] ** 2, x, slice(0, 2))
        return np.sum(s * x) + np.sum(rt.add_at(x * 0.0, [0, 0], x[:2]) ** 2)
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(S2SGradError):           # a loud failure, never a wrong gradient
        trace_vjp(generated_like, (x,), {}, (0,))
    (ct,) = trace_vjp(traced(generated_like), (x,), {}, (0,))[1](1.0)
    np.testing.assert_allclose(ct, [3 * 0.3 ** 2 - 0.8, 3 * 0.7 ** 2 - 0.8, 0.0])


def test_fallback_warning_category():
    assert issubclass(FallbackWarning, UserWarning)
    with pytest.warns(FallbackWarning):
        warnings.warn("traced", FallbackWarning)


def test_a_write_through_a_view_of_a_traced_array_is_an_error_not_a_lost_write():
    def through_view(x):
        y = x * 2.0
        v = y[1:]
        v *= 3.0            # changes y too
        return np.sum(y * x)
    (ct,) = trace_vjp(through_view, (B3,), {}, (0,))[1](1.0)   # y is [2x0, 6x1, 6x2]
    np.testing.assert_allclose(ct, [4.0, 12.0, 12.0] * B3)

    def through_transpose(x):
        y = np.outer(x, x)
        y.T[0] = x          # writes column 0 of y
        return np.sum(y)
    with pytest.raises(TracedConversionError, match="through a view"):
        trace_vjp(through_transpose, (B3,), {}, (0,))
