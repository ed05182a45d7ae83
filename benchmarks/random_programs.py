"""The long run of the random-program generator (tests/random_programs.py).

    python benchmarks/random_programs.py --n 2000 [--seed 0] [--safe] [--no-shrink]

Builds N random programs from the README's constructs, checks each gradient against central
finite differences and forward mode against reverse mode, and prints the number of programs,
the wrong gradients by category (with programs shrunk to the statements that still fail), the
errors by kind, and how many programs used the tracing fallback.  ``--safe`` leaves out the
constructs whose failures are known (``KNOWN_BUGS``).  The exit code is 1 when a gradient is
wrong.
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
    parser.add_argument("--safe", action="store_true", help="leave out the known bugs' constructs")
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument("--hvp", action="store_true",
                        help="also check Hessian-vector products (forward over reverse)")
    parser.add_argument("--show", type=int, default=3, help="programs shown per category")
    parser.add_argument("--shrink", type=int, default=40,
                        help="shrink at most this many wrong programs (the smallest)")
    args = parser.parse_args(argv)
    constructs = rp.SAFE if args.safe else rp.CONSTRUCTS
    start = time.time()
    counts, wrong, errors = rp.run(args.n, args.seed, constructs, second=args.hvp)
    elapsed = time.time() - start
    print(f"programs: {counts['programs']}  ({elapsed:.0f} s)")
    print(f"  right:         {counts['ok']}")
    print(f"  not smooth at the point (gradient not compared with finite differences; forward "
          f"mode still checked): {counts['nonsmooth']}")
    print(f"  wrong:         {counts['wrong']}")
    print(f"  errors:        {counts['error']}")
    print(f"  invalid (the program itself fails): {counts['invalid']}")
    print(f"  used the tracing fallback: {counts['fallbacks']}")
    # wrong gradients, by the construct they share (a failure's category: the constructs of
    # its shrunk program that are known bugs, else all its constructs)
    by_category = collections.defaultdict(list)
    smallest = sorted(range(len(wrong)), key=lambda i: len(wrong[i][0].source()))
    to_shrink = set(smallest[:args.shrink])
    for i, (program, outcome, k) in enumerate(wrong):
        if not args.no_shrink and i in to_shrink:
            program = rp.shrink(program, lambda o: o.status == "wrong", seed=k, second=args.hvp)
            program.constructs = _constructs_of(program)
        known = sorted(program.constructs & set(rp.KNOWN_BUGS))
        key = ", ".join(known) if known else "not a known bug: " + ", ".join(
            sorted(program.constructs))
        by_category[key].append((program, outcome, k))
    if wrong:
        print("\nwrong gradients by category:")
    for key, items in sorted(by_category.items(), key=lambda kv: -len(kv[1])):
        print(f"\n== {len(items)} x {key}")
        for program, outcome, k in sorted(items, key=lambda it: len(it[0].source()))[:args.show]:
            print(f"-- program (seed {k}): {outcome.kind}: {outcome.detail}")
            print(program.source())
    if errors:
        print("\nerrors by kind:")
    for detail, items in sorted(errors.items(), key=lambda kv: -len(kv[1])):
        print(f"\n== {len(items)} x {detail}")
        program, k = min(items, key=lambda it: len(it[0].source()))
        print(program.source())
    return 1 if counts["wrong"] else 0


def _constructs_of(program):
    """The constructs a shrunk program still uses (by the text of its statements)."""
    rebuilt = set()
    for block in program.body:
        for name in rp.CONSTRUCTS:
            if name in rp.STATEMENT_MARKS and any(m in ln for ln in block
                                                  for m in rp.STATEMENT_MARKS[name]):
                rebuilt.add(name)
    return rebuilt & program.constructs or program.constructs


if __name__ == "__main__":
    sys.exit(main())
