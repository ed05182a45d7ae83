"""The public differential operators."""

import functools
import numbers

from .driver import calls as _calls
from .driver import dynamic as _dynamic  # noqa: F401 (registers the runtime's dispatch hook)
from .driver import pipeline as _pipeline
from .driver import routes as _routes
from .driver.request import Request
from . import errorsite as _errorsite
from . import wrt as _wrt
from .errors import NonDifferentiableError, NonScalarOutputError, OutputWithoutDerivativeError
from .signature import ANY, signature_of
from .sites import DERIVATIVE_MARK, TRACED_BY_CHOICE, describe, traced_by_choice

__all__ = ["grad", "value_and_grad", "show", "stages", "mark", "Derivative"]


def _compiled(fn, wrt, fallback="auto"):
    """The route of ``fn``'s gradient (``driver.pipeline.route``): generated code where the
    source can be transformed, else the rule of a bare primitive or the tracing fallback."""
    return _pipeline.route(fn, Request("grad", wrt, fallback=fallback))


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
            raise TypeError(f"{describe(fn)}: {exc}") from None
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
            f"{_where(fn)}: cannot differentiate {describe(fn)} with respect to {pname!r}, "
            f"which is {type(value).__name__} {value!r}; pass a float (e.g. {pname}=1.0) "
            f"or an array of floats")
    dtype = getattr(value, "dtype", None)
    if dtype is not None and getattr(dtype, "kind", "f") in "biu":
        raise NonDifferentiableError(
            f"{_where(fn)}: cannot differentiate {describe(fn)} with respect to "
            f"{pname!r}, an array of {dtype}; convert it with .astype(float)")
    if isinstance(value, (dict, list, tuple)):
        _check_items(fn, pname, value)


def _check_items(fn, pname, container, path=""):
    """An integer (or bool) anywhere in a dict, list or tuple differentiated is refused, as
    an integer argument is (and as Autograd refuses them): a dict's as a list's."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for k, v in items:
        here = f"{path}[{k!r}]"
        if isinstance(v, (bool, numbers.Integral)):
            kind = "bool" if isinstance(v, bool) else "integer"
            raise NonDifferentiableError(
                f"{_where(fn)}: {pname!r} contains the {kind} {v!r} at {pname}{here}; use "
                f"floats ({float(v)!r}), or pass it as another argument, not differentiated")
        if isinstance(v, (dict, list, tuple)):
            _check_items(fn, pname, v, here)


def _where(fn):
    if isinstance(fn, functools.partial):
        fn = fn.func
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    if code is None:
        return describe(fn)
    from .frontend.source import display_path
    return f"{display_path(code.co_filename)}:{code.co_firstlineno}"


def _run(fn, request, args, kwargs, operator, site):
    """``(value, gradients)`` of ``fn`` at ``args`` by the route ``site`` (the ``Site`` of
    ``(fn, request)``) gives their signature (``driver.calls``).

    The slow path: it checks the arguments, finds the route and, where the route is
    generated code, leaves a ``Ready`` in ``site.fast`` for ``_fast`` to run next time.
    """
    wrt, fallback = request.wrt, request.fallback
    sig, key = _calls.key_of(args, kwargs)
    compiled = site.route(sig)
    _check_args(fn, compiled, args, kwargs)
    token = _routes.set_policy(fallback)   # for the callees dispatched at run time
    try:
        out = compiled(args, kwargs)
    except NonScalarOutputError as exc:
        raise NonScalarOutputError(f"{_where(fn)}: {describe(fn)}: {exc}") from None
    except OutputWithoutDerivativeError as exc:
        _refuse_output(fn, exc, operator)
    finally:
        _routes.reset_policy(token)
    if getattr(compiled, "valued", True):
        value, grads = out[0], out[1:]
        _routes.check_output(fn, value, operator)   # None, a bool, a str: no silent zero gradient
    else:
        value, grads = None, (out,)     # the gradient alone, the output checked inside
    grads = tuple(_routes.match(g, args[w]) for g, w in zip(grads, wrt))
    site.keep(key, sig, compiled)
    return value, grads


def _refuse_output(fn, exc, operator):
    """The generated code found an output without a derivative: say it as the operators
    do for every route (``routes.check_output``).  Of a derivative's derivative
    (``grad(grad(f))``), the output found is the innermost function's: said of it."""
    mark = getattr(fn, DERIVATIVE_MARK, None)
    while mark is not None and mark[0] in ("grad", "value_and_grad") and callable(mark[1]):
        operator, fn = mark[0], mark[1]
        mark = getattr(fn, DERIVATIVE_MARK, None)
    try:
        _routes.check_output(fn, exc.value, operator)
    except NonDifferentiableError as refused:
        raise refused from None
    raise exc


def _fast(fn, ready, args, kwargs, operator):
    """What ``_run`` does, for a call whose key has a valid ``Ready`` (``driver.calls``):
    the checks that the key does not decide, the generated entry, its output checked and
    matched to the arguments as the slow path does."""
    if ready.recheck:
        _check_args(fn, ready.built, args, kwargs)
    fallback = ready.fallback
    token = _routes.set_policy(fallback) if _routes.current() != fallback else None
    try:
        if ready.lead:
            out = ready.entry(*ready.lead, *args, **kwargs)
        else:
            out = ready.entry(*args, **kwargs)
    except NonScalarOutputError as exc:
        _errorsite.note(exc)
        raise NonScalarOutputError(f"{_where(fn)}: {describe(fn)}: {exc}") from None
    except OutputWithoutDerivativeError as exc:
        _refuse_output(fn, exc, operator)
    except Exception as exc:
        _errorsite.note(exc)     # the user's line it was running or differentiating
        raise
    finally:
        if token is not None:
            _routes.reset_policy(token)
    if not ready.valued:
        return None, (_match(out, args[ready.wrt[0]]),)
    value = out[0]
    t = type(value)
    if t not in _PLAIN and not (t is _ndarray and value.dtype.kind in "iufc"):
        _routes.check_output(fn, value, operator)   # (what calls.plain_value says, inline)
    w = ready.single
    if w >= 0:
        return value, (_match(out[1], args[w]),)
    return value, tuple(_match(g, args[w]) for g, w in zip(out[1:], ready.wrt))


_PLAIN, _ndarray, _match = _calls._PLAIN, _calls._ndarray, _calls.match
_MISS, _BY_TYPE = _calls.MISS, _calls.BY_TYPE


def _runner_names(fn, operator):
    """What a runner of ``operator`` for ``fn`` says on an error (``calls.make_runner``),
    as ``_fast`` says it."""
    return {"SAY": lambda exc: NonScalarOutputError(f"{_where(fn)}: {describe(fn)}: {exc}"),
            "REFUSE": lambda exc: _refuse_output(fn, exc, operator),
            "CHECK": lambda value: _routes.check_output(fn, value, operator)}


def _emitted(fn, request, example):
    """The source ``emit=True`` returns: the general code, or with ``example`` (the tuple
    of positional arguments of a call) the code a call with those arguments runs,
    specialized to their signature (``driver.calls.resolve``)."""
    if example is None:
        return _pipeline.route(fn, request).source
    return _calls.resolve(fn, request, _example_signature(fn, example)).source


def _example_signature(fn, example):
    if not isinstance(example, (tuple, list)):
        raise TypeError(f"{describe(fn)}: example= is the tuple of positional arguments of a "
                        f"call (example=(x,) for one argument), not {type(example).__name__}")
    return signature_of(tuple(example))


def grad(fn, wrt=0, *, emit=False, fallback="auto", example=None):
    """The gradient of ``fn`` with respect to positional argument ``wrt``.

    ``fn`` must return a scalar.  ``wrt`` is an int, or a tuple of ints for a
    tuple of gradients.  Each gradient has the structure of its argument: a
    float for a float, an array for an array, the same dicts, lists and tuples
    for a container.  With ``emit=True``, return the generated source instead: the
    code that works for any argument, or, with ``example=(x, n)`` (the positional
    arguments of a call), the code specialized to their signature (their kinds, dtypes
    and ranks, not their values) that such a call runs.

    Each call runs code specialized to its arguments' signature, built on the first
    call with that signature and kept (at most ``driver.calls.BOUND`` = 8 per function
    and operator, the least recently used dropped); see ``driver/calls.py``.

    ``fallback`` says what to do where the source cannot be transformed (no
    source, an unsupported construct): ``"auto"`` traces that function at run
    time and warns once (``s2sgrad.FallbackWarning``), ``"never"`` raises,
    ``"always"`` traces ``fn`` even when it could be transformed.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "grad")
    _routes.check_policy(fallback)
    request = Request("grad", wrt_t, fallback=fallback)
    if emit:
        return _emitted(fn, request, example)
    return _operator(fn, request, "grad", wrt_t, single)


def value_and_grad(fn, wrt=0, *, emit=False, fallback="auto", example=None):
    """Like ``grad``, but the function returns ``(value, gradient)`` from one run."""
    wrt_t, single = _wrt.normalize(fn, wrt, "value_and_grad")
    _routes.check_policy(fallback)
    request = Request("value_and_grad", wrt_t, fallback=fallback)
    if emit:
        return _emitted(fn, request, example)
    return _operator(fn, request, "value_and_grad", wrt_t, single)


def _operator(fn, request, operator, wrt, single):
    """The function ``grad`` (``operator``) or ``value_and_grad`` returns: a call without
    keywords runs its runner if it has one (``driver.calls``), else the fast path or the
    slow one, which leave the runner for the next call."""
    site = _calls.site(fn, request)
    fast, call_signature = site.fast, _calls.call_signature
    hot, names = site.runners(operator, single), _runner_names(fn, operator)
    table, last = hot
    with_value = operator == "value_and_grad"

    @_wraps(fn)
    def derivative(*args, **kwargs):
        if not kwargs:
            out = last[0](args)     # the latest call's runner, if it checks its arguments
            if out is not _MISS:
                return out
            if len(args) == 1:      # (calls.runner_key, inline)
                a = args[0]
                t = type(a)
                key = (a.dtype, a.shape) if t is _ndarray else \
                    t if t in _BY_TYPE else call_signature(args)
            else:
                key = call_signature(args)
            run = table.get(key)
            if run is not None:
                out = run(args)
                if out is not _MISS:
                    if run.s2s_keyed:
                        last[0] = run
                    return out
        sig = call_signature(args)
        ready = fast.get(sig if not kwargs else (sig, tuple(kwargs)))
        if ready is not None and ready.valid():
            value, grads = _fast(fn, ready, args, kwargs, operator)
        else:
            value, grads = _run(fn, request, args, kwargs, operator, site)
        if not kwargs:
            _calls.install(site, hot, args, operator, single, names)
        grads = grads[0] if single else grads
        return (value, grads) if with_value else grads
    setattr(derivative, DERIVATIVE_MARK, (operator, fn, wrt))
    derivative.__s2sgrad_single__ = single     # what a derivative of it is structured like
    return _mark(derivative, operator, fn, wrt, request.fallback)


def _mark(wrapper, kind, fn, wrt, fallback="auto"):
    """Let a derivative of ``wrapper`` transform the generated code it runs."""
    return mark(wrapper, kind, Request(kind, wrt, joint=True), fn, wrt, fallback)


class Derivative:
    """The marker on a function an operator returned: the request whose generated
    function stands for it.

    Differentiating ``grad(f)`` transforms the generated gradient of ``f`` (the
    entry of a *joint* request: calls recompute instead of sharing a tape, and
    the tape has a name of its own), so derivatives of any order, in any mix of
    modes, are source transformations of generated code.
    """

    def __init__(self, kind, fn, request):
        self.kind = kind
        self.fn = fn
        self.request = request

    def source_function(self):
        """The generated Python function to read (and transform) instead of the wrapper.
        Asked of the pipeline each time: its memo notices a redefined helper."""
        return _pipeline.source_function(self.fn, self.request)

    def __repr__(self):
        return f"<s2sgrad {self.kind}>"


def mark(wrapper, kind, request, fn=None, wrt=None, fallback="auto"):
    """Attach a ``Derivative`` marker to ``wrapper``: ``request`` builds, for ``fn``, the
    generated function that stands for it.

    ``request=None`` marks a derivative with no generated function to stand for
    it (``vjp``: Python around generated code): its own derivative is taken by
    tracing (``driver.routes``).  So is that of a derivative made with
    ``fallback="always"``: it traces ``fn`` by the user's choice, and a derivative of it
    (``jacobian(grad(f, fallback="always"))``) traces too, never its generated code; a
    derivative of such a derivative is marked so in turn.
    """
    fn = fn if fn is not None else wrapper.__wrapped__
    # functools.wraps copied the marks of a wrapped derivative: these are the wrapper's own.
    setattr(wrapper, DERIVATIVE_MARK, (kind, fn, wrt))
    if fallback == "always" or traced_by_choice(fn):
        request = None      # (and so is a derivative of one: hvp's grad of it, ...)
        setattr(wrapper, TRACED_BY_CHOICE, True)
    else:
        wrapper.__dict__.pop(TRACED_BY_CHOICE, None)
    if isinstance(getattr(fn, "__self__", None), object) and hasattr(fn, "__func__") \
            and request is not None:
        # the derivative of a bound method: the generated code that stands for it takes the
        # instance first, as the method's own does (``_lead``, ``Built.lead``)
        wrapper.__self__ = fn.__self__
    if request is not None:
        wrapper.__s2sgrad__ = Derivative(kind, fn, request)
    else:
        wrapper.__dict__.pop("__s2sgrad__", None)
    return wrapper


def _wraps(fn):
    """``functools.wraps`` that tolerates callables without a name (a partial, a ufunc)."""
    if isinstance(fn, functools.partial):
        def deco(wrapper):
            functools.update_wrapper(wrapper, fn.func, updated=())
            wrapper.__wrapped__ = fn
            return wrapper
        return deco
    return functools.wraps(fn)


# What ``show`` builds for each mode: the request whose code it prints.
_SHOWN = {"reverse": "grad", "split": "split", "forward": "jvp", "batched": "columns"}


def stages(mode="reverse"):
    """The names of the compiler's stages in ``mode`` (``reverse``, ``split``, ``forward``,
    ``batched``), in the order they run: what ``show`` takes."""
    if mode not in _SHOWN:
        raise ValueError(f"mode={mode!r}; use one of {', '.join(map(repr, _SHOWN))}")
    return _pipeline.stage_names(mode)


def show(fn, stage="codegen", wrt=0, *, mode="reverse", example=None):
    """The code the compiler makes of ``fn`` as it stands after ``stage`` (see ``stages``).

    ``source``, ``normalize`` and ``activity`` show ``fn`` itself as the front
    end reads it, lowered to the core language, and what carries a derivative;
    from ``transform`` on, the generated module with the optional passes up to
    ``stage`` run (``codegen`` is what ``grad(fn, emit=True)`` returns, for
    ``mode="reverse"``; ``jvp(fn, emit=True)`` for ``mode="forward"``).  With
    ``example=(x, ...)``, the code specialized to the signature of those arguments.
    """
    wrt_t, _ = _wrt.normalize(fn, wrt, "show")
    stages(mode)
    signature = None
    if example is not None:
        signature = _example_signature(fn, example)
        if all(a is ANY for a in signature):
            signature = None        # it says nothing: the general code
    return _pipeline.run(fn, Request(_SHOWN[mode], wrt_t, signature=signature),
                         stop_after=stage)
