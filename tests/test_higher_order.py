"""Derivatives of any order, by transforming generated code, in any mix of modes."""

import math

import numpy as np
import pytest
from numpy.polynomial import polynomial as P

import s2sgrad
from tangentcheck import axpy, combine, random_like

rng = np.random.default_rng(31)


def tanh_like(x):
    y = np.exp(-x)
    return (1.0 - y) / (1.0 + y)


def tanh_like_derivatives(n):
    """Closed forms: ``tanh_like(x) = tanh(x / 2)``, and ``d/dx p(t) = p'(t) (1 - t^2) / 2``."""
    polys = [np.array([0.0, 1.0])]
    for _ in range(n):
        polys.append(P.polymul(P.polyder(polys[-1]), [0.5, 0.0, -0.5]))
    return [lambda x, p=p: P.polyval(np.tanh(np.asarray(x) / 2), p) for p in polys]


XS = [-2.1, -0.3, 0.0, 0.8, 2.5]


def test_six_derivatives_of_the_tanh_like_function_by_nested_grad():
    closed = tanh_like_derivatives(6)
    f = tanh_like
    for order in range(1, 7):
        f = s2sgrad.grad(f)
        for x in XS:
            assert f(x) == pytest.approx(closed[order](x), rel=1e-9, abs=1e-12), (order, x)


def test_six_derivatives_by_nested_forward_mode_and_by_mixed_modes():
    closed = tanh_like_derivatives(6)
    f = tanh_like
    for order in range(1, 7):
        f = s2sgrad.deriv(f)
        assert [f(x) for x in XS] == pytest.approx([closed[order](x) for x in XS], rel=1e-9,
                                                     abs=1e-12)
    mixed = s2sgrad.grad(s2sgrad.deriv(s2sgrad.elementwise_grad(s2sgrad.deriv(tanh_like))))
    assert [mixed(x) for x in XS] == pytest.approx([closed[4](x) for x in XS], rel=1e-9, abs=1e-12)
    xs = np.array(XS)
    np.testing.assert_allclose(s2sgrad.elementwise_grad(s2sgrad.grad(tanh_like))(xs[2]),
                               closed[2](xs[2]), atol=1e-12)


def sinc(x):
    return np.sin(x) / x


def sinc_derivative(k, x):
    """Leibniz: the k-th derivative of ``sin(x) * x**-1``."""
    return sum(math.comb(k, j) * np.sin(x + (k - j) * np.pi / 2)
               * (-1) ** j * math.factorial(j) * x ** (-(j + 1)) for j in range(k + 1))


def test_seven_nested_elementwise_grads_of_sinc():
    x = np.linspace(-7, 7, 200)
    x = x[np.abs(x) > 1.0]   # away from zero, where the closed forms cancel badly
    f = sinc
    for order in range(1, 8):
        f = s2sgrad.elementwise_grad(f)
        np.testing.assert_allclose(f(x), sinc_derivative(order, x), rtol=1e-9, atol=1e-9)


# -- Hessians of functions with control flow --------------------------------------------------


def chain_energy(x, k):
    total = 0.0
    for i in range(x.shape[0] - 1):
        d = x[i + 1] - x[i]
        if d > 0:
            total = total + k * d ** 4
        else:
            total = total + np.cos(d) * x[i]
    return total + np.sum(x ** 2) * x[0]


def numeric_jacobian(f, x, eps=1e-6):
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = eps
        cols.append((f(x + e) - f(x - e)) / (2 * eps))
    return np.stack(cols, axis=-1)


def test_hessian_of_a_loop_with_a_branch_against_differences_of_the_gradient():
    x = np.array([0.3, -0.4, 0.9, 1.1, 0.2])   # steps up and down: both branches
    H = s2sgrad.hessian(chain_energy)(x, 2.0)
    g = s2sgrad.grad(chain_energy)
    np.testing.assert_allclose(H, numeric_jacobian(lambda x: g(x, 2.0), x), rtol=1e-5, atol=1e-6)


def test_hvp_against_the_hessian_and_without_forming_it():
    x = np.array([0.3, -0.4, 0.9, 1.1, 0.2])
    H = s2sgrad.hessian(chain_energy)(x, 2.0)
    for _ in range(3):
        v = rng.normal(size=5)
        np.testing.assert_allclose(s2sgrad.hvp(chain_energy)(x, 2.0, v), H @ v, rtol=1e-10,
                                   atol=1e-12)
    src = s2sgrad.hvp(chain_energy, emit=True)
    assert "hessian" not in src and src.count("\ndef ") == 1   # one forward-over-reverse sweep


# -- every construct, every pair of modes ----------------------------------------------------------


def cube_plus(x, c=1.0):
    return x ** 3 + c * x


def power_tower(x, n):
    if n == 0:
        return x
    return np.sin(power_tower(x, n - 1)) * x


def with_loops(x):
    y = x
    steps = 0
    while np.sum(y ** 2) > 0.05 and steps < 4:
        y = np.sin(y) * 1.1 + 0.2 * x
        steps += 1
    for i in range(3):
        if i == 1:
            continue
        y = y * np.cos(y + i)
    return np.sum(y)


def with_calls(x):
    scale = np.exp(x[0])

    def inner(v):
        return v * scale + cube_plus(v, 0.5)

    return np.sum(inner(x) ** 2) + np.sum(power_tower(x, 2))


def with_containers(x):
    parts = []
    for i in range(3):
        parts.append(x * (i + 1.0))
    table = {"a": parts[0], "b": np.tanh(parts[2])}
    y = np.zeros(3)
    y[0] = table["a"][1] * table["b"][2]
    y[1:] = x[:2] ** 2
    return np.sum(y * x) + np.sum(np.stack(parts) ** 2)


CONSTRUCTS = [with_loops, with_calls, with_containers]


def directional(f, x, v, eps=1e-6):
    return combine(f(axpy(x, v, eps)), f(axpy(x, v, -eps)), 1 / (2 * eps))


@pytest.mark.parametrize("f", CONSTRUCTS)
def test_second_derivatives_in_every_pair_of_modes(f):
    x = rng.uniform(0.2, 0.9, size=3)
    u, v = random_like(x, rng), random_like(x, rng)
    g = s2sgrad.grad(f)
    expected = directional(g, x, v)                                   # H v
    np.testing.assert_allclose(s2sgrad.hvp(f)(x, v), expected, rtol=1e-5, atol=1e-7)
    jvp_of_grad = s2sgrad.jvp(g)(x, v)[1]                             # forward over reverse
    np.testing.assert_allclose(jvp_of_grad, expected, rtol=1e-5, atol=1e-7)
    grad_of_grad = s2sgrad.grad(lambda x, v: np.sum(g(x) * v))(x, v)  # reverse over reverse
    np.testing.assert_allclose(grad_of_grad, expected, rtol=1e-5, atol=1e-7)
    tangent = s2sgrad.jvp(f)
    grad_of_jvp = s2sgrad.grad(lambda x, v: tangent(x, v)[1])(x, v)   # reverse over forward
    np.testing.assert_allclose(grad_of_jvp, expected, rtol=1e-5, atol=1e-7)
    jvp_of_jvp = s2sgrad.jvp(lambda x, u: tangent(x, u)[1])(x, u, v)[1]   # forward over forward
    assert jvp_of_jvp == pytest.approx(float(u @ expected), rel=1e-5, abs=1e-7)


def with_dict_writes(x):
    state = {"a": x, "b": 2.0 * x}
    for i in range(3):
        state["a"] = np.sin(state["a"]) * state["b"]   # the backward sweep puts items back
    return np.sum(state["a"] ** 2)


def test_second_derivatives_through_dict_items_written_in_a_loop():
    x = np.array([0.3, -0.4, 0.7])
    v = random_like(x, rng)
    g = s2sgrad.grad(with_dict_writes)
    expected = directional(g, x, v)
    np.testing.assert_allclose(s2sgrad.hvp(with_dict_writes)(x, v), expected, rtol=1e-5,
                               atol=1e-7)
    H = s2sgrad.hessian(with_dict_writes)(x)
    np.testing.assert_allclose(H @ v, expected, rtol=1e-5, atol=1e-7)
    # reverse over reverse: the generated code's item restores are traced, saying so
    with pytest.warns(s2sgrad.fallback.FallbackWarning, match="puts back a dict item"):
        grad_of_grad = s2sgrad.grad(lambda x, v: np.sum(g(x) * v))(x, v)
    np.testing.assert_allclose(grad_of_grad, expected, rtol=1e-5, atol=1e-7)


def test_third_derivative_of_a_loop_transforms_the_tapes_of_the_second():
    def f(x):
        y = x
        for i in range(3):
            y = np.sin(y) * x + 0.5 * y
        return y

    f1 = s2sgrad.grad(f)
    f2 = s2sgrad.grad(f1)
    f3 = s2sgrad.grad(f2)
    for x in (0.3, 1.2):
        assert f3(x) == pytest.approx((f2(x + 1e-5) - f2(x - 1e-5)) / 2e-5, rel=1e-6)
    src = s2sgrad.grad(f2, emit=True)
    assert "def grad_grad_grad_f(x" in src
    assert "_tape_1" in src and "_tape_2" in src   # each level keeps its own tape


# -- the generated code of a tower ------------------------------------------------------------------


def code_lines(src):
    return [ln for ln in src.splitlines() if ln.strip() and not ln.strip().startswith(
        ("#", '"', "Returns", "import", "from", "def "))]


def test_fourth_derivative_source_is_readable_and_shares_repeated_work():
    f = tanh_like
    sizes = []
    for order in range(1, 5):
        sizes.append(len(code_lines(s2sgrad.deriv(f, emit=True))))
        f = s2sgrad.deriv(f)
    src = s2sgrad.grad(s2sgrad.grad(s2sgrad.grad(s2sgrad.grad(tanh_like))), emit=True)
    assert "def grad_grad_grad_grad_tanh_like(x" in src
    # comments and messages cite the user's lines, never the hidden text of an earlier derivative
    assert "<s2sgrad" not in src and "grad_joint" not in src
    assert "test_higher_order.py:" in src
    # Shared subexpressions keep each order at about twice the size of the one before
    # (without sharing, the tangent code of the tangent code grows fourfold).
    assert all(b <= 2.5 * a for a, b in zip(sizes, sizes[1:])), sizes
    assert sizes[-1] <= 60, sizes


KNOTS = np.linspace(0.0, 1.0, 6)


def with_signal_functions(w, x):
    y = np.convolve(w, x, "same")
    z = np.correlate(y, w[:3], "valid")
    q = np.quantile(y, [0.25, 0.6])
    g = np.gradient(y, 0.5)
    c = np.cov(np.stack([y[:5], w[:5], x[:5] * w[1]]))
    r = np.corrcoef(np.stack([y[:6], w[1:7] ** 2]), rowvar=True)
    v = np.interp(x, xp=KNOTS, fp=w[:6])         # (xp= binds to the rules' parameter xp_)
    return (np.trapezoid(v ** 2, x) + np.sum(z ** 2) + np.sum(q * q)
            + np.polyval(w[:4], x).sum() + np.sum(g ** 2) + np.sum(np.copysign(y, -1.0) ** 3)
            + np.sum(np.ldexp(w, 2) ** 2) + np.percentile(z, 40.0) ** 2 + np.sum(c ** 2)
            + np.sum(r ** 3))


def test_second_derivatives_of_interp_convolve_quantile_gradient_cov_and_more():
    w = rng.uniform(0.1, 1.0, 7)
    x = np.sort(rng.uniform(0.0, 1.0, 9))
    s2sgrad.check_grads(with_signal_functions, 0, w, x, order=2)
    s2sgrad.check_grads(with_signal_functions, 1, w, x, order=2)
    source = s2sgrad.grad(with_signal_functions, emit=True)
    assert "np.convolve(" in source and "_rt.gradient_vjp(" in source   # inlined, not traced
    traced = s2sgrad.grad(with_signal_functions, fallback="always")(w, x)
    np.testing.assert_allclose(traced, s2sgrad.grad(with_signal_functions)(w, x), rtol=1e-12)
