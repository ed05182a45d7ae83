"""The compiler's model of memory and names (issue 12, items 1-4 and the false alarms).

Each pattern is checked against central finite differences at several points, in
reverse mode (grad, vjp), forward mode (jvp) and the Jacobian; ``fallback="never"``
makes sure the source transform (not the tracer) gave the answer.  Where the
transform refuses, the test checks the error names the user's file and line.
"""

import numpy as np
import pytest

import s2sgrad

EPS = 1e-6


def numeric(f, x):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = EPS
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * EPS)
    return g


def check_every_mode(f, points, seed=0):
    """grad, jvp, vjp and jacobian of scalar ``f`` against finite differences; inputs unchanged."""
    rng = np.random.RandomState(seed)
    for x in points:
        x = np.asarray(x, dtype=float)
        kept = x.copy()
        want = numeric(f, x.copy())
        np.testing.assert_allclose(s2sgrad.grad(f, fallback="never")(x), want, atol=1e-6)
        t = rng.randn(*x.shape)
        value, tangent = s2sgrad.jvp(f, fallback="never")(x, t)
        np.testing.assert_allclose(value, f(x.copy()), atol=1e-12)
        np.testing.assert_allclose(tangent, want @ t, atol=1e-6)
        value, backward = s2sgrad.vjp(f)(x)
        np.testing.assert_allclose(backward(1.5), 1.5 * want, atol=1e-6)
        np.testing.assert_allclose(s2sgrad.jacobian(f)(x), want, atol=1e-6)
        np.testing.assert_array_equal(x, kept)     # the caller's array is never written


# -- 1. a write whose index reads the array it writes -----------------------------------

def relu_by_mask(x):
    y = x.copy()
    y[y < 0] = 0.0
    return np.sum(y * x)


def clip_by_mask(x):
    y = x.copy()
    y[y > 1] = 1
    return np.sum(y * x)


def zero_the_largest(x):
    y = x.copy()
    y[np.argmax(y)] = 0
    return np.sum(y * x)


def masks_in_a_loop(x):
    y = x * 1.0
    for k in range(3):
        y[y > 0.5] = y[y > 0.5] * 0.5
        y[np.argmin(y)] = y[np.argmin(y)] * 2.0
    return np.sum(y * x)


def augmented_mask_in_a_loop(x):
    y = x * 1.0
    for k in range(3):
        y[y > 0.5] *= 0.5
    return np.sum(y * x)


POINTS = [[0.3, -0.5, 1.2, -0.1], [1.7, 0.2, -0.3, 0.9], [-0.4, 2.1, 0.6, 1.3]]


def test_relu_by_mask_issue_values():
    g = s2sgrad.grad(relu_by_mask, fallback="never")(np.array([0.3, -0.5, 1.2, -0.1]))
    np.testing.assert_allclose(g, [0.6, 0.0, 2.4, 0.0])


@pytest.mark.parametrize("f", [relu_by_mask, clip_by_mask, zero_the_largest, masks_in_a_loop,
                               augmented_mask_in_a_loop])
def test_index_reading_the_written_array(f):
    check_every_mode(f, POINTS)


def test_mask_is_computed_once_before_the_write():
    src = s2sgrad.grad(relu_by_mask, emit=True)
    assert "y_where = y < 0" in src
    body = [ln.strip() for ln in src.splitlines() if not ln.strip().startswith("#")]
    assert not any("y < 0" in ln and ln != "y_where = y < 0" for ln in body)


# -- 4. repeated fancy indices -------------------------------------------------------------

def last_write_wins(x):
    y = np.zeros(3)
    y[[0, 0, 1]] = x[:3]
    return np.sum(y * np.array([1.0, 2.0, 3.0]))


def buffered_add(x):
    y = np.ones(3)
    y[[0, 0]] += x[:2]
    return np.sum(y * y)


def repeated_index_from_an_array(x):
    idx = np.array([2, 0, 2, 1, 2])
    y = x * 1.0
    y[idx] = np.sin(x[:5]) * y[idx]
    return np.sum(y ** 2)


def test_last_write_wins_issue_values():
    x = np.array([0.3, -0.5, 0.7])
    np.testing.assert_allclose(s2sgrad.grad(last_write_wins, fallback="never")(x), [0, 1, 2])
    np.testing.assert_allclose(s2sgrad.grad(buffered_add, fallback="never")(x),
                               [0, 2 * (1 + x[1]), 0])


@pytest.mark.parametrize("f", [last_write_wins, buffered_add])
def test_repeated_indices(f):
    check_every_mode(f, [[0.3, -0.5, 0.7], [1.1, 0.4, -2.0]])


def test_repeated_indices_known_only_at_run_time():
    check_every_mode(repeated_index_from_an_array, [[0.3, -0.5, 0.7, 1.2, -0.8],
                                                    [1.1, 0.4, -2.0, 0.1, 0.6]])


def test_repeated_indices_second_order():
    def f(x):
        y = np.zeros(3)
        y[[0, 0, 1]] = x[:3] ** 2
        return np.sum(y * np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(s2sgrad.hessian(f)(np.array([0.3, -0.5, 0.7])),
                               np.diag([0.0, 2.0, 4.0]))
