"""Abstract signatures: what the compiler may know of the arguments before the code runs.

An *abstract value* says what kind of value a variable holds without its
numbers: a Python ``float``, a NumPy ``float32`` array of rank 2 whose second
axis has length 1, a tuple of two such, ...  The *signature* of a call is the
abstract values of its arguments.  Code specialized to a signature (the
``signature`` field of a ``driver.request.Request``) may use these facts: no
``unbroadcast`` between values of one shape, ``g @ w.T`` for a matrix product,
plain ``*`` on floats.  Code made for ``signature=None`` works for any argument.

An array's axes are described by what decides broadcasting and nothing more:
``ONE`` for an axis of length 1, ``MANY`` for any other length (so a training
loop with fixed shapes, or a new batch size, reuses the same code), and, in the
compiler's analysis only, ``None`` for an axis it does not know.

Abstract values are interned: equal values are the same object, so a signature
(a tuple of them) hashes and compares at C speed on every call.  Their text
(``str``/``repr``) is stable and is what docstrings, cache keys and the command
line use; ``parse`` reads it back.

    float               a Python float (likewise int, bool, complex)
    None                None
    np.float64          a NumPy scalar of that dtype
    float64[n, 1]       an array: dtype, then one entry per axis (``n``: not 1, ``1``, ``?``: unknown)
    float64[]           a 0-d array
    float64[*]          an array of unknown rank
    (float, int64[n])   a tuple; ``[...]`` a list; ``{'a': float}`` a dict
    ?                   anything else (the general code handles it)
"""

import numpy as np

__all__ = ["Abstract", "ONE", "MANY", "ANY", "FLOAT", "INT", "BOOL", "COMPLEX", "NONE",
           "abstract_of", "signature_of", "parse", "parse_signature", "text", "matches", "array"]

ONE = 1
MANY = "n"

_interned = {}


class Abstract:
    """One abstract value (interned: build them with ``Abstract.make`` or the helpers)."""

    __slots__ = ("kind", "dtype", "dims", "items", "_text", "__weakref__")

    # kind is one of: "float", "int", "bool", "complex" (Python numbers), "none",
    # "scalar" (a NumPy scalar; dtype), "array" (dtype, dims), "tuple", "list"
    # (items: a tuple of abstract values), "dict" (items: a tuple of (key, value)
    # pairs), "any" (nothing known).

    @staticmethod
    def make(kind, dtype=None, dims=None, items=None):
        key = (kind, dtype, dims, items)
        a = _interned.get(key)
        if a is None:
            a = object.__new__(Abstract)
            a.kind, a.dtype, a.dims, a.items = kind, dtype, dims, items
            a._text = None
            a = _interned.setdefault(key, a)
        return a

    def __new__(cls, *args, **kwargs):
        return Abstract.make(*args, **kwargs)

    def __reduce__(self):
        return (Abstract.make, (self.kind, self.dtype, self.dims, self.items))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    # identity semantics: interned
    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    @property
    def rank(self):
        """The number of axes (0 for a number or a NumPy scalar), or None if not known."""
        if self.kind == "array":
            return None if self.dims is None else len(self.dims)
        if self.kind in ("float", "int", "bool", "complex", "scalar"):
            return 0
        return None

    @property
    def is_complex(self):
        """Known complex (True), known real (False), or not known (None)."""
        if self.kind == "complex":
            return True
        if self.kind in ("float", "int", "bool"):
            return False
        if self.kind in ("scalar", "array") and self.dtype is not None:
            return np.dtype(self.dtype).kind == "c"
        return None

    def __repr__(self):
        if self._text is None:
            self._text = _text(self)
        return self._text

    __str__ = __repr__


def _text(a):
    k = a.kind
    if k in ("float", "int", "bool", "complex"):
        return k
    if k == "none":
        return "None"
    if k == "any":
        return "?"
    if k == "scalar":
        return f"np.{a.dtype or '?'}"
    if k == "array":
        if a.dims is None:
            return f"{a.dtype or '?'}[*]"
        return f"{a.dtype or '?'}[" + ", ".join(
            "?" if d is None else str(d) for d in a.dims) + "]"
    if k == "tuple":
        inner = ", ".join(map(repr, a.items))
        return f"({inner},)" if len(a.items) == 1 else f"({inner})"
    if k == "list":
        return "[" + ", ".join(map(repr, a.items)) + "]"
    if k == "dict":
        return "{" + ", ".join(f"{key!r}: {v!r}" for key, v in a.items) + "}"
    raise ValueError(k)


def text(signature):
    """The text of a signature (a tuple of abstract values)."""
    return "(" + ", ".join(map(repr, signature)) + ")"


FLOAT = Abstract.make("float")
INT = Abstract.make("int")
BOOL = Abstract.make("bool")
COMPLEX = Abstract.make("complex")
NONE = Abstract.make("none")
ANY = Abstract.make("any")


def array(dtype, dims):
    """An array's abstract value: ``dtype`` a name (``"float64"``) or None, ``dims`` a tuple or None."""
    return Abstract.make("array", dtype, None if dims is None else tuple(dims))


# ---------------------------------------------------------------------------
# At call time: the abstract value of an argument (fast: this runs on every call)
# ---------------------------------------------------------------------------

_SIMPLE = {float: FLOAT, int: INT, bool: BOOL, complex: COMPLEX, type(None): NONE}
_arrays = {}      # (dtype, shape) -> Abstract
_scalars = {}     # dtype -> Abstract
_ndarray = np.ndarray
_generic = np.generic


def abstract_of(v):
    """The abstract value of one run-time value."""
    t = type(v)
    a = _SIMPLE.get(t)
    if a is not None:
        return a
    if t is _ndarray:
        key = (v.dtype, v.shape)
        a = _arrays.get(key)
        if a is None:
            if len(_arrays) > 4096:
                _arrays.clear()
            a = _arrays[key] = Abstract.make(
                "array", v.dtype.name, tuple(ONE if s == 1 else MANY for s in v.shape))
        return a
    if t is tuple or t is list:
        return Abstract.make("tuple" if t is tuple else "list", None, None,
                             tuple([abstract_of(x) for x in v]))
    if t is dict:
        return Abstract.make("dict", None, None,
                             tuple([(k, abstract_of(x)) for k, x in v.items()]))
    if isinstance(v, _generic):
        a = _scalars.get(t)
        if a is None:
            a = _scalars[t] = Abstract.make("scalar", np.dtype(t).name)
        return a
    return ANY


def signature_of(args):
    """The signature of positional arguments: a tuple of abstract values."""
    return tuple([abstract_of(v) for v in args])


def matches(a, v):
    """Whether the run-time value ``v`` has abstract value ``a`` (``?`` entries match anything)."""
    if a is ANY:
        return True
    b = abstract_of(v)
    if a is b:
        return True
    if a.kind != b.kind:
        return False
    if a.kind == "array":
        if a.dtype is not None and a.dtype != b.dtype:
            return False
        if a.dims is None:
            return True
        return len(a.dims) == len(b.dims) and all(
            x is None or x == y for x, y in zip(a.dims, b.dims))
    if a.kind == "scalar":
        return a.dtype is None or a.dtype == b.dtype
    if a.kind in ("tuple", "list"):
        return len(a.items) == len(v) and all(matches(x, y) for x, y in zip(a.items, v))
    if a.kind == "dict":
        return [k for k, _ in a.items] == list(v) and all(
            matches(x, v[k]) for k, x in a.items)
    return False


# ---------------------------------------------------------------------------
# Reading the text back
# ---------------------------------------------------------------------------

_NAMES = {"float": FLOAT, "int": INT, "bool": BOOL, "complex": COMPLEX, "None": NONE, "?": ANY}


def parse(source):
    """The abstract value a text describes (the inverse of ``repr``)."""
    value, rest = _parse(source.strip())
    if rest.strip():
        raise ValueError(f"unexpected {rest.strip()!r} in abstract value {source!r}")
    return value


def parse_signature(source):
    """``"(float, float64[n])"`` or ``"float, float64[n]"``: a tuple of abstract values.

    The inverse of ``text``: ``"(float)"`` is one float argument, ``"((float, int))"``
    one tuple argument.
    """
    s = source.strip()
    if s.startswith("(") and _closing(s) == len(s) - 1:
        s = s[1:-1].strip()
    if s.endswith(","):
        s = s[:-1].rstrip()
    value = parse("(" + s + ",)" if s else "()")
    if value.kind != "tuple":
        raise ValueError(f"not a signature: {source!r}")
    return value.items


def _closing(s):
    """The index of the bracket that closes ``s[0]``, or -1."""
    depth, quote = 0, None
    for i, ch in enumerate(s):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _parse(s):
    s = s.lstrip()
    if not s:
        raise ValueError("an abstract value is missing")
    if s[0] in "([{":
        close = {"(": ")", "[": "]", "{": "}"}[s[0]]
        s = s[1:].lstrip()
        items = []
        trailing_comma = False
        while not s.startswith(close):
            if close != "}":
                item, s = _parse(s)
            else:
                key, s = _parse_key(s)
                s = s.lstrip()
                if not s.startswith(":"):
                    raise ValueError(f"expected ':' in a dict before {s!r}")
                item, s = _parse(s[1:])
                item = (key, item)
            items.append(item)
            s = s.lstrip()
            trailing_comma = s.startswith(",")
            if trailing_comma:
                s = s[1:].lstrip()
            elif not s.startswith(close):
                raise ValueError(f"expected ',' or {close!r} before {s!r}")
        kind = {")": "tuple", "]": "list", "}": "dict"}[close]
        if kind == "tuple" and len(items) == 1 and not trailing_comma:
            return items[0], s[1:]        # parentheses around one value
        return Abstract.make(kind, None, None, tuple(items)), s[1:]
    i = 0
    while i < len(s) and (s[i].isalnum() or s[i] in "_.?"):
        i += 1
    word, s = s[:i], s[i:]
    if not word:
        raise ValueError(f"unexpected {s[:10]!r}")
    if s.startswith("["):
        end = s.index("]")
        inner, s = s[1:end].strip(), s[end + 1:]
        dtype = None if word == "?" else np.dtype(word).name
        if inner == "*":
            return Abstract.make("array", dtype, None), s
        dims = tuple(None if d.strip() == "?" else ONE if d.strip() == "1" else MANY
                     for d in inner.split(",")) if inner else ()
        for d in (inner.split(",") if inner else ()):
            if d.strip() not in ("1", "n", "?") and not d.strip().isdigit():
                raise ValueError(f"an axis is 1, n or ?, not {d.strip()!r}")
        return Abstract.make("array", dtype, dims), s
    if word.startswith("np."):
        return Abstract.make("scalar", np.dtype(word[3:]).name), s
    if word in _NAMES:
        return _NAMES[word], s
    raise ValueError(f"unknown abstract value {word!r}")


def _parse_key(s):
    s = s.lstrip()
    if s[:1] in "'\"":
        q = s[0]
        end = s.index(q, 1)
        return s[1:end], s[end + 1:]
    i = 0
    while i < len(s) and (s[i].isalnum() or s[i] in "_-"):
        i += 1
    word = s[:i]
    return (int(word) if word.lstrip("-").isdigit() else word), s[i:]
