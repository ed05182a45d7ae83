"""The s2sgrad quick start: a loss with a loop, a branch and a helper function.

Run ``s2sgrad show examples/quickstart.py:loss`` to see its gradient's source,
or ``python examples/quickstart.py`` to compute it.
"""

import numpy as np


def smooth_abs(v, eps=1e-3):
    return np.sqrt(v * v + eps)


def loss(w, x, y, steps=3):
    """A tiny recurrent model: the prediction is refined over a few steps."""
    h = x @ w
    for _ in range(steps):
        h = np.tanh(h) + 0.5 * h
    err = h - y
    if np.mean(err) > 0:
        err = err * 1.5
    return np.mean(smooth_abs(err))


if __name__ == "__main__":
    import s2sgrad

    rng = np.random.default_rng(0)
    w = rng.normal(size=3)
    x = rng.normal(size=(8, 3))
    y = rng.normal(size=8)
    print("loss:", loss(w, x, y))
    print("gradient:", s2sgrad.grad(loss)(w, x, y))
