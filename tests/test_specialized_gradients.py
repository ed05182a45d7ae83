"""Code specialized to the arguments' signature gives the general code's derivatives (issue 14).

Every test here runs twice (the ``code`` fixture of ``conftest.py``): on the general code and on
code specialized to the signature of its arguments (``s2sgrad.driver.specialize``).  Each
derivative is checked against central finite differences, and, on specialized code, against
the general code's to 1e-12 with the same type and dtype (``gradcheck.check_grad``,
``tangentcheck.check_jvp``).  The programs are the places where knowing the shapes could go
wrong: the rank and dtype of the arguments (float32 stays float32, complex values), axes of
length 1 broadcast against others, a bias broadcast along axis 0, matrix products of ranks 1 to
3, loops in which a variable's rank changes, branches that give different shapes, containers,
objects holding arrays, recursion with changing shapes, closures, and one gradient function
called with a new signature in the same process.
"""

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import pipeline, specialize
from s2sgrad.driver.request import Request
from s2sgrad.signature import signature_of

from gradcheck import assert_agree, assert_close, check_grad, general_too, numeric_grad
from tangentcheck import check_jvp

# Generated code only: the tracer knows no signatures, so a traced program would prove nothing.
pytestmark = pytest.mark.filterwarnings("error::s2sgrad.FallbackWarning")

rng = np.random.default_rng(14)


def normal(*shape, dtype=np.float64):
    return rng.normal(size=shape).astype(dtype) if shape else float(rng.normal())


# -- rank and dtype -------------------------------------------------------------------------------


def weighted_energy(x, w):
    return np.sum(w * x ** 2) + np.sum(np.sin(x)) * w


@pytest.mark.parametrize("shape", [(), (3,), (1,), (2, 3), (3, 1), (1, 1, 2)],
                         ids=lambda s: "x" + "x".join(map(str, s)) if s else "0-d")
def test_float32_gradients_stay_float32(shape, code):
    x = np.asarray(rng.normal(size=shape), dtype=np.float32)
    g = s2sgrad.grad(weighted_energy, (0, 1))(x, 0.7)
    assert isinstance(g[0], np.ndarray) and g[0].dtype == np.float32 and g[0].shape == shape
    assert type(g[1]) is float
    x64 = x.astype(np.float64)       # finite differences in double precision
    assert_close(g[0], np.asarray(numeric_grad(weighted_energy, (x64, 0.7), 0), dtype=np.float32),
                 rtol=1e-4, atol=1e-5)
    assert_close(g[1], numeric_grad(weighted_energy, (x64, 0.7), 1), rtol=1e-4, atol=1e-5)
    general = general_too(lambda: s2sgrad.grad(weighted_energy, (0, 1))(x, 0.7))
    if general is not None:
        # float32 sums: the two codes may round differently (float32's eps is 1.2e-7)
        assert_agree(g, general, rtol=1e-6)


def mixed_precision(a, b):
    return np.sum(np.tanh(a * b) + a ** 2 * np.cos(b))


def test_float32_and_float64_arguments_keep_their_own_dtypes(code):
    a, b = normal(3, 1, dtype=np.float32), normal(1, 4)
    ga, gb = s2sgrad.grad(mixed_precision, (0, 1))(a, b)
    assert ga.dtype == np.float32 and ga.shape == (3, 1)
    assert gb.dtype == np.float64 and gb.shape == (1, 4)
    a64 = a.astype(np.float64)       # finite differences in double precision
    assert_close(ga, np.asarray(numeric_grad(mixed_precision, (a64, b), 0), dtype=np.float32),
                 rtol=1e-4, atol=1e-5)
    assert_close(gb, numeric_grad(mixed_precision, (a64, b), 1), rtol=1e-4, atol=1e-5)
    general = general_too(lambda: s2sgrad.grad(mixed_precision, (0, 1))(a, b))
    if general is not None:
        assert_agree((ga, gb), general)


def test_python_float_numpy_scalar_and_0d_array(code):
    def cubic(x, y):
        return x ** 3 * y + np.sin(x * y)
    for x in (1.3, np.float64(1.3), np.array(1.3)):
        g = check_grad(cubic, x, 0.4, wrt=(0, 1))
        assert np.ndim(g[0]) == 0
        assert (type(g[0]) is float) == (type(x) is not np.ndarray)
        check_jvp(cubic, x, 0.4)


def complex_energy(z, w):
    return np.sum(np.abs(z * w) ** 2) + np.real(np.sum(z * z * w)) + np.sum(np.imag(z)) * 0.5


def complex_numeric_grad(f, args, wrt, eps=1e-6):
    """d/dRe - 1j d/dIm: s2sgrad's gradient of a real function of complex values."""
    z = np.asarray(args[wrt], dtype=np.complex128)
    g = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        for unit in (1.0, 1j):
            e = np.zeros_like(z)
            e[idx] = unit * eps
            moved = [list(args), list(args)]
            moved[0][wrt], moved[1][wrt] = z + e, z - e
            d = (f(*moved[0]) - f(*moved[1])) / (2 * eps)
            g[idx] += d if unit == 1.0 else -1j * d
    return g


@pytest.mark.parametrize("shape", [(3,), (2, 1), (1, 3), ()], ids=str)
@pytest.mark.parametrize("dtype", [np.complex128, np.complex64], ids=lambda d: d.__name__)
def test_complex_inputs(shape, dtype, code):
    z = np.asarray(rng.normal(size=shape) + 1j * rng.normal(size=shape), dtype=dtype)
    w = normal(2, 3)
    g = s2sgrad.grad(complex_energy, (0, 1))(z, w)
    assert g[0].dtype == dtype and g[0].shape == shape
    assert g[1].dtype == np.float64 and g[1].shape == (2, 3)
    rtol = 1e-4 if dtype == np.complex64 else 1e-6
    np.testing.assert_allclose(g[0], complex_numeric_grad(complex_energy, (z, w), 0),
                               rtol=rtol, atol=rtol)
    np.testing.assert_allclose(g[1], numeric_grad(complex_energy, (z, w), 1), rtol=rtol,
                               atol=rtol)
    t = np.asarray(rng.normal(size=shape) + 1j * rng.normal(size=shape), dtype=dtype)
    value, tangent = s2sgrad.jvp(complex_energy)(z, w, t)
    assert tangent == pytest.approx(float(np.real(np.sum(g[0] * t))), rel=rtol, abs=rtol)
    general = general_too(lambda: (s2sgrad.grad(complex_energy, (0, 1))(z, w),
                                   s2sgrad.jvp(complex_energy)(z, w, t)))
    if general is not None:
        assert_agree(g, general[0])
        assert_agree((value, tangent), general[1], what="jvp")


def holomorphic_sum(z):
    return np.sum(np.sin(z) * z)


def test_complex_output_of_a_holomorphic_function(code):
    z = np.array([0.3 + 0.2j, -0.5 + 1.0j])
    t = np.array([1.0 - 0.5j, 0.2 + 0.3j])
    value, tangent = s2sgrad.jvp(holomorphic_sum)(z, t)
    h = 1e-6
    expected = (holomorphic_sum(z + h * t) - holomorphic_sum(z - h * t)) / (2 * h)
    assert tangent == pytest.approx(expected, rel=1e-7)
    general = general_too(lambda: s2sgrad.jvp(holomorphic_sum)(z, t))
    if general is not None:
        assert_agree((value, tangent), general, what="jvp")


# -- broadcasting with axes of length 1 ----------------------------------------------------------


def broadcast_pair(a, b):
    return np.sum(np.tanh(a * b + a - b / (2.0 + b * b)) ** 2)


BROADCASTS = {
    "n1 with nm": ((4, 1), (4, 3)), "1m with nm": ((1, 3), (4, 3)),
    "m with nm": ((3,), (4, 3)), "n1 with 1m": ((4, 1), (1, 3)),
    "11 with nm": ((1, 1), (4, 3)), "1 with nm": ((1,), (4, 3)),
    "0-d with nm": ((), (4, 3)), "nm with nm": ((4, 3), (4, 3)),
    "n11 with 1m1": ((2, 1, 1), (1, 3, 1)), "1n1 with m": ((1, 4, 1), (3,)),
}


@pytest.mark.parametrize("shapes", BROADCASTS.values(), ids=BROADCASTS.keys())
def test_broadcasting_with_axes_of_length_one(shapes, code):
    a = np.asarray(rng.normal(size=shapes[0]))
    b = rng.normal(size=shapes[1])
    check_grad(broadcast_pair, a, b, wrt=(0, 1))
    check_jvp(broadcast_pair, a, b, wrt=(0, 1))


def test_python_float_with_an_array(code):
    check_grad(broadcast_pair, 0.7, normal(4, 3), wrt=(0, 1))
    check_grad(broadcast_pair, normal(4, 1), -0.4, wrt=(0, 1))
    check_jvp(broadcast_pair, 0.7, normal(4, 3), wrt=(0, 1))


def broadcast_in_place(x, row):
    y = x.copy()
    y += row            # (n, m) += (1, m): the write does not change y's shape
    y *= 0.5
    y[0] = y[0] * row[0]
    return np.sum(y ** 2)


def test_in_place_broadcast_keeps_the_shape(code):
    check_grad(broadcast_in_place, normal(3, 4), normal(1, 4), wrt=(0, 1))
    check_jvp(broadcast_in_place, normal(3, 4), normal(1, 4), wrt=(0, 1))


# -- a bias broadcast along axis 0 ---------------------------------------------------------------


def dense_layer(x, w, b):
    return np.sum(np.tanh(x @ w + b) ** 2)


def centred(x, scale):
    return np.sum((x - np.mean(x, axis=0)) ** 2 * scale)


@pytest.mark.parametrize("bias", [(4,), (1, 4), ()], ids=["(m,)", "(1, m)", "float"])
def test_bias_along_axis_zero(bias, code):
    x, w = normal(5, 3), normal(3, 4)
    b = normal(*bias)
    check_grad(dense_layer, x, w, b, wrt=(0, 1, 2))
    check_jvp(dense_layer, x, w, b, wrt=(0, 1, 2))


def test_mean_along_axis_zero_broadcast_back(code):
    check_grad(centred, normal(5, 3), normal(1, 3), wrt=(0, 1))
    check_grad(centred, normal(5, 1), 0.8, wrt=(0, 1))


# -- matrix products of ranks 1, 2 and 3 ---------------------------------------------------------


def matmul_sin(a, b):
    return np.sum(np.sin(a @ b))


def dot_and_transpose(a, b):
    return np.sum(np.dot(a.T, b) ** 2) + np.sum(a.T @ a)


MATMULS = {
    "1@1": ((3,), (3,)), "1@2": ((3,), (3, 4)), "2@1": ((2, 3), (3,)),
    "2@2": ((2, 3), (3, 4)), "3@2": ((5, 2, 3), (3, 4)), "2@3": ((2, 3), (5, 3, 4)),
    "3@3": ((5, 2, 3), (5, 3, 4)), "3@1": ((5, 2, 3), (3,)), "1@3": ((3,), (5, 3, 4)),
    "1x@3 batch broadcast": ((1, 2, 3), (4, 3, 2)), "n1@1m": ((3, 1), (1, 4)),
    "1n@n1": ((1, 3), (3, 1)),
}


@pytest.mark.parametrize("shapes", MATMULS.values(), ids=MATMULS.keys())
def test_matmul_of_every_rank(shapes, code):
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    check_grad(matmul_sin, a, b, wrt=(0, 1))
    check_jvp(matmul_sin, a, b, wrt=(0, 1))


@pytest.mark.parametrize("shapes", [((3, 2), (3, 4)), ((3,), (3,)), ((3, 1), (3, 2))], ids=str)
def test_dot_and_transpose(shapes, code):
    a, b = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    check_grad(dot_and_transpose, a, b, wrt=(0, 1))


# -- loops in which a variable's rank changes ----------------------------------------------------


def scalar_becomes_array(x):
    v = np.sum(x) * 0.3          # a number first
    for i in range(3):
        v = v * x + 0.1 * i      # then an array like x
    return np.sum(np.tanh(v))


def rank_grows(x):
    m = x
    for i in range(2):
        m = m[..., None] * x     # rank 1, 2, 3
    return np.sum(np.sin(m))


def rank_alternates(x):
    v = x
    total = 0.0
    for i in range(4):
        if i % 2 == 0:
            v = np.reshape(v, (-1, 1)) * 1.1     # a column
        else:
            v = np.ravel(v) + 0.2 * x            # back to a vector
        total = total + np.sum(v * v)
    return total


def while_rank_changes(x):
    v = 1.0
    k = 0
    while k < 3:
        v = v + np.outer(x, x) * k if k > 0 else v * x
        k = k + 1
    return np.sum(v ** 2)


@pytest.mark.parametrize("fn", [scalar_becomes_array, rank_grows, rank_alternates,
                                while_rank_changes], ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(3,), (1,)], ids=str)
def test_loops_where_a_rank_changes(fn, shape, code):
    x = rng.normal(size=shape)
    check_grad(fn, x)
    check_jvp(fn, x)


# -- branches that give different shapes ---------------------------------------------------------


def shape_by_flag(x, reduce):
    if reduce:
        y = np.sum(x, axis=0)        # (m,)
    else:
        y = x                        # (n, m)
    return np.sum(np.sin(y) * y)


def shape_by_data(x):
    if np.sum(x) > 0:
        y = x[:, :1]                 # (n, 1), then broadcast against x
    else:
        y = np.mean(x)               # a number
    return np.sum((y * x) ** 2)


def scalar_or_array(x, n):
    y = 2.0 if n == 0 else x[0] * x  # a Python float or an array
    return np.sum(y * x)


@pytest.mark.parametrize("reduce", [True, False])
def test_a_branch_on_an_argument_gives_different_shapes(reduce, code):
    check_grad(shape_by_flag, normal(3, 4), reduce)
    check_jvp(shape_by_flag, normal(3, 4), reduce)


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_a_branch_on_data_gives_different_shapes(sign, code):
    x = np.abs(normal(3, 4)) * sign
    check_grad(shape_by_data, x)
    check_jvp(shape_by_data, x)


@pytest.mark.parametrize("n", [0, 1])
def test_a_branch_gives_a_float_or_an_array(n, code):
    check_grad(scalar_or_array, normal(3), n)


# -- containers ----------------------------------------------------------------------------------


def tuple_params(params, x):
    w, b, s = params
    return np.sum(np.tanh(x @ w + b) ** 2) * s + np.sum(w * w)


def dict_params(params, x):
    h = np.tanh(x @ params["w1"] + params["b1"])
    out = h @ params["w2"] + params["b2"]
    return np.mean((out - 1.0) ** 2) + params["decay"] * np.sum(params["w1"] ** 2)


def list_of_arrays(arrays):
    total = 0.0
    for a in arrays:
        total = total + np.sum(np.sin(a) * a)
    return total * arrays[0][0]


def test_tuple_of_arrays_and_a_float(code):
    params = (normal(3, 4), normal(1, 4), 0.6)
    g = check_grad(tuple_params, params, normal(5, 3))
    assert type(g) is tuple and type(g[2]) is float


def test_dict_of_arrays(code):
    params = {"w1": normal(3, 4), "b1": normal(4), "w2": normal(4, 1), "b2": normal(1),
              "decay": 0.01}
    g = check_grad(dict_params, params, normal(6, 3))
    assert set(g) == set(params) and g["b2"].shape == (1,)


def test_list_of_arrays_of_different_ranks(code):
    check_grad(list_of_arrays, [normal(3), normal(2, 1), normal(1, 2, 2)])


# -- objects holding arrays ----------------------------------------------------------------------


class Affine:
    def __init__(self, w, b):
        self.w = w
        self.b = b

    def forward(self, x):
        return np.tanh(x @ self.w + self.b)

    def loss(self, x):
        return np.sum(self.forward(x) ** 2) + 0.1 * np.sum(self.w ** 2)


def through_objects(x, first, second):
    hidden = first.forward(x)
    return np.sum(second.forward(hidden[:, :2] @ np.ones((2, 3))) ** 2) + first.loss(x)


@pytest.mark.parametrize("x", [normal(4, 3), normal(1, 3), normal(3)], ids=["(4, 3)", "(1, 3)",
                                                                             "(3,)"])
def test_objects_holding_arrays_of_several_shapes(x, code):
    first = Affine(normal(3, 3), normal(1, 3))
    second = Affine(normal(3, 3), normal(3))
    check_grad(through_objects, x, first, second)
    check_jvp(through_objects, x, first, second)


def test_a_method_of_an_object_holding_arrays(code):
    layer = Affine(normal(3, 2), normal(2))
    check_grad(layer.loss, normal(4, 3))
    check_grad(layer.loss, normal(1, 3))
    check_jvp(layer.loss, normal(4, 3))


def test_the_gradient_with_respect_to_an_object(code):
    def loss(model, x):
        return model.loss(x)
    model = Affine(normal(3, 2), normal(1, 2))
    x = normal(4, 3)
    g = s2sgrad.grad(loss)(model, x)
    h = 1e-6
    for name in ("w", "b"):
        value = getattr(model, name)
        fd = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            e = np.zeros_like(value)
            e[idx] = h
            plus = Affine(**{**vars(model), name: value + e})
            minus = Affine(**{**vars(model), name: value - e})
            fd[idx] = (loss(plus, x) - loss(minus, x)) / (2 * h)
        np.testing.assert_allclose(getattr(g, name), fd, rtol=1e-6, atol=1e-8)
    general = general_too(lambda: s2sgrad.grad(loss)(model, x))
    if general is not None:
        assert_agree(g.w, general.w)
        assert_agree(g.b, general.b)


# -- recursion -----------------------------------------------------------------------------------


def power_by_recursion(x, n):
    if n == 0:
        return x
    return x * power_by_recursion(x, n - 1)


def recursive_power_sum(x, n):
    return np.sum(power_by_recursion(x, n))


def shrink_by_recursion(x):
    """Each call on an array one shorter: the callee sees a new shape at every depth."""
    if x.shape[0] == 1:
        return np.sum(x ** 2)
    return shrink_by_recursion(np.sin(x[1:]) * x[:-1]) + 0.5 * np.sum(x)


@pytest.mark.parametrize("x", [0.7, np.array([0.3, -0.8, 0.5]), np.array([[0.9], [0.4]]),
                               np.array(0.6)], ids=["float", "(3,)", "(2, 1)", "0-d"])
def test_recursion_on_every_rank(x, code):
    check_grad(recursive_power_sum, x, 4)
    check_jvp(recursive_power_sum, x, 4)


@pytest.mark.parametrize("shape", [(4,), (4, 2), (1,)], ids=str)
def test_recursion_with_a_shape_that_changes_at_each_depth(shape, code):
    check_grad(shrink_by_recursion, rng.normal(size=shape))
    check_jvp(shrink_by_recursion, rng.normal(size=shape))


# -- closures ------------------------------------------------------------------------------------


def closure_over_a_row(x, w):
    def scaled(v):
        return np.tanh(v * w)        # w, a free variable of shape (1, m)
    return np.sum(scaled(x) ** 2) + np.sum(scaled(x[:1]))


def closure_in_map(x, w):
    return sum(map(lambda row: np.sum(row * w), x)) + np.sum(x * x)


def make_scaler(c):
    def scaler(v):
        return np.tanh(v * c + c)
    return scaler


def closure_from_a_factory(x, c):
    f = make_scaler(c)               # c carries no derivative: the closure is transformed
    return np.sum(f(f(x) * x) ** 2)


def test_closure_over_a_broadcast_argument(code):
    check_grad(closure_over_a_row, normal(3, 1), normal(1, 4), wrt=(0, 1))
    check_jvp(closure_over_a_row, normal(3, 1), normal(1, 4), wrt=(0, 1))


def test_closure_mapped_over_rows(code):
    check_grad(closure_in_map, normal(3, 2), normal(2), wrt=(0, 1))


@pytest.mark.parametrize("c", [0.8, np.array([0.5, -1.0, 2.0]), np.array([[0.5], [2.0], [1.0]])],
                         ids=["float", "(3,)", "(3, 1)"])
def test_closure_from_a_factory(c, code):
    check_grad(closure_from_a_factory, normal(3), c)
    check_jvp(closure_from_a_factory, normal(3), c)


# -- one gradient function, a new signature in the same process ----------------------------------


def polynomial(x, y):
    return np.sum(x * y + x ** 2 * np.cos(y))


SIGNATURES = [(0.5, 1.5), (normal(3), normal(3)), (normal(3, 1), normal(1, 4)), (normal(3), 0.5),
              (normal(2, 3, dtype=np.float32), normal(3)), (np.array(0.4), normal(2, 2))]


def test_a_new_signature_in_the_same_process_gives_its_own_right_gradient(code):
    """One ``grad`` object called with one signature after another, then all of them again:
    each call right (the code specialized to an earlier signature is never run on a later one's
    arguments)."""
    g = s2sgrad.grad(polynomial, (0, 1))
    first = []
    for args in SIGNATURES + SIGNATURES:
        got = g(*args)
        args64 = tuple(a.astype(np.float64) if isinstance(a, np.ndarray) else a for a in args)
        for k in (0, 1):
            want = numeric_grad(polynomial, args64, k)
            single = np.asarray(args[k]).dtype == np.float32
            assert_close(got[k], np.asarray(want, dtype=np.float32) if single else want,
                         rtol=1e-4 if single else 1e-6, atol=1e-6)
        first.append(got)
    for a, b in zip(first[:len(SIGNATURES)], first[len(SIGNATURES):]):
        assert_agree(a, b, rtol=0.0)       # the same code again: the same bits


def test_the_signature_decides_the_code(code):
    """Specialized code is built for the call's signature and general code for none: both are
    served for the arguments of ``SIGNATURES`` (through the driver, as the switch forces)."""
    for args in SIGNATURES:
        request = specialize.request_for(Request("grad", (0, 1)), args)
        assert request.signature == (signature_of(args) if code == "specialized" else None)
        built = pipeline.run(polynomial, request)
        assert built.request.signature == request.signature


# -- what the specialized source looks like ------------------------------------------------------


def scalar_function(x, y):
    return x * y + np.sin(x) * y ** 2


def test_code_specialized_to_floats_has_no_shape_helper():
    general = pipeline.run(scalar_function, Request("grad", (0, 1))).source
    assert "_rt.unbroadcast(" in general          # the general code hedges
    source = pipeline.run(scalar_function, Request("grad", (0, 1),
                                                   signature=signature_of((1.5, 2.0)))).source
    for helper in ("unbroadcast", "matmul_vjp", "broadcast_like", "_rt.match("):
        assert helper not in source, source


# -- the switch ----------------------------------------------------------------------------------


def test_the_switch_nests_and_refuses_an_unknown_choice():
    outer = specialize.current()
    with specialize.using("general"):
        assert specialize.current() == "general"
        with specialize.using("specialized"):
            assert specialize.current() == "specialized"
        assert specialize.current() == "general"
    assert specialize.current() == outer
    with pytest.raises(ValueError, match="auto, general, specialized"):
        with specialize.using("fast"):
            pass


def test_the_switch_from_the_environment():
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = "from s2sgrad.driver import specialize; print(specialize.current())"
    for value, expected in (("general", "general"), ("specialized", "specialized"), ("", "auto")):
        env = dict(os.environ, PYTHONPATH=root, S2SGRAD_CODE=value)
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0 and run.stdout.strip() == expected, run.stderr
    env = dict(os.environ, PYTHONPATH=root, S2SGRAD_CODE="fast")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode != 0 and "S2SGRAD_CODE='fast'" in run.stderr
