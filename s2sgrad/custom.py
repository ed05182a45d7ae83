"""User-defined derivatives, ``stop_gradient``, non-differentiable functions, checkpointing.

A function decorated with ``custom_vjp`` (or ``custom_jvp``: the same
decorator, named for the rule you mean to give) becomes a *primitive*:
s2sgrad no longer looks inside it, and its derivative is the rule you attach.

    @s2sgrad.custom_vjp
    def softplus(x):
        return np.log1p(np.exp(x))

    @softplus.defvjp
    def softplus_vjp(g, ans, x):        # g: cotangent of the output, ans: the output
        return g / (1.0 + np.exp(-x))

    @softplus.defjvp
    def softplus_jvp(t, ans, x):        # t: tangent of x
        return t / (1.0 + np.exp(-x))

A rule takes the seed (``g`` or ``t``), the primal output ``ans`` and the
function's parameters, in order (names may differ).  With several
differentiable parameters, give one rule per parameter by keyword
(``f.defvjp(x=..., y=...)``), or one reverse rule returning a tuple of
cotangents, one per parameter in ``wrt`` (by default all of them); a forward
rule returns the output tangent for its parameter's tangent (the contributions
of several parameters are added).  These are the rules of s2sgrad's own
library, minus the array-namespace argument.

Both consumers use the same rule, as for built-in primitives: generated code
inlines its body (``grad(f, emit=True)`` shows it) when its source is available
and uses only its parameters, modules, builtins and literal constants, and
otherwise calls it (``softplus.vjp_x(g, ans, x)``); the tracing fallback calls
it.  A rule written in differentiable code can itself be differentiated
(higher derivatives).  Define the rules before differentiating callers.
Decorate functions (not methods) with named positional parameters; generated
code needs parameter names other than ``g``, ``t``, ``ans``, ``xp`` and
``argnum`` (the fallback takes over for callers of one that uses them).

``stop_gradient(x)`` is ``x`` with no derivative flowing through it;
``@non_differentiable`` marks a function whose outputs carry no derivative;
``checkpoint(f)`` is ``f`` whose adjoint recomputes ``f``'s forward sweep
instead of storing it (memory for time), in generated code and in the fallback.
"""

import builtins
import functools
import inspect
import types

import gast

from .errors import NoRuleError, UnsupportedError
from .fallback.state import RUNNING
from .fallback.tracer import Spec, TracingNoRuleError, _has_box, apply, strip
from .rules import registry
from .rules.template import Template, constant, runtime_name
from .syntax import walk as _walk

__all__ = ["custom_vjp", "custom_jvp", "CustomFunction", "stop_gradient", "non_differentiable",
           "checkpoint"]

_SEEDS = {"vjp": "g", "jvp": "t"}
_RESERVED = {"xp", "g", "t", "ans", "argnum"}   # the rule format's own parameter names
_SIMPLE_STATEMENTS = (gast.Assign, gast.If, gast.Return, gast.Pass)
_CUSTOM = "_s2sgrad_handles_boxes"   # callables that deal with traced values themselves


def _invalidate_compiled():
    """Forget generated code in this process: it may have inlined an earlier rule."""
    from .driver import pipeline
    pipeline.forget()


class _NotInlinable(Exception):
    pass


class MissingRuleError(NoRuleError):
    """A custom function was differentiated with respect to a parameter it has no rule for."""

    def __init__(self, message, name):
        Exception.__init__(self, message)
        self.name = name
        self.where, self.construct, self.advice = None, f"a call to {name}", ""


class _CustomRule(registry.Rule):
    """A rule whose template is built on first use by the code generator."""

    def __init__(self, fn, kind, param, build_template):
        super().__init__(fn, kind, param)
        self._build = build_template

    @property
    def template(self):
        if self._template is None:
            self._template = self._build()
        return self._template


class CustomFunction:
    """A user function that s2sgrad treats as a primitive with user-defined rules."""

    def __init__(self, fn, wrt=None):
        if not isinstance(fn, types.FunctionType):
            raise TypeError(f"custom_vjp/custom_jvp decorate Python functions, not {fn!r}")
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.signature = inspect.signature(fn)
        bad = [p.name for p in self.signature.parameters.values()
               if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if bad:
            raise TypeError(f"{fn.__qualname__}: a function with user-defined derivatives takes "
                            f"named positional parameters only (not {bad[0]!r})")
        self.params = list(self.signature.parameters)
        self.wrt = self._names(wrt) if wrt is not None else list(self.params)
        self.prim = registry.Primitive(fn.__qualname__, family="custom", signature=self.signature)
        self.not_inlined = {}                # "vjp_x" -> why its rule is called, not inlined
        self._s2sgrad_inlined_rules = []     # rules whose source generated code copies
        self.rule_functions = []             # every rule given (s2sgrad gen does not
                                             # differentiate them as functions of their own)
        self._callables = {}                 # "vjp_x" -> rule(seed, ans, *params)
        self._spec = Spec(self.prim, self, fn.__qualname__)
        setattr(self, _CUSTOM, True)
        for kind in ("vjp", "jvp"):
            for p in self.wrt:          # until a rule is given: an error if one is needed
                self._set_rule(kind, p, *self._placeholder(kind, p))
        registry.register_object(self, self.prim, namespace=self)

    def _placeholder(self, kind, param):
        mode = "forward" if kind == "jvp" else "reverse"
        advice = f"give it one with {self.__qualname__}.def{kind}({param}=...)"

        def missing(*args, **kwargs):
            from .fallback.tracer import user_location
            raise MissingRuleError(f"{user_location()}: {self.__qualname__} has no {mode}-mode "
                                   f"rule for its parameter {param!r}, which carries a "
                                   f"derivative here; {advice}", self.__qualname__)

        def no_template():
            raise UnsupportedError(_site(self.fn), f"a derivative with respect to {param!r} "
                                   f"of {self.__qualname__}, which has no {mode}-mode rule",
                                   advice)
        return missing, no_template

    def _names(self, wrt):
        if isinstance(wrt, (str, int)):
            wrt = (wrt,)
        out = []
        for w in wrt:
            name = self.params[w] if isinstance(w, int) else w
            if name not in self.params:
                raise ValueError(f"{self.__qualname__} has no parameter {w!r}")
            out.append(name)
        return out

    def __call__(self, *args, **kwargs):
        try:
            return apply(self._spec, self.fn, args, kwargs)
        except TracingNoRuleError as exc:
            if exc.name != self._spec.name:
                raise
            raise self._missing_rule(exc.where, args, kwargs) from None

    def _missing_rule(self, where, args, kwargs):
        """The error for a traced argument whose rule was never given."""
        from .fallback.tracer import FORWARD, Box
        bound = self.signature.bind(*args, **kwargs).arguments
        top = None
        for v in bound.values():
            if isinstance(v, Box) and (top is None or v._trace.level > top.level):
                top = v._trace
        kind = "jvp" if top is not None and top.mode == FORWARD else "vjp"
        rules = getattr(self.prim, kind)
        missing = [p for p, v in bound.items() if p not in rules and _has_box(v)] or ["?"]
        mode = "forward" if kind == "jvp" else "reverse"
        return MissingRuleError(
            f"{where}: {self.__qualname__} has no {mode}-mode rule for its parameter "
            f"{missing[0]!r}, which carries a derivative here; give it one with "
            f"{self.__qualname__}.def{kind}({missing[0]}=...)", self.__qualname__)

    def __getattr__(self, name):
        rule = self.__dict__.get("_callables", {}).get(name)
        if rule is None:
            raise AttributeError(name)
        return rule

    def __repr__(self):
        rules = sorted(self._callables)
        return f"<custom function {self.__qualname__} ({', '.join(rules) or 'no rules yet'})>"

    # -- attaching rules ----------------------------------------------------------------

    def defvjp(self, rule=None, /, **per_param):
        """Attach the reverse rule(s): ``rule(g, ans, *params)``; see the module docstring."""
        return self._define("vjp", rule, per_param)

    def defjvp(self, rule=None, /, **per_param):
        """Attach the forward rule(s): ``rule(t, ans, *params)``; see the module docstring."""
        return self._define("jvp", rule, per_param)

    def _define(self, kind, rule, per_param):
        if (rule is None) == (not per_param):
            raise TypeError(f"{self.__qualname__}.def{kind}: give one rule, or one rule per "
                            f"parameter by keyword")
        if rule is not None:
            if len(self.wrt) == 1:
                per = {self.wrt[0]: (rule, None)}
            elif kind == "jvp":
                raise TypeError(f"{self.__qualname__} has several differentiable parameters: "
                                f"give one forward rule per parameter, "
                                f"{self.__qualname__}.defjvp({self.wrt[0]}=..., ...)")
            else:
                per = {p: (rule, k) for k, p in enumerate(self.wrt)}
        else:
            per = {self._names(p)[0]: (r, None) for p, r in per_param.items()}
        for param, (fn, pick) in per.items():
            self._check_rule(fn, kind)
            if fn not in self.rule_functions:
                self.rule_functions.append(fn)
            self._set_rule(kind, param, self._adapter(fn, pick),
                           functools.partial(self._inline_or_call, fn, kind, param, pick))
        _invalidate_compiled()
        return rule if rule is not None else None

    def _check_rule(self, fn, kind):
        try:
            inspect.signature(fn).bind(*([None] * (2 + len(self.params))))
        except TypeError:
            raise TypeError(f"a {kind} rule of {self.__qualname__} takes ({_SEEDS[kind]}, ans, "
                            f"{', '.join(self.params)}); {getattr(fn, '__qualname__', fn)} "
                            f"does not") from None
        except ValueError:
            pass                       # a C callable: trust it

    def _adapter(self, fn, pick):
        sig, params, n = self.signature, self.params, len(self.params)

        def call(seed, ans, *args, **kwargs):
            if kwargs or len(args) != n:
                bound = sig.bind(*args, **kwargs)
                bound.apply_defaults()
                args = [bound.arguments[p] for p in params]
            out = fn(seed, ans, *args)
            return out if pick is None else out[pick]
        return call

    def _set_rule(self, kind, param, call, build_template, library_rule=None):
        """``call`` is what generated code calls (``f.vjp_x(...)``); ``library_rule``, in the
        registry's format ``(xp, seed, ans, *args, **kwargs)``, what the tracer calls."""
        if library_rule is None:
            def library_rule(xp, seed, ans, *args, **kwargs):
                return call(seed, ans, *args, **kwargs)
        getattr(self.prim, kind)[param] = _CustomRule(library_rule, kind, param, build_template)
        self._callables[f"{kind}_{param}"] = call

    # -- templates for the code generator ----------------------------------------------------

    def _inline_or_call(self, fn, kind, param, pick):
        defaults = self._literal_defaults()
        try:
            template = self._inline_template(fn, kind, param, pick, defaults)
            if fn not in self._s2sgrad_inlined_rules:
                self._s2sgrad_inlined_rules.append(fn)
            return template
        except _NotInlinable as why:
            self.not_inlined[f"{kind}_{param}"] = str(why)
            return self._call_template(kind, param, defaults)

    def _literal_defaults(self):
        """The primal defaults for the templates (which also checks the names they can take)."""
        clash = sorted(set(self.params) & _RESERVED)
        if clash:
            raise UnsupportedError(
                _site(self.fn), f"the parameter name {clash[0]!r} of {self.__qualname__}, "
                f"which generated code uses for the rules' own arguments",
                "rename the parameter (the tracing fallback handles it meanwhile)")
        out = {}
        for p in self.signature.parameters.values():
            if p.default is p.empty:
                continue
            try:
                constant(p.default)
            except TypeError:
                raise UnsupportedError(
                    _site(self.fn), f"the default value of {p.name!r} in {self.__qualname__}, "
                    f"which has no literal form, so generated code cannot pass it to the rule",
                    "give it a literal default (a number, None, a string, a tuple of those)")
            out[p.name] = p.default
        return out

    def _call_template(self, kind, param, defaults, uses_ans=True):
        seed = _SEEDS[kind]
        lead = [seed, "ans"] if uses_ans else [seed]
        args = ", ".join(lead + self.params)
        tree = gast.parse(f"def rule(xp, {args}):\n    return xp.{kind}_{param}({args})\n")
        return Template(["xp", seed, "ans"] + self.params, defaults, tree.body[0].body, {},
                        f"{kind}_{param} of {self.__qualname__}")

    def _inline_template(self, fn, kind, param, pick, defaults):
        from .frontend.source import FunctionSource
        from .errors import SourceError
        try:
            fsrc = FunctionSource.of(fn)
        except SourceError as exc:
            raise _NotInlinable(f"its source is not available ({exc})")
        node = fsrc.node
        a = node.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            raise _NotInlinable("it has a variable or keyword-only parameter list")
        names = [x.id for x in a.args]
        canonical = [_SEEDS[kind], "ans"] + self.params
        body = list(node.body)
        if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant):
            body = body[1:]
        for stmt in body:
            for n in _walk(stmt):
                if isinstance(n, gast.stmt) and not isinstance(n, _SIMPLE_STATEMENTS):
                    raise _NotInlinable(f"it uses a {type(n).__name__} statement")
                if isinstance(n, (gast.Lambda, gast.ListComp, gast.GeneratorExp, gast.DictComp,
                                  gast.SetComp, gast.Yield, gast.NamedExpr)):
                    raise _NotInlinable(f"it uses {type(n).__name__}")
        used = {n.id for s in body for n in _walk(s) if isinstance(n, gast.Name)}
        clash = (used - set(names)) & (set(canonical) | {"xp"})
        if clash:
            raise _NotInlinable(f"it uses the name {sorted(clash)[0]!r} for something else")
        assigned = {n.id for s in body for n in _walk(s)
                    if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load)}
        mapping = dict(zip(names, canonical))
        consts, globals_ = {}, {}
        for nm in sorted(used - set(names) - assigned):
            where, value = fsrc.resolve(nm)
            if where is None:
                raise _NotInlinable(f"it uses the undefined name {nm!r}")
            if where == "builtin" and value is getattr(builtins, nm, None):
                continue
            if isinstance(value, types.ModuleType) or runtime_name(value) is not None:
                globals_[nm] = value
                continue
            if isinstance(value, (bool, int, float, complex, str)) or value is None:
                consts[nm] = constant(value)
                continue
            raise _NotInlinable(f"it uses {nm!r}, which generated code cannot see")
        body = _live([_Rename(mapping, consts, pick).visit(s) for s in body])
        t = Template(["xp"] + canonical, defaults, body, globals_,
                     f"{kind}_{param} of {self.__qualname__}")
        try:
            t.check()
        except NameError as exc:
            raise _NotInlinable(str(exc))
        return t


class _Rename(gast.NodeTransformer):
    """Rule parameters to the template's names, constants to literals, returns to a pick."""

    def __init__(self, mapping, consts, pick):
        self.mapping, self.consts, self.pick = mapping, consts, pick

    def visit_Name(self, node):
        if node.id in self.mapping:
            node.id = self.mapping[node.id]
        elif node.id in self.consts and isinstance(node.ctx, gast.Load):
            return gast.Constant(value=self.consts[node.id].value, kind=None) \
                if isinstance(self.consts[node.id], gast.Constant) else self.consts[node.id]
        return node

    def visit_Return(self, node):
        self.generic_visit(node)
        if self.pick is not None and node.value is not None:
            if isinstance(node.value, gast.Tuple):
                node.value = node.value.elts[self.pick]     # the part for this parameter
            else:
                node.value = gast.Subscript(value=node.value, slice=gast.Constant(
                    value=self.pick, kind=None), ctx=gast.Load())
        return node


def _live(body):
    """Drop top-level assignments whose names nothing after them reads (the other parts of
    a rule that returns a tuple, when it is inlined for one parameter)."""
    needed, out = set(), []
    for stmt in reversed(body):
        if isinstance(stmt, gast.Assign) and all(isinstance(t, gast.Name) for t in stmt.targets) \
                and not {t.id for t in stmt.targets} & needed:
            continue
        if isinstance(stmt, gast.Assign):
            needed -= {t.id for t in stmt.targets if isinstance(t, gast.Name)}
        needed |= {n.id for n in _walk(stmt) if isinstance(n, gast.Name)
                   and isinstance(n.ctx, gast.Load)}
        out.append(stmt)
    return out[::-1]


def _site(fn):
    from .sites import definition_site
    return definition_site(fn)


def custom_vjp(fn=None, *, wrt=None):
    """Declare a function's derivatives yourself; attach them with ``.defvjp`` / ``.defjvp``.

    ``wrt`` names the differentiable parameters (names or positions; all by
    default) that a single tuple-returning reverse rule answers for.  See the
    module ``s2sgrad.custom`` for the rule format.
    """
    if fn is None:
        return lambda f: CustomFunction(f, wrt)
    return CustomFunction(fn, wrt)


def custom_jvp(fn=None, *, wrt=None):
    """The same decorator as ``custom_vjp``, named for a function you give a forward rule."""
    return custom_vjp(fn, wrt=wrt)


# ---------------------------------------------------------------------------
# No derivative
# ---------------------------------------------------------------------------

def stop_gradient(x):
    """``x`` itself, through which no derivative flows (in every mode, at every order)."""
    if RUNNING[0] and _has_box(x):
        return strip(x)
    return x


def non_differentiable(fn):
    """Mark ``fn`` as having outputs that carry no derivative (like ``np.argmax``).

    Returns a wrapper that s2sgrad treats as such in generated code and in the
    fallback; calling it is calling ``fn``.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if RUNNING[0] and (_has_box(args) or _has_box(kwargs)):
            args, kwargs = strip(args), strip(kwargs)
        return fn(*args, **kwargs)
    setattr(wrapper, _CUSTOM, True)
    registry.register_object(wrapper, registry.Primitive(getattr(fn, "__qualname__", "fn"),
                                                         family="custom", nondiff=True))
    return wrapper


setattr(stop_gradient, _CUSTOM, True)
registry.register_object(stop_gradient, registry.Primitive("stop_gradient", family="s2sgrad",
                                                           nondiff=True))


# ---------------------------------------------------------------------------
# Checkpointing
# ---------------------------------------------------------------------------

def _inexact(x):
    v = strip(x)
    if isinstance(v, (float, complex)):
        return True
    if isinstance(v, (list, tuple)):
        return any(_inexact(e) for e in v)
    if isinstance(v, dict):
        return any(_inexact(e) for e in v.values())
    dt = getattr(v, "dtype", None)
    return dt is not None and dt.kind in "fc"


class Checkpoint(CustomFunction):
    """``f`` whose adjoint recomputes its forward sweep instead of keeping it (``checkpoint``)."""

    def __init__(self, fn):
        super().__init__(fn)
        self._last = None
        for k, p in enumerate(self.params):
            vjp, jvp = self._vjp(k), self._jvp(k)
            self._set_rule("vjp", p, vjp, functools.partial(self._template, "vjp", p),
                           lambda xp, g, ans, *a, _rule=vjp, **kw: _rule(g, *a, **kw))
            self._set_rule("jvp", p, jvp, functools.partial(self._template, "jvp", p),
                           lambda xp, t, ans, *a, _rule=jvp, **kw: _rule(t, *a, **kw))

    def __repr__(self):
        return f"<checkpoint {self.__qualname__}>"

    def _template(self, kind, param):
        return self._call_template(kind, param, self._literal_defaults(), uses_ans=False)

    def _vjp(self, k):
        def vjp(g, *args, **kwargs):         # no ans: the call site need not keep it
            return self._cotangents(g, args, kwargs, k)
        return vjp

    def _jvp(self, k):
        def jvp(t, *args, **kwargs):
            from .driver.dynamic import call_jvp
            args = self._bind(args, kwargs)
            return call_jvp(self.fn, args, {}, (k,), (t,))[1]
        return jvp

    def _bind(self, args, kwargs):
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments[p] for p in self.params)

    def _cotangents(self, g, args, kwargs, k):
        """The cotangents of every parameter, by recomputing ``f``; one recomputation
        serves the rules of all the parameters of one call (asked one after another)."""
        args = self._bind(args, kwargs)
        last = self._last
        if last is not None and k not in last[3] and last[0] is g \
                and all(a is b for a, b in zip(last[1], args)):
            last[3].add(k)
            return last[2][k]
        active = tuple(i for i, a in enumerate(args) if _inexact(a))
        if RUNNING[0] and (_has_box(g) or _has_box(args)):
            from .fallback import trace_vjp    # higher order: recompute on traced values
            cts = trace_vjp(self.fn, args, {}, active)[1](g)
        else:
            from .driver.dynamic import call_bwd, call_fwd
            tape = []
            call_fwd(tape, self.fn, args, {}, active)   # generated code (or traced)
            cts = call_bwd(tape, g)
        full = [None] * len(args)
        for i, c in zip(active, cts):
            full[i] = c
        self._last = (g, args, full, {k})
        return full[k]


def checkpoint(fn):
    """``fn``, whose adjoint recomputes its forward sweep instead of storing it.

    Calls to it (in a loop, say) keep only their arguments for the backward
    sweep; each backward step runs ``fn``'s forward sweep again and then its
    backward sweep: memory for time.  Works in generated code and in the
    fallback; ``fn`` itself is transformed (or traced) as any function is.
    """
    return Checkpoint(fn)
