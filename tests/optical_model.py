"""The seed blog post's optical neural network, written as its author did (plain numpy)."""

import numpy as np


def asm_prop(wavefront, length=32.e-3, wavelength=550.e-9, distance=10.e-3):
    if len(wavefront.shape) == 2:
        dim_x, dim_y = wavefront.shape
    elif len(wavefront.shape) == 3:
        number_samples, dim_x, dim_y = wavefront.shape
    else:
        print("only 2D wavefronts or array of 2D wavefronts supported")
    assert dim_x == dim_y, "wavefront should be square"
    px = length / dim_x
    l2 = (1 / wavelength) ** 2
    fx = np.linspace(-1 / (2 * px), 1 / (2 * px) - 1 / (dim_x * px), dim_x)
    fxx, fyy = np.meshgrid(fx, fx)
    q = l2 - fxx ** 2 - fyy ** 2
    q[q < 0] = 0.0
    h = np.fft.fftshift(np.exp(1.j * 2 * np.pi * distance * np.sqrt(q)))
    fd_wavefront = np.fft.fft2(np.fft.fftshift(wavefront))
    if len(wavefront.shape) == 3:
        fd_new_wavefront = h[np.newaxis, :, :] * fd_wavefront
        new_wavefront = np.fft.ifftshift(np.fft.ifft2(fd_new_wavefront))[:, :dim_x, :dim_x]
    else:
        fd_new_wavefront = h * fd_wavefront
        new_wavefront = np.fft.ifftshift(np.fft.ifft2(fd_new_wavefront))[:dim_x, :dim_x]
    return new_wavefront


def onn_layer(wavefront, phase_objects, d=100.e-3):
    for ii in range(len(phase_objects)):
        wavefront = asm_prop(wavefront * phase_objects[ii], distance=d)
    return wavefront


def get_loss(wavefront, y_tgt, phase_objects, d=100.e-3):
    img = np.abs(onn_layer(wavefront, phase_objects, d=d)) ** 2
    mse_loss = np.mean((img - y_tgt) ** 2 + np.abs(img - y_tgt))
    return mse_loss


def loss_of_phases(phases, wavefront, y_tgt, d=100.e-3):
    """The same loss as a function of real phase arrays: plates are exp(1j * phase)."""
    plates = [np.exp(1.j * p) for p in phases]
    return get_loss(wavefront, y_tgt, plates, d=d)
