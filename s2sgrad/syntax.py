"""The AST the compiler builds and walks: constructors for the nodes passes make, one walk
over statements, and what the passes count (a name's bindings and reads, statement blocks).
Every pass uses these (gast nodes, which work the same on every Python version the project
supports)."""

import ast
import copy

import gast

__all__ = ["definition_lines", "root_name", "name", "store", "param", "assign", "const", "call", "subscript", "walk_stmts",
           "drop_stmts", "walk", "blocks", "stores", "store_counts", "reads", "read_count",
           "read_counts", "replace", "parse"]


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


def root_name(node):
    """The name at the root of ``y[1:]``, ``y.T[0]``, ``o.a.b``, ``Y[0][1:]`` (indexing and
    attribute reads of that name), the name itself for a name, else ``None``."""
    while isinstance(node, (gast.Subscript, gast.Attribute)):
        node = node.value
    return node.id if isinstance(node, gast.Name) else None


def walk(node):
    """Every node of the tree under ``node``, ``node`` first, in ``gast.walk``'s breadth-first
    order, but for the leaves that only mark what their parent is (a ``Load``/``Store``
    context, an operator such as ``Add``): a pass reads those as attributes of their parent
    (``n.ctx``, ``n.op``), never finds them by walking.  Plain loops over each class's
    fields that may hold a node (``_walked_fields``), about three times as fast as
    ``gast.walk``: the passes that walk every expression of a function use it."""
    todo = [node]
    append = todo.append
    fields_of = _WALKED
    AST = gast.AST
    for node in todo:           # (the list grows as it is read)
        fields = fields_of.get(node.__class__)
        if fields is None:
            fields = _walked_fields(node.__class__)
        for field in fields:
            value = getattr(node, field, None)
            if value is None:   # (an absent child: the usual annotation of a name)
                continue
            if value.__class__ is list:
                for item in value:
                    if isinstance(item, AST):
                        append(item)
            elif isinstance(value, AST):
                append(value)
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
# The leaves that only mark what their parent is (``Load``, ``Add``, ``Eq``...): no fields, no
# annotations; ``copy_tree`` shares them, as ``ast.parse`` shares one ``Load`` among all the
# names it reads (a third of the nodes of a tree; a pass replaces them, never changes one)
MARKERS = frozenset(c for c in vars(gast).values() if isinstance(c, type)
                    and issubclass(c, (gast.expr_context, gast.operator, gast.unaryop,
                                       gast.cmpop, gast.boolop)) and not c._fields)


def copy_tree(node):
    """A deep copy of an AST, as ``copy.deepcopy`` makes it but several times faster: its
    nodes and lists are copied, any other value (an annotation) as ``copy.deepcopy`` would
    (a node an annotation refers to is copied apart, not shared as ``deepcopy``'s memo
    would share it)."""
    cls = node.__class__
    if cls is list:
        return [copy_tree(v) for v in node]
    if cls in MARKERS:
        return node
    if isinstance(node, gast.AST):
        new = cls.__new__(cls)
        fields = {}
        for k, v in node.__dict__.items():
            t = v.__class__
            # (a name, a line or column, an absent field: kept without a call; a list of
            # nodes copied here)
            if t is str or t is int or v is None or t in MARKERS:
                fields[k] = v
            elif t is list:
                fields[k] = [copy_tree(item) for item in v]
            else:
                fields[k] = copy_tree(v)
        new.__dict__ = fields
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


# -- parsing ------------------------------------------------------------------------------
# ``gast.parse`` is ``ast.parse`` then ``gast.ast_to_gast``, an ``ast.NodeTransformer`` with a
# method lookup, a dict comprehension and a ``hasattr`` per field on every node: it costs
# about three times ``ast.parse`` itself, and the first gradient parses the user's functions
# and every rule template it inlines.  ``parse`` makes the same tree with plain loops: a
# node class gast translates with a method of its own (``visit_<Class>`` of ``Ast3ToGAst``:
# the ones whose fields differ between ast and gast) goes to that method, whose children
# come back here, except ``Name`` and ``arg`` (the most common ones), translated here as it
# translates them; every other node is copied, field by field and then its location, into
# the gast class of its name.  tests/test_cold_parse.py compares the trees with gast's.
try:
    from gast.ast3 import Ast3ToGAst as _AstToGast
except ImportError:         # (another gast: its converter for everything)
    _AstToGast = None

_AST = gast.AST             # (``ast.AST``: gast's classes derive from ast's)
_MISSING = object()
_LOCATION = ("lineno", "col_offset", "end_lineno", "end_col_offset")
# ast class -> how ``_to_gast`` converts it: ``(gast class, number of fields and attributes)``
# for a copy field by field, or a function of the node
_TO_GAST = {}
_LEAF = {}                  # ast class without fields (a context, an operator) -> gast class
# the classes gast's converter translates with a method of its own (``ast.NodeVisitor``'s
# ``visit_Constant`` only sends a ``Constant`` to ``visit_Num``... where the converter has one)
_OWN_VISITS = frozenset(k for c in (_AstToGast.__mro__ if _AstToGast is not None else ())
                        if c.__module__.startswith("gast") for k in vars(c)
                        if k.startswith("visit_"))


def parse(text):
    """``gast.parse(text)``: the module ``text`` parses to, as gast nodes."""
    tree = ast.parse(text)
    if _AstToGast is None:
        return gast.ast_to_gast(tree)
    return _to_gast(tree)


class _Children(_AstToGast or object):
    """gast's converter for the classes it translates with a method of its own, converting
    the children it visits with ``_to_gast``."""

    def _visit(self, node):
        return _value_to_gast(node)


def _to_gast(node):
    cls = node.__class__
    how = _TO_GAST.get(cls)
    if how is None:
        how = _how_to_convert(cls)
    if how.__class__ is not tuple:
        return how(node)
    to, size = how
    values = node.__dict__.copy()
    if len(values) != size:    # (a field or an attribute missing: not as ast.parse makes it)
        return _fields_to_gast(node, to, cls._fields + cls._attributes)
    # (ast.parse sets the fields, in their order, then the attributes, as gast's copy does)
    for field, value in values.items():
        c = value.__class__
        if c is list:
            if value:
                values[field] = [_to_gast(v) if isinstance(v, _AST) else _value_to_gast(v)
                                 for v in value]
            else:
                values[field] = []
        elif c is str or c is int or value is None:
            continue
        else:
            leaf = _LEAF.get(c)
            if leaf is not None:
                values[field] = leaf.__new__(leaf)
            elif isinstance(value, _AST):
                values[field] = _to_gast(value)
    new = to.__new__(to)
    new.__dict__ = values
    return new


def _fields_to_gast(node, to, names):
    values = {}
    for field in names:
        value = getattr(node, field, _MISSING)
        if value is not _MISSING:
            values[field] = _value_to_gast(value)
    new = to.__new__(to)
    new.__dict__ = values
    return new


def _value_to_gast(value):
    if isinstance(value, _AST):
        return _to_gast(value)
    if value.__class__ is list:
        return [_value_to_gast(v) for v in value]
    return value


def _how_to_convert(cls):
    name_ = cls.__name__
    to = getattr(gast, name_, None)
    if "visit_" + name_ in _OWN_VISITS:
        how = _name_to_gast if name_ == "Name" else _arg_to_gast if name_ == "arg" \
            else _Children().visit
    elif to is None:
        how = _nothing          # (a class gast does not have: gast drops it)
    elif not cls._fields and not cls._attributes:
        _LEAF[cls] = to
        how = _leaf
    else:
        how = (to, len(cls._fields) + len(cls._attributes))
    _TO_GAST[cls] = how
    return how


def _nothing(node):
    return None


def _leaf(node):
    to = _LEAF[node.__class__]
    return to.__new__(to)


def _name_to_gast(node):
    """``gast.Name(node.id, ctx, None, None)``, then ``ast.copy_location`` from ``node``."""
    values = node.__dict__
    ctx = values["ctx"]
    leaf = _LEAF.get(ctx.__class__)
    ctx = leaf.__new__(leaf) if leaf is not None else _to_gast(ctx)
    return _gast_name(node, values, values["id"], ctx, None, None)


def _arg_to_gast(node):
    """``gast.Name(node.arg, gast.Param(), annotation, type_comment)``, then
    ``ast.copy_location`` from ``node``."""
    return _gast_name(node, node.__dict__, node.arg, gast.Param.__new__(gast.Param),
                      _value_to_gast(node.annotation),
                      _value_to_gast(getattr(node, "type_comment", None)))


def _gast_name(node, values, id_, ctx, annotation, type_comment):
    new = gast.Name.__new__(gast.Name)
    lineno = values.get("lineno")
    col_offset = values.get("col_offset")
    if lineno is not None and col_offset is not None and "end_col_offset" in values \
            and "end_lineno" in values:     # (as ast.parse makes it: all four locations)
        new.__dict__ = {"id": id_, "ctx": ctx, "annotation": annotation,
                        "type_comment": type_comment, "lineno": lineno, "col_offset": col_offset,
                        "end_lineno": values["end_lineno"],
                        "end_col_offset": values["end_col_offset"]}
        return new
    new.__dict__ = {"id": id_, "ctx": ctx, "annotation": annotation, "type_comment": type_comment}
    _copy_location(new, node)
    return new


def _copy_location(new, old):
    """``ast.copy_location(new, old)`` for an ast node ``old`` and a gast ``Name``."""
    present = old._attributes
    for attr in _LOCATION:
        if attr in present:
            value = getattr(old, attr, None)
            if value is not None or (attr.startswith("end_") and hasattr(old, attr)):
                new.__dict__[attr] = value
