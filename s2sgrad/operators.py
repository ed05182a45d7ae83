"""The differential operators beyond ``grad``: jvp, vjp, elementwise_grad, deriv,
jacobian, hessian, hvp and holomorphic_grad.

Each builds a ``Request`` for the driver (``driver.pipeline.run``), which
compiles generated source through the one stage list and the one cache
(``emit=True`` returns that source), and returns a plain Python function.
Functions returned by an operator carry a marker (``api.mark``) that tells
the compiler which *generated* function they run, so derivatives of any order,
in any mix of modes, are source transformations of generated code.
"""

import functools
import inspect
import numbers
import types

import numpy

from . import errorsite as _errorsite
from . import wrt as _wrt
from .api import _check_differentiable, _emitted, _refuse_output, _where, _wraps, mark
from .api import grad as _grad
from .driver import calls
from .driver import pipeline
from .driver import routes
from .driver.request import Request
from .errors import (NonDifferentiableError, OutputWithoutDerivativeError, SourceError,
                     UnsupportedArgumentError, UnsupportedError)
from .sites import DERIVATIVE_MARK, describe, is_derivative

__all__ = ["jvp", "vjp", "elementwise_grad", "deriv", "jacobian", "hessian", "hvp",
           "holomorphic_grad"]


# ---------------------------------------------------------------------------
# Argument checks and tangent structure
# ---------------------------------------------------------------------------

def _bind_args(fn, args, kwargs, wrt, sig=None):
    if sig is None:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):     # a C callable: its rule's signature, or none
            sig = _wrt._signature(fn)
    names = []
    if sig is not None:
        try:
            sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{getattr(fn, '__qualname__', fn)}: {exc}") from None
        names = [p.name for p in sig.parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for w in wrt:
        if w >= len(args):
            raise NonDifferentiableError(
                f"{_where(fn)}: differentiating with respect to argument {w} "
                f"({names[w] if w < len(names) else '?'}), but it was not passed positionally")
        _check_differentiable(fn, names[w] if w < len(names) else f"argument {w}", args[w])


def _lead(fn):
    self_value = getattr(fn, "__self__", None)
    return () if self_value is None else (self_value,)


def _unshared(x):
    """``x`` with its arrays, lists and dicts copied (what a function may write into)."""
    if isinstance(x, numpy.ndarray):
        return x.copy()
    if isinstance(x, list):
        return [_unshared(v) for v in x]
    if isinstance(x, tuple) and type(x) is tuple:
        return tuple(_unshared(v) for v in x)
    if isinstance(x, dict) and type(x) is dict:
        return {k: _unshared(v) for k, v in x.items()}
    return x


def _value_of(fn, args, kwargs):
    """``fn(*args, **kwargs)`` on copies of the arguments: a function that writes into its
    argument must not change the caller's (nothing a user passes in is modified)."""
    return fn(*[_unshared(a) for a in args], **{k: _unshared(v) for k, v in kwargs.items()})


def _match_out(t, value):
    if value is None:
        return None
    return routes.match(t, value)


def _route(fn, request):
    """How ``request`` is served for ``fn`` (``pipeline.route``): generated code (a
    ``Built``) where the source can be transformed, else the rule of a primitive, a trace,
    or a ``functools.partial`` around one of those.  A partial around generated code is
    opened: ``(route, args, kwargs)`` with the partial's fixed arguments put in."""
    return pipeline.route(fn, request)


def _open(route, args, kwargs):
    """``route`` without the partials around generated code, and the arguments to give it."""
    args = tuple(args)
    while route.route == "partial" and _innermost(route).route == "generated":
        p = route.partial
        args, kwargs = p.args + args, {**p.keywords, **kwargs}
        route = route.inner
    return route, args, kwargs


def _innermost(route):
    while route.route == "partial":
        route = route.inner
    return route


def _signature_of(route, fn):
    sig = getattr(_innermost(route), "signature", None) if route.route != "partial" \
        else route.signature
    return sig if sig is not None else _wrt._signature(fn)


def runtime_ones(x):
    """The tangent 1 shaped like ``x`` (``deriv``'s seed)."""
    import s2sgrad.runtime as runtime
    return runtime.ones_like(x)


def _is_scalar(x):
    return isinstance(x, (numbers.Number, numpy.number)) or (
        isinstance(x, numpy.ndarray) and x.ndim == 0)


# ---------------------------------------------------------------------------
# The operators
# ---------------------------------------------------------------------------

def jvp(fn, wrt=0, *, emit=False, fallback="auto", example=None):
    """Forward mode: ``jvp(f, wrt)(*args, tangent) -> (value, tangent of the value)``.

    ``tangent`` has the structure of argument ``wrt`` (a tuple of tangents
    when ``wrt`` is a tuple).  The generated code runs ``f``'s control flow
    once, each line followed by its tangent line; ``emit=True`` returns it.
    ``fallback`` is as for ``grad``: where ``f``'s source cannot be
    transformed, ``"auto"`` traces it in forward mode (saying so), ``"never"``
    raises, ``"always"`` traces it anyway.  Each call runs code specialized to the
    signature of its arguments (not the tangents), as ``grad`` does; ``emit=True,
    example=(x, ...)`` returns that code for those arguments.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "jvp")
    routes.check_policy(fallback)
    request = Request("jvp", wrt_t, fallback=fallback)
    if emit:
        return _emitted(fn, request, example)
    site = calls.site(fn, request)
    fast = site.fast
    # a call without keywords runs its runner if it has one (``calls.make_runner``); not for
    # a derivative of a derivative, whose outputs take the structure of its arguments
    derived = getattr(fn, DERIVATIVE_MARK, None) is not None
    hot = site.runners("jvp", single)
    table, last = hot
    names = {"REFUSE": lambda exc: _refuse_output(fn, exc, "jvp"),
             "CHECK": lambda value: routes.check_output(fn, value, "jvp")}

    @functools.wraps(fn)
    def jvp_fn(*args, **kwargs):
        if not kwargs and not derived:
            out = last[0](args)     # the latest call's runner, if it checks its arguments
            if out is not calls.MISS:
                return out
            run = table.get(calls.runner_key(args[:-1])) if args else None
            if run is not None:
                out = run(args)
                if out is not calls.MISS:
                    if run.s2s_keyed:
                        last[0] = run
                    return out
        if not args:
            raise TypeError(f"{getattr(fn, '__qualname__', fn)}: jvp needs the arguments and a "
                            f"tangent")
        tangent, args = args[-1], args[:-1]
        sig = calls.call_signature(args)
        key = sig if not kwargs else (sig, tuple(kwargs))
        ready = fast.get(key)
        if ready is not None and ready.valid():
            if ready.recheck:
                _bind_args(fn, args, kwargs, wrt_t, ready.built.signature)
            tangents = (tangent,) if single else tuple(tangent)
            if len(tangents) != len(wrt_t):
                raise ValueError(f"jvp of {describe(fn)} with respect to {wrt_t} needs "
                                 f"{len(wrt_t)} tangents, got {len(tangents)}")
            try:
                value, t_out = _fast_jvp(ready, args, kwargs, tangents)
            except OutputWithoutDerivativeError as exc:
                _refuse_output(fn, exc, "jvp")
            if not calls.plain_value(value):
                routes.check_output(fn, value, "jvp")
            if derived:      # (else _structured: None)
                shaped = _structured(fn, args, value, True)
                if shaped is not None:
                    return shaped, _structured(fn, args, t_out, True)
            elif not kwargs:
                calls.install(site, hot, args, "jvp", single, names)
            return value, (None if value is None else calls.match(t_out, value))
        route = site.route(sig)
        _bind_args(fn, args, kwargs, wrt_t, route.signature)
        tangents = (tangent,) if single else tuple(tangent)
        if len(tangents) != len(wrt_t):
            raise ValueError(f"jvp of {describe(fn)} with respect to {wrt_t} needs "
                             f"{len(wrt_t)} tangents, got {len(tangents)}")
        token = routes.set_policy(fallback)   # for the callees dispatched at run time
        try:
            value, t_out = route(args, kwargs, tangents)
        except OutputWithoutDerivativeError as exc:
            _refuse_output(fn, exc, "jvp")
        finally:
            routes.reset_policy(token)
        routes.check_output(fn, value, "jvp")
        site.keep(key, sig, route)
        generated = _innermost(route).route == "generated"
        shaped = _structured(fn, args, value, generated)
        if shaped is not None:              # a gradient: shaped like the arguments
            return shaped, _structured(fn, args, t_out, generated)
        if not kwargs and not derived:
            calls.install(site, hot, args, "jvp", single, names)
        return value, _match_out(t_out, value)
    return mark(jvp_fn, "jvp", request.but(fallback="auto"), fn, wrt_t, fallback)


def _fast_jvp(ready, args, kwargs, tangents):
    """What ``Built.__call__`` does for a forward request, from a valid ``Ready``."""
    kw = dict(kwargs)
    for name, t in zip(ready.tangent_names, tangents):
        kw[name] = t
    fallback = ready.fallback
    token = routes.set_policy(fallback) if routes.current() != fallback else None
    try:
        return ready.entry(*ready.lead, *args, **kw)
    except Exception as exc:
        _errorsite.note(exc)
        raise
    finally:
        if token is not None:
            routes.reset_policy(token)



_GRADIENTS = ("grad", "value_and_grad", "elementwise_grad", "holomorphic_grad")


def _structured(fn, args, value, generated=False):
    """When ``fn`` is a gradient made by s2sgrad (``grad(f)``, ...), ``value`` (its value, or
    a derivative of it) given the structure and dtype of the arguments it is the gradient
    with respect to: a tuple for a tuple, every key of a dict, a real for a real.  ``None``
    for any other function."""
    from .sites import DERIVATIVE_MARK
    mark = getattr(fn, DERIVATIVE_MARK, None)
    single = getattr(fn, "__s2sgrad_single__", None)
    if mark is None or mark[0] not in _GRADIENTS or single is None or value is None:
        return None
    kind, _, wrt = mark
    if any(w >= len(args) for w in wrt):
        return None

    def grads(g):
        if single:
            return routes.match(g, args[wrt[0]])
        if generated and len(wrt) == 1:     # generated code returns a lone gradient bare
            g = (g,)
        g = tuple(g) if isinstance(g, (list, tuple)) and len(g) == len(wrt) else None
        if g is None:
            return None
        return tuple(routes.match(gi, args[w]) for gi, w in zip(g, wrt))
    if kind == "value_and_grad":
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            return None
        g = grads(value[1])
        return None if g is None else (_match_out(value[0], value[0]), g)
    return grads(value)


def _cotangent_in(fn, cotangent):
    """A cotangent of a gradient's value as its generated code takes it: a lone gradient
    bare (not in the 1-tuple a ``wrt=(0,)`` gradient returns)."""
    from .sites import DERIVATIVE_MARK
    mark = getattr(fn, DERIVATIVE_MARK, None)
    if mark is None or mark[0] not in _GRADIENTS or getattr(fn, "__s2sgrad_single__", True) \
            or len(mark[2]) != 1:
        return cotangent
    if mark[0] == "value_and_grad":
        v, g = cotangent
        return v, (g[0] if isinstance(g, (list, tuple)) and len(g) == 1 else g)
    return cotangent[0] if isinstance(cotangent, (list, tuple)) and len(cotangent) == 1 \
        else cotangent


def _generated(f, *args, _said=None, **kwargs):
    """Run generated function ``f``; an exception it raises gets a note naming the user's line
    it was running or differentiating (``errorsite``), its type and message unchanged.  With
    ``_said=(fn, operator)``, an output without a derivative that the generated code found
    is said in the operator's words (``api._refuse_output``)."""
    f = routes.entry_for(f, args, kwargs)     # inside a trace: its traced copy
    try:
        return f(*args, **kwargs)
    except OutputWithoutDerivativeError as exc:
        if _said is None:
            raise
        _refuse_output(_said[0], exc, _said[1])
    except Exception as exc:
        _errorsite.note(exc)
        raise


def _plain(t):
    """A 0-d tangent as a Python number (as a float argument's derivative would be)."""
    if isinstance(t, numpy.ndarray) and t.ndim == 0 or isinstance(t, numpy.number):
        return t.item()
    return t


def deriv(fn, *, emit=False):
    """The derivative of a function of one scalar, by forward mode: ``deriv(f)(x) = f'(x)``.

    The tangent of ``x`` is the constant 1.0, folded into the generated code.
    For an array ``x``, the tangent is ones like ``x``: for a function that
    works elementwise, that gives each element's derivative.
    """
    one = Request("deriv", (0,), seeds=((0, "one"),))
    if emit:
        return _route(fn, one).source

    @_wraps(fn)
    def derivative(*args, **kwargs):
        request = one if _is_scalar(args[0] if args else None) \
            else one.but(seeds=((0, "ones"),))
        route = _route(fn, request)
        _bind_args(fn, args, kwargs, (0,), _signature_of(route, fn))
        route, args2, kwargs2 = _open(route, args, kwargs)
        if route.route == "generated":
            return _plain(_generated(route.entry, *route.lead, *args2, **kwargs2,
                                     _said=(fn, "deriv")))
        _, t = route(args2, kwargs2, (runtime_ones(args[0]),))    # by rule or traced
        return _plain(routes.match(t, fn(*args, **kwargs)))
    return mark(derivative, "deriv", one, fn)


def elementwise_grad(fn, wrt=0, *, emit=False):
    """The gradient of ``sum(f(x))``: for a function that works elementwise, each
    element's derivative (a vector-Jacobian product with ones, as in Autograd).

    When the compiler can see that ``f`` acts elementwise (one argument,
    straight-line code of elementwise functions, operators and number
    constants), its Jacobian is diagonal, so the product with ones is the same
    from either side: it runs forward mode then (one sweep, the tangent ones
    like ``x``), which keeps towers such as seven nested ``elementwise_grad``
    small.  Otherwise it is reverse mode with the cotangent ones like the output.
    The driver decides (``pipeline._elementwise``), again whenever what ``f``
    calls changes.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "elementwise_grad")
    routes.check_synchronous(fn)
    request = Request("elementwise_grad", wrt_t)
    if emit:
        return _route(fn, request).source
    site = calls.site(fn, request)
    fast = site.fast

    @_wraps(fn)
    def elementwise_gradient(*args, **kwargs):
        sig = calls.call_signature(args)
        key = sig if not kwargs else (sig, tuple(kwargs))
        ready = fast.get(key)
        if ready is not None and ready.valid():
            route, args2, kwargs2 = ready.built, args, kwargs
            if ready.recheck:
                _bind_args(fn, args, kwargs, wrt_t, route.signature)
        else:
            route = site.route(sig)
            _bind_args(fn, args, kwargs, wrt_t, _signature_of(route, fn))
            site.keep(key, sig, route)
            route, args2, kwargs2 = _open(route, args, kwargs)
        if route.route == "generated":
            out = _generated(route.entry, *route.lead, *args2, **kwargs2,
                             _said=(fn, "elementwise_grad"))
            if route.interface["forward"]:
                g = routes.match(out, args[0])
                return g if single else (g,)
            out = out[1:]
        else:                                         # by rule or traced
            value = _value_of(fn, args, kwargs)
            out = routes.call_with_seed(route, args2, kwargs2, runtime_ones(value))[1:]
        grads = tuple(routes.match(g, args[w]) for g, w in zip(out, wrt_t))
        return grads[0] if single else grads
    elementwise_gradient.__s2sgrad_single__ = single
    return mark(elementwise_gradient, "elementwise_grad", request.but(joint=True), fn, wrt_t)


def holomorphic_grad(fn, wrt=0, *, emit=False):
    """The complex derivative ``f'(z)`` of a holomorphic ``f`` (a complex argument).

    s2sgrad's reverse rules propagate ``g * f'(z)`` without conjugation, so
    the gradient with the seed 1 is the derivative itself; this checks that
    the argument is complex, since for a real argument ``grad`` is what you want.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "holomorphic_grad")
    inner = _grad(fn, wrt, emit=emit)
    if emit:
        return inner

    @functools.wraps(fn)
    def holomorphic_gradient(*args, **kwargs):
        for w in wrt_t:
            if w < len(args) and not numpy.iscomplexobj(args[w]):
                raise NonDifferentiableError(
                    f"{_where(fn)}: holomorphic_grad needs a complex argument {w}, got "
                    f"{type(args[w]).__name__}; pass complex values (x + 0j) or use grad")
        return inner(*args, **kwargs)
    holomorphic_gradient.__s2sgrad_single__ = single
    return mark(holomorphic_gradient, "holomorphic_grad", inner.__s2sgrad__.request, fn, wrt_t)


def vjp(fn, wrt=0, *, emit=False, example=None):
    """Reverse mode for any output: ``vjp(f, wrt)(*args) -> (value, backward)``.

    ``backward(cotangent)`` returns the gradient of ``<cotangent, f(*args)>``
    with respect to argument ``wrt`` (a tuple for a tuple ``wrt``); the
    cotangent has the structure of the value.  The forward sweep runs once
    (``f_fwd``); ``backward`` runs the backward sweep (``f_bwd``) on what it
    saved, and can be called again (the forward sweep is rerun when the saved
    values cannot be replayed).  Each call runs code specialized to the signature of its
    arguments, as ``grad`` does; ``emit=True, example=(x, ...)`` returns that code.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "vjp")
    routes.check_synchronous(fn)
    request = Request("split", wrt_t)
    if emit:
        return _emitted(fn, request, example)
    site = calls.site(fn, request)
    fast = site.fast

    @_wraps(fn)
    def vjp_fn(*args, **kwargs):
        user_args = args
        sig = calls.call_signature(args)
        key = sig if not kwargs else (sig, tuple(kwargs))
        ready = fast.get(key)
        if ready is not None and ready.valid():
            built = ready.built
            if ready.recheck:
                _bind_args(fn, args, kwargs, wrt_t, built.signature)
        else:
            built = site.route(sig)
            _bind_args(fn, args, kwargs, wrt_t, _signature_of(built, fn))
            site.keep(key, sig, built)
            built, args, kwargs = _open(built, args, kwargs)
        if built.route != "generated":               # by rule or traced
            return _vjp_by_route(fn, built, user_args, args, kwargs, wrt_t, single)
        face = built.interface
        lead = built.lead
        if not face["split"]:
            # (args with a partial's fixed ones), on copies: the caller's arrays stay as they are
            value = routes.check_output(fn, _value_of(built.fn, args, kwargs), "vjp")
            shaped = _structured(fn, user_args, value)
            value = value if shaped is None else shaped

            def backward(cotangent):
                cotangent = _cotangent_in(fn, cotangent)
                out = _generated(built[face["grad"]], *lead, *args, **kwargs,
                                 **{face["seed"]: cotangent})
                grads = tuple(routes.match(g, user_args[w]) for g, w in zip(out[1:], wrt_t))
                return grads[0] if single else grads
            return value, backward
        fwd, bwd = built[face["fwd"]], built[face["bwd"]]
        tape = []
        value = routes.check_output(fn, _generated(fwd, tape, *lead, *args, **kwargs), "vjp")
        shaped = _structured(fn, user_args, value, True)
        value = value if shaped is None else shaped
        saved = [tape]

        def backward(cotangent):
            cotangent = _cotangent_in(fn, cotangent)
            if saved:
                tape = saved.pop() if not face["replay"] else list(saved[0])
            else:
                tape = []
                _generated(fwd, tape, *lead, *args, **kwargs)
            cts = _generated(bwd, tape, cotangent)
            cts = (cts,) if len(face["active"]) == 1 else tuple(cts)
            grads = tuple(routes.match(g, user_args[w]) for g, w in zip(cts, wrt_t))
            return grads[0] if single else grads
        return value, backward
    return mark(vjp_fn, "vjp", None, fn, wrt_t)


def _vjp_by_route(fn, route, user_args, args, kwargs, wrt_t, single):
    """``(value, backward)`` of a function differentiated by its rule or traced."""
    if route.route == "traced":
        from .fallback.trace import trace_vjp
        value, back = trace_vjp(route.fn, tuple(args), dict(kwargs), route.wrt)
    else:
        value = _value_of(fn, args, kwargs)

        def back(cotangent):
            return routes.call_with_seed(route, args, kwargs, cotangent)[1:]

    def backward(cotangent):
        grads = tuple(routes.match(g, user_args[w]) for g, w in zip(back(cotangent), wrt_t))
        return grads[0] if single else grads
    return value, backward


def hvp(fn, wrt=0, *, emit=False):
    """The Hessian-vector product ``hvp(f, wrt)(*args, v)``, without forming the Hessian.

    Forward mode over the generated gradient: the tangent of ``grad(f)`` along
    ``v`` (a tuple of vectors for a tuple ``wrt``).
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "hvp")
    routes.check_synchronous(fn)
    request = Request("hvp", wrt_t)
    if emit:
        return pipeline.run(fn, request).source

    @_wraps(fn)
    def hessian_vector_product(*args, **kwargs):
        if not args:
            raise TypeError(f"{describe(fn)}: hvp needs the arguments and a vector")
        *args, v = args
        inner = _unwrapped(fn, wrt_t, args, kwargs)
        if inner is not None:
            target, shifted, args, kwargs = inner
            return hvp(target, shifted if not single else shifted[0])(*args, v, **kwargs)
        _bind_args(fn, args, kwargs, wrt_t, _wrt._signature(fn))
        built = _second_order(fn, request)
        if built is None:   # no generated gradient to transform again: jvp of grad's route
            return jvp(_grad(fn, wrt), wrt)(*args, v, **kwargs)[1]
        if len(wrt_t) == 1 and not single:
            v = v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v
        vs = (v,) if len(wrt_t) == 1 else tuple(v)
        kw = dict(kwargs)
        names = built.interface["tangents"]
        for p, t in zip(built.interface["active"], vs):
            kw[names[p]] = t
        t_grads = _generated(built[built.interface["jvp"]], *built.lead, *args, **kw,
                             _said=(fn, "hvp"))
        if len(wrt_t) == 1:
            t = routes.match(t_grads, args[wrt_t[0]])
            return t if single else (t,)
        return tuple(routes.match(t, args[w]) for t, w in zip(t_grads, wrt_t))
    return mark(hessian_vector_product, "hvp", request, fn)


def _unwrapped(fn, wrt_t, args, kwargs):
    """A ``functools.partial`` as its function, the fixed arguments put in, and a callable
    object as its ``__call__``: ``(target, wrt, args, kwargs)``, or None for anything else.
    (For the operators that differentiate ``fn``'s gradient again, whose generated code
    is made for the function itself.)"""
    if isinstance(fn, functools.partial):
        shift = len(fn.args)
        return (fn.func, tuple(w + shift for w in wrt_t), fn.args + tuple(args),
                {**fn.keywords, **kwargs})
    if not isinstance(fn, (types.FunctionType, types.MethodType)) and not is_derivative(fn) \
            and isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
        return fn.__call__, wrt_t, tuple(args), kwargs
    return None


def _second_order(fn, request):
    """The generated code of a request over ``fn``'s generated gradient (``hvp``,
    ``hessian``), or None when there is none: ``fn`` is a primitive, a partial, a
    function the fallback traces, or its gradient's code cannot be transformed again."""
    if isinstance(fn, functools.partial) or _is_traced(fn):
        return None
    try:
        return pipeline.run(fn, request)
    except UnsupportedArgumentError:
        raise
    except (SourceError, UnsupportedError):     # the caller traces instead (and says so)
        return None


def _is_traced(fn):
    from .sites import is_traced_derivative
    return is_traced_derivative(fn)


def jacobian(fn, wrt=0, *, emit=False):
    """The Jacobian of ``fn`` with respect to argument ``wrt``: shape ``out.shape + x.shape``.

    Built by one sweep of whichever mode needs fewer directions, all the
    directions at once: generated code whose tangents carry a leading axis of
    directions (``ForwardProgram(batched=True)``).  When ``x`` has at most as
    many elements as the output, that is forward mode on ``fn``, one unit
    direction per element of ``x`` (the columns).  Otherwise it is the
    backward sweep of ``fn`` (its generated gradient, differentiated with
    respect to the output's cotangent, which it is linear in), one unit
    cotangent per element of the output (the rows).  Primitives with a batch
    rule handle the whole batch in one call; others apply their forward rule
    to each direction in turn.  ``emit=True`` returns both modules' source.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "jacobian", single_only=True)
    routes.check_synchronous(fn)
    if not single:
        raise TypeError("jacobian takes one argument position (wrt=int)")
    w = wrt_t[0]
    columns = Request("columns", wrt_t)
    if emit:
        route = _route(fn, columns)
        if route.route != "generated":
            return route.source
        source = route.source
        if _has_rows(fn, w):
            source += "\n" + pipeline.run(fn, Request("rows", wrt_t)).source
        return source

    @_wraps(fn)
    def jacobian_fn(*args, **kwargs):
        route = _route(fn, columns)
        _bind_args(fn, args, kwargs, wrt_t, _signature_of(route, fn))
        if route.route == "partial" and _innermost(route).route == "generated":
            target, shifted, args, kwargs = _unwrapped(fn, wrt_t, args, kwargs)
            return jacobian(target, shifted[0])(*args, **kwargs)
        if route.route != "generated":
            return _columns_by_route(route, args, kwargs, w)     # by rule or traced
        target = route.fn               # what was compiled: a callable object's __call__
        x = numpy.asarray(args[w])
        if x.size > 1:   # fewer outputs than inputs: the rows, if the gradient can be batched
            value = routes.check_output(fn, _value_of(target, args, kwargs), "jacobian")
            if x.size > numpy.size(value) and _has_rows(target, w):
                return _rows(target, w, args, kwargs, x, numpy.asarray(value))
        return _matrix(target, columns, args, kwargs, _said=(fn, "jacobian"))
    return mark(jacobian_fn, "jacobian", columns, fn, wrt_t)


def _columns_by_route(route, args, kwargs, w):
    """The Jacobian ``out.shape + x.shape``, one forward sweep of ``route`` (by rule,
    traced, or a partial) per element of argument ``w``."""
    x = args[w]
    shape, dtype = numpy.shape(x), numpy.result_type(x)
    cols, value = [], None
    for k in range(int(numpy.prod(shape, dtype=int))):
        e = numpy.zeros(int(numpy.prod(shape, dtype=int)), dtype)
        e[k] = 1
        value, t = route(args, kwargs, (e.reshape(shape) if shape else e[0].item(),))
        cols.append(t)
    if value is None:
        value = route.fn(*args, **kwargs) if hasattr(route, "fn") else None
        return numpy.zeros(numpy.shape(value) + shape)
    out = numpy.stack([numpy.broadcast_to(c, numpy.shape(value)) for c in cols], axis=-1)
    return out.reshape(numpy.shape(value) + shape)


def _matrix(fn, request, args, kwargs, _said=None):
    """Call the function that returns the whole Jacobian (or Hessian) of ``fn``."""
    built = pipeline.run(fn, request)
    lead = () if built.interface.get("binds_self") else _lead(fn)
    return _generated(built.entry, *lead, *args, **kwargs, _said=_said)


def _has_rows(fn, w):
    """Whether ``fn``'s backward sweep can be batched: its generated gradient is itself
    differentiable (a call known only at run time is not); if not, columns it is."""
    try:
        pipeline.run(fn, Request("rows", (w,)))
    except UnsupportedError:
        return False
    return True


def _rows(fn, w, args, kwargs, x, out):
    """The Jacobian ``out.shape + x.shape`` from one batched backward sweep, its rows."""
    import s2sgrad.runtime as runtime
    built = pipeline.run(fn, Request("rows", (w,)))
    face = built.interface
    kw = dict(kwargs)
    kw[face["tangents"][face["active"][0]]] = directions = runtime.unit_directions(out)
    kw[face["seed"]] = numpy.zeros(out.shape, directions.dtype)   # the sweep is linear in it
    rows = _generated(built.entry, *_lead(fn), *args, **kw)
    return runtime.rows_to_jacobian(rows, out, x)


def hessian(fn, wrt=0, *, emit=False):
    """The Hessian of a scalar ``fn``, shape ``x.shape + x.shape``: forward mode over the
    generated gradient, in one sweep whose tangents carry a leading axis of directions,
    one unit direction per element of ``x`` (see ``jacobian``)."""
    wrt_t, single = _wrt.normalize(fn, wrt, "hessian", single_only=True)
    routes.check_synchronous(fn)
    if not single:
        raise TypeError("hessian takes one argument position (wrt=int)")
    w = wrt_t[0]
    request = Request("hessian", wrt_t)
    if emit:
        if _is_traced(fn):      # no generated code to differentiate again: it says so
            return _route(fn, Request("jvp", wrt_t)).source
        return pipeline.run(fn, request).source

    @_wraps(fn)
    def hessian_fn(*args, **kwargs):
        inner = _unwrapped(fn, wrt_t, args, kwargs)
        if inner is not None:
            target, shifted, args, kwargs = inner
            return hessian(target, shifted[0])(*args, **kwargs)
        _bind_args(fn, args, kwargs, wrt_t, _wrt._signature(fn))
        built = _second_order(fn, request)
        if built is not None:
            lead = () if built.interface.get("binds_self") else _lead(fn)
            return _generated(built.entry, *lead, *args, **kwargs, _said=(fn, "hessian"))
        else:   # no generated gradient to transform again: columns of hvp
            product, x = hvp(fn, w), numpy.asarray(args[w])
            columns = [product(*args, e.reshape(x.shape), **kwargs) for e in numpy.eye(x.size)]
            return numpy.moveaxis(numpy.array(columns), 0, -1).reshape(x.shape + x.shape)
    return mark(hessian_fn, "hessian", request, fn, wrt_t)
