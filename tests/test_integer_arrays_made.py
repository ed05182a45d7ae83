"""An array NumPy makes with an integer dtype given by position (np.zeros(3, int)), or from
integers written out (np.array([0, 0, 0]), np.arange(3)), carries no derivative, and neither
does a value written into it (truncated): as for dtype= (test_hunt_objects).  The generated
code gave y[0] = x[0] * 10 a derivative (grad and jvp, general and specialized code)."""

import numpy as np
import pytest

import s2sgrad
from s2sgrad.errors import UnsupportedArgumentError

X = np.array([0.33, 1.71, 2.23])


def zeros_int_by_position(x):
    y = np.zeros(3, int)
    y[0] = x[0] * 10
    return np.sum(y * x)


def empty_int64_by_position(x):
    y = np.empty(3, np.int64)
    y[:] = 1
    y[2] = x[2] * 3
    return np.sum(y * x)


def array_of_int_literals(x):
    y = np.array([0, 0, 0])
    y[0] = x[0] * 10
    return np.sum(y * x)


def arange_of_an_int(x):
    y = np.arange(3)
    y[0] = x[0] * 10
    return np.sum(y * x)


# the constant y each makes, with the write truncated: d/dx sum(y * x) is y
EXPECTED = {
    zeros_int_by_position: [3.0, 0.0, 0.0],
    empty_int64_by_position: [1.0, 1.0, 6.0],
    array_of_int_literals: [3.0, 0.0, 0.0],
    arange_of_an_int: [3.0, 1.0, 2.0],
}


@pytest.mark.parametrize("f", list(EXPECTED))
def test_a_write_into_an_integer_array_made_without_dtype_keyword_has_no_derivative(f):
    y = np.array(EXPECTED[f])
    g = s2sgrad.grad(f)
    np.testing.assert_allclose(g(X.copy()), y, rtol=1e-12)     # general code
    np.testing.assert_allclose(g(X.copy()), y, rtol=1e-12)     # specialized code
    j = s2sgrad.jvp(f)
    v = np.array([0.5, -1.0, 2.0])
    for _ in range(2):
        value, t = j(X.copy(), v)
        assert value == pytest.approx(f(X.copy()))
        assert t == pytest.approx(np.dot(y, v), rel=1e-12)


def float_literals(x):
    y = np.array([0, 0, 0.0])
    y[0] = x[0] * 10
    return np.sum(y * x)


def test_an_array_of_float_literals_still_carries_the_derivative_written_into_it():
    # y[0] = 10 x0: d/dx0 (10 x0 * x0) = 20 x0
    want = np.array([20 * X[0], 0.0, 0.0])
    g = s2sgrad.grad(float_literals)
    np.testing.assert_allclose(g(X.copy()), want, rtol=1e-12)
    np.testing.assert_allclose(g(X.copy()), want, rtol=1e-12)


def _sums_in_integers_by_position(x):
    return np.sum(x * 2.7, None, int) * 1.0 + np.sum(x)


def test_a_reduction_with_an_integer_dtype_by_position_is_refused():
    # np.sum(x, None, int) was differentiated as a float sum: [3.7, 3.7] for [1, 1]
    x = np.array([0.3, 1.7])
    with pytest.raises(UnsupportedArgumentError, match="an integer dtype="):
        s2sgrad.grad(_sums_in_integers_by_position)(x)
