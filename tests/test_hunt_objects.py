"""Programs with objects, closures and in-place writes that s2sgrad once differentiated silently
wrong, found by the tester.  Each derivative is checked against central finite differences;
what the source transformation cannot follow is refused at the user's line under
``fallback="never"``, and then traced (right) under the default ``fallback="auto"``, or
refused outright where the tracer could not be right either."""

import warnings

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad, numeric_grad
from tangentcheck import check_jvp

pytestmark = pytest.mark.usefixtures("code")

X = np.array([0.3, -0.5, 0.7, 1.1])


def _refused_then_traced(f, x=X, jvp=True):
    """Refused at its line without a fallback; traced and right with one."""
    with pytest.raises(s2sgrad.UnsupportedError, match=r"test_hunt_objects\.py:\d+"):
        s2sgrad.grad(f, fallback="never")(x.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        check_grad(f, x.copy())
        if jvp:
            check_jvp(f, x.copy())


# -- a method that stores a value carrying a derivative in an attribute of its object, called
# for its effect alone: the generated code ran it without a derivative (a zero gradient) -----

class Accumulator:
    def __init__(self):
        self.total = 0.0

    def add(self, v):
        self.total = self.total + v


def accumulates_in_a_method(x):
    a = Accumulator()
    for i in range(4):
        a.add(x[i] ** 2)
    return a.total


def set_total(o, v):
    o.total = v


def a_function_sets_an_attribute(x):
    a = Accumulator()
    set_total(a, x[0] * 3.0)
    return a.total * x[1]


# -- an attribute read by a line with a derivative, changed after: the backward sweep read
# the attribute's new value --------------------------------------------------------------

class Holder:
    def __init__(self):
        self.w = 2.0
        self.arr = np.array([1.0, 2.0, 3.0, 4.0])


def rebinds_a_float_attribute(x):
    o = Holder()
    y = x * o.w
    o.w = 5.0
    return np.sum(y ** 2)


def rebinds_an_array_attribute(x, o=None):
    o = Holder() if o is None else o
    y = np.sum(x * o.arr)
    o.arr = o.arr * 2
    return y * x[0]


class Scaler:
    def __init__(self):
        self.s = 1.5

    def scale(self, v):
        return v * self.s

    def bump(self):
        self.s = self.s * 3.0


def a_method_changes_what_another_read(x):
    m = Scaler()
    y = m.scale(x)
    m.bump()
    z = m.scale(y)
    return np.sum(z * y)


def an_alias_of_the_object(x):
    o = Holder()
    p = o
    y = x * o.w
    p.w = 7.0
    return np.sum(y * x)


class Outer:
    def __init__(self):
        self.sub = Scaler()
        self.w = 2.0


def a_method_of_an_attribute_changes_it(x):
    o = Outer()
    y = x * o.sub.s
    o.sub.bump()
    return np.sum(y ** 2)


def sets_with_setattr(x):
    o = Holder()
    y = x * o.w
    setattr(o, "w", 5.0)
    return np.sum(y ** 2)


def updates_vars(x):
    o = Holder()
    y = x * o.w
    vars(o).update(w=5.0)
    return np.sum(y ** 2)


def writes_the_dict(x):
    o = Holder()
    y = x * o.w
    o.__dict__["w"] = 5.0
    return np.sum(y ** 2)


def through_a_list_item(x):
    o = Holder()
    y = x * o.w
    objs = [o]
    objs[0].w = 9.0
    return np.sum(y ** 2)


def through_a_loop_variable(x):
    o = Holder()
    y = x * o.w
    for ob in [o]:
        ob.w = 9.0
    return np.sum(y ** 2)


@pytest.mark.parametrize("f", [accumulates_in_a_method, a_function_sets_an_attribute,
                               rebinds_a_float_attribute, rebinds_an_array_attribute,
                               a_method_changes_what_another_read, an_alias_of_the_object,
                               a_method_of_an_attribute_changes_it, sets_with_setattr,
                               updates_vars, writes_the_dict, through_a_list_item,
                               through_a_loop_variable])
def test_an_attribute_changed_after_a_derivative_reads_it_is_traced(f):
    _refused_then_traced(f)


def writes_into_an_attribute_array(x):
    o = Holder()
    y = np.sum(x * o.arr)
    o.arr[0] = 10.0
    return y


def multiplies_an_attribute_array(x):
    o = Holder()
    y = np.sum(x * o.arr)
    o.arr *= 3.0
    return y


def fills_an_attribute_array(x):
    o = Holder()
    y = np.sum(x * o.arr)
    o.arr.fill(0.0)
    return y


class Zeroer:
    def __init__(self):
        self.arr = np.array([1.0, 2.0, 3.0, 4.0])

    def clear_first(self):
        self.arr[0] = 0.0


def a_method_writes_into_an_attribute_array(x):
    z = Zeroer()
    y = np.sum(x * z.arr)
    z.clear_first()
    return y


@pytest.mark.parametrize("f", [writes_into_an_attribute_array, multiplies_an_attribute_array,
                               fills_an_attribute_array,
                               a_method_writes_into_an_attribute_array])
def test_a_write_into_an_attribute_array_a_derivative_read_is_traced(f):
    # (the tracer keeps a copy of the plain array it is given: the write does not reach it)
    _refused_then_traced(f)


def test_methods_that_count_calls_are_still_generated():
    class Model:
        def __init__(self):
            self.w = np.array([1.0, 2.0, 3.0, 4.0])
            self.calls = 0

        def __call__(self, x):
            self.calls += 1
            return np.sum(self.w * x)

        def twice(self, x):
            y = np.sum(self.w * x)
            self.calls = self.calls + 1
            return y

    m = Model()

    def f(x):
        return m(x) ** 2 + m.twice(x * 2)

    with warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)
        check_grad(f, X.copy())
        s2sgrad.grad(f, fallback="never")(X.copy())


# -- an array given to a function by keyword (or read by a local function: the compiler
# passes what it reads by keyword), then written into: the callee's backward sweep read the
# written array ----------------------------------------------------------------------------

def _sum_of_squares(v):
    return np.sum(v ** 2)


def gives_by_keyword_then_writes(x):
    y = x.copy()
    a = _sum_of_squares(v=y)
    y[0] = 5.0
    return a + _sum_of_squares(y)


def a_closure_reads_then_the_array_is_written(x):
    y = x.copy()

    def g():
        return np.sum(y ** 2)
    a = g()
    y[0] = 5.0
    return a + g()


def a_closure_reads_a_list_then_an_item_is_replaced(x):
    y = [x[0], x[1]]

    def g():
        return y[0] * y[1]
    a = g()
    y[0] = x[2]
    return a + g()


def a_closure_reads_a_dict_then_an_item_is_replaced(x):
    y = {"a": x[0]}

    def g():
        return y["a"] ** 2
    a = g()
    y["a"] = x[2]
    return a + g()


@pytest.mark.parametrize("f", [gives_by_keyword_then_writes,
                               a_closure_reads_then_the_array_is_written,
                               a_closure_reads_a_list_then_an_item_is_replaced,
                               a_closure_reads_a_dict_then_an_item_is_replaced])
def test_a_write_into_an_array_a_callee_kept_by_keyword_is_traced(f):
    _refused_then_traced(f)


# -- a method called on an object that an expression gives (not a name): the derivative
# through the object was dropped (zeros, in both modes) --------------------------------------

class Squares:
    def __init__(self, x):
        self.x = x

    def val(self):
        return np.sum(self.x ** 2)


def _make_squares(x):
    return Squares(x * 2.0)


def a_method_of_a_new_object(x):
    return Squares(x).val()


def a_method_of_what_a_function_returns(x):
    return _make_squares(x).val() * x[0]


def a_method_of_a_list_item(x):
    l = [Squares(x), Squares(2 * x)]
    return l[1].val()


@pytest.mark.parametrize("f", [a_method_of_a_new_object, a_method_of_what_a_function_returns,
                               a_method_of_a_list_item])
def test_a_method_of_an_object_an_expression_gives_is_traced(f):
    _refused_then_traced(f)


class Net:
    def __init__(self):
        self.layers = [Squares(np.array([1.0, 2.0])), Squares(np.array([3.0, 4.0]))]
        self.head = Squares(np.array([0.5, 0.7]))


def a_layer_of_the_argument(n, c):
    return n.layers[1].val() * c


def the_head_of_the_argument(n, c):
    return n.head.val() * c


def test_a_method_of_an_attribute_of_a_differentiated_object():
    # the gradient with respect to the object: 2 * c * x for the attribute the method reads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        g = s2sgrad.grad(a_layer_of_the_argument)(Net(), 2.0)
        np.testing.assert_allclose(g.layers[1].x, [12.0, 16.0])
        np.testing.assert_allclose(g.layers[0].x, [0.0, 0.0])
        g = s2sgrad.grad(the_head_of_the_argument)(Net(), 2.0)
        np.testing.assert_allclose(g.head.x, [2.0, 2.8])


# -- in-place NumPy writes ------------------------------------------------------------------

def puts_with_a_repeated_index(x):
    # np.put_along_axis keeps the last of the values put at one place: x[1] ** 2 at 0, not
    # x[0] ** 2 (which got a derivative all the same)
    y = x * 1.0
    np.put_along_axis(y, np.array([0, 0]), x[:2] ** 2, axis=0)
    return np.sum(y * x)


def test_put_along_axis_with_a_repeated_index():
    check_grad(puts_with_a_repeated_index, X.copy())
    check_jvp(puts_with_a_repeated_index, X.copy())
    # the value x[0] ** 2 is replaced: the gradient is that of x[1] ** 2 * x[0] + ...
    g = s2sgrad.grad(puts_with_a_repeated_index)(X.copy())
    x0, x1 = X[0], X[1]
    np.testing.assert_allclose(g[0], x1 ** 2, rtol=1e-12)
    np.testing.assert_allclose(g[1], 2 * x1 * x0 + 2 * x1, rtol=1e-12)


def writes_through_flat(x):
    y = np.outer(x, x)
    y.flat[::5] = 0.0
    return np.sum(y * x[0])


def adds_through_flat(x):
    y = np.outer(x, x)
    f = y.flat
    f[1] = x[2] ** 3
    return np.sum(y ** 2)


@pytest.mark.parametrize("f", [writes_through_flat, adds_through_flat])
def test_a_write_through_flat_is_traced(f):
    # the generated code took ``y.flat`` for a new array: the write did not reach y's derivative
    _refused_then_traced(f)


# -- super() without arguments in a method the compiler transforms: the generated function,
# at module level, had no __class__ cell (a RuntimeError) --------------------------------------

class Energy:
    def __init__(self, x):
        self.x = x

    def val(self):
        return np.sum(self.x ** 2)


class MoreEnergy(Energy):
    def __init__(self, x, c):
        super().__init__(x * c)
        self.c = c

    def val(self):
        return super().val() + np.sum(np.cos(self.x))


def energy_times(x, e):
    return e.val() * x[0]


class Square:
    def f(self, x):
        return x ** 2


class TwiceSquare(Square):
    def f(self, x):
        return super().f(x) * 2 + super(TwiceSquare, self).f(x) * x[0]


TWICE = TwiceSquare()


def calls_a_method_that_calls_super(x):
    return np.sum(TWICE.f(x))


def test_super_without_arguments_in_a_transformed_method():
    x = np.array([0.3, 0.5])
    s2sgrad.grad(calls_a_method_that_calls_super, fallback="never")(x)   # generated
    check_grad(calls_a_method_that_calls_super, x)
    check_jvp(calls_a_method_that_calls_super, x)
    # with respect to the object (its receiver holds derivatives: traced)
    ex = np.array([0.1, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        g = s2sgrad.grad(energy_times, wrt=1)(x, MoreEnergy(ex, 1.0))
    want = numeric_grad(lambda v: energy_times(x, MoreEnergy(v, 1.0)), (ex,))
    np.testing.assert_allclose(g.x, want, rtol=1e-6)


# -- a property of a differentiated object: the generated code's derivative reached p.area,
# which the gradient (a copy of the object's stored attributes) dropped: zeros -------------

class Rect:
    def __init__(self, w, h):
        self.w = w
        self.h = h

    @property
    def area(self):
        return self.w * self.h


def area_loss(r):
    return np.sum(r.area ** 2)


def test_a_property_of_a_differentiated_object_is_not_a_silent_zero():
    w, h = np.array([0.3, 0.5]), np.array([1.5, -0.7])
    for _ in range(2):      # the first call and the fast path
        with pytest.raises(s2sgrad.NonDifferentiableError, match=r"Rect\.area, which the object "
                                                                 r"computes when it is read"):
            s2sgrad.grad(area_loss)(Rect(w, h))
    g = s2sgrad.grad(area_loss, fallback="always")(Rect(w, h))
    np.testing.assert_allclose(g.w, 2 * w * h * h, rtol=1e-12)
    np.testing.assert_allclose(g.h, 2 * w * h * w, rtol=1e-12)
    # forward mode: the tangent's own area (1 * 0) is not the tangent of the area (found
    # after forward mode learned p.a): refused as in reverse mode, traced under "always"
    with pytest.raises(s2sgrad.NonDifferentiableError, match=r"Rect\.area, which the object "):
        s2sgrad.jvp(area_loss)(Rect(w, h), Rect(np.ones(2), np.zeros(2)))
    _, t = s2sgrad.jvp(area_loss, fallback="always")(Rect(w, h), Rect(np.ones(2), np.zeros(2)))
    np.testing.assert_allclose(t, np.sum(2 * w * h * h), rtol=1e-12)


class Computed:
    def __init__(self, w):
        self.w = w

    def __getattr__(self, name):        # an attribute the class computes when it is read
        if name == "sq":
            return self.w * self.w
        raise AttributeError(name)


def computed_loss(c):
    return np.sum(c.sq * 3.0)


def test_an_attribute_computed_by_getattr_is_not_a_silent_zero():
    # the gradient was Computed(w=[0, 0]) without a word; jvp took the tangent's own sq
    w = np.array([1.0, -2.0])
    with pytest.raises(s2sgrad.NonDifferentiableError, match=r"Computed\.sq, which the object "):
        s2sgrad.grad(computed_loss)(Computed(w))
    with pytest.raises(s2sgrad.NonDifferentiableError, match=r"Computed\.sq, which the object "):
        s2sgrad.jvp(computed_loss)(Computed(w), Computed(np.ones(2)))
    g = s2sgrad.grad(computed_loss, fallback="always")(Computed(w))
    np.testing.assert_allclose(g.w, 6.0 * w, rtol=1e-12)
    _, t = s2sgrad.jvp(computed_loss, fallback="always")(Computed(w), Computed(np.ones(2)))
    np.testing.assert_allclose(t, np.sum(6.0 * w), rtol=1e-12)


# -- the tracer kept a plain array it was given (not a copy): a write into it after the
# operation changed the derivative (the default route traces a function with a try) ---------

C3 = np.array([1.0, 2.0, 3.0, 4.0])


def traced_then_writes_a_copy_of_a_global(x):
    c = C3.copy()           # (a method of a plain array: not made traceable)
    try:
        y = np.sum(x * c)
    except ValueError:
        y = 0.0
    c[0] = 10.0
    return y * x[1]


def traced_then_scales_its_argument(x, c):
    try:
        y = np.sum(np.stack([x, c]) ** 2 * x)
    finally:
        pass
    c *= 2.0
    return y


def test_the_tracer_keeps_plain_arrays_as_they_were():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        check_grad(traced_then_writes_a_copy_of_a_global, X.copy())
        check_jvp(traced_then_writes_a_copy_of_a_global, X.copy())
        g = s2sgrad.grad(traced_then_scales_its_argument)(X.copy(), C3.copy())
        want = numeric_grad(lambda x: traced_then_scales_its_argument(x, C3.copy()), (X.copy(),))
        np.testing.assert_allclose(g, want, rtol=1e-6)

    def made_by_arange(x):
        c = np.arange(4.0)
        y = np.sum(x * c)
        c[0] = 10.0
        return y
    g = s2sgrad.grad(made_by_arange, fallback="always")(X.copy())
    np.testing.assert_allclose(g, np.arange(4.0), rtol=1e-12)


# -- np.copyto(y, v, where=m) into an array without a derivative: the write of values with one
# was run as it is and its derivative dropped (a third of it here) --------------------------

def copies_where(x):
    y = np.zeros(4)
    np.copyto(y, x ** 2, where=x > 0)
    return np.sum(y * x)


def copies_a_row_where(x):
    y = np.ones((2, 4))
    np.copyto(y, np.sin(x), where=np.array([[True], [False]]))
    return np.sum(y ** 2 * x)


@pytest.mark.parametrize("f", [copies_where, copies_a_row_where])
def test_copyto_with_where(f):
    s2sgrad.grad(f, fallback="never")(X.copy())         # generated: y[...] = np.where(...)
    check_grad(f, X.copy())
    check_jvp(f, X.copy())


def test_a_call_that_writes_a_derivative_into_an_array_without_one_is_refused():
    def puts(x):
        y = np.zeros(4)
        np.put(y, [0, 2], x[:2] ** 2)
        return np.sum(y * x)
    with pytest.raises(s2sgrad.UnsupportedError, match=r"np\.put\(y, .*which writes into y"):
        s2sgrad.grad(puts, fallback="never")(X.copy())


# -- a function of yours that changes a module's object or array (not given to it) after a
# line with a derivative read it: the backward sweep read the new value --------------------

class Config:
    def __init__(self):
        self.w = 2.0


CONFIG = Config()
TABLE = np.array([1.0, 2.0, 3.0, 4.0])


def _set_config():
    CONFIG.w = 5.0


def _bump_table():
    TABLE[0] = TABLE[0] + 1.0


def a_callee_changes_a_module_object(x):
    CONFIG.w = 2.0
    y = x * CONFIG.w
    _set_config()
    return np.sum(y ** 2)


def a_callee_changes_a_module_array(x):
    TABLE[:] = [1.0, 2.0, 3.0, 4.0]
    y = x * TABLE
    _bump_table()
    return np.sum(y ** 2)


@pytest.mark.parametrize("f", [a_callee_changes_a_module_object,
                               a_callee_changes_a_module_array])
def test_a_callee_that_changes_module_state_a_derivative_read_is_traced(f):
    _refused_then_traced(f)


# -- an object called at run time (its class unknown to the compiler) that keeps a value
# carrying a derivative in itself, called again: each call was differentiated on its own and
# the next one took the kept value for a constant ----------------------------------------------

class Cell:
    def __init__(self):
        self.h = np.zeros(4)
        self.W = np.linspace(-0.5, 0.5, 16).reshape(4, 4)

    def __call__(self, inp):
        self.h = np.tanh(self.W @ self.h + inp)
        return self.h


def make_cell():
    return Cell()


def calls_a_stateful_object(x):
    c = make_cell()
    outs = [c(x * k) for k in (1.0, 2.0, 3.0)]
    return np.sum(outs[0] * outs[2])


# -- an attribute the class computes (__getattr__) from another that is changed after --------

class Lookup:
    def __init__(self):
        self._d = {"w": 2.0}

    def __getattr__(self, k):
        return self._d[k]


def reads_a_computed_attribute(x):
    d = Lookup()
    y = x * d.w
    d._d["w"] = 9.0
    return np.sum(y ** 2)


def test_state_kept_in_an_object_called_again_is_refused_when_it_runs():
    # c's class is unknown to the compiler: each call is traced on its own, and the second
    # took what the first kept in c.h for a constant
    for op, extra in ((s2sgrad.grad, ()), (s2sgrad.jvp, (np.ones(4),))):
        with pytest.raises(s2sgrad.UnsupportedError,
                           match=r"test_hunt_objects\.py:\d+: a call given Cell, in whose "
                                 r"attribute h an earlier call"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
                op(calls_a_stateful_object)(X.copy(), *extra)
    g = s2sgrad.grad(calls_a_stateful_object, fallback="always")(X.copy())
    np.testing.assert_allclose(g, numeric_grad(calls_a_stateful_object, (X.copy(),)),
                               rtol=1e-6)


def test_an_attribute_the_class_computes_is_traced():
    _refused_then_traced(reads_a_computed_attribute)


def runs_a_cell_twice(x, c):
    a = c(x)
    b = c(2 * x)
    return np.sum(a * b)


def test_a_callable_argument_that_keeps_a_derivative_is_refused_at_run_time():
    # c's class is known only when it runs: each call is traced on its own, and the value the
    # first kept in c.h was a constant to the second (a wrong gradient, grad and jvp)
    for op, extra in ((s2sgrad.grad, ()), (s2sgrad.jvp, (np.ones(4),))):
        with pytest.raises(s2sgrad.UnsupportedError,
                           match=r"test_hunt_objects\.py:\d+: a call given Cell, in whose "
                                 r"attribute h an earlier call, differentiated on its own "
                                 r"\(traced\), kept a value carrying a derivative"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
                op(runs_a_cell_twice)(X.copy(), Cell(), *extra)
    # traced as a whole, it is right
    g = s2sgrad.grad(runs_a_cell_twice, fallback="always")(X.copy(), Cell())
    want = numeric_grad(lambda x: runs_a_cell_twice(x, Cell()), (X.copy(),))
    np.testing.assert_allclose(g, want, rtol=1e-6)


def runs_a_cell_then_reads_it(x, c):
    c(x)
    return np.sum(c.h * x)


def test_a_callable_argument_read_after_it_kept_a_derivative_is_traced():
    _refused_then_traced(lambda x: runs_a_cell_then_reads_it(x, Cell()), jvp=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        g = s2sgrad.grad(runs_a_cell_then_reads_it)(X.copy(), Cell())
    want = numeric_grad(lambda x: runs_a_cell_then_reads_it(x, Cell()), (X.copy(),))
    np.testing.assert_allclose(g, want, rtol=1e-6)


# -- attributes named like array methods (self.mean, self.max) were taken for NumPy's --------

class RunningMean:
    def __init__(self):
        self.n = 0
        self.mean = 0.0

    def update(self, v):
        self.n += 1
        self.mean = self.mean + (v - self.mean) / self.n
        return self.mean


def keeps_a_running_mean(x):
    s = RunningMean()
    m = 0.0
    for i in range(4):
        m = s.update(x[i] * 2)
    return m ** 2


class Extremes:
    def __init__(self):
        self.max = 1.0


def reads_an_attribute_named_max(x):
    e = Extremes()
    y = x * e.max
    e.max = 4.0
    return np.sum(y ** 2)


@pytest.mark.parametrize("f", [keeps_a_running_mean, reads_an_attribute_named_max])
def test_attributes_named_like_array_methods(f):
    _refused_then_traced(f)


class Nest:
    def __init__(self):
        self.sub = Scaler()


def a_method_known_at_run_time_reads_what_is_changed(x, o):
    y = o.sub.scale(x)      # (o's class unknown here: the call is made at run time)
    o.sub.s = 5.0
    return np.sum(y ** 2)


def test_a_method_known_at_run_time_reads_an_attribute_changed_after():
    _refused_then_traced(lambda x: a_method_known_at_run_time_reads_what_is_changed(x, Nest()))


# -- a bound method of an object made from values that carry derivatives, called through a
# list or dict item or getattr: the call read no derivative (zeros, both modes) --------------

class Poly:
    def __init__(self, c):
        self.c = c

    def ev(self, v):
        return self.c[0] + self.c[1] * v + self.c[2] * v ** 2


def calls_bound_methods_from_a_list(x):
    evs = [Poly(x * k).ev for k in (1.0, 2.0)]
    return evs[0](0.5) + evs[1](1.5)


def calls_bound_methods_from_a_dict(x):
    d = {"a": Poly(x).ev, "b": Poly(2 * x).ev}
    return d["a"](0.5) * d["b"](1.0)


def calls_a_method_given_by_getattr(x):
    o = Poly(x)
    return getattr(o, "ev")(0.5)


@pytest.mark.parametrize("f", [calls_bound_methods_from_a_list, calls_bound_methods_from_a_dict,
                               calls_a_method_given_by_getattr])
def test_a_bound_method_carrying_derivatives_called_through_an_expression(f):
    _refused_then_traced(f)


# -- a value written into an integer array is truncated: no derivative (the generated code
# gave it one, grad and jvp; the tracer was right) --------------------------------------------

def writes_into_an_integer_array(x):
    y = np.zeros(4, dtype=int)
    y[0] = x[0] * 10
    return np.sum(y * x)


def writes_into_an_astype_int_array(x):
    y = (x * 10).astype(np.int64)
    y[1] = x[1] * 7
    return np.sum(y * x)


@pytest.mark.parametrize("f", [writes_into_an_integer_array, writes_into_an_astype_int_array])
def test_a_write_into_an_integer_array_has_no_derivative(f):
    g = s2sgrad.grad(f)(X.copy())
    y = np.zeros(4) if f is writes_into_an_integer_array else (X * 10).astype(np.int64)
    if f is writes_into_an_integer_array:
        y[0] = int(X[0] * 10)
    else:
        y[1] = int(X[1] * 7)
    np.testing.assert_allclose(g, y, rtol=1e-12)          # d/dx sum(y * x), y constant
    _, t = s2sgrad.jvp(f)(X.copy(), np.ones(4))
    np.testing.assert_allclose(t, np.sum(y), rtol=1e-12)
