"""Gradient modules for a whole user module: what ``s2sgrad gen``, ``check`` and ``show`` do.

``generate(path)`` imports the user's module, transforms each chosen function
(all public top-level functions by default) into one generated module whose
helpers are shared, and returns its text: a header recording the s2sgrad
version and a hash of every input, the import lines (the array module,
``s2sgrad.runtime`` and the user's own module for its constants), a public
wrapper per function, then the generated functions.

For a function ``loss(w, x, y)`` the generated module defines

* ``loss_grad(w, x, y)``: the gradient with respect to ``w``, shaped like
  ``w``: what ``s2sgrad.grad(loss)(w, x, y)`` returns;
* ``grad_loss(w, x, y, d_result=None)``: ``(loss(w, x, y), d_w)`` from one
  run, the adjoint itself (the function ``s2sgrad.grad(loss, emit=True)``
  shows), with ``d_result`` the cotangent of the output.

A function with a signature (``annotated_signature``: its annotations, completed by
number defaults; or ``--signature``) gets ``grad_loss`` specialized to it,
starting with ``if not _rt.fits(signature text, w, x, y): return
grad_loss_general(...)``, and ``grad_loss_general``, the code for any argument,
beside it.  The header records the signature.

``check(path, generated_path)`` regenerates with the options recorded in the
file's header and names every function whose gradient is stale.
"""

import ast
import collections
import contextlib
import hashlib
import importlib
import importlib.util
import linecache
import numbers
import os
import re
import sys
import textwrap
import traceback
import types

from . import naming
from .version import __version__
from .errors import S2SGradError

__all__ = ["GenError", "Generated", "generate", "check", "load_module", "output_path",
           "module_files", "MODES"]

GEN_TAG = "# s2sgrad-gen:"
INPUT_TAG = "# s2sgrad-input:"


class GenError(S2SGradError):
    """A problem with what ``s2sgrad gen`` was asked to do: a file, a name, an option."""


# ---------------------------------------------------------------------------
# Loading the user's module
# ---------------------------------------------------------------------------

def _module_name(path):
    """``(dotted module name, directory to put on sys.path)`` for a file, packages included."""
    directory, fname = os.path.split(os.path.abspath(path))
    parts = [os.path.splitext(fname)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, pkg = os.path.split(directory)
        parts.insert(0, pkg)
    return ".".join(parts), directory


@contextlib.contextmanager
def load_module(path):
    """Import the module at ``path`` under its own name; undo it afterwards.

    Raises ``GenError`` (one line, with file and line) when the file is
    missing, does not parse, or fails while it is imported.
    """
    shown = path
    if not os.path.isfile(path):
        raise GenError(f"{shown}: no such file")
    if not path.endswith(".py"):
        raise GenError(f"{shown}: not a Python module: its name must end in .py (the "
                       f"generated module imports it by that name)")
    try:
        with open(path, "rb") as f:
            data = f.read()
        compile(data, shown, "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise GenError(f"{shown}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (OSError, ValueError) as exc:
        raise GenError(f"{shown}: cannot read it: {exc}") from None
    name, root = _module_name(path)
    abspath = os.path.abspath(path)
    linecache.checkcache()      # files edited since this process last read them
    saved_path = list(sys.path)
    saved_modules = dict(sys.modules)
    imported = set()
    sys.path.insert(0, root)
    try:
        try:
            if "." in name:
                importlib.import_module(name.rpartition(".")[0])
            spec = importlib.util.spec_from_file_location(name, abspath)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:    # SystemExit too: sys.exit() in the module is no success
            raise _import_error(exc, shown, abspath) from None
        finally:
            imported = set(sys.modules) - set(saved_modules)
        yield module
    finally:
        # Forget the user's modules this import brought in (so that another file of the
        # same name can be loaded next), but nothing s2sgrad itself imported meanwhile.
        sys.path[:] = saved_path
        for mod_name in imported:
            if mod_name in sys.modules and mod_name.partition(".")[0] != "s2sgrad" \
                    and _is_user_module(sys.modules[mod_name], root):
                del sys.modules[mod_name]
        if name in saved_modules:
            sys.modules[name] = saved_modules[name]


def _import_error(exc, shown, abspath):
    """The ``GenError`` for an exception (or an exit) while the user's module was imported."""
    line = [fr.lineno for fr in traceback.extract_tb(exc.__traceback__)
            if os.path.abspath(fr.filename) == abspath]
    where = f"{shown}:{line[-1]}" if line else shown
    if isinstance(exc, SystemExit):
        what = f"it called sys.exit({exc.code!r})" if exc.code is not None else \
            "it called sys.exit()"
        return GenError(f"{where}: importing the module failed: {what}; s2sgrad imports "
                        f"the module to read its functions: put that code under "
                        f"if __name__ == '__main__':")
    return GenError(f"{where}: importing the module failed: "
                    f"{type(exc).__name__}: {_one_line(exc)}")


def _is_user_module(module, root):
    f = getattr(module, "__file__", None)
    return isinstance(f, str) and os.path.abspath(f).startswith(os.path.join(root, ""))


def _one_line(exc):
    text = str(exc).strip().replace("\n", " ")
    return text if len(text) < 300 else text[:297] + "..."


# ---------------------------------------------------------------------------
# Choosing functions and parameters
# ---------------------------------------------------------------------------

def public_functions(module):
    """The functions a module defines at top level, by line: ``__all__`` if it has one."""
    names = getattr(module, "__all__", None)
    out = []
    for nm, value in vars(module).items():
        if not isinstance(value, types.FunctionType) or value.__module__ != module.__name__:
            continue
        if value.__name__ == "<lambda>" or nm != value.__name__:
            continue
        if names is not None and nm not in names:
            continue
        if names is None and nm.startswith("_"):
            continue
        out.append((nm, value))
    out.sort(key=lambda item: item[1].__code__.co_firstlineno)
    return out


def _params(fn):
    code = fn.__code__
    return list(code.co_varnames[:code.co_argcount])


def _where(fn):
    from .frontend.source import display_path
    return f"{display_path(fn.__code__.co_filename)}:{fn.__code__.co_firstlineno}"


class Choice:
    """One function to differentiate and the parameters it is differentiated with respect to."""

    def __init__(self, name, fn, wrt):
        self.name = name
        self.fn = fn
        self.wrt = wrt                      # parameter names
        params = _params(fn)
        self.wrt_index = tuple(params.index(w) for w in wrt)
        self.signature = None               # what its code is specialized to (annotated_signature)
        self.signature_from = None          # "annotations" or "option" (--signature)
        self.general_name = None            # the general code's entry beside the specialized one


Skip = collections.namedtuple("Skip", "name where reason")
Skip.__doc__ = "A function ``s2sgrad gen`` chose not to differentiate, where it is and why."

_NOT_FLOAT_TYPES = {"int": int, "bool": bool, "str": str, "bytes": bytes}


def not_float_input(fn, param, defaults=True):
    """Why parameter ``param`` of ``fn`` is not a float input, or ``None``.

    Known from its annotation (``int``, ``bool``, ``str`` or ``bytes``) or,
    with ``defaults``, from its default value (an integer, a bool, a string or
    bytes).  A parameter with neither is taken to be a float input.
    """
    note = getattr(fn, "__annotations__", {}).get(param)
    if isinstance(note, str):
        note = _NOT_FLOAT_TYPES.get(note.strip())
    if any(note is t for t in _NOT_FLOAT_TYPES.values()):
        return f"{param} is annotated {note.__name__}"
    if defaults:
        params = _params(fn)
        given = fn.__defaults__ or ()
        offset = len(params) - len(given)
        if param in params and params.index(param) >= offset:
            value = given[params.index(param) - offset]
            if isinstance(value, (numbers.Integral, str, bytes)):
                kind = "a bool" if isinstance(value, bool) else \
                    "an integer" if isinstance(value, numbers.Integral) else "a string"
                return f"{param} defaults to {value!r}, {kind}"
    return None


def _no_derivative(fn, param):
    """Why ``fn``'s result cannot depend differentiably on ``param``, or ``None``.

    The activity analysis of ``fn`` alone: its result is not computed from
    ``param`` through operations with derivatives (``range(n)``, a size, an
    index...).  ``None`` too when the analysis cannot tell.
    """
    import gast
    from .analysis.activity import Activity
    from .frontend.normalize import normalize
    from .frontend.source import FunctionSource
    try:
        fsrc = FunctionSource.of(fn)
        if not any(isinstance(n, gast.Return) and n.value is not None
                   for n in gast.walk(fsrc.node)):
            return "it returns no value"
        norm = normalize(fsrc)
        active = Activity(norm, [param]).active
    except Exception:           # noqa: BLE001 -- a guess only: the transformation will tell
        return None
    if norm.return_name not in active:
        return f"its result does not depend differentiably on {param}"
    return None


def _rule_functions(module):
    """``{id(function): description}``: the rules of the module's ``custom_vjp`` functions."""
    from .custom import CustomFunction
    out = {}
    for nm, value in vars(module).items():
        if isinstance(value, CustomFunction):
            for rule in getattr(value, "rule_functions", ()):
                out.setdefault(id(rule), f"it is a derivative rule of {nm} (custom_vjp), not a "
                                         f"function to differentiate")
    return out


def _why_skip(fn, params, rules, first_param):
    """Why ``s2sgrad gen`` does not differentiate ``fn`` unless asked to, or ``None``."""
    if id(fn) in rules:
        return rules[id(fn)]
    if getattr(fn, "_s2sgrad_handles_boxes", False):
        return "it is marked @s2sgrad.non_differentiable"
    if not params:
        return "it has no parameters"
    if first_param:
        why = not_float_input(fn, params[0])
        if why:
            other = (f" (--func {fn.__name__} --wrt {params[1]} differentiates it with respect "
                     f"to another)") if len(params) > 1 else ""
            return f"its first parameter {why}, not a float input{other}"
        why = _no_derivative(fn, params[0])
        if why:
            return why
    return None


def choose(module, shown, funcs=None, wrt=None):
    """The ``Choice`` of each function to differentiate, and a ``Skip`` of each left out.

    Named functions (``funcs``) are all differentiated; without names, the
    public functions (``__all__``, else those without a leading underscore) are,
    but for rules of ``custom_vjp`` functions, functions marked
    ``non_differentiable``, and those whose first parameter is not a float input
    (``not_float_input``) or does not reach their result (``_no_derivative``).
    """
    available = public_functions(module)
    skipped = []
    if funcs:
        chosen = []
        for nm in dict.fromkeys(funcs):
            fn = getattr(module, nm, None)
            if not isinstance(fn, types.FunctionType):
                names = ", ".join(n for n, _ in available) or "none"
                what = "no function" if fn is None else f"{nm!r}, but it is not a function:"
                raise GenError(f"{shown} has {what} {nm!r} (its public functions: {names})"
                               if fn is None else f"{shown} has {what} it is a "
                               f"{type(fn).__name__}")
            chosen.append((nm, fn))
    else:
        chosen = []
        rules = _rule_functions(module)
        for nm, fn in available:
            why = _why_skip(fn, _params(fn), rules, first_param=not wrt)
            if why:
                skipped.append(Skip(nm, _where(getattr(fn, "__wrapped__", fn)), why))
            else:
                chosen.append((nm, fn))
        if not chosen:
            whys = "; ".join(f"{s.name}: {s.reason}" for s in skipped)
            raise GenError(f"{shown} has no public function to differentiate"
                           + (f" ({whys})" if whys else "")
                           + "; name one with --func NAME")
    out = []
    for nm, fn in chosen:
        params = _params(fn)
        if wrt:
            names = []
            for w in wrt:
                if isinstance(w, str) and w.lstrip("-").isdigit():
                    w = int(w)
                if isinstance(w, int):
                    if not 0 <= w < len(params):
                        raise GenError(f"{_where(fn)}: {nm} has {len(params)} positional "
                                       f"parameters, so --wrt {w} is out of range")
                    w = params[w]
                if w not in params:
                    raise GenError(f"{_where(fn)}: {nm} has no parameter {w!r} "
                                   f"(its parameters: {', '.join(params) or 'none'})")
                names.append(w)
            names = list(dict.fromkeys(names))
        else:
            if not params:
                raise GenError(f"{_where(fn)}: {nm} has no positional parameters to "
                               f"differentiate with respect to")
            names = [params[0]]
        for w in names:
            why = not_float_input(fn, w, defaults=False)
            if why:
                raise GenError(f"{_where(fn)}: {nm} has no derivative with respect to {w}: "
                               f"{why}, not a float input; choose another parameter with "
                               f"--wrt NAME")
        out.append(Choice(nm, fn, names))
    return out, skipped


# ---------------------------------------------------------------------------
# Signatures: what each function's code is specialized to
# ---------------------------------------------------------------------------

def _abstract_types():
    from . import signature as sg
    return {float: sg.FLOAT, int: sg.INT, bool: sg.BOOL, complex: sg.COMPLEX}


_DTYPE_WORD = re.compile(r"\s*([\w.?]+)\s*\[")
_AXES = re.compile(r"(?<=[\w?])\[([^\[\]]*)\]")
_NDARRAY = re.compile(r"^(?:\w+\.)*(?:ndarray|NDArray)(?:\[(.*)\])?$")


def _axis(word):
    """An axis of the annotation spelling in ``s2sgrad.signature``'s: ``1``, ``?`` or ``n``."""
    word = word.strip()
    if word in ("1", "?", "*", ""):
        return word
    if word.isidentifier() or word.isdigit():
        return "n"          # a name or a length other than 1: only "not 1" is checked
    raise ValueError(f"an axis is 1, a name, a length or ?, not {word!r}")


def _dtype_name(obj):
    """The NumPy dtype name of a scalar type, a dotted name (``np.float64``), or None."""
    import numpy as np
    if isinstance(obj, str):
        obj = obj.strip().rpartition(".")[2]
        if obj in ("Any", ""):
            return None
    try:
        return np.dtype(obj).name
    except (TypeError, ValueError):
        return None


def annotation_value(note):
    """The abstract value (``s2sgrad.signature``) an annotation gives a parameter.

    ``float``, ``int``, ``bool``, ``complex``; a text in the signature spelling
    (``"float64[n, n]"``, ``"float32[batch, 1]"``: an axis is ``1``, or any
    name or other length, meaning not 1; ``"float"``, ``"np.float32"``,
    ``"(float, int64[n])"``); ``np.ndarray`` (an array of any dtype and rank)
    and ``numpy.typing.NDArray[np.float64]`` (that dtype, any rank); a NumPy
    scalar type (``np.float32``).  Anything else gives ``?``: nothing known.
    Raises ``ValueError`` for a text that starts like an array's spelling
    (a dtype and ``[``) but is not one.
    """
    import typing
    import numpy as np
    from . import signature as sg
    simple = _abstract_types()
    for t, value in simple.items():
        if note is t:
            return value
    if isinstance(note, str):
        note = note.strip()
        if note[:1] in "'\"" and note[-1:] == note[:1] and len(note) > 1:
            note = note[1:-1].strip()   # "'float64[n]'": a quoted annotation, postponed
        return _annotation_text(note)
    if note is np.ndarray:
        return sg.array(None, None)
    if typing.get_origin(note) is np.ndarray:       # numpy.typing.NDArray[np.float64]
        args = typing.get_args(note)
        dtype = None
        if len(args) == 2:
            inner = typing.get_args(args[1])
            dtype = _dtype_name(inner[0]) if len(inner) == 1 else None
        return sg.array(dtype, None)
    if isinstance(note, type) and issubclass(note, np.generic):
        name = _dtype_name(note)
        return sg.Abstract.make("scalar", name) if name else sg.ANY
    return sg.ANY


def _annotation_text(text):
    from . import signature as sg
    found = _NDARRAY.match(text)
    if found:           # "np.ndarray", "npt.NDArray[np.float64]" (postponed annotations)
        return sg.array(_dtype_name(found.group(1) or ""), None)
    try:
        return sg.parse(_AXES.sub(lambda m: "[" + ", ".join(
            _axis(w) for w in m.group(1).split(",")) + "]" if m.group(1).strip() else "[]",
            text))
    except (ValueError, TypeError, IndexError) as exc:
        head = _DTYPE_WORD.match(text)
        if head and (head.group(1) == "?" or _dtype_name(head.group(1))):
            raise ValueError(f"{text!r} is not an array's spelling ({exc}); write it like "
                             f"'float64[n, n]': a dtype, then one axis per dimension, each 1 "
                             f"or a name") from None
        return sg.ANY    # a type s2sgrad does not know ("MyClass", "list[float]")


def annotated_signature(fn):
    """The signature ``s2sgrad gen`` specializes ``fn``'s code to, from its annotations
    and defaults: a tuple of abstract values (one per positional parameter), or ``None``.

    Each positional parameter's annotation gives its value (``annotation_value``);
    an unannotated one with a default that is a Python number (``dt=0.01``, ``n=3``)
    has that number's type; any other parameter may hold anything (``?``).  A
    function none of whose annotations gives a value has no signature (defaults
    complete a signature, they do not make one): it gets the general code only.
    Raises ``GenError`` naming the function and the parameter for an annotation
    that starts like an array's spelling but is not one.
    """
    from . import signature as sg
    notes = getattr(fn, "__annotations__", None) or {}
    params = _params(fn)
    defaults = fn.__defaults__ or ()
    offset = len(params) - len(defaults)
    simple = _abstract_types()
    out, known = [], False
    for k, p in enumerate(params):
        if p in notes:
            try:
                value = annotation_value(notes[p])
            except ValueError as exc:
                raise GenError(f"{_where(fn)}: {fn.__name__}: the annotation of {p}: {exc}") \
                    from None
            known = known or value is not sg.ANY
        elif k >= offset:
            value = simple.get(type(defaults[k - offset]), sg.ANY)
        else:
            value = sg.ANY
        out.append(value)
    return tuple(out) if known else None


def parse_signature_option(text):
    """``(function name, signature)`` of a ``--signature`` option: ``"miss(float64[n], float)"``.

    Array axes may be named as in annotations (``float64[batch, 1]``).  Raises
    ``GenError`` saying how to write it.
    """
    from . import signature as sg
    name, paren, rest = text.strip().partition("(")
    name = name.strip()
    if not paren or not name.isidentifier() or not rest.rstrip().endswith(")"):
        raise GenError(f"--signature {text!r}: write it as NAME(ARG, ...), one abstract value "
                       f"per positional parameter, e.g. --signature 'miss(float64[n], float, "
                       f"float, float)'")
    try:
        sig = sg.parse_signature(_AXES.sub(lambda m: "[" + ", ".join(
            _axis(w) for w in m.group(1).split(",")) + "]" if m.group(1).strip() else "[]",
            "(" + rest))
    except (ValueError, TypeError, IndexError) as exc:
        raise GenError(f"--signature {text!r}: {exc} (values: float, int, bool, complex, None, "
                       f"np.float32, float64[n, 1], float64[*], (float, int), ? for anything)") \
            from None
    return name, sig


def signature_text(signature):
    """The text of a signature as generated code and headers write it."""
    from . import signature as sg
    return sg.text(signature)


def _choose_signatures(choices, signatures, general):
    """Set each choice's signature: from ``signatures`` (``{name: signature}``, the
    ``--signature`` options), else from its annotations, none at all with ``general``."""
    for c in choices:
        params = _params(c.fn)
        if c.name in signatures:
            sig = tuple(signatures[c.name])
            if len(sig) != len(params):
                raise GenError(f"--signature {c.name}{signature_text(sig)}: {c.name} "
                               f"({_where(c.fn)}) has {len(params)} positional parameters "
                               f"({', '.join(params) or 'none'}), the signature gives "
                               f"{len(sig)} value{'' if len(sig) == 1 else 's'}; write ? for "
                               f"one that may be anything")
            c.signature, c.signature_from = sig, "option"
        elif not general:
            sig = annotated_signature(c.fn)
            if sig is not None:
                c.signature, c.signature_from = sig, "annotations"


# ---------------------------------------------------------------------------
# Hashes of the inputs
# ---------------------------------------------------------------------------

def source_digest(fn):
    """16 hex digits of SHA-256 of a function's source, file name and first line (no paths)."""
    from .driver.cache import source_text
    from .frontend.source import display_path
    code = fn.__code__
    h = hashlib.sha256()
    for part in (display_path(code.co_filename), str(code.co_firstlineno), source_text(fn)):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()[:16]


def _source_name(fn, module_name):
    if fn.__module__ == module_name:
        return fn.__qualname__
    return f"{fn.__module__}.{fn.__qualname__}"


def _sources(choice, job_fns, module_name):
    """``{name: digest}`` of the function and every transformed user function it reaches."""
    from .driver.cache import locate
    paths = locate(choice.fn, job_fns, job_fns)
    fns = [choice.fn] + [f for f, p in zip(job_fns, paths) if p is not None and f is not choice.fn]
    return {_source_name(f, module_name): source_digest(f) for f in fns}


# ---------------------------------------------------------------------------
# Building the module
# ---------------------------------------------------------------------------

class Generated:
    """The text of a generated gradient module and what it was generated from."""

    skipped = ()            # a Skip for each public function left out

    def __init__(self, text, module_name, mode, functions, inputs, selection, wrt_option):
        self.text = text
        self.module_name = module_name
        self.mode = mode
        self.functions = functions          # [(name, [wrt names])]
        self.inputs = inputs                # {name: {source name: digest}}
        self.selection = selection          # "all" or [names]
        self.wrt_option = wrt_option        # "first" or [names/indices]


def _build(choices, mode):
    """Transform ``choices`` into one program; ``(program, {name: entry function name})``.

    A choice with a signature gets two entries: its code specialized to the
    signature (``grad_f``), and the general code (``grad_f_general``) that the
    specialized one runs for other arguments (``c.general_name``).
    """
    from .driver.pipeline import module_program
    entries, owners = [], []
    prefix = "grad_" if mode == "reverse" else "jvp_"
    for c in choices:
        entries.append((c.fn, c.wrt_index, c.signature))
        owners.append((c, False))
        if c.signature is not None:
            entries.append((c.fn, c.wrt_index, None, f"{prefix}{c.fn.__name__}_general"))
            owners.append((c, True))
    program, names = module_program(entries, mode)
    out = {}
    for (c, general), n in zip(owners, names):
        if general:
            c.general_name = n
        else:
            out[c.name] = n
    return program, out


def _build_reverse(choices):
    return _build(choices, "reverse")


# What each --mode does: ``mode -> Mode``.  ``build(choices)`` returns ``(program,
# {function name: generated entry function name})``; ``wrapper(choice, wrapper_name,
# entry_name, entry_header_line)`` returns the lines of the public wrapper (or none);
# ``describe(choice, wrapper_name, entry_name)`` the module docstring's lines for it.
Mode = collections.namedtuple("Mode", "build wrapper describe suffix")
MODES = {}


def _imports(builder, user_module, shown, job_fns):
    """The import lines of a generated file: modules, then names, the runtime last.

    Every outside object the gradient refers to must be importable: a module,
    a function or class of an importable module, or a module-level name of the
    user's module (or of a module whose functions were transformed).
    """
    from .codegen import _import_line
    homes = [user_module] + [sys.modules[m] for m in dict.fromkeys(f.__module__ for f in job_fns)
                             if m in sys.modules and sys.modules[m] is not user_module]
    plain = [f"import {mod}" for mod in sorted(builder.modules)]
    names = {}          # module -> ["name" or "name as alias"]
    written = _written_imports(homes)
    for nm in sorted(builder.symbols):
        obj = builder.symbols[nm]
        line = _import_line(nm, obj, [(m, a) for m, a in written
                                      if getattr(sys.modules.get(m), a, _MISSING) is obj])
        if line is None:
            for home in homes:
                line = _from_module(nm, obj, home)
                if line:
                    break
        if line is None:
            raise GenError(f"{shown}: the gradient refers to {nm!r} (a {type(obj).__name__}), "
                           f"which a generated module cannot import; make it a module-level "
                           f"name of {shown}")
        if line.startswith("from "):
            mod, _, what = line[len("from "):].partition(" import ")
            if what not in names.setdefault(mod, []):
                names[mod].append(what)
        elif line not in plain:
            plain.append(line)
    lines = sorted(plain)
    for mod in sorted(names):
        lines.append(f"from {mod} import {', '.join(sorted(names[mod]))}")
    lines.append("from s2sgrad import runtime as _rt")
    return lines


def _written_imports(modules):
    """The ``(module, attribute)`` pairs that ``from module import attribute`` statements in
    the sources of ``modules`` name, in order: where the user imported each name from."""
    out = []
    for module in modules:
        path = getattr(module, "__file__", None)
        try:
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read())
        except (OSError, TypeError, SyntaxError, ValueError):
            continue
        package = module.__name__ if hasattr(module, "__path__") else \
            module.__name__.rpartition(".")[0]
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""),
                                                   package) if node.level else node.module
            except (ImportError, ValueError):
                continue
            out += [(base, a.name) for a in node.names if a.name != "*"]
    return list(dict.fromkeys(out))


def _from_module(nm, obj, module):
    d = vars(module)
    if d.get(nm, _MISSING) is obj:
        return f"from {module.__name__} import {nm}"
    for key in sorted(k for k in d if not k.startswith("__")):
        if d[key] is obj:
            return f"from {module.__name__} import {key} as {nm}"
    return None


_MISSING = object()


def _signature(header_line):
    """``(parameters text without the seed, call arguments text)`` of a combined function."""
    fdef = ast.parse(header_line + "\n    pass\n").body[0]
    args = fdef.args
    args.args = args.args[:-1]          # the output's cotangent
    args.defaults = args.defaults[:-1]
    names = [a.arg for a in args.posonlyargs + args.args]
    call = names + [f"{a.arg}={a.arg}" for a in args.kwonlyargs]    # keyword-only: passed on
    return ast.unparse(args), ", ".join(call), names + [a.arg for a in args.kwonlyargs]


def _wrapper(choice, wrapper_name, entry_name, header_line):
    params, call_args, names = _signature(header_line)
    taken = set(names)
    grads = []
    for w in choice.wrt:
        g = naming.adjoint(w)
        while g in taken:
            g += "_"
        taken.add(g)
        grads.append(g)
    target = "_, " + ", ".join(grads)
    result = ", ".join(f"_rt.match({g}, {w})" for g, w in zip(grads, choice.wrt))
    shaped = " and ".join(choice.wrt)
    if choice.wrt_index == (0,):
        like = f"s2sgrad.grad({choice.name})"
    elif len(choice.wrt_index) == 1:
        like = f"s2sgrad.grad({choice.name}, {choice.wrt_index[0]})"
    else:
        like = f"s2sgrad.grad({choice.name}, {choice.wrt_index})"
    return [
        f"def {wrapper_name}({params}):",
        f'    """The gradient of {choice.name} ({_where(choice.fn)}) with respect to {shaped}, '
        f'shaped like {"it" if len(grads) == 1 else "them"}.',
        "",
        f"    What {like} returns; {entry_name} computes it.",
        '    """',
        f"    {target} = {entry_name}({call_args})",
        f"    return {result}",
    ]


def _describe_reverse(c, wrapper_name, entry_name):
    wrt_text = ", ".join(c.wrt)
    return [f"{wrapper_name}: the gradient of {c.name} with respect to {wrt_text}.",
            f"{entry_name}: the value of {c.name} and that gradient from one run (the adjoint)."
            ] + _describe_signature(c, entry_name)


def _describe_signature(c, entry_name):
    if c.signature is None:
        return []
    origin = "its annotations" if c.signature_from == "annotations" else "--signature"
    return textwrap.wrap(f"Made for arguments {signature_text(c.signature)} ({origin}); "
                         f"other arguments run {c.general_name}, the code for any argument.",
                         width=92, initial_indent="  ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False)


def _guard(fdef, c):
    """Start the specialized entry ``fdef`` with the check of its arguments: those it was
    not made for run the general entry ``c.general_name`` instead."""
    import gast
    from .codegen import print_function
    header = ast.parse(print_function(fdef)[0] + "\n    pass\n").body[0].args
    positional = [a.arg for a in header.posonlyargs + header.args]
    call = positional + [f"{a.arg}={a.arg}" for a in header.kwonlyargs]
    checked = positional[:len(c.signature)]
    sig = signature_text(c.signature)
    test = f"_rt.fits({sig!r}, {', '.join(checked)})" if checked else f"_rt.fits({sig!r})"
    guard = gast.parse(f"if not {test}:\n    return {c.general_name}({', '.join(call)})\n").body[0]
    fdef.body.insert(0, guard)
    origin = "the annotations of" if c.signature_from == "annotations" else \
        "--signature for"
    doc = getattr(fdef, "s2s_doc", None) or ""
    fdef.s2s_doc = (doc.rstrip() + "\n\n" if doc else "") + textwrap.fill(
        f"Specialized to the arguments {sig} ({origin} {c.name}); other arguments run "
        f"{c.general_name}, the code for any argument.", width=88, break_long_words=False,
        break_on_hyphens=False)


def _build_forward(choices):
    """Forward mode: ``jvp_<f>(args..., t_<arg>=...) -> (value, tangent of the value)``."""
    return _build(choices, "forward")


def _no_wrapper(choice, wrapper_name, entry_name, header_line):
    return []   # the forward entry already takes the tangent and returns the value's tangent


def _describe_forward(c, wrapper_name, entry_name):
    tangents = ", ".join(naming.tangent(w) for w in c.wrt)
    return [f"{entry_name}: the value of {c.name} and its derivative along {tangents} "
            f"(forward mode: what s2sgrad.jvp({c.name}) computes, the tangent a keyword)."
            ] + _describe_signature(c, entry_name)


MODES["reverse"] = Mode(_build_reverse, _wrapper, _describe_reverse, "grad")
MODES["forward"] = Mode(_build_forward, _no_wrapper, _describe_forward, "jvp")


def generate(path, funcs=None, wrt=None, mode="reverse", signatures=None, general=False):
    """The generated gradient module of the module at ``path``: a ``Generated``.

    Each function's code is specialized to its signature: ``signatures[name]``
    (``{function name: tuple of abstract values}``, from ``--signature``; a name
    the module does not differentiate is ignored), else the one its annotations
    and defaults give (``annotated_signature``); with ``general=True`` (``--general``) none
    is, only the code for any argument is generated.
    """
    with load_module(path) as module:
        return generate_from(module, path, funcs, wrt, mode, signatures, general)


def generate_from(module, shown, funcs=None, wrt=None, mode="reverse", signatures=None,
                  general=False):
    from .codegen import print_function
    from .frontend.source import display_path
    if mode not in MODES:
        raise GenError(f"unknown mode {mode!r} (reverse or forward)")
    signatures = dict(signatures or {})
    choices, skipped = choose(module, shown, funcs, wrt)
    _choose_signatures(choices, signatures, general)
    build, wrapper, describe, suffix = MODES[mode]
    try:
        program, entries = build(choices)
    except S2SGradError:
        if funcs:
            raise               # the functions asked for by name: each one must work
        choices, failed = _buildable(build, choices)
        skipped = sorted(skipped + failed, key=lambda s: _line(getattr(module, s.name, None)))
        program, entries = build(choices)
    builder = program.module
    by_name = {f.name: f for f in builder.functions}
    for c in choices:
        if c.signature is not None:
            _guard(by_name[entries[c.name]], c)
    job_fns = []
    for job in program.jobs.values():
        f = getattr(job.fsrc, "fn", None)
        if isinstance(f, types.FunctionType) and f not in job_fns:
            job_fns.append(f)
    inputs = {c.name: _sources(c, job_fns, module.__name__) for c in choices}
    wrappers = {c.name: builder.fresh_function_name(f"{c.name}_{suffix}") for c in choices}
    functions = {f.name: print_function(f) for f in builder.functions}
    imports = _imports(builder, module, shown, job_fns)

    file_name = display_path(getattr(module, "__file__", shown))
    selection = "all" if not funcs else ",".join(dict.fromkeys(funcs))
    wrt_option = "first" if not wrt else ",".join(str(w) for w in wrt)
    out = [f"# Generated by s2sgrad {__version__} from {file_name}. Do not edit: regenerate it "
           f"with",
           "# `s2sgrad gen`; `s2sgrad check` tells whether it still matches its source.",
           f"{GEN_TAG} version={__version__} mode={mode} functions={selection} wrt={wrt_option}"
           + (" signatures=none" if general else "")]
    for c in choices:
        sources = ",".join(f"{k}:{v}" for k, v in inputs[c.name].items())
        made_for = ""
        if c.signature is not None:     # last: its text has spaces
            key = "signature" if c.signature_from == "annotations" else "given-signature"
            made_for = f" {key}={signature_text(c.signature)}"
        out.append(f"{INPUT_TAG} {c.name} wrt={','.join(c.wrt)} sources={sources}{made_for}")
    what = "Gradients" if mode == "reverse" else "Forward-mode derivatives"
    doc = [f'"""{what} of {file_name}, generated by s2sgrad: '
           f'{", ".join(c.name for c in choices)}.', ""]
    for c in choices:
        doc.extend(describe(c, wrappers[c.name], entries[c.name]))
    if skipped:
        doc.append(f"Not differentiated: {', '.join(s.name for s in skipped)} (s2sgrad gen "
                   f"says why; --func chooses the functions).")
    doc.append('"""')
    out += doc + [""] + imports
    for c in choices:
        header_line = functions[entries[c.name]][0]
        lines = wrapper(c, wrappers[c.name], entries[c.name], header_line)
        if lines:
            out += ["", ""] + lines
    for fdef in builder.functions:
        out += ["", ""] + functions[fdef.name]
    text = "\n".join(out) + "\n"
    gen = Generated(text, module.__name__, mode, [(c.name, c.wrt) for c in choices], inputs,
                    selection, wrt_option)
    gen.skipped = skipped
    gen.signatures = {c.name: (c.signature, c.signature_from) for c in choices}
    return gen


def _line(fn):
    fn = getattr(fn, "__wrapped__", fn)
    return getattr(getattr(fn, "__code__", None), "co_firstlineno", 0)


def _buildable(build, choices):
    """``(the choices whose gradient can be generated, a Skip for each other one)``.

    Each function is transformed alone; when none can be, the first one's
    error is raised (it says what to change).
    """
    ok, failed, first = [], [], None
    for c in choices:
        try:
            build([c])
        except S2SGradError as exc:
            first = first or exc
            failed.append(Skip(c.name, _where(c.fn), "its gradient cannot be generated: "
                               + " ".join(str(exc).split())))
        else:
            ok.append(c)
    if not ok:
        raise first
    return ok, failed


# ---------------------------------------------------------------------------
# Files and checking
# ---------------------------------------------------------------------------

def output_path(module_path, out=None, many=False, mode="reverse"):
    """Where ``s2sgrad gen`` writes the gradient (``_grad.py``) or tangent code (``_jvp.py``)."""
    stem = os.path.splitext(os.path.basename(module_path))[0]
    fname = f"{stem}_{MODES[mode].suffix}.py"
    if out is None:
        return os.path.join(os.path.dirname(module_path), fname)
    if many or os.path.isdir(out) or out.endswith(("/", os.sep)):
        return os.path.join(out, fname)
    return out


def is_generated(path):
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline().startswith("# Generated by s2sgrad")
    except (OSError, UnicodeDecodeError):
        return False


def module_files(directory):
    """The user modules in a directory: every ``.py`` file but generated ones and ``__init__``."""
    out = []
    for fname in sorted(os.listdir(directory)):
        path = os.path.join(directory, fname)
        if fname.endswith(".py") and fname != "__init__.py" and os.path.isfile(path) \
                and not is_generated(path):
            out.append(path)
    return out


def parse_header(text):
    """``(options, inputs)`` recorded in a generated file's header, or ``(None, None)``."""
    options, inputs = None, {}
    for line in text.splitlines()[:200]:
        if line.startswith(GEN_TAG):
            options = dict(item.split("=", 1) for item in line[len(GEN_TAG):].split()
                           if "=" in item)
        elif line.startswith(INPUT_TAG):
            rest = line[len(INPUT_TAG):]
            made_for = None
            for key, given in ((" signature=", False), (" given-signature=", True)):
                if key in rest:
                    rest, _, text = rest.partition(key)
                    made_for = (text.strip(), given)
            fields = rest.split()
            if not fields:
                continue
            info = dict(item.split("=", 1) for item in fields[1:] if "=" in item)
            sources = {}
            for item in filter(None, info.get("sources", "").split(",")):
                nm, _, digest = item.partition(":")
                sources[nm] = digest
            inputs[fields[0]] = {"wrt": info.get("wrt", "").split(","), "sources": sources,
                                 "signature": made_for}
        elif not line.startswith("#"):
            break
    return options, inputs


def check(module_path, generated_path):
    """The reasons ``generated_path`` is stale for ``module_path``; empty when it is current.

    Raises ``GenError`` (and the compiler's own errors) when it cannot tell.
    """
    shown = generated_path
    if not os.path.isfile(generated_path):
        return [f"{shown}: missing (no gradient has been generated for {module_path})"]
    try:
        with open(generated_path, encoding="utf-8", newline="") as f:
            old = f.read()
    except UnicodeDecodeError:
        raise GenError(f"{shown}: not a file written by s2sgrad gen (it is not UTF-8 text)") \
            from None
    options, old_inputs = parse_header(old)
    if options is None:
        raise GenError(f"{shown}: not a file written by s2sgrad gen (no '{GEN_TAG}' line)")
    problems = []
    if options.get("version") != __version__:
        problems.append(f"{shown}: generated by s2sgrad {options.get('version', '?')}; this is "
                        f"s2sgrad {__version__}")
    funcs = None if options.get("functions", "all") == "all" else \
        options["functions"].split(",")
    wrt = None if options.get("wrt", "first") == "first" else options["wrt"].split(",")
    mode = options.get("mode", "reverse")
    general = options.get("signatures") == "none"
    given = {}          # the --signature options it was generated with
    for nm, info in old_inputs.items():
        if info["signature"] is not None and info["signature"][1]:
            try:
                given[nm] = parse_signature_option(nm + info["signature"][0])[1]
            except GenError:
                raise GenError(f"{shown}: the signature recorded for {nm} cannot be read: "
                               f"{info['signature'][0]!r}") from None
    with load_module(module_path) as module:
        present = {nm for nm, _ in public_functions(module)} | {
            nm for nm in vars(module) if isinstance(getattr(module, nm), types.FunctionType)}
        if funcs:
            gone = [nm for nm in funcs if nm not in present]
            for nm in gone:
                problems.append(f"{shown}: {nm} is stale: {module_path} has no function {nm!r} "
                                f"any more")
            funcs = [nm for nm in funcs if nm not in gone]
            if not funcs:
                return problems
        new = generate_from(module, module_path, funcs, wrt, mode, given, general)
    for nm, old_info in old_inputs.items():
        if nm not in new.inputs:
            skip = [s for s in new.skipped if s.name == nm]
            if skip:
                problems.append(f"{shown}: {nm} is stale: s2sgrad gen now leaves it out "
                                f"({skip[0].where}: {skip[0].reason})")
            elif not funcs:
                problems.append(f"{shown}: {nm} is stale: it is no longer a public function "
                                f"of {module_path}")
            continue
        now = new.inputs[nm]
        changed = [s for s in now if old_info["sources"].get(s) != now[s]]
        dropped = [s for s in old_info["sources"] if s not in now]
        wrt_now = dict(new.functions)[nm]
        sig_now, sig_from = new.signatures[nm]
        sig_now = None if sig_now is None else signature_text(sig_now)
        sig_old = (old_info["signature"] or (None,))[0]
        if changed or dropped or old_info["wrt"] != wrt_now or sig_old != sig_now:
            why = []
            if changed:
                why.append("changed: " + ", ".join(changed))
            if dropped:
                why.append("no longer called: " + ", ".join(dropped))
            if old_info["wrt"] != wrt_now:
                why.append(f"now differentiated with respect to {', '.join(wrt_now)}")
            if sig_old != sig_now:
                why.append(f"specialized to {sig_old}, its annotations now give {sig_now}"
                           if sig_old and sig_now else
                           f"now specialized to {sig_now} (its annotations)" if sig_now else
                           f"specialized to {sig_old}, its annotations now give no signature")
            problems.append(f"{shown}: {nm} is stale ({'; '.join(why)})")
    for nm in new.inputs:
        if nm not in old_inputs:
            problems.append(f"{shown}: {nm} is stale: {module_path} defines it, but it has no "
                            f"gradient here")
    if not problems and new.text != old.replace("\r\n", "\n"):   # a CRLF checkout is the same
        problems.append(f"{shown}: differs from what s2sgrad {__version__} generates for "
                        f"{module_path} (edited by hand, or the rule library changed)")
    return problems


def overwrite_problem(path, source, inputs=(), force=False):
    """Why ``s2sgrad gen`` must not write the gradient of ``source`` to ``path``, or ``None``.

    A file that does not exist yet, or one s2sgrad generated (its first line
    says so), may be replaced; anything else only with ``force``, and never a
    module being read (``source`` or one of ``inputs``), nor a directory.
    """
    if not os.path.lexists(path):
        return None
    for module_path in [source, *inputs]:
        with contextlib.suppress(OSError):
            if os.path.samefile(path, module_path):
                what = "the module itself" if module_path == source else \
                    f"a module s2sgrad is reading ({module_path})"
                return (f"{path} is {what}: refusing to replace it with the gradient of "
                        f"{source} (give another output with -o)")
    if os.path.isdir(path):
        return f"{path} is a directory"
    if force or is_generated(path):
        return None
    return (f"{path} exists and is not a file s2sgrad generated (its first line is not "
            f"'# Generated by s2sgrad'): refusing to overwrite it; move it away, choose "
            f"another output with -o, or use --force to replace it")


def _temp_names(path):
    """Names for the temporary file beside ``path``: a predictable one, then random ones."""
    directory, base = os.path.split(os.path.abspath(path))
    yield os.path.join(directory, f".{base}.{os.getpid()}.tmp")
    for _ in range(100):
        yield os.path.join(directory, f".{base}.{os.getpid()}.{os.urandom(6).hex()}.tmp")


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file and a rename.

    The temporary file is created exclusively (``O_EXCL``: never through a
    file or a symbolic link someone put at its name) in ``path``'s directory,
    and removed if anything fails.  An ``OSError`` becomes a ``GenError``
    naming ``path``.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) \
        | getattr(os, "O_BINARY", 0)
    created = None          # the temporary file this call made, until it is renamed
    try:
        for tmp in _temp_names(path):
            try:
                fd = os.open(tmp, flags, 0o666)
            except FileExistsError:
                continue
            created = tmp
            break
        else:
            raise FileExistsError(f"no free temporary file name beside {path}")
        with open(fd, "wb") as f:
            f.write(text.encode("utf-8"))
        os.replace(created, path)
        created = None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise GenError(f"{path}: cannot write it: {reason}") from None
    finally:
        if created is not None:
            with contextlib.suppress(OSError):
                os.unlink(created)
