"""The seed blog post's optical neural network differentiates and matches finite differences.

The model (tests/optical_model.py) is the blog's code as written: complex
wavefronts, angular-spectrum propagation with fft2/ifft2/fftshift, an in-place
mask write, shape-dependent branches, a loop over phase plates and an
``abs(...) ** 2`` intensity loss.
"""

import numpy as np
import pytest

import s2sgrad
from gradcheck import assert_close, numeric_grad
from optical_model import get_loss, loss_of_phases


def _setup(seed, dim=8, plates=2):
    rng = np.random.default_rng(seed)
    wavefront = np.zeros((dim, dim)) * np.exp(1.j * 0.0)
    wavefront[2:6, 2:6] = 1.0
    target = rng.uniform(size=(dim, dim))
    phases = [rng.normal(size=(dim, dim)) for _ in range(plates)]
    return wavefront, target, phases


@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_with_respect_to_phase_arrays(seed):
    wavefront, target, phases = _setup(seed)
    g = s2sgrad.grad(loss_of_phases)(phases, wavefront, target, d=5e-3)
    # Gradients are ~1e-6 against a loss of ~0.3: a larger step keeps cancellation small.
    n = numeric_grad(lambda ph: loss_of_phases(ph, wavefront, target, d=5e-3), (phases,),
                     eps=1e-4)
    assert isinstance(g, list) and len(g) == len(phases)
    assert_close(g, n, rtol=1e-4, atol=1e-10)


def test_gradient_with_respect_to_complex_plates_as_in_the_blog():
    """argnum=2 of get_loss, as the blog differentiates: complex plates, Autograd's convention."""
    wavefront, target, phases = _setup(3)
    plates = [np.exp(1.j * p) for p in phases]
    g = s2sgrad.grad(get_loss, 2)(wavefront, target, plates, d=5e-3)
    # For a real loss L of complex z, Autograd's convention gives g = dL/dRe z - i dL/dIm z,
    # so the change along dz is Re(sum(g * dz)); a phase step v moves z by dz = i z v.
    direction = [np.random.default_rng(4).normal(size=p.shape) for p in phases]
    predicted = sum(float(np.real(np.sum(gi * (1j * z * v))))
                    for gi, z, v in zip(g, plates, direction))
    eps = 1e-4

    def along(t):
        moved = [np.exp(1.j * (p + t * v)) for p, v in zip(phases, direction)]
        return get_loss(wavefront, target, moved, d=5e-3)
    numeric = (along(eps) - along(-eps)) / (2 * eps)
    assert predicted == pytest.approx(numeric, rel=1e-4)
