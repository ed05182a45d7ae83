"""The route chooser: generated code, a primitive's rule, or a trace; why, and saying so.

The ``fallback=`` option of the differential operators is a *policy*:

- ``"auto"`` (the default): transform the source where that works, trace where it
  cannot (no source, an unsupported construct), and say so once per function
  with a ``FallbackWarning`` naming the function, its file and line and the
  construct;
- ``"never"``: raise the error that made transformation impossible;
- ``"always"``: trace the whole function (useful for checking generated code).

The fallback is chosen per function: for the whole of ``f`` (``build`` below,
called by the pipeline), or for one callee while the rest of ``f`` stays generated
code (mixed mode: ``frontend.resolve`` classifies an untransformable callee as a
dynamic call, ``transform.program`` turns a callee whose transformation failed
into two stubs, and both reach ``driver.dynamic.call_fwd``, which traces it).
The compiler asks those questions through ``Policy`` (below), which the driver
hands it: it never imports this module. The
policy in force is a context variable, so run-time decisions in generated code
follow the operator that is running.

``build(fn, wrt, policy, compile)`` is the hook for every operator: it returns
an object called as ``obj(args, kwargs)`` whatever the route (generated code,
the rule of a bare primitive, a trace, a ``functools.partial`` around any of
those).  Reverse mode returns ``(value, *gradients)``; forward mode
(``mode="fwd"``, for ``s2sgrad.jvp`` and friends) returns
``(value, tangent_out)`` from ``obj(args, kwargs, tangents)``.
"""

import contextlib
import contextvars
import functools
import inspect
import types
import warnings
import weakref

import s2sgrad.runtime as rt
from ..errors import NonDifferentiableError, SourceError, UnsupportedArgumentError, UnsupportedError
from ..fallback import FallbackWarning
from ..fallback.state import RUNNING
from ..sites import (
    DERIVATIVE_MARK, Reason, definition_site, describe, is_derivative,
    is_traced_derivative, traced_by_choice, user_stacklevel,
)

__all__ = ["POLICIES", "Policy", "policy", "current", "build", "why_not", "untransformable",
           "fallback", "record_failure", "known_failure", "check_output", "check_synchronous"]

POLICIES = ("auto", "never", "always")

# This module is imported with ``s2sgrad``; like ``cache`` it must not import the compiler
# or the rules at module level.
_POLICY = contextvars.ContextVar("s2sgrad_fallback", default="auto")

# Errors that mean "the source transformation cannot handle this function".
TRANSFORM_ERRORS = (SourceError, UnsupportedError)


def check_policy(value):
    if value not in POLICIES:
        raise ValueError(f"fallback={value!r}; use one of {', '.join(map(repr, POLICIES))}")
    return value


def current():
    """The fallback policy in force (``"auto"`` outside any operator)."""
    return _POLICY.get()


current_fast = _POLICY.get      # ``current`` without a call of its own (the call path's)

# How many policies other than "auto" are in force, in every thread and context together:
# while none is, the policy is "auto" everywhere, and the call path's runners do not read
# it (``driver.calls.make_runner``).
others = [0]


def set_policy(value):
    """Put ``value`` in force; returns the token ``reset_policy`` takes (cheaper than ``policy``)."""
    if value != "auto":
        others[0] += 1
    return _POLICY.set(value)


def reset_policy(token):
    if _POLICY.get() != "auto":
        others[0] -= 1
    _POLICY.reset(token)


@contextlib.contextmanager
def policy(value):
    token = set_policy(check_policy(value))
    try:
        yield
    finally:
        reset_policy(token)


# ---------------------------------------------------------------------------
# Why a function cannot be transformed
# ---------------------------------------------------------------------------

_WHY = weakref.WeakKeyDictionary()   # function -> Reason or None (transformable)
_IN_PROGRESS = object()


def why_not(fn, keep=None):
    """The Reason a Python function cannot be transformed, or ``None`` when it can.

    Only what the front end checks (source, parsing, normalization) is decided
    here, once per function; errors found while generating its adjoint are
    recorded by ``record_failure``.  ``keep``, a dict, receives ``{fn: normalized}``
    when it normalizes ``fn`` here without error (``Policy.take_normalized``).
    """
    try:
        if fn in _WHY:
            hit = _WHY[fn]
            return None if hit is _IN_PROGRESS else hit
    except TypeError:      # not weakly referenceable: decide afresh
        pass
    from ..frontend.normalize import normalize
    from ..frontend.source import FunctionSource
    _remember(fn, _IN_PROGRESS)            # recursion: a function calling itself
    reason = None
    token = set_policy("auto")             # deeper callees are classified, never raised
    try:
        norm = normalize(FunctionSource.of(fn), policy=Policy("auto"))
        if keep is not None:
            keep[fn] = norm
    except TRANSFORM_ERRORS as exc:
        reason = Reason.from_error(fn, exc)
    except BaseException:
        _forget(fn)                         # undecided: not "transformable" for ever after
        raise
    finally:
        reset_policy(token)
    _remember(fn, reason)
    return reason


def _forget(fn):
    try:
        _WHY.pop(fn, None)
    except TypeError:
        pass


def _remember(fn, value):
    try:
        _WHY[fn] = value
    except TypeError:
        pass


def record_failure(fn, exc):
    """Remember that generating ``fn``'s adjoint failed; returns the Reason."""
    reason = Reason.from_error(fn, exc)
    _remember(fn, reason)
    return reason


def known_failure(fn):
    try:
        hit = _WHY.get(fn)
    except TypeError:
        return None
    return None if hit is _IN_PROGRESS else hit


def untransformable(fn, policy_value=None, keep=None):
    """For the resolver: the Reason a user callee must be called through the fallback.

    ``None`` means transform it as usual.  A generator function is never
    traced on its own (its values are produced after the call returns), so it
    stays a user function and its caller falls back as a whole.  Under
    ``fallback="never"`` the callee's error is raised here.  ``keep``: see ``why_not``.
    """
    if inspect.isgeneratorfunction(fn):
        return None
    reason = why_not(fn, keep)
    if reason is not None and (policy_value or current()) == "never":
        raise reason.error
    return reason


class Policy:
    """What the compiler asks about a callee it may not be able to transform, answered
    for one fallback policy (``"auto"``, ``"never"``, ``"always"``).

    The driver hands one to ``transform.program.Program`` (and through it to the
    resolver); the compiler never imports this module.  ``traces`` says whether a
    callee that cannot be transformed may be traced at run time (mixed mode).
    """

    def __init__(self, value=None):
        self.value = check_policy(value or current())
        self.traces = self.value != "never"
        # fn -> its Normalized, made while deciding whether it can be transformed (under
        # "auto": the same answers this policy gives), for the job that transforms it
        self._normalized = {}

    def untransformable(self, fn):
        keep = self._normalized if self.value == "auto" else None
        return untransformable(fn, self.value, keep)

    def take_normalized(self, fsrc):
        """The normalized ``fsrc`` (a plain function's source, nothing added) if deciding
        whether it can be transformed made it in this transform (the first callee of a
        function was normalized there once already); else ``None``.  Taken once: the
        transform owns what it is given."""
        fn = fsrc.fn
        if fn is None or fsrc.self_value is not None or fsrc.has_self \
                or getattr(fsrc, "self_class", None) is not None:
            return None
        try:
            norm = self._normalized.pop(fn, None)
        except TypeError:
            return None
        if norm is None:
            return None
        made = norm.fsrc
        if made.fn is not fn or made.lines is not fsrc.lines or made.self_value is not None \
                or made.has_self or made.closure.keys() != fsrc.closure.keys() \
                or any(made.closure[k] is not v for k, v in fsrc.closure.items()):
            return None
        return norm

    def record_failure(self, fn, exc):
        return record_failure(fn, exc)

    def known_failure(self, fn):
        return known_failure(fn)

    def is_traced_derivative(self, fn):
        return is_traced_derivative(fn)


# ---------------------------------------------------------------------------
# Saying so
# ---------------------------------------------------------------------------

_WARNED = set()


def _warn_key(fn):
    mark = getattr(fn, DERIVATIVE_MARK, None)
    if mark is not None:             # every derivative wrapper shares one code object
        return ("derivative", mark[0], _warn_key(mark[1]))
    target = getattr(fn, "__func__", fn)
    code = getattr(target, "__code__", None)
    if code is not None:
        # (code objects compare equal across files when their text and lines are the same)
        return code, code.co_filename
    try:
        hash(fn)
        return fn
    except TypeError:
        return id(fn)


def fallback(fn, reason, site=None):
    """The fallback was chosen for ``fn``: warn once (``"auto"``) or raise (``"never"``).

    ``site`` is the ``file:line`` of the call, or a function that finds it (only
    called when there is something to say).
    """
    never = _POLICY.get() == "never"
    if not never and _warn_key(fn) in _WARNED:
        return
    if callable(site):
        site = site()
    if never:
        exc = reason.error
        if exc is None:
            exc = UnsupportedError(site or reason.defined, f"{reason.name}: {reason.text()}",
                                   "it can only be differentiated by tracing; "
                                   "use fallback='auto'")
        raise exc
    _WARNED.add(_warn_key(fn))
    called = f", called at {site}" if site else ""
    advice = f" To have it transformed: {reason.advice}." if reason.advice else ""
    msg = (f"s2sgrad traces {reason.name} ({reason.defined}{called}) at run time instead of "
           f"transforming its source: {reason.text()}. The tracer differentiates the "
           f"operations the function performs as it runs (more slowly); fallback='never' makes "
           f"this an error.{advice}")
    warnings.warn(msg, FallbackWarning, stacklevel=user_stacklevel())


# ---------------------------------------------------------------------------
# Choosing the route of one operator
# ---------------------------------------------------------------------------

def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _has_box(x):
    from ..fallback.tracer import _has_box as has
    return has(x)


class Traced:
    """A whole function differentiated by the tracing fallback."""

    route = "traced"

    def __init__(self, fn, wrt, reason=None, mode="rev"):
        self.fn = fn
        self.wrt = wrt
        self.mode = mode
        self.reason = reason
        self.signature = _signature(fn)
        why = f": {reason.text()}" if reason is not None else " (fallback='always')"
        self.source = (f"# s2sgrad traces {describe(fn)} ({definition_site(fn)}) at run time "
                       f"instead of generating code{why}.\n")

    def __call__(self, args, kwargs, seed=None):
        from ..fallback.trace import trace_jvp, trace_vjp
        if self.mode == "fwd":
            return trace_jvp(self.fn, tuple(args), dict(kwargs), self.wrt, seed)
        value, backward = trace_vjp(self.fn, tuple(args), dict(kwargs), self.wrt)
        return (value,) + tuple(backward(rt.seed(seed, value)))


class ByRule:
    """A bare primitive (``grad(np.tanh)``, a custom function): its own rules, no tracing."""

    route = "rule"

    def __init__(self, fn, wrt, prim, namespace, mode="rev"):
        self.fn = fn
        self.wrt = wrt
        self.mode = mode
        self.prim = prim
        self.namespace = namespace
        self.signature = prim.signature
        positional = [p for p, v in prim.signature.parameters.items()
                      if v.kind in (v.POSITIONAL_ONLY, v.POSITIONAL_OR_KEYWORD)]
        rules = prim.jvp if mode == "fwd" else prim.vjp
        self.params = []
        for w in wrt:
            if w >= len(positional):
                raise IndexError(f"wrt={w}, but {describe(fn)} has {len(positional)} "
                                 f"positional parameters")
            if positional[w] not in rules:
                raise NonDifferentiableError(
                    f"{describe(fn)} has no {'forward' if mode == 'fwd' else 'reverse'} "
                    f"derivative rule for its parameter {positional[w]!r}")
            self.params.append(positional[w])
        self.source = (f"# {describe(fn)} is a primitive: its derivative is its rule "
                       f"({prim.qualname}), applied directly.\n")

    def __call__(self, args, kwargs, seed=None):
        if _has_box((args, kwargs)):       # inside a trace: let it record the primitive
            return Traced(self.fn, self.wrt, mode=self.mode)(args, kwargs, seed)
        import numpy
        from ..rules import registry
        xp = self.namespace if self.namespace is not None else numpy
        value = self.fn(*args, **kwargs)
        bound = self.prim.bind(tuple(args), dict(kwargs))
        if self.mode == "fwd":
            out = None
            for p, t in zip(self.params, seed):
                c = registry.apply_rule(self.prim, self.prim.jvp[p], xp, t, value, bound)
                out = c if out is None else out + c
            return value, (rt.zeros_like(value) if out is None else out)
        g = rt.seed(seed, value)
        return (value,) + tuple(registry.apply_rule(self.prim, self.prim.vjp[p], xp, g, value,
                                                    bound) for p in self.params)


class Partial:
    """``functools.partial(f, *a, **k)``: the route of ``f`` with the fixed arguments bound."""

    route = "partial"

    def __init__(self, partial, inner, wrt):
        self.partial = partial
        self.inner = inner
        self.wrt = wrt
        self.mode = getattr(inner, "mode", "rev")
        self.signature = _signature(partial)
        self.source = inner.source

    def __call__(self, args, kwargs, seed=None):
        p = self.partial
        args, kwargs = p.args + tuple(args), {**p.keywords, **kwargs}
        if self.mode == "fwd":
            return self.inner(args, kwargs, seed)
        if seed is None:
            return self.inner(args, kwargs)
        return call_with_seed(self.inner, args, kwargs, seed)


def build(fn, wrt, policy_value, compile, recurse=None, mode="rev"):
    """The route that differentiates ``fn`` with respect to positions ``wrt``.

    ``compile(fn, wrt)`` builds the generated-code route (``pipeline.Built`` in
    reverse mode) and raises when the source cannot be transformed;
    ``recurse(fn, wrt)`` builds (and caches) the route of the function inside a
    ``functools.partial``.  The fallback is taken, warned about or refused
    according to ``policy_value``.
    """
    check_policy(policy_value)
    recurse = recurse or (lambda f, w: build(f, w, policy_value, compile, None, mode))
    check_synchronous(fn)
    if isinstance(fn, functools.partial):
        shift = len(fn.args)
        return Partial(fn, recurse(fn.func, tuple(w + shift for w in wrt)), wrt)
    with policy(policy_value):
        if policy_value == "always":
            return Traced(fn, wrt, mode=mode)
        if not _user_function(fn):      # (the rules are not loaded for the user's functions)
            from ..rules import registry
            hit = registry.lookup(fn)
            if hit is not None and not hit[0].nondiff and hit[0].signature is not None:
                return ByRule(fn, wrt, hit[0], hit[1], mode)
        if traced_by_choice(fn):
            # made with fallback="always": the user chose the tracer for it, and for its
            # derivatives (no warning; fallback="never" here is a contradiction, said)
            reason = Reason(fn, "it is a derivative made by s2sgrad with fallback='always', "
                                "whose own derivative is taken by tracing too")
            if policy_value == "never":
                fallback(fn, reason)
            return Traced(fn, wrt, reason, mode)
        if is_traced_derivative(fn):
            reason = Reason(fn, "it is a derivative made by s2sgrad, whose own derivative is "
                                "taken by tracing through its generated code")
        else:
            target = fn
            if not isinstance(fn, (types.FunctionType, types.MethodType)) and isinstance(
                    getattr(type(fn), "__call__", None), types.FunctionType):
                target = fn.__call__        # a callable object: its __call__, bound
            try:
                return compile(target, wrt)
            except TRANSFORM_ERRORS as exc:
                if policy_value == "never" or isinstance(exc, UnsupportedArgumentError) \
                        or inspect.isgeneratorfunction(getattr(target, "__func__", target)):
                    raise       # a trace could not differentiate that call (or a generator) either
                reason = Reason.from_error(fn, exc)
        if not _derivative_of_a_primitive(fn):
            fallback(fn, reason)    # (a primitive's higher derivatives: its rules, traced)
        return Traced(fn, wrt, reason, mode)


_NOT_SYNCHRONOUS = (
    (inspect.iscoroutinefunction, "an async function (async def)",
     "its result is a coroutine, not a number; differentiate a plain function (def) that "
     "computes the value, and await around it"),
    (inspect.isasyncgenfunction, "an async generator",
     "it yields values, not one result; differentiate a function that returns the value"),
    (inspect.isgeneratorfunction, "a generator (yield)",
     "it yields values, not one result; return a list of them (or their sum) instead"),
)


def check_synchronous(fn):
    """Refuse an ``async def``, an async generator or a generator as the differentiated
    function: what calling it returns is not the value it computes."""
    target = fn.func if isinstance(fn, functools.partial) else fn
    target = getattr(target, "__func__", target)
    for test, what, advice in _NOT_SYNCHRONOUS:
        if test(target):
            exc = UnsupportedError(definition_site(target), f"{describe(target)}, {what}", advice)
            exc.args = (f"{definition_site(target)}: {describe(target)} is {what}, which s2sgrad "
                        f"cannot differentiate (neither by transforming nor by tracing it): "
                        f"{advice}",)
            raise exc


def check_output(fn, value, operator):
    """Raise unless ``value``, the output of ``fn``, can carry a derivative.

    ``None`` (a forgotten ``return``), a bool (a comparison), a string and the
    like would get a zero gradient without a word; that is an error naming the
    function, its definition and what to return instead.  Values of other types
    (numbers, arrays, containers, user objects) are left to the route.
    """
    what = rt.output_problem(value)
    if what is not None:
        raise NonDifferentiableError(
            f"{definition_site(fn)}: {operator}({describe(fn)}): {describe(fn)} returned "
            f"{what[0]}; {what[1]}.")
    return value


def _derivative_of_a_primitive(fn):
    """A derivative made by s2sgrad (of any order) of a function that has rules: traced
    through its rules, which is how a primitive's derivatives of higher order are taken."""
    while is_derivative(fn):
        fn = getattr(fn, DERIVATIVE_MARK)[1]
    if _user_function(fn) or isinstance(fn, functools.partial):
        return False
    from ..rules import registry
    return registry.lookup(fn) is not None


_LIBRARIES = {"numpy", "scipy", "cupy", "cupyx", "jax", "array_api_strict", "autograd",
              "s2sgrad", "builtins", "math", "cmath", "operator", "functools"}


def _user_function(fn):
    """A Python function (or bound method) of the user's own code, not of a library."""
    f = fn.__func__ if isinstance(fn, types.MethodType) else fn
    if not isinstance(f, types.FunctionType) or is_derivative(f):
        return False
    return (getattr(f, "__module__", None) or "").split(".")[0] not in _LIBRARIES


def call_with_seed(route, args, kwargs, seed):
    """Run a reverse route with cotangent ``seed`` for the output (a vector-Jacobian product)."""
    if getattr(route, "route", None) in ("traced", "rule", "partial"):
        return route(args, kwargs, seed)
    entry = route.entry
    seed_name = list(inspect.signature(entry).parameters)[-1]
    return route(args, {**kwargs, seed_name: seed})


def match(d, x):
    """``runtime.match`` (a derivative given the structure and type of ``x``), box-aware."""
    if RUNNING[0] and (_has_box(d) or _has_box(x)):
        from ..fallback.trace import _match
        return _match(d, x)
    return rt.match(d, x)


def entry_for(entry, args, kwargs):
    """Generated ``entry``, or its traced copy when called on a trace's values (higher order)."""
    if RUNNING[0]:
        # Inside a trace: the arguments may hold its values, and so may the closure of the
        # function differentiated (``grad(lambda y: x * y)`` inside a traced function of x)
        from ..fallback.nested import traced
        return traced(entry)
    return entry

