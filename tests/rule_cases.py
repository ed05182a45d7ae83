"""Inputs for the systematic rule tests: every differentiable primitive needs cases here.

``CASES[qualname]`` lists calls ``C(*args, **kwargs)``.  Array arguments are
made with ``R(*shape, lo=, hi=)`` (random, deterministic, inside the function's
domain).  ``test_rules.py`` checks each reverse and forward rule of the
primitive against central finite differences at every case.
"""

import re

import numpy as np


class R:
    """A random real array argument of the given shape in [lo, hi] (a float for shape ())."""

    def __init__(self, *shape, lo=-2.0, hi=2.0, dtype=float):
        self.shape, self.lo, self.hi, self.dtype = shape, lo, hi, dtype

    def make(self, rng):
        x = rng.uniform(self.lo, self.hi, size=self.shape)
        if np.dtype(self.dtype).kind == "c":
            x = x + 1j * rng.uniform(self.lo, self.hi, size=self.shape)
        return float(x) if self.shape == () and self.dtype is float else x.astype(self.dtype)


def _has_placeholder(v):
    return isinstance(v, R) or isinstance(v, (list, tuple)) and any(map(_has_placeholder, v))


class C:
    """One call: positional and keyword arguments; ``R`` placeholders become arrays."""

    def __init__(self, *args, fn=None, nondiff=(), **kwargs):
        self.args, self.kwargs, self.fn, self.nondiff = args, kwargs, fn, set(nondiff)

    def make(self, rng):
        def mk(v):
            if isinstance(v, R):
                return v.make(rng)
            if isinstance(v, list):
                return [mk(e) for e in v]
            if isinstance(v, tuple) and _has_placeholder(v):
                return tuple(mk(e) for e in v)
            return v
        return [mk(a) for a in self.args], {k: mk(v) for k, v in self.kwargs.items()}

    def __repr__(self):
        def show(v):
            return f"R{v.shape}" if isinstance(v, R) else repr(v)
        parts = [show(a) for a in self.args] + [f"{k}={show(v)}" for k, v in self.kwargs.items()]
        return "(" + ", ".join(parts) + ")"


POS = dict(lo=0.2, hi=2.0)
UNIT = dict(lo=-0.8, hi=0.8)

UNARY_DOMAINS = {
    "log": POS, "log2": POS, "log10": POS, "sqrt": POS, "reciprocal": POS, "cbrt": POS,
    "log1p": dict(lo=-0.5, hi=2.0), "arcsin": UNIT, "arccos": UNIT, "arctanh": UNIT,
    "asin": UNIT, "acos": UNIT, "atanh": UNIT, "arccosh": dict(lo=1.2, hi=3.0),
    "acosh": dict(lo=1.2, hi=3.0), "abs": dict(lo=0.2, hi=2.0), "absolute": dict(lo=0.2, hi=2.0),
    "fabs": dict(lo=0.2, hi=2.0), "tan": dict(lo=-1.2, hi=1.2),
}

CASES = {}


def _unary(names, family=""):
    for n in names:
        dom = UNARY_DOMAINS.get(n, {})
        if family:
            CASES[f"{family}.{n}"] = [C(R(**dom)), C(R(**dom)), C(R(**dom))]
        else:
            CASES[n] = [C(R(**dom)), C(R(4, **dom)), C(R(2, 3, **dom))]


_unary("negative positive sin cos tan arcsin asin arccos acos arctan atan sinh cosh tanh "
       "arcsinh asinh arccosh acosh arctanh atanh exp exp2 expm1 log log2 log10 log1p sqrt "
       "cbrt square reciprocal abs absolute fabs deg2rad radians rad2deg degrees".split())
_unary("sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp expm1 log1p log2 log10 "
       "sqrt fabs erf erfc degrees radians".split(), family="math")

BROADCAST_PAIRS = [(R(3), R(3)), (R(2, 3), R(3)), (R(3), R(2, 3)), (R(2, 1), R(1, 3)),
                   (R(), R(2, 2)), (R(2, 3), R())]
for name in ("add", "subtract", "multiply", "maximum", "minimum", "fmax", "fmin"):
    CASES[name] = [C(a, b) for a, b in BROADCAST_PAIRS]
CASES["divide"] = [C(a, R(*b.shape, **POS)) for a, b in BROADCAST_PAIRS]
CASES["true_divide"] = CASES["divide"]
CASES["power"] = [C(R(*a.shape, **POS), b) for a, b in BROADCAST_PAIRS] + [C(R(3, **POS), 2.0)]
CASES["mod"] = [C(R(3, lo=0.3, hi=3.0), R(3, lo=0.7, hi=1.3))]
CASES["remainder"] = CASES["fmod"] = CASES["mod"]
CASES["where"] = [C(np.array([True, False, True]), R(3), R(3), nondiff={"condition"}),
                  C(np.array([[True], [False]]), R(2, 3), R(3), nondiff={"condition"})]
CASES["clip"] = [C(R(5), -0.5, 0.5), C(R(2, 3), -1.0, None), C(R(4), None, 0.3)]

REDUCE = [dict(), dict(axis=0), dict(axis=1), dict(axis=-1, keepdims=True), dict(axis=(0, 2))]
for name in ("sum", "mean"):
    CASES[name] = [C(R(2, 3, 4), **kw) for kw in REDUCE] + [C(R(5))]
CASES["prod"] = [C(R(2, 3, 4, lo=0.5, hi=1.5), **kw) for kw in REDUCE]
for name in ("max", "amax", "min", "amin"):
    CASES[name] = [C(R(2, 3, 4), **kw) for kw in REDUCE if kw.get("axis") != (0, 2)]

CASES["matmul"] = [C(R(2, 3), R(3, 4)), C(R(3), R(3, 4)), C(R(2, 3), R(3)), C(R(3), R(3)),
                   C(R(5, 2, 3), R(3, 4)), C(R(2, 3), R(5, 3, 2))]
CASES["dot"] = [C(R(2, 3), R(3, 4)), C(R(3), R(3, 4)), C(R(2, 3), R(3)), C(R(3), R(3)),
                C(R(), R(3)), C(R(2, 3, 4), R(4, 2)), C(R(2, 3), R(4, 3, 2))]
CASES["outer"] = [C(R(3), R(4)), C(R(2, 2), R(3))]
CASES["reshape"] = [C(R(2, 3), (3, 2)), C(R(6), (2, -1))]
CASES["transpose"] = [C(R(2, 3)), C(R(2, 3, 4), (1, 2, 0))]
CASES["attribute.T"] = [C(R(2, 3), fn=lambda a: a.T)]
CASES["stack"] = [C([R(3), R(3)]), C([R(2, 3), R(2, 3), R(2, 3)], axis=1)]
CASES["concatenate"] = [C([R(3), R(2)]), C([R(2, 3), R(2, 1)], axis=1), C([R(2, 2), R(3)], axis=None)]
CASES["array"] = [C([R(), R(), R()]), C([[R(), R()], [R(), R()]])]
CASES["asarray"] = [C(R(3)), C([R(), R()])]
CASES["copy"] = [C(R(3))]
CASES["getitem"] = [C(R(5), 2), C(R(5), slice(1, 4)), C(R(3, 4), (slice(None), 1)),
                    C(R(5), np.array([0, 2, 2]), nondiff={"index"}),
                    C(R(3, 2), (np.array([True, False, True]),), nondiff={"index"})]

CASES["math.log"] = [C(R(**POS)), C(R(**POS), 2.0), C(R(**POS), R(lo=1.5, hi=3.0))]
CASES["math.pow"] = [C(R(**POS), R()), C(R(**POS), 3.0)]
CASES["math.atan2"] = [C(R(), R(lo=0.5, hi=2.0)), C(R(), R(lo=-2.0, hi=-0.5))]
CASES["math.hypot"] = [C(R(), R())]
CASES["math.copysign"] = [C(R(lo=0.2, hi=2.0), R(lo=0.2, hi=2.0)), C(R(lo=0.2, hi=2.0), R(lo=-2.0, hi=-0.2)),
                          C(R(lo=-2.0, hi=-0.2), 1.5)]

CASES["builtins.abs"] = [C(R(lo=0.2, hi=2)), C(R(lo=-2, hi=-0.2)), C(R(3, lo=0.2, hi=2)),
                         C(R(dtype=complex)), C(R(3, dtype=complex))]
CASES["builtins.max"] = [C(R(lo=0, hi=1), R(lo=2, hi=3)), C([R(lo=0, hi=1), R(lo=2, hi=3), R(lo=0, hi=1)])]
CASES["builtins.min"] = [C(R(lo=0, hi=1), R(lo=2, hi=3)), C([R(lo=0, hi=1), R(lo=2, hi=3)])]
CASES["builtins.pow"] = [C(R(**POS), R()), C(R(**POS), 2.0)]
CASES["builtins.sum"] = [C([R(), R(), R()]), C([R(3), R(3)], R(3))]
CASES["builtins.float"] = [C(R())]
CASES["builtins.list"] = [C([R(), R(3)]), C(R(3, 2))]
CASES["builtins.tuple"] = [C([R(2), R()])]
CASES["builtins.complex"] = [C(R(), R()), C(R())]
CASES["float64"] = CASES["longdouble"] = [C(R())]
CASES["float32"] = CASES["float16"] = CASES["complex64"] = []   # too coarse for the differences
CASES["complex128"] = CASES["clongdouble"] = [C(R()), C(R(dtype=complex))]
CASES["method.item"] = [C(R(1), fn=lambda a, *i: a.item(*i)),
                          C(R(1, 1), fn=lambda a, *i: a.item(*i)),
                          C(R(2, 3), (4,), fn=lambda a, i: a.item(*i)),
                          C(R(2, 3), (1, 0), fn=lambda a, i: a.item(*i))]
CASES["method.tolist"] = [C(R(3), fn=lambda a: a.tolist()), C(R(2, 3), fn=lambda a: a.tolist()),
                            C(R(1), fn=lambda a: a.tolist())]
CASES["builtins.reversed"] = [C([R(), R(2), R()], fn=lambda s: list(reversed(s))), C(R(3, 2), fn=lambda s: list(reversed(s)))]
CASES["builtins.sorted"] = [C([R(), R(), R()]), C(R(4)), C([R(), R(), R()], reverse=True),
                            C([R(2), R(2)], key=lambda v: float(v[1]))]

RT = "s2sgrad.runtime"
CASES[f"{RT}.unbroadcast"] = [C(R(2, 3), R(3), nondiff={"like"}), C(R(2, 3), R(2, 1), nondiff={"like"})]
CASES[f"{RT}.broadcast_like"] = [C(R(3), R(2, 3), nondiff={"like"})]
CASES[f"{RT}.reduce_vjp"] = [C(R(3), R(2, 3), 0, nondiff={"x"}), C(R(), R(2, 3), nondiff={"x"})]
CASES[f"{RT}.max_vjp"] = [C(R(3), np.array([1.0, 2.0, 3.0]), np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),
                           0, nondiff={"result", "x"})]
CASES[f"{RT}.scatter"] = [C(R(2), R(5), slice(1, 3), nondiff={"x", "index"})]
CASES[f"{RT}.add_at"] = [C(R(5), np.array([0, 2, 2]), R(3), nondiff={"index"},
                           fn=lambda t, i, v: __import__("s2sgrad").runtime.add_at(t.copy(), i, v))]
CASES[f"{RT}.written_cotangent"] = [C(R(5), np.array([0, 2, 0, 4]), nondiff={"index"}),
                                     C(R(5), slice(1, 3), nondiff={"index"}),
                                     C(R(3, 2), (np.array([1, 1]), np.array([0, 0])), nondiff={"index"})]
CASES[f"{RT}.written_scatter"] = [C(R(4), R(5), np.array([0, 2, 0, 4]), nondiff={"d", "index"})]
CASES[f"{RT}.add"] = [C(R(3), R(3))]
CASES[f"{RT}.copy"] = [C(R(3))]
CASES[f"{RT}.matmul_vjp_a"] = [C(R(2, 4), R(2, 3), R(3, 4), nondiff={"a"}), C(R(4), R(3), R(3, 4), nondiff={"a"})]
CASES[f"{RT}.matmul_vjp_b"] = [C(R(2, 4), R(2, 3), R(3, 4), nondiff={"b"}), C(R(2), R(2, 3), R(3), nondiff={"b"})]
CASES[f"{RT}.dot_vjp_a"] = [C(R(2, 4), R(2, 3), R(3, 4), nondiff={"a"})]
CASES[f"{RT}.dot_vjp_b"] = [C(R(2, 4), R(2, 3), R(3, 4), nondiff={"b"})]
CASES[f"{RT}.unstack"] = [C(R(3, 2)), C(R(2, 3), 1)]
CASES[f"{RT}.split_like"] = [C(R(5), [np.zeros(2), np.zeros(3)], nondiff={"arrays"})]
CASES[f"{RT}.extremum_vjp"] = [C(R(), 2.0, [1.0, 2.0, 0.5, 2.0], nondiff={"result", "values"})]
CASES[f"{RT}.extremum_jvp"] = [C([R(), R(), R()], 2.0, [1.0, 2.0, 2.0], nondiff={"result", "values"})]
CASES[f"{RT}.repeat_like"] = [C(R(2), [0.0, 0.0, 0.0], nondiff={"values"})]
CASES[f"{RT}.items_adjoint"] = [C([R(2), R(2)], [0.0, 0.0], nondiff={"iterable"}),
                              C([R(2), R(2)], np.zeros((2, 2)), nondiff={"iterable"})]
CASES[f"{RT}.to_complex_like"] = [C(R(3), R(3), nondiff={"like"})]

CASES[f"{RT}.unsort"] = [C([R(), R(), R()], [2, 0, 1], [0.0, 0.0, 0.0], nondiff={"order", "items"})]
CASES[f"{RT}.item_of"] = [C(R(2, 3), (4,), nondiff={"index"}), C(R(1), nondiff={"index"})]
CASES[f"{RT}.item_vjp"] = [C(R(), np.zeros((2, 3)), (1, 2), nondiff={"a", "index"}),
                           C(R(), np.zeros(1), nondiff={"a", "index"})]
CASES[f"{RT}.unit"] = [C(R(3, dtype=complex)), C(R(2, 2, dtype=complex)), C(R(3, lo=0.2, hi=2))]
CASES[f"{RT}.fill_diagonal"] = [C(R(3, 3), R(), nondiff={"wrap"}), C(R(4, 3), R(3), True),
                                C(R(3, 3), R(2))]
CASES[f"{RT}.fill_diagonal_vjp_val"] = [C(R(3, 3), R()), C(R(4, 3), R(3), True)]
CASES[f"{RT}.sort_in_place"] = [C(R(5)), C(R(3, 4), 0), C([R(), R(), R()], reverse=True)]
CASES[f"{RT}.sort_in_place_vjp"] = [C(R(5), np.array([0.3, -1.0, 2.0, 0.1, 0.5]), nondiff={"value"}),
                                    C(R(3, 4), np.arange(12.0)[::-1].reshape(3, 4), 0,
                                      nondiff={"value"})]
CASES[f"{RT}.sort_in_place_jvp"] = CASES[f"{RT}.sort_in_place_vjp"]
CASES[f"{RT}.saved_item"] = [C([R(2), R(3)], 1, nondiff={"key"})]   # dicts: test_higher_order
CASES[f"{RT}.saved_item_vjp"] = [C(R(3), [np.zeros(2), np.zeros(3)], 1, nondiff={"container", "key"})]
CASES[f"{RT}.batch_unbroadcast_to"] = [C(R(2, 4, 3), R(2, 3), nondiff={"value"}),
                                       C(R(2, 4, 3), R(2, 4, 1), nondiff={"value"})]
CASES[f"{RT}.stack_directions_vjp"] = [C(R(2, 3), [np.zeros(3), np.zeros(3)], nondiff={"items"})]

# Helpers of batched tangent code: ``value`` is a batch of 2 tangents (a leading axis).
CASES[f"{RT}.batch_align"] = [C(R(2, 3), R(2, 3), nondiff={"like"}), C(R(2), R(3), nondiff={"like"})]
CASES[f"{RT}.batch_broadcast_like"] = [C(R(2, 3), R(4, 3), nondiff={"like"}),
                                       C(R(2, 1), R(3), nondiff={"like"})]
CASES[f"{RT}.batch_broadcast_to"] = [C(R(2, 3), (4, 3), nondiff={"target"})]
CASES[f"{RT}.batch_unbroadcast"] = [C(R(2, 4, 3), R(3), nondiff={"like"}),
                                    C(R(2, 4, 3), R(4, 1), nondiff={"like"})]
CASES[f"{RT}.batch_reduce_vjp"] = [C(R(2, 3), R(4, 3), 0, nondiff={"x"}), C(R(2), R(4, 3), nondiff={"x"}),
                                   C(R(2, 4, 1), R(4, 3), 1, True, nondiff={"x"})]
CASES[f"{RT}.batch_max_vjp"] = [C(R(2, 3), np.array([1.0, 2.0, 3.0]),
                                  np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), 0,
                                  nondiff={"result", "x"})]
CASES[f"{RT}.batch_reshaped"] = [C(R(2, 6), np.zeros(6), np.zeros((2, 3)), nondiff={"like", "result"})]
CASES[f"{RT}.batch_joined"] = [
    C([R(2, 3), R(2, 2)], [np.zeros(3), np.zeros(2)], 0, "concatenate", nondiff={"arrays"}),
    C([R(2, 3), R(2, 3)], [np.zeros(3), np.zeros(3)], -1, "stack", nondiff={"arrays"}),
    C([R(2, 2, 2), R(2, 3)], [np.zeros((2, 2)), np.zeros(3)], None, "concatenate",
      nondiff={"arrays"})]
CASES[f"{RT}.batch_matmul_left"] = [C(R(2, 3, 4), R(4, 5)), C(R(2, 4), R(4, 5)), C(R(2, 3, 4), R(6, 4, 5))]
CASES[f"{RT}.batch_matmul_right"] = [C(R(3, 4), R(2, 4, 5)), C(R(3, 4), R(2, 4)),
                                     C(R(6, 3, 4), R(2, 4, 5)), C(R(6, 3, 4), R(2, 4))]
CASES[f"{RT}.batch_matmul_vjp_a"] = [C(R(2, 3, 5), np.zeros((3, 5)), R(3, 4), R(4, 5),
                                       nondiff={"like", "a"})]
CASES[f"{RT}.batch_matmul_vjp_b"] = [C(R(2, 3, 5), np.zeros((3, 5)), R(3, 4), R(4, 5),
                                       nondiff={"like", "b"})]
CASES[f"{RT}.directions"] = [C(R(2, 3), np.zeros(3), nondiff={"like"})]
CASES[f"{RT}.stack_directions"] = [C([R(3), R(3)])]
CASES[f"{RT}.columns_to_jacobian"] = [C(R(3, 2), np.zeros(2), np.zeros(3), nondiff={"out", "x"})]
CASES[f"{RT}.rows_to_jacobian"] = [C(R(2, 3), np.zeros(2), np.zeros(3), nondiff={"out", "x"})]

# Cases of the wider rule library, one module per area.
from rule_cases_arrays import CASES as _ARRAYS  # noqa: E402
from rule_cases_linalg import CASES as _LINALG  # noqa: E402
from rule_cases_special import CASES as _SPECIAL  # noqa: E402

for _more in (_ARRAYS, _LINALG, _SPECIAL):
    for _k, _v in _more.items():
        CASES.setdefault(_k, []).extend(_v)


def case_id(prim, i, case):
    """A test id for case ``i`` of ``prim``, the same in every process (no object addresses),
    so that the suite can be split over processes."""
    text = re.sub(r" at 0x[0-9a-f]+", "", f"{prim.qualname}-{i}{case!r}")
    text = re.sub(r"<rule_cases\.R object>", "R", text)
    return text[:120]
