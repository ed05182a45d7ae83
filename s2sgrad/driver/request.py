"""What to build: one value that says everything the pipeline needs to know.

A ``Request`` is hashable and has a stable ``repr``: it is part of the cache key
of what is built for it (``driver.cache``), so two requests that are equal build
the same code, and anything that changes the code is a field here.
"""

import dataclasses

__all__ = ["Request", "OPERATORS"]

# operator -> (mode, what the generated entry computes)
OPERATORS = {
    # reverse mode: a combined function (forward sweep, then backward sweep)
    "grad": ("reverse", "the value and the gradients, d_result given (1 for a scalar); "
                        "specialized code starts from 1, or is forward mode for one real scalar"),
    "value_and_grad": ("reverse", "the value and the gradients, from one run"),
    "elementwise_grad": ("reverse", "the gradients of the sum of the output's elements"),
    "vjp": ("reverse", "the gradients given the output's cotangent (its last parameter)"),
    # reverse mode, split: f_fwd leaves on a tape what f_bwd reads
    "split": ("split", "the forward sweep and the backward sweep as two functions"),
    "callee": ("split", "a callee's split pair, for the dynamic dispatcher"),
    # forward mode
    "jvp": ("forward", "the value and its tangent, the tangents the last parameters"),
    "deriv": ("forward", "the tangent alone, the seeds folded in"),
    "hvp": ("forward", "the tangent of the generated gradient: a Hessian-vector product"),
    "callee_jvp": ("forward", "a callee's tangent function, for the dynamic dispatcher"),
    # forward mode whose tangents carry a leading axis of directions
    "columns": ("batched", "the Jacobian by columns, one sweep along every unit direction"),
    "hessian": ("batched", "the Hessian, forward mode over the gradient, batched"),
    "rows": ("batched", "the Jacobian by rows: the backward sweep, batched over cotangents"),
}


@dataclasses.dataclass(frozen=True, eq=True)
class Request:
    """One thing to build for a function.

    ``operator`` is one of ``OPERATORS``; ``wrt`` the positions of the
    differentiated parameters (their names, for ``callee`` requests);
    ``joint`` asks for code that can itself be differentiated again (calls
    recompute instead of sharing a tape); ``seeds`` fixes some tangents
    (``((0, "one"),)``: the tangent of the first parameter is 1.0, folded in);
    ``fallback`` is the operator's policy (``"auto"``, ``"never"``,
    ``"always"``).  ``signature`` is the abstract signature of the arguments
    (``signature.signature_of``: kinds, dtypes, ranks) the code is specialized to:
    ``None`` is code that works for any argument.
    """

    operator: str = "grad"
    wrt: tuple = (0,)
    joint: bool = False
    seeds: tuple = ()
    fallback: str = "auto"
    signature: object = None

    def __post_init__(self):
        if self.operator not in OPERATORS:
            raise ValueError(f"unknown operator {self.operator!r}")
        # looked up on every call of a derivative: hashed once
        object.__setattr__(self, "_hash", hash(dataclasses.astuple(self)))

    def __hash__(self):
        return self._hash

    @property
    def mode(self):
        """``reverse``, ``split``, ``forward`` or ``batched``."""
        return OPERATORS[self.operator][0]

    @property
    def forward(self):
        return self.mode in ("forward", "batched")

    @property
    def label(self):
        """What the generated module's name says it is (``f.grad``, ``f.jvp``, ...)."""
        return self.operator + ("_joint" if self.joint else "")

    def but(self, **changes):
        """This request with some fields changed."""
        return dataclasses.replace(self, **changes)
