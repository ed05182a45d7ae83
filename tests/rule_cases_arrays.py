"""Rule test cases for arrays (see rule_cases.py for the format).

Every case is checked against central finite differences in both modes, so
these cases cover each axis choice, broadcasting pairs, complex inputs of the
holomorphic functions, and inputs where a rule has a special path (zeros in
products, NaNs for the nan-functions, repeated indices for scatters).
"""

import numpy as np

from rule_cases import C, R, POS, UNIT  # noqa: F401

CASES = {}
RT = "s2sgrad.runtime"
Z = complex


def add(name, *cases):
    CASES.setdefault(name, []).extend(cases)


def _fixed(shape, seed, nan_at=(), zero_at=()):
    """A fixed random array (not a placeholder: its NaNs and zeros stay where they are)."""
    a = np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)
    for i in nan_at:
        a[i] = np.nan
    for i in zero_at:
        a[i] = 0.0
    return a


# ---------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------

ENTIRE = dict(lo=-1.5, hi=1.5, dtype=Z)      # for functions holomorphic everywhere
QUAD1 = dict(lo=0.3, hi=1.5, dtype=Z)        # away from branch cuts on the real axis
QUAD3 = dict(lo=-1.5, hi=-0.3, dtype=Z)

for n in ("negative", "positive", "sin", "cos", "sinh", "cosh", "exp", "exp2", "expm1",
          "square", "sinc"):
    add(n, C(R(4, **ENTIRE)), C(R(2, 3, **ENTIRE)))
for n in ("log", "log2", "log10", "log1p", "sqrt", "reciprocal", "arctan", "atan"):
    add(n, C(R(4, **QUAD1)), C(R(2, 3, **QUAD3)))
for n in ("tan", "tanh", "arcsin", "asin", "arccos", "acos", "arcsinh", "asinh", "arccosh",
          "acosh", "arctanh", "atanh"):
    add(n, C(R(4, lo=0.2, hi=1.2, dtype=Z)), C(R(2, 3, **QUAD3)))
add("arccosh", C(R(3, lo=-1.5, hi=-0.3, dtype=Z)))    # left half plane: sqrt(x - 1) sqrt(x + 1)
add("cbrt", C(R(5, lo=-2.0, hi=-0.2)))
add("sinc", C(R(5)), C(np.array([0.0, 0.5, -1.25])))
add("nan_to_num", C(R(4)), C(np.array([1.0, np.nan, np.inf, -2.0, -np.inf])),
    C(np.array([[np.nan, 0.5], [np.inf, -0.5]]), nan=3.0, posinf=9.0))

add("abs", C(R(4, lo=-2.0, hi=-0.2)), C(R(4, dtype=Z)), C(R(2, 3, dtype=Z)))
add("absolute", C(R(3, dtype=Z)))
add("fabs", C(R(4, lo=-2.0, hi=-0.2)))
for n in ("real", "imag", "conj", "conjugate"):
    add(n, C(R(4)), C(R(4, dtype=Z)), C(R(2, 3, dtype=Z)))
add("angle", C(R(4, dtype=Z)), C(R(2, 3, dtype=Z), deg=True), C(R(3, lo=0.2, hi=2.0)),
    C(R(3, lo=-2.0, hi=-0.2)))

PAIRS = [(R(3), R(3)), (R(2, 3), R(3)), (R(3), R(2, 3)), (R(2, 1), R(1, 3)), (R(), R(2, 2)),
         (R(2, 3), R())]
ZPAIRS = [(R(3, dtype=Z), R(3, dtype=Z)), (R(2, 3, dtype=Z), R(3)), (R(3), R(2, 3, dtype=Z))]

for n in ("add", "subtract", "multiply"):
    add(n, *[C(a, b) for a, b in ZPAIRS])
for n in ("divide", "true_divide"):
    add(n, *[C(a, R(*b.shape, lo=0.5, hi=1.5, dtype=b.dtype)) for a, b in ZPAIRS])
add("power", C(R(3, **QUAD1), R(3, lo=-1.0, hi=1.0, dtype=Z)), C(R(2, 3, **QUAD1), 3),
    C(R(2, 3, lo=-2.0, hi=-0.5), 2, nondiff={"y"}))
add("pow", *[C(R(*a.shape, **POS), b) for a, b in PAIRS[:3]])
add("float_power", *[C(R(*a.shape, **POS), b) for a, b in PAIRS],
    C(R(3, **QUAD1), R(3, lo=-1.0, hi=1.0, dtype=Z)))
for n in ("logaddexp", "logaddexp2", "arctan2", "atan2", "hypot"):
    add(n, *[C(a, b) for a, b in PAIRS])
add("maximum", C(np.array([1.0, 2.0, -1.0]), np.array([1.0, 0.5, 3.0])))       # a tie
add("minimum", C(np.array([1.0, 2.0, -1.0]), np.array([1.0, 0.5, 3.0])))
for n in ("maximum", "minimum", "fmax", "fmin"):       # complex values compare lexicographically
    add(n, C(R(2, 3, dtype=Z), R(3, dtype=Z)))
add("nan_to_num", C(R(2, 2, dtype=Z)))
add("clip", C(R(6, dtype=Z), -0.5, 0.5))
for n in ("fmax", "fmin"):
    add(n, C(np.array([np.nan, 1.0, 2.0]), R(3)), C(R(2, 3), np.array([0.5, np.nan, -0.5])))
for n in ("mod", "remainder"):
    add(n, C(R(2, 3, lo=-3.0, hi=3.0), R(3, lo=0.7, hi=1.3)),
        C(R(4, lo=-3.0, hi=3.0), R(4, lo=-1.3, hi=-0.7)), C(R(2, 2, lo=0.2, hi=3.0), 0.75))
add("fmod", C(R(2, 3, lo=-3.0, hi=-0.2), R(3, lo=0.7, hi=1.3)),
    C(R(4, lo=0.2, hi=3.0), R(4, lo=-1.3, hi=-0.7)))
add("where", C(np.array([True, False, True]), R(3, dtype=Z), R(3), nondiff={"condition"}),
    C(np.array([[True, False, False]]), R(3), R(2, 1), nondiff={"condition"}))
add("clip", C(R(2, 3), R(3, lo=-1.0, hi=-0.2), R(2, 1, lo=0.2, hi=1.0)),
    C(R(6), -0.5, R(lo=0.3, hi=0.6)), C(R(3, 2), None, R(3, 1, lo=-0.5, hi=0.5)),
    C(R(3), R(2, 1, lo=-1.0, hi=0.0), 1.0))                 # the bounds broadcast a

# ---------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------

AXES = [dict(), dict(axis=0), dict(axis=1), dict(axis=-1, keepdims=True), dict(axis=(0, 2)),
        dict(keepdims=True)]


def reductions(shape=(2, 3, 4), axes=AXES, **dom):
    return [C(R(*shape, **dom), **kw) for kw in axes]


add("sum", C(R(2, 3, dtype=Z), axis=1), C(R(2, 3, 4), keepdims=True))
add("mean", C(R(2, 3, dtype=Z), axis=0), C(R(2, 3, 4), keepdims=True))
# one, two or no zeros per slice
PZ = _fixed((3, 4), 1, zero_at=[(0, 1), (1, 0), (1, 2), (2, 3), (2, 1)])
add("prod", C(R(2, 3, 4, lo=0.5, hi=1.5), keepdims=True), C(R(2, 3, dtype=Z), axis=1),
    C(PZ), C(PZ, axis=0), C(PZ, axis=1), C(PZ, axis=-1, keepdims=True))
for n in ("var", "std"):
    add(n, *reductions(), C(R(2, 3, 4), axis=1, ddof=1), C(R(5), ddof=2),
        C(R(2, 3, dtype=Z), axis=1), C(R(4, dtype=Z), ddof=1))
for n in ("max", "amax", "min", "amin"):
    add(n, C(R(2, 3, 4), axis=(0, 2)), C(R(2, 3), keepdims=True),
        C(np.array([[1.0, 3.0, 3.0], [2.0, -1.0, 0.5]]), axis=1))     # a tie shares the derivative
add("ptp", *reductions())
add("average", *reductions(axes=AXES[:5]), C(R(2, 3, dtype=Z), axis=1),
    C(R(2, 3, 4), weights=R(2, 3, 4, **POS)), C(R(2, 3, 4), axis=1, weights=R(3, **POS)),
    C(R(2, 3, 4), axis=(0, 2), weights=R(2, 3, 4, **POS), keepdims=True),
    C(R(3, 5), axis=-1, weights=R(5, **POS)))
add("median", C(R(5)), C(R(6)), C(R(3, 4), axis=0), C(R(3, 4), axis=1, keepdims=True),
    C(R(2, 3, 4), axis=(0, 2)), C(R(3, 4), axis=-1))
add("cumsum", C(R(2, 3, 4)), C(R(2, 3), axis=0), C(R(2, 3, 4), axis=1), C(R(2, 3), axis=-1),
    C(R(4, dtype=Z)))
CZ = _fixed((3, 5), 2, zero_at=[(0, 1), (1, 0), (1, 2), (1, 3), (2, 4)])
add("cumprod", C(R(2, 3, lo=0.5, hi=1.5)), C(R(2, 3, 4), axis=1), C(R(2, 3), axis=-1),
    C(R(4, **QUAD1)), C(CZ, axis=1), C(CZ, axis=0), C(CZ))

# where= (every group keeps an element; broadcast masks too) and initial= (a scalar term)
W = np.array([[[True, False, True, True], [False, True, True, False], [True, True, False, True]],
              [[True, True, False, False], [False, False, True, True], [True, False, True, False]]])
W2 = np.array([[True, False, True], [False, True, True]])
WB = np.array([[True], [False], [True]])                      # broadcasts over (2, 3, 4)
for n in ("sum", "mean"):
    add(n, C(R(2, 3, 4), axis=2, where=W), C(R(2, 3, 4), where=W),
        C(R(2, 3, 4), axis=(0, 1), keepdims=True, where=WB), C(R(2, 3, dtype=Z), axis=1, where=W2),
        C(R(2, 3, 4), axis=1, where=True))
for n in ("sum", "prod", "max", "min", "nansum", "nanprod", "nanmax"):
    add(n, C(R(), initial=R()), C(R(3), initial=R(), where=np.array([True, False, True])))
add("sum", C(R(2, 3, 4), axis=2, initial=R()), C(R(2, 3), initial=R(), where=W2),
    C(R(2, 3, 4), axis=(0, 1), keepdims=True, initial=R(), where=WB),
    C(R(2, 3, dtype=Z), axis=0, initial=R(dtype=Z)))
add("prod", C(R(2, 3, 4, lo=0.5, hi=1.5), axis=2, where=W),
    C(R(2, 3, 4, lo=0.5, hi=1.5), axis=1, initial=R(lo=0.5, hi=1.5), keepdims=True),
    C(R(2, 3, lo=0.5, hi=1.5), initial=R(), where=W2), C(PZ, axis=1, where=PZ != 0),
    C(PZ, axis=0, initial=R(), where=np.array([True, True, False, True])),
    C(R(2, 3, dtype=Z), axis=1, initial=R(dtype=Z), where=W2))
EXT = np.array([[0.1, 0.9, 0.3, -1.0], [0.5, 0.2, -0.4, 0.3], [1.2, 0.5, 0.7, 0.0]])
for n in ("max", "amax", "min", "amin", "nanmax", "nanmin"):
    add(n, C(R(2, 3, 4), axis=2, initial=R(), where=W), C(R(2, 3, 4), initial=R(), where=WB),
        C(R(2, 3, 4), axis=(0, 2), keepdims=True, initial=R(), where=W),
        C(R(2, 3, 4), axis=1, initial=R()),
        C(EXT, axis=1, initial=0.5, where=EXT != 0.9),      # 0.5 wins a row, ties another
        C(EXT, axis=0, initial=-0.4, where=EXT != 0.1))
add("nanmax", C(_fixed((3, 4), 6, nan_at=[(0, 1), (2, 3)]), axis=1, initial=R(), where=WB))
for n in ("var", "std"):
    add(n, C(R(2, 3, 4), axis=2, where=W), C(R(2, 3, 4), axis=2, ddof=1, where=W, keepdims=True),
        C(R(2, 3, 4), where=WB), C(R(2, 3, dtype=Z), axis=1, where=W2),
        C(R(2, 3, 4), axis=(0, 2), where=W))
NAW = np.array([[True, True, False, True], [True, True, True, True], [False, True, True, True]])

NA = _fixed((3, 4), 3, nan_at=[(0, 1), (1, 0), (1, 3), (2, 2)])
NA3 = _fixed((2, 3, 4), 4, nan_at=[(0, 1, 1), (1, 0, 2), (1, 2, 3), (0, 0, 0)])
NAXES = [dict(), dict(axis=0), dict(axis=1), dict(axis=-1, keepdims=True)]
for n in ("nansum", "nanmean", "nanvar", "nanstd", "nanmax", "nanmin", "nanmedian"):
    add(n, *[C(NA, **kw) for kw in NAXES], C(NA3, axis=(0, 2)), C(R(2, 3), axis=1))
add("nanvar", C(NA, axis=1, ddof=1))
add("nanstd", C(NA, axis=0, ddof=1))
NAP = _fixed((3, 4), 5, nan_at=[(0, 1), (1, 0), (2, 2)], zero_at=[(0, 3), (2, 0), (2, 1)])
add("nanprod", *[C(NA, **kw) for kw in NAXES], C(NAP, axis=1), C(NAP, axis=0))
for n in ("nansum", "nanmean", "nanvar", "nanstd", "nanprod"):
    add(n, C(NA, axis=1, where=NAW), C(NA, where=NAW),
        C(NA3, axis=2, keepdims=True, where=np.array([True, True, False, True])))
add("nanvar", C(NA, axis=1, ddof=1, where=NAW))
for n in ("nansum", "nanprod"):
    add(n, C(NA, axis=1, initial=R(), where=NAW), C(NA3, axis=(0, 2), initial=R()))
add("nanprod", C(NAP, axis=1, where=NAW, initial=R()))
for n in ("nancumsum", "nancumprod"):
    add(n, C(NA), C(NA, axis=0), C(NA, axis=1), C(NA3, axis=-1))
add("nancumprod", C(NAP, axis=1))

# ---------------------------------------------------------------------------
# Shapes, joining and splitting
# ---------------------------------------------------------------------------

add("reshape", C(R(2, 3), (3, 2), "F"), C(R(2, 3, dtype=Z), -1))
add("ravel", C(R(2, 3)), C(R(2, 3, 4), "F"))
add("squeeze", C(R(1, 3, 1)), C(R(2, 1, 3), 1), C(R(1, 3, 1), axis=(0, 2)))
add("expand_dims", C(R(3), 0), C(R(2, 3), -1), C(R(2, 3), (0, 3)))
add("transpose", C(R(2, 3, 4), (2, 0, 1)), C(R(2, 3, dtype=Z)))
add("permute_dims", C(R(2, 3, 4), (1, 2, 0)))
add("matrix_transpose", C(R(2, 3)), C(R(4, 2, 3)))
add("swapaxes", C(R(2, 3, 4), 0, 2), C(R(2, 3), -1, 0))
add("moveaxis", C(R(2, 3, 4), 0, -1), C(R(2, 3, 4, 5), (0, 1), (3, 0)))
add("rollaxis", C(R(2, 3, 4), 2), C(R(2, 3, 4), 0, 2), C(R(2, 3, 4, 5), -1, 1),
    C(R(2, 3, 4), 1, 3))
add("roll", C(R(5), 2), C(R(2, 3), -1, 1), C(R(2, 3, 4), (1, 2), (0, 2)), C(R(2, 3), 4))
add("flip", C(R(2, 3)), C(R(2, 3, 4), 1), C(R(2, 3, 4), (0, 2)))
add("flipud", C(R(3, 2)))
add("fliplr", C(R(3, 2)))
add("rot90", C(R(2, 3)), C(R(2, 3, 4), 3, (2, 0)), C(R(2, 3), -1))
add("repeat", C(R(4), 3), C(R(2, 3), 2, 1), C(R(2, 3), [1, 0, 3], -1), C(R(2, 2), [2, 1, 1, 3]),
    C(R(3, 2), np.array([2]), 0))
add("tile", C(R(3), 2), C(R(2, 3), (2, 1, 2)), C(R(2, 1, 3), (3, 1)))
add("broadcast_to", C(R(3), (2, 3)), C(R(2, 1), (4, 2, 3)), C(R(), (2,)))
for n in ("atleast_1d", "atleast_2d", "atleast_3d"):
    add(n, C(R()), C(R(3)), C(R(2, 3)), C(R(), R(3), R(2, 3)))
add("atleast_3d", C(R(2, 3, 4)))
add("concatenate", C([R(2, 3, dtype=Z), R(1, 3)]))
add("concat", C([R(3), R(2)]), C([R(2, 3), R(2, 1)], axis=1))
add("stack", C([R(3), R(3)], axis=-1))
add("unstack", C(R(3, 2)), C(R(2, 3), axis=1))
add("vstack", C([R(3), R(2, 3), R(3)]), C([R(2, 2, 2), R(1, 2, 2)]))
add("hstack", C([R(3), R(2)]), C([R(2, 3), R(2, 1)]), C([R(), R(2)]))
add("dstack", C([R(3), R(3)]), C([R(2, 3), R(2, 3, 2)]))
add("column_stack", C([R(3), R(3, 2)]), C([R(2), R(2)]))
add("append", C(R(3), R(2)), C(R(2, 3), R(4)), C(R(2, 3), R(2, 1), axis=1),
    C(R(2, 3), R(1, 3), axis=0))
add("split", C(R(6), 3), C(R(2, 6), [1, 4], axis=1), C(R(4, 2), [3], axis=0))
add("array_split", C(R(7), 3), C(R(2, 5), [2], axis=1))
add("hsplit", C(R(2, 4), 2), C(R(6), [2, 3]))
add("vsplit", C(R(4, 2), [1]))
add("dsplit", C(R(2, 2, 4), 2))

# ---------------------------------------------------------------------------
# Diagonals, padding, indexing and sorting
# ---------------------------------------------------------------------------

add("diag", C(R(3)), C(R(3), 1), C(R(3, 3)), C(R(3, 4), -1), C(R(4, 3), 2))
add("diagonal", C(R(3, 3)), C(R(3, 4), 1), C(R(2, 3, 4), -1, 1, 2), C(R(3, 2, 3), 0, 0, 2))
add("diagflat", C(R(3)), C(R(2, 2), -1))
add("triu", C(R(3, 3)), C(R(3, 4), 1), C(R(2, 3, 3), -1))
add("tril", C(R(3, 3)), C(R(4, 3), -1), C(R(2, 3, 3), 1))
# np.pad: every mode, widths per axis (wider than the axis: repeated reflections), a
# singleton axis (reflect pads it with its edge), stat_length per side, differentiable
# constant_values / end_values in each form NumPy reads, complex arrays, a dict of widths.
add("pad", C(R(3), 2), C(R(2, 3), ((1, 0), (2, 1)), constant_values=R()),
    C(R(2, 3), 2, constant_values=(R(), R())),
    C(R(2, 3), ((1, 2), (2, 1)), constant_values=((R(), R()), (R(), R()))),
    C(R(2, 3, 2), 1, constant_values=[[R()], [R()], [R()]]), C(R(2, 3, dtype=Z), 1),
    C(R(3, 2), 1, "edge"), C(R(2, 1, 3), ((0, 2), (3, 1), (1, 0)), "edge"),
    C(R(3, 4), {1: (2, 3)}, "edge"), C(R(4, 3), ((2, 3), (0, 4)), "wrap"),
    C(R(3), (4, 6), "wrap"), C(R(2, 3), ((5, 7), (2, 1)), "wrap"))
for m in ("reflect", "symmetric"):
    add("pad", C(R(4), (3, 5), m), C(R(2, 3), ((1, 2), (2, 0)), m), C(R(2, 3), 2, m),
        C(R(3), (7, 9), m), C(R(1, 3), ((2, 1), (1, 1)), m), C(R(2, 3, dtype=Z), 2, m),
        C(R(4), (3, 5), m, reflect_type="odd"), C(R(3), (7, 9), m, reflect_type="odd"),
        C(R(3, 4), ((2, 5), (6, 1)), m, reflect_type="odd"),
        C(R(1, 2), ((2, 1), (3, 2)), m, reflect_type="odd"),
        C(R(2, 3, 4), ((1, 1), (0, 2), (3, 0)), m, reflect_type="odd"))
add("pad", C(R(4), (3, 2), "linear_ramp"), C(R(2, 3), ((2, 1), (1, 3)), "linear_ramp"),
    C(R(3, 2), 2, "linear_ramp", end_values=R()),
    C(R(3, 2), ((2, 1), (1, 3)), "linear_ramp", end_values=(R(), R())),
    C(R(2, 3), ((1, 2), (3, 1)), "linear_ramp", end_values=((R(), R()), (R(), R()))),
    C(R(1, 3), 2, "linear_ramp", end_values=R()), C(R(2, 3, dtype=Z), 2, "linear_ramp"))
for m in ("mean", "maximum", "minimum", "median"):
    add("pad", C(R(5), (2, 3), m), C(R(3, 4), ((1, 2), (2, 1)), m),
        C(R(3, 4), ((1, 2), (2, 1)), m, stat_length=2),
        C(R(4, 5), 2, m, stat_length=((1, 3), (2, 7))), C(R(6), 3, m, stat_length=(1, 4)),
        C(R(2, 3, 3), ((1, 0), (0, 2), (2, 1)), m, stat_length=2))
add("pad", C(R(3, 4, dtype=Z), 1, "mean", stat_length=3))
TIES = np.array([[1.0, 3.0, 3.0, 0.5], [2.0, 2.5, 2.0, -1.0]])       # (two-way ties only)
add("pad", C(TIES, 2, "maximum"), C(TIES, 1, "minimum", stat_length=3),
    C(np.array([1.0, 2.0, 2.0, 4.0, 0.0, 0.0]), (2, 3), "median", stat_length=(3, 4)))
add("getitem", C(R(3, 4), (slice(None), np.array([0, 2, 2])), nondiff={"index"}),
    C(R(3, 4), (np.array([0, 2, 0]), np.array([1, 1, 1])), nondiff={"index"}),
    C(R(2, 3, 4), (Ellipsis, None, 1)), C(R(3, 4), np.array([[True, False, True, True]] * 3),
                                          nondiff={"index"}))
IDX = np.array([0, 3, 3, -1])
add("take", C(R(2, 4), IDX), C(R(2, 4), IDX, 1), C(R(3, 2), np.array([[0, 2], [2, 2]]), 0),
    C(R(5), np.array([1, 7, -6]), mode="wrap"), C(R(2, 3), np.array([5, -2, 1]), axis=1,
                                                    mode="clip"), C(R(4), 2))
IAX = np.array([[0, 2, 2], [1, 0, 1]])
add("take_along_axis", C(R(2, 3), IAX, 1), C(R(3, 3), IAX, 0),
    C(R(2, 3), np.array([5, 0, 5]), None),
    C(R(2, 4), np.array([[1], [3]]), -1))
PUT_FN = __import__("s2sgrad.runtime.arrays", fromlist=["put_along"]).put_along
add("put_along_axis", C(R(2, 4), np.array([[1, 3], [0, 2]]), R(2, 2), 1, fn=PUT_FN),
    C(R(3, 2), np.array([[2, 0]]), R(1, 2), 0, fn=PUT_FN),
    C(R(2, 3), np.array([[1], [2]]), R(), 1, fn=PUT_FN), C(R(6), np.array([4, 1]), R(2), None,
                                                           fn=PUT_FN),
    # repeated indices: the last write wins, the values it replaced get no derivative
    C(R(2, 4), np.array([[1, 1, 3], [0, 2, 0]]), R(2, 3), 1, fn=PUT_FN),
    C(R(6), np.array([4, 1, 4]), R(3), None, fn=PUT_FN))
add("sort", C(R(5)), C(R(3, 4), 0), C(R(3, 4)), C(R(2, 3), None), C(R(4, dtype=Z)))
add("partition", C(R(6), 2), C(R(3, 5), [1, 3], 1), C(R(4, 3), 0, 0), C(R(2, 3), 4, None))

add("array", C(R(2, 2)), C([R(3, dtype=Z), R(3)]))
add("asarray", C([R(2), R(2)], dtype=complex), C(R(3), dtype=int))
add("copy", C(R(2, 3), order="F"), C(R(3, dtype=Z)))
add("astype", C(R(2, 3), np.float64), C(R(3), complex), C(R(3, dtype=Z), "complex128"),
    C(R(2, 3), int), C(R(3), "int32"))   # integer casts: zero (bool: test_python_semantics)

# ---------------------------------------------------------------------------
# Contractions
# ---------------------------------------------------------------------------

add("matmul", C(R(2, 3, dtype=Z), R(3, 2, dtype=Z)), C(R(4, 1, 2, 3), R(5, 3, 2)))
add("dot", C(R(2, 3, dtype=Z), R(3)), C(R(3, 4), R()))
add("outer", C(R(3, dtype=Z), R(2)))
add("vdot", C(R(3), R(3)), C(R(2, 3), R(3, 2)), C(R(4, dtype=Z), R(4, dtype=Z)),
    C(R(2, 2, dtype=Z), R(4)))
add("inner", C(R(3), R(3)), C(R(2, 3), R(3)), C(R(3), R(4, 3)), C(R(2, 3), R(4, 5, 3)),
    C(R(), R(2, 3)), C(R(2, 3), R()), C(R(2, 3, dtype=Z), R(4, 3, dtype=Z)))
add("tensordot", C(R(2, 3, 4), R(3, 4, 5)), C(R(2, 3), R(3, 4), 1), C(R(2, 3), R(4, 5), 0),
    C(R(3, 4, 2), R(2, 3, 5), ([0, 2], [1, 0])), C(R(2, 3, 4), R(4, 2), (-1, 0)),
    C(R(3, 2, dtype=Z), R(2, 3, dtype=Z), ((0, 1), (1, 0))))
add("einsum", C("ij,jk->ik", R(2, 3), R(3, 4)), C("ij,jk", R(2, 3), R(3, 4)),
    C("ii->i", R(3, 3)), C("ii", R(3, 3)), C("i,i", R(4), R(4)), C("i,j->ij", R(2), R(3)),
    C("ij->", R(2, 3)), C("ij->j", R(2, 3)), C("ji", R(2, 3)),
    C("...ij,...jk->...ik", R(2, 3, 4), R(4, 5)), C("bij,bjk->bik", R(2, 3, 4), R(2, 4, 2)),
    C("ijk,jl,lm->ikm", R(2, 3, 4), R(3, 2), R(2, 3)), C("iij,jk->ik", R(3, 3, 2), R(2, 4)),
    C("ij,ij->i", R(3, 1), R(3, 4)), C("i,jk->ijk", R(2), R(3, 2)), C("ij,j", R(3, 1), R(4)),
    C("ij,jk->ik", R(2, 3, dtype=Z), R(3, 2, dtype=Z)), C("ij,ij->ij", R(2, 3), R(2, 3),
                                                          optimize=True),
    C("ijk,jl,lm->ikm", R(2, 3, 4), R(3, 2), R(2, 3), optimize="optimal"),
    C("ij,jk,kl->il", R(2, 3), R(3, 4), R(4, 2), optimize=["einsum_path", (0, 1), (0, 1)]),
    # the sublist form: einsum(a, [0, 1], b, [1, 2], [0, 2])
    C(R(2, 3), [0, 1], R(3, 4), [1, 2], [0, 2]), C(R(2, 3), [0, 1], R(3, 4), [1, 2]),
    C(R(3, 3), [0, 0]), C(R(3, 3), [0, 0], [0]), C(R(2, 3), [0, 1], R(2, 3), [0, 1], [0]),
    C(R(2, 3, 4), [Ellipsis, 0, 1], R(4, 2), [1, 2], [Ellipsis, 0, 2]),
    C(R(2, 3), [0, 1], R(3), [1], R(2), [0], []),
    C(R(2, 3, dtype=Z), [0, 1], R(3, 2, dtype=Z), [1, 0], [], optimize=True),
    C(R(2, 3, 4), [0, 1, 2], R(3, 2), [1, 3], R(2, 3), [3, 4], [0, 2, 4], optimize="greedy"))
add("kron", C(R(2, 3), R(2, 2)), C(R(3), R(2)), C(R(2), R(2, 3)), C(R(2, 1, 2), R(3, 2)),
    C(R(2, dtype=Z), R(3, dtype=Z)))
add("cross", C(R(3), R(3)), C(R(4, 3), R(3)), C(R(3), R(2, 1, 3)),
    C(R(3, 4), R(4, 3), axisa=0), C(R(3, 2), R(2, 3), axisa=0, axisb=1, axisc=0),
    C(R(2, 3, 4), R(3, 4), axis=-2), C(R(3, dtype=Z), R(3, dtype=Z)),
    C(R(3, 4), R(2, 4, 3), axisa=0), C(R(2, 4, 3), R(3, 4), axisb=0, axisc=1))
add("trace", C(R(3, 3)), C(R(3, 4), 1), C(R(2, 3, 4), -1, 1, 2), C(R(3, 3, dtype=Z)))

# ---------------------------------------------------------------------------
# Runtime helpers (generated code calls them; their rules serve higher derivatives)
# ---------------------------------------------------------------------------

add(f"{RT}.prod_others", C(R(2, 3, lo=0.5, hi=1.5), 1), C(PZ), C(PZ, 0), C(PZ, (0, 1)))
add(f"{RT}.prod_others_jvp", C(R(3, 4), R(3, 4, lo=0.5, hi=1.5), 1),
    C(R(2, 3), R(2, 3, lo=-1.5, hi=-0.5)), C(R(3, 4), PZ, 0, nondiff={"a"}),
    C(R(3, 4), PZ, 1, nondiff={"a"}))
for n in ("cumprod_jvp", "cumprod_vjp"):
    add(f"{RT}.{n}", C(R(3, 4), R(3, 4, lo=0.5, hi=1.5), 1), C(R(2, 3), R(2, 3, lo=0.5, hi=1.5), 0),
        C(R(3, 5), CZ, 1, nondiff={"a"}), C(R(3, 5), CZ, 0, nondiff={"a"}))
add(f"{RT}.cumprod_jvp", C(R(2, 3), R(2, 3, lo=0.5, hi=1.5)))
add(f"{RT}.cumprod_vjp", C(R(6), R(2, 3, lo=0.5, hi=1.5)))
add(f"{RT}.repeat_vjp", C(R(6), R(2), 3, nondiff={"a"}), C(R(2, 5), R(2, 3), [2, 0, 3], 1,
                                                           nondiff={"a"}))
add(f"{RT}.diagonal_vjp", C(R(3), R(3, 4), nondiff={"a"}), C(R(2, 1), R(2, 3, 4), -1, 1, 2,
                                                            nondiff={"a"}))
add(f"{RT}.einsum_vjp", C(R(2, 4), "ij,jk->ik", 0, R(2, 3), R(3, 4)),
    C(R(2, 4), "ij,jk->ik", 1, R(2, 3), R(3, 4)), C(R(3), "ii->i", 0, R(3, 3)),
    C(R(2, 4, 4), "ijk,jl,lm->ikm", 1, R(2, 3, 4), R(3, 2), R(2, 4)))
add(f"{RT}.split_as", C(R(3, 3), [R(3), R(2, 3)], 0, "atleast_2d", nondiff={"arrays"}))
add(f"{RT}.join_as", C([R(3), R(2, 3)], [R(3), R(2, 3)], 0, "atleast_2d", nondiff={"arrays"}),
    C([R(2), R(2, 2)], [R(2), R(2, 2)], 1, "column", nondiff={"arrays"}))
add(f"{RT}.put_along", C(R(2, 4), np.array([[1, 3], [0, 2]]), R(2, 2), 1),
    C(R(2, 4), np.array([[1, 1, 3], [0, 2, 0]]), R(2, 3), 1))
add(f"{RT}.pad_vjp", C(R(7), R(4), (1, 2), "reflect", nondiff={"array"}),
    C(R(4, 5), R(2, 3), 1, nondiff={"array"}),
    C(R(6, 6), R(3, 4), ((1, 2), (0, 2)), "symmetric", None, "odd", nondiff={"array"}),
    C(R(6, 7), R(3, 4), ((1, 2), (2, 1)), "linear_ramp", nondiff={"array"}),
    C(R(5, 8), R(3, 4), ((1, 1), (2, 2)), "maximum", 2, nondiff={"array"}),
    C(R(5, 8), R(3, 4), ((1, 1), (2, 2)), "mean", (1, 3), nondiff={"array"}))
add(f"{RT}.pad_jvp", C(R(3, 4), R(3, 4), ((1, 2), (0, 2)), "symmetric", None, "odd",
                       nondiff={"array"}),
    C(R(3, 4), R(3, 4), ((1, 1), (2, 2)), "median", 3, nondiff={"array"}),
    C(R(3, 4), R(3, 4), ((1, 1), (2, 2)), "minimum", nondiff={"array"}))
add(f"{RT}.pad_values_vjp", C(R(5, 7), R(3, 4), ((1, 1), (2, 1)), "constant", 0.0,
                              nondiff={"array", "values"}),
    C(R(5, 7), R(3, 4), ((1, 1), (2, 1)), "linear_ramp", ((0.0, 0.0), (0.0, 0.0)),
      nondiff={"array", "values"}))

# ---------------------------------------------------------------------------
# Creation from values, differences
# ---------------------------------------------------------------------------

add("full", C((2, 3), R()), C((2, 3), R(3)), C((4,), R(1, dtype=Z)))
add("full_like", C(np.zeros((2, 3)), R(), nondiff={"a"}),
    C(np.zeros((2, 3)), R(2, 1), nondiff={"a"}))
add("linspace", C(R(), R(), 5), C(R(), R(), 4, endpoint=False), C(R(3), R(), 4),
    C(R(3), R(2, 3), 4, axis=1), C(R(2, 1), R(3), 5, axis=-1))
add("logspace", C(R(), R(), 5), C(R(3), R(2, 3), 4, axis=1, base=2.0),
    C(R(2), R(), 3, endpoint=False))
add("meshgrid", C(R(2), R(3)), C(R(2), R(3), R(4)), C(R(2), R(3), R(4), indexing="ij"),
    C(R(2), R(3), sparse=True), C(R(2, 2), R(3)), C(R(4)))
add("diff", C(R(5)), C(R(3, 5), 2), C(R(4, 3), 1, 0), C(R(2, 5), 3, -1), C(R(4), 0),
    C(R(5), prepend=1.0), C(R(2, 4), axis=0, append=R(1, 4)),
    C(R(2, 4), 2, prepend=R(2, 2), append=0.5))
add("vecdot", C(R(3), R(3)), C(R(2, 3), R(3)), C(R(3, 1), R(2, 3, 4), axis=-2),
    C(R(2, 3, dtype=Z), R(2, 3, dtype=Z)), C(R(4, dtype=Z), R(3, 4)))
add(f"{RT}.array_vjp", C(R(2, 3), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], nondiff={"obj"}),
    C(R(2, 2), [np.zeros(2), np.zeros(2)], nondiff={"obj"}))
add(f"{RT}.through_cast", C(R(2, 3), None, nondiff={"dtype"}), C(R(3), int, nondiff={"dtype"}),
    C(R(3), np.float64, nondiff={"dtype"}))
add(f"{RT}.through_write", C(R(2, 3), np.zeros(3), nondiff={"into"}),
    C(R(3), np.zeros(3, int), nondiff={"into"}), C(R(), [0.0, 1.0], nondiff={"into"}))
add(f"{RT}.in_place", C(np.zeros(3), R(3), "add", nondiff={"old", "op"}),
    C(np.zeros((2, 3)), R(2, 3), "multiply", nondiff={"old", "op"}),
    C(1.0, R(), "add", nondiff={"old", "op"}))
add(f"{RT}.copied_into", C(np.zeros(3), R(3), nondiff={"into"}),
    C(np.zeros((2, 3)), R(2, 3), nondiff={"into"}))
add(f"{RT}.tolist_of", C(R(2, 3)), C(R(4)))
add(f"{RT}.tolist_vjp", C([R(), R(), R()], np.zeros(3), nondiff={"a"}),
    C([[R(), R()], [R(), R()]], np.zeros((2, 2)), nondiff={"a"}))
CASES["lib.stride_tricks.sliding_window_view"] = [C(R(6), 3), C(R(4, 5), (2, 3)),
                                                 C(R(4, 5), 2, axis=0)]
CASES["s2sgrad.runtime.window_view"] = [C(R(6), 3), C(R(4, 5), (2, 3), (0, 1))]
CASES["s2sgrad.runtime.window_vjp"] = [C(R(4, 3), np.zeros(6), 3, nondiff={"x"}),
                                       C(R(3, 3, 2, 3), np.zeros((4, 5)), (2, 3), nondiff={"x"})]

# ---------------------------------------------------------------------------
# Interpolation, convolution, integration, finite differences, quantiles,
# polynomials and floating-point decompositions (rules/numpy_more.py)
# ---------------------------------------------------------------------------

KNOTS = np.array([0.0, 0.15, 0.4, 0.55, 0.8, 1.0])
add("interp", C(R(7, lo=-0.3, hi=1.3), KNOTS, R(6), nondiff={"xp_"}),
    C(R(2, 3, lo=-0.3, hi=1.3), KNOTS, R(6), -1.0, 2.0, nondiff={"xp_"}),
    C(R(lo=0.05, hi=0.95), KNOTS, R(6), nondiff={"xp_"}),
    C(R(5, lo=-0.2, hi=1.2), KNOTS, R(6, dtype=Z), nondiff={"xp_"}),
    C(R(4, lo=-0.2, hi=1.2), xp=KNOTS, fp=R(6), right=0.5, nondiff={"xp_"}))
for n in ("convolve", "correlate"):
    add(n, *[C(R(a), R(b), mode) for a, b in ((5, 3), (3, 5), (4, 4), (2, 5), (1, 3))
             for mode in ("full", "same", "valid")],
        C(R(4), R(3)), C(R(4, dtype=Z), R(3, dtype=Z), "same"),
        C(R(3, dtype=Z), R(5, dtype=Z), "full"))
add("trapezoid", C(R(5)), C(R(3, 4), axis=0), C(R(3, 4), R(4)), C(R(4, 3), R(4), axis=0),
    C(R(2, 5), dx=0.5), C(R(3, 4), R(3, 4)), C(R(5, dtype=Z)), C(R(2, 3, 4), R(3), axis=1))
add("gradient", C(R(5)), C(R(5), 0.5), C(R(3, 4)), C(R(3, 4), axis=1),
    C(R(3, 4), 2.0, axis=0, edge_order=2), C(R(4, 5), 0.5, 2.0), C(R(6), edge_order=2),
    C(R(3, 4, 2), axis=(2, 0)), C(R(2, 3)), C(R(4, dtype=Z), 0.25))
add(f"{RT}.gradient_vjp", C(R(5), np.zeros(5), (), None, 1, nondiff={"f"}),
    C([R(3, 4), R(3, 4)], np.zeros((3, 4)), (0.5,), None, 2, nondiff={"f"}),
    C(R(3, 4), np.zeros((3, 4)), (2.0,), 1, 1, nondiff={"f"}))
for n, scale in (("quantile", 1.0), ("percentile", 100.0)):
    add(n, C(R(7), 0.3 * scale), C(R(3, 5), np.array([0.2, 0.75]) * scale, axis=1),
        C(R(2, 3, 4), 0.5 * scale, axis=(0, 2), keepdims=True), C(R(4, 5), 0.9 * scale, axis=0),
        C(R(4), 1.0 * scale), C(R(4), 0.0), C(R(3, 4), np.array([[0.1], [0.6]]) * scale),
        C(R(2, 3), 0.4 * scale, keepdims=True))
    add("nan" + n, C(_fixed((6,), 1, nan_at=[2]), 0.3 * scale),
        C(_fixed((3, 5), 2, nan_at=[(0, 1), (2, 4), (2, 0)]), np.array([0.2, 0.7]) * scale,
          axis=1),
        C(R(3, 4), 0.5 * scale, axis=0, keepdims=True))
add(f"{RT}.quantile_jvp", C(R(3, 4), _fixed((3, 4), 5), 0.3, 1, nondiff={"a", "q"}),
    C(R(3, 4), _fixed((3, 4), 6), np.array([0.2, 0.9]), None, True, nondiff={"a", "q"}),
    C(R(3, 4), _fixed((3, 4), 7, nan_at=[(1, 2)]), 0.6, 0, False, True, nondiff={"a", "q"}))
add(f"{RT}.quantile_vjp", C(R(2, 3), _fixed((3, 4), 5), np.array([0.2, 0.7]), 1,
                            nondiff={"a", "q"}),
    C(R(), _fixed((3, 4), 6), 0.4, nondiff={"a", "q"}),
    C(R(1, 4), _fixed((3, 4), 7), 0.5, 0, True, nondiff={"a", "q"}))
add("polyval", C(R(4), R(5)), C(R(3), R(2, 3)), C(R(1), R(3)), C(R(3), R()),
    C(R(3, dtype=Z), R(4, dtype=Z)), C(R(3, dtype=Z), R(4)), C(R(3), R(2, dtype=Z)))
add("copysign", C(R(4, lo=0.2, hi=2.0), np.array([1.0, -1.0, -0.5, 2.0])),
    C(R(2, 3, lo=-2.0, hi=-0.2), np.array([-1.0, 0.5, -0.3])),
    C(R(3, lo=0.2, hi=2.0), -1.0))
# heaviside(x, h): a step in x (its derivative 0, the step itself not differentiated: x holds
# exact zeros), h where x is 0
add("heaviside", C(np.array([-1.0, 0.0, 0.5, 0.0]), R(4, lo=0.2, hi=2.0), nondiff={"x"}),
    C(np.array([[0.0], [1.5]]), R(2, 3), nondiff={"x"}), C(R(3, lo=0.2, hi=2.0), R(3)),
    C(0.0, R(), nondiff={"x"}))
add("ldexp", C(R(4), np.array([1, -2, 0, 3]), nondiff={"x2"}), C(R(2, 3), 2, nondiff={"x2"}),
    C(R(), np.array([[1], [-1]]), nondiff={"x2"}))
add("frexp", C(R(5, lo=0.3, hi=3.0)), C(R(2, 3, lo=-3.0, hi=-0.3)))
add("modf", C(np.array([0.3, 1.7, -2.4, 5.5])), C(R(2, 3, lo=0.1, hi=0.9)))
add("cov", C(R(3, 6)), C(R(6, 3), rowvar=False), C(R(2, 5), bias=True), C(R(2, 5), ddof=2),
    C(R(5)), C(R(5), rowvar=False), C(R(4, 1), rowvar=False), C(R(4, 2), rowvar=False, ddof=0))
add("corrcoef", C(R(3, 6)), C(R(6, 3), rowvar=False), C(R(2, 5)), C(R(5)),
    C(R(2, 5, dtype=Z)), C(R(4, 3, dtype=Z), rowvar=False))
add("cov", C(R(2, 5, dtype=Z)), C(R(4, 3, dtype=Z), rowvar=False, ddof=0), C(R(4, dtype=Z)))
