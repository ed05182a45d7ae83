"""Per-operation overhead of the tracing fallback against Autograd (run by hand).

    python benchmarks/bench_fallback.py [--iters 200] [--repeat 15]

Times the gradient (forward pass + backward pass) of the scalar loop of the
core benchmark, ``x = np.sin(x) * 1.01 + 0.1 * x`` (4 primitives per
iteration), with ``s2sgrad.fallback.trace_vjp``, through the API with
``fallback="always"`` (what a user whose function cannot be transformed gets),
in mixed mode (generated code calling a traced callee once per iteration),
as generated code, and with ``autograd.grad``; reports the medians, the time
per primitive and the ratios to Autograd.
"""

import argparse
import statistics
import time

import numpy as np

import warnings

import s2sgrad
from s2sgrad.fallback import trace_jvp, trace_vjp


def loop(x, iters):
    for _ in range(iters):
        x = np.sin(x) * 1.01 + 0.1 * x
    return x


def untransformable_step(x):
    try:                        # a try statement: this function is traced
        return np.sin(x) * 1.01 + 0.1 * x
    except ValueError:
        return x


def mixed_loop(x, iters):
    for _ in range(iters):      # generated code ...
        x = untransformable_step(x)   # ... calling a traced callee
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

    api_grad = s2sgrad.grad(loop, fallback="always")
    gen_grad = s2sgrad.grad(loop)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", s2sgrad.FallbackWarning)
        mixed_grad = s2sgrad.grad(mixed_loop)
        mixed_grad(x0, n)
    assert np.isclose(api_grad(x0, n), gen_grad(x0, n), rtol=1e-12)
    assert np.isclose(mixed_grad(x0, n), gen_grad(x0, n), rtol=1e-12)
    rows = [("s2sgrad fallback, reverse (trace_vjp + backward)",
             _median_time(s2s_grad, opts.repeat)),
            ("s2sgrad.grad(f, fallback='always')", _median_time(lambda: api_grad(x0, n),
                                                                opts.repeat)),
            ("mixed: generated loop, traced callee", _median_time(lambda: mixed_grad(x0, n),
                                                                  opts.repeat)),
            ("s2sgrad fallback, forward (trace_jvp)", _median_time(s2s_fwd, opts.repeat)),
            ("s2sgrad generated code (for reference)", _median_time(lambda: gen_grad(x0, n),
                                                                    opts.repeat))]
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
        print(f"  ratio s2sgrad reverse / autograd: {rows[0][1] / ag:.2f} (trace_vjp), "
              f"{rows[1][1] / ag:.2f} (grad with fallback='always'), "
              f"{rows[2][1] / ag:.2f} (mixed mode)")


if __name__ == "__main__":
    main()
