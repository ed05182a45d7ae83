"""Where things are, said in the user's terms: how to name a callable, where it was
defined, which user line a frame of generated code is running, and why a function
cannot be transformed (``Reason``).

Every layer reports with these (the compiler in its errors, the tracer in its
messages, the driver in its fallback warnings), so they sit at the bottom: this
module imports only the standard library and ``errors``.
"""

import functools
import inspect
import linecache
import math
import os
import re
import sys
import types

import s2sgrad.naming as naming
from .errors import UnsupportedError

__all__ = ["DERIVATIVE_MARK", "describe", "definition_site", "Reason", "is_derivative",
           "is_traced_derivative", "user_citation", "cited_line", "cited_at", "call_site", "user_stacklevel", "display",
           "display_path", "defaults_of", "literal_default"]

# Wrappers made by the differential operators carry this attribute: (operator, fn, wrt).
DERIVATIVE_MARK = "__s2sgrad_derivative__"

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))
_GENERATED = naming.GENERATED_FILE


def display_path(filename):
    """A stable, machine-independent name for a source file (no absolute paths): how
    messages and generated code name the user's files."""
    if not filename:
        return "<unknown>"
    if filename.startswith("<"):
        return filename
    base = os.path.basename(filename)
    parent = os.path.basename(os.path.dirname(filename))
    if os.path.exists(os.path.join(os.path.dirname(filename), "__init__.py")) and parent:
        return f"{parent}/{base}"
    return base


display = display_path


def defaults_of(fn):
    """``[(parameter name, default value)]`` of a plain function as it stands now: its
    ``__defaults__`` (bound when the ``def`` ran, or assigned since) and ``__kwdefaults__``."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return []
    out = []
    values = getattr(fn, "__defaults__", None) or ()
    positional = code.co_varnames[:code.co_argcount]
    if values and len(values) <= len(positional):
        out.extend(zip(positional[len(positional) - len(values):], values))
    kw = getattr(fn, "__kwdefaults__", None) or {}
    kwonly = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    out.extend((nm, kw[nm]) for nm in kwonly if nm in kw)
    return out


def literal_default(value):
    """Whether a default value is written into generated code as a literal (its text
    is the whole of it): None, a bool, int, float, complex or str that reads back equal."""
    if value is None or type(value) in (bool, str):
        return True
    if type(value) is int:
        return True
    if type(value) is float:
        return math.isfinite(value)             # nan and inf have no literal
    if type(value) is complex:
        return math.isfinite(value.real) and math.isfinite(value.imag)
    return False


def definition_site(fn):
    """``file:line`` of a function's definition, or a description when it has none."""
    target = inspect.unwrap(fn) if callable(fn) else fn
    target = getattr(target, "__func__", target)
    code = getattr(target, "__code__", None)
    if code is None:
        call = getattr(type(fn), "__call__", None)
        code = getattr(call, "__code__", None)
    if code is None:
        return "built-in"
    return f"{display(code.co_filename)}:{code.co_firstlineno}"


def describe(fn):
    """How to name a callable in a message."""
    if isinstance(fn, functools.partial):
        return f"functools.partial({describe(fn.func)}, ...)"
    mark = getattr(fn, DERIVATIVE_MARK, None)
    if mark is not None:
        return f"{mark[0]}({describe(mark[1])})"
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if name is None:
        if isinstance(getattr(type(fn), "__call__", None), types.FunctionType):
            return f"{type(fn).__qualname__}.__call__"      # a callable object
        return repr(fn)
    mod = getattr(fn, "__module__", None)
    if isinstance(fn, (types.BuiltinFunctionType, types.BuiltinMethodType)) or (
            not hasattr(fn, "__code__") and not hasattr(fn, "__func__") and mod):
        if mod and mod.startswith("_") and mod.lstrip("_") in sys.modules:
            mod = mod.lstrip("_")           # _operator.mul is operator.mul
        return f"{mod}.{name}" if mod and mod != "builtins" else name
    return name


class Reason:
    """Why the source transformation cannot handle one function."""

    def __init__(self, fn, construct, where=None, advice="", error=None):
        self.name = describe(fn)
        self.defined = definition_site(fn)
        self.construct = construct      # "a try statement", "no source code", ...
        self.where = where              # file:line of the construct, when it has one
        self.advice = advice
        self.error = error              # the transformer's exception

    @classmethod
    def from_error(cls, fn, exc):
        if isinstance(exc, UnsupportedError):
            return cls(fn, exc.construct, exc.where, exc.advice, exc)
        return cls(fn, _source_construct(fn, exc), None, "", exc)

    def text(self):
        return f"{self.construct} ({self.where})" if self.where else self.construct

    def __repr__(self):
        return f"<Reason {self.name}: {self.text()}>"


def _source_construct(fn, exc):
    target = getattr(fn, "__func__", fn)
    code = getattr(target, "__code__", None)
    if code is None:
        if isinstance(fn, (types.BuiltinFunctionType, types.BuiltinMethodType, type(len))) \
                or not isinstance(fn, types.FunctionType):
            return "it is a built-in or C-extension callable, with no Python source"
    text = str(exc)
    if "not available" in text:
        return ("its source is not available (it was made by exec or eval, or typed at an "
                "interactive prompt)")
    if "which lambda" in text:
        return "several lambdas on its line could be the one differentiated"
    if "running function" in text:
        return "its source file was edited since it was loaded"
    return f"its source cannot be read ({text})"


def is_derivative(fn):
    return getattr(fn, DERIVATIVE_MARK, None) is not None


def is_traced_derivative(fn):
    """A derivative made by s2sgrad with no generated source to transform (``api.mark``
    gives the others one): its own derivative is taken by tracing."""
    return is_derivative(fn) and getattr(fn, "__s2sgrad__", None) is None


# On a derivative made with ``fallback="always"`` (``api.mark``): it traces its function by
# the user's choice, so a derivative of it traces too, never its generated code.
TRACED_BY_CHOICE = "__s2sgrad_always__"


def traced_by_choice(fn):
    return is_derivative(fn) and getattr(fn, TRACED_BY_CHOICE, False) is True


def user_stacklevel():
    """The ``stacklevel`` that points ``warnings.warn`` at the user's code."""
    f = sys._getframe(2)        # the caller of the function that warns: stacklevel 2
    level = 2
    while f is not None:
        name = f.f_code.co_filename
        if not (name.startswith(_GENERATED) or os.path.abspath(name).startswith(_PKG_DIR)
                or name.startswith("<frozen")):
            return level
        f = f.f_back
        level += 1
    return 2


# ``# model.py:4  h = x @ w``: the comment generated code heads each block with
_CITATION = re.compile(r"^\s*# (?P<where>[^\s<>]+:\d+)(?:  (?P<text>.*?))?\s*$")
# ``grad_f (model.py:3) and its gradient``: a function's docstring citing its source
_DOC_CITATION = re.compile(r"\((?P<where>[^\s<>()]+:\d+)\)")


def user_citation(lines, line):
    """``(file:line, source text)`` of the user's line that line ``line`` (1-based) of
    generated code came from, read from the comments generated code carries (the block's
    citation above it; for a ``def`` line, its docstring's); None when there is none."""
    if not 0 < line <= len(lines):
        return None
    if lines[line - 1].lstrip().startswith("def "):
        for text in lines[line:line + 3]:
            m = _DOC_CITATION.search(text)
            if m:
                return m.group("where"), ""
        return None
    for k in range(line - 2, -1, -1):
        text = lines[k]
        m = _CITATION.match(text)
        if m:
            return m.group("where"), m.group("text") or ""
        if text.lstrip().startswith("def "):
            break
    return None


def cited_at(filename, line):
    """The user's ``file:line`` that line ``line`` of the generated module ``filename`` came
    from (``user_citation``), or None."""
    found = user_citation(linecache.getlines(filename), line)
    return found[0] if found is not None else None


def cited_line(frame):
    """The user's ``file:line`` a frame of generated code is running, from its citations."""
    return cited_at(frame.f_code.co_filename, frame.f_lineno)


def call_site():
    """``file:line`` of the user's line that made the current dynamic call.

    Generated code cites the user's line above each block, so the innermost
    generated frame tells it; otherwise the innermost frame outside s2sgrad.
    """
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        if name.startswith(_GENERATED):
            cited = cited_line(f)
            if cited is not None:
                return cited
            f = f.f_back            # a stub without citations: its caller's line, then
            continue
        if not os.path.abspath(name).startswith(_PKG_DIR) and not name.startswith("<frozen"):
            return f"{display(name)}:{f.f_lineno}"
        f = f.f_back
    return None
