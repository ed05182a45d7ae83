"""Rules for the runtime helpers of the array rules (``s2sgrad.rtlib.arrays``).

Generated code that calls these helpers is differentiated again for higher
derivatives.  The linear helpers come in adjoint pairs (``split_as`` and
``join_as``, ``cumprod_jvp`` and ``cumprod_vjp``, ...), so their rules call
each other.  The derivatives of the product helpers with respect to the
factors ``a`` (third derivatives of ``np.prod``, second of ``np.cumprod``)
divide by ``a``: they assume no factor is zero.
"""

from .arrays_shapes import _PutAlongAxis
from .registry import nondiff, primitive, set_shape_params
from ..runtime import (
    array_vjp, cumprod_jvp, cumprod_vjp, diagonal_vjp, einsum_vjp, gradient_vjp, join_as,
    pad_jvp, pad_values_vjp, pad_vjp, prod_others, prod_others_jvp, quantile_jvp, quantile_vjp,
    repeat_vjp, split_as, unbroadcast, zeros_like,
)

R = "s2sgrad.runtime"

primitive("put_along", family=R, linear=True)(_PutAlongAxis)


@primitive("array_vjp", family=R, linear=True)
class _ArrayVjp:
    """Splits an array into the nested lists of ``obj``: its adjoint is ``asarray``."""

    def vjp_value(xp, g, ans, value, obj):
        return xp.asarray(g)

    def jvp_value(xp, t, ans, value, obj):
        return array_vjp(t, obj)


@primitive("prod_others", family=R)
class _ProdOthers:
    """The Hessian of a product is symmetric, so both rules are ``prod_others_jvp``."""

    def vjp_a(xp, g, ans, a, axis=None):
        return prod_others_jvp(g, a, axis)

    def jvp_a(xp, t, ans, a, axis=None):
        return prod_others_jvp(t, a, axis)


@primitive("prod_others_jvp", family=R)
class _ProdOthersJvp:
    def vjp_v(xp, g, ans, v, a, axis=None):
        return prod_others_jvp(g, a, axis)

    def vjp_a(xp, g, ans, v, a, axis=None):
        r = v / a
        return prod_others_jvp(g, a, axis) * (xp.sum(r, axis=axis, keepdims=True) - r) \
            - prod_others(a, axis) * (xp.sum(r * g / a, axis=axis, keepdims=True) - r * g / a)

    def jvp_v(xp, t, ans, v, a, axis=None):
        return prod_others_jvp(t, a, axis)

    def jvp_a(xp, t, ans, v, a, axis=None):
        r = v / a
        return prod_others_jvp(t, a, axis) * (xp.sum(r, axis=axis, keepdims=True) - r) \
            - prod_others(a, axis) * (xp.sum(r * t / a, axis=axis, keepdims=True) - r * t / a)


@primitive("cumprod_jvp", family=R)
class _CumprodJvp:
    def vjp_v(xp, g, ans, v, a, axis=None):
        return cumprod_vjp(g, a, axis)

    def vjp_a(xp, g, ans, v, a, axis=None):
        return cumprod_vjp(g * xp.cumsum(v / a, axis=axis), a, axis) \
            - v / a * cumprod_vjp(g, a, axis)

    def jvp_v(xp, t, ans, v, a, axis=None):
        return cumprod_jvp(t, a, axis)

    def jvp_a(xp, t, ans, v, a, axis=None):
        return cumprod_jvp(t, a, axis) * xp.cumsum(v / a, axis=axis) \
            - cumprod_jvp(v * t / a, a, axis)


@primitive("cumprod_vjp", family=R)
class _CumprodVjp:
    def vjp_v(xp, g, ans, v, a, axis=None):
        return cumprod_jvp(g, a, axis)

    def vjp_a(xp, g, ans, v, a, axis=None):
        return cumprod_vjp(v * xp.cumsum(g / a, axis=axis), a, axis) \
            - g / a * cumprod_vjp(v, a, axis)

    def jvp_v(xp, t, ans, v, a, axis=None):
        return cumprod_vjp(t, a, axis)

    def jvp_a(xp, t, ans, v, a, axis=None):
        return cumprod_vjp(v * xp.cumsum(t / a, axis=axis), a, axis) \
            - t / a * cumprod_vjp(v, a, axis)


@primitive("repeat_vjp", family=R, linear=True)
class _RepeatVjp:
    def vjp_v(xp, g, ans, v, a, repeats, axis=None):
        return xp.repeat(g, repeats, axis=axis)

    def jvp_v(xp, t, ans, v, a, repeats, axis=None):
        return repeat_vjp(t, a, repeats, axis)


@primitive("diagonal_vjp", family=R, linear=True)
class _DiagonalVjp:
    def vjp_v(xp, g, ans, v, a, offset=0, axis1=0, axis2=1):
        return unbroadcast(xp.diagonal(g, offset, axis1, axis2), v)

    def jvp_v(xp, t, ans, v, a, offset=0, axis1=0, axis2=1):
        return diagonal_vjp(t, a, offset, axis1, axis2)


@primitive("einsum_vjp", family=R, linear=True)
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

    def jvp_v(xp, t, ans, v, subscripts, k, *operands, argnum=0):
        return einsum_vjp(t, subscripts, k, *operands)

    def jvp_operands(xp, t, ans, v, subscripts, k, *operands, argnum=0):
        if argnum == k:
            return zeros_like(ans)
        return einsum_vjp(v, subscripts, k, *(operands[:argnum] + (t,) + operands[argnum + 1:]))


@primitive("split_as", family=R, linear=True)
class _SplitAs:
    def vjp_v(xp, g, ans, v, arrays, axis=0, promote=None):
        return join_as(g, arrays, axis, promote)

    def jvp_v(xp, t, ans, v, arrays, axis=0, promote=None):
        return split_as(t, arrays, axis, promote)


@primitive("join_as", family=R, linear=True)
class _JoinAs:
    def vjp_pieces(xp, g, ans, pieces, arrays, axis=0, promote=None):
        return split_as(g, arrays, axis, promote)

    def jvp_pieces(xp, t, ans, pieces, arrays, axis=0, promote=None):
        return join_as(t, arrays, axis, promote)


@primitive("pad_vjp", family=R, linear=True)
class _PadVjp:
    """``pad_vjp`` and ``pad_jvp`` are adjoint (the weights of the statistics modes depend on
    ``array`` only through which elements they pick: no derivative)."""

    def vjp_v(xp, g, ans, v, array, pad_width, mode="constant", stat_length=None,
              reflect_type="even"):
        return pad_jvp(g, array, pad_width, mode, stat_length, reflect_type)

    def jvp_v(xp, t, ans, v, array, pad_width, mode="constant", stat_length=None,
              reflect_type="even"):
        return pad_vjp(t, array, pad_width, mode, stat_length, reflect_type)


@primitive("pad_jvp", family=R, linear=True)
class _PadJvp:
    def vjp_v(xp, g, ans, v, array, pad_width, mode="constant", stat_length=None,
              reflect_type="even"):
        return pad_vjp(g, array, pad_width, mode, stat_length, reflect_type)

    def jvp_v(xp, t, ans, v, array, pad_width, mode="constant", stat_length=None,
              reflect_type="even"):
        return pad_jvp(t, array, pad_width, mode, stat_length, reflect_type)


@primitive("pad_values_vjp", family=R, linear=True)
class _PadValuesVjp:
    """The adjoint pads zeros with the values ``g`` (of the values' shape)."""

    def vjp_v(xp, g, ans, v, array, pad_width, mode, values):
        if mode == "constant":
            return xp.pad(zeros_like(array), pad_width, constant_values=g)
        return xp.pad(zeros_like(array), pad_width, mode, end_values=g)

    def jvp_v(xp, t, ans, v, array, pad_width, mode, values):
        return pad_values_vjp(t, array, pad_width, mode, values)


@primitive("gradient_vjp", family=R, linear=True)
class _GradientVjp:
    """The adjoint of ``np.gradient`` (scalar spacings); its own adjoint is ``np.gradient``."""

    def vjp_y(xp, g, ans, y, f, spacing=(), axis=None, edge_order=1):
        return xp.gradient(g, *spacing, axis=axis, edge_order=edge_order)

    def jvp_y(xp, t, ans, y, f, spacing=(), axis=None, edge_order=1):
        return gradient_vjp(t, f, spacing, axis, edge_order)


@primitive("quantile_jvp", family=R, linear=True)
class _QuantileJvp:
    """``quantile_jvp`` and ``quantile_vjp`` are adjoint (where the order statistics are
    depends on ``a`` only through its ordering: no derivative)."""

    def vjp_x(xp, g, ans, x, a, q, axis=None, keepdims=False, nan=False, method="linear"):
        return quantile_vjp(g, a, q, axis, keepdims, nan, method)

    def jvp_x(xp, t, ans, x, a, q, axis=None, keepdims=False, nan=False, method="linear"):
        return quantile_jvp(t, a, q, axis, keepdims, nan, method)


@primitive("quantile_vjp", family=R, linear=True)
class _QuantileVjp:
    def vjp_y(xp, g, ans, y, a, q, axis=None, keepdims=False, nan=False, method="linear"):
        return quantile_jvp(g, a, q, axis, keepdims, nan, method)

    def jvp_y(xp, t, ans, y, a, q, axis=None, keepdims=False, nan=False, method="linear"):
        return quantile_vjp(t, a, q, axis, keepdims, nan, method)


set_shape_params(R, {"gradient_vjp": ("f",), "quantile_jvp": ("a", "q"),
                     "quantile_vjp": ("a", "q")})

nondiff("conv1d_start", "interp_index", family=R)

nondiff("negated", "rollaxis_destination", "tile_shapes", "kron_shapes", "tensordot_vjp_axes",
        "take_index", "along_axis", "along_shape", "axis_pad", "meshgrid_axes", "median_weights",
        "extremum_shares", "einsum_spec", family=R)
