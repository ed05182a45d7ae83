"""Derivative rules for SciPy's bracketing root finders (the implicit function theorem).

``x = brentq(f, a, b, args)`` solves ``f(x, *args) = 0``; where ``df/dx`` is not zero the
root moves with the arguments as ``dx/dp = -(df/dp) / (df/dx)``.  The bracket ``[a, b]``
only locates the root: its derivative is zero.  A lambda that reads values of the
differentiated function reaches the rule unbound, those values among ``args``
(``frontend.normalize._Lowering._closure_as_args``).
"""

import scipy.optimize  # noqa: F401  (the registry finds the root finders in this module)

from .registry import UNKNOWN, primitive, set_callable_params, set_shape_params
from ..runtime import root_jvp_args, root_vjp_args

_ROOT_FINDERS = ("brentq", "brenth", "ridder", "bisect")


def _check(args):
    v = args.get("full_output")
    if v not in (None, 0, False) and v is not UNKNOWN:
        return ("full_output=True", "its rules differentiate the root only; call it without "
                                    "full_output")
    return None


@primitive(*_ROOT_FINDERS, family="scipy.optimize")
class _Root:
    check = staticmethod(_check)

    def vjp_args(xp, g, ans, f, a, b, args=(), xtol=2e-12, rtol=8.881784197001252e-16,
                 maxiter=100, full_output=False, disp=True):
        return root_vjp_args(g, ans, f, args)

    def jvp_args(xp, t, ans, f, a, b, args=(), xtol=2e-12, rtol=8.881784197001252e-16,
                 maxiter=100, full_output=False, disp=True):
        return root_jvp_args(t, ans, f, args)


@primitive("toms748", family="scipy.optimize")
class _Toms748:
    check = staticmethod(_check)

    def vjp_args(xp, g, ans, f, a, b, args=(), k=1, xtol=2e-12, rtol=8.881784197001252e-16,
                 maxiter=100, full_output=False, disp=True):
        return root_vjp_args(g, ans, f, args)

    def jvp_args(xp, t, ans, f, a, b, args=(), k=1, xtol=2e-12, rtol=8.881784197001252e-16,
                 maxiter=100, full_output=False, disp=True):
        return root_jvp_args(t, ans, f, args)


set_callable_params("scipy.optimize", {name: ("f",) for name in _ROOT_FINDERS + ("toms748",)})
set_shape_params("scipy.optimize", {name: ("a", "b") for name in _ROOT_FINDERS + ("toms748",)})
