"""Issue 14: a first gradient does not import the rules of the runtime helpers
(``rules/runtime_core.py``) when no pass asks for them.

Generated code calls runtime helpers (``_rt.zeros_like``, ``_rt.copy``...), each tagged with
its primitive for the passes after (generated code is differentiable).  The tag finds the
primitive when a pass first reads it; common subexpressions classify a helper's call by the
name the index gives.  Checked in a new interpreter (rule modules, once loaded, stay loaded).
"""

import numpy as np

from s2sgrad.rules import _index, registry
from fresh_process import run_json


def _f(x, n):
    total = 0.0
    for i in range(n):
        total = total + np.sum(np.sin(x) * x) * 0.5
        x = x * 0.9
    return total


def test_a_loop_s_gradient_loads_no_runtime_rules(tmp_path):
    out = run_json("""
        import json
        import numpy as np
        import s2sgrad
        from s2sgrad.rules import registry

        def f(x, n):
            total = 0.0
            for i in range(n):
                total = total + np.sum(np.sin(x) * x) * 0.5
                x = x * 0.9
            return total

        x = np.array([0.3, -1.2, 2.0])
        source = s2sgrad.grad(f, emit=True)
        g = s2sgrad.grad(f)(x, 3)
        print(json.dumps({"g": g.tolist(), "helpers": source.count("_rt."),
                          "loaded": sorted(registry._MODULES_LOADED)}))
    """, tmp_path)
    x = np.array([0.3, -1.2, 2.0])
    h = 1e-6
    want = [(_f(x + h * e, 3) - _f(x - h * e, 3)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(out["g"], want, rtol=1e-7)
    assert out["helpers"] > 0                      # the generated code calls runtime helpers
    assert "numpy" in out["loaded"]
    assert "runtime_core" not in out["loaded"], out["loaded"]


def test_a_second_derivative_through_runtime_helpers():
    import s2sgrad

    def f(x):
        y = x
        for i in range(3):
            y = np.sin(y) * x
        return y

    def d(x):   # f's derivative, by hand: y_{k+1} = sin(y_k) x
        y, dy = x, 1.0
        for i in range(3):
            y, dy = np.sin(y) * x, np.cos(y) * dy * x + np.sin(y)
        return dy

    x, h = 0.7, 1e-5
    assert abs(s2sgrad.grad(f)(x) - d(x)) < 1e-12
    assert abs(s2sgrad.grad(s2sgrad.grad(f))(x) - (d(x + h) - d(x - h)) / (2 * h)) < 1e-7


def test_the_tag_of_a_helper_call_finds_its_primitive():
    from s2sgrad.transform.reverse import _rt_call
    for helper in ("zeros_like", "copy", "unbroadcast", "check_scalar"):
        node = _rt_call(helper)
        prim = registry.by_name(helper, "s2sgrad.runtime")
        assert node.s2s_callee.prim is prim
        assert node.s2s_callee.kind == ("nondiff" if prim.nondiff else "primitive")
        assert node.s2s_callee.name == f"_rt.{helper}"
    assert not hasattr(_rt_call("no_such_helper"), "s2s_callee")


def test_listed_and_lookup_name_agree_with_by_name_and_lookup():
    import s2sgrad.runtime as runtime
    for family, name in _index.PRIMITIVES:
        if family != "s2sgrad.runtime":
            continue
        assert registry.listed(name, family)
        assert registry.by_name(name, family) is not None
        obj = getattr(runtime, name, None)
        hit = registry.lookup(obj) if obj is not None else None
        if hit is not None:
            assert registry.lookup_name(obj) == (hit[0].family, hit[0].name)
    assert not registry.listed("no_such_helper", "s2sgrad.runtime")
    assert registry.lookup_name(np.sin) == ("array", "sin")
    assert registry.lookup_name(object()) is None
