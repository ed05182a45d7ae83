"""Every rule at second order, in every pair of modes, through generated code and the tracer.

``test_rules.py`` checks each rule of each primitive at first order.  Here each call of
``rule_cases.CASES`` becomes a small function of its differentiable inputs (a *probe*:
``tests/order2_probes.py``), the compiler transforms it twice, and the second derivative is
compared with central finite differences of the gradient along random directions, in each pair
of modes: reverse over reverse (``RR``), forward over reverse (``FR``, a Hessian-vector
product), reverse over forward (``RF``), forward over forward (``FF``), and the tracer over the
tracer (``T``, ``fallback="always"``).  The generated pairs run with ``FallbackWarning`` as an
error: a derivative that is traced instead of transformed fails.

Transforming a probe takes a tenth of a second or more per order and per mode, and there are
some 1,800 probes, so the default run checks a sample, probes grouped into a few programs:
every primitive's first call in ``FR`` and in one more pair of modes (taken in turn); every
entry of the tables below in each of its modes.  ``S2SGRAD_RULES_ORDER2=full`` checks every
call in every pair (some 20 minutes); ``python tests/order2_probes.py [prefix]`` prints the
same matrix as a table.

``XFAIL``: second derivatives known to fail, with why; strict, so that a fix is noticed (then
delete the entry).  ``KINKS``: calls at a point where the first derivative jumps (a tie between
maxima): there is no second derivative to check, and ``test_kinks_are_kinks`` makes sure each
entry is one.
"""

import os

import numpy as np
import scipy.stats
import pytest

import s2sgrad
from s2sgrad.fallback import TracedConversionError, TracingNoRuleError

import order2_probes as O

FULL = os.environ.get("S2SGRAD_RULES_ORDER2") == "full"

_TRACER_FIRST_ORDER = (
    "the tracer cannot differentiate this call at first order either: NumPy does not hand it "
    "the traced value (np.array of a list of traced scalars, a dtype constructor, np.full, "
    "math.*), and it raises its documented error instead")
_TRACER_RUNS_THE_PYTHON = (
    "the tracer runs the Python of a function that has a rule (a runtime helper called by "
    "name, a SciPy function) instead of applying the rule: issue 13, item 5 (another item)")
_RAISES = {_TRACER_FIRST_ORDER: (TracedConversionError, TracingNoRuleError),
           _TRACER_RUNS_THE_PYTHON: TracedConversionError}

# (probe id, mode) -> reason.  Each is expected to fail (strict: a fix makes the test fail,
# then delete the entry); the tracer's entries expect the tracer's own error.
XFAIL = {}
for _pid in ("array-0", "array-1", "array-2", "array-3", "asarray-0", "asarray-1", "asarray-2",
             "complex128-0", "complex128-1", "clongdouble-0", "clongdouble-1", "float64-0",
             "full-0", "full-1", "full-2", "full_like-0", "full_like-1"):
    XFAIL[_pid, "T"] = _TRACER_FIRST_ORDER
for _pid in ("s2sgrad.runtime.multi_dot_vjp-0", "s2sgrad.runtime.multi_dot_vjp-1"):
    XFAIL[_pid, "T"] = _TRACER_RUNS_THE_PYTHON

# Calls whose point is a kink of the first derivative: (probe id) -> why.
KINKS = {
    "amax-6": "a tie between two maxima of a row",
    "amax-11": "initial= ties a maximum of a row",
    "amin-12": "initial= ties a minimum of a row",
}


def _selected():
    """The probes of this run and their modes: ``[(probe, modes)]``."""
    probes = [p for p in O.all_probes() if p.id not in KINKS]
    if FULL:
        return [(p, O.MODES) for p in probes]
    first, seen = [], set()
    for p in probes:
        if p.prim.qualname not in seen:
            seen.add(p.prim.qualname)
            first.append(p)
    others = ("RR", "RF", "FF", "T")
    return [(p, ("FR", others[i % 4])) for i, p in enumerate(first)]


def _plan():
    """Programs of probes with no entry in ``XFAIL``, grouped by mode; every ``XFAIL`` probe alone."""
    listed = {pid for pid, _ in XFAIL}
    by_mode = {m: [] for m in O.MODES}
    for p, modes in _selected():
        if p.id in listed:
            continue
        for m in modes:
            by_mode[m].append(p)
    groups = []
    size = 12 if FULL else 24
    for m, probes in by_mode.items():
        for i in range(0, len(probes), size):
            chunk = probes[i:i + size]
            groups.append((f"{m}_{i // size}", m, chunk))
    singles = [p for p in O.all_probes() if p.id in listed]
    return groups, singles


GROUPS, SINGLES = _plan()


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    progs = {name: O.Program(name, chunk) for name, _, chunk in GROUPS}
    for p in SINGLES:
        progs[p.id] = O.Program(f"single_{p.k}", [p])
    O.write_module(list(progs.values()), str(tmp_path_factory.mktemp("order2")), "order2_programs")
    return progs


@pytest.mark.parametrize("name,mode,chunk", GROUPS,
                         ids=[f"{n}[{c[0].id}..{c[-1].id}]" for n, _, c in GROUPS])
def test_second_derivatives_of_the_rules(programs, tmp_path, name, mode, chunk):
    program = programs[name]
    try:
        O.check(program, mode)
    except O.Mismatch as exc:
        pytest.fail(f"{mode}: {len(exc.failures)} of {len(chunk)} calls: {exc}")
    except Exception:  # noqa: BLE001 - name the call that broke the program
        failures = {}
        for p in chunk:
            alone = O.Program(f"alone_{p.k}", [p])
            O.write_module([alone], str(tmp_path), f"order2_alone_{p.k}")
            try:
                O.check(alone, mode)
            except Exception as exc:  # noqa: BLE001
                failures[p.id] = f"{type(exc).__name__}: {exc}"
        pytest.fail(f"{mode}: {failures or 'the program fails, each call alone passes'}")


def _single_params():
    for p in SINGLES:
        for m in O.MODES:
            reason = XFAIL.get((p.id, m))
            marks = ()
            if reason is not None:
                marks = pytest.mark.xfail(strict=True, reason=reason, raises=_RAISES.get(reason))
            yield pytest.param(p, m, marks=marks, id=f"{p.id}-{m}")


@pytest.mark.parametrize("probe,mode", list(_single_params()))
def test_listed_second_derivatives(programs, probe, mode):
    O.check(programs[probe.id], mode)


def test_every_primitive_with_cases_is_probed():
    """Every differentiable primitive with cases has a probe, and the default run checks every
    primitive in ``FR`` and each other pair on some."""
    probed = {p.prim.qualname for p in O.all_probes()}
    from rule_cases import CASES
    from s2sgrad.rules import registry
    expected = {p.qualname for p in registry.all_primitives()
                if not p.nondiff and CASES.get(p.qualname)}
    assert expected == probed
    checked = {m: {p.prim.qualname for _, mode, chunk in GROUPS if mode == m for p in chunk}
               for m in O.MODES}
    listed = {pid.rsplit("-", 1)[0] for pid, _ in XFAIL}
    assert checked["FR"] | listed >= probed - {k.rsplit("-", 1)[0] for k in KINKS}
    assert all(len(checked[m]) > 50 for m in O.MODES)


def test_tables_name_real_probes_and_modes():
    ids = {p.id for p in O.all_probes()}
    assert {pid for pid, _ in XFAIL} <= ids and set(KINKS) <= ids
    assert {m for _, m in XFAIL} <= set(O.MODES)


@pytest.mark.parametrize("pid", sorted(KINKS))
def test_kinks_are_kinks(tmp_path, pid):
    """At each listed point the gradient jumps: its differences along a direction grow as the
    step shrinks (they would converge at a point where it is differentiable)."""
    probe = next(p for p in O.all_probes() if p.id == pid)
    program = O.Program(f"kink_{probe.k}", [probe])
    O.write_module([program], str(tmp_path), f"order2_kink_{probe.k}")
    rng = np.random.default_rng(3)
    v = [O._random_like(x, rng) for x in program.xs]
    g = program.g

    def diff(eps):
        plus = O._tuple(program, g(*O._moved(program.xs, v, eps)))
        minus = O._tuple(program, g(*O._moved(program.xs, v, -eps)))
        return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) / (2 * eps)
                   for a, b in zip(plus, minus))
    assert diff(1e-7) > 5 * diff(1e-6) > 0


# -- what the second-order probes found, checked on its own -------------------------------------

def einsum_sublists(a, b):
    return np.sum(np.real((0.7 - 0.3j) * np.einsum(a, [0, 1], b, [1, 0], [])))


def test_forward_mode_of_einsum_with_an_empty_output_sublist():
    """The empty output sublist ``[]`` carries no tangent: the forward code once added the
    primal value to the tangent (a silent wrong derivative at first order)."""
    rng = np.random.default_rng(5)
    a, b, ta, tb = (rng.standard_normal(s) + 1j * rng.standard_normal(s)
                    for s in ((2, 3), (3, 2), (2, 3), (3, 2)))
    eps = 1e-6
    fd = (einsum_sublists(a + eps * ta, b + eps * tb)
          - einsum_sublists(a - eps * ta, b - eps * tb)) / (2 * eps)
    value, tangent = s2sgrad.jvp(einsum_sublists, (0, 1), fallback="never")(a, b, (ta, tb))
    assert tangent == pytest.approx(fd, rel=1e-6, abs=1e-8)
    source = s2sgrad.jvp(einsum_sublists, (0, 1), emit=True)
    assert "*" + "einsum" not in source and "list(" not in source   # operands spliced, no *ops


def solve_energy(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


def test_second_derivatives_of_solve_are_generated_code():
    """``as_matrix(x, a)`` reads ``a`` for its shape only: differentiating the gradient of
    ``solve`` needs no derivative through it, so nothing is traced."""
    rng = np.random.default_rng(6)
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    b, v = rng.standard_normal(3), rng.standard_normal(3)
    g = s2sgrad.grad(solve_energy, 1)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)
        hv = s2sgrad.hvp(solve_energy, 1)(a, b, v)
    np.testing.assert_allclose(hv, (g(a, b + 1e-6 * v) - g(a, b - 1e-6 * v)) / 2e-6, rtol=1e-6)


def lstsq_energy(a, b):
    return np.sum(np.array([0.3, -1.2, 0.8]) * np.linalg.lstsq(a, b)[0])


def test_forward_mode_of_a_tuple_valued_primitive_with_two_tangents():
    """lstsq returns a tuple: the tangents of its two arguments add item by item (they were
    concatenated as tuples, and the first item's tangent was that of ``a`` alone)."""
    rng = np.random.default_rng(7)
    a, ta = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    b, tb = rng.standard_normal(5), rng.standard_normal(5)
    eps = 1e-6
    fd = (lstsq_energy(a + eps * ta, b + eps * tb) - lstsq_energy(a - eps * ta, b - eps * tb)) / (2 * eps)
    assert s2sgrad.jvp(lstsq_energy, (0, 1))(a, b, (ta, tb))[1] == pytest.approx(fd, rel=1e-6)


def reversed_items(x0, x1, x2):
    out = list(reversed([x0, x1, x2]))
    return 0.3 * out[0] + np.sum(np.array([0.5, -1.0]) * out[1]) + 0.7 * out[2]


def test_gradient_through_reversed_items_of_different_shapes():
    g = s2sgrad.grad(reversed_items, (0, 1, 2))(0.5, np.array([1.0, 2.0]), -0.3)
    assert g[0] == pytest.approx(0.7) and g[2] == pytest.approx(0.3)
    np.testing.assert_allclose(g[1], [0.5, -1.0])


def sinc_sum(x):
    return np.sum(np.sinc(x))


def test_second_and_third_derivatives_of_sinc_at_zero():
    """sinc''(0) = -pi^2/3 and sinc'''(0) = 0: the rule's value at 0 has the right derivatives."""
    x = np.array([0.0, 0.5])
    second = s2sgrad.hvp(sinc_sum)(x, np.array([1.0, 0.0]))
    assert second[0] == pytest.approx(-np.pi ** 2 / 3, rel=1e-12)
    third = s2sgrad.grad(s2sgrad.grad(s2sgrad.grad(lambda t: np.sinc(t))))(0.0)
    assert third == pytest.approx(0.0, abs=1e-12)


def normal_cdf_total(x, m, s):
    return np.sum(scipy.stats.norm.cdf(x, loc=m, scale=s))


def test_shared_subexpressions_keep_dotted_callees():
    """The gradient names no ``scipy.stats.norm`` in a variable (its calls would become calls
    known only at run time), so the Hessian-vector product is generated code."""
    import warnings
    x, m, s = np.array([0.2, -0.4, 1.1]), 0.3, 1.2
    g = s2sgrad.grad(normal_cdf_total, (0, 1, 2))
    v = (np.array([1.0, 0.5, -0.5]), 0.7, -0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)
        hv = s2sgrad.jvp(g, (0, 1, 2))(x, m, s, v)[1]
    e = 1e-6
    plus = g(x + e * v[0], m + e * v[1], s + e * v[2])
    minus = g(x - e * v[0], m - e * v[1], s - e * v[2])
    for a, p, q in zip(hv, plus, minus):
        np.testing.assert_allclose(a, (np.asarray(p) - q) / (2 * e), rtol=1e-6, atol=1e-9)
