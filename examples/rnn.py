"""A character-level recurrent neural network that learns to write this file.

The model reads its own source text one character at a time and predicts the
next one.  The recurrence is an ordinary Python ``for`` loop over time, and the
loss accumulates inside it; ``s2sgrad.grad`` turns that loop into a backward
loop (backpropagation through time) that you can read with

    s2sgrad show examples/rnn.py:loss

Training uses ``s2sgrad.optim.adam`` on a dict of weight matrices, and every so
often the model writes a few lines of its own "source code".

    python examples/rnn.py           # a quick run, well under a minute
    python examples/rnn.py --full    # a bigger model, trained for longer

Writes ``rnn_loss.png`` to ``--out`` (default: the current directory).
Plotting needs matplotlib: ``pip install 's2sgrad[examples]'``.
"""

__all__ = ["loss"]  # what `s2sgrad gen` differentiates; main, plotting and data loading are not

import argparse
import os
import time

import numpy as np

import s2sgrad
from s2sgrad.optim import adam


# -- the model: ordinary NumPy ---------------------------------------------------

def init_params(vocab_size, hidden, rng):
    scale_in, scale_h = 1 / np.sqrt(vocab_size), 1 / np.sqrt(hidden)
    return {"W_xh": scale_in * rng.normal(size=(vocab_size, hidden)),
            "W_hh": scale_h * rng.normal(size=(hidden, hidden)),
            "b_h": np.zeros(hidden),
            "W_hy": scale_h * rng.normal(size=(hidden, vocab_size)),
            "b_y": np.zeros(vocab_size)}


def step(params, h, x):
    """One time step: the new hidden state and the log-probabilities of the next character."""
    h = np.tanh(x @ params["W_xh"] + h @ params["W_hh"] + params["b_h"])
    logits = h @ params["W_hy"] + params["b_y"]
    logits = logits - np.max(logits, axis=1, keepdims=True)
    log_p = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return h, log_p


def loss(params, inputs: "float64[time, batch, vocab]", targets: "float64[time, batch, vocab]"):
    """Mean cross-entropy (nats per character) of a batch of sequences.

    ``inputs`` and ``targets`` are one-hot arrays of shape (time, batch, vocabulary);
    the targets are the inputs shifted by one character.
    """
    h = np.zeros((inputs.shape[1], params["W_hh"].shape[0]))
    total = 0.0
    for t in range(inputs.shape[0]):
        h, log_p = step(params, h, inputs[t])
        total = total - np.sum(log_p * targets[t])
    return total / (inputs.shape[0] * inputs.shape[1])


def sample(params, first, length, rng, temperature=0.7):
    """Let the model write ``length`` characters after the character index ``first``."""
    vocab_size = params["W_xh"].shape[0]
    h = np.zeros((1, params["W_hh"].shape[0]))
    x = np.eye(vocab_size)[[first]]
    out = []
    for _ in range(length):
        h, log_p = step(params, h, x)
        p = np.exp(log_p[0] / temperature)
        index = rng.choice(vocab_size, p=p / np.sum(p))
        out.append(index)
        x = np.eye(vocab_size)[[index]]
    return out


# -- data and training --------------------------------------------------------------

def source_text():
    with open(__file__, encoding="utf-8") as f:
        return f.read()


def batches(codes, vocab_size, seq_len, batch_size, rng):
    """An endless stream of ``(inputs, targets)``: random windows of the text, one-hot."""
    eye = np.eye(vocab_size)
    while True:
        starts = rng.integers(0, len(codes) - seq_len - 1, size=batch_size)
        windows = np.stack([codes[s:s + seq_len + 1] for s in starts], axis=1)  # (time+1, batch)
        yield eye[windows[:-1]], eye[windows[1:]]


def train(hidden=64, seq_len=25, batch_size=32, iterations=300, step_size=0.01, seed=0,
          text=None, report_every=50, sample_length=160, verbose=True):
    """Train on ``text`` (default: this file); returns ``(params, losses, chars)``."""
    text = source_text() if text is None else text
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    codes = np.array([index[c] for c in text])
    rng = np.random.default_rng(seed)
    params = init_params(len(chars), hidden, rng)
    stream = batches(codes, len(chars), seq_len, batch_size, rng)
    gradient = s2sgrad.value_and_grad(loss)
    losses = []
    start = time.perf_counter()

    def batch_gradient(params, i):
        value, g = gradient(params, *next(stream))
        losses.append(float(value))
        return g

    def callback(params, i, g):
        if verbose and (i % report_every == 0 or i == iterations - 1):
            recent = np.mean(losses[-report_every:])
            print(f"iteration {i:5d}  loss {recent:.3f} nats/char  "
                  f"({time.perf_counter() - start:.1f} s)", flush=True)
            if sample_length:
                text = "".join(chars[k] for k in sample(params, index["\n"], sample_length, rng))
                print("    | " + text.replace("\n", "\n    | "), flush=True)

    params = adam(batch_gradient, params, callback=callback, num_iters=iterations,
                  step_size=step_size)
    return params, losses, chars


def plot(losses, out_dir, window=20):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(losses, lw=0.5, alpha=0.4, label="each batch")
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window - 1, len(losses)), smooth, lw=2, label=f"mean of {window}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "rnn_loss.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="128 hidden units, sequences of 50, 1500 iterations (about 10 minutes)")
    parser.add_argument("--iterations", type=int, help="override the number of iterations")
    parser.add_argument("--out", default=".", help="directory for the PNG (default: here)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    args = parser.parse_args(argv)
    if args.full:
        settings = dict(hidden=128, seq_len=50, iterations=1500, report_every=250)
    else:
        settings = dict(hidden=64, seq_len=25, iterations=600, report_every=100)
    if args.iterations:
        settings["iterations"] = args.iterations
    params, losses, chars = train(**settings)
    print(f"loss: {np.mean(losses[:10]):.3f} -> {np.mean(losses[-50:]):.3f} nats/char "
          f"(a uniform guess over {len(chars)} characters is {np.log(len(chars)):.3f})")
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        print("wrote", plot(losses, args.out))
    return losses


if __name__ == "__main__":
    main()
