"""Generated code does no work it can prove unneeded: each case checks the derivative against
finite differences and that the emitted code no longer has the operation that was wasted."""

import numpy as np

import s2sgrad
from gradcheck import check_grad
from tangentcheck import check_jvp

rng = np.random.default_rng(5)


def tanh_of_sum(x, y):
    return np.sum(np.tanh(x + y) * y)


def test_tangents_of_both_operands_broadcast_by_themselves():
    # x (3, 1) + y (4,) is (3, 4): t_x + t_y has that shape with no broadcast_like, and
    # x + y is not kept in a variable just to be asked its shape.
    x, y = rng.normal(size=(3, 1)), rng.normal(size=4)
    check_jvp(tanh_of_sum, x, y, wrt=(0, 1))
    src = s2sgrad.jvp(tanh_of_sum, (0, 1), emit=True)
    assert "broadcast_like" not in src
    assert "t_result_tanh = (t_x + t_y) * (1.0 - result_tanh ** 2)" in src


def squashed(x, w):
    h = np.tanh(x @ w)
    s = 1.0 - h ** 2
    return np.sum(s * h)


def test_a_variable_assigned_once_keeps_one_shape_class():
    # The shape of h (a matmul's) is unknown, but h is assigned once, so s = 1.0 - h ** 2
    # has h's shape wherever both are used: nothing is broadcast or summed back.
    x, w = rng.normal(size=(5, 3)), rng.normal(size=(3, 4))
    check_jvp(squashed, x, w, wrt=(0, 1))
    check_grad(squashed, x, w, wrt=(0, 1))
    assert "broadcast_like" not in s2sgrad.jvp(squashed, (0, 1), emit=True)
    assert "unbroadcast" not in s2sgrad.grad(squashed, (0, 1), emit=True)


def mlp_loss(params, X, labels):
    h = np.tanh(X @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(log_probs * labels, axis=1))


def mlp_point():
    params = {"W1": rng.normal(size=(5, 4)), "b1": rng.normal(size=4),
              "W2": rng.normal(size=(4, 3)), "b2": rng.normal(size=3)}
    X = rng.normal(size=(6, 5))
    labels = np.eye(3)[rng.integers(0, 3, size=6)]
    v = {k: rng.normal(size=p.shape) for k, p in params.items()}
    return params, X, labels, v


def check_hvp(f, params, X, labels, v, eps=1e-6):
    """``hvp`` against central differences of the gradient along ``v``."""
    grad = s2sgrad.grad(f)
    plus = grad({k: p + eps * v[k] for k, p in params.items()}, X, labels)
    minus = grad({k: p - eps * v[k] for k, p in params.items()}, X, labels)
    got = s2sgrad.hvp(f)(params, X, labels, v)
    assert set(got) == set(params)
    for k in params:
        np.testing.assert_allclose(got[k], (plus[k] - minus[k]) / (2 * eps), rtol=1e-5, atol=1e-7)


def test_hvp_of_an_mlp_loss():
    check_hvp(mlp_loss, *mlp_point())
    src = s2sgrad.hvp(mlp_loss, emit=True)
    # The adjoints of a matrix product are arrays: their tangents add with +, so numpy
    # can reuse the first product's buffer for the sum.
    assert "_rt.add(" not in src and "t_d_h = _rt.matmul_vjp_a(" in src
