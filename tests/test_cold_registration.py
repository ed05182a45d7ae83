"""Registering a rule module is cheap (issue 14, the first call in a new process): no
``inspect.signature`` and no rule text written until a rule is used, and what is made on
first use is what registration made before."""

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest

from s2sgrad.rules import registry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("declaration", [
    "unbroadcast(value, like)",
    "reduce_vjp(value, x, axis=None, keepdims=False)",
    "item_of(value, index=())",
    "window_view(value, window_shape, axis=None)",
    "f(value, *rest, key=(1, 2), reverse=False)",
    "f(value, *, lower=True)",
    "f(value, k=[1, (2, 3)], **extra)",
    "f( value ,  b = -1 )",
])
def test_declarations_are_read_as_inspect_reads_them(declaration):
    name, params = registry._declared_params(declaration)
    expect_name, sig = registry._declared(declaration, {})
    assert name == expect_name
    kinds = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**",
             inspect.Parameter.KEYWORD_ONLY: "kw"}
    assert params == [(p.name, kinds.get(p.kind, "")) for p in sig.parameters.values()]


@pytest.mark.parametrize("declaration", ["f(value, sep=',')", "f(value, k=(1, 2)", "f value"])
def test_a_declaration_not_plain_is_left_to_inspect(declaration):
    assert registry._declared_params(declaration) is None


@pytest.fixture
def unregistered():
    """Takes out of the registry what the test declared (its primitives are named lazy_*):
    not the library's rule modules its calls loaded, which stay loaded, so their primitives
    must stay registered."""
    before = set(registry._PRIMITIVES)
    yield
    for key in set(registry._PRIMITIVES) - before:
        if key[1].startswith("lazy_"):
            del registry._PRIMITIVES[key]
    registry._lookup_table[0] = None
    registry._cache_key[0] = None


def test_a_declared_helper_gets_its_signature_and_rules_on_first_use(unregistered):
    prim = registry.transpose("lazy_probe(value, like, axis=None)", "g * 2.0",
                              family="array", batch="t * 2.0")
    assert "_deferred_signature" in vars(prim) and "signature" not in vars(prim)
    assert prim.vjp["value"]._source.__class__ is not str       # not written yet
    assert prim.params == ["value", "like", "axis"]
    assert prim.vjp["value"].source == ("def vjp_value(xp, g, ans, value, like, "
                                        "axis=_defaults['axis']):\n    return g * 2.0\n")
    np.testing.assert_allclose(prim.vjp["value"](np, np.ones(3), None, None, None),
                               2.0 * np.ones(3))
    assert prim.bind([1, 2], {"axis": 0}) == {"value": 1, "like": 2, "axis": 0}
    assert prim.jvp["value"].source.splitlines()[-1].strip() == \
        "return xp.lazy_probe(t, like, axis)"


def test_refusals_still_come_at_declaration(unregistered):
    with pytest.raises(TypeError, match="cannot take a parameter 'g'"):
        registry.transpose("lazy_bad(g)", "g", family="test.cold_registration2")
    with pytest.raises(TypeError, match=r"write the forward rule for \*rest"):
        registry.transpose("lazy_star(*rest)", "g", family=registry.RUNTIME_FAMILY)
    assert registry.by_name("unbroadcast", registry.RUNTIME_FAMILY) is not None
    with pytest.raises(TypeError, match="declared twice"):
        registry.transpose("unbroadcast(value, like)", "g")


def test_loading_the_numpy_rules_calls_no_inspect_signature():
    code = ("import inspect, sys\n"
            "import s2sgrad.rules.registry\n"
            "calls = []\n"
            "real = inspect.signature\n"
            "inspect.signature = lambda *a, **k: calls.append(a) or real(*a, **k)\n"
            "import s2sgrad.rules.numpy, s2sgrad.rules.runtime_core, s2sgrad.rules.arrays_shapes\n"
            "print(len(calls))\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "0", out.stdout + out.stderr


def test_primitives_bind_arguments_as_their_signature_does():
    """``Primitive.bind`` binds positional-or-keyword parameters without ``Signature.bind``:
    the same mapping, in the same order, and the same refusals, for every primitive."""
    from s2sgrad.rules import load_everything
    load_everything()
    checked = 0
    for prim in registry.all_primitives():
        sig = prim.signature
        if sig is None:
            continue
        names = list(sig.parameters)
        for k in range(len(names) + 2):
            args = [f"a{i}" for i in range(k)]
            keywords = [{}] + [{nm: "kw"} for nm in names + ["not_a_parameter"]] \
                + [{nm: "kw" for nm in names[k:][::-1]}]
            for kw in keywords:
                try:
                    expect = dict(sig.bind(*args, **kw).arguments)
                except TypeError:
                    expect = TypeError
                try:
                    got = prim.bind(args, kw)
                except TypeError:
                    got = TypeError
                assert got == expect, (prim, args, kw)
                if got is not TypeError:
                    assert list(got) == list(expect), (prim, args, kw)
                checked += 1
    assert checked > 5000
