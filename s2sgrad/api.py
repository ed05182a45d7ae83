"""The public differential operators."""

import functools
import inspect
import numbers

from . import cache as _cache
from . import runtime as _rt
from .errors import NonDifferentiableError, NonScalarOutputError

__all__ = ["grad", "value_and_grad"]


class Compiled:
    """One compiled transformation: its generated source and the entry function.

    ``module`` is a ``cache.GeneratedModule``; without it, one is looked up in
    (or added to) the cache.
    """

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
        if self.bound_self is not None:
            return self.entry(self.bound_self, *args, **kwargs)
        return self.entry(*args, **kwargs)


def _transform(fn, options):
    """Run the compiler: ``(program, name of the entry function)``."""
    from .transform.calls import Program
    mode, wrt = options
    program = Program()
    spec = program.entry(fn, wrt)
    return program, spec.grad_name


def _make_compiled(fn, module):
    return Compiled(fn, module.options[1], module)


def _compiled(fn, wrt):
    """The compiled gradient of ``fn`` for ``wrt``: memoized, and cached on disk (see ``cache``)."""
    return _cache.get(fn, ("reverse", wrt), _transform, _make_compiled)


def _normalize_wrt(wrt):
    if isinstance(wrt, numbers.Integral):
        return (int(wrt),), True
    return tuple(int(w) for w in wrt), False


def _check_args(fn, compiled, args, kwargs):
    try:
        bound = compiled.signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{fn.__qualname__}: {exc}") from None
    names = list(compiled.signature.parameters)
    for w in compiled.wrt:
        if w >= len(args):
            raise NonDifferentiableError(
                f"{_where(fn)}: differentiating with respect to argument {w} "
                f"({names[w] if w < len(names) else '?'}), but it was not passed positionally")
        _check_differentiable(fn, names[w], args[w])
    return bound


def _check_differentiable(fn, pname, value):
    if isinstance(value, (bool, numbers.Integral, str, bytes)) or value is None:
        raise NonDifferentiableError(
            f"{_where(fn)}: cannot differentiate {fn.__qualname__} with respect to {pname!r}, "
            f"which is {type(value).__name__} {value!r}; pass a float (e.g. {pname}=1.0) "
            f"or an array of floats")
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "f") in "biu":
        raise NonDifferentiableError(
            f"{_where(fn)}: cannot differentiate {fn.__qualname__} with respect to {pname!r}, "
            f"an array of {dtype}; convert it with .astype(float)")
    if isinstance(value, dict):
        for v in value.values():
            _check_differentiable(fn, pname, v) if isinstance(v, (dict, list, tuple)) else None
    if isinstance(value, (list, tuple)):
        for v in value:
            if isinstance(v, (bool, numbers.Integral)):
                raise NonDifferentiableError(
                    f"{_where(fn)}: {pname!r} contains the integer {v!r}; use floats")


def _where(fn):
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    if code is None:
        return getattr(fn, "__qualname__", repr(fn))
    from .frontend.source import display_path
    return f"{display_path(code.co_filename)}:{code.co_firstlineno}"


def _run(fn, wrt, args, kwargs):
    compiled = _compiled(fn, wrt)
    _check_args(fn, compiled, args, kwargs)
    try:
        out = compiled(args, kwargs)
    except NonScalarOutputError as exc:
        raise NonScalarOutputError(f"{_where(fn)}: {fn.__qualname__}: {exc}") from None
    value, grads = out[0], out[1:]
    grads = tuple(_rt.match(g, args[w]) for g, w in zip(grads, wrt))
    return value, grads


def grad(fn, wrt=0, *, emit=False):
    """The gradient of ``fn`` with respect to positional argument ``wrt``.

    ``fn`` must return a scalar.  ``wrt`` is an int, or a tuple of ints for a
    tuple of gradients.  Each gradient has the structure of its argument: a
    float for a float, an array for an array, the same dicts, lists and tuples
    for a container.  With ``emit=True``, return the generated source instead.
    """
    wrt_t, single = _normalize_wrt(wrt)
    if emit:
        return _compiled(fn, wrt_t).source

    @functools.wraps(fn)
    def gradient(*args, **kwargs):
        value, grads = _run(fn, wrt_t, args, kwargs)   # the generated code checks the output
        return grads[0] if single else grads
    return gradient


def value_and_grad(fn, wrt=0, *, emit=False):
    """Like ``grad``, but the function returns ``(value, gradient)`` from one run."""
    wrt_t, single = _normalize_wrt(wrt)
    if emit:
        return _compiled(fn, wrt_t).source

    @functools.wraps(fn)
    def value_and_gradient(*args, **kwargs):
        value, grads = _run(fn, wrt_t, args, kwargs)
        return value, (grads[0] if single else grads)
    return value_and_gradient
