"""Time the reverse rules of heavy primitives against the primitives themselves.

Run by hand (it is not a test):  python benchmarks/bench_rules.py [--quick]

For each primitive, at sizes where array work dominates, this prints the
time of one call of the function, the time of its reverse rule for every
differentiable argument (the rule as the tracer calls it; generated code
inlines the same statements), and their ratio.  The target is a ratio of at
most 3 per argument.
"""

import sys
import time

import numpy as np
import scipy.special

from s2sgrad.rules import registry


def _best(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _spd(n, rng):
    x = rng.standard_normal((n, n))
    return x @ x.T + n * np.eye(n)


def cases(quick):
    rng = np.random.default_rng(0)
    n = 300 if quick else 800
    yield "matmul", np.matmul, [rng.standard_normal((n, n)), rng.standard_normal((n, n))], {}
    yield "solve", np.linalg.solve, [rng.standard_normal((n, n)) + n ** 0.5 * np.eye(n),
                                     rng.standard_normal((n, n))], {}
    yield "cholesky", np.linalg.cholesky, [_spd(n, rng)], {}
    yield "svd", np.linalg.svd, [rng.standard_normal((n, n // 2))], {"full_matrices": False}
    yield "svd (values)", np.linalg.svd, [rng.standard_normal((n, n // 2))], {"compute_uv": False}
    m = 512 if quick else 2048
    yield "fft2", np.fft.fft2, [rng.standard_normal((m, m)) + 1j * rng.standard_normal((m, m))], {}
    yield "logsumexp", scipy.special.logsumexp, [rng.standard_normal((m, m))], {"axis": 1}
    if hasattr(np, "einsum") and registry.lookup(np.einsum) is not None:
        k = 200 if quick else 400
        yield "einsum", np.einsum, ["ij,jk->ik", rng.standard_normal((k, k)),
                                    rng.standard_normal((k, k))], {}


def _seed(ans, rng):
    if isinstance(ans, tuple):
        return [_seed(a, rng) for a in ans]
    return rng.standard_normal(np.shape(ans)) + (1j * rng.standard_normal(np.shape(ans))
                                                 if np.iscomplexobj(ans) else 0)


def main():
    quick = "--quick" in sys.argv
    repeat = 3 if quick else 5
    rng = np.random.default_rng(1)
    print(f"{'primitive':<14} {'argument':<10} {'function s':>11} {'reverse s':>11} {'ratio':>7}")
    for name, fn, args, kwargs in cases(quick):
        found = registry.lookup(fn)
        if found is None:
            print(f"{name:<14} (no rule)")
            continue
        prim, xp = found
        bound = prim.bind(args, kwargs)
        ans = fn(*args, **kwargs)
        g = _seed(ans, rng)
        t_fn = _best(lambda: fn(*args, **kwargs), repeat)
        for param in [p for p in prim.params if p in prim.vjp]:
            if param not in bound or isinstance(bound[param], str):
                continue
            rule = prim.vjp[param]
            t_rule = _best(lambda: registry.apply_rule(prim, rule, xp or np, g, ans, bound), repeat)
            print(f"{name:<14} {param:<10} {t_fn:>11.4f} {t_rule:>11.4f} {t_rule / t_fn:>7.2f}")


if __name__ == "__main__":
    main()
