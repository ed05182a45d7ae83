"""Liveness over structured code (assignments, if, for, while, break).

Two passes use it: the reverse transform asks which variables a loop body
reads before it writes them (the ones carried from one iteration to the next),
and tape pruning asks whether a value restored in the backward sweep is ever
read before it is overwritten; if not, the restore and its push both go.
"""

import gast

from ..syntax import walk

__all__ = ["uses_defs", "live_in", "upward_exposed", "definitely_assigned", "maybe_assigned",
           "annotate_live_after"]


def _names(node, ctx):
    return {n.id for n in walk(node) if isinstance(n, gast.Name) and isinstance(n.ctx, ctx)}


def uses_defs(s):
    """``(uses, defs, kills)`` of a simple statement: kills are whole redefinitions."""
    if isinstance(s, gast.Assign):
        uses = _names(s.value, gast.Load)
        defs, kills = set(), set()
        for t in s.targets:
            if isinstance(t, gast.Name):
                defs.add(t.id)
                kills.add(t.id)
            else:
                uses |= _names(t, gast.Load)
                base = t
                while isinstance(base, (gast.Subscript, gast.Attribute)):
                    base = base.value
                if isinstance(base, gast.Name):
                    uses.add(base.id)   # a partial write keeps the rest of the value
                    defs.add(base.id)
        return uses, defs, kills
    if isinstance(s, gast.AugAssign):
        uses = _names(s.value, gast.Load) | _names(s.target, gast.Load)
        base = s.target
        while isinstance(base, (gast.Subscript, gast.Attribute)):
            base = base.value
        if isinstance(base, gast.Name):
            uses.add(base.id)
            return uses, {base.id}, set()
        return uses, set(), set()
    if isinstance(s, gast.Expr):
        uses = _names(s.value, gast.Load)
        defs = set()
        # A method call that mutates its receiver (l.append, l.pop) also defines it.
        v = s.value
        if isinstance(v, gast.Call) and isinstance(v.func, gast.Attribute) \
                and isinstance(v.func.value, gast.Name):
            defs.add(v.func.value.id)
        return uses, defs, set()
    if isinstance(s, (gast.Return, gast.Assert, gast.Raise)):
        return {n.id for n in walk(s) if isinstance(n, gast.Name)}, set(), set()
    return set(), set(), set()


def live_in(stmts, live_out, on_stmt=None, _break_to=None, _memo=None):
    """Variables live at the start of ``stmts`` given those live at its end.

    ``on_stmt(stmt, live_after)`` is called for each simple statement (more
    than once inside loops; the last call has the fixpoint).
    """
    if _memo is None:
        # id(statement) -> (statement, uses_defs(statement)): a caller that runs the
        # analysis again on the same statements may pass the same dict
        _memo = {}
    live = set(live_out)
    for s in reversed(stmts):
        live = _transfer(s, live, on_stmt, _break_to, _memo)
    return live


def _header(s, memo):
    """The names an ``if``/``while`` test reads, or a ``for`` loop's target binds and its
    iterable reads (found once per analysis, as ``uses_defs``)."""
    found = memo.get(id(s))
    if found is None or found[0] is not s:
        if isinstance(s, gast.For):
            names = (_names(s.target, gast.Store), _names(s.iter, gast.Load))
        else:
            names = _names(s.test, gast.Load)
        found = memo[id(s)] = (s, names)
    return found[1]


def _transfer(s, live_after, on_stmt, break_to, memo):
    if isinstance(s, gast.If):
        test = _header(s, memo)
        return test | live_in(s.body, live_after, on_stmt, break_to, memo) \
            | live_in(s.orelse, live_after, on_stmt, break_to, memo)
    if isinstance(s, gast.For):
        target, iterable = _header(s, memo)
        header = set(live_after)
        while True:
            body_in = live_in(s.body, header, on_stmt, live_after, memo)
            new = set(live_after) | (body_in - target)
            if new == header:
                break
            header = new
        return header | iterable
    if isinstance(s, gast.While):
        test = _header(s, memo)
        header = set(live_after) | test
        while True:
            body_in = live_in(s.body, header, on_stmt, live_after, memo)
            new = set(live_after) | test | body_in
            if new == header:
                break
            header = new
        return header
    if isinstance(s, gast.Break):
        return set(break_to or ())
    if isinstance(s, gast.Continue):
        return set(live_after)
    if on_stmt is not None:
        on_stmt(s, live_after)
    # (the statements of a loop are met again in each round of its fixed point; their
    # uses and definitions do not change while this runs)
    found = memo.get(id(s))
    if found is None or found[0] is not s:
        found = memo[id(s)] = (s, uses_defs(s))
    uses, defs, kills = found[1]
    restore = getattr(s, "s2s_restore", None)
    if restore is not None and restore[1] not in live_after \
            and live_after.isdisjoint(getattr(s, "s2s_shares", ())):
        # A restore whose variable is dead does nothing (pruning removes it): it
        # must not keep its variable, or another restore of it, alive.  (Unless a
        # view of it is live, ``s2s_shares``: ``analysis.tape.prune``.)
        return live_after | (uses - {restore[1]})
    return (live_after - kills) | uses


def annotate_live_after(stmts, live_out, _memo=None):
    """Set ``s2s_live_after`` on every loop: the variables live when it ends."""
    if _memo is None:
        _memo = {}      # (as in ``live_in``)
    live = set(live_out)
    for s in reversed(stmts):
        if isinstance(s, (gast.For, gast.While)):
            s.s2s_live_after = set(live)
            annotate_live_after(s.body, live_in([s], live, _memo=_memo), _memo)
        elif isinstance(s, gast.If):
            annotate_live_after(s.body, live, _memo)
            annotate_live_after(s.orelse, live, _memo)
        live = _transfer(s, live, None, None, _memo)
    return live


def upward_exposed(stmts):
    """Names ``stmts`` may read before assigning them (values flowing in from before)."""
    return live_in(stmts, set())


def definitely_assigned(stmts, before=frozenset()):
    """Names assigned on every path through ``stmts`` (a loop may run zero times)."""
    out = set(before)
    for s in stmts:
        if isinstance(s, gast.If):
            out |= definitely_assigned(s.body, out) & definitely_assigned(s.orelse, out)
        elif isinstance(s, (gast.For, gast.While)):
            continue
        elif isinstance(s, (gast.Break, gast.Continue, gast.Return, gast.Raise)):
            break
        else:
            _, _, kills = uses_defs(s)
            out |= kills
    return out


def maybe_assigned(stmts):
    """Names assigned on some path through ``stmts``, loop variables included."""
    out = set()
    for s in stmts:
        for n in walk(s):
            if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                out.add(n.id)
    return out
