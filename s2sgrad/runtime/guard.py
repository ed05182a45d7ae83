"""The guard of specialized code checked into a repository (``s2sgrad gen``).

A function that ``s2sgrad gen`` specialized to a signature (from its
annotations and defaults, or ``--signature``) starts with

    if not _rt.fits("(float64[n], float)", x, dt):
        return grad_f_general(x, dt, d_result)

so that arguments of another kind (a float32 array, a matrix, an int) run the
general code generated beside it.  The text is ``s2sgrad.signature``'s; it is
parsed once per process.
"""

from ..signature import ANY, BOOL, COMPLEX, FLOAT, INT, NONE, matches, parse_signature

__all__ = ["fits"]

_parsed = {}      # signature text -> tuple of abstract values
_TYPES = {FLOAT: float, INT: int, BOOL: bool, COMPLEX: complex, NONE: type(None)}


def fits(signature, *args):
    """Whether the positional arguments ``args`` have the signature ``signature`` (its text).

    A ``?`` entry matches anything; an array's axis ``n`` matches any length
    but 1, ``1`` only 1; dtypes and ranks must be equal.
    """
    sig = _parsed.get(signature)
    if sig is None:
        sig = _parsed[signature] = parse_signature(signature)
    if len(args) != len(sig):
        return False
    for a, v in zip(sig, args):
        t = _TYPES.get(a)
        if t is not None:           # a Python number: its type, quickly
            if type(v) is not t:
                return False
        elif a is not ANY and not matches(a, v):
            return False
    return True
