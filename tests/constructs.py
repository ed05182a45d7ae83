"""The core language's constructs as user programs, shared by the reverse- and forward-mode tests.

Each program is a module-level function (s2sgrad reads its source).  ``CASES`` maps a name to a
``Case``: the program, a factory for its arguments, the argument positions to differentiate and
the points it is checked at.  ``test_core_*.py`` check each group with ``check_grad``,
``test_forward.py`` checks all of them with ``check_jvp``; both run a case through ``run``, which
builds the arguments afresh (the same values in both modes) and checks that the check left them
unchanged.
"""

import copy
import math
import zlib
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest

import helper_module
from helper_module import norm2


class Case(NamedTuple):
    fn: Callable
    args: Callable[[Any, np.random.Generator], tuple]   # (point, rng) -> the arguments
    wrt: Any = 0
    points: tuple = (None,)


def at(point, rng):
    """The point itself is the only argument."""
    return (point,)


def normal(*shape):
    """One standard normal array of ``shape``."""
    return lambda point, rng: (rng.normal(size=shape),)


# == expressions ===================================================================================


def arithmetic_on_floats(x):
    y = 3.0 * x - x / 2.0 + 1.0 / (x + 4.0) - (x - 1.0) * x
    return -y + x ** 3 + 2 ** x + (+x) * 0.5


def powers(x):
    return x ** 2 + x ** 0.5 + x ** x + pow(x, 3) + math.pow(x, 1.5)


def math_functions(x):
    return (math.sin(x) * math.cos(x) + math.exp(-x) + math.log(x) + math.sqrt(x)
            + math.tanh(x) + math.atan(x) + math.log1p(x) + math.hypot(x, 2.0)
            + math.atan2(x, 1.5) + math.erf(x) + math.log(x, 2.0))


def scalar_expressions(x):
    a = np.sin(x) * np.cos(2.0 * x) + x ** 3 / (1.0 + x * x)
    b = np.exp(np.tanh(a)) - np.log1p(x * x) + abs(x) ** 1.5
    return a * b + math.sqrt(2.0 + math.sin(x)) + max(a, b) - min(x, 0.5)


def numpy_functions_on_arrays(x):
    y = np.sin(x) * np.cos(x) + np.tan(x) * np.exp(-x) + np.log(x) + np.log1p(x)
    z = np.expm1(x) + np.sqrt(x) + np.tanh(x) + np.sinh(x) - np.cosh(x) + np.arctan(x)
    return np.sum(y * z) + np.mean(np.abs(x - 0.7)) + np.prod(x) + np.max(x) - np.min(x)


def builtins_on_scalars(a, b):
    return abs(a - 0.1) * max(a, b) + min(a * b, b) + pow(abs(b) + 1.0, 2.0) + sum([a, b, a * b])


def broadcasting(x, y):
    # sums over the stretched axes
    return np.sum((x * y + x - y / (2.0 + x ** 2)) ** 2)


def reductions_with_axis_and_keepdims(x):
    a = np.sum(x, axis=0)
    b = np.mean(x, axis=1, keepdims=True)
    c = np.max(x, axis=1)
    d = x.sum(axis=1) * x.min(axis=1)
    return np.sum(a ** 2) + np.sum(b * x) + np.sum(c) + np.sum(d) + np.prod(x[0])


def array_expressions_and_matmul(x, W):
    h = np.tanh(x @ W + 0.1)
    s = np.sum(h ** 2, axis=1, keepdims=True)
    return np.mean(h / (1.0 + s)) + np.max(h) * np.sum(x.T @ x)


def contractions_and_shapes(A, v):
    B = A @ v
    C = np.dot(A.T, B)
    D = np.outer(v, B).reshape(-1)
    E = np.matmul(A, A.T)
    F = A.dot(v) + np.transpose(A)[1]
    return np.sum(C * v) + np.sum(D ** 2) + np.sum(E) + np.sum(F ** 2)


def where_maximum_minimum_clip_stack_concatenate(x):
    a = np.where(x > 0, x ** 2, -x)
    b = np.maximum(x, 0.1) + np.minimum(x, -0.1)
    c = np.clip(x, -0.5, 0.5)
    d = np.stack([x, a], axis=0)
    e = np.concatenate([x, b, c])
    return np.sum(d * d) + np.sum(e ** 3) + np.sum(np.zeros_like(x) + np.ones(6) * x)


def slices_of_expressions(x):
    # reverse mode: the adjoint of x[1:] of an expression needs slice(1, None), not slice(1)
    return np.sum((x * 2.0)[1:] ** 2) + np.sum(np.sin(x)[:-2] * (x + 1.0)[2:])


def comparisons_and_nondifferentiable_parts(x):
    k = np.floor(x * 3.0)
    s = np.sign(x)
    if x > 0 and x < 1:
        return x * k + s
    return x ** 2 * s + k


def _seeded(make):
    """Arguments drawn from ``default_rng(point)``: the point is a seed."""
    return lambda seed, rng: make(np.random.default_rng(seed))


EXPRESSIONS = {
    "arithmetic_on_floats": Case(arithmetic_on_floats, at, points=(0.3, 1.7, -0.8)),
    "powers": Case(powers, at, points=(0.4, 1.3, 2.2)),
    "math_functions": Case(math_functions, at, points=(0.4, 1.3)),
    "scalar_expressions": Case(scalar_expressions, at, points=(-1.3, 0.2, 2.0)),
    "numpy_functions_on_arrays": Case(
        numpy_functions_on_arrays, _seeded(lambda r: (r.uniform(0.2, 1.5, size=5),)),
        points=(0, 1, 2)),
    "builtins_on_scalars": Case(
        builtins_on_scalars, _seeded(lambda r: tuple(float(v) for v in r.uniform(-2, 2, size=2))),
        wrt=(0, 1), points=(0, 1)),
    "broadcasting": Case(
        broadcasting, lambda _, rng: (rng.normal(size=(3, 1)), rng.normal(size=4)), wrt=(0, 1)),
    "reductions_with_axis_and_keepdims": Case(reductions_with_axis_and_keepdims, normal(3, 4)),
    "array_expressions_and_matmul": Case(
        array_expressions_and_matmul, lambda _, rng: (rng.normal(size=(5, 3)), rng.normal(size=(3, 4))),
        wrt=(0, 1)),
    "contractions_and_shapes": Case(
        contractions_and_shapes, lambda _, rng: (rng.normal(size=(3, 4)), rng.normal(size=4)),
        wrt=(0, 1)),
    "where_maximum_minimum_clip_stack_concatenate": Case(
        where_maximum_minimum_clip_stack_concatenate, normal(6)),
    "slices_of_expressions": Case(slices_of_expressions, normal(5)),
    "comparisons_and_nondifferentiable_parts": Case(
        comparisons_and_nondifferentiable_parts, at, points=(0.5, -1.5)),
}


# == control flow ==================================================================================


def if_elif_else(x):
    # every side is taken at one of the points
    if x < -1.0:
        y = x ** 3
    elif x < 0.0:
        y = np.sin(x) * 2.0
    elif x < 1.0:
        y = x * x
    elif x < 1.5:
        y = 3.0  # a zero tangent (no adjoint) on this path only
    else:
        y = np.exp(-x)
    return y * x


def conditional_expression_and_boolean_conditions(x):
    y = x ** 2 if x > 0 else -x * 3.0
    z = np.cos(x) if (x > 0 and y < 10) or x < -5 else np.sin(x)
    w = y if not x > 0 else z
    return y * z + w


def early_returns(x):
    if x < 0:
        return x ** 2
    y = x * 3.0
    for i in range(5):
        y = y * 0.9 + np.sin(y)
        if y > 4.0:
            return y * x
    return y - x


def for_range_with_overwrites_and_loop_locals(x, n):
    y = x
    acc = 0.0
    for i in range(n):
        t = np.tanh(y) * x
        y = t + 0.1 * y * i
        acc = acc + np.sum(t)
    return np.sum(y ** 2) + acc


def for_over_rows_enumerate_zip_and_lists(X, w):
    s = 0.0
    for row in X:
        s = s + np.dot(row, w) ** 2
    for k, row in enumerate(X):
        s = s + k * np.sum(row * w)
    for a, b in zip(X, [w, 2 * w, 3 * w]):
        s = s + np.sum(a * b)
    ws = [w, w * w]
    for v in ws:
        s = s + np.sum(np.sin(v))
    for v in [w, w * w]:  # a list display iterated directly
        s = s + np.sum(np.cos(v))
    return s


def while_with_data_dependent_trip_count(x):
    y = x
    steps = 0
    while y > 0.1 and steps < 50:
        y = y * 0.7 + 0.01 * x
        steps += 1
    return y * x


def break_and_continue(x):
    total = 0.0
    for i in range(10):
        if i % 3 == 1:
            continue
        total = total + np.sin(x * i)
        if total > x:
            break
        total = total * 1.1
    return total


def nested_loops_and_loop_local_temporaries(x):
    acc = np.zeros(4)
    for i in range(3):
        for j in range(2):
            t = np.cos(x * (i + j))
            acc = acc + t * x
        u = acc * 0.5
        acc = acc + u ** 2
    return np.sum(acc)


def while_inside_for_with_break_and_reset(x):
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


def variable_assigned_on_some_paths_only(x):
    s = 0.0
    for i in range(4):
        if i % 2 == 0:
            t = x * i  # a conditionally assigned variable saved in the loop
        else:
            t = np.exp(-x)
        s = s + np.sum(t * x)
    if s > 0:
        u = s * 2.0
    if s > 0:
        s = s + u
    return s


CONTROL = {
    "if_elif_else": Case(if_elif_else, at, points=(-2.0, -0.5, 0.5, 1.2, 2.0)),
    "conditional_expression_and_boolean_conditions": Case(
        conditional_expression_and_boolean_conditions, at, points=(-1.2, 0.7)),
    "early_returns": Case(early_returns, at, points=(-1.0, 0.4, 3.0)),
    "for_range_with_overwrites_and_loop_locals": Case(
        for_range_with_overwrites_and_loop_locals, lambda n, rng: (rng.normal(size=3), n),
        points=(0, 1, 4)),
    "for_over_rows_enumerate_zip_and_lists": Case(
        for_over_rows_enumerate_zip_and_lists,
        lambda _, rng: (rng.normal(size=(4, 3)), rng.normal(size=3)), wrt=(0, 1)),
    "while_with_data_dependent_trip_count": Case(
        while_with_data_dependent_trip_count, at, points=(0.3, 2.5, 9.0)),
    "break_and_continue": Case(break_and_continue, at, points=(0.2, 1.1, 3.0)),
    "nested_loops_and_loop_local_temporaries": Case(
        nested_loops_and_loop_local_temporaries, normal(4)),
    "while_inside_for_with_break_and_reset": Case(
        while_inside_for_with_break_and_reset, at, points=(0.3, 1.9)),
    "variable_assigned_on_some_paths_only": Case(
        variable_assigned_on_some_paths_only, lambda _, rng: (rng.uniform(0.5, 1.5, size=3),)),
}


# == data: assignments, containers, indexing, in-place writes ======================================


def augmented_assignment_and_unpacking(x):
    a, (b, c) = x * 2.0, (x ** 2, np.sin(x))
    a += b
    b -= c * a
    c *= a
    a /= 1.0 + c ** 2
    a, b = b, a
    return a * b + c


def lists_append_pop_comprehensions_and_sum_of_a_generator(x):
    parts = []
    for i in range(3):
        parts.append(x[i] * x)
    parts.append(np.ones(3))  # no tangent: a zero in the tangent list
    last = parts.pop()
    squares = [np.sum(p ** 2) for p in parts if p[0] > -10]
    total = sum(np.sum(np.sin(p)) for p in parts)
    return sum(squares) + total + np.sum(np.stack(parts)) + np.sum(last)


def tuples_and_dicts_inside(x):
    pair = (x * 2.0, np.exp(x))
    table = {"a": pair[0], "b": pair[1] * x}
    first, second = pair
    return np.sum(table["a"] * table["b"]) + np.sum(first * second)


def tuples_and_dicts_as_arguments(params, x):
    pair = (x * 2.0, np.exp(x))
    table = {"a": pair[0], "b": pair[1] * params["w"]}
    first, second = pair
    extra = params["pair"]
    return np.sum(table["a"] * table["b"]) + np.sum(first * second) * params["b"] \
        + np.sum(extra[0]) * extra[1]


def indexing_kinds(x):
    a = x[1, 2] * x[-1, -1]
    b = np.sum(x[::2, 1:4:2] ** 2)
    c = np.sum(x[[0, 2, 2], :] * 3.0)
    d = np.sum(x[x > 0])
    e = np.sum(x[:, None, 0] * x[0])
    return a + b + c + d + e


def in_place_writes(x):
    y = np.zeros(5)
    for i in range(5):
        y[i] = x[i] ** 2 + np.sin(x[(i + 1) % 5])
    y[1:3] *= 2.0
    y[0] += y[-1]
    y[2] = y[3] * x[0]
    y[4] = 7.0  # a constant written over a value with a derivative
    return np.sum(y * y)


def in_place_write_on_argument(x):
    # the caller's array must come back unchanged (``run`` checks it)
    x[0] = x[1] * x[2]
    x[2:] *= 3.0
    return np.sum(x ** 2)


def writing_rows_of_a_matrix(x):
    M = np.ones((3, 3))
    for i in range(3):
        M[i] = M[i] * x[i] + x
        M[i, i] = np.cos(x[i])
    return np.sum(M @ x)


def mask_assignment_on_inactive_array_used_later(x, q):
    q = q.copy()
    q[q < 0] = 0.0
    h = np.exp(np.sqrt(q) * 0.5)
    return np.sum(h * x ** 2)


def put_along_axis_in_place(x):
    a = np.tanh(x)[:, None] * np.ones((3, 4))
    np.put_along_axis(a, np.array([[0], [3], [1]]), x[:, None] ** 2, axis=1)   # writes into a
    return np.sum(a * np.arange(12.0).reshape(3, 4))


def numpy_writes_in_place(x):
    A = np.outer(x, np.cos(x))
    np.fill_diagonal(A, x ** 2)                 # each of these writes into its array
    np.add.at(A, (np.array([0, 0, 2]), np.array([1, 1, 0])), x)
    np.subtract.at(A, np.array([1]), 0.5 * x)
    y = x * np.array([1.0, -2.0, 0.5])
    y.sort()
    z = np.zeros(3)
    np.copyto(z, np.sin(x))
    w = x.copy()
    w.fill(2.0)
    values = [x[2], x[0] * 3.0, x[1]]
    values.sort(key=abs)
    return np.sum(A * np.arange(9.0).reshape(3, 3)) + y[0] * 3.0 + y[2] + np.sum(z * y) \
        + np.sum(w * x) + values[0] * values[2]


DATA = {
    "put_along_axis_in_place": Case(put_along_axis_in_place, normal(3)),
    "numpy_writes_in_place": Case(numpy_writes_in_place, normal(3)),
    "augmented_assignment_and_unpacking": Case(
        augmented_assignment_and_unpacking, at, points=(0.6, -1.3)),
    "lists_append_pop_comprehensions_and_sum_of_a_generator": Case(
        lists_append_pop_comprehensions_and_sum_of_a_generator, normal(3)),
    "tuples_and_dicts_inside": Case(tuples_and_dicts_inside, normal(2)),
    "tuples_and_dicts_as_arguments": Case(
        tuples_and_dicts_as_arguments,
        lambda _, rng: ({"w": rng.normal(size=2), "b": 0.3, "pair": (rng.normal(size=2), 1.5)},
                        rng.normal(size=2)),
        wrt=(0, 1)),
    "indexing_kinds": Case(indexing_kinds, normal(4, 5)),
    "in_place_writes": Case(in_place_writes, normal(5)),
    "in_place_write_on_argument": Case(in_place_write_on_argument, normal(4)),
    "writing_rows_of_a_matrix": Case(writing_rows_of_a_matrix, normal(3)),
    "mask_assignment_on_inactive_array_used_later": Case(
        mask_assignment_on_inactive_array_used_later,
        lambda _, rng: (rng.normal(size=6), rng.normal(size=6))),
}


# == calls: user functions, recursion, closures, methods ===========================================


def cube_plus(x, c=1.0):
    return x ** 3 + c * x


def two_outputs(a, b):
    return a * b, a + b


def calls_across_modules_keywords_defaults_and_tuple_results(x):
    y = cube_plus(x) + cube_plus(x, 2.0) + cube_plus(x, c=0.5)
    z = helper_module.scaled_softplus(x, scale=3.0, shift=1.0) + helper_module.scaled_softplus(x)
    p, s = two_outputs(x, y)
    q, _ = two_outputs(2.0, y)  # another pattern of arguments with derivatives
    return norm2(y * z) + np.sum(p) + norm2(s) + np.sum(q)


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


def _recursion_with_depth_from_data():
    # a local recursive function, read by another local one as a free variable
    def halve_until_small(x, y):
        if y < 0.2:
            return x * y
        return halve_until_small(x, y * 0.5) + np.sin(x * y)

    def recursion_with_depth_from_data(x):
        return halve_until_small(x, x * 3.0)
    return recursion_with_depth_from_data


recursion_with_depth_from_data = _recursion_with_depth_from_data()


def closures_lambdas_and_local_functions(x):
    scale = np.exp(x)
    k = 2.0

    def g(v):
        return v * scale + x

    def const_part(v):  # called without derivatives
        return v * k

    h = lambda v: np.sum(v ** 2) * scale[0]
    return h(g(x)) + np.sum(g(x * 2.0)) + const_part(3.0) * np.sum(x)


def local_function_called_without_derivatives(x):
    # runs its plain copy
    def double(n):
        return n * 2

    def note(v):
        return None

    k = double(3)
    note(k)
    return x * k + double(x)


def make_model(weights, bias):
    def model(x):
        return np.tanh(x @ weights + bias)
    return model


def _model_losses(rng):
    # a function returned by a factory, read as a free variable by a function and a lambda
    model = make_model(rng.normal(size=(3, 2)), rng.normal(size=2))

    def factory_model_squared(x):
        return np.sum(model(x) ** 2)
    return factory_model_squared, lambda x: np.sum(model(x))


factory_model_squared, factory_model_sum = _model_losses(np.random.default_rng(5))


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


layer = Layer(np.random.default_rng(4).normal(size=(3, 3)))


def methods_call_and_attributes(x):
    return np.sum(layer.forward(x)) + np.sum(layer(x) ** 2)


def apply_twice(fn, x):
    return fn(fn(x))


def sin_times(v):
    return np.sin(v) * v


def calls_known_only_at_run_time(x):
    return np.sum(apply_twice(sin_times, x)) + np.sum(apply_twice(np.tanh, x))


def arguments_that_are_not_differentiated_pass_through(x, data, n, name, flag):
    y = x * data
    for i in range(n):
        y = y + data * i
    if flag and name == "sq":
        y = y ** 2
    return np.sum(y)


def gauss(x, mu=0.3, sigma=1.2):
    return math.exp(-(x - mu) ** 2 / (2 * sigma ** 2)) / (sigma * math.sqrt(2 * math.pi))


def math_module_user_function(x):
    return gauss(x) + gauss(x, sigma=0.5)


def sorting_with_a_key_and_reversing(x, scale=2.0):
    values = [x[0] * scale, np.sin(x[1]), x[2] ** 2, x[3] - x[0]]
    ranked = sorted(values, key=lambda v: -v * scale)   # a lambda with a free variable
    flipped = list(reversed(values))
    return ranked[0] * ranked[1] + flipped[0] * 3.0 + sum(sorted(values)[:2])


def zip_and_enumerate_as_values(x):
    pairs = list(zip([x[0], x[1]], x[1:]))   # a list and an array
    total = sum(a * b for a, b in pairs)
    for i, v in list(enumerate(np.sin(x), start=1)):
        total = total + v * i
    return total


def builtins_and_scalar_types(x):
    z = complex(x[0], x[1]) * (2.0 - 1.0j)
    squares = list(map(lambda v: v * v, x))
    products = list(map(np.multiply, x, [1.0, 2.0, 3.0]))
    positive = list(filter(lambda v: v > -10.0, products))
    return abs(z) ** 2 + np.float64(x[2]) * np.dot(x, x).item() + sum(squares) \
        + positive[1] * positive[2]


CALLS = {
    "sorting_with_a_key_and_reversing": Case(sorting_with_a_key_and_reversing, normal(4)),
    "builtins_and_scalar_types": Case(builtins_and_scalar_types, normal(3)),
    "zip_and_enumerate_as_values": Case(zip_and_enumerate_as_values, normal(3)),
    "calls_across_modules_keywords_defaults_and_tuple_results": Case(
        calls_across_modules_keywords_defaults_and_tuple_results, normal(3)),
    "power_tower": Case(power_tower, lambda n, rng: (0.7, n), points=(0, 1, 5)),
    "mutual_recursion": Case(is_even_weight, lambda n, rng: (0.8, n), points=(0, 1, 4, 5)),
    "recursion_with_depth_from_data": Case(recursion_with_depth_from_data, at, points=(0.3, 2.4)),
    "closures_lambdas_and_local_functions": Case(closures_lambdas_and_local_functions, normal(3)),
    "local_function_called_without_derivatives": Case(
        local_function_called_without_derivatives, at, points=(1.5, -0.4)),
    "factory_model_squared": Case(factory_model_squared, normal(3)),
    "factory_model_sum": Case(factory_model_sum, normal(3)),
    "methods_call_and_attributes": Case(methods_call_and_attributes, normal(3)),
    "method_calling_self": Case(layer.loss, normal(3)),
    "calls_known_only_at_run_time": Case(calls_known_only_at_run_time, normal(3)),
    "arguments_that_are_not_differentiated_pass_through": Case(
        arguments_that_are_not_differentiated_pass_through,
        lambda rest, rng: (rng.normal(size=4), rng.normal(size=4)) + rest,
        points=((3, "sq", True), (2, "lin", False))),
    "math_module_user_function": Case(math_module_user_function, at, points=(0.5, 1.5)),
}


# == running a case ================================================================================


GROUPS = {"expressions": EXPRESSIONS, "control": CONTROL, "data": DATA, "calls": CALLS}
CASES = {name: case for group in GROUPS.values() for name, case in group.items()}
assert len(CASES) == sum(map(len, GROUPS.values())), "case names must be unique"


def params(group):
    """pytest parameters ``(name, point)``: one per case of ``group`` and point."""
    return [pytest.param(name, point, id=name if point is None else f"{name}-{point}")
            for name, case in group.items() for point in case.points]


def arguments(name, point):
    """Fresh arguments of case ``name`` at ``point``: the same values on every call."""
    return CASES[name].args(point, np.random.default_rng(zlib.crc32(name.encode())))


def run(check, name, point):
    """``check(fn, *args, wrt=wrt)`` (``check_grad`` or ``check_jvp``) on one case and point."""
    case = CASES[name]
    args = arguments(name, point)
    saved = copy.deepcopy(args)
    result = check(case.fn, *args, wrt=case.wrt)
    _assert_unchanged(args, saved)
    return result


def _assert_unchanged(now, before):
    """The arguments hold what they held before (writes into them work on copies)."""
    if isinstance(before, dict):
        assert now.keys() == before.keys()
        for k in before:
            _assert_unchanged(now[k], before[k])
    elif isinstance(before, (list, tuple)):
        assert type(now) is type(before) and len(now) == len(before)
        for a, b in zip(now, before):
            _assert_unchanged(a, b)
    else:
        np.testing.assert_array_equal(now, before)
