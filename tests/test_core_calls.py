"""User functions: calls across modules, keywords and defaults, recursion, closures, methods."""

import math

import numpy as np
import pytest

import helper_module
import s2sgrad
from helper_module import norm2
from gradcheck import check_grad

rng = np.random.default_rng(4)


def cube_plus(x, c=1.0):
    return x ** 3 + c * x


def two_outputs(a, b):
    return a * b, a + b


def test_calls_to_functions_in_this_and_another_module():
    x = rng.normal(size=3)

    def f(x):
        y = cube_plus(x) + cube_plus(x, 2.0) + cube_plus(x, c=0.5)
        z = helper_module.scaled_softplus(x, scale=3.0, shift=1.0) + helper_module.scaled_softplus(x)
        p, s = two_outputs(x, y)
        return norm2(y * z) + np.sum(p) + norm2(s)
    check_grad(f, x)


def power_tower(x, n):
    if n == 0:
        return x
    return np.sin(power_tower(x, n - 1)) * x


def is_even_weight(x, n):
    if n == 0:
        return x
    return 1.5 * is_odd_weight(x * 0.9, n - 1)


def is_odd_weight(x, n):
    if n == 0:
        return x * x
    return np.cos(is_even_weight(x, n - 1)) + x


@pytest.mark.parametrize("n", [0, 1, 5])
def test_direct_recursion_with_data_dependent_depth(n):
    check_grad(power_tower, 0.7, n)


@pytest.mark.parametrize("x", [0.3, 2.4])
def test_recursion_with_depth_from_data(x):
    def halve_until_small(x, y):
        if y < 0.2:
            return x * y
        return halve_until_small(x, y * 0.5) + np.sin(x * y)

    def f(x):
        return halve_until_small(x, x * 3.0)
    check_grad(f, x)


@pytest.mark.parametrize("n", [1, 4])
def test_mutual_recursion(n):
    check_grad(is_even_weight, 0.8, n)


def test_nested_function_reading_outer_variables_and_lambdas():
    x = rng.normal(size=3)

    def f(x):
        scale = np.exp(x)

        def g(v):
            return v * scale + x

        h = lambda v: np.sum(v ** 2) * scale[0]
        return h(g(x)) + np.sum(g(x * 2.0))
    check_grad(f, x)


def make_model(weights, bias):
    def model(x):
        return np.tanh(x @ weights + bias)
    return model


def test_function_returned_by_a_factory():
    W = rng.normal(size=(3, 2))
    b = rng.normal(size=2)
    model = make_model(W, b)
    x = rng.normal(size=3)

    def f(x):
        return np.sum(model(x) ** 2)
    check_grad(f, x)
    check_grad(lambda x: np.sum(model(x)), x)


class Layer:
    def __init__(self, W):
        self.W = W
        self.scale = 0.5

    def forward(self, x):
        return np.tanh(x @ self.W) * self.scale

    def __call__(self, x):
        return self.forward(x) + x @ self.W

    def loss(self, x):
        return np.sum(self(x) ** 2) + np.sum(self.forward(x))


layer = Layer(rng.normal(size=(3, 3)))


def test_methods_call_and_attributes():
    x = rng.normal(size=3)

    def f(x):
        return np.sum(layer.forward(x)) + np.sum(layer(x) ** 2)
    check_grad(f, x)
    check_grad(layer.loss, x)


def test_arguments_that_are_not_differentiated_pass_through():
    x = rng.normal(size=4)
    data = rng.normal(size=4)

    def f(x, data, n, name, flag):
        y = x * data
        for i in range(n):
            y = y + data * i
        if flag and name == "sq":
            y = y ** 2
        return np.sum(y)
    check_grad(f, x, data, 3, "sq", True)
    check_grad(f, x, data, 2, "lin", False)


@pytest.mark.parametrize("x", [0.5, 1.5])
def test_math_module_user_function(x):
    def gauss(x, mu=0.3, sigma=1.2):
        return math.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))

    def f(x):
        return gauss(x) + gauss(x, sigma=0.5)
    check_grad(f, x)


class Regressor:
    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.name = "reg"

    def predict(self, x):
        return np.tanh(x @ self.W + self.b)


def regression_loss(model, x, y):
    return np.sum((model.predict(x) - y) ** 2) + 0.1 * np.sum(model.W ** 2)


def test_differentiating_with_respect_to_an_object_gives_its_gradient_in_its_attributes():
    model = Regressor(rng.normal(size=(3, 2)), rng.normal(size=2))
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    g = s2sgrad.grad(regression_loss)(model, x, y)
    assert isinstance(g, Regressor) and g.name == "reg" and g is not model

    def by_parts(W, b):
        return regression_loss(Regressor(W, b), x, y)
    from gradcheck import numeric_grad
    np.testing.assert_allclose(g.W, numeric_grad(by_parts, (model.W, model.b), 0), rtol=1e-6)
    np.testing.assert_allclose(g.b, numeric_grad(by_parts, (model.W, model.b), 1), rtol=1e-6)


def test_local_function_called_without_derivatives_runs_its_plain_copy():
    def f(x):
        def double(n):
            return n * 2

        def note(v):
            return None

        k = double(3)
        note(k)
        return x * k + double(x)
    check_grad(f, 1.5)
    check_grad(f, -0.4)
