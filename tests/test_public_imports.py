"""Generated code imports public paths (``from scipy.linalg import solve_triangular``, not
``scipy.linalg._basic``), so that a checked-in gradient survives a library moving its
private modules: the path the user wrote, else the shortest public module holding the object."""

import ast
import importlib
import sys
import textwrap

import numpy as np
import scipy.linalg
import scipy.special

import s2sgrad
from s2sgrad.cli import main
from s2sgrad.codegen import _import_line

SOURCE = textwrap.dedent('''
    import numpy as np
    import scipy.linalg
    import scipy.special
    from scipy.linalg import expm, solve_triangular as tri_solve
    from scipy.special import expit, gammaln


    def loss(x, a):
        y = gammaln(x) + expit(x) + scipy.special.erf(x)
        z = np.linalg.solve(a, y)
        w = tri_solve(a, z, lower=False) + scipy.linalg.solve_triangular(a, y, lower=True)
        return np.sum((expm(0.1 * a) @ w) * x)
    ''')

X = np.array([0.7, 1.3, 2.1])
A = np.array([[2.0, 0.3, 0.1], [0.2, 1.5, 0.4], [0.1, 0.3, 1.8]])


def _import_paths(text):
    paths = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            paths += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            paths.append(node.module)
    return paths


def _private(path):
    return any(part.startswith("_") for part in path.split("."))


def _numeric_grad(f, x, eps=1e-6):
    out = np.zeros_like(x)
    for i in range(x.size):
        d = np.zeros_like(x)
        d[i] = eps
        out[i] = (f(x + d) - f(x - d)) / (2 * eps)
    return out


def test_private_homes_are_imported_from_their_public_module():
    # scipy.linalg's functions say they live in scipy.linalg._basic / _matfuncs
    assert _private(scipy.linalg.solve_triangular.__module__)
    assert _import_line("solve_triangular", scipy.linalg.solve_triangular) == \
        "from scipy.linalg import solve_triangular"
    assert _import_line("tri", scipy.linalg.solve_triangular) == \
        "from scipy.linalg import solve_triangular as tri"
    assert _import_line("expm", scipy.linalg.expm) == "from scipy.linalg import expm"
    # SciPy's ufuncs have no __module__; they are held by scipy.special._ufuncs and friends
    assert _import_line("gammaln", scipy.special.gammaln) == "from scipy.special import gammaln"
    assert _import_line("expit", scipy.special.expit) == "from scipy.special import expit"
    assert _import_line("solve", np.linalg.solve) == "from numpy.linalg import solve"
    # the path the user wrote wins when it is public
    assert _import_line("erf", scipy.special.erf, [("scipy.special", "erf")]) == \
        "from scipy.special import erf"
    assert _import_line("erf", scipy.special.erf, [("scipy.special._ufuncs", "erf")]) == \
        "from scipy.special import erf"


def test_gen_writes_only_public_imports_and_the_module_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "pubmodel.py").write_text(SOURCE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["gen", "pubmodel.py"]) == 0, capsys.readouterr().err
    text = (tmp_path / "pubmodel_grad.py").read_text()
    paths = _import_paths(text)
    assert [p for p in paths if _private(p)] == [], text
    assert "from scipy.linalg import expm, solve_triangular as tri_solve" in text
    assert "from scipy.special import expit, gammaln" in text
    for name in ("pubmodel", "pubmodel_grad"):
        sys.modules.pop(name, None)
    model = importlib.import_module("pubmodel")
    grad_module = importlib.import_module("pubmodel_grad")
    got = grad_module.loss_grad(X, A)
    want = _numeric_grad(lambda x: model.loss(x, A), X)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_emitted_module_imports_only_public_paths():
    from scipy.linalg import solve_triangular
    from scipy.special import expit, gammaln

    def f(x):
        y = gammaln(x) + expit(x)
        return np.sum(solve_triangular(A, y, lower=True) * np.linalg.solve(A, y))

    src = s2sgrad.grad(f, emit=True)
    paths = _import_paths(src)
    assert "scipy.linalg" in paths and "scipy.special" in paths
    assert [p for p in paths if _private(p)] == [], src
    g = s2sgrad.grad(f)(X)
    np.testing.assert_allclose(g, _numeric_grad(f, X), rtol=1e-6, atol=1e-8)
