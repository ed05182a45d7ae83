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
