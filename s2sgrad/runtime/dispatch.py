"""Calls whose target is known only at run time: the runtime's one way back into the driver.

Generated code calls ``_rt.call_fwd`` / ``_rt.call_bwd`` (reverse mode) and
``_rt.call_jvp`` / ``_rt.call_jvp_batch`` (forward mode) for a call whose
target it cannot know when it is generated (``f(x)`` where ``f`` is an
argument, a user function the compiler could not transform).  Deciding what
to do with such a call (apply a rule, transform the function, trace it) is the
driver's work (``s2sgrad.driver.dynamic``), and the runtime must not import the
driver.  So the driver registers its handlers here when it is imported
(``import s2sgrad`` does that), and these functions forward to them:

- ``call_fwd(tape, fn, args, kwargs, active)`` and ``call_bwd(tape, d_out)``;
- ``call_jvp(fn, args, kwargs, active, tangents) -> (value, tangent)``;
- ``trace_jvp(fn, args, kwargs, active, tangents) -> (value, tangent)``: forward
  mode by tracing, always (the ODE helpers of ``runtime.integrate`` use it).
"""

import functools

from ..errors import S2SGradError
from .batch import directions, stack_directions

__all__ = ["call_fwd", "call_bwd", "call_jvp", "call_jvp_batch"]

HANDLERS = ("call_fwd", "call_bwd", "call_jvp", "trace_jvp", "call_site")
_handlers = {}


def register(**handlers):
    """Install the driver's handlers (keyword arguments named as in ``HANDLERS``)."""
    unknown = sorted(set(handlers) - set(HANDLERS))
    if unknown:
        raise TypeError(f"unknown dispatch handlers {unknown}; expected some of {list(HANDLERS)}")
    _handlers.update(handlers)


def handler(name):
    """The registered handler ``name``; a clear error when the driver never registered one."""
    fn = _handlers.get(name)
    if fn is None:
        raise S2SGradError(
            f"s2sgrad.runtime.{name}: no dynamic dispatcher is registered. Generated code that "
            f"calls a function known only at run time needs the s2sgrad package itself: "
            f"import it with 'import s2sgrad' (which registers s2sgrad.driver.dynamic) before running "
            f"the generated module.")
    return fn


def call_site():
    """``file:line`` of the user's line being run or differentiated (for a message raised in
    a runtime helper), as the driver finds it; ``"<unknown>"`` without a driver."""
    fn = _handlers.get("call_site")
    return (fn() if fn is not None else None) or "<unknown>"


def call_fwd(tape, fn, args, kwargs, active):
    """Forward sweep of a call whose target is known only at run time.

    ``active`` lists the positions of ``args`` that carry derivatives; the
    backward sweep runs through ``call_bwd``.
    """
    return handler("call_fwd")(tape, fn, args, kwargs, active)


def call_bwd(tape, d_out):
    """Backward sweep of a ``call_fwd``: the cotangents of its active arguments."""
    return handler("call_bwd")(tape, d_out)


def call_jvp(fn, args, kwargs, active, tangents):
    """Forward mode through a call whose target is known only at run time.

    ``tangents`` are the tangents of ``args[k]`` for ``k`` in ``active``;
    returns ``(value, tangent of the value)``.
    """
    return handler("call_jvp")(fn, args, kwargs, active, tangents)


def call_jvp_batch(fn, args, kwargs, active, tangents):
    """``call_jvp`` for batches of tangents: the call's forward mode, direction by direction."""
    each = [_closure_directions(t, args[k]) if isinstance(t, dict)
            and isinstance(args[k], functools.partial) else directions(t, args[k])
            for k, t in zip(active, tangents)]
    value, results = None, []
    for ts in zip(*each):
        value, t_out = call_jvp(fn, args, kwargs, active, ts)
        results.append(t_out)
    return value, stack_directions(results)


def _closure_directions(t, closure):
    """The directions of a callable's tangent ``{name: batch}``, one dict per direction."""
    keys = [k for k in t if t[k] is not None]
    if not keys:
        return None
    per_key = [directions(t[k], closure.keywords[k]) for k in keys]
    return [dict(zip(keys, vals)) for vals in zip(*per_key)]


def trace_jvp(fn, args, kwargs, active, tangents):
    """Forward mode through ``fn`` by tracing: ``(value, tangent of the value)``."""
    return handler("trace_jvp")(fn, args, kwargs, active, tangents)
