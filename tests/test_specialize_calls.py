"""Issue 14: every call runs code specialized to its arguments' signature (driver/calls.py),
kept within a bound, through a fast path that keeps the memo's guarantees."""

import linecache
import textwrap
import warnings

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import cache, calls, pipeline
from s2sgrad.driver.request import Request
from s2sgrad.errors import NonDifferentiableError, UnsupportedError
from s2sgrad.fallback import FallbackWarning
from s2sgrad.signature import parse_signature, signature_of
from gradcheck import assert_close, numeric_grad

# The automatic choice (specialization, its bound, the fast path): what S2SGRAD_CODE=general
# or =specialized replaces for a whole run.
pytestmark = [pytest.mark.auto_code, pytest.mark.usefixtures("fresh_call_path")]


def cell(ns, source, name):
    """Run ``source`` like a notebook cell: its text is in linecache, its globals are ``ns``."""
    filename = f"<spec-cell-{name}>"
    source = textwrap.dedent(source)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), ns)


def notebook():
    return {"__name__": "__main__", "np": np}


def site_of(fn, operator="grad", wrt=(0,), fallback="auto"):
    return calls.site(fn, Request(operator, wrt, fallback=fallback))


def ran(site, *args):
    """The request of the code a call with ``args`` ran (from the site's fast path)."""
    return site.fast[signature_of(args)].built.request


def sum_sin_sq(x):
    return np.sum(np.sin(x) * x ** 2)


def d_sum_sin_sq(x):
    return np.cos(x) * x ** 2 + 2 * x * np.sin(x)


# ---------------------------------------------------------------------------
# One specialization per signature, reused
# ---------------------------------------------------------------------------

def test_a_new_signature_builds_a_new_specialization_and_the_old_one_is_reused():
    g = s2sgrad.grad(sum_sin_sq)
    site = site_of(sum_sin_sq)
    v = np.array([0.3, -1.2, 2.0])
    assert_close(g(v), numeric_grad(sum_sin_sq, (v,)))
    assert cache.stats["transform"] == 1
    assert ran(site, v).signature == parse_signature("float64[n]")
    assert_close(g(1.5), numeric_grad(sum_sin_sq, (1.5,)))            # a new signature
    assert cache.stats["transform"] == 2
    assert ran(site, 1.5).signature == parse_signature("float")
    m = np.array([[0.1, 0.2], [0.3, -0.4]])
    assert_close(g(m), numeric_grad(sum_sin_sq, (m,)))
    assert cache.stats["transform"] == 3
    # the old ones again, and a vector of another length: nothing is built
    w = np.linspace(-1, 1, 7)
    assert_close(g(w), numeric_grad(sum_sin_sq, (w,)))
    assert_close(g(0.25), numeric_grad(sum_sin_sq, (0.25,)))
    assert_close(g(v), numeric_grad(sum_sin_sq, (v,)))
    assert cache.stats["transform"] == 3
    assert set(site.specs) == {parse_signature(t) for t in ("float64[n]", "float", "float64[n, n]")}
    # a second wrapper of the same function shares them
    assert_close(s2sgrad.grad(sum_sin_sq)(w), d_sum_sin_sq(w))
    assert cache.stats["transform"] == 3


def test_the_signature_is_part_of_the_cache_key():
    spec = Request("grad", (0,), signature=parse_signature("float32[n, 1], (float, int)"))
    assert repr(spec) == ("Request(operator='grad', wrt=(0,), joint=False, seeds=(), "
                          "fallback='auto', signature=(float32[n, 1], (float, int)))")
    general = Request("grad", (0,))
    assert spec != general and hash(spec) != hash(general)
    assert cache.entry_key(sum_sin_sq, spec) != cache.entry_key(sum_sin_sq, general)
    other = spec.but(signature=parse_signature("float64[n, 1], (float, int)"))
    assert cache.entry_key(sum_sin_sq, spec) != cache.entry_key(sum_sin_sq, other)
    same = Request("grad", (0,), signature=parse_signature("(float32[n, 1], (float, int))"))
    assert same == spec and cache.entry_key(sum_sin_sq, same) == cache.entry_key(sum_sin_sq, spec)


def test_the_bound_drops_the_least_recently_used_specialization():
    g = s2sgrad.grad(sum_sin_sq)
    site = site_of(sum_sin_sq)
    shapes = [(2,), (2, 2), (2, 2, 2), (1,), (1, 2), (2, 1), (1, 1), (2, 2, 1)]
    xs = [np.full(s, 0.5) for s in shapes]
    for x in xs:
        np.testing.assert_allclose(g(x), d_sum_sin_sq(x))
    assert len(site.specs) == calls.BOUND == 8 and cache.stats["evicted"] == 0
    np.testing.assert_allclose(g(xs[0]), d_sum_sin_sq(xs[0]))    # used: not the oldest any more
    x9 = np.full((3, 1, 3), 0.5)
    np.testing.assert_allclose(g(x9), d_sum_sin_sq(x9))
    assert len(site.specs) == 8 and cache.stats["evicted"] == 1
    dropped = signature_of((xs[1],))                                # the least recently used
    assert dropped not in site.specs and signature_of((xs[0],)) in site.specs
    assert cache.memo_of(sum_sin_sq, Request("grad", (0,), signature=dropped)) is None
    assert all(r.sig is not dropped for r in site.fast.values())
    built = cache.stats["specialized"]
    np.testing.assert_allclose(g(xs[1]), d_sum_sin_sq(xs[1]))     # built again
    assert cache.stats["specialized"] == built + 1 and cache.stats["evicted"] == 2


def test_a_function_called_with_ever_new_signatures_gets_the_general_code():
    def total(xs):
        return sum(v * v for v in xs)

    g = s2sgrad.grad(total)
    site = site_of(total)
    for n in range(1, calls.MAX_BUILDS + 1):
        xs = [0.5 * k for k in range(n)]
        assert g(xs) == [2 * v for v in xs]
    assert cache.stats["specialized"] == calls.MAX_BUILDS
    xs = [0.25] * (calls.MAX_BUILDS + 3)
    assert g(xs) == [0.5] * len(xs)
    assert cache.stats["specialized"] == calls.MAX_BUILDS and cache.stats["unspecialized"] == 1
    assert ran(site, xs).signature is None


# ---------------------------------------------------------------------------
# Dtypes: float32 stays float32, complex
# ---------------------------------------------------------------------------

def test_float32_and_float64_arguments_get_separate_code_and_float32_stays_float32():
    g = s2sgrad.grad(sum_sin_sq)
    site = site_of(sum_sin_sq)
    x64 = np.array([0.3, -1.2, 2.0])
    x32 = x64.astype(np.float32)
    g64, g32 = g(x64), g(x32)
    assert g64.dtype == np.float64 and g32.dtype == np.float32
    np.testing.assert_allclose(g64, numeric_grad(sum_sin_sq, (x64,)), rtol=1e-6)
    np.testing.assert_allclose(g32, numeric_grad(sum_sin_sq, (x64,)), rtol=1e-5)
    b64, b32 = site.fast[signature_of((x64,))].built, site.fast[signature_of((x32,))].built
    assert b64 is not b32
    assert b32.request.signature == parse_signature("float32[n]")
    assert "# Specialized to the signature (float32[n]) of its arguments" in b32.source
    assert "# Specialized to the signature (float64[n]) of its arguments" in b64.source
    s = g(np.float32(0.7))          # a NumPy float32 scalar
    assert np.asarray(s).dtype == np.float32
    np.testing.assert_allclose(s, d_sum_sin_sq(0.7), rtol=1e-5)
    assert cache.stats["transform"] == 3


def test_complex_arguments_get_their_own_code():
    def cube_sum(z):
        return np.sum(z ** 3 + 2j * z)

    dg = s2sgrad.holomorphic_grad(cube_sum)
    site = site_of(cube_sum)
    z = np.array([0.5 + 1.0j, -0.3 + 0.2j])
    h = 1e-6
    fd = np.array([(cube_sum(z + h * e) - cube_sum(z - h * e)) / (2 * h) for e in np.eye(2)])
    np.testing.assert_allclose(dg(z), fd, rtol=1e-6)
    np.testing.assert_allclose(dg(z), 3 * z ** 2 + 2j)
    w = 0.4 - 0.9j
    np.testing.assert_allclose(dg(w), (cube_sum(w + h) - cube_sum(w - h)) / (2 * h), rtol=1e-6)
    assert isinstance(dg(w), complex)
    assert ran(site, z).signature == parse_signature("complex128[n]")
    assert ran(site, w).signature == parse_signature("complex")
    z64 = z.astype(np.complex64)
    assert dg(z64).dtype == np.complex64
    np.testing.assert_allclose(dg(z64), 3 * z ** 2 + 2j, rtol=1e-5)


# ---------------------------------------------------------------------------
# A training loop never transforms again; the fast path
# ---------------------------------------------------------------------------

def test_a_training_loop_with_fixed_shapes_never_transforms_again(monkeypatch):
    def loss(W, b, X, y):
        return np.mean((np.tanh(X @ W + b) - y) ** 2)

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 2))
    W, b = 0.1 * rng.normal(size=(3, 2)), np.zeros(2)
    slow = []
    route = calls.Site.route
    monkeypatch.setattr(calls.Site, "route", lambda self, sig: slow.append(sig) or
                        route(self, sig))
    step = s2sgrad.value_and_grad(loss, (0, 1))
    first, _ = step(W, b, X, y)
    for _ in range(30):
        value, (gW, gb) = step(W, b, X, y)
        W, b = W - 0.5 * gW, b - 0.5 * gb
    assert value < first
    assert cache.stats["transform"] == 1 and len(slow) == 1
    assert_close(gW, numeric_grad(loss, (W + 0.5 * gW, b + 0.5 * gb, X, y)))
    # another batch size: the same signature (axes are 1 or many), the same code
    X2, y2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    assert_close(step(W, b, X2, y2)[1][1], numeric_grad(loss, (W, b, X2, y2), 1))
    assert cache.stats["transform"] == 1 and len(slow) == 1


def test_jvp_vjp_and_elementwise_grad_are_specialized_and_fast(monkeypatch):
    x = np.array([0.3, -1.2, 2.0])
    t = np.array([1.0, 0.5, -2.0])
    slow = []
    route = calls.Site.route
    monkeypatch.setattr(calls.Site, "route", lambda self, sig: slow.append(sig) or
                        route(self, sig))
    def sin_times(x):
        return np.sin(x) * x

    j, v = s2sgrad.jvp(sum_sin_sq), s2sgrad.vjp(sum_sin_sq)
    e, by_rule = s2sgrad.elementwise_grad(sin_times), s2sgrad.elementwise_grad(np.sin)
    for _ in range(3):
        value, tangent = j(x, t)
        np.testing.assert_allclose(value, sum_sin_sq(x))
        np.testing.assert_allclose(tangent, d_sum_sin_sq(x) @ t)
        value, back = v(x)
        np.testing.assert_allclose(back(2.0), 2.0 * d_sum_sin_sq(x))
        np.testing.assert_allclose(e(x), np.cos(x) * x + np.sin(x))
        np.testing.assert_allclose(by_rule(x), np.cos(x))
    # one slow call each; a primitive's rule (np.sin) takes the slow path every time
    assert len(slow) == 3 + 3
    assert ran(site_of(sum_sin_sq, "jvp"), x).signature == parse_signature("float64[n]")
    assert ran(site_of(sum_sin_sq, "split"), x).signature == parse_signature("float64[n]")
    # a float: new code for each
    assert j(0.5, 1.0)[1] == pytest.approx(d_sum_sin_sq(0.5))
    assert v(0.5)[1](1.0) == pytest.approx(d_sum_sin_sq(0.5))
    assert ran(site_of(sum_sin_sq, "jvp"), 0.5).signature == parse_signature("float")


def test_keyword_arguments_and_argument_errors_on_the_fast_path():
    def scaled(x, scale=2.0):
        return np.sum(scale * x ** 2)

    g = s2sgrad.grad(scaled)
    x = np.array([1.0, -2.0])
    for _ in range(2):
        np.testing.assert_allclose(g(x), 4.0 * x)
        np.testing.assert_allclose(g(x, scale=3.0), 6.0 * x)
        np.testing.assert_allclose(g(x, 0.5), 1.0 * x)
        with pytest.raises(TypeError, match="unexpected keyword argument 'bad'"):
            g(x, bad=1.0)
        with pytest.raises(NonDifferentiableError, match="which is int 3"):
            g(3)
        with pytest.raises(NonDifferentiableError, match="an array of int64"):
            g(np.array([1, 2]))
    site = site_of(scaled)
    sig = signature_of((x,))
    assert set(site.fast) == {sig, (sig, ("scale",)), signature_of((x, 0.5))}


def test_the_output_is_checked_on_the_fast_path_too():
    def positive_part(x):
        if x > 0:
            return x * x

    g = s2sgrad.grad(positive_part)
    assert g(1.5) == 3.0 and g(2.0) == 4.0          # the second on the fast path
    with pytest.raises(NonDifferentiableError, match="returned None"):
        g(-1.0)


# ---------------------------------------------------------------------------
# The memo's guarantees hold on the fast path
# ---------------------------------------------------------------------------

def test_a_redefined_global_helper_is_seen_after_the_fast_path_is_taken():
    ns = notebook()
    cell(ns, "def helper(v):\n    return v ** 2\n", "h1")
    cell(ns, "def f(x):\n    return np.sum(helper(x))\n", "f")
    g = s2sgrad.grad(ns["f"])
    x = np.array([0.5, -1.0, 2.0])
    for _ in range(3):
        np.testing.assert_allclose(g(x), 2 * x)
    assert cache.stats["transform"] == 1
    cell(ns, "def helper(v):\n    return v ** 3\n", "h2")      # f itself is unchanged
    np.testing.assert_allclose(g(x), 3 * x ** 2)
    assert cache.stats["transform"] == 2
    np.testing.assert_allclose(g(x), 3 * x ** 2)
    assert cache.stats["transform"] == 2
    ns["helper"] = eval("lambda v: np.sin(v)", ns)   # no source: traced, saying so
    with pytest.warns(FallbackWarning):
        np.testing.assert_allclose(g(x), np.cos(x))


def test_changed_code_defaults_and_forgotten_rules_are_seen_on_the_fast_path():
    def f(x, p=2.0):
        return np.sum(x ** 2) * p

    g = s2sgrad.grad(f)
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(g(x), 4.0 * x)
    np.testing.assert_allclose(g(x), 4.0 * x)
    f.__defaults__ = (3.0,)
    np.testing.assert_allclose(g(x), 6.0 * x)
    ready = site_of(f).fast[signature_of((x,))]
    assert ready.valid()
    pipeline.forget()           # what a changed custom rule does
    assert not ready.valid()
    np.testing.assert_allclose(g(x), 6.0 * x)
    ready = site_of(f).fast[signature_of((x,))]
    assert ready.valid()

    def other(x, p=2.0):
        return np.sum(np.sin(x)) * p
    f.__code__ = other.__code__     # its source is no longer found under f's name: traced
    assert not ready.valid()
    with pytest.warns(FallbackWarning, match="cannot find the definition"):
        np.testing.assert_allclose(g(x), 3.0 * np.cos(x))


def test_the_memo_checks_compiled_to_a_guard_agree_with_following_the_paths():
    ns = notebook()
    cell(ns, """
        class Cfg:
            scale = 2.0

        CFG = Cfg()

        def helper(v):
            return v * CFG.scale

        def f(x):
            return np.sum(helper(x) ** 2)
    """, "guard")
    f = ns["f"]
    x = np.array([0.5, 1.5])
    s2sgrad.grad(f)(x)
    memo = cache.memo_of(f, Request("grad", (0,), signature=signature_of((x,))))
    assert memo is not None and memo.holds(f) and len(memo.checks) >= 4

    def followed():
        try:
            return all((path(f) if callable(path) else cache.follow(f, path)) is obj
                       for path, obj in memo.checks)
        except Exception:
            return False
    assert followed()
    ns["Cfg"] = type("Cfg", (), {"scale": 2.0})
    assert memo.holds(f) == followed()
    cell(ns, "def helper(v):\n    return v * 3.0\n", "guard2")
    assert not memo.holds(f) and not followed()


# ---------------------------------------------------------------------------
# Where the general code runs
# ---------------------------------------------------------------------------

def test_a_failed_specialized_build_uses_the_general_code(monkeypatch):
    run = pipeline.run

    def refuse_specialized(fn, request, stop_after=None):
        if request.signature is not None:
            raise UnsupportedError("here", "a specialization", "none")
        return run(fn, request, stop_after)
    monkeypatch.setattr(pipeline, "run", refuse_specialized)
    g = s2sgrad.grad(sum_sin_sq)
    site = site_of(sum_sin_sq)
    x = np.array([0.4, 1.1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no fallback warning: the general code is generated
        assert_close(g(x), numeric_grad(sum_sin_sq, (x,)))
        assert_close(g(x), numeric_grad(sum_sin_sq, (x,)))
    assert ran(site, x).signature is None and site.specs[signature_of((x,))].signature is None
    assert cache.stats["specialization_failed"] == 1


def test_traced_functions_keep_their_fallback_and_its_warning():
    ns = {"np": np}
    exec("def made(x, a):\n    return np.sin(a * x) * x\n", ns)
    made = ns["made"]
    g = s2sgrad.grad(made)
    with pytest.warns(FallbackWarning, match="traces made"):
        assert g(0.3, 1.7) == pytest.approx(numeric_grad(made, (0.3, 1.7)))
    assert g(np.float64(0.5), 2.0) == pytest.approx(numeric_grad(made, (0.5, 2.0)))
    assert site_of(made).fast == {}         # traced: the slow path, as before
    with pytest.raises(s2sgrad.SourceError):
        s2sgrad.grad(made, fallback="never")(0.3, 1.7)
    always = s2sgrad.grad(sum_sin_sq, fallback="always")
    assert always(0.7) == pytest.approx(d_sum_sin_sq(0.7))
    assert site_of(sum_sin_sq, fallback="always").specs == {}


def test_calls_inside_a_trace_and_derivatives_of_derivatives():
    ns = {"np": np}
    exec("def outer(x):\n    return np.sum(inner_grad(x) * x)\n", ns)     # no source: traced
    inner = sum_sin_sq
    ns["inner_grad"] = s2sgrad.grad(inner)
    ns["inner_grad"](0.2)                       # its fast path exists for floats
    g = s2sgrad.grad(ns["outer"])
    with pytest.warns(FallbackWarning):
        got = g(0.9)
    assert got == pytest.approx(numeric_grad(ns["outer"], (0.9,)), rel=1e-6)
    x = np.array([0.3, -0.8])
    np.testing.assert_allclose(g(x), numeric_grad(ns["outer"], (x,)), rtol=1e-6)
    # grad(grad(f)): the outer transforms the inner's general code (signature None)
    def f(v):
        return v ** 3 * np.sin(v)
    d1 = s2sgrad.grad(f)
    d2 = s2sgrad.grad(d1)
    d3 = s2sgrad.grad(d2)
    for v in (0.7, 1.3):
        assert d2(v) == pytest.approx(numeric_grad(d1, (v,)), rel=1e-6)
        assert d3(v) == pytest.approx(numeric_grad(d2, (v,)), rel=1e-5)
    assert ran(site_of(f), 0.7).signature == parse_signature("float")
    assert ran(site_of(d1), 0.7).signature is None
    assert cache.memo_of(f, Request("grad", (0,), joint=True)) is not None
    assert s2sgrad.hessian(sum_sin_sq)(x) == pytest.approx(np.diag(
        np.gradient(d_sum_sin_sq(np.array([x - 1e-6, x + 1e-6])), 2e-6, axis=0)[0]), rel=1e-5)


# ---------------------------------------------------------------------------
# Seeing specialized code
# ---------------------------------------------------------------------------

def test_emit_with_an_example_returns_the_code_specialized_to_its_signature():
    x = np.array([0.5, 1.0])
    general = s2sgrad.grad(sum_sin_sq, emit=True)
    special = s2sgrad.grad(sum_sin_sq, emit=True, example=(x,))
    assert "Specialized to" not in general
    head = special.splitlines()[:3]
    assert head[1] == "# Specialized to the signature (float64[n]) of its arguments " \
                      "(s2sgrad.signature)."
    assert special != general
    assert s2sgrad.grad(sum_sin_sq, emit=True, example=(x,)) == special      # deterministic
    # the code a call with that signature runs
    s2sgrad.grad(sum_sin_sq)(np.array([2.0, 3.0, 4.0]))
    assert site_of(sum_sin_sq).fast[signature_of((x,))].built.source == special
    scalar = s2sgrad.value_and_grad(sum_sin_sq, emit=True, example=(1.5,))
    assert "# Specialized to the signature (float) of its arguments" in scalar
    assert "# Specialized to the signature (float64[n, 1])" in s2sgrad.jvp(
        sum_sin_sq, emit=True, example=(np.ones((3, 1)),))
    assert "# Specialized to the signature (float32[n])" in s2sgrad.vjp(
        sum_sin_sq, emit=True, example=(np.ones(3, np.float32),))
    assert "# Specialized to the signature (float)" in s2sgrad.show(
        sum_sin_sq, "simplify", example=(1.5,))
    assert "Specialized" not in s2sgrad.show(sum_sin_sq, "simplify")
    with pytest.raises(TypeError, match=r"example=\(x,\)"):
        s2sgrad.grad(sum_sin_sq, emit=True, example=x)
    # a signature of ? only says nothing: the general code
    assert s2sgrad.grad(sum_sin_sq, emit=True, example=(object(),)) == general


# ---------------------------------------------------------------------------
# Runners: the fast path of grad and value_and_grad compiled for one Ready
# ---------------------------------------------------------------------------

def _cubic(x):
    if x < -5.0:
        raise ValueError("x is too small")
    return x ** 3 - 2.0 * x


def test_a_runner_serves_the_second_call_with_the_slow_paths_answers():
    g, vg = s2sgrad.grad(_cubic), s2sgrad.value_and_grad(_cubic)
    table = site_of(_cubic).runners("grad", True)[0]
    assert not table
    for x in (0.5, 1.5, -2.0):
        assert g(x) == pytest.approx(3 * x * x - 2.0, rel=1e-14)
        assert type(g(x)) is float
    assert list(table) == [float]       # a lone float: its type is its signature
    vtable = site_of(_cubic, "value_and_grad").runners("value_and_grad", True)[0]
    for x in (0.5, 1.5):
        assert vg(x) == (pytest.approx(_cubic(x)), pytest.approx(3 * x * x - 2.0))
    assert list(vtable) == [float]
    # a NumPy scalar keeps its dtype, on the runner as on the slow path
    d = [g(np.float32(1.5)) for _ in range(3)]
    assert all(type(v) is np.float32 for v in d)
    assert d[2] == pytest.approx(4.75)
    # arrays, several arguments, a tuple of gradients: keyed by the signature
    def f(w, b, x):
        return np.sum(np.tanh(x @ w + b) ** 2)
    rng = np.random.default_rng(0)
    w, b, x = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((4, 3))
    gw = s2sgrad.grad(f, (0, 1))
    first = gw(w, b, x)
    for _ in range(2):
        again = gw(w, b, x)
        for a, e in zip(again, first):
            np.testing.assert_array_equal(a, e)
    assert list(site_of(f, wrt=(0, 1)).runners("grad", False)[0]) == [signature_of((w, b, x))]
    assert_close(again[0], numeric_grad(f, (w, b, x), 0), rtol=1e-6)
    assert_close(again[1], numeric_grad(f, (w, b, x), 1), rtol=1e-6)


def test_a_lone_array_finds_its_runner_by_dtype_and_shape():
    def f(x):
        return np.sum(np.sin(x) * x)
    g = s2sgrad.grad(f)
    table = site_of(f).runners("grad", True)[0]
    for n in (3, 3, 5, 5, 3):
        x = np.linspace(0.1, 1.0, n)
        np.testing.assert_allclose(g(x), np.sin(x) + x * np.cos(x), rtol=1e-14)
    x3, x5 = np.zeros(3), np.zeros(5)
    # one signature, one runner: it checks the signature itself and serves both lengths
    (run,) = set(table.values())
    assert site_of(f).runners("grad", True)[1][0] is run
    assert run((x5,)) is not calls.MISS and run((x3,)) is not calls.MISS
    for other in (np.zeros((3, 1)), np.zeros(1), np.zeros(3, np.float32), [0.1, 0.2]):
        assert run((other,)) is calls.MISS      # another signature: not this runner's
    assert cache.stats["transform"] == 1
    x32 = np.linspace(0.1, 1.0, 3, dtype=np.float32)
    for _ in range(2):
        d = g(x32)
        assert d.dtype == np.float32
    np.testing.assert_allclose(d, np.sin(x32) + x32 * np.cos(x32), rtol=1e-6)
    g(np.linspace(0.1, 1.0, 3))     # (a new specialization emptied the table)
    assert table[(x32.dtype, (3,))] is not table[(x3.dtype, (3,))]
    ro = np.linspace(0.1, 1.0, 3)
    ro.flags.writeable = False          # the argument read-only: the gradient is not
    for _ in range(2):
        assert g(ro).flags.writeable


def test_a_runner_steps_aside_for_a_trace_another_policy_and_forgotten_rules():
    from s2sgrad.driver import routes
    from s2sgrad.fallback.state import RUNNING
    g = s2sgrad.grad(_cubic)
    g(0.5)
    g(0.5)
    (run,) = site_of(_cubic).runners("grad", True)[0].values()
    assert run((1.0,)) == pytest.approx(1.0)
    with routes.policy("never"):
        assert run((1.0,)) is calls.MISS
        assert g(1.0) == pytest.approx(1.0)         # the slow path, same answer
    RUNNING[0] += 1
    try:
        assert run((1.0,)) is calls.MISS
    finally:
        RUNNING[0] -= 1
    pipeline.forget()
    assert not site_of(_cubic).runners("grad", True)[0]
    assert g(1.0) == pytest.approx(1.0)


def test_a_runner_keeps_the_generated_text_known_and_errors_cited():
    g = s2sgrad.grad(_cubic)
    g(0.5)
    g(0.5)
    (run,) = site_of(_cubic).runners("grad", True)[0].values()
    ready = site_of(_cubic).fast[signature_of((0.5,))]
    linecache.clearcache()
    assert run((1.0,)) is calls.MISS            # the slow path registers the text again
    assert g(1.0) == pytest.approx(1.0)
    assert ready.filename in linecache.cache
    (run,) = site_of(_cubic).runners("grad", True)[0].values()
    with pytest.raises(ValueError, match="too small") as info:
        g(-6.0)
    notes = "\n".join(getattr(info.value, "__notes__", ()))
    assert "test_specialize_calls.py:" in notes and "raise ValueError" in notes


def test_a_runner_of_a_changed_function_steps_aside():
    ns = notebook()
    cell(ns, "def f(x):\n    return x * x\n", "r1")
    g = s2sgrad.grad(ns["f"])
    assert g(2.0) == 4.0 and g(2.0) == 4.0
    f = ns["f"]
    cell(ns, "def f2(x):\n    return x * x * x\n", "r2")
    f.__code__ = ns["f2"].__code__
    assert g(2.0) == pytest.approx(12.0)
    # a global helper of a scalar function (whose runner has the entry inline) redefined
    cell(ns, "def h(v):\n    return v * v\n", "r3")
    cell(ns, "def k(x):\n    return h(x) + x\n", "r4")
    gk = s2sgrad.grad(ns["k"])
    assert [gk(2.0) for _ in range(3)] == [5.0, 5.0, 5.0]
    cell(ns, "def h(v):\n    return v * v * v\n", "r5")
    assert [gk(2.0) for _ in range(2)] == [13.0, 13.0]


class _Spring:
    def __init__(self, k):
        self.k = k

    def energy(self, x):
        return 0.5 * self.k * x * x


def test_a_runner_of_a_bound_method_passes_its_instance():
    s = _Spring(3.0)
    g = s2sgrad.grad(s.energy)
    assert [g(2.0) for _ in range(3)] == [6.0, 6.0, 6.0]
    assert list(site_of(s.energy).runners("grad", True)[0]) == [float]
