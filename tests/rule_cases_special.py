"""Rule test cases for scipy.special and scipy.stats (see rule_cases.py for the format)."""

import numpy as np
import scipy.special

from rule_cases import C, R, POS, UNIT  # noqa: F401

CASES = {}
S = "scipy.special"
P = dict(lo=0.5, hi=3.0)
U01 = dict(lo=0.1, hi=0.9)


def _unary(names, **dom):
    for n in names.split():
        CASES[f"{S}.{n}"] = [C(R(**dom)), C(R(4, **dom)), C(R(2, 3, **dom))]


_unary("gamma gammaln rgamma psi digamma j0 j1 y0 y1 i0 i1 entr", **P)
_unary("erf erfc expit", lo=-2.0, hi=2.0)
_unary("erfinv", **UNIT)
_unary("erfcinv", lo=0.2, hi=1.8)
_unary("logit", **U01)
CASES[f"{S}.polygamma"] = [C(0, R(3, **P)), C(1, R(2, 3, **P)), C(np.array([0, 1, 2]), R(3, **P))]
CASES[f"{S}.multigammaln"] = [C(R(lo=2.0, hi=4.0), 3), C(R(4, lo=2.0, hi=4.0), 2)]
for _n in ("beta", "betaln"):
    CASES[f"{S}.{_n}"] = [C(R(3, **P), R(3, **P)), C(R(2, 3, **P), R(3, **P)), C(R(**P), R(**P))]
CASES[f"{S}.binom"] = [C(R(3, lo=3.0, hi=6.0), R(3, lo=0.5, hi=2.5)), C(R(lo=4.0, hi=6.0), 2.5)]
CASES[f"{S}.betainc"] = [C(R(3, **P), R(3, **P), R(3, **U01), nondiff={"a", "b"}),
                         C(2.0, 3.0, R(2, 3, **U01))]
for _n in ("gammainc", "gammaincc"):
    CASES[f"{S}.{_n}"] = [C(R(3, **P), R(3, **P)), C(2.5, R(2, 3, **P))]
for _n in ("jn", "jv", "yn"):
    CASES[f"{S}.{_n}"] = [C(2, R(3, **P)), C(np.array([0, 1, 3]), R(2, 3, **P))]
CASES[f"{S}.iv"] = [C(2.5, R(3, **P)), C(np.array([0.0, 1.0, 1.5]), R(2, 3, **P))]
CASES[f"{S}.ive"] = [C(1.5, R(3, **P)), C(2.0, R(2, 3, lo=-3.0, hi=-0.5))]
CASES[f"{S}.xlogy"] = [C(R(3), R(3, **P)), C(R(2, 3), R(3, **P)), C(R(), R(2, **P))]
CASES[f"{S}.xlog1py"] = [C(R(3), R(3, lo=-0.5, hi=2.0)), C(R(2, 3), R(3, lo=-0.5, hi=2.0))]
CASES[f"{S}.logsumexp"] = [
    C(R(5)), C(R(2, 3, 4), axis=1), C(R(2, 3, 4), axis=(0, 2), keepdims=True),
    C(R(3, 4), axis=-1, b=R(3, 4, **P)), C(R(3, 4), b=R(4, **P)), C(R(2, 3), 0, R(2, 3, **P), True),
]
for _n in ("softmax", "log_softmax"):
    CASES[f"{S}.{_n}"] = [C(R(5)), C(R(2, 3, 4), axis=1), C(R(3, 4), axis=(0, 1)), C(R(3, 4), axis=-1)]

# --- scipy.stats -----------------------------------------------------------------

F = "scipy.stats"
for _m in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
    CASES[f"{F}.norm.{_m}"] = [C(R(4)), C(R(2, 3), R(3), R(2, 3, **P)), C(R(3), loc=0.5, scale=R(**P)),
                               C(R(), R(), R(**P))]
for _m in ("logpdf", "pdf"):
    CASES[f"{F}.t.{_m}"] = [C(R(4), R(4, lo=1.0, hi=6.0)), C(R(2, 3), R(**P), R(3), R(2, 3, **P)),
                            C(R(), 3.0, loc=R(), scale=R(**P))]
for _m in ("cdf", "logcdf"):
    CASES[f"{F}.t.{_m}"] = [C(R(4), 3.5), C(R(2, 3), 2.0, R(3), R(2, 3, **P)),
                            C(R(), R(4, **P), R(), R(**P), nondiff={"df"})]
for _m in ("logpdf", "pdf"):
    CASES[f"{F}.beta.{_m}"] = [C(R(4, **U01), R(4, **P), R(4, **P)),
                               C(R(2, 3, lo=0.0, hi=1.5), R(**P), R(3, **P), -0.5, 2.5)]
    CASES[f"{F}.gamma.{_m}"] = [C(R(4, **P), R(4, **P)), C(R(2, 3, lo=1.0, hi=3.0), R(3, **P), 0.5, R(**P))]
    CASES[f"{F}.chi2.{_m}"] = [C(R(4, **P), R(4, lo=1.0, hi=5.0)),
                               C(R(2, 3, lo=1.0, hi=3.0), R(3, lo=1.0, hi=5.0), 0.5, R(**P))]
CASES[f"{F}.beta.cdf"] = [C(R(4, **U01), R(4, **P), R(4, **P), nondiff={"a", "b"}),
                          C(R(3, lo=0.0, hi=1.5), 2.0, 3.0, -0.5, 2.5)]
CASES[f"{F}.gamma.cdf"] = [C(R(4, **P), R(4, **P), nondiff={"a"}), C(R(3, lo=1.0, hi=3.0), 2.0, 0.5, 1.5)]
CASES[f"{F}.chi2.cdf"] = [C(R(4, **P), 3.0), C(R(3, lo=1.0, hi=3.0), 2.5, 0.5, R(**P))]
for _m in ("logpmf", "pmf", "cdf"):
    CASES[f"{F}.poisson.{_m}"] = [C(np.array([0.0, 1.0, 3.0, 7.0]), R(4, lo=0.5, hi=5.0)),
                                  C(np.array([[1.0], [4.0]]), R(3, lo=0.5, hi=5.0), 0)]


def _spd(n, seed):
    x = np.random.default_rng(seed).uniform(-1, 1, (n, n))
    return x @ x.T + n * np.eye(n)


for _m in ("logpdf", "pdf"):
    CASES[f"{F}.multivariate_normal.{_m}"] = [
        C(R(3), R(3), _spd(3, 1)), C(R(4, 3), R(3), _spd(3, 2)), C(R(2), cov=_spd(2, 3)),
        C(R(3), mean=R(3), cov=_spd(3, 4)),
    ]


def _simplex(*shape, seed=0):
    x = np.random.default_rng(seed).uniform(0.2, 1.0, shape)
    return x / x.sum(axis=0)


def _dirichlet_logpdf(x, alpha):
    """The Dirichlet log density off the simplex too (scipy refuses such x)."""
    a = alpha.reshape((-1,) + (1,) * (x.ndim - 1))
    return (np.sum((a - 1) * np.log(x), axis=0) - np.sum(scipy.special.gammaln(alpha))
            + scipy.special.gammaln(np.sum(alpha)))


CASES[f"{F}.dirichlet.logpdf"] = [
    C(_simplex(3), R(3, **P), nondiff={"x"}), C(_simplex(3, 4, seed=1), R(3, **P), nondiff={"x"}),
    C(R(3, lo=0.2, hi=0.9), R(3, **P), fn=_dirichlet_logpdf),
    C(R(3, 2, lo=0.2, hi=0.9), R(3, **P), fn=_dirichlet_logpdf),
]
CASES[f"{F}.dirichlet.pdf"] = [
    C(_simplex(3), R(3, **P), nondiff={"x"}), C(_simplex(3, 4, seed=1), R(3, **P), nondiff={"x"}),
    C(R(3, 2, lo=0.2, hi=0.9), R(3, **P), fn=lambda x, a: np.exp(_dirichlet_logpdf(x, a))),
]

RT = "s2sgrad.runtime"
CASES[f"{RT}.multipsi"] = [C(R(lo=2.0, hi=4.0), 3), C(R(3, lo=2.0, hi=4.0), 2, 1)]
CASES[f"{RT}.dirichlet_alpha"] = [C(R(3), np.zeros((3, 2)), nondiff={"x"}), C(R(3), np.zeros(3), nondiff={"x"})]


def _decay(y, t, k):
    return -k * y * y


CASES["scipy.integrate.odeint"] = [
    C(_decay, R(2, lo=0.5, hi=1.5), np.linspace(0.0, 1.0, 4), (R(lo=0.5, hi=1.5),),
      None, 0, 0, None, None, 1e-10, 1e-12, nondiff={"func", "times"}),
]


def _gauss(t, a, c):
    return np.exp(-a * t * t) * np.sum(c)


def _cubic(x, a, c):
    return x ** 3 + a * x - np.sum(c * c)


CASES["scipy.integrate.quad"] = [
    C(_gauss, R(lo=-0.5, hi=0.0), R(lo=0.5, hi=1.5), (R(lo=0.5, hi=1.5), R(2, lo=0.5, hi=1.5)),
      nondiff={"func"}),
]
for _name in ("brentq", "brenth", "ridder", "bisect", "toms748"):
    CASES[f"scipy.optimize.{_name}"] = [
        C(_cubic, 0.0, 2.0, (R(lo=0.5, hi=1.5), R(2, lo=0.3, hi=0.8)), xtol=1e-15,
          nondiff={"f", "a", "b"}),
    ]
