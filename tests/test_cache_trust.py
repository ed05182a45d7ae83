"""The disk cache trusts nothing on disk: links, other users' files, forged entries, full disks.

These tests run as root in CI as well as as a normal user: where a permission
does not bind root (a read-only directory, an unreadable one), the test makes
the system call fail the way it would for a normal user.
"""

import builtins
import errno
import hashlib
import importlib.util
import os
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import cache
from s2sgrad.cli import main
from gradcheck import assert_close, numeric_grad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
POSIX = hasattr(os, "geteuid")

MODEL = """
import numpy as np


def f(x):
    return np.sum(np.tanh(x) * x)


def g(x):
    return np.sum(np.sin(x) ** 2)


def h(x):
    return np.sum(np.exp(-x) * x)
"""


@pytest.fixture
def disk(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("S2SGRAD_CACHE_DIR", str(d))
    monkeypatch.delenv("S2SGRAD_CACHE", raising=False)
    cache.forget()
    cache.stats.clear()
    cache._warned.clear()
    yield d
    cache.forget()
    cache._warned.clear()
    for marker in ("S2S_FORGED",):
        if hasattr(builtins, marker):
            delattr(builtins, marker)


_counter = [0]


def model(tmp_path, monkeypatch, source=MODEL):
    """Import ``source`` as a fresh module (its own name, so nothing is shared between tests)."""
    _counter[0] += 1
    name = f"s2s_trust_{_counter[0]}"
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module


def entries_of(d):
    v = d / f"v{cache.FORMAT}"
    return sorted(p.name for p in v.iterdir() if p.name.endswith(".s2sgrad")) if v.exists() else []


def leftovers(d):
    out = []
    for sub in (d, d / f"v{cache.FORMAT}"):
        if sub.exists():
            out += [p.name for p in sub.iterdir() if p.name.startswith(".tmp-")]
    return out


def forged_source(source):
    """Generated text that leaves a mark, and returns a wrong gradient, if it ever runs."""
    return ("import builtins\nbuiltins.S2S_FORGED = True\n" + source
            + "\n\ndef grad_f(*args, **kwargs):\n    return -12345.0\n")


def rehashed(entry):
    """What an attacker who cannot read the user's key can write: an unkeyed digest of the body."""
    import json
    body = json.dumps(entry, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return f"{cache.MAGIC} {cache.FORMAT} {hashlib.sha256(body).hexdigest()}\n".encode() + body


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def warned(record, text):
    return [w for w in record if issubclass(w.category, RuntimeWarning) and text in str(w.message)]


# ---------------------------------------------------------------------------
# Authenticated entries
# ---------------------------------------------------------------------------

def _genuine(disk, m, x):
    """Compute grad(m.f) once (stored on disk); return its path, content key and entry."""
    s2sgrad.grad(m.f)(x)
    (name,) = entries_of(disk)
    path = disk / f"v{cache.FORMAT}" / name
    key = name[:-len(".s2sgrad")]
    entry, why = cache.decode_entry(path.read_bytes(), key, cache.secret())
    assert why is None
    return path, key, entry


def test_the_key_is_private_random_and_each_entry_is_signed_with_it(disk, tmp_path, monkeypatch):
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    path, key, entry = _genuine(disk, m, x)
    key_file = disk / "key"
    st = os.stat(key_file)
    assert st.st_size == 32 and st.st_mode & 0o777 == 0o600
    assert cache.secret() == key_file.read_bytes()
    data = path.read_bytes()
    other_key = os.urandom(32)
    assert cache.decode_entry(data, key, other_key) == (None, "bad_mac")
    assert cache.decode_entry(data, "0" * 64, cache.secret()) == (None, "foreign")
    # the signature covers every byte of the body: the text and the compiled code alike
    head, body = data.split(b"\n", 1)
    for i in (body.index(b'"source"') + 12, body.index(b'"code"') + 12, len(body) - 3):
        flipped = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
        assert cache.decode_entry(head + b"\n" + flipped, key, cache.secret()) == (
            None, "bad_mac")


@pytest.mark.parametrize("forgery", ["rehashed", "other_key"])
def test_a_forged_entry_is_never_run_and_is_regenerated(disk, tmp_path, monkeypatch, forgery):
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    path, key, entry = _genuine(disk, m, x)
    forged = dict(entry, source=forged_source(entry["source"]))
    del forged["code"]
    if forgery == "rehashed":                   # the old format's unkeyed SHA-256, recomputed
        path.write_bytes(rehashed(forged))
    else:                                       # signed, but with a key that is not the user's
        path.write_bytes(cache.encode_entry(forged, os.urandom(32)))
    cache.forget()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
        cache.forget()
        s2sgrad.grad(m.f)(x)                    # served by the regenerated entry, no warning
    assert not hasattr(builtins, "S2S_FORGED")
    (w,) = warned(record, "s2sgrad")
    assert "does not carry this user's signature" in str(w.message)
    assert "nothing in it was run, and it is regenerated" in str(w.message)
    assert w.filename == __file__
    assert cache.stats["rejected:bad_mac"] == 1 and cache.stats["disk_hit"] == 1
    regenerated, why = cache.decode_entry(path.read_bytes(), key, cache.secret())
    assert why is None and regenerated["source"] == entry["source"]


@pytest.mark.auto_code
def test_a_swapped_code_object_is_never_run(disk, tmp_path, monkeypatch):
    """Code compiled from other text, under the file name of the genuine text: shown benign, run evil."""
    import base64
    import marshal
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    path, key, entry = _genuine(disk, m, x)
    filename = cache.filename_for(entry["source"], cache.label_of(m.f, ("reverse", (0,))))
    evil = compile(forged_source(entry["source"]), filename, "exec")
    assert evil.co_filename == filename
    path.write_bytes(rehashed(dict(entry, code=base64.b64encode(marshal.dumps(evil)).decode())))
    cache.forget()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
        assert s2sgrad.grad(m.f, emit=True, example=(x,)) == entry["source"]
    assert not hasattr(builtins, "S2S_FORGED")
    assert len(warned(record, "does not carry this user's signature")) == 1
    regenerated, why = cache.decode_entry(path.read_bytes(), key, cache.secret())
    assert why is None and regenerated["source"] == entry["source"]
    assert marshal.loads(base64.b64decode(regenerated["code"])).co_filename == filename


def test_an_entry_that_is_a_link_or_not_the_users_is_not_read(disk, tmp_path, monkeypatch):
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    path, key, entry = _genuine(disk, m, x)
    elsewhere = tmp_path / "elsewhere.s2sgrad"
    elsewhere.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(elsewhere)      # even a link to a valid entry is not followed
    cache.forget()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
    assert cache.stats["rejected:not_a_file"] == 1 and cache.stats["transform"] == 2
    assert len(warned(record, "it is not a regular file")) == 1
    assert not path.is_symlink() and elsewhere.read_bytes() == path.read_bytes()


# ---------------------------------------------------------------------------
# The directory: links, owners, modes, and the race between check and use
# ---------------------------------------------------------------------------

def test_a_cache_path_that_is_a_link_is_not_followed(disk, tmp_path, monkeypatch, capsys):
    if not POSIX:
        pytest.skip("POSIX links and permissions")
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    real = tmp_path / "real"
    monkeypatch.setenv("S2SGRAD_CACHE_DIR", str(real))
    s2sgrad.grad(m.f)(x)
    before = entries_of(real)
    assert len(before) == 1
    disk.symlink_to(real)
    monkeypatch.setenv("S2SGRAD_CACHE_DIR", str(disk))
    cache.forget()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert_close(s2sgrad.grad(m.g)(x), numeric_grad(m.g, (x,)))
        assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
    (w,) = warned(record, "s2sgrad")
    assert f"not using the cache directory {disk}: it is a symbolic link" in str(w.message)
    assert w.filename == __file__
    assert entries_of(real) == before and cache.stats["disk_hit"] == 0
    # cache clear does not empty what the link points to
    code, out, err = run(capsys, "cache", "clear")
    assert code == 2 and out == "" and "symbolic link" in err and "nothing was removed" in err
    assert entries_of(real) == before
    code, out, err = run(capsys, "cache", "info")
    assert code == 2 and "entries:    unknown" in out and "symbolic link" in err


@pytest.mark.skipif(not IS_ROOT, reason="making a directory of another user needs root")
def test_a_directory_of_another_user_is_not_used(disk, tmp_path, monkeypatch):
    m = model(tmp_path, monkeypatch)
    os.makedirs(disk, mode=0o700)
    os.chown(disk, 65534, 65534)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        x = np.array([0.3, -0.8])
        assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
    (w,) = warned(record, "s2sgrad")
    assert "belongs to another user (uid 65534)" in str(w.message) and w.filename == __file__
    assert os.listdir(disk) == []


def test_a_directory_others_can_write_is_not_used_and_the_warning_is_at_the_users_line(
        disk, tmp_path, monkeypatch):
    if not POSIX:
        pytest.skip("POSIX permissions")
    m = model(tmp_path, monkeypatch)
    os.makedirs(disk)
    os.chmod(disk, 0o777)
    x = np.array([0.3, -0.8])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
        s2sgrad.grad(m.g)(x)
    (w,) = warned(record, "s2sgrad")
    assert "other users can write to it" in str(w.message)
    assert (w.filename, w.lineno) == (__file__, line)
    assert os.listdir(disk) == []


ATTACKER = """
import ctypes, os, random, shutil, sys, time
link, private, mine, ready, stop = sys.argv[1:6]
libc = ctypes.CDLL(None, use_errno=True)
exchange = getattr(libc, "renameat2", None)     # swaps two names in one step (Linux)


def swap():
    if exchange is not None:
        if exchange(-100, link.encode(), -100, mine.encode(), 2) == 0:  # AT_FDCWD, EXCHANGE
            return
    for op in (lambda: os.unlink(link), lambda: os.rename(mine, link),
               lambda: os.rename(link, mine), lambda: os.symlink(private, link)):
        try:
            op()
        except OSError:
            pass


os.symlink(private, link)
flips = 0
while not os.path.exists(stop):
    if flips == 10:
        open(ready, "w").close()
    swap()
    if random.random() < 0.5:   # hold a state for a while, as long as a check may take
        time.sleep(random.random() * 1e-4)
    flips += 1
print(flips)
"""


def test_a_path_flipped_between_a_link_and_another_directory_never_serves_a_forged_entry(
        disk, tmp_path, monkeypatch):
    """The race of issue 15: checks by path, then reads by path, read the attacker's entry."""
    if not POSIX:
        pytest.skip("POSIX links and permissions")
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    expected = numeric_grad(m.f, (x,))
    private = tmp_path / "private"          # the victim's real, private cache
    monkeypatch.setenv("S2SGRAD_CACHE_DIR", str(private))
    s2sgrad.grad(m.f)(x)
    (name,) = entries_of(private)
    key = name[:-len(".s2sgrad")]
    genuine, _ = cache.decode_entry((private / f"v{cache.FORMAT}" / name).read_bytes(), key,
                                    cache.secret())
    private_files = sorted(os.listdir(private / f"v{cache.FORMAT}"))
    # The attacker's own directory: the same layout, a key of their own, a forged entry.
    attacker = tmp_path / "attacker"
    (attacker / f"v{cache.FORMAT}").mkdir(parents=True)
    attacker_key = os.urandom(32)
    (attacker / "key").write_bytes(attacker_key)
    os.chmod(attacker / "key", 0o600)
    forged = dict(genuine, source=forged_source(genuine["source"]))
    del forged["code"]
    (attacker / f"v{cache.FORMAT}" / name).write_bytes(cache.encode_entry(forged, attacker_key))
    if IS_ROOT:     # another user's files
        for p in (attacker, attacker / "key", attacker / f"v{cache.FORMAT}",
                  attacker / f"v{cache.FORMAT}" / name):
            os.chown(p, 65534, 65534)
    else:           # a directory anybody could have filled
        os.chmod(attacker, 0o777)
    shared = tmp_path / "shared"            # a /tmp-like parent: anybody may create names in it
    shared.mkdir()
    os.chmod(shared, 0o1777)
    link = shared / "cache"
    monkeypatch.setenv("S2SGRAD_CACHE_DIR", str(link))
    ready, stop = tmp_path / "ready", tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, "-c", ATTACKER, str(link), str(private),
                             str(attacker), str(ready), str(stop)], stdout=subprocess.PIPE,
                            text=True)
    served = {"genuine": 0, "forged": 0, "miss": 0}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            while not ready.exists():
                assert proc.poll() is None
                time.sleep(0.001)
            end = time.monotonic() + 2.0
            i = 0
            while time.monotonic() < end:
                i += 1
                entry = cache.load(key)
                if entry is None:
                    served["miss"] += 1
                elif entry["source"] == genuine["source"]:
                    served["genuine"] += 1
                else:
                    served["forged"] += 1
                if i % 1000 == 0:
                    cache.forget()
                    assert_close(s2sgrad.grad(m.f)(x), expected)
                    assert not hasattr(builtins, "S2S_FORGED")
    finally:
        stop.touch()
        flips = int(proc.communicate(timeout=60)[0])
    assert served["forged"] == 0, served
    assert flips > 20, flips                        # the path really was flipping
    assert not hasattr(builtins, "S2S_FORGED")
    # and nothing was written into either directory through the flipping path
    assert sorted(os.listdir(private / f"v{cache.FORMAT}")) == private_files
    assert os.listdir(attacker / f"v{cache.FORMAT}") == [name]


# ---------------------------------------------------------------------------
# Writers: temporary files, several processes, full and read-only disks
# ---------------------------------------------------------------------------

WRITER = """
import os, sys, time, warnings
warnings.simplefilter("error")
from s2sgrad.driver import cache
n, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
keys = [c * 64 for c in "abcd"]
unit = "def grad_f(x):\\n    return x\\n"
def entry(key, n):
    return {"key": key, "s2sgrad": "x", "options": "()", "entry": "grad_f",
            "interface": {"entry": "grad_f"},
            "source": unit * (500 * n), "bindings": [], "watch": [], "deps": []}
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.001)
end = time.monotonic() + 0.8
loads = sizes = 0
seen = set()
while time.monotonic() < end:
    for i, key in enumerate(keys):
        if (i + n) % 2:
            assert cache.store(key, entry(key, n))
        got = cache.load(key)
        if got is not None:
            assert got["key"] == key and got["source"] == unit * (len(got["source"]) // len(unit))
            seen.add(len(got["source"]) // (500 * len(unit)))
            loads += 1
assert not any(k.startswith("rejected") for k in cache.stats), dict(cache.stats)
print(loads, len(seen))
"""


def test_four_processes_writing_and_reading_the_same_entries(disk, tmp_path):
    """They race to create the directory and the key too: one key, no corrupt or rejected read."""
    go = tmp_path / "go"
    env = dict(ENV, S2SGRAD_CACHE_DIR=str(disk))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(n), str(tmp_path / f"r{n}"),
                               str(go)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for n in (1, 2, 3, 4)]
    while not all((tmp_path / f"r{n}").exists() for n in (1, 2, 3, 4)):
        assert all(p.poll() is None for p in procs)
        time.sleep(0.005)
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [e for _, e in outs]
    loads = [tuple(map(int, o.split())) for o, _ in outs]
    assert all(n > 20 for n, _ in loads), loads
    assert max(s for _, s in loads) > 1                 # readers saw other processes' writes
    assert sorted(os.listdir(disk)) == ["key", f"v{cache.FORMAT}"] and leftovers(disk) == []
    secret = cache.secret()
    for name in entries_of(disk):
        data = (disk / f"v{cache.FORMAT}" / name).read_bytes()
        assert cache.decode_entry(data, name[:-len(".s2sgrad")], secret)[1] is None
    assert len(entries_of(disk)) == 4


def test_stale_temporary_files_are_cleaned_and_live_ones_kept(disk, tmp_path, monkeypatch):
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8])
    s2sgrad.grad(m.f)(x)
    v = disk / f"v{cache.FORMAT}"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    old = v / f".tmp-{os.getpid()}-0000000000aa"        # a writer killed long ago
    recent_dead = v / f".tmp-{dead.pid}-0000000000bb"   # a writer killed just now
    live = v / f".tmp-{os.getpid()}-0000000000cc"       # a write in flight
    key_tmp = disk / f".tmp-key-{dead.pid}-0000000000dd"
    for p in (old, recent_dead, live, key_tmp):
        p.write_bytes(b"partial")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    s2sgrad.grad(m.g)(x)                # a write cleans what is older than some minutes
    assert not old.exists() and recent_dead.exists() and live.exists()
    removed = cache.clear()             # clear removes what no live process is writing
    assert removed == 2 + 2             # two entries, two temporary files of dead writers
    assert sorted(leftovers(disk)) == [live.name] and entries_of(disk) == []


KILLED = """
import os, sys, time
from s2sgrad.driver import cache
real_write = os.write


def stuck(fd, data):            # half an entry written, then the process is killed
    real_write(fd, bytes(data[:100]))
    open(sys.argv[1], "w").close()
    time.sleep(600)


os.write = stuck
cache.store("ab" * 32, {"key": "ab" * 32, "s2sgrad": "x", "options": "()", "entry": "grad_f",
                        "source": "def grad_f(x):\\n    return x\\n", "bindings": [],
                        "watch": [], "deps": []})
"""


def test_a_writer_killed_mid_write_leaves_a_file_that_is_never_read_and_is_cleared(
        disk, tmp_path, capsys):
    if not POSIX:
        pytest.skip("POSIX signals")
    import signal
    assert cache.secret(create=True) is not None
    stuck = tmp_path / "stuck"
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(stuck)],
                            env=dict(ENV, S2SGRAD_CACHE_DIR=str(disk)))
    try:
        while not stuck.exists():
            assert proc.poll() is None
            time.sleep(0.005)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    (partial,) = leftovers(disk)
    assert partial.startswith(f".tmp-{proc.pid}-")
    assert (disk / f"v{cache.FORMAT}" / partial).stat().st_size == 100
    assert cache.load("ab" * 32) is None and cache.info()["temporary_files"] == 1
    code, out, err = run(capsys, "cache", "info")
    assert code == 0 and "leftovers:  1 temporary files (s2sgrad cache clear)" in out
    code, out, err = run(capsys, "cache", "clear")
    assert (code, out, err) == (0, f"removed 1 cache entry from {disk}\n", "")
    assert leftovers(disk) == []


def test_a_failed_write_leaves_nothing_and_warns_once_at_the_users_call(
        disk, tmp_path, monkeypatch):
    """A full disk: the gradient is right, one warning says so, no temporary file is left."""
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with monkeypatch.context() as mp:
            mp.setattr(os, "write", full)
            line = sys._getframe().f_lineno + 1
            assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))    # the key: no space
            assert_close(s2sgrad.grad(m.g)(x), numeric_grad(m.g, (x,)))
        assert os.write is real_write
        assert_close(s2sgrad.grad(m.h)(x), numeric_grad(m.h, (x,)))
    (w,) = warned(record, "s2sgrad")
    assert f"cannot write to the disk cache in {disk}: No space left on device" in str(w.message)
    assert "gradients are computed without it" in str(w.message)
    assert (w.filename, w.lineno) == (__file__, line)
    assert leftovers(disk) == [] and len(entries_of(disk)) == 1     # h, once there was room
    # With a key already there, the entry write itself fails: still nothing left behind.
    cache._warned.clear()
    cache.forget()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with monkeypatch.context() as mp:
            mp.setattr(os, "write", full)
            assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))
    assert len(warned(record, "No space left on device")) == 1
    assert leftovers(disk) == [] and len(entries_of(disk)) == 1


def _read_only(monkeypatch, *dirs):
    """Make ``dirs`` read-only: by mode, and (for root, whom modes do not stop) at the system call."""
    for d in dirs:
        os.chmod(d, 0o500)
    if IS_ROOT:
        real_open, real_mkdir = os.open, os.mkdir

        def ro_open(path, flags, *args, **kwargs):
            if flags & os.O_CREAT:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            return real_open(path, flags, *args, **kwargs)

        def ro_mkdir(path, *args, **kwargs):
            if os.path.lexists(path if "dir_fd" not in kwargs else
                               os.path.join(f"/proc/self/fd/{kwargs['dir_fd']}", path)):
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST))
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr(os, "open", ro_open)
        monkeypatch.setattr(os, "mkdir", ro_mkdir)


def test_a_read_only_cache_still_serves_hits_and_warns_once(disk, tmp_path, monkeypatch):
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8, 1.2])
    s2sgrad.grad(m.f)(x)
    cache.forget()
    v = disk / f"v{cache.FORMAT}"
    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            with monkeypatch.context() as mp:
                _read_only(mp, disk, v)
                assert_close(s2sgrad.grad(m.f)(x), numeric_grad(m.f, (x,)))     # a disk hit
                assert_close(s2sgrad.grad(m.g)(x), numeric_grad(m.g, (x,)))
                assert_close(s2sgrad.grad(m.h)(x), numeric_grad(m.h, (x,)))
    finally:
        os.chmod(v, 0o700)
        os.chmod(disk, 0o700)
    assert cache.stats["disk_hit"] == 1 and cache.stats["transform"] == 3
    (w,) = warned(record, "s2sgrad")
    assert f"cannot write to the disk cache in {disk}:" in str(w.message)
    assert ("Read-only file system" if IS_ROOT else "Permission denied") in str(w.message)
    assert w.filename == __file__
    assert len(entries_of(disk)) == 1 and leftovers(disk) == []


# ---------------------------------------------------------------------------
# s2sgrad cache clear / info say what is true
# ---------------------------------------------------------------------------

def test_cache_clear_that_cannot_remove_says_so_and_exits_2(disk, tmp_path, monkeypatch, capsys):
    m = model(tmp_path, monkeypatch)
    x = np.array([0.3, -0.8])
    s2sgrad.grad(m.f)(x)
    s2sgrad.grad(m.g)(x)
    v = disk / f"v{cache.FORMAT}"
    os.chmod(v, 0o500)
    try:
        with monkeypatch.context() as mp:
            if IS_ROOT:     # modes do not stop root: fail the way they fail for a user
                real_unlink = os.unlink

                def unlink(path, *args, **kwargs):
                    if str(path).endswith(".s2sgrad"):
                        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
                    return real_unlink(path, *args, **kwargs)
                mp.setattr(os, "unlink", unlink)
            code, out, err = run(capsys, "cache", "clear")
    finally:
        os.chmod(v, 0o700)
    assert code == 2 and out == ""
    assert err.startswith(f"s2sgrad: cache clear: could not remove 2 files from {disk} "
                          f"(the first: {v}{os.sep}")
    assert err.endswith(": Permission denied); removed 0\n")
    assert len(entries_of(disk)) == 2
    code, out, err = run(capsys, "cache", "clear")
    assert (code, out, err) == (0, f"removed 2 cache entries from {disk}\n", "")


def test_cache_info_of_a_cache_that_cannot_be_read_does_not_say_0(
        disk, tmp_path, monkeypatch, capsys):
    m = model(tmp_path, monkeypatch)
    s2sgrad.grad(m.f)(np.array([0.3, -0.8]))
    v = disk / f"v{cache.FORMAT}"
    os.chmod(v, 0o000)
    try:
        with monkeypatch.context() as mp:
            if IS_ROOT:
                real_listdir = os.listdir

                def listdir(path="."):
                    if isinstance(path, int) or str(path) == str(v):
                        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(v))
                    return real_listdir(path)
                mp.setattr(os, "listdir", listdir)
            code, out, err = run(capsys, "cache", "info")
            jcode, jout, _ = run(capsys, "cache", "info", "--json")
    finally:
        os.chmod(v, 0o700)
    assert code == 2 and "entries:    unknown" in out and "entries:    0" not in out
    assert err == f"s2sgrad: cannot read {v}: Permission denied\n"
    import json
    info = json.loads(jout)
    assert jcode == 2 and info["entries"] is None and info["problem"] == f"cannot read {v}: " \
        "Permission denied"
    code, out, _ = run(capsys, "cache", "info")
    assert code == 0 and "entries:    1 (" in out


def test_cache_clear_removes_entries_of_older_formats(disk, tmp_path, monkeypatch, capsys):
    m = model(tmp_path, monkeypatch)
    s2sgrad.grad(m.f)(np.array([0.3, -0.8]))
    old = disk / "v1"
    old.mkdir(mode=0o700)
    (old / ("ab" * 32 + ".s2sgrad")).write_bytes(b"s2sgrad-cache 1 0\n{}")
    (old / "notes.txt").write_text("not ours to remove")
    code, out, err = run(capsys, "cache", "clear")
    assert (code, err) == (0, "") and out == f"removed 2 cache entries from {disk}\n"
    assert os.listdir(old) == ["notes.txt"] and entries_of(disk) == []
