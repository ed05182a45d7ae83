"""s2sgrad: source-to-source automatic differentiation for Python and NumPy.

``s2sgrad.grad(f)`` reads the source of ``f``, transforms it and compiles
readable adjoint code that calls NumPy directly; ``grad(f, emit=True)`` shows
that code.
"""

from .version import __version__  # noqa: E402,F401

from .api import grad, show, stages, value_and_grad  # noqa: E402
from .operators import (  # noqa: E402
    deriv, elementwise_grad, hessian, holomorphic_grad, hvp, jacobian, jvp, vjp,
)
from .errors import (  # noqa: E402
    NonDifferentiableError, NonScalarOutputError, NoRuleError, S2SGradError, SourceError,
    UnsupportedError, WrtError,
)
from .fallback import FallbackWarning  # noqa: E402
from .gradcheck import GradientCheckError, check_grads  # noqa: E402

# User-defined derivatives load the rule library (and the compiler it parses rules with):
# they are imported on first use, so that a gradient served from the disk cache needs neither.
_CUSTOM = ("custom_vjp", "custom_jvp", "stop_gradient", "non_differentiable", "checkpoint")

__all__ = [
    "grad", "value_and_grad", "jvp", "vjp", "elementwise_grad", "deriv", "jacobian", "hessian",
    "hvp", "holomorphic_grad", "S2SGradError", "UnsupportedError", "NoRuleError",
    "NonDifferentiableError", "NonScalarOutputError", "SourceError", "WrtError",
    "FallbackWarning", "custom_vjp", "custom_jvp", "stop_gradient", "non_differentiable",
    "checkpoint", "check_grads", "GradientCheckError", "show", "stages",
]


def __getattr__(name):
    if name in _CUSTOM:
        from . import custom
        value = getattr(custom, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
