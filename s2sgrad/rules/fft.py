"""Derivative rules for numpy.fft (family "array": they serve cupy.fft and the like too).

Every transform is linear.  The DFT matrix is symmetric, so the reverse rule
of ``fft`` is ``fft`` again (with the same ``norm``), cropped or padded back
to the input's length when ``n`` / ``s`` changed it.  Real-input transforms
return the real part of their adjoint; inverse real transforms, which read
only half a spectrum, weight the bins that stand for two (``halfspec_weight``).
"""

from .registry import primitive
from ..runtime import fft_axes, fft_pad, fft_unpad, halfspec_weight, shape, to_complex_like


@primitive("fft.fft", linear=True)
class _Fft:
    def vjp_a(xp, g, ans, a, n=None, axis=-1, norm=None, out=None):
        ct = xp.fft.fft(g, axis=axis, norm=norm)
        if n is not None:
            ct = fft_unpad(ct, a, (axis,))
        return to_complex_like(ct, a)

    def jvp_a(xp, t, ans, a, n=None, axis=-1, norm=None, out=None):
        return xp.fft.fft(t, n=n, axis=axis, norm=norm)


@primitive("fft.ifft", linear=True)
class _Ifft:
    def vjp_a(xp, g, ans, a, n=None, axis=-1, norm=None, out=None):
        ct = xp.fft.ifft(g, axis=axis, norm=norm)
        if n is not None:
            ct = fft_unpad(ct, a, (axis,))
        return to_complex_like(ct, a)

    def jvp_a(xp, t, ans, a, n=None, axis=-1, norm=None, out=None):
        return xp.fft.ifft(t, n=n, axis=axis, norm=norm)


@primitive("fft.fft2", linear=True)
class _Fft2:
    def vjp_a(xp, g, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        ct = xp.fft.fft2(g, axes=axes, norm=norm)
        if s is not None:
            ct = fft_unpad(ct, a, axes)
        return to_complex_like(ct, a)

    def jvp_a(xp, t, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        return xp.fft.fft2(t, s=s, axes=axes, norm=norm)


@primitive("fft.ifft2", linear=True)
class _Ifft2:
    def vjp_a(xp, g, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        ct = xp.fft.ifft2(g, axes=axes, norm=norm)
        if s is not None:
            ct = fft_unpad(ct, a, axes)
        return to_complex_like(ct, a)

    def jvp_a(xp, t, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        return xp.fft.ifft2(t, s=s, axes=axes, norm=norm)


@primitive("fft.fftn", linear=True)
class _Fftn:
    def vjp_a(xp, g, ans, a, s=None, axes=None, norm=None, out=None):
        ax = fft_axes(a, s, axes)
        return to_complex_like(fft_unpad(xp.fft.fftn(g, axes=ax, norm=norm), a, ax), a)

    def jvp_a(xp, t, ans, a, s=None, axes=None, norm=None, out=None):
        return xp.fft.fftn(t, s=s, axes=axes, norm=norm)


@primitive("fft.ifftn", linear=True)
class _Ifftn:
    def vjp_a(xp, g, ans, a, s=None, axes=None, norm=None, out=None):
        ax = fft_axes(a, s, axes)
        return to_complex_like(fft_unpad(xp.fft.ifftn(g, axes=ax, norm=norm), a, ax), a)

    def jvp_a(xp, t, ans, a, s=None, axes=None, norm=None, out=None):
        return xp.fft.ifftn(t, s=s, axes=axes, norm=norm)


# Real-input transforms keep the first n // 2 + 1 bins of the full transform:
# the adjoint zero-pads g back to the full length and takes the real part.

@primitive("fft.rfft", linear=True)
class _Rfft:
    def vjp_a(xp, g, ans, a, n=None, axis=-1, norm=None, out=None):
        if n is None:
            n = shape(a)[axis]
        ct = xp.real(xp.fft.fft(fft_pad(g, (n,), (axis,)), axis=axis, norm=norm))
        return fft_unpad(ct, a, (axis,))

    def jvp_a(xp, t, ans, a, n=None, axis=-1, norm=None, out=None):
        return xp.fft.rfft(t, n=n, axis=axis, norm=norm)


@primitive("fft.rfft2", linear=True)
class _Rfft2:
    def vjp_a(xp, g, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        ax = fft_axes(a, s, axes)
        if s is None:
            n = shape(a)[ax[-1]]
        else:
            n = s[-1]
        ct = xp.real(xp.fft.fftn(fft_pad(g, (n,), ax[-1:]), axes=ax, norm=norm))
        return fft_unpad(ct, a, ax)

    def jvp_a(xp, t, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        return xp.fft.rfft2(t, s=s, axes=axes, norm=norm)


@primitive("fft.rfftn", linear=True)
class _Rfftn:
    def vjp_a(xp, g, ans, a, s=None, axes=None, norm=None, out=None):
        ax = fft_axes(a, s, axes)
        if s is None:
            n = shape(a)[ax[-1]]
        else:
            n = s[-1]
        ct = xp.real(xp.fft.fftn(fft_pad(g, (n,), ax[-1:]), axes=ax, norm=norm))
        return fft_unpad(ct, a, ax)

    def jvp_a(xp, t, ans, a, s=None, axes=None, norm=None, out=None):
        return xp.fft.rfftn(t, s=s, axes=axes, norm=norm)


# Inverse real transforms read bins 0 .. n // 2 of their input (the imaginary
# parts of the real bins are ignored): the adjoint is the inverse transform of
# the real g on those bins, conj(rfft(g)) with the opposite normalization,
# weighted by how many bins each stands for (``halfspec_weight``).

@primitive("fft.irfft", linear=True)
class _Irfft:
    def vjp_a(xp, g, ans, a, n=None, axis=-1, norm=None, out=None):
        inverse = "forward" if norm in (None, "backward") else "backward" if norm == "forward" else norm
        ct = xp.conj(xp.fft.rfft(g, axis=axis, norm=inverse))
        return fft_unpad(halfspec_weight(ct, shape(ans)[axis], axis), a, (axis,))

    def jvp_a(xp, t, ans, a, n=None, axis=-1, norm=None, out=None):
        return xp.fft.irfft(t, n=n, axis=axis, norm=norm)


@primitive("fft.irfft2", linear=True)
class _Irfft2:
    def vjp_a(xp, g, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        ax = fft_axes(a, s, axes)
        inverse = "forward" if norm in (None, "backward") else "backward" if norm == "forward" else norm
        ct = xp.conj(xp.fft.rfftn(g, axes=ax, norm=inverse))
        return fft_unpad(halfspec_weight(ct, shape(ans)[ax[-1]], ax[-1]), a, ax)

    def jvp_a(xp, t, ans, a, s=None, axes=(-2, -1), norm=None, out=None):
        return xp.fft.irfft2(t, s=s, axes=axes, norm=norm)


@primitive("fft.irfftn", linear=True)
class _Irfftn:
    def vjp_a(xp, g, ans, a, s=None, axes=None, norm=None, out=None):
        ax = fft_axes(a, s, axes)
        inverse = "forward" if norm in (None, "backward") else "backward" if norm == "forward" else norm
        ct = xp.conj(xp.fft.rfftn(g, axes=ax, norm=inverse))
        return fft_unpad(halfspec_weight(ct, shape(ans)[ax[-1]], ax[-1]), a, ax)

    def jvp_a(xp, t, ans, a, s=None, axes=None, norm=None, out=None):
        return xp.fft.irfftn(t, s=s, axes=axes, norm=norm)


@primitive("fft.hfft", linear=True)
class _Hfft:
    # hfft(a) is irfft(conj(a)) with the opposite normalization
    def vjp_a(xp, g, ans, a, n=None, axis=-1, norm=None, out=None):
        ct = xp.fft.rfft(g, axis=axis, norm=norm)
        return fft_unpad(halfspec_weight(ct, shape(ans)[axis], axis), a, (axis,))

    def jvp_a(xp, t, ans, a, n=None, axis=-1, norm=None, out=None):
        return xp.fft.hfft(t, n=n, axis=axis, norm=norm)


@primitive("fft.fftshift", linear=True)
class _Fftshift:
    def vjp_x(xp, g, ans, x, axes=None):
        return xp.fft.ifftshift(g, axes=axes)

    def jvp_x(xp, t, ans, x, axes=None):
        return xp.fft.fftshift(t, axes=axes)


@primitive("fft.ifftshift", linear=True)
class _Ifftshift:
    def vjp_x(xp, g, ans, x, axes=None):
        return xp.fft.fftshift(g, axes=axes)

    def jvp_x(xp, t, ans, x, axes=None):
        return xp.fft.ifftshift(t, axes=axes)
