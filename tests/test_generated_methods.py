"""Methods of user objects in generated code: called directly, their derivatives in the file.

When the class of the object a method is called on is known when the code is
generated (a module-level object, an attribute chain from one, ``self.method``,
``self.part.method``, an object made in the function, a parameter's default or
annotation), the generated module holds the method's forward and backward
sweeps and calls them: no ``_rt.call_fwd``, so a checked-in gradient runs
without the compiler.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import s2sgrad
from s2sgrad.cli import main

SPRINGS = '''\
import numpy as np


class Spring:
    def __init__(self, k, rest):
        self.k = k
        self.rest = rest

    def stretch(self, x):
        return np.sqrt(np.sum(x * x)) - self.rest

    def energy(self, x):
        d = self.stretch(x)
        return 0.5 * self.k * d * d


class Chain:
    def __init__(self):
        self.spring = Spring(2.0, 0.5)
        self.scale = 3.0

    def energy(self, x):
        return self.spring.energy(x) * self.scale + np.sum(np.sin(x))

    def __call__(self, x):
        return self.energy(x) + 1.0


class Stiff(Spring):
    def energy(self, x):
        return 10.0 * np.sum(x ** 4)


spring = Spring(3.0, 1.5)
chain = Chain()


def global_object(x):
    return spring.energy(x) + np.sum(x ** 2)


def attribute_chain(x):
    return chain.spring.energy(x)


def self_methods(x):
    return chain(x)


def made_here(x):
    s = Spring(4.0, 0.25)
    return s.energy(x)


def by_default(x, s=spring):
    return s.energy(x) * 2.0


def annotated(x, s: Spring):
    return s.energy(x)
'''

def line_of(text):
    """The line of SPRINGS that holds ``text`` (once)."""
    lines = [k for k, line in enumerate(SPRINGS.splitlines(), 1) if text in line]
    assert len(lines) == 1, text
    return lines[0]


FUNCS = ["global_object", "attribute_chain", "self_methods", "made_here", "by_default"]

# The generated module may import numpy, the user's module and s2sgrad.runtime (with what
# ``import s2sgrad`` itself loads); none of the compiler.
BLOCKER = """
import sys

COMPILER = ("gast", "astor", "s2sgrad.frontend", "s2sgrad.transform",
            "s2sgrad.analysis", "s2sgrad.rules", "s2sgrad.codegen", "s2sgrad.checkin",
            "s2sgrad.custom", "s2sgrad.fallback.tracer",
            "s2sgrad.fallback.trace", "s2sgrad.fallback.nested", "s2sgrad.fallback.inplace")


class Blocker:
    def find_spec(self, name, path=None, target=None):
        if any(name == c or name.startswith(c + ".") for c in COMPILER):
            raise ImportError(f"{name} is blocked")


sys.meta_path.insert(0, Blocker())
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "springs.py").write_text(SPRINGS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if str(tmp_path) in (getattr(sys.modules[name], "__file__", "") or ""):
            del sys.modules[name]


def _gen(project, capsys, *extra):
    code = main(["gen", "springs.py", *extra])
    out, err = capsys.readouterr()
    assert code == 0, (out, err)


def test_method_derivatives_are_in_the_generated_file(project, capsys):
    _gen(project, capsys)
    text = (project / "springs_grad.py").read_text()
    assert "call_fwd" not in text and "call_bwd" not in text
    for fn in ("Spring_energy", "Spring_stretch", "Chain_energy", "Chain___call__"):
        assert f"\ndef {fn}_fwd(_tape, self, x):" in text
        assert f"\ndef {fn}_bwd(_tape, d_result):" in text
    # an object made in the function is a Spring: no check needed
    assert "energy_out = Spring_energy_fwd(_tape, s, x)" in text
    # a class known from one object (a default, an attribute) is checked at run time
    default_line = line_of("s.energy(x) * 2.0")
    assert (f"Spring_energy_fwd(_tape, _rt.check_method(s, 'energy', Spring, "
            f"'springs.py:{default_line}'), x)") in text
    assert (f"_rt.check_method(self.spring, 'energy', Spring, "
            f"'springs.py:{line_of('self.spring.energy(x)')}')") in text
    assert (f"_rt.check_method(chain.spring, 'energy', Spring, "
            f"'springs.py:{line_of('chain.spring.energy(x)')}')") in text


def _run_blocked(project, body):
    script = BLOCKER + textwrap.dedent(body)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       cwd=project, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
                           [str(project), os.path.dirname(os.path.dirname(s2sgrad.__file__))])))
    assert r.returncode == 0, r.stderr
    return r.stdout


CHECK = """
import numpy as np
import springs, springs_grad

def numeric(f, x, *args):
    eps = 1e-6
    return np.array([(f(x + eps * e, *args) - f(x - eps * e, *args)) / (2 * eps)
                     for e in np.eye(x.size)])

x = np.array([0.7, -1.1, 0.4])
for name in {funcs!r}:
    g = getattr(springs_grad, name + "_grad")(x)
    np.testing.assert_allclose(g, numeric(getattr(springs, name), x), rtol=1e-6, atol=1e-8)
other = springs.Spring(0.5, 2.0)
for name in ("by_default", "annotated"):
    g = getattr(springs_grad, name + "_grad")(x, other)
    np.testing.assert_allclose(g, numeric(getattr(springs, name), x, other), rtol=1e-6, atol=1e-8)
blocked = [m for m in sys.modules if m.split(".")[0] in ("gast", "astor")
           or m in ("s2sgrad.transform", "s2sgrad.frontend")]
assert not blocked, blocked
print("ok")
"""


def test_generated_methods_run_without_the_compiler(project, capsys):
    _gen(project, capsys)
    assert _run_blocked(project, CHECK.format(funcs=FUNCS)) == "ok\n"


def test_forward_mode_methods_run_without_the_compiler(project, capsys):
    _gen(project, capsys, "--mode", "forward")
    text = (project / "springs_jvp.py").read_text()
    assert "call_jvp" not in text and "\ndef Spring_energy_jvp(self, x, t_x):" in text
    out = _run_blocked(project, """
        import numpy as np
        import springs, springs_jvp
        x, t = np.array([0.7, -1.1, 0.4]), np.array([0.3, 0.2, -0.5])
        eps = 1e-6
        for name in %r:
            f = getattr(springs, name)
            value, tangent = getattr(springs_jvp, "jvp_" + name)(x, t_x=t)
            np.testing.assert_allclose(value, f(x))
            np.testing.assert_allclose(tangent, (f(x + eps * t) - f(x - eps * t)) / (2 * eps),
                                       rtol=1e-6, atol=1e-8)
        print("ok")
    """ % (FUNCS,))
    assert out == "ok\n"


def test_an_object_of_another_class_is_refused_not_differentiated_wrongly(project, capsys):
    _gen(project, capsys)
    out = _run_blocked(project, """
        import numpy as np
        import springs, springs_grad
        x = np.array([0.7, -1.1, 0.4])
        try:
            springs_grad.by_default_grad(x, springs.Stiff(1.0, 0.0))
        except TypeError as exc:
            print(exc)
    """)
    assert out.startswith(f"springs.py:{line_of('s.energy(x) * 2.0')}: the derivative of "
                          ".energy() was generated for objects of class Spring, and this call got a Stiff object")


def test_in_memory_gradients_of_methods(project):
    import springs
    x = np.array([0.7, -1.1, 0.4])
    for name in FUNCS:
        f = getattr(springs, name)
        src = s2sgrad.grad(f, emit=True)
        assert "call_fwd" not in src, name
        g = s2sgrad.grad(f)(x)
        eps = 1e-6
        num = np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(3)])
        np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
    # grad of grad through the methods (the joint code calls them too)
    h = s2sgrad.hessian(springs.made_here)(x)
    eps = 1e-5
    g = s2sgrad.grad(springs.made_here)
    num = np.array([(g(x + eps * e) - g(x - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(h, num, rtol=1e-5, atol=1e-7)
