"""Reverse mode: the forward sweep and the backward sweep of one function.

The forward sweep is the user's function (normalized) plus ``_tape.append``
calls that save values the function is about to overwrite.  The backward
sweep walks the statements in reverse.  For each it emits the chain rule,
inlining the derivative rules of the primitives it calls, and restores the
values the statement overwrote, so that every backward statement sees the
variables as they were when its forward statement ran ("restore semantics").

Every overwrite gets a candidate save; ``analysis.tape.prune`` later removes
each save whose restored value the backward sweep never reads, so straight-line
code keeps its values in locals and only loop-carried values reach the tape.
Variables assigned afresh in each iteration of a loop are saved once, at the
end of the iteration, instead.

Adjoints are tracked statically: an adjoint that is certainly zero has no
variable at all, its first contribution is an assignment, and zeros are only
materialized where control flow merges or a loop carries them.
"""


import functools

import gast
import numpy

import s2sgrad.naming as naming
from ..analysis import liveness
from ..analysis.effects import call_view_source, check_effects, view_source
from ..analysis.scalars import SCALAR_KINDS, is_scalar_expr, scalar_names
from ..analysis.activity import (Activity, attribute_primitive, bind_primitive, callee_of,
                                 diff_names, drop_stmts, int_names, is_runtime_call, op_name,
                                 walk_stmts)
from ..errors import NonDifferentiableError, NoRuleError, UnsupportedError
from ..frontend.normalize import assign, call, const, name, store, subscript
from ..syntax import copy_tree
from ..syntax import blocks, replace as _replace, store_counts, walk
from ..frontend.resolve import Callee
from .cse import _key
from .simplify import VIEWS, ShapeClasses, simplify, zeros_expr
from ..analysis.shapes import Shapes
from ..analysis.inexact import inexact_names
from ..rules import registry
from ..rules.template import RUNTIME_ALIAS, expression_name, inline, is_atom

__all__ = ["ReverseBuilder"]


# Runtime helpers whose result is always an array or number.
_RUNTIME_TENSOR_HELPERS = {"unbroadcast", "broadcast_like", "reduce_vjp", "max_vjp",
                           "matmul_vjp_a", "matmul_vjp_b", "dot_vjp_a", "dot_vjp_b",
                           "to_complex_like", "ones_like", "size", "ndim"}


# the NumPy ufunc of an augmented assignment's operator (``y[i] += v``: ``np.add``), whose
# write into an array ``_rt.check_in_place`` checks as NumPy does
_UFUNC_OF_OP = {gast.Add: "add", gast.Sub: "subtract", gast.Mult: "multiply",
                gast.Div: "true_divide", gast.FloorDiv: "floor_divide", gast.Mod: "remainder",
                gast.Pow: "power", gast.BitAnd: "bitwise_and", gast.BitOr: "bitwise_or",
                gast.BitXor: "bitwise_xor", gast.LShift: "left_shift", gast.RShift: "right_shift"}


def _get(holder, field):
    return holder[field] if isinstance(holder, list) else getattr(holder, field)


def _put(holder, field, value):
    if isinstance(holder, list):
        holder[field] = value
    else:
        setattr(holder, field, value)


def _rt(attr):
    return gast.Attribute(value=name(RUNTIME_ALIAS), attr=attr, ctx=gast.Load())


def _rt_call(attr, *args):
    """A call of a runtime helper, knowing its rules (generated code is differentiable)."""
    node = call(_rt(attr), list(args))
    if registry.listed(attr, "s2sgrad.runtime"):
        node.s2s_callee = _RuntimeCallee(attr)
    return node


class _RuntimeCallee(Callee):
    """The ``Callee`` of a call of the runtime helper ``attr``, which finds the helper's
    primitive (``kind``, ``prim``) when a pass first asks for it: the passes of most first
    gradients never do, and the rules of the runtime helpers are then not imported."""

    _FIELDS = frozenset(("kind", "prim", "namespace", "fn", "self_value", "receiver", "packs",
                         "node"))

    def __init__(self, attr):
        self.name = f"_rt.{attr}"
        self._attr = attr

    def __getattr__(self, field):       # (only while ``Callee``'s fields are not set)
        if field not in _RuntimeCallee._FIELDS:
            raise AttributeError(field)
        prim = registry.by_name(self._attr, "s2sgrad.runtime")
        Callee.__init__(self, "nondiff" if prim.nondiff else "primitive", self.name, prim=prim)
        return getattr(self, field)


def _tape_push(value):
    return gast.Expr(value=call(gast.Attribute(value=name(naming.TAPE), attr="append",
                                               ctx=gast.Load()), [value]))


def _tape_pop():
    return call(gast.Attribute(value=name(naming.TAPE), attr="pop", ctx=gast.Load()), [])


def _loads(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


class Slot:
    """One value saved by the forward sweep and restored by the backward sweep."""

    def __deepcopy__(self, memo):
        return self  # an annotation shared by copies of the AST, never copied

    def __init__(self, ident, var, maybe_undefined=False):
        self.id = ident
        self.var = var
        self.maybe_undefined = maybe_undefined
        self.alive = True


class _Contribution:
    def __init__(self, var, index, expr):
        self.var = var
        self.index = index      # None: the whole value; else d_var[index] += expr
        self.expr = expr


class ReverseBuilder:
    """Builds the reverse-mode functions of one (function, active parameters) pair."""

    recomputes_calls = False   # the backward sweep calls grad_g(args) (JointReverseBuilder)
    plans_item_writes = True   # y[i] = <expression> names the values its rules read

    def __init__(self, program, spec):
        self.program = program
        self.spec = spec
        self.norm = spec.norm
        self.fsrc = self.norm.fsrc
        self.namer = self.norm.namer
        self.resolver = self.norm.resolver
        self.params = [a.id for a in self.norm.node.args.args]
        self.activity = Activity(self.norm, spec.active_params)
        self.active = set(self.activity.active)
        self.ints = int_names(self.norm)
        self.adj = {}
        self.slots = []
        self.owned = set()
        self.entry_copies = set()   # arguments written through another name: copied on entry
        self.containers = set()
        self.tensors = set()
        self.xp = program.default_namespace(self.fsrc)
        self.scalars = set()        # variables that surely hold one number (see build)
        self.shape_only = set()     # names planned for a rule that reads only their shape
        self.inexact = set()        # names surely holding a float or complex value (build)

    # -- helpers ---------------------------------------------------------------

    def where(self, node=None):
        line = getattr(node, "s2s_line", None) or getattr(node, "lineno", None)
        return f"{self.fsrc.display_file}:{line or self.fsrc.node.lineno}"

    def _entry(self):
        """Whether this is the function the user called (its arguments are the caller's)."""
        return self.spec is self.program.entry_spec and not self.spec.split

    def user_text(self, node):
        """The user's code at ``node``'s line (what messages quote), else the node itself."""
        line = getattr(node, "s2s_line", None) or getattr(node, "lineno", None)
        return self.fsrc.line_text(line) or to_text(node)

    def d(self, var):
        """The adjoint variable of ``var``."""
        if var not in self.adj:
            self.adj[var] = self.namer.fresh(naming.adjoint(var))
        return self.adj[var]

    def tag(self, stmts, line):
        for s in stmts:
            if getattr(s, "s2s_origin", None) is None and line is not None:
                s.s2s_origin = (self.fsrc, line)
            if isinstance(s, (gast.If, gast.For, gast.While)):
                self.tag(s.body, line)
                self.tag(s.orelse, line)
        return stmts

    def active_expr(self, node):
        return bool(diff_names(node, self.resolver, self.where(node)) & self.active)

    def new_slot(self, var, maybe_undefined=False):
        slot = Slot(len(self.slots), var, maybe_undefined)
        self.slots.append(slot)
        return slot

    # -- entry point -----------------------------------------------------------

    def build(self):
        """Return ``(forward statements, backward statements, seed, gradients)``."""
        for p in self.spec.active_params:
            if p not in self.params:
                raise NonDifferentiableError(f"{self.fsrc.qualname} has no parameter {p!r}")
        # (a copy: planning rewrites statements in place, and the job's other specs, for other
        # active parameters, start from the same normalized body)
        body = self._name_discarded_pops(copy_tree(self.norm.node.body))
        self._classify_values(body)
        self._check_aliasing(body)
        body = self._in_place_checks(body)
        self.scalars = self._scalar_names(body)
        body = self._plan_block(body)
        body = self._prepare_block(body)
        self._real_body = body      # what analysis.realness reads (see _rule)
        self._find_owned(body)
        self.sparse = self._find_sparse_dicts(body)
        self.owned -= self.sparse
        prologue = []
        if not self.spec.split:
            for p in sorted((self._written_in_place(body) | self.entry_copies) & set(self.params)):
                copy_stmt = assign(p, _rt_call("copy", name(p)))
                copy_stmt.s2s_note = f"{p} is written in place: work on a copy of the caller's value"
                prologue.append(copy_stmt)
        elif self._written_in_place(body) & set(self.params):
            p = sorted(self._written_in_place(body) & set(self.params))[0]
            raise UnsupportedError(
                self.where(self.fsrc.node), f"{self.fsrc.name} writing into its argument {p!r}",
                "the caller would see the change; copy it first (p = p.copy()) and return it")
        body = prologue + body
        ret = self.norm.return_name
        self.ret = ret
        liveness.annotate_live_after(body, {ret} if ret else set())
        fwd = self._fwd_block(body, _FwdCtx(set(self.params), set(self.params)))
        seed = self.d(ret) if ret else self.namer.fresh(naming.RESULT_ADJOINT)
        state = {ret} if ret in self.active else set()
        bwd_prefix = []
        if ret in self.owned and ret in self.active:
            # (as the output's type: a 0-d array written into, y[()] = ..., gets a 0-d
            # cotangent, not the number 1.0 the sweep starts from)
            bwd_prefix.append(assign(seed, _rt_call("copy", _rt_call("match", name(seed), name(ret)))))
        bwd, state = self._bwd_block(body, state)
        shapes = ShapeClasses(body, self.params, self.resolver,
                              {a: v for v, a in self.adj.items()}, same_shape_params(self.fsrc))
        shapes.specialize(body, self.params, self.spec.job.abstract,
                          seeds={seed: ret} if ret else {}, numpy_name=self._numpy_name,
                          calls=self.program.call_result_hook(self.spec.job))
        self.seed_folded = False
        if getattr(self.spec, "seed_kind", None) == "one" and ret and shapes.abstract is not None \
                and self._float64_number(shapes, ret) and not bwd_prefix \
                and seed not in {self.d(p) for p in self.spec.active_params} \
                and _read_as_value_only(bwd, seed):
            # the sweep starts from the number 1.0 (a float64 output: it keeps the dtypes)
            bwd = [_Substitute(seed, const(1.0)).visit(st) for st in bwd]
            self.seed_folded = True
        if self.program.runs("simplify"):
            bwd = simplify(bwd, shapes)
        # the shape facts of the function's values (code specialized to a signature), or None
        self.facts = shapes.last_facts if self.program.runs("simplify") else None
        grads = []
        tail = []
        for p in self.spec.active_params:
            if p not in state:
                zero = None
                if self.facts is not None:
                    shapes.facts = self.facts
                    zero = zeros_expr(name(p), shapes)
                    shapes.facts = None
                tail.append(assign(self.d(p), zero or _rt_call("zeros_like", name(p))))
                state.add(p)
            grads.append(self.d(p))
        self.tag(tail, self.fsrc.node.lineno)
        bwd = _propagate_copies(bwd_prefix + bwd + tail, fwd, set(grads) | {seed} | set(self.params))
        bwd = bwd + _unshared_gradients(bwd, grads)
        fwd = self._unname(fwd, bwd)
        return fwd, bwd, seed, grads

    @staticmethod
    def _float64_number(shapes, var):
        """Whether the facts prove ``var`` (a primal variable) a Python float or a float64
        scalar at the end of the function."""
        a = shapes.facts_for([]).var(var)
        return a.kind == "float" or a.kind == "scalar" and a.dtype == "float64" \
            or a.kind == "array" and a.dtype == "float64" and a.dims == ()

    def _unname(self, fwd, bwd):
        """Put back into its expression a value named for its shape only (see
        ``_recompute_ok``) that the backward sweep does not read after all: named in
        straight code and read once, by the statement it was taken from."""
        read = {n.id for st in walk_stmts(bwd) for n in walk(st)
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        unread = self.shape_only - read
        if not unread:
            return fwd
        out = list(fwd)
        for t in sorted(unread):
            at = next((i for i, st in enumerate(out) if isinstance(st, gast.Assign)
                       and len(st.targets) == 1 and isinstance(st.targets[0], gast.Name)
                       and st.targets[0].id == t), None)
            if at is None:
                continue
            uses = [(k, n) for k in range(len(out)) for n in walk(out[k])
                    if isinstance(n, gast.Name) and n.id == t and isinstance(n.ctx, gast.Load)]
            if len(uses) != 1 or uses[0][0] <= at:
                continue
            k, use = uses[0]
            value = out[at].value
            between = out[at + 1:k]
            names = _loads(value)
            if any(isinstance(n, gast.Name) and n.id in names and isinstance(n.ctx, gast.Store)
                   for st in between + [out[k]] for n in walk(st)
                   if not (st is out[k] and isinstance(st, gast.Assign) and n in st.targets)):
                continue
            _replace(out[k], use, value)
            del out[at]
        return out

    def _numpy_name(self):
        """NumPy's name in the generated module (what specialized code calls)."""
        import numpy
        return self.program.module.symbol(numpy, "np")

    # -- what kind of value each variable holds ---------------------------------

    def _scalar_names(self, body):
        """Variables that surely hold one number (``analysis.scalars``): the parameters the
        request's signature says are numbers, and arithmetic on them."""
        abstract = getattr(self.spec.job, "abstract", None) or {}
        known = {p for p, a in abstract.items() if getattr(a, "kind", None) in SCALAR_KINDS}
        known |= {("items", p) for p, a in abstract.items()
                  if getattr(a, "kind", None) in ("tuple", "list") and a.items
                  and all(getattr(i, "kind", None) in SCALAR_KINDS for i in a.items)}
        args = self.norm.node.args
        params = [a.id for a in args.args + args.kwonlyargs]
        if args.vararg is not None:
            params.append(getattr(args.vararg, "id", None) or getattr(args.vararg, "arg", None))
        return scalar_names(body, self.resolver, params=params, known=known)

    def _classify_values(self, body):
        """Containers (lists, dicts, tuples) versus arrays and numbers."""
        for s in walk_stmts(body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
                v, value = s.targets[0].id, s.value
                if isinstance(value, (gast.List, gast.Tuple, gast.Dict)):
                    self.containers.add(v)
                elif isinstance(value, (gast.BinOp, gast.UnaryOp)):
                    self.tensors.add(v)
                elif isinstance(value, gast.Call):
                    c = callee_of(value, self.resolver)
                    if c.kind in ("primitive", "method") and c.prim.family in ("array", "math"):
                        self.tensors.add(v)
            if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
                c = callee_of(s.value, self.resolver)
                if c.kind == "container" and isinstance(c.receiver, gast.Name):
                    self.containers.add(c.receiver.id)
        for s in walk_stmts(body):
            for n in walk(s):
                if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name) \
                        and isinstance(n.slice, gast.Constant) and isinstance(n.slice.value, str):
                    self.containers.add(n.value.id)
                if isinstance(n, gast.BinOp):
                    for side in (n.left, n.right):
                        if isinstance(side, gast.Name):
                            self.tensors.add(side.id)
                if isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) \
                        and attribute_primitive(n.attr) is None \
                        and not isinstance(getattr(n, "ctx", None), gast.Store):
                    self.containers.add(n.value.id)
        # a slice of an array is an array (``t = y[:3]``, which a callee's ``v /= e`` changes
        # in place, as it changes y), not a number
        slices = [(s.targets[0].id, s.value.value.id) for s in walk_stmts(body)
                  if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                  and isinstance(s.value, gast.Subscript) and isinstance(s.value.value, gast.Name)
                  and any(isinstance(n, gast.Slice) for n in walk(s.value.slice))]
        grown = True
        while grown:
            grown = False
            for v, base in slices:
                if base in self.tensors and base not in self.containers \
                        and v not in self.tensors:
                    self.tensors.add(v)
                    grown = True
        self.tensors -= self.containers

    def _refuse_array_write(self, s):
        """A call that writes into an array that carries a derivative (``np.put(a, ...)``,
        marked by normalize) cannot be differentiated: say so, at the user's line."""
        target = getattr(s.value, "s2s_writes", None)
        varied = self.activity.varied
        if target is not None and (target in self.active or any(
                isinstance(n, gast.Name) and n.id in varied for n in walk(s.value))):
            # (into an array without a derivative, a value with one: ``np.copyto(y, x ** 2,
            # where=m)`` would give y a derivative that the activity analysis did not see)
            raise UnsupportedError(self.where(s), f"{to_text(s.value)}, which writes into "
                                   f"{target} in place",
                                   f"compute a new array instead (with np.where, or "
                                   f"{target}[index] = value)")

    def _name_discarded_pops(self, stmts):
        """``l.pop()`` whose value is dropped becomes ``popped = l.pop()`` on a list with adjoints.

        Generated code pops its tape this way; as an assignment, the backward
        sweep puts the value back (``l.append(popped)``) like any other pop.
        """
        out = []
        for s in stmts:
            if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call) \
                    and isinstance(s.value.func, gast.Attribute) and s.value.func.attr == "pop" \
                    and isinstance(s.value.func.value, gast.Name) \
                    and s.value.func.value.id in self.active:
                callee = callee_of(s.value, self.resolver)
                if callee.kind == "container":
                    new = assign(self.namer.fresh("popped"), s.value)
                    new.s2s_line = getattr(s, "s2s_line", None)
                    s = new
            elif isinstance(s, (gast.If, gast.For, gast.While)):
                s.body = self._name_discarded_pops(s.body)
                s.orelse = self._name_discarded_pops(s.orelse)
            out.append(s)
        return out

    def _written_in_place(self, body):
        out = set()
        for s in walk_stmts(body):
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                    and isinstance(s.targets[0].value, gast.Name):
                out.add(s.targets[0].value.id)
        return out

    def _check_aliasing(self, body):
        """In-place writes must not reach another name for the same array.

        ``w = v[1:3]`` (or ``w = v``, ``w = v.T``) makes ``w`` share memory with
        ``v``.  That is refused only where it would matter: a write through one
        name that the other name is read after, a write into what aliases an
        argument (the caller's array must not change), or a write through the
        view itself.
        """
        if not str(self.fsrc.filename).startswith("<s2sgrad:"):   # (generated code: by design)
            check_effects(body, norm=self.norm, varied=set(self.activity.varied),
                          containers=self.containers, tensors=self.tensors, ints=self.ints,
                          where=self.where, text=self.user_text, program=self.program,
                          job=self.spec.job)
        self._check_augmented_views(body)
        written = self._written_in_place(body)
        if not written:
            return
        order = _statement_order(body)
        after = functools.partial(_may_follow, order)     # may ``b`` run after ``a``?

        loops = {id(s): s for s in walk_stmts(body) if isinstance(s, (gast.For, gast.While))}

        def rebound(names, a, b):
            """Whether ``b`` runs only in a later iteration than ``a`` of a loop whose body
            rebinds one of ``names`` on every path before ``b``: the alias is then gone."""
            (pa, la, _), (pb, lb, _) = order[id(a)], order[id(b)]
            if pb > pa or not la & lb:
                return False
            inner = loops[max(la & lb, key=lambda lid: order[lid][0])]
            prefix = []
            for top in inner.body:
                if top is b or any(x is b for x in walk_stmts([top])):
                    break
                prefix.append(top)
            return bool(liveness.definitely_assigned(prefix) & names)

        def alive(st, w, r, target, source, reader):
            """May ``w``'s write through one name reach ``r``'s read of ``reader`` through
            the memory ``st`` (``target = <view of source>``) made them share?"""
            return after(st, w) and after(w, r) and not rebound({target, source}, st, w) \
                and not rebound({reader}, w, r)

        def sees(st, w, r, target, source):  # may ``r`` read the view ``st`` made after ``w`` wrote?
            (pw, lw, _), (pr, lr, _), (ps, ls, top) = order[id(w)], order[id(r)], order[id(st)]
            if not alive(st, w, r, target, source, target):
                return False
            # Read before the write in program order: only in a later iteration, and
            # ``st`` makes the view afresh first when it is at the top of the loop.
            return pr > pw or not (top in (lw & lr) and (lw & lr) <= ls and ps < pr)

        writes = {v: [st for st in walk_stmts(body) if isinstance(st, gast.Assign)
                      and isinstance(st.targets[0], gast.Subscript)
                      and isinstance(st.targets[0].value, gast.Name)
                      and st.targets[0].value.id == v] for v in written}
        reads = {}
        for st in walk_stmts(body):
            for n in walk(st):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                    reads.setdefault(n.id, []).append(st)
        user_names = {n.id for n in walk(self.fsrc.node) if isinstance(n, gast.Name)}
        numbers = self._number_items(body)
        group_of = self._alias_groups(body, numbers)
        copies = []
        for st in walk_stmts(body):
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)):
                continue
            target, value = st.targets[0].id, st.value
            source = self._view_source(value)
            if source is None or source == target or self._slice_of_list(value, source) \
                    or numbers(value):
                continue
            # the names that may share memory with ``target`` through ``source``: ``source``,
            # what it is a view of and what else is a view of those (w = v[::2], v = y[1:5])
            item = self._item_of_container(value, source)     # (an item: not a view)
            group = {source} if item else group_of(source) - {target}
            if target not in written and not group & written:
                continue        # (nothing written through either name: nothing to check)
            # a name the compiler made is shown as what it holds
            shown = repr(target) if target in user_names else to_text(value)
            problem = None
            params = sorted(group & set(self.params))
            if target in written and params and self._entry():
                # the entry function works on a copy of the caller's array (see build)
                self.entry_copies.update(params)
            if target in written and params and not self._entry():
                problem = (f"makes {shown} another name for the argument '{params[0]}' before "
                           f"writing into it", f"write {target} = {to_text(value)}.copy() (the "
                           f"caller's array must not change)")
            elif target in written and (other := next(
                    (o for o in sorted(group, key=lambda o: (o != source, o))
                     for w in writes[target] for r in reads.get(o, [])
                     if alive(st, w, r, target, source, o)), None)) is not None:
                problem = (f"makes {shown} share memory with '{other}', and '{other}' is read "
                           f"after {shown} is written in place", None)
            elif not item and (other := next(
                    (g for g in sorted(group, key=lambda g: (g != source, g)) if g in written
                     for w in writes[g] for r in reads.get(target, [])
                     if sees(st, w, r, target, source)), None)) is not None:
                problem = (f"makes {shown} share memory with '{other}', and {shown} is read "
                           f"after '{other}' is written in place", None)
            if problem:
                own = f"write {target} = {to_text(value)}.copy()" if target in user_names \
                    else f"use {to_text(value)}.copy()"
                advice = problem[1] or f"{own} so each name has its own array"
                raise UnsupportedError(self.where(st), f"`{self.user_text(st)}`, which "
                                       f"{problem[0]}", advice)
            if not item and target not in written and target in self.active and any(
                    after(st, w) and not rebound({target, source}, st, w)
                    for g in group & written for w in writes[g]):
                # ``v = Q[:, j]; n = norm(v); Q[:, j] = v / n``: v is not read after the write
                # (checked above), but the derivatives of the reads before it read v in the
                # backward sweep, after the write changed it: a copy, which no read can tell
                copies.append(st)
        _copied(copies)

    def _view_bindings(self, body):
        """``(statement, target, value, source)`` for each plain assignment ``target = value``
        of ``body`` whose value may be a view of (or is) the array named ``source``, another
        name than ``target``."""
        for st in walk_stmts(body):
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)) \
                    or getattr(st, "s2s_augmented", False):
                continue
            target, value = st.targets[0].id, st.value
            source = self._view_source(value)
            if source is not None and source != target:
                yield st, target, value, source

    def _alias_groups(self, body, numbers=None):
        """``group_of(name)``: the names that may share memory with ``name`` through the
        views the function makes (``v = y[1:5]``, ``w = v[::2]``, ``a = y``, ``b = a``:
        y, v, w, a and b are one group), found flow-insensitively over the whole body: more
        names than on any one path, never fewer.  A slice of a list, an item of a container
        and a number read out of an array (``numbers``) are not views."""
        edges = {}
        for st, target, value, source in self._view_bindings(body):
            if self._slice_of_list(value, source) or self._item_of_container(value, source) \
                    or (numbers is not None and numbers(value)):
                continue
            edges.setdefault(target, set()).add(source)
            edges.setdefault(source, set()).add(target)
        groups = {}

        def group_of(name):
            if name not in groups:
                seen, todo = {name}, [name]
                while todo:
                    for m in edges.get(todo.pop(), ()):
                        if m not in seen:
                            seen.add(m)
                            todo.append(m)
                for m in seen:
                    groups[m] = seen
            return set(groups[name])
        return group_of

    def _number_items(self, body):
        """``numbers(value)``: whether the subscript ``value`` is certainly one NumPy or Python
        number, a copy and not a view: ``y[0]`` of an array the call's signature proves 1-D
        (code specialized to it, ``job.abstract``), as in the swap ``y[0], y[1] = y[1], y[0]``.
        In general code (or a 0-d result, which ``y[0, ...]`` is, a view) it may be a view."""
        abstract = getattr(self.spec.job, "abstract", None)
        if not abstract:
            return lambda value: False
        facts = []      # (the analysis runs at the first subscript asked about, if any)

        def numbers(value):
            if not isinstance(value, gast.Subscript):
                return False
            try:
                if not facts:
                    facts.append(Shapes(body, abstract, self.resolver, params=self.params))
                a = facts[0].of(value)
            except Exception:      # noqa: BLE001 - no facts: the subscript may be a view
                return False
            return a.kind in ("float", "int", "bool", "complex", "scalar")
        return numbers

    def _slice_of_list(self, value, source):
        """``m = l[:]`` (``l[1:]``...) of a list: a new list (its items are ``l``'s, which
        ``analysis.effects`` follows); a write into ``m`` replaces ``m``'s items only."""
        return isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) \
            and isinstance(value.slice, gast.Slice) and source in self.containers \
            and source not in self.tensors

    def _item_of_container(self, value, source):
        """``a = c[k]`` of a list or dict: a write into ``c`` (``c[k] = h``) replaces the item
        and leaves the object ``a`` refers to as it was."""
        return isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) \
            and source in self.containers and source not in self.tensors

    def _check_augmented_views(self, body):
        """``v += e`` changes an array in place, and with it every array ``v`` is a view of
        (``v = y[1:]``, ``v = y``): the core language's ``v = v + e`` would not.  Refused
        where ``v`` is a slice or a transpose of another value, or another name for an array."""
        augmented = {s.targets[0].id for s in walk_stmts(body)
                     if isinstance(s, gast.Assign) and getattr(s, "s2s_augmented", False)}
        if not augmented:
            return
        for st, target, value, source in self._view_bindings(body):
            if target not in augmented:
                continue
            if isinstance(value, gast.Name) and source not in self.tensors:
                continue   # another name for a value that may be a number: v += e is a new one
            if source not in self.active and target not in self.active \
                    and not self._read_after_augmented(body, st, target, source):
                continue    # (no derivative: only a value read later through the other name)
            raise UnsupportedError(
                self.where(st), f"{to_text(st)}, and then {target} op= ..., which changes "
                f"{source} in place too", f"write {target} = {target} + ... (a new array), or "
                f"write into {source} itself ({source}[...] += ...)")
        self._check_augmented_sources(body, augmented)

    def _check_augmented_sources(self, body, augmented):
        """The other way round: ``b = a`` (or a view of ``a``), then ``a op= e``, which changes
        ``b`` too, and ``b`` read after it: refused (the core language's ``a = a + e``
        would leave ``b`` as it was)."""
        order = _statement_order(body)
        after = functools.partial(_may_follow, order)     # may ``b`` run after ``a``?

        aug = [w for w in walk_stmts(body) if isinstance(w, gast.Assign)
               and getattr(w, "s2s_augmented", False) and isinstance(w.targets[0], gast.Name)]
        reads = {}
        for st in walk_stmts(body):
            for n in walk(st):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                    reads.setdefault(n.id, []).append(st)
        group_of = self._alias_groups(body)
        for st, target, value, source in self._view_bindings(body):
            # ``a`` itself, or another name of its memory (c = b[1:] where b = a[...])
            changed = {g for g in group_of(source) - {target}
                       if g in augmented and g in self.tensors}
            if not changed:
                continue   # (a number, or a list: ``a += e`` on a number is a new value)
            # (with no derivative either, ``b`` read after keeps the old value: a wrong value)
            for w in aug:
                if w.targets[0].id not in changed or w is st or not after(st, w) \
                        or _alias_rebound(body, st, w, {source, target}):
                    continue
                r = next((r for r in reads.get(target, []) if r is not st and r is not w
                          and after(w, r)), None)
                if r is not None:
                    a = w.targets[0].id
                    raise UnsupportedError(
                        self.where(w), f"{to_text(st)}, and then {a} op= ..., which "
                        f"changes {target} in place too, read after it ({to_text(r)})",
                        f"write {a} = {a} + ... (a new array), or make {target} a "
                        f"copy ({target} = {to_text(value)}.copy())")

    def _read_after_augmented(self, body, st, target, source):
        """Whether ``source`` may be read after a ``target op= e`` that follows ``st``
        (``target = <view of source>``) with the alias still alive: the core language's
        ``target = target op e`` leaves ``source`` as it was, NumPy changes it.  Asked where
        neither name carries a derivative, whose values still reach the output (``y =
        np.zeros(3); v = y[1:]; v += 1.0; return np.sum(y * x)``) or the control flow."""
        order = _statement_order(body)
        after = functools.partial(_may_follow, order)     # may ``b`` run after ``a``?

        group = self._alias_groups(body)(source) - {target}
        readers = [r for r in walk_stmts(body) if any(
            isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load) and n.id in group
            for n in walk(r))]
        for w in walk_stmts(body):
            if not (isinstance(w, gast.Assign) and getattr(w, "s2s_augmented", False)
                    and isinstance(w.targets[0], gast.Name) and w.targets[0].id == target):
                continue
            if w is st or not after(st, w) or _alias_rebound(body, st, w, {source, target}):
                continue
            if any(r is not st and r is not w and after(w, r) for r in readers):
                return True
        return False

    def _view_source(self, value):
        """The variable whose memory ``value`` may share, or ``None`` if it is fresh (a call
        of a function of yours that returns a view of what it is given shares its memory)."""
        source = view_source(value, self.resolver)
        if source is None and isinstance(value, gast.Call):
            source = call_view_source(value, self.resolver, self.program, self.spec.job)
        return source

    # -- planning: keep expensive values the backward sweep needs -----------------

    def _plan_block(self, stmts):
        out = []
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                    and s.targets[0].id in self.active and self._is_expression(s.value):
                hoisted = []
                s.value = self._plan_expr(s.value, hoisted, s.targets[0].id, root=True)
                for h in hoisted:
                    h.s2s_line = getattr(s, "s2s_line", None)
                out.extend(hoisted)
                out.append(s)
            elif self.plans_item_writes and isinstance(s, gast.Assign) \
                    and isinstance(s.targets[0], gast.Subscript) \
                    and isinstance(s.targets[0].value, gast.Name) \
                    and s.targets[0].value.id in self.active and self._is_expression(s.value) \
                    and self.active_expr(s.value):
                # y[i] = <expression>: its values are named before the write, like any other
                hoisted = []
                s.value = self._plan_expr(s.value, hoisted, s.targets[0].value.id, root=True)
                for h in hoisted:
                    h.s2s_line = getattr(s, "s2s_line", None)
                out.extend(hoisted)
                out.append(s)
            elif isinstance(s, (gast.If, gast.For, gast.While)):
                s.body = self._plan_block(s.body)
                s.orelse = self._plan_block(s.orelse)
                out.append(s)
            else:
                out.append(s)
        return out

    def _is_expression(self, value):
        if isinstance(value, gast.Call):
            return callee_of(value, self.resolver).kind in ("primitive", "method")
        return isinstance(value, (gast.BinOp, gast.UnaryOp, gast.Attribute, gast.Subscript))

    def _node_rule(self, node):
        """``(primitive, {param: child node}, namespace)`` for a differentiable node, or None."""
        if isinstance(node, gast.BinOp):
            prim = registry.operator_primitive(op_name(node.op))
            if prim is None or prim.nondiff:
                return None
            first, second = prim.params[:2]
            return prim, {first: node.left, second: node.right}, None
        if isinstance(node, gast.UnaryOp):
            prim = registry.operator_primitive(op_name(node.op))
            if prim is None or prim.nondiff:
                return None
            return prim, {prim.params[0]: node.operand}, None
        if isinstance(node, gast.Attribute):
            prim = attribute_primitive(node.attr)
            if prim is None or prim.nondiff:
                return None
            return prim, {prim.params[0]: node.value}, None
        if isinstance(node, gast.Subscript) and not isinstance(node.value, gast.Name):
            prim = registry.operator_primitive("getitem")
            return prim, {"x": node.value, "index": index_value(node.slice)}, None
        if isinstance(node, gast.Call):
            c = callee_of(node, self.resolver)
            if c.kind in ("primitive", "method"):
                return c.prim, bind_primitive(c.prim, node, c, self.where(node)), c.namespace
        return None

    def _plan_expr(self, node, hoisted, target, root=False, needed=None):
        """``node`` with the values the backward sweep reads named in ``hoisted``.

        ``needed`` says how the rule of the expression around ``node`` reads it:
        ``"value"`` (its values: ``g * cos(x)``), ``"shape"`` (only its shape or dtype:
        ``unbroadcast(g, x)``) or None.  Whether a needed value is named or computed
        again where the backward sweep reads it is the cost model of ``_recompute_ok``.
        """
        info = self._node_rule(node)
        if info is None:
            if needed and not root and isinstance(node, gast.Call):
                # a value without a derivative that a rule reads (np.random.normal(...)):
                # computed once, never again in the backward sweep (it may not give the same)
                t = self.namer.fresh(f"{target}_{_call_base_name(node)}")
                hoisted.append(assign(t, node))
                if self.active_expr(node):   # (a call without a rule: an error further on)
                    self.active.add(t)
                return name(t)
            return node
        prim, bound, _ = info
        rules = self.rules_of(prim)
        va = registry.varargs_param(prim)
        active_params = [p for p, v in bound.items()
                         if p in rules and self._any_active(v, p == va)]
        uses_ans = _strongest(self._need(rules[p], "ans") for p in active_params)
        for p, child in bound.items():
            if p == va or isinstance(child, (gast.List, gast.Tuple)) and p in rules:
                continue
            if not isinstance(child, gast.expr) or is_atom(child):
                continue
            child_needed = _strongest(self._need(rules[q], p) for q in active_params)
            new = self._plan_expr(child, hoisted, target, needed=child_needed)
            if new is not child:
                self._replace_child(node, child, new)
        need = _strongest((needed, uses_ans))
        if not root and need and not self._recompute_ok(node, need) \
                and (needed or self.active_expr(node)):
            t = self.namer.fresh(f"{target}_{prim.name.split('.')[-1]}")
            hoisted.append(assign(t, node))
            if self.active_expr(node):
                self.active.add(t)
            if need == "shape":
                self.shape_only.add(t)      # (put back if the backward sweep never reads it)
            return name(t)
        return node

    def rules_of(self, prim):
        """The rules this transform inlines: reverse (vjp); forward mode reads the jvp rules."""
        return prim.vjp

    def rule_reads_ans(self, rule):
        """Whether ``rule`` needs the value of the call it differentiates (then it is kept)."""
        return rule.template.reads("ans")

    def _need(self, rule, param):
        """How ``rule`` reads its parameter ``param``: ``"value"``, ``"shape"`` (its shape
        or dtype only) or None."""
        if param == "ans":
            if not self.rule_reads_ans(rule):
                return None
        elif not rule.template.reads(param):
            return None
        return "value" if rule.template.reads_value(param) else "shape"

    def _reads_own_value(self, node):
        """Whether the rule of ``node`` (the whole right side of an assignment) reads the
        value it computes, and computing it again would cost more than keeping it."""
        info = self._node_rule(node)
        if info is None or self._cheap_value(node):
            return False
        prim, bound, _ = info
        rules = self.rules_of(prim)
        va = registry.varargs_param(prim)
        return any(self._need(rules[p], "ans") == "value" for p, v in bound.items()
                   if p in rules and self._any_active(v, p == va))

    def _recompute_ok(self, node, need):
        """The cost model: whether the backward sweep may compute ``node`` again where a
        rule reads it (``need``: how it does) rather than the forward sweep naming it.

        A named value costs nothing in straight code and, in a loop, one save and one
        restore per iteration (``analysis.tape`` keeps only those the backward sweep
        reads); the saved array itself is not copied, only kept alive.  Computing it
        again costs what it costs: time proportional to its size for an array
        operation, a kernel call for ``exp`` or ``solve``.  So a value is named unless
        computing it again is no dearer than a save and a restore: a name or constant,
        an item or attribute read (``x[i]``, ``x.T``: a view), and arithmetic on numbers
        (``2.0 * t``, ``math.sin(theta)`` for a known float, see ``analysis.scalars``).
        Memory is what this trades: an array the backward sweep reads stays alive until
        it does, as in a hand-written adjoint.  A value read only for its shape or dtype
        (``unbroadcast(g, a * b)``) is named when computing it is dearer than elementwise
        arithmetic (a matrix product, a reduction): the simplify pass usually replaces an
        elementwise one by a variable of the same shape, and keeping it would keep an
        array alive (on the tape, in a loop) for its shape.  Where it cannot, the shape
        analysis of specialized code (``signature``) does; a named value the backward
        sweep does not read after all is put back into its expression (``_unname``).
        """
        if need == "shape":
            return self._cheap(node)
        return self._cheap_value(node)

    def _cheap_value(self, node):
        """Cheaper to compute again than to keep: see ``_recompute_ok``."""
        if is_atom(node) or isinstance(node, gast.Constant):
            return True
        if isinstance(node, (gast.Subscript, gast.Attribute)):
            return self._cheap_value(node.value)
        return is_scalar_expr(node, self.scalars, self.resolver)

    def _any_active(self, v, many):
        items = v if many else [v]
        return any(isinstance(i, gast.AST) and self.active_expr(i) for i in items)

    def _replace_child(self, node, old, new):
        for field, value in gast.iter_fields(node):
            if value is old:
                setattr(node, field, new)
                return
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if item is old:
                        value[k] = new
                        return
                    if isinstance(item, gast.keyword) and item.value is old:
                        item.value = new
                        return

    def _cheap(self, node):
        if is_atom(node) or isinstance(node, gast.Constant):
            return True
        if isinstance(node, (gast.Subscript, gast.Attribute)):
            return self._cheap(node.value)
        info = self._node_rule(node)
        if info is None:
            return False
        prim, bound, _ = info
        return prim.cheap and all(self._cheap(v) for v in bound.values()
                                  if isinstance(v, gast.expr))

    def _find_sparse_dicts(self, body):
        """Dicts read only as ``d['key']``: their adjoint keeps one entry per key, made on first use.

        Their adjoints start as ``{}`` and each key's adjoint is tracked like a
        variable (the first contribution assigns it); keys never reached are
        zeros, filled in where the gradient is returned (``_rt.match``).
        """
        candidates = {v for v in self.containers if v in self.active}
        for s in walk_stmts(body):
            nodes = list(walk(s))
            inside = {id(n.value) for n in nodes if isinstance(n, gast.Subscript)
                      and isinstance(n.slice, gast.Constant) and isinstance(n.slice.value, str)}
            methods = {id(n.func) for n in nodes if isinstance(n, gast.Call)}
            inside |= {id(n.value) for n in nodes if isinstance(n, gast.Attribute)
                       and attribute_primitive(n.attr) is None and id(n) not in methods}
            for n in nodes:
                if isinstance(n, gast.Name) and n.id in candidates and id(n) not in inside \
                        and isinstance(n.ctx, gast.Load):
                    candidates.discard(n.id)
            if isinstance(s, gast.Assign):
                t = s.targets[0]
                if isinstance(t, gast.Name) and t.id in candidates:
                    candidates.discard(t.id)   # defined here: its definition reads whole adjoints
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    candidates.discard(t.value.id)
        return candidates & set(self.params)

    def _find_owned(self, body):
        """Variables whose adjoint is updated in place: they own their adjoint buffer."""
        for s in walk_stmts(body):
            if isinstance(s, gast.Assign):
                t = s.targets[0]
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    self.owned.add(t.value.id)
                for n in walk(s.value):
                    if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name):
                        self.owned.add(n.value.id)
            elif isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
                c = callee_of(s.value, self.resolver)
                if c.kind == "container" and isinstance(c.receiver, gast.Name):
                    self.owned.add(c.receiver.id)
                for n in walk(s.value):
                    if isinstance(n, gast.Subscript) and isinstance(n.value, gast.Name):
                        self.owned.add(n.value.id)
        for s in walk_stmts(body):
            if isinstance(s, gast.Assign) and isinstance(s.value, gast.Call):
                c = callee_of(s.value, self.resolver)
                if c.kind == "container" and isinstance(c.receiver, gast.Name):
                    self.owned.add(c.receiver.id)
        self.owned &= self.active | set(self.params)

    # -- making control flow replayable ---------------------------------------------

    def _prepare_block(self, stmts):
        """Spell out what the backward sweep needs to replay control flow.

        An ``if`` whose test reads variables its branches change (or calls a
        function) tests a saved condition; a loop that can end early, and every
        ``while`` loop, counts its iterations.  These are ordinary statements,
        so the analyses and the tape treat them like the user's own.
        """
        out = []
        for s in stmts:
            line = getattr(s, "s2s_line", None)
            if isinstance(s, gast.If):
                s.body = self._prepare_block(s.body)
                s.orelse = self._prepare_block(s.orelse)
                changed = liveness.maybe_assigned(s.body + s.orelse)
                if (_loads(s.test) & changed) or _has_call(s.test):
                    cond = self.namer.fresh("cond")
                    out.append(assign(cond, s.test, line))
                    s.test = name(cond)
                out.append(s)
            elif isinstance(s, (gast.For, gast.While)):
                s.body = self._prepare_block(s.body)
                breaks = bool(s.body) and _is_break_check(s.body[-1])
                if breaks or isinstance(s, gast.While):
                    counter = self.namer.fresh("trips")
                    s.s2s_counter = counter
                    out.append(assign(counter, const(0), line))
                    inc = assign(counter, gast.BinOp(left=name(counter), op=gast.Add(),
                                                     right=const(1)), line)
                    s.body = [inc] + s.body
                out.append(s)
            else:
                out.append(s)
        return out

    # -- forward sweep -----------------------------------------------------------

    def _fwd_block(self, stmts, ctx):
        out = []
        for s in stmts:
            line = getattr(s, "s2s_line", None)
            out.extend(self.tag(self._fwd_stmt(s, ctx), line))
        return out

    def _save_before(self, s, var, ctx):
        """A candidate save of ``var`` before ``s`` overwrites it."""
        if var not in ctx.maybe:
            return []
        slot = self.new_slot(var, maybe_undefined=var not in ctx.definite)
        s.s2s_slots = getattr(s, "s2s_slots", []) + [slot]
        push = _tape_push(name(var))
        push.s2s_push = slot
        return [push]

    def _fwd_stmt(self, s, ctx):
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                out = self._save_before(s, t.id, ctx)
                out.append(self._fwd_assign(s))
                ctx.maybe.add(t.id)
                ctx.definite.add(t.id)
                return out
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                if self.active_expr(s.value) and t.value.id not in self.active \
                        and t.value.id in self.activity.useful:
                    raise UnsupportedError(self.where(s), "writing a value that carries a "
                                           "derivative into an array that does not")
                slot = self.new_slot(("item", t.value.id))
                s.s2s_slots = [slot]
                if self._keyed(t):
                    # A dict may not hold the key yet: save the item or its absence.
                    saved = _rt_call("saved_item", name(t.value.id), index_value(t.slice))
                else:
                    saved = _rt_call("copy", copy_tree(gast.Subscript(
                        value=name(t.value.id), slice=t.slice, ctx=gast.Load())))
                push = _tape_push(saved)
                push.s2s_push = slot
                return [push, s]
            if isinstance(t, gast.Attribute) and self.active_expr(s.value):
                raise UnsupportedError(self.where(s), "storing a value that carries a derivative "
                                       "in an object attribute",
                                       "keep it in a local variable, list or dict")
            return [s]
        if isinstance(s, gast.Expr):
            c = s.value
            self._refuse_array_write(s)
            if is_runtime_call(c, "restore_item", 3) and isinstance(c.args[0], gast.Name) \
                    and c.args[0].id in self.active:
                raise UnsupportedError(self.where(s), "the reverse mode of generated code that "
                                       "puts back a dict item it overwrote in a loop",
                                       "use forward mode over it (hvp, hessian, jacobian), or "
                                       "keep the value in a list or a variable")
            if isinstance(c, gast.Call):
                callee = callee_of(c, self.resolver)
                if callee.kind == "container" and isinstance(callee.receiver, gast.Name):
                    method = c.func.attr
                    recv = callee.receiver.id
                    if method == "append":
                        slot = self.new_slot(("inverse", recv))
                        s.s2s_slots = [slot]
                    elif recv in self.active:
                        raise UnsupportedError(self.where(s), f"the list method {method!r} on a "
                                               "list of values that carry derivatives",
                                               "build the list with append")
                elif callee.kind == "lifted":
                    return [self._primal_call(s)]
            return [s]
        if isinstance(s, gast.If):
            out = []
            body_ctx, else_ctx = ctx.copy(), ctx.copy()
            body = self._fwd_block(s.body, body_ctx)
            orelse = self._fwd_block(s.orelse, else_ctx)
            ctx.maybe = body_ctx.maybe | else_ctx.maybe
            ctx.definite = body_ctx.definite & else_ctx.definite
            out.append(gast.If(test=copy_tree(s.test), body=body or [gast.Pass()],
                               orelse=orelse))
            return out
        if isinstance(s, (gast.For, gast.While)):
            return self._fwd_loop(s, ctx)
        if isinstance(s, gast.Return):
            return []
        return [s]

    def _fwd_assign(self, s):
        value = s.value
        if isinstance(value, gast.Call):
            callee = callee_of(value, self.resolver)
            if callee.kind in ("user", "lifted", "dynamic") and s.targets[0].id in self.active:
                return assign(copy_tree(s.targets[0]), self._call_forward(value, callee, s))
            if callee.kind == "lifted":
                return self._primal_call(s)
        return copy_tree(s)

    def _primal_call(self, s):
        """A call of a local function whose result carries no derivative: call its plain copy."""
        out = copy_tree(s)
        callee = callee_of(s.value, self.resolver)
        out.value.func = name(self.program.primal(self.program.job_for(callee, self.spec.job)))
        return out

    def _fwd_loop(self, s, ctx):
        out = []
        line = getattr(s, "s2s_line", None)
        body = s.body
        breaks = bool(body) and _is_break_check(body[-1])
        is_for = isinstance(s, gast.For)
        target = s.target.id if is_for else None
        # A per-iteration variable also read after the loop is saved before each
        # overwrite instead: its adjoint is re-zeroed at the end of each backward
        # iteration, which needs the previous iteration's value (and its shape).
        locals_ = self._loop_locals(body, target) - getattr(s, "s2s_live_after", set())
        s.s2s_locals = locals_
        # Values the loop overwrites as a whole: its variable and its per-iteration locals.
        outer = []
        for v in sorted(locals_ | ({target} if target else set())):
            outer.extend(self._save_before(s, v, ctx))
        s.s2s_outer = list(getattr(s, "s2s_slots", []))
        s.s2s_slots = []
        out.extend(outer)
        body_ctx = ctx.copy()
        body_ctx.maybe = (ctx.maybe | liveness.maybe_assigned(body) | ({target} if target else set())) \
            - locals_
        if target:
            body_ctx.definite.add(target)
        new_body = []
        main, check = (body[:-1], body[-1:]) if breaks else (body, [])
        new_body.extend(self._fwd_block(main, body_ctx))
        recompute = self._recomputable(main, locals_, target)
        s.s2s_recompute = recompute
        saves = []
        for v in sorted(locals_ - {r.targets[0].id for r in recompute}):
            slot = self.new_slot(v)
            push = _tape_push(name(v))
            push.s2s_push = slot
            saves.append(push)
        s.s2s_end_slots = [p.s2s_push for p in saves]
        new_body.extend(self.tag(saves, line))
        new_body.extend(copy_tree(check))
        ctx.maybe |= liveness.maybe_assigned(body) | ({target} if target else set())
        if is_for:
            out.append(gast.For(target=store(target), iter=copy_tree(s.iter), body=new_body,
                                orelse=[], type_comment=None))
        else:
            out.append(gast.While(test=copy_tree(s.test), body=new_body, orelse=[]))
        return out

    def _recomputable(self, body, locals_, target):
        """Per-iteration values the backward sweep can recompute by indexing, not save.

        ``W_b = params[i]``, ``W = W_b[0]``, ``row = X[i]``: a single top-level
        assignment of a subscript or attribute chain over the loop variable,
        values the loop never changes, and earlier such values.  Recomputing a
        view costs nothing and keeps the tape for values that need it.
        """
        assigned = liveness.maybe_assigned(body)
        written = self._written_in_place(self.norm.node.body)
        counts = {}
        for st in walk_stmts(body):
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name):
                counts[st.targets[0].id] = counts.get(st.targets[0].id, 0) + 1
        out, ready = [], {target} if target else set()
        for st in body:
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)):
                continue
            v = st.targets[0].id
            if v not in locals_ or counts.get(v) != 1 or not _is_view_chain(st.value):
                continue
            reads = _loads(st.value)
            if all(r in ready or r not in assigned for r in reads) and not (reads & written):
                out.append(st)
                ready.add(v)
        return out

    def _loop_locals(self, body, target):
        """Variables each iteration assigns before reading: saved once per iteration."""
        main = body[:-1] if body and _is_break_check(body[-1]) else body
        exposed = liveness.upward_exposed(main)
        definite = liveness.definitely_assigned(main)
        assigned = {v for s in walk_stmts(main) if isinstance(s, gast.Assign)
                    for t in s.targets if isinstance(t, gast.Name) for v in [t.id]}
        return (assigned & definite) - exposed - ({target} if target else set())

    # -- calls to user functions ---------------------------------------------------

    def _call_plan(self, value, callee, s):
        """Which parameters of the callee carry derivatives at this call."""
        dynamic = callee.kind == "dynamic" or self._passes_closure(value, callee)
        args = self._dynamic_args(value, callee) if dynamic else list(value.args)
        kwargs = {kw.arg: kw.value for kw in value.keywords}
        if dynamic:
            if isinstance(value.func, gast.Name) and value.func.id in self.active or \
                    not isinstance(value.func, (gast.Name, gast.Attribute)) \
                    and self.active_expr(value.func):
                raise UnsupportedError(self.where(s), f"calling {to_text(value.func)}, a function or "
                                       "object made from values that carry derivatives",
                                       "make it outside the differentiated function and pass "
                                       "the arrays it uses as arguments")
            actives = tuple(k for k, a in enumerate(args)
                            if isinstance(a, gast.Name) and a.id in self.active)
            for kw, v in kwargs.items():
                if isinstance(v, gast.Name) and v.id in self.active and kw != "key":
                    raise UnsupportedError(self.where(s), f"a keyword argument ({kw}=) carrying a "
                                           f"derivative to {callee.name}, which is known only at "
                                           "run time", "pass it positionally")
            return None, actives
        job = self.program.job_for(callee, self.spec.job, value)
        params = job.param_names
        bound = {}
        leading = 1 if job.binds_receiver else 0
        if leading and isinstance(callee.receiver, gast.Name):
            bound[params[0]] = callee.receiver
        for k, a in enumerate(args):
            if k + leading >= len(params):
                raise UnsupportedError(self.where(s), f"too many arguments to {callee.name}")
            bound[params[k + leading]] = a
        for kw, v in kwargs.items():
            bound[kw] = v
        active = tuple(p for p in params if isinstance(bound.get(p), gast.Name)
                       and bound[p].id in self.active)
        return (job, bound), active

    def _passes_closure(self, value, callee):
        """Whether a user or local function is given a callable that carries derivatives
        (a lambda reading an active value): the dynamic dispatcher differentiates such a
        call with the callable's values (``driver.dynamic``)."""
        if callee.kind not in ("user", "lifted"):
            return False
        closures = self.activity.closures & self.active
        if any(isinstance(kw.value, gast.Name) and kw.value.id in closures
               for kw in value.keywords):
            return True         # refused by the dynamic call: pass it positionally
        if not isinstance(value.func, gast.Name) or callee.receiver is not None:
            return False        # a method: its callee's traced stub gets the callable
        return any(isinstance(a, gast.Name) and a.id in closures for a in value.args)

    def closure_values(self, fname):
        """The active variables callable ``fname`` reads: its adjoint is a dict of theirs."""
        return [v for v in self.activity.callable_reads(fname) if v in self.active]

    def _call_forward(self, value, callee, s):
        plan, active = self._call_plan(value, callee, s)
        if plan is None:
            func = copy_tree(value.func)
            args = self._dynamic_args(value, callee)
            if len(args) > len(value.args):
                # A method of a value that carries derivatives: call the class's
                # function with the object as its first argument.
                func = gast.Attribute(value=call("type", [copy_tree(args[0])]),
                                      attr=value.func.attr, ctx=gast.Load())
            s.s2s_dynamic_args = args
            args = gast.Tuple(elts=copy_tree(args), ctx=gast.Load())
            kwargs = gast.Dict(keys=[const(k.arg) for k in value.keywords],
                               values=[copy_tree(k.value) for k in value.keywords])
            s.s2s_call = ("dynamic", active)
            return call(_rt("call_fwd"), [name(naming.TAPE), func, args, kwargs,
                                          gast.Tuple(elts=[const(a) for a in active],
                                                     ctx=gast.Load())])
        job, bound = plan
        spec = self.program.request(job, active)
        s.s2s_call = ("user", spec, bound)
        return self._fwd_call_expr(value, callee, job, spec)

    def _fwd_call_expr(self, value, callee, job, spec):
        """The forward sweep's call of a user function: its ``g_fwd``, which fills the tape."""
        args = [name(naming.TAPE)]
        if job.binds_receiver:
            args.append(self._receiver(callee, value))
        args += [copy_tree(a) for a in value.args]
        kws = [gast.keyword(arg=k.arg, value=copy_tree(k.value)) for k in value.keywords]
        return call(spec.fwd_name, args, kws)

    def _bwd_call_expr(self, s, spec, seed):
        """The backward sweep's call of a user function: the adjoints of its active parameters."""
        return call(spec.bwd_name, [name(naming.TAPE), seed])

    def _dynamic_args(self, value, callee):
        """Arguments of a run-time call; an active receiver of a method becomes the first."""
        receiver = callee.receiver
        if isinstance(value.func, gast.Attribute) and isinstance(receiver, gast.Name) \
                and receiver.id in self.active:
            return [receiver] + list(value.args)
        return list(value.args)

    def _receiver(self, callee, value):
        if callee.receiver is not None:
            receiver = copy_tree(callee.receiver)
            guard = getattr(callee, "guard", None)
            if guard is not None:
                # the class is known from one object: check the one the call gets
                cls, attr, where = guard
                cls_name = self.program.module.symbol(cls, cls.__name__)
                receiver = call(_rt("check_method"), [receiver, const(attr), name(cls_name),
                                                      const(where)])
            return receiver
        if callee.self_value is not None:
            return name(self.program.module.symbol(callee.self_value, _obj_name(value.func)))
        raise AssertionError("a bound call without a receiver")

    # -- backward sweep --------------------------------------------------------------

    def _bwd_block(self, stmts, state):
        out = []
        for s in reversed(stmts):
            code, state = self._bwd_stmt(s, state)
            out.extend(self.tag(code, getattr(s, "s2s_line", None)))
        return out, state

    def _restores(self, s):
        """Backward statements that put back what ``s`` overwrote."""
        out = []
        for slot in getattr(s, "s2s_slots", []):
            out.append(self._restore(slot))
        return out

    def _restore(self, slot):
        var = slot.var
        if isinstance(var, tuple) and var[0] == "item":
            raise AssertionError("item restores are built by the statement")
        if isinstance(var, tuple) and var[0] == "inverse":
            r = gast.Expr(value=call(gast.Attribute(value=name(var[1]), attr="pop",
                                                    ctx=gast.Load()), []))
            r.s2s_restore = (slot, var[1])
            return r
        r = assign(var, _tape_pop())
        r.s2s_restore = (slot, var)
        return r

    def _bwd_stmt(self, s, state):
        state = set(state)
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                return self._bwd_assign(s, t.id, state)
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                return self._bwd_setitem(s, t, state)
            return [], state
        if isinstance(s, gast.Expr):
            return self._bwd_expr_stmt(s, state)
        if isinstance(s, gast.If):
            return self._bwd_if(s, state)
        if isinstance(s, (gast.For, gast.While)):
            return self._bwd_loop(s, state)
        return [], state

    def _bwd_assign(self, s, v, state):
        value = s.value
        code = []
        restores = self._restores(s)
        if isinstance(value, gast.Call) and getattr(s, "s2s_call", None):
            code.extend(self._bwd_call(s, v, state))    # consumes the adjoint of v
            if self.recomputes_calls and s.s2s_call[0] == "user" and v in _loads(value):
                # ``acc = g(acc, ...)`` where the backward call recomputes from the arguments
                # (program.JointReverseBuilder): it must see acc's old value, restored first
                return restores + code, state
            return code + restores, state
        if isinstance(value, gast.Call):
            callee = callee_of(value, self.resolver)
            if callee.kind == "container" and isinstance(value.func, gast.Attribute) \
                    and value.func.attr == "pop" and isinstance(callee.receiver, gast.Name):
                return self._bwd_list_pop(s, v, callee.receiver.id, state, restores)
        if v not in self.active or v not in state:
            state.discard(v)
            return restores, state
        reads_target = v in _loads(value)
        pre, contribs = [], []
        g = name(self.d(v))
        if reads_target:
            # The right side reads the old value: restore it first.  The result, where its
            # rule reads it (``x = np.exp(x)``), is the value ``v`` holds before the restore.
            ans = None
            if self._reads_own_value(value):
                kept = self.namer.fresh(f"{v}_new")
                code.append(assign(kept, name(v)))
                ans = name(kept)
            code.extend(restores)
            restores = []
            self._backprop(value, g, ans, pre, contribs)
        else:
            self._backprop(value, g, name(v), pre, contribs)
        code.extend(pre)
        code.extend(self._emit(contribs, state, target=v))
        return code + restores, state

    def _bwd_setitem(self, s, t, state):
        v = t.value.id
        slot = s.s2s_slots[0]
        if self._keyed(t):
            restore = gast.Expr(value=_rt_call("restore_item", name(v), index_value(t.slice),
                                               _tape_pop()))
        else:
            restore = assign(gast.Subscript(value=name(v), slice=copy_tree(t.slice),
                                            ctx=gast.Store()), _tape_pop())
        restore.s2s_restore = (slot, v)
        code = []
        if v not in self.active or v not in state:
            return [restore], state
        dv = self.d(v)
        if self._basic_index(t.slice) or v in self.containers and v not in self.tensors:
            g = gast.Subscript(value=name(dv), slice=copy_tree(t.slice), ctx=gast.Load())
        else:   # a fancy index may repeat a position: only its last element reaches y
            g = _rt_call("written_cotangent", name(dv), index_value(t.slice))
        if self._may_truncate(t):
            # an array of an integer dtype (np.zeros_like(k), np.arange(n)) truncates what is
            # written: no derivative (the shape analysis drops the check for a float array)
            g = _rt_call("through_write", g, name(v))
        zero = assign(gast.Subscript(value=name(dv), slice=copy_tree(t.slice),
                                     ctx=gast.Store()), const(0.0))
        pre, contribs = [], []
        if v in _loads(s.value):
            # The new value reads the array it overwrites (y[0] = y[0] + y[-1]): put the
            # old values back, take the slot's cotangent, clear it, then differentiate.
            item = self.namer.fresh(naming.adjoint(f"{v}_item"))
            code += [restore, assign(item, _rt_call("copy", g)), zero]
            self._backprop(s.value, name(item), None, pre, contribs)
            return code + pre + self._emit(contribs, state), state
        if isinstance(s.value, gast.Name) and not (v in self.containers and v not in self.tensors):
            # y[i] = x may broadcast x over the slot (a (1,) or a number into a row):
            # the slot's cotangent summed back to x's shape
            g = _rt_call("unbroadcast", g, name(s.value.id))
        if self.active_expr(s.value):
            self._backprop(s.value, g, None, pre, contribs)
        code.extend(pre)
        # the slot's cotangent is a view of dv, cleared below: so may be what ``pre`` names
        # from it (``d_a = np.reshape(d_y[i], ...)``), which the contributions then read
        code.extend(self._emit(contribs, state, borrowed=_views_of(dv, pre)))
        code.append(zero)
        return code + [restore], state

    def _may_truncate(self, target):
        """Whether ``target`` (``y[i]`` of an item write) may be an item of an array of an
        integer or bool dtype: anything but a list, a tuple or a dict known as one."""
        v = target.value.id
        return not (v in self.containers and v not in self.tensors) and not self._keyed(target) \
            and v not in self.inexact

    def _in_place_checks(self, stmts, proven=None):
        """``stmts`` with NumPy's cast check in each write NumPy may refuse to cast, where the
        target may be an array of an integer dtype (``_may_truncate``) the shape analysis
        does not prove a float one: ``y[i] += v`` (``y[i] = y[i] + v``) and ``y += v`` of a
        value carrying a derivative, in place when ``y[i]`` or ``y`` is an array, become
        ``y[i] = _rt.in_place(y[i], y[i] + v, 'add')``, and ``np.copyto(y, v)`` (``y[...] =
        v``) becomes ``y[...] = _rt.copied_into(y, v)``.  NumPy raises for floats into
        integers there (``casting='same_kind'``); the lowered write truncated them (or made
        ``y`` a float array) without a word.  Each helper returns its value (rules: the
        identity on it)."""
        if proven is None:
            # (the arrays of a float dtype whatever the arguments: _may_truncate reads them)
            # (the operators refuse an integer argument to differentiate: the entry's are not)
            given = self.spec.active_params if self._entry() else ()
            args = self.norm.node.args
            params = [getattr(a, "id", None) or getattr(a, "arg", None) for a in
                      args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]
                      if a is not None]
            self.inexact = inexact_names(stmts, self.resolver, params, given)
            proven = self._proven_inexact(stmts)
            self._numbers_augmented = self._augmented_numbers(stmts)
        for s in stmts:
            for field in ("body", "orelse"):
                if isinstance(s, (gast.If, gast.For, gast.While)):
                    self._in_place_checks(getattr(s, field), proven)
            if not (isinstance(s, gast.Assign) and len(s.targets) == 1):
                continue
            t = s.targets[0]
            augmented = isinstance(s.value, gast.BinOp) and type(s.value.op) in _UFUNC_OF_OP
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name) \
                    and self._may_truncate(t):
                if getattr(s, "s2s_copyto", False):
                    holder, field = s, "value"
                    if isinstance(s.value, gast.Call) and len(s.value.args) == 3:
                        holder, field = s.value.args, 1     # (np.copyto(y, v, where=m))
                    value = _get(holder, field)
                    if not proven(name(t.value.id), value):
                        _put(holder, field, _rt_call("copied_into", name(t.value.id), value))
                elif getattr(s, "s2s_item_augmented", False) and augmented \
                        and self.active_expr(s.value.right) \
                        and not proven(s.value.left, s.value.right):
                    s.value = _rt_call("in_place", copy_tree(s.value.left), s.value,
                                       const(_UFUNC_OF_OP[type(s.value.op)]))
            elif isinstance(t, gast.Name) and getattr(s, "s2s_augmented", False) and augmented \
                    and isinstance(s.value.left, gast.Name) and s.value.left.id == t.id \
                    and t.id not in self._numbers_augmented and t.id not in self.inexact \
                    and self.active_expr(s.value.right) \
                    and not proven(s.value.left, s.value.right):
                s.value = _rt_call("in_place", name(t.id), s.value,
                                   const(_UFUNC_OF_OP[type(s.value.op)]))
        return stmts

    def _augmented_numbers(self, stmts):
        """Names that start as a number written out (``acc = 0.0``, ``n = 0``) and are changed
        by augmented assignments only (``acc += v``), or hold integers only: a number, or an
        array the number and what was added made.  Not checked (``_in_place_checks``): such an
        accumulator is an integer array only where an integer array was added to it first."""
        starts = {}
        for st in walk_stmts(stmts):
            if isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name) \
                    and not getattr(st, "s2s_augmented", False):
                v = st.targets[0].id
                starts[v] = starts.get(v, True) and isinstance(st.value, gast.Constant) \
                    and type(st.value.value) in (int, float, complex)
        return {v for v, number in starts.items() if number} | self.ints

    def _proven_inexact(self, body):
        """``proven(into, value)``: whether the shape analysis of code specialized to a
        signature proves ``into`` a float array and ``value`` real, or ``into`` a complex array
        (a write of ``value`` into it keeps its derivative).  General code proves nothing."""
        abstract = getattr(self.spec.job, "abstract", None)
        if not abstract:
            return lambda into, value: False
        facts = []      # (the analysis runs at the first write asked about, if any)

        def proven(into, value):
            try:
                if not facts:
                    facts.append(Shapes(body, abstract, self.resolver, params=self.params))
                a, v = facts[0].of(into), facts[0].of(value)
            except Exception:      # noqa: BLE001 - no facts: not proven
                return False
            if a.kind in ("float", "int", "bool", "complex", "scalar"):
                return True     # a number (y[i] of a 1-d array): replaced, not written into
            kind = numpy.dtype(a.dtype).kind if a.kind == "array" and a.dtype is not None else None
            return kind == "c" or kind == "f" and v.is_complex is False
        return proven

    def _keyed(self, target):
        """True for ``d[key] = ...`` on a dict (a key that may not be there yet)."""
        v = target.value.id
        return isinstance(target.slice, gast.Constant) and isinstance(target.slice.value, str) \
            or (v in self.containers and v not in self.tensors and not self._basic_index(target.slice))

    def _bwd_expr_stmt(self, s, state):
        c = s.value
        if not isinstance(c, gast.Call):
            return [], state
        callee = callee_of(c, self.resolver)
        restores = self._restores(s)
        if callee.kind == "container" and c.func.attr == "append" \
                and isinstance(callee.receiver, gast.Name):
            l = callee.receiver.id
            code = []
            if l in self.active and l in state and self.active_expr(c.args[0]):
                item = self.namer.fresh("d_item")
                code.append(assign(item, call(gast.Attribute(value=name(self.d(l)), attr="pop",
                                                             ctx=gast.Load()), [])))
                if l in _loads(c.args[0]):
                    # l.append(l[-1] * l[-2]): its item is differentiated where l was
                    # before the call, so the call is undone first
                    code.extend(restores)
                    restores = []
                pre, contribs = [], []
                self._backprop(c.args[0], name(item), None, pre, contribs)
                code.extend(pre)
                code.extend(self._emit(contribs, state))
            elif l in self.active and l in state:
                code.append(gast.Expr(value=call(gast.Attribute(
                    value=name(self.d(l)), attr="pop", ctx=gast.Load()), [])))
            return code + restores, state
        return restores, state

    def _bwd_list_pop(self, s, v, l, state, restores):
        args = s.value.args
        index = None
        if len(args) == 1 and isinstance(args[0], gast.Constant):
            index = args[0].value
        elif len(args) == 1 and isinstance(args[0], gast.UnaryOp) \
                and isinstance(args[0].op, gast.USub) and isinstance(args[0].operand, gast.Constant) \
                and type(args[0].operand.value) is int:
            index = -args[0].operand.value
        if args and not (type(index) is int and index >= -1) or s.value.keywords:
            # the item goes back where it was: at a position known here only (l.pop(1));
            # a position computed (l.pop(k)) or a dict's key is refused, not put back last
            if getattr(s.value, "s2s_popitem", False):
                raise UnsupportedError(
                    self.where(s), f"`{self.user_text(s)}`, a popitem of {l} (carrying "
                    f"derivatives) in reverse mode",
                    f"build a new dict without the item ({{k: v for k, v in {l}.items() if "
                    f"k != key}}), or differentiate in forward mode (jvp), which follows it")
            raise UnsupportedError(
                self.where(s), f"`{self.user_text(s)}`, a pop from {l} (carrying derivatives) "
                f"at a position computed at run time, or with a key",
                "pop the last item (l.pop()), or build a new list or dict without the item")

        def put_back(target, value):
            if args and index >= 0:
                return gast.Expr(value=call(gast.Attribute(
                    value=name(target), attr="insert", ctx=gast.Load()), [const(index), value]))
            return gast.Expr(value=call(gast.Attribute(value=name(target), attr="append",
                                                       ctx=gast.Load()), [value]))
        code = []
        if l in self.active and (v in state or l in state):
            if l not in state:
                code.append(assign(self.d(l), _rt_call("zeros_like", name(l))))
                state.add(l)
            item = name(self.d(v)) if v in state else _rt_call("zeros_like", name(v))
            code.append(put_back(self.d(l), item))
        state.discard(v)
        return code + [put_back(l, name(v))] + restores, state

    def _bwd_call(self, s, v, state):
        kind = s.s2s_call[0]
        seed = name(self.d(v)) if v in state else _rt_call("zeros_like", name(v))
        if kind == "dynamic":
            active = s.s2s_call[1]
            cts = call(_rt("call_bwd"), [name(naming.TAPE), seed])
            args = s.s2s_dynamic_args
            targets = [args[k].id for k in active]
            if set(targets) & self.activity.closures:
                return self._bwd_closure_call(s, v, state, cts, targets)
        else:
            spec, bound = s.s2s_call[1], s.s2s_call[2]
            cts = self._bwd_call_expr(s, spec, seed)
            targets = [bound[p].id for p in spec.active]
            cts.s2s_adjoints_of = tuple(targets)    # (for analysis.shapes)
            if set(targets) & self.activity.closures:
                if len(targets) == 1:
                    cts = gast.Tuple(elts=[cts], ctx=gast.Load())
                return self._bwd_closure_call(s, v, state, cts, targets)
        if not targets:
            state.discard(v)
            return [gast.Expr(value=cts)]
        code = []
        if len(targets) == 1 and kind != "dynamic":
            contribs = [_Contribution(targets[0], None, cts)]
        elif len(set(targets)) == len(targets) and not (set(targets) & (state | self.owned)):
            # Every adjoint starts here: unpack straight into them.
            tup = gast.Tuple(elts=[store(self.d(t)) for t in targets], ctx=gast.Store())
            state.discard(v)
            state.update(targets)
            return [gast.Assign(targets=[tup], value=cts, type_comment=None)]
        else:
            temps = [self.namer.fresh(naming.adjoint(f"{t}_part")) for t in targets]
            tup = gast.Tuple(elts=[store(t) for t in temps], ctx=gast.Store())
            code.append(gast.Assign(targets=[tup], value=cts, type_comment=None))
            contribs = [_Contribution(t, None, name(tmp)) for t, tmp in zip(targets, temps)]
        # v = g(..., v, ...): the contribution to the argument v is the adjoint of v's old
        # value, which starts afresh (the seed above was the adjoint of the new one)
        code.extend(self._emit(contribs, state, target=v))
        return code

    def _bwd_closure_call(self, s, v, state, cts, targets):
        """The backward half of a call given callables: the adjoint of a callable is a dict
        of the adjoints of the values it reads, added to those variables'."""
        temps = [self.namer.fresh(naming.adjoint(f"{t}_part")) for t in targets]
        tup = gast.Tuple(elts=[store(t) for t in temps], ctx=gast.Store())
        code = [gast.Assign(targets=[tup], value=cts, type_comment=None)]
        contribs = []
        for t, tmp in zip(targets, temps):
            if t in self.activity.closures:
                for var in self.closure_values(t):
                    contribs.append(_Contribution(var, None, gast.Subscript(
                        value=name(tmp), slice=const(var), ctx=gast.Load())))
            else:
                contribs.append(_Contribution(t, None, name(tmp)))
        code.extend(self._emit(contribs, state, target=v))
        return code

    def _bwd_if(self, s, state):
        body, s_body = self._bwd_block(s.body, state)
        orelse, s_else = self._bwd_block(s.orelse, state)
        merged = s_body | s_else
        body.extend(self._materialize(merged - s_body, s))
        orelse.extend(self._materialize(merged - s_else, s))
        if not body and not orelse:
            return [], merged
        test = copy_tree(s.test)
        if not body:
            return [gast.If(test=gast.UnaryOp(op=gast.Not(), operand=test), body=orelse,
                            orelse=[])], merged
        return [gast.If(test=test, body=body, orelse=orelse)], merged

    def _materialize(self, vars_, s):
        """Zero adjoints where control flow merges a path that made them with one that did not."""
        out = []
        plain = sorted(v for v in vars_ if isinstance(v, str))
        keys = sorted(v for v in vars_ if isinstance(v, tuple))
        for v in plain:
            if v in self.sparse:
                out.append(assign(self.d(v), gast.Dict(keys=[], values=[])))
            else:
                out.append(assign(self.d(v), _rt_call("zeros_like", name(v))))
        for v, key in keys:
            out.append(assign(gast.Subscript(value=name(self.d(v)), slice=const(key),
                                             ctx=gast.Store()),
                              _rt_call("zeros_like", subscript(name(v), const(key)))))
        return self.tag(out, getattr(s, "s2s_line", None))

    def _bwd_loop(self, s, state):
        header = set(state)
        while True:
            # Generate the body for a guessed header state; undo its fresh names if
            # the guess was wrong (the body is generated again).
            used, adj = set(self.namer.used), dict(self.adj)
            body, after = self._loop_body(s, header)
            new = header | after
            if new == header:
                break
            self.namer.used, self.adj = used, adj
            header = new
        before = self._materialize(header - state, s)
        body.extend(self._materialize(header - after, s))
        restores_end = []
        for slot in reversed(getattr(s, "s2s_end_slots", [])):
            restores_end.append(self._restore(slot))
        self.tag(restores_end, getattr(s, "s2s_line", None))
        recomputed = []
        for st in getattr(s, "s2s_recompute", []):
            again = copy_tree(st)
            again.s2s_origin = (self.fsrc, getattr(st, "s2s_line", None))
            recomputed.append(again)
        body = recomputed + restores_end + body
        counter = getattr(s, "s2s_counter", None)
        if isinstance(s, gast.For):
            rng = copy_tree(s.iter)
            if counter:
                rng = gast.Subscript(value=rng, slice=gast.Slice(lower=None, upper=name(counter),
                                                                 step=None), ctx=gast.Load())
            loop = gast.For(target=store(s.target.id), iter=call("reversed", [rng]),
                            body=body or [gast.Pass()], orelse=[], type_comment=None)
        else:
            loop = gast.For(target=store("_" if "_" not in self.namer.used else
                                         self.namer.fresh("iteration")),
                            iter=call("range", [name(counter)]),
                            body=body or [gast.Pass()], orelse=[], type_comment=None)
        loop.s2s_origin = (self.fsrc, getattr(s, "s2s_line", None))
        loop.s2s_backward_loop = True
        outer_restores = [self._restore(slot) for slot in reversed(getattr(s, "s2s_outer", []))]
        return before + [loop] + self.tag(outer_restores, getattr(s, "s2s_line", None)), header

    def _loop_body(self, s, entry):
        body = s.body
        if body and _is_break_check(body[-1]):
            body = body[:-1]
        code, after = self._bwd_block(body, entry)
        return code, after

    # -- the chain rule through an expression ---------------------------------------

    def _xp(self, namespace):
        if namespace is None:
            return name(self.xp)
        return name(self.program.namespace_symbol(namespace, self.fsrc))

    def _backprop(self, node, g, ans, pre, contribs):
        """Append the contributions of ``node``'s active leaves, given its cotangent ``g``."""
        if isinstance(node, gast.Name):
            if node.id in self.active:
                contribs.append(_Contribution(node.id, None, g))
            return
        if isinstance(node, gast.Constant) or not self.active_expr(node):
            return
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name):
            if node.value.id in self.active:
                contribs.append(_Contribution(node.value.id, copy_tree(node.slice), g))
            return
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) \
                and attribute_primitive(node.attr) is None:
            # An attribute of an object being differentiated: its adjoint is a dict by name.
            if node.value.id in self.active:
                contribs.append(_Contribution(node.value.id, const(node.attr), g))
            return
        if isinstance(node, (gast.Tuple, gast.List)):
            g = self._bind(g, pre, "d_parts")
            for k, elt in enumerate(node.elts):
                if self.active_expr(elt):
                    self._backprop(elt, subscript(copy_tree(g), k), None, pre, contribs)
            return
        if isinstance(node, gast.Dict):
            g = self._bind(g, pre, "d_parts")
            for key, value in zip(node.keys, node.values):
                if self.active_expr(value):
                    self._backprop(value, gast.Subscript(value=copy_tree(g),
                                                         slice=copy_tree(key),
                                                         ctx=gast.Load()), None, pre, contribs)
            return
        info = self._node_rule(node)
        if info is None:
            if isinstance(node, gast.Call):
                callee = callee_of(node, self.resolver)
                if callee.kind == "norule":
                    raise NoRuleError(self.where(node), callee.name)
                raise UnsupportedError(self.where(node), f"differentiating {callee.name} here")
            raise UnsupportedError(self.where(node), f"differentiating {to_text(node)}")
        prim, bound, namespace = info
        va = registry.varargs_param(prim)
        targets = []
        for p, v in bound.items():
            if p not in prim.vjp:
                continue
            if p == va:
                for k, item in enumerate(v):
                    if self.active_expr(item):
                        targets.append((p, item, k))
            elif isinstance(v, gast.AST) and self.active_expr(v):
                targets.append((p, v, None))
        if not targets:
            return
        inactive_diff = [p for p, v in bound.items() if p not in prim.vjp and p != va
                         and p not in prim.shape_params
                         and isinstance(v, gast.AST) and self.active_expr(v)]
        if inactive_diff:
            raise UnsupportedError(self.where(node), f"a derivative with respect to the "
                                   f"{inactive_diff[0]!r} argument of {prim.qualname}",
                                   "s2sgrad has no rule for it")
        if len(targets) > 1 or (ans is not None and not is_atom(ans)):
            g = self._bind(g, pre, naming.adjoint(prim.name.split(".")[-1]))
        # (``inline`` copies the nodes it is given: ``node`` and ``g`` stay where they are)
        ans_node = ans if ans is not None else node
        seen = {}       # values the rules of this node computed: the next rule reuses them
        for p, child, k in targets:
            bindings = {"xp": self._xp(namespace), "g": g, "ans": ans_node}
            for q, v in bound.items():
                if q == va:
                    bindings[q] = gast.Tuple(elts=list(v), ctx=gast.Load())
                else:
                    bindings[q] = v
            if k is not None:
                bindings["argnum"] = k
            hint = ans.id if isinstance(ans, gast.Name) else expression_name(node)
            part = expression_name(child)
            stmts, expr = inline(self._rule(prim, "vjp", p, child).template, bindings,
                                 self.namer.fresh, self.program.module.modules, hint=hint,
                                 result=naming.adjoint(f"{part}_part") if part else None)
            stmts, expr = _reuse_values(stmts, expr, seen)
            pre.extend(stmts)
            self._backprop(child, expr, None, pre, contribs)

    def _rule(self, prim, kind, param, child):
        """``prim``'s rule for ``param``: its simpler real form where ``child`` is known real
        (``abs``: the sign), else the general one."""
        real = getattr(prim, "real_rules", {}).get(kind, {}).get(param)
        if real is not None and child is not None:
            if getattr(self, "_real_values", None) is None:
                from ..analysis.realness import RealValues
                args = self.norm.node.args
                body = getattr(self, "_real_body", None) or self.norm.node.body
                self._real_values = RealValues(body, self.resolver,
                                               [a.id for a in args.args + args.kwonlyargs])
            if self._real_values.real(child):
                return real
        return getattr(prim, kind)[param]

    def _bind(self, expr, pre, base):
        if is_atom(expr):
            return expr
        t = self.namer.fresh(base)
        pre.append(assign(t, expr))
        return name(t)

    # -- accumulating contributions ----------------------------------------------------

    def _emit(self, contribs, state, target=None, borrowed=None):
        """Statements adding ``contribs`` into adjoints; updates ``state``.

        A contribution to ``target`` (the variable the statement assigned)
        starts its adjoint afresh: it is the adjoint of the *old* value.
        ``borrowed`` names an adjoint the caller is about to change in place,
        so a contribution that is a view of it must be copied.
        """
        code = []
        mine = [c for c in contribs if c.var == target]
        others = [c for c in contribs if c.var != target]
        code.extend(self._accumulate(others, state, borrowed))
        if target is not None:
            state.discard(target)
            if mine:
                if any(c.index is not None for c in mine):
                    temps = []
                    for c in mine:
                        tmp = self.namer.fresh(naming.adjoint(target + "_old"))
                        code.append(assign(tmp, c.expr))
                        temps.append(_Contribution(c.var, c.index, name(tmp)))
                    mine = temps
                code.extend(self._accumulate(mine, state, borrowed))
        return code

    def _accumulate(self, contribs, state, borrowed):
        code = []
        grouped = {}
        order = []
        for c in contribs:
            if c.index is None:
                if c.var not in grouped:
                    grouped[c.var] = []
                    order.append(("whole", c.var))
                grouped[c.var].append(c.expr)
            else:
                order.append(("index", c))
        for kind, item in order:
            if kind == "whole":
                v = item
                exprs = grouped[v]
                total = exprs[0]
                for e in exprs[1:]:
                    if v in self.containers and v not in self.tensors:
                        # (the adjoints of a list add item by item: + would join them,
                        # max(l) * x + min(l))
                        total = _rt_call("add", total, e)
                    else:
                        total = gast.BinOp(left=total, op=gast.Add(), right=e)
                dv = self.d(v)
                if v in state:
                    if v in self.tensors:
                        value = gast.BinOp(left=name(dv), op=gast.Add(), right=total)
                    else:
                        value = _rt_call("add", name(dv), total)
                    code.append(assign(dv, value))
                else:
                    if (v in self.owned or self._reads_owned(total, borrowed)) \
                            and not self._fresh(total, strict=isinstance(borrowed, set)):
                        total = _rt_call("copy", total)
                    code.append(assign(dv, total))
                    state.add(v)
            elif item.var in self.sparse and isinstance(item.index, gast.Constant):
                code.extend(self._accumulate_key(item, state))
            else:
                c = item
                v, dv = c.var, self.d(c.var)
                if v not in state:
                    code.append(assign(dv, _rt_call("zeros_like", name(v))))
                    state.add(v)
                target = gast.Subscript(value=name(dv), slice=c.index, ctx=gast.Store())
                if getattr(self.program, "joint", False) and isinstance(c.index, gast.Constant) \
                        and isinstance(c.index.value, str):
                    # code to be differentiated again (perhaps by tracing): a dict's item
                    # gets a new sum, not one added into the array the item holds
                    item = gast.Subscript(value=name(dv), slice=copy_tree(c.index),
                                          ctx=gast.Load())
                    code.append(assign(target, gast.BinOp(left=item, op=gast.Add(),
                                                          right=c.expr)))
                elif self._basic_index(c.index) and self._tensor_expr(c.expr):
                    code.append(gast.AugAssign(target=target, op=gast.Add(), value=c.expr))
                else:
                    code.append(assign(dv, _rt_call("add_at", name(dv), index_value(c.index),
                                                    c.expr)))
        return code

    def _accumulate_key(self, c, state):
        """``d_params['W'] += c`` for a dict adjoint kept one key at a time."""
        v, dv, key = c.var, self.d(c.var), c.index.value
        code = []
        if v not in state:
            code.append(assign(dv, gast.Dict(keys=[], values=[])))
            state.add(v)
        target = gast.Subscript(value=name(dv), slice=const(key), ctx=gast.Store())
        if (v, key) in state:
            # A new value rather than +=: the entry may share memory with another adjoint.
            current = gast.Subscript(value=name(dv), slice=const(key), ctx=gast.Load())
            if self._tensor_expr(c.expr):
                total = gast.BinOp(left=current, op=gast.Add(), right=c.expr)
            else:
                total = _rt_call("add", current, c.expr)   # the entry may be a list or tuple
            code.append(assign(target, total))
        else:
            code.append(assign(target, c.expr))
            state.add((v, key))
        return code

    def _tensor_expr(self, expr):
        """True when ``expr`` is surely an array or number (never a list or dict)."""
        if isinstance(expr, (gast.BinOp, gast.UnaryOp, gast.Constant)):
            return True
        if isinstance(expr, gast.Name):
            primal = next((v for v, a in self.adj.items() if a == expr.id), expr.id)
            return primal in self.tensors
        if isinstance(expr, gast.Call):
            f = expr.func
            if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
                    and f.value.id == RUNTIME_ALIAS:
                return f.attr in _RUNTIME_TENSOR_HELPERS
            return not (isinstance(f, gast.Name) and f.id in ("list", "tuple", "dict"))
        return False

    def _reads_owned(self, expr, borrowed):
        """Whether ``expr`` reads an adjoint another statement may change in place: one
        the builder owns, or ``borrowed`` (a name, or a set of names)."""
        owned_adjoints = {self.adj[v] for v in self.owned if v in self.adj}
        if isinstance(borrowed, str):
            owned_adjoints.add(borrowed)
        elif borrowed:
            owned_adjoints |= borrowed
        return bool(_loads(expr) & owned_adjoints)

    def _fresh(self, expr, strict=False):
        """True when ``expr`` certainly evaluates to a new array (not a view: a call not in
        ``simplify.VIEWS``); ``strict``: arithmetic only (a helper may return its argument
        itself)."""
        if isinstance(expr, (gast.BinOp, gast.UnaryOp)):
            return True
        if isinstance(expr, gast.Call) and not strict:
            f = expr.func
            fname = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "")
            return fname not in VIEWS
        return False

    def _basic_index(self, index):
        """True when ``x[index]`` can name each element at most once (so ``+=`` is right)."""
        if isinstance(index, gast.Constant):
            return isinstance(index.value, (int, str)) or index.value is None
        if isinstance(index, gast.Name):
            return index.id in self.ints
        if isinstance(index, gast.Slice):
            return all(p is None or self._basic_index(p) or _is_int_expr_node(p, self.ints)
                       for p in (index.lower, index.upper, index.step))
        if isinstance(index, gast.Tuple):
            return all(self._basic_index(e) for e in index.elts)
        if isinstance(index, gast.UnaryOp) and isinstance(index.operand, gast.Constant):
            return True
        return _is_int_expr_node(index, self.ints)


# The names generated code calls NumPy's and the runtime's functions by
_MODULES = frozenset({"np", "numpy", RUNTIME_ALIAS})


def _unshared_gradients(bwd, grads):
    """``d_y = _rt.copy(d_y)`` for each gradient that may be the array another one is
    (``d_x = d_add; d_y = d_add``, or ``unbroadcast(d_add, y)`` giving ``d_add`` back):
    the caller gets arrays of its own, which it may change in place (``g *= 0.5``)."""
    if len(set(grads)) < 2:
        return []
    sources = {}        # name -> names whose array a binding of it may be
    for st in walk_stmts(bwd):
        if not (isinstance(st, gast.Assign) and len(st.targets) == 1
                and isinstance(st.targets[0], gast.Name)):
            continue
        v = st.value
        while isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
                and v.func.attr in VIEWS:
            # np.reshape(g, s) is a view of g, g.reshape(s) too
            method = not (isinstance(v.func.value, gast.Name) and v.func.value.id in _MODULES)
            if not method and not v.args:
                break
            v = v.func.value if method else v.args[0]
        if isinstance(v, gast.Name):
            sources.setdefault(st.targets[0].id, set()).add(v.id)

    def origins(var):
        seen, todo = {var}, [var]
        while todo:
            for n in sources.get(todo.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen

    out, taken = [], set()
    for g in dict.fromkeys(grads):
        mine = origins(g)
        if mine & taken:
            out.append(assign(g, _rt_call("copy", name(g))))
        taken |= mine
    return out


def _read_as_value_only(stmts, var):
    """Whether ``stmts`` only read ``var`` as a whole value: never bind it, write into it
    (``var[i] = e``, ``var += e``) or take an item or attribute of it, so that a number
    may stand for it at each read."""
    for st in walk_stmts(stmts):
        if isinstance(st, gast.AugAssign) and isinstance(st.target, gast.Name) and st.target.id == var:
            return False
        for n in walk(st):
            if isinstance(n, gast.Name) and n.id == var and not isinstance(n.ctx, gast.Load):
                return False
            if isinstance(n, (gast.Subscript, gast.Attribute)) and isinstance(n.value, gast.Name) \
                    and n.value.id == var:
                return False
    return True


class _Substitute(gast.NodeTransformer):
    """Reads of one name replaced by an expression (a copy at each place)."""

    def __init__(self, var, expr):
        self.var, self.expr = var, expr

    def visit_Name(self, node):
        if node.id == self.var and isinstance(node.ctx, gast.Load):
            return copy_tree(self.expr)
        return node


def _views_of(var, stmts):
    """``var`` and the names ``stmts`` bind to values that may be views of it: computed from
    it (or from such a name) by anything but arithmetic, which makes a new array."""
    views = {var}
    for st in stmts:
        if isinstance(st, gast.Assign) and not isinstance(st.value, (gast.BinOp, gast.UnaryOp)) \
                and _loads(st.value) & views:
            views.update(n.id for t in st.targets for n in walk(t)
                         if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store))
    return views


def _propagate_copies(bwd, fwd, protected):
    """The backward sweep without chains of copies (``d_add = d_result; d_x = d_add``).

    A copy ``a = b`` of one name into another goes, in two cases:

    - ``a`` is bound there only (never in the forward sweep), every binding of ``b`` is
      an earlier statement of the same block, and nothing in the block reads ``a``
      before the copy (in a loop, that would be the previous iteration's ``a``): then
      ``a`` and ``b`` name one object wherever ``a`` is read.  Where the copy is the only
      reader of ``b``, bound once, ``b``'s statement computes ``a`` instead (so the
      adjoint keeps the name of its variable); otherwise ``a``'s readers read ``b``.
    - the next binding of ``a`` is a later statement of the same block
      (``d_y = d_result; ...; d_y = d_y + d_z``), and neither name is bound in between:
      the reads of ``a`` up to it read ``b``.

    Names in ``protected`` (the gradients, the seed, the parameters) stay.
    """
    in_fwd = {n.id for st in walk_stmts(fwd) for n in walk(st)
              if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
    for _ in range(4):
        stores, loads = _store_and_read_counts(bwd)
        renames, dropped = {}, set()
        for block in blocks(bwd):
            _copies_in_block(block, stores, loads, in_fwd, protected, renames, dropped)
        if not dropped:
            break
        bwd = drop_stmts(bwd, dropped)
        if renames:
            def final(v):
                while v in renames:
                    v = renames[v]
                return v
            rename = _Rename({a: final(a) for a in renames})
            bwd = [rename.visit(st) for st in bwd]
    return bwd


def _is_copy(st):
    return isinstance(st, gast.Assign) and len(st.targets) == 1 \
        and isinstance(st.targets[0], gast.Name) and isinstance(st.value, gast.Name) \
        and st.targets[0].id != st.value.id


def _store_and_read_counts(stmts):
    """``(store_counts(stmts), read_counts(stmts))``, in one walk."""
    stores, reads = {}, {}
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.Name):
                if isinstance(n.ctx, (gast.Store, gast.Del)):
                    stores[n.id] = stores.get(n.id, 0) + 1
                elif isinstance(n.ctx, gast.Load):
                    reads[n.id] = reads.get(n.id, 0) + 1
    return stores, reads


class _BlockNames:
    """For the statements of one block: how many times each binds each name, the names
    each reads and whether it jumps (``break``, ``continue``, ``return``), found by one
    walk of the statement when first asked.

    ``_copies_in_block`` asks about names no change it made touches: a change renames
    ``a`` or ``b`` of a copy, and both are then ``taken``, never asked about again in that
    block; so what was found before a change still holds for what is asked after it."""

    def __init__(self, block):
        self.block = block
        self.found = {}

    def _of(self, k):
        st = self.block[k]
        hit = self.found.get(id(st))
        if hit is None or hit[0] is not st:
            stores, reads, jumps = {}, set(), False
            for n in walk(st):
                if isinstance(n, gast.Name):
                    if isinstance(n.ctx, (gast.Store, gast.Del)):
                        stores[n.id] = stores.get(n.id, 0) + 1
                    elif isinstance(n.ctx, gast.Load):
                        reads.add(n.id)
                elif isinstance(n, (gast.Break, gast.Continue, gast.Return)):
                    jumps = True
            hit = self.found[id(st)] = (st, stores, reads, jumps)
        return hit

    def stores(self, ks, var):
        """``_stores([block[k] for k in ks], var)``."""
        return sum(self._of(k)[1].get(var, 0) for k in ks)

    def reads(self, k, var):
        """``_reads(block[k], var)``."""
        return var in self._of(k)[2]

    def jumps(self, ks):
        """``_jumps([block[k] for k in ks])``."""
        return any(self._of(k)[3] for k in ks)


def _copies_in_block(block, stores, loads, in_fwd, protected, renames, dropped):
    taken = set()       # names this round already changed (their counts are stale)
    names = _BlockNames(block)
    for i, st in enumerate(block):
        if not _is_copy(st) or id(st) in dropped:
            continue
        a, b = st.targets[0].id, st.value.id
        if a in protected or a in in_fwd or a in taken or b in taken:
            continue
        if stores.get(a) == 1:
            defs = [k for k in range(i) if names.stores((k,), b)]
            inside = names.stores(defs, b)
            if inside != stores.get(b, 0) or any(names.reads(k, a) for k in range(i)) \
                    or names.jumps(range(defs[0] if defs else 0, i)):
                continue
            simple = len(defs) == 1 and stores.get(b) == 1 and isinstance(block[defs[0]], gast.Assign) \
                and len(block[defs[0]].targets) == 1 and isinstance(block[defs[0]].targets[0], gast.Name)
            if simple and loads.get(b) == 1 and b not in protected and b not in in_fwd:
                block[defs[0]].targets[0].id = a        # b's value is computed as a's
            else:
                renames[a] = b
            dropped.add(id(st))
            taken.update((a, b))
            continue
        j = next((k for k in range(i + 1, len(block)) if names.stores((k,), a)), None)
        if j is None or not (isinstance(block[j], gast.Assign) and len(block[j].targets) == 1
                             and isinstance(block[j].targets[0], gast.Name)):
            continue
        if names.stores(range(i + 1, j), b) or names.jumps(range(i + 1, j)):
            continue
        rename = _Rename({a: b})
        for k in range(i + 1, j):
            block[k] = rename.visit(block[k])
        block[j].value = rename.visit(block[j].value)
        dropped.add(id(st))
        taken.update((a, b))


def _reuse_values(stmts, expr, seen):
    """The statements of one rule inlined after another rule of the same call: a value the
    earlier one computed (``solve``'s two rules both solve with ``a.T``) is not computed
    again, its name is reused.  ``seen`` maps what each earlier statement computes to its
    name, and learns this rule's values.  Only plain assignments of fresh names count (a
    rule's locals get fresh names, each assigned once)."""
    counts = store_counts(stmts)
    renames = {}
    out = []
    for st in stmts:
        if renames:
            st = _Rename(renames).visit(st)
        if isinstance(st, gast.Assign) and len(st.targets) == 1 \
                and isinstance(st.targets[0], gast.Name) and counts[st.targets[0].id] == 1 \
                and not any(counts.get(r, 0) for r in _loads(st.value)):
            key = _key(st.value)
            if key in seen:
                renames[st.targets[0].id] = seen[key]
                continue
            seen[key] = st.targets[0].id
        out.append(st)
    if renames:
        expr = _Rename(renames).visit(expr)
    return out, expr


class _Rename(gast.NodeTransformer):
    def __init__(self, renames):
        self.renames = renames

    def visit_Name(self, node):
        if isinstance(node.ctx, gast.Load) and node.id in self.renames:
            return name(self.renames[node.id])
        return node

    def visit(self, node):
        """``NodeTransformer.visit``, without its per-node method lookup (only names change,
        each to one name)."""
        if node.__class__ is gast.Name:
            return self.visit_Name(node)
        for field in node._fields:
            old = getattr(node, field, None)
            if old.__class__ is list:
                for k, item in enumerate(old):
                    if isinstance(item, gast.AST):
                        old[k] = self.visit(item)
            elif isinstance(old, gast.AST):
                setattr(node, field, self.visit(old))
        return node


_NEEDS = (None, "shape", "value")


def _strongest(needs):
    """The strongest of some needs (None < "shape" < "value")."""
    return max(needs, key=_NEEDS.index, default=None)


class _FwdCtx:
    def __init__(self, maybe, definite):
        self.maybe = set(maybe)
        self.definite = set(definite)

    def copy(self):
        return _FwdCtx(self.maybe, self.definite)


def same_shape_params(fsrc):
    """``{param: param of the same shape}`` declared by generated code (``t_x`` has ``x``'s shape)."""
    return dict(getattr(fsrc.fn, "__s2sgrad_same_shape__", None) or {})


def index_value(index):
    """An index as an ordinary value: slices written ``slice(a, b, c)``, ``...`` as Ellipsis."""
    if isinstance(index, gast.Slice):
        parts = [p if p is not None else const(None) for p in (index.lower, index.upper, index.step)]
        if isinstance(parts[-1], gast.Constant) and parts[-1].value is None:
            parts.pop()   # only the step: slice(1) would mean [:1], not [1:]
        return call("slice", [copy_tree(p) for p in parts])
    if isinstance(index, gast.Tuple):
        return gast.Tuple(elts=[index_value(e) for e in index.elts], ctx=gast.Load())
    return copy_tree(index)


def _copied(stmts):
    """Each statement ``v = <view>`` of ``stmts`` becomes ``v = _rt.copy(<view>)``."""
    for st in stmts:
        st.value = _rt_call("copy", st.value)


def _alias_rebound(body, st, w, names):
    """Whether ``st`` and ``w`` are statements of one block, ``st`` first, and a plain
    assignment (not ``op=``) between them binds one of ``names`` anew."""
    for block in blocks(body):
        ids = [id(x) for x in block]
        if id(st) in ids and id(w) in ids:
            i, j = ids.index(id(st)), ids.index(id(w))
            return i < j and any(
                isinstance(x, gast.Assign) and not getattr(x, "s2s_augmented", False)
                and isinstance(x.targets[0], gast.Name) and x.targets[0].id in names
                for x in block[i + 1:j])
    return False


def _statement_order(body):
    """``id(statement) -> (position in program order, ids of the loops around it, the
    innermost loop when the statement runs in each of its iterations, else None)``."""
    order = {}

    def visit(stmts, loops, top):
        for st in stmts:
            order[id(st)] = (len(order), loops, top)
            if isinstance(st, (gast.For, gast.While)):
                visit(st.body, loops | {id(st)}, id(st))
            elif isinstance(st, gast.If):
                visit(st.body, loops, None)
                visit(st.orelse, loops, None)
    visit(body, frozenset(), None)
    return order


def _may_follow(order, a, b):
    """Whether statement ``b`` may run after statement ``a`` (``order``: ``_statement_order``):
    later in program order, or in a loop around both."""
    (pa, la, _), (pb, lb, _) = order[id(a)], order[id(b)]
    return pb > pa or bool(la & lb)


def _is_view_chain(node):
    """``a[i]``, ``a.b``, ``a[i][0]``: indexing and attribute reads of a name."""
    if isinstance(node, gast.Name):
        return False
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        if isinstance(node, gast.Subscript) and any(
                isinstance(n, gast.Call) for n in walk(node.slice)):
            return False
        node = node.value
    return isinstance(node, gast.Name)


def _is_break_check(s):
    return isinstance(s, gast.If) and len(s.body) == 1 and isinstance(s.body[0], gast.Break) \
        and not s.orelse


def _has_call(node):
    return any(isinstance(n, gast.Call) for n in walk(node))


def _is_int_expr_node(node, ints):
    if isinstance(node, gast.Constant):
        return isinstance(node.value, int)
    if isinstance(node, gast.Name):
        return node.id in ints
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Add, gast.Sub, gast.Mult,
                                                             gast.FloorDiv)):
        return _is_int_expr_node(node.left, ints) and _is_int_expr_node(node.right, ints)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return _is_int_expr_node(node.operand, ints)
    return False


def _obj_name(func):
    if isinstance(func, gast.Name):
        return func.id
    if isinstance(func, gast.Attribute):
        return _obj_name(func.value)
    return "obj"


def to_text(node):
    from ..codegen import to_source
    return to_source(node)


def _call_base_name(node):
    """A short name for a call's value: ``normal`` for ``np.random.normal(...)``."""
    f = node.func
    return f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", "value")
