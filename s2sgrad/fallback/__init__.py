"""The tracing fallback: derivatives by running the function on boxed values.

Where source transformation cannot work (no source, functions made by
exec/eval, C callables, ``getattr(np, name)(x)``, generators, try/except ...),
the compiler falls back to tracing: the function runs on *boxes*, which NumPy
hands back to s2sgrad through ``__array_ufunc__`` and ``__array_function__``
(NEP 13/18) and Python operators reach through their dunders, so plain NumPy
code is traced without any wrapper import.  Every derivative comes from the
same rule library the code generator inlines (``s2sgrad.rules``).

- ``trace_vjp(fn, args, kwargs, argnums) -> (value, backward)``: reverse mode;
- ``trace_jvp(fn, args, kwargs, argnums, tangents) -> (value, tangent_out)``: forward mode;
- ``FallbackWarning``: the warning the compiler gives when it falls back;
- ``traced(fn)``: a copy of ``fn`` whose direct calls to ``s2sgrad.runtime`` helpers
  (as in generated code) are traced as the registry's primitives.

Traces nest (boxes of boxes, each trace with its own level), so tracing a
function that itself calls ``trace_vjp``/``trace_jvp`` and the backward gives
higher derivatives in any combination of modes.

``s2sgrad.driver.routes`` decides where the fallback is taken (the ``fallback=`` policy of the
operators, the warning, the routes of bare primitives and ``functools.partial``);
``s2sgrad.driver.dynamic`` takes it for one callee inside generated code (mixed mode).
"""

__all__ = ["trace_vjp", "trace_jvp", "FallbackWarning", "traced", "Box", "TracingNoRuleError",
           "TracedConversionError"]

# Loaded on first use: ``import s2sgrad`` (and a gradient served from the disk cache) must
# not import the rule library and the compiler it needs.
_LAZY = {"trace_vjp": "trace", "trace_jvp": "trace", "traced": "nested", "Box": "tracer",
         "TracedConversionError": "tracer", "TracingNoRuleError": "tracer"}


class FallbackWarning(UserWarning):
    """The compiler could not transform a function's source and traced it at run time instead."""


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
