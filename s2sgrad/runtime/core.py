"""The core runtime helpers: trees of arrays, broadcasting, indexing, the adjoints of
``matmul``/``dot``/``max`` and of the statements the core language lowers
(``sort``, ``fill_diagonal``, dict items).

Every helper works for any array namespace (numpy, cupy, array_api_strict, ...)
by asking the array for its namespace, and for Python scalars and containers
(lists, tuples, dicts) of them, which is how adjoints of model parameters are
represented.  Each helper that generated code calls has a derivative rule of its
own (``s2sgrad.rules.runtime_core``) so that generated code can be
differentiated again.
"""

import collections
import collections.abc as _abc
import contextlib
import contextvars
import inspect
import functools
import math
import numbers
import sys
import types

import numpy

__all__ = [
    "namespace", "shape", "ndim", "zeros_like", "ones_like", "add", "add_at", "scatter", "written_cotangent", "written_scatter",
    "copy", "unbroadcast", "match", "array_vjp", "to_complex_like", "reduce_vjp",
    "casts_inexact", "through_cast", "through_write", "in_place", "copied_into", "tolist_vjp", "tolist_of",
    "check_scalar", "check_output", "check_sequence", "output_problem", "seed", "check_method", "broadcast_like", "size", "specialize",
    "matmul_vjp_a", "matmul_vjp_b", "dot_vjp_a", "dot_vjp_b", "unstack", "split_like",
    "inverse_permutation", "max_vjp", "extremum_vjp", "extremum_jvp", "repeat_like", "keys", "popitem_key", "attribute_tangent",
    "share_of_max", "items_adjoint", "saved_item", "saved_item_vjp", "restore_item",
    "sort_order", "unsort", "window_view", "window_vjp", "item_of", "item_vjp", "batch_item", "unit", "unit_jvp", "unit_vjp", "fill_diagonal", "fill_diagonal_vjp_val", "sort_in_place",
    "sort_in_place_vjp", "sort_in_place_jvp", "recursion_depth", "recursion_levels",
]

_SCALARS = (bool, int, float, complex)
_float64 = numpy.float64
# numbers of rank 0 whose type alone says so (the fast paths of scalar code)
_NUMBER_TYPES = frozenset({float, complex, int, bool, numpy.float64, numpy.complex128,
                           numpy.float32, numpy.complex64})


def namespace(x):
    """The array namespace of ``x``: ``x.__array_namespace__()`` or numpy."""
    get = getattr(x, "__array_namespace__", None)
    if get is not None:
        try:
            return get()
        except Exception:  # an old numpy scalar, an object array, ...
            pass
    return numpy


def shape(x):
    """The shape of an array or Python scalar (``()`` for scalars)."""
    s = getattr(x, "shape", None)
    if s is not None:
        return tuple(s)
    return numpy.shape(x)


def ndim(x):
    return len(shape(x))


def _is_container(x):
    return isinstance(x, (list, tuple, dict))


def zeros_like(x):
    """A zero adjoint shaped like ``x``.

    Floats give ``0.0``, arrays give a fresh, writable zero array of a floating
    (or complex) dtype, and containers give a container of the same structure:
    a tuple gives a *list*, so that generated code can accumulate into it in
    place; ``match`` turns it back into a tuple at the end.
    """
    if type(x) is float:
        return 0.0
    if isinstance(x, dict):
        return {k: zeros_like(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        fields = _field_names(x)        # (a namedtuple, or its adjoint: keeps the names)
        if fields is not None:
            return FieldAdjoint([zeros_like(v) for v in x], fields)
        return [zeros_like(v) for v in x]
    if isinstance(x, complex):
        return 0j
    if isinstance(x, (bool, int, float)) or x is None:
        return 0.0
    if _is_object(x):
        with walking(x):
            return {k: zeros_like(v) for k, v in parts(x)}
    xp = namespace(x)
    dtype = getattr(x, "dtype", None)
    if dtype is not None and not _is_inexact(xp, dtype):
        return xp.zeros(shape(x), dtype=_default_float(xp))
    return xp.zeros_like(x)


class FieldAdjoint(list):
    """The adjoint of a namedtuple as generated code accumulates into it: a list, one item per
    field, whose items are also reached by the field's name.  A function may read its argument
    both as ``p[0]`` and as ``p.a`` (``d_p[0] += ...``, ``d_p['a'] += ...``), and a callee that
    reads it by name only hands back a dict by name (``add`` places it by position)."""

    __slots__ = ("names",)

    def __init__(self, items, names):
        list.__init__(self, items)
        self.names = tuple(names)

    def _position(self, key):
        if isinstance(key, str):
            try:
                return self.names.index(key)
            except ValueError:
                raise KeyError(key) from None
        return key

    def __getitem__(self, key):
        return list.__getitem__(self, self._position(key))

    def __setitem__(self, key, value):
        list.__setitem__(self, self._position(key), value)

    def get(self, key, default=None):
        try:
            return self[key]
        except (KeyError, IndexError):
            return default

    def __repr__(self):
        return f"FieldAdjoint({list.__repr__(self)}, {self.names!r})"


def _field_names(x):
    """The field names of a namedtuple or of its adjoint (``FieldAdjoint``), else None."""
    if isinstance(x, FieldAdjoint):
        return x.names
    return getattr(type(x), "_fields", None) if isinstance(x, tuple) else None


def _by_position(d, names):
    """A namedtuple's adjoint kept by field name (a dict) as a list by position."""
    return [d.get(n) for n in names]


def _is_object(x):
    """An instance of a user class (callable or not, with a ``__dict__`` or ``__slots__``):
    differentiated through its attributes."""
    if type(x) in _PLAIN or isinstance(x, _NOT_OBJECTS) or hasattr(x, "shape") \
            or isinstance(x, numbers.Number):       # a Fraction has __slots__, yet is a number
        return False
    return hasattr(x, "__dict__") or bool(_slot_names(type(x)))


# The values most derivatives are: never objects (checked first, the common case is fast).
_PLAIN = frozenset({float, int, complex, bool, numpy.ndarray, numpy.float64, numpy.float32,
                    numpy.complex128, type(None), str, list, tuple, dict})


_NOT_OBJECTS = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
                types.BuiltinMethodType, types.ModuleType, functools.partial, numpy.ufunc)


_LIBRARIES = {"numpy", "scipy", "s2sgrad", "cupy", "jax", "torch", "pandas", "matplotlib"}


def _user_class(cls):
    """A class of the user's code, not of the standard library or a numerical library (a
    logger or a random generator held by a model is not differentiated through)."""
    root = (getattr(cls, "__module__", None) or "").split(".")[0]
    return root not in _LIBRARIES and root not in getattr(sys, "stdlib_module_names", ())


@functools.lru_cache(maxsize=512)
def _slot_names(cls):
    """The attribute names ``cls``'s ``__slots__`` declare, mangled as Python does (a class's
    slots are fixed when it is made, so this is remembered per class)."""
    return tuple(_declared_slots(cls))


def _declared_slots(cls):
    names = []
    for klass in getattr(cls, "__mro__", ()):
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"     # a private slot, mangled
            if name not in names:
                names.append(name)
    return names


def attributes(x):
    """``[(name, value)]`` of an object's attributes: its ``__dict__``, then its set slots."""
    items = list(vars(x).items()) if hasattr(x, "__dict__") else []
    for name in _slot_names(type(x)):
        try:
            items.append((name, getattr(x, name)))
        except AttributeError:                                  # a slot never set
            pass
    return items


_WALKING = contextvars.ContextVar("s2sgrad_walking", default=frozenset())


@contextlib.contextmanager
def walking(x):
    """While the attributes of object ``x`` are walked: ``parts`` leaves out an attribute
    that refers back to an object being walked (a cycle of references)."""
    token = _WALKING.set(_WALKING.get() | {id(x)})
    try:
        yield
    finally:
        _WALKING.reset(token)


def parts(x):
    """``[(name, value)]`` of the attributes of object ``x`` that carry derivatives (arrays,
    floats, containers, objects), but for one referring back to an object being walked."""
    walked = _WALKING.get()
    return [(k, v) for k, v in attributes(x)
            if id(v) not in walked and _differentiable_value(v)]


def object_like(x, values):
    """A shallow copy of object ``x`` whose attributes ``parts`` (``{name: value}``) are replaced:
    the gradient of an object is a copy of it holding the gradients of its attributes."""
    import copy as _copy
    out = _copy.copy(x)
    for k, v in values.items():
        object.__setattr__(out, k, v)        # (a frozen dataclass too)
    return out


def _check_stored(d, x):
    """Refuse the derivative ``d`` (generated code's dict, by attribute name) of object ``x``
    when it reached an attribute ``x`` does not store: a property (``p.area`` computed from
    ``p.w``) has no place in the copy of ``x`` that is its gradient, and dropping it would give
    ``p.w`` a zero gradient without a word."""
    stored = {k for k, _ in attributes(x)}
    for k, v in d.items():
        if v is None or k in stored or not isinstance(k, str):
            continue
        if _computed(x, k):
            raise _computed_error(x, k)


_ABSENT = object()


def _computed(x, k):
    """Whether attribute ``k`` of object ``x``, which ``x`` does not store, is computed by its
    class when it is read (a property or another descriptor, ``__getattr__``; not a method)."""
    found = inspect.getattr_static(type(x), k, _ABSENT)
    if found is _ABSENT:
        return inspect.getattr_static(type(x), "__getattr__", _ABSENT) is not _ABSENT
    return hasattr(found, "__get__") and not isinstance(
        found, (types.FunctionType, staticmethod, classmethod))


def _computed_error(x, k):
    from ..errors import NonDifferentiableError
    return NonDifferentiableError(
        f"s2sgrad: the derivative reached {type(x).__name__}.{k}, which the object "
        f"computes when it is read (a property or another descriptor) rather than "
        f"stores; the generated code gives an object's gradient through the attributes "
        f"it stores: read those in the differentiated function (not {k}), or pass "
        f"fallback='always' to trace it")


def _differentiable_value(v):
    if isinstance(v, bool) or isinstance(v, int):
        return False
    if isinstance(v, (float, complex, list, tuple, dict)):
        return True
    if _is_object(v):       # an object of the user's inside one: its attributes, in turn
        return _user_class(type(v))
    dtype = getattr(v, "dtype", None)
    return dtype is not None and getattr(dtype, "kind", "f") in "fc"


def ones_like(x):
    if isinstance(x, (bool, int, float)):
        return 1.0
    if isinstance(x, complex):
        return 1.0 + 0j
    return namespace(x).ones_like(x)


def _is_inexact(xp, dtype):
    if xp is numpy:
        return numpy.issubdtype(dtype, numpy.inexact)
    isdtype = getattr(xp, "isdtype", None)
    if isdtype is not None:
        return isdtype(dtype, ("real floating", "complex floating"))
    return getattr(dtype, "kind", "f") in "fc"


def _default_float(xp):
    return getattr(xp, "float64", None) or numpy.float64


def add(a, b):
    """``a + b`` for adjoints, elementwise through containers.

    ``None`` stands for a zero adjoint.  Lists add element by element (never
    concatenate), dicts key by key.
    """
    if type(a) is float and type(b) is float:
        return a + b
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        if isinstance(b, (list, tuple)):
            names = _field_names(b)         # a namedtuple's adjoint, by name and by position
            if names is not None:
                return FieldAdjoint([add(u, v) for u, v in zip(_by_position(a, names), b)],
                                    names)
        out = dict(a)
        for k, v in b.items():
            out[k] = add(a[k], v) if k in a else v
        return out
    if isinstance(a, (list, tuple)):
        names = _field_names(a)
        if names is None and isinstance(b, (list, tuple)):
            names = _field_names(b)
        if names is not None:
            if isinstance(b, dict):
                b = _by_position(b, names)
            return FieldAdjoint([add(u, v) for u, v in zip(a, b)], names)
        return [add(u, v) for u, v in zip(a, b)]
    return a + b


def add_at(target, index, value):
    """Accumulate ``value`` into ``target[index]`` in place and return ``target``.

    ``target`` is an adjoint the generated code owns (made by ``zeros_like``).
    For arrays this is an unbuffered add, so repeated integer indices
    accumulate, as the adjoint of a gather must.
    """
    if isinstance(target, dict):
        target[index] = add(target.get(index), value)
        return target
    if isinstance(target, list):
        target[index] = add(target[index], value)
        return target
    if isinstance(target, (float, complex, numpy.generic)):
        # the zero adjoint of a NumPy scalar indexed as an array (np.sum(x)[..., None], a
        # float64's [None]): a 0-d array, which the index reads as NumPy reads the scalar
        target = numpy.array(target, dtype=numpy.result_type(target, value, 0.0))
    xp = namespace(target)
    if xp is numpy:
        if _is_basic_index(index):
            target[index] += value
        else:
            numpy.add.at(target, index, value)
        return target
    if _is_basic_index(index):
        target[index] = target[index] + value
        return target
    # Other namespaces: a scatter-add through a one-hot matrix over the flat index.
    idx = xp.reshape(xp.arange(math.prod(shape(target)), dtype=xp.int64), shape(target))[index]
    flat = xp.reshape(target, (-1,))
    onehot = xp.astype(xp.reshape(idx, (-1, 1)) == xp.reshape(xp.arange(flat.shape[0]), (1, -1)),
                       flat.dtype)
    vals = xp.reshape(xp.broadcast_to(xp.asarray(value, dtype=flat.dtype), idx.shape), (1, -1))
    return xp.reshape(flat + xp.reshape(vals @ onehot, (-1,)), shape(target))


def _is_basic_index(index):
    """True when ``x[index]`` cannot repeat an element (ints, slices, None, ...)."""
    if isinstance(index, tuple):
        return all(_is_basic_index(i) for i in index)
    if isinstance(index, (numbers.Integral, slice)) or index is None or index is Ellipsis:
        return True
    dtype = getattr(index, "dtype", None)
    if dtype is not None and (getattr(dtype, "kind", None) == "b" or str(dtype) == "bool"):
        return True  # a boolean mask selects each element at most once
    if dtype is not None and shape(index) == ():
        return True
    return False


def scatter(g, x, index):
    """The adjoint of ``x[index]``: zeros shaped like ``x`` holding ``g`` at ``index``."""
    out = zeros_like(x)
    if isinstance(out, (list, dict)):
        out[index] = g
        return out
    return add_at(out, index, g)


def written_cotangent(d, index):
    """The cotangent of the values ``y[index] = v`` stored: ``d[index]``, with zeros for the
    elements a later element of the same write overwrote.  NumPy stores a fancy index's
    elements in order, so where ``index`` repeats a position the last one wins
    (``y[[0, 0, 1]] = v`` keeps ``v[1]`` and ``v[2]``): only that one reaches the result."""
    out = d[index]
    if isinstance(d, (list, dict)) or _is_basic_index(index):
        return out
    pos = numpy.asarray(numpy.arange(math.prod(shape(d))).reshape(shape(d))[_host_index(index)])
    flat = pos.reshape(-1)
    if numpy.unique(flat).size == flat.size:
        return out
    last = numpy.zeros(flat.size, dtype=bool)
    _, first_from_end = numpy.unique(flat[::-1], return_index=True)
    last[flat.size - 1 - first_from_end] = True
    xp = namespace(out)
    return xp.where(xp.asarray(last.reshape(pos.shape)), out, xp.zeros_like(out))


def written_scatter(g, d, index):
    """The transpose of ``written_cotangent(d, index)``: zeros shaped like ``d`` with
    ``g`` stored at ``index`` (a repeated position keeps its last element, as there)."""
    out = zeros_like(d)
    out[index] = g
    return out


def _host_index(index):
    if isinstance(index, tuple):
        return tuple(_host_index(i) for i in index)
    if isinstance(index, (numbers.Integral, slice, list)) or index is None or index is Ellipsis:
        return index
    return numpy.asarray(index)


def copy(x):
    """A copy that generated code may write into: arrays and containers, recursively."""
    if isinstance(x, dict):
        return {k: copy(v) for k, v in x.items()}
    if isinstance(x, FieldAdjoint):
        return FieldAdjoint([copy(v) for v in x], x.names)
    if isinstance(x, (list, tuple)):
        return [copy(v) for v in x]
    if isinstance(x, _SCALARS) or x is None:
        return x
    c = getattr(x, "copy", None)
    if c is not None:
        return c()
    return namespace(x).asarray(x, copy=True)


def unbroadcast(g, x):
    """Sum ``g`` over the axes that broadcasting added or stretched, to ``x``'s shape.

    This is the adjoint of the implicit broadcast in ``x + y``.  A real ``x``
    receives the real part of a complex ``g``.
    """
    tg = type(g)
    if (tg is float or tg is _float64) and type(x) is float:    # scalar code (fast path)
        return g
    xshape = shape(x)
    gshape = shape(g)
    if gshape != xshape:
        xp = namespace(g)
        lead = len(gshape) - len(xshape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, n in enumerate(xshape) if n == 1 and gshape[lead + i] != 1)
        if axes:
            g = xp.sum(g, axis=axes)
        if shape(g) != xshape:
            g = xp.reshape(g, xshape)
    if _is_complex(g) and not _is_complex(x):
        g = namespace(g).real(g) if not isinstance(g, complex) else g.real
    if isinstance(x, (bool, int, float)) and not isinstance(g, float):
        g = float(g) if not _is_complex(g) else complex(g)
    return g


def _is_complex(x):
    if isinstance(x, complex):
        return True
    if isinstance(x, (float, int)):
        return False
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    kind = getattr(dtype, "kind", None)
    if kind is not None:
        return kind == "c"
    return "complex" in str(dtype)


def to_complex_like(g, x):
    """Keep the real part of ``g`` when ``x`` is real (the adjoint of a real-to-complex cast)."""
    if _is_complex(g) and not _is_complex(x):
        return g.real
    return g


def reduce_vjp(g, x, axis=None, keepdims=False):
    """Spread the cotangent of a reduction over ``axis`` back to ``x``'s shape."""
    xp = namespace(g) if not isinstance(g, _SCALARS) else namespace(x)
    xshape = shape(x)
    if axis is not None and not keepdims and shape(g) != ():
        axes = axis if isinstance(axis, tuple) else (axis,)
        axes = sorted(a % len(xshape) for a in axes)
        g = xp.reshape(xp.asarray(g), tuple(1 if i in axes else n for i, n in enumerate(xshape)))
    return xp.broadcast_to(xp.asarray(g), xshape) if xshape != () else g


def casts_inexact(dtype):
    """Whether a cast to ``dtype`` keeps derivatives: a float or complex dtype, or none.

    A cast to an integer or bool dtype is piecewise constant: its derivative is zero.
    """
    if dtype is None:
        return True
    try:
        return numpy.dtype(dtype).kind in "fc"
    except TypeError:           # another array library's dtype
        return getattr(dtype, "kind", "f") in "fc"


def through_cast(d, dtype):
    """A derivative through a cast to ``dtype``: ``d`` itself for a float or complex dtype,
    zero for an integer or bool one (``x.astype(int)``, ``np.asarray(x, dtype=bool)``)."""
    return d if casts_inexact(dtype) else zeros_like(d)


def through_write(d, into):
    """The derivative of a value written into ``into`` (``into[i] = v``): ``d`` itself, zero
    where ``into`` is an array of an integer or bool dtype, into which NumPy writes the value
    truncated (piecewise constant).  A list or dict keeps what is written as it is."""
    dtype = getattr(into, "dtype", None)
    if dtype is None or getattr(dtype, "kind", "f") not in "biu":
        return d
    return zeros_like(d)


def in_place(old, new, op):
    """``new``, the value of ``old op= v`` (``y[:2] += v``, ``y += v``), after NumPy's check
    that it can be written into ``old`` when that is an array (``casting='same_kind'``: floats
    into an integer array raise ``UFuncTypeError``).  A number (``y[0]`` of a 1-d array) is
    replaced, not written into: nothing to check."""
    if isinstance(old, numpy.ndarray):
        dtype = getattr(new, "dtype", None)
        if dtype is not None and dtype != old.dtype \
                and not numpy.can_cast(dtype, old.dtype, "same_kind"):
            probe = numpy.ones(1, old.dtype)
            getattr(numpy, op)(probe, numpy.ones(1, dtype), out=probe)   # NumPy's own error
            raise TypeError(f"Cannot cast ufunc {op!r} output from {dtype!r} to {old.dtype!r} "
                            "with casting rule 'same_kind'")
    return new


def copied_into(into, value):
    """``value``, after the check ``np.copyto(into, value)`` makes that it can be cast to
    ``into``'s dtype (``casting='same_kind'``: floats into an integer array raise)."""
    if isinstance(into, numpy.ndarray):
        dtype = getattr(value, "dtype", None)
        if dtype is None and type(value) in (float, complex):
            dtype = numpy.dtype(type(value))    # (a Python number: no probe array to cast)
        if dtype is not None and (dtype == into.dtype
                                  or numpy.can_cast(dtype, into.dtype, "same_kind")):
            return value        # (floats into floats: the usual case)
        sample = value if type(value) in (int, float, complex) else \
            numpy.ones(1, numpy.asarray(value).dtype)
        numpy.copyto(numpy.ones(1, into.dtype), sample)     # NumPy's own error
    return value


def tolist_vjp(v, a):
    """The cotangent of ``a`` from ``v``, that of ``a.tolist()`` (nested lists of numbers,
    a missing one zero)."""
    xp = namespace(a) if not isinstance(a, _SCALARS) else numpy
    return xp.reshape(xp.asarray(_dense(v), dtype=_default_float(xp)), shape(a))


def _dense(g):
    if isinstance(g, (list, tuple)):
        return [_dense(v) for v in g]
    return 0.0 if g is None else g


def tolist_of(a):
    """``a.tolist()`` (a Python number for a 0-d array): how a tangent follows ``tolist``."""
    return numpy.asarray(a).tolist() if isinstance(a, _SCALARS) else a.tolist()


def array_vjp(g, obj):
    """The adjoint of ``np.array(obj)`` / ``np.asarray(obj)`` for nested lists of values."""
    if isinstance(obj, (list, tuple)):
        return [array_vjp(g[i], o) for i, o in enumerate(obj)]
    return unbroadcast(g, obj)


def match(d, x):
    """Give adjoint ``d`` the structure and type of the argument ``x`` it belongs to.

    A float argument gets a float, an array gets an array of its shape (and
    its floating dtype), a tuple gets a tuple, and so on down the containers.
    """
    if type(x) is float and type(d) is float:     # the common case first
        return d
    if isinstance(x, dict):
        return {k: match(d.get(k) if d is not None else None, v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        fields = getattr(type(x), "_fields", None)
        if fields is not None and isinstance(d, dict):
            # a namedtuple read by attribute (p.a): generated code keeps its adjoint by name
            return type(x)(*[match(d.get(f), v) for f, v in zip(fields, x)])
        items = [match(d[i] if d is not None else None, v) for i, v in enumerate(x)]
        if fields is not None:
            return type(x)(*items)          # a namedtuple's derivative is one of its type
        return tuple(items) if isinstance(x, tuple) else items
    if _is_object(x):
        # The gradient of an object: a copy whose differentiable attributes hold their gradients.
        if isinstance(d, dict):
            _check_stored(d, x)
        with walking(x):
            return object_like(x, {k: match(attribute(d, k), v) for k, v in parts(x)})
    if d is None:
        return zeros_like(x)
    if isinstance(x, numpy.generic) and x.dtype.kind in "fc" \
            and not isinstance(x, (float, complex)):
        # a NumPy scalar that is not a Python number (float64 is a float) gets a NumPy
        # scalar of its type: float32 stays float32
        return x.dtype.type(d if x.dtype.kind == "c" else numpy.real(d))
    if isinstance(x, (bool, int, float)):
        return float(numpy.real(d)) if not isinstance(d, complex) else float(d.real)
    if isinstance(x, complex):
        return complex(d)
    xp = namespace(x)
    xshape = shape(x)
    if shape(d) != xshape:
        d = xp.broadcast_to(xp.asarray(d), xshape)
    dtype = getattr(x, "dtype", None)
    if dtype is not None and _is_inexact(xp, dtype):
        d = xp.asarray(d, dtype=dtype) if xp is not numpy else numpy.asarray(d, dtype=dtype)
    if xp is numpy and isinstance(d, numpy.ndarray) and not d.flags.writeable:
        d = d.copy()
    return d


def as_adjoint(d):
    """Derivative ``d`` as generated code keeps it: an object's (a copy of the object, from
    ``match``) as a dict of its attributes' derivatives, inside containers too."""
    if isinstance(d, dict):
        return {k: as_adjoint(v) for k, v in d.items()}
    if isinstance(d, (list, tuple)):
        return type(d)(as_adjoint(v) for v in d) if type(d) in (list, tuple) else d
    if _is_object(d):
        with walking(d):
            return {k: as_adjoint(v) for k, v in parts(d)}
    return d


def attribute_tangent(t, value, name):
    """The tangent of ``value.name`` (forward mode) from the tangent ``t`` of ``value``: its
    attribute when ``t`` is a namedtuple or an object like ``value`` (as ``jvp`` takes it),
    its entry when ``t`` is a dict (as generated code keeps an object's) or a namedtuple's
    ``FieldAdjoint``.  An attribute that is an integer, or that ``t`` lacks, has tangent zero.

    (No rule of its own: code that calls it is traced when it is differentiated again.)"""
    v = getattr(value, name)
    if isinstance(v, (bool, numbers.Integral)) \
            or getattr(getattr(v, "dtype", None), "kind", "f") in "biu":
        return zeros_like(v)
    if hasattr(value, "shape") and not isinstance(value, tuple):
        # an array's own attribute that is not a rule's (x.base: the array x is a view of)
        from ..errors import NonDifferentiableError
        raise NonDifferentiableError(
            f"s2sgrad: differentiating .{name} of an array: s2sgrad has no derivative for "
            f"it; compute the value from the array itself (its elements, its slices)")
    if _is_object(value) and name not in getattr(value, "__dict__", ()) \
            and name not in _slot_names(type(value)) and _computed(value, name):
        # (the same attribute of the tangent, a property of it, is not the tangent of this one)
        raise _computed_error(value, name)
    part = t.get(name) if isinstance(t, FieldAdjoint) else attribute(t, name)
    return zeros_like(v) if part is None else part


def attribute(d, name):
    """The part of an object's derivative ``d`` for its attribute ``name``: ``d`` is a dict
    (generated code), a copy of the object (``match`` made it) or None (zero)."""
    if d is None:
        return None
    if isinstance(d, dict):
        return d.get(name)
    return getattr(d, name, None)


def size(x):
    """Number of elements of an array or scalar."""
    return math.prod(shape(x))


def specialize(condition):
    """Marks a rule branch that is a special case of the general code after it.

    At run time it is just ``condition``.  When the code generator inlines a
    rule and cannot decide ``condition`` from what it knows (array ranks), it
    keeps the general branch instead of emitting the test.
    """
    return condition


def recursion_levels(v, stop, step, test):
    """The values the counter of a linearly recursive function takes at each level above its
    base case, deepest first: the function recurs with ``v - step`` until ``v == stop``
    (``test`` ``"=="``), ``v <= stop`` (``"<="``) or ``v < stop`` (``"<"``).

    The loop the compiler writes for such a function runs once per level, in this order.
    A Python ``int`` counter gives a ``range`` (no level is visited twice); any other value
    (a NumPy integer, a bool, a float) is stepped as the recursion would step it, so that
    each level sees the value, and the type, the recursion passes it.  A counter that never
    meets its test, or meets it deeper than the recursion limit, raises ``RecursionError``
    as the recursion would.
    """
    limit = sys.getrecursionlimit()
    first = v
    try:
        start = v.__index__()
    except (AttributeError, TypeError):
        start = None
    if start is not None and type(step) is int and type(stop) is int:
        if test == "==":
            depth = (start - stop) // step if start >= stop and not (start - stop) % step else -1
        else:
            last = stop - 1 if test == "<" else stop
            depth = max(0, -((last - start) // step))
        if 0 <= depth <= limit:
            if type(v) is int:
                return range(start - (depth - 1) * step, start + 1, step)
            levels = []         # a NumPy integer, a bool: the values the recursion passes
            for _ in range(depth):
                levels.append(v)
                v = v - step
            levels.reverse()
            return levels
    else:
        levels = []
        while not (v == stop if test == "==" else v <= stop if test == "<=" else v < stop):
            if len(levels) > limit:
                break
            levels.append(v)
            v = v - step
        else:
            levels.reverse()
            return levels
    raise RecursionError(
        f"maximum recursion depth exceeded: the recursion starts its counter at {first!r} and "
        f"steps it by -{step!r}, so it does not reach its base case (counter {test} {stop!r}) "
        f"within the recursion limit ({limit})")


def recursion_depth(v, stop, step, test):
    """How many levels a linearly recursive function goes down before its base case
    (``recursion_levels``, counted; for a Python ``int`` counter, without listing them)."""
    if type(v) is int:
        if test == "==":
            depth = (v - stop) // step if v >= stop and not (v - stop) % step else -1
        else:
            depth = max(0, -((stop - (test == "<") - v) // step))
        if 0 <= depth <= sys.getrecursionlimit():
            return depth
    return len(recursion_levels(v, stop, step, test))


def broadcast_like(t, like):
    """``t`` broadcast to the shape of ``like`` (a tangent of a broadcast result)."""
    if type(t) in _NUMBER_TYPES and type(like) in _NUMBER_TYPES:     # scalar code (fast path)
        return t
    s = shape(like)
    if shape(t) == s:
        return t
    if isinstance(t, _SCALARS) and s == ():
        return t
    xp = namespace(like) if not isinstance(like, _SCALARS) else namespace(t)
    return xp.broadcast_to(xp.asarray(t), s)


def _mT(x):
    xp = namespace(x)
    return xp.swapaxes(x, -1, -2) if xp is numpy else xp.matrix_transpose(x)


def matmul_vjp_a(g, a, b):
    """Cotangent of ``a`` in ``a @ b``, for any ranks (vectors included)."""
    xp = namespace(g) if not isinstance(g, _SCALARS) else namespace(b)
    if ndim(b) == 1:
        if ndim(a) == 1:
            return g * b
        return unbroadcast(xp.asarray(g)[..., None] * b, a)
    if ndim(a) == 1:
        return unbroadcast(xp.sum(xp.asarray(g)[..., None, :] * b, axis=-1), a)
    return unbroadcast(g @ _mT(b), a)


def matmul_vjp_b(g, a, b):
    """Cotangent of ``b`` in ``a @ b``, for any ranks (vectors included)."""
    xp = namespace(g) if not isinstance(g, _SCALARS) else namespace(a)
    if ndim(a) == 1:
        if ndim(b) == 1:
            return g * a
        return unbroadcast(a[:, None] * xp.asarray(g)[..., None, :], b)
    if ndim(b) == 1:
        return unbroadcast(xp.sum(_mT(a) * xp.asarray(g)[..., None, :], axis=-1), b)
    if ndim(a) == 2 and ndim(g) == 2:
        return _mT(_mT(g) @ a)   # the same product; BLAS reads a row-major `a` faster this way
    return unbroadcast(_mT(a) @ g, b)


def dot_vjp_a(g, a, b):
    """Cotangent of ``a`` in ``np.dot(a, b)`` (numpy's dot contracts a's last and b's second-last axis)."""
    if ndim(a) == 0 or ndim(b) == 0:
        return unbroadcast(g * b, a) if ndim(a) == 0 else g * b
    xp = namespace(g) if not isinstance(g, _SCALARS) else namespace(b)
    if ndim(b) <= 2:
        return matmul_vjp_a(g, a, b)
    # g has axes a[:-1] + b[:-2] + b[-1:]: contract away b's free axes.
    nb = ndim(b)
    b_axes = list(range(nb - 2)) + [nb - 1]
    g_axes = list(range(ndim(a) - 1, ndim(g)))
    return xp.tensordot(g, b, axes=(g_axes, b_axes))


def dot_vjp_b(g, a, b):
    """Cotangent of ``b`` in ``np.dot(a, b)``."""
    if ndim(a) == 0 or ndim(b) == 0:
        return unbroadcast(g * a, b) if ndim(b) == 0 else g * a
    xp = namespace(g) if not isinstance(g, _SCALARS) else namespace(a)
    if ndim(b) <= 2 and ndim(a) <= 2:
        return matmul_vjp_b(g, a, b)
    na, nb = ndim(a), ndim(b)
    if nb == 1:
        return xp.tensordot(a, g, axes=(list(range(na - 1)), list(range(na - 1))))
    # g: a[:-1] + b[:-2] + b[-1:]; result axes b[:-2], b[-2], b[-1]
    out = xp.tensordot(a, g, axes=(list(range(na - 1)), list(range(na - 1))))
    # out axes: a[-1] (= b[-2]), b[:-2]..., b[-1]
    return xp.moveaxis(out, 0, nb - 2)


def unstack(g, axis=0):
    """The slices of ``g`` along ``axis``: the adjoint of ``stack``."""
    xp = namespace(g)
    n = shape(g)[axis]
    return [xp.take(g, i, axis=axis) if xp is numpy else g[(slice(None),) * (axis % ndim(g)) + (i,)]
            for i in range(n)]


def split_like(g, arrays, axis=0):
    """Pieces of ``g`` along ``axis`` shaped like ``arrays``: the adjoint of ``concatenate``."""
    if axis is None:
        pieces, start = [], 0
        flat = namespace(g).reshape(g, (-1,))
        for a in arrays:
            n = size(a)
            pieces.append(namespace(g).reshape(flat[start:start + n], shape(a)))
            start += n
        return pieces
    pieces, start = [], 0
    ax = axis % ndim(g)
    for a in arrays:
        n = shape(a)[ax] if ndim(a) else 1
        index = (slice(None),) * ax + (slice(start, start + n),)
        pieces.append(g[index])
        start += n
    return pieces


def inverse_permutation(axes):
    """The permutation that undoes ``transpose(x, axes)``."""
    inv = [0] * len(axes)
    for i, a in enumerate(axes):
        inv[a % len(axes)] = i
    return tuple(inv)


def max_vjp(g, ans, x, axis=None, keepdims=False):
    """Cotangent of a max or min reduction: shared equally among the elements that attain it."""
    xp = namespace(x) if not isinstance(x, _SCALARS) else numpy
    hit = x == reduce_vjp(ans, x, axis, keepdims)
    hit = xp.astype(hit, xp.float64) if xp is not numpy else hit.astype(float)
    count = xp.sum(hit, axis=axis, keepdims=True) if axis is not None else xp.sum(hit)
    return reduce_vjp(g, x, axis, keepdims) * hit / count


def extremum_vjp(g, ans, values):
    """Cotangents for ``max(values)`` / ``min(values)`` of a list: ``g`` where the value won."""
    hits = [v == ans for v in values]
    n = sum(1 for h in hits if h) or 1
    return [g / n if h else 0.0 * g for h in hits]


def extremum_jvp(t, ans, values):
    """Tangent of ``max(values)`` / ``min(values)`` from the tangents ``t`` of the values."""
    hits = [i for i, v in enumerate(values) if v == ans]
    return sum(t[i] for i in hits) / len(hits)


def share_of_max(a, b):
    """1 where ``a > b``, 0 where ``a < b``, 0.5 at ties: ``a``'s share of d max(a, b)."""
    if isinstance(a, _SCALARS) and isinstance(b, _SCALARS):
        return 1.0 if a > b else 0.5 if a == b else 0.0
    xp = namespace(a) if not isinstance(a, _SCALARS) else namespace(b)
    if xp is numpy:
        return numpy.where(a == b, 0.5, numpy.greater(a, b).astype(float))
    win = xp.astype(a > b, xp.float64)
    tie = xp.astype(a == b, xp.float64)
    return win + 0.5 * tie


def items_adjoint(g, iterable):
    """The adjoint of ``list(iterable)``: the items' cotangents, as ``iterable`` holds them."""
    if isinstance(iterable, (list, tuple)) or not hasattr(iterable, "shape"):
        return list(g)     # (an iterator, like reversed(items): its items as a list)
    return namespace(iterable).stack(list(g))


class _Missing:
    """What ``saved_item`` saves for a key a dict does not hold yet."""

    def __repr__(self):
        return "<missing>"


MISSING = _Missing()


def saved_item(container, key):
    """A copy of ``container[key]`` to put back later, or ``MISSING`` for a new key."""
    if isinstance(container, dict) and key not in container:
        return MISSING
    return copy(container[key])


def _flat_index(index, shape_):
    index = index if isinstance(index, tuple) else (index,)
    if len(index) == 1 and isinstance(index[0], (int, numpy.integer)):
        return numpy.unravel_index(int(index[0]), shape_)
    return tuple(index)


def item_of(t, index=()):
    """``t.item(*index)`` of a tangent: the element at ``index`` (the only one without)."""
    index = index if isinstance(index, tuple) else (index,)
    t = numpy.asarray(t) if isinstance(t, _SCALARS) else t
    xp = namespace(t)
    return xp.reshape(t, ()) if not index else t[_flat_index(index, shape(t))]


def item_vjp(g, a, index=()):
    """The cotangent of ``a`` from that of ``a.item(*index)``."""
    index = index if isinstance(index, tuple) else (index,)
    xp = namespace(a) if not isinstance(a, _SCALARS) else numpy
    if not index:
        return xp.reshape(xp.asarray(g), shape(a))
    out = zeros_like(a)
    out[_flat_index(index, shape(a))] = g
    return out


def batch_item(t, index=()):
    """``item_of`` for each tangent of a batch."""
    index = index if isinstance(index, tuple) else (index,)
    k = shape(t)[0]
    if not index:
        return namespace(t).reshape(t, (k,))
    return t[(slice(None),) + _flat_index(index, shape(t)[1:])]


def window_view(x, window_shape, axis=None):
    """``sliding_window_view(x, window_shape, axis)`` (the windows of a tangent)."""
    from numpy.lib.stride_tricks import sliding_window_view
    return sliding_window_view(x, window_shape, axis=axis)


def window_vjp(g, x, window_shape, axis=None):
    """The adjoint of ``sliding_window_view(x, window_shape, axis)``: each window's cotangent
    added back where the window reads (an unbuffered add through a writeable window view)."""
    from numpy.lib.stride_tricks import sliding_window_view
    out = numpy.zeros(shape(x), dtype=numpy.result_type(g, x, float))
    view = sliding_window_view(out, window_shape, axis=axis, writeable=True)
    numpy.add.at(view, (Ellipsis,), g)
    return out


def unit(x):
    """``abs``'s derivative: the sign of a real ``x``, ``x / |x|`` of a complex one (0 at 0)."""
    if not _is_complex(x):
        return numpy.sign(x) if isinstance(x, _SCALARS) else namespace(x).sign(x)
    xp = numpy if isinstance(x, complex) else namespace(x)
    r = xp.abs(x)
    return xp.where(r == 0, 0, x / xp.where(r == 0, 1, r))


def unit_jvp(t, x):
    """The tangent of ``unit(x)``: 0 for a real ``x`` (the sign is piecewise constant), the
    part of ``t`` across ``x``'s direction over ``|x|`` for a complex one."""
    if not _is_complex(x):
        return 0.0 * t
    xp = numpy if isinstance(x, complex) else namespace(x)
    u, r = unit(x), xp.abs(x)
    return xp.where(r == 0, 0, (t - u * xp.real(xp.conj(u) * t)) / xp.where(r == 0, 1, r))


def unit_vjp(g, x):
    """The cotangent of ``x`` from that of ``unit(x)`` (s2sgrad's convention for complex
    values: the rules carry conjugate cotangents)."""
    if not _is_complex(x):
        return 0.0 * g
    xp = numpy if isinstance(x, complex) else namespace(x)
    u, r = unit(x), xp.abs(x)
    return xp.where(r == 0, 0, (g - xp.conj(u) * xp.real(u * g)) / xp.where(r == 0, 1, r))


def fill_diagonal(a, val, wrap=False):
    """``np.fill_diagonal`` without the side effect: a copy of ``a`` with its diagonal set."""
    xp = namespace(a)
    out = xp.array(a, dtype=numpy.result_type(a, val) if xp is numpy else None, copy=True)
    numpy.fill_diagonal(out, val, wrap=wrap)
    return out


def fill_diagonal_vjp_val(g, val, wrap=False):
    """The cotangent of the value ``np.fill_diagonal`` writes: the diagonal of ``g``, summed
    over the places a shorter value is repeated at."""
    g = numpy.asarray(g)
    if g.ndim == 2:
        step, end = g.shape[1] + 1, None if wrap else g.shape[1] * g.shape[1]
    else:
        step, end = 1 + int(numpy.cumprod(g.shape[:-1]).sum()), None
    d = g.ravel()[:end:step]
    v = numpy.asarray(val)
    if v.size == 1:
        return unbroadcast(numpy.sum(d), val)
    out = numpy.zeros(v.size, dtype=d.dtype)
    numpy.add.at(out, numpy.arange(d.size) % v.size, d)
    return out.reshape(v.shape)


def sort_in_place(value, axis=-1, kind=None, order=None, *, key=None, reverse=False):
    """``value.sort(...)`` without the side effect: a list sorted as ``list.sort`` sorts it
    (``key``, ``reverse``), an array as ``np.sort`` along ``axis``."""
    if isinstance(value, list):
        return sorted(value, key=key, reverse=reverse)
    return namespace(value).sort(value, axis=axis)


def sort_in_place_vjp(g, value, axis=-1, key=None, reverse=False):
    if isinstance(value, list):
        return unsort(g, sort_order(value, key, reverse), value)
    xp = namespace(value)
    out = xp.zeros_like(g)
    numpy.put_along_axis(out, xp.argsort(value, axis=axis), g, axis=axis)
    return out


def sort_in_place_jvp(t, value, axis=-1, key=None, reverse=False):
    if isinstance(value, list):
        return [t[i] for i in sort_order(value, key, reverse)]
    return namespace(value).take_along_axis(t, namespace(value).argsort(value, axis=axis),
                                            axis=axis)


def sort_order(items, key=None, reverse=False):
    """The positions of ``items`` in the order ``sorted(items, key=key, reverse=reverse)``
    puts them (a stable sort, as Python's)."""
    def by(i):
        return key(items[i]) if key is not None else items[i]
    return sorted(range(len(items)), key=by, reverse=reverse)


def unsort(g, order, items):
    """The adjoint of taking ``items`` in ``order``: each cotangent back at its item's place."""
    out = [None] * len(order)
    for j, i in enumerate(order):
        out[i] = g[j]
    return items_adjoint(out, items)


def saved_item_vjp(g, container, key):
    """The adjoint of ``saved_item(container, key)``: ``g`` at ``key``, zeros elsewhere."""
    out = zeros_like(container)
    if g is not MISSING:
        out[key] = g
    return out


def restore_item(container, key, value):
    """Put back what ``saved_item`` saved (deleting a key that was new)."""
    if value is MISSING:
        del container[key]
    else:
        container[key] = value


def keys(mapping):
    """The keys of a dict as a list (what a loop over ``d.items()`` iterates)."""
    return list(mapping)


def popitem_key(mapping):
    """The key ``mapping.popitem()`` would take: the last one inserted.  ``d.popitem()`` is
    lowered to ``key = popitem_key(d)`` and ``(key, d.pop(key))``, which both modes
    differentiate (the tangent or adjoint of ``d`` loses the same key)."""
    if not isinstance(mapping, dict):
        raise TypeError(f"popitem of a {type(mapping).__name__}: s2sgrad differentiates "
                        f"dict.popitem(); call a dict's, or pop a key of your own choosing")
    if not mapping:
        raise KeyError("popitem(): dictionary is empty")
    return next(reversed(mapping))


def repeat_like(g, values):
    """``g`` once for each of ``values``: the adjoint of ``sum(values)``."""
    return [g for _ in values]


def seed(d_out, value):
    """The cotangent that starts a backward sweep: ``d_out``, or 1 for a scalar output."""
    if d_out is not None:
        return d_out
    tv = type(value)
    if tv is float or tv is _float64:       # a real scalar output (fast path)
        return 1.0
    check_scalar(value, "")
    xp = namespace(value)
    if xp is numpy or isinstance(value, _SCALARS):
        return 1.0
    return xp.ones_like(value)  # array-API namespaces want arrays, not Python floats


def check_scalar(value, where):
    """Raise unless ``value`` is a number: ``grad`` needs a scalar output (and one that
    can carry a derivative, ``output_problem``)."""
    if type(value) in _NUMBERS:
        return
    problem = output_problem(value)
    if problem is not None:
        from ..errors import OutputWithoutDerivativeError
        raise OutputWithoutDerivativeError(
            f"{where + ': ' if where else ''}the function returned {problem[0]}; {problem[1]}.",
            value)
    if shape(value) != () or _is_container(value):
        from ..errors import NonScalarOutputError  # the errors module needs no compiler
        raise NonScalarOutputError(
            f"{where + ': ' if where else ''}grad needs a scalar output, but the function returned "
            f"{_describe(value)}. Use jacobian or vjp for non-scalar outputs, or reduce "
            f"the output (np.sum, np.mean) before returning it.")


def check_sequence(seq, where, source):
    """``seq``, which a loop ``for v in seq`` (written ``source``) runs over by position
    (``seq[0]``, ``seq[1]``...), unless that is not what iterating over it gives: a
    mapping (its keys) or a set (no positions), then an error at the user's line."""
    if isinstance(seq, (_abc.Mapping, _abc.Set)):
        from ..errors import UnsupportedError
        if isinstance(seq, _abc.Mapping):
            what = (f"a {type(seq).__name__}, whose loop runs over its keys, which the "
                    f"generated code would take by position (d[0], d[1]...)")
            advice = ("loop over d.keys(), d.items() or d.values() (for k in d.keys():), "
                      "which s2sgrad differentiates")
        else:
            what = f"a {type(seq).__name__}, which has no positions to take its items by"
            advice = "loop over a list or a tuple of its items (sorted(s), list(s))"
        raise UnsupportedError(where, f"{source}, over {what},", advice)
    return seq


def check_output(value, where):
    """``value``, the output of a differentiated function whose derivative code found it
    carries none, unless it cannot carry one at all (``output_problem``: a bool, None, a
    string), which would get zeros without a word: then ``OutputWithoutDerivativeError``."""
    problem = output_problem(value)
    if problem is not None:
        from ..errors import OutputWithoutDerivativeError
        raise OutputWithoutDerivativeError(
            f"{where + ': ' if where else ''}the function returned {problem[0]}; {problem[1]}.",
            value)
    return value


_NUMBERS = (int, float, complex)


def output_problem(value):
    """Why ``value``, the output of a differentiated function, cannot carry a derivative,
    ``(what it is, what to do)``, or ``None``: ``None`` (a forgotten ``return``), a bool (a
    comparison), a string, a generator would each get a zero gradient without a word."""
    if value is None:
        return ("None: no return statement ran (a forgotten return, or a path that ends "
                "without one)", "return the value to differentiate")
    if isinstance(value, (bool, numpy.bool_)) or (
            isinstance(value, numpy.ndarray) and value.dtype.kind == "b"):
        return (f"a bool ({value!r}), as a comparison gives, which has no derivative",
                "return the number being compared (or a smooth function of it), not the test")
    if isinstance(value, (str, bytes)) or (
            isinstance(value, numpy.ndarray) and value.dtype.kind in "USV"):
        return (f"a {type(value).__name__} ({value!r:.40}), which has no derivative",
                "return a number or an array of floats")
    if inspect.iscoroutine(value) or inspect.isgenerator(value) or inspect.isasyncgen(value):
        return (f"a {type(value).__name__} object, not the value it computes",
                "differentiate a plain function that returns the value")
    if isinstance(value, (types.FunctionType, types.MethodType, types.BuiltinFunctionType,
                          functools.partial)):
        return (f"a function ({getattr(value, '__qualname__', type(value).__name__)}), not "
                f"a value: the derivatives of the values it holds would be lost",
                "return what it computes, or differentiate a function that calls it")
    if isinstance(value, (set, frozenset, collections.deque)):
        return (f"a {type(value).__name__} of {len(value)} items, which s2sgrad does not "
                f"differentiate through (its items would get no derivative)",
                "return a list or a tuple")
    return None


def _describe(value):
    if _is_container(value):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"an array of shape {shape(value)}"


def check_method(obj, attr, cls, where):
    """``obj``, once sure that ``obj.attr`` is the method ``cls.attr`` the code was generated for.

    Generated code calls a method's derivative directly when it knew the object's
    class when it was generated (from a default value or an attribute); another
    object reaching the same call stops here instead of getting a wrong derivative.
    """
    if getattr(type(obj), attr, None) is getattr(cls, attr) \
            and attr not in getattr(obj, "__dict__", ()):
        return obj
    raise TypeError(
        f"{where}: the derivative of .{attr}() was generated for objects of class "
        f"{cls.__qualname__}, and this call got a {type(obj).__qualname__} object whose {attr} is "
        f"another method. Pass an object of class {cls.__qualname__}, or regenerate the "
        f"derivative for the object you use")
