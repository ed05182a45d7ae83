"""Assignments, containers, indexing and in-place writes."""

import numpy as np
import pytest

from gradcheck import check_grad

rng = np.random.default_rng(3)


@pytest.mark.parametrize("x", [0.6, -1.3])
def test_augmented_assignment_and_unpacking(x):
    def f(x):
        a, (b, c) = x * 2.0, (x ** 2, np.sin(x))
        a += b
        b -= c * a
        c *= a
        a /= 1.0 + c ** 2
        a, b = b, a
        return a * b + c
    check_grad(f, x)


def test_lists_with_append_and_comprehensions_and_sum_of_generator():
    x = rng.normal(size=3)

    def f(x):
        parts = []
        for i in range(3):
            parts.append(x[i] * x)
        squares = [np.sum(p ** 2) for p in parts if p[0] > -10]
        total = sum(np.sum(np.sin(p)) for p in parts)
        return sum(squares) + total + np.sum(np.stack(parts))
    check_grad(f, x)


def test_tuple_and_dict_containers_inside():
    x = rng.normal(size=2)

    def f(x):
        pair = (x * 2.0, np.exp(x))
        table = {"a": pair[0], "b": pair[1] * x}
        first, second = pair
        return np.sum(table["a"] * table["b"]) + np.sum(first * second)
    check_grad(f, x)


def test_indexing_kinds():
    x = rng.normal(size=(4, 5))

    def f(x):
        a = x[1, 2] * x[-1, -1]
        b = np.sum(x[::2, 1:4:2] ** 2)
        c = np.sum(x[[0, 2, 2], :] * 3.0)
        d = np.sum(x[x > 0])
        e = np.sum(x[:, None, 0] * x[0])
        return a + b + c + d + e
    check_grad(f, x)


def test_in_place_writes_on_active_arrays():
    x = rng.normal(size=5)

    def f(x):
        y = np.zeros(5)
        for i in range(5):
            y[i] = x[i] ** 2 + np.sin(x[(i + 1) % 5])
        y[1:3] *= 2.0
        y[0] += y[-1]
        y[2] = y[3] * x[0]
        return np.sum(y * y)
    check_grad(f, x)


def test_in_place_write_on_argument_does_not_modify_it():
    x = rng.normal(size=4)
    saved = x.copy()

    def f(x):
        x[0] = x[1] * x[2]
        x[2:] *= 3.0
        return np.sum(x ** 2)
    check_grad(f, x)
    np.testing.assert_array_equal(x, saved)


def test_loop_writing_rows_of_a_matrix():
    x = rng.normal(size=3)

    def f(x):
        M = np.ones((3, 3))
        for i in range(3):
            M[i] = M[i] * x[i] + x
            M[i, i] = np.cos(x[i])
        return np.sum(M @ x)
    check_grad(f, x)


def test_mask_assignment_on_inactive_array_used_later():
    x = rng.normal(size=6)
    q = rng.normal(size=6)

    def f(x, q):
        q = q.copy()
        q[q < 0] = 0.0
        h = np.exp(np.sqrt(q) * 0.5)
        return np.sum(h * x ** 2)
    check_grad(f, x, q)
