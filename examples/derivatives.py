"""Derivatives of any order, the two figures of Autograd's seeds, by transforming generated code.

1. ``tanh.png``: ``(1 - exp(-x)) / (1 + exp(-x))`` and six derivatives, each
   ``grad`` of the one before (the function is ``tanh(x / 2)``).
2. ``sinc.png``: ``sin(x) / x`` and seven nested ``elementwise_grad`` on a
   ``linspace``.

Each derivative is generated source (``s2sgrad.grad(f, emit=True)`` shows it);
the derivative of a derivative transforms that source again.

Run ``python examples/derivatives.py [--out DIR] [--full]`` (``--full``: grids
five times finer).  Plotting needs matplotlib (``pip install -e '.[examples]'``);
without it, the derivatives are still computed and their ranges printed.
"""

import argparse
import os
import time

import numpy as np

import s2sgrad

__all__ = ["tanh_like", "sinc"]   # the functions differentiated (``s2sgrad gen`` reads this)


def tanh_like(x):
    y = np.exp(-x)
    return (1.0 - y) / (1.0 + y)


def sinc(x):
    return np.sin(x) / x


def tower(op, f, order):
    """``[f, op(f), op(op(f)), ...]``: ``order`` derivatives."""
    out = [f]
    for _ in range(order):
        out.append(op(out[-1]))
    return out


def tanh_curves(xs):
    """The function and six nested grads, one scalar at a time (as Autograd's figure does)."""
    return [np.array([f(float(x)) for x in xs]) for f in tower(s2sgrad.grad, tanh_like, 6)]


def sinc_curves(xs):
    """The function and seven nested elementwise_grads, on the whole array at once."""
    return [f(xs) for f in tower(s2sgrad.elementwise_grad, sinc, 7)]


def plot(xs, curves, title, path, ylim=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k, ys in enumerate(curves):
        ax.plot(xs, ys, label="f" if k == 0 else f"order {k}", linewidth=1.4)
    ax.set_title(title)
    ax.set_xlabel("x")
    if ylim:
        ax.set_ylim(*ylim)
    ax.axhline(0.0, color="0.8", linewidth=0.6, zorder=0)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="grids five times finer (1000 and 3500 points)")
    parser.add_argument("--out", default=".", help="directory for the PNGs (default: here)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNGs")
    args = parser.parse_args(argv)
    folder, scale = args.out, 5 if args.full else 1
    try:
        import matplotlib  # noqa: F401
        have_plots = not args.no_plot
    except ImportError:
        have_plots = False
        print("matplotlib is not installed: pip install matplotlib (or pip install -e "
              "'.[examples]'); computing the derivatives without plotting them")
    if have_plots:
        os.makedirs(folder, exist_ok=True)

    t0 = time.perf_counter()
    xs = np.linspace(-7.0, 7.0, 200 * scale)
    tanh = tanh_curves(xs)
    print(f"tanh-like function and 6 derivatives by nested grad: {time.perf_counter() - t0:.1f} s")
    for k, ys in enumerate(tanh):
        print(f"  order {k}: values in [{ys.min():+.3f}, {ys.max():+.3f}]")

    t0 = time.perf_counter()
    xs_sinc = np.linspace(-7.0, 7.0, 700 * scale)   # an even count: x = 0 is not on the grid
    sincs = sinc_curves(xs_sinc)
    print(f"sinc and 7 derivatives by nested elementwise_grad: {time.perf_counter() - t0:.1f} s")
    # Near 0 the derivatives of sin(x) / x, written as a quotient, cancel catastrophically
    # (the k-th has terms of size k! / x^(k+1)): leave that sliver out of the figure.
    near_zero = np.abs(xs_sinc) < 0.4
    sincs = [np.where(near_zero, np.nan, ys) if k else ys for k, ys in enumerate(sincs)]

    if have_plots:
        plot(xs, tanh, "(1 - exp(-x)) / (1 + exp(-x)) and six derivatives (nested grad)",
             os.path.join(folder, "tanh.png"))
        plot(xs_sinc, sincs, "sin(x) / x and seven derivatives (nested elementwise_grad)",
             os.path.join(folder, "sinc.png"), ylim=(-1.0, 1.0))
        print(f"wrote {os.path.join(folder, 'tanh.png')} and {os.path.join(folder, 'sinc.png')}")
    print("the fourth derivative's generated source: "
          "s2sgrad.grad(<third derivative>, emit=True); its first lines:")
    third = tower(s2sgrad.grad, tanh_like, 3)[-1]
    print("\n".join(s2sgrad.grad(third, emit=True).splitlines()[:16]))
    return tanh, sincs


if __name__ == "__main__":
    main()
