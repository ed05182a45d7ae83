"""``check_grads``: s2sgrad's derivatives against central finite differences, to any order.

    s2sgrad.check_grads(f, wrt, *args, modes=("fwd", "rev"), order=2)

Order 1 checks the derivatives s2sgrad makes for ``f`` itself, through the
operators a user calls (so generated code, or the fallback where it is
chosen): in reverse mode the vector-Jacobian product for a random cotangent,
compared element by element with finite differences of ``<u, f(x)>``; in
forward mode ``s2sgrad.jvp`` along a random tangent, compared element by
element of the output with the finite-difference directional derivative.
Each higher order checks the derivatives of the previous order's derivative
functions in every mode, as JAX's ``check_grads`` does (reverse of reverse,
forward of reverse, ...); those derivatives of derivatives are taken by
tracing through the first-order code.

On disagreement it raises ``GradientCheckError`` (an ``AssertionError``) whose
message lists, for each failed check, the argument and element (or output
element), s2sgrad's value, the finite-difference value and the error.
Otherwise it returns a ``CheckReport`` of what was checked.
"""

import numbers

import numpy as np

__all__ = ["check_grads", "GradientCheckError", "CheckReport"]


class GradientCheckError(AssertionError):
    """Derivatives disagree with finite differences; the message says where."""


class CheckReport:
    """What ``check_grads`` checked (``checked``: "rev", "fwd of rev", ...)."""

    def __init__(self, name):
        self.name = name
        self.checked = []       # labels: "rev", "fwd", "rev of rev", ...

    def __repr__(self):
        return f"<check_grads {self.name}: {', '.join(self.checked) or 'nothing'} agree>"


# ---------------------------------------------------------------------------
# Trees of floats and arrays
# ---------------------------------------------------------------------------

def _leaves(x):
    if isinstance(x, dict):
        return [leaf for k in x for leaf in _leaves(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in _leaves(v)]
    if x is None or isinstance(x, (bool, str)):
        return []
    return [x]


def _paths(x, prefix=()):
    if isinstance(x, dict):
        return [p for k in x for p in _paths(x[k], prefix + (k,))]
    if isinstance(x, (list, tuple)):
        return [p for i, v in enumerate(x) for p in _paths(v, prefix + (i,))]
    if x is None or isinstance(x, (bool, str)):
        return []
    return [prefix]


def _rebuild(x, it):
    if isinstance(x, dict):
        return {k: _rebuild(v, it) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        items = [_rebuild(v, it) for v in x]
        if hasattr(type(x), "_fields"):
            return type(x)(*items)
        return type(x)(items)
    if x is None or isinstance(x, (bool, str)):
        return x
    return next(it)


def _map(fn, *trees):
    first = trees[0]
    leaves = [_leaves(t) for t in trees]
    return _rebuild(first, iter([fn(*ls) for ls in zip(*leaves)]))


def _random_like(x, rng):
    def one(leaf):
        if isinstance(leaf, numbers.Number) and not isinstance(leaf, np.ndarray):
            return float(rng.standard_normal())
        return rng.standard_normal(np.shape(leaf))
    return _map(one, x)


def _inner(a, b):
    return float(sum(np.sum(np.real(np.asarray(u) * np.asarray(v)))
                     for u, v in zip(_leaves(a), _leaves(b))))


def _axpy(alpha, v, x):
    """``x + alpha * v``, keeping Python floats as floats."""
    def one(vl, xl):
        out = xl + alpha * vl
        return float(out) if isinstance(xl, float) else out
    return _map(one, v, x)


def _perturbed(x, k, h):
    """``x`` with its ``k``-th scalar (over all leaves, in order) moved by ``h``."""
    leaves = _leaves(x)
    out = []
    for leaf in leaves:
        size = int(np.size(leaf))
        if 0 <= k < size:
            if np.ndim(leaf) == 0 and not isinstance(leaf, np.ndarray):
                out.append(float(leaf) + h)
            else:
                a = np.array(leaf, dtype=np.result_type(leaf, float), copy=True)
                a.flat[k] += h
                out.append(a)
        else:
            out.append(leaf)
        k -= size
    return _rebuild(x, iter(out))


def _flat(x):
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=float)) for leaf in _leaves(x)]) \
        if _leaves(x) else np.zeros(0)


def _element_names(x, arg_names):
    """A readable name for each scalar of the tuple of arguments ``x``."""
    names = []
    for a, (name, value) in enumerate(zip(arg_names, x)):
        for path, leaf in zip(_paths(value), _leaves(value)):
            base = name + "".join(f"[{p!r}]" for p in path)
            shape = np.shape(leaf)
            if shape == ():
                names.append(base)
            else:
                names.extend(f"{base}[{', '.join(map(str, idx))}]" for idx in np.ndindex(shape))
    return names


def _output_names(out):
    names = []
    for path, leaf in zip(_paths(out), _leaves(out)):
        base = "output" + "".join(f"[{p!r}]" for p in path)
        shape = np.shape(leaf)
        if shape == ():
            names.append(base)
        else:
            names.extend(f"{base}[{', '.join(map(str, idx))}]" for idx in np.ndindex(shape))
    return names


# ---------------------------------------------------------------------------
# Derivative functions of one level
# ---------------------------------------------------------------------------

class _Level:
    """A function of the differentiated arguments (a tuple), and how to differentiate it."""

    def __init__(self, label, fn, first=None):
        self.label = label
        self.fn = fn            # xs (tuple) -> output tree
        self.first = first      # (f, wrt, args, fallback) for the user's own function

    def vjp(self, xs, u):
        """The cotangents of ``xs`` for output cotangent ``u``."""
        if self.first is not None:
            from . import api
            from .driver import routes
            f, wrt, args, fallback = self.first
            full = _substitute(args, wrt, xs)
            route = api._compiled(f, wrt, fallback)
            api._check_args(f, route, full, {})
            with routes.policy(fallback):
                out = routes.call_with_seed(route, full, {}, u)
            return tuple(routes.match(g, x) for g, x in zip(out[1:], xs))
        from .fallback import trace_vjp
        return tuple(trace_vjp(lambda *a: self.fn(a), xs, {}, tuple(range(len(xs))))[1](u))

    def jvp(self, xs, v):
        """The output tangent for argument tangents ``v``."""
        if self.first is not None:
            import s2sgrad
            f, wrt, args, fallback = self.first
            full = _substitute(args, wrt, xs)
            tangent = v[0] if len(wrt) == 1 else tuple(v)
            return s2sgrad.jvp(f, wrt[0] if len(wrt) == 1 else wrt,
                               fallback=fallback)(*full, tangent)[1]
        from .fallback import trace_jvp
        return trace_jvp(lambda *a: self.fn(a), xs, {}, tuple(range(len(xs))), tuple(v))[1]


def _substitute(args, wrt, xs):
    full = list(args)
    for w, x in zip(wrt, xs):
        full[w] = x
    return tuple(full)


# ---------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------

def check_grads(f, wrt, *args, modes=("fwd", "rev"), order=2, rtol=1e-5, atol=1e-6, eps=1e-6,
                max_elements=64, fallback="auto", seed=0):
    """Compare s2sgrad's derivatives of ``f`` with central finite differences, up to ``order``.

    ``wrt`` is a position or name, or a tuple of them, as for ``grad``; ``modes`` any of
    ``"rev"`` and ``"fwd"``.  A derivative agrees when ``|s2sgrad - fd| <=
    atol + rtol * |fd|`` for every element.  Arguments with more than
    ``max_elements`` scalars in all are checked along one random direction
    instead of element by element.  ``fallback`` is passed to the operators
    (``"never"`` checks generated code only).  Raises ``GradientCheckError``
    with a report of where derivatives disagree; returns a ``CheckReport``.
    """
    from .wrt import normalize
    wrt_t, _ = normalize(f, wrt, "check_grads")
    for m in modes:
        if m not in ("fwd", "rev"):
            raise ValueError(f"modes: {m!r} is not 'fwd' or 'rev'")
    if order < 1:
        raise ValueError("order must be at least 1")
    from .sites import describe
    name = describe(f)
    names = _arg_names(f, wrt_t)
    rng = np.random.default_rng(seed)
    xs = tuple(args[w] for w in wrt_t)
    top = _Level("", lambda x: f(*_substitute(args, wrt_t, x)), (f, wrt_t, args, fallback))
    report = CheckReport(name)
    failures = []
    opts = dict(rtol=rtol, atol=atol, eps=eps, max_elements=max_elements)
    _check_level(top, xs, names, modes, order, rng, report, failures, opts)
    if failures:
        raise GradientCheckError(
            f"check_grads({name}): derivatives disagree with central finite differences "
            f"(rtol={rtol}, atol={atol}, eps={eps}):\n" + "\n".join(failures))
    return report


def _arg_names(f, wrt):
    import inspect
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[w] if w < len(params) else f"argument {w}" for w in wrt]


def _check_level(level, xs, names, modes, order, rng, report, failures, opts):
    from .errors import S2SGradError
    for mode in modes:
        label = mode if not level.label else f"{mode} of {level.label}"
        check = _check_rev if mode == "rev" else _check_fwd
        try:
            derivative = check(level, xs, names, label, rng, failures, opts)
        except S2SGradError as exc:
            if not level.label:
                raise               # the user's own function: its error, as is
            failures.append(f"  {label}: s2sgrad could not compute it: {exc}")
            continue
        report.checked.append(label)
        if order > 1:
            _check_level(derivative, xs, names, modes, order - 1, rng, report, failures, opts)


def _agree(a, b, opts):
    return np.abs(a - b) <= opts["atol"] + opts["rtol"] * np.abs(b)


def _check_rev(level, xs, names, label, rng, failures, opts):
    out = level.fn(xs)
    u = _random_like(out, rng)
    cts = level.vjp(xs, u)
    got = _flat(cts)
    n = got.size
    eps = opts["eps"]

    def s(x):
        return _inner(u, level.fn(x))

    if n <= opts["max_elements"]:
        fd = np.array([(s(_perturbed(xs, k, eps)) - s(_perturbed(xs, k, -eps))) / (2 * eps)
                       for k in range(n)])
        bad = np.nonzero(~_agree(got, fd, opts))[0]
        if bad.size:
            elements = _element_names(xs, names)
            lines = [f"  {label} (order {label.count(' of ') + 1}): vector-Jacobian product "
                     f"for a random output cotangent, {bad.size} of {n} elements disagree:"]
            for k in bad[:10]:
                lines.append(f"    d/d {elements[k]}: s2sgrad {got[k]:.10g}, finite differences "
                             f"{fd[k]:.10g} (error {abs(got[k] - fd[k]):.3g})")
            failures.extend(lines)
    else:
        v = _random_like(xs, rng)
        fd = (s(_axpy(eps, v, xs)) - s(_axpy(-eps, v, xs))) / (2 * eps)
        along = _inner(cts, v)
        if not _agree(along, fd, opts):
            failures.append(f"  {label}: along a random direction of the {n} argument scalars, "
                            f"s2sgrad {along:.10g}, finite differences {fd:.10g}")
    return _Level(label, lambda x: level.vjp(x, u))


def _check_fwd(level, xs, names, label, rng, failures, opts):
    v = _random_like(xs, rng)
    t = level.jvp(xs, v)
    if t is None:
        return None
    eps = opts["eps"]
    plus, minus = level.fn(_axpy(eps, v, xs)), level.fn(_axpy(-eps, v, xs))
    fd = (_flat(plus) - _flat(minus)) / (2 * eps)
    got = _flat(t)
    if got.shape != fd.shape:
        failures.append(f"  {label}: the tangent has {got.size} elements, the output {fd.size}")
        return _Level(label, lambda x: level.jvp(x, v))
    bad = np.nonzero(~_agree(got, fd, opts))[0]
    if bad.size:
        outs = _output_names(level.fn(xs))
        lines = [f"  {label} (order {label.count(' of ') + 1}): Jacobian-vector product along "
                 f"a random tangent, {bad.size} of {got.size} output elements disagree:"]
        for k in bad[:10]:
            lines.append(f"    {outs[k]}: s2sgrad {got[k]:.10g}, finite differences "
                         f"{fd[k]:.10g} (error {abs(got[k] - fd[k]):.3g})")
        failures.extend(lines)
    return _Level(label, lambda x: level.jvp(x, v))
