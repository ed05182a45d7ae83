"""Programs that the two loop passes of ``frontend/normalize.py`` once got silently wrong:
the linear recursion written as a loop (``frontend/recursion.py``, ``runtime.recursion_levels``)
and the loop invariants computed once before their loop (``frontend/hoist.py``).  Each test
compares with the original function's own value and with finite differences or a closed
form, on general and specialized code."""

import sys

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad, numeric_grad

pytestmark = pytest.mark.usefixtures("code")

_ = 2.0         # a global named ``_`` (gettext's convention), read by ``reads_underscore``


def reads_underscore(x, n):
    if n == 0:
        return 1.0
    return x * reads_underscore(x, n - 1) + _


def test_a_global_named_underscore_is_not_the_loop_index():
    # the loop written for the recursion must not bind ``_``: it would shadow the global
    value, grad = s2sgrad.value_and_grad(reads_underscore)(0.5, 3)
    assert value == pytest.approx(reads_underscore(0.5, 3), rel=1e-15)
    # closed form: x**3 + 2 (x**2 + x + 1), derivative 3 x**2 + 2 (2 x + 1)
    assert grad == pytest.approx(3 * 0.25 + 2 * 2.0, rel=1e-12)
    _, tangent = s2sgrad.jvp(reads_underscore)(0.5, 3, 1.0)
    assert tangent == pytest.approx(4.75, rel=1e-12)


def scaled_levels(x, n):
    if n == 0:
        return np.sum(x)
    return np.sum(x * n) * scaled_levels(x, n - 1)


@pytest.mark.parametrize("counter", [np.int64(3), np.int32(3), True, 3],
                         ids=["int64", "int32", "bool", "int"])
def test_the_levels_of_a_numpy_counter_are_numpy_values(counter):
    # the recursive expression reads the counter: each level sees the value the recursion
    # passes it (an int64 times a float32 array is float64; a Python int keeps float32)
    x = np.array([0.1, 0.2], dtype=np.float32)
    expected = scaled_levels(x, counter)
    value, grad = s2sgrad.value_and_grad(scaled_levels)(x, counter)
    assert type(value) is type(expected) and value == expected
    fd = numeric_grad(lambda y: scaled_levels(y.astype(np.float32), counter),
                      (x.astype(np.float64),), eps=1e-3)
    np.testing.assert_allclose(grad, fd, rtol=2e-3)


def invariant_of_a_conditional_name(x, n):
    if n > 0:
        z = x * 2.0
    acc = x
    for _i in range(n):
        acc = acc + np.sin(z)
    return acc


@pytest.mark.parametrize("n", [0, 2])
def test_a_name_bound_only_on_some_paths_is_not_read_before_a_loop_that_runs_no_trip(n, code):
    # np.sin(z) is not computed before the loop: with n == 0, z is unbound there
    closed_form = 1.0 + n * 2.0 * np.cos(0.6)
    _, tangent = s2sgrad.jvp(invariant_of_a_conditional_name)(0.3, n, 1.0)
    assert tangent == pytest.approx(closed_form, rel=1e-12)
    if code == "general" and n == 0:
        return      # test_general_reverse_code_of_a_loop_reading_a_conditional_name
    value, grad = s2sgrad.value_and_grad(invariant_of_a_conditional_name)(0.3, n)
    assert value == pytest.approx(invariant_of_a_conditional_name(0.3, n), rel=1e-15)
    assert grad == pytest.approx(closed_form, rel=1e-12)
    assert "sin_z" not in s2sgrad.show(invariant_of_a_conditional_name, "normalize")


def test_general_reverse_code_of_a_loop_reading_a_conditional_name():
    from s2sgrad.driver import specialize
    with specialize.using("general"):
        value, grad = s2sgrad.value_and_grad(invariant_of_a_conditional_name)(0.3, 0)
    assert (value, grad) == (0.3, 1.0)


def doubles_by_copyto(x):
    y = x * 1.0
    acc = 0.0
    for _i in range(3):
        np.copyto(y, y * 2.0)
        acc = acc + np.sum(np.sin(y) * x)
    return acc


def refills(x):
    y = x * 1.0
    acc = 0.0
    for k in range(3):
        y.fill(k + 0.5)
        acc = acc + np.sum(np.cos(y) * x)
    return acc


@pytest.mark.parametrize("f", [doubles_by_copyto, refills])
def test_a_loop_writing_into_an_array_through_a_call_keeps_what_reads_it(f):
    # np.copyto(y, v) and y.fill(v) change y on every trip: np.sin(y) is not invariant
    x = np.array([0.3, -0.2])
    value, _ = s2sgrad.value_and_grad(f)(x)
    assert value == pytest.approx(f(x), rel=1e-14)
    check_grad(f, x)
    _, tangent = s2sgrad.jvp(f)(x, np.array([1.0, 0.0]))
    assert tangent == pytest.approx(numeric_grad(f, (x,))[0], rel=1e-6)


def rebound(x, n):
    if n == 0:
        return np.cos(x)
    return x * rebound(x, n - 1) + np.sin(x)


def rebound_twice(x, n):           # two calls of itself: stays a recursion
    if n <= 1:
        return x
    return np.sin(rebound_twice(x, n - 1)) + x * rebound_twice(x, n - 2)


def test_rebinding_the_name_of_a_recursion_written_as_a_loop_is_noticed(monkeypatch):
    original = rebound
    value, _ = s2sgrad.value_and_grad(original)(0.3, 2)        # made and kept
    assert value == pytest.approx(original(0.3, 2), rel=1e-15)
    # the recursion now calls the new function one level down: x * (10 x) + sin(x)
    monkeypatch.setitem(globals(), "rebound", lambda x, n: 10.0 * x)
    value, grad = s2sgrad.value_and_grad(original)(0.3, 2)
    assert value == pytest.approx(original(0.3, 2), rel=1e-15)
    assert value == pytest.approx(10 * 0.09 + np.sin(0.3), rel=1e-14)
    assert grad == pytest.approx(20 * 0.3 + np.cos(0.3), rel=1e-12)


def test_rebinding_the_name_of_a_recursion_that_stays_a_recursion_is_noticed(monkeypatch):
    original = rebound_twice
    s2sgrad.value_and_grad(original)(0.3, 3)
    monkeypatch.setitem(globals(), "rebound_twice", lambda x, n: 10.0 * x)
    value, grad = s2sgrad.value_and_grad(original)(0.3, 3)
    # sin(10 x) + x * 10 x
    assert value == pytest.approx(np.sin(3.0) + 0.9, rel=1e-14)
    assert grad == pytest.approx(10 * np.cos(3.0) + 6.0, rel=1e-12)


def zero_trip_root(x, n):
    acc = x
    for _i in range(n):
        acc = acc + np.sqrt(x) * np.exp(x)
    return np.sum(acc)


def horner_root(x, n):                  # the same, from a recursion (depth 0 at n == 0)
    if n == 0:
        return np.sum(x)
    return horner_root(x, n - 1) + np.sum(np.sqrt(x))


@pytest.mark.parametrize("f", [zero_trip_root, horner_root])
def test_an_invariant_with_an_infinite_derivative_before_a_loop_that_runs_no_trip(f):
    # np.sqrt(x) is computed before the loop only when the loop runs: otherwise its zero
    # cotangent times its infinite derivative at 0 would be NaN (d_sqrt_x * (0.5 / sqrt_x))
    x = np.array([0.0, 0.25])
    with np.errstate(all="raise"):          # nothing is computed at 0 but x itself
        value, grad = s2sgrad.value_and_grad(f)(x, 0)
        _, tangent = s2sgrad.jvp(f)(x, 0, np.array([1.0, 0.0]))
    assert value == f(x, 0)
    np.testing.assert_array_equal(grad, [1.0, 1.0])
    assert tangent == 1.0
    # with trips, the derivative where it is finite
    y = np.array([0.5, 0.25])
    check_grad(f, y, 2)


def mismatched_unless_it_runs(x, w, n):
    acc = np.sum(x)
    for _i in range(n):
        acc = acc + np.sum(np.tanh(w * x))
    return acc


def test_an_invariant_that_would_raise_is_not_computed_before_a_loop_that_runs_no_trip():
    x, w = np.array([0.3, -0.2]), np.array([1.0, 2.0, 3.0])      # w * x would raise
    value, grad = s2sgrad.value_and_grad(mismatched_unless_it_runs)(x, w, 0)
    assert value == mismatched_unless_it_runs(x, w, 0)
    np.testing.assert_array_equal(grad, [1.0, 1.0])


def nested_counts(x, n, m):
    s = np.sum(x)
    for i in range(n):
        for j in range(m):
            s = s + np.sum(np.sqrt(x) * (i + j))
    return s


@pytest.mark.parametrize("n, m", [(0, 3), (2, 0), (2, 3)])
def test_inner_and_outer_loops_that_may_run_no_trip(n, m):
    x = np.array([0.0, 0.25])
    with np.errstate(divide="ignore", invalid="ignore"):
        grad = s2sgrad.grad(nested_counts)(x, n, m)
    trips = sum(i + j for i in range(n) for j in range(m))
    expected = 1.0 + trips * np.array([np.inf if trips else 0.0, 0.5 / 0.5])
    np.testing.assert_array_equal(grad, expected)


def draws_until(x, seed):
    np.random.seed(seed)
    acc = np.sum(x)
    while np.random.rand() > 0.3:
        acc = acc + np.sum(np.sin(x))
    return acc


def test_a_loop_whose_test_draws_a_random_number_draws_as_often():
    # the test of a while loop is not evaluated once more to know whether the loop runs
    x = np.array([0.3, 0.2])
    trips = (draws_until(x, 1) - np.sum(x)) / np.sum(np.sin(x))
    assert trips == pytest.approx(round(trips)) and round(trips) >= 1
    value, grad = s2sgrad.value_and_grad(draws_until)(x, 1)
    assert value == pytest.approx(draws_until(x, 1), rel=1e-15)
    np.testing.assert_allclose(grad, 1.0 + round(trips) * np.cos(x), rtol=1e-12)


def doubles_through_a_positional_out(x):
    y = x * 1.0
    np.multiply(y, 2.0, y)              # out given by position: y is doubled in place
    return np.sum(np.sin(y) * x)


def test_a_ufunc_out_given_by_position_is_refused_as_out_by_keyword_is():
    # (it was ignored: the primitive binds x, y only, so the gradient missed y's doubling)
    x = np.array([0.3, -0.2])
    with pytest.raises(s2sgrad.errors.UnsupportedArgumentError) as info:
        s2sgrad.grad(doubles_through_a_positional_out)(x)
    line = doubles_through_a_positional_out.__code__.co_firstlineno
    assert str(info.value).startswith("test_hunt_loops.py:") and "out=" in str(info.value)
    assert int(str(info.value).split(":")[1]) > line


def doubles_through_a_positional_out_in_a_loop(x):
    y = x * 1.0
    acc = 0.0
    for _i in range(3):
        np.multiply(y, 2.0, y)
        acc = acc + np.sum(np.sin(y) * x)
    return acc


def test_a_loop_writing_through_a_positional_out_keeps_what_reads_it():
    # np.sin(y) is not invariant: it stays in the loop (and the derivative is refused, as
    # test_a_ufunc_out_given_by_position says, rather than computed from a wrong value)
    text = s2sgrad.show(doubles_through_a_positional_out_in_a_loop, "normalize")
    assert "np.sin(y)" in text[text.index("for "):]
    with pytest.raises(s2sgrad.errors.UnsupportedArgumentError, match="out="):
        s2sgrad.value_and_grad(doubles_through_a_positional_out_in_a_loop)(np.array([0.3, -0.2]))
