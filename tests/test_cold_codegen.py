"""codegen's own ``_fix`` and ``_to_ast`` do what ``gast.fix_missing_locations`` and
``gast.gast_to_ast`` do (the same locations set on the gast nodes, the same ast nodes with
the same attributes), on every node of the package's source and of the generated samples,
with and without locations; and the text printed from them is the same."""

import ast
import glob
import os

import astor
import gast
import pytest

from s2sgrad import codegen
from s2sgrad.syntax import copy_tree, walk

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(ROOT, "s2sgrad", "**", "*.py"), recursive=True)
               + glob.glob(os.path.join(ROOT, "generated_samples", "*.py"))
               + glob.glob(os.path.join(ROOT, "examples", "*.py")))


def _strip_some_locations(tree):
    """Every third node loses its location (as nodes a pass makes have none)."""
    for k, node in enumerate(walk(tree)):
        if k % 3 == 0:
            for attr in ("lineno", "col_offset", "end_lineno", "end_col_offset"):
                if attr in node.__dict__:
                    delattr(node, attr)
    return tree


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_fix_and_convert_as_gast_does(path):
    with open(path, encoding="utf-8") as fh:
        tree = gast.parse(fh.read())
    for variant in (tree, _strip_some_locations(copy_tree(tree))):
        ours, theirs = copy_tree(variant), copy_tree(variant)
        codegen._fix(ours)
        gast.fix_missing_locations(theirs)
        assert gast.dump(ours, include_attributes=True) == \
            gast.dump(theirs, include_attributes=True)
        assert ast.dump(codegen._to_ast(ours), include_attributes=True) == \
            ast.dump(gast.gast_to_ast(theirs), include_attributes=True)


def test_the_printed_statements_are_gasts():
    with open(os.path.join(ROOT, "s2sgrad", "transform", "reverse.py"), encoding="utf-8") as fh:
        tree = gast.parse(fh.read())
    statements = [n for n in walk(tree) if isinstance(n, gast.stmt)]
    assert len(statements) > 1000
    for s in statements:
        old = astor.to_source(gast.gast_to_ast(gast.fix_missing_locations(copy_tree(s))),
                              pretty_source="".join).rstrip("\n")
        assert codegen._unparse(copy_tree(s)) == old


def test_a_node_made_by_a_pass_gets_its_parents_location():
    value = gast.BinOp(left=gast.Name(id="x", ctx=gast.Load(), annotation=None,
                                      type_comment=None),
                       op=gast.Mult(), right=gast.Constant(value=2.0, kind=None))
    stmt = gast.Assign(targets=[gast.Name(id="y", ctx=gast.Store(), annotation=None,
                                          type_comment=None)], value=value, type_comment=None)
    stmt.lineno, stmt.col_offset = 7, 4
    codegen._fix(stmt)
    assert (value.lineno, value.col_offset, value.left.lineno) == (7, 4, 7)
    assert codegen.to_source(stmt) == "y = x * 2.0"


PRINTED_FILES = FILES + sorted(glob.glob(os.path.join(ROOT, "tests", "*.py"))
                               + glob.glob(os.path.join(ROOT, "benchmarks", "*.py")))


@pytest.mark.parametrize("path", PRINTED_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_the_printer_writes_what_astor_writes(path):
    """``codegen._Printer`` gives astor's text, to the character, for every statement and
    every expression it prints (it declines the others, which astor then prints)."""
    with open(path, encoding="utf-8") as fh:
        tree = gast.parse(fh.read())
    printed = 0
    for node in walk(tree):
        if not isinstance(node, (gast.stmt, gast.expr)):
            continue
        ours = codegen._Printer.text(node)
        if ours is None:
            continue
        assert ours == codegen._astor_source(copy_tree(node)), gast.dump(node)
        printed += 1
    for node in walk(tree):
        if isinstance(node, gast.FunctionDef):
            ours = codegen._Printer.header(node)
            theirs = codegen._astor_source(gast.FunctionDef(
                name=node.name, args=copy_tree(node.args), body=[gast.Pass()],
                decorator_list=[], returns=None, type_comment=None, type_params=[]))
            assert ours is None or ours == theirs.splitlines()[0]
    assert printed > 0 or len(tree.body) <= 1


def test_the_printer_parenthesizes_as_python_reads():
    """Printed text parses back to the same tree (parentheses where precedence needs them,
    none elsewhere), for expressions built by hand as passes build them."""
    def n(id_):
        return gast.Name(id=id_, ctx=gast.Load(), annotation=None, type_comment=None)

    def c(v):
        return gast.Constant(value=v, kind=None)

    def b(left, op, right):
        return gast.BinOp(left=left, op=op, right=right)

    def u(op, operand):
        return gast.UnaryOp(op=op, operand=operand)

    cases = [
        (b(b(n("a"), gast.Sub(), n("b")), gast.Sub(), b(n("c"), gast.Sub(), n("d"))),
         "a - b - (c - d)"),
        (b(u(gast.USub(), n("x")), gast.Pow(), c(2)), "(-x) ** 2"),
        (u(gast.USub(), b(n("x"), gast.Pow(), c(2))), "-x ** 2"),
        (b(n("x"), gast.Pow(), b(n("y"), gast.Pow(), n("z"))), "x ** y ** z"),
        (b(b(n("x"), gast.Pow(), n("y")), gast.Pow(), n("z")), "(x ** y) ** z"),
        (gast.Attribute(value=b(n("a"), gast.Add(), n("b")), attr="T", ctx=gast.Load()),
         "(a + b).T"),
        (gast.Subscript(value=b(n("a"), gast.MatMult(), n("b")),
                        slice=gast.Tuple(elts=[gast.Slice(lower=None, upper=None, step=None),
                                               c(0)], ctx=gast.Load()), ctx=gast.Load()),
         "(a @ b)[:, 0]"),
        (gast.Call(func=n("f"), args=[gast.Tuple(elts=[n("a"), n("b")], ctx=gast.Load())],
                   keywords=[gast.keyword(arg="axis", value=u(gast.USub(), c(1)))]),
         "f((a, b), axis=-1)"),
        (gast.IfExp(test=n("t"), body=b(n("a"), gast.Add(), n("b")),
                    orelse=gast.IfExp(test=n("s"), body=n("c"), orelse=n("d"))),
         "a + b if t else c if s else d"),
        (gast.Tuple(elts=[n("a")], ctx=gast.Load()), "a,"),
        (gast.Tuple(elts=[], ctx=gast.Load()), ""),
    ]
    for node, text in cases:
        assert codegen.to_source(node) == text
        assert codegen.to_source(node) == codegen._astor_source(copy_tree(node))
        if text:
            assert ast.dump(ast.parse(text, mode="eval").body) == \
                ast.dump(gast.gast_to_ast(node))


def test_the_printers_precedences_and_symbols_are_astors():
    import astor.op_util as op_util
    for name in ("Assign", "AugAssign", "Expr", "Return", "Slice", "Subscript", "Tuple",
                 "Comma", "call_one_arg", "IfExp", "Pow", "PowRHS", "Constant", "highest"):
        assert getattr(codegen._P, name) == getattr(op_util.Precedence, name), name
    for op, (p, text) in codegen._OPERATORS.items():
        node = getattr(ast, op.__name__)()
        assert p == op_util.get_op_precedence(node), op
        assert text == op_util.get_op_symbol(node), op
