"""The fallback chosen by the API: where source transformation cannot work, and saying so.

Every case is checked against central finite differences at several points,
and for the warning: its category, the function, the file and line, the
construct.  Each test defines its own functions: the warning is given once per
function.
"""

import functools
import operator
import re
import warnings

import numpy as np
import pytest

import s2sgrad
from gradcheck import assert_close, numeric_grad
from s2sgrad import FallbackWarning
from s2sgrad.driver import routes as choose

POINTS = (-1.3, 0.4, 2.1)
rng = np.random.default_rng(11)


def check_points(grad_fn, f, points=POINTS, wrt=0, extra=()):
    """``grad_fn`` against finite differences of ``f`` at each point (argument ``wrt``)."""
    for p in points:
        args = (p,) + tuple(extra) if wrt == 0 else tuple(extra[:wrt]) + (p,) + tuple(extra[wrt:])
        assert_close(grad_fn(*args), numeric_grad(f, args, wrt), rtol=1e-6, atol=1e-8)


def one_warning(record):
    msgs = [str(w.message) for w in record if issubclass(w.category, FallbackWarning)]
    assert len(msgs) == 1, msgs
    return msgs[0]


def here(fn, offset=0):
    return f"test_fallback_api.py:{fn.__code__.co_firstlineno + offset}"


# ---------------------------------------------------------------------------
# Functions without source
# ---------------------------------------------------------------------------


def test_function_made_by_exec():
    ns = {"np": np}
    exec("def made(x, a):\n    s = 0.0\n    for k in range(3):\n        s = s + np.sin(a * x) ** k\n"
         "    return s\n", ns)
    made = ns["made"]
    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(made), made, extra=(1.7,))
    msg = one_warning(record)
    assert "traces made (<string>:1)" in msg and "made by exec or eval" in msg
    assert "fallback='never'" in msg
    with pytest.raises(s2sgrad.SourceError, match="made.*not available"):
        s2sgrad.grad(made, fallback="never")(0.3, 1.7)


def test_lambda_made_by_eval_and_one_typed_at_a_prompt():
    lam = eval("lambda x: np.exp(-x * x) * x", {"np": np})
    ns = {"np": np}
    exec(compile("f = lambda x: np.cos(x) ** 3\n", "<stdin>", "exec"), ns)   # as the REPL does
    typed = ns["f"]
    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(lam), lam)
        check_points(s2sgrad.grad(typed), typed)
    msgs = [str(w.message) for w in record]
    assert len(msgs) == 2
    assert "<lambda> (<string>:1)" in msgs[0] and "<lambda> (<stdin>:1)" in msgs[1]
    assert all("interactive prompt" in m for m in msgs)


def test_callables_from_c_extensions(monkeypatch):
    from s2sgrad.driver import routes
    monkeypatch.setattr(routes, "_WARNED", set())   # (said once per function: another test may have)
    with pytest.warns(FallbackWarning) as record:
        ga, gb = s2sgrad.grad(operator.mul, (0, 1))(3.0, -2.5)
    assert (ga, gb) == (-2.5, 3.0)
    msg = one_warning(record)
    assert "operator.mul (built-in)" in msg and "C-extension" in msg
    with pytest.warns(FallbackWarning):
        check_points(s2sgrad.grad(operator.truediv, 1), operator.truediv, wrt=1, extra=(2.0,))
    with pytest.raises(s2sgrad.SourceError):
        s2sgrad.grad(operator.add, fallback="never")(1.0, 2.0)


def test_a_bare_primitive_uses_its_rule_without_tracing_or_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        check_points(s2sgrad.grad(np.tanh), np.tanh)
        check_points(s2sgrad.grad(np.arctan2, 1), np.arctan2, wrt=1, extra=(0.7,))
        value, g = s2sgrad.value_and_grad(np.sin, fallback="never")(0.3)
    assert value == np.sin(0.3) and g == pytest.approx(np.cos(0.3), abs=1e-15)
    assert "rule" in s2sgrad.grad(np.tanh, emit=True)
    # fallback="always" traces it: same rule, same value
    assert s2sgrad.grad(np.tanh, fallback="always")(0.3) == pytest.approx(1 - np.tanh(0.3) ** 2)


def test_getattr_of_a_module_is_dispatched_by_rule_at_run_time():
    def f(x, name):
        y = getattr(np, name)(x) * x
        return np.sum(y)

    x = rng.normal(size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)   # a rule is no fallback
        for nm in ("sin", "tanh", "exp"):
            g = s2sgrad.grad(f, fallback="never")(x, nm)
            assert_close(g, numeric_grad(f, (x, nm)), rtol=1e-6)
    assert "_rt.call_fwd(_tape, getattr(np, name), (x,)" in s2sgrad.grad(f, emit=True)


# ---------------------------------------------------------------------------
# Unsupported constructs in the function itself
# ---------------------------------------------------------------------------


def test_try_except_in_the_function():
    def f(x):
        try:
            y = np.log(x) * x
        except FloatingPointError:
            y = x
        return y * np.sin(x)

    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(f), f, points=(0.3, 1.1, 2.5))
    msg = one_warning(record)
    assert f"traces {f.__qualname__} ({here(f)})" in msg
    assert f"a try statement ({here(f, 1)})" in msg
    assert "# s2sgrad traces" in s2sgrad.grad(f, emit=True)


def test_with_statement_and_global_and_nonlocal_writes():
    def f_with(x):
        with np.errstate(all="ignore"):
            y = np.sqrt(x) * x
        return y

    global CALLS
    CALLS = 0

    def f_global(x):
        global CALLS
        CALLS += 1
        return np.exp(x) / (1 + x * x)

    def counter():
        n = 0

        def f(x):
            nonlocal n
            n += 1
            return np.cosh(x) * n
        return f

    f_nonlocal = counter()
    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(f_with), f_with, points=(0.5, 1.5))
        check_points(s2sgrad.grad(f_global), f_global)
    msgs = [str(w.message) for w in record]
    assert f"a with statement ({here(f_with, 1)})" in msgs[0]
    assert f"a global statement ({here(f_global, 1)})" in msgs[1]
    assert CALLS > 0
    with pytest.warns(FallbackWarning, match="a nonlocal statement"):
        g = s2sgrad.grad(f_nonlocal)(0.8)
    # the gradient is taken in one run: the counter advanced once
    assert g == pytest.approx(np.sinh(0.8) * 1, rel=1e-12)


def test_variable_argument_lists():
    def f(*xs):
        total = 0.0
        for x in xs:
            total = total + np.sin(x) * xs[0]
        return total

    def g(x, y):
        args = (x, y, 0.5)
        return f(*args) * y

    with pytest.warns(FallbackWarning) as record:
        for a in POINTS:
            ga, gb = s2sgrad.grad(f, (0, 2))(a, 1.0, 0.3)
            assert ga == pytest.approx(numeric_grad(f, (a, 1.0, 0.3), 0), rel=1e-6)
            assert gb == pytest.approx(numeric_grad(f, (a, 1.0, 0.3), 2), rel=1e-6)
        check_points(s2sgrad.grad(g, 1), g, wrt=1, extra=(0.9,))
    msgs = [str(w.message) for w in record]
    assert "the variable parameter list of f" in msgs[0]
    assert f"a starred argument (*args) ({here(g, 2)})" in msgs[1]


def test_generator_callee_makes_its_caller_fall_back():
    def powers(x, n):
        for k in range(n):
            yield x ** k

    def f(x):
        total = 0.0
        for p in powers(x, 4):
            total = total + p
        return total * np.cos(x)

    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(f), f)
    msg = one_warning(record)
    assert f"traces {f.__qualname__} ({here(f)})" in msg
    assert f"a generator (yield) ({here(powers, 2)})" in msg
    with pytest.raises(s2sgrad.UnsupportedError, match="generator"):
        s2sgrad.grad(powers)(0.5, 3)        # no value to differentiate: an error, not a trace


def test_containers_closures_and_inplace_writes_in_the_fallback():
    scale = 1.5

    def f(params, x):
        try:
            h = np.tanh(x @ params["W"] + params["b"][0])
        except ValueError:
            raise
        out = h.copy()
        out[0] = out[0] * scale
        out[1:] += h[:-1] ** 2
        return np.sum(out) + params["b"][1] ** 2

    params = {"W": rng.normal(size=(3, 2)), "b": [rng.normal(size=2), 0.4]}
    x = rng.normal(size=3)
    before = params["W"].copy()
    with pytest.warns(FallbackWarning):
        g = s2sgrad.grad(f)(params, x)
    assert_close(g, numeric_grad(f, (params, x)), rtol=1e-6)
    assert isinstance(g["b"], list) and type(g["b"][1]) is float
    np.testing.assert_array_equal(params["W"], before)


# ---------------------------------------------------------------------------
# functools.partial and lambdas
# ---------------------------------------------------------------------------


def test_partial_is_transformed_with_its_fixed_arguments_bound():
    def f(a, x, p=2.0):
        return np.sum(a * x ** p)

    a = rng.normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        h = functools.partial(f, a, p=3.0)
        for x in (rng.normal(size=3), rng.normal(size=3)):
            assert_close(s2sgrad.grad(h)(x), numeric_grad(h, (x,)), rtol=1e-6)
        ga = s2sgrad.grad(functools.partial(f, p=1.5), 0)(a, np.abs(x))
        assert_close(ga, numeric_grad(functools.partial(f, p=1.5), (a, np.abs(x))), rtol=1e-6)
    src = s2sgrad.grad(h, emit=True)
    assert "def grad_f(a, x, p=2.0" in src      # f itself, generated


def test_partial_of_an_untransformable_function_names_the_function():
    def f(x, k):
        try:
            return np.sin(k * x)
        except ValueError:
            return x

    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(functools.partial(f, k=2.5)), functools.partial(f, k=2.5))
    assert f"traces {f.__qualname__} ({here(f)})" in one_warning(record)


def test_inline_lambdas_sharing_a_line_are_transformed():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        gs = [s2sgrad.grad(lambda x: x ** 2), s2sgrad.grad(lambda x: np.sin(x) * x)]
        both = s2sgrad.grad(lambda x: x ** 3)(2.0) + s2sgrad.grad(lambda x: x * 5.0)(2.0)
        for p in POINTS:
            assert gs[0](p) == pytest.approx(2 * p)
            assert gs[1](p) == pytest.approx(np.cos(p) * p + np.sin(p))
    assert both == pytest.approx(12.0 + 5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        gs = [s2sgrad.grad(lambda x: x ** 2), s2sgrad.grad(lambda x: x ** 3),
              s2sgrad.grad(lambda x: x ** 4), s2sgrad.grad(lambda x: np.sin(x))]   # continued
        assert [g(2.0) for g in gs] == pytest.approx([4.0, 12.0, 32.0, np.cos(2.0)])
        three = s2sgrad.grad(lambda x: x * 2.0)(1.0) + s2sgrad.grad(
            lambda x: x * 3.0)(1.0) + s2sgrad.grad(lambda y: y * 5.0)(1.0)
        assert three == 10.0
    src = s2sgrad.grad(lambda x: x ** 2 + 1.0, emit=True) + s2sgrad.grad(lambda x: x * 7.0,
                                                                           emit=True)
    assert "x * 7.0" in src and "x ** 2 + 1.0" in src


# ---------------------------------------------------------------------------
# Policies, value_and_grad, warning once
# ---------------------------------------------------------------------------


def test_always_traces_a_transformable_function_and_agrees_with_generated_code():
    def f(x, n):
        y = x
        for _ in range(n):
            y = np.sin(y) * x + 0.1 * y
        return np.sum(y ** 2)

    x = rng.normal(size=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)   # asked for: no warning
        traced = s2sgrad.grad(f, fallback="always")(x, 4)
    generated = s2sgrad.grad(f)(x, 4)
    np.testing.assert_allclose(traced, generated, rtol=1e-13)
    assert "fallback='always'" in s2sgrad.grad(f, emit=True, fallback="always")
    with pytest.raises(ValueError, match="fallback='sometimes'"):
        s2sgrad.grad(f, fallback="sometimes")


def test_value_and_grad_with_the_fallback_and_warning_once_per_function():
    def f(x, y):
        try:
            return np.sin(x) * y ** 2
        finally:
            pass

    with pytest.warns(FallbackWarning) as record:
        value, g = s2sgrad.value_and_grad(f)(0.3, 2.0)
        value2, (gx, gy) = s2sgrad.value_and_grad(f, (0, 1))(0.5, 1.5)
        s2sgrad.grad(f)(0.1, 1.0)
    one_warning(record)
    assert value == f(0.3, 2.0) and g == pytest.approx(np.cos(0.3) * 4.0)
    assert (gx, gy) == pytest.approx((np.cos(0.5) * 2.25, np.sin(0.5) * 3.0))
    with pytest.raises(s2sgrad.UnsupportedError, match="try statement"):
        s2sgrad.value_and_grad(f, fallback="never")(0.3, 2.0)


def test_the_warning_can_be_escalated_to_an_error():
    def f(x):
        with np.errstate(divide="ignore"):
            return x / 3.0

    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        with pytest.raises(FallbackWarning, match=re.escape(here(f, 1))):
            s2sgrad.grad(f)(1.0)


# ---------------------------------------------------------------------------
# Mixed mode: generated code calling a traced callee
# ---------------------------------------------------------------------------


def risky(x, k):
    try:
        y = np.sin(x) * k + x ** 2
    except ValueError:
        y = x
    return y


def test_loop_in_generated_code_calls_a_traced_callee():
    def f(x, n):
        s = x
        for i in range(n):
            s = risky(s, 0.5) * x + s
        return s

    with pytest.warns(FallbackWarning) as record:
        for n in (1, 3):
            check_points(s2sgrad.grad(f), f, points=(-0.8, 0.3, 0.9), extra=(n,))
    msg = one_warning(record)
    assert f"traces risky ({here(risky)}, called at {here(f, 3)})" in msg
    assert f"a try statement ({here(risky, 1)})" in msg
    src = s2sgrad.grad(f, emit=True)
    assert "def grad_f(x, n" in src and "_rt.call_fwd(_tape, risky, (s, 0.5), {}, (0,))" in src
    assert "_rt.call_bwd(_tape, d_risky_out)" in src
    assert f"# risky is traced at run time: a try statement ({here(risky, 1)})" in src
    with pytest.raises(s2sgrad.UnsupportedError, match="try statement"):
        s2sgrad.grad(f, fallback="never")(0.3, 2)


@pytest.mark.auto_code
def test_callee_whose_adjoint_cannot_be_generated_gets_traced_stubs():
    def g(x, scale=2.0):
        return operator.mul(x, np.sin(x)) * scale

    def f(x):
        y = x
        for i in range(3):
            y = g(y, scale=0.5) + y
        return y

    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(f), f, points=(-0.5, 0.2, 0.7))
    msg = one_warning(record)
    assert f"traces {g.__qualname__} ({here(g)}, called at {here(f, 3)})" in msg
    assert "operator.mul, which has no derivative rule" in msg
    src = s2sgrad.grad(f, emit=True, example=(0.2,))     # the code the calls ran
    assert "g_fwd(_tape, y, scale=0.5)" in src
    assert "return _rt.call_fwd(_tape, g, (x, scale), {}, (0,))" in src
    assert "return _rt.call_bwd(_tape, d_out)[0]" in src
    with pytest.raises(s2sgrad.NoRuleError, match="operator.mul"):
        s2sgrad.grad(f, fallback="never")(0.3)


def test_method_and_function_argument_callees_are_traced_at_run_time():
    class Model:
        def __init__(self, w):
            self.w = w

        def predict(self, x):
            with np.errstate(over="ignore"):
                return np.tanh(self.w * x)

    model = Model(1.3)

    def f(x):
        return model.predict(x) * x

    ns = {"np": np}
    exec("def act(v):\n    return np.log1p(v * v)\n", ns)

    def apply(fn, x):
        y = fn(x) * x
        return fn(y)

    with pytest.warns(FallbackWarning) as record:
        check_points(s2sgrad.grad(f), f)
        check_points(s2sgrad.grad(apply, 1), apply, wrt=1, extra=(ns["act"],))
    msgs = [str(w.message) for w in record]
    assert len(msgs) == 2
    assert "Model.predict (test_fallback_api.py:" in msgs[0] and "a with statement" in msgs[0]
    assert f"traces act (<string>:1, called at {here(apply, 1)})" in msgs[1]
    with pytest.raises(s2sgrad.S2SGradError, match="act.*not a|not available|act"):
        s2sgrad.grad(apply, 1, fallback="never")(ns["act"], 0.4)


# ---------------------------------------------------------------------------
# Higher order and forward mode
# ---------------------------------------------------------------------------


def sigmoidish(x):
    y = x
    for _ in range(2):
        y = np.tanh(y) * x
    return y


def sigmoidish_try(x):
    try:
        return sigmoidish(x)
    except ValueError:
        return x


def sigmoidish_mixed(x):
    return sigmoidish_try(x) * np.sin(x)


@pytest.mark.parametrize("fn", [sigmoidish, sigmoidish_try, sigmoidish_mixed])
def test_second_and_third_derivatives_through_generated_and_traced_code(fn):
    d1 = s2sgrad.grad(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        d2 = s2sgrad.grad(d1)
        d3 = s2sgrad.grad(d2)
        for p in (-0.7, 0.3, 1.2):
            assert d2(p) == pytest.approx(numeric_grad(d1, (p,)), rel=1e-6, abs=1e-8)
            assert d3(p) == pytest.approx(numeric_grad(d2, (p,)), rel=1e-5, abs=1e-7)


def test_derivative_of_a_derivative_says_how_it_is_taken():
    def f(x):
        return np.exp(np.sin(x))

    with warnings.catch_warnings():   # grad's generated code is transformed again (issue 4)
        warnings.simplefilter("error", FallbackWarning)
        assert s2sgrad.grad(s2sgrad.grad(f))(0.3) == pytest.approx(
            (np.cos(0.3) ** 2 - np.sin(0.3)) * f(0.3))
    pullback = s2sgrad.vjp(f)         # no generated function stands for it: traced, saying so
    with pytest.warns(FallbackWarning, match=r"traces vjp\(.*f\).*derivative made by s2sgrad"):
        assert s2sgrad.grad(lambda x: pullback(x)[0] * 2.0)(0.3) == pytest.approx(
            2.0 * np.cos(0.3) * f(0.3))


def test_forward_mode_routes_for_the_operators_to_come():
    def f(x, y):
        try:
            return np.sin(x) * y ** 3
        except ValueError:
            return x

    def never_compiles(fn, wrt):
        raise AssertionError("forward code generation is not part of this test")

    def front_end_only(fn, wrt):      # stands for forward code generation: fails the same way
        from s2sgrad.frontend.normalize import normalize
        from s2sgrad.frontend.source import FunctionSource
        normalize(FunctionSource.of(fn))
        raise AssertionError("f should not normalize")

    with pytest.warns(FallbackWarning, match="a try statement"):
        route = choose.build(f, (0, 1), "auto", front_end_only, mode="fwd")
    value, t = route((0.4, 1.2), {}, (1.0, 0.5))
    assert value == f(0.4, 1.2)
    assert t == pytest.approx(np.cos(0.4) * 1.2 ** 3 + np.sin(0.4) * 3 * 1.2 ** 2 * 0.5)
    prim = choose.build(np.sin, (0,), "auto", never_compiles, mode="fwd")
    assert prim.route == "rule" and prim((0.3,), {}, (2.0,))[1] == pytest.approx(2 * np.cos(0.3))
    part = choose.build(functools.partial(np.arctan2, 0.5), (0,), "auto", never_compiles,
                        mode="fwd")
    assert part((2.0,), {}, (1.0,))[1] == pytest.approx(-0.5 / (0.25 + 4.0))


def test_dynamic_calls_in_forward_mode():
    from s2sgrad.driver import dynamic

    def g(x, k):
        return np.exp(k * x) * x

    ns = {"np": np}
    exec("def h(x):\n    return np.sinh(x) * 2.0\n", ns)
    value, t = dynamic.call_jvp(np.multiply, (2.0, 3.0), {}, (0, 1), (1.0, 0.1))
    assert (value, t) == (6.0, pytest.approx(3.0 + 0.2))
    value, t = dynamic.call_jvp(functools.partial(g, k=0.5), (0.7,), {}, (0,), (1.0,))
    assert t == pytest.approx(numeric_grad(lambda x: g(x, 0.5), (0.7,)), rel=1e-6)
    with pytest.warns(FallbackWarning, match=r"traces h \(<string>:1"):
        value, t = dynamic.call_jvp(ns["h"], (0.3,), {}, (0,), (2.0,))
    assert t == pytest.approx(4.0 * np.cosh(0.3))


def test_callable_objects_are_transformed_or_traced_by_their_call_method():
    class Poly:
        def __init__(self, c):
            self.c = c

        def __call__(self, x):
            return self.c * x ** 3

    class Guarded(Poly):
        def __call__(self, x):
            try:
                return self.c * np.sin(x)
            except ValueError:
                return x

    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        check_points(s2sgrad.grad(Poly(1.5)), Poly(1.5))
    assert "d_x = _rt.unbroadcast(d_result * self.c, x) * 3 * x ** 2" in s2sgrad.grad(
        Poly(2.0), emit=True)
    with pytest.warns(FallbackWarning, match=r"Guarded.__call__ .*a try statement"):
        check_points(s2sgrad.grad(Guarded(0.5)), Guarded(0.5))


def test_a_call_that_overwrites_its_own_argument_in_a_loop():
    """``h = layer(p, h)``: the argument's adjoint is the adjoint of h's old value."""
    scale = 0.7

    def layer(p, h):                     # transformed
        out = np.tanh(h @ p["W"] + p["b"]) * scale
        return out

    def guarded(p, h):                   # traced (mixed mode)
        with np.errstate(all="ignore"):
            out = np.tanh(h @ p["W"] + p["b"]) * scale
        out2 = out.copy()
        out2[0] = out2[0] * 2.0
        return out2

    def net(params, x):
        h = x
        for p in params:
            h = layer(p, h)
        return np.sum(h ** 2)

    def net_mixed(params, x):
        h = x
        for p in params:
            h = guarded(p, h)
        h = guarded(params[0], h)
        return np.sum(h ** 2)

    params = [{"W": rng.normal(size=(3, 3)), "b": rng.normal(size=3)} for _ in range(3)]
    x = rng.normal(size=3)
    for f in (net, net_mixed):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FallbackWarning)
            gp, gx = s2sgrad.grad(f, (0, 1))(params, x)
        assert_close(gp, numeric_grad(f, (params, x), 0), rtol=1e-6)
        assert_close(gx, numeric_grad(f, (params, x), 1), rtol=1e-6)


def test_source_edited_since_import_is_not_trusted(tmp_path, monkeypatch):
    import importlib
    import sys as _sys
    (tmp_path / "edited_mod.py").write_text(
        "import numpy as np\n\n\ndef f(x):\n    return np.sin(x) * x\n\n\n"
        "g = lambda x: x ** 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("edited_mod")
    try:
        (tmp_path / "edited_mod.py").write_text(
            "import numpy as np\n\n\ndef f(y):\n    return np.cos(y)\n\n\n"
            "g = lambda y: y ** 5\n")
        with pytest.warns(FallbackWarning) as record:
            check_points(s2sgrad.grad(mod.f), mod.f)          # the running code's derivative
            check_points(s2sgrad.grad(mod.g), mod.g)
        msgs = [str(w.message) for w in record]
        assert all("its source file was edited since it was loaded" in m for m in msgs)
        assert "traces f (edited_mod.py:4)" in msgs[0] and "<lambda> (edited_mod.py:8)" in msgs[1]
    finally:
        _sys.modules.pop("edited_mod", None)
