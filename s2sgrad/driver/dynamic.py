"""Calls whose target is decided at run time, and the callees the compiler could not transform.

Generated code calls ``_rt.call_fwd(_tape, fn, args, kwargs, active)`` in its
forward sweep and ``_rt.call_bwd(_tape, d_out)`` in its backward sweep, for a
call whose target is only known at run time (``f(x)`` where ``f`` is an
argument, ``getattr(np, name)(x)``) and for a user function whose source
cannot be transformed (mixed mode: the caller stays generated code, see
``driver.routes``).  The forward half looks at ``fn`` now:

- a ``functools.partial`` is unwrapped (its fixed arguments are passed along);
- a primitive with rules (a NumPy function, a ``custom_vjp`` function) is
  applied directly and its rules run in the backward half;
- a Python function is transformed (once per pattern of active arguments,
  then cached) and its forward sweep run;
- anything else, or a function whose transformation fails, goes to the
  tracing fallback, which says so once per function (``FallbackWarning``) or,
  under ``fallback="never"``, raises.

It leaves on the tape what its backward half needs.  ``call_jvp`` is the
same dispatch in forward mode, for tangent code.
"""

import functools
import inspect
import types

import s2sgrad.sites as _sites
from . import cache, pipeline
from .request import Request
from ..errors import SourceError, UnsupportedError
from ..runtime import dispatch as _dispatch

__all__ = ["call_fwd", "call_bwd", "call_jvp"]

# The memo key under which the cache keeps, for a Python function, the Reason it needs the
# fallback (decided on its first dynamic call).
_NEEDS_TRACE = ("needs_trace",)


def _split_functions(fn, active_names):
    """``(fwd, bwd, active order)`` of the split sweeps of Python function ``fn``."""
    built = pipeline.run(fn, Request("callee", tuple(active_names)))
    face = built.interface
    return built[face["fwd"]], built[face["bwd"]], tuple(face["active"])


def _python_target(fn):
    """``(function, bound receiver or None)`` when ``fn`` runs Python code we can transform."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return fn.__func__, fn.__self__
    if isinstance(fn, types.FunctionType):
        return fn, _derivative_receiver(fn)
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        return call, fn
    return None, None


def _derivative_receiver(fn):
    """The instance a derivative of a bound method (``grad(model.energy)``) was made for: its
    generated code, which stands for it, takes the instance first."""
    marker = getattr(fn, "__s2sgrad__", None)
    inner = getattr(marker, "fn", None)
    if isinstance(inner, types.MethodType):
        return inner.__self__
    return None


def _parameters(target):
    """The parameter names of ``target`` as its generated code has them (a derivative made
    by s2sgrad: those of the generated function that stands for it)."""
    marker = getattr(target, "__s2sgrad__", None)
    if marker is not None:
        return list(inspect.signature(marker.source_function()).parameters)
    return list(inspect.signature(target).parameters)


def _unwrap(fn, args, kwargs, active):
    """A ``functools.partial`` as its function, with its fixed arguments passed along."""
    while isinstance(fn, functools.partial):
        shift = len(fn.args)
        args = fn.args + tuple(args)
        kwargs = {**fn.keywords, **kwargs}
        active = tuple(k + shift for k in active)
        fn = fn.func
    return fn, tuple(args), kwargs, active


def _has_box(args, kwargs):
    from ..fallback.state import RUNNING
    if not RUNNING[0]:
        return False
    from ..fallback.tracer import _has_box as has
    return has(args) or has(kwargs)


class _Closures:
    """The active arguments of a call, with each callable among them (a local function or
    lambda of generated code, bound to the values it reads by ``functools.partial``)
    opened into those values: the flat inputs a trace differentiates.

    ``flat(*values)`` calls the function with the callables rebuilt from ``values``;
    ``fold`` turns the flat cotangents (or tangents) back into one per active argument,
    a callable's as a dict ``{name: cotangent}`` of the values it reads, which the
    generated caller adds to those variables' adjoints.
    """

    def __init__(self, fn, args, kwargs, active):
        # copies of the arrays: the trace keeps what it reads for the backward sweep, and the
        # caller may write into its arrays in place after the call
        args = tuple(_copied(a) for a in args)
        self.fn, self.args, self.kwargs = fn, args, dict(kwargs)
        self.slots = []
        self.values = []
        for k in active:
            a = args[k]
            if _is_closure(a):
                keys = tuple(a.keywords)
                self.slots.append((k, keys))
                self.values.extend(_copied(a.keywords[key]) for key in keys)
            else:
                self.slots.append((k, None))
                self.values.append(a)

    def flat(self, *values):
        new = list(self.args)
        i = 0
        for k, keys in self.slots:
            if keys is None:
                new[k] = values[i]
                i += 1
            else:
                p = new[k]
                bound = dict(zip(keys, values[i:i + len(keys)]))
                new[k] = functools.partial(p.func, *p.args, **{**p.keywords, **bound})
                i += len(keys)
        return self.fn(*new, **self.kwargs)

    def fold(self, flat):
        out, i = [], 0
        for k, keys in self.slots:
            if keys is None:
                out.append(flat[i])
                i += 1
            else:
                out.append(dict(zip(keys, flat[i:i + len(keys)])))
                i += len(keys)
        return tuple(out)

    def unfold(self, tangents):
        """Flat tangents from one per active argument (a dict for a callable)."""
        import s2sgrad.runtime as rt
        out = []
        for (k, keys), t in zip(self.slots, tangents):
            if keys is None:
                out.append(t)
            else:
                p = self.args[k]
                t = t or {}
                out.extend(t[key] if t.get(key) is not None else rt.zeros_like(p.keywords[key])
                           for key in keys)
        return tuple(out)


def _copied(value):
    import numpy
    return value.copy() if isinstance(value, numpy.ndarray) else value


def _is_closure(value):
    return isinstance(value, functools.partial) and bool(value.keywords)


def _closure_reason(fn):
    return _sites.Reason(fn, "passing it a function (a lambda or local function) that reads "
                             "values carrying derivatives, which only tracing differentiates "
                             "through")


def call_fwd(tape, fn, args, kwargs, active):
    fn, args, kwargs, active = _unwrap(fn, args, kwargs, active)
    _check_nothing_kept(fn, args, kwargs)
    if any(_is_closure(args[k]) for k in active):
        from . import routes as choose
        target, _ = _python_target(fn)
        choose.fallback(target if target is not None else fn, _closure_reason(fn),
                        _sites.call_site)
        closures = _Closures(fn, args, kwargs, active)
        from ..fallback import trace_vjp
        value, backward = trace_vjp(closures.flat, tuple(closures.values), {},
                                    tuple(range(len(closures.values))))
        tape.append(("closures", backward, closures))
        return value
    from ..rules import registry
    hit = registry.lookup(fn)
    if hit is not None:
        prim, namespace = hit
        return _primitive_fwd(tape, fn, prim, namespace, args, kwargs, active)
    from . import routes
    target, receiver = _python_target(fn)
    known = cache.recall(target, _NEEDS_TRACE) if target is not None else None
    if known is not None:                              # decided before: trace it now
        routes.fallback(target, known, _sites.call_site)
        return _fallback_fwd(tape, fn, args, kwargs, active)
    reason = None
    if _sites.traced_by_choice(fn):     # grad(f, fallback="always"): traced, as the user chose
        _traced_by_choice(fn)
        return _fallback_fwd(tape, fn, args, kwargs, active)
    if _sites.is_traced_derivative(fn):
        reason = _sites.Reason(fn, "it is a derivative made by s2sgrad, whose own derivative "
                                   "is taken by tracing through its generated code")
    elif target is not None:
        reason = _compile_reason(target)
        if reason is None:
            try:
                fwd, bwd, positions = _compiled(target, receiver, active)
            except (SourceError, UnsupportedError) as exc:
                reason = routes.record_failure(target, exc)
            else:
                if _has_box(args, kwargs):        # higher order: inside a trace
                    from ..fallback import traced
                    fwd, bwd = traced(fwd), traced(bwd)
                lead = (receiver,) if receiver is not None else ()
                value = fwd(tape, *lead, *args, **kwargs)
                tape.append(("compiled", bwd, positions, len(positions)))
                return value
    else:
        reason = _sites.Reason.from_error(fn, SourceError(f"{fn!r} is not a Python function"))
    if target is not None:
        cache.remember(target, _NEEDS_TRACE, reason, [([["code"]], target.__code__)])
    routes.fallback(target if target is not None else fn, reason, _sites.call_site)
    return _fallback_fwd(tape, fn, args, kwargs, active)


def _compile_reason(target):
    """Why ``target`` cannot be transformed, known before trying (or ``None``)."""
    from . import routes
    if inspect.isgeneratorfunction(target):
        raise UnsupportedError(_sites.definition_site(target),
                               f"a call to the generator function {target.__qualname__} made "
                               f"at run time", "return a list instead of yielding values")
    reason = routes.known_failure(target) or routes.why_not(target)
    if reason is None:
        params = inspect.signature(target).parameters.values()
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            reason = _sites.Reason(target, "a variable parameter list (*args or **kwargs)")
    return reason


def _compiled(target, receiver, active):
    params = _parameters(target)
    offset = 1 if receiver is not None else 0
    active_names = tuple(params[k + offset] for k in active)
    fwd, bwd, order = _split_functions(target, active_names)
    positions = [active_names.index(p) for p in order]
    return fwd, bwd, positions


def _primitive_fwd(tape, fn, prim, namespace, args, kwargs, active):
    import numpy
    value = fn(*args, **kwargs)
    bound = prim.bind(args, kwargs)
    params = list(prim.signature.parameters) if prim.signature is not None else []
    names = []
    for k in active:
        if k >= len(params) or prim.signature.parameters[params[k]].kind \
                is inspect.Parameter.VAR_POSITIONAL:
            return _fallback_fwd(tape, fn, args, kwargs, active)   # *args, nondiff: traced
        names.append(params[k])
    if any(p not in prim.vjp for p in names):
        missing = next(p for p in names if p not in prim.vjp)
        from ..errors import NoRuleError
        from ..sites import call_site
        raise NoRuleError(call_site() or "<unknown>", f"{prim.qualname} (argument {missing!r})")
    tape.append(("primitive", prim, namespace or numpy, bound, value, names))
    return value


def _by_name(fn):
    """What the tracer calls for ``fn``: an array method taken from the class
    (``type(x).compress``, how the generated code calls a method of a value that carries a
    derivative) is called by name on its object, which the tracer's box answers with the
    method's rule or with an error naming it (``ndarray.compress(box)`` is a TypeError)."""
    import numpy
    if isinstance(fn, types.MethodDescriptorType) and fn.__objclass__ is numpy.ndarray:
        method = fn.__name__

        def call_method(obj, *args, **kwargs):
            return getattr(obj, method)(*args, **kwargs)
        call_method.__name__ = call_method.__qualname__ = f"ndarray.{method}"
        return call_method
    return fn


def _fallback_fwd(tape, fn, args, kwargs, active):
    from ..fallback import trace_vjp
    value, backward = trace_vjp(_by_name(fn), tuple(args), dict(kwargs), tuple(active))
    tape.append(("traced", backward))
    return value


@functools.lru_cache(maxsize=256)
def _attributes_read_of(code):
    import dis
    names, stored = set(), set()
    for ins in dis.get_instructions(code):
        if ins.opname in ("LOAD_ATTR", "LOAD_METHOD") and ins.argval not in stored:
            names.add(ins.argval)       # (read before the code stores it: the kept value)
        elif ins.opname == "STORE_ATTR":
            stored.add(ins.argval)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _attributes_read_of(const)
    return frozenset(names)


def _attributes_read(target):
    """The attribute names ``target``'s own code may read before it stores them (``self.h``
    in ``self.h = np.tanh(self.W @ self.h + x)``, not ``self.out`` in ``self.out = y; return
    self.out``), or None if unknown."""
    code = getattr(target, "__code__", None)
    return _attributes_read_of(code) if code is not None else None


def _check_nothing_kept(fn, args, kwargs):
    """Refuse a call given an object in which an earlier call, traced on its own, kept a value
    carrying a derivative (``self.h = ...`` in a ``__call__``): the trace of that call is over,
    so this one would take the value for a constant, and lose the derivative through it."""
    from ..fallback.tracer import Box
    from ..runtime import core as rt_core
    target, receiver = _python_target(fn)
    read = _attributes_read(target) if target is not None else None
    objects = [receiver] if receiver is not None else []
    objects += [a for a in (*args, *kwargs.values()) if rt_core._is_object(a)]
    for obj in objects:
        if not rt_core._is_object(obj):
            continue
        for name, value in rt_core.attributes(obj):
            if read is not None and name not in read:
                continue        # (kept, never read back by this function: ``self.out = y``)
            stale = [v for v in (value if type(value) in (list, tuple) else (value,))
                     if isinstance(v, Box) and not v._trace.active]
            if stale:
                raise UnsupportedError(
                    _sites.call_site() or "?",
                    f"a call given {type(obj).__name__}, in whose attribute {name} an earlier "
                    f"call, differentiated on its own (traced), kept a value carrying a "
                    f"derivative", "this call would take it for a constant: return the value "
                    "and pass it back in, or differentiate the whole function with "
                    "fallback='always'")


def call_bwd(tape, d_out):
    record = tape.pop()
    kind = record[0]
    if kind == "compiled":
        _, bwd, positions, n = record
        cts = bwd(tape, d_out)
        cts = (cts,) if n == 1 else tuple(cts)
        return tuple(cts[i] for i in _inverse(positions))
    if kind == "primitive":
        from ..rules import registry
        _, prim, namespace, bound, value, params = record
        from ..fallback.tracer import _has_box as has
        if has(d_out) or has(bound):            # higher order: the rules run traced
            from ..fallback.nested import TRACING_NUMPY, traced
            return tuple(registry.apply_rule(prim, _TracedRule(traced(prim.vjp[p].fn)),
                                             TRACING_NUMPY, d_out, value, bound)
                         for p in params)
        return tuple(registry.apply_rule(prim, prim.vjp[p], namespace, d_out, value, bound)
                     for p in params)
    from ..runtime.core import as_adjoint    # generated code keeps an object's adjoint as a dict
    if kind == "closures":
        _, backward, closures = record
        return closures.fold(tuple(as_adjoint(ct) for ct in backward(d_out)))
    _, backward = record
    return tuple(as_adjoint(ct) for ct in backward(d_out))


class _TracedRule:
    def __init__(self, fn):
        self.fn = fn


def _inverse(positions):
    inv = [0] * len(positions)
    for i, p in enumerate(positions):
        inv[p] = i
    return inv


def _jvp_function(fn, active_names):
    """``(jvp function, {param: tangent parameter})`` of Python function ``fn`` (forward mode)."""
    built = pipeline.run(fn, Request("callee_jvp", tuple(active_names)))
    return built[built.interface["jvp"]], built.interface["tangents"]


def call_jvp(fn, args, kwargs, active, tangents):
    """Forward mode of a call decided at run time: ``(value, tangent of the output)``.

    ``tangents`` has one tangent per position in ``active``.  A primitive uses
    its forward rules; a Python function whose source can be transformed gets
    its tangent function (``transform.forward``), compiled once per pattern of
    arguments with tangents; anything else is traced (``trace_jvp``).
    """
    fn, args, kwargs, active = _unwrap(fn, args, kwargs, active)
    _check_nothing_kept(fn, args, kwargs)
    if any(_is_closure(args[k]) for k in active):
        from . import routes as choose
        target, _ = _python_target(fn)
        choose.fallback(target if target is not None else fn, _closure_reason(fn),
                        _sites.call_site)
        closures = _Closures(fn, args, kwargs, active)
        from ..fallback import trace_jvp
        n = len(closures.values)
        return trace_jvp(closures.flat, tuple(closures.values), {}, tuple(range(n)),
                         closures.unfold(tangents))
    from ..rules import registry
    import s2sgrad.runtime as rt
    hit = registry.lookup(fn)
    if hit is not None and hit[0].signature is not None and not _has_box(args, kwargs):
        import numpy
        prim, namespace = hit
        value = fn(*args, **kwargs)
        params = list(prim.signature.parameters)
        if all(k < len(params) and params[k] in prim.jvp for k in active):
            bound = prim.bind(args, kwargs)
            out = None
            for k, t in zip(active, tangents):
                c = registry.apply_rule(prim, prim.jvp[params[k]], namespace or numpy, t, value,
                                        bound)
                out = c if out is None else out + c
            return value, (rt.zeros_like(value) if out is None else out)
    elif hit is None:
        from . import routes
        target, receiver = _python_target(fn)
        if _sites.traced_by_choice(fn):
            _traced_by_choice(fn)
            return _trace_jvp(fn, args, kwargs, active, tangents)
        if _sites.is_traced_derivative(fn):
            reason = _sites.Reason(fn, "it is a derivative made by s2sgrad, whose own "
                                       "derivative is taken by tracing through its generated code")
        elif target is None:
            reason = _sites.Reason.from_error(fn, SourceError(f"{fn!r} is not a Python function"))
        else:
            reason = _compile_reason(target)   # raises for a generator function
        if reason is None and target is not None and not _has_box(args, kwargs):
            try:
                params = _parameters(target)
                offset = 1 if receiver is not None else 0
                active_names = tuple(params[k + offset] for k in active)
                jvp_fn, names = _jvp_function(target, active_names)
            except (SourceError, UnsupportedError) as exc:
                reason = routes.record_failure(target, exc)
            else:
                lead = (receiver,) if receiver is not None else ()
                kw = dict(kwargs)
                kw.update({names[p]: t for p, t in zip(active_names, tangents)})
                return jvp_fn(*lead, *args, **kw)
        if reason is not None:
            routes.fallback(target if target is not None else fn, reason, _sites.call_site)
    from ..fallback import trace_jvp
    return trace_jvp(_by_name(fn), tuple(args), dict(kwargs), tuple(active), tuple(tangents))


def _traced_by_choice(fn):
    """A derivative made with ``fallback="always"`` is traced, as the user chose, without a
    warning; under ``fallback="never"`` that is refused."""
    from . import routes
    if routes.current() == "never":
        routes.fallback(fn, _sites.Reason(
            fn, "it is a derivative made by s2sgrad with fallback='always', whose own "
                "derivative is taken by tracing too"), _sites.call_site)


def _trace_jvp(fn, args, kwargs, active, tangents):
    from ..fallback import trace_jvp
    return trace_jvp(fn, tuple(args), dict(kwargs), tuple(active), tuple(tangents))


# The runtime calls back into the driver through this registration, never by import.
_dispatch.register(call_fwd=call_fwd, call_bwd=call_bwd, call_jvp=call_jvp,
                   trace_jvp=_trace_jvp, call_site=_sites.call_site)
