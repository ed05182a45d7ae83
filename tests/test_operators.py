"""The operators beyond grad: vjp, elementwise_grad, deriv, jacobian, hessian, hvp, holomorphic_grad."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import assert_close, numeric_grad

rng = np.random.default_rng(21)


def numeric_jacobian(f, x, eps=1e-6):
    """Central differences, one column per element of ``x``: shape ``out.shape + x.shape``."""
    x = np.asarray(x, dtype=float)
    cols = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = eps
        e = e.reshape(x.shape)
        xp, xm = (x + e, x - e) if x.ndim else (float(x + e), float(x - e))
        cols.append((np.asarray(f(xp)) - np.asarray(f(xm))) / (2 * eps))
    return np.moveaxis(np.array(cols), 0, -1).reshape(np.shape(f(x)) + x.shape)


def layer(x, W):
    h = np.tanh(W @ x)
    if x[0] > 0:
        h = h * x[0]
    return h + 0.1 * x[:2].sum()


# -- vjp -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_vjp_of_a_non_scalar_output_matches_the_jacobian(sign):
    W = rng.normal(size=(4, 3))
    x = rng.normal(size=3)
    x[0] = sign * abs(x[0])
    value, backward = s2sgrad.vjp(layer)(x, W)
    np.testing.assert_allclose(value, layer(x, W))
    J = numeric_jacobian(lambda x: layer(x, W), x)
    for _ in range(2):  # the backward sweep can run again
        ct = rng.normal(size=4)
        np.testing.assert_allclose(backward(ct), ct @ J, rtol=1e-6, atol=1e-8)


def test_vjp_with_respect_to_several_arguments_and_containers():
    params = {"W": rng.normal(size=(3, 2)), "b": (rng.normal(size=2), 0.5)}
    x = rng.normal(size=(4, 3))

    def model(params, x):
        b, scale = params["b"]
        return np.tanh(x @ params["W"] + b) * scale

    value, backward = s2sgrad.vjp(model, (0, 1))(params, x)
    ct = rng.normal(size=value.shape)
    g_params, g_x = backward(ct)
    assert isinstance(g_params["b"], tuple) and isinstance(g_params["b"][1], float)
    scalar = lambda params, x: np.sum(model(params, x) * ct)  # noqa: E731
    assert_close(g_params, numeric_grad(scalar, (params, x), 0))
    assert_close(g_x, numeric_grad(scalar, (params, x), 1))


def test_vjp_of_a_function_writing_into_its_argument():
    def f(x):
        x[0] = x[1] * x[2]
        return x * 2.0

    x = np.array([1.0, 2.0, 3.0])
    value, backward = s2sgrad.vjp(f)(x.copy())
    np.testing.assert_allclose(value, [12.0, 4.0, 6.0])
    np.testing.assert_allclose(backward(np.ones(3)), [0.0, 8.0, 6.0])
    np.testing.assert_allclose(backward(np.array([1.0, 0.0, 0.0])), [0.0, 6.0, 4.0])
    src = s2sgrad.vjp(f, emit=True)
    assert "def grad_f(x, d_result" in src   # no split form: the combined function is used


# -- elementwise_grad and deriv ---------------------------------------------------------------


def softplus(x):
    return np.log1p(np.exp(x)) * 2.0 + x / 3.0


def test_elementwise_grad_of_an_elementwise_function_is_one_forward_sweep():
    x = np.linspace(-2.0, 2.0, 7)
    np.testing.assert_allclose(s2sgrad.elementwise_grad(softplus)(x),
                               2.0 / (1.0 + np.exp(-x)) + 1.0 / 3.0)
    src = s2sgrad.elementwise_grad(softplus, emit=True)
    assert "def deriv_softplus(x):" in src and "_rt.ones_like(x)" in src


def test_elementwise_grad_of_other_functions_is_the_gradient_of_the_sum():
    def mixing(x):
        return np.sin(x) * np.sum(x) + x[::-1]

    x = rng.normal(size=4)
    expected = numeric_grad(lambda x: np.sum(mixing(x)), (x,))
    np.testing.assert_allclose(s2sgrad.elementwise_grad(mixing)(x), expected, rtol=1e-6)
    src = s2sgrad.elementwise_grad(mixing, emit=True)
    assert "_rt.ones_like(result)" in src   # reverse mode from ones like the output


def test_deriv_of_scalar_and_array_arguments():
    f = lambda x: x ** 3 * np.exp(-x)  # noqa: E731
    df = lambda x: (3 * x ** 2 - x ** 3) * np.exp(-x)  # noqa: E731
    assert s2sgrad.deriv(f)(1.3) == pytest.approx(df(1.3))
    assert type(s2sgrad.deriv(f)(1.3)) is float
    xs = np.linspace(0.0, 3.0, 5)
    np.testing.assert_allclose(s2sgrad.deriv(f)(xs), df(xs))


# -- jacobian -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_jacobian_by_one_batched_forward_sweep_when_the_input_is_smaller(sign):
    W = rng.normal(size=(5, 3))
    x = rng.normal(size=3)
    x[0] = sign * abs(x[0])
    J = s2sgrad.jacobian(layer)(x, W)
    assert J.shape == (5, 3)
    np.testing.assert_allclose(J, numeric_jacobian(lambda x: layer(x, W), x), rtol=1e-6, atol=1e-8)
    src = s2sgrad.jacobian(layer, emit=True)
    assert "def jvp_batch_layer(x, W, t_x):" in src   # all columns in one sweep
    assert "_rt.batch_matmul_right(W, t_x)" in src


def recurrent(x, n):
    y = x
    total = 0.0
    for i in range(n):
        y = np.sin(y) * x * 0.5 + np.sum(y ** 2) / 10.0
        total = total + np.mean(y[1:] * y[:-1])
    return np.exp(0.3 * y) * total


def test_batched_columns_through_loops_reductions_and_slices():
    x = rng.normal(size=4)
    J = s2sgrad.jacobian(recurrent)(x, 3)
    np.testing.assert_allclose(J, numeric_jacobian(lambda x: recurrent(x, 3), x), rtol=1e-5,
                               atol=1e-7)
    assert "def jvp_batch_recurrent(" in s2sgrad.jacobian(recurrent, emit=True)


def test_jacobian_columns_batched_through_transposes_reshapes_and_rules_without_batch_forms():
    def transposing(M):
        return (np.tanh(M).T @ M).ravel()
    M = rng.normal(size=(3, 2))
    J = s2sgrad.jacobian(transposing)(M)
    np.testing.assert_allclose(J, numeric_jacobian(transposing, M), rtol=1e-6, atol=1e-8)
    src = s2sgrad.jacobian(transposing, emit=True)
    assert "def jvp_batch_transposing(M, t_M):" in src and "_rt.batch_reshaped(" in src

    def cumulative(x):   # cumsum has no batch rule: its forward rule runs per direction
        return np.cumsum(np.sin(x)) * x
    x = rng.normal(size=4)
    J = s2sgrad.jacobian(cumulative)(x)
    np.testing.assert_allclose(J, numeric_jacobian(cumulative, x), rtol=1e-6, atol=1e-8)
    src = s2sgrad.jacobian(cumulative, emit=True)
    assert "_rt.stack_directions([np.cumsum(t_dir" in src
    assert "for t_dir in _rt.directions(" in src


def test_jacobian_by_reverse_rows_when_the_output_is_smaller():
    W = rng.normal(size=(2, 6))
    x = rng.normal(size=6)
    J = s2sgrad.jacobian(layer)(x, W)
    np.testing.assert_allclose(J, numeric_jacobian(lambda x: layer(x, W), x), rtol=1e-6, atol=1e-8)


def test_jacobian_shapes_for_matrix_and_scalar_arguments():
    A = rng.normal(size=(2, 3))
    J = s2sgrad.jacobian(lambda A: np.tanh(A) @ np.ones(3))(A)
    assert J.shape == (2, 2, 3)
    np.testing.assert_allclose(J, numeric_jacobian(lambda A: np.tanh(A) @ np.ones(3), A),
                               rtol=1e-6, atol=1e-8)
    J = s2sgrad.jacobian(lambda t: np.array([np.sin(t), t ** 2]))(0.5)
    np.testing.assert_allclose(J, [np.cos(0.5), 1.0])


# -- hessian and hvp ------------------------------------------------------------------------------


def energy(x, k):
    total = 0.0
    for i in range(x.shape[0] - 1):
        d = x[i + 1] - x[i]
        if d > 0:
            total = total + k * d ** 4
        else:
            total = total + np.cos(d)
    return total + np.sum(x ** 2) * x[0]


def test_hessian_matches_finite_differences_of_the_gradient():
    x = np.array([0.3, -0.4, 0.9, 1.1])   # differences of both signs
    H = s2sgrad.hessian(energy)(x, 2.0)
    g = s2sgrad.grad(energy)
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H, numeric_jacobian(lambda x: g(x, 2.0), x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    assert s2sgrad.hessian(lambda t: t ** 4)(1.5) == pytest.approx(12 * 1.5 ** 2)


def _scalar_construct_cases():
    import constructs
    for name, case in constructs.CASES.items():
        for point in case.points:
            args = constructs.arguments(name, point)
            if isinstance(case.wrt, int) and isinstance(args[case.wrt], (float, np.ndarray)) \
                    and np.shape(case.fn(*args)) == ():
                yield pytest.param(name, point, id=name if point is None else f"{name}-{point}")


@pytest.mark.parametrize("name, point", list(_scalar_construct_cases()))
def test_hessian_of_every_construct(name, point):
    """The batched forward-over-reverse Hessian against finite differences of the gradient."""
    import warnings

    import constructs
    case = constructs.CASES[name]
    w = case.wrt

    def gradient_at(x):
        args = list(constructs.arguments(name, point))
        args[w] = x
        return s2sgrad.grad(case.fn, w)(*args)
    if name == "calls_known_only_at_run_time":   # its gradient is traced, saying so
        with pytest.warns(s2sgrad.fallback.FallbackWarning, match="known only at run time"):
            H = s2sgrad.hessian(case.fn, w)(*constructs.arguments(name, point))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            H = s2sgrad.hessian(case.fn, w)(*constructs.arguments(name, point))
    x = constructs.arguments(name, point)[w]
    np.testing.assert_allclose(H, numeric_jacobian(gradient_at, x), rtol=1e-4, atol=1e-5)


def test_hvp_is_the_hessian_times_the_vector():
    x = np.array([0.2, 0.7, -0.5, 0.1])
    v = rng.normal(size=4)
    H = s2sgrad.hessian(energy)(x, 1.5)
    np.testing.assert_allclose(s2sgrad.hvp(energy)(x, 1.5, v), H @ v, rtol=1e-10, atol=1e-12)
    src = s2sgrad.hvp(energy, emit=True)
    assert "def hvp_grad_energy(x, k, t_x):" in src


def test_hvp_with_respect_to_a_pair_of_arguments():
    def f(a, b):
        return np.sum(np.sin(a) * b ** 2)

    a, b = rng.normal(size=3), rng.normal(size=3)
    va, vb = rng.normal(size=3), rng.normal(size=3)
    ha, hb = s2sgrad.hvp(f, (0, 1))(a, b, (va, vb))
    np.testing.assert_allclose(ha, -np.sin(a) * b ** 2 * va + 2 * np.cos(a) * b * vb)
    np.testing.assert_allclose(hb, 2 * np.cos(a) * b * va + 2 * np.sin(a) * vb)


# -- holomorphic_grad -------------------------------------------------------------------------------


def test_holomorphic_grad_is_the_complex_derivative():
    f = lambda z: z ** 3 + np.exp(2.0 * z) / (1.0 + z)  # noqa: E731
    df = lambda z: 3 * z ** 2 + np.exp(2.0 * z) * (2.0 * (1.0 + z) - 1.0) / (1.0 + z) ** 2  # noqa: E731
    z = 0.4 - 0.7j
    assert s2sgrad.holomorphic_grad(f)(z) == pytest.approx(df(z))
    with pytest.raises(s2sgrad.NonDifferentiableError, match="complex"):
        s2sgrad.holomorphic_grad(f)(0.4)


# -- emitted source ------------------------------------------------------------------------------------


def test_every_operator_shows_its_source():
    f = lambda x: np.sum(np.sin(x) ** 2)  # noqa: E731
    for op in (s2sgrad.jvp, s2sgrad.vjp, s2sgrad.elementwise_grad, s2sgrad.deriv,
               s2sgrad.jacobian, s2sgrad.hessian, s2sgrad.hvp, s2sgrad.holomorphic_grad):
        src = op(f, emit=True)
        assert src.startswith("# Generated by s2sgrad") and "\ndef " in src, op.__name__
        compile(src, "<emitted>", "exec")


def lifted(x):
    return np.sin(x) * np.sum(x ** 2) + np.tanh(x[::-1]) @ np.ones(x.shape[0])


def test_jacobian_and_hessian_are_generated_code_that_can_be_differentiated_again():
    import warnings
    x = rng.normal(size=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # no tracing: code is transformed at each level
        J2 = s2sgrad.jacobian(s2sgrad.jacobian(lifted))(x)
        J = s2sgrad.jacobian(lifted)
        assert J2.shape == (3, 3, 3)
        np.testing.assert_allclose(J2, numeric_jacobian(J, x), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(J2[0], s2sgrad.hessian(lambda x: lifted(x)[0])(x),
                                   rtol=1e-10, atol=1e-12)

        def laplacian(x):
            return np.trace(s2sgrad.hessian(energy)(x, 2.0))
        g = s2sgrad.grad(laplacian)(x)
        np.testing.assert_allclose(g, numeric_grad(laplacian, (x,)), rtol=1e-5, atol=1e-6)
    src = s2sgrad.jacobian(s2sgrad.jacobian(lifted), emit=True)
    assert "def jacobian_of_jacobian_of_lifted(" in src
    assert "_rt.columns_to_jacobian(" in src
