"""Shapes: the abstract value of every variable and expression of generated code.

An abstract interpretation over a function's statements (the user's code as
the transforms see it, plus what they generated for it): each variable gets
an abstract value of ``s2sgrad.signature`` (kind, dtype, rank, which axes
have length 1), starting from the entry parameters' signature (``Job.abstract``)
and applying the shape rule of each primitive (``rules/shapes.py``).

It is flow-insensitive: a variable's value is the join of the values of all
its assignments (``float64[n, n]`` and ``float64[n, n]`` stay; ``float64[n]``
and ``float64[n, 1]`` give ``float64[n, ?]``; a float and a tuple give ``?``),
found by iterating to a fixed point, so loops and branches need nothing more.
A restore of the backward sweep (``h = _tape.pop()``) puts back a value ``h``
held before, already in the join.  An adjoint (``d_x``) that the statements
do not assign has its primal's value; the cotangent a backward sweep starts
from (``d_result``) has the output's.

What the analysis does not know is ``ANY`` (or an array of unknown rank or
axes): the passes that read it (``transform/simplify.py``) then keep the
general code.
"""

import functools
import types
import weakref

import gast
import numpy as np

from ..rules.shapes import (PY_NUMBERS, RUNTIME_RULES, elementwise, join, rule_for, rule_named, shape_tuple,
                            exact_int, int_value)
from ..rules.template import RUNTIME_ALIAS, static_value
from ..signature import ANY, BOOL, COMPLEX, FLOAT, INT, NONE, ONE, Abstract, abstract_of, array
from .activity import CHANGING_METHODS, callee_of, op_name, walk_stmts
from ..syntax import root_name, walk as _walk
from ..naming import TAPE

__all__ = ["Shapes"]

_PY_OPS = {"add", "sub", "mult", "div", "pow", "mod", "floordiv"}
# ``math`` functions whose result is not a float
_MATH_NOT_FLOAT = {"floor", "ceil", "trunc", "factorial", "comb", "perm", "gcd", "lcm", "isqrt",
                   "isnan", "isinf", "isfinite", "isclose", "frexp", "modf", "prod", "fsum"}
_MAX_ROUNDS = 40


class Shapes:
    """The abstract values of a function's variables (see the module's docstring).

    ``abstract``: {parameter: Abstract} (a parameter not named holds anything);
    ``adjoints``: {adjoint variable: its primal}; ``seeds``: {cotangent parameter:
    the variable it is the cotangent of}.
    """

    def __init__(self, stmts, abstract=None, resolver=None, adjoints=None, seeds=None,
                 params=(), calls=None):
        self.resolver = resolver
        # ``calls(node, resolver)``: the abstract value a call of a user function returns
        # (None: not known yet), from the program's summaries
        self.calls = calls
        self.adjoints = dict(adjoints or {})
        self.seeds = dict(seeds or {})
        self.params = {p: (abstract or {}).get(p, ANY) for p in params}
        for p, a in (abstract or {}).items():
            self.params.setdefault(p, a)
        self.env = {}
        self._reads = None      # while ``_solve`` evaluates a definition: the names it reads
        # whether a list's items are forgotten: the function changes a list in place
        # (``parts.append(x)``, ``parts[0] = x``, ``parts += [x]``), so the items its literal
        # or its argument had say nothing of those it has later, through any name
        self._lists_changed = False
        self._solve(stmts)
        if _changes_a_list(stmts, self):
            self._lists_changed = True
            self.env = {}
            self._solve(stmts)

    # -- the fixed point ---------------------------------------------------------

    def _definitions(self, stmts):
        defs = []        # (variable, value, part, guards): how to compute its value
        top = set()      # variables something assigns in a way not followed: not known
        for s, guards in _guarded(stmts, ()):
            if getattr(s, "s2s_restore", None) is not None \
                    or getattr(s, "s2s_placeholder", False):
                continue        # a value the variable held before, or None until it is bound
            if isinstance(s, gast.Assign):
                t, value = s.targets[0], s.value
                if len(s.targets) == 1 and isinstance(t, gast.Name):
                    defs.append((t.id, value, None, guards))
                    continue
                if len(s.targets) == 1 and isinstance(t, (gast.Tuple, gast.List)) \
                        and all(isinstance(e, gast.Name) for e in t.elts):
                    for i, e in enumerate(t.elts):
                        defs.append((e.id, value, i, guards))
                    continue
                if all(isinstance(x, (gast.Subscript, gast.Attribute)) for x in s.targets):
                    continue    # a write into an object keeps its shape
            elif isinstance(s, gast.AugAssign):
                if isinstance(s.target, gast.Name):
                    defs.append((s.target.id, gast.BinOp(left=gast.Name(
                        id=s.target.id, ctx=gast.Load(), annotation=None, type_comment=None),
                        op=s.op, right=s.value), None, guards))
                continue
            elif isinstance(s, gast.For):
                if isinstance(s.target, gast.Name):
                    defs.append((s.target.id, s.iter, "iter", guards))
                    heads = []
                else:
                    heads = [s.target]
                for n in (n for h in heads for n in _walk(h)):
                    if isinstance(n, gast.Name):
                        top.add(n.id)
                continue
            elif isinstance(s, (gast.If, gast.While)):
                continue
            for n in _walk(s):
                if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    top.add(n.id)
        return defs, top

    def _live(self, guards):
        """Whether the branches a definition is in may run (pending: not known yet)."""
        for test, polarity in guards:
            try:
                d = self._decide(test, True)
            except _Pending:
                return False
            if d is not None and d != polarity:
                return False
        return True

    def _solve(self, stmts):
        # names whose value some statement writes into (``y[i] = ...``, ``d_y[i] += ...``)
        self.written = set()
        for s in walk_stmts(stmts):
            for t in (s.targets if isinstance(s, gast.Assign) else
                      [s.target] if isinstance(s, gast.AugAssign) else []):
                base = t
                while isinstance(base, (gast.Subscript, gast.Attribute)):
                    base = base.value
                if base is not t and isinstance(base, gast.Name):
                    self.written.add(base.id)
        defs, top = self._definitions(stmts)
        assigned = {v for v, _, _, _ in defs} | top
        self._assigned = assigned
        env = self.env
        for v in top:
            env[v] = ANY
        if self._lists_changed:
            self.params = {p: _forget_lists(a) for p, a in self.params.items()}
        for p, a in self.params.items():
            env[p] = join(env.get(p), a)
        # Each round evaluates every definition on the previous round's values and joins
        # the results in.  An evaluation reads variables through ``_of`` and ``var`` only,
        # which note the names they look up in ``_reads``: a definition none of whose noted
        # variables changed in the previous round (or came to have a value) would give the
        # result it gave then, which is joined in again instead (the same rounds and the
        # same values as evaluating every definition in every round).
        reads = [None] * len(defs)
        last = [None] * len(defs)
        changed = None      # the variables the previous round changed (None: first round)
        for _ in range(_MAX_ROUNDS):
            new = dict(env)     # (each round only adds: the values only grow)
            for p, a in self.params.items():
                if p not in self.seeds:
                    new[p] = join(new.get(p), a)
            for seed, primal in self.seeds.items():
                if primal in env:
                    new[seed] = join(new.get(seed), env[primal])
            for i, (v, value, part, guards) in enumerate(defs):
                if changed is None or not reads[i].isdisjoint(changed):
                    self._reads = noted = set()
                    try:
                        if guards and not self._live(guards):
                            a = None
                        else:
                            a = self._eval(value, part)
                    finally:
                        self._reads = None
                    reads[i] = noted
                    last[i] = a
                else:
                    a = last[i]
                if a is None:
                    continue
                new[v] = join(new.get(v), a)
            if new == env:
                break
            changed = {k for k, a in new.items() if env.get(k) is not a}
            env.clear()
            env.update(new)
        else:
            for v in assigned:
                env[v] = ANY

    def _eval(self, value, part):
        a = self._eval_part(value, part)
        return _forget_lists(a) if a is not None and self._lists_changed else a

    def _eval_part(self, value, part):
        a = self.of(value, pending=True)
        if a is None or part is None:
            return a
        if part == "iter":
            return self._item_of_iter(value)
        if a.kind in ("tuple", "list") and part < len(a.items):
            return a.items[part]
        if a.kind == "array" and a.dims:
            return array(a.dtype, a.dims[1:])
        return ANY

    def _item_of_iter(self, node):
        if isinstance(node, gast.Call) and isinstance(node.func, gast.Name):
            if node.func.id == "range":
                return INT
            if node.func.id == "reversed" and len(node.args) == 1:
                return self._item_of_iter(node.args[0])
        return ANY

    # -- values ----------------------------------------------------------------------

    def var(self, v):
        """The abstract value of a variable (``ANY`` if not known)."""
        if self._reads is not None:
            self._reads.add(v)
            if v in self.adjoints:
                self._reads.add(self.adjoints[v])
        a = self.env.get(v)
        if a is None and v in self.adjoints:
            a = self.env.get(self.adjoints[v])
        return ANY if a is None else a

    def of(self, node, pending=False):
        """The abstract value of an expression (``pending``: None while an operand has none)."""
        try:
            return self._of(node, pending)
        except _Pending:
            return None

    def _of(self, node, pending):
        if isinstance(node, gast.Name):
            if self._reads is not None:     # (see ``_solve``)
                self._reads.add(node.id)
                if node.id in self.adjoints:
                    self._reads.add(self.adjoints[node.id])
            if node.id in self.env:
                return self.env[node.id]
            if pending and (node.id in self._assigned or node.id in self.seeds):
                raise _Pending
            primal = self.adjoints.get(node.id)
            if primal is not None:
                if primal in self.env:
                    return self.env[primal]
                if pending and primal in self._assigned:
                    raise _Pending
                return ANY
            return self._outside(node.id)
        if isinstance(node, gast.Constant):
            v = node.value
            if isinstance(v, bool):
                return BOOL
            if isinstance(v, int):
                return exact_int(v)
            return FLOAT if isinstance(v, float) else COMPLEX if isinstance(v, complex) \
                else NONE if v is None else ANY
        if isinstance(node, gast.BinOp):
            op = op_name(node.op)
            left, right = self._of(node.left, pending), self._of(node.right, pending)
            if op == "matmult":
                return self._rule("matmul", {"a": left, "b": right})
            if op == "add" and left.kind == right.kind == "tuple":
                return Abstract.make("tuple", None, None, left.items + right.items)
            if op in _PY_OPS:
                if op == "floordiv" and left.kind in PY_NUMBERS and right.kind in PY_NUMBERS:
                    return FLOAT if "float" in (left.kind, right.kind) else INT
                return elementwise([left, right], python_op=op,
                                   inexact=op == "div")
            return ANY
        if isinstance(node, gast.UnaryOp):
            a = self._of(node.operand, pending)
            if isinstance(node.op, gast.Not):
                return BOOL
            if a.kind == "bool" or a.kind == "int":
                return INT
            return a if a.kind in PY_NUMBERS + ("scalar", "array") else ANY
        if isinstance(node, gast.Compare):
            parts = [self._of(n, pending) for n in [node.left] + list(node.comparators)]
            if all(p.kind in PY_NUMBERS for p in parts):
                return BOOL
            out = elementwise(parts)
            return array("bool", out.dims) if out.kind == "array" else \
                Abstract.make("scalar", "bool") if out.kind == "scalar" else ANY
        if isinstance(node, gast.BoolOp):
            out = None
            for v in node.values:
                out = join(out, self._of(v, pending))
            return out
        if isinstance(node, gast.IfExp):
            return join(self._of(node.body, pending), self._of(node.orelse, pending))
        if isinstance(node, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in node.elts):
                return ANY
            return Abstract.make("tuple" if isinstance(node, gast.Tuple) else "list", None,
                                 None, tuple(self._of(e, pending) for e in node.elts))
        if isinstance(node, gast.Subscript):
            return self._subscript(node, pending)
        if isinstance(node, gast.Attribute):
            return self._attribute(node, pending)
        if isinstance(node, gast.Call):
            return self._call(node, pending)
        return ANY

    def _outside(self, name):
        """A name the function reads from outside: a number (immutable) has its abstract value.

        (Generated code binds the object the name had when it was made, and the
        driver's cache checks the name still refers to it.)
        """
        resolver = self.resolver
        fsrc = getattr(resolver, "fsrc", None)
        if fsrc is None or name in getattr(resolver, "local_names", ()):
            return ANY
        try:
            kind, value = fsrc.resolve(name)
        except Exception:
            return ANY
        if kind in ("global", "closure") and (type(value) in (float, int, bool, complex)
                                              or isinstance(value, np.generic)):
            return abstract_of(value)
        return ANY

    def _static_outside(self, node):
        """The object a name or attribute chain from outside the function refers to."""
        static = getattr(self.resolver, "static_value", None)
        if static is None:
            return False, None
        try:
            return static(node)
        except Exception:
            return False, None

    def _attribute(self, node, pending):
        if isinstance(node.value, gast.Name) and node.value.id == RUNTIME_ALIAS:
            return ANY
        ok, value = self._static_outside(node)
        if ok:      # ``math.pi``: a number of a module's (generated code binds that object)
            return abstract_of(value) if type(value) in (float, int, bool, complex) else ANY
        base = self._of(node.value, pending)
        numeric = base.kind in PY_NUMBERS or base.kind in ("scalar", "array")
        if not numeric:
            return ANY
        dims = base.dims if base.kind == "array" else ()
        if node.attr == "T":
            return self._rule("T", {"a": base})
        if node.attr == "shape":
            return shape_tuple(dims)
        if node.attr in ("size", "ndim"):
            return INT
        if node.attr in ("real", "imag"):
            return self._rule("real", {"x": base})
        return ANY

    def _subscript(self, node, pending):
        base = self._of(node.value, pending)
        index = node.slice
        ok, key = static_value(index)
        if base.kind in ("tuple", "list"):
            if ok and isinstance(key, int) and not isinstance(key, bool) \
                    and -len(base.items) <= key < len(base.items):
                return base.items[key]
            if ok and isinstance(key, slice):
                return Abstract.make(base.kind, None, None, base.items[key])
            out = None
            for item in base.items:
                out = join(out, item)
            return out if out is not None else ANY
        if base.kind != "array":
            return ANY
        parts = list(index.elts) if isinstance(index, gast.Tuple) else [index]
        return self._index_array(base, parts, pending)

    def _index_array(self, base, parts, pending):
        dims = base.dims
        if dims is None:
            return array(base.dtype, None)
        out = []
        rest = list(dims)
        ellipsis = False
        for k, p in enumerate(parts):
            ok, v = static_value(p)
            if ok and v is Ellipsis:
                if ellipsis:
                    return ANY
                ellipsis = True
                used = sum(1 for q in parts[k + 1:] if not (static_value(q) == (True, None)))
                if used > len(rest):
                    return ANY
                keep = len(rest) - used
                out += rest[:keep]
                rest = rest[keep:]
                continue
            if ok and v is None:
                out.append(ONE)
                continue
            if isinstance(p, gast.Slice):
                if not rest:
                    return ANY
                d = rest.pop(0)
                full = all(getattr(p, f) is None or static_value(getattr(p, f)) == (True, None)
                           for f in ("lower", "upper", "step"))
                out.append(d if full else None)
                continue
            a = self._of(p, pending)
            if a.kind in ("int", "bool") or (a.kind == "scalar" and a.dtype is not None
                                             and a.dtype.startswith(("int", "uint"))):
                if a.kind == "bool" or not rest:
                    return array(base.dtype, None)
                rest.pop(0)
                continue
            return array(base.dtype, None)      # an array of indices or of booleans
        dims = tuple(out + rest)
        if dims == ():
            return Abstract.make("scalar", base.dtype)
        return array(base.dtype, dims)

    def _call(self, node, pending):
        f = node.func
        if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
                and f.value.id == RUNTIME_ALIAS:
            entry = RUNTIME_RULES.get(f.attr)
            if entry is None:
                return ANY
            return self._apply(entry, f.attr, list(node.args), node.keywords, pending)
        if isinstance(f, gast.Name) and f.id in ("float", "int", "len", "complex", "bool") \
                and len(node.args) == 1 and not node.keywords:
            if f.id == "float":
                a = self._of(node.args[0], pending)
                return FLOAT if a.rank == 0 and a.is_complex is False else ANY
            return {"int": INT, "len": INT, "complex": COMPLEX, "bool": BOOL}[f.id]
        jvp_of = getattr(node, "s2s_jvp_of", None)
        if jvp_of is not None:
            # a tangent function's call: (the call's value, its tangent, shaped like it)
            v = self._call(jvp_of, pending)
            t = v if v.kind not in ("int", "bool", "none") else ANY
            return Abstract.make("tuple", None, None, (v, t))
        adjoints_of = getattr(node, "s2s_adjoints_of", None)
        if adjoints_of is not None:
            # a backward sweep's call: the adjoints of these arguments, shaped like them
            parts = tuple(self._of(gast.Name(id=v, ctx=gast.Load(), annotation=None,
                                             type_comment=None), pending) for v in adjoints_of)
            return parts[0] if len(parts) == 1 else Abstract.make("tuple", None, None, parts)
        if self.resolver is None:
            return ANY
        try:
            callee = callee_of(node, self.resolver)
        except Exception:
            return ANY
        if callee.kind in ("user", "lifted"):
            try:
                out = self.calls(node, self.resolver) if self.calls is not None else ANY
            except Exception:
                out = ANY
            if out is None:
                if pending:
                    raise _Pending
                return ANY
            return out
        prim = callee.prim
        if prim is None:
            ok, fn = self._static_outside(node.func)
            if ok and getattr(fn, "__module__", None) == "math" and not node.keywords \
                    and getattr(fn, "__name__", None) not in _MATH_NOT_FLOAT:
                return FLOAT        # (``math.lgamma``: a function of floats that has no rule)
            if ok and type(fn) is _CACHED:
                return _cached_result(fn)
            return ANY
        if callee.kind not in ("primitive", "method", "nondiff"):
            return ANY
        args = list(node.args)
        if callee.kind == "method":
            if getattr(callee, "packs", False) and len(args) > 1:
                args = [gast.Tuple(elts=args, ctx=gast.Load())]
            args = [callee.receiver] + args
        if prim.family == "math":
            return FLOAT if not node.keywords else ANY
        entry = rule_for(prim)
        if entry is not None:
            return self._apply(entry, prim.name, args, node.keywords, pending)
        if prim.elementwise and len(args) == prim.elementwise and not node.keywords:
            return elementwise([self._of(a, pending) for a in args], inexact=True) \
                if prim.elementwise == 1 else elementwise([self._of(a, pending) for a in args])
        return ANY

    def _apply(self, entry, prim_name, args, keywords, pending):
        rule, params = entry
        if len(args) > len(params) or any(isinstance(a, gast.Starred) for a in args) \
                or any(k.arg is None for k in keywords):
            return ANY
        bound = dict(zip(params, args))
        for k in keywords:
            if k.arg in bound:
                return ANY
            bound[k.arg] = k.value
        return rule(bound, _Evaluator(self, pending), prim_name=prim_name) or ANY

    def _rule(self, name, values):
        """A shape rule applied to abstract values instead of nodes."""
        entry = rule_named(name)
        if entry is None:
            return ANY
        rule, _ = entry
        return rule({k: _Given(v) for k, v in values.items()}, _Evaluator(self, False),
                    prim_name=name) or ANY

    # -- questions the rewriting asks -------------------------------------------------

    def static(self, node, pending=False):
        """``(True, value)`` when ``node``'s value is known: a constant, or a variable that
        holds one int (``axis`` given ``1`` at every call) or None; else ``(False, None)``."""
        ok, v = static_value(node)
        if ok:
            return ok, v
        if isinstance(node, gast.Name):
            a = self._of(node, pending) if pending else self.of(node)
            if a is NONE:
                return True, None
            v = int_value(a)
            if v is not None:
                return True, v
        return False, None

    def decided(self, test):
        """The value of an ``if`` test the facts decide (``axis is None``), else None."""
        return self._decide(test, False)

    def _decide(self, test, pending):
        if isinstance(test, gast.Compare) and len(test.ops) == 1 \
                and isinstance(test.ops[0], (gast.Is, gast.IsNot)) \
                and isinstance(test.left, gast.Name) \
                and static_value(test.comparators[0]) == (True, None):
            a = self._of(test.left, pending) if pending else self.of(test.left)
            if a is NONE:
                is_none = True
            elif a.kind in ("float", "int", "bool", "complex", "scalar", "array", "tuple",
                            "list", "dict"):
                is_none = False
            else:
                return None
            return is_none if isinstance(test.ops[0], gast.Is) else not is_none
        return None


def _forget_lists(a):
    """``a`` with each list in it (an item of a tuple too) made ``ANY``."""
    if a.kind == "list":
        return ANY
    if a.kind == "tuple" and any(x.kind in ("list", "tuple", "dict") for x in a.items):
        return Abstract.make("tuple", None, None, tuple(_forget_lists(x) for x in a.items))
    if a.kind == "dict":
        return Abstract.make("dict", None, None, tuple((k, _forget_lists(x)) for k, x in a.items))
    return a


_NOT_A_LIST = PY_NUMBERS + ("scalar", "array", "none")


def _changes_a_list(stmts, shapes):
    """Whether the statements may change a list in place: a changing method (``append``,
    ``pop``, ...) called on, an item or slice written into or deleted from, or ``+=``/``*=``
    applied to a value not known to be a number or an array (found on the values of a first
    solution, where lists still had their items); not the adjoints generated code accumulates
    item by item (``d_params[0] += d_w``), shaped like their primals, nor its tape."""
    def maybe_list(node):
        root = root_name(node)
        if root is not None and (root in shapes.adjoints or root in shapes.seeds
                                 or root == TAPE or root.startswith(TAPE + "_")):
            return False    # an adjoint the backward sweep fills (its items keep their primals'),
            #                 or the tape of generated code
        a = shapes.of(node)
        return a is None or a.kind not in _NOT_A_LIST
    for s in walk_stmts(stmts):
        targets = s.targets if isinstance(s, (gast.Assign, gast.Delete)) else \
            [s.target] if isinstance(s, gast.AugAssign) else []
        for t in targets:
            if isinstance(t, gast.Subscript) and maybe_list(t.value):
                return True
            if isinstance(s, gast.AugAssign) and isinstance(t, gast.Name) and maybe_list(t):
                return True
        for n in _walk(s):
            if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) \
                    and n.func.attr in CHANGING_METHODS and maybe_list(n.func.value):
                return True
    return False


_CACHED = type(functools.cache(lambda: None))
_cached_results = weakref.WeakKeyDictionary()


def _cached_result(fn):
    """What a ``functools.cache`` function returns: what the function it wraps returns for
    any arguments (a result it kept was made by a call of it), from its source."""
    try:
        return _cached_results[fn]
    except (KeyError, TypeError):
        pass
    out = ANY
    wrapped = getattr(fn, "__wrapped__", None)
    if isinstance(wrapped, types.FunctionType):
        try:
            from ..frontend.normalize import normalize
            from ..frontend.source import FunctionSource
            norm = normalize(FunctionSource.of(wrapped))
            params = [a.id for a in norm.node.args.args] + [a.id for a in norm.node.args.kwonlyargs]
            if norm.return_name:
                out = Shapes(norm.node.body, {}, norm.resolver, params=params).var(norm.return_name)
        except Exception:
            out = ANY
    try:
        _cached_results[fn] = out
    except TypeError:
        pass
    return out


def _guarded(stmts, guards):
    """Each statement, nested ones too, with the ``if`` tests it runs under: ``(test, True)``
    in an ``if``'s body, ``(test, False)`` in its ``else``."""
    for s in stmts:
        yield s, guards
        if isinstance(s, gast.If):
            yield from _guarded(s.body, guards + ((s.test, True),))
            yield from _guarded(s.orelse, guards + ((s.test, False),))
            continue
        for field in ("body", "orelse", "handlers", "finalbody"):
            sub = getattr(s, field, None)
            if isinstance(sub, list):
                for item in sub:
                    if isinstance(item, gast.ExceptHandler):
                        yield from _guarded(item.body, guards)
                yield from _guarded([x for x in sub if isinstance(x, gast.stmt)], guards)


class _Pending(Exception):
    """An operand has no value yet (the fixed point will come back to it)."""


class _Given:
    """A stand-in node whose abstract value is already known."""

    def __init__(self, value):
        self.value = value


class _Evaluator:
    """What a shape rule asks of the analysis: a node's abstract value, its constant value."""

    def __init__(self, shapes, pending):
        self.shapes = shapes
        self.pending = pending

    def of(self, node):
        if node is None:
            return NONE
        if isinstance(node, _Given):
            return node.value
        if hasattr(node, "value") and not isinstance(node, gast.AST):
            return node.value       # rules.shapes' own stand-ins
        return self.shapes._of(node, self.pending)

    def static(self, node):
        if node is None or isinstance(node, _Given) or not isinstance(node, gast.AST):
            return (False, None)
        return self.shapes.static(node, self.pending)
