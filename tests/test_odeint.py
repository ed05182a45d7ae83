"""scipy.integrate.odeint differentiates through its adjoint (and its forward sensitivities)."""

import numpy as np
import pytest
from scipy.integrate import odeint

import s2sgrad
from gradcheck import assert_close, numeric_grad


def decay(y, t, k):
    return -k * y


def lotka_volterra(y, t, a, b):
    prey, pred = y[0], y[1]
    return np.array([a * prey - b * prey * pred, -pred + b * prey * pred])


@pytest.mark.parametrize("k", [0.3, 1.2])
def test_exponential_decay_against_the_closed_form(k):
    t = np.linspace(0.0, 2.0, 5)

    def loss(y0, k):
        ys = odeint(decay, y0, t, args=(k,), rtol=1e-10, atol=1e-12)
        return np.sum(ys[:, 0] ** 2)

    y0 = np.array([1.5])
    g_y0, g_k = s2sgrad.grad(loss, (0, 1))(y0, k)
    # ys = y0 exp(-k t): loss = y0^2 sum exp(-2kt)
    np.testing.assert_allclose(g_y0, 2 * y0 * np.sum(np.exp(-2 * k * t)), rtol=1e-6)
    np.testing.assert_allclose(g_k, np.sum(-2 * t * y0[0] ** 2 * np.exp(-2 * k * t)), rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1])
def test_nonlinear_system_against_finite_differences(seed):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.5, 4)
    target = rng.uniform(0.5, 1.5, size=(4, 2))

    def loss(y0, a, b):
        ys = odeint(lotka_volterra, y0, t, args=(a, b), rtol=1e-10, atol=1e-12)
        return np.sum((ys - target) ** 2)

    y0 = rng.uniform(0.5, 1.5, size=2)
    a, b = 1.1, 0.4
    g = s2sgrad.grad(loss, (0, 1, 2))(y0, a, b)
    for w, gw in zip((0, 1, 2), g):
        assert_close(gw, numeric_grad(loss, (y0, a, b), w, eps=1e-5), rtol=1e-5, atol=1e-7)
