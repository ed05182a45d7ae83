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
   first line carries the SHA-256 of the rest; an entry that does not hash
   right, or that was stored under another key, is never compiled and is
   regenerated.  The directory is created private to the user (``0o700``),
   and one that other users could write to is not used.

``S2SGRAD_CACHE=off`` turns the disk cache off (the in-process memo stays: it
is what makes a gradient function cheap to call).  ``s2sgrad cache info`` and
``s2sgrad cache clear`` look at and empty the disk cache.

This module is imported with ``s2sgrad`` and must not import the compiler
(gast, astor, the transforms): a disk hit in a fresh process costs a file
read, a few hashes and loading the code object.
"""

import base64
import collections
import hashlib
import inspect
import json
import linecache
import marshal
import os
import sys
import types
import warnings

from ..loader import compile_source, filename_for, register  # noqa: F401 (re-exported)
from ..version import __version__

__all__ = [
    "get", "recall", "compile_source", "cache_dir", "disk_enabled", "info", "clear",
    "function_digest", "stats", "forget", "remember",
]

FORMAT = 2
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
        root = os.path.dirname(os.path.abspath(__file__))
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
    for p in parts:
        h.update(p.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def entry_key(fn, options):
    """The content key of the transformation of ``fn`` with ``options``."""
    import numpy
    lib = library_digests()
    h = hashlib.sha256()
    for p in (MAGIC, str(FORMAT), __version__, lib["rules"], lib["compiler"],
              numpy.__version__, "%d.%d" % sys.version_info[:2], repr(options),
              "method" if isinstance(fn, types.MethodType) else "function",
              function_digest(fn)):
        h.update(p.encode() + b"\0")
    return h.hexdigest()


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
    if not cacheable:
        stats["not_cacheable"] += 1
        return None, checks
    entry = {"key": key, "s2sgrad": __version__, "options": repr(options),
             "entry": interface["entry"], "interface": interface,
             "source": source, "bindings": bindings, "watch": watch, "deps": deps}
    return entry, checks


def _valid_path(path):
    return isinstance(path, list) and all(
        isinstance(s, list) and s and s[0] in ("g", "c", "a", "self", "func", "code")
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
    checks = [([["code"]] if not isinstance(fn, types.MethodType) else [["func"], ["code"]],
               _plain(fn).__code__)]
    for path, _ in entry["deps"]:
        try:
            f = follow(fn, path)
            checks += [(path, f), (path + [["code"]], f.__code__)]
        except Exception:
            pass
    for nm, path in entry["bindings"]:
        checks.append((path, symbols[nm]))
    for path in entry["watch"]:
        try:
            checks.append((path, follow(fn, path)))
        except Exception:
            pass
    return module, checks, code


# ---------------------------------------------------------------------------
# The disk store
# ---------------------------------------------------------------------------

_warned = set()


def _warn_once(message):
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, RuntimeWarning, stacklevel=4)


def _usable_dir(create):
    """The entries directory if it is usable (created private when ``create``), else ``None``."""
    root = cache_dir()
    entries = _entries_dir(root)
    try:
        if create:
            for d in (root, entries):
                if not os.path.isdir(d):
                    os.makedirs(d, mode=0o700, exist_ok=True)
                    os.chmod(d, 0o700)
        if not os.path.isdir(entries):
            return None
        if hasattr(os, "getuid"):
            for d in (root, entries):
                st = os.stat(d)
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    _warn_once(f"s2sgrad: not using the cache directory {d}: other users can "
                               f"write to it (make it private with chmod 700, or set "
                               f"S2SGRAD_CACHE_DIR)")
                    return None
    except OSError as exc:
        _warn_once(f"s2sgrad: the disk cache is off: {exc}")
        return None
    return entries


def entry_path(key, entries=None):
    return os.path.join(entries or _entries_dir(cache_dir()), key + ".s2sgrad")


def encode_entry(entry):
    body = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8")
    digest = hashlib.sha256(body).hexdigest()
    return f"{MAGIC} {FORMAT} {digest}\n".encode() + body


def decode_entry(data, key):
    """The entry in ``data`` if it is whole, hashes right and was stored under ``key``.

    Returns ``(entry, None)`` or ``(None, reason)``.
    """
    head, sep, body = data.partition(b"\n")
    parts = head.split(b" ")
    if not sep or len(parts) != 3 or parts[0] != MAGIC.encode():
        return None, "not_an_entry"
    if parts[1] != str(FORMAT).encode():
        return None, "other_format"
    if hashlib.sha256(body).hexdigest().encode() != parts[2]:
        return None, "bad_hash"
    try:
        entry = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, "bad_json"
    if not isinstance(entry, dict) or not _well_formed(entry, key):
        return None, "foreign"
    return entry, None


def load(key):
    """The valid entry stored under ``key`` on disk, or ``None``."""
    entries = _usable_dir(create=False)
    if entries is None:
        return None
    path = entry_path(key, entries)
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_ENTRY_BYTES + 1)
    except OSError:
        return None
    entry, why = decode_entry(data, key)
    if entry is None:
        stats["rejected:" + why] += 1
    return entry


def store(key, entry):
    """Write ``entry`` under ``key``, atomically; failures only cost the cache."""
    entries = _usable_dir(create=True)
    if entries is None:
        return False
    data = encode_entry(entry)
    final = entry_path(key, entries)
    tmp = os.path.join(entries, f".tmp-{os.getpid()}-{os.urandom(6).hex()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except BaseException:
            os.unlink(tmp)
            raise
        os.replace(tmp, final)
    except OSError as exc:
        _warn_once(f"s2sgrad: cannot write to the disk cache ({exc})")
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
    stats["stored"] += 1
    return True


def info():
    """A description of the disk cache: where, whether on, how many entries, how big."""
    root = cache_dir()
    entries = _entries_dir(root)
    count = size = temp = 0
    if os.path.isdir(entries):
        for fname in os.listdir(entries):
            path = os.path.join(entries, fname)
            if fname.endswith(".s2sgrad"):
                count += 1
                size += os.path.getsize(path)
            elif fname.startswith(".tmp-"):
                temp += 1
    mode = None
    if os.path.isdir(root):
        mode = oct(os.stat(root).st_mode & 0o777)
    return {"directory": root, "enabled": disk_enabled(), "entries": count, "bytes": size,
            "temporary_files": temp, "mode": mode, "s2sgrad": __version__,
            **{f"{k}_hash": v for k, v in library_digests().items()}}


def clear():
    """Delete every entry (and leftover temporary file); returns how many files went."""
    entries = _entries_dir(cache_dir())
    removed = 0
    if os.path.isdir(entries):
        for fname in os.listdir(entries):
            if fname.endswith(".s2sgrad") or fname.startswith(".tmp-"):
                try:
                    os.unlink(os.path.join(entries, fname))
                    removed += 1
                except OSError:
                    pass
    forget()
    return removed


# ---------------------------------------------------------------------------
# Lookup
# ---------------------------------------------------------------------------

class _Memo:
    __slots__ = ("value", "checks", "filename", "source")

    def __init__(self, value, checks, filename, source):
        self.value = value
        self.checks = checks
        self.filename = filename
        self.source = source


_MEMO = {}       # (fn, options) -> _Memo
_CONTENT = {}    # content key -> (entry, its code object)


def forget():
    """Empty the in-process caches."""
    _MEMO.clear()
    _CONTENT.clear()


def recall(fn, options):
    """The memoized result for ``(fn, options)`` if nothing it was built from has changed."""
    try:
        memo = _MEMO.get((fn, options))
    except TypeError:   # an unhashable callable
        return None
    if memo is None:
        return None
    for path, obj in memo.checks:
        try:
            if callable(path):          # a check the pipeline added: what a function of fn gives
                current = path(fn)
            else:
                current = fn
                for step in path:
                    current = _step(current, step)
        except Exception:
            return None
        if current is not obj:
            return None
    if memo.filename is not None and memo.filename not in linecache.cache:
        register(memo.source, memo.filename)
    stats["memo_hit"] += 1
    return memo.value


def _remember(fn, options, memo):
    if len(_MEMO) >= _MEMO_SIZE:
        del _MEMO[next(iter(_MEMO))]
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
        key = entry_key(fn, options)
    except Exception:   # no source to hash: the transform will say why, or work without it
        key = None
    if key is not None:
        entry, code = _CONTENT.get(key, (None, None))
        where = "memory_hit"
        if entry is None and disk_enabled():
            entry = load(key)
            where = "disk_hit"
        if entry is not None:
            module, checks, code = _instantiate(fn, entry, options, code)
            if module is not None:
                stats[where] += 1
                _keep(key, entry, code)
                return module, checks
    stats["transform"] += 1
    program, interface, extra_checks = transform(fn, options)
    source = program.module.source()
    namespace, filename, code = compile_source(source, program.module.symbols,
                                               label_of(fn, options))
    module = GeneratedModule(source, filename, namespace, interface, options)
    entry, checks = _entry_from_program(fn, key, options, program, interface, source)
    checks = list(checks) + list(extra_checks)
    if entry is not None:
        entry["code"] = base64.b64encode(marshal.dumps(code)).decode("ascii")
        _keep(key, entry, code)
        if disk_enabled():
            store(key, entry)
    return module, checks


def _keep(key, entry, code):
    if len(_CONTENT) >= _CONTENT_SIZE:
        del _CONTENT[next(iter(_CONTENT))]
    _CONTENT[key] = (entry, code)
