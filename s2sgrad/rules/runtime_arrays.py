"""Rules for the runtime helpers of the array rules (``s2sgrad.runtime.arrays``).

Generated code that calls these helpers is differentiated again for higher
derivatives.  The linear helpers come in transpose pairs (``split_as`` and
``join_as``, ``pad_vjp`` and ``pad_jvp``, ...), declared in one line each; the
registry writes their rules.  The derivatives of the product helpers with respect to the
factors ``a`` (third derivatives of ``np.prod``, second of ``np.cumprod``)
divide by ``a``: they assume no factor is zero.
"""

from .arrays_shapes import _PutAlongAxis
from .registry import nondiff, primitive, set_shape_params, transpose, transpose_pair
from ..runtime import (
    cumprod_jvp, cumprod_vjp, einsum_vjp, prod_others, prod_others_jvp, zeros_like,
)

R = "s2sgrad.runtime"

# linear in its arguments together, not in each with the others fixed: no linear=True
primitive("put_along", family=R)(_PutAlongAxis)


@primitive("prod_others", family=R)
class _ProdOthers:
    """The Hessian of a product is symmetric, so both rules are ``prod_others_jvp``."""

    def vjp_a(xp, g, ans, a, axis=None):
        return prod_others_jvp(g, a, axis)

    def jvp_a(xp, t, ans, a, axis=None):
        return prod_others_jvp(t, a, axis)


@primitive("prod_others_jvp", family=R, linear=("v",))
class _ProdOthersJvp:
    def vjp_v(xp, g, ans, v, a, axis=None):
        return prod_others_jvp(g, a, axis)

    def vjp_a(xp, g, ans, v, a, axis=None):
        r = v / a
        return prod_others_jvp(g, a, axis) * (xp.sum(r, axis=axis, keepdims=True) - r) \
            - prod_others(a, axis) * (xp.sum(r * g / a, axis=axis, keepdims=True) - r * g / a)

    def jvp_a(xp, t, ans, v, a, axis=None):
        r = v / a
        return prod_others_jvp(t, a, axis) * (xp.sum(r, axis=axis, keepdims=True) - r) \
            - prod_others(a, axis) * (xp.sum(r * t / a, axis=axis, keepdims=True) - r * t / a)


@primitive("cumprod_jvp", family=R, linear=("v",))
class _CumprodJvp:
    def vjp_v(xp, g, ans, v, a, axis=None):
        return cumprod_vjp(g, a, axis)

    def vjp_a(xp, g, ans, v, a, axis=None):
        return cumprod_vjp(g * xp.cumsum(v / a, axis=axis), a, axis) \
            - v / a * cumprod_vjp(g, a, axis)

    def jvp_a(xp, t, ans, v, a, axis=None):
        return cumprod_jvp(t, a, axis) * xp.cumsum(v / a, axis=axis) \
            - cumprod_jvp(v * t / a, a, axis)


@primitive("cumprod_vjp", family=R, linear=("v",))
class _CumprodVjp:
    def vjp_v(xp, g, ans, v, a, axis=None):
        return cumprod_jvp(g, a, axis)

    def vjp_a(xp, g, ans, v, a, axis=None):
        return cumprod_vjp(v * xp.cumsum(g / a, axis=axis), a, axis) \
            - g / a * cumprod_vjp(v, a, axis)

    def jvp_a(xp, t, ans, v, a, axis=None):
        return cumprod_vjp(v * xp.cumsum(t / a, axis=axis), a, axis) \
            - t / a * cumprod_vjp(v, a, axis)


@primitive("einsum_vjp", family=R, linear=("v",))
class _EinsumVjp:
    """``einsum_vjp(v, s, k, *ops)`` is multilinear in ``v`` and the operands other than ``k``."""

    # (``operands[:k] + (g,) + operands[k + 1:]``: the operands with ``g`` for operand ``k``,
    # spliced into the call by the template, so the generated call has no ``*``)
    def vjp_v(xp, g, ans, v, subscripts, k, *operands, argnum=0):
        return xp.einsum(subscripts, *(operands[:k] + (g,) + operands[k + 1:]))

    def vjp_operands(xp, g, ans, v, subscripts, k, *operands, argnum=0):
        if argnum == k:
            return zeros_like(operands[k])
        return einsum_vjp(v, subscripts, argnum, *(operands[:k] + (g,) + operands[k + 1:]))

    def jvp_operands(xp, t, ans, v, subscripts, k, *operands, argnum=0):
        if argnum == k:
            return zeros_like(ans)
        return einsum_vjp(v, subscripts, k, *(operands[:argnum] + (t,) + operands[argnum + 1:]))


@primitive("pad_values_vjp", family=R, linear=True)
class _PadValuesVjp:
    """The adjoint pads zeros with the values ``g`` (of the values' shape)."""

    def vjp_v(xp, g, ans, v, array, pad_width, mode, values):
        if mode == "constant":
            return xp.pad(zeros_like(array), pad_width, constant_values=g)
        return xp.pad(zeros_like(array), pad_width, mode, end_values=g)

# Linear helpers, declared by their transposes.
transpose("repeat_vjp(v, a, repeats, axis=None)", "xp.repeat(g, repeats, axis=axis)")
transpose("diagonal_vjp(v, a, offset=0, axis1=0, axis2=1)",
          "unbroadcast(xp.diagonal(g, offset, axis1, axis2), v)")
transpose_pair("split_as(v, arrays, axis=0, promote=None)",
               "join_as(pieces, arrays, axis=0, promote=None)")
# The weights of pad's statistics modes depend on ``array`` only through which elements they
# pick (no derivative), so pad_vjp and pad_jvp are each other's transpose.
transpose_pair("pad_vjp(v, array, pad_width, mode='constant', stat_length=None, reflect_type='even')",
               "pad_jvp(v, array, pad_width, mode='constant', stat_length=None, reflect_type='even')")
# The adjoint of np.gradient (scalar spacings); its own adjoint is np.gradient.
transpose("gradient_vjp(y, f, spacing=(), axis=None, edge_order=1)",
          "xp.gradient(g, *spacing, axis=axis, edge_order=edge_order)")
# Where the order statistics are depends on ``a`` only through its ordering (no derivative).
transpose_pair("quantile_jvp(x, a, q, axis=None, keepdims=False, nan=False, method='linear')",
               "quantile_vjp(y, a, q, axis=None, keepdims=False, nan=False, method='linear')")


set_shape_params(R, {"gradient_vjp": ("f",), "quantile_jvp": ("a", "q"),
                     "quantile_vjp": ("a", "q"), "diagonal_vjp": ("a",), "repeat_vjp": ("a",),
                     "pad_vjp": ("array",), "pad_jvp": ("array",),
                     "pad_values_vjp": ("array", "values"), "split_as": ("arrays",),
                     "join_as": ("arrays",)})

nondiff("conv1d_start", "interp_index", family=R)

nondiff("negated", "rollaxis_destination", "tile_shapes", "kron_shapes", "tensordot_vjp_axes",
        "take_index", "along_axis", "along_shape", "axis_pad", "meshgrid_axes", "median_weights",
        "extremum_shares", "einsum_spec", "put_along_winners", family=R)
