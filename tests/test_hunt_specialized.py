"""Silent wrong derivatives once found in code specialized to the arguments' signature (issue 14).

Each test runs on the general code and on specialized code (the ``code`` fixture):
``gradcheck.check_grad`` compares the gradient with central finite differences at several points
and, under specialized code, with the general code's (the same values, types and dtypes).
"""

import numpy as np
import pytest

import s2sgrad

from gradcheck import check_grad

pytestmark = [pytest.mark.usefixtures("code"),
              pytest.mark.filterwarnings("error::s2sgrad.FallbackWarning")]

rng = np.random.default_rng(5150)
POINTS = [rng.normal(size=3), rng.normal(size=(3, 2)), rng.normal(size=(1, 4)), rng.normal(size=1)]


# -- a list changed in place keeps no item of its literal (analysis/shapes.py) ----------------
# parts = [x[0]] said "a list of one scalar" for good: parts[-1] after parts.append(x) was read
# as that scalar, and d_y = np.sum(d * x, axis=0) summed away the axis of an array


def appended(x):
    parts = [x[0]]
    parts.append(x * 2.0)
    y = parts[-1]
    return np.sum(y * x)


def item_written(x):
    parts = [x[0], x[-1]]
    parts[0] = x * 3.0
    y = parts[0]
    return np.sum(y * x)


def popped(x):
    parts = [x[0], x]
    parts.pop(0)
    y = parts[0]
    return np.sum(y * x)


def grown_in_a_loop(x):
    parts = [x[0]]
    for i in range(2):
        parts.append(parts[-1] * x)
    return np.sum(parts[-1] * x)


def unpacked(x):
    parts = [x[0]]
    parts.append(x)
    a, b = parts
    return np.sum(b * x) + np.sum(a)


def iterated(x):
    parts = [x[0]]
    parts.append(x)
    s = 0.0
    for p in parts:
        s = s + p * x
    return np.sum(s)


def _append_to(ps, v):
    ps.append(v)
    return ps


def through_a_helper(x):
    parts = [x[0]]
    q = _append_to(parts, x * 2.0)
    return np.sum(q[-1] * x)


@pytest.mark.parametrize("fn", [appended, item_written, popped, grown_in_a_loop, unpacked,
                                iterated, through_a_helper])
@pytest.mark.parametrize("x", POINTS, ids=["n", "n,n", "1,n", "1"])
def test_a_list_changed_in_place(fn, x):
    check_grad(fn, x)


def test_a_list_changed_in_place_emitted():
    # the specialized source no longer sums the appended array's axis away
    src = s2sgrad.grad(appended, emit=True, example=(np.ones(3),))
    assert "axis=0" not in src


def two_layers(params, x):
    W1, b1, W2, b2 = params
    h = np.tanh(x @ W1 + b1)
    return np.mean((h @ W2 + b2) ** 2)


def test_a_list_only_read_keeps_its_items():
    # the backward sweep's own d_params[i] += ... changes no list of the user's: a list of
    # parameters still gives code specialized to its items' shapes
    params = [rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 1)), rng.normal(size=1)]
    x = rng.normal(size=(5, 3))
    check_grad(two_layers, params, x)
    src = s2sgrad.grad(two_layers, emit=True, example=(params, x))
    assert "matmul_vjp" not in src and "unbroadcast" not in src, src
