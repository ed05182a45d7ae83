"""Write the table of supported functions from the rule registry.

``python -m s2sgrad.coverage > docs/coverage.md`` regenerates docs/coverage.md;
a test fails when the checked-in file differs from what this prints.
"""

import sys

from .rules import registry

_FAMILY_TITLES = [
    ("array", "NumPy (and any array namespace with the same names: cupy, array_api_strict)"),
    ("math", "math"), ("builtins", "Python builtins"), ("cmath", "cmath"),
    ("scipy.special", "scipy.special"), ("scipy.stats", "scipy.stats"),
    ("scipy.linalg", "scipy.linalg"), ("scipy.signal", "scipy.signal"),
    ("attribute", "Array attributes"), ("op", "Python operators"),
    ("s2sgrad.runtime", "s2sgrad.runtime helpers (used by generated code)"),
]


def table():
    from .rules import load_everything
    load_everything()
    prims = registry.all_primitives()
    families = {}
    for p in prims:
        families.setdefault(p.family, []).append(p)
    order = [f for f, _ in _FAMILY_TITLES] + sorted(set(families) - {f for f, _ in _FAMILY_TITLES})
    titles = dict(_FAMILY_TITLES)
    methods = {}
    for name in sorted(registry._METHODS):
        prim, _ = registry._METHODS[name]
        methods.setdefault(id(prim), []).append(name)
    lines = ["# Supported functions", "",
             "Generated from the rule registry by `python -m s2sgrad.coverage > docs/coverage.md`;",
             "do not edit by hand. *reverse* and *forward* list the arguments each mode differentiates;",
             "*no derivative* marks functions whose outputs carry none (they are fine to call).",
             "*batched* lists the arguments whose forward rule takes a whole batch of tangents",
             "at once (`jacobian`, `hessian`); the others run their forward rule once per",
             "direction.", ""]
    total = sum(1 for p in prims if not p.nondiff)
    lines.append(f"{total} differentiable primitives, "
                 f"{sum(1 for p in prims if p.nondiff)} known non-differentiable ones.")
    for fam in order:
        if fam not in families:
            continue
        lines += ["", f"## {titles.get(fam, fam)}", "",
                  "| function | reverse | forward | batched | array methods |",
                  "| --- | --- | --- | --- | --- |"]
        for p in sorted(families[fam], key=lambda p: p.name):
            if p.nondiff:
                rev = fwd = batched = "no derivative"
            else:
                rev = ", ".join(sorted(p.vjp)) or "-"
                fwd = ", ".join(sorted(p.jvp)) or "-"
                batched = fwd if p.elementwise else ", ".join(sorted(p.batch)) or "-"
            meth = ", ".join(f"`.{m}`" for m in methods.get(id(p), []))
            lines.append(f"| `{p.name}` | {rev} | {fwd} | {batched} | {meth} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table())
