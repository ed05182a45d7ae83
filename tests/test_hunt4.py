"""The fourth tester's hunt: silently wrong derivatives found by writing small programs, each
checked against central finite differences in grad (general code, then code specialized to
the call's signature) and jvp, at several points."""

import warnings

import numpy as np
import pytest

import s2sgrad

POINTS = [np.array([0.3, 1.7, 2.4, -0.8, 1.1, 0.6]),
          np.array([-1.2, 0.4, 0.9, 2.2, -0.3, 1.5]),
          np.array([0.7, -0.6, 1.3, 0.2, 0.8, -1.9])]


def differences(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        a, b = x.copy(), x.copy()
        a[i] += h
        b[i] -= h
        g[i] = (f(a) - f(b)) / (2 * h)
    return g


def check(f, points=POINTS):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # (a refusal traces, saying so)
        g = s2sgrad.grad(f)
        j = s2sgrad.jvp(f)
        tangent = np.linspace(-1.0, 1.3, POINTS[0].size)
        for x in points:
            want = differences(f, x)
            for _ in range(2):          # general code, then specialized code
                given = x.copy()
                np.testing.assert_allclose(g(given), want, rtol=1e-6, atol=1e-7)
                np.testing.assert_array_equal(given, x)     # (the caller's array unchanged)
                value, t = j(x.copy(), tangent)
                assert value == pytest.approx(f(x.copy()), rel=1e-12)
                assert t == pytest.approx(np.dot(want, tangent), rel=1e-6, abs=1e-7)


# -- an in-place += through a view of an array that carries no derivative (yet) ---------
# The core language reads v += e as v = v + e; NumPy changes the array v views.  It was
# refused only where v or its source carried a derivative: with neither, the generated
# code left y as it was, a wrong value and a wrong gradient without a word.

def iadd_into_reshape_of_zeros(x):
    y = np.zeros((2, 3))
    r = y.reshape(6)
    r += x
    r *= x
    return np.sum(y)


def iadd_constant_into_slice_of_zeros(x):
    y = np.zeros(6)
    v = y[1:]
    v += 1.0
    return np.sum(y * x)


def iadd_constant_decides_a_branch(x):
    y = np.zeros(6)
    v = y[1:]
    v += 1.0
    if y[2] > 0.5:
        return np.sum(x ** 2)
    return np.sum(x)


def iadd_varied_slice_read_through_source(x):
    y = np.zeros(6)
    v = y[1:]
    v += x[1:]
    return np.sum(y * x)


def imul_source_of_a_constant_view(x):
    y = np.ones(6)
    v = y[1:]
    y *= 2.0
    return np.sum(v * x[1:])


# -- a view of a view, another name of another name, two views of one array -------------
# The alias check looked at one assignment at a time (w = v[::2] and v), not at what v was
# a view of: the write through w was lost for y.

def write_through_view_of_view(x):
    y = x * 1.0
    v = y[1:5]
    w = v[::2]
    w[:] = w ** 2
    return np.sum(y * x)


def write_into_base_read_through_view_of_view(x):
    y = x * 1.0
    v = y[1:5]
    w = v[::2]
    y[3] = x[0] * 5.0
    return np.sum(w * x[:2])


def write_through_view_of_view_of_argument(x):
    v = x[1:5]
    w = v[::2]
    w[0] = 3.0 * x[0]
    return np.sum(x ** 2)


def write_through_third_view(x):
    y = x * 1.0
    a = y[1:]
    b = a[1:]
    c = b[1:]
    c[0] = a[0] * 2.0
    return np.sum(y ** 2)


def iadd_through_view_of_view(x):
    y = x * 1.0
    v = y[1:5]
    w = v[::2]
    w += 1.0
    return np.sum(y * x)


def write_through_name_of_name(x):
    y = x * 1.0
    a = y
    b = a
    b[2] = x[1] * 4.0
    return np.sum(y * x)


def write_through_sibling_view(x):
    y = x * 1.0
    a = y[1:]
    b = y[:3]
    a[0] = x[0] * 5.0
    return np.sum(b * x[:3])


def write_through_sibling_view_of_ones(x):
    y = np.ones(6)
    a = y[1:]
    b = y[:3]
    a[1] = 4.0
    return np.sum(b * x[:3])


def write_through_view_of_view_in_loop(x):
    y = x * 1.0
    for i in range(3):
        v = y[i:i + 2]
        w = v[::1]
        w[0] = w[1] * 0.5
    return np.sum(y ** 2)


VIEWS = [iadd_constant_into_slice_of_zeros,
         iadd_constant_decides_a_branch, iadd_varied_slice_read_through_source,
         imul_source_of_a_constant_view, write_through_view_of_view,
         write_into_base_read_through_view_of_view, write_through_view_of_view_of_argument,
         write_through_third_view, iadd_through_view_of_view, write_through_name_of_name,
         write_through_sibling_view, write_through_sibling_view_of_ones,
         write_through_view_of_view_in_loop]


@pytest.mark.parametrize("f", VIEWS, ids=lambda f: f.__name__)
def test_writes_through_views_reach_every_name_of_the_memory(f):
    check(f)


def test_a_write_through_a_reshape_of_zeros_is_an_error_not_a_wrong_value():
    # (the generated code gave 0 for sum(y) and a zero gradient; the tracer refuses the write
    # through the reshaped view, naming the line)
    x = POINTS[0].copy()
    for op in (s2sgrad.grad(iadd_into_reshape_of_zeros),
               lambda x: s2sgrad.jvp(iadd_into_reshape_of_zeros)(x, np.ones(6))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(s2sgrad.S2SGradError, match=r"test_hunt4.py:\d+: .*written "
                               r"through a view"):
                op(x)


def test_the_refusal_names_the_line_and_the_name_read():
    with pytest.raises(s2sgrad.UnsupportedError) as info:
        s2sgrad.grad(write_through_view_of_view, fallback="never")(POINTS[0].copy())
    text = str(info.value)
    assert "test_hunt4.py:" in text and "w = v[::2]" in text and "'y'" in text


# -- forward mode: a method known only at run time of a value that carries a derivative ------
# The positions of the call's values with tangents count the receiver first (as reverse mode
# reads them); forward mode read them in the arguments alone: the receiver's tangent was
# dropped (0 for s.energy(c) with c constant) or an IndexError (s.energy(x[3:]), x.view()).

class Spring:
    def __init__(self, k):
        self.k = k

    def energy(self, x):
        return 0.5 * np.sum(self.k * x ** 2)


def make_spring(k):
    return Spring(k)


def method_of_an_object_made_from_the_argument(x):
    s = make_spring(x[:3] * x[3:])
    c = np.array([1.0, 2.0, 0.5])
    return s.energy(c) + x[0]


def method_of_an_object_given_the_argument(x):
    s = make_spring(x[:3] * 1.0)
    return s.energy(x[3:])


@pytest.mark.parametrize("f", [method_of_an_object_made_from_the_argument,
                               method_of_an_object_given_the_argument], ids=lambda f: f.__name__)
def test_forward_mode_keeps_the_tangent_of_a_run_time_method_receiver(f):
    check(f)


def compress_without_a_rule(x):
    return np.sum(x.compress([True, False, True, True, False, True]) ** 2)


def test_an_array_method_without_a_rule_is_an_error_naming_it_in_both_modes():
    # (jvp gave 0; grad a TypeError from NumPy that named nothing of the user's)
    x = POINTS[0].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in (s2sgrad.grad(compress_without_a_rule),
                   lambda x: s2sgrad.jvp(compress_without_a_rule)(x, np.ones(6))):
            for _ in range(2):
                with pytest.raises(s2sgrad.NoRuleError,
                                   match=r"test_hunt4.py:\d+: the array method \.compress has "
                                         r"no derivative rule"):
                    op(x.copy())


# -- a view of an array kept in a container, given to a function that writes into it, or
# made by y.view() ------------------------------------------------------------------------
# The effect model followed names put in containers (l = [y]) and names given to a callee
# (f(y)), not views (l = [y[:2]], f(y[2:]), which the normalizer names t = y[2:]; f(t)):
# the write reached y, and the generated code left y as it was.

def write_into_a_list_of_views(x):
    y = x * 1.0
    parts = [y[:2], y[2:4], y[4:]]
    parts[1][0] = x[0] * 9.0
    return np.sum(y * x)


def write_into_a_dict_of_a_view(x):
    y = x * 1.0
    d = {"head": y[:2]}
    d["head"][1] = x[3] ** 2
    return np.sum(y * x)


def write_into_a_view_taken_out_of_a_list(x):
    y = x * 1.0
    rows = [y[0:3], y[3:6]]
    r = rows[0]
    r[2] = 5.0 * x[0]
    return np.sum(y * x)


def write_into_an_appended_view(x):
    y = x * 1.0
    parts = []
    parts.append(y[1:4])
    parts[0][2] = x[5] * x[0]
    return np.sum(y * x)


def _triple_first(v):
    v[0] = v[0] * 3.0


def callee_writes_into_a_slice_given(x):
    y = x * 1.0
    _triple_first(y[2:])
    return np.sum(y * x)


def callee_writes_into_a_row_given(x):
    Y = (x * 1.0).reshape(2, 3)
    _triple_first(Y[1])
    return np.sum(Y * Y)


def write_through_view_method(x):
    y = x * 1.0
    v = y.view()
    v[1] = x[2] * 3.0
    return np.sum(y * x)


EFFECTS = [write_into_a_list_of_views, write_into_a_dict_of_a_view,
           write_into_a_view_taken_out_of_a_list, write_into_an_appended_view,
           callee_writes_into_a_slice_given]


@pytest.mark.parametrize("f", EFFECTS, ids=lambda f: f.__name__)
def test_a_write_into_a_view_reaches_the_array_it_views(f):
    check(f)


def test_a_callee_writing_into_a_row_given_is_an_error_not_a_wrong_gradient():
    # (the generated code lost the write into Y's row; the tracer refuses the write through
    # the row's view, naming the line)
    x = POINTS[0].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in (s2sgrad.grad(callee_writes_into_a_row_given),
                   lambda x: s2sgrad.jvp(callee_writes_into_a_row_given)(x, np.ones(6))):
            with pytest.raises(s2sgrad.S2SGradError, match=r"test_hunt4.py:\d+: .*written "
                                                           r"through a view"):
                op(x)


def test_a_write_through_y_view_is_an_error_not_a_wrong_gradient():
    # (the gradient lost the write: [0.6, 3.4, 4.8, ...] for [0.6, 7.2, 9.9, ...]; the tracer
    # has no rule for .view, and says so at the line)
    x = POINTS[0].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in (s2sgrad.grad(write_through_view_method),
                   lambda x: s2sgrad.jvp(write_through_view_method)(x, np.ones(6))):
            with pytest.raises(s2sgrad.NoRuleError, match=r"test_hunt4.py:\d+: the array "
                                                          r"method \.view has no derivative"):
                op(x)


def test_a_list_of_copies_is_still_transformed():
    # (the views rule must not refuse what holds no view: a list of new arrays)
    def f(x):
        y = x * 1.0
        parts = [y[:2] * 1.0, y[2:4] + 0.5]
        parts[1][0] = x[0] * 9.0
        return np.sum(y * x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # (a trace would warn)
        g = s2sgrad.grad(f)(POINTS[0].copy())
    np.testing.assert_allclose(g, differences(f, POINTS[0]), rtol=1e-6, atol=1e-7)


# -- a function of yours that returns a view of what it is given -------------------------
# ``v = head(y)`` was a new array to the alias check: v[0] = ... was lost for y.

def _head(y):
    return y[:2]


def _halves(y):
    return y[:3], y[3:]


def _head_of_head(y):
    h = _head(y)
    return h


def write_into_what_a_helper_returns(x):
    y = x * 1.0
    v = _head(y)
    v[0] = x[5] * 3.0
    return np.sum(y * x)


def write_into_a_part_a_helper_returns(x):
    y = x * 1.0
    a, b = _halves(y)
    b[0] = x[0] * 4.0
    return np.sum(y * x)


def write_into_what_a_helper_of_a_helper_returns(x):
    y = x * 1.0
    v = _head_of_head(y)
    v[1] = x[2] ** 2
    return np.sum(y * x)


def _scaled(y):
    return y * 2.0


def write_into_a_new_array_a_helper_returns(x):
    y = x * 1.0
    v = _scaled(y)
    v[0] = x[5] * 3.0
    return np.sum(y * x) + np.sum(v)


@pytest.mark.parametrize("f", [write_into_what_a_helper_returns,
                               write_into_a_part_a_helper_returns,
                               write_into_what_a_helper_of_a_helper_returns],
                         ids=lambda f: f.__name__)
def test_a_write_into_a_view_a_helper_returns_reaches_the_array(f):
    check(f)


def test_a_new_array_a_helper_returns_is_still_transformed():
    f = write_into_a_new_array_a_helper_returns
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # (a trace would warn)
        g = s2sgrad.grad(f)(POINTS[1].copy())
    np.testing.assert_allclose(g, differences(f, POINTS[1]), rtol=1e-6, atol=1e-7)


# -- a NumPy call or method lowered to a new value that changes an array in place --------
# a.sort(), np.add.at(a, ...), np.put_along_axis(a, ...), np.fill_diagonal(a, ...) become
# a = _rt.<helper>(a, ...) in the core language: for a view a (or an array another name
# holds), the write was lost for the array viewed, a wrong value and gradient.

def sort_through_a_slice(x):
    y = x * 1.0
    v = y[1:5]
    v.sort()
    return np.sum(y * np.arange(6.0))


def sort_read_through_another_name(x):
    y = x * 1.0
    z = y
    y.sort()
    return np.sum(z * np.arange(6.0))


def add_at_through_a_slice(x):
    y = x * 1.0
    v = y[2:]
    np.add.at(v, [0, 0, 1], x[:3] ** 2)
    return np.sum(y * x)


def add_at_into_a_slice_given(x):
    y = x * 1.0
    np.add.at(y[2:], [0, 0, 1], x[:3] ** 2)
    return np.sum(y * x)


def put_along_axis_through_a_slice(x):
    y = (x * 1.0).reshape(2, 3)
    v = y[:, 1:]
    np.put_along_axis(v, np.array([[0], [1]]), x[:2, None] * 3.0, axis=1)
    return np.sum(y * y)


def fill_diagonal_through_a_block(x):
    Y = np.outer(x[:3], x[3:])
    V = Y[:2, :2]
    np.fill_diagonal(V, x[:2] ** 2)
    return np.sum(Y * Y)


def fill_diagonal_of_a_block_given(x):
    Y = np.outer(x[:3], x[3:])
    np.fill_diagonal(Y[1:, 1:], x[:2] ** 2)
    return np.sum(Y * Y)


LOWERED_IN_PLACE = [sort_through_a_slice, sort_read_through_another_name,
                    add_at_through_a_slice, add_at_into_a_slice_given,
                    put_along_axis_through_a_slice, fill_diagonal_through_a_block,
                    fill_diagonal_of_a_block_given]


@pytest.mark.parametrize("f", LOWERED_IN_PLACE, ids=lambda f: f.__name__)
def test_a_lowered_in_place_call_on_a_view_is_an_error_not_a_wrong_gradient(f):
    # (refused by the transform, traced; the tracer has no rule for these writes and says so
    # at the line; the generated code gave a wrong gradient without a word)
    x = POINTS[0].copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in (s2sgrad.grad(f), lambda x: s2sgrad.jvp(f)(x, np.ones(6))):
            with pytest.raises(s2sgrad.S2SGradError, match=r"test_hunt4.py:\d+: "):
                op(x.copy())
    with pytest.raises(s2sgrad.UnsupportedError, match=r"test_hunt4.py:\d+: "):
        s2sgrad.grad(f, fallback="never")(x.copy())


def sort_a_list_read_through_another_name(x):
    l = [x[2] * 1.0, x[0] * 2.0, x[1] * 0.5]
    m = l
    l.sort()
    return m[0] * 3.0 + m[2]


def write_into_an_item_dict_get_returns(x):
    d = {"a": x * 1.0}
    v = d.get("a")
    v[0] = x[1] * 3.0
    return np.sum(d["a"] * x)


def write_into_an_item_setdefault_returns(x):
    d = {}
    v = d.setdefault("a", x * 1.0)
    v[1] = x[0] * 5.0
    return np.sum(d["a"] * x)


@pytest.mark.parametrize("f", [sort_a_list_read_through_another_name,
                               write_into_an_item_dict_get_returns,
                               write_into_an_item_setdefault_returns], ids=lambda f: f.__name__)
def test_a_change_through_one_name_of_a_container_item_reaches_the_other(f):
    check(f)


def sort_in_place_of_a_new_array(x):
    y = x * 1.0
    y.sort()
    np.add.at(y, [0, 0, 1], x[:3] ** 2)
    return np.sum(y * np.arange(6.0))


def test_an_in_place_sort_and_add_at_of_a_new_array_are_still_transformed():
    f = sort_in_place_of_a_new_array
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # (a trace would warn)
        for x in POINTS:
            np.testing.assert_allclose(s2sgrad.grad(f)(x.copy()), differences(f, x),
                                       rtol=1e-6, atol=1e-7)


# -- op= into a slice with computed bounds ---------------------------------------------
# y[i:i + 2] += v named its index first: "index = i:i + 2", a SyntaxError in the generated
# code (grad, jvp, and the hessian of any function whose gradient has such a write).

def add_into_a_sliding_window(x):
    y = np.zeros(7)
    for i in range(5):
        y[i:i + 2] += x[i] * x[i + 1]
    return np.sum(y ** 2)


def scale_a_strided_slice(x):
    y = x * 1.0
    k = 1
    y[k:k + 4:2] *= x[0]
    return np.sum(y ** 2)


def add_into_a_moving_block(x):
    Y = np.zeros((3, 3))
    for i in range(2):
        Y[i:i + 2, i] += x[i:i + 2]
    return np.sum(Y ** 2) + np.sum(Y[0] * x[3:])


def grown_by_concatenation(x):
    out = np.array([])
    for i in range(3):
        out = np.concatenate([out, x[i:i + 2] * i])
    return np.sum(out ** 2)


@pytest.mark.parametrize("f", [add_into_a_sliding_window, scale_a_strided_slice,
                               add_into_a_moving_block], ids=lambda f: f.__name__)
def test_op_into_a_slice_with_computed_bounds(f):
    check(f)


@pytest.mark.parametrize("f", [add_into_a_sliding_window, grown_by_concatenation],
                         ids=lambda f: f.__name__)
def test_the_hessian_of_a_function_whose_gradient_writes_into_a_computed_slice(f):
    x = POINTS[1]
    g = s2sgrad.grad(f)
    want = np.stack([differences(lambda z: g(z.copy())[i], x) for i in range(x.size)])
    for _ in range(2):
        np.testing.assert_allclose(s2sgrad.hessian(f)(x.copy()), want, rtol=1e-5, atol=1e-6)


# -- the batched forward mode (hessian, jacobian) writing into a broadcast tangent -------
# t_y = batch_broadcast_like(...) is a read-only view; t_y[:, 1] = ... after it raised
# "assignment destination is read-only" (the batch helpers were not known as views).

def broadcast_then_write_a_column(x):
    y = np.zeros((3, 2))
    y += x[:3, None]
    y[:, 1] *= x[3:]
    return np.sum(y ** 2)


def broadcast_then_write_a_column_vector(x):
    y = np.zeros((3, 2))
    y += x[:3, None]
    y[:, 1] *= x[3:]
    return y.ravel() * 2.0


def test_the_hessian_writes_into_the_tangent_of_a_broadcast():
    f = broadcast_then_write_a_column
    for x in POINTS:
        g = s2sgrad.grad(f)
        want = np.stack([differences(lambda z: g(z.copy())[i], x) for i in range(x.size)])
        for _ in range(2):
            np.testing.assert_allclose(s2sgrad.hessian(f)(x.copy()), want, rtol=1e-5,
                                       atol=1e-6)


def test_the_jacobian_writes_into_the_tangent_of_a_broadcast():
    f = broadcast_then_write_a_column_vector
    for x in POINTS:
        want = np.stack([differences(lambda z: f(z.copy())[i], x) for i in range(6)])
        for _ in range(2):
            np.testing.assert_allclose(s2sgrad.jacobian(f)(x.copy()), want, rtol=1e-6,
                                       atol=1e-7)


# -- the simplifier's x * 1.0 -> x in a method's object ------------------------------------
# (x * 1.0).reshape(2, 3) became x.reshape(2, 3), a view of x (the shape (2, 3) was taken for
# the array viewed): a write into it changed the caller's x through jvp, and the value and
# tangent were wrong (8.1 and 16.8 for 20.25 and 33.0).

def swap_rows_of_a_reshaped_copy(x):
    Y = (x * 1.0).reshape(2, 3)
    Y[[0, 1]] = Y[[1, 0]]
    return np.sum(Y * x.reshape(2, 3) * np.arange(6.0).reshape(2, 3))


def write_into_a_transposed_copy(x):
    Y = (x + 0.0).reshape(3, 2).transpose()
    Y[0, 1] = x[4] * 3.0
    return np.sum(Y * Y) + np.sum(x.reshape(3, 2) * np.arange(6.0).reshape(3, 2))


def write_into_the_T_of_a_copy(x):
    Y = (x.reshape(2, 3) + 0.0).T
    Y[0, 0] = x[5] * 2.0
    return np.sum(Y ** 2) + np.sum(x.reshape(2, 3) * 2.0)


@pytest.mark.parametrize("f", [swap_rows_of_a_reshaped_copy, write_into_a_transposed_copy,
                               write_into_the_T_of_a_copy], ids=lambda f: f.__name__)
def test_a_view_of_a_new_array_stays_new_when_written(f):
    check(f)
    x = POINTS[0].copy()
    for _ in range(2):
        s2sgrad.jvp(f)(x, np.ones(6))
        np.testing.assert_array_equal(x, POINTS[0])     # (the caller's array unchanged)


# -- the share pass's x * 1.0 -> x inside a view --------------------------------------------
# y = np.real(x * 1.0) (or (x * 1.0).reshape(...)) then y[2] = ...: the joint gradient that
# hessian and hvp differentiate read y = np.real(x), a view of x written into (refused there,
# traced, and the tracer failed on it; run as it stood, it changed x).

def write_into_the_real_part_of_a_copy(x):
    y = np.real(x * 1.0)
    y[2] = x[0] * 3.0
    return np.sum(y * x)


def write_into_a_reshaped_copy(x):
    Y = (x * 1.0).reshape(2, 3)
    Y[1, 1] = x[0] ** 2
    return np.sum(Y * x.reshape(2, 3) * Y)


@pytest.mark.parametrize("f", [write_into_the_real_part_of_a_copy, write_into_a_reshaped_copy],
                         ids=lambda f: f.__name__)
def test_second_derivatives_of_a_write_into_a_view_of_a_copy(f):
    x = POINTS[2]
    g = s2sgrad.grad(f)
    want = np.stack([differences(lambda z: g(z.copy())[i], x) for i in range(x.size)])
    v = np.linspace(-1.0, 1.0, x.size)
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # (transformed: no trace)
        for _ in range(2):
            given = x.copy()
            np.testing.assert_allclose(s2sgrad.hessian(f)(given), want, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(s2sgrad.hvp(f)(given, v), want @ v, rtol=1e-5,
                                       atol=1e-6)
            np.testing.assert_array_equal(given, x)


# -- a callee's v /= e on a slice it is given ---------------------------------------------
# f(y[:3]) names the slice (t = y[:3]); t was not known for an array, so the callee's
# v /= e was taken for a new number's and the change to y was lost.

def _normalize_in_place(v):
    v /= np.sqrt(np.sum(v ** 2))


def callee_divides_a_slice_in_place(x):
    y = x * 1.0
    _normalize_in_place(y[:3])
    return np.sum(y * np.arange(6.0))


def test_a_callee_dividing_a_slice_in_place_changes_the_array():
    check(callee_divides_a_slice_in_place)


# -- a view read before a write into the array it views, not after ------------------------
# v = Q[:, j]; n = norm(v); Q[:, j] = v / n: the backward sweep (and forward mode's tangent
# code) read v after the write had changed it, a silently wrong gradient in classical
# Gram-Schmidt. v is now a copy there (nothing reads it after the write, so no value tells).

def normalize_a_column_in_place(x):
    Q = x.reshape(3, 2) * 1.0
    v = Q[:, 0]
    n = np.linalg.norm(v)
    Q[:, 0] = v / n
    return np.sum(Q * np.arange(6.0).reshape(3, 2))


def gram_schmidt(x):
    A = x.reshape(3, 2) + np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    Q = A.copy()
    for j in range(2):
        v = Q[:, j]
        for i in range(j):
            v = v - (Q[:, i] @ A[:, j]) * Q[:, i]
        Q[:, j] = v / np.linalg.norm(v)
    return np.sum(Q * np.arange(6.0).reshape(3, 2))


@pytest.mark.parametrize("f", [normalize_a_column_in_place, gram_schmidt],
                         ids=lambda f: f.__name__)
def test_a_view_read_only_before_its_array_is_written(f):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # (transformed: no trace)
        check_points = [x for x in POINTS]
        g = s2sgrad.grad(f)
        for x in check_points:
            np.testing.assert_allclose(g(x.copy()), differences(f, x), rtol=1e-6, atol=1e-7)
    check(f)


def test_the_hessian_of_normalizing_a_column_in_place():
    # (gram_schmidt's hessian is still traced, and the tracer refuses it: the joint gradient
    # keeps a view of Q[:, i] that a later iteration's write changes)
    f = normalize_a_column_in_place
    g = s2sgrad.grad(f)
    for x in POINTS:
        want = np.stack([differences(lambda z: g(z.copy())[i], x) for i in range(x.size)])
        np.testing.assert_allclose(s2sgrad.hessian(f)(x.copy()), want, rtol=1e-5, atol=1e-6)
