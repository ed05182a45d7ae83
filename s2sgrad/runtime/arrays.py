"""Runtime helpers for the rules of NumPy array functions (shapes, indexing, reductions, ...).

Two kinds of helper live here:

- index and shape computations (``take_index``, ``tile_shapes``, ...): their
  results carry no derivative, so they are declared ``nondiff``;
- linear maps that have no NumPy function of their own, such as the adjoint
  of ``np.repeat`` (``repeat_vjp``) or of ``np.diagonal`` (``diagonal_vjp``),
  and the zero-safe derivatives of products (``prod_others``,
  ``cumprod_jvp``, ``cumprod_vjp``).  Each has derivative rules in
  ``s2sgrad.rules.runtime_arrays`` so that generated code differentiates again.

These are re-exported by ``s2sgrad.runtime``; like it, this module imports
nothing from the compiler.
"""

import math
import operator

import numpy

__all__ = [
    # shape and index computations (no derivative)
    "negated", "rollaxis_destination", "tile_shapes", "kron_shapes", "tensordot_vjp_axes",
    "take_index", "along_axis", "along_shape", "axis_pad", "meshgrid_axes",
    "median_weights", "extremum_shares", "einsum_spec", "conv1d_start", "interp_index",
    "put_along_winners",
    # linear maps and zero-safe product derivatives (with rules of their own)
    "prod_others", "prod_others_jvp", "cumprod_jvp", "cumprod_vjp", "repeat_vjp",
    "diagonal_vjp", "einsum_vjp", "split_as", "join_as", "put_along", "pad_vjp", "pad_jvp",
    "pad_values_vjp", "gradient_vjp", "quantile_jvp", "quantile_vjp",
]


def _shape(x):
    s = getattr(x, "shape", None)
    return tuple(s) if s is not None else numpy.shape(x)


def negated(shift):
    """``-shift`` for an int or a sequence of ints (the inverse of a ``np.roll``)."""
    if isinstance(shift, (tuple, list)):
        return tuple(-s for s in shift)
    return -shift


def rollaxis_destination(ndim, axis, start=0):
    """Where ``np.rollaxis(a, axis, start)`` puts ``axis``: it is ``moveaxis(a, axis, dest)``."""
    axis = axis % ndim
    if start < 0:
        start += ndim
    return start - 1 if axis < start else start


def tile_shapes(shape, reps):
    """For the adjoint of ``np.tile(A, reps)``: the output seen as (rep, size) pairs.

    Returns ``(split, axes)``: reshaping the output to ``split`` and summing
    over ``axes`` gives an array the size of ``A``.
    """
    reps = (reps,) if isinstance(reps, int) else tuple(reps)
    d = max(len(shape), len(reps))
    shape = (1,) * (d - len(shape)) + tuple(shape)
    reps = (1,) * (d - len(reps)) + reps
    split = []
    for r, n in zip(reps, shape):
        split += [r, n]
    return tuple(split), tuple(range(0, 2 * d, 2))


def kron_shapes(shape_a, shape_b):
    """For the adjoints of ``np.kron(a, b)``.

    Returns ``(split, a_axes, b_axes, a_shape, b_shape)``: the output reshaped
    to ``split`` has ``a``'s axes at ``a_axes`` and ``b``'s at ``b_axes``, with
    both shapes padded with leading ones to the same rank.
    """
    d = max(len(shape_a), len(shape_b))
    a = (1,) * (d - len(shape_a)) + tuple(shape_a)
    b = (1,) * (d - len(shape_b)) + tuple(shape_b)
    split = []
    for m, n in zip(a, b):
        split += [m, n]
    return tuple(split), list(range(0, 2 * d, 2)), list(range(1, 2 * d, 2)), a, b


def _tensordot_pairs(nd_a, nd_b, axes):
    if isinstance(axes, int):
        return list(range(nd_a - axes, nd_a)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, int) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, int) else list(b_axes)
    return [i % nd_a for i in a_axes], [i % nd_b for i in b_axes]


def tensordot_vjp_axes(nd_a, nd_b, axes, argnum):
    """For the adjoint of ``np.tensordot(a, b, axes)`` with respect to operand ``argnum``.

    Returns ``(g_axes, other_axes, perm)``: the cotangent of ``a`` (argnum 0)
    is ``transpose(tensordot(g, b, (g_axes, other_axes)), perm)``, that of
    ``b`` (argnum 1) ``transpose(tensordot(a, g, (other_axes, g_axes)), perm)``.
    """
    ca, cb = _tensordot_pairs(nd_a, nd_b, axes)
    fa = [i for i in range(nd_a) if i not in ca]
    fb = [i for i in range(nd_b) if i not in cb]
    if argnum == 0:
        g_axes = list(range(len(fa), len(fa) + len(fb)))
        labels = fa + [ca[cb.index(i)] for i in sorted(cb)]
        other = fb
    else:
        g_axes = list(range(len(fa)))
        labels = [cb[ca.index(i)] for i in sorted(ca)] + fb
        other = fa
    perm = [0] * len(labels)
    for pos, lab in enumerate(labels):
        perm[lab] = pos
    return g_axes, other, tuple(perm)


def take_index(shape, indices, axis=None, mode="raise"):
    """An index ``i`` with ``a[i] == np.take(a, indices, axis, mode=mode)`` (``a`` of ``shape``)."""
    n = math.prod(shape) if axis is None else shape[axis]
    idx = numpy.asarray(indices)
    if mode == "wrap":
        idx = idx % n
    elif mode == "clip":
        idx = numpy.clip(idx, 0, n - 1)
    else:
        idx = numpy.where(idx < 0, idx + n, idx)
    if axis is None:
        return numpy.unravel_index(idx, shape)
    return (slice(None),) * (axis % len(shape)) + (idx,)


def along_axis(indices, axis, shape):
    """An index ``i`` with ``a[i] == np.take_along_axis(a, indices, axis)`` (``a`` of ``shape``)."""
    idx = numpy.asarray(indices)
    if axis is None:
        n = math.prod(shape)
        return numpy.unravel_index(numpy.where(idx < 0, idx + n, idx), shape)
    nd = len(shape)
    axis = axis % nd
    out = []
    for d in range(nd):
        if d == axis:
            out.append(numpy.where(idx < 0, idx + shape[d], idx))
        else:
            out.append(numpy.arange(shape[d]).reshape((1,) * d + (-1,) + (1,) * (nd - d - 1)))
    return tuple(out)


def along_shape(ndim, axis, shape):
    """The shape that makes a 1-D array of ``shape`` broadcast along ``axis`` of an ``ndim`` array.

    (For ``np.average``'s 1-D ``weights`` and ``np.linspace``'s steps; an
    array that already has ``ndim`` dimensions keeps its shape.)
    """
    if len(shape) == ndim or axis is None:
        return tuple(shape)
    axis = axis % ndim
    return (1,) * axis + tuple(shape) + (1,) * (ndim - axis - 1)


def axis_pad(ndim, axis, before, after):
    """``np.pad`` widths that pad only ``axis``, by ``before`` and ``after``."""
    widths = [(0, 0)] * ndim
    widths[axis % ndim] = (before, after)
    return widths


def meshgrid_axes(n, k, indexing="xy"):
    """``(own, others)``: the axis of ``np.meshgrid``'s output ``k`` (of ``n``) that holds
    input ``k``, and the axes along which it is repeated."""
    own = 1 - k if indexing == "xy" and n >= 2 and k < 2 else k
    return own, tuple(i for i in range(n) if i != own)


def median_weights(a, axis=None, nan=False):
    """``w`` with ``d median(a) = sum(w * da, axis)``: halves on the two middle elements.

    Ties share their half equally.  ``nan=True`` is for ``np.nanmedian``
    (NaNs get no weight).
    """
    a = numpy.asarray(a)
    quantile = numpy.nanquantile if nan else numpy.quantile
    lo = quantile(a, 0.5, axis=axis, method="lower", keepdims=True)
    hi = quantile(a, 0.5, axis=axis, method="higher", keepdims=True)
    at_lo = a == lo
    at_hi = a == hi
    n_lo = numpy.sum(at_lo, axis=axis, keepdims=True)
    n_hi = numpy.sum(at_hi, axis=axis, keepdims=True)
    return 0.5 * at_lo / numpy.maximum(n_lo, 1) + 0.5 * at_hi / numpy.maximum(n_hi, 1)


def _kept(r, ndim, axis, keepdims):
    """A reduction's result ``r`` with its reduced axes kept (as ``keepdims=True`` gives)."""
    if keepdims or axis is None and numpy.ndim(r) == ndim:
        return r
    if axis is None:
        return numpy.reshape(r, (1,) * ndim)
    axes = axis if isinstance(axis, tuple) else (axis,)
    return numpy.expand_dims(r, tuple(a % ndim for a in axes))


def extremum_shares(ans, a, axis=None, keepdims=False, initial=None, where=True):
    """``(shares of a, share of initial)`` in ``d max(a, axis, initial=, where=)`` (or ``min``).

    The elements ``where`` selects that equal the result share its derivative
    equally, with ``initial`` when it ties them; the first share has ``a``'s
    shape, the second the result's.
    """
    a = numpy.asarray(a)
    hit = (a == _kept(ans, a.ndim, axis, keepdims)) & numpy.asarray(where, dtype=bool)
    count = numpy.sum(hit, axis=axis, keepdims=keepdims)
    won = numpy.zeros(numpy.shape(ans)) if initial is None else (ans == initial) * 1.0
    total = count + won
    return hit / _kept(total, a.ndim, axis, keepdims), won / total


# ---------------------------------------------------------------------------
# Products: derivatives that stay exact when factors are zero
# ---------------------------------------------------------------------------


def _zero_split(a, axis):
    """Zeros of ``a``, ``a`` with zeros made ones, and per element the zeros among the others."""
    zero = a == 0
    safe = numpy.where(zero, 1, a)
    others = numpy.sum(zero, axis=axis, keepdims=True) - zero
    return zero, safe, others


def prod_others(a, axis=None):
    """Each element's product of the *other* elements of its ``np.prod`` group (over ``axis``).

    The derivative of ``np.prod(a, axis)``; exact when ``a`` has zeros and
    linear in time (no division by a zero factor).
    """
    a = numpy.asarray(a)
    zero, safe, others = _zero_split(a, axis)
    q = numpy.prod(safe, axis=axis, keepdims=True) / safe
    return numpy.where(others == 0, q, 0.0 * q)


def prod_others_jvp(t, a, axis=None):
    """The derivative of ``prod_others(a, axis)`` along ``t`` (zero-safe)."""
    a = numpy.asarray(a)
    zero, safe, others = _zero_split(a, axis)
    q = numpy.prod(safe, axis=axis, keepdims=True) / safe
    ratio = numpy.where(zero, 0.0, t / safe)
    s = numpy.sum(ratio, axis=axis, keepdims=True) - ratio
    at_zero = numpy.where(zero, t, 0.0)
    t0 = numpy.sum(at_zero, axis=axis, keepdims=True) - at_zero
    return numpy.where(others == 0, q * s, numpy.where(others == 1, q * t0, 0.0 * q))


def _flat_axis(a, t, axis):
    """``(a, t, axis)`` flattened when ``axis`` is None (``np.cumprod`` flattens then)."""
    if axis is None:
        return numpy.reshape(a, (-1,)), numpy.reshape(t, (-1,)), 0
    return a, t, axis


def _cumprod_parts(a, axis):
    zero = a == 0
    count = numpy.cumsum(zero, axis=axis)
    before = count == 0                      # no zero up to and including here
    first = zero & (count == 1)              # the first zero
    c = numpy.cumprod(numpy.where(first, 1, a), axis=axis)
    return before, first, numpy.where(zero, 1, a), c


def _rcumsum(x, axis):
    return numpy.flip(numpy.cumsum(numpy.flip(x, axis=axis), axis=axis), axis=axis)


def cumprod_jvp(t, a, axis=None):
    """The derivative of ``np.cumprod(a, axis)`` along ``t``, exact when ``a`` has zeros."""
    a, t, ax = _flat_axis(numpy.asarray(a), t, axis)
    t = numpy.broadcast_to(t, a.shape)
    before, first, safe, c = _cumprod_parts(a, ax)
    t_first = numpy.sum(numpy.where(first, t, 0.0), axis=ax, keepdims=True)
    return c * numpy.where(before, numpy.cumsum(t / safe, axis=ax), t_first)


def cumprod_vjp(g, a, axis=None):
    """The adjoint of ``cumprod_jvp``: the cotangent of ``a`` in ``np.cumprod(a, axis)``."""
    shape = _shape(a)
    a, g, ax = _flat_axis(numpy.asarray(a), g, axis)
    g = numpy.broadcast_to(g, a.shape)
    before, first, safe, c = _cumprod_parts(a, ax)
    u = g * c
    out = numpy.where(before, _rcumsum(numpy.where(before, u, 0.0), ax) / safe,
                      numpy.where(first, _rcumsum(u, ax), 0.0 * u))
    return numpy.reshape(out, shape)


# ---------------------------------------------------------------------------
# Adjoints of shape functions
# ---------------------------------------------------------------------------


def repeat_vjp(g, a, repeats, axis=None):
    """The adjoint of ``np.repeat(a, repeats, axis)``: sums of the repeated copies."""
    shape = _shape(a)
    g = numpy.asarray(g)
    if axis is None:
        n, ax = math.prod(shape), 0
    else:
        ax = axis % len(shape)
        n = shape[ax]
    if numpy.ndim(repeats) == 0 or numpy.size(repeats) == 1:
        r = int(numpy.reshape(repeats, ()))
        gshape = g.shape if axis is not None else (n * r,)
        split = gshape[:ax] + (n, r) + gshape[ax + 1:]
        return numpy.reshape(numpy.sum(numpy.reshape(g, split), axis=ax + 1), shape)
    ids = numpy.repeat(numpy.arange(n), repeats)
    out_shape = (n,) if axis is None else shape
    out = numpy.zeros(out_shape, dtype=numpy.result_type(g, 0.0))
    numpy.add.at(out, (slice(None),) * ax + (ids,), g)
    return numpy.reshape(out, shape)


def diagonal_vjp(g, a, offset=0, axis1=0, axis2=1):
    """The adjoint of ``np.diagonal(a, offset, axis1, axis2)``: ``g`` placed on that diagonal.

    ``g`` may be anything that broadcasts to the diagonal's shape.
    """
    shape = _shape(a)
    out = numpy.zeros(shape, dtype=numpy.result_type(numpy.asarray(g), 0.0))
    view = numpy.moveaxis(out, (axis1, axis2), (-2, -1))
    n1, n2 = view.shape[-2:]
    if offset >= 0:
        k = max(0, min(n1, n2 - offset))
        rows, cols = numpy.arange(k), numpy.arange(k) + offset
    else:
        k = max(0, min(n1 + offset, n2))
        rows, cols = numpy.arange(k) - offset, numpy.arange(k)
    view[..., rows, cols] = g
    return out


def _promoted_shape(x, promote):
    s = _shape(x)
    if promote == "ravel":
        return (math.prod(s),)
    if promote == "column":
        return s + (1,) if len(s) < 2 else s
    if promote == "atleast_1d":
        return s if len(s) >= 1 else (1,)
    if promote == "atleast_2d":
        return s if len(s) >= 2 else (1,) * (2 - len(s)) + s
    if promote == "atleast_3d":
        if len(s) == 0:
            return (1, 1, 1)
        if len(s) == 1:
            return (1,) + s + (1,)
        if len(s) == 2:
            return s + (1,)
        return s
    return s


def split_as(g, arrays, axis=0, promote=None):
    """Pieces of ``g`` along ``axis``, one shaped like each of ``arrays``.

    The adjoint of stacking ``arrays`` after promoting each (``"atleast_2d"``
    for ``np.vstack``, ``"column"`` for ``np.column_stack``, ``"ravel"`` ...).
    """
    pieces, start = [], 0
    nd = numpy.ndim(g)
    ax = axis % nd
    for x in arrays:
        n = _promoted_shape(x, promote)[ax]
        piece = g[(slice(None),) * ax + (slice(start, start + n),)]
        pieces.append(numpy.reshape(piece, _shape(x)))
        start += n
    return pieces


def join_as(pieces, arrays, axis=0, promote=None):
    """The adjoint of ``split_as``: the pieces promoted like ``arrays`` and concatenated."""
    parts = [numpy.reshape(p, _promoted_shape(x, promote)) for p, x in zip(pieces, arrays)]
    return numpy.concatenate(parts, axis=axis)


def put_along_winners(indices, shape, axis):
    """Which writes of ``np.put_along_axis(arr, indices, values, axis)`` (``arr`` of
    ``shape``) stay in ``arr``: a bool array of the (broadcast) ``indices``' shape, false
    where a later write to the same place replaced the value (repeated indices).  Found by
    NumPy's own put of the writes' numbers, so it is what NumPy keeps."""
    indices = numpy.asarray(indices)
    ids = numpy.arange(indices.size).reshape(indices.shape)
    owner = numpy.full(shape, -1, dtype=numpy.intp)
    numpy.put_along_axis(owner, indices, ids, axis)
    return numpy.take_along_axis(owner, indices, axis) == ids


def put_along(arr, indices, values, axis):
    """``np.put_along_axis`` without the side effect: a copy of ``arr`` with ``values`` put."""
    dtype = numpy.result_type(numpy.asarray(arr), numpy.asarray(values))
    out = numpy.array(arr, dtype=dtype, copy=True)
    numpy.put_along_axis(out, indices, values, axis)
    return out


# ---------------------------------------------------------------------------
# np.pad
# ---------------------------------------------------------------------------
#
# np.pad pads one axis after the other, each axis reading the values the
# earlier ones padded (so corners come out right), and every mode keeps the
# array's elements and fills the pad of an axis from the elements of its own
# line.  Its derivative is that sequence of one-axis maps, and its adjoint the
# same maps transposed, in reverse order.  Along an axis of length n:
#
# - constant, edge, linear_ramp, reflect, symmetric and wrap fill the pad with
#   +-x[i] (an edge, reflected or wrapped element) plus multiples of the end
#   elements x[0] and x[n-1] (an odd reflection, a ramp): a gather, which
#   ``_pad_line`` finds by padding a few probe vectors of length n;
# - mean, maximum, minimum and median fill each side with a statistic of a
#   window of elements, a weighted sum of them (``_stat_weights``).

PAD_MODES = ("constant", "edge", "linear_ramp", "maximum", "mean", "median", "minimum",
             "reflect", "symmetric", "wrap")
_PAD_STATS = ("maximum", "mean", "median", "minimum")


def pad_problem(mode):
    """``(what, why)`` when ``np.pad(..., mode)`` has no derivative, else ``None``."""
    if callable(mode):
        return ("a function as mode",
                "it writes the pad in place, one line at a time, where no rule sees it; "
                "pad with one of the modes " + ", ".join(PAD_MODES) + " and compute from that")
    if mode == "empty":
        return ("mode='empty'", "its pad is uninitialized memory, which has no derivative")
    return None


def _check_pad_mode(mode):
    problem = pad_problem(mode)
    if problem is not None:
        raise NotImplementedError(f"s2sgrad cannot differentiate np.pad with {problem[0]}: "
                                  f"{problem[1]}")


def _pairs(x, ndim):
    """``x`` as ``ndim`` (before, after) pairs, read the way ``np.pad`` reads its arguments."""
    x = numpy.asarray(x)
    if x.ndim < 3 and x.size == 1:
        return numpy.broadcast_to(numpy.reshape(x, ()), (ndim, 2))
    if x.ndim < 3 and x.size == 2 and x.shape != (2, 1):
        return numpy.broadcast_to(numpy.reshape(x, (2,)), (ndim, 2))
    return numpy.broadcast_to(x, (ndim, 2))


def _pad_widths(pad_width, ndim):
    """``np.pad``'s ``pad_width`` (an int, a pair, a pair per axis, a dict) as pairs of ints."""
    if isinstance(pad_width, dict):
        widths = [(0, 0)] * ndim
        for axis, w in pad_width.items():
            widths[axis] = (w, w) if numpy.ndim(w) == 0 else tuple(w)
        pad_width = widths
    return [(int(b), int(a)) for b, a in _pairs(numpy.round(pad_width).astype(int), ndim)]


def _stat_lengths(stat_length, ndim):
    if stat_length is None:
        return [(None, None)] * ndim
    return [(int(b), int(a)) for b, a in _pairs(numpy.round(stat_length).astype(int), ndim)]


def _pad_options(mode, stat_length=None, reflect_type="even"):
    """The keywords of ``np.pad`` for ``mode``, with its constants (values, ramp ends) zero."""
    if mode in _PAD_STATS and stat_length is not None:
        return {"stat_length": stat_length}
    if mode in ("reflect", "symmetric"):
        return {"reflect_type": reflect_type}
    return {}


def _on_axis(width, axis, ndim):
    widths = [(0, 0)] * ndim
    widths[axis] = width
    return widths


def _pad_line(n, width, mode, reflect_type="even"):
    """The pad of one axis of length ``n`` as gathers: ``(where, terms)``.

    ``where`` are the pad's positions along the padded axis, and the pad holds
    ``sum(coef * x[index] for index, coef in terms)`` there (``coef`` None is 1).
    Found by padding, with NumPy itself, the positions ``arange(n)`` (which
    element each pad position copies), the inner positions (the sign of the
    copy in an odd reflection) and the two end elements (their multiples).
    A pad narrower than half the axis reads only the elements near its ends,
    so a long axis is probed through those alone (the cost is the pad's).
    """
    b, c = width
    where = numpy.r_[0:b, b + n:b + n + c]
    if mode == "constant" or not where.size:
        return where, []
    near = max(b, c) + 1
    if n > 2 * near:
        ends = numpy.r_[0:near, n - near:n]
        return where, [(ends[index], coef) for index, coef in
                       _pad_line(2 * near, width, mode, reflect_type)[1]]
    copies = mode if mode in ("reflect", "symmetric", "wrap") else "edge"
    index = numpy.pad(numpy.arange(n), width, copies)[where]
    if mode in ("edge", "wrap") or mode in ("reflect", "symmetric") and reflect_type != "odd":
        return where, [(index, None)]
    options = _pad_options(mode, None, reflect_type)
    inner = numpy.arange(n, dtype=float)
    inner[[0, -1]] = 0.0
    sign = numpy.pad(inner, width, mode, **options)[where] / numpy.maximum(index, 1)
    terms = [(index, sign)]
    for end in sorted({0, n - 1}):
        unit = numpy.zeros(n)
        unit[end] = 1.0
        terms.append((numpy.full(where.size, end), numpy.pad(unit, width, mode, **options)[where]))
    return where, terms


def _add_rows(out, index, rows):
    """``out[index] += rows`` along the first axis, repeated indices adding up (``np.add.at``,
    by sorting the few pad positions and summing runs of equal indices)."""
    order = numpy.argsort(index, kind="stable")
    index = index[order]
    starts = numpy.flatnonzero(numpy.r_[True, index[1:] != index[:-1]])
    out[index[starts]] += numpy.add.reduceat(rows[order], starts, axis=0)


def _line_vjp(g, axis, n, width, mode, reflect_type):
    """The adjoint of padding ``axis`` (length ``n``) with a gather mode: the copies added back."""
    b = width[0]
    g = numpy.moveaxis(numpy.asarray(g), axis, 0)
    out = numpy.array(g[b:b + n], dtype=numpy.result_type(g, 0.0))
    where, terms = _pad_line(n, width, mode, reflect_type)
    pad = g[where]
    for index, coef in terms:
        _add_rows(out, index,
                  pad if coef is None else numpy.reshape(coef, (-1,) + (1,) * (g.ndim - 1)) * pad)
    return numpy.moveaxis(out, 0, axis)


def _stat_hits(values, axis, mode):
    """Where the maximum (minimum) of ``values`` over ``axis`` is, and how many share it."""
    best = (numpy.max if mode == "maximum" else numpy.min)(values, axis=axis, keepdims=True)
    hit = values == best
    return hit, numpy.sum(hit, axis=axis, keepdims=True)


def _stat_spread(into, values, axis, mode, total):
    """``into += w * total``, with ``d stat(values, axis) = sum(w * d values, axis)`` for the
    maximum, minimum or median (ties share)."""
    if mode == "median":
        into += median_weights(values, axis) * total
        return
    hit, count = _stat_hits(values, axis, mode)
    numpy.add(into, total / count, out=into, where=hit)


def _stat_pick(t, values, axis, mode):
    """``sum(w * t, axis)``: the derivative of the statistic of ``values`` along ``t``."""
    if mode == "median":
        return numpy.sum(median_weights(values, axis) * t, axis=axis, keepdims=True)
    hit, count = _stat_hits(values, axis, mode)
    return numpy.sum(t, axis=axis, keepdims=True, where=hit) / count


def _windows(n, lengths):
    """The index ranges of the elements each side's statistic reads (NumPy's clipping)."""
    lo, hi = (n if length is None or length > n else length for length in lengths)
    return slice(0, lo), slice(n - hi, n)


def _take(x, index, axis):
    return x[(slice(None),) * axis + (index,)]


def _stat_steps(array, widths, mode, stat_length):
    """The array after padding each axis in turn: the values the statistics read."""
    steps = [numpy.asarray(array)]
    options = _pad_options(mode, stat_length)
    for axis, width in enumerate(widths[:-1]):
        steps.append(numpy.pad(steps[-1], _on_axis(width, axis, len(widths)), mode, **options))
    return steps


def _stat_sides(n, width, lengths):
    """``[(pad positions, window), ...]``: each side's pad and the window its statistic reads;
    one entry for both sides when they read the same window (the whole axis, often)."""
    b, c = width
    before, after = _windows(n, lengths)
    if before == after:
        return [(numpy.r_[0:b, b + n:b + n + c], before)]
    return [(slice(0, b), before), (slice(b + n, b + n + c), after)]


def pad_vjp(g, array, pad_width, mode="constant", stat_length=None, reflect_type="even"):
    """The adjoint of ``np.pad(array, pad_width, mode, ...)``: the cotangent of ``array``.

    Each axis, last to first: the pad's cotangent goes back to the elements it
    copies (gather modes), or is spread over the window of its statistic.
    """
    _check_pad_mode(mode)
    shape = _shape(array)
    widths = _pad_widths(pad_width, len(shape))
    if mode not in _PAD_STATS:
        for axis in reversed(range(len(shape))):
            g = _line_vjp(g, axis, shape[axis], widths[axis], mode, reflect_type)
        return numpy.reshape(g, shape)
    lengths = _stat_lengths(stat_length, len(shape))
    steps = _stat_steps(array, widths, mode, stat_length) if mode != "mean" else None
    g = numpy.asarray(g)
    for axis in reversed(range(len(shape))):
        (b, _), n = widths[axis], shape[axis]
        out = numpy.array(_take(g, slice(b, b + n), axis), dtype=numpy.result_type(g, 0.0))
        for pad, window in _stat_sides(n, widths[axis], lengths[axis]):
            total = numpy.sum(_take(g, pad, axis), axis=axis, keepdims=True)
            into = out[(slice(None),) * axis + (window,)]
            if steps is None:                       # the mean: equal shares
                into += total / (window.stop - window.start)
            else:
                _stat_spread(into, _take(steps[axis], window, axis), axis, mode, total)
        g = out
    return numpy.reshape(g, shape)


def pad_jvp(v, array, pad_width, mode="constant", stat_length=None, reflect_type="even"):
    """The derivative of ``np.pad(array, pad_width, mode, ...)`` along ``v``.

    The linear modes pad ``v`` the same way, with their constants zero; the
    maximum, minimum and median copy the tangent of the element they pick
    in ``array`` (ties share).
    """
    _check_pad_mode(mode)
    if mode not in ("maximum", "minimum", "median"):
        return numpy.pad(v, pad_width, mode, **_pad_options(mode, stat_length, reflect_type))
    shape = _shape(array)
    widths = _pad_widths(pad_width, len(shape))
    lengths = _stat_lengths(stat_length, len(shape))
    steps = _stat_steps(array, widths, mode, stat_length)
    t = numpy.broadcast_to(v, shape)
    for axis, ((b, c), n) in enumerate(zip(widths, shape)):
        sides = {}
        for window in _windows(n, lengths[axis]):
            if (window.start, window.stop) not in sides:
                sides[window.start, window.stop] = _stat_pick(
                    _take(t, window, axis), _take(steps[axis], window, axis), axis, mode)
        before, after = (sides[w.start, w.stop] for w in _windows(n, lengths[axis]))
        t = numpy.concatenate([numpy.repeat(before, b, axis=axis), t,
                               numpy.repeat(after, c, axis=axis)], axis=axis)
    return t


def pad_values_vjp(v, array, pad_width, mode, values):
    """The cotangent of ``constant_values`` (mode constant) or ``end_values`` (linear_ramp).

    Each axis, last to first, its before and after values receive the pad's
    cotangent weighted by how much of them each position holds; the cotangent
    then goes back through the axis (later axes read what earlier ones padded).
    """
    shape = _shape(array)
    nd = len(shape)
    widths = _pad_widths(pad_width, nd)
    key = "constant_values" if mode == "constant" else "end_values"
    g = numpy.asarray(v)
    sums = numpy.zeros((nd, 2), dtype=numpy.result_type(g, 0.0))
    for axis in reversed(range(nd)):
        line = numpy.sum(g, axis=tuple(i for i in range(nd) if i != axis))
        for side, ends in enumerate(((1.0, 0.0), (0.0, 1.0))):
            weight = numpy.pad(numpy.zeros(shape[axis]), widths[axis], mode, **{key: ends})
            sums[axis, side] = weight @ line
        g = _line_vjp(g, axis, shape[axis], widths[axis], mode, "even")
    v = numpy.asarray(values)
    if v.ndim < 3 and v.size == 1:
        out = numpy.sum(sums)
    elif v.ndim < 3 and v.size == 2 and v.shape != (2, 1):
        out = numpy.sum(sums, axis=0)
    else:
        squeeze = tuple(i for i in range(2) if v.shape[i - 2] == 1 and sums.shape[i] != 1)
        out = numpy.sum(sums, axis=squeeze, keepdims=True)
    out = numpy.reshape(out, v.shape)
    if not numpy.iscomplexobj(v):
        out = numpy.real(out)
    return float(out) if isinstance(values, (int, float)) else out


# ---------------------------------------------------------------------------
# einsum
# ---------------------------------------------------------------------------

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _einsum_parse(subscripts, ndims):
    """Input and output subscripts of an einsum, with ellipses replaced by letters."""
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        lhs, out = spec.split("->")
    else:
        lhs, out = spec, None
    ins = lhs.split(",")
    used = set(spec) - set(".,->")
    free = [c for c in _LETTERS if c not in used]
    n_ell = max([nd - (len(s) - 3) for s, nd in zip(ins, ndims) if "..." in s] + [0])
    ell = "".join(free[:n_ell])
    ins = [s.replace("...", ell[n_ell - (nd - (len(s) - 3)):]) for s, nd in zip(ins, ndims)]
    if out is None:
        counts = {}
        for s in ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return ins, out


def einsum_spec(subscripts, operands):
    """The subscripts string of ``np.einsum(subscripts, *operands)`` in either form.

    In the sublist form, ``np.einsum(a, [0, 1], b, [1, 2], [0, 2])``, ``subscripts``
    is the first operand and ``operands`` alternate sublists and arrays, with the
    output's sublist last when given; the arrays are then ``subscripts`` and
    ``operands[1:len(operands) - 1:2]``.
    """
    if isinstance(subscripts, str):
        return subscripts

    def letters(sublist):
        return "".join("..." if s is Ellipsis else _LETTERS[operator.index(s)] for s in sublist)
    inputs = ",".join(letters(sub) for sub in operands[0::2])
    if len(operands) % 2 == 0:
        return inputs + "->" + letters(operands[-1])
    return inputs


def einsum_vjp(g, subscripts, k, *operands):
    """The cotangent of operand ``k`` of ``np.einsum(subscripts, *operands)`` given ``g``.

    An einsum of ``g`` with the other operands, then summed over broadcast
    axes, broadcast over indices only operand ``k`` has, and put on the
    diagonals where operand ``k`` repeats an index (``'ii->i'``).
    """
    ins, out = _einsum_parse(subscripts, [numpy.ndim(o) for o in operands])
    target = ins[k]
    shape = _shape(operands[k])
    others = [o for i, o in enumerate(operands) if i != k]
    other_subs = [s for i, s in enumerate(ins) if i != k]
    present = set(out).union(*other_subs) if other_subs else set(out)
    letters = "".join(dict.fromkeys(target))                # each index once, in order
    kept = "".join(c for c in letters if c in present)
    spec = ",".join([out] + other_subs) + "->" + kept
    r = numpy.einsum(spec, g, *others, optimize=len(others) > 1)
    size = {c: shape[target.index(c)] for c in letters}
    # Sum over axes where operand k was broadcast (size 1), then insert its own indices.
    squash = tuple(i for i, c in enumerate(kept) if size[c] == 1 and r.shape[i] != 1)
    if squash:
        r = numpy.sum(r, axis=squash, keepdims=True)
    # kept is letters without some: insert their axes, then broadcast to operand k's sizes
    r = numpy.reshape(r, [r.shape[kept.index(c)] if c in kept else 1 for c in letters])
    r = numpy.broadcast_to(r, [size[c] for c in letters])
    if letters == target:
        return r
    out_arr = numpy.zeros(shape, dtype=r.dtype)
    grid = numpy.indices([size[c] for c in letters], sparse=True)
    out_arr[tuple(grid[letters.index(c)] for c in target)] = r
    return out_arr


# ---------------------------------------------------------------------------
# Quantiles, 1-D convolutions, interpolation and finite differences
# ---------------------------------------------------------------------------


def _axes_tuple(axis, nd):
    if axis is None:
        return tuple(range(nd))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(int(a) % nd for a in axes))


def conv1d_start(n1, n2, mode="full", correlate=False):
    """Where the output of ``np.convolve`` (or ``np.correlate``) of lengths ``n1``, ``n2`` starts
    in the full convolution (correlation)."""
    k = min(n1, n2)
    if mode == "full":
        return 0
    if mode == "valid":
        return k - 1
    if mode == "same":
        if correlate and n1 < n2:
            return k // 2   # np.correlate swaps its inputs and reverses the output
        return (k - 1) // 2
    raise ValueError(f"unknown convolution mode {mode!r}")


def interp_index(x, xp, period=None):
    """``(i, inside)``: the segment ``[xp[i], xp[i + 1]]`` that ``np.interp`` uses at each ``x``,
    and whether ``x`` lies in ``[xp[0], xp[-1]]``."""
    if period is not None:
        raise ValueError("s2sgrad's np.interp rules cover non-periodic interpolation")
    x = numpy.asarray(x)
    xp = numpy.asarray(xp)
    i = numpy.clip(numpy.searchsorted(xp, x, side="right") - 1, 0, max(len(xp) - 2, 0))
    inside = (x >= xp[0]) & (x <= xp[-1])
    return i, inside


def _gradient_axis_vjp(g, h, axis, edge_order):
    """The adjoint of ``np.gradient`` along one ``axis`` with uniform spacing ``h``."""
    g = numpy.moveaxis(numpy.asarray(g), axis, 0) / h
    out = numpy.zeros(g.shape, dtype=g.dtype)
    out[2:] += g[1:-1] / 2
    out[:-2] -= g[1:-1] / 2
    if edge_order == 1:
        out[0] -= g[0]
        out[1] += g[0]
        out[-1] += g[-1]
        out[-2] -= g[-1]
    else:
        out[0] -= 1.5 * g[0]
        out[1] += 2.0 * g[0]
        out[2] -= 0.5 * g[0]
        out[-1] += 1.5 * g[-1]
        out[-2] -= 2.0 * g[-1]
        out[-3] += 0.5 * g[-1]
    return numpy.moveaxis(out, 0, axis)


def gradient_vjp(y, f, spacing=(), axis=None, edge_order=1):
    """The adjoint of ``np.gradient(f, *spacing, axis=axis, edge_order=edge_order)`` for
    scalar spacings: ``y`` is one array (one axis) or a sequence (one per axis)."""
    g = y
    nd = len(_shape(f))
    if axis is None:
        axes = tuple(range(nd))
    else:
        axes = tuple(int(a) % nd for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    gs = [g] if len(axes) == 1 else list(g)
    if any(numpy.ndim(h) != 0 for h in spacing):
        raise ValueError("s2sgrad's np.gradient rules cover scalar spacings, not coordinate "
                         "arrays")
    hs = list(spacing) if len(spacing) > 1 else list(spacing) * len(axes) if spacing else \
        [1.0] * len(axes)
    out = 0
    for gi, h, ax in zip(gs, hs, axes):
        out = out + _gradient_axis_vjp(gi, h, ax, edge_order)
    return out


def _quantile_plan(a, q, axis, nan, method):
    """Where ``np.quantile(a, q, axis)`` (method ``linear``) reads ``a``: for each quantile and
    each slice, the positions along the reduced (moved, flattened) axis of its two order
    statistics and their weights, with the layout to move an array to and from that axis."""
    if method != "linear":
        raise ValueError(f"s2sgrad's quantile rules cover method='linear', not {method!r}")
    a = numpy.asarray(a)
    q = numpy.asarray(q, dtype=float)
    nd = a.ndim
    axes = _axes_tuple(axis, nd)
    rest = tuple(i for i in range(nd) if i not in axes)
    rest_shape = tuple(a.shape[i] for i in rest)
    m = math.prod(a.shape[i] for i in axes)
    b = numpy.transpose(a, rest + axes).reshape(rest_shape + (m,))
    order = numpy.argsort(b, axis=-1, kind="stable")
    if nan:
        n = numpy.sum(~numpy.isnan(b), axis=-1, keepdims=True)
    else:
        n = numpy.full(rest_shape + (1,), m)
    pos = q.reshape(q.shape + (1,) * b.ndim) * (n - 1)      # q.shape + rest_shape + (1,)
    lo = numpy.clip(numpy.floor(pos), 0, None).astype(numpy.intp)
    f = pos - lo
    hi = numpy.minimum(lo + 1, numpy.maximum(n - 1, 0))
    full_order = numpy.broadcast_to(order, q.shape + order.shape)
    ilo = numpy.take_along_axis(full_order, lo, axis=-1)[..., 0]
    ihi = numpy.take_along_axis(full_order, hi, axis=-1)[..., 0]
    f = f[..., 0]
    return ilo, ihi, f, rest, axes, rest_shape, m


def quantile_jvp(x, a, q, axis=None, keepdims=False, nan=False, method="linear"):
    """The tangent of ``np.quantile(a, q, axis, method="linear", keepdims=keepdims)`` (or of
    ``np.nanquantile`` if ``nan``) for the tangent ``x`` of ``a``: the interpolation weights
    ``1 - f`` and ``f`` on the two order statistics each quantile lies between."""
    t = x
    ilo, ihi, f, rest, axes, rest_shape, m = _quantile_plan(a, q, axis, nan, method)
    a_shape = _shape(a)
    t = numpy.broadcast_to(numpy.asarray(t), a_shape)
    if nan:
        t = numpy.where(numpy.isnan(a), 0.0, t)
    tb = numpy.transpose(t, rest + axes).reshape(rest_shape + (m,))
    tb = numpy.broadcast_to(tb, ilo.shape + (m,))
    out = ((1.0 - f) * numpy.take_along_axis(tb, ilo[..., None], axis=-1)[..., 0]
           + f * numpy.take_along_axis(tb, ihi[..., None], axis=-1)[..., 0])
    if keepdims:
        kept = tuple(1 if i in axes else n for i, n in enumerate(a_shape))
        out = out.reshape(numpy.shape(q) + kept)
    return out


def quantile_vjp(y, a, q, axis=None, keepdims=False, nan=False, method="linear"):
    """The adjoint of ``quantile_jvp``: the cotangent ``y`` of the quantiles placed on the
    two order statistics of each, with their interpolation weights (summed over ``q``)."""
    ilo, ihi, f, rest, axes, rest_shape, m = _quantile_plan(a, q, axis, nan, method)
    a_shape = _shape(a)
    g = numpy.reshape(numpy.asarray(y), ilo.shape)
    size = math.prod(rest_shape)
    base = (numpy.arange(size).reshape(rest_shape) * m)
    index = numpy.concatenate([(base + ilo).ravel(), (base + ihi).ravel()])

    def count(w):
        return numpy.bincount(index, weights=w, minlength=size * m)
    w = numpy.concatenate([((1.0 - f) * g).ravel(), (f * g).ravel()])
    ct = count(w.real) + 1j * count(w.imag) if numpy.iscomplexobj(w) else count(w)
    moved = tuple(a_shape[i] for i in rest + axes)
    ct = ct.reshape(moved)
    return numpy.transpose(ct, tuple(int(i) for i in numpy.argsort(rest + axes)))
