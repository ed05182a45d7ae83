"""The effect and alias model: which names may refer to the same object, and which
statements write through them.

The transforms treat every name as its own value: ``y[0] = ...`` changes ``y``
and nothing else.  Python does not: a list, a dict or an object that holds ``y``
(``lst = [y]``), an item taken out of a container (``a = lst[0]``), a callee's
parameter (``scale_first(y)`` writing ``y[0] = ...``), an object attribute and a
module-level list all reach the same memory.  This module finds where that
matters, on a normalized function body, and says so at the user's line:

- *holds*: a statement after which one name may reach the object another name
  refers to: ``c = [v]``, ``c = (v,)``, ``c = {k: v}``, ``c.append(v)``,
  ``c.insert(i, v)``, ``c[k] = v``, and ``a = c[k]`` of a container ``c``;
- *writes through* ``v``: ``v[...] = ...``, ``v op= ...`` on an array or list, a
  mutating method (``v.append``, ``v.fill`` ...), and a call of a user function
  that writes into the parameter ``v`` is bound to (found by reading the callee,
  and its callees, the same way);
- *escapes*: a value that carries a derivative stored in an object attribute or
  in a container that is not local to the function (a module-level list).

A write through one name of an object that another name then reads, a callee's
write that the caller would see, and a derivative that escapes are refused with
an ``UnsupportedError`` (the driver then traces the function, which follows the
objects themselves and so is right); a derivative stored in module state and
read back there is refused with an ``EscapeError``, which is not traced: tracing
would leave traced values in the module's list.

Replacing an item of a list (``hidden[i] = h``) writes into the list, not into
the array the old item was: names that hold that array are not affected.  A
rebinding (``u = new``) writes into nothing.
"""

import inspect

import gast
import numpy

from ..errors import EscapeError, UnsupportedError
from .activity import CHANGING_METHODS, attribute_primitive, callee_of, walk_stmts
from ..syntax import root_name as _root_name, walk
from .liveness import definitely_assigned

__all__ = ["check_effects", "written_parameters", "MUTATING_METHODS"]

# Methods that change their receiver in place (lists, dicts, arrays).
MUTATING_METHODS = frozenset({
    "append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault",
    "popitem", "sort", "reverse", "fill", "resize", "put", "itemset", "partition",
    "setfield", "__setitem__", "__iadd__", "__imul__",
})

# Methods that put their argument itself (not a copy of it) into the receiver.
_HOLDING_METHODS = {"append": -1, "insert": -1, "setdefault": -1}

# Methods of a dict that return one of its items itself (not a copy), as ``d[k]`` does.
_ITEM_METHODS = frozenset({"get", "setdefault"})


def _text(node):
    import astor
    try:
        return astor.to_source(gast.gast_to_ast(node)).strip()
    except Exception:     # noqa: BLE001 - a message, never a failure
        return type(node).__name__


def _order(body):
    """``id(statement) -> (position in program order, ids of the loops around it)``."""
    out = {}
    counter = [0]

    def visit(stmts, loops):
        for s in stmts:
            out[id(s)] = (counter[0], loops)
            counter[0] += 1
            if isinstance(s, (gast.For, gast.While)):
                visit(s.body, loops | {id(s)})
                visit(s.orelse, loops)
            elif isinstance(s, gast.If):
                visit(s.body, loops)
                visit(s.orelse, loops)
    visit(body, frozenset())
    return out


def _ancestry(body):
    """``id(statement) -> [(block, index), ...]``: the statement lists that hold it or a
    statement around it, outermost first, each with the index of the one on its path."""
    out = {}

    def visit(stmts, path):
        for k, s in enumerate(stmts):
            here = path + [(stmts, k)]
            out[id(s)] = here
            if isinstance(s, (gast.For, gast.While, gast.If)):
                visit(s.body, here)
                visit(s.orelse, here)
    visit(body, [])
    return out


def _simple_stmts(body):
    return [s for s in walk_stmts(body) if not isinstance(s, (gast.If, gast.For, gast.While))]


def _loads(node):
    return {n.id for n in walk(node) if isinstance(n, gast.Name)
            and isinstance(n.ctx, gast.Load)}


def _own_loads(stmt):
    """Names a statement reads, its own expressions only (not the blocks it contains)."""
    if isinstance(stmt, (gast.If, gast.While)):
        return _loads(stmt.test)
    if isinstance(stmt, gast.For):
        return _loads(stmt.iter)
    return _loads(stmt)


def _call_of(stmt):
    if isinstance(stmt, (gast.Expr, gast.Assign)) and isinstance(stmt.value, gast.Call):
        return stmt.value
    return None


def _method_receiver(call):
    f = call.func
    if isinstance(f, gast.Attribute) and isinstance(f.value, gast.Name):
        return f.value.id, f.attr
    return None, None


def _is_method_call(call, resolver):
    """``v.method(...)`` on a value (a list, dict or array), not a module's function."""
    try:
        callee = callee_of(call, resolver)
    except Exception:      # noqa: BLE001 - an unresolvable call is another pass's error
        return False
    return callee.kind in ("container", "method") and isinstance(callee.receiver, gast.Name)


def _module_container(v, resolver):
    """Whether the free name ``v`` holds a list, dict or array (not a module, a function)."""
    try:
        ok, value = resolver.static_value(gast.Name(id=v, ctx=gast.Load(), annotation=None,
                                                    type_comment=None))
    except Exception:      # noqa: BLE001
        return False
    return ok and isinstance(value, (list, dict, numpy.ndarray))


def _user_callee(call, resolver):
    try:
        callee = callee_of(call, resolver)
    except Exception:      # noqa: BLE001 - an unresolvable call is another pass's error
        return None
    return callee if callee.kind in ("user", "lifted") else None


def _bound_params(call, callee, job):
    """``[(parameter of the callee, argument node)]`` for a call of a user function."""
    params = list(job.param_names)
    pairs = []
    if getattr(job, "binds_receiver", False) or callee.receiver is not None:
        if callee.receiver is not None and params:
            pairs.append((params[0], callee.receiver))     # ``obj.method(...)``: self is obj
        params = params[1:]
    pairs += [(p, a) for p, a in zip(params, call.args)]
    pairs += [(kw.arg, kw.value) for kw in call.keywords if kw.arg in params]
    return pairs


def _is_attribute_how(how):
    return how.startswith(("touch", "attribute"))


def _merged_attribute_how(a, b):
    """Two attribute writes of one parameter as one: ``attribute`` if either stores a value
    from other names, with ``!`` if either writes in place."""
    return ("attribute" if "attribute" in (a.rstrip("!"), b.rstrip("!")) else "touch") \
        + ("!" if a.endswith("!") or b.endswith("!") else "")


def written_parameters(job, program, _seen=None):
    """``{parameter: how}``: the parameters of ``job``'s function that it (or a function it
    calls with them) writes into in place (``how`` as in ``_writes_through``)."""
    cache = getattr(job, "_s2s_written_params", None)
    if cache is not None:
        return cache
    seen = _seen if _seen is not None else set()
    if id(job) in seen:
        return {}
    seen.add(id(job))
    norm = job.norm
    params = set(job.param_names)
    body = norm.node.body
    holds = _parameter_views(body, params, norm.resolver)
    # names bound to an attribute of an object (``item = self.arr``): name -> the object
    attr_names = {}
    for s in _simple_stmts(body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            hit = _user_attribute(s.value)
            if hit is not None:
                attr_names[s.targets[0].id] = hit[0]
    out = {}
    for j, top in enumerate(body):
        # a parameter rebound on every path before (``y = y.copy()``) is the callee's own
        fresh = {s.targets[0].id for s in _simple_stmts(body[:j])
                 if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)
                 and not getattr(s, "s2s_augmented", False)} & definitely_assigned(body[:j])
        for s in _simple_stmts([top]):
            found = _writes_through(s, norm.resolver, program, job, seen)
            for v, how in list(found.items()):
                if v in attr_names and how in ("item", "augmented", "method"):
                    # ``item = self.arr`` then ``item[0] = e``: a write into self's array
                    found[attr_names[v]] = "touch!" if not (
                        _loads(getattr(s, "value", s)) - {v}) else "attribute!"
            for v, how in _attribute_writes(s, norm.resolver).items():
                found.setdefault(v, how)
            for v, how in found.items():
                # a write through a name that may hold the parameter's array (``y = x``,
                # ``y = x[1:]``, ``y = x.T``) writes into the caller's array too
                for p in holds.get(v, ()):
                    if p in fresh:
                        continue
                    if p in out and _is_attribute_how(out[p]) and _is_attribute_how(how):
                        out[p] = _merged_attribute_how(out[p], how)
                    elif p not in out or out[p] in ("augmented", "touch"):
                        out[p] = how
    job._s2s_written_params = out
    return out


# Array attributes without a derivative rule that write into the array (``y.flat[i] = v``)
_VIEW_ATTRIBUTES = frozenset({"flat"})

# Array methods without a derivative rule that return a view of the array (``y.view()``)
_VIEW_METHODS = frozenset({"view"})

# NumPy functions that return their argument itself when it is already an array
SAME_ARRAY = {"asarray", "asanyarray", "ascontiguousarray", "asfortranarray"}


def view_source(value, resolver):
    """The variable whose memory ``value`` may share (itself, a view of it, an item of a
    list), or ``None`` if ``value`` is certainly a new object."""
    if isinstance(value, gast.Name):
        return value.id
    if isinstance(value, gast.Subscript):
        return view_source(value.value, resolver)  # a view of an array, or a list's item itself
    if isinstance(value, gast.Attribute):
        prim = attribute_primitive(value.attr)
        if prim is not None and prim.view or value.attr in _VIEW_ATTRIBUTES:
            return view_source(value.value, resolver)
        return None
    if isinstance(value, gast.Call):
        if isinstance(value.func, gast.Attribute) and value.func.attr in _VIEW_METHODS:
            return view_source(value.func.value, resolver)
        c = callee_of(value, resolver)
        if c.kind in ("primitive", "method") and c.prim.name in SAME_ARRAY and value.args:
            return view_source(value.args[0], resolver)   # np.asarray(x) is x itself
        if c.kind in ("primitive", "method") and c.prim.view:
            first = c.receiver if c.kind == "method" else (value.args[0] if value.args else None)
            return view_source(first, resolver) if first is not None else None
    return None


def _sliced(node):
    """Whether the view ``node`` is certainly an array, not a number read out of one: a
    slice or a view attribute or call somewhere in it (``y[2:]``, ``y.T``, ``y[:, 0]``)."""
    return any(isinstance(n, gast.Slice) or isinstance(n, (gast.Attribute, gast.Call))
               for n in walk(node))


def returned_views(job, program, _seen=None):
    """The parameters of ``job``'s function whose array (or a view of it) the value it returns
    may be (``return y[:2]``, ``return y.T``, ``r = y; return r``), or an item of the tuple or
    list it returns may be (``return y[:3], y[3:]``), through the functions it calls too
    (``return head(y)``); found flow-insensitively: more than on any one path, never fewer."""
    cache = getattr(job, "_s2s_returned_views", None)
    if cache is not None:
        return cache
    seen = _seen if _seen is not None else set()
    if id(job) in seen:
        return frozenset()
    seen.add(id(job))
    norm = job.norm
    body = norm.node.body
    params = list(job.param_names)
    resolver = norm.resolver
    holds = _parameter_views(body, params, resolver)
    for s in _simple_stmts(body):     # ``r = head(y)``, ``t = (y[:3], y[3:])``: r, t hold y's
        if not (isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name)):
            continue
        found = set()
        parts = s.value.elts if isinstance(s.value, (gast.Tuple, gast.List)) else [s.value]
        for e in parts:
            src = view_source(e, resolver)
            if src is not None:
                found |= holds.get(src, set())
            found |= _call_views(e, resolver, program, job, seen, holds)
        if found:
            holds.setdefault(s.targets[0].id, set()).update(found)
    out = set()
    for s in walk_stmts(body):
        if isinstance(s, gast.Return) and s.value is not None:
            parts = s.value.elts if isinstance(s.value, (gast.Tuple, gast.List)) else [s.value]
            for e in parts:
                src = view_source(e, resolver)
                if src is not None:
                    out |= holds.get(src, set())
                out |= _call_views(e, resolver, program, job, seen, holds)
    out = frozenset(out & set(params))
    job._s2s_returned_views = out
    return out


def _call_views(node, resolver, program, job, seen, holds):
    """The parameters of ``job`` whose memory the value of the call ``node`` of a user
    function may share (what it returns is a view of what it is given)."""
    if not isinstance(node, gast.Call) or program is None:
        return set()
    callee = _user_callee(node, resolver)
    if callee is None:
        return set()
    try:
        child = program.job_for(callee, job, node)
        given = returned_views(child, program, seen)
    except Exception:      # noqa: BLE001 - a callee that cannot be read fails later
        return set()
    out = set()
    for p, a in _bound_params(node, callee, child):
        src = view_source(a, resolver) if p in given else None
        if src is not None:
            out |= holds.get(src, set()) if holds is not None else {src}
    return out


def call_view_source(value, resolver, program, job):
    """The variable whose memory the value of a call of a user function may share (``v =
    head(y)`` where ``head`` returns ``y[:2]``), or ``None``."""
    names = _call_views(value, resolver, program, job, set(), None)
    return min(names) if names else None


def _parameter_views(body, params, resolver):
    """``{name: the parameters whose array (or a view of it) the name may hold}`` (through
    ``view_source``: ``y = x``, ``y = x[1:]``, ``y = x.T``, ``y = x.reshape(...)``), found
    flow-insensitively: more names than on any one path, so what is said written may not be,
    never the other way."""
    holds = {p: {p} for p in params}
    copies = []
    for s in _simple_stmts(body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and not getattr(s, "s2s_augmented", False):
            src = view_source(s.value, resolver)
            if src is not None:
                copies.append((s.targets[0].id, src))
    changed = True
    while changed:
        changed = False
        for t, src in copies:
            more = holds.get(src, set()) - holds.get(t, set())
            if more:
                holds.setdefault(t, set()).update(more)
                changed = True
    return holds


def _writes_through(s, resolver, program, job, seen):
    """``{name: how}``: the names whose object ``s`` changes in place, and how (``"item"``,
    ``"augmented"``, ``"method"``, or ``"call"``: a callee writes into its parameter)."""
    out = {}
    if isinstance(s, gast.Assign):
        t = s.targets[0]
        if isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
            out[t.value.id] = "item"
        if isinstance(t, gast.Name) and getattr(s, "s2s_augmented", False):
            out[t.id] = "augmented"   # in place for an array or a list (a new value for a number)
    call = _call_of(s)
    if call is not None:
        recv, method = _method_receiver(call)
        if recv is not None and method in MUTATING_METHODS:
            if _is_method_call(call, resolver):
                out.setdefault(recv, "method")    # (not ``np.put(a, ...)``: a module's function)
        callee = _user_callee(call, resolver)
        if callee is not None and program is not None and job is not None:
            try:
                child = program.job_for(callee, job, call)     # (the call's own copy)
                written = written_parameters(child, program, seen)
            except Exception:      # noqa: BLE001 - a callee that cannot be read fails later
                written = {}
            for p, a in _bound_params(call, callee, child):
                if p not in written:
                    continue
                how = written[p]
                if isinstance(a, gast.Name):
                    # ``v += e`` in the callee changes an array or a list, not a number;
                    # ``v.count = v.count + 1`` (``touch``) stores nothing from the others
                    out.setdefault(a.id, "call+=" if how == "augmented" else
                                   "call-" + how if how.startswith(("touch", "attribute"))
                                   else "call")
                    continue
                # a view given (``f(y[2:])``, ``f(y.T)``, ``f(Y[i])``): the callee's write
                # reaches the array it views (``v += e`` on ``y[0]`` may be a number's)
                src = view_source(a, resolver)
                if src is not None and how in ("item", "method", "call") or how == "augmented" \
                        and src is not None and _sliced(a):
                    out.setdefault(src, "call")
    return out


# The attributes of an array that are not methods (``x.T``, ``x.real``): any other attribute
# read or stored, not called, is an object's (``self.mean``, ``self.size`` of a user class)
_ARRAY_ATTRIBUTES = frozenset({"T", "mT", "real", "imag", "shape", "size", "ndim", "dtype",
                               "flat", "itemsize", "nbytes", "strides", "flags", "ctypes"})


def _user_attribute(node):
    """``(root name, first attribute)`` of an attribute chain that reads an attribute of an
    object (``o.w``, ``o.layer.w``, ``o.arr[0]``, ``lst[0].w``), not a NumPy attribute of a
    value (``x.T``, ``x.real``); else ``None``."""
    attr = None
    while isinstance(node, (gast.Attribute, gast.Subscript)):
        if isinstance(node, gast.Attribute) and node.attr not in _ARRAY_ATTRIBUTES:
            attr = node.attr
        node = node.value
    if attr is not None and isinstance(node, gast.Name):
        return node.id, attr
    return None


def _attribute_writes(s, resolver):
    """``{root name: how}``: the objects whose attributes ``s`` changes (``o.w = e``,
    ``o.arr[0] = e``, ``o.arr.fill(0)``); ``how`` is ``"touch"`` when the value stored reads
    nothing but the object itself and constants (a counter ``o.n = o.n + 1``), else
    ``"attribute"``, with a ``!`` after it for a write into the array an attribute holds."""
    target, value = None, None
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], (gast.Attribute, gast.Subscript)):
        target, value = s.targets[0], s.value
    call = _call_of(s)
    if call is not None and isinstance(call.func, gast.Attribute) \
            and call.func.attr in MUTATING_METHODS:
        target, value = call.func.value, call
    hit = _user_attribute(target) if target is not None else None
    if hit is None:
        return {}
    root = hit[0]
    how = "touch" if not (_loads(value) - {root}) else "attribute"
    # ``o.w = e`` rebinds; ``o.arr[0] = e``, ``o.arr.fill(0)`` and ``o.arr += e`` (for an
    # array) write into the object the attribute holds: ``!``
    if not (isinstance(target, gast.Attribute) and target is getattr(s, "targets", [None])[0]) \
            or getattr(s, "s2s_attribute_augmented", False):
        how += "!"
    return {root: how}


def free_writes(job, program, _seen=None):
    """The names free in ``job``'s function (module globals, or an enclosing function's) whose
    objects it, or a function it calls, changes: ``CFG.w = v``, ``G[0] = v``,
    ``G.fill(0)`` with ``CFG`` and ``G`` not its own."""
    cache = getattr(job, "_s2s_free_writes", None)
    if cache is not None:
        return cache
    seen = _seen if _seen is not None else set()
    if id(job) in seen:
        return set()
    seen.add(id(job))
    norm = job.norm
    body = norm.node.body
    own = set(job.param_names)
    for s in walk_stmts(body):
        if isinstance(s, gast.Assign):
            own |= {n.id for n in walk(s.targets[0])
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store)}
        if isinstance(s, gast.For):
            own |= {n.id for n in walk(s.target) if isinstance(n, gast.Name)}
    out = set()
    for s in _simple_stmts(body):
        target = None
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], (gast.Attribute,
                                                                     gast.Subscript)):
            target = s.targets[0]
        call = _call_of(s)
        if call is not None and isinstance(call.func, gast.Attribute) \
                and call.func.attr in MUTATING_METHODS:
            target = call.func.value
        root = _root_name(target) if target is not None else None
        if root is not None and root not in own:
            out.add(root)
        if call is not None:
            callee = _user_callee(call, norm.resolver)
            if callee is not None and program is not None:
                try:
                    child = program.job_for(callee, job, call)
                    out |= free_writes(child, program, seen) - own
                except Exception:      # noqa: BLE001 - a callee that cannot be read fails later
                    pass
    job._s2s_free_writes = out
    return out


def _dynamic(call, resolver):
    try:
        return callee_of(call, resolver).kind == "dynamic"
    except Exception:      # noqa: BLE001 - an unresolvable call is another pass's error
        return False


def _unseen_attribute_writes(s, resolver, program, job):
    """The root name of an object whose attributes ``s`` may change in a way
    ``_attribute_writes`` does not see (``setattr(o, ...)``, ``vars(o).update(...)``,
    ``o.__dict__[k] = v``, a method of an attribute's object ``o.sub.set(v)``), else None."""
    if isinstance(s, gast.Assign) and isinstance(s.targets[0], (gast.Attribute, gast.Subscript)):
        t = s.targets[0]
        if any(isinstance(n, gast.Attribute) and n.attr == "__dict__" for n in walk(t)):
            return _root_name(t)
    call = _call_of(s)
    if call is None:
        return None
    func = call.func
    if isinstance(func, gast.Name) and func.id in ("setattr", "delattr") and call.args:
        return _root_name(call.args[0])
    if isinstance(func, gast.Attribute) and func.attr in MUTATING_METHODS \
            and isinstance(func.value, gast.Call) and isinstance(func.value.func, gast.Name) \
            and func.value.func.id == "vars" and func.value.args:
        return _root_name(func.value.args[0])
    if isinstance(func, gast.Attribute) and func.attr in MUTATING_METHODS \
            and isinstance(func.value, gast.Attribute) and func.value.attr == "__dict__":
        return _root_name(func.value)
    if isinstance(func, gast.Attribute) and isinstance(s, gast.Expr) and _dynamic(call, resolver):
        # a method known at run time, called for its effect (``o.sub.bump()``): it may
        # change its object (one whose result is used is taken for a computation)
        return _root_name(func.value)
    if isinstance(func, gast.Attribute) and not isinstance(func.value, gast.Name):
        callee = _user_callee(call, resolver)
        if callee is not None and callee.receiver is not None and program is not None:
            try:
                child = program.job_for(callee, job, call)
                written = written_parameters(child, program)
            except Exception:      # noqa: BLE001 - a callee that cannot be read fails later
                return None
            params = list(child.param_names)
            if params and params[0] in written:
                return _root_name(callee.receiver)
    return None


def check_effects(body, *, norm, varied, containers, tensors, ints, where, text,
                  program=None, job=None):
    """Refuse, at the user's line, what the transform's one-name-one-value model gets wrong.

    ``where(stmt)`` is ``"file:line"`` and ``text(stmt)`` the user's code there."""
    resolver = norm.resolver
    user_names = {n.id for n in walk(norm.fsrc.node) if isinstance(n, gast.Name)}
    made = {}
    for s in walk_stmts(body):
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            made.setdefault(s.targets[0].id, s.value)

    def shown(v):
        """A name as the user wrote it: a name the compiler made is shown as its value (the
        list a comprehension builds: "the new list")."""
        if v in user_names or v not in made:
            return v
        if isinstance(made[v], (gast.List, gast.Dict)) and not getattr(
                made[v], "elts", getattr(made[v], "keys", None)):
            return "the new " + ("list" if isinstance(made[v], gast.List) else "dict")
        return _text(made[v])

    def copy_advice(v):
        if v in user_names or v not in made:
            return f"put a copy in the container ({v}.copy()), or read the value through " \
                   f"one name only"
        return "read the value through one name only (a copy of it elsewhere: x.copy())"

    params = [a.id for a in norm.node.args.args]
    locals_ = set(params) | {a.id for a in norm.node.args.kwonlyargs}
    for s in walk_stmts(body):
        if isinstance(s, gast.Assign):
            for n in walk(s.targets[0]):
                if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                    locals_.add(n.id)
        if isinstance(s, gast.For):
            locals_ |= {n.id for n in walk(s.target) if isinstance(n, gast.Name)}
    order = _order(body)
    stmts = _simple_stmts(body)
    values = {}
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            values.setdefault(s.targets[0].id, []).append(s)
    numbers = {v for v, defs in values.items()
               if v in ints or all(isinstance(d.value, gast.Constant)
                                   and isinstance(d.value.value, (int, float, complex))
                                   or getattr(d, "s2s_augmented", False) for d in defs)}

    def line(s):
        return where(s).rsplit(":", 1)[-1]

    def after(a, b):      # may ``b`` run after ``a``?
        (pa, la), (pb, lb) = order[id(a)], order[id(b)]
        return pb > pa or bool(la & lb)

    def varied_expr(node):
        return bool(_loads(node) & varied)

    reads = {}
    for st in walk_stmts(body):
        for v in _own_loads(st):
            reads.setdefault(v, []).append(st)

    def read_after(v, w, skip=()):
        return next((r for r in reads.get(v, []) if r is not w and r not in skip
                     and after(w, r)), None)

    def read_by_a_derivative(v, w, skip=()):
        """A statement that may run before ``w``, reads ``v`` and is differentiated (reads a
        value that carries a derivative): its backward sweep reads ``v`` after ``w`` ran."""
        return next((r for r in reads.get(v, []) if r is not w and r not in skip
                     and after(r, w) and varied_expr(getattr(r, "value", r))), None)

    def kept_by_a_callee(v, w):
        """A call of a user function, before ``w``, given ``v`` with values that carry
        derivatives: its derivative keeps ``v`` (not a copy) for its backward sweep."""
        for r in reads.get(v, []):
            call = _call_of(r)
            if r is w or call is None or not after(r, w) or _user_callee(call, resolver) is None:
                continue
            given = list(call.args) + [k.value for k in call.keywords]
            if any(isinstance(a, gast.Name) and a.id == v for a in given) \
                    and varied_expr(call):
                return r
        return None

    # -- escapes: a derivative stored where the analysis does not follow it ----------------
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Attribute) \
                and varied_expr(s.value):
            t = s.targets[0]
            raise UnsupportedError(
                where(s), f"`{text(s)}`, storing a value that carries a derivative in the "
                f"attribute {_text(t.value)}.{t.attr}",
                "keep the value in a local variable and return it (the transform follows "
                "derivatives through variables, lists and dicts, not object attributes)")
        target = None
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                and isinstance(s.targets[0].value, gast.Name) and varied_expr(s.value):
            target = s.targets[0].value.id
        call = _call_of(s)
        if call is not None:
            recv, method = _method_receiver(call)
            if recv is not None and method in MUTATING_METHODS \
                    and any(varied_expr(a) for a in call.args) \
                    and (_is_method_call(call, resolver)
                         or recv not in locals_ and _module_container(recv, resolver)):
                target = recv
        if target is not None and target not in locals_:
            r = next((r for r in reads.get(target, []) if r is not s), None)
            if r is not None:
                raise EscapeError(
                    where(s), f"`{text(s)}`, which puts a value that carries a derivative into "
                    f"{target}, a variable of the module (or of an enclosing function), read "
                    f"back at line {line(r)},",
                    f"keep {target} local to the function (make it there, or pass it in and "
                    f"return it); tracing would leave traced values in {target}")

    # -- holds: after ``s``, ``holder`` may reach the object ``held`` refers to ------------
    holds = []
    item_refs = set()       # ``a = c[k]``: ``a`` is one of ``c``'s items, which one unknown
    slices = set()          # ids of the statements ``m = l[1:]`` of a list ``l``
    lists = {v for v in containers if v not in tensors}
    changed = True
    while changed:          # ``m = l[1:]`` of a list is a list too (and a slice of m, ...)
        changed = False
        for s in stmts:
            if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                    and s.targets[0].id not in lists and isinstance(s.value, gast.Subscript) \
                    and isinstance(s.value.value, gast.Name) and s.value.value.id in lists \
                    and isinstance(s.value.slice, gast.Slice):
                lists.add(s.targets[0].id)
                changed = True

    def held_name(e):
        """The name whose object (or memory) the item ``e`` put in a container is: ``y`` for
        ``y``, and for a view of an array ``y`` (``y[:2]``, ``y.T``, ``y.reshape(2, 3)``), not
        for an item of a list (``l[0]``, a new reference to what ``l`` holds)."""
        if isinstance(e, gast.Name):
            return e.id
        src = view_source(e, resolver)
        if src is None or src in lists or not _sliced(e):
            return None
        return src
    slice_of = []           # (m, l, statement) for ``m = l[1:]``
    for s in stmts:
        if not isinstance(s, (gast.Assign, gast.Expr)):
            continue
        value = s.value
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name):
            c = s.targets[0].id
            # an item may be a view of an array (``[y[:2], y[2:]]``): the list reaches y's
            if isinstance(value, (gast.List, gast.Tuple)):
                holds += [(c, h, s) for h in map(held_name, value.elts) if h is not None]
            elif isinstance(value, gast.Dict):
                holds += [(c, h, s) for h in map(held_name, value.values) if h is not None]
            elif isinstance(value, gast.Subscript) and isinstance(value.value, gast.Name) \
                    and value.value.id in lists:
                holds.append((value.value.id, c, s))     # ``a = c[k]``: an item, not a copy
                item_refs.add((value.value.id, c))
                if isinstance(value.slice, gast.Slice):
                    # ``m = l[:]``: a new list, whose items are l's (not copies): a write into
                    # an item reaches l's, a write into the list m itself does not
                    slices.add(id(s))
                    slice_of.append((c, value.value.id, s))
            elif isinstance(value, gast.Name) and value.id in containers \
                    and value.id not in tensors:
                # ``w = lst``: two names of one list, each reaching what the other holds
                holds += [(c, value.id, s), (value.id, c, s)]
            elif isinstance(value, gast.Call) and isinstance(value.func, gast.Attribute) \
                    and value.func.attr in _ITEM_METHODS \
                    and isinstance(value.func.value, gast.Name) \
                    and value.func.value.id in containers and value.func.value.id not in tensors:
                # ``a = d.get(k)``, ``a = d.setdefault(k, e)``: one of d's items, as d[k]
                holds.append((value.func.value.id, c, s))
                item_refs.add((value.func.value.id, c))
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                and isinstance(s.targets[0].value, gast.Name) and held_name(value) is not None \
                and s.targets[0].value.id in containers and s.targets[0].value.id not in tensors:
            holds.append((s.targets[0].value.id, held_name(value), s))
        elif isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Subscript) \
                and isinstance(s.targets[0].value, gast.Name) and isinstance(value, gast.Name):
            holds.append((s.targets[0].value.id, value.id, s))
        call = _call_of(s)
        if call is not None:
            recv, method = _method_receiver(call)
            if recv is not None and method in _HOLDING_METHODS and call.args \
                    and held_name(call.args[-1]) is not None:
                holds.append((recv, held_name(call.args[-1]), s))
    # ``m = l[:]`` holds the items l holds, and an item taken out of m (``a = m[0]``) may be
    # one of l's: each is held by both (more than on any one path, never less)
    changed = bool(slice_of)
    while changed:
        changed = False
        present = {(c, v) for c, v, _ in holds}
        for m, l, s in slice_of:
            new = [(m, v, s) for c, v, _ in holds if c == l and (m, v) not in present]
            new += [(l, a, s) for c, a in item_refs if c == m and (l, a) not in present]
            for c, v, s2 in new:
                if (c, v) not in present:
                    holds.append((c, v, s2))
                    present.add((c, v))
                    item_refs.add((c, v))
                    changed = True
    holds = [(c, v, s) for c, v, s in holds if v not in ints and c != v]

    ancestry = _ancestry(body)
    last = {}           # id(statement) -> the last position in program order inside it
    for st in walk_stmts(body):
        for block, k in ancestry.get(id(st), ()):
            a = id(block[k])
            last[a] = max(last.get(a, -1), order[id(st)][0])

    def rebound_before(v, s, w):
        """Whether ``v`` is given a new object (``v = ...``, not ``v += ...``) on every path
        from ``s`` to ``w``: an assignment in a block around ``w``, before the statement on
        ``w``'s path, that ``s`` cannot reach ``w`` without running (``s`` is neither between
        them nor inside the statement that holds ``w``).  ``items = []`` at the top of a loop
        body that ends with ``xs = items``: the next write into ``items`` is into a new list."""
        ps = order[id(s)][0]
        for block, k in ancestry.get(id(w), ()):
            end = last[id(block[k])]
            for r in block[:k]:
                if isinstance(r, gast.Assign) and r is not s \
                        and isinstance(r.targets[0], gast.Name) and r.targets[0].id == v \
                        and not getattr(r, "s2s_augmented", False) \
                        and not order[id(r)][0] <= ps <= end:
                    return True
        return False

    def list_level(v, w):
        """Whether ``w`` changes the list (or dict) ``v`` itself, not any of its items: an
        item replaced (``v[k] = e``, not ``v[k] += e``, which changes an array item in
        place), or a method that adds, removes or reorders items."""
        if v not in lists:      # (the containers that are not arrays, and slices of them)
            return False
        if isinstance(w, gast.Assign) and isinstance(w.targets[0], gast.Subscript):
            return not getattr(w, "s2s_item_augmented", False)
        call = _call_of(w)
        if call is None:
            return False
        receiver, method = _method_receiver(call)
        return receiver == v and method in CHANGING_METHODS

    def reaching(v, w):
        """``{name: the statement that made it reach v's object}`` before ``w`` may run:
        the containers holding ``v`` (transitively) and the other names they hold."""
        out = {}
        frontier = [v]
        mine = list_level(v, w)
        while frontier:
            x = frontier.pop()
            for c, held, s in holds:
                if held == x and c not in out and c != v and after(s, w) \
                        and not (x == v and rebound_before(v, s, w)) \
                        and not (x == v and mine and id(s) in slices):
                    out[c] = s
                    frontier.append(c)
        for c in list(out):
            mine = (c, v) in item_refs
            for c2, held, s in holds:
                # another item of the same container is the same object only if one of the
                # two names was taken out of it (``a = lst[0]``): ``t = (y, x)`` holds two
                if c2 == c and held != v and held not in out and after(s, w) \
                        and (mine or (c, held) in item_refs):
                    out[held] = s
        return out

    view_edges = {}
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and not getattr(s, "s2s_augmented", False):
            h = held_name(s.value)
            if h is None and isinstance(s.value, gast.Subscript) \
                    and view_source(s.value, resolver) in tensors:
                h = view_source(s.value, resolver)      # (``t = Y[1]``: a row of Y, or a number)
            if h is not None and h != s.targets[0].id:
                view_edges.setdefault(h, set()).add(s.targets[0].id)
                view_edges.setdefault(s.targets[0].id, set()).add(h)

    def views_of(v):
        """The names that may share ``v``'s memory through views (``t = y[2:]``, ``u = t.T``),
        flow-insensitively: more than on any one path, never fewer."""
        seen, todo = {v}, [v]
        while todo:
            for m in view_edges.get(todo.pop(), ()):
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen

    # -- ``c[k] op= e`` on a list or dict: NumPy's op= changes an array item in place, and
    # every other name of that array with it, where the transform writes a new item ---------
    for w in stmts:
        if not getattr(w, "s2s_item_augmented", False):
            continue
        c = w.targets[0].value.id
        if c not in containers or c in tensors:
            continue
        mine = [(held, s) for holder, held, s in holds
                if holder == c and held not in numbers and after(s, w)]
        for held, s in mine:
            r = read_after(held, w, skip=(s,))
            if r is None and sum(h == held for h, _ in mine) > 1:
                r = read_after(c, w)    # (l = [a, a]: l[0] += x changes l[1] too)
            if r is not None:
                raise UnsupportedError(
                    where(w), f"`{text(w)}`, an augmented assignment to an item of {shown(c)}, "
                    f"which holds {shown(held)} (line {line(s)}), read at line {line(r)}",
                    f"an array item is changed in place, and {shown(held)} with it: write "
                    f"{shown(c)}[k] = {shown(c)}[k] + ... (a new value), or put a copy in "
                    f"{shown(c)}")

    # -- attributes changed after a derivative read them (before the rules below: a write into
    # an attribute's array is refused outright, not traced) ----------------------------------
    _check_attribute_writes(body, stmts, resolver, program, job, varied_expr, after, where,
                            text, line)

    # -- a call known only at run time, of an object called or read again: the callee, traced
    # call by call, may keep values that carry derivatives in the object (``self.h = ...``),
    # which the next call would take for constants ------------------------------------------
    for w in stmts:
        call = _call_of(w)
        if call is None or not varied_expr(call) or not _dynamic(call, resolver):
            continue
        v = _root_name(call.func.value) if isinstance(call.func, gast.Attribute) \
            else call.func.id if isinstance(call.func, gast.Name) else None
        if v is None or v not in locals_ or v in varied \
                or params and v == params[0] and (norm.fsrc.has_self or v == "self"):
            continue        # (a function held by a module, a callable carrying derivatives, or
            # a method's own object, whose other attributes its methods read all the time)
        if not (set(_loads(gast.Tuple(elts=list(call.args) + [k.value for k in call.keywords],
                                      ctx=gast.Load()))) & varied):
            continue
        # a later read of an attribute of v (``c.h``), not a call (``fn(fn(x))``: v may well be
        # a plain function): a call given an object in which an earlier call kept a value is
        # refused when it runs (``driver.dynamic``)
        r = next((r for r in reads.get(v, []) if r is not w and after(w, r) and any(
            isinstance(n, gast.Attribute) and isinstance(n.value, gast.Name) and n.value.id == v
            and id(n) not in {id(c.func) for c in walk(r) if isinstance(c, gast.Call)}
            for n in walk(r))), None)
        if r is not None:
            raise UnsupportedError(
                where(w), f"`{text(w)}`, a call of {shown(v)} known only when it runs, given "
                f"values that carry derivatives, which it may keep in {shown(v)} (an attribute "
                f"of {shown(v)} is read at line {line(r)})", "the call is differentiated on "
                "its own, and what it keeps would be a constant after it: return the state "
                "from the call instead of keeping it in the object")

    # -- writes through a name --------------------------------------------------------------
    for w in stmts:
        through = _writes_through(w, resolver, program, job, set())
        for v, how in sorted(through.items()):
            if how in ("augmented", "call+=") and (v in numbers or v not in tensors
                                                   and v not in containers):
                continue        # ``v += e`` of what may be a number: a new value
            # (the user's own names first: a name the compiler made is said as a value)
            for other, s in sorted(reaching(v, w).items(),
                                   key=lambda item: (item[0] not in user_names, item[0])):
                r = read_after(other, w, skip=(s,))
                if r is None:
                    # read before the write in a statement that is differentiated: its
                    # derivative, in the backward sweep, would read the changed object
                    r = read_by_a_derivative(other, w, skip=(s,))
                    if r is None:
                        continue
                    raise UnsupportedError(
                        where(w), f"`{text(w)}`, a write into {shown(v)} while {shown(other)} "
                        f"reaches the same object (line {line(s)}) and the derivative of line "
                        f"{line(r)} reads it", f"the transform would treat them as two values: "
                        f"{copy_advice(v)}")
                raise UnsupportedError(
                    where(w), f"`{text(w)}`, a write into {shown(v)} while {shown(other)} "
                    f"reaches the same object (line {line(s)}) and is read after it (line "
                    f"{line(r)})", f"the transform would treat them as two values: {copy_advice(v)}")
            if how == "item" and (v in tensors or v in varied):
                kept = kept_by_a_callee(v, w)
                if kept is not None:
                    lifted = _user_callee(_call_of(kept), resolver).kind == "lifted"
                    how_kept = (f"called {_user_callee(_call_of(kept), resolver).name}, a local "
                                f"function that reads it and whose derivative reads it"
                                if lifted else "gave it to a function of yours whose "
                                "derivative reads it")
                    raise UnsupportedError(
                        where(w), f"`{text(w)}`, a write into {shown(v)} after line "
                        f"{line(kept)} {how_kept}",
                        f"the derivative of that call would read the changed array: write into "
                        f"a copy ({shown(v)} = {shown(v)}.copy() before this line)")
            call = _call_of(w)
            given_varied = any(varied_expr(a) for a in call.args) \
                or any(varied_expr(k.value) for k in call.keywords) \
                or isinstance(call.func, gast.Attribute) and varied_expr(call.func.value) \
                if call is not None else False
            if (how in ("call", "call+=") or how.startswith("call-attribute")) and given_varied \
                    or how.startswith("call-touch") and v in varied:
                # (a call without derivatives runs the user's own function: its writes happen)
                rebinds = isinstance(w, gast.Assign) and isinstance(w.targets[0], gast.Name) \
                    and w.targets[0].id == v
                r = None if rebinds else read_after(v, w)
                reader = v
                if r is None and not rebinds and how in ("call", "call+="):
                    # ``t = y[2:]; f(t)``: the callee's write reaches y's memory too
                    for reader in sorted(views_of(v) - {v}):
                        r = read_after(reader, w)
                        if r is not None:
                            break
                if r is None and not rebinds and how not in ("call", "call+=") and order[id(w)][1]:
                    r = w       # in a loop: the call reads what it changed the time before
                if r is not None:
                    callee = _user_callee(_call_of(w), resolver)
                    fname = getattr(callee, "name", "the function")
                    if how not in ("call", "call+="):
                        what = (f"`{text(w)}`, a call in which {fname} changes attributes of "
                                f"{shown(v)} from values that carry derivatives ({shown(v)} is "
                                f"read again at line {line(r)})")
                        advice = (f"the transformation follows derivatives through variables, "
                                  f"not object attributes: return the new values from {fname} "
                                  f"and assign them")
                    else:
                        what = (f"`{text(w)}`, a call in which {fname} writes into its argument "
                                f"{shown(v)} in place ({shown(reader)} is read again at line "
                                f"{line(r)})")
                        advice = (f"the transformed {fname} works on a copy, so the caller would "
                                  f"not see the change: return the array from {fname} and assign "
                                  f"it ({shown(v)} = {fname}(...))")
                    raise UnsupportedError(where(w), what, advice)



def _check_attribute_writes(body, stmts, resolver, program, job, varied_expr, after, where,
                            text, line):
    """Refuse a change to an object's attribute after a statement whose derivative reads it.

    The backward sweep reads ``o.w`` (or a callee's ``self.w``) when it runs, after the whole
    forward sweep: ``y = x * o.w`` then ``o.w = 5.0`` would differentiate ``y`` with the new
    ``o.w``.  The objects are followed by name: ``p = o``, ``item = o.arr`` (the compiler's
    name for ``o.arr[0] = ...``) and ``a = lst[0]`` reach ``o``'s attributes.  Both a change
    that rebinds an attribute and one that writes into the array it holds (``o.arr[0] = 1.0``,
    ``o.arr *= 2``, ``o.arr.fill(0)``) are refused, and so traced: the tracer reads each value
    as it runs, and keeps a copy of a plain array it was given."""
    # name -> {(object, attribute or None)}: what a name may refer to
    origins = {}

    def origin(n):
        return origins.setdefault(n, {(n, None)})

    def sources(value):
        """``[(name, attribute or None)]`` whose objects ``value`` may give."""
        hit = _user_attribute(value)
        if hit is not None:
            return [hit]
        if isinstance(value, (gast.List, gast.Tuple, gast.Set)):
            return [x for e in value.elts for x in sources(e)]      # (``objs = [o]``)
        if isinstance(value, gast.Dict):
            return [x for e in value.values for x in sources(e)]
        root = value
        while isinstance(root, gast.Subscript):
            root = root.value
        return [(root.id, None)] if isinstance(root, gast.Name) else []

    copies = []
    for s in stmts:
        if isinstance(s, gast.Assign) and isinstance(s.targets[0], gast.Name) \
                and not getattr(s, "s2s_augmented", False):
            copies += [(s.targets[0].id, hit) for hit in sources(s.value)]
        call = _call_of(s)
        if call is not None and isinstance(call.func, gast.Attribute) \
                and isinstance(call.func.value, gast.Name) \
                and call.func.attr in _HOLDING_METHODS and call.args:
            copies += [(call.func.value.id, hit) for hit in sources(call.args[-1])]
    for loop in walk_stmts(body):
        if isinstance(loop, gast.For):      # ``for ob in objs``: ob is one of objs' objects
            targets = [n.id for n in walk(loop.target) if isinstance(n, gast.Name)]
            copies += [(t, hit) for t in targets for hit in sources(loop.iter)]
    changed = True
    while changed:
        changed = False
        for t, (root, attr) in copies:
            more = {(r, a if a is not None else attr) for r, a in origin(root)} - origin(t)
            if more:
                origins[t] |= more
                changed = True

    def keys_of(n, attr=None):
        return {(r, a if a is not None else attr) for r, a in origin(n)}

    # the attribute changes: (statement, keys, in place?)
    writes = []
    changed_by_calls = set()    # names free in a callee that it changes (``free_writes``)
    for s in stmts:
        direct = _attribute_writes(s, resolver)
        if direct:
            t = s.targets[0] if isinstance(s, gast.Assign) else _call_of(s).func.value
            root, attr = _user_attribute(t)
            writes.append((s, keys_of(root, attr), direct[root].endswith("!")))
            continue
        call = _call_of(s)
        callee = _user_callee(call, resolver) if call is not None else None
        if callee is not None and program is not None and job is not None:
            try:
                freed = free_writes(program.job_for(callee, job, call), program)
            except Exception:      # noqa: BLE001 - a callee that cannot be read fails later
                freed = set()
            if freed:
                changed_by_calls.update(freed)
                writes.append((s, {(g, None) for g in freed}, False))
        unseen = _unseen_attribute_writes(s, resolver, program, job)
        if unseen is not None:
            writes.append((s, {(r, None) for r, _ in origin(unseen)}, False))
            continue
        for v, how in _writes_through(s, resolver, program, job, set()).items():
            if how.startswith(("call-attribute", "call-touch")):
                writes.append((s, {(r, None) for r, _ in origin(v)}, how.endswith("!")))
            elif any(a is not None for _, a in origin(v)):
                # a write through a name for an attribute's array (``item[0] = 1.0``)
                writes.append((s, {k for k in origin(v) if k[1] is not None}, True))
    if not writes:
        return

    def stored(root, attr):
        """Whether ``root.attr`` is an attribute the object stores, known from its class: not
        a property, nor made by ``__getattr__`` (which may read any other attribute)."""
        try:
            found = resolver._receiver_class(gast.Name(id=root, ctx=gast.Load(),
                                                       annotation=None, type_comment=None))
        except Exception:      # noqa: BLE001 - no class known
            found = None
        if found is None and root == resolver._self_name() and resolver.fsrc.has_self:
            cls = resolver._self_class()
            found = (cls,) if cls is not None else None
        if found is None:
            return False
        cls = found[0]
        if "__getattr__" in dir(cls) or type(cls).__getattribute__ is not type.__getattribute__ \
                or cls.__getattribute__ is not object.__getattribute__:
            return False
        return not hasattr(inspect.getattr_static(cls, attr, None), "__get__")

    def reads(r):
        """The attributes whose values the derivative of statement ``r`` reads."""
        out = set()
        called = {id(n.func) for n in walk(r) if isinstance(n, gast.Call)}
        for node in walk(r):
            if isinstance(node, gast.Attribute) and isinstance(node.ctx, gast.Load) \
                    and id(node) not in called:     # (``x.sum()`` reads no attribute of x)
                hit = _user_attribute(node)
                if hit is not None:
                    # (an attribute the class computes may read any other: the whole object)
                    out |= keys_of(hit[0], hit[1] if stored(*hit) else None)
            elif isinstance(node, gast.Name) and isinstance(node.ctx, gast.Load):
                out |= {k for k in origin(node.id) if k[1] is not None}
                if node.id in changed_by_calls:
                    out.add((node.id, None))
            elif isinstance(node, gast.Call) and isinstance(node.func, gast.Attribute) \
                    and _dynamic(node, resolver):
                root = _root_name(node.func.value)      # a method known at run time: it may
                if root is not None:                   # read any attribute of its object
                    out |= {(k[0], None) for k in origin(root)}
            elif isinstance(node, gast.Call) and _user_callee(node, resolver) is not None:
                given = list(node.args) + [k.value for k in node.keywords]
                if isinstance(node.func, gast.Attribute):
                    given.append(node.func.value)
                for a in given:
                    if isinstance(a, gast.Name):
                        out |= {(k[0], None) for k in origin(a.id)}
        return out

    def meet(ks1, ks2):
        whole = (None, "__dict__")
        return any(r1 == r2 and (a1 in whole or a2 in whole or a1 == a2)
                   for r1, a1 in ks1 for r2, a2 in ks2)

    readers = [(r, reads(r)) for r in stmts if varied_expr(getattr(r, "value", r))]
    for w, keys, inplace in writes:
        for r, rkeys in readers:
            if r is w or not after(r, w) or not meet(keys, rkeys):
                continue
            shown_w = text(w)
            if inplace:
                raise UnsupportedError(
                    where(w), f"`{shown_w}`, which changes in place (an augmented assignment, "
                    f"an item or a method that writes into an array) what an object's "
                    f"attribute holds, after line {line(r)} read it in a computation with "
                    f"derivatives", "the derivative of that line needs the old values: store "
                    "a new value (o.w = o.w + ..., o.arr = o.arr * 2, or o.arr = "
                    "o.arr.copy() before writing into it) and keep the old one in a local "
                    "variable")
            raise UnsupportedError(
                where(w), f"`{shown_w}`, a change to an object (an attribute, or the items of "
                f"an array a function of yours changes) after line {line(r)} read it in a "
                f"computation with derivatives", "the derivative of that line would read the "
                "new value: keep the value in a local variable (w = o.w.copy()) and use it")
