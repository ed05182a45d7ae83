"""Forward mode (jvp): every construct of the core language against finite differences."""

import math

import numpy as np
import pytest

import helper_module
import s2sgrad
from gradcheck import assert_close
from helper_module import norm2
from tangentcheck import check_jvp

rng = np.random.default_rng(11)


# -- expressions and the generated code ----------------------------------------------


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


@pytest.mark.parametrize("x", [-1.3, 0.2, 2.0])
def test_scalar_expressions(x):
    def f(x):
        a = np.sin(x) * np.cos(2.0 * x) + x ** 3 / (1.0 + x * x)
        b = np.exp(np.tanh(a)) - np.log1p(x * x) + abs(x) ** 1.5
        return a * b + math.sqrt(2.0 + math.sin(x)) + max(a, b) - min(x, 0.5)
    check_jvp(f, x)


def test_array_expressions_reductions_and_matmul():
    W = rng.normal(size=(3, 4))
    x = rng.normal(size=(5, 3))

    def f(x, W):
        h = np.tanh(x @ W + 0.1)
        s = np.sum(h ** 2, axis=1, keepdims=True)
        return np.mean(h / (1.0 + s)) + np.max(h) * np.sum(x.T @ x)
    check_jvp(f, x, W, wrt=(0, 1))


def test_non_scalar_output_and_tuple_output():
    x = rng.normal(size=4)

    def f(x):
        return np.sin(x) * x, np.sum(x ** 2)
    check_jvp(f, x)
    check_jvp(lambda x: np.outer(x, np.cos(x)), x)


# -- control flow ------------------------------------------------------------------------


@pytest.mark.parametrize("x", [-2.0, -0.5, 0.5, 2.0])
def test_branches_both_sides(x):
    def f(x):
        if x < -1.0:
            y = x ** 3
        elif x < 0.0:
            y = np.sin(x) * 2.0
        elif x < 1.0:
            y = 3.0  # a zero tangent on this path only
        else:
            y = np.exp(-x)
        return y * x
    check_jvp(f, x)


@pytest.mark.parametrize("x", [-1.0, 0.4, 3.0])
def test_early_returns(x):
    def f(x):
        if x < 0:
            return x ** 2
        y = x * 3.0
        for i in range(5):
            y = y * 0.9 + np.sin(y)
            if y > 4.0:
                return y * x
        return y - x
    check_jvp(f, x)


@pytest.mark.parametrize("n", [0, 1, 4])
def test_for_loop_with_overwrites_and_loop_locals(n):
    x = rng.normal(size=3)

    def f(x, n):
        y = x
        acc = 0.0
        for i in range(n):
            t = np.tanh(y) * x
            y = t + 0.1 * y * i
            acc = acc + np.sum(t)
        return np.sum(y ** 2) + acc
    check_jvp(f, x, n)


def test_loops_over_rows_enumerate_zip_and_lists():
    X = rng.normal(size=(4, 3))
    w = rng.normal(size=3)

    def f(X, w):
        s = 0.0
        for row in X:
            s = s + np.dot(row, w) ** 2
        for k, row in enumerate(X):
            s = s + k * np.sum(row * w)
        for a, b in zip(X, [w, 2 * w, 3 * w]):
            s = s + np.sum(a * b)
        for v in [w, w * w]:
            s = s + np.sum(np.sin(v))
        return s
    check_jvp(f, X, w, wrt=(0, 1))


@pytest.mark.parametrize("x", [0.3, 2.5, 9.0])
def test_while_with_data_dependent_trip_count(x):
    def f(x):
        y = x
        steps = 0
        while y > 0.1 and steps < 50:
            y = y * 0.7 + 0.01 * x
            steps += 1
        return y * x
    check_jvp(f, x)


@pytest.mark.parametrize("x", [0.2, 1.1, 3.0])
def test_break_and_continue(x):
    def f(x):
        total = 0.0
        for i in range(10):
            if i % 3 == 1:
                continue
            total = total + np.sin(x * i)
            if total > x:
                break
            total = total * 1.1
        return total
    check_jvp(f, x)


@pytest.mark.parametrize("x", [0.3, 1.9])
def test_while_inside_for_with_break_and_reset(x):
    def f(x):
        y = x
        for k in range(3):
            n = 0
            z = 0.5  # reset to a constant each iteration: its tangent restarts at zero
            while n < k + 2:
                y = np.sin(y) + 0.5 * x
                z = z * y
                n = n + 1
                if y > 1.3:
                    break
            y = y * 1.01 + z
        return y
    check_jvp(f, x)


def test_variable_assigned_on_some_paths_only():
    x = rng.uniform(0.5, 1.5, size=3)

    def f(x):
        s = 0.0
        for i in range(4):
            if i % 2 == 0:
                t = x * i
            else:
                t = np.exp(-x)
            s = s + np.sum(t * x)
        if s > 0:
            u = s * 2.0
        if s > 0:
            s = s + u
        return s
    check_jvp(f, x)


# -- calls ---------------------------------------------------------------------------------


def cube_plus(x, c=1.0):
    return x ** 3 + c * x


def two_outputs(a, b):
    return a * b, a + b


def test_calls_across_modules_keywords_defaults_and_tuple_results():
    x = rng.normal(size=3)

    def f(x):
        y = cube_plus(x) + cube_plus(x, 2.0) + cube_plus(x, c=0.5)
        z = helper_module.scaled_softplus(x, scale=3.0, shift=1.0) + helper_module.scaled_softplus(x)
        p, s = two_outputs(x, y)
        q, _ = two_outputs(2.0, y)  # another pattern of arguments with tangents
        return norm2(y * z) + np.sum(p) + norm2(s) + np.sum(q)
    check_jvp(f, x)
    src = s2sgrad.jvp(f, emit=True)
    assert "def cube_plus_jvp(x, c=1.0, t_x=None):" in src
    assert "def two_outputs_jvp(" in src and "def two_outputs_b_jvp(" in src


def power_tower(x, n):
    if n == 0:
        return x
    return np.sin(power_tower(x, n - 1)) * x


def is_even_weight(x, n):
    if n == 0:
        return x
    return 1.5 * is_odd_weight(x * 0.9, n - 1)


def is_odd_weight(x, n):
    if n == 0:
        return x * x
    return np.cos(is_even_weight(x, n - 1)) + x


@pytest.mark.parametrize("n", [0, 1, 5])
def test_direct_and_mutual_recursion(n):
    check_jvp(power_tower, 0.7, n)
    check_jvp(is_even_weight, 0.8, n)


@pytest.mark.parametrize("x", [0.3, 2.4])
def test_recursion_with_depth_from_data(x):
    def halve_until_small(x, y):
        if y < 0.2:
            return x * y
        return halve_until_small(x, y * 0.5) + np.sin(x * y)

    def f(x):
        return halve_until_small(x, x * 3.0)
    check_jvp(f, x)


def test_closures_lambdas_and_local_functions_called_without_tangents():
    x = rng.normal(size=3)

    def f(x):
        scale = np.exp(x)
        k = 2.0

        def g(v):
            return v * scale + x

        def const_part(v):
            return v * k

        h = lambda v: np.sum(v ** 2) * scale[0]
        return h(g(x)) + np.sum(g(x * 2.0)) + const_part(3.0) * np.sum(x)
    check_jvp(f, x)


def make_model(weights, bias):
    def model(x):
        return np.tanh(x @ weights + bias)
    return model


class Layer:
    def __init__(self, W):
        self.W = W
        self.scale = 0.5

    def forward(self, x):
        return np.tanh(x @ self.W) * self.scale

    def __call__(self, x):
        return self.forward(x) + x @ self.W

    def loss(self, x):
        return np.sum(self(x) ** 2) + np.sum(self.forward(x))


layer = Layer(rng.normal(size=(3, 3)))


def test_factories_methods_and_callable_objects():
    model = make_model(rng.normal(size=(3, 2)), rng.normal(size=2))
    x = rng.normal(size=3)
    check_jvp(lambda x: np.sum(model(x) ** 2), x)
    check_jvp(lambda x: np.sum(layer.forward(x)) + np.sum(layer(x) ** 2), x)
    check_jvp(layer.loss, x)


def apply_twice(fn, x):
    return fn(fn(x))


def test_calls_known_only_at_run_time():
    x = rng.normal(size=3)

    def inner(v):
        return np.sin(v) * v

    def f(x):
        return np.sum(apply_twice(inner, x)) + np.sum(apply_twice(np.tanh, x))
    check_jvp(f, x)


@pytest.mark.parametrize("x", [0.5, 1.5])
def test_math_module_functions(x):
    def gauss(x, mu=0.3, sigma=1.2):
        return math.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))
    check_jvp(lambda x: gauss(x) + gauss(x, sigma=0.5), x)


# -- data: containers, indexing, in-place writes -----------------------------------------------


@pytest.mark.parametrize("x", [0.6, -1.3])
def test_augmented_assignment_and_unpacking(x):
    def f(x):
        a, (b, c) = x * 2.0, (x ** 2, np.sin(x))
        a += b
        b -= c * a
        c *= a
        a /= 1.0 + c ** 2
        a, b = b, a
        return a * b + c
    check_jvp(f, x)


def test_lists_append_pop_comprehensions_and_sum_of_a_generator():
    x = rng.normal(size=3)

    def f(x):
        parts = []
        for i in range(3):
            parts.append(x[i] * x)
        parts.append(np.ones(3))  # no tangent: a zero in the tangent list
        last = parts.pop()
        squares = [np.sum(p ** 2) for p in parts if p[0] > -10]
        total = sum(np.sum(np.sin(p)) for p in parts)
        return sum(squares) + total + np.sum(np.stack(parts)) + np.sum(last)
    check_jvp(f, x)


def test_tuples_and_dicts_inside_and_as_arguments():
    x = rng.normal(size=2)
    params = {"w": rng.normal(size=2), "b": 0.3, "pair": (rng.normal(size=2), 1.5)}

    def f(params, x):
        pair = (x * 2.0, np.exp(x))
        table = {"a": pair[0], "b": pair[1] * params["w"]}
        first, second = pair
        extra = params["pair"]
        return np.sum(table["a"] * table["b"]) + np.sum(first * second) * params["b"] \
            + np.sum(extra[0]) * extra[1]
    check_jvp(f, params, x, wrt=(0, 1))


def test_indexing_kinds():
    x = rng.normal(size=(4, 5))

    def f(x):
        a = x[1, 2] * x[-1, -1]
        b = np.sum(x[::2, 1:4:2] ** 2)
        c = np.sum(x[[0, 2, 2], :] * 3.0)
        d = np.sum(x[x > 0])
        e = np.sum(x[:, None, 0] * x[0])
        return a + b + c + d + e
    check_jvp(f, x)


def test_in_place_writes():
    x = rng.normal(size=5)

    def f(x):
        y = np.zeros(5)
        for i in range(5):
            y[i] = x[i] ** 2 + np.sin(x[(i + 1) % 5])
        y[1:3] *= 2.0
        y[0] += y[-1]
        y[2] = y[3] * x[0]
        y[4] = 7.0  # a constant written over a value with a tangent
        return np.sum(y * y)
    check_jvp(f, x)


def test_in_place_write_on_argument_does_not_modify_it_or_its_tangent():
    x = rng.normal(size=4)
    t = rng.normal(size=4)
    saved, saved_t = x.copy(), t.copy()

    def f(x):
        x[0] = x[1] * x[2]
        x[2:] *= 3.0
        return np.sum(x ** 2)
    check_jvp(f, x)
    s2sgrad.jvp(f)(x, t)
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


def test_writing_rows_of_a_matrix_and_masks():
    x = rng.normal(size=3)
    q = rng.normal(size=3)

    def f(x, q):
        M = np.ones((3, 3))
        for i in range(3):
            M[i] = M[i] * x[i] + x
            M[i, i] = np.cos(x[i])
        q = q.copy()
        q[q < 0] = 0.0
        return np.sum(M @ x) + np.sum(np.exp(np.sqrt(q) * 0.5) * x ** 2)
    check_jvp(f, x, q)


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


def test_slices_of_expressions_in_both_modes():
    from gradcheck import check_grad
    x = rng.normal(size=5)

    def f(x):
        return np.sum((x * 2.0)[1:] ** 2) + np.sum(np.sin(x)[:-2] * (x + 1.0)[2:])
    check_jvp(f, x)
    check_grad(f, x)   # slice(1, None), not slice(1): the adjoint of x[1:] of an expression


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
