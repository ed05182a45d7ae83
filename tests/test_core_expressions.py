"""Expressions: arithmetic, powers, numpy and math functions, builtins, broadcasting."""

import math

import numpy as np
import pytest

from gradcheck import check_grad

rng = np.random.default_rng(1)
POINTS = [0.3, 1.7, -0.8]


@pytest.mark.parametrize("x", POINTS)
def test_arithmetic_on_floats(x):
    def f(x):
        y = 3.0 * x - x / 2.0 + 1.0 / (x + 4.0) - (x - 1.0) * x
        return -y + x ** 3 + 2 ** x + (+x) * 0.5
    check_grad(f, x)


@pytest.mark.parametrize("x", [0.4, 1.3, 2.2])
def test_powers(x):
    def f(x):
        return x ** 2 + x ** 0.5 + x ** x + pow(x, 3) + math.pow(x, 1.5)
    check_grad(f, x)


@pytest.mark.parametrize("x", [0.4, 1.3])
def test_math_functions(x):
    def f(x):
        return (math.sin(x) * math.cos(x) + math.exp(-x) + math.log(x) + math.sqrt(x)
                + math.tanh(x) + math.atan(x) + math.log1p(x) + math.hypot(x, 2.0)
                + math.atan2(x, 1.5) + math.erf(x) + math.log(x, 2.0))
    check_grad(f, x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numpy_functions_on_arrays(seed):
    x = np.random.default_rng(seed).uniform(0.2, 1.5, size=5)

    def f(x):
        y = np.sin(x) * np.cos(x) + np.tan(x) * np.exp(-x) + np.log(x) + np.log1p(x)
        z = np.expm1(x) + np.sqrt(x) + np.tanh(x) + np.sinh(x) - np.cosh(x) + np.arctan(x)
        return np.sum(y * z) + np.mean(np.abs(x - 0.7)) + np.prod(x) + np.max(x) - np.min(x)
    check_grad(f, x)


@pytest.mark.parametrize("seed", [0, 1])
def test_builtins_on_scalars(seed):
    a, b = np.random.default_rng(seed).uniform(-2, 2, size=2)

    def f(a, b):
        return abs(a - 0.1) * max(a, b) + min(a * b, b) + pow(abs(b) + 1.0, 2.0) + sum([a, b, a * b])
    check_grad(f, float(a), float(b), wrt=(0, 1))


def test_broadcasting_sums_over_stretched_axes():
    x = rng.normal(size=(3, 1))
    y = rng.normal(size=(4,))

    def f(x, y):
        return np.sum((x * y + x - y / (2.0 + x ** 2)) ** 2)
    check_grad(f, x, y, wrt=(0, 1))


def test_reductions_with_axis_and_keepdims():
    x = rng.normal(size=(3, 4))

    def f(x):
        a = np.sum(x, axis=0)
        b = np.mean(x, axis=1, keepdims=True)
        c = np.max(x, axis=1)
        d = x.sum(axis=1) * x.min(axis=1)
        return np.sum(a ** 2) + np.sum(b * x) + np.sum(c) + np.sum(d) + np.prod(x[0])
    check_grad(f, x)


def test_contractions_and_shapes():
    A = rng.normal(size=(3, 4))
    v = rng.normal(size=4)

    def f(A, v):
        B = A @ v
        C = np.dot(A.T, B)
        D = np.outer(v, B).reshape(-1)
        E = np.matmul(A, A.T)
        F = A.dot(v) + np.transpose(A)[1]
        return np.sum(C * v) + np.sum(D ** 2) + np.sum(E) + np.sum(F ** 2)
    check_grad(f, A, v, wrt=(0, 1))


def test_where_maximum_minimum_clip_stack_concatenate():
    x = rng.normal(size=6)

    def f(x):
        a = np.where(x > 0, x ** 2, -x)
        b = np.maximum(x, 0.1) + np.minimum(x, -0.1)
        c = np.clip(x, -0.5, 0.5)
        d = np.stack([x, a], axis=0)
        e = np.concatenate([x, b, c])
        return np.sum(d * d) + np.sum(e ** 3) + np.sum(np.zeros_like(x) + np.ones(6) * x)
    check_grad(f, x)


@pytest.mark.parametrize("x", [0.5, -1.5])
def test_comparisons_in_conditions_and_nondifferentiable_parts(x):
    def f(x):
        k = np.floor(x * 3.0)
        s = np.sign(x)
        if x > 0 and x < 1:
            return x * k + s
        return x ** 2 * s + k
    check_grad(f, x)
