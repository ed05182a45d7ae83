"""``s2sgrad.check_grads``: passes on right derivatives, reports where wrong ones disagree."""


import numpy as np
import pytest

import s2sgrad
from s2sgrad import GradientCheckError
from s2sgrad.fallback import trace_jvp

rng = np.random.default_rng(7)


def rnn(h, w, n):
    for _ in range(n):
        h = np.tanh(h * w) + 0.5 * h
    return h                                   # a vector output


def loss(params, x):
    z = np.tanh(x @ params["W"] + params["b"])
    return np.sum(z ** 2) + params["c"][0] * np.sum(z)


def test_right_derivatives_pass_to_second_order():
    h = rng.normal(size=3)
    report = s2sgrad.check_grads(rnn, (0, 1), h, 0.8, 3)
    assert "rev" in report.checked and "rev of rev" in report.checked
    assert "fwd" in report.checked and "fwd of rev" in report.checked
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=2), "c": [0.3]}
    report = s2sgrad.check_grads(loss, 0, params, rng.normal(size=(4, 3)), modes=("rev",), order=2)
    assert report.checked == ["rev", "rev of rev"]


@s2sgrad.custom_vjp
def bad_exp(x):
    return np.exp(x)


@bad_exp.defvjp
def bad_exp_vjp(g, ans, x):
    return g * ans * 1.001                      # deliberately 0.1% wrong


@bad_exp.defjvp
def bad_exp_jvp(t, ans, x):
    return t * ans


def uses_bad_exp(x, y):
    return np.sum(bad_exp(x) * y)


def test_a_deliberately_wrong_custom_rule_is_caught_and_located():
    x, y = np.array([0.1, -0.4, 0.8]), np.array([1.0, 2.0, -1.5])
    with pytest.raises(GradientCheckError) as info:
        s2sgrad.check_grads(uses_bad_exp, (0, 1), x, y, modes=("rev",), order=1)
    msg = str(info.value)
    assert "check_grads(uses_bad_exp)" in msg
    assert "rev (order 1)" in msg and "3 of 6 elements disagree" in msg
    for k in range(3):
        assert f"d/d x[{k}]: s2sgrad" in msg
    assert "d/d y[" not in msg                  # y's derivative is right
    # the right numbers: the wrong rule is 1.001 times the finite differences
    line = next(ln for ln in msg.splitlines() if "d/d x[0]" in ln)
    got = float(line.split("s2sgrad ")[1].split(",")[0])
    fd = float(line.split("finite differences ")[1].split(" ")[0])
    assert got == pytest.approx(1.001 * fd, rel=1e-6)
    # the same rule in the tracing fallback is caught too
    with pytest.raises(GradientCheckError, match="rev"):
        s2sgrad.check_grads(uses_bad_exp, 0, x, y, modes=("rev",), order=1, fallback="always")


def test_a_wrong_forward_rule_is_caught_at_second_order():
    @s2sgrad.custom_vjp
    def cube(x):
        return x ** 3

    cube.defvjp(lambda g, ans, x: 3 * g * ans / x)     # right, and reads the output
    cube.defjvp(lambda t, ans, x: 3 * t * x)          # wrong: should be 3 t x**2

    def f(x):
        return np.sum(cube(x))

    x = np.array([0.5, 1.5])
    assert s2sgrad.check_grads(f, 0, x, modes=("rev",), order=1).checked == ["rev"]
    with pytest.raises(GradientCheckError) as info:
        s2sgrad.check_grads(f, 0, x, order=2)
    msg = str(info.value)    # the gradient's tangent goes through the output's wrong tangent
    assert "fwd of rev (order 2)" in msg and "rev of rev" not in msg


def test_large_arguments_are_checked_along_a_random_direction():
    def f(x):
        return np.sum(np.sin(x) * x)

    x = rng.normal(size=200)
    assert s2sgrad.check_grads(f, 0, x, modes=("rev",), order=1, max_elements=16).checked == ["rev"]
    with pytest.raises(GradientCheckError, match="along a random direction of the 200"):
        s2sgrad.check_grads(uses_bad_exp, 0, x, np.ones(200), modes=("rev",), order=1, max_elements=16)


def test_forward_mode_through_s2sgrad_jvp_when_it_exists(monkeypatch):
    def jvp(f, wrt=0, scale=1.0, fallback="auto"):   # s2sgrad.jvp's signature (and a scale)
        wrt_t = (wrt,) if isinstance(wrt, int) else tuple(wrt)

        def run(*args):
            *args, tangent = args
            tangents = (tangent,) if isinstance(wrt, int) else tuple(tangent)
            value, t = trace_jvp(f, tuple(args), {}, wrt_t, tangents)
            return value, t * scale
        return run

    monkeypatch.setattr(s2sgrad, "jvp", jvp, raising=False)
    h = rng.normal(size=3)
    report = s2sgrad.check_grads(rnn, (0, 1), h, 0.8, 2)
    assert report.checked[:2] == ["fwd", "fwd of fwd"] and "rev of fwd" in report.checked
    monkeypatch.setattr(s2sgrad, "jvp", lambda f, wrt=0, fallback="auto": jvp(f, wrt, scale=1.01))
    with pytest.raises(GradientCheckError) as info:
        s2sgrad.check_grads(rnn, 0, h, 0.8, 2, modes=("fwd",), order=1)
    assert "fwd (order 1): Jacobian-vector product" in str(info.value)
    assert "output[0]: s2sgrad" in str(info.value)


def test_arguments_and_policies():
    def f(x):
        try:
            return np.sin(x)
        except ValueError:
            return x

    with pytest.raises(s2sgrad.UnsupportedError, match="try statement"):
        s2sgrad.check_grads(f, 0, 0.3, fallback="never")
    with pytest.warns(s2sgrad.FallbackWarning):
        assert "rev of rev" in s2sgrad.check_grads(f, 0, 0.3, modes=("rev",)).checked
    with pytest.raises(ValueError, match="'jvp'"):
        s2sgrad.check_grads(np.sin, 0, 0.3, modes=("jvp",))
    with pytest.raises(ValueError, match="order"):
        s2sgrad.check_grads(np.sin, 0, 0.3, order=0)
