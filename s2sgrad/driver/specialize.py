"""Which code an operator runs: the general code, or code specialized to the arguments.

Code built for ``Request(..., signature=None)`` works for any argument; code
built for ``signature=signature_of(args)`` may use what the signature says
(ranks, dtypes, which axes have length 1: ``s2sgrad.signature``).  Both must
give the same derivatives, and the tests check that they do by running each
construct and rule both ways.  This switch says which one the operators
with a call site (``driver.calls.site``: ``grad``, ``value_and_grad``, ``jvp``,
``vjp``, ``elementwise_grad``) ask the driver for:

``"auto"``
    what the operators decide by themselves (the default);
``"general"``
    always the general code (``signature=None``), even where the operators
    would specialize;
``"specialized"``
    always code specialized to the signature of the call's positional
    arguments, even where the operators would not.

Set it for a block with ``with specialize.using("general"): ...``, or for a
whole process with the environment variable ``S2SGRAD_CODE`` (read at
import): ``S2SGRAD_CODE=general python -m pytest`` runs the test suite on the
general code alone, ``S2SGRAD_CODE=specialized`` on specialized code alone (the
tests marked ``auto_code``, which check the call path's own choice, are skipped
then; both runs pass).

The call path (``driver.calls.Site.request_for``) asks ``request_for`` on each
slow call: in ``"auto"`` it returns ``request`` itself (what the operator
chose), otherwise the same request with the signature the switch forces.  No
fast path (``driver.calls.Ready``) is kept while ``"general"`` or
``"specialized"`` is in force, and entering or leaving ``using`` invalidates
those kept before.
"""

import contextlib
import contextvars
import os

from . import cache
from ..signature import signature_of

__all__ = ["CHOICES", "using", "current", "request_for"]

CHOICES = ("auto", "general", "specialized")


def _from_environment():
    value = os.environ.get("S2SGRAD_CODE", "auto").strip() or "auto"
    if value not in CHOICES:
        raise ValueError(f"S2SGRAD_CODE={value!r}; use one of {', '.join(CHOICES)}")
    return value


_choice = contextvars.ContextVar("s2sgrad_code", default=_from_environment())


def current():
    """The choice in force: ``"auto"``, ``"general"`` or ``"specialized"``."""
    return _choice.get()


@contextlib.contextmanager
def using(choice):
    """Run the block with ``choice`` in force (one of ``CHOICES``)."""
    if choice not in CHOICES:
        raise ValueError(f"code={choice!r}; use one of {', '.join(CHOICES)}")
    token = _choice.set(choice)
    cache.stale()       # the fast paths and runners kept so far ran the other code
    try:
        yield choice
    finally:
        _choice.reset(token)
        cache.stale()


def request_for(request, args=(), sig=None):
    """The request to serve a call with positional arguments ``args`` (or their signature
    ``sig``): ``request`` as the operator made it (``"auto"``), or with the signature the
    switch forces."""
    choice = _choice.get()
    if choice == "auto":
        return request
    if choice == "general":
        return request if request.signature is None else request.but(signature=None)
    return request.but(signature=signature_of(args) if sig is None else sig)
