"""Defects the testers found that were loud (a crash, a garbled message) or inconsistent,
not silently wrong numbers: each test failed before its fix and checks real values
(central finite differences) or the exact error."""

import collections
import warnings

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import specialize
from s2sgrad.errors import UnsupportedError
from s2sgrad.fallback import FallbackWarning

EPS = 1e-6

P = collections.namedtuple("P", "a b")


def fd_fields(f, p, *rest):
    """Central differences of scalar ``f(p, *rest)`` with respect to each field of
    namedtuple ``p`` (floats or arrays): a ``P`` of the derivatives."""
    out = []
    for k in range(len(p)):
        base = np.array(p[k], dtype=float)
        g = np.zeros_like(base)
        for idx in np.ndindex(base.shape):
            parts = []
            for sign in (1, -1):
                moved = base.copy()
                moved[idx] += sign * EPS
                value = moved if isinstance(p[k], np.ndarray) else float(moved)
                parts.append(f(p._replace(**{p._fields[k]: value}), *rest))
            g[idx] = (parts[0] - parts[1]) / (2 * EPS)
        out.append(g if isinstance(p[k], np.ndarray) else float(g))
    return type(p)(*out)


def fd(f, x, eps=EPS):
    """Central differences of ``f`` (any output shape) with respect to array or float ``x``:
    ``out.shape + x.shape``."""
    x = np.asarray(x, dtype=float)
    cols = []
    for idx in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[idx] = eps
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(cols[0]) + x.shape)


# ---------------------------------------------------------------------------
# 1. A namedtuple read both as p.a and as p[0]
# ---------------------------------------------------------------------------

def nt_both(p, x):
    return p.a * x + p[0] ** 2 * p[1]


def nt_unpacked(p, x):
    a, b = p
    return a * x + p.b ** 2


def _by_name(q):
    return q.a * q.b


def nt_callee_by_name(p, x):
    return _by_name(p) + p[0] * x


def nt_sum(p, x):
    return p.a * x + sum(p)


def nt_loop(p, x):
    s = 0.0
    for i in range(2):
        s = s + p[i] * p.a * x
    return s


def nt_alias(p, x):
    t = p[0] * p.b
    q = p
    return t * q[1] + q.a * x


def nt_arrays(p, x):
    return np.sum(np.tanh(p.a @ x) * p[1]) + np.sum(p[0] ** 2)


_RNG = np.random.default_rng(3)
_NT_CASES = [
    (nt_both, P(1.5, 2.0), 3.0),
    (nt_unpacked, P(1.5, 2.0), 3.0),
    (nt_callee_by_name, P(1.5, 2.0), 3.0),
    (nt_sum, P(1.5, 2.0), 3.0),
    (nt_loop, P(1.5, -0.5), 3.0),
    (nt_alias, P(1.5, 2.0), 3.0),
    (nt_arrays, P(_RNG.normal(size=(2, 3)), _RNG.normal(size=2)), _RNG.normal(size=3)),
]


@pytest.mark.parametrize("code", ["general", "specialized"])
@pytest.mark.parametrize("f, p, x", _NT_CASES, ids=[c[0].__name__ for c in _NT_CASES])
def test_namedtuple_by_name_and_position_grad(f, p, x, code):
    with specialize.using(code), warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)      # generated code, not traced
        g = s2sgrad.grad(f)(p, x)
        value, g2 = s2sgrad.value_and_grad(f)(p, x)
    expected = fd_fields(f, p, x)
    assert type(g) is P and type(g2) is P
    assert value == pytest.approx(f(p, x))
    for got in (g, g2):
        for u, v in zip(got, expected):
            np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("code", ["general", "specialized"])
def test_namedtuple_by_name_and_position_other_operand(code):
    # the derivative with respect to x beside the namedtuple, and the namedtuple untouched
    p = P(1.5, 2.0)
    with specialize.using(code):
        gx = s2sgrad.grad(nt_both, 1)(p, 3.0)
        gp, gx2 = s2sgrad.grad(nt_both, (0, 1))(p, 3.0)
    assert gx == pytest.approx(1.5, rel=1e-12) and gx2 == pytest.approx(1.5, rel=1e-12)
    assert gp == pytest.approx(fd_fields(nt_both, p, 3.0), rel=1e-6)
    assert p == P(1.5, 2.0)


@pytest.mark.parametrize("code", ["general", "specialized"])
@pytest.mark.parametrize("f", [nt_both, nt_callee_by_name, nt_alias])
def test_namedtuple_by_name_and_position_jvp(f, code):
    p, x = P(1.5, 2.0), 3.0
    expected = fd_fields(f, p, x)
    with specialize.using(code), warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)      # generated code, not traced
        for k, t in enumerate((P(1.0, 0.0), P(0.0, 1.0))):
            value, tangent = s2sgrad.jvp(f)(p, x, t)
            assert value == pytest.approx(f(p, x))
            assert tangent == pytest.approx(expected[k], rel=1e-6)
        _, tx = s2sgrad.jvp(f, 1)(p, x, 1.0)
    assert tx == pytest.approx((f(p, x + EPS) - f(p, x - EPS)) / (2 * EPS), rel=1e-6)


class _Model:
    def __init__(self, w, n):
        self.w = w
        self.n = n


def _model_loss(m, x):
    return np.sum(np.tanh(m.w * x)) * m.n


@pytest.mark.parametrize("code", ["general", "specialized"])
def test_attributes_in_forward_mode_are_generated(code):
    # an object's attributes read in jvp: the tangent's part by name, an int attribute's zero
    m, x = _Model(np.array([1.5, 0.5]), 3), np.array([2.0, -1.0])
    direction = np.array([0.3, -0.7])
    moved = [(_model_loss(_Model(m.w + h * direction, 3), x)) for h in (EPS, -EPS)]
    expected = (moved[0] - moved[1]) / (2 * EPS)
    as_object = _Model(direction, 7)              # (7: an int's tangent is zero whatever it is)
    with specialize.using(code), warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        for tangent in (as_object, {"w": direction, "n": 7}):
            value, t = s2sgrad.jvp(_model_loss)(m, x, tangent)
            assert value == pytest.approx(_model_loss(m, x), rel=1e-15)
            assert t == pytest.approx(expected, rel=1e-7)
    assert "_rt.attribute_tangent(t_m, m, 'w')" in s2sgrad.jvp(_model_loss, emit=True)


def test_namedtuple_adjoint_by_name_and_position_runtime():
    # the runtime's adjoint of a namedtuple: one item per field, reached by name too
    from s2sgrad import runtime as rt
    p = P(1.5, np.array([1.0, 2.0]))
    d = rt.zeros_like(p)
    d["a"] += 2.0
    d[1] += np.array([3.0, 4.0])
    d = rt.add(d, {"a": 1.0})                   # a callee's adjoint, kept by name
    d = rt.add({"b": np.array([1.0, 1.0])}, d)
    out = rt.match(d, p)
    assert type(out) is P and out.a == 3.0
    np.testing.assert_array_equal(out.b, [4.0, 5.0])
    with pytest.raises(KeyError, match="'c'"):
        d["c"]


# ---------------------------------------------------------------------------
# 2. The fallback="always" of an inner derivative holds for the outer one
# ---------------------------------------------------------------------------

def sum_sin_first(x):
    return np.sum(np.sin(x) * x[0])


def sin_square(x):
    return np.sin(x) * x ** 2


def test_jacobian_of_grad_always_traces():
    g = s2sgrad.grad(sum_sin_first, fallback="always")
    assert s2sgrad.jacobian(g, emit=True).startswith(
        "# s2sgrad traces grad(sum_sin_first) (test_loud_fixes.py:")
    x = np.array([0.3, 0.5, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)      # the user chose it: no warning
        jac = s2sgrad.jacobian(g)(x)
    np.testing.assert_allclose(jac, fd(s2sgrad.grad(sum_sin_first), x), rtol=1e-6, atol=1e-8)
    # the generated gradient, differentiated again, agrees
    np.testing.assert_allclose(jac, s2sgrad.jacobian(s2sgrad.grad(sum_sin_first))(x), rtol=1e-12)


def test_hessian_of_grad_always_traces():
    g = s2sgrad.grad(sin_square, fallback="always")
    assert s2sgrad.hessian(g, emit=True).startswith("# s2sgrad traces grad(sin_square)")
    x = 0.7
    third = -np.cos(x) * x ** 2 - 6 * np.sin(x) * x + 6 * np.cos(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        got = s2sgrad.hessian(g)(x)
    assert got == pytest.approx(third, rel=1e-9)
    assert s2sgrad.jacobian(s2sgrad.jvp(sin_square, fallback="always"), emit=True).startswith(
        "# s2sgrad traces jvp(sin_square)")


def test_always_inside_a_function_is_traced_and_never_outside_refuses():
    g = s2sgrad.grad(sum_sin_first, fallback="always")

    def k(x):
        return np.sum(g(x) ** 2)

    x = np.array([0.3, 0.5, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        got = s2sgrad.grad(k)(x)
        _, tangent = s2sgrad.jvp(k)(x, np.array([1.0, -2.0, 0.5]))
    expected = fd(k, x)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert tangent == pytest.approx(expected @ [1.0, -2.0, 0.5], rel=1e-6)
    with pytest.raises(UnsupportedError, match="made by s2sgrad with fallback='always'"):
        s2sgrad.grad(k, fallback="never")(x)


# ---------------------------------------------------------------------------
# 3. d.popitem() in forward mode
# ---------------------------------------------------------------------------

def popitem_unpacked(x):
    d = {"a": x * 2.0, "b": x ** 2}
    k, v = d.popitem()
    return v * d["a"]


def popitem_then_insert(x):
    d = {"a": x * 2.0}
    d["b"] = x ** 2
    item = d.popitem()
    d["c"] = item[1] * 3.0
    s = 0.0
    for k in d.keys():
        s = s + d[k] * x
    return s


def popitem_twice_in_expressions(x):
    d = {"a": x * 2.0, "b": np.sin(x), "c": np.cos(x)}
    d.popitem()
    s = 0.0
    for w in d.values():
        s = s + w
    return d.popitem()[1] * x + s


@pytest.mark.parametrize("code", ["general", "specialized"])
@pytest.mark.parametrize("f", [popitem_unpacked, popitem_then_insert,
                               popitem_twice_in_expressions])
def test_popitem_in_both_modes(f, code):
    x = 1.3
    expected = (f(x + EPS) - f(x - EPS)) / (2 * EPS)
    with specialize.using(code):
        with warnings.catch_warnings():
            warnings.simplefilter("error", FallbackWarning)      # generated code, not traced
            value, tangent = s2sgrad.jvp(f)(x, 1.0)
            _, tangent2 = s2sgrad.jvp(f)(x, 2.0)
        with warnings.catch_warnings():
            # reverse mode refuses a pop by key in general code, and traces the function
            warnings.simplefilter("ignore", FallbackWarning)
            gradient = s2sgrad.grad(f)(x)
    assert value == pytest.approx(f(x), rel=1e-15)
    assert tangent == pytest.approx(expected, rel=1e-7)
    assert tangent2 == pytest.approx(2 * expected, rel=1e-7)
    assert gradient == pytest.approx(expected, rel=1e-7)


def test_popitem_in_reverse_general_code_is_refused_clearly_then_traced():
    def f(x):
        d = {"a": x * 2.0, "b": x ** 2}
        k, v = d.popitem()
        return v * d["a"]
    line = f.__code__.co_firstlineno + 2
    with specialize.using("general"):
        with pytest.raises(UnsupportedError) as info:
            s2sgrad.grad(f, fallback="never")(1.3)
        with pytest.warns(FallbackWarning, match="a popitem of d"):
            gradient = s2sgrad.grad(f)(1.3)
    assert str(info.value) == (
        f"test_loud_fixes.py:{line}: `k, v = d.popitem()`, a popitem of d (carrying "
        f"derivatives) in reverse mode is not supported by s2sgrad's source transformation; "
        f"build a new dict without the item ({{k: v for k, v in d.items() if k != key}}), or "
        f"differentiate in forward mode (jvp), which follows it")
    assert gradient == pytest.approx(6 * 1.3 ** 2, rel=1e-12)


def test_popitem_of_an_empty_dict_is_python_s_key_error():
    def f(x):
        d = {}
        d["a"] = x
        d.popitem()
        return d.popitem()[1]
    with pytest.raises(KeyError, match="popitem\\(\\): dictionary is empty"):
        s2sgrad.jvp(f)(1.5, 1.0)


# ---------------------------------------------------------------------------
# 4. xs = [v * 1.5 for v in xs] inside a loop
# ---------------------------------------------------------------------------

def comprehension_in_loop(x):
    xs = [x, x * 2.0]
    for i in range(3):
        xs = [v * 1.5 for v in xs]
    return xs[0] + xs[1] * xs[0]


def nested_comprehension_in_loop(x):
    xss = [[x, x * 2.0], [np.sin(x), x]]
    for i in range(2):
        xss = [[v * 1.5 + w[0] for v in w] for w in xss]
    return xss[0][1] * xss[1][0]


def dict_comprehension_in_loop(x):
    d = {"a": x, "b": x * 2.0}
    for i in range(3):
        d = {k: v * v for k, v in d.items()}
    return d["a"] + d["b"]


def comprehension_kept_in_loop(x):
    xs = [x, x * 2.0]
    hist = []
    for i in range(3):
        xs = [v * 1.5 for v in xs]
        hist.append(xs)
    return hist[0][0] * hist[2][1]


def comprehension_of_array_items_in_loop(x):
    xs = [x[0], x[1]]
    for i in range(2):
        xs = [np.tanh(v) * xs[0] for v in xs]
    return xs[0] + xs[1]


@pytest.mark.parametrize("code", ["general", "specialized"])
@pytest.mark.parametrize("f", [comprehension_in_loop, nested_comprehension_in_loop,
                               dict_comprehension_in_loop, comprehension_kept_in_loop])
def test_comprehension_rebinding_its_list_in_a_loop(f, code):
    x = 0.7
    expected = (f(x + EPS) - f(x - EPS)) / (2 * EPS)
    with specialize.using(code), warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)      # generated code, not traced
        gradient = s2sgrad.grad(f, fallback="never")(x)
        _, tangent = s2sgrad.jvp(f, fallback="never")(x, 1.0)
    assert gradient == pytest.approx(expected, rel=1e-7)
    assert tangent == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("code", ["general", "specialized"])
def test_comprehension_of_array_items_in_a_loop(code):
    f = comprehension_of_array_items_in_loop
    x = np.array([0.3, 0.8])
    with specialize.using(code):
        gradient = s2sgrad.grad(f, fallback="never")(x)
    np.testing.assert_allclose(gradient, fd(f, x), rtol=1e-7)


def test_a_write_into_a_list_another_name_reaches_is_refused_naming_the_user_s_names():
    def f(x):
        xs = [x, x * 2.0]
        for i in range(2):
            xs = [v * 1.5 for v in xs]
            ys = xs
            ys[0] = x * 3.0
        return xs[0] * xs[1]
    line = f.__code__.co_firstlineno
    with pytest.raises(UnsupportedError) as info:
        s2sgrad.grad(f, fallback="never")(0.7)
    assert str(info.value) == (
        f"test_loud_fixes.py:{line + 5}: `ys[0] = x * 3.0`, a write into ys while xs reaches "
        f"the same object (line {line + 4}) and is read after it (line {line + 3}) is not "
        f"supported by s2sgrad's source transformation; the transform would treat them as two "
        f"values: put a copy in the container (ys.copy()), or read the value through one "
        f"name only")
    with pytest.warns(FallbackWarning):
        gradient = s2sgrad.grad(f)(0.7)          # traced, and right
    assert gradient == pytest.approx((f(0.7 + EPS) - f(0.7 - EPS)) / (2 * EPS), rel=1e-7)


# ---------------------------------------------------------------------------
# 5. Integers in a dict are refused as in a list (Autograd refuses integers too)
# ---------------------------------------------------------------------------

def dict_sum(d):
    return d["a"] * 2.0 + d["b"] ** 2


def list_sum(l):
    return l[0] * 2.0 + l[1] ** 2


def nested_sum(d):
    return d["a"] * 2.0 + d["b"]["c"][1] ** 2


_LINE = dict_sum.__code__.co_firstlineno


@pytest.mark.parametrize("f, arg, text", [
    (dict_sum, {"a": 1, "b": 2.0},
     f"test_loud_fixes.py:{_LINE}: 'd' contains the integer 1 at d['a']; use floats (1.0), or "
     f"pass it as another argument, not differentiated"),
    (dict_sum, {"a": 1.0, "b": 2},
     f"test_loud_fixes.py:{_LINE}: 'd' contains the integer 2 at d['b']; use floats (2.0), or "
     f"pass it as another argument, not differentiated"),
    (list_sum, [1.0, 2],
     f"test_loud_fixes.py:{_LINE + 4}: 'l' contains the integer 2 at l[1]; use floats (2.0), "
     f"or pass it as another argument, not differentiated"),
    (list_sum, (1, 2.0),
     f"test_loud_fixes.py:{_LINE + 4}: 'l' contains the integer 1 at l[0]; use floats (1.0), "
     f"or pass it as another argument, not differentiated"),
    (nested_sum, {"a": 1.0, "b": {"c": [1.0, True]}},
     f"test_loud_fixes.py:{_LINE + 8}: 'd' contains the bool True at d['b']['c'][1]; use "
     f"floats (1.0), or pass it as another argument, not differentiated"),
], ids=["dict-first", "dict-second", "list", "tuple", "nested-bool"])
def test_integers_in_a_container_are_refused_alike(f, arg, text):
    import autograd
    from s2sgrad.errors import NonDifferentiableError
    for operator in (s2sgrad.grad, s2sgrad.value_and_grad):
        with pytest.raises(NonDifferentiableError) as info:
            operator(f)(arg)
        assert str(info.value) == text
    with pytest.raises(NonDifferentiableError) as info:
        s2sgrad.jvp(f)(arg, arg)
    assert str(info.value) == text
    with pytest.raises(TypeError, match="Can't differentiate w.r.t. type <class '"):
        autograd.grad(f)(arg)       # Autograd refuses them too, in a dict as in a list


def test_the_same_containers_of_floats_get_their_derivatives():
    g = s2sgrad.grad(dict_sum)({"a": 1.0, "b": 2.0})
    assert g == {"a": 2.0, "b": 4.0}
    assert s2sgrad.grad(list_sum)([1.0, 2.0]) == [2.0, 4.0]
    assert s2sgrad.grad(nested_sum)({"a": 1.0, "b": {"c": [1.0, 3.0]}}) == \
        {"a": 2.0, "b": {"c": [0.0, 6.0]}}
    # an integer in an argument not differentiated is fine
    assert s2sgrad.grad(lambda x, d: x * d["n"])(2.0, {"n": 3}) == 3.0


# ---------------------------------------------------------------------------
# 6. m = l[:] then a write into m; a swap of items of a 1-D array
# ---------------------------------------------------------------------------

def slice_then_item_replaced(x):
    l = [x, x * 2.0, x ** 2]
    m = l[:]
    m[0] = x * 5.0
    return l[0] * m[0] + m[1] * l[2]


def slice_then_appended(x):
    l = [x, x * 2.0]
    m = l[:]
    m.append(x * 3.0)
    m[1] = m[1] * m[0]
    s = 0.0
    for v in m:
        s = s + v
    return s + l[1]


def slice_of_array_items(x):
    l = [x * 1.0, x * 2.0]
    m = l[1:]
    m.append(x * 3.0)
    m[0] = m[0] * 2.0
    l[1] = x * 4.0
    return np.sum(m[0] * m[1] * l[1] * l[0])


def swap_first_two(x):
    y = x.copy()
    y[0], y[1] = y[1], y[0]
    return np.sum(y * np.arange(1.0, 4.0))


def swap_ends_in_a_loop(x):
    y = x * 1.0
    for i in range(3):
        y[0], y[2] = y[2], y[0] * y[1]
    return np.sum(y ** 2 * np.arange(1.0, 4.0)) * y[0]


@pytest.mark.parametrize("code", ["general", "specialized"])
@pytest.mark.parametrize("f", [slice_then_item_replaced, slice_then_appended])
def test_a_slice_of_a_list_written_into(f, code):
    x = 0.7
    expected = (f(x + EPS) - f(x - EPS)) / (2 * EPS)
    with specialize.using(code):
        gradient = s2sgrad.grad(f, fallback="never")(x)
        value, tangent = s2sgrad.jvp(f, fallback="never")(x, 1.0)
    assert value == pytest.approx(f(x), rel=1e-15)
    assert gradient == pytest.approx(expected, rel=1e-7)
    assert tangent == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("code", ["general", "specialized"])
def test_a_slice_of_a_list_of_arrays_written_into(code):
    x = np.array([0.3, 0.5, 0.9])
    with specialize.using(code):
        gradient = s2sgrad.grad(slice_of_array_items, fallback="never")(x)
        _, tangent = s2sgrad.jvp(slice_of_array_items, fallback="never")(x, np.array([1.0, 0, 0]))
    expected = fd(slice_of_array_items, x)
    np.testing.assert_allclose(gradient, expected, rtol=1e-7)
    assert tangent == pytest.approx(expected[0], rel=1e-7)


def _item_augmented(x):
    l = [x * 1.0, x * 2.0]
    m = l[:]
    m[0] += x
    return np.sum(l[0] * m[0])


def _item_of_slice_written(x):
    l = [x * 1.0, x * 2.0]
    m = l[:]
    a = m[0]
    a[1] = 5.0 * x[0]
    return np.sum(l[0] * x)


def _list_item_written(x):
    a = x * 1.0
    l = [a, x * 2.0]
    m = l[:]
    m[0][1] = 5.0 * x[0]
    return np.sum(a * x)


def _item_of_list_seen_by_slice(x):
    l = [x * 1.0, x * 2.0]
    m = l[:]
    a = l[0]
    a[1] = 5.0 * x[0]
    return np.sum(m[0] * x)


@pytest.mark.parametrize("f, line, construct", [
    (_item_augmented, 3, "`m[0] += x`, a write into m while l reaches the same object"),
    (_item_of_slice_written, 4, "`a[1] = 5.0 * x[0]`, a write into a while l reaches the same "
                                "object"),
    (_list_item_written, 4, "`m[0][1] = 5.0 * x[0]`, a write into m[0] while a reaches the "
                            "same object"),
    (_item_of_list_seen_by_slice, 4, "`a[1] = 5.0 * x[0]`, a write into a while l reaches the "
                                     "same object"),
])
def test_a_write_into_an_item_a_slice_shares_is_still_refused(f, line, construct):
    # the items of l[:] are l's own: a write into one (m[0] += x on an array, a[1] = ... of
    # a = m[0] or a = l[0]) is seen through both lists
    x = np.array([0.3, 0.5, 0.9])
    where = f"test_loud_fixes.py:{f.__code__.co_firstlineno + line}: "
    with pytest.raises(UnsupportedError) as info:
        s2sgrad.grad(f, fallback="never")(x)
    assert str(info.value).startswith(where + construct)
    with pytest.warns(FallbackWarning):
        gradient = s2sgrad.grad(f)(x)       # traced, and right
    np.testing.assert_allclose(gradient, fd(f, x), rtol=1e-7)


@pytest.mark.parametrize("f", [swap_first_two, swap_ends_in_a_loop])
def test_a_swap_of_items_of_a_1d_array_in_code_specialized_to_it(f):
    x = np.array([0.3, 0.5, 0.9])
    with specialize.using("specialized"), warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)      # generated code, not traced
        gradient = s2sgrad.grad(f, fallback="never")(x)
        _, tangent = s2sgrad.jvp(f, fallback="never")(x, np.array([0.0, 1.0, 0.0]))
        source = s2sgrad.grad(f, emit=True, example=(x,))
    expected = fd(f, x)
    np.testing.assert_allclose(gradient, expected, rtol=1e-7)
    assert tangent == pytest.approx(expected[1], rel=1e-7)
    assert "def grad_" in source


def _swap_rows(x):
    # rows: y[0] is a view, so NumPy leaves both rows equal to the second
    y = x.copy()
    y[0], y[1] = y[1], y[0]
    return np.sum(y * np.arange(1.0, 7.0).reshape(2, 3))


@pytest.mark.parametrize("f, x", [
    (swap_first_two, np.array([0.3, 0.5, 0.9])),        # general code: the rank is not known
    (_swap_rows, np.array([[0.3, 0.5, 0.9], [1.1, -0.2, 0.4]])),    # a 2-D array: views
], ids=["general-1d", "specialized-2d"])
def test_a_swap_that_may_write_through_a_view_is_still_refused(f, x):
    code = "general" if x.ndim == 1 else "specialized"
    with specialize.using(code):
        with pytest.raises(UnsupportedError, match=r"`y\[0\], y\[1\] = y\[1\], y\[0\]`, which "
                                                   r"makes y\[0\] share memory with 'y'"):
            s2sgrad.grad(f, fallback="never")(x)
        with pytest.warns(FallbackWarning):
            gradient = s2sgrad.grad(f)(x)           # traced, and right (as NumPy computes it)
    np.testing.assert_allclose(gradient, fd(f, x), rtol=1e-7, atol=1e-9)


def _reads_the_base(x):
    y = x[1:]
    return np.sum(y.base * 2.0)


def test_an_array_attribute_without_a_rule_is_refused_in_forward_mode():
    # x.base's tangent was read off the tangent's own .base (None for a new array: zero)
    x = np.array([1.0, 2.0, 3.0])
    with pytest.raises(s2sgrad.NonDifferentiableError, match=r"\.base of an array"):
        s2sgrad.jvp(_reads_the_base)(x, np.ones(3))
