"""Rules for the runtime helpers of the scipy.special and scipy.stats rules
(``s2sgrad.runtime.special``)."""

from .registry import primitive, transpose
from ..runtime import multipsi

R = "s2sgrad.runtime"


@primitive("multipsi", family=R)
class _Multipsi:
    def vjp_a(xp, g, ans, a, d, k=0):
        return g * multipsi(a, d, k + 1)

    def jvp_a(xp, t, ans, a, d, k=0):
        return t * multipsi(a, d, k + 1)


transpose("dirichlet_alpha(alpha, x)", "xp.reshape(g, shape(alpha))", view=True)
