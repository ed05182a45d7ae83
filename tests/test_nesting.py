"""Operators nested inside differentiated functions, at order 2 and 3, in both modes
(issue 13): no perturbation confusion, vjp's backward differentiable, derivatives of
derivatives with the structure of their arguments."""

import warnings

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import scipy.stats
from scipy.integrate import odeint
from scipy.linalg import sqrtm
from scipy.stats import multivariate_normal

import s2sgrad
from s2sgrad import FallbackWarning
from gradcheck import numeric_grad

pytestmark = pytest.mark.filterwarnings("ignore::s2sgrad.FallbackWarning")


def _fd(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


# ---------------------------------------------------------------------------
# 1. Perturbation confusion
# ---------------------------------------------------------------------------

def test_an_inner_grad_sees_the_outer_derivative_of_what_it_closes_over():
    f = lambda x: x * s2sgrad.grad(lambda y: x * y)(2.0)      # x * x
    assert s2sgrad.grad(f)(1.5) == pytest.approx(3.0)
    assert s2sgrad.grad(f, fallback="always")(1.5) == pytest.approx(3.0)
    assert s2sgrad.jvp(f)(1.5, 1.0) == (pytest.approx(2.25), pytest.approx(3.0))
    assert s2sgrad.deriv(f)(1.5) == pytest.approx(3.0)
    assert s2sgrad.grad(s2sgrad.grad(f))(1.5) == pytest.approx(2.0)
    assert s2sgrad.hessian(f)(1.5) == pytest.approx(2.0)


def test_the_closed_over_variable_through_a_named_inner_function_and_a_variable():
    def f(x):
        def inner(y):
            return np.sin(x * y)
        g = s2sgrad.grad(inner)
        return x * g(2.0)           # x * x cos(2x)

    def closed(x):
        return 2 * x * np.cos(2 * x) - 2 * x * x * np.sin(2 * x)
    for x in (0.3, 1.5):
        assert s2sgrad.grad(f)(x) == pytest.approx(closed(x), rel=1e-9)
        assert s2sgrad.jvp(f)(x, 1.0)[1] == pytest.approx(closed(x), rel=1e-9)
        assert s2sgrad.grad(s2sgrad.grad(f))(x) == pytest.approx(_fd(closed, x), rel=1e-6)


def test_the_refusal_to_transform_is_said_and_names_the_variable():
    def f(x):
        return x * s2sgrad.grad(lambda y: x * y)(2.0)
    with pytest.warns(FallbackWarning, match="reads x"):
        s2sgrad.grad(f)(1.0)
    with pytest.raises(s2sgrad.UnsupportedError, match="reads x"):
        s2sgrad.grad(f, fallback="never")(1.0)


def test_an_inner_grad_given_the_outer_variable_as_an_argument_is_transformed():
    def f(x):
        return x * s2sgrad.grad(lambda y, z: z * np.sin(y))(2.0, x)     # x * x cos 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        assert s2sgrad.grad(f)(1.5) == pytest.approx(3.0 * np.cos(2.0))
    assert s2sgrad.hessian(f)(1.5) == pytest.approx(2.0 * np.cos(2.0))


def test_three_levels_each_closing_over_the_one_outside():
    # f(x) = x * d/dy [y * d/dz (x y z^2)](1, 1)... built as nested closures:
    # inner(z) = x*y*z**2 -> d/dz at z=1: 2xy; middle(y) = y * 2xy = 2xy^2 -> d/dy at 1: 4x
    # f(x) = x * 4x = 4x^2; f' = 8x, f'' = 8
    def f(x):
        def middle(y):
            return y * s2sgrad.grad(lambda z: x * y * z ** 2)(1.0)
        return x * s2sgrad.grad(middle)(1.0)
    assert f(1.5) == pytest.approx(9.0)
    assert s2sgrad.grad(f)(1.5) == pytest.approx(12.0)
    assert s2sgrad.jvp(f)(1.5, 1.0)[1] == pytest.approx(12.0)
    assert s2sgrad.grad(s2sgrad.grad(f))(1.5) == pytest.approx(8.0)


def test_a_function_that_calls_vjps_backward_is_differentiable():
    def h(a, v):
        return np.sum(s2sgrad.vjp(np.sin)(a)[1](v))       # sum(v cos a)
    a, v = np.array([0.3, 0.5, -1.2]), np.array([1.0, 2.0, -0.5])
    np.testing.assert_allclose(s2sgrad.grad(h)(a, v), -np.sin(a) * v, rtol=1e-12)
    np.testing.assert_allclose(s2sgrad.grad(h, 1)(a, v), np.cos(a), rtol=1e-12)
    np.testing.assert_allclose(s2sgrad.jvp(h)(a, v, np.ones(3))[1], np.sum(-np.sin(a) * v))

    def user(x):
        return np.sum(np.tanh(x) * x)

    def h2(a, v):
        return np.sum(s2sgrad.vjp(user)(a)[1](v) ** 2)
    np.testing.assert_allclose(s2sgrad.grad(h2)(a, v), numeric_grad(h2, (a, v)), rtol=1e-6)


def test_autograds_check_grads_pattern_vjp_of_vjp():
    # the second-order check of Autograd: the vjp of (a, v) -> backward(v)
    def first(a, v):
        return s2sgrad.vjp(np.tanh)(a)[1](v)
    a, v, u = np.array([0.2, -0.7]), np.array([1.0, 3.0]), np.array([0.5, -1.0])
    value, backward = s2sgrad.vjp(first, (0, 1))(a, v)
    da, dv = backward(u)
    sech2 = 1 - np.tanh(a) ** 2
    np.testing.assert_allclose(value, sech2 * v)
    np.testing.assert_allclose(da, -2 * np.tanh(a) * sech2 * v * u, rtol=1e-12)
    np.testing.assert_allclose(dv, sech2 * u, rtol=1e-12)


# ---------------------------------------------------------------------------
# 2. An element broadcast back into an array, at second order
# ---------------------------------------------------------------------------

def _element_broadcast(a):
    b = a + 1.0
    c = b[0] + 1.5
    e = a + b + c
    return np.sum(e ** 2)


def _element_broadcast_hessian(a):
    # e = 2a + (a0 + 2.5) + [1,1,1]: de/da = 2 I + (column of ones) e0^T; H = 2 J^T J
    J = 2 * np.eye(3)
    J[:, 0] += 1.0
    return 2 * J.T @ J


@pytest.mark.parametrize("k", range(3))
def test_hvp_of_an_element_broadcast_back_into_an_array(k):
    a = np.array([0.5, -0.3, 0.2])
    v = np.eye(3)[k]
    H = _element_broadcast_hessian(a)
    expected = H @ v                       # [22, 4, 4] for e0
    np.testing.assert_allclose(s2sgrad.hvp(_element_broadcast)(a, v), expected, rtol=1e-12)
    np.testing.assert_allclose(s2sgrad.jvp(s2sgrad.grad(_element_broadcast))(a, v)[1], expected,
                               rtol=1e-12)
    np.testing.assert_allclose(s2sgrad.hessian(_element_broadcast)(a), H, rtol=1e-12)
    gv = lambda x: np.sum(s2sgrad.grad(_element_broadcast)(x) * v)
    np.testing.assert_allclose(s2sgrad.grad(gv)(a), expected, rtol=1e-12)
    np.testing.assert_allclose(numeric_grad(gv, (a,)), expected, rtol=1e-6)


# ---------------------------------------------------------------------------
# 3. What gave a zero (or nan, or an error) gradient
# ---------------------------------------------------------------------------

def test_np_r_and_np_c_carry_derivatives():
    x = np.array([1.0, 2.0])
    f = lambda x: np.sum(np.r_[x, 2 * x] ** 2)                       # 5 |x|^2
    g = lambda x: np.sum(np.c_[x, 2 * x] ** 2 * np.array([[1.0, 3.0]]))  # 13 |x|^2
    h = lambda x: np.sum(np.r_[x[0], x, 3.0] ** 2)                    # 2 x0^2 + x1^2 + 9
    for fn, expected in [(f, 10 * x), (g, 26 * x), (h, np.array([4 * x[0], 2 * x[1]]))]:
        np.testing.assert_allclose(s2sgrad.grad(fn)(x), expected)
        np.testing.assert_allclose(s2sgrad.jvp(fn)(x, np.array([1.0, -1.0]))[1],
                                   expected @ [1.0, -1.0])
        np.testing.assert_allclose(s2sgrad.hessian(fn)(x), numeric_hessian(fn, x), atol=1e-5)


def numeric_hessian(f, x, eps=1e-5):
    return np.array([(s2sgrad.grad(f)(x + eps * e) - s2sgrad.grad(f)(x - eps * e)) / (2 * eps)
                     for e in np.eye(x.size)])


def test_np_r_with_a_slice_is_not_a_silent_zero():
    f = lambda x: np.sum(np.r_[0:3] * x[0])
    with pytest.warns(FallbackWarning, match=r"np.r_\[...\] with slices"):
        np.testing.assert_allclose(s2sgrad.grad(f)(np.array([1.0, 2.0])), [3.0, 0.0])
    with pytest.raises(s2sgrad.UnsupportedError, match=r"np.r_\[...\] with slices"):
        s2sgrad.grad(f, fallback="never")(np.array([1.0, 2.0]))


def test_a_dict_made_by_dict_with_keywords_carries_derivatives():
    def f(a, b):
        d = dict(a=a, b=b)
        return d["a"] * d["b"] ** 2
    assert s2sgrad.grad(f, (0, 1))(2.0, 3.0) == (pytest.approx(9.0), pytest.approx(12.0))
    assert s2sgrad.jvp(f, (0, 1))(2.0, 3.0, (1.0, 1.0))[1] == pytest.approx(21.0)
    assert s2sgrad.hessian(f, 1)(2.0, 3.0) == pytest.approx(4.0)

    def g(p):
        d = dict(w=p["w"], scale=2.0)
        return np.sum(d["w"] ** 2) * d["scale"]
    p = {"w": np.array([1.0, -2.0])}
    got = s2sgrad.grad(g)(p)
    assert set(got) == {"w"}
    np.testing.assert_allclose(got["w"], 4 * p["w"])


def _dynamics(y, t, k):
    return -k * y + np.sin(t)


def _solution(t, y0, k):
    return np.sum(odeint(_dynamics, y0, t, args=(k,), rtol=1e-10, atol=1e-10) ** 2)


def test_odeint_with_respect_to_its_time_grid():
    t, y0, k = np.array([0.1, 0.5, 1.2]), np.array([1.0, -0.5]), 0.7
    eps = 1e-5
    fd = np.array([(_solution(t + eps * e, y0, k) - _solution(t - eps * e, y0, k)) / (2 * eps)
                   for e in np.eye(3)])
    np.testing.assert_allclose(s2sgrad.grad(_solution)(t, y0, k), fd, rtol=1e-5)
    d = np.array([1.0, 2.0, -1.0])
    assert s2sgrad.jvp(_solution)(t, y0, k, d)[1] == pytest.approx(fd @ d, rel=1e-5)
    both = s2sgrad.grad(_solution, (0, 1))(t, y0, k)
    np.testing.assert_allclose(both[0], fd, rtol=1e-5)


def test_std_of_one_element_and_power_zero_at_zero():
    x1 = np.array([1.0])
    np.testing.assert_array_equal(s2sgrad.grad(lambda x: np.std(x))(x1), [0.0])
    assert s2sgrad.jvp(lambda x: np.std(x))(x1, x1)[1] == 0.0
    np.testing.assert_allclose(s2sgrad.grad(lambda x: np.std(x))(np.array([1.0, 3.0])),
                               [-0.5, 0.5])
    for fallback in ("auto", "always"):
        assert s2sgrad.grad(lambda x: np.power(x, 0.0), fallback=fallback)(0.0) == 0.0
        assert s2sgrad.grad(lambda x: x ** 0.0, fallback=fallback)(0.0) == 0.0
        assert s2sgrad.grad(lambda x, y: x ** y, fallback=fallback)(0.0, 0.0) == 0.0
        assert s2sgrad.grad(lambda x, y: x ** y, fallback=fallback)(2.0, 3.0) == 12.0
    assert s2sgrad.deriv(lambda x: x ** 0.0)(0.0) == 0.0
    np.testing.assert_array_equal(s2sgrad.elementwise_grad(lambda x: x ** 0.0)(
        np.array([0.0, 2.0])), [0.0, 0.0])
    assert s2sgrad.grad(s2sgrad.grad(lambda x: x ** 2.5))(1.5) == pytest.approx(3.75 * 1.5 ** 0.5)


# ---------------------------------------------------------------------------
# 5. The rules first, in the tracer too
# ---------------------------------------------------------------------------

_A = np.array([[2.0, 0.1], [0.1, 3.0]])


def _sqrtm_sum(A):
    return np.sum(scipy.linalg.sqrtm(A))


def _sqrtm_by_name(A):
    return np.sum(sqrtm(A) ** 2 * A)


def _mvn(x):
    return multivariate_normal.logpdf(x, np.zeros(2), np.eye(2))


def _mvn_module(x):
    return scipy.stats.multivariate_normal.logpdf(x, np.array([0.5, 0.0]), 2 * np.eye(2))


def _polygamma(x):
    return scipy.special.polygamma(1, x) * x


@pytest.mark.parametrize("f, x", [(_sqrtm_sum, _A), (_sqrtm_by_name, _A),
                                  (_mvn, np.array([0.1, 0.2])),
                                  (_mvn_module, np.array([0.1, 0.2])), (_polygamma, 2.0)])
def test_a_traced_function_differentiates_scipy_calls_by_their_rules(f, x):
    expected = numeric_grad(f, (x,))
    transformed = s2sgrad.grad(f)(x)
    traced = s2sgrad.grad(f, fallback="always")(x)
    np.testing.assert_allclose(transformed, expected, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(traced, transformed, rtol=1e-10, atol=1e-12)
    t = np.ones_like(x)
    fwd = s2sgrad.jvp(f, fallback="always")(x, t)[1]
    assert fwd == pytest.approx(np.sum(expected * t), rel=1e-6)


def test_vjp_of_polygamma_uses_its_rule():
    value, backward = s2sgrad.vjp(scipy.special.polygamma, 1)(1, 2.0)
    assert value == pytest.approx(scipy.special.polygamma(1, 2.0))
    assert backward(1.0) == pytest.approx(scipy.special.polygamma(2, 2.0), rel=1e-12)
    assert s2sgrad.grad(lambda x: s2sgrad.grad(_polygamma)(x))(2.0) == pytest.approx(
        _fd(s2sgrad.grad(_polygamma), 2.0), rel=1e-6)


# ---------------------------------------------------------------------------
# 4. A derivative has the structure and dtype of what it is the derivative of
# ---------------------------------------------------------------------------

def _pair(p):
    return np.sin(p[0]) * p[1]


def _keyed(p):
    return np.sin(p["a"]) * 2.0


def test_jvp_of_grad_keeps_tuples_lists_and_every_dict_key():
    value, tangent = s2sgrad.jvp(s2sgrad.grad(_pair))((1.0, 2.0), (1.0, 0.0))
    assert type(value) is tuple and type(tangent) is tuple
    assert all(type(v) is float for v in value + tangent)
    np.testing.assert_allclose(value, [2 * np.cos(1.0), np.sin(1.0)])
    np.testing.assert_allclose(tangent, [-2 * np.sin(1.0), np.cos(1.0)])
    value, tangent = s2sgrad.jvp(s2sgrad.grad(_pair))([1.0, 2.0], [1.0, 0.0])
    assert type(value) is list and type(tangent) is list
    value, tangent = s2sgrad.jvp(s2sgrad.grad(_keyed))({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 0.0})
    assert value == {"a": pytest.approx(2 * np.cos(1.0)), "b": 0.0}
    assert tangent == {"a": pytest.approx(-2 * np.sin(1.0)), "b": 0.0}
    value, backward = s2sgrad.vjp(s2sgrad.grad(_pair))((1.0, 2.0))
    assert type(value) is tuple
    assert backward((1.0, 0.0)) == (pytest.approx(-2 * np.sin(1.0)), pytest.approx(np.cos(1.0)))


def test_a_one_tuple_wrt_at_every_order():
    def f(x, y):
        return np.sum(x ** 3 * y)
    x, y, t = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.ones(2)
    g = s2sgrad.grad(f, (0,))
    (gx,) = g(x, y)
    np.testing.assert_allclose(gx, 3 * x ** 2 * y)
    value, tangent = s2sgrad.jvp(g, (0,))(x, y, (t,))
    assert isinstance(value, tuple) and len(value) == 1 and value[0].shape == (2,)
    assert isinstance(tangent, tuple) and len(tangent) == 1 and tangent[0].shape == (2,)
    np.testing.assert_allclose(tangent[0], 6 * x * y * t)
    for fallback in ("auto", "always"):
        value, tangent = s2sgrad.jvp(f, (0,), fallback=fallback)(x, y, (t,))
        assert np.shape(value) == () and np.shape(tangent) == ()
        assert tangent == pytest.approx(np.sum(3 * x ** 2 * y))
    value, backward = s2sgrad.vjp(g, (0,))(x, y)
    assert isinstance(value, tuple) and len(value) == 1
    (ct,) = backward((t,))
    np.testing.assert_allclose(ct, 6 * x * y)
    vg = s2sgrad.value_and_grad(f, (0,))
    value, tangent = s2sgrad.jvp(vg)(x, y, t)
    assert value[0] == pytest.approx(35.0) and isinstance(value[1], tuple)
    np.testing.assert_allclose(tangent[1][0], 6 * x * y)


def test_a_real_argument_gets_real_derivatives_through_complex_intermediates():
    f = lambda x: np.real(np.exp(1j * x)) * x                  # x cos x
    value, tangent = s2sgrad.jvp(s2sgrad.grad(f))(1.5, 1.0)
    assert type(value) is float and type(tangent) is float
    assert value == pytest.approx(np.cos(1.5) - 1.5 * np.sin(1.5))
    assert tangent == pytest.approx(-2 * np.sin(1.5) - 1.5 * np.cos(1.5))
    xs = np.array([0.5, 1.5])
    fs = lambda x: np.sum(np.abs(np.fft.fft(x * 1j)) ** 2)    # 2 |x|^2
    value, tangent = s2sgrad.jvp(s2sgrad.grad(fs))(xs, np.ones(2))
    assert value.dtype == np.float64 and tangent.dtype == np.float64
    np.testing.assert_allclose(tangent, [4.0, 4.0])
    assert s2sgrad.hessian(fs)(xs).dtype == np.float64


# ---------------------------------------------------------------------------
# 5. What crashed inside s2sgrad
# ---------------------------------------------------------------------------

def _tuple_product(p):
    return p[0] * p[1] ** 2


def test_jvp_of_a_function_calling_grad_of_a_tuple_function():
    def f(x):
        return s2sgrad.grad(_tuple_product)((x, x))[1]     # 2 x * x
    assert s2sgrad.jvp(f)(1.5, 1.0) == (pytest.approx(4.5), pytest.approx(6.0))
    assert s2sgrad.grad(f)(1.5) == pytest.approx(6.0)
    assert s2sgrad.hessian(f)(1.5) == pytest.approx(4.0)


def test_jacobian_of_a_list_of_functions_one_of_which_calls_grad():
    fs = [np.sin, lambda x: s2sgrad.grad(np.cos)(x), lambda x: s2sgrad.grad(lambda y: y ** 3)(x)]
    j = s2sgrad.jacobian(lambda x: np.array([f(x) for f in fs]))(1.0)
    np.testing.assert_allclose(j, [np.cos(1.0), -np.cos(1.0), 6.0])


_SUBSCRIPTS = "ij,j->i"


def test_einsum_with_its_subscripts_in_a_variable():
    A, x = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, -1.0])

    def by_global(A, x):
        return np.sum(np.einsum(_SUBSCRIPTS, A, x) ** 2)

    def by_local(A, x):
        s = "ij,j->i"
        return np.sum(np.einsum(s, A, x) ** 2)

    def by_parameter(A, x, s):
        return np.sum(np.einsum(s, A, x) ** 2)
    with pytest.warns(FallbackWarning, match="subscripts in a variable"):
        s2sgrad.grad(by_parameter, 1)(A, x, _SUBSCRIPTS)       # traced: its rules, at run time
    for f, extra in [(by_global, ()), (by_local, ()), (by_parameter, (_SUBSCRIPTS,))]:
        np.testing.assert_allclose(s2sgrad.grad(f, 1)(A, x, *extra), 2 * A.T @ (A @ x))
        np.testing.assert_allclose(s2sgrad.grad(f, 0)(A, x, *extra), 2 * np.outer(A @ x, x))
        np.testing.assert_allclose(s2sgrad.jvp(f, 1)(A, x, *extra, x)[1],
                                   2 * (A @ x) @ (A @ x))
        np.testing.assert_allclose(s2sgrad.hessian(f, 1)(A, x, *extra), 2 * A.T @ A)


def test_three_levels_of_grad_through_a_complex_intermediate():
    f = lambda x: np.sum(np.abs(x + 1j) ** 2)           # x^2 + 1
    assert s2sgrad.grad(s2sgrad.grad(s2sgrad.grad(f)))(1.0) == 0.0
    assert s2sgrad.grad(s2sgrad.grad(f))(1.0) == pytest.approx(2.0)
    g = lambda x: np.real(np.exp(1j * x) * x)             # x cos x
    assert s2sgrad.grad(s2sgrad.grad(s2sgrad.grad(g)))(0.7) == pytest.approx(
        -3 * np.cos(0.7) + 0.7 * np.sin(0.7))


def test_dict_get_with_a_default_in_forward_mode():
    def f(x):
        d = {"k": 2.0 * x}
        return d.get("k", x) * d.get("j", x)              # 2 x^2
    assert s2sgrad.jvp(f)(1.5, 1.0) == (pytest.approx(4.5), pytest.approx(6.0))
    assert s2sgrad.grad(f)(1.5) == pytest.approx(6.0)
    assert s2sgrad.hvp(f)(1.5, 1.0) == pytest.approx(4.0)


_DEFINED_IN_A_LOOP = []
for _num in range(3):
    def _scaled_product(x, y, num=_num):
        return x * y * num
    _DEFINED_IN_A_LOOP.append(_scaled_product)


def test_functions_defined_in_a_loop_with_a_default_taken_from_the_loop():
    for num, f in enumerate(_DEFINED_IN_A_LOOP):
        assert s2sgrad.grad(f)(1.0, 2.0) == pytest.approx(2.0 * num)
        assert s2sgrad.jvp(f, 1)(1.0, 2.0, 1.0) == (pytest.approx(2.0 * num), pytest.approx(num))

    def outer(x):
        total = 0.0
        for num in range(3):
            def term(y, num=num):
                return y * num
            total = total + term(x) * x
        return total                                       # 3 x^2
    with pytest.warns(FallbackWarning, match="default value of the nested function term"):
        assert s2sgrad.grad(outer)(1.5) == pytest.approx(9.0)


def test_operator_module_functions_as_functions():
    import operator
    assert s2sgrad.grad(operator.add)(1.0, 2.0) == 1.0
    assert s2sgrad.grad(operator.mul, (0, 1))(2.0, 3.0) == (3.0, 2.0)
    assert s2sgrad.jvp(operator.mul, (0, 1))(2.0, 3.0, (1.0, 1.0)) == (6.0, 5.0)
    assert s2sgrad.grad(lambda x, f: f(x, x) * x)(1.5, operator.mul) == pytest.approx(6.75)
    assert s2sgrad.hessian(operator.mul, 0)(2.0, 3.0) == 0.0
    np.testing.assert_allclose(s2sgrad.jacobian(operator.mul)(np.array([1.0, 2.0]), 3.0),
                               3 * np.eye(2))


# ---------------------------------------------------------------------------
# Nested operators at order 2 and 3, in both modes, on the constructs of the README
# ---------------------------------------------------------------------------

def _loop_while(x):                    # while with a data-dependent trip count
    s = np.sum(x ** 2)
    k = 0
    while s > 0.1 and k < 4:
        s = s * 0.5 + np.sin(s) * 0.1
        k += 1
    return s * np.sum(np.cos(x))


def _early_return(x):                  # enumerate(zip(...)), early return inside the loop
    total = 0.0
    for i, (a, b) in enumerate(zip(x, x[::-1])):
        if i == 2:
            return total + a * b * b
        total = total + np.tanh(a * b) * (i + 1.0)
    return total


def _power_sum(x, n):                  # recursion
    if n == 0:
        return 0.0
    return np.sum(x ** n) / n + _power_sum(x, n - 1)


def _recursive(x):
    return _power_sum(x, 3)


def _factory(c):                       # a closure returned by a factory
    def f(x):
        return c * np.sum(np.sin(x) * x)
    return f


class _Model:                          # a method reading an attribute of self
    def __init__(self):
        self.W = np.array([[1.0, 0.3, -0.2], [0.1, 0.8, 0.4], [0.5, -0.6, 1.2]])

    def energy(self, x):
        h = np.tanh(self.W @ x)
        return np.sum(h ** 2) + 0.1 * np.sum(x ** 4)


def _in_place(x):                      # in-place writes
    y = x.copy()
    y[0] = y[0] * y[1]
    y[1:] *= 2.0
    y[-1] += y[0]
    return np.sum(y ** 3)


def _lists(x):                         # append, sum of a generator, a comprehension
    parts = []
    for v in x:
        parts.append(np.exp(-v * v))
    return sum(p * q for p, q in zip(parts, [1.0, 2.0, 3.0])) + \
        np.prod(np.array([v + 2.0 for v in x]))


CONSTRUCTS = {"while": _loop_while, "early return": _early_return, "recursion": _recursive,
              "closure": _factory(1.7), "method": _Model().energy, "in-place": _in_place,
              "lists": _lists}
_X = np.array([0.3, -0.7, 0.5])
_V = np.array([1.0, 0.5, -2.0])
_W = np.array([-0.3, 1.0, 0.2])
_EPS = 1e-5


def _fd_along(F, x, d):
    return (F(x + _EPS * d) - F(x - _EPS * d)) / (2 * _EPS)


@pytest.mark.parametrize("name", list(CONSTRUCTS))
def test_second_and_third_order_on_the_readme_constructs(name):
    f = CONSTRUCTS[name]
    x = _X
    g = s2sgrad.grad(f)
    np.testing.assert_allclose(g(x), numeric_grad(f, (x,)), rtol=1e-6, atol=1e-8)
    # order 2: Hessian = finite differences of the gradient, by every route
    H = s2sgrad.hessian(f)(x)
    H_fd = np.array([_fd_along(g, x, e) for e in np.eye(3)])
    np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s2sgrad.hvp(f)(x, _V), H @ _V, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(s2sgrad.jvp(g)(x, _V)[1], H @ _V, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(s2sgrad.jacobian(g)(x), H, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(s2sgrad.vjp(g)(x)[1](_W), H @ _W, rtol=1e-9, atol=1e-10)
    # order 3: the jacobian of the hessian = finite differences of the hessian
    hess = s2sgrad.hessian(f)
    T = s2sgrad.jacobian(hess)(x)
    T_fd = np.stack([_fd_along(hess, x, e) for e in np.eye(3)], axis=-1)
    np.testing.assert_allclose(T, T_fd, rtol=1e-5, atol=1e-6)
    # forward over forward over reverse, and a function that calls jvp of grad
    third = np.einsum("ijk,i,j,k->", T, _W, _V, _V)
    inner = lambda x: s2sgrad.jvp(g)(x, _V)[1] @ _W
    assert s2sgrad.jvp(inner)(x, _V)[1] == pytest.approx(third, rel=1e-8, abs=1e-10)
    if name != "in-place":     # (reverse over a traced forward-over-reverse with writes: refused)
        np.testing.assert_allclose(s2sgrad.grad(inner)(x), np.einsum("ijk,i,j->k", T, _W, _V),
                                   rtol=1e-8, atol=1e-10)
    # hvp of a function that calls grad: (2 H H + 2 T g) v
    if name != "lists":        # (a trace of an array built from a list of traced values: refused)
        h = lambda x: np.sum(g(x) ** 2)
        expected = 2 * H @ (H @ _V) + 2 * np.einsum("ijk,i,k->j", T, g(x), _V)
        np.testing.assert_allclose(s2sgrad.hvp(h)(x, _V), expected, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------------
# Tuple, list and dict parameters at second order (Autograd's test_dict, test_tuple, ...)
# ---------------------------------------------------------------------------

def _of_dict(d):
    a = np.sum(np.sin(d["item_1"]))
    b = np.sum(np.cos(d["item_2"]))
    for i, k in enumerate(sorted(d)):
        a = a + np.sum(np.sin(d[k])) * (i + 1.0)
    return a + b


def _grad_of_dict(d):
    g = s2sgrad.grad(_of_dict)(d)
    return np.sum(g["item_1"]) + np.sum(np.sin(g["item_1"])) + np.sum(np.sin(g["item_2"]))


def test_a_function_of_a_dict_and_of_its_gradient():
    rng = np.random.default_rng(0)
    d = {"item_1": rng.normal(size=(2, 3)), "item_2": rng.normal(size=3),
         "item_X": rng.normal(size=2)}
    for f in (_of_dict, _grad_of_dict):
        got = s2sgrad.grad(f)(d)
        assert set(got) == set(d)
        expected = numeric_grad(f, (d,))
        for k in d:
            np.testing.assert_allclose(got[k], expected[k], rtol=1e-6, atol=1e-8)
        t = {k: np.ones_like(v) for k, v in d.items()}
        value, tangent = s2sgrad.jvp(f)(d, t)
        assert tangent == pytest.approx(sum(np.sum(expected[k]) for k in d), rel=1e-6)


def test_dict_get_at_second_order_with_respect_to_the_dict_and_the_default():
    def f(d, x):
        return d.get("item_1", x) ** 3
    for d in ({"item_1": 3.0}, {"item_2": 4.0}, {}):
        gd, gx = s2sgrad.grad(f, (0, 1))(d, 2.0)
        v = d.get("item_1", 2.0)
        assert set(gd) == set(d)
        assert (gd.get("item_1", 0.0), gx) == (pytest.approx(3 * v * v if d.get("item_1") else 0.0),
                                               pytest.approx(0.0 if d.get("item_1") else 12.0))
        hx = s2sgrad.grad(lambda x: s2sgrad.grad(f, 1)(d, x))(2.0)
        assert hx == pytest.approx(0.0 if "item_1" in d else 12.0)
        assert s2sgrad.jvp(s2sgrad.grad(f, 1), 1)(d, 2.0, 1.0)[1] == pytest.approx(hx)


def test_tuple_and_list_parameters_at_second_order():
    def f(p):
        a, b = p
        return np.sum(np.sin(a) * b ** 2)
    a, b = np.array([0.3, -0.2]), np.array([1.5, 0.5])
    for p in ((a, b), [a, b]):
        g = s2sgrad.grad(f)(p)
        assert type(g) is type(p)
        np.testing.assert_allclose(g[0], np.cos(a) * b ** 2)
        np.testing.assert_allclose(g[1], 2 * np.sin(a) * b)
        t = type(p)((np.ones(2), np.zeros(2)))
        value, tangent = s2sgrad.jvp(s2sgrad.grad(f))(p, t)
        assert type(value) is type(p) and type(tangent) is type(p)
        np.testing.assert_allclose(tangent[0], -np.sin(a) * b ** 2)
        np.testing.assert_allclose(tangent[1], 2 * np.cos(a) * b)
        hv = s2sgrad.hvp(f)(p, t)
        assert type(hv) is type(p)
        np.testing.assert_allclose(hv[0], tangent[0])
        np.testing.assert_allclose(hv[1], tangent[1])


def test_jacobian_of_stacked_scalar_functions_one_closing_over_x_in_an_inner_grad():
    rng = np.random.default_rng(1)
    scalar_funs = [lambda x: np.sum(x ** 3), lambda x: np.prod(np.sin(x) + np.sin(x)),
                   lambda x: s2sgrad.grad(lambda y: np.exp(y) * np.tanh(x[0]))(x[1])]
    vector_fun = lambda x: np.array([f(x) for f in scalar_funs])
    x = rng.normal(size=5)
    stacked = np.vstack([numeric_grad(f, (x,)) for f in scalar_funs])
    np.testing.assert_allclose(s2sgrad.jacobian(vector_fun)(x), stacked, rtol=1e-6, atol=1e-8)


def test_jacobians_of_jacobians_and_their_gradients():
    fun = lambda x: np.sin(np.outer(x, x)) + np.cos(np.dot(x, x))
    x = np.array([0.4, -1.1])
    J = s2sgrad.jacobian(fun)
    JJ = s2sgrad.jacobian(J)
    assert J(x).shape == (2, 2, 2) and JJ(x).shape == (2, 2, 2, 2)
    assert s2sgrad.jacobian(JJ)(x).shape == (2, 2, 2, 2, 2)
    np.testing.assert_allclose(JJ(x), np.stack([_fd_along(J, x, e) for e in np.eye(2)], -1),
                               rtol=1e-6, atol=1e-7)
    for f in (lambda x: np.sum(np.sin(J(x))), lambda x: np.sum(np.sin(JJ(x)))):
        expected = numeric_grad(f, (x,))
        np.testing.assert_allclose(s2sgrad.grad(f)(x), expected, rtol=1e-6, atol=1e-8)
        assert s2sgrad.jvp(f)(x, np.ones(2))[1] == pytest.approx(np.sum(expected), rel=1e-6)


def test_a_traced_function_may_build_arrays_from_traced_values():
    def f(x):
        return np.sum(np.array([v * v for v in x]) * np.asarray(x))      # sum x^3
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(s2sgrad.grad(f, fallback="always")(x), 3 * x ** 2)
    assert s2sgrad.jvp(f, fallback="always")(x, np.ones(2))[1] == pytest.approx(15.0)
