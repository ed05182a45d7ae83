"""``wrt``: which arguments an operator differentiates with respect to.

Every operator that takes ``wrt`` (``grad``, ``value_and_grad``, ``jvp``,
``vjp``, ``elementwise_grad``, ``jacobian``, ``hessian``, ``hvp``,
``holomorphic_grad``) turns it into positions with ``normalize`` when it is
created: an int is a position among the positional parameters, a str is a
parameter's name, a tuple or list of them (mixed) asks for a tuple of
derivatives.  A mistake (a position out of range, an unknown name, a
keyword-only or ``*args`` parameter by name, a negative position, a bool, a
duplicate) is a ``WrtError`` right there, naming the function, its
parameters and what to write, instead of an ``IndexError`` deep inside the
first call.

When the function's signature cannot be read (a C callable without one),
positions are taken as they are and checked by the call.
"""

import functools
import inspect
import numbers
import os

from .errors import WrtError

__all__ = ["normalize", "WrtError"]


def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        pass
    try:            # a NumPy function has no signature, but its rule has one
        from .rules import registry
        hit = registry.lookup(fn)
        return hit[0].signature if hit is not None else None
    except Exception:
        return None


def _name(fn):
    """How a message names ``fn`` (as ``sites.describe`` does, briefly)."""
    if isinstance(fn, functools.partial):
        return f"functools.partial({_name(fn.func)}, ...)"
    mark = getattr(fn, "__s2sgrad_derivative__", None)
    if mark is not None:
        return f"{mark[0]}({_name(mark[1])})"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None and callable(getattr(type(fn), "__call__", None)):
        return f"{type(fn).__qualname__}.__call__"      # a callable object
    return name or repr(fn)


def _where(fn):
    """`` (file:line)`` of ``fn``'s definition, or nothing for a built-in."""
    if isinstance(fn, functools.partial):
        fn = fn.func
    target = getattr(fn, "__func__", fn)
    code = getattr(target, "__code__", None) or getattr(
        getattr(type(fn), "__call__", None), "__code__", None)
    if code is None:
        return ""
    path = code.co_filename
    shown = os.path.basename(path)
    parent = os.path.basename(os.path.dirname(path))
    if parent and os.path.exists(os.path.join(os.path.dirname(path), "__init__.py")):
        shown = f"{parent}/{shown}"
    return f" ({shown}:{code.co_firstlineno})"


def normalize(fn, wrt, operator="grad", *, single_only=False):
    """``(positions, single)``: ``wrt`` as a tuple of positions of ``fn``'s positional
    parameters, and whether it was one (an int or a name) rather than a tuple.

    ``single_only`` (``jacobian``, ``hessian``) refuses a tuple.
    """
    single = isinstance(wrt, (numbers.Integral, str)) and not isinstance(wrt, bool)
    items = [wrt] if single or isinstance(wrt, bool) else wrt
    if not isinstance(items, (list, tuple)):
        raise _error(fn, wrt, operator,
                     f"wrt must be a position (int), a parameter's name (str) or a tuple of "
                     f"them, not {type(wrt).__name__}")
    if single_only and not single:
        raise _error(fn, wrt, operator,
                     f"{operator} differentiates with respect to one argument; give one "
                     f"position or name (for several, call {operator} once for each)")
    if not items:
        raise _error(fn, wrt, operator, "wrt=() asks for no derivative at all")
    sig = _signature(fn)
    params = list(sig.parameters.values()) if sig is not None else None
    positions = []
    for item in items:
        w = _position(fn, wrt, operator, item, params)
        if w in positions:
            raise _error(fn, wrt, operator,
                         f"{_show(item)} names argument {w} twice; list each argument once")
        positions.append(w)
    return tuple(positions), single


def _positional(params):
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _position(fn, wrt, operator, item, params):
    if isinstance(item, bool) or not isinstance(item, (numbers.Integral, str)):
        what = "a bool" if isinstance(item, bool) else type(item).__name__
        raise _error(fn, wrt, operator, f"{item!r} is {what}; give a position (int) or a "
                                        f"parameter's name (str)", params)
    if isinstance(item, str):
        if params is None:
            raise _error(fn, wrt, operator,
                         f"the parameters of {_name(fn)} cannot be read, so {item!r} names "
                         f"nothing; give its position (an int)")
        positional = _positional(params)
        for k, p in enumerate(positional):
            if p.name == item:
                return k
        for p in params:
            if p.name != item:
                continue
            if p.kind == p.KEYWORD_ONLY:
                names = [q.name for q in positional]
                call = ", ".join(names + [f"{item}={item}"])
                wrapper = (f"{operator}(lambda {', '.join(names + [item])}: "
                           f"{_name(fn).rsplit('.', 1)[-1]}({call}), wrt={item!r})")
                raise _error(fn, wrt, operator,
                             f"{item!r} is a keyword-only parameter, which s2sgrad cannot "
                             f"differentiate with respect to; make it positional (before the *), "
                             f"or differentiate a function that passes it on: {wrapper}", params)
            if p.kind == p.VAR_POSITIONAL:
                raise _error(fn, wrt, operator,
                             f"{item!r} is the *{item} parameter; give the position of the "
                             f"argument in it (wrt={len(positional)} for the first)", params)
            raise _error(fn, wrt, operator,
                         f"{item!r} is the **{item} parameter; an argument passed by keyword "
                         f"cannot be differentiated with respect to", params)
        raise _error(fn, wrt, operator, f"{_name(fn)} has no parameter {item!r}", params)
    w = int(item)
    if w < 0:
        raise _error(fn, wrt, operator, f"the position {w} is negative; positions count from "
                                        f"0", params)
    if params is not None:
        positional = _positional(params)
        varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
        if w >= len(positional) and not varargs:
            raise _error(fn, wrt, operator, f"position {w} is out of range", params)
    return w


def _show(item):
    return repr(item)


def _error(fn, wrt, operator, problem, params=None):
    """``WrtError``: ``grad(f, wrt=2)``: the problem, then ``f``'s parameters and what to write."""
    name = _name(fn)
    msg = f"{operator}({name}, wrt={wrt!r}): {problem}."
    if params is not None:
        positional = _positional(params)
        if positional:
            listed = ", ".join(f"{p.name!r} (position {k})" for k, p in enumerate(positional))
            first = positional[0].name
            example = f"wrt={first!r} or wrt=0"
            if len(positional) > 1:
                second = positional[1].name
                example += f", or wrt=({first!r}, {second!r}) for a tuple of derivatives"
            msg += (f" {name}{_where(fn)} takes the positional parameters {listed}; write "
                    f"{example}.")
        else:
            msg += f" {name}{_where(fn)} has no positional parameter to differentiate."
    return WrtError(msg)
