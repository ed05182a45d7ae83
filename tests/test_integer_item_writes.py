"""A value written into an array whose dtype is an integer or bool one that only the run time
knows (np.arange(len(x)), np.zeros_like(k) of an integer k, k.copy(), np.array(ints),
np.full(3, n), np.round(x).astype(int) * 0) is truncated by NumPy: a step function, derivative
zero.  The generated code gave it the derivative of the value written (silently wrong);
it now checks the array's dtype where the compiler cannot prove it a float or complex one
(``_rt.through_write``).  Each program also depends smoothly on x elsewhere, so that zeros
cannot pass: f(x) = sum(y * x) + sum(sin(x)) + (a float array written with x), whose gradient
is y (the integers held, constant) + cos(x) + the float part's; checked against the closed
form at several points, in reverse and forward mode, on general and specialized code, at
second order and with the tracing fallback."""

import numpy as np
import pytest

import s2sgrad

pytestmark = pytest.mark.usefixtures("code")

K = np.array([4, -2, 7])
POINTS = [np.array([1.5, 2.5, 3.0]), np.array([-0.7, 0.2, 4.9]), np.array([2.05, -3.3, 0.45])]


def _tail(x):
    # the smooth part: a float array written with x (its derivative kept), and sin(x)
    z = np.zeros(3)
    z[2] = x[2] * x[0]
    return np.sum(z) + np.sum(np.sin(x))


def _tail_grad(x):
    return np.array([x[2], 0.0, x[0]]) + np.cos(x)


def _tail_hess(x):
    h = np.diag(-np.sin(x))
    h[0, 2] += 1.0
    h[2, 0] += 1.0
    return h


def arange_of_a_length(x, k, n, ns):
    y = np.arange(len(x))
    y[0] = x[0] * 2.1
    return np.sum(y * x) + _tail(x)


def zeros_like_an_integer_argument(x, k, n, ns):
    y = np.zeros_like(k)
    y[1] = x[1] * 3.3
    return np.sum(y * x) + _tail(x)


def rounded_cast_times_zero(x, k, n, ns):
    y = np.round(x).astype(int) * 0
    y[2] = x[2] * 4.2
    return np.sum(y * x) + _tail(x)


def copy_of_an_integer_argument(x, k, n, ns):
    y = k.copy()
    y[0] = x[0] * 2.1
    return np.sum(y * x) + _tail(x)


def array_of_a_list_of_ints(x, k, n, ns):
    y = np.array(ns)
    y[1] = x[1] * 3.3
    return np.sum(y * x) + _tail(x)


def full_of_an_int(x, k, n, ns):
    y = np.full(3, n)
    y[0] = x[0] * 2.1
    return np.sum(y * x) + _tail(x)


def added_into_an_item(x, k, n, ns):
    # y[1] += v on an integer array: NumPy adds as floats and writes the sum truncated
    y = np.zeros_like(k)
    y[1] += x[1] * 1.5
    return np.sum(y * x) + _tail(x)


def slice_written(x, k, n, ns):
    y = k.copy()
    y[0:2] = x[0:2] * 1.5
    return np.sum(y * x) + _tail(x)


def fancy_index_written(x, k, n, ns):
    y = np.zeros_like(k)
    y[[0, 2]] = x[[0, 2]] * 2.5
    return np.sum(y * x) + _tail(x)


def bool_array_written(x, k, n, ns):
    y = k > 100
    y[1] = x[1] * 0.3
    return np.sum(y * x) + _tail(x)


def written_in_a_loop(x, k, n, ns):
    y = np.zeros_like(k)
    for i in range(3):
        y[i] = x[i] * 1.7 + y[i - 1]
    return np.sum(y * x) + _tail(x)


def rebound_after_the_write(x, k, n, ns):
    # y is an integer array at the write and a float one after: the check reads the first
    y = np.zeros_like(k)
    y[0] = x[0] * 2.1
    w = np.sum(y * x)
    y = x * 1.0
    y[1] = x[1] * 3.0
    return w + np.sum(y) + _tail(x)


def rebound_argument(x, k, n, ns):
    # k is rebound first, from its own integers: still an integer array
    k = k * 1
    k[0] = x[0] * 2.1
    return np.sum(k * x) + _tail(x)


def _held(f, x):
    """The integers y holds in f (the written values truncated): the gradient of sum(y * x)."""
    ns = [int(v) for v in K]
    if f is arange_of_a_length:
        y = np.arange(3); y[0] = x[0] * 2.1
    elif f is zeros_like_an_integer_argument:
        y = np.zeros(3, int); y[1] = x[1] * 3.3
    elif f is rounded_cast_times_zero:
        y = np.zeros(3, int); y[2] = x[2] * 4.2
    elif f is copy_of_an_integer_argument:
        y = K.copy(); y[0] = x[0] * 2.1
    elif f is array_of_a_list_of_ints:
        y = np.array(ns); y[1] = x[1] * 3.3
    elif f is full_of_an_int:
        y = np.full(3, 5); y[0] = x[0] * 2.1
    elif f is added_into_an_item:
        y = np.zeros(3, int); y[1] = x[1] * 1.5
    elif f is slice_written:
        y = K.copy(); y[0:2] = x[0:2] * 1.5
    elif f is fancy_index_written:
        y = np.zeros(3, int); y[[0, 2]] = x[[0, 2]] * 2.5
    elif f is bool_array_written:
        y = np.zeros(3, bool); y[1] = x[1] * 0.3
    elif f is written_in_a_loop:
        y = np.zeros(3, int)
        for i in range(3):
            y[i] = x[i] * 1.7 + y[i - 1]
    elif f is rebound_argument:
        y = K.copy(); y[0] = x[0] * 2.1
    elif f is rebound_after_the_write:
        y = np.zeros(3, int); y[0] = x[0] * 2.1
        return y + np.array([1.0, 3.0, 1.0])     # (and sum(y) of the float y after)
    return y.astype(float)


PROGRAMS = [arange_of_a_length, zeros_like_an_integer_argument, rounded_cast_times_zero,
            copy_of_an_integer_argument, array_of_a_list_of_ints, full_of_an_int,
            added_into_an_item, slice_written, fancy_index_written, bool_array_written,
            written_in_a_loop, rebound_after_the_write, rebound_argument]


def _args(x):
    return (x.copy(), K.copy(), 5, [int(v) for v in K])


def _want(f, x):
    return _held(f, x) + _tail_grad(x)


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_reverse_mode_and_the_tracer(f):
    g = s2sgrad.grad(f)
    for x in POINTS:
        for _ in range(2):      # (the first call and the one after)
            np.testing.assert_allclose(g(*_args(x)), _want(f, x), rtol=1e-12, atol=1e-12)
        value, d = s2sgrad.value_and_grad(f)(*_args(x))
        assert value == pytest.approx(f(*_args(x)), rel=1e-12)
        np.testing.assert_allclose(d, _want(f, x), rtol=1e-12, atol=1e-12)
        # the tracing fallback agrees (it runs NumPy's own write)
        traced = s2sgrad.grad(f, fallback="always")(*_args(x))
        np.testing.assert_allclose(traced, _want(f, x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_forward_mode(f):
    j = s2sgrad.jvp(f)
    v = np.array([0.5, -1.0, 2.0])
    for x in POINTS:
        for _ in range(2):
            value, t = j(*_args(x), v)
            assert value == pytest.approx(f(*_args(x)), rel=1e-12)
            assert t == pytest.approx(np.dot(_want(f, x), v), rel=1e-12, abs=1e-12)
        value, t = s2sgrad.jvp(f, fallback="always")(*_args(x), v)     # (the tracer)
        assert t == pytest.approx(np.dot(_want(f, x), v), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("f", PROGRAMS, ids=lambda f: f.__name__)
def test_second_order(f):
    for x in POINTS:
        np.testing.assert_allclose(s2sgrad.hessian(f)(*_args(x)), _tail_hess(x),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(s2sgrad.jacobian(s2sgrad.grad(f))(*_args(x)), _tail_hess(x),
                                   rtol=1e-12, atol=1e-12)


# -- writes NumPy refuses to cast (casting='same_kind'): the generated code raises as NumPy does

def slice_added_into(x, k):
    y = k.copy()
    y[0:2] += x[0:2] * 1.5      # y[0:2] is a view: NumPy adds into it in place, and refuses
    return np.sum(y * x)


def fancy_index_added_into(x, k):
    y = np.zeros_like(k)
    y[[0, 2]] += x[[0, 2]] * 1.5
    return np.sum(y * x)


def copied_into(x, k):
    y = np.zeros_like(k)
    np.copyto(y, x * 1.5)
    return np.sum(y * x)


def copied_into_where(x, k):
    y = np.zeros_like(k)
    np.copyto(y, x * 1.5, where=k > 0)
    return np.sum(y * x)


def array_added_into(x, k):
    y = np.arange(len(x))
    y += x * 2.0                # in place into the integer array: NumPy refuses
    return np.sum(y * x)


def array_subtracted_from(x, k):
    y = k * 1
    y -= x
    return np.sum(y * x)


REFUSED = {slice_added_into: (TypeError, "Cannot cast ufunc 'add' output"),
           array_added_into: (TypeError, "Cannot cast ufunc 'add' output"),
           array_subtracted_from: (TypeError, "Cannot cast ufunc 'subtract' output"),
           fancy_index_added_into: (TypeError, "Cannot cast ufunc 'add' output"),
           copied_into: (TypeError, "Cannot cast array data"),
           copied_into_where: (TypeError, "Cannot cast array data")}


@pytest.mark.parametrize("f", list(REFUSED), ids=lambda f: f.__name__)
def test_a_write_numpy_refuses_raises_as_numpy_does(f):
    error, message = REFUSED[f]
    x = POINTS[0]
    with pytest.raises(error, match=message):
        f(x.copy(), K.copy())               # (what NumPy does)
    with pytest.raises(error, match=message):
        s2sgrad.grad(f)(x.copy(), K.copy())
    with pytest.raises(error, match=message):
        s2sgrad.value_and_grad(f)(x.copy(), K.copy())
    with pytest.raises(error, match=message):
        s2sgrad.jvp(f)(x.copy(), K.copy(), np.ones(3))
    with pytest.raises(error, match=message):
        s2sgrad.hessian(f)(x.copy(), K.copy())
    # the tracer refuses the write too (its own error, or NumPy's)
    with pytest.raises((error, s2sgrad.errors.S2SGradError)):
        s2sgrad.grad(f, fallback="always")(x.copy(), K.copy())


# -- the same writes into a float array: allowed, and the written value keeps its derivative

def float_slice_added_into(x, k):
    y = np.zeros_like(x)
    y[0:2] += x[0:2] * 1.5
    return np.sum(y * x)


def float_copied_into_where(x, k):
    y = np.ones(3)
    np.copyto(y, x * 1.5, where=k > 0)
    return np.sum(y * x)


def float_item_added_into(x, k):
    y = x * 2.0
    y[1] += x[2] * 1.5
    return np.sum(y * x)


def float_array_added_into(x, k):
    y = np.zeros(len(x))
    y += x * 2.0
    return np.sum(y * x)


FLOAT_WRITES = {
    float_array_added_into: lambda x: 4.0 * x,
    # d/dx sum(y * x) with y written from x
    float_slice_added_into: lambda x: np.array([3.0 * x[0], 3.0 * x[1], 0.0]),
    float_copied_into_where: lambda x: np.array([3.0 * x[0], 1.0, 3.0 * x[2]]),   # k = [4, -2, 7]
    float_item_added_into: lambda x: np.array([4.0 * x[0], 4.0 * x[1] + 1.5 * x[2],
                                               4.0 * x[2] + 1.5 * x[1]]),
}


@pytest.mark.parametrize("f", list(FLOAT_WRITES), ids=lambda f: f.__name__)
def test_a_write_into_a_float_array_keeps_its_derivative(f):
    v = np.array([0.5, -1.0, 2.0])
    for x in POINTS:
        want = FLOAT_WRITES[f](x)
        np.testing.assert_allclose(s2sgrad.grad(f)(x.copy(), K.copy()), want, rtol=1e-12)
        value, t = s2sgrad.jvp(f)(x.copy(), K.copy(), v)
        assert value == pytest.approx(f(x.copy(), K.copy()), rel=1e-12)
        assert t == pytest.approx(np.dot(want, v), rel=1e-12)
        # the gradients are linear in x: the Hessian is their difference along each axis
        hess = np.column_stack([FLOAT_WRITES[f](x + e) - want for e in np.eye(3)])
        np.testing.assert_allclose(s2sgrad.hessian(f)(x.copy(), K.copy()), hess,
                                   rtol=1e-9, atol=1e-12)
        if f is float_copied_into_where:
            # (the tracer has no rule for np.copyto: it says so, where the generated code runs)
            with pytest.raises(s2sgrad.errors.S2SGradError, match="copyto has no derivative"):
                s2sgrad.grad(f, fallback="always")(x.copy(), K.copy())
            continue
        traced = s2sgrad.grad(f, fallback="always")(x.copy(), K.copy())
        np.testing.assert_allclose(traced, want, rtol=1e-12)


@pytest.mark.parametrize("f", list(FLOAT_WRITES) + [added_into_an_item],
                         ids=lambda f: f.__name__)
@pytest.mark.auto_code
def test_code_specialized_to_a_float_array_checks_nothing(f):
    # where the shape analysis proves the array a float one, no dtype check is emitted
    args = (POINTS[0], K) if f in FLOAT_WRITES else _args(POINTS[0])
    for op in (s2sgrad.grad, s2sgrad.jvp):
        source = op(f, emit=True, example=args)
        if f in FLOAT_WRITES:
            assert "through_write" not in source and "_rt.in_place" not in source \
                and "_rt.copied_into" not in source, source
        else:       # (an integer array: the checks stay)
            assert "through_write" in source, source


def accumulated(x, k):
    acc = 0.0
    for i in range(3):
        acc += x[i] ** 2
    return acc


def test_an_accumulator_started_from_a_number_is_not_checked():
    # acc = 0.0; acc += v is a number (or a float array): no check in general code either
    x = POINTS[1]
    np.testing.assert_allclose(s2sgrad.grad(accumulated)(x.copy(), K), 2 * x, rtol=1e-12)
    source = s2sgrad.grad(accumulated, emit=True)
    assert "_rt.in_place" not in source, source


def vector_of_two(x, k):
    y = np.zeros_like(k)
    y[0] = x[0] * 2.1
    y[1] = x[1] * 3.7
    return y * x[0] + np.sin(x[1]) * 1.0


def test_jacobian_of_a_vector_output():
    # two inputs, six outputs: the Jacobian is built in forward mode, a batch of tangents
    k = np.arange(6)
    for x in (np.array([1.5, 2.5]), np.array([-0.4, 0.9])):
        y = np.zeros(6, int)
        y[0], y[1] = x[0] * 2.1, x[1] * 3.7
        want = np.column_stack([y * 1.0, np.full(6, np.cos(x[1]))])
        np.testing.assert_allclose(s2sgrad.jacobian(vector_of_two)(x.copy(), k), want,
                                   rtol=1e-12, atol=1e-12)


def float_arrays_made_here(x, k):
    y = np.zeros(3)
    y[0] = x[0] * 2.0
    z = np.zeros_like(x)        # (x is differentiated: the operators refuse integers)
    z[1] += x[1] * 3.0
    w = k * 1.0
    w[2] = x[2] * 4.0
    w += x
    return np.sum(y * x) + np.sum(z * x) + np.sum(w * x)


def test_general_code_knows_the_float_arrays_a_function_makes():
    # y = 2 x0 e0, z = 3 x1 e1, w = k + [0, 0, 4 x2 - k2] + x: no dtype check in general code
    x = POINTS[2]
    want = np.array([4.0 * x[0] + K[0] + 2 * x[0], 6.0 * x[1] + K[1] + 2 * x[1],
                     8.0 * x[2] + 2 * x[2]])
    np.testing.assert_allclose(s2sgrad.grad(float_arrays_made_here)(x.copy(), K), want,
                               rtol=1e-12)
    for op in (s2sgrad.grad, s2sgrad.jvp):
        source = op(float_arrays_made_here, emit=True)
        assert "through_write" not in source and "_rt.in_place" not in source, source


def keyword_argument_rebound(x, *, k):
    k = k * 1                   # (a keyword-only argument: its integers, not known inexact)
    k[0] = x[0] * 2.1
    return np.sum(k * x)


def bound_by_a_walrus(x, k):
    if (y := k * 1) is not None:
        y[0] = x[0] * 2.1
    return np.sum(y * x)


def test_names_bound_other_ways_are_not_taken_for_float_arrays():
    for x in POINTS:
        want = K.copy()
        want[0] = int(x[0] * 2.1)
        np.testing.assert_allclose(s2sgrad.grad(keyword_argument_rebound)(x.copy(), k=K.copy()),
                                   want, rtol=1e-12)
        np.testing.assert_allclose(s2sgrad.grad(bound_by_a_walrus)(x.copy(), K.copy()), want,
                                   rtol=1e-12)
