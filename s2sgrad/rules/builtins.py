"""Derivative rules for Python builtins used on numbers: abs, max, min, pow, sum, float."""

from .registry import nondiff, primitive
from ..runtime import (
    unit, batch_items, extremum_jvp, extremum_vjp, items_adjoint, repeat_like, sort_order, unsort,
)


@primitive("abs", family="builtins", cheap=True)
class _Abs:
    def vjp_x(xp, g, ans, x):
        return g * xp.conj(unit(x))

    def jvp_x(xp, t, ans, x):
        return xp.real(xp.conj(unit(x)) * t)

    def real_vjp_x(xp, g, ans, x):
        return g * xp.sign(x)

    def real_jvp_x(xp, t, ans, x):
        return t * xp.sign(x)


@primitive("max", "min", family="builtins", cheap=True)
class _Extremum:
    def vjp_args(xp, g, ans, *args, argnum=0):
        if len(args) == 1:
            return extremum_vjp(g, ans, args[0])
        return g * (args[argnum] == ans)

    def jvp_args(xp, t, ans, *args, argnum=0):
        if len(args) == 1:
            return extremum_jvp(t, ans, args[0])
        return t * (args[argnum] == ans)


@primitive("pow", family="builtins", cheap=True)
class _Pow:
    def vjp_base(xp, g, ans, base, exp):
        return g * exp * base ** (exp - 1)

    def vjp_exp(xp, g, ans, base, exp):
        return g * ans * xp.log(base)

    def jvp_base(xp, t, ans, base, exp):
        return t * exp * base ** (exp - 1)

    def jvp_exp(xp, t, ans, base, exp):
        return t * ans * xp.log(base)


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("sum", family="builtins")
class _Sum:
    def vjp_iterable(xp, g, ans, iterable, start=0):
        return repeat_like(g, iterable)

    def vjp_start(xp, g, ans, iterable, start=0):
        return g

    def jvp_iterable(xp, t, ans, iterable, start=0):
        return sum(t)

    def jvp_start(xp, t, ans, iterable, start=0):
        return t


@primitive("list", "tuple", family="builtins", linear=True)
class _Items:
    def vjp_iterable(xp, g, ans, iterable=()):
        return items_adjoint(g, iterable)

    def jvp_iterable(xp, t, ans, iterable=()):
        return list(t)

    def batch_iterable(xp, t, ans, iterable=()):
        return batch_items(t)


# piecewise linear (the order comes from the values), not linear: no linear=True
@primitive("sorted", family="builtins")
class _Sorted:
    # the same values in another order: the order is computed again from the values
    def vjp_iterable(xp, g, ans, iterable, *, key=None, reverse=False):
        return unsort(g, sort_order(iterable, key, reverse), iterable)

    def jvp_iterable(xp, t, ans, iterable, *, key=None, reverse=False):
        return [t[i] for i in sort_order(iterable, key, reverse)]

    def batch_iterable(xp, t, ans, iterable, *, key=None, reverse=False):
        items = batch_items(t)
        return [items[i] for i in sort_order(iterable, key, reverse)]


@primitive("reversed", family="builtins", linear=True)
class _Reversed:
    def vjp_seq(xp, g, ans, seq):
        return items_adjoint(list(g)[::-1], seq)

    def jvp_seq(xp, t, ans, seq):
        return list(t)[::-1]

    def batch_seq(xp, t, ans, seq):
        return batch_items(t)[::-1]


# linear in its arguments together, not in each with the others fixed: no linear=True
@primitive("complex", family="builtins")
class _Complex:
    # complex(real, imag) = real + 1j * imag, for real numbers
    def vjp_real(xp, g, ans, real=0.0, imag=0.0):
        return (g.real if hasattr(g, "real") else g) * 1.0

    def vjp_imag(xp, g, ans, real=0.0, imag=0.0):
        return -(g.imag if hasattr(g, "imag") else 0.0 * g)

    def jvp_real(xp, t, ans, real=0.0, imag=0.0):
        return t + 0j

    def jvp_imag(xp, t, ans, real=0.0, imag=0.0):
        return 1j * t


@primitive("float", family="builtins", linear=True)
class _Float:
    def vjp_x(xp, g, ans, x=0.0):
        return g

    def jvp_x(xp, t, ans, x=0.0):
        return float(t)


nondiff("len", "range", "int", "bool", "str", "repr", "print", "isinstance", "issubclass",
        "type", "id", "hash", "round", "enumerate", "zip", "any", "all",
        "callable", "hasattr", "ord", "chr", "format", "object", "slice",
        family="builtins")
