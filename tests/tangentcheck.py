"""Central finite differences along a direction: checks for forward mode and derivative towers.

Under specialized code (``s2sgrad.driver.specialize``), ``check_jvp`` also asserts that the
value and the tangent are the general code's (``gradcheck.assert_agree``)."""

import copy

import numpy as np

import s2sgrad
from gradcheck import assert_agree, assert_close, general_too

EPS = 1e-6


def axpy(x, t, h):
    """``x + h * t`` through dicts, lists and tuples (floats stay floats)."""
    if isinstance(x, dict):
        return {k: axpy(x[k], t[k], h) for k in x}
    if isinstance(x, (list, tuple)):
        items = [axpy(a, b, h) for a, b in zip(x, t)]
        return tuple(items) if isinstance(x, tuple) else items
    if isinstance(x, float):
        return float(x + h * t)
    return x + h * np.asarray(t)


def combine(a, b, scale):
    """``(a - b) * scale`` through containers of the output."""
    if isinstance(a, dict):
        return {k: combine(a[k], b[k], scale) for k in a}
    if isinstance(a, (list, tuple)):
        items = [combine(u, v, scale) for u, v in zip(a, b)]
        return tuple(items) if isinstance(a, tuple) else items
    out = (np.asarray(a, dtype=np.result_type(a, float)) - b) * scale
    return float(out) if isinstance(a, float) else out


def random_like(x, rng):
    if isinstance(x, dict):
        return {k: random_like(v, rng) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [random_like(v, rng) for v in x]
        return tuple(items) if isinstance(x, tuple) else items
    if isinstance(x, float):
        return float(rng.normal())
    return rng.normal(size=np.shape(x))


def numeric_jvp(f, args, wrt, tangents, kwargs=None):
    """Directional derivative of ``f`` along ``tangents`` (one per position in ``wrt``)."""
    kwargs = kwargs or {}
    plus, minus = list(args), list(args)
    for w, t in zip(wrt, tangents):
        plus[w] = axpy(args[w], t, EPS)
        minus[w] = axpy(args[w], t, -EPS)
    return combine(f(*plus, **kwargs), f(*minus, **kwargs), 1 / (2 * EPS))


def check_jvp(f, *args, wrt=0, seed=0, rtol=1e-5, atol=1e-7, **kwargs):
    """Assert that ``s2sgrad.jvp`` matches finite differences along a random direction."""
    rng = np.random.default_rng(seed)
    wrt_t = wrt if isinstance(wrt, tuple) else (wrt,)
    tangents = tuple(random_like(args[w], rng) for w in wrt_t)
    value, tangent = s2sgrad.jvp(f, wrt)(*args, tangents if isinstance(wrt, tuple)
                                          else tangents[0], **kwargs)
    expected = numeric_jvp(f, args, wrt_t, tangents, kwargs)
    assert_close(value, f(*copy.deepcopy(args), **kwargs), rtol=1e-12, atol=1e-12)
    assert_close(tangent, expected, rtol, atol)
    general = general_too(lambda: s2sgrad.jvp(f, wrt)(*args, tangents if isinstance(wrt, tuple)
                                                      else tangents[0], **kwargs))
    if general is not None:         # specialized code in force: the general code's tangent
        assert_agree(value, general[0], what="value")
        assert_agree(tangent, general[1], what="tangent")
    return tangent
