"""A multilayer perceptron that reads handwritten digits, trained with s2sgrad and Adam.

The data set is scikit-learn's bundled 8x8 digits (1797 images, no download).
The model's parameters are a list of dicts ``{"W": ..., "b": ...}``, one per
layer; ``s2sgrad.grad(loss)`` returns its gradient in the same structure and
``s2sgrad.optim.adam`` steps through it.  This is the seed blog post's MLP
example, written with plain ``import numpy as np``.

    python examples/digits_mlp.py            # a quick run, well under a minute
    python examples/digits_mlp.py --full     # the longer run (about 98% validation accuracy)
    s2sgrad show examples/digits_mlp.py:loss # read the gradient s2sgrad generates

Needs the ``examples`` extra for the data and the plot:
``pip install 's2sgrad[examples]'``.
"""

__all__ = ["loss"]  # what `s2sgrad gen` differentiates; main, plotting and data loading are not

import argparse
import os
import time

import numpy as np

import s2sgrad
from s2sgrad.optim import adam


# -- the model: ordinary NumPy ------------------------------------------------

def init_params(sizes, rng, scale=1.4):
    """One ``{"W", "b"}`` dict per layer, He-scaled weights."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params.append({"W": scale * rng.normal(size=(n_in, n_out)) / np.sqrt(n_in),
                       "b": np.zeros(n_out)})
    return params


def log_softmax(z):
    z = z - np.max(z, axis=1, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))


def predict(params, x):
    """Log-probabilities of the ten classes for each row of ``x``."""
    h = x
    for layer in params[:-1]:
        h = np.maximum(0.0, h @ layer["W"] + layer["b"])      # ReLU
    last = params[-1]
    return log_softmax(h @ last["W"] + last["b"])


def loss(params, x: "float64[batch, 64]", targets: "float64[batch, 10]", l2: float = 1e-4):
    """Mean cross-entropy plus an L2 penalty on the weights."""
    log_p = predict(params, x)
    penalty = 0.0
    for layer in params:
        penalty = penalty + np.sum(layer["W"] ** 2)
    return -np.mean(np.sum(log_p * targets, axis=1)) + l2 * penalty


def accuracy(params, x, labels):
    return np.mean(np.argmax(predict(params, x), axis=1) == labels)


# -- data and training ---------------------------------------------------------

def load_data(seed=0, val_fraction=0.2):
    """scikit-learn's digits, scaled to [0, 1], split into training and validation sets."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = digits.data / 16.0
    labels = digits.target
    order = np.random.default_rng(seed).permutation(len(x))
    n_val = int(round(val_fraction * len(x)))
    val, train = order[:n_val], order[n_val:]
    return (x[train], labels[train]), (x[val], labels[val])


def one_hot(labels, n=10):
    return np.eye(n)[labels]


def train(hidden=(64,), epochs=10, batch_size=32, step_size=3e-3, l2=3e-4, seed=0,
          n_train=None, report_every=1, verbose=True, split_seed=0):
    """Train the MLP; returns ``(params, history)``.

    ``history`` holds one dict per report: epoch, training loss and accuracy,
    validation loss and accuracy, elapsed seconds.  ``n_train`` keeps only the
    first ``n_train`` training images (for quick tests).
    """
    (x_train, y_train), (x_val, y_val) = load_data(split_seed)
    if n_train is not None:
        x_train, y_train = x_train[:n_train], y_train[:n_train]
    t_train, t_val = one_hot(y_train), one_hot(y_val)
    rng = np.random.default_rng(seed)
    params = init_params([x_train.shape[1], *hidden, 10], rng)

    n_batches = max(1, int(np.ceil(len(x_train) / batch_size)))
    gradient = s2sgrad.grad(loss)
    history = []
    start = time.perf_counter()
    order = [rng.permutation(len(x_train))]

    def batch_gradient(params, i):
        if i % n_batches == 0:
            order[0] = rng.permutation(len(x_train))          # reshuffle each epoch
        idx = order[0][(i % n_batches) * batch_size:(i % n_batches + 1) * batch_size]
        return gradient(params, x_train[idx], t_train[idx], l2)

    def report(params, epoch):
        row = {"epoch": epoch,
               "train_loss": float(loss(params, x_train, t_train, l2)),
               "train_acc": float(accuracy(params, x_train, y_train)),
               "val_loss": float(loss(params, x_val, t_val, l2)),
               "val_acc": float(accuracy(params, x_val, y_val)),
               "seconds": time.perf_counter() - start}
        history.append(row)
        if verbose:
            print(f"epoch {epoch:4d}  train loss {row['train_loss']:.4f}  "
                  f"train acc {row['train_acc']:.3f}  val loss {row['val_loss']:.4f}  "
                  f"val acc {row['val_acc']:.3f}  ({row['seconds']:.1f} s)", flush=True)

    done = [0]                                  # epochs finished by earlier phases

    def callback(params, i, g):
        epoch = done[0] + i // n_batches
        if i % n_batches == 0 and epoch % report_every == 0:
            report(params, epoch)

    # Adam at step_size, then a tenth of it for the last quarter of the epochs
    for phase_epochs, phase_step in ((epochs - epochs // 4, step_size),
                                     (epochs // 4, step_size / 10)):
        params = adam(batch_gradient, params, callback=callback,
                      num_iters=phase_epochs * n_batches, step_size=phase_step)
        done[0] += phase_epochs
    report(params, epochs)
    return params, history


def plot(history, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [h["train_loss"] for h in history], label="training")
    ax1.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax1.set_yscale("log")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss (cross-entropy + L2)")
    ax1.legend()
    ax2.plot(epochs, [h["train_acc"] for h in history], label="training")
    ax2.plot(epochs, [h["val_acc"] for h in history], label="validation")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy")
    ax2.legend()
    fig.tight_layout()
    path = os.path.join(out_dir, "digits_mlp_training.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="the longer run: a wider network, more epochs")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument("--out", default=".", help="directory for the PNG (default: here)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    args = parser.parse_args(argv)
    if args.full:
        settings = dict(hidden=(128,), epochs=60, report_every=5)
    else:
        settings = dict(hidden=(64,), epochs=10, report_every=1)
    if args.epochs:
        settings["epochs"] = args.epochs
    params, history = train(**settings)
    print(f"final validation accuracy: {history[-1]['val_acc']:.3f}")
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        print("wrote", plot(history, args.out))
    return history


if __name__ == "__main__":
    main()
