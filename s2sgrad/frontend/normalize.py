"""Lowering a user function to s2sgrad's small core language.

The core language is Python with fewer forms, so later passes have fewer cases:

- assignments have one target: a name, ``name[index]`` or ``name.attr``;
  augmented assignment, tuple unpacking and chained assignment are spelled out;
- calls to user functions (and calls known only at run time) stand alone on
  the right of an assignment, with plain names or constants as arguments;
- conditional expressions, comprehensions, generator expressions, lambdas and
  ``:=`` become statements and nested functions;
- ``for`` loops run over ``range(...)`` (a loop over a sequence becomes a loop
  over its indices); loop headers and ``while`` tests are re-evaluated exactly
  as Python would;
- ``break``, ``continue`` and ``return`` are gone except one final ``return``
  and, at the end of a loop body, ``if <flag>: break``.

Every statement keeps the line of the user's source it came from (``s2s_line``)
so generated code can cite it.  The pass never looks at values; it needs only
the names the function assigns, to tell local functions from global ones.
"""

import functools
import re

import gast
import numpy

import s2sgrad.naming as naming
from ..syntax import assign, call, const, name, store, subscript, walk_stmts  # noqa: F401
from ..syntax import copy_tree, parse as _parse, root_name as _root_name
from ..errors import UnsupportedError
from ..sites import defaults_of, literal_default
from .hoist import hoist
from .recursion import as_loop
from .resolve import ARRAY_WRITING_FUNCTIONS, ARRAY_WRITING_METHODS, Callee, Resolver
from ..syntax import walk as _walk

__all__ = ["Namer", "normalize", "Normalized", "assigned_names", "name", "assign"]


# ---------------------------------------------------------------------------
# Small AST helpers (the constructors are ``s2sgrad.syntax``'s, re-exported here)
# ---------------------------------------------------------------------------

def set_line(stmts, line):
    for s in stmts:
        if getattr(s, "s2s_line", None) is None:
            s.s2s_line = line
        for child in _child_blocks(s):
            set_line(child, line)
    return stmts


def _child_blocks(s):
    if isinstance(s, (gast.If, gast.For, gast.While)):
        return [s.body, s.orelse]
    return []


def assigned_names(node):
    """Names bound anywhere in ``node`` (targets, loop variables, parameters, defs)."""
    out = set()
    for n in _walk(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param, gast.Del)):
            out.add(n.id)
        elif isinstance(n, gast.FunctionDef) and n is not node:
            out.add(n.name)
    return out


def all_names(node):
    return {n.id for n in _walk(node) if isinstance(n, gast.Name)}


def _names_and_inner_functions(node):
    """``all_names(node)``, and whether a function or lambda is defined inside ``node``
    (in one walk)."""
    names, inner = set(), False
    for n in _walk(node):
        if isinstance(n, gast.Name):
            names.add(n.id)
        elif isinstance(n, (gast.FunctionDef, gast.Lambda)) and n is not node:
            inner = True
    return names, inner


class Namer:
    """Fresh, deterministic names that clash with nothing the user wrote."""

    def __init__(self, used=()):
        self.used = set(used)

    def fresh(self, base):
        base = base.strip("_") or "t"
        if base not in self.used:
            self.used.add(base)
            return base
        k = 1
        while f"{base}_{k}" in self.used:
            k += 1
        self.used.add(f"{base}_{k}")
        return f"{base}_{k}"

    def reserve(self, *names):
        self.used.update(names)


class Normalized:
    """The result of normalizing one function."""

    def __init__(self, fsrc, node, namer, nested, resolver, return_name):
        self.fsrc = fsrc
        self.node = node                # the lowered FunctionDef
        self.namer = namer
        self.nested = nested            # name -> (FunctionDef, free variable names)
        self.resolver = resolver
        self.return_name = return_name  # the variable the final ``return`` returns


def normalize(fsrc, extra_params=(), policy=None):
    """Lower ``fsrc.node`` to the core language; returns a ``Normalized``.

    ``policy`` answers the resolver's questions about callees that may not be
    transformable (``resolve.TransformEverything`` when none is given).
    """
    node = copy_tree(fsrc.node)
    if extra_params:
        node.args.args = list(node.args.args) + [
            gast.Name(id=p, ctx=gast.Param(), annotation=None, type_comment=None)
            for p in extra_params]
    _check_signature(fsrc, node)
    names, inner = _names_and_inner_functions(node)
    namer = Namer(names | set(fsrc.globals) | set(fsrc.closure))
    _bind_defaults(fsrc, node, namer)      # (puts constants and names in, never a function)
    if inner:       # (what the checks of local functions look at; most functions have none)
        _check_late_binding(fsrc, node)
    locals_ = assigned_names(node)
    nested = {k: v for k, v in fsrc.siblings.items() if k not in locals_ or k == node.name}
    if inner:
        nested.update(_collect_nested(fsrc, node, locals_))
        _check_nested_defaults(fsrc, node, locals_)
    resolver = Resolver(fsrc, locals_ - set(nested), {k: v[0] for k, v in nested.items()}, policy)
    body = node.body
    if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
            and isinstance(body[0].value.value, str):
        node.s2s_doc = body[0].value.value
        body = body[1:]
    params = [a.id for a in node.args.args]
    if not (node.args.vararg or node.args.kwarg or node.args.kwonlyargs or extra_params):
        body = as_loop(fsrc, body, params, resolver, namer, _runtime_call) or body
    lowering = _Lowering(fsrc, namer, resolver, nested)
    body = lowering.block(body)
    body, return_name = _Jumps(fsrc, namer).function(body, node)
    body = hoist(body, namer, resolver, [a.id for a in node.args.args])
    node.body = body or [gast.Pass()]
    return Normalized(fsrc, node, namer, nested, resolver, return_name)


def _check_signature(fsrc, node):
    args = node.args
    if args.posonlyargs:
        # Positional-only parameters are positional parameters like the others (``wrt``
        # counts them); generated functions take them as ordinary ones.
        args.args = list(args.posonlyargs) + list(args.args)
        args.posonlyargs = []
    if args.vararg is not None or args.kwarg is not None:
        raise UnsupportedError(fsrc.where(node), f"the variable parameter list of {node.name}",
                               "give it named parameters (a list or dict can be one parameter)")


def _bind_defaults(fsrc, node, namer):
    """The defaults of a live function are the values its ``def`` bound (or that were
    assigned to ``__defaults__`` / ``__kwdefaults__`` since), not its default expressions
    evaluated again: each default becomes that value, a literal where it has one, else a
    name the generated module binds to the object (``FunctionSource.resolve``)."""
    fn = fsrc.fn
    if fn is None:
        return
    defaults = dict(defaults_of(fn))
    args = node.args

    written = dict(zip([a.id for a in args.args][len(args.args) - len(args.defaults):],
                       args.defaults))
    written.update((a.id, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None)

    def value_node(pname):
        value = defaults[pname]
        if pname in written and _names_object(fsrc, written[pname], value):
            return written[pname]           # p=WAVELENGTH, and WAVELENGTH is still that value
        if literal_default(value):
            return gast.Constant(value=value, kind=None)
        nm = namer.fresh(f"{pname}_default")
        fsrc.default_values[nm] = value
        return gast.Name(id=nm, ctx=gast.Load(), annotation=None, type_comment=None)

    positional = [a.id for a in args.args]
    with_default = [p for p in positional if p in defaults]
    # Defaults are a tail of the positional parameters (lifted parameters have none).
    tail = positional[len(positional) - len(with_default):] if with_default else []
    if tail != with_default:
        return
    args.defaults = [value_node(p) for p in with_default]
    args.kw_defaults = [value_node(a.id) if a.id in defaults else None for a in args.kwonlyargs]


def _names_object(fsrc, node, value):
    """Whether expression ``node`` (a name or a dotted name) refers to ``value`` itself now."""
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, gast.Name):
        return False
    kind, obj = fsrc.resolve(node.id)
    if kind not in ("global", "closure"):
        return False
    for attr in reversed(parts):
        if not isinstance(obj, type(gast)):     # only through modules: no property runs
            return False
        obj = getattr(obj, attr, _NO_VALUE)
    return obj is value


_NO_VALUE = object()
_LOOPS = (gast.For, gast.While, gast.ListComp, gast.SetComp, gast.DictComp, gast.GeneratorExp)


def _check_late_binding(fsrc, node):
    """Refuse a local function kept as a value whose free variable changes after it is made.

    Python reads a closure's free variables when the function is *called* (late
    binding: ``[lambda v: v * i for i in range(3)]`` all multiply by 2); the
    generated code binds a local function kept as a value to the values they have
    where it is made.  The two agree unless a free variable is assigned again
    afterwards: in a loop around the definition (a comprehension's variable
    too), or after it.  Such a function is refused here, so it is
    traced (which runs Python's own closures) or reported.  A local function only
    ever called by name gets its free variables at each call, as Python does.
    """
    if not any(n is not node and isinstance(n, (gast.FunctionDef, gast.Lambda))
               for n in _walk(node)):
        return          # no local function: nothing to check (the common case, one walk)
    parents = {}
    for parent in _walk(node):
        for child in gast.iter_child_nodes(parent):
            parents[child] = parent
    stores = {}
    for n in _walk(node):
        if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Param)):
            stores.setdefault(n.id, []).append(n)
        elif isinstance(n, gast.FunctionDef) and n is not node:
            stores.setdefault(n.name, []).append(n)
    called = {id(n.func) for n in _walk(node) if isinstance(n, gast.Call)}

    def used_as_value(fname):
        return any(isinstance(n, gast.Name) and n.id == fname and isinstance(n.ctx, gast.Load)
                   and id(n) not in called for n in _walk(node))

    def enclosing_loops(n):
        out = []
        while n in parents and parents[n] is not node:
            n = parents[n]
            if isinstance(n, _LOOPS):
                out.append(n)
        return out

    for fn_node in _walk(node):
        if fn_node is node or not isinstance(fn_node, (gast.FunctionDef, gast.Lambda)):
            continue
        if isinstance(fn_node, gast.Lambda):
            parent = parents.get(fn_node)
            if isinstance(parent, gast.Call) and parent.func is fn_node:
                continue                    # (lambda v: ...)(x): called where it is made
            if isinstance(parent, gast.Assign) and len(parent.targets) == 1 \
                    and isinstance(parent.targets[0], gast.Name) \
                    and not used_as_value(parent.targets[0].id):
                continue                    # h = lambda v: ...; only ever called as h(...)
        elif not used_as_value(fn_node.name):
            continue
        own = assigned_names(fn_node)
        if isinstance(fn_node, gast.Lambda):
            own |= {a.id for a in fn_node.args.args + fn_node.args.kwonlyargs}
        reads = {n.id for n in _walk(fn_node)
                 if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)} - own
        in_loops = {id(m) for loop in enclosing_loops(fn_node) for m in _walk(loop)}
        end = (getattr(fn_node, "end_lineno", None) or 0, getattr(fn_node, "end_col_offset", 0))
        for v in sorted(reads & set(stores)):
            # assigned again where the function is made again (a loop around it), or after it
            later = any(id(n) in in_loops or (getattr(n, "lineno", 0) or 0,
                                              getattr(n, "col_offset", 0) or 0) > end
                        for n in stores[v])
            if not later:
                continue
            what = "lambda" if isinstance(fn_node, gast.Lambda) else f"function {fn_node.name}"
            raise UnsupportedError(
                fsrc.where(fn_node),
                f"a local {what} kept as a value that reads {v!r}, which is assigned again "
                f"after the {what} is made (Python reads {v!r} when the function is called, "
                f"late binding, so every such function sees its last value)",
                f"pass {v} as an argument of the function, or define the function at "
                f"module level")


# ---------------------------------------------------------------------------
# Nested functions: lifted to the module, their free variables made parameters
# ---------------------------------------------------------------------------

def _check_nested_defaults(fsrc, node, locals_):
    """A nested def whose default values read variables of the enclosing function
    (``def fun(y, num=num)`` in a loop): the values are taken when the def runs, which a
    lifted function cannot reproduce; refused (the function is traced), never a NameError
    in generated code or a default taken at the wrong time."""
    for stmt in _walk(node):
        if stmt is node or not isinstance(stmt, (gast.FunctionDef, gast.Lambda)):
            continue
        for d in list(stmt.args.defaults) + [d for d in stmt.args.kw_defaults if d is not None]:
            reads = sorted({n.id for n in _walk(d) if isinstance(n, gast.Name)} & locals_)
            if reads:
                name_ = getattr(stmt, "name", "lambda")
                raise UnsupportedError(
                    fsrc.where(stmt), f"a default value of the nested function {name_} that "
                    f"reads {', '.join(reads)} of the enclosing function",
                    f"pass {', '.join(reads)} as an argument when calling {name_}")


def _collect_nested(fsrc, node, locals_):
    """Find defs (and named lambdas) inside ``node``: name -> (FunctionDef, free locals)."""
    found = {}
    for stmt in _walk(node):
        if stmt is node or not isinstance(stmt, gast.FunctionDef):
            continue
        inner_locals = assigned_names(stmt)
        reads = {n.id for n in _walk(stmt)
                 if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
        free = sorted((reads - inner_locals) & (locals_ - {stmt.name}))
        found[stmt.name] = (stmt, free)
    # Another nested function is not a variable to pass: it is lifted too, and a nested
    # function that calls it (or names it) needs its free variables instead.
    for fname, (fdef, free) in list(found.items()):
        found[fname] = (fdef, [v for v in free if v not in found])
    changed = True
    while changed:
        changed = False
        for fname, (fdef, free) in found.items():
            calls = {n.id for n in _walk(fdef)
                     if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load)}
            extra = set()
            for c in calls & set(found):
                extra.update(v for v in found[c][1] if v != fname)
            new = sorted(set(free) | (extra - {fname}))
            if new != free:
                found[fname] = (fdef, new)
                changed = True
    return found


# ---------------------------------------------------------------------------
# Pass 1: desugaring statements and expressions, normalizing loops
# ---------------------------------------------------------------------------

_UNSUPPORTED_STMTS = {
    gast.With: ("a with statement", "move it out of the differentiated function"),
    gast.AsyncWith: ("an async with statement", ""),
    gast.Try: ("a try statement", "move the error handling out of the differentiated function"),
    gast.Global: ("a global statement", "pass the value as an argument and return the new one"),
    gast.Nonlocal: ("a nonlocal statement", "return the new value instead of assigning it"),
    gast.ClassDef: ("a class definition inside the function", "define the class at module level"),
    gast.AsyncFunctionDef: ("an async function", ""),
    gast.AsyncFor: ("an async for loop", ""),
    gast.Import: ("an import inside the function", "import at module level"),
    gast.ImportFrom: ("an import inside the function", "import at module level"),
}
if hasattr(gast, "Match"):
    _UNSUPPORTED_STMTS[gast.Match] = ("a match statement", "use if/elif")
if hasattr(gast, "TryStar"):
    _UNSUPPORTED_STMTS[gast.TryStar] = ("a try statement", "")

_BINOP_NAMES = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mult", gast.Div: "div",
                gast.Pow: "pow", gast.MatMult: "matmult", gast.Mod: "mod"}


class _Lowering:
    def __init__(self, fsrc, namer, resolver, nested):
        self.fsrc = fsrc
        self.namer = namer
        self.resolver = resolver
        self.nested = nested

    def error(self, node, construct, advice=""):
        return UnsupportedError(self.fsrc.where(node), construct, advice)

    # -- statements -------------------------------------------------------

    def block(self, stmts):
        out = []
        for s in stmts:
            lowered = self.stmt(s)
            set_line(lowered, getattr(s, "lineno", None))
            out.extend(lowered)
        return out

    def stmt(self, s):
        for kind, (what, advice) in _UNSUPPORTED_STMTS.items():
            if isinstance(s, kind):
                raise self.error(s, what, advice)
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            raise self.error(s, f"the statement {type(s).__name__}")
        return method(s)

    def stmt_Pass(self, s):
        return []

    def stmt_Break(self, s):
        return [s]

    def stmt_Continue(self, s):
        return [s]

    def stmt_FunctionDef(self, s):
        # Lifted to module level (see _collect_nested); nothing stays here.
        return []

    def stmt_Delete(self, s):
        for t in s.targets:
            if not isinstance(t, gast.Name):
                raise self.error(s, "del of an item or attribute",
                                 "build a new list or array instead")
        return []

    def stmt_Expr(self, s):
        out = []
        v = s.value
        if isinstance(v, gast.Constant):
            return []
        if isinstance(v, (gast.Yield, gast.YieldFrom, gast.Await)):
            raise self.error(s, "a generator (yield)", "return a list instead")
        value = self.expr(v, out, top=True)
        if isinstance(value, gast.Call):
            out.append(self._in_place_call(value) or gast.Expr(value=value))
        return out

    def _in_place_call(self, value):
        """A NumPy call that writes into an array becomes an assignment the transforms
        differentiate like any other: ``np.put_along_axis(a, i, v, axis)`` becomes
        ``a = _rt.put_along(a, i, v, axis)`` (a copy with the values put), likewise
        ``np.fill_diagonal``, ``np.add.at`` / ``np.subtract.at`` and the method ``a.sort()``;
        ``np.copyto(a, v)`` and ``a.fill(v)`` become ``a[...] = v``.  Other writes into
        an array are marked (``s2s_writes``): differentiating through one is refused.
        """
        func, args = value.func, value.args
        if isinstance(func, gast.Attribute) and isinstance(func.value, gast.Name) \
                and func.value.id in self.resolver.local_names:
            a = func.value.id     # a method of a local value: a list or an array
            if func.attr == "fill" and len(args) == 1 and not value.keywords:
                return assign(subscript(name(a), const(Ellipsis)), args[0])
            if func.attr == "sort":
                return _in_place(assign(a, _runtime_call("sort_in_place", [name(a)] + list(args),
                                                         value.keywords)))
            if func.attr in ARRAY_WRITING_METHODS:
                value.s2s_writes = a
            return None
        ok, fn = self.resolver.static_value(func)
        if not ok or not args:
            return None
        if not isinstance(args[0], gast.Name):
            # ``np.fill_diagonal(Y[1:, 1:], v)``: a write into the array the view is of
            if getattr(fn, "__name__", None) in ARRAY_WRITING_FUNCTIONS \
                    and _root_name(args[0]) is not None:
                value.s2s_writes = _root_name(args[0])
            return None
        a, fname = args[0].id, getattr(fn, "__name__", None)
        ufunc = getattr(fn, "__self__", None)
        if fname == "put_along_axis":
            return _in_place(assign(a, _runtime_call("put_along", args, value.keywords,
                                                     _module_of(fn))))
        if fname == "fill_diagonal":
            return _in_place(assign(a, _runtime_call("fill_diagonal", args, value.keywords)))
        if fname == "copyto" and len(args) == 2 and not value.keywords:
            lowered = assign(subscript(name(a), const(Ellipsis)), args[1])
            lowered.s2s_copyto = True    # (its cast is checked: ReverseBuilder._in_place_checks)
            return lowered
        if fname == "copyto" and len(args) == 2 and [k.arg for k in value.keywords] == ["where"] \
                and isinstance(func, gast.Attribute):
            # ``np.copyto(a, v, where=m)``: ``a[...] = np.where(m, v, a)``
            pick = call(gast.Attribute(value=copy_tree(func.value), attr="where",
                                       ctx=gast.Load()),
                        [value.keywords[0].value, args[1], name(a)])
            lowered = assign(subscript(name(a), const(Ellipsis)), pick)
            lowered.s2s_copyto = True    # (np.where's second argument is the value copied)
            return lowered
        if fname == "at" and getattr(ufunc, "__name__", None) in ("add", "subtract") \
                and len(args) == 3 and not value.keywords:
            added = args[2] if ufunc.__name__ == "add" else gast.UnaryOp(op=gast.USub(),
                                                                         operand=args[2])
            copied = _runtime_call("copy", [name(a)])
            return _in_place(assign(a, _runtime_call("add_at", [copied, args[1], added])))
        if fname in ARRAY_WRITING_FUNCTIONS:
            value.s2s_writes = a
        return None

    def stmt_Assert(self, s):
        out = []
        test = self.expr(s.test, out)
        out.append(gast.Assert(test=test, msg=s.msg))
        return out

    def stmt_Raise(self, s):
        return [s]

    def stmt_Return(self, s):
        out = []
        value = const(None) if s.value is None else self.expr(s.value, out, top=True)
        if isinstance(value, gast.Call) and getattr(value, "s2s_hoist", False):
            tmp = self.namer.fresh(_call_base(value))
            out.append(assign(tmp, value))
            value = name(tmp)
        r = gast.Return(value=value)
        out.append(r)
        return out

    def stmt_AnnAssign(self, s):
        if s.value is None:
            return []
        return self.stmt_Assign(gast.Assign(targets=[s.target], value=s.value, type_comment=None))

    def stmt_Assign(self, s):
        out = []
        targets = s.targets
        if len(targets) == 1 and isinstance(targets[0], gast.Name) and isinstance(s.value, gast.Lambda):
            return self._lambda_def(s.value, targets[0].id)
        if len(targets) == 1 and isinstance(targets[0], gast.Name) and isinstance(s.value, gast.IfExp):
            return self._ifexp_into(s.value, targets[0].id)
        if len(targets) == 1 and isinstance(targets[0], gast.Name) \
                and isinstance(s.value, (gast.ListComp, gast.DictComp)) \
                and targets[0].id not in all_names(s.value):
            return self._comprehension_into(s.value, targets[0].id)
        value = self.expr(s.value, out, top=True)
        if len(targets) > 1:
            first = targets[0]
            self.assign_to(first, value, out)
            src = first if isinstance(first, gast.Name) else None
            if src is None:
                raise self.error(s, "a chained assignment whose first target is not a name")
            for t in targets[1:]:
                self.assign_to(t, name(src.id), out)
            return out
        self.assign_to(targets[0], value, out)
        return out

    def assign_to(self, target, value, out):
        if isinstance(target, gast.Name):
            out.append(assign(store(target.id), value))
            return
        if isinstance(target, gast.Subscript):
            base = target.value
            if not isinstance(base, gast.Name):
                base = self.expr(base, out)
                if not isinstance(base, gast.Name):
                    tmp = self.namer.fresh("item")
                    out.append(assign(tmp, base))
                    base = name(tmp)
            index = _hoist_self_reads(self.expr(target.slice, out), base.id, out, self.namer)
            out.append(assign(gast.Subscript(value=base, slice=index, ctx=gast.Store()), value))
            return
        if isinstance(target, gast.Attribute):
            obj = self.expr(target.value, out)
            out.append(assign(gast.Attribute(value=obj, attr=target.attr, ctx=gast.Store()), value))
            return
        if isinstance(target, (gast.Tuple, gast.List)):
            if any(isinstance(e, gast.Starred) for e in target.elts):
                self._starred_unpacking(target, value, out)
                return
            names = assigned_names(target)
            if isinstance(value, (gast.Tuple, gast.List)) and len(value.elts) == len(target.elts) \
                    and not any(isinstance(e, gast.Starred) for e in value.elts):
                reads = {n.id for e in value.elts for n in _walk(e) if isinstance(n, gast.Name)}
                # an item or attribute written (``y[:2], y[2:] = y[2:], y[:2].copy()``): Python
                # evaluates every value before the first write, which may change what they read
                writes_into = any(isinstance(e, (gast.Subscript, gast.Attribute))
                                  for e in target.elts)
                if reads & names or writes_into:
                    temps = []
                    for elt_t, elt_v in zip(target.elts, value.elts):
                        tmp = self.namer.fresh(_target_base(elt_t) + "_new")
                        out.append(assign(tmp, elt_v))
                        temps.append(tmp)
                    for elt_t, tmp in zip(target.elts, temps):
                        self.assign_to(elt_t, name(tmp), out)
                else:
                    for elt_t, elt_v in zip(target.elts, value.elts):
                        self.assign_to(elt_t, elt_v, out)
                return
            if not isinstance(value, gast.Name) or value.id in names:
                base = "_".join(_target_base(e) for e in target.elts[:3])
                tmp = self.namer.fresh(base)
                out.append(assign(tmp, value))
                value = name(tmp)
            for k, elt in enumerate(target.elts):
                self.assign_to(elt, subscript(name(value.id), k), out)
            return
        raise self.error(target, f"assignment to {type(target).__name__}")

    def _starred_unpacking(self, target, value, out):
        """``a, *b, c = seq``: ``items = list(seq)``, ``a = items[0]``, ``b = items[1:-1]``
        (a list, as Python makes it), ``c = items[-1]``."""
        stars = [k for k, e in enumerate(target.elts) if isinstance(e, gast.Starred)]
        if len(stars) != 1:
            raise self.error(target, "more than one starred target in an assignment")
        k = stars[0]
        after = len(target.elts) - k - 1
        items = self.namer.fresh("items")
        out.append(assign(items, call(name("list"), [value])))
        for j, elt in enumerate(target.elts[:k]):
            self.assign_to(elt, subscript(name(items), j), out)
        upper = None if after == 0 else gast.UnaryOp(op=gast.USub(), operand=const(after))
        rest = gast.Subscript(value=name(items), slice=gast.Slice(lower=const(k), upper=upper,
                                                                  step=None), ctx=gast.Load())
        self.assign_to(target.elts[k].value, rest, out)
        for j, elt in enumerate(target.elts[k + 1:]):
            self.assign_to(elt, subscript(name(items), -(after - j)), out)

    def stmt_AugAssign(self, s):
        out = []
        value = self.expr(s.value, out)
        target = s.target
        if isinstance(target, gast.Name):
            new = assign(store(target.id), gast.BinOp(left=name(target.id), op=s.op, right=value))
            new.s2s_augmented = True   # in place for an array (a new value for a number)
            out.append(new)
            return out
        if isinstance(target, gast.Subscript):
            base = self.expr(target.value, out)
            if not isinstance(base, gast.Name):
                raise self.error(s, "augmented assignment to an item of an expression",
                                 "assign the expression to a name first")
            index = self._simple_index(self.expr(target.slice, out), out)
            read = gast.Subscript(value=name(base.id), slice=copy_tree(index), ctx=gast.Load())
            new = gast.BinOp(left=read, op=s.op, right=value)
            new = assign(gast.Subscript(value=name(base.id), slice=index, ctx=gast.Store()), new)
            new.s2s_item_augmented = True   # (an array item is changed in place: effects.py)
            out.append(new)
            return out
        if isinstance(target, gast.Attribute):
            obj = self.expr(target.value, out)
            read = gast.Attribute(value=copy_tree(obj), attr=target.attr, ctx=gast.Load())
            new = assign(gast.Attribute(value=obj, attr=target.attr, ctx=gast.Store()),
                         gast.BinOp(left=read, op=s.op, right=value))
            new.s2s_attribute_augmented = True   # in place for an array (effects.py)
            out.append(new)
            return out
        raise self.error(s, f"augmented assignment to {type(target).__name__}")

    def _simple_index(self, index, out):
        """``index`` read once, by names (the item is read and written): a computed index
        is named first; a slice keeps its colons, its bounds named (``y[i:i + 2] += v``
        reads ``y[i:index_upper]``: a slice is no value to name), item by item in a tuple."""
        if _is_simple_index(index):
            return index
        if isinstance(index, gast.Slice):
            return gast.Slice(**{k: self._simple_index(getattr(index, k), out)
                                 if getattr(index, k) is not None else None
                                 for k in ("lower", "upper", "step")})
        if isinstance(index, gast.Tuple):
            return gast.Tuple(elts=[self._simple_index(e, out) for e in index.elts],
                              ctx=gast.Load())
        tmp = self.namer.fresh("index")
        out.append(assign(tmp, index))
        return name(tmp)

    def stmt_If(self, s):
        out = []
        test = self.expr(s.test, out)
        out.append(gast.If(test=test, body=self.block(s.body), orelse=self.block(s.orelse)))
        return out

    def stmt_While(self, s):
        if s.orelse:
            raise self.error(s, "else on a while loop", "use a flag set before break")
        pre = []
        test = self.expr(s.test, pre)
        body = self.block(s.body)
        if pre:
            # The test needed statements of its own: evaluate them again before each test.
            again = []
            test_again = self.expr(copy_tree(s.test), again)
            cond = self.namer.fresh("running")
            pre.append(assign(cond, test))
            again.append(assign(cond, test_again))
            set_line(again, s.lineno)
            return pre + [gast.While(test=name(cond), body=body + again, orelse=[])]
        return [gast.While(test=test, body=body, orelse=[])]

    def stmt_For(self, s):
        if s.orelse:
            raise self.error(s, "else on a for loop", "use a flag set before break")
        out = []
        it = s.iter
        body = s.body
        loop_line = getattr(s, "lineno", None) or getattr(s, "s2s_line", None)
        kind = self._iter_kind(it)
        if kind == "range":
            args = [self.expr(a, out) for a in it.args]
            assigned = assigned_names(gast.Module(body=body, type_ignores=[]))
            for k, a in enumerate(args):
                if not _is_const(a) and (not isinstance(a, gast.Name) or a.id in assigned):
                    tmp = self.namer.fresh(("start", "stop", "step")[k if len(args) > 1 else 1])
                    out.append(assign(tmp, a))
                    args[k] = name(tmp)
            header = call("range", args)
            if isinstance(s.target, gast.Name):
                target, prologue = s.target.id, []
            else:
                target = self.namer.fresh("i")
                prologue = []
                self.assign_to(s.target, name(target), prologue)
            set_line(prologue, loop_line)
            out.append(self._for(target, header, prologue + self.block(body)))
            return out
        if kind in ("enumerate", "zip", "reversed"):
            args = [self._reversed_as_slice(a) for a in it.args[: (1 if kind != "zip" else None)]]
            seqs = [self._as_name(a, out, "seq") for a in args]
            out.extend(self._check_sequence(q, s) for q, a in zip(seqs, args)
                       if not self._a_sequence(a))
            target = s.target
            if kind == "enumerate" and len(it.args) == 1 and isinstance(target, gast.Tuple) \
                    and len(target.elts) == 2 and isinstance(target.elts[0], gast.Name):
                idx = target.elts[0].id
                prologue = []
                self.assign_to(target.elts[1], subscript(name(seqs[0]), name(idx)), prologue)
                set_line(prologue, loop_line)
                header = call("range", [call("len", [name(seqs[0])])])
                out.append(self._for(idx, header, prologue + self.block(body)))
                return out
            idx = self.namer.fresh("i")
            if kind == "zip":
                lens = [call("len", [name(q)]) for q in seqs]
                header = call("range", [call("min", lens) if len(lens) > 1 else lens[0]])
                items = gast.Tuple(elts=[subscript(name(q), name(idx)) for q in seqs], ctx=gast.Load())
            elif kind == "enumerate":
                header = call("range", [call("len", [name(seqs[0])])])
                start = self.expr(it.args[1], out) if len(it.args) > 1 else None
                counter = name(idx) if start is None else gast.BinOp(left=name(idx), op=gast.Add(),
                                                                     right=start)
                items = gast.Tuple(elts=[counter, subscript(name(seqs[0]), name(idx))], ctx=gast.Load())
            else:
                n = call("len", [name(seqs[0])])
                header = call("range", [gast.BinOp(left=n, op=gast.Sub(), right=const(1)),
                                        gast.UnaryOp(op=gast.USub(), operand=const(1)),
                                        gast.UnaryOp(op=gast.USub(), operand=const(1))])
                items = subscript(name(seqs[0]), name(idx))
            prologue = []
            self.assign_to(s.target, items, prologue)
            set_line(prologue, loop_line)
            out.append(self._for(idx, header, prologue + self.block(body)))
            return out
        if kind in ("items", "keys", "values"):
            mapping = self._as_name(it.func.value, out, "mapping")
            keys = self.namer.fresh("keys")
            keys_call = call(gast.Attribute(value=name(naming.RUNTIME), attr="keys", ctx=gast.Load()),
                             [name(mapping)])
            keys_call.s2s_callee = Callee("nondiff", "keys")
            out.append(assign(keys, keys_call))
            idx = self.namer.fresh("i")
            key = subscript(name(keys), name(idx))
            if kind == "items":
                item = gast.Tuple(elts=[key, subscript(name(mapping), copy_tree(key))],
                                  ctx=gast.Load())
            elif kind == "keys":
                item = key
            else:
                item = subscript(name(mapping), key)
            prologue = []
            self.assign_to(s.target, item, prologue)
            set_line(prologue, loop_line)
            header = call("range", [call("len", [name(keys)])])
            out.append(self._for(idx, header, prologue + self.block(body)))
            return out
        # A loop over a sequence: a loop over its indices.
        seq = self._as_name(it, out, "seq")
        if not self._a_sequence(it):
            out.append(self._check_sequence(seq, s))
        idx = self.namer.fresh("i")
        prologue = []
        self.assign_to(s.target, subscript(name(seq), name(idx)), prologue)
        set_line(prologue, loop_line)
        header = call("range", [call("len", [name(seq)])])
        out.append(self._for(idx, header, prologue + self.block(body)))
        return out

    def _reversed_as_slice(self, node):
        """``reversed(seq)`` given to ``enumerate`` or ``zip`` as ``seq[::-1]``: the loop takes
        items by position, which an iterator has not (a dict, which cannot be sliced, is then
        an error there, as its loop is)."""
        if isinstance(node, gast.Call) and len(node.args) == 1 and not node.keywords \
                and not isinstance(node.args[0], gast.Starred):
            ok, value = self.resolver.static_value(node.func)
            if ok and value is reversed:
                step = gast.UnaryOp(op=gast.USub(), operand=const(1))
                return gast.Subscript(value=node.args[0], slice=gast.Slice(
                    lower=None, upper=None, step=step), ctx=gast.Load())
        return node

    def _a_sequence(self, node):
        """Whether ``node`` is certainly a sequence whose items are its elements by position
        (a list or tuple written out or built, a slice of something: a dict cannot be
        sliced)."""
        if isinstance(node, (gast.List, gast.Tuple, gast.ListComp)):
            return True
        if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Slice):
            return True
        if isinstance(node, gast.Call) and not node.keywords:
            ok, value = self.resolver.static_value(node.func)
            return ok and value in (list, tuple, sorted)
        return False

    def _check_sequence(self, seq, loop):
        """``_rt.check_sequence(seq, ...)``: the loop ``loop`` takes ``seq``'s items by
        position, which a dict's or a set's loop does not (refused when the code runs;
        code specialized to a signature that proves a list, a tuple or an array drops it)."""
        line = getattr(loop, "lineno", None) or getattr(loop, "s2s_line", None)
        text = self.fsrc.line_text(line).split("#")[0].strip().rstrip(":") or "a for loop"
        check = call(gast.Attribute(value=name(naming.RUNTIME), attr="check_sequence",
                                    ctx=gast.Load()),
                     [name(seq), const(self.fsrc.where(loop)), const(text)])
        check.s2s_callee = Callee("nondiff", "check_sequence")
        stmt = gast.Expr(value=check)
        set_line([stmt], line)
        return stmt

    def _for(self, target, header, body):
        return gast.For(target=store(target), iter=header, body=body or [gast.Pass()],
                        orelse=[], type_comment=None)

    def _iter_kind(self, it):
        if isinstance(it, gast.Call):
            if isinstance(it.func, gast.Attribute) and it.func.attr in ("items", "keys", "values") \
                    and not it.args:
                return it.func.attr
            ok, value = self.resolver.static_value(it.func)
            if ok and value is range and not it.keywords:
                return "range"
            if ok and value in (enumerate, zip, reversed) and not it.keywords:
                return value.__name__
        return "sequence"

    def _as_name(self, node, out, base):
        value = self.expr(node, out)
        if isinstance(value, gast.Name):
            return value.id
        tmp = self.namer.fresh(base)
        out.append(assign(tmp, value))
        return tmp

    # -- expressions --------------------------------------------------------

    def expr(self, node, out, top=False):
        """Lower an expression; statements it needs first are appended to ``out``.

        With ``top``, the expression is the whole right-hand side of an
        assignment, so a user call may stay where it is.
        """
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is not None:
            return method(node, out, top)
        if isinstance(node, (gast.Yield, gast.YieldFrom, gast.Await)):
            raise self.error(node, "a generator (yield)", "return a list instead")
        if isinstance(node, (gast.Set, gast.SetComp)):
            raise self.error(node, "a set", "use a list")
        if isinstance(node, gast.Starred):
            raise self.error(node, "a starred argument (*args)", "pass the items explicitly")
        return self._generic(node, out)

    def expr_Subscript(self, node, out, top):
        """``np.r_[a, b]`` / ``np.c_[a, b]`` (NumPy's index tricks) are concatenations,
        written as the calls they stand for, whose rules carry the derivatives
        (``np.concatenate((np.atleast_1d(a), np.atleast_1d(b)))``,
        ``np.column_stack((a, b))``); other uses of them are refused, never a zero
        derivative."""
        ok, value = self.resolver.static_value(node.value)
        if ok and isinstance(value, _INDEX_TRICKS):
            import numpy
            which = "r_" if value is numpy.r_ else "c_"
            items = node.slice.elts if isinstance(node.slice, gast.Tuple) else [node.slice]
            base = node.value
            if not (isinstance(base, gast.Attribute) and base.attr == which) or any(
                    isinstance(i, gast.Slice) or isinstance(i, gast.Constant)
                    and isinstance(i.value, str) for i in items):
                raise self.error(node, f"np.{which}[...] with slices, directives or imported "
                                       f"by its own name",
                                 "write np.concatenate((...)) or np.column_stack((...))")

            def np_attr(attr):
                return gast.Attribute(value=copy_tree(base.value), attr=attr,
                                      ctx=gast.Load())
            if which == "r_":
                items = [gast.Call(func=np_attr("atleast_1d"), args=[i], keywords=[])
                         for i in items]
                call = gast.Call(func=np_attr("concatenate"),
                                 args=[gast.Tuple(elts=items, ctx=gast.Load())], keywords=[])
            else:
                call = gast.Call(func=np_attr("column_stack"),
                                 args=[gast.Tuple(elts=list(items), ctx=gast.Load())],
                                 keywords=[])
            gast.copy_location(call, node)
            for n in _walk(call):
                if not hasattr(n, "lineno") and isinstance(n, (gast.expr,)):
                    gast.copy_location(n, node)
            return self.expr(call, out, top)
        return self._generic(node, out)

    def _generic(self, node, out):
        for field, old in gast.iter_fields(node):
            if isinstance(old, gast.expr):
                setattr(node, field, self.expr(old, out))
            elif isinstance(old, list):
                setattr(node, field, [self.expr(v, out) if isinstance(v, gast.expr) else
                                      self._keyword(v, out) if isinstance(v, gast.keyword) else v
                                      for v in old])
        return node

    def _keyword(self, kw, out):
        kw.value = self.expr(kw.value, out)
        return kw

    def expr_Name(self, node, out, top):
        return node

    def expr_Constant(self, node, out, top):
        return node

    def expr_Lambda(self, node, out, top):
        fname = self.namer.fresh("lambda_fn")
        out.extend(self._lambda_def(node, fname))
        return name(fname)

    def _lambda_def(self, lam, fname):
        fdef = gast.FunctionDef(name=fname, args=lam.args, body=[gast.Return(value=lam.body)],
                                decorator_list=[], returns=None, type_comment=None, type_params=[])
        gast.copy_location(fdef, lam)
        fdef.body[0].lineno = lam.lineno
        reads = {n.id for n in _walk(lam.body) if isinstance(n, gast.Name)}
        free = (reads - assigned_names(fdef)) & (self.resolver.local_names - {fname})
        for other in reads & set(self.nested):      # a nested function it calls or names is
            free.update(v for v in self.nested[other][1] if v != fname)   # lifted: its values
        free = sorted(free - set(self.nested))
        self.nested[fname] = (fdef, free)
        self.resolver.lifted[fname] = fdef
        self.resolver.local_names.discard(fname)
        return []

    def expr_IfExp(self, node, out, top):
        tmp = self.namer.fresh("choice")
        out.extend(self._ifexp_into(node, tmp))
        return name(tmp)

    def _ifexp_into(self, node, target):
        out = []
        test = self.expr(node.test, out)
        body, orelse = [], []
        body_value = self.expr(node.body, body, top=True)
        body.append(assign(target, body_value))
        else_value = self.expr(node.orelse, orelse, top=True)
        orelse.append(assign(target, else_value))
        out.append(gast.If(test=test, body=body, orelse=orelse))
        return out

    def expr_NamedExpr(self, node, out, top):
        value = self.expr(node.value, out, top=True)
        out.append(assign(store(node.target.id), value))
        return name(node.target.id)

    def expr_ListComp(self, node, out, top):
        result = self.namer.fresh("items")
        out.extend(self._comprehension_into(node, result))
        return name(result)

    def expr_DictComp(self, node, out, top):
        result = self.namer.fresh("mapping")
        out.extend(self._comprehension_into(node, result))
        return name(result)

    def _comprehension_into(self, node, result):
        out = []
        if isinstance(node, gast.DictComp):
            out.append(assign(result, gast.Dict(keys=[], values=[])))

            def emit(pair, body):
                k, v = pair
                body.append(assign(gast.Subscript(value=name(result), slice=k, ctx=gast.Store()), v))
            self._comprehension(node.generators, (node.key, node.value), out, emit)
            return out
        out.append(assign(result, gast.List(elts=[], ctx=gast.Load())))
        append = gast.Attribute(value=name(result), attr="append", ctx=gast.Load())
        self._comprehension(node.generators, node.elt, out,
                            lambda v, body: body.append(gast.Expr(value=call(append, [v]))))
        return out

    def expr_GeneratorExp(self, node, out, top):
        return self.expr_ListComp(node, out, top)

    def _comprehension(self, generators, elt, out, emit):
        """Spell out ``for`` clauses (with ``if`` filters) as nested loops."""
        renames = {}
        for gen in generators:
            for n in _walk(gen.target):
                if isinstance(n, gast.Name):
                    renames[n.id] = self.namer.fresh(n.id)

        def rename(tree):
            tree = copy_tree(tree)
            for n in _walk(tree):
                if isinstance(n, gast.Name) and n.id in renames:
                    n.id = renames[n.id]
            return tree

        def build(k):
            if k == len(generators):
                body = []
                if isinstance(elt, tuple):
                    pair = tuple(self.expr(rename(e), body) for e in elt)
                    emit(pair, body)
                else:
                    emit(self.expr(rename(elt), body), body)
                return body
            gen = generators[k]
            inner = build(k + 1)
            for cond in reversed(gen.ifs):
                pre = []
                test = self.expr(rename(cond), pre)
                inner = pre + [gast.If(test=test, body=inner, orelse=[])]
            loop = gast.For(target=rename(gen.target), iter=rename(gen.iter) if k else gen.iter,
                            body=inner, orelse=[], type_comment=None)
            loop.lineno = getattr(gen.iter, "lineno", None)
            return self.stmt_For(loop)
        line = getattr(generators[0].iter, "lineno", None)
        out.extend(set_line(build(0), line))

    def expr_Call(self, node, out, top):
        func = node.func
        self._check_nested_operator(node)
        if isinstance(func, gast.Name) and func.id == "super" and not node.args \
                and not node.keywords:
            # ``super()`` reads the ``__class__`` cell of a function defined in a class body,
            # which the generated function (at module level) does not have: name it
            params = self.fsrc.node.args.posonlyargs + self.fsrc.node.args.args
            if "__class__" not in self.fsrc.closure or not params:
                raise self.error(node, "super() without arguments outside a method",
                                 "write super(TheClass, self)")
            node.args = [name("__class__"), name(params[0].id)]
        if node.keywords and not node.args and all(kw.arg for kw in node.keywords) \
                and self.resolver.static_value(node.func) == (True, dict):
            # dict(a=a, b=b) is the literal {'a': a, 'b': b}, whose values carry derivatives
            literal = gast.Dict(keys=[const(kw.arg) for kw in node.keywords],
                                values=[kw.value for kw in node.keywords])
            gast.copy_location(literal, node)
            return self.expr(literal, out, top)
        callee = self.resolver.callee(node)
        if callee.kind == "primitive" and callee.prim.name == "einsum" and node.args:
            node.args[0] = self._known_string(node.args[0])
            if isinstance(node.args[0], gast.Name) and not any(
                    isinstance(a, (gast.List, gast.Tuple)) for a in node.args[1:]):
                # the subscripts known only at run time: their form (a string, or the
                # sublists after the arrays) decides which operand is which; the trace
                # applies einsum's rules to the call as it is made
                raise self.error(node, "np.einsum with its subscripts in a variable known "
                                       "only at run time",
                                 "write the subscripts string in the call, or in a constant")
        # sum(<generator>) accumulates in a loop rather than building a list.
        if callee.kind == "primitive" and callee.prim.qualname == "builtins.sum" \
                and len(node.args) == 1 and isinstance(node.args[0], gast.GeneratorExp) \
                and not node.keywords:
            total = self.namer.fresh("total")
            out.append(assign(total, const(0.0)))
            gen = node.args[0]

            def emit(v, body):
                body.append(assign(total, gast.BinOp(left=name(total), op=gast.Add(), right=v)))
            self._comprehension(gen.generators, gen.elt, out, emit)
            return name(total)
        if isinstance(func, gast.Attribute) and func.attr == "popitem" and not node.args \
                and not node.keywords and isinstance(func.value, gast.Name) \
                and func.value.id in self.resolver.local_names:
            return self._popitem(node, out)
        pairs = self._zip_or_enumerate(node, out)
        if pairs is None:
            pairs = self._map_or_filter(node, out)
        if pairs is None:
            pairs = self._reduce_or_along_axis(node, out)
        if pairs is not None:
            return pairs
        self._closure_as_args(node, out)
        if isinstance(func, gast.Attribute):
            func.value = self.expr(func.value, out)
        elif not isinstance(func, gast.Name) and any(
                isinstance(n, gast.Lambda) or isinstance(n, gast.Name) and n.id in self.nested
                for n in _walk(func)):
            # ``np.vectorize(lambda v: v * w)(x)``: the function called is made first from a
            # local function (checked like any value given to a call)
            tmp = self.namer.fresh("fn")
            out.append(assign(tmp, self.expr(func, out, top=True)))
            node.func = name(tmp)
        for a in node.args:
            if isinstance(a, gast.Starred):
                raise self.error(node, "a starred argument (*args)", "pass the items explicitly")
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(node, "a ** argument", "pass the keywords explicitly")
        node.args = [self.expr(a, out) for a in node.args]
        for kw in node.keywords:
            kw.value = self.expr(kw.value, out)
        node.s2s_callee = callee
        if callee.kind == "lifted":
            # A local function reads variables of this one: pass them explicitly.
            passed = {kw.arg for kw in node.keywords}
            for free in self.nested[callee.name][1]:
                if free not in passed:
                    node.keywords.append(gast.keyword(arg=free, value=name(free)))
        if callee.kind in ("user", "lifted", "dynamic"):
            # User calls take plain names and stand alone on an assignment's right.
            node.args = [self._atom(a, out, callee) for a in node.args]
            for kw in node.keywords:
                kw.value = self._atom(kw.value, out, callee)
            node.s2s_hoist = True
            if not top:
                tmp = self.namer.fresh(_call_base(node))
                out.append(assign(tmp, node))
                return name(tmp)
        return node

    def _popitem(self, node, out):
        """``d.popitem()`` is ``(key, d.pop(key))`` with ``key = _rt.popitem_key(d)``, the last
        key inserted: a pop by key, which both modes differentiate (the tangent or adjoint
        of ``d`` loses the key the value lost)."""
        d = node.func.value.id
        key, value = self.namer.fresh("key"), self.namer.fresh("popped")
        which = call(gast.Attribute(value=name(naming.RUNTIME), attr="popitem_key",
                                    ctx=gast.Load()), [name(d)])
        which.s2s_callee = Callee("nondiff", "popitem_key")
        out.append(gast.copy_location(assign(key, which), node))
        pop = gast.copy_location(call(gast.Attribute(value=name(d), attr="pop", ctx=gast.Load()),
                                      [name(key)]), node)
        pop.s2s_popitem = True      # (reverse mode's refusal says popitem, not pop)
        out.append(gast.copy_location(assign(value, self.expr(pop, out, top=True)), node))
        return gast.Tuple(elts=[name(key), name(value)], ctx=gast.Load())

    def _check_nested_operator(self, node):
        """An s2sgrad operator called inside the function, on a function that reads the
        function's own variables (``grad(lambda y: x * y)(2.0)``), or ``vjp`` (whose
        ``backward`` is a Python closure): the inner derivative depends on the outer one's
        variables through the closure, which the transformation cannot see; refused here,
        so the function is traced, where each level of differentiation has its own
        identity (no perturbation confusion)."""
        for node in [n for n in _walk(node) if isinstance(n, gast.Call)]:
            ok, fn = self.resolver.static_value(node.func)
            op = _s2sgrad_operator(fn) if ok else None
            if op is not None:
                reads = self._closure_reads(node.args[0]) if node.args else []
                if op == "vjp":
                    raise self.error(node, "a call of s2sgrad.vjp inside a differentiated "
                                           "function (its backward function is a closure)",
                                     "take grad of np.sum(cotangent * f(x)) instead of "
                                     "calling vjp's backward")
                if reads:
                    raise self.error(node, f"s2sgrad.{op} of a function that reads "
                                           f"{', '.join(reads)} of the differentiated function",
                                     f"pass {', '.join(reads)} to the inner function as "
                                     f"arguments")

    def _known_string(self, arg):
        """A name that holds a string known here (a global or closure constant, or a local
        assigned a string literal once) as that string: einsum's subscripts, which its
        rules must see to know which operand is which."""
        if not isinstance(arg, gast.Name):
            return arg
        if arg.id in self.resolver.local_names:
            value = self.resolver._single_assignments().get(arg.id)
            if isinstance(value, gast.Constant) and isinstance(value.value, str):
                return gast.copy_location(const(value.value), arg)
            return arg
        ok, value = self.resolver.static_value(arg)
        if ok and isinstance(value, str):
            return gast.copy_location(const(value), arg)
        return arg

    def _closure_reads(self, target):
        """The variables of this function that function expression ``target`` reads."""
        locals_ = self.resolver.local_names | {v for _, free in self.nested.values()
                                               for v in free}
        if isinstance(target, gast.Lambda):
            params = {a.id for a in target.args.args if isinstance(a, gast.Name)}
            reads = {n.id for n in _walk(target.body) if isinstance(n, gast.Name)}
            return sorted((reads - params) & locals_)
        if isinstance(target, gast.Name) and target.id in self.nested \
                and target.id not in self.fsrc.siblings:
            return list(self.nested[target.id][1])
        return []

    def _zip_or_enumerate(self, node, out):
        """``zip(a, b)`` or ``enumerate(a)`` used as a value (not a loop's header): the list
        of tuples it gives, built by a loop over ``list(a)``, so that the items carry their
        derivatives (``[(a_[i], b_[i]) for i in range(min(len(a_), len(b_)))]``)."""
        ok, fn = self.resolver.static_value(node.func)
        if not ok or fn not in (zip, enumerate) or not node.args \
                or any(isinstance(a, gast.Starred) for a in node.args):
            return None
        start = const(0)
        if fn is enumerate:
            if len(node.args) > 2 or any(kw.arg != "start" for kw in node.keywords):
                return None
            start = node.args[1] if len(node.args) == 2 else next(
                (kw.value for kw in node.keywords), start)
            node.args = node.args[:1]
        elif node.keywords:
            return None
        seqs = [self._as_name(call("list", [a]), out, "seq") for a in node.args]
        i = self.namer.fresh("i")
        sizes = [call("len", [name(q)]) for q in seqs]
        count = sizes[0] if len(sizes) == 1 else call("min", sizes)
        items = [subscript(name(q), name(i)) for q in seqs]
        if fn is enumerate:
            items = [gast.BinOp(left=name(i), op=gast.Add(), right=start)] + items
        comp = gast.ListComp(elt=gast.Tuple(elts=items, ctx=gast.Load()), generators=[
            gast.comprehension(target=gast.Name(id=i, ctx=gast.Store(), annotation=None,
                                                type_comment=None),
                               iter=call("range", [count]), ifs=[], is_async=0)])
        for n in _walk(comp):
            n.lineno = getattr(node, "lineno", None)
        return self.expr_ListComp(comp, out, False)

    def _map_or_filter(self, node, out):
        """``map(f, a)`` is ``[f(v) for v in a]`` (``map(f, a, b)`` zips), ``filter(f, a)``
        is ``[v for v in a if f(v)]``: lists whose items carry their derivatives."""
        ok, fn = self.resolver.static_value(node.func)
        if not ok or fn not in (map, filter) or node.keywords or len(node.args) < 2 \
                or fn is filter and len(node.args) != 2 \
                or any(isinstance(a, gast.Starred) for a in node.args):
            return None
        func, seqs = node.args[0], node.args[1:]
        if isinstance(func, gast.Lambda):   # a local function, called by its name in the loop
            func = self.expr(func, out)
        names = [self.namer.fresh("item") for _ in seqs]
        if len(seqs) == 1:
            target, it = gast.Name(id=names[0], ctx=gast.Store(), annotation=None,
                                   type_comment=None), seqs[0]
        else:
            target = gast.Tuple(elts=[gast.Name(id=n, ctx=gast.Store(), annotation=None,
                                                type_comment=None) for n in names],
                                ctx=gast.Store())
            it = call("zip", list(seqs))
        applied = call(copy_tree(func), [name(n) for n in names])
        if fn is map:
            elt, ifs = applied, []
        else:
            none = isinstance(func, gast.Constant) and func.value is None
            elt, ifs = name(names[0]), [name(names[0]) if none else applied]
        comp = gast.ListComp(elt=elt, generators=[gast.comprehension(
            target=target, iter=it, ifs=ifs, is_async=0)])
        for n in _walk(comp):
            n.lineno = getattr(node, "lineno", None)
        return self.expr_ListComp(comp, out, False)

    def _closure_as_args(self, node, out):
        """``odeint(lambda y, t: -k * y, y0, ts)`` as ``odeint(lambda_fn, y0, ts, args=(k,))``.

        A library function that calls ``func(x, *args)`` and differentiates through its
        ``args`` (odeint's adjoint method, quad's Leibniz rule, a root finder's implicit
        function theorem) is given the local function itself, unbound, and the values it
        reads from this function as extra ``args``: their derivatives flow by its rules.
        """
        ok, fn = self.resolver.static_value(node.func)
        if not ok or not _callable_args_functions().get(id(fn)) is fn or not node.args \
                or any(isinstance(a, gast.Starred) for a in node.args) \
                or any(kw.arg is None for kw in node.keywords):
            return
        func = node.args[0]
        if isinstance(func, gast.Lambda):
            func = node.args[0] = self.expr(func, out)
        if isinstance(func, gast.Name) and func.id not in self.nested:
            # ``g = integrand`` (assigned once): the local function itself
            alias = self.resolver._single_assignments().get(func.id)
            if isinstance(alias, gast.Name) and alias.id in self.nested:
                func = node.args[0] = name(alias.id)
        if not isinstance(func, gast.Name) or func.id not in self.nested:
            return
        free = self.nested[func.id][1]
        if not free:
            return
        if len(node.args) > 3:
            current = node.args[3]
        else:
            kw = next((k for k in node.keywords if k.arg == "args"), None)
            current = kw.value if kw is not None else None
        if current is None:
            new = gast.Tuple(elts=[name(v) for v in free], ctx=gast.Load())
            node.keywords.append(gast.keyword(arg="args", value=new))
        elif isinstance(current, gast.Tuple):
            current.elts = list(current.elts) + [name(v) for v in free]
        else:
            return          # args given as a variable: the activity analysis refuses
        func.s2s_unbound = True

    def _reduce_or_along_axis(self, node, out):
        """``functools.reduce(f, a[, init])`` and ``np.apply_along_axis(f, axis, arr)`` as the
        loops they run, so that a function they are given (a lambda reading values that
        carry derivatives) is differentiated where it is called."""
        ok, fn = self.resolver.static_value(node.func)
        if not ok or node.keywords or any(isinstance(a, gast.Starred) for a in node.args):
            return None
        if fn is functools.reduce and len(node.args) in (2, 3):
            template = _REDUCE_INIT if len(node.args) == 3 else _REDUCE
            holes = {"F": node.args[0], "ARG": node.args[1]}
            if len(node.args) == 3:
                holes["INIT"] = node.args[2]
            result = "ACC"
        elif fn is numpy.apply_along_axis and len(node.args) == 3 \
                and isinstance(node.func, gast.Attribute):
            template = _ALONG_AXIS
            holes = {"F": node.args[0], "AXIS": node.args[1], "ARG": node.args[2],
                     "NP": node.func.value}
            result = None       # the last line's expression: a new array (not a name for one)
        else:
            return None
        func = holes["F"]
        if isinstance(func, gast.Lambda):   # a local function, called by its name in the loop
            holes["F"] = self.expr(func, out)
        stmts = _parse(template).body
        fresh = {}
        line = getattr(node, "lineno", None)

        class Fill(gast.NodeTransformer):
            def visit_Name(self_, n):
                if n.id in holes:
                    return copy_tree(holes[n.id])
                if n.id.isupper() and n.id not in fresh:
                    fresh[n.id] = self.namer.fresh(n.id.lower() if n.id != "ACC" else "acc")
                if n.id in fresh:
                    n.id = fresh[n.id]
                return n
        stmts = [Fill().visit(st) for st in stmts]
        for st in stmts:
            for n in _walk(st):
                if hasattr(n, "lineno") or isinstance(n, (gast.stmt, gast.expr)):
                    n.lineno = line
        if result is None:
            last = stmts.pop().value
            out.extend(self.block(stmts))
            return self.expr(last, out)
        out.extend(self.block(stmts))
        return name(fresh[result])

    def _atom(self, value, out, callee):
        if isinstance(value, (gast.Name, gast.Constant)):
            return value
        base = re.sub(r"\W+", "_", callee.name.split(".")[-1]).strip("_") or "call"
        tmp = self.namer.fresh(base + "_arg")
        out.append(assign(tmp, value))
        return name(tmp)


def _index_tricks():
    import numpy
    return (type(numpy.r_), type(numpy.c_))


_INDEX_TRICKS = _index_tricks()

_OPERATORS = {"grad", "value_and_grad", "jvp", "vjp", "deriv", "elementwise_grad", "jacobian",
              "hessian", "hvp", "holomorphic_grad"}


def _s2sgrad_operator(fn):
    """The name of the s2sgrad operator ``fn`` is, or None."""
    if getattr(fn, "__module__", None) in ("s2sgrad.api", "s2sgrad.operators") \
            and getattr(fn, "__name__", None) in _OPERATORS:
        return fn.__name__
    return None


_CALLABLE_ARGS = {}


def _callable_args_functions():
    """``{id: function}`` of the library functions that call ``func(x, *args)`` and
    differentiate through ``args`` (see ``_Lowering._closure_as_args``), found once
    their modules are imported."""
    import sys
    for modname, names in (("scipy.integrate", ("odeint", "quad")),
                           ("scipy.optimize", ("brentq", "brenth", "ridder", "bisect",
                                               "toms748"))):
        mod = sys.modules.get(modname)
        if mod is None:
            continue
        for n in names:
            f = getattr(mod, n, None)
            if f is not None:
                _CALLABLE_ARGS[id(f)] = f
    return _CALLABLE_ARGS


_REDUCE_INIT = """
SEQ = list(ARG)
ACC = INIT
for ITEM in SEQ:
    ACC = F(ACC, ITEM)
"""

_REDUCE = """
SEQ = list(ARG)
ACC = SEQ[0]
for I in range(1, len(SEQ)):
    ACC = F(ACC, SEQ[I])
"""

_ALONG_AXIS = """
ARR = NP.asarray(ARG)
AX = AXIS % ARR.ndim
PERM = [D for D in range(ARR.ndim) if D != AX] + [AX]
MOVED = ARR.transpose(PERM)
LEAD = MOVED.shape[:-1]
ROWS = MOVED.reshape((-1, MOVED.shape[-1]))
ITEMS = []
for I in range(ROWS.shape[0]):
    ITEMS.append(F(ROWS[I]))
STACKED = NP.stack(ITEMS)
K = STACKED.ndim - 1
SHAPED = STACKED.reshape(LEAD + STACKED.shape[1:])
MOVED_OUT = NP.moveaxis(SHAPED, list(range(len(LEAD), len(LEAD) + K)), list(range(AX, AX + K)))
MOVED_OUT.copy()
"""


def _call_base(call_node):
    f = call_node.func
    if isinstance(f, gast.Attribute):
        return f.attr + "_out"
    if isinstance(f, gast.Name):
        return f.id + "_out"
    return "out"


def _target_base(t):
    if isinstance(t, gast.Name):
        return t.id
    if isinstance(t, (gast.Tuple, gast.List)):
        return "_".join(_target_base(e) for e in t.elts[:2])
    return "item"


def _is_const(node):
    return isinstance(node, gast.Constant) or (
        isinstance(node, gast.UnaryOp) and isinstance(node.operand, gast.Constant))


def _hoist_self_reads(index, base, out, namer):
    """``y[y < 0] = v``, ``y[np.argmax(y)] = v``: an index that reads the array it writes
    is computed once, into a variable, before the write.  The write changes ``y``; a
    derivative that evaluated ``y < 0`` again afterwards would select other elements.
    As a variable, the index is what the forward sweep used (saved on the tape when a
    loop overwrites it)."""
    def reads_base(node):
        return node is not None and any(isinstance(n, gast.Name) and n.id == base
                                        for n in _walk(node))

    def hoist(part):
        if part is None or isinstance(part, (gast.Name, gast.Constant)) or not reads_base(part):
            return part
        tmp = namer.fresh(f"{base}_where")
        out.append(assign(tmp, part))
        return name(tmp)

    if isinstance(index, gast.Tuple):
        index.elts = [_hoist_self_reads(e, base, out, namer) for e in index.elts]
        return index
    if isinstance(index, gast.Slice):
        index.lower, index.upper, index.step = (hoist(p) for p in
                                                (index.lower, index.upper, index.step))
        return index
    return hoist(index)


def _is_simple_index(index):
    if isinstance(index, (gast.Name, gast.Constant)):
        return True
    if isinstance(index, gast.Tuple):
        return all(_is_simple_index(e) for e in index.elts)
    if isinstance(index, gast.Slice):
        return all(p is None or _is_simple_index(p) for p in (index.lower, index.upper, index.step))
    if isinstance(index, gast.UnaryOp) and isinstance(index.operand, gast.Constant):
        return True
    return False


# ---------------------------------------------------------------------------
# Pass 2: break, continue and return become structured control flow
# ---------------------------------------------------------------------------

class _Loop:
    def __init__(self):
        self.stop = None      # flag set by break (and by return inside the loop)
        self.skip = None      # flag set by continue
        self.returns = False  # a return happens inside this loop


class _Jumps:
    """Rewrites early exits as flags and nesting so control flow has one exit.

    ``if c: return a`` followed by more code puts the rest in the ``else``
    branch; a jump deeper inside a statement sets a flag that guards what
    follows.  A loop body may then end in ``if <flag>: break``.
    """

    def __init__(self, fsrc, namer):
        self.fsrc = fsrc
        self.namer = namer
        self.result = None
        self.returned = None

    def function(self, body, node):
        ret_stmts = [s for s in walk_stmts(body) if isinstance(s, gast.Return)]
        last = body[-1] if body else None
        if len(ret_stmts) == 1 and last is ret_stmts[0]:
            # The common case: one return, at the end.
            rest = self.block(body[:-1], [])
            if isinstance(last.value, gast.Name):
                return rest + [last], last.value.id
            self.result = self.namer.fresh("result")
            line = getattr(last, "s2s_line", None)
            return rest + [assign(self.result, last.value, line), _ret(self.result, line)], \
                self.result
        self.result = self.namer.fresh("result")
        needs_flag = any(self._inside_loop_return(s) for s in body)
        if needs_flag:
            self.returned = self.namer.fresh("returned")
        out = self.block(body, [])
        line = getattr(node, "lineno", None)
        prefix = []
        if not _definitely_assigns(out, self.result):
            prefix.append(assign(self.result, const(None), line))
        if needs_flag:
            prefix.append(assign(self.returned, const(False), line))
        return prefix + out + [_ret(self.result, line)], self.result

    def _inside_loop_return(self, s):
        if isinstance(s, (gast.For, gast.While)):
            return any(isinstance(n, gast.Return) for n in walk_stmts(s.body))
        if isinstance(s, gast.If):
            return any(self._inside_loop_return(c) for c in s.body + s.orelse)
        return False

    def block(self, stmts, loops):
        return _flatten(self._block(stmts, loops))

    def _block(self, stmts, loops):
        out = []
        for i, s in enumerate(stmts):
            line = getattr(s, "s2s_line", None)
            if isinstance(s, gast.Return):
                out.append(assign(self.result, s.value, line))
                if loops:
                    out.append(assign(self.returned, const(True), line))
                    out.extend(self._set_stop(loops[-1], line))
                return out
            if isinstance(s, gast.Break):
                out.extend(self._set_stop(loops[-1], line))
                return out
            if isinstance(s, gast.Continue):
                loop = loops[-1]
                if loop.skip is None:
                    loop.skip = self.namer.fresh("skip")
                out.append(assign(loop.skip, const(True), line))
                return out
            if isinstance(s, gast.Raise):
                out.append(s)
                return out
            jumps = self._jumps(s, loops)
            if not jumps:
                if isinstance(s, gast.If):
                    s.body = self.block(s.body, loops)
                    s.orelse = self.block(s.orelse, loops)
                elif isinstance(s, (gast.For, gast.While)):
                    s = self.loop(s, loops)
                out.append(s)
                continue
            rest = stmts[i + 1:]
            if isinstance(s, gast.If):
                body_ends = _ends_in_jump(s.body)
                else_ends = _ends_in_jump(s.orelse)
                if body_ends and not self._jumps_any(s.orelse, loops):
                    s.body = self.block(s.body, loops)
                    s.orelse = self.block(s.orelse + rest, loops)
                    out.append(s)
                    return out
                if else_ends and not self._jumps_any(s.body, loops):
                    s.orelse = self.block(s.orelse, loops)
                    s.body = self.block(s.body + rest, loops)
                    out.append(s)
                    return out
                s.body = self.block(s.body, loops)
                s.orelse = self.block(s.orelse, loops)
            elif isinstance(s, (gast.For, gast.While)):
                s = self.loop(s, loops)
            out.append(s)
            if rest:
                guard = self._guard(jumps, loops)
                tail = self.block(rest, loops)
                if tail:
                    out.append(_if(guard, tail, line))
            return out
        return out

    def _set_stop(self, loop, line):
        if loop.stop is None:
            loop.stop = self.namer.fresh("stop")
        return [assign(loop.stop, const(True), line)]

    def _guard(self, jumps, loops):
        flags = []
        if "return" in jumps:
            flags.append(self.returned)
        if loops:
            loop = loops[-1]
            if "break" in jumps or ("return" in jumps and loop.stop):
                if loop.stop is None:
                    loop.stop = self.namer.fresh("stop")
                flags.append(loop.stop)
            if "continue" in jumps:
                flags.append(loop.skip)
        flags = [f for f in dict.fromkeys(flags) if f]
        if len(flags) == 1:
            return gast.UnaryOp(op=gast.Not(), operand=name(flags[0]))
        return gast.UnaryOp(op=gast.Not(), operand=gast.BoolOp(op=gast.Or(),
                                                                values=[name(f) for f in flags]))

    def _jumps(self, s, loops):
        """Which exits (break/continue of the current loop, return) ``s`` may take."""
        found = set()

        def visit(stmts, depth):
            for t in stmts:
                if isinstance(t, gast.Return):
                    found.add("return")
                elif isinstance(t, gast.Break) and depth == 0:
                    found.add("break")
                elif isinstance(t, gast.Continue) and depth == 0:
                    found.add("continue")
                elif isinstance(t, gast.If):
                    visit(t.body, depth)
                    visit(t.orelse, depth)
                elif isinstance(t, (gast.For, gast.While)):
                    visit(t.body, depth + 1)
        visit([s], 0)
        return found

    def _jumps_any(self, stmts, loops):
        return any(self._jumps(t, loops) for t in stmts)

    def loop(self, s, loops):
        info = _Loop()
        returns = any(isinstance(n, gast.Return) for n in walk_stmts(s.body))  # before lowering
        body = self.block(s.body, loops + [info])
        if info.skip and not _reads(body, info.skip):
            body = _drop_assignments(body, info.skip)  # nesting did the skipping
            info.skip = None
        if info.skip:
            body = [assign(info.skip, const(False), getattr(s, "s2s_line", None))] + body
        line = getattr(s, "s2s_line", None)
        exits = [f for f in (info.stop,) if f]
        if returns and self.returned and info.stop is None:
            exits.append(self.returned)
        if exits:
            test = name(exits[0]) if len(exits) == 1 else gast.BoolOp(
                op=gast.Or(), values=[name(e) for e in exits])
            body.append(_if(test, [gast.Break()], line))
        s.body = body
        if info.stop:
            pre = assign(info.stop, const(False), line)
            return _Seq([pre, s])
        return s


class _Seq(list):
    """Statements standing where one statement stood (a loop with its flag's setup)."""


def _flatten(stmts):
    out = []
    for s in stmts:
        if isinstance(s, _Seq):
            out.extend(_flatten(s))
        else:
            if isinstance(s, (gast.If, gast.For, gast.While)):
                s.body = _flatten(s.body)
                s.orelse = _flatten(s.orelse)
            out.append(s)
    return out


def _reads(stmts, var):
    return any(isinstance(n, gast.Name) and n.id == var and isinstance(n.ctx, gast.Load)
               for s in stmts for n in _walk(s))


def _drop_assignments(stmts, var):
    out = []
    for s in stmts:
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name) and s.targets[0].id == var:
            continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _drop_assignments(s.body, var) or [gast.Pass()]
            s.orelse = _drop_assignments(s.orelse, var)
        out.append(s)
    return out


def _if(test, body, line):
    node = gast.If(test=test, body=body, orelse=[])
    node.s2s_line = line
    return node


def _ret(result, line):
    r = gast.Return(value=name(result))
    r.s2s_line = line
    return r


def _ends_in_jump(stmts):
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (gast.Return, gast.Break, gast.Continue, gast.Raise)):
        return True
    if isinstance(last, gast.If):
        return _ends_in_jump(last.body) and _ends_in_jump(last.orelse)
    return False


def _definitely_assigns(stmts, var):
    for s in stmts:
        if isinstance(s, gast.Assign) and any(isinstance(t, gast.Name) and t.id == var
                                              for t in s.targets):
            return True
        if isinstance(s, gast.If) and _definitely_assigns(s.body, var) \
                and _definitely_assigns(s.orelse, var):
            return True
    return False


def _module_of(fn):
    """The array namespace module a function comes from (``numpy`` for ``np.put_along_axis``)."""
    import sys
    mod = getattr(fn, "__module__", None) or "numpy"
    return sys.modules.get(mod.split(".")[0])



def _in_place(stmt):
    """``a = _rt.sort_in_place(a)`` (``a.sort()``, ``np.add.at(a, ...)``...) changes ``a`` in
    place, as ``a += e`` does: marked so (``s2s_augmented``), the alias checks see that it
    changes every array ``a`` is a view of (``a = y[1:5]; a.sort()``) and every other name
    of ``a``'s object."""
    stmt.s2s_augmented = True
    return stmt


def _runtime_call(helper, args, keywords=(), namespace=None):
    """``_rt.<helper>(...)``, known to the transforms as that runtime primitive."""
    from ..rules import registry
    node = call(gast.Attribute(value=name(naming.RUNTIME), attr=helper, ctx=gast.Load()), list(args),
                list(keywords))
    import numpy
    prim = registry.by_name(helper, "s2sgrad.runtime")
    node.s2s_callee = Callee("primitive", helper, prim=prim, namespace=namespace or numpy)
    return node
