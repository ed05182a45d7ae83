"""Loading generated source as a module: its stable file name, its lines for tracebacks
and debuggers (``linecache``), and the namespace its text runs in.

The code generator, the cache and checked-in gradient files all load code this
way; it needs nothing but the standard library.
"""

import hashlib
import linecache

import s2sgrad.naming as naming

__all__ = ["filename_for", "register", "compile_source"]


def filename_for(source, label):
    """The stable file name of generated code: its label and a hash of its text."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"{naming.GENERATED_FILE}{label}:{digest}>"


def register(source, filename):
    """Make ``linecache`` (tracebacks, pdb, inspect) show ``source`` for ``filename``."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)


def compile_source(source, symbols, label, code=None):
    """Compile generated ``source`` into a namespace, registered with linecache.

    ``symbols`` are the objects bound before the text runs (its own import
    lines bind the rest); ``code``, when given, is the text already compiled
    under the same file name.  Returns ``(namespace, filename, code)``.
    """
    filename = filename_for(source, label)
    register(source, filename)
    if code is None or code.co_filename != filename:
        code = compile(source, filename, "exec", dont_inherit=True)
    namespace = {"__name__": f"s2sgrad_generated.{label}", "__file__": filename}
    namespace.update(symbols)
    exec(code, namespace)
    return namespace, filename, code
