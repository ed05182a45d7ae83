"""Runtime helpers for the rules of numpy.linalg, numpy.fft and scipy.linalg.

Each helper is a small, namespace-generic array function over the last two
axes (stacks of matrices broadcast as NumPy does).  Every one of them is a
primitive with rules of its own in ``s2sgrad.rules.runtime_linalg``, so
derivative code that calls them can be differentiated again.
"""

import numpy

from .core import namespace, ndim, shape

__all__ = [
    "mT", "as_matrix", "diag_part", "diag_matrix", "expand_mat", "from_triangle",
    "to_triangle", "half_triangle", "inv_gaps", "block_upper", "fft_pad", "fft_unpad",
    "halfspec_weight", "fft_axes", "multi_dot_vjp", "multi_dot_jvp", "multi_dot_hvp", "multi_dot_hvp_vjp", "is_matrix_norm",
    "check_reduced_svd", "tri_mask", "band_matmul", "band_outer", "band_transpose",
    "conv_crop", "conv_embed", "solve_tri", "factor_triangle", "cholesky_vjp", "cholesky_jvp",
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


def multi_dot_hvp(tangents, steps, arrays):
    """The second derivative of ``multi_dot(arrays)`` along ``tangents`` and ``steps``:
    ``sum_{i != j} multi_dot(arrays with factor i replaced by tangents[i], j by steps[j])``."""
    total = None
    for j, sj in enumerate(steps):
        chain = list(arrays)
        chain[j] = sj
        term = multi_dot_jvp([None if i == j else ti for i, ti in enumerate(tangents)], chain)
        total = term if total is None else total + term
    return total


def multi_dot_hvp_vjp(cotangent, tangents, arrays):
    """The adjoint of ``multi_dot_hvp`` in ``steps``: the cotangents of the factors ``j`` of
    ``sum_{i != j}`` multi_dot(arrays with i replaced by tangents[i], j by steps[j])."""
    out = [None] * len(arrays)
    for i, ti in enumerate(tangents):
        chain = list(arrays)
        chain[i] = ti
        for j, c in enumerate(multi_dot_vjp(cotangent, chain)):
            if j != i:
                out[j] = c if out[j] is None else out[j] + c
    return [_xp(a).zeros_like(a) if o is None else o for o, a in zip(out, arrays)]


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


# ---------------------------------------------------------------------------
# Derivatives of the Cholesky factorization
# ---------------------------------------------------------------------------

#: Block size of the blocked NumPy algorithms below; ``None`` picks one by matrix size.
CHOLESKY_BLOCK = None
#: Stacks of matrices smaller than this take the formulas, vectorized over the stack;
#: larger ones the blocked algorithms, matrix by matrix.
CHOLESKY_LOOP_MIN = 32


def factor_triangle(x, lower=True):
    """What LAPACK reads of a Cholesky factor: the lower (or upper) triangle, with a real diagonal."""
    if not _is_complex(x):
        return _tri(x, 0, lower)
    if _xp(x) is numpy:
        return _set_diag(_tri(x, 0, lower), numpy.real(diag_part(x)))
    return _tri(x, -1, lower) + _real_diag(x)


def cholesky_vjp(cotangent, l, upper=False):
    """The cotangent of ``a`` for a cotangent of its Cholesky factor ``l``.

    ``l = cholesky(a)`` is lower triangular with ``a = l l^H`` (``upper``: upper,
    ``a = l^H l``); only that triangle of ``l`` (``factor_triangle``) and of the
    cotangent is read.  The result is the cotangent for the triangle of ``a`` the
    factorization reads (``to_triangle``):

        to_triangle(l^-T Φ(l^T g) conj(l)^-1)     (lower; Φ: lower triangle, halved diagonal)

    NumPy matrices (float32/64, complex64/128) get the blocked algorithm of I. Murray,
    "Differentiation of the Cholesky decomposition" (2016): about twice the flops of the
    factorization, where the formula takes about nine times them.  Other namespaces,
    and stacks of small matrices, get the formula.
    """
    dtype = _cholesky_blocked(l, cotangent)
    if dtype is None:
        if upper:
            l, cotangent = mT(_conj(l)), mT(_conj(cotangent))
        f = factor_triangle(l)
        y = solve_tri(f, half_triangle(mT(f) @ cotangent), True, True)
        return to_triangle(mT(_conj(solve_tri(f, _conj(mT(y)), True, True))), not upper)
    return _per_matrix(_cholesky_vjp_matrix, cotangent, l, dtype, upper)


def cholesky_jvp(tangent, l, upper=False):
    """The tangent of the Cholesky factor ``l`` of ``a`` for a tangent of ``a``.

    The tangent is read as ``a`` is, on one triangle (``from_triangle``); ``l`` as in
    ``cholesky_vjp``, whose adjoint this is:

        l Φ(l^-1 from_triangle(t) l^-H)     (lower)

    NumPy matrices get the blocked forward algorithm (about twice the factorization's
    flops), others the formula.
    """
    dtype = _cholesky_blocked(l, tangent)
    if dtype is None:
        if upper:
            l = mT(_conj(l))
        f = factor_triangle(l)
        y = solve_tri(f, from_triangle(tangent, not upper), True, False)
        dl = f @ half_triangle(_conj(mT(solve_tri(f, _conj(mT(y)), True, False))))
        return mT(_conj(dl)) if upper else dl
    return _per_matrix(_cholesky_jvp_matrix, tangent, l, dtype, upper)


def _cholesky_blocked(l, x):
    """The dtype for the blocked algorithms, or None where the formulas serve."""
    if not (isinstance(l, numpy.ndarray) and isinstance(x, numpy.ndarray)):
        return None
    if l.ndim < 2 or l.shape != x.shape or l.shape[-1] != l.shape[-2]:
        return None
    if l.ndim > 2 and l.shape[-1] < CHOLESKY_LOOP_MIN:
        return None
    dtype = numpy.result_type(l, x)
    return dtype if dtype.char in "fdFD" else None


def _per_matrix(fn, x, l, dtype, upper):
    if l.ndim == 2:
        return fn(x, l, dtype, upper)
    out = numpy.empty(l.shape, dtype)
    for i in numpy.ndindex(l.shape[:-2]):
        out[i] = fn(x[i], l[i], dtype, upper)
    return out


def _cholesky_block(n):
    # measured (single-threaded OpenBLAS): within 48..128 the time varies by about 10%
    # from n = 400 on; small blocks suit small matrices, where a block's formula dominates
    if CHOLESKY_BLOCK is not None:
        return CHOLESKY_BLOCK
    return 32 if n < 300 else 64 if n < 1200 else 128


def _cholesky_vjp_matrix(g, l, dtype, upper):
    # Both cases run the lower algorithm in the standard convention (cotangents of
    # Re <x̄, dx>): the Autograd convention's cotangent is its conjugate.  For the
    # upper factor u = l^H the transposed problem works on Fortran-ordered copies.
    n = l.shape[-1]
    if upper:
        ct = numpy.array(mT(g), dtype=dtype, order="F")        # conj(conj(g)^T)
        _cholesky_rev(numpy.asarray(_conj(l), dtype=dtype).T, ct, _cholesky_block(n))
        return ct.T
    ct = numpy.array(g, dtype=dtype)
    if ct.dtype.kind == "c":
        numpy.conj(ct, out=ct)
    _cholesky_rev(numpy.asarray(l, dtype=dtype), ct, _cholesky_block(n))
    if ct.dtype.kind == "c":
        numpy.conj(ct, out=ct)
    return ct


def _cholesky_jvp_matrix(t, l, dtype, upper):
    n = l.shape[-1]
    if upper:   # the lower factor l^H and the tangent's lower triangle conj(t)^T
        l = numpy.asarray(_conj(l), dtype=dtype).T
        dl = _cholesky_fwd(l, numpy.asarray(_conj(t), dtype=dtype).T, _cholesky_block(n))
        return _conj(dl).T
    return _cholesky_fwd(numpy.asarray(l, dtype=dtype), numpy.asarray(t, dtype=dtype),
                         _cholesky_block(n))


def _routines(*arrays):
    """trsm, trmm and sygst / hegst for the dtype of ``arrays``."""
    from scipy.linalg import blas, lapack
    trsm, trmm = blas.get_blas_funcs(("trsm", "trmm"), arrays)
    gst = lapack.get_lapack_funcs("hegst" if arrays[0].dtype.kind == "c" else "sygst", arrays)
    return trsm, trmm, gst


def _diag_block(l, j, e):
    """``l[j:e, j:e]`` as LAPACK reads a factor: the imaginary part of the diagonal dropped."""
    d = l[j:e, j:e]
    if d.dtype.kind == "c":
        d = d.copy()
        i = numpy.arange(e - j)
        d[i, i] = d[i, i].real
    return d


def _cholesky_rev(l, ct, nb):
    """Overwrite ``ct`` (the cotangent of the lower factor ``l``) with that of the lower triangle of ``a``.

    Standard convention (no conjugates).  The left-looking blocked factorization makes,
    for each block column J = [j, e) with K = [e, n):

        R = L[J, :j], B = L[K, :j]
        D = chol(A[J, J] - R R^H)
        C = (A[K, J] - B R^H) D^-H

    and this runs it backwards, from the last block column to the first:

        C̄ <- C̄ D^-1               Ā[K, J] = C̄
        D̄ <- D̄ - C̄^H C            (only its lower triangle is read)
        B̄ <- B̄ - C̄ R              R̄ <- R̄ - C̄^H B
        F̄ = to_triangle(D^-H Φ(D^H D̄) D^-1)   Ā[J, J] = F̄   (the formula on the block)
        R̄ <- R̄ - (F̄ + F̄^H) R

    ``F̄ + F̄^H = D^-H (P + P^H) D^-1`` with ``P = Φ(D^H D̄)`` is a congruence of the
    Hermitian matrix whose lower triangle is that of ``D^H D̄``: ``hegst`` computes it,
    in the reversed order of rows and columns, where ``D`` is upper triangular.
    """
    n = l.shape[-1]
    cplx = ct.dtype.kind == "c"
    trsm, trmm, gst = _routines(ct, l)
    masks = {}
    for j in reversed(range(0, n, nb)):
        e = min(j + nb, n)
        b = e - j
        d = _diag_block(l, j, e)
        ct[j:e, e:] = 0
        db = ct[j:e, j:e]
        if e < n:
            cb = trsm(1.0, d, ct[e:, j:e], side=1, lower=1)
            ct[e:, j:e] = cb
            cbh = cb.conj().T if cplx else cb.T
            db = db - cbh @ l[e:, j:e]
        m = trmm(1.0, d, db, side=0, lower=1, trans_a=2 if cplx else 1)
        s, info = gst(m[::-1, ::-1], d[::-1, ::-1], itype=1, lower=0, overwrite_a=1)
        if b not in masks:
            masks[b] = numpy.tri(b, dtype=bool)
        f = numpy.where(masks[b], s[::-1, ::-1], 0)
        i = numpy.arange(b)
        f[i, i] *= 0.5
        if j > 0:
            s = f + (f.conj().T if cplx else f.T)
            if e < n:
                ct[e:, :j] -= cb @ l[j:e, :j]
                # R̄ -= (F̄ + F̄^H) R + C̄^H B, in one product with [R; B] = L[j:, :j]
                ct[j:e, :j] -= numpy.concatenate([s, cbh], axis=1) @ l[j:, :j]
            else:
                ct[j:e, :j] -= s @ l[j:e, :j]
        ct[j:e, j:e] = f
    return ct


def _cholesky_fwd(l, t, nb):
    """The tangent of the lower factor ``l`` for the Hermitian tangent read from the lower triangle of ``t``.

    The left-looking blocked factorization (see ``_cholesky_rev``) differentiated forwards:

        Ḟ = Ȧ[J, J] - Ṙ R^H - R Ṙ^H         Ḋ = D Φ(D^-1 Ḟ D^-H)   (hegst)
        Ċ = (Ȧ[K, J] - Ḃ R^H - B Ṙ^H - C Ḋ^H) D^-H
    """
    n = l.shape[-1]
    cplx = l.dtype.kind == "c"
    trsm, trmm, gst = _routines(l, t)
    dl = numpy.zeros((n, n), dtype=l.dtype)
    masks = {}
    for j in range(0, n, nb):
        e = min(j + nb, n)
        b = e - j
        d = _diag_block(l, j, e)
        q = t[j:, j:e]
        if j > 0:
            rh = l[j:e, :j].conj().T if cplx else l[j:e, :j].T
            drh = dl[j:e, :j].conj().T if cplx else dl[j:e, :j].T
            q = q - dl[j:, :j] @ rh - l[j:, :j] @ drh
        y, info = gst(q[:b], d, itype=1, lower=1)
        if b not in masks:
            masks[b] = numpy.tri(b, dtype=bool)
        p = numpy.where(masks[b], y, 0)
        i = numpy.arange(b)
        p[i, i] *= 0.5
        dd = trmm(1.0, d, p, side=0, lower=1, overwrite_b=1)
        dl[j:e, j:e] = dd
        if e < n:
            x = q[b:] - l[e:, j:e] @ (dd.conj().T if cplx else dd.T)
            dl[e:, j:e] = trsm(1.0, d, x, side=1, lower=1, trans_a=2 if cplx else 1)
    return dl
