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
import sys
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


def _build_reverse(choices):
    """Transform ``choices`` into one program; ``(program, {name: entry function name})``."""
    from .driver.pipeline import module_program
    program, names = module_program([(c.fn, c.wrt_index) for c in choices], "reverse")
    return program, {c.name: n for c, n in zip(choices, names)}


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
    return ast.unparse(args), ", ".join(names), names


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
            f"{entry_name}: the value of {c.name} and that gradient from one run (the adjoint)."]


def _build_forward(choices):
    """Forward mode: ``jvp_<f>(args..., t_<arg>=...) -> (value, tangent of the value)``."""
    from .driver.pipeline import module_program
    program, names = module_program([(c.fn, c.wrt_index) for c in choices], "forward")
    return program, {c.name: n for c, n in zip(choices, names)}


def _no_wrapper(choice, wrapper_name, entry_name, header_line):
    return []   # the forward entry already takes the tangent and returns the value's tangent


def _describe_forward(c, wrapper_name, entry_name):
    tangents = ", ".join(naming.tangent(w) for w in c.wrt)
    return [f"{entry_name}: the value of {c.name} and its derivative along {tangents} "
            f"(forward mode: what s2sgrad.jvp({c.name}) computes, the tangent a keyword)."]


MODES["reverse"] = Mode(_build_reverse, _wrapper, _describe_reverse, "grad")
MODES["forward"] = Mode(_build_forward, _no_wrapper, _describe_forward, "jvp")


def generate(path, funcs=None, wrt=None, mode="reverse"):
    """The generated gradient module of the module at ``path``: a ``Generated``."""
    with load_module(path) as module:
        return generate_from(module, path, funcs, wrt, mode)


def generate_from(module, shown, funcs=None, wrt=None, mode="reverse"):
    from .codegen import print_function
    from .frontend.source import display_path
    if mode not in MODES:
        raise GenError(f"unknown mode {mode!r} (reverse or forward)")
    choices, skipped = choose(module, shown, funcs, wrt)
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
           f"{GEN_TAG} version={__version__} mode={mode} functions={selection} wrt={wrt_option}"]
    for c in choices:
        sources = ",".join(f"{k}:{v}" for k, v in inputs[c.name].items())
        out.append(f"{INPUT_TAG} {c.name} wrt={','.join(c.wrt)} sources={sources}")
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
            fields = line[len(INPUT_TAG):].split()
            if not fields:
                continue
            info = dict(item.split("=", 1) for item in fields[1:] if "=" in item)
            sources = {}
            for item in filter(None, info.get("sources", "").split(",")):
                nm, _, digest = item.partition(":")
                sources[nm] = digest
            inputs[fields[0]] = {"wrt": info.get("wrt", "").split(","), "sources": sources}
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
        new = generate_from(module, module_path, funcs, wrt, mode)
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
        if changed or dropped or old_info["wrt"] != wrt_now:
            why = []
            if changed:
                why.append("changed: " + ", ".join(changed))
            if dropped:
                why.append("no longer called: " + ", ".join(dropped))
            if old_info["wrt"] != wrt_now:
                why.append(f"now differentiated with respect to {', '.join(wrt_now)}")
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
