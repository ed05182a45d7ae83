"""The API: gradient structure and types, value_and_grad, emit, caching, errors."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import assert_close, check_grad, numeric_grad

rng = np.random.default_rng(5)


def loss(params, x, y):
    h = np.tanh(x @ params["W"] + params["b"])
    pred = h @ params["v"]
    extra = params["extra"]
    return np.mean((pred - y) ** 2) + 0.01 * np.sum(extra[0] ** 2) + np.sum(extra[1][0]) * extra[1][1]


def test_gradient_has_the_structure_of_a_nested_parameter_container(code):
    params = {"W": rng.normal(size=(3, 4)), "b": rng.normal(size=4), "v": rng.normal(size=4),
              "extra": [rng.normal(size=2), (rng.normal(size=1), 0.5)]}
    x, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    g = s2sgrad.grad(loss)(params, x, y)
    assert set(g) == set(params)
    assert isinstance(g["extra"], list) and isinstance(g["extra"][1], tuple)
    assert isinstance(g["extra"][1][1], float)
    assert_close(g, numeric_grad(loss, (params, x, y)))


def test_float_argument_gives_float_and_float32_array_keeps_its_dtype(code):
    g = s2sgrad.grad(lambda x: x ** 3)(2.0)
    assert type(g) is float and abs(g - 12.0) < 1e-12
    x32 = np.arange(3, dtype=np.float32) + 1
    g32 = s2sgrad.grad(lambda x: np.sum(x ** 2))(x32)
    assert g32.dtype == np.float32 and g32.shape == (3,)
    np.testing.assert_allclose(g32, 2 * x32)


def test_wrt_like_autograd_argnum_and_tuples(code):
    def f(a, b, c):
        return a * b ** 2 + np.sin(c) * a

    args = (0.5, 1.5, -0.3)
    for w in range(3):
        np.testing.assert_allclose(s2sgrad.grad(f, w)(*args), numeric_grad(f, args, w), rtol=1e-6)
    ga, gc = s2sgrad.grad(f, (0, 2))(*args)
    np.testing.assert_allclose([ga, gc], [numeric_grad(f, args, 0), numeric_grad(f, args, 2)],
                               rtol=1e-6)


def test_value_and_grad_returns_both_from_one_run(code):
    def f(x):
        return np.sum(np.sin(x) ** 2)

    x = rng.normal(size=4)
    value, g = s2sgrad.value_and_grad(f)(x)
    assert value == pytest.approx(f(x))
    assert_close(g, numeric_grad(f, (x,)))


def test_emit_returns_the_whole_module_with_callees_and_citations():
    def helper(v):
        return np.exp(v) * v

    def f(x, n):
        y = x
        for i in range(n):
            y = helper(y) * 0.5
        return np.sum(y)

    src = s2sgrad.grad(f, emit=True)
    assert "def grad_f(x, n, d_y=1.0)" in src.replace("d_result", "d_y") or "def grad_f(" in src
    assert "def helper_fwd(_tape, v)" in src and "def helper_bwd(_tape, d_result)" in src
    assert "test_core_api.py:" in src and "y = helper(y) * 0.5" in src
    assert "import numpy as np" in src and "from s2sgrad import runtime as _rt" in src
    assert "gast" not in src and "astor" not in src
    assert src == s2sgrad.grad(f, emit=True)  # the same bytes again
    compile(src, "<emitted>", "exec")


def test_second_grad_call_does_not_transform_again(monkeypatch):
    from s2sgrad.driver import pipeline

    def f(x):
        return x * np.cos(x)

    s2sgrad.grad(f)(0.3)
    calls = []
    monkeypatch.setattr(pipeline, "_transform", lambda *a: calls.append(a))
    monkeypatch.setattr(pipeline, "Built", lambda *a: calls.append(a))
    s2sgrad.grad(f)(0.7)
    assert calls == []


def test_non_scalar_output_is_an_error():
    with pytest.raises(s2sgrad.NonScalarOutputError, match=r"test_core_api.py:\d+.*scalar"):
        s2sgrad.grad(lambda x: x * 2.0)(np.ones(3))


def test_differentiating_with_respect_to_an_int_is_an_error():
    def f(x, n):
        return x * n

    with pytest.raises(s2sgrad.NonDifferentiableError, match=r"test_core_api.py:\d+.*'n'.*int"):
        s2sgrad.grad(f, 1)(2.0, 3)
    with pytest.raises(s2sgrad.NonDifferentiableError, match="astype"):
        s2sgrad.grad(f, 0)(np.arange(3), 2.0)


def test_unsupported_construct_names_file_line_and_construct():
    def f(x):
        try:
            y = x * 2
        except ValueError:
            y = x
        return y

    with pytest.raises(s2sgrad.UnsupportedError) as info:
        s2sgrad.grad(f, fallback="never")(1.0)   # the default traces it instead, with a warning
    line = f.__code__.co_firstlineno + 1
    assert f"test_core_api.py:{line}" in str(info.value) and "try statement" in str(info.value)


def test_function_without_a_rule_is_an_error_naming_it():
    def f(x):
        return np.sum(np.unwrap(x))

    with pytest.raises(s2sgrad.S2SGradError, match=r"unwrap.*no derivative rule|no derivative rule.*unwrap"):
        s2sgrad.grad(f, fallback="never")(np.ones(3))


def test_inputs_are_never_mutated():
    x = rng.normal(size=3)
    params = {"a": x.copy(), "b": [x.copy()]}
    before = (x.copy(), params["a"].copy(), params["b"][0].copy())

    def f(params, x):
        params["a"][0] = 1.0
        return np.sum(params["a"] * x) + np.sum(params["b"][0] ** 2)

    with pytest.raises(s2sgrad.UnsupportedError):
        s2sgrad.grad(f, fallback="never")(params, x)   # refused by the transformer, not wrong
    np.testing.assert_array_equal(x, before[0])
    np.testing.assert_array_equal(params["a"], before[1])
