"""The driver: one request, one pipeline, one cache for every operator.

Every operator sees a helper that was redefined after the operator was made,
and a module edited and reloaded: the one cache checks what each piece of
generated code was built from before it is used again.
"""

import importlib
import importlib.util
import sys
import warnings

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import cache, pipeline
from s2sgrad.driver.request import Request

HELPER = """
import numpy as np


def h(x):
    return {c} * x ** 2


def f(x):
    return np.sum(h(x))


def g(x):
    return h(x)
"""


@pytest.fixture
def model(tmp_path, monkeypatch):
    """A module ``model_<n>`` whose helper ``h`` is ``c * x**2``; ``write(c)`` edits its file."""
    name = f"driver_model_{abs(hash(str(tmp_path))) % 10**8}"
    path = tmp_path / f"{name}.py"

    def write(c):
        path.write_text(HELPER.format(c=float(c)))
    write(2)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    module.write = write
    yield module
    sys.modules.pop(name, None)


def _redefine(module, c):
    """Redefine the helper as a notebook cell would: a new function (with source of its
    own) bound to the module's global ``h``."""
    path = module.__file__.replace(".py", f"_h{int(c)}.py")
    with open(path, "w") as f:
        f.write(f"def h(x):\n    return {float(c)} * x ** 2\n")
    name = module.__name__ + f"_h{int(c)}"
    spec = importlib.util.spec_from_file_location(name, path)
    helper = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helper)
    module.h = helper.h


X = np.array([0.3, -0.7, 1.1])
V = np.array([1.0, 0.5, -2.0])


def _derivatives(m):
    """What each operator gives for ``m`` now, made before the helper changes: name -> fn()."""
    ops = {
        "grad": s2sgrad.grad(m.f),
        "value_and_grad": s2sgrad.value_and_grad(m.f),
        "jvp": s2sgrad.jvp(m.f),
        "vjp": s2sgrad.vjp(m.f),
        "deriv": s2sgrad.deriv(m.g),
        "elementwise_grad": s2sgrad.elementwise_grad(m.g),
        "jacobian": s2sgrad.jacobian(m.g),
        "hessian": s2sgrad.hessian(m.f),
        "hvp": s2sgrad.hvp(m.f),
        "holomorphic_grad": s2sgrad.holomorphic_grad(m.f),
    }
    z = X + 0.2j
    return {
        "grad": lambda: ops["grad"](X),
        "value_and_grad": lambda: ops["value_and_grad"](X)[1],
        "jvp": lambda: ops["jvp"](X, V)[1],
        "vjp": lambda: ops["vjp"](X)[1](1.0),
        "deriv": lambda: ops["deriv"](0.7),
        "elementwise_grad": lambda: ops["elementwise_grad"](X),
        "jacobian": lambda: ops["jacobian"](X),
        "hessian": lambda: ops["hessian"](X),
        "hvp": lambda: ops["hvp"](X, V),
        "holomorphic_grad": lambda: ops["holomorphic_grad"](z),
    }


def _expected(name, c):
    """The closed form for ``h = c x**2``: f = sum(h(x)), g = h."""
    z = X + 0.2j
    return {
        "grad": 2 * c * X,
        "value_and_grad": 2 * c * X,
        "jvp": np.sum(2 * c * X * V),
        "vjp": 2 * c * X,
        "deriv": 2 * c * 0.7,
        "elementwise_grad": 2 * c * X,
        "jacobian": np.diag(2 * c * X),
        "hessian": 2 * c * np.eye(3),
        "hvp": 2 * c * V,
        "holomorphic_grad": 2 * c * z,
    }[name]


OPERATORS = ["grad", "value_and_grad", "jvp", "vjp", "deriv", "elementwise_grad", "jacobian",
             "hessian", "hvp", "holomorphic_grad"]


@pytest.mark.parametrize("name", OPERATORS)
def test_every_operator_sees_a_redefined_helper(model, name):
    warnings.simplefilter("error", s2sgrad.FallbackWarning)     # generated code throughout
    run = _derivatives(model)[name]
    np.testing.assert_allclose(run(), _expected(name, 2.0), rtol=1e-12)
    _redefine(model, 3.0)
    np.testing.assert_allclose(run(), _expected(name, 3.0), rtol=1e-12)
    _redefine(model, 5.0)
    np.testing.assert_allclose(run(), _expected(name, 5.0), rtol=1e-12)


@pytest.mark.parametrize("name", OPERATORS)
def test_every_operator_sees_an_edited_and_reloaded_module(model, name):
    warnings.simplefilter("error", s2sgrad.FallbackWarning)
    before = _derivatives(model)
    np.testing.assert_allclose(before[name](), _expected(name, 2.0), rtol=1e-12)
    model.write(7)
    importlib.invalidate_caches()
    reloaded = importlib.reload(model)
    # a derivative made before the reload runs the old f, which calls the new h (its globals)
    np.testing.assert_allclose(before[name](), _expected(name, 7.0), rtol=1e-12)
    # and one made after it, of the new f, too
    np.testing.assert_allclose(_derivatives(reloaded)[name](), _expected(name, 7.0), rtol=1e-12)


def test_the_same_request_is_built_once(model):
    transforms = cache.stats["transform"]
    for _ in range(3):
        s2sgrad.jvp(model.f)(X, V)
        s2sgrad.hessian(model.f)(X)
    # jvp, and hessian with the gradient it reads: three transformations, whatever the calls
    assert cache.stats["transform"] - transforms == 3


def test_a_request_is_a_value():
    a = Request("jvp", (0,), seeds=((0, "one"),))
    assert a == Request("jvp", (0,), seeds=((0, "one"),)) and hash(a) == hash(a.but())
    assert a.mode == "forward" and a.forward and a.label == "jvp"
    assert Request("grad", (1,), joint=True).label == "grad_joint"
    assert "seeds=((0, 'one'),)" in repr(a)       # the cache key reads it
    with pytest.raises(ValueError, match="unknown operator"):
        Request("gradient")


def test_the_stage_list_is_data_in_order():
    names = [s.name for s in pipeline.STAGES]
    assert names[0] == "source" and names[-1] == "codegen"
    assert s2sgrad.stages("reverse") == ["source", "normalize", "activity", "transform",
                                         "simplify", "prune", "share", "codegen"]
    assert s2sgrad.stages("forward") == ["source", "normalize", "activity", "transform",
                                         "simplify", "share", "release", "codegen"]


def _loop(x, n):
    y = x
    for i in range(n):
        y = np.sin(y) * x
    return np.sum(y)


def test_show_prints_each_stage_and_the_last_is_the_emitted_code():
    reverse = {s: s2sgrad.show(_loop, s) for s in s2sgrad.stages("reverse")}
    assert reverse["codegen"] == s2sgrad.grad(_loop, emit=True)
    assert "for i in range(n):" in reverse["source"]
    assert "varied:" in reverse["activity"] and "y" in reverse["activity"]
    # every overwrite is saved by the transform; pruning keeps only what the adjoint reads
    assert reverse["transform"].count("_tape.append") >= reverse["prune"].count("_tape.append")
    forward = {s: s2sgrad.show(_loop, s, mode="forward") for s in s2sgrad.stages("forward")}
    assert forward["codegen"] == s2sgrad.jvp(_loop, emit=True)
    assert "del " not in forward["share"] and "del " in forward["release"] or \
        forward["share"] == forward["release"]
    with pytest.raises(ValueError, match="no stage 'prune' in forward mode"):
        s2sgrad.show(_loop, "prune", mode="forward")


def test_the_code_of_each_stage_runs_and_gives_the_same_gradient():
    """Each printed stage is a real program: the optional passes change nothing it computes."""
    x = np.array([0.3, -0.4])
    want = s2sgrad.grad(_loop)(x, 3)
    for stage in ("transform", "simplify", "prune", "share"):
        namespace = {}
        exec(compile(s2sgrad.show(_loop, stage), f"<{stage}>", "exec"), namespace)
        value, got = namespace["grad__loop"](x, 3)
        np.testing.assert_allclose(got, want, rtol=1e-12)


# ---------------------------------------------------------------------------
# What the generated code was built for, checked before it is served again
# ---------------------------------------------------------------------------

class _Config:
    pass


CFG = _Config()
CFG.act = np.tanh


def _through_an_attribute(x):
    return CFG.act(x) * 2.0


def test_an_attribute_the_code_was_built_for_is_checked_in_memory():
    """cfg.act is read when the code is made (its rule is inlined): rebinding it must not
    serve tanh's derivative for sin."""
    g = s2sgrad.grad(_through_an_attribute)
    try:
        np.testing.assert_allclose(g(0.5), 2 * (1 - np.tanh(0.5) ** 2), rtol=1e-12)
        CFG.act = np.sin
        np.testing.assert_allclose(g(0.5), 2 * np.cos(0.5), rtol=1e-12)
        np.testing.assert_allclose(s2sgrad.jvp(_through_an_attribute)(0.5, 1.0)[1],
                                   2 * np.cos(0.5), rtol=1e-12)
    finally:
        CFG.act = np.tanh


CONFIG_MODULE = """
import numpy as np
act = np.tanh
"""

USER = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import s2sgrad
from s2sgrad.driver import cache
import settings

def loss(x):
    return settings.act(x) ** 2

if sys.argv[2] == "sin":
    settings.act = np.sin
x = 0.4
g = s2sgrad.grad(loss)(x)
a = np.sin(x) if sys.argv[2] == "sin" else np.tanh(x)
da = np.cos(x) if sys.argv[2] == "sin" else 1 - np.tanh(x) ** 2
assert abs(g - 2 * a * da) < 1e-12, (g, 2 * a * da)
print(dict(cache.stats).get("disk_hit", 0))
"""


def test_an_attribute_of_a_user_module_is_checked_against_the_disk_cache(tmp_path):
    """A disk entry made while settings.act was tanh is not served where it is sin."""
    import os
    import subprocess
    (tmp_path / "settings.py").write_text(CONFIG_MODULE)
    (tmp_path / "user.py").write_text(USER)
    env = dict(os.environ, S2SGRAD_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))

    def run(which):
        r = subprocess.run([sys.executable, str(tmp_path / "user.py"), str(tmp_path), which],
                           capture_output=True, text=True, env=env, cwd=str(tmp_path))
        assert r.returncode == 0, r.stderr
        return int(r.stdout.split()[-1])
    assert run("tanh") == 0          # made and stored
    assert run("tanh") == 1          # served from disk
    assert run("sin") == 0           # not served: the attribute it was made for changed


def test_elementwise_grad_decides_its_mode_again_when_a_callee_changes(model):
    """Forward mode is right only while the function acts elementwise: rebinding the helper
    to a cumulative sum must switch to reverse mode (J^T 1), in an operator made before."""
    x = np.array([0.1, 0.2, 0.3])
    eg = s2sgrad.elementwise_grad(model.g)
    np.testing.assert_allclose(eg(x), 2 * 2.0 * x, rtol=1e-12)
    model.h = np.cumsum
    np.testing.assert_allclose(eg(x), [3.0, 2.0, 1.0], rtol=1e-12)
    np.testing.assert_allclose(s2sgrad.elementwise_grad(model.g)(x), [3.0, 2.0, 1.0])


def test_the_odeint_adjoint_is_reused_only_for_the_same_inputs():
    """The rules for y0 and for args share one adjoint solve; another dynamics function, or
    a cotangent changed in place, is solved again."""
    from scipy.integrate import odeint

    from s2sgrad.runtime import odeint_vjp
    t = np.linspace(0.0, 1.0, 5)
    y0, k = np.array([1.0, 0.5]), np.array([0.7])

    def decay(y, time, k):
        return -k * y

    def faster(y, time, k):
        return -3.0 * k * y

    ys = odeint(decay, y0, t, args=(k,))
    g = np.ones_like(ys)
    first = odeint_vjp(g, ys, decay, y0, t, (k,))[1][0]
    other = odeint_vjp(g, ys, faster, y0, t, (k,))[1][0]
    g *= 2.0
    doubled = odeint_vjp(g, ys, decay, y0, t, (k,))[1][0]
    np.testing.assert_allclose(doubled, 2 * first, rtol=1e-6)
    assert not np.allclose(other, first)
    # d/dk sum(ys) for y' = -k y: sum over t of -t y0 exp(-k t), summed over components
    want = np.sum(-t[:, None] * y0 * np.exp(-k * t[:, None]))
    np.testing.assert_allclose(first, want, rtol=1e-5)


def test_every_operator_of_a_request_has_a_builder():
    from s2sgrad.driver.request import OPERATORS
    assert set(OPERATORS) == set(pipeline._BUILDERS)
    assert [s.name for s in pipeline.STAGES if s.optional] == \
        [p for p in ("simplify", "prune", "share", "release")]
    from s2sgrad.transform.program import PASSES
    assert set(PASSES) == {s.name for s in pipeline.STAGES if s.optional}
