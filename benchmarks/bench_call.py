"""Issue 14: what one call of a gradient function costs once its code is built (the warm path).

Run by hand: python benchmarks/bench_call.py [--rounds N] [--s2sgrad DIR]

``--s2sgrad DIR`` times another checkout (an older commit, for a before/after): only the
``call`` and ``plain`` columns then, through the public API alone.

For each operator and function below it prints, in microseconds per call:

  call        ``grad(f)(x)`` (or ``jvp(f)(x, t)``, ...): what a training loop pays per step
  generated   the generated entry called directly (what the derivative itself costs)
  wrapper     call - generated: the operator's own cost (argument checks, signature,
              route and cache lookup, the memo's checks, matching the result to the argument)
  plain       the function itself, for scale

The functions: ``square`` (``x * x`` of a float) and ``small`` (``np.sum(np.sin(x) * x)`` of
a 3-vector).  The best of ``--rounds`` timings of a loop of calls, in one process, with the
disk cache off.  Timed in CPU time of the process (``time.process_time``), which other processes
on a shared machine disturb less than the wall clock.
"""

import argparse
import os
import statistics
import sys
import time
import timeit

os.environ.setdefault("S2SGRAD_CACHE", "off")
HERE = os.path.dirname(os.path.abspath(__file__))
OTHER = sys.argv[sys.argv.index("--s2sgrad") + 1] if "--s2sgrad" in sys.argv[:-1] else None
sys.path.insert(0, OTHER or os.path.dirname(HERE))

import numpy as np  # noqa: E402

import s2sgrad  # noqa: E402
if OTHER is None:
    from s2sgrad.driver import pipeline  # noqa: E402
    from s2sgrad.driver.request import Request  # noqa: E402
    from s2sgrad.signature import signature_of  # noqa: E402


def square(x):
    return x * x


def small(x):
    return np.sum(np.sin(x) * x)


def per_call(stmt, number, rounds):
    """Median microseconds per call of ``stmt`` (a no-argument callable)."""
    times = timeit.repeat(stmt, number=number, repeat=rounds, timer=time.process_time)
    return min(times) / number * 1e6


def entry_of(fn, request, args):
    """The generated entry the operator runs for ``args`` (specialized when it is)."""
    sig = signature_of(args)
    for req in (request.but(signature=sig), request):
        hit = pipeline.cache.recall(fn, req)
        if hit is not None:
            return hit
    return pipeline.run(fn, request)


def public_cases():
    """The calls alone (``generated`` not known): what an older checkout can time."""
    out = []
    for name, fn, x in (("square", square, 1.5), ("small", small, np.array([0.3, -1.2, 2.0]))):
        t = 1.0 if name == "square" else np.ones(3)
        g, vg, j = s2sgrad.grad(fn), s2sgrad.value_and_grad(fn), s2sgrad.jvp(fn)
        g(x), vg(x), j(x, t)
        out += [(f"grad({name})", lambda g=g, x=x: g(x), None, lambda f=fn, x=x: f(x)),
                (f"value_and_grad({name})", lambda g=vg, x=x: g(x), None, lambda f=fn, x=x: f(x)),
                (f"jvp({name})", lambda j=j, x=x, t=t: j(x, t), None, lambda f=fn, x=x: f(x))]
    return out


def cases():
    x_s, x_a = 1.5, np.array([0.3, -1.2, 2.0])
    out = []
    for name, fn, x in (("square", square, x_s), ("small", small, x_a)):
        g = s2sgrad.grad(fn)
        g(x)
        built = entry_of(fn, Request("grad", (0,)), (x,))
        entry = built.entry
        out.append((f"grad({name})", lambda g=g, x=x: g(x), lambda e=entry, x=x: e(x),
                    lambda f=fn, x=x: f(x)))
        vg = s2sgrad.value_and_grad(fn)
        vg(x)
        ventry = entry_of(fn, Request("value_and_grad", (0,)), (x,)).entry
        out.append((f"value_and_grad({name})", lambda g=vg, x=x: g(x),
                    lambda e=ventry, x=x: e(x), lambda f=fn, x=x: f(x)))
        j = s2sgrad.jvp(fn)
        t = 1.0 if name == "square" else np.ones(3)
        j(x, t)
        built = entry_of(fn, Request("jvp", (0,)), (x,))
        jentry = built[built.interface["jvp"]]
        tname = built.interface["tangents"][built.interface["active"][0]]
        out.append((f"jvp({name})", lambda j=j, x=x, t=t: j(x, t),
                    lambda e=jentry, x=x, t=t, k=tname: e(x, **{k: t}),
                    lambda f=fn, x=x: f(x)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--s2sgrad", metavar="DIR", help="time the checkout in DIR instead")
    opts = parser.parse_args(argv)
    print(f"per-call cost, microseconds (best of {opts.rounds} x {opts.number} calls; "
          f"python {sys.version.split()[0]}, numpy {np.__version__}; "
          f"s2sgrad from {os.path.dirname(os.path.dirname(os.path.abspath(s2sgrad.__file__)))})")
    print(f"{'operator':24} {'call':>8} {'generated':>10} {'wrapper':>8} {'plain':>8}")
    for label, call, generated, plain in (public_cases() if OTHER else cases()):
        c = per_call(call, opts.number, opts.rounds)
        p = per_call(plain, opts.number, opts.rounds)
        if generated is None:
            print(f"{label:24} {c:8.2f} {'':>10} {'':>8} {p:8.2f}")
            continue
        g = per_call(generated, opts.number, opts.rounds)
        print(f"{label:24} {c:8.2f} {g:10.2f} {c - g:8.2f} {p:8.2f}")


if __name__ == "__main__":
    main()
