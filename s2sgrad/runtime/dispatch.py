"""Calls whose target is known only at run time (forwarded to ``s2sgrad.dynamic``)."""

from .batch import directions, stack_directions

__all__ = ["call_fwd", "call_bwd", "call_jvp", "call_jvp_batch"]


def call_fwd(tape, fn, args, kwargs, active):
    """Forward sweep of a call whose target is known only at run time.

    ``active`` lists the positions of ``args`` that carry derivatives.  The
    dynamic dispatcher (compiler or tracing fallback) is loaded on first use;
    the backward sweep runs through ``call_bwd``.
    """
    from ..dynamic import call_fwd as impl
    return impl(tape, fn, args, kwargs, active)


def call_bwd(tape, d_out):
    from ..dynamic import call_bwd as impl
    return impl(tape, d_out)


def call_jvp(fn, args, kwargs, active, tangents):
    """Forward mode through a call whose target is known only at run time.

    ``tangents`` are the tangents of ``args[k]`` for ``k`` in ``active``;
    returns ``(value, tangent of the value)``.
    """
    from ..dynamic import call_jvp as impl
    return impl(fn, args, kwargs, active, tangents)


def call_jvp_batch(fn, args, kwargs, active, tangents):
    """``call_jvp`` for batches of tangents: the call's forward mode, direction by direction."""
    each = [directions(t, args[k]) for k, t in zip(active, tangents)]
    value, results = None, []
    for ts in zip(*each):
        value, t_out = call_jvp(fn, args, kwargs, active, ts)
        results.append(t_out)
    return value, stack_directions(results)

