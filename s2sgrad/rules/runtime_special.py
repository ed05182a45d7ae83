"""Rules for the runtime helpers of the scipy.special and scipy.stats rules
(``s2sgrad.runtime.special``)."""

from .registry import primitive
from ..runtime import dirichlet_alpha, multipsi, shape

R = "s2sgrad.runtime"


@primitive("multipsi", family=R)
class _Multipsi:
    def vjp_a(xp, g, ans, a, d, k=0):
        return g * multipsi(a, d, k + 1)

    def jvp_a(xp, t, ans, a, d, k=0):
        return t * multipsi(a, d, k + 1)


@primitive("dirichlet_alpha", family=R, linear=True, view=True)
class _DirichletAlpha:
    def vjp_alpha(xp, g, ans, alpha, x):
        return xp.reshape(g, shape(alpha))

    def jvp_alpha(xp, t, ans, alpha, x):
        return dirichlet_alpha(t, x)
