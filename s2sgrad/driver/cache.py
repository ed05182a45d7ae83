"""The cache of generated modules: in memory and on disk.

What is cached is the generated *source text* of a transformation, with what
is needed to bind its names again (the paths from the function to each object
it names) and, to skip compiling it, the code object compiled from that text
(used only when its file name, which hashes the text, matches).

Three layers, tried in order by ``get(fn, options, transform, make)``:

1. The memo, per ``(function object, options)``: the compiled result, checked
   on every call against what it was built from (every user function it
   transformed and every outside object it names, found again from ``fn`` by
   the same names), so redefining a helper in a notebook, or rebinding a
   global constant, is noticed at once.
2. Entries by *content key*: a hash of the source of ``fn`` (and what each
   name it reads refers to), the options, the rule library, the compiler and
   the versions of s2sgrad, numpy and Python.  An entry lists the other user
   functions the transformation read, each with the hash of its source, and is
   used only when they still hash the same.  A function defined again with the
   same source (a notebook cell run twice) finds its entry here without being
   transformed again.
3. The same entries on disk, under ``$S2SGRAD_CACHE_DIR`` or the user's cache
   directory (``~/.cache/s2sgrad`` on Linux, ``~/Library/Caches/s2sgrad`` on
   macOS, ``%LOCALAPPDATA%\\s2sgrad\\Cache`` on Windows).  Each entry is one
   file, written atomically (a private temporary file, then a rename), whose
   first line carries an HMAC-SHA256 of the rest under a random key kept in
   the directory and readable only by the user; an entry that does not
   verify, or that was stored under another key, is never compiled nor run,
   and is regenerated.  The directory is created private to the user
   (``0o700``), opened without following a link, and not used if it is not
   the user's or others could write to it (see "What is trusted" below).

``S2SGRAD_CACHE=off`` turns the disk cache off (the in-process memo stays: it
is what makes a gradient function cheap to call).  ``s2sgrad cache info`` and
``s2sgrad cache clear`` look at and empty the disk cache.

This module is imported with ``s2sgrad`` and must not import the compiler
(gast, astor, the transforms): a disk hit in a fresh process costs a file
read, a few hashes and loading the code object.
"""

import base64
import collections
import contextlib
import errno
import gc
import hashlib
import hmac
import inspect
import json
import linecache
import marshal
import os
import stat as _stat
import sys
import time
import types
import warnings

import s2sgrad.naming as naming
from ..loader import compile_source, filename_for, register  # noqa: F401 (re-exported)
from ..sites import defaults_of, literal_default
from ..version import __version__

__all__ = [
    "get", "recall", "compile_source", "cache_dir", "disk_enabled", "info", "clear",
    "function_digest", "stats", "forget", "remember", "memo_of", "discard", "generation",
    "guard_text", "on_forget", "stale",
    "oldest", "drop_oldest",
]

FORMAT = 3
# The s2sgrad package (this file is in its driver/): what library_digests hashes.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAGIC = "s2sgrad-cache"
_MAX_ENTRY_BYTES = 32 * 1024 * 1024
_MEMO_SIZE = 1024
_CONTENT_SIZE = 256

stats = collections.Counter()   # memo_hit, memory_hit, disk_hit, transform, rejected:<why>, ...


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

def disk_enabled():
    """Whether the disk cache is on: ``S2SGRAD_CACHE`` is not ``off``/``0``/``false``/``no``."""
    value = os.environ.get("S2SGRAD_CACHE", "on").strip().lower()
    return value not in ("off", "0", "false", "no", "none", "disabled")


def cache_dir():
    """The cache directory: ``$S2SGRAD_CACHE_DIR``, else the platform's per-user cache."""
    env = os.environ.get("S2SGRAD_CACHE_DIR")
    if env:
        return os.path.abspath(os.path.expanduser(env))
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
        return os.path.join(base, "s2sgrad", "Cache")
    if sys.platform == "darwin":
        return os.path.expanduser("~/Library/Caches/s2sgrad")
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(xdg):
        xdg = os.path.expanduser("~/.cache")
    return os.path.join(xdg, "s2sgrad")


def _entries_dir(root):
    return os.path.join(root, f"v{FORMAT}")


# ---------------------------------------------------------------------------
# Hashes of what goes in
# ---------------------------------------------------------------------------

_library = {}


def library_digests():
    """``{'rules': ..., 'compiler': ...}``: hashes of the rule library and of the rest of s2sgrad.

    The compiler is hashed too, so that a development checkout whose version
    number has not moved never reads entries made by other code.
    """
    if not _library:
        root = _PACKAGE_ROOT
        rules, compiler = hashlib.sha256(), hashlib.sha256()
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            for fname in sorted(filenames):
                if not fname.endswith(".py"):
                    continue
                path = os.path.join(dirpath, fname)
                rel = os.path.relpath(path, root).replace(os.sep, "/")
                h = rules if rel.startswith("rules/") else compiler
                try:
                    with open(path, "rb") as f:
                        data = f.read()
                except OSError:
                    continue
                h.update(rel.encode() + b"\0" + data + b"\0")
        _library["rules"] = rules.hexdigest()[:16]
        _library["compiler"] = compiler.hexdigest()[:16]
    return dict(_library)


def _plain(fn):
    """The function of a bound method, or ``fn``."""
    return fn.__func__ if isinstance(fn, types.MethodType) else fn


def code_names(code):
    """Every name the code (and the code nested in it) looks up globally or as an attribute."""
    out = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out.extend(code_names(const))
    return out


def _last_line(code):
    """The last source line the code (or code nested in it) was compiled from."""
    last = code.co_firstlineno
    positions = getattr(code, "co_positions", None)     # Python 3.11+
    if positions is None:
        return None
    for start, end, _, _ in positions():
        last = max(last, end or 0, start or 0)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            sub = _last_line(const)
            if sub is None:
                return None
            last = max(last, sub)
    return last


def source_text(fn):
    """The source lines of ``fn``'s definition, line endings normalized."""
    fn = _plain(fn)
    code = fn.__code__
    linecache.checkcache(code.co_filename)      # a module edited and reloaded
    lines = linecache.getlines(code.co_filename, fn.__globals__)
    if not lines:
        raise OSError(f"no source for {fn.__qualname__}")
    first = code.co_firstlineno
    last = _last_line(code)
    if last is not None:
        block = lines[first - 1:last]
    else:
        try:
            block = inspect.getblock(lines[first - 1:])
        except Exception:
            block = lines[first - 1:first]
    return "".join(line.rstrip("\r\n") + "\n" for line in block)


def _describe(value):
    """What a name refers to, as far as the generated text can depend on it."""
    if isinstance(value, types.ModuleType):
        return f"module {value.__name__}"
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, types.MethodType):
        return f"method {_describe(value.__func__)} of {type(value.__self__).__qualname__}"
    if callable(value) or isinstance(value, type):
        mod = getattr(value, "__module__", None)
        qual = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
        if isinstance(mod, str) and isinstance(qual, str):
            return f"{kind} {mod}.{qual}"
        return kind
    dtype = getattr(value, "dtype", None)
    if dtype is not None:
        return f"{kind} {dtype} ndim={getattr(value, 'ndim', '?')}"
    if isinstance(value, (tuple, list)):
        return f"{kind} len={len(value)}"
    return kind


def _environment(fn):
    """``name -> description`` of every global, closure or builtin name ``fn`` reads."""
    fn = _plain(fn)
    code = fn.__code__
    env = {}
    closure = dict(zip(code.co_freevars, fn.__closure__ or ()))
    builtins_ = fn.__globals__.get("__builtins__", {})
    if isinstance(builtins_, types.ModuleType):
        builtins_ = vars(builtins_)
    for nm in sorted(set(code_names(code)) | set(code.co_freevars)):
        if nm in closure:
            try:
                env[nm] = "closure " + _describe(closure[nm].cell_contents)
            except ValueError:
                env[nm] = "closure <empty>"
        elif nm in fn.__globals__:
            env[nm] = _describe(fn.__globals__[nm])
        elif nm in builtins_:
            env[nm] = "builtin " + _describe(builtins_[nm])
    return env


def _code_digest(code, h):
    """Feed the compiled form of ``code`` to ``h``: tells apart two lambdas on one line."""
    h.update(code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, h)
        else:
            h.update(repr(const).encode("utf-8", "surrogatepass") + b"\0")


def function_digest(fn):
    """A hash of everything about ``fn`` its generated code depends on.

    Its source text and compiled code, where it is (the generated code cites
    file and line), its module and name, and what each outside name it reads
    refers to (a different helper, another array module), but not the values
    of data.
    """
    fn = _plain(fn)
    code = fn.__code__
    h = hashlib.sha256()
    _code_digest(code, h)
    parts = [fn.__module__ or "", fn.__qualname__, os.path.basename(code.co_filename),
             os.path.basename(os.path.dirname(code.co_filename)), str(code.co_firstlineno),
             source_text(fn)]
    parts += [f"{k}={v}" for k, v in _environment(fn).items()]
    # Defaults with a literal are written into the generated code; others are bound to it.
    for k, v in defaults_of(fn):
        parts.append(f"default {k}=" + (repr(v) if literal_default(v) else _describe(v)))
        # The generated code names a default by the global it came from while that global is
        # still the same object (p=WAVELENGTH): which globals are, is part of the key.
        same = sorted(n for n, g in fn.__globals__.items() if g is v and not n.startswith("__"))
        parts.append(f"default {k} is {same}")
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def entry_key(fn, options):
    """The content key of the transformation of ``fn`` with ``options`` on disk."""
    return disk_key(content_key(fn, options))


def content_key(fn, options):
    """The content key of the transformation of ``fn`` with ``options`` in this process:
    ``entry_key`` but for the hashes of s2sgrad's own files, which cannot change the code
    a process has loaded (and take milliseconds to compute: only the disk needs them)."""
    import numpy
    h = hashlib.sha256()
    for p in (MAGIC, str(FORMAT), __version__, numpy.__version__,
              "%d.%d" % sys.version_info[:2], repr(options),
              "method" if isinstance(fn, types.MethodType) else "function",
              function_digest(fn)):
        h.update(p.encode() + b"\0")
    return h.hexdigest()


def disk_key(key):
    """The key on disk of the entry of content key ``key``: with the hashes of the rule
    library and of the compiler (``library_digests``)."""
    lib = library_digests()
    return hashlib.sha256(f"{key}\0{lib['rules']}\0{lib['compiler']}".encode()).hexdigest()


# ---------------------------------------------------------------------------
# Finding objects again from the function: paths
# ---------------------------------------------------------------------------
#
# A path is a list of steps from the function being differentiated:
#   ["g", name]   a global of a function          ["c", name]  a closure cell
#   ["a", name]   an attribute of a module, class or instance, looked up
#                 statically (no property or __getattr__ runs)
#   ["self"] / ["func"]  of a bound method         ["code"]  a function's code

_MAX_DEPTH = 5
_NOTHING = object()


def _static_attr(obj, nm):
    if isinstance(obj, types.ModuleType):
        return vars(obj).get(nm, _NOTHING)
    if not isinstance(obj, type):
        d = getattr(obj, "__dict__", None)
        if isinstance(d, dict) and nm in d:
            return d[nm]
        obj = type(obj)
    for klass in getattr(obj, "__mro__", ()):
        if nm in vars(klass):
            value = vars(klass)[nm]
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            return value
    return _NOTHING


def _step(obj, step):
    kind = step[0]
    if kind == "g":
        return obj.__globals__[step[1]]
    if kind == "c":
        code = obj.__code__
        return obj.__closure__[code.co_freevars.index(step[1])].cell_contents
    if kind == "a":
        value = _static_attr(obj, step[1])
        if value is _NOTHING:
            raise LookupError(step[1])
        return value
    if kind == "self":
        return obj.__self__
    if kind == "func":
        return obj.__func__
    if kind == "code":
        return obj.__code__
    if kind == "d":
        for nm, value in defaults_of(obj):
            if nm == step[1]:
                return value
        raise LookupError(f"no default for {step[1]!r}")
    raise LookupError(f"bad step {step!r}")


def follow(root, path):
    """The object at ``path`` from ``root``; raises on any failure."""
    obj = root
    for step in path:
        obj = _step(obj, step)
    return obj


def _edges(obj, names, expand_functions):
    if isinstance(obj, types.FunctionType):
        if obj not in expand_functions:
            return
        code = obj.__code__
        for nm, value in defaults_of(obj):      # first: a default is not the global it came from
            yield ("d", nm), value
        for nm, cell in zip(code.co_freevars, obj.__closure__ or ()):
            try:
                yield ("c", nm), cell.cell_contents
            except ValueError:
                pass
        g = obj.__globals__
        for nm in dict.fromkeys(code_names(code)):
            if nm in g:
                yield ("g", nm), g[nm]
    elif isinstance(obj, types.MethodType):
        yield ("func",), obj.__func__
        yield ("self",), obj.__self__
    elif isinstance(obj, (int, float, complex, str, bytes, bool)) or obj is None:
        return
    elif isinstance(obj, (types.ModuleType, type)) or hasattr(obj, "__dict__"):
        if type(obj).__module__ in ("numpy", "builtins") and not isinstance(
                obj, (types.ModuleType, type)):
            return
        for nm in names:
            value = _static_attr(obj, nm)
            if value is not _NOTHING:
                yield ("a", nm), value


def locate(root, targets, functions):
    """Paths from ``root`` to each object in ``targets`` (a list); ``None`` where not found.

    A breadth-first walk through the names the user's ``functions`` read, so
    each path is the shortest, and the same in every process.
    """
    names = sorted({nm for fn in functions for nm in code_names(fn.__code__)} | {"__call__"})
    expand = set(functions)
    want = {id(t): t for t in targets}
    found = {}
    start = [(root, ())]
    seen = {id(root)}
    if id(root) in want:
        found[id(root)] = ()
    queue = collections.deque(start)
    while queue and len(found) < len(want):
        obj, path = queue.popleft()
        if len(path) >= _MAX_DEPTH:
            continue
        for step, child in _edges(obj, names, expand):
            cpath = path + (step,)
            if id(child) in want and id(child) not in found and want[id(child)] is child:
                found[id(child)] = cpath
            if id(child) not in seen:
                seen.add(id(child))
                queue.append((child, cpath))
    return [list(map(list, found[id(t)])) if id(t) in found else None for t in targets]


# ---------------------------------------------------------------------------
# Compiling generated source
# ---------------------------------------------------------------------------

class GeneratedModule:
    """A generated module, compiled: its text, its file name for tracebacks, its namespace."""

    def __init__(self, source, filename, namespace, interface, options):
        self.source = source
        self.filename = filename
        self.namespace = namespace
        self.interface = interface  # plain data: the names that matter (``pipeline``)
        self.entry = interface["entry"]     # the name of the entry function
        self.options = options

    @property
    def function(self):
        return self.namespace[self.entry]


def label_of(fn, options=None):
    """``module.qualname.grad``: what the generated code is the derivative of."""
    fn = _plain(fn)
    qual = getattr(fn, "__qualname__", None) or type(fn).__qualname__
    label = f"{getattr(fn, '__module__', None) or 'main'}.{qual}"
    label += "." + getattr(options, "label", "grad")
    return label.replace("<locals>", "locals").replace("<lambda>", "lambda")


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------

def _entry_from_program(fn, key, options, program, interface, source):
    """The cache entry of a fresh transformation, or ``None`` when it cannot be re-bound later.

    Returns ``(entry, checks)``: ``checks`` are ``(path, object)`` pairs the
    memo verifies on every call.
    """
    root_fn = _plain(fn)
    dep_fns = []
    for job in program.jobs.values():
        f = getattr(job.fsrc, "fn", None)
        if isinstance(f, types.FunctionType) and f not in dep_fns:
            dep_fns.append(f)
    if root_fn not in dep_fns:
        dep_fns.insert(0, root_fn)
    symbols = program.module.symbols
    _, runtime_bound = program.module.import_lines()
    sym_names = sorted(symbols)
    targets = dep_fns + [symbols[n] for n in sym_names]
    paths = locate(fn, targets, dep_fns)
    dep_paths, sym_paths = paths[:len(dep_fns)], paths[len(dep_fns):]
    checks = []
    cacheable = key is not None
    deps = []
    for f, path in zip(dep_fns, dep_paths):
        if path is None:
            cacheable = False
            continue
        checks.append((path, f))
        checks.append((path + [["code"]], f.__code__))
        checks += _default_checks(f, path)
        if f is not root_fn:
            try:
                deps.append([path, function_digest(f)])
            except Exception:
                cacheable = False
    bindings, watch = [], []
    for nm, path in zip(sym_names, sym_paths):
        obj = symbols[nm]
        if nm in runtime_bound:
            if path is None:
                cacheable = False
            bindings.append([nm, path])
        elif path is not None and not isinstance(obj, types.ModuleType):
            watch.append(path)
        if path is not None and not isinstance(obj, types.ModuleType):
            checks.append((path, obj))
    reads = []
    path_of = {f: p for f, p in zip(dep_fns, dep_paths) if p is not None}
    # A global name through which one of the program's functions calls another (itself, for
    # a recursion) still refers to it: the shortest path to each function is checked above,
    # but a recursion's own name (``f`` inside ``f``) is not on it.
    for f, path in path_of.items():
        g = f.__globals__
        for nm in dict.fromkeys(code_names(f.__code__)):
            v = g.get(nm)
            if isinstance(v, types.FunctionType) and v in path_of \
                    and path_of[v] != path + [["g", nm]]:
                checks.append((path + [["g", nm]], v))
    for f, kind, base, attrs in program.static_reads():
        if f not in path_of:
            continue
        path = path_of[f] + [["g" if kind == "global" else "c", base]] + [["a", a] for a in attrs]
        try:
            obj = follow(fn, path)
        except Exception:
            continue        # not found statically (a property): the source key still holds
        checks.append((path, obj))
        reads.append([path, _describe(obj)])
    if not cacheable:
        stats["not_cacheable"] += 1
        return None, checks
    entry = {"key": key, "s2sgrad": __version__, "options": repr(options),
             "entry": interface["entry"], "interface": interface,
             "source": source, "bindings": bindings, "watch": watch, "deps": deps,
             "reads": reads}
    return entry, checks


def _default_checks(f, path):
    """Memo checks that ``f``'s defaults are still the objects the code was made with
    (assigning ``f.__defaults__`` or ``f.__kwdefaults__`` is noticed at the next call)."""
    return [(path + [["d", nm]], value) for nm, value in defaults_of(f)]


def _valid_path(path):
    return isinstance(path, list) and all(
        isinstance(s, list) and s and s[0] in ("g", "c", "a", "self", "func", "code", "d")
        and all(isinstance(x, str) for x in s) for s in path)


def _well_formed(entry, key):
    try:
        return (entry["key"] == key and isinstance(entry["source"], str)
                and isinstance(entry["entry"], str) and entry["entry"].isidentifier()
                and isinstance(entry["interface"], dict)
                and entry["interface"].get("entry") == entry["entry"]
                and all(isinstance(n, str) and n.isidentifier() and _valid_path(p)
                        for n, p in entry["bindings"])
                and isinstance(entry.get("code", ""), str)
                and all(_valid_path(p) for p in entry["watch"])
                and all(_valid_path(p) and isinstance(d, str) for p, d in entry.get("reads", ()))
                and all(_valid_path(p) and isinstance(d, str) for p, d in entry["deps"]))
    except (KeyError, TypeError, ValueError):
        return False


def _instantiate(fn, entry, options, code=None):
    """Compile a cached entry for the live ``fn``, or ``None`` if it no longer applies.

    Every user function the entry was generated from must still hash the same,
    and every name bound at compile time is found again from ``fn``.
    """
    try:
        for path, digest in entry["deps"]:
            if function_digest(follow(fn, path)) != digest:
                stats["stale_dependency"] += 1
                return None, None, None
        for path, described in entry.get("reads", ()):
            if _describe(follow(fn, path)) != described:     # cfg.act is another function now
                stats["stale_dependency"] += 1
                return None, None, None
        symbols = {nm: follow(fn, path) for nm, path in entry["bindings"]}
    except Exception:
        stats["stale_dependency"] += 1
        return None, None, None
    if code is None and isinstance(entry.get("code"), str):
        try:
            code = marshal.loads(base64.b64decode(entry["code"]))
        except Exception:
            code = None
    try:
        namespace, filename, code = compile_source(entry["source"], symbols,
                                                   label_of(fn, options), code)
    except Exception:
        stats["rejected:does_not_compile"] += 1
        return None, None, None
    module = GeneratedModule(entry["source"], filename, namespace, entry["interface"], options)
    root = [] if not isinstance(fn, types.MethodType) else [["func"]]
    checks = [(root + [["code"]], _plain(fn).__code__)] + _default_checks(_plain(fn), root)
    for path, _ in entry["deps"]:
        try:
            f = follow(fn, path)
            checks += [(path, f), (path + [["code"]], f.__code__)] + _default_checks(f, path)
        except Exception:
            pass
    for nm, path in entry["bindings"]:
        checks.append((path, symbols[nm]))
    for path in entry["watch"] + [path for path, _ in entry.get("reads", ())]:
        try:
            checks.append((path, follow(fn, path)))
        except Exception:
            pass
    return module, checks, code


# ---------------------------------------------------------------------------
# The disk store
# ---------------------------------------------------------------------------
#
# What is trusted.  The cache directory is opened once per read or write,
# without following a symbolic link at its last component, and used only if
# what was opened is a directory that belongs to this user and that nobody
# else can write to; every file in it is then opened relative to that open
# directory (never by path again), so swapping the path for a link or another
# directory between the check and the use changes nothing.  The directory
# holds a random key, readable only by the user (``0o600``), and each entry
# carries an HMAC-SHA256, with that key, of everything in it: the generated
# text, the code object compiled from it, the content key it is stored under
# and the rest.  An entry that does not verify is never compiled nor run: it
# is a miss, regenerated and overwritten, with one warning.  Whoever can read
# the key (the user, root) is trusted; nobody else is.

_KEY_FILE = "key"
_KEY_BYTES = 32
_ENTRY_SUFFIX = ".s2sgrad"
_TMP_PREFIX = ".tmp-"
_STALE_SECONDS = 600        # a temporary file this old belongs to a writer that died

_PACKAGE_DIRS = tuple({os.path.dirname(os.path.dirname(__file__)) + os.sep,
                       _PACKAGE_ROOT + os.sep})
_SAFE_OPEN = (hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
              and os.open in os.supports_dir_fd and os.listdir in os.supports_fd)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_OPEN_FLAGS = _NOFOLLOW | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)

_warned = set()


class CacheError(Exception):
    """The disk cache cannot be used, read or emptied; the message says why and what to do."""


class _Refused(Exception):
    """The cache directory (or its key) is not safe to use; the message says why."""


def _internal(filename):
    return filename.startswith(_PACKAGE_DIRS) or naming.is_generated_file(filename)


def _warn_once(message, kind=None):
    """Warn once per process for each ``kind`` (default: the message), at the user's call.

    The warning points at the first frame outside s2sgrad (and outside
    generated code): the line of the user's program that asked for a gradient.
    """
    kind = kind or message
    if kind in _warned:
        return
    _warned.add(kind)
    level, frame = 2, sys._getframe(1)
    while frame is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    warnings.warn(message, RuntimeWarning, stacklevel=level)


def _euid():
    return os.geteuid() if hasattr(os, "geteuid") else None


class _Dir:
    """An open directory: files in it are opened, renamed and removed relative to it.

    On platforms without ``dir_fd`` (Windows) it falls back to paths.
    """

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def join(self, name):
        return os.path.join(self.path, name)

    def _at(self, name):
        if self.fd is None:
            return self.join(name), {}
        return name, {"dir_fd": self.fd}

    def open(self, name, flags, mode=0o600):
        target, kw = self._at(name)
        return os.open(target, flags | _OPEN_FLAGS, mode, **kw)

    def unlink(self, name):
        target, kw = self._at(name)
        os.unlink(target, **kw)

    def lstat(self, name):
        target, kw = self._at(name)
        return os.stat(target, follow_symlinks=False, **kw)

    def rename(self, src, dst):
        if self.fd is None:
            os.replace(self.join(src), self.join(dst))
        else:
            os.rename(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def link(self, src, dst):
        if self.fd is None:
            os.link(self.join(src), self.join(dst))
        else:
            os.link(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd, follow_symlinks=False)

    def listdir(self):
        return os.listdir(self.fd if self.fd is not None else self.path)

    def stat(self):
        return os.fstat(self.fd) if self.fd is not None else os.stat(self.path)


def _check_private(st, path, what="cache directory"):
    """Raise ``_Refused`` unless ``st`` is of something this user owns and only they can write."""
    euid = _euid()
    if euid is None:
        return
    if st.st_uid != euid:
        raise _Refused(f"not using the {what} {path}: it belongs to another user "
                       f"(uid {st.st_uid}); set S2SGRAD_CACHE_DIR to a directory of your own")
    if st.st_mode & 0o022:
        raise _Refused(f"not using the {what} {path}: other users can write to it "
                       f"(make it private with chmod 700, or set S2SGRAD_CACHE_DIR)")


def _open_dir(name, parent=None, create=False):
    """Open directory ``name`` (in ``parent``, or a path) without following a link at it.

    Returns a ``_Dir``, or ``None`` when it does not exist and ``create`` is
    false.  Raises ``_Refused`` when it is a link, not a directory, not the
    user's or writable by others, and ``OSError`` when it cannot be opened.
    """
    path = parent.join(name) if parent is not None else name
    if parent is not None and parent.fd is not None:
        target, kw = name, {"dir_fd": parent.fd}
    else:
        target, kw = path, {}
    made, not_made = False, None
    if create:
        try:
            os.mkdir(target, 0o700, **kw)
            made = True
        except FileExistsError:
            pass
        except OSError as exc:      # a read-only parent: it may exist all the same
            not_made = exc
    if not _SAFE_OPEN:
        if not os.path.isdir(path):
            if not os.path.lexists(path) and not create:
                return None
            raise _Refused(f"not using the cache directory {path}: it is not a directory")
        d = _Dir(path, None)
    else:
        try:
            fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | _OPEN_FLAGS, **kw)
        except FileNotFoundError:
            if not_made is not None:
                raise not_made from None
            if create:
                raise
            return None
        except OSError as exc:
            try:
                st = os.stat(target, follow_symlinks=False, **kw)
            except OSError:
                raise exc from None
            if _stat.S_ISLNK(st.st_mode):
                raise _Refused(f"not using the cache directory {path}: it is a symbolic link "
                               f"(set S2SGRAD_CACHE_DIR to a real directory of your own)")
            if not _stat.S_ISDIR(st.st_mode):
                raise _Refused(f"not using the cache directory {path}: it is not a directory")
            raise
        d = _Dir(path, fd)
    try:
        st = d.stat()
        if made and st.st_uid == _euid() and st.st_mode & 0o777 != 0o700 and d.fd is not None:
            os.fchmod(d.fd, 0o700)
            st = d.stat()
        _check_private(st, path)
    except BaseException:
        d.close()
        raise
    return d


class _Store:
    """The cache directory and its entries directory, both open and checked."""

    def __init__(self, root, entries):
        self.root = root
        self.entries = entries

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.entries is not None:
            self.entries.close()
        self.root.close()


def _entries_name():
    return f"v{FORMAT}"


def _open_store(create):
    """The open cache directory and entries directory; ``None`` when absent (and not ``create``).

    Raises ``_Refused`` or ``OSError``; the parents of the cache directory are
    created (with the user's umask) when ``create``, and are trusted as they are.
    """
    root_path = cache_dir()
    if create:
        os.makedirs(os.path.dirname(root_path), exist_ok=True)
    root = _open_dir(root_path, create=create)
    if root is None:
        return None
    try:
        entries = _open_dir(_entries_name(), root, create=create)
    except BaseException:
        root.close()
        raise
    return _Store(root, entries)


def _usable_dir(create):
    """The open, checked store, or ``None`` (with one warning that says why) if unusable."""
    try:
        store_ = _open_store(create)
    except _Refused as exc:
        _warn_once(f"s2sgrad: {exc}", "refused:" + str(exc))
        return None
    except OSError as exc:
        _warn_once(f"s2sgrad: the disk cache is off: cannot use {cache_dir()}: "
                   f"{exc.strerror or exc}; gradients are computed without it (set "
                   f"S2SGRAD_CACHE=off to turn it off)", "open:" + str(exc.errno))
        return None
    if store_ is not None and store_.entries is None:
        store_.root.close()
        return None
    return store_


def _read_all(fd, limit):
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _read_secret(root):
    """The user's key in the open cache directory ``root``, or ``None`` if there is none yet."""
    try:
        fd = root.open(_KEY_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except OSError as exc:
        try:
            if _stat.S_ISLNK(root.lstat(_KEY_FILE).st_mode):
                raise _Refused(f"not using the cache key {root.join(_KEY_FILE)}: it is a "
                               f"symbolic link (remove it: s2sgrad makes a new key)") from None
        except OSError:
            pass
        raise exc
    try:
        st = os.fstat(fd)
        if not _stat.S_ISREG(st.st_mode):
            raise _Refused(f"not using the cache key {root.join(_KEY_FILE)}: it is not a "
                           f"regular file (remove it: s2sgrad makes a new key)")
        euid = _euid()
        if euid is not None and (st.st_uid != euid or st.st_mode & 0o077):
            raise _Refused(f"not using the cache key {root.join(_KEY_FILE)}: other users can "
                           f"read or write it, or it is not yours (remove it: s2sgrad makes a "
                           f"new key, and the entries made with the old one are regenerated)")
        data = _read_all(fd, _KEY_BYTES)
    finally:
        os.close(fd)
    if len(data) != _KEY_BYTES:
        raise _Refused(f"not using the cache key {root.join(_KEY_FILE)}: it is damaged "
                       f"(remove it: s2sgrad makes a new key)")
    return data


def _make_secret(root):
    """Create the user's key in ``root`` (or find the one another process just made)."""
    tmp = f"{_TMP_PREFIX}key-{os.getpid()}-{os.urandom(6).hex()}"
    fd = root.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            _write_all(fd, os.urandom(_KEY_BYTES))
        finally:
            os.close(fd)
        try:
            root.link(tmp, _KEY_FILE)      # appears whole, or not at all; never replaces one
        except FileExistsError:
            pass
        except (OSError, NotImplementedError):     # no hard links here: create it in place
            try:
                fd = root.open(_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                try:
                    _write_all(fd, os.urandom(_KEY_BYTES))
                finally:
                    os.close(fd)
    finally:
        try:
            root.unlink(tmp)
        except OSError:
            pass
    return _read_secret(root)


def secret(create=False):
    """The key that authenticates this user's cache entries (``None`` if there is none yet).

    Raises ``CacheError`` when the cache directory or its key cannot be used.
    """
    try:
        with _open_store(create) or _nothing() as st:
            if st is None:
                return None
            key = _read_secret(st.root)
            if key is None and create:
                key = _make_secret(st.root)
            return key
    except (_Refused, OSError) as exc:
        raise CacheError(str(exc)) from None


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def entry_path(key, entries=None):
    """Where the entry stored under ``key`` is (for messages and tools: entries are never opened by it)."""
    return os.path.join(entries or _entries_dir(cache_dir()), key + _ENTRY_SUFFIX)


def _mac(secret_, body):
    return hmac.new(secret_, f"{MAGIC}\0{FORMAT}\0".encode() + body, hashlib.sha256).hexdigest()


def encode_entry(entry, secret_):
    """The bytes of ``entry``: a header with the HMAC-SHA256, under ``secret_``, of the JSON body."""
    body = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return f"{MAGIC} {FORMAT} {_mac(secret_, body)}\n".encode() + body


def decode_entry(data, key, secret_):
    """The entry in ``data`` if it is whole, authenticated by ``secret_`` and stored under ``key``.

    Returns ``(entry, None)`` or ``(None, reason)``.  The MAC covers the whole
    body (the text, the code object compiled from it, the key it was stored
    under), so nothing in an entry that does not verify is ever used.
    """
    head, sep, body = data.partition(b"\n")
    parts = head.split(b" ")
    if not sep or len(parts) != 3 or parts[0] != MAGIC.encode():
        return None, "not_an_entry"
    if parts[1] != str(FORMAT).encode():
        return None, "other_format"
    if not hmac.compare_digest(_mac(secret_, body).encode(), parts[2]):
        return None, "bad_mac"
    try:
        entry = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, "bad_json"
    if not isinstance(entry, dict) or not _well_formed(entry, key):
        return None, "foreign"
    return entry, None


_REJECTED = {
    "not_an_entry": "it is not a cache entry (damaged, or written by another program)",
    "bad_mac": "it does not carry this user's signature (damaged, or not written by s2sgrad "
               "for this user)",
    "bad_json": "it is signed with this user's key but this s2sgrad cannot read it",
    "foreign": "it is signed with this user's key but was made for another name (a renamed "
               "file?) or by another s2sgrad",
    "not_a_file": "it is not a regular file",
    "not_ours": "it belongs to another user",
    "too_big": "it is too large to be an entry",
}


def load(key):
    """The authenticated entry stored under ``key`` on disk, or ``None``."""
    st = _usable_dir(create=False)
    if st is None:
        return None
    with st:
        try:
            secret_ = _read_secret(st.root)
        except _Refused as exc:
            _warn_once(f"s2sgrad: {exc}", "refused:key")
            return None
        except OSError as exc:
            _warn_once(f"s2sgrad: the disk cache is off: cannot read its key in "
                       f"{st.root.path}: {exc.strerror or exc}", "read:key")
            return None
        if secret_ is None:
            return None
        name = key + _ENTRY_SUFFIX
        why = None
        try:
            fd = st.entries.open(name, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            try:
                is_file = _stat.S_ISREG(st.entries.lstat(name).st_mode)
            except OSError:
                is_file = True
            if is_file:
                _warn_once(f"s2sgrad: cannot read the disk cache entry {st.entries.join(name)}: "
                           f"{exc.strerror or exc}; it is regenerated", "read:entry")
                return None
            why = "not_a_file"
        else:
            try:
                info_ = os.fstat(fd)
                euid = _euid()
                if not _stat.S_ISREG(info_.st_mode):
                    why = "not_a_file"
                elif euid is not None and info_.st_uid != euid:
                    why = "not_ours"
                elif info_.st_size > _MAX_ENTRY_BYTES:
                    why = "too_big"
                else:
                    data = _read_all(fd, _MAX_ENTRY_BYTES)
            except OSError as exc:
                _warn_once(f"s2sgrad: cannot read the disk cache entry {st.entries.join(name)}: "
                           f"{exc.strerror or exc}; it is regenerated", "read:entry")
                return None
            finally:
                os.close(fd)
        entry = None
        if why is None:
            entry, why = decode_entry(data, key, secret_)
        if entry is None:
            stats["rejected:" + why] += 1
            if why != "other_format":
                _warn_once(f"s2sgrad: ignored the disk cache entry {st.entries.join(name)}: "
                           f"{_REJECTED[why]}; nothing in it was run, and it is regenerated",
                           "rejected")
        return entry


def _stale(entries, name, now, everything=False):
    """Whether temporary file ``name`` was left by a writer that is gone.

    Its name carries the writer's process id: on POSIX a process that no
    longer exists left it; otherwise it is stale when older than
    ``_STALE_SECONDS``.  ``everything``: also a live writer's old file.
    """
    try:
        age = now - entries.lstat(name).st_mtime
    except OSError:
        return False
    if age > _STALE_SECONDS:
        return True
    if os.name == "posix" and everything:
        parts = name[len(_TMP_PREFIX):].split("-")
        pid = parts[1] if parts[0] == "key" and len(parts) > 1 else parts[0]
        if pid.isdigit() and int(pid) != os.getpid():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return True
            except OSError:
                pass
    return False


def _clean_temporary(d, everything=False):
    """Remove the temporary files dead writers left in open directory ``d``.

    Returns ``(removed, failures)``, ``failures`` a list of ``(name, OSError)``.
    """
    removed, failures = 0, []
    now = time.time()
    for name in d.listdir():
        if name.startswith(_TMP_PREFIX) and _stale(d, name, now, everything):
            try:
                d.unlink(name)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                failures.append((name, exc))
    return removed, failures


def store(key, entry):
    """Write ``entry`` under ``key``, atomically; failures only cost the cache (one warning)."""
    st = _usable_dir(create=True)
    if st is None:
        return False
    with st:
        tmp = None
        try:
            secret_ = _read_secret(st.root) or _make_secret(st.root)
            if secret_ is None:     # made, then removed by someone else at once
                raise OSError(errno.ENOENT, f"its key {st.root.join(_KEY_FILE)} disappeared")
            data = encode_entry(entry, secret_)
            tmp = f"{_TMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}"
            fd = st.entries.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                _write_all(fd, data)
            finally:
                os.close(fd)
            st.entries.rename(tmp, key + _ENTRY_SUFFIX)
            tmp = None
        except _Refused as exc:
            _warn_once(f"s2sgrad: {exc}", "refused:key")
            return False
        except OSError as exc:
            _warn_once(f"s2sgrad: cannot write to the disk cache in {st.root.path}: "
                       f"{exc.strerror or exc}; gradients are computed without it (set "
                       f"S2SGRAD_CACHE=off to turn it off)", "write")
            return False
        finally:
            if tmp is not None:
                try:
                    st.entries.unlink(tmp)
                except OSError:
                    pass
        for d in (st.entries, st.root):     # what writers killed long ago left behind
            try:
                _clean_temporary(d)
            except OSError:
                pass
    stats["stored"] += 1
    return True


def info():
    """A description of the disk cache: where, whether on and usable, how many entries, how big.

    ``problem`` is ``None``, or why the cache is not used or cannot be read;
    then ``entries`` and ``bytes`` are ``None`` (not known), never ``0``.
    """
    root = cache_dir()
    out = {"directory": root, "enabled": disk_enabled(), "entries": 0, "bytes": 0,
           "temporary_files": 0, "mode": None, "problem": None, "s2sgrad": __version__,
           **{f"{k}_hash": v for k, v in library_digests().items()}}
    try:
        st = _open_store(create=False)
    except (_Refused, OSError) as exc:
        st = None
        out.update(entries=None, bytes=None, temporary_files=None,
                   problem=str(exc) if isinstance(exc, _Refused)
                   else f"cannot read {exc.filename or root}: {exc.strerror or exc}")
        try:
            out["mode"] = oct(os.stat(root, follow_symlinks=False).st_mode & 0o777)
        except OSError:
            pass
        return out
    if st is None:
        return out
    with st:
        out["mode"] = oct(st.root.stat().st_mode & 0o777)
        if st.entries is None:
            return out
        try:
            count = size = temp = 0
            for name in st.entries.listdir():
                if name.endswith(_ENTRY_SUFFIX):
                    try:
                        size += st.entries.lstat(name).st_size
                    except FileNotFoundError:      # removed meanwhile
                        continue
                    count += 1
                elif name.startswith(_TMP_PREFIX):
                    temp += 1
        except OSError as exc:
            out.update(entries=None, bytes=None, temporary_files=None,
                       problem=f"cannot read {st.entries.path}: {exc.strerror or exc}")
            return out
        out.update(entries=count, bytes=size, temporary_files=temp)
    return out


def clear():
    """Delete every entry, and the temporary files dead writers left; returns how many files went.

    Entries of older formats (other ``v*`` directories) go too.  Raises
    ``CacheError`` (saying how many did go) when the directory is not safe to
    use or a file cannot be removed.
    """
    forget()
    try:
        root = _open_dir(cache_dir(), create=False)
    except (_Refused, OSError) as exc:
        msg = str(exc) if isinstance(exc, _Refused) else \
            f"cannot open {exc.filename or cache_dir()}: {exc.strerror or exc}"
        raise CacheError(f"{msg}; nothing was removed") from None
    if root is None:
        return 0
    removed, failures = 0, []
    with _Store(root, None):
        try:
            names = root.listdir()
        except OSError as exc:
            raise CacheError(f"cannot read {root.path}: {exc.strerror or exc}; nothing was "
                             f"removed") from None
        try:
            n, fails = _clean_temporary(root, everything=True)
            removed += n
            failures += [(root.join(f), e) for f, e in fails]
        except OSError as exc:
            failures.append((root.path, exc))
        for sub in sorted(names):
            if not (sub[:1] == "v" and sub[1:].isdigit()):
                continue
            try:
                d = _open_dir(sub, root)
            except (_Refused, OSError) as exc:
                failures.append((root.join(sub), exc))
                continue
            if d is None:
                continue
            try:
                for name in d.listdir():
                    if name.endswith(_ENTRY_SUFFIX):
                        try:
                            d.unlink(name)
                            removed += 1
                        except FileNotFoundError:
                            pass
                        except OSError as exc:
                            failures.append((d.join(name), exc))
                n, fails = _clean_temporary(d, everything=True)
                removed += n
                failures += [(d.join(f), e) for f, e in fails]
            except OSError as exc:
                failures.append((d.path, exc))
            finally:
                d.close()
    if failures:
        where, exc = failures[0]
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CacheError(
            f"could not remove {len(failures)} file{'s' if len(failures) > 1 else ''} from "
            f"{cache_dir()} (the first: {where}: {why}); removed {removed}")
    return removed


# ---------------------------------------------------------------------------
# Lookup
# ---------------------------------------------------------------------------

class _Memo:
    """A memoized value and the checks it was made under (see ``recall``).

    ``holds(fn)`` runs the checks: one compiled function per memo (``_guard``)
    comparing each object found again from ``fn`` with the one the value was made
    from, by identity, so that a call path may keep the value and ask again on
    every call (``driver.calls``) at the cost of a few attribute reads.
    """

    __slots__ = ("value", "checks", "filename", "source", "_guard")

    def __init__(self, value, checks, filename, source):
        self.value = value
        self.checks = checks
        self.filename = filename
        self.source = source
        self._guard = None

    def holds(self, fn):
        """Whether every object the value was made from is still the one found from ``fn``."""
        guard = self._guard
        if guard is None:
            guard = self._guard = _compile_guard(self.checks)
        return guard(fn)


def _always(fn):
    return True


def _cell(fn, name):
    return fn.__closure__[fn.__code__.co_freevars.index(name)].cell_contents


def _attr(obj, name):
    value = _static_attr(obj, name)
    if value is _NOTHING:
        raise LookupError(name)
    return value


def _default(fn, name):
    return _step(fn, ("d", name))


# How each step of a path (see ``_step``) reads, as an expression on the expression ``e``.
_STEP_TEXT = {
    "g": lambda e, s: f"{e}.__globals__[{s[1]!r}]",
    "c": lambda e, s: f"_cell({e}, {s[1]!r})",
    "a": lambda e, s: f"_attr({e}, {s[1]!r})",
    "self": lambda e, s: f"{e}.__self__",
    "func": lambda e, s: f"{e}.__func__",
    "code": lambda e, s: f"{e}.__code__",
    "d": lambda e, s: f"_default({e}, {s[1]!r})",
}


def guard_text(checks, names):
    """The text of one expression of ``fn`` that is true when every ``(path, object)``
    check holds (the object at ``path`` from ``fn``, or for a callable ``path`` what it
    returns for ``fn``, is ``object``), the objects it names added to ``names``; ``None``
    for a path no step can follow (a check that never holds).  It may raise where a path
    cannot be followed: a failed check.  Equivalent to following each path with ``_step``,
    without the interpretation; ``_compile_guard`` and the call path's runners
    (``driver.calls``) compile it."""
    names.update({"_cell": _cell, "_attr": _attr, "_default": _default})
    terms = []
    for i, (path, obj) in enumerate(checks):
        names[f"_o{i}"] = obj
        if callable(path):
            names[f"_p{i}"] = path
            expr = f"_p{i}(fn)"
        else:
            expr = "fn"
            for step in path:
                text = _STEP_TEXT.get(step[0])
                if text is None or (step[0] in ("g", "c", "a", "d") and
                                    not (len(step) > 1 and isinstance(step[1], str))):
                    return None
                expr = text(expr, step)
        terms.append(f"{expr} is _o{i}")
    return "\n                and ".join(terms) or "True"


def _compile_guard(checks):
    """One function of ``fn`` that is true when every ``(path, object)`` check holds
    (``guard_text``), any failure to follow a path a check that fails."""
    if not checks:
        return _always
    names = {}
    text = guard_text(checks, names)
    if text is None:
        return lambda fn: False       # a path no step can follow
    source = ("def guard(fn):\n    try:\n        return (" + text
              + ")\n    except Exception:\n        return False\n")
    exec(compile(source, "<s2sgrad memo checks>", "exec"), names)
    return names["guard"]


_MEMO = {}       # (fn, options) -> _Memo
_CONTENT = {}    # content key -> (entry, its code object)

# Bumped whenever everything memoized is forgotten (a rule changed, the cache was cleared):
# what a caller kept from ``memo_of`` is valid only while it is the same.
generation = [0]


# Called after ``forget`` and ``stale``: what keeps memoized values without asking again
# (the call path's runners, ``driver.calls``) lets them go.
on_forget = []


def forget():
    """Empty the in-process caches."""
    _MEMO.clear()
    _CONTENT.clear()
    stale()


def stale():
    """What callers kept from ``memo_of`` is not to run again without asking (``generation``
    bumped, ``on_forget`` called): the code to run has changed (``specialize.using``)."""
    generation[0] += 1
    for hook in on_forget:
        hook()


def recall(fn, options):
    """The memoized result for ``(fn, options)`` if nothing it was built from has changed."""
    try:
        memo = _MEMO.get((fn, options))
    except TypeError:   # an unhashable callable
        return None
    if memo is None or not memo.holds(fn):
        return None
    if memo.filename is not None and memo.filename not in linecache.cache:
        register(memo.source, memo.filename)
    stats["memo_hit"] += 1
    return memo.value


def memo_of(fn, options):
    """The memo of ``(fn, options)`` (``.value``, and ``.holds(fn)``: whether it is still
    valid), or ``None``.  What a caller keeps from it is valid while ``.holds(fn)`` and
    ``generation`` is unchanged; ``.filename`` must then be registered with ``linecache``
    (``recall`` does that)."""
    try:
        return _MEMO.get((fn, options))
    except TypeError:
        return None


def discard(fn, options):
    """Forget the memoized result of ``(fn, options)`` (its entry by content stays)."""
    try:
        _MEMO.pop((fn, options), None)
    except TypeError:
        pass


def oldest(table):
    """The first key of ``table`` (a dict used as a bounded cache: its oldest, or least
    recently used, entry), or None: another thread may change the table meanwhile."""
    try:
        return next(iter(table))
    except (StopIteration, RuntimeError):
        return None


def drop_oldest(table):
    """Remove the oldest entry of ``table``: another thread may have removed it, or added
    one, meanwhile (no KeyError, no RuntimeError)."""
    table.pop(oldest(table), None)


def _remember(fn, options, memo):
    if len(_MEMO) >= _MEMO_SIZE:
        drop_oldest(_MEMO)
    try:
        _MEMO[(fn, options)] = memo
    except TypeError:   # an unhashable callable: never memoized
        pass


def remember(fn, options, value, checks=()):
    """Memoize ``value`` for ``(fn, options)``, valid while ``checks`` hold (see ``recall``)."""
    _remember(fn, options, _Memo(value, list(checks), None, None))
    return value


def get(fn, options, transform, make):
    """``make(fn, module)`` for the generated module of ``fn`` with ``options``, cached.

    ``transform(fn, options)`` runs the compiler and returns ``(program,
    interface, checks)``: a ``transform.program.Program`` whose module holds
    the generated functions, plain data naming the ones that matter
    (``interface["entry"]`` the one to call), and checks of its own that the
    memo verifies besides the sources (``(function of fn, object)`` pairs).
    ``options`` is a hashable value with a stable ``repr`` (a
    ``driver.request.Request``).
    """
    hit = recall(fn, options)
    if hit is not None:
        return hit
    module, checks = lookup(fn, options, transform)
    value = make(fn, module)
    _remember(fn, options, _Memo(value, checks, module.filename, module.source))
    return value


def lookup(fn, options, transform):
    """``(module, checks)``: from memory, from disk, or transformed (and then stored)."""
    try:
        key = content_key(fn, options)
    except Exception:   # no source to hash: the transform will say why, or work without it
        key = None
    disk = disk_enabled()
    if key is not None:
        entry, code = _CONTENT.get(key, (None, None))
        where = "memory_hit"
        if entry is None and disk:
            entry = load(disk_key(key))
            where = "disk_hit"
        if entry is not None:
            module, checks, code = _instantiate(fn, entry, options, code)
            if module is not None:
                stats[where] += 1
                _keep(key, entry, code)
                return module, checks
    stats["transform"] += 1
    with _no_collection():
        program, interface, extra_checks = transform(fn, options)
        source = program.module.source()
        namespace, filename, code = compile_source(source, program.module.symbols,
                                                   label_of(fn, options))
    module = GeneratedModule(source, filename, namespace, interface, options)
    entry, checks = _entry_from_program(fn, key, options, program, interface, source)
    checks = list(checks) + list(extra_checks)
    if entry is not None:
        _keep(key, entry, code)
        if disk:
            on_disk = disk_key(key)
            store(on_disk, dict(entry, key=on_disk,
                                code=base64.b64encode(marshal.dumps(code)).decode("ascii")))
    return module, checks


@contextlib.contextmanager
def _no_collection():
    """The cyclic garbage collector paused while a transform runs: the compiler makes and
    drops many small trees, which start dozens of young-generation collections per
    function (3-5% of a first call), and leaves few cycles.  It runs again afterwards.

    Before it runs again, what the transform allocated is moved to the oldest generation
    (``gc.freeze()`` then ``gc.unfreeze()``: CPython merges every generation's list into
    the permanent one, then that one into the oldest, and zeroes the allocation counts,
    all in constant time).  Otherwise the first allocation after ``gc.enable()`` starts a
    young collection over every object allocated while it was off (gmm's first call: 27k
    objects, about 5 ms, 6% of the call), then a middle one over the survivors.  What
    moves is mostly what a transform keeps (the compiler's modules, the rules, the
    generated code), which the oldest generation would receive anyway, and what it drops
    in cycles (about 1.4k small objects for gmm: a pass's recursive closure with the
    trees it held) waits for the next full collection instead of the next young one;
    full collections run as before.  Objects the user froze (``gc.freeze()`` before a
    fork, the count is not zero) would be thawed by ``unfreeze``: then nothing is
    moved; nor in a free-threaded build, whose collector has no generations and whose
    ``freeze`` visits every object."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            if _FREEZE_MOVES_GENERATIONS and not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


# CPython's generational collector (``_no_collection``); ``sys.abiflags`` has a "t" in a
# free-threaded build
_FREEZE_MOVES_GENERATIONS = sys.implementation.name == "cpython" and hasattr(gc, "freeze") \
    and "t" not in getattr(sys, "abiflags", "")


def _keep(key, entry, code):
    if len(_CONTENT) >= _CONTENT_SIZE:
        drop_oldest(_CONTENT)
    _CONTENT[key] = (entry, code)
