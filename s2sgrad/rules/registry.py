"""The rule registry: what s2sgrad knows about each primitive.

A *primitive* is a function s2sgrad does not look inside: ``np.sin``, ``np.dot``,
``math.exp``, the ``*`` operator, an array method such as ``a.sum()``.  For each
differentiable parameter it has a reverse rule (vjp) and a forward rule (jvp),
each a small Python function:

    def vjp_x(xp, g, ans, x, axis=None):   # g: cotangent of the output
        return ...                          # cotangent contribution for x
    def jvp_x(xp, t, ans, x, axis=None):   # t: tangent of x
        return ...                          # tangent contribution of the output

``xp`` is the array namespace of the call (``np`` for ``np.sum``, ``cp`` for
``cp.sum``), ``ans`` the primal output, and the remaining parameters are the
primal parameters, in the function's own positional order and with its
defaults (a user's positional arguments are bound to them).  Both consumers use the same
function: the code generator parses its source and inlines the body into the
generated code (``template.py``), and the tracing fallback calls it.  So a rule
may only use its parameters, ``xp``, builtins, helpers from
``s2sgrad.runtime`` and modules (``math``, ``scipy.special``); the registry
checks that when the rule is defined.

Rules are grouped in a class per primitive (or made by ``elementwise`` and
``binary`` from a single derivative), and the registry finds a primitive from
the Python object the user called, in whichever array namespace it came from.
"""

import functools
import importlib
import inspect
import sys
import threading
import types

from . import template as _template
import s2sgrad.runtime as _runtime

__all__ = [
    "Primitive", "primitive", "elementwise", "binary", "nondiff", "lookup", "by_name",
    "operator_primitive", "method_primitive", "all_primitives", "ARRAY_NAMESPACES",
    "apply_rule", "call_bound", "varargs_param", "register_object", "unregister_object",
    "UNKNOWN", "unsupported_arguments", "set_keyword_aliases", "transpose", "transpose_pair",
    "listed", "lookup_name",
]

# Modules whose functions are looked up by name among the array-family rules.
ARRAY_NAMESPACES = ("numpy", "cupy", "array_api_strict", "jax.numpy")

_PRIMITIVES = {}          # (family, name) -> Primitive
_METHODS = {}             # method or attribute name -> (Primitive, packs_varargs)
_OPERATORS = {}           # operator name ('add', 'usub', 'getitem', ...) -> Primitive
_FAMILY_MODULES = {       # family -> module that holds its functions
    "math": "math",
    "builtins": "builtins",
    "cmath": "cmath",
}
_lookup_cache = {}        # _identity(obj) -> (obj, Primitive, namespace module)
_lookup_table = [None]    # the same table, swapped whole when rebuilt (threads read it)
_cache_key = [None]
_OBJECTS = {}             # id(obj) -> (obj, Primitive, namespace): primitives users declare
_FAMILIES = {}            # the families of registered primitives, in order of registration
_WATCHED = []             # modules whose import changes what lookup finds


class Rule:
    """One derivative rule: a callable for the tracer and a template for the code generator."""

    def __deepcopy__(self, memo):
        return self  # an annotation shared by copies of the AST, never copied

    def __init__(self, fn, kind, param, template=None, source=None, factory=None, make=None):
        self._fn = fn
        self._make = make         # makes ``fn`` on first use when it is None (a written rule)
        self.kind = kind          # 'vjp', 'jvp' or 'batch'
        self.param = param
        self._template = template
        # the text of a rule the registry wrote (``linear``, ``transpose``), or a function
        # that writes it on first use (``_written_rule``)
        self._source = source
        self._factory = factory   # makes the template when it is not ``fn``'s own source

    @property
    def source(self):
        source = self._source
        if source is not None and source.__class__ is not str:
            source = self._source = source()
        return source

    @property
    def fn(self):
        """The rule as a Python function (what the tracer calls)."""
        fn = self._fn
        if fn is None and self._make is not None:
            fn = self._fn = self._make()
        return fn

    @fn.setter
    def fn(self, value):
        self._fn = value

    @property
    def template(self):
        """The rule's template, parsed on first use (the tracer never needs one) and kept."""
        if self._template is None:
            if self._factory is not None:
                self._template = self._factory()
            else:
                self._template = _template.Template.from_function(self.fn, self.source)
        return self._template

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return f"<{self.kind} rule for {self.param}>"


class Primitive:
    """A function s2sgrad differentiates by rule rather than by looking inside."""

    def __deepcopy__(self, memo):
        return self  # an annotation shared by copies of the AST, never copied

    def __init__(self, name, family="array", signature=None, nondiff=False, view=False,
                 cheap=False, linear=False):
        self.name = name
        self.family = family
        if isinstance(signature, _Deferred):
            self._deferred_signature = signature    # (``__getattr__`` makes it when asked)
        else:
            self.signature = signature
        self.vjp = {}
        self.jvp = {}
        self.batch = {}           # forward rules for a batch of tangents (a leading axis)
        self.nondiff = nondiff
        self.view = view          # the output may share memory with an input
        self.cheap = cheap        # elementwise: recomputing it in the backward sweep is cheap
        # The parameters it is linear in, each with the others held fixed (``primitive``'s
        # ``linear``): there its forward rule is the primitive itself applied to the tangent.
        if linear is True:
            raise TypeError("Primitive(linear=...) takes parameter names; "
                            "primitive(..., linear=True) finds them from the rules")
        self.linear = tuple(linear or ())
        self.elementwise = 0      # 1 or 2: a unary or broadcasting binary elementwise function
        # Parameters read only for their shape (``like``) or for where an extremum is:
        # they carry no derivative, so they need no rule (``set_shape_params``).
        self.shape_params = frozenset()
        # ``check(args)``: ``(what, why)`` for arguments the rules do not cover, else None
        # (see ``unsupported_arguments``).
        self.check = None
        # Keyword arguments of the function whose rule parameter has another name
        # (``np.interp``'s ``xp=``: ``xp`` is the rules' array namespace).
        self.aliases = {}

    def __getattr__(self, attr):
        # ``signature`` made on first use from a ``_Deferred``, then an attribute like any
        deferred = self.__dict__.get("_deferred_signature") if attr == "signature" else None
        if deferred is None:
            raise AttributeError(attr)
        self.signature = deferred.get()
        return self.signature

    @property
    def qualname(self):
        return self.name if self.family in ("array", "op") else f"{self.family}.{self.name}"

    @property
    def params(self):
        return list(self.signature.parameters) if self.signature is not None else []

    def bind(self, args, kwargs):
        """Bind call arguments to the primal parameters: ``{param: value}``.

        Values can be anything (AST nodes, runtime values); missing parameters
        are left out, so the rule's defaults apply.
        """
        if self.aliases and any(k in self.aliases for k in kwargs):
            kwargs = {self.aliases.get(k, k): v for k, v in kwargs.items()}
        sig = self.signature
        plan = self.__dict__.get("_bind_plan")
        if plan is None or plan[0] is not sig:
            plan = self._bind_plan = (sig, _bind_plan(sig))
        plain = plan[1]
        if plain is not None:
            # parameters that are all positional-or-keyword: bound as ``Signature.bind``
            # binds them (in their order), or by it where the call does not fit
            names, position, required = plain
            n = len(args)
            if n <= len(names) and all(position.get(k, -1) >= n for k in kwargs):
                bound = dict(zip(names, args))
                if all(names[i] in kwargs for i in range(n, required)):
                    if kwargs:
                        bound.update(kwargs)
                        bound = {p: bound[p] for p in names if p in bound}
                    return bound
        bound = sig.bind(*args, **kwargs)
        return dict(bound.arguments)

    def __repr__(self):
        return f"<primitive {self.qualname}>"


def _bind_plan(sig):
    """``(names, {name: position}, number of parameters without default)`` of a signature
    whose parameters are all positional-or-keyword (what ``Primitive.bind`` binds without
    ``Signature.bind``), else None."""
    if sig is None:
        return None
    names, required = [], 0
    for p in sig.parameters.values():
        if p.kind is not p.POSITIONAL_OR_KEYWORD:
            return None
        names.append(p.name)
        if p.default is p.empty:
            if required != len(names) - 1:
                return None
            required += 1
    return tuple(names), {name: k for k, name in enumerate(names)}, required


def _register(prim):
    key = (prim.family, prim.name)
    _PRIMITIVES[key] = prim
    if prim.family not in _FAMILIES:
        _FAMILIES[prim.family] = None
        _watch()
    if _INDEX[0] is None or key not in _INDEX[0][0]:
        # (the lookup table already holds what the index lists: loading a module's rules
        # leaves it as it is)
        _lookup_cache.clear()
        _lookup_table[0] = None
        _cache_key[0] = None
    return prim


class _Deferred:
    """A value made on first use, once for all who share it: the signature of a rule class's
    primitives (``inspect.signature`` costs more than the rest of registering them, and a
    program calls few of the primitives a rule module registers)."""

    __slots__ = ("_make", "_value")

    def __init__(self, make):
        self._make = make
        self._value = None

    def get(self):
        if self._make is not None:
            self._value = self._make()
            self._make = None
        return self._value


def _primal_signature(fn, skip=3, sig=None):
    sig = sig if sig is not None else inspect.signature(fn)
    params = list(sig.parameters.values())[skip:]
    params = [p for p in params if p.name != "argnum"]
    return sig.replace(parameters=params)


def _varargs_of(fn):
    """The name of the ``*args`` parameter of the rule function ``fn`` (None: it has none),
    read off its code object; ``_UNSET`` where ``fn`` is not a plain function."""
    if fn.__class__ is not types.FunctionType or hasattr(fn, "__wrapped__") \
            or hasattr(fn, "__signature__"):
        return _UNSET
    code = fn.__code__
    if code.co_flags & inspect.CO_VARARGS:
        return code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
    return None


def _partial_signature(d):
    """The primitive's signature from a partial derivative ``d(xp, <params>, ans)``."""
    sig = _primal_signature(d, skip=1)
    return sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "ans"])


def primitive(*names, family="array", view=False, cheap=False, linear=False, methods=(),
              operator=None, elementwise=0):
    """Class decorator: define a primitive from methods named ``vjp_<param>`` / ``jvp_<param>``.

    A ``batch_<param>`` method is the forward rule for a batch of tangents
    (``t`` has a leading axis of directions, a Jacobian's columns): without
    one, batched code applies ``jvp_<param>`` to each direction in turn.

    ``names`` are the function names it covers in its family (``"amax", "max"``);
    ``methods`` the array methods and attributes that are this primitive with the
    array as first argument (a name ending in ``*`` packs extra positional
    arguments into a tuple, as ``a.reshape(2, 3)`` does); ``operator`` the
    Python operator it implements.  A function ``check(args)`` in the class names
    the arguments its rules do not cover (see ``unsupported_arguments``).

    ``linear=True`` declares the primitive linear in each parameter it has a rule
    for, the others held fixed (``linear=("v",)``: in those parameters only); a
    function linear in several arguments together, as ``a + b``, is not.  Where it is
    linear in ``p`` the forward rule is the primitive applied to the tangent,
    ``f(..., p=t, ...)``: the registry writes it, so the class gives only the reverse
    rule (the transpose of that linear map) and any batch rule.
    """
    def deco(cls):
        rules = {k: v for k, v in vars(cls).items()
                 if k.startswith(("vjp_", "jvp_", "batch_"))}
        check = vars(cls).get("check")
        if not rules:
            raise TypeError(f"rule class for {names} defines no vjp_/jvp_ functions")
        first = next(iter(rules.values()))
        sig = _Deferred(functools.partial(_primal_signature, first))
        varargs = _varargs_of(first)
        real = [(key, fn) for key, fn in vars(cls).items()
                if key.startswith(("real_vjp_", "real_jvp_"))]
        for name in names:
            prim = Primitive(name, family, sig, view=view, cheap=cheap)
            prim.elementwise = elementwise
            prim.check = check
            for key, fn in rules.items():
                kind, param = key.split("_", 1)
                getattr(prim, kind)[param] = Rule(fn, kind, param)
            # ``real_vjp_<param>``: a simpler rule, right when that argument is real; the
            # code generator uses it where it knows (analysis.realness), the tracer never
            prim.real_rules = {}
            for key, fn in real:
                _, kind, param = key.split("_", 2)
                prim.real_rules.setdefault(kind, {})[param] = Rule(fn, kind, param)
            prim.linear = _linear_params(prim, linear)
            for param in prim.linear:
                if param not in prim.jvp:
                    prim.jvp[param] = _applied_rule(prim, param, first.__globals__, varargs)
            _register(prim)
        main = _PRIMITIVES[(family, names[0])]
        for m in methods:
            _METHODS[m.rstrip("*")] = (main, m.endswith("*"))
        if operator:
            _OPERATORS[operator] = main
        return cls
    return deco


def elementwise(*names, family="array", methods=(), operator=None):
    """Decorator for a unary elementwise function from its derivative ``d(xp, x, ans)``.

    The reverse rule is ``g * d`` and the forward rule ``t * d``: one formula
    serves both modes.
    """
    def deco(d):
        sig = _Deferred(functools.partial(_partial_signature, d))
        # one rule object per kind, shared by the names: its template is parsed once, when
        # the code generator first needs it
        fn = _template.scaled_function(d)
        vjp = Rule(fn, "vjp", "x",
                   factory=functools.partial(_template.scaled_template, d, "g", "vjp"))
        jvp = Rule(fn, "jvp", "x",
                   factory=functools.partial(_template.scaled_template, d, "t", "jvp"))
        for name in names:
            prim = Primitive(name, family, sig, cheap=True)
            prim.elementwise = 1
            prim.vjp["x"] = vjp
            prim.jvp["x"] = jvp
            _register(prim)
        main = _PRIMITIVES[(family, names[0])]
        for m in methods:
            _METHODS[m] = (main, False)
        if operator:
            _OPERATORS[operator] = main
        return d
    return deco


def binary(*names, family="array", operator=None):
    """Class decorator for a broadcasting binary function from partials ``dx`` and ``dy``.

    ``dx(xp, x, y, ans)`` is the partial derivative with respect to ``x``.
    The reverse rule is ``unbroadcast(g * dx, x)``, the forward rule
    ``broadcast_to_like(t * dx, ans)``.
    """
    def deco(cls):
        partials = {k[1:]: v for k, v in vars(cls).items() if k in ("dx", "dy")}
        sig = _Deferred(functools.partial(_partial_signature, partials["x"]))
        rules = {(kind, param): broadcast_rule(d, param, kind)
                 for param, d in partials.items() for kind in ("vjp", "jvp")}
        for name in names:
            prim = Primitive(name, family, sig, cheap=True)
            prim.elementwise = 2
            for (kind, param), rule in rules.items():
                getattr(prim, kind)[param] = rule
            _register(prim)
        if operator:
            _OPERATORS[operator] = _PRIMITIVES[(family, names[0])]
        return cls
    return deco


def broadcast_rule(d, param, kind, sig=None):
    """The ``kind`` rule for ``param`` of a broadcasting function with partial ``d``
    (``template.broadcast_rule``), its template parsed on first use."""
    return Rule(_template.broadcast_function(d, param, kind, sig), kind, param,
                factory=functools.partial(_template.broadcast_template, d, param, kind))


# ---------------------------------------------------------------------------
# Linear primitives: their rules from one declaration
# ---------------------------------------------------------------------------
#
# A map ``f`` linear in ``p`` is its own derivative there: the forward rule for ``p`` is ``f``
# applied to the tangent, and the reverse rule is the transpose of that same linear map.  So
# a linear primitive declares its transpose only (``primitive(..., linear=True)`` with a
# ``vjp_<p>``), and a linear runtime helper whose transpose is another helper is declared
# by that fact, in one line (``transpose``, ``transpose_pair``): the registry writes the
# rules, as functions for the tracer and as templates for the code generator.

RUNTIME_FAMILY = "s2sgrad.runtime"
_RULE_NAMES = ("xp", "g", "t", "ans")     # what a rule's first three parameters are called


def _linear_params(prim, linear):
    if linear is True:
        return tuple(sorted(set(prim.vjp) | set(prim.jvp)))
    if not linear:
        return ()
    unknown = [p for p in linear if p not in prim.params]
    if unknown:
        raise TypeError(f"{prim.qualname}: linear in unknown parameters {unknown}")
    return tuple(linear)


def _params_text(sig, defaults):
    """A signature's parameters as source text; defaults are read from ``_defaults``."""
    out, star = [], False
    for name, p in sig.parameters.items():
        if name in _RULE_NAMES or p.kind is p.VAR_KEYWORD:
            raise TypeError(f"a rule cannot take a parameter {name!r} of the primitive")
        if p.kind is p.VAR_POSITIONAL:
            out.append("*" + name)
            star = True
            continue
        if p.kind is p.KEYWORD_ONLY and not star:
            out.append("*")
            star = True
        if p.default is p.empty:
            out.append(name)
        else:
            defaults[name] = p.default
            out.append(f"{name}=_defaults[{name!r}]")
    return ", ".join(out)


def _arguments_text(sig, replace):
    """The arguments passing ``sig``'s parameters on, with ``replace``: {param: text}."""
    out = []
    for name, p in sig.parameters.items():
        arg = replace.get(name, name)
        if p.kind is p.VAR_POSITIONAL:
            out.append("*" + arg)
        elif p.kind is p.KEYWORD_ONLY:
            out.append(f"{name}={arg}")
        else:
            out.append(arg)
    return ", ".join(out)


_UNSET = object()


def _written_rule(prim, kind, param, seed, expr, globals_):
    """The rule ``<kind>_<param>(xp, <seed>, ans, <primal parameters>): return <expr>``.

    ``expr`` is the text of the expression, or a function that returns it.  The text of
    the rule is written when first asked for (``Rule.source``: to parse its template or to
    compile it), from the primitive's signature then: registering a rule module writes
    none (a program uses few of the rules a module registers)."""
    defaults = {}
    fname = f"{kind}_{param}"
    filename = f"<{kind} rule of {prim.qualname} for {param}>"

    def text():
        body = expr() if callable(expr) else expr
        return (f"def {fname}(xp, {seed}, ans, {_params_text(prim.signature, defaults)}):\n"
                f"    return {body}\n")

    def make():               # compiled on first use, as its template is parsed on first use
        src = rule.source     # (fills ``defaults``)
        namespace = dict(globals_, _defaults=defaults)
        exec(compile(src, filename, "exec"), namespace)
        return namespace[fname]
    rule = Rule(None, kind, param, source=text, make=make)
    return rule


def _applied_rule(prim, param, globals_, varargs=_UNSET):
    """The forward rule of ``prim`` where it is linear in ``param``: itself applied to ``t``.
    ``varargs``: the name of the primitive's ``*args`` parameter (None: it has none), when
    the caller knows it without making the signature."""
    if varargs is _UNSET:
        p = prim.signature.parameters[param]
        star = p.kind is p.VAR_POSITIONAL
    else:
        star = param == varargs
    if star:
        raise TypeError(f"{prim.qualname}: write the forward rule for *{param} (linear "
                        f"primitives get one written only for their named parameters)")
    if prim.family == "array":
        head = f"xp.{prim.name}"
    elif prim.family == RUNTIME_FAMILY:
        head = prim.name
        globals_ = dict(globals_, **{head: getattr(_runtime, head)})
    else:
        raise TypeError(f"{prim.qualname}: write the forward rule for {param} (the registry "
                        f"writes those of array functions and runtime helpers)")
    return _written_rule(prim, "jvp", param, "t",
                         lambda: f"{head}({_arguments_text(prim.signature, {param: 't'})})",
                         globals_)


def _declared(declaration, globals_):
    """``"name(params)"`` -> (name, signature), the defaults evaluated in ``globals_``."""
    name, _, rest = declaration.partition("(")
    return name.strip(), _declared_signature(name.strip(), rest, globals_)


def _declared_signature(name, rest, globals_):
    namespace = {}
    exec(f"def {name}({rest}:\n    pass\n", dict(globals_), namespace)
    return inspect.signature(namespace[name])


def _declared_params(declaration):
    """``(name, [(parameter, kind)])`` read off the text ``"name(params)"`` without
    compiling it (kind: "", "*" for ``*args``, "kw" after a bare ``*`` or ``*args``,
    "**"), or None where the text is not that plain (a default holding a string or a
    bracket left open): ``_declared`` then reads it."""
    name, _, rest = declaration.partition("(")
    end = rest.rfind(")")
    if end < 0 or rest[end + 1:].strip() or any(q in rest for q in "'\"#"):
        return None
    parts, depth, start, text = [], 0, 0, rest[:end]
    for k, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:k])
            start = k + 1
    if depth:
        return None
    parts.append(text[start:])
    params, keyword = [], False
    for part in parts:
        head = part.split("=", 1)[0].strip()
        if not head:
            continue
        if head.startswith("**"):
            params.append((head[2:].strip(), "**"))
        elif head.startswith("*"):
            if head[1:].strip():
                params.append((head[1:].strip(), "*"))
            keyword = True
        else:
            params.append((head, "kw" if keyword else ""))
    if not all(p.isidentifier() for p, _ in params) or not name.strip().isidentifier():
        return None
    return name.strip(), params


def _check_rule_params(params):
    """``_params_text``'s refusals, on ``_declared_params``' list."""
    for name, kind in params:
        if name in _RULE_NAMES or kind == "**":
            raise TypeError(f"a rule cannot take a parameter {name!r} of the primitive")


_RUNTIME_NAMES = []       # {name: helper} of every runtime helper, made once


def _runtime_names():
    if not _RUNTIME_NAMES:
        _RUNTIME_NAMES.append({k: getattr(_runtime, k) for k in _runtime.__all__})
    return _RUNTIME_NAMES[0]


def _transpose(declaration, transposed, family, view, globals_, batch=None):
    if family == RUNTIME_FAMILY:     # the expressions may name any runtime helper
        globals_ = dict(_runtime_names(), **globals_)
    plain = _declared_params(declaration)
    if plain is None:
        name, sig = _declared(declaration, globals_)
        params = [(n, "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD
                   else "") for n, p in sig.parameters.items()]
    else:
        # the signature made on first use (compiling the declaration, ``inspect``)
        name, params = plain
        _, _, rest = declaration.partition("(")
        sig = _Deferred(functools.partial(_declared_signature, name, rest, globals_))
    if (family, name) in _PRIMITIVES:
        raise TypeError(f"{family}.{name} is declared twice")
    _check_rule_params(params)
    first, first_kind = params[0]
    prim = Primitive(name, family, sig, view=view, linear=(first,))
    prim.vjp[first] = _written_rule(prim, "vjp", first, "g", transposed, globals_)
    prim.jvp[first] = _applied_rule(prim, first, globals_,
                                    varargs=first if first_kind == "*" else None)
    if batch is not None:
        prim.batch[first] = _written_rule(prim, "batch", first, "t", batch, globals_)
    _register(prim)
    return prim


def transpose(declaration, transposed, *, family=RUNTIME_FAMILY, view=False, batch=None):
    """Declare a helper linear in its first parameter by its transpose, in one line::

        transpose("unbroadcast(value, like)", "broadcast_like(g, value)")

    reads: ``unbroadcast(value, like)`` is linear in ``value`` and its transpose maps
    a cotangent ``g`` to ``broadcast_like(g, value)``.  That gives both rules: the
    reverse rule is the transposed expression, the forward rule the helper applied to
    the tangent, ``unbroadcast(t, like)``.  The expression may use the parameters,
    ``g``, ``xp``, ``ans``, the names of the declaring module and (for a runtime
    helper) every runtime helper, as a rule does.
    ``batch``, an expression of a batch of tangents ``t``, is the batch rule.
    """
    return _transpose(declaration, transposed, family, view, sys._getframe(1).f_globals, batch)


def transpose_pair(first, second, *, family=RUNTIME_FAMILY, views=(False, False)):
    """Declare two linear helpers each the other's transpose, in one line::

        transpose_pair("from_triangle(x, lower=True)", "to_triangle(x, lower=True)")

    Each is linear in its first parameter; the reverse rule of each is the other applied
    to the cotangent, given the arguments of the same names (``to_triangle(g, lower)``),
    and the forward rule of each is itself applied to the tangent.
    """
    globals_ = sys._getframe(1).f_globals
    plain = [_declared_params(first), _declared_params(second)]
    if None in plain:
        plain = [(n, [(p, "") for p in sig.parameters])
                 for n, sig in (_declared(first, globals_), _declared(second, globals_))]
    (a, params_a), (b, params_b) = plain
    for (name, params), (other, other_params), declaration, view in (
            ((a, params_a), (b, params_b), first, views[0]),
            ((b, params_b), (a, params_a), second, views[1])):
        names = [p for p, _ in params]
        missing = [p for p, _ in other_params[1:] if p not in names]
        if missing:
            raise TypeError(f"{name} has no parameters {missing} to pass to its transpose "
                            f"{other}; declare it with transpose(...)")
        _transpose(declaration, _transposed_call(family, other, other_params[0][0]),
                   family, view, globals_)


def _transposed_call(family, other, lead):
    """The text ``other(g, <its other parameters>)`` of ``transpose_pair``, written with
    the rule's (on first use): from the signature of the primitive ``other`` declared."""
    return lambda: f"{other}({_arguments_text(_PRIMITIVES[(family, other)].signature, {lead: 'g'})})"


def nondiff(*names, family="array", methods=()):
    """Declare functions whose outputs carry no derivative (``floor``, ``argmax``, ``len`` ...)."""
    for name in names:
        prim = _register(Primitive(name, family, None, nondiff=True))
        if family == "op":
            _OPERATORS[name] = prim
    for m in methods:
        _METHODS[m] = (Primitive(m, "method", None, nondiff=True), False)


def set_shape_params(family, table):
    """Declare ``{primitive name: parameters}`` whose derivative is zero (shape-only arguments)."""
    for pname, params in table.items():
        _PRIMITIVES[(family, pname)].shape_params = frozenset(params)


def set_callable_params(family, table):
    """Declare ``{primitive name: parameters}`` that take a function the primitive calls (quad's
    ``func``): no rule differentiates through the function itself, so the code generator
    refuses one that reads values carrying derivatives (``analysis.activity``)."""
    for pname, params in table.items():
        _PRIMITIVES[(family, pname)].callable_params = tuple(params)


def set_keyword_aliases(family, table):
    """Declare ``{primitive name: {keyword: rule parameter}}`` for keywords a rule cannot use."""
    for pname, aliases in table.items():
        _PRIMITIVES[(family, pname)].aliases = dict(aliases)


def call_bound(fn, prim, bound, *leading, **extra):
    """Call ``fn(*leading, <bound primal arguments>, **extra)``, positional where possible."""
    args, kwargs, gap = list(leading), dict(extra), False
    for name, p in prim.signature.parameters.items():
        if name not in bound:
            gap = True
            continue
        if p.kind is p.VAR_POSITIONAL:
            args.extend(bound[name])
        elif p.kind is p.KEYWORD_ONLY or gap:
            kwargs[name] = bound[name]
        else:
            args.append(bound[name])
    return fn(*args, **kwargs)


def apply_rule(prim, rule, xp, seed, ans, bound, argnum=None):
    """Call ``rule`` (a vjp or jvp of ``prim``) on runtime values bound to its primal parameters.

    ``bound`` is what ``prim.bind`` returned; ``argnum`` picks the element of a
    ``*args`` parameter the rule is for.
    """
    extra = {"argnum": argnum} if argnum is not None else {}
    return call_bound(rule.fn, prim, bound, xp, seed, ans, **extra)


class _Unknown:
    """An argument whose value the code generator cannot know (a variable, an expression)."""

    def __repr__(self):
        return "<unknown>"


UNKNOWN = _Unknown()

OUT_ADVICE = ("s2sgrad differentiates the value a function returns, not what it writes into an "
              "existing array; assign the result instead (y = f(...))")


def unsupported_arguments(prim, args):
    """``(what, why)`` when the rules of ``prim`` do not cover a call with ``args``, else ``None``.

    ``args`` maps the primitive's parameters to the call's arguments (as
    ``prim.bind`` gives them), with ``UNKNOWN`` for a value the code generator
    cannot tell.  No rule covers writing into ``out=``; a primitive's own
    ``check`` names the other arguments (a mode, a keyword) its rules do not.
    """
    if args.get("out") is not None and "out" in prim.params and prim.family != "s2sgrad.runtime":
        return "out=", OUT_ADVICE       # (a runtime helper's ``out`` is a result, not a buffer)
    if prim.check is not None:
        return prim.check(args)
    return None


def varargs_param(prim):
    """The name of ``prim``'s ``*args`` parameter, or ``None``."""
    for name, p in prim.signature.parameters.items():
        if p.kind is p.VAR_POSITIONAL:
            return name
    return None


def by_name(name, family="array"):
    """The primitive called ``name`` in ``family``, or ``None``."""
    key = (family, name)
    module = (_INDEX[0] or _index())[0].get(key)
    if module is not None and module not in _MODULES_LOADED:
        _load_module(module, gated=True)
    return _PRIMITIVES.get(key)


def listed(name, family="array"):
    """Whether ``by_name(name, family)`` finds a primitive, without importing the rule module
    that registers it (the index lists it there)."""
    key = (family, name)
    if key in _PRIMITIVES:
        return True
    module = (_INDEX[0] or _index())[0].get(key)
    if module is None or module in _MODULES_LOADED:
        return False
    from . import _LAZY
    return _LAZY.get(module) is None or _LAZY[module] in sys.modules   # (``_load_module``'s gate)


def all_primitives():
    """Every primitive of the library (of each SciPy module the program imported) and those
    registered since, whatever has been loaded so far."""
    _load_rules()
    return sorted(_PRIMITIVES.values(), key=lambda p: (p.family, p.name))


def operator_primitive(op):
    """The primitive behind a Python operator: 'add', 'mult', 'usub', 'getitem', ..."""
    module = (_INDEX[0] or _index())[2].get(op)
    if module is not None and module not in _MODULES_LOADED:
        _load_module(module, gated=True)
    return _OPERATORS.get(op)


def method_primitive(name):
    """``(primitive, packs_varargs)`` for an array method or attribute name, or ``None``."""
    module = (_INDEX[0] or _index())[1].get(name)
    if module is not None and module not in _MODULES_LOADED:
        _load_module(module, gated=True)
    return _METHODS.get(name)


def _resolve_path(module, path):
    """``module.<path>``, or ``None``.  A submodule not imported yet (``numpy.fft``, which
    NumPy imports on first access) is not imported for it: nothing of it can reach a
    lookup before the program touches it, and the import that touching makes rebuilds the
    table (``_watch`` watches those submodules)."""
    obj = module
    for part in path.split("."):
        if "." in path and isinstance(obj, types.ModuleType) and part not in vars(obj) \
                and _unimported_submodule(f"{obj.__name__}.{part}"):
            return None
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


_SUBMODULES = {}        # dotted name -> whether a module of that name exists


def _unimported_submodule(dotted):
    if dotted in sys.modules:
        return False
    found = _SUBMODULES.get(dotted)
    if found is None:
        import importlib.util
        try:
            found = importlib.util.find_spec(dotted) is not None
        except (ImportError, ValueError):
            found = False
        _SUBMODULES[dotted] = found
    return found


def _family_namespaces(family):
    """The (module, is_array_namespace) pairs where functions of ``family`` live."""
    if family == "array":
        return [sys.modules[m] for m in ARRAY_NAMESPACES if m in sys.modules]
    modname = _FAMILY_MODULES.get(family, family)
    mod = sys.modules.get(modname)
    return [mod] if mod is not None else []


def _build_lookup():
    """``{identity: (obj, (family, name), namespace)}`` for every primitive of the index (its
    rule module not necessarily loaded yet) and every one registered, in the order loading
    every rule module registers them."""
    table = {}
    keys = dict.fromkeys(_index()[0])
    keys.update(dict.fromkeys(_PRIMITIVES))
    for family, name in keys:
        if family in ("op", "method"):
            continue
        for ns in _family_namespaces(family):
            obj = _resolve_path(ns, name)
            if obj is None or isinstance(obj, types.ModuleType) or isinstance(obj, type) \
                    and family != "builtins" and not _is_scalar_type(obj):
                continue
            key = _identity(obj)
            if key in table and family == "array" and table[key][2] is not ns:
                continue  # e.g. numpy re-exported inside another namespace: keep the first
            table[key] = (obj, (family, name), ns if family == "array" else None)
    return table


def _is_scalar_type(obj):
    """NumPy's scalar types (``np.float64``): called like functions, and some have rules."""
    generic = getattr(sys.modules.get("numpy"), "generic", None)
    return generic is not None and issubclass(obj, generic)


def register_object(obj, prim, namespace=None):
    """Make the object ``obj`` itself a primitive, found by identity (not by module and name).

    This is how user-declared derivatives (``s2sgrad.custom_vjp``), ``stop_gradient`` and
    non-differentiable user functions reach the code generator and the tracer.  Such
    primitives are kept apart from the library's: ``by_name`` and ``all_primitives``
    never list them.  ``namespace`` is what rules receive as ``xp``.
    """
    _OBJECTS[id(obj)] = (obj, prim, namespace)


def unregister_object(obj):
    hit = _OBJECTS.get(id(obj))
    if hit is not None and hit[0] is obj:
        del _OBJECTS[id(obj)]


def lookup(obj, load=True):
    """``(primitive, array namespace or None)`` for a Python callable, or ``None``.

    With ``load=False``, no rule module is imported: ``None`` also when the module that
    registers the primitive of ``obj`` is not loaded yet (a question about a primitive
    the program already has, such as whether a callee is ``np.sum``, needs no other)."""
    if _OBJECTS:
        hit = _OBJECTS.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1], hit[2]
    hit = _table_entry(obj)
    if hit is not None:
        if load:
            _load_module(_index()[0].get(hit[1]))    # its rules: loaded on the first lookup
        prim = _PRIMITIVES.get(hit[1])
        return (prim, hit[2]) if prim is not None else None
    return None


def lookup_name(obj):
    """``(family, name)`` of the primitive ``lookup(obj)`` finds (None: none), read off the
    index without importing the rule module that registers it: what a pass needs to
    classify a call whose rules it does not use (``transform/cse.py``)."""
    if _OBJECTS:
        hit = _OBJECTS.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1].family, hit[1].name
    hit = _table_entry(obj)
    if hit is None:
        return None
    module = _index()[0].get(hit[1])
    if hit[1] not in _PRIMITIVES and (module is None or module in _MODULES_LOADED):
        return None     # (as ``lookup``: loading the module did not register it)
    return hit[1]


def _table_entry(obj):
    """``(obj, (family, name), namespace)`` of the lookup table for ``obj``, or None; the
    table is made again when a module a family watches was imported since."""
    if _INDEX[0] is None:
        _index()
    modules = sys.modules
    key = tuple(m for m in _WATCHED if m in modules)   # one entry per family, not primitive
    table = _lookup_table[0]
    if _cache_key[0] != key or table is None:
        with _LOCK:             # another thread reads the old table until the new one is whole
            table = _build_lookup()
            _lookup_cache.clear()
            _lookup_cache.update(table)
            _lookup_table[0] = table
            _cache_key[0] = key
    hit = table.get(_identity(obj))
    if hit is not None and (hit[0] is obj or isinstance(obj, types.MethodType)
                            and hit[0].__self__ is obj.__self__):
        return hit
    return None


def _identity(obj):
    """The lookup key of a callable: its id, or for a bound method (a new object on each
    attribute access, as ``scipy.stats.norm.logpdf``) its instance's id and its function."""
    if isinstance(obj, types.MethodType):
        return ("method", id(obj.__self__), obj.__func__)
    return id(obj)


_LOCK = threading.RLock()


def _load_rules():
    """Load every rule module whose library is in use (``rules.load_all``).  Thread-safe: a
    thread that comes while another loads them waits until every rule is registered."""
    from . import load_all
    load_all()


# ---------------------------------------------------------------------------
# Loading the rule modules lazily
# ---------------------------------------------------------------------------
#
# Each rule module registers its primitives when it is imported.  ``_index.py`` (generated
# from the modules, a test keeps it fresh) tells which module registers each primitive,
# method and operator, so that a lookup imports the one module it needs: a gradient of a
# function calling ``np.sin`` and ``*`` loads the NumPy rules, not those of the FFT,
# linear algebra or SciPy.  ``all_primitives`` (the coverage table, the rule tests) loads
# them all.

_INDEX = [None]           # (primitives {(family, name): module}, methods, operators)
_MODULES_LOADED = set()   # rule modules whose import has finished


def _index():
    idx = _INDEX[0]
    if idx is None:
        with _LOCK:
            if _INDEX[0] is None:
                from . import _index as generated
                _INDEX[0] = (generated.PRIMITIVES, generated.METHODS, generated.OPERATORS)
                _watch()
        idx = _INDEX[0]
    return idx


def _watch():
    """The modules whose import changes what ``lookup`` finds: the array namespaces and the
    module of each family, indexed or registered."""
    families, submodules = _indexed_modules()
    watched = list(dict.fromkeys(ARRAY_NAMESPACES + tuple(_FAMILY_MODULES.values())
                                 + families + tuple(_FAMILIES) + submodules))
    if watched != _WATCHED:
        _WATCHED[:] = watched
        _cache_key[0] = None


_INDEXED = {}             # id of the index's table -> (its families, its array submodules)


def _indexed_modules():
    """``(families, submodules)`` the index names: read once (``_watch`` runs on each family
    a rule module registers first, and the index lists a thousand primitives)."""
    table = _INDEX[0][0] if _INDEX[0] else None
    if table is None:
        return (), ()
    hit = _INDEXED.get(id(table))
    if hit is None or hit[0] is not table:
        families = tuple(dict.fromkeys(f for f, _ in table))
        submodules = tuple(dict.fromkeys(f"{ns}.{name.split('.')[0]}" for ns in ARRAY_NAMESPACES
                                         for f, name in table if f == "array" and "." in name))
        hit = _INDEXED[id(table)] = (table, families, submodules)
    return hit[1], hit[2]


def _load_module(name, gated=False):
    """Import the rule module ``name`` (``None``: nothing to load), once.  With ``gated``, not
    a SciPy module's rules before the program imported that module (see ``rules._LAZY``).

    Thread-safe: a thread that comes while another imports the module waits until all its
    rules are registered (it never sees half a module's rules)."""
    if name is None or name in _MODULES_LOADED:
        return
    from . import _LAZY
    if gated and _LAZY.get(name) is not None and _LAZY[name] not in sys.modules:
        return
    with _LOCK:
        if name in _MODULES_LOADED:
            return
        importlib.import_module(f"{__package__}.{name}")
        _MODULES_LOADED.add(name)

