"""A list or dict changed by a method called through an item or an attribute.

``hist["a"].append(v)``, ``lists[0].append(v)``, ``state[0].append(v)`` of a tuple holding a
list, ``obj.items.append(v)``, and ``list.append(parts, v)``: the transform follows a container's changes by the name that
is changed, so what such a call added was lost, a silently wrong gradient (half of it in the
programs below).  They are refused at the user's line, and traced under fallback="auto".
A list built under a name of its own and then put in the container stays transformed.
"""

import warnings

import numpy as np
import pytest

import s2sgrad
from s2sgrad.errors import UnsupportedError


def through_dict_item(x):
    hist = {"a": []}
    hist["a"].append(x * 2.0)
    return np.sum(hist["a"][0] * x)


def through_list_item(x):
    hist = [[x[0]]]
    hist[0].append(np.sin(x) * 2.0)
    return np.sum(hist[0][-1] * x)


def through_tuple_holding_a_name(x):
    parts = [x[0]]
    state = (parts, 1.0)
    state[0].append(x * 2.0)
    return np.sum(parts[-1] * x) + state[1]


def through_dict_holding_a_name(x):
    parts = [x[0]]
    state = {"p": parts}
    state["p"].extend([x ** 2, x * 3.0])
    return np.sum(parts[-1] * parts[-2])


class Holder:
    def __init__(self, items):
        self.items = items


def through_attribute(x):
    parts = [x * 1.0]
    h = Holder(parts)
    h.items.append(np.cos(x))
    return np.sum(parts[-1] * x) + np.sum(parts[0])


def through_the_type(x):
    parts = [x[0]]
    list.append(parts, x * 2.0)
    return np.sum(parts[-1] * x)


def through_the_dict_type(x):
    d = {"a": x[0]}
    dict.update(d, {"a": np.sin(x)})
    return np.sum(d["a"] * x)


REFUSED = [through_dict_item, through_list_item, through_tuple_holding_a_name,
           through_dict_holding_a_name, through_attribute, through_the_type,
           through_the_dict_type]


def _by_differences(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("f", REFUSED)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_traced_and_right(f, seed):
    x = np.random.default_rng(seed).uniform(0.2, 1.5, size=3)
    t = np.random.default_rng(seed + 10).normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        g = s2sgrad.grad(f)(x)
        _, tangent = s2sgrad.jvp(f)(x, t)
        h = s2sgrad.hessian(f)(x)
    want = _by_differences(f, x)
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tangent, want @ t, rtol=1e-6, atol=1e-7)
    columns = [_by_differences(lambda y: s2sgrad.grad(f)(y)[i], x) for i in range(3)]
    np.testing.assert_allclose(h, np.array(columns), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f", REFUSED)
def test_refused_at_the_line(f):
    x = np.array([0.3, 0.7, 1.1])
    with pytest.raises(UnsupportedError, match=r"test_container_item_methods\.py:\d+: `("
                       r"(append|extend)` changing the list or dict .*reached through an item or "
                       r"an attribute|(list|dict)\.(append|update)` called on)"):
        s2sgrad.grad(f, fallback="never")(x)


def built_under_its_own_name(x):
    a = []
    a.append(x * 2.0)
    hist = {"a": a}
    return np.sum(hist["a"][0] * x)


def test_a_list_built_under_its_own_name_is_transformed():
    # (what the refusal advises)
    x = np.array([0.3, 0.7, 1.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)
        g = s2sgrad.grad(built_under_its_own_name, fallback="never")(x)
    np.testing.assert_allclose(g, 4.0 * x)
