"""Simplifying generated code: what rules inline in general form, written for this function.

Rules are written for every case (``unbroadcast(g * y, x)`` works whatever
the shapes), so inlined code carries work that a specific function does not
need.  This pass removes it where it can prove the result unchanged:

- *shape classes*: variables certain to have the same shape (``y = np.sin(x)``
  has ``x``'s shape; ``y = y * 1.01 + 0.1 * x`` keeps it) share a class, and
  ``unbroadcast``/``broadcast_like`` between equal classes disappear.  A
  variable assigned once outside loops has one shape even when it cannot be
  named (``h = np.tanh(x @ w)``): it gets a class of its own, which the
  values computed from it (``1.0 - h ** 2``) share;
- an argument used only for its shape (``shape(a * b)``, the second argument
  of ``unbroadcast``) is replaced by a cheaper expression with the same shape,
  so nothing is recomputed just to learn its shape;
- algebra: ``e ** 1``, ``e * 1``, ``1 * e``, ``e / 1``, ``--e``.
"""

import copy
import itertools

import gast

from ..analysis.activity import callee_of, op_name, walk_stmts
from ..frontend.normalize import call, name
from ..rules import registry
from ..rules.template import RUNTIME_ALIAS, static_value

__all__ = ["ShapeClasses", "simplify"]

SCALAR = 0
UNKNOWN = -1

_ELEMENTWISE_OPS = {"add", "sub", "mult", "div", "pow", "mod"}
_REDUCTIONS = {"sum", "mean", "max", "min", "amax", "amin", "prod"}
# Functions that can turn complex values into real ones: where they occur, an
# adjoint's real part must be taken where ``unbroadcast`` takes it.
_KIND_CHANGING = {"abs", "absolute", "fabs", "real", "imag", "angle", "astype", "conj",
                  "conjugate", "norm"}
# Runtime helpers that use an argument only for its shape: {name: argument position}.
_SHAPE_ONLY = {"shape": 0, "ndim": 0, "size": 0, "unbroadcast": 1, "broadcast_like": 1,
               "reduce_vjp": 1}


class ShapeClasses:
    """Which variables of a function certainly have the same shape (flow-insensitive)."""

    def __init__(self, body, params, resolver, adjoints=None, same=None, scalars=()):
        self.resolver = resolver
        counter = itertools.count(1)
        self.cls = {p: SCALAR if p in scalars else next(counter) for p in params}
        for p, q in (same or {}).items():   # parameters known to have another's shape
            if p in self.cls and q in self.cls:
                self.cls[p] = self.cls[q]
        self._counter = counter
        self._own = {}
        self._stable = _assigned_once(body) - set(self.cls)
        defs = []
        for s in walk_stmts(body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                defs.append((s.targets[0].id, s.value))
            elif isinstance(s, gast.For):
                self.cls[s.target.id] = SCALAR
            elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                    and isinstance(s.targets[0].value, gast.Name):
                pass  # an in-place write keeps the array's shape
        changed = True
        while changed:
            changed = False
            for var, expr in defs:
                c = self.of(expr, pending=True)
                if c is None:
                    continue
                if var in self._stable:
                    # Assigned once, outside loops: its shape is one fact, whatever it is.
                    if c == UNKNOWN or isinstance(c, tuple):
                        c = self._own_class(var)
                    if self.cls.get(var) != c:
                        self.cls[var] = c
                        changed = True
                    continue
                if isinstance(c, tuple):
                    c = UNKNOWN  # another variable's current shape: not a fact about ``var``
                old = self.cls.get(var)
                if old is None or (old != c and old != UNKNOWN):
                    new = c if old is None else UNKNOWN
                    if new != old:
                        self.cls[var] = new
                        changed = True
        # A variable whose definitions disagree still has *a* shape at each point:
        # its own opaque class, shared with its adjoint and with expressions that
        # keep its shape (``err * 1.5``), but never passed on to other variables.
        for var, _ in defs:
            if self.cls.get(var, UNKNOWN) == UNKNOWN:
                self.cls[var] = self._own_class(var) if var in self._stable else ("shape of", var)
        self.complex_free = not _mentions_kind_change(body, resolver)
        self.adjoints = dict(adjoints or {})   # adjoint name -> primal name

    def _own_class(self, var):
        """A class of its own for a variable assigned once outside loops (made once)."""
        if var not in self._own:
            self._own[var] = next(self._counter)
        return self._own[var]

    def of(self, node, pending=False):
        """The class of an expression: an int, ``SCALAR``, ``UNKNOWN`` (or None while pending)."""
        if isinstance(node, gast.Name):
            if node.id in self.cls:
                return self.cls[node.id]
            primal = self.adjoints.get(node.id) if hasattr(self, "adjoints") else None
            if primal is not None:
                return self.cls.get(primal, UNKNOWN)
            return None if pending else UNKNOWN
        if isinstance(node, gast.Constant):
            return SCALAR if isinstance(node.value, (int, float)) else UNKNOWN
        if isinstance(node, gast.UnaryOp):
            if isinstance(node.op, (gast.USub, gast.UAdd)):
                return self.of(node.operand, pending)
            return UNKNOWN
        if isinstance(node, gast.BinOp):
            if op_name(node.op) in _ELEMENTWISE_OPS:
                return self._broadcast(self.of(node.left, pending), self.of(node.right, pending))
            return UNKNOWN
        if isinstance(node, gast.Call):
            return self._call(node, pending)
        if isinstance(node, (gast.Attribute, gast.Subscript)) and _pure_chain(node):
            # ``model.W`` has one shape wherever it appears in one statement.
            from ..codegen import to_source
            return ("shape of", to_source(node))
        return UNKNOWN

    def _broadcast(self, a, b):
        if a is None or b is None:
            return None
        if a == b:
            return a
        if a == SCALAR:
            return b
        if b == SCALAR:
            return a
        return UNKNOWN

    def _call(self, node, pending):
        f = node.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
                and f.value.id == RUNTIME_ALIAS:
            if f.attr in ("unbroadcast", "broadcast_like", "zeros_like", "reduce_vjp") \
                    and len(node.args) >= 2 - (f.attr == "zeros_like"):
                return self.of(node.args[1 if f.attr != "zeros_like" else 0], pending)
            if f.attr in ("ones_like", "copy") and len(node.args) == 1:
                return self.of(node.args[0], pending)
            if f.attr == "seed" and len(node.args) == 2:
                return self.of(node.args[1], pending)   # the output's cotangent, or 1 for a scalar
            return UNKNOWN
        if isinstance(f, gast.Attribute) and f.attr == "broadcast_to" and len(node.args) == 2:
            shape = node.args[1]
            if isinstance(shape, gast.Call) and isinstance(shape.func, gast.Attribute) \
                    and shape.func.attr == "shape" and shape.args:
                return self.of(shape.args[0], pending)
            return UNKNOWN
        if self.resolver is None:
            return UNKNOWN
        try:
            callee = callee_of(node, self.resolver)
        except Exception:
            return UNKNOWN
        prim = callee.prim
        if callee.kind not in ("primitive", "method", "nondiff") or prim is None:
            return UNKNOWN
        args = ([callee.receiver] if callee.kind == "method" else []) + list(node.args)
        if prim.elementwise == 1 and len(args) == 1 and not node.keywords:
            return self.of(args[0], pending)
        if prim.elementwise == 2 and len(args) == 2 and not node.keywords:
            return self._broadcast(self.of(args[0], pending), self.of(args[1], pending))
        if prim.name in _REDUCTIONS and len(args) == 1 and not node.keywords \
                and prim.family != "builtins":     # (sum of a list of arrays is an array)
            return SCALAR
        return UNKNOWN

    def scalars(self, stmts):
        """The variables of ``stmts`` certain to hold a scalar wherever they are assigned.

        Variables the classes do not know yet (made after they were built, by
        the sharing pass) get the class of their definitions, as in ``__init__``.
        """
        probe = copy.copy(self)
        probe.cls = dict(self.cls)
        defs, other = [], set()
        for s in walk_stmts(stmts):
            targets = [s.target] if isinstance(s, gast.For) else \
                s.targets if isinstance(s, gast.Assign) else []
            for t in targets:
                if isinstance(t, gast.Name) and isinstance(s, gast.Assign):
                    if t.id not in self.cls and t.id not in self.adjoints:
                        defs.append((t.id, s.value))
                    continue
                other |= {n.id for n in gast.walk(t)
                          if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        changed = True
        while changed:
            changed = False
            for var, expr in defs:
                c = probe.of(expr, pending=True)
                old = probe.cls.get(var)
                if c is None or old == UNKNOWN or old == c:
                    continue
                probe.cls[var] = c if old is None else UNKNOWN
                changed = True
        assigned = {t.id for s in walk_stmts(stmts) if isinstance(s, gast.Assign)
                    for t in s.targets if isinstance(t, gast.Name)}
        return {v for v in assigned - other
                if probe.cls.get(v, probe.cls.get(self.adjoints.get(v))) == SCALAR}

    def same(self, a, b):
        ca, cb = self.of(a), self.of(b)
        return ca == cb and ca not in (UNKNOWN, None)


def _assigned_once(body):
    """Variables assigned by exactly one plain ``v = ...`` that is not inside a loop.

    Such a variable has one value, and so one shape, wherever it is defined:
    a class of its own is a fact that other variables' classes may build on.
    """
    stores = {}
    plain = set()

    def visit(stmts, in_loop):
        for s in stmts:
            compound = isinstance(s, (gast.If, gast.For, gast.While))
            heads = [getattr(s, f) for f in ("target", "iter", "test") if hasattr(s, f)] \
                if compound else [s]
            for n in (n for h in heads for n in gast.walk(h)):
                if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    stores[n.id] = stores.get(n.id, 0) + 1
            if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                    and isinstance(s.targets[0], gast.Name) and not in_loop:
                plain.add(s.targets[0].id)
            if compound:
                loop = in_loop or not isinstance(s, gast.If)
                visit(s.body, loop)
                visit(s.orelse, loop)
    visit(body, False)
    return {v for v in plain if stores.get(v) == 1}


def _pure_chain(node):
    while isinstance(node, (gast.Attribute, gast.Subscript)):
        if isinstance(node, gast.Subscript) and any(isinstance(n, gast.Call)
                                                    for n in gast.walk(node.slice)):
            return False
        node = node.value
    return isinstance(node, gast.Name)


def _mentions_kind_change(body, resolver):
    for s in walk_stmts(body):
        for n in gast.walk(s):
            if isinstance(n, gast.Constant) and isinstance(n.value, complex):
                return True
            if isinstance(n, gast.Attribute) and n.attr in _KIND_CHANGING:
                return True
            if isinstance(n, gast.Name) and n.id in ("abs", "complex"):
                return True
            if isinstance(n, gast.Call) and resolver is not None:
                try:
                    callee = callee_of(n, resolver)
                except Exception:
                    continue
                prim = callee.prim
                if prim is not None and (prim.name in _KIND_CHANGING or prim.name.startswith("fft.")):
                    return True
    return False


# ---------------------------------------------------------------------------
# The rewriting pass
# ---------------------------------------------------------------------------

def simplify(stmts, shapes):
    """Simplify generated statements in place (and return them)."""
    _simplify_statements(stmts, shapes)
    return _drop_self_assignments(stmts)


def _drop_self_assignments(stmts):
    """Remove ``a = a`` (what is left of an update that simplified to nothing)."""
    out = []
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and isinstance(s.value, gast.Name) and s.value.id == s.targets[0].id \
                and not hasattr(s, "s2s_restore"):
            continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _drop_self_assignments(s.body) or [gast.Pass()]
            s.orelse = _drop_self_assignments(s.orelse)
        out.append(s)
    return out


def _simplify_statements(stmts, shapes):
    written = _written_in_place(stmts)
    for s in walk_stmts(stmts):
        for field, value in gast.iter_fields(s):
            if isinstance(value, gast.expr):
                setattr(s, field, _simplify(value, shapes))
            elif isinstance(value, list) and value and isinstance(value[0], gast.expr):
                setattr(s, field, [_simplify(v, shapes) for v in value])
            if field == "value" and isinstance(s, gast.Assign) and value is not s.value \
                    and isinstance(s.value, gast.Name) and isinstance(s.targets[0], gast.Name) \
                    and s.targets[0].id in written:
                # ``y = x * 1.0`` then ``y[i] = ...``: ``y = x`` would write into x's array.
                s.value = call(gast.Attribute(value=name(RUNTIME_ALIAS), attr="copy",
                                              ctx=gast.Load()), [s.value])
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and s.targets[0].id not in shapes.cls and s.targets[0].id not in shapes.adjoints:
            shapes.cls[s.targets[0].id] = shapes.of(s.value)
    return stmts


def _written_in_place(stmts):
    """Names whose array some statement of ``stmts`` writes into (``y[i] = ...``)."""
    out = set()
    for s in walk_stmts(stmts):
        if isinstance(s, gast.Assign):
            base = s.targets[0]
            while isinstance(base, (gast.Subscript, gast.Attribute)):
                base = base.value
            if base is not s.targets[0] and isinstance(base, gast.Name):
                out.add(base.id)
    return out


def _simplify(node, shapes):
    for field, value in gast.iter_fields(node):
        if isinstance(value, gast.expr):
            setattr(node, field, _simplify(value, shapes))
        elif isinstance(value, list):
            setattr(node, field, [_simplify(v, shapes) if isinstance(v, gast.expr) else
                                  _simplify_keyword(v, shapes) if isinstance(v, gast.keyword) else v
                                  for v in value])
    if isinstance(node, gast.BinOp):
        return _algebra(node)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) \
            and isinstance(node.operand, gast.UnaryOp) and isinstance(node.operand.op, gast.USub):
        return node.operand.operand
    if isinstance(node, gast.Call):
        return _runtime_call(node, shapes)
    return node


def _simplify_keyword(kw, shapes):
    kw.value = _simplify(kw.value, shapes)
    return kw


def _is_const(node, value):
    ok, v = static_value(node)
    return ok and not isinstance(v, bool) and isinstance(v, (int, float)) and v == value


def _algebra(node):
    op = node.op
    if isinstance(op, gast.Pow) and _is_const(node.right, 1):
        return node.left
    if isinstance(op, gast.Mult):
        if _is_const(node.right, 1):
            return node.left
        if _is_const(node.left, 1):
            return node.right
    if isinstance(op, gast.Div) and _is_const(node.right, 1):
        return node.left
    if isinstance(op, (gast.Add, gast.Sub)) and _is_const(node.right, 0):
        return node.left
    if isinstance(op, gast.Add) and _is_const(node.left, 0):
        return node.right
    return node


def _runtime_call(node, shapes):
    f = node.func
    if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name)):
        return node
    if f.value.id == RUNTIME_ALIAS and f.attr in _SHAPE_ONLY:
        k = _SHAPE_ONLY[f.attr]
        if len(node.args) > k:
            keep_kind = f.attr in ("unbroadcast", "broadcast_like")
            node.args[k] = _shape_proxy(node.args[k], shapes, keep_kind)
        if f.attr in ("unbroadcast", "broadcast_like") and len(node.args) == 2 \
                and shapes.complex_free and shapes.same(node.args[0], node.args[1]):
            return node.args[0]
    if f.attr == "broadcast_to" and len(node.args) == 2:
        shape = node.args[1]
        if isinstance(shape, gast.Call) and isinstance(shape.func, gast.Attribute) \
                and shape.func.attr == "shape" and shape.args \
                and shapes.same(node.args[0], shape.args[0]):
            return node.args[0]
    return node


def _shape_proxy(node, shapes, keep_kind=False):
    """A cheaper expression certain to have the shape of ``node``.

    With ``keep_kind``, the proxy must also be real exactly when ``node`` is
    (``unbroadcast`` takes the real part for a real reference).
    """
    if isinstance(node, (gast.Name, gast.Constant)):
        return node
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, (gast.USub, gast.UAdd)):
        return _shape_proxy(node.operand, shapes, keep_kind)
    if isinstance(node, gast.BinOp) and op_name(node.op) in _ELEMENTWISE_OPS:
        if keep_kind and not shapes.complex_free:
            return node
        return _pick(node.left, node.right, node, shapes)
    if isinstance(node, gast.Call) and shapes.resolver is not None:
        try:
            callee = callee_of(node, shapes.resolver)
        except Exception:
            return node
        prim = callee.prim
        if prim is None or node.keywords:
            return node
        if keep_kind and (prim.name in _KIND_CHANGING or not shapes.complex_free):
            return node
        args = ([callee.receiver] if callee.kind == "method" else []) + list(node.args)
        if prim.elementwise == 1 and len(args) == 1:
            return _shape_proxy(args[0], shapes, keep_kind)
        if prim.elementwise == 2 and len(args) == 2:
            return _pick(args[0], args[1], node, shapes)
    return node


def _pick(a, b, whole, shapes):
    """The operand of a broadcasting ``a op b`` whose shape is the result's, if one is known to be."""
    ca, cb = shapes.of(a), shapes.of(b)
    if cb == SCALAR:
        return _shape_proxy(a, shapes)      # a scalar never enlarges the other operand
    if ca == SCALAR:
        return _shape_proxy(b, shapes)
    if ca == cb and ca not in (UNKNOWN, None):
        return _shape_proxy(a, shapes)
    return whole
