"""Per-operation overhead of the tracing fallback against Autograd (run by hand).

    python benchmarks/bench_fallback.py [--iters 200] [--repeat 15]

Times the gradient (forward pass + backward pass) of a scalar loop
``x = np.sin(x) * 1.01 + 0.1 * x`` (4 primitives per iteration) with
``s2sgrad.fallback.trace_vjp`` and with ``autograd.grad``, and reports the
medians, the time per primitive and the ratio.
"""

import argparse
import statistics
import time

import numpy as np

from s2sgrad.fallback import trace_jvp, trace_vjp


def loop(x, iters):
    for _ in range(iters):
        x = np.sin(x) * 1.01 + 0.1 * x
    return x


def _median_time(fn, repeat, number=3):
    fn()  # warm up (rule loading, caches)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=15)
    opts = parser.parse_args()
    n, x0 = opts.iters, 0.5
    ops = 4 * n

    def s2s_grad():
        _, backward = trace_vjp(loop, (x0, n), {}, (0,))
        return backward(1.0)[0]

    def s2s_fwd():
        return trace_jvp(loop, (x0, n), {}, (0,), (1.0,))[1]

    rows = [("s2sgrad fallback, reverse (trace_vjp + backward)",
             _median_time(s2s_grad, opts.repeat)),
            ("s2sgrad fallback, forward (trace_jvp)", _median_time(s2s_fwd, opts.repeat))]
    plain = _median_time(lambda: loop(x0, n), opts.repeat)

    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        autograd = None
    if autograd is not None:
        def ag_loop(x):
            for _ in range(n):
                x = anp.sin(x) * 1.01 + 0.1 * x
            return x
        ag_grad = autograd.grad(ag_loop)
        ag = _median_time(lambda: ag_grad(x0), opts.repeat)
        rows.append(("autograd.grad", ag))
        assert np.isclose(s2s_grad(), ag_grad(x0), rtol=1e-12, atol=0.0)

    print(f"gradient of a {n}-iteration scalar loop ({ops} primitives), median of {opts.repeat}:")
    print(f"  {'plain NumPy (no derivative)':50s} {plain * 1e3:8.3f} ms")
    for name, t in rows:
        print(f"  {name:50s} {t * 1e3:8.3f} ms   {t / ops * 1e6:6.2f} us/primitive")
    if autograd is not None:
        print(f"  ratio s2sgrad reverse / autograd: {rows[0][1] / ag:.2f}")


if __name__ == "__main__":
    main()
