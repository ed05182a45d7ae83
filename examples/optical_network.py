"""An optical neural network: phase plates trained by gradient descent to draw a smiley.

A flat, coherent beam (a plane wave through a round aperture) passes through a
stack of thin, wavy glass plates.  Each plate delays the light by a phase that
varies across its face; between plates the light diffracts, which we simulate
with the angular-spectrum method (a 2-D FFT, a multiplication by the free-space
transfer function, an inverse FFT).  A camera at the end records the intensity
``|field|**2``.  We differentiate the mismatch between that image and a target
with respect to the plates' phase profiles (a list of real arrays) and follow
the gradient until the light draws the target.  This is the seed blog post's
example, written with plain ``import numpy as np`` and complex NumPy FFTs.

    python examples/optical_network.py              # a quick run, well under a minute
    python examples/optical_network.py --full       # bigger grid, more plates, more steps
    s2sgrad show examples/optical_network.py:loss   # read the generated gradient

Writes ``optical_network_loss.png`` and ``optical_network_image.png`` to
``--out`` (default: the current directory).  Plotting needs matplotlib, from the
``examples`` extra: ``pip install 's2sgrad[examples]'``.
"""

__all__ = ["loss"]  # what `s2sgrad gen` differentiates; main, plotting and data loading are not

import argparse
import os
import time

import numpy as np

import s2sgrad
from s2sgrad.optim import adam

WAVELENGTH = 550e-9          # green light, metres


# -- the physics: ordinary NumPy ----------------------------------------------

def propagate(wavefront, distance, side, wavelength=WAVELENGTH):
    """Angular-spectrum propagation of a square complex field over ``distance`` (metres)."""
    n = wavefront.shape[0]
    px = side / n
    fx = np.linspace(-1 / (2 * px), 1 / (2 * px) - 1 / (n * px), n)   # spatial frequencies
    fxx, fyy = np.meshgrid(fx, fx)
    q = (1 / wavelength) ** 2 - fxx ** 2 - fyy ** 2
    q[q < 0] = 0.0                                                     # drop evanescent waves
    transfer = np.fft.ifftshift(np.exp(2j * np.pi * distance * np.sqrt(q)))
    return np.fft.ifft2(np.fft.fft2(wavefront) * transfer)


def camera_image(phases, wavefront, spacing, side):
    """The intensity after the beam crosses each phase plate and the gap behind it."""
    for phase in phases:
        wavefront = propagate(wavefront * np.exp(1j * phase), spacing, side)
    return np.abs(wavefront) ** 2


def loss(phases, wavefront: "complex128[n, n]", target: "float64[n, n]", spacing: float,
         side: float):
    """Mean squared difference between the camera image and the target."""
    image = camera_image(phases, wavefront, spacing, side)
    return np.mean((image - target) ** 2)


# -- the set-up ------------------------------------------------------------------

def aperture(n, side, radius):
    """A plane wave through a round hole: 1 inside, 0 outside (complex)."""
    x = (np.arange(n) - n / 2 + 0.5) * (side / n)
    xx, yy = np.meshgrid(x, x)
    return (np.sqrt(xx ** 2 + yy ** 2) <= radius).astype(complex)


def smiley(n):
    """A smiley face drawn with NumPy on an ``n`` by ``n`` grid, values in [0, 1]."""
    y, x = (np.mgrid[0:n, 0:n] + 0.5) / n - 0.5        # coordinates in [-0.5, 0.5]
    r = np.sqrt(x ** 2 + y ** 2)
    face = np.abs(r - 0.3) < 0.035                       # the outline of the face
    eyes = (np.sqrt((x - 0.11) ** 2 + (y + 0.1) ** 2) < 0.05) | \
           (np.sqrt((x + 0.11) ** 2 + (y + 0.1) ** 2) < 0.05)
    mouth = (np.abs(np.sqrt(x ** 2 + (y + 0.02) ** 2) - 0.17) < 0.03) & (y > 0.05)
    return (face | eyes | mouth).astype(float)


def setup(n=64, side=8e-3, radius=2e-3, seed=0, n_plates=6):
    """The input field, a target with the same optical power, and zero phases."""
    wavefront = aperture(n, side, radius)
    target = smiley(n)
    target = target * np.sum(np.abs(wavefront) ** 2) / np.sum(target)  # power is conserved
    rng = np.random.default_rng(seed)
    phases = [0.1 * rng.normal(size=(n, n)) for _ in range(n_plates)]
    return wavefront, target, phases


def train(n=64, n_plates=6, steps=150, step_size=0.1, spacing=0.1, side=8e-3, radius=2e-3,
          seed=0, verbose=True, report_every=10):
    """Optimise the plates with Adam; returns ``(phases, losses, wavefront, target)``."""
    wavefront, target, phases = setup(n, side, radius, seed, n_plates)
    gradient = s2sgrad.grad(loss)
    losses = []
    start = time.perf_counter()

    def callback(phases, i, g):
        losses.append(float(loss(phases, wavefront, target, spacing, side)))
        if verbose and (i % report_every == 0):
            print(f"step {i:4d}  loss {losses[-1]:.4e}  ({time.perf_counter() - start:.1f} s)",
                  flush=True)

    phases = adam(lambda p, i: gradient(p, wavefront, target, spacing, side), phases,
                  callback=callback, num_iters=steps, step_size=step_size)
    losses.append(float(loss(phases, wavefront, target, spacing, side)))
    if verbose:
        print(f"step {steps:4d}  loss {losses[-1]:.4e}  ({time.perf_counter() - start:.1f} s)")
    return phases, losses, wavefront, target


def plot(phases, losses, wavefront, target, spacing, side, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(losses, lw=2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("mean squared error")
    ax.set_title("training the phase plates")
    fig.tight_layout()
    loss_path = os.path.join(out_dir, "optical_network_loss.png")
    fig.savefig(loss_path, dpi=100)
    plt.close(fig)

    untrained = camera_image([np.zeros_like(p) for p in phases], wavefront, spacing, side)
    image = camera_image(phases, wavefront, spacing, side)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, img, title in zip(axes, (untrained, image, target),
                              ("flat plates", "trained plates", "target")):
        ax.imshow(img, cmap="inferno", vmin=0, vmax=np.max(target) * 1.2)
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    image_path = os.path.join(out_dir, "optical_network_image.png")
    fig.savefig(image_path, dpi=100)
    plt.close(fig)
    return loss_path, image_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="128x128 grid, 8 plates, 400 steps (about 40 s on a 2-core laptop)")
    parser.add_argument("--steps", type=int, help="override the number of steps")
    parser.add_argument("--out", default=".", help="directory for the PNGs (default: here)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNGs")
    args = parser.parse_args(argv)
    if args.full:
        settings = dict(n=128, side=16e-3, radius=4e-3, n_plates=8, steps=400, report_every=20)
    else:
        settings = dict(n=64, side=8e-3, radius=2e-3, n_plates=6, steps=150, report_every=10)
    settings["spacing"] = 0.1                     # metres between plates
    if args.steps:
        settings["steps"] = args.steps
    phases, losses, wavefront, target = train(**settings)
    print(f"loss: {losses[0]:.4e} -> {losses[-1]:.4e}")
    if not args.no_plot:
        os.makedirs(args.out, exist_ok=True)
        for path in plot(phases, losses, wavefront, target, settings["spacing"],
                         settings["side"], args.out):
            print("wrote", path)
    return losses


if __name__ == "__main__":
    main()
