"""Python's own semantics, not approximations of them (issue 12, items 5-9).

Each test compares a derivative with central finite differences of the function
as Python runs it, in reverse mode (grad / value_and_grad / vjp) and forward
mode (jvp), or checks that a clear error names the user's file, line and what
to do.
"""

import numpy as np
import pytest

import s2sgrad
from s2sgrad.errors import WrtError
from s2sgrad.fallback.tracer import TracedConversionError

from gradcheck import assert_agree, general_too, numeric_grad

X = np.array([0.7, -1.3, 2.1])


def _both_modes(f, args, wrt=0):
    """grad and jvp (along each unit vector) of ``f`` against finite differences."""
    want = numeric_grad(f, list(args), wrt)
    got = s2sgrad.grad(f, wrt)(*args)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    general = general_too(lambda: s2sgrad.grad(f, wrt)(*args))
    if general is not None:             # specialized code (the ``code`` fixture): the same
        assert_agree(got, general)
    x = np.asarray(args[wrt], dtype=float)
    for k in range(x.size):
        t = np.zeros_like(x)
        t.flat[k] = 1.0
        value, tangent = s2sgrad.jvp(f, wrt)(*args, t)
        np.testing.assert_allclose(value, f(*args), rtol=1e-12)
        np.testing.assert_allclose(tangent, np.ravel(want)[k], rtol=1e-6, atol=1e-8)
        general = general_too(lambda: s2sgrad.jvp(f, wrt)(*args, t))
        if general is not None:
            assert_agree(tangent, general[1], what="tangent")


# ---------------------------------------------------------------------------
# Item 5: positional-only and keyword-only parameters
# ---------------------------------------------------------------------------

def posonly_then_default(x, /, k=2.0):
    return np.sum(x * x) * k


def all_posonly(x, y, /):
    return np.sum(np.sin(x) * y)


def posonly_helper(v, /, scale):
    return np.sum(v ** 3) * scale


def calls_posonly_helper(x):
    return posonly_helper(x * 2.0, 0.5) + np.sum(x)


def kwonly(x, *, k=2.0):
    return np.sum(x * x) * k


@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_positional_only_parameter_is_position_zero(fallback, code):
    g = s2sgrad.grad(posonly_then_default, fallback=fallback)(X)
    np.testing.assert_allclose(g, 4.0 * X)          # d/dx, not d/dk
    g1 = s2sgrad.grad(posonly_then_default, 1, fallback=fallback)(X, 3.0)
    np.testing.assert_allclose(g1, np.sum(X * X))
    _both_modes(posonly_then_default, (X,))


def test_all_parameters_positional_only(code):
    y = np.array([0.5, 2.0, -1.0])
    for wrt in (0, 1, "y"):
        pos = 1 if wrt == "y" else wrt
        want = numeric_grad(all_posonly, [X, y], pos)
        np.testing.assert_allclose(s2sgrad.grad(all_posonly, wrt)(X, y), want, rtol=1e-6)
    _both_modes(all_posonly, (X, y), 0)
    _both_modes(all_posonly, (X, y), 1)
    value, back = s2sgrad.vjp(all_posonly, (0, 1))(X, y)
    gx, gy = back(1.0)
    np.testing.assert_allclose(gx, np.cos(X) * y)
    np.testing.assert_allclose(gy, np.sin(X))


def test_positional_only_helper(code):
    _both_modes(calls_posonly_helper, (X,))


def test_keyword_only_parameter(code):
    g = s2sgrad.grad(kwonly)(X, k=3.0)
    np.testing.assert_allclose(g, 6.0 * X)
    _both_modes(lambda x: kwonly(x, k=1.5), (X,))
    with pytest.raises(WrtError, match="keyword-only parameter"):
        s2sgrad.grad(kwonly, "k")


# ---------------------------------------------------------------------------
# Item 6: defaults bound at definition, assigned defaults, late-binding closures
# ---------------------------------------------------------------------------

P = 2.0


def default_from_global(x, p=P):
    return np.sum(x * x) * p


P = 3.0     # the default above stays 2.0

W = np.array([1.0, 2.0, 3.0])


def default_array(x, w=W):
    return np.sum(np.sin(x) * w)


W = np.array([-5.0, 0.0, 5.0])     # the default above stays [1 2 3]


def test_default_is_bound_when_defined(code):
    value, g = s2sgrad.value_and_grad(default_from_global)(X)
    assert value == pytest.approx(2.0 * np.sum(X * X))
    np.testing.assert_allclose(g, 4.0 * X)
    _both_modes(default_from_global, (X,))
    np.testing.assert_allclose(s2sgrad.grad(default_array)(X), np.cos(X) * [1.0, 2.0, 3.0])
    _both_modes(default_array, (X,))


def _scaled(x, p=2.0):
    return np.sum(x ** 3) * p


def _scaled_kw(x, *, p=2.0):
    return np.sum(x ** 3) * p


def _uses_scaled(x):
    return _scaled(x) + _scaled_kw(x)


@pytest.mark.parametrize("fn,attr", [(_scaled, "__defaults__"), (_scaled_kw, "__kwdefaults__")])
def test_assigned_defaults_are_seen(fn, attr):
    old = getattr(fn, attr)
    grad, jvp = s2sgrad.grad(fn), s2sgrad.jvp(fn)
    try:
        for p in (2.0, 5.0, np.float64(-1.5), 7):
            setattr(fn, attr, (p,) if attr == "__defaults__" else {"p": p})
            np.testing.assert_allclose(grad(X), 3.0 * X ** 2 * p)
            np.testing.assert_allclose(jvp(X, np.ones(3))[1], np.sum(3.0 * X ** 2) * p)
            # through a caller, whose generated code calls the helper's
            np.testing.assert_allclose(s2sgrad.grad(_uses_scaled)(X),
                                       numeric_grad(_uses_scaled, [X]), rtol=1e-6)
    finally:
        setattr(fn, attr, old)


def _make_scaled(p0):
    def scaled(x, p=p0):
        return np.sum(x * x) * p
    return scaled


def test_same_source_different_defaults():
    # Same text and code, different defaults: the content-keyed cache must not share them.
    two, three = _make_scaled(2.0), _make_scaled(3.0)
    np.testing.assert_allclose(s2sgrad.grad(two)(X), 4.0 * X)
    np.testing.assert_allclose(s2sgrad.grad(three)(X), 6.0 * X)
    arr2, arr3 = _make_scaled(np.array(2.0)), _make_scaled(np.array(3.0))
    np.testing.assert_allclose(s2sgrad.grad(arr2)(X), 4.0 * X)
    np.testing.assert_allclose(s2sgrad.grad(arr3)(X), 6.0 * X)


LAMBDAS = [lambda v: v * i for i in range(1, 4)]


def calls_listed_lambda(x):
    return np.sum(LAMBDAS[0](x) ** 2)


def test_module_level_lambdas_see_the_last_value(code):
    _both_modes(calls_listed_lambda, (X,))
    np.testing.assert_allclose(s2sgrad.grad(calls_listed_lambda)(X), 18.0 * X)


def defs_in_loop(x):
    fns = []
    for i in range(1, 4):
        def m(v):
            return v * i
        fns.append(m)
    return np.sum(fns[0](x) * x)


def lambdas_in_comprehension(x):
    fns = [lambda v: v * i for i in range(1, 4)]
    return np.sum(fns[0](x) * x)


def lambda_rebound_later(x):
    k = 2.0
    g = lambda v: v * k     # noqa: E731
    fns = [g]
    k = 5.0
    return np.sum(fns[0](x) * x)


def called_in_the_loop(x):
    total = 0.0
    for i in range(1, 4):
        h = lambda v: v * i     # noqa: E731
        total = total + np.sum(h(x) * x)
    return total


@pytest.mark.parametrize("fn,factor", [(defs_in_loop, 6.0), (lambdas_in_comprehension, 6.0),
                                       (lambda_rebound_later, 10.0),
                                       (called_in_the_loop, 12.0)])
def test_local_closures_bind_late(fn, factor, code):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(s2sgrad.grad(fn)(X), factor * X)
        _both_modes(fn, (X,))


def test_late_binding_is_an_error_without_the_fallback():
    with pytest.raises(s2sgrad.errors.UnsupportedError) as info:
        s2sgrad.grad(defs_in_loop, fallback="never")(X)
    msg = str(info.value)
    assert "test_python_semantics.py:" in msg and "'i'" in msg and "late binding" in msg
    assert "pass i as an argument" in msg


def _apply(fn, v):
    return fn(v)


def closure_over_a_branch(x, flag=True):
    if flag:
        k = 2.0
    else:
        k = 3.0
    g = lambda v: v * k     # noqa: E731  (k is assigned twice, both before: no late binding)
    return np.sum(_apply(g, x) * x)


def test_closure_over_values_assigned_before_stays_generated():
    np.testing.assert_allclose(s2sgrad.grad(closure_over_a_branch, fallback="never")(X),
                               4.0 * X)
    np.testing.assert_allclose(s2sgrad.grad(closure_over_a_branch, fallback="never")(X, False),
                               6.0 * X)


def test_closure_called_where_made_stays_generated():
    # Called by name in the loop that rebinds i: the generated code passes i at each call.
    s2sgrad.grad(called_in_the_loop, fallback="never")(X)


# ---------------------------------------------------------------------------
# Item 7: outputs that carry no derivative; async functions and generators
# ---------------------------------------------------------------------------

def forgot_return(x):
    y = np.sum(x * x)       # noqa: F841


def returns_bool(x):
    return np.sum(x) > 0


def returns_str(x):
    return "loss"


def returns_bools(x):
    return x > 0.5


def returns_none_on_a_path(x):
    if np.sum(x) > 100.0:
        return np.sum(x)


async def async_loss(x):
    return np.sum(x * x)


def generator_loss(x):
    yield np.sum(x * x)


async def async_generator_loss(x):
    yield np.sum(x * x)


def _operators(fallback):
    yield "grad", lambda f: s2sgrad.grad(f, fallback=fallback)(X)
    yield "value_and_grad", lambda f: s2sgrad.value_and_grad(f, fallback=fallback)(X)
    yield "jvp", lambda f: s2sgrad.jvp(f, fallback=fallback)(X, np.ones(3))
    if fallback == "auto":
        yield "vjp", lambda f: s2sgrad.vjp(f)(X)[1](1.0)
        # the operators whose generated code returns the derivative alone check the output
        # there (runtime.check_output), twice: the first call and the fast path
        for _ in range(2):
            yield "jacobian", lambda f: s2sgrad.jacobian(f)(X)
            yield "deriv", lambda f: s2sgrad.deriv(f)(X)
            yield "elementwise_grad", lambda f: s2sgrad.elementwise_grad(f)(X)
            yield "deriv", lambda f: s2sgrad.deriv(f)(0.5)


@pytest.mark.parametrize("fallback", ["auto", "always"])
@pytest.mark.parametrize("fn,what", [(forgot_return, "returned None"),
                                     (returns_none_on_a_path, "returned None"),
                                     (returns_bool, "returned a bool"),
                                     (returns_bools, "returned a bool"),
                                     (returns_str, "returned a str")])
def test_output_without_a_derivative_is_an_error(fn, what, fallback):
    for op, run in _operators(fallback):
        with pytest.raises(s2sgrad.errors.NonDifferentiableError) as info:
            run(fn)
        msg = str(info.value)
        line = fn.__code__.co_firstlineno
        assert msg.startswith(f"test_python_semantics.py:{line}: {op}({fn.__name__}): "), msg
        assert what in msg and "return" in msg.split(";")[-1], msg


@pytest.mark.parametrize("fallback", ["auto", "always"])
@pytest.mark.parametrize("fn,what", [(async_loss, "an async function"),
                                     (generator_loss, "a generator"),
                                     (async_generator_loss, "an async generator")])
def test_async_and_generators_are_refused(fn, what, fallback):
    import warnings
    ops = list(_operators(fallback)) + [
        ("jacobian", lambda f: s2sgrad.jacobian(f)(X)),
        ("hessian", lambda f: s2sgrad.hessian(f)(X)),
        ("hvp", lambda f: s2sgrad.hvp(f)(X, X)),
        ("elementwise_grad", lambda f: s2sgrad.elementwise_grad(f)(X))]
    for op, run in ops:
        with warnings.catch_warnings():
            warnings.simplefilter("error", s2sgrad.FallbackWarning)     # refused, not traced
            with pytest.raises(s2sgrad.errors.UnsupportedError) as info:
                run(fn)
        msg = str(info.value)
        line = fn.__code__.co_firstlineno
        assert msg.startswith(f"test_python_semantics.py:{line}: {fn.__name__} is {what}"), msg
        assert "cannot differentiate" in msg


def calls_async_helper(x):
    return async_loss(x)


def test_a_caller_of_an_async_function_is_an_error():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(s2sgrad.errors.NonDifferentiableError, match="coroutine"):
            s2sgrad.grad(calls_async_helper)(X)
        import gc
        gc.collect()        # the coroutine nobody awaited warns when it is collected


def test_piecewise_constant_output_keeps_its_zero_gradient():
    # A float output that does not vary: its derivative is zero, rightly (no error).
    np.testing.assert_allclose(s2sgrad.grad(lambda x: np.sum(np.floor(x)))(X), 0.0)


# ---------------------------------------------------------------------------
# Item 8: casts to integers and bools have no derivative; tolist/item/float keep it
# ---------------------------------------------------------------------------

CASTS = {
    "astype(int)": lambda x: np.sum(x.astype(int)) + np.sum(x * x),
    "astype(bool)": lambda x: np.sum(x.astype(bool)) + np.sum(x * x),
    "astype('int64') * x": lambda x: np.sum(x.astype("int64") * x),
    "asarray(dtype=int)": lambda x: np.sum(np.asarray(x, dtype=int)) + np.sum(x * x),
    "array(dtype=np.int64)": lambda x: np.sum(np.array(x, dtype=np.int64) * x),
    "int(x[0])": lambda x: int(x[0]) * x[1] + x[0] * x[0],
    "floor().astype(int)": lambda x: np.sum(np.floor(x).astype(int) * x),
    "astype(complex)": lambda x: np.sum(x.astype(complex).real * x),
    "tolist": lambda x: sum(v * v for v in x.tolist()),
    "tolist()[2]": lambda x: x.tolist()[2] ** 3 + x[0],
    "item": lambda x: x[1].item() * x[0].item() ** 2,
    "float(x[0])": lambda x: float(x[0]) ** 2 + float(x[2]),
}
# The tracer cannot see float() or np.asarray(x) with a float dtype: NumPy and Python do not
# hand those to it; it says so (TracedConversionError) instead of dropping the derivative.
TRACER_REFUSES = {"float(x[0])"}


def _fd(f, x):
    return numeric_grad(f, [x], 0, eps=1e-7)


@pytest.mark.parametrize("name", sorted(CASTS))
@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_casts(name, fallback):
    f = CASTS[name]
    for x in (X, np.array([1.6, 0.2, -0.45]), np.array([-2.3, 3.7, 0.9])):
        want = _fd(f, x)
        if fallback == "always" and name in TRACER_REFUSES:
            with pytest.raises(TracedConversionError, match="float"):
                s2sgrad.grad(f, fallback=fallback)(x)
            continue
        np.testing.assert_allclose(s2sgrad.grad(f, fallback=fallback)(x), want, rtol=1e-5,
                                   atol=1e-6)
        for k in range(3):
            t = np.eye(3)[k]
            value, tangent = s2sgrad.jvp(f, fallback=fallback)(x, t)
            assert value == pytest.approx(f(x))
            assert tangent == pytest.approx(want[k], rel=1e-5, abs=1e-6)
        value, back = s2sgrad.vjp(f)(x)
        np.testing.assert_allclose(back(1.0), want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------
# Item 9: a source file edited on disk after its module was imported
# ---------------------------------------------------------------------------

_MODULE = '''import numpy as np


def f(x):
    return np.sum(x ** 2) * 3.0


def g(x):
    return np.sum(np.sin(x) * 2.0)


scale = lambda x: np.sum(x * 4.0)   # noqa: E731
'''


def _import_fresh(tmp_path, name, text):
    import importlib
    import sys
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module(name), path
    finally:
        sys.path.remove(str(tmp_path))


def _edit(path, text, later):
    import os
    import time
    path.write_text(text)
    t = time.time() + later
    os.utime(path, (t, t))      # a different mtime even within one clock tick


def _grads_of_running_code(mod, x):
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = {"f": s2sgrad.grad(mod.f)(x), "g": s2sgrad.grad(mod.g)(x),
               "scale": s2sgrad.grad(mod.scale)(x),
               "f_jvp": s2sgrad.jvp(mod.f)(x, np.ones_like(x))}
    np.testing.assert_allclose(got["f"], 6.0 * x)           # the constant that runs: 3.0
    np.testing.assert_allclose(got["g"], 2.0 * np.cos(x))
    np.testing.assert_allclose(got["scale"], 4.0 * np.ones_like(x))
    assert got["f_jvp"][0] == pytest.approx(mod.f(x))
    assert got["f_jvp"][1] == pytest.approx(np.sum(6.0 * x))
    return [str(w.message) for w in caught]


def test_unedited_module_is_transformed(tmp_path):
    mod, _ = _import_fresh(tmp_path, "s2s_unedited_mod", _MODULE)
    x = np.array([0.3, -1.1, 2.0])
    assert _grads_of_running_code(mod, x) == []
    s2sgrad.grad(mod.f, fallback="never")(x)


def test_edited_constant_differentiates_the_running_code(tmp_path):
    mod, path = _import_fresh(tmp_path, "s2s_edited_const_mod", _MODULE)
    x = np.array([0.3, -1.1, 2.0])
    # Same lines, other constants: the text on disk is not what runs.
    _edit(path, _MODULE.replace("3.0", "5.0").replace("2.0", "7.0").replace("4.0", "9.0"), 5)
    messages = _grads_of_running_code(mod, x)
    assert messages and all("edited after the function was loaded" in m for m in messages)
    assert all("s2sgrad traces" in m for m in messages)
    with pytest.raises(s2sgrad.errors.SourceError, match="s2s_edited_const_mod.py is not the "
                                                         "code that runs"):
        s2sgrad.grad(mod.f, fallback="never")(x)


def test_moved_lines_differentiate_the_running_code(tmp_path):
    mod, path = _import_fresh(tmp_path, "s2s_moved_mod", _MODULE)
    x = np.array([0.3, -1.1, 2.0])
    moved = _MODULE.replace("import numpy as np\n",
                            "import numpy as np\n\n\ndef g(x):\n    return np.sum(x ** 3)\n"
                            "\n\ndef f(x):\n    return np.sum(np.exp(x))\n")
    _edit(path, moved, 5)
    messages = _grads_of_running_code(mod, x)
    assert messages and all("edited after the function was loaded" in m for m in messages)


SAME = 0.5


def default_named_by_a_global(x, p=SAME):
    return np.sum(x * x) * p


def test_a_default_still_named_by_its_global_reads_as_written():
    text = s2sgrad.grad(default_named_by_a_global, emit=True)
    assert "p=SAME" in text
    text = s2sgrad.grad(default_from_global, emit=True)      # P was rebound since: the value
    assert "p=2.0" in text and "p=P" not in text


def test_second_derivatives_through_casts_and_lists():
    def f(x):
        v = np.array([x[0] * x[1], x[2]])
        return np.sum(v ** 2) * np.sum(x.astype(int)) + sum(t ** 3 for t in x.tolist())
    h = s2sgrad.hessian(f)(X)
    grad = s2sgrad.grad(f)
    want = np.array([numeric_grad(lambda y, k=k: grad(y)[k], [X]) for k in range(3)])
    np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn,what", [(forgot_return, "returned None"),
                                     (returns_bool, "returned a bool")])
def test_second_derivatives_say_an_output_without_a_derivative_in_their_words(fn, what):
    for op, run in (("hessian", lambda f: s2sgrad.hessian(f)(X)),
                    ("hvp", lambda f: s2sgrad.hvp(f)(X, np.ones(3)))):
        with pytest.raises(s2sgrad.errors.NonDifferentiableError) as info:
            run(fn)
        msg = str(info.value)
        line = fn.__code__.co_firstlineno
        assert msg.startswith(f"test_python_semantics.py:{line}: {op}({fn.__name__}): "), msg
        assert what in msg, msg
