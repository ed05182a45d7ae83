"""The tracing fallback as a second engine (issue 12, items 11 and 12).

Objects as arguments, writes of traced values into arrays made by NumPy's
constructors, ``np.array`` of traced values, and several threads tracing at
once: each derivative is checked against central finite differences, in reverse
(grad) and forward (jvp) mode, traced (``fallback="always"``) and generated
(``"auto"``), or a clear error is checked.
"""

import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

import s2sgrad
from s2sgrad.fallback.tracer import TracedConversionError

from gradcheck import numeric_grad

X = np.array([0.3, -1.2, 2.0])
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _check(f, x, fallback, args=()):
    want = numeric_grad(f, [x, *args], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = s2sgrad.grad(f, fallback=fallback)(x, *args)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        for k in range(x.size):
            t = np.zeros_like(x)
            t.flat[k] = 1.0
            value, tangent = s2sgrad.jvp(f, fallback=fallback)(x, *args, t)
            assert value == pytest.approx(f(x, *args))
            assert tangent == pytest.approx(want.flat[k], rel=1e-6, abs=1e-7)


# ---------------------------------------------------------------------------
# Item 11: objects as arguments under the fallback
# ---------------------------------------------------------------------------

class Params:
    def __init__(self, w, b):
        self.w = w
        self.b = b


def loss_in_errstate(p, x):
    with np.errstate(all="ignore"):         # a with statement: not transformable, traced
        return np.sum((x * p.w + p.b["c"]) ** 2)


def plain_loss(p, x):
    return np.sum((x * p.w + p.b["c"]) ** 2)


@pytest.mark.parametrize("fn,fallback", [(loss_in_errstate, "auto"), (plain_loss, "always"),
                                         (loss_in_errstate, "always")])
def test_object_argument_gradient(fn, fallback):
    p = Params(np.array([1.0, 2.0]), {"c": 0.5})
    x = np.array([3.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value, g = s2sgrad.value_and_grad(fn, fallback=fallback)(p, x)
        assert value == pytest.approx(fn(p, x))
        r = x * p.w + 0.5
        np.testing.assert_allclose(g.w, 2 * r * x)          # [21, 68]
        assert g.b["c"] == pytest.approx(np.sum(2 * r))     # 24
        assert type(g) is Params and g is not p and p.w[0] == 1.0   # a copy; p untouched
        # the example: b = 0 gives [18, 64]
        q = Params(np.array([1.0, 2.0]), {"c": 0.0})
        np.testing.assert_allclose(s2sgrad.grad(fn, fallback=fallback)(q, x).w, [18.0, 64.0])
        tangent = Params(np.array([1.0, 0.0]), {"c": 0.0})
        _, t_out = s2sgrad.jvp(fn, fallback=fallback)(p, x, tangent)
        assert t_out == pytest.approx(2 * r[0] * x[0])


# ---------------------------------------------------------------------------
# Item 12: writes into arrays made by np.zeros & co.; np.array of traced values
# ---------------------------------------------------------------------------

def into_zeros(x):
    y = np.zeros(3)
    y[0] = x[0] ** 2
    y[1:] = np.sin(x[1:])
    return np.sum(y * x)


def into_empty_rows(x):
    y = np.empty((2, 3))
    y[0] = x
    y[1] = x ** 2
    return np.sum(y ** 2)


def into_ones_in_place(x):
    y = np.ones(3)
    y[1] *= x[1]
    y += x
    return np.sum(y ** 2)


def into_zeros_like(x):
    y = np.zeros_like(x)
    for i in range(3):
        y[i] = x[i] * (i + 1)
    return np.sum(y ** 2)


def into_full_fancy(x):
    out = np.full(3, 0.5)
    out[[0, 2]] = x[:2] ** 2
    return np.sum(out * x)


def into_eye(x):
    m = np.eye(3)
    m[0, 1] = x[0]
    m[2, 0] = x[1] * x[2]
    return np.sum(m @ x)


def array_of_scalars(x):
    v = np.array([x[0] * x[1], x[2] ** 2, 1.0])
    return np.sum(v ** 2)


def nested_array(x):
    v = np.array([[x[0], x[1]], [x[2], 3.0]])
    return np.sum(v @ v)


def asarray_of_list(x):
    v = np.asarray([x[0], x[1]])
    return np.sum(v ** 2) + np.sum(np.array(x) * x)


def _buffer(v):
    out = np.zeros(2)
    out[0] = v[0] * v[1]
    out[1] = np.sin(v[2])
    return out


def through_helper(x):
    return np.sum(_buffer(x) ** 2)


def in_errstate(x):
    with np.errstate(all="ignore"):         # traced under "auto" too
        y = np.zeros(3)
        y[1] = np.log(x[2]) * x[0]
        return np.sum(y ** 2) + np.sum(np.array([x[1], 2.0]) ** 2)


ENGINE = [into_zeros, into_empty_rows, into_ones_in_place, into_zeros_like, into_full_fancy,
          into_eye, array_of_scalars, nested_array, asarray_of_list, through_helper,
          in_errstate]


@pytest.mark.parametrize("f", ENGINE, ids=lambda f: f.__name__)
@pytest.mark.parametrize("fallback", ["always", "auto"])
def test_writes_and_arrays_of_traced_values(f, fallback):
    for x in (X, np.array([1.1, 0.4, 0.7])):
        _check(f, x, fallback)


def test_traced_arrays_outside_a_trace_are_plain():
    # The traced copies of functions make plain arrays once no trace runs.
    from s2sgrad.fallback.user import for_trace
    out = for_trace(_buffer)(X)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, _buffer(X))


def test_hessian_of_writes_into_zeros():
    def cubes(x):
        y = np.zeros(3)
        y[:] = x ** 3
        return np.sum(y)
    inner = s2sgrad.grad(cubes, fallback="always")
    gg = s2sgrad.grad(lambda x: np.sum(inner(x) ** 2), fallback="always")(X)
    np.testing.assert_allclose(gg, 2 * (3 * X ** 2) * 6 * X)


class _Maker:
    def zeros(self):
        return np.zeros(3)


def into_array_made_by_a_method(x):
    out = _Maker().zeros()
    out[0] = x[0]
    return np.sum(out)


def test_array_made_out_of_sight_is_a_clear_error():
    with pytest.raises(TracedConversionError) as info:
        s2sgrad.grad(into_array_made_by_a_method, fallback="always")(X)
    msg = str(info.value)
    line = into_array_made_by_a_method.__code__.co_firstlineno + 2
    assert msg.split(" a value")[0].endswith(f"test_tracer_engine.py:{line}:"), msg
    assert "in a method" in msg and "np.zeros_like(x)" in msg


# ---------------------------------------------------------------------------
# Item 12: several threads tracing at once
# ---------------------------------------------------------------------------

def threaded_loss(x):
    y = np.zeros(3)
    y[0] = np.tanh(x[0]) * x[1]
    y[1:] = np.exp(x[1:]) * x[0]
    z = np.stack([y, x[::-1]])
    return np.linalg.norm(z.T @ z) + np.sum(np.cumsum(x) ** 2)


def _run_threads(n=8):
    results = {}
    barrier = threading.Barrier(n)

    def work(k):
        x = np.array([0.2, 0.5, 0.9]) + 0.1 * k
        try:
            barrier.wait()
            if k % 2:
                g = s2sgrad.grad(threaded_loss, fallback="always")(x)
            else:
                g = np.array([s2sgrad.jvp(threaded_loss, fallback="always")(x, e)[1]
                              for e in np.eye(3)])
            results[k] = np.allclose(g, numeric_grad(threaded_loss, [x]), atol=1e-6)
        except Exception as exc:        # reported below
            results[k] = f"{type(exc).__name__}: {exc}"
    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_threads_trace_at_once():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)         # switch threads as often as possible
    try:
        results = _run_threads()
    finally:
        sys.setswitchinterval(old)
    assert results == {k: True for k in range(8)}, results


_FIRST_USE = """
import sys
sys.setswitchinterval(1e-6)
sys.path.insert(0, {tests!r})
import test_tracer_engine as t
results = t._run_threads()
bad = {{k: v for k, v in results.items() if v is not True}}
print(len(results), bad)
sys.exit(1 if bad or len(results) != 8 else 0)
"""


def test_first_use_of_the_fallback_from_eight_threads():
    # A fresh process: the rules, the tracer and the caches are first used by 8 threads.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, "tests")]),
               S2SGRAD_CACHE="off")
    code = _FIRST_USE.format(tests=os.path.join(ROOT, "tests"))
    for _ in range(3):
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.strip() == "8 {}"
