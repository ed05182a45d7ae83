"""Random programs built from the constructs the README lists, and the checks of their gradients.

A program is a module: a function ``f(x)`` of a float array of ``N`` items returning a number,
and the helpers, class and closures its statements use.  Its statements read and write three
variables (arrays ``y`` and ``z``, the number ``s``) through the README's constructs: branches,
``for`` and ``while`` loops with ``break`` and ``continue``, in-place, masked and fancy-index
writes, helpers that mutate their argument, lists, dicts and objects holding values,
closures passed to other functions (a user function, ``functools.reduce``, ``map``,
``np.apply_along_axis``), and recursion.

``build(chooser, constructs)`` makes one program; a chooser is anything with
``integer(lo, hi)``, ``choice(options)`` and ``real(lo, hi)`` (``RandomChooser`` below over
``random.Random``, or one over a Hypothesis ``data`` object so that Hypothesis can shrink a
failing program).  ``check(program)`` writes it as a real module file (the compiler reads
source), loads it and checks:

- the gradient against central finite differences, where the function is smooth at the
  point (two step sizes agree; else the program is counted as ``nonsmooth``, not checked);
- forward mode against reverse mode: ``jvp`` along a random direction equals the dot
  product of that direction with the gradient;
- the value, and that the input array is not modified.

It returns an ``Outcome``: ``ok``, ``nonsmooth``, ``wrong`` (with what is wrong) or
``error`` (the exception), and whether the tracing fallback was used.

``check(program, specialized=True)`` runs those checks on the general code and then on code
specialized to the arguments' signature (``s2sgrad.driver.specialize``), which must give the
same value, gradient and tangent to ``gradcheck.AGREE``; a program with an ``argument`` (a key
of ``ARGUMENTS``) also has ``entry(x, p)``, ``f`` called on ``x`` combined with ``p`` of that
signature, whose gradients with respect to both are checked on both codes.
"""

import atexit
import contextlib
import dataclasses
import importlib.util
import itertools
import os
import random
import re
import shutil
import sys
import tempfile
import traceback
import warnings

import numpy as np

N = 4

# Constructs a program may use.  MEMORY_MODEL are the ones that test the compiler's model of
# memory and names (issue 12, items 1-4: aliases, masks, repeated indices, helpers that write
# into their arguments, values kept in objects): the long run (benchmarks/random_programs.py)
# gives each program at most one of them, so that a failure has one suspect.
CONSTRUCTS = ("assign", "if", "for", "while", "break", "continue", "inplace", "slice_write",
              "fancy_read", "fancy_write", "where", "helper", "helper_mutates", "list", "dict",
              "object", "closure_user", "closure_reduce", "closure_map", "closure_along_axis",
              "recursion", "mask_write", "argmax_write", "repeated_index", "object_store",
              "list_alias_write", "write_after_share", "stable_shift", "view_write",
              "list_grown")
# stable_shift: a log-sum-exp, log-softmax or softmax shifted by its maximum, the forms whose
# shift carries no derivative (analysis/shift.py), and near misses it must not take for them.
# view_write: a write through a view that reaches the array viewed (a view of a view, a list of
# views, op= through a view of a new array, a helper returning a view).
# list_grown: a list changed in place so that an item has another shape than the literal's
# (a scalar's place taken by an array): specialized code must not read the literal's items.
# write_after_share: an array written in place after it was given to a helper, put in a list
# or dict, or held by an object (without it, every write first copies the array it writes).
MEMORY_MODEL = ("helper_mutates", "mask_write", "argmax_write", "repeated_index", "object_store",
              "list_alias_write", "write_after_share", "view_write")
SAFE = tuple(c for c in CONSTRUCTS if c not in MEMORY_MODEL)


class RandomChooser:
    """Choices from a ``random.Random``."""

    def __init__(self, seed):
        self.rng = random.Random(seed)

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)

    def choice(self, options):
        return options[self.rng.randrange(len(options))]

    def real(self, lo, hi):
        return round(self.rng.uniform(lo, hi), 2)


# -- expressions ------------------------------------------------------------------------

_ARRAYS = ("x", "y", "z")
_UNARY = ("np.sin({})", "np.tanh({})", "np.cos({})", "({}) * ({})", "np.exp(-({}) * ({}))",
          "({}) / (1.0 + ({}) * ({}))")


def _array_expr(c, depth=2):
    """An expression of shape (N,), bounded for inputs in [-2, 2]."""
    if depth == 0 or c.integer(0, 2) == 0:
        base = c.choice(_ARRAYS)
        return base if c.integer(0, 1) else f"{c.real(0.3, 1.2)} * {base}"
    kind = c.integer(0, 3)
    if kind == 0:
        inner = _array_expr(c, depth - 1)
        return c.choice(_UNARY).replace("{}", inner)
    if kind == 1:
        return f"({_array_expr(c, depth - 1)} {c.choice(('+', '-', '*'))} {_array_expr(c, depth - 1)})"
    if kind == 2:
        return f"({_array_expr(c, depth - 1)} * {_scalar_expr(c, depth - 1)})"
    return f"np.tanh({_array_expr(c, depth - 1)} + {c.real(-0.5, 0.5)})"


def _scalar_expr(c, depth=2):
    if depth == 0 or c.integer(0, 2) == 0:
        return c.choice(("s", f"{c.real(0.2, 1.0)} * s", "np.sum(x) * 0.1", "np.mean(y)",
                         "z[1]", "y[0]"))
    kind = c.integer(0, 3)
    if kind == 0:
        return f"np.sum({_array_expr(c, depth - 1)}) * {c.real(0.1, 0.5)}"
    if kind == 1:
        return f"np.tanh({_scalar_expr(c, depth - 1)})"
    if kind == 2:
        return f"({_scalar_expr(c, depth - 1)} * {_scalar_expr(c, depth - 1)})"
    return f"np.max({_array_expr(c, depth - 1)})"


# -- statements ---------------------------------------------------------------------------

@dataclasses.dataclass
class Program:
    """A program's text, the constructs it uses, and the helpers it needs; with ``argument``
    (a key of ``ARGUMENTS``), also ``entry(x, p)``, which calls ``f`` on ``x`` combined with a
    second argument ``p`` of that signature."""
    body: list               # top-level statements, each a list of lines
    constructs: set
    helpers: set
    argument: str = None

    def source(self):
        out = ["import functools", "", "import numpy as np", ""]
        for h in sorted(self.helpers):
            out += ["", HELPERS[h].strip("\n"), ""]
        out += ["", "def f(x):", "    y = x.copy()", "    z = np.sin(x)", "    s = np.sum(x) * 0.1"]
        out += ["    " + line for block in self.body for line in block]
        out += ["    return np.sum(y * z) + s * s + np.sum(np.sin(z))", ""]
        if self.argument is not None:
            out += ["", "def entry(x, p):", f"    v = {ARGUMENTS[self.argument][1]}",
                    "    return f(v) + 0.1 * f(np.tanh(v))", ""]
        return "\n".join(out)


# The second argument of ``entry(x, p)``: its signature -> (a value of it, from a random
# generator; how ``entry`` makes the (N,) array ``f`` takes of ``x`` and ``p``).  Python and
# NumPy scalars, 0-d arrays, axes of length 1 (broadcast against ``x``), a matrix, float32 and
# complex values: what code specialized to the arguments' signature must get right.
ARGUMENTS = {
    "float": (lambda rng: float(rng.uniform(0.5, 1.0)), "x * p"),
    "np.float64": (lambda rng: np.float64(rng.uniform(0.5, 1.0)), "x * p + p"),
    "float64[]": (lambda rng: np.array(rng.uniform(0.5, 1.0)), "x * p - 0.5 * p"),
    "float64[1]": (lambda rng: rng.uniform(0.5, 1.0, 1), "x * p + 0.2 * p"),
    "float64[n]": (lambda rng: rng.uniform(-1.0, 1.0, N), "x + 0.5 * p"),
    "float64[1, n]": (lambda rng: rng.uniform(-1.0, 1.0, (1, N)), "np.sum(x * p, axis=0) + x"),
    "float64[n, 1]": (lambda rng: rng.uniform(-1.0, 1.0, (N, 1)),
                      "x + np.mean(p * x, axis=0) - p[:, 0]"),
    "float64[1, 1]": (lambda rng: rng.uniform(0.5, 1.0, (1, 1)), "(x * p)[0] + p[0, 0]"),
    "float64[n, n]": (lambda rng: rng.uniform(-0.5, 0.5, (N, N)), "x + 0.3 * (p @ x)"),
    "float64[n, n, n]": (lambda rng: rng.uniform(-0.5, 0.5, (2, N, N)),
                         "x + 0.2 * np.sum(p @ x, axis=0)"),
    "float32[n]": (lambda rng: rng.uniform(-1.0, 1.0, N).astype(np.float32), "x + 0.5 * p"),
    "float32[n, 1]": (lambda rng: rng.uniform(-1.0, 1.0, (N, 1)).astype(np.float32),
                      "x * 0.5 + np.sum(p * x, axis=1) * 0.2"),
    "complex128[n]": (lambda rng: rng.uniform(-1.0, 1.0, N) + 1j * rng.uniform(-1.0, 1.0, N),
                      "x + 0.3 * np.real(p * np.conj(p)) + 0.2 * np.imag(p)"),
    "complex128[1, n]": (lambda rng: rng.uniform(-1.0, 1.0, (1, N))
                         + 1j * rng.uniform(-1.0, 1.0, (1, N)),
                         "np.real(np.sum(x * p, axis=0)) + x"),
}


HELPERS = {
    "smooth": """
def smooth(v, a):
    return np.tanh(v) * a + 0.5 * v
""",
    "scale_first": """
def scale_first(v):
    v[0] = v[0] * 1.5
""",
    "add_into": """
def add_into(v, w):
    v += 0.5 * w
""",
    "apply_fn": """
def apply_fn(g, v):
    return g(v) + 0.5 * v
""",
    "rec": """
def rec(a, n):
    if n == 0:
        return a
    return rec(np.tanh(a) * 0.9 + 0.1, n - 1)
""",
    "rec_linear": """
def rec_linear(v, a, n):
    if n <= 0:
        return v * a
    return np.sin(v) * rec_linear(v, a, n - 1) * 0.5 + a * v / n
""",
    "rec_array": """
def rec_array(v, n):
    if n <= 0:
        return v
    return rec_array(np.sin(v) * 0.8 + 0.2 * v, n - 1)
""",
    "Holder": """
class Holder:
    def __init__(self, v):
        self.v = v

    def scale(self, a):
        self.v = self.v * a

    def total(self):
        return np.sum(self.v)
""",
    "head": """
def head(a):
    return a[:2]
""",
    "Store": """
class Store:
    def __init__(self, w):
        self.w = w

    def fill(self, v):
        self.out = np.tanh(self.w * v)
        return self.out
""",
}


def _block(c, constructs, depth, in_loop=None):
    """1-3 statements; ``in_loop`` is the loop variable's name inside a ``for`` loop."""
    return [line for _ in range(c.integer(1, 2 if depth else 3))
            for line in _statement(c, constructs, depth, in_loop)]


def _statement(c, constructs, depth, in_loop):
    options = [k for k in constructs if k in _STATEMENTS and k not in ("break", "continue")
               and (depth < 2 or k in _FLAT)]
    if in_loop is not None:
        options += ["element"] * 3
        if "break" in constructs.allowed:
            options.append("break")
        if "continue" in constructs.allowed:
            options.append("continue")
    kind = c.choice(sorted(options))
    return _STATEMENTS[kind](c, constructs, depth, in_loop)


class _Uses(set):
    """The constructs a program uses, and the ones it may use (``allowed``)."""

    def __init__(self, allowed):
        super().__init__()
        self.allowed = tuple(allowed)

    def __iter__(self):
        return iter(self.allowed)

    def __contains__(self, item):
        return item in self.allowed


def _assign(c, u, depth, i):
    u.used("assign")
    if c.integer(0, 2) == 0:
        return [f"s = {_scalar_expr(c)}"]
    return [f"{c.choice(('y', 'z'))} = {_array_expr(c)}"]


def _if(c, u, depth, i):
    u.used("if")
    test = c.choice((f"np.sum(y) > {c.real(-1.0, 1.0)}", f"s < {c.real(-0.5, 0.5)}",
                     f"z[{c.integer(0, N - 1)}] > {c.real(-0.5, 0.5)}"))
    body = _block(c, u, depth + 1, i)
    out = [f"if {test}:"] + ["    " + b for b in body]
    if c.integer(0, 1):
        out += ["else:"] + ["    " + b for b in _block(c, u, depth + 1, i)]
    return out


def _for(c, u, depth, i):
    u.used("for")
    var = f"i{depth}"
    body = _block(c, u, depth + 1, var)
    return [f"for {var} in range({N}):"] + ["    " + b for b in body]


def _while(c, u, depth, i):
    u.used("while")
    k = f"k{depth}"
    body = _block(c, u, depth + 1, None)
    return [f"{k} = 0", f"while {k} < {c.integer(1, 3)}:"] + ["    " + b for b in body] \
        + [f"    {k} = {k} + 1"]


def _fresh(u, var):
    """``var = var.copy()`` before a write, unless writing a shared array is being tested."""
    if "write_after_share" in u:
        u.used("write_after_share")
        return []
    return [f"{var} = {var}.copy()"]


def _element(c, u, depth, i):
    j = c.choice((i, f"({i} + 1) % {N}", f"{N - 1} - {i}"))
    line = c.choice((f"y[{i}] = y[{j}] * {c.real(0.5, 1.1)} + z[{i}] * s",
                      f"z[{i}] = np.sin(y[{j}]) + {c.real(-0.5, 0.5)}",
                      f"s = s * {c.real(0.5, 0.9)} + y[{i}] * z[{j}] * 0.3",
                      f"y[{i}] += {c.real(0.1, 0.5)} * z[{j}]"))
    return (_fresh(u, line[0]) if line[1] == "[" else []) + [line]


def _break(c, u, depth, i):
    u.used("break")
    return [f"if y[{i}] > {c.real(0.0, 1.0)}:", "    break"]


def _continue(c, u, depth, i):
    u.used("continue")
    return [f"if {i} == {c.integer(0, N - 1)}:", "    continue"]


def _inplace(c, u, depth, i):
    u.used("inplace")
    line = c.choice((f"y += {_array_expr(c, 1)}", f"z *= {c.real(0.5, 1.2)}",
                     f"y -= {c.real(0.1, 0.9)} * z"))
    return _fresh(u, line[0]) + [line]


def _slice_write(c, u, depth, i):
    u.used("slice_write")
    a = c.integer(0, N - 2)
    return _fresh(u, "y") + [f"y[{a}:{a + 2}] = z[{N - 2 - a}:{N - a}] * s"]


def _fancy_read(c, u, depth, i):
    u.used("fancy_read")
    perm = list(range(N))
    random.Random(c.integer(0, 1000)).shuffle(perm)
    return [f"z = y[{perm}] * {c.real(0.5, 1.0)} + z"]


def _fancy_write(c, u, depth, i):
    u.used("fancy_write")
    idx = sorted(random.Random(c.integer(0, 1000)).sample(range(N), 2))
    return _fresh(u, "y") + [f"y[{idx}] = z[{idx[::-1]}] * {c.real(0.5, 1.5)}"]


def _where(c, u, depth, i):
    u.used("where")
    return [f"y = np.where(y > {c.real(-0.5, 0.5)}, y, {c.real(0.05, 0.3)} * y)"]


def _stable_shift(c, u, depth, i):
    u.used("stable_shift")
    e = f"e{depth}"
    kind = c.integer(0, 5)
    if kind == 0:       # a log-sum-exp with its shift named: marked when the max is z's
        return [f"m{depth} = np.max({c.choice(('z', 'z', 'y'))})",
                f"s = s * {c.real(0.3, 0.9)} + (np.log(np.sum(np.exp(z - m{depth}))) + m{depth})"]
    if kind == 1:       # kept axes, the shift first: marked when the max is z's
        a = c.choice(("z", "z", "y"))
        return [f"m{depth} = np.max({a}, axis=0, keepdims=True)",
                f"y = y * {c.real(0.3, 0.9)} + (m{depth} + "
                f"np.log(np.sum(np.exp(z - m{depth}), axis=0, keepdims=True)))"]
    if kind == 2:       # a log-softmax of a shifted copy: marked
        return [f"{e} = z - np.max(z, axis=0, keepdims=True)",
                f"y = {e} - np.log(np.sum(np.exp({e}), axis=0, keepdims=True))"]
    if kind == 3:       # a softmax: marked
        return [f"{e} = np.exp(y - np.max(y, axis=0, keepdims=True))",
                f"z = {e} / np.sum({e}, axis=0, keepdims=True)"]
    if kind == 4:       # a softmax whose exponentials are read again: not marked
        return [f"{e} = np.exp(y - np.max(y, axis=0, keepdims=True))",
                f"z = {e} / np.sum({e}, axis=0, keepdims=True)",
                f"s = s + np.sum({e}) * {c.real(0.05, 0.2)}"]
    # z shifted in place and its log-softmax: marked unless z is read elsewhere
    return ["z = z - np.max(z, axis=0, keepdims=True)",
            "z = z - np.log(np.sum(np.exp(z), axis=0, keepdims=True))"]


def _helper(c, u, depth, i):
    u.used("helper", "smooth")
    return [f"z = smooth(y, s)" if c.integer(0, 1) else f"y = smooth(z, {c.real(0.5, 1.5)})"]


def _helper_mutates(c, u, depth, i):
    if c.integer(0, 1):
        u.used("helper_mutates", "scale_first")
        return ["scale_first(y)"]
    u.used("helper_mutates", "add_into")
    return ["add_into(y, z)"]


def _list(c, u, depth, i):
    u.used("list")
    return c.choice((["lst = [y, z]", "s = s + np.sum(lst[0] * lst[1]) * 0.2"],
                     ["lst = []", "lst.append(y * s)", "lst.append(np.cos(z))",
                      "z = lst[0] + lst[-1]"],
                     ["lst = [y * 0.5, z]", "y = sum(lst)"]))


def _list_alias_write(c, u, depth, i):
    u.used("list_alias_write")
    return ["lst = [y]", f"y[0] = y[0] * {c.real(1.5, 3.0)}", "s = s + np.sum(lst[0] ** 2) * 0.1"]


def _list_grown(c, u, depth, i):
    u.used("list_grown")
    return c.choice((["lst = [s]", "lst.append(y * 0.5)", "y = lst[-1] + z"],
                     ["lst = [s, y]", "lst[0] = z * 0.5", "y = lst[0] * lst[1]"]))


def _dict(c, u, depth, i):
    u.used("dict")
    return c.choice((["d = {'a': y, 'b': s}", "z = d['a'] * d['b'] + z"],
                     ["d = {}", "d['v'] = np.tanh(y)", "d['v'] = d['v'] * z", "y = d['v']"]))


def _object(c, u, depth, i):
    u.used("object", "Holder")
    return ["h = Holder(y)", f"h.scale({c.real(0.5, 1.5)})", "h.scale(s)",
            "s = s + h.total() * 0.1", "z = h.v + z"]


def _object_store(c, u, depth, i):
    u.used("object_store", "Store")
    return [f"st = Store({c.real(0.5, 1.5)})", "z = st.fill(y) + z"]


def _closure_user(c, u, depth, i):
    u.used("closure_user", "apply_fn")
    return [c.choice(("z = apply_fn(lambda v: v * s, y)",
                      "z = apply_fn(lambda v: np.sin(v) * z, y)"))]


def _closure_reduce(c, u, depth, i):
    u.used("closure_reduce")
    return ["s = functools.reduce(lambda acc, v: acc * 0.5 + v * s, list(y), 0.0)"]


def _closure_map(c, u, depth, i):
    u.used("closure_map")
    return ["s = sum(map(lambda v: np.tanh(v * s), list(z))) * 0.5"]


def _closure_along_axis(c, u, depth, i):
    u.used("closure_along_axis")
    return ["m = np.stack([y, z])",
            "z = np.apply_along_axis(lambda col: np.sum(col * s) + col[0], 0, m)"]


def _recursion(c, u, depth, i):
    kind = c.integer(0, 2)
    if kind == 1:
        u.used("recursion", "rec")
        return [f"s = rec(s, {c.integer(0, 3)})"]
    if kind == 2:       # a linear recursion: written as a loop (frontend/recursion.py)
        u.used("recursion", "rec_linear")
        return [f"z = rec_linear(z, s, {c.integer(0, 3)})"]
    u.used("recursion", "rec_array")
    return [f"z = rec_array(z + y * 0.5, {c.integer(1, 3)})"]


def _mask_write(c, u, depth, i):
    u.used("mask_write")
    line = c.choice((f"y[y < {c.real(-0.5, 0.5)}] = 0.0", "z[z > 0.8] = 0.8"))
    return _fresh(u, line[0]) + [line]


def _argmax_write(c, u, depth, i):
    u.used("argmax_write")
    return _fresh(u, "y") + ["y[np.argmax(y)] = 0.0"]


def _repeated_index(c, u, depth, i):
    u.used("repeated_index")
    return _fresh(u, "y") + [c.choice(("y[[0, 0, 1]] = z[:3]", "y[[0, 0]] += z[:2]"))]


def _view_write(c, u, depth, i):
    u.used("view_write")
    r = c.real(0.5, 1.5)
    kind = c.integer(0, 4)
    if kind == 0:       # a view of a view
        return _fresh(u, "y") + ["v = y[1:]", "w = v[::2]", f"w[0] = w[-1] * {r} + s"]
    if kind == 1:       # a list of views
        return _fresh(u, "y") + ["parts = [y[:2], y[2:]]", f"parts[1][0] = parts[0][1] * {r} + s"]
    if kind == 2:       # op= through a view of an array that carries no derivative yet
        return [f"q = np.zeros({N})", "v = q[1:]", "v += z[1:] * s", f"z = z + q * {r}"]
    if kind == 3:       # op= through a slice
        return _fresh(u, "y") + ["v = y[1:3]", f"v *= {r}"]
    u.used("view_write", "head")      # a helper that returns a view of its argument
    return _fresh(u, "y") + ["v = head(y)", f"v[1] = s * {r}"]


_STATEMENTS = {"assign": _assign, "if": _if, "for": _for, "while": _while, "element": _element,
               "break": _break, "continue": _continue, "inplace": _inplace,
               "slice_write": _slice_write, "fancy_read": _fancy_read,
               "fancy_write": _fancy_write, "where": _where, "helper": _helper,
               "helper_mutates": _helper_mutates, "list": _list, "dict": _dict,
               "object": _object, "object_store": _object_store,
               "closure_user": _closure_user, "closure_reduce": _closure_reduce,
               "closure_map": _closure_map, "closure_along_axis": _closure_along_axis,
               "recursion": _recursion, "mask_write": _mask_write,
               "argmax_write": _argmax_write, "repeated_index": _repeated_index,
               "list_alias_write": _list_alias_write, "stable_shift": _stable_shift,
               "view_write": _view_write, "list_grown": _list_grown}
# text that marks a construct in a statement (to name the constructs of a shrunk program)
STATEMENT_MARKS = {
    "if": ("if ",), "for": ("for ",), "while": ("while ",), "break": ("break",),
    "continue": ("continue",), "inplace": (" += ", " -= ", " *= "), "slice_write": (":",),
    "fancy_read": ("= y[[",), "fancy_write": ("y[[",), "where": ("np.where",),
    "helper": ("smooth(",), "helper_mutates": ("scale_first(", "add_into("),
    "list": ("lst",), "dict": ("d = ", "d['"), "object": ("Holder(",),
    "object_store": ("Store(",), "closure_user": ("apply_fn(",),
    "closure_reduce": ("functools.reduce",), "closure_map": ("map(",),
    "closure_along_axis": ("apply_along_axis",), "recursion": ("rec(", "rec_array(", "rec_linear("),
    "mask_write": ("[y < ", "[z > "), "argmax_write": ("np.argmax",),
    "repeated_index": ("[[0, 0",), "list_alias_write": ("lst = [y]",),
    "stable_shift": ("np.log(np.sum(np.exp(", "keepdims=True"),
    "write_after_share": ("y[", "z[", " += ", " -= ", " *= "),
    "view_write": ("v = ", "parts = ["),
    "list_grown": ("lst = [s",),
}
_FLAT = {k for k in _STATEMENTS if k not in ("if", "for", "while")}


class _Recorder(_Uses):
    def __init__(self, allowed):
        super().__init__(allowed)
        self.helpers = set()

    def used(self, construct, helper=None):
        set.add(self, construct)
        if helper is not None:
            self.helpers.add(helper)


def build(chooser, constructs=SAFE, statements=(2, 5)):
    """One random program using only ``constructs``."""
    u = _Recorder(constructs)
    body = []
    for _ in range(chooser.integer(*statements)):
        body.append(_statement(chooser, u, 0, None))
    return Program(body, set(set.__iter__(u)), u.helpers)


# -- loading and checking -----------------------------------------------------------------

_counter = itertools.count()
_DIR = [None]


def load(program, directory=None):
    """Write ``program`` as a module file and import it (the compiler reads its source)."""
    if directory is None:
        if _DIR[0] is None:
            _DIR[0] = tempfile.mkdtemp(prefix="s2s_random_programs_")
            atexit.register(shutil.rmtree, _DIR[0], True)
        directory = _DIR[0]
    name = f"random_program_{os.getpid()}_{next(_counter)}"
    path = os.path.join(directory, name + ".py")
    with open(path, "w") as fh:
        fh.write(program.source())
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclasses.dataclass
class Outcome:
    status: str              # ok, nonsmooth, invalid, wrong, error
    detail: str = ""
    fallback: bool = False
    kind: str = ""           # for wrong: grad, jvp, value, mutated; for error: its class


def _fd(f, x, h):
    g = np.zeros_like(x)
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        g[k] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def check(program, seed=0, rtol=1e-4, atol=1e-6, second=False, specialized=False):
    """Check one program's gradient (see the module's docstring).

    With ``specialized``, the checks above run on the general code, and then
    ``check_specialized`` on code specialized to the arguments' signature."""
    import s2sgrad
    from s2sgrad.driver import specialize
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, N)
    direction = rng.standard_normal(N)
    module = load(program)
    f = module.f
    try:
        with np.errstate(all="raise"):
            value = float(f(x.copy()))
            fd = _fd(f, x, 1e-6)
            fd_coarse = _fd(f, x, 1e-4)
    except Exception as exc:
        return Outcome("invalid", f"{type(exc).__name__}: {exc}")
    if not np.isfinite(value) or not np.all(np.isfinite(fd)):
        return Outcome("invalid", "not finite")
    smooth = np.allclose(fd, fd_coarse, rtol=1e-3, atol=1e-4)
    before = x.copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with specialize.using("general") if specialized else contextlib.nullcontext():
                v, g = s2sgrad.value_and_grad(f)(x)
                _, tangent = s2sgrad.jvp(f)(x, direction)
        except Exception as exc:
            text = str(exc).split("\n")[0]
            return Outcome("error", f"{type(exc).__name__}: {text}",
                           _fell_back(caught, s2sgrad), type(exc).__name__)
    fallback = _fell_back(caught, s2sgrad)
    if not np.array_equal(x, before):
        return Outcome("wrong", "the input array was modified", fallback, "mutated")
    if not np.isclose(v, value, rtol=1e-9, atol=1e-12):
        return Outcome("wrong", f"value {v} != {value}", fallback, "value")
    if smooth and not np.allclose(g, fd, rtol=rtol, atol=atol):
        return Outcome("wrong", f"grad {np.round(g, 6)} != finite differences {np.round(fd, 6)}",
                       fallback, "grad")
    if not np.isclose(tangent, np.dot(g, direction), rtol=rtol, atol=atol):
        return Outcome("wrong", f"jvp {tangent} != grad . direction {np.dot(g, direction)}",
                       fallback, "jvp")
    if specialized:
        out, traced = check_specialized(program, module, x, direction, (v, g, tangent), seed,
                                        rtol, atol)
        fallback = fallback or traced
        if out is not None:
            out.fallback = fallback
            return out
    if not smooth:
        return Outcome("nonsmooth", "", fallback)
    if second:
        return _check_hvp(f, x, direction, fallback, rtol, atol)
    return Outcome("ok", "", fallback)


def check_specialized(program, module, x, direction, general, seed=0, rtol=1e-4, atol=1e-6):
    """Code specialized to the arguments' signature (``s2sgrad.driver.specialize``): ``f``'s
    value, gradient and tangent are the general code's (``general``: checked already) to
    ``gradcheck.AGREE``; and, when the program has an ``argument``, ``entry(x, p)``'s gradients
    with respect to both arguments are right on both codes (central finite differences,
    forward against reverse mode, a gradient of ``p``'s type and dtype) and agree.
    ``(None or the Outcome of what is wrong, whether the tracing fallback was used)``."""
    import s2sgrad
    from s2sgrad.driver import specialize
    from gradcheck import assert_agree
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with specialize.using("specialized"):
                v, g = s2sgrad.value_and_grad(module.f)(x)
                _, tangent = s2sgrad.jvp(module.f)(x, direction)
        except Exception as exc:
            text = str(exc).split("\n")[0]
            return Outcome("error", f"specialized code: {type(exc).__name__}: {text}",
                           kind="specialized " + type(exc).__name__), _fell_back(caught, s2sgrad)
    fallback = _fell_back(caught, s2sgrad)
    try:
        assert_agree(v, general[0], what="value")
        assert_agree(g, general[1])
        assert_agree(tangent, general[2], what="tangent")
    except AssertionError as exc:
        return Outcome("wrong", f"specialized code: {exc}", kind="specialized"), fallback
    if program.argument is None:
        return None, fallback
    out, traced = _check_entry(program, module.entry, x, seed, rtol, atol)
    return out, fallback or traced


def _fd_argument(fun, p, h):
    """Central differences of ``fun`` at ``p`` (a number or an array, real or complex: the
    gradient of a real function of complex values is d/dRe - 1j d/dIm), in double precision."""
    complex_ = np.iscomplexobj(p)
    a = np.array(p, dtype=np.complex128 if complex_ else np.float64)

    def at(b):
        if isinstance(p, float):
            return fun(float(b))
        if isinstance(p, np.generic):
            return fun(type(p)(b))
        return fun(b)
    g = np.zeros(a.shape, dtype=a.dtype)
    for idx in np.ndindex(a.shape):
        for unit in ((1.0, 1j) if complex_ else (1.0,)):
            e = np.zeros_like(a)
            e[idx] = unit * h
            d = (at(a + e) - at(a - e)) / (2 * h)
            g[idx] += d if unit == 1.0 else -1j * d
    return g


def _pairing(g, t):
    return float(np.real(np.sum(np.asarray(g) * np.asarray(t))))


def _check_entry(program, entry, x, seed, rtol, atol):
    import s2sgrad
    from s2sgrad.driver import specialize
    from gradcheck import assert_agree
    rng = np.random.default_rng(seed + 7)
    p = ARGUMENTS[program.argument][0](rng)
    dx = rng.standard_normal(N)
    dp = rng.standard_normal(np.shape(p)) + (1j * rng.standard_normal(np.shape(p))
                                             if np.iscomplexobj(p) else 0.0)
    dp = type(p)(dp) if np.ndim(p) == 0 and not isinstance(p, np.ndarray) else \
        np.asarray(dp, dtype=np.asarray(p).dtype)
    p_before = np.array(p, copy=True)
    try:
        with np.errstate(all="raise"):
            fd = [_fd(lambda x_: entry(x_, p), x, 1e-6), _fd_argument(lambda q: entry(x, q), p, 1e-6)]
            coarse = [_fd(lambda x_: entry(x_, p), x, 1e-4),
                      _fd_argument(lambda q: entry(x, q), p, 1e-4)]
    except Exception as exc:
        return Outcome("invalid", f"entry: {type(exc).__name__}: {exc}"), False
    if not all(np.all(np.isfinite(d)) for d in fd):
        return Outcome("invalid", "entry: not finite"), False
    smooth = all(np.allclose(a, b, rtol=1e-3, atol=1e-4) for a, b in zip(fd, coarse))
    single = np.asarray(p).dtype == np.float32
    tol = (1e-3, 1e-4) if single else (rtol, atol)       # a float32 gradient rounds sooner
    results = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for code in ("general", "specialized"):
            try:
                with specialize.using(code):
                    g = s2sgrad.grad(entry, (0, 1))(x, p)
                    _, t = s2sgrad.jvp(entry, (0, 1))(x, p, (dx, dp))
            except Exception as exc:
                text = str(exc).split("\n")[0]
                return Outcome("error", f"{code} code of entry(x, p: {program.argument}): "
                                        f"{type(exc).__name__}: {text}",
                               kind=f"{code} " + type(exc).__name__), _fell_back(caught, s2sgrad)
            what = f"{code} code of entry(x, p: {program.argument})"
            if not np.array_equal(np.asarray(p), p_before):
                return Outcome("wrong", f"{what}: p was modified", kind="mutated"), False
            gp = g[1]
            kind_ok = isinstance(gp, np.ndarray) if isinstance(p, np.ndarray) else \
                np.ndim(gp) == 0 and (type(gp) is float or type(p) is not float)
            if not kind_ok or np.shape(gp) != np.shape(p) or \
                    np.asarray(gp).dtype != np.asarray(p).dtype:
                return Outcome("wrong", f"{what}: the gradient of p is {type(gp).__name__} "
                                        f"{np.asarray(gp).dtype}{np.shape(gp)}", kind="type"), False
            if smooth and not all(np.allclose(a, b, rtol=tol[0], atol=tol[1])
                                  for a, b in zip(g, fd)):
                return Outcome("wrong", f"{what}: grad {g} != finite differences {fd}",
                               kind="entry grad"), False
            paired = _pairing(g[0], dx) + _pairing(g[1], dp)
            if not np.isclose(float(np.real(t)), paired, rtol=tol[0], atol=tol[1]):
                return Outcome("wrong", f"{what}: jvp {t} != <grad, direction> {paired}",
                               kind="entry jvp"), False
            results[code] = (g, t)
    fallback = _fell_back(caught, s2sgrad)
    try:
        assert_agree(results["specialized"][0], results["general"][0])
        assert_agree(results["specialized"][1], results["general"][1], what="tangent")
    except AssertionError as exc:
        return Outcome("wrong", f"specialized code of entry(x, p: {program.argument}): {exc}",
                       kind="specialized"), fallback
    return (None if smooth else Outcome("nonsmooth")), fallback


def _check_hvp(f, x, direction, fallback, rtol, atol):
    """The Hessian-vector product against central differences of the (checked) gradient."""
    import s2sgrad
    grad = s2sgrad.grad(f)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hv = s2sgrad.hvp(f)(x, direction)
            h = 1e-5
            fd = (grad(x + h * direction) - grad(x - h * direction)) / (2 * h)
            fd_coarse = (grad(x + 1e-3 * direction) - grad(x - 1e-3 * direction)) / 2e-3
        except Exception as exc:
            text = str(exc).split("\n")[0]
            return Outcome("error", f"hvp: {type(exc).__name__}: {text}",
                           fallback or _fell_back(caught, s2sgrad), "hvp " + type(exc).__name__)
    fallback = fallback or _fell_back(caught, s2sgrad)
    if not np.allclose(fd, fd_coarse, rtol=1e-2, atol=1e-3):
        return Outcome("nonsmooth", "", fallback)
    if not np.allclose(hv, fd, rtol=1e-3, atol=1e-5):
        return Outcome("wrong", f"hvp {np.round(hv, 6)} != finite differences of the gradient "
                                f"{np.round(fd, 6)}", fallback, "hvp")
    return Outcome("ok", "", fallback)


def _fell_back(caught, s2sgrad):
    return any(issubclass(w.category, s2sgrad.FallbackWarning) for w in caught)


def shrink(program, failing, seed=0, second=False):
    """A smaller program with the same failure: drop top-level statements while it fails."""
    blocks = list(program.body)
    changed = True
    while changed and len(blocks) > 1:
        changed = False
        for k in range(len(blocks)):
            trial = blocks[:k] + blocks[k + 1:]
            candidate = Program(trial, program.constructs, _needed_helpers(trial, program.helpers),
                                program.argument)
            try:
                out = check(candidate, seed, second=second,
                            specialized=program.argument is not None)
            except Exception:
                continue
            if failing(out):
                blocks = trial
                changed = True
                break
    return Program(blocks, program.constructs, _needed_helpers(blocks, program.helpers),
                   program.argument)


def _needed_helpers(blocks, helpers):
    text = "\n".join(ln for b in blocks for ln in b)
    return {h for h in helpers if h + "(" in text}


def describe_failure(program, outcome):
    return f"{outcome.status} ({outcome.kind}): {outcome.detail}\n{program.source()}"


def constructs_for(k, mode):
    """``(constructs, the memory-model construct it may use or None)`` of the ``k``-th program of a run.

    ``attributed``: the safe constructs plus one memory-model construct, in turn (and every
    ``len(MEMORY_MODEL) + 1``-th program none), so that each failure has one suspect;
    ``safe``: the safe ones only; ``all``: everything at once."""
    if mode == "safe":
        return SAFE, None
    if mode == "all":
        return CONSTRUCTS, None
    slot = k % (len(MEMORY_MODEL) + 1)
    if slot == len(MEMORY_MODEL):
        return SAFE, None
    return SAFE + (MEMORY_MODEL[slot],), MEMORY_MODEL[slot]


def category(program, known):
    """The memory-model construct a failing program uses (its suspect), else ``None``."""
    if known is not None and known in program.constructs:
        return known
    used = sorted(program.constructs & set(MEMORY_MODEL))
    return ", ".join(used) if used else None


def run(n, seed=0, mode="attributed", second=False, specialized=False):
    """Check ``n`` random programs; returns the counts (the benchmark script prints them).

    With ``specialized``, also on code specialized to the arguments' signature, each program
    with an ``entry(x, p)`` whose ``p`` has the next signature of ``ARGUMENTS``, in turn."""
    counts = {"programs": 0, "ok": 0, "nonsmooth": 0, "invalid": 0, "wrong": 0, "error": 0,
              "fallbacks": 0}
    wrong, errors = [], {}
    for k in range(n):
        constructs, known = constructs_for(k, mode)
        program = build(RandomChooser(seed * 1000003 + k), constructs)
        if specialized:
            program.argument = sorted(ARGUMENTS)[k % len(ARGUMENTS)]
        try:
            out = check(program, seed=k, second=second, specialized=specialized)
        except Exception:
            out = Outcome("error", "the checker failed: " + traceback.format_exc(limit=2),
                          kind="checker")
        counts["programs"] += 1
        counts[out.status] += 1
        counts["fallbacks"] += bool(out.fallback)
        if out.status == "wrong":
            wrong.append((program, out, k, category(program, known)))
        elif out.status == "error":
            key = re.sub(r"\S*\.py:\d+: ", "", out.detail)[:160]
            errors.setdefault(key, []).append((program, k, category(program, known)))
    return counts, wrong, errors
