"""Running the registry's rules on boxed values (higher-order derivatives).

When traces nest, the values a rule receives (cotangent, primal arguments) can
themselves be boxes of an outer trace, and the rule's own computations must be
traced by that outer trace.  NumPy calls in a rule dispatch to the boxes by
themselves, but two things do not:

- the ``s2sgrad.runtime`` helpers a rule calls (``unbroadcast``, ``scatter``,
  ...): their bodies use in-place writes, ``float()`` and ``np.asarray``.  Each
  has its own rule in the registry, so a boxed call must be applied as that
  primitive;
- ``xp.asarray`` / ``xp.array`` on a box (NumPy does not dispatch them).

``traced(fn)`` returns a copy of a rule function whose globals (and closure
cells) see wrapped helpers: a wrapper applies the helper's primitive when an
argument is boxed and calls the helper directly otherwise.  Functions of
s2sgrad's rule modules that a rule calls are copied the same way, and rules
get ``TRACING_NUMPY`` as ``xp``, whose ``asarray``/``array`` apply the
registry's ``asarray``/``array`` primitives.  Nothing is patched in place: the
code generator and direct callers keep seeing the original functions.
"""

import builtins
import types

import numpy as np

import s2sgrad.runtime as rt
from ..rules import registry
from . import inplace  # noqa: F401  (registers how box[i] = v is traced)
from . import tracer
from .tracer import Spec, _EMPTY, _has_box, apply

_clones = {}           # function -> copy for boxed values
_patched = {}          # id(globals dict) -> (globals dict, patched copy)
_wrappers = {}         # helper -> wrapper


def _own_function(fn):
    """s2sgrad's own functions and generated code: copied so that what they call is traced."""
    mod = getattr(fn, "__module__", None) or ""
    return (isinstance(fn, types.FunctionType)
            and (mod.startswith("s2sgrad.") or mod.startswith("s2sgrad_generated."))
            and not mod.startswith("s2sgrad.fallback"))


_CONTAINER_OPS = {"add_at", "add"}
# made to be written into (``d_y = _rt.zeros_like(y); d_y[i] += ...``): for an array box, or
# a container holding boxes, the helper's own body, whose ``np.zeros_like`` of an array box
# the tracer makes an array it can write into (as a primitive it would give a plain array,
# and the write would refuse the boxed values); a scalar's zero stays a plain number
_WRITE_TARGETS = {"zeros_like"}


def _wrapper(fn, prim):
    w = _wrappers.get(fn)
    if w is None:
        spec = Spec(prim, np, f"s2sgrad.runtime.{prim.name}"
                    if prim.family == "s2sgrad.runtime" else f"{prim.family}.{prim.name}")

        container_op = prim.family == "s2sgrad.runtime" and prim.name in _CONTAINER_OPS
        write_target = prim.family == "s2sgrad.runtime" and prim.name in _WRITE_TARGETS

        def w(*args, **kwargs):
            if write_target and args and (isinstance(args[0], tracer.ArrayBox) or isinstance(
                    args[0], (list, tuple, dict)) and _has_box(args[0])):
                return traced(fn)(*args, **kwargs)
            if container_op and any(isinstance(a, (list, dict)) for a in args[:1] + args[2:]):
                # adjoints kept in a list or dict: plain Python on their items, each traced
                # (as a primitive, its in-place write would drop the items' derivatives)
                return traced(fn)(*args, **kwargs)
            return apply(spec, fn, args, kwargs)
        w.__name__ = getattr(fn, "__name__", "helper")
        w.__wrapped__ = fn
        _wrappers[fn] = w
    return w


def _float_wrapper():
    prim = registry.by_name("float", "builtins")
    spec = Spec(prim, np, "float()")

    class _FloatType(type):
        # still the type float for isinstance/issubclass in the copied helpers
        # (``isinstance(x, (float, int))``), while calling it traces the conversion
        def __instancecheck__(cls, obj):
            return isinstance(obj, float)

        def __subclasscheck__(cls, sub):
            return issubclass(sub, float)

    class traced_float(metaclass=_FloatType):
        def __new__(cls, x=0.0):
            return apply(spec, float, (x,), _EMPTY)
    return traced_float


class _RuntimeProxy:
    """``s2sgrad.runtime`` as a rule module that refers to it by name sees it."""

    def __getattr__(self, name):
        value = _replacement(getattr(rt, name))
        setattr(self, name, value)
        return value


def _replacement(v):
    if v is rt:
        return _RUNTIME_PROXY
    if v is np:
        return TRACING_NUMPY        # (generated code's np.array of a list of traced values)
    if v is builtins.float:
        return _FLOAT
    if getattr(v, "_s2sgrad_handles_boxes", False):
        return v        # custom functions, stop_gradient: they dispatch boxed values themselves
    if callable(v) and not isinstance(v, type):
        try:
            hit = registry.lookup(v)
        except TypeError:
            hit = None
        if hit is not None and hit[0].family not in ("array", "builtins", "math", "cmath"):
            return _wrapper(v, hit[0])
        if _own_function(v):
            return traced(v)
    return v


def _patched_globals(g):
    hit = _patched.get(id(g))
    if hit is not None and hit[0] is g:
        return hit[1]
    new = dict(g)
    _patched[id(g)] = (g, new)
    new["float"] = _FLOAT
    for k, v in g.items():
        if not k.startswith("__"):
            new[k] = _replacement(v)
    return new


def traced(fn):
    """A copy of rule (or helper) function ``fn`` that is safe to call on boxed values."""
    c = _clones.get(fn)
    if c is not None:
        return c
    if not isinstance(fn, types.FunctionType):
        return fn
    g = _patched_globals(fn.__globals__)
    c = _clones.get(fn)              # patching the globals may have copied fn already
    if c is not None:
        return c
    closure = None
    if fn.__closure__:
        cells = []
        for cell in fn.__closure__:
            try:
                v = cell.cell_contents
            except ValueError:       # an empty cell
                cells.append(cell)
                continue
            r = _replacement(v)
            cells.append(cell if r is v else types.CellType(r))
        closure = tuple(cells)
    c = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, closure)
    c.__kwdefaults__ = fn.__kwdefaults__
    c.__qualname__ = fn.__qualname__
    c.__dict__.update(fn.__dict__)
    _clones[fn] = c
    return c


class _TracingNumpy(types.ModuleType):
    """NumPy as ``xp`` for rules running on boxed values: ``asarray``/``array`` are traced."""

    def __init__(self):
        super().__init__("numpy", "NumPy, with asarray/array that keep s2sgrad's boxes")

    def __getattr__(self, name):
        value = getattr(np, name)
        setattr(self, name, value)
        return value

    def asarray(self, a, dtype=None, **kwargs):
        if not _has_box(a):
            return np.asarray(a, dtype=dtype, **kwargs)
        if kwargs:
            raise tracer.TracingNoRuleError("numpy.asarray", f" with {', '.join(kwargs)}=")
        return apply(_array_spec("asarray"), np.asarray, (a,),
                     {"dtype": dtype} if dtype is not None else _EMPTY)

    def array(self, a, dtype=None, **kwargs):
        if not _has_box(a):
            return np.array(a, dtype=dtype, **kwargs)
        if kwargs:
            raise tracer.TracingNoRuleError("numpy.array", f" with {', '.join(kwargs)}=")
        return apply(_array_spec("array"), np.array, (a,),
                     {"dtype": dtype} if dtype is not None else _EMPTY)


_ARRAY_SPECS = {}


def _array_spec(name):
    spec = _ARRAY_SPECS.get(name)
    if spec is None:
        spec = _ARRAY_SPECS[name] = Spec(registry.by_name(name), np, f"numpy.{name}")
    return spec


_RUNTIME_PROXY = _RuntimeProxy()
_FLOAT = _float_wrapper()
TRACING_NUMPY = _TracingNumpy()

tracer._traced_rule = traced
tracer._TRACING_XP = TRACING_NUMPY


# ---------------------------------------------------------------------------
# The rules first: a traced user function calls SciPy's primitives by their rules
# ---------------------------------------------------------------------------

_RULE_VIEWS = {}       # id(module or object) -> (it, its proxy)
_RULE_WRAPPERS = {}    # id(callable) -> (it, wrapper)


def _scipy_object(v):
    root = (getattr(type(v), "__module__", None) or "").split(".")[0]
    return root == "scipy" and not isinstance(v, (type, types.FunctionType,
                                                  types.BuiltinFunctionType, np.ufunc))


def _rule_view(v):
    """``v`` as a traced function sees it: a SciPy function with rules as a wrapper that
    applies them to boxed values (NumPy hands its own calls to the boxes; SciPy's Python
    does not), a SciPy module or object as a proxy that does the same for its attributes."""
    if isinstance(v, types.ModuleType):
        if v is np:
            return v    # NumPy: fallback.user.for_trace gives the traced function its own
        if (v.__name__ or "").split(".")[0] != "scipy":
            return v
        return _proxy(v)
    if isinstance(v, (type, np.ufunc)) or not callable(v) and not _scipy_object(v):
        return v
    if callable(v):
        try:
            hit = registry.lookup(v)
        except TypeError:
            hit = None
        if hit is not None and hit[0].family.startswith("scipy") and not hit[0].nondiff \
                and hit[0].signature is not None:
            return _rule_wrapper(v, hit)
    if _scipy_object(v) and not isinstance(v, types.MethodType):
        return _proxy(v)
    return v


def _rule_wrapper(fn, hit):
    key = (id(fn.__self__), fn.__func__) if isinstance(fn, types.MethodType) else id(fn)
    got = _RULE_WRAPPERS.get(key)
    if got is not None and (got[0] is fn or isinstance(fn, types.MethodType)):
        return got[1]
    prim, namespace = hit
    spec = Spec(prim, namespace or np, prim.qualname)

    def by_rule(*args, **kwargs):
        return apply(spec, fn, args, kwargs)
    by_rule.__name__ = getattr(fn, "__name__", "primitive")
    by_rule.__wrapped__ = fn
    _RULE_WRAPPERS[key] = (fn, by_rule)
    return by_rule


class _RuleProxy:
    """A SciPy module or object whose attributes are seen through ``_rule_view``."""

    def __init__(self, target):
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name):
        return _rule_view(getattr(self._target, name))

    def __call__(self, *args, **kwargs):
        return self._target(*args, **kwargs)

    def __repr__(self):
        return repr(self._target)


def _proxy(v):
    got = _RULE_VIEWS.get(id(v))
    if got is not None and got[0] is v:
        return got[1]
    p = _RuleProxy(v)
    _RULE_VIEWS[id(v)] = (v, p)
    return p


def with_rules(fn):
    """``fn`` (a user's function about to be traced) with the SciPy functions it names
    through its globals and closure seen through ``_rule_view``: a function that has a rule
    is never traced through its own Python source.  ``fn`` itself when it names none."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        inner = with_rules(fn.__func__)
        return fn if inner is fn.__func__ else types.MethodType(inner, fn.__self__)
    if not isinstance(fn, types.FunctionType) or _own_function(fn) \
            or (getattr(fn, "__module__", None) or "").split(".")[0] in ("numpy", "scipy"):
        return fn
    g = fn.__globals__
    names = [k for k in fn.__code__.co_names if k in g]
    changed = {}
    for k in names:
        r = _rule_view(g[k])
        if r is not g[k]:
            changed[k] = r
    closure = fn.__closure__
    if closure:
        cells = []
        for cell in closure:
            try:
                v = cell.cell_contents
            except ValueError:
                cells.append(cell)
                continue
            r = _rule_view(v)
            cells.append(cell if r is v else types.CellType(r))
        if any(c is not o for c, o in zip(cells, closure)):
            closure = tuple(cells)
    if not changed and closure is fn.__closure__:
        return fn
    new_globals = g
    if changed:
        new_globals = dict(g)
        new_globals.update(changed)
    c = types.FunctionType(fn.__code__, new_globals, fn.__name__, fn.__defaults__, closure)
    c.__kwdefaults__ = fn.__kwdefaults__
    c.__qualname__ = fn.__qualname__
    c.__dict__.update(fn.__dict__)
    return c
