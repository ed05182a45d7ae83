"""The runtime stands alone: it imports nothing above it, and calls back into the driver
(``s2sgrad.driver.dynamic``) only through the handlers the driver registers."""

import ast
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import s2sgrad  # noqa: F401  (registers the driver, as generated code's import does)
from s2sgrad import errors
from s2sgrad.driver import dynamic
from s2sgrad import runtime as rt
from s2sgrad.runtime import dispatch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME_DIR = os.path.join(ROOT, "s2sgrad", "runtime")


def _imports(path, module):
    """The s2sgrad modules ``path`` (module ``module``) imports, anywhere in the file."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names if a.name.split(".")[0] == "s2sgrad"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                head = ".".join(base + ([node.module] if node.module else []))
            else:
                head = node.module or ""
            if head.split(".")[0] == "s2sgrad":
                out += [head + "." + a.name if not node.module else head for a in node.names]
    return out


def test_runtime_imports_only_itself_and_errors():
    seen = {}
    for name in sorted(os.listdir(RUNTIME_DIR)):
        if not name.endswith(".py"):
            continue
        module = "s2sgrad.runtime" + ("" if name == "__init__.py" else "." + name[:-3])
        seen[module] = _imports(os.path.join(RUNTIME_DIR, name), module)
    assert "s2sgrad.runtime.dispatch" in seen and len(seen) >= 7
    # below it: errors, and signature (the abstract values' text, which the guard of checked-in
    # specialized code reads; it imports numpy alone)
    outside = {m: [t for t in targets if not (t == "s2sgrad.runtime" or t.startswith("s2sgrad.runtime.")
                                           or t in ("s2sgrad.errors", "s2sgrad.signature"))]
               for m, targets in seen.items()}
    assert {m: t for m, t in outside.items() if t} == {}


def test_driver_registers_its_handlers():
    # ``import s2sgrad`` (what generated code's ``from s2sgrad import runtime`` does) registers them
    assert dispatch.handler("call_fwd") is dynamic.call_fwd
    assert dispatch.handler("call_bwd") is dynamic.call_bwd
    assert dispatch.handler("call_jvp") is dynamic.call_jvp
    assert rt.call_fwd is dispatch.call_fwd and rt.call_jvp_batch is dispatch.call_jvp_batch


def test_without_a_driver_the_error_says_what_to_do(monkeypatch):
    monkeypatch.setattr(dispatch, "_handlers", {})
    with pytest.raises(errors.S2SGradError, match="import s2sgrad"):
        rt.call_fwd([], np.sin, (1.0,), {}, (0,))
    with pytest.raises(errors.S2SGradError, match="call_jvp"):
        rt.call_jvp(np.sin, (1.0,), {}, (0,), (1.0,))


def test_unknown_handler_is_refused():
    with pytest.raises(TypeError, match="call_fwd"):
        dispatch.register(call_forward=lambda *a: None)


def test_dispatch_through_the_hook_gives_real_derivatives():
    tape = []
    value = rt.call_fwd(tape, np.sin, (0.7,), {}, (0,))
    assert value == pytest.approx(math.sin(0.7))
    (d_x,) = rt.call_bwd(tape, 2.0)
    assert d_x == pytest.approx(2.0 * math.cos(0.7))

    def f(x, y):
        return x * np.exp(y)

    value, tangent = rt.call_jvp(f, (1.5, 0.3), {}, (0, 1), (0.2, -1.0))
    assert value == pytest.approx(1.5 * math.exp(0.3))
    assert tangent == pytest.approx(0.2 * math.exp(0.3) - 1.5 * math.exp(0.3))
    value, batch = rt.call_jvp_batch(f, (1.5, 0.3), {}, (1,), (np.array([1.0, 2.0]),))
    np.testing.assert_allclose(batch, [1.5 * math.exp(0.3), 3.0 * math.exp(0.3)])


def test_generated_code_in_a_fresh_process_finds_the_driver():
    # only what a checked-in generated module does: import the runtime, call a dynamic target
    code = ("import math\nimport numpy as np\nfrom s2sgrad import runtime as _rt\n"
            "tape = []\n_rt.call_fwd(tape, np.tanh, (0.4,), {}, (0,))\n"
            "print(repr(float(_rt.call_bwd(tape, 1.0)[0])), repr(1 - math.tanh(0.4) ** 2))\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    got, want = run.stdout.split()
    assert float(got) == pytest.approx(float(want))


def test_runtime_imports_without_gast_astor_or_the_compiler():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('gast', 'astor'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import numpy as np\n"
        "from s2sgrad import runtime as _rt\n"
        "print(_rt.unbroadcast(np.ones((3, 2)), np.ones(2)).tolist())\n"
        "print(sorted(m for m in sys.modules if m.startswith(('gast', 'astor', 's2sgrad.transform',"
        " 's2sgrad.frontend', 's2sgrad.rules'))))\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split("\n")[:2] == ["[3.0, 3.0]", "[]"]
