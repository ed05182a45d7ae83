"""Second derivatives through generated code that the tracer runs (forward over reverse).

When a gradient calls something traced at run time (here a method that stores a value on
``self``), ``hvp`` traces the generated gradient itself.  Its backward sweep makes adjoints
with ``_rt.zeros_like`` and accumulates into them in place (``d_lst[0] += ...``): under the
outer trace those adjoints carry tangents, so the arrays they are written into must be ones
the tracer can write into.  They were plain arrays, and the write was refused
(TracedConversionError) where it should have worked.
"""

import warnings

import numpy as np
import pytest

import s2sgrad


class Store:
    def __init__(self, w):
        self.w = w

    def fill(self, v):
        self.out = np.tanh(self.w * v)      # stored on self: traced at run time
        return self.out


def through_list(x):
    y = x.copy()
    z = np.sin(x)
    s = np.sum(x) * 0.1
    z = Store(0.53).fill(y) + z
    lst = [y, z]
    s = s + np.sum(lst[0] * lst[1]) * 0.2
    return np.sum(y * z) + s * s + np.sum(np.sin(z))


def through_dict(x):
    z = Store(1.3).fill(x)
    d = {"a": x * z, "b": np.cos(z)}
    return np.sum(d["a"] * d["b"]) + np.sum(d["a"]) ** 2


def through_tuple(x):
    z = Store(0.7).fill(x)
    pair = (z * x, z + x)
    return np.sum(pair[0] * pair[1] * x)


def _hvp_by_differences(f, x, v, h=1e-5):
    grad = s2sgrad.grad(f)
    return (grad(x + h * v) - grad(x - h * v)) / (2 * h)


@pytest.mark.parametrize("f", [through_list, through_dict, through_tuple])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hvp_through_traced_generated_code(f, seed):
    rng = np.random.default_rng(seed)
    x, v = rng.normal(size=4), rng.normal(size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        got = s2sgrad.hvp(f)(x, v)
        want = _hvp_by_differences(f, x, v)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f", [through_list, through_dict])
def test_hessian_through_traced_generated_code(f):
    x = np.array([0.3, -0.7, 1.1, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        h = s2sgrad.hessian(f)(x)
        columns = [_hvp_by_differences(f, x, e) for e in np.eye(4)]
    np.testing.assert_allclose(h, np.stack(columns, axis=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-8, atol=1e-10)
