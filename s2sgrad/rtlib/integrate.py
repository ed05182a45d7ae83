"""Runtime helpers for ``scipy.integrate.odeint``: the adjoint and tangent sensitivity methods.

The derivative of an ODE solution needs derivatives of the user's dynamics
function ``func(y, t, *args)``.  They come from the same place as any call
whose target is known only at run time (``s2sgrad.driver.dynamic``): the dynamics
function is transformed once and cached (or traced when it has no source).
"""

import numpy

__all__ = ["odeint_vjp", "odeint_jvp"]

_last = {}


def _holds_floats(value, depth=0):
    """Whether ``value`` (a container or an object) holds a float or a float array."""
    if depth > 4:
        return False
    if isinstance(value, (float, complex)) or isinstance(value, numpy.ndarray) \
            and value.dtype.kind in "fc":
        return True
    if isinstance(value, dict):
        return any(_holds_floats(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_floats(v, depth + 1) for v in value)
    attrs = getattr(value, "__dict__", None)
    return isinstance(attrs, dict) and not callable(value) \
        and any(_holds_floats(v, depth + 1) for v in attrs.values())


def _float_args(args):
    """Positions of ``args`` that can carry derivatives (floats and float arrays).

    An object, a dict or a list of arrays holding floats (a lambda reading ``p.a`` or
    ``d["a"]``) is refused: the rules differentiate with respect to numbers and arrays only,
    and a derivative with respect to such a value must not be dropped without a word.
    """
    out = []
    for k, a in enumerate(args):
        if isinstance(a, (bool, int, str, bytes)) or a is None:
            continue
        try:
            kind = numpy.asarray(a).dtype.kind
        except ValueError:          # a ragged list
            kind = "O"
        if kind in "fc":
            out.append(k)
        elif kind not in "iubSUV" and _holds_floats(a):
            from ..errors import UnsupportedError
            from ..sites import call_site
            raise UnsupportedError(
                call_site() or "<unknown>",
                f"a derivative with respect to a {type(a).__name__} given to the function "
                f"that a SciPy solver calls",
                "its rules differentiate with respect to numbers and arrays: read the float "
                "values out first (a = p.a, then use a in the function) or pass them in args=")
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
