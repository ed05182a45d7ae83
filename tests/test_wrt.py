"""``wrt`` by parameter name, and a bad ``wrt`` reported when the operator is made (issue 15)."""

import functools

import numpy as np
import pytest

import s2sgrad
from s2sgrad import WrtError

EPS = 1e-6


def fd_grad(f, args, w):
    """Central finite differences of scalar ``f`` with respect to argument ``w``."""
    x = np.array(args[w], dtype=float)
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += EPS
        down[i] -= EPS
        a, b = list(args), list(args)
        a[w], b[w] = up, down
        g[i] = (f(*a) - f(*b)) / (2 * EPS)
    return g


def fd_jacobian(f, args, w):
    """``out.shape + x.shape``."""
    x = np.array(args[w], dtype=float)
    out = np.asarray(f(*args))
    jac = np.zeros(out.shape + x.shape)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += EPS
        down[i] -= EPS
        a, b = list(args), list(args)
        a[w], b[w] = up, down
        jac[(Ellipsis,) + i] = (np.asarray(f(*a)) - np.asarray(f(*b))) / (2 * EPS)
    return jac


def model(x, y, scale=2.0):
    return np.sum(np.sin(x) * y ** 2) * scale


def vector_model(x, y):
    return np.sin(x) * y ** 2 + x * y


X = np.array([0.3, -0.8, 1.1])
Y = np.array([1.5, 0.4, -0.7])
close = functools.partial(np.testing.assert_allclose, rtol=1e-6, atol=1e-7)


def test_grad_and_value_and_grad_by_name():
    close(s2sgrad.grad(model, wrt="y")(X, Y), fd_grad(model, (X, Y), 1))
    gx, gy = s2sgrad.grad(model, wrt=("x", "y"))(X, Y)
    close(gx, fd_grad(model, (X, Y), 0))
    close(gy, fd_grad(model, (X, Y), 1))
    gy2, gx2 = s2sgrad.grad(model, wrt=(1, "x"))(X, Y)          # mixed, in the order given
    close(gx2, gx)
    close(gy2, gy)
    value, gy3 = s2sgrad.value_and_grad(model, wrt="y")(X, Y)
    close(value, model(X, Y))
    close(gy3, gy)
    close(s2sgrad.grad(model, wrt="scale")(X, Y, 2.0), fd_grad(model, (X, Y, 2.0), 2))
    close(s2sgrad.grad(model, wrt=["y"])(X, Y)[0], gy)     # a list is a tuple


def test_forward_and_reverse_operators_by_name():
    t = np.array([0.2, -1.0, 0.5])
    value, tangent = s2sgrad.jvp(vector_model, wrt="y")(X, Y, t)
    close(value, vector_model(X, Y))
    close(tangent, fd_jacobian(vector_model, (X, Y), 1) @ t)
    jx, jy = fd_jacobian(vector_model, (X, Y), 0), fd_jacobian(vector_model, (X, Y), 1)
    value, tangent = s2sgrad.jvp(vector_model, wrt=("x", 1))(X, Y, (t, 2 * t))
    close(tangent, jx @ t + jy @ (2 * t))
    ct = np.array([1.0, -2.0, 0.5])
    value, backward = s2sgrad.vjp(vector_model, wrt="y")(X, Y)
    close(backward(ct), ct @ jy)
    close(s2sgrad.elementwise_grad(vector_model, wrt="y")(X, Y), np.ones(3) @ jy)
    close(s2sgrad.jacobian(vector_model, wrt="y")(X, Y), jy)


def test_second_order_operators_by_name():
    hess = np.diag(2.0 * np.sin(X) * 2.0)        # of model with respect to y: closed form
    close(s2sgrad.hessian(model, wrt="y")(X, Y), hess)
    close(hess, fd_jacobian(lambda x, y: s2sgrad.grad(model, 1)(x, y), (X, Y), 1), atol=1e-6)
    v = np.array([0.5, 1.0, -1.5])
    close(s2sgrad.hvp(model, wrt="y")(X, Y, v), hess @ v)
    # d/dx of d/dy model(x, y) for a scalar y: 2 cos(x) y scale
    close(s2sgrad.grad(s2sgrad.grad(model, wrt="y"), wrt="x")(X, 1.5),
          fd_grad(lambda x, y: s2sgrad.grad(model, 1)(x, y), (X, 1.5), 0), atol=1e-6)
    close(s2sgrad.grad(s2sgrad.grad(model, wrt="y"), wrt="x")(X, 1.5), 2 * np.cos(X) * 1.5 * 2)


def test_holomorphic_grad_by_name():
    def f(a, z):
        return a * z ** 3
    z = 0.3 + 0.7j
    assert s2sgrad.holomorphic_grad(f, wrt="z")(2.0, z) == pytest.approx(6.0 * z ** 2)


def test_methods_callable_objects_and_partials_by_name():
    class Spring:
        def __init__(self, k):
            self.k = k

        def energy(self, x, rest):
            return 0.5 * self.k * np.sum((x - rest) ** 2)

        def __call__(self, x, rest):
            return self.energy(x, rest)

    s = Spring(3.0)
    expected = fd_grad(s.energy, (X, Y), 1)
    close(s2sgrad.grad(s.energy, wrt="rest")(X, Y), expected)
    close(s2sgrad.grad(s, wrt="rest")(X, Y), expected)
    close(s2sgrad.grad(functools.partial(model, X), wrt="y")(Y), fd_grad(model, (X, Y), 1))


# ---------------------------------------------------------------------------
# Mistakes, reported when the operator is made
# ---------------------------------------------------------------------------

def two(x, y):
    return x * y


def kwonly(x, *, k=1.0):
    return x * k


def star(x, *rest):
    return x * sum(rest)


def starstar(x, **opts):
    return x


ALL = [s2sgrad.grad, s2sgrad.value_and_grad, s2sgrad.jvp, s2sgrad.vjp, s2sgrad.elementwise_grad,
       s2sgrad.jacobian, s2sgrad.hessian, s2sgrad.hvp, s2sgrad.holomorphic_grad]


def _refused(operator, fn, wrt):
    with pytest.raises(WrtError) as info:
        operator(fn, wrt=wrt)
    return str(info.value)


@pytest.mark.parametrize("operator", ALL, ids=lambda op: op.__name__)
def test_every_operator_refuses_a_bad_wrt_when_made(operator):
    name = operator.__name__
    msg = _refused(operator, two, 2)
    assert msg.startswith(f"{name}(two, wrt=2): position 2 is out of range."), msg
    assert "test_wrt.py:" in msg
    assert "'x' (position 0), 'y' (position 1)" in msg
    assert "write wrt='x' or wrt=0" in msg
    msg = _refused(operator, two, "z")
    assert f"{name}(two, wrt='z'): two has no parameter 'z'." in msg
    assert "'x' (position 0), 'y' (position 1)" in msg


def test_each_kind_of_mistake():
    msg = _refused(s2sgrad.grad, kwonly, "k")
    assert "'k' is a keyword-only parameter" in msg
    assert "grad(lambda x, k: kwonly(x, k=k), wrt='k')" in msg
    msg = _refused(s2sgrad.grad, star, "rest")
    assert "'rest' is the *rest parameter; give the position of the argument in it " \
           "(wrt=1 for the first)" in msg
    assert "'rest' is the **rest" not in msg
    msg = _refused(s2sgrad.grad, starstar, "opts")
    assert "'opts' is the **opts parameter" in msg
    assert "the position -1 is negative" in _refused(s2sgrad.grad, two, -1)
    assert "True is a bool" in _refused(s2sgrad.grad, two, True)
    assert "False is a bool" in _refused(s2sgrad.grad, two, (0, False))
    assert "'x' names argument 0 twice" in _refused(s2sgrad.grad, two, (0, "x"))
    assert "1 names argument 1 twice" in _refused(s2sgrad.jvp, two, (1, 1))
    assert "not float" in _refused(s2sgrad.grad, two, 1.0)
    assert "not NoneType" in _refused(s2sgrad.grad, two, None)
    assert "wrt=() asks for no derivative" in _refused(s2sgrad.grad, two, ())
    assert "jacobian differentiates with respect to one argument" in \
        _refused(s2sgrad.jacobian, two, ("x", "y"))
    assert "no positional parameter to differentiate" in \
        _refused(s2sgrad.grad, lambda: 1.0, 0)


def test_the_error_is_a_user_error_of_the_usual_kinds():
    with pytest.raises(ValueError):
        s2sgrad.grad(two, wrt="z")
    with pytest.raises(IndexError):          # as an out-of-range position was before
        s2sgrad.grad(two, wrt=5)
    assert issubclass(WrtError, s2sgrad.S2SGradError)


@pytest.mark.filterwarnings("ignore::s2sgrad.FallbackWarning")   # *args: traced
def test_positions_past_star_args_are_checked_by_the_call():
    g = s2sgrad.grad(star, wrt=2)                       # star(x, *rest): any position
    assert g(2.0, 3.0, 4.0) == pytest.approx(2.0)
    gs = s2sgrad.grad(star, wrt=(0, 1))(2.0, 3.0, 4.0)
    assert gs == pytest.approx((7.0, 2.0))


def test_a_bound_method_counts_from_its_first_argument():
    class Model:
        def loss(self, w, b):
            return np.sum(w ** 2) * b

    m = Model()
    msg = _refused(s2sgrad.grad, m.loss, "self")
    assert "Model.loss has no parameter 'self'" in msg
    assert "'w' (position 0), 'b' (position 1)" in msg
    assert s2sgrad.grad(m.loss, wrt="b")(X, 2.0) == pytest.approx(np.sum(X ** 2))


def test_a_numpy_function_by_its_parameter_name():
    g = s2sgrad.grad(np.arctan2, wrt="x2")(1.0, 2.0)
    assert g == pytest.approx(-1.0 / 5.0)
    assert "arctan2 has no parameter 'y'" in _refused(s2sgrad.grad, np.arctan2, "y")


def test_check_grads_takes_names_too():
    @s2sgrad.custom_vjp
    def wrong(x, y):
        return np.sum(x * y)

    wrong.defvjp(x=lambda g, ans, x, y: g * y, y=lambda g, ans, x, y: g * x * 2.0)   # y: wrong
    report = s2sgrad.check_grads(model, ("x", "y"), X, Y, order=1, modes=("rev",))
    assert report.checked == ["rev"]
    s2sgrad.check_grads(wrong, "x", X, Y, order=1, modes=("rev",))
    with pytest.raises(s2sgrad.GradientCheckError, match="y"):
        s2sgrad.check_grads(wrong, "y", X, Y, order=1, modes=("rev",))
    with pytest.raises(WrtError, match=r"check_grads\(two, wrt='z'\): two has no parameter 'z'"):
        s2sgrad.check_grads(two, "z", 1.0, 2.0)
