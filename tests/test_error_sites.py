"""An exception raised inside generated code names the user's file, line and statement,
and whether it was raised running the statement or differentiating it (issue 15)."""

import glob
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import s2sgrad
from s2sgrad import errorsite

HERE = os.path.basename(__file__)
SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


def _line_of(text):
    """The line number of ``text`` in this file (so the tests do not hard-code it)."""
    with open(__file__) as f:
        hits = [k for k, line in enumerate(f, 1) if line.strip() == text]
    assert len(hits) == 1, (text, hits)
    return hits[0]


def typo(x, y):
    z = x * y
    w = np.sine(z)  # noqa: the typo under test
    return w


def solve_sum(A, b):
    u = np.linalg.solve(A, b)
    return np.sum(u ** 2)


def det_twice(A):
    s = np.linalg.det(A)
    return s * 2.0


def inner_typo(x):
    q = np.sine(x)  # noqa: the typo under test, in a callee
    return q


def calls_inner(x):
    r = inner_typo(x) * 2.0
    return r


def branches(x, flag):
    if flag:
        v = x * 2.0
    else:
        v = np.cosine(x)  # noqa: the typo under test, in a branch
    for k in range(2):
        v = v + np.log(x - k)
    return v


def _raised(call, exc_type):
    with pytest.raises(exc_type) as info:
        call()
    return info.value, errorsite.notes(info.value)


def _check(note, statement, phase):
    line = _line_of(statement)
    assert f"{HERE}:{line}" in note, note
    assert statement in note, note
    assert phase in note, note


FORWARD = "in the forward run of"
BACKWARD = "(backward sweep)"


def test_grad_forward_error_names_the_users_line():
    exc, note = _raised(lambda: s2sgrad.grad(typo)(1.0, 2.0), AttributeError)
    assert str(exc) == "module 'numpy' has no attribute 'sine'"     # type and message kept
    _check(note, "w = np.sine(z)  # noqa: the typo under test", FORWARD)
    assert BACKWARD not in note
    exc, note = _raised(lambda: s2sgrad.grad(solve_sum)(SINGULAR, np.ones(2)),
                        np.linalg.LinAlgError)
    _check(note, "u = np.linalg.solve(A, b)", FORWARD)


def test_grad_backward_error_names_the_users_line():
    # det of a singular matrix is 0; its derivative needs the inverse
    exc, note = _raised(lambda: s2sgrad.grad(det_twice)(SINGULAR), np.linalg.LinAlgError)
    _check(note, "s = np.linalg.det(A)", "while differentiating")
    assert BACKWARD in note and FORWARD not in note


def test_value_and_grad_and_vjp_and_elementwise_grad():
    _, note = _raised(lambda: s2sgrad.value_and_grad(det_twice)(SINGULAR),
                      np.linalg.LinAlgError)
    _check(note, "s = np.linalg.det(A)", BACKWARD)
    value, backward = s2sgrad.vjp(det_twice)(SINGULAR)      # the forward run succeeds
    assert value == pytest.approx(0.0, abs=1e-12)
    _, note = _raised(lambda: backward(1.0), np.linalg.LinAlgError)
    _check(note, "s = np.linalg.det(A)", BACKWARD)
    _, note = _raised(lambda: s2sgrad.vjp(typo)(1.0, 2.0), AttributeError)
    _check(note, "w = np.sine(z)  # noqa: the typo under test", FORWARD)
    _, note = _raised(lambda: s2sgrad.elementwise_grad(det_twice)(SINGULAR),
                      np.linalg.LinAlgError)
    _check(note, "s = np.linalg.det(A)", BACKWARD)


def test_jvp_forward_and_tangent_errors():
    _, note = _raised(lambda: s2sgrad.jvp(solve_sum)(SINGULAR, np.ones(2), np.ones((2, 2))),
                      np.linalg.LinAlgError)
    _check(note, "u = np.linalg.solve(A, b)", FORWARD)
    _, note = _raised(lambda: s2sgrad.jvp(det_twice)(SINGULAR, np.ones((2, 2))),
                      np.linalg.LinAlgError)
    _check(note, "s = np.linalg.det(A)", "while differentiating")
    assert "forward mode: its tangent" in note and FORWARD not in note
    _, note = _raised(lambda: s2sgrad.jvp(typo)(1.0, 2.0, 1.0), AttributeError)
    _check(note, "w = np.sine(z)  # noqa: the typo under test", "forward mode")


def test_higher_order_operators():
    for call in (lambda: s2sgrad.hessian(det_twice)(SINGULAR),
                 lambda: s2sgrad.hvp(det_twice)(SINGULAR, np.ones((2, 2))),
                 lambda: s2sgrad.jacobian(det_twice)(SINGULAR),
                 lambda: s2sgrad.jacobian(s2sgrad.grad(det_twice))(SINGULAR)):
        _, note = _raised(call, np.linalg.LinAlgError)
        _check(note, "s = np.linalg.det(A)", "while differentiating")
    _, note = _raised(lambda: s2sgrad.deriv(typo)(1.0, 2.0), AttributeError)
    _check(note, "w = np.sine(z)  # noqa: the typo under test", "forward mode")


def test_statements_in_branches_and_loops():
    _, note = _raised(lambda: s2sgrad.grad(branches)(1.0, False), AttributeError)
    _check(note, "v = np.cosine(x)  # noqa: the typo under test, in a branch", FORWARD)
    with np.errstate(divide="raise"):
        # (specialized to a float x, forward mode's tangent line t_x / (x - k) divides two
        # Python floats before np.log(x - k) runs: ZeroDivisionError, at the same line)
        _, note = _raised(lambda: s2sgrad.grad(branches)(1.0, True),
                          (FloatingPointError, ZeroDivisionError))
    _check(note, "v = v + np.log(x - k)", FORWARD)


def test_a_callee_error_lists_the_call_chain():
    _, note = _raised(lambda: s2sgrad.grad(calls_inner)(1.0), AttributeError)
    _check(note, "r = inner_typo(x) * 2.0", FORWARD)
    _check(note, "q = np.sine(x)  # noqa: the typo under test, in a callee", FORWARD)
    assert note.index("r = inner_typo") < note.index("q = np.sine")     # innermost last


@pytest.mark.filterwarnings("ignore::s2sgrad.FallbackWarning")
def test_the_note_is_added_once():
    _, note = _raised(lambda: s2sgrad.grad(typo)(1.0, 2.0), AttributeError)
    assert note.count("s2sgrad:") == 1
    # differentiated again from inside generated code: still one note
    exc, note = _raised(lambda: s2sgrad.grad(lambda x: s2sgrad.grad(typo)(x, 2.0) * 1.0)(1.0),
                        AttributeError)
    assert len([n for n in exc.__notes__ if n.startswith("s2sgrad:")]) == 1


def test_a_gradient_served_from_the_disk_cache_says_the_same(tmp_path):
    src = textwrap.dedent("""
        import numpy as np
        import s2sgrad

        def f(A):
            t = np.linalg.det(A)
            return t

        try:
            s2sgrad.grad(f)(np.zeros((2, 2)))
        except np.linalg.LinAlgError as exc:
            print(s2sgrad.errorsite.notes(exc))
    """)
    (tmp_path / "cached_model.py").write_text(src)
    env = dict(os.environ, S2SGRAD_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(s2sgrad.__file__))))
    outs = [subprocess.run([sys.executable, "cached_model.py"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True).stdout
            for _ in range(2)]           # the second run reads the disk cache
    assert os.listdir(tmp_path / "cache")
    for out in outs:
        assert "while differentiating cached_model.py:6 (backward sweep)" in out, out
        assert "t = np.linalg.det(A)" in out


def test_tracebacks_print_the_note_on_311():
    if sys.version_info < (3, 11):
        pytest.skip("Python 3.10 does not print exception notes")
    import traceback
    exc, _ = _raised(lambda: s2sgrad.grad(det_twice)(SINGULAR), np.linalg.LinAlgError)
    text = "".join(traceback.format_exception(exc))
    assert f"while differentiating {HERE}:{_line_of('s = np.linalg.det(A)')}" in text


def _python_310():
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(glob.glob(f"{root}/versions/3.10*/bin/python3.10"))
    for exe in [shutil.which("python3.10")] + found:
        if exe and subprocess.run([exe, "-c", "pass"], capture_output=True).returncode == 0:
            return exe
    return None


def test_python_310_gets_the_notes_attribute():
    """``errorsite`` needs only the standard library; on 3.10 the note is in ``__notes__``."""
    exe = _python_310()
    if exe is None:
        pytest.skip("no Python 3.10 interpreter")
    script = textwrap.dedent(f"""
        import importlib.util, linecache, os, sys, types
        package = types.ModuleType("s2sgrad")     # the package, without its numpy imports
        package.__path__ = [os.path.dirname({errorsite.__file__!r})]
        sys.modules["s2sgrad"] = package
        spec = importlib.util.spec_from_file_location("s2sgrad.errorsite", {errorsite.__file__!r})
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        src = ('def grad_f(x):\\n'
               '    \"\"\"f (model.py:1) and its gradient with respect to x.\"\"\"\\n'
               '    # model.py:2  y = x / 0\\n'
               '    y = x / 0\\n'
               '    return y\\n')
        name = "<s2sgrad:model.f.grad:0123456789ab>"
        linecache.cache[name] = (len(src), None, src.splitlines(True), name)
        ns = {{}}
        exec(compile(src, name, "exec"), ns)
        try:
            ns["grad_f"](1.0)
        except ZeroDivisionError as exc:
            mod.note(exc)
            print(sys.version_info[:2], exc.__notes__)
    """)
    out = subprocess.run([exe, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert "(3, 10)" in out
    assert "s2sgrad: raised in the forward run of model.py:2:\\n    y = x / 0" in out
