"""Forward mode (jvp): every construct of the core language against finite differences, and what is
particular to forward mode (the generated code, outputs of any structure, tangents left untouched)."""

import numpy as np
import pytest

import constructs
import s2sgrad
from gradcheck import assert_close
from tangentcheck import check_jvp

rng = np.random.default_rng(11)


# -- the generated code and outputs of any structure ---------------------------------------


def tanh_like(x):
    y = np.exp(-x)
    return (1.0 - y) / (1.0 + y)


def test_generated_tangent_code_follows_each_line_and_has_no_tape():
    src = s2sgrad.jvp(tanh_like, emit=True)
    assert "def jvp_tanh_like(x, t_x):" in src
    assert "_tape" not in src
    lines = [ln.strip() for ln in src.splitlines()]
    k = lines.index("y = np.exp(-x)")
    assert lines[k + 1] == "t_y = -t_x * y"
    assert lines[k + 2].startswith("# ")  # the next source line's comment
    assert "return result, t_result" in src


def test_non_scalar_output_and_tuple_output():
    x = rng.normal(size=4)

    def f(x):
        return np.sin(x) * x, np.sum(x ** 2)
    check_jvp(f, x)
    check_jvp(lambda x: np.outer(x, np.cos(x)), x)


# -- every construct of the core language (constructs.py; test_core_*.py check the gradients) ----


@pytest.mark.parametrize("name, point", constructs.params(constructs.CASES))
def test_every_construct(name, point, code):
    constructs.run(check_jvp, name, point)


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for k in sorted(tree) for leaf in _leaves(tree[k])]
    if isinstance(tree, (list, tuple)):
        return [leaf for item in tree for leaf in _leaves(item)]
    return [np.asarray(tree)]


@pytest.mark.parametrize("name, point", constructs.params(constructs.CASES))
def test_every_construct_with_a_batch_of_tangents(name, point):
    """One batched forward sweep (a Jacobian's columns) gives each direction's jvp, which is
    checked against finite differences above; one batched backward sweep (its rows) gives
    the same Jacobian."""
    from s2sgrad.driver import pipeline
    from s2sgrad.driver.request import Request
    from s2sgrad.operators import _has_rows, _lead, _matrix, _rows
    case = constructs.CASES[name]
    args = constructs.arguments(name, point)
    if not isinstance(case.wrt, int) or not isinstance(args[case.wrt], (float, np.ndarray)):
        pytest.skip("batched tangents are for one float or array argument")
    w = case.wrt
    built = pipeline.run(case.fn, Request("columns", (w,)))
    face = built.interface
    x = args[w]
    directions = np.random.default_rng(5).normal(size=(3,) + np.shape(x))
    out = built[face["jvp"]](*_lead(case.fn), *args,
                             **{face["tangents"][face["active"][0]]: directions})
    t_batch = _leaves(out[1])
    for i in range(3):
        d = float(directions[i]) if isinstance(x, float) else directions[i]
        t_i = _leaves(s2sgrad.jvp(case.fn, w)(*constructs.arguments(name, point), d)[1])
        assert len(t_i) == len(t_batch)
        for a, b in zip(t_batch, t_i):
            np.testing.assert_allclose(np.broadcast_to(a, (3,) + b.shape)[i], b, rtol=1e-10,
                                       atol=1e-12)
    value = out[0]
    if isinstance(value, (float, np.ndarray)) and not np.iscomplexobj(value):
        x, value = np.asarray(x), np.asarray(value)
        columns = _matrix(case.fn, Request("columns", (w,)), args, {})
        if not _has_rows(case.fn, w):   # its gradient calls _rt.call_bwd, which has no rule
            assert name == "calls_known_only_at_run_time"
            return
        rows = _rows(case.fn, w, constructs.arguments(name, point), {}, x, value)
        np.testing.assert_allclose(rows, columns, rtol=1e-9, atol=1e-11)


def test_each_pattern_of_arguments_with_tangents_gets_its_own_function():
    src = s2sgrad.jvp(constructs.calls_across_modules_keywords_defaults_and_tuple_results, emit=True)
    assert "def cube_plus_jvp(x, c=1.0, t_x=None):" in src
    assert "def two_outputs_jvp(" in src and "def two_outputs_b_jvp(" in src


def test_in_place_write_on_argument_modifies_neither_it_nor_its_tangent():
    x = rng.normal(size=4)
    t = rng.normal(size=4)
    saved, saved_t = x.copy(), t.copy()
    s2sgrad.jvp(constructs.in_place_write_on_argument)(x, t)
    np.testing.assert_array_equal(x, saved)
    np.testing.assert_array_equal(t, saved_t)


def test_tangent_of_a_copy_is_not_shared_with_the_argument():
    x = rng.normal(size=3)
    t = rng.normal(size=3)
    saved_t = t.copy()

    def f(x):
        y = x * 1.0  # its tangent is t_x itself ...
        y[0] = 5.0   # ... until the write: it must not reach the caller's tangent
        return y
    value, tangent = s2sgrad.jvp(f)(x, t)
    np.testing.assert_array_equal(t, saved_t)
    np.testing.assert_allclose(tangent, np.r_[0.0, t[1:]])


# -- the API -------------------------------------------------------------------------------


def test_tangent_structure_follows_arguments_and_outputs():
    def f(a, b, c):
        return a * b ** 2 + np.sin(c) * a

    args = (0.5, 1.5, -0.3)
    value, tangent = s2sgrad.jvp(f, (0, 2))(*args, (1.0, 2.0))
    assert type(tangent) is float
    assert tangent == pytest.approx(1.5 ** 2 + np.sin(-0.3) + 2.0 * np.cos(-0.3) * 0.5)
    value, tangent = s2sgrad.jvp(lambda x: (x, [2.0 * x]))(1.0, 0.5)
    assert isinstance(tangent, tuple) and isinstance(tangent[1], list)
    assert_close(tangent, (0.5, [1.0]))


def test_output_without_tangent_gives_zeros():
    value, tangent = s2sgrad.jvp(lambda x, y: y * 2.0, 0)(np.ones(2), np.arange(3.0), np.ones(2))
    np.testing.assert_array_equal(tangent, np.zeros(3))


def test_deriv_is_forward_mode_with_the_seed_folded_in():
    src = s2sgrad.deriv(tanh_like, emit=True)
    assert "def deriv_tanh_like(x):" in src and "t_x" not in src  # the tangent 1.0 is folded in
    assert "return t_result" in src
    for x in (-0.7, 0.0, 1.3):
        assert s2sgrad.deriv(tanh_like)(x) == pytest.approx(0.5 * (1 - np.tanh(x / 2) ** 2))
    xs = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(s2sgrad.deriv(tanh_like)(xs), 0.5 * (1 - np.tanh(xs / 2) ** 2))


def test_errors_name_the_argument():
    with pytest.raises(s2sgrad.NonDifferentiableError, match="'n'"):
        s2sgrad.jvp(lambda x, n: x * n, 1)(1.0, 3, 1.0)


def bump(buf, v):
    buf[0] = buf[0] + v
    return 0.0


def test_values_are_not_shared_across_a_call_that_changes_an_array():
    def f(x):
        buf = np.ones(2)
        a = np.sum(buf * 2.0) * x
        bump(buf, 3.0)   # the same expression below has another value
        b = np.sum(buf * 2.0) * x
        return a + b
    value, tangent = s2sgrad.jvp(f)(1.5, 1.0)
    assert value == pytest.approx(f(1.5)) and tangent == pytest.approx(14.0)


def test_functions_without_transformable_source_are_traced_in_forward_mode():
    def guarded(x):
        try:
            return np.sin(x) * x
        except ValueError:
            return x

    with pytest.warns(s2sgrad.FallbackWarning, match="a try statement"):
        value, tangent = s2sgrad.jvp(guarded)(0.4, 2.0)
    assert tangent == pytest.approx(2.0 * (np.cos(0.4) * 0.4 + np.sin(0.4)))
    with pytest.raises(s2sgrad.UnsupportedError, match="try statement"):
        s2sgrad.jvp(guarded, fallback="never")(0.4, 2.0)
    value, tangent = s2sgrad.jvp(np.tanh)(0.3, 1.0)   # a primitive: its rule
    assert tangent == pytest.approx(1.0 - np.tanh(0.3) ** 2)
