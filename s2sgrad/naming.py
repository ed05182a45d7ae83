"""The names generated code gives to what it makes, spelled in one place.

A person reads these names in every generated module (``grad_f``, ``d_x``,
``t_x``, ``f_fwd``/``f_bwd``, ``_tape``, ``_rt``), and checked-in files keep
them, so each is written here once and every pass asks this module.  Each
function gives the *wanted* name; the passes make it unique where it would
clash (``Namer.fresh``, ``ModuleBuilder.fresh_function_name``).
"""

__all__ = ["TAPE", "RUNTIME", "RESULT_ADJOINT", "adjoint", "tangent", "gradient_function",
           "forward_sweep", "backward_sweep", "tangent_function", "RESERVED", "GENERATED_FILE",
           "is_generated_file"]

TAPE = "_tape"            # the stack a forward sweep leaves for its backward sweep
RUNTIME = "_rt"           # s2sgrad.runtime, as generated code imports it
RESULT_ADJOINT = "d_result"   # the output's cotangent when the function returns an expression

# The file name of every generated module starts so (``<s2sgrad:module.f.grad:8cee93fddbb2>``):
# tracebacks, linecache and the passes that read generated code again tell it by this.
GENERATED_FILE = "<s2sgrad:"


def is_generated_file(filename):
    """Whether ``filename`` names a module s2sgrad generated."""
    return str(filename).startswith(GENERATED_FILE)


# Names no variable of the user's may take in generated code.
RESERVED = frozenset({TAPE, RUNTIME})


def adjoint(var):
    """The adjoint (reverse-mode derivative) of variable ``var``: ``d_x``."""
    return "d_" + var


def tangent(var):
    """The tangent (forward-mode derivative) of variable ``var``: ``t_x``."""
    return "t_" + var


def gradient_function(base):
    """The combined function (forward sweep, then backward sweep) of ``base``: ``grad_f``."""
    return "grad_" + base


def forward_sweep(base):
    """The forward half of a split pair: ``f_fwd`` (leaves on the tape what ``f_bwd`` reads)."""
    return base + "_fwd"


def backward_sweep(base):
    """The backward half of a split pair: ``f_bwd``."""
    return base + "_bwd"


def tangent_function(base):
    """The tangent function of a callee in forward mode: ``f_jvp``."""
    return base + "_jvp"
