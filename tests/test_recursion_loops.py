"""Linear recursion written as a loop (frontend/recursion.py) and loop-invariant expressions
hoisted out of their loop (frontend/hoist.py): the same derivatives as finite differences, in
both modes, at first and second order, on general and specialized code; what is rewritten and
what is left; the errors of a recursion that never ends."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad, numeric_grad

pytestmark = pytest.mark.usefixtures("code")


def _statements(code):
    """Generated code without its comments (which cite the user's lines)."""
    return "\n".join(line for line in code.splitlines() if not line.strip().startswith("#"))


# -- linear recursions of every form the rewrite reads --------------------------------------

def horner(x, n):                       # the benchmark's recursion, a scalar
    if n == 0:
        return 1.0
    return x * horner(x, n - 1) + np.sin(x)


def power_sum(x, n):                    # the counter read in the recursive expression
    if n == 0:
        return 0.0
    return np.sum(x ** n) / n + power_sum(x, n - 1)


def halves(x, k):                       # step 2, base ``<=``, inverted test, the else branch
    if k > 0:
        return np.sum(np.tanh(x)) * halves(x, k - 2) + 0.5 * x[0]
    else:
        return np.sum(x ** 2)


def strict(x, k):                       # ``<``, the constant on the left
    if 1 > k:
        return np.cos(x)
    return np.exp(-0.1 * k) * strict(x, k - 1) * x


def as_expression(x, n):                # a conditional expression
    return np.sum(x) if n == 0 else x[0] * as_expression(x, n - 1) + np.sin(x[1])


def first_derivatives():
    return [(horner, (0.6, 7)), (horner, (-1.3, 3)), (horner, (0.3, 0)),
            (power_sum, (np.array([0.3, -0.7, 0.5]), 4)),
            (halves, (np.array([0.4, -0.2]), 5)), (halves, (np.array([0.4, -0.2]), 6)),
            (strict, (0.7, 3)), (strict, (-0.4, 0)),
            (as_expression, (np.array([0.9, 0.2, -0.3]), 4))]


@pytest.mark.parametrize("f, args", first_derivatives(),
                         ids=lambda v: getattr(v, "__name__", None) or str(v[1]))
def test_linear_recursions_have_the_derivatives_of_the_recursion(f, args):
    check_grad(f, *args)
    # forward mode agrees (jvp along the first basis vectors)
    x, n = args
    expected = numeric_grad(f, args)
    for t in (np.eye(np.size(x)) if np.ndim(x) else [1.0]):
        _, tangent = s2sgrad.jvp(f)(x, n, t)
        np.testing.assert_allclose(tangent, np.sum(expected * t), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("f, x, n", [(horner, 0.6, 6), (power_sum, np.array([0.3, -0.7, 0.5]), 3),
                                     (halves, np.array([0.4, -0.2]), 5)])
def test_second_derivatives_of_linear_recursions(f, x, n):
    g = s2sgrad.grad(f)
    if np.ndim(x):
        H = s2sgrad.hessian(f)(x, n)
        H_fd = np.array([(g(x + 1e-5 * e, n) - g(x - 1e-5 * e, n)) / 2e-5
                         for e in np.eye(x.size)])
        np.testing.assert_allclose(H, H_fd, rtol=1e-5, atol=1e-6)
    else:
        second = s2sgrad.grad(g)(x, n)
        expected = (g(x + 1e-5, n) - g(x - 1e-5, n)) / 2e-5
        assert second == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_a_float_counter_steps_as_the_recursion_does():
    check_grad(horner, 0.6, 5.0)
    check_grad(halves, np.array([0.4, -0.2]), 3.5)


def test_the_recursion_is_a_loop_with_its_invariants_hoisted():
    text = s2sgrad.show(horner, "normalize")
    assert "horner(" not in text.split("\n", 1)[1]           # no call of itself is left
    assert "_rt.recursion_depth(n, 0, 1, '==')" in text
    code = _statements(s2sgrad.grad(horner, emit=True, example=(0.6, 60)))
    loop = code[code.index("for _ in range(depth):"):]
    assert "np.sin(" not in loop and "np.cos(" not in loop  # computed once, before the loop
    assert "sin_x = np.sin(x)" in code and "horner_jvp" not in code
    assert s2sgrad.grad(horner)(0.6, 60) == pytest.approx(
        numeric_grad(lambda y: horner(y, 60), (0.6,)), rel=1e-6)


def test_a_recursion_that_never_reaches_its_base_case_raises_as_the_recursion_does():
    with pytest.raises(RecursionError):
        horner(0.5, -1)
    with pytest.raises(RecursionError, match="does not reach its base case"):
        s2sgrad.grad(horner)(0.5, -1)
    with pytest.raises(RecursionError):
        s2sgrad.grad(halves)(np.array([0.4]), 10 ** 6)      # deeper than the recursion limit


# -- recursions that stay recursions -----------------------------------------------------------

def fibonacci_like(x, n):               # two calls of itself: not linear
    if n <= 1:
        return x
    return np.sin(fibonacci_like(x, n - 1)) + x * fibonacci_like(x, n - 2)


LOG = []


def logged(x, n):                       # an effect at each level: the order of levels matters
    if n == 0:
        return x
    return record(x, n) * logged(x, n - 1)


def record(x, n):
    LOG.append(n)
    return x + n


def reads_its_counter_at_the_base(x, n):
    if n <= 0:
        return x * n
    return x * reads_its_counter_at_the_base(x, n - 1)


@pytest.mark.parametrize("f, args", [(fibonacci_like, (0.7, 5)), (logged, (0.4, 3)),
                                     (reads_its_counter_at_the_base, (0.8, 2))],
                         ids=["two calls", "an effect", "counter at the base"])
def test_other_recursions_stay_recursions_and_stay_right(f, args):
    text = s2sgrad.show(f, "normalize")
    assert "recursion_depth" not in text and "recursion_levels" not in text
    check_grad(f, *args)


# -- hoisting out of loops ----------------------------------------------------------------------

def while_invariant(x, n):
    result = np.ones_like(x)
    k = n
    while k > 0:
        result = x * result + np.sin(x) * np.exp(x)
        k = k - 1
    return np.sum(result)


def loop_writing_an_item(x, n):
    y = np.zeros_like(x)
    for i in range(n):
        y[i % 2] = y[i % 2] + np.sin(x[0])
    return np.sum(y * x)


def nested_loops(x, n):
    s = 0.0
    for i in range(n):
        for j in range(2):
            s = s + np.cos(x) * (i + j) + np.exp(x)
    return s


@pytest.mark.parametrize("n", [0, 1, 4])
def test_hoisted_invariants_keep_the_derivatives(n):
    x = np.array([0.3, -0.7, 0.5])
    check_grad(while_invariant, x, n)
    check_grad(loop_writing_an_item, x, n)
    check_grad(nested_loops, 0.4, n)
    closed_form = sum(-np.sin(0.4) * (i + j) + np.exp(0.4) for i in range(n) for j in range(2))
    assert s2sgrad.grad(nested_loops)(0.4, n) == pytest.approx(closed_form, abs=1e-12)


def test_what_is_hoisted_and_what_stays():
    code = _statements(s2sgrad.grad(while_invariant, emit=True))
    head, loop = code.split("while k > 0:", 1)
    assert "np.sin(x)" in head and "np.exp(x)" in head
    assert "np.sin(x)" not in loop.split("return")[0] and "_tape.append(result_sin)" not in code
    # a loop that writes an item keeps its calls: the write could change what a name holds
    code = _statements(s2sgrad.grad(loop_writing_an_item, emit=True))
    assert "np.sin(" in code.split("for i in range(n):", 1)[1]
    # an inner loop's invariant leaves both loops when the outer one does not change it either
    text = s2sgrad.show(nested_loops, "normalize")
    assert text.index("np.exp(x)") < text.index("for i in range(n):")


# -- the exponent of a power, taped as an integer -------------------------------------------

def integer_powers(x):
    ks = np.arange(1, 4)
    s = 0.0
    for i in range(3):
        k = ks[i]
        s = s + np.sum(x ** k) / k
    return s


def test_an_integer_exponent_from_a_tape_gives_no_nan_at_third_order():
    # reverse over reverse tapes k; forward mode over that pops it with a zero tangent, where
    # log(x) of a negative x is not real: the zero tangent contributes zero
    g = s2sgrad.grad(integer_powers)
    x = np.array([0.3, -0.7, 0.5])
    v = np.array([1.0, 0.5, -2.0])
    h = lambda y: np.sum(g(y) ** 2)     # noqa: E731
    got = s2sgrad.hvp(h)(x, v)
    gh = s2sgrad.grad(h)
    expected = (gh(x + 1e-5 * v) - gh(x - 1e-5 * v)) / 2e-5
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


# -- what may change in place stays in the loop ------------------------------------------------

def augmented_alias(x):
    y = x * 1.0
    z = y
    s = 0.0
    for i in range(3):
        y *= 1.5                        # in place: z is the same array
        s = s + np.sum(np.sin(z) * x)
    return s


def augmented_view(x):
    y = x * 1.0
    head = y[:2]
    s = 0.0
    for i in range(3):
        y += 0.5                        # in place: head is a view of y
        s = s + np.sum(np.exp(head))
    return s


def written_through_out(x):
    w = np.ones(3)
    s = 0.0
    for i in range(3):
        np.multiply(w, 1.1, out=w)      # w carries no derivative: the write is allowed
        s = s + np.sum(np.tanh(w) * x)
    return s


def augmented_number(x):
    acc = 0.0
    for i in range(4):
        acc += np.sin(x) * i            # a number: nothing shares it; sin(x) still moves
    return acc


@pytest.mark.parametrize("f", [augmented_alias, augmented_view, written_through_out])
def test_names_sharing_an_array_written_in_place_are_not_hoisted(f):
    x = np.array([0.3, -0.2, 0.6])
    check_grad(f, x)
    text = s2sgrad.show(f, "normalize")
    loop = text[text.index("for i in range(3):"):]
    assert "np.sin(" in loop or "np.exp(" in loop or "np.tanh(" in loop


def test_an_augmented_number_does_not_keep_invariants_in_its_loop():
    check_grad(augmented_number, 0.7)
    text = s2sgrad.show(augmented_number, "normalize")
    assert text.index("np.sin(x)") < text.index("for i in range(4):")


def test_the_specialized_loop_of_a_recursion_reads_like_a_hand_written_adjoint():
    # the counter's levels are ints (rules/shapes.py: recursion_levels): no shape helper,
    # and nothing on a tape (each level's value is read again from the levels)
    code = _statements(s2sgrad.grad(power_sum, emit=True, example=(np.ones(3), 4)))
    assert "unbroadcast" not in code and "_tape" not in code
    assert "d_x = d_x + " in code
    x = np.array([0.3, -0.7, 0.5])
    np.testing.assert_allclose(s2sgrad.grad(power_sum)(x, 4), numeric_grad(power_sum, (x, 4)),
                               rtol=1e-6)
