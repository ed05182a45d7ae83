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


def code(src):
    """The lines of generated code, comments (which cite the source) aside."""
    return [ln.strip() for ln in src.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_hvp_of_an_mlp_loss():
    check_hvp(mlp_loss, *mlp_point())
    lines = code(s2sgrad.hvp(mlp_loss, emit=True))
    # Only tangents of the gradient are returned: the primal d_add = d_h * (1.0 - h ** 2)
    # was computed just for its shape, and h_matmul + b1 was kept in a variable for its shape.
    assert not any(ln.startswith(("d_add =", "h_add =")) for ln in lines)
    assert not any("broadcast_like" in ln for ln in lines)
    assert "t_d_add_subtract = -(t_h * 2 * h)" in lines
    # The adjoints of a matrix product are arrays: their tangents add with +, so numpy
    # can reuse the first product's buffer for the sum.
    assert not any("_rt.add(" in ln for ln in lines)
    assert any(ln.startswith("t_d_h = _rt.matmul_vjp_a(") for ln in lines)


# -- values released at their last use (transform/release.py) ---------------------------------


def wave(x):
    a = np.sin(x)
    b = a * x
    c = np.exp(b)
    d = c * a
    return d + b * c


def test_tangent_code_releases_each_value_after_its_last_use():
    x = rng.uniform(0.1, 1.0, size=4)
    check_jvp(wave, x)
    lines = code(s2sgrad.jvp(wave, emit=True))
    assert lines[lines.index("t_c = t_b * c") + 1] == "del t_b"
    assert lines[lines.index("t_d = t_c * a + t_a * c") + 1] == "del a, t_a"
    k = lines.index("return result, t_result")
    assert not lines[k - 1].startswith("del ")   # returning releases the rest anyway


jvp_of_wave = s2sgrad.jvp(wave)


def weighted_tangent(x, t):
    value, tangent = jvp_of_wave(x, t)
    return np.sum(tangent * value)


def test_code_that_releases_values_is_differentiated_again():
    # grad transforms the generated jvp_wave, del statements and all (the frontend drops them).
    x, t = rng.uniform(0.1, 1.0, size=4), rng.normal(size=4)
    assert "del " in s2sgrad.jvp(wave, emit=True)
    assert "jvp_wave_fwd(_tape" in s2sgrad.grad(weighted_tangent, (0, 1), emit=True)
    check_grad(weighted_tangent, x, t, wrt=(0, 1))


def test_numbers_are_not_released():
    # deriv(f, emit=True) is the code for a scalar x (its tangent is the constant 1.0):
    # every value is a number, and a del would only cost a line.
    assert "del " not in s2sgrad.deriv(wave, emit=True)


def test_hvp_releases_the_forward_sweep_before_the_backward_products():
    params, X, labels, v = mlp_point()
    check_hvp(mlp_loss, params, X, labels, v)
    lines = code(s2sgrad.hvp(mlp_loss, emit=True))
    assert lines[lines.index("t_h = (t_h_matmul + t_params['b1']) * h_sub") + 1] \
        == "del t_h_matmul"
    # h and t_h go before the product rule for d_add needs its own buffers.
    assert lines[lines.index("t_d_add_subtract = -(t_h * 2 * h)") + 1] == "del h, t_h"
