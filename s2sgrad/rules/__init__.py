"""The rule library: derivative rules, written once, used by the code generator and the tracer.

Every module in this package other than ``registry`` and ``template`` holds
rules.  The NumPy, math and builtin rules load on first use of the registry;
the rules of a SciPy module load once the user's program has imported that
module (importing all of SciPy would cost seconds that NumPy users never need).
"""

import importlib
import pkgutil
import sys

_NOT_RULES = {"registry", "template"}
# rule module -> the module it needs already imported by the user's program
_LAZY = {"scipy_special": "scipy.special", "scipy_stats": "scipy.stats",
         "scipy_linalg": "scipy.linalg", "scipy_signal": "scipy.signal",
         "scipy_integrate": "scipy.integrate", "scipy_optimize": "scipy.optimize"}
_loaded = set()
_names = []


def load_all():
    """Import every rule module whose library is in use, so that its rules are registered.

    Returns True when it loaded something new.
    """
    new = False
    if not _names:       # the package's modules, listed once (lookups call this each time)
        _names.extend(sorted(info.name for info in pkgutil.iter_modules(__path__)))
    for name in _names:
        if name in _NOT_RULES or name in _loaded:
            continue
        needs = _LAZY.get(name)
        if needs is not None and needs not in sys.modules:
            continue
        importlib.import_module(f"{__name__}.{name}")
        _loaded.add(name)
        new = True
    return new


def load_everything():
    """Load every rule module, importing the libraries they need (for tables and tests)."""
    for needs in sorted(set(_LAZY.values())):
        importlib.import_module(needs)
    load_all()
