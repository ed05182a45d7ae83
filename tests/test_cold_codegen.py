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
