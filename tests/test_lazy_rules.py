"""The rule library loads lazily: a lookup imports the one rule module it needs, templates are
parsed on first use, and what is found is what loading every module at once finds.

The checks that need an interpreter with no rule module loaded yet run in a subprocess.
"""

import json
import os

import numpy as np
import pytest

import s2sgrad
from s2sgrad import rules
from s2sgrad.rules import load_everything, registry
from fresh_process import run


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_index_isrun():
    path = os.path.join(ROOT, "s2sgrad", "rules", "_index.py")
    with open(path, encoding="utf-8") as f:
        assert f.read() == rules.index_text(), \
            "regenerate it: python -m s2sgrad.rules._index"


# What the lazy registry finds for every name, method, operator and object, in a fresh
# interpreter: first one at a time (each lookup loading what it needs), then after loading
# every module at once.  The two must agree entry for entry.
_SURVEY = """
    import json, sys, types
    import numpy, math, builtins, cmath
    import scipy.special, scipy.stats, scipy.linalg, scipy.signal, scipy.integrate, scipy.optimize
    import s2sgrad.runtime
    from s2sgrad import rules
    from s2sgrad.rules import registry, _index

    def survey():
        out = {}
        for family, name in _index.PRIMITIVES:
            p = registry.by_name(name, family)
            out[f"name {family} {name}"] = p and [p.qualname, id(p)]
        for name in _index.METHODS:
            hit = registry.method_primitive(name)
            out[f"method {name}"] = hit and [hit[0].qualname, hit[1], id(hit[0])]
        for op in _index.OPERATORS:
            p = registry.operator_primitive(op)
            out[f"operator {op}"] = p and [p.qualname, id(p)]
        spaces = {"array": [numpy], "math": [math], "builtins": [builtins], "cmath": [cmath],
                  "s2sgrad.runtime": [s2sgrad.runtime]}
        for family, name in _index.PRIMITIVES:
            for ns in spaces.get(family, [sys.modules.get(family)]):
                obj = ns
                for part in name.split("."):
                    obj = getattr(obj, part, None)
                if obj is None or isinstance(obj, (types.ModuleType, type)):
                    continue
                hit = registry.lookup(obj)
                out[f"object {family} {name}"] = hit and [hit[0].qualname, id(hit[0]),
                                                          getattr(hit[1], "__name__", None)]
        return out

    loaded_before = sorted(registry._MODULES_LOADED)
    lazy = survey()
    rules.load_everything()
    eager = survey()
    print(json.dumps({"before": loaded_before, "lazy": lazy, "eager": eager,
                      "all": sorted(p.qualname for p in registry.all_primitives()),
                      "modules": rules.rule_modules(),
                      "loaded": sorted(registry._MODULES_LOADED)}))
"""


@pytest.fixture(scope="module")
def survey():
    return json.loads(run(_SURVEY))


def test_nothing_is_loaded_before_the_first_lookup(survey):
    assert survey["before"] == []


def test_lazy_lookups_find_what_loading_everything_finds(survey):
    lazy, eager = survey["lazy"], survey["eager"]
    assert lazy.keys() == eager.keys()
    assert len(lazy) > 900
    diff = {k: (lazy[k], eager[k]) for k in lazy if lazy[k] != eager[k]}
    assert diff == {}
    assert all(v is not None for k, v in lazy.items() if not k.startswith("object"))


def test_the_lazy_registry_is_complete(survey):
    # every primitive the index names was found by name, and nothing else is registered
    found = {v[0] for k, v in survey["lazy"].items() if k.startswith("name")}
    assert found == set(survey["all"])
    assert survey["loaded"] == survey["modules"]


def test_the_registry_in_this_process_is_complete():
    load_everything()
    from s2sgrad.rules import _index
    names = {(p.family, p.name) for p in registry.all_primitives()}
    assert set(_index.PRIMITIVES) <= names
    assert set(_index.METHODS) <= set(registry._METHODS)
    assert set(_index.OPERATORS) <= set(registry._OPERATORS)


def test_a_gradient_loads_only_the_rules_it_uses():
    out = json.loads(run("""
        import json
        import numpy as np
        import s2sgrad
        from s2sgrad.rules import registry

        def f(x):
            return np.sum(np.sin(x) * x)

        x = np.linspace(0.1, 1.0, 5)
        g = s2sgrad.grad(f)(x)
        print(json.dumps({"g": list(g), "want": list(np.cos(x) * x + np.sin(x)),
                          "loaded": sorted(registry._MODULES_LOADED)}))
    """))
    np.testing.assert_allclose(out["g"], out["want"], rtol=1e-12)
    assert "numpy" in out["loaded"]
    assert not {"fft", "linalg", "scipy_special", "scipy_stats"} & set(out["loaded"])


def test_a_rule_loaded_on_first_use_differentiates_correctly():
    # scipy.special's rules load when the program has imported scipy.special and calls it;
    # the FFT's when it calls np.fft
    out = json.loads(run("""
        import json
        import numpy as np
        import scipy.special
        import s2sgrad
        from s2sgrad.rules import registry

        def f(x):
            return np.sum(scipy.special.gammaln(x) * np.real(np.fft.fft(x)))

        x = np.array([1.5, 2.5, 3.0])
        before = sorted(registry._MODULES_LOADED)
        g = s2sgrad.grad(f)(x)
        eps = 1e-6
        fd = [(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(3)]
        print(json.dumps({"before": before, "g": list(g), "fd": fd,
                          "loaded": sorted(registry._MODULES_LOADED)}))
    """))
    assert out["before"] == []
    assert {"scipy_special", "fft"} <= set(out["loaded"])
    np.testing.assert_allclose(out["g"], out["fd"], rtol=1e-6)


def test_lookups_from_threads_see_whole_modules():
    out = json.loads(run("""
        import json, threading
        import numpy as np
        from s2sgrad.rules import registry

        objects = [np.sin, np.fft.fft, np.linalg.inv, np.einsum, np.cumsum, np.sum] * 4
        results = [None] * len(objects)

        def work(i):
            prim, _ = registry.lookup(objects[i])
            results[i] = [prim.qualname, sorted(prim.vjp)]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(objects))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(json.dumps(results))
    """))
    assert [r[0] for r in out[:6]] == ["sin", "fft.fft", "linalg.inv", "einsum", "cumsum", "sum"]
    assert all(r == out[i % 6] for i, r in enumerate(out))


def test_every_rule_has_a_valid_template():
    # templates are parsed on first use now, not when the rule is defined: parse them all here
    load_everything()
    count = 0
    for prim in registry.all_primitives():
        real = getattr(prim, "real_rules", {})
        for table in (prim.vjp, prim.jvp, prim.batch, *real.values()):
            for rule in table.values():
                t = rule.template
                t.check()
                assert t.body, rule
                assert callable(rule.fn)
                count += 1
    assert count > 900


def test_a_template_is_parsed_once():
    load_everything()
    prim = registry.by_name("tanh")
    rule = prim.vjp["x"]
    assert rule.template is rule.template
    assert registry.by_name("arctan").vjp["x"].template is registry.by_name("arctan").vjp[
        "x"].template


def test_a_gradient_after_every_module_is_loaded_is_the_same():
    def f(x):
        return np.sum(np.tanh(x) ** 2 + np.exp(-x) * x)

    x = np.array([0.3, -0.7, 1.1])
    want = 2 * np.tanh(x) * (1 - np.tanh(x) ** 2) + np.exp(-x) * (1 - x)
    load_everything()
    np.testing.assert_allclose(s2sgrad.grad(f)(x), want, rtol=1e-12)
