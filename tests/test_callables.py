"""Functions passed as values: a lambda or local function that reads a differentiated value
is differentiable data (issue 12, item 10).

Each callee either differentiates through the callable (the right derivative, checked
against central finite differences) or refuses at the user's line, in reverse and forward
mode and in the tracer: never a silent zero.
"""

import functools
import re
import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
from scipy.integrate import odeint, quad, solve_ivp
from scipy.optimize import brentq

import s2sgrad
from gradcheck import assert_close, numeric_grad

THIS = "test_callables.py"
XS = np.array([1.0, 2.0, 3.0])


def apply_fn(f, xs):
    return np.sum(f(xs))


def apply_twice(f, v):
    return f(f(v))


def calls_with(f, g, v):
    return f(v) + g(v)


# -- user functions given a closure ---------------------------------------------------

def lambda_to_user_function(w):
    return apply_fn(lambda v: v * w, XS)


def def_to_user_function(w):
    def scaled(v):
        return np.sin(v * w)
    return apply_fn(scaled, XS) * w


def named_lambda_twice(w):
    f = lambda v: v * w + 1.0   # noqa: E731
    return np.sum(apply_twice(f, XS))


def two_closures(w):
    return np.sum(calls_with(lambda v: v * w[0], lambda v: np.exp(v * w[1]), XS))


# -- functools.reduce, np.apply_along_axis, map -------------------------------------

def reduce_with_init(w):
    return functools.reduce(lambda acc, v: acc * w + v, [1.0, 2.0, 3.0], 0.0)


def reduce_without_init(w):
    return functools.reduce(lambda acc, v: acc * np.sin(v * w), list(XS))


def reduce_over_array(x):
    return functools.reduce(lambda acc, v: acc + v * v, x, 0.0)


def along_rows(w):
    X = np.arange(6.0).reshape(2, 3)
    return np.sum(np.apply_along_axis(lambda row: np.sum(row * w), 1, X) ** 2)


def along_columns_vector_out(X):
    out = np.apply_along_axis(lambda col: col * np.sum(col), 0, X)
    return np.sum(out * np.arange(out.size).reshape(out.shape))


def along_axis_3d(w):
    X = np.arange(24.0).reshape(2, 3, 4) / 10.0
    out = np.apply_along_axis(lambda v: np.stack([np.sum(v * w), np.max(v) * w]), 1, X)
    assert out.shape == (2, 2, 4)
    return np.sum(np.sin(out))


def map_closure(w):
    return sum(map(lambda v: v * w, [1.0, 2.0, 3.0])) ** 2


def sorted_by_closure(w):
    # key= only orders the values: no derivative flows through it
    ys = sorted([1.0 * w, 2.0 * w * w, 0.5], key=lambda v: -v * w)
    return ys[0] + 2.0 * ys[1]


@pytest.mark.parametrize("fn, x", [
    (lambda_to_user_function, 0.7),
    (def_to_user_function, 0.7),
    (named_lambda_twice, 0.4),
    (two_closures, np.array([0.3, -0.2])),
    (reduce_with_init, 0.7),
    (reduce_without_init, 0.7),
    (reduce_over_array, np.array([0.5, -1.0, 2.0])),
    (along_rows, np.array([0.5, -1.0, 2.0])),
    (along_columns_vector_out, np.arange(6.0).reshape(3, 2) / 3.0),
    (along_axis_3d, 0.7),
    (map_closure, 0.7),
    (sorted_by_closure, 1.3),
])
def test_gradient_through_a_callable(fn, x):
    expected = numeric_grad(fn, (x,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        assert_close(s2sgrad.grad(fn)(x), expected, rtol=1e-5, atol=1e-7)
        # forward mode along a direction equals the gradient's dot product
        direction = np.ones_like(x) * 0.5 if np.ndim(x) else 0.5
        _, tangent = s2sgrad.jvp(fn)(x, direction)
        np.testing.assert_allclose(tangent, np.sum(expected * direction), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fn, x", [(along_columns_vector_out, np.arange(6.0).reshape(3, 2) / 3.0),
                                   (reduce_over_array, np.array([0.5, -1.0, 2.0]))])
def test_the_tracer_runs_apply_along_axis_and_reduce_as_their_loops(fn, x):
    assert_close(s2sgrad.grad(fn, fallback="always")(x), numeric_grad(fn, (x,)))


@pytest.mark.parametrize("fn", [reduce_with_init, along_rows, map_closure])
def test_lowered_callees_are_transformed_without_tracing(fn):
    x = 0.7 if fn is not along_rows else np.array([0.5, -1.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)
        assert_close(s2sgrad.grad(fn, fallback="never")(x), numeric_grad(fn, (x,)))


def sum_of(f, xs):              # warned about once: only the test below uses it
    return np.sum(f(xs))


def closure_to_sum_of(w):
    return sum_of(lambda v: v * w, XS)


def test_a_user_function_given_a_closure_is_traced_and_says_so():
    with pytest.warns(s2sgrad.FallbackWarning, match=r"traces sum_of .*passing it a function"):
        assert s2sgrad.grad(closure_to_sum_of)(0.7) == pytest.approx(6.0)


def test_a_user_function_given_a_closure_under_never_is_an_error():
    with pytest.raises(s2sgrad.UnsupportedError,
                       match=rf"{THIS}:\d+: apply_fn: passing it a function"):
        s2sgrad.grad(lambda_to_user_function, fallback="never")(0.7)
    with pytest.raises(s2sgrad.UnsupportedError, match="passing it a function"):
        s2sgrad.jvp(lambda_to_user_function, fallback="never")(0.7, 1.0)


# -- library functions that cannot differentiate through a callable: an error ----------

def odeint_closure(k):
    ts = np.linspace(0.0, 1.0, 5)
    return odeint(lambda y, t: -k * y, 1.0, ts)[-1, 0]


def quad_closure(a):
    v, _ = quad(lambda t: np.exp(-a * t * t), 0.0, 1.0)
    return v


def solve_ivp_closure(k):
    sol = solve_ivp(lambda t, y: -k * y, (0.0, 1.0), [1.0], rtol=1e-10, atol=1e-12)
    return sol.y[0, -1]


def brentq_closure(a):
    return brentq(lambda x: x ** 3 + a * x - 1.0, 0.0, 2.0)


def local_def_to_quad(a):
    def integrand(t):
        return np.exp(-a * t * t)
    g = integrand
    return scipy.integrate.quad(g, 0.0, 1.0)[0]


def odeint_closure_and_args(p):
    ts = np.linspace(0.0, 1.5, 4)
    c = p[1]

    def rhs(y, t, b):
        return np.array([-p[0] * y[0] + b * y[1], -c * y[1] * y[1]])
    ys = odeint(rhs, np.array([1.0, 0.5]), ts, args=(0.3 * p[0],), rtol=1e-10, atol=1e-12)
    return np.sum(ys[-1] ** 2)


def quad_limits_and_closure(a):
    v, _ = scipy.integrate.quad(lambda t, s: np.sin(a * t) * s, 0.0, a * a, args=(2.0,))
    return v


def quad_vector_closure(w):
    return quad(lambda t: np.sum(np.exp(-w * t)), 0.0, 1.0)[0] ** 2


def brentq_closure_and_args(p):
    return scipy.optimize.brentq(lambda x, c: np.tanh(x) - p[0] * c + p[1] * x, -5.0, 5.0,
                                 args=(0.5,), xtol=1e-14)


@pytest.mark.parametrize("fn, x", [
    (odeint_closure, 0.7),
    (odeint_closure_and_args, np.array([0.8, 0.4])),
    (quad_closure, 0.7),
    (local_def_to_quad, 0.7),
    (quad_limits_and_closure, 1.1),
    (quad_vector_closure, np.array([0.5, 1.5])),
    (brentq_closure, 0.7),
    (brentq_closure_and_args, np.array([0.6, 0.9])),
])
@pytest.mark.parametrize("fallback", ["auto", "never"])
def test_a_rule_differentiates_through_the_callable(fn, x, fallback):
    expected = numeric_grad(fn, (x,), eps=1e-5)
    assert_close(s2sgrad.grad(fn, fallback=fallback)(x), expected, rtol=1e-5, atol=1e-7)
    direction = np.linspace(0.5, 1.0, np.size(x)).reshape(np.shape(x)) if np.ndim(x) else 0.5
    _, tangent = s2sgrad.jvp(fn, fallback=fallback)(x, direction)
    np.testing.assert_allclose(tangent, np.sum(expected * direction), rtol=1e-5, atol=1e-7)


def test_the_closure_is_passed_unbound_with_its_values_as_args():
    text = s2sgrad.show(quad_closure, "codegen")
    assert "quad(lambda_fn, 0.0, 1.0, args=(a,))" in text


def h_exp(t, w):
    return np.exp(-w * t)


def partial_to_quad(w):
    return quad(functools.partial(h_exp, w=w), 0.0, 1.0)[0]


def vectorized_closure(w):
    return np.sum(np.vectorize(lambda v: v * w)(np.arange(3.0)))


def list_of_closures(w):
    fs = [lambda v: v * w, lambda v: v + w]
    return fs[0](2.0) + fs[1](3.0)


def dict_of_closures(w):
    d = {"f": lambda v: v * w}
    return apply_fn(d["f"], XS)


REFUSED = [
    (solve_ivp_closure, "solve_ivp", "k"),
]


@pytest.mark.parametrize("fn, pattern", [
    (partial_to_quad, r"a function reading w \(carrying derivatives\) given to quad"),
    (vectorized_closure, r"passing a lambda \(line \d+\) to np\.vectorize"),
    (list_of_closures, r"keeping a lambda \(line \d+\), which reads w \(carrying derivatives\), "
                       r"in a list"),
    (dict_of_closures, r"keeping a lambda \(line \d+\), which reads w"),
])
@pytest.mark.parametrize("operator", ["grad", "jvp"])
def test_a_callable_kept_or_given_where_no_rule_follows_it_is_refused(fn, pattern, operator):
    args = (0.7,) if operator == "grad" else (0.7, 1.0)
    with pytest.raises(s2sgrad.UnsupportedError, match=rf"{THIS}:\d+: " + pattern):
        getattr(s2sgrad, operator)(fn, fallback="never")(*args)


def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, ln in enumerate(lines) if text in ln)


@pytest.mark.parametrize("fn, callee, reads", REFUSED)
@pytest.mark.parametrize("operator", ["grad", "jvp"])
def test_never_a_silent_zero_for_a_callee_without_a_rule(fn, callee, reads, operator):
    line = _line_of(fn, callee + "(")
    call = (lambda f: f(0.7)) if operator == "grad" else (lambda f: f(0.7, 1.0))
    with pytest.raises(s2sgrad.UnsupportedError) as info:
        call(getattr(s2sgrad, operator)(fn, fallback="never"))
    msg = str(info.value)
    assert msg.startswith(f"{THIS}:{line}: passing a lambda (line {line}) to {callee}"), msg
    assert f"it reads {reads}, which carries a derivative" in msg
    # the default policy traces the function; the tracer refuses too, at the same line
    with pytest.raises(s2sgrad.S2SGradError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
            call(getattr(s2sgrad, operator)(fn))
    assert re.search(rf"{THIS}:{line}: scipy\.\w+\.{callee} was given a function that reads",
                     str(info.value)), str(info.value)


@pytest.mark.parametrize("fn, callee", [(odeint_closure, "odeint"), (quad_closure, "quad"),
                                         (solve_ivp_closure, "solve_ivp"),
                                         (brentq_closure, "brentq")])
def test_the_tracer_refuses_a_closure_given_to_scipy(fn, callee):
    line = _line_of(fn, callee + "(")
    with pytest.raises(s2sgrad.S2SGradError,
                       match=rf"{THIS}:{line}: scipy\.\w+\.{callee} was given a function"):
        s2sgrad.grad(fn, fallback="always")(0.7)


# -- second derivatives ------------------------------------------------------------------

def step(acc, v, w):
    return acc * w[0] + v * w[1]


def loop_of_steps(w):
    acc = 0.0
    for v in [1.0, 2.0, 3.0]:
        acc = step(acc, v, w)          # the call's result replaces one of its arguments
    return acc * acc


def two_steps(w):
    acc = step(0.5, 1.0, w)
    acc = step(acc, 2.0, w)
    return np.sin(acc)


def reduce_twice_differentiable(w):
    return functools.reduce(lambda acc, v: acc * w[0] + v * w[1], [1.0, 2.0, 3.0], 0.0) ** 2


def quad_twice(w):
    return quad(lambda t: np.exp(-w[0] * t) * w[1], 0.0, 1.0)[0]


@pytest.mark.parametrize("fn", [loop_of_steps, two_steps, reduce_twice_differentiable])
def test_hessian_of_calls_whose_result_replaces_an_argument(fn):
    # the backward sweep differentiated again recomputes each call from its arguments: it
    # must see the argument's value before the call, not the result written over it
    w = np.array([0.7, 0.4])
    expected = np.stack([numeric_grad(lambda v: s2sgrad.grad(fn)(v)[k], (w,)) for k in range(2)])
    np.testing.assert_allclose(s2sgrad.hessian(fn)(w), expected, rtol=1e-5, atol=1e-6)


# -- local functions that call or name each other --------------------------------------

def nested_calls_nested(w):
    def g(v):
        return v * w

    def h(v):
        return g(v) * 2.0            # h reads w through g
    return h(3.0)


def nested_key_calls_nested(w):
    def g(v):
        return -v * w

    def h(v):
        return g(v) * 2.0
    return sorted([w, 2.0 * w * w], key=h)[0] * 3.0


def lambda_calls_lambda_given_to_a_user_function(w):
    g = lambda v: v * w             # noqa: E731
    h = lambda v: g(v) + 1.0        # noqa: E731
    return apply_fn(h, XS)


def closure_to_a_method(w):
    return Scaler(2.0).apply(lambda v: v * w, XS)


class Scaler:
    def __init__(self, c):
        self.c = c

    def apply(self, f, xs):
        return np.sum(f(xs)) * self.c


@pytest.mark.parametrize("fn", [nested_calls_nested, nested_key_calls_nested,
                                lambda_calls_lambda_given_to_a_user_function,
                                closure_to_a_method])
def test_local_functions_that_reach_the_differentiated_value_through_another(fn):
    expected = numeric_grad(fn, (0.7,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        assert s2sgrad.grad(fn)(0.7) == pytest.approx(expected, rel=1e-6)
        assert s2sgrad.jvp(fn)(0.7, 2.0)[1] == pytest.approx(2.0 * expected, rel=1e-6)


def test_nested_functions_calling_each_other_are_transformed():
    assert s2sgrad.grad(nested_calls_nested, fallback="never")(0.7) == pytest.approx(6.0)


def closure_by_keyword(w):
    return apply_fn(f=lambda v: v * w, xs=XS)


def test_a_callable_passed_by_keyword_to_a_traced_callee_is_refused_under_never():
    with pytest.raises(s2sgrad.UnsupportedError, match=r"a keyword argument \(f=\) carrying a "
                                                       r"derivative to apply_fn"):
        s2sgrad.grad(closure_by_keyword, fallback="never")(0.7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        assert s2sgrad.grad(closure_by_keyword)(0.7) == pytest.approx(6.0)


# -- a closure reading an object or a dict given to a solver -----------------------------

class Rate:
    def __init__(self, a):
        self.a = a


def quad_reads_an_attribute(p):
    return quad(lambda t: np.exp(-p.a * t), 0.0, 1.0)[0]


def brentq_reads_a_dict(d):
    return brentq(lambda x: x ** 3 + d["a"] * x - 1.0, 0.0, 2.0)


def quad_reads_a_list(ws):
    return quad(lambda t: np.exp(-ws[0] * t) * ws[1], 0.0, 1.0)[0]


@pytest.mark.parametrize("fn, arg, what", [(quad_reads_an_attribute, Rate(0.7), "Rate"),
                                           (brentq_reads_a_dict, {"a": 0.7}, "dict")])
def test_a_solver_refuses_a_derivative_with_respect_to_an_object_it_cannot_give(fn, arg, what):
    line = _line_of(fn, "lambda")
    with pytest.raises(s2sgrad.UnsupportedError,
                       match=rf"{THIS}:{line}: a derivative with respect to a {what} given to"):
        s2sgrad.grad(fn)(arg)


def test_a_solver_differentiates_with_respect_to_a_list_of_numbers():
    expected = [numeric_grad(lambda a: quad_reads_a_list([a, 1.3]), (0.7,)),
                numeric_grad(lambda b: quad_reads_a_list([0.7, b]), (1.3,))]
    np.testing.assert_allclose(s2sgrad.grad(quad_reads_a_list)([0.7, 1.3]), expected, rtol=1e-6)


def apply_vec(g, v):
    return g(v) + 0.5 * v


def closure_call_then_write(x):
    y = x.copy()
    s = np.sum(x) * 0.1
    z = apply_vec(lambda v: v * s, y)
    y[0:2] = z[2:4] * s              # written after the traced call read it
    return np.sum(y * z) + s * s


def test_a_traced_call_given_a_closure_keeps_the_values_it_read():
    x = np.array([0.1, -0.4, 0.7, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        assert_close(s2sgrad.grad(closure_call_then_write)(x),
                     numeric_grad(closure_call_then_write, (x,)))
