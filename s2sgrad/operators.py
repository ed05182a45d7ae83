"""The differential operators beyond ``grad``: jvp, vjp, elementwise_grad, deriv,
jacobian, hessian, hvp and holomorphic_grad.

Each compiles generated source (``emit=True`` returns it) and returns a plain
Python function.  Functions returned by an operator carry a marker
(``__s2sgrad__``) that tells the compiler which *generated* function they run:
differentiating ``grad(f)`` transforms the generated gradient of ``f``, so
derivatives of any order, in any mix of modes, are source transformations of
generated code.  The generated code read that way is compiled in *joint* mode
(calls recompute instead of sharing a tape between functions, see
``transform.calls.Program``), with the tape renamed so that the next
transformation's own tape cannot clash with it.
"""

import copy
import functools
import inspect
import numbers

import numpy

from . import errorsite as _errorsite
from . import wrt as _wrt
from .fallback.choose import match as _match
from .api import _check_differentiable, _where
from .api import grad as _grad
from .errors import NonDifferentiableError, UnsupportedError

__all__ = ["jvp", "vjp", "elementwise_grad", "deriv", "jacobian", "hessian", "hvp",
           "holomorphic_grad", "mark"]


class _Lazy:
    """``gast``, imported when code is first generated: ``import s2sgrad`` stays light (a
    gradient served from the disk cache runs without the compiler)."""

    def __getattr__(self, attr):
        import gast as module
        return getattr(module, attr)


gast = _Lazy()


# ---------------------------------------------------------------------------
# Functions returned by operators, and what they are made of
# ---------------------------------------------------------------------------

class Derivative:
    """The marker on a function an operator returned: the generated function behind it."""

    def __init__(self, kind, build):
        self.kind = kind
        self._build = build
        self._fn = None

    def source_function(self):
        """The generated Python function to read (and transform) instead of the wrapper."""
        if self._fn is None:
            self._fn = self._build()
        return self._fn

    def __repr__(self):
        return f"<s2sgrad {self.kind}>"


def mark(wrapper, kind, build, fn=None, wrt=None):
    """Attach a ``Derivative`` marker to ``wrapper``; ``build()`` returns its generated function.

    ``build=None`` marks a derivative with no generated function to stand for
    it (``vjp``, ``jacobian``, ``hessian``: Python loops around generated
    code): its own derivative is taken by tracing (``fallback.choose``).
    """
    from .fallback.choose import DERIVATIVE_MARK
    # functools.wraps copied the marks of a wrapped derivative: these are the wrapper's own.
    setattr(wrapper, DERIVATIVE_MARK, (kind, fn if fn is not None else wrapper.__wrapped__, wrt))
    if build is not None:
        wrapper.__s2sgrad__ = Derivative(kind, build)
    else:
        wrapper.__dict__.pop("__s2sgrad__", None)
    return wrapper


class _Module:
    """A generated module, compiled: its source, namespace and the names that matter."""

    def __init__(self, program, label, joint=False):
        from .codegen import compile_module
        from .transform.calls import rename_tape
        if joint:
            rename_tape(program.module)
        self.program = program
        self.source = program.module.source()
        self.namespace, self.filename = compile_module(self.source, program.module.symbols,
                                                       label)
        for job in program.jobs.values():
            for spec in job.specs.values():
                names = getattr(spec, "tangent_names", None)
                if names and not getattr(program, "batched", False):
                    # a tangent parameter has its variable's shape (a batch of them has not)
                    fn = self.namespace[spec.jvp_name]
                    fn.__s2sgrad_same_shape__ = {t: p for p, t in names.items()}

    def __getitem__(self, fname):
        return self.namespace[fname]


def _label(fn, kind):
    qual = getattr(fn, "__qualname__", "fn").replace("<locals>.", "")
    return f"{qual}.{kind}"


def _adapter(program, spec, fname, extra, body, doc, defaults=True):
    """Add a small function to the module that calls the entry the way the operator does.

    Its parameters are the entry's (defaults included) plus ``extra``; ``body``
    gets ``(call_args, namer)``, the argument nodes for the entry (the bound
    instance first, for a method), and returns the statements.
    """
    from .frontend.normalize import Namer
    from .transform.calls import _function
    fsrc = spec.job.fsrc
    args = copy.deepcopy(spec.job.norm.node.args)
    call_args = []
    if fsrc.self_value is not None:
        call_args.append(gast.Name(id=program.module.symbol(fsrc.self_value, "instance"),
                                   ctx=gast.Load(), annotation=None, type_comment=None))
        args.args = args.args[1:]
        if len(args.defaults) > len(args.args):
            args.defaults = args.defaults[len(args.defaults) - len(args.args):]
    if not defaults:
        args.defaults = []
    params = [a.id for a in args.args]
    namer = Namer(params)
    extra_names = [namer.fresh(e) for e in extra]
    args.args = list(args.args) + [_param(e) for e in extra_names]
    if args.defaults and extra_names:
        args.defaults = list(args.defaults) + [_const(None) for _ in extra_names]
    call_args += [_name(p) for p in params]
    holder = _function(fname, args, [gast.Pass()])
    program._bind_globals(holder, fsrc)      # defaults read the user's globals
    holder.body = body(call_args, extra_names, namer)
    holder.s2s_doc = doc
    program.module.add_function(holder)
    return fname


def _name(id_):
    return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)


def _store(id_):
    return gast.Name(id=id_, ctx=gast.Store(), annotation=None, type_comment=None)


def _param(id_):
    return gast.Name(id=id_, ctx=gast.Param(), annotation=None, type_comment=None)


def _const(v):
    return gast.Constant(value=v, kind=None)


def _call(fname, args, keywords=()):
    return gast.Call(func=_name(fname), args=list(args), keywords=list(keywords))


def _unpack(targets, value):
    return gast.Assign(targets=[gast.Tuple(elts=[_store(t) for t in targets], ctx=gast.Store())],
                       value=value, type_comment=None)


def _ret(*names):
    if len(names) == 1:
        return gast.Return(value=_name(names[0]))
    return gast.Return(value=gast.Tuple(elts=[_name(n) for n in names], ctx=gast.Load()))


# ---------------------------------------------------------------------------
# Reverse-mode modules (grad, value_and_grad, elementwise_grad, vjp)
# ---------------------------------------------------------------------------

_CACHE = {}


def _cached(key, make):
    hit = _CACHE.get(key)
    if hit is None:
        hit = _CACHE[key] = make()
    return hit


def _reverse_module(fn, wrt, kind, joint):
    """A reverse-mode module for ``fn``: ``(module, entry spec, name of the function to call)``.

    ``kind`` is ``grad``, ``value_and_grad``, ``elementwise_grad`` or ``vjp`` (the
    gradients alone, the output's cotangent the last parameter).  The
    module made to be read again (``joint``) has an entry that returns what
    the operator's function returns, so it can stand for that function.
    """
    def make():
        from .transform.calls import Program
        program = Program(joint=joint)
        with_value = kind == "value_and_grad" or not joint and kind != "vjp"
        seed = {"elementwise_grad": "ones", "vjp": "param"}.get(
            kind, "one" if joint else "given")
        spec = program.entry(fn, wrt, seed=seed, value=with_value)
        target = spec.grad_name
        if joint and kind == "value_and_grad" and len(spec.active) > 1:
            target = _value_and_grad_adapter(program, spec)
        module = _Module(program, _label(fn, kind + ("_joint" if joint else "")), joint)
        return module, spec, target
    return _cached(("reverse", kind, joint, fn, wrt), make)


def _value_and_grad_adapter(program, spec):
    """``(value, (d_a, d_b))`` from the entry's ``(value, d_a, d_b)``."""
    def body(call_args, extra, namer):
        value = namer.fresh("value")
        grads = [namer.fresh("d_" + p) for p in spec.active]
        inner = gast.Tuple(elts=[_name(g) for g in grads], ctx=gast.Load())
        return [_unpack([value] + grads, _call(spec.grad_name, call_args)),
                gast.Return(value=gast.Tuple(elts=[_name(value), inner], ctx=gast.Load()))]
    fname = program.module.fresh_function_name(f"value_and_gradient_of_{spec.job.base_name}")
    return _adapter(program, spec, fname, [], body,
                    f"s2sgrad.value_and_grad({spec.job.fsrc.qualname}).")


def reverse_source_function(fn, wrt, kind):
    """The generated function behind ``grad(fn, wrt)`` (or another reverse operator)."""
    module, _, target = _reverse_module(fn, wrt, kind, joint=True)
    return module[target]


# ---------------------------------------------------------------------------
# Forward-mode modules (jvp, deriv, hvp)
# ---------------------------------------------------------------------------

def _forward_module(fn, wrt, kind, seeds=None):
    """A forward-mode module for ``fn``: ``(module, entry spec, name of the function to call)``.

    ``kind`` is ``jvp`` (value and tangent, through a function taking the
    tangents as its last argument), ``deriv`` (the tangent alone, seeded) or
    ``hvp`` (the tangent alone, for ``fn`` a gradient).
    """
    seed_key = tuple(sorted((seeds or {}).items()))

    def make():
        from .transform.forward import ForwardProgram
        program = ForwardProgram()
        prefix = {"jvp": "jvp", "deriv": "deriv", "hvp": "hvp"}[kind]
        spec = program.entry(fn, wrt, seeds, tangent_only=(kind != "jvp"), prefix=prefix)
        target = spec.jvp_name
        if kind == "jvp":
            target = _jvp_adapter(program, spec)
        module = _Module(program, _label(fn, kind))
        return module, spec, target
    return _cached(("forward", kind, fn, wrt, seed_key), make)


def _jvp_adapter(program, spec):
    """``jvp_of_f(x, n, t_x)``: the tangent as the last argument, a tuple for several."""
    tangent_params = [p for p in spec.active if p not in spec.seeds]
    single = len(tangent_params) == 1

    def body(call_args, extra, namer):
        if single:
            kws = [gast.keyword(arg=spec.tangent_names[tangent_params[0]], value=_name(extra[0]))]
        else:
            kws = [gast.keyword(arg=spec.tangent_names[p],
                                value=gast.Subscript(value=_name(extra[0]), slice=_const(k),
                                                     ctx=gast.Load()))
                   for k, p in enumerate(tangent_params)]
        return [gast.Return(value=_call(spec.jvp_name, call_args, kws))]
    extra = ["t_" + tangent_params[0]] if single else ["tangents"]
    fname = program.module.fresh_function_name(f"jvp_of_{spec.job.base_name}")
    # ``jvp(f)(*args, tangent)``: the tangent comes after every argument, so the
    # arguments have no defaults here.
    return _adapter(program, spec, fname, extra, body,
                    f"s2sgrad.jvp({spec.job.fsrc.qualname}): the value and its derivative along "
                    f"the tangent of {', '.join(tangent_params)}.", defaults=False)


# ---------------------------------------------------------------------------
# Argument checks and tangent structure
# ---------------------------------------------------------------------------

def _bind_args(fn, args, kwargs, wrt, sig=None):
    sig = sig if sig is not None else inspect.signature(fn)
    try:
        sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{getattr(fn, '__qualname__', fn)}: {exc}") from None
    names = list(sig.parameters)
    for w in wrt:
        if w >= len(args):
            raise NonDifferentiableError(
                f"{_where(fn)}: differentiating with respect to argument {w} "
                f"({names[w] if w < len(names) else '?'}), but it was not passed positionally")
        _check_differentiable(fn, names[w], args[w])


def _lead(fn):
    self_value = getattr(fn, "__self__", None)
    return () if self_value is None else (self_value,)


def _past_lead(fn, wrt):
    """Positions ``wrt`` of ``fn``'s arguments among the parameters of its generated
    derivative, which takes a method's instance first."""
    return tuple(w + len(_lead(fn)) for w in wrt)


def _match_out(t, value):
    if value is None:
        return None
    return _match(t, value)


def _is_scalar(x):
    return isinstance(x, (numbers.Number, numpy.number)) or (
        isinstance(x, numpy.ndarray) and x.ndim == 0)


# ---------------------------------------------------------------------------
# The operators
# ---------------------------------------------------------------------------

def jvp(fn, wrt=0, *, emit=False, fallback="auto"):
    """Forward mode: ``jvp(f, wrt)(*args, tangent) -> (value, tangent of the value)``.

    ``tangent`` has the structure of argument ``wrt`` (a tuple of tangents
    when ``wrt`` is a tuple).  The generated code runs ``f``'s control flow
    once, each line followed by its tangent line; ``emit=True`` returns it.
    ``fallback`` is as for ``grad``: where ``f``'s source cannot be
    transformed, ``"auto"`` traces it in forward mode (saying so), ``"never"``
    raises, ``"always"`` traces it anyway.
    """
    from .fallback import choose
    wrt_t, single = _wrt.normalize(fn, wrt, "jvp")
    choose.check_policy(fallback)
    if emit:
        return _jvp_route(fn, wrt_t, fallback).source

    @functools.wraps(fn)
    def jvp_fn(*args, **kwargs):
        if not args:
            raise TypeError(f"{getattr(fn, '__qualname__', fn)}: jvp needs the arguments and a "
                            f"tangent")
        *args, tangent = args
        route = _jvp_route(fn, wrt_t, fallback)
        _bind_args(fn, args, kwargs, wrt_t, route.signature)
        tangents = (tangent,) if single else tuple(tangent)
        if len(tangents) != len(wrt_t):
            raise ValueError(f"jvp of {choose.describe(fn)} with respect to {wrt_t} needs "
                             f"{len(wrt_t)} tangents, got {len(tangents)}")
        with choose.policy(fallback):
            value, t_out = route(args, kwargs, tangents)
        return value, _match_out(t_out, value)
    return mark(jvp_fn, "jvp", lambda: _source(*_forward_module(fn, wrt_t, "jvp")), fn, wrt_t)


class _ForwardRoute:
    """Generated tangent code as a route of ``fallback.choose``: ``(args, kwargs, tangents)``."""

    route = "generated"
    mode = "fwd"

    def __init__(self, fn, wrt):
        module, self.spec, _ = _forward_module(fn, wrt, "jvp")
        self.entry = module[self.spec.jvp_name]
        self.source = module.source
        self.signature = inspect.signature(fn)
        self.lead = _lead(fn)

    def __call__(self, args, kwargs, tangents):
        from .fallback import choose
        kw = dict(kwargs)
        for p, t in zip(self.spec.active, tangents):
            kw[self.spec.tangent_names[p]] = t
        entry = choose.entry_for(self.entry, args, kwargs)   # a traced copy inside a trace
        try:
            return entry(*self.lead, *args, **kw)
        except Exception as exc:
            _errorsite.note(exc)     # the user's line it was running or differentiating
            raise


def _jvp_route(fn, wrt, fallback):
    """Generated tangent code where ``fn`` can be transformed, else a primitive's rule or a trace."""
    def make():
        from .fallback import choose
        return choose.build(fn, wrt, fallback, _ForwardRoute, mode="fwd")
    return _cached(("jvp_route", fn, wrt, fallback), make)


def _source(module, spec, target):
    return module[target]


def _plain(t):
    """A 0-d tangent as a Python number (as a float argument's derivative would be)."""
    if isinstance(t, numpy.ndarray) and t.ndim == 0 or isinstance(t, numpy.number):
        return t.item()
    return t


def deriv(fn, *, emit=False):
    """The derivative of a function of one scalar, by forward mode: ``deriv(f)(x) = f'(x)``.

    The tangent of ``x`` is the constant 1.0, folded into the generated code.
    For an array ``x``, the tangent is ones like ``x``: for a function that
    works elementwise, that gives each element's derivative.
    """
    if emit:
        return _forward_module(fn, (0,), "deriv", {0: "one"})[0].source

    @functools.wraps(fn)
    def derivative(*args, **kwargs):
        _bind_args(fn, args, kwargs, (0,))
        seed = "one" if _is_scalar(args[0]) else "ones"
        module, spec, target = _forward_module(fn, (0,), "deriv", {0: seed})
        try:
            return _plain(module[target](*_lead(fn), *args, **kwargs))
        except Exception as exc:
            _errorsite.note(exc)
            raise
    return mark(derivative, "deriv",
                lambda: _source(*_forward_module(fn, (0,), "deriv", {0: "one"})))


def elementwise_grad(fn, wrt=0, *, emit=False):
    """The gradient of ``sum(f(x))``: for a function that works elementwise, each
    element's derivative (a vector-Jacobian product with ones, as in Autograd).

    When the compiler can see that ``f`` acts elementwise (one argument,
    straight-line code of elementwise functions, operators and number
    constants), its Jacobian is diagonal, so the product with ones is the same
    from either side: it runs forward mode then (one sweep, the tangent ones
    like ``x``), which keeps towers such as seven nested ``elementwise_grad``
    small.  Otherwise it is reverse mode with the cotangent ones like the output.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "elementwise_grad")
    forward = single and wrt_t == (0,) and _acts_elementwise(fn)
    if emit:
        if forward:
            return _forward_module(fn, wrt_t, "deriv", {0: "ones"})[0].source
        return _reverse_module(fn, wrt_t, "elementwise_grad", joint=False)[0].source

    @functools.wraps(fn)
    def elementwise_gradient(*args, **kwargs):
        _bind_args(fn, args, kwargs, wrt_t)
        try:
            if forward:
                module, _, target = _forward_module(fn, wrt_t, "deriv", {0: "ones"})
                return _match(module[target](*_lead(fn), *args, **kwargs), args[0])
            module, spec, _ = _reverse_module(fn, wrt_t, "elementwise_grad", joint=False)
            out = module[spec.grad_name](*_lead(fn), *args, **kwargs)
        except Exception as exc:
            _errorsite.note(exc)
            raise
        grads = tuple(_match(g, args[w]) for g, w in zip(out[1:], wrt_t))
        return grads[0] if single else grads
    if forward:
        return mark(elementwise_gradient, "elementwise_grad",
                    lambda: _source(*_forward_module(fn, wrt_t, "deriv", {0: "ones"})))
    return mark(elementwise_gradient, "elementwise_grad",
                lambda: reverse_source_function(fn, wrt_t, "elementwise_grad"))


# Runtime helpers that keep elementwise code elementwise.
_ELEMENTWISE_HELPERS = {"ones_like", "zeros_like", "broadcast_like"}


def _acts_elementwise(fn):
    """Whether ``fn(x)`` provably computes each output element from the same element of ``x``."""
    def check():
        from .analysis.activity import callee_of
        from .frontend.normalize import normalize
        from .frontend.source import FunctionSource
        try:
            fsrc = FunctionSource.of(fn)
            norm = normalize(fsrc)
        except Exception:
            return False
        params = [a.id for a in norm.node.args.args]
        if fsrc.self_value is not None or len(params) != 1 or norm.node.args.kwonlyargs:
            return False
        local = set(params)

        def ok(node):
            if isinstance(node, gast.Constant):
                return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
            if isinstance(node, gast.Name):
                if node.id in local:
                    return True
                kind, value = fsrc.resolve(node.id)
                return kind is not None and isinstance(value, (int, float)) \
                    and not isinstance(value, bool)
            if isinstance(node, gast.BinOp):
                return isinstance(node.op, (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)) \
                    and ok(node.left) and ok(node.right)
            if isinstance(node, gast.UnaryOp):
                return isinstance(node.op, (gast.USub, gast.UAdd)) and ok(node.operand)
            if isinstance(node, gast.Call):
                if node.keywords:
                    return False
                callee = callee_of(node, norm.resolver)
                prim = callee.prim
                if callee.kind not in ("primitive", "nondiff") or prim is None:
                    return False
                if prim.family == "s2sgrad.runtime":
                    fits = prim.name in _ELEMENTWISE_HELPERS
                else:
                    fits = prim.elementwise in (1, 2) and len(node.args) == prim.elementwise
                return fits and all(ok(a) for a in node.args)
            return False

        body = norm.node.body
        for k, st in enumerate(body):
            if isinstance(st, gast.Return) and k == len(body) - 1:
                return ok(st.value)
            if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                    and ok(st.value)):
                return False
            local.add(st.targets[0].id)
        return False
    return _cached(("elementwise", fn), check)


def holomorphic_grad(fn, wrt=0, *, emit=False):
    """The complex derivative ``f'(z)`` of a holomorphic ``f`` (a complex argument).

    s2sgrad's reverse rules propagate ``g * f'(z)`` without conjugation, so
    the gradient with the seed 1 is the derivative itself; this checks that
    the argument is complex, since for a real argument ``grad`` is what you want.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "holomorphic_grad")
    inner = _grad(fn, wrt_t[0] if single else wrt_t, emit=emit)
    if emit:
        return inner

    @functools.wraps(fn)
    def holomorphic_gradient(*args, **kwargs):
        for w in wrt_t:
            if w < len(args) and not numpy.iscomplexobj(args[w]):
                raise NonDifferentiableError(
                    f"{_where(fn)}: holomorphic_grad needs a complex argument {w}, got "
                    f"{type(args[w]).__name__}; pass complex values (x + 0j) or use grad")
        return inner(*args, **kwargs)
    return mark(holomorphic_gradient, "holomorphic_grad", inner.__s2sgrad__._build, fn, wrt_t)


def vjp(fn, wrt=0, *, emit=False):
    """Reverse mode for any output: ``vjp(f, wrt)(*args) -> (value, backward)``.

    ``backward(cotangent)`` returns the gradient of ``<cotangent, f(*args)>``
    with respect to argument ``wrt`` (a tuple for a tuple ``wrt``); the
    cotangent has the structure of the value.  The forward sweep runs once
    (``f_fwd``); ``backward`` runs the backward sweep (``f_bwd``) on what it
    saved, and can be called again (the forward sweep is rerun when the saved
    values cannot be replayed).
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "vjp")
    if emit:
        return _vjp_module(fn, wrt_t)[0].source

    @functools.wraps(fn)
    def vjp_fn(*args, **kwargs):
        module, spec, replay = _vjp_module(fn, wrt_t)
        _bind_args(fn, args, kwargs, wrt_t)
        lead = _lead(fn)
        if not spec.split:
            value = fn(*args, **kwargs)

            def backward(cotangent):
                try:
                    out = module[spec.grad_name](*lead, *args, **kwargs,
                                                 **{spec.seed_name: cotangent})
                except Exception as exc:
                    _errorsite.note(exc)
                    raise
                grads = tuple(_match(g, args[w]) for g, w in zip(out[1:], wrt_t))
                return grads[0] if single else grads
            return value, backward
        fwd, bwd = module[spec.fwd_name], module[spec.bwd_name]
        tape = []
        try:
            value = fwd(tape, *lead, *args, **kwargs)
        except Exception as exc:
            _errorsite.note(exc)
            raise
        saved = [tape]

        def backward(cotangent):
            try:
                if saved:
                    tape = saved.pop() if not replay else list(saved[0])
                else:
                    tape = []
                    fwd(tape, *lead, *args, **kwargs)
                cts = bwd(tape, cotangent)
            except Exception as exc:
                _errorsite.note(exc)
                raise
            cts = (cts,) if len(spec.active) == 1 else tuple(cts)
            grads = tuple(_match(g, args[w]) for g, w in zip(cts, wrt_t))
            return grads[0] if single else grads
        return value, backward
    return mark(vjp_fn, "vjp", None, fn, wrt_t)


def _vjp_module(fn, wrt):
    """The split pair of ``fn`` (or its combined function when a split is not possible)."""
    def make():
        from .transform.calls import Program
        program = Program()
        try:
            spec = program.split_entry(fn, wrt)
        except UnsupportedError:
            program = Program(joint=True)
            spec = program.entry(fn, wrt)
            spec.seed_name = _seed_param(program, spec)
        module = _Module(program, _label(fn, "vjp"))
        replay = not any(_writes_items(job) for job in program.jobs.values() if job._norm)
        return module, spec, replay
    return _cached(("vjp", fn, wrt), make)


def _seed_param(program, spec):
    for f in program.module.functions:
        if f.name == spec.grad_name:
            return f.args.args[-1].id
    raise AssertionError("entry not generated")


def _writes_items(job):
    for n in gast.walk(job.norm.node):
        if isinstance(n, gast.Assign) and isinstance(n.targets[0], gast.Subscript):
            return True
    return False


def hvp(fn, wrt=0, *, emit=False):
    """The Hessian-vector product ``hvp(f, wrt)(*args, v)``, without forming the Hessian.

    Forward mode over the generated gradient: the tangent of ``grad(f)`` along
    ``v`` (a tuple of vectors for a tuple ``wrt``).
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "hvp")
    gradient = _grad(fn, wrt_t[0] if single else wrt_t)
    if emit:
        return _forward_module(gradient, _past_lead(fn, wrt_t), "hvp")[0].source

    @functools.wraps(fn)
    def hessian_vector_product(*args, **kwargs):
        if not args:
            raise TypeError(f"{fn.__qualname__}: hvp needs the arguments and a vector")
        *args, v = args
        _bind_args(fn, args, kwargs, wrt_t)
        try:
            module, spec, _ = _forward_module(gradient, _past_lead(fn, wrt_t), "hvp")
        except UnsupportedError:   # the gradient's code cannot be transformed again: traced
            return jvp(gradient, wrt_t[0] if single else wrt_t)(*args, v, **kwargs)[1]
        vs = (v,) if single else tuple(v)
        kw = dict(kwargs)
        for p, t in zip(spec.active, vs):
            kw[spec.tangent_names[p]] = t
        try:
            t_grads = module[spec.jvp_name](*_lead(fn), *args, **kw)
        except Exception as exc:
            _errorsite.note(exc)
            raise
        if single:
            return _match(t_grads, args[wrt_t[0]])
        return tuple(_match(t, args[w]) for t, w in zip(t_grads, wrt_t))
    return mark(hessian_vector_product, "hvp",
                lambda: _source(*_forward_module(gradient, _past_lead(fn, wrt_t), "hvp")))


def jacobian(fn, wrt=0, *, emit=False):
    """The Jacobian of ``fn`` with respect to argument ``wrt``: shape ``out.shape + x.shape``.

    Built by one sweep of whichever mode needs fewer directions, all the
    directions at once: generated code whose tangents carry a leading axis of
    directions (``ForwardProgram(batched=True)``).  When ``x`` has at most as
    many elements as the output, that is forward mode on ``fn``, one unit
    direction per element of ``x`` (the columns).  Otherwise it is the
    backward sweep of ``fn`` (its generated gradient, differentiated with
    respect to the output's cotangent, which it is linear in), one unit
    cotangent per element of the output (the rows).  Primitives with a batch
    rule handle the whole batch in one call; others apply their forward rule
    to each direction in turn.  ``emit=True`` returns both modules' source.
    """
    wrt_t, single = _wrt.normalize(fn, wrt, "jacobian", single_only=True)
    w = wrt_t[0]
    if emit:
        source = _batched_module(fn, w, "columns")[0].source
        if _has_rows(fn, w):
            source += "\n" + _batched_module(fn, w, "rows")[0].source
        return source

    @functools.wraps(fn)
    def jacobian_fn(*args, **kwargs):
        _bind_args(fn, args, kwargs, wrt_t)
        x = numpy.asarray(args[w])
        if x.size > 1:   # fewer outputs than inputs: the rows, if the gradient can be batched
            value = fn(*args, **kwargs)
            if x.size > numpy.size(value) and _has_rows(fn, w):
                return _rows(fn, w, args, kwargs, x, numpy.asarray(value))
        return _matrix(fn, w, "columns", args, kwargs)
    return mark(jacobian_fn, "jacobian", lambda: _source(*_batched_module(fn, w, "columns")),
                fn, wrt_t)


def _batched_module(fn, w, kind):
    """``(module, spec, name)`` of the batched tangent code of a Jacobian or Hessian.

    ``kind`` is ``columns`` (forward mode on ``fn``), ``hessian`` (forward
    mode on ``fn``'s generated gradient, ``fn`` being scalar), both with a
    function of ``fn``'s arguments that returns the whole matrix (``name``),
    or ``rows`` (forward mode, with respect to the cotangent, on ``fn``'s
    generated backward sweep: ``name`` returns the batch of gradients).
    """
    def make():
        from .transform.forward import ForwardProgram
        program = ForwardProgram(batched=True)
        if kind == "columns":
            spec = program.entry(fn, (w,), prefix="jvp_batch")
            target = _matrix_adapter(program, spec, "jacobian")
        elif kind == "hessian":
            spec = program.entry(_grad(fn, w), _past_lead(fn, (w,)), tangent_only=True,
                                 prefix="hessian")
            target = _matrix_adapter(program, spec, "hessian")
        else:
            reverse, _, gradient_name = _reverse_module(fn, (w,), "vjp", joint=True)
            gradient = reverse[gradient_name]
            seed = len(inspect.signature(gradient).parameters) - 1
            spec = program.entry(gradient, (seed,), tangent_only=True, prefix="jacobian_rows")
            spec.seed_name = list(inspect.signature(gradient).parameters)[-1]
            target = spec.jvp_name
        return _Module(program, _label(fn, kind)), spec, target
    return _cached(("batched", kind, fn, w), make)


def _matrix_adapter(program, spec, kind):
    """``jacobian_of_f(x, ...)``: the batched sweep along ``unit_directions(x)``, its
    batch of tangents arranged as the matrix (``out.shape + x.shape``)."""
    x = spec.active[0]
    tangent = spec.tangent_names[x]

    def body(call_args, extra, namer):
        directions = namer.fresh("directions")
        sweep = _call(spec.jvp_name, call_args, [gast.keyword(arg=tangent,
                                                               value=_name(directions))])
        stmts = [gast.Assign(targets=[_store(directions)],
                             value=_rt_call("unit_directions", _name(x)), type_comment=None)]
        if kind == "hessian":
            out, t_out = x, namer.fresh("t_d_" + x)
            stmts.append(gast.Assign(targets=[_store(t_out)], value=sweep, type_comment=None))
        else:
            out, t_out = namer.fresh("value"), namer.fresh("t_value")
            stmts.append(_unpack([out, t_out], sweep))
        stmts.append(gast.Return(value=_rt_call("columns_to_jacobian", _name(t_out), _name(out),
                                                _name(x))))
        return stmts
    fname = program.module.fresh_function_name(f"{kind}_of_{spec.job.base_name}")
    what = ("the Hessian of " + spec.job.fsrc.qualname.replace("grad_", "", 1)
            if kind == "hessian" else f"the Jacobian of {spec.job.fsrc.qualname}")
    return _adapter(program, spec, fname, [], body,
                    f"s2sgrad.{kind}: {what} with respect to {x}, by one sweep along every "
                    f"unit direction of {x} at once.")


def _matrix(fn, w, kind, args, kwargs):
    """Call the function that returns the whole Jacobian (or Hessian) of ``fn``."""
    module, spec, target = _batched_module(fn, w, kind)
    # The adapter of a method binds its instance itself; one over generated code takes it.
    lead = _lead(fn) if spec.job.fsrc.self_value is None else ()
    try:
        return module[target](*lead, *args, **kwargs)
    except Exception as exc:
        _errorsite.note(exc)
        raise


def _rt_call(attr, *args):
    return gast.Call(func=gast.Attribute(value=_name("_rt"), attr=attr, ctx=gast.Load()),
                     args=list(args), keywords=[])


def _has_rows(fn, w):
    """Whether ``fn``'s backward sweep can be batched: its generated gradient is itself
    differentiable (a call known only at run time is not); if not, columns it is."""
    def check():
        try:
            _batched_module(fn, w, "rows")
        except UnsupportedError:
            return False
        return True
    return _cached(("has rows", fn, w), check)


def _rows(fn, w, args, kwargs, x, out):
    """The Jacobian ``out.shape + x.shape`` from one batched backward sweep, its rows."""
    from . import runtime
    module, spec, target = _batched_module(fn, w, "rows")
    kw = dict(kwargs)
    kw[spec.tangent_names[spec.active[0]]] = directions = runtime.unit_directions(out)
    kw[spec.seed_name] = numpy.zeros(out.shape, directions.dtype)   # the sweep is linear in it
    try:
        rows = module[target](*_lead(fn), *args, **kw)
    except Exception as exc:
        _errorsite.note(exc)
        raise
    return runtime.rows_to_jacobian(rows, out, x)


def hessian(fn, wrt=0, *, emit=False):
    """The Hessian of a scalar ``fn``, shape ``x.shape + x.shape``: forward mode over the
    generated gradient, in one sweep whose tangents carry a leading axis of directions,
    one unit direction per element of ``x`` (see ``jacobian``)."""
    wrt_t, single = _wrt.normalize(fn, wrt, "hessian", single_only=True)
    w = wrt_t[0]
    if emit:
        return _batched_module(fn, w, "hessian")[0].source

    @functools.wraps(fn)
    def hessian_fn(*args, **kwargs):
        _bind_args(fn, args, kwargs, wrt_t)
        try:
            return _matrix(fn, w, "hessian", args, kwargs)
        except UnsupportedError:   # the gradient's code cannot be transformed again: traced
            product, x = hvp(fn, w), numpy.asarray(args[w])
            columns = [product(*args, e.reshape(x.shape), **kwargs) for e in numpy.eye(x.size)]
            return numpy.moveaxis(numpy.array(columns), 0, -1).reshape(x.shape + x.shape)
    return mark(hessian_fn, "hessian", lambda: _source(*_batched_module(fn, w, "hessian")),
                fn, wrt_t)
