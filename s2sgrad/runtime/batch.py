"""Runtime helpers for a batch of tangents: a leading axis of directions (jacobian's one
forward sweep).  Their rules are in ``s2sgrad.rules.runtime_batch``."""

import numpy

from .core import (
    _SCALARS, _default_float, check_output, parts, walking, _is_complex, _is_container, _is_inexact,
    _is_object, _mT, matmul_vjp_a, matmul_vjp_b, max_vjp, namespace, ndim, shape, size,
)

__all__ = ["batch_align", "batch_broadcast_like", "batch_matmul_left", "batch_matmul_right",
           "batch_axes",
           "batch_index", "batch_zeros_like", "unit_directions",
           "batch_unbroadcast_to", "batch_items", "directions_vjp", "stack_directions_vjp",
           "batch_joined_vjp",
           "columns_to_jacobian", "rows_to_jacobian", "batch_broadcast_to", "batch_reshaped",
           "batch_permutation", "batch_joined", "batch_unbroadcast", "batch_reduce_vjp",
           "batch_max_vjp", "batch_matmul_vjp_a", "batch_matmul_vjp_b", "directions",
           "stack_directions"]


def batch_align(t, like):
    """A batch of tangents ``t`` (shape ``(k,) + s``) with axes of size 1 inserted after the
    batch axis up to the rank of ``like``, so that it broadcasts against ``like``'s shape."""
    t = numpy.asarray(t) if isinstance(t, _SCALARS) else t
    missing = ndim(like) - (ndim(t) - 1)
    if missing <= 0:
        return t
    xp = namespace(t)
    return xp.reshape(t, shape(t)[:1] + (1,) * missing + shape(t)[1:])


def batch_broadcast_like(t, like):
    """A batch of tangents broadcast to ``(k,) + like.shape``."""
    t = batch_align(t, like)
    target = shape(t)[:1] + shape(like)
    if shape(t) == target:
        return t
    return namespace(t).broadcast_to(t, target)


def _batch_first(t, rank):
    """A batch ``t`` with axes of size 1 after its batch axis, so that its tangents have at
    least ``rank`` axes: the batch axis then leads when they meet another operand's."""
    missing = rank - (ndim(t) - 1)
    if missing <= 0:
        return t
    return namespace(t).reshape(t, shape(t)[:1] + (1,) * missing + shape(t)[1:])


def batch_matmul_left(t, b):
    """``t_i @ b`` for each tangent ``t_i`` of a batch (``t`` has a leading batch axis)."""
    if ndim(t) == 2 and ndim(b) > 2:   # vectors against a stack of matrices
        return stack_directions([t_i @ b for t_i in t])
    return (t if ndim(t) == 2 else _batch_first(t, ndim(b))) @ b


def batch_matmul_right(a, t):
    """``a @ t_i`` for each tangent ``t_i`` of a batch (``t`` has a leading batch axis)."""
    if ndim(t) == 2:   # a batch of vectors: (k, m)
        if ndim(a) > 2:
            return stack_directions([a @ t_i for t_i in t])
        return t @ _mT(a) if ndim(a) == 2 else t @ a
    return a @ _batch_first(t, ndim(a))


def batch_axes(axis, t):
    """Reduction axes of an unbatched value, shifted past the batch axis of ``t``."""
    if axis is None:
        return tuple(range(1, ndim(t)))
    if isinstance(axis, tuple):
        return tuple(a + 1 if a >= 0 else a for a in axis)
    return axis + 1 if axis >= 0 else axis


def batch_index(index, tangent=None):
    """An index of an unbatched value, applied to each tangent of a batch ``tangent`` (the
    index itself when ``tangent`` is a container, whose items are batches)."""
    if _is_container(tangent):
        return index
    return (slice(None),) + (index if isinstance(index, tuple) else (index,))


def batch_zeros_like(x, batch):
    """Zeros for ``x``'s tangent, one per direction of ``batch`` (a batch of tangents);
    a container gives a container of them, as ``zeros_like`` does."""
    if isinstance(x, dict):
        return {k: batch_zeros_like(v, batch) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [batch_zeros_like(v, batch) for v in x]
    if _is_object(x):
        with walking(x):
            return {k: batch_zeros_like(v, batch) for k, v in parts(x)}
    xp = namespace(batch)
    dtype = getattr(batch, "dtype", None)
    if _is_complex(x) and dtype is not None and not _is_complex(batch):
        dtype = numpy.result_type(dtype, numpy.complex64) if xp is numpy else None
    return xp.zeros(shape(batch)[:1] + shape(x), dtype=dtype)


def _batch_full(t, target):
    """A batch of tangents, aligned and broadcast to ``(k,) + target``."""
    t = numpy.asarray(t) if isinstance(t, _SCALARS) else t
    missing = len(target) - (ndim(t) - 1)
    xp = namespace(t)
    if missing > 0:
        t = xp.reshape(t, shape(t)[:1] + (1,) * missing + shape(t)[1:])
    full = shape(t)[:1] + tuple(target)
    return t if shape(t) == full else xp.broadcast_to(t, full)


def batch_reshaped(t, like, ans):
    """A batch of tangents of ``like`` reshaped (C order) to tangents of ``ans``."""
    t = _batch_full(t, shape(like))
    return namespace(t).reshape(t, shape(t)[:1] + shape(ans))


def batch_permutation(axes, t):
    """``transpose``'s axes for an unbatched value, for a batch of its tangents."""
    n = ndim(t) - 1
    if axes is None:
        return (0,) + tuple(range(n, 0, -1))
    return (0,) + tuple(a % n + 1 for a in axes)


def batch_joined(ts, arrays, axis, join):
    """``concatenate`` / ``stack`` (``join``) of batches of tangents along ``axis``."""
    parts = [_batch_full(t, shape(a)) for t, a in zip(ts, arrays)]
    xp = namespace(parts[0])
    if axis is None:
        return stack_directions([getattr(xp, join)([p[i] for p in parts], axis=None)
                                 for i in range(shape(parts[0])[0])])
    return getattr(xp, join)(parts, axis=batch_axes(axis, parts[0]))


def batch_unbroadcast_to(g, value):
    """The adjoint of aligning and broadcasting a batch ``value`` to ``g``'s shape: ``g``
    summed over the axes broadcasting stretched, shaped like ``value``."""
    vshape, gshape = shape(value), shape(g)
    aligned = vshape[:1] + (1,) * (len(gshape) - len(vshape)) + vshape[1:]
    axes = tuple(i for i in range(len(gshape)) if aligned[i] == 1 and gshape[i] != 1)
    xp = namespace(g)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    return xp.reshape(g, vshape)


def directions_vjp(g, value):
    """The adjoint of ``directions(value, like)``: one cotangent per direction, stacked."""
    return batch_unbroadcast_to(stack_directions(g), value) if not _is_container(value) \
        else [directions_vjp([gi[k] for gi in g], v) for k, v in enumerate(value)]


def stack_directions_vjp(g, items):
    """The adjoint of ``stack_directions(items)``: the batch cotangent ``g`` one by one."""
    if _is_container(items[0]):
        parts = [stack_directions_vjp(gk, [it[k] for it in items]) for k, gk in enumerate(g)]
        return [list(p) for p in zip(*parts)]
    return [g[i] for i in range(len(items))]


def unit_directions(x):
    """One unit tangent per element of ``x``: shape ``(x.size,) + x.shape``."""
    xp = namespace(x)
    n = size(x)
    dtype = getattr(x, "dtype", None)
    if dtype is None or not _is_inexact(xp, dtype):
        dtype = _default_float(xp)
    return xp.reshape(xp.eye(n, dtype=dtype), (n,) + shape(x))


def columns_to_jacobian(t, out, x):
    """The Jacobian ``out.shape + x.shape`` from the batch of tangents along
    ``unit_directions(x)``."""
    check_output(out, "")
    t = _batch_full(t, shape(out))
    xp = namespace(t)
    jac = xp.reshape(xp.moveaxis(t, 0, -1), shape(out) + shape(x))
    return jac if shape(jac) != () else jac[()]


def rows_to_jacobian(t, out, x):
    """The Jacobian ``out.shape + x.shape`` from the batch of cotangent results along
    ``unit_directions(out)`` (row ``i`` is the gradient of output element ``i``)."""
    t = _batch_full(t, shape(x))
    return namespace(t).reshape(t, shape(out) + shape(x))


def batch_joined_vjp(g, arrays, axis, join):
    """The adjoint of ``batch_joined``: the batch cotangent ``g`` split back into its parts."""
    xp = namespace(g)
    k = shape(g)[0]
    if axis is None:
        flat = xp.reshape(g, (k, -1))
        ends = numpy.cumsum([size(a) for a in arrays])
        return [xp.reshape(flat[:, e - size(a):e], (k,) + shape(a)) for a, e in zip(arrays, ends)]
    ax = batch_axes(axis, g)
    if join == "stack":
        return [xp.take(g, i, axis=ax) for i in range(len(arrays))]
    ends = numpy.cumsum([shape(a)[axis] for a in arrays])
    index = [slice(None)] * ndim(g)
    parts = []
    for a, e in zip(arrays, ends):
        index[ax] = slice(int(e) - shape(a)[axis], int(e))
        parts.append(g[tuple(index)])
    return parts


def batch_broadcast_to(t, target):
    """``broadcast_to(t_i, target)`` for each tangent of a batch."""
    return _batch_full(t, tuple(target) if not isinstance(target, int) else (target,))


def batch_unbroadcast(t, like):
    """``unbroadcast`` for each tangent of a batch: sums to ``(k,) + like.shape``."""
    t = batch_align(t, like)
    lshape = shape(like)
    xp = namespace(t)
    lead = ndim(t) - 1 - len(lshape)
    if lead:
        t = xp.sum(t, axis=tuple(range(1, 1 + lead)))
    stretched = tuple(1 + i for i, n in enumerate(lshape) if n == 1 and shape(t)[1 + i] != 1)
    if stretched:
        t = xp.sum(t, axis=stretched, keepdims=True)
    target = shape(t)[:1] + lshape
    if shape(t) != target:   # constant along an axis of like
        t = xp.broadcast_to(t, target)
    if _is_complex(t) and not _is_complex(like):
        t = namespace(t).real(t)
    return t


def batch_reduce_vjp(t, x, axis=None, keepdims=False):
    """``reduce_vjp`` for each cotangent of a batch: spread to ``(k,) + x.shape``."""
    xshape = shape(x)
    if axis is None:
        axes = set(range(len(xshape)))
    else:
        axes = {a % len(xshape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    kept = tuple(1 if i in axes else n for i, n in enumerate(xshape))
    reduced = kept if keepdims else tuple(n for i, n in enumerate(xshape) if i not in axes)
    t = _batch_full(t, reduced)
    xp = namespace(t)
    t = xp.reshape(t, shape(t)[:1] + kept)
    return xp.broadcast_to(t, shape(t)[:1] + xshape)


def batch_max_vjp(t, ans, x, axis=None, keepdims=False):
    """``max_vjp`` for each cotangent of a batch."""
    share = max_vjp(1.0, ans, x, axis, keepdims)
    return batch_reduce_vjp(t, x, axis, keepdims) * share


def batch_matmul_vjp_a(t, g, a, b):
    """``matmul_vjp_a(t_i, a, b)`` for each ``t_i`` of a batch (cotangents shaped like ``g``)."""
    if ndim(a) >= 2 and ndim(b) >= 2:
        return batch_unbroadcast(_batch_full(t, shape(g)) @ _mT(b), a)
    return stack_directions([matmul_vjp_a(t_i, a, b) for t_i in directions(t, g)])


def batch_matmul_vjp_b(t, g, a, b):
    """``matmul_vjp_b(t_i, a, b)`` for each ``t_i`` of a batch (cotangents shaped like ``g``)."""
    if ndim(a) >= 2 and ndim(b) >= 2:
        return batch_unbroadcast(_mT(a) @ _batch_full(t, shape(g)), b)
    return stack_directions([matmul_vjp_b(t_i, a, b) for t_i in directions(t, g)])


def directions(t, like):
    """The tangents of a batch one by one, each shaped like ``like`` (through containers)."""
    if isinstance(t, dict):
        parts = {k: directions(v, like[k]) for k, v in t.items()}
        n = len(next(iter(parts.values()))) if parts else 0
        return [{k: p[i] for k, p in parts.items()} for i in range(n)]
    if isinstance(t, (list, tuple)):
        parts = [directions(v, like_i) for v, like_i in zip(t, like)]
        return [list(p) for p in zip(*parts)]
    full = _batch_full(t, shape(like))
    return [full[i] for i in range(shape(full)[0])]


def batch_items(t):
    """The items of a batch of tangents of a sequence: a list's own items (each a batch),
    or an array's rows along the axis after the batch axis."""
    if _is_container(t):
        return list(t)
    return [t[:, i] for i in range(shape(t)[1])]


def stack_directions(items):
    """A batch of tangents from one tangent per direction (through containers)."""
    first = items[0]
    if isinstance(first, dict):
        return {k: stack_directions([it[k] for it in items]) for k in first}
    if isinstance(first, (list, tuple)):
        return [stack_directions(list(parts)) for parts in zip(*items)]
    arrays = [numpy.asarray(it) if isinstance(it, _SCALARS) else it for it in items]
    return namespace(arrays[0]).stack(arrays)
