"""The rule library: derivative rules, written once, used by the code generator and the tracer."""

_RULE_MODULES = ("numpy", "math", "builtins", "runtime_rules")


def load_all():
    """Import every rule module so that its rules are registered."""
    import importlib
    for name in _RULE_MODULES:
        importlib.import_module(f"{__name__}.{name}")
