"""Silent wrong derivatives of the tracing fallback (``fallback="always"``): values that carry
a derivative and stopped being traced.  Each case gives the right derivative (against a
closed form or central finite differences) or an error naming the user's line."""

import collections
import dataclasses
import decimal
import fractions
import warnings

import numpy as np
import pytest

import s2sgrad

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")   # np.matrix


def _fd(f, x, eps=1e-6):
    """Central finite differences of a scalar function of an array."""
    x = np.asarray(x, dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


def _derivative(operator, f, x):
    """``grad`` of ``f`` at ``x``, or the ``jvp`` of ``f`` at ``x`` along a tangent of ones,
    both by the tracer."""
    if operator == "grad":
        return s2sgrad.grad(f, fallback="always")(x)
    return s2sgrad.jvp(f, fallback="always")(x, np.ones(np.shape(x)) if np.ndim(x) else 1.0)[1]


# --- arguments the tracer left unboxed, or boxed with another meaning than an ndarray's ---

def cube(x):
    return x * x * x


def sum_of_squares(x):
    return np.sum(x * x)


def weighted(d):
    return np.sum(d["a"] ** 2) * d["b"]


def first_two(s):
    return s[0] * s[1]


def total(s):
    return sum(s)


def of_field(x):
    return np.sum(x["a"] ** 2)


_REFUSED = [
    # (label, function, argument, what the error says it holds)
    ("fraction", cube, fractions.Fraction(1, 2), r"a fractions\.Fraction"),
    ("decimal", cube, decimal.Decimal("0.5"), r"a decimal\.Decimal"),
    ("fraction in a dict", weighted, {"a": np.array([0.3, 0.7]), "b": fractions.Fraction(2)},
     r"a fractions\.Fraction"),
    ("object array", sum_of_squares, np.array([0.5, 1.0], dtype=object),
     r"a NumPy array of dtype object"),
    ("structured array", of_field, np.array([(0.5, 1.0)], dtype=[("a", float), ("b", float)]),
     r"a structured NumPy array"),
    ("matrix", sum_of_squares, np.asarray([[0.5, 1.0], [2.0, 0.3]]).view(np.matrix),
     r"a numpy\.matrix"),
    ("masked array", sum_of_squares, np.ma.masked_array([0.5, 1.0, 2.0], mask=[0, 1, 0]),
     r"a numpy\.ma\.MaskedArray"),
    ("deque", first_two, collections.deque([1.0, 2.0]), r"a collections\.deque"),
    ("set", total, {1.0, 2.0}, r"a set"),
    ("frozenset", total, frozenset({1.0, 2.0}), r"a frozenset"),
]


@pytest.mark.parametrize("operator", ["grad", "jvp"])
@pytest.mark.parametrize("label, f, x, holds", _REFUSED, ids=[c[0] for c in _REFUSED])
def test_an_argument_the_tracer_cannot_follow_is_refused(operator, label, f, x, holds):
    """Each gave a silent zero or a wrong derivative: a Fraction's was the argument itself
    (1/2 for x**3 at 1/2), a Decimal's zero, an np.matrix's that of the elementwise product
    (its * is a matrix product), a masked array's counted its masked entries."""
    with pytest.raises(s2sgrad.UnsupportedError,
                       match=rf"test_hunt_tracer\.py:\d+: the argument of {f.__name__} that "
                             rf"holds {holds}.* cannot be traced; .*pass"):
        if operator == "grad":
            s2sgrad.grad(f, fallback="always")(x)
        else:
            s2sgrad.jvp(f, fallback="always")(x, x)


def test_a_fraction_is_a_number_not_an_object_with_attributes():
    """A Fraction has ``__slots__``: it was differentiated as an object without differentiable
    attributes, its derivative a copy of itself (1/2 for x**3 at 1/2), by the generated code
    as by the tracer."""
    assert s2sgrad.grad(cube)(fractions.Fraction(1, 2)) == pytest.approx(0.75)
    assert s2sgrad.jvp(cube)(fractions.Fraction(1, 2), 1.0)[1] == pytest.approx(0.75)


class _Plain(np.ndarray):
    """An ndarray subclass that changes no operation."""


def indexed(x):
    return x[0] ** 2 * x[1] + np.sum(np.sin(x))


@pytest.mark.parametrize("operator", ["grad", "jvp"])
def test_an_ndarray_subclass_that_keeps_ndarray_semantics_is_traced(operator):
    x = np.array([0.5, 1.5, -0.3])
    sub = x.view(_Plain)
    expected = _fd(indexed, x)
    got = _derivative(operator, indexed, sub)
    np.testing.assert_allclose(got, expected if operator == "grad" else np.sum(expected),
                               rtol=1e-6)


def test_a_list_of_strings_and_floats_is_still_traced():
    def f(d):
        return d["w"] ** 2 if d["name"] == "w" else 0.0
    g = s2sgrad.grad(f, fallback="always")({"w": 1.5, "name": "w", "tags": {"a", "b"}})
    assert g["w"] == pytest.approx(3.0)


# --- x.flat: the flat iterator of the plain value, its derivative dropped ---

def flat_read(x):
    return x.flat[1] ** 2 + np.sum(x.flat[2:4] * 3.0) + x.flat[-1] * x.flat[0]


def flat_iterate(x):
    return sum(v * v for v in x.flat)


def flat_write(x):
    y = x.copy()
    y.flat[1] = x.flat[0] ** 3
    y.flat[[0, 5]] = np.sin(x.flat[2:4])
    return np.sum(y * x)


def flat_write_into_zeros(x):
    y = np.zeros(6)
    y.flat[1:3] = x.flat[0:2] ** 2
    return np.sum(y * np.arange(6.0))


@pytest.mark.parametrize("operator", ["grad", "jvp"])
@pytest.mark.parametrize("f", [flat_read, flat_iterate, flat_write, flat_write_into_zeros])
def test_the_flat_iterator_of_a_traced_array_keeps_its_derivative(operator, f):
    """x.flat[1] ** 2 gave a derivative of zero: .flat was the plain array's iterator."""
    x = np.array([[0.5, 1.5, -0.3], [0.8, -1.1, 0.4]])
    expected = _fd(f, x)
    got = _derivative(operator, f, x)
    np.testing.assert_allclose(got, expected if operator == "grad" else np.sum(expected),
                               rtol=1e-6, atol=1e-8)


def test_a_read_through_flat_is_a_copy_as_numpys():
    def f(x):
        y = x.flat[0:2]
        y[0] = 10.0                # NumPy's x.flat[0:2] is a copy: x is not changed
        return np.sum(x ** 2) + np.sum(y * x[:2])
    x = np.array([0.5, 1.5, -0.3])
    np.testing.assert_allclose(s2sgrad.grad(f, fallback="always")(x), _fd(f, x), rtol=1e-6)


@pytest.mark.parametrize("attribute", ["data", "ctypes"])
def test_an_array_attribute_holding_the_values_is_refused(attribute):
    def f(x):
        getattr(x, attribute)
        return np.sum(x)
    with pytest.raises(s2sgrad.NoRuleError,
                       match=rf"test_hunt_tracer\.py:\d+: the array attribute \.{attribute} has "
                             rf"no derivative rule"):
        s2sgrad.grad(f, fallback="always")(np.array([0.5, 1.5]))


# --- boxes left in the user's module state by a finished trace ---

_CACHE = {}


def _inner(y):
    _CACHE["k"] = y * 2.0          # a box of the inner trace, kept after it ends
    return y ** 2


def _outer(x):
    g = s2sgrad.grad(_inner, fallback="always")(x)
    return g + _CACHE["k"]          # 2x + 2x


def _outer_returns_the_cache(x):
    s2sgrad.grad(_inner, fallback="always")(x)
    return _CACHE["k"] * x          # 2x * x


@pytest.mark.parametrize("f, expected", [(_outer, 4.0), (_outer_returns_the_cache, 4.0 * 1.5)])
def test_a_box_of_a_finished_trace_in_module_state_keeps_the_outer_derivative(f, expected):
    """The inner trace's box held the outer trace's: an operation on it was recorded on the
    finished inner trace's tape, so the outer trace saw none, a derivative of zero."""
    assert s2sgrad.grad(f, fallback="always")(1.5) == pytest.approx(expected)
    _, t = s2sgrad.jvp(f, fallback="always")(1.5, 1.0)
    assert t == pytest.approx(expected)


_STATE = {}


def _keeps(x):
    _STATE["a"] = x * 3.0
    return x


def _reads(y):
    return _STATE["a"] * y + y


def test_a_box_of_a_finished_trace_is_a_constant_and_no_box_is_handed_back():
    s2sgrad.grad(_keeps, fallback="always")(2.0)
    value, t = s2sgrad.jvp(_reads, fallback="always")(5.0, 1.0)
    assert type(value) is float and value == pytest.approx(35.0)
    assert t == pytest.approx(7.0)
    assert s2sgrad.grad(_reads, fallback="always")(5.0) == pytest.approx(7.0)
    plain = _STATE["a"] + 1.0       # outside any trace: a plain number
    assert type(plain) is float and plain == pytest.approx(7.0)


def _outer_float(x):
    s2sgrad.grad(_inner, fallback="always")(x)
    return float(_CACHE["k"]) * x   # k = 2x: the derivative is 4x, not 2x


def test_float_of_a_finished_traces_box_holding_a_running_traces_is_refused():
    """float() stripped every level of the box, the running trace's too: a derivative of
    2x, not 4x, without a word."""
    with pytest.raises(s2sgrad.S2SGradError, match=r"test_hunt_tracer\.py:\d+: a value s2sgrad "
                                                   r"is differentiating .* plain Python float"):
        s2sgrad.grad(_outer_float, fallback="always")(1.5)


# --- aliasing: arrays that are the same memory in NumPy, and were not in the trace ---

_M = np.array([[0.3, -0.7, 1.1], [0.5, 0.9, -0.2]])


def asarray_is_the_array(x):
    y = np.asarray(x)              # the same array: a write into y is a write into x
    y[0, 0] = 0.0
    return np.sum(x ** 2)


def asanyarray_of_float_is_the_array(x):
    y = np.asanyarray(x, dtype=float)
    x[0, 0] = 3.0 * x[1, 1]
    return np.sum(y ** 2)


def split_pieces_see_a_later_write(x):
    a, b, c = np.split(x, 3, axis=1)
    x[0, 1] = 5.0 * x[1, 1]
    return np.sum(b ** 2) + np.sum(a * c)


def unstack_pieces_see_a_later_write(x):
    a, b = np.unstack(x)
    x[0, 1] = 5.0 * x[1, 1]
    return np.sum(a ** 2)


def meshgrid_views_see_a_later_write(x):
    u, v = np.meshgrid(x[0], x[1], copy=False)
    x[0, 0] = 9.0 * x[1, 2]
    return np.sum(u ** 2 * v)


def atleast_1d_views_see_a_later_write(x):
    a, b = np.atleast_1d(x[0], x[1])
    x[1, 0] = 9.0 * x[0, 0]
    return np.sum(b ** 2) + np.sum(a)


def flatten_is_a_copy(x):
    y = x.flatten()
    x[0, 0] = 5.0
    y[1] = 2.0 * y[2]
    return np.sum(y * np.arange(6.0)) + np.sum(x ** 2)


@pytest.mark.parametrize("operator", ["grad", "jvp"])
@pytest.mark.parametrize("f", [asarray_is_the_array, asanyarray_of_float_is_the_array,
                               split_pieces_see_a_later_write, unstack_pieces_see_a_later_write,
                               meshgrid_views_see_a_later_write,
                               atleast_1d_views_see_a_later_write, flatten_is_a_copy])
def test_views_and_aliases_see_writes_as_numpys_do(operator, f):
    """np.asarray(x) was a new array (NumPy's is x itself); the pieces of np.split,
    np.unstack, np.meshgrid(copy=False) and np.atleast_1d(a, b) (views, in NumPy) did not
    see a later write into the array; x.flatten() was a view (NumPy's is a copy)."""
    expected = _fd(lambda v: f(v.copy()), _M)
    got = _derivative(operator, f, _M.copy())
    np.testing.assert_allclose(got, expected if operator == "grad" else np.sum(expected),
                               rtol=1e-6, atol=1e-8)


def test_a_write_into_a_piece_of_split_is_refused():
    def f(x):
        a, b = np.split(x, 2)
        a[0] = 0.0                 # changes x in NumPy
        return np.sum(x ** 2)
    with pytest.raises(s2sgrad.S2SGradError, match=r"test_hunt_tracer\.py:\d+: .* written "
                                                   r"through a view of another array"):
        s2sgrad.grad(f, fallback="always")(np.array([0.5, 1.5, -0.3, 2.0]))


# --- a constant np.matrix or masked array: NumPy's operators on it are not an ndarray's ---

with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    _MATRIX = np.asarray([[1.0, 2.0], [3.0, 4.0]]).view(np.matrix)
_MASKED = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])


def times_matrix(x):
    return np.sum(np.asarray(x * _MATRIX))       # x * M is the matrix product x @ M


def matrix_times(x):
    return np.sum(np.asarray(_MATRIX * x))


def times_masked(y):
    return np.sum(y * _MASKED)                   # the masked entry is left out


@pytest.mark.parametrize("operator", ["grad", "jvp"])
@pytest.mark.parametrize("f, x, kind", [
    (times_matrix, np.array([[0.3, -0.7], [1.1, 0.5]]), r"numpy\.matrix"),
    (matrix_times, np.array([[0.3, -0.7], [1.1, 0.5]]), r"numpy\.matrix"),
    (times_masked, np.array([0.3, -0.7, 1.1]), r"numpy\.ma\.MaskedArray")])
def test_an_operation_giving_a_matrix_or_masked_array_is_refused(operator, f, x, kind):
    """x * M of a constant np.matrix M gave the derivative of the elementwise product (M's *
    is a matrix product), y * m of a masked m counted the masked entry."""
    with pytest.raises(s2sgrad.UnsupportedError,
                       match=rf"test_hunt_tracer\.py:\d+: .* gave a {kind}.* cannot be traced"):
        _derivative(operator, f, x)


# --- functions declared without derivative whose output depends on a differentiated value ---

def bincount_weights(y):
    return np.sum(np.bincount(np.array([0, 1, 1]), weights=y) ** 2)


def histogram_weights(y):
    return np.sum(np.histogram(np.array([0.1, 0.5, 0.9]), bins=2, weights=y)[0] ** 2)


def histogram_edges(y):
    return np.sum(np.histogram(y, bins=2)[1] ** 2)     # the edges span min(y)..max(y)


def bin_edges(y):
    return np.sum(np.histogram_bin_edges(y, bins=3))


@pytest.mark.parametrize("fallback", ["auto", "always"])
@pytest.mark.parametrize("f, name", [(bincount_weights, "bincount"),
                                     (histogram_weights, "histogram"),
                                     (histogram_edges, "histogram"),
                                     (bin_edges, "histogram_bin_edges")])
def test_a_histogram_of_differentiated_values_is_refused(fallback, f, name):
    """np.bincount and the histograms were declared without derivative: the counts are, but
    not a weighted count (linear in the weights) nor the bin edges (from the values' range),
    whose derivatives came out zero, in generated code as in the tracer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        with pytest.raises(s2sgrad.NoRuleError, match=rf"test_hunt_tracer\.py:\d+: .*{name}"):
            s2sgrad.grad(f, fallback=fallback)(np.array([0.3, -0.7, 1.1]))


def test_a_histogram_of_constants_still_runs_in_a_traced_function():
    def f(y):
        counts, _ = np.histogram(np.array([0.1, 0.5, 0.9]), bins=2)
        return np.sum(counts * y[:2])
    np.testing.assert_allclose(s2sgrad.grad(f, fallback="always")(np.array([0.3, -0.7, 1.1])),
                               [1.0, 2.0, 0.0])    # counts [1, 2]


def test_a_function_without_rule_writing_into_a_constant_array_is_refused():
    """np.copyto into an array the tape holds (c, of y = x * c) would change the derivative
    of y after the fact: refused, not run on the constants."""
    def f(x):
        c = np.zeros(3)
        y = x * c
        np.copyto(c, np.ones(3))
        return np.sum(y) + np.sum(c * x)
    with pytest.raises(s2sgrad.NoRuleError, match=r"test_hunt_tracer\.py:\d+: numpy\.copyto"):
        s2sgrad.grad(f, fallback="always")(np.array([0.3, -0.7, 1.1]))


@pytest.mark.parametrize("operator", ["grad", "jvp"])
def test_a_function_without_rule_runs_on_arrays_of_constants(operator):
    def f(x):
        levels = np.unique(np.array([2.0, 1.0, 2.0, 3.0]))       # no rule: constants only
        return np.sum(levels * x)
    x = np.array([0.3, -0.7, 1.1])
    expected = np.array([1.0, 2.0, 3.0])
    got = _derivative(operator, f, x)
    np.testing.assert_allclose(got, expected if operator == "grad" else np.sum(expected))


# --- np.put_along_axis writes into its array and returns None ---

def put_into_zeros(y):
    a = np.zeros(3)
    np.put_along_axis(a, np.array([0]), y[2], 0)
    return np.sum(a ** 2) + y[0]


def put_into_a_copy(y):
    a = y.reshape(2, 2).copy()
    np.put_along_axis(a, np.array([[1], [0]]), y[:2, None] ** 3, axis=1)
    return np.sum(a * np.array([[1.0, 2.0], [3.0, 4.0]]))


@pytest.mark.parametrize("operator", ["grad", "jvp"])
@pytest.mark.parametrize("f, x", [(put_into_zeros, np.array([0.3, 0.7, 1.9])),
                                  (put_into_a_copy, np.array([0.3, 0.7, 1.9, -0.4]))])
def test_put_along_axis_writes_into_its_traced_array(operator, f, x):
    """The tracer applied the rule of put_along_axis (whose result is the array after the
    write) to NumPy's call, which writes into the plain array and returns None: a derivative
    of zero for the values written (and an AxisError in forward mode)."""
    expected = _fd(f, x)
    got = _derivative(operator, f, x)
    np.testing.assert_allclose(got, expected if operator == "grad" else np.sum(expected),
                               rtol=1e-6, atol=1e-8)


class _Holder:
    def make(self):
        return np.zeros(3)          # made in a method: a plain array, not traced


def test_put_along_axis_into_a_plain_array_is_refused():
    def f(y):
        a = _Holder().make()
        np.put_along_axis(a, np.array([0]), y[2], 0)
        return np.sum(a ** 2)
    with pytest.raises(s2sgrad.S2SGradError, match=r"test_hunt_tracer\.py:\d+: .* written into "
                                                   r"a plain NumPy array by numpy\.put_along_axis"):
        s2sgrad.grad(f, fallback="always")(np.array([0.3, 0.7, 1.9]))


# --- an operation that casts differentiated floats to integers ---

def sum_as_int(x):
    return x.sum(dtype=int) * x[0]            # int(0.3) + int(-0.7) + int(1.1) = 1


def np_sum_as_int64(x):
    return np.sum(x * 3.0, dtype=np.int64) * x[1]


def cumsum_as_int(x):
    return np.sum(np.cumsum(x * 2.0, dtype=int) * x)


def add_cast_to_int(x):
    return np.sum(np.add(x, x, dtype=int, casting="unsafe") * x)


@pytest.mark.parametrize("operator", ["grad", "jvp"])
@pytest.mark.parametrize("f", [sum_as_int, np_sum_as_int64, cumsum_as_int, add_cast_to_int])
def test_an_integer_result_of_floats_carries_no_derivative(operator, f):
    """x.sum(dtype=int) was differentiated as the sum of the floats: each element got a
    derivative of 1 where the truncated sum has none."""
    x = np.array([0.3, -0.7, 1.1])
    expected = _fd(f, x)
    got = _derivative(operator, f, x)
    np.testing.assert_allclose(got, expected if operator == "grad" else np.sum(expected),
                               rtol=1e-6, atol=1e-8)


def test_a_function_on_a_namedtuple_of_traced_arrays_is_traced():
    """np.stack of a namedtuple of traced arrays recursed without end (the tracer looked for
    boxes in plain tuples only and called NumPy, which handed the call back)."""
    pair = collections.namedtuple("pair", "a b")

    def f(x):
        return np.sum(np.stack(pair(x, x ** 2)) ** 2)
    x = np.array([0.3, -0.7, 1.1])
    np.testing.assert_allclose(s2sgrad.grad(f, fallback="always")(x), 2 * x + 4 * x ** 3)


def test_an_integer_result_of_floats_carries_no_second_derivative():
    def f(x):
        return x.sum(dtype=int) * x[0] ** 2 + np.sum(x ** 3)
    x = np.array([0.3, -0.7, 1.1])
    g = s2sgrad.grad(f, fallback="always")
    hess = np.stack([s2sgrad.jvp(g, fallback="always")(x, e)[1] for e in np.eye(3)])
    np.testing.assert_allclose(hess, np.diag(6 * x) + np.diag([2.0, 0.0, 0.0]), atol=1e-12)
    gg = np.stack([s2sgrad.grad(lambda v, i=i: g(v)[i], fallback="always")(x) for i in range(3)])
    np.testing.assert_allclose(gg, hess, atol=1e-12)


# --- an object as the output: its attributes' derivatives ---

@dataclasses.dataclass
class _Result:
    values: np.ndarray
    total: float
    label: str = "r"


class _Bag:
    def __init__(self, values, total):
        self.values, self.total = values, total


def make_result(x):
    return _Result(x ** 2, np.sum(np.sin(x)))      # a class without rule: traced


def make_plain(x):
    return _Bag(x ** 2, np.sum(np.sin(x)))


@pytest.mark.parametrize("fallback", ["auto", "always"])
@pytest.mark.parametrize("f", [make_result, make_plain])
def test_an_object_output_has_the_derivatives_of_its_attributes(fallback, f):
    """The tracer followed boxes in dicts, lists and tuples of the output only: an object's
    attributes kept their boxes (its value held them) and got a tangent and a cotangent of
    zero, also where the compiler falls back to it (the class has no rule)."""
    x = np.array([0.3, -0.7, 1.1])
    t = np.array([1.0, -2.0, 0.5])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        value, tangent = s2sgrad.jvp(f, fallback=fallback)(x, t)
        _, back = s2sgrad.vjp(f)(x)
        ct = back(type(value)(np.array([1.0, 2.0, 3.0]), 2.0))
    assert type(value.values) is np.ndarray and type(value.total) is not s2sgrad.fallback.Box
    np.testing.assert_allclose(value.values, x ** 2)
    np.testing.assert_allclose(tangent.values, 2 * x * t)
    assert tangent.total == pytest.approx(np.sum(np.cos(x) * t))
    np.testing.assert_allclose(ct, 2 * x * np.array([1.0, 2.0, 3.0]) + 2.0 * np.cos(x))


def test_a_namedtuple_derivative_is_a_namedtuple():
    pair = collections.namedtuple("pair", "a b")

    def f(p):
        return pair(p.a ** 2, p.a * p.b)
    x = pair(np.array([0.3, -0.7]), 2.0)
    for fallback in ("auto", "always"):
        g = s2sgrad.grad(lambda p: np.sum(p.a ** 2) * p.b, fallback=fallback)(x)
        assert type(g) is pair
        np.testing.assert_allclose(g.a, 2 * x.a * x.b)
        _, t = s2sgrad.jvp(f, fallback=fallback)(x, pair(np.ones(2), 0.0))
        assert type(t) is pair
        np.testing.assert_allclose(t.a, 2 * x.a)


def test_divmod_of_a_traced_number():
    """divmod(x, 0.5) raised Python's TypeError (a box had no __divmod__)."""
    def f(x):
        q, r = divmod(x[2], 0.5)
        q2, r2 = divmod(7.0, x[1] + 2.0)
        return r * x[0] + q * x[1] + r2
    x = np.array([0.3, -0.7, 1.1])
    for operator in ("grad", "jvp"):
        expected = _fd(f, x)
        got = _derivative(operator, f, x)
        np.testing.assert_allclose(got, expected if operator == "grad" else np.sum(expected),
                                   rtol=1e-6, atol=1e-8)


# --- outputs the derivative cannot follow ---

def returns_a_closure(x):
    return lambda t: x * t


def returns_a_set(x):
    return {x[0] ** 2}


def returns_a_deque(x):
    return collections.deque([x[0] ** 2, x[1]])


@pytest.mark.parametrize("fallback", ["auto", "always"])
@pytest.mark.parametrize("f, what", [(returns_a_closure, r"a function \(returns_a_closure"),
                                     (returns_a_set, r"a set of 1 items"),
                                     (returns_a_deque, r"a deque of 2 items")])
def test_an_output_without_derivative_structure_is_refused(fallback, f, what):
    """jvp gave a tangent of zero (an object array, for a set) and a value holding the
    trace's boxes."""
    x = np.array([0.3, -0.7, 1.1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        with pytest.raises(s2sgrad.NonDifferentiableError,
                           match=rf"test_hunt_tracer\.py:\d+: jvp\({f.__name__}\): "
                                 rf"{f.__name__} returned {what}"):
            s2sgrad.jvp(f, fallback=fallback)(x, np.ones(3))
