"""Shift-invariant expressions: the log-sum-exp written with its max shift.

A person writes the log of a sum of exponentials stably by shifting by the maximum::

    shift = np.max(a, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(a - shift), axis=axis)) + np.squeeze(shift, axis=axis)

The result does not depend on ``shift`` at all: for any ``s`` constant along the
summed axis, ``log(sum(exp(a - s))) + s == log(sum(exp(a)))``.  Its derivative
with respect to ``shift`` is zero, and the derivative through ``np.max`` (a
comparison, a count of ties, a division) is work whose terms cancel.  A
hand-written adjoint skips it; so does the generated code: ``mark`` finds these
sums and notes on each the name of its shift, which ``activity.diff_names``
then does not count as read in a differentiable position.  A shift used only
there carries no derivative.

The same holds for a shift the statement before applies and the next statement
removes again: the log-softmax and the softmax of ``z`` are those of ``z - c``::

    z = z - np.max(z, axis=k, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=k, keepdims=True))

    e = np.exp(z - np.max(z, axis=k, keepdims=True))
    return e / np.sum(e, axis=k, keepdims=True)

There the ``np.max`` call itself is marked (``NONE``): it carries no derivative.

What makes the identities hold is checked, not assumed: the shift is
``np.max(a, ...)`` of a name over the axes of the sum, with ``keepdims=True``
when an axis is given, so that it is constant along them; it is bound by the
statement just before (so neither ``a`` nor the axis changed in between); and
the shifted value is read nowhere else (``z`` or ``e`` above: the two
statements read it, nothing else in the function does).  The forms recognized
with a named shift, in either order of the ``+``::

    np.log(np.sum(np.exp(a - s), axis=k)) + np.squeeze(s, axis=k)     # s = max(a, axis=k, keepdims=True)
    np.log(np.sum(np.exp(a - s), axis=k, keepdims=True)) + s          # s = max(a, axis=k, keepdims=True)
    np.log(np.sum(np.exp(a - s))) + s                                 # s = max(a)

Methods (``a.max(...)``, ``e.sum(...)``) count as the functions.  Anything else
(another shift, another axis, a statement in between, another read) is
differentiated as written, which is right too, only slower.
"""

import gast
import numpy

from ..rules import registry
from ..syntax import blocks, read_counts, walk

__all__ = ["mark", "FREE", "NONE"]

FREE = "s2s_shift_free"     # the attribute of a marked ``+``: the name of its shift
NONE = "s2s_shift_none"     # the attribute of a marked ``np.max(...)``: no derivative

_PRIMS = {}                 # primitive -> its name here, for the functions found so far
_FUNCTIONS = ("log", "sum", "exp", "squeeze", "max", "amax")


def _prims():
    """``{primitive: name}`` of NumPy's log, sum, exp, squeeze and max (amax), for those
    whose rules are loaded: a callee's primitive is one of them only if its rules are
    (looking up the others would import rule modules the program does not use)."""
    if len(_PRIMS) < len(_FUNCTIONS):
        for fname in _FUNCTIONS:
            hit = registry.lookup(getattr(numpy, fname), load=False)
            if hit is not None:
                _PRIMS[hit[0]] = fname.replace("amax", "max")
    return _PRIMS


def mark(body, callee_of, bind, closed=()):
    """Mark the shift-invariant expressions of ``body`` (see the module docstring).
    ``callee_of(call)`` is what a call calls (``activity.callee_of``), ``bind(prim, call,
    callee)`` binds its arguments to the primitive's parameters (None where they do not
    bind); ``closed``: the names local functions read (read elsewhere, then)."""
    counts = None
    for block in blocks(body):
        for before, s in zip(block, block[1:]):
            if not isinstance(s, gast.Assign):
                continue
            shift = _max_shift(before, callee_of, bind)
            if shift is not None:
                for node in walk(s.value):
                    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add) \
                            and (_matches(node.left, node.right, shift, callee_of, bind)
                                 or _matches(node.right, node.left, shift, callee_of, bind)):
                        setattr(node, FREE, shift[0])
                continue
            shifted = _shifted(before, callee_of, bind)
            if shifted is None:
                continue
            y, exp, call, a, axis = shifted
            if counts is None:
                counts = read_counts(body)
            # y read only by the next statement's two reads (and a's own, when y is a)
            # (a softmax's e = np.exp(e - ...) read again by itself would be scaled, not shifted)
            if y in closed or (exp and y == a) or counts.get(y, 0) != 2 + 2 * (y == a) \
                    or not _removes(s.value, y, exp, axis, callee_of, bind):
                continue
            setattr(call, NONE, True)


def _shifted(s, callee_of, bind):
    """``(y, exp, the max call, a, axis)`` if ``s`` is ``y = a - np.max(a, axis=k, keepdims=True)``
    (``exp`` False) or ``y = np.exp(a - np.max(...))`` (``exp`` True)."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1
            and isinstance(s.targets[0], gast.Name)):
        return None
    value, exp = s.value, False
    bound = _call(value, "exp", callee_of, bind, {"x"})
    if bound is not None:
        value, exp = bound.get("x"), True
    if not (isinstance(value, gast.BinOp) and isinstance(value.op, gast.Sub)
            and isinstance(value.left, gast.Name)):
        return None
    bound = _call(value.right, "max", callee_of, bind, {"a", "axis", "keepdims"})
    if bound is None or not _is_name(bound.get("a"), value.left.id) \
            or _axis(bound) in (None, "") or _flag(bound, "keepdims") is not True \
            or _reads(bound.get("axis"), s.targets[0].id):
        return None
    return s.targets[0].id, exp, value.right, value.left.id, _axis(bound)


def _removes(node, y, exp, axis, callee_of, bind):
    """Whether ``node`` is ``y - np.log(np.sum(np.exp(y), axis=k, keepdims=True))`` (``y /
    np.sum(y, axis=k, keepdims=True)`` for ``exp``), ``k`` the max's ``axis`` (its text)."""
    if not (isinstance(node, gast.BinOp) and _is_name(node.left, y)
            and isinstance(node.op, gast.Div if exp else gast.Sub)):
        return False
    inner = node.right
    if not exp:
        log = _call(inner, "log", callee_of, bind, {"x"})
        inner = log and log.get("x")
    total = _call(inner, "sum", callee_of, bind, {"a", "axis", "keepdims"})
    summed = total and total.get("a")
    if not exp:
        summed = _call(summed, "exp", callee_of, bind, {"x"})
        summed = summed and summed.get("x")
    return _is_name(summed, y) and _axis(total) == axis \
        and _flag(total, "keepdims") is True


def _call(node, name, callee_of, bind, allowed):
    """The bound arguments of ``node`` if it calls NumPy's ``name`` with only the
    parameters ``allowed``, else None."""
    if not isinstance(node, gast.Call):
        return None
    callee = callee_of(node)
    if callee.kind not in ("primitive", "method") or _prims().get(callee.prim) != name:
        return None
    bound = bind(callee.prim, node, callee)
    return bound if bound is not None and set(bound) <= allowed else None


def _flag(bound, param):
    """The value of a ``keepdims=`` written as a constant (False when absent), else None."""
    v = bound.get(param)
    if v is None:
        return False
    return v.value if isinstance(v, gast.Constant) and isinstance(v.value, bool) else None


def _axis(bound):
    """The text of an ``axis=`` made of constants and names (``""`` when absent), else None."""
    v = bound.get("axis")
    if v is None:
        return ""
    if all(isinstance(n, (gast.Constant, gast.Name, gast.Tuple, gast.UnaryOp, gast.Load,
                          gast.USub)) for n in walk(v)):
        return gast.dump(v)
    return None


def _max_shift(s, callee_of, bind):
    """``(shift, a, axis)`` if ``s`` is ``shift = np.max(a, ...)`` of names (``keepdims=True``
    when an axis is given)."""
    if not (isinstance(s, gast.Assign) and len(s.targets) == 1
            and isinstance(s.targets[0], gast.Name)):
        return None
    bound = _call(s.value, "max", callee_of, bind, {"a", "axis", "keepdims"})
    if bound is None or not isinstance(bound.get("a"), gast.Name):
        return None
    shift, a = s.targets[0].id, bound["a"].id
    axis, keepdims = _axis(bound), _flag(bound, "keepdims")
    if shift == a or axis is None or keepdims is None or (axis != "") != keepdims \
            or _reads(bound.get("axis"), shift):
        return None     # (an axis without keepdims: the shift is not constant along it)
    return shift, a, axis


def _matches(lse, other, shift, callee_of, bind):
    """Whether ``lse + other`` is one of the module docstring's forms for ``shift``."""
    s, a, axis = shift
    log = _call(lse, "log", callee_of, bind, {"x"})
    total = log and _call(log.get("x"), "sum", callee_of, bind, {"a", "axis", "keepdims"})
    exp = total and _call(total.get("a"), "exp", callee_of, bind, {"x"})
    diff = exp and exp.get("x")
    if not (isinstance(diff, gast.BinOp) and isinstance(diff.op, gast.Sub)
            and _is_name(diff.left, a) and _is_name(diff.right, s)
            and _axis(total) == axis and _flag(total, "keepdims") is not None):
        return False
    if _is_name(other, s):      # + s: the sum kept its axes, or had none
        return _flag(total, "keepdims") or axis == ""
    squeeze = _call(other, "squeeze", callee_of, bind, {"a", "axis"})
    return squeeze is not None and axis != "" and not _flag(total, "keepdims") \
        and _is_name(squeeze.get("a"), s) and _axis(squeeze) == axis


def _reads(node, name):
    return node is not None and any(_is_name(n, name) for n in walk(node))


def _is_name(node, name):
    return isinstance(node, gast.Name) and node.id == name
