"""Errors that speak the user's language: each names the user's file, line and construct."""

__all__ = [
    "S2SGradError", "UnsupportedError", "UnsupportedArgumentError", "NoRuleError",
    "NonDifferentiableError", "OutputWithoutDerivativeError",
    "NonScalarOutputError", "SourceError", "WrtError", "EscapeError",
]


class S2SGradError(Exception):
    """Base class of every error s2sgrad raises on purpose."""


class SourceError(S2SGradError):
    """The source of a function cannot be found or parsed."""


class _AtUserLine(S2SGradError):
    """An error about a construct at the user's ``file:line``: ``where: construct <verdict>;
    advice``."""

    verdict = ""

    def __init__(self, where, construct, advice=""):
        self.where = where
        self.construct = construct
        self.advice = advice
        msg = f"{where}: {construct} {self.verdict}"
        if advice:
            msg += f"; {advice}"
        super().__init__(msg)


class UnsupportedError(_AtUserLine):
    """A construct the source transformer does not handle."""

    verdict = "is not supported by s2sgrad's source transformation"


class UnsupportedArgumentError(UnsupportedError):
    """A call whose arguments the derivative rules of its function do not cover.

    Raised for the user's line by the code generator (when it can see the
    argument) and by the tracing fallback (when the call runs): ``out=``,
    ``np.pad(..., mode='empty')``, ``np.linalg.qr(..., mode='raw')`` ...
    """

    def __init__(self, where, name, what, why):
        Exception.__init__(self, f"{where}: s2sgrad cannot differentiate {name} with {what}: "
                                 f"{why}")
        self.where, self.name, self.advice = where, name, why
        self.construct = f"{name} with {what}"


class EscapeError(_AtUserLine):
    """A value that carries a derivative stored in module state and read back there:
    neither transformed (the analysis does not follow it) nor traced (tracing would
    leave traced values in the user's module)."""

    verdict = "cannot be differentiated"


class NoRuleError(UnsupportedError):
    """A call to a function that has no derivative rule and no source to transform."""

    def __init__(self, where, name, advice=None):
        advice = advice or ("define one with @s2sgrad.custom_vjp, or wrap the call in "
                            "s2sgrad.stop_gradient(...) if it should not be differentiated")
        Exception.__init__(self, f"{where}: {name} has no derivative rule; {advice}")
        self.where, self.advice, self.name = where, advice, name
        self.construct = f"{name}, which has no derivative rule"


class NonDifferentiableError(S2SGradError):
    """Differentiation with respect to an argument that cannot carry a derivative."""


class OutputWithoutDerivativeError(NonDifferentiableError):
    """A differentiated function returned what cannot carry a derivative (``None``, a bool,
    a string), found by the generated code's own check of the output (``value``): the
    operators say it as for any other route (``driver.routes.check_output``)."""

    def __init__(self, message, value):
        super().__init__(message)
        self.value = value


class NonScalarOutputError(S2SGradError):
    """``grad`` of a function whose output is not a scalar."""


class WrtError(S2SGradError, ValueError, IndexError):
    """A ``wrt`` that names no argument the operator can differentiate with respect to
    (a position out of range, an unknown name, a keyword-only parameter, a bool ...).

    A ``ValueError``, and an ``IndexError`` as a position out of range was before."""
