"""Derivative rules for ``scipy.integrate.odeint`` (the adjoint method, and forward sensitivities)
and ``scipy.integrate.quad`` (the Leibniz rule).

The dynamics function carries no derivative here; the initial state, the
output times and the extra arguments do.  (odeint's own name for the times
is ``t``, which the rules reserve for a tangent, so they call it ``times``.)
"""

import scipy.integrate  # noqa: F401  (the registry finds odeint in this module)

from .registry import UNKNOWN, primitive, set_callable_params
from ..runtime import (
    odeint_jvp, odeint_times_jvp, odeint_times_vjp, odeint_vjp, quad_jvp, quad_vjp_args,
    quad_vjp_bound,
)


@primitive("odeint", family="scipy.integrate")
class _Odeint:
    def vjp_y0(xp, g, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0,
               ml=None, mu=None, rtol=None, atol=None):
        return odeint_vjp(g, ans, func, y0, times, args, rtol, atol)[0]

    def vjp_args(xp, g, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0,
                 ml=None, mu=None, rtol=None, atol=None):
        return odeint_vjp(g, ans, func, y0, times, args, rtol, atol)[1]

    def vjp_times(xp, g, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0,
                  ml=None, mu=None, rtol=None, atol=None):
        return odeint_times_vjp(g, ans, func, y0, times, args, rtol, atol)

    def jvp_times(xp, t, ans, func, y0, times, args=(), Dfun=None, col_deriv=0,
                  full_output=0, ml=None, mu=None, rtol=None, atol=None):
        return odeint_times_jvp(t, ans, func, y0, times, args, rtol, atol)

    def jvp_y0(xp, t, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0,
               ml=None, mu=None, rtol=None, atol=None):
        return odeint_jvp(t, None, ans, func, y0, times, args, rtol, atol)

    def jvp_args(xp, t, ans, func, y0, times, args=(), Dfun=None, col_deriv=0, full_output=0,
                 ml=None, mu=None, rtol=None, atol=None):
        return odeint_jvp(None, t, ans, func, y0, times, args, rtol, atol)


def _quad_check(args):
    for what in ("full_output", "weight", "complex_func"):
        v = args.get(what)
        if v not in (None, 0, False) and v is not UNKNOWN:
            return (f"{what}={v!r}", "its rules differentiate the plain integral only; "
                                     "call quad without it")
    return None


@primitive("quad", family="scipy.integrate")
class _Quad:
    """``quad(func, a, b, args)``: by the Leibniz rule, the derivative with respect to
    ``args`` is the integral of the integrand's derivative (``quad_vec`` over the
    integrand's transformed code); with respect to an end, the integrand there.  The
    error estimate (the second result) carries no derivative."""

    check = staticmethod(_quad_check)

    def vjp_args(xp, g, ans, func, a, b, args=(), full_output=0, epsabs=1.49e-08,
                 epsrel=1.49e-08, limit=50, points=None, weight=None, wvar=None, wopts=None,
                 maxp1=50, limlst=50, complex_func=False):
        return quad_vjp_args(g, func, a, b, args, epsabs, epsrel, limit)

    def vjp_a(xp, g, ans, func, a, b, args=(), full_output=0, epsabs=1.49e-08,
              epsrel=1.49e-08, limit=50, points=None, weight=None, wvar=None, wopts=None,
              maxp1=50, limlst=50, complex_func=False):
        return quad_vjp_bound(g, func, a, args, -1.0)

    def vjp_b(xp, g, ans, func, a, b, args=(), full_output=0, epsabs=1.49e-08,
              epsrel=1.49e-08, limit=50, points=None, weight=None, wvar=None, wopts=None,
              maxp1=50, limlst=50, complex_func=False):
        return quad_vjp_bound(g, func, b, args, 1.0)

    def jvp_args(xp, t, ans, func, a, b, args=(), full_output=0, epsabs=1.49e-08,
                 epsrel=1.49e-08, limit=50, points=None, weight=None, wvar=None, wopts=None,
                 maxp1=50, limlst=50, complex_func=False):
        return quad_jvp(None, None, t, func, a, b, args, epsabs, epsrel, limit)

    def jvp_a(xp, t, ans, func, a, b, args=(), full_output=0, epsabs=1.49e-08,
              epsrel=1.49e-08, limit=50, points=None, weight=None, wvar=None, wopts=None,
              maxp1=50, limlst=50, complex_func=False):
        return quad_jvp(t, None, None, func, a, b, args, epsabs, epsrel, limit)

    def jvp_b(xp, t, ans, func, a, b, args=(), full_output=0, epsabs=1.49e-08,
              epsrel=1.49e-08, limit=50, points=None, weight=None, wvar=None, wopts=None,
              maxp1=50, limlst=50, complex_func=False):
        return quad_jvp(None, t, None, func, a, b, args, epsabs, epsrel, limit)


# The function each calls: never differentiated itself; the values a local function reads
# reach the rules through args (frontend.normalize._Lowering._closure_as_args), and any
# other function reading differentiated values is refused (analysis.activity).
set_callable_params("scipy.integrate", {"odeint": ("func",), "quad": ("func",)})
