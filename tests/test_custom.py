"""User-defined derivatives, stop_gradient, non-differentiable functions and checkpointing.

Each custom rule is checked where it is used: inlined into generated code (or
called from it), in the tracing fallback, in forward mode and at higher order,
against finite differences or against the rule's own value when the rule is
deliberately not the true derivative (to show it is the one used).
"""

import warnings

import numpy as np
import pytest

import s2sgrad
from gradcheck import assert_close, numeric_grad
from s2sgrad import FallbackWarning
from s2sgrad.driver import routes as choose
from s2sgrad.fallback import trace_jvp, trace_vjp

rng = np.random.default_rng(3)
MODES = ("auto", "always")     # generated code, and the tracing fallback


@s2sgrad.custom_vjp
def softplus(x):
    return np.log(1.0 + np.exp(x))


@softplus.defvjp
def softplus_vjp(g, ans, x):
    return g / (1.0 + np.exp(-x))


@softplus.defjvp
def softplus_jvp(t, ans, x):
    return t / (1.0 + np.exp(-x))


@s2sgrad.custom_vjp
def half_grad(x):
    """The identity, whose declared derivative is 0.5: shows which rule runs."""
    return x


half_grad.defvjp(lambda g, ans, x: 0.5 * g)
half_grad.defjvp(lambda t, ans, x: 0.5 * t)


def loop_softplus(x, w):
    y = x
    for _ in range(3):
        y = softplus(y * w) - 0.3 * y
    return np.sum(y ** 2)


@pytest.mark.parametrize("fallback", MODES)
def test_custom_rule_in_a_loop_against_finite_differences(fallback):
    for _ in range(3):
        x, w = rng.normal(size=4), float(rng.normal())
        gx, gw = s2sgrad.grad(loop_softplus, (0, 1), fallback=fallback)(x, w)
        assert_close(gx, numeric_grad(loop_softplus, (x, w), 0), rtol=1e-6)
        assert_close(gw, numeric_grad(loop_softplus, (x, w), 1), rtol=1e-6)


def test_the_rule_is_inlined_into_generated_code():
    src = s2sgrad.grad(loop_softplus, emit=True)
    assert "softplus(" in src and "/ (1.0 + numpy.exp(-" in src    # the rule's own expression
    assert "softplus_fwd" not in src and "np.log(1.0" not in src   # softplus is not looked into
    assert softplus.not_inlined == {}


@pytest.mark.parametrize("fallback", MODES)
def test_the_declared_rule_is_the_one_used_in_both_consumers(fallback):
    def f(x):
        return half_grad(x) * 3.0 + x

    assert s2sgrad.grad(f, fallback=fallback)(1.3) == pytest.approx(2.5)
    assert s2sgrad.grad(half_grad, fallback=fallback)(0.7) == 0.5
    # forward mode: the tracer (and a bare custom function by its rule) use the jvp rule
    assert trace_jvp(f, (1.3,), {}, (0,), (1.0,))[1] == pytest.approx(2.5)
    route = choose.build(half_grad, (0,), "auto", None, mode="fwd")
    assert route.route == "rule" and route((0.7,), {}, (2.0,)) == (0.7, 1.0)


def test_forward_rule_in_the_fallback_against_finite_differences():
    def f(x):
        return softplus(np.sin(x)) * x

    for x in (-1.2, 0.1, 0.9):
        value, t = trace_jvp(f, (x,), {}, (0,), (1.0,))
        assert value == pytest.approx(f(x))
        assert t == pytest.approx(numeric_grad(f, (x,)), rel=1e-6)


# ---------------------------------------------------------------------------
# Several parameters, rules that cannot be inlined
# ---------------------------------------------------------------------------


def cos_times(x, y):
    return np.cos(x) * y


@s2sgrad.custom_vjp
def sin_prod(x, y, scale=1.0):
    return np.sin(x) * y * scale


sin_prod.defvjp(x=lambda g, ans, x, y, s: g * cos_times(x, y) * s,   # a helper: called
                y=lambda g, ans, a, b, s: g * np.sin(a) * s)          # other names: inlined
sin_prod.defjvp(x=lambda t, ans, x, y, s: t * np.cos(x) * y * s,
                y=lambda t, ans, x, y, s: t * np.sin(x) * s)


@s2sgrad.custom_vjp(wrt=("a", "b"))
def weighted(a, b, n):
    return (a ** n) * b


@weighted.defvjp
def weighted_vjp(g, ans, a, b, n):
    """One rule for both differentiable parameters: a tuple of cotangents."""
    da = g * n * a ** (n - 1) * b
    return da, g * a ** n


def uses_both(x, y):
    return np.sum(sin_prod(x, y, scale=2.0) + weighted(x, y, 3)) * np.sum(y)


@pytest.mark.parametrize("fallback", MODES)
def test_several_parameters_keyword_and_tuple_rules(fallback):
    x, y = rng.normal(size=3), rng.normal(size=3)
    for wrt in (0, 1, (0, 1)):
        g = s2sgrad.grad(uses_both, wrt, fallback=fallback)(x, y)
        for w, gw in zip((wrt,) if isinstance(wrt, int) else wrt,
                         (g,) if isinstance(wrt, int) else g):
            assert_close(gw, numeric_grad(uses_both, (x, y), w), rtol=1e-6)


def test_rules_that_cannot_be_inlined_are_called_by_generated_code():
    src = s2sgrad.grad(uses_both, emit=True)
    assert "sin_prod.vjp_x(" in src                     # uses a helper: called
    assert "cos_times" not in src
    assert "which generated code cannot see" in sin_prod.not_inlined["vjp_x"]
    src_y = s2sgrad.grad(uses_both, 1, emit=True)
    assert "sin_prod.vjp_y" not in src_y                              # inlined, renamed:
    assert "d_result_sin_prod * numpy.sin(x) * 2.0" in src_y          # g * np.sin(a) * s
    # the tuple rule is inlined for the active parameter only: g * a ** n, not da
    assert "d_result_weighted * x ** 3" in src_y and "da =" not in src_y
    src_x = s2sgrad.grad(uses_both, 0, emit=True)
    assert "da = d_result_weighted * 3 * x ** 2 * y" in src_x
    assert "d_result_weighted * x ** 3" not in src_x


def test_rule_without_source_is_called():
    ns = {"np": np}
    exec("def rule(g, ans, x):\n    return g * np.cosh(x)\n", ns)

    @s2sgrad.custom_vjp
    def sinh(x):
        return np.sinh(x)

    sinh.defvjp(ns["rule"])

    def f(x):
        return sinh(x) * x

    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        for x in (-0.4, 0.8):
            assert s2sgrad.grad(f)(x) == pytest.approx(numeric_grad(f, (x,)), rel=1e-6)
    assert "sinh.vjp_x(" in s2sgrad.grad(f, emit=True)
    assert "not available" in sinh.not_inlined["vjp_x"]


def test_missing_rule_is_an_error_naming_function_and_parameter():
    @s2sgrad.custom_vjp
    def only_x(x, y):
        return x * y

    only_x.defvjp(x=lambda g, ans, x, y: g * y)

    def f(x, y):
        return only_x(x, y)

    assert s2sgrad.grad(f, 0)(2.0, 3.0) == 3.0
    with pytest.raises(s2sgrad.UnsupportedError,
                       match=r"test_custom.py:\d+: a derivative with respect to 'y' of .*only_x, "
                             r"which has no reverse-mode rule.*only_x.defvjp\(y=\.\.\.\)"):
        s2sgrad.grad(f, 1, fallback="never")(2.0, 3.0)
    with pytest.raises(s2sgrad.NoRuleError,
                       match=r"test_custom.py:\d+: .*only_x has no reverse-mode rule for its "
                             r"parameter 'y'.*only_x.defvjp\(y=\.\.\.\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FallbackWarning)
            s2sgrad.grad(f, 1)(2.0, 3.0)
    with pytest.raises(s2sgrad.NoRuleError, match="no forward-mode rule for its parameter 'x'"):
        trace_jvp(f, (2.0, 3.0), {}, (0,), (1.0,))


def test_parameter_named_like_a_rule_argument_is_traced():
    @s2sgrad.custom_vjp
    def decay(x, t):
        return x * np.exp(-t)

    decay.defvjp(x=lambda g, ans, x, t: g * np.exp(-t), t=lambda g, ans, x, t: -g * ans)

    def f(x, t):
        return decay(x, t) * t

    with pytest.warns(FallbackWarning, match="parameter name 't' of .*decay.*rename"):
        g = s2sgrad.grad(f, (0, 1))(0.7, 0.3)
    assert g == pytest.approx((np.exp(-0.3) * 0.3, numeric_grad(f, (0.7, 0.3), 1)), rel=1e-6)


def test_decorator_and_rule_validation():
    with pytest.raises(TypeError, match="named positional parameters"):
        s2sgrad.custom_vjp(lambda *xs: xs[0])
    with pytest.raises(TypeError, match="Python functions"):
        s2sgrad.custom_vjp(np.sin)

    @s2sgrad.custom_vjp
    def f(x, y):
        return x * y

    with pytest.raises(TypeError, match=r"takes \(g, ans, x, y\)"):
        f.defvjp(x=lambda g, x: g)
    with pytest.raises(TypeError, match="one forward rule per parameter"):
        f.defjvp(lambda t, ans, x, y: t)
    with pytest.raises(ValueError, match="no parameter 'z'"):
        f.defvjp(z=lambda g, ans, x, y: g)


# ---------------------------------------------------------------------------
# Higher order and dynamic calls
# ---------------------------------------------------------------------------


def test_rule_written_in_numpy_can_itself_be_differentiated():
    def f(x):
        return softplus(x) * x

    d1 = s2sgrad.grad(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        d2 = s2sgrad.grad(d1)
        d2_traced = s2sgrad.grad(s2sgrad.grad(f, fallback="always"))
        for x in (-1.0, 0.3, 1.7):
            sig = 1 / (1 + np.exp(-x))
            assert d2(x) == pytest.approx(sig * (1 - sig) * x + 2 * sig, rel=1e-10)
            assert d2_traced(x) == pytest.approx(d2(x), rel=1e-12)
    report = s2sgrad.check_grads(f, 0, 0.4, modes=("rev",), order=3)
    assert report.checked == ["rev", "rev of rev", "rev of rev of rev"]


def test_custom_function_reached_through_a_dynamic_call():
    def apply(fn, x):
        return np.sum(fn(x) * x)

    x = rng.normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FallbackWarning)
        g = s2sgrad.grad(apply, 1)(softplus, x)
    assert_close(g, numeric_grad(apply, (softplus, x), 1), rtol=1e-6)
    assert s2sgrad.grad(apply, 1)(half_grad, np.ones(2)).tolist() == [1.5, 1.5]


# ---------------------------------------------------------------------------
# No derivative: stop_gradient and non_differentiable
# ---------------------------------------------------------------------------


@s2sgrad.non_differentiable
def quantize(x):
    return np.round(x * 4.0) / 4.0


@pytest.mark.parametrize("fallback", MODES)
def test_stop_gradient_and_non_differentiable(fallback):
    def f(x):
        return np.sum(x * s2sgrad.stop_gradient(x) + quantize(x) * x)

    x = np.array([0.3, -1.1, 0.6])
    g = s2sgrad.grad(f, fallback=fallback)(x)
    np.testing.assert_allclose(g, x + quantize(x), rtol=1e-14)
    value, _ = s2sgrad.value_and_grad(f, fallback=fallback)(x)
    assert value == pytest.approx(f(x))
    assert quantize.__name__ == "quantize" and quantize(0.3) == 0.25


def test_stop_gradient_at_every_order_and_in_forward_mode():
    def f(x):
        return np.exp(x) * s2sgrad.stop_gradient(x ** 2)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        assert s2sgrad.grad(s2sgrad.grad(f))(0.5) == pytest.approx(np.exp(0.5) * 0.25)
    assert trace_jvp(f, (0.5,), {}, (0,), (1.0,))[1] == pytest.approx(np.exp(0.5) * 0.25)
    assert "stop_gradient" in s2sgrad.grad(f, emit=True)


# ---------------------------------------------------------------------------
# Checkpointing
# ---------------------------------------------------------------------------

CALLS = [0]


@s2sgrad.non_differentiable
def tick():
    CALLS[0] += 1
    return 0.0


@s2sgrad.checkpoint
def cell(h, w):
    t = tick()
    a = np.tanh(h * w + t)
    return a * h + 0.1 * np.sin(a)


def rnn(h, w, n):
    for _ in range(n):
        h = cell(h, w)
    return np.sum(h ** 2)


@pytest.mark.parametrize("fallback", MODES)
def test_checkpoint_in_a_loop_recomputes_instead_of_storing(fallback):
    h, w = rng.normal(size=3), 0.8
    for n in (1, 4):
        CALLS[0] = 0
        gh, gw = s2sgrad.grad(rnn, (0, 1), fallback=fallback)(h, w, n)
        assert CALLS[0] == 2 * n          # every step ran twice: forward, then recomputed
        assert_close(gh, numeric_grad(rnn, (h, w, n), 0), rtol=1e-6)
        assert_close(gw, numeric_grad(rnn, (h, w, n), 1), rtol=1e-6)


def test_checkpoint_generated_code_keeps_only_the_inputs():
    src = s2sgrad.grad(rnn, emit=True)
    assert "h = cell(h, w)" in src and "cell.vjp_h(d_h, h, w)" in src
    assert "cell_fwd" not in src and "np.tanh" not in src        # cell's sweep is not inlined
    loop = src[src.index("for _ in range(n):"):src.index("result =")]
    assert loop.count("_tape.append") == 1                        # h, nothing of cell


def test_checkpoint_of_an_untransformable_function_and_forward_mode():
    @s2sgrad.checkpoint
    def step(x):
        try:
            return np.sin(x) * x
        except ValueError:
            return x

    def f(x):
        for _ in range(3):
            x = step(x) + 0.5
        return x

    with pytest.warns(FallbackWarning, match="step.*try statement"):
        for x in (-0.6, 0.4):
            assert s2sgrad.grad(f)(x) == pytest.approx(numeric_grad(f, (x,)), rel=1e-6)
    assert trace_jvp(f, (0.4,), {}, (0,), (1.0,))[1] == pytest.approx(numeric_grad(f, (0.4,)),
                                                                       rel=1e-6)
    value, back = trace_vjp(f, (0.4,), {}, (0,))
    assert back(2.0)[0] == pytest.approx(2 * numeric_grad(f, (0.4,)), rel=1e-6)


def test_checkpoint_second_derivative():
    def f(x):
        return cell(x, 0.7) * x

    d1 = s2sgrad.grad(f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        d2 = s2sgrad.grad(d1)
        for x in (-0.5, 0.9):
            assert d2(x) == pytest.approx(numeric_grad(d1, (x,)), rel=1e-6)


def test_generated_code_that_copies_a_rule_is_not_served_stale_from_the_disk_cache():
    from s2sgrad.driver import cache
    from s2sgrad.transform.program import Program

    @s2sgrad.custom_vjp
    def scaled(x):
        return 2.0 * x

    scaled.defvjp(lambda g, ans, x: 2.0 * g)

    def f(x):
        return scaled(x) * x

    program = Program()
    program.entry(f, (0,))
    assert ("copied", scaled._s2sgrad_inlined_rules[0]) in program.jobs   # seen by gen/check
    before = cache.stats["not_cacheable"]
    assert s2sgrad.grad(f)(1.5) == pytest.approx(6.0)
    assert cache.stats["not_cacheable"] == before + 1     # memoized in-process only
