"""Operators nested inside differentiated functions, at order 2 and 3, in both modes
(issue 13): no perturbation confusion, vjp's backward differentiable, derivatives of
derivatives with the structure of their arguments."""

import warnings

import numpy as np
import pytest

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
