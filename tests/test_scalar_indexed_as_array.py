"""A NumPy scalar indexed as an array: ``np.sum(x, axis=-1)[..., None]`` of a 1-D ``x``.

NumPy reads a float64's ``[..., None]`` as a 0-d array's (a 1-element array).  The adjoint
of that read is accumulated with ``_rt.add_at`` into the scalar's zero adjoint, a float,
which raised TypeError ('float' object is not subscriptable) in the backward sweep.
"""

import numpy as np
import pytest

import s2sgrad


def sum_kept(x):
    s = np.sum(x, axis=-1)[..., None]
    return np.sum(s * np.sin(x))


def _by_differences(f, x, h=1e-6):
    e = np.eye(x.size) * h
    return np.array([(f(x + e[i]) - f(x - e[i])) / (2 * h) for i in range(x.size)])


@pytest.mark.parametrize("x", [np.array([0.3, 0.7, 1.1]), np.array([-1.0, 2.0, 0.5])])
def test_grad_jvp_and_hessian(x):
    want = _by_differences(sum_kept, x)
    np.testing.assert_allclose(s2sgrad.grad(sum_kept)(x), want, rtol=1e-6, atol=1e-8)
    t = np.array([1.0, 0.5, -0.3])
    _, tangent = s2sgrad.jvp(sum_kept)(x, t)
    np.testing.assert_allclose(tangent, want @ t, rtol=1e-6, atol=1e-8)
    h = s2sgrad.hessian(sum_kept)(x)
    np.testing.assert_allclose(h, _by_differences(s2sgrad.grad(sum_kept), x), rtol=1e-5,
                               atol=1e-6)
