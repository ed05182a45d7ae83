"""jvp's call path has runners too (driver/calls.py: ``make_runner``, ``_jvp_lines``): from
the second call on, a compiled function checks the arguments' signature and runs the
specialized tangent code.  Each test calls a jvp several times and checks every result
against closed forms or central differences, and that the runner says what the slow path
says on an error."""

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import cache, specialize
from gradcheck import assert_close

pytestmark = [pytest.mark.auto_code, pytest.mark.usefixtures("fresh_call_path")]


def sin_times(x):
    return np.sum(np.sin(x) * x)


def d_sin_times(x, t):
    return np.sum((np.cos(x) * x + np.sin(x)) * t)


def two_args(x, y):
    return x * np.exp(y) + np.sum(y ** 2)


def vector_out(x):
    return np.tanh(x) * 2.0


def may_fail(x):
    if x > 10.0:
        raise ValueError("x too large")
    return x ** 3


def integer_out(x):
    return np.floor(x).astype(int)


@pytest.mark.parametrize("x", [1.3, np.float64(0.7), np.array([0.4, -1.1, 2.0])],
                         ids=["float", "float64", "array"])
def test_values_and_tangents_on_every_call(x):
    j = s2sgrad.jvp(sin_times)
    rng = np.random.default_rng(0)
    for k in range(4):
        t = rng.standard_normal(np.shape(x)) if np.ndim(x) else float(rng.standard_normal())
        value, tangent = j(x, t)
        assert_close(float(value), float(np.sum(np.sin(x) * x)))
        assert type(tangent) is float      # the tangent of a float64 value: a float
        assert abs(tangent - d_sin_times(x, t)) <= 1e-12 * (1 + abs(tangent))


def test_a_new_signature_compiles_a_new_specialization():
    j = s2sgrad.jvp(vector_out)
    for x in [np.array([0.1, 0.2]), np.array([[0.3], [0.4]]), np.array([0.1, 0.2]),
              np.array([[0.3], [0.4]]).astype(np.float32), 0.5, 0.5]:
        t = np.ones_like(x) if np.ndim(x) else 1.0
        value, tangent = j(x, t)
        expected = 2.0 * (1 - np.tanh(x) ** 2) * t
        assert np.shape(tangent) == np.shape(x)
        assert np.asarray(tangent).dtype == np.asarray(x).dtype
        np.testing.assert_allclose(tangent, expected, rtol=2e-6)
        np.testing.assert_allclose(value, np.tanh(x) * 2.0, rtol=2e-6)


def test_two_tangents():
    j = s2sgrad.jvp(two_args, wrt=(0, 1))
    x, y = np.array([0.5, -0.2]), np.array([1.0, 0.3])
    for k in range(3):
        tx, ty = np.array([1.0, k]), np.array([0.5, -1.0 * k])
        value, tangent = j(x, y, (tx, ty))
        expected = tx * np.exp(y) + x * np.exp(y) * ty + np.sum(2 * y * ty)
        np.testing.assert_allclose(tangent, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="needs 2 tangents, got 1"):
        j(x, y, (tx,))       # (the runner leaves it to the slow path, which says so)


def test_an_error_in_the_function_is_noted_on_every_call():
    j = s2sgrad.jvp(may_fail)
    notes = set()
    for k in range(3):
        assert j(2.0 + k, 1.0) == ((2.0 + k) ** 3, 3 * (2.0 + k) ** 2)
        with pytest.raises(ValueError, match="x too large") as info:
            j(11.0, 1.0)
        notes.add("\n".join(getattr(info.value, "__notes__", [])))
    assert len(notes) == 1 and "test_jvp_runner.py:" in notes.pop()


def returns_none(x):
    x * 2.0


def test_an_output_without_derivative_is_refused_on_every_call():
    j = s2sgrad.jvp(returns_none)
    messages = set()
    for _ in range(3):
        with pytest.raises(s2sgrad.NonDifferentiableError) as info:
            j(1.5, 1.0)
        messages.add(str(info.value))
    assert len(messages) == 1 and "returned None" in messages.pop()


def test_an_integer_output_has_a_zero_tangent():
    j = s2sgrad.jvp(integer_out)
    for _ in range(3):
        value, tangent = j(np.array([1.5, 2.5]), np.array([1.0, 1.0]))
        assert value.tolist() == [1, 2] and tangent.tolist() == [0.0, 0.0]


def test_a_runner_does_not_serve_calls_under_another_code_choice():
    j = s2sgrad.jvp(sin_times)
    x, t = np.array([0.4, -1.1]), np.array([1.0, 2.0])
    for _ in range(3):
        j(x, t)
    built = cache.stats["transform"]
    with specialize.using("general"):
        value, tangent = j(x, t)
        assert cache.stats["transform"] == built + 1     # the general code, built and run
    assert abs(tangent - d_sin_times(x, t)) < 1e-12


def test_calls_after_the_first_run_the_runner(monkeypatch):
    import s2sgrad.operators as operators
    j = s2sgrad.jvp(sin_times)
    x = np.array([0.4, -1.1])
    j(x, np.ones(2))
    j(x, np.ones(2))        # (the fast path, which leaves the runner)

    def no_fast_path(*args, **kwargs):
        raise AssertionError("the fast path ran")
    monkeypatch.setattr(operators, "_fast_jvp", no_fast_path)
    for k in range(3):
        t = np.array([1.0, float(k)])
        assert abs(j(x, t)[1] - d_sin_times(x, t)) < 1e-12
