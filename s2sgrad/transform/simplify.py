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
- algebra: ``e ** 1``, ``e * 1``, ``1 * e``, ``e / 1``, ``--e``, ``y += -e`` as ``y -= e``;
- in code specialized to a signature (``ShapeClasses.specialize``), the facts
  of ``analysis.shapes`` (each value's kind, dtype, rank and which axes have
  length 1) decide the shape helpers where they can: ``unbroadcast(g, x)``
  becomes ``g``, ``np.sum(g, axis=0)`` or ``np.real(g)``; a matrix product's
  adjoints ``g @ w.T`` and ``x.T @ g``; ``zeros_like`` of a float ``0.0``; a
  cotangent spread over an array that the product it is in has anyway, the
  plain scalar; and values recomputed only for their shape are not.  Then,
  statement by statement (``simplify``): branches the facts decide, proven
  ``check_scalar`` calls, values named only for their shape, a constant spread
  over a shape folded into the products it scales, a cotangent summed over a
  matrix product's rows summed before it, ``-np.sum(e)`` for ``np.sum(-e)``, a
  container's adjoint built whole rather than added into zeros.  Where the
  facts do not decide, the general code stays.
"""

import copy
import itertools

import gast
import numpy as np

from ..analysis.activity import callee_of, is_runtime_call, op_name, walk_stmts
from ..analysis.shapes import Shapes
from ..frontend.normalize import assign, call, const, name
from ..rules.template import RUNTIME_ALIAS, static_value
from ..rules.shapes import dims_of as _dims
from ..signature import MANY, ONE
from ..syntax import blocks as _blocks, drop_stmts, read_count as _read_count, reads as _reads, \
    replace as _replace, store_counts as _store_counts, stores as _stores, walk as _walk

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
                # ``for i in range(n)`` counts; ``for x in xs`` takes rows (of any shape)
                it = s.iter
                counts = isinstance(it, gast.Call) and isinstance(it.func, gast.Name) \
                    and it.func.id == "range"
                for n in _walk(s.target):
                    if isinstance(n, gast.Name):
                        self.cls[n.id] = SCALAR if counts else UNKNOWN
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
        # Only where every definition that reads it keeps its shape: the backward sweep
        # puts earlier values back (``h = _tape.pop()``) while the adjoint is still the
        # later value's, and after ``h = np.tanh(h + x)`` or ``total = total + w`` that
        # may have been broadcast to a larger shape (unknown here).
        for var, _ in defs:
            if self.cls.get(var, UNKNOWN) == UNKNOWN:
                if var in self._stable:
                    self.cls[var] = self._own_class(var)
                elif self._keeps_own_shape(var, body):
                    self.cls[var] = ("shape of", var)
        self.complex_free = not _mentions_kind_change(body, resolver)
        self.adjoints = dict(adjoints or {})   # adjoint name -> primal name
        self.abstract = None        # {parameter: Abstract} in code specialized to a signature
        self.facts = None           # analysis.shapes.Shapes of the statements being simplified
        self.last_facts = None      # those of the last simplify (its primal values' too)

    def _keeps_own_shape(self, var, body):
        """Whether each definition of ``var`` that reads ``var`` gives it its shape again
        (``h = np.tanh(h) + 0.5 * h``, planned as ``h_tanh = np.tanh(h)`` just before:
        the statements just before it that do not bind ``var`` count with the shapes
        they had there)."""
        own = ("shape of", var)
        saved = dict(self.cls)
        try:
            for block in _blocks(body):
                for k, st in enumerate(block):
                    if not (isinstance(st, gast.Assign) and len(st.targets) == 1
                            and isinstance(st.targets[0], gast.Name) and st.targets[0].id == var
                            and any(isinstance(n, gast.Name) and n.id == var
                                    for n in _walk(st.value))):
                        continue
                    self.cls = dict(saved)
                    self.cls[var] = own
                    j = k
                    while j > 0 and isinstance(block[j - 1], gast.Assign) \
                            and len(block[j - 1].targets) == 1 \
                            and isinstance(block[j - 1].targets[0], gast.Name) \
                            and block[j - 1].targets[0].id != var:
                        j -= 1
                    for prev in block[j:k]:
                        c = self.of(prev.value)
                        self.cls[prev.targets[0].id] = c if c is not None else UNKNOWN
                    if self.of(st.value) != own:
                        return False
            return True
        finally:
            self.cls = saved

    def specialize(self, body, params, abstract, seeds=None, numpy_name=None, calls=None):
        """Let the facts of ``analysis.shapes`` decide, from the parameters' abstract values.

        ``body``: the function's statements the simplified ones come after (their
        values are the primal's); ``seeds``: {cotangent parameter: its primal};
        ``numpy_name()``: the name of NumPy in the generated module.
        """
        if not abstract:
            return self
        self.abstract = dict(abstract)
        self._body = body
        self._params = list(params)
        self._seeds = dict(seeds or {})
        self._numpy_name = numpy_name
        self._calls = calls
        return self

    def facts_for(self, stmts):
        """The shape facts of ``stmts`` (run after the body), or None in general code."""
        if self.abstract is None:
            return None
        return Shapes(list(self._body) + list(stmts), self.abstract, self.resolver,
                      self.adjoints, self._seeds, self._params, calls=self._calls)

    def numpy(self):
        return self._numpy_name() if self._numpy_name is not None else "np"

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
            return ("shape of", _expression_key(node))
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
                other |= {n.id for n in _walk(t)
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
            for n in (n for h in heads for n in _walk(h)):
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


def _expression_key(node):
    """A hashable key equal for two expressions written alike (their classes and fields,
    not where they are), cheaper than their text."""
    if isinstance(node, gast.AST):
        return (node.__class__.__name__,) + tuple(_expression_key(getattr(node, f, None))
                                                 for f in node._fields)
    if node.__class__ is list:
        return tuple(_expression_key(v) for v in node)
    return (node.__class__.__name__, node)


def _pure_chain(node):
    while isinstance(node, (gast.Attribute, gast.Subscript)):
        if isinstance(node, gast.Subscript) and any(isinstance(n, gast.Call)
                                                    for n in _walk(node.slice)):
            return False
        node = node.value
    return isinstance(node, gast.Name)


def _mentions_kind_change(body, resolver):
    for s in walk_stmts(body):
        for n in _walk(s):
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
    shapes.facts = shapes.facts_for(stmts)
    shapes.last_facts = shapes.facts    # (its primal values': what the builders read after)
    try:
        _simplify_statements(stmts, shapes)
        if shapes.facts is not None:
            stmts = _drop_dead_branches(stmts, shapes.facts)
            stmts = _drop_proven_checks(stmts, shapes.facts)
            _drop_shape_only_values(stmts, shapes)
            _constant_spreads(stmts, shapes)
            _array_spreads(stmts, shapes)
            _sum_through_matmul(stmts, shapes)
            _containers_built_whole(stmts, shapes)
    finally:
        shapes.facts = None
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
    lost = []       # ``t = x * 1.0`` become ``t = x``: t no longer names a new array
    for s in walk_stmts(stmts):
        made_new = isinstance(s, gast.Assign) and _private(s.value)
        items = s.value.elts if isinstance(s, gast.Assign) \
            and isinstance(s.value, (gast.List, gast.Tuple)) else []
        if isinstance(s, gast.Assign) and isinstance(s.value, gast.Dict):
            items = s.value.values
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
                and isinstance(s.value.func, gast.Attribute) \
                and s.value.func.attr in ("append", "insert"):
            items = s.value.args            # (l.append(y[:2] + 0.0))
        items_new = [_makes_new(e) for e in items]
        for field, value in gast.iter_fields(s):
            if isinstance(value, gast.expr):
                setattr(s, field, _simplify(value, shapes))
            elif isinstance(value, list) and value and isinstance(value[0], gast.expr):
                setattr(s, field, [_simplify(v, shapes) for v in value])
            if field == "value" and isinstance(s, gast.Assign) \
                    and isinstance(s.targets[0], gast.Name) and made_new \
                    and not _private(s.value):
                lost.append(s)
            elif field == "value" and isinstance(s, gast.Assign) and made_new \
                    and not _private(s.value):
                # ``l[0] = y[:2] - 0.0`` become ``l[0] = y[:2]``: a copy, as it was
                s.value = call(gast.Attribute(value=name(RUNTIME_ALIAS), attr="copy",
                                              ctx=gast.Load()), [s.value])
        value = getattr(s, "value", None)
        field = "elts" if isinstance(value, (gast.List, gast.Tuple)) else \
            "values" if isinstance(value, gast.Dict) else "args"
        if items and len(getattr(value, field, ())) == len(items):
            # ``[y[:2] + 0.0, ...]`` become ``[y[:2], ...]``: the item a copy, as it was
            setattr(s.value, field, [
                call(gast.Attribute(value=name(RUNTIME_ALIAS), attr="copy", ctx=gast.Load()),
                     [e]) if was and not _makes_new(e) else e
                for e, was in zip(getattr(s.value, field), items_new)])
        if isinstance(s, gast.AugAssign) and isinstance(s.op, gast.Add) \
                and isinstance(s.value, gast.UnaryOp) and isinstance(s.value.op, gast.USub):
            s.op, s.value = gast.Sub(), s.value.operand      # ``y += -e``: ``y -= e``
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and s.targets[0].id not in shapes.cls and s.targets[0].id not in shapes.adjoints:
            shapes.cls[s.targets[0].id] = shapes.of(s.value)
    written = _written_in_place(stmts) if lost else set()
    for s in lost:
        sources = {n.id for n in _walk(s.value) if isinstance(n, gast.Name)}
        if not _only_in_arithmetic(s.targets[0].id, stmts) or sources & written:
            # (or ``z = y[:2] + 0.0`` become ``z = y[:2]``, and y written into after)
            # ``y = x`` would let y's array be x's: written into (``y[i] = ...``), returned
            # (a gradient that is the caller's array), or kept; a copy, as ``x * 1.0`` was
            s.value = call(gast.Attribute(value=name(RUNTIME_ALIAS), attr="copy",
                                          ctx=gast.Load()), [s.value])
    return stmts


# Functions (NumPy's and the runtime's, by their last name) whose result may share memory
# with their first argument, or be it: a view, not a new array.  reverse.py's ``_fresh``
# and ``_makes_new`` here read it.
VIEWS = frozenset({
    "unbroadcast", "broadcast_like", "broadcast_to", "reshape", "transpose", "swapaxes",
    "moveaxis", "squeeze", "expand_dims", "ravel", "asarray", "real", "imag", "diagonal",
    "atleast_1d", "atleast_2d", "atleast_3d", "T", "conj", "reduce_vjp", "unstack",
    "split_like", "array_vjp", "to_complex_like", "copy_if", "match",
    # the batched forward mode's (a batch of tangents broadcast or reshaped: a view, or the
    # batch itself; t_y[i] = ... after t_y = batch_broadcast_like(...) wrote into a read-only
    # view)
    "batch_align", "batch_broadcast_like", "batch_broadcast_to", "batch_unbroadcast",
    "batch_unbroadcast_to", "batch_reshaped", "batch_reduce_vjp"})


def _makes_new(expr):
    """Whether ``expr`` certainly evaluates to an array (or number) of its own, not one that
    another name holds: arithmetic, or a call other than a view (of something new)."""
    if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Constant)):
        return True
    if isinstance(expr, gast.Attribute) and expr.attr in VIEWS:
        return _makes_new(expr.value)       # ``(y + 0.0).T``: a view of a new array
    if isinstance(expr, gast.Call) and isinstance(expr.func, (gast.Attribute, gast.Name)):
        f = expr.func.attr if isinstance(expr.func, gast.Attribute) else expr.func.id
        if f in VIEWS:
            if isinstance(expr.func, gast.Attribute) and not (
                    isinstance(expr.func.value, gast.Name)
                    and expr.func.value.id in _MODULE_ALIASES):
                # a method: a view of its object (``(x * 1.0).reshape(2, 3)``, not of the
                # shape it is given, which ``x.reshape(2, 3)`` would take for new)
                return _makes_new(expr.func.value)
            return bool(expr.args) and _makes_new(expr.args[0])
        return True
    return False


# The names generated code calls NumPy's and the runtime's functions by (``np.reshape(y, s)``
# is a view of y; ``y.reshape(s)`` of y too)
_MODULE_ALIASES = frozenset({"np", "numpy", RUNTIME_ALIAS})


def _private(expr):
    """Whether ``expr`` is a new array (``_makes_new``) or a part of one (``(y + 0.0)[:2]``):
    no name but the one it is assigned to reaches it."""
    while isinstance(expr, gast.Subscript) or isinstance(expr, gast.Attribute) \
            and expr.attr in VIEWS:
        expr = expr.value
    return _makes_new(expr)


def _only_in_arithmetic(t, stmts):
    """Whether ``t`` is never written into and is read (in ``stmts``: a name read
    nowhere there is read after them, a gradient returned) only as an operand of arithmetic,
    which makes new arrays: what it names never escapes."""
    parents = {id(c): p for st in stmts for p in _walk(st) for c in gast.iter_child_nodes(p)}
    written = _written_in_place(stmts) | {
        st.target.id for st in walk_stmts(stmts)
        if isinstance(st, gast.AugAssign) and isinstance(st.target, gast.Name)}
    seen = set()

    def contained(t):       # (a copy ``u = t`` passes t on to u: u's reads count)
        if t in seen:
            return True
        seen.add(t)
        if t in written:
            return False        # (``t[i] = e`` writes into t's array, ``t += e`` adds into it)
        reads = [n for st in stmts for n in _walk(st)
                 if isinstance(n, gast.Name) and n.id == t and isinstance(n.ctx, gast.Load)]
        for n in reads:
            p = parents.get(id(n))
            if isinstance(p, (gast.BinOp, gast.UnaryOp)):
                continue
            if isinstance(p, gast.Assign) and p.value is n and len(p.targets) == 1 \
                    and isinstance(p.targets[0], gast.Name) and contained(p.targets[0].id):
                continue
            return False
        return bool(reads)
    return contained(t)


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
        if shapes.facts is not None and isinstance(node.op, gast.Mult):
            node = _spread_in_product(node, shapes)
        return _algebra(node, getattr(shapes, "facts", None))
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) \
            and isinstance(node.operand, gast.UnaryOp) and isinstance(node.operand.op, gast.USub):
        return node.operand.operand
    if isinstance(node, gast.Call):
        return _negation_out_of_sum(_runtime_call(node, shapes), shapes)
    return node


def _np_call_of(node, np_name):
    """``f`` for ``node`` a call ``<np_name>.f(...)`` (NumPy's function ``f``, by the name the
    generated module gives NumPy), else None."""
    f = getattr(node, "func", None)
    if isinstance(node, gast.Call) and isinstance(f, gast.Attribute) \
            and isinstance(f.value, gast.Name) and f.value.id == np_name:
        return f.attr
    return None


def _negation_out_of_sum(node, shapes):
    """``np.sum(-e, ...)`` as ``-np.sum(e, ...)``: one negation of the (smaller) sum, not of
    every element (exact: a sum is linear, a negation exact).  In specialized code, where
    NumPy's name in the module is known."""
    if shapes.facts is None or _np_call_of(node, shapes.numpy()) != "sum" or not (
            node.args and isinstance(node.args[0], gast.UnaryOp)
            and isinstance(node.args[0].op, gast.USub)):
        return node
    node.args[0] = node.args[0].operand
    return gast.UnaryOp(op=gast.USub(), operand=node)


def _simplify_keyword(kw, shapes):
    kw.value = _simplify(kw.value, shapes)
    return kw


def _is_const(node, value):
    ok, v = static_value(node)
    return ok and not isinstance(v, bool) and isinstance(v, (int, float)) and v == value


def _algebra(node, facts=None):
    """``e * 1``, ``e / 1``, ``e + 0``... as ``e``.  In specialized code (``facts`` given: a
    1.0 folded in for a seed) only where ``e`` is proven a float64 or complex128 value: the
    operation makes an integer or boolean ``e`` a float (``1.0 * m + 1.0 * m2`` is not the
    boolean ``m + m2``), and a float32 one stays float32 either way."""
    op = node.op

    def plain(e):
        if facts is None or _same_type_times(facts.of(e), 1):
            return True
        node.s2s_converts = True        # (cse.share keeps it too)
        return False

    if isinstance(op, gast.Pow) and _is_const(node.right, 1):
        return node.left
    if isinstance(op, gast.Mult):
        if _is_const(node.right, 1) and plain(node.left):
            return node.left
        if _is_const(node.left, 1) and plain(node.right):
            return node.right
    if isinstance(op, gast.Div) and _is_const(node.right, 1) and plain(node.left):
        return node.left
    if isinstance(op, gast.Mult) and isinstance(node.right, gast.BinOp) \
            and isinstance(node.right.op, gast.Div) and _is_const(node.right.left, 1):
        return gast.BinOp(left=node.left, op=gast.Div(), right=node.right.right)  # g * (1 / x)
    if isinstance(op, (gast.Add, gast.Sub)) and _is_const(node.right, 0) and plain(node.left):
        return node.left
    if isinstance(op, gast.Add) and _is_const(node.left, 0) and plain(node.right):
        return node.right
    if isinstance(op, gast.Add) and isinstance(node.right, gast.UnaryOp) \
            and isinstance(node.right.op, gast.USub):
        return gast.BinOp(left=node.left, op=gast.Sub(), right=node.right.operand)   # exact
    return node


def _runtime_call(node, shapes):
    f = node.func
    if not (isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name)):
        return node
    if shapes.facts is not None and f.value.id == RUNTIME_ALIAS:
        better = _specialized_helper(node, f.attr, shapes)
        if better is not None:
            return better
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
        f = node.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
                and f.value.id == RUNTIME_ALIAS:
            return node     # (no runtime helper is elementwise: its rules need not be loaded)
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
    facts = shapes.facts
    if facts is not None:
        fa, fb = facts.of(a), facts.of(b)
        if covers(fa, fb):
            return _shape_proxy(a, shapes)
        if covers(fb, fa):
            return _shape_proxy(b, shapes)
    ca, cb = shapes.of(a), shapes.of(b)
    if cb == SCALAR:
        return _shape_proxy(a, shapes)      # a scalar never enlarges the other operand
    if ca == SCALAR:
        return _shape_proxy(b, shapes)
    if ca == cb and ca not in (UNKNOWN, None):
        return _shape_proxy(a, shapes)
    return whole


# ---------------------------------------------------------------------------
# What the shape facts decide (code specialized to a signature)
# ---------------------------------------------------------------------------

def covers(a, b):
    """Whether ``a``'s shape is certainly the shape of ``a`` broadcast with ``b``.

    (Two axes of length other than 1 that broadcast together are equal, so an
    axis of ``a`` that is not 1 covers whatever ``b`` has there.)
    """
    da, db = _dims(a), _dims(b)
    if da is None or db is None or len(da) < len(db):
        return False
    for x, y in zip(da[len(da) - len(db):], db):
        if not (x == MANY or y == ONE or (x == ONE and y == ONE)):
            return False
    return True


def _np(shapes, attr):
    return gast.Attribute(value=name(shapes.numpy()), attr=attr, ctx=gast.Load())


def _np_call(shapes, attr, args, **keywords):
    return call(_np(shapes, attr), list(args),
                [gast.keyword(arg=k, value=v) for k, v in keywords.items()])


def _axis_const(axes):
    return const(axes[0]) if len(axes) == 1 else gast.Tuple(elts=[const(a) for a in axes],
                                                           ctx=gast.Load())


def _real_part(g_facts, x_facts):
    """Whether ``unbroadcast`` takes the real part (True/False), or None if not known."""
    cx = x_facts.is_complex
    if cx is True:
        return False
    cg = g_facts.is_complex
    if cx is False:
        return cg      # complex -> real: True; real: False; not known: None
    return False if cg is False else None


def unbroadcast_expr(g, x, shapes):
    """``unbroadcast(g, x)`` without the helper, where the facts decide it; else None."""
    facts = shapes.facts
    G, X = facts.of(g), facts.of(x)
    gd = _dims(G)
    if gd is None:
        return None
    if X.kind in ("float", "int", "bool"):
        if G.is_complex is not False:
            return None
        if G.kind == "float":
            return g
        out = g if gd == () else _np_call(shapes, "sum", [g])
        return call(name("float"), [out])
    if X.kind not in ("scalar", "array"):
        return None
    xd = _dims(X)
    if xd is None or len(gd) < len(xd):
        return None
    if shapes.same(g, x):       # (known to have one shape, whatever it is)
        xd = gd = tuple(MANY for _ in xd)
    lead = len(gd) - len(xd)
    kept = []
    for i, d in enumerate(xd):
        gdim = gd[lead + i]
        if d == MANY:
            continue
        if d == ONE and gdim == ONE:
            continue
        if d == ONE and gdim == MANY:
            kept.append(i)
            continue
        return None
    real = _real_part(G, X)
    if real is None:
        return None
    out = g
    if lead:
        out = _np_call(shapes, "sum", [out], axis=_axis_const(tuple(range(lead))))
    if kept:
        out = _np_call(shapes, "sum", [out], axis=_axis_const(tuple(kept)),
                       keepdims=const(True))
    if real:
        out = _np_call(shapes, "real", [out])
    return out


def _transposed(node, rank, shapes):
    if rank == 2:
        return gast.Attribute(value=node, attr="T", ctx=gast.Load())
    return _np_call(shapes, "swapaxes", [node, const(-1), const(-2)])


def _batch_covers(x_dims, other_dims):
    """Whether the batch axes of a matrix product's ``x`` hold the other operand's."""
    return covers(_Arr(x_dims[:-2]), _Arr(other_dims[:-2]))


class _Arr:
    """Axes as an abstract-like value for ``covers``."""

    kind = "array"

    def __init__(self, dims):
        self.dims = dims


def matmul_vjp_expr(which, g, a, b, shapes):
    """``matmul_vjp_a``/``_b`` as the products a person writes, for known ranks; else None."""
    facts = shapes.facts
    A, B, G = facts.of(a), facts.of(b), facts.of(g)
    da, db = _dims(A), _dims(B)
    if da is None or db is None or not da or not db or _dims(G) is None:
        return None
    ra, rb = len(da), len(db)
    if which == "a":
        if ra == 1 and rb == 1:
            return gast.BinOp(left=g, op=gast.Mult(), right=b)
        if ra == 1 and rb == 2:
            return gast.BinOp(left=b, op=gast.MatMult(), right=g)
        if ra == 2 and rb == 1:
            return gast.BinOp(left=gast.Subscript(value=g, slice=gast.Tuple(
                elts=[gast.Slice(lower=None, upper=None, step=None), const(None)],
                ctx=gast.Load()), ctx=gast.Load()), op=gast.Mult(), right=b)
        if ra >= 2 and rb >= 2 and ra >= rb and _batch_covers(da, db):
            return gast.BinOp(left=g, op=gast.MatMult(), right=_transposed(b, rb, shapes))
        return None
    if ra == 1 and rb == 1:
        return gast.BinOp(left=g, op=gast.Mult(), right=a)
    if ra == 1 and rb == 2:
        return _np_call(shapes, "outer", [a, g])
    if ra == 2 and rb == 1:
        return gast.BinOp(left=g, op=gast.MatMult(), right=a)
    if ra >= 2 and rb >= 2 and rb >= ra and _batch_covers(db, da):
        return gast.BinOp(left=_transposed(a, ra, shapes), op=gast.MatMult(), right=g)
    return None


def zeros_expr(x, shapes, facts=None):
    """A zero adjoint for ``x`` without ``_rt.zeros_like``, where the facts decide it; else None."""
    facts = facts or shapes.facts
    X = facts.of(x)
    if X.kind == "array" and X.rank == 0 and isinstance(x, gast.Name) and (
            {x.id} | {a for a, p in facts.adjoints.items() if p == x.id}) & facts.written:
        return None     # (a 0-d array written in place: its adjoint is too)
    if X.kind in ("float", "int", "bool") or (X.rank == 0 and X.is_complex is False):
        return const(0.0)       # (a Python zero keeps a NumPy scalar's dtype in arithmetic)
    if X.kind == "complex" or (X.rank == 0 and X.is_complex is True):
        return const(0j)
    if X.kind == "array" and X.dtype is not None and X.dims is not None:
        import numpy
        if numpy.dtype(X.dtype).kind in "fc":
            return _np_call(shapes, "zeros_like", [x])
    return None


def seed_expr(d_out, value, facts, numpy_name=None):
    """``_rt.seed(d_out, value)`` for an output known to be a number: ``1.0`` when no
    cotangent is given (what ``seed`` does then), else the cotangent.  For an output
    of a narrower NumPy dtype the 1 has that dtype (``np.float32(1.0)``), so that the
    gradients keep it."""
    one = one_like(value, facts, numpy_name)
    if one is None:
        return None
    return gast.IfExp(test=gast.Compare(left=d_out, ops=[gast.Is()], comparators=[const(None)]),
                      body=one, orelse=copy.deepcopy(d_out))


def one_like(value, facts, numpy_name=None):
    """The 1 a backward sweep starts from for ``value``, an output the facts prove a number
    (``np.float32(1.0)`` for a float32 one: the gradients keep that dtype); else None."""
    if facts is None:
        return None
    v = facts.of(value)
    if v.rank != 0 or not _a_number(v):   # (a number, a NumPy scalar or a 0-d array; not a
        return None                        # bool, which the output's check refuses)
    if v.kind in ("scalar", "array") and v.dtype in ("float32", "float16", "complex64") \
            and numpy_name is not None:
        return call(gast.Attribute(value=name(numpy_name()), attr=v.dtype, ctx=gast.Load()),
                    [const(1.0)])
    return const(1.0)


def _drop_proven_checks(stmts, facts):
    """``_rt.check_scalar(v, ...)`` where the facts prove ``v`` a number (not a bool),
    ``_rt.check_output(v, ...)`` where they prove it a number or an array of numbers, and
    ``_rt.check_sequence(v, ...)`` where they prove it a tuple, a list or an array:
    nothing to check."""
    proven = set()
    for s in walk_stmts(stmts):
        if not isinstance(s, gast.Expr):
            continue
        if is_runtime_call(s.value, "check_scalar", 1) and _a_number(facts.of(s.value.args[0])):
            proven.add(id(s))
        elif is_runtime_call(s.value, "check_sequence", 1) \
                and facts.of(s.value.args[0]).kind in ("tuple", "list", "array"):
            proven.add(id(s))
        elif is_runtime_call(s.value, "check_output", 1):
            a = facts.of(s.value.args[0])
            if _a_number(a) or a.kind == "array" and a.dtype is not None \
                    and np.dtype(a.dtype).kind in "iufc":
                proven.add(id(s))
    return drop_stmts(stmts, proven) if proven else stmts


def _a_number(a):
    if a.kind in ("float", "int", "complex"):
        return True
    return a.rank == 0 and a.dtype is not None and np.dtype(a.dtype).kind in "iufc"


def _specialized_helper(node, attr, shapes):
    args = node.args
    if node.keywords:
        return None
    facts = shapes.facts
    if attr == "unbroadcast" and len(args) == 2:
        return unbroadcast_expr(args[0], args[1], shapes)
    if attr == "seed" and len(args) == 2 and isinstance(args[0], gast.Name):
        return seed_expr(args[0], args[1], facts, shapes.numpy)
    if attr in ("matmul_vjp_a", "matmul_vjp_b") and len(args) == 3:
        return matmul_vjp_expr(attr[-1], args[0], args[1], args[2], shapes)
    if attr == "zeros_like" and len(args) == 1:
        return zeros_expr(args[0], shapes)
    if attr == "through_write" and len(args) == 2:
        # (a float or complex array keeps what is written into it: its derivative too)
        Y = facts.of(args[1])
        if Y.kind == "array" and Y.dtype is not None and np.dtype(Y.dtype).kind in "fc":
            return args[0]
        return None
    if attr == "to_complex_like" and len(args) == 2:
        G, X = facts.of(args[0]), facts.of(args[1])
        if X.is_complex is True or G.is_complex is False:
            return args[0]
        if X.is_complex is False and G.is_complex is True:
            return _np_call(shapes, "real", [args[0]])
        return None
    if attr == "broadcast_like" and len(args) == 2:
        T, L = facts.of(args[0]), facts.of(args[1])
        if covers(T, L) and _dims(T) is not None and len(_dims(T)) == len(_dims(L)) \
                and all(x == y for x, y in zip(_dims(T), _dims(L))):
            return args[0]
        return None
    if attr == "reduce_vjp" and len(args) >= 2:
        G, X = facts.of(args[0]), facts.of(args[1])
        if _dims(X) == () and _dims(G) == ():
            return args[0]
        spread = _spread(node, shapes)
        if spread is not None and X.kind == "array" and _dims(X) is not None:
            # the cotangent with the reduced axes put back, viewed as x's shape (``()`` for
            # rank 0: a join of a float and a NumPy scalar, without ``.shape``, is rank 0 too)
            shape = gast.Attribute(value=spread[1], attr="shape", ctx=gast.Load()) \
                if _dims(X) != () else gast.Tuple(elts=[], ctx=gast.Load())
            return _np_call(shapes, "broadcast_to", [spread[0], shape])
        return None
    if attr in ("size", "shape", "ndim") and len(args) == 1:
        X = facts.of(args[0])
        d = _dims(X)
        if d is None:
            return None
        if attr == "ndim":
            return const(len(d))
        if X.kind == "array" and d != ():       # (rank 0 below: it may be a Python float)
            # (of a cheaper expression of the same shape: ``(a * b).shape`` is ``a.shape``)
            proxy = _shape_proxy(args[0], shapes)
            if facts.of(proxy).kind != "array":
                proxy = args[0]
            return gast.Attribute(value=proxy, attr=attr, ctx=gast.Load())
        if d == () and X.kind in ("float", "int", "bool", "complex", "scalar", "array"):
            return const(1) if attr == "size" else gast.Tuple(elts=[], ctx=gast.Load())
        return None
    if attr == "inverse_permutation" and len(args) == 1:
        ok, axes = static_value(args[0])
        if ok and isinstance(axes, tuple) and sorted(axes) == list(range(len(axes))):
            inverse = [0] * len(axes)
            for i, a in enumerate(axes):
                inverse[a] = i
            return gast.Tuple(elts=[const(i) for i in inverse], ctx=gast.Load())
        return None
    if attr == "add" and len(args) == 2:
        A, B = facts.of(args[0]), facts.of(args[1])
        if _dims(A) is not None and _dims(B) is not None:
            return gast.BinOp(left=args[0], op=gast.Add(), right=args[1])
        return None
    return None


def _spread(node, shapes):
    """``(g expanded, x)`` when ``node`` spreads ``g`` over ``x``'s shape (``broadcast_to(g,
    shape(x))``, ``reduce_vjp(g, x, axis, keepdims)``) and the facts know the axes; else None."""
    if not isinstance(node, gast.Call) or node.keywords:
        return None
    f = node.func
    if not isinstance(f, gast.Attribute):
        return None
    facts = shapes.facts
    if f.attr == "broadcast_to" and len(node.args) == 2 and not (
            isinstance(f.value, gast.Name) and f.value.id == RUNTIME_ALIAS):
        g, s = node.args
        x = None
        if isinstance(s, gast.Call) and isinstance(s.func, gast.Attribute) \
                and s.func.attr == "shape" and len(s.args) == 1:
            x = s.args[0]
        elif isinstance(s, gast.Attribute) and s.attr == "shape":
            x = s.value
        if x is None:
            return None
        return g, x     # (g's shape broadcasts to x's: broadcast_to says so)
    if f.attr == "reduce_vjp" and isinstance(f.value, gast.Name) and f.value.id == RUNTIME_ALIAS \
            and len(node.args) in (2, 3, 4):
        g, x = node.args[0], node.args[1]
        G, X = facts.of(g), facts.of(x)
        dg, dx = _dims(G), _dims(X)
        if dg is None or dx is None:
            return None
        if dg == ():
            return g, x
        ok_axis, axis = facts.static(node.args[2]) if len(node.args) > 2 else (True, None)
        ok_keep, keep = facts.static(node.args[3]) if len(node.args) > 3 else (True, False)
        if not (ok_axis and ok_keep) or axis is None or keep is not False:
            return (g, x) if ok_keep and keep is True and len(dg) == len(dx) else None
        axes = axis if isinstance(axis, tuple) else (axis,)
        if not all(isinstance(a, int) and -len(dx) <= a < len(dx) for a in axes):
            return None
        axes = sorted({a % len(dx) for a in axes})
        if len(dg) != len(dx) - len(axes):
            return None
        index = [const(None) if i in axes else gast.Slice(lower=None, upper=None, step=None)
                 for i in range(len(dx))]
        while index and isinstance(index[-1], gast.Slice):
            index.pop()
        expanded = gast.Subscript(value=g, slice=gast.Tuple(elts=index, ctx=gast.Load())
                                  if len(index) > 1 else index[0], ctx=gast.Load())
        return expanded, x
    return None


def _factors(node):
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Mult):
        return _factors(node.left) + _factors(node.right)
    return [node]


def _spread_in_product(node, shapes):
    """``broadcast_to(s, shape(x)) * f``: the plain ``s * f`` where another factor of the
    product has ``x``'s shape anyway (then the product's shape and values are the same)."""
    factors = _factors(node)
    if len(factors) < 2:
        return node
    facts = shapes.facts
    changed = False
    for k, fac in enumerate(factors):
        spread = _spread(fac, shapes)
        if spread is None:
            continue
        g, x = spread
        X = facts.of(x)
        if any(j != k and (covers(facts.of(other), X) or shapes.same(other, x))
               for j, other in enumerate(factors)):
            factors[k] = g
            changed = True
    if not changed:
        return node
    out = factors[0]
    for fac in factors[1:]:
        out = gast.BinOp(left=out, op=gast.Mult(), right=fac)
    return out


_SHAPE_USES = {"size", "shape", "ndim"}


def _drop_dead_branches(stmts, facts):
    """``if axis is None: ... else: ...`` where the facts know ``axis``: the branch that runs."""
    out = []
    for s in stmts:
        if isinstance(s, gast.If):
            d = facts.decided(s.test)
            if d is not None:
                out.extend(_drop_dead_branches(s.body if d else s.orelse, facts))
                continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _drop_dead_branches(s.body, facts) or [gast.Pass()]
            s.orelse = _drop_dead_branches(s.orelse, facts)
        out.append(s)
    return out


def _rewrite_named_values(stmts, rewrite):
    """The scan the passes below share: ``rewrite(block, k, s)`` for each statement ``s`` that
    binds one name (``v = value``, not a restore) at ``block[k]``, in order, in every block.
    It returns True when it changed the block from ``k`` on (``s`` dropped or replaced): the
    scan goes on from ``k``."""
    for block in _blocks(stmts):
        k = 0
        while k < len(block):
            s = block[k]
            if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                    and isinstance(s.targets[0], gast.Name) and not hasattr(s, "s2s_restore") \
                    and rewrite(block, k, s):
                continue
            k += 1


def _drop_shape_only_values(stmts, shapes):
    """A value the statements compute only for its shape (``p = (h - t) ** 2`` read only as
    ``p.size``): each read becomes a cheaper expression of that shape, and ``p`` goes."""
    facts = shapes.facts
    counts = _store_counts(stmts)       # (a statement dropped here binds its name only)
    # the names read for their shape anywhere in stmts (found again after each rewrite):
    # one not among them has no such use after its statement either
    shape_read = []

    def rewrite(block, k, s):
        var = s.targets[0].id
        if counts.get(var) != 1:
            return False
        proxy = _shape_proxy(s.value, shapes)       # (parts of s.value, not changed)
        if proxy is s.value or not _pure(proxy):
            return False
        if not shape_read:
            shape_read.append(_names_read_for_shape(stmts))
        if var not in shape_read[0]:
            return False
        later = block[k + 1:]
        uses, others = _shape_uses(later, var)
        if not uses or others:
            return False
        last = max(i for i, st in enumerate(later) if _reads(st, var))
        names = {n.id for n in _walk(proxy) if isinstance(n, gast.Name)}
        if any(_stores(later[:last + 1], v) for v in names):
            return False
        if _dims(facts.of(proxy)) is None or _dims(facts.of(proxy)) != _dims(facts.var(var)):
            return False
        for parent, field, index in uses:
            value = copy.deepcopy(proxy)
            if index is None:
                setattr(parent, field, value)
            else:
                getattr(parent, field)[index] = value
        del block[k]
        shape_read.clear()
        return True
    _rewrite_named_values(stmts, rewrite)


def _sum_through_matmul(stmts, shapes):
    """``v = a @ b`` read once, by ``np.sum(v, axis=<a's row axis>, keepdims=True)`` (how a
    cotangent is summed over the axis its primal was broadcast along): the rows of ``a``
    are summed first, ``np.sum(a, axis=..., keepdims=True) @ b`` (``sum_i a_i b`` is
    ``(sum_i a_i) b``), a product of one row instead of one per row; ``v`` goes."""
    facts = shapes.facts
    np_name = shapes.numpy()

    def rewrite(block, k, s):
        if not (isinstance(s.value, gast.BinOp) and isinstance(s.value.op, gast.MatMult)):
            return False
        var = s.targets[0].id
        a, b = s.value.left, s.value.right
        da, db = _dims(facts.of(a)), _dims(facts.of(b))
        if da is None or db is None or len(da) < 2 or len(db) < 2 or len(da) < len(db) \
                or _stores(stmts, var) != 1:
            return False
        reads = [(i, n) for i, st in enumerate(block[k + 1:]) for n in _walk(st)
                 if isinstance(n, gast.Call) and any(
                     isinstance(x, gast.Name) and x.id == var for x in n.args)]
        if len(reads) != 1 or _read_count(stmts, var) != 1:
            return False
        i, use = reads[0]
        kw = {x.arg: x.value for x in use.keywords}
        axis = kw.get("axis")
        if not (_np_call_of(use, np_name) == "sum" and len(use.args) == 1
                and set(kw) == {"axis", "keepdims"}
                and isinstance(kw["keepdims"], gast.Constant) and kw["keepdims"].value is True
                and isinstance(axis, gast.Constant) and type(axis.value) is int
                and axis.value in (len(da) - 2, -2)):
            return False
        names = {n.id for x in (a, b) for n in _walk(x) if isinstance(n, gast.Name)}
        between = block[k + 1:k + i + 2]
        if any(_stores(between, v) for v in names) or names & _written_in_place(between):
            return False
        use.args[0] = a
        _replace(block[k + 1 + i], use,
                 gast.BinOp(left=copy.deepcopy(use), op=gast.MatMult(), right=b))
        del block[k]
        return True
    _rewrite_named_values(stmts, rewrite)


def _constant_spreads(stmts, shapes):
    """``v = np.broadcast_to(c, shape)`` (a number spread over a shape: the cotangent of a
    sum started from 1.0) read only as a factor of products whose other factor has that
    shape already: the products take ``c`` itself (``1.0 * e`` is ``e``), and ``v`` goes."""
    facts = shapes.facts
    np_name = shapes.numpy()

    def rewrite(block, k, s):
        v = s.value
        if not (_np_call_of(v, np_name) == "broadcast_to" and len(v.args) == 2
                and not v.keywords and isinstance(v.args[0], gast.Constant)
                and type(v.args[0].value) in (int, float)):
            return False
        var, c = s.targets[0].id, v.args[0].value
        V = facts.var(var)
        if _stores(stmts, var) != 1 or var in _written_in_place(stmts):
            return False
        later = block[k + 1:]
        factors = [(b, b.right if side == "left" else b.left)
                   for st in later for b in _walk(st)
                   if isinstance(b, gast.BinOp) and isinstance(b.op, gast.Mult)
                   for side in ("left", "right")
                   if isinstance(getattr(b, side), gast.Name) and getattr(b, side).id == var]
        if not factors or len(factors) != _read_count(stmts, var) or any(
                not covers(facts.of(other), V) or not _same_type_times(facts.of(other), c)
                for _, other in factors):
            return False
        if c == 1 and not all(_fresh_anyway(b, stmts) for b, _ in factors):
            return False
        fold = _FoldFactor(var, c)
        block[k:] = [fold.visit(st) for st in later]      # (s dropped)
        return True
    _rewrite_named_values(stmts, rewrite)


def _array_spreads(stmts, shapes):
    """``v = np.broadcast_to(g, shape)`` for an array ``g`` (the cotangent of a sum along an
    axis), read once (through plain copies ``w = v`` in the statements just after), as a
    factor of a product in the next statement whose other factor has that shape already:
    the product takes ``g`` itself (the same shape, values and dtype: ``g`` is a NumPy
    array or scalar, not a Python number, whose dtype NumPy would not promote), and ``v``
    and its copies go."""
    facts = shapes.facts
    np_name = shapes.numpy()

    def once(var):
        return _stores(stmts, var) == 1 and _read_count(stmts, var) == 1

    def rewrite(block, k, s):
        v = s.value
        if not (_np_call_of(v, np_name) == "broadcast_to" and len(v.args) == 2
                and not v.keywords):
            return False
        var, g = s.targets[0].id, v.args[0]
        G = facts.of(g)
        if G is None or G.kind not in ("array", "scalar") or not once(var) \
                or var in _written_in_place(stmts):
            return False
        V, j = facts.var(var), k + 1
        while j < len(block) and isinstance(block[j], gast.Assign) \
                and isinstance(block[j].value, gast.Name) and block[j].value.id == var \
                and isinstance(block[j].targets[0], gast.Name) \
                and once(block[j].targets[0].id):
            var, j = block[j].targets[0].id, j + 1       # (a copy ``w = v``: w's read)
        if j >= len(block) or not isinstance(block[j], gast.Assign):
            return False
        hits = [(b, side) for b in _walk(block[j].value)
                if isinstance(b, gast.BinOp) and isinstance(b.op, gast.Mult)
                for side in ("left", "right")
                if isinstance(getattr(b, side), gast.Name) and getattr(b, side).id == var]
        if len(hits) != 1:
            return False
        b, side = hits[0]
        if not covers(facts.of(b.right if side == "left" else b.left), V):
            return False
        setattr(b, side, g)
        del block[k:j]
        return True
    _rewrite_named_values(stmts, rewrite)


def _same_type_times(a, c):
    """Whether ``c * e`` (``e`` for a ``c`` of 1) has the dtype of ``np.broadcast_to(c, s) * e``
    for ``e`` of abstract value ``a``, a float64 array times ``e``: ``e`` float64 or complex128
    (a float32 ``e`` would stay float32), or, for ``c`` other than 1, integers or booleans
    (made floats either way; ``1.0 * mask`` as ``mask`` would add booleans as ``or``, and
    ``1.0 * k`` as ``k`` would add int8 with overflow)."""
    if a is None:
        return False
    if a.kind in ("float", "complex"):
        return True
    if a.kind in ("int", "bool"):
        return c != 1
    if a.kind in ("scalar", "array") and a.dtype is not None:
        if a.dtype in ("float64", "complex128"):
            return True
        return c != 1 and (a.dtype == "bool" or a.dtype.startswith(("int", "uint")))
    return False


def _fresh_anyway(product, stmts):
    """Whether ``product`` (``v * e``) may become ``e`` without a new name for ``e``'s array
    escaping: ``e`` is arithmetic (a new array), or the product is an operand of arithmetic,
    or it is all of ``t = v * e`` with ``t`` bound once, never written into, and read only
    as an operand of arithmetic."""
    other = product.right if isinstance(product.left, gast.Name) else product.left
    if isinstance(other, (gast.BinOp, gast.UnaryOp)):
        return True
    parents = {id(c): p for st in stmts for p in _walk(st) for c in gast.iter_child_nodes(p)}
    parent = parents.get(id(product))
    if isinstance(parent, (gast.BinOp, gast.UnaryOp)):
        return True
    return isinstance(parent, gast.Assign) and parent.value is product \
        and len(parent.targets) == 1 and isinstance(parent.targets[0], gast.Name) \
        and _only_in_arithmetic(parent.targets[0].id, stmts)


class _FoldFactor(gast.NodeTransformer):
    """``var * e`` and ``e * var`` as ``c * e`` (``e`` when ``c`` is 1)."""

    def __init__(self, var, c):
        self.var, self.c = var, c

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.Mult):
            for side, other in (("left", node.right), ("right", node.left)):
                x = getattr(node, side)
                if isinstance(x, gast.Name) and x.id == self.var:
                    if self.c == 1:
                        return other
                    setattr(node, side, const(self.c))
        return node


def _containers_built_whole(stmts, shapes):
    """``d_p = _rt.zeros_like(p)`` then ``d_p[i] += e_i`` for every item of a tuple or list
    ``p`` (its items unpacked, each with its own adjoint): the list ``d_p = [e_0, ...]``
    built once the last item's adjoint is known, not zero arrays allocated and added to.
    Only where the facts prove each ``e_i`` has its item's shape and dtype (``+=`` into a
    zero array would broadcast or cast it) and each ``e_i`` is a name bound once; one not
    certainly a new array (a view, a caller's value) is copied, as ``+=`` copied it."""
    facts = shapes.facts
    np_name = shapes.numpy()

    def rewrite(block, k, s):
        if not (is_runtime_call(s.value, "zeros_like", 1) and len(s.value.args) == 1
                and isinstance(s.value.args[0], gast.Name)):
            return False
        dv = s.targets[0].id
        P = facts.var(s.value.args[0].id)
        if P.kind not in ("tuple", "list") or not P.items:
            return False
        items, last = {}, None
        for j in range(k + 1, len(block)):
            st = block[j]
            hit = _item_add(st, dv)
            if hit is None:
                if _reads(st, dv) or _stores([st], dv):
                    break
                continue
            index, e = hit
            if index in items:
                break
            items[index] = (e, j)
            if len(items) == len(P.items):
                last = j
                break
        if last is None or set(items) != set(range(len(P.items))) \
                or _stores(stmts, dv) != 1 + sum(isinstance(block[j], gast.Assign)
                                                 for _, j in items.values()):
            return False
        elts = []
        for i, item in enumerate(P.items):
            e, j = items[i]
            E = facts.var(e)
            if _dims(item) is None or _dims(E) != _dims(item) or item.dtype is None \
                    or E.dtype != item.dtype or item.dtype[:1] not in ("f", "c") \
                    or _stores(stmts, e) != 1 or _stores(block[j:last + 1], e):
                return False
            ref = name(e)
            if not _bound_fresh(stmts, e, np_name):
                ref = call(gast.Attribute(value=name(RUNTIME_ALIAS), attr="copy",
                                          ctx=gast.Load()), [ref])
            elts.append(ref)
        built = assign(dv, gast.List(elts=elts, ctx=gast.Load()))
        built.s2s_line = getattr(block[last], "s2s_line", None)
        built.s2s_origin = getattr(block[last], "s2s_origin", None)
        drop = {id(s)} | {id(block[j]) for _, j in items.values() if j != last}
        block[last] = built
        block[:] = [st for st in block if id(st) not in drop]
        return True
    _rewrite_named_values(stmts, rewrite)


def _item_add(st, dv):
    """``(i, e)`` for ``dv[i] += e`` or ``dv = _rt.add_at(dv, i, e)`` (``i`` an int, ``e`` a
    name), else None."""
    if isinstance(st, gast.AugAssign) and isinstance(st.op, gast.Add) \
            and isinstance(st.target, gast.Subscript) and isinstance(st.target.value, gast.Name) \
            and st.target.value.id == dv:
        index, e = st.target.slice, st.value
    elif isinstance(st, gast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name) \
            and st.targets[0].id == dv \
            and is_runtime_call(st.value, "add_at", 3) and len(st.value.args) == 3 \
            and isinstance(st.value.args[0], gast.Name) and st.value.args[0].id == dv:
        index, e = st.value.args[1], st.value.args[2]
    else:
        return None
    if not (isinstance(index, gast.Constant) and type(index.value) is int and isinstance(e, gast.Name)):
        return None
    return index.value, e.id


# NumPy functions that always return a new array (``np.conj`` is a ufunc; the method
# ``x.conj()`` of a real array returns ``x``, see VIEWS): a list of what is known, where
# VIEWS lists what is not.
_FRESH_CALLS = {"sum", "mean", "dot", "matmul", "einsum", "outer", "tensordot", "exp", "log",
                "sqrt", "sin", "cos", "tanh", "square", "conj", "conjugate"}


def _bound_fresh(stmts, var, np_name):
    """Whether ``var``'s one binding certainly makes a new array (arithmetic, a reduction,
    a product)."""
    for st in walk_stmts(stmts):
        if isinstance(st, gast.Assign) and len(st.targets) == 1 \
                and isinstance(st.targets[0], gast.Name) and st.targets[0].id == var:
            v = st.value
            return isinstance(v, (gast.BinOp, gast.UnaryOp)) \
                or _np_call_of(v, np_name) in _FRESH_CALLS
    return False


def _pure(node):
    """An expression of names, attributes, subscripts and operators (no call)."""
    return not any(isinstance(n, (gast.Call, gast.Lambda, gast.NamedExpr)) for n in _walk(node))


def _names_read_for_shape(stmts):
    """The names ``_shape_uses`` finds a use of in ``stmts``, all at once."""
    out = set()
    for s in stmts:
        for parent in _walk(s):
            if isinstance(parent, gast.Attribute) and parent.attr in _SHAPE_USES \
                    and isinstance(parent.value, gast.Name):
                out.add(parent.value.id)
            elif isinstance(parent, gast.Call) and isinstance(parent.func, gast.Attribute) \
                    and isinstance(parent.func.value, gast.Name) \
                    and parent.func.value.id == RUNTIME_ALIAS:
                k = _SHAPE_ONLY.get(parent.func.attr)
                if k is not None and len(parent.args) > k and isinstance(parent.args[k], gast.Name) \
                        and parent.func.attr not in ("unbroadcast", "broadcast_like"):
                    out.add(parent.args[k].id)
    return out


def _shape_uses(stmts, var):
    """The places ``var`` is read only for its shape, and whether it is read otherwise."""
    uses, total = [], 0
    for s in stmts:
        for parent in _walk(s):
            if isinstance(parent, gast.Attribute) and parent.attr in _SHAPE_USES \
                    and isinstance(parent.value, gast.Name) and parent.value.id == var:
                uses.append((parent, "value", None))
            elif isinstance(parent, gast.Call) and isinstance(parent.func, gast.Attribute) \
                    and isinstance(parent.func.value, gast.Name) \
                    and parent.func.value.id == RUNTIME_ALIAS:
                k = _SHAPE_ONLY.get(parent.func.attr)
                if k is not None and len(parent.args) > k and isinstance(parent.args[k], gast.Name) \
                        and parent.args[k].id == var \
                        and parent.func.attr not in ("unbroadcast", "broadcast_like"):
                    uses.append((parent, "args", k))
        total += _read_count([s], var)
    return uses, total != len(uses)
