"""Every derivative rule, in both modes and through both consumers, against finite differences.

For each primitive and each call in ``rule_cases.CASES``:
- the reverse rule (called, as the tracer does) satisfies <vjp(g), v> = <g, J v>,
- the forward rule gives J v,
- the inlined template (as the code generator emits it) computes what the rule does,
where J v is a central finite difference of the primitive along a random direction v.
"""

import builtins
import importlib
import math
import operator

import gast
import numpy as np
import pytest

from s2sgrad import runtime
from s2sgrad.rules import registry
from s2sgrad.rules.template import constant, inline

from rule_cases import case_id, CASES
from s2sgrad.rules import load_everything

load_everything()

EPS = 1e-6


def _function(prim, case):
    if case.fn is not None:
        return case.fn
    if prim.family == "op":
        return {"getitem": operator.getitem}[prim.name]
    if prim.family == "array":
        mod = np
    else:
        mod = importlib.import_module(prim.family)
    obj = mod
    for part in prim.name.split("."):
        obj = getattr(obj, part)
    return obj


def _tree_map(f, *trees):
    t0 = trees[0]
    if isinstance(t0, (list, tuple)):
        items = [_tree_map(f, *parts) for parts in zip(*trees)]
        return tuple(items) if isinstance(t0, tuple) else items
    return f(*trees)


def _inner(a, b):
    """The real inner product Re(sum(conj(a) * b)), through containers."""
    if isinstance(a, (list, tuple)):
        return sum(_inner(u, v) for u, v in zip(a, b))
    return float(np.real(np.sum(np.conj(np.asarray(a)) * np.asarray(b))))


def _random_like(x, rng):
    if isinstance(x, (list, tuple)):
        return [_random_like(e, rng) for e in x]
    if isinstance(x, float):
        return float(rng.standard_normal())
    if np.iscomplexobj(x):
        return rng.standard_normal(np.shape(x)) + 1j * rng.standard_normal(np.shape(x))
    return rng.standard_normal(np.shape(x))


def _conj(x):
    return _tree_map(np.conj, x) if isinstance(x, (list, tuple)) else np.conj(x)


def _with(bound, param, value, argnum):
    out = dict(bound)
    if argnum is None:
        out[param] = value
    else:
        vals = list(out[param])
        vals[argnum] = value
        out[param] = tuple(vals)
    return out


def _call(fn, prim, bound):
    return registry.call_bound(fn, prim, bound)

def _cases():
    for prim in registry.all_primitives():
        if prim.nondiff:
            continue
        for i, case in enumerate(CASES.get(prim.qualname, [])):
            yield pytest.param(prim, case, id=case_id(prim, i, case))


def test_every_differentiable_primitive_has_cases():
    missing = [p.qualname for p in registry.all_primitives()
               if not p.nondiff and p.qualname not in CASES]
    assert not missing, f"primitives without test cases in rule_cases.py: {missing}"


def _index_like(x):
    """Strings and lists of ints (einsum's subscripts and sublists) carry no derivative."""
    return isinstance(x, str) or isinstance(x, list) and all(
        isinstance(e, int) or e is Ellipsis for e in x)


def _targets(prim, case, bound):
    va = registry.varargs_param(prim)
    for param in sorted(set(prim.vjp) | set(prim.jvp)):
        if param in case.nondiff or param not in bound or bound[param] is None:
            continue  # None (an omitted optional array, like clip's a_max) has no derivative
        if param == va:
            for k in range(len(bound[param])):
                if not _index_like(bound[param][k]):
                    yield param, k, bound[param][k]
        elif not _index_like(bound[param]):
            yield param, None, bound[param]


@pytest.mark.parametrize("prim,case", list(_cases()))
def test_rule_matches_finite_differences(prim, case):
    rng = np.random.default_rng(0)
    args, kwargs = case.make(rng)
    fn = _function(prim, case)
    bound = prim.bind(args, kwargs)
    ans = _call(fn, prim, bound)
    xp = np
    checked = 0
    for param, argnum, x in _targets(prim, case, bound):
        v = _random_like(x, rng)
        plus = _tree_map(lambda a, d: a + EPS * d, x, v)
        minus = _tree_map(lambda a, d: a - EPS * d, x, v)
        f_plus = _call(fn, prim, _with(bound, param, plus, argnum))
        f_minus = _call(fn, prim, _with(bound, param, minus, argnum))
        jv = _tree_map(lambda a, b: (np.asarray(a) - np.asarray(b)) / (2 * EPS), f_plus, f_minus)
        if param in prim.vjp:
            # Autograd's convention for complex values: the reverse rule maps the
            # conjugate of a covector g to the conjugate of its pull-back.
            g = _random_like(ans, rng)
            ct = registry.apply_rule(prim, prim.vjp[param], xp, _conj(g), ans, bound, argnum)
            assert np.isclose(_inner(v, _conj(ct)), _inner(g, jv), rtol=1e-5, atol=1e-6), \
                f"vjp of {prim.qualname} wrt {param}"
            _check_shape(ct, x, f"vjp of {prim.qualname} wrt {param}")
            _check_template(prim, prim.vjp[param], bound, _conj(g), ans, argnum, ct)
            checked += 1
        if param in prim.jvp:
            tan = registry.apply_rule(prim, prim.jvp[param], xp, v, ans, bound, argnum)
            _tree_map(lambda a, b: np.testing.assert_allclose(
                np.broadcast_to(a, np.shape(b)), b, rtol=1e-5, atol=1e-6), tan, jv)
            _check_template(prim, prim.jvp[param], bound, v, ans, argnum, tan)
            checked += 1
    assert checked, f"no rule of {prim.qualname} was exercised by {case!r}"


def _batch_cases():
    for prim in registry.all_primitives():
        for i, case in enumerate(CASES.get(prim.qualname, []) if prim.batch else []):
            yield pytest.param(prim, case, id=case_id(prim, i, case))


@pytest.mark.parametrize("prim,case", list(_batch_cases()))
def test_batch_rule_is_the_forward_rule_for_each_direction(prim, case):
    """A batch rule (``batch_<param>``) on a batch of tangents gives, for each direction, what
    the forward rule gives (checked against finite differences above)."""
    rng = np.random.default_rng(1)
    args, kwargs = case.make(rng)
    bound = prim.bind(args, kwargs)
    ans = _call(_function(prim, case), prim, bound)
    checked = 0
    for param, argnum, x in _targets(prim, case, bound):
        if param not in prim.batch or argnum is not None:
            continue
        tangents = [_random_like(x, rng) for _ in range(3)]
        batch = runtime.stack_directions(tangents)
        out = registry.apply_rule(prim, prim.batch[param], np, batch, ans, bound)
        for t, each in zip(tangents, runtime.directions(out, ans)):
            expected = registry.apply_rule(prim, prim.jvp[param], np, t, ans, bound)
            _tree_map(lambda a, b: np.testing.assert_allclose(a, np.broadcast_to(b, np.shape(a)),
                                                              rtol=1e-12, atol=1e-12),
                      each, expected)
        _check_template(prim, prim.batch[param], bound, batch, ans, None, out)
        checked += 1
    assert checked, f"no batch rule of {prim.qualname} was exercised by {case!r}"


def _check_shape(ct, x, what):
    if isinstance(x, (list, tuple)):
        for c, e in zip(ct, x):
            _check_shape(c, e, what)
        return
    assert np.shape(ct) == np.shape(x), f"{what}: cotangent shape {np.shape(ct)} != {np.shape(x)}"


def _bindable(value):
    try:
        constant(value)
        return True
    except TypeError:
        return False


def _check_template(prim, rule, bound, seed, ans, argnum, expected):
    """Inline the rule as the code generator would and run the generated statements."""
    tmpl = rule.template
    seed_name = tmpl.params[1]
    env = {"xp": np, seed_name: seed, "ans": ans, "_rt": runtime}
    bindings = {"xp": _name("xp"), seed_name: _name(seed_name), "ans": _name("ans")}
    va = registry.varargs_param(prim)
    for p, v in bound.items():
        if p == va:
            names = [f"{p}_{k}" for k in range(len(v))]
            bindings[p] = gast.Tuple(elts=[_name(n) for n in names], ctx=gast.Load())
            env.update(zip(names, v))
        elif _bindable(v) and not isinstance(v, (float, complex)):
            bindings[p] = v
        else:
            bindings[p] = _name(p)
            env[p] = v
    if argnum is not None:
        bindings["argnum"] = argnum
    counter = [0]

    def namer(base):
        counter[0] += 1
        return f"{base}_{counter[0]}"
    imports = set()
    stmts, expr = inline(tmpl, bindings, namer, imports)
    for mod in imports:
        importlib.import_module(mod)
        env[mod.split(".")[0]] = importlib.import_module(mod.split(".")[0])
    env["math"] = math
    fdef = gast.Module(body=stmts + [gast.Assign(targets=[_name("__result", gast.Store())],
                                                   value=expr, type_comment=None)],
                       type_ignores=[])
    code = compile(gast.gast_to_ast(gast.fix_missing_locations(fdef)), "<template>", "exec")
    exec(code, env)
    _tree_map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12),
              env["__result"], expected)


def _name(n, ctx=None):
    return gast.Name(id=n, ctx=ctx or gast.Load(), annotation=None, type_comment=None)
