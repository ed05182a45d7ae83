"""Derivative rules for NumPy's products and contractions.

All are holomorphic and bilinear (``vdot`` conjugates its first argument), so
each cotangent contracts ``g`` with the other operand, without conjugation.
"""

from .registry import primitive
from ..runtime import (
    batch_matmul_left, batch_matmul_right, broadcast_like, diagonal_vjp, dot_vjp_a, dot_vjp_b,
    einsum_spec, einsum_vjp, kron_shapes, matmul_vjp_a, matmul_vjp_b, ndim, shape, specialize,
    tensordot_vjp_axes, unbroadcast,
)


@primitive("matmul", operator="matmult")
class _Matmul:
    def vjp_a(xp, g, ans, a, b):
        if specialize(ndim(a) == 2 and ndim(b) == 2):
            return g @ b.T
        return matmul_vjp_a(g, a, b)

    def vjp_b(xp, g, ans, a, b):
        if specialize(ndim(a) == 2 and ndim(b) == 2):
            return a.T @ g
        return matmul_vjp_b(g, a, b)

    def jvp_a(xp, t, ans, a, b):
        return t @ b

    def jvp_b(xp, t, ans, a, b):
        return a @ t

    def batch_a(xp, t, ans, a, b):
        return batch_matmul_left(t, b)

    def batch_b(xp, t, ans, a, b):
        return batch_matmul_right(a, t)


@primitive("dot", methods=("dot",))
class _Dot:
    def vjp_a(xp, g, ans, a, b):
        if specialize(ndim(a) == 2 and ndim(b) == 2):
            return xp.dot(g, b.T)
        return dot_vjp_a(g, a, b)

    def vjp_b(xp, g, ans, a, b):
        if specialize(ndim(a) == 2 and ndim(b) == 2):
            return xp.dot(a.T, g)
        return dot_vjp_b(g, a, b)

    def jvp_a(xp, t, ans, a, b):
        return xp.dot(t, b)

    def jvp_b(xp, t, ans, a, b):
        return xp.dot(a, t)


@primitive("outer")
class _Outer:
    def vjp_a(xp, g, ans, a, b):
        return xp.reshape(g @ xp.reshape(b, (-1,)), shape(a))

    def vjp_b(xp, g, ans, a, b):
        return xp.reshape(xp.reshape(a, (-1,)) @ g, shape(b))

    def jvp_a(xp, t, ans, a, b):
        return xp.outer(t, b)

    def jvp_b(xp, t, ans, a, b):
        return xp.outer(a, t)


@primitive("vdot")
class _Vdot:
    """``sum(conj(a) * b)`` over the flattened arrays: not holomorphic in ``a``."""

    def vjp_a(xp, g, ans, a, b):
        return xp.reshape(xp.conj(g * b), shape(a))

    def vjp_b(xp, g, ans, a, b):
        return xp.reshape(g * xp.conj(a), shape(b))

    def jvp_a(xp, t, ans, a, b):
        return xp.vdot(t, b)

    def jvp_b(xp, t, ans, a, b):
        return xp.vdot(a, t)


@primitive("vecdot")
class _Vecdot:
    """``sum(conj(x1) * x2, axis)``, broadcasting the other axes."""

    def vjp_x1(xp, g, ans, x1, x2, *, axis=-1):
        return unbroadcast(xp.conj(xp.expand_dims(g, axis=axis) * x2), x1)

    def vjp_x2(xp, g, ans, x1, x2, *, axis=-1):
        return unbroadcast(xp.expand_dims(g, axis=axis) * xp.conj(x1), x2)

    def jvp_x1(xp, t, ans, x1, x2, *, axis=-1):
        return xp.vecdot(t, x2, axis=axis)

    def jvp_x2(xp, t, ans, x1, x2, *, axis=-1):
        return xp.vecdot(x1, t, axis=axis)


@primitive("inner")
class _Inner:
    """Contracts the last axes of ``a`` and ``b``; a scalar operand multiplies."""

    def vjp_a(xp, g, ans, a, b):
        if ndim(a) == 0 or ndim(b) == 0:
            return unbroadcast(g * b, a)
        return xp.tensordot(g, b, axes=(range(ndim(a) - 1, ndim(g)), range(ndim(b) - 1)))

    def vjp_b(xp, g, ans, a, b):
        if ndim(a) == 0 or ndim(b) == 0:
            return unbroadcast(g * a, b)
        return xp.tensordot(g, a, axes=(range(ndim(a) - 1), range(ndim(a) - 1)))

    def jvp_a(xp, t, ans, a, b):
        return xp.inner(t, b)

    def jvp_b(xp, t, ans, a, b):
        return xp.inner(a, t)


@primitive("tensordot")
class _Tensordot:
    def vjp_a(xp, g, ans, a, b, axes=2):
        g_axes, b_axes, perm = tensordot_vjp_axes(ndim(a), ndim(b), axes, 0)
        return xp.transpose(xp.tensordot(g, b, axes=(g_axes, b_axes)), perm)

    def vjp_b(xp, g, ans, a, b, axes=2):
        g_axes, a_axes, perm = tensordot_vjp_axes(ndim(a), ndim(b), axes, 1)
        return xp.transpose(xp.tensordot(a, g, axes=(a_axes, g_axes)), perm)

    def jvp_a(xp, t, ans, a, b, axes=2):
        return xp.tensordot(t, b, axes=axes)

    def jvp_b(xp, t, ans, a, b, axes=2):
        return xp.tensordot(a, t, axes=axes)


@primitive("einsum")
class _Einsum:
    """Subscripts as a string (explicit or implicit output, ellipses allowed) or as sublists,
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``, where ``subscripts`` is the first array and
    ``operands`` alternate sublists and arrays (``einsum_spec`` reads them)."""

    def vjp_subscripts(xp, g, ans, subscripts, *operands, out=None, dtype=None, order="K",
                       casting="safe", optimize=False):
        return einsum_vjp(g, einsum_spec(subscripts, operands), 0, subscripts,
                          *operands[1:len(operands) - 1:2])

    def vjp_operands(xp, g, ans, subscripts, *operands, out=None, dtype=None, order="K",
                     casting="safe", optimize=False, argnum=0):
        if specialize(isinstance(subscripts, str)):
            return einsum_vjp(g, subscripts, argnum, *operands)
        return einsum_vjp(g, einsum_spec(subscripts, operands), (argnum + 1) // 2, subscripts,
                          *operands[1:len(operands) - 1:2])

    def jvp_subscripts(xp, t, ans, subscripts, *operands, out=None, dtype=None, order="K",
                       casting="safe", optimize=False):
        return xp.einsum(t, *operands, optimize=optimize)

    def jvp_operands(xp, t, ans, subscripts, *operands, out=None, dtype=None, order="K",
                     casting="safe", optimize=False, argnum=0):
        # (the operands with ``t`` for operand ``argnum``, spliced into the call by the template)
        return xp.einsum(subscripts, *(operands[:argnum] + (t,) + operands[argnum + 1:]),
                         optimize=optimize)


@primitive("kron")
class _Kron:
    def vjp_a(xp, g, ans, a, b):
        split, a_axes, b_axes, a_shape, b_shape = kron_shapes(shape(a), shape(b))
        gb = xp.tensordot(xp.reshape(g, split), xp.reshape(b, b_shape),
                          axes=(b_axes, range(len(b_shape))))
        return xp.reshape(gb, shape(a))

    def vjp_b(xp, g, ans, a, b):
        split, a_axes, b_axes, a_shape, b_shape = kron_shapes(shape(a), shape(b))
        ga = xp.tensordot(xp.reshape(g, split), xp.reshape(a, a_shape),
                          axes=(a_axes, range(len(a_shape))))
        return xp.reshape(ga, shape(b))

    def jvp_a(xp, t, ans, a, b):
        return xp.kron(t, b)

    def jvp_b(xp, t, ans, a, b):
        return xp.kron(a, t)


@primitive("cross")
class _Cross:
    """3-vectors (NumPy deprecated 2-vectors): <g, a x b> = <a, b x g> = <b, g x a>."""

    def vjp_a(xp, g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
        if axis is not None:
            return unbroadcast(xp.cross(b, g, axisa=axis, axisb=axis,
                                        axisc=axis - ndim(a) if axis >= 0 else axis), a)
        return unbroadcast(xp.cross(b, g, axisa=axisb, axisb=axisc,
                                    axisc=axisa - ndim(a) if axisa >= 0 else axisa), a)

    def vjp_b(xp, g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
        if axis is not None:
            return unbroadcast(xp.cross(g, a, axisa=axis, axisb=axis,
                                        axisc=axis - ndim(b) if axis >= 0 else axis), b)
        return unbroadcast(xp.cross(g, a, axisa=axisc, axisb=axisa,
                                    axisc=axisb - ndim(b) if axisb >= 0 else axisb), b)

    def jvp_a(xp, t, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
        return broadcast_like(xp.cross(t, b, axisa, axisb, axisc, axis), ans)

    def jvp_b(xp, t, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
        return broadcast_like(xp.cross(a, t, axisa, axisb, axisc, axis), ans)


@primitive("trace", methods=("trace",), linear=True)
class _Trace:
    def vjp_a(xp, g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return diagonal_vjp(xp.expand_dims(xp.asarray(g), -1), a, offset, axis1, axis2)

    def jvp_a(xp, t, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        return xp.trace(t, offset, axis1, axis2)
