"""Issue 4 speed targets (run by hand: python benchmarks/bench_higher_order.py).

1. ``hvp`` of the 2-layer MLP loss of bench_core.py (784-256-10, batch 128)
   costs at most 5x the loss itself.
2. The fourth derivative of ``(1 - exp(-x)) / (1 + exp(-x))``, generated, is
   faster than Autograd's nested ``grad`` (the ratio is reported).
3. The emitted source of a fourth derivative stays readable: its line count,
   and how it grows with the order (common subexpressions are shared).
4. Jacobians and Hessians by one batched sweep (all directions at once) against
   one sweep per direction and against Autograd.

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


def wide(x, W):
    return np.sum(np.tanh(W @ x) ** 2) + np.sum(x ** 4) / 4.0


def squash(x, W):
    return np.tanh(W @ x) * np.sum(x ** 2)


def bench_matrices():
    print("jacobian and hessian: one batched sweep against one sweep per direction")
    rng = np.random.default_rng(1)
    n = 100
    x, W = rng.normal(size=n), rng.normal(size=(n, n)) / n ** 0.5
    H = s2sgrad.hessian(wide)
    hvp = s2sgrad.hvp(wide)
    eye = np.eye(n)
    per_column = lambda: np.stack([hvp(x, W, e) for e in eye], axis=-1)  # noqa: E731
    assert np.allclose(H(x, W), per_column())
    t_batched = median_time(lambda: H(x, W), repeat=10)
    t_columns = median_time(per_column, repeat=5)
    report(f"s2sgrad hessian, n = {n} (batched)", t_batched, "ms")
    report(f"s2sgrad hvp per column, n = {n}", t_columns, "ms")
    Wr = rng.normal(size=(10, 500)) / 500 ** 0.5
    xr = rng.normal(size=500)
    J = s2sgrad.jacobian(squash)
    vjp = s2sgrad.vjp(squash)
    per_row = lambda: np.stack([vjp(xr, Wr)[1](e) for e in np.eye(10)])  # noqa: E731
    assert np.allclose(J(xr, Wr), per_row())
    t_rows = median_time(lambda: J(xr, Wr), repeat=10)
    t_per_row = median_time(per_row, repeat=10)
    report("s2sgrad jacobian 500 -> 10 (batched rows)", t_rows, "ms")
    report("s2sgrad vjp per row, 500 -> 10", t_per_row, "ms")
    print(f"  batched / per direction: hessian {t_batched / t_columns:.2f}, "
          f"jacobian rows {t_rows / t_per_row:.2f}")
    try:
        import autograd
        import autograd.numpy as anp

        def ag_wide(x, W):
            return anp.sum(anp.tanh(W @ x) ** 2) + anp.sum(x ** 4) / 4.0

        def ag_squash(x, W):
            return anp.tanh(W @ x) * anp.sum(x ** 2)
        agH, agJ = autograd.hessian(ag_wide), autograd.jacobian(ag_squash)
        assert np.allclose(agH(x, W), H(x, W)) and np.allclose(agJ(xr, Wr), J(xr, Wr))
        t_agH = median_time(lambda: agH(x, W), repeat=5)
        t_agJ = median_time(lambda: agJ(xr, Wr), repeat=10)
        report(f"autograd hessian, n = {n}", t_agH, "ms")
        report("autograd jacobian 500 -> 10", t_agJ, "ms")
        print(f"  speed-up over autograd: hessian {t_agH / t_batched:.1f}x, "
              f"jacobian {t_agJ / t_rows:.1f}x")
    except ImportError:
        print("  (autograd not installed: pip install autograd)")


def main():
    bench_matrices()
    bench_hvp()
    bench_fourth_derivative()
    bench_source_size()


if __name__ == "__main__":
    main()
