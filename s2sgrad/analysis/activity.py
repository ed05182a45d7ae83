"""Activity analysis: which variables carry a derivative.

A variable is *varied* when its value depends on a differentiated input and
*useful* when the output depends on it; it is *active* when both.  Only active
variables get adjoints, so code for ``n``, ``i``, ``len(x)``, masks and data
arrays never appears in the backward sweep.  The analysis is flow-insensitive:
a name is active if any of its assignments makes it so.

This module also answers the two questions every later pass asks of an
expression: which names it reads in differentiable positions (``diff_names``)
and what a call in it calls (``callee_of``).
"""

import inspect

import gast
import numpy

import s2sgrad.naming as naming
from . import shift
from ..syntax import drop_stmts, walk_stmts  # noqa: F401 (re-exported for the passes)
from ..errors import UnsupportedArgumentError, UnsupportedError
from ..frontend.resolve import ARRAY_WRITING_FUNCTIONS, ARRAY_WRITING_METHODS
from ..rules import registry
from ..rules.template import static_value
from ..syntax import walk as _walk

__all__ = ["Activity", "callee_of", "diff_names", "bind_primitive", "attribute_primitive",
           "int_names", "walk_stmts", "op_name", "CHANGING_METHODS"]

_OPS = {gast.Add: "add", gast.Sub: "sub", gast.Mult: "mult", gast.Div: "div", gast.Pow: "pow",
        gast.MatMult: "matmult", gast.Mod: "mod", gast.FloorDiv: "floordiv",
        gast.USub: "usub", gast.UAdd: "uadd", gast.Not: "not", gast.Invert: "invert",
        gast.BitAnd: "bitand", gast.BitOr: "bitor", gast.BitXor: "bitxor",
        gast.LShift: "lshift", gast.RShift: "rshift"}


def op_name(op):
    return _OPS.get(type(op))


def callee_of(call, resolver):
    """The ``Callee`` of a call node (cached on the node)."""
    callee = getattr(call, "s2s_callee", None)
    if callee is None:
        callee = resolver.callee(call)
        call.s2s_callee = callee
    return callee


def attribute_primitive(attr):
    """``(primitive, nondiff)`` for an attribute read on a value (``x.T``, ``x.shape``)."""
    hit = registry.method_primitive(attr)
    if hit is None:
        return None
    return hit[0]


def bind_primitive(prim, call, callee, where):
    """Bind a call's argument nodes to the primitive's parameters: ``{param: node}``."""
    args = list(call.args)
    if callee.kind == "method":
        receiver = callee.receiver
        if callee.packs and len(args) > 1:
            args = [gast.Tuple(elts=args, ctx=gast.Load())]
        args = [receiver] + args
    kwargs = {kw.arg: kw.value for kw in call.keywords}
    try:
        return prim.bind(args, kwargs)
    except TypeError as exc:
        raise UnsupportedError(where, f"this call to {callee.name} ({exc})",
                               f"its derivative rules take the arguments "
                               f"{', '.join(prim.params)}") from None


def _bind_or_none(prim, call, callee):
    """``bind_primitive``, None where the arguments do not bind (an error further on)."""
    try:
        return bind_primitive(prim, call, callee, "?")
    except UnsupportedError:
        return None


def diff_names(node, resolver, where="?"):
    """Names that ``node`` reads in positions a derivative flows through."""
    out = set()
    _diff_names(node, resolver, out, where)
    return out


def _diff_names(node, resolver, out, where):
    if node is None:
        return
    if isinstance(node, gast.Name):
        if isinstance(node.ctx, gast.Load):
            out.add(node.id)
        return
    if isinstance(node, (gast.Constant, gast.Compare, gast.JoinedStr, gast.Lambda)):
        return
    if isinstance(node, gast.BinOp):
        prim = registry.operator_primitive(op_name(node.op))
        if prim is None or prim.nondiff:
            return
        free = getattr(node, shift.FREE, None)
        if free is not None:        # a log-sum-exp's shift (analysis/shift.py)
            inner = set()
            _diff_names(node.left, resolver, inner, where)
            _diff_names(node.right, resolver, inner, where)
            inner.discard(free)
            out |= inner
            return
        _diff_names(node.left, resolver, out, where)
        _diff_names(node.right, resolver, out, where)
        return
    if isinstance(node, gast.UnaryOp):
        prim = registry.operator_primitive(op_name(node.op))
        if prim is not None and not prim.nondiff:
            _diff_names(node.operand, resolver, out, where)
        return
    if isinstance(node, gast.BoolOp):
        for v in node.values:
            _diff_names(v, resolver, out, where)
        return
    if isinstance(node, gast.IfExp):
        _diff_names(node.body, resolver, out, where)
        _diff_names(node.orelse, resolver, out, where)
        return
    if isinstance(node, gast.Subscript):
        _diff_names(node.value, resolver, out, where)
        return
    if isinstance(node, gast.Attribute):
        prim = attribute_primitive(node.attr)
        if prim is not None and prim.nondiff:
            return
        _diff_names(node.value, resolver, out, where)
        return
    if isinstance(node, (gast.Tuple, gast.List)):
        for e in node.elts:
            _diff_names(e, resolver, out, where)
        return
    if isinstance(node, gast.Dict):
        for v in node.values:
            _diff_names(v, resolver, out, where)
        return
    if isinstance(node, gast.Call):
        callee = callee_of(node, resolver)
        kind = callee.kind
        if kind == "nondiff" or getattr(node, shift.NONE, False):
            return
        if kind in ("primitive", "method"):
            bound = bind_primitive(callee.prim, node, callee, where)
            va = registry.varargs_param(callee.prim)
            for p, v in bound.items():
                if p in callee.prim.vjp or p in callee.prim.jvp:
                    for item in (v if p == va else [v]):
                        _diff_names(item, resolver, out, where)
            return
        if kind == "container":
            if callee.receiver is not None:
                method = node.func.attr
                if method in ("index", "count", "keys"):
                    return
                _diff_names(callee.receiver, resolver, out, where)
            for a in node.args:
                _diff_names(a, resolver, out, where)
            return
        if isinstance(node.func, gast.Attribute) and callee.receiver is not None:
            _diff_names(callee.receiver, resolver, out, where)
        if kind == "dynamic" and not isinstance(node.func, gast.Attribute):
            # a callable held by a variable, a list or dict item, or given by a call (an
            # object made here, a closure, a bound method Poly(x).ev, getattr(o, "ev")) may
            # hold values that carry derivatives
            _diff_names(node.func, resolver, out, where)
        for a in node.args:
            _diff_names(a, resolver, out, where)
        for kw in node.keywords:
            _diff_names(kw.value, resolver, out, where)
        return
    for child in gast.iter_child_nodes(node):
        if isinstance(child, gast.expr):
            _diff_names(child, resolver, out, where)


class Activity:
    """Varied, useful and active names of one normalized function."""

    def __init__(self, norm, active_params):
        self.norm = norm
        self.resolver = norm.resolver
        body = norm.node.body
        if not getattr(norm, "s2s_shift_marked", False):     # (once per normalized function)
            shift.mark(body, lambda call: callee_of(call, self.resolver), _bind_or_none,
                       {v for _, free in (getattr(norm, "nested", None) or {}).values()
                        for v in free})
            norm.s2s_shift_marked = True
        flows = list(self._flows(body))
        # A local function or lambda used as a value reads its free variables when it is
        # called: as a value, it carries their derivatives (see ``closures``).
        flows += [(fname, set(free)) for fname, (_, free) in
                  (getattr(norm, "nested", None) or {}).items() if free]
        varied = set(active_params)
        changed = True
        while changed:
            changed = False
            for target, sources in flows:
                if target not in varied and sources & varied:
                    varied.add(target)
                    changed = True
        useful = {norm.return_name} if norm.return_name else set()
        changed = True
        while changed:
            changed = False
            for target, sources in flows:
                if target in useful and not sources <= useful:
                    useful |= sources
                    changed = True
        self.varied = varied
        self.useful = useful
        self.active = varied & useful
        self.closures = self._closure_names(flows)
        self._check_expressions(body)
        self._check_unused_calls(body)
        self._check_closures(body)

    def _flows(self, body):
        """``(target, names its new value depends on)`` for each place a value flows."""
        fsrc = self.norm.fsrc
        integral = _integer_arrays(body, self.resolver)
        for s in walk_stmts(body):
            where = fsrc.where(s)
            if isinstance(s, gast.Assign):
                target = s.targets[0]
                sources = diff_names(s.value, self.resolver, where)
                if isinstance(target, gast.Name):
                    # v = l.pop() depends on l through diff_names; an integer array (a cast,
                    # np.zeros(n, dtype=int)) on nothing
                    yield target.id, sources if target.id not in integral else set()
                elif isinstance(target, gast.Subscript) and isinstance(target.value, gast.Name) \
                        and target.value.id not in integral:
                    # (a value written into an integer array is truncated: no derivative)
                    yield target.value.id, sources
            if isinstance(s, gast.Expr) and is_runtime_call(s.value, "restore_item", 3) \
                    and isinstance(s.value.args[0], gast.Name):
                # generated code: ``_rt.restore_item(d, key, value)`` writes ``d[key]``
                yield s.value.args[0].id, diff_names(s.value.args[2], self.resolver, where)
            if isinstance(s, (gast.Assign, gast.Expr)) and _is_tape_write(s.value):
                # generated code: ``_rt.call_fwd(_tape, fn, args, ...)`` saves on the tape
                # what the call's backward sweep (``_rt.call_bwd(_tape, ...)``) reads
                yield s.value.args[0].id, diff_names(s.value.args[2], self.resolver, where)
            if isinstance(s, gast.Expr) and isinstance(s.value, gast.Call):
                callee = callee_of(s.value, self.resolver)
                if callee.kind == "container" and isinstance(callee.receiver, gast.Name):
                    sources = set()
                    for a in s.value.args:
                        sources |= diff_names(a, self.resolver, where)
                    yield callee.receiver.id, sources

    def _check_expressions(self, body):
        """Refuse, at the user's line, what the derivative of an expression on varied values
        would get wrong: a call no rule differentiates as written (``_check_call``), ``+``,
        ``*`` or ``|`` joining or repeating containers, a dict written with ``**``, a method
        changing a list the same statement reads again, a slice of a list replaced.  One
        walk of every expression of ``body``."""
        fsrc = self.norm.fsrc
        held = _container_names(body, self.resolver)
        for s in walk_stmts(body):
            where = fsrc.where(s)
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                    and isinstance(s.targets[0].slice, gast.Slice) \
                    and isinstance(s.targets[0].value, gast.Name) \
                    and s.targets[0].value.id in held \
                    and (_names(s.value) | {s.targets[0].value.id}) & self.varied:
                # (a slice of a list replaced: the adjoint is written as an array's)
                raise UnsupportedError(
                    where, "an assignment to a slice of a list of values that carry "
                    "derivatives", "assign its items one by one, or build a new list")
            for expr in _own_expressions(s):
                for node in _walk(expr):
                    if isinstance(node, gast.Call):
                        self._check_call(node, where)
                        self._check_changed_and_read(node, s, where)
                    elif isinstance(node, (gast.Dict, gast.BinOp)):
                        self._check_container_operator(node, held, where)

    def _check_call(self, node, where):
        out = next((kw.value for kw in node.keywords if kw.arg == "out"), None)
        parts = [node.func] + list(node.args) + [kw.value for kw in node.keywords
                                                 if kw.arg != "out"]
        if not any(diff_names(p, self.resolver, where) & self.varied for p in parts):
            return
        callee = callee_of(node, self.resolver)
        if callee.kind in ("dynamic", "user") and isinstance(node.func, gast.Attribute) \
                and callee.receiver is not None \
                and not isinstance(callee.receiver, gast.Name) \
                and diff_names(callee.receiver, self.resolver, where) & self.varied:
            # ``Base(x).val()``: the object is made in the expression, where no name follows
            # what it holds (the call ran without the derivative through the object)
            raise UnsupportedError(
                where, f"the method call {callee.name}(...) on an object that an expression "
                f"gives (not a name) and that holds values carrying derivatives",
                "assign the object to a name first (obj = ...; obj.method(...))")
        if callee.kind not in ("primitive", "method") or callee.prim.nondiff \
                or callee.prim.family == "s2sgrad.runtime":
            return          # (a user's function may well have a parameter called out)
        if out is None and len(node.args) > 1:
            # a ufunc's out given by position, after its nin inputs: np.multiply(y, 2.0, y)
            ok, fn = self.resolver.static_value(node.func)
            nin = getattr(fn, "nin", None) if ok and isinstance(fn, numpy.ufunc) else None
            if nin is not None and len(node.args) > nin:
                out = node.args[nin]
        if out is not None and not (isinstance(out, gast.Constant) and out.value is None):
            raise UnsupportedArgumentError(where, callee.name, "out=", registry.OUT_ADVICE)
        bound = None
        if callee.prim.name in _DTYPE_REDUCTIONS:
            # (np.sum(x, dtype=int), np.sum(x, None, int))
            bound = bind_primitive(callee.prim, node, callee, where)
        dtype = bound.get("dtype") if bound is not None else None
        if dtype is not None and _integer_dtype(dtype, self.resolver):
            # (the rules differentiate the float computation: its integer result has none)
            raise UnsupportedArgumentError(
                where, callee.name, "an integer dtype=",
                "its result is rounded to integers, which carry no derivative; compute in "
                "floats, or wrap the call in s2sgrad.stop_gradient(...) if it should not be "
                "differentiated")
        if callee.prim.check is None and "out" not in callee.prim.params:
            return
        if bound is None:
            bound = bind_primitive(callee.prim, node, callee, where)
        va = registry.varargs_param(callee.prim)
        args = {p: tuple(_known(e, self.resolver) for e in v) if p == va
                else _known(v, self.resolver) for p, v in bound.items()}
        problem = registry.unsupported_arguments(callee.prim, args)
        if problem:
            raise UnsupportedArgumentError(where, callee.name, *problem)

    def _check_container_operator(self, node, held, where):
        """Refuse ``+``, ``*`` and ``|`` on a list, a tuple or a dict (written out, or a name in
        ``held``: ``l + [v]``, ``[v] * 2``, ``d | {...}``) with values that carry derivatives
        (the rules of those operators are arithmetic's, where these join or repeat
        containers), and a dict written with ``**`` of such values."""
        if isinstance(node, gast.Dict):
            if None in node.keys and _names(node) & self.varied:
                raise UnsupportedError(
                    where, "a dict written with ** of values that carry derivatives",
                    "write its items out, or copy it (dict(d)) and assign the new items")
        elif any(isinstance(side, _CONTAINER_LITERALS)
                 or isinstance(side, gast.Name) and side.id in held
                 for side in (node.left, node.right)) and _names(node) & self.varied:
            raise UnsupportedError(
                where, f"the operator {_OPERATOR_TEXT.get(type(node.op), 'on')} joining or "
                f"repeating a list, tuple or dict of values that carry derivatives",
                "build it with append, or with np.concatenate / np.tile on arrays")

    def _check_changed_and_read(self, node, s, where):
        """Refuse a call of a method changing a list or dict carrying derivatives in a
        statement ``s`` that reads it elsewhere (``v = l[-1] * l.pop()``): the generated code
        makes the call first, where Python reads from left to right."""
        f = node.func
        if isinstance(f, gast.Attribute) and f.attr in CHANGING_METHODS \
                and isinstance(f.value, (gast.Subscript, gast.Attribute)) \
                and set().union(_names(f.value), *map(_names, node.args),
                                *(_names(k.value) for k in node.keywords)) & self.varied:
            # (the transform follows a container's changes by the name changed: one reached
            # through an item or an attribute, d["a"].append(v), lost what was added)
            text = gast.unparse(f.value)
            raise UnsupportedError(
                where, f"`{f.attr}` changing the list or dict {text}, reached through an item "
                f"or an attribute, with values that carry derivatives",
                f"build it under a name of its own and put it in the container after its "
                f"last change (part = []; part.{f.attr}(...); then the container holding "
                f"part)")
        if isinstance(f, gast.Attribute) and f.attr in CHANGING_METHODS \
                and isinstance(f.value, gast.Name) and node.args \
                and set().union(*map(_names, node.args)) & self.varied \
                and self._names_container_type(f.value):
            # (list.append(parts, v): the container changed is an argument, which the
            # transform did not see changed)
            first = gast.unparse(node.args[0])
            raise UnsupportedError(
                where, f"`{f.value.id}.{f.attr}` called on {first} with values that carry "
                f"derivatives", f"call it as a method: {first}.{f.attr}(...)")
        if not (isinstance(f, gast.Attribute) and f.attr in CHANGING_METHODS
                and isinstance(f.value, gast.Name) and f.value.id in self.varied):
            return
        if node is getattr(s, "value", None) and isinstance(s, gast.Expr):
            return          # (l.append(l[-1] * 2): the statement is the call)
        l = f.value.id
        reads = sum(isinstance(n, gast.Name) and n.id == l
                    for e in _own_expressions(s) for n in _walk(e))
        if reads > 1:
            raise UnsupportedError(
                where, f"`{f.attr}` changing {l} in an expression that reads {l} again",
                f"make the call in a statement of its own (v = {l}.{f.attr}(...)) and read "
                f"{l} in another")

    def _names_container_type(self, node):
        """Whether ``node`` (a name) is the type list, dict or set itself."""
        try:
            ok, value = self.resolver.static_value(node)
        except Exception:       # noqa: BLE001 - not known: not the type
            return False
        return ok and value in (list, dict, set)

    def _check_unused_calls(self, body):
        """Refuse a call whose result is not used (a statement of its own) that the compiler
        cannot see into, given values that carry derivatives: it may change them in place
        (``l.reverse()``, a helper it traces that writes into its argument), which the
        derivative would miss."""
        fsrc = self.norm.fsrc
        for s in walk_stmts(body):
            if not (isinstance(s, gast.Expr) and isinstance(s.value, gast.Call)):
                continue
            node = s.value
            f = node.func
            if isinstance(f, gast.Attribute) and (
                    isinstance(f.value, gast.Name) and f.value.id == naming.RUNTIME
                    or f.attr in ARRAY_WRITING_FUNCTIONS | ARRAY_WRITING_METHODS):
                continue    # (generated code's own checks; NumPy's writes, said at the builder)
            if isinstance(f, gast.Attribute) and f.attr in _CONTAINER_METHODS:
                # a list's, dict's or set's method changes its receiver only
                changed = [f.value]
            else:
                changed = [f.value] if isinstance(f, gast.Attribute) else []
                changed += list(node.args) + [kw.value for kw in node.keywords]
            read = set().union(*map(_names, changed)) & self.varied
            if not read:
                continue
            try:
                callee = callee_of(node, self.resolver)
            except Exception:       # (the builder says why)
                continue
            if callee.kind in ("dynamic", "norule", "traced"):
                raise UnsupportedError(
                    fsrc.where(s), f"the call {callee.name}(...), whose result is not used, "
                    f"given {', '.join(sorted(read))}, which carr{'ies' if len(read) == 1 else 'y'}"
                    f" derivatives", "it may change them in place, which the generated code "
                    "cannot follow: assign what it computes instead")

    def _closure_names(self, flows):
        """Varied names that hold a local function or lambda reading a varied value
        (``f = lambda v: v * w``, ``g = f``): callables that carry derivatives."""
        nested = getattr(self.norm, "nested", None) or {}
        out = {n for n, (_, free) in nested.items() if set(free) & self.varied}
        changed = True
        while changed:
            changed = False
            for s in walk_stmts(self.norm.node.body):
                if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                        and isinstance(s.value, gast.Name) and s.value.id in out \
                        and s.targets[0].id not in out:
                    out.add(s.targets[0].id)
                    changed = True
        return out

    def closure_reads(self, fname):
        """The varied values the callable ``fname`` reads (its free variables)."""
        nested = getattr(self.norm, "nested", None) or {}
        if fname in nested:
            return sorted(set(nested[fname][1]) & self.varied)
        return []

    def _check_closures(self, body):
        """Refuse, at the user's line, a callable carrying derivatives passed to a function
        that cannot differentiate through it: never a silent zero.

        A local function or lambda that reads a value carrying a derivative is
        differentiable data.  Passed as ``key=`` (``sorted``, ``min``, ``max``), it only
        orders values and no derivative flows through it; passed to a user function or a
        call decided at run time, the dynamic dispatcher differentiates the call with the
        callable's values (``driver.dynamic``); a primitive whose rules take the callable
        (``registry.Primitive.callable_params``) differentiates through it.  Anything
        else is an error here, in both modes.
        """
        fsrc = self.norm.fsrc
        for s in walk_stmts(body):
            for expr in _own_expressions(s):
                for node in _walk(expr):
                    if isinstance(node, gast.Call):
                        self._check_closure_call(node, fsrc.where(s))
            if self.closures:
                self._check_closure_uses(s, fsrc.where(s))

    def _check_closure_uses(self, s, where):
        """A callable carrying derivatives may be called, passed to a call or named again
        (``g = f``); kept anywhere else (a list, a dict, an attribute, returned) its values
        would travel where no derivative follows them: an error, never a silent zero."""
        allowed = set()
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and isinstance(s.value, gast.Name):
            allowed.add(id(s.value))
        for expr in _own_expressions(s):
            for node in _walk(expr):
                if isinstance(node, gast.Call):
                    allowed.add(id(node.func))
                    allowed.update(id(a) for a in node.args)
                    allowed.update(id(kw.value) for kw in node.keywords)
        for expr in _own_expressions(s):
            for node in _walk(expr):
                if isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load) \
                        and node.id in self.closures and id(node) not in allowed:
                    reads = self.callable_reads(node.id)
                    raise UnsupportedError(
                        where, f"keeping {self._callable_text(node.id)}, which reads "
                        f"{_listing(reads)} (carrying derivatives), in a list, dict, object "
                        f"or result", "call it, or pass it to the function that calls it, "
                        "directly")

    def _check_closure_call(self, node, where):
        passed = [(k, a) for k, a in enumerate(node.args)] + \
            [(kw.arg, kw.value) for kw in node.keywords]
        self._check_callable_params(node, passed, where)
        passed = [(k, a) for k, a in passed if isinstance(a, gast.Name) and a.id in self.closures
                  and not getattr(a, "s2s_unbound", False)]
        if not passed:
            return
        callee = callee_of(node, self.resolver)
        for k, a in passed:
            if k == "key":
                continue        # sorted(xs, key=...), max(..., key=...): it only orders values
            if callee.kind in ("user", "lifted", "dynamic"):
                continue        # transformed or traced with the callable's values
            reads = self.callable_reads(a.id)
            carry = "carries a derivative" if len(reads) == 1 else "carry derivatives"
            raise UnsupportedError(
                where, f"passing {self._callable_text(a.id)} to {callee.name}",
                f"it reads {_listing(reads)}, which {carry}, and s2sgrad cannot differentiate "
                f"{callee.name} through a "
                f"function it is given (it would silently take the derivative as zero); "
                f"pass those values as arguments where {callee.name} takes them (odeint's "
                f"args=), write the computation with a loop, or wrap the values in "
                f"s2sgrad.stop_gradient(...) if they should not be differentiated")

    def _check_callable_params(self, node, passed, where):
        """A function given to a primitive that calls it (``quad``'s ``func``) and reads
        values carrying derivatives in any form (``functools.partial(h, w=w)``, an object's
        method) other than a local function whose values go to its ``args``: an error."""
        callee = callee_of(node, self.resolver)
        params = getattr(callee.prim, "callable_params", ()) \
            if callee.kind in ("primitive", "method") else ()
        if not params:
            return
        for k, a in passed:
            if closure_param(callee, node, k) not in params \
                    or getattr(a, "s2s_unbound", False) \
                    or isinstance(a, gast.Name) and a.id in self.closures:
                continue      # (a closure: refused with its name below)
            reads = sorted({n.id for n in _walk(a) if isinstance(n, gast.Name)
                            and isinstance(n.ctx, gast.Load)} & self.varied)
            if reads:
                raise UnsupportedError(
                    where, f"a function reading {_listing(reads)} (carrying derivatives) "
                    f"given to {callee.name}",
                    f"s2sgrad cannot differentiate {callee.name} through the values such a "
                    f"function holds; pass them in args=(...) (a lambda or local function "
                    f"defined here can read them: s2sgrad passes them for it)")

    def callable_reads(self, fname):
        """The varied values callable ``fname`` reads, through its aliases."""
        seen, todo, out = set(), [fname], []
        nested = getattr(self.norm, "nested", None) or {}
        while todo:
            n = todo.pop()
            if n in seen:
                continue
            seen.add(n)
            if n in nested:
                out += [v for v in self.closure_reads(n) if v not in out]
            for s in walk_stmts(self.norm.node.body):
                if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                        and s.targets[0].id == n and isinstance(s.value, gast.Name):
                    todo.append(s.value.id)
        return out

    def _callable_text(self, fname):
        nested = getattr(self.norm, "nested", None) or {}
        fdef = nested.get(fname, (None,))[0]
        if fname.startswith("lambda_fn") and fdef is not None:
            return f"a lambda (line {getattr(fdef, 'lineno', '?')})"
        return f"the function {fname}"

    def expr_active(self, node, where="?"):
        return bool(diff_names(node, self.resolver, where) & self.active)


def _listing(names):
    """``w``, ``w and k``, ``a, b and c``: the values a callable reads, for a message."""
    names = list(names) or ["values"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def closure_param(callee, node, k):
    """The parameter of primitive ``callee`` that argument ``k`` (a position or a
    keyword) of ``node`` binds, or ``None``."""
    if isinstance(k, str):
        return k
    params = list(callee.prim.params)
    if callee.kind == "method":
        k += 1
    return params[k] if k < len(params) else None


def is_runtime_call(node, attr, nargs=0):
    """Whether ``node`` is ``_rt.<attr>(...)`` with at least ``nargs`` arguments."""
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
        and node.func.attr == attr and isinstance(node.func.value, gast.Name) \
        and node.func.value.id == naming.RUNTIME and len(node.args) >= nargs


def _is_tape_write(node):
    return is_runtime_call(node, "call_fwd", 3) and isinstance(node.args[0], gast.Name)


def _own_expressions(stmt):
    """The expressions of a statement itself (not of the statements in its body)."""
    for _, value in gast.iter_fields(stmt):
        if isinstance(value, gast.expr):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, gast.expr))


# methods of list, dict and set: what they change is their receiver
_CONTAINER_METHODS = frozenset(
    name for cls in (list, dict, set) for name in dir(cls) if not name.startswith("_"))
# reductions whose rules differentiate the sum (product, mean...) in floats, whatever dtype=
_DTYPE_REDUCTIONS = frozenset({
    "sum", "prod", "mean", "cumsum", "cumprod", "nansum", "nanprod", "nanmean", "nancumsum",
    "nancumprod", "trace", "var", "std", "nanvar", "nanstd", "average", "einsum"})
# methods of list and dict that change their receiver
CHANGING_METHODS = frozenset({"pop", "append", "extend", "insert", "remove", "clear", "update",
                               "setdefault", "popitem", "sort", "reverse"})
_CONTAINER_LITERALS = (gast.List, gast.Tuple, gast.Dict, gast.ListComp, gast.DictComp)
_OPERATOR_TEXT = {gast.Add: "+", gast.Mult: "*", gast.BitOr: "|"}


def _names(node):
    return {n.id for n in _walk(node) if isinstance(n, gast.Name)}


_CONTAINER_BUILDERS = (list, tuple, dict, sorted)


def _container_names(body, resolver):
    """Names that surely hold a list, tuple or dict: every binding of the name assigns one
    written out (``l = [x, y]``), built (``list(...)``, ``sorted(...)``), a slice of such a
    name or such names joined (``l = l * 2``, the normalized ``l *= 2``)."""
    bound = {}          # name -> the values assigned to it; None: bound some other way
    for s in walk_stmts(body):
        simple = isinstance(s, gast.Assign) and len(s.targets) == 1 \
            and isinstance(s.targets[0], gast.Name)
        if simple:
            values = bound.setdefault(s.targets[0].id, [])
            if values is not None:
                values.append(s.value)
        for expr in ([s.targets[0]] if simple else []) + list(_own_expressions(s)):
            for n in _walk(expr):
                if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)) \
                        and not (simple and n is s.targets[0]):
                    bound[n.id] = None
        for t in getattr(s, "targets", ()) if not simple else ():
            for n in _walk(t):
                if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                    bound[n.id] = None
        if isinstance(s, (gast.For, gast.AsyncFor, gast.With)) or hasattr(s, "target"):
            for n in _walk(getattr(s, "target", None) or gast.Pass()):
                if isinstance(n, gast.Name) and not isinstance(n.ctx, gast.Load):
                    bound[n.id] = None

    def holds(value, held):
        if isinstance(value, _CONTAINER_LITERALS):
            return True
        if isinstance(value, gast.Name):
            return value.id in held
        if isinstance(value, gast.Subscript) and isinstance(value.slice, gast.Slice):
            return holds(value.value, held)
        if isinstance(value, gast.BinOp) and isinstance(value.op, (gast.Add, gast.Mult)):
            return holds(value.left, held) or holds(value.right, held)
        if isinstance(value, gast.Call) and isinstance(value.func, gast.Name):
            ok, fn = resolver.static_value(value.func)
            return ok and any(fn is b for b in _CONTAINER_BUILDERS)
        return False

    held = set()
    changed = True
    while changed:
        changed = False
        for name, values in bound.items():
            if name not in held and values and all(holds(v, held | {name}) for v in values) \
                    and any(holds(v, held) for v in values):
                held.add(name)
                changed = True
    return held


def _integer_arrays(body, resolver):
    """The names every assignment of which (but item writes) makes an array of an integer or
    bool dtype given by ``dtype=`` (``y = np.zeros(3, dtype=int)``), by position
    (``np.zeros(3, int)``), by ``.astype(int)``, or by integers written out
    (``np.array([0, 0])``, ``np.arange(3)``)."""
    made = {}
    for s in walk_stmts(body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            v = s.value
            integral = False
            if isinstance(v, gast.Call):
                dtype = next((kw.value for kw in v.keywords if kw.arg == "dtype"), None)
                if dtype is None and isinstance(v.func, gast.Attribute) \
                        and v.func.attr == "astype" and v.args:
                    dtype = v.args[0]
                fn = _numpy_function(v, resolver) if dtype is None else None
                if fn is not None:
                    dtype = _positional_dtype(fn, v)
                    # (np.array([0, 1]), np.arange(3): NumPy makes integers of integers)
                    integral = dtype is None and fn in _FROM_VALUES and _int_literals(v)
                if dtype is not None:
                    integral = _integer_dtype(dtype, resolver)
            made[s.targets[0].id] = made.get(s.targets[0].id, True) and integral
        elif isinstance(s, gast.For):
            for n in _walk(s.target):
                if isinstance(n, gast.Name):
                    made[n.id] = False
    return {k for k, v in made.items() if v}


_FROM_VALUES = (numpy.array, numpy.asarray, numpy.arange)


def _numpy_function(call, resolver):
    """The NumPy function ``call`` calls (``np.zeros``), known statically, else None."""
    try:
        ok, fn = resolver.static_value(call.func)
    except Exception:      # noqa: BLE001 - an unresolvable callee is another pass's error
        return None
    module = getattr(fn, "__module__", None) or ""
    return fn if ok and callable(fn) and module.split(".")[0] == "numpy" else None


def _positional_dtype(fn, call):
    """The node ``call`` passes to NumPy function ``fn``'s ``dtype`` parameter by position
    (``np.zeros(3, int)``), else None."""
    if not call.args or any(isinstance(a, gast.Starred) for a in call.args):
        return None
    sig = _SIGNATURES.get(fn, _SIGNATURES)
    if sig is _SIGNATURES:
        try:
            sig = inspect.signature(fn)
            if "dtype" not in sig.parameters:
                sig = None
        except (TypeError, ValueError):
            sig = None
        _SIGNATURES[fn] = sig
    if sig is None:
        return None
    try:
        bound = sig.bind_partial(*call.args)
    except TypeError:
        return None
    return bound.arguments.get("dtype")


_SIGNATURES = {}    # NumPy function -> its signature (None: no dtype parameter, or none known)


def _int_literals(call):
    """Whether ``call``'s arguments are integers written out (``[0, 0, 1]``, ``3``)."""
    ints = [n for n in _walk(call) if isinstance(n, gast.Constant)]
    return not call.keywords and bool(ints) and all(
        type(n.value) is int or type(n.value) is bool for n in ints) and all(
        isinstance(n, (gast.Constant, gast.List, gast.Tuple, gast.UnaryOp, gast.USub,
                       gast.Load)) for a in call.args for n in _walk(a))


def _integer_dtype(node, resolver):
    """Whether ``node`` (a ``dtype=`` argument) is known to be an integer or bool dtype."""
    ok, value = static_value(node) if isinstance(node, gast.Constant) else \
        resolver.static_value(node)
    if not ok or value is None:
        return False
    try:
        return numpy.dtype(value).kind in "biu"
    except TypeError:
        return False


def _known(node, resolver):
    """The value of an argument the code generator can tell (a constant, a global
    function), else ``UNKNOWN``."""
    if not isinstance(node, gast.AST):
        return node
    ok, value = static_value(node)
    if not ok and isinstance(node, (gast.Name, gast.Attribute)):
        ok, value = resolver.static_value(node)
    return value if ok else registry.UNKNOWN


def int_names(norm):
    """Names that only ever hold integers: range loop variables and integer arithmetic."""
    body = norm.node.body
    candidates = {}
    loop_targets = set()
    for s in walk_stmts(body):
        if isinstance(s, gast.For):
            loop_targets.add(s.target.id)
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            candidates.setdefault(s.targets[0].id, []).append(s.value)
    ints = set(loop_targets)
    changed = True
    while changed:
        changed = False
        for nm, values in candidates.items():
            if nm not in ints and all(_is_int_expr(v, ints) for v in values):
                ints.add(nm)
                changed = True
    params = {a.id for a in norm.node.args.args}
    return ints - (params - loop_targets)


def _is_int_expr(node, ints):
    if isinstance(node, gast.Constant):
        return isinstance(node.value, int) and not isinstance(node.value, bool)
    if isinstance(node, gast.Name):
        return node.id in ints
    if isinstance(node, gast.BinOp) and isinstance(node.op, (gast.Add, gast.Sub, gast.Mult,
                                                             gast.FloorDiv, gast.Mod)):
        return _is_int_expr(node.left, ints) and _is_int_expr(node.right, ints)
    if isinstance(node, gast.UnaryOp) and isinstance(node.op, gast.USub):
        return _is_int_expr(node.operand, ints)
    if isinstance(node, gast.Call) and isinstance(node.func, gast.Name) and node.func.id == "len":
        return True
    return False

