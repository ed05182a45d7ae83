"""``trace_vjp`` and ``trace_jvp``: derivatives by running the function on boxed arguments."""

import collections.abc
import numbers

import numpy as np

import s2sgrad.runtime as rt
import s2sgrad.runtime.core as rt_core
from .tracer import (
    FORWARD, PROJECTION, REVERSE, Box, Spec, Trace, _EMPTY, _box_output, _has_box, _snap,
    _class_name, _own_semantics, apply, at_path, strip,
)
from .nested import TRACING_NUMPY, traced, with_rules  # also installs them for tracer.py
from .user import for_trace
from ..errors import S2SGradError, UnsupportedError
from ..rules import registry

from .state import RUNNING  # noqa: E402  (how many traces are running their function)
from . import state as _state

__all__ = ["trace_vjp", "trace_jvp", "RUNNING"]


def _argnums(argnums, nargs):
    if isinstance(argnums, int):
        argnums = (argnums,)
    argnums = tuple(argnums)
    for k in argnums:
        if not -nargs <= k < nargs:
            raise ValueError(f"argnum {k} is out of range for {nargs} positional arguments")
    return tuple(k % nargs for k in argnums)


def _is_leaf(x):
    if isinstance(x, (bool, np.bool_)):
        return False
    if isinstance(x, (Box, float, int, complex, np.number)):
        return True
    return isinstance(x, np.ndarray) and x.dtype.kind in "fciu"


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _rebuild(x, items):
    if _is_namedtuple(x):
        return type(x)(*items)
    return type(x)(items) if isinstance(x, tuple) else list(items)


def _box_tree(x, trace, tangent=None):
    """``(boxed x, tree of tape indices)`` (reverse) or ``(boxed x, None)`` (forward)."""
    if isinstance(x, dict):
        pairs = {k: _box_tree(v, trace, tangent[k] if tangent is not None else None)
                 for k, v in x.items()}
        return {k: p[0] for k, p in pairs.items()}, {k: p[1] for k, p in pairs.items()}
    if isinstance(x, (list, tuple)):
        pairs = [_box_tree(v, trace, tangent[i] if tangent is not None else None)
                 for i, v in enumerate(x)]
        return _rebuild(x, [p[0] for p in pairs]), [p[1] for p in pairs]
    if rt_core._is_object(x):
        # An object: a copy holding its boxed attributes (the user's object is left alone).
        with rt_core.walking(x):
            pairs = {k: _box_tree(v, trace, rt_core.attribute(tangent, k)) for k, v in rt_core.parts(x)}
        return rt_core.object_like(x, {k: p[0] for k, p in pairs.items()}), \
            {k: p[1] for k, p in pairs.items()}
    if not _is_leaf(x):
        why = _untraceable(x)
        if why is not None:
            raise _ForeignArray(x, *why)
        return x, None
    if type(x) is not np.ndarray and isinstance(x, np.ndarray):
        if _own_semantics(type(x)):
            raise _ForeignArray(x, _class_name(x), _SUBCLASS_ADVICE)
        x = x.view(np.ndarray)      # (memmap, a subclass changing no operation): as an ndarray
    value = _snap(x) if isinstance(x, Box) else x
    if trace.mode == REVERSE:
        trace.tape.append((None, None, None, value, (), False))
        idx = len(trace.tape) - 1
        return _box_output(value, trace, idx), idx
    t = tangent if tangent is not None else rt.zeros_like(strip(x))
    return _box_output(value, trace, t), None


def _foreign_array(x):
    """An array of another library (``array_api_strict``, CuPy, PyTorch...): the tracer
    cannot follow the operations on it, so a derivative with respect to it would be zero."""
    return not isinstance(x, (np.ndarray, np.generic)) and (
        hasattr(x, "__array_namespace__") or hasattr(x, "shape") and hasattr(x, "dtype"))


_FOREIGN_ADVICE = (
    "s2sgrad's tracing fallback differentiates NumPy arrays and numbers only (with "
    "respect to anything else, a derivative would come out zero); the generated code "
    "keeps an array's own namespace but needs a derivative rule for every function "
    "it calls (the warning or error before this one says which it lacks): add one, "
    "or pass NumPy arrays")
_SUBCLASS_ADVICE = (
    "its operations do not mean what they mean for a NumPy array (np.matrix's * and ** are "
    "matrix products, a masked array leaves out its masked entries), and the tracer "
    "differentiates them as a NumPy array's, which would give a wrong derivative: pass "
    "np.asarray(x) (and a masked array's mask as an argument of its own)")
_NUMBER_ADVICE = ("the tracer differentiates Python and NumPy floats and complex numbers "
                  "only (this number's derivative would come out wrong): pass float(x)")
_OBJECT_ADVICE = ("the tracer differentiates arrays of a floating dtype only (the derivative "
                  "with respect to this one would come out zero): pass x.astype(float)")
_FIELDS_ADVICE = ("the tracer differentiates arrays of a floating dtype only (the derivative "
                  "with respect to this one would come out zero): pass each field, x['name'], "
                  "as an array of its own")
_COLLECTION_ADVICE = ("the tracer differentiates through lists, tuples, dicts and the "
                      "attributes of objects only (the derivative with respect to the numbers "
                      "in this one would come out zero): pass them in a list, tuple or dict")

def _carries(v):
    """``v`` is, or holds, a value with a derivative (a float, an inexact array...)."""
    if isinstance(v, (bool, np.bool_, int, np.integer, str, bytes)) or v is None:
        return False
    if isinstance(v, (Box, float, complex, np.inexact, numbers.Number)):
        return True
    if isinstance(v, np.ndarray):
        return v.dtype.kind in "fc" or _untraceable(v) is not None
    if isinstance(v, (list, tuple, dict)):
        return any(_carries(e) for e in (v.values() if isinstance(v, dict) else v))
    return _untraceable(v) is not None


def _untraceable(x):
    """``(what x is, what to do)`` when the tracer would leave ``x``, a value that carries a
    derivative, untraced (a derivative of zero) or trace it wrongly; else ``None``."""
    if isinstance(x, (str, bytes, bytearray, range, bool, np.bool_)) or x is None:
        return None
    if isinstance(x, np.ndarray):
        kind = x.dtype.kind
        if kind == "O" and any(_carries(e) for e in x.flat):
            return "a NumPy array of dtype object", _OBJECT_ADVICE
        if kind == "V" and x.dtype.fields and any(
                dt.kind in "fc" or dt.fields for dt, *_ in x.dtype.fields.values()):
            return "a structured NumPy array", _FIELDS_ADVICE
        return None
    if _foreign_array(x):
        cls = type(x)
        return (f"an {cls.__module__.split('.')[0]} array ({cls.__module__}.{cls.__qualname__})",
                _FOREIGN_ADVICE)
    if isinstance(x, numbers.Number):         # Fraction, Decimal (not float, complex, int)
        return _class_name(x), _NUMBER_ADVICE
    if isinstance(x, collections.abc.Collection) and not isinstance(x, (list, tuple, dict)):
        items = x.values() if isinstance(x, collections.abc.Mapping) else x
        if any(_carries(e) for e in items):   # a deque, a set of floats
            return _class_name(x), _COLLECTION_ADVICE
    return None


class _ForeignArray(Exception):
    """``(value, what it is, what to do)``: an argument the tracer cannot follow."""


def _boxed(fn, x, trace, tangent=None):
    """``_box_tree(x, trace, tangent)``; an error naming ``fn`` for an argument holding an
    array the tracer cannot differentiate (never a derivative of zero)."""
    try:
        return _box_tree(x, trace, tangent)
    except _ForeignArray as exc:
        value, kind, advice = exc.args
        code = getattr(getattr(fn, "__func__", fn), "__code__", None)
        where = f"{code.co_filename}:{code.co_firstlineno}" if code is not None else "<unknown>"
        raise UntraceableArgumentError(
            where, f"the argument of {getattr(fn, '__qualname__', fn)!s} that holds {kind}",
            advice) from None


class UntraceableArgumentError(UnsupportedError):
    """A differentiated argument holds an array of another library than NumPy, which the
    tracing fallback cannot follow."""

    verdict = "cannot be traced"


def _unbox_out(out, trace):
    """The function's output with ``trace``'s boxes replaced by their values."""
    if isinstance(out, Box):
        if out._trace is trace:
            return out._value
        return _unbox_out(out._value, trace) if not out._trace.active else out
    if isinstance(out, dict):
        return {k: _unbox_out(v, trace) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return _rebuild(out, [_unbox_out(v, trace) for v in out])
    if rt_core._is_object(out):     # a copy holding its attributes' values, not the boxes
        with rt_core.walking(out):
            values = {k: (v, _unbox_out(v, trace)) for k, v in rt_core.parts(out)}
        if all(u is v for v, u in values.values()):
            return out                  # (no box: the object itself)
        return rt_core.object_like(out, {k: u for k, (v, u) in values.items()})
    return out


class _Attributes(dict):
    """The tape indices of an object output's attributes (its cotangent is an object, or a
    dict, whose attributes ``rt_core.attribute`` reads)."""


def _out_nodes(out, trace):
    """The output's structure with tape indices (or tangents) of ``trace``'s boxes, else None."""
    if isinstance(out, Box):
        if out._trace is trace:
            return out._node
        return _out_nodes(out._value, trace) if not out._trace.active else None
    if isinstance(out, dict):
        return {k: _out_nodes(v, trace) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [_out_nodes(v, trace) for v in out]
    if rt_core._is_object(out):
        with rt_core.walking(out):
            return _Attributes((k, _out_nodes(v, trace)) for k, v in rt_core.parts(out))
    return None


def _seeds(nodes, g, acc):
    if nodes is None:
        return
    if isinstance(nodes, int):
        acc.append((nodes, g))
    elif isinstance(nodes, _Attributes):
        for k, v in nodes.items():
            gk = rt_core.attribute(g, k)
            if gk is not None:
                _seeds(v, gk, acc)
    elif isinstance(nodes, dict):
        for k, v in nodes.items():
            _seeds(v, g[k], acc)
    else:
        if len(nodes) != len(g):
            raise ValueError(f"the cotangent has {len(g)} parts, the output {len(nodes)}")
        for v, gg in zip(nodes, g):
            _seeds(v, gg, acc)


def _gather(tree, cts):
    if tree is None:
        return None
    if isinstance(tree, int):
        return cts[tree]
    if isinstance(tree, dict):
        return {k: _gather(v, cts) for k, v in tree.items()}
    return [_gather(v, cts) for v in tree]


_BROADCAST_LIKE = []


def _match(d, x):
    """Give derivative ``d`` the structure and type of ``x`` (``runtime.match``, box-aware)."""
    if isinstance(x, dict):
        return {k: _match(d[k] if d is not None else None, v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return _rebuild(x, [_match(d[i] if d is not None else None, v) for i, v in enumerate(x)])
    if rt_core._is_object(x):      # a copy of the object holding the derivatives of its attributes
        with rt_core.walking(x):
            return rt_core.object_like(x, {k: _match(rt_core.attribute(d, k), v) for k, v in rt_core.parts(x)})
    xv = strip(x)
    if d is None:
        numeric = _is_leaf(xv) or isinstance(xv, (bool, np.bool_)) or (
            isinstance(xv, np.ndarray) and xv.dtype.kind == "b")
        return rt.zeros_like(xv) if numeric else None
    if isinstance(d, Box) or _has_box(d):
        if np.shape(strip(d)) != np.shape(xv):
            if not _BROADCAST_LIKE:
                _BROADCAST_LIKE.append(Spec(registry.by_name("broadcast_like", "s2sgrad.runtime"),
                                            np, "s2sgrad.runtime.broadcast_like"))
            d = apply(_BROADCAST_LIKE[0], rt.broadcast_like, (d, xv), _EMPTY)
        return d
    return rt.match(d, xv)


def _note(err, text):
    if hasattr(err, "add_note") and text not in getattr(err, "__notes__", ()):
        err.add_note(text)


def _backward_pass(tape, seeds):
    """Cotangents of every tape entry reached from ``seeds`` (``[(index, g)]``)."""
    cts = [None] * len(tape)
    hi = -1
    for idx, g in seeds:
        cts[idx] = g if cts[idx] is None else cts[idx] + g
        hi = max(hi, idx)
    for i in range(hi, -1, -1):
        g = cts[i]
        if g is None:
            continue
        spec, args, kwargs, ans, slots, nested_ = tape[i]
        if spec is None:          # an input: keep its cotangent
            continue
        cts[i] = None
        if spec is PROJECTION:    # element `args` of the multi-output entry `slots`
            lst = cts[slots]
            if lst is None:
                lst = cts[slots] = [None] * kwargs
            if type(g) is list and isinstance(ans, (list, tuple)):     # a list inside a list
                g = [rt.zeros_like(strip(a)) if c is None else c for c, a in zip(g, ans)]
            lst[args] = g if lst[args] is None else rt.add(lst[args], g)
            continue
        if type(g) is list and isinstance(ans, (list, tuple)):
            g = [rt.zeros_like(strip(a)) if c is None else c for c, a in zip(g, ans)]
            if isinstance(ans, tuple):
                g = _rebuild(ans, g)
            boxed = nested_ or _has_box(g)
        else:
            boxed = nested_ or isinstance(g, Box)
        xp = TRACING_NUMPY if boxed else spec.xp
        for rfn, argnum, parent, paths in slots:
            if boxed:
                rfn = traced(rfn)
            try:
                if argnum is None:
                    c = rfn(xp, g, ans, *args, **kwargs)
                else:
                    c = rfn(xp, g, ans, *args, argnum=argnum, **kwargs)
            except S2SGradError as e:
                if boxed:
                    _note(e, f"(in the reverse rule of {spec.name}, which ran on traced values "
                             f"to give a higher derivative)")
                raise
            if paths is None:
                cur = cts[parent]
                cts[parent] = c if cur is None else cur + c
            else:
                for path, p in paths:
                    cc = at_path(c, path)
                    cur = cts[p]
                    cts[p] = cc if cur is None else cur + cc
    return cts


def _run(fn, args, kwargs):
    """``fn(*args, **kwargs)``; a conversion error that C code (a SciPy solver calling a
    function it was given) turned into another (a ``SystemError``, a ``TypeError``, or
    whatever Python code run while the conversion error was still pending raised: an
    ``AttributeError`` from a lookup) is raised as itself."""
    from .tracer import LAST_CONVERSION, TracedConversionError
    LAST_CONVERSION[0] = None
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        pending = LAST_CONVERSION[0]
        LAST_CONVERSION[0] = None
        if pending is not None and not isinstance(exc, TracedConversionError):
            raise pending.with_traceback(None) from None
        if not isinstance(exc, (SystemError, TypeError, ValueError)):
            raise
        cause, seen = exc, set()
        while cause is not None and not isinstance(cause, TracedConversionError) \
                and id(cause) not in seen:
            seen.add(id(cause))
            cause = cause.__cause__ or cause.__context__
        if cause is None or cause is exc or id(cause) in seen:
            raise
        raise cause.with_traceback(None) from None


def trace_vjp(fn, args, kwargs=None, argnums=(0,)):
    """Run ``fn(*args, **kwargs)`` with the arguments at ``argnums`` traced.

    Returns ``(value, backward)``: ``backward(g)`` takes a cotangent with the
    structure of ``value`` and returns a tuple of cotangents, one per argnum,
    each with the structure and type of its argument.  It may be called any
    number of times, and inside another trace (higher-order derivatives).
    Complex values follow Autograd's convention, as the rules do: ``backward``
    maps the conjugate of a covector to the conjugate of its pull-back.
    """
    kwargs = kwargs or {}
    args = list(args)
    argnums = _argnums(argnums, len(args))
    originals = [args[k] for k in argnums]
    trace = Trace(REVERSE)
    inputs = []
    _state.enter(trace)
    try:
        for k in argnums:
            args[k], tree = _boxed(fn, args[k], trace)
            inputs.append(tree)
        out = _run(for_trace(with_rules(fn)), args, kwargs)   # np.zeros & co., SciPy's rules
    finally:
        trace.active = False
        _state.leave()
    value = _unbox_out(out, trace)
    out_nodes = _out_nodes(out, trace)
    tape = trace.tape

    def backward(g):
        seeds = []
        _seeds(out_nodes, g, seeds)
        cts = _backward_pass(tape, seeds) if seeds else [None] * len(tape)
        return tuple(_match(_gather(tree, cts), x) for tree, x in zip(inputs, originals))

    return value, backward


def trace_jvp(fn, args, kwargs=None, argnums=(0,), tangents=None):
    """Forward mode: ``(value, tangent_out)`` of ``fn(*args, **kwargs)``.

    ``tangents`` has one tangent per argnum, each structured like its argument;
    ``tangent_out`` is structured like the output (zeros where the output does
    not depend on the traced arguments).
    """
    kwargs = kwargs or {}
    args = list(args)
    argnums = _argnums(argnums, len(args))
    if tangents is None:
        raise TypeError("trace_jvp needs one tangent per argnum")
    if isinstance(argnums, tuple) and len(tangents) != len(argnums):
        raise ValueError(f"{len(argnums)} argnums but {len(tangents)} tangents")
    trace = Trace(FORWARD)
    _state.enter(trace)
    try:
        for k, t in zip(argnums, tangents):
            args[k], _ = _boxed(fn, args[k], trace, t)
        out = _run(for_trace(with_rules(fn)), args, kwargs)   # np.zeros & co., SciPy's rules
    finally:
        trace.active = False
        _state.leave()
    return _unbox_out(out, trace), _tangent_out(out, trace)


def _tangent_out(out, trace):
    if isinstance(out, Box) and out._trace is trace:
        return _match(out._node, out._value)
    if isinstance(out, Box) and not out._trace.active:     # a box of another finished trace
        return _tangent_out(out._value, trace)
    if isinstance(out, dict):
        return {k: _tangent_out(v, trace) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return _rebuild(out, [_tangent_out(v, trace) for v in out])
    if rt_core._is_object(out):     # a copy holding its attributes' tangents
        with rt_core.walking(out):
            return rt_core.object_like(out, {k: _tangent_out(v, trace)
                                             for k, v in rt_core.parts(out)})
    return _match(None, out)
