"""Sharing in generated code: common subexpressions, copies and constants, dead values.

Derivatives of derivatives repeat work: the tangent code of ``y = -x`` is
``t_y = -t_x`` at every level, and symmetric paths compute the same values
under different names.  ``share(fdef, resolve)`` rewrites one generated
function so that each value is computed once:

- *value numbering*: an expression already held by a variable (and not
  invalidated since) is replaced by that variable; a variable that is a copy
  of another, or of a constant, is replaced by it;
- *hoisting*: an expression computed twice in the same block without a
  variable is computed once into a new variable;
- *dead values*: an assignment whose variable is never read, and whose right
  side has no effect, is removed;
- *algebra*: ``1.0 * e``, ``e * -1.0``, ``-(-e)``, ``a + -b``, constants.

Only expressions without effects are shared (arithmetic, attribute and item
reads, calls of primitives that are pure functions); calls of user functions,
methods and functions that make buffers the code writes into are left alone,
and a variable written in place is never shared or replaced.
"""

import copy
import numbers

import gast

import s2sgrad.naming as naming
from ..analysis import liveness
from ..analysis.activity import drop_stmts, walk_stmts
from ..rules import registry
from ..syntax import walk as _walk
from .simplify import _private

__all__ = ["share", "drop_dead"]

# Functions that return a fresh buffer the code may write into: never shared.
_FRESH = {"zeros_like", "ones_like", "copy", "zeros", "ones", "empty", "full", "empty_like",
          "full_like", "array", "asarray", "scatter", "written_scatter", "eye", "identity", "arange", "linspace"}
RUNTIME_FAMILY = "s2sgrad.runtime"     # the rules' family of the runtime helpers
# Methods that change their receiver.
_MUTATING_METHODS = {"append", "extend", "insert", "pop", "update", "setdefault", "remove",
                     "clear", "sort", "reverse", "fill", "resize", "put", "itemset"}


def share(fdef, resolve):
    """Rewrite ``fdef`` (a generated FunctionDef) in place; ``resolve(name)`` gives a global."""
    ctx = _Context(fdef, resolve)
    for _ in range(4):
        ctx.changes = 0
        fdef.body = _Numbering(ctx).block(fdef.body, _State())
        fdef.body = _hoist_block(fdef.body, ctx)
        fdef.body = _fold_block(fdef.body, ctx)
        fdef.body = _drop_dead(fdef.body, ctx) or [gast.Pass()]
        if not ctx.changes:
            break
    return fdef


def drop_dead(fdef, resolve):
    """Only the dead values of ``share``: what nothing reads and has no effect, removed
    from ``fdef`` in place (an entry that does not return its value drops what only the
    value needed)."""
    fdef.body = _drop_dead(fdef.body, _Context(fdef, resolve)) or [gast.Pass()]
    return fdef


# ---------------------------------------------------------------------------
# What may be shared
# ---------------------------------------------------------------------------

class _Context:
    def __init__(self, fdef, resolve):
        self.resolve = resolve
        # derivative variable -> the variable it is the derivative of (set by the builders)
        self.derivative_of = dict(getattr(fdef, "s2s_derivative_of", None) or {})
        self.params = {a.id for a in fdef.args.args} | {a.id for a in fdef.args.kwonlyargs}
        self.mutated = _mutated_names(fdef.body)
        self.assigned = {}
        self.used = set()
        calls = []
        for n in _walk(fdef):       # (one walk: names bound and read, calls)
            if isinstance(n, gast.Name):
                self.used.add(n.id)
                if isinstance(n.ctx, gast.Store):
                    self.assigned[n.id] = self.assigned.get(n.id, 0) + 1
            elif isinstance(n, gast.Call):
                calls.append(n)
        self._pure = {}
        self.changes = 0   # rewrites made by the current round of passes
        # A function of the user's may change the arrays and lists passed to it.
        for n in calls:
            if self.call_kind(n) == "effect" and not _is_runtime_call(n):
                for a in list(n.args) + [kw.value for kw in n.keywords]:
                    if isinstance(a, gast.Name):
                        self.mutated.add(a.id)

    def fresh(self, base):
        base = base.strip("_") or "value"
        name, k = base, 1
        while name in self.used:
            name = f"{base}_{k}"
            k += 1
        self.used.add(name)
        return name

    def holder(self, var):
        """Whether ``var`` may stand for a value elsewhere (it is never written in place)."""
        return var not in self.mutated

    def call_kind(self, node):
        """``'shared'`` (pure, may be shared), ``'pure'`` (no effect, a fresh buffer) or ``'effect'``."""
        key = id(node.func)
        if key not in self._pure:
            self._pure[key] = self._classify(node)
        kind = self._pure[key]
        if kind != "effect" and any(kw.arg == "out" for kw in node.keywords):
            return "effect"
        return kind

    def _classify(self, node):
        path = _dotted(node.func)
        if path is None:
            return "effect"
        parts = path.split(".")
        obj = self.resolve(parts[0])
        for p in parts[1:]:
            obj = getattr(obj, p, None)
            if obj is None:
                return "effect"
        if obj is None:
            return "effect"
        leaf = parts[-1]
        if "random" in parts:
            return "effect"
        # the primitive's name is all this needs: a runtime helper's is read off the index,
        # without importing the rules of the helpers (a first gradient may need none)
        found = registry.lookup_name(obj)
        if found is None or found[0] != RUNTIME_FAMILY:
            hit = registry.lookup(obj)
            found = None if hit is None else (hit[0].family, hit[0].name)
        if found is None:
            import s2sgrad.runtime as runtime
            if getattr(runtime, leaf, None) is obj and registry.listed(leaf, RUNTIME_FAMILY):
                found = (RUNTIME_FAMILY, leaf)
        if found is None:
            if obj in (len, abs, min, max, float, int, range, slice, tuple, isinstance):
                return "shared"
            return "effect"
        if leaf in ("add_at", "check_scalar", "check_output", "call_fwd", "call_bwd", "call_jvp"):
            return "effect"
        if leaf in _FRESH or found[1] in _FRESH:
            return "pure"
        return "shared"


def _is_runtime_call(node):
    f = node.func
    return isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) and f.value.id == naming.RUNTIME \
        and f.attr not in ("call_fwd", "call_bwd", "call_jvp")


def _dotted(node):
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _mutated_names(stmts):
    """Variables written in place somewhere: items, list methods, ``add_at`` targets, call arguments."""
    out = set()
    for s in walk_stmts(stmts):
        if isinstance(s, (gast.Assign, gast.AugAssign)):
            targets = s.targets if isinstance(s, gast.Assign) else [s.target]
            for t in targets:
                base = t
                while isinstance(base, (gast.Subscript, gast.Attribute)):
                    base = base.value
                if base is not t and isinstance(base, gast.Name):
                    out.add(base.id)
        for n in _walk(s):
            if isinstance(n, gast.Call):
                f = n.func
                if isinstance(f, gast.Attribute) and f.attr in _MUTATING_METHODS \
                        and isinstance(f.value, gast.Name):
                    out.add(f.value.id)
                if isinstance(f, gast.Attribute) and f.attr == "add_at" and n.args \
                        and isinstance(n.args[0], gast.Name):
                    out.add(n.args[0].id)
    return out


def _key(node):
    """A hashable structural key of an AST (contexts and annotations ignored).

    Operands of ``+`` and ``*`` are put in a fixed order, so ``a * b`` and
    ``b * a`` (equal, elementwise, in floating point too) have one key.
    """
    if isinstance(node, list):
        return tuple(_key(n) for n in node)
    if isinstance(node, gast.keyword):
        return ("kw", node.arg, _key(node.value))
    if not isinstance(node, gast.AST):
        return node if not isinstance(node, float) or node == node else ("nan",)
    if isinstance(node, gast.Name):
        return ("Name", node.id)
    if isinstance(node, gast.Constant):
        return ("Constant", type(node.value).__name__, node.value)
    out = [type(node).__name__]
    for field, value in gast.iter_fields(node):
        if field in ("ctx", "annotation", "type_comment", "kind", "type_params"):
            continue
        out.append(_key(value))
    return _commute(node, tuple(out))


def _names(node):
    return {n.id for n in _walk(node) if isinstance(n, gast.Name)}


def _is_trivial(node):
    if isinstance(node, (gast.Name, gast.Constant)):
        return True
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return isinstance(node.operand, gast.Constant)
    return False


def _kind(node, ctx):
    """``'shared'``, ``'pure'`` or ``'effect'`` for an expression."""
    worst = "shared"
    for n in _walk(node):
        if isinstance(n, gast.Call):
            k = ctx.call_kind(n)
        elif isinstance(n, (gast.List, gast.Dict, gast.Set, gast.ListComp, gast.DictComp,
                            gast.SetComp)):
            k = "pure"
        elif isinstance(n, (gast.Lambda, gast.GeneratorExp, gast.Yield, gast.YieldFrom,
                            gast.Await, gast.NamedExpr, gast.Starred)):
            k = "effect"
        else:
            continue
        if k == "effect":
            return "effect"
        if k == "pure":
            worst = "pure"
    return worst


# ---------------------------------------------------------------------------
# Value numbering
# ---------------------------------------------------------------------------

class _State:
    """What is known at a point: expressions held by variables, copies, negations.

    Each fact is indexed by the names it depends on, so an assignment forgets
    exactly the facts about the variable it changes.
    """

    def __init__(self):
        self.avail = {}     # key of expression -> variable holding it
        self.copies = {}    # variable -> Name or Constant it equals
        self.negs = {}      # variable -> Name whose negation it holds
        self.deps = {}      # name -> set of ("avail", key) / ("copy", var) / ("neg", var)

    def clone(self):
        other = _State()
        other.avail, other.copies, other.negs = dict(self.avail), dict(self.copies), \
            dict(self.negs)
        other.deps = {k: set(v) for k, v in self.deps.items()}
        return other

    def _depend(self, names, fact):
        for n in names:
            self.deps.setdefault(n, set()).add(fact)

    def add_avail(self, key, var, names):
        if key not in self.avail:
            self.avail[key] = var
            self._depend(set(names) | {var}, ("avail", key))

    def add_copy(self, var, value):
        self.copies[var] = value
        self._depend({var} | ({value.id} if isinstance(value, gast.Name) else set()),
                     ("copy", var))

    def add_neg(self, var, operand):
        self.negs[var] = operand
        self._depend({var, operand}, ("neg", var))

    def kill(self, names):
        for n in names:
            for kind, item in self.deps.pop(n, ()):
                if kind == "avail":
                    self.avail.pop(item, None)
                elif kind == "copy":
                    self.copies.pop(item, None)
                else:
                    self.negs.pop(item, None)

    def meet(self, other):
        self.avail = {k: v for k, v in self.avail.items() if other.avail.get(k) == v}
        self.copies = {k: v for k, v in self.copies.items()
                       if k in other.copies and _key(other.copies[k]) == _key(v)}
        self.negs = {k: v for k, v in self.negs.items() if other.negs.get(k) == v}
        # Dependencies of facts that are gone do no harm: killing them is a no-op.
        for n, facts in other.deps.items():
            self.deps.setdefault(n, set()).update(facts)


class _Numbering:
    def __init__(self, ctx):
        self.ctx = ctx
        self.keys = {}   # id(node) -> (node, key), for nodes already seen

    def key(self, node):
        """``_key(node)``, reusing the keys of its parts computed on the way up."""
        hit = self.keys.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
        if isinstance(node, gast.Name):
            return ("Name", node.id)
        if isinstance(node, gast.Constant) or not isinstance(node, gast.AST):
            return _key(node)
        out = [type(node).__name__]
        for field, value in gast.iter_fields(node):
            if field in ("ctx", "annotation", "type_comment", "kind", "type_params"):
                continue
            if isinstance(value, list):
                out.append(tuple(("kw", v.arg, self.key(v.value)) if isinstance(v, gast.keyword)
                                 else self.key(v) for v in value))
            else:
                out.append(self.key(value) if isinstance(value, gast.AST) else _key(value))
        k = _commute(node, tuple(out))
        self.keys[id(node)] = (node, k)   # the node is kept alive, so its id is not reused
        return k

    def block(self, stmts, state):
        out = []
        for s in stmts:
            out.extend(self.stmt(s, state))
        return out

    def stmt(self, s, state):
        ctx = self.ctx
        if isinstance(s, gast.Assign):
            target = s.targets[0]
            # A variable written in place must not become another name for a value.
            alias_ok = not (isinstance(target, gast.Name) and not ctx.holder(target.id))
            s.value = self.expr(s.value, state, top=alias_ok)
            if isinstance(target, gast.Name):
                v = target.id
                state.kill({v})
                value = s.value
                names = _names(value)
                if _kind(value, ctx) == "effect":
                    state.kill(names & ctx.mutated)   # a call that may change its arguments
                if ctx.holder(v) and v not in names:
                    if _number(value) is not None or (
                            isinstance(value, gast.Name) and ctx.holder(value.id)):
                        state.add_copy(v, copy.deepcopy(value))
                    elif not _is_trivial(value) and _kind(value, ctx) != "effect":
                        state.add_avail(self.key(value), v, names)
                        if isinstance(value, gast.UnaryOp) and isinstance(value.op, gast.USub) \
                                and isinstance(value.operand, gast.Name):
                            state.add_neg(v, value.operand.id)
                return [s]
            for t in s.targets:
                self._rewrite_target(t, state)
            state.kill(_stored_bases(s.targets))
            return [s]
        if isinstance(s, gast.Expr):
            s.value = self.expr(s.value, state)
            if _kind(s.value, ctx) == "effect":
                state.kill(_names(s.value))
            return [s]
        if isinstance(s, gast.If):
            s.test = self.expr(s.test, state)
            body_state, else_state = state.clone(), state.clone()
            s.body = self.block(s.body, body_state) or [gast.Pass()]
            s.orelse = self.block(s.orelse, else_state)
            body_state.meet(else_state)
            state.avail, state.copies, state.negs, state.deps = \
                body_state.avail, body_state.copies, body_state.negs, body_state.deps
            return [s]
        if isinstance(s, (gast.For, gast.While)):
            changed = _assigned_in([s]) | (_names(s.target) if isinstance(s, gast.For) else set()) \
                | (ctx.mutated & _assigned_or_read([s]))
            if isinstance(s, gast.For):
                s.iter = self.expr(s.iter, state)
            state.kill(changed)
            inner = state.clone()
            if isinstance(s, gast.While):
                s.test = self.expr(s.test, inner)
            s.body = self.block(s.body, inner) or [gast.Pass()]
            return [s]
        if isinstance(s, gast.Return) and s.value is not None:
            s.value = self.expr(s.value, state)
            return [s]
        if isinstance(s, (gast.Assert, gast.Raise)):
            return [s]
        state.kill(_names(s))
        return [s]

    def _rewrite_target(self, t, state):
        if isinstance(t, gast.Subscript):
            t.slice = self.expr(t.slice, state)
        elif isinstance(t, (gast.Tuple, gast.List)):
            for e in t.elts:
                self._rewrite_target(e, state)

    def expr(self, node, state, top=True):
        """``node`` with copies replaced and available subexpressions reused (bottom-up).

        With ``top=False`` the node itself is not replaced by a variable (only its parts).
        """
        if isinstance(node, gast.Name):
            if isinstance(node.ctx, gast.Load) and node.id in state.copies:
                self.ctx.changes += 1
                return copy.deepcopy(state.copies[node.id])
            return node
        if not isinstance(node, gast.expr):
            return node
        for field, value in gast.iter_fields(node):
            if isinstance(value, gast.expr):
                setattr(node, field, self.expr(value, state))
            elif isinstance(value, list):
                setattr(node, field, [self.expr(v, state) if isinstance(v, gast.expr) else
                                      self._keyword(v, state) if isinstance(v, gast.keyword)
                                      else v for v in value])
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub) \
                and isinstance(node.operand, gast.Name) and node.operand.id in state.negs:
            self.ctx.changes += 1
            return gast.Name(id=state.negs[node.operand.id], ctx=gast.Load(), annotation=None,
                             type_comment=None)   # -(-a) is a
        if top and not _is_trivial(node):
            hit = state.avail.get(self.key(node))
            if hit is not None:
                self.ctx.changes += 1
                return gast.Name(id=hit, ctx=gast.Load(), annotation=None, type_comment=None)
        return node

    def _keyword(self, kw, state):
        kw.value = self.expr(kw.value, state)
        return kw


def _assigned_in(stmts):
    if len(stmts) == 1 and isinstance(stmts[0], gast.Assign) \
            and isinstance(stmts[0].targets[0], gast.Name) and not _has_call(stmts[0].value):
        return {stmts[0].targets[0].id}
    out = set()
    for s in walk_stmts(stmts):
        for n in _walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out | _mutated_names(stmts)


def _assigned_or_read(stmts):
    return {n.id for s in stmts for n in _walk(s) if isinstance(n, gast.Name)}


def _has_call(node):
    return any(isinstance(n, gast.Call) for n in _walk(node))


def _stored_bases(targets):
    out = set()
    for t in targets:
        for n in _walk(t):
            if isinstance(n, gast.Name):
                out.add(n.id)
    return out


# ---------------------------------------------------------------------------
# Hoisting repeated expressions
# ---------------------------------------------------------------------------

def _hoist_block(stmts, ctx):
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _hoist_block(s.body, ctx) or [gast.Pass()]
            s.orelse = _hoist_block(s.orelse, ctx)
    # Occurrences of each shareable expression in the simple statements of this block,
    # grouped into runs that no assignment to a variable they read separates.
    runs = {}       # run -> [names it reads, [(statement index, node)]]
    live_keys = {}
    by_name = {}    # name -> keys of live runs that read it
    order = []
    for i, s in enumerate(stmts):
        info = {}
        whole = None   # the right side of an assignment to a variable written in place
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and not ctx.holder(s.targets[0].id):
            whole = s.value
        for node in _top_expressions(s):
            _annotate(node, ctx, info)
            for sub in _subexpressions(node):
                k, kind, names = info[id(sub)]
                if kind != "shared" or _is_trivial(sub) or _is_small(sub) or sub is whole:
                    continue
                run = live_keys.get(k)
                if run is None:
                    run = (k, i)
                    live_keys[k] = run
                    runs[run] = [names, []]
                    order.append(run)
                    for n in names:
                        by_name.setdefault(n, set()).add(k)
                runs[run][1].append((i, sub))
        killed = _assigned_in([s])
        if any(isinstance(n, gast.Call) and ctx.call_kind(n) == "effect" for n in _walk(s)):
            killed |= ctx.mutated & _assigned_or_read([s])
        for n in killed:
            for k in by_name.pop(n, ()):
                live_keys.pop(k, None)
    inserts = {}
    replaced = set()
    for run in order:
        occ = runs[run][1]
        if len(occ) < 2:
            continue
        if any(id(sub) in replaced for _, sub in occ):
            continue
        first_i, first = occ[0]
        target = _value_name(ctx, runs[run][0], [_first_target(stmts[i]) for i, _ in occ])
        name_ = ctx.fresh(f"{target}_{_op_name(first)}" if target else _op_name(first))
        hoisted = gast.Assign(targets=[gast.Name(id=name_, ctx=gast.Store(), annotation=None,
                                                 type_comment=None)],
                              value=copy.deepcopy(first), type_comment=None)
        origin = getattr(stmts[first_i], "s2s_origin", None)
        if origin is not None:
            hoisted.s2s_origin = origin
        inserts.setdefault(first_i, []).append(hoisted)
        for i, sub in occ:
            for n in _walk(sub):
                replaced.add(id(n))
            _replace_node(stmts[i], sub, gast.Name(id=name_, ctx=gast.Load(), annotation=None,
                                                   type_comment=None))
    if not inserts:
        return stmts
    ctx.changes += 1
    out = []
    for i, s in enumerate(stmts):
        out.extend(inserts.get(i, []))
        out.append(s)
    return out


def _annotate(node, ctx, info):
    """``info[id(n)] = (key, kind, names read)`` for ``node`` and its subexpressions, bottom-up."""
    if id(node) in info:
        return info[id(node)]
    if isinstance(node, gast.Name):
        out = (("Name", node.id), "shared", frozenset((node.id,)))
    elif isinstance(node, gast.Constant):
        out = (_key(node), "shared", frozenset())
    elif not isinstance(node, gast.AST):
        out = (node, "shared", frozenset())
    else:
        parts = [type(node).__name__]
        kind, names = _own_kind(node, ctx), set()
        for field, value in gast.iter_fields(node):
            if field in ("ctx", "annotation", "type_comment", "kind", "type_params"):
                continue
            items = value if isinstance(value, list) else [value]
            keys = []
            for item in items:
                if isinstance(item, gast.keyword):
                    k, kd, nm = _annotate(item.value, ctx, info)
                    k = ("kw", item.arg, k)
                elif isinstance(item, gast.AST):
                    k, kd, nm = _annotate(item, ctx, info)
                else:
                    k, kd, nm = item, "shared", frozenset()
                keys.append(k)
                names |= nm
                if kd == "effect" or (kd == "pure" and kind == "shared"):
                    kind = kd
            parts.append(tuple(keys) if isinstance(value, list) else keys[0] if keys else None)
        out = (_commute(node, tuple(parts)), kind, frozenset(names))
    info[id(node)] = out
    return out


def _commute(node, key):
    """``a * b`` and ``b * a`` (also ``+``) have one key: their operands' keys, sorted."""
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Add, gast.Mult)):
        left, right = key[1], key[3]
        if repr(right) < repr(left):
            return (key[0], right, key[2], left)
    return key


def _own_kind(node, ctx):
    if isinstance(node, gast.Call):
        return ctx.call_kind(node)
    if isinstance(node, (gast.List, gast.Dict, gast.Set, gast.ListComp, gast.DictComp,
                         gast.SetComp)):
        return "pure"
    if isinstance(node, (gast.Lambda, gast.GeneratorExp, gast.Yield, gast.YieldFrom,
                         gast.Await, gast.NamedExpr, gast.Starred)):
        return "effect"
    return "shared"


def _is_small(node):
    """``-x``, ``x.T``, ``x[i]`` with simple parts: cheaper to repeat than to name.

    Slices and index tuples are not values of their own and always stay.
    """
    if isinstance(node, gast.Slice) or (isinstance(node, gast.Tuple) and any(
            isinstance(e, gast.Slice) for e in node.elts)):
        return True
    if isinstance(node, gast.UnaryOp):
        return _is_trivial(node.operand)
    if isinstance(node, gast.Attribute):
        # (a dotted path, ``scipy.stats.norm``, stays: named, its calls would be known only at
        # run time to a transformation of this code)
        return _is_trivial(node.value) or _dotted(node) is not None
    if isinstance(node, gast.Subscript):
        return _is_trivial(node.value) and all(_is_trivial(e) for e in (
            node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]))
    return False


def _top_expressions(s):
    if isinstance(s, gast.Assign):
        out = [s.value]
        for t in s.targets:
            if isinstance(t, gast.Subscript):
                out.append(t.slice)
        return out
    if isinstance(s, (gast.Expr, gast.Return)) and s.value is not None:
        return [s.value]
    if isinstance(s, (gast.If, gast.While)):
        return [s.test]
    if isinstance(s, gast.For):
        return [s.iter]
    return []


def _subexpressions(node):
    """Subexpressions, outermost first (so a whole repeated expression is named, not its parts)."""
    out = []
    stack = [node]
    while stack:
        n = stack.pop(0)
        out.append(n)
        for child in gast.iter_child_nodes(n):
            if isinstance(child, gast.expr):
                stack.append(child)
            elif isinstance(child, gast.keyword):
                stack.append(child.value)
    return out


def _value_name(ctx, reads, targets):
    """The variable a shared value is named after: the first statement's target, unless that
    is a derivative (``t_vx``, ``d_y``) and the value reads no derivative (``np.sin(angle)``
    is a plain value): then the variable the derivative is of (``vx_sin``)."""
    derivative_of = ctx.derivative_of
    target = targets[0]
    if target not in derivative_of or any(r in derivative_of for r in reads):
        return target
    return derivative_of[target]


def _first_target(s):
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
        return s.targets[0].id
    return None


_OPS = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mul", gast.Div: "div", gast.Pow: "pow",
        gast.MatMult: "matmul", gast.USub: "neg"}


def _op_name(node):
    if isinstance(node, (gast.BinOp, gast.UnaryOp)):
        return _OPS.get(type(node.op), "value")
    if isinstance(node, gast.Call):
        f = node.func
        return f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "value")
    if isinstance(node, gast.Subscript):
        return "item"
    if isinstance(node, gast.Attribute):
        return node.attr
    return "value"


def _replace_node(root, old, new):
    for n in _walk(root):
        for field, value in gast.iter_fields(n):
            if value is old:
                setattr(n, field, copy.deepcopy(new))
                return True
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if item is old:
                        value[k] = copy.deepcopy(new)
                        return True
                    if isinstance(item, gast.keyword) and item.value is old:
                        item.value = copy.deepcopy(new)
                        return True
    return False


# ---------------------------------------------------------------------------
# Algebra and dead values
# ---------------------------------------------------------------------------

def _number(node):
    if isinstance(node, gast.Constant) and isinstance(node.value, numbers.Number) \
            and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        v = _number(node.operand)
        return None if v is None else -v
    return None


def _const(v):
    if isinstance(v, (int, float)) and v < 0:
        return gast.UnaryOp(op=gast.USub(), operand=gast.Constant(value=-v, kind=None))
    return gast.Constant(value=v, kind=None)


class _Fold(gast.NodeTransformer):
    changes = 0

    def visit(self, node):
        out = super().visit(node)
        if out is not node:
            self.changes += 1
        return out

    def visit_BinOp(self, node):
        self.generic_visit(node)
        a, b = _number(node.left), _number(node.right)
        op = node.op
        if a is not None and b is not None and isinstance(op, (gast.Add, gast.Sub, gast.Mult)) \
                and not isinstance(a, complex) and not isinstance(b, complex):
            val = a + b if isinstance(op, gast.Add) else a - b if isinstance(op, gast.Sub) \
                else a * b
            return _const(val)
        if getattr(node, "s2s_converts", False):
            return node     # (simplify: ``1.0 * m`` makes an integer or boolean m a float)
        if isinstance(op, gast.Mult):
            if a == 1:
                return node.right
            if b == 1:
                return node.left
            if a == -1:
                return gast.UnaryOp(op=gast.USub(), operand=node.right)
            if b == -1:
                return gast.UnaryOp(op=gast.USub(), operand=node.left)
        if isinstance(op, gast.Div) and b == 1:
            return node.left
        if isinstance(op, gast.Pow) and b == 1:
            return node.left
        if isinstance(op, (gast.Add, gast.Sub)) and isinstance(node.right, gast.UnaryOp) \
                and isinstance(node.right.op, gast.USub):
            flipped = gast.Sub() if isinstance(op, gast.Add) else gast.Add()
            return gast.BinOp(left=node.left, op=flipped, right=node.right.operand)
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        f = node.func
        if isinstance(f, gast.Attribute) and f.attr == "zeros_like" \
                and isinstance(f.value, gast.Name) and f.value.id == naming.RUNTIME \
                and len(node.args) == 1 and not node.keywords:
            v = _number(node.args[0])
            if v is not None and not isinstance(v, complex):
                return _const(0.0)      # the zero of a real number: no call (a copied constant)
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, gast.USub) and isinstance(node.operand, gast.UnaryOp) \
                and isinstance(node.operand.op, gast.USub):
            return node.operand.operand
        return node


def _fold_block(stmts, ctx):
    fold = _Fold()
    out = []
    for s in stmts:
        was_new = isinstance(s, gast.Assign) and _private(s.value)
        fold.visit(s)
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and s.targets[0].id in ctx.mutated and was_new and not _private(s.value):
            # ``y = x * 1.0`` then ``y[i] = ...``: ``y = x`` would write into x's array, and
            # so would ``y = np.real(x)``, ``y = x.reshape(2, 3)``, ``y = x[1:]``
            s.value = gast.Call(func=gast.Attribute(value=gast.Name(id="_rt", ctx=gast.Load(),
                                                                    annotation=None,
                                                                    type_comment=None),
                                                    attr="copy", ctx=gast.Load()),
                                args=[s.value], keywords=[])
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and isinstance(s.value, gast.Name) and s.value.id == s.targets[0].id:
            ctx.changes += 1
            continue   # v = v
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _fold_block(s.body, ctx) or [gast.Pass()]
            s.orelse = _fold_block(s.orelse, ctx)
        out.append(s)
    ctx.changes += fold.changes
    return out


def _drop_dead(stmts, ctx):
    """Remove assignments to names never read afterwards whose values have no effect.

    A container or array that is only ever written into (``d_params['W'] = ...``)
    and never read is dead with all its writes.
    """
    stmts = _drop_faint(_drop_write_only(stmts, ctx), ctx)
    while True:
        last = {}

        def visit(stmt, live_after):
            last[id(stmt)] = set(live_after)
        liveness.live_in(stmts, set(), visit)
        dead = set()
        for s in walk_stmts(stmts):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                    and id(s) in last and s.targets[0].id not in last[id(s)] \
                    and _kind(s.value, ctx) != "effect":
                dead.add(id(s))
        if not dead:
            return stmts
        ctx.changes += 1
        stmts = drop_stmts(stmts, dead)


def _drop_faint(stmts, ctx):
    """Remove the assignments to names whose values never reach anything but their own
    assignments: ``total = total + term`` in a loop whose ``total`` is not returned, which
    liveness keeps (the next iteration reads it).

    A name is needed when a statement other than a pure assignment to one name reads it
    (a return, a test, a call for its effect, a write into an array, an assignment to
    several names), or when the value of a needed name's assignment reads it; every
    assignment of a pure value to a name never needed goes.
    """
    needed, defs = set(), {}
    for s in walk_stmts(stmts):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name) and _kind(s.value, ctx) != "effect":
            defs.setdefault(s.targets[0].id, []).append(s)
        elif isinstance(s, (gast.If, gast.While)):
            needed |= _names(s.test)
        elif isinstance(s, gast.For):
            needed |= _names(s.iter) | _names(s.target)
        elif isinstance(s, (gast.Global, gast.Nonlocal)):
            needed |= set(s.names)
        else:
            needed |= _names(s)
    work = list(needed)
    while work:
        for d in defs.get(work.pop(), ()):
            new = _names(d.value) - needed
            needed |= new
            work.extend(new)
    dead = {id(d) for v, ds in defs.items() if v not in needed and v not in ctx.params
            for d in ds}
    if not dead:
        return stmts
    ctx.changes += 1
    return drop_stmts(stmts, dead)


def _drop_write_only(stmts, ctx):
    reads = set()
    writes = {}
    for s in walk_stmts(stmts):
        targets = []
        if isinstance(s, gast.Assign):
            targets = s.targets
            for t in targets:
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    writes.setdefault(t.value.id, []).append(s)
                    reads |= _names(t.slice)
                elif not isinstance(t, gast.Name):
                    reads |= _names(t)
            reads |= _names(s.value)
        elif isinstance(s, (gast.If, gast.While)):
            reads |= _names(s.test)
        elif isinstance(s, gast.For):
            reads |= _names(s.iter)
        else:
            reads |= _names(s)
    dead = set()
    for v, ws in writes.items():
        if v in reads or v in ctx.params:
            continue
        if all(_kind(w.value, ctx) != "effect" for w in ws):
            dead |= {id(w) for w in ws}
    if not dead:
        return stmts
    ctx.changes += 1
    return drop_stmts(stmts, dead)
