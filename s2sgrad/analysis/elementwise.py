"""Whether a function provably acts elementwise (each output element computed from the
same element of its one argument): ``elementwise_grad`` then runs forward mode, whose
product with ones equals the reverse one for a diagonal Jacobian."""

import gast

from .activity import callee_of
from ..frontend.normalize import normalize
from ..frontend.source import FunctionSource

__all__ = ["acts_elementwise"]

# Runtime helpers that keep elementwise code elementwise.
_ELEMENTWISE_HELPERS = {"ones_like", "zeros_like", "broadcast_like"}


def acts_elementwise(fn):
    """Whether ``fn(x)`` provably computes each output element from the same element of ``x``."""
    try:
        fsrc = FunctionSource.of(fn)
        norm = normalize(fsrc)
    except Exception:
        return False
    params = [a.id for a in norm.node.args.args]
    if fsrc.self_value is not None or len(params) != 1 or norm.node.args.kwonlyargs:
        return False
    local = set(params)

    def ok(node):
        if isinstance(node, gast.Constant):
            return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, gast.Name):
            if node.id in local:
                return True
            kind, value = fsrc.resolve(node.id)
            return kind is not None and isinstance(value, (int, float)) \
                and not isinstance(value, bool)
        if isinstance(node, gast.BinOp):
            return isinstance(node.op, (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.Pow)) \
                and ok(node.left) and ok(node.right)
        if isinstance(node, gast.UnaryOp):
            return isinstance(node.op, (gast.USub, gast.UAdd)) and ok(node.operand)
        if isinstance(node, gast.Call):
            if node.keywords:
                return False
            callee = callee_of(node, norm.resolver)
            prim = callee.prim
            if callee.kind not in ("primitive", "nondiff") or prim is None:
                return False
            if prim.family == "s2sgrad.runtime":
                fits = prim.name in _ELEMENTWISE_HELPERS
            else:
                fits = prim.elementwise in (1, 2) and len(node.args) == prim.elementwise
            return fits and all(ok(a) for a in node.args)
        return False

    body = norm.node.body
    for k, st in enumerate(body):
        if isinstance(st, gast.Return) and k == len(body) - 1:
            return ok(st.value)
        if not (isinstance(st, gast.Assign) and isinstance(st.targets[0], gast.Name)
                and ok(st.value)):
            return False
        local.add(st.targets[0].id)
    return False
