"""Derivative rules for scipy.signal.convolve (family "scipy.signal").

Convolution is bilinear.  The cotangent of one input is the "valid"
convolution of the cotangent of the full convolution with the other input
flipped; other modes first place ``g`` in the window of the full output they
return (``conv_embed``).
"""

import scipy.signal
import scipy.signal as signal

from .registry import primitive
from ..runtime import conv_embed, to_complex_like

F = "scipy.signal"


@primitive("convolve", family=F)
class _Convolve:
    def vjp_in1(xp, g, ans, in1, in2, mode="full", method="auto"):
        full = conv_embed(g, in1, in2, mode)
        return to_complex_like(signal.convolve(full, xp.flip(in2), mode="valid", method=method), in1)

    def vjp_in2(xp, g, ans, in1, in2, mode="full", method="auto"):
        full = conv_embed(g, in1, in2, mode)
        return to_complex_like(signal.convolve(full, xp.flip(in1), mode="valid", method=method), in2)

    def jvp_in1(xp, t, ans, in1, in2, mode="full", method="auto"):
        return signal.convolve(t, in2, mode=mode, method=method)

    def jvp_in2(xp, t, ans, in1, in2, mode="full", method="auto"):
        return signal.convolve(in1, t, mode=mode, method=method)
