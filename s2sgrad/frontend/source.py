"""Where a function comes from: its source text, file and lines, globals and closure.

``FunctionSource.of(fn)`` reads a live function (or a bound method, or a
lambda among several on one line) and parses it with gast, keeping the user's
line numbers.  ``resolve`` tells what a name in the function's body refers to
at transform time: a closure cell, a global, a builtin.
"""

import ast
import builtins
import hashlib
import inspect
import linecache
import os
import re
import textwrap
import types

import gast

import s2sgrad.naming as naming
from ..sites import cited_at, display_path  # noqa: F401 (display_path: re-exported)
from ..errors import SourceError
from ..syntax import copy_tree, definition_lines, parse as _gast_parse, walk as _walk

__all__ = ["FunctionSource", "display_path"]


class FunctionSource:
    """The parsed source of one user function and the environment it runs in."""

    def __deepcopy__(self, memo):
        return self  # an annotation shared by copies of the AST, never copied

    def __init__(self, fn, node, filename, lines, globals_, closure, self_value=None,
                 has_self=False):
        self.fn = fn                    # the function object (None for nested defs)
        self.node = node                # gast.FunctionDef, line numbers as in the file
        self.filename = filename        # the file as Python knows it
        self.lines = lines              # the file's lines, for comments in generated code
        self.globals = globals_
        self.closure = closure          # free variable name -> value (cell contents)
        self.self_value = self_value    # the bound instance, for bound methods
        self.has_self = has_self        # first parameter is a bound ``self``
        self.name = node.name
        self.parent = None              # the enclosing FunctionSource, for nested defs
        self.siblings = {}              # functions defined beside a nested def: name -> (def, free)
        self.default_values = {}        # name -> a parameter's default (``normalize``)

    # -- construction -----------------------------------------------------

    @classmethod
    def of(cls, fn):
        """Read the source of a function, bound method or callable object.

        A function made by an s2sgrad operator (``grad(f)``, ``jvp(f)``, ...)
        reads as the generated function it runs (``__s2sgrad__``), so
        derivatives of derivatives transform generated code.
        """
        marker = getattr(fn, "__s2sgrad__", None)
        if marker is not None:
            bound = getattr(marker.fn, "__self__", None) if isinstance(
                marker.fn, types.MethodType) else None
            fn = marker.source_function()
            if bound is not None:   # a derivative of a bound method: its code takes the instance
                fn = types.MethodType(fn, bound)
        self_value = None
        if isinstance(fn, types.MethodType):
            self_value, fn = fn.__self__, fn.__func__
        if not isinstance(fn, types.FunctionType):
            raise SourceError(f"{fn!r} is not a Python function, so it has no source to transform")
        code = fn.__code__
        filename = code.co_filename
        linecache.checkcache(filename)   # an edited, reloaded module: read its text again
        lines = linecache.getlines(filename, fn.__globals__)
        if not lines:
            raise SourceError(
                f"the source of {fn.__qualname__} ({filename}) is not available; it was "
                f"probably made by exec or eval, or typed at an interactive prompt")
        node = _definition(fn, lines)
        _check_current(fn, lines, node)
        closure = {}
        if fn.__closure__:
            for name, cell in zip(code.co_freevars, fn.__closure__):
                try:
                    closure[name] = cell.cell_contents
                except ValueError:  # an empty cell: defined later in the enclosing scope
                    pass
        return cls(fn, node, filename, lines, fn.__globals__, closure, self_value,
                   has_self=self_value is not None)

    def nested(self, node, closure_params, siblings=None):
        """A FunctionSource for a def nested in this one (lifted to module level).

        ``siblings`` are the functions defined next to it (itself included), which
        it may call, recursively too.
        """
        child = FunctionSource(None, node, self.filename, self.lines, self.globals,
                               dict(self.closure))
        child.parent = self
        child.lifted_params = closure_params
        child.siblings = dict(siblings or {})
        return child

    # -- locations --------------------------------------------------------

    @property
    def display_file(self):
        # asked for each statement's citation: looked up once (display_path reads the disk)
        # for this source, which lives for one transform
        shown = self.__dict__.get("_display_file")
        if shown is None or shown[0] != self.filename:
            shown = self._display_file = (self.filename, display_path(self.filename))
        return shown[1]

    def where(self, node=None):
        """``file:line`` of ``node`` (a normalized statement keeps its line as ``s2s_line``)."""
        line = getattr(node, "s2s_line", None) or getattr(node, "lineno", None) or self.node.lineno
        if naming.is_generated_file(self.filename):
            # generated code read again (a derivative of a derivative): the user's line it cites
            cited = cited_at(self.filename, line)
            if cited is not None:
                return cited
        return f"{self.display_file}:{line}"

    def line_text(self, lineno):
        if lineno and 0 < lineno <= len(self.lines):
            return self.lines[lineno - 1].strip()
        return ""

    @property
    def qualname(self):
        if self.fn is not None:
            return self.fn.__qualname__
        return self.name

    @property
    def module_name(self):
        return self.globals.get("__name__", "__main__")

    # -- names ------------------------------------------------------------

    def resolve(self, name):
        """What ``name`` means when the body reads it and does not assign it.

        Returns ``(kind, value)`` with kind ``'closure'``, ``'global'`` or
        ``'builtin'``, or ``(None, None)`` when the name is not defined.
        """
        if name in self.default_values:
            return "default", self.default_values[name]
        if name in self.closure:
            return "closure", self.closure[name]
        try:
            # (by lookup, not ``in``: the globals of a function run under a trace are a
            # mapping that reads through to its module's, fallback.user._Globals)
            return "global", self.globals[name]
        except KeyError:
            pass
        if hasattr(builtins, name):
            return "builtin", getattr(builtins, name)
        return None, None


def _parse(text, first_line):
    """``text`` (a piece of a file starting at line ``first_line``) parsed, with the
    file's line numbers: ``gast.parse(text)`` then ``ast.increment_lineno(tree,
    first_line - 1)``.  The text is parsed after ``first_line - 1`` empty lines rather
    than walked again, where that makes the same tree: everywhere but on the name of a
    caught exception (``except E as e``), which gast makes without a location and
    ``increment_lineno`` gives the line ``first_line - 1``.  A syntax error is the text's
    alone (its line in the text)."""
    if "except" in text:
        tree = _gast_parse(text)
        ast.increment_lineno(tree, first_line - 1)
        return tree
    try:
        return _gast_parse("\n" * (first_line - 1) + text)
    except SyntaxError:
        pass
    return _gast_parse(text)    # (raises it)


_DEFINITIONS = {}   # (id of a code object, function name) -> (code, lines, its parsed def)


def _definition(fn, lines):
    """``_find_definition``, parsed once per function and text: a function is read more
    than once in one transform (the driver's check whether a callee can be transformed,
    then the callee's job), and again by later transforms.  Each reader gets a copy of
    its own.  A hit needs the same code object and the same list of lines from
    ``linecache`` (an edited file that ``checkcache`` read again is a new list)."""
    code = fn.__code__
    key = (id(code), fn.__name__)
    hit = _DEFINITIONS.get(key)
    if hit is not None and hit[0] is code and hit[1] is lines:
        return copy_tree(hit[2])
    node = _find_definition(fn, lines)
    _DEFINITIONS[key] = (code, lines, copy_tree(node))
    if len(_DEFINITIONS) > 256:
        del _DEFINITIONS[next(iter(_DEFINITIONS))]
    return node


def _parse_definition(fn, lines, first):
    """The parsed text of ``fn``'s definition cut by ``syntax.definition_lines`` (what
    ``inspect.getblock`` cuts, without tokenizing), or None where that cut does not parse
    to a definition of that name."""
    block = definition_lines(lines, first - 1) if 0 < first <= len(lines) else None
    if block is None:
        return None
    try:
        tree = _parse(textwrap.dedent("".join(block)), first)
    except (SyntaxError, ValueError):
        return None         # (a cut inside a string or brackets)
    if any(isinstance(n, (gast.FunctionDef, gast.AsyncFunctionDef)) and n.name == fn.__name__
           for n in tree.body):
        return tree
    return None


def _find_definition(fn, lines):
    code = fn.__code__
    first = code.co_firstlineno
    if fn.__name__ == "<lambda>":
        return _find_lambda(fn, lines)
    tree = _parse_definition(fn, lines, first)
    if tree is None:
        try:
            block = inspect.getblock(lines[first - 1:])
        except Exception as exc:  # tokenizer errors on odd sources
            raise SourceError(f"cannot read the source of {fn.__qualname__}: {exc}") from exc
        text = textwrap.dedent("".join(block))
        try:
            tree = _parse(text, first)
        except SyntaxError as exc:
            raise SourceError(f"cannot parse the source of {fn.__qualname__} "
                              f"({display_path(code.co_filename)}:{first}): {exc}") from exc
    for node in tree.body:
        if isinstance(node, (gast.FunctionDef, gast.AsyncFunctionDef)) and node.name == fn.__name__:
            if isinstance(node, gast.AsyncFunctionDef):
                from ..errors import UnsupportedError
                raise UnsupportedError(f"{display_path(code.co_filename)}:{first}",
                                       f"an async function ({fn.__qualname__})",
                                       "calling it returns a coroutine, not the value it "
                                       "computes; differentiate a plain function (def)")
            if not _same_parameters(node.args, code):
                raise SourceError(f"the source of {fn.__qualname__} at "
                                  f"{display_path(code.co_filename)}:{first} is not that of the "
                                  f"running function (the file was edited since it was loaded)")
            node.decorator_list = []
            return node
    raise SourceError(f"cannot find the definition of {fn.__qualname__} in "
                      f"{display_path(code.co_filename)}:{first} (if the file was edited "
                      f"after the function was loaded, its text there is not the code that "
                      f"runs; reload the module to differentiate the new text)")


_COMPILED = {}      # (filename, text hash) -> the file's text compiled, or None
_CURRENT = {}       # (id of a code object, function name) -> (code, lines) found current


def _check_current(fn, lines, node):
    """Raise ``SourceError`` unless the text read for ``fn`` is that of the code that runs.

    A source file edited on disk after its module was imported still runs the old
    code, while ``linecache`` gives the new text: transforming it would
    differentiate other code than the code that runs (another constant, or, if
    lines moved, another piece of the file).  The code object is the truth: the
    file's text is compiled and the code compiled at ``fn``'s first line must be
    ``fn``'s (its bytecode, constants and names).  Only files on disk are checked
    (text registered in ``linecache`` by other tools is taken as it is).

    The answer for a code object and a list of lines from ``linecache`` is kept (the
    driver reads a callee when it checks whether it can be transformed, then in its
    job; an edited file that ``checkcache`` read again is a new list, checked again).
    """
    code = fn.__code__
    key = (id(code), fn.__name__)
    hit = _CURRENT.get(key)
    if hit is not None and hit[0] is code and hit[1] is lines:
        return
    _check_text(fn, lines, node)
    _CURRENT[key] = (code, lines)
    if len(_CURRENT) > 256:
        del _CURRENT[next(iter(_CURRENT))]


def _check_text(fn, lines, node):
    code = fn.__code__
    filename = code.co_filename
    if not filename or filename.startswith("<") or not os.path.isfile(filename):
        return
    if any(isinstance(n, gast.Assert) for n in _walk(node)) and _rewritten(fn):
        return          # pytest rewrote this test module's asserts: its code is not the text's
    if _definition_compiles_to(fn, lines):
        return
    text = "".join(lines)
    key = (filename, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())
    if key not in _COMPILED:
        try:
            _COMPILED[key] = compile(text, filename, "exec", dont_inherit=True,
                                     flags=_future_flags(code))
        except (SyntaxError, ValueError):
            _COMPILED[key] = None
        if len(_COMPILED) > 64:
            del _COMPILED[next(iter(_COMPILED))]
    compiled = _COMPILED[key]
    if compiled is not None and any(_same_code(c, code) for c in _code_at(compiled, code)):
        return
    raise SourceError(
        f"the source of {fn.__qualname__} in {display_path(filename)} is not the code that "
        f"runs: the file was edited after the function was loaded (the text at line "
        f"{code.co_firstlineno} now compiles to other code); reload the module (or restart) "
        f"to differentiate the new text")


def _definition_compiles_to(fn, lines):
    """Whether the text of ``fn``'s definition alone (``syntax.definition_lines``, at its
    lines) compiles to ``fn``'s code: then that text is the code that runs, and the whole
    file need not be compiled (its cost grows with the file, the definition's does not).
    A definition whose code depends on what encloses it (a closure's free variables, a
    class's private names) compiles to other code alone: the file is compiled then."""
    code = fn.__code__
    first = code.co_firstlineno
    if fn.__name__ == "<lambda>" or not 0 < first <= len(lines):
        return False
    block = definition_lines(lines, first - 1)
    if block is None:
        return False
    try:
        compiled = compile("".join(_imports_only(lines, first - 1))
                           + textwrap.dedent("".join(block)),
                           code.co_filename, "exec", dont_inherit=True,
                           flags=_future_flags(code))
    except (SyntaxError, ValueError):
        return False
    return any(_same_code(c, code) for c in _code_at(compiled, code))


_IMPORT_LINE = re.compile(r"(import\s+\w|from\s+\.*[\w.]*\s+import\b)")


def _imports_only(lines, end):
    """``lines[:end]`` with the lines of the module's import statements at column 0 kept
    and every other line blank: a name a module-level ``import`` binds compiles other
    code (``np.sum(x)`` loads the attribute rather than a method), so the definition is
    compiled with them, at their lines.  (An import this misses, or a line it keeps that
    is not one, at worst makes other code: the file is compiled then.)"""
    out, keep, depth, continued = [], False, 0, False
    for text in lines[:end]:
        if depth <= 0 and not continued:
            keep = _IMPORT_LINE.match(text) is not None
            depth = 0
        out.append(text if keep else "\n")
        if keep:
            depth += text.count("(") - text.count(")")
            continued = text.rstrip("\r\n").endswith("\\")
        else:
            continued = False
    return out


_FUTURE_MASK = 0
for _name in ("annotations", "generator_stop", "barry_as_FLUFL"):
    _feature = getattr(__import__("__future__"), _name, None)
    if _feature is not None:
        _FUTURE_MASK |= _feature.compiler_flag


def _future_flags(code):
    return code.co_flags & _FUTURE_MASK


def _rewritten(fn):
    loader = fn.__globals__.get("__loader__")
    return "AssertionRewrit" in type(loader).__name__


def _code_at(code, target):
    """The code objects nested in ``code`` with ``target``'s name and first line."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_name == target.co_name and const.co_firstlineno == target.co_firstlineno:
                yield const
            yield from _code_at(const, target)


def _same_code(a, b):
    if (a.co_code != b.co_code or a.co_names != b.co_names or a.co_varnames != b.co_varnames
            or a.co_freevars != b.co_freevars or len(a.co_consts) != len(b.co_consts)):
        return False
    for x, y in zip(a.co_consts, b.co_consts):
        if isinstance(x, types.CodeType) or isinstance(y, types.CodeType):
            if not (isinstance(x, types.CodeType) and isinstance(y, types.CodeType)
                    and _same_code(x, y)):
                return False
        elif type(x) is not type(y) or repr(x) != repr(y):
            return False
    return True


def _same_parameters(args, code):
    """Whether parsed parameters ``args`` are those of ``code`` (the source is the code's)."""
    names = [a.id for a in list(args.posonlyargs) + list(args.args) + list(args.kwonlyargs)]
    n = code.co_argcount + code.co_kwonlyargcount
    return names == list(code.co_varnames[:n])


def _find_lambda(fn, lines):
    """The lambda among those on its first line whose code this function runs.

    Python 3.11 code objects know the columns of their instructions, which
    tells lambdas that share a line apart.
    """
    code = fn.__code__
    first = code.co_firstlineno
    # Parse the smallest run of lines around the lambda's line that parses: starting at
    # that line, or, for a lambda on a continuation line, at an earlier one.
    tree = None
    for start in range(first, max(0, first - 20), -1):
        tree, removed = _parse_run(lines, start, first)
        if tree is not None and any(isinstance(n, gast.Lambda) and n.lineno == first
                                    for n in _walk(tree)):
            break
        tree = None
    if tree is None:
        raise SourceError(f"cannot parse the line that defines the lambda at "
                          f"{display_path(code.co_filename)}:{first} (if the file was edited "
                          f"after the function was loaded, its text there is not the code that "
                          f"runs; reload the module to differentiate the new text)")
    lambdas = [n for n in _walk(tree) if isinstance(n, gast.Lambda) and n.lineno == first]
    lambdas = [n for n in lambdas if _same_parameters(n.args, code)]
    if len(lambdas) > 1:
        lambdas = _pick_by_columns(lambdas, code, removed)
    if not lambdas:
        raise SourceError(f"no lambda on {display_path(code.co_filename)}:{first} is that of the "
                          f"running function (the file was edited since it was loaded)")
    if len(lambdas) != 1:
        raise SourceError(f"cannot tell which lambda on {display_path(code.co_filename)}:{first} "
                          f"is being differentiated")
    lam = lambdas[0]
    node = gast.FunctionDef(name="lambda_fn", args=lam.args,
                            body=[gast.Return(value=lam.body)], decorator_list=[],
                            returns=None, type_comment=None, type_params=[])
    gast.copy_location(node, lam)
    node.body[0].lineno = lam.lineno
    return node


def _parse_run(lines, start, first):
    """The parse of the shortest run of lines from ``start`` (through ``first``) that parses,
    and how many columns of the lambda's line parsing removed (its indentation, stripped,
    less the parenthesis added around a lone expression; continuation lines keep theirs):
    ``(tree, removed)``, or ``(None, 0)``."""
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    for end in range(first, min(len(lines), first + 50) + 1):
        text = "".join(lines[start - 1:end]).strip()
        for candidate, paren in ((text, 0), ("(" + text + ")", 1)):
            try:
                tree = _parse(candidate, start)
            except SyntaxError:
                continue
            return tree, (indent - paren if first == start else 0)
    return None, 0


def _pick_by_columns(lambdas, code, removed):
    """The lambdas whose body covers the columns of the code's instructions.

    The source was parsed stripped and dedented (and maybe wrapped in
    parentheses): a parsed column plus ``removed`` is a column of the file.
    """
    cols = {c for (ln, _, c, _) in code.co_positions() if ln == code.co_firstlineno and c is not None}
    if not cols:
        return lambdas
    picked = []
    for lam in lambdas:
        start = getattr(lam.body, "col_offset", None)
        end = getattr(lam.body, "end_col_offset", None)
        if start is None:
            continue
        if any(start + removed <= c < (end or start) + removed for c in cols):
            picked.append(lam)
    return picked or lambdas
