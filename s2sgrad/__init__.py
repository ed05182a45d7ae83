"""s2sgrad: source-to-source automatic differentiation for Python and NumPy.

``s2sgrad.grad(f)`` reads the source of ``f``, transforms it and compiles
readable adjoint code that calls NumPy directly; ``grad(f, emit=True)`` shows
that code.
"""

__version__ = "0.1.0"

from .api import grad, value_and_grad  # noqa: E402
from .errors import (  # noqa: E402
    NonDifferentiableError, NonScalarOutputError, NoRuleError, S2SGradError, SourceError,
    UnsupportedError,
)
from .fallback import FallbackWarning  # noqa: E402

__all__ = [
    "grad", "value_and_grad", "S2SGradError", "UnsupportedError", "NoRuleError",
    "NonDifferentiableError", "NonScalarOutputError", "SourceError",
    "FallbackWarning",
]
