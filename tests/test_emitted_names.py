"""Emitted code a person can read: the user's names, plain values named as values, abs of a
real value as np.sign, and derivatives of derivatives citing the user's lines."""

import ast
import inspect
import re

import numpy as np
import pytest
import scipy.linalg as sla

import s2sgrad
from gradcheck import assert_close, numeric_grad


def mean_sq(w, x):
    h = x @ w
    return np.mean(np.logaddexp(0.0, h) ** 2)


def norm_ratio(x):
    y = np.linalg.norm(x)
    return y / np.max(x) + np.prod(x)


def tri_solve(a, b):
    return np.sum(sla.solve_triangular(a, b, lower=True) ** 2)


def solve_sum(a, b):
    return np.sum(np.linalg.solve(a, b) * b)


def std_clip(x):
    return np.std(np.clip(x, -1.0, 1.0) * 3.0) + np.var(x)


def flight(angle, v):
    vx = v * np.cos(angle)
    vy = v * np.sin(angle)
    return vx * vy


rng = np.random.default_rng(7)
A = np.tril(rng.normal(size=(3, 3))) + 3.0 * np.eye(3)
POINTS = {
    mean_sq: (rng.normal(size=3), rng.normal(size=(4, 3))),
    norm_ratio: (rng.uniform(0.5, 2.0, size=4),),
    tri_solve: (A, rng.normal(size=3)),
    solve_sum: (A + A.T, rng.normal(size=3)),
    std_clip: (rng.normal(size=5),),
    flight: (0.6, 3.0),
}


def user_names(fn):
    tree = ast.parse(inspect.getsource(fn))
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} \
        | {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}


def assigned(src):
    return {n.id for n in ast.walk(ast.parse(src))
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


# a rule's own names: a letter or three (``a``, ``gb``, ``res``), perhaps numbered (``x_1``)
MADE_UP = re.compile(r"[A-Za-z]{1,3}(_\d+)?|res(_\d+)?")


@pytest.mark.parametrize("fn", list(POINTS), ids=lambda f: f.__name__)
def test_no_names_the_user_did_not_write(fn):
    for op in (s2sgrad.grad, s2sgrad.jvp):
        src = op(fn, emit=True)
        made_up = {n for n in assigned(src) - user_names(fn)
                   if n != "_" and MADE_UP.fullmatch(n)}
        assert not made_up, (op.__name__, made_up, src)


def test_values_a_rule_reads_twice_are_named_after_their_expression():
    src = s2sgrad.grad(mean_sq, emit=True)
    # (the forward sweep keeps logaddexp's value, which its rule reads, as result_logaddexp)
    assert "result_logaddexp_pow = result_logaddexp ** 2" in src
    assert "result_logaddexp = np.logaddexp(0.0, h)" in src
    src = s2sgrad.grad(norm_ratio, emit=True)
    # the norm rule's own variable is named after the user's y; x is not copied to x_1
    assert "y_gx = _rt.reduce_vjp(d_y, x, None, False)" in src
    assert "= x\n" not in src


@pytest.mark.parametrize("fn", list(POINTS), ids=lambda f: f.__name__)
def test_gradients_with_the_new_names_are_right(fn):
    args = POINTS[fn]
    wrt = tuple(range(len(args)))
    got = s2sgrad.grad(fn, wrt)(*args)
    for k in wrt:
        assert_close(got[k], numeric_grad(fn, args, k))


def test_forward_code_names_plain_values_as_values():
    src = s2sgrad.jvp(flight, emit=True)
    assert "t_vx_sin" not in src
    tangents = {n for n in assigned(src) if n.startswith("t_")}
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in tangents:
            reads = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            assert reads & (tangents | {"t_angle", "t_v"}), ast.unparse(node)
    assert re.search(r"\n    vx_sin = np\.sin\(angle\)\n", src), src
    value, tangent = s2sgrad.jvp(flight)(0.6, 3.0, 1.0)
    eps = 1e-6
    np.testing.assert_allclose(tangent, (flight(0.6 + eps, 3.0) - flight(0.6 - eps, 3.0))
                               / (2 * eps), rtol=1e-6)


def abs_of_real(x):
    y = np.sin(np.real(x)) * 2.0
    s = np.sum(y)
    return np.sum(np.abs(y)) + abs(s) + abs(np.linalg.norm(x) - 2.0)


def abs_of_maybe_complex(z):
    w = z * (1.0 + 0.5j)
    return np.sum(np.abs(w)) + abs(np.sum(z))


def test_abs_of_a_real_value_is_the_sign():
    src = s2sgrad.grad(abs_of_real, emit=True)
    assert "d_s = _rt.unbroadcast(d_add, abs(s)) * np.sign(s)" in src
    assert "* np.sign(y)" in src and "* np.sign(result_subtract)" in src   # (kept: norm(x) - 2.0)
    assert "unit" not in src
    fwd = s2sgrad.jvp(abs_of_real, emit=True)
    assert "t_s * np.sign(s)" in fwd and "unit" not in fwd
    x = np.array([0.3, -1.2, 2.0, 0.9])
    assert_close(s2sgrad.grad(abs_of_real)(x), numeric_grad(abs_of_real, (x,), 0))
    t = np.array([0.5, -0.1, 0.2, 1.0])
    eps = 1e-6
    np.testing.assert_allclose(s2sgrad.jvp(abs_of_real)(x, t)[1],
                               (abs_of_real(x + eps * t) - abs_of_real(x - eps * t)) / (2 * eps),
                               rtol=1e-6)


def abs_through_a_list(z):
    parts = []
    parts.append(z * 1.0)          # the list holds what z is: maybe complex
    w = parts[0]
    return np.sum(np.abs(w))


def abs_after_zeros(z):
    y = np.zeros(3)
    y = y + z
    return np.sum(np.abs(y))


@pytest.mark.parametrize("fn", [abs_of_maybe_complex, abs_through_a_list, abs_after_zeros],
                         ids=lambda f: f.__name__)
def test_abs_of_a_value_that_may_be_complex_keeps_the_complex_rule(fn):
    # a parameter's dtype is not known when the code is generated: the general rule,
    # right for complex values too
    src = s2sgrad.grad(fn, emit=True)
    assert "np.sign" not in src and "np.conj(_rt.unit(" in src
    z = np.array([1.0 + 2.0j, -0.5 + 0.1j, 0.3 - 0.7j])
    g = s2sgrad.grad(fn)(z)
    eps = 1e-6
    num = np.array([(fn(z + eps * e) - fn(z - eps * e)) / (2 * eps)
                    + 1j * (fn(z + 1j * eps * e) - fn(z - 1j * eps * e)) / (2 * eps)
                    for e in np.eye(3)])
    # s2sgrad's convention for a real output of complex inputs: the conjugate of df/dRe + i df/dIm
    assert_close(g, np.conj(num))


def helper(v):
    return np.tanh(v) * 2.0


def layered(x):
    y = np.sin(x) * x
    return helper(y) ** 2 + abs(y) * 0.5


def _citations(src):
    return re.findall(r"# (\S+:\d+)  ", src)


def test_derivatives_of_derivatives_cite_the_users_lines():
    here = inspect.getsourcefile(layered).rsplit("/", 1)[-1]
    first = inspect.getsourcelines(layered)[1]
    lines = {f"{here}:{first + 1}", f"{here}:{first + 2}"}
    helper_line = f"{here}:{inspect.getsourcelines(helper)[1] + 1}"
    for src in (s2sgrad.grad(s2sgrad.grad(layered), emit=True),
                s2sgrad.jvp(s2sgrad.grad(layered), emit=True),
                s2sgrad.hessian(layered, emit=True)):
        assert "<s2sgrad" not in src, src
        cited = set(_citations(src))
        assert cited and cited <= lines | {helper_line}, cited
        assert lines <= cited
        assert f"# {here}:{first + 1}  y = np.sin(x) * x" in src
    src = s2sgrad.grad(s2sgrad.grad(layered), emit=True)
    assert f'"""grad_layered ({here}:{first}) and its gradient' in src
    g = s2sgrad.grad(layered)
    x, eps = 0.7, 1e-5
    np.testing.assert_allclose(s2sgrad.grad(g)(x), (g(x + eps) - g(x - eps)) / (2 * eps),
                               rtol=1e-6)
