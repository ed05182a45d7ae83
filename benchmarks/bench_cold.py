"""Issue 14: what the first gradient costs in a new process (the cold transform).

    python benchmarks/bench_cold.py                 # 7 processes per workload
    python benchmarks/bench_cold.py -n 15 --workloads physics,gmm
    python benchmarks/bench_cold.py --s2sgrad /tmp/other-checkout   # another s2sgrad, same workloads

Each measurement is a new interpreter with the disk cache off (``S2SGRAD_CACHE=off``), so
the gradient is transformed from source.  It times, in that order:

  import numpy          (for scale: every user of s2sgrad has paid it)
  import s2sgrad        after numpy
  first grad(f)(*args)  transform + compile + one evaluation, after importing the
                        workload's module (an example may import SciPy: not counted)

and prints the median over the processes of the wall time, and of the CPU time of the
process for the first call (steadier on a loaded machine).  The workloads
(``cold_workloads.py``) are functions of about 50 lines with their helpers: the physics
example's ``miss`` (a ``while`` loop and a branch), the RNN example's ``loss``, the digits
MLP's ``loss`` and a Gaussian mixture's negative log-likelihood.

Python reads modules from their byte code cache (``__pycache__``) as an installed package
does: the processes share a private cache directory (``PYTHONPYCACHEPREFIX``), filled by
one process run first and not timed.  ``--no-bytecode`` compiles every module from source
in each process instead (as with ``PYTHONDONTWRITEBYTECODE`` and no cache).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import numpy
t1 = time.perf_counter()
import s2sgrad
t2 = time.perf_counter()
sys.path.insert(0, {here!r})
import cold_workloads
f, args = cold_workloads.WORKLOADS[{name!r}]()
t3, c3 = time.perf_counter(), time.process_time()
s2sgrad.grad(f)(*args)
t4, c4 = time.perf_counter(), time.process_time()
assert s2sgrad.__file__.startswith({package!r}), s2sgrad.__file__
print(json.dumps({{"numpy": t1 - t0, "import": t2 - t1, "first": t4 - t3,
                  "first_cpu": c4 - c3}}))
"""


def measure(name, package_root, runs, bytecode):
    code = CHILD.format(here=HERE, name=name, package=os.path.join(package_root, "s2sgrad"))
    with tempfile.TemporaryDirectory(prefix="s2sgrad-cold-") as tmp:
        env = dict(os.environ, S2SGRAD_CACHE="off", S2SGRAD_CACHE_DIR=os.path.join(tmp, "c"),
                   PYTHONPATH=package_root)
        if bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pyc")
        else:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env.pop("PYTHONPYCACHEPREFIX", None)

        def once():
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                 text=True, cwd=tmp)
            if out.returncode != 0:
                raise SystemExit(f"{name}: the child process failed:\n{out.stderr}")
            return json.loads(out.stdout)

        if bytecode:
            once()                      # fills the byte code cache; not timed
        results = [once() for _ in range(runs)]
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=7, help="processes per workload")
    parser.add_argument("--workloads", default="physics,rnn,mlp,gmm")
    parser.add_argument("--s2sgrad", default=ROOT, metavar="DIR",
                        help="the directory holding the s2sgrad package to time "
                             "(default: this checkout)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="compile every module from source in each process")
    parser.add_argument("--json", action="store_true", help="print the medians as JSON")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.s2sgrad)
    rows = {}
    for name in args.workloads.split(","):
        rows[name] = measure(name, root, args.runs, not args.no_bytecode)
    if args.json:
        print(json.dumps(rows, indent=1))
        return rows
    print(f"s2sgrad from {root}; medians of {args.runs} new processes, disk cache off, "
          f"byte code {'compiled in each process' if args.no_bytecode else 'cached'}")
    print(f"{'workload':<10} {'import numpy':>13} {'import s2sgrad':>15} "
          f"{'first grad call':>16} {'(cpu)':>8}")
    for name, r in rows.items():
        print(f"{name:<10} {r['numpy'] * 1e3:10.1f} ms {r['import'] * 1e3:12.1f} ms "
              f"{r['first'] * 1e3:13.1f} ms {r['first_cpu'] * 1e3:5.1f} ms")
    return rows


if __name__ == "__main__":
    main()
