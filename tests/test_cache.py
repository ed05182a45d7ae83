"""The cache (in memory and on disk) and inspecting generated code (linecache, pdb, determinism)."""

import importlib.util
import inspect
import io
import linecache
import os
import pdb
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import cache, pipeline
from gradcheck import assert_close, numeric_grad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def disk(tmp_path, monkeypatch):
    """A fresh, empty cache directory and empty in-process caches."""
    d = tmp_path / "cache"
    monkeypatch.setenv("S2SGRAD_CACHE_DIR", str(d))
    monkeypatch.delenv("S2SGRAD_CACHE", raising=False)
    cache.forget()
    cache.stats.clear()
    cache._warned.clear()
    yield d
    cache.forget()


def entries(d):
    v = d / f"v{cache.FORMAT}"
    return sorted(v.glob("*.s2sgrad")) if v.exists() else []


def write_module(tmp_path, name, source, monkeypatch):
    """Write ``source`` as module ``name`` and import it (removed from sys.modules afterwards)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def cell(ns, source, name):
    """Run ``source`` like a notebook cell: its text is in linecache, its globals are ``ns``."""
    filename = f"<cell-{name}>"
    source = textwrap.dedent(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), ns)


def notebook():
    return {"__name__": "__main__", "np": np}


MODEL = """
import numpy as np

SCALE = 1.5


def helper(v):
    return np.tanh(v) * SCALE


def f(x):
    y = x
    for _ in range(2):
        y = helper(y) + 0.5 * y
    return np.sum(y ** 2)
"""


# ---------------------------------------------------------------------------
# In memory
# ---------------------------------------------------------------------------

@pytest.mark.auto_code
def test_one_transformation_per_function_and_options(disk):
    ns = notebook()
    cell(ns, """
        def f(x):
            return np.sum(np.sin(x) * x)
    """, "one")
    x = np.linspace(0.1, 1.0, 4)
    for _ in range(3):
        s2sgrad.grad(ns["f"])(x)
    s2sgrad.grad(ns["f"], emit=True, example=(x,))      # the code those calls ran
    assert cache.stats["transform"] == 1
    s2sgrad.grad(ns["f"], emit=True)        # the general code: another request
    s2sgrad.grad(ns["f"], emit=True)
    assert cache.stats["transform"] == 2
    s2sgrad.grad(lambda a, b: a * np.sum(b), 1)(2.0, x)   # other options, other function
    ns2 = notebook()
    cell(ns2, """
        def f(x):
            return np.sum(np.sin(x) * x)
    """, "one")                                          # the same cell run again
    assert_close(s2sgrad.grad(ns2["f"])(x), numeric_grad(ns2["f"], (x,)))
    assert cache.stats["transform"] == 3 and cache.stats["memory_hit"] == 1


def test_two_lambdas_on_one_line_are_two_entries(disk, tmp_path, monkeypatch):
    m = write_module(tmp_path, "s2s_lambdas", """
        import numpy as np
        square, cube = lambda x: np.sum(x ** 2), lambda x: np.sum(x ** 3)
    """, monkeypatch)
    x = np.array([0.5, -1.5])
    for _ in range(2):      # transformed, then (after forgetting) from disk
        np.testing.assert_allclose(s2sgrad.grad(m.cube)(x), 3 * x ** 2)
        np.testing.assert_allclose(s2sgrad.grad(m.square)(x), 2 * x)
        cache.forget()
    assert len(entries(disk)) == 2 and cache.stats["disk_hit"] == 2


def test_redefined_function_is_transformed_again(disk):
    ns = notebook()
    cell(ns, "def f(x):\n    return np.sum(x ** 2)\n", "a")
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(s2sgrad.grad(ns["f"])(x), 2 * x)
    cell(ns, "def f(x):\n    return np.sum(x ** 3)\n", "b")
    np.testing.assert_allclose(s2sgrad.grad(ns["f"])(x), 3 * x ** 2)
    assert "x ** 3" in s2sgrad.grad(ns["f"], emit=True)


def test_redefined_helper_is_seen_by_an_existing_gradient(disk):
    ns = notebook()
    cell(ns, "def helper(v):\n    return v ** 2\n", "h1")
    cell(ns, "def f(x):\n    return np.sum(helper(x))\n", "f")
    g = s2sgrad.grad(ns["f"])
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(g(x), 2 * x)
    cell(ns, "def helper(v):\n    return v ** 3\n", "h2")      # f itself is unchanged
    np.testing.assert_allclose(g(x), 3 * x ** 2)
    assert "<cell-h2>:2  return v ** 3" in s2sgrad.grad(ns["f"], emit=True)


def test_rebound_global_constant_is_seen_without_transforming_again(disk):
    ns = notebook()
    cell(ns, """
        S = 2.0

        def f(x):
            return np.sum(np.sin(x) * S)
    """, "c")
    g = s2sgrad.grad(ns["f"])
    x = np.array([0.3, 1.2])
    np.testing.assert_allclose(g(x), 2.0 * np.cos(x))
    ns["S"] = 3.0
    np.testing.assert_allclose(g(x), 3.0 * np.cos(x))
    assert cache.stats["transform"] == 1


# ---------------------------------------------------------------------------
# On disk
# ---------------------------------------------------------------------------

@pytest.mark.auto_code
def test_disk_entry_is_private_and_used_after_the_memory_is_gone(disk, tmp_path, monkeypatch):
    m = write_module(tmp_path, "s2s_model_disk", MODEL, monkeypatch)
    x = np.array([0.2, -0.7, 1.1])
    expected = numeric_grad(m.f, (x,))
    assert_close(s2sgrad.grad(m.f)(x), expected)
    (entry,) = entries(disk)
    assert os.stat(disk).st_mode & 0o777 == 0o700
    assert os.stat(entry.parent).st_mode & 0o777 == 0o700
    assert os.stat(entry).st_mode & 0o777 == 0o600
    source = s2sgrad.grad(m.f, emit=True, example=(x,))     # the code the call ran
    cache.forget()
    assert_close(s2sgrad.grad(m.f)(x), expected)
    assert cache.stats["disk_hit"] == 1 and cache.stats["transform"] == 1
    assert s2sgrad.grad(m.f, emit=True, example=(x,)) == source
    info = cache.info()
    assert info["entries"] == 1 and info["directory"] == str(disk) and info["mode"] == "0o700"


def test_disk_hit_binds_closure_values_of_the_live_function(disk, tmp_path, monkeypatch):
    m = write_module(tmp_path, "s2s_closures", """
        import numpy as np

        def make(scale):
            def helper(v):
                return np.sin(v) * scale

            def f(x):
                return np.sum(helper(x) * scale)
            return f
    """, monkeypatch)
    x = np.array([0.3, -1.1])
    np.testing.assert_allclose(s2sgrad.grad(m.make(2.0))(x), 4.0 * np.cos(x))
    cache.forget()
    np.testing.assert_allclose(s2sgrad.grad(m.make(3.0))(x), 9.0 * np.cos(x))
    assert cache.stats["disk_hit"] == 1 and cache.stats["transform"] == 1


def test_changed_helper_source_invalidates_the_disk_entry(disk, tmp_path, monkeypatch):
    m = write_module(tmp_path, "s2s_model_dep", MODEL, monkeypatch)
    x = np.array([0.2, -0.7, 1.1])
    s2sgrad.grad(m.f)(x)
    cache.forget()
    # The module is edited and imported again (a new process would do the same).
    m2 = write_module(tmp_path, "s2s_model_dep", MODEL.replace("np.tanh(v)", "np.sin(v)"),
                      monkeypatch)
    assert_close(s2sgrad.grad(m2.f)(x), numeric_grad(m2.f, (x,)))
    assert cache.stats["stale_dependency"] == 1 and cache.stats["transform"] == 2
    assert "np.sin(v)" in s2sgrad.grad(m2.f, emit=True)


def test_key_depends_on_source_options_and_rules(disk, tmp_path, monkeypatch):
    m = write_module(tmp_path, "s2s_model_key", MODEL, monkeypatch)
    k = cache.entry_key(m.f, ("reverse", (0,)))
    assert k == cache.entry_key(m.f, ("reverse", (0,)))
    assert k != cache.entry_key(m.f, ("reverse", (1,)))
    assert k != cache.entry_key(m.helper, ("reverse", (0,)))
    digests = cache.library_digests()
    monkeypatch.setattr(cache, "library_digests", lambda: dict(digests, rules="0" * 16))
    assert k != cache.entry_key(m.f, ("reverse", (0,)))
    monkeypatch.undo()
    m2 = write_module(tmp_path, "s2s_model_key", "\n" + MODEL, monkeypatch)   # lines moved
    assert k != cache.entry_key(m2.f, ("reverse", (0,)))


def _poison(source):
    """Generated source that would leave a mark if it ever ran."""
    return "import builtins\nbuiltins.S2S_POISONED = True\n" + source


@pytest.mark.parametrize("damage", ["truncated", "flipped", "garbage", "poisoned", "foreign",
                                    "empty"])
def test_damaged_entry_is_detected_never_run_and_regenerated(disk, tmp_path, monkeypatch, damage):
    m = write_module(tmp_path, f"s2s_model_{damage}", MODEL, monkeypatch)
    x = np.array([0.2, -0.7, 1.1])
    expected = numeric_grad(m.f, (x,))
    s2sgrad.grad(m.f)(x)
    (path,) = entries(disk)
    good = path.read_bytes()
    key = path.name[:-len(".s2sgrad")]
    secret = cache.secret()
    entry, _ = cache.decode_entry(good, key, secret)
    if damage == "truncated":
        path.write_bytes(good[:len(good) // 2])
    elif damage == "flipped":
        i = good.index(b"d_x")
        path.write_bytes(good[:i] + b"e" + good[i + 1:])
    elif damage == "garbage":
        path.write_bytes(os.urandom(300))
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "poisoned":   # the code changed, the hash line kept
        bad = cache.encode_entry(dict(entry, source=_poison(entry["source"])), secret)
        path.write_bytes(good.split(b"\n", 1)[0] + b"\n" + bad.split(b"\n", 1)[1])
    elif damage == "foreign":    # a well-formed entry stored under another key
        path.write_bytes(cache.encode_entry(dict(entry, key="f" * 64,
                                                 source=_poison(entry["source"])), secret))
    cache.forget()
    with pytest.warns(RuntimeWarning, match="ignored the disk cache entry .*nothing in it was "
                                            "run, and it is regenerated") as record:
        assert_close(s2sgrad.grad(m.f)(x), expected)
    assert len(record) == 1 and record[0].filename == __file__
    assert not hasattr(__import__("builtins"), "S2S_POISONED")
    assert cache.stats["transform"] == 2 and cache.stats["disk_hit"] == 0
    assert sum(v for k, v in cache.stats.items() if k.startswith("rejected:")) == 1
    regenerated, why = cache.decode_entry(path.read_bytes(), key, secret)
    assert why is None and regenerated["source"] == entry["source"]


def test_cached_code_object_runs_only_if_it_was_compiled_from_the_cached_text(
        disk, tmp_path, monkeypatch):
    import base64
    import marshal
    m = write_module(tmp_path, "s2s_model_code", MODEL, monkeypatch)
    x = np.array([0.2, -0.7])
    s2sgrad.grad(m.f)(x)
    (path,) = entries(disk)
    key = path.name[:-len(".s2sgrad")]
    secret = cache.secret()
    entry, _ = cache.decode_entry(path.read_bytes(), key, secret)
    other = _poison(entry["source"])
    code = compile(other, cache.filename_for(other, "s2s_model_code.f.grad"), "exec")
    path.write_bytes(cache.encode_entry(dict(entry, code=base64.b64encode(
        marshal.dumps(code)).decode()), secret))
    cache.forget()
    assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
    assert cache.stats["disk_hit"] == 1
    assert not hasattr(__import__("builtins"), "S2S_POISONED")


def test_directory_writable_by_others_is_not_used(disk, tmp_path, monkeypatch):
    if not hasattr(os, "getuid"):
        pytest.skip("POSIX permissions")
    os.makedirs(disk)
    os.chmod(disk, 0o777)
    m = write_module(tmp_path, "s2s_model_unsafe", MODEL, monkeypatch)
    with pytest.warns(RuntimeWarning, match="other users can write"):
        s2sgrad.grad(m.f)(np.ones(2))
    assert entries(disk) == []


def test_cache_off_writes_nothing(disk, tmp_path, monkeypatch):
    monkeypatch.setenv("S2SGRAD_CACHE", "off")
    m = write_module(tmp_path, "s2s_model_off", MODEL, monkeypatch)
    x = np.array([0.4, 0.1])
    assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
    assert not disk.exists() and not cache.info()["enabled"]


def test_cache_directory_follows_platform_conventions(monkeypatch, tmp_path):
    monkeypatch.setenv("S2SGRAD_CACHE_DIR", str(tmp_path / "x"))
    assert cache.cache_dir() == str(tmp_path / "x")
    monkeypatch.delenv("S2SGRAD_CACHE_DIR")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == str(tmp_path / "xdg" / "s2sgrad")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == str(tmp_path / "home" / ".cache" / "s2sgrad")
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cache.cache_dir() == str(tmp_path / "home" / "Library" / "Caches" / "s2sgrad")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert cache.cache_dir() == os.path.join(str(tmp_path / "local"), "s2sgrad", "Cache")


WRITER = """
import os, sys, time
from s2sgrad.driver import cache, pipeline
key, n, ready, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
entry = {"key": key, "s2sgrad": "x", "options": "()", "entry": "grad_f",
         "interface": {"entry": "grad_f"},
         "source": "def grad_f(x):\\n    return x\\n" * (2000 * n), "bindings": [],
         "watch": [], "deps": []}
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
end = time.monotonic() + 0.4
while time.monotonic() < end:
    assert cache.store(key, entry)
"""


def test_concurrent_writers_leave_one_good_entry(disk, tmp_path):
    key = "ab" * 32
    go = tmp_path / "go"
    env = dict(os.environ, S2SGRAD_CACHE_DIR=str(disk))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, key, str(n), str(tmp_path / f"r{n}"),
                               str(go)], cwd=ROOT, env=env)
             for n in (1, 2, 3)]
    while not all((tmp_path / f"r{n}").exists() for n in (1, 2, 3)):
        assert all(p.poll() is None for p in procs)
    go.touch()
    path = cache.entry_path(key, str(disk / f"v{cache.FORMAT}"))
    while cache.secret() is None:       # made by the first writer
        pass
    secret = cache.secret()
    sizes, reads = set(), 0
    while any(p.poll() is None for p in procs):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        entry, why = cache.decode_entry(data, key, secret)
        assert why is None, why      # a reader never sees a partial or mixed entry
        sizes.add(len(entry["source"]))
        reads += 1
    assert [p.wait() for p in procs] == [0, 0, 0]
    assert reads > 10 and len(sizes) > 1            # the writers really did overlap
    entry, why = cache.decode_entry(open(path, "rb").read(), key, secret)
    unit = len("def grad_f(x):\n    return x\n") * 2000
    assert why is None and len(entry["source"]) in {unit, 2 * unit, 3 * unit}
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]   # no temporary files


# ---------------------------------------------------------------------------
# Inspecting: linecache, tracebacks, inspect, pdb, determinism
# ---------------------------------------------------------------------------

@pytest.mark.auto_code
def test_generated_code_is_in_linecache_tracebacks_and_inspect(disk, tmp_path, monkeypatch):
    m = write_module(tmp_path, "s2s_model_trace", MODEL, monkeypatch)
    module = pipeline.module_of(m.f, example=(np.ones(2),))     # what a call on a vector runs
    assert module.filename.startswith("<s2sgrad:s2s_model_trace.f.grad:")
    assert s2sgrad.grad(m.f, emit=True, example=(np.ones(3),)) == module.source == "".join(
        linecache.getlines(module.filename))
    entry = module.namespace["grad_f"]
    text = inspect.getsource(entry)
    assert text.startswith("def grad_f(x):") and text in module.source
    linecache.clearcache()           # what IPython and doctest do now and then
    s2sgrad.grad(m.f)(np.ones(2))
    assert linecache.getlines(module.filename)
    strings = np.array(["a", "b"])
    with pytest.raises(TypeError) as info:     # np.tanh of strings fails inside the adjoint
        s2sgrad.grad(m.f)(strings)
    module = pipeline.module_of(m.f, example=(strings,))     # (code for that signature)
    frames = traceback.extract_tb(info.tb)
    generated = [fr for fr in frames if fr.filename == module.filename]
    assert generated and generated[-1].line and generated[-1].line in module.source


@pytest.mark.auto_code
def test_pdb_breakpoint_inside_the_adjoint(disk, tmp_path, monkeypatch):
    m = write_module(tmp_path, "s2s_model_pdb", MODEL, monkeypatch)
    module = pipeline.module_of(m.f, example=(np.ones(3),))
    lines = module.source.splitlines()
    target = next(i for i, text in enumerate(lines, 1) if text.strip().startswith("d_x ="))
    out = io.StringIO()
    debugger = pdb.Pdb(stdin=io.StringIO("c\np d_y.shape\nl\nc\n"), stdout=out, nosigint=True)
    debugger.use_rawinput = False
    assert debugger.set_break(module.filename, target) is None
    x = np.array([0.1, 0.2, 0.3])
    debugger.runcall(s2sgrad.grad(m.f), x)
    text = out.getvalue()
    assert f"{module.filename}({target})grad_f()" in text
    assert f"-> {lines[target - 1].strip()}" in text
    assert "(3,)" in text                          # a variable of the backward sweep
    assert "# s2s_model_pdb.py:" in text            # listing shows the cited user lines


DETERMINISM = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, s2sgrad
from s2sgrad.driver import cache, pipeline
import model
x = np.array([0.3, -0.2])
src = s2sgrad.grad(model.f2, emit=True, example=(x,))
print(pipeline.module_of(model.f2, example=(x,)).filename)
g = s2sgrad.grad(model.f2)(x)
print(dict(cache.stats).get("disk_hit", 0), dict(cache.stats).get("transform", 0),
      "gast" in sys.modules)
print(repr(g.tolist()))
sys.stdout.write(src)
"""


@pytest.mark.auto_code
def test_same_bytes_in_every_process_whatever_the_hash_seed(tmp_path):
    """Transforming under two hash seeds, and a third process served from disk, agree exactly."""
    src_dir = tmp_path / "deep" / "user" / "project"
    src_dir.mkdir(parents=True)
    (src_dir / "model.py").write_text(MODEL + textwrap.dedent("""

        def g(params, x):
            total = 0.0
            for k in sorted(params):
                if k != "b":
                    total = total + np.sum(params[k] * x) * SCALE
            return total + np.sum(params["b"])


        def f2(x):
            return g({"a": x, "b": x ** 2, "c": np.sin(x)}, x) + f(x)
    """))
    outs = []
    for seed, mode in (("1", "on"), ("2", "off"), ("3", "on")):
        env = dict(os.environ, PYTHONHASHSEED=seed, S2SGRAD_CACHE=mode,
                   S2SGRAD_CACHE_DIR=str(tmp_path / "cache"))
        r = subprocess.run([sys.executable, "-c", DETERMINISM, str(src_dir)], env=env,
                           capture_output=True, text=True, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.split("\n", 3))
    (f1, s1, g1, t1), (f2, s2, g2, t2), (f3, s3, g3, t3) = outs
    # Transformed, transformed, then from disk without importing the compiler.
    assert (s1, s2, s3) == ("0 1 True", "0 1 True", "1 0 False")
    assert t1 == t2 == t3 and f1 == f2 == f3 and g1 == g2 == g3
    assert str(tmp_path) not in t1 and "model.py:" in t1 and "def grad_f2(" in t1
