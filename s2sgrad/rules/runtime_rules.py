"""Rules for the runtime helpers that generated code calls.

Generated code is itself differentiable (``grad(grad(f))``): every helper it
can contain is a primitive here, with rules written like any other.
"""

from .registry import nondiff, primitive, set_shape_params
from ..runtime import (
    batch_broadcast_like, batch_matmul_vjp_a, batch_matmul_vjp_b, batch_max_vjp,
    batch_reduce_vjp, batch_unbroadcast, broadcast_like, dot_vjp_a, dot_vjp_b, matmul_vjp_a,
    matmul_vjp_b, max_vjp, reduce_vjp, scatter, split_like, to_complex_like, unbroadcast, unstack,
)
from ..runtime import add as tree_add
from ..runtime import extremum_jvp, extremum_vjp, items_adjoint, repeat_like, saved_item
from ..runtime import (
    fill_diagonal, fill_diagonal_vjp_val, item_of, item_vjp, window_view, window_vjp, saved_item_vjp, unit, unit_jvp, unit_vjp, sort_in_place_jvp, sort_in_place_vjp,
    unsort, zeros_like,
)
from ..runtime import shape as shape_of

R = "s2sgrad.runtime"


@primitive("unbroadcast", family=R, linear=True)
class _Unbroadcast:
    def vjp_value(xp, g, ans, value, like):
        return broadcast_like(g, value)

    def jvp_value(xp, t, ans, value, like):
        return unbroadcast(t, like)

    def batch_value(xp, t, ans, value, like):
        return batch_unbroadcast(t, like)


@primitive("broadcast_like", family=R, linear=True, view=True)
class _BroadcastLike:
    def vjp_value(xp, g, ans, value, like):
        return unbroadcast(g, value)

    def jvp_value(xp, t, ans, value, like):
        return broadcast_like(t, like)

    def batch_value(xp, t, ans, value, like):
        return batch_broadcast_like(t, like)


@primitive("reduce_vjp", family=R, linear=True, view=True)
class _ReduceVjp:
    def vjp_value(xp, g, ans, value, x, axis=None, keepdims=False):
        return xp.reshape(xp.sum(g, axis=axis), shape_of(value))

    def jvp_value(xp, t, ans, value, x, axis=None, keepdims=False):
        return reduce_vjp(t, x, axis, keepdims)

    def batch_value(xp, t, ans, value, x, axis=None, keepdims=False):
        return batch_reduce_vjp(t, x, axis, keepdims)


@primitive("max_vjp", family=R, linear=True)
class _MaxVjp:
    def vjp_value(xp, g, ans, value, result, x, axis=None, keepdims=False):
        return xp.reshape(xp.sum(g * max_vjp(1.0, result, x, axis, keepdims), axis=axis),
                          shape_of(value))

    def jvp_value(xp, t, ans, value, result, x, axis=None, keepdims=False):
        return max_vjp(t, result, x, axis, keepdims)

    def batch_value(xp, t, ans, value, result, x, axis=None, keepdims=False):
        return batch_max_vjp(t, result, x, axis, keepdims)


@primitive("scatter", family=R, linear=True)
class _Scatter:
    def vjp_value(xp, g, ans, value, x, index):
        return g[index]

    def jvp_value(xp, t, ans, value, x, index):
        return scatter(t, x, index)


@primitive("add_at", family=R, linear=True)
class _AddAt:
    def vjp_target(xp, g, ans, target, index, value):
        return g

    def vjp_value(xp, g, ans, target, index, value):
        return unbroadcast(g[index], value)

    def jvp_target(xp, t, ans, target, index, value):
        return t

    def jvp_value(xp, t, ans, target, index, value):
        return scatter(t, target, index)


@primitive("add", family=R, linear=True)
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
        return tree_add(None, t)


@primitive("matmul_vjp_a", family=R, linear=True)
class _MatmulVjpA:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.matmul(g, b), value)

    def vjp_b(xp, g, ans, value, a, b):
        return matmul_vjp_b(value, g, b)

    def jvp_value(xp, t, ans, value, a, b):
        return matmul_vjp_a(t, a, b)

    def batch_value(xp, t, ans, value, a, b):
        return batch_matmul_vjp_a(t, value, a, b)

    def jvp_b(xp, t, ans, value, a, b):
        return matmul_vjp_a(value, a, t)


@primitive("matmul_vjp_b", family=R, linear=True)
class _MatmulVjpB:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.matmul(a, g), value)

    def vjp_a(xp, g, ans, value, a, b):
        return matmul_vjp_a(value, a, g)

    def jvp_value(xp, t, ans, value, a, b):
        return matmul_vjp_b(t, a, b)

    def batch_value(xp, t, ans, value, a, b):
        return batch_matmul_vjp_b(t, value, a, b)

    def jvp_a(xp, t, ans, value, a, b):
        return matmul_vjp_b(value, t, b)


@primitive("dot_vjp_a", family=R, linear=True)
class _DotVjpA:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.dot(g, b), value)

    def vjp_b(xp, g, ans, value, a, b):
        return dot_vjp_b(value, g, b)

    def jvp_value(xp, t, ans, value, a, b):
        return dot_vjp_a(t, a, b)

    def jvp_b(xp, t, ans, value, a, b):
        return dot_vjp_a(value, a, t)


@primitive("dot_vjp_b", family=R, linear=True)
class _DotVjpB:
    def vjp_value(xp, g, ans, value, a, b):
        return unbroadcast(xp.dot(a, g), value)

    def vjp_a(xp, g, ans, value, a, b):
        return dot_vjp_a(value, a, g)

    def jvp_value(xp, t, ans, value, a, b):
        return dot_vjp_b(t, a, b)

    def jvp_a(xp, t, ans, value, a, b):
        return dot_vjp_b(value, t, b)


@primitive("unstack", family=R, linear=True)
class _Unstack:
    def vjp_value(xp, g, ans, value, axis=0):
        return xp.stack(g, axis=axis)

    def jvp_value(xp, t, ans, value, axis=0):
        return unstack(t, axis)


@primitive("split_like", family=R, linear=True)
class _SplitLike:
    def vjp_value(xp, g, ans, value, arrays, axis=0):
        if axis is None:
            return xp.reshape(xp.concatenate([xp.reshape(p, (-1,)) for p in g]), shape_of(value))
        return xp.concatenate(g, axis=axis)

    def jvp_value(xp, t, ans, value, arrays, axis=0):
        return split_like(t, arrays, axis)


@primitive("to_complex_like", family=R, linear=True)
class _ToComplexLike:
    def vjp_value(xp, g, ans, value, like):
        return g

    def jvp_value(xp, t, ans, value, like):
        return to_complex_like(t, like)


nondiff("zeros_like", "ones_like", "shape", "ndim", "size", "namespace", "specialize",
        "inverse_permutation", "check_scalar", "keys", "seed", "share_of_max", "sort_order",
        family=R)


@primitive("unit", family=R)
class _Unit:
    def vjp_x(xp, g, ans, x):
        return unit_vjp(g, x)

    def jvp_x(xp, t, ans, x):
        return unit_jvp(t, x)


@primitive("window_view", family=R, linear=True, view=True)
class _WindowView:
    def vjp_value(xp, g, ans, value, window_shape, axis=None):
        return window_vjp(g, value, window_shape, axis)

    def jvp_value(xp, t, ans, value, window_shape, axis=None):
        return window_view(t, window_shape, axis)


@primitive("window_vjp", family=R, linear=True)
class _WindowVjp:
    def vjp_value(xp, g, ans, value, x, window_shape, axis=None):
        return window_view(g, window_shape, axis)

    def jvp_value(xp, t, ans, value, x, window_shape, axis=None):
        return window_vjp(t, x, window_shape, axis)


@primitive("item_of", family=R, linear=True)
class _ItemOf:
    def vjp_value(xp, g, ans, value, index=()):
        return item_vjp(g, value, index)

    def jvp_value(xp, t, ans, value, index=()):
        return item_of(t, index)


@primitive("item_vjp", family=R, linear=True)
class _ItemVjp:
    def vjp_value(xp, g, ans, value, a, index=()):
        return item_of(g, index)

    def jvp_value(xp, t, ans, value, a, index=()):
        return item_vjp(t, a, index)


@primitive("fill_diagonal", family=R, linear=True)
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


@primitive("sort_in_place", family=R, linear=True)
class _SortInPlace:
    # what value.sort(...) leaves in value, for a list or an array
    def vjp_value(xp, g, ans, value, axis=-1, kind=None, order=None, *, key=None,
                  reverse=False):
        return sort_in_place_vjp(g, value, axis, key, reverse)

    def jvp_value(xp, t, ans, value, axis=-1, kind=None, order=None, *, key=None,
                  reverse=False):
        return sort_in_place_jvp(t, value, axis, key, reverse)


@primitive("fill_diagonal_vjp_val", family=R, linear=True)
class _FillDiagonalVjpVal:
    def vjp_value(xp, g, ans, value, val, wrap=False):
        return fill_diagonal(zeros_like(value), g, wrap)

    def jvp_value(xp, t, ans, value, val, wrap=False):
        return fill_diagonal_vjp_val(t, val, wrap)


@primitive("sort_in_place_vjp", family=R, linear=True)
class _SortInPlaceVjp:
    def vjp_cot(xp, g, ans, cot, value, axis=-1, key=None, reverse=False):
        return sort_in_place_jvp(g, value, axis, key, reverse)

    def jvp_cot(xp, t, ans, cot, value, axis=-1, key=None, reverse=False):
        return sort_in_place_vjp(t, value, axis, key, reverse)


@primitive("sort_in_place_jvp", family=R, linear=True)
class _SortInPlaceJvp:
    def vjp_tan(xp, g, ans, tan, value, axis=-1, key=None, reverse=False):
        return sort_in_place_vjp(g, value, axis, key, reverse)

    def jvp_tan(xp, t, ans, tan, value, axis=-1, key=None, reverse=False):
        return sort_in_place_jvp(t, value, axis, key, reverse)


@primitive("unsort", family=R, linear=True)
class _Unsort:
    # the adjoint of sorted: each cotangent back at its item's place
    def vjp_value(xp, g, ans, value, order, items):
        return [g[i] for i in order]

    def jvp_value(xp, t, ans, value, order, items):
        return unsort(t, order, items)


@primitive("saved_item", family=R, linear=True)
class _SavedItem:
    # what a backward sweep keeps of a dict item it overwrites (restore_item puts it back)
    def vjp_container(xp, g, ans, container, key):
        return saved_item_vjp(g, container, key)

    def jvp_container(xp, t, ans, container, key):
        return saved_item(t, key)

    def batch_container(xp, t, ans, container, key):
        return saved_item(t, key)


@primitive("extremum_vjp", family=R, linear=True)
class _ExtremumVjp:
    def vjp_value(xp, g, ans, value, result, values):
        return extremum_jvp(g, result, values)

    def jvp_value(xp, t, ans, value, result, values):
        return extremum_vjp(t, result, values)


@primitive("extremum_jvp", family=R, linear=True)
class _ExtremumJvp:
    def vjp_value(xp, g, ans, value, result, values):
        return extremum_vjp(g, result, values)

    def jvp_value(xp, t, ans, value, result, values):
        return extremum_jvp(t, result, values)


@primitive("repeat_like", family=R, linear=True)
class _RepeatLike:
    def vjp_value(xp, g, ans, value, values):
        return sum(g)

    def jvp_value(xp, t, ans, value, values):
        return repeat_like(t, values)


@primitive("saved_item_vjp", family=R, linear=True)
class _SavedItemVjp:
    def vjp_v(xp, g, ans, v, container, key):
        return saved_item(g, key)

    def jvp_v(xp, t, ans, v, container, key):
        return saved_item_vjp(t, container, key)


@primitive("items_adjoint", family=R, linear=True)
class _ItemsAdjoint:
    def vjp_value(xp, g, ans, value, iterable):
        return list(g)

    def jvp_value(xp, t, ans, value, iterable):
        return items_adjoint(t, iterable)


# Arguments that generated code passes for their shape only (or, for the
# extremum helpers, for where the extremum is): derivatives of generated code
# treat them as constants.
set_shape_params(R, {
    "unbroadcast": ("like",), "broadcast_like": ("like",), "reduce_vjp": ("x",),
    "max_vjp": ("result", "x"), "scatter": ("x",), "array_vjp": ("obj",),
    "to_complex_like": ("like",), "repeat_like": ("values",), "split_like": ("arrays",),
    "matmul_vjp_a": ("a",), "matmul_vjp_b": ("b",), "dot_vjp_a": ("a",), "dot_vjp_b": ("b",),
    "extremum_vjp": ("result", "values"), "extremum_jvp": ("result", "values"),
    "diagonal_vjp": ("a",), "repeat_vjp": ("a",), "pad_vjp": ("array",), "pad_jvp": ("array",),
    "pad_values_vjp": ("array", "values"),
    "split_as": ("arrays",), "join_as": ("arrays",), "fft_unpad": ("like",),
    "unsort": ("order", "items"), "items_adjoint": ("iterable",),
    "fill_diagonal_vjp_val": ("val",), "item_vjp": ("a",), "item_of": ("index",),
    "window_vjp": ("x",), "sort_in_place_vjp": ("value",),
    "sort_in_place_jvp": ("value",), "saved_item_vjp": ("container",),
})
