"""Rule templates: a rule function's body, parsed once and inlined into generated code.

``Template.from_function`` parses a rule's source; ``inline`` substitutes the
expressions of one call site for the rule's parameters, renames the rule's
locals, folds branches whose conditions are now constants (``if axis is None``
with ``axis=None`` known at the call) and returns statements plus a final
expression.  Free names become what the generated module can see: ``xp`` the
user's namespace, runtime helpers ``_rt.<name>``, modules their dotted names.
"""

import inspect
import linecache
import re
import textwrap
import types

import gast

import s2sgrad.runtime as _runtime
import s2sgrad.naming as naming
from ..syntax import ATOMS as _ATOMS, copy_tree, definition_lines, name as _name, parse as _parse, \
    read_counts, walk

__all__ = ["Template", "inline", "expression_name", "scaled_rule", "broadcast_rule",
           "RUNTIME_ALIAS"]

RUNTIME_ALIAS = naming.RUNTIME


_DEF_OR_DECORATOR = re.compile(r"\s*(def\s|async\s+def\s|@)")


def _parse_quickly(fn):
    """``syntax.parse(textwrap.dedent(inspect.getsource(fn)))`` for a plain function whose
    definition ``syntax.definition_lines`` cuts (what ``inspect.getblock`` cuts, without
    tokenizing the text); None where it does not (``inspect`` then reads it)."""
    code = getattr(fn, "__code__", None)
    if not isinstance(fn, types.FunctionType) or hasattr(fn, "__wrapped__") \
            or not code.co_filename.endswith(".py"):
        return None
    linecache.checkcache(code.co_filename)      # (as inspect.findsource does)
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    first = code.co_firstlineno
    if not 0 < first <= len(lines) or not _DEF_OR_DECORATOR.match(lines[first - 1]):
        return None
    block = definition_lines(lines, first - 1)
    if block is None:
        return None
    try:
        tree = _parse(textwrap.dedent("".join(block)))
    except (SyntaxError, ValueError):
        return None
    if tree.body and isinstance(tree.body[0], (gast.FunctionDef, gast.AsyncFunctionDef)) \
            and tree.body[0].name == fn.__name__:
        return tree
    return None


def _parameters(fn):
    """``(names, defaults, *args name or None)`` of ``fn``'s parameters as
    ``inspect.signature`` lists them: every parameter but ``*args``, in order, and the
    default of each that has one.  Read off the code object of a plain function (a tenth
    of the cost of ``inspect.signature``, which the others go through)."""
    if fn.__class__ is not types.FunctionType or hasattr(fn, "__wrapped__") \
            or hasattr(fn, "__signature__"):
        return _parameters_from_signature(fn)
    code = fn.__code__
    names = code.co_varnames
    n_positional, n_keyword = code.co_argcount, code.co_kwonlyargcount
    positional = names[:n_positional]
    keyword = names[n_positional:n_positional + n_keyword]
    at = n_positional + n_keyword
    varargs = None
    if code.co_flags & inspect.CO_VARARGS:
        varargs = names[at]
        at += 1
    params = list(positional) + list(keyword)
    if code.co_flags & inspect.CO_VARKEYWORDS:
        params.append(names[at])
    defaults = {}
    values = fn.__defaults__ or ()
    for name_, value in zip(positional[len(positional) - len(values):], values):
        defaults[name_] = value
    keyword_defaults = fn.__kwdefaults__ or {}
    for name_ in keyword:
        if name_ in keyword_defaults:
            defaults[name_] = keyword_defaults[name_]
    return params, defaults, varargs


def _parameters_from_signature(fn):
    params, defaults, varargs = [], {}, None
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            varargs = p.name
            continue
        params.append(p.name)
        if p.default is not p.empty:
            defaults[p.name] = p.default
    return params, defaults, varargs


class Template:
    """A rule body as an AST, with its parameters and where its free names come from."""

    def __init__(self, params, defaults, body, globals_, name, varargs=None):
        self.params = params              # positional parameter names, in order
        self.defaults = defaults          # name -> default value
        self.body = body                  # list of gast statements (without docstring)
        self.globals = globals_           # the rule function's module globals
        self.name = name
        self.varargs = varargs

    # A template is a value: ``inline`` copies its body and never changes it.  What is read
    # off the body (its free names, locals, the reads of each parameter) is computed once,
    # on first use, and kept until the body is replaced.
    @property
    def body(self):
        return self._body

    @body.setter
    def body(self, stmts):
        self._body = stmts
        self._memo = {}

    def _memoized(self, key, compute):
        memo = self._memo
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    @classmethod
    def from_function(cls, fn, source=None):
        """The template of rule ``fn``; ``source``, its text when ``inspect`` cannot find it
        (a rule the registry writes from a declaration)."""
        tree = _parse_quickly(fn) if source is None else None
        if tree is None:
            src = textwrap.dedent(source if source is not None else inspect.getsource(fn))
            tree = _parse(src)
        fdef = tree.body[0]
        if not isinstance(fdef, gast.FunctionDef):
            raise TypeError(f"rule {fn.__qualname__} must be written with def")
        params, defaults, varargs = _parameters(fn)
        body = fdef.body
        if body and isinstance(body[0], gast.Expr) and isinstance(body[0].value, gast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        t = cls(params, defaults, body, fn.__globals__, fn.__qualname__, varargs)
        t.check()
        return t

    def free_names(self):
        """Names the body reads that are not parameters or its own locals."""
        return set(self._memoized("free", self._free_names))

    def _free_names(self):
        assigned = self.assigned_names()
        names = set()
        for node in _walk(self.body):
            if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                if node.id not in self.params and node.id not in assigned \
                        and node.id != self.varargs:
                    names.add(node.id)
        return names

    def check(self):
        """A rule may use only its parameters, builtins, runtime helpers and modules."""
        import builtins
        for name in sorted(self.free_names()):
            val = self.globals.get(name, getattr(builtins, name, _MISSING))
            if val is _MISSING:
                raise NameError(f"rule {self.name} uses unknown name {name!r}")
            if isinstance(val, types.ModuleType) or getattr(builtins, name, _MISSING) is val:
                continue
            if runtime_name(val) is not None:
                continue
            raise NameError(
                f"rule {self.name} uses {name!r}, which generated code cannot see; "
                f"rules may use their parameters, xp, builtins, s2sgrad.runtime helpers "
                f"and modules")

    def assigned_names(self):
        """The names the body assigns or deletes (the rule's locals)."""
        return set(self._memoized("assigned", lambda: frozenset(_assigned_names(self.body))))

    def reads(self, param):
        """How many times the body reads ``param``."""
        return self._memoized("reads", self._reads).get(param, 0)

    def _reads(self):
        return read_counts(self.body)

    def outside_names(self):
        """``[(free name, runtime helper name or None, module name or None)]``: how inlined
        code reaches each free name that is a runtime helper or a module (``_rt.<helper>``, the
        module's dotted name); builtins and other names are left out."""
        return self._memoized("outside", self._outside_names)

    def _outside_names(self):
        import builtins
        out = []
        for name in sorted(self.free_names()):
            val = self.globals.get(name, getattr(builtins, name, None))
            if getattr(builtins, name, _MISSING) is val and name not in self.globals:
                continue
            helper = runtime_name(val)
            if helper is not None:
                out.append((name, helper, None))
            elif isinstance(val, types.ModuleType):
                out.append((name, None, val.__name__))
        return tuple(out)

    def reads_value(self, param):
        """Whether the body reads ``param``'s values, not only its shape or dtype.

        ``shape(x)``, ``x.ndim``, ``unbroadcast(g, x)`` (``x``: the shape to sum to),
        ``zeros_like(x)``... read what ``x`` looks like, which an expression of the
        same shape tells as well: the planning of the reverse transform keeps, in the
        forward sweep, the values a rule reads, not those it only measures.
        """
        cached = self.__dict__.setdefault("_value_reads", {})
        if param not in cached:
            meta = set()
            for node in _walk(self.body):
                for arg in self._measured(node):
                    if isinstance(arg, gast.Name):
                        meta.add(id(arg))
            cached[param] = any(isinstance(n, gast.Name) and n.id == param
                                and isinstance(n.ctx, gast.Load) and id(n) not in meta
                                for n in _walk(self.body))
        return cached[param]

    def _measured(self, node):
        """The arguments of ``node`` whose shape or dtype only it reads."""
        if isinstance(node, gast.Attribute) and node.attr in _MEASURES:
            return [node.value]
        if not isinstance(node, gast.Call):
            return []
        f = node.func
        if isinstance(f, gast.Name):
            value = self.globals.get(f.id)
            helper = runtime_name(value) if value is not None else None
            if helper is None and f.id == "len":
                helper = "len"
        elif isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name) \
                and f.value.id == "xp" and f.attr in _XP_MEASURES:
            helper = f.attr
        else:
            return []
        spot = _MEASURING_HELPERS.get(helper)
        if spot is None or spot >= len(node.args):
            return []
        return [node.args[spot]]


_MISSING = object()

# Attributes that tell what a value looks like, not what it holds.
_MEASURES = {"shape", "ndim", "dtype", "size"}
# Helpers (runtime, ``xp.``, builtins) that read only the shape or dtype of one argument:
# which argument.
_MEASURING_HELPERS = {"shape": 0, "ndim": 0, "size": 0, "len": 0, "zeros_like": 0,
                      "ones_like": 0, "empty_like": 0, "unbroadcast": 1, "to_complex_like": 1,
                      "reduce_vjp": 1, "broadcast_like": 1, "scatter": 1, "as_matrix": 1,
                      "fft_unpad": 1, "fft_axes": 0, "match": 1}
_XP_MEASURES = {"shape", "ndim", "size", "zeros_like", "ones_like", "empty_like"}


def runtime_name(value):
    """The name under which ``s2sgrad.runtime`` exports ``value``, or ``None``."""
    for name in _runtime.__all__:
        if getattr(_runtime, name) is value:
            return name
    return None


def _walk(stmts):
    for s in stmts:
        yield from walk(s)


def _assigned_names(stmts):
    out = set()
    for node in _walk(stmts):
        if isinstance(node, gast.Name) and isinstance(node.ctx, (gast.Store, gast.Del)):
            out.add(node.id)
    return out


def _dotted(path):
    parts = path.split(".")
    node = _name(parts[0])
    for p in parts[1:]:
        node = gast.Attribute(value=node, attr=p, ctx=gast.Load())
    return node


def constant(value):
    """An AST node for a Python value that has a literal form."""
    if isinstance(value, tuple):
        return gast.Tuple(elts=[constant(v) for v in value], ctx=gast.Load())
    if isinstance(value, list):
        return gast.List(elts=[constant(v) for v in value], ctx=gast.Load())
    if isinstance(value, (bool, int, float, complex, str, bytes)) or value is None \
            or value is Ellipsis:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            return gast.UnaryOp(op=gast.USub(), operand=constant(-value))
        return gast.Constant(value=value, kind=None)
    raise TypeError(f"no literal for {value!r}")


def is_atom(node):
    return isinstance(node, (gast.Name, gast.Constant)) or (
        isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub)
        and isinstance(node.operand, gast.Constant))


# ---------------------------------------------------------------------------
# Static evaluation of what a call site makes constant
# ---------------------------------------------------------------------------

_STATIC_CALLS = {"len": len, "isinstance": isinstance, "tuple": tuple, "int": int,
                 "range": range, "abs": abs, "min": min, "max": max, "sorted": sorted,
                 "list": list}


def static_value(node):
    """``(True, value)`` when ``node`` is an expression of constants, else ``(False, None)``."""
    cls = node.__class__
    if cls is gast.Name or cls is gast.Attribute:
        return False, None      # (what ``_static`` raises for, without raising)
    if cls is gast.Constant:
        return True, node.value
    try:
        return True, _static(node)
    except (_NotStatic, TypeError, ValueError, IndexError, KeyError, ZeroDivisionError):
        return False, None


class _NotStatic(Exception):
    pass


def _static(node):
    if isinstance(node, gast.Constant):
        return node.value
    if isinstance(node, (gast.Tuple, gast.List)):
        vals = [_static(e) for e in node.elts]
        return tuple(vals) if isinstance(node, gast.Tuple) else vals
    if isinstance(node, gast.UnaryOp):
        v = _static(node.operand)
        op = node.op
        if isinstance(op, gast.Not):
            return not v
        if isinstance(op, gast.USub):
            return -v
        if isinstance(op, gast.UAdd):
            return +v
        raise _NotStatic
    if isinstance(node, gast.BoolOp):
        if isinstance(node.op, gast.And):
            for v in node.values:
                val = _static(v)
                if not val:
                    return val
            return val
        for v in node.values:
            val = _static(v)
            if val:
                return val
        return val
    if isinstance(node, gast.Compare):
        left = _static(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = _static(right_node)
            if not _compare(op, left, right):
                return False
            left = right
        return True
    if isinstance(node, gast.BinOp):
        import operator as _op
        ops = {gast.Add: _op.add, gast.Sub: _op.sub, gast.Mult: _op.mul,
               gast.FloorDiv: _op.floordiv, gast.Mod: _op.mod}
        f = ops.get(type(node.op))
        if f is None:
            raise _NotStatic
        return f(_static(node.left), _static(node.right))
    if isinstance(node, gast.Subscript):
        base = _static(node.value)
        return base[_static(node.slice)]
    if isinstance(node, gast.Slice):
        return slice(*(None if p is None else _static(p) for p in (node.lower, node.upper, node.step)))
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
            and node.func.id in _STATIC_CALLS and not node.keywords:
        if node.func.id == "isinstance" and len(node.args) == 2:
            return isinstance(_static(node.args[0]), _static_type(node.args[1]))
        if node.func.id == "len" and len(node.args) == 1 \
                and isinstance(node.args[0], (gast.Tuple, gast.List)) \
                and not any(isinstance(e, gast.Starred) for e in node.args[0].elts):
            return len(node.args[0].elts)   # the length of a literal, whatever its items
        args = [_static(a) for a in node.args]
        return _STATIC_CALLS[node.func.id](*args)
    raise _NotStatic


def _static_type(node):
    import builtins
    if isinstance(node, gast.Name) and isinstance(getattr(builtins, node.id, None), type):
        return getattr(builtins, node.id)
    if isinstance(node, gast.Tuple):
        return tuple(_static_type(e) for e in node.elts)
    raise _NotStatic


def _compare(op, a, b):
    if isinstance(op, gast.Is):
        return a is b
    if isinstance(op, gast.IsNot):
        return a is not b
    if isinstance(op, gast.Eq):
        return a == b
    if isinstance(op, gast.NotEq):
        return a != b
    if isinstance(op, gast.Lt):
        return a < b
    if isinstance(op, gast.LtE):
        return a <= b
    if isinstance(op, gast.Gt):
        return a > b
    if isinstance(op, gast.GtE):
        return a >= b
    if isinstance(op, gast.In):
        return a in b
    if isinstance(op, gast.NotIn):
        return a not in b
    raise _NotStatic


def _is_static_expr(node):
    return static_value(node)[0]


def _literal_for(value):
    try:
        return constant(value)
    except TypeError:
        raise _NotStatic


def fold(node):
    """Fold constant subexpressions of an expression tree (``None is None`` -> ``True``)."""
    if isinstance(node, (gast.Constant, gast.Name)):
        return node
    ok, val = static_value(node)
    if ok and isinstance(node, (gast.Compare, gast.BoolOp, gast.UnaryOp, gast.Call,
                                gast.Subscript, gast.BinOp)):
        try:
            return _literal_for(val)
        except _NotStatic:
            pass
    for field, old in gast.iter_fields(node):
        if isinstance(old, list):
            setattr(node, field, [fold(v) if isinstance(v, gast.expr) else v for v in old])
        elif isinstance(old, gast.expr):
            setattr(node, field, fold(old))
    # x[i] on a tuple literal with a constant index: pick the element
    if isinstance(node, gast.Subscript) and isinstance(node.value, gast.Tuple):
        ok, idx = static_value(node.slice)
        if ok:
            picked = node.value.elts[idx]
            return gast.Tuple(elts=picked, ctx=gast.Load()) if isinstance(picked, list) else picked
    return node


def _is_specialize(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
        and node.func.attr == "specialize" and isinstance(node.func.value, gast.Name) \
        and node.func.value.id == RUNTIME_ALIAS and len(node.args) == 1


def fold_statements(stmts):
    """Fold constant conditions in ``if`` statements and conditional expressions.

    ``if specialize(cond):`` keeps its special branch only when ``cond`` is
    known to hold here; otherwise the general code after it remains.
    """
    out = []
    for s in stmts:
        if out and isinstance(out[-1], gast.Return):
            break  # whatever follows a return in this block never runs
        if isinstance(s, gast.If) and _is_specialize(s.test):
            ok, val = static_value(fold(s.test.args[0]))
            out.extend(fold_statements(s.body if ok and val else s.orelse))
            if _always_returns(out):
                break  # the branch kept returns: what follows never runs
            continue
        if isinstance(s, gast.If):
            s.test = fold(s.test)
            ok, val = static_value(s.test)
            if ok:
                out.extend(fold_statements(s.body if val else s.orelse))
                if _always_returns(out):
                    break
                continue
            s.body = fold_statements(s.body) or [gast.Pass()]
            s.orelse = fold_statements(s.orelse)
            out.append(s)
            continue
        if isinstance(s, gast.Return):
            s.value = _fold_ifexp(fold(s.value))
            out.append(s)
            continue
        for field, old in gast.iter_fields(s):
            if isinstance(old, gast.expr):
                setattr(s, field, _fold_ifexp(fold(old)))
            elif isinstance(old, list) and old and isinstance(old[0], gast.stmt):
                setattr(s, field, fold_statements(old))
            elif isinstance(old, list):
                setattr(s, field, [_fold_ifexp(fold(v)) if isinstance(v, gast.expr) else v
                                   for v in old])
        out.append(s)
    return out


def _fold_ifexp(node):
    if not any(n.__class__ is gast.IfExp for n in walk(node)):
        return node             # (most expressions have none: one quick look)
    for n in walk(node):
        for field, old in gast.iter_fields(n):
            if isinstance(old, gast.IfExp):
                ok, val = static_value(old.test)
                if ok:
                    setattr(n, field, _fold_ifexp(old.body if val else old.orelse))
    if isinstance(node, gast.IfExp):
        ok, val = static_value(node.test)
        if ok:
            return _fold_ifexp(node.body if val else node.orelse)
    return node


# ---------------------------------------------------------------------------
# Inlining
# ---------------------------------------------------------------------------

def _substituted(node, mapping):
    """``_Substitute(mapping).visit(copy_tree(node))`` in one pass: a copy of ``node`` in which
    each name of ``mapping`` read is a copy of its value and each one bound takes its
    value's name.  What ``_Substitute`` does not visit (an annotation, a field that holds
    no node) is copied as ``copy_tree`` copies it."""
    cls = node.__class__
    if cls is gast.Name:
        if node.id in mapping:
            repl = mapping[node.id]
            if isinstance(node.ctx, gast.Load):
                return copy_tree(repl)
            return _name(repl.id, node.ctx)
        return copy_tree(node)
    new = cls.__new__(cls)
    fields = {}
    walked = cls._fields
    for k, v in node.__dict__.items():
        t = v.__class__
        if t is str or t is int or v is None:
            fields[k] = v
        elif k not in walked:
            fields[k] = copy_tree(v)
        elif t is list:
            fields[k] = [_substituted(item, mapping) if isinstance(item, gast.AST)
                         else copy_tree(item) for item in v]
        elif isinstance(v, gast.AST):
            fields[k] = _substituted(v, mapping)
        else:
            fields[k] = copy_tree(v)
    new.__dict__ = fields
    return new


def inline(template, bindings, namer, imports=None, hint=None, result=None):
    """Inline ``template`` at one call site.

    ``bindings`` maps parameter names to AST expressions (or Python constants);
    parameters left out take the rule's default.  ``namer(base)`` returns a
    fresh name in the generated function.  ``imports``, a set, receives the
    dotted names of modules the inlined code needs.  Returns ``(statements,
    expression)``: run the statements, then the expression is the rule's value.

    Names the code needs are the user's, not the rule's: a value used twice is
    named after its expression (``logaddexp_h``), the rule's own variables after
    ``hint`` (the user's value the rule is for: ``norm_x_gx``), and a value the
    rule computes in branches ``result`` (``hint`` and the rule's names without them).
    """
    bound = {}
    for p in template.params:
        if p in bindings:
            v = bindings[p]
        elif p in template.defaults:
            v = template.defaults[p]
        else:
            raise TypeError(f"rule {template.name}: no value for parameter {p!r}")
        # the caller's nodes, not copied here: each place the code below puts one (a
        # substituted name, a prelude assignment) takes a copy, so the caller's nodes stay
        # where they are and no node is shared by two statements
        bound[p] = v if isinstance(v, gast.AST) else constant(v)
    if template.varargs is not None:
        v = bindings.get(template.varargs, ())
        bound[template.varargs] = v if isinstance(v, gast.AST) else gast.Tuple(
            elts=[e if isinstance(e, gast.AST) else constant(e) for e in v], ctx=gast.Load())

    prelude = []
    mapping = {}
    assigned = template.assigned_names()
    # Free names: runtime helpers and modules.
    for name, helper, module in template.outside_names():
        if helper is not None:
            mapping[name] = gast.Attribute(value=_name(RUNTIME_ALIAS), attr=helper,
                                           ctx=gast.Load())
        else:
            if imports is not None:
                imports.add(module)
            mapping[name] = _dotted(module)
    # Parameters the rule reassigns are its locals (not substituted before folding).
    reassigned = {k: bound.pop(k) for k in sorted(assigned) if k in bound}
    # Substitute constants first, fold, then decide which expressions to name once.
    consts = {k: v for k, v in bound.items() if _is_static_expr(v)}
    body = _folded_body(template, consts, mapping, copy=False)   # (read, then copied)
    # Locals of the rule that the folded code still assigns get fresh names (one a
    # branch no longer taken assigned takes no name); a parameter it no longer
    # reassigns is its value again.
    alive, loads = set(), {}     # (one walk: the names the folded body binds, and reads)
    for node in _walk(body):
        if isinstance(node, gast.Name):
            ctx = node.ctx
            if isinstance(ctx, (gast.Store, gast.Del)):
                alive.add(node.id)
            elif isinstance(ctx, gast.Load):
                loads[node.id] = loads.get(node.id, 0) + 1
    locals_map = {}
    for name in sorted(assigned):
        if name not in alive:
            if name in reassigned:
                bound[name] = reassigned.pop(name)
            continue
        fresh = namer(f"{hint}_{name}" if hint else name)
        if name in reassigned:
            prelude.append(gast.Assign(targets=[_name(fresh, gast.Store())],
                                       value=copy_tree(reassigned.pop(name)), type_comment=None))
        locals_map[name] = _name(fresh)
    rest = {k: v for k, v in bound.items() if k not in consts}
    counts = {k: loads[k] for k in rest if k in loads}
    for k in list(rest):
        v = rest[k]
        if counts.get(k, 0) > 1 and not _cheap_to_repeat(v) and not _is_namespace_expr(v):
            if isinstance(v, (gast.Tuple, gast.List)):      # name its items, keep the literal
                rest[k] = type(v)(elts=[e if _cheap_to_repeat(e)
                                        else _name_once(e, _value_base(e, k + "_item", hint),
                                                        namer, prelude)
                                        for e in v.elts], ctx=gast.Load())
                continue
            rest[k] = _name_once(v, _value_base(v, k, hint), namer, prelude)
    substitutions = {**rest, **locals_map}
    body = [_substituted(s, substitutions) for s in body]
    if not all(_inert(v) for v in rest.values()):
        # (the body was folded with names where these values now stand: names and their
        # attributes make nothing new to fold, and hold nothing to fold)
        body = fold_statements(body)
    stmts, expr = _lower_returns(body, namer, result or (hint and f"{hint}_value"))
    out = prelude + stmts
    if not any(n.__class__ is gast.Starred for s in out + [expr] for n in walk(s)):
        return out, expr            # (no ``*`` to splice: the usual case)
    splice = _SpliceStarred()
    return [splice.visit(s) for s in out], splice.visit(expr)


def _inert(node):
    """Whether ``node`` is a name or an attribute of one (``self.w``): never a constant
    value (``static_value``), and nothing in it to fold."""
    while node.__class__ is gast.Attribute:
        node = node.value
    return node.__class__ is gast.Name


def _folded_body(template, consts, mapping, copy=True):
    """A copy of ``template``'s body with ``consts`` and the free names of ``mapping``
    substituted and constant branches folded.  The folded body depends on nothing else, so
    it is made once for each set of constants (a call site passing ``axis=None``) and
    copied for each inlining.  With ``copy=False``, the statements kept for these
    constants themselves (the caller must not change them), or new ones."""
    key = _constants_key(consts)
    cache = template._memoized("folded", dict)
    folded = cache.get(key) if key is not None else None
    if folded is None:
        substitutions = {**consts, **mapping}
        folded = fold_statements([_substituted(s, substitutions) for s in template.body])
        if key is None:
            return folded
        cache[key] = folded
    return copy_tree(folded) if copy else folded


def _constants_key(consts):
    """A hashable key equal for two ``{param: node}`` exactly when their nodes are equal in
    every field and attribute (``None`` when a node holds a value that has no such key)."""
    try:
        return tuple(sorted((k, _node_key(v)) for k, v in consts.items()))
    except _NoKey:
        return None


class _NoKey(Exception):
    pass


def _node_key(node):
    cls = node.__class__
    if cls is list:
        return ("list",) + tuple(_node_key(v) for v in node)
    if cls is tuple:
        return ("tuple",) + tuple(_node_key(v) for v in node)
    if isinstance(node, gast.AST):
        return (cls.__name__,) + tuple((k, _node_key(v)) for k, v in sorted(vars(node).items()))
    if cls in _ATOMS:
        return (cls.__name__, repr(node))
    raise _NoKey


_OP_WORDS = {gast.Add: "plus", gast.Sub: "minus", gast.Mult: "times", gast.Div: "over",
             gast.Pow: "pow", gast.MatMult: "matmul", gast.FloorDiv: "floordiv", gast.Mod: "mod"}


_NUMBER_WORDS = {0: "zero", 1: "one", 2: "two", 3: "three", 10: "ten", 0.5: "half"}


def expression_name(node):
    """A short name for the value of ``node`` made from the names in it (``np.logaddexp(0.0,
    h) ** 2``: ``logaddexp_h_pow``), or None when it has none or the name would be long."""
    out = _expression_name(node)
    if out is None or out.count("_") > 3 or len(out) > 32 or not out.isidentifier():
        return None
    return out


def _expression_name(node):
    if isinstance(node, gast.Name):
        return node.id.strip("_") or None
    if isinstance(node, gast.Attribute):
        base = _expression_name(node.value)
        return f"{base}_{node.attr}" if base else node.attr
    if isinstance(node, gast.Subscript):
        base = _expression_name(node.value)
        return f"{base}_item" if base else None
    if isinstance(node, gast.Call):
        f = node.func
        leaf = f.attr if isinstance(f, gast.Attribute) else getattr(f, "id", None)
        first = next((n for n in map(_expression_name, node.args) if n), None)
        if leaf and first:
            return f"{leaf}_{first}"
        return leaf or first
    if isinstance(node, gast.BinOp):
        word = _OP_WORDS.get(type(node.op))
        left, right = _expression_name(node.left), _expression_name(node.right)
        if isinstance(node.op, (gast.Add, gast.Sub)) and (left or right):
            left, right = left or _number_word(node.left), right or _number_word(node.right)
        if word is None or not (left or right):
            return None
        return "_".join(p for p in (left, word, right) if p)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        inner = _expression_name(node.operand)
        return f"neg_{inner}" if inner else None
    return None


def _number_word(node):
    """``one`` for the constant 1 (``1.0 - x``: ``one_minus_x``), None for other nodes."""
    if isinstance(node, gast.Constant) and not isinstance(node.value, (bool, str, bytes)) \
            and node.value in _NUMBER_WORDS:
        return _NUMBER_WORDS[node.value]
    return None


def _value_base(value, param, hint):
    """The base of the name of an argument a rule reads twice: its expression's name, else
    ``hint``'s argument (``h_arg``, as the frontend names a call's argument)."""
    return expression_name(value) or (f"{hint}_arg" if hint else param)


def _name_once(value, base, namer, prelude):
    fresh = namer(base)
    prelude.append(gast.Assign(targets=[_name(fresh, gast.Store())], value=copy_tree(value),
                               type_comment=None))
    return _name(fresh)


def _cheap_to_repeat(node):
    """Names, constants and literal tuples of them (a rule's ``*args``, einsum's sublists):
    written again at each use rather than named, so that the rule's code can pick from them."""
    if is_atom(node) or _is_static_expr(node):
        return True
    return isinstance(node, (gast.Tuple, gast.List)) and all(map(_cheap_to_repeat, node.elts))


class _SpliceStarred(gast.NodeTransformer):
    """``f(g, *(a, b))`` (a rule passing on its ``*args``) becomes ``f(g, a, b)``; so does
    ``f(*(ops[:k] + (t,) + ops[k + 1:]))`` for ``ops`` a literal tuple and ``k`` a constant
    (a rule replacing one of its ``*args``), so that the generated call has no ``*``."""

    def visit_Call(self, node):
        self.generic_visit(node)
        args = []
        for a in node.args:
            items = _literal_items(a.value) if isinstance(a, gast.Starred) else None
            if items is not None:
                args.extend(items)
            else:
                args.append(a)
        node.args = args
        return node


def _literal_items(node):
    """The items of a tuple or list literal, of a constant slice or concatenation of such
    literals; ``None`` for anything else."""
    if isinstance(node, (gast.Tuple, gast.List)):
        return None if any(isinstance(e, gast.Starred) for e in node.elts) else list(node.elts)
    if isinstance(node, gast.BinOp) and isinstance(node.op, gast.Add):
        left, right = _literal_items(node.left), _literal_items(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, gast.Subscript) and isinstance(node.slice, gast.Slice):
        items = _literal_items(node.value)
        try:
            part = _static(node.slice)
        except _NotStatic:
            return None
        return None if items is None else items[part]
    return None


def _is_namespace_expr(node):
    while isinstance(node, gast.Attribute):
        node = node.value
    return isinstance(node, gast.Name) and node.id not in ("g", "t")


def _always_returns(stmts):
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, gast.Return):
        return True
    if isinstance(last, gast.If):
        return _always_returns(last.body) and _always_returns(last.orelse)
    return False


def _has_return(stmts):
    return any(isinstance(n, gast.Return) for n in _walk(stmts))


def _lower_returns(stmts, namer, base=None):
    """Turn a body ending in ``return`` into ``(statements, expression)``."""
    if stmts and isinstance(stmts[-1], gast.Return) and not _has_return(stmts[:-1]):
        return stmts[:-1], stmts[-1].value
    result = namer(base or "res")
    return _assign_returns(stmts, result), _name(result)


def _assign_returns(stmts, result):
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, gast.Return):
            out.append(gast.Assign(targets=[_name(result, gast.Store())], value=s.value,
                                   type_comment=None))
            return out
        if isinstance(s, gast.If) and _has_return([s]):
            rest = stmts[i + 1:]
            body = s.body if _always_returns(s.body) else s.body + rest
            orelse = s.orelse if _always_returns(s.orelse) else s.orelse + rest
            s.body = _assign_returns(body, result)
            s.orelse = _assign_returns(orelse, result)
            out.append(s)
            return out
        out.append(s)
    return out


# ---------------------------------------------------------------------------
# Rules derived from a single derivative formula
# ---------------------------------------------------------------------------

_PARSED = {}     # derivative function -> its Template (each parsed once, for both its rules)


def _parsed(d):
    t = _PARSED.get(d)
    if t is None:
        t = _PARSED[d] = Template.from_function(d)
    return t


def _derivative_body(d):
    """The statements and final expression of a derivative function ``d``."""
    t = _parsed(d)
    body = copy_tree(t.body)
    if not body or not isinstance(body[-1], gast.Return) or _has_return(body[:-1]):
        raise TypeError(f"derivative {d.__qualname__} must end in its only return")
    return t, body[:-1], body[-1].value


def _times(seed, expr):
    """``seed * expr``, written ``seed`` or ``-seed`` when ``expr`` is 1 or -1."""
    ok, val = static_value(expr)
    if ok and val == 1:
        return _name(seed)
    if ok and val == -1:
        return gast.UnaryOp(op=gast.USub(), operand=_name(seed))
    return gast.BinOp(left=_name(seed), op=gast.Mult(), right=expr)


def _positional_params(d, sig=None):
    """The names of ``d``'s parameters other than ``*args``, as its template lists them."""
    if sig is None:
        return list(_parameters(d)[0])      # (read off the code object: no ``inspect``)
    return [p.name for p in sig.parameters.values() if p.kind is not p.VAR_POSITIONAL]


def scaled_rule(d, seed, kind):
    """The rule ``seed * d(xp, x, ans)`` of a unary elementwise function (seed: g or t)."""
    return scaled_function(d), scaled_template(d, seed, kind)


def scaled_function(d, sig=None):
    """The callable of ``scaled_rule`` (for the tracer), without parsing ``d``'s source
    (``sig``: ``d``'s signature, when the caller has it)."""
    d_params = _positional_params(d, sig)
    extra = [p for p in d_params if p not in ("xp", "ans", "x")]
    with_ans = "ans" in d_params

    def fn(xp, s, ans, x, *args, **kwargs):
        kw = dict(zip(extra, args), **kwargs)
        return s * d(xp, x, ans=ans, **kw) if with_ans else s * d(xp, x, **kw)
    return fn


def scaled_template(d, seed, kind):
    """The template of ``scaled_rule`` (for the code generator): parses ``d``'s source."""
    t, stmts, expr = _derivative_body(d)
    params = ["xp", seed, "ans"] + [p for p in t.params if p not in ("xp", "ans")]
    product = _times(seed, expr)
    return Template(params, dict(t.defaults), stmts + [gast.Return(value=product)],
                    t.globals, f"{kind} of {t.name}")


def broadcast_rule(d, param, kind):
    """Rules of a broadcasting binary function from its partial ``d`` for ``param``.

    vjp: ``unbroadcast(g * d, param)``; jvp: ``broadcast_like(t * d, ans)``.
    """
    return broadcast_function(d, param, kind), broadcast_template(d, param, kind)


def broadcast_function(d, param, kind, sig=None):
    """The callable of ``broadcast_rule`` (for the tracer), without parsing ``d``'s source."""
    d_params = _positional_params(d, sig)
    helper_fn = getattr(_runtime, "unbroadcast" if kind == "vjp" else "broadcast_like")
    primal = [p for p in d_params if p not in ("xp", "ans")]
    with_ans = "ans" in d_params

    def fn(xp, s, ans, *args, **kwargs):
        vals = dict(zip(primal, args), **kwargs)
        dv = d(xp, ans=ans, **vals) if with_ans else d(xp, **vals)
        return helper_fn(s * dv, vals[param] if kind == "vjp" else ans)
    return fn


def broadcast_template(d, param, kind):
    """The template of ``broadcast_rule`` (for the code generator): parses ``d``'s source."""
    t, stmts, expr = _derivative_body(d)
    seed = "g" if kind == "vjp" else "t"
    params = ["xp", seed, "ans"] + [p for p in t.params if p not in ("xp", "ans")]
    product = _times(seed, expr)
    if kind == "vjp":
        helper, ref = "unbroadcast", param
    else:
        helper, ref = "broadcast_like", "ans"
    call = gast.Call(func=_name(helper), args=[product, _name(ref)], keywords=[])
    glob = dict(t.globals)
    glob[helper] = getattr(_runtime, helper)
    return Template(params, dict(t.defaults), stmts + [gast.Return(value=call)], glob,
                    f"{kind}_{param} of {t.name}")
