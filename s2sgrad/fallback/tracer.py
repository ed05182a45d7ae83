"""The tracing core: boxes, traces, and applying a primitive to boxed values.

A *trace* is one differentiation in progress (one ``trace_vjp`` or ``trace_jvp``
call).  Each has a unique, increasing level, so that traces can nest: a box of
an inner trace may hold a box of an outer one (perturbation confusion is ruled
out because every trace has its own level).  A *box* is a value seen by a
trace: reverse traces give each box the index of its node on the trace's tape,
forward traces give it its tangent.

Primitives are the registry's (``s2sgrad.rules.registry``): numpy calls reach
``Box.__array_ufunc__`` / ``Box.__array_function__`` (NEP 13/18), Python
operators reach the box's dunders, and array methods go through the
registry's method table.  ``apply`` runs a primitive on the values of the
highest-level boxes among its arguments (recursing for lower levels) and
records a node (reverse) or computes the output tangent with the forward rule
(forward).  The rules are the registry's own functions: nothing here knows a
derivative.
"""

import functools
import itertools
import math
import operator
import os
import sys

import numpy as np

import s2sgrad.naming as naming
import s2sgrad.runtime as rt
from .state import current as _current_trace
from ..errors import NoRuleError, S2SGradError, UnsupportedArgumentError, UnsupportedError
from ..rules import registry

__all__ = [
    "Box", "ScalarBox", "ArrayBox", "Trace", "apply", "Spec", "REVERSE", "FORWARD",
    "strip", "TracingNoRuleError", "TracedConversionError",
]

REVERSE, FORWARD = 0, 1
_levels = itertools.count(1)
_EMPTY = {}           # shared empty kwargs: never mutated
_SEQ = (list, tuple)


class Trace:
    """One differentiation in progress: its level, mode and (reverse mode) tape."""

    __slots__ = ("level", "mode", "tape", "active")

    def __init__(self, mode):
        self.level = next(_levels)
        self.mode = mode
        self.tape = []
        self.active = True

    def __repr__(self):
        return f"<trace {self.level} {'reverse' if self.mode == REVERSE else 'forward'}>"


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NP_DIR = os.path.dirname(os.path.abspath(np.__file__))


def _library_dirs():
    """Directories of the libraries whose frames are not the user's (numpy, scipy)."""
    dirs = [_NP_DIR]
    scipy = sys.modules.get("scipy")
    if scipy is not None and getattr(scipy, "__file__", None):
        dirs.append(os.path.dirname(os.path.abspath(scipy.__file__)))
    return tuple(dirs)


# NumPy functions that call a function they are given (numpy frame name -> what to call it)
_LIBRARY = {"numpy": "NumPy", "scipy": "SciPy"}
_NUMPY_CALLERS = {"apply_along_axis": "numpy.apply_along_axis",
                  "apply_over_axes": "numpy.apply_over_axes", "piecewise": "numpy.piecewise",
                  "_vectorize_call": "numpy.vectorize"}


def library_caller():
    """The SciPy function (``scipy.integrate.quad``) running the user's code that is running
    now, when one is (a function passed to SciPy, which calls it with plain numbers)."""
    scipy = sys.modules.get("scipy")
    root = os.path.dirname(os.path.abspath(scipy.__file__)) \
        if scipy is not None and getattr(scipy, "__file__", None) else "\0"
    f = sys._getframe(1)
    found = None
    while f is not None:
        fname = os.path.abspath(f.f_code.co_filename)
        if fname.startswith(_NP_DIR) and f.f_code.co_name in _NUMPY_CALLERS:
            found = _NUMPY_CALLERS[f.f_code.co_name]
        elif fname.startswith(root):
            parts = f.f_globals.get("__name__", "scipy").split(".")
            found = f"{parts[0]}.{parts[1].lstrip('_')}.{f.f_code.co_name}" \
                if len(parts) > 1 else f.f_code.co_name
        elif found is not None and not fname.startswith(_PKG_DIR) \
                and not fname.startswith(_NP_DIR):
            return found
        f = f.f_back
    return found


def user_location():
    """``file:line`` of the innermost frame outside s2sgrad, numpy and scipy (the user's code)."""
    f = sys._getframe(1)
    libs = _library_dirs()
    while f is not None:
        if naming.is_generated_file(f.f_code.co_filename):
            from ..sites import cited_line
            cited = cited_line(f)          # generated code cites the user's line it runs
            if cited is not None:
                return cited
            f = f.f_back
            continue
        fname = os.path.abspath(f.f_code.co_filename)
        if not (fname.startswith(_PKG_DIR) or fname.startswith(libs)):
            return f"{f.f_code.co_filename}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>"


class TracingNoRuleError(NoRuleError):
    """The tracing fallback met a function (or argument) with no derivative rule."""

    def __init__(self, name, detail=""):
        where = user_location()
        self.where = where
        self.name = name
        self.construct = f"a call to {name}"
        self.advice = ("add a rule for it to s2sgrad.rules (or use functions that have "
                       "one), or apply it to values that do not depend on the differentiated "
                       "arguments")
        msg = (f"{where}: {name} has no derivative rule{detail}, so s2sgrad's tracing "
               f"fallback cannot differentiate through it; {self.advice}")
        S2SGradError.__init__(self, msg)


class TracedConversionError(S2SGradError):
    """A traced value was turned into a plain float or array: its derivative would be lost."""


def _apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """``np.apply_along_axis`` as the loop it runs, on traced values (NumPy's own writes
    each result into a plain array, which would drop its derivative)."""
    ax = axis % np.ndim(arr)
    moved = np.moveaxis(arr, ax, -1)
    shape = np.shape(moved)
    rows = np.reshape(moved, (-1, shape[-1]))
    stacked = np.stack([func1d(rows[i], *args, **kwargs) for i in range(np.shape(rows)[0])])
    k = np.ndim(stacked) - 1
    lead = shape[:-1]
    out = np.reshape(stacked, lead + np.shape(stacked)[1:])
    out = np.moveaxis(out, list(range(len(lead), len(lead) + k)), list(range(ax, ax + k)))
    return np.copy(out)          # a new array, as NumPy's (not a view of the pieces)


# NumPy functions without a rule that the tracer runs as the NumPy code they stand for
_COMPOSITES = {"apply_along_axis": (np.apply_along_axis, _apply_along_axis)}


# The last conversion error made inside a library's code (which may swallow it, or turn it
# into another error): fallback.trace raises it instead of what the library raised.
LAST_CONVERSION = [None]


def _conversion_error(box, how, advice):
    caller = library_caller()
    if caller is not None:
        # a function given to SciPy (quad, solve_ivp, brentq...) reads a traced value
        LAST_CONVERSION[0] = TracedConversionError(
            f"{user_location()}: {caller} was given a function that reads a value s2sgrad is "
            f"differentiating (a traced {_describe(box)}); {_LIBRARY[caller.split('.')[0]]} "
            f"calls it with plain numbers "
            f"and converts what it returns ({how}), which would silently drop the derivative. "
            f"s2sgrad cannot differentiate {caller} through a function it is given: pass the "
            f"differentiated values as arguments where it takes them (odeint's args=), write "
            f"the computation in NumPy, or wrap the values in s2sgrad.stop_gradient(...) if "
            f"they should not be differentiated.")
        return LAST_CONVERSION[0]
    return TracedConversionError(
        f"{user_location()}: a value s2sgrad is differentiating (a traced {_describe(box)}) "
        f"{how}, which would silently drop its derivative. {advice}")


_LIKE_CREATORS = [frozenset(getattr(np, n) for n in ("zeros_like", "ones_like", "empty_like",
                                                    "full_like"))]
_WRITE_ADVICE = ("The tracer writes traced values into arrays made by np.zeros, np.empty, "
                 "np.ones, np.full, np.eye or np.array in the function it traces and in the "
                 "functions of your modules that it calls by name, and into np.zeros_like(x) "
                 "of a traced x wherever it is made; this array was made elsewhere (in a "
                 "method, another library, or a function with a global statement): make it "
                 "with np.zeros_like(x) or x.copy() of a traced x, or build the result with "
                 "np.stack or np.concatenate.")


_CONSTANT = "constant"      # the mark of a reverse tape entry made by ``constant``


def constant(value, trace):
    """``value`` (a plain array) as a box of ``trace`` that carries no derivative."""
    if trace.mode == REVERSE:
        trace.tape.append((None, None, _CONSTANT, value, (), False))
        return _box_output(value, trace, len(trace.tape) - 1)
    return _box_output(value, trace, np.zeros_like(value))


def _constants_only(x):
    """Every box in ``x`` (through lists, tuples and dicts) was made by ``constant`` (an
    array made by np.array, np.zeros... in traced code) and carries no derivative yet: a
    function without rule may run on their values."""
    if isinstance(x, Box):
        node = x._node
        if isinstance(x._value, Box):
            return False
        if x._trace.mode == REVERSE:
            return type(node) is int and x._trace.tape[node][2] is _CONSTANT
        return type(node) is np.ndarray and not node.any()
    if type(x) in _SEQ:
        return all(_constants_only(e) for e in x)
    if type(x) is dict:
        return all(_constants_only(e) for e in x.values())
    return True


def _on_constants(name, call, args, kwargs):
    """``call(*args, **kwargs)`` on copies of the values of their boxes (``_constants_only``);
    a function that writes into one (np.copyto, np.put, out=) is refused: the tape may hold
    the value it would change."""
    pairs = []

    def copies(x):
        if isinstance(x, Box):
            v = x._value
            c = v.copy() if isinstance(v, np.ndarray) else v
            pairs.append((v, c))
            return c
        if type(x) in _SEQ:
            return type(x)(copies(e) for e in x)
        if type(x) is dict:
            return {k: copies(e) for k, e in x.items()}
        return x
    out = call(*copies(args), **copies(kwargs))
    if any(isinstance(v, np.ndarray) and not np.array_equal(v, c, equal_nan=True)
           for v, c in pairs):
        raise TracingNoRuleError(name, " (it writes into an array of the traced function)")
    return out


def promote(value):
    """An inexact array made while a trace runs in this thread, as a box of that trace."""
    if type(value) is not np.ndarray or value.dtype.kind not in "fc":
        return value
    trace = _current_trace()
    if trace is None or not trace.active:
        return value
    return constant(value, trace)


def _write_out(target, result):
    """``out=target`` of a traced call: ``target`` (a box) now holds ``result``; returns it."""
    if not isinstance(result, Box):         # only the output array was traced
        result = constant(np.asarray(result), target._trace)
    target._assign(result)
    return target


def _plain_seq(x):
    """``x`` with its namedtuples and list subclasses made plain tuples and lists (``apply``
    looks for boxes in those)."""
    if isinstance(x, _SEQ):
        return (tuple if isinstance(x, tuple) else list)(_plain_seq(e) for e in x)
    return x


def _put_along_axis(box, spec, args, kwargs):
    """``np.put_along_axis(arr, indices, values, axis)`` on traced values: NumPy writes into
    ``arr`` and returns None; its rules are those of the copy with the values put
    (``runtime.put_along``), which the traced ``arr`` then holds."""
    bound = spec.prim.bind(args, kwargs)
    target = bound.get("arr")
    if not isinstance(target, ArrayBox):
        if _has_box((bound.get("values"), target)):
            raise _conversion_error(box, "was written into a plain NumPy array by "
                                         "numpy.put_along_axis", _WRITE_ADVICE)
        return np.put_along_axis(*strip(args), **strip(kwargs))    # traced indices only
    target._assign(apply(spec, rt.put_along, args, kwargs))
    return None


def _describe(box):
    v = strip(box)
    if isinstance(v, np.ndarray):
        return f"array of shape {v.shape}"
    return type(v).__name__


# Operations whose meaning an ndarray subclass may change (np.matrix, np.ma.MaskedArray):
# a subclass that changes none of them (np.memmap) is traced as the ndarray it is.
_SEMANTICS = ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__pow__", "__rpow__", "__matmul__",
              "__rmatmul__", "__neg__", "__floordiv__", "__mod__", "__array_ufunc__",
              "__array_function__", "sum", "mean", "prod", "max", "min", "dot", "var", "std",
              "cumsum", "ravel", "reshape", "transpose")


def _own_semantics(cls):
    return any(getattr(cls, name, None) is not getattr(np.ndarray, name) for name in _SEMANTICS)


def _class_name(x):
    cls = type(x)
    mod = cls.__module__
    if mod == "builtins":
        return f"a {cls.__qualname__}"
    if mod.startswith("numpy.ma"):
        mod = "numpy.ma"
    elif mod.startswith("numpy"):
        mod = "numpy"
    return f"a {mod}.{cls.__qualname__}"


class UntraceableValueError(UnsupportedError):
    """An operation gave a value whose operations the derivative rules do not describe (an
    np.matrix, whose ``*`` is a matrix product; a masked array)."""

    verdict = "cannot be traced"


def _refuse_subclass(spec, ans):
    raise UntraceableValueError(
        user_location(), f"{spec.name}, which gave {_class_name(ans)} (one of its operands is "
        f"one),", "the derivative rules are those of a NumPy array's operations, and this "
        "array's differ (np.matrix's * and ** are matrix products, a masked array leaves out "
        "its masked entries), so its derivative would come out wrong: make it a NumPy array "
        "with np.asarray (and pass a mask as an array of its own)")


# ---------------------------------------------------------------------------
# Primitive specifications
# ---------------------------------------------------------------------------


class Spec:
    """What ``apply`` needs to know about a primitive, precomputed once."""

    __slots__ = ("prim", "xp", "name", "nondiff", "npos", "pos", "varargs", "params",
                 "vjp", "jvp", "strict", "key", "checked", "out_at")

    def __init__(self, prim, xp, name):
        self.prim = prim
        self.xp = xp if xp is not None else np
        self.name = name
        self.key = (prim.family, prim.name)
        self.nondiff = prim.nondiff or prim.signature is None
        self.pos, self.varargs, self.params = [], None, frozenset()
        # Boxed arguments at parameters without a rule are errors for user-facing
        # primitives; the runtime helpers' other parameters only give shapes.
        self.strict = prim.family != "s2sgrad.runtime"
        self.vjp, self.jvp = prim.vjp, prim.jvp
        if not self.nondiff:
            for pname, p in prim.signature.parameters.items():
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                    self.pos.append(pname)
                elif p.kind is p.VAR_POSITIONAL:
                    self.varargs = pname
            self.params = frozenset(prim.signature.parameters)
        self.npos = len(self.pos)
        # Arguments beyond the rules (out=, a mode): ``unsupported_arguments`` says which.
        self.checked = not self.nondiff and prim.check is not None
        self.out_at = self.pos.index("out") if "out" in self.pos else None

    def param_of(self, key):
        """``(parameter, argnum)`` for a positional index or keyword name."""
        if type(key) is str:
            return key, None
        if key < self.npos:
            return self.pos[key], None
        return self.varargs, key - self.npos

    def check_call(self, nargs, kwargs):
        if nargs > self.npos and self.varargs is None:
            raise TracingNoRuleError(
                self.name, f" for {nargs} positional arguments (its rule takes "
                           f"{', '.join(self.pos)})")
        for k in kwargs:
            if k not in self.params:
                raise TracingNoRuleError(self.name, f" for its argument {k}=")

    def check_arguments(self, args, kwargs):
        """Raise, naming the user's line, for arguments the rules do not cover."""
        try:
            bound = self.prim.bind(args, kwargs)
        except TypeError:
            return                  # NumPy itself says what is wrong with the call
        problem = registry.unsupported_arguments(self.prim, bound)
        if problem:
            raise UnsupportedArgumentError(user_location(), self.name, *problem)

    def __repr__(self):
        return f"<spec {self.name}>"


def _still_registered(spec):
    return registry._PRIMITIVES.get(spec.key) is spec.prim


_FUNC_SPECS = {}      # numpy function or ufunc -> Spec


def function_spec(func):
    """The Spec of a callable the registry knows (``np.sin``, ``np.sum``), or ``None``."""
    spec = _FUNC_SPECS.get(func)
    if spec is not None and _still_registered(spec):
        return spec
    hit = registry.lookup(func)
    if hit is None:
        return None
    prim, ns = hit
    mod = getattr(func, "__module__", None) or getattr(ns, "__name__", "numpy")
    spec = Spec(prim, ns, f"{mod}.{getattr(func, '__name__', prim.name)}")
    try:
        _FUNC_SPECS[func] = spec
    except TypeError:  # unhashable callable
        pass
    return spec


def function_name(func):
    mod = getattr(func, "__module__", None) or "numpy"
    return f"{mod}.{getattr(func, '__name__', repr(func))}"


def operator_spec(op, symbol):
    prim = registry.operator_primitive(op)
    if prim is None:
        raise RuntimeError(f"the rule registry has no primitive for operator {op!r}")
    return Spec(prim, np, f"the {symbol} operator")


# ---------------------------------------------------------------------------
# Unboxing helpers
# ---------------------------------------------------------------------------


def strip(x):
    """``x`` with every box (of every level) replaced by its plain value, through containers."""
    while isinstance(x, Box):
        x = x._value
    t = type(x)
    if t is tuple or t is list:
        if any(_has_box(e) for e in x):
            return t(strip(e) for e in x)
        return x
    if t is dict:
        return {k: strip(v) for k, v in x.items()}
    if t is slice and (isinstance(x.start, Box) or isinstance(x.stop, Box)
                       or isinstance(x.step, Box)):
        return slice(strip(x.start), strip(x.stop), strip(x.step))
    return x


def _has_box(x):
    if isinstance(x, Box):
        return True
    t = type(x)
    if t is tuple or t is list:
        return any(_has_box(e) for e in x)
    if t is dict:
        return any(_has_box(e) for e in x.values())
    if t is slice:
        return _has_box(x.start) or _has_box(x.stop) or _has_box(x.step)
    return False


def _seq_top(seq):
    """The highest-level trace among the boxes in a (nested) list or tuple (the first
    finished one, if any is)."""
    top = None
    for a in seq:
        if isinstance(a, Box):
            t = a._trace
        elif type(a) in _SEQ:
            t = _seq_top(a)
            if t is None:
                continue
        else:
            continue
        if not t.active:
            return t
        if top is None or t.level > top.level:
            top = t
    return top


def _live(x):
    """``x`` with the boxes of finished traces replaced by their values, through lists and
    tuples.  A finished trace records nothing more: its boxes, left in the user's module
    state or a closure, are constants (which may hold a box of a trace still running)."""
    if isinstance(x, Box):
        while isinstance(x, Box) and not x._trace.active:
            x = x._value
        return x
    if type(x) in _SEQ:
        return type(x)(_live(e) for e in x)
    return x


def _snap(b):
    """A new box with ``b``'s current contents (``b`` itself may later be updated in place)."""
    s = object.__new__(type(b))
    s._value, s._trace, s._node = b._value, b._trace, b._node
    s._base = s._views = None
    return s


def _unbox_seq(seq, top, path, found, snap):
    """Copy of ``seq`` with ``top``'s boxes replaced by their values.

    Appends ``(path, box)`` for each such box to ``found``; returns
    ``(new_seq, nested)`` where ``nested`` says lower-level boxes remain.
    """
    out, nested = [], False
    for i, a in enumerate(seq):
        if isinstance(a, Box):
            if a._trace is top:
                v = a._value
                found.append((path + (i,), a))
                if isinstance(v, Box):
                    nested = True
                out.append(v)
            else:
                nested = True
                out.append(_snap(a) if snap else a)
        elif type(a) in _SEQ:
            v, n = _unbox_seq(a, top, path + (i,), found, snap)
            nested = nested or n
            out.append(v)
        else:
            out.append(a)
    return (tuple(out) if type(seq) is tuple else out), nested


def _tangent_seq(seq, top):
    """The tangent of a (nested) sequence argument: box tangents, zeros elsewhere."""
    out = []
    for a in seq:
        if isinstance(a, Box) and a._trace is top:
            out.append(a._node)
        elif type(a) in _SEQ:
            out.append(_tangent_seq(a, top))
        else:
            out.append(rt.zeros_like(strip(a)))
    return tuple(out) if type(seq) is tuple else out


def at_path(x, path):
    for i in path:
        x = x[i]
    return x


def _inexact(x):
    v = strip(x)
    if isinstance(v, (float, complex)):
        return True
    dt = getattr(v, "dtype", None)
    return dt is not None and dt.kind in "fc"


def _integral(ans):
    """``ans`` is an integer (or boolean) array or number."""
    dt = getattr(ans, "dtype", None)
    if dt is not None:
        return getattr(dt, "kind", "f") in "biu"
    return isinstance(ans, int)


def tree_add(a, b):
    if a is None:
        return b
    if type(a) in _SEQ:
        return type(a)(tree_add(u, v) for u, v in zip(a, b))
    return a + b


# ---------------------------------------------------------------------------
# Applying a primitive
# ---------------------------------------------------------------------------

_traced_rule = None   # set by nested.py: rule function -> version safe for boxed values
_TRACING_XP = None    # set by nested.py: the numpy namespace rules get when values are boxed


_NO_INDEX = object()   # a view made otherwise than by indexing (y.T, y.reshape(...))


def apply(spec, fn, args, kwargs):
    """Call primitive ``fn`` (described by ``spec``) on ``args``, tracing it if any is boxed."""
    top = None
    for a in (*args, *kwargs.values()) if kwargs else args:
        if isinstance(a, Box):
            t = a._trace
        elif type(a) in _SEQ and a:
            t = _seq_top(a)
            if t is None:
                continue
        else:
            continue
        if not t.active:            # a box of a finished trace: a constant
            return apply(spec, fn, tuple(_live(a) for a in args),
                         {k: _live(v) for k, v in kwargs.items()} if kwargs else kwargs)
        if top is None or t.level > top.level:
            top = t
    if top is None:
        return fn(*args, **kwargs)
    if spec.nondiff:
        return fn(*[strip(a) for a in args], **{k: strip(v) for k, v in kwargs.items()})
    out = _record(spec, fn, top, args, kwargs)
    if spec.prim.view:
        _link_views(spec, fn, args, kwargs, out)
    return out


def _link_views(spec, fn, args, kwargs, out):
    """Each array of ``out`` (one, or the pieces of np.split, np.unstack, np.meshgrid) that
    shares memory with a traced argument is a view of it: a write into that argument is seen
    in it (``_refresh_views``), a write into it changes the argument (by index for y[i],
    refused for the others)."""
    if isinstance(out, ArrayBox):
        outs = ((None, out),)
    elif type(out) in _SEQ:
        outs = [(k, o) for k, o in enumerate(out) if isinstance(o, ArrayBox)]
    else:
        return
    for k, o in outs:
        for j, a in enumerate(args):
            if isinstance(a, ArrayBox) and np.may_share_memory(strip(o), strip(a)):
                index = strip(args[1]) if spec.prim.name == "getitem" and j == 0 \
                    and k is None else _NO_INDEX
                o._base = (a, index)
                if getattr(a, "_views", None) is None:
                    a._views = []
                a._views.append((o, (spec, fn, args, kwargs, k)))
                break


def _refresh_views(box):
    """After a write into ``box``'s array: its views (``t = y.T``, ``t = y[1:]``) see the new
    values, as NumPy's would, each made again from the new value (and so their views)."""
    views = box._views
    for view, how in list(views):
        spec, fn, args, kwargs, k = how
        if view._base is None or view._base[0] is not box:
            continue
        linked = [(a, len(a._views or ())) for a in args if isinstance(a, ArrayBox)]
        fresh = apply(spec, fn, args, kwargs)     # (``box`` in ``args`` holds the new value)
        for a, n in linked:
            if a._views:
                del a._views[n:]    # (made to refresh ``view``: no views of their own)
        if k is not None:
            fresh = fresh[k]
        if isinstance(fresh, Box):
            view._value, view._trace, view._node = fresh._value, fresh._trace, fresh._node
            if getattr(view, "_views", None):
                _refresh_views(view)


def _positional(prim, args, kwargs):
    """``(args, kwargs)`` with the keywords a rule names differently (``prim.aliases``) passed
    by position, so that both the function and its rules accept them."""
    bound = prim.bind(args, kwargs)
    back = {v: k for k, v in prim.aliases.items()}
    args, kwargs, gap = [], {}, False
    for name, p in prim.signature.parameters.items():
        if name not in bound:
            gap = True
        elif p.kind is p.VAR_POSITIONAL:
            args.extend(bound[name])
        elif p.kind is p.POSITIONAL_OR_KEYWORD and not gap:
            args.append(bound[name])
        else:
            kwargs[back.get(name, name)] = bound[name]
    return tuple(args), kwargs


def _kept(a, v):
    """What the tape keeps of argument ``a`` (``v`` its values, boxes unboxed): a copy of a
    plain writeable array, in a list or tuple too (the user's code may change it in place
    after the call), else ``v`` itself."""
    t = type(a)
    if t is np.ndarray:
        return a.copy() if a.flags.writeable and a.size else v
    if t in _SEQ and type(v) in _SEQ and len(v) == len(a):
        kept = [_kept(e, u) for e, u in zip(a, v)]
        if any(k is not u for k, u in zip(kept, v)):
            return type(v)(kept) if type(v) is not list else kept
    return v


def _record(spec, fn, top, args, kwargs):
    if kwargs and spec.prim.aliases and any(k in spec.prim.aliases for k in kwargs):
        args, kwargs = _positional(spec.prim, args, kwargs)
    reverse = top.mode == REVERSE
    nested = False
    vals = list(args)
    found = []                      # (key, box or None, paths or None)
    plain = False                   # a plain array among the arguments (``_kept``)
    for i, a in enumerate(args):
        if type(a) is np.ndarray:
            plain = True
        elif isinstance(a, Box):
            if a._trace is top:
                v = a._value
                vals[i] = v
                found.append((i, a, None))
                if isinstance(v, Box):
                    nested = True
            else:
                nested = True
                if reverse:
                    vals[i] = _snap(a)
        elif type(a) in _SEQ and a:
            plain = True
            paths = []
            v, n = _unbox_seq(a, top, (), paths, reverse)
            vals[i] = v
            nested = nested or n
            if paths:
                found.append((i, None, paths))
    kwvals = kwargs
    if kwargs:
        spec.check_call(len(args), kwargs)
        kwvals = {}
        for k, a in kwargs.items():
            if isinstance(a, Box):
                if a._trace is top:
                    kwvals[k] = v = a._value
                    found.append((k, a, None))
                    if isinstance(v, Box):
                        nested = True
                else:
                    nested = True
                    kwvals[k] = _snap(a) if reverse else a
            elif type(a) in _SEQ and a:
                paths = []
                v, n = _unbox_seq(a, top, (), paths, reverse)
                kwvals[k] = v
                nested = nested or n
                if paths:
                    found.append((k, None, paths))
            else:
                kwvals[k] = a
    elif len(args) > spec.npos and spec.varargs is None:
        spec.check_call(len(args), kwargs)

    rules = spec.vjp if reverse else spec.jvp
    slots = []
    for key, box, paths in found:
        param, argnum = spec.param_of(key)
        rule = rules.get(param)
        if rule is None:
            if spec.strict and (_inexact(box) if box is not None
                                else any(_inexact(b) for _, b in paths)):
                raise TracingNoRuleError(spec.name, f" for its argument {param}")
            continue
        slots.append((rule.fn, argnum, box, paths, key))

    if slots and (spec.checked or kwvals.get("out") is not None or spec.out_at is not None
                  and len(vals) > spec.out_at and vals[spec.out_at] is not None):
        spec.check_arguments(vals, kwvals)
    ans = apply(spec, fn, vals, kwvals) if nested else fn(*vals, **kwvals)
    t = type(ans)
    if t is np.ndarray:
        integral = ans.dtype.kind in "biu"
    elif t is np.float64 or t is float or t is np.complex128 or t is complex:
        integral = False
    else:
        if isinstance(ans, np.ndarray) and _own_semantics(t):
            _refuse_subclass(spec, ans)     # x * M of an np.matrix M: not elementwise
        integral = _integral(ans)
    if not slots:                   # only shape-giving arguments were boxed
        return ans
    if integral and any(
            _inexact(box) if box is not None else any(_inexact(b) for _, b in paths)
            for _, _, box, paths, _ in slots):
        return ans      # x.sum(dtype=int): floats made integers, piecewise constant

    if reverse:
        # a plain array given with traced values (a constant) is kept as it is now: the user's
        # code may write into it before the backward sweep reads it (``c[0] = 10.0`` after
        # ``y = x * c``); the values of boxes are never written into
        if plain:
            vals = [_kept(a, v) for a, v in zip(args, vals)]
        if kwvals:
            kwvals = {k: _kept(kwargs[k], v) for k, v in kwvals.items()}
        rslots = []
        for rfn, argnum, box, paths, key in slots:
            if paths is None:
                rslots.append((rfn, argnum, box._node, None))
            else:
                rslots.append((rfn, argnum, -1, [(p, b._node) for p, b in paths]))
        tape = top.tape
        tape.append((spec, vals, kwvals, ans, rslots, nested))
        return _box_output(ans, top, len(tape) - 1)

    tan = None
    for rfn, argnum, box, paths, key in slots:
        t = box._node if paths is None else _tangent_seq(args[key] if type(key) is int
                                                          else kwargs[key], top)
        if nested or isinstance(t, Box) or (type(t) in _SEQ and _has_box(t)):
            rfn, xp = _traced_rule(rfn), _TRACING_XP
        else:
            xp = spec.xp
        if argnum is None:
            c = rfn(xp, t, ans, *vals, **kwvals)
        else:
            c = rfn(xp, t, ans, *vals, argnum=argnum, **kwvals)
        tan = c if tan is None else tree_add(tan, c)
    return _box_output(ans, top, tan)


class _Projection:
    """Marks tape entries that pick element ``k`` of a multi-output node."""

    name = "element of a multi-output primitive"


PROJECTION = _Projection()


def _box_output(ans, trace, node):
    t = type(ans)
    if t is np.ndarray:
        return (ArrayBox if ans.ndim else ScalarBox)(ans, trace, node)
    if t is float or t is np.float64 or t is complex or t is np.complex128:
        return ScalarBox(ans, trace, node)
    if isinstance(ans, Box):
        return type(ans)(ans, trace, node)
    if isinstance(ans, tuple) or t is list:
        return _box_elements(ans, trace, node)
    if isinstance(ans, dict):
        raise TracingNoRuleError("a primitive returning a dict")
    return ScalarBox(ans, trace, node)


def _boxable(v):
    return isinstance(v, (Box, np.ndarray, np.number, float, complex)) or (
        isinstance(v, int) and not isinstance(v, bool))


def _box_elements(ans, trace, node):
    """Box each element of a multi-output primitive's result (a list or tuple)."""
    out = []
    if trace.mode == REVERSE:
        tape = trace.tape
        n = len(ans)
        for k, v in enumerate(ans):
            if _boxable(v):
                tape.append((PROJECTION, k, n, v, node, False))
                out.append(_box_output(v, trace, len(tape) - 1))
            elif (type(v) is list or type(v) is tuple) and v:
                # a list inside the output (the tangents of a list, one per direction):
                # its items get their derivatives too, never a silently dropped one
                tape.append((PROJECTION, k, n, v, node, False))
                out.append(_box_elements(v, trace, len(tape) - 1))
            else:
                out.append(v)
    else:
        for v, t in zip(ans, node):
            if _boxable(v):
                out.append(_box_output(v, trace, t))
            elif (type(v) is list or type(v) is tuple) and v and type(t) in _SEQ:
                out.append(_box_elements(v, trace, t))
            else:
                out.append(v)
    if type(ans) is list:
        return out
    if hasattr(type(ans), "_fields"):
        return type(ans)(*out)
    return type(ans)(out)


# ---------------------------------------------------------------------------
# Boxes
# ---------------------------------------------------------------------------


def _binary(spec_name, fn):
    def forward(self, other):
        return apply(_OPS[spec_name], fn, (self, other), _EMPTY)

    def reflected(self, other):
        return apply(_OPS[spec_name], fn, (other, self), _EMPTY)
    return forward, reflected


def _unary(spec_name, fn):
    def method(self):
        return apply(_OPS[spec_name], fn, (self,), _EMPTY)
    return method


def _compare(op):
    def method(self, other):
        return op(strip(self), strip(other))
    return method


_METHOD_ENTRIES = {}


def _method_entry(name):
    """``(kind, spec, packs, fn)`` for a method or attribute name of the registry's table."""
    entry = _METHOD_ENTRIES.get(name)
    if entry is not None:
        return entry
    hit = registry.method_primitive(name)
    if hit is None:
        entry = ("missing", None, False, None)
    else:
        prim, packs = hit
        if prim.nondiff or prim.signature is None:
            entry = ("nondiff", None, packs, None)
        elif prim.family == "attribute":
            entry = ("attribute", Spec(prim, np, f"the array attribute .{name}"), False,
                     operator.attrgetter(name))
        else:
            fn = registry._resolve_path(np, prim.name) if prim.family == "array" else None
            if fn is not None and type(getattr(np.ndarray, name, None)).__name__ \
                    == "getset_descriptor":
                # x.real, x.imag: attributes of arrays, np.real(x) / np.imag(x) as functions
                entry = ("attribute", Spec(prim, np, f"the array attribute .{name}"), False, fn)
                _METHOD_ENTRIES[name] = entry
                return entry
            if name != prim.name and getattr(np, name, None) is None:
                fn = None       # x.flatten(): the method itself (a copy), not np.ravel (a view)
            if fn is None:
                def fn(a, *args, _name=name, **kwargs):
                    return getattr(a, _name)(*args, **kwargs)
            entry = ("method", Spec(prim, np, f"the array method .{name}()"), packs, fn)
    _METHOD_ENTRIES[name] = entry
    return entry


# How ``box[index] = value`` is traced: ``fallback.inplace.setitem`` (a write built from
# registered primitives), which registers itself here when it is imported (it needs this
# module, so this module cannot import it).
WRITE_ITEM = [None]


class Box:
    """A value seen by a trace.  ``_node`` is a tape index (reverse) or the tangent (forward)."""

    __slots__ = ("_value", "_trace", "_node", "_base", "_views")
    __array_priority__ = 1000.0

    def __init__(self, value, trace, node):
        self._value = value
        self._trace = trace
        self._node = node
        self._base = None   # (box, index) whose array this one is a view of: y[1:] or y.T
        self._views = None  # [(view box, how it was made)]: what a write into this one changes

    def __repr__(self):
        return f"Box({self._value!r}, trace={self._trace.level})"

    __str__ = __repr__

    def __hash__(self):
        return id(self)

    def __copy__(self):
        return self.copy() if isinstance(strip(self), np.ndarray) else self

    def __deepcopy__(self, memo):
        return self.__copy__()

    # --- numpy dispatch (NEP 13 and NEP 18) ---------------------------------

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        spec = function_spec(ufunc) if method == "__call__" else None
        if spec is None:
            if _constants_only((inputs, kwargs)):
                return _on_constants(f"numpy.{ufunc.__name__}.{method}",
                                     getattr(ufunc, method), inputs, kwargs)
            if method != "__call__":
                raise TracingNoRuleError(f"numpy.{ufunc.__name__}.{method}")
            raise TracingNoRuleError(f"numpy.{ufunc.__name__}")
        fn = ufunc
        out = None
        if kwargs:
            out = kwargs.pop("out", None)
            if kwargs.get("where", True) is not True:
                raise TracingNoRuleError(f"numpy.{ufunc.__name__}", " with where=")
            kwargs.pop("where", None)
            if kwargs:                       # dtype=, casting=, ...: for the primal only
                fn = functools.partial(ufunc, **kwargs)
        result = apply(spec, fn, inputs, _EMPTY)
        if out is None or all(o is None for o in out):
            return result
        if len(out) == 1 and isinstance(out[0], ArrayBox):
            return _write_out(out[0], result)
        raise _conversion_error(
            self, f"was written into a plain NumPy array by numpy.{ufunc.__name__} (an in-place "
                  f"operation such as z += x, or out=)", _WRITE_ADVICE)

    def __array_function__(self, func, types, args, kwargs):
        if any(isinstance(a, _SEQ) and type(a) not in _SEQ for a in args):
            args = tuple(_plain_seq(a) for a in args)   # np.stack(a namedtuple of boxes)
        spec = function_spec(func)
        if spec is None:
            composite = _COMPOSITES.get(getattr(func, "__name__", None))
            if composite is not None and composite[0] is func:
                return composite[1](*args, **kwargs)
            if _constants_only((args, kwargs)):   # np.histogram(np.array([...])): no derivative
                return _on_constants(function_name(func), func, args, kwargs)
            raise TracingNoRuleError(function_name(func))
        if func is np.put_along_axis:
            return _put_along_axis(self, spec, args, kwargs)
        target = kwargs.get("out") if kwargs else None
        if type(target) is tuple and len(target) == 1:
            target = target[0]
        if isinstance(target, ArrayBox):    # np.sum(x, axis=0, out=buf): buf is traced
            kwargs = {k: v for k, v in kwargs.items() if k != "out"}
            return _write_out(target, apply(spec, func, args, kwargs))
        out = apply(spec, func, args, kwargs)
        if func in _LIKE_CREATORS[0]:       # np.zeros_like(x): an array to write into
            out = promote(out)
        return out

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype).kind in "biu":
            # np.asarray(x, dtype=int): piecewise constant, its derivative is rightly zero
            return np.asarray(strip(self), dtype=dtype)
        if self._trace.active:
            raise _conversion_error(
                self, "was converted to a plain NumPy array (by np.array/np.asarray, a NumPy "
                      "function given a list of traced values, or a write into a plain array)",
                "NumPy does not hand these calls to s2sgrad: drop np.asarray/np.array on values "
                "that are already arrays and build arrays from traced pieces with np.stack or "
                "np.concatenate. " + _WRITE_ADVICE)
        return np.asarray(self._value, dtype=dtype)     # (a box it holds says if it may)

    # --- conversions --------------------------------------------------------

    def __float__(self):
        if self._trace.active:
            raise _conversion_error(
                self, "was converted to a plain Python float (by float(), a math-module "
                      "function such as math.sin, or a write into a plain NumPy array)",
                "Drop float() on a value that is already a number (x[0], x.item() and "
                "x.tolist() keep the derivative), and use the NumPy function instead of the "
                "math module's (np.sin(x), not math.sin(x)). " + _WRITE_ADVICE)
        return float(self._value)

    def __complex__(self):
        if self._trace.active:
            raise _conversion_error(
                self, "was converted to a plain Python complex (by complex() or a cmath "
                      "function)", "Use the NumPy function instead (np.exp(z), not cmath.exp(z)).")
        return complex(self._value)

    def __int__(self):
        return int(strip(self))

    def __index__(self):
        return operator.index(strip(self))

    def __bool__(self):
        return bool(strip(self))

    def __round__(self, ndigits=None):
        return round(strip(self), ndigits)

    def __floor__(self):
        return math.floor(strip(self))

    def __ceil__(self):
        return math.ceil(strip(self))

    def __trunc__(self):
        return math.trunc(strip(self))

    def __format__(self, fmt):
        return format(strip(self), fmt)

    # --- comparisons: plain, untraced results ---------------------------------

    __eq__ = _compare(operator.eq)
    __ne__ = _compare(operator.ne)
    __lt__ = _compare(operator.lt)
    __le__ = _compare(operator.le)
    __gt__ = _compare(operator.gt)
    __ge__ = _compare(operator.ge)

    # --- arithmetic -----------------------------------------------------------

    __add__, __radd__ = _binary("add", operator.add)
    __sub__, __rsub__ = _binary("sub", operator.sub)
    __mul__, __rmul__ = _binary("mult", operator.mul)
    __truediv__, __rtruediv__ = _binary("div", operator.truediv)
    __matmul__, __rmatmul__ = _binary("matmult", operator.matmul)
    __mod__, __rmod__ = _binary("mod", operator.mod)
    __floordiv__, __rfloordiv__ = _binary("floordiv", operator.floordiv)
    __neg__ = _unary("usub", operator.neg)
    __pos__ = _unary("uadd", operator.pos)
    __abs__ = _unary("abs", abs)

    def __pow__(self, other, mod=None):
        if mod is not None:
            return pow(strip(self), strip(other), strip(mod))
        return apply(_OPS["pow"], operator.pow, (self, other), _EMPTY)

    def __rpow__(self, other):
        return apply(_OPS["pow"], operator.pow, (other, self), _EMPTY)

    def __divmod__(self, other):
        return self // other, self % other

    def __rdivmod__(self, other):
        return other // self, other % self

    # --- array attributes -----------------------------------------------------

    @property
    def shape(self):
        return np.shape(strip(self))

    @property
    def ndim(self):
        return np.ndim(strip(self))

    @property
    def size(self):
        return np.size(strip(self))

    @property
    def dtype(self):
        v = strip(self)
        return v.dtype if hasattr(v, "dtype") else np.result_type(v)

    @property
    def T(self):
        return self.__getattr__("T")

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        kind, spec, packs, fn = _method_entry(name)
        if kind == "attribute":
            return apply(spec, fn, (self,), _EMPTY)
        if kind == "method":
            def method(*args, **kwargs):
                if packs and len(args) > 1:
                    args = (args,)
                return apply(spec, fn, (self,) + args, kwargs)
            method.__name__ = name
            return method
        value = getattr(strip(self), name)   # AttributeError if the value has none
        if kind == "nondiff":
            return value
        if name == "flat" and isinstance(value, np.flatiter):
            return _Flat(self)
        if callable(value) or not isinstance(value, _METADATA):
            # x.data, x.ctypes, x.base: the plain values, their derivative dropped
            raise TracingNoRuleError(f"the array {'method' if callable(value) else 'attribute'}"
                                     f" .{name}")
        return value


# What an array attribute without a rule may give back untraced: values that hold none of
# the array's numbers (x.flags, x.device, x.base of an array that owns its data).
_METADATA = (type(None), bool, int, str, tuple, np.dtype, type(np.empty(0).flags))


class _Flat:
    """``x.flat`` of a traced array: reads (copies, as NumPy's) and writes by flat index,
    traced through ``x.reshape(-1)[index]`` and ``x[np.unravel_index(...)] = v``."""

    __slots__ = ("_box",)

    def __init__(self, box):
        self._box = box

    def __len__(self):
        return int(np.size(strip(self._box)))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        out = self._box.reshape(-1)[strip(index)]
        return out.copy() if isinstance(out, ArrayBox) else out

    def __setitem__(self, index, value):
        shape = np.shape(strip(self._box))
        positions = np.arange(int(np.prod(shape)))[strip(index)]
        self._box[np.unravel_index(positions, shape)] = value


class ScalarBox(Box):
    """A box around a scalar (Python or NumPy number, or a 0-d array)."""

    __slots__ = ()


class ArrayBox(Box):
    """A box around an array of one or more dimensions."""

    __slots__ = ()

    def __len__(self):
        return len(strip(self))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __getitem__(self, index):
        return apply(_OPS["getitem"], operator.getitem, (self, strip(index)), _EMPTY)

    def __setitem__(self, index, value):
        self._assign(WRITE_ITEM[0](self, strip(index), value))

    def _assign(self, new):
        """Make this box hold ``new`` (in-place semantics of arrays)."""
        if not isinstance(new, Box):
            if self._trace.active:
                raise TypeError("internal error: in-place update lost its trace")
            new = constant(np.asarray(new), self._trace)   # a box of a finished trace
        if self._base is not None:
            base, index = self._base
            if index is _NO_INDEX:
                raise _conversion_error(
                    self, "was written through a view of another array (y.T[0] = ..., "
                    "y.reshape(-1)[0] = ...), which would change that array unseen",
                    "Write into the array itself (y[:, 0] = ..., y.flat[0] = ...).")
            base[index] = new    # v = y[1:]; v *= 2 changes y[1:] as NumPy would
        if np.shape(strip(new)) != np.shape(strip(self)):
            raise ValueError(f"non-broadcastable output operand with shape {self.shape} doesn't "
                             f"match the broadcast shape {new.shape}")
        self._value, self._trace, self._node = new._value, new._trace, new._node
        if getattr(self, "_views", None):
            _refresh_views(self)

    def _inplace(op):
        def method(self, other):
            self._assign(op(self, other))
            return self
        return method

    __iadd__ = _inplace(operator.add)
    __isub__ = _inplace(operator.sub)
    __imul__ = _inplace(operator.mul)
    __itruediv__ = _inplace(operator.truediv)
    __ipow__ = _inplace(operator.pow)
    __imatmul__ = _inplace(operator.matmul)
    del _inplace


class _Ops(dict):
    """Operator specs, built on first use (the registry loads its rules lazily)."""

    _SYMBOLS = {"add": ("add", "+"), "sub": ("sub", "-"), "mult": ("mult", "*"),
                "div": ("div", "/"), "matmult": ("matmult", "@"), "mod": ("mod", "%"),
                "floordiv": ("floordiv", "//"), "usub": ("usub", "unary -"),
                "uadd": ("uadd", "unary +"), "pow": ("pow", "**"),
                "getitem": ("getitem", "[] (indexing)")}

    def __missing__(self, key):
        if key == "abs":
            prim = registry.by_name("abs", family="builtins")
            spec = Spec(prim, np, "abs()")
        else:
            op, symbol = self._SYMBOLS[key]
            spec = operator_spec(op, symbol)
        self[key] = spec
        return spec


_OPS = _Ops()
