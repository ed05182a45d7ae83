"""Calls whose target is known only at run time (``f(x)`` where ``f`` is an argument).

Generated code calls ``_rt.call_fwd(_tape, fn, args, kwargs, active)`` in its
forward sweep and ``_rt.call_bwd(_tape, d_out)`` in its backward sweep.  The
forward half looks at ``fn`` now: a primitive with rules is applied directly,
a Python function is transformed (once per pattern of active arguments, then
cached) and its forward sweep run; anything else goes to the tracing
fallback.  It leaves on the tape what its backward half needs.
"""

import inspect
import types

from .errors import NoRuleError, SourceError

__all__ = ["call_fwd", "call_bwd", "call_jvp"]

_COMPILED = {}


def _split_functions(fn, active_names):
    """``(fwd, bwd)`` of the split sweeps of Python function ``fn`` for ``active_names``."""
    key = (fn, active_names)
    hit = _COMPILED.get(key)
    if hit is None:
        from .codegen import compile_module
        from .transform.calls import Job, Program
        from .frontend.source import FunctionSource
        program = Program()
        fsrc = FunctionSource.of(fn)
        job = Job(fsrc, ("dynamic", fn))
        program.jobs[job.key] = job
        spec = program.request(job, active_names)
        program.run()
        source = program.module.source()
        namespace, _ = compile_module(source, program.module.symbols,
                                      f"{fn.__module__}.{fn.__qualname__}.dynamic")
        hit = _COMPILED[key] = (namespace[spec.fwd_name], namespace[spec.bwd_name], spec.active)
    return hit


def _python_target(fn):
    """``(function, bound receiver or None)`` when ``fn`` runs Python code we can transform."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        return fn.__func__, fn.__self__
    if isinstance(fn, types.FunctionType):
        return fn, None
    call = getattr(type(fn), "__call__", None)
    if isinstance(call, types.FunctionType):
        return call, fn
    return None, None


def call_fwd(tape, fn, args, kwargs, active):
    from .rules import registry
    hit = registry.lookup(fn)
    if hit is not None:
        prim, namespace = hit
        return _primitive_fwd(tape, fn, prim, namespace, args, kwargs, active)
    target, receiver = _python_target(fn)
    if target is not None:
        try:
            params = list(inspect.signature(target).parameters)
            offset = 1 if receiver is not None else 0
            active_names = tuple(params[k + offset] for k in active)
            fwd, bwd, order = _split_functions(target, active_names)
        except SourceError:
            target = None
        else:
            lead = (receiver,) if receiver is not None else ()
            value = fwd(tape, *lead, *args, **kwargs)
            positions = [active_names.index(p) for p in order]
            tape.append(("compiled", bwd, positions, len(order)))
            return value
    return _fallback_fwd(tape, fn, args, kwargs, active)


def _primitive_fwd(tape, fn, prim, namespace, args, kwargs, active):
    import numpy
    from .rules import registry
    value = fn(*args, **kwargs)
    bound = prim.bind(args, kwargs)
    params = list(prim.signature.parameters)
    tape.append(("primitive", prim, namespace or numpy, bound, value, [params[k] for k in active]))
    return value


def _fallback_fwd(tape, fn, args, kwargs, active):
    try:
        from .fallback import trace_vjp
    except ImportError:
        raise NoRuleError(getattr(fn, "__qualname__", repr(fn)),
                          getattr(fn, "__name__", repr(fn))) from None
    value, backward = trace_vjp(fn, tuple(args), dict(kwargs), tuple(active))
    tape.append(("traced", backward))
    return value


def call_bwd(tape, d_out):
    record = tape.pop()
    kind = record[0]
    if kind == "compiled":
        _, bwd, positions, n = record
        cts = bwd(tape, d_out)
        cts = (cts,) if n == 1 else tuple(cts)
        return tuple(cts[i] for i in _inverse(positions))
    if kind == "primitive":
        from .rules import registry
        _, prim, namespace, bound, value, params = record
        return tuple(registry.apply_rule(prim, prim.vjp[p], namespace, d_out, value, bound)
                     for p in params)
    _, backward = record
    return tuple(backward(d_out))


def _inverse(positions):
    inv = [0] * len(positions)
    for i, p in enumerate(positions):
        inv[p] = i
    return inv


_JVP = {}


def _jvp_function(fn, active_names):
    """``(jvp function, {param: tangent parameter})`` of Python function ``fn``."""
    key = (fn, active_names)
    hit = _JVP.get(key)
    if hit is None:
        from .codegen import compile_module
        from .frontend.source import FunctionSource
        from .transform.calls import Job
        from .transform.forward import ForwardProgram
        program = ForwardProgram()
        job = Job(FunctionSource.of(fn), ("dynamic", fn))
        program.jobs[job.key] = job
        spec = program.request(job, active_names)
        program.run()
        namespace, _ = compile_module(program.module.source(), program.module.symbols,
                                      f"{fn.__module__}.{fn.__qualname__}.dynamic_jvp")
        hit = _JVP[key] = (namespace[spec.jvp_name], spec.tangent_names)
    return hit


def call_jvp(fn, args, kwargs, active, tangents):
    """Forward mode through ``fn(*args, **kwargs)``: a primitive's rules, a transform, or tracing."""
    from .rules import registry
    hit = registry.lookup(fn)
    if hit is not None:
        import numpy
        prim, namespace = hit
        value = fn(*args, **kwargs)
        bound = prim.bind(args, kwargs)
        params = list(prim.signature.parameters)
        tangent = None
        for k, t in zip(active, tangents):
            rule = prim.jvp.get(params[k])
            if rule is None:
                raise NoRuleError(prim.qualname, f"{prim.qualname} (argument {params[k]})")
            part = registry.apply_rule(prim, rule, namespace or numpy, t, value, bound)
            tangent = part if tangent is None else tangent + part
        return value, tangent
    target, receiver = _python_target(fn)
    if target is not None:
        try:
            params = list(inspect.signature(target).parameters)
            offset = 1 if receiver is not None else 0
            active_names = tuple(params[k + offset] for k in active)
            jvp_fn, names = _jvp_function(target, active_names)
        except SourceError:
            pass
        else:
            lead = (receiver,) if receiver is not None else ()
            kw = dict(kwargs)
            kw.update({names[p]: t for p, t in zip(active_names, tangents)})
            return jvp_fn(*lead, *args, **kw)
    try:
        from .fallback import trace_jvp
    except ImportError:
        raise NoRuleError(getattr(fn, "__qualname__", repr(fn)),
                          getattr(fn, "__name__", repr(fn))) from None
    return trace_jvp(fn, tuple(args), dict(kwargs), tuple(active), tuple(tangents))
