"""Control flow: branches (both sides), early returns, loops of every kind, break/continue."""

import numpy as np
import pytest

from gradcheck import check_grad

rng = np.random.default_rng(2)


@pytest.mark.parametrize("x", [-2.0, -0.5, 0.5, 2.0])
def test_if_elif_else_both_sides(x):
    def f(x):
        if x < -1.0:
            y = x ** 3
        elif x < 0.0:
            y = np.sin(x) * 2.0
        elif x < 1.0:
            y = x * x
        else:
            y = np.exp(-x)
        return y * x
    check_grad(f, x)


@pytest.mark.parametrize("x", [-1.2, 0.7])
def test_conditional_expression_and_boolean_conditions(x):
    def f(x):
        y = x ** 2 if x > 0 else -x * 3.0
        z = np.cos(x) if (x > 0 and y < 10) or x < -5 else np.sin(x)
        w = y if not x > 0 else z
        return y * z + w
    check_grad(f, x)


@pytest.mark.parametrize("x", [-1.0, 0.4, 3.0])
def test_early_returns_anywhere(x):
    def f(x):
        if x < 0:
            return x ** 2
        y = x * 3.0
        for i in range(5):
            y = y * 0.9 + np.sin(y)
            if y > 4.0:
                return y * x
        return y - x
    check_grad(f, x)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_for_range_with_overwritten_variables(n):
    x = rng.normal(size=3)

    def f(x, n):
        y = x
        for i in range(n):
            t = np.tanh(y) * x
            y = t + 0.1 * y * i
        return np.sum(y ** 2)
    check_grad(f, x, n)


def test_for_over_rows_lists_enumerate_zip():
    X = rng.normal(size=(4, 3))
    w = rng.normal(size=3)

    def f(X, w):
        s = 0.0
        for row in X:
            s = s + np.dot(row, w) ** 2
        for k, row in enumerate(X):
            s = s + k * np.sum(row * w)
        for a, b in zip(X, [w, 2 * w, 3 * w]):
            s = s + np.sum(a * b)
        ws = [w, w * w]
        for v in ws:
            s = s + np.sum(np.sin(v))
        return s
    check_grad(f, X, w, wrt=(0, 1))


@pytest.mark.parametrize("x", [0.3, 2.5, 9.0])
def test_while_with_data_dependent_trip_count(x):
    def f(x):
        y = x
        steps = 0
        while y > 0.1 and steps < 50:
            y = y * 0.7 + 0.01 * x
            steps += 1
        return y * x
    check_grad(f, x)


@pytest.mark.parametrize("x", [0.2, 1.1, 3.0])
def test_break_and_continue(x):
    def f(x):
        total = 0.0
        for i in range(10):
            if i % 3 == 1:
                continue
            total = total + np.sin(x * i)
            if total > x:
                break
            total = total * 1.1
        return total
    check_grad(f, x)


def test_nested_loops_and_loop_local_temporaries():
    x = rng.normal(size=4)

    def f(x):
        acc = np.zeros(4)
        for i in range(3):
            for j in range(2):
                t = np.cos(x * (i + j))
                acc = acc + t * x
            u = acc * 0.5
            acc = acc + u ** 2
        return np.sum(acc)
    check_grad(f, x)


@pytest.mark.parametrize("x", [0.3, 1.9])
def test_while_in_for_with_break(x):
    def f(x):
        y = x
        for k in range(3):
            n = 0
            while n < k + 2:
                y = np.sin(y) + 0.5 * x
                n = n + 1
                if y > 1.3:
                    break
            y = y * 1.01
        return y
    check_grad(f, x)


def test_conditionally_assigned_variable_saved_in_loop():
    x = rng.uniform(0.5, 1.5, size=3)

    def f(x):
        s = 0.0
        for i in range(4):
            if i % 2 == 0:
                t = x * i
            else:
                t = np.exp(-x)
            s = s + np.sum(t * x)
        return s
    check_grad(f, x)
