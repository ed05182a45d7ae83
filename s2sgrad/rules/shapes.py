"""Shape rules: the abstract value (``s2sgrad.signature``) of each primitive's result.

The analysis of ``analysis/shapes.py`` gives every variable of generated code
an abstract value (kind, dtype, rank, which axes have length 1).  What a
primitive returns is declared here, by the primitive's name (its derivative
rules stay in the module of its family, ``rules/numpy.py`` ...):

- elementwise primitives (``Primitive.elementwise``, set where the rule is
  declared with ``elementwise``/``binary``) are derived mechanically: NumPy
  broadcasting of the arguments' axes, NumPy's type promotion of their dtypes
  (a Python float with a ``float32`` array stays ``float32``);
- the others have a *shape rule* here, registered by primitive name with
  ``@shape_rule("sum", "mean", ...)``: a function ``rule(args, ev)`` of the
  call's arguments bound to the primitive's parameters (``{param: node}``),
  where ``ev`` gives the abstract value of a node (``ev.of(node)``) and, when
  it is a constant, its value (``ev.static(node)``: ``(True, value)``);
- the runtime helpers that generated code calls (``_rt.unbroadcast`` ...)
  have rules under their own name in ``RUNTIME_RULES``.

A rule that cannot tell returns ``ANY`` (or an array of unknown rank): the
code that depends on it stays general.  This module also holds the lattice's
operations (``join``, ``broadcast_dims``, ``promote``) the analysis uses.
"""

import functools

import numpy as np

from ..signature import ANY, BOOL, COMPLEX, FLOAT, INT, MANY, NONE, ONE, Abstract, array

__all__ = ["join", "broadcast_dims", "promote", "elementwise", "shape_rule", "rule_for",
           "RUNTIME_RULES", "rule_named", "int_dim", "exact_int", "int_value", "dim_of_int", "shape_tuple",
           "real_dtype", "dims_of", "PY_NUMBERS", "rank0"]

PY_NUMBERS = ("float", "int", "bool", "complex")
_PY_DTYPE = {"float": "float64", "int": "int64", "bool": "bool", "complex": "complex128"}
_WEAK = {"float": 1.0, "int": 1, "bool": True, "complex": 1j}

# An ``int`` whose value is known (``Abstract("int", "3")``: a constant passed to a
# function, ``axis=1``), or known not to be 1 (``Abstract("int", "n")``: an axis length
# of ``x.shape``), so that ``np.zeros(x.shape)`` knows which axes have length 1 and
# ``np.sum(a, axis=axis)`` which axis it removes.  (Carried in the dtype slot of an
# ``int``; its text is still ``int``.)  Arithmetic on them gives a plain ``int``.
_INT_ONE = Abstract.make("int", "1")
_INT_MANY = Abstract.make("int", "n")


def exact_int(v):
    """The abstract value of the int constant ``v``."""
    return Abstract.make("int", str(int(v)))


def int_value(a):
    """The value of an int whose value is known, else None."""
    if a is not None and a.kind == "int" and a.dtype not in (None, "n"):
        return int(a.dtype)
    return None


def int_dim(d):
    """The abstract ``int`` of an axis length ``d`` (ONE, MANY or None)."""
    return _INT_ONE if d == ONE else _INT_MANY if d == MANY else INT


def dim_of_int(a, static=(False, None)):
    """The axis (ONE/MANY/None) an int argument gives, from its constant value or abstract value."""
    ok, v = static
    if not ok:
        v = int_value(a)
        ok = v is not None
    if ok and isinstance(v, int) and not isinstance(v, bool):
        return ONE if v == 1 else None if v < 0 else MANY
    if a is _INT_MANY:
        return MANY
    return None


def shape_tuple(dims):
    """The abstract value of ``x.shape`` for an array of ``dims``."""
    if dims is None:
        return ANY
    return Abstract.make("tuple", None, None, tuple(int_dim(d) for d in dims))


def rank0(a):
    """Whether ``a`` is certainly of rank 0 (a number, a NumPy scalar, a 0-d array)."""
    return a is not None and a.rank == 0


def _dtype(a):
    """The dtype name of a number or array, or None."""
    if a.kind in PY_NUMBERS:
        return _PY_DTYPE[a.kind]
    if a.kind in ("scalar", "array"):
        return a.dtype
    return None


def real_dtype(dtype):
    if dtype is None:
        return None
    d = np.dtype(dtype)
    return np.empty(0, d).real.dtype.name if d.kind == "c" else d.name


def complex_dtype(dtype):
    if dtype is None:
        return None
    return np.result_type(np.dtype(dtype), np.complex64).name


# ---------------------------------------------------------------------------
# The lattice
# ---------------------------------------------------------------------------

def _join_dtype(a, b):
    if a == b:
        return a
    if a is None or b is None:
        return None
    return _joined_dtype(a, b)


@functools.lru_cache(maxsize=None)
def _joined_dtype(a, b):
    ka, kb = np.dtype(a).kind, np.dtype(b).kind
    if (ka == "c") != (kb == "c") or (ka in "fc") != (kb in "fc"):
        # complex or not, float or integer (a write into it truncated or not): not known
        return None
    return np.result_type(np.dtype(a), np.dtype(b)).name


def join(a, b):
    """The least abstract value covering both (None is "no value yet")."""
    if a is None:
        return b
    if b is None or a is b:
        return a
    if a is ANY or b is ANY:
        return ANY
    if a.kind == b.kind and a.kind in ("int", "bool"):
        return INT if a.kind == "int" else BOOL
    if a.kind in ("tuple", "list") and a.kind == b.kind:
        if len(a.items) != len(b.items):
            return ANY
        return Abstract.make(a.kind, None, None, tuple(join(x, y) for x, y in zip(a.items, b.items)))
    numeric = PY_NUMBERS + ("scalar", "array")
    if a.kind not in numeric or b.kind not in numeric:
        return ANY
    dtype = _join_dtype(_dtype(a), _dtype(b))
    if (a.kind in PY_NUMBERS) != (b.kind in PY_NUMBERS) and dtype is not None:
        # a Python number is weak: with a NumPy value it promotes as that value's dtype would
        dtype = promote([a, b])
    if a.kind in PY_NUMBERS and b.kind in PY_NUMBERS:
        if "complex" not in (a.kind, b.kind):
            return FLOAT if "float" in (a.kind, b.kind) else INT   # (bool joins int as int)
        return array(dtype, ())
    if a.kind == "scalar" and b.kind == "scalar":
        return Abstract.make("scalar", dtype)
    ra, rb = a.rank, b.rank
    if ra is None or rb is None or ra != rb:
        return array(dtype, None)
    dims = tuple(x if x == y else None for x, y in zip(a.dims or (), b.dims or ())) \
        if ra else ()
    return array(dtype, dims)


def broadcast_dims(dims_list):
    """The axes of the broadcast of arrays with these axes (None: a rank is not known)."""
    if any(d is None for d in dims_list):
        return None
    n = max((len(d) for d in dims_list), default=0)
    out = []
    for i in range(n):
        col = [d[len(d) - n + i] for d in dims_list if len(d) - n + i >= 0]
        if MANY in col:
            out.append(MANY)
        elif all(c == ONE for c in col):
            out.append(ONE)
        else:
            out.append(None)
    return tuple(out)


def promote(values, inexact=False):
    """The dtype NumPy's promotion gives ``values`` (Python numbers are weak), or None.

    Kept for each kinds and dtypes asked (NumPy's promotion and a dtype's ``name`` cost
    microseconds, and the analysis asks the same few many times)."""
    key = (tuple([(a.kind, a.dtype) for a in values]), inexact)
    out = _PROMOTED.get(key, _UNKNOWN)
    if out is _UNKNOWN:
        out = _PROMOTED[key] = _promote(values, inexact)
    return out


_PROMOTED = {}
_UNKNOWN = object()


def _promote(values, inexact):
    parts = []
    for a in values:
        if a.kind in _WEAK:
            parts.append(_WEAK[a.kind])
        elif a.kind in ("scalar", "array") and a.dtype is not None:
            try:
                parts.append(np.dtype(a.dtype))
            except TypeError:       # (a dtype the text does not name: strings' ``str32``)
                return None
        else:
            return None
    if inexact:
        parts.append(1.0)
    try:
        return np.result_type(*parts).name
    except TypeError:
        return None


def _numeric(a):
    return a.kind in PY_NUMBERS or a.kind in ("scalar", "array")


def elementwise(values, python_op=None, inexact=False):
    """The result of an elementwise function of ``values`` (broadcast, promoted).

    ``python_op``: a Python operator (``"add"``, ``"div"`` ...) keeps Python numbers
    Python numbers; a NumPy function makes NumPy scalars of them.
    """
    if not values or not all(_numeric(a) for a in values):
        return ANY
    if python_op is not None and all(a.kind in PY_NUMBERS for a in values):
        kinds = {a.kind for a in values}
        if "complex" in kinds:
            return COMPLEX
        if "float" in kinds or python_op == "div":
            return FLOAT
        if python_op == "pow":
            return join(INT, FLOAT)     # 2 ** -1 is a float
        return INT
    dtype = promote(values, inexact)
    dims = broadcast_dims([a.dims if a.kind == "array" else () for a in values])
    if dims == ():
        if all(a.rank == 0 for a in values) and not any(a.kind == "array" for a in values):
            return Abstract.make("scalar", dtype)
        return Abstract.make("scalar", dtype) if python_op is None else array(dtype, ())
    return array(dtype, dims)


# ---------------------------------------------------------------------------
# Rules by primitive name
# ---------------------------------------------------------------------------

_RULES = {}
RUNTIME_RULES = {}


def shape_rule(*names, params, runtime=False):
    """Register ``rule(args, ev, prim_name)`` as the shape rule of the primitives ``names``.

    ``params`` names the positional parameters the rule reads (keywords are
    passed by their own names); a call with more positional arguments is not known.
    """
    def deco(fn):
        for n in names:
            (RUNTIME_RULES if runtime else _RULES)[n] = (fn, tuple(params))
        return fn
    return deco


def rule_for(prim):
    """``(rule, params)`` of a primitive, or None (then: elementwise, or not known)."""
    if prim.family == "s2sgrad.runtime":
        return RUNTIME_RULES.get(prim.name)
    if prim.family == "s2sgrad" and prim.name == "stop_gradient":
        return _IDENTITY
    if prim.family not in ("array", "op"):
        return None
    return _RULES.get(prim.name)


def _same(args, ev, prim_name=None):
    return ev.of(args["x"]) if "x" in args else ANY


_IDENTITY = (_same, ("x",))     # ``s2sgrad.stop_gradient(x)``: x's value itself


def rule_named(name):
    """``(rule, params)`` of the array primitive called ``name`` (``"matmul"``, ``"T"``), or None."""
    return _RULES.get(name)


def dims_of(a):
    """The axes of a number or array (``()`` for rank 0), or None when not known (``a``
    None, or not a number or an array)."""
    if a is None:
        return None
    if a.kind == "array":
        return a.dims
    if a.kind in PY_NUMBERS or a.kind == "scalar":
        return ()
    return None


def _result(dtype, dims):
    """A NumPy function's result: a NumPy scalar for rank 0, else an array."""
    if dims == ():
        return Abstract.make("scalar", dtype)
    return array(dtype, dims)


def _axes(ev, node, rank):
    """The axes a static ``axis`` argument names, normalized, or None (not known)."""
    ok, v = ev.static(node)
    if not ok or rank is None:
        return None
    if v is None:
        return tuple(range(rank))
    vs = v if isinstance(v, tuple) else (v,)
    if not all(isinstance(x, int) and not isinstance(x, bool) and -rank <= x < rank for x in vs):
        return None
    return tuple(sorted({x % rank for x in vs}))


@shape_rule("sum", "mean", "prod", "max", "min", "amax", "amin", "nansum", "nanmean", "nanmax",
            "nanmin", "std", "var", "nanstd", "nanvar", "median", "all", "any", "average",
            params=("a", "axis"))
def _reduction(args, ev, prim_name=None):
    a = ev.of(args.get("a", args.get("x")))
    if not _numeric(a):
        return ANY
    dims = dims_of(a)
    dtype = _dtype(a)
    if prim_name in ("mean", "nanmean", "average", "std", "var", "nanstd", "nanvar", "median"):
        dtype = promote([a], inexact=True)
        if prim_name in ("std", "var", "nanstd", "nanvar"):
            dtype = real_dtype(dtype)
    elif prim_name in ("sum", "prod", "nansum") and dtype in ("bool",):
        dtype = "int64"
    elif prim_name in ("all", "any"):
        dtype = "bool"
    ok, keep = ev.static(args["keepdims"]) if "keepdims" in args else (True, False)
    if not ok or not isinstance(keep, bool):
        return array(dtype, None) if keep is not False else ANY
    if dims is None:
        return _result(dtype, ()) if "axis" not in args and not keep else array(dtype, None)
    rank = len(dims)
    if "axis" not in args:
        axes = tuple(range(rank))
    else:
        axes = _axes(ev, args["axis"], rank)
        if axes is None:
            ax = ev.of(args["axis"])
            if ax.kind == "int" and rank >= 1:
                # one axis, which is not known: known axes only where all are alike
                if keep:
                    return array(dtype, (ONE,) if rank == 1 else (None,) * rank)
                d = dims[0] if len(set(dims)) == 1 else None
                return _result(dtype, (d,) * (rank - 1))
            return array(dtype, None)
    if keep:
        return _result(dtype, tuple(ONE if i in axes else d for i, d in enumerate(dims)))
    return _result(dtype, tuple(d for i, d in enumerate(dims) if i not in axes))


def _matmul_dims(da, db):
    if da is None or db is None or len(da) == 0 or len(db) == 0:
        return None
    if len(da) == 1 and len(db) == 1:
        return ()
    if len(db) == 1:
        return da[:-1]
    if len(da) == 1:
        return db[:-2] + db[-1:]
    batch = broadcast_dims([da[:-2], db[:-2]])
    if batch is None:
        return None
    return batch + (da[-2], db[-1])


@shape_rule("matmul", params=("a", "b"))
def _matmul(args, ev, prim_name=None):
    a, b = ev.of(args.get("a", args.get("x1"))), ev.of(args.get("b", args.get("x2")))
    if not (_numeric(a) and _numeric(b)):
        return ANY
    dims = _matmul_dims(dims_of(a), dims_of(b))
    dtype = promote([a, b])
    return array(dtype, None) if dims is None else _result(dtype, dims)


@shape_rule("dot", params=("a", "b"))
def _dot(args, ev, prim_name=None):
    a, b = ev.of(args.get("a")), ev.of(args.get("b"))
    if not (_numeric(a) and _numeric(b)):
        return ANY
    da, db = dims_of(a), dims_of(b)
    dtype = promote([a, b])
    if da is None or db is None:
        return array(dtype, None)
    if da == () or db == ():
        return elementwise([a, b])
    if len(db) <= 2 and len(da) <= 2:
        return _result(dtype, _matmul_dims(da, db))
    return _result(dtype, da[:-1] + db[:-2] + db[-1:])


@shape_rule("outer", params=("a", "b"))
def _outer(args, ev, prim_name=None):
    a, b = ev.of(args.get("a")), ev.of(args.get("b"))
    if not (_numeric(a) and _numeric(b)):
        return ANY
    da, db = dims_of(a), dims_of(b)
    dtype = promote([a, b])
    if da is None or db is None:
        return array(dtype, (None, None))
    size = lambda d: ONE if all(x == ONE for x in d) else MANY if MANY in d else None  # noqa: E731
    return array(dtype, (size(da), size(db)))


@shape_rule("swapaxes", params=("a", "axis1", "axis2"))
@shape_rule("transpose", "T", "permute_dims", "matrix_transpose", params=("a", "axes"))
def _transpose(args, ev, prim_name=None):
    a = ev.of(args.get("a", args.get("x")))
    dims = dims_of(a)
    if not _numeric(a) or dims is None:
        return ANY if not _numeric(a) else array(_dtype(a), None)
    dtype = _dtype(a)
    rank = len(dims)
    if prim_name in ("transpose", "T", "permute_dims"):
        node = args.get("axes")
        if node is None:
            return _result(dtype, dims[::-1])
        ok, axes = ev.static(node)
        if ok and axes is None:
            return _result(dtype, dims[::-1])
        if ok and isinstance(axes, (tuple, list)) and sorted(x % rank for x in axes) == \
                list(range(rank)):
            return _result(dtype, tuple(dims[x % rank] for x in axes))
        return array(dtype, (None,) * rank)
    if rank < 2:
        return array(dtype, None)
    if prim_name == "matrix_transpose":
        return _result(dtype, dims[:-2] + (dims[-1], dims[-2]))
    if prim_name == "swapaxes":
        ok1, i = ev.static(args.get("axis1"))
        ok2, j = ev.static(args.get("axis2"))
        if ok1 and ok2 and isinstance(i, int) and isinstance(j, int) \
                and -rank <= i < rank and -rank <= j < rank:
            d = list(dims)
            d[i % rank], d[j % rank] = d[j % rank], d[i % rank]
            return _result(dtype, tuple(d))
    return array(dtype, (None,) * rank)


def _dims_of_shape(ev, node):
    """The axes a shape argument (an int, a tuple of ints, ``x.shape``) describes, or None."""
    ok, v = ev.static(node)
    if ok:
        if isinstance(v, int) and not isinstance(v, bool):
            return (dim_of_int(None, (True, v)),)
        if isinstance(v, (tuple, list)) and all(isinstance(x, int) and not isinstance(x, bool)
                                                for x in v):
            return tuple(dim_of_int(None, (True, x)) for x in v)
        return None
    elts = getattr(node, "elts", None)
    if isinstance(elts, list) and not any(type(e).__name__ == "Starred" for e in elts):
        # a tuple written out: its length is the rank, whatever its items are
        return tuple(dim_of_int(ev.of(e), ev.static(e)) for e in elts)
    a = ev.of(node)
    if a.kind == "int":
        return (dim_of_int(a),)
    if a.kind in ("tuple", "list") and all(x.kind == "int" for x in a.items):
        if isinstance(node, (type(None),)):
            return None
        elts = getattr(node, "elts", None)
        if elts is not None and len(elts) == len(a.items):
            return tuple(dim_of_int(x, ev.static(e)) for x, e in zip(a.items, elts))
        return tuple(dim_of_int(x) for x in a.items)
    return None


@shape_rule("reshape", params=("a", "shape"))
def _reshape(args, ev, prim_name=None):
    a = ev.of(args.get("a"))
    dtype = _dtype(a) if _numeric(a) else None     # (an array of that shape, whatever ``a`` is)
    node = args.get("newshape", args.get("shape"))
    dims = None if node is None else _dims_of_shape(ev, node)
    return array(dtype, dims) if dims != () else _result(dtype, ())


@shape_rule("broadcast_to", params=("array", "shape"))
def _broadcast_to(args, ev, prim_name=None):
    a = ev.of(args.get("array"))
    if not _numeric(a):
        return ANY
    node = args.get("shape")
    dims = None if node is None else _dims_of_shape(ev, node)
    return array(_dtype(a), dims)


@shape_rule("squeeze", params=("a", "axis"))
def _squeeze(args, ev, prim_name=None):
    a = ev.of(args.get("a"))
    dims = dims_of(a) if _numeric(a) else None
    if dims is None:
        return ANY if not _numeric(a) else array(_dtype(a), None)
    if "axis" not in args:
        if None in dims:
            return array(_dtype(a), None)
        return array(_dtype(a), tuple(d for d in dims if d != ONE))
    axes = _axes(ev, args["axis"], len(dims))
    if axes is None:
        if ev.of(args["axis"]).kind == "int" and dims:
            # one axis, not known which: the others' lengths only where all are alike
            rest = set(d for d in dims if d != ONE)
            return array(_dtype(a), ((rest.pop() if len(rest) == 1 else None),) * (len(dims) - 1))
        return array(_dtype(a), None)
    return array(_dtype(a), tuple(d for i, d in enumerate(dims) if i not in axes))


@shape_rule("expand_dims", params=("a", "axis"))
def _expand_dims(args, ev, prim_name=None):
    a = ev.of(args.get("a"))
    dims = dims_of(a) if _numeric(a) else None
    ok, axis = ev.static(args.get("axis"))
    if dims is None or not ok or not isinstance(axis, int):
        return ANY if not _numeric(a) else array(_dtype(a), None)
    n = len(dims) + 1
    if not -n <= axis < n:
        return array(_dtype(a), None)
    d = list(dims)
    d.insert(axis % n, ONE)
    return array(_dtype(a), tuple(d))


def _dtype_arg(ev, node, default):
    if node is None:
        return default
    ok, v = ev.static(node)
    if ok and v is None:
        return default
    value = getattr(node, "s2s_static_dtype", None)
    if ok and isinstance(v, str):
        value = v
    try:
        return np.dtype(value).name if value is not None else None
    except TypeError:
        return None


@shape_rule("zeros", "ones", "empty", "full", params=("shape", "fill_value"))
def _creation(args, ev, prim_name=None):
    dims = _dims_of_shape(ev, args.get("shape"))
    default = "float64"
    if prim_name == "full":
        fill = ev.of(args.get("fill_value"))
        default = promote([fill]) if fill.kind in PY_NUMBERS or fill.kind == "scalar" else None
        if fill.kind in PY_NUMBERS:
            default = _PY_DTYPE[fill.kind]
    dtype = _dtype_arg(ev, args.get("dtype"), default)
    return array(dtype, dims)


@shape_rule("eye", "identity", params=("N", "M"))
def _eye(args, ev, prim_name=None):
    n = args.get("N", args.get("n"))
    if n is None or any(k in args for k in ("k", "like")):
        return ANY
    rows = _dims_of_shape(ev, n)
    cols = rows if args.get("M") is None else _dims_of_shape(ev, args["M"])
    if rows is None or cols is None or len(rows) != 1 or len(cols) != 1:
        return array(_dtype_arg(ev, args.get("dtype"), "float64"), (None, None))
    return array(_dtype_arg(ev, args.get("dtype"), "float64"), rows + cols)


@shape_rule("zeros_like", "ones_like", "empty_like", "copy", "asarray", "array",
            "ascontiguousarray", params=("a",))
def _like(args, ev, prim_name=None):
    a = ev.of(args.get("a", args.get("x", args.get("object"))))
    if not _numeric(a):
        return ANY
    dtype = _dtype_arg(ev, args.get("dtype"), _dtype(a))
    dims = dims_of(a)
    if prim_name in ("copy", "asarray", "array", "ascontiguousarray") and a.kind == "scalar":
        return a if prim_name == "copy" else array(dtype, ())
    return array(dtype, dims)


@shape_rule("abs", "absolute", "fabs", "real", "imag", "angle", params=("x",))
def _to_real(args, ev, prim_name=None):
    a = ev.of(args.get("x", args.get("val", args.get("z"))))
    if a.kind in PY_NUMBERS:
        return FLOAT if prim_name in ("abs", "real", "imag") and a.kind != "int" else \
            (INT if prim_name == "abs" else FLOAT)
    if not _numeric(a):
        return ANY
    dtype = real_dtype(_dtype(a) if prim_name not in ("angle",) else promote([a], True))
    return _result(dtype, dims_of(a)) if a.kind != "array" else array(dtype, a.dims)


@shape_rule("conj", "conjugate", "negative", "positive", "square", "sign", params=("x",))
def _same(args, ev, prim_name=None):
    a = ev.of(args.get("x"))
    if not _numeric(a):
        return ANY
    return elementwise([a])


@shape_rule("fft.fft", "fft.ifft", "fft.fft2", "fft.ifft2", "fft.fftn", "fft.ifftn",
            params=("a", "n_or_s"))
def _fft(args, ev, prim_name=None):
    a = ev.of(args.get("a"))
    if not _numeric(a):
        return ANY
    for k in ("n", "s", "n_or_s"):
        if k in args:
            ok, v = ev.static(args[k])
            if not ok or v is not None:
                return array(complex_dtype(promote([a], True)), None)
    dims = dims_of(a)
    return array(complex_dtype(promote([a], True)), dims)


@shape_rule("where", params=("condition", "x", "y"))
def _where(args, ev, prim_name=None):
    parts = [ev.of(args.get(k)) for k in ("condition", "x", "y") if k in args]
    if len(parts) != 3 or not all(_numeric(p) for p in parts):
        return ANY
    out = elementwise(parts[1:])
    dims = broadcast_dims([dims_of(p) for p in parts])
    dtype = _dtype(out) if out is not ANY else None
    return _result(dtype, dims) if dims is not None else array(dtype, None)


@shape_rule("clip", params=("a", "a_min", "a_max"))
def _clip(args, ev, prim_name=None):
    parts = [ev.of(args[k]) for k in ("a", "a_min", "a_max", "min", "max") if k in args]
    parts = [p for p in parts if p is not NONE]
    return elementwise(parts) if parts else ANY


@shape_rule("astype", params=("x", "dtype"))
def _astype(args, ev, prim_name=None):
    a = ev.of(args.get("x", args.get("a")))
    if not _numeric(a):
        return ANY
    return array(_dtype_arg(ev, args.get("dtype"), None), dims_of(a))


# -- runtime helpers ----------------------------------------------------------

def _real_if(g, x):
    """``g``'s dtype, its real part when ``x`` is real (as ``unbroadcast`` takes it)."""
    dg = _dtype(g) if _numeric(g) else None
    cx = x.is_complex
    if cx is False:
        return real_dtype(dg)
    if cx is True:
        return dg
    return dg if g.is_complex is False else None


@shape_rule("unbroadcast", "to_complex_like", params=("g", "x"), runtime=True)
def _unbroadcast(args, ev, prim_name=None):
    g, x = ev.of(args.get("g")), ev.of(args.get("x"))
    if prim_name == "unbroadcast" and _numeric(x) and not _numeric(g):
        # whatever ``g`` is, the result has ``x``'s shape (``float(g)`` for a Python number)
        if x.kind in ("float", "int", "bool"):
            return FLOAT
        # a real ``x`` gets the real part: real, of a precision not known (``x``'s stands in)
        return array(x.dtype if x.is_complex is False else None, dims_of(x)) \
            if x.kind == "array" else ANY
    if not (_numeric(g) and _numeric(x)):
        return ANY
    dtype = _real_if(g, x)
    if prim_name == "to_complex_like":
        return g if g.is_complex is False or x.is_complex is True else \
            (array(dtype, dims_of(g)) if g.kind == "array" else ANY)
    if x.kind in ("float", "int", "bool"):
        return FLOAT
    if x.kind == "complex":
        return COMPLEX if g.is_complex is not False else FLOAT
    dims = dims_of(x)
    if dims == ():
        return array(dtype, ())       # the NumPy scalar or 0-d array g is
    return array(dtype, dims)


@shape_rule("max_vjp", params=("g", "ans", "x", "axis", "keepdims"), runtime=True)
@shape_rule("reduce_vjp", params=("g", "x", "axis", "keepdims"), runtime=True)
@shape_rule("broadcast_like", params=("g", "x"), runtime=True)
def _like_second(args, ev, prim_name=None):
    g = ev.of(args.get("g", args.get("t")))
    x = ev.of(args.get("x", args.get("like")))
    if not (_numeric(g) and _numeric(x)):
        return ANY
    dims = dims_of(x)
    if dims == ():
        return g if rank0(g) else ANY
    return array(promote([g]), dims)


@shape_rule("matmul_vjp_a", "matmul_vjp_b", params=("g", "a", "b"), runtime=True)
def _matmul_vjp(args, ev, prim_name=None):
    g, a, b = ev.of(args.get("g")), ev.of(args.get("a")), ev.of(args.get("b"))
    if not (_numeric(g) and _numeric(a) and _numeric(b)):
        return ANY
    x = a if prim_name == "matmul_vjp_a" else b
    other = b if prim_name == "matmul_vjp_a" else a
    return array(promote([g, other]), dims_of(x))


@shape_rule("zeros_like", params=("x",), runtime=True)
def _rt_zeros_like(args, ev, prim_name=None):
    x = ev.of(args.get("x"))
    if x.kind in ("float", "int", "bool", "none"):
        return FLOAT
    if x.kind == "complex":
        return COMPLEX
    if x.kind in ("scalar", "array"):
        dtype = x.dtype
        if dtype is not None and np.dtype(dtype).kind not in "fc":
            dtype = "float64"
        return array(dtype, dims_of(x))
    if x.kind in ("tuple", "list"):
        return Abstract.make("list", None, None, tuple(
            _rt_zeros_like({"x": _Const(v)}, _Fixed(ev)) for v in x.items))
    return ANY


class _Const:
    """A stand-in node whose abstract value is given (for rules applied to items)."""

    def __init__(self, value):
        self.value = value


class _Fixed:
    def __init__(self, ev):
        self.ev = ev

    def of(self, node):
        return node.value if isinstance(node, _Const) else self.ev.of(node)

    def static(self, node):
        return (False, None) if isinstance(node, _Const) else self.ev.static(node)


@shape_rule("ones_like", "copy", params=("x",), runtime=True)
def _rt_same(args, ev, prim_name=None):
    x = ev.of(args.get("x"))
    if prim_name == "ones_like" and x.kind in ("int", "bool", "float"):
        return FLOAT
    if prim_name == "ones_like" and x.kind == "complex":
        return COMPLEX
    if prim_name == "ones_like" and x.kind == "scalar":
        return array(x.dtype, ())
    return x


@shape_rule("through_write", params=("d", "into"), runtime=True)
@shape_rule("in_place", params=("old", "new", "op"), runtime=True)
@shape_rule("copied_into", params=("into", "value"), runtime=True)
def _rt_checked(args, ev, prim_name=None):
    # (a derivative zeroed or kept, a value checked: the value it is given)
    return ev.of(args.get({"through_write": "d", "in_place": "new"}.get(prim_name, "value")))


@shape_rule("seed", params=("d_out", "value"), runtime=True)
def _rt_seed(args, ev, prim_name=None):
    d, v = ev.of(args.get("d_out")), ev.of(args.get("value"))
    if rank0(v) and v.kind != "any":
        return join(FLOAT, d) if d is not NONE else FLOAT
    return ANY


@shape_rule("unit", params=("x",), runtime=True)
def _rt_unit(args, ev, prim_name=None):
    x = ev.of(args.get("x"))
    return elementwise([x], inexact=True) if _numeric(x) else ANY


@shape_rule("size", "ndim", params=("x",), runtime=True)
def _rt_int(args, ev, prim_name=None):
    return INT


@shape_rule("shape", params=("x",), runtime=True)
def _rt_shape(args, ev, prim_name=None):
    x = ev.of(args.get("x"))
    if not _numeric(x):
        return ANY
    return shape_tuple(dims_of(x))


@shape_rule("add", params=("a", "b"), runtime=True)
def _rt_add(args, ev, prim_name=None):
    a, b = ev.of(args.get("a")), ev.of(args.get("b"))
    if _numeric(a) and _numeric(b):
        return elementwise([a, b], python_op="add")
    return ANY


@shape_rule("recursion_depth", params=("v", "stop", "step", "test"), runtime=True)
def _recursion_depth(args, ev, prim_name=None):
    return INT


@shape_rule("recursion_levels", params=("v", "stop", "step", "test"), runtime=True)
def _recursion_levels(args, ev, prim_name=None):
    """The counter's values at each level: ints for an int counter (a ``range``), floats
    for a float one.  (Its length is not known: one item stands for all of them, which
    is what indexing it reads.)"""
    v = ev.of(args.get("v"))
    if v.kind in ("int", "float"):
        return Abstract.make("list", None, None, (INT if v.kind == "int" else FLOAT,))
    return ANY
