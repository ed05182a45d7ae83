"""The max shift of a log-sum-exp, a log-softmax and a softmax carries no derivative
(``analysis/shift.py``): the generated code skips the derivative through ``np.max``, as a
hand-written adjoint does, where the forms are recognized, and differentiates as written
where they are not.  Both must give the right derivatives: checked against central finite
differences, in reverse and forward mode, on general and specialized code, at first and
second order, at several points (ties of the maximum included)."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad, numeric_grad, assert_close
from tangentcheck import check_jvp


def lse_squeezed(a):
    shift = np.max(a, axis=1, keepdims=True)
    out = np.log(np.sum(np.exp(a - shift), axis=1)) + np.squeeze(shift, axis=1)
    return np.sum(out * np.arange(1.0, 1.0 + out.shape[0]))


def _logsumexp(a, axis):
    shift = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - shift), axis=axis)) + np.squeeze(shift, axis=axis)


def lse_helper(a):
    return np.sum(_logsumexp(a * a, 1) * 0.5) - _logsumexp(np.sin(a[0]), 0)


def lse_kept(a):
    m = a.max(axis=0, keepdims=True)
    out = m + np.log(np.exp(a - m).sum(axis=0, keepdims=True))
    return np.sum(out ** 2)


def lse_total(x):
    m = np.max(x)
    return (np.log(np.sum(np.exp(x - m))) + m) * np.sum(x)


def log_softmax(z):
    z = z - np.max(z, axis=1, keepdims=True)
    out = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return np.sum(out * np.cos(np.arange(out.size).reshape(out.shape)))


def log_softmax_named(z):
    shifted = z - np.max(z, axis=0, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=0, keepdims=True))
    return np.sum(out[1] * 3.0) + np.sum(z ** 2)


def softmax(z):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(p * np.sin(np.arange(p.size).reshape(p.shape)))


def log_softmax_loop(z):
    total = 0.0
    for k in range(3):
        z = z - np.max(z, axis=1, keepdims=True)
        out = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        total = total + np.sum(out[:, k] * out[:, 0])
    return total


def lse_stopped(a):
    shift = s2sgrad.stop_gradient(np.max(a, axis=1, keepdims=True))
    return np.sum(np.log(np.sum(np.exp(a - shift), axis=1)) + np.squeeze(shift, axis=1))


# -- forms that must not be marked: the derivative through the max does not cancel ---------

def softmax_rescaled(z):
    # e = np.exp(e - max): the next pass reads e scaled, not shifted
    e = z * 1.0
    total = 0.0
    for k in range(2):
        e = np.exp(e - np.max(e, axis=1, keepdims=True))
        p = e / np.sum(e, axis=1, keepdims=True)
        total = total + np.sum(p[:, k] * (k + 2.0))
    return total


def shift_of_another(a):
    b = a * 2.0
    shift = np.max(b, axis=1, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(a - shift), axis=1)) + np.squeeze(shift, axis=1))


def shift_read_again(a):
    shift = np.max(a, axis=1, keepdims=True)
    out = np.log(np.sum(np.exp(a - shift), axis=1)) + np.squeeze(shift, axis=1)
    return np.sum(out) + np.sum(shift ** 2)


def shifted_read_again(z):
    z = z - np.max(z, axis=1, keepdims=True)
    out = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return np.sum(out) + np.sum(z ** 2)


def other_axis(a):
    shift = np.max(a, axis=0, keepdims=True)
    return np.sum(np.log(np.sum(np.exp(a - shift), axis=1, keepdims=True)) + shift)


def not_kept(x):
    m = np.max(x, axis=0)
    return np.sum(np.log(np.sum(np.exp(x - m))) + m)


MARKED = [lse_squeezed, lse_helper, lse_kept, lse_total, log_softmax, log_softmax_named,
          softmax, log_softmax_loop, lse_stopped]
UNMARKED = [softmax_rescaled, shift_of_another, shift_read_again, shifted_read_again,
            other_axis, not_kept]


def _points(f):
    """Three random points, and for a function the max shift does not change, a fourth where
    the maximum is tied (there the max's own derivative splits between the two)."""
    rng = np.random.default_rng(7)
    shape = (4,) if f in (lse_total, not_kept) else (3, 4)
    points = [rng.standard_normal(shape) for _ in range(3)]
    if f in MARKED:
        tie = points[0].copy()
        tie.flat[1] = tie.flat[0] = np.max(tie) + 0.5
        points.append(tie)
    return points


@pytest.mark.parametrize("f", MARKED + UNMARKED, ids=lambda f: f.__name__)
def test_gradients_against_finite_differences(f, code):
    for x in _points(f):
        check_grad(f, x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f", MARKED + UNMARKED, ids=lambda f: f.__name__)
def test_tangents_against_finite_differences(f, code):
    for seed, x in enumerate(_points(f)):
        check_jvp(f, x, seed=seed, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("f", MARKED + UNMARKED, ids=lambda f: f.__name__)
def test_second_order(f, code):
    """The Hessian against central differences of the (checked) gradient, in both nestings."""
    for x in _points(f)[:2]:
        g = s2sgrad.grad(f)
        rows = np.array([numeric_grad(lambda v, i=i: g(v).flat[i], [x], eps=1e-5).ravel()
                         for i in range(x.size)])
        assert_close(s2sgrad.hessian(f)(x).reshape(rows.shape), rows, rtol=1e-4, atol=1e-5)
        assert_close(s2sgrad.jacobian(s2sgrad.grad(f))(x).reshape(rows.shape), rows,
                     rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("f", MARKED, ids=lambda f: f.__name__)
def test_marked_forms_skip_the_derivative_of_the_max(f):
    x = _points(f)[0]
    for source in (s2sgrad.grad(f, emit=True), s2sgrad.grad(f, emit=True, example=(x,))):
        assert "max_vjp" not in source, source


@pytest.mark.parametrize("f", UNMARKED, ids=lambda f: f.__name__)
def test_other_forms_keep_it(f):
    x = _points(f)[0]
    assert "max_vjp" in s2sgrad.grad(f, emit=True, example=(x,))


def test_the_bench_form_reads_like_a_hand_written_adjoint():
    x = _points(lse_squeezed)[0]
    source = s2sgrad.grad(lse_squeezed, emit=True, example=(x,))
    assert "d_shift" not in source, source
    assert "    d_out_sum = d_out / out_sum\n    d_a = d_out_sum[:, None] * out_exp\n" in source, source


def test_stop_gradient_keeps_the_shapes_known():
    """``s2sgrad.stop_gradient(x)`` has x's shape: specialized code needs no shape helper."""
    x = _points(lse_stopped)[0]
    source = s2sgrad.grad(lse_stopped, emit=True, example=(x,))
    assert "unbroadcast" not in source and "reduce_vjp" not in source, source
