"""The s2sgrad quick start: a loss with a loop, a branch and a helper function.

Run ``s2sgrad show examples/quickstart.py:loss`` to see its gradient's source, or
``python examples/quickstart.py [--out DIR] [--full]`` to compute it (see its --help).
"""

import numpy as np


def smooth_abs(v, eps=1e-3):
    return np.sqrt(v * v + eps)


def loss(w: "float64[n]", x: "float64[batch, n]", y: "float64[batch]", steps: int = 3):
    """A tiny recurrent model: the prediction is refined over a few steps."""
    h = x @ w
    for _ in range(steps):
        h = np.tanh(h) + 0.5 * h
    err = h - y
    if np.mean(err) > 0:
        err = err * 1.5
    return np.mean(smooth_abs(err))


if __name__ == "__main__":
    import argparse
    import os

    import s2sgrad

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="also check the gradient against central finite differences")
    parser.add_argument("--out", help="a directory to save the gradient's generated source in "
                                      "(quickstart_loss_grad.py; no figure: nothing is written "
                                      "without --out)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    w = rng.normal(size=3)
    x = rng.normal(size=(8, 3))
    y = rng.normal(size=8)
    print("loss:", loss(w, x, y))
    g = s2sgrad.grad(loss)(w, x, y)
    print("gradient:", g)
    if args.full:
        eps = 1e-6
        fd = np.array([(loss(w + eps * e, x, y) - loss(w - eps * e, x, y)) / (2 * eps)
                       for e in np.eye(3)])
        print("central finite differences:", fd)
        print("largest difference:", np.max(np.abs(g - fd)))
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, "quickstart_loss_grad.py")
        with open(path, "w") as f:
            f.write(s2sgrad.grad(loss, emit=True))
        print("wrote", path)
