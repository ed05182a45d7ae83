"""``s2sgrad gen`` specialized to signatures: read from annotations and defaults, or given with
``--signature``; the checked-in function checks its arguments and runs the general code
generated beside it on others; ``check`` notices a changed signature."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import numpy.typing as npt
import pytest

from s2sgrad import runtime as _rt
from s2sgrad import signature as sg
from s2sgrad.checkin import (GenError, annotated_signature, annotation_value, parse_signature_option)
from s2sgrad.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL = '''\
import numpy as np

SCALE = 0.5


def loss(w: "float64[n]", x: "float64[batch, n]", y: "float64[batch]", steps: int = 2):
    h = x @ w
    for _ in range(steps):
        h = np.tanh(h) * SCALE + 0.1 * h
    return np.mean((h - y) ** 2) + np.sum(w ** 2)


def scaled(v, k: float, dt=0.5):
    return np.sum(np.sin(v) * k) * dt


def plain(v, eps=1e-3):
    return np.sum(np.sqrt(v * v + eps))
'''

rng = np.random.default_rng(5)
W, X, Y = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4)


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if str(tmp_path) in (getattr(sys.modules[name], "__file__", "") or ""):
            del sys.modules[name]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def text_of(signature):
    return sg.text(signature) if signature is not None else None


# ---------------------------------------------------------------------------
# Reading signatures from annotations and defaults
# ---------------------------------------------------------------------------

def test_annotations_and_defaults_give_a_signature():
    def f(x: "float64[n, n]", b: "float32[batch, 1]", dt: float = 0.01, n: int = 3,
          flag: bool = True, c: complex = 1j):
        return x

    assert annotated_signature(f) == (sg.parse("float64[n, n]"), sg.parse("float32[n, 1]"), sg.FLOAT,
                               sg.INT, sg.BOOL, sg.COMPLEX)
    assert text_of(annotated_signature(f)) == "(float64[n, n], float32[n, 1], float, int, bool, complex)"


def test_array_types_give_dtype_and_unknown_rank():
    def f(a: np.ndarray, b: npt.NDArray[np.float64], c: npt.NDArray[np.complex64],
          d: np.float32, e: "float64[*]", f0: "float64[]", g: "float[3]"):
        return a

    assert text_of(annotated_signature(f)) == \
        "(?[*], float64[*], complex64[*], np.float32, float64[*], float64[], float64[n])"


def test_postponed_annotations_are_read_from_their_text(tmp_path):
    namespace = {}
    exec(compile(textwrap.dedent('''
        from __future__ import annotations
        import numpy as np
        import numpy.typing as npt

        def f(x: npt.NDArray[np.float32], y: np.ndarray, dt: float, n: int, z: "float64[n, 1]",
              s: np.float64, t: MyClass):
            return x
    '''), str(tmp_path / "postponed.py"), "exec"), namespace)
    assert text_of(annotated_signature(namespace["f"])) == \
        "(float32[*], ?[*], float, int, float64[n, 1], np.float64, ?)"


def test_unannotated_parameters_take_number_defaults_only():
    def f(x: "float64[n]", dt=0.01, n=3, flag=False, path=None, mode="fast", start=(0.0, 1.0),
          w=np.zeros(2), other=None):
        return x

    assert text_of(annotated_signature(f)) == "(float64[n], float, int, bool, ?, ?, ?, ?, ?)"


def test_containers_in_the_signature_spelling():
    def f(p: "(float64[n], float)", q: "[int, int]", r: "{'w': float64[n, n]}", s: "?"):
        return p

    assert text_of(annotated_signature(f)) == "((float64[n], float), [int, int], {'w': float64[n, n]}, ?)"


@pytest.mark.parametrize("source", [
    "def f(x, dt=0.01):\n    return x",                      # defaults alone make no signature
    "def f(x):\n    return x",
    "def f(x: list, y: 'MyClass', z: 'list[float]'):\n    return x",
    "def f(x: 'Optional[float]', y: dict = None):\n    return x",
    "def f(x: '?', n=3):\n    return x",
])
def test_no_signature(source):
    namespace = {}
    exec(source, namespace)
    assert annotated_signature(namespace["f"]) is None


@pytest.mark.parametrize("note", ["float64[n, m+1]", "float64[n", "?[a b]"])
def test_a_malformed_array_annotation_names_the_function_and_the_parameter(note):
    namespace = {}
    exec(f"def area(x, y: {note!r}):\n    return x", namespace)
    with pytest.raises(GenError) as info:
        annotated_signature(namespace["area"])
    message = str(info.value)
    assert "area: the annotation of y" in message and repr(note) in message
    assert "float64[n, n]" in message       # how to write it


@pytest.mark.parametrize("note, expected", [
    (float, "float"), (int, "int"), (bool, "bool"), (complex, "complex"),
    ("float", "float"), ("np.float32", "np.float32"), ("int64[n]", "int64[n]"),
    ("float64[1, rows]", "float64[1, n]"), ("npt.NDArray[np.int32]", "int32[*]"),
    ("numpy.ndarray", "?[*]"), ("NDArray[Any]", "?[*]"), (str, "?"), ("Model", "?"),
])
def test_annotation_values(note, expected):
    assert str(annotation_value(note)) == expected


def test_signature_option_parses_names_and_axes():
    name, sig = parse_signature_option("miss(float64[2], float, float, float)")
    assert name == "miss" and sg.text(sig) == "(float64[n], float, float, float)"
    assert parse_signature_option(" f ( float64[batch, 1] ) ") == ("f", (sg.parse("float64[n, 1]"),))
    assert parse_signature_option("f((float, int))")[1] == (sg.parse("(float, int)"),)
    assert parse_signature_option("f()")[1] == ()
    for bad in ("float64[n]", "f float", "2f(float)", "f(float64[n, m+1])", "f(floot)"):
        with pytest.raises(GenError, match="--signature"):
            parse_signature_option(bad)


def test_one_argument_signatures_read_back():
    for sig in [(sg.FLOAT,), (sg.parse("(float, int)"),), (), (sg.parse("float64[n]"), sg.INT)]:
        assert sg.parse_signature(sg.text(sig)) == sig


def test_fits_checks_dtype_rank_and_axes_of_length_one():
    sig = "(float64[n, n], float, ?, float32[n, 1], (int, float64[n]))"
    good = (np.ones((2, 3)), 0.5, "anything", np.ones((4, 1), np.float32), (3, np.ones(2)))
    assert _rt.fits(sig, *good)
    for k, bad in [(0, np.ones((2, 3), np.float32)), (1, 1), (3, np.ones((4, 2), np.float32)),
                   (4, (3.0, np.ones(2))), (4, [3, np.ones(2)]), (0, np.ones((2, 3, 1)))]:
        args = list(good)
        args[k] = bad
        assert not _rt.fits(sig, *args), k
    assert not _rt.fits(sig, *good[:4])
    assert not _rt.fits("(float64[n, n])", np.ones(3))           # rank 1 for rank 2
    assert not _rt.fits("(float64[n])", np.ones(1))               # an axis of length 1
    assert not _rt.fits("(float)", 1) and not _rt.fits("(float)", np.float64(1.0))


# ---------------------------------------------------------------------------
# The generated file
# ---------------------------------------------------------------------------

def test_gen_specializes_annotated_functions_and_keeps_the_general_code(project, capsys):
    code, out, err = run(capsys, "gen", "model.py")
    assert code == 0, err
    text = (project / "model_grad.py").read_text()
    lines = text.splitlines()
    assert any(line.startswith("# s2sgrad-input: loss wrt=w sources=loss:") and
               line.endswith(" signature=(float64[n], float64[n, n], float64[n], int)")
               for line in lines)
    assert any(line.startswith("# s2sgrad-input: scaled wrt=v ") and
               line.endswith(" signature=(?, float, float)") for line in lines)
    assert any(line.startswith("# s2sgrad-input: plain wrt=v ") and "signature" not in line
               for line in lines)
    guard = ("    if not _rt.fits('(float64[n], float64[n, n], float64[n], int)', w, x, y, "
             "steps):\n        return grad_loss_general(w, x, y, steps, d_result)\n")
    assert guard in text
    assert "def grad_loss_general(" in text and "def grad_scaled_general(" in text
    assert "grad_plain_general" not in text and text.count("_rt.fits(") == 2
    assert "Made for arguments (float64[n], float64[n, n], float64[n], int) (its annotations)" \
        in " ".join(line.strip() for line in lines)
    assert run(capsys, "check", "model.py")[0] == 0


SPY = textwrap.dedent("""
    import sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("gast", "astor"):
                raise ImportError(f"{name} is blocked")

    sys.meta_path.insert(0, Blocker())
    import numpy as np
    import model, model_grad

    calls = []
    general = model_grad.grad_loss_general

    def spy(*args):
        calls.append(args)
        return general(*args)

    model_grad.grad_loss_general = spy

    def numeric(f, w, *rest):
        w = np.asarray(w, dtype=float)
        eps = 1e-6
        return np.array([(f(w + eps * e, *rest) - f(w - eps * e, *rest)) / (2 * eps)
                         for e in np.eye(w.size)]).reshape(w.shape)

    rng = np.random.default_rng(3)
    w, x, y = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4)
    g = model_grad.loss_grad(w, x, y)
    np.testing.assert_allclose(g, numeric(model.loss, w, x, y), rtol=1e-6, atol=1e-8)
    assert calls == [], "the specialized code ran the general code"
    value, d_w = model_grad.grad_loss(w, x, y, 3)
    np.testing.assert_allclose(value, model.loss(w, x, y, 3))
    np.testing.assert_allclose(d_w, numeric(model.loss, w, x, y, 3), rtol=1e-6, atol=1e-8)
    assert calls == []

    # arguments it was not made for: the general code, the right gradient
    w32 = w.astype(np.float32)
    g32 = model_grad.loss_grad(w32, x, y)
    assert len(calls) == 1 and calls[-1][0] is w32
    np.testing.assert_allclose(g32, numeric(model.loss, w, x, y), rtol=1e-4, atol=1e-5)
    w2, y2 = rng.normal(size=(3, 2)), rng.normal(size=(4, 2))   # rank 2 for rank 1
    g2 = model_grad.loss_grad(w2, x, y2)
    assert len(calls) == 2 and g2.shape == (3, 2)
    num2 = numeric(lambda v, *rest: model.loss(v.reshape(3, 2), *rest), w2.ravel(), x, y2)
    np.testing.assert_allclose(g2, num2.reshape(3, 2), rtol=1e-6, atol=1e-8)
    xs = x[0]                                                    # rank 1 for rank 2
    gs = model_grad.loss_grad(w, xs, y[0])
    assert len(calls) == 3
    np.testing.assert_allclose(gs, numeric(model.loss, w, xs, y[0]), rtol=1e-6, atol=1e-8)
    gf = model_grad.loss_grad(w, x, y, np.int64(2))              # a NumPy int for an int
    assert len(calls) == 4
    np.testing.assert_allclose(gf, g)
    assert not [m for m in sys.modules if m.split(".")[0] in ("gast", "astor")]
    print("ok")
""")


def run_script(project, script):
    """Run ``script`` in a fresh interpreter that finds the project and this worktree's
    s2sgrad (not an installed one)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(project), ROOT]))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=project, env=env)


def test_generated_file_runs_without_the_compiler_and_falls_back(project, capsys):
    assert run(capsys, "gen", "model.py")[0] == 0
    r = run_script(project, SPY)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


def test_wrong_signature_in_process_gets_the_general_code(project, capsys, monkeypatch):
    assert run(capsys, "gen", "model.py")[0] == 0
    monkeypatch.syspath_prepend(str(project))
    import model
    import model_grad
    calls = []
    general = model_grad.grad_scaled_general
    monkeypatch.setattr(model_grad, "grad_scaled_general",
                        lambda *a: calls.append(a) or general(*a))
    v = rng.normal(size=5)
    expected = np.cos(v) * 2.0 * 0.5
    np.testing.assert_allclose(model_grad.scaled_grad(v, 2.0), expected)
    assert calls == []
    np.testing.assert_allclose(model_grad.scaled_grad(v, 2), expected)          # int for float
    assert len(calls) == 1
    np.testing.assert_allclose(model_grad.scaled_grad(v, 2.0, np.float64(0.5)), expected)
    assert len(calls) == 2                                  # a NumPy scalar for a float
    np.testing.assert_allclose(model.scaled(v, 2.0), model_grad.grad_scaled(v, 2.0)[0])


def test_forward_mode_specialized_with_fallback(project, capsys):
    code, _, err = run(capsys, "gen", "model.py", "--mode", "forward", "--func", "loss")
    assert code == 0, err
    text = (project / "model_jvp.py").read_text()
    assert "return jvp_loss_general(w, x, y, steps, t_w)" in text
    script = textwrap.dedent("""
        import numpy as np
        import model, model_jvp
        rng = np.random.default_rng(4)
        w, x, y, t = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=3)
        eps = 1e-6
        num = (model.loss(w + eps * t, x, y) - model.loss(w - eps * t, x, y)) / (2 * eps)
        for args in [(w, x, y), (w.astype(np.float32), x, y), (w, x, y, np.int64(2))]:
            value, tangent = model_jvp.jvp_loss(*args, t_w=t)
            np.testing.assert_allclose(tangent, num, rtol=1e-4, atol=1e-6)
        print("ok")
    """)
    r = run_script(project, script)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
    assert run(capsys, "check", "model.py", "model_jvp.py")[0] == 0


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

def test_signature_option_overrides_the_annotations(project, capsys, monkeypatch):
    code, out, err = run(capsys, "gen", "model.py", "--signature", "plain(float64[n], float)",
                         "loss(float64[n], ?, ?, int)")
    assert code == 0, err
    text = (project / "model_grad.py").read_text()
    assert "given-signature=(float64[n], float)" in text
    assert "given-signature=(float64[n], ?, ?, int)" in text
    assert "_rt.fits('(float64[n], ?, ?, int)', w, x, y, steps)" in text
    assert "_rt.fits('(float64[n], float)', v, eps)" in text
    assert "_rt.fits('(?, float, float)', v, k, dt)" in text       # scaled: its annotations
    assert "(--signature for plain)" in " ".join(text.split())
    # check regenerates with the recorded option: up to date
    assert run(capsys, "check", "model.py") == (0, "1 generated file up to date\n", "")
    monkeypatch.syspath_prepend(str(project))
    import model_grad
    v = rng.normal(size=4)
    np.testing.assert_allclose(model_grad.plain_grad(v), v / np.sqrt(v * v + 1e-3))
    np.testing.assert_allclose(model_grad.plain_grad(0.3), 0.3 / np.sqrt(0.09 + 1e-3))


@pytest.mark.parametrize("argv, message", [
    (["--signature", "plain(float64[n])"],
     "s2sgrad: --signature plain(float64[n]): plain (model.py:17) has 2 positional parameters "
     "(v, eps), the signature gives 1 value; write ? for one that may be anything\n"),
    (["--signature", "nope(float)"],
     "s2sgrad: --signature nope(...): no function nope is differentiated (they are: loss, "
     "plain, scaled); --func chooses them\n"),
    (["--signature", "plain(float64[n], float)", "plain(float, float)"],
     "s2sgrad: --signature: two signatures for plain: (float64[n], float) and (float, float) "
     "(one per function)\n"),
    (["--signature", "plain(floot, float)"], None),
    (["--general", "--signature", "plain(float, float)"],
     "s2sgrad: --general and --signature: choose one (--general: the code for any argument "
     "only)\n"),
])
def test_signature_option_errors(project, capsys, argv, message):
    code, out, err = run(capsys, "gen", "model.py", *argv)
    assert code == 2 and out == ""
    if message is not None:
        assert err == message
    else:
        assert err.startswith("s2sgrad: --signature 'plain(floot, float)': ") and \
            "? for anything" in err
    assert not (project / "model_grad.py").exists()


def test_general_option_writes_only_the_general_code(project, capsys):
    assert run(capsys, "gen", "model.py", "--general")[0] == 0
    text = (project / "model_grad.py").read_text()
    assert " signatures=none" in text.splitlines()[2]
    assert "_rt.fits" not in text and "_general" not in text and "signature=" not in text
    assert run(capsys, "check", "model.py")[0] == 0


def test_show_takes_the_signature_options(project, capsys):
    code, out, _ = run(capsys, "show", "model.py:plain", "--signature", "plain(float, float)")
    assert code == 0 and "_rt.fits('(float, float)', v, eps)" in out
    code, out, _ = run(capsys, "show", "model.py:loss", "--general")
    assert code == 0 and "_rt.fits" not in out
    code, _, err = run(capsys, "show", "model.py:loss", "--general", "--stage", "normalize")
    assert code == 2 and "--stage shows the general code" in err


def test_help_documents_the_signature_option(capsys):
    assert main(["gen", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--signature 'NAME(ARG, ...)'" in out and "float64[n, 1]" in out
    assert "--general" in out and "grad_loss_general" in out


# ---------------------------------------------------------------------------
# check and determinism
# ---------------------------------------------------------------------------

def test_check_notices_a_changed_signature(project, capsys):
    assert run(capsys, "gen", "model.py")[0] == 0
    source = (project / "model.py").read_text()
    (project / "model.py").write_text(source.replace('y: "float64[batch]"', 'y: "float32[batch]"'))
    code, _, err = run(capsys, "check", "model.py")
    assert code == 1
    assert ("s2sgrad: model_grad.py: loss is stale (changed: loss; specialized to (float64[n], "
            "float64[n, n], float64[n], int), its annotations now give (float64[n], "
            "float64[n, n], float32[n], int))") in err.splitlines()
    assert "scaled" not in err and "plain" not in err
    # annotations removed: no signature any more
    assert run(capsys, "gen", "model.py")[0] == 0
    (project / "model.py").write_text(source.replace("k: float", "k"))
    code, _, err = run(capsys, "check", "model.py")
    assert code == 1
    assert ("s2sgrad: model_grad.py: scaled is stale (changed: scaled; specialized to (?, float, "
            "float), its annotations now give no signature)") in err.splitlines()


def test_check_notices_a_signature_the_header_lost(project, capsys):
    """A hand-edited header (signature line removed) is stale, though the sources match."""
    assert run(capsys, "gen", "model.py")[0] == 0
    path = project / "model_grad.py"
    text = path.read_text()
    line = [ln for ln in text.splitlines() if ln.startswith("# s2sgrad-input: scaled")][0]
    path.write_text(text.replace(line, line.split(" signature=")[0]))
    code, _, err = run(capsys, "check", "model.py")
    assert code == 1
    assert "s2sgrad: model_grad.py: scaled is stale (now specialized to (?, float, float) (its " \
        "annotations))" in err.splitlines()


def test_gen_is_deterministic_across_processes(project):
    outputs = []
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONHASHSEED=seed, S2SGRAD_CACHE="off")
        r = subprocess.run([sys.executable, "-m", "s2sgrad", "gen", "model.py", "-o", "-",
                            "--signature", "plain((float, int64[n]), ?)"],
                           capture_output=True, cwd=project, env=env)
        assert r.returncode == 0, r.stderr
        outputs.append(r.stdout)
    assert outputs[0] == outputs[1] and b"_rt.fits" in outputs[0]


# ---------------------------------------------------------------------------
# The program: one entry per signature
# ---------------------------------------------------------------------------

def test_module_program_builds_one_entry_per_signature():
    from s2sgrad.driver.pipeline import module_program

    def f(x, k):
        return np.sum(x * k)

    sig = sg.parse_signature("(float64[n], float)")
    program, names = module_program([(f, (0,), sig), (f, (0,), None, "grad_f_general")])
    assert names == ["grad_f", "grad_f_general"]
    entries = [job for job in program.jobs.values() if job.key[0] == "entry"]
    assert [job.abstract for job in entries] == [{"x": sig[0], "k": sg.FLOAT}, {}]


def test_keyword_only_parameters_reach_the_specialized_and_the_general_code(tmp_path, capsys,
                                                                            monkeypatch):
    (tmp_path / "kwmodel.py").write_text(textwrap.dedent('''
        import numpy as np

        def f(x: "float64[n]", s: float, *, scale: float = 2.0):
            return np.sum(x ** 2) * s * scale
    '''))
    monkeypatch.chdir(tmp_path)
    assert run(capsys, "gen", "kwmodel.py")[0] == 0
    text = (tmp_path / "kwmodel_grad.py").read_text()
    assert "_, d_x = grad_f(x, s, scale=scale)" in text
    assert "return grad_f_general(x, s, d_result, scale=scale)" in text
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("kwmodel_grad", None)
    sys.modules.pop("kwmodel", None)
    import kwmodel_grad
    x = np.array([1.0, -2.0])
    np.testing.assert_allclose(kwmodel_grad.f_grad(x, 1.5, scale=3.0), 2 * x * 1.5 * 3.0)
    np.testing.assert_allclose(kwmodel_grad.f_grad(x.astype(np.float32), 1.5, scale=3.0),
                               2 * x * 1.5 * 3.0)
    np.testing.assert_allclose(kwmodel_grad.f_grad(x, 1.5), 2 * x * 1.5 * 2.0)
    for name in ("kwmodel", "kwmodel_grad"):
        sys.modules.pop(name, None)
