"""Statements whose effect on a list or a dict the generated code does not model: a
method it cannot see into whose result is not used (``l.reverse()``, ``l.remove(v)``, a
helper it traces that writes into its argument), ``+``, ``*`` and ``|`` joining or
repeating containers (``l + [v]``, ``[v] * 2``, ``d | {...}``), a dict written with
``**``, a reduction to an integer ``dtype=``.  Each gave a wrong derivative without a
word (or a crash); the compiler now refuses them at the user's line, and under
``fallback="auto"`` the tracer, which follows them, gives the right one."""

import warnings

import numpy as np
import pytest

import s2sgrad
import container_module as m
from gradcheck import numeric_grad

CASES = ["rev", "ior", "iadd_list", "remove", "clear_", "mul_list", "star_dict",
         "helper_changes_its_argument"]


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_traced_with_the_right_derivative(name, seed):
    f = getattr(m, name)
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, size=3)
    want = numeric_grad(f, [x], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)   # (said once per function)
        got = s2sgrad.grad(f)(x)
        t = np.array([1.0, 0.3, -0.2])
        _, tangent = s2sgrad.jvp(f)(x, t)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)
    assert tangent == pytest.approx(float(want @ t), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("name", CASES)
def test_refused_at_the_users_line_without_fallback(name):
    with pytest.raises(s2sgrad.UnsupportedError, match=r"container_module.py:\d+: "):
        s2sgrad.grad(getattr(m, name), fallback="never")(np.array([0.7, -1.3, 0.4]))


def test_an_integer_dtype_is_refused():
    with pytest.raises(s2sgrad.UnsupportedError, match=r"container_module.py:\d+: .*integer dtype"):
        s2sgrad.grad(m.intsum)(np.array([0.7, -1.3, 0.4]))


def test_what_the_generated_code_follows_is_still_generated():
    """sort, and the methods it models or refuses by name (append, insert, extend...),
    keep their behaviour."""
    x = np.array([0.7, -1.3, 0.4])
    np.testing.assert_allclose(s2sgrad.grad(m.sort_list, fallback="never")(x),
                               numeric_grad(m.sort_list, [x], 0), rtol=1e-6)
    for name in ("insert", "extend", "upd", "setdefault", "popitem"):
        f = getattr(m, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
            np.testing.assert_allclose(s2sgrad.grad(f)(x), numeric_grad(f, [x], 0), rtol=1e-6)
