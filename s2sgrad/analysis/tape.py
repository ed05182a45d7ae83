"""Tape pruning: keep only the saves whose restored values the backward sweep reads.

The reverse transform saves every value a statement overwrites and restores it
in the backward sweep.  A restore is useful only if the backward sweep reads
the restored variable before overwriting it again; otherwise the restore and
the save that feeds it are both removed.  Removing a restore never makes
another one useful, so one pass of liveness suffices.
"""

import gast

from .liveness import live_in

__all__ = ["prune"]


def prune(fwd, bwd, live_out):
    """Remove dead save/restore pairs from ``fwd`` and ``bwd`` (in place); return both.

    A restore that writes part of a value (``y[i] = _tape.pop()``) also reads
    the rest of it, so removing one can make an earlier one dead: repeat until
    nothing changes.
    """
    while True:
        useful = set()
        restores = []

        def visit(stmt, live_after):
            info = getattr(stmt, "s2s_restore", None)
            if info is None:
                return
            slot, var = info
            restores.append(stmt)
            if var in live_after:
                useful.add(slot.id)

        live_in(bwd, live_out, visit)
        dead = [st for st in restores if st.s2s_restore[0].id not in useful]
        if not dead:
            return _drop(fwd), _drop(bwd)
        for stmt in dead:
            stmt.s2s_restore[0].alive = False
        fwd, bwd = _drop(fwd), _drop(bwd)


def _dead(stmt):
    slot = getattr(stmt, "s2s_push", None)
    if slot is not None and not slot.alive:
        return True
    info = getattr(stmt, "s2s_restore", None)
    return info is not None and not info[0].alive


def _drop(stmts):
    out = []
    for s in stmts:
        if _dead(s):
            continue
        if isinstance(s, (gast.If, gast.For, gast.While)):
            s.body = _drop(s.body)
            s.orelse = _drop(s.orelse)
            if not s.body and not s.orelse and isinstance(s, gast.If):
                continue
            if not s.body and getattr(s, "s2s_backward_loop", False):
                continue
            if not s.body:
                s.body = [gast.Pass()]
        out.append(s)
    return out
