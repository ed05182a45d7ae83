"""The public differential operators."""

import functools
import inspect
import numbers

from . import cache as _cache
from . import dynamic as _dynamic  # noqa: F401  (registers the runtime's dispatch hook)
from .errors import NonDifferentiableError, NonScalarOutputError
from .fallback import choose as _choose

__all__ = ["grad", "value_and_grad"]


class Compiled:
    """One compiled transformation: its generated source and the entry function.

    ``module`` is a ``cache.GeneratedModule``; without it, one is looked up in
    (or added to) the cache.
    """

    route = "generated"

    def __init__(self, fn, wrt, module=None):
        if module is None:
            module, _ = _cache.lookup(fn, ("reverse", wrt), _transform)
        self.fn = fn
        self.wrt = wrt
        self.module = module
        self.source = module.source
        self.filename = module.filename
        self.entry = module.function
        self.signature = inspect.signature(fn)
        self.bound_self = getattr(fn, "__self__", None)

    def __call__(self, args, kwargs):
        entry = _choose.entry_for(self.entry, args, kwargs)   # traced copy inside a trace
        if self.bound_self is not None:
            return entry(self.bound_self, *args, **kwargs)
        return entry(*args, **kwargs)


def _transform(fn, options):
    """Run the compiler: ``(program, name of the entry function)``."""
    from .transform.calls import Program
    mode, wrt = options
    program = Program()
    spec = program.entry(fn, wrt)
    return program, spec.grad_name


def _make_compiled(fn, module):
    return Compiled(fn, module.options[1], module)


def _generated(fn, wrt):
    """The compiled gradient of ``fn`` for ``wrt``: memoized, and cached on disk (see ``cache``)."""
    return _cache.get(fn, ("reverse", wrt), _transform, _make_compiled)


_ROUTES = {}    # (fn, wrt, fallback) -> a route other than generated code


def _compiled(fn, wrt, fallback="auto"):
    """The route of ``fn``'s gradient: generated code where the source can be transformed,
    else the rule of a bare primitive or the tracing fallback (see ``fallback.choose``)."""
    if fallback != "always":
        hit = _cache.recall(fn, ("reverse", wrt))    # generated code, memoized and checked
        if hit is not None:
            return hit
    key = (fn, wrt, fallback)
    try:
        hit = _ROUTES.get(key)
    except TypeError:               # an unhashable callable
        key, hit = None, None
    if hit is None:
        hit = _choose.build(fn, wrt, fallback, _generated, lambda f, w: _compiled(f, w, fallback))
        if hit.route != "generated" and key is not None:
            _ROUTES[key] = hit
    return hit


def _normalize_wrt(wrt):
    if isinstance(wrt, numbers.Integral):
        return (int(wrt),), True
    return tuple(int(w) for w in wrt), False


def _positional_names(signature):
    if signature is None:
        return []
    return [p.name for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _check_args(fn, compiled, args, kwargs):
    bound = None
    if compiled.signature is not None:      # (no signature: a C callable; it checks itself)
        try:
            bound = compiled.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{_choose.describe(fn)}: {exc}") from None
    names = getattr(compiled, "positional_names", None)
    if names is None:
        names = compiled.positional_names = _positional_names(compiled.signature)
    for w in compiled.wrt:
        pname = names[w] if w < len(names) else f"argument {w}"
        if w >= len(args):
            raise NonDifferentiableError(
                f"{_where(fn)}: differentiating with respect to argument {w} "
                f"({pname}), but it was not passed positionally")
        _check_differentiable(fn, pname, args[w])
    return bound


def _check_differentiable(fn, pname, value):
    if isinstance(value, (bool, numbers.Integral, str, bytes)) or value is None:
        raise NonDifferentiableError(
            f"{_where(fn)}: cannot differentiate {_choose.describe(fn)} with respect to {pname!r}, "
            f"which is {type(value).__name__} {value!r}; pass a float (e.g. {pname}=1.0) "
            f"or an array of floats")
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "f") in "biu":
        raise NonDifferentiableError(
            f"{_where(fn)}: cannot differentiate {_choose.describe(fn)} with respect to "
            f"{pname!r}, an array of {dtype}; convert it with .astype(float)")
    if isinstance(value, dict):
        for v in value.values():
            _check_differentiable(fn, pname, v) if isinstance(v, (dict, list, tuple)) else None
    if isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, (bool, numbers.Integral)):
                raise NonDifferentiableError(
                    f"{_where(fn)}: {pname!r} contains the integer {v!r}; use floats")


def _where(fn):
    if isinstance(fn, functools.partial):
        fn = fn.func
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    if code is None:
        return _choose.describe(fn)
    from .frontend.source import display_path
    return f"{display_path(code.co_filename)}:{code.co_firstlineno}"


def _run(fn, wrt, args, kwargs, fallback="auto"):
    compiled = _compiled(fn, wrt, fallback)
    _check_args(fn, compiled, args, kwargs)
    token = _choose.set_policy(fallback)   # for the callees dispatched at run time
    try:
        out = compiled(args, kwargs)
    except NonScalarOutputError as exc:
        raise NonScalarOutputError(f"{_where(fn)}: {_choose.describe(fn)}: {exc}") from None
    finally:
        _choose.reset_policy(token)
    value, grads = out[0], out[1:]
    grads = tuple(_choose.match(g, args[w]) for g, w in zip(grads, wrt))
    return value, grads


def grad(fn, wrt=0, *, emit=False, fallback="auto"):
    """The gradient of ``fn`` with respect to positional argument ``wrt``.

    ``fn`` must return a scalar.  ``wrt`` is an int, or a tuple of ints for a
    tuple of gradients.  Each gradient has the structure of its argument: a
    float for a float, an array for an array, the same dicts, lists and tuples
    for a container.  With ``emit=True``, return the generated source instead.

    ``fallback`` says what to do where the source cannot be transformed (no
    source, an unsupported construct): ``"auto"`` traces that function at run
    time and warns once (``s2sgrad.FallbackWarning``), ``"never"`` raises,
    ``"always"`` traces ``fn`` even when it could be transformed.
    """
    wrt_t, single = _normalize_wrt(wrt)
    _choose.check_policy(fallback)
    if emit:
        return _compiled(fn, wrt_t, fallback).source

    @_wraps(fn)
    def gradient(*args, **kwargs):
        value, grads = _run(fn, wrt_t, args, kwargs, fallback)   # the route checks the output
        return grads[0] if single else grads
    setattr(gradient, _choose.DERIVATIVE_MARK, ("grad", fn, wrt_t))
    return _mark(gradient, "grad", fn, wrt_t)


def value_and_grad(fn, wrt=0, *, emit=False, fallback="auto"):
    """Like ``grad``, but the function returns ``(value, gradient)`` from one run."""
    wrt_t, single = _normalize_wrt(wrt)
    _choose.check_policy(fallback)
    if emit:
        return _compiled(fn, wrt_t, fallback).source

    @_wraps(fn)
    def value_and_gradient(*args, **kwargs):
        value, grads = _run(fn, wrt_t, args, kwargs, fallback)
        return value, (grads[0] if single else grads)
    setattr(value_and_gradient, _choose.DERIVATIVE_MARK, ("value_and_grad", fn, wrt_t))
    return _mark(value_and_gradient, "value_and_grad", fn, wrt_t)


def _mark(wrapper, kind, fn, wrt):
    """Let a derivative of ``wrapper`` transform the generated code it runs (``operators``)."""
    from .operators import mark, reverse_source_function
    return mark(wrapper, kind, lambda: reverse_source_function(fn, wrt, kind), fn, wrt)


def _wraps(fn):
    """``functools.wraps`` that tolerates callables without a name (a partial, a ufunc)."""
    if isinstance(fn, functools.partial):
        def deco(wrapper):
            functools.update_wrapper(wrapper, fn.func, updated=())
            wrapper.__wrapped__ = fn
            return wrapper
        return deco
    return functools.wraps(fn)
