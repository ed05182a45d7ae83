"""Central finite differences for the tests: gradients of any argument structure."""

import numpy as np

import s2sgrad

EPS = 1e-6


def _leaves(x, path=()):
    """``(path, value)`` for every float / array leaf of a nested container."""
    if isinstance(x, dict):
        for k in x:
            yield from _leaves(x[k], path + (k,))
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _leaves(v, path + (i,))
    else:
        yield path, x


def _get(x, path):
    for p in path:
        x = x[p]
    return x


def _replace(x, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(x, dict):
        out = dict(x)
        out[head] = _replace(x[head], rest, value)
        return out
    items = list(x)
    items[head] = _replace(x[head], rest, value)
    return tuple(items) if isinstance(x, tuple) else items


def numeric_grad(f, args, wrt=0, kwargs=None, eps=None):
    """Central finite-difference gradient of scalar ``f`` with respect to ``args[wrt]``."""
    kwargs = kwargs or {}
    eps = eps or EPS
    x = args[wrt]
    out = x
    for path, leaf in _leaves(x):
        arr = np.array(leaf, dtype=float)
        g = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            for sign in (1, -1):
                a = arr.copy()
                a[idx] += sign * eps
                val = a if arr.shape else float(a)
                new_args = list(args)
                new_args[wrt] = _replace(x, path, val)
                g[idx] += sign * float(f(*new_args, **kwargs))
        g /= 2 * eps
        out = _replace(out, path, g if arr.shape else float(g))
    return out


def assert_close(actual, expected, rtol=1e-5, atol=1e-7):
    """Compare nested gradients leaf by leaf, checking structure and types too."""
    assert type(actual) is type(expected) or (
        isinstance(expected, np.ndarray) and isinstance(actual, np.ndarray)), \
        f"gradient type {type(actual).__name__} != argument type {type(expected).__name__}"
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for k in expected:
            assert_close(actual[k], expected[k], rtol, atol)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol, atol)
    else:
        assert np.shape(actual) == np.shape(expected), (np.shape(actual), np.shape(expected))
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def check_grad(f, *args, wrt=0, rtol=1e-5, atol=1e-7, eps=None, **kwargs):
    """Assert that s2sgrad's gradient of ``f`` matches finite differences; return it."""
    g = s2sgrad.grad(f, wrt)(*args, **kwargs)
    if isinstance(wrt, tuple):
        for w, gw in zip(wrt, g):
            assert_close(gw, numeric_grad(f, args, w, kwargs, eps), rtol, atol)
    else:
        assert_close(g, numeric_grad(f, args, wrt, kwargs, eps), rtol, atol)
    return g
