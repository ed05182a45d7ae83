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

__all__ = ["prune", "mark_shares"]


def _in_order(stmts, loops=frozenset(), out=None):
    """``[(statement, the loops around it)]`` in program order, nested blocks included."""
    out = [] if out is None else out
    for s in stmts:
        out.append((s, loops))
        inner = loops | {id(s)} if isinstance(s, (gast.For, gast.While)) else loops
        for field in ("body", "orelse", "finalbody"):
            block = getattr(s, field, None)
            if isinstance(block, list) and block and isinstance(block[0], gast.stmt):
                _in_order(block, inner if field == "body" else loops, out)
        for handler in getattr(s, "handlers", None) or ():
            _in_order(handler.body, loops, out)
    return out


def mark_shares(fwd, bwd, view_source):
    """Set ``s2s_shares`` on each restore of ``bwd``: the other variables that may share the
    memory of the one it restores when the forward sweep saved it (``a = y[0:2]`` before
    ``y[0:2] = 0.0``: a restore of ``y[0:2]`` is what ``a`` reads too).  From the
    assignments of ``fwd`` that may run before the save (``view_source(value)`` names the
    variable a value may be a view of), both ways and transitively; ``prune`` and
    ``liveness`` read it."""
    order = _in_order(fwd)
    views, saves = [], {}
    for i, (s, loops) in enumerate(order):
        slot = getattr(s, "s2s_push", None)
        if slot is not None:
            saves[id(slot)] = (i, loops)
        if isinstance(s, gast.Assign) and len(s.targets) == 1 \
                and isinstance(s.targets[0], gast.Name):
            source = view_source(s.value)
            if source is not None and source != s.targets[0].id:
                views.append((source, s.targets[0].id, i, loops))
    if not views:
        return
    for stmt in walk_stmts(bwd):
        info = getattr(stmt, "s2s_restore", None)
        if info is None or id(info[0]) not in saves:
            continue
        at, around = saves[id(info[0])]
        edges = {}
        for a, b, i, loops in views:
            if i < at or loops & around:    # (the view may be made before the save)
                edges.setdefault(a, set()).add(b)
                edges.setdefault(b, set()).add(a)
        group, work = {info[1]}, [info[1]]
        while work:
            for n in edges.get(work.pop(), ()):
                if n not in group:
                    group.add(n)
                    work.append(n)
        if len(group) > 1:
            stmt.s2s_shares = frozenset(group - {info[1]})


def prune(fwd, bwd, live_out, view_source=None):
    """Remove dead save/restore pairs from ``fwd`` and ``bwd`` (in place); return both.

    A restore that writes part of a value (``y[i] = _tape.pop()``) also reads
    the rest of it, so removing one can make an earlier one dead: repeat until
    nothing changes.  With ``view_source`` (``mark_shares``), a restore is also useful
    where a variable that may share the restored one's memory is read after it.
    """
    if view_source is not None:
        mark_shares(fwd, bwd, view_source)
    memo = {}       # (liveness: the statements left keep their uses and definitions)
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

        live_in(bwd, live_out, visit, _memo=memo)
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
