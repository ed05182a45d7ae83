"""Rules for the runtime helpers of batched tangent code (``jacobian``, ``hessian``).

A Jacobian or Hessian is generated code too (a sweep whose tangents carry a
leading axis of directions), so its helpers are primitives with rules of
their own: that code can be differentiated again (``jacobian(jacobian(f))``).
Every helper is linear in its batch of tangents, called ``value`` here; the
forward rule applies the helper to the tangent of that batch.
"""

from .registry import nondiff, primitive, set_shape_params
from ..runtime import (
    batch_align, batch_axes, batch_broadcast_like, batch_broadcast_to, batch_joined,
    batch_joined_vjp, batch_matmul_left, batch_matmul_right, batch_matmul_vjp_a,
    batch_matmul_vjp_b, batch_max_vjp, batch_reduce_vjp, batch_reshaped, batch_unbroadcast,
    batch_unbroadcast_to, columns_to_jacobian, directions, directions_vjp, matmul_vjp_a,
    matmul_vjp_b, max_vjp, rows_to_jacobian, size, stack_directions, stack_directions_vjp,
    unbroadcast,
)
from ..runtime import shape as shape_of

R = "s2sgrad.runtime"


@primitive("batch_align", family=R, linear=True, view=True)
class _BatchAlign:
    def vjp_value(xp, g, ans, value, like):
        return xp.reshape(g, shape_of(value))

    def jvp_value(xp, t, ans, value, like):
        return batch_align(t, like)


@primitive("batch_broadcast_like", family=R, linear=True, view=True)
class _BatchBroadcastLike:
    def vjp_value(xp, g, ans, value, like):
        return batch_unbroadcast_to(g, value)

    def jvp_value(xp, t, ans, value, like):
        return batch_broadcast_like(t, like)


@primitive("batch_broadcast_to", family=R, linear=True, view=True)
class _BatchBroadcastTo:
    def vjp_value(xp, g, ans, value, target):
        return batch_unbroadcast_to(g, value)

    def jvp_value(xp, t, ans, value, target):
        return batch_broadcast_to(t, target)


@primitive("batch_unbroadcast", family=R, linear=True)
class _BatchUnbroadcast:
    def vjp_value(xp, g, ans, value, like):
        return xp.reshape(batch_broadcast_to(g, shape_of(batch_align(value, like))[1:]),
                          shape_of(value))

    def jvp_value(xp, t, ans, value, like):
        return batch_unbroadcast(t, like)


@primitive("batch_reduce_vjp", family=R, linear=True, view=True)
class _BatchReduceVjp:
    def vjp_value(xp, g, ans, value, x, axis=None, keepdims=False):
        return xp.reshape(xp.sum(g, axis=batch_axes(axis, g), keepdims=keepdims),
                          shape_of(value))

    def jvp_value(xp, t, ans, value, x, axis=None, keepdims=False):
        return batch_reduce_vjp(t, x, axis, keepdims)


@primitive("batch_max_vjp", family=R, linear=True)
class _BatchMaxVjp:
    def vjp_value(xp, g, ans, value, result, x, axis=None, keepdims=False):
        share = max_vjp(1.0, result, x, axis, keepdims)
        return xp.reshape(xp.sum(g * share, axis=batch_axes(axis, g), keepdims=keepdims),
                          shape_of(value))

    def jvp_value(xp, t, ans, value, result, x, axis=None, keepdims=False):
        return batch_max_vjp(t, result, x, axis, keepdims)


@primitive("batch_reshaped", family=R, linear=True, view=True)
class _BatchReshaped:
    def vjp_value(xp, g, ans, value, like, result):
        return xp.reshape(g, shape_of(value))

    def jvp_value(xp, t, ans, value, like, result):
        return batch_reshaped(t, like, result)


@primitive("batch_joined", family=R, linear=True)
class _BatchJoined:
    def vjp_value(xp, g, ans, value, arrays, axis, join):
        return batch_joined_vjp(g, arrays, axis, join)

    def jvp_value(xp, t, ans, value, arrays, axis, join):
        return batch_joined(t, arrays, axis, join)


@primitive("batch_matmul_left", family=R, linear=True)
class _BatchMatmulLeft:
    # ans[i] = value[i] @ b
    def vjp_value(xp, g, ans, value, b):
        return stack_directions([matmul_vjp_a(g_i, v_i, b) for g_i, v_i in zip(g, value)])

    def vjp_b(xp, g, ans, value, b):
        return sum(matmul_vjp_b(g_i, v_i, b) for g_i, v_i in zip(g, value))

    def jvp_value(xp, t, ans, value, b):
        return batch_matmul_left(t, b)

    def jvp_b(xp, t, ans, value, b):
        return batch_matmul_left(value, t)


@primitive("batch_matmul_right", family=R, linear=True)
class _BatchMatmulRight:
    # ans[i] = a @ value[i]
    def vjp_a(xp, g, ans, a, value):
        return sum(matmul_vjp_a(g_i, a, v_i)
                   for g_i, v_i in zip(g, value))

    def vjp_value(xp, g, ans, a, value):
        return stack_directions([matmul_vjp_b(g_i, a, v_i) for g_i, v_i in
                                 zip(g, value)])

    def jvp_a(xp, t, ans, a, value):
        return batch_matmul_right(t, value)

    def jvp_value(xp, t, ans, a, value):
        return batch_matmul_right(a, t)


@primitive("batch_matmul_vjp_a", family=R, linear=True)
class _BatchMatmulVjpA:
    # ans[i] = matmul_vjp_a(value[i], a, b), value[i] shaped like ``like``
    def vjp_value(xp, g, ans, value, like, a, b):
        return stack_directions([unbroadcast(xp.matmul(g_i, b), like)
                                 for g_i in g])

    def vjp_b(xp, g, ans, value, like, a, b):
        return sum(matmul_vjp_b(v_i, g_i, b)
                   for v_i, g_i in zip(directions(value, like), g))

    def jvp_value(xp, t, ans, value, like, a, b):
        return batch_matmul_vjp_a(t, like, a, b)

    def jvp_b(xp, t, ans, value, like, a, b):
        return batch_matmul_vjp_a(value, like, a, t)


@primitive("batch_matmul_vjp_b", family=R, linear=True)
class _BatchMatmulVjpB:
    # ans[i] = matmul_vjp_b(value[i], a, b), value[i] shaped like ``like``
    def vjp_value(xp, g, ans, value, like, a, b):
        return stack_directions([unbroadcast(xp.matmul(a, g_i), like)
                                 for g_i in g])

    def vjp_a(xp, g, ans, value, like, a, b):
        return sum(matmul_vjp_a(v_i, a, g_i)
                   for v_i, g_i in zip(directions(value, like), g))

    def jvp_value(xp, t, ans, value, like, a, b):
        return batch_matmul_vjp_b(t, like, a, b)

    def jvp_a(xp, t, ans, value, like, a, b):
        return batch_matmul_vjp_b(value, like, t, b)


@primitive("directions", family=R, linear=True, view=True)
class _Directions:
    def vjp_value(xp, g, ans, value, like):
        return directions_vjp(g, value)

    def jvp_value(xp, t, ans, value, like):
        return directions(t, like)


@primitive("stack_directions", family=R, linear=True)
class _StackDirections:
    def vjp_items(xp, g, ans, items):
        return stack_directions_vjp(g, items)

    def jvp_items(xp, t, ans, items):
        return stack_directions(t)


@primitive("columns_to_jacobian", family=R, linear=True)
class _ColumnsToJacobian:
    def vjp_value(xp, g, ans, value, out, x):
        cols = xp.reshape(g, shape_of(out) + (size(x),))
        return batch_unbroadcast_to(xp.moveaxis(cols, -1, 0), value)

    def jvp_value(xp, t, ans, value, out, x):
        return columns_to_jacobian(t, out, x)


@primitive("rows_to_jacobian", family=R, linear=True)
class _RowsToJacobian:
    def vjp_value(xp, g, ans, value, out, x):
        return batch_unbroadcast_to(xp.reshape(g, (size(out),) + shape_of(x)), value)

    def jvp_value(xp, t, ans, value, out, x):
        return rows_to_jacobian(t, out, x)


# The adjoints of the helpers above are linear too: their own rules (second derivatives of code
# that calls the helpers).

@primitive("batch_unbroadcast_to", family=R, linear=True)
class _BatchUnbroadcastTo:
    def vjp_v(xp, g, ans, v, value):
        return batch_broadcast_to(g, shape_of(v)[1:])

    def jvp_v(xp, t, ans, v, value):
        return batch_unbroadcast_to(t, value)


@primitive("stack_directions_vjp", family=R, linear=True)
class _StackDirectionsVjp:
    def vjp_v(xp, g, ans, v, items):
        return stack_directions(g)

    def jvp_v(xp, t, ans, v, items):
        return stack_directions_vjp(t, items)


nondiff("batch_axes", "batch_index", "batch_zeros_like", "batch_permutation",
        "unit_directions", family=R)

set_shape_params(R, {
    "batch_align": ("like",), "batch_broadcast_like": ("like",), "batch_unbroadcast": ("like",),
    "batch_reduce_vjp": ("x",), "batch_max_vjp": ("result", "x"),
    "batch_reshaped": ("like", "result"), "batch_joined": ("arrays",),
    "batch_matmul_vjp_a": ("like", "a"), "batch_matmul_vjp_b": ("like", "b"),
    "directions": ("like",), "columns_to_jacobian": ("out", "x"),
    "rows_to_jacobian": ("out", "x"), "batch_unbroadcast_to": ("value",),
    "stack_directions_vjp": ("items",),
})
