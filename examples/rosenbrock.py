"""Minimise the Rosenbrock function with SciPy, using s2sgrad for the derivatives.

Two classic uses of automatic derivatives with ``scipy.optimize.minimize``:

* L-BFGS with ``jac=s2sgrad.grad(rosenbrock)``: the exact gradient instead of
  SciPy's finite-difference estimate (which costs n extra evaluations a step);
* Newton-CG with ``hessp``, a Hessian-vector product: second-order steps
  without ever forming the n-by-n Hessian.  ``s2sgrad.hvp`` computes it by
  forward-over-reverse differentiation when this version of s2sgrad has it;
  otherwise this script says so and uses central differences of the s2sgrad
  gradient, ``(g(x + h v) - g(x - h v)) / (2 h)``, instead.

    python examples/rosenbrock.py                # 2-D (with a plot of the path) and 100-D
    python examples/rosenbrock.py --full         # 2-D and 1000-D
    python examples/rosenbrock.py --hessp fd     # force the finite-difference product
    s2sgrad show examples/rosenbrock.py:rosenbrock

Writes ``rosenbrock_paths.png`` to ``--out`` (default: the current directory).
Plotting needs matplotlib: ``pip install 's2sgrad[examples]'``.
"""

__all__ = ["rosenbrock"]  # what `s2sgrad gen` differentiates; main, plotting and data loading are not

import argparse
import os
import time

import numpy as np
from scipy.optimize import minimize

import s2sgrad


def rosenbrock(x: "float64[n]"):
    """The n-dimensional Rosenbrock function; its minimum is 0 at x = (1, ..., 1)."""
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def hessian_vector_product(f, mode="auto", eps=1e-5):
    """``hessp(x, v)`` for SciPy: ``s2sgrad.hvp`` if available, else differences of the gradient.

    Returns ``(hessp, how)`` where ``how`` says which one it is.
    """
    if mode == "hvp" or (mode == "auto" and hasattr(s2sgrad, "hvp")):
        if not hasattr(s2sgrad, "hvp"):
            raise RuntimeError("this version of s2sgrad has no hvp; use --hessp fd")
        return s2sgrad.hvp(f), "s2sgrad.hvp (forward-over-reverse)"
    gradient = s2sgrad.grad(f)

    def hessp(x, v):
        norm = np.linalg.norm(v)
        if norm == 0.0:
            return np.zeros_like(v)
        h = eps * max(1.0, np.linalg.norm(x)) / norm      # a step of relative size eps
        return (gradient(x + h * v) - gradient(x - h * v)) / (2 * h)
    return hessp, "central differences of s2sgrad.grad"


def solve(n, method, hessp_mode="auto", start=None, verbose=True):
    """Minimise the ``n``-dimensional Rosenbrock function; returns SciPy's result, with its path."""
    x0 = np.full(n, -1.2) if start is None else np.asarray(start, dtype=float)
    if start is None:
        x0[1::2] = 1.0                     # the classic starting point (-1.2, 1, -1.2, 1, ...)
    options = {"jac": s2sgrad.grad(rosenbrock)}
    how = "exact gradient"
    if method == "Newton-CG":
        options["hessp"], how = hessian_vector_product(rosenbrock, hessp_mode)
    path = [x0.copy()]
    t0 = time.perf_counter()
    tolerance = {"xtol": 1e-10} if method == "Newton-CG" else {"gtol": 1e-10, "ftol": 1e-15, "maxfun": 100000}
    result = minimize(rosenbrock, x0, method=method, callback=lambda x: path.append(x.copy()),
                      options={"maxiter": 20000, **tolerance}, **options)
    result.seconds = time.perf_counter() - t0
    result.path = np.array(path)
    result.how = how
    if verbose:
        print(f"{n:6d}-D {method:10s} ({how}): f = {result.fun:.2e}, "
              f"max |x - 1| = {np.max(np.abs(result.x - 1)):.1e}, {result.nit} iterations, "
              f"{result.nfev} evaluations, {result.njev} gradients"
              + (f", {result.nhev} Hessian-vector products" if method == "Newton-CG" else "")
              + f", {result.seconds:.2f} s", flush=True)
    return result


def plot(results, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    xs, ys = np.meshgrid(np.linspace(-2, 2, 300), np.linspace(-1, 3, 300))
    zs = 100.0 * (ys - xs ** 2) ** 2 + (1.0 - xs) ** 2
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.contour(xs, ys, np.log10(zs + 1e-3), levels=20, cmap="Greys", linewidths=0.7)
    for name, result in results.items():
        ax.plot(result.path[:, 0], result.path[:, 1], ".-", label=f"{name}: {result.nit} steps")
    ax.plot([1], [1], "k*", ms=12)
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.legend()
    ax.set_title("Rosenbrock: the paths of the two methods")
    fig.tight_layout()
    path = os.path.join(out_dir, "rosenbrock_paths.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true", help="a 1000-dimensional problem")
    parser.add_argument("--dim", type=int, help="override the dimension of the big problem")
    parser.add_argument("--hessp", choices=("auto", "hvp", "fd"), default="auto",
                        help="the Hessian-vector product for Newton-CG (default: hvp if "
                             "s2sgrad has it, else finite differences of the gradient)")
    parser.add_argument("--out", default=".", help="directory for the PNG (default: here)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    args = parser.parse_args(argv)
    if args.hessp == "auto" and not hasattr(s2sgrad, "hvp"):
        print("note: this s2sgrad has no hvp yet; Newton-CG uses central differences of "
              "the s2sgrad gradient for its Hessian-vector products")
    dim = args.dim or (1000 if args.full else 100)
    results = {}
    for n in (2, dim):
        for method in ("L-BFGS-B", "Newton-CG"):
            results[(n, method)] = solve(n, method, args.hessp)
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        print("wrote", plot({m: r for (n, m), r in results.items() if n == 2}, args.out))
    return results


if __name__ == "__main__":
    main()
