"""The pipeline: one request in, compiled generated code out, through one stage list
and one cache.

``run(fn, request)`` is what every operator, the dynamic dispatcher and the
route chooser call.  It looks the request up in the cache (``driver.cache``:
the memo checked against the sources, then content-keyed entries in memory
and on disk) and otherwise runs the stages below, in this order:

``STAGES`` lists them as data: the frontend reads the function, normalize
lowers it to the core language, activity finds what carries a derivative,
transform writes the sweeps (reverse, split, forward or batched, as the
request's mode says), the optional passes tidy them (simplify, prune, share,
release), and codegen prints the module.  ``run(fn, request,
stop_after=NAME)`` returns the text of the code as it stands after stage
``NAME`` (the later optional passes are not run): how the docs, the tests and
``s2sgrad show --stage NAME`` print any stage.

What is built is a ``Built``: the compiled module and its *interface*, plain
data naming the functions that matter (the entry, the split pair, the tangent
parameters, ...), kept with the module in the cache, so a module served from
disk is used exactly like a fresh one.
"""

import dataclasses
import inspect
import types

import numpy as np

from . import cache, routes
from .request import Request
import s2sgrad.errorsite as errorsite
from ..errors import EscapeError, UnsupportedError
from ..fallback.state import RUNNING
from ..signature import ANY, signature_of
from ..sites import is_derivative

__all__ = ["STAGES", "stage_names", "run", "route", "source_function", "module_of", "Built",
           "Request", "module_program", "forget", "resolve", "specialized", "specializable",
           "says_something"]


@dataclasses.dataclass(frozen=True)
class Stage:
    """One stage of the pipeline: its name, the module that does the work, what it does,
    and the modes it runs in."""

    name: str
    module: str
    does: str
    modes: tuple = ("reverse", "split", "forward", "batched")
    optional: bool = False      # a pass the program may skip (so its input can be printed)


STAGES = (
    Stage("source", "frontend/source.py",
          "the function as the frontend reads it: its text, its file and lines, and what "
          "each free name refers to"),
    Stage("normalize", "frontend/normalize.py, frontend/resolve.py",
          "the core language: one operation per assignment, no augmented assignment, "
          "comprehensions, lambdas and early returns lowered, every call classified"),
    Stage("activity", "analysis/activity.py",
          "which variables depend on the differentiated parameters (varied), which the "
          "output depends on (useful), and both (active)"),
    Stage("transform", "transform/reverse.py, transform/forward.py, transform/program.py",
          "the sweeps as the builders write them: rules inlined in their general form, "
          "every overwritten value saved"),
    Stage("simplify", "transform/simplify.py",
          "the general rules made specific to this function: shape helpers between values "
          "of one shape removed, algebra", optional=True),
    Stage("prune", "analysis/tape.py",
          "only what the backward sweep reads stays on the tape", ("reverse", "split"),
          optional=True),
    Stage("share", "transform/cse.py",
          "each value computed once (forward mode, and code that is differentiated again)",
          optional=True),
    Stage("release", "transform/release.py",
          "values deleted after their last use (forward mode: no tape keeps them)",
          ("forward", "batched"), optional=True),
    Stage("codegen", "codegen.py",
          "the module's text: imports, docstrings, each block citing its source line"),
)


def stage_names(mode="reverse"):
    """The names of the stages that run in ``mode``, in order."""
    return [s.name for s in STAGES if mode in s.modes]


# ---------------------------------------------------------------------------
# What is built
# ---------------------------------------------------------------------------

class Built:
    """A compiled generated module and its interface: what ``run`` returns.

    Called as a route of ``driver.routes``: ``built(args, kwargs)`` runs the
    entry of a reverse request (``(value, *gradients)``, or the gradient alone where
    ``valued`` is false), ``built(args, kwargs,
    tangents)`` the tangent function of a forward one (``(value, tangent)``).
    """

    route = "generated"

    def __init__(self, fn, module):
        self.fn = fn
        self.module = module
        self.request = module.options
        self.interface = module.interface
        self.source = module.source
        self.filename = module.filename
        self.namespace = module.namespace
        self.entry = module.namespace[self.interface["entry"]]
        self.wrt = self.request.wrt
        self.mode = "fwd" if self.request.forward else "rev"
        # whether the entry of a reverse request returns the value before the gradients
        # (``grad`` in forward mode returns the gradient alone, the output checked inside)
        self.valued = self.interface.get("value", True)
        self.bound_self = getattr(fn, "__self__", None)
        self.lead = () if self.bound_self is None else (self.bound_self,)
        for fname, same in self.interface.get("same_shape", {}).items():
            # a tangent parameter has its variable's shape (a batch of them has not)
            module.namespace[fname].__s2sgrad_same_shape__ = dict(same)
        self._signature = None

    def __getitem__(self, fname):
        return self.namespace[fname]

    @property
    def signature(self):
        if self._signature is None:
            self._signature = inspect.signature(self.fn)
        return self._signature

    def __call__(self, args, kwargs, tangents=None):
        if self.mode == "fwd":
            entry = routes.entry_for(self[self.interface["jvp"]], args, kwargs)
            kwargs = dict(kwargs)
            names = self.interface["tangents"]
            for p, t in zip(self.interface["active"], tangents):
                kwargs[names[p]] = t
        else:
            entry = routes.entry_for(self.entry, args, kwargs)   # a traced copy inside a trace
        try:
            return entry(*self.lead, *args, **kwargs)
        except Exception as exc:
            errorsite.note(exc)     # the user's line it was running or differentiating
            raise


def run(fn, request, stop_after=None):
    """The ``Built`` code of ``request`` for ``fn``, from the cache or from the stages.

    With ``stop_after`` (a stage name), the text of the code after that stage.
    """
    if stop_after is not None:
        return show(fn, request, stop_after)
    hit = cache.recall(fn, request)
    if hit is not None:
        return hit
    routes.check_synchronous(fn)        # an async def, a generator: refused, not transformed
    return cache.get(fn, request, _transform, Built)


def source_function(fn, request):
    """The generated function that stands for ``fn``'s derivative made by ``request``:
    what a derivative of that derivative reads (see ``api.mark`` and ``api.Derivative``)."""
    return run(fn, request).entry


def forget():
    """Forget everything built in this process (a rule it may have inlined has changed)."""
    cache.forget()


def module_of(fn, wrt=0, example=None):
    """The compiled generated module of ``grad(fn, wrt)``, for debuggers and tools.

    ``.source`` is its text, ``.filename`` the name tracebacks and ``pdb`` know
    it by (``pdb.Pdb().set_break(module.filename, line)`` stops inside the
    adjoint), ``.namespace`` its functions.  Without ``example``, the general code
    (``grad(fn, emit=True)``); with ``example=(x, ...)``, the module a call of
    ``grad(fn, wrt)`` with those positional arguments runs (specialized to their
    signature, see ``driver.calls``).
    """
    wrt = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    request = Request("grad", wrt)
    if example is None:
        return route(fn, request).module
    return resolve(fn, request, signature_of(tuple(example))).module


# ---------------------------------------------------------------------------
# Code specialized to the arguments' signature (what ``driver.calls`` runs)
# ---------------------------------------------------------------------------

def says_something(signature):
    """Whether a signature knows anything of some argument (is not ``?`` only)."""
    return any(a is not ANY for a in signature)


def specializable(fn):
    """A plain Python function or method of the user's (not a derivative made by
    s2sgrad, a partial, a callable object or a library's function): what code
    specialized to a signature is built for."""
    return isinstance(fn, (types.FunctionType, types.MethodType)) and not is_derivative(fn) \
        and routes._user_function(fn)


def resolve(fn, request, signature):
    """The route of ``request`` for ``fn`` with code specialized to ``signature`` where
    that works, else the general route (``route(fn, request)``, with its fallbacks,
    warnings and errors).  ``None`` as ``signature``, or one of ``?`` only, a call inside
    a trace, ``fallback="always"`` and a function that is not ``specializable``: the
    general route."""
    if signature is None or not says_something(signature) or RUNNING[0] \
            or request.fallback == "always" or not specializable(fn):
        return route(fn, request)
    built = specialized(fn, request, request.but(signature=signature))
    return built if built is not None else route(fn, request)


def specialized(fn, request, spec):
    """The generated code of ``spec`` (``request`` with a signature) for ``fn``; ``None``
    when the general route must be taken: it is known not to be generated code (traced,
    by rule), or the specialized build failed (the general route then says why, or works
    and warns as it does)."""
    hit = cache.recall(fn, spec)
    if hit is not None:
        return hit
    if cache.recall(fn, ("route", request)) is not None:
        return None
    try:
        return run(fn, spec)
    except Exception:
        cache.stats["specialization_failed"] += 1
        return None


def module_program(entries, mode="reverse"):
    """One program holding a generated entry for each ``(fn, wrt)`` of ``entries``: what
    ``s2sgrad gen`` writes to a file, ``(program, [entry function name, ...])``.

    An entry may be ``(fn, wrt, signature)`` or ``(fn, wrt, signature, name)``: its code
    is specialized to ``signature`` (abstract values of the positional arguments, see
    ``s2sgrad.signature``; ``None``: the general code), and its function is called
    ``name`` (made fresh; default ``grad_<fn>`` or ``jvp_<fn>``).  One function may have
    several entries, one per signature.

    The same stages as ``run``, for several functions at once, sharing the derivatives of
    the helpers they call.  Not cached: the file written is its own cache (``s2sgrad
    check`` tells when it is stale).
    """
    from ..transform.forward import ForwardProgram
    from ..transform.program import Program
    policy = routes.Policy()
    program = Program(policy=policy) if mode == "reverse" else ForwardProgram(policy=policy)
    names = []
    with routes.policy(policy.value):
        for fn, wrt, *more in entries:
            signature, name = (tuple(more) + (None, None))[:2]
            spec = program.entry(fn, tuple(wrt), signature=signature, name=name)
            names.append(spec.grad_name if mode == "reverse" else spec.jvp_name)
    return program, names


def route(fn, request):
    """How to differentiate ``fn`` for ``request``: generated code where its source can
    be transformed, else the rule of a bare primitive or the tracing fallback
    (``routes.build``).  Routes other than generated code are memoized too."""
    if request.fallback != "always":
        hit = cache.recall(fn, request)     # generated code, memoized and checked
        if hit is not None:
            return hit
    key = ("route", request)
    hit = cache.recall(fn, key)
    if hit is None:
        hit = routes.build(fn, request.wrt, request.fallback,
                           lambda f, w: run(f, request.but(wrt=w)),
                           lambda f, w: route(f, request.but(wrt=w)),
                           mode="fwd" if request.forward else "rev")
        if hit.route != "generated":
            cache.remember(fn, key, hit)
    return hit


# ---------------------------------------------------------------------------
# The stages
# ---------------------------------------------------------------------------

def _transform(fn, request, passes=None):
    """Run the stages from the frontend to codegen: ``(program, interface, checks)``."""
    build = _BUILDERS[request.operator]
    policy = routes.Policy(request.fallback)
    with routes.policy(request.fallback):
        program, interface, checks = build(fn, request, policy, passes)
    program.module.signature = request.signature    # said in the module's header
    return program, interface, checks


def show(fn, request, stop_after):
    """The text of ``fn``'s code for ``request`` after stage ``stop_after``."""
    names = stage_names(request.mode)
    if stop_after not in names:
        raise ValueError(f"no stage {stop_after!r} in {request.mode} mode; the stages are "
                         f"{', '.join(names)}")
    if stop_after in _FRONT:
        return _FRONT[stop_after](fn, request)
    index = [s.name for s in STAGES].index(stop_after)
    passes = {s.name for s in STAGES[:index + 1] if s.optional}
    program, _, _ = _transform(fn, request, passes)
    return program.module.source()


def _frontend(fn, request):
    import gast
    from ..codegen import to_source
    from ..frontend.source import FunctionSource
    fsrc = FunctionSource.of(fn)
    names = sorted({n.id for n in gast.walk(fsrc.node) if isinstance(n, gast.Name)
                    and isinstance(n.ctx, gast.Load)})
    lines = [to_source(fsrc.node), ""]
    for nm in names:
        kind, value = fsrc.resolve(nm)
        if kind:
            shown = getattr(value, "__name__", None) or type(value).__name__
            lines.append(f"# {nm}: {kind} -> {shown}")
    lines.append(f"# read from {fsrc.display_file}, lines {fsrc.node.lineno}-"
                 f"{fsrc.node.end_lineno}")
    return "\n".join(lines)


def _normalized(fn, request):
    from ..frontend.normalize import normalize
    from ..frontend.source import FunctionSource
    return normalize(FunctionSource.of(fn), policy=routes.Policy(request.fallback))


def _normalize(fn, request):
    from ..codegen import to_source
    norm = _normalized(fn, request)
    return to_source(norm.node) + f"\n\n# the result is {norm.return_name!r}"


def _activity(fn, request):
    from ..analysis.activity import Activity
    norm = _normalized(fn, request)
    params = [a.id for a in norm.node.args.args]
    if getattr(fn, "__self__", None) is not None:
        params = params[1:]
    activity = Activity(norm, [params[w] for w in request.wrt])
    return "\n".join([f"varied: {', '.join(sorted(activity.varied))}",
                      f"useful: {', '.join(sorted(activity.useful))}",
                      f"active: {', '.join(sorted(activity.active))}"])


_FRONT = {"source": _frontend, "normalize": _normalize, "activity": _activity}


# ---------------------------------------------------------------------------
# Building each kind of request (the transform stage and the passes after it)
# ---------------------------------------------------------------------------

def _lead(fn):
    return 0 if getattr(fn, "__self__", None) is None else 1


def _finish(program, target, spec, joint=False, **extra):
    """``(program, interface, checks)`` once the program holds every function."""
    from ..transform.program import rename_tape
    if joint:
        rename_tape(program.module)
    interface = {"entry": target, "active": list(spec.active)}
    for attr, key in (("grad_name", "grad"), ("jvp_name", "jvp"), ("fwd_name", "fwd"),
                      ("bwd_name", "bwd"), ("seed_name", "seed")):
        value = getattr(spec, attr, None)
        if value is not None:
            interface[key] = value
    interface["split"] = bool(spec.split)
    names = getattr(spec, "tangent_names", None)
    if names:
        interface["tangents"] = dict(names)
    if not getattr(program, "batched", False):
        same = {}
        for job in program.jobs.values():
            for s in job.specs.values():
                tn = getattr(s, "tangent_names", None)
                if tn and getattr(s, "jvp_name", None):
                    same[s.jvp_name] = {t: p for p, t in tn.items()}
        if same:
            interface["same_shape"] = same
    checks = list(extra.pop("_checks", ()))
    interface.update(extra)
    return program, interface, checks


def _derived_check(fn):
    """A memo check for a derivative made by s2sgrad: the generated function it stands
    for is still the same (its own request was not rebuilt for a changed helper)."""
    marker = getattr(fn, "__s2sgrad__", None)
    if marker is None:
        return []
    return [(lambda f: f.__s2sgrad__.source_function(), marker.source_function())]


def _reverse(fn, request, policy, passes):
    from ..transform.program import Program
    kind, joint = request.operator, request.joint
    if kind in ("grad", "value_and_grad") and _one_real_scalar(request):
        try:
            built = _forward_gradient(fn, request, passes)
        except routes.TRANSFORM_ERRORS + (EscapeError,):
            # no forward rule somewhere (a custom_vjp without defjvp), or an error reverse
            # mode raises too (it says so then)
            built = None
        if built is not None:
            return built
    program = Program(joint=joint, policy=policy, passes=passes, signature=request.signature)
    with_value = kind == "value_and_grad" or not joint and kind != "vjp"
    # code specialized to a signature is what the operators grad and value_and_grad run,
    # which never pass a cotangent: it starts from 1, folded into the backward sweep
    one = joint or request.signature is not None and kind in ("grad", "value_and_grad")
    seed = {"elementwise_grad": "ones", "vjp": "param"}.get(kind, "one" if one else "given")
    # grad's specialized code of one argument returns the gradient alone (as in forward
    # mode): the output is checked inside, and what only the value needed is not computed
    alone = kind == "grad" and one and not joint and len(request.wrt) == 1
    spec = program.entry(fn, request.wrt, seed=seed, value=with_value and not alone)
    target = spec.grad_name
    if joint and kind == "value_and_grad" and len(spec.active) > 1:
        from ..transform import adapters     # (imported when needed: a first grad does not)
        target = adapters.value_and_grad(program, spec)
    extra = {"value": False} if alone else {}
    return _finish(program, target, spec, joint, _checks=_derived_check(fn), **extra)


def _one_real_scalar(request):
    """Whether the signature proves that the one differentiated argument is a real scalar
    (a Python float, a NumPy real scalar or a 0-d real array): one degree of freedom.

    Then forward mode gives the gradient in one tangent sweep seeded with 1.0, no tape:
    cheaper than the reverse sweep, which keeps every overwritten value.  Several
    differentiated scalars (n degrees of freedom) stay in reverse mode: n tangent sweeps
    each recompute the primal values.  Measured on 50 steps of ``x = sin(x) * y + 0.1 * x``
    (gradient in x and y): two tangent sweeps 200 us, a reverse sweep written without
    shape helpers (what specialization to floats makes of it) 133 us; today's general
    reverse code, 390 us, is slower than both, which specialization fixes for every n.
    A complex argument stays in reverse mode too: its gradient (the cotangent convention
    of ``grad``) is not one real tangent.
    """
    sig = request.signature
    if sig is None or len(request.wrt) != 1:
        return False
    (w,) = request.wrt
    if not isinstance(w, int) or not 0 <= w < len(sig):
        return False
    a = sig[w]
    if a.kind == "float":
        return True
    if a.kind == "scalar" or (a.kind == "array" and a.dims == ()):
        return a.dtype is not None and np.dtype(a.dtype).kind == "f"
    return False


def _forward_gradient(fn, request, passes):
    """``grad``/``value_and_grad`` of ``fn`` with respect to one real scalar, in forward
    mode: the tangent function seeded with 1.0, made the entry with the interface of the
    specialized reverse entry, which starts from 1 (``ForwardProgram.entry(gradient=...)``).  ``None`` (or ``UnsupportedError``)
    where forward mode cannot be built; the caller then builds reverse mode (the same
    gradient)."""
    from ..transform.forward import ForwardProgram
    # a policy of its own: nothing this attempt decides carries over to reverse mode
    program = ForwardProgram(policy=routes.Policy(request.fallback), passes=passes,
                             signature=request.signature)
    kind = "one_value" if request.operator == "value_and_grad" else "one"
    spec = program.entry(fn, request.wrt, {0: "one"}, prefix="grad", gradient=kind)
    if len(spec.active) != 1:
        return None
    return _finish(program, spec.jvp_name, spec, _checks=_derived_check(fn),
                   grad=spec.jvp_name, forward=True, value=kind == "one_value")


def _elementwise(fn, request, policy, passes):
    """``elementwise_grad``: forward mode with the tangent ones like ``x`` when ``fn``
    provably acts elementwise (its Jacobian is diagonal, so that product with ones is the
    reverse one, in one sweep), else reverse mode from ones like the output.  Decided here,
    so that the memo's checks of what ``fn`` calls cover the decision too."""
    from ..analysis.elementwise import acts_elementwise
    if request.wrt == (0,) and acts_elementwise(fn):
        deriv = request.but(operator="deriv", joint=False, seeds=((0, "ones"),))
        program, interface, checks = _forward(fn, deriv, policy, passes)
        interface["forward"] = True
    else:
        program, interface, checks = _reverse(fn, request, policy, passes)
        interface["forward"] = False
    return program, interface, checks


def _split(fn, request, policy, passes):
    """``f_fwd``/``f_bwd`` for a vjp, or one combined function when a split is not possible."""
    from ..transform import adapters
    from ..transform.program import Program
    program = Program(policy=policy, passes=passes, signature=request.signature)
    try:
        spec = program.split_entry(fn, request.wrt)
    except UnsupportedError:
        program = Program(joint=True, policy=policy, passes=passes, signature=request.signature)
        spec = program.entry(fn, request.wrt)
        spec.seed_name = adapters.seed_param(program, spec)
    replay = not any(adapters.writes_items(job) for job in program.jobs.values() if job._norm)
    target = spec.fwd_name if spec.split else spec.grad_name
    return _finish(program, target, spec, replay=replay, _checks=_derived_check(fn))


def _callee(fn, request, policy, passes):
    """A callee's derivative for the dynamic dispatcher (``request.wrt``: parameter names):
    its split pair (``callee``) or its tangent function (``callee_jvp``)."""
    from ..frontend.source import FunctionSource
    from ..transform.forward import ForwardProgram
    from ..transform.program import Program
    forward = request.operator == "callee_jvp"
    program = (ForwardProgram if forward else Program)(policy=policy, passes=passes)
    job = program.add_job(FunctionSource.of(fn), ("dynamic", fn))
    spec = program.request(job, list(request.wrt))
    program.run()
    return _finish(program, spec.jvp_name if forward else spec.fwd_name, spec)


def _joint_gradient(fn, wrt, fallback):
    """The generated gradient of ``fn`` made to be differentiated again, and a memo check
    that it is still the one ``run`` gives."""
    inner = Request("grad", tuple(wrt), joint=True, fallback=fallback)
    gradient = source_function(fn, inner)
    return gradient, [(lambda f: source_function(f, inner), gradient)]


def _forward(fn, request, policy, passes):
    from ..transform import adapters
    from ..transform.forward import ForwardProgram
    kind = request.operator
    program = ForwardProgram(policy=policy, passes=passes, signature=request.signature)
    seeds = dict(request.seeds) or None
    checks = _derived_check(fn)
    target_fn, wrt = fn, request.wrt
    if kind == "hvp":
        target_fn, more = _joint_gradient(fn, request.wrt, request.fallback)
        wrt = tuple(w + _lead(fn) for w in request.wrt)
        checks += more
    spec = program.entry(target_fn, wrt, seeds, tangent_only=(kind != "jvp"), prefix=kind,
                         checks_output=(kind != "hvp"))
    target = spec.jvp_name
    if kind == "jvp":
        target = adapters.jvp(program, spec)
    return _finish(program, target, spec, _checks=checks)


def _batched(fn, request, policy, passes):
    from ..transform import adapters
    from ..transform.forward import ForwardProgram
    kind, (w,) = request.operator, request.wrt
    program = ForwardProgram(batched=True, policy=policy, passes=passes, signature=request.signature)
    checks = _derived_check(fn)
    extra = {}
    if kind == "columns":
        spec = program.entry(fn, (w,), prefix="jvp_batch")
        target = adapters.matrix(program, spec, "jacobian")
    elif kind == "hessian":
        gradient, more = _joint_gradient(fn, (w,), request.fallback)
        checks += more
        spec = program.entry(gradient, (w + _lead(fn),), tangent_only=True, prefix="hessian",
                             checks_output=False)
        target = adapters.matrix(program, spec, "hessian")
    else:
        inner = Request("vjp", (w,), joint=True, fallback=request.fallback)
        gradient = source_function(fn, inner)
        checks.append((lambda f: source_function(f, inner), gradient))
        params = list(inspect.signature(gradient).parameters)
        spec = program.entry(gradient, (len(params) - 1,), tangent_only=True,
                             prefix="jacobian_rows", checks_output=False)
        spec.seed_name = params[-1]
        target = spec.jvp_name
    # The adapter of a method binds its instance itself; one over generated code takes it.
    extra["binds_self"] = spec.job.fsrc.self_value is not None
    return _finish(program, target, spec, _checks=checks, **extra)


_BUILDERS = {
    "grad": _reverse, "value_and_grad": _reverse, "elementwise_grad": _elementwise, "vjp": _reverse,
    "split": _split, "callee": _callee,
    "jvp": _forward, "deriv": _forward, "hvp": _forward, "callee_jvp": _callee,
    "columns": _batched, "hessian": _batched, "rows": _batched,
}
