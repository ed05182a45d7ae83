"""Runtime helpers for functions that call a function they are given with ``(x, *args)``:
``scipy.integrate.quad`` (the Leibniz rule) and SciPy's bracketing root finders
(``brentq``, ``brenth``, ``ridder``, ``bisect``, ``toms748``: the implicit function theorem).

The derivatives of the integrand or of the function whose root is found come from the same
place as any call whose target is known only at run time (``s2sgrad.driver.dynamic``): the
function is transformed once and cached (or traced when it has no source).  A lambda that
reads values of the differentiated function reaches here unbound, with those values among
``args`` (``frontend.normalize._Lowering._closure_as_args``).
"""

import numpy

from . import dispatch
from .integrate import _float_args    # which of args can carry derivatives (shared)

__all__ = ["quad_vjp_args", "quad_vjp_bound", "quad_jvp", "root_vjp_args", "root_jvp_args"]


def _first(g):
    """The cotangent of a result's first item (quad's value; its error estimate has none)."""
    if isinstance(g, (tuple, list)):
        return g[0]
    return g


def _partials(func, x, args, active, lead):
    """``(f(x, *args), the cotangents of (x if lead) and args[k] for k in active)``."""
    tape = []
    positions = ((0,) if lead else ()) + tuple(1 + k for k in active)
    value = dispatch.call_fwd(tape, func, (x,) + tuple(args), {}, positions)
    cts = dispatch.call_bwd(tape, numpy.ones_like(value, dtype=float))
    return value, tuple(cts)


def _shaped(piece, like):
    return piece.reshape(numpy.shape(like)) if numpy.ndim(like) else float(piece[0])


def quad_vjp_args(g, func, a, b, args, epsabs, epsrel, limit):
    """Cotangents of ``args`` for ``quad(func, a, b, args)``: by the Leibniz rule,
    ``d/dp ∫ f(t, p) dt = ∫ df/dp (t, p) dt``, integrated by ``quad_vec``."""
    import scipy.integrate
    args = tuple(args)
    active = _float_args(args)
    if not active:
        return tuple(0.0 for _ in args)
    sizes = [numpy.size(args[k]) for k in active]

    def integrand(t):
        _, cts = _partials(func, t, args, active, lead=False)
        return numpy.concatenate([numpy.ravel(numpy.asarray(c, dtype=float)) for c in cts])

    total, _ = scipy.integrate.quad_vec(integrand, a, b, epsabs=epsabs, epsrel=epsrel,
                                        limit=max(limit, 200))
    g0 = _first(g)
    out, start = [], 0
    for k, arg in enumerate(args):
        if k in active:
            size = sizes[active.index(k)]
            out.append(_shaped(g0 * total[start:start + size], arg))
            start += size
        else:
            out.append(0.0)
    return tuple(out)


def quad_vjp_bound(g, func, x, args, sign):
    """The cotangent of an end of the interval: ``±f(x, *args)`` times the value's."""
    value = func(x, *tuple(args))
    return sign * _first(g) * float(value)


def quad_jvp(t_a, t_b, t_args, func, a, b, args, epsabs, epsrel, limit):
    """The tangent of ``quad(func, a, b, args)``: ``[tangent of the value, 0.0]``."""
    import scipy.integrate
    args = tuple(args)
    total = 0.0
    if t_args is not None:
        active = [k for k in _float_args(args) if t_args[k] is not None]
        if active:
            def integrand(t):
                _, tan = dispatch.call_jvp(func, (t,) + args, {}, tuple(1 + k for k in active),
                                          tuple(t_args[k] for k in active))
                return float(tan)
            total += scipy.integrate.quad(integrand, a, b, epsabs=epsabs, epsrel=epsrel,
                                          limit=max(limit, 200))[0]
    if t_b is not None:
        total += float(func(b, *args)) * t_b
    if t_a is not None:
        total -= float(func(a, *args)) * t_a
    # an array, not a tuple: forward code adds the tangents of several arguments with ``+``
    return numpy.array([total, 0.0])


def root_vjp_args(g, x, func, args):
    """Cotangents of ``args`` for a root ``x`` of ``func(x, *args)``: by the implicit function
    theorem, ``dx/dp = -(df/dp) / (df/dx)`` at the root."""
    args = tuple(args)
    active = _float_args(args)
    if not active:
        return tuple(0.0 for _ in args)
    _, cts = _partials(func, x, args, active, lead=True)
    dfdx = float(cts[0])
    if dfdx == 0.0:
        raise ZeroDivisionError("the function's derivative is zero at the root found: the "
                                "root does not depend smoothly on the arguments")
    out, parts = [], dict(zip(active, cts[1:]))
    for k, arg in enumerate(args):
        out.append(-g * numpy.asarray(parts[k]) / dfdx if k in parts else 0.0)
        if k in parts and not numpy.ndim(arg):
            out[-1] = float(out[-1])
    return tuple(out)


def root_jvp_args(t_args, x, func, args):
    """The tangent of a root ``x`` of ``func(x, *args)`` along tangents of ``args``."""
    args = tuple(args)
    active = [k for k in _float_args(args) if t_args[k] is not None]
    if not active:
        return 0.0
    _, tan = dispatch.call_jvp(func, (x,) + args, {}, tuple(1 + k for k in active),
                              tuple(t_args[k] for k in active))
    _, cts = _partials(func, x, args, [], lead=True)
    return -float(tan) / float(cts[0])
