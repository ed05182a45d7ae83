"""Forward mode for a gradient with respect to one real scalar (run by hand).

    PYTHONPATH=. python benchmarks/bench_mode_choice.py [--rounds 15]

For the scalar workloads of ``../shared/bench/workloads.py`` (``scalar_loop``,
``while_series``, ``recursion``; another checkout of the benchmark: set
``S2SGRAD_BENCH``), times one gradient call of

* ``hand``: the workload's hand-written gradient (``*_grad``),
* ``forward``: the entry built for ``Request("grad", (0,), signature=...)`` (the
  signature of the inputs: one Python float, so forward mode, one tangent sweep),
* ``reverse``: the entry built for ``Request("grad", (0,))`` (the general code),
* ``autograd``: ``autograd.grad`` of the same source bound to ``autograd.numpy``,

on the same inputs, after checking that they agree.  Each time is the median over
rounds of the best of a few runs of a loop; it prints each one as a multiple of
``hand``, and autograd's time as a multiple of ``forward``.  The built entries are
called directly (no wrapper: ``grad(f)``'s own per-call cost is measured elsewhere).
"""

import argparse
import os
import statistics
import sys
import timeit

os.environ.setdefault("S2SGRAD_CACHE", "off")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

BENCH = os.environ.get("S2SGRAD_BENCH", os.path.join(os.path.dirname(__file__), "..", "..",
                                                      "shared", "bench"))
sys.path.insert(0, os.path.abspath(BENCH))

import numpy  # noqa: E402

import workloads  # noqa: E402
from s2sgrad.driver import pipeline  # noqa: E402
from s2sgrad.driver.request import Request  # noqa: E402
from s2sgrad.signature import signature_of  # noqa: E402

NAMES = ("scalar_loop", "while_series", "recursion")


def _time(fn, args, rounds):
    timer = timeit.Timer(lambda: fn(*args))
    number, _ = timer.autorange()
    number = max(1, number // 5)
    return statistics.median(min(timer.repeat(3, number)) / number for _ in range(rounds))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    opts = parser.parse_args(argv)
    try:
        import autograd
        ag_np = __import__("autograd.numpy", fromlist=["numpy"])
    except ImportError:
        autograd = None
    print(f"{'workload':<14}{'hand':>10}{'forward':>10}{'reverse':>10}{'autograd':>11}"
          f"{'fwd/hand':>10}{'rev/hand':>10}{'ag/fwd':>9}")
    for wname in NAMES:
        w = workloads.WORKLOADS[wname]
        args = w.make_inputs(0)
        fwd = pipeline.run(w.objective, Request("grad", (w.argnum,),
                                                signature=signature_of(args)))
        assert fwd.interface.get("forward"), f"{wname}: not built in forward mode"
        rev = pipeline.run(w.objective, Request("grad", (w.argnum,)))
        systems = {"hand": w.gradient,
                   "forward": fwd.entry, "reverse": rev.entry}   # (value, gradient)
        if autograd is not None:
            systems["autograd"] = autograd.grad(w.objective_for(ag_np), w.argnum)
        expected = w.gradient(*args)
        for sname, fn in systems.items():
            got = fn(*args)
            got = got[1] if sname in ("forward", "reverse") else got
            if not numpy.allclose(got, expected, rtol=1e-9, atol=1e-12):
                raise AssertionError(f"{wname}/{sname}: {got!r} != {expected!r}")
        t = {sname: _time(fn, args, opts.rounds) for sname, fn in systems.items()}
        ag = t.get("autograd", float("nan"))
        print(f"{wname:<14}{t['hand'] * 1e6:>8.2f}us{t['forward'] * 1e6:>8.2f}us"
              f"{t['reverse'] * 1e6:>8.2f}us{ag * 1e6:>9.2f}us"
              f"{t['forward'] / t['hand']:>9.2f}x{t['reverse'] / t['hand']:>9.2f}x"
              f"{ag / t['forward']:>8.1f}x")


if __name__ == "__main__":
    main()
