"""Small gradient-based optimisers for parameters held in nested containers.

The signatures follow Autograd's ``autograd.misc.optimizers``, so code written
for those runs unchanged::

    from s2sgrad.optim import adam

    params = {"W": np.zeros((3, 2)), "b": np.zeros(2)}   # any nesting of dicts, lists, tuples
    gradient = s2sgrad.grad(loss)

    def objective_grad(params, i):                      # i: the iteration, e.g. to pick a batch
        return gradient(params, x_batch(i), y_batch(i))

    params = adam(objective_grad, params, num_iters=500, step_size=0.01)

``grad(x, i)`` must return a gradient with the structure of ``x`` (which is what
``s2sgrad.grad`` returns for a container argument).  ``callback(x, i, g)``, if
given, is called before each step with the current parameters, the iteration
and the gradient; use it to print progress.  The parameters are never modified
in place: each step builds new arrays, so the ``x`` a callback receives can be
kept.  The result has the structure and leaf types of ``x0`` (a float stays a
float, an array an array, a tuple a tuple).

Complex parameters are stepped along ``-conj(g)``, the descent direction under
s2sgrad's (Autograd's) convention for the gradient of a real function of
complex values.

This module is plain NumPy: the optimisers are not differentiated and not part
of the generated code.
"""

from collections import OrderedDict

import numpy as np

__all__ = ["sgd", "rmsprop", "adam"]


def _flatten(x, path="x"):
    """``(leaves, rebuild)``: the float/array leaves of ``x`` and a function putting new ones back."""
    if isinstance(x, dict):
        keys = list(x)
        parts = [_flatten(x[k], f"{path}[{k!r}]") for k in keys]
        kind = type(x) if type(x) in (dict, OrderedDict) else dict
        return _join(parts, lambda items: kind(zip(keys, items)))
    if isinstance(x, (list, tuple)):
        parts = [_flatten(v, f"{path}[{i}]") for i, v in enumerate(x)]
        if isinstance(x, tuple) and hasattr(x, "_fields"):        # a namedtuple
            return _join(parts, lambda items: type(x)(*items))
        return _join(parts, lambda items: type(x)(items))
    if isinstance(x, (bool, str, bytes)) or x is None:
        raise TypeError(f"optimiser parameter {path} is {type(x).__name__} {x!r}; "
                        f"parameters must be floats or arrays of floats")
    if isinstance(x, (int, float, complex, np.number)):
        kind = complex if isinstance(x, (complex, np.complexfloating)) else float
        return [np.asarray(x, dtype=kind)], lambda leaves: kind(leaves[0])
    arr = np.asarray(x)
    if arr.dtype.kind not in "fc":
        arr = arr.astype(float)
    return [arr], lambda leaves: leaves[0]


def _join(parts, make):
    leaves, counts, rebuilds = [], [], []
    for p_leaves, p_rebuild in parts:
        leaves.extend(p_leaves)
        counts.append(len(p_leaves))
        rebuilds.append(p_rebuild)

    def rebuild(new):
        items, start = [], 0
        for n, r in zip(counts, rebuilds):
            items.append(r(new[start:start + n]))
            start += n
        return make(items)
    return leaves, rebuild


def _grad_leaves(g, like, i):
    """The leaves of gradient ``g``, checked against the parameter leaves ``like``."""
    leaves, _ = _flatten(g, "gradient")
    if len(leaves) != len(like):
        raise ValueError(f"iteration {i}: the gradient has {len(leaves)} arrays but the "
                         f"parameters have {len(like)}; grad(x, i) must return the "
                         f"structure of x")
    out = []
    for k, (gl, xl) in enumerate(zip(leaves, like)):
        if gl.shape != xl.shape:
            raise ValueError(f"iteration {i}: gradient leaf {k} has shape {gl.shape}, "
                             f"its parameter {xl.shape}")
        out.append(np.conj(gl) if np.iscomplexobj(xl) else np.real(gl))
    return out


def _run(update, grad, x0, callback, num_iters):
    x, rebuild = _flatten(x0)
    for i in range(num_iters):
        params = rebuild(x)
        g_tree = grad(params, i)
        g = _grad_leaves(g_tree, x, i)
        if callback is not None:
            callback(params, i, g_tree)
        x = update(x, g, i)
    return rebuild(x)


def sgd(grad, x0, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    """Stochastic gradient descent with momentum ``mass`` (0 for plain gradient descent)."""
    velocity = None

    def update(x, g, i):
        nonlocal velocity
        if velocity is None:
            velocity = [np.zeros_like(v) for v in x]
        velocity = [mass * v - (1.0 - mass) * gi for v, gi in zip(velocity, g)]
        return [xi + step_size * v for xi, v in zip(x, velocity)]
    return _run(update, grad, x0, callback, num_iters)


def rmsprop(grad, x0, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=1e-8):
    """Root-mean-square propagation: steps scaled by a running average of squared gradients."""
    avg_sq = None

    def update(x, g, i):
        nonlocal avg_sq
        if avg_sq is None:
            avg_sq = [np.ones(v.shape) for v in x]
        avg_sq = [gamma * a + (1.0 - gamma) * np.abs(gi) ** 2 for a, gi in zip(avg_sq, g)]
        return [xi - step_size * gi / (np.sqrt(a) + eps) for xi, gi, a in zip(x, g, avg_sq)]
    return _run(update, grad, x0, callback, num_iters)


def adam(grad, x0, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma and Ba, 2015): momentum and per-parameter step sizes, bias-corrected."""
    m = v = None

    def update(x, g, i):
        nonlocal m, v
        if m is None:
            m = [np.zeros_like(xi) for xi in x]
            v = [np.zeros(xi.shape) for xi in x]
        m = [(1.0 - b1) * gi + b1 * mi for gi, mi in zip(g, m)]
        v = [(1.0 - b2) * np.abs(gi) ** 2 + b2 * vi for gi, vi in zip(g, v)]
        c1 = 1.0 - b1 ** (i + 1)
        c2 = 1.0 - b2 ** (i + 1)
        return [xi - step_size * (mi / c1) / (np.sqrt(vi / c2) + eps)
                for xi, mi, vi in zip(x, m, v)]
    return _run(update, grad, x0, callback, num_iters)
