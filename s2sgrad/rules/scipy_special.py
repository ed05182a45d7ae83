"""Derivative rules for scipy.special (family "scipy.special").

Functions are differentiated with respect to the arguments Autograd
differentiates: integer orders (``polygamma``'s ``n``, ``jn``'s ``n``) and
the shape parameters of the incomplete gamma and beta functions, whose
derivatives have no closed form, carry none.
"""

import scipy.special
import scipy.special as special

from . import registry
from .registry import elementwise, nondiff, primitive
from ..runtime import broadcast_like, multipsi, reduce_vjp, unbroadcast

S = "scipy.special"


def broadcasting(*names, family):
    """Class decorator for a broadcasting function of several arguments from its partials.

    Each method ``d<param>(xp, <primal params>, ans)`` is the partial derivative
    with respect to ``param``; as for ``registry.binary``, the reverse rule is
    ``unbroadcast(g * d, param)`` and the forward rule ``broadcast_like(t * d, ans)``.
    Parameters without a partial carry no derivative.
    """
    def deco(cls):
        partials = {k[1:]: v for k, v in vars(cls).items() if k.startswith("d") and callable(v)}
        sig = registry._primal_signature(next(iter(partials.values())), skip=1)
        sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "ans"])
        for name in names:
            prim = registry.Primitive(name, family, sig, cheap=True)
            for param, d in partials.items():
                for kind in ("vjp", "jvp"):
                    getattr(prim, kind)[param] = registry.broadcast_rule(d, param, kind)
            registry._register(prim)
        return cls
    return deco


# ---------------------------------------------------------------------------
# Gamma and beta functions
# ---------------------------------------------------------------------------


@elementwise("gamma", family=S)
def _gamma(xp, x, ans):
    return ans * special.psi(x)


@elementwise("gammaln", family=S)
def _gammaln(xp, x):
    return special.psi(x)


@elementwise("rgamma", family=S)
def _rgamma(xp, x, ans):
    return -ans * special.psi(x)


@elementwise("psi", "digamma", family=S)
def _psi(xp, x):
    return special.polygamma(1, x)


@broadcasting("polygamma", family=S)
class _Polygamma:
    def dx(xp, n, x):
        return special.polygamma(n + 1, x)


@broadcasting("multigammaln", family=S)
class _Multigammaln:
    def da(xp, a, d):
        return multipsi(a, d)


@broadcasting("beta", family=S)
class _Beta:
    def da(xp, a, b, ans):
        return ans * (special.psi(a) - special.psi(a + b))

    def db(xp, a, b, ans):
        return ans * (special.psi(b) - special.psi(a + b))


@broadcasting("binom", family=S)
class _Binom:
    # binom(n, k) = gamma(n + 1) / (gamma(k + 1) gamma(n - k + 1)), for real n and k
    def dn(xp, n, k, ans):
        return ans * (special.psi(n + 1) - special.psi(n - k + 1))

    def dk(xp, n, k, ans):
        return ans * (special.psi(n - k + 1) - special.psi(k + 1))


@broadcasting("betaln", family=S)
class _Betaln:
    def da(xp, a, b):
        return special.psi(a) - special.psi(a + b)

    def db(xp, a, b):
        return special.psi(b) - special.psi(a + b)


@broadcasting("betainc", family=S)
class _Betainc:
    def dx(xp, a, b, x):
        return xp.exp((a - 1) * xp.log(x) + (b - 1) * xp.log1p(-x) - special.betaln(a, b))


@broadcasting("gammainc", family=S)
class _Gammainc:
    def dx(xp, a, x):
        return xp.exp((a - 1) * xp.log(x) - x - special.gammaln(a))


@broadcasting("gammaincc", family=S)
class _Gammaincc:
    def dx(xp, a, x):
        return -xp.exp((a - 1) * xp.log(x) - x - special.gammaln(a))


# ---------------------------------------------------------------------------
# Bessel functions (derivatives with respect to the argument; orders are fixed)
# ---------------------------------------------------------------------------


@elementwise("j0", family=S)
def _j0(xp, x):
    return -special.j1(x)


@elementwise("j1", family=S)
def _j1(xp, x):
    return (special.j0(x) - special.jv(2, x)) / 2.0


@elementwise("y0", family=S)
def _y0(xp, x):
    return -special.y1(x)


@elementwise("y1", family=S)
def _y1(xp, x):
    return (special.y0(x) - special.yn(2, x)) / 2.0


@elementwise("i0", family=S)
def _i0(xp, x):
    return special.i1(x)


@elementwise("i1", family=S)
def _i1(xp, x):
    return (special.i0(x) + special.iv(2, x)) / 2.0


@broadcasting("jn", "jv", family=S)
class _Jv:
    def dx(xp, n, x):
        return (special.jv(n - 1, x) - special.jv(n + 1, x)) / 2.0


@broadcasting("yn", family=S)
class _Yn:
    def dx(xp, n, x):
        return (special.yn(n - 1, x) - special.yn(n + 1, x)) / 2.0


@broadcasting("iv", family=S)
class _Iv:
    def dx(xp, v, x):
        return (special.iv(v - 1, x) + special.iv(v + 1, x)) / 2.0


@broadcasting("ive", family=S)
class _Ive:
    # ive(v, x) = iv(v, x) * exp(-|x|)
    def dx(xp, v, x, ans):
        return (special.ive(v - 1, x) + special.ive(v + 1, x)) / 2.0 - ans * xp.sign(x)


# ---------------------------------------------------------------------------
# Error functions, logistic functions, entropies
# ---------------------------------------------------------------------------


@elementwise("erf", family=S)
def _erf(xp, x):
    return 1.1283791670955126 * xp.exp(-x ** 2)


@elementwise("erfc", family=S)
def _erfc(xp, x):
    return -1.1283791670955126 * xp.exp(-x ** 2)


@elementwise("erfinv", family=S)
def _erfinv(xp, x, ans):
    return 0.886226925452758 * xp.exp(ans ** 2)


@elementwise("erfcinv", family=S)
def _erfcinv(xp, x, ans):
    return -0.886226925452758 * xp.exp(ans ** 2)


@elementwise("logit", family=S)
def _logit(xp, x):
    return 1.0 / (x * (1.0 - x))


@elementwise("expit", family=S)
def _expit(xp, x, ans):
    return ans * (1.0 - ans)


@elementwise("entr", family=S)
def _entr(xp, x):
    return -(xp.log(x) + 1.0)


@broadcasting("xlogy", family=S)
class _Xlogy:
    def dx(xp, x, y):
        return xp.log(y)

    def dy(xp, x, y):
        return x / y


@broadcasting("xlog1py", family=S)
class _Xlog1py:
    def dx(xp, x, y):
        return xp.log1p(y)

    def dy(xp, x, y):
        return x / (1.0 + y)


# ---------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------


@primitive("logsumexp", family=S)
class _Logsumexp:
    def vjp_a(xp, g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
        if return_sign:
            raise NotImplementedError("the derivative of logsumexp(..., return_sign=True)")
        w = xp.exp(a - reduce_vjp(ans, a, axis, keepdims))
        if b is not None:
            return unbroadcast(reduce_vjp(g, a, axis, keepdims) * w * b, a)
        return reduce_vjp(g, a, axis, keepdims) * w

    def vjp_b(xp, g, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
        w = xp.exp(a - reduce_vjp(ans, a, axis, keepdims))
        return unbroadcast(reduce_vjp(g, a, axis, keepdims) * w, b)

    def jvp_a(xp, t, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
        if return_sign:
            raise NotImplementedError("the derivative of logsumexp(..., return_sign=True)")
        w = xp.exp(a - reduce_vjp(ans, a, axis, keepdims))
        if b is not None:
            w = w * b
        return xp.sum(t * w, axis=axis, keepdims=keepdims)

    def jvp_b(xp, t, ans, a, axis=None, b=None, keepdims=False, return_sign=False):
        w = xp.exp(a - reduce_vjp(ans, a, axis, keepdims))
        return xp.sum(t * w, axis=axis, keepdims=keepdims)


@primitive("softmax", family=S)
class _Softmax:
    def vjp_x(xp, g, ans, x, axis=None):
        return ans * (g - xp.sum(g * ans, axis=axis, keepdims=True))

    def jvp_x(xp, t, ans, x, axis=None):
        return ans * (t - xp.sum(t * ans, axis=axis, keepdims=True))


@primitive("log_softmax", family=S)
class _LogSoftmax:
    def vjp_x(xp, g, ans, x, axis=None):
        return g - xp.exp(ans) * xp.sum(g, axis=axis, keepdims=True)

    def jvp_x(xp, t, ans, x, axis=None):
        return t - xp.sum(xp.exp(ans) * t, axis=axis, keepdims=True)


nondiff("gammasgn", "factorial", "comb", "perm", family=S)
