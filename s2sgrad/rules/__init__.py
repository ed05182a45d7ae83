"""The rule library: derivative rules, written once, used by the code generator and the tracer.

Every module in this package other than ``registry`` and ``template`` holds
rules and is loaded on first use of the registry.
"""

_NOT_RULES = {"registry", "template"}


def load_all():
    """Import every rule module so that its rules are registered."""
    import importlib
    import pkgutil
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name not in _NOT_RULES:
            importlib.import_module(f"{__name__}.{info.name}")
