"""The call path of a derivative: from the arguments of one call to the code that runs.

Each call of a function that ``grad``, ``value_and_grad``, ``holomorphic_grad``,
``elementwise_grad``, ``jvp`` or ``vjp`` returned computes the *signature* of its positional
arguments (the tangent of ``jvp`` not included)
(``s2sgrad.signature.signature_of``: kinds, dtypes, which axes have length 1) and runs
the code built for ``Request(..., signature=sig)``, code specialized to it.  The
operator keeps one ``Site`` per ``(function, request)``, shared by every wrapper made
for them:

- **Specializations.**  A new signature builds a new specialization (through
  ``pipeline.run``: the cache, keyed on the request and so on the signature).  At most
  ``BOUND`` (8) are kept per site, the least recently used dropped (from the site and
  from the cache's memo); once a site has built ``MAX_BUILDS`` (16) of them, a new
  signature gets the general code instead (a function called with ever new signatures,
  a list of varying length for instance, is not compiled again on every call).
- **The general code** (``signature=None``, exactly the route ``pipeline.route`` gives,
  with its fallbacks, warnings and errors) serves a call whose signature says nothing
  (every argument ``?``), a call inside a trace (the tracer's values are ``?``, and a
  traced copy of the code runs), ``fallback="always"``, anything but a plain Python
  function or method (a ``functools.partial``, a callable object, a primitive, a
  derivative made by s2sgrad: derivatives of derivatives transform the general code of
  the inner one), a function whose general route is not generated code (traced, by
  rule), and a signature whose specialized build failed (it keeps the general code).
- **The fast path.**  ``Site.fast`` maps a call's key (the signature, and the names of
  the keyword arguments if any) to a ``Ready``: the generated code that call ran, ready to
  run again.  ``Ready.valid()`` is what makes running it equivalent to the slow path: the
  memo's own checks (``cache._Memo.holds``: every user function, global, closure cell,
  default and attribute the code was made from is still the same object, compiled to
  identity comparisons), nothing forgotten since (``cache.generation``: a rule changed),
  no trace running, and its text still known to ``linecache``.  Anything else goes the
  slow way, which checks the arguments, finds the route and makes a new ``Ready``.
  The argument checks (binding, differentiability) depend only on the key, except for
  arguments the signature does not describe (``?``): ``Ready.recheck`` says to run them.
- **Runners.**  ``grad`` and ``value_and_grad`` go one step further for a call without
  keywords: after a call whose ``Ready`` needs no recheck, ``make_runner`` compiles one
  function that does everything the fast path does for that ``Ready`` (its memo's checks
  inline, the output made into what the operator returns), kept in ``Site.runners`` under
  ``runner_key(args)`` (a lone number's type or array's dtype and shape, else the
  signature).  A runner returns ``MISS`` wherever ``Ready.valid()`` would be false; the
  tables are emptied whenever the site's specializations change and on ``cache.forget``.
  What a call costs beyond the generated function is then about 0.25 us for a float,
  0.75 us for an array (``benchmarks/bench_call.py``).

``deriv``, ``hvp``, ``hessian`` and ``jacobian`` run the general code, as do the requests
the pipeline makes for itself (the joint gradient a second derivative transforms, a
callee's split pair).
"""

import ast
import linecache
import types

import numpy

import s2sgrad.runtime as rt
from . import cache, pipeline, specialize
from .routes import current_fast as _policy, others as _other_policies
from ..errors import NonScalarOutputError, OutputWithoutDerivativeError
from ..errorsite import note as _note
from ..fallback.state import RUNNING
from ..signature import ANY, ONE, abstract_of, signature_of

__all__ = ["BOUND", "MAX_BUILDS", "Site", "Ready", "site", "resolve", "key_of", "stats",
           "call_signature", "MISS", "BY_TYPE", "runner_key", "install", "make_runner",
           "plain_value", "match"]

BOUND = 8           # specializations kept per (function, request)
MAX_BUILDS = 16     # specializations built per (function, request) before new signatures
                    # get the general code
_SITES_SIZE = 1024
_FAST_SIZE = 4 * BOUND

stats = cache.stats     # specialized, evicted, unspecialized (MAX_BUILDS reached), ...


_simple = {t: abstract_of(t()) for t in (float, int, bool, complex)}
_single = {}        # abstract value -> the signature of one argument with it


def call_signature(args):
    """``signature_of(args)``, the same tuple, with one argument the common case: what every
    call computes first."""
    if len(args) == 1:
        v = args[0]
        a = _simple.get(type(v))
        if a is None:
            a = abstract_of(v)
        sig = _single.get(a)
        if sig is None:
            if len(_single) > 1024:
                _single.clear()
            sig = _single[a] = (a,)
        return sig
    return signature_of(args)


def key_of(args, kwargs):
    """``(signature, key)`` of one call: the key of ``Site.fast``."""
    sig = call_signature(args)
    return sig, (sig if not kwargs else (sig, tuple(kwargs)))


def _has_any(a):
    if a is ANY:
        return True
    items = a.items
    if not items:
        return False
    if a.kind == "dict":
        return any(_has_any(v) for _, v in items)
    return any(_has_any(v) for v in items)


resolve = pipeline.resolve
_says_something = pipeline.says_something
_specializable = pipeline.specializable
_specialized = pipeline.specialized


class Ready:
    """The generated code one call ran, to run again for calls with the same key."""

    __slots__ = ("site", "sig", "built", "entry", "lead", "memo", "root", "gen", "filename",
                 "recheck", "fallback", "wrt", "single", "tangent_names", "valued",
                 "runs")

    def __init__(self, site, sig, built, memo):
        self.site = site
        self.sig = sig
        self.built = built
        face = built.interface
        # what Built.__call__ runs: the tangent function of a forward request
        self.entry = built[face["jvp"]] if built.mode == "fwd" else built.entry
        self.tangent_names = [face["tangents"][p] for p in face["active"]] \
            if built.mode == "fwd" else None
        self.lead = built.lead
        self.valued = built.valued
        self.runs = {}          # (operator, single) -> its runner (``install``)
        self.memo = memo
        self.root = built.fn
        self.gen = cache.generation[0]
        self.filename = built.filename
        self.fallback = site.request.fallback
        self.wrt = site.request.wrt
        self.single = self.wrt[0] if len(self.wrt) == 1 else -1
        self.recheck = any(w >= len(sig) or _has_any(sig[w]) for w in self.wrt)

    def valid(self):
        """Whether the slow path would run this same code now (see the module's docstring)."""
        if self.gen != cache.generation[0] or RUNNING[0] \
                or self.filename not in linecache.cache or not self.memo.holds(self.root):
            return False
        site = self.site
        if len(site.specs) > 1:
            site.touch(self.sig)
        return True


class Site:
    """The specializations of one ``(function, request)`` and the fast path to them."""

    __slots__ = ("fn", "request", "specs", "fast", "builds", "plain", "direct", "hot")

    def __init__(self, fn, request):
        self.fn = fn
        self.request = request
        self.specs = {}     # signature -> the request it runs (least recently used first)
        self.fast = {}      # key_of(...)[1] -> Ready
        self.hot = {}       # (operator, single) -> {runner_key: runner} (see ``runners``)
        self.builds = 0
        self.plain = _specializable(fn)     # its code may be specialized
        # its generated code's memo is checked from ``fn`` itself: the fast path may keep it
        self.direct = isinstance(fn, (types.FunctionType, types.MethodType))

    def runners(self, operator, single):
        """``(table, last)``: the compiled runners (``make_runner``) of the wrappers of one
        operator and one output structure, ``{runner_key(args): run}``, and in ``last[0]``
        the runner of the latest call if it checks its arguments' signature itself (what
        a call tries first); emptied whenever the site's specializations or fast path
        change."""
        hot = self.hot.get((operator, single))
        if hot is None:
            hot = self.hot[(operator, single)] = ({}, [_no_runner])
        return hot

    def _cool(self):
        for table, last in self.hot.values():
            table.clear()
            last[0] = _no_runner

    def touch(self, sig):
        """``sig`` was just used: last to be dropped."""
        specs = self.specs
        spec = specs.pop(sig, None)
        if spec is not None:
            specs[sig] = spec

    def request_for(self, sig):
        """The request a call with signature ``sig`` runs (the general one, or one with
        ``signature=sig`` within the bound)."""
        request = self.request
        if not self.plain or RUNNING[0] or request.fallback == "always" \
                or not _says_something(sig):
            return request      # (whatever the tests' switch says: these are never specialized)
        choice = specialize.current()       # (the tests' switch: general or specialized code)
        if choice != "auto":
            return specialize.request_for(request, sig=sig)
        specs = self.specs
        spec = specs.get(sig)
        if spec is not None:
            self.touch(sig)
            return spec
        if self.builds >= MAX_BUILDS:
            stats["unspecialized"] += 1
            return request
        while len(specs) >= BOUND:
            self._drop(cache.oldest(specs))
        spec = specs[sig] = request.but(signature=sig)
        self._cool()        # the runners of one specialization do not keep it recent
        self.builds += 1
        stats["specialized"] += 1
        return spec

    def _drop(self, sig):
        spec = self.specs.pop(sig, None)
        if spec is not None and spec.signature is not None:
            cache.discard(self.fn, spec)
            stats["evicted"] += 1
        for key in [k for k, r in list(self.fast.items()) if r.sig is sig]:
            self.fast.pop(key, None)
        self._cool()

    def route(self, sig):
        """The route a call with signature ``sig`` takes (the slow path)."""
        spec = self.request_for(sig)
        if spec is self.request:
            return pipeline.route(self.fn, spec)
        built = _specialized(self.fn, self.request, spec)
        if built is None:
            self.specs[sig] = self.request      # this signature keeps the general code
            return pipeline.route(self.fn, self.request)
        return built

    def keep(self, key, sig, route):
        """After a slow call took ``route``: make its ``Ready`` for the calls with ``key``."""
        if not self.direct or RUNNING[0] or getattr(route, "route", None) != "generated" \
                or specialize.current() != "auto":
            return None
        if route.fn is not self.fn and route.fn != self.fn:
            return None
        memo = cache.memo_of(self.fn, route.request)
        if memo is None or memo.value is not route:
            return None
        if len(self.fast) >= _FAST_SIZE:
            self.fast.clear()
            self._cool()
        ready = self.fast[key] = Ready(self, sig, route, memo)
        return ready


_SITES = {}


def _cool_all():
    for s in list(_SITES.values()):
        s._cool()


cache.on_forget.append(_cool_all)     # a rule changed: every runner is stale


def site(fn, request):
    """The ``Site`` of ``(fn, request)``: shared by every wrapper made for them."""
    try:
        hit = _SITES.get((fn, request))
    except TypeError:       # an unhashable callable
        return Site(fn, request)
    if hit is None:
        if len(_SITES) >= _SITES_SIZE:
            cache.drop_oldest(_SITES)
        hit = _SITES[(fn, request)] = Site(fn, request)
    return hit


# ---------------------------------------------------------------------------
# The fast path's shortcuts: the common cases of what the slow path calls, same results
# ---------------------------------------------------------------------------

_ndarray = numpy.ndarray
_float64 = numpy.float64
_PLAIN = frozenset({float, int, complex, numpy.float64, numpy.float32, numpy.complex128,
                    numpy.complex64})


def plain_value(value):
    """A value ``routes.check_output`` accepts without a look: a number, an array of numbers."""
    t = type(value)
    return t in _PLAIN or (t is _ndarray and value.dtype.kind in "iufc")


def match(d, x):
    """``runtime.match(d, x)`` (outside a trace), its common cases first: a float for a
    float (or a NumPy float64), an array of ``x``'s shape and dtype, writeable, for an array, a tuple or list
    of them for a tuple or list."""
    tx = type(x)
    if tx is float or tx is _float64:   # (a float64 value's tangent: a float, as runtime's)
        td = type(d)
        if td is float:
            return d
        if td is _float64:
            return float(d)
    elif tx is _ndarray:
        if type(d) is _ndarray and d.dtype is x.dtype and d.shape == x.shape \
                and d.flags.writeable:
            return d
    elif (tx is tuple or tx is list) and (type(d) is list or type(d) is tuple) \
            and len(d) == len(x):
        # a plain tuple or list (not a namedtuple): its items matched one by one
        items = [match(a, b) for a, b in zip(d, x)]
        return tuple(items) if tx is tuple else items
    return rt.match(d, x)


# ---------------------------------------------------------------------------
# Runners: the fast path of grad and value_and_grad compiled for one Ready
# ---------------------------------------------------------------------------

MISS = object()     # what a runner returns when the slow path must run instead
_RUNNERS_SIZE = 64  # keys per table of runners (one per shape of a lone array)

# the types whose values' abstract value the type alone decides (``signature.abstract_of``)
BY_TYPE = frozenset({float, int, complex, bool, numpy.float64, numpy.float32,
                      numpy.complex128, numpy.complex64})


def runner_key(args):
    """The key of a call without keywords in a table of ``Site.runners``: for a lone
    argument, the type of a number or the dtype and shape of an array (which decide its
    signature), else the signature."""
    if len(args) == 1:
        a = args[0]
        t = type(a)
        if t is _ndarray:
            return (a.dtype, a.shape)
        if t in BY_TYPE:
            return t
    return call_signature(args)


def _no_runner(args):
    return MISS


def install(site, hot, args, operator, single, names):
    """After a call of ``operator`` without keywords: compile the runner of the ``Ready``
    it leaves for ``args`` (if any) into ``hot`` (``Site.runners``).  ``names``: the
    operator's words on an
    error (``REFUSE`` for an ``OutputWithoutDerivativeError``, ``SAY`` the error for a
    ``NonScalarOutputError``, ``CHECK`` an output)."""
    table, last = hot
    key = runner_key(args)
    table.pop(key, None)
    last[0] = _no_runner
    ready = site.fast.get(call_signature(args))
    if ready is None or ready.recheck or not ready.valid():
        return
    run = ready.runs.get((operator, single), MISS)
    if run is MISS:     # one runner per Ready, under the key of each shape it served
        run = ready.runs[(operator, single)] = make_runner(ready, operator, single, names)
    if run is not None:
        if len(table) >= _RUNNERS_SIZE:
            table.clear()
        table[key] = run
        if run.s2s_keyed:
            last[0] = run


def make_runner(ready, operator, single, names):
    """One compiled function of a call's positional arguments that does what the fast path
    (``api._fast``, ``Ready.valid``) does for ``ready``, decisions that depend only on the
    ``Ready`` taken once: its checks inline, the output made into what ``operator``
    (``grad``, ``value_and_grad``, ``jvp``) returns.  It returns ``MISS`` wherever
    ``valid()`` would be false (the slow path then runs), but for ``cache.generation``:
    ``cache.forget`` empties every table of runners instead (``cache.on_forget``).  It
    first checks that the arguments have the ``Ready``'s signature (``_key_check``;
    ``run.s2s_keyed``), where a few comparisons decide it.  ``None`` where the memo's
    checks cannot be compiled.  A ``jvp`` runner takes the arguments and the tangent last."""
    env = dict(names)
    preamble = _preamble(ready, env)
    if preamble is None:
        return None
    checks, key, params = preamble
    if operator == "jvp":
        lines = _jvp_lines(ready, env, checks, params, single)
        run = None
    else:
        lines = _grad_lines(ready, operator, checks, params, single)
        if operator == "grad" and not ready.valued and not ready.lead \
                and len(ready.wrt) == 1 and ready.sig[ready.wrt[0]].kind == "float":
            run = _inlined(ready, env, checks, ready.wrt[0], single)
        else:
            run = None
    if run is None:
        namespace = env
        exec(compile("\n".join(lines) + "\n", "<s2sgrad call path>", "exec"), namespace)
        run = namespace["run"]
    run.s2s_keyed = key is not None
    return run


def _preamble(ready, env):
    """``(checks, key, params)``: a runner's first lines (what ``Ready.valid`` checks, the
    signature first), the signature test (or None) and the entry's positional arguments;
    the objects they name added to ``env``.  None where the memo's checks cannot be
    compiled."""
    # (``fn`` is the root itself in the runner: that check always holds)
    memo_checks = [(p, o) for p, o in ready.memo.checks
                   if callable(p) or len(p) or o is not ready.root]
    guard = cache.guard_text(memo_checks, env)
    if guard is None:
        return None
    site, sig = ready.site, ready.sig
    env.update(RUNNING=RUNNING, linecache=linecache,
               FILENAME=ready.filename, POLICY=_policy, FALLBACK=ready.fallback,
               OTHERS=_other_policies,
               fn=ready.root, ENTRY=ready.entry, MISS=MISS, MATCH=match, PLAIN=_PLAIN,
               NDARRAY=_ndarray, TOUCH=site.touch, SIG=sig, NOTE=_note,
               NonScalarOutputError=NonScalarOutputError,
               OutputWithoutDerivativeError=OutputWithoutDerivativeError)
    params = [f"LEAD{i}" for i in range(len(ready.lead))] \
        + [f"args[{i}]" for i in range(len(sig))]
    env.update({f"LEAD{i}": v for i, v in enumerate(ready.lead)})
    # the policy in force must be the operator's: while no other than "auto" is in force
    # anywhere, "auto" is, without reading it
    policy = "(OTHERS[0] and POLICY() != FALLBACK)" if ready.fallback == "auto" \
        else "POLICY() != FALLBACK"
    key = _key_check(sig, env)
    checks = [
        f"    if {key or 'False'}:",
        "        return MISS",
        f"    if RUNNING[0] or {policy} \\",
        "            or FILENAME not in linecache.cache:",
        "        return MISS",
        "    try:",
        f"        if not ({guard}):",
        "            return MISS",
        "    except Exception:",
        "        return MISS",
    ]
    if len(site.specs) > 1:
        checks.append("    TOUCH(SIG)")
    return checks, key, params


def _grad_lines(ready, operator, checks, params, single):
    """The lines of a ``grad`` or ``value_and_grad`` runner."""
    sig, wrt = ready.sig, ready.wrt
    lines = ["def run(args):"] + checks + [
        "    try:",
        f"        out = ENTRY({', '.join(params)})"] + _HANDLERS
    if ready.valued:
        lines += ["    value = out[0]",
                  "    t = type(value)",
                  "    if t not in PLAIN and not (t is NDARRAY and value.dtype.kind in 'iufc'):",
                  "        CHECK(value)"]
        outs = [f"out[{i + 1}]" for i in range(len(wrt))]
    else:
        outs = ["out"]
    grads = []
    for i, (g, w) in enumerate(zip(outs, wrt)):
        if sig[w].kind == "float":      # a float for a float: nothing to match
            lines.append(f"    g{i} = {g} if type({g}) is float else MATCH({g}, args[{w}])")
        elif sig[w].kind == "array":    # (``match``'s array case, inline)
            lines += [f"    g{i} = {g}",
                      f"    x = args[{w}]",
                      f"    if not (type(g{i}) is NDARRAY and g{i}.dtype is x.dtype "
                      f"and g{i}.shape == x.shape",
                      f"            and g{i}.flags.writeable):",
                      f"        g{i} = MATCH(g{i}, x)"]
        else:
            lines.append(f"    g{i} = MATCH({g}, args[{w}])")
        grads.append(f"g{i}")
    grads = grads[0] if single else "(" + ", ".join(grads) + ",)"
    lines.append(f"    return {grads}" if operator == "grad" else f"    return value, {grads}")
    return lines


def _jvp_lines(ready, env, checks, params, single):
    """The lines of a ``jvp`` runner: ``run(args)`` with the tangent (or the tuple of
    tangents) last in ``args``, as ``operators._fast_jvp`` and the wrapper do."""
    names = ready.tangent_names
    env["TANGENT_NAMES"] = names
    if single:
        passed = [f"{names[0]}=tangent"]
        unpack = []
    else:
        passed = [f"{n}=tangents[{i}]" for i, n in enumerate(names)]
        unpack = ["    tangents = tuple(tangent)",
                  f"    if len(tangents) != {len(names)}:",
                  "        return MISS"]
    if any(not n.isidentifier() or n in ("args", "tangent", "tangents") for n in names):
        passed = ["**dict(zip(TANGENT_NAMES, " + ("(tangent,)" if single else "tangents")
                  + "))"]
    return ["def run(args):",
            "    if not args:",
            "        return MISS",
            "    tangent = args[-1]",
            "    args = args[:-1]"] + checks + unpack + [
        "    try:",
        f"        value, t_out = ENTRY({', '.join(params + passed)})",
        "    except Exception as exc:",
        "        NOTE(exc)",
        "        if isinstance(exc, OutputWithoutDerivativeError):",
        "            REFUSE(exc)",
        "        raise",
        "    t = type(value)",
        "    if t not in PLAIN and not (t is NDARRAY and value.dtype.kind in 'iufc'):",
        "        CHECK(value)",
        "    return value, (None if value is None else MATCH(t_out, value))"]


# What a runner does with an exception from the generated code: as ``api._fast`` does.
_HANDLERS = [
    "    except NonScalarOutputError as exc:",
    "        NOTE(exc)",
    "        raise SAY(exc) from None",
    "    except OutputWithoutDerivativeError as exc:",
    "        REFUSE(exc)",
    "    except Exception as exc:",
    "        NOTE(exc)",
    "        raise",
]

_TYPES = {"float": float, "int": int, "bool": bool, "complex": complex}


def _key_check(sig, env):
    """The text of a test that the arguments ``args`` do *not* have signature ``sig``
    (``signature.abstract_of``, equivalently), the objects it names added to ``env``;
    ``None`` where some argument's abstract value is not decided by a few comparisons (a
    container, ``?``)."""
    terms = [f"len(args) != {len(sig)}"]
    for i, a in enumerate(sig):
        v = f"args[{i}]"
        if a.kind in _TYPES:
            env[f"T{i}"] = _TYPES[a.kind]
            terms.append(f"type({v}) is not T{i}")
        elif a.kind == "scalar" and a.dtype is not None:
            env[f"T{i}"] = numpy.dtype(a.dtype).type
            terms.append(f"type({v}) is not T{i}")
        elif a.kind == "array" and a.dtype is not None and a.dims is not None:
            env[f"D{i}"] = numpy.dtype(a.dtype)
            dims = " and ".join(f"s[{k}] {'==' if d is ONE else '!='} 1"
                                for k, d in enumerate(a.dims))
            terms.append(f"not (type({v}) is NDARRAY and ({v}.dtype is D{i} or "
                         f"{v}.dtype.name == {a.dtype!r}) and len(s := {v}.shape) == "
                         f"{len(a.dims)}{' and ' + dims if dims else ''})")
        else:
            return None
    return " or ".join(terms)


def _inlined(ready, env, checks, w, single):
    """The runner of a gradient of one float in forward mode (``make_runner``) with the
    generated entry's body inline: one call less, what a small scalar gradient notices.

    The function is the entry's own definition, read again from the generated text and
    compiled under the generated file's name and lines (tracebacks, ``errorsite`` and
    debuggers see the generated code), its parameters bound from the call's arguments
    after ``checks`` (the runner's first lines), each ``return`` matching its float to the
    argument as the runner does.  ``None`` when the entry is not a plain function of its
    positional parameters, or uses one of the runner's names."""
    try:
        tree = ast.parse(ready.built.source)
    except SyntaxError:
        return None
    name = ready.entry.__name__
    fdef = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name),
                None)
    if fdef is None:
        return None
    a = fdef.args
    if a.posonlyargs or a.vararg or a.kwonlyargs or a.kwarg or a.defaults \
            or len(a.args) != len(ready.sig):
        return None
    used = {n.id for n in ast.walk(fdef) if isinstance(n, ast.Name)} | {p.arg for p in a.args}
    # (the names the runner's own lines read or bind)
    mine = set(env) | {"args", "s", "exc", "type", "float", "len", "Exception"}
    if used & mine or any(u.startswith("_s2s_") for u in used) or any(
            isinstance(n, (ast.Global, ast.Nonlocal, ast.Yield, ast.YieldFrom, ast.Await))
            for n in ast.walk(fdef)):
        return None
    params = [p.arg for p in a.args]
    frame = ast.parse("\n".join(
        ["def _(args):"] + checks
        + [f"    {p} = args[{i}]" for i, p in enumerate(params)]
        + [f"    _s2s_x = {params[w]}",
           "    try:",
           "        pass"] + _HANDLERS)).body[0]
    def load(id_):
        return ast.Name(id=id_, ctx=ast.Load())

    class Returns(ast.NodeTransformer):
        def visit_Return(self, node):
            # return _s2s_o if type(_s2s_o := <value>) is float else MATCH(_s2s_o, _s2s_x)
            value = node.value or ast.Constant(value=None)
            named = ast.NamedExpr(target=ast.Name(id="_s2s_o", ctx=ast.Store()), value=value)
            test = ast.Compare(left=ast.Call(func=load("type"), args=[named], keywords=[]),
                               ops=[ast.Is()], comparators=[load("float")])
            out = ast.IfExp(test=test, body=load("_s2s_o"),
                            orelse=ast.Call(func=load("MATCH"), keywords=[],
                                            args=[load("_s2s_o"), load("_s2s_x")]))
            if not single:
                out = ast.Tuple(elts=[out], ctx=ast.Load())
            return ast.copy_location(ast.Return(value=out), node)

        def visit_FunctionDef(self, node):
            return node         # a nested function's returns are its own

        visit_AsyncFunctionDef = visit_Lambda = visit_ClassDef = visit_FunctionDef

    body = [Returns().visit(s) for s in fdef.body]
    for n in ast.walk(frame):
        if hasattr(n, "lineno"):
            n.lineno = n.end_lineno = fdef.lineno
            n.col_offset = n.end_col_offset = 0
    frame.body[-1].body = body
    frame.name = name
    module = ast.Module(body=[frame], type_ignores=[])
    ast.fix_missing_locations(module)
    namespace = dict(ready.built.namespace)
    namespace.update(env)
    try:
        exec(compile(module, ready.filename, "exec", dont_inherit=True), namespace)
    except SyntaxError:
        return None
    return namespace[name]
