"""Derivative rules for ``scipy.integrate.odeint`` (the adjoint method, and forward sensitivities).

The dynamics function carries no derivative here; the initial state, the
output times and the extra arguments do.  (odeint's own name for the times
is ``t``, which the rules reserve for a tangent, so they call it ``times``.)
"""

import scipy.integrate  # noqa: F401  (the registry finds odeint in this module)

from .registry import primitive
from ..runtime import odeint_jvp, odeint_times_jvp, odeint_times_vjp, odeint_vjp


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
