"""Rules for the runtime helpers of batched tangent code (``s2sgrad.runtime.batch``:
``jacobian``, ``hessian``).

A Jacobian or Hessian is generated code too (a sweep whose tangents carry a
leading axis of directions), so its helpers are primitives with rules of
their own: that code can be differentiated again (``jacobian(jacobian(f))``).
Every helper is linear in its batch of tangents, called ``value`` here: the
registry writes the forward rule (the helper applied to the tangent of that
batch), and most are declared by their transpose in one line.
"""

from .registry import nondiff, primitive, set_shape_params, transpose
from ..runtime import (
    batch_axes, batch_broadcast_to, batch_unbroadcast_to, directions, matmul_vjp_a, matmul_vjp_b,
    max_vjp, size, stack_directions, stack_directions_vjp, unbroadcast,
)
from ..runtime import shape as shape_of

R = "s2sgrad.runtime"

transpose("batch_align(value, like)", "xp.reshape(g, shape_of(value))", view=True)
transpose("batch_broadcast_like(value, like)", "batch_unbroadcast_to(g, value)", view=True)
transpose("batch_broadcast_to(value, target)", "batch_unbroadcast_to(g, value)", view=True)
transpose("batch_unbroadcast(value, like)",
          "xp.reshape(batch_broadcast_to(g, shape_of(batch_align(value, like))[1:]),"
          " shape_of(value))")
transpose("batch_reduce_vjp(value, x, axis=None, keepdims=False)",
          "xp.reshape(xp.sum(g, axis=batch_axes(axis, g), keepdims=keepdims), shape_of(value))",
          view=True)


@primitive("batch_max_vjp", family=R, linear=True)
class _BatchMaxVjp:
    def vjp_value(xp, g, ans, value, result, x, axis=None, keepdims=False):
        share = max_vjp(1.0, result, x, axis, keepdims)
        return xp.reshape(xp.sum(g * share, axis=batch_axes(axis, g), keepdims=keepdims),
                          shape_of(value))


transpose("batch_reshaped(value, like, result)", "xp.reshape(g, shape_of(value))", view=True)
transpose("batch_joined(value, arrays, axis, join)", "batch_joined_vjp(g, arrays, axis, join)")


@primitive("batch_matmul_left", family=R, linear=True)
class _BatchMatmulLeft:
    # ans[i] = value[i] @ b
    def vjp_value(xp, g, ans, value, b):
        return stack_directions([matmul_vjp_a(g_i, v_i, b) for g_i, v_i in zip(g, value)])

    def vjp_b(xp, g, ans, value, b):
        return sum(matmul_vjp_b(g_i, v_i, b) for g_i, v_i in zip(g, value))


@primitive("batch_matmul_right", family=R, linear=True)
class _BatchMatmulRight:
    # ans[i] = a @ value[i]
    def vjp_a(xp, g, ans, a, value):
        return sum(matmul_vjp_a(g_i, a, v_i)
                   for g_i, v_i in zip(g, value))

    def vjp_value(xp, g, ans, a, value):
        return stack_directions([matmul_vjp_b(g_i, a, v_i) for g_i, v_i in
                                 zip(g, value)])


@primitive("batch_matmul_vjp_a", family=R, linear=True)
class _BatchMatmulVjpA:
    # ans[i] = matmul_vjp_a(value[i], a, b), value[i] shaped like ``like``
    def vjp_value(xp, g, ans, value, like, a, b):
        return stack_directions([unbroadcast(xp.matmul(g_i, b), like)
                                 for g_i in g])

    def vjp_b(xp, g, ans, value, like, a, b):
        return sum(matmul_vjp_b(v_i, g_i, b)
                   for v_i, g_i in zip(directions(value, like), g))


@primitive("batch_matmul_vjp_b", family=R, linear=True)
class _BatchMatmulVjpB:
    # ans[i] = matmul_vjp_b(value[i], a, b), value[i] shaped like ``like``
    def vjp_value(xp, g, ans, value, like, a, b):
        return stack_directions([unbroadcast(xp.matmul(a, g_i), like)
                                 for g_i in g])

    def vjp_a(xp, g, ans, value, like, a, b):
        return sum(matmul_vjp_a(v_i, a, g_i)
                   for v_i, g_i in zip(directions(value, like), g))


transpose("directions(value, like)", "directions_vjp(g, value)", view=True)
transpose("stack_directions(items)", "stack_directions_vjp(g, items)")


@primitive("columns_to_jacobian", family=R, linear=True)
class _ColumnsToJacobian:
    def vjp_value(xp, g, ans, value, out, x):
        cols = xp.reshape(g, shape_of(out) + (size(x),))
        return batch_unbroadcast_to(xp.moveaxis(cols, -1, 0), value)


transpose("rows_to_jacobian(value, out, x)",
          "batch_unbroadcast_to(xp.reshape(g, (size(out),) + shape_of(x)), value)")


nondiff("batch_axes", "batch_index", "batch_zeros_like", "batch_permutation",
        "unit_directions", family=R)

# The adjoints of the helpers above are linear too: their own rules (second derivatives of
# code that calls the helpers).
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


set_shape_params(R, {
    "batch_unbroadcast_to": ("value",), "stack_directions_vjp": ("items",),
    "batch_align": ("like",), "batch_broadcast_like": ("like",), "batch_unbroadcast": ("like",),
    "batch_reduce_vjp": ("x",), "batch_max_vjp": ("result", "x"),
    "batch_reshaped": ("like", "result"), "batch_joined": ("arrays",),
    "batch_matmul_vjp_a": ("like", "a"), "batch_matmul_vjp_b": ("like", "b"),
    "directions": ("like",), "columns_to_jacobian": ("out", "x"),
    "rows_to_jacobian": ("out", "x"),
})
