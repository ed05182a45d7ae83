"""Derivative rules for NumPy's elementwise functions (in every namespace that shares their names).

Each rule is written against ``xp``, the namespace of the call, so the same
rule serves ``np.sin`` and ``cp.sin``.  See ``registry.py`` for the format.
Reductions, shape functions and contractions are in the ``arrays_*`` modules.

Complex numbers follow Autograd's convention: a holomorphic function's rules
are ``g * f'(x)`` and ``t * f'(x)``; the others (``abs``, ``angle``, ``real``,
``imag``, ``conj``) give the reverse rule that maps ``conj(g)`` to the
conjugate of the pull-back of ``g``.
"""

import math

from .registry import binary, elementwise, nondiff, primitive
from ..runtime import broadcast_like, share_of_max, specialize, to_complex_like, unbroadcast, unit

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
    return 1.0 / (xp.sqrt(x - 1.0) * xp.sqrt(x + 1.0))


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


@elementwise("fabs")
def _fabs(xp, x):
    return xp.sign(x)


@elementwise("sinc")
def _sinc(xp, x, ans):
    # Near 0 (where the quotient cancels), its Taylor polynomial: exact to rounding there, and
    # its derivatives (sinc's second, third and fourth derivatives) are right at 0 too.
    return xp.where(xp.abs(x) < 1e-3, x * (math.pi ** 4 / 30 * x * x - math.pi ** 2 / 3),
                    (xp.cos(math.pi * x) - ans) / xp.where(xp.abs(x) < 1e-3, 1.0, x))


@elementwise("nan_to_num")
def _nan_to_num(xp, x, copy=True, nan=0.0, posinf=None, neginf=None):
    return xp.isfinite(x)


@elementwise("deg2rad", "radians")
def _deg2rad(xp, x):
    return 0.017453292519943295


@elementwise("rad2deg", "degrees")
def _rad2deg(xp, x):
    return 57.29577951308232


# ---------------------------------------------------------------------------
# Functions of complex numbers that are not holomorphic
# ---------------------------------------------------------------------------


@primitive("abs", "absolute", cheap=True)
class _Abs:
    def vjp_x(xp, g, ans, x):
        return g * xp.conj(unit(x))

    def jvp_x(xp, t, ans, x):
        return xp.real(xp.conj(unit(x)) * t)

    def real_vjp_x(xp, g, ans, x):
        return g * xp.sign(x)

    def real_jvp_x(xp, t, ans, x):
        return t * xp.sign(x)


@primitive("real", methods=("real",), linear=True, view=True)
class _Real:
    def vjp_val(xp, g, ans, val):
        return g


@primitive("imag", methods=("imag",), linear=True, view=True)
class _Imag:
    def vjp_val(xp, g, ans, val):
        return to_complex_like(-1j * g, val)


@primitive("conj", "conjugate", methods=("conj", "conjugate"), linear=True, cheap=True)
class _Conj:
    def vjp_x(xp, g, ans, x):
        return xp.conj(g)


@primitive("angle", cheap=True)
class _Angle:
    def vjp_z(xp, g, ans, z, deg=False):
        if deg:
            return to_complex_like(g * xp.conj(1j * z) / xp.abs(z) ** 2, z) * 57.29577951308232
        return to_complex_like(g * xp.conj(1j * z) / xp.abs(z) ** 2, z)

    def jvp_z(xp, t, ans, z, deg=False):
        if deg:
            return xp.real(xp.conj(1j * z) * t) / xp.abs(z) ** 2 * 57.29577951308232
        return xp.real(xp.conj(1j * z) * t) / xp.abs(z) ** 2


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


@primitive("power", "pow", "float_power", operator="pow", cheap=True, elementwise=2)
class _Power:
    # d/dx x**y = y x**(y-1), which is 0 for y = 0 (even at x = 0: the exponent is kept at
    # 0 there, where x**(y-1) would divide by zero)
    def vjp_x(xp, g, ans, x, y):
        if specialize(isinstance(y, (int, float)) and y != 0):
            return unbroadcast(g * y * x ** (y - 1), x)
        return unbroadcast(g * y * x ** (y - 1 + (y == 0)), x)

    def vjp_y(xp, g, ans, x, y):
        return unbroadcast(g * ans * xp.log(xp.where(x == 0, 1.0, x)), y)

    def jvp_x(xp, t, ans, x, y):
        if specialize(isinstance(y, (int, float)) and y != 0):
            return broadcast_like(t * y * x ** (y - 1), ans)
        return broadcast_like(t * y * x ** (y - 1 + (y == 0)), ans)

    def jvp_y(xp, t, ans, x, y):
        # a zero tangent of the exponent contributes zero, even where log(x) is not real (an
        # integer exponent of a negative base, whose tangent comes from a tape as 0)
        return broadcast_like(t * ans * xp.log(xp.where((x == 0) | (t == 0), 1.0, x)), ans)


@binary("maximum")
class _Maximum:
    def dx(xp, x, y):
        return share_of_max(x, y)

    def dy(xp, x, y):
        return share_of_max(y, x)


@binary("minimum")
class _Minimum:
    def dx(xp, x, y):
        return share_of_max(y, x)

    def dy(xp, x, y):
        return share_of_max(x, y)


@binary("heaviside")
class _Heaviside:
    """0 below 0, 1 above, and ``h`` where ``x`` is 0: a step in ``x`` (no derivative, as
    ``sign``), ``h`` itself where it is taken."""

    def dx(xp, x, y):
        return 0.0

    def dy(xp, x, y):
        return xp.where(x == 0, 1.0, 0.0)


@binary("fmax", "fmin")
class _Fmax:
    """Like maximum and minimum, but a NaN loses: the derivative follows the value returned."""

    def dx(xp, x, y, ans):
        return xp.where(x == y, 0.5, ans == x)

    def dy(xp, x, y, ans):
        return xp.where(x == y, 0.5, ans == y)


@primitive("mod", "remainder", operator="mod", cheap=True, elementwise=2)
class _Mod:
    def vjp_x(xp, g, ans, x, y):
        return unbroadcast(g, x)

    def vjp_y(xp, g, ans, x, y):
        return unbroadcast(-g * xp.floor_divide(x, y), y)

    def jvp_x(xp, t, ans, x, y):
        return broadcast_like(t, ans)

    def jvp_y(xp, t, ans, x, y):
        return broadcast_like(-t * xp.floor_divide(x, y), ans)


@primitive("fmod", cheap=True)
class _Fmod:
    """``x - trunc(x / y) * y``: the quotient rounds toward zero, unlike ``mod``."""

    def vjp_x(xp, g, ans, x, y):
        return unbroadcast(g, x)

    def vjp_y(xp, g, ans, x, y):
        return unbroadcast(-g * xp.trunc(x / y), y)

    def jvp_x(xp, t, ans, x, y):
        return broadcast_like(t, ans)

    def jvp_y(xp, t, ans, x, y):
        return broadcast_like(-t * xp.trunc(x / y), ans)


@binary("logaddexp")
class _Logaddexp:
    def dx(xp, x, y, ans):
        return xp.exp(x - ans)

    def dy(xp, x, y, ans):
        return xp.exp(y - ans)


@binary("logaddexp2")
class _Logaddexp2:
    def dx(xp, x, y, ans):
        return xp.exp2(x - ans)

    def dy(xp, x, y, ans):
        return xp.exp2(y - ans)


@binary("arctan2", "atan2")
class _Arctan2:
    def dx(xp, x, y):
        return y / (x ** 2 + y ** 2)

    def dy(xp, x, y):
        return -x / (x ** 2 + y ** 2)


@binary("hypot")
class _Hypot:
    def dx(xp, x, y, ans):
        return x / ans

    def dy(xp, x, y, ans):
        return y / ans


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
    """The derivative goes to ``a`` where it is inside the bounds, else to the bound returned."""

    def vjp_a(xp, g, ans, a, a_min=None, a_max=None):
        return unbroadcast(xp.where(ans == a, g, 0.0), a)

    def vjp_a_min(xp, g, ans, a, a_min=None, a_max=None):
        return unbroadcast(xp.where(ans == a, 0.0, xp.where(ans == a_min, g, 0.0)), a_min)

    def vjp_a_max(xp, g, ans, a, a_min=None, a_max=None):
        return unbroadcast(xp.where(ans == a, 0.0, xp.where(ans == a_max, g, 0.0)), a_max)

    def jvp_a(xp, t, ans, a, a_min=None, a_max=None):
        return broadcast_like(xp.where(ans == a, t, 0.0), ans)

    def jvp_a_min(xp, t, ans, a, a_min=None, a_max=None):
        return broadcast_like(xp.where(ans == a, 0.0, xp.where(ans == a_min, t, 0.0)), ans)

    def jvp_a_max(xp, t, ans, a, a_min=None, a_max=None):
        return broadcast_like(xp.where(ans == a, 0.0, xp.where(ans == a_max, t, 0.0)), ans)


# ---------------------------------------------------------------------------
# Functions whose outputs carry no derivative
# ---------------------------------------------------------------------------

nondiff(
    # piecewise constant and integer-valued functions
    "floor", "ceil", "round", "around", "rint", "trunc", "fix", "sign", "signbit",
    "floor_divide", "gcd", "lcm", "spacing",
    # indices, orderings and counts
    "argmax", "argmin", "nanargmax", "nanargmin", "argsort", "argpartition", "lexsort",
    "argwhere", "nonzero", "flatnonzero", "searchsorted", "count_nonzero", "digitize",
    "isin",   # (unique, union1d and the like return values: they have no rule, so using
              # them on values that carry derivatives is an error, not a silent zero; so do
              # bincount and the histograms: a weighted count is linear in its weights, and
              # the bin edges follow the values' range)
    "unravel_index", "ravel_multi_index", "indices", "ndindex",
    "tril_indices", "triu_indices", "diag_indices", "tril_indices_from", "triu_indices_from",
    "diag_indices_from", "mask_indices",
    # shapes, dtypes and other metadata
    "shape", "ndim", "size", "iscomplexobj", "isrealobj", "isscalar", "result_type",
    "can_cast", "promote_types", "min_scalar_type", "common_type", "broadcast_shapes",
    "issubdtype", "isdtype", "ndarray", "dtype", "finfo", "iinfo", "shares_memory",
    "may_share_memory",
    # constant arrays
    "zeros", "ones", "empty", "eye", "identity", "tri", "arange", "zeros_like", "ones_like",
    "empty_like",
    # predicates, comparisons and logic
    "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal", "iscomplex", "isclose",
    "allclose", "array_equal", "array_equiv", "equal", "not_equal", "less", "less_equal",
    "greater", "greater_equal", "logical_and", "logical_or", "logical_not", "logical_xor",
    "any", "all",
    # bitwise functions
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_invert", "invert",
    "left_shift", "right_shift", "bitwise_left_shift", "bitwise_right_shift", "bitwise_count",
    # random draws without parameters, and integer draws (draws whose distribution has
    # parameters, normal(loc, scale) and the like, or that pick from values, choice and
    # permutation, have no rule: given values that carry derivatives they are an error)
    "random.rand", "random.randn", "random.random", "random.random_sample", "random.ranf",
    "random.sample", "random.randint", "random.random_integers", "random.seed",
    "random.default_rng", "random.shuffle", "random.standard_normal", "random.binomial",
    "random.poisson", "random.standard_exponential", "random.geometric",
    "random.multinomial", "random.get_state", "random.set_state",
    methods=("argmax", "argmin", "argsort", "argpartition", "searchsorted", "nonzero", "round",
             "any", "all", "shape", "ndim", "size", "dtype", "itemsize", "nbytes", "strides"),
)
nondiff("floordiv", "eq", "noteq", "lt", "lte", "gt", "gte", "is", "isnot", "in", "notin",
        "not", "invert", "bitand", "bitor", "bitxor", "lshift", "rshift", family="op")
