"""Programs on which code specialized to the arguments' signature once went wrong (issue 14).

Each test runs on the general code and on specialized code (the ``code`` fixture): gradients
against central finite differences at several points, and the specialized ones against the
general ones (``gradcheck.check_grad``); a gradient shares no memory with an input.
"""

import warnings

import numpy as np
import pytest

import s2sgrad

from gradcheck import check_grad, numeric_grad

pytestmark = [pytest.mark.usefixtures("code"),
              pytest.mark.filterwarnings("error::s2sgrad.FallbackWarning")]

rng = np.random.default_rng(1414)


def _independent(g, *args):
    for a in args:
        if isinstance(g, np.ndarray) and isinstance(a, np.ndarray):
            assert not np.shares_memory(g, a)


# -- the seed folded to 1.0 (reverse.py): only where the sweep reads it as a whole value --------


def returns_its_argument(x, y):
    z = y * 2.0
    return x


@pytest.mark.parametrize("x", [1.5, -0.25, np.array(0.75)], ids=["float", "negative", "0-d"])
def test_returned_argument_is_its_own_seed(x):
    # the seed d_x is x's gradient too: folding it to 1.0 left d_x unbound (NameError)
    g = check_grad(returns_its_argument, x, 2.0, wrt=(0, 1))
    assert float(g[0]) == 1.0 and float(g[1]) == 0.0
    vg = s2sgrad.value_and_grad(returns_its_argument, (0, 1))(x, 2.0)
    assert float(vg[0]) == float(x) and float(vg[1][0]) == 1.0


# -- a 1.0 folded in is a conversion to float: 1.0 * mask is not the mask ----------------------


def masked_twice(x, m, m2):
    return np.sum(x * m + x * m2)


def masked_scalar(x, m, m2):
    return x * m + x * m2


@pytest.mark.parametrize("dtype", [bool, np.int8, np.uint8], ids=["bool", "int8", "uint8"])
def test_constant_spread_times_integers_adds_numbers(dtype):
    # d_add = np.broadcast_to(1.0, x.shape); d_x = d_add * m + d_add * m2 was folded into
    # m + m2: the booleans' "or" (1 where both are set), int8 wrapping around past 127
    m = np.array([1, 1, 0, 100 if dtype is not bool else 1], dtype=dtype)
    m2 = np.array([1, 0, 0, 100 if dtype is not bool else 1], dtype=dtype)
    for x in (np.array([0.5, -1.0, 2.0, 0.25]), rng.normal(size=4)):
        g = check_grad(masked_twice, x, m, m2)
        np.testing.assert_array_equal(g, m.astype(float) + m2.astype(float))
        _independent(g, x, m, m2)


@pytest.mark.parametrize("m", [np.True_, np.array(True), np.int8(100)],
                         ids=["np.bool_", "0-d bool", "int8"])
def test_scalar_seed_times_integers_adds_numbers(m):
    # forward mode for one real scalar: the tangent 1.0 * m + 1.0 * m2 became m + m2
    for x in (0.5, -1.5):
        g = check_grad(masked_scalar, x, m, m)
        assert float(g) == 2.0 * float(m)
        v, g2 = s2sgrad.value_and_grad(masked_scalar)(x, m, m)
        assert float(g2) == 2.0 * float(m) and np.isclose(v, masked_scalar(x, m, m))


# -- one function differentiated for two sets of active parameters ------------------------------


def _smooth(v, a):
    return np.tanh(v) * a + 0.5 * v


def smooth_twice(x):
    z = np.sin(x)
    s = np.sum(x) * 0.1
    y = _smooth(z, 1.49)        # active: v
    z = _smooth(y, s)           # active: v and a
    return np.sum(y * z)


@pytest.mark.parametrize("shape", [(3,), (2, 2), ()], ids=["n", "nxn", "0-d"])
def test_callee_planned_for_one_active_set_is_whole_for_another(shape):
    # the first spec's planning named np.tanh(v) in place, in the job's shared normalized body:
    # the second spec (v and a active) read result_tanh unbound (NameError) and lost its rule
    for x in (rng.normal(size=shape), rng.normal(size=shape)):
        x = np.asarray(x)
        g = check_grad(smooth_twice, x)
        _independent(g, x)


# -- an item write that broadcasts a name over the slot -----------------------------------------


def row_of_copies(x):
    y = np.zeros((3, 2))
    y[0] = x
    y[1] = x
    y[2] = x * 2.0
    return np.sum(y * y * np.arange(1.0, 7.0).reshape(3, 2))


def slice_of_copies(x):
    y = np.zeros((4, 2))
    y[1:3] = x
    y[3] = y[1] + y[2]
    return np.sum(y ** 2)


@pytest.mark.parametrize("x", [np.array([0.5]), np.array([0.5, -1.5]), 0.75, np.array(-0.25)],
                         ids=["(1,)", "(2,)", "float", "0-d"])
def test_item_write_of_a_broadcast_name(x):
    # d_x = d_y[0] had the slot's shape (2,), not x's: a crash, or a wrong shape
    for scale in (1.0, -2.0):
        xs = x * scale
        g = check_grad(row_of_copies, xs)
        assert np.shape(g) == np.shape(xs)
        _independent(g, xs)


@pytest.mark.parametrize("shape", [(2, 1), (1, 2), (2,), (2, 2)])
def test_slice_write_of_a_broadcast_name(shape):
    for x in (rng.normal(size=shape), rng.normal(size=shape)):
        g = check_grad(slice_of_copies, x)
        assert np.shape(g) == shape
        _independent(g, x)


# -- a variable redefined to a larger shape: its adjoint is not its earlier value's shape --------


def sum_then_broadcast(a, w):
    total = np.sum(a)
    total = total + w
    return np.sum(total ** 2)


def mean_then_loop(a, w):
    total = np.mean(a)
    for i in range(2):
        total = total + w * i
    return np.sum(total ** 2)


def rows_into_state(h, xs):
    for x in xs:
        h = np.tanh(h + x)
    return np.sum(h)


def bias_in_a_branch(x, b):
    if np.sum(b) > 0:
        x = x + b
    return np.sum(x ** 2)


def test_redefinition_that_broadcasts_sums_the_adjoint_back():
    # d_total = unbroadcast(d_total, total) was dropped ("an adjoint has its variable's shape"):
    # np.sum's rule then spread the (3,) cotangent of the new total over a, element by element
    for a, w in ((np.array([1.0, 2.0, -0.5]), np.array([0.3, -1.0, 2.0])),
                 (rng.normal(size=3), rng.normal(size=3))):
        g = check_grad(sum_then_broadcast, a, w, wrt=(0, 1))
        np.testing.assert_allclose(g[0], np.full(3, 2 * np.sum(np.sum(a) + w)))
        g = check_grad(mean_then_loop, a, w, wrt=(0, 1))
        np.testing.assert_allclose(g[0], np.full(3, 2 * np.sum(np.mean(a) + w) / 3))


@pytest.mark.parametrize("h", [np.array([0.4]), 0.4, np.array([0.4, -0.2])], ids=["(1,)", "float", "(2,)"])
def test_loop_state_broadcast_by_rows(h):
    # for x in xs: the target is a row, not a number; h grows from (1,) to (2,) in the loop
    for xs in (rng.normal(size=(3, 2)), rng.normal(size=(2, 2))):
        g = check_grad(rows_into_state, h, xs, wrt=(0, 1))
        assert np.shape(g[0]) == np.shape(h)
        _independent(g[0], xs)


@pytest.mark.parametrize("shape", [(1,), (2, 1), ()], ids=["(1,)", "(2,1)", "0-d"])
def test_branch_that_broadcasts_a_parameter(shape):
    b = np.abs(rng.normal(size=2)) + 0.1
    for x in (rng.normal(size=shape), rng.normal(size=shape)):
        x = np.asarray(x)
        g = check_grad(bias_in_a_branch, x, b, wrt=(0, 1))
        assert np.shape(g[0]) == shape


# -- gradients that are one array: each its own ------------------------------------------------


def summed_then_scaled(x, y, c):
    return np.sum((x + y) * c)


def test_gradients_of_a_sum_are_separate_arrays():
    # d_x = d_result_add; d_y = d_result_add: one array returned twice, so that g[0] *= 0.5
    # (gradient clipping in place) halved g[1] too
    for x, y, c in ((rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)),
                    (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), rng.normal(size=3))):
        g = check_grad(summed_then_scaled, x, y, c, wrt=(0, 1, 2))
        assert not np.shares_memory(g[0], g[1])
        for gi in g:
            _independent(gi, x, y, c)
        g0 = g[0]
        g0 *= 0.5
        np.testing.assert_allclose(g[1], np.broadcast_to(c, x.shape))
        v, g2 = s2sgrad.value_and_grad(summed_then_scaled, (0, 1))(x, y, c)
        assert not np.shares_memory(g2[0], g2[1])


# -- a float joined with a NumPy scalar is rank 0, not something with .shape -------------------


def rebound_numbers(x, z):
    x = x - z
    z = np.sum(x)       # z: a float, then a NumPy scalar (the facts join them)
    return np.sum(x ** 2) + z * z


@pytest.mark.parametrize("x", [0.7, -1.25, np.float64(0.7), np.array(0.7)],
                         ids=["float", "negative", "np.float64", "0-d"])
def test_sum_of_a_float_rebound_from_numbers(x):
    # np.broadcast_to(d_z, x.shape) for x a Python float: AttributeError
    g = check_grad(rebound_numbers, x, 0.2, wrt=(0, 1))
    assert np.isclose(float(g[0]), 4 * (float(x) - 0.2))


# -- an output written into: its cotangent has its type --------------------------------------


def filled_scalar_array(x):
    y = np.zeros(())
    y[()] = np.sum(x ** 2)
    return y


def test_zero_dimensional_output_written_in_place():
    # d_y = _rt.copy(1.0); d_y[()] = 0.0: a float is not subscriptable (TypeError)
    for x in (rng.normal(size=3), rng.normal(size=(2, 2))):
        g = check_grad(filled_scalar_array, x)
        np.testing.assert_allclose(g, 2 * x)
        v, g2 = s2sgrad.value_and_grad(filled_scalar_array)(x)
        assert np.isclose(v, np.sum(x ** 2))
        np.testing.assert_allclose(g2, 2 * x)


# -- b = a, then a op= e: b changes too ---------------------------------------------------------


def alias_then_augmented(x):
    a = x * 2.0
    b = a
    a += x          # NumPy adds into the array b is too
    return np.sum(b * x)


def alias_then_rebound(x):
    a = x * 2.0
    b = a
    a = a + 1.0     # a new array: b keeps x * 2.0
    a += x
    return np.sum(b * x) + np.sum(a)


def test_augmented_write_through_the_first_name_reaches_the_alias():
    # the transform read a += x as a = a + x: b stayed 2x, the gradient 4x instead of 6x
    # (now traced, with a FallbackWarning that says why: the tracer follows NumPy's semantics)
    for x in (rng.normal(size=3), rng.normal(size=(2, 2))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
            g = s2sgrad.grad(alias_then_augmented)(x)
            v = s2sgrad.value_and_grad(alias_then_augmented)(x)[0]
        np.testing.assert_allclose(g, 6 * x)
        assert np.isclose(v, alias_then_augmented(x.copy()))


def test_alias_broken_by_a_rebinding_is_transformed():
    for x in (rng.normal(size=3), rng.normal(size=(2, 2))):
        g = check_grad(alias_then_rebound, x)
        np.testing.assert_allclose(g, 4 * x + 3.0)


# -- the tracer: a view taken before a write into its array sees the write ---------------------


def view_then_item_write(y):
    b = y * 1.0
    t = b.T
    b[0] = t[0] * 2.0
    return np.sum(t ** 2)


def slice_then_augmented(y):
    b = y * 1.0
    t = b[1:]
    b *= y
    return np.sum(t ** 2)


@pytest.mark.parametrize("f", [view_then_item_write, slice_then_augmented])
def test_traced_view_sees_a_later_write_into_its_array(f):
    # t kept the values (and derivative) of b before the write: a silently wrong gradient
    for y in (np.array([0.5, -1.2, 0.8]), rng.normal(size=4)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
            g = s2sgrad.grad(f)(y)
            v = s2sgrad.value_and_grad(f)(y)[0]
        np.testing.assert_allclose(g, numeric_grad(lambda z: f(z.copy()), (y,), 0), rtol=1e-6, atol=1e-8)
        assert np.isclose(v, f(y.copy()))


# -- bounded caches shared by threads -------------------------------------------------------


def test_dropping_the_oldest_entry_of_a_bounded_cache_races_safely():
    # del table[next(iter(table))] raised KeyError when another thread had dropped it first
    # (tests/test_tracer_engine.py::test_threads_trace_at_once failed now and then)
    import threading
    from s2sgrad.driver import cache
    table = {k: k for k in range(3)}
    cache.drop_oldest(table)
    assert list(table) == [1, 2]
    cache.drop_oldest({})           # nothing to drop: no StopIteration
    table = {k: k for k in range(20000)}
    errors = []

    def drain():
        try:
            for _ in range(10000):
                cache.drop_oldest(table)
        except Exception as exc:    # noqa: BLE001 - what the test looks for
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and table == {}
