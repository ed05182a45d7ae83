"""Central finite differences for the tests: gradients of any argument structure.

General and specialized code: ``check_grad`` asks ``s2sgrad.grad`` for the gradient with
whatever code ``s2sgrad.driver.specialize`` has in force.  Under ``"specialized"`` (the
``code`` fixture of ``conftest.py`` sets it) it also computes the gradient of the general code
and asserts that both agree to ``AGREE`` relative (``assert_agree``): the same derivatives, the
same structure, types and dtypes.
"""

import numpy as np

import s2sgrad
from s2sgrad.driver import specialize

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
                val = a if isinstance(leaf, np.ndarray) else float(a)     # (a 0-d array stays one)
                new_args = list(args)
                new_args[wrt] = _replace(x, path, val)
                g[idx] += sign * float(f(*new_args, **kwargs))
        g /= 2 * eps
        out = _replace(out, path, g if isinstance(leaf, np.ndarray) else float(g))
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


AGREE = 1e-12      # how closely specialized code must reproduce the general code's derivatives


def assert_agree(specialized, general, rtol=AGREE, what="gradient"):
    """The specialized code's derivative is the general code's: the same containers, the same
    types (a float for a float) and dtypes, the same shapes, values equal to ``rtol`` relative
    (to the largest magnitude of each leaf: entries that cancel to about zero may differ by
    rounding)."""
    if isinstance(general, dict):
        assert isinstance(specialized, dict) and set(specialized) == set(general), \
            f"{what}: specialized {specialized!r}, general {general!r}"
        for k in general:
            assert_agree(specialized[k], general[k], rtol, f"{what}[{k!r}]")
        return
    if isinstance(general, (list, tuple)):
        assert type(specialized) is type(general) and len(specialized) == len(general), \
            f"{what}: specialized {specialized!r}, general {general!r}"
        for i, (a, b) in enumerate(zip(specialized, general)):
            assert_agree(a, b, rtol, f"{what}[{i}]")
        return
    assert type(specialized) is type(general), \
        f"{what}: specialized code gives {type(specialized).__name__}, general code " \
        f"{type(general).__name__}"
    a, b = np.asarray(specialized), np.asarray(general)
    assert a.dtype == b.dtype, f"{what}: specialized code gives {a.dtype}, general code {b.dtype}"
    assert a.shape == b.shape, f"{what}: specialized code gives shape {a.shape}, general {b.shape}"
    if a.dtype.kind not in "fc":
        np.testing.assert_array_equal(a, b, err_msg=what)
        return
    scale = float(np.max(np.abs(b), initial=0.0)) if b.size else 0.0
    tol = rtol * (np.finfo(a.dtype).eps / np.finfo(np.float64).eps)    # float32 rounds sooner
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale + 1e-300,
                               err_msg=f"{what}: specialized and general code differ")


def general_too(compute):
    """When specialized code is in force, ``compute()`` again on the general code: the
    reference that ``assert_agree`` compares with (None otherwise)."""
    if specialize.current() != "specialized":
        return None
    with specialize.using("general"):
        return compute()


def check_grad(f, *args, wrt=0, rtol=1e-5, atol=1e-7, eps=None, **kwargs):
    """Assert that s2sgrad's gradient of ``f`` matches finite differences; return it.

    Under specialized code, also that it is the general code's gradient (``assert_agree``)."""
    g = s2sgrad.grad(f, wrt)(*args, **kwargs)
    if isinstance(wrt, tuple):
        for w, gw in zip(wrt, g):
            assert_close(gw, numeric_grad(f, args, w, kwargs, eps), rtol, atol)
    else:
        assert_close(g, numeric_grad(f, args, wrt, kwargs, eps), rtol, atol)
    general = general_too(lambda: s2sgrad.grad(f, wrt)(*args, **kwargs))
    if general is not None:
        assert_agree(g, general)
    return g
