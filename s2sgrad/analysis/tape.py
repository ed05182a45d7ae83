"""Tape pruning: keep only the saves whose restored values the backward sweep reads.

The reverse transform saves every value a statement overwrites and restores it
in the backward sweep.  A restore is useful only if the backward sweep reads
the restored variable before overwriting it again; otherwise the restore and
the save that feeds it are both removed.  Removing a restore never makes
another one useful, so one pass of liveness suffices.
"""

import gast

from ..syntax import walk_stmts
from .liveness import live_in

__all__ = ["prune", "sharing"]

def sharing(stmts, view_source):
    """``{variable: the other variables that may share its memory}`` from the assignments
    of ``stmts`` (``a = y[0:2]``, ``b = a.T``: ``view_source(value)`` names the variable
    a value may be a view of), taken both ways and transitively."""
    edges = {}
    for s in walk_stmts(stmts):
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name):
            source = view_source(s.value)
            target = s.targets[0].id
            if source is not None and source != target:
                edges.setdefault(source, set()).add(target)
                edges.setdefault(target, set()).add(source)
    out = {}
    for start in edges:
        if start in out:
            continue
        group, work = {start}, [start]
        while work:
            for n in edges[work.pop()]:
                if n not in group:
                    group.add(n)
                    work.append(n)
        group = frozenset(group)
        for n in group:
            out[n] = group - {n}
    return out


def prune(fwd, bwd, live_out, shares=None):
    """Remove dead save/restore pairs from ``fwd`` and ``bwd`` (in place); return both.

    A restore that writes part of a value (``y[i] = _tape.pop()``) also reads
    the rest of it, so removing one can make an earlier one dead: repeat until
    nothing changes.  ``shares`` maps a variable to the others that may share its
    memory (``a = y[0:2]``): a restore of ``y[0:2]`` is what ``a`` reads too.
    """
    if shares:
        for stmt in walk_stmts(bwd):
            info = getattr(stmt, "s2s_restore", None)
            if info is not None and shares.get(info[1]):
                stmt.s2s_shares = shares[info[1]]      # (what ``liveness`` reads too)
    while True:
        useful = set()
        restores = []

        def visit(stmt, live_after):
            info = getattr(stmt, "s2s_restore", None)
            if info is None:
                return
            slot, var = info
            restores.append(stmt)
            if var in live_after or not live_after.isdisjoint(getattr(stmt, "s2s_shares", ())):
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
