"""``syntax.parse`` makes the tree ``gast.parse`` makes: on every module of the package, of
examples/ and of tests/, and on a text holding every construct gast translates with a
method of its own, each node has the same class, the same fields and attributes (in the
same order) and the same values, compared field by field; no node is shared; and the
user's function and a rule template read through it are those gast reads."""

import ast
import glob
import os

import gast
import pytest

from s2sgrad import syntax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(ROOT, "s2sgrad", "**", "*.py"), recursive=True)
               + glob.glob(os.path.join(ROOT, "examples", "**", "*.py"), recursive=True)
               + glob.glob(os.path.join(ROOT, "tests", "**", "*.py"), recursive=True))

# Every node class gast's converter translates with a method of its own (Name, arg,
# ExceptHandler with and without a name, FunctionDef, AsyncFunctionDef, ClassDef), and
# others: annotations, positional-only and keyword-only parameters, defaults, lambdas,
# comprehensions, f-strings, starred, walrus, slices, match, try/finally, with, global.
EVERY_CONSTRUCT = '''
import os.path as osp, sys
from . import a as b
@decorator(1)
class C(Base, metaclass=Meta):
    """doc"""
    x: int = 3
    def method(self, a: "int", /, b=2, *args, c, d: float = 1.0, **kw) -> None:
        global G
        nonlocal_free = lambda q, *r, s=1, **t: q + s
        return [i * j for i in range(3) if i for j in {k: v for k, v in kw.items()}]
async def coro(x):
    async with lock as held, other():
        async for item in aiter(x):
            await item
    return {*x, *()}, (yield from x) if False else None
def f(x, y=None):
    try:
        z = x[1:2, ::3, ...][0] @ y
    except (ValueError, TypeError) as err:
        raise RuntimeError("no") from err
    except Exception:
        pass
    else:
        z += 1
    finally:
        del x
    if (n := len(y)) > 0 and not y or -y:
        print(f"{n!r:>{width}} {z}", *y, sep="", **{})
    with open(p) as fh, ctx:
        assert fh, "message"
    while True:
        break
    else:
        continue
    match y:
        case [1, *rest] | (2, 3) if rest:
            pass
        case {"k": v, **others}:
            pass
        case Point(x=0, y=yy) as pt:
            pass
        case None | True | -1.5 | 1 + 2j | "s" | b"b":
            pass
        case _:
            pass
    return (x if y is not None else (lambda: 0), a < b <= c != d, ~x,
            x ** 2 // 3 % 4 << 1 >> 2 & 3 | 4 ^ 5)
'''


def _same(ours, theirs, where="tree"):
    """Assert ``ours`` and ``theirs`` are the same value: AST nodes of the same class with
    the same keys (in the same order) and the same values, lists of the same values, or
    equal atoms of the same type."""
    assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(ours, ast.AST):
        assert list(vars(ours)) == list(vars(theirs)), \
            f"{where} ({type(ours).__name__}): {list(vars(ours))} != {list(vars(theirs))}"
        for key, value in vars(ours).items():
            _same(value, vars(theirs)[key], f"{where}.{key}")
    elif isinstance(ours, list):
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items != {len(theirs)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            _same(a, b, f"{where}[{k}]")
    else:
        assert repr(ours) == repr(theirs) and (ours == theirs or ours != ours), \
            f"{where}: {ours!r} != {theirs!r}"


def _nodes(tree):
    """Every node under ``tree``, the context and operator leaves included, each time it is
    reached (a node reached twice is shared)."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        for value in vars(node).values():
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, ast.AST):
                    todo.append(item)
    return out


def _check(text):
    ours, theirs = syntax.parse(text), gast.parse(text)
    _same(ours, theirs)
    nodes = _nodes(ours)
    assert len({id(n) for n in nodes}) == len(nodes)            # no node shared
    assert all(isinstance(n, gast.AST) and type(n).__module__ == gast.gast.__name__
               for n in nodes)
    return ours


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_parse_makes_gasts_tree(path):
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    _check(text)


def test_the_files_compared_are_the_package_the_examples_and_the_tests():
    folders = {os.path.relpath(p, ROOT).split(os.sep)[0] for p in FILES}
    assert folders == {"s2sgrad", "examples", "tests"}
    assert len(FILES) > 100


def test_every_construct_gast_translates_itself():
    tree = _check(EVERY_CONSTRUCT)
    classes = {type(n).__name__ for n in _nodes(tree)}
    # the classes whose translation differs between ast and gast all occurred
    assert {"ClassDef", "FunctionDef", "AsyncFunctionDef", "ExceptHandler", "Name", "Param",
            "match_case", "MatchAs", "MatchClass", "JoinedStr", "Lambda"} <= classes
    method = tree.body[2].body[2]
    assert method.name == "method"
    params = method.args
    assert [a.id for a in params.posonlyargs] == ["self", "a"]
    assert isinstance(params.posonlyargs[1].ctx, gast.Param)
    assert params.posonlyargs[1].annotation.value == "int"
    assert [a.id for a in params.kwonlyargs] == ["c", "d"]
    assert params.vararg.id == "args" and params.kwarg.id == "kw"
    assert method.type_params == [] and method.type_comment is None
    handlers = tree.body[4].body[0].handlers
    assert isinstance(handlers[0].name, gast.Name) and handlers[0].name.id == "err"
    assert isinstance(handlers[0].name.ctx, gast.Store) and handlers[1].name is None


def test_locations_are_the_texts():
    tree = syntax.parse("def f(x):\n    return x + 1\n")
    ret = tree.body[0].body[0]
    x = ret.value.left
    assert (ret.lineno, ret.col_offset, ret.end_lineno, ret.end_col_offset) == (2, 4, 2, 16)
    assert (x.lineno, x.col_offset, x.end_lineno, x.end_col_offset) == (2, 11, 2, 12)
    assert (x.annotation, x.type_comment) == (None, None)
    param = tree.body[0].args.args[0]
    assert (param.lineno, param.col_offset, param.end_col_offset) == (1, 6, 7)


def test_a_syntax_error_is_pythons():
    with pytest.raises(SyntaxError) as ours:
        syntax.parse("def f(:\n    pass\n")
    with pytest.raises(SyntaxError) as theirs:
        gast.parse("def f(:\n    pass\n")
    assert (ours.value.msg, ours.value.lineno, ours.value.offset) == \
        (theirs.value.msg, theirs.value.lineno, theirs.value.offset)


def test_a_copy_made_field_by_field_where_a_node_lacks_a_field():
    """A node not as ``ast.parse`` makes it (an attribute deleted) is copied field by field,
    as gast copies it."""
    tree = ast.parse("def g(a, b: int):\n    y = f(x) + 2\n")
    call = tree.body[0].body[0].value.left
    del call.end_lineno         # (the class's default, None, is read then, as gast reads it)
    del tree.body[0].body[0].value.col_offset
    del call.func.lineno        # a Name
    del call.args[0].end_col_offset
    del tree.body[0].args.args[1].col_offset      # an arg
    tree.body[0].args.args[0].lineno = None
    _same(syntax._to_gast(tree), gast.ast_to_gast(tree))


def test_the_users_function_and_a_rule_template_read_as_with_gast():
    from s2sgrad.frontend import source
    from s2sgrad.rules import template
    from s2sgrad.rules import math as math_rules

    def user(x, y=2.0):
        z = x * y           # a comment
        return z + 1.0
    ours = source.FunctionSource.of(user).node
    line = user.__code__.co_firstlineno
    assert ours.lineno == line and ours.body[0].lineno == line + 1
    import inspect
    import textwrap
    theirs = gast.parse(textwrap.dedent(inspect.getsource(user)))
    ast.increment_lineno(theirs, line - 1)
    theirs.body[0].decorator_list = []
    _same(ours, theirs.body[0])
    read = 0
    for fn in vars(math_rules).values():
        if inspect.isfunction(fn) and fn.__module__ == math_rules.__name__:
            tree = template._parse_quickly(fn)
            if tree is not None:
                _same(tree, gast.parse(textwrap.dedent(inspect.getsource(fn))))
                read += 1
    assert read >= 10


def test_a_rules_parameters_are_inspects():
    """``template._parameters`` reads a rule's parameters off its code object as
    ``inspect.signature`` lists them, for every rule function of the library and for
    every kind of parameter."""
    import functools
    from s2sgrad.rules import load_all, registry, template
    load_all()

    def every_kind(a, b=1, /, c=2, *rest, d, e=3, **kw):
        pass

    def wrapped(x, y=2):
        pass

    @functools.wraps(wrapped)
    def wrapper(*args, **kwargs):
        pass
    functions = [every_kind, wrapper, lambda x, *a: x, functools.partial(wrapped, 1)]
    for prim in registry.all_primitives():
        for rules in (prim.vjp, prim.jvp):
            functions.extend(rule._fn for rule in rules.values() if rule._fn is not None)
    assert len(functions) > 300
    for fn in functions:
        assert template._parameters(fn) == template._parameters_from_signature(fn), fn
    assert template._parameters(every_kind) == (
        ["a", "b", "c", "d", "e", "kw"], {"b": 1, "c": 2, "e": 3}, "rest")
    assert template._parameters(wrapper) == (["x", "y"], {"y": 2}, None)


def test_a_function_is_checked_against_its_file_once_per_text(tmp_path, monkeypatch):
    """``source._check_current`` compiles a definition once for its code and the lines
    ``linecache`` holds; an edit (new lines) is checked again, and refused."""
    import importlib
    import linecache
    import sys
    import time
    from s2sgrad.errors import SourceError
    from s2sgrad.frontend import source
    path = tmp_path / "cold_parse_checked.py"
    path.write_text("def f(x):\n    return x * 2.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("cold_parse_checked")
    checks = []
    real = source._check_text
    monkeypatch.setattr(source, "_check_text", lambda *a: checks.append(a[0]) or real(*a))
    try:
        for _ in range(3):
            assert source.FunctionSource.of(mod.f).node.body[0].value.right.value == 2.0
        assert checks == [mod.f]
        path.write_text("def f(x):\n    return x * 3.0\n")
        stamp = time.time() + 5
        os.utime(path, (stamp, stamp))
        linecache.checkcache(str(path))
        with pytest.raises(SourceError, match="not the code that runs"):
            source.FunctionSource.of(mod.f)
        assert checks == [mod.f, mod.f]
    finally:
        sys.modules.pop("cold_parse_checked", None)


def _increment_lineno(text, first):
    tree = gast.parse(text)
    ast.increment_lineno(tree, first - 1)
    return tree


@pytest.mark.parametrize("folder", ["s2sgrad", "examples", "tests"])
def test_a_piece_of_a_file_is_parsed_with_its_lines(folder):
    """``source._parse(text, first)``, which parses ``text`` after ``first - 1`` empty lines
    (or walks the tree when ``text`` catches an exception), makes the tree ``gast.parse``
    and ``ast.increment_lineno`` make: on the text of every function of the files, at its
    line, and on whole files at other lines."""
    from s2sgrad.frontend import source
    import textwrap
    checked = 0
    for path in FILES:
        if os.path.relpath(path, ROOT).split(os.sep)[0] != folder:
            continue
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        lines = text.splitlines(keepends=True)
        for first in (1, 2, 1000):
            _same(source._parse(text, first), _increment_lineno(text, first))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list:
                piece = textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno]))
                _same(source._parse(piece, node.lineno), _increment_lineno(piece, node.lineno))
                checked += 1
    assert checked > 50


def test_a_piece_that_catches_an_exception_and_a_syntax_error():
    from s2sgrad.frontend import source
    text = "def f(x):\n    try:\n        return x\n    except ValueError as err:\n        raise\n"
    ours = source._parse(text, 40)
    _same(ours, _increment_lineno(text, 40))
    name = ours.body[0].body[0].handlers[0].name
    assert (name.id, name.lineno) == ("err", 39) and "col_offset" not in vars(name)
    bad = "def f(x):\n    return (x\n"
    with pytest.raises(SyntaxError) as ours:
        source._parse(bad, 40)
    with pytest.raises(SyntaxError) as theirs:
        gast.parse(bad)
    assert str(ours.value) == str(theirs.value) and ours.value.lineno == 2
