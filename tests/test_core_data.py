"""Assignments, containers, indexing and in-place writes.

The programs and their inputs are ``constructs.DATA``; ``test_forward.py`` checks them in forward mode.
"""

import numpy as np
import pytest

import constructs
import s2sgrad
from gradcheck import check_grad


@pytest.mark.parametrize("name, point", constructs.params(constructs.DATA))
def test_data(name, point, code):
    constructs.run(check_grad, name, point)


def put_into(x):
    a = x * 2.0
    np.put(a, [0], x[1] ** 2)     # writes into a, which carries a derivative
    return np.sum(a)


def shuffle_indices(x):
    order = np.arange(x.shape[0])
    np.random.default_rng(0).shuffle(order)    # writes into an array without derivatives
    np.random.shuffle(order)
    return np.sum(x[order] ** 2)


def test_a_write_into_an_array_with_a_derivative_that_has_no_rule_is_refused_at_its_line():
    x = np.array([0.3, -0.7, 1.1])
    for op in (s2sgrad.grad, s2sgrad.jvp):
        with pytest.raises(s2sgrad.UnsupportedError, match=r"test_core_data.py:\d+.*np.put\(a"):
            op(put_into, fallback="never", emit=True)
    np.testing.assert_allclose(s2sgrad.grad(shuffle_indices)(x), 2 * x)


def unique_values(x):
    return np.sum(np.unique(x) ** 2)


def unique_labels(x, labels):
    return np.sum(x[np.unique(labels)] ** 2)


def test_set_functions_of_values_with_derivatives_are_an_error_not_a_zero():
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(s2sgrad.NoRuleError, match=r"test_core_data.py:\d+.*unique"):
        s2sgrad.grad(unique_values, fallback="never")(x)
    np.testing.assert_allclose(s2sgrad.grad(unique_labels)(x, np.array([2, 0, 2])),
                               [0.6, 0.0, 2.2])


def noisy(p):
    np.random.seed(3)
    return np.sum((p[0] + p[1] * np.random.normal(size=4)) ** 2)


def sampled(p):
    return np.sum(np.random.normal(p[0], p[1], size=4))


def test_a_random_draw_is_made_once_and_its_parameters_are_not_silently_constant():
    p = np.array([0.5, 1.3])
    for op in (s2sgrad.grad, s2sgrad.jvp):
        code = [ln for ln in op(noisy, emit=True).splitlines() if not ln.strip().startswith("#")]
        assert sum("np.random.normal(" in ln for ln in code) == 1   # never drawn again
    np.random.seed(3)
    z = np.random.normal(size=4)
    np.testing.assert_allclose(s2sgrad.grad(noisy)(p),
                               [2 * np.sum(p[0] + p[1] * z), 2 * np.sum((p[0] + p[1] * z) * z)])
    with pytest.raises(s2sgrad.NoRuleError, match=r"random\.normal"):
        s2sgrad.grad(sampled, fallback="never")(p)


def scaled_through_a_view(x):
    y = np.exp(x)
    v = y[1:]
    v *= 2.0            # changes y[1:] too
    return np.sum(y * x)


def test_an_augmented_assignment_through_a_view_changes_the_array_it_views():
    x = np.array([0.3, -0.7, 1.1])
    with pytest.raises(s2sgrad.UnsupportedError, match=r"test_core_data.py:\d+.*changes y"):
        s2sgrad.grad(scaled_through_a_view, fallback="never")(x)
    with pytest.warns(s2sgrad.fallback.FallbackWarning):
        g = s2sgrad.grad(scaled_through_a_view)(x)
    scale = np.array([1.0, 2.0, 2.0])
    np.testing.assert_allclose(g, scale * np.exp(x) * (1 + x))
