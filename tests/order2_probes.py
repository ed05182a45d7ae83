"""Second derivatives of every rule, through generated code: the probes and their checks.

For each call ``C(...)`` of ``rule_cases.CASES`` a *probe* is a small function of the call's
differentiable inputs (each array or float the first-order tests perturb becomes a parameter
``x0, x1, ...``; everything else is a constant of the module)::

    def probe_17(x0, x1):
        out_17 = np.arctan2(x0, x1)
        return np.sum(W17_0 * out_17)          # a fixed random weight per output

A *program* is one such function summing several probes (so that the compiler's per-function
overhead is paid once for many calls), written with its second-order drivers into a real module
file, since the compiler reads source::

    def rr_<name>(x..., u...):   # reverse over reverse: grad of <u, grad f(x)>
    def rf_<name>(x..., v...):   # the jvp of f along v, to be differentiated again

``check(program, mode)`` then compares, leaf by leaf, against ``dg_w``, the central finite
difference of the gradient along a random direction ``w`` (the gradient is itself checked against
finite differences of the function first):

- ``RR``: ``grad(rr)(x, u)`` is ``dg_u``;
- ``FR``: ``jvp(grad f)(x, v)`` is ``dg_v`` (a Hessian-vector product);
- ``RF``: ``grad(rf)(x, v)`` is ``dg_v``;
- ``FF``: ``jvp(rf)(x, u; v, 0)`` is the scalar ``<u, dg_v>``;
- ``T``: ``jvp(grad(f, fallback="always"), fallback="always")(x, v)``, the tracer over the
  tracer, is ``dg_v``.

For complex inputs every pairing is ``Re(sum(a * b))`` (s2sgrad's gradients of real functions of
complex inputs are conjugated): the identities above hold as written.
"""

import importlib.util
import itertools
import math
import os
import sys
import warnings

import numpy as np

import s2sgrad
from s2sgrad.rules import load_everything, registry

from rule_cases import CASES

load_everything()

EPS = 1e-6
MODES = ("RR", "FR", "RF", "FF", "T")
RTOL, ATOL = 1e-4, 1e-5


# ---------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------

def _is_leaf(v):
    return (isinstance(v, (float, complex)) and not isinstance(v, bool)) or (
        isinstance(v, np.ndarray) and v.dtype.kind in "fc")


def _leaves(x, out):
    if isinstance(x, (list, tuple)):
        for e in x:
            _leaves(e, out)
    elif _is_leaf(x):
        out.append(x)


def _index_like(x):
    """Strings and lists of ints (einsum's subscripts and sublists) carry no derivative."""
    return isinstance(x, str) or isinstance(x, list) and all(
        isinstance(e, int) or e is Ellipsis for e in x)


def _targets(prim, case, bound):
    """The values the first-order tests perturb (``test_rules._targets``)."""
    va = registry.varargs_param(prim)
    for param in sorted(set(prim.vjp) | set(prim.jvp)):
        if param in case.nondiff or param not in bound or bound[param] is None:
            continue
        if param == va:
            for v in bound[param]:
                if not _index_like(v):
                    yield v
        elif not _index_like(bound[param]):
            yield bound[param]


def _literal(v):
    if v is None or v is Ellipsis or isinstance(v, (bool, int, str)):
        return repr(v)
    if isinstance(v, float) and math.isfinite(v):
        return repr(v)
    if isinstance(v, slice):
        return f"slice({_literal(v.start)}, {_literal(v.stop)}, {_literal(v.step)})"
    if type(v) in (tuple, list) and all(_literal(e) is not None for e in v):
        inner = [_literal(e) for e in v]
        return "(" + "".join(e + ", " for e in inner) + ")" if type(v) is tuple \
            else "[" + ", ".join(inner) + "]"
    return None


def _callee(prim, case, consts, k):
    if case.fn is not None:
        consts[f"F{k}"] = case.fn
        return f"F{k}"
    if prim.family == "op":
        return None                                   # (getitem: a subscript)
    if prim.family == "array":
        return "np." + prim.name
    if prim.family == "builtins":
        return prim.name
    if prim.family == "s2sgrad.runtime":
        return "_rt." + prim.name
    return f"{prim.family}.{prim.name}"


# Cases whose ``fn`` wraps the primitive in a lambda (a method, a helper that writes in place):
# the probe spells the call as user code does, so that no call is dispatched at run time.
_SPELLED = {
    "attribute.T": lambda parts, args: f"{parts[0]}.T",
    "method.item": lambda parts, args: f"{parts[0]}.item({', '.join(map(repr, args[1]))})"
    if len(args) > 1 else f"{parts[0]}.item()",
    "s2sgrad.runtime.add_at": lambda parts, args: f"_rt.add_at({parts[0]}.copy(), {parts[1]}, "
                                                  f"{parts[2]})",
}


def _random_like(x, rng):
    if isinstance(x, float):
        return float(rng.standard_normal())
    if np.iscomplexobj(x):
        return rng.standard_normal(np.shape(x)) + 1j * rng.standard_normal(np.shape(x))
    return rng.standard_normal(np.shape(x))


class Probe:
    """One call of one primitive, as lines of a program (see the module's docstring)."""

    def __init__(self, prim, index, case, k):
        self.prim, self.index, self.case, self.k = prim, index, case, k
        self.id = f"{prim.qualname}-{index}"
        rng = np.random.default_rng(0)                 # the points of test_rules
        args, kwargs = case.make(rng)
        bound = prim.bind(args, kwargs)
        diff = []
        for x in _targets(prim, case, bound):
            _leaves(x, diff)
        ids = {id(d) for d in diff}
        self.xs, self.consts = [], {}

        def src(v):
            if id(v) in ids and _is_leaf(v):
                self.xs.append(v)
                return f"{{x{len(self.xs) - 1}}}"
            if type(v) is list:
                return "[" + ", ".join(src(e) for e in v) + "]"
            if type(v) is tuple:
                return "(" + "".join(src(e) + ", " for e in v) + ")"
            lit = _literal(v)
            if lit is not None:
                return lit
            name = f"K{k}_{len(self.consts)}"
            self.consts[name] = v
            return name
        parts = [src(a) for a in args] + [f"{key}={src(v)}" for key, v in kwargs.items()]
        callee = _callee(prim, case, self.consts, k)
        out = f"out_{k}"
        call = f"{parts[0]}[{parts[1]}]" if callee is None else f"{callee}({', '.join(parts)})"
        if prim.qualname in _SPELLED:      # written as a user would, not through the case's fn
            call = _SPELLED[prim.qualname](parts, args)
        fn = case.fn if case.fn is not None else _function(prim)
        ans = fn(*args, **kwargs)
        terms = []

        def contract(a, expr):
            if isinstance(a, (list, tuple)):
                for i, e in enumerate(a):
                    contract(e, f"{expr}[{i}]")
                return
            if not (_is_leaf(a) or isinstance(a, np.inexact)):
                return                                 # an integer output has no derivative
            name = f"W{k}_{len(self.consts)}"
            w = _random_like(np.asarray(a), rng)
            # (no weight on huge outputs, np.nan_to_num's of inf: their sum would overflow)
            self.consts[name] = np.where(np.abs(a) < 1e100, w, 0) if np.ndim(w) else w
            if np.iscomplexobj(a):
                terms.append(f"np.sum(np.real({name} * {expr}))")
            else:
                terms.append(f"np.sum({name} * {expr})")
        contract(ans, out)
        self.lines = [f"{out} = {call}"] if self.xs and terms else []
        self.value = " + ".join(terms)

    def body(self, first):
        """The probe's lines with its leaves named from parameter ``first`` on."""
        names = {f"x{i}": f"x{first + i}" for i in range(len(self.xs))}
        return [ln.format(**names) for ln in self.lines], self.value

    def __repr__(self):
        return f"<probe {self.id}>"


def _function(prim):
    if prim.family == "op":
        return {"getitem": lambda a, i: a[i]}[prim.name]
    mod = np if prim.family == "array" else importlib.import_module(prim.family)
    obj = mod
    for part in prim.name.split("."):
        obj = getattr(obj, part)
    return obj


def all_probes():
    """Every call of every differentiable primitive with cases, in registry order."""
    probes, k = [], 0
    for prim in registry.all_primitives():
        if prim.nondiff:
            continue
        for i, case in enumerate(CASES.get(prim.qualname, [])):
            p = Probe(prim, i, case, k)
            k += 1
            if p.lines:
                probes.append(p)
    return probes


# ---------------------------------------------------------------------------
# Programs
# ---------------------------------------------------------------------------

_HEAD = """\
# Generated by tests/order2_probes.py: probes of the rules' second derivatives.
import math

import numpy as np
import scipy
import scipy.integrate
import scipy.linalg
import scipy.signal
import scipy.special
import scipy.stats

from s2sgrad import runtime as _rt
"""


class Program:
    """Probes summed in one function, with the drivers of the second-order checks."""

    def __init__(self, name, probes):
        self.name, self.probes = name, probes
        self.spans, lines, values, n = [], [], [], 0
        for p in probes:
            body, value = p.body(n)
            self.spans.append((p, n, n + len(p.xs)))
            n += len(p.xs)
            lines += body
            values.append(value)
        self.n = n
        self.xs = [x for p in probes for x in p.xs]
        xs = ", ".join(f"x{i}" for i in range(n))
        us = ", ".join(f"u{i}" for i in range(n))
        vs = ", ".join(f"v{i}" for i in range(n))
        total = "\n    ".join(["value = " + values[0]] + [f"value = value + {v}"
                                                          for v in values[1:]])
        if n == 1:
            rr = f"return np.sum(np.real(u0 * G_{name}(x0)))"
            rf = f"return JF_{name}(x0, v0)[1]"
        else:
            rr = (f"g = G_{name}({xs})\n    return "
                  + " + ".join(f"np.sum(np.real(u{i} * g[{i}]))" for i in range(n)))
            rf = f"return JF_{name}({xs}, ({vs},))[1]"
        self.source = (f"def f_{name}({xs}):\n    " + "\n    ".join(lines) + f"\n    {total}\n"
                       f"    return value\n\n\n"
                       f"def rr_{name}({xs}, {us}):\n    {rr}\n\n\n"
                       f"def rf_{name}({xs}, {vs}):\n    {rf}\n")

    def bind(self, module):
        for p in self.probes:
            for key, v in p.consts.items():
                setattr(module, key, v)
        self.wrt = 0 if self.n == 1 else tuple(range(self.n))
        self.f = getattr(module, f"f_{self.name}")
        self.rr = getattr(module, f"rr_{self.name}")
        self.rf = getattr(module, f"rf_{self.name}")
        self.g = s2sgrad.grad(self.f, self.wrt)
        setattr(module, f"G_{self.name}", self.g)
        setattr(module, f"JF_{self.name}", s2sgrad.jvp(self.f, self.wrt))

    def __repr__(self):
        return f"<program {self.name}: {len(self.probes)} probes>"


def write_module(programs, directory, name):
    """Write the programs to ``directory/name.py``, import it and bind the programs to it."""
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as f:
        f.write(_HEAD + "\n\n" + "\n\n".join(p.source for p in programs))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    for p in programs:
        p.bind(module)
    return module


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def _tuple(program, g):
    return (g,) if program.n == 1 else tuple(g)


def _moved(xs, ds, s):
    return [x + s * d for x, d in zip(xs, ds)]


def _pair(a, b):
    return sum(float(np.real(np.sum(np.asarray(p) * np.asarray(q)))) for p, q in zip(a, b))


def _pack(program, ds):
    return ds[0] if program.n == 1 else tuple(ds)


class Mismatch(AssertionError):
    """Second derivatives that differ from finite differences: ``failures`` maps probe ids to
    what is wrong."""

    def __init__(self, failures):
        self.failures = failures
        super().__init__("; ".join(f"{k}: {v}" for k, v in failures.items()))


def _direction(x, rng):
    """A random direction at ``x``, zero where ``x`` is not finite (np.nan_to_num's cases)."""
    d = _random_like(x, rng)
    return d if isinstance(x, float) or np.all(np.isfinite(x)) else np.where(np.isfinite(x), d, 0)


def reference(program):
    """Directions ``u``, ``v`` and the finite differences of the gradient along each."""
    rng = np.random.default_rng(3)
    xs = program.xs
    u = [_direction(x, rng) for x in xs]
    v = [_direction(x, rng) for x in xs]
    f, g = program.f, program.g
    with warnings.catch_warnings():
        warnings.simplefilter("error", s2sgrad.FallbackWarning)
        g0 = _tuple(program, g(*xs))

    def dg(w):
        plus, minus = _tuple(program, g(*_moved(xs, w, EPS))), _tuple(program, g(*_moved(xs, w, -EPS)))
        return [(np.asarray(a) - np.asarray(b)) / (2 * EPS) for a, b in zip(plus, minus)]
    failures = {}
    jvp = s2sgrad.jvp(f, program.wrt)
    for p, lo, hi in program.spans:          # first order, probe by probe, in both modes
        w = [d if lo <= i < hi else 0.0 * d for i, d in enumerate(v)]
        fd = (f(*_moved(xs, w, EPS)) - f(*_moved(xs, w, -EPS))) / (2 * EPS)
        got = _pair(g0[lo:hi], v[lo:hi])
        with warnings.catch_warnings():
            warnings.simplefilter("error", s2sgrad.FallbackWarning)
            tangent = float(np.real(jvp(*xs, _pack(program, w))[1]))
        if not np.isclose(got, fd, rtol=1e-5, atol=1e-6):
            failures[p.id] = f"first order: <grad, v> = {got}, finite differences {fd}"
        elif not np.isclose(tangent, fd, rtol=1e-5, atol=1e-6):
            failures[p.id] = f"first order: jvp along v = {tangent}, finite differences {fd}"
    if failures:
        raise Mismatch(failures)
    return u, v, dg(u), dg(v)


def _compare(program, got, expected, what):
    failures = {}
    for p, lo, hi in program.spans:
        for a, b in zip(got[lo:hi], expected[lo:hi]):
            a, b = np.asarray(a), np.asarray(b)
            if np.shape(a) != np.shape(b) or not np.allclose(a, b, rtol=RTOL, atol=ATOL):
                failures[p.id] = f"{what}: {a!r} != finite differences {b!r}"
                break
    if failures:
        raise Mismatch(failures)


def check(program, mode, ref=None):
    """Check ``program``'s second derivatives in ``mode`` (one of ``MODES``)."""
    u, v, dg_u, dg_v = ref if ref is not None else reference(program)
    xs, n = program.xs, program.n
    with warnings.catch_warnings():
        if mode != "T":            # generated code all the way: tracing would be a failure
            warnings.simplefilter("error", s2sgrad.FallbackWarning)
        if mode == "RR":
            got = _tuple(program, s2sgrad.grad(program.rr, program.wrt)(*xs, *u))
            _compare(program, got, dg_u, "grad of <u, grad f>")
        elif mode == "FR":
            got = _tuple(program, s2sgrad.jvp(program.g, program.wrt)(*xs, _pack(program, v))[1])
            _compare(program, got, dg_v, "jvp of grad f")
        elif mode == "RF":
            got = _tuple(program, s2sgrad.grad(program.rf, program.wrt)(*xs, *v))
            _compare(program, got, dg_v, "grad of jvp f")
        elif mode == "FF":
            zeros = [0.0 if isinstance(x, float) else np.zeros_like(x) for x in xs]
            got = s2sgrad.jvp(program.rf, tuple(range(2 * n)))(*xs, *u, tuple(v) + tuple(zeros))[1]
            expected = _pair(u, dg_v)
            if not np.isclose(float(np.real(got)), expected, rtol=RTOL, atol=ATOL):
                raise Mismatch({p.id: f"jvp of jvp f: {got} != finite differences {expected}"
                                for p in program.probes})
        elif mode == "T":
            gt = s2sgrad.grad(program.f, program.wrt, fallback="always")
            got = _tuple(program, s2sgrad.jvp(gt, program.wrt, fallback="always")(
                *xs, _pack(program, v))[1])
            _compare(program, got, dg_v, "traced jvp of traced grad f")
        else:
            raise ValueError(mode)


def traced_second_order(program):
    """The tracer's second derivative (``T``) along a random direction, without the finite
    differences: for the entries expected to raise."""
    rng = np.random.default_rng(3)
    v = [_direction(x, rng) for x in program.xs]
    gt = s2sgrad.grad(program.f, program.wrt, fallback="always")
    return s2sgrad.jvp(gt, program.wrt, fallback="always")(*program.xs, _pack(program, v))[1]


def run_each(probes, directory, modes=MODES, name="order2_each", verbose=False):
    """Every probe in its own program, every mode: ``{probe id: {mode: None or message}}``
    (the full matrix, for ``python tests/order2_probes.py``)."""
    programs = [Program(f"p{p.k}", [p]) for p in probes]
    write_module(programs, directory, name)
    out = {}
    for prog in programs:
        pid = prog.probes[0].id
        try:
            ref = reference(prog)
        except Exception as exc:  # noqa: BLE001 - a report
            out[pid] = {m: f"first order: {type(exc).__name__}: {exc}" for m in modes}
            if verbose:
                print(pid, out[pid], flush=True)
            continue
        out[pid] = {}
        for m in modes:
            try:
                check(prog, m, ref)
                out[pid][m] = None
            except Exception as exc:  # noqa: BLE001 - a report
                out[pid][m] = f"{type(exc).__name__}: {str(exc)[:400]}"
        if verbose:
            bad = {m: e for m, e in out[pid].items() if e}
            print(pid, "ok" if not bad else bad, flush=True)
    return out


if __name__ == "__main__":
    import json
    import tempfile
    import time
    sel = sys.argv[1] if len(sys.argv) > 1 else ""
    probes = [p for p in all_probes() if p.id.startswith(sel)]
    if len(sys.argv) > 3:                  # a slice of the list: start, stop
        probes = probes[int(sys.argv[3]):int(sys.argv[4])]
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        res = run_each(probes, d, verbose=True)
    print(f"{len(res)} probes, {time.time() - t0:.1f}s")
    for m in MODES:
        print(m, sum(1 for r in res.values() if r.get(m) is None), "pass")
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            json.dump(res, f, indent=1)
