"""A function's source is parsed once per code object and text (``frontend.source._definition``):
each reader gets its own tree, and an edited file is read again, never an old parse."""

import importlib
import linecache
import os
import sys
import time

import gast
import numpy as np
import pytest

import s2sgrad
from s2sgrad.errors import SourceError
from s2sgrad.frontend import source
from s2sgrad.frontend.source import FunctionSource


def _helper(x, y):
    z = x * y
    return z + 1.0


def test_each_reader_gets_its_own_copy_of_one_parse():
    a = FunctionSource.of(_helper)
    b = FunctionSource.of(_helper)
    assert a.node is not b.node
    assert gast.dump(a.node) == gast.dump(b.node)
    assert a.node.body[0].lineno == b.node.body[0].lineno == _helper.__code__.co_firstlineno + 1
    a.node.body[0].value.op = gast.Add()        # a reader changes its tree
    a.node.name = "changed"
    c = FunctionSource.of(_helper)
    assert isinstance(c.node.body[0].value.op, gast.Mult)
    assert c.node.name == "_helper"


def _write(path, factor):
    path.write_text(f"def f(x):\n    return x * {factor}\n")
    # a new modification time, so that linecache.checkcache sees the edit
    stamp = time.time() + factor
    os.utime(path, (stamp, stamp))


def test_an_edited_and_reloaded_module_is_read_again(tmp_path, monkeypatch):
    path = tmp_path / "cold_source_mod.py"
    _write(path, 2.0)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("cold_source_mod")
    try:
        old_f = mod.f
        node = FunctionSource.of(old_f).node
        assert node.body[0].value.right.value == 2.0
        assert s2sgrad.grad(old_f)(1.5) == pytest.approx(2.0)

        _write(path, 3.0)
        linecache.checkcache(str(path))
        # the running function's text changed under it: refused, not the old parse
        with pytest.raises(SourceError):
            FunctionSource.of(old_f)

        importlib.reload(mod)
        new = FunctionSource.of(mod.f).node
        assert new.body[0].value.right.value == 3.0
        assert s2sgrad.grad(mod.f)(1.5) == pytest.approx(3.0)
    finally:
        sys.modules.pop("cold_source_mod", None)


def test_the_parses_kept_are_bounded(tmp_path, monkeypatch):
    path = tmp_path / "cold_source_many.py"
    path.write_text("".join(f"def g{k}(x):\n    return x * {k}.0\n\n" for k in range(300)))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("cold_source_many")
    try:
        for k in range(300):
            node = FunctionSource.of(getattr(mod, f"g{k}")).node
            assert node.body[0].value.right.value == float(k)
        assert len(source._DEFINITIONS) <= 257
    finally:
        sys.modules.pop("cold_source_many", None)


# -- the definition cut without tokenizing (syntax.definition_lines) ------------------

_ODD = '''
import functools


def deco(*a, **k):
    return lambda f: f


@deco(
    1,
2)
def decorated(x):
    return x * 2.0


def string_at_column_0(x):
    s = """
not code
"""
    return x * len(s)


def brackets_at_column_0(x):
    y = [x,
x]
    return y[0] + y[1]


def comment_at_column_0(x):
# a comment at column 0 inside the function
    y = x * 3.0
    return y
# a comment after it


class Holder:
    def method(self, x):
        return x * 4.0
# between two methods, at column 0

    def other(self, x):
        return x * 5.0


def continued(x):
    y = x + \\
1.0
    return y


def nested(x):
    def inner(y):
        return y * 6.0
    return inner(x)


def one_line(x): return x * 7.0
def after_one_line(x):
    return x
'''


def _functions(mod):
    out = []
    for v in vars(mod).values():
        if isinstance(v, type):
            out.extend(w for w in vars(v).values() if callable(w) and hasattr(w, "__code__"))
        elif callable(v) and hasattr(v, "__code__") and v.__module__ == mod.__name__ \
                and v.__name__ != "<lambda>":
            out.append(v)
    return out


def _by_tokenizing(fn):
    import inspect
    import textwrap
    lines = linecache.getlines(fn.__code__.co_filename, fn.__globals__)
    first = fn.__code__.co_firstlineno
    return source._parse(textwrap.dedent("".join(inspect.getblock(lines[first - 1:]))), first)


def _check_module(mod):
    fast = 0
    for fn in _functions(mod):
        lines = linecache.getlines(fn.__code__.co_filename, fn.__globals__)
        mine = source._parse_definition(fn, lines, fn.__code__.co_firstlineno)
        if mine is None:
            continue        # (inspect.getblock reads it)
        fast += 1
        assert gast.dump(mine, include_attributes=True) == \
            gast.dump(_by_tokenizing(fn), include_attributes=True), fn.__qualname__
    return fast


def test_odd_layouts_are_cut_as_inspect_cuts_them_or_left_to_it(tmp_path, monkeypatch):
    path = tmp_path / "cold_source_odd.py"
    path.write_text(_ODD)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("cold_source_odd")
    try:
        assert _check_module(mod) >= 6
        # the ones the cut leaves open fall back to inspect, and read right
        for fn, x, expected in ((mod.decorated, 1.5, 2.0), (mod.string_at_column_0, 1.5, 10.0),
                                (mod.brackets_at_column_0, 1.5, 2.0),
                                (mod.comment_at_column_0, 1.5, 3.0),
                                (mod.continued, 1.5, 1.0), (mod.nested, 1.5, 6.0),
                                (mod.one_line, 1.5, 7.0), (mod.after_one_line, 1.5, 1.0)):
            assert FunctionSource.of(fn).node.name == fn.__name__
            assert s2sgrad.grad(fn)(x) == pytest.approx(expected), fn.__name__
        holder = mod.Holder()
        assert s2sgrad.grad(holder.method)(1.5) == pytest.approx(4.0)
        assert s2sgrad.grad(holder.other)(1.5) == pytest.approx(5.0)
    finally:
        sys.modules.pop("cold_source_odd", None)


def test_the_package_and_examples_are_cut_as_inspect_cuts_them(monkeypatch):
    import pkgutil
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.syspath_prepend(os.path.join(root, "examples"))
    names = [m.name for m in pkgutil.walk_packages(s2sgrad.__path__, "s2sgrad.")
             if not m.name.endswith("__main__")] + ["physics", "rnn", "digits_mlp"]
    fast = 0
    for name in names:
        fast += _check_module(importlib.import_module(name))
    assert fast > 1000


def test_rule_templates_are_parsed_as_from_inspect():
    import inspect
    import textwrap
    from s2sgrad.rules import load_all, registry, template
    load_all()
    seen, fast = set(), 0
    for prim in registry.all_primitives():
        for rules in (prim.vjp, prim.jvp):
            for rule in rules.values():
                fn = rule._fn
                if rule.source is not None or fn is None or id(fn) in seen:
                    continue
                seen.add(id(fn))
                mine = template._parse_quickly(fn)
                if mine is None:
                    continue
                fast += 1
                theirs = gast.parse(textwrap.dedent(inspect.getsource(fn)))
                assert gast.dump(mine, include_attributes=True) == \
                    gast.dump(theirs, include_attributes=True), fn.__qualname__
    assert fast > 300


# -- the running code checked against its definition's text alone --------------------

_CHECKED = '''
import numpy as np

SCALE = 3.0


def plain(x):
    return np.sum(x * SCALE)


def outer(k):
    def closure(x):
        return np.sum(x * k)
    return closure


class Private:
    def __init__(self):
        self.__w = 2.0

    def method(self, x):
        return np.sum(x * self.__w)
'''


def test_a_definition_whose_text_compiles_to_its_code_is_not_checked_against_the_file(
        tmp_path, monkeypatch):
    path = tmp_path / "cold_source_checked.py"
    path.write_text(_CHECKED)
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("cold_source_checked")
    try:
        lines = linecache.getlines(str(path))
        assert source._definition_compiles_to(mod.plain, lines)
        # what depends on its enclosing code does not compile alone to the code that runs:
        # the whole file is compiled, and says it is that code
        closure = mod.outer(2.0)
        assert not source._definition_compiles_to(closure, lines)
        assert not source._definition_compiles_to(mod.Private.method, lines)
        x = np.array([0.5, -1.0])
        assert np.allclose(s2sgrad.grad(mod.plain)(x), 3.0)
        assert np.allclose(s2sgrad.grad(closure)(x), 2.0)
        assert FunctionSource.of(mod.Private().method).node.name == "method"

        # an edit inside the definition: its text no longer compiles to the running code
        _write_text(path, _CHECKED.replace("x * SCALE", "x * SCALE * 2.0"))
        lines = linecache.getlines(str(path))
        assert not source._definition_compiles_to(mod.plain, lines)
        with pytest.raises(SourceError, match="not the code that runs"):
            FunctionSource.of(mod.plain)
    finally:
        sys.modules.pop("cold_source_checked", None)


def _write_text(path, text):
    path.write_text(text)
    stamp = time.time() + 7
    os.utime(path, (stamp, stamp))
    linecache.checkcache(str(path))
