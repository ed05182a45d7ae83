"""Releasing values at their last use: ``del`` in a generated function's straight-line code.

Python keeps every local variable until its function returns, so a generated
function that computes many array temporaries holds all of them at once:
its peak memory is the sum of its intermediates, not the largest set alive
together.  Forward-mode code is the case in point (a tangent sweep keeps no
tape, yet without this each primal and tangent value would live to the end),
and a Hessian-vector product, forward mode over a whole gradient, computes
dozens of them.  Memory the allocator keeps reusing is also memory it does
not give back to the system and fault in again on the next call.

``release(fdef)`` adds, after each top-level statement, ``del`` of the
variables it reads for the last time.  Only variables certainly bound there
are released: assigned by a top-level statement before, not parameters, not
read by a nested function or lambda that may run later, and not certain to
be numbers (a scalar takes no memory worth a line).  Nothing is released
just before the final ``return``, which releases everything anyway.  The
frontend drops ``del`` of a name, so code with it can be differentiated again.
"""

import gast
from ..syntax import walk as _walk

__all__ = ["release"]


def release(fdef, scalars=()):
    """Add ``del`` statements to ``fdef``'s top level (in place); returns ``fdef``.

    ``scalars`` are variables certain to hold numbers: not worth a line.
    """
    body = fdef.body
    params = {a.id for a in fdef.args.args + fdef.args.kwonlyargs if isinstance(a, gast.Name)}
    for extra in (fdef.args.vararg, fdef.args.kwarg):
        if isinstance(extra, gast.Name):
            params.add(extra.id)
    captured = set()
    for n in _walk(fdef):
        if n is not fdef and isinstance(n, (gast.Lambda, gast.FunctionDef)):
            captured |= {m.id for m in _walk(n) if isinstance(m, gast.Name)}
    first_def, last_use = {}, {}
    for i, s in enumerate(body):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name):
            first_def.setdefault(s.targets[0].id, i)
        for n in _walk(s):
            if isinstance(n, gast.Name):
                last_use[n.id] = i
    dead_after = {}
    for v, i in last_use.items():
        if v in params or v in captured or v in scalars or first_def.get(v, len(body)) > i:
            continue
        if i + 1 < len(body) and not _is_final_return(body, i + 1):
            dead_after.setdefault(i, set()).add(v)
    if not dead_after:
        return fdef
    out = []
    for i, s in enumerate(body):
        out.append(s)
        if i in dead_after:
            d = gast.Delete(targets=[gast.Name(id=v, ctx=gast.Del(), annotation=None,
                                               type_comment=None)
                                     for v in sorted(dead_after[i])])
            origin = getattr(s, "s2s_origin", None)
            if origin is not None:
                d.s2s_origin = origin
            out.append(d)
    fdef.body = out
    return fdef


def _is_final_return(body, i):
    return i == len(body) - 1 and isinstance(body[i], gast.Return)
