"""Programs the generated code (the source transformation) once differentiated silently wrong,
found by the tester.  Each is refused under ``fallback="never"`` at the user's line, and
under the default ``fallback="auto"`` the tracer gives the derivative, checked here against
central finite differences in grad and jvp, on general and specialized code."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad
from tangentcheck import check_jvp

pytestmark = pytest.mark.usefixtures("code")


def repeats_in_place(x):
    l = [x, 2 * x, x * x]
    l *= 2
    return l[3] + 10 * l[5]


def repeats_a_name(x):
    l = [x, 2 * x, x * x]
    m = l * 2
    return m[3] + 10 * m[5]


def repeats_a_tuple(x):
    t = (x, 2 * x, x * x)
    m = t * 2
    return m[3] + 10 * m[5]


def joins_names(x):
    l = [x, 2 * x]
    l2 = [x * x]
    m = l + l2
    return m[0] + 10 * m[2]



def _refused_then_traced(f):
    """Refused at its line without a fallback; traced (right, against finite differences)
    with one, at two points, in both modes."""
    with pytest.raises(s2sgrad.errors.UnsupportedError, match=r"test_hunt_generated\.py:\d+"):
        s2sgrad.grad(f, fallback="never")(0.7)
    for x in (0.7, 1.6):
        check_grad(f, x)
        check_jvp(f, x)

def joins_a_slice(x):
    l = [x, 2 * x, x * x]
    m = l[1:] + l
    return m[1] + 10 * m[2]


@pytest.mark.parametrize("f", [repeats_in_place, repeats_a_name, repeats_a_tuple, joins_names,
                               joins_a_slice])
def test_joining_or_repeating_a_container_held_by_a_name(f):
    # ``l * 2`` where ``l`` holds a list was differentiated as arithmetic: a zero gradient
    # (15 expected at 0.7 for repeats_in_place) in the general code, or a crash
    _refused_then_traced(f)


def swaps_list_items(x):
    l = [x, 2 * x, x * x]
    l[0], l[2] = l[2], l[0]
    return l[0] + 10 * l[2]


def test_a_swap_of_list_items_reads_every_value_before_writing():
    # ``l[0], l[2] = l[2], l[0]`` was written as ``l[0] = l[2]; l[2] = l[0]``: the value
    # 5.39 for 7.49 and the derivative 15.4 for 11.4 at 0.7, in grad and jvp
    x = 0.7
    value, grad = s2sgrad.value_and_grad(swaps_list_items, fallback="never")(x)
    assert value == pytest.approx(swaps_list_items(x), rel=1e-15)
    assert grad == pytest.approx(2 * x + 10.0, rel=1e-12)     # x**2 + 10 x
    value, tangent = s2sgrad.jvp(swaps_list_items, fallback="never")(x, 1.0)
    assert value == pytest.approx(swaps_list_items(x), rel=1e-15)
    assert tangent == pytest.approx(2 * x + 10.0, rel=1e-12)
    check_grad(swaps_list_items, 1.6)
    check_jvp(swaps_list_items, 1.6)


def swaps_array_halves(x):
    y = x.copy()
    y[:2], y[2:] = y[2:], y[:2].copy()
    return np.sum(y * np.arange(4.0) * np.array([1.0, -2.0, 0.5, 3.0]))


def swaps_array_items(x):
    y = x * np.array([1.0, 2.0, 3.0])
    y[0], y[2] = y[2], y[0]
    return y[0] + 10 * y[2]


def swaps_rows(x):
    y = np.outer(np.array([1.0, 2.0]), x)
    y[0], y[1] = y[1], y[0]         # (NumPy: both rows become the second, through the view)
    return np.sum(y * np.array([[1.0], [5.0]]))


def test_a_swap_of_array_halves_reads_every_value_before_writing():
    # was [0, 0, 2, 4] for the gradient [2, 3, 0, 1] (and a wrong value): the second value
    # read the first half after it was overwritten
    x = np.array([0.3, -0.7, 1.2, 2.5])
    value, grad = s2sgrad.value_and_grad(swaps_array_halves, fallback="never")(x)
    assert value == pytest.approx(swaps_array_halves(x), rel=1e-14)
    np.testing.assert_allclose(grad, [1.0, 9.0, 0.0, -2.0], rtol=1e-14)
    check_grad(swaps_array_halves, x)
    check_jvp(swaps_array_halves, x)


@pytest.mark.parametrize("f, x", [(swaps_array_items, 0.7),
                                  (swaps_rows, np.array([0.3, 0.5]))])
def test_a_swap_of_array_items_that_may_be_views(f, x):
    # the value read first may be a view into the array written second: refused in the
    # generated code (it gave 33 for 13 at 0.7), traced under fallback="auto"
    with pytest.raises(s2sgrad.errors.UnsupportedError, match=r"test_hunt_generated\.py:\d+"):
        s2sgrad.grad(f, fallback="never")(x)
    check_grad(f, x)
    check_jvp(f, x)


def copies_then_writes(x, how):
    y = x * 1.0
    if how == "method":
        z = y[:2].copy()
    elif how == "np.copy":
        z = np.copy(y[:2])
    elif how == "np.array":
        z = np.array(y[:2])
    elif how == "astype":
        z = y[:2].astype(np.float64)
    elif how == "plus zero":
        z = y[:2] + 0.0
    elif how == "unary plus":
        z = +y[:2]
    else:
        z = np.positive(y[:2])
    y[:2] = y[2:] * 3.0
    return np.sum(z * np.array([1.0, 2.0])) + np.sum(y)


@pytest.mark.parametrize("how", ["method", "np.copy", "np.array", "astype", "plus zero",
                                 "unary plus", "np.positive"])
def test_the_tangent_of_a_copy_is_a_copy(how):
    # the forward rule of a copy (and of a new array whose tangent is the tangent itself:
    # y[:2] + 0.0, +y[:2], astype) gave a view of t_y[:2] that the write into y changed
    # after: the tangent 0 for 1 along the first axis
    x = np.array([0.3, -0.7, 1.2, 2.5])
    value, tangent = s2sgrad.jvp(copies_then_writes, fallback="never")(
        x, how, np.array([1.0, 0.0, 0.0, 0.0]))
    assert value == pytest.approx(copies_then_writes(x, how), rel=1e-15)
    assert tangent == pytest.approx(1.0, rel=1e-15)
    check_jvp(copies_then_writes, x, how)
    check_grad(copies_then_writes, x, how)


def pops_the_second(x):
    l = [x, 3 * x, 9 * x, 27 * x]
    l.pop(1)
    return l[1] + 10 * l[-1]


def pops_in_a_grown_list(x):
    l = [x]
    for i in range(3):
        l.append(l[i] * 2 + l[0])
    v = l.pop(1)
    return l[1] + 10 * l[-1] + v


def pops_both_ends(x):
    l = [x, 3 * x, 9 * x, 27 * x]
    v = l.pop(-1)
    w = l.pop(0)
    return l[1] + 10 * l[-1] + v * w


def test_a_pop_at_a_constant_position_puts_the_item_back_there():
    # the backward sweep put l.pop(1)'s item back last: the gradient 93 for 279
    assert s2sgrad.grad(pops_the_second, fallback="never")(0.7) == pytest.approx(279.0, rel=1e-13)
    for f in (pops_the_second, pops_in_a_grown_list, pops_both_ends):
        for x in (0.7, 1.6):
            check_grad(f, x)
            check_jvp(f, x)


def pops_at_a_computed_position(x, k):
    l = [x, 3 * x, 9 * x, 27 * x]
    l.pop(k)
    return l[1] + 10 * l[-1]


def pops_a_key(x):
    d = {"a": x, "b": 2 * x}
    v = d.pop("a")
    return v * d["b"]


@pytest.mark.parametrize("f, args", [(pops_at_a_computed_position, (0.7, 1)),
                                     (pops_a_key, (0.7,))])
def test_a_pop_at_a_computed_position_or_key_is_refused(f, args, code):
    # refused in the general code (the item went back last); the code specialized to the
    # arguments knows the list's items and differentiates it
    if code == "general":
        with pytest.raises(s2sgrad.errors.UnsupportedError,
                           match=r"test_hunt_generated\.py:\d+.*pop"):
            s2sgrad.grad(f, fallback="never")(*args)
    check_grad(f, *args)
    check_jvp(f, *args)


def appends_from_its_end(x):
    l = [x, 2 * x]
    while len(l) < 5:
        l.append(l[-1] * l[-2])
    return l[-1]        # 8 x**5


def appends_from_its_end_in_a_for(x):
    l = [x, 2 * x]
    for _ in range(3):
        l.append(l[-1] * l[-2] + l[len(l) - 1])
    return l[-1] + 3 * l[-2]


def test_an_append_that_reads_its_list_from_the_end():
    # the item of l.append(l[-1] * l[-2]) was differentiated where l already held it:
    # the gradient 13.93 for 9.604 at 0.7 (and the tangent likewise)
    x = 0.7
    assert s2sgrad.grad(appends_from_its_end, fallback="never")(x) == pytest.approx(
        40 * x ** 4, rel=1e-13)
    _, tangent = s2sgrad.jvp(appends_from_its_end, fallback="never")(x, 1.0)
    assert tangent == pytest.approx(40 * x ** 4, rel=1e-13)
    for f in (appends_from_its_end, appends_from_its_end_in_a_for):
        for x in (0.7, 1.6):
            check_grad(f, x)
            check_jvp(f, x)


def adds_into_a_list_item(x):
    a = x * 1.0
    l = [a, x * 2]
    l[0] += x           # NumPy: a changes too
    return np.sum(a * l[0])


def scales_a_list_item(x):
    a = x * 1.0
    l = [a, x * 2]
    l[0] *= 3.0
    return np.sum(a + l[1])


def adds_into_a_dict_item(x):
    a = x * 1.0
    d = {"a": a}
    d["a"] += x
    return np.sum(a * 2)


def adds_into_a_repeated_item(x):
    a = x * 1.0
    l = [a]
    l.append(a)
    l[1] += x           # l[0] is the same array
    return np.sum(l[0] * x)


@pytest.mark.parametrize("f", [adds_into_a_list_item, scales_a_list_item, adds_into_a_dict_item,
                               adds_into_a_repeated_item])
def test_an_augmented_assignment_to_an_array_item_of_a_container(f):
    # l[0] += x changes the array l[0] in place, and every name of it; the generated code
    # wrote a new item: half the gradient (1.2 for 2.4 in the first place for the first)
    x = np.array([0.3, -0.7, 1.2, 2.5])
    with pytest.raises(s2sgrad.errors.UnsupportedError,
                       match=r"test_hunt_generated\.py:\d+.*augmented assignment to an item"):
        s2sgrad.grad(f, fallback="never")(x)
    check_grad(f, x)
    check_jvp(f, x)


def adds_into_a_number_item(x):
    l = [x, 2 * x]
    l[0] += x * x
    return l[0] * l[1]


def test_an_augmented_assignment_to_an_item_not_held_elsewhere_is_differentiated():
    value, grad = s2sgrad.value_and_grad(adds_into_a_number_item, fallback="never")(0.7)
    assert value == pytest.approx(adds_into_a_number_item(0.7), rel=1e-15)
    assert grad == pytest.approx(4 * 0.7 + 6 * 0.7 ** 2, rel=1e-13)   # 2 x**2 + 2 x**3
    check_jvp(adds_into_a_number_item, 0.7)


def reads_then_pops(x):
    l = [x, 2 * x]
    v = l[-1] * l.pop()         # 2x * 2x: Python reads l[-1] first
    return v + sum(l)


def test_a_list_read_and_popped_in_one_expression():
    # the generated code popped first: the value 1.68 for 2.66 and the gradient 3.8 for 6.6
    # at 0.7; refused, and traced under fallback="auto"
    with pytest.raises(s2sgrad.errors.UnsupportedError,
                       match=r"test_hunt_generated\.py:\d+.*`pop` changing l"):
        s2sgrad.grad(reads_then_pops, fallback="never")(0.7)
    value, grad = s2sgrad.value_and_grad(reads_then_pops)(0.7)
    assert value == pytest.approx(reads_then_pops(0.7), rel=1e-15)
    assert grad == pytest.approx(8 * 0.7 + 1, rel=1e-12)
    check_grad(reads_then_pops, 1.6)
    check_jvp(reads_then_pops, 1.6)


def replaces_a_slice(x):
    l = [x, 2 * x, 3 * x, 4 * x]
    l[1:3] = [x * x, x]
    return l[0] + l[1] + 10 * l[2] + l[3]


def shrinks_by_a_slice(x):
    l = [x, 2 * x, x * x]
    l[0:2] = [x * x * x]
    return l[0] + l[1] * 10


def repeats_a_written_list(x):
    l = [x, 2 * x, x * x]
    l[0] = x * 3
    m = l * 2
    return m[3] + 10 * m[5]


@pytest.mark.parametrize("f", [replaces_a_slice, shrinks_by_a_slice, repeats_a_written_list])
def test_a_slice_of_a_list_replaced_and_a_written_list_repeated(f):
    # the general code crashed in its backward sweep (d_l[1:3] = 0.0 on a list), and a list
    # written by item escaped the refusal of l * 2 (a zero gradient)
    _refused_then_traced(f)


def appends_extremes(x):
    l = [x]
    for _ in range(3):
        l.append(max(l) * x + min(l))
    return l[-1]


def test_the_adjoints_of_two_reductions_of_a_list_add_item_by_item():
    # max(l) * x + min(l): the two adjoints of l were joined with + (a list twice as long,
    # cut short after): the gradient 1.77 for 5.242 at 0.7
    grad = s2sgrad.grad(appends_extremes, fallback="never")(0.7)
    h = 1e-6
    assert grad == pytest.approx(
        (appends_extremes(0.7 + h) - appends_extremes(0.7 - h)) / (2 * h), rel=1e-7)
    for x in (0.7, 1.6):
        check_grad(appends_extremes, x)
        check_jvp(appends_extremes, x)


def appends_a_new_array(x):
    y = x * 1.0
    l = []
    l.append(y[:2] + 0.0)
    y[:2] = y[2:] * 3.0
    return np.sum(l[0] * np.array([1.0, 2.0])) + np.sum(y)


def lists_a_new_array(x):
    y = x * 1.0
    z = [y[:2] + 0.0, 1.0]
    y[:2] = y[2:] * 3.0
    return np.sum(z[0] * np.array([1.0, 2.0])) + np.sum(y)


@pytest.mark.parametrize("f", [appends_a_new_array, lists_a_new_array])
def test_the_tangent_of_a_new_array_put_in_a_list_is_its_own(f):
    # the tangent t_y[:2] itself went into the list, and the write into y changed it
    x = np.array([0.3, -0.7, 1.2, 2.5])
    _, tangent = s2sgrad.jvp(f, fallback="never")(x, np.array([1.0, 0.0, 0.0, 0.0]))
    assert tangent == pytest.approx(1.0, rel=1e-15)
    check_jvp(f, x)
    check_grad(f, x)


def keys_a_new_array(x):
    y = x * 1.0
    d = {"a": y[:2] + 0.0}
    y[:2] = y[2:] * 3.0
    return np.sum(d["a"] * np.array([1.0, 2.0])) + np.sum(y)


def sets_a_new_array_item(x):
    y = x * 1.0
    l = [0.0]
    l[0] = y[:2] - 0.0
    y[:2] = y[2:] * 3.0
    return np.sum(l[0] * np.array([1.0, 2.0])) + np.sum(y)


def slices_a_new_array(x):
    y = x * 1.0
    z = (y + 0.0)[:2]
    y[:2] = y[2:] * 3.0
    return np.sum(z * np.array([1.0, 2.0])) + np.sum(y)


@pytest.mark.parametrize("f", [keys_a_new_array, sets_a_new_array_item, slices_a_new_array])
def test_a_new_array_the_simplifier_reaches_stays_new(f):
    # dropping + 0.0 left a view of y, which the write into y changed after: the value 33.4
    # for 13.7 through jvp, and the tangent of l[0] was t_y[:2] itself
    x = np.array([0.3, -0.7, 1.2, 2.5])
    value, tangent = s2sgrad.jvp(f, fallback="never")(x, np.array([1.0, 0.0, 0.0, 0.0]))
    assert value == pytest.approx(13.7, rel=1e-14)
    assert tangent == pytest.approx(1.0, rel=1e-15)
    check_jvp(f, x)
    check_grad(f, x)
