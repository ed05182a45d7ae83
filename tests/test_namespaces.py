"""Generated code keeps the user's array namespace: np stays np, xp stays xp, cp stays cp."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import numeric_grad

xp = pytest.importorskip("array_api_strict")
import strict_module  # noqa: E402


def _numeric(f, args, wrt):
    """Finite differences computed on numpy copies converted to the strict namespace."""
    def on_np(*np_args):
        return float(f(*[xp.asarray(a) for a in np_args]))
    return numeric_grad(on_np, [np.asarray(a) for a in args], wrt)


@pytest.mark.parametrize("seed", [0, 1])
def test_strict_namespace_gradient_matches_and_stays_strict(seed):
    rng = np.random.default_rng(seed)
    x = xp.asarray(rng.uniform(-1, 1, size=4))
    w = xp.asarray(rng.uniform(-1, 1, size=4))
    g = s2sgrad.grad(strict_module.energy, (0, 1))(x, w)
    for gi, wrt in zip(g, (0, 1)):
        assert type(gi) is type(x), "the gradient must stay in the user's namespace"
        np.testing.assert_allclose(np.asarray(gi), _numeric(strict_module.energy, (x, w), wrt),
                                   rtol=1e-5, atol=1e-7)


def test_strict_matmul_and_maximum():
    rng = np.random.default_rng(3)
    A = xp.asarray(rng.normal(size=(3, 4)))
    v = xp.asarray(rng.normal(size=4))
    gA, gv = s2sgrad.grad(strict_module.with_matmul, (0, 1))(A, v)
    assert type(gA) is type(A) and type(gv) is type(v)
    np.testing.assert_allclose(np.asarray(gA), _numeric(strict_module.with_matmul, (A, v), 0),
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.asarray(gv), _numeric(strict_module.with_matmul, (A, v), 1),
                               rtol=1e-5, atol=1e-7)


def test_emitted_code_calls_the_users_namespace():
    src = s2sgrad.grad(strict_module.energy, emit=True)
    assert "import array_api_strict as xp" in src
    assert "xp.cos(x)" in src            # the derivative of xp.sin, in xp
    assert "np." not in src.replace("import numpy as np", "")


@pytest.mark.parametrize("operator", ["grad", "jvp"])
def test_the_tracer_refuses_an_array_of_another_namespace(operator):
    """The tracing fallback cannot follow an array_api_strict array: it refuses, naming the
    function, where it gave a derivative of zero."""
    x = xp.asarray(np.array([[2.1, 0.1], [0.1, 2.1]]))
    with pytest.raises(s2sgrad.UnsupportedError, match=r"strict_module.py:\d+: the argument "
                       r"of energy that holds an array_api_strict array .* cannot be traced"):
        if operator == "grad":
            s2sgrad.grad(strict_module.energy, fallback="always")(x, x)
        else:
            s2sgrad.jvp(strict_module.energy, fallback="always")(x, x, x)


def test_a_function_without_rule_on_another_namespace_is_refused():
    x = xp.asarray(np.array([[2.1, 0.1], [0.1, 2.1]]))
    with pytest.warns(s2sgrad.FallbackWarning, match="xp.linalg.matmul"), \
            pytest.raises(s2sgrad.UnsupportedError, match="without_rule .* cannot be traced"):
        s2sgrad.grad(strict_module.without_rule)(x)


def _gpu_available():
    try:
        import cupy
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


@pytest.mark.skipif(not _gpu_available(), reason="cupy with a CUDA device is not available")
def test_cupy_gradient_stays_on_the_gpu():  # pragma: no cover - needs a GPU
    import cupy as cp

    def f(x):
        return cp.sum(cp.sin(x) * x)

    x = cp.linspace(-1, 1, 5)
    g = s2sgrad.grad(f)(x)
    assert isinstance(g, cp.ndarray)
    cp.testing.assert_allclose(g, cp.cos(x) * x + cp.sin(x), rtol=1e-10)
    assert "cp.cos(x)" in s2sgrad.grad(f, emit=True)
