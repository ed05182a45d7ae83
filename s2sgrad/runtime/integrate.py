"""Runtime helpers for ``scipy.integrate.odeint``: the adjoint and tangent sensitivity methods.

The derivative of an ODE solution needs derivatives of the user's dynamics
function ``func(y, t, *args)``.  They come from the same place as any call
whose target is known only at run time (``runtime.dispatch``, which forwards
to the driver): the dynamics function is transformed once and cached (or
traced when it has no source).
"""

import numpy

from . import dispatch

__all__ = ["odeint_vjp", "odeint_jvp", "odeint_times_vjp", "odeint_times_jvp"]

# The last adjoint solved: the rules for y0 and for args each call odeint_vjp with the same
# inputs, and the adjoint ODE gives both, so the second call reuses the first's.  It is reused
# only for the same dynamics function and inputs equal in value (copies are kept, so an array
# changed in place, or a new array that happens to get a freed one's id, is never mistaken).
_last = {}


def _same_inputs(key):
    old = _last.get("key")
    if old is None or len(old) != len(key):
        return False
    for a, b in zip(old, key):
        if callable(b) or b is None or isinstance(b, (int, float, str)):
            if a is not b and a != b:
                return False
        elif not (numpy.shape(a) == numpy.shape(b) and numpy.array_equal(a, b)):
            return False
    return True


def _snapshot(key):
    return tuple(k if callable(k) or k is None or isinstance(k, (int, float, str))
                 else numpy.array(k, copy=True) for k in key)


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
            raise UnsupportedError(
                dispatch.call_site(),
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
    key = (func, rtol, atol, g, ys, y0, t) + tuple(args)
    if _same_inputs(key):
        return _last["value"]
    import scipy.integrate

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
        fy = dispatch.call_fwd(tape, func, (y.reshape(shape), time) + args, {},
                              (0,) + tuple(2 + k for k in active))
        cts = dispatch.call_bwd(tape, a.reshape(numpy.shape(fy)))
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
    _last["key"], _last["value"] = _snapshot(key), value
    return value


def odeint_jvp(t_y0, t_args, ys, func, y0, t, args=(), rtol=None, atol=None):
    """Tangent of ``odeint(func, y0, t, args)`` for tangents of y0 and of args (forward sensitivity)."""
    import scipy.integrate

    y0 = numpy.asarray(y0, dtype=float)
    shape, n = y0.shape, y0.size
    t = numpy.asarray(t, dtype=float)
    args = tuple(args)
    active = _float_args(args)
    t_args = tuple(t_args) if t_args is not None else tuple(0.0 * numpy.asarray(a) for a in args)

    def dynamics(state, time):
        y, s = state[:n].reshape(shape), state[n:].reshape(shape)
        fy, tangent = dispatch.call_jvp(func, (y, time) + args, {},
                                        (0,) + tuple(2 + k for k in active),
                                        (s,) + tuple(t_args[k] for k in active))
        return numpy.concatenate([numpy.ravel(fy), numpy.ravel(tangent)])

    start = numpy.zeros(n) if t_y0 is None else numpy.ravel(numpy.asarray(t_y0, dtype=float))
    kw = {k: v for k, v in (("rtol", rtol), ("atol", atol)) if v is not None}
    sol = scipy.integrate.odeint(dynamics, numpy.concatenate([numpy.ravel(y0), start]), t, **kw)
    return sol[:, n:].reshape(numpy.shape(ys))     # odeint's (len(t), n), also for a scalar y0


def _rates(func, ys, y0, t, args):
    """``func(y_i, t_i, *args)`` at each output, flattened: ``(len(t), n)``."""
    y0 = numpy.asarray(y0, dtype=float)
    shape, n = y0.shape, y0.size
    ys = numpy.asarray(ys, dtype=float).reshape(len(t), n)
    return numpy.array([numpy.ravel(func(ys[i].reshape(shape) if shape else ys[i],
                                         float(t[i]), *args)) for i in range(len(t))])


def odeint_times_vjp(g, ys, func, y0, t, args=(), rtol=None, atol=None):
    """The gradient with respect to the output times ``t`` of ``ys = odeint(func, y0, t)``.

    Moving ``t_i`` (i > 0) moves ``ys_i`` along the dynamics: ``g_i . func(ys_i, t_i)``.
    Moving the start ``t_0`` moves every later value the other way, ``-d_y0 . func(y0,
    t_0)`` (``d_y0`` the gradient with respect to ``y0``; for ``ys_0 = y0`` the two
    terms cancel)."""
    times = numpy.asarray(t, dtype=float)
    rates = _rates(func, ys, y0, times, tuple(args))
    gs = numpy.asarray(g, dtype=float).reshape(rates.shape)
    out = numpy.sum(gs * rates, axis=1)
    d_y0 = odeint_vjp(g, ys, func, y0, t, args, rtol, atol)[0]
    out[0] -= numpy.dot(numpy.ravel(d_y0), rates[0])
    return out.reshape(numpy.shape(t))


def odeint_times_jvp(t_t, ys, func, y0, t, args=(), rtol=None, atol=None):
    """The tangent of ``ys = odeint(func, y0, t)`` along a tangent ``t_t`` of the times (see
    ``odeint_times_vjp``): ``func(ys_i, t_i) dt_i``, and a start moved by ``dt_0`` as a
    change ``-func(y0, t_0) dt_0`` of ``y0``."""
    times = numpy.asarray(t, dtype=float)
    dt = numpy.ravel(numpy.asarray(t_t, dtype=float))
    rates = _rates(func, ys, y0, times, tuple(args))
    out = rates * dt[:, None]
    if dt[0] != 0:
        shift = (-rates[0] * dt[0]).reshape(numpy.shape(y0))
        out = out + numpy.reshape(odeint_jvp(shift, None, ys, func, y0, t, args, rtol, atol),
                                  out.shape)
    return out.reshape(numpy.shape(ys))
