"""A function's source is parsed once per code object and text (``frontend.source._definition``):
each reader gets its own tree, and an edited file is read again, never an old parse."""

import importlib
import linecache
import os
import sys
import time

import gast
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
