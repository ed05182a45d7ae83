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
some 1,800 probes, so the default run checks a sample, probes grouped into programs of 30:
every primitive's first call in ``FR``, every third primitive's in one more pair of modes (taken
in turn), the calls of ``FIXED`` in every pair, and every entry of ``XFAIL`` alone (about a
minute in all).  ``S2SGRAD_RULES_ORDER2=full`` checks every call in every pair (some 30
minutes); ``python tests/order2_probes.py [prefix]`` prints the same matrix as a table.

``XFAIL``: second derivatives known to fail, with why; strict (``test_listed_second_derivatives``
fails when one passes), so that a fix is noticed (then delete the entry).  ``KINKS``: calls at a point where the first derivative jumps (a tie between
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

# (probe id, mode) -> reason.  Each is expected to fail (strict: a fix makes the test fail,
# then delete the entry); the tracer's entries expect the tracer's own error.
_FIRST_ORDER_TRACED = (
    "builtins.complex-0", "builtins.complex-1", "builtins.float-0", "builtins.sorted-3",
    "clongdouble-0", "clongdouble-1", "complex128-0", "complex128-1", "float64-0", "full-0",
    "full-1", "full-2", "full_like-0", "full_like-1", "longdouble-0", "math.acos-0",
    "math.acos-1", "math.acos-2", "math.acosh-0", "math.acosh-1", "math.acosh-2", "math.asin-0",
    "math.asin-1", "math.asin-2", "math.asinh-0", "math.asinh-1", "math.asinh-2", "math.atan-0",
    "math.atan-1", "math.atan-2", "math.atan2-0", "math.atan2-1", "math.atanh-0", "math.atanh-1",
    "math.atanh-2", "math.cos-0", "math.cos-1", "math.cos-2", "math.cosh-0", "math.cosh-1",
    "math.cosh-2", "math.degrees-0", "math.degrees-1", "math.degrees-2", "math.erf-0",
    "math.erf-1", "math.erf-2", "math.erfc-0", "math.erfc-1", "math.erfc-2", "math.exp-0",
    "math.exp-1", "math.exp-2", "math.expm1-0", "math.expm1-1", "math.expm1-2", "math.fabs-0",
    "math.fabs-1", "math.fabs-2", "math.hypot-0", "math.log-0", "math.log-1", "math.log-2",
    "math.log10-0", "math.log10-1", "math.log10-2", "math.log1p-0", "math.log1p-1",
    "math.log1p-2", "math.log2-0", "math.log2-1", "math.log2-2", "math.pow-0", "math.pow-1",
    "math.radians-0", "math.radians-1", "math.radians-2", "math.sin-0", "math.sin-1",
    "math.sin-2", "math.sinh-0", "math.sinh-1", "math.sinh-2", "math.sqrt-0", "math.sqrt-1",
    "math.sqrt-2", "math.tan-0", "math.tan-1", "math.tan-2", "math.tanh-0", "math.tanh-1",
    "math.tanh-2",
)
_PYTHON_TRACED = (
    "put_along_axis-0", "put_along_axis-1", "put_along_axis-2", "put_along_axis-3",
    "s2sgrad.runtime.add_at-0", "s2sgrad.runtime.array_vjp-0", "s2sgrad.runtime.as_matrix-0",
    "s2sgrad.runtime.band_matmul-0", "s2sgrad.runtime.band_matmul-1",
    "s2sgrad.runtime.band_outer-0", "s2sgrad.runtime.band_outer-1",
    "s2sgrad.runtime.band_transpose-0", "s2sgrad.runtime.band_transpose-1",
    "s2sgrad.runtime.block_upper-0", "s2sgrad.runtime.block_upper-1",
    "s2sgrad.runtime.broadcast_like-0", "s2sgrad.runtime.cholesky_jvp-0",
    "s2sgrad.runtime.cholesky_jvp-1", "s2sgrad.runtime.cholesky_jvp-2",
    "s2sgrad.runtime.cholesky_jvp-3", "s2sgrad.runtime.cholesky_jvp-4",
    "s2sgrad.runtime.cholesky_jvp-5", "s2sgrad.runtime.cholesky_vjp-0",
    "s2sgrad.runtime.cholesky_vjp-1", "s2sgrad.runtime.cholesky_vjp-2",
    "s2sgrad.runtime.cholesky_vjp-3", "s2sgrad.runtime.cholesky_vjp-4",
    "s2sgrad.runtime.cholesky_vjp-5", "s2sgrad.runtime.conv_embed-0",
    "s2sgrad.runtime.conv_embed-1", "s2sgrad.runtime.cumprod_jvp-0",
    "s2sgrad.runtime.cumprod_jvp-1", "s2sgrad.runtime.cumprod_jvp-4",
    "s2sgrad.runtime.cumprod_vjp-0", "s2sgrad.runtime.cumprod_vjp-1",
    "s2sgrad.runtime.cumprod_vjp-4", "s2sgrad.runtime.diag_matrix-0",
    "s2sgrad.runtime.diag_matrix-1", "s2sgrad.runtime.diagonal_vjp-0",
    "s2sgrad.runtime.diagonal_vjp-1", "s2sgrad.runtime.dirichlet_alpha-0",
    "s2sgrad.runtime.dirichlet_alpha-1", "s2sgrad.runtime.einsum_vjp-2",
    "s2sgrad.runtime.expand_mat-0", "s2sgrad.runtime.expand_mat-1",
    "s2sgrad.runtime.fill_diagonal-0", "s2sgrad.runtime.fill_diagonal-1",
    "s2sgrad.runtime.fill_diagonal-2", "s2sgrad.runtime.fill_diagonal_vjp_val-0",
    "s2sgrad.runtime.fill_diagonal_vjp_val-1", "s2sgrad.runtime.gradient_vjp-0",
    "s2sgrad.runtime.gradient_vjp-1", "s2sgrad.runtime.gradient_vjp-2",
    "s2sgrad.runtime.inv_gaps-0", "s2sgrad.runtime.inv_gaps-1", "s2sgrad.runtime.item_vjp-0",
    "s2sgrad.runtime.item_vjp-1", "s2sgrad.runtime.matmul_vjp_a-1",
    "s2sgrad.runtime.matmul_vjp_b-1", "s2sgrad.runtime.max_vjp-0",
    "s2sgrad.runtime.multi_dot_hvp_vjp-0", "s2sgrad.runtime.multi_dot_hvp_vjp-1",
    "s2sgrad.runtime.multi_dot_vjp-0", "s2sgrad.runtime.multi_dot_vjp-1",
    "s2sgrad.runtime.multipsi-0", "s2sgrad.runtime.multipsi-1",
    "s2sgrad.runtime.pad_values_vjp-0", "s2sgrad.runtime.pad_values_vjp-1",
    "s2sgrad.runtime.pad_vjp-0", "s2sgrad.runtime.pad_vjp-1", "s2sgrad.runtime.pad_vjp-2",
    "s2sgrad.runtime.pad_vjp-3", "s2sgrad.runtime.pad_vjp-4", "s2sgrad.runtime.pad_vjp-5",
    "s2sgrad.runtime.prod_others-0", "s2sgrad.runtime.prod_others-1",
    "s2sgrad.runtime.prod_others-2", "s2sgrad.runtime.prod_others-3",
    "s2sgrad.runtime.prod_others_jvp-0", "s2sgrad.runtime.prod_others_jvp-1",
    "s2sgrad.runtime.put_along-0", "s2sgrad.runtime.quantile_jvp-0",
    "s2sgrad.runtime.quantile_jvp-1", "s2sgrad.runtime.quantile_jvp-2",
    "s2sgrad.runtime.quantile_vjp-0", "s2sgrad.runtime.quantile_vjp-1",
    "s2sgrad.runtime.quantile_vjp-2", "s2sgrad.runtime.reduce_vjp-0",
    "s2sgrad.runtime.reduce_vjp-1", "s2sgrad.runtime.repeat_vjp-0",
    "s2sgrad.runtime.repeat_vjp-1", "s2sgrad.runtime.scatter-0", "s2sgrad.runtime.solve_tri-0",
    "s2sgrad.runtime.solve_tri-1", "s2sgrad.runtime.solve_tri-2", "s2sgrad.runtime.solve_tri-3",
    "s2sgrad.runtime.tolist_vjp-0", "s2sgrad.runtime.written_scatter-0",
    "s2sgrad.runtime.window_vjp-0", "s2sgrad.runtime.window_vjp-1", "scipy.integrate.odeint-0",
    "scipy.linalg.cho_factor-0", "scipy.linalg.cho_factor-1", "scipy.linalg.cho_factor-2",
    "scipy.linalg.cho_solve-0", "scipy.linalg.cho_solve-1", "scipy.linalg.cho_solve-2",
    "scipy.linalg.expm-0", "scipy.linalg.expm-1", "scipy.linalg.expm-2",
    "scipy.linalg.solve_banded-0", "scipy.linalg.solve_banded-1", "scipy.linalg.solve_banded-2",
    "scipy.linalg.solve_sylvester-0", "scipy.linalg.solve_sylvester-1",
    "scipy.linalg.solve_sylvester-2", "scipy.linalg.solve_triangular-0",
    "scipy.linalg.solve_triangular-1", "scipy.linalg.solve_triangular-2",
    "scipy.linalg.solve_triangular-3", "scipy.linalg.solve_triangular-4",
    "scipy.linalg.solve_triangular-5", "scipy.linalg.solve_triangular-6", "scipy.linalg.sqrtm-0",
    "scipy.linalg.sqrtm-1", "scipy.linalg.sqrtm-2", "scipy.signal.convolve-0",
    "scipy.signal.convolve-1", "scipy.signal.convolve-2", "scipy.signal.convolve-3",
    "scipy.signal.convolve-4", "scipy.signal.convolve-5", "scipy.signal.convolve-6",
    "scipy.signal.convolve-7", "scipy.signal.convolve-8", "scipy.signal.convolve-9",
    "scipy.special.digamma-0", "scipy.special.digamma-1", "scipy.special.digamma-2",
    "scipy.special.polygamma-0", "scipy.special.polygamma-1", "scipy.special.polygamma-2",
    "scipy.special.psi-0", "scipy.special.psi-1", "scipy.special.psi-2", "scipy.stats.beta.cdf-0",
    "scipy.stats.beta.cdf-1", "scipy.stats.chi2.cdf-0", "scipy.stats.chi2.cdf-1",
    "scipy.stats.gamma.cdf-0", "scipy.stats.gamma.cdf-1", "scipy.stats.multivariate_normal.pdf-0",
    "scipy.stats.multivariate_normal.pdf-2", "scipy.stats.multivariate_normal.pdf-3",
    "scipy.stats.norm.cdf-0", "scipy.stats.norm.cdf-1", "scipy.stats.norm.cdf-2",
    "scipy.stats.norm.cdf-3", "scipy.stats.norm.logcdf-0", "scipy.stats.norm.logcdf-1",
    "scipy.stats.norm.logcdf-2", "scipy.stats.norm.logcdf-3", "scipy.stats.norm.logsf-0",
    "scipy.stats.norm.logsf-1", "scipy.stats.norm.logsf-2", "scipy.stats.norm.logsf-3",
    "scipy.stats.norm.sf-0", "scipy.stats.norm.sf-1", "scipy.stats.norm.sf-2",
    "scipy.stats.norm.sf-3", "scipy.stats.poisson.cdf-0", "scipy.stats.poisson.cdf-1",
    "scipy.stats.t.cdf-0", "scipy.stats.t.cdf-1", "scipy.stats.t.cdf-2", "scipy.stats.t.logcdf-0",
    "scipy.stats.t.logcdf-1", "scipy.stats.t.logcdf-2",
)

_ZERO_FACTORS = ("the second derivatives of cumprod (and the third of prod) divide by the factors "
                 "(rules/runtime_arrays.py says so): nan where a factor is zero")
_UNIT_NO_RULE = ("unit_vjp and unit_jvp (abs's rules) have no rules of their own: the second "
                 "derivative of code calling unit is traced")
_DIRECTIONS_NO_RULE = "directions_vjp has no rule of its own: the second derivative is traced"
_ODEINT_NO_RULE = ("odeint_vjp (odeint's adjoint solve) has no rule of its own: the second "
                   "derivative is traced")
_TRACER_VECDOT = ("the tracer applies vecdot's forward rule to an operand broadcast along the "
                  "contracted axis (ValueError)")
_SOLVER_NO_RULE = ("the helpers of quad's and the root finders' rules (runtime/optimize.py) have "
                   "no rules of their own: the second derivative is traced")
_TRACER_MVN_PDF = ("the tracer's second derivative of multivariate_normal.pdf through its rule "
                   "indexes a traced scalar (TypeError)")
_TRACER_QUAD = ("the tracer's second derivative of quad runs quad's reverse rule on traced values: "
                "it hands quad_vec a function reading them, which the tracer refuses "
                "(TracedConversionError); found when a new primitive moved quad into the tracer's "
                "turn of the default selection")
_RAISES = {_TRACER_FIRST_ORDER: (TracedConversionError, TracingNoRuleError),
           _TRACER_QUAD: TracedConversionError,
           _TRACER_RUNS_THE_PYTHON: (TracedConversionError, TracingNoRuleError),
           _TRACER_VECDOT: ValueError,
           _TRACER_MVN_PDF: TypeError}

XFAIL = {}
for _pid in _FIRST_ORDER_TRACED:
    XFAIL[_pid, "T"] = _TRACER_FIRST_ORDER
for _pid in _PYTHON_TRACED:
    XFAIL[_pid, "T"] = _TRACER_RUNS_THE_PYTHON
XFAIL["vecdot-2", "T"] = _TRACER_VECDOT
for _pid in ("cumprod-4", "cumprod-5", "cumprod-6", "nancumprod-4"):
    for _m in ("RR", "FR", "RF", "FF", "T"):
        XFAIL[_pid, _m] = _ZERO_FACTORS
for _pid in ("s2sgrad.runtime.prod_others-1", "s2sgrad.runtime.prod_others-2",
             "s2sgrad.runtime.prod_others-3"):
    for _m in ("RR", "FR", "RF", "FF"):
        XFAIL[_pid, _m] = _ZERO_FACTORS
for _pid in ("s2sgrad.runtime.unit-0", "s2sgrad.runtime.unit-1", "s2sgrad.runtime.unit-2"):
    for _m in ("RR", "FR", "RF", "FF"):
        XFAIL[_pid, _m] = _UNIT_NO_RULE
XFAIL["s2sgrad.runtime.directions-0", "RR"] = XFAIL["s2sgrad.runtime.directions-0", "FR"] = \
    _DIRECTIONS_NO_RULE
for _m in ("RR", "FR", "RF", "FF"):
    XFAIL["scipy.integrate.odeint-0", _m] = _ODEINT_NO_RULE
for _pid in ("scipy.integrate.quad-0", "scipy.optimize.bisect-0", "scipy.optimize.brenth-0",
             "scipy.optimize.brentq-0", "scipy.optimize.ridder-0", "scipy.optimize.toms748-0"):
    for _m in ("RR", "FR", "RF", "FF"):
        XFAIL[_pid, _m] = _SOLVER_NO_RULE
XFAIL["scipy.integrate.quad-0", "T"] = _TRACER_QUAD
for _pid in ("scipy.stats.multivariate_normal.pdf-0", "scipy.stats.multivariate_normal.pdf-2",
             "scipy.stats.multivariate_normal.pdf-3"):
    XFAIL[_pid, "T"] = _TRACER_MVN_PDF

# Calls whose point is a kink of the first derivative (ties between maxima, medians): no second
# derivative there.  (probe id) -> why.
KINKS = {
    "amax-6": "a tie between two maxima of a row", "amax-11": "initial= ties a row's maximum",
    "amin-12": "initial= ties a row's minimum", "max-6": "a tie between two maxima of a row",
    "max-13": "initial= ties a row's maximum", "min-14": "initial= ties a row's minimum",
    "maximum-6": "a tie between the two operands", "minimum-6": "a tie between the two operands",
    "nanmax-6": "initial= ties a row's maximum", "nanmin-5": "initial= ties a row's minimum",
    "pad-66": "a tie in the maximum padding's window", "pad-67": "a tie in the minimum's window",
    "pad-68": "a tie in the median's window",
}


# Calls whose second derivatives this test found wrong or traced, and that were fixed: checked in
# every pair of modes by default too.
FIXED = {"einsum-27", "linalg.lstsq-0", "linalg.multi_dot-1", "linalg.solve-0", "sinc-3",
         "scipy.stats.multivariate_normal.logpdf-3", "scipy.stats.norm.cdf-2", "math.fabs-0",
         "builtins.reversed-0", "s2sgrad.runtime.batch_unbroadcast_to-0",
         "s2sgrad.runtime.saved_item_vjp-0", "s2sgrad.runtime.columns_to_jacobian-0",
         "nan_to_num-1", "method.item-2"}


def _selected():
    """The probes of this run and their modes: ``[(probe, modes)]``.  By default every
    primitive's first call in ``FR``, and every third primitive's in one more pair, in turn."""
    probes = [p for p in O.all_probes() if p.id not in KINKS]
    if FULL:
        return [(p, O.MODES) for p in probes]
    first, seen = [], set()
    for p in probes:
        if p.prim.qualname not in seen:
            seen.add(p.prim.qualname)
            first.append(p)
    others = ("RR", "RF", "FF", "T")
    chosen = [(p, ("FR",) + ((others[i // 3 % 4],) if i % 3 == 0 else ()))
              for i, p in enumerate(first)]
    return chosen + [(p, O.MODES) for p in probes if p.id in FIXED]


def _plan():
    """Programs of the selected (probe, mode) pairs that ``XFAIL`` does not list, grouped by
    mode; and every pair ``XFAIL`` lists, each alone."""
    by_mode = {m: [] for m in O.MODES}
    for p, modes in _selected():
        for m in modes:
            if (p.id, m) not in XFAIL:
                by_mode[m].append(p)
    groups = []
    size = 12 if FULL else 30
    for m, probes in by_mode.items():
        for i in range(0, len(probes), size):
            chunk = probes[i:i + size]
            groups.append((f"{m}_{i // size}", m, chunk))
    listed = {pid for pid, _ in XFAIL}
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
            if (p.id, m) in XFAIL:
                yield pytest.param(p, m, id=f"{p.id}-{m}")


def _expected_errors(reason):
    if reason in _RAISES:
        return _RAISES[reason]
    if reason in (_UNIT_NO_RULE, _DIRECTIONS_NO_RULE, _ODEINT_NO_RULE, _SOLVER_NO_RULE):
        return s2sgrad.FallbackWarning          # (an error here: generated code must not trace)
    return O.Mismatch


@pytest.mark.parametrize("probe,mode", list(_single_params()))
def test_listed_second_derivatives(programs, probe, mode):
    """Each entry of ``XFAIL``, alone, strictly: it must fail as its reason says (then it is
    reported as xfailed), and a fix makes it pass, which fails here until the entry is deleted.
    (Imperative: pytest formats the traceback of a raised exception, and reads the large
    generated module for each of its frames.)
    The tracer's entries run the traced second derivative only: it raises before any value
    could be compared."""
    reason = XFAIL[probe.id, mode]
    program = programs[probe.id]
    failed = False
    try:
        if reason in _RAISES:
            O.traced_second_order(program)
        else:
            O.check(program, mode)
    except _expected_errors(reason):
        failed = True
    if failed:                 # (outside the handler: no chained traceback to format)
        pytest.xfail(reason)
    pytest.fail(f"{probe.id} in {mode} is listed in XFAIL ({reason}) but passes now: delete "
                f"the entry")


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
    assert all(len(checked[m]) >= 20 for m in O.MODES)


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
