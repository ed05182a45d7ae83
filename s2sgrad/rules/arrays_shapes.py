"""Derivative rules for NumPy's shape, joining, splitting, indexing and sorting functions.

All of these but ``sort``, ``partition`` and ``pad`` (with its statistics modes) are
linear in their array argument: the forward rule applies the function to the tangent, and the
reverse rule applies its adjoint (a reshape back, a scatter-add back, ...).
"""

from .registry import UNKNOWN, primitive
from ..runtime.arrays import pad_problem
from ..runtime import shape as shape_of
from ..runtime import copy as copy_of
from ..runtime import (
    batch_item, item_of, item_vjp, window_view, window_vjp, batch_axes, batch_broadcast_to, batch_index, batch_joined, batch_permutation,
    batch_reshaped, along_axis, array_vjp, diagonal_vjp, inverse_permutation, ndim, negated,
    pad_jvp, pad_values_vjp, pad_vjp, put_along, put_along_winners, repeat_vjp, rollaxis_destination, scatter, size,
    split_as, split_like, take_index, tile_shapes, to_complex_like, unbroadcast, unstack,
    zeros_like, through_cast, tolist_of, tolist_vjp,
)

# ---------------------------------------------------------------------------
# Reshaping and reordering axes
# ---------------------------------------------------------------------------


@primitive("reshape", methods=("reshape*",), view=True, linear=True)
class _Reshape:
    def vjp_a(xp, g, ans, a, shape=None, order="C"):
        if order == "C":
            return xp.reshape(g, shape_of(a))
        return xp.reshape(g, shape_of(a), order=order)

    def jvp_a(xp, t, ans, a, shape=None, order="C"):
        if order == "C":
            return xp.reshape(t, shape)
        return xp.reshape(t, shape, order=order)

    def batch_a(xp, t, ans, a, shape=None, order="C"):
        if order == "C":
            return batch_reshaped(t, a, ans)
        return xp.stack([xp.reshape(t_i, shape, order=order) for t_i in t])


@primitive("ravel", methods=("ravel", "flatten"), view=True, linear=True)
class _Ravel:
    def vjp_a(xp, g, ans, a, order="C"):
        if order == "C":
            return xp.reshape(g, shape_of(a))
        return xp.reshape(g, shape_of(a), order=order)

    def jvp_a(xp, t, ans, a, order="C"):
        if order == "C":
            return xp.reshape(t, (-1,))
        return xp.ravel(t, order=order)

    def batch_a(xp, t, ans, a, order="C"):
        if order == "C":
            return batch_reshaped(t, a, ans)
        return xp.stack([xp.ravel(t_i, order=order) for t_i in t])


@primitive("squeeze", methods=("squeeze",), view=True, linear=True)
class _Squeeze:
    def vjp_a(xp, g, ans, a, axis=None):
        return xp.reshape(g, shape_of(a))

    def jvp_a(xp, t, ans, a, axis=None):
        return xp.squeeze(t, axis=axis)

    def batch_a(xp, t, ans, a, axis=None):
        return batch_reshaped(t, a, ans)


@primitive("expand_dims", view=True, linear=True)
class _ExpandDims:
    def vjp_a(xp, g, ans, a, axis):
        return xp.reshape(g, shape_of(a))

    def jvp_a(xp, t, ans, a, axis):
        return xp.expand_dims(t, axis=axis)

    def batch_a(xp, t, ans, a, axis):
        return batch_reshaped(t, a, ans)


# NumPy 2 has one object for transpose and permute_dims (and for concatenate and
# concat); the registry finds it under the name registered last, so the NumPy
# names, whose rules also run on NumPy 1, come after the array-API names.


@primitive("permute_dims", view=True, linear=True)
class _PermuteDims:
    def vjp_a(xp, g, ans, a, axes):
        return xp.permute_dims(g, inverse_permutation(axes))


@primitive("transpose", methods=("transpose*",), view=True, linear=True)
class _Transpose:
    def vjp_a(xp, g, ans, a, axes=None):
        if axes is None:
            return xp.transpose(g)
        return xp.transpose(g, inverse_permutation(axes))

    def jvp_a(xp, t, ans, a, axes=None):
        if axes is None:
            return xp.transpose(t)
        return xp.transpose(t, axes)

    def batch_a(xp, t, ans, a, axes=None):
        return xp.transpose(t, batch_permutation(axes, t))


@primitive("T", family="attribute", methods=("T",), view=True, linear=True)
class _T:
    def vjp_a(xp, g, ans, a):
        return g.T

    def jvp_a(xp, t, ans, a):
        return t.T

    def batch_a(xp, t, ans, a):
        return xp.transpose(t, batch_permutation(None, t))


@primitive("matrix_transpose", methods=("mT",), view=True, linear=True)
class _MatrixTranspose:
    def vjp_x(xp, g, ans, x):
        return xp.matrix_transpose(g)


@primitive("swapaxes", methods=("swapaxes",), view=True, linear=True)
class _Swapaxes:
    def vjp_a(xp, g, ans, a, axis1, axis2):
        return xp.swapaxes(g, axis1, axis2)

    def batch_a(xp, t, ans, a, axis1, axis2):
        return xp.swapaxes(t, batch_axes(axis1, t), batch_axes(axis2, t))


@primitive("moveaxis", view=True, linear=True)
class _Moveaxis:
    def vjp_a(xp, g, ans, a, source, destination):
        return xp.moveaxis(g, destination, source)


@primitive("rollaxis", view=True, linear=True)
class _Rollaxis:
    def vjp_a(xp, g, ans, a, axis, start=0):
        return xp.moveaxis(g, rollaxis_destination(ndim(a), axis, start), axis)


@primitive("roll", linear=True)
class _Roll:
    def vjp_a(xp, g, ans, a, shift, axis=None):
        return xp.roll(g, negated(shift), axis=axis)

    def jvp_a(xp, t, ans, a, shift, axis=None):
        return xp.roll(t, shift, axis=axis)


@primitive("flip", view=True, linear=True)
class _Flip:
    def vjp_m(xp, g, ans, m, axis=None):
        return xp.flip(g, axis=axis)

    def jvp_m(xp, t, ans, m, axis=None):
        return xp.flip(t, axis=axis)


@primitive("flipud", view=True, linear=True)
class _Flipud:
    def vjp_m(xp, g, ans, m):
        return xp.flipud(g)


@primitive("fliplr", view=True, linear=True)
class _Fliplr:
    def vjp_m(xp, g, ans, m):
        return xp.fliplr(g)


@primitive("rot90", view=True, linear=True)
class _Rot90:
    def vjp_m(xp, g, ans, m, k=1, axes=(0, 1)):
        return xp.rot90(g, -k, axes=axes)

    def jvp_m(xp, t, ans, m, k=1, axes=(0, 1)):
        return xp.rot90(t, k, axes=axes)


# ---------------------------------------------------------------------------
# Repeating and broadcasting
# ---------------------------------------------------------------------------


@primitive("repeat", methods=("repeat",), linear=True)
class _Repeat:
    def vjp_a(xp, g, ans, a, repeats, axis=None):
        return repeat_vjp(g, a, repeats, axis)

    def jvp_a(xp, t, ans, a, repeats, axis=None):
        return xp.repeat(t, repeats, axis=axis)


@primitive("tile", linear=True)
class _Tile:
    def vjp_A(xp, g, ans, A, reps):
        split, axes = tile_shapes(shape_of(A), reps)
        return xp.reshape(xp.sum(xp.reshape(g, split), axis=axes), shape_of(A))


@primitive("broadcast_to", view=True, linear=True)
class _BroadcastTo:
    def vjp_array(xp, g, ans, array, shape, subok=False):
        return unbroadcast(g, array)

    def jvp_array(xp, t, ans, array, shape, subok=False):
        return xp.broadcast_to(t, shape)

    def batch_array(xp, t, ans, array, shape, subok=False):
        return batch_broadcast_to(t, shape)


# its output holds the other arguments as they are: linear in them together only, no linear=True
@primitive("atleast_1d", "atleast_2d", "atleast_3d", view=True)
class _Atleast:
    """One argument gives an array, several give a list of arrays."""

    def vjp_arys(xp, g, ans, *arys, argnum=0):
        if len(arys) == 1:
            return xp.reshape(g, shape_of(arys[0]))
        return xp.reshape(g[argnum], shape_of(arys[argnum]))

    def jvp_arys(xp, t, ans, *arys, argnum=0):
        if len(arys) == 1:
            return xp.reshape(t, shape_of(ans))
        out = [0.0] * len(arys)
        out[argnum] = xp.reshape(t, shape_of(ans[argnum]))
        return out


# ---------------------------------------------------------------------------
# Joining and splitting
# ---------------------------------------------------------------------------


@primitive("concat", linear=True)
class _Concat:
    def vjp_arrays(xp, g, ans, arrays, axis=0):
        return split_like(g, arrays, axis)

    def jvp_arrays(xp, t, ans, arrays, axis=0):
        return xp.concat(t, axis=axis)


@primitive("concatenate", linear=True)
class _Concatenate:
    def vjp_arrays(xp, g, ans, arrays, axis=0):
        return split_like(g, arrays, axis)

    def jvp_arrays(xp, t, ans, arrays, axis=0):
        return xp.concatenate(t, axis=axis)

    def batch_arrays(xp, t, ans, arrays, axis=0):
        return batch_joined(t, arrays, axis, "concatenate")


@primitive("stack", linear=True)
class _Stack:
    def vjp_arrays(xp, g, ans, arrays, axis=0):
        return unstack(g, axis)

    def jvp_arrays(xp, t, ans, arrays, axis=0):
        return xp.stack(t, axis=axis)

    def batch_arrays(xp, t, ans, arrays, axis=0):
        return batch_joined(t, arrays, axis, "stack")


@primitive("unstack", view=True, linear=True)
class _Unstack:
    def vjp_x(xp, g, ans, x, *, axis=0):
        return xp.stack(g, axis=axis)


@primitive("vstack", linear=True)
class _Vstack:
    def vjp_tup(xp, g, ans, tup):
        return split_as(g, tup, 0, "atleast_2d")


@primitive("hstack", linear=True)
class _Hstack:
    def vjp_tup(xp, g, ans, tup):
        return split_as(g, tup, 0 if ndim(tup[0]) <= 1 else 1, "atleast_1d")


@primitive("dstack", linear=True)
class _Dstack:
    def vjp_tup(xp, g, ans, tup):
        return split_as(g, tup, 2, "atleast_3d")


@primitive("column_stack", linear=True)
class _ColumnStack:
    def vjp_tup(xp, g, ans, tup):
        return split_as(g, tup, 1, "column")


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("append")
class _Append:
    def vjp_arr(xp, g, ans, arr, values, axis=None):
        if axis is None:
            return xp.reshape(g[:size(arr)], shape_of(arr))
        return xp.split(g, [shape_of(arr)[axis]], axis=axis)[0]

    def vjp_values(xp, g, ans, arr, values, axis=None):
        if axis is None:
            return xp.reshape(g[size(arr):], shape_of(values))
        return xp.split(g, [shape_of(arr)[axis]], axis=axis)[1]

    def jvp_arr(xp, t, ans, arr, values, axis=None):
        return xp.append(t, zeros_like(values), axis=axis)

    def jvp_values(xp, t, ans, arr, values, axis=None):
        return xp.append(zeros_like(arr), t, axis=axis)


@primitive("split", view=True, linear=True)
class _Split:
    def vjp_ary(xp, g, ans, ary, indices_or_sections, axis=0):
        return xp.concatenate(g, axis=axis)

    def jvp_ary(xp, t, ans, ary, indices_or_sections, axis=0):
        return xp.split(t, indices_or_sections, axis=axis)


@primitive("array_split", view=True, linear=True)
class _ArraySplit:
    def vjp_ary(xp, g, ans, ary, indices_or_sections, axis=0):
        return xp.concatenate(g, axis=axis)

    def jvp_ary(xp, t, ans, ary, indices_or_sections, axis=0):
        return xp.array_split(t, indices_or_sections, axis=axis)


@primitive("hsplit", view=True, linear=True)
class _Hsplit:
    def vjp_ary(xp, g, ans, ary, indices_or_sections):
        return xp.concatenate(g, axis=1 if ndim(ary) > 1 else 0)


@primitive("vsplit", view=True, linear=True)
class _Vsplit:
    def vjp_ary(xp, g, ans, ary, indices_or_sections):
        return xp.concatenate(g, axis=0)


@primitive("dsplit", view=True, linear=True)
class _Dsplit:
    def vjp_ary(xp, g, ans, ary, indices_or_sections):
        return xp.concatenate(g, axis=2)


# ---------------------------------------------------------------------------
# Diagonals and triangles
# ---------------------------------------------------------------------------


@primitive("diag", linear=True)
class _Diag:
    def vjp_v(xp, g, ans, v, k=0):
        if ndim(v) == 1:
            return xp.diagonal(g, k)
        return diagonal_vjp(g, v, k)


@primitive("diagonal", methods=("diagonal",), view=True, linear=True)
class _Diagonal:
    def vjp_a(xp, g, ans, a, offset=0, axis1=0, axis2=1):
        return diagonal_vjp(g, a, offset, axis1, axis2)


@primitive("diagflat", linear=True)
class _Diagflat:
    def vjp_v(xp, g, ans, v, k=0):
        return xp.reshape(xp.diagonal(g, k), shape_of(v))


@primitive("triu", linear=True)
class _Triu:
    def vjp_m(xp, g, ans, m, k=0):
        return xp.triu(g, k=k)

    def jvp_m(xp, t, ans, m, k=0):
        return xp.triu(t, k=k)


@primitive("tril", linear=True)
class _Tril:
    def vjp_m(xp, g, ans, m, k=0):
        return xp.tril(g, k=k)

    def jvp_m(xp, t, ans, m, k=0):
        return xp.tril(t, k=k)


@primitive("pad")
class _Pad:
    """Every mode but 'empty' and a function: the pad copies, reflects, ramps to or takes a
    statistic of the elements, so ``pad_vjp`` and ``pad_jvp`` follow NumPy's axis-by-axis
    padding (see ``s2sgrad.runtime.arrays``).  ``constant_values`` and ``end_values`` are
    differentiable too: the pad is affine in them."""

    def check(args):
        mode = args.get("mode", "constant")
        return None if mode is UNKNOWN else pad_problem(mode)

    def vjp_array(xp, g, ans, array, pad_width, mode="constant", *, constant_values=0,
                  end_values=0, stat_length=None, reflect_type="even"):
        return pad_vjp(g, array, pad_width, mode, stat_length, reflect_type)

    def vjp_constant_values(xp, g, ans, array, pad_width, mode="constant", *, constant_values=0,
                            end_values=0, stat_length=None, reflect_type="even"):
        return pad_values_vjp(g, array, pad_width, mode, constant_values)

    def vjp_end_values(xp, g, ans, array, pad_width, mode="constant", *, constant_values=0,
                       end_values=0, stat_length=None, reflect_type="even"):
        return pad_values_vjp(g, array, pad_width, mode, end_values)

    def jvp_array(xp, t, ans, array, pad_width, mode="constant", *, constant_values=0,
                  end_values=0, stat_length=None, reflect_type="even"):
        if mode == "constant":
            return xp.pad(t, pad_width)
        if mode in ("edge", "wrap", "linear_ramp") or mode in ("reflect", "symmetric") \
                and reflect_type == "even":
            return xp.pad(t, pad_width, mode)
        if mode in ("reflect", "symmetric"):
            return xp.pad(t, pad_width, mode, reflect_type=reflect_type)
        if mode == "mean" and stat_length is None:
            return xp.pad(t, pad_width, mode)
        if mode == "mean":
            return xp.pad(t, pad_width, mode, stat_length=stat_length)
        return pad_jvp(t, array, pad_width, mode, stat_length)

    def jvp_constant_values(xp, t, ans, array, pad_width, mode="constant", *,
                            constant_values=0, end_values=0, stat_length=None,
                            reflect_type="even"):
        return xp.pad(zeros_like(array), pad_width, constant_values=t)

    def jvp_end_values(xp, t, ans, array, pad_width, mode="constant", *, constant_values=0,
                       end_values=0, stat_length=None, reflect_type="even"):
        return xp.pad(zeros_like(array), pad_width, mode, end_values=t)


# ---------------------------------------------------------------------------
# Indexing, gathering and sorting
# ---------------------------------------------------------------------------


@primitive("getitem", family="op", operator="getitem", view=True, linear=True)
class _Getitem:
    def vjp_x(xp, g, ans, x, index):
        return scatter(g, x, index)

    def jvp_x(xp, t, ans, x, index):
        return t[index]

    def batch_x(xp, t, ans, x, index):
        return t[batch_index(index)]


@primitive("take", methods=("take",), linear=True)
class _Take:
    def vjp_a(xp, g, ans, a, indices, axis=None, out=None, mode="raise"):
        return scatter(g, a, take_index(shape_of(a), indices, axis, mode))

    def jvp_a(xp, t, ans, a, indices, axis=None, out=None, mode="raise"):
        if mode == "raise":
            return xp.take(t, indices, axis=axis)
        return xp.take(t, indices, axis=axis, mode=mode)


@primitive("take_along_axis", linear=True)
class _TakeAlongAxis:
    def vjp_arr(xp, g, ans, arr, indices, axis=-1):
        return scatter(g, arr, along_axis(indices, axis, shape_of(arr)))

    def jvp_arr(xp, t, ans, arr, indices, axis=-1):
        return xp.take_along_axis(t, indices, axis=axis)


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("put_along_axis")
class _PutAlongAxis:
    """``np.put_along_axis`` updates ``arr`` in place: ``ans`` is ``arr`` after the update.

    With repeated indices the last value written wins: only it receives the
    derivative (``put_along_winners``), the values it replaced get zero.
    """

    def vjp_arr(xp, g, ans, arr, indices, values, axis):
        return put_along(g, indices, 0.0, axis)

    def vjp_values(xp, g, ans, arr, indices, values, axis):
        kept = put_along_winners(indices, shape_of(arr), axis)
        return unbroadcast(xp.where(kept, xp.take_along_axis(g, indices, axis=axis), 0.0),
                           values)

    def jvp_arr(xp, t, ans, arr, indices, values, axis):
        return put_along(t, indices, 0.0, axis)

    def jvp_values(xp, t, ans, arr, indices, values, axis):
        return put_along(zeros_like(ans), indices, t, axis)


@primitive("sort")
class _Sort:
    def vjp_a(xp, g, ans, a, axis=-1, kind=None, order=None):
        return scatter(g, a, along_axis(xp.argsort(a, axis=axis), axis, shape_of(a)))

    def jvp_a(xp, t, ans, a, axis=-1, kind=None, order=None):
        return xp.take_along_axis(t, xp.argsort(a, axis=axis), axis=axis)


@primitive("partition")
class _Partition:
    def vjp_a(xp, g, ans, a, kth, axis=-1, kind="introselect", order=None):
        return scatter(g, a, along_axis(xp.argpartition(a, kth, axis=axis), axis, shape_of(a)))

    def jvp_a(xp, t, ans, a, kth, axis=-1, kind="introselect", order=None):
        return xp.take_along_axis(t, xp.argpartition(a, kth, axis=axis), axis=axis)


# ---------------------------------------------------------------------------
# Copies and conversions
# ---------------------------------------------------------------------------


@primitive("asarray", linear=True)
class _Asarray:
    # np.asarray(x, dtype=int): a cast to an integer or bool dtype has derivative zero
    def vjp_object(xp, g, ans, object, dtype=None):
        return array_vjp(through_cast(g, dtype), object)

    def jvp_object(xp, t, ans, object, dtype=None):
        return through_cast(xp.asarray(t), dtype)


@primitive("array", linear=True)
class _Array:
    # np.array copies, and so does its tangent: the array it was made from (y[:2] of a y
    # written after) may change in place, and its tangent with it
    def vjp_object(xp, g, ans, object, dtype=None):
        return array_vjp(through_cast(g, dtype), object)

    def jvp_object(xp, t, ans, object, dtype=None):
        return copy_of(through_cast(xp.asarray(t), dtype))


@primitive("copy", methods=("copy",), linear=True)
class _Copy:
    def vjp_a(xp, g, ans, a, order="K", subok=False):
        return g

    def jvp_a(xp, t, ans, a, order="K", subok=False):
        return copy_of(t)       # a copy too: the tangent copied from may be written after


@primitive("float64", "float32", "float16", "longdouble", "complex128", "complex64",
           "clongdouble", linear=True)
class _ScalarType:
    # np.float64(x) and friends: the number itself, as a NumPy scalar
    def vjp_x(xp, g, ans, x=0):
        return unbroadcast(g, x)

    def jvp_x(xp, t, ans, x=0):
        return t


@primitive("item", family="method", methods=("item*",), linear=True)
class _Item:
    # a.item(*index): one element of a (the only one without an index), a Python number
    def vjp_a(xp, g, ans, a, index=()):
        return item_vjp(g, a, index)

    def jvp_a(xp, t, ans, a, index=()):
        return item_of(t, index)

    def batch_a(xp, t, ans, a, index=()):
        return batch_item(t, index)


@primitive("astype", methods=("astype",), linear=True)
class _Astype:
    # x.astype(int) or astype(bool): piecewise constant, derivative zero
    def vjp_x(xp, g, ans, x, dtype, copy=True):
        return through_cast(xp.asarray(to_complex_like(g, x), dtype=x.dtype), dtype)

    def jvp_x(xp, t, ans, x, dtype, copy=True):
        # a copy, as the value is: the tangent cast from may be written in place after
        if copy:
            return through_cast(xp.array(t, dtype=dtype), dtype)
        return through_cast(xp.asarray(t, dtype=dtype), dtype)


@primitive("tolist", family="method", methods=("tolist",), linear=True)
class _Tolist:
    # a.tolist(): the same numbers as nested lists of Python scalars
    def vjp_a(xp, g, ans, a):
        return tolist_vjp(g, a)

    def jvp_a(xp, t, ans, a):
        return tolist_of(t)


@primitive("lib.stride_tricks.sliding_window_view", view=True, linear=True)
class _SlidingWindowView:
    def vjp_x(xp, g, ans, x, window_shape, axis=None, subok=False, writeable=False):
        return window_vjp(g, x, window_shape, axis)

    def jvp_x(xp, t, ans, x, window_shape, axis=None, subok=False, writeable=False):
        return window_view(t, window_shape, axis)
