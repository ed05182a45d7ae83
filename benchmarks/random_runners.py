"""Random programs through the call path's runners (driver/calls.py), in the automatic choice.

    python benchmarks/random_runners.py --n 200 [--seed 0] [--higher]

Each program of ``tests/random_programs.py`` gets two more functions, ``line(s) = f(X0 + s *
D)`` and ``line2(s, t)``, of floats (``grad`` of one float runs forward mode, and its runner
has the generated entry inline).  Each derivative (``grad`` and ``value_and_grad`` of ``f``,
``line``, ``line2`` and ``entry(x, p)``) is called several times, the runner serving from the
second call on, with signatures alternating between calls (a float, ``np.float64``, a 0-d
array, a 1-vector; ``p`` of two signatures), and each result must be the general code's
(``gradcheck.assert_agree``: the same types, dtypes and shapes, values to 1e-9).  With
``--higher``, ``grad(grad(line))`` and ``hessian(line)`` against central differences of the
gradient too.  Prints each program with a problem and the counts; exit code 1 on any.
"""

import argparse
import collections
import os
import sys
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402

import random_programs as rp  # noqa: E402
import s2sgrad  # noqa: E402
from gradcheck import assert_agree  # noqa: E402
from s2sgrad.driver import specialize  # noqa: E402

EXTRA = '''

X0 = np.array({x0})
D = np.array({d})


def line(s):
    return f(X0 + s * D)


def line2(s, t):
    return f(X0 + s * D + t * t * D[::-1]) * t
'''


def _scalar_entry(module, x, p):
    try:
        with np.errstate(all="raise"):
            return np.ndim(module.entry(x, p)) == 0
    except Exception:
        return False


def scenarios(module, x, p, q, s=0.3):
    """``[(name, make the derivative, [arguments of each call])]``."""
    out = [
        ("grad f", lambda: s2sgrad.grad(module.f), [(x,)] * 3),
        ("value_and_grad f", lambda: s2sgrad.value_and_grad(module.f), [(x,)] * 3),
        ("grad line", lambda: s2sgrad.grad(module.line),
         [(s,), (s,), (np.float64(s),), (s,), (np.array(s),), (s,), (np.array([s]),), (s,), (-s,)]),
        ("value_and_grad line", lambda: s2sgrad.value_and_grad(module.line),
         [(s,), (s,), (np.float64(s),), (s,), (np.array(s),), (s,), (-s,)]),
        ("grad line2 (0, 1)", lambda: s2sgrad.grad(module.line2, (0, 1)),
         [(s, 0.7)] * 3 + [(np.float64(s), 0.7), (s, 0.7)]),
        ("grad line2 1", lambda: s2sgrad.grad(module.line2, 1),
         [(s, 0.7)] * 3 + [(s, np.array(0.7)), (s, 0.7)]),
        ("value_and_grad line2 0", lambda: s2sgrad.value_and_grad(module.line2, 0),
         [(s, 0.7)] * 3 + [(s, 0.8)]),
    ]
    if p is not None:
        calls = [(x, p), (x, p), (x, q), (x, p), (x, q), (x, q), (x, p)]
        out += [("grad entry (0, 1)", lambda: s2sgrad.grad(module.entry, (0, 1)), calls),
                ("grad entry 1", lambda: s2sgrad.grad(module.entry, 1), calls)]
    return out


def check(k, seed, higher=False):
    """``(status, problems)`` of the ``k``-th program: ok, invalid or bad."""
    rng = np.random.default_rng(k)
    constructs, _ = rp.constructs_for(k, "attributed")
    program = rp.build(rp.RandomChooser(seed * 1000003 + k), constructs)
    program.argument = sorted(rp.ARGUMENTS)[k % len(rp.ARGUMENTS)]
    x, d = rng.uniform(-1, 1, rp.N), rng.standard_normal(rp.N)
    source = program.source() + EXTRA.format(x0=[float(v) for v in x], d=[float(v) for v in d])
    program.source = lambda: source
    module = rp.load(program)
    try:
        with np.errstate(all="raise"):
            float(module.f(x.copy())), float(module.line(0.3)), float(module.line2(0.3, 0.7))
    except Exception:
        return "invalid", []
    p = rp.ARGUMENTS[program.argument][0](np.random.default_rng(k + 7))
    p = p if _scalar_entry(module, x, p) else None
    other = sorted(rp.ARGUMENTS)[(k + 3) % len(rp.ARGUMENTS)]
    q = rp.ARGUMENTS[other][0](np.random.default_rng(k + 9))
    q = q if p is not None and _scalar_entry(module, x, q) else p
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make, calls in scenarios(module, x, p, q):
            try:
                with specialize.using("general"):
                    expected = [make()(*args) for args in calls]
            except Exception as exc:
                problems.append(f"{name}: the general code raised {type(exc).__name__}: {exc}")
                continue
            try:
                fun = make()
                for i, args in enumerate(calls):
                    kinds = ", ".join(f"{type(a).__name__}{np.shape(a)}" for a in args)
                    try:
                        assert_agree(fun(*args), expected[i], rtol=1e-9,
                                     what=f"{name}, call {i} ({kinds})")
                    except AssertionError as exc:
                        problems.append(str(exc))
            except Exception as exc:
                problems.append(f"{name}: raised {type(exc).__name__}: {exc}")
        if higher:
            problems += _higher(module)
    return ("bad" if problems else "ok"), problems


def _higher(module, s=0.3):
    with specialize.using("general"):
        gl = s2sgrad.grad(module.line)
        fd = (gl(s + 1e-5) - gl(s - 1e-5)) / 2e-5
        coarse = (gl(s + 1e-3) - gl(s - 1e-3)) / 2e-3
    if not np.isclose(fd, coarse, rtol=1e-3, atol=1e-5):
        return []       # not smooth at s
    out = []
    try:
        gl = s2sgrad.grad(module.line)
        gg, hessian = s2sgrad.grad(gl), s2sgrad.hessian(module.line)
        for i in range(3):
            gl(s)       # (the first-order runner, between the second derivatives' calls)
            for name, value in (("grad(grad(line))", gg(s)), ("hessian(line)", hessian(s))):
                if not np.isclose(float(value), fd, rtol=1e-4, atol=1e-6):
                    out.append(f"{name}, call {i}: {value} != central differences {fd}")
    except Exception as exc:
        out.append(f"second derivatives: raised {type(exc).__name__}: {str(exc)[:200]}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--higher", action="store_true",
                        help="also grad(grad(line)) and hessian(line) against differences")
    args = parser.parse_args(argv)
    counts = collections.Counter()
    for k in range(args.n):
        try:
            status, problems = check(k, args.seed, args.higher)
        except Exception:
            status, problems = "checker", [traceback.format_exc(limit=3)]
        counts[status] += 1
        if problems:
            print(f"== program {k} (seed {args.seed}): {status}")
            for text in problems[:6]:
                print("   ", text[:400])
    print(dict(counts))
    return 1 if counts["bad"] or counts["checker"] else 0


if __name__ == "__main__":
    sys.exit(main())
