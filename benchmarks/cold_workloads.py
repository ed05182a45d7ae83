"""Functions of about 50 lines whose first gradient ``bench_cold.py`` times in a new process.

Each ``make_<name>()`` returns ``(function, args)``.  The examples' functions are imported
from ``examples/``; ``gmm`` below is a Gaussian mixture's negative log-likelihood with a
Wishart-like prior, written for this benchmark.
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(HERE), "examples")


def _example(name):
    if EXAMPLES not in sys.path:
        sys.path.insert(0, EXAMPLES)
    return __import__(name)


def make_physics():
    physics = _example("physics")
    return physics.miss, (np.array([0.6, 20.0]), 45.0, 2.2, 0.01)


def make_rnn():
    rnn = _example("rnn")
    rng = np.random.default_rng(0)
    vocab, hidden, steps, batch = 12, 16, 6, 4
    params = rnn.init_params(vocab, hidden, rng)
    codes = rng.integers(0, vocab, size=(steps + 1, batch))
    onehot = np.eye(vocab)[codes]
    return rnn.loss, (params, onehot[:-1], onehot[1:])


def make_mlp():
    mlp = _example("digits_mlp")
    rng = np.random.default_rng(0)
    params = mlp.init_params([16, 12, 10], rng)
    x = rng.normal(size=(8, 16))
    targets = np.eye(10)[rng.integers(0, 10, size=8)]
    return mlp.loss, (params, x, targets)


def _logsumexp(a, axis):
    top = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(top, axis=axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def _lower_triangle(packed, d):
    """The strictly lower-triangular ``d x d`` matrices whose columns hold ``packed``."""
    k = packed.shape[0]
    rows = []
    for row in range(d):
        cols = []
        for col in range(d):
            if col < row:
                start = col * d - col * (col + 1) // 2 + (row - col - 1)
                cols.append(packed[:, start])
            else:
                cols.append(np.zeros(k))
        rows.append(np.stack(cols, axis=1))
    return np.stack(rows, axis=1)


def gmm(params, x, gamma, m):
    """Negative log-likelihood of ``x`` under a Gaussian mixture, with a prior on the
    inverse Cholesky factors ``Q_k = diag(exp(q_k)) + L_k`` (``icf`` packs q_k then L_k)."""
    alphas, means, icf = params
    n, d = x.shape
    k = means.shape[0]
    log_diag = icf[:, :d]
    lower = icf[:, d:]
    Q = np.exp(log_diag)[:, :, None] * np.eye(d) + _lower_triangle(lower, d)
    centered = x[None, :, :] - means[:, None, :]
    z = np.matmul(centered, np.transpose(Q, (0, 2, 1)))
    sq = np.sum(z ** 2, axis=2)
    log_weights = alphas[:, None] + np.sum(log_diag, axis=1)[:, None] - 0.5 * sq
    data = np.sum(_logsumexp(log_weights, axis=0)) - n * _logsumexp(alphas, axis=0)
    prior = 0.0
    for j in range(k):
        scale = np.sum(np.exp(2.0 * log_diag[j])) + np.sum(lower[j] ** 2)
        prior = prior + 0.5 * gamma ** 2 * scale - m * np.sum(log_diag[j])
    if prior > 1e6:
        prior = 1e6 + np.log(prior - 1e6 + 1.0)
    return -data + prior


def make_gmm():
    rng = np.random.default_rng(0)
    n, d, k = 20, 3, 4
    x = rng.normal(size=(n, d))
    params = (rng.normal(size=k), rng.normal(size=(k, d)),
              0.1 * rng.normal(size=(k, d + d * (d - 1) // 2)))
    return gmm, (params, x, 1.0, 0)


WORKLOADS = {"physics": make_physics, "rnn": make_rnn, "mlp": make_mlp, "gmm": make_gmm}
