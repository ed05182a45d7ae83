"""Loop-invariant expressions computed once, before their loop.

In::

    for _ in range(depth):
        p_out = x * p_out + np.sin(x)

``np.sin(x)`` has the same value on every trip (nothing in the loop assigns ``x``), so it
is computed once, before the loop, as a person would write it::

    if depth > 0:
        sin_x = np.sin(x)
        for _ in range(depth):
            p_out = x * p_out + sin_x

Its derivative is then computed once too: in forward mode ``np.cos(x)`` leaves the loop, in
reverse mode the loop neither tapes ``np.sin(x)`` nor differentiates it on every trip.

What moves: a largest expression that holds a call, in a statement every trip runs, made of
elementwise functions of an array library (``prim.elementwise``), ``+``, ``-``, ``*`` and
unary ``-``, over names the loop does not assign (and that every path to the loop binds) and
constants.  It has the value it would have had on every trip, and is computed only when the
loop runs a trip: the loop and what leaves it are put under ``if n > 0:`` (``range(n)``), the
loop's test (``while``) or ``if range(a, b):``; a loop over anything else keeps its
expressions.  A loop that runs no trip so computes nothing, as before: no error nor warning
from an expression it would not have evaluated, and no derivative of it (a zero cotangent
times ``np.sqrt``'s infinite derivative at 0 would be NaN).  A loop that writes into an
object (an item or an attribute), or calls anything but a primitive, keeps everything in
place: such a write could change what a name the loop does not assign refers to.  An
augmented assignment ``y += v`` (in place for an array) makes every name that may share
``y``'s object (``_sharing``) variant.
"""

import gast

from ..syntax import assign, const, copy_tree, name, walk, walk_stmts

__all__ = ["hoist"]

_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult)


def hoist(body, namer, resolver, params=()):
    """``body`` (lowered statements of a function with parameters ``params``) with each
    loop's invariant expressions hoisted."""
    if not any(isinstance(s, (gast.For, gast.While)) for s in walk_stmts(body)):
        return body                     # (no loop: nothing to look at)
    local = set(params) | {n.id for s in body for n in walk(s) if _binds(n)}
    return _Hoisting(namer, resolver, _sharing(body, params), local).block(body, set(params))


def _binds(n):
    return isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))


def _sharing(body, params):
    """A function from a name to its class: names that may hold the same object (or views
    of one) have one class, found flow-insensitively.  ``a = b``, ``a = b[i]``, ``a = b.T``, ``a = f(b)``, ``a.x = b`` put ``a`` and
    ``b`` in one class; a value an operator or an elementwise function makes is new.  The
    parameters are one class (a caller may pass one array twice)."""
    parent = {}

    def find(a):
        parent.setdefault(a, a)
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a, b):
        parent[find(a)] = find(b)

    for p in params[1:]:
        union(p, params[0])
    for s in body:
        for n in walk(s):
            if not isinstance(n, gast.Assign) or _new_value(n.value):
                continue
            target = n.targets[0]
            while isinstance(target, (gast.Subscript, gast.Attribute)):
                target = target.value
            if not isinstance(target, gast.Name):
                continue
            for r in walk(n.value):
                if isinstance(r, gast.Name) and isinstance(r.ctx, gast.Load):
                    union(target.id, r.id)
    return find


def _new_value(value):
    """Whether ``value`` is an object no name held before (an operator's result, a number)."""
    if isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Compare, gast.Constant)):
        return True
    if isinstance(value, gast.Call):
        prim = getattr(getattr(value, "s2s_callee", None), "prim", None)
        return prim is not None and prim.family == "array" and bool(prim.elementwise)
    return False


class _Hoisting:
    def __init__(self, namer, resolver, sharing, local):
        self.namer = namer
        self.resolver = resolver
        self.sharing = sharing
        self.local = local              # the names the function binds (and its parameters)

    def block(self, stmts, bound):
        """``stmts`` with their loops' invariants hoisted; ``bound`` (the local names bound
        on every path to ``stmts``) becomes the names bound on every path past them."""
        out = []
        for s in stmts:
            if isinstance(s, gast.If):
                then, orelse = set(bound), set(bound)
                s.body, s.orelse = self.block(s.body, then), self.block(s.orelse, orelse)
                bound |= then & orelse
            elif isinstance(s, (gast.For, gast.While)):
                inner = set(bound)
                if isinstance(s, gast.For):
                    inner |= {n.id for n in walk(s.target) if _binds(n)}
                s.body = self.block(s.body, inner)   # inner loops first
                out.extend(self.loop(s, bound))
                continue
            elif isinstance(s, gast.Assign):
                bound |= {n.id for t in s.targets for n in walk(t) if _binds(n)}
            out.append(s)
        return out

    def callee(self, node):
        callee = getattr(node, "s2s_callee", None)
        if callee is None:
            callee = node.s2s_callee = self.resolver.callee(node)
        return callee

    def loop(self, loop, bound):
        if loop.orelse:
            return [loop]
        guard = _guard(loop)
        if guard is None:
            return [loop]
        assigned = set()
        written = set()                 # the classes of the objects written in place
        for n in walk(loop):
            if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                assigned.add(n.id)
            elif isinstance(n, (gast.Subscript, gast.Attribute)) \
                    and not isinstance(n.ctx, gast.Load):
                return [loop]           # a write into an object
            elif isinstance(n, gast.Assign) \
                    and any(isinstance(t, (gast.Subscript, gast.Attribute)) for t in n.targets):
                return [loop]           # the same, made by the lowering (``np.copyto(a, v)``)
            elif isinstance(n, gast.Assign) and getattr(n, "s2s_augmented", False):
                written.add(self.sharing(n.targets[0].id))   # ``y += v``: in place for an array
            elif isinstance(n, gast.Call):
                callee = self.callee(n)
                if callee.kind not in ("primitive", "nondiff") or callee.prim is None \
                        or callee.prim.family in ("method", "s2sgrad.runtime") \
                        or getattr(n, "s2s_writes", None) \
                        or any(k.arg == "out" for k in n.keywords) \
                        or callee.prim.elementwise and len(n.args) > callee.prim.elementwise:
                    # (an argument past a ufunc's inputs is its out, np.multiply(y, 2.0, y))
                    if not (isinstance(n.func, gast.Name) and n.func.id in ("range", "len")):
                        return [loop]
        # a name that may share its object with one written in place is not invariant
        self.assigned = assigned | {v for v in _names(loop) if self.sharing(v) in written}
        # a local name some path to the loop does not bind is read on its trips only: it
        # stays there (a loop that runs no trip must not read it)
        self.assigned |= self.local - bound
        self.names = {}                 # ast dump of an expression -> its hoisted name
        before = []
        kept = []
        for s in loop.body:
            if getattr(s, "s2s_hoisted", False) and self.invariant(s.value):
                before.append(s)        # an inner loop's hoisted value, invariant here too
                continue
            self.statement(s, before)
            kept.append(s)
        loop.body = kept or [gast.Pass()]
        if not before or guard is True:
            return before + [loop]
        # computed only when the loop runs a trip: a loop that runs none computes nothing
        # (np.sqrt(x) at 0 would give its derivative, infinite, times a zero cotangent)
        guarded = gast.If(test=guard, body=before + [loop], orelse=[])
        for attr in ("lineno", "col_offset", "s2s_line"):
            if hasattr(loop, attr):
                setattr(guarded, attr, getattr(loop, attr))
        return [guarded]

    def statement(self, s, before):
        # only statements every trip runs (the lowered body's own; a ``break`` is a flag
        # tested at its end)
        if isinstance(s, gast.Assign):
            s.value = self.expression(s.value, s, before)

    def expression(self, node, stmt, before):
        if self.invariant(node) and any(isinstance(n, gast.Call) for n in walk(node)):
            key = gast.dump(node)
            hoisted = self.names.get(key)
            if hoisted is None:
                hoisted = self.names[key] = self.namer.fresh(_name_for(node))
                moved = assign(hoisted, node, getattr(stmt, "s2s_line", None))
                moved.s2s_hoisted = True
                before.append(moved)
            return name(hoisted)
        for field, value in gast.iter_fields(node):
            if isinstance(value, gast.expr):
                setattr(node, field, self.expression(value, stmt, before))
            elif isinstance(value, list):
                value[:] = [self.expression(v, stmt, before) if isinstance(v, gast.expr) else v
                            for v in value]
        return node

    def invariant(self, node):
        if isinstance(node, gast.Constant):
            return True
        if isinstance(node, gast.Name):
            return node.id not in self.assigned
        if isinstance(node, gast.UnaryOp):
            return isinstance(node.op, gast.USub) and self.invariant(node.operand)
        if isinstance(node, gast.BinOp):
            return isinstance(node.op, _ARITHMETIC) and self.invariant(node.left) \
                and self.invariant(node.right)
        if isinstance(node, gast.Call):
            if node.keywords or any(isinstance(a, gast.Starred) for a in node.args):
                return False
            prim = self.callee(node).prim
            return prim is not None and prim.family == "array" and prim.elementwise \
                and len(node.args) == prim.elementwise \
                and all(self.invariant(a) for a in node.args)
        return False


def _guard(loop):
    """An expression true when ``loop`` runs at least one trip (``True`` when it always
    does), or ``None`` when there is none to write (an iterable that is not a ``range``)."""
    if isinstance(loop, gast.While):
        test = loop.test
        if isinstance(test, gast.Constant):
            return True if test.value else None
        return copy_tree(test) if _evaluable_twice(test) else None
    it = loop.iter
    if not (isinstance(it, gast.Call) and isinstance(it.func, gast.Name) and it.func.id == "range"
            and not it.keywords and 1 <= len(it.args) <= 3
            and all(_evaluable_twice(a) for a in it.args)):
        return None
    if len(it.args) == 1:
        count = it.args[0]
        if isinstance(count, gast.Constant) and type(count.value) is int:
            return True if count.value > 0 else None
        return gast.Compare(left=copy_tree(count), ops=[gast.Gt()], comparators=[const(0)])
    return copy_tree(it)            # a range is true when it is not empty


def _evaluable_twice(node):
    """Whether evaluating ``node`` once more changes nothing: no call but ``len`` (a random
    draw in a loop's test would draw once more)."""
    return not any(isinstance(n, gast.Starred) or isinstance(n, gast.Call) and not (
        isinstance(n.func, gast.Name) and n.func.id == "len") for n in walk(node))


def _names(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name)}


def _name_for(node):
    """``sin_x`` for ``np.sin(x)``, ``sin_exp`` for ``np.sin(x) * np.exp(x)``."""
    funcs = [n.func.attr if isinstance(n.func, gast.Attribute) else n.func.id
             for n in walk(node) if isinstance(n, gast.Call)
             and isinstance(n.func, (gast.Attribute, gast.Name))]
    if isinstance(node, gast.Call) and len(node.args) == 1 \
            and isinstance(node.args[0], gast.Name) and funcs:
        return f"{funcs[0]}_{node.args[0].id}"
    return "_".join(funcs[:3]) or "invariant"
