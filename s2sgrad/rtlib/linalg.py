"""Runtime helpers for the rules of numpy.linalg, numpy.fft and scipy.linalg.

Each helper is a small, namespace-generic array function over the last two
axes (stacks of matrices broadcast as NumPy does).  Every one of them is a
primitive with rules of its own in ``s2sgrad.rules.linalg_runtime``, so
derivative code that calls them can be differentiated again.
"""

import numpy

from ..runtime import namespace, ndim, shape

__all__ = [
    "mT", "as_matrix", "diag_part", "diag_matrix", "expand_mat", "from_triangle",
    "to_triangle", "half_triangle", "inv_gaps", "block_upper", "fft_pad", "fft_unpad",
    "halfspec_weight", "fft_axes", "multi_dot_vjp", "multi_dot_jvp", "is_matrix_norm",
    "check_reduced_svd", "tri_mask", "band_matmul", "band_outer", "band_transpose",
    "conv_crop", "conv_embed", "solve_tri",
]


def _xp(*xs):
    for x in xs:
        if hasattr(x, "shape") and not isinstance(x, numpy.generic):
            return namespace(x)
    return numpy


def mT(x):
    """The transpose of the last two axes (of each matrix in a stack)."""
    xp = _xp(x)
    if xp is numpy:
        return numpy.swapaxes(x, -1, -2)
    return xp.matrix_transpose(x) if hasattr(xp, "matrix_transpose") else xp.swapaxes(x, -1, -2)


def as_matrix(x, a):
    """``x`` as a stack of matrices: a column ``x[..., None]`` when it has fewer axes than ``a``.

    ``solve(a, b)`` treats ``b`` as (a stack of) vectors exactly when its
    solution has fewer axes than ``a``; rules work with columns throughout.
    """
    if ndim(x) < ndim(a):
        return _xp(x, a).asarray(x)[..., None]
    return x


def diag_part(x):
    """The diagonals of a stack of matrices: shape ``(..., n)``."""
    xp = _xp(x)
    if xp is numpy:
        return numpy.diagonal(x, axis1=-2, axis2=-1)
    return xp.linalg.diagonal(x)


def diag_matrix(d):
    """Diagonal matrices with the vectors ``d`` (shape ``(..., n)``) on their diagonals."""
    xp = _xp(d)
    n = shape(d)[-1]
    return xp.asarray(d)[..., None] * xp.eye(n, dtype=d.dtype)


def expand_mat(x):
    """``x[..., None, None]``: one value per matrix of a stack, broadcastable against the stack."""
    xp = _xp(x)
    return xp.asarray(x)[..., None, None]


def _tri(x, k, lower):
    xp = _xp(x)
    return xp.tril(x, k=k) if lower else xp.triu(x, k=-k)


def _real_diag(x):
    xp = _xp(x)
    d = diag_part(x)
    if _is_complex(d):
        d = xp.real(d)
    return diag_matrix(d)


def _is_complex(x):
    dtype = getattr(x, "dtype", None)
    return dtype is not None and (getattr(dtype, "kind", None) == "c" or "complex" in str(dtype))


def _conj(x):
    if not _is_complex(x):
        return x
    return _xp(x).conj(x)


def _set_diag(x, d):
    """``x`` (a fresh NumPy array) with its diagonals set to ``d``, in place."""
    i = numpy.arange(shape(x)[-1])
    x[..., i, i] = d
    return x


def from_triangle(x, lower=True):
    """The Hermitian matrix LAPACK sees when it reads only one triangle of ``x``.

    ``eigh(a, UPLO)`` and ``cholesky`` read the lower (or upper) triangle and
    the real part of the diagonal; this is that matrix.  Its adjoint is
    ``to_triangle``.
    """
    strict = _tri(x, -1, lower)
    if _xp(x) is numpy:
        return _set_diag(strict + _conj(mT(strict)), numpy.real(diag_part(x)))
    return strict + _conj(mT(strict)) + _real_diag(x)


def to_triangle(x, lower=True):
    """Fold a cotangent ``x`` valid for Hermitian perturbations onto the triangle that was read.

    The adjoint of ``from_triangle``: the result is zero outside the lower (or
    upper) triangle, so the gradient is exact for whatever the other triangle holds.
    """
    if _xp(x) is numpy:
        out = _tri(x + _conj(mT(x)), 0, lower)
        return _set_diag(out, numpy.real(diag_part(x)))
    return _tri(x + _conj(mT(x)), -1, lower) + _real_diag(x)


def half_triangle(x, lower=True):
    """The lower (or upper) triangle of ``x`` with its diagonal halved (self-adjoint)."""
    if _xp(x) is numpy:
        return _set_diag(_tri(x, 0, lower), 0.5 * diag_part(x))
    return _tri(x, -1, lower) + 0.5 * diag_matrix(diag_part(x))


def inv_gaps(w):
    """``F[..., i, j] = 1 / (w[j] - w[i])`` off the diagonal and 0 on it (eigenvalue gaps).

    Equal eigenvalues give infinities: their eigenvectors have no derivative.
    """
    xp = _xp(w)
    w = xp.asarray(w)
    n = shape(w)[-1]
    eye = xp.eye(n) != 0
    diff = w[..., None, :] - w[..., :, None]
    with numpy.errstate(divide="ignore", invalid="ignore"):
        return xp.where(eye, 0.0, 1.0 / xp.where(eye, 1.0, diff))


def block_upper(a, b):
    """The block matrix ``[[a, b], [0, a]]`` (stacks broadcast).

    For an analytic matrix function ``f``, ``f([[a, b], [0, a]])`` holds the
    Fréchet derivative of ``f`` at ``a`` in direction ``b`` in its upper
    right block; rules of ``matrix_power`` and ``expm`` use that.
    """
    xp = _xp(a, b)
    batch = numpy.broadcast_shapes(shape(a)[:-2], shape(b)[:-2])
    a = xp.broadcast_to(xp.asarray(a), batch + shape(a)[-2:])
    b = xp.broadcast_to(xp.asarray(b), batch + shape(b)[-2:])
    dtype = xp.result_type(a, b)
    zero = xp.zeros(shape(a), dtype=dtype)
    a = xp.astype(a, dtype) if xp is not numpy else a.astype(dtype)
    top = _concat(xp, [a, xp.astype(b, dtype) if xp is not numpy else b.astype(dtype)], axis=-1)
    bottom = _concat(xp, [zero, a], axis=-1)
    return _concat(xp, [top, bottom], axis=-2)


def _concat(xp, arrays, axis):
    concat = getattr(xp, "concat", None) or xp.concatenate
    return concat(arrays, axis=axis)


# ---------------------------------------------------------------------------
# FFT helpers
# ---------------------------------------------------------------------------


def fft_axes(x, s=None, axes=None):
    """The axes an n-dimensional FFT transforms, as NumPy chooses them."""
    if axes is None:
        nd = ndim(x) if s is None else len(s)
        return tuple(range(ndim(x) - nd, ndim(x)))
    if isinstance(axes, int):
        return (axes % ndim(x),)
    return tuple(a % ndim(x) for a in axes)


def fft_pad(x, sizes, axes):
    """``x`` cropped or zero-padded at the end of each of ``axes`` to ``sizes``.

    This is what an FFT with ``n`` / ``s`` does to its input first.
    """
    xp = _xp(x)
    for n, ax in zip(sizes, axes):
        ax = ax % ndim(x)
        m = shape(x)[ax]
        if n < m:
            index = (slice(None),) * ax + (slice(0, n),)
            x = x[index]
        elif n > m:
            pad = list(shape(x))
            pad[ax] = n - m
            x = _concat(xp, [x, xp.zeros(tuple(pad), dtype=x.dtype)], axis=ax)
    return x


def fft_unpad(value, like, axes):
    """The adjoint of ``fft_pad``: ``value`` cropped or zero-padded to ``like``'s shape on ``axes``."""
    return fft_pad(value, [shape(like)[ax] for ax in axes], axes)


def halfspec_weight(x, n, axis=-1):
    """``x`` with the bins of a half spectrum weighted by how often they occur in the full one.

    A real signal of length ``n`` has ``n // 2 + 1`` independent bins; all but
    the first (and, for even ``n``, the last) stand for themselves and their
    conjugate mirror, so they count twice in the adjoint of ``irfft``.
    """
    xp = _xp(x)
    ax = axis % ndim(x)
    m = shape(x)[ax]
    w = numpy.full(m, 2.0)
    w[0] = 1.0
    if n % 2 == 0 and m > n // 2:
        w[n // 2:] = 1.0
    w = xp.asarray(w.reshape((m,) + (1,) * (ndim(x) - 1 - ax)))
    return x * w


# ---------------------------------------------------------------------------
# multi_dot
# ---------------------------------------------------------------------------


def _as_mats(arrays):
    """The chain of ``multi_dot`` as 2-D matrices (a first vector is a row, a last one a column)."""
    mats = list(arrays)
    xp = _xp(*mats)
    if ndim(mats[0]) == 1:
        mats[0] = xp.asarray(mats[0])[None, :]
    if ndim(mats[-1]) == 1:
        mats[-1] = xp.asarray(mats[-1])[:, None]
    return xp, mats


def _chain(xp, mats):
    mats = [m for m in mats if m is not None]
    if len(mats) == 1:
        return mats[0]
    if len(mats) == 2:
        return mats[0] @ mats[1]
    return xp.linalg.multi_dot(mats)


def multi_dot_vjp(cotangent, arrays):
    """Cotangents of every factor of ``multi_dot(arrays)``: ``P_i^T g S_i^T``.

    ``P_i`` and ``S_i`` are the products before and after factor ``i``; each
    cotangent is itself a ``multi_dot``, so NumPy picks a cheap order for it.
    """
    xp, mats = _as_mats(arrays)
    gm = xp.asarray(cotangent)
    gm = xp.reshape(gm, (shape(mats[0])[0], shape(mats[-1])[1]))
    out = []
    for i in range(len(mats)):
        before = [mT(m) for m in reversed(mats[:i])]
        after = [mT(m) for m in reversed(mats[i + 1:])]
        out.append(xp.reshape(_chain(xp, before + [gm] + after), shape(arrays[i])))
    return out


def multi_dot_jvp(tangents, arrays):
    """``sum_i multi_dot(arrays with factor i replaced by tangents[i])``; ``None`` is zero."""
    xp = _xp(*arrays)
    total = None
    for i, ti in enumerate(tangents):
        if ti is None:
            continue
        chain = list(arrays)
        chain[i] = ti
        term = xp.linalg.multi_dot(chain) if len(chain) > 2 else chain[0] @ chain[1]
        total = term if total is None else total + term
    return total


def is_matrix_norm(x, ord=None, axis=None):
    """Whether ``numpy.linalg.norm(x, ord, axis)`` is a matrix norm (over two axes)."""
    if ord == "nuc":
        return True
    if axis is None:
        return ord is not None and ndim(x) == 2
    return isinstance(axis, tuple) and len(axis) == 2


def check_reduced_svd(a, full_matrices):
    """Raise unless the SVD of ``a`` has unique singular vectors (reduced, or square)."""
    if full_matrices and shape(a)[-1] != shape(a)[-2]:
        raise NotImplementedError(
            "the derivative of svd(a, full_matrices=True) of a non-square matrix is not defined "
            "(the extra singular vectors are arbitrary); use full_matrices=False")


def check_complete_qr(a):
    """Raise unless ``qr(a, mode='complete')`` has a unique ``q`` (``a`` not taller than wide)."""
    if shape(a)[-2] > shape(a)[-1]:
        raise NotImplementedError(
            "the derivative of qr(a, mode='complete') of a tall matrix is not defined (the last "
            "m - n columns of q are arbitrary); use mode='reduced'")


__all__ += ["check_complete_qr"]


def tri_mask(x, lower=True, strict=False):
    """The lower (or upper) triangle of each matrix of ``x``, without the diagonal if ``strict``."""
    return _tri(x, -1 if strict else 0, lower)


# ---------------------------------------------------------------------------
# Banded matrices in LAPACK storage: ab[u + i - j, j] = A[i, j]
# ---------------------------------------------------------------------------


def _diag_slices(n, k):
    """Index ranges (rows of A, columns of A) along the diagonal ``i - j = k``."""
    if k >= 0:
        return slice(k, n), slice(0, n - k)
    return slice(0, n + k), slice(-k, n)


def band_matmul(ab, x, l, u):
    """``A @ x`` for the banded matrix ``A`` stored in ``ab`` with ``l`` sub- and ``u`` superdiagonals."""
    ab = numpy.asarray(ab)
    x = numpy.asarray(x)
    n = ab.shape[-1]
    out = numpy.zeros(x.shape, dtype=numpy.result_type(ab, x))
    col = (slice(None),) + (None,) * (x.ndim - 1)
    for k in range(-u, l + 1):
        rows, cols = _diag_slices(n, k)
        out[rows] += ab[u + k, cols][col] * x[cols]
    return out


def band_outer(x, y, l, u):
    """The band of ``x @ y.T`` (``l`` sub- and ``u`` superdiagonals) in LAPACK band storage."""
    x = numpy.asarray(x)
    y = numpy.asarray(y)
    n = x.shape[0]
    out = numpy.zeros((l + u + 1, n), dtype=numpy.result_type(x, y))
    for k in range(-u, l + 1):
        rows, cols = _diag_slices(n, k)
        prod = x[rows] * y[cols]
        out[u + k, cols] = prod if prod.ndim == 1 else prod.sum(axis=tuple(range(1, prod.ndim)))
    return out


def band_transpose(ab, l, u):
    """The band storage of ``A.T`` (``u`` sub- and ``l`` superdiagonals) from that of ``A``."""
    ab = numpy.asarray(ab)
    n = ab.shape[-1]
    out = numpy.zeros_like(ab)
    for k in range(-l, u + 1):  # diagonal i - j = k of A.T is diagonal -k of A
        rows, cols = _diag_slices(n, k)
        out[l + k, cols] = ab[u - k, rows]
    return out


# ---------------------------------------------------------------------------
# Convolution: the output of a mode is a window of the full convolution
# ---------------------------------------------------------------------------


def _conv_window(in1, in2, mode):
    s1, s2 = shape(in1), shape(in2)
    full = tuple(a + b - 1 for a, b in zip(s1, s2))
    if mode == "full":
        return full, tuple(slice(0, n) for n in full)
    if mode == "same":
        return full, tuple(slice((b - 1) // 2, (b - 1) // 2 + a) for a, b in zip(s1, s2))
    if mode == "valid":
        return full, tuple(slice(min(a, b) - 1, max(a, b)) for a, b in zip(s1, s2))
    raise ValueError(f"unknown convolution mode {mode!r}")


def conv_crop(y, in1, in2, mode="full"):
    """The window of a full convolution ``y`` that ``convolve(in1, in2, mode)`` returns."""
    return y[_conv_window(in1, in2, mode)[1]]


def conv_embed(y, in1, in2, mode="full"):
    """The adjoint of ``conv_crop``: ``y`` placed in zeros shaped like the full convolution."""
    full, window = _conv_window(in1, in2, mode)
    y = numpy.asarray(y)
    out = numpy.zeros(full, dtype=y.dtype)
    out[window] = y
    return out


def solve_tri(a, b, lower=True, trans=False):
    """``op(a)^-1 b`` for triangular matrices ``a`` (``op(a) = a.T`` if ``trans``), stacks broadcast.

    Only the ``lower`` (or upper) triangle of ``a`` is read.  NumPy arrays use
    LAPACK's triangular solve (``scipy.linalg.solve_triangular``); other
    namespaces a general solve of the masked matrix.
    """
    xp = _xp(a, b)
    if xp is numpy:
        import scipy.linalg
        if ndim(a) > 2 or ndim(b) > 2:
            batch = numpy.broadcast_shapes(shape(a)[:-2], shape(b)[:-2])
            a = numpy.broadcast_to(a, batch + shape(a)[-2:])
            b = numpy.broadcast_to(b, batch + shape(b)[-2:])
        return scipy.linalg.solve_triangular(a, b, trans=1 if trans else 0, lower=lower,
                                             check_finite=False)
    m = tri_mask(a, lower)
    return xp.linalg.solve(mT(m) if trans else m, b)
