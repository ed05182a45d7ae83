"""A helper that writes into its argument through another name (``y = x``, a slice of it, its
transpose, a row) changes the caller's array as a direct write does: the caller's derivative
sees it (``analysis.effects._parameter_views``).  Found by random programs (seed 71, mode all):
the gradient of what the caller read after the call missed the write."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad

pytestmark = pytest.mark.usefixtures("code")


def through_a_name(x):
    z = np.sin(x)
    y = x
    y[0] += z[1]
    return np.sum(y * z)


def through_a_slice(x):
    tail = x[1:]
    tail *= 1.5
    return np.sum(x ** 2)


def through_a_row(m):
    row = m[0]
    row[1:] = row[1:] * np.cos(row[:1])
    return np.sum(m)


def through_a_transpose(m):
    t = m.T
    t[0] = t[0] * 2.0
    return np.sum(m * m)


def through_a_copy(x):
    y = x[[0, 1]]                       # a copy (a list index): the caller's array unchanged
    y[0] = y[0] * 3.0
    return np.sum(y)


def reads_after(x, p):
    v = x * p
    a = through_a_name(v)               # writes into v
    return a + 0.1 * np.sum(v ** 2)


def reads_after_slice(x, p):
    v = x * p
    a = through_a_slice(v)
    return a + np.sum(np.tanh(v))


def reads_after_row(x, p):
    m = np.outer(x, x) * p
    a = through_a_row(m)
    return a + np.sum(m ** 2)


def reads_after_transpose(x, p):
    m = np.outer(x, x) * p
    a = through_a_transpose(m)
    return a + np.sum(np.sin(m))


def reads_after_copy(x, p):
    v = x * p
    a = through_a_copy(v)
    return a + np.sum(v ** 2)


@pytest.mark.parametrize("f", [reads_after, reads_after_slice, reads_after_row,
                               reads_after_copy])
@pytest.mark.parametrize("x", [np.array([0.3, -0.2, 0.5]), np.array([1.1, 0.4, -0.7])])
def test_a_helpers_write_through_another_name_reaches_the_caller(f, x):
    p = 1.3
    x0 = x.copy()
    assert f(x, p) == pytest.approx(f(x0, p))           # the caller's x itself is not written
    check_grad(f, x, p)
    check_grad(f, x, p, wrt=1)
    np.testing.assert_array_equal(x, x0)                 # nor by its gradient


def test_a_write_through_a_transpose_is_refused_at_its_line():
    # (traced: the tracer refuses a write through a view it cannot follow, loudly)
    x = np.array([0.3, -0.2, 0.5])
    with pytest.raises(s2sgrad.S2SGradError) as info:
        s2sgrad.grad(reads_after_transpose)(x, 1.3)
    line = through_a_transpose.__code__.co_firstlineno + 2
    assert str(info.value).startswith(f"{__file__}:{line}: ") or f"test_helper_aliases.py:{line}" \
        in str(info.value)
