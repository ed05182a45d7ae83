"""``s2sgrad gen`` on a realistic module: it differentiates what it can and says what it skips.

Data loading (``np.loadtxt``), grid builders of an integer, functions of strings,
the rules of ``custom_vjp`` functions and ``non_differentiable`` helpers are
left out, one line each on stderr with the reason; the gradients generated are
right (finite differences); ``--func`` still makes each named function an error
when it cannot be differentiated.
"""

import importlib
import os
import sys

import numpy as np
import pytest

from s2sgrad.cli import main
from gradcheck import assert_close, numeric_grad

REALISTIC = '''\
"""Load data, build a grid, fit a model."""

import numpy as np
import s2sgrad


def load_data(path):
    return np.loadtxt(path)


def make_grid(n):
    return np.linspace(0.0, 1.0, n)


def resample(n=10, scale=1.0):
    return np.linspace(0.0, scale, n)


def repeat(k: int, x):
    return k * np.sum(x ** 2)


def label(name: "str"):
    return name.upper()


@s2sgrad.custom_vjp
def softplus(x):
    return np.logaddexp(0.0, x)


@softplus.defvjp
def softplus_vjp(g, ans, x):
    return g / (1.0 + np.exp(-x))


@s2sgrad.custom_vjp
def scaled(x, c):
    return c * np.tanh(x)


def scaled_dx(g, ans, x, c):
    return g * c * (1.0 - np.tanh(x) ** 2)


def scaled_dc(g, ans, x, c):
    return np.sum(g * np.tanh(x))


scaled.defvjp(x=scaled_dx, c=scaled_dc)


@s2sgrad.non_differentiable
def winner(scores):
    return int(np.argmax(scores))


def report(losses):
    print(len(losses))


def predict(w, x):
    return softplus(x @ w) + scaled(x @ w, 0.5)


def loss(w, x, y):
    grid = make_grid(3)
    return np.mean((predict(w, x) - y) ** 2) + np.sum(grid) * 1e-3 * np.sum(w ** 2)
'''

SKIPS = [
    "s2sgrad: realistic.py:7: skipped load_data: its gradient cannot be generated: "
    "realistic.py:8: np.loadtxt has no derivative rule; define one with @s2sgrad.custom_vjp, or "
    "wrap the call in s2sgrad.stop_gradient(...) if it should not be differentiated",
    "s2sgrad: realistic.py:11: skipped make_grid: its result does not depend differentiably on n",
    "s2sgrad: realistic.py:15: skipped resample: its first parameter n defaults to 10, an "
    "integer, not a float input (--func resample --wrt scale differentiates it with respect to "
    "another)",
    "s2sgrad: realistic.py:19: skipped repeat: its first parameter k is annotated int, not a "
    "float input (--func repeat --wrt x differentiates it with respect to another)",
    "s2sgrad: realistic.py:23: skipped label: its first parameter name is annotated str, not a "
    "float input",
    "s2sgrad: realistic.py:32: skipped softplus_vjp: it is a derivative rule of softplus "
    "(custom_vjp), not a function to differentiate",
    "s2sgrad: realistic.py:42: skipped scaled_dx: it is a derivative rule of scaled (custom_vjp), "
    "not a function to differentiate",
    "s2sgrad: realistic.py:46: skipped scaled_dc: it is a derivative rule of scaled (custom_vjp), "
    "not a function to differentiate",
    "s2sgrad: realistic.py:53: skipped winner: it is marked @s2sgrad.non_differentiable",
    "s2sgrad: realistic.py:58: skipped report: it returns no value",
    "s2sgrad: realistic.py: to choose the functions yourself: --func NAME, an __all__ list in the "
    "module, or a leading underscore for helpers",
]

rng = np.random.default_rng(5)
W, X, Y = rng.normal(size=3), rng.normal(size=(6, 3)), rng.normal(size=6)


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "realistic.py").write_text(REALISTIC)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if str(tmp_path) in (getattr(sys.modules[name], "__file__", None) or ""):
            del sys.modules[name]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_gen_differentiates_what_it_can_and_names_each_skipped_function(project, capsys):
    code, out, err = run(capsys, "gen", "realistic.py")
    assert code == 0, err
    assert out == "wrote realistic_grad.py (predict, loss)\n"
    assert err.splitlines() == SKIPS
    text = (project / "realistic_grad.py").read_text()
    defined = [line.split("(")[0][4:] for line in text.splitlines() if line.startswith("def ")]
    assert [d for d in defined if d.endswith("_grad")] == ["predict_grad", "loss_grad"]
    assert [d for d in defined if d.startswith("grad_")] == ["grad_predict", "grad_loss"]
    for name in ("load_data", "make_grid", "resample", "repeat", "label", "softplus_vjp",
                 "scaled_dx", "scaled_dc", "winner", "report"):
        assert f"def {name}_grad(" not in text and f"def grad_{name}(" not in text
    assert ("Not differentiated: load_data, make_grid, resample, repeat, label, softplus_vjp, "
            "scaled_dx, scaled_dc, winner, report") in text
    g = importlib.import_module("realistic_grad")
    import realistic
    assert_close(g.loss_grad(W, X, Y), numeric_grad(realistic.loss, (W, X, Y)))
    value, d_w = g.grad_loss(W, X, Y)
    assert value == pytest.approx(realistic.loss(W, X, Y))
    assert_close(d_w, numeric_grad(realistic.loss, (W, X, Y)))
    # The file is current, and -q prints nothing, the skips included.
    assert run(capsys, "check", "realistic.py") == (0, "1 generated file up to date\n", "")
    assert run(capsys, "gen", "realistic.py", "-q") == (0, "", "")


def test_named_functions_are_differentiated_or_an_error(project, capsys, monkeypatch):
    code, out, err = run(capsys, "gen", "realistic.py", "--func", "load_data")
    assert (code, out) == (2, "") and err.startswith(
        "s2sgrad: realistic.py:8: np.loadtxt has no derivative rule")
    code, out, err = run(capsys, "gen", "realistic.py", "--func", "repeat")
    assert (code, out) == (2, "")
    assert err == ("s2sgrad: realistic.py:19: repeat has no derivative with respect to k: k is "
                   "annotated int, not a float input; choose another parameter with --wrt NAME\n")
    assert not (project / "realistic_grad.py").exists()
    code, out, err = run(capsys, "gen", "realistic.py", "--func", "repeat", "resample",
                         "--wrt", "x", "scale")
    assert code == 2 and "repeat has no parameter 'scale'" in err
    code, out, err = run(capsys, "gen", "realistic.py", "--func", "repeat", "--wrt", "x")
    assert (code, err) == (0, "")
    g = importlib.import_module("realistic_grad")
    assert_close(g.repeat_grad(4, X[0]), 8 * X[0])


def test_a_module_with_nothing_to_differentiate_is_an_error_saying_why(project, capsys):
    (project / "io_only.py").write_text(
        "import numpy as np\n\n\ndef load_data(path):\n    return np.loadtxt(path)\n\n\n"
        "def make_grid(n: int):\n    return np.linspace(0.0, 1.0, n)\n")
    code, out, err = run(capsys, "gen", "io_only.py")
    assert (code, out) == (2, "")
    assert err.startswith("s2sgrad: io_only.py:5: np.loadtxt has no derivative rule")
    (project / "grid_only.py").write_text(
        "import numpy as np\n\n\ndef make_grid(n: int):\n    return np.linspace(0.0, 1.0, n)\n")
    code, out, err = run(capsys, "gen", "grid_only.py")
    assert (code, out) == (2, "")
    assert err == ("s2sgrad: grid_only.py has no public function to differentiate (make_grid: "
                   "its first parameter n is annotated int, not a float input); name one with "
                   "--func NAME\n")
    assert sorted(os.listdir(project)) == ["grid_only.py", "io_only.py", "realistic.py"]


def test_check_names_a_function_gen_now_leaves_out(project, capsys):
    assert run(capsys, "gen", "realistic.py", "-q")[0] == 0
    source = REALISTIC.replace("def predict(w, x):", "def predict(w: int, x):")
    (project / "realistic.py").write_text(source)
    code, out, err = run(capsys, "check", "realistic.py")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "s2sgrad: realistic_grad.py: predict is stale: s2sgrad gen now leaves it out "
        "(realistic.py:62: its first parameter w is annotated int, not a float input (--func "
        "predict --wrt x differentiates it with respect to another))",
        "s2sgrad: realistic_grad.py: loss is stale (changed: predict)",
        "s2sgrad: regenerate with: s2sgrad gen realistic.py"]
