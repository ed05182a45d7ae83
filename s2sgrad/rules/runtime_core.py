"""Rules for the core runtime helpers (``s2sgrad.runtime.core``).

Generated code is itself differentiable (``grad(grad(f))``): every helper it
can contain is a primitive here, with rules written like any other.  Most are
linear maps, declared by their transpose (``transpose``; ``transpose_pair`` for
two helpers each the other's transpose): the registry writes their rules.
"""

from .registry import nondiff, primitive, set_shape_params, transpose, transpose_pair
from ..runtime import (
    batch_matmul_vjp_a, batch_matmul_vjp_b, dot_vjp_a, dot_vjp_b, fill_diagonal,
    fill_diagonal_vjp_val, matmul_vjp_a, matmul_vjp_b, saved_item, saved_item_vjp, scatter,
    sort_in_place_jvp, sort_in_place_vjp, through_cast, through_write, tolist_of, tolist_vjp, unbroadcast, unit_jvp,
    unit_vjp, zeros_like,
)
from ..runtime import copy as copy_of
from ..runtime import shape as shape_of

R = "s2sgrad.runtime"

transpose("unbroadcast(value, like)", "broadcast_like(g, value)",
          batch="batch_unbroadcast(t, like)")
transpose("broadcast_like(value, like)", "unbroadcast(g, value)", view=True,
          batch="batch_broadcast_like(t, like)")
transpose("reduce_vjp(value, x, axis=None, keepdims=False)",
          "xp.reshape(xp.sum(g, axis=axis), shape_of(value))", view=True,
          batch="batch_reduce_vjp(t, x, axis, keepdims)")
transpose("max_vjp(value, result, x, axis=None, keepdims=False)",
          "xp.reshape(xp.sum(g * max_vjp(1.0, result, x, axis, keepdims), axis=axis), shape_of(value))",
          batch="batch_max_vjp(t, result, x, axis, keepdims)")
transpose("scatter(value, x, index)", "g[index]")
# A fancy write's cotangent goes to the element NumPy kept (the last write): linear in what is
# written, and each helper the other's transpose
transpose("written_cotangent(d, index)", "written_scatter(g, d, index)")
transpose("written_scatter(cot, d, index)", "written_cotangent(g, index)")


@primitive("through_cast", family=R, linear=True)
class _ThroughCast:
    """A derivative through a cast: itself, or zero for an integer or bool dtype."""

    def vjp_d(xp, g, ans, d, dtype):
        return through_cast(g, dtype)

    def jvp_d(xp, t, ans, d, dtype):
        return through_cast(t, dtype)


# The derivative of a value written into an array: itself, or zero where the array has an
# integer or bool dtype (the write truncates); its own transpose, a batch zero or itself
transpose("through_write(d, into)", "through_write(g, into)", batch="through_write(t, into)")


@primitive("in_place", family=R, linear=True)
class _InPlace:
    """``y op= v``'s value, checked as NumPy checks the write into ``y``: itself."""

    def vjp_new(xp, g, ans, old, new, op):
        return g

    def jvp_new(xp, t, ans, old, new, op):
        return t        # (not checked again: a float tangent of an integer value is no error)

    def batch_new(xp, t, ans, old, new, op):
        return t


@primitive("copied_into", family=R, linear=True)
class _CopiedInto:
    """``np.copyto(y, v)``'s value, checked as NumPy checks its cast: itself."""

    def vjp_value(xp, g, ans, into, value):
        return g

    def jvp_value(xp, t, ans, into, value):
        return t

    def batch_value(xp, t, ans, into, value):
        return t


@primitive("tolist_of", family=R, linear=True)
class _TolistOf:
    """``a.tolist()``: its adjoint makes the array again."""

    def vjp_a(xp, g, ans, a):
        return tolist_vjp(g, a)

    def jvp_a(xp, t, ans, a):
        return tolist_of(t)


@primitive("tolist_vjp", family=R, linear=True)
class _TolistVjp:
    """Nested lists back to an array shaped like ``a``: its adjoint is ``tolist``."""

    def vjp_v(xp, g, ans, v, a):
        return tolist_of(g)

    def jvp_v(xp, t, ans, v, a):
        return tolist_vjp(t, a)


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("add_at", family=R)
class _AddAt:
    def vjp_target(xp, g, ans, target, index, value):
        return g

    def vjp_value(xp, g, ans, target, index, value):
        return unbroadcast(g[index], value)

    def jvp_target(xp, t, ans, target, index, value):
        return t

    def jvp_value(xp, t, ans, target, index, value):
        return scatter(t, target, index)


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("add", family=R)
class _TreeAdd:
    def vjp_a(xp, g, ans, a, b):
        return g

    def vjp_b(xp, g, ans, a, b):
        return g

    def jvp_a(xp, t, ans, a, b):
        return t

    def jvp_b(xp, t, ans, a, b):
        return t


@primitive("copy", family=R, linear=True)
class _Copy:
    def vjp_value(xp, g, ans, value):
        return g

    def jvp_value(xp, t, ans, value):
        return copy_of(t)     # a copy too: the copy is written into in place (d_b[0] += ...)


@primitive("matmul_vjp_a", family=R, linear=True)
class _MatmulVjpA:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.matmul(g, b), value)

    def vjp_b(xp, g, ans, value, a, b):
        return matmul_vjp_b(value, g, b)

    def batch_value(xp, t, ans, value, a, b):
        return batch_matmul_vjp_a(t, value, a, b)


@primitive("matmul_vjp_b", family=R, linear=True)
class _MatmulVjpB:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.matmul(a, g), value)

    def vjp_a(xp, g, ans, value, a, b):
        return matmul_vjp_a(value, a, g)

    def batch_value(xp, t, ans, value, a, b):
        return batch_matmul_vjp_b(t, value, a, b)


@primitive("dot_vjp_a", family=R, linear=True)
class _DotVjpA:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.dot(g, b), value)

    def vjp_b(xp, g, ans, value, a, b):
        return dot_vjp_b(value, g, b)


@primitive("dot_vjp_b", family=R, linear=True)
class _DotVjpB:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.dot(a, g), value)

    def vjp_a(xp, g, ans, value, a, b):
        return dot_vjp_a(value, a, g)


@primitive("split_like", family=R, linear=True)
class _SplitLike:
    def vjp_value(xp, g, ans, value, arrays, axis=0):
        if axis is None:
            return xp.reshape(xp.concatenate([xp.reshape(p, (-1,)) for p in g]), shape_of(value))
        return xp.concatenate(g, axis=axis)


nondiff("zeros_like", "ones_like", "shape", "ndim", "size", "namespace", "specialize",
        "inverse_permutation", "check_scalar", "check_output", "keys", "popitem_key", "seed", "share_of_max", "sort_order",
        "fits", "recursion_depth", "recursion_levels", family=R)


@primitive("unit", family=R)
class _Unit:
    def vjp_x(xp, g, ans, x):
        return unit_vjp(g, x)

    def jvp_x(xp, t, ans, x):
        return unit_jvp(t, x)


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("fill_diagonal", family=R)
class _FillDiagonal:
    # what np.fill_diagonal(a, val) leaves in a (normalize makes the call this assignment)
    def vjp_a(xp, g, ans, a, val, wrap=False):
        return fill_diagonal(g, 0.0, wrap)

    def vjp_val(xp, g, ans, a, val, wrap=False):
        return fill_diagonal_vjp_val(g, val, wrap)

    def jvp_a(xp, t, ans, a, val, wrap=False):
        return fill_diagonal(t, 0.0, wrap)

    def jvp_val(xp, t, ans, a, val, wrap=False):
        return fill_diagonal(zeros_like(ans), t, wrap)


# piecewise linear (the order comes from the values), not linear: no linear=True
@primitive("sort_in_place", family=R)
class _SortInPlace:
    # what value.sort(...) leaves in value, for a list or an array
    def vjp_value(xp, g, ans, value, axis=-1, kind=None, order=None, *, key=None,
                  reverse=False):
        return sort_in_place_vjp(g, value, axis, key, reverse)

    def jvp_value(xp, t, ans, value, axis=-1, kind=None, order=None, *, key=None,
                  reverse=False):
        return sort_in_place_jvp(t, value, axis, key, reverse)


@primitive("saved_item", family=R, linear=True)
class _SavedItem:
    # what a backward sweep keeps of a dict item it overwrites (restore_item puts it back)
    def vjp_container(xp, g, ans, container, key):
        return saved_item_vjp(g, container, key)

    def batch_container(xp, t, ans, container, key):
        return saved_item(t, key)


transpose("unstack(value, axis=0)", "xp.stack(g, axis=axis)")
transpose("to_complex_like(value, like)", "g")
transpose("array_vjp(value, obj)", "xp.asarray(g)")   # nested lists of obj: the adjoint is asarray
transpose("window_view(value, window_shape, axis=None)", "window_vjp(g, value, window_shape, axis)",
          view=True)
transpose("window_vjp(value, x, window_shape, axis=None)", "window_view(g, window_shape, axis)")
transpose("item_of(value, index=())", "item_vjp(g, value, index)")
transpose("item_vjp(value, a, index=())", "item_of(g, index)")
transpose("fill_diagonal_vjp_val(value, val, wrap=False)", "fill_diagonal(zeros_like(value), g, wrap)")
transpose_pair("sort_in_place_vjp(cot, value, axis=-1, key=None, reverse=False)",
               "sort_in_place_jvp(tan, value, axis=-1, key=None, reverse=False)")
transpose("unsort(value, order, items)", "[g[i] for i in order]")   # each back at its item's place
transpose_pair("extremum_vjp(value, result, values)", "extremum_jvp(value, result, values)")
transpose("repeat_like(value, values)", "sum(g)")
transpose("items_adjoint(value, iterable)", "list(g)")


# Arguments that generated code passes for their shape only (or, for the
# extremum helpers, for where the extremum is): derivatives of generated code
# treat them as constants.
@primitive("saved_item_vjp", family=R, linear=True)
class _SavedItemVjp:
    def vjp_v(xp, g, ans, v, container, key):
        return saved_item(g, key)

    def jvp_v(xp, t, ans, v, container, key):
        return saved_item_vjp(t, container, key)


set_shape_params(R, {
    "saved_item_vjp": ("container",),
    "unbroadcast": ("like",), "broadcast_like": ("like",), "reduce_vjp": ("x",),
    "max_vjp": ("result", "x"), "scatter": ("x",), "written_scatter": ("d", "index"),
    "written_cotangent": ("index",), "array_vjp": ("obj",), "tolist_vjp": ("a",),
    "to_complex_like": ("like",), "repeat_like": ("values",), "split_like": ("arrays",),
    "matmul_vjp_a": ("a",), "matmul_vjp_b": ("b",), "dot_vjp_a": ("a",), "dot_vjp_b": ("b",),
    "extremum_vjp": ("result", "values"), "extremum_jvp": ("result", "values"),
    "unsort": ("order", "items"), "items_adjoint": ("iterable",),
    "fill_diagonal_vjp_val": ("val",), "item_vjp": ("a",), "item_of": ("index",),
    "window_vjp": ("x",), "sort_in_place_vjp": ("value",),
    "sort_in_place_jvp": ("value",), "through_write": ("into",), "in_place": ("old",),
    "copied_into": ("into",),
})
