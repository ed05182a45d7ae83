"""Inlining a rule folds its body once where the call site's values are names (issue 14,
the first call's cost): ``template.inline`` skips the second ``fold_statements`` when every
value it substitutes is a name or an attribute of one.  That must give what folding twice
gives, for every rule of the library."""

import itertools

import gast
import pytest

from s2sgrad.rules import load_everything, registry, template


def _rules():
    load_everything()
    seen = set()
    for prim in registry.all_primitives():
        for kind in ("vjp", "jvp"):
            for param, rule in sorted(getattr(prim, kind).items()):
                try:
                    t = rule.template
                except Exception:       # (a rule the code generator never inlines)
                    continue
                if id(t) not in seen:
                    seen.add(id(t))
                    yield t


def _inlined(t, bindings):
    counter = itertools.count()
    imports = set()
    stmts, expr = template.inline(t, bindings, lambda base: f"{base}_{next(counter)}", imports,
                                  hint="h")
    return gast.dump(gast.Module(body=stmts, type_ignores=[])), gast.dump(expr), sorted(imports)


def _names(t, attribute=False):
    out = {}
    for p in t.params:
        node = gast.Name(id=f"v_{p}", ctx=gast.Load(), annotation=None, type_comment=None)
        if attribute:
            node = gast.Attribute(value=node, attr="w", ctx=gast.Load())
        out[p] = node
    if t.varargs is not None:
        out[t.varargs] = gast.Tuple(elts=[gast.Name(id="v_a", ctx=gast.Load(), annotation=None,
                                                    type_comment=None)], ctx=gast.Load())
    return out


@pytest.mark.parametrize("attribute", [False, True])
def test_inlining_with_names_gives_what_folding_twice_gives(monkeypatch, attribute):
    templates = list(_rules())
    assert len(templates) > 300
    quick = []
    for t in templates:
        try:
            quick.append(_inlined(t, _names(t, attribute)))
        except Exception as exc:            # (a rule that needs other arguments)
            quick.append(type(exc))
    monkeypatch.setattr(template, "_inert", lambda node: False)
    for t, expect in zip(templates, quick):
        try:
            full = _inlined(t, _names(t, attribute))
        except Exception as exc:
            full = type(exc)
        assert full == expect, t.name


def test_a_constant_restored_to_a_reassigned_parameter_is_folded():
    """A parameter the rule reassigns only in a branch its constants drop is its value
    again: a constant there folds what reads it (the second fold is not skipped)."""
    src = ("def vjp_x(xp, g, ans, x, axis=None, flag=False):\n"
           "    if flag:\n"
           "        axis = 0\n"
           "    if axis is None:\n"
           "        return g * x\n"
           "    return g * axis\n")
    namespace = {}
    exec(src, namespace)
    t = template.Template.from_function(namespace["vjp_x"], source=src)
    bindings = {"xp": gast.Name(id="np", ctx=gast.Load(), annotation=None, type_comment=None),
                "ans": gast.Name(id="ans", ctx=gast.Load(), annotation=None, type_comment=None),
                "g": gast.Name(id="g", ctx=gast.Load(), annotation=None, type_comment=None),
                "x": gast.Name(id="x", ctx=gast.Load(), annotation=None, type_comment=None),
                "axis": None, "flag": False}
    stmts, expr = template.inline(t, bindings, lambda base: base)
    assert stmts == [] or all(not isinstance(s, gast.If) for s in stmts)
    assert gast.dump(expr) == gast.dump(gast.parse("g * x").body[0].value)
