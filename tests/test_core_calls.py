"""User functions: calls across modules, keywords and defaults, recursion, closures, methods.

The programs and their inputs are ``constructs.CALLS``; ``test_forward.py`` checks them in forward mode.
"""

import numpy as np
import pytest

import constructs
import s2sgrad
from gradcheck import check_grad, numeric_grad

rng = np.random.default_rng(4)


@pytest.mark.parametrize("name, point", constructs.params(constructs.CALLS))
def test_calls(name, point, code):
    constructs.run(check_grad, name, point)


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
    np.testing.assert_allclose(g.W, numeric_grad(by_parts, (model.W, model.b), 0), rtol=1e-6)
    np.testing.assert_allclose(g.b, numeric_grad(by_parts, (model.W, model.b), 1), rtol=1e-6)
