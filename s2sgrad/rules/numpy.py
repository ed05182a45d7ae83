"""Derivative rules for NumPy (and every array namespace that shares its names).

Each rule is written against ``xp``, the namespace of the call, so the same
rule serves ``np.sin`` and ``cp.sin``.  See ``registry.py`` for the format.
"""

from .registry import binary, elementwise, nondiff, primitive
from ..runtime import shape as shape_of
from ..runtime import (
    array_vjp, broadcast_like, dot_vjp_a, dot_vjp_b, inverse_permutation, matmul_vjp_a,
    matmul_vjp_b, max_vjp, ndim, reduce_vjp, scatter, shape, size, specialize, split_like,
    unbroadcast, unstack,
)

# ---------------------------------------------------------------------------
# Unary elementwise functions: one derivative serves both modes
# ---------------------------------------------------------------------------


@elementwise("negative", operator="usub")
def _negative(xp, x):
    return -1.0


@elementwise("positive", operator="uadd")
def _positive(xp, x):
    return 1.0


@elementwise("sin")
def _sin(xp, x):
    return xp.cos(x)


@elementwise("cos")
def _cos(xp, x):
    return -xp.sin(x)


@elementwise("tan")
def _tan(xp, x):
    return 1.0 + xp.tan(x) ** 2


@elementwise("arcsin", "asin")
def _arcsin(xp, x):
    return 1.0 / xp.sqrt(1.0 - x ** 2)


@elementwise("arccos", "acos")
def _arccos(xp, x):
    return -1.0 / xp.sqrt(1.0 - x ** 2)


@elementwise("arctan", "atan")
def _arctan(xp, x):
    return 1.0 / (1.0 + x ** 2)


@elementwise("sinh")
def _sinh(xp, x):
    return xp.cosh(x)


@elementwise("cosh")
def _cosh(xp, x):
    return xp.sinh(x)


@elementwise("tanh")
def _tanh(xp, x, ans):
    return 1.0 - ans ** 2


@elementwise("arcsinh", "asinh")
def _arcsinh(xp, x):
    return 1.0 / xp.sqrt(x ** 2 + 1.0)


@elementwise("arccosh", "acosh")
def _arccosh(xp, x):
    return 1.0 / xp.sqrt(x ** 2 - 1.0)


@elementwise("arctanh", "atanh")
def _arctanh(xp, x):
    return 1.0 / (1.0 - x ** 2)


@elementwise("exp")
def _exp(xp, x, ans):
    return ans


@elementwise("exp2")
def _exp2(xp, x, ans):
    return ans * 0.6931471805599453


@elementwise("expm1")
def _expm1(xp, x, ans):
    return ans + 1.0


@elementwise("log")
def _log(xp, x):
    return 1.0 / x


@elementwise("log2")
def _log2(xp, x):
    return 1.4426950408889634 / x


@elementwise("log10")
def _log10(xp, x):
    return 0.4342944819032518 / x


@elementwise("log1p")
def _log1p(xp, x):
    return 1.0 / (1.0 + x)


@elementwise("sqrt")
def _sqrt(xp, x, ans):
    return 0.5 / ans


@elementwise("cbrt")
def _cbrt(xp, x, ans):
    return 1.0 / (3.0 * ans ** 2)


@elementwise("square")
def _square(xp, x):
    return 2.0 * x


@elementwise("reciprocal")
def _reciprocal(xp, x, ans):
    return -ans ** 2


@elementwise("abs", "absolute", "fabs")
def _abs(xp, x):
    return xp.sign(x)


@elementwise("deg2rad", "radians")
def _deg2rad(xp, x):
    return 0.017453292519943295


@elementwise("rad2deg", "degrees")
def _rad2deg(xp, x):
    return 57.29577951308232


# ---------------------------------------------------------------------------
# Broadcasting binary functions and the arithmetic operators
# ---------------------------------------------------------------------------


@binary("add", operator="add")
class _Add:
    def dx(xp, x, y):
        return 1.0

    def dy(xp, x, y):
        return 1.0


@binary("subtract", operator="sub")
class _Subtract:
    def dx(xp, x, y):
        return 1.0

    def dy(xp, x, y):
        return -1.0


@binary("multiply", operator="mult")
class _Multiply:
    def dx(xp, x, y):
        return y

    def dy(xp, x, y):
        return x


@primitive("divide", "true_divide", operator="div", cheap=True, elementwise=2)
class _Divide:
    def vjp_x(xp, g, ans, x, y):
        return unbroadcast(g / y, x)

    def vjp_y(xp, g, ans, x, y):
        return unbroadcast(-g * x / y ** 2, y)

    def jvp_x(xp, t, ans, x, y):
        return broadcast_like(t / y, ans)

    def jvp_y(xp, t, ans, x, y):
        return broadcast_like(-t * x / y ** 2, ans)


@primitive("power", operator="pow", cheap=True, elementwise=2)
class _Power:
    def vjp_x(xp, g, ans, x, y):
        return unbroadcast(g * y * x ** (y - 1), x)

    def vjp_y(xp, g, ans, x, y):
        return unbroadcast(g * ans * xp.log(xp.where(x == 0, 1.0, x)), y)

    def jvp_x(xp, t, ans, x, y):
        return broadcast_like(t * y * x ** (y - 1), ans)

    def jvp_y(xp, t, ans, x, y):
        return broadcast_like(t * ans * xp.log(xp.where(x == 0, 1.0, x)), ans)


@binary("maximum", "fmax")
class _Maximum:
    def dx(xp, x, y):
        return xp.where(x == y, 0.5, x > y)

    def dy(xp, x, y):
        return xp.where(x == y, 0.5, y > x)


@binary("minimum", "fmin")
class _Minimum:
    def dx(xp, x, y):
        return xp.where(x == y, 0.5, x < y)

    def dy(xp, x, y):
        return xp.where(x == y, 0.5, y < x)


@primitive("mod", "remainder", "fmod", operator="mod", cheap=True, elementwise=2)
class _Mod:
    def vjp_x(xp, g, ans, x, y):
        return unbroadcast(g, x)

    def vjp_y(xp, g, ans, x, y):
        return unbroadcast(-g * xp.floor_divide(x, y), y)

    def jvp_x(xp, t, ans, x, y):
        return broadcast_like(t, ans)

    def jvp_y(xp, t, ans, x, y):
        return broadcast_like(-t * xp.floor_divide(x, y), ans)


@primitive("where", cheap=True)
class _Where:
    def vjp_x(xp, g, ans, condition, x, y):
        return unbroadcast(xp.where(condition, g, 0.0), x)

    def vjp_y(xp, g, ans, condition, x, y):
        return unbroadcast(xp.where(condition, 0.0, g), y)

    def jvp_x(xp, t, ans, condition, x, y):
        return broadcast_like(xp.where(condition, t, 0.0), ans)

    def jvp_y(xp, t, ans, condition, x, y):
        return broadcast_like(xp.where(condition, 0.0, t), ans)


@primitive("clip", methods=("clip",), cheap=True)
class _Clip:
    def vjp_a(xp, g, ans, a, a_min=None, a_max=None):
        return g * (ans == a)

    def jvp_a(xp, t, ans, a, a_min=None, a_max=None):
        return t * (ans == a)


# ---------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------


@primitive("sum", methods=("sum",), linear=True)
class _Sum:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
        if axis is None:
            return xp.broadcast_to(g, shape(a))
        return reduce_vjp(g, a, axis, keepdims)

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False):
        if axis is None and not keepdims:
            return xp.sum(t)
        return xp.sum(t, axis=axis, keepdims=keepdims)


@primitive("mean", methods=("mean",), linear=True)
class _Mean:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
        if axis is None:
            return xp.broadcast_to(g / size(a), shape(a))
        return reduce_vjp(g, a, axis, keepdims) * (size(ans) / size(a))

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False):
        if axis is None and not keepdims:
            return xp.mean(t)
        return xp.mean(t, axis=axis, keepdims=keepdims)


@primitive("prod", methods=("prod",))
class _Prod:
    def vjp_a(xp, g, ans, a, axis=None, dtype=None, out=None, keepdims=False):
        return reduce_vjp(g * ans, a, axis, keepdims) / a

    def jvp_a(xp, t, ans, a, axis=None, dtype=None, out=None, keepdims=False):
        return xp.sum(t * reduce_vjp(ans, a, axis, keepdims) / a, axis=axis, keepdims=keepdims)


@primitive("max", "amax", methods=("max",))
class _Max:
    def vjp_a(xp, g, ans, a, axis=None, out=None, keepdims=False):
        return max_vjp(g, ans, a, axis, keepdims)

    def jvp_a(xp, t, ans, a, axis=None, out=None, keepdims=False):
        return xp.sum(t * max_vjp(1.0, ans, a, axis, keepdims), axis=axis, keepdims=keepdims)


@primitive("min", "amin", methods=("min",))
class _Min:
    def vjp_a(xp, g, ans, a, axis=None, out=None, keepdims=False):
        return max_vjp(g, ans, a, axis, keepdims)

    def jvp_a(xp, t, ans, a, axis=None, out=None, keepdims=False):
        return xp.sum(t * max_vjp(1.0, ans, a, axis, keepdims), axis=axis, keepdims=keepdims)


# ---------------------------------------------------------------------------
# Contractions
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# Shapes
# ---------------------------------------------------------------------------


@primitive("reshape", methods=("reshape*",), view=True, linear=True)
class _Reshape:
    def vjp_a(xp, g, ans, a, shape=None):
        return xp.reshape(g, shape_of(a))

    def jvp_a(xp, t, ans, a, shape=None):
        return xp.reshape(t, shape)


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


@primitive("T", family="attribute", methods=("T",), view=True, linear=True)
class _T:
    def vjp_a(xp, g, ans, a):
        return g.T

    def jvp_a(xp, t, ans, a):
        return t.T


@primitive("stack", linear=True)
class _Stack:
    def vjp_arrays(xp, g, ans, arrays, axis=0):
        return unstack(g, axis)

    def jvp_arrays(xp, t, ans, arrays, axis=0):
        return xp.stack(t, axis=axis)


@primitive("concatenate", linear=True)
class _Concatenate:
    def vjp_arrays(xp, g, ans, arrays, axis=0):
        return split_like(g, arrays, axis)

    def jvp_arrays(xp, t, ans, arrays, axis=0):
        return xp.concatenate(t, axis=axis)


@primitive("array", "asarray", linear=True)
class _Array:
    def vjp_object(xp, g, ans, object, dtype=None):
        return array_vjp(g, object)

    def jvp_object(xp, t, ans, object, dtype=None):
        return xp.asarray(t)


@primitive("copy", methods=("copy",), linear=True)
class _Copy:
    def vjp_a(xp, g, ans, a):
        return g

    def jvp_a(xp, t, ans, a):
        return t


@primitive("getitem", family="op", operator="getitem", view=True, linear=True)
class _Getitem:
    def vjp_x(xp, g, ans, x, index):
        return scatter(g, x, index)

    def jvp_x(xp, t, ans, x, index):
        return t[index]


# ---------------------------------------------------------------------------
# Functions whose outputs carry no derivative
# ---------------------------------------------------------------------------

nondiff(
    "floor", "ceil", "round", "around", "rint", "trunc", "fix", "sign", "signbit",
    "argmax", "argmin", "argsort", "argwhere", "nonzero", "flatnonzero", "searchsorted",
    "shape", "ndim", "size", "zeros", "ones", "empty", "full", "eye", "identity",
    "zeros_like", "ones_like", "empty_like", "full_like", "arange", "linspace", "logspace",
    "meshgrid", "indices", "isnan", "isinf", "isfinite", "isclose", "allclose",
    "array_equal", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
    "logical_and", "logical_or", "logical_not", "logical_xor", "any", "all", "count_nonzero",
    "floor_divide", "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "iscomplexobj",
    "isrealobj", "result_type", "can_cast", "broadcast_shapes", "tril_indices",
    "triu_indices", "diag_indices", "unravel_index", "ravel_multi_index", "histogram",
    "bincount", "digitize", "unique", "isscalar", "ndarray", "dtype", "finfo", "iinfo",
    "random.rand", "random.randn", "random.random", "random.normal", "random.uniform",
    "random.randint", "random.choice", "random.permutation", "random.seed",
    "random.default_rng", "random.shuffle", "random.standard_normal",
    methods=("argmax", "argmin", "argsort", "nonzero", "any", "all", "shape", "ndim", "size",
             "dtype", "itemsize", "nbytes", "tolist"),
)
nondiff("floordiv", "eq", "noteq", "lt", "lte", "gt", "gte", "is", "isnot", "in", "notin",
        "not", "invert", "bitand", "bitor", "bitxor", "lshift", "rshift", family="op")
