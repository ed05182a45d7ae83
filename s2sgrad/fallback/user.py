"""The user's code under a trace: NumPy's array constructors made traceable.

NumPy does not hand ``np.zeros(3)``, ``np.empty``, ``np.ones``, ``np.full``,
``np.eye`` nor ``np.array([a, b])`` / ``np.asarray`` to s2sgrad's boxes (they
take no array argument to dispatch on), so a traced value written into such an
array (``y = np.zeros(3); y[0] = x[0] ** 2``) or a list of traced values made
into one could only be refused.  The source transformation supports both; so
does the tracer, this way:

``for_trace(fn)`` is a copy of the user's function ``fn`` whose global names
are looked up through ``_Globals``, a mapping that reads the module's own
globals (so a global rebound while it runs is seen) and gives, in place of
NumPy, ``TRACING_USER_NUMPY``: NumPy whose array constructors return *promoted*
arrays, boxes of the running trace with no derivative (``constant``), which
traced values can then be written into, and whose ``array``/``asarray`` of
traced values apply the registry's ``array`` primitive.  The functions of the
user's modules it calls by name are copied the same way.  Nothing is patched in
place, and functions that assign globals (``global``) are run as they are.

Arrays made where this cannot reach (a method of a class, another library) stay
plain; ``np.zeros_like(x)`` of a traced ``x`` is promoted wherever it is made
(``tracer.Box.__array_function__``).
"""

import dis
import functools
import types
import weakref

import numpy as np

from .tracer import ArrayBox, _has_box, constant, promote, strip

__all__ = ["for_trace", "constant", "promote", "TRACING_USER_NUMPY"]

# The constructors whose result is promoted (an inexact array only: an integer array holds
# no derivative, and writing a traced float into it truncates the value, as NumPy does).
_CREATORS = ("zeros", "ones", "empty", "full", "eye", "identity", "zeros_like", "ones_like",
             "empty_like", "full_like", "copy", "tile")
LIKE_CREATORS = frozenset(getattr(np, n) for n in ("zeros_like", "ones_like", "empty_like",
                                                   "full_like"))
_LIBRARIES = {"numpy", "scipy", "s2sgrad", "builtins", "functools", "math", "cmath",
              "operator", "jax", "cupy", "cupyx", "autograd", "array_api_strict",
              "s2sgrad_generated"}


def _integer(dtype):
    if dtype is None:
        return False
    try:
        return np.dtype(dtype).kind in "biu"
    except TypeError:
        return False


class _TracingUserNumpy(types.ModuleType):
    """NumPy as the traced user code sees it: its array constructors are traceable."""

    def __init__(self):
        super().__init__("numpy", "NumPy, whose array constructors s2sgrad's tracer can see")
        for name in _CREATORS:
            setattr(self, name, self._creator(getattr(np, name)))

    def __getattr__(self, name):
        value = getattr(np, name)
        setattr(self, name, value)
        return value

    @staticmethod
    def _creator(fn):
        @functools.wraps(fn)
        def create(*args, **kwargs):
            if _has_box((args, kwargs)):
                return fn(*args, **kwargs)      # dispatched to the boxes themselves
            return promote(fn(*args, **kwargs))
        return create

    def array(self, a, dtype=None, **kwargs):
        return self._array("array", a, dtype, kwargs)

    def asarray(self, a, dtype=None, **kwargs):
        return self._array("asarray", a, dtype, kwargs)

    def asanyarray(self, a, dtype=None, **kwargs):
        return self._array("asarray", a, dtype, kwargs)

    def _array(self, name, a, dtype, kwargs):
        numpy_fn = getattr(np, name)
        if not _has_box(a) or _integer(dtype):
            # No traced value, or a cast to integers (no derivative): NumPy's own call.
            out = numpy_fn(strip(a) if _has_box(a) else a, dtype=dtype, **kwargs)
            return promote(out) if not _integer(dtype) and name == "array" else out
        copy = kwargs.get("copy", True if name == "array" else None)
        if isinstance(a, ArrayBox) and copy is not True and set(kwargs) <= {"copy"} and (
                dtype is None or np.dtype(dtype) == np.result_type(strip(a))):
            return a        # np.asarray(x) of an array is x itself: a write into one is in both
        from .nested import TRACING_NUMPY
        if kwargs.get("copy", True) is not False and set(kwargs) <= {"copy"}:
            kwargs = {}
        return getattr(TRACING_NUMPY, name)(a, dtype=dtype, **kwargs)


TRACING_USER_NUMPY = _TracingUserNumpy()


class _Globals(dict):
    """A function's globals, read through to its module's, NumPy replaced (see the module's
    docstring).  Only what the function assigns (which it never does: ``_assigns_globals``)
    would be kept here."""

    __slots__ = ("module",)

    def __missing__(self, name):
        return _replacement(self.module[name])


_GLOBALS = {}       # id(module globals) -> (module globals, _Globals)
_COPIES = weakref.WeakKeyDictionary()     # function -> its copy


def _globals_for(g):
    hit = _GLOBALS.get(id(g))
    if hit is not None and hit[0] is g:
        return hit[1]
    proxy = _Globals()
    proxy.module = g
    for k in ("__builtins__", "__name__", "__file__", "__package__", "__spec__", "__loader__"):
        if k in g:
            dict.__setitem__(proxy, k, g[k])
    _GLOBALS[id(g)] = (g, proxy)
    return proxy


def _assigns_globals(code):
    for ins in dis.get_instructions(code):
        if ins.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
            return True
    return any(isinstance(c, types.CodeType) and _assigns_globals(c) for c in code.co_consts)


def _user_function(fn):
    if not isinstance(fn, types.FunctionType):
        return False
    mod = (getattr(fn, "__module__", None) or "").split(".")[0]
    if mod in _LIBRARIES or mod.startswith("s2sgrad"):
        return False
    if getattr(fn, "_s2sgrad_handles_boxes", False) or hasattr(fn, "__s2sgrad__") \
            or hasattr(fn, "__s2sgrad_derivative__") or hasattr(fn, "__wrapped__"):
        return False
    return not fn.__code__.co_filename.startswith("<s2sgrad:")


def _replacement(value):
    if value is np:
        return TRACING_USER_NUMPY
    name = getattr(value, "__name__", None)
    if name in _CREATORS or name in ("array", "asarray", "asanyarray"):
        if getattr(np, name, None) is value:
            return getattr(TRACING_USER_NUMPY, name)
    if isinstance(value, types.FunctionType):
        return _copy(value)
    return value


def _copy(fn):
    if not _user_function(fn):
        return fn
    hit = _COPIES.get(fn)
    if hit is not None and hit.__code__ is fn.__code__ and hit.__defaults__ is fn.__defaults__ \
            and hit.__kwdefaults__ is fn.__kwdefaults__:
        return hit
    if _assigns_globals(fn.__code__):
        return fn
    c = types.FunctionType(fn.__code__, _globals_for(fn.__globals__), fn.__name__,
                           fn.__defaults__, fn.__closure__)
    c.__kwdefaults__ = fn.__kwdefaults__
    c.__qualname__ = fn.__qualname__
    c.__module__ = fn.__module__
    c.__dict__.update(fn.__dict__)
    try:
        _COPIES[fn] = c
    except TypeError:
        pass
    return c


def for_trace(fn):
    """What a trace runs for the user's callable ``fn`` (see the module's docstring)."""
    if isinstance(fn, types.MethodType) and isinstance(fn.__func__, types.FunctionType):
        c = _copy(fn.__func__)
        return fn if c is fn.__func__ else types.MethodType(c, fn.__self__)
    if isinstance(fn, functools.partial):
        c = for_trace(fn.func)
        return fn if c is fn.func else functools.partial(c, *fn.args, **fn.keywords)
    if isinstance(fn, types.FunctionType):
        return _copy(fn)
    return fn

