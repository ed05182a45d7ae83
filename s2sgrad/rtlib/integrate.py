"""Runtime helpers for ``scipy.integrate.odeint``: the adjoint and tangent sensitivity methods.

The derivative of an ODE solution needs derivatives of the user's dynamics
function ``func(y, t, *args)``.  They come from the same place as any call
whose target is known only at run time (``s2sgrad.driver.dynamic``): the dynamics
function is transformed once and cached (or traced when it has no source).
"""

import numpy

__all__ = ["odeint_vjp", "odeint_jvp"]

_last = {}


def _float_args(args):
    """Positions of ``args`` that can carry derivatives (floats and float arrays)."""
    out = []
    for k, a in enumerate(args):
        if isinstance(a, bool) or isinstance(a, int):
            continue
        arr = numpy.asarray(a)
        if arr.dtype.kind in "fc":
            out.append(k)
    return out


def odeint_vjp(g, ys, func, y0, t, args=(), rtol=None, atol=None):
    """``(d_y0, d_args)`` for ``ys = odeint(func, y0, t, args)`` given the cotangent ``g`` of ys.

    The adjoint ``a(t) = dL/dy(t)`` obeys ``da/dt = -a df/dy``; integrating it
    backwards between the output times, with ``g`` added at each, gives
    ``d_y0 = a(t0)``; ``d_args`` accumulates ``-a df/dargs`` along the way.
    """
    key = (id(g), id(ys), id(y0), id(t), tuple(id(a) for a in args))
    if _last.get("key") == key:
        return _last["value"]
    import scipy.integrate
    from ..driver import dynamic

    y0 = numpy.asarray(y0, dtype=float)
    shape, n = y0.shape, y0.size
    ys = numpy.asarray(ys, dtype=float).reshape(len(t), n)
    g = numpy.asarray(g, dtype=float).reshape(len(t), n)
    t = numpy.asarray(t, dtype=float)
    args = tuple(args)
    active = _float_args(args)
    sizes = [numpy.size(args[k]) for k in active]
    total = sum(sizes)

    def dynamics(state, time):
        y, a = state[:n], state[n:2 * n]
        tape = []
        fy = dynamic.call_fwd(tape, func, (y.reshape(shape), time) + args, {},
                              (0,) + tuple(2 + k for k in active))
        cts = dynamic.call_bwd(tape, a.reshape(numpy.shape(fy)))
        parts = [numpy.ravel(fy), -numpy.ravel(cts[0])]
        parts += [-numpy.ravel(c) for c in cts[1:]]
        return numpy.concatenate(parts)

    a = g[-1].copy()
    adj = numpy.zeros(total)
    for i in range(len(t) - 1, 0, -1):
        state = numpy.concatenate([ys[i], a, adj])
        kw = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
        end = scipy.integrate.odeint(dynamics, state, [t[i], t[i - 1]], **kw)[-1]
        a = end[n:2 * n] + g[i - 1]
        adj = end[2 * n:]
    d_args, start = [], 0
    for k, a_k in enumerate(args):
        if k in active:
            size = sizes[active.index(k)]
            piece = adj[start:start + size]
            start += size
            d_args.append(piece.reshape(numpy.shape(a_k)) if numpy.ndim(a_k) else float(piece[0]))
        else:
            d_args.append(0.0)
    value = (a.reshape(shape), tuple(d_args))
    _last["key"], _last["value"] = key, value
    return value


def odeint_jvp(t_y0, t_args, ys, func, y0, t, args=(), rtol=None, atol=None):
    """Tangent of ``odeint(func, y0, t, args)`` for tangents of y0 and of args (forward sensitivity)."""
    import scipy.integrate
    from ..runtime import call_jvp     # transforms func (or traces it), as odeint_vjp does

    y0 = numpy.asarray(y0, dtype=float)
    shape, n = y0.shape, y0.size
    t = numpy.asarray(t, dtype=float)
    args = tuple(args)
    active = _float_args(args)
    t_args = tuple(t_args) if t_args is not None else tuple(0.0 * numpy.asarray(a) for a in args)

    def dynamics(state, time):
        y, s = state[:n].reshape(shape), state[n:].reshape(shape)
        fy, tangent = call_jvp(func, (y, time) + args, {}, (0,) + tuple(2 + k for k in active),
                               (s,) + tuple(t_args[k] for k in active))
        return numpy.concatenate([numpy.ravel(fy), numpy.ravel(tangent)])

    start = numpy.zeros(n) if t_y0 is None else numpy.ravel(numpy.asarray(t_y0, dtype=float))
    kw = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
    sol = scipy.integrate.odeint(dynamics, numpy.concatenate([numpy.ravel(y0), start]), t, **kw)
    return sol[:, n:].reshape(numpy.shape(ys))     # odeint's (len(t), n), also for a scalar y0
