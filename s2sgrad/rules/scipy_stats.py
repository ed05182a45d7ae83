"""Derivative rules for distributions of scipy.stats (family "scipy.stats").

Rules are written for the methods Autograd differentiates (``norm.logpdf``,
``t.cdf`` ...) with respect to the quantiles and the continuous parameters
that have closed-form derivatives; ``loc`` and ``scale`` enter through
``y = (x - loc) / scale``.  Shape parameters of cdfs (``t.cdf``'s ``df``,
``beta.cdf``'s ``a`` and ``b`` ...) and the counts ``k`` of Poisson carry no
derivative.  These are bound methods: ``registry.lookup`` matches them by
instance and function.
"""

import scipy.special as special
import scipy.stats
import scipy.stats as stats

from .registry import nondiff, primitive
from .scipy_special import broadcasting
from ..runtime import (
    dirichlet_alpha, from_triangle, reduce_vjp, shape, to_triangle, unbroadcast,
)

F = "scipy.stats"

# ---------------------------------------------------------------------------
# Normal
# ---------------------------------------------------------------------------


@broadcasting("norm.logpdf", family=F)
class _NormLogpdf:
    def dx(xp, x, loc=0.0, scale=1.0):
        return -(x - loc) / scale ** 2

    def dloc(xp, x, loc=0.0, scale=1.0):
        return (x - loc) / scale ** 2

    def dscale(xp, x, loc=0.0, scale=1.0):
        return (((x - loc) / scale) ** 2 - 1.0) / scale


@broadcasting("norm.pdf", family=F)
class _NormPdf:
    def dx(xp, x, loc=0.0, scale=1.0, ans=None):
        return -ans * (x - loc) / scale ** 2

    def dloc(xp, x, loc=0.0, scale=1.0, ans=None):
        return ans * (x - loc) / scale ** 2

    def dscale(xp, x, loc=0.0, scale=1.0, ans=None):
        return ans * (((x - loc) / scale) ** 2 - 1.0) / scale


@broadcasting("norm.cdf", family=F)
class _NormCdf:
    def dx(xp, x, loc=0.0, scale=1.0):
        return stats.norm.pdf(x, loc, scale)

    def dloc(xp, x, loc=0.0, scale=1.0):
        return -stats.norm.pdf(x, loc, scale)

    def dscale(xp, x, loc=0.0, scale=1.0):
        return -stats.norm.pdf(x, loc, scale) * (x - loc) / scale


@broadcasting("norm.logcdf", family=F)
class _NormLogcdf:
    def dx(xp, x, loc=0.0, scale=1.0, ans=None):
        return xp.exp(stats.norm.logpdf(x, loc, scale) - ans)

    def dloc(xp, x, loc=0.0, scale=1.0, ans=None):
        return -xp.exp(stats.norm.logpdf(x, loc, scale) - ans)

    def dscale(xp, x, loc=0.0, scale=1.0, ans=None):
        return -xp.exp(stats.norm.logpdf(x, loc, scale) - ans) * (x - loc) / scale


@broadcasting("norm.sf", family=F)
class _NormSf:
    def dx(xp, x, loc=0.0, scale=1.0):
        return -stats.norm.pdf(x, loc, scale)

    def dloc(xp, x, loc=0.0, scale=1.0):
        return stats.norm.pdf(x, loc, scale)

    def dscale(xp, x, loc=0.0, scale=1.0):
        return stats.norm.pdf(x, loc, scale) * (x - loc) / scale


@broadcasting("norm.logsf", family=F)
class _NormLogsf:
    def dx(xp, x, loc=0.0, scale=1.0, ans=None):
        return -xp.exp(stats.norm.logpdf(x, loc, scale) - ans)

    def dloc(xp, x, loc=0.0, scale=1.0, ans=None):
        return xp.exp(stats.norm.logpdf(x, loc, scale) - ans)

    def dscale(xp, x, loc=0.0, scale=1.0, ans=None):
        return xp.exp(stats.norm.logpdf(x, loc, scale) - ans) * (x - loc) / scale


# ---------------------------------------------------------------------------
# Student's t
# ---------------------------------------------------------------------------


@broadcasting("t.logpdf", family=F)
class _TLogpdf:
    def dx(xp, x, df, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        return -(df + 1.0) * z / (scale * (df + z ** 2))

    def ddf(xp, x, df, loc=0.0, scale=1.0):
        z2 = ((x - loc) / scale) ** 2
        return 0.5 * (special.psi((df + 1.0) / 2.0) - special.psi(df / 2.0) - 1.0 / df
                      - xp.log1p(z2 / df) + (df + 1.0) * z2 / (df * (df + z2)))

    def dloc(xp, x, df, loc=0.0, scale=1.0):
        z = (x - loc) / scale
        return (df + 1.0) * z / (scale * (df + z ** 2))

    def dscale(xp, x, df, loc=0.0, scale=1.0):
        z2 = ((x - loc) / scale) ** 2
        return ((df + 1.0) * z2 / (df + z2) - 1.0) / scale


@broadcasting("t.pdf", family=F)
class _TPdf:
    def dx(xp, x, df, loc=0.0, scale=1.0, ans=None):
        z = (x - loc) / scale
        return -ans * (df + 1.0) * z / (scale * (df + z ** 2))

    def ddf(xp, x, df, loc=0.0, scale=1.0, ans=None):
        z2 = ((x - loc) / scale) ** 2
        return 0.5 * ans * (special.psi((df + 1.0) / 2.0) - special.psi(df / 2.0) - 1.0 / df
                            - xp.log1p(z2 / df) + (df + 1.0) * z2 / (df * (df + z2)))

    def dloc(xp, x, df, loc=0.0, scale=1.0, ans=None):
        z = (x - loc) / scale
        return ans * (df + 1.0) * z / (scale * (df + z ** 2))

    def dscale(xp, x, df, loc=0.0, scale=1.0, ans=None):
        z2 = ((x - loc) / scale) ** 2
        return ans * ((df + 1.0) * z2 / (df + z2) - 1.0) / scale


@broadcasting("t.cdf", family=F)
class _TCdf:
    def dx(xp, x, df, loc=0.0, scale=1.0):
        return stats.t.pdf(x, df, loc, scale)

    def dloc(xp, x, df, loc=0.0, scale=1.0):
        return -stats.t.pdf(x, df, loc, scale)

    def dscale(xp, x, df, loc=0.0, scale=1.0):
        return -stats.t.pdf(x, df, loc, scale) * (x - loc) / scale


@broadcasting("t.logcdf", family=F)
class _TLogcdf:
    def dx(xp, x, df, loc=0.0, scale=1.0, ans=None):
        return xp.exp(stats.t.logpdf(x, df, loc, scale) - ans)

    def dloc(xp, x, df, loc=0.0, scale=1.0, ans=None):
        return -xp.exp(stats.t.logpdf(x, df, loc, scale) - ans)

    def dscale(xp, x, df, loc=0.0, scale=1.0, ans=None):
        return -xp.exp(stats.t.logpdf(x, df, loc, scale) - ans) * (x - loc) / scale


# ---------------------------------------------------------------------------
# Beta, gamma, chi-squared: y = (x - loc) / scale on the standard support
# ---------------------------------------------------------------------------


@broadcasting("beta.logpdf", family=F)
class _BetaLogpdf:
    def dx(xp, x, a, b, loc=0.0, scale=1.0):
        y = (x - loc) / scale
        return ((a - 1.0) / y - (b - 1.0) / (1.0 - y)) / scale

    def da(xp, x, a, b, loc=0.0, scale=1.0):
        return xp.log((x - loc) / scale) - special.psi(a) + special.psi(a + b)

    def db(xp, x, a, b, loc=0.0, scale=1.0):
        return xp.log1p(-(x - loc) / scale) - special.psi(b) + special.psi(a + b)

    def dloc(xp, x, a, b, loc=0.0, scale=1.0):
        y = (x - loc) / scale
        return -((a - 1.0) / y - (b - 1.0) / (1.0 - y)) / scale

    def dscale(xp, x, a, b, loc=0.0, scale=1.0):
        y = (x - loc) / scale
        return -(1.0 + (a - 1.0) - (b - 1.0) * y / (1.0 - y)) / scale


@broadcasting("beta.pdf", family=F)
class _BetaPdf:
    def dx(xp, x, a, b, loc=0.0, scale=1.0, ans=None):
        y = (x - loc) / scale
        return ans * ((a - 1.0) / y - (b - 1.0) / (1.0 - y)) / scale

    def da(xp, x, a, b, loc=0.0, scale=1.0, ans=None):
        return ans * (xp.log((x - loc) / scale) - special.psi(a) + special.psi(a + b))

    def db(xp, x, a, b, loc=0.0, scale=1.0, ans=None):
        return ans * (xp.log1p(-(x - loc) / scale) - special.psi(b) + special.psi(a + b))

    def dloc(xp, x, a, b, loc=0.0, scale=1.0, ans=None):
        y = (x - loc) / scale
        return -ans * ((a - 1.0) / y - (b - 1.0) / (1.0 - y)) / scale

    def dscale(xp, x, a, b, loc=0.0, scale=1.0, ans=None):
        y = (x - loc) / scale
        return -ans * (1.0 + (a - 1.0) - (b - 1.0) * y / (1.0 - y)) / scale


@broadcasting("beta.cdf", family=F)
class _BetaCdf:
    def dx(xp, x, a, b, loc=0.0, scale=1.0):
        return stats.beta.pdf(x, a, b, loc, scale)

    def dloc(xp, x, a, b, loc=0.0, scale=1.0):
        return -stats.beta.pdf(x, a, b, loc, scale)

    def dscale(xp, x, a, b, loc=0.0, scale=1.0):
        return -stats.beta.pdf(x, a, b, loc, scale) * (x - loc) / scale


@broadcasting("gamma.logpdf", family=F)
class _GammaLogpdf:
    def dx(xp, x, a, loc=0.0, scale=1.0):
        return ((a - 1.0) * scale / (x - loc) - 1.0) / scale

    def da(xp, x, a, loc=0.0, scale=1.0):
        return xp.log((x - loc) / scale) - special.psi(a)

    def dloc(xp, x, a, loc=0.0, scale=1.0):
        return -((a - 1.0) * scale / (x - loc) - 1.0) / scale

    def dscale(xp, x, a, loc=0.0, scale=1.0):
        return ((x - loc) / scale - a) / scale


@broadcasting("gamma.pdf", family=F)
class _GammaPdf:
    def dx(xp, x, a, loc=0.0, scale=1.0, ans=None):
        return ans * ((a - 1.0) * scale / (x - loc) - 1.0) / scale

    def da(xp, x, a, loc=0.0, scale=1.0, ans=None):
        return ans * (xp.log((x - loc) / scale) - special.psi(a))

    def dloc(xp, x, a, loc=0.0, scale=1.0, ans=None):
        return -ans * ((a - 1.0) * scale / (x - loc) - 1.0) / scale

    def dscale(xp, x, a, loc=0.0, scale=1.0, ans=None):
        return ans * ((x - loc) / scale - a) / scale


@broadcasting("gamma.cdf", family=F)
class _GammaCdf:
    def dx(xp, x, a, loc=0.0, scale=1.0):
        return stats.gamma.pdf(x, a, loc, scale)

    def dloc(xp, x, a, loc=0.0, scale=1.0):
        return -stats.gamma.pdf(x, a, loc, scale)

    def dscale(xp, x, a, loc=0.0, scale=1.0):
        return -stats.gamma.pdf(x, a, loc, scale) * (x - loc) / scale


@broadcasting("chi2.logpdf", family=F)
class _Chi2Logpdf:
    def dx(xp, x, df, loc=0.0, scale=1.0):
        return ((df / 2.0 - 1.0) * scale / (x - loc) - 0.5) / scale

    def ddf(xp, x, df, loc=0.0, scale=1.0):
        return 0.5 * (xp.log((x - loc) / scale) - 0.6931471805599453 - special.psi(df / 2.0))

    def dloc(xp, x, df, loc=0.0, scale=1.0):
        return -((df / 2.0 - 1.0) * scale / (x - loc) - 0.5) / scale

    def dscale(xp, x, df, loc=0.0, scale=1.0):
        return ((x - loc) / (2.0 * scale) - df / 2.0) / scale


@broadcasting("chi2.pdf", family=F)
class _Chi2Pdf:
    def dx(xp, x, df, loc=0.0, scale=1.0, ans=None):
        return ans * ((df / 2.0 - 1.0) * scale / (x - loc) - 0.5) / scale

    def ddf(xp, x, df, loc=0.0, scale=1.0, ans=None):
        return 0.5 * ans * (xp.log((x - loc) / scale) - 0.6931471805599453 - special.psi(df / 2.0))

    def dloc(xp, x, df, loc=0.0, scale=1.0, ans=None):
        return -ans * ((df / 2.0 - 1.0) * scale / (x - loc) - 0.5) / scale

    def dscale(xp, x, df, loc=0.0, scale=1.0, ans=None):
        return ans * ((x - loc) / (2.0 * scale) - df / 2.0) / scale


@broadcasting("chi2.cdf", family=F)
class _Chi2Cdf:
    def dx(xp, x, df, loc=0.0, scale=1.0):
        return stats.chi2.pdf(x, df, loc, scale)

    def dloc(xp, x, df, loc=0.0, scale=1.0):
        return -stats.chi2.pdf(x, df, loc, scale)

    def dscale(xp, x, df, loc=0.0, scale=1.0):
        return -stats.chi2.pdf(x, df, loc, scale) * (x - loc) / scale


# ---------------------------------------------------------------------------
# Poisson (derivatives with respect to the rate; counts are discrete)
# ---------------------------------------------------------------------------


@broadcasting("poisson.logpmf", family=F)
class _PoissonLogpmf:
    def dmu(xp, k, mu, loc=0):
        return (k - loc) / mu - 1.0


@broadcasting("poisson.pmf", family=F)
class _PoissonPmf:
    def dmu(xp, k, mu, loc=0, ans=None):
        return ans * ((k - loc) / mu - 1.0)


@broadcasting("poisson.cdf", family=F)
class _PoissonCdf:
    def dmu(xp, k, mu, loc=0):
        return -stats.poisson.pmf(xp.floor(k), mu, loc)


# ---------------------------------------------------------------------------
# Multivariate normal and Dirichlet
# ---------------------------------------------------------------------------


@primitive("multivariate_normal.logpdf", family=F)
class _MvnLogpdf:
    # scipy reads the lower triangle of cov; r = x - mean, s = cov^-1 r (rows of a batch).  Every
    # rule reads cov as scipy does (from_triangle), so that the rules' own derivatives (second
    # derivatives) in the upper triangle are zero, as the density's are.
    def vjp_x(xp, g, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        s = xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0]
        return unbroadcast(-xp.asarray(g)[..., None] * s, x)

    def vjp_mean(xp, g, ans, x, mean=None, cov=1, allow_singular=False):
        s = xp.linalg.solve(from_triangle(cov, True), (x - mean)[..., None])[..., 0]
        return unbroadcast(xp.asarray(g)[..., None] * s, mean)

    def vjp_cov(xp, g, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        n = shape(cov)[-1]
        s = xp.reshape(xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0], (-1, n))
        gs = xp.reshape(g, (-1, 1)) * s
        return to_triangle(0.5 * (s.T @ gs - xp.sum(g) * xp.linalg.inv(from_triangle(cov, True))), True)

    def jvp_x(xp, t, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        s = xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0]
        return -xp.sum(s * t, axis=-1)

    def jvp_mean(xp, t, ans, x, mean=None, cov=1, allow_singular=False):
        s = xp.linalg.solve(from_triangle(cov, True), (x - mean)[..., None])[..., 0]
        return xp.sum(s * t, axis=-1)

    def jvp_cov(xp, t, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        e = from_triangle(t, True)
        s = xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0]
        return 0.5 * (xp.sum(s * (s @ e), axis=-1) - xp.sum(xp.linalg.inv(from_triangle(cov, True)) * e))


@primitive("multivariate_normal.pdf", family=F)
class _MvnPdf:
    def vjp_x(xp, g, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        s = xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0]
        return unbroadcast(-xp.asarray(g * ans)[..., None] * s, x)

    def vjp_mean(xp, g, ans, x, mean=None, cov=1, allow_singular=False):
        s = xp.linalg.solve(from_triangle(cov, True), (x - mean)[..., None])[..., 0]
        return unbroadcast(xp.asarray(g * ans)[..., None] * s, mean)

    def vjp_cov(xp, g, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        n = shape(cov)[-1]
        s = xp.reshape(xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0], (-1, n))
        gs = xp.reshape(g * ans, (-1, 1)) * s
        return to_triangle(0.5 * (s.T @ gs - xp.sum(g * ans) * xp.linalg.inv(from_triangle(cov, True))), True)

    def jvp_x(xp, t, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        s = xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0]
        return -ans * xp.sum(s * t, axis=-1)

    def jvp_mean(xp, t, ans, x, mean=None, cov=1, allow_singular=False):
        s = xp.linalg.solve(from_triangle(cov, True), (x - mean)[..., None])[..., 0]
        return ans * xp.sum(s * t, axis=-1)

    def jvp_cov(xp, t, ans, x, mean=None, cov=1, allow_singular=False):
        r = x if mean is None else x - mean
        e = from_triangle(t, True)
        s = xp.linalg.solve(from_triangle(cov, True), r[..., None])[..., 0]
        return 0.5 * ans * (xp.sum(s * (s @ e), axis=-1) - xp.sum(xp.linalg.inv(from_triangle(cov, True)) * e))


@primitive("dirichlet.logpdf", family=F)
class _DirichletLogpdf:
    # quantiles x have their components on the first axis: (k,) or (k, n)
    def vjp_x(xp, g, ans, x, alpha):
        return g * (dirichlet_alpha(alpha, x) - 1.0) / x

    def vjp_alpha(xp, g, ans, x, alpha):
        d = xp.log(x) - dirichlet_alpha(special.psi(alpha) - special.psi(xp.sum(alpha)), x)
        return xp.reshape(xp.sum(g * d, axis=tuple(range(1, len(shape(x))))), shape(alpha))

    def jvp_x(xp, t, ans, x, alpha):
        return xp.sum(t * (dirichlet_alpha(alpha, x) - 1.0) / x, axis=0)

    def jvp_alpha(xp, t, ans, x, alpha):
        d = xp.log(x) - dirichlet_alpha(special.psi(alpha) - special.psi(xp.sum(alpha)), x)
        return xp.sum(dirichlet_alpha(t, x) * d, axis=0)


@primitive("dirichlet.pdf", family=F)
class _DirichletPdf:
    def vjp_x(xp, g, ans, x, alpha):
        return g * ans * (dirichlet_alpha(alpha, x) - 1.0) / x

    def vjp_alpha(xp, g, ans, x, alpha):
        d = xp.log(x) - dirichlet_alpha(special.psi(alpha) - special.psi(xp.sum(alpha)), x)
        return xp.reshape(xp.sum(g * ans * d, axis=tuple(range(1, len(shape(x))))), shape(alpha))

    def jvp_x(xp, t, ans, x, alpha):
        return ans * xp.sum(t * (dirichlet_alpha(alpha, x) - 1.0) / x, axis=0)

    def jvp_alpha(xp, t, ans, x, alpha):
        d = xp.log(x) - dirichlet_alpha(special.psi(alpha) - special.psi(xp.sum(alpha)), x)
        return ans * xp.sum(dirichlet_alpha(t, x) * d, axis=0)


nondiff("poisson.rvs", family=F)   # other rvs have no rule: an error given derivatives
