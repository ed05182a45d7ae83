"""The gradient with respect to an object is a copy of the object holding the gradients of its
array (and float) attributes, whatever the route: generated code, the tracing fallback, a traced
callee inside generated code; for plain objects, objects with ``__slots__`` and callable
objects (issue 15)."""

import copy
import dataclasses

import numpy as np
import pytest

import s2sgrad

pytestmark = pytest.mark.filterwarnings("ignore::s2sgrad.FallbackWarning")

EPS = 1e-6


class Params:
    def __init__(self, w, b):
        self.w = w
        self.b = b
        self.n = 3                  # not differentiable: kept as it is
        self.label = "layer"


class Slotted:
    __slots__ = ("w", "b", "n")

    def __init__(self, w, b):
        self.w = w
        self.b = b
        self.n = 3


class SlottedChild(Slotted):
    __slots__ = ("__extra",)        # a private slot (mangled), in a subclass

    def __init__(self, w, b):
        super().__init__(w, b)
        self.__extra = 0.0


class Model:
    """A callable object: ``model(x)``."""

    def __init__(self, w, b):
        self.w = w
        self.b = b
        self.n = 3

    def __call__(self, x):
        return np.sum(np.tanh(self.w * x + self.b))


@dataclasses.dataclass(frozen=True)
class Frozen:
    w: np.ndarray
    b: float


class Loss:
    """A callable object differentiated with respect to an object argument."""

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, p, x):
        return self.scale * np.sum(np.tanh(p.w * x + p.b))


def loss(p, x):
    return np.sum(np.tanh(p.w * x + p.b) ** 2)


def apply(m, x):
    return m(x) * 2.0


def untransformable(p, x):
    try:                                        # (try: traced, inside generated code)
        return np.sum(np.sin(p.w * x) * p.b)
    except ValueError:
        return 0.0


def calls_untransformable(p, x):
    y = untransformable(p, x) + np.sum(p.w * x)
    return y * 2.0


X = np.array([0.1, -0.2, 0.3])
W = np.array([1.0, 2.0, -0.5])


def _with(p, name, value):
    q = copy.copy(p)
    object.__setattr__(q, name, value)
    return q


def fd(f, p, x, names=("w", "b")):
    """Central finite differences with respect to each attribute in ``names``."""
    out = {}
    for name in names:
        v = getattr(p, name)
        if np.ndim(v) == 0:
            out[name] = (f(_with(p, name, v + EPS), x) - f(_with(p, name, v - EPS), x)) / (2 * EPS)
            continue
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            up, down = v.copy(), v.copy()
            up[i] += EPS
            down[i] -= EPS
            g[i] = (f(_with(p, name, up), x) - f(_with(p, name, down), x)) / (2 * EPS)
        out[name] = g
    return out


def _check(g, p, expected, kept=("n",)):
    assert type(g) is type(p)
    assert g is not p
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(g, name), value, rtol=1e-6, atol=1e-8)
    for name in kept:
        assert getattr(g, name) == getattr(p, name)
    assert np.array_equal(p.w, W) and p.b == 0.5          # the argument is left alone


KINDS = [Params, Slotted, SlottedChild, Model]


@pytest.mark.parametrize("fallback", ["auto", "always"])
@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_grad_and_value_and_grad(kind, fallback):
    p = kind(W.copy(), 0.5)
    expected = fd(loss, p, X)
    _check(s2sgrad.grad(loss, fallback=fallback)(p, X), p, expected)
    value, g = s2sgrad.value_and_grad(loss, fallback=fallback)(p, X)
    assert value == pytest.approx(loss(p, X))
    _check(g, p, expected)


@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_a_callable_object_called_by_the_function(fallback):
    m = Model(W.copy(), 0.5)
    expected = fd(apply, m, X)
    _check(s2sgrad.grad(apply, fallback=fallback)(m, X), m, expected)
    _check(s2sgrad.value_and_grad(apply, fallback=fallback)(m, X)[1], m, expected)
    _check(s2sgrad.grad(lambda m, x: m(x), fallback=fallback)(m, X), m,
           fd(lambda m, x: m(x), m, X))


@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_a_callable_object_differentiated_with_respect_to_an_object(fallback):
    p = Params(W.copy(), 0.5)
    f = Loss(2.0)
    _check(s2sgrad.grad(f, fallback=fallback)(p, X), p, fd(f, p, X), kept=("n", "label"))
    _check(s2sgrad.value_and_grad(f, fallback=fallback)(p, X)[1], p, fd(f, p, X))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_a_traced_callee_inside_generated_code(kind):
    p = kind(W.copy(), 0.5)
    _check(s2sgrad.grad(calls_untransformable)(p, X), p, fd(calls_untransformable, p, X))


@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_a_frozen_dataclass(fallback):
    p = Frozen(W.copy(), 0.5)
    _check(s2sgrad.grad(loss, fallback=fallback)(p, X), p, fd(loss, p, X), kept=())


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_jvp_and_vjp_with_an_object(kind):
    p = kind(W.copy(), 0.5)
    expected = fd(loss, p, X)
    tangent = kind(np.array([1.0, -1.0, 0.5]), 2.0)
    value, t_out = s2sgrad.jvp(loss)(p, X, tangent)
    assert value == pytest.approx(loss(p, X))
    assert t_out == pytest.approx(expected["w"] @ tangent.w + expected["b"] * tangent.b)
    value, backward = s2sgrad.vjp(loss)(p, X)
    _check(backward(1.0), p, expected)


class Layer:
    def __init__(self, w):
        self.w = w
        self.net = None             # set to the network holding it: a cycle


class Net:
    def __init__(self, w, c):
        self.layer = Layer(w)
        self.layer.net = self
        self.c = c
        import logging
        self.log = logging.getLogger("s2sgrad-test")     # a library object: not walked


def net_loss(net, x):
    return np.sum(np.tanh(net.layer.w * x)) * net.c


@pytest.mark.parametrize("fallback", ["auto", "always"])
def test_an_object_inside_an_object(fallback):
    net = Net(W.copy(), 1.5)
    g = s2sgrad.grad(net_loss, fallback=fallback)(net, X)
    assert type(g) is Net and type(g.layer) is Layer and g.layer is not net.layer
    expected_w = (1 - np.tanh(W * X) ** 2) * X * 1.5
    fd_w = fd(lambda layer, x: net_loss(_with(net, "layer", layer), x), net.layer, X, ("w",))
    np.testing.assert_allclose(expected_w, fd_w["w"], rtol=1e-6)
    np.testing.assert_allclose(g.layer.w, expected_w, rtol=1e-6)
    assert g.c == pytest.approx(fd(net_loss, net, X, ("c",))["c"])
    assert g.log is net.log
    assert net.layer.net is net and np.array_equal(net.layer.w, W)     # left alone
