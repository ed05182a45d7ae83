"""What makes a cold transform cheaper keeps its results: the fast tree walk and copy, the
folded rule bodies kept per set of constants, and a callee normalized once per transform."""

import copy
import inspect

import gast
import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import specialize
from s2sgrad import syntax
from s2sgrad.driver import cache
from s2sgrad.rules import registry, template


_MARKERS = (gast.expr_context, gast.operator, gast.unaryop, gast.cmpop, gast.boolop)


def _sample_tree():
    import s2sgrad.rules.template as module
    return gast.parse(inspect.getsource(module))


def test_walk_visits_what_gast_walk_visits_in_the_same_order():
    """Every node but the marker leaves (a context, an operator), which passes read as their
    parent's attributes."""
    tree = _sample_tree()
    mine = list(syntax.walk(tree))
    markers = (gast.expr_context, gast.operator, gast.unaryop, gast.cmpop, gast.boolop)
    theirs = [n for n in gast.walk(tree) if not isinstance(n, markers)]
    assert len(mine) == len(theirs) > 4000
    assert all(a is b for a, b in zip(mine, theirs))


def test_copy_tree_is_a_deep_copy():
    tree = _sample_tree()
    fn = tree.body[-1]
    fn.body[0].s2s_line = 12                  # an annotation travels with the copy
    fn.body[0].s2s_prim = registry.by_name("sin")   # an object that copies as itself
    out = template.copy_tree(fn)
    assert gast.dump(out) == gast.dump(fn) == gast.dump(copy.deepcopy(fn))
    assert out.body[0].s2s_line == 12 and out.body[0].s2s_prim is fn.body[0].s2s_prim
    # every node is new but the marker leaves (a context, an operator), shared as
    # ``ast.parse`` shares them: no field, nothing a pass changes in place
    originals = {id(n) for n in gast.walk(fn)}
    shared = [n for n in gast.walk(out) if id(n) in originals]
    assert shared and all(n.__class__ in syntax.MARKERS and not n._fields and not vars(n)
                          for n in shared)
    assert len(shared) == sum(1 for n in gast.walk(fn) if isinstance(n, _MARKERS))


def test_inlining_the_same_rule_twice_gives_independent_code():
    # the folded body is kept per set of constants: each inlining gets its own copy
    prim = registry.by_name("sum")
    rule = prim.vjp["a"]
    names = iter(f"v{i}" for i in range(100))
    g = gast.Name(id="g", ctx=gast.Load(), annotation=None, type_comment=None)
    x = gast.Name(id="x", ctx=gast.Load(), annotation=None, type_comment=None)
    first = template.inline(rule.template, {"xp": gast.Name(id="np", ctx=gast.Load(),
                                                            annotation=None, type_comment=None),
                                            "g": g, "ans": g, "a": x, "axis": None},
                            lambda base: next(names))
    second = template.inline(rule.template, {"xp": gast.Name(id="np", ctx=gast.Load(),
                                                             annotation=None, type_comment=None),
                                             "g": g, "ans": g, "a": x, "axis": None},
                             lambda base: next(names))
    text = [gast.dump(s) for s in first[0]] + [gast.dump(first[1])]
    assert text == [gast.dump(s) for s in second[0]] + [gast.dump(second[1])]
    first_nodes = {id(n) for s in first[0] + [first[1]] for n in gast.walk(s)
                   if not isinstance(n, _MARKERS)}
    assert not any(id(n) in first_nodes for s in second[0] + [second[1]] for n in gast.walk(s))
    # with axis=0 (another constant) the other branch of the rule is kept
    third = template.inline(rule.template, {"xp": gast.Name(id="np", ctx=gast.Load(),
                                                            annotation=None, type_comment=None),
                                            "g": g, "ans": g, "a": x, "axis": 0},
                            lambda base: next(names))
    assert [gast.dump(s) for s in third[0]] + [gast.dump(third[1])] != text


def _helper(v, k):
    total = 0.0
    for i in range(k):
        total = total + np.sin(v * (i + 1)) / (i + 1)
    return total


def _outer(x, k=3):
    y = _helper(x, k) * x
    return np.sum(y ** 2) + np.sum(_helper(y, 2))


def _fd(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        out[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return out


@pytest.mark.parametrize("fallback", ["auto", "never"])
def test_a_callee_is_normalized_once_per_transform(monkeypatch, fallback):
    import s2sgrad.frontend.normalize as normalize_module
    import s2sgrad.transform.program as program_module
    seen = []
    original = normalize_module.normalize

    def counting(fsrc, *args, **kwargs):
        seen.append(fsrc.name)
        return original(fsrc, *args, **kwargs)

    monkeypatch.setattr(normalize_module, "normalize", counting)
    monkeypatch.setattr(program_module, "normalize", counting)
    from s2sgrad.driver import routes
    routes._WHY.pop(_helper, None)
    cache.forget()
    x = np.array([0.3, -0.4, 0.9])
    # (the general code: code specialized to a signature normalizes a copy of _helper for
    # each of its calls' abstract arguments, k=3 and k=2, on purpose)
    with specialize.using("general"):
        g = s2sgrad.grad(_outer, fallback=fallback)(x)
    np.testing.assert_allclose(g, _fd(_outer, x), rtol=1e-6, atol=1e-9)
    if fallback == "auto":
        assert sorted(seen) == ["_helper", "_outer"]
    else:   # another policy than the classification's: the callee is normalized again
        assert sorted(seen) == ["_helper", "_helper", "_outer"]


def test_the_collector_is_paused_during_a_transform_only(monkeypatch):
    """The cyclic collector is off while the compiler runs, on again after (an error
    included), and left off for a user who turned it off."""
    import gc
    from s2sgrad.driver import cache
    monkeypatch.setenv("S2SGRAD_CACHE", "off")
    seen = []

    def transform(fn, options):
        seen.append(gc.isenabled())
        raise RuntimeError("stop")

    def f(x):
        return x * x

    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        cache.lookup(f, ("cold-test", 1), transform)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(RuntimeError):
            cache.lookup(f, ("cold-test", 2), transform)
        assert not gc.isenabled()
    finally:
        gc.enable()
