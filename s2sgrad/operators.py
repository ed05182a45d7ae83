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

import numpy

from . import errorsite as _errorsite
from . import wrt as _wrt
from .api import _check_differentiable, _where, mark
from .api import grad as _grad
from .driver import pipeline
from .driver import routes
from .driver.request import Request
from .errors import NonDifferentiableError, UnsupportedError
from .sites import describe

__all__ = ["jvp", "vjp", "elementwise_grad", "deriv", "jacobian", "hessian", "hvp",
           "holomorphic_grad"]


# ---------------------------------------------------------------------------
# Argument checks and tangent structure
# ---------------------------------------------------------------------------

def _bind_args(fn, args, kwargs, wrt, sig=None):
    sig = sig if sig is not None else inspect.signature(fn)
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{getattr(fn, '__qualname__', fn)}: {exc}") from None
    names = list(sig.parameters)
    for w in wrt:
        if w >= len(args):
            raise NonDifferentiableError(
                f"{_where(fn)}: differentiating with respect to argument {w} "
                f"({names[w] if w < len(names) else '?'}), but it was not passed positionally")
        _check_differentiable(fn, names[w], args[w])


def _lead(fn):
    self_value = getattr(fn, "__self__", None)
    return () if self_value is None else (self_value,)


def _match_out(t, value):
    if value is None:
        return None
    return routes.match(t, value)


def _is_scalar(x):
    return isinstance(x, (numbers.Number, numpy.number)) or (
        isinstance(x, numpy.ndarray) and x.ndim == 0)


# ---------------------------------------------------------------------------
# The operators
# ---------------------------------------------------------------------------

def jvp(fn, wrt=0, *, emit=False, fallback="auto"):
    """Forward mode: ``jvp(f, wrt)(*args, tangent) -> (value, tangent of the value)``.

    ``tangent`` has the structure of argument ``wrt`` (a tuple of tangents
    when ``wrt`` is a tuple).  The generated code runs ``f``'s control flow
    once, each line followed by its tangent line; ``emit=True`` returns it.
    ``fallback`` is as for ``grad``: where ``f``'s source cannot be
    transformed, ``"auto"`` traces it in forward mode (saying so), ``"never"``
    raises, ``"always"`` traces it anyway.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "jvp")
    routes.check_policy(fallback)
    request = Request("jvp", wrt_t, fallback=fallback)
    if emit:
        return pipeline.route(fn, request).source

    @functools.wraps(fn)
    def jvp_fn(*args, **kwargs):
        if not args:
            raise TypeError(f"{getattr(fn, '__qualname__', fn)}: jvp needs the arguments and a "
                            f"tangent")
        *args, tangent = args
        route = pipeline.route(fn, request)
        _bind_args(fn, args, kwargs, wrt_t, route.signature)
        tangents = (tangent,) if single else tuple(tangent)
        if len(tangents) != len(wrt_t):
            raise ValueError(f"jvp of {describe(fn)} with respect to {wrt_t} needs "
                             f"{len(wrt_t)} tangents, got {len(tangents)}")
        with routes.policy(fallback):
            value, t_out = route(args, kwargs, tangents)
        routes.check_output(fn, value, "jvp")
        return value, _match_out(t_out, value)
    return mark(jvp_fn, "jvp", request.but(fallback="auto"), fn, wrt_t)


def _generated(f, *args, **kwargs):
    """Run generated function ``f``; an exception it raises gets a note naming the user's line
    it was running or differentiating (``errorsite``), its type and message unchanged."""
    try:
        return f(*args, **kwargs)
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
        return pipeline.run(fn, one).source

    @functools.wraps(fn)
    def derivative(*args, **kwargs):
        _bind_args(fn, args, kwargs, (0,))
        request = one if _is_scalar(args[0]) else one.but(seeds=((0, "ones"),))
        built = pipeline.run(fn, request)
        return _plain(_generated(built.entry, *_lead(fn), *args, **kwargs))
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
        return pipeline.run(fn, request).source

    @functools.wraps(fn)
    def elementwise_gradient(*args, **kwargs):
        _bind_args(fn, args, kwargs, wrt_t)
        built = pipeline.run(fn, request)
        out = _generated(built.entry, *_lead(fn), *args, **kwargs)
        if built.interface["forward"]:
            return routes.match(out, args[0])
        grads = tuple(routes.match(g, args[w]) for g, w in zip(out[1:], wrt_t))
        return grads[0] if single else grads
    return mark(elementwise_gradient, "elementwise_grad", request.but(joint=True), fn)


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
    return mark(holomorphic_gradient, "holomorphic_grad", inner.__s2sgrad__.request, fn, wrt_t)


def vjp(fn, wrt=0, *, emit=False):
    """Reverse mode for any output: ``vjp(f, wrt)(*args) -> (value, backward)``.

    ``backward(cotangent)`` returns the gradient of ``<cotangent, f(*args)>``
    with respect to argument ``wrt`` (a tuple for a tuple ``wrt``); the
    cotangent has the structure of the value.  The forward sweep runs once
    (``f_fwd``); ``backward`` runs the backward sweep (``f_bwd``) on what it
    saved, and can be called again (the forward sweep is rerun when the saved
    values cannot be replayed).
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "vjp")
    request = Request("split", wrt_t)
    routes.check_synchronous(fn)
    if emit:
        return pipeline.run(fn, request).source

    @functools.wraps(fn)
    def vjp_fn(*args, **kwargs):
        built = pipeline.run(fn, request)
        face = built.interface
        _bind_args(fn, args, kwargs, wrt_t)
        lead = _lead(fn)
        if not face["split"]:
            value = routes.check_output(fn, _value_of(fn, args, kwargs), "vjp")

            def backward(cotangent):
                out = _generated(built[face["grad"]], *lead, *args, **kwargs,
                                 **{face["seed"]: cotangent})
                grads = tuple(routes.match(g, args[w]) for g, w in zip(out[1:], wrt_t))
                return grads[0] if single else grads
            return value, backward
        fwd, bwd = built[face["fwd"]], built[face["bwd"]]
        tape = []
        value = routes.check_output(fn, _generated(fwd, tape, *lead, *args, **kwargs), "vjp")
        saved = [tape]

        def backward(cotangent):
            if saved:
                tape = saved.pop() if not face["replay"] else list(saved[0])
            else:
                tape = []
                _generated(fwd, tape, *lead, *args, **kwargs)
            cts = _generated(bwd, tape, cotangent)
            cts = (cts,) if len(face["active"]) == 1 else tuple(cts)
            grads = tuple(routes.match(g, args[w]) for g, w in zip(cts, wrt_t))
            return grads[0] if single else grads
        return value, backward
    return mark(vjp_fn, "vjp", None, fn, wrt_t)


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

    @functools.wraps(fn)
    def hessian_vector_product(*args, **kwargs):
        if not args:
            raise TypeError(f"{fn.__qualname__}: hvp needs the arguments and a vector")
        *args, v = args
        _bind_args(fn, args, kwargs, wrt_t)
        try:
            built = pipeline.run(fn, request)
        except UnsupportedError:   # the gradient's code cannot be transformed again: traced
            return jvp(_grad(fn, wrt), wrt)(*args, v, **kwargs)[1]
        vs = (v,) if single else tuple(v)
        kw = dict(kwargs)
        names = built.interface["tangents"]
        for p, t in zip(built.interface["active"], vs):
            kw[names[p]] = t
        t_grads = _generated(built[built.interface["jvp"]], *_lead(fn), *args, **kw)
        if single:
            return routes.match(t_grads, args[wrt_t[0]])
        return tuple(routes.match(t, args[w]) for t, w in zip(t_grads, wrt_t))
    return mark(hessian_vector_product, "hvp", request, fn)


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
    if not single:
        raise TypeError("jacobian takes one argument position (wrt=int)")
    routes.check_synchronous(fn)
    w = wrt_t[0]
    columns = Request("columns", wrt_t)
    if emit:
        source = pipeline.run(fn, columns).source
        if _has_rows(fn, w):
            source += "\n" + pipeline.run(fn, Request("rows", wrt_t)).source
        return source

    @functools.wraps(fn)
    def jacobian_fn(*args, **kwargs):
        _bind_args(fn, args, kwargs, wrt_t)
        x = numpy.asarray(args[w])
        if x.size > 1:   # fewer outputs than inputs: the rows, if the gradient can be batched
            value = _value_of(fn, args, kwargs)
            if x.size > numpy.size(value) and _has_rows(fn, w):
                return _rows(fn, w, args, kwargs, x, numpy.asarray(value))
        return _matrix(fn, columns, args, kwargs)
    return mark(jacobian_fn, "jacobian", columns, fn, wrt_t)


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


def _matrix(fn, request, args, kwargs):
    """Call the function that returns the whole Jacobian (or Hessian) of ``fn``."""
    built = pipeline.run(fn, request)
    lead = () if built.interface.get("binds_self") else _lead(fn)
    return _generated(built.entry, *lead, *args, **kwargs)


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
        return pipeline.run(fn, request).source

    @functools.wraps(fn)
    def hessian_fn(*args, **kwargs):
        _bind_args(fn, args, kwargs, wrt_t)
        try:
            return _matrix(fn, request, args, kwargs)
        except UnsupportedError:   # the gradient's code cannot be transformed again: traced
            product, x = hvp(fn, w), numpy.asarray(args[w])
            columns = [product(*args, e.reshape(x.shape), **kwargs) for e in numpy.eye(x.size)]
            return numpy.moveaxis(numpy.array(columns), 0, -1).reshape(x.shape + x.shape)
    return mark(hessian_fn, "hessian", request, fn, wrt_t)
