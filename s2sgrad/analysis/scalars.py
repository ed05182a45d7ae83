"""Which variables certainly hold a single number (never an array or a container).

The reverse transform's planning asks it: arithmetic on numbers costs less to
redo in the backward sweep than a save and a restore, arithmetic on arrays does
not (see ``transform.reverse.ReverseBuilder._plan_expr``).

A variable is a number when every assignment to it gives one: a numeric
constant, a number already known, ``+ - * / // % **`` and unary minus of
numbers, a function of the ``math`` module or ``abs``/``float``/``int``/
``round``/``min``/``max``/``pow`` of numbers, ``len(...)``.  The parameters are
numbers when the caller says so (the abstract values of a specialized request,
``job.abstract``).  A greatest fixed point: loops (``s = s + x * x``) keep their
numbers; anything unknown (a subscript, a call of anything else, a loop over
something other than ``range``) is not one.
"""

import gast
import numpy as np

from ..rules import registry
from .activity import walk_stmts
from ..syntax import walk as _walk

__all__ = ["scalar_names", "is_scalar_expr", "SCALAR_KINDS"]

# Kinds of ``s2sgrad.signature.Abstract`` that are one number.
SCALAR_KINDS = frozenset({"float", "int", "bool", "complex", "scalar"})

_BUILTINS = (abs, round, min, max, pow)
_ANY_ARGUMENT = (len, float, int, complex)

_OPS = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod, gast.Pow)


def scalar_names(body, resolver, params=(), known=(), ints=()):
    """The variables of ``body`` that hold a single number wherever they are assigned.

    ``params``: the function's parameters (what they hold is unknown), ``known``: those
    known to be numbers, and ``("items", p)`` for a parameter ``p`` known to be a tuple
    or list of numbers; ``ints``: names known to be integers.
    """
    assigned = {}
    other = set()       # assigned some other way: a loop over a sequence, an item write...
    for s in walk_stmts(body):
        if isinstance(s, gast.Assign):
            for t in s.targets:
                if isinstance(t, gast.Name):
                    assigned.setdefault(t.id, []).append(s.value)
                else:
                    other.update(n.id for n in _walk(t) if isinstance(n, gast.Name))
        elif isinstance(s, gast.For):
            it = s.iter
            ranged = isinstance(it, gast.Call) and isinstance(it.func, gast.Name) \
                and it.func.id == "range"
            for n in _walk(s.target):
                if isinstance(n, gast.Name):
                    (assigned.setdefault(n.id, []) if ranged else other.add(n.id))
                    if ranged:
                        assigned[n.id].append(gast.Constant(value=0, kind=None))
        elif isinstance(s, (gast.AugAssign, gast.AnnAssign)):
            other.update(n.id for n in _walk(s.target) if isinstance(n, gast.Name))
    out = (set(assigned) | set(known) | set(ints)) - other - (set(params) - set(known))
    changed = True
    while changed:
        changed = False
        for v, values in assigned.items():
            if v in out and v not in ints \
                    and not all(is_scalar_expr(e, out, resolver) for e in values):
                out.discard(v)
                changed = True
    return out


def is_scalar_expr(node, scalars, resolver):
    """Whether ``node`` certainly evaluates to one number, given the names in ``scalars``."""
    if isinstance(node, gast.Constant):
        return isinstance(node.value, (int, float, complex))
    if isinstance(node, gast.Name):
        return node.id in scalars or _number_constant(node, resolver)
    if isinstance(node, gast.BinOp):
        return isinstance(node.op, _OPS) and is_scalar_expr(node.left, scalars, resolver) \
            and is_scalar_expr(node.right, scalars, resolver)
    if isinstance(node, gast.UnaryOp):
        return isinstance(node.op, (gast.USub, gast.UAdd)) \
            and is_scalar_expr(node.operand, scalars, resolver)
    if isinstance(node, gast.Call) and not node.keywords and resolver is not None:
        try:
            ok, value = resolver.static_value(node.func)
        except Exception:       # (a call the resolver cannot name: not known to be a number)
            return False
        if not ok:
            return False
        if any(value is b for b in _ANY_ARGUMENT):
            return True         # a number whatever it is given (or an exception)
        return bool(node.args) and (any(value is b for b in _BUILTINS) or _in_math(value)
                                    or _elementwise(value)) \
            and all(is_scalar_expr(a, scalars, resolver) for a in node.args)
    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name) \
            and isinstance(node.slice, gast.Constant) and isinstance(node.slice.value, int):
        return ("items", node.value.id) in scalars      # an item of a tuple of numbers
    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Attribute) \
            and node.value.attr == "shape" and isinstance(node.slice, gast.Constant):
        return True             # x.shape[0]
    return False


def _number_constant(node, resolver):
    """A global name of a number (``DRAG = 0.02`` at module level)."""
    if resolver is None or node.id in getattr(resolver, "local_names", ()):
        return False
    try:
        ok, value = resolver.static_value(node)
    except Exception:
        return False
    return ok and isinstance(value, (int, float, complex, np.number)) \
        and not isinstance(value, bool)


def _elementwise(value):
    """A NumPy function that maps numbers to numbers (``np.sqrt``, ``np.exp``)."""
    try:
        hit = registry.lookup(value)
    except Exception:
        return False
    return hit is not None and bool(getattr(hit[0], "elementwise", 0))


def _in_math(value):
    return getattr(value, "__module__", None) in ("math", "cmath") and callable(value)
