"""Which values of a function are certainly real (never complex), known at transform time.

A parameter may be complex (the code is generated before any argument is seen),
so only what the function computes can be known real: constants, the results
of functions whose output is always real (``abs``, ``np.real``, ``np.angle``,
comparisons, ``math``), and what real values make with the operators and
functions that keep values real (the elementwise functions, reductions,
reshaping).  A rule with a simpler form for real arguments (``abs``: the sign
instead of ``conj(x / |x|)``) is used only where this says so; anything it
does not know is "maybe complex".
"""

import gast

from .activity import callee_of, walk_stmts
from ..syntax import walk as _walk

__all__ = ["RealValues"]

# Outputs real whatever the arguments (complex ones included).
_ALWAYS_REAL = {"abs", "absolute", "real", "imag", "angle", "linalg.norm", "fabs", "len", "float",
                "int", "round", "floor", "ceil", "trunc", "argmax", "argmin", "argsort",
                "count_nonzero", "shape", "size", "ndim", "isnan", "isfinite", "isinf",
                "linalg.matrix_rank", "linalg.eigvalsh", "std", "var", "nanstd", "nanvar",
                "hypot", "arctan2", "atan2", "signbit", "heaviside"}
# Real when every argument is real.
_KEEP_REAL = {"sum", "mean", "prod", "max", "min", "amax", "amin", "cumsum", "cumprod", "dot",
              "matmul", "inner", "outer", "tensordot", "einsum", "vdot", "reshape", "transpose",
              "ravel", "squeeze", "expand_dims", "concatenate", "concat", "stack", "hstack",
              "vstack", "column_stack", "where", "clip", "broadcast_to", "asarray", "array",
              "sort", "median", "take", "repeat", "tile", "flip", "roll", "trace", "diag",
              "diagonal", "sign", "copy", "swapaxes", "moveaxis", "atleast_1d", "atleast_2d",
              "tril", "triu", "kron", "cross", "diff", "average", "nansum", "nanmean", "nanmax",
              "nanmin", "linalg.det", "linalg.inv", "linalg.solve", "linalg.cholesky",
              "linalg.pinv", "linalg.multi_dot", "matrix_transpose", "permute_dims", "pad",
              "interp", "polyval", "trapezoid", "quantile", "percentile", "copysign", "ldexp",
              "fmod", "mod", "remainder", "floor_divide", "rint", "fix", "around", "T", "item",
              "getitem", "zeros_like", "ones_like", "full_like", "full", "zeros", "ones",
              "arange", "linspace", "eye", "identity"}
_REAL_FAMILIES = {"math"}          # math's functions take and return floats
_ARITHMETIC = (gast.Add, gast.Sub, gast.Mult, gast.Div, gast.FloorDiv, gast.Mod, gast.MatMult)


class RealValues:
    """The local variables of a normalized function body that are always real."""

    def __init__(self, body, resolver, params=()):
        self.resolver = resolver
        defs = {}
        unknown = set(params)
        for s in walk_stmts(body):
            if isinstance(s, gast.Assign):
                t = s.targets[0]
                if isinstance(t, gast.Name) and isinstance(s.value, (gast.List, gast.Tuple,
                                                                     gast.Dict, gast.Set)):
                    unknown.add(t.id)    # a container: what is put in it later is not seen
                elif isinstance(t, gast.Name):
                    defs.setdefault(t.id, []).append(s.value)
                elif isinstance(t, gast.Subscript) and isinstance(t.value, gast.Name):
                    defs.setdefault(t.value.id, []).append(s.value)  # an in-place write
                else:
                    for n in _walk(t):
                        if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store):
                            unknown.add(n.id)
            elif isinstance(s, gast.For):
                if _is_range(s.iter) and isinstance(s.target, gast.Name):
                    continue       # an integer
                for n in _walk(s.target):
                    if isinstance(n, gast.Name):
                        unknown.add(n.id)
            else:
                for n in _walk(s):
                    if isinstance(n, gast.Name) and isinstance(n.ctx, gast.Store) \
                            and not isinstance(s, (gast.If, gast.While)):
                        unknown.add(n.id)
        for s in walk_stmts(body):
            for n in _walk(s):
                if isinstance(n, gast.Call) and isinstance(n.func, gast.Attribute) \
                        and isinstance(n.func.value, gast.Name):
                    try:
                        kind = callee_of(n, resolver).kind
                    except Exception:
                        kind = None
                    if kind not in ("primitive", "method", "nondiff"):
                        unknown.add(n.func.value.id)   # l.append(z): l may hold anything
        # Greatest fixed point: assume real, drop what a definition may make complex.
        self.names = set(defs) - unknown
        changed = True
        while changed:
            changed = False
            for v in sorted(self.names):
                if not all(self.real(e) for e in defs[v]):
                    self.names.discard(v)
                    changed = True

    def real(self, node):
        """True when ``node`` is certainly real."""
        if isinstance(node, gast.Constant):
            return not isinstance(node.value, complex)
        if isinstance(node, gast.Name):
            return node.id in self.names
        if isinstance(node, (gast.Compare, gast.BoolOp)):
            return True
        if isinstance(node, gast.UnaryOp):
            return self.real(node.operand)
        if isinstance(node, gast.BinOp):
            if isinstance(node.op, gast.Pow):
                # (-8.0) ** 0.5 is complex in Python: only whole constant powers
                return self.real(node.left) and isinstance(node.right, gast.Constant) \
                    and isinstance(node.right.value, int) and not isinstance(node.right.value, bool)
            return isinstance(node.op, _ARITHMETIC) and self.real(node.left) \
                and self.real(node.right)
        if isinstance(node, gast.IfExp):
            return self.real(node.body) and self.real(node.orelse)
        if isinstance(node, (gast.Tuple, gast.List)):
            return all(self.real(e) for e in node.elts)
        if isinstance(node, gast.Subscript):
            return self.real(node.value)
        if isinstance(node, gast.Attribute):
            if node.attr in ("shape", "size", "ndim"):
                return True
            return node.attr == "T" and self.real(node.value)
        if isinstance(node, gast.Call):
            return self._real_call(node)
        return False

    def _real_call(self, node):
        try:
            callee = callee_of(node, self.resolver)
        except Exception:
            return False
        prim = getattr(callee, "prim", None)
        if prim is None or callee.kind not in ("primitive", "method", "nondiff"):
            return False
        name = prim.name
        if name in _ALWAYS_REAL or prim.family in _REAL_FAMILIES:
            return True
        if name not in _KEEP_REAL and not (getattr(prim, "elementwise", 0)
                                           and prim.family in ("array", "op")):
            return False
        if any(kw.arg == "dtype" for kw in node.keywords):
            return False      # (a dtype given by position is a name: not known real)
        parts = list(node.args) + [kw.value for kw in node.keywords]
        if callee.kind == "method":
            parts.append(callee.receiver)
        return all(self.real(p) for p in parts)


def _is_range(node):
    return isinstance(node, gast.Call) and isinstance(node.func, gast.Name) \
        and node.func.id == "range"
