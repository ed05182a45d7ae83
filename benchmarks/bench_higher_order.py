"""Issue 4 speed targets (run by hand: python benchmarks/bench_higher_order.py).

1. ``hvp`` of the 2-layer MLP loss of bench_core.py (784-256-10, batch 128)
   costs at most 5x the loss itself.
2. The fourth derivative of ``(1 - exp(-x)) / (1 + exp(-x))``, generated, is
   faster than Autograd's nested ``grad`` (the ratio is reported).
3. The emitted source of a fourth derivative stays readable: its line count,
   and how it grows with the order (common subexpressions are shared).

Reports medians of repeats, all in one process.
"""

import statistics
import time

import numpy as np

import s2sgrad
from bench_core import median_time, mlp_loss, report


def tanh_like(x):
    y = np.exp(-x)
    return (1.0 - y) / (1.0 + y)


def code_lines(src):
    """Lines of code in generated source: no comments, docstrings, imports or blank lines."""
    return sum(1 for ln in src.splitlines() if ln.strip() and not ln.strip().startswith(
        ("#", '"', "Returns", "import ", "from ")))


def tower(op, f, order):
    for _ in range(order):
        f = op(f)
    return f


def bench_hvp():
    print("hvp of the MLP loss (784-256-10, batch 128), with respect to the parameters")
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(scale=0.05, size=(784, 256)), "b1": np.zeros(256),
              "W2": rng.normal(scale=0.05, size=(256, 10)), "b2": np.zeros(10)}
    X = rng.normal(size=(128, 784))
    labels = np.eye(10)[rng.integers(0, 10, size=128)]
    v = {k: rng.normal(size=p.shape) for k, p in params.items()}
    hvp = s2sgrad.hvp(mlp_loss)
    hvp(params, X, labels, v)
    t_loss = median_time(lambda: mlp_loss(params, X, labels), repeat=30)
    calls = []

    def one_hvp():
        calls.append(1)
        return hvp(params, X, labels, v)
    faults = minor_faults()
    t_hvp = median_time(one_hvp, repeat=30)
    faults = minor_faults() - faults
    report("loss", t_loss, "ms")
    report("s2sgrad hvp", t_hvp, "ms")
    print(f"  hvp / loss: {t_hvp / t_loss:.2f}x (target <= 5x)")
    if faults >= 0:
        # Memory the allocator gives back to the system and faults in again on the next
        # call (a page at a time) costs as much as the arithmetic: it should be near 0.
        print(f"  page faults per hvp call: {faults / len(calls):.0f}")


def minor_faults():
    """Minor page faults of this process so far (-1 where the resource module is missing)."""
    try:
        import resource
    except ImportError:
        return -1
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def bench_fourth_derivative():
    print("fourth derivative of (1 - exp(-x)) / (1 + exp(-x)) at x = 0.3")
    x = 0.3
    nested_grad = tower(s2sgrad.grad, tanh_like, 4)
    nested_deriv = tower(s2sgrad.deriv, tanh_like, 4)
    value = nested_grad(x)
    assert abs(nested_deriv(x) - value) < 1e-10
    t_grad = median_time(lambda: nested_grad(x))
    t_deriv = median_time(lambda: nested_deriv(x))
    report("s2sgrad grad(grad(grad(grad(f))))", t_grad)
    report("s2sgrad deriv^4 (forward mode)", t_deriv)
    try:
        import autograd
        import autograd.numpy as anp

        def ag_tanh_like(x):
            y = anp.exp(-x)
            return (1.0 - y) / (1.0 + y)
        ag = tower(autograd.grad, ag_tanh_like, 4)
        assert abs(ag(x) - value) < 1e-10
        t_ag = median_time(lambda: ag(x))
        report("autograd grad(grad(grad(grad(f))))", t_ag)
        print(f"  speed-up over autograd: {t_ag / t_grad:.1f}x (nested grad), "
              f"{t_ag / t_deriv:.1f}x (forward mode)")
    except ImportError:
        print("  (autograd not installed: pip install autograd)")


def bench_source_size():
    print("emitted source of the k-th derivative (lines of code, comments and docstrings aside)")
    for name, op in (("grad", s2sgrad.grad), ("deriv", s2sgrad.deriv)):
        sizes, times = [], []
        for order in range(1, 7):
            t0 = time.perf_counter()
            src = op(tower(op, tanh_like, order - 1), emit=True)
            times.append(time.perf_counter() - t0)
            sizes.append(code_lines(src))
        growth = statistics.geometric_mean([b / a for a, b in zip(sizes, sizes[1:])])
        print(f"  {name:<6s} orders 1-6: {sizes} lines (x{growth:.1f} per order); "
              f"compile {sum(times):.1f} s in all")
        if name == "grad":
            fourth = op(tower(op, tanh_like, 3), emit=True)
            print(f"  the fourth derivative by nested grad: {len(fourth.splitlines())} lines of "
                  f"source, {code_lines(fourth)} of code")


def main():
    bench_hvp()
    bench_fourth_derivative()
    bench_source_size()


if __name__ == "__main__":
    main()
