"""Every rule at first order through generated code, general and specialized, in both modes.

``test_rules.py`` checks each rule as a function (called, and inlined as a template).  Here the
calls of ``rule_cases.CASES`` go through the compiler as user code does: each call is a *probe*
(``order2_probes.py``: a small function of the call's differentiable inputs), probes are summed
into programs of 30, and each program's gradient (reverse mode) and its jvp along a random
direction, probe by probe (forward mode), are checked against central finite differences twice:

- on the general code (``signature=None``: ``s2sgrad.driver.specialize.using("general")``),
- on code specialized to the signature of the program's arguments (their ranks, dtypes, axes of
  length 1, Python floats; ``using("specialized")``), which must moreover give the general
  code's gradients and tangents to ``gradcheck.AGREE`` (1e-12) relative, with the same types
  and dtypes.

Both codes in one test: the specialized check needs the general code's derivatives, and
building each program's code takes most of the time.  The default run takes every primitive's
first call (real and complex inputs of every rank the cases have) and every call with an input
with a length-1 axis or a 0-d array (what specialization could get wrong); with
``S2SGRAD_RULES_SPECIALIZED=full`` every call.
"""

import os
import warnings

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import specialize

import order2_probes as O
from gradcheck import assert_agree

FULL = os.environ.get("S2SGRAD_RULES_SPECIALIZED") == "full"
SIZE = 30


def _uncommon(probe):
    """An input with a length-1 axis or none at all (a 0-d array): where code specialized to
    the shapes could broadcast, or fail to sum a broadcast axis, wrongly."""
    return any(isinstance(x, np.ndarray) and (x.ndim == 0 or 1 in x.shape) for x in probe.xs)


def _selected():
    probes = O.all_probes()
    if FULL:
        return probes
    seen, chosen = set(), []
    for p in probes:
        if p.prim.qualname not in seen or _uncommon(p):
            seen.add(p.prim.qualname)
            chosen.append(p)
    return chosen


def _groups():
    chosen = _selected()
    return [(f"first_{i // SIZE}", chosen[i:i + SIZE]) for i in range(0, len(chosen), SIZE)]


GROUPS = _groups()


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    progs = {name: O.Program(name, chunk) for name, chunk in GROUPS}
    O.write_module(list(progs.values()), str(tmp_path_factory.mktemp("first")),
                   "rules_specialized_programs")
    return progs


def _directional_differences(program):
    """A random direction ``v`` and, probe by probe, the central finite difference of ``f``
    along ``v`` restricted to the probe's inputs (the primal: the same for both codes)."""
    rng = np.random.default_rng(3)
    xs, f = program.xs, program.f
    v = [O._direction(x, rng) for x in xs]
    fds = []
    for _, lo, hi in program.spans:
        w = [d if lo <= i < hi else 0.0 * d for i, d in enumerate(v)]
        fds.append((f(*O._moved(xs, w, O.EPS)) - f(*O._moved(xs, w, -O.EPS))) / (2 * O.EPS))
    return v, fds


def _first_order(program, code, v, fds):
    """The gradient of ``program.f`` and its jvp along ``v`` on ``code``, checked against the
    finite differences (``Mismatch`` names the probes that differ): ``(gradient, (value,
    tangent))``.  Generated code only: a ``FallbackWarning`` is an error."""
    xs = program.xs
    with specialize.using(code), warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)
        g = O._tuple(program, program.g(*xs))
        jvp = s2sgrad.jvp(program.f, program.wrt)
        value, tangent = jvp(*xs, O._pack(program, v))
        failures = {}
        for (p, lo, hi), fd in zip(program.spans, fds):
            got = O._pair(g[lo:hi], v[lo:hi])
            if not np.isclose(got, fd, rtol=1e-5, atol=1e-6):
                failures[p.id] = f"{code} code: <grad, v> = {got}, finite differences {fd}"
        if not np.isclose(float(np.real(tangent)), sum(fds), rtol=1e-5, atol=1e-6):
            # which probe: its jvp alone
            for (p, lo, hi), fd in zip(program.spans, fds):
                w = [d if lo <= i < hi else 0.0 * d for i, d in enumerate(v)]
                t = float(np.real(jvp(*xs, O._pack(program, w))[1]))
                if not np.isclose(t, fd, rtol=1e-5, atol=1e-6):
                    failures[p.id] = f"{code} code: jvp along v = {t}, finite differences {fd}"
            failures = failures or {"the sum": f"{code} code: jvp along v = {tangent}, finite "
                                               f"differences {sum(fds)}"}
    if failures:
        raise O.Mismatch(failures)
    return g, (value, tangent)


def _agree(program, specialized, general):
    """``Mismatch`` naming the probes whose specialized derivatives are not the general ones."""
    (g_s, t_s), (g_g, t_g) = specialized, general
    failures = {}
    for p, lo, hi in program.spans:
        try:
            for i in range(lo, hi):
                assert_agree(g_s[i], g_g[i], what=f"gradient of x{i}")
        except AssertionError as exc:
            failures[p.id] = f"specialized code: {exc}"
    try:
        assert_agree(t_s[0], t_g[0], what="value")
        assert_agree(t_s[1], t_g[1], what="tangent")
    except AssertionError as exc:
        failures["the jvp"] = f"specialized code: {exc}"
    if failures:
        raise O.Mismatch(failures)


def _check(program):
    v, fds = _directional_differences(program)
    general = _first_order(program, "general", v, fds)
    _agree(program, _first_order(program, "specialized", v, fds), general)


@pytest.mark.parametrize("name,chunk", GROUPS,
                         ids=[f"{n}[{c[0].id}..{c[-1].id}]" for n, c in GROUPS])
def test_first_order_rules_general_and_specialized(programs, tmp_path, name, chunk):
    program = programs[name]
    try:
        _check(program)
    except O.Mismatch as exc:
        pytest.fail(f"{len(exc.failures)} of {len(chunk)} calls: {exc}")
    except Exception:  # noqa: BLE001 - name the call that broke the program
        failures = {}
        for p in chunk:
            alone = O.Program(f"alone_{p.k}", [p])
            O.write_module([alone], str(tmp_path), f"rules_specialized_alone_{p.k}")
            try:
                _check(alone)
            except Exception as exc:  # noqa: BLE001
                failures[p.id] = f"{type(exc).__name__}: {exc}"
        pytest.fail(f"{failures or 'the program fails, each call alone passes'}")


def test_the_sample_covers_every_probed_primitive():
    probed = {p.prim.qualname for p in O.all_probes()}
    assert {p.prim.qualname for _, chunk in GROUPS for p in chunk} == probed
    assert any(_uncommon(p) for _, chunk in GROUPS for p in chunk)
