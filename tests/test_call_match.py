"""The call path gives each gradient the structure and types of its argument
(``driver.calls.match``): a tuple for a tuple, a list for a list, a namedtuple for a
namedtuple, each array writeable and of its argument's shape and dtype, a float for a
float, zeros for an item the output does not depend on."""

import collections

import numpy as np
import pytest

import s2sgrad

Pair = collections.namedtuple("Pair", "w b")


def loss(params, x):
    w, b, scale = params[0], params[1], params[2]
    return np.sum(np.tanh(x @ w + b) ** 2) * scale


def ignores_bias(params, x):
    return np.sum((x @ params[0]) ** 2)


def pair_loss(p, x):
    return np.sum(np.tanh(x @ p.w + p.b) ** 2)


@pytest.mark.parametrize("kind", [tuple, list])
def test_a_tuple_or_a_list_gets_its_own_kind(kind):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3))
    params = kind([rng.standard_normal((3, 2)), rng.standard_normal(2), 1.5])
    g = s2sgrad.grad(loss)
    for _ in range(3):         # the first call builds, the next ones run the compiled runner
        d = g(params, x)
        assert type(d) is kind and len(d) == 3
        assert type(d[2]) is float
        for di, p in zip(d[:2], params[:2]):
            assert type(di) is np.ndarray and di.shape == p.shape and di.dtype == p.dtype
            assert di.flags.writeable
        h = x @ params[0] + params[1]
        common = 2 * np.tanh(h) * (1 - np.tanh(h) ** 2) * params[2]
        np.testing.assert_allclose(d[0], x.T @ common, rtol=1e-12)
        np.testing.assert_allclose(d[1], common.sum(axis=0), rtol=1e-12)
        np.testing.assert_allclose(d[2], np.sum(np.tanh(h) ** 2), rtol=1e-12)


def test_an_item_the_output_does_not_read_gets_zeros():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3))
    params = (rng.standard_normal((3, 2)), rng.standard_normal(2).astype(np.float32))
    g = s2sgrad.grad(ignores_bias)
    for _ in range(2):
        d = g(params, x)
        assert type(d) is tuple
        assert d[1].dtype == np.float32 and d[1].shape == (2,) and not d[1].any()
        d[1][0] = 1.0          # writeable
        np.testing.assert_allclose(d[0], 2 * x.T @ (x @ params[0]), rtol=1e-12)


def test_a_namedtuple_stays_one():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    p = Pair(rng.standard_normal((3, 2)), rng.standard_normal(2))
    g = s2sgrad.grad(pair_loss)
    for _ in range(2):
        d = g(p, x)
        assert type(d) is Pair
        h = x @ p.w + p.b
        common = 2 * np.tanh(h) * (1 - np.tanh(h) ** 2)
        np.testing.assert_allclose(d.w, x.T @ common, rtol=1e-12)
        np.testing.assert_allclose(d.b, common.sum(axis=0), rtol=1e-12)
