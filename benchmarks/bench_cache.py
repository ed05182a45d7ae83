"""Issue 5: what ``grad(f)`` costs cold (transform) and warm (cache hits).

Run by hand: python benchmarks/bench_cache.py

``loss`` below is a 50-line function with loops, a branch and calls to three
helpers.  The figures are the cost of getting a compiled gradient, not of
running it (reported separately):

  cold              transform + compile (no cache at all)
  memo hit          the same function again in the same process
  memory hit        a new function object with the same source (a notebook cell run again)
  disk hit          the same function after the in-process caches are emptied
  fresh process     the first grad(f)(...) call in a new interpreter, cold vs from disk
                    (includes importing the compiler when it has to transform)

Medians of repeats, in one process except the last line.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import s2sgrad  # noqa: E402
from s2sgrad import api  # noqa: E402
from s2sgrad.driver import cache  # noqa: E402

DECAY = 0.9


def dense(W, b, h):
    return np.tanh(h @ W + b)


def penalty(W, scale):
    total = 0.0
    for i in range(W.shape[0]):
        total = total + scale * np.sum(W[i] ** 2)
    return total


def softmax_xent(logits, labels):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(np.sum(log_probs * labels, axis=1))


def loss(params, X, labels, steps=3, reg=1e-3):
    """A small recurrent classifier: 50 lines with loops, a branch and calls."""
    W1 = params["W1"]
    b1 = params["b1"]
    W2 = params["W2"]
    b2 = params["b2"]
    U = params["U"]
    h = dense(W1, b1, X)
    state = np.zeros_like(h)
    for t in range(steps):
        mixed = h + state @ U
        state = DECAY * state + (1.0 - DECAY) * np.tanh(mixed)
        if t % 2 == 1:
            state = state * 0.5 + 0.5 * h
    pooled = state + h
    scores = pooled @ W2 + b2
    norm = np.sqrt(np.mean(scores ** 2) + 1e-6)
    scores = scores / norm
    data = softmax_xent(scores, labels)
    total = data
    acc = 0.0
    for k in range(scores.shape[1]):
        col = scores[:, k]
        acc = acc + np.mean(col * col)
    total = total + 1e-3 * acc
    reg_total = penalty(W1, reg) + penalty(W2, reg)
    if reg > 0:
        total = total + reg_total
    smooth = 0.0
    for i in range(X.shape[0] - 1):
        diff = pooled[i + 1] - pooled[i]
        smooth = smooth + np.sum(diff * diff)
    total = total + 1e-4 * smooth
    gate = np.sum(np.exp(-np.abs(b1)))
    total = total + 1e-3 * gate
    extra = 0.0
    for j in range(2):
        z = np.tanh(U[j] * 0.5)
        extra = extra + np.sum(z ** 2)
    total = total + 1e-5 * extra
    bias = np.sum(b2 ** 2)
    if bias > 10.0:
        total = total + 0.1 * bias
    else:
        total = total + 0.01 * bias
    cap = np.maximum(total, 0.0)
    return cap


def data(seed=0, n=16, d=8, hidden=12, classes=4):
    rng = np.random.default_rng(seed)
    params = {"W1": rng.normal(size=(d, hidden)) * 0.3, "b1": rng.normal(size=hidden) * 0.1,
              "W2": rng.normal(size=(hidden, classes)) * 0.3, "b2": np.zeros(classes),
              "U": rng.normal(size=(hidden, hidden)) * 0.1}
    X = rng.normal(size=(n, d))
    labels = np.eye(classes)[rng.integers(0, classes, size=n)]
    return params, X, labels


def median(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def report(name, seconds):
    print(f"  {name:<44s} {seconds * 1e3:10.3f} ms")


def same_source_again():
    """A new function object with loss's code: what running a notebook cell again gives."""
    import types
    return types.FunctionType(loss.__code__, loss.__globals__, "loss", loss.__defaults__)


FRESH = """
import sys, time
sys.path.insert(0, {here!r})
t0 = time.perf_counter()
import numpy as np, s2sgrad, bench_cache
args = bench_cache.data()
t1 = time.perf_counter()
s2sgrad.grad(bench_cache.loss)(*args)
t2 = time.perf_counter()
print(t2 - t1)
"""


def fresh_process(cache_dir, mode):
    env = dict(os.environ, S2SGRAD_CACHE_DIR=cache_dir, S2SGRAD_CACHE=mode)
    out = subprocess.run([sys.executable, "-c", FRESH.format(here=HERE)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def main():
    args = data()
    key = ("reverse", (0,))
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["S2SGRAD_CACHE_DIR"] = tmp
        g = s2sgrad.grad(loss)
        g(*args)                        # load the rule library once
        lines = len(s2sgrad.grad(loss, emit=True).splitlines())
        print(f"loss (bench_cache.py:{loss.__code__.co_firstlineno}): "
              f"{len(cache.source_text(loss).splitlines())} lines, 3 helpers; its gradient "
              f"module: {lines} lines")

        def cold():
            cache.forget()
            os.environ["S2SGRAD_CACHE"] = "off"
            api._compiled(loss, key[1])
            del os.environ["S2SGRAD_CACHE"]

        def memo():
            api._compiled(loss, key[1])

        def memory():
            cache._MEMO.clear()
            api._compiled(same_source_again(), key[1])

        def disk():
            cache.forget()
            api._compiled(loss, key[1])

        api._compiled(loss, key[1])
        t_cold = median(cold, 10)
        t_memo = median(memo, 2000)
        t_memory = median(memory, 200)
        cache.forget()
        api._compiled(loss, key[1])        # stores the entry
        t_disk = median(disk, 200)
        t_run = median(lambda: g(*args), 200)
        print("cost of getting the compiled gradient of loss")
        report("cold (transform + compile)", t_cold)
        report("memo hit (same function)", t_memo)
        report("memory hit (same source, new function)", t_memory)
        report("disk hit (in-process caches emptied)", t_disk)
        report("for scale: one gradient evaluation", t_run)
        print(f"  speed-up of a disk hit over a transform: {t_cold / t_disk:.0f}x")
        fresh_cold = statistics.median(fresh_process(tmp, "off") for _ in range(3))
        fresh_disk = statistics.median(fresh_process(tmp, "on") for _ in range(3))
        print("first grad(loss)(...) call in a fresh process (after importing numpy and s2sgrad)")
        report("cold: imports the compiler, transforms", fresh_cold)
        report("from the disk cache", fresh_disk)


if __name__ == "__main__":
    main()
