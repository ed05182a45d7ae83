"""Linear recursion written as a loop.

A function that calls itself once, on a counter stepped toward a base case, with every
other argument passed through unchanged::

    def p(x, n):
        if n == 0:
            return 1.0
        return x * p(x, n - 1) + np.sin(x)

is the loop a person writes for it::

    depth = _rt.recursion_depth(n, 0, 1, "==")      # one trip per level above the base case
    p_out = 1.0
    for _ in range(depth):
        p_out = x * p_out + np.sin(x)
    return p_out

The loop computes the same values in the same order of levels, without a call (and, in the
derivative, without a tape or a frame) per level, and what does not change from level to
level can then be hoisted out of it (``frontend/hoist.py``).  The runtime helper finds the
depth as the recursion would, and raises ``RecursionError`` where the recursion would
never reach its base case or only deeper than the recursion limit.

Only a function whose base test, base value and recursive expression are pure (names,
constants, operators, primitives of an array library; no other user call, no method, no
random draw) is rewritten, so evaluating the levels' tests first and their expressions
after changes nothing; any other recursion stays a recursion, differentiated call by call.
"""

import gast

from ..syntax import assign, call, const, name, replace, store, walk
from .resolve import ARRAY_WRITING_FUNCTIONS, LIBRARY_ROOTS

__all__ = ["as_loop"]

# base test (counter on the left, a constant int on the right) -> the helper's test
_BASE = {gast.Eq: "==", gast.LtE: "<=", gast.Lt: "<"}
# the same test with its operands swapped (``0 == n``, ``1 > n``)
_SWAPPED = {gast.Eq: "==", gast.GtE: "<=", gast.Gt: "<"}
# the negation of a test, for ``if n != 0: return <recursive>``
_NEGATED = {gast.NotEq: "==", gast.Gt: "<=", gast.GtE: "<"}
_NEGATED_SWAPPED = {gast.NotEq: "==", gast.Lt: "<=", gast.LtE: "<"}

_PURE_NODES = (gast.Name, gast.Constant, gast.BinOp, gast.UnaryOp, gast.Compare, gast.BoolOp,
               gast.IfExp, gast.Subscript, gast.Attribute, gast.Tuple, gast.List, gast.Slice,
               gast.Call, gast.keyword, gast.expr_context, gast.operator, gast.unaryop,
               gast.cmpop, gast.boolop)


def as_loop(fsrc, body, params, resolver, namer, runtime_call):
    """``body`` (a function's statements, docstring removed) as a loop, when it is a linear
    recursion this module can rewrite; else ``None``.  ``runtime_call(helper, args)`` makes
    the call of a runtime helper."""
    fn = fsrc.fn
    if fn is None or fsrc.self_value is not None or getattr(fsrc, "has_self", False):
        return None
    split = _branches(body)
    if split is None:
        return None
    test, then, orelse, lines = split

    def is_self(node):
        if not (isinstance(node, gast.Call) and isinstance(node.func, gast.Name)):
            return False
        ok, value = resolver.static_value(node.func)
        return ok and value is fn

    calls = [[n for n in walk(e) if is_self(n)] for e in (test, then, orelse)]
    if calls[0]:
        return None
    if len(calls[1]) == 1 and not calls[2]:
        recursive, base, base_when_true = then, orelse, False
        recursive_line, base_line = lines[1], lines[2]
    elif len(calls[2]) == 1 and not calls[1]:
        recursive, base, base_when_true = orelse, then, True
        recursive_line, base_line = lines[2], lines[1]
    else:
        return None
    self_call = (calls[1] or calls[2])[0]
    counter = _counter(self_call, params)
    if counter is None:
        return None
    v, step = counter
    stop_test = _base_test(test, v, base_when_true)
    if stop_test is None:
        return None
    stop, how = stop_test
    if not (_pure(test, resolver, self_call) and _pure(base, resolver, self_call)
            and _pure(recursive, resolver, self_call) and _unconditional(recursive, self_call)):
        return None
    if any(isinstance(n, gast.Name) and n.id == v for n in walk(base)):
        return None         # the base value reads the counter: left a recursion
    # the loop stands for the calls of the function the name holds now: the caches check that
    # it still does (rebinding the name makes the recursion call another function)
    resolver.reads.add((self_call.func.id, ()))
    out_name = namer.fresh((fn.__name__ if fn.__name__.isidentifier() else "recursion") + "_out")
    if recursive is self_call:          # ``return p(x, n - 1)``: the call is all of it
        step_value = name(out_name)
    else:
        replace(recursive, self_call, name(out_name))
        step_value = recursive
    uses_counter = any(isinstance(n, gast.Name) and n.id == v for n in walk(step_value))
    args = [name(v), const(stop), const(step), const(how)]
    out = []
    if uses_counter:
        levels = namer.fresh("levels")
        out.append(_at(assign(levels, runtime_call("recursion_levels", args)), lines[0]))
        loop_target, header = store(v), name(levels)
    else:
        depth = namer.fresh("depth")
        out.append(_at(assign(depth, runtime_call("recursion_depth", args)), lines[0]))
        # ``_`` unless the function reads or binds that name (a global ``_``, gettext's)
        level = "_" if "_" not in params and not _mentions(body, "_") else namer.fresh("level")
        loop_target, header = store(level), call("range", [name(depth)])
    out.append(_at(assign(out_name, base), base_line))
    loop = gast.For(target=loop_target, iter=header,
                    body=[_at(assign(out_name, step_value), recursive_line)],
                    orelse=[], type_comment=None)
    out.append(_at(loop, recursive_line))
    out.append(_at(gast.Return(value=name(out_name)), recursive_line))
    return out


def _mentions(body, ident):
    return any(isinstance(n, gast.Name) and n.id == ident for s in body for n in walk(s))


def _at(node, line):
    node.lineno = line
    node.col_offset = 0
    return node


def _branches(body):
    """``(test, then, orelse, (test line, then line, orelse line))`` of a body that is one
    two-way choice between returned expressions, else None."""
    if len(body) == 2 and isinstance(body[0], gast.If) and not body[0].orelse \
            and _returns(body[0].body) is not None and isinstance(body[1], gast.Return):
        first, second = body
        then = _returns(first.body)
        return first.test, then, second.value, (first.lineno, first.body[0].lineno, second.lineno)
    if len(body) == 1 and isinstance(body[0], gast.If):
        then, orelse = _returns(body[0].body), _returns(body[0].orelse)
        if then is not None and orelse is not None:
            return body[0].test, then, orelse, (body[0].lineno, body[0].body[0].lineno,
                                                body[0].orelse[0].lineno)
    if len(body) == 1 and isinstance(body[0], gast.Return) \
            and isinstance(body[0].value, gast.IfExp):
        e, line = body[0].value, body[0].lineno
        return e.test, e.body, e.orelse, (line, line, line)
    return None


def _returns(block):
    if len(block) == 1 and isinstance(block[0], gast.Return) and block[0].value is not None:
        return block[0].value
    return None


def _counter(self_call, params):
    """``(counter, step)`` when the call passes every parameter through unchanged but one,
    the counter, passed as ``counter - step`` for a positive int constant ``step``."""
    if self_call.keywords or len(self_call.args) != len(params):
        return None
    found = None
    for p, a in zip(params, self_call.args):
        if isinstance(a, gast.Name) and a.id == p:
            continue
        if found is not None or not (isinstance(a, gast.BinOp) and isinstance(a.op, gast.Sub)
                                     and isinstance(a.left, gast.Name) and a.left.id == p
                                     and _int_constant(a.right) and a.right.value > 0):
            return None
        found = (p, a.right.value)
    return found


def _int_constant(node):
    return isinstance(node, gast.Constant) and type(node.value) is int


def _base_test(test, v, base_when_true):
    """``(stop, how)`` of a base test comparing the counter with an int constant."""
    if not (isinstance(test, gast.Compare) and len(test.ops) == 1):
        return None
    left, op, right = test.left, type(test.ops[0]), test.comparators[0]
    if isinstance(left, gast.Name) and left.id == v and _int_constant(right):
        table, stop = (_BASE if base_when_true else _NEGATED), right.value
    elif isinstance(right, gast.Name) and right.id == v and _int_constant(left):
        table, stop = (_SWAPPED if base_when_true else _NEGATED_SWAPPED), left.value
    else:
        return None
    how = table.get(op)
    return None if how is None else (stop, how)


def _pure(expr, resolver, self_call):
    """Whether evaluating ``expr`` (the one recursive call aside) has no effect but its
    value, so that the levels may be evaluated in another order."""
    for n in walk(expr):
        if not isinstance(n, _PURE_NODES):
            return False
        if isinstance(n, (gast.Name, gast.Subscript, gast.Attribute)) \
                and not isinstance(n.ctx, gast.Load):
            return False
        if isinstance(n, gast.Call) and n is not self_call:
            callee = resolver.callee(n)
            if callee.kind not in ("primitive", "nondiff") or callee.prim is None \
                    or callee.prim.family == "method":
                return False
            ok, value = resolver.static_value(n.func)
            module = getattr(value, "__module__", None) or ""
            if not ok or module.split(".")[0] not in LIBRARY_ROOTS or "random" in module \
                    or getattr(value, "__name__", None) in ARRAY_WRITING_FUNCTIONS:
                return False        # (a write into an argument, a random draw: not pure)
    return True


def _unconditional(expr, self_call):
    """Whether ``self_call`` is evaluated whenever ``expr`` is (not under a short-circuit
    or a conditional expression)."""
    todo = [expr]
    while todo:
        n = todo.pop()
        if n is self_call:
            return True
        if isinstance(n, (gast.BoolOp, gast.IfExp)) \
                or isinstance(n, gast.Compare) and len(n.ops) > 1:
            continue
        todo.extend(gast.iter_child_nodes(n))
    return False
