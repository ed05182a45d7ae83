"""One contract for every operator: each accepts the same kinds of function (Python
source, lambdas, NumPy/SciPy callables with rules, functools.partial, *args functions,
functions the fallback must trace) and the same ``wrt`` forms, and gives derivatives with
the structure and dtype of the argument they belong to (issue 13, item 6)."""

import functools
import warnings

import numpy as np
import pytest
import scipy.special

import s2sgrad
from s2sgrad import FallbackWarning


def _source(x):
    return np.sin(x)


def _scaled(c, x):
    return c * np.sin(x)


def _keyword(x, c=3.0):
    return np.sin(x) * c / 3.0


def _varargs(*args):
    return np.sin(args[0])


def _made_by_exec(name="made"):
    namespace = {}
    exec(f"def {name}(x):\n    return np.sin(x)\n", {"np": np}, namespace)
    return namespace[name]


class _Callable:
    def __call__(self, x):
        return np.sin(x)


# Each kind of function is sin(x) of its first positional argument.
KINDS = {
    "source": _source,
    "lambda": lambda x: np.sin(x),
    "numpy ufunc": np.sin,
    "partial, positional": functools.partial(_scaled, 1.0),
    "partial, keyword": functools.partial(_keyword, c=3.0),
    "*args": _varargs,
    "exec": _made_by_exec(),
    "callable object": _Callable(),
}
TRACED = {"*args", "exec"}     # no source to transform: traced, saying so

X0 = 0.7
XS = np.array([0.3, -1.1, 2.0])


class _quiet:
    """The kinds that are traced say so once per function (``FallbackWarning``: see
    ``test_a_function_the_fallback_traces_is_said_to_be_traced``); the others must not."""

    def __init__(self, kind):
        self.kind = kind
        self.caught = warnings.catch_warnings()

    def __enter__(self):
        self.caught.__enter__()
        warnings.simplefilter("ignore" if self.kind in TRACED else "error", FallbackWarning)

    def __exit__(self, *exc):
        return self.caught.__exit__(*exc)


OPERATORS = ["grad", "value_and_grad", "jvp", "vjp", "deriv", "elementwise_grad", "jacobian",
             "hessian", "hvp", "holomorphic_grad"]


def _apply(op, f, wrt):
    """``op`` of ``f`` with ``wrt`` (an int or a 1-tuple), applied at sin's test points;
    returns ``(result, expected)``, a 1-tuple ``wrt`` giving 1-tuples where ``op`` returns
    one derivative per position."""
    one = isinstance(wrt, tuple)
    kw = {} if wrt is None else {"wrt": wrt}
    tup = (lambda v: (v,)) if one else (lambda v: v)
    if op == "grad":
        return s2sgrad.grad(f, **kw)(X0), tup(np.cos(X0))
    if op == "value_and_grad":
        return s2sgrad.value_and_grad(f, **kw)(X0), (np.sin(X0), tup(np.cos(X0)))
    if op == "jvp":
        t = 0.5 * XS + 1.0
        return s2sgrad.jvp(f, **kw)(XS, tup(t)), (np.sin(XS), np.cos(XS) * t)
    if op == "vjp":
        value, backward = s2sgrad.vjp(f, **kw)(XS)
        g = np.array([1.0, 2.0, -3.0])
        return (value, backward(g)), (np.sin(XS), tup(np.cos(XS) * g))
    if op == "deriv":
        return s2sgrad.deriv(f)(X0), np.cos(X0)
    if op == "elementwise_grad":
        return s2sgrad.elementwise_grad(f, **kw)(XS), tup(np.cos(XS))
    if op == "jacobian":
        return s2sgrad.jacobian(f)(XS), np.diag(np.cos(XS))
    if op == "hessian":
        return s2sgrad.hessian(f)(X0), -np.sin(X0)
    if op == "hvp":
        return s2sgrad.hvp(f, **kw)(X0, tup(2.0)), tup(-np.sin(X0) * 2.0)
    if op == "holomorphic_grad":
        z = 0.7 + 0.2j
        return s2sgrad.holomorphic_grad(f, **kw)(z), tup(np.cos(z))
    raise AssertionError(op)


def _same(result, expected):
    """Equal values, and the same structure: tuples where tuples are expected."""
    if isinstance(expected, tuple):
        assert isinstance(result, tuple) and len(result) == len(expected), (result, expected)
        for r, e in zip(result, expected):
            _same(r, e)
        return
    np.testing.assert_allclose(result, expected, rtol=1e-9, atol=1e-12)
    assert np.shape(result) == np.shape(expected), (result, expected)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("op", OPERATORS)
def test_every_operator_accepts_every_kind_of_function(op, kind):
    with _quiet(kind):
        result, expected = _apply(op, KINDS[kind], None)
    _same(result, expected)


ONE_WRT = [op for op in OPERATORS if op not in ("deriv", "jacobian", "hessian")]


@pytest.mark.parametrize("kind", ["source", "lambda", "numpy ufunc", "partial, positional",
                                  "*args"])
@pytest.mark.parametrize("op", ONE_WRT)
def test_a_one_tuple_wrt_gives_one_tuples_and_no_extra_axis(op, kind):
    with _quiet(kind):
        result, expected = _apply(op, KINDS[kind], (0,))
    _same(result, expected)


@pytest.mark.parametrize("op", ONE_WRT)
def test_wrt_by_name(op):
    result, expected = _apply(op, _source, "x")
    _same(result, expected)


def test_a_scipy_function_with_a_rule_is_differentiated_by_its_rule_by_every_operator():
    # expit'(x) = expit(x) (1 - expit(x)); polygamma(1, x)' = polygamma(2, x)
    s = scipy.special.expit(XS)
    np.testing.assert_allclose(s2sgrad.elementwise_grad(scipy.special.expit)(XS), s * (1 - s))
    np.testing.assert_allclose(s2sgrad.jacobian(scipy.special.expit)(XS), np.diag(s * (1 - s)))
    np.testing.assert_allclose(s2sgrad.vjp(scipy.special.expit)(XS)[1](np.ones(3)), s * (1 - s))
    value, backward = s2sgrad.vjp(scipy.special.polygamma, 1)(1, 2.0)
    assert value == pytest.approx(scipy.special.polygamma(1, 2.0))
    assert backward(1.0) == pytest.approx(scipy.special.polygamma(2, 2.0), rel=1e-12)
    assert s2sgrad.deriv(functools.partial(scipy.special.polygamma, 1))(2.0) == \
        pytest.approx(scipy.special.polygamma(2, 2.0), rel=1e-12)


@pytest.mark.parametrize("op", OPERATORS)
def test_a_function_the_fallback_traces_is_said_to_be_traced(op):
    made = _made_by_exec(f"made_for_{op}")      # a new function: warned about once
    with pytest.warns(FallbackWarning, match=f"made_for_{op}"):
        result, expected = _apply(op, made, None)
    _same(result, expected)


@pytest.mark.filterwarnings("ignore::s2sgrad.FallbackWarning")
def test_jacobian_and_hessian_of_an_args_function_are_traced():
    def f(*args):
        return args[0] * args[1] ** 2

    with pytest.warns(FallbackWarning, match="variable parameter list"):   # said once
        j = s2sgrad.jacobian(f, 1)(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_allclose(j, np.diag([6.0, 16.0]))
    assert s2sgrad.hessian(f, 1)(2.0, 3.0) == pytest.approx(4.0)
    assert s2sgrad.jvp(f, wrt=1)(2.0, 3.0, 1.0) == (pytest.approx(18.0), pytest.approx(12.0))
    value, backward = s2sgrad.vjp(f, (0, 1))(2.0, 3.0)
    assert value == 18.0 and backward(1.0) == (pytest.approx(9.0), pytest.approx(12.0))


def test_emit_of_a_primitive_says_it_is_its_rule():
    assert "primitive" in s2sgrad.vjp(np.sin, emit=True) or "rule" in \
        s2sgrad.vjp(np.sin, emit=True)
