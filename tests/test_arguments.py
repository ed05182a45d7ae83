"""Arguments of NumPy functions through the whole pipeline (both code generators and the tracer).

The rules themselves are checked against finite differences in test_rules.py; here the
calls are written in user functions: keywords such as ``where=`` and ``initial=``, the
forms of ``np.pad``, ``np.einsum`` and ``np.linalg.qr``, and the errors, which name the
user's line, for arguments no rule covers.
"""

import warnings

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad
from tangentcheck import check_jvp

rng = np.random.default_rng(11)
FALLBACKS = ["never", "always"]      # the code generator alone, the tracer alone


def _line(f, offset):
    return f"test_arguments.py:{f.__code__.co_firstlineno + offset}"


# ---------------------------------------------------------------------------
# Arguments no rule covers: an error naming the user's line
# ---------------------------------------------------------------------------


def _sum_into(x):
    buf = np.zeros(4)
    np.sum(x, axis=0, out=buf)
    return np.sum(buf ** 2)


def _sum_into_and_use(x):
    buf = np.zeros(4)
    y = np.sum(x, axis=0, out=buf)
    return np.sum(y ** 2)


def _sin_into(x):
    buf = np.zeros((3, 4))
    np.sin(x, out=buf)
    return np.sum(buf ** 2)


@pytest.mark.parametrize("fallback", ["auto"] + FALLBACKS)
@pytest.mark.parametrize("f", [_sum_into, _sum_into_and_use, _sin_into])
def test_out_is_an_error_naming_the_line(f, fallback):
    x = rng.normal(size=(3, 4))
    with pytest.raises(s2sgrad.S2SGradError, match="out=") as info:
        s2sgrad.grad(f, fallback=fallback)(x)
    if fallback != "always" or f is not _sin_into:    # the tracer's own message for a ufunc
        assert "cannot differentiate" in str(info.value) and "assign the result" in str(info.value)
    assert _line(f, 2) in str(info.value)
    with pytest.raises(s2sgrad.S2SGradError, match=_line(f, 2)):
        s2sgrad.jvp(f, fallback=fallback)(x, x)


@pytest.mark.parametrize("fallback", ["auto"] + FALLBACKS)
def test_out_on_values_that_carry_no_derivative_is_fine(fallback):
    data = rng.normal(size=(3, 4))

    def f(x):
        buf = np.zeros(4)
        np.sum(data, axis=0, out=buf)
        return np.sum(x * buf)

    np.testing.assert_allclose(s2sgrad.grad(f, fallback=fallback)(rng.normal(size=4)),
                               np.sum(data, axis=0))


def test_unsupported_call_is_refused_without_a_fallback_that_would_fail_too():
    def f(x):
        return np.sum(np.cumsum(x, out=np.zeros(3)))

    with warnings.catch_warnings(record=True) as record, \
            pytest.raises(s2sgrad.UnsupportedError, match="out="):
        warnings.simplefilter("always")
        s2sgrad.grad(f)(np.ones(3))
    assert not [w for w in record if "traces" in str(w.message)]
