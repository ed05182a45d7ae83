"""``for v in seq:`` is written as a loop over ``range(len(seq))`` taking ``seq[i]``: right
for a list, a tuple or an array, whose items are their elements by position.  A dict (or
any mapping) iterates over its keys, which ``d[i]`` is not (with int keys ``0..n-1`` it
took the values, a wrong gradient without a word), and a set has no positions: the
generated code refuses both at the user's line and says what to write instead.  Code
specialized to a signature that proves a list, a tuple or an array has no check."""

import numpy as np
import pytest

import s2sgrad
import loop_iteration_module as m
from gradcheck import numeric_grad

pytestmark = pytest.mark.usefixtures("code")


@pytest.mark.parametrize("fn, args", [
    (m.over_int_keys, (1.5, {0: 2.0, 1: 3.0})),
    (m.over_str_keys, (1.5, {"a": 2.0, "b": 3.0})),
    (m.enumerate_keys, (1.5, {0: 2.0, 1: 3.0})),
    (m.zip_keys, (1.5, {0: 2.0, 1: 3.0}, [1.0, 2.0])),
])
def test_a_loop_over_a_dict_is_refused_at_the_users_line(fn, args):
    with pytest.raises(s2sgrad.S2SGradError,
                       match=r"loop_iteration_module.py:\d+: .*a dict.* d.keys\(\)"):
        s2sgrad.grad(fn, fallback="never")(*args)
    with pytest.raises(s2sgrad.S2SGradError, match=r"loop_iteration_module.py:\d+: "):
        s2sgrad.jvp(fn, fallback="never")(*args, 1.0)


def test_a_loop_over_a_set_is_refused():
    with pytest.raises(s2sgrad.S2SGradError, match=r"loop_iteration_module.py:\d+: .*a set"):
        s2sgrad.grad(m.over_set, fallback="never")(1.5, {2.0, 3.0})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loops_over_lists_rows_and_items_still_differentiate(seed):
    rng = np.random.default_rng(seed)
    x = float(rng.uniform(0.5, 2.0))
    ws = [rng.normal(size=3), rng.normal(size=2)]
    got = s2sgrad.grad(m.over_list)(x, ws)
    assert got == pytest.approx(numeric_grad(lambda t: m.over_list(t, ws), [x], 0), rel=1e-6)
    a = rng.normal(size=(3, 4))
    np.testing.assert_allclose(s2sgrad.grad(m.over_rows)(a),
                               numeric_grad(m.over_rows, [a], 0), rtol=1e-6, atol=1e-8)
    d = {1: 2.0, 3: 0.5}
    assert s2sgrad.grad(m.over_items)(x, d) == pytest.approx(1 * 2.0 + 3 * 0.5, rel=1e-12)
    _, t = s2sgrad.jvp(m.over_list)(x, ws, 1.0)
    assert t == pytest.approx(numeric_grad(lambda v: m.over_list(v, ws), [x], 0), rel=1e-6)


def test_specialized_code_for_a_list_has_no_check():
    ws = [np.ones(3), np.ones(2)]
    general = s2sgrad.grad(m.over_list, emit=True)
    specialized = s2sgrad.grad(m.over_list, emit=True, example=(1.5, ws))
    assert "check_sequence" in general
    assert "check_sequence" not in specialized


def test_a_slice_or_a_literal_needs_no_check():
    """A dict cannot be sliced, and a list written out is one: the general code has no check."""
    src = s2sgrad.grad(m.over_slice_and_literal, emit=True)
    assert "check_sequence" not in src
    ws = [np.ones(3), np.full(2, 2.0)]
    assert s2sgrad.grad(m.over_slice_and_literal)(1.5, ws) == pytest.approx(4.0 + 3.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_reversed_given_to_enumerate_or_zip(seed):
    """``enumerate(reversed(l))`` and ``zip(reversed(x), x)``: the loop takes ``seq[::-1]``
    by position (``len`` of the iterator was a TypeError)."""
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, size=3)
    t = np.array([1.0, 0.5, -0.25])
    for f in (m.enumerate_reversed, m.zip_reversed):
        want = numeric_grad(f, [x], 0)
        np.testing.assert_allclose(s2sgrad.grad(f, fallback="never")(x), want, rtol=1e-6,
                                   atol=1e-8)
        value, tangent = s2sgrad.jvp(f, fallback="never")(x, t)
        assert value == pytest.approx(f(x), rel=1e-12)
        assert tangent == pytest.approx(float(want @ t), rel=1e-6, abs=1e-8)
