"""The long run of the random-program generator (tests/random_programs.py).

    python benchmarks/random_programs.py --n 2000 [--seed 0] [--mode attributed|safe|all]
                                         [--hvp] [--specialized] [--no-shrink] [--show 2]

Builds N random programs from the README's constructs, checks each gradient against central
finite differences and forward mode against reverse mode (and, with --hvp, Hessian-vector
products against differences of the gradient; with --specialized, the same on code specialized
to the arguments' signature, which must give the general code's derivatives to 1e-12, and
``entry(x, p)`` with ``p`` of each signature of ``random_programs.ARGUMENTS`` in turn: floats,
0-d arrays, axes of length 1, matrices, float32, complex), and prints the number of programs, the wrong
derivatives by category (each category with its smallest programs, shrunk to the statements
that still fail), the errors by kind, and how many programs used the tracing fallback.

In the default ``attributed`` mode each program uses the safe constructs plus at most one of the
constructs of the memory model (``MEMORY_MODEL``: issue 12, items 1-4), in turn, so that a
failure has one suspect.  The exit code is 1 when any derivative is wrong.
"""

import argparse
import collections
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, ".."))

import random_programs as rp  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("attributed", "safe", "all"), default="attributed")
    parser.add_argument("--hvp", action="store_true",
                        help="also check Hessian-vector products (forward over reverse)")
    parser.add_argument("--specialized", action="store_true",
                        help="also check code specialized to the arguments' signature, with a "
                             "second argument of each signature in turn")
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument("--show", type=int, default=2, help="programs shown per category")
    args = parser.parse_args(argv)
    start = time.time()
    counts, wrong, errors = rp.run(args.n, args.seed, args.mode, second=args.hvp,
                                   specialized=args.specialized)
    elapsed = time.time() - start
    by_category = collections.defaultdict(list)
    for program, outcome, k, cat in wrong:
        by_category[cat or "no memory-model construct"].append((program, outcome, k))
    unknown = len(by_category.get("no memory-model construct", []))
    print(f"programs: {counts['programs']}  (mode {args.mode}, seed {args.seed}, "
          f"{elapsed:.0f} s)")
    print(f"  right:     {counts['ok']}")
    print(f"  not smooth at the point: {counts['nonsmooth']}  (gradient not compared with "
          f"finite differences; forward against reverse still checked)")
    print(f"  wrong:     {counts['wrong']}  ({unknown} without a memory-model construct)")
    print(f"  errors:    {counts['error']}")
    print(f"  invalid (the program itself fails): {counts['invalid']}")
    print(f"  used the tracing fallback: {counts['fallbacks']}")
    if wrong:
        print("\nwrong derivatives by category (the memory-model construct the program uses):")
        for cat, items in sorted(by_category.items(), key=lambda kv: -len(kv[1])):
            kinds = collections.Counter(o.kind for _, o, _ in items)
            print(f"  {len(items):5d}  {cat}  ({', '.join(f'{v} {k}' for k, v in kinds.items())})")
    for cat, items in sorted(by_category.items(), key=lambda kv: -len(kv[1])):
        print(f"\n== {cat}: {len(items)} wrong")
        seen = set()
        for program, outcome, k in sorted(items, key=lambda it: len(it[0].source()))[:args.show]:
            if not args.no_shrink:
                program = rp.shrink(program, lambda o: o.status == "wrong", seed=k,
                                    second=args.hvp)
                outcome = rp.check(program, seed=k, second=args.hvp,
                                   specialized=args.specialized)
            text = program.source()
            if text in seen:
                continue
            seen.add(text)
            print(f"-- program {k}: {outcome.kind}: {outcome.detail}")
            print(text)
    if errors:
        print("\nerrors by kind:")
        for detail, items in sorted(errors.items(), key=lambda kv: -len(kv[1])):
            cats = collections.Counter(c or "no memory-model construct" for _, _, c in items)
            suspects = ", ".join(f"{v} {k}" for k, v in cats.items())
            print(f"  {len(items):5d}  {detail}  [{suspects}]")
        for detail, items in sorted(errors.items(), key=lambda kv: -len(kv[1])):
            program, k, _ = min(items, key=lambda it: len(it[0].source()))
            print(f"\n== {detail}\n-- program {k}:")
            print(program.source())
    return 1 if counts["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main())
