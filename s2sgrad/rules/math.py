"""Derivative rules for the ``math`` module (Python floats)."""

import math

from .registry import elementwise, nondiff, primitive, set_shape_params


@elementwise("sin", family="math")
def _sin(xp, x):
    return math.cos(x)


@elementwise("cos", family="math")
def _cos(xp, x):
    return -math.sin(x)


@elementwise("tan", family="math")
def _tan(xp, x):
    return 1.0 + math.tan(x) ** 2


@elementwise("asin", family="math")
def _asin(xp, x):
    return 1.0 / math.sqrt(1.0 - x * x)


@elementwise("acos", family="math")
def _acos(xp, x):
    return -1.0 / math.sqrt(1.0 - x * x)


@elementwise("atan", family="math")
def _atan(xp, x):
    return 1.0 / (1.0 + x * x)


@elementwise("sinh", family="math")
def _sinh(xp, x):
    return math.cosh(x)


@elementwise("cosh", family="math")
def _cosh(xp, x):
    return math.sinh(x)


@elementwise("tanh", family="math")
def _tanh(xp, x, ans):
    return 1.0 - ans * ans


@elementwise("asinh", family="math")
def _asinh(xp, x):
    return 1.0 / math.sqrt(x * x + 1.0)


@elementwise("acosh", family="math")
def _acosh(xp, x):
    return 1.0 / math.sqrt(x * x - 1.0)


@elementwise("atanh", family="math")
def _atanh(xp, x):
    return 1.0 / (1.0 - x * x)


@elementwise("exp", family="math")
def _exp(xp, x, ans):
    return ans


@elementwise("expm1", family="math")
def _expm1(xp, x, ans):
    return ans + 1.0


@elementwise("log1p", family="math")
def _log1p(xp, x):
    return 1.0 / (1.0 + x)


@elementwise("log2", family="math")
def _log2(xp, x):
    return 1.4426950408889634 / x


@elementwise("log10", family="math")
def _log10(xp, x):
    return 0.4342944819032518 / x


@elementwise("sqrt", family="math")
def _sqrt(xp, x, ans):
    return 0.5 / ans


@elementwise("fabs", family="math")
def _fabs(xp, x):
    return math.copysign(1.0, x)


@elementwise("erf", family="math")
def _erf(xp, x):
    return 1.1283791670955126 * math.exp(-x * x)


@elementwise("erfc", family="math")
def _erfc(xp, x):
    return -1.1283791670955126 * math.exp(-x * x)


@elementwise("degrees", family="math")
def _degrees(xp, x):
    return 57.29577951308232


@elementwise("radians", family="math")
def _radians(xp, x):
    return 0.017453292519943295


@primitive("log", family="math", cheap=True)
class _Log:
    def vjp_x(xp, g, ans, x, base=None):
        if base is None:
            return g / x
        return g / (x * math.log(base))

    def vjp_base(xp, g, ans, x, base=None):
        return -g * ans / (base * math.log(base))

    def jvp_x(xp, t, ans, x, base=None):
        if base is None:
            return t / x
        return t / (x * math.log(base))

    def jvp_base(xp, t, ans, x, base=None):
        return -t * ans / (base * math.log(base))


@primitive("pow", family="math", cheap=True)
class _Pow:
    def vjp_x(xp, g, ans, x, y):
        return g * y * x ** (y - 1)

    def vjp_y(xp, g, ans, x, y):
        return g * ans * math.log(x)

    def jvp_x(xp, t, ans, x, y):
        return t * y * x ** (y - 1)

    def jvp_y(xp, t, ans, x, y):
        return t * ans * math.log(x)


@primitive("atan2", family="math", cheap=True)
class _Atan2:
    def vjp_y(xp, g, ans, y, x):
        return g * x / (x * x + y * y)

    def vjp_x(xp, g, ans, y, x):
        return -g * y / (x * x + y * y)

    def jvp_y(xp, t, ans, y, x):
        return t * x / (x * x + y * y)

    def jvp_x(xp, t, ans, y, x):
        return -t * y / (x * x + y * y)


@primitive("hypot", family="math", cheap=True)
class _Hypot:
    def vjp_x(xp, g, ans, x, y):
        return g * x / ans

    def vjp_y(xp, g, ans, x, y):
        return g * y / ans

    def jvp_x(xp, t, ans, x, y):
        return t * x / ans

    def jvp_y(xp, t, ans, x, y):
        return t * y / ans


@primitive("copysign", family="math", cheap=True)
class _Copysign:
    """``|x|`` with the sign of ``y``: its derivative in ``y`` is zero (``y`` gives only a sign),
    so fabs's rule, ``copysign(1.0, x)``, can be differentiated again."""

    def vjp_x(xp, g, ans, x, y):
        return g * math.copysign(1.0, x) * math.copysign(1.0, y)

    def jvp_x(xp, t, ans, x, y):
        return t * math.copysign(1.0, x) * math.copysign(1.0, y)


set_shape_params("math", {"copysign": ("y",)})


nondiff("floor", "ceil", "trunc", "isnan", "isinf", "isfinite", "isclose", "factorial", "comb",
        "perm", "gcd", "lcm", family="math")
