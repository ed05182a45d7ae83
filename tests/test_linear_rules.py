"""Linear primitives: the flag is true, and the rules the registry writes from it are right.

A primitive declared linear in ``p`` (``primitive(..., linear=...)``, ``transpose``,
``transpose_pair``) gets its forward rule for ``p`` written as the primitive applied to the
tangent, and a declared transpose gives its reverse rule.  The rule tests (test_rules.py)
check every rule against finite differences through both consumers; here: the flag itself
holds (the forward rule of each linear parameter is the primitive at the tangent, on every
rule case), and a declaration makes what it says.
"""

import numpy as np
import pytest

from s2sgrad import runtime
from s2sgrad.rules import load_everything, registry

from rule_cases import case_id, CASES
from test_rules import _call, _function, _random_like, _targets, _tree_map, _with

load_everything()


def _linear_cases():
    for prim in registry.all_primitives():
        if not prim.linear:
            continue
        for i, case in enumerate(CASES.get(prim.qualname, [])):
            yield pytest.param(prim, case, id=case_id(prim, i, case))


def test_linear_primitives_are_declared():
    linear = [p for p in registry.all_primitives() if p.linear]
    assert len(linear) > 150
    for prim in linear:
        assert set(prim.linear) <= set(prim.vjp) | set(prim.jvp) | set(prim.params), prim
        assert set(prim.linear) <= set(prim.jvp), f"{prim.qualname}: no forward rule"


@pytest.mark.parametrize("prim,case", list(_linear_cases()))
def test_linear_means_the_forward_rule_is_the_primitive_at_the_tangent(prim, case):
    rng = np.random.default_rng(2)
    args, kwargs = case.make(rng)
    fn = _function(prim, case)
    bound = prim.bind(args, kwargs)
    ans = _call(fn, prim, bound)
    if getattr(getattr(ans, "dtype", None), "kind", "f") in "biu":
        # a cast to integers or bools is piecewise constant, not linear: its derivative is zero
        # (tests/test_python_semantics.py), which is not the cast of the tangent
        pytest.skip("a cast to an integer dtype has derivative zero")
    checked = 0
    for param, argnum, x in _targets(prim, case, bound):
        if param not in prim.linear:
            continue
        t = _random_like(x, rng)
        at_tangent = _call(fn, prim, _with(bound, param, t, argnum))
        rule = registry.apply_rule(prim, prim.jvp[param], np, t, ans, bound, argnum)
        _tree_map(lambda a, b: np.testing.assert_allclose(
            np.broadcast_to(a, np.shape(b)), b, rtol=1e-10, atol=1e-12), rule, at_tangent)
        checked += 1
    assert checked or all(p in case.nondiff for p in prim.linear)


def test_written_forward_rule_reads_like_the_call():
    prim = registry.by_name("from_triangle", "s2sgrad.runtime")
    assert prim.linear == ("x",)
    assert prim.jvp["x"].source.splitlines()[-1].strip() == "return from_triangle(t, lower)"
    assert prim.vjp["x"].source.splitlines()[-1].strip() == "return to_triangle(g, lower)"
    x = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(prim.jvp["x"](np, x, None, x), runtime.from_triangle(x))


def test_transpose_declaration_gives_both_rules():
    prim = registry.by_name("window_view", "s2sgrad.runtime")
    g = np.arange(8.0).reshape(4, 2) + 1.0
    x = np.arange(5.0)
    ct = prim.vjp["value"](np, g, None, x, 2)
    # <transpose(g), v> = <g, window_view(v)> for every v: the defining property
    v = np.random.default_rng(0).standard_normal(5)
    assert np.dot(ct, v) == pytest.approx(np.sum(g * runtime.window_view(v, 2)))
    np.testing.assert_allclose(prim.jvp["value"](np, v, None, x, 2), runtime.window_view(v, 2))


def test_a_declaration_must_make_sense():
    with pytest.raises(TypeError, match="no parameters"):
        registry.transpose_pair("diag_part(x)", "from_triangle(x, lower=True)",
                                family="test.linear")
    with pytest.raises(TypeError, match="cannot take a parameter 't'"):
        registry.transpose("mT(t)", "mT(g)", family="test.linear2")
    with pytest.raises(TypeError, match="unknown parameters"):
        @registry.primitive("mT", family="test.linear3", linear=("y",))
        class _Bad:
            def vjp_x(xp, g, ans, x):
                return g


def test_every_written_rule_is_a_valid_template():
    written = [r for p in registry.all_primitives() for kind in (p.vjp, p.jvp, p.batch)
               for r in kind.values() if r.source is not None]
    assert len(written) > 150
    for rule in written:
        rule.template.check()        # names only parameters, builtins, runtime helpers, modules
        assert rule.template.body
