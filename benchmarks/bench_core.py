"""Issue 2 speed targets (run by hand: python benchmarks/bench_core.py).

1. A scalar loop, 200 iterations of x = sin(x) * 1.01 + 0.1 * x: the gradient
   should be >= 10x faster than Autograd's and within 3x of the plain function.
2. A 2-layer tanh MLP with softmax cross-entropy (batch 128, 784-256-10): the
   gradient should cost at most 3x the forward pass.

Reports medians of repeats, all in one process.
"""

import statistics
import time

import numpy as np

import s2sgrad


def median_time(fn, repeat=30, number=None):
    if number is None:
        t0 = time.perf_counter()
        fn()
        once = time.perf_counter() - t0
        number = max(1, int(0.02 / max(once, 1e-9)))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def scalar_loop(x):
    for i in range(200):
        x = np.sin(x) * 1.01 + 0.1 * x
    return x


def mlp_loss(params, X, labels):
    h = np.tanh(X @ params["W1"] + params["b1"])
    logits = h @ params["W2"] + params["b2"]
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(log_probs * labels, axis=1))


def report(name, value, unit="us"):
    scale = 1e6 if unit == "us" else 1e3
    print(f"  {name:<38s} {value * scale:10.1f} {unit}")


def main():
    print("scalar loop, 200 iterations (x = 0.5)")
    g = s2sgrad.grad(scalar_loop)
    g(0.5)
    t_plain = median_time(lambda: scalar_loop(0.5))
    t_s2s = median_time(lambda: g(0.5))
    report("plain function", t_plain)
    report("s2sgrad gradient", t_s2s)
    try:
        import autograd
        import autograd.numpy as anp

        def ag_loop(x):
            for i in range(200):
                x = anp.sin(x) * 1.01 + 0.1 * x
            return x
        ga = autograd.grad(ag_loop)
        ga(0.5)
        t_ag = median_time(lambda: ga(0.5))
        report("autograd gradient", t_ag)
        print(f"  speed-up over autograd: {t_ag / t_s2s:.1f}x (target >= 10x)")
    except ImportError:
        print("  (autograd not installed: pip install autograd)")
    print(f"  gradient / plain: {t_s2s / t_plain:.2f}x (target <= 3x)")

    print("MLP 784-256-10, batch 128, softmax cross-entropy")
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(scale=0.05, size=(784, 256)), "b1": np.zeros(256),
              "W2": rng.normal(scale=0.05, size=(256, 10)), "b2": np.zeros(10)}
    X = rng.normal(size=(128, 784))
    labels = np.eye(10)[rng.integers(0, 10, size=128)]
    gm = s2sgrad.grad(mlp_loss)
    gm(params, X, labels)
    t_fwd = median_time(lambda: mlp_loss(params, X, labels), repeat=20)
    t_grad = median_time(lambda: gm(params, X, labels), repeat=20)
    report("forward (loss)", t_fwd, "ms")
    report("s2sgrad gradient", t_grad, "ms")
    print(f"  gradient / forward: {t_grad / t_fwd:.2f}x (target <= 3x)")


if __name__ == "__main__":
    main()
