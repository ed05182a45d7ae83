"""Shapes through the pipeline: the facts of analysis/shapes.py, and the code they specialize.

Each rewrite is checked by gradients against central finite differences at
several points, with code specialized to the arguments' signature and with the
general code (``signature=None``), and by what the specialized source no
longer contains.
"""

import os
import sys

import numpy as np
import pytest

from s2sgrad.analysis.shapes import Shapes
from s2sgrad.driver import pipeline
from s2sgrad.driver.request import Request
from s2sgrad.frontend.normalize import normalize
from s2sgrad.frontend.source import FunctionSource
from s2sgrad.signature import ANY, FLOAT, parse, signature_of

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


# ---------------------------------------------------------------------------
# The analysis
# ---------------------------------------------------------------------------

def facts(fn, **abstract):
    norm = normalize(FunctionSource.of(fn))
    params = [a.id for a in norm.node.args.args]
    return Shapes(norm.node.body, {p: parse(t) for p, t in abstract.items()}, norm.resolver,
                  params=params)


def _broadcasting(x, b):
    y = x + b
    z = np.sin(y) * 2.0
    return np.sum(z)


def test_elementwise_broadcasts_axes_and_promotes_dtypes():
    f = facts(_broadcasting, x="float64[n, 1]", b="float64[n]")
    assert f.var("y") is parse("float64[n, n]")
    assert f.var("z") is parse("float64[n, n]")
    f = facts(_broadcasting, x="float32[n, 1]", b="float32[1]")
    assert f.var("y") is parse("float32[n, 1]")
    assert f.var("z") is parse("float32[n, 1]")       # a Python float keeps float32
    f = facts(_broadcasting, x="float32[n]", b="float64[n]")
    assert f.var("y") is parse("float64[n]")


def _reductions(x):
    a = np.sum(x, axis=1, keepdims=True)
    b = np.mean(x, axis=0)
    c = np.max(x)
    d = x.sum(axis=-1)
    return a, b, c, d


def test_reductions_with_axis_and_keepdims():
    f = facts(_reductions, x="float64[n, n]")
    assert f.var("a") is parse("float64[n, 1]")
    assert f.var("b") is parse("float64[n]")
    assert f.var("c") is parse("np.float64")
    assert f.var("d") is parse("float64[n]")


def _products(a, b, c):
    m = a @ b
    v = b @ a[0]
    s = a[0] @ a[0]
    t = c @ b
    u = a.T
    w = np.transpose(c, (0, 2, 1))
    return m, v, s, t, u, w


def test_matmul_transpose_and_indexing():
    f = facts(_products, a="float64[n, 1]", b="float64[1, n]", c="float32[n, n, 1]")
    assert f.var("m") is parse("float64[n, n]")
    assert f.var("v") is parse("float64[1]")
    assert f.var("s") is parse("np.float64")
    assert f.var("t") is parse("float64[n, n, n]")
    assert f.var("u") is parse("float64[1, n]")
    assert f.var("w") is parse("float32[n, 1, n]")


def _shapes_and_indexing(x):
    z = np.zeros(x.shape)
    r = np.reshape(x, (2, 1, -1))
    e = x[:, None]
    k = x[0]
    p = x[1:]
    n = x.shape[0]
    return z, r, e, k, p, n


def test_creation_reshape_and_indexing():
    f = facts(_shapes_and_indexing, x="float32[n, 1]")
    assert f.var("z") is parse("float64[n, 1]")
    assert f.var("r") is parse("float32[n, 1, ?]")
    assert f.var("e") is parse("float32[n, 1, 1]")
    assert f.var("k") is parse("float32[1]")
    assert f.var("p") is parse("float32[?, 1]")
    assert f.var("n").kind == "int"


def _complex(p, c):
    field = c * np.exp(1j * p)
    spectrum = np.fft.fft2(field)
    power = np.abs(spectrum) ** 2
    part = np.real(field)
    return np.sum(power) + np.sum(part)


def test_complex_values():
    f = facts(_complex, p="float64[n, n]", c="complex128[n, n]")
    assert f.var("field") is parse("complex128[n, n]")
    assert f.var("spectrum") is parse("complex128[n, n]")
    assert f.var("power") is parse("float64[n, n]")
    assert f.var("part") is parse("float64[n, n]")
    f = facts(_complex, p="float32[n, n]", c="complex64[n, n]")
    assert f.var("power") is parse("float32[n, n]")


def _series(x):
    total = 1.0
    term = 1.0
    k = 0
    while term > 1e-12:
        k += 1
        term = term * x / k
        total = total + term
    return total


def test_loops_reach_a_fixed_point():
    f = facts(_series, x="float")
    assert f.var("total") is FLOAT and f.var("term") is FLOAT
    assert f.var("k").kind == "int"
    f = facts(_series, x="np.float32")
    # a float or a NumPy float32: rank 0, promoting as float32 does
    assert f.var("term") is parse("float32[]")
    assert f.var("total") is parse("float32[]")


def _rank_changes(x, n):
    y = x
    for i in range(n):
        y = y[None] * 1.5
    return np.sum(y * y)


def test_a_variable_whose_rank_changes_has_no_rank():
    f = facts(_rank_changes, x="float64[n]", n="int")
    assert f.var("y") is parse("float64[*]")


def test_what_is_not_known_stays_unknown():
    f = facts(_broadcasting)          # no signature
    assert f.var("y") is ANY and f.var("z") is ANY
    f = facts(_broadcasting, x="float64[?, n]", b="float64[n]")
    assert f.var("y") is parse("float64[?, n]")


# ---------------------------------------------------------------------------
# Gradients of specialized and general code against finite differences
# ---------------------------------------------------------------------------

def built(fn, wrt, args, specialized):
    sig = signature_of(args) if specialized else None
    return pipeline.run(fn, Request("grad", tuple(wrt), signature=sig))


def gradients(fn, wrt, args, specialized):
    b = built(fn, wrt, args, specialized)
    out = b.entry(*args)
    return out[1:] if b.valued else (out,)


def central_difference(fn, args, k, eps=1e-6):
    x = args[k]
    if isinstance(x, (float, np.floating)) or np.ndim(x) == 0:
        base = np.asarray(x, dtype=np.float64)
        plus = list(args)
        minus = list(args)
        plus[k] = type(x)(base + eps) if not isinstance(x, np.ndarray) else np.array(base + eps)
        minus[k] = type(x)(base - eps) if not isinstance(x, np.ndarray) else np.array(base - eps)
        return (fn(*plus) - fn(*minus)) / (2 * eps)
    x = np.asarray(x, dtype=np.float64)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        plus, minus = list(args), list(args)
        plus[k], minus[k] = x + step, x - step
        g[i] = (fn(*plus) - fn(*minus)) / (2 * eps)
    return g


def check(fn, wrt, make_args, points=3, rtol=1e-5, atol=1e-7):
    """Specialized and general gradients both match central differences at several points."""
    rng = np.random.default_rng(0)
    for _ in range(points):
        args = make_args(rng)
        for specialized in (True, False):
            grads = gradients(fn, wrt, args, specialized)
            for k, g in zip(wrt, grads):
                fd = central_difference(fn, args, k)
                np.testing.assert_allclose(np.asarray(g, dtype=np.float64), fd, rtol=rtol,
                                           atol=atol, err_msg=f"{fn.__name__} wrt {k}, "
                                           f"{'specialized' if specialized else 'general'}")


def source(fn, wrt, args):
    return built(fn, wrt, args, True).source


def entry_source(fn, wrt, args):
    """The specialized source of the entry function only (not its callees)."""
    text = source(fn, wrt, args)
    start = text.index(f"def grad_{fn.__name__}(")
    end = text.find("\ndef ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def _dense(x, w, b):
    return np.sum(np.tanh(x @ w + b) ** 2)


def test_bias_broadcast_along_axis_0():
    make = lambda rng: (rng.standard_normal((5, 3)), rng.standard_normal((3, 4)),  # noqa: E731
                        rng.standard_normal(4))
    check(_dense, (0, 1, 2), make)
    text = source(_dense, (0, 1, 2), make(np.random.default_rng(1)))
    assert "_rt.unbroadcast" not in text and "matmul_vjp" not in text
    assert "np.sum(d_add, axis=0)" in text
    assert "x.T @" in text and "@ w.T" in text


def _column_plus_matrix(a, B):
    return np.sum(np.sin(a + B) * B)


def test_keepdims_for_axes_of_length_one():
    make = lambda rng: (rng.standard_normal((4, 1)), rng.standard_normal((4, 3)))  # noqa: E731
    check(_column_plus_matrix, (0, 1), make)
    text = source(_column_plus_matrix, (0, 1), make(np.random.default_rng(1)))
    assert "_rt.unbroadcast" not in text
    assert "axis=1, keepdims=True" in text


def _row_plus_batch(a, B):
    return np.sum(np.cos(a + B) * B)


def test_leading_and_length_one_axes_together():
    make = lambda rng: (rng.standard_normal((1, 3)), rng.standard_normal((2, 4, 3)))  # noqa: E731
    check(_row_plus_batch, (0, 1), make)
    text = source(_row_plus_batch, (0,), make(np.random.default_rng(1)))
    assert "_rt.unbroadcast" not in text


def _square_sum(x):
    y = x * 2.0 * x
    return np.sum(y + 1.5)


def test_float32_stays_float32():
    make = lambda rng: (rng.standard_normal(5).astype(np.float32),)  # noqa: E731
    args = make(np.random.default_rng(0))
    for specialized in (True, False):
        (g,) = gradients(_square_sum, (0,), args, specialized)
        if specialized:     # (the general code starts from the Python float 1.0)
            assert g.dtype == np.float32
        np.testing.assert_allclose(g, 4.0 * args[0], rtol=1e-6)


def _phase_plate(p, c):
    field = np.fft.ifft2(c * np.fft.fft2(np.exp(1j * p)))
    return np.sum(np.abs(field) ** 2 * np.cos(p))


def test_complex_intermediates_of_a_real_input():
    make = lambda rng: (rng.standard_normal((3, 3)),  # noqa: E731
                        rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3)))
    check(_phase_plate, (0,), make)
    text = source(_phase_plate, (0,), make(np.random.default_rng(1)))
    assert "_rt.unbroadcast" not in text and "np.real(" in text


def _complex_input(z, w):
    return np.sum(np.abs(z * w) ** 2)


def test_complex_inputs_match_the_general_code():
    rng = np.random.default_rng(2)
    for _ in range(3):
        z = rng.standard_normal(4) + 1j * rng.standard_normal(4)
        w = rng.standard_normal(4)
        args = (z, w)
        (gs_z, gs_w) = gradients(_complex_input, (0, 1), args, True)
        (gg_z, gg_w) = gradients(_complex_input, (0, 1), args, False)
        np.testing.assert_allclose(gs_z, gg_z, rtol=1e-12)
        np.testing.assert_allclose(gs_w, gg_w, rtol=1e-12)
        assert np.isrealobj(gs_w) and np.iscomplexobj(gs_z)
        np.testing.assert_allclose(gs_w, central_difference(_complex_input, args, 1), rtol=1e-5)


def _matmul(a, b):
    return np.sum(np.sin(a @ b))


@pytest.mark.parametrize("shape_a, shape_b", [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)), ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (1, 3, 4)), ((4, 3), (1, 3, 2)),
])
def test_matmul_of_ranks_one_two_three(shape_a, shape_b):
    make = lambda rng: (rng.standard_normal(shape_a), rng.standard_normal(shape_b))  # noqa: E731
    check(_matmul, (0, 1), make, points=2)


def test_matmul_adjoints_read_like_hand_written_ones():
    rng = np.random.default_rng(0)
    text = source(_matmul, (0, 1), (rng.standard_normal((2, 3)), rng.standard_normal((3, 4))))
    assert "matmul_vjp" not in text and ".T" in text
    text = source(_matmul, (0, 1), (rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 3, 4))))
    assert "matmul_vjp" not in text and "np.swapaxes(" in text


def _scalar(x, y):
    z = x * y + np.sin(x) * 3.0
    return z * z / y


@pytest.mark.parametrize("kind", ["float", "0-d", "float64", "float32"])
def test_numbers_zero_d_arrays_and_numpy_scalars(kind):
    convert = {"float": float, "0-d": np.array, "float64": np.float64,
               "float32": np.float32}[kind]
    rtol = 1e-3 if kind == "float32" else 1e-6

    def make(rng):
        return convert(rng.uniform(0.5, 1.5)), convert(rng.uniform(0.5, 1.5))
    rng = np.random.default_rng(3)
    for _ in range(3):
        args = make(rng)
        general = gradients(_scalar, (0, 1), args, False)
        special = gradients(_scalar, (0, 1), args, True)
        for k, (g, s) in enumerate(zip(general, special)):
            np.testing.assert_allclose(float(s), float(g), rtol=1e-6)
            assert np.ndim(s) == 0
            if kind != "float32":
                fd = central_difference(_scalar, args, k)
                np.testing.assert_allclose(float(s), float(fd), rtol=rtol)
            else:
                assert np.result_type(s) == np.float32


def test_a_loop_whose_variable_changes_rank_stays_general_and_right():
    make = lambda rng: (rng.standard_normal(3), 2)  # noqa: E731
    check(_rank_changes, (0,), make)


def test_scalar_code_has_no_shape_helper():
    text = source(_series, (0,), (1.3,))
    assert "_rt." not in text.replace("from s2sgrad import runtime as _rt", "")
    assert "def grad__series(x):" in text and "return t_total" in text    # from 1
    # grad's entry returns the gradient alone: the value's own sum is not computed
    assert "        total = total + term" not in text
    text = source(_scalar, (0, 1), (1.3, 0.7))
    assert "_rt." not in text.replace("from s2sgrad import runtime as _rt", "")
    check(_series, (0,), lambda rng: (float(rng.uniform(0.5, 2.0)),))


def _recursive(x, n):
    if n == 0:
        return 1.0
    return x * _recursive(x, n - 1) + np.sin(x)


def test_shapes_through_user_calls_and_recursion():
    check(_recursive, (0,), lambda rng: (float(rng.uniform(0.3, 0.9)), 6))
    text = source(_recursive, (0,), (0.5, 6))
    assert "_rt.unbroadcast" not in text


def _rnn(W_hh, W_xh, b, xs, target):
    h = np.zeros(target.shape)
    for t in range(xs.shape[0]):
        h = np.tanh(xs[t] @ W_xh + h @ W_hh + b)
    return np.mean((h - target) ** 2)


def test_rnn_reads_like_its_hand_written_adjoint():
    def make(rng):
        return (0.5 * rng.standard_normal((3, 3)), rng.standard_normal((2, 3)),
                rng.standard_normal(3), rng.standard_normal((4, 2, 2)),
                rng.standard_normal((2, 3)))
    check(_rnn, (0, 1, 2), make, points=2)
    text = source(_rnn, (0,), make(np.random.default_rng(1)))
    for helper in ("_rt.unbroadcast", "matmul_vjp", "_rt.shape", "_rt.size", "_rt.seed",
                   "_rt.zeros_like"):
        assert helper not in text
    # only h is saved: h_add and h_matmul were pushed only for unbroadcast's shape argument
    assert text.count("_tape.append(") == 1


def _logsumexp(a, axis):
    shift = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - shift), axis=axis)) + np.squeeze(shift, axis=axis)


def _mlp(params, X, Y):
    W1, b1, W2, b2 = params
    hidden = np.tanh(X @ W1 + b1)
    logits = hidden @ W2 + b2
    return np.mean(_logsumexp(logits, axis=1) - np.sum(logits * Y, axis=1))


def test_mlp_entry_has_no_shape_helper():
    rng = np.random.default_rng(4)
    params = (rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((3, 2)),
              rng.standard_normal(2))
    X, Y = rng.standard_normal((5, 4)), np.eye(2)[rng.integers(0, 2, size=5)]
    args = (params, X, Y)
    text = entry_source(_mlp, (0,), args)
    assert "_rt.unbroadcast" not in text and "matmul_vjp" not in text
    special = gradients(_mlp, (0,), args, True)[0]
    general = gradients(_mlp, (0,), args, False)[0]
    for s, g in zip(special, general):
        np.testing.assert_allclose(s, g, rtol=1e-12)
    W1 = params[0]
    fd = central_difference(lambda W: _mlp((W,) + params[1:], X, Y), (W1,), 0)
    np.testing.assert_allclose(special[0], fd, rtol=1e-5, atol=1e-8)


def test_physics_miss_specialized_has_no_unbroadcast():
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        import physics
    finally:
        sys.path.pop(0)
    args = (np.array([0.6, 20.0]), 30.0, 2.0, 0.01)
    text = source(physics.miss, (0,), args)
    assert "_rt.unbroadcast" not in text
    general = gradients(physics.miss, (0,), args, False)[0]
    special = gradients(physics.miss, (0,), args, True)[0]
    np.testing.assert_allclose(special, general, rtol=1e-12)


def test_general_code_keeps_its_helpers():
    """Without a signature nothing is known: the general code is made as before."""
    rng = np.random.default_rng(0)
    args = (rng.standard_normal((5, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4))
    text = built(_dense, (2,), args, False).source
    assert "_rt.unbroadcast" in text


# ---------------------------------------------------------------------------
# Forward mode
# ---------------------------------------------------------------------------

def _layer(x, w, b):
    h = np.tanh(x @ w + b)
    return np.sum(h * x[:, :1])


def test_forward_mode_uses_the_same_facts():
    rng = np.random.default_rng(5)
    args = (rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3))
    t = rng.standard_normal((3, 3))
    outs = []
    for sig in (None, signature_of(args)):
        b = pipeline.run(_layer, Request("jvp", (1,), signature=sig))
        outs.append(b(args, {}, (t,)))
        if sig is not None:
            assert "broadcast_like" not in b.source
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12)
    eps = 1e-6
    x, w, bias = args
    fd = (_layer(x, w + eps * t, bias) - _layer(x, w - eps * t, bias)) / (2 * eps)
    np.testing.assert_allclose(outs[1][1], fd, rtol=1e-6)


# ---------------------------------------------------------------------------
# Through calls: each call's arguments, constants included
# ---------------------------------------------------------------------------

def _softplus_sum(a, axis):
    return np.sum(np.log1p(np.exp(a)), axis=axis)


def _two_calls(m, v):
    return np.sum(_softplus_sum(m, 1) * v) + _softplus_sum(v, 0) * 2.0


def test_a_function_called_with_different_ranks_gets_a_copy_for_each():
    make = lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal(3))  # noqa: E731
    check(_two_calls, (0, 1), make)
    text = source(_two_calls, (0, 1), make(np.random.default_rng(1)))
    assert "_softplus_sum_fwd_1" in text          # one copy per call's abstract arguments
    assert "_rt.unbroadcast" not in text and "_rt.reduce_vjp" not in text


def _nested(a, k):
    if k == 0:
        return np.sum(a * a)
    return _nested(np.sum(a, axis=0), k - 1) + np.sum(np.sin(a))


def test_recursion_on_a_changing_rank_stays_correct():
    # each level has a rank of its own: a few copies, then the code for any rank
    make = lambda rng: (rng.standard_normal((2, 3, 2, 2, 3, 2)), 5)  # noqa: E731
    check(_nested, (0,), make, points=2)


def _centred_products(means, x, Q):
    z = (x[None, :, :] - means[:, None, :]) @ Q     # (k, n, d): means broadcast along n
    return np.sum(np.tanh(z) ** 2)


def test_a_broadcast_through_a_matrix_product_is_summed_before_it():
    # the cotangent of means[:, None, :] is summed over n: (sum_i g_i) Q, one row per k,
    # not sum_i (g_i Q); and the negation of the subtraction applies to that sum
    def args(rng):
        return rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(3, 4, 4))
    check(_centred_products, (0, 2), args)
    text = entry_source(_centred_products, (0, 2), args(np.random.default_rng(1)))
    assert "-= np.sum(" in text and "keepdims=True) @ " in text, text
    assert "np.sum(-" not in text, text


def _two_layers(params, x):
    W1, b1, W2, b2 = params
    h = np.tanh(x @ W1 + b1)
    return np.sum((h @ W2 + b2) ** 2)


def test_a_tuple_of_parameters_gets_its_gradient_built_whole():
    # d_params = [d_W1, d_b1, d_W2, d_b2]: no zero arrays allocated and added into
    def args(rng):
        return ((rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(4, 2)),
                 rng.normal(size=2)), rng.normal(size=(5, 3)))
    rng = np.random.default_rng(2)
    for _ in range(3):
        a = args(rng)
        for specialized in (True, False):
            grads = gradients(_two_layers, (0,), a, specialized)[0]
            assert isinstance(grads, (list, tuple)) and len(grads) == 4   # (entry: a list)
            for k in range(4):
                def f(item, k=k):
                    p = list(a[0])
                    p[k] = item
                    return _two_layers(tuple(p), a[1])
                np.testing.assert_allclose(grads[k], central_difference(f, (a[0][k],), 0),
                                           rtol=1e-5, atol=1e-7)
    text = entry_source(_two_layers, (0,), args(rng))
    assert "zeros_like(params)" not in text and "d_params = [" in text, text
