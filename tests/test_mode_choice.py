"""grad/value_and_grad with respect to one real scalar: forward mode, chosen from the signature.

``Request("grad", (0,), signature=...)`` where the signature proves the one
differentiated argument a real scalar (a Python float, a NumPy real scalar, a 0-d real
array) builds the tangent function seeded with 1.0 and an entry with the reverse
entry's interface (``driver.pipeline._forward_gradient``).  Anything else, or anything
forward mode cannot build (a custom_vjp rule without a forward rule), builds reverse
mode.  These tests compare both with central finite differences and with the general
(reverse) code, at several points.
"""

import math

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import pipeline
from s2sgrad.driver.request import Request
from s2sgrad.errors import NonScalarOutputError
from s2sgrad.signature import signature_of


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------

def loop(x):
    for _ in range(30):
        x = np.sin(x) * 1.01 + 0.1 * x
    return x


def series(x):
    total = 1.0
    term = 1.0
    k = 0
    while term > 1e-12:
        k += 1
        term = term * x / k
        total = total + term
    return total


def recursion(x, n):
    if n == 0:
        return 1.0
    return x * recursion(x, n - 1) + np.sin(x)


def branches(x):
    if x > 0.5:
        y = x * x * np.exp(-x)
    elif x > -0.5:
        y = np.cos(x) + x
    else:
        y = -x ** 3
    return y * 2.0


def _square_plus(a, b):
    return a * a + b


def _scaled(v, s=3.0):
    return np.tanh(v) * s


def helpers(x, w):
    y = _square_plus(x, w)
    z = _scaled(y) + _scaled(x, s=0.5)
    return np.sum(z * np.arange(1.0, 4.0)) + np.log(1.0 + x * x)


def to_array(x):
    return np.ones(3) * x


def to_complex(x):
    return (1.0 + 2.0j) * x * x + np.exp(1j * x)


def constant(x):
    return 3.0


def of_complex(z):
    return (z * z).real + np.abs(z)


def two(x, y):
    return x * np.sin(y) + y * y


def quartic(x):
    return x ** 4 - 3.0 * x ** 2 + np.sin(x)


@s2sgrad.custom_vjp
def softclip(x):
    return np.tanh(x) * 2.0


@softclip.defvjp
def softclip_vjp(g, ans, x):
    return g * 2.0 * (1.0 - np.tanh(x) ** 2)


def uses_custom_vjp(x):
    return softclip(x) * x


@s2sgrad.custom_jvp
def softclip_fwd(x):
    return np.tanh(x) * 2.0


@softclip_fwd.defjvp
def softclip_fwd_jvp(t, ans, x):
    return t * 2.0 * (1.0 - np.tanh(x) ** 2)


@softclip_fwd.defvjp
def softclip_fwd_vjp(g, ans, x):
    return g * 2.0 * (1.0 - np.tanh(x) ** 2)


def uses_custom_jvp(x):
    return softclip_fwd(x) * x


W = np.array([0.3, -0.2, 0.7])


def central(f, args, w=0, h=1e-6):
    def at(v):
        a = list(args)
        a[w] = v
        return f(*a)
    x = args[w]
    return (at(x + h) - at(x - h)) / (2 * h)


def build(fn, args, operator="grad", joint=False, wrt=(0,), signature=True):
    sig = signature_of(args) if signature else None
    return pipeline.run(fn, Request(operator, wrt, joint=joint, signature=sig))


def gradient_of(built, *args):
    """The gradient a built reverse entry returns: after the value (``built.valued``, the
    general code), or alone (grad's specialized code of one argument)."""
    out = built.entry(*args)
    return out[1] if built.valued else out


CASES = [
    (loop, [(0.3,), (1.1,), (-0.7,)]),
    (series, [(0.5,), (1.3,), (2.0,)]),
    (recursion, [(0.3, 0), (0.5, 7), (0.8, 30)]),
    (branches, [(0.9,), (0.1,), (-1.2,)]),
    (helpers, [(0.4, W), (-1.3, W), (2.0, W)]),
    (quartic, [(0.2,), (1.7,), (-2.1,)]),
]


# ---------------------------------------------------------------------------
# The forward choice gives the reverse gradient
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("fn,points", CASES, ids=[c[0].__name__ for c in CASES])
def test_forward_choice_matches_finite_differences_and_reverse(fn, points):
    for args in points:
        fwd = build(fn, args)
        assert fwd.interface["forward"] is True
        assert fwd.interface["entry"] == fwd.interface["grad"]
        rev = build(fn, args, signature=False)
        assert not rev.interface.get("forward")
        d_x = fwd.entry(*args)      # grad's entry: the gradient alone
        assert not fwd.valued
        vg = build(fn, args, operator="value_and_grad")
        assert vg.interface["forward"] is True and vg.valued
        value, vd_x = vg.entry(*args)
        assert vd_x == d_x
        rvalue, rd_x = rev.entry(*args)
        assert value == pytest.approx(fn(*args), rel=1e-12, abs=1e-12)
        assert value == pytest.approx(rvalue, rel=1e-12, abs=1e-12)
        assert d_x == pytest.approx(rd_x, rel=1e-10, abs=1e-12)
        assert d_x == pytest.approx(central(fn, args), rel=1e-6, abs=1e-7)
        assert type(d_x) is not np.ndarray      # a scalar, like the argument


@pytest.mark.parametrize("fn,points", CASES, ids=[c[0].__name__ for c in CASES])
def test_joint_and_value_and_grad_entries(fn, points):
    args = points[1]
    expected = central(fn, args)
    joint = build(fn, args, joint=True)
    assert joint.interface["forward"] is True
    assert joint.entry(*args) == pytest.approx(expected, rel=1e-6, abs=1e-7)
    vg = build(fn, args, operator="value_and_grad", joint=True)
    assert vg.interface["forward"] is True
    value, d_x = vg.entry(*args)
    assert value == pytest.approx(fn(*args), rel=1e-12)
    assert d_x == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_emitted_source_is_tangent_code_without_tape():
    for fn, points in CASES:
        src = build(fn, points[0]).source
        assert "_tape" not in src and ".pop()" not in src and ".append(" not in src, src
        assert "t_" in src and "seeded" in src and "in forward mode" in src
    # while_series: the tangent sweep is the hand-written one, no helper inside the loop
    src = build(series, (1.3,)).source
    loop_body = src[src.index("while term"):src.index("return total")]
    assert "_rt." not in loop_body
    assert "t_term = (t_term * x + term) / k" in loop_body
    assert "zeros_like" not in src


def test_specialized_entry_starts_from_one():
    # what grad and value_and_grad call: no cotangent parameter (the general code has one)
    args = (0.7,)
    fwd, rev = build(branches, args), build(branches, args, signature=False)
    with pytest.raises(TypeError):
        fwd.entry(*args, 2.5)
    assert fwd.entry(*args) == pytest.approx(rev.entry(*args, 1.0)[1], rel=1e-12)
    assert rev.entry(*args, 2.5)[1] == pytest.approx(2.5 * central(branches, args), rel=1e-6)


def test_numpy_scalar_and_0d_inputs_keep_their_dtype():
    for x in (np.float32(0.7), np.float64(0.7), np.array(0.7, dtype=np.float32),
              np.array(0.7)):
        fwd = build(quartic, (x,), operator="value_and_grad")
        rev = build(quartic, (x,), signature=False)
        assert fwd.interface["forward"] is True
        value, d_x = fwd.entry(x)
        _, rd_x = rev.entry(x)
        assert np.asarray(d_x).dtype == np.asarray(rd_x).dtype == x.dtype
        assert np.asarray(value).dtype == x.dtype
        tol = 1e-5 if x.dtype == np.float32 else 1e-10
        assert float(d_x) == pytest.approx(float(rd_x), rel=tol)
        assert float(d_x) == pytest.approx(central(quartic, (0.7,)), rel=tol + 1e-6)
        # what grad returns, after the route matches it to the argument
        from s2sgrad.runtime import match
        assert type(match(d_x, x)) is type(match(rd_x, x))


def test_complex_input_stays_in_reverse_mode_with_todays_answer():
    for z in (1.0 + 1.0j, np.complex128(0.5 - 2.0j), np.array(1.0 - 0.5j)):
        built = build(of_complex, (z,))
        assert not built.interface.get("forward")
        general = build(of_complex, (z,), signature=False)
        assert not built.valued and general.valued
        assert gradient_of(built, z) == gradient_of(general, z)
        assert "_tape" in built.source or "d_z" in built.source
    assert s2sgrad.grad(of_complex)(1.0 + 1.0j) == pytest.approx(
        pipeline.run(of_complex, Request("grad", (0,))).entry(1.0 + 1.0j)[1])


def test_complex_output_of_a_real_scalar_matches_reverse():
    # reverse mode gives Re(d * dy/dx) for a real x: so does the forward entry
    for x in (0.3, 1.5):
        fwd = build(to_complex, (x,), operator="value_and_grad")
        rev = build(to_complex, (x,), signature=False)
        assert fwd.interface["forward"] is True
        got, want = fwd.entry(x), rev.entry(x)
        assert got[0] == pytest.approx(want[0])
        assert got[1] == pytest.approx(want[1], rel=1e-12)
        assert not np.iscomplexobj(got[1])
        dy = central(to_complex, (x,))
        assert fwd.entry(x)[1] == pytest.approx(dy.real, rel=1e-6)


def test_non_scalar_output_is_refused_as_in_reverse_mode():
    built = build(to_array, (1.5,))
    assert built.interface["forward"] is True
    with pytest.raises(NonScalarOutputError, match="scalar output"):
        built.entry(1.5)
    with pytest.raises(NonScalarOutputError, match="scalar output"):
        build(to_array, (1.5,), joint=True).entry(1.5)
    with pytest.raises(NonScalarOutputError):
        build(to_array, (1.5,), signature=False).entry(1.5)


def test_what_stays_in_reverse_mode():
    # an array, two differentiated scalars
    assert not build(helpers, (0.4, W), wrt=(1,)).interface.get("forward")
    both = build(two, (0.4, 1.2), wrt=(0, 1))
    assert not both.interface.get("forward")
    _, d_x, d_y = both.entry(0.4, 1.2)
    assert d_x == pytest.approx(np.sin(1.2)) and d_y == pytest.approx(0.4 * np.cos(1.2) + 2.4)
    # an argument the output does not depend on: a zero gradient either way
    assert build(constant, (0.4,)).entry(0.4) == 0.0
    assert build(constant, (0.4,), operator="value_and_grad").entry(0.4) == (3.0, 0.0)
    assert build(constant, (0.4,), signature=False).entry(0.4) == (3.0, 0.0)
    # vjp and elementwise_grad keep their own builders
    assert not build(quartic, (0.4,), operator="vjp").interface.get("forward")
    # an int is not a real scalar (grad refuses it before building anything)
    assert not build(recursion, (2, 3)).interface.get("forward")


def test_custom_vjp_without_forward_rule_falls_back_to_reverse():
    for x in (0.3, -1.2):
        built = build(uses_custom_vjp, (x,))
        assert not built.interface.get("forward")
        expected = 2.0 * np.tanh(x) + x * 2.0 * (1.0 - np.tanh(x) ** 2)
        assert gradient_of(built, x) == pytest.approx(expected, rel=1e-12)
        assert gradient_of(built, x) == pytest.approx(central(uses_custom_vjp, (x,)), rel=1e-6)
    with_jvp = build(uses_custom_jvp, (0.3,))
    assert with_jvp.interface["forward"] is True
    assert with_jvp.entry(0.3) == pytest.approx(central(uses_custom_jvp, (0.3,)), rel=1e-6)


# ---------------------------------------------------------------------------
# Second derivatives
# ---------------------------------------------------------------------------

def _second(x):
    return 12.0 * x ** 2 - 6.0 - np.sin(x)


def test_second_derivatives_of_the_forward_gradient():
    for x in (0.2, 1.7, -2.1):
        joint = build(quartic, (x,), joint=True)
        assert joint.interface["forward"] is True
        gradient = joint.entry        # generated code: transformed again, in both modes
        assert s2sgrad.grad(gradient)(x) == pytest.approx(_second(x), rel=1e-10)
        assert s2sgrad.jvp(gradient)(x, 1.0)[1] == pytest.approx(_second(x), rel=1e-10)
        assert s2sgrad.grad(s2sgrad.grad(quartic))(x) == pytest.approx(_second(x), rel=1e-10)
        assert s2sgrad.hessian(quartic)(np.array(x)) == pytest.approx(_second(x), rel=1e-10)
    joint = build(series, (1.1,), joint=True)
    assert s2sgrad.grad(joint.entry)(1.1) == pytest.approx(
        central(lambda v: build(series, (v,), joint=True).entry(v), (1.1,), h=1e-5), rel=1e-6)


def test_recursion_second_derivative():
    joint = build(recursion, (0.6, 8), joint=True)
    assert joint.interface["forward"] is True
    d2 = s2sgrad.grad(joint.entry)(0.6, 8)
    d1 = lambda v, n: s2sgrad.grad(recursion)(v, n)      # noqa: E731
    assert d2 == pytest.approx(central(d1, (0.6, 8), h=1e-5), rel=1e-6)


# ---------------------------------------------------------------------------
# End to end: grad(f)(x) computes the signature at call time (driver.calls) and runs the
# forward-mode gradient it gets
# ---------------------------------------------------------------------------

def test_grad_of_a_float_function_end_to_end():
    for fn, points in CASES:
        for args in points:
            assert s2sgrad.grad(fn)(*args) == pytest.approx(central(fn, args), rel=1e-6,
                                                            abs=1e-7)
            value, d = s2sgrad.value_and_grad(fn)(*args)
            assert value == pytest.approx(fn(*args)) and d == pytest.approx(
                central(fn, args), rel=1e-6, abs=1e-7)


def test_specialized_emit_end_to_end_is_forward_mode():
    src = s2sgrad.grad(series, emit=True, example=(1.3,))
    assert "_tape" not in src and "t_term" in src and "in forward mode" in src
    assert s2sgrad.grad(series)(1.3) == pytest.approx(math.exp(1.3), rel=1e-10)


def reassigns(x):
    x = x * (1.0 + 1.0j)
    for _ in range(3):
        x = x * x * 0.5 + 1.0
    return x


def test_reassigned_argument_and_complex_values_inside():
    for x in (0.3, 0.9):
        fwd, rev = build(reassigns, (x,)), build(reassigns, (x,), signature=False)
        assert fwd.interface["forward"] is True
        assert "x_arg = x" in fwd.source      # the gradient is shaped like the argument
        assert fwd.entry(x) == pytest.approx(rev.entry(x)[1], rel=1e-12)
        assert fwd.entry(x) == pytest.approx(central(reassigns, (x,)).real, rel=1e-6)
        assert build(reassigns, (x,), joint=True).entry(x) == pytest.approx(
            rev.entry(x)[1], rel=1e-12)


def returns_none(x):
    y = x * 2.0      # noqa: F841


def test_a_function_returning_none_is_refused_by_grad_as_before():
    for operator in ("grad", "value_and_grad"):     # the entries check the output themselves
        with pytest.raises(s2sgrad.NonDifferentiableError, match="returned None"):
            build(returns_none, (0.5,), operator=operator).entry(0.5)
    with pytest.raises(s2sgrad.NonDifferentiableError, match="None"):
        s2sgrad.grad(returns_none)(0.5)


class Model:
    def __init__(self, a):
        self.a = a

    def energy(self, x, scale=2.0):
        return scale * np.sin(self.a * x) ** 2


def test_bound_method_with_a_default_and_a_keyword():
    m = Model(1.3)
    fwd = pipeline.run(m.energy, Request("value_and_grad", (0,),
                                         signature=signature_of((0.4,))))
    rev = pipeline.run(m.energy, Request("grad", (0,)))
    assert fwd.interface["forward"] is True
    for kwargs in ({}, {"scale": 3.0}):
        value, d_x = fwd((0.4,), kwargs)
        rvalue, rd_x = rev((0.4,), kwargs)
        assert value == pytest.approx(rvalue) and d_x == pytest.approx(rd_x, rel=1e-12)
        assert d_x == pytest.approx(central(lambda v: m.energy(v, **kwargs), (0.4,)), rel=1e-6)


def running_sums(x):
    total = 0.0      # reaches nothing but itself: grad's entry does not compute it
    acc = 1.0
    hits = 0
    for i in range(4):
        acc = acc * x + 0.5
        total = total + acc * acc
        if acc > 1.0:
            hits = hits + 1
    return acc * hits + total * total if x > 10.0 else acc


def test_grad_entry_drops_what_only_the_value_needs():
    for x in (0.3, 0.9, 1.4):
        fwd = build(running_sums, (x,))
        vg = build(running_sums, (x,), operator="value_and_grad")
        rev = build(running_sums, (x,), signature=False)
        d = fwd.entry(x)
        value, vd = vg.entry(x)
        assert value == pytest.approx(running_sums(x), rel=1e-12)
        assert d == vd == pytest.approx(rev.entry(x)[1], rel=1e-12)
        assert d == pytest.approx(central(running_sums, (x,)), rel=1e-6)
        # (the operators run the general code under S2SGRAD_CODE=general: the same to rounding)
        assert s2sgrad.grad(running_sums)(x) == pytest.approx(d, rel=1e-12)
        assert s2sgrad.value_and_grad(running_sums)(x) == (pytest.approx(value, rel=1e-12),
                                                          pytest.approx(d, rel=1e-12))
    # total's value reaches the gradient on one branch (total * total): it is kept
    assert "total = total + " in _code(fwd.source)
    # a variable that reaches nothing is dropped where liveness would keep it
    assert "total" not in _code(build(series, (1.3,)).source).replace("t_total", "")
    assert "total" in build(series, (1.3,), operator="value_and_grad").source


def _code(src):
    """The lines of generated code, without the comments citing the source."""
    return "\n".join(line for line in src.splitlines() if not line.strip().startswith("#"))


def smooth_sum(x):
    return np.sum(np.exp(np.sin(x)) * x ** 2)


def test_grads_reverse_entry_does_not_compute_the_value_it_does_not_return():
    # grad of one array argument: the specialized entry returns the gradient alone, so the
    # sum that only the value needed is not computed; value_and_grad's entry still is
    x = np.array([0.3, -1.2, 2.0])
    built = build(smooth_sum, (x,))
    assert not built.valued and not built.interface.get("forward")
    code = "\n".join(ln for ln in built.source.splitlines() if not ln.strip().startswith("#"))
    assert "np.sum(" not in code
    expected = np.exp(np.sin(x)) * (np.cos(x) * x ** 2 + 2 * x)
    np.testing.assert_allclose(gradient_of(built, x), expected, rtol=1e-12)
    np.testing.assert_allclose(s2sgrad.grad(smooth_sum)(x), expected, rtol=1e-12)
    valued = build(smooth_sum, (x,), operator="value_and_grad")
    assert valued.valued and "np.sum(" in valued.source
    value, g = s2sgrad.value_and_grad(smooth_sum)(x)
    assert value == pytest.approx(smooth_sum(x), rel=1e-14)
    np.testing.assert_allclose(g, expected, rtol=1e-12)
