"""s2sgrad.optim: the small optimisers, on nested containers, against Autograd's."""

import collections

import numpy as np
import pytest

import s2sgrad
from s2sgrad import optim

OPTIMISERS = [
    ("sgd", dict(num_iters=60, step_size=0.1, mass=0.9)),
    ("rmsprop", dict(num_iters=60, step_size=0.05)),
    ("adam", dict(num_iters=60, step_size=0.05)),
]


def quadratic(params, target):
    """A loss over a dict holding a list, a tuple, an array and a float."""
    total = 0.0
    for w, t in zip(params["layers"], target["layers"]):
        total = total + np.sum((w - t) ** 2)
    total = total + np.sum((params["pair"][0] - target["pair"][0]) ** 2)
    total = total + (params["pair"][1] - target["pair"][1]) ** 2
    total = total + (params["scale"] - target["scale"]) ** 2
    return total


def _problem():
    rng = np.random.default_rng(0)
    x0 = {"layers": [rng.normal(size=(3, 2)), rng.normal(size=4)],
          "pair": (rng.normal(size=2), 0.5),
          "scale": 2.0}
    target = {"layers": [np.ones((3, 2)), -np.ones(4)],
              "pair": (np.array([0.5, -0.5]), -1.0),
              "scale": 0.25}
    return x0, target


def quadratic_grad(params, target):
    """The gradient of ``quadratic`` written by hand, so these tests check only the optimisers."""
    return {"layers": [2 * (w - t) for w, t in zip(params["layers"], target["layers"])],
            "pair": (2 * (params["pair"][0] - target["pair"][0]),
                     2 * (params["pair"][1] - target["pair"][1])),
            "scale": 2 * (params["scale"] - target["scale"])}


def _leaves(x):
    if isinstance(x, dict):
        return [leaf for k in x for leaf in _leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _leaves(v)]
    return [x]


@pytest.mark.parametrize("name,options", OPTIMISERS)
def test_matches_autograd_and_keeps_structure(name, options):
    from autograd.misc import optimizers as ag_optimizers
    x0, target = _problem()
    ours = getattr(optim, name)(lambda x, i: quadratic_grad(x, target), x0, **options)
    theirs = getattr(ag_optimizers, name)(lambda x, i: quadratic_grad(x, target), x0, **options)
    # same structure and leaf types as x0: a tuple stays a tuple, a float a float
    assert isinstance(ours["layers"], list) and isinstance(ours["pair"], tuple)
    assert type(ours["scale"]) is float and type(ours["pair"][1]) is float
    assert ours["layers"][0].shape == (3, 2)
    for a, b in zip(_leaves(ours), _leaves(theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    # and it optimised: the loss fell by orders of magnitude
    assert quadratic(ours, target) < 1e-2 * quadratic(x0, target)


def test_callback_sees_every_iteration_and_inputs_are_not_modified():
    x0, target = _problem()
    before = [np.copy(leaf) for leaf in _leaves(x0)]
    seen = []

    def callback(x, i, g):
        seen.append((i, quadratic(x, target), x))
        assert set(g) == {"layers", "pair", "scale"}
    out = optim.adam(lambda x, i: quadratic_grad(x, target), x0, callback=callback,
                     num_iters=25, step_size=0.1)
    assert [s[0] for s in seen] == list(range(25))
    assert seen[-1][1] < seen[0][1] / 10
    # parameters handed to the callback are snapshots, not buffers reused later
    assert quadratic(seen[0][2], target) == pytest.approx(seen[0][1])
    for a, b in zip(before, _leaves(x0)):
        np.testing.assert_array_equal(a, b)
    assert quadratic(out, target) < seen[-1][1]


def test_iteration_index_reaches_grad():
    calls = []

    def grad(x, i):
        calls.append(i)
        return 2 * x
    optim.sgd(grad, np.ones(3), num_iters=5)
    assert calls == [0, 1, 2, 3, 4]


def test_namedtuple_and_ordered_dict_kept():
    Params = collections.namedtuple("Params", "w b")
    x0 = collections.OrderedDict(a=Params(np.ones(2), 1.0))
    out = optim.sgd(lambda x, i: collections.OrderedDict(a=Params(2 * x["a"].w, 2 * x["a"].b)),
                    x0, num_iters=100, step_size=0.1, mass=0.0)
    assert type(out) is collections.OrderedDict and type(out["a"]) is Params
    assert abs(out["a"].b) < 1e-3 and np.all(np.abs(out["a"].w) < 1e-3)


def test_with_s2sgrad_gradients_of_a_model_in_a_dict_of_lists():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 3))
    y = np.tanh(x @ np.array([1.0, -2.0, 0.5]) + 0.3)

    def loss(params, x, y):
        h = x
        for layer in params["layers"]:
            h = np.tanh(h @ layer["w"] + layer["b"])
        return np.mean((h[:, 0] - y) ** 2)
    params = {"layers": [{"w": 0.5 * rng.normal(size=(3, 4)), "b": np.zeros(4)},
                         {"w": 0.5 * rng.normal(size=(4, 1)), "b": np.zeros(1)}]}
    gradient = s2sgrad.grad(loss)
    trained = optim.adam(lambda p, i: gradient(p, x, y), params, num_iters=300, step_size=0.02)
    assert loss(trained, x, y) < 0.05 * loss(params, x, y)


def test_complex_parameters_descend_along_the_conjugate():
    target = np.array([1 + 2j, -0.5j])

    def loss(z):
        return np.sum(np.abs(z - target) ** 2)
    gradient = s2sgrad.grad(loss)
    z = optim.adam(lambda z, i: gradient(z), np.zeros(2, complex), num_iters=300,
                   step_size=0.05)
    np.testing.assert_allclose(z, target, atol=1e-2)


def test_structure_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="the gradient has 1 arrays but the parameters have 2"):
        optim.adam(lambda x, i: x[0], [np.ones(2), np.ones(3)], num_iters=1)
    with pytest.raises(ValueError, match="shape"):
        optim.adam(lambda x, i: np.ones(4), np.ones(3), num_iters=1)
    with pytest.raises(TypeError, match="floats or arrays of floats"):
        optim.adam(lambda x, i: x, {"name": "w"}, num_iters=1)
