"""The rule library: derivative rules, written once, used by the code generator and the tracer.

Every module in this package other than ``registry``, ``template`` and ``_index`` holds
rules.  A rule module is imported when a lookup first needs something it registers
(``_index.py`` tells which module registers what): a gradient of NumPy code loads the
NumPy rules it calls, not those of the FFT or of SciPy.  The rules of a SciPy module load
only once the user's program has imported that module (importing all of SciPy would cost
seconds that NumPy users never need).  ``load_all`` loads every module in use at once.
"""

import importlib
import os
import sys

_NOT_RULES = {"registry", "template", "_index"}
# rule module -> the module it needs already imported by the user's program
_LAZY = {"scipy_special": "scipy.special", "scipy_stats": "scipy.stats",
         "scipy_linalg": "scipy.linalg", "scipy_signal": "scipy.signal",
         "scipy_integrate": "scipy.integrate", "scipy_optimize": "scipy.optimize"}
_names = []


def rule_modules():
    """The names of the rule modules of this package, sorted (the order ``load_all`` loads
    them in)."""
    if not _names:       # listed once
        import pkgutil
        _names.extend(sorted(info.name for info in pkgutil.iter_modules(__path__)
                             if info.name not in _NOT_RULES))
    return list(_names)


def load_all():
    """Import every rule module whose library is in use, so that its rules are registered.

    Returns True when it loaded something new.
    """
    from . import registry
    new = False
    for name in rule_modules():
        if name in registry._MODULES_LOADED:
            continue
        registry._load_module(name, gated=True)
        new = new or name in registry._MODULES_LOADED
    return new


def load_everything():
    """Load every rule module, importing the libraries they need (for tables and tests)."""
    for needs in sorted(set(_LAZY.values())):
        importlib.import_module(needs)
    load_all()


# ---------------------------------------------------------------------------
# The index of what each module registers (``_index.py``)
# ---------------------------------------------------------------------------

def registrations():
    """``(primitives, methods, operators)``: ``{(family, name): module}``, ``{method: module}``
    and ``{operator: module}``, in the order loading every module registers them.

    Imports each rule module in turn and sees what it adds, so it needs an interpreter that
    has loaded none yet (``index_text`` starts one).  Refuses a module that changes what
    another registered (the rules found would then depend on which modules are loaded).
    """
    from . import registry
    for needs in sorted(set(_LAZY.values())):
        importlib.import_module(needs)
    tables = (registry._PRIMITIVES, registry._METHODS, registry._OPERATORS)
    found = ({}, {}, {})

    def state():
        return [dict(t) for t in tables], {
            key: (p.shape_params, getattr(p, "callable_params", None), dict(p.aliases),
                  dict(p.vjp), dict(p.jvp), dict(p.batch), p.check)
            for key, p in registry._PRIMITIVES.items()}

    for name in rule_modules():
        if f"{__name__}.{name}" in sys.modules:
            raise RuntimeError(f"rule module {name} was imported before its turn (by another "
                               f"rule module?): registrations() needs a fresh interpreter")
        (before, details) = state()
        importlib.import_module(f"{__name__}.{name}")
        (after, details_after) = state()
        for old, new, out in zip(before, after, found):
            for key, value in new.items():
                if key not in old:
                    out[key] = name
                elif old[key] is not value:
                    raise RuntimeError(f"rule module {name} registers {key} again")
        for key, value in details.items():
            if details_after[key] != value:
                raise RuntimeError(f"rule module {name} changes {key}, which another "
                                   f"module registers")
    return found


def index_text():
    """The text of ``_index.py`` for the rule modules as they are (computed in a new
    interpreter, which has loaded no rule module)."""
    import json
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    code = ("import json\nfrom s2sgrad.rules import registrations\n"
            "p, m, o = registrations()\n"
            "print(json.dumps([[list(k) + [v] for k, v in p.items()], list(m.items()), "
            "list(o.items())]))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout
    prims, methods, operators = json.loads(out)
    lines = ['"""Which rule module registers each primitive, array method and operator: the',
             "registry imports a module on the first lookup of something it registers.",
             "",
             "Generated by ``python -m s2sgrad.rules._index`` (run it after adding, renaming or",
             "moving a rule); do not edit by hand.  A test fails when this file is stale.",
             '"""', "", "PRIMITIVES = {"]
    lines += [f"    ({family!r}, {name!r}): {module!r}," for family, name, module in prims]
    lines += ["}", "", "METHODS = {"]
    lines += [f"    {name!r}: {module!r}," for name, module in methods]
    lines += ["}", "", "OPERATORS = {"]
    lines += [f"    {name!r}: {module!r}," for name, module in operators]
    lines += ["}", "", "", 'if __name__ == "__main__":',
              "    from s2sgrad.rules import write_index",
              "    write_index()"]
    return "\n".join(lines) + "\n"


def write_index():
    """Write ``_index.py`` afresh (only when its text changes)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_index.py")
    text = index_text()
    old = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    if old != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {path}")
    else:
        print(f"{path} is up to date")
