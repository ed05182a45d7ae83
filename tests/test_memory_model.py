"""The compiler's model of memory and names (issue 12, items 1-4 and the false alarms).

Each pattern is checked against central finite differences at several points, in
reverse mode (grad, vjp), forward mode (jvp) and the Jacobian; ``fallback="never"``
makes sure the source transform (not the tracer) gave the answer.  Where the
transform refuses, the test checks the error names the user's file and line.
"""

import warnings

import numpy as np
import pytest

import s2sgrad

from gradcheck import assert_agree, general_too

EPS = 1e-6


def numeric(f, x):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = EPS
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * EPS)
    return g


def check_every_mode(f, points, seed=0):
    """grad, jvp, vjp and jacobian of scalar ``f`` against finite differences; inputs unchanged."""
    rng = np.random.RandomState(seed)
    for x in points:
        x = np.asarray(x, dtype=float)
        kept = x.copy()
        want = numeric(f, x.copy())
        g = s2sgrad.grad(f, fallback="never")(x)
        np.testing.assert_allclose(g, want, atol=1e-6)
        t = rng.randn(*x.shape)
        value, tangent = s2sgrad.jvp(f, fallback="never")(x, t)
        np.testing.assert_allclose(value, f(x.copy()), atol=1e-12)
        np.testing.assert_allclose(tangent, want @ t, atol=1e-6)
        general = general_too(lambda: (s2sgrad.grad(f, fallback="never")(x),
                                       s2sgrad.jvp(f, fallback="never")(x, t)[1]))
        if general is not None:         # specialized code (the ``code`` fixture): the same
            assert_agree(g, general[0])
            assert_agree(tangent, general[1], what="tangent")
        value, backward = s2sgrad.vjp(f)(x)
        np.testing.assert_allclose(backward(1.5), 1.5 * want, atol=1e-6)
        np.testing.assert_allclose(s2sgrad.jacobian(f)(x), want, atol=1e-6)
        np.testing.assert_array_equal(x, kept)     # the caller's array is never written


# -- 1. a write whose index reads the array it writes -----------------------------------

def relu_by_mask(x):
    y = x.copy()
    y[y < 0] = 0.0
    return np.sum(y * x)


def clip_by_mask(x):
    y = x.copy()
    y[y > 1] = 1
    return np.sum(y * x)


def zero_the_largest(x):
    y = x.copy()
    y[np.argmax(y)] = 0
    return np.sum(y * x)


def masks_in_a_loop(x):
    y = x * 1.0
    for k in range(3):
        y[y > 0.5] = y[y > 0.5] * 0.5
        y[np.argmin(y)] = y[np.argmin(y)] * 2.0
    return np.sum(y * x)


def augmented_mask_in_a_loop(x):
    y = x * 1.0
    for k in range(3):
        y[y > 0.5] *= 0.5
    return np.sum(y * x)


POINTS = [[0.3, -0.5, 1.2, -0.1], [1.7, 0.2, -0.3, 0.9], [-0.4, 2.1, 0.6, 1.3]]


def test_relu_by_mask_issue_values():
    g = s2sgrad.grad(relu_by_mask, fallback="never")(np.array([0.3, -0.5, 1.2, -0.1]))
    np.testing.assert_allclose(g, [0.6, 0.0, 2.4, 0.0])


@pytest.mark.parametrize("f", [relu_by_mask, clip_by_mask, zero_the_largest, masks_in_a_loop,
                               augmented_mask_in_a_loop])
def test_index_reading_the_written_array(f, code):
    check_every_mode(f, POINTS)


def test_mask_is_computed_once_before_the_write():
    src = s2sgrad.grad(relu_by_mask, emit=True)
    assert "y_where = y < 0" in src
    body = [ln.strip() for ln in src.splitlines() if not ln.strip().startswith("#")]
    assert not any("y < 0" in ln and ln != "y_where = y < 0" for ln in body)


# -- 4. repeated fancy indices -------------------------------------------------------------

def last_write_wins(x):
    y = np.zeros(3)
    y[[0, 0, 1]] = x[:3]
    return np.sum(y * np.array([1.0, 2.0, 3.0]))


def buffered_add(x):
    y = np.ones(3)
    y[[0, 0]] += x[:2]
    return np.sum(y * y)


def repeated_index_from_an_array(x):
    idx = np.array([2, 0, 2, 1, 2])
    y = x * 1.0
    y[idx] = np.sin(x[:5]) * y[idx]
    return np.sum(y ** 2)


def repeated_pairs_in_a_matrix(x):
    m = np.outer(x, x)
    m[[0, 0, 1], [1, 1, 2]] = x[:3] * 2.0
    return np.sum(m ** 2)


def repeated_index_given_a_scalar(x):
    y = x * 1.0
    y[[0, 0, 1]] = x[2] * x[3]
    return np.sum(y ** 2 * x)


def repeated_rows(x):
    m = np.outer(x, x)
    m[[1, 1]] = np.stack([x, 2 * x])
    return np.sum(m ** 2)


def repeated_rows_and_a_slice(x):
    m = np.outer(x, x)
    m[[2, 0, 2], 1:] = np.sin(m[[0, 1, 3], 1:])
    return np.sum(m * m.T)


@pytest.mark.parametrize("f", [repeated_pairs_in_a_matrix, repeated_index_given_a_scalar,
                               repeated_rows, repeated_rows_and_a_slice])
def test_repeated_indices_in_more_dimensions(f, code):
    check_every_mode(f, [[0.3, -0.5, 0.7, 1.2], [1.1, 0.4, -2.0, 0.6]])


def test_last_write_wins_issue_values():
    x = np.array([0.3, -0.5, 0.7])
    np.testing.assert_allclose(s2sgrad.grad(last_write_wins, fallback="never")(x), [0, 1, 2])
    np.testing.assert_allclose(s2sgrad.grad(buffered_add, fallback="never")(x),
                               [0, 2 * (1 + x[1]), 0])


@pytest.mark.parametrize("f", [last_write_wins, buffered_add])
def test_repeated_indices(f, code):
    check_every_mode(f, [[0.3, -0.5, 0.7], [1.1, 0.4, -2.0]])


def test_repeated_indices_known_only_at_run_time(code):
    check_every_mode(repeated_index_from_an_array, [[0.3, -0.5, 0.7, 1.2, -0.8],
                                                    [1.1, 0.4, -2.0, 0.1, 0.6]])


def test_repeated_indices_second_order():
    def f(x):
        y = np.zeros(3)
        y[[0, 0, 1]] = x[:3] ** 2
        return np.sum(y * np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(s2sgrad.hessian(f)(np.array([0.3, -0.5, 0.7])),
                               np.diag([0.0, 2.0, 4.0]))


# -- 2. writes through another name: a callee's parameter, a list or dict that holds the array --

def scale_first(y):
    y[0] = y[0] * 10.0


def double_in_place(v):
    v *= 2.0


def helper_writes_its_argument(x):
    y = x.copy()
    scale_first(y)
    return np.sum(y ** 2)


def helper_doubles_a_local(x):
    y = x.copy()
    double_in_place(y)
    return np.sum(y ** 2)


def helper_doubles_the_input(x):
    double_in_place(x)
    return np.sum(x ** 2)


def list_holds_the_array(x):
    y = x.copy()
    lst = [y]
    y[0] *= 10
    return np.sum(lst[0] ** 2)


def dict_holds_the_array(x):
    y = x.copy()
    d = {"a": y}
    y[0] *= 10
    return np.sum(d["a"] ** 2)


def item_written_through_its_own_name(x):
    a = x.copy()
    lst = [a, x * 2]
    b = lst[0]
    b[1] = b[1] * 5.0
    return np.sum(lst[0] * a)


def _traced_right(f, x, construct):
    """Refused by the transform at the user's line (the error quotes the user's code);
    traced by default, and right."""
    x = np.asarray(x, dtype=float)
    kept = x.copy()
    want = numeric(f, x.copy())
    for op in (s2sgrad.grad, s2sgrad.jvp):
        with pytest.raises(s2sgrad.UnsupportedError, match=r"test_memory_model.py:\d+: " + construct):
            op(f, fallback="never", emit=True)
    with pytest.warns(s2sgrad.FallbackWarning, match=construct):
        g = s2sgrad.grad(f)(x)
    np.testing.assert_allclose(g, want, atol=1e-6)
    np.testing.assert_array_equal(x, kept)
    t = np.arange(1.0, x.size + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)   # (said once, above)
        _, tangent = s2sgrad.jvp(f)(x, t)
    np.testing.assert_allclose(tangent, want @ t, atol=1e-6)
    np.testing.assert_array_equal(x, kept)


@pytest.mark.parametrize("f, construct", [
    (helper_writes_its_argument,
     r"`scale_first\(y\)`, a call in which scale_first writes into "
     r"its argument y in place"),
    (helper_doubles_a_local, r"`double_in_place\(y\)`"),
    (helper_doubles_the_input, r"`double_in_place\(x\)`"),
    (list_holds_the_array, r"`y\[0\] \*= 10`, a write into y while "
                           r"lst reaches the same object"),
    (dict_holds_the_array, r"`y\[0\] \*= 10`, a write into y while "
                           r"d reaches"),
    (item_written_through_its_own_name, r"`b\[1\] = b\[1\] \* 5.0`"),
])
def test_writes_through_another_name_are_traced_and_right(f, construct):
    _traced_right(f, [0.3, -0.5], construct)


def test_issue_values_of_a_helper_that_writes_its_argument():
    np.testing.assert_allclose(s2sgrad.grad(helper_writes_its_argument)(np.array([0.3, -0.5])),
                               [60.0, -1.0])
    np.testing.assert_allclose(s2sgrad.grad(list_holds_the_array)(np.array([0.3, -0.5])),
                               [60.0, -1.0])


def bump(buf, v):
    buf[0] = buf[0] + v


def helper_writes_a_constant_buffer(x):
    buf = np.ones(2)
    bump(buf, 3.0)          # no derivative in the call: the user's own bump runs
    return np.sum(buf * x)


def test_a_call_without_derivatives_that_writes_its_argument_is_transformed(code):
    check_every_mode(helper_writes_a_constant_buffer, [[0.3, -0.5], [1.0, 2.0]])


# -- 3. values stored on an object, in module state, in a list inside a list ----------------

class Layer:
    def __init__(self, w):
        self.w = w

    def forward(self, x):
        self.out = np.tanh(self.w * x)
        return self.out


def object_keeps_its_output(x):
    layer = Layer(np.array([0.5, -1.0]))
    return np.sum(layer.forward(x))


STORE = []


def module_level_store(x):
    STORE.append(np.sum(x))
    return STORE[-1] ** 2


LOG = []


def module_level_log(x):
    LOG.append(np.sum(x))       # written, never read back here: the gradient is not affected
    return np.sum(x ** 2)


def list_in_a_list_appended_later(x):
    inner = []
    outer = [inner]
    inner.append(np.sin(x))
    return np.sum(outer[0][0])


def test_an_attribute_that_carries_a_derivative_is_traced_and_right():
    _traced_right(object_keeps_its_output, [0.3, -0.5],
                  r"`self.out = np.tanh\(self.w \* x\)`, storing a "
                  r"value that carries a derivative in the attribute self.out")


def test_a_list_in_a_list_appended_later_is_traced_and_right():
    _traced_right(list_in_a_list_appended_later, [0.3, -0.5],
                  r"`inner.append\(np.sin\(x\)\)`, a write into inner "
                  r"while outer reaches the same object")


def test_a_derivative_kept_in_module_state_and_read_back_is_an_error():
    x = np.array([0.3, -0.5])
    for op in (s2sgrad.grad, s2sgrad.jvp):
        with pytest.raises(s2sgrad.errors.EscapeError,
                           match=r"test_memory_model.py:\d+: `STORE.append\(np.sum\(x\)\)`.* STORE, "
                                 r"a variable of the module.*keep STORE local"):
            op(module_level_store)(x, *([x] if op is s2sgrad.jvp else []))
    assert STORE == []          # nothing traced was left in the module's list


def test_a_module_level_log_is_transformed(code):
    LOG.clear()
    check_every_mode(module_level_log, [[0.3, -0.5]])
    assert all(isinstance(v, float) for v in LOG)


# -- false alarms: valid code the transform must take (fallback="never" in every mode) ------

def conditional_element_read(x):
    y = np.zeros(len(x))
    for i in range(len(x)):
        y[i] = x[i] ** 2 + (y[i - 1] if i > 0 else 0.0)
    return np.sum(y)


def unused_buffer(x):
    buf = np.zeros(len(x))
    for i in range(len(x)):
        buf[i] = x[i] * 2
    return np.sum(x ** 2)


def double_buffer(x):
    u = x.copy()
    for t in range(2):
        new = u.copy()
        for i in range(1, len(u)):
            new[i] = u[i] * u[i - 1]
        u = new
    return np.sum(u)


def starred_unpacking(x):
    a, *b = x
    return a * np.sum(np.array(b))


def starred_in_the_middle(x):
    a, *b, c = x
    first, *rest = [x[0] * 2, x[1], x[2] ** 2]
    return a * c + np.sum(np.array(b) ** 2) + first * sum(rest)


def nested_generator(x):
    return sum(x[i] * x[j] for i in range(2) for j in range(2))


def nested_comprehension_with_a_condition(x):
    return sum(x[i] * x[j] for i in range(3) for j in range(i, 3) if j != 1) \
        + np.sum(np.array([x[i] * x[j] for i in range(3) for j in range(3)]))


def sum_of_a_list_of_arrays(x):
    return np.sum(sum([np.sin(x * k) / k for k in range(1, 6)]))


def sum_of_a_list_of_matrices(x):
    m = np.outer(x, x)
    return np.sum(sum([m * k for k in range(3)]) ** 2)


@pytest.mark.parametrize("f", [conditional_element_read, unused_buffer, double_buffer,
                               starred_unpacking, starred_in_the_middle, nested_generator,
                               nested_comprehension_with_a_condition, sum_of_a_list_of_arrays,
                               sum_of_a_list_of_matrices])
def test_valid_code_is_transformed(f, code):
    check_every_mode(f, [[0.3, -0.5, 0.7, 1.2], [1.1, 0.4, -2.0, 0.6]])


def lstm_cell(W, b, h, c, x):
    z = W @ np.concatenate([h, x]) + b
    n = h.shape[0]
    i = 1 / (1 + np.exp(-z[:n]))
    f = 1 / (1 + np.exp(-z[n:2 * n]))
    o = 1 / (1 + np.exp(-z[2 * n:3 * n]))
    g = np.tanh(z[3 * n:])
    c = f * c + i * g
    h = o * np.tanh(c)
    return h, c


def lstm(params, xs):
    hidden = [np.zeros(3) for _ in range(len(params))]
    cell = [np.zeros(3) for _ in range(len(params))]
    for x in xs:
        inp = x
        for i in range(len(params)):
            W, b = params[i]
            h, c = lstm_cell(W, b, hidden[i], cell[i], inp)
            hidden[i] = h          # replaces a list item: writes into no array
            cell[i] = c
            inp = h
    return np.sum(hidden[-1] ** 2)


def test_an_lstm_with_per_layer_lists_is_transformed():
    rng = np.random.RandomState(0)
    params = [(rng.randn(12, 5) * 0.5, rng.randn(12) * 0.1),
              (rng.randn(12, 6) * 0.5, rng.randn(12) * 0.1)]
    xs = [rng.randn(2) for _ in range(4)]
    g = s2sgrad.grad(lstm, fallback="never")(params, xs)
    for layer in range(2):
        for k in range(2):
            def f(v, layer=layer, k=k):
                p = [list(q) for q in params]
                p[layer][k] = v
                return lstm([tuple(q) for q in p], xs)
            np.testing.assert_allclose(g[layer][k], numeric(f, params[layer][k].copy()),
                                       atol=1e-6)


def test_an_alias_refused_names_the_users_expression_not_a_compiler_name():
    def f(x):
        lst = [x * 1.0, x * 2.0]
        total = 0.0
        for i in range(2):
            v = lst[i][0:1]
            lst[i][0] = 5.0
            total = total + np.sum(lst[i][1:] * v)
        return total
    with pytest.raises(s2sgrad.UnsupportedError) as info:
        s2sgrad.grad(f, fallback="never")(np.array([0.3, 0.5, 0.7]))
    message = str(info.value)
    assert "`lst[i][0] = 5.0`, a write into lst[i] while lst reaches the same object" in message
    assert "into item " not in message and "(item.copy())" not in message


def add_to(total, v):
    total += v          # a number: a new value, the caller's total is unchanged


def float_accumulator(x):
    t = 1.0
    add_to(t, np.sum(x))
    return t * np.sum(x ** 2)


def write_then_rebind(y):
    y[0] = y[0] * 10.0  # the caller's array, before y names another one
    y = y * 2.0
    return 0.0


def helper_write_then_rebind(x):
    y = x.copy()
    write_then_rebind(y)
    return np.sum(y ** 2)


def test_a_callee_adding_to_a_number_is_transformed(code):
    check_every_mode(float_accumulator, [[0.3, -0.5], [1.0, 2.0]])


def test_a_write_before_the_parameter_is_rebound_reaches_the_caller():
    _traced_right(helper_write_then_rebind, [0.3, -0.5], r"`write_then_rebind\(y\)`, a call in "
                  r"which write_then_rebind writes into its argument y in place")


@pytest.mark.parametrize("f", [helper_writes_its_argument, list_holds_the_array])
def test_vjp_and_jacobian_trace_a_write_through_another_name(f):
    """vjp and jacobian take the fallback like the other operators (issue 13): the write
    another name sees is refused by the transform, then traced, right, the input unchanged."""
    x = np.array([0.3, -0.5])
    want = numeric(f, x.copy())
    with warnings.catch_warnings():      # (said once per function: other tests may have)
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        np.testing.assert_allclose(s2sgrad.vjp(f)(x)[1](2.0), 2 * want, atol=1e-6)
        np.testing.assert_allclose(s2sgrad.jacobian(f)(x), want, atol=1e-6)
    with pytest.raises(s2sgrad.UnsupportedError, match=r"test_memory_model.py:\d+: `"):
        s2sgrad.grad(f, fallback="never")(x)        # the refusal that sends it to the tracer
    np.testing.assert_array_equal(x, [0.3, -0.5])


def test_vjp_and_jacobian_trace_a_method_that_keeps_its_output():
    x = np.array([0.3, -0.5])
    want = numeric(object_keeps_its_output, x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        np.testing.assert_allclose(s2sgrad.vjp(object_keeps_its_output)(x)[1](2.0), 2 * want,
                                   atol=1e-6)
        np.testing.assert_allclose(s2sgrad.jacobian(object_keeps_its_output)(x), want, atol=1e-6)


# -- the README's promise: nothing a user passes in is modified --------------------------------

def write_through_asarray(x):
    y = np.asarray(x)       # x itself: the user's function changes its argument
    y[0] = y[0] * 3
    return np.sum(y ** 2)


def write_through_reshape(x):
    y = x.reshape(-1)
    y[0] = y[0] * 3
    return np.sum(y ** 2)


def write_into_a_simplified_copy(x):
    y = x * 1.0             # a new array, though x * 1.0 simplifies to x
    y[y > 0] = 0.0
    return np.sum(y * x)


@pytest.mark.parametrize("f", [write_through_asarray, write_through_reshape,
                               write_into_a_simplified_copy])
def test_arguments_written_through_another_name_are_not_modified(f):
    point = np.array([0.3, -0.5, 0.7])
    want = numeric(lambda v: f(v.copy()), point.copy())
    x = point.copy()
    np.testing.assert_allclose(s2sgrad.grad(f, fallback="never")(x), want, atol=1e-6)
    np.testing.assert_array_equal(x, point)
    t = np.array([1.0, 2.0, -1.0])
    np.testing.assert_allclose(s2sgrad.jvp(f, fallback="never")(x, t)[1], want @ t, atol=1e-6)
    np.testing.assert_array_equal(x, point)
    value, backward = s2sgrad.vjp(f)(x)
    np.testing.assert_allclose(backward(1.0), want, atol=1e-6)
    np.testing.assert_array_equal(x, point)
    np.testing.assert_allclose(s2sgrad.jacobian(f)(x), want, atol=1e-6)
    np.testing.assert_array_equal(x, point)


@pytest.mark.parametrize("f", [relu_by_mask, clip_by_mask, masks_in_a_loop, last_write_wins,
                               buffered_add, sum_of_a_list_of_arrays])
def test_second_derivatives_are_transformed(f):
    x = np.array([0.3, -0.5, 1.2, 1.7])
    g = s2sgrad.grad(f, fallback="never")
    want = np.array([(g(x + e) - g(x - e)) / (2 * EPS) for e in np.eye(x.size) * EPS])
    with warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)    # no tracing
        np.testing.assert_allclose(s2sgrad.hessian(f)(x), want, atol=1e-5)


# -- a write into an array whose earlier value a derivative still reads (found by the
#    random-program generator: both were silently wrong) ------------------------------------

def write_after_a_container_read_it(x):
    y = x.copy()
    s = np.sum(x) * 0.1
    d = {"a": y, "b": s}
    z = d["a"] * d["b"] + np.sin(x)        # its derivative reads d["a"], which is y
    y[np.argmax(y)] = 0.0                  # ... after this write, in the backward sweep
    return np.sum(y * z) + s * s


def _spread(v, s):
    return v * s + np.roll(v, 1) * 0.5


def write_after_a_callee_kept_it(x):
    y = x.copy()
    s = np.sum(x) * 0.1
    z = _spread(y, s)                      # the callee's derivative keeps y, not a copy
    y[[2, 3]] = z[[3, 2]] * 1.38
    return np.sum(y * z) + s * s


@pytest.mark.parametrize("f", [write_after_a_container_read_it, write_after_a_callee_kept_it])
def test_a_write_under_a_value_a_derivative_reads_is_traced_and_right(f):
    x = np.array([0.3, 1.2, -0.4, 0.8])
    with pytest.raises(s2sgrad.UnsupportedError, match=r"test_memory_model.py:\d+: `"):
        s2sgrad.grad(f, fallback="never")(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        np.testing.assert_allclose(s2sgrad.grad(f)(x), numeric(f, x.copy()), atol=1e-6)
        np.testing.assert_allclose(s2sgrad.jvp(f)(x, np.ones(4))[1],
                                   numeric(f, x.copy()) @ np.ones(4), atol=1e-6)
    np.testing.assert_array_equal(x, [0.3, 1.2, -0.4, 0.8])
