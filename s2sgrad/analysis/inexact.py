"""Inexact names: variables that surely hold a float or complex array or number.

In general code (no signature: ``analysis.shapes`` knows nothing) a value written
into an array keeps its derivative only where the array is not one of an integer
or bool dtype, which NumPy truncates the value into; and ``y += v`` is in place
for an array, which NumPy refuses for floats into integers.  The transforms check
the array's dtype at run time (``_rt.through_write``, ``_rt.in_place``) unless it
is known: this analysis knows it for the arrays a function makes of a dtype that
is surely inexact, whatever its arguments hold: ``np.zeros(n)`` (float64 without
a dtype), ``np.zeros_like(a)`` of such an ``a``, ``x * 2.0`` (a float constant
promotes), ``a / b``, the adjoints generated code makes (``_rt.zeros_like(x)``,
``_rt.copy(np.broadcast_to(d_result, ...))``) and what is computed from them.

It is flow-insensitive: a name is inexact when every plain assignment of it
makes an inexact value (an augmented one, ``y += v``, keeps an array's dtype and
makes a float of a float); a name bound otherwise (a loop target, unpacking, an
argument) is not known.
"""

import gast
import numpy

from ..syntax import walk
from .activity import walk_stmts

__all__ = ["inexact_names", "makes_inexact"]

# NumPy functions whose result is float64 (or complex) without a dtype argument, whatever
# the arguments (the shape, ``N``, ``M``...)
_FLOAT_MAKERS = {"zeros", "ones", "empty", "eye", "identity"}
# NumPy functions whose result has the dtype of their first argument (without a dtype)
_LIKE_FIRST = {"zeros_like", "ones_like", "empty_like", "full_like", "array", "asarray", "copy",
               "broadcast_to", "reshape", "transpose", "ravel", "squeeze", "expand_dims",
               "atleast_1d", "atleast_2d", "ascontiguousarray", "real", "imag", "conj",
               "conjugate"}
# NumPy functions whose result is inexact for any numeric argument
_ALWAYS_INEXACT = {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
                   "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "true_divide",
                   "mean", "linspace", "arctan2", "hypot"}
# runtime helpers (``_rt.<name>``) whose result is a derivative or a value made from the
# inexact argument they are given first
_RUNTIME_LIKE_FIRST = {"copy", "unbroadcast", "broadcast_like", "reduce_vjp", "max_vjp",
                       "matmul_vjp_a", "matmul_vjp_b", "dot_vjp_a", "dot_vjp_b", "add",
                       "written_cotangent", "through_write", "in_place", "copied_into", "add_at",
                       "to_complex_like"}
# runtime helpers whose result is always inexact: a zero or unit adjoint, the seed of a sweep
_RUNTIME_INEXACT = {"zeros_like", "ones_like", "seed"}


def inexact_names(body, resolver, params=(), given=()):
    """The names of ``body`` every plain assignment of which makes a float or complex
    array or number.  A parameter (``params``) is one only where the first statement that
    mentions it assigns it anew (``d_result = _rt.seed(d_result, result)``): else the
    value it is given, not known, may be read or written into first; but for those in
    ``given``, known to be given a float or complex value (the arguments an operator
    differentiates: it refuses integers)."""
    values = {p: [] for p in given}
    first = _assigned_first(body, params) - set(given)
    unknown = set(params) - first - set(given)
    plain = set()       # the targets of plain assignments (y = v)
    for s in walk_stmts(body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name):
            plain.add(id(s.targets[0]))
            if not getattr(s, "s2s_augmented", False):
                values.setdefault(s.targets[0].id, []).append(s.value)
        elif isinstance(s, (gast.Global, gast.Nonlocal)):
            unknown.update(s.names)     # (a value from outside, not an assignment here)
    for s in body:
        for n in walk(s):
            # a name bound otherwise (a loop target, unpacking, y := v): its value not known
            # (not y of y[i] = v, an item write: its Name loads y)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) \
                    and id(n) not in plain:
                unknown.add(n.id)
    # The greatest fixed point: every name taken inexact, then those with a value that is
    # not dropped until none is.  Sound for a local name: its first value is made without
    # it (it has none yet), each later one from values made before.  A parameter assigned
    # first has a value before that assignment, which it may read (d_result = d_result):
    # its own reads do not count for it.
    inexact = {v for v in values if v not in unknown}
    changed = True
    while changed:
        changed = False
        for v in sorted(inexact):
            known = inexact - {v} if v in first else inexact
            if not all(makes_inexact(e, known, resolver) for e in values[v]):
                inexact.discard(v)
                changed = True
    return inexact


def _assigned_first(body, params):
    """The parameters the first statement of ``body`` mentioning which is a plain
    assignment of that parameter (not in a branch or a loop)."""
    first = set()
    pending = set(params)
    for s in body:
        if not pending:
            break
        names = {n.id for n in walk(s) if isinstance(n, gast.Name) and n.id in pending}
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name) and s.targets[0].id in names:
            first.add(s.targets[0].id)
        pending -= names
    return first


def makes_inexact(node, inexact, resolver):
    """Whether the expression ``node`` surely makes a float or complex array or number,
    given the names ``inexact`` known to hold one."""
    if isinstance(node, gast.Constant):
        return type(node.value) in (float, complex)
    if isinstance(node, gast.Name):
        return node.id in inexact
    if isinstance(node, gast.Subscript):
        return makes_inexact(node.value, inexact, resolver)
    if isinstance(node, gast.UnaryOp):
        return isinstance(node.op, (gast.USub, gast.UAdd)) \
            and makes_inexact(node.operand, inexact, resolver)
    if isinstance(node, gast.BinOp):
        # (a float operand promotes the other, integers divided give floats)
        return isinstance(node.op, gast.Div) \
            or makes_inexact(node.left, inexact, resolver) \
            or makes_inexact(node.right, inexact, resolver)
    if isinstance(node, gast.Call):
        return _call_makes_inexact(node, inexact, resolver)
    return False


def _call_makes_inexact(node, inexact, resolver):
    func = node.func
    if isinstance(func, gast.Attribute) and func.attr == "copy" and not node.args \
            and not node.keywords:
        return makes_inexact(func.value, inexact, resolver)     # (a.copy())
    try:
        ok, fn = resolver.static_value(func)
    except Exception:      # noqa: BLE001 - an unresolvable callee: not known
        return False
    if not ok or not callable(fn):
        return False
    module = getattr(fn, "__module__", None) or ""
    fname = getattr(fn, "__name__", None)
    if module.startswith("s2sgrad.runtime"):
        if fname in _RUNTIME_INEXACT:
            return True
        return fname in _RUNTIME_LIKE_FIRST and bool(node.args) \
            and makes_inexact(node.args[0], inexact, resolver)
    if module.split(".")[0] != "numpy" and not isinstance(fn, numpy.ufunc):
        return False
    if any(k.arg == "dtype" for k in node.keywords):
        return False        # (a dtype given: not read here)
    if fname in _ALWAYS_INEXACT:
        return True
    if fname in _FLOAT_MAKERS:
        return len(node.args) <= 1      # (np.zeros(3, int): a dtype by position)
    if fname == "full":
        return len(node.args) == 2 and makes_inexact(node.args[1], inexact, resolver)
    if fname in _LIKE_FIRST:
        return bool(node.args) and (len(node.args) == 1 or fname in (
            "broadcast_to", "reshape", "transpose", "expand_dims", "full_like")) \
            and makes_inexact(node.args[0], inexact, resolver)
    if fname == "where" and len(node.args) == 3:
        return makes_inexact(node.args[1], inexact, resolver) \
            or makes_inexact(node.args[2], inexact, resolver)
    return False
