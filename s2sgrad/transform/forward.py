"""Forward mode: tangent code, each line of the function followed by its tangent line.

``ForwardBuilder`` turns one normalized function into one function that returns
its value and the tangent of its value: ``jvp_f(x, n, t_x) -> (result,
t_result)``.  The control flow is the user's own, run once, so nothing is saved
and there is no tape.  Each assignment ``y = e`` is followed by ``t_y = ...``,
the derivative rules of the primitives in ``e`` (their ``jvp_<param>`` rules)
inlined and summed over the arguments that carry tangents.

Tangents are tracked statically, as the reverse transform tracks adjoints: a
tangent that is certainly zero has no variable, and zeros are materialized only
where control flow merges a path that made a tangent with one that did not, or
a loop carries one.  In-place writes and list operations are mirrored on the
tangent (``y[i] = e`` is followed by ``t_y[i] = t_e``, ``l.append(e)`` by
``t_l.append(t_e)``), so the tangent of a container keeps its structure.

The builder reuses the reverse transform's planning (values the rules need are
kept in variables: with no tape to fill, any value but a trivial one), value
classification, aliasing checks and call binding; a user function called with
arguments that carry tangents gets a ``g_jvp`` of its own in the same module
(``ForwardProgram``), once per pattern of such arguments, a tangent that is the
constant 1.0 folded in.  Every function then goes through the sharing pass
(``cse.share``), so tangent code that repeats its primal's work, or, in a
derivative of a derivative, its own, computes each value once; then
``release.release`` deletes each value after its last use, so the function
holds only the values still needed (no tape keeps them anyway).
"""


import gast

import s2sgrad.naming as naming
from ..analysis import liveness
from ..analysis.activity import attribute_primitive, callee_of, drop_stmts, is_runtime_call, walk_stmts
from ..errors import NoRuleError, UnsupportedError
from ..frontend.normalize import Namer, assign, call, const, name, store
from .simplify import UNKNOWN, ShapeClasses, simplify
from ..rules import registry
from ..rules.template import expression_name, inline, is_atom
from .program import Program, Spec, _function
from .release import release
from .reverse import (_RUNTIME_TENSOR_HELPERS, ReverseBuilder, _FwdCtx, _is_break_check, _loads,
                      _rt, _rt_call, index_value, same_shape_params, to_text)
from ..syntax import walk as _walk
from ..syntax import copy_tree

__all__ = ["ForwardBuilder", "ForwardProgram"]

# Stands for the value of the expression being differentiated until the
# builder knows where that value lives (rules such as exp's read it).
_ANS = "__s2s_ans__"

# Primitives whose result can be a list or tuple: their tangents add with _rt.add.
_CONTAINER_RESULTS = {"unstack", "split", "array_split", "hsplit", "vsplit", "dsplit",
                      "split_like", "split_as", "array_vjp", "extremum_vjp", "repeat_like",
                      "meshgrid", "broadcast_arrays"}

# List and dict methods that change their receiver, and the argument that is stored.
_MUTATORS = {"append": 0, "extend": 0, "insert": 1, "update": 0}


class ForwardProgram(Program):
    """All the tangent functions of one forward-mode transformation, in one module.

    With ``batched=True`` every tangent carries a leading axis of directions
    (a Jacobian's columns, or rows, in one sweep): a primitive's batch rule
    handles them all at once, a primitive without one runs its forward rule
    once per direction.
    """

    def __init__(self, batched=False, policy=None, passes=None, signature=None):
        super().__init__(policy=policy, passes=passes, signature=signature)
        self.batched = batched

    def entry(self, fn, wrt, seeds=None, tangent_only=False, prefix="jvp", gradient=None,
              signature=None, name=None, checks_output=True):
        """The tangent function of ``fn`` for the positional parameters ``wrt``.

        ``seeds`` maps indices into ``wrt`` to a fixed tangent (``"one"``: the
        constant 1.0, ``"ones"``: ones shaped like the argument); those
        tangents are not parameters of the generated function.  With
        ``tangent_only`` it returns the tangent of the value alone.  ``signature`` and
        ``name`` as for ``Program.entry``.  ``checks_output``: the entry checks an output it
        does not return, or that carries no derivative (None or a bool would get zeros);
        not for a generated gradient (``hvp``, ``hessian``), whose output is a gradient.

        ``gradient`` (one real scalar parameter, seeded ``"one"``) makes it the
        gradient entry of ``grad`` in forward mode, with the interface of a reverse
        entry that starts from 1: ``"one"`` returns ``d_x`` and ``"one_value"``
        ``(value, d_x)``, the output checked to be a scalar (unless the facts prove it
        one).  ``d_x`` is ``unbroadcast(t_out, x)``, the real part of a complex output's
        derivative as in reverse mode.
        """
        job, active = self._entry_job(fn, wrt, signature)
        spec = Spec(job, active, split=False)
        spec.entry = True
        spec.tangent_only = tangent_only
        spec.checks_output = checks_output
        spec.gradient = gradient
        params = list(active)
        spec.seeds = {params[k]: kind for k, kind in (seeds or {}).items()}
        spec.jvp_name = self.module.fresh_function_name(name or f"{prefix}_{job.base_name}")
        spec.tangent_names = _tangent_names(job, [p for p in active if p not in spec.seeds])
        self.entry_spec = spec
        job.specs[("entry",)] = spec
        self.queue.append(spec)
        self.run()
        return spec

    def request(self, job, active, seeds=None):
        """The tangent function of user function ``job`` for parameters ``active``.

        ``seeds`` maps parameters whose tangent is the constant 1.0 at the call
        to ``"one"``: the constant is folded into that function too.
        """
        seeds = dict(seeds or {})
        key = ("jvp",) + tuple(active) + tuple(sorted(seeds.items()))
        if key in job.specs:
            return job.specs[key]
        spec = Spec(job, active, split=False)
        spec.entry = False
        spec.seeds = seeds
        suffix = "" if not job.specs else "_" + "_".join(active)
        spec.jvp_name = self.module.fresh_function_name(naming.tangent_function(f"{job.base_name}{suffix}"))
        spec.tangent_names = _tangent_names(job, [p for p in active if p not in seeds])
        job.specs[key] = spec
        self.queue.append(spec)
        return spec

    def _build(self, spec):
        builder = ForwardBuilder(self, spec)
        fdef = builder.build()
        fdef.s2s_derivative_of = {t: v for v, t in builder.tan.items()}   # for cse's names
        self._bind_lifted(fdef, spec.job)
        self._bind_globals(fdef, spec.job.fsrc)
        if self.runs("share"):
            self.share(fdef)
        if self.runs("release"):
            release(fdef, builder.shapes.scalars(fdef.body))   # no tape: values go at their last use
        return [fdef]


class ForwardBuilder(ReverseBuilder):
    """Builds the tangent function of one (function, parameters with tangents) pair."""

    def __init__(self, program, spec):
        super().__init__(program, spec)
        self.namer = Namer(self.norm.namer.used)   # names of this function only
        self.tan = {}            # variable -> its tangent's name
        self.const_tan = {}      # parameter -> constant tangent (a seed never reassigned)
        self.none_inits = set()  # variables a zero tangent is made for before they surely exist
        self.shapes = None
        self.batched = getattr(program, "batched", False)
        self.like = None        # a gradient entry's (see _gradient_ending)

    def _entry(self):
        return getattr(self.spec, "entry", False)

    def rules_of(self, prim):
        return prim.jvp

    def rule_reads_ans(self, rule):
        # ``broadcast_like(t * dy, ans)`` wants only the shape of ``ans``: the
        # optimizer finds a cheaper expression with it, so that is no reason to
        # keep the value in a variable.  A batch of tangents is aligned to the
        # rank of each result, so there every result is kept.
        return self.batched or _value_reads(rule.template, "ans") > 0

    plans_item_writes = False

    def _recompute_ok(self, node, need):
        return self._cheap(node)

    def _cheap(self, node):
        """Forward mode has no tape: any value a rule needs is kept, unless it is trivial."""
        if is_atom(node) or isinstance(node, gast.Constant):
            return True
        if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
            return is_atom(node.operand)
        if isinstance(node, (gast.Subscript, gast.Attribute)):
            return self._cheap(node.value)
        return False

    def t(self, var):
        """The tangent variable of ``var``."""
        if var not in self.tan:
            self.tan[var] = self.namer.fresh(naming.tangent(var))
        if self.shapes is not None and not self.batched:
            self.shapes.adjoints[self.tan[var]] = var   # a tangent has its variable's shape
        return self.tan[var]

    def tangent_ref(self, var):
        if var in self.const_tan:
            return copy_tree(self.const_tan[var])
        return name(self.t(var))

    # -- entry point -----------------------------------------------------------

    def build(self):
        spec = self.spec
        for p in spec.active_params:
            if p not in self.params:
                raise UnsupportedError(self.where(), f"{self.fsrc.qualname} has no parameter {p!r}")
        body = copy_tree(self.norm.node.body)   # planning rewrites statements
        self._classify_values(body)
        self._check_aliasing(body)
        body = self._in_place_checks(body)
        body = self._plan_block(body)
        self._real_body = body      # what analysis.realness reads (see _rule)
        self._find_owned(body)
        one = {p for p, kind in spec.seeds.items() if kind == "one"}   # seeded 1.0: a number
        self.shapes = ShapeClasses(body, self.params, self.resolver, {},
                                   same_shape_params(self.fsrc), scalars=one)
        written = (self._written_in_place(body) | self.entry_copies) & set(self.params)
        assigned = liveness.maybe_assigned(body)
        state = set()
        prologue = []
        tparams = []
        for p, t in spec.tangent_names.items():
            self.tan[p] = t
            self.namer.reserve(t)
        self._gradient_ending(assigned | written, prologue)
        if not self.batched:    # (a batch of tangents has a leading axis of its own)
            self.shapes.specialize(body, self.params, spec.job.abstract,
                                   numpy_name=self._numpy_name,
                                   calls=self.program.call_result_hook(spec.job))
        for p in spec.active_params:
            state.add(p)
            kind = spec.seeds.get(p)
            if kind is None:
                tparams.append(self.t(p))
            elif kind == "one" and p not in assigned and p not in written:
                self.const_tan[p] = const(1.0)
            else:
                seed = const(1.0) if kind == "one" else _rt_call("ones_like", name(p))
                prologue.append(self._mark(assign(self.t(p), seed)))
        if written & set(spec.active_params) and not spec.entry:
            p = sorted(written & set(spec.active_params))[0]
            raise UnsupportedError(
                self.where(self.fsrc.node), f"{self.fsrc.name} writing into its argument {p!r}",
                "the caller would see the change; copy it first (p = p.copy()) and return it")
        for p in sorted(written) if spec.entry else ():
            copy_stmt = assign(p, _rt_call("copy", name(p)))
            copy_stmt.s2s_note = f"{p} is written in place: work on a copy of the caller's value"
            prologue.append(copy_stmt)
            if p in state and p not in self.const_tan:
                prologue.append(self._mark(assign(self.t(p), _rt_call("copy", name(self.t(p))))))
        self.tag(prologue, self.fsrc.node.lineno)
        code = self._tan_block(body, state, _FwdCtx(set(self.params), set(self.params)))
        code = prologue + code
        inits = [assign(v, const(None)) for v in sorted(self.none_inits)]
        for init in inits:
            init.s2s_placeholder = True     # (analysis.shapes: not a value the code reads)
        if inits:
            inits[0].s2s_note = "assigned on some paths only: their zero tangents need a value"
            code = inits + code
        code = _drop_dead_tangents(code)
        if self.program.runs("simplify"):
            code = simplify(code, self.shapes)
        args = copy_tree(self.norm.node.args)
        defaults = bool(args.defaults)
        args.args = list(args.args) + [gast.Name(id=t, ctx=gast.Param(), annotation=None,
                                                 type_comment=None) for t in tparams]
        if defaults:
            args.defaults = list(args.defaults) + [const(None) for _ in tparams]
        fdef = _function(spec.jvp_name, args, code)
        ret = self.norm.return_name or "None"
        wrt = ", ".join(spec.active_params)
        fsrc = self.fsrc
        if getattr(spec, "gradient", None):
            fdef.s2s_doc = (
                f"{fsrc.qualname} ({fsrc.display_file}:{fsrc.node.lineno}) and its gradient "
                f"with respect to {wrt}, in forward mode: {wrt} is a real scalar, so one "
                f"tangent sweep seeded with 1.0 gives it (no tape).\n\n"
                + ("Returns the gradient" if spec.gradient == "one" else
                   "Returns the value and the gradient")
                + "; the output is a scalar.")
            return fdef
        seeded = [f"{p} = {'1.0' if k == 'one' else 'ones'}" for p, k in spec.seeds.items()]
        fdef.s2s_doc = (f"{fsrc.qualname} ({fsrc.display_file}:{fsrc.node.lineno}) and its "
                        f"derivative along the tangent of {wrt}"
                        + (f" (seeded {', '.join(seeded)})" if seeded else "") + ".\n\n"
                        + (f"Returns the tangent of {ret}." if getattr(spec, "tangent_only", False)
                           else f"Returns ({ret}, t_{ret}): the value and its tangent."))
        return fdef

    def _find_owned(self, body):
        """Variables whose tangent is changed in place (item writes, list methods)."""
        for s in walk_stmts(body):
            if isinstance(s, gast.Assign):
                t = s.targets[0]
                if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    self.owned.add(t.value.id)
            call_node = s.value if isinstance(s, (gast.Expr, gast.Assign)) else None
            if isinstance(call_node, gast.Call):
                c = callee_of(call_node, self.resolver)
                if c.kind == "container" and isinstance(c.receiver, gast.Name) \
                        and call_node.func.attr in tuple(_MUTATORS) + ("pop",):
                    self.owned.add(c.receiver.id)
        self.owned &= self.active

    # -- statements ------------------------------------------------------------

    def _mark(self, s):
        s.s2s_tangent = True
        return s

    def _tan_block(self, stmts, state, ctx):
        out = []
        for s in stmts:
            out.extend(self.tag(self._tan_stmt(s, state, ctx), getattr(s, "s2s_line", None)))
        return out

    def _tan_stmt(self, s, state, ctx):
        if isinstance(s, gast.Assign):
            t = s.targets[0]
            if isinstance(t, gast.Name):
                out = self._tan_assign(s, t.id, state)
                ctx.maybe.add(t.id)
                ctx.definite.add(t.id)
                return out
            if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                return self._tan_setitem(s, t, state)
            if isinstance(t, gast.Attribute) and self.active_expr(s.value):
                raise UnsupportedError(self.where(s), "storing a value that carries a derivative "
                                       "in an object attribute",
                                       "keep it in a local variable, list or dict")
            return [copy_tree(s)]
        if isinstance(s, gast.Expr) and is_runtime_call(s.value, "restore_item", 3) \
                and isinstance(s.value.args[0], gast.Name) and s.value.args[0].id in self.active:
            return self._tan_restore_item(s, state)
        if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
            self._refuse_array_write(s)
            callee = callee_of(s.value, self.resolver)
            if callee.kind == "container" and isinstance(callee.receiver, gast.Name):
                return self._tan_container_call(s, None, callee, state)
            if callee.kind in ("user", "lifted", "dynamic"):
                return self._tan_call(s, None, state)
            return [copy_tree(s)]
        if isinstance(s, gast.If):
            return self._tan_if(s, state, ctx)
        if isinstance(s, (gast.For, gast.While)):
            return self._tan_loop(s, state, ctx)
        if isinstance(s, gast.Return):
            return self._tan_return(s, state)
        return [copy_tree(s)]

    def _tan_assign(self, s, v, state):
        value = s.value
        if isinstance(value, gast.Call):
            callee = callee_of(value, self.resolver)
            if callee.kind in ("user", "lifted", "dynamic"):
                return self._tan_call(s, v, state)
            if callee.kind == "container" and isinstance(callee.receiver, gast.Name):
                return self._tan_container_call(s, v, callee, state)
        primal = copy_tree(s)
        if v not in self.active:
            state.discard(v)
            return [primal]
        pre = []
        tan = self._tangent(value, state, pre, name(_ANS))
        if tan is None:
            state.discard(v)
            return [primal]
        if v in self.owned and not self._fresh_tangent(tan):
            tan = _rt_call("copy", tan)
        elif self._reads_owned(tan):
            # (z = y[:2].copy() or y[:2] + 0.0, whose tangent is t_y[:2] itself: a copy, or
            # the write into y after would change z's tangent too)
            tan = self._unshared(tan)
        state.add(v)
        return self._order(primal, pre, self._mark(assign(self.t(v), tan)), v, name(v))

    def _order(self, primal, pre, tline, var, ans):
        """The primal statement and its tangent statements, in an order that reads right.

        The tangent follows the primal line unless the right side reads the
        variable it overwrites; then the tangent goes first (it needs the old
        value), and if it also needs the new value, that is computed into a
        temporary first.
        """
        tangent = pre + [tline]
        if var not in _loads(primal.value):
            return [primal] + _substitute(tangent, ans)
        if not _mentions(tangent, _ANS):
            return tangent + [primal]
        # The value may be wanted only for its shape (``broadcast_like(t, ans)``):
        # spelled as the right side, the optimizer replaces it by a cheaper
        # expression of the same shape, or removes it.
        candidate = _substitute(copy_tree(tangent), primal.value)
        if self.program.runs("simplify"):
            candidate = simplify(candidate, self.shapes)
        if not _contains(candidate, primal.value):
            return candidate + [primal]
        tmp = self.namer.fresh(f"{var}_new")
        first = assign(tmp, primal.value)
        last = assign(copy_tree(primal.targets[0]), name(tmp))
        return [first] + _substitute(tangent, name(tmp)) + [last]

    def _unshared(self, tan):
        """``tan``, the parts of it that read the tangent of a variable written in place
        copied (unless they are new values): the items of a list or dict written out too."""
        if isinstance(tan, (gast.List, gast.Tuple)):
            tan.elts = [self._unshared(e) for e in tan.elts]
            return tan
        if isinstance(tan, gast.Dict):
            tan.values = [self._unshared(e) for e in tan.values]
            return tan
        if self._reads_owned(tan) and not self._fresh(tan):
            return _rt_call("copy", tan)
        return tan

    def _reads_owned(self, expr):
        """Whether ``expr`` reads the tangent of a variable written in place."""
        owned = {self.t(u) for u in self.owned}
        return any(isinstance(n, gast.Name) and n.id in owned for n in _walk(expr))

    def _fresh_tangent(self, expr):
        if isinstance(expr, (gast.List, gast.Tuple, gast.Dict)):
            return True
        return self._fresh(expr)

    def _tan_setitem(self, s, t, state):
        v = t.value.id
        primal = copy_tree(s)
        popped = self._popped_list(s.value)
        if popped is not None:
            # ``y[i] = l.pop()``: the tangent list is popped in step, whatever y is.
            code = self._materialize_list(popped, state)
            tpop = call(gast.Attribute(value=name(self.t(popped)), attr="pop", ctx=gast.Load()),
                        [copy_tree(a) for a in s.value.args])
            if v not in self.active:
                return code + [primal, self._mark(gast.Expr(value=tpop))]
            if v not in state:
                code.append(self._mark(assign(self.t(v), self._zeros(name(v)))))
                state.add(v)
            target = gast.Subscript(value=name(self.t(v)), slice=self._tangent_index(v, t.slice),
                                    ctx=gast.Store())
            return code + [primal, self._mark(assign(target, tpop))]
        if v not in self.active:
            return [primal]
        pre = []
        tan = self._tangent(s.value, state, pre, name(_ANS))
        code = []
        if v not in state:
            code.append(self._mark(assign(self.t(v), self._zeros(name(v)))))
            state.add(v)
        target = gast.Subscript(value=name(self.t(v)), slice=self._tangent_index(v, t.slice),
                                ctx=gast.Store())
        if tan is None:
            if v in self.containers:
                zero = self._zeros(gast.Subscript(value=name(v), slice=copy_tree(t.slice),
                                                  ctx=gast.Load()))
            else:
                zero = const(0.0)
            return code + [primal, self._mark(assign(target, zero))]
        if self._may_truncate(t):
            # (an array of an integer dtype truncates what is written: no derivative)
            tan = _rt_call("through_write", tan, name(v))
        if self.batched and not self._is_container(v):
            tan = _rt_call("batch_align", tan, name(_ANS))   # the item's rank after the batch axis
        if self._is_container(v):
            tan = self._unshared(tan)   # (l[0] = y[:2] - 0.0: not t_y[:2] itself in t_l)
        item = gast.Subscript(value=name(v), slice=copy_tree(t.slice), ctx=gast.Load())
        return code + self._order(primal, pre, self._mark(assign(target, tan)), v, item)

    def _tan_restore_item(self, s, state):
        """``_rt.restore_item(d, key, value)`` (generated code putting back a dict item it
        saved): the same on the tangent of ``d``, with the tangent of ``value``."""
        container, key, value = s.value.args
        v = container.id
        code = []
        if v not in state:
            code.append(self._mark(assign(self.t(v), self._zeros(name(v)))))
            state.add(v)
        popped = self._popped_list(value)
        if popped is not None:
            code.extend(self._materialize_list(popped, state))
            tan = call(gast.Attribute(value=name(self.t(popped)), attr="pop", ctx=gast.Load()),
                       [copy_tree(a) for a in value.args])
        else:
            pre = []
            tan = self._tangent(value, state, pre, None)
            code.extend(pre)
            if tan is None:
                tan = self._zeros(value)
        restore = gast.Expr(value=_rt_call("restore_item", name(self.t(v)), copy_tree(key),
                                           tan))
        return code + [copy_tree(s), self._mark(restore)]

    def _popped_list(self, value):
        """The list ``l`` when ``value`` is ``l.pop(...)`` on a list that has a tangent."""
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                and value.func.attr == "pop" and isinstance(value.func.value, gast.Name) \
                and value.func.value.id in self.active:
            if callee_of(value, self.resolver).kind == "container":
                return value.func.value.id
        return None

    def _materialize_list(self, lst, state):
        if lst in state:
            return []
        state.add(lst)
        return [self._mark(assign(self.t(lst), self._zeros(name(lst))))]

    def _is_container(self, v):
        """Whether ``v`` is known to hold a list, dict or tuple (not an array)."""
        return v in self.containers and v not in self.tensors

    def _tangent_index(self, v, index):
        """The index into ``v``'s tangent for ``v[index]``: in batched mode an array's
        tangent keeps its leading batch axis whole (``batch_index`` looks at the tangent
        when ``v`` is not known to be an array)."""
        if not self.batched or self._is_container(v):
            return copy_tree(index)
        # (a value from an array function may still be a tuple: qr, svd, eigh)
        return _rt_call("batch_index", index_value(index), name(self.t(v)))

    def _tan_container_call(self, s, v, callee, state):
        """``l.append(e)`` and friends: the same call on the tangent of ``l``."""
        c = s.value
        lst = callee.receiver.id
        method = c.func.attr
        primal = copy_tree(s)
        if lst not in self.active:
            if v is not None:
                state.discard(v)
            return [primal]
        code = []
        if method in _MUTATORS or method == "pop":
            if lst not in state:
                code.append(self._mark(assign(self.t(lst), self._zeros(name(lst)))))
                state.add(lst)
            args = [copy_tree(a) for a in c.args]
            if method in _MUTATORS:
                k = _MUTATORS[method]
                if k >= len(args):
                    raise UnsupportedError(self.where(s), f"this call of {method}")
                pre = []
                item = self._tangent(c.args[k], state, pre, None)
                args[k] = self._unshared(item) if item is not None else self._zeros(c.args[k])
                code.extend(self._mark(p) for p in pre)
            tcall = call(gast.Attribute(value=name(self.t(lst)), attr=method, ctx=gast.Load()),
                         args)
            if v is not None and method == "pop" and v in self.active:
                state.add(v)
                return code + [primal, self._mark(assign(self.t(v), tcall))]
            if v is not None:
                state.discard(v)
            if method in _MUTATORS and {lst, self.t(lst)} & {
                    n.id for n in _walk(tcall) if isinstance(n, gast.Name)}:
                # l.append(l[-1] * l[-2]): the tangent reads l as it was before the call
                return code + [self._mark(gast.Expr(value=tcall)), primal]
            return code + [primal, self._mark(gast.Expr(value=tcall))]
        if method in ("index", "count", "keys"):
            if v is not None:
                state.discard(v)
            return [primal]
        if method == "get" and v is not None and lst in state and v in self.active:
            # the tangent of the default where the key is missing (zeros without a default)
            pre = []
            default = self._tangent(c.args[1], state, pre, None) if len(c.args) > 1 else None
            if default is None:
                default = self._zeros(name(v))
            tcall = call(gast.Attribute(value=name(self.t(lst)), attr="get", ctx=gast.Load()),
                         [copy_tree(c.args[0]), default])
            state.add(v)
            return [self._mark(p) for p in pre] + [primal, self._mark(assign(self.t(v), tcall))]
        raise UnsupportedError(self.where(s), f"the method {method!r} on a container of values "
                               "that carry derivatives", "build it with append or a literal")

    def _tan_if(self, s, state, ctx):
        body_state, else_state = set(state), set(state)
        body_ctx, else_ctx = ctx.copy(), ctx.copy()
        body = self._tan_block(s.body, body_state, body_ctx)
        orelse = self._tan_block(s.orelse, else_state, else_ctx)
        merged = body_state | else_state
        line = getattr(s, "s2s_line", None)
        body.extend(self.tag(self._materialize(merged - body_state, body_ctx), line))
        orelse.extend(self.tag(self._materialize(merged - else_state, else_ctx), line))
        state.clear()
        state.update(merged)
        ctx.maybe = body_ctx.maybe | else_ctx.maybe
        ctx.definite = body_ctx.definite & else_ctx.definite
        return [gast.If(test=copy_tree(s.test), body=body or [gast.Pass()], orelse=orelse)]

    def _materialize(self, vars_, ctx):
        """Zero tangents for ``vars_``, where another path gives them a tangent."""
        out = []
        for v in sorted(vars_):
            if v not in ctx.definite:
                self.none_inits.add(v)
            out.append(self._mark(assign(self.t(v), self._zeros(name(v)))))
        return out

    def _tan_loop(self, s, state, ctx):
        is_for = isinstance(s, gast.For)
        target = s.target.id if is_for else None
        body = s.body
        breaks = bool(body) and _is_break_check(body[-1])
        main, check = (body[:-1], body[-1:]) if breaks else (body, [])
        # Variables assigned before they are read in every iteration, and undefined
        # before the loop: their tangents are made afresh in each iteration.
        fresh_locals = self._loop_locals(body, target) - ctx.maybe
        assigned = liveness.maybe_assigned(body) | ({target} if target else set())
        entry = set(state)
        header = set(entry)
        while True:
            used, tan = set(self.namer.used), dict(self.tan)
            inner = set(header)
            body_ctx = _FwdCtx(ctx.maybe | assigned, ctx.definite | ({target} if target else set()))
            code = self._tan_block(main, inner, body_ctx)
            new = header | (inner - fresh_locals - {target})
            if new == header:
                break
            self.namer.used, self.tan = used, tan
            header = new
        line = getattr(s, "s2s_line", None)
        before = self.tag(self._materialize(header - entry, ctx), line)
        code.extend(self.tag(self._materialize(header - inner, body_ctx), line))
        code.extend(copy_tree(check))
        state.clear()
        state.update(header | (inner & fresh_locals))
        ctx.maybe |= assigned
        if is_for:
            loop = gast.For(target=store(target), iter=copy_tree(s.iter),
                            body=code or [gast.Pass()], orelse=[], type_comment=None)
        else:
            loop = gast.While(test=copy_tree(s.test), body=code or [gast.Pass()], orelse=[])
        return before + [loop]

    def _tan_return(self, s, state):
        value = s.value
        if isinstance(value, gast.Name) and value.id in self.active and value.id in state:
            tan = self.tangent_ref(value.id)
        elif isinstance(value, gast.Constant) and value.value is None:
            tan = const(None)
        else:
            tan = self._zeros(value)
        if getattr(self.spec, "gradient", None):
            return self._gradient_return(value, tan)
        out = []
        carries = isinstance(value, gast.Name) and value.id in self.active
        if self.spec.entry and self.spec.checks_output \
                and (getattr(self.spec, "tangent_only", False) or not carries):
            # The entry checks an output it does not return (the operator cannot) or that
            # carries no derivative: None or a bool would get zeros without a word.  Where the
            # facts prove it a number or an array of numbers, simplify drops the check.
            if not isinstance(value, (gast.Name, gast.Constant)):
                result = self.namer.fresh("result")
                out.append(assign(result, copy_tree(value)))
                value = name(result)
            check = gast.Expr(value=_rt_call("check_output", copy_tree(value),
                                             const(self.fsrc.where())))
            check.s2s_note = ("the output, not returned: None or a bool has no derivative"
                              if carries else "the output, which carries no derivative here: "
                              "None or a bool has none at all")
            out.append(check)
        if getattr(self.spec, "tangent_only", False):
            return out + [gast.Return(value=tan)]
        return out + [gast.Return(value=gast.Tuple(elts=[copy_tree(value), tan], ctx=gast.Load()))]

    # -- the gradient entry of grad in forward mode ------------------------------------

    def _gradient_ending(self, assigned, prologue):
        """For a gradient entry (``spec.gradient``): the argument the gradient is shaped like
        (kept in a name of its own when the body assigns the parameter)."""
        self.like = None
        kind = getattr(self.spec, "gradient", None)
        if not kind:
            return
        (x,) = self.spec.active_params
        self.like = x
        if x in assigned:
            self.like = self.namer.fresh(f"{x}_arg")
            keep = assign(self.like, name(x))
            keep.s2s_note = f"the argument {x}, which the gradient is shaped like"
            prologue.append(keep)

    def _gradient_return(self, value, tan):
        out = []
        if isinstance(tan, gast.Constant) and tan.value is None:
            tan = const(0.0)        # returns None: the operator says what is wrong with that
        if isinstance(value, gast.Name) or isinstance(value, gast.Constant):
            result = value
        else:
            result = name(self.namer.fresh("result"))
            out.append(assign(result.id, copy_tree(value)))
        check = gast.Expr(value=_rt_call("check_scalar", copy_tree(result),
                                         const(self.fsrc.where())))
        check.s2s_note = "the gradient of a scalar output"
        out.append(check)
        grad = _rt_call("unbroadcast", tan, name(self.like))
        if self.spec.gradient == "one":
            out.append(gast.Return(value=grad))
        else:
            out.append(gast.Return(value=gast.Tuple(elts=[copy_tree(result), grad],
                                                    ctx=gast.Load())))
        return out

    # -- calls to user functions ---------------------------------------------------

    def _tan_call(self, s, v, state):
        """``y, t_y = g_jvp(a, b, t_a=t_a)`` for a user function called with tangents."""
        value = s.value
        callee = callee_of(value, self.resolver)
        wants = v is not None and v in self.active
        if callee.kind == "dynamic" or self._passes_closure(value, callee):
            return self._tan_dynamic(s, v, state, wants)
        (job, bound), _ = self._call_plan(value, callee, s)
        active = tuple(p for p in job.param_names if isinstance(bound.get(p), gast.Name)
                       and bound[p].id in self.active and bound[p].id in state)
        if not active or not wants:
            if v is not None:
                state.discard(v)
            return [self._primal_call(s, callee, job)]
        seeds = {p: "one" for p in active if _is_number(self.tangent_ref(bound[p].id), 1)}
        spec = self.program.request(job, active, seeds)
        args = []
        if job.binds_receiver:
            args.append(self._receiver(callee, value))
        args += [copy_tree(a) for a in value.args]
        kws = [gast.keyword(arg=k.arg, value=copy_tree(k.value)) for k in value.keywords]
        kws += [gast.keyword(arg=self._tangent_param(spec, p), value=self.tangent_ref(bound[p].id))
                for p in active if p not in seeds]
        target = gast.Tuple(elts=[store(v), store(self.t(v))], ctx=gast.Store())
        state.add(v)
        tangent_call = call(spec.jvp_name, args, kws)
        tangent_call.s2s_jvp_of = value     # (for analysis.shapes: the value it returns)
        return [self._mark(gast.Assign(targets=[target], value=tangent_call, type_comment=None))]

    def _tangent_param(self, spec, p):
        """The name of the tangent parameter for ``p`` in ``spec``'s function."""
        return spec.tangent_names[p]

    def _primal_call(self, s, callee, job):
        out = copy_tree(s)
        if callee.kind == "lifted":
            out.value.func = name(self.program.primal(job))
        return out

    def _tan_dynamic(self, s, v, state, wants):
        """A call known only at run time: ``_rt.call_jvp`` picks rules, a transform or tracing."""
        value = s.value
        callee = callee_of(value, self.resolver)
        _, positions = self._call_plan(value, callee, s)
        # the positions are in the call's arguments with an active receiver of a method first
        # (``x.compress(m)``: x's tangent), as the reverse mode's ``_call_forward`` reads them
        given = self._dynamic_args(value, callee)
        func = copy_tree(value.func)
        if len(given) > len(value.args):
            func = gast.Attribute(value=call("type", [copy_tree(given[0])]),
                                  attr=value.func.attr, ctx=gast.Load())
        closures = self.activity.closures
        positions = tuple(k for k in positions if given[k].id in state or (
            given[k].id in closures
            and any(c in state for c in self.closure_values(given[k].id))))
        if not positions or not wants:
            if v is not None:
                state.discard(v)
            callee = callee_of(value, self.resolver)
            if callee.kind == "lifted":
                return [self._primal_call(s, callee, self.program.job_for(callee, self.spec.job))]
            return [copy_tree(s)]
        args = gast.Tuple(elts=copy_tree(given), ctx=gast.Load())
        kwargs = gast.Dict(keys=[const(k.arg) for k in value.keywords],
                           values=[copy_tree(k.value) for k in value.keywords])
        tangents = gast.Tuple(elts=[self._closure_tangent(given[k].id, state)
                                    if given[k].id in closures
                                    else self.tangent_ref(given[k].id) for k in positions],
                              ctx=gast.Load())
        helper = _rt("call_jvp_batch" if self.batched else "call_jvp")
        jvp_call = call(helper, [func, args, kwargs,
                                 gast.Tuple(elts=[const(k) for k in positions], ctx=gast.Load()),
                                 tangents])
        target = gast.Tuple(elts=[store(v), store(self.t(v))], ctx=gast.Store())
        state.add(v)
        return [self._mark(gast.Assign(targets=[target], value=jvp_call, type_comment=None))]

    def _closure_tangent(self, fname, state):
        """The tangent of a callable: a dict of the tangents of the values it reads."""
        reads = [c for c in self.closure_values(fname) if c in state]
        return gast.Dict(keys=[const(c) for c in reads],
                         values=[self.tangent_ref(c) for c in reads])

    # -- the tangent of an expression -------------------------------------------------

    def _tangent(self, node, state, pre, ans):
        """The tangent of ``node`` as an expression, or ``None`` when it is certainly zero.

        Statements the inlined rules need first are appended to ``pre``.
        ``ans`` is the node's value when it is known by a name (else the node
        is evaluated again, which the planning keeps cheap).
        """
        if isinstance(node, gast.Name):
            if node.id in self.active and node.id in state:
                return self.tangent_ref(node.id)
            return None
        if isinstance(node, (gast.List, gast.Dict)) and not getattr(
                node, "elts", getattr(node, "keys", None)):
            return type(node)(**({"elts": [], "ctx": gast.Load()} if isinstance(node, gast.List)
                                 else {"keys": [], "values": []}))   # [] has the tangent []
        if isinstance(node, gast.Constant) or not self.active_expr(node):
            return None
        if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Name):
            base = self._tangent(node.value, state, pre, None)
            if base is None:
                return None
            return gast.Subscript(value=base, slice=self._tangent_index(node.value.id, node.slice),
                                  ctx=gast.Load())
        if isinstance(node, (gast.Tuple, gast.List)):
            parts = [self._tangent(e, state, pre, None) for e in node.elts]
            if all(p is None for p in parts):
                return None
            elts = [p if p is not None else self._zeros(e) for p, e in zip(parts, node.elts)]
            return type(node)(elts=elts, ctx=gast.Load())
        if isinstance(node, gast.Dict):
            parts = [self._tangent(e, state, pre, None) for e in node.values]
            if all(p is None for p in parts):
                return None
            values = [p if p is not None else self._zeros(e) for p, e in zip(parts, node.values)]
            return gast.Dict(keys=[copy_tree(k) for k in node.keys], values=values)
        if isinstance(node, gast.Call):
            callee = callee_of(node, self.resolver)
            if callee.kind == "container" and isinstance(node.func, gast.Name) \
                    and node.func.id in ("list", "tuple", "dict") and len(node.args) == 1 \
                    and not node.keywords:
                inner = self._tangent(node.args[0], state, pre, None)
                return None if inner is None else call(node.func.id, [inner])
        if isinstance(node, gast.Attribute) and isinstance(node.value, gast.Name) \
                and attribute_primitive(node.attr) is None and not self.batched:
            # p.a of a namedtuple or an object: the tangent's part for it, by name
            base = self._tangent(node.value, state, pre, None)
            if base is None:
                return None
            return _rt_call("attribute_tangent", base, name(node.value.id), const(node.attr))
        info = self._node_rule(node)
        if info is None:
            if isinstance(node, gast.Call):
                callee = callee_of(node, self.resolver)
                if callee.name in ("_rt.call_fwd", "_rt.call_bwd"):
                    raise UnsupportedError(
                        self.where(node), "differentiating again the reverse mode of a call "
                        "known only at run time", "call the function by its own name, not "
                        "through a variable, so that its source is transformed")
                if callee.kind == "norule":
                    raise NoRuleError(self.where(node), callee.name)
                raise UnsupportedError(self.where(node), f"differentiating {callee.name} here")
            raise UnsupportedError(self.where(node), f"differentiating {to_text(node)}")
        prim, bound, namespace = info
        va = registry.varargs_param(prim)
        missing = [p for p, v in bound.items() if p not in prim.jvp and p != va
                   and p not in prim.shape_params
                   and isinstance(v, gast.AST) and self._tangent_probe(v, state)]
        if missing:
            raise UnsupportedError(self.where(node), f"a derivative with respect to the "
                                   f"{missing[0]!r} argument of {prim.qualname}",
                                   "s2sgrad has no rule for it")
        if self.batched:
            return self._batched_tangent(node, prim, bound, namespace, state, pre, ans)
        terms = [self._inline_rule(prim, self._rule(prim, "jvp", p, child), bound, namespace, tc,
                                   ans if ans is not None else node, pre, k)
                 for p, k, child, tc in self._argument_tangents(prim, bound, state, pre)]
        if prim.elementwise == 2 and len(terms) == 2:
            # Both operands carry tangents, and a tangent has its value's shape:
            # the sum of the two terms broadcasts to the result's shape by
            # itself, so neither needs ``broadcast_like(..., ans)``.
            terms = [_unwrap_broadcast_like(term) for term in terms]
        return _sum_terms(prim, terms)

    def _argument_tangents(self, prim, bound, state, pre):
        """``(parameter, position in *args or None, argument, its tangent)`` for each argument
        of a call of ``prim`` that has a forward rule and a nonzero tangent here."""
        va = registry.varargs_param(prim)
        for p, v in bound.items():
            if p not in prim.jvp:
                continue
            for k, child in list(enumerate(v)) if p == va else [(None, v)]:
                if isinstance(child, gast.AST) and not _empty_literal(child):
                    tc = self._tangent(child, state, pre, None)
                    if tc is not None:
                        yield p, k, child, tc

    def _rule_code(self, prim, rule, bound, namespace, t, like, argnum=None):
        """``rule`` of ``prim`` (forward or batch) inlined with tangent ``t``:
        ``(statements, expression)``."""
        va = registry.varargs_param(prim)
        template = rule.template
        bindings = {"xp": self._xp(namespace), "t": t,
                    "ans": copy_tree(like) if template.reads("ans") else const(None)}
        for q, val in bound.items():
            bindings[q] = gast.Tuple(elts=list(val), ctx=gast.Load()) if q == va else val
        if argnum is not None:
            bindings["argnum"] = argnum
        hint = like.id if isinstance(like, gast.Name) else expression_name(like)
        return inline(template, bindings, self.namer.fresh, self.program.module.modules,
                      hint=hint, result=naming.tangent(f"{hint}_part") if hint else None)

    def _inline_rule(self, prim, rule, bound, namespace, t, like, pre, argnum=None):
        """``_rule_code``, its statements appended to ``pre``: the expression."""
        stmts, expr = self._rule_code(prim, rule, bound, namespace, t, like, argnum)
        pre.extend(self._mark(st) for st in stmts)
        return expr

    # -- a batch of tangents (a leading axis): the rules that stay right ---------------

    def _zeros(self, node):
        """A zero tangent for the value of ``node`` (with the batch axis, in batched mode)."""
        if self.batched:
            return _rt_call("batch_zeros_like", copy_tree(node),
                            name(next(iter(self.spec.tangent_names.values()))))
        if isinstance(node, gast.Constant) and type(node.value) in (float, int, bool):
            return const(0.0)       # what zeros_like gives a real number, without the call
        return _rt_call("zeros_like", copy_tree(node))

    def _batched_tangent(self, node, prim, bound, namespace, state, pre, ans):
        """The tangent of ``node`` when tangents carry a leading batch axis.

        Elementwise rules (``t * d``) are right as written once the tangent has
        the rank of the result; a primitive with a batch rule (``batch_<param>``)
        gets it; any other rule runs once per direction (``_per_direction``).
        """
        like = ans if ans is not None else node
        terms = []
        for p, k, child, tc in self._argument_tangents(prim, bound, state, pre):
            if prim.elementwise == 1:
                expr = self._inline_rule(prim, prim.jvp[p], bound, namespace, tc, like, pre)
            elif prim.elementwise == 2 and self._same_shape(child, node):
                # the batch has the result's rank and size already
                expr = _batch_broadcasts(self._inline_rule(prim, prim.jvp[p], bound, namespace,
                                                           tc, like, pre), drop=True)
            elif prim.elementwise == 2:
                aligned = _rt_call("batch_align", tc, copy_tree(like))
                expr = _batch_broadcasts(self._inline_rule(prim, prim.jvp[p], bound, namespace,
                                                           aligned, like, pre))
            elif p in prim.batch and k is None:
                expr = self._inline_rule(prim, prim.batch[p], bound, namespace, tc, like, pre)
            else:
                expr = self._per_direction(prim, p, k, bound, namespace, tc, child, like, pre)
            terms.append(expr)
        return _sum_terms(prim, terms)

    def _same_shape(self, a, b):
        """Whether expressions ``a`` and ``b`` certainly have the same shape."""
        ca, cb = self.shapes.of(a), self.shapes.of(b)
        return ca == cb and ca not in (UNKNOWN, None)

    def _per_direction(self, prim, p, k, bound, namespace, tc, child, like, pre):
        """``p``'s forward rule applied to each direction of the batch ``tc`` in turn.

        The rule is written for one tangent; ``_rt.directions`` gives them one
        by one (shaped like the argument), ``_rt.stack_directions`` makes a
        batch of the results.
        """
        t_dir = self.namer.fresh("t_dir")
        stmts, expr = self._rule_code(prim, prim.jvp[p], bound, namespace, name(t_dir), like, k)
        each = _rt_call("directions", tc, copy_tree(child))
        if not stmts:
            comp = gast.ListComp(elt=expr, generators=[gast.comprehension(
                target=store(t_dir), iter=each, ifs=[], is_async=0)])
            return _rt_call("stack_directions", comp)
        acc = self.namer.fresh("t_directions")
        append = gast.Expr(value=call(gast.Attribute(value=name(acc), attr="append",
                                                     ctx=gast.Load()), [expr]))
        pre.append(self._mark(assign(acc, gast.List(elts=[], ctx=gast.Load()))))
        pre.append(self._mark(gast.For(target=store(t_dir), iter=each,
                                       body=[self._mark(st) for st in stmts]
                                       + [self._mark(append)],
                                       orelse=[], type_comment=None)))
        return _rt_call("stack_directions", name(acc))

    def _tangent_probe(self, node, state):
        """True when ``node`` has a nonzero tangent here (without emitting anything)."""
        return bool({n for n in _loads(node) if n in self.active and n in state}) \
            and self.active_expr(node)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _sum_terms(prim, terms):
    """The tangent of a call: the sum of the terms of its arguments (``None`` for none)."""
    if not terms:
        return None
    total = terms[0]
    # (a rule that returns a tuple, like lstsq's (x, residuals, rank, s), gives a tuple
    # literal: its terms add item by item, never concatenate)
    tuples = any(isinstance(t, (gast.Tuple, gast.List)) for t in terms)
    for term in terms[1:]:
        if tuples or prim.name in _CONTAINER_RESULTS or (
                prim.family == "s2sgrad.runtime" and prim.name not in _RUNTIME_TENSOR_HELPERS):
            total = _rt_call("add", total, term)   # runtime helpers also work on containers
        else:
            total = gast.BinOp(left=total, op=gast.Add(), right=term)
    return total


def _batch_broadcasts(expr, drop=False):
    """``_rt.broadcast_like(t, ans)`` in an inlined rule becomes ``_rt.batch_broadcast_like``
    (or, with ``drop``, just ``t``: the batch has the shape already)."""
    class Batch(gast.NodeTransformer):
        def visit_Call(self, n):
            self.generic_visit(n)
            if isinstance(n.func, gast.Attribute) and n.func.attr == "broadcast_like" \
                    and isinstance(n.func.value, gast.Name) and n.func.value.id == naming.RUNTIME:
                if drop:
                    return n.args[0]
                n.func.attr = "batch_broadcast_like"
                n.s2s_callee = None
            return n
    return Batch().visit(expr)


def _empty_literal(node):
    """``[]`` or ``{}`` written in the call: its tangent (``[]``) carries no derivative into a
    primitive (``np.einsum(a, [0, 1], b, [1, 0], [])``: the empty output sublist)."""
    return isinstance(node, gast.List) and not node.elts or \
        isinstance(node, gast.Dict) and not node.keys


def _unwrap_broadcast_like(expr):
    """``e`` for ``_rt.broadcast_like(e, ans)`` (the outer call of a binary rule), else ``expr``."""
    if isinstance(expr, gast.Call) and isinstance(expr.func, gast.Attribute) \
            and expr.func.attr == "broadcast_like" and isinstance(expr.func.value, gast.Name) \
            and expr.func.value.id == naming.RUNTIME and len(expr.args) == 2 and not expr.keywords:
        return expr.args[0]
    return expr


def _tangent_names(job, params):
    """``{param: tangent parameter name}``: ``t_x`` unless the function already uses it."""
    used = set(job.norm.namer.used)
    names = {}
    for p in params:
        base = naming.tangent(p).strip("_")
        nm, k = base, 1
        while nm in used:
            nm = f"{base}_{k}"
            k += 1
        used.add(nm)
        names[p] = nm
    return names


def _substitute(stmts, ans):
    """Replace the placeholder for the value being differentiated by ``ans``."""
    class Sub(gast.NodeTransformer):
        def visit_Name(self, node):
            if node.id == _ANS:
                return copy_tree(ans)
            return node
    return [Sub().visit(s) for s in stmts]


# Runtime helpers that read an argument only for its shape: {name: positions}.
_SHAPE_ONLY = {"broadcast_like": {1}, "unbroadcast": {1}, "reduce_vjp": {1}, "shape": {0},
               "ndim": {0}, "size": {0}, "zeros_like": {0}, "ones_like": {0}}
_VALUE_READS = {}


def _value_reads(template, param):
    """How many times ``template`` reads ``param`` other than for its shape."""
    key = (id(template), param)
    if key not in _VALUE_READS:
        import s2sgrad.runtime as runtime
        shape_only = set()
        for node in (n for st in template.body for n in _walk(st)):
            if isinstance(node, gast.Call):
                f = node.func
                fname = f.id if isinstance(f, gast.Name) else getattr(f, "attr", None)
                obj = template.globals.get(fname) if isinstance(f, gast.Name) else None
                is_helper = obj is not None and obj is getattr(runtime, fname, None)
                if fname in _SHAPE_ONLY and (is_helper or isinstance(f, gast.Attribute)):
                    for k in _SHAPE_ONLY[fname]:
                        if k < len(node.args) and isinstance(node.args[k], gast.Name):
                            shape_only.add(id(node.args[k]))
        _VALUE_READS[key] = sum(
            1 for st in template.body for n in _walk(st)
            if isinstance(n, gast.Name) and n.id == param and isinstance(n.ctx, gast.Load)
            and id(n) not in shape_only)
    return _VALUE_READS[key]


def _mentions(stmts, ident):
    return any(isinstance(n, gast.Name) and n.id == ident for s in stmts for n in _walk(s))


def _contains(stmts, expr):
    """True when some subexpression of ``stmts`` is ``expr`` (compared as source text)."""
    text = to_text(expr)
    return any(isinstance(n, gast.expr) and type(n) is type(expr) and to_text(n) == text
               for s in stmts for n in _walk(s))


def _is_number(node, value):
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return _is_number(node.operand, -value)
    return isinstance(node, gast.Constant) and not isinstance(node.value, bool) \
        and isinstance(node.value, (int, float)) and node.value == value


def _drop_dead_tangents(stmts):
    """Remove tangent assignments whose variable is never read afterwards (repeatedly)."""
    while True:
        last = {}

        def visit(stmt, live_after):
            last[id(stmt)] = set(live_after)
        liveness.live_in(stmts, set(), visit)
        dead = set()
        for s in walk_stmts(stmts):
            if getattr(s, "s2s_tangent", False) and isinstance(s, gast.Assign) \
                    and isinstance(s.targets[0], gast.Name) and id(s) in last \
                    and s.targets[0].id not in last[id(s)] and not _has_effect(s.value):
                dead.add(id(s))
        if not dead:
            return stmts
        stmts = drop_stmts(stmts, dead)


def _has_effect(node):
    """Calls that change their receiver (``t_l.pop()``) must stay even if their value is unused."""
    for n in _walk(node):
        if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) \
                and n.func.attr in tuple(_MUTATORS) + ("pop",):
            return True
    return False


