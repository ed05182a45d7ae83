"""A transformation as a program: the functions to generate and what they are called.

``Program`` starts from one entry function and transforms every user function
it calls, each once per pattern of active parameters, into the same generated
module.  An entry function gets one *combined* function (forward sweep, then
backward sweep, returning the value and the gradients); a callee gets a
*split* pair: ``g_fwd(_tape, ...)`` runs its forward sweep and leaves what its
backward sweep needs on the tape, ``g_bwd(_tape, d_out)`` returns the adjoints
of its active parameters.  The tape is a stack, so recursion needs nothing more.
"""

import copy
import inspect
import sys
import types

import gast

import s2sgrad.naming as naming
from ..analysis.liveness import definitely_assigned, live_in
from ..analysis.tape import prune
from ..codegen import ModuleBuilder
from ..errors import SourceError, UnsupportedError
from ..frontend.normalize import normalize
from ..syntax import assign, call, const, copy_tree, name, param, store, walk, walk_stmts
from ..frontend.resolve import TransformEverything
from ..analysis.activity import callee_of
from ..frontend.source import FunctionSource
from ..rules import registry
from .reverse import ReverseBuilder, _tape_pop, _tape_push
from .simplify import one_like, seed_expr
from ..analysis.shapes import Shapes
from ..rules.shapes import join
from ..sites import defaults_of
from ..signature import ANY, NONE, abstract_of

__all__ = ["Program", "Job", "Spec", "PASSES"]

# The optional passes a program runs after the builders, in this order (``Program(passes=...)``
# runs a subset: how the driver prints the code before a pass, see ``driver.pipeline``).
PASSES = frozenset({"simplify", "prune", "share", "release"})


class Job:
    """One user function to transform (before choosing its active parameters)."""

    def __init__(self, fsrc, key, lifted_params=(), binds_receiver=False, policy=None):
        self.fsrc = fsrc
        self.policy = policy
        self.key = key
        self.lifted_params = list(lifted_params)
        self.binds_receiver = binds_receiver
        self._norm = None
        self.specs = {}
        self.primal_name = None
        # parameter name -> abstract value (``s2sgrad.signature``): what the code may
        # assume of the argument; a parameter not named here may hold anything
        self.abstract = {}

    @property
    def norm(self):
        if self._norm is None:
            # deciding whether a callee can be transformed normalized it already (the driver's
            # policy kept it): that one, and its source, for this job
            take = getattr(self.policy, "take_normalized", None)
            norm = take(self.fsrc) if take is not None and not self.lifted_params else None
            if norm is not None:
                self.fsrc = norm.fsrc
            else:
                norm = normalize(self.fsrc, self.lifted_params, self.policy)
            self._norm = norm
        return self._norm

    @property
    def param_names(self):
        args = self.fsrc.node.args
        if self._norm is None and not (args.posonlyargs or args.vararg or args.kwarg):
            # (read off the parsed definition, as normalizing keeps plain parameters: a
            # function whose calls all go to its specialized copies is never normalized)
            return [a.id for a in args.args] + list(self.lifted_params) \
                + [a.id for a in args.kwonlyargs]
        args = self.norm.node.args
        return [a.id for a in args.args] + [a.id for a in args.kwonlyargs]

    @property
    def base_name(self):
        fn = self.fsrc.fn
        if fn is not None and "." in fn.__qualname__ and "<locals>" not in fn.__qualname__:
            # ``Class.method``; ``<listcomp>.<lambda>`` (a lambda made in a comprehension)
            parts = [p for p in fn.__qualname__.split(".") if not p.startswith("<")]
            if parts and fn.__name__ != "<lambda>":
                return "_".join(parts)
        if self.fsrc.name == "lambda_fn" or self.fsrc.name == "<lambda>":
            return "lambda_fn"
        return self.fsrc.name


class Copied:
    """A function whose source generated code copies, untransformed (see ``Program.jobs``)."""

    def __init__(self, fn):
        self.fsrc = types.SimpleNamespace(fn=fn)
        self.key = ("copied", fn)
        self.specs = {}


class Spec:
    """A function specialized to a set of active parameters, and its generated names."""

    def __init__(self, job, active, split):
        self.job = job
        self.active = tuple(active)
        self.split = split
        self.fwd_name = None
        self.bwd_name = None
        self.grad_name = None
        self.active_params = self.active

    @property
    def norm(self):
        return self.job.norm

    @property
    def params(self):
        return self.job.param_names


class Program:
    """All the functions one transformation generates, in one module.

    With ``joint=True`` every function gets a *combined* function (``grad_g``)
    and calls recompute: the forward sweep calls the plain function and the
    backward sweep calls ``grad_g``, so no tape is shared between functions.
    That costs a second run of each callee's forward sweep, and gives code
    whose functions only read their arguments, which s2sgrad can differentiate
    again (``grad(grad(f))``).
    """

    def __init__(self, joint=False, policy=None, passes=None, signature=None):
        self.module = ModuleBuilder()
        self.signature = signature     # the entry's arguments' abstract values, or None
        self.jobs = {}
        self.queue = []
        self.entry_spec = None
        self.joint = joint
        self.policy = policy if policy is not None else TransformEverything()
        self.passes = PASSES if passes is None else frozenset(passes)

    def runs(self, pass_name):
        """Whether the optional pass ``pass_name`` (one of ``PASSES``) runs in this program."""
        return pass_name in self.passes

    def add_job(self, fsrc, key, **kwargs):
        """A new Job of this program (its source normalized under the program's policy)."""
        job = self.jobs[key] = Job(fsrc, key, policy=self.policy, **kwargs)
        return job

    # -- jobs and specializations ------------------------------------------------

    def job_for(self, callee, caller, node=None):
        """The Job for a user function that ``caller`` (a Job) calls (at the call ``node``:
        the copy of the function specialized to that call's arguments, if there is one)."""
        specialized = getattr(node, "s2s_job_key", None)
        if specialized is not None and specialized in self.jobs:
            return self.jobs[specialized]
        if callee.kind == "lifted":
            node, free = caller.norm.nested[callee.name]
            key = ("lifted", id(node))      # one job per definition, whoever calls it
            if key not in self.jobs:
                child = caller.fsrc.nested(copy.deepcopy(node), free, caller.norm.nested)
                self.add_job(child, key, lifted_params=free)
            return self.jobs[key]
        fn = callee.fn
        self_value = callee.self_value
        self_class = getattr(callee, "self_class", None)
        if self_value is None and self_class is None and callee.receiver is not None:
            # ``self.method(...)``: the caller's own object (or class)
            self_value = caller.fsrc.self_value
            self_class = getattr(caller.fsrc, "self_class", None)
        if self_value is not None:
            self_class = type(self_value)
        key = (fn, id(self_class) if self_class is not None else None)
        if key not in self.jobs:
            fsrc = FunctionSource.of(fn)
            if self_value is not None:
                fsrc.self_value = self_value
                fsrc.has_self = True
            elif self_class is not None:
                fsrc.self_class = self_class     # an object of a known class (``s = Spring()``)
                fsrc.has_self = True
            self.add_job(fsrc, key, binds_receiver=callee.receiver is not None
                         or callee.self_value is not None)
        return self.jobs[key]

    def _entry_job(self, fn, wrt, signature=None):
        """The Job of an entry function and the names of its parameters ``wrt`` (positions).

        ``signature`` (abstract values of the positional arguments) specializes this
        entry; ``None`` takes the program's ``signature``.  Entries of one function with
        different signatures are different jobs.
        """
        if signature is None:
            signature = self.signature
        fsrc = FunctionSource.of(fn)
        job = self.add_job(fsrc, ("entry", fn) if signature is None else ("entry", fn, signature))
        params = job.param_names
        if fsrc.self_value is not None:
            params = params[1:]
        active = []
        for w in wrt:
            if not 0 <= w < len(params):
                raise IndexError(f"wrt={w}, but {fsrc.qualname} has {len(params)} positional "
                                 f"parameters")
            active.append(params[w])
        if signature is not None:
            # Positional arguments only: a parameter left to its default, or passed by
            # keyword, is not specialized.
            job.abstract = dict(zip(params, signature))
            self._propagate_abstract(job)
        return job, active

    # -- abstract values through calls ---------------------------------------------------

    def _propagate_abstract(self, root):
        """Give each user function that ``root`` calls (transitively) the join of the abstract
        values of its arguments at all its call sites (``Job.abstract``), and each function
        the abstract value of its result (``self.returns``): what ``analysis.shapes`` reads.

        A fixed point over the call graph (recursion included).  A function reached in
        any other way than a direct call keeps ``abstract = {}``: general code.
        """
        self.returns = {}
        callers = {}
        seen = {root.key}
        work = [root]
        budget = 50 * (1 + len(self.jobs))
        clones = {}         # shared job's key -> {arguments' abstract values: its copy}
        calls_in = {}       # id(normalized function) -> (it, its calls): a job comes back
        sites = []          # the call nodes given a copy
        while work:
            budget -= 1
            if budget < 0:
                for job in self.jobs.values():
                    if job is not root:
                        job.abstract = {}
                for node in sites:
                    node.s2s_job_key = None
                self.returns = {}
                return
            job = work.pop()
            try:
                norm = job.norm
            except Exception:       # (the builder says why, at the user's line)
                continue
            facts = Shapes(norm.node.body, job.abstract, norm.resolver, params=job.param_names,
                           calls=self.call_result_hook(job))
            found = calls_in.get(id(norm))
            if found is None or found[0] is not norm:
                found = calls_in[id(norm)] = (norm, [n for s in walk_stmts(norm.node.body)
                                                     for n in walk(s) if isinstance(n, gast.Call)])
            for node in found[1]:
                try:
                    callee = callee_of(node, norm.resolver)
                except Exception:
                    continue
                if callee.kind not in ("user", "lifted"):
                    continue
                try:
                    shared = self.job_for(callee, job)
                    child_params = shared.param_names
                except Exception:
                    continue
                bound = _bind_abstract(node, shared, child_params, facts)
                sig = tuple(bound.get(p, ANY) for p in child_params)
                copies = clones.setdefault(shared.key, {})
                if sig not in copies and len(copies) < _COPIES and any(a is not ANY for a in sig):
                    # a copy of the function for these arguments' abstract values
                    copy_job = self.add_job(shared.fsrc, shared.key + ("abstract", sig),
                                            lifted_params=shared.lifted_params,
                                            binds_receiver=shared.binds_receiver)
                    copy_job.abstract = dict(zip(child_params, sig))
                    copies[sig] = copy_job
                    seen.add(copy_job.key)
                    work.append(copy_job)
                if sig in copies:
                    child = copies[sig]
                    node.s2s_job_key = child.key
                    sites.append(node)
                    callers.setdefault(child.key, {})[job.key] = job
                    continue
                # too many: the calls left share the function, specialized to the join
                node.s2s_job_key = None
                child = shared
                callers.setdefault(child.key, {})[job.key] = job
                first = child.key not in seen
                seen.add(child.key)
                new = {p: bound.get(p, ANY) if first else join(child.abstract.get(p, ANY),
                                                               bound.get(p, ANY))
                       for p in child_params}
                if first or new != child.abstract:
                    child.abstract = new
                    work.append(child)
            ret = facts.var(norm.return_name) if norm.return_name else NONE
            if self.returns.get(job.key) is not ret:
                self.returns[job.key] = ret
                work.extend(callers.get(job.key, {}).values())

    def call_result_hook(self, job):
        """For ``analysis.shapes``: the abstract value of a call of a user function in ``job``
        (None: not known yet)."""
        returns = getattr(self, "returns", None)
        if returns is None:
            return None

        def result(node, resolver):
            callee = callee_of(node, resolver)
            if callee.kind not in ("user", "lifted"):
                return ANY
            child = self.job_for(callee, job, node)
            return self.returns.get(child.key)
        return result

    def entry(self, fn, wrt, seed="given", value=True, signature=None, name=None):
        """The combined gradient function of ``fn`` with respect to parameters ``wrt``.

        ``seed`` is how the backward sweep starts: ``"given"`` from a parameter
        (``d_result=None``: 1 for a scalar output; the general code of ``grad``), ``"one"``
        from 1 (the output must be a scalar: checked unless the facts prove it a number,
        and the 1 folded into the backward sweep where they prove it a float64 number;
        joint code, and the specialized code of ``grad``/``value_and_grad``), ``"ones"``
        from ones shaped like the output (the gradient of the sum of its elements),
        ``"param"`` from a last parameter (``vjp``'s cotangent).  With ``value=False`` the
        function returns the gradients only (one, or a tuple).  ``signature`` specializes
        this entry (``_entry_job``); ``name`` is the generated function's name (made fresh;
        default ``grad_<fn>``).
        """
        job, active = self._entry_job(fn, wrt, signature)
        spec = Spec(job, active, split=False)
        spec.seed_kind = seed
        spec.returns_value = value
        spec.grad_name = self.module.fresh_function_name(
            name or naming.gradient_function(job.base_name))
        self.entry_spec = spec
        self.queue.append(spec)
        self.run()
        return spec

    def split_entry(self, fn, wrt):
        """``fn``'s split pair (``f_fwd``, ``f_bwd``) for parameters ``wrt``: a vjp."""
        job, active = self._entry_job(fn, wrt)
        spec = self.request(job, active, joint=False)
        self.entry_spec = spec
        self.run()
        return spec

    def request(self, job, active, joint=None):
        if self.joint if joint is None else joint:
            return self._request_combined(job, active)
        key = tuple(active)
        if key in job.specs:
            return job.specs[key]
        spec = Spec(job, active, split=True)
        suffix = "" if not job.specs else "_" + "_".join(active or ("none",))
        base = job.base_name + suffix
        spec.fwd_name = self.module.fresh_function_name(naming.forward_sweep(base))
        spec.bwd_name = self.module.fresh_function_name(naming.backward_sweep(base))
        job.specs[key] = spec
        self.queue.append(spec)
        return spec

    def _request_combined(self, job, active):
        key = ("combined",) + tuple(active)
        if key in job.specs:
            return job.specs[key]
        spec = Spec(job, active, split=False)
        suffix = "" if not job.specs else "_" + "_".join(active or ("none",))
        spec.grad_name = self.module.fresh_function_name(naming.gradient_function(job.base_name + suffix))
        ret = job.norm.return_name
        spec.seed_name = job.norm.namer.fresh(naming.adjoint(ret) if ret else naming.RESULT_ADJOINT)
        spec.seed_kind = "param"
        spec.returns_value = False
        job.specs[key] = spec
        self.queue.append(spec)
        return spec

    def primal(self, job):
        """The name of a plain copy of ``job``'s function in this module.

        A function defined inside another (lifted to module level, its free
        variables passed as keywords) has no name the generated module can
        call, so calls that need only its value call this copy.
        """
        if job.primal_name is None:
            job.primal_name = self.module.fresh_function_name(job.base_name)
            fdef = copy.deepcopy(job.norm.node)
            fdef.name = job.primal_name
            fdef.decorator_list = []
            for n in walk(fdef):
                callee = getattr(n, "s2s_callee", None) if isinstance(n, gast.Call) else None
                if callee is not None and callee.kind == "lifted":
                    n.func = name(self.primal(self.job_for(callee, job)))
            for st in walk_stmts(fdef.body):
                if getattr(st, "s2s_line", None) is not None:
                    st.s2s_origin = (job.fsrc, st.s2s_line)
            fdef.s2s_doc = (f"{job.fsrc.qualname} ({job.fsrc.display_file}:"
                            f"{job.fsrc.node.lineno}), lifted out of the function that defines it.")
            self._bind_globals(fdef, job.fsrc)
            self.module.add_function(fdef)
        return job.primal_name

    def static_reads(self):
        """``(function, "global" or "closure", name, (attr, ...))`` of each attribute chain a
        transformed function read through an object of the user's when its code was made
        (``cfg.act``): the driver's cache checks they still lead to the same objects."""
        out = []
        for job in self.jobs.values():
            norm = getattr(job, "_norm", None)
            fn = getattr(job.fsrc, "fn", None)
            if norm is None or fn is None:
                continue
            for base, attrs in sorted(norm.resolver.reads):
                kind, _ = job.fsrc.resolve(base)
                if kind in ("global", "closure"):
                    out.append((fn, kind, base, attrs))
        return out

    def run(self):
        while self.queue:
            spec = self.queue.pop(0)
            try:
                fdefs = self._build(spec)
            except (SourceError, UnsupportedError) as exc:
                fdefs = self._traced_callee(spec, exc)
            for fdef in fdefs:
                self.module.add_function(fdef)
        self._copied_functions()

    def _copied_functions(self):
        """List with the jobs the functions whose source the generated code copied without
        transforming them (the inlined rules of ``custom_vjp`` functions), so that the
        caches and ``s2sgrad check`` see when their source changes."""
        for obj in list(self.module.symbols.values()):
            for fn in getattr(obj, "_s2sgrad_inlined_rules", ()):
                self.jobs.setdefault(("copied", fn), Copied(fn))

    # -- mixed mode ------------------------------------------------------------

    def _traced_callee(self, spec, exc):
        """Split functions for a callee whose adjoint cannot be generated: they call it
        through the dynamic dispatcher, which traces it (the caller stays generated code).

        Re-raises ``exc`` where that cannot work: the entry function, a def nested in
        its caller (no function object to call), the root of a dynamic compilation
        (the dispatcher is already falling back), a generator, ``fallback="never"``.
        """
        job = spec.job
        fn = job.fsrc.fn
        if not spec.split or spec is self.entry_spec or fn is None or job.key[0] == "dynamic" \
                or not self.policy.traces or inspect.isgeneratorfunction(fn):
            raise exc
        reason = self.policy.record_failure(fn, exc)
        args = copy.deepcopy(job.norm.node.args)
        params = [a.id for a in args.args]
        positional = gast.Tuple(elts=[name(p) for p in params], ctx=gast.Load())
        keywords = gast.Dict(keys=[const(a.id) for a in args.kwonlyargs],
                             values=[name(a.id) for a in args.kwonlyargs])
        active = gast.Tuple(elts=[const(params.index(p)) for p in spec.active], ctx=gast.Load())
        target = name(self.module.symbol(fn, fn.__name__))
        rt_attr = lambda attr: gast.Attribute(value=name(naming.RUNTIME), attr=attr, ctx=gast.Load())  # noqa: E731
        fwd_body = [gast.Return(value=call(rt_attr("call_fwd"),
                                           [name(naming.TAPE), target, positional, keywords, active]))]
        seed = "d_out"
        cts = call(rt_attr("call_bwd"), [name(naming.TAPE), name(seed)])
        if len(spec.active) == 1:
            cts = gast.Subscript(value=cts, slice=const(0), ctx=gast.Load())
        bwd_body = [gast.Return(value=cts)]
        fargs = copy.deepcopy(args)
        fargs.args = [gast.Name(id=naming.TAPE, ctx=gast.Param(), annotation=None,
                                type_comment=None)] + list(fargs.args)
        fdef = _function(spec.fwd_name, fargs, fwd_body)
        fsrc = job.fsrc
        fdef.s2s_doc = (f"Forward sweep of {fsrc.qualname} ({fsrc.display_file}:"
                        f"{fsrc.node.lineno}), traced at run time because its source cannot "
                        f"be transformed: {reason.text()}.")
        bargs = _backward_arguments(seed)
        bdef = _function(spec.bwd_name, bargs, bwd_body)
        bdef.s2s_doc = (f"Backward sweep of {fsrc.qualname} (traced): the adjoints of "
                        f"{', '.join(spec.active) or 'nothing'} given {seed}.")
        self._bind_globals(fdef, fsrc)
        return [fdef, bdef]

    # -- namespaces ------------------------------------------------------------

    def default_namespace(self, fsrc):
        """The array namespace used for operators: the one the function's module imports."""
        for nm in sorted({n.id for n in walk(fsrc.node) if isinstance(n, gast.Name)}):
            kind, value = fsrc.resolve(nm)
            if kind and getattr(value, "__name__", None) in registry.ARRAY_NAMESPACES:
                return self.module.symbol(value, nm)
        for nm, value in sorted(fsrc.globals.items()):
            if getattr(value, "__name__", None) in registry.ARRAY_NAMESPACES \
                    and isinstance(value, type(sys)):
                return self.module.symbol(value, nm)
        import numpy
        return self.module.symbol(numpy, "np")

    def namespace_symbol(self, module, fsrc):
        for nm, value in sorted(fsrc.globals.items()):
            if value is module:
                return self.module.symbol(module, nm)
        short = {"numpy": "np", "cupy": "cp", "array_api_strict": "xp"}.get(module.__name__,
                                                                              module.__name__)
        return self.module.symbol(module, short.replace(".", "_"))

    # -- building one specialization ------------------------------------------------

    def _build(self, spec):
        job = spec.job
        builder = (JointReverseBuilder if self.joint else ReverseBuilder)(self, spec)
        fwd, bwd, seed, grads = builder.build()
        ret = job.norm.return_name
        args = copy.deepcopy(job.norm.node.args)
        if spec.split:
            fwd_def, bwd_def = self._split(spec, builder, fwd, bwd, seed, grads, ret, args)
            out = [fwd_def, bwd_def]
        else:
            out = [self._combined(spec, builder, fwd, bwd, seed, grads, ret, args)]
        for fdef in out:
            fdef.s2s_derivative_of = {d: v for v, d in builder.adj.items()}   # for cse's names
            _note_traced_calls(fdef, job.fsrc, self.policy)
            self._bind_lifted(fdef, job)
            self._bind_globals(fdef, job.fsrc)
            if (self.joint or is_generated(job.fsrc)) and self.runs("share"):
                self.share(fdef)   # derivatives of derivatives repeat work: share it
            elif not getattr(spec, "returns_value", True) and self.runs("share"):
                self.share(fdef, dead_only=True)   # what only the value needed
        return out

    def share(self, fdef, dead_only=False):
        """Compute each value of ``fdef`` once (``cse.share``), resolving its names in this
        module; with ``dead_only``, only drop the values nothing reads (``cse.drop_dead``)."""
        import s2sgrad.runtime as runtime
        from .cse import drop_dead, share
        symbols = self.module.symbols
        (drop_dead if dead_only else share)(
            fdef, lambda n: runtime if n == naming.RUNTIME else symbols.get(n))

    def _none_inits(self, builder, fwd_locals_first):
        out = []
        for slot in builder.slots:
            if slot.alive and slot.maybe_undefined and isinstance(slot.var, str):
                stmt = assign(slot.var, const(None))
                if slot.var not in {getattr(s.targets[0], "id", None) for s in out}:
                    out.append(stmt)
        if out:
            out[0].s2s_note = "saved on the tape before their first assignment"
        return out

    def _combined(self, spec, builder, fwd, bwd, seed, grads, ret, args):
        with_value = getattr(spec, "returns_value", True)
        if self.runs("prune"):
            fwd, bwd = prune(fwd, bwd, set(grads), builder._view_source)
        if ret and with_value and _restores(bwd, ret):
            # The backward sweep puts back earlier values of the returned variable:
            # keep the value the function returns before it starts.
            value = builder.namer.fresh(ret + "_value")
            fwd = fwd + [assign(value, name(ret))]
            ret = value
        inits = self._none_inits(builder, fwd)
        # A name the backward sweep reads outside its branches (its adjoint's zeros before a
        # loop, ``_rt.zeros_like(z)``) that the forward sweep assigns on some paths only.  (A
        # branch of the backward sweep replays the forward's, under the same test: what it
        # reads, the forward branch assigned.)
        read = live_in(bwd, set(grads)) & _read_outside_branches(bwd) & _stored(fwd)
        body = _none_if_unbound(read - {seed}, fwd, spec.params, inits) + inits + fwd
        kind = getattr(spec, "seed_kind", "given")
        ones = kind == "ones"
        out_node = name(ret) if ret else const(None)
        if ones:
            start = [assign(seed, call(gast.Attribute(value=name(naming.RUNTIME), attr="ones_like",
                                                      ctx=gast.Load()), [out_node]))]
            start[0].s2s_note = f"backward sweep from ones: the gradient of the sum of {ret}"
            if ret not in builder.active:
                # no derivative reaches the output: zeros, unless it cannot carry one at all
                check = gast.Expr(value=call(gast.Attribute(
                    value=name(naming.RUNTIME), attr="check_output", ctx=gast.Load()),
                    [copy_tree(out_node), const(spec.job.fsrc.where())]))
                check.s2s_note = ("the output, which carries no derivative here: None or a "
                                  "bool has none at all")
                start.insert(0, check)
        elif kind == "one" and getattr(builder, "seed_folded", False):
            # specialized code whose output the facts prove a number: 1.0 is folded in
            start = []
        elif kind == "one":
            # (specialized code: a 1 of the output's dtype, float32 for a float32 output)
            known = one_like(out_node, getattr(builder, "facts", None),
                             getattr(builder, "_numpy_name", None))
            start = [gast.Expr(value=call(gast.Attribute(value=name(naming.RUNTIME), attr="check_scalar",
                                                         ctx=gast.Load()),
                                          [out_node, const(spec.job.fsrc.where())])),
                     assign(seed, known or const(1.0))]
            start[0].s2s_note = "backward sweep from 1: the output is a scalar"
            if known is not None:
                start = start[1:]       # (the facts prove it a number)
                start[0].s2s_note = "backward sweep from 1: the output is a number"
        elif kind == "param":
            start = []
        else:
            known = seed_expr(name(seed), out_node, getattr(builder, "facts", None),
                              getattr(builder, "_numpy_name", None))
            start = [assign(seed, known or call(gast.Attribute(value=name(naming.RUNTIME),
                                                               attr="seed", ctx=gast.Load()),
                                                [name(seed), out_node]))]
            start[0].s2s_note = f"backward sweep ({seed} is 1 for a scalar output)"
        if not start and bwd:
            bwd[0].s2s_note = "backward sweep"
        body += start + bwd
        if _uses_tape(body):
            body = [assign(naming.TAPE, gast.List(elts=[], ctx=gast.Load()))] + body
        result = ([name(ret) if ret else const(None)] if with_value else []) \
            + [name(g) for g in grads]
        body.append(gast.Return(value=result[0] if len(result) == 1 else
                                gast.Tuple(elts=result, ctx=gast.Load())))
        if kind in ("given", "param"):
            args.args = list(args.args) + [gast.Name(id=seed, ctx=gast.Param(), annotation=None,
                                                     type_comment=None)]
            if kind == "given" or args.defaults:
                args.defaults = list(args.defaults) + [const(None)]
        fdef = _function(spec.grad_name, args, body)
        fsrc = spec.job.fsrc
        wrt = ", ".join(spec.active)
        fdef.s2s_doc = (f"{fsrc.qualname} ({fsrc.display_file}:{fsrc.node.lineno}) and its "
                        f"gradient with respect to {wrt}.\n\n"
                        f"Returns {_returned(([ret or 'None'] if with_value else []) + grads)}; "
                        + (f"the backward sweep starts from ones like {ret}." if ones else
                           "the output is a scalar." if kind == "one" else
                           f"{seed} is the cotangent of the output."))
        return fdef

    def _split(self, spec, builder, fwd, bwd, seed, grads, ret, args):
        if self.runs("prune"):
            fwd, bwd = prune(fwd, bwd, set(grads), builder._view_source)
        params = set(spec.params)
        state = sorted((live_in(bwd, set(grads)) & (_stored(fwd) | params)) - {seed, naming.TAPE})
        inits = self._none_inits(builder, fwd)
        fbody = _none_if_unbound(state, fwd, params, inits) + inits + fwd
        bbody = list(bwd)
        if state:
            if len(state) == 1:
                fbody.append(_tape_push(name(state[0])))
                bbody = [assign(state[0], _tape_pop())] + bbody
            else:
                fbody.append(_tape_push(gast.Tuple(elts=[name(v) for v in state], ctx=gast.Load())))
                target = gast.Tuple(elts=[store(v) for v in state], ctx=gast.Store())
                bbody = [gast.Assign(targets=[target], value=_tape_pop(), type_comment=None)] + bbody
            fbody[-1].s2s_note = "what the backward sweep needs"
            bbody[0].s2s_note = "what the forward sweep left"
        fbody.append(gast.Return(value=name(ret) if ret else const(None)))
        if len(grads) == 1:
            bbody.append(gast.Return(value=name(grads[0])))
        else:
            bbody.append(gast.Return(value=gast.Tuple(elts=[name(g) for g in grads],
                                                      ctx=gast.Load())))
        fargs = copy.deepcopy(args)
        fargs.args = [gast.Name(id=naming.TAPE, ctx=gast.Param(), annotation=None,
                                type_comment=None)] + list(fargs.args)
        fsrc = spec.job.fsrc
        fdef = _function(spec.fwd_name, fargs, fbody)
        fdef.s2s_doc = (f"Forward sweep of {fsrc.qualname} ({fsrc.display_file}:"
                        f"{fsrc.node.lineno}); {spec.bwd_name} finishes it.")
        bargs = _backward_arguments(seed)
        bdef = _function(spec.bwd_name, bargs, bbody)
        bdef.s2s_doc = (f"Backward sweep of {fsrc.qualname}: the adjoints of "
                        f"{', '.join(spec.active) or 'nothing'} given {seed}.")
        return fdef, bdef

    def _bind_lifted(self, fdef, job):
        """A local function used as a value (``sorted(xs, key=lambda v: -v)``) becomes its
        plain copy in this module, its free variables bound by ``functools.partial``."""
        nested = getattr(job.norm, "nested", None) or {}
        if not nested:
            return
        assigned = {n.id for n in walk(fdef) if isinstance(n, gast.Name)
                    and isinstance(n.ctx, (gast.Store, gast.Param))}
        called = {id(n.func) for n in walk(fdef) if isinstance(n, gast.Call)}
        program = self

        class Bind(gast.NodeTransformer):
            def visit_Name(self, n):
                if not isinstance(n.ctx, gast.Load) or n.id not in nested \
                        or n.id in assigned or id(n) in called:
                    return n
                child = program.job_for(_LiftedRef(n.id), job)
                value = name(program.primal(child))
                if not child.lifted_params or getattr(n, "s2s_unbound", False):
                    # (unbound: its values are passed as the callee's args, see
                    # frontend.normalize._closure_as_args)
                    return value
                program.module.modules.add("functools")
                return call(gast.Attribute(value=name("functools"), attr="partial",
                                           ctx=gast.Load()), [value],
                            [gast.keyword(arg=f, value=name(f)) for f in child.lifted_params])
        Bind().visit(fdef)

    def _bind_globals(self, fdef, fsrc):
        """Give every outside name the function reads its name in the generated module."""
        self._bind_defaults(fdef, fsrc)
        locals_ = {a.id for a in fdef.args.args}
        loads = []      # (one walk: renaming a read changes no binding)
        for n in walk(fdef):
            if isinstance(n, gast.Name):
                if isinstance(n.ctx, (gast.Store, gast.Param)):
                    locals_.add(n.id)
                elif isinstance(n.ctx, gast.Load):
                    loads.append(n)
        for n in loads:
            if n.id in locals_ or n.id in self.module.reserved:
                continue
            kind, value = fsrc.resolve(n.id)
            if kind in ("global", "closure", "default"):
                n.id = self.module.symbol(value, n.id)


    def _bind_defaults(self, fdef, fsrc):
        """A default that is not a constant (``def fun(x, num=num)`` in a loop) is the value
        the function holds, bound in the module: its expression may name a variable the
        generated module does not have, or one that has changed since."""
        fn = getattr(fsrc, "fn", None)
        fn = getattr(fn, "__func__", fn)
        values = getattr(fn, "__defaults__", None)
        if not values or not isinstance(fn, types.FunctionType):
            return
        code = fn.__code__
        positional = list(code.co_varnames[:code.co_argcount])
        by_name = dict(zip(positional[len(positional) - len(values):], values))
        args = fdef.args.args
        defaults = list(fdef.args.defaults)
        first = len(args) - len(defaults)
        for i, d in enumerate(defaults):
            pname = getattr(args[first + i], "id", None)
            if not isinstance(d, gast.Name) or pname not in by_name:
                continue
            value = by_name[pname]
            kind, named = fsrc.resolve(d.id)
            # the name it was written with while that is still the value, else the parameter's
            shown = d.id if kind in ("global", "closure") and named is value else pname
            defaults[i] = gast.Name(id=self.module.symbol(value, shown), ctx=gast.Load(),
                                    annotation=None, type_comment=None)
        fdef.args.defaults = defaults


class _LiftedRef:
    """A reference to a local function by name, as ``job_for`` takes a callee."""
    kind = "lifted"

    def __init__(self, name):
        self.name = name


class JointReverseBuilder(ReverseBuilder):
    """Reverse mode whose calls recompute instead of sharing a tape (``Program(joint=True)``).

    ``y = g(a, b)`` stays a plain call in the forward sweep; the backward sweep
    calls ``grad_g(a, b, d_y=...)`` (the values of ``a`` and ``b`` restored as
    for any statement) and keeps the adjoints it returns after the value.
    """

    recomputes_calls = True

    def __init__(self, program, spec):
        super().__init__(program, spec)
        ret = self.norm.return_name
        seed = getattr(spec, "seed_name", None)
        if seed and ret:
            self.adj[ret] = seed

    def _fwd_call_expr(self, value, callee, job, spec):
        out = copy.deepcopy(value)
        if callee.kind == "lifted":
            out.func = name(self.program.primal(job))
        return out

    def _fwd_assign(self, s):
        value = s.value
        if isinstance(value, gast.Call) and s.targets[0].id not in self.active:
            callee = callee_of(value, self.resolver)
            if callee.kind == "lifted":
                out = copy.deepcopy(s)
                out.value.func = name(self.program.primal(self.program.job_for(callee,
                                                                               self.spec.job)))
                return out
        return super()._fwd_assign(s)

    def _bwd_call_expr(self, s, spec, seed):
        value = s.value
        callee = callee_of(value, self.resolver)
        args = []
        if spec.job.binds_receiver:
            args.append(self._receiver(callee, value))
        args += [copy.deepcopy(a) for a in value.args]
        kws = [gast.keyword(arg=k.arg, value=copy.deepcopy(k.value)) for k in value.keywords]
        kws.append(gast.keyword(arg=spec.seed_name, value=seed))
        return call(spec.grad_name, args, kws)


def rename_tape(module):
    """Give the tape of ``module``'s functions a name of its own (``_tape_1``, ...).

    Generated code that will be differentiated again keeps its tape under a
    name that the next transformation's own ``_tape`` cannot clash with.
    """
    used = {n.id for f in module.functions for n in walk(f) if isinstance(n, gast.Name)}
    k = 1
    while f"{naming.TAPE}_{k}" in used:
        k += 1
    new = f"{naming.TAPE}_{k}"
    for f in module.functions:
        for n in walk(f):
            if isinstance(n, gast.Name) and n.id == naming.TAPE:
                n.id = new
    return new


def _statements(node):
    """The statements under ``node`` at any depth (what ``walk`` yields of them), without
    walking into expressions, which hold none."""
    todo = [node]
    for node in todo:
        for field in node._fields:
            value = getattr(node, field, None)
            if value.__class__ is list:
                todo.extend(v for v in value
                            if isinstance(v, gast.AST) and not isinstance(v, gast.expr))
            elif isinstance(value, gast.AST) and not isinstance(value, gast.expr):
                todo.append(value)
        if isinstance(node, gast.stmt):
            yield node


def _note_traced_calls(fdef, fsrc, policy):
    """Say above a dynamic call to a function that cannot be transformed why it is traced."""
    for stmt in _statements(fdef):
        value = getattr(stmt, "value", None)
        if not (isinstance(stmt, gast.Assign) and isinstance(value, gast.Call)
                and isinstance(value.func, gast.Attribute) and value.func.attr == "call_fwd"
                and isinstance(value.func.value, gast.Name) and value.func.value.id == naming.RUNTIME
                and len(value.args) > 1 and isinstance(value.args[1], gast.Name)):
            continue
        kind, target = fsrc.resolve(value.args[1].id)
        reason = policy.known_failure(target) if kind in ("global", "closure") else None
        if reason is not None and not getattr(stmt, "s2s_note", None):
            stmt.s2s_note = f"{value.args[1].id} is traced at run time: {reason.text()}"


_COPIES = 4     # copies of one function specialized to its calls' arguments, at most


def _bind_abstract(node, job, params, facts):
    """{parameter of ``job``: abstract value of its argument} at the call ``node``."""
    if any(isinstance(a, gast.Starred) for a in node.args) or any(k.arg is None
                                                                   for k in node.keywords):
        return {}
    lead = 1 if job.binds_receiver else 0
    out = {}
    fn = getattr(job.fsrc, "fn", None)
    for p, v in defaults_of(fn) if fn is not None else ():
        if v is None or type(v) in (float, int, bool, complex):
            out[p] = abstract_of(v)     # left to its default (an immutable value)
    for k, a in enumerate(node.args):
        if k + lead < len(params):
            out[params[k + lead]] = facts.of(a)
    for kw in node.keywords:
        out[kw.arg] = facts.of(kw.value)
    if lead and params:
        out.pop(params[0], None)
    return out


def _backward_arguments(seed):
    """The parameters of a backward sweep: ``(_tape, d_out)``."""
    return gast.arguments(args=[param(naming.TAPE), param(seed)], posonlyargs=[], vararg=None,
                          kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[])


def _function(fname, args, body):
    fdef = gast.FunctionDef(name=fname, args=args, body=body or [gast.Pass()],
                            decorator_list=[], returns=None, type_comment=None, type_params=[])
    return fdef


def is_generated(fsrc):
    """Whether ``fsrc`` is code s2sgrad generated (a derivative being differentiated again)."""
    return naming.is_generated_file(fsrc.filename)


def _returned(names):
    return names[0] if len(names) == 1 else f"({', '.join(names)})"


def _stored(stmts):
    """The names ``stmts`` assign (at any depth)."""
    return {n.id for s in stmts for n in walk(s)
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}


def _none_if_unbound(names, fwd, params, inits):
    """``v = None`` for each of ``names`` that the forward sweep ``fwd`` may leave unassigned
    (and that neither a parameter nor ``inits`` binds): the sweep that reads it takes the
    same paths, so the value is never read, but the name must exist."""
    if not names:
        return []
    bound = definitely_assigned(fwd, set(params)) | {getattr(s.targets[0], "id", None)
                                                    for s in inits}
    out = [assign(v, const(None)) for v in sorted(names) if v not in bound]
    if out:
        out[0].s2s_note = "assigned on some paths only; the backward sweep takes the same paths"
    return out


def _read_outside_branches(stmts):
    """Names that ``stmts`` read outside any ``if`` (in loops too)."""
    out = set()
    for s in stmts:
        if isinstance(s, gast.If):
            continue
        if isinstance(s, (gast.For, gast.While)):
            heads = [s.iter] if isinstance(s, gast.For) else [s.test]
            out |= {n.id for h in heads for n in walk(h) if isinstance(n, gast.Name)}
            out |= _read_outside_branches(s.body)
            continue
        out |= {n.id for n in walk(s) if isinstance(n, gast.Name)
                and isinstance(n.ctx, gast.Load)}
    return out


def _restores(stmts, var):
    """True when ``stmts`` hold a restore of ``var`` (it changes ``var`` back)."""
    return any(getattr(n, "s2s_restore", (None, None))[1] == var
               for s in stmts for n in walk(s))


def _uses_tape(stmts):
    return any(isinstance(n, gast.Name) and n.id == naming.TAPE for s in stmts for n in walk(s))
