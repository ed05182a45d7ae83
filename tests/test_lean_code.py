"""Generated code does no work it can prove unneeded: each case checks the derivative against
finite differences and that the emitted code no longer has the operation that was wasted."""

import numpy as np

import s2sgrad
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
