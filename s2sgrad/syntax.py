"""The AST the compiler builds and walks: constructors for the nodes passes make, one walk
over statements, and what the passes count (a name's bindings and reads, statement blocks).
Every pass uses these (gast nodes, which work the same on every Python version the project
supports)."""

import copy

import gast

__all__ = ["definition_lines", "name", "store", "param", "assign", "const", "call", "subscript", "walk_stmts",
           "drop_stmts", "walk", "blocks", "stores", "store_counts", "reads", "read_count",
           "read_counts", "replace"]


def name(id_, ctx=None):
    return gast.Name(id=id_, ctx=ctx or gast.Load(), annotation=None, type_comment=None)


def store(id_):
    return name(id_, gast.Store())


def assign(target, value, line=None):
    if isinstance(target, str):
        target = store(target)
    node = gast.Assign(targets=[target], value=value, type_comment=None)
    if line is not None:
        node.s2s_line = line
    return node


def const(value):
    return gast.Constant(value=value, kind=None)


def call(func, args, keywords=()):
    if isinstance(func, str):
        func = name(func)
    return gast.Call(func=func, args=list(args), keywords=list(keywords))


def subscript(value, index):
    if isinstance(index, int):
        index = const(index)
    return gast.Subscript(value=value, slice=index, ctx=gast.Load())


def param(id_):
    """A function parameter named ``id_``."""
    return name(id_, gast.Param())


def walk(node):
    """Every node of the tree under ``node``, ``node`` first, in ``gast.walk``'s breadth-first
    order, but for the leaves that only mark what their parent is (a ``Load``/``Store``
    context, an operator such as ``Add``): a pass reads those as attributes of their parent
    (``n.ctx``, ``n.op``), never finds them by walking.  Plain loops over each class's
    fields that may hold a node (``_walked_fields``), about three times as fast as
    ``gast.walk``: the passes that walk every expression of a function use it."""
    todo = [node]
    fields_of = _WALKED
    for node in todo:           # (the list grows as it is read)
        cls = node.__class__
        fields = fields_of.get(cls)
        if fields is None:
            fields = _walked_fields(cls)
        for field in fields:
            value = getattr(node, field, None)
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, gast.AST):
                        todo.append(item)
            elif isinstance(value, gast.AST):
                todo.append(value)
        yield node


_WALKED = {}                # node class -> the fields ``walk`` follows
# fields that hold a marker leaf (``ctx``, ``op``, ``ops``) or never a node
_NOT_WALKED = frozenset({"ctx", "op", "ops", "id", "attr", "kind", "type_comment"})


def _walked_fields(cls):
    fields = tuple(f for f in cls._fields if f not in _NOT_WALKED
                   and not (cls is gast.Constant and f == "value"))
    _WALKED[cls] = fields
    return fields


def walk_stmts(stmts):
    for s in stmts:
        yield s
        if isinstance(s, (gast.If, gast.For, gast.While)):
            yield from walk_stmts(s.body)
            yield from walk_stmts(s.orelse)


def blocks(stmts):
    """``stmts`` and every statement list nested in it (the bodies of ``if``, ``for`` and
    ``while``, as ``walk_stmts`` descends), outermost first."""
    yield stmts
    for s in stmts:
        if isinstance(s, (gast.If, gast.For, gast.While)):
            yield from blocks(s.body)
            yield from blocks(s.orelse)


def _binds(n):
    return isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del))


def stores(stmts, var):
    """How many times ``stmts`` (at any depth) bind or delete the name ``var``."""
    return sum(1 for s in stmts for n in walk(s) if _binds(n) and n.id == var)


def store_counts(stmts):
    """``stores`` of every name at once: ``{name: how many times stmts bind or delete it}``."""
    counts = {}
    for s in stmts:
        for n in walk(s):
            if _binds(n):
                counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def reads(stmt, var):
    """Whether ``stmt`` (at any depth) reads the name ``var``."""
    return any(isinstance(n, gast.Name) and n.id == var and isinstance(n.ctx, gast.Load)
               for n in walk(stmt))


def read_counts(stmts):
    """``{name: how many times stmts (at any depth) read it}``."""
    counts = {}
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Load):
                counts[n.id] = counts.get(n.id, 0) + 1
    return counts


def read_count(stmts, var):
    """How many times ``stmts`` (at any depth) read the name ``var``."""
    return sum(1 for s in stmts for n in walk(s)
               if isinstance(n, gast.Name) and n.id == var and isinstance(n.ctx, gast.Load))


def replace(root, old, new):
    """Put ``new`` where the node ``old`` (itself, not an equal node) stands under ``root``;
    whether it was found."""
    for parent in walk(root):
        for field in parent._fields:
            value = getattr(parent, field, None)
            if value is old:
                setattr(parent, field, new)
                return True
            if value.__class__ is list:
                for k, item in enumerate(value):
                    if item is old:
                        value[k] = new
                        return True
    return False


def drop_stmts(stmts, dead):
    """``stmts`` without the statements whose ``id`` is in ``dead``, at any depth (an emptied
    block becomes ``pass``)."""
    out = []
    for s in stmts:
        if id(s) in dead:
            continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = drop_stmts(s.body, dead) or [gast.Pass()]
            s.orelse = drop_stmts(s.orelse, dead)
        out.append(s)
    return out


ATOMS = frozenset({str, int, float, bool, complex, bytes, type(None), type(Ellipsis)})


def copy_tree(node):
    """A deep copy of an AST, as ``copy.deepcopy`` makes it but several times faster: its
    nodes and lists are copied, any other value (an annotation) as ``copy.deepcopy`` would
    (a node an annotation refers to is copied apart, not shared as ``deepcopy``'s memo
    would share it)."""
    cls = node.__class__
    if cls is list:
        return [copy_tree(v) for v in node]
    if isinstance(node, gast.AST):
        new = cls.__new__(cls)
        fields = {}
        for k, v in node.__dict__.items():
            t = v.__class__
            # (a name, a line or column, an absent field: kept without a call)
            fields[k] = v if t is str or t is int or v is None else copy_tree(v)
        new.__dict__.update(fields)
        return new
    if cls in ATOMS:
        return node
    return copy.deepcopy(node)


def definition_lines(lines, start):
    """The lines of the definition (a ``def`` and its decorators) that starts at
    ``lines[start]``, as ``inspect.getblock`` finds them but without tokenizing: up to the
    last line of code before the first later line of code indented no deeper than the
    ``def`` (comment and blank lines are not code).  ``None`` where this cannot tell (a tab
    in an indentation, no ``def`` line).  A cut inside a string or brackets (a line of it
    indented no deeper than the ``def``) leaves them open: the text does not parse, and
    the caller then asks ``inspect.getblock``."""
    head = lines[start]
    indent = head[:len(head) - len(head.lstrip())]
    if "\t" in indent:
        return None
    k = start
    while True:             # the decorators, then the ``def`` line, at its indentation
        if k >= len(lines):
            return None
        text = lines[k]
        if text.startswith(indent) and text[len(indent):].startswith(("def ", "async def ")):
            break
        k += 1
    last = k + 1
    for k in range(k + 1, len(lines)):
        text = lines[k]
        stripped = text.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        own = text[:len(text) - len(stripped)]
        if "\t" in own:
            return None
        if len(own) <= len(indent):
            break
        last = k + 1
    return lines[start:last]
