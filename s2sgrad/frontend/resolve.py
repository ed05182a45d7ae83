"""What each call in a user function calls, decided at transform time.

A call's target is classified once, from the function's globals and closure:
a primitive with derivative rules, a non-differentiable function, another user
function (transformed too), an array method on a local value, a list or dict
method, or a target known only at run time.
"""

import functools
import inspect
import types

import gast

from ..rules import registry
from ..syntax import walk as _walk

__all__ = ["Callee", "Resolver", "LIBRARY_ROOTS", "ARRAY_WRITING_METHODS", "ARRAY_WRITING_FUNCTIONS"]

# Packages whose Python functions are primitives or errors, never transformed.
LIBRARY_ROOTS = {"numpy", "scipy", "cupy", "cupyx", "array_api_strict", "s2sgrad", "jax",
                 "autograd", "builtins", "math", "cmath", "functools", "operator"}

# Array methods and NumPy functions that write into their array (or first argument): the
# ones normalize does not rewrite as an assignment are marked (and refused where they would
# drop a derivative); a recursion that calls one is not pure (frontend/recursion.py).
ARRAY_WRITING_METHODS = {"put", "itemset", "resize", "partition", "setfield"}
ARRAY_WRITING_FUNCTIONS = {"put", "place", "putmask", "shuffle", "copyto", "fill_diagonal",
                           "put_along_axis", "at"}

CONTAINER_METHODS = {"append", "extend", "insert", "pop", "items", "keys", "values", "get",
                     "update", "index", "count", "setdefault"}


class Callee:
    """The target of one call site."""

    def __deepcopy__(self, memo):
        return self  # an annotation shared by copies of the AST, never copied

    def __init__(self, kind, name, prim=None, namespace=None, fn=None, self_value=None,
                 receiver=None, packs=False, node=None):
        self.kind = kind            # see Resolver.callee
        self.name = name            # how the user wrote it, for messages
        self.prim = prim            # rules.registry.Primitive
        self.namespace = namespace  # the array namespace module of an array primitive
        self.fn = fn                # user function object
        self.self_value = self_value  # a bound instance (a global object's method)
        self.receiver = receiver    # AST of the receiver of a method call
        self.packs = packs          # method packs extra positional args into a tuple
        self.node = node            # nested FunctionDef for a lifted local function

    def __repr__(self):
        return f"<callee {self.kind} {self.name}>"


def _dotted(node):
    parts = []
    while isinstance(node, gast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, gast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts)), node
    return None, node


def _module_root(obj):
    mod = getattr(obj, "__module__", None)
    if mod is None and isinstance(obj, types.FunctionType):
        return ""      # made by exec with globals that have no __name__: the user's code
    if not isinstance(mod, str):
        cls = getattr(obj, "__class__", None)
        mod = getattr(cls, "__module__", "") or ""
    return mod.split(".")[0]


class Resolver:
    """Classifies the calls and names of one function.

    ``local_names`` are the names the function assigns (its locals); ``lifted``
    maps names of functions defined inside it to their FunctionDef nodes.
    """

    def __init__(self, fsrc, local_names, lifted=None, policy=None):
        self.fsrc = fsrc
        self.local_names = set(local_names)
        self.lifted = dict(lifted or {})
        self.policy = policy if policy is not None else TransformEverything()
        # ``(name, (attr, ...))`` of each attribute chain read through an object of the
        # user's (``cfg.act``): what the generated code was built for, which the cache
        # checks before it serves that code again (libraries' attributes are not watched)
        self.reads = set()

    # -- values -----------------------------------------------------------

    def static_value(self, node):
        """``(True, value)`` when ``node`` names a global/closure object (through attributes)."""
        path, base = _dotted(node)
        if path is None or base.id in self.local_names:
            return False, None
        kind, value = self.fsrc.resolve(base.id)
        if kind is None:
            return False, None
        attrs = tuple(path.split(".")[1:])
        root = value.__name__.split(".")[0] if isinstance(value, types.ModuleType) \
            else _module_root(value)
        if attrs and root not in LIBRARY_ROOTS:
            self.reads.add((base.id, attrs))
        for attr in attrs:
            if not isinstance(value, (types.ModuleType, type)) and attr not in dir(value):
                return False, None
            try:
                value = getattr(value, attr)
            except Exception:
                return False, None
        return True, value

    # -- calls --------------------------------------------------------------

    def callee(self, call):
        """Classify ``call.func``.

        Kinds: ``primitive`` (has rules), ``nondiff`` (output carries no
        derivative), ``user`` (a Python function to transform), ``lifted`` (a
        def inside this function), ``method`` (an array method on a value),
        ``container`` (a list/dict method), ``dynamic`` (known at run time
        only) and ``norule`` (a library function without rules).
        """
        func = call.func
        name = _describe(func)
        if isinstance(func, gast.Name) and func.id in self.lifted:
            return Callee("lifted", func.id, node=self.lifted[func.id])
        if isinstance(func, gast.Name) and func.id in self.local_names:
            if self.fsrc.has_self and func.id == self._self_name() \
                    and self._self_class() is not None:
                method = getattr(self._self_class(), "__call__", None)
                if isinstance(method, types.FunctionType) \
                        and _module_root(method) not in LIBRARY_ROOTS:
                    return _user(self.policy, name, fn=method, receiver=func)
            return Callee("dynamic", name)
        ok, value = self.static_value(func)
        if ok:
            callee = self.classify(value, name, call)
            if callee.kind == "user" and callee.self_value is not None \
                    and isinstance(func, gast.Attribute) and isinstance(func.value, gast.Attribute):
                # ``model.spring.energy(x)``: the generated code reads the object through the
                # same attributes (it can import ``model``, not the object inside it)
                callee.receiver = func.value
                callee.guard = self._guard(callee.self_value, func.attr, call)
            return callee
        if isinstance(func, gast.Attribute):
            # A method of a local value (or of an expression's value).
            receiver = func.value
            if self.fsrc.has_self and isinstance(receiver, gast.Name) \
                    and receiver.id == self._self_name() and self._self_class() is not None:
                attr = getattr(self._self_class(), func.attr, None)
                if isinstance(attr, types.FunctionType) and _module_root(attr) not in LIBRARY_ROOTS:
                    return _user(self.policy, name, fn=attr, receiver=receiver)
            known = self._object_method(func, call)
            if known is not None:
                return known
            hit = registry.method_primitive(func.attr)
            if hit is not None:
                prim, packs = hit
                kind = "nondiff" if prim.nondiff else "method"
                return Callee(kind, name, prim=prim, receiver=receiver, packs=packs)
            if func.attr in CONTAINER_METHODS:
                return Callee("container", name, receiver=receiver)
            return Callee("dynamic", name, receiver=receiver)
        return Callee("dynamic", name)

    def _self_name(self):
        args = self.fsrc.node.args.args
        return args[0].id if args else None

    def _self_class(self):
        """The class of the bound ``self`` (of an instance, or known without one)."""
        if self.fsrc.self_value is not None:
            return type(self.fsrc.self_value)
        return getattr(self.fsrc, "self_class", None)

    # -- methods of objects whose class is known at transform time -------------

    def _object_method(self, func, call):
        """A user method called on an object whose class is known here (``s.energy(x)``
        where ``s = Spring(...)``, ``s`` a parameter whose default is a ``Spring``, or
        ``self.spring``): a user function the generated module contains, called directly.

        Where the class is known only from one object (a default, an attribute), other
        objects can reach the same call: the generated code checks the method is the same
        (``_rt.check_method``) and stops with an error otherwise, never a wrong derivative.
        """
        found = self._receiver_class(func.value)
        if found is None:
            return None
        cls, instance, certain = found
        method = _plain_method(cls, func.attr)
        if method is None:
            return None
        callee = _user(self.policy, _describe(func), fn=method, receiver=func.value)
        if callee.kind != "user":
            return callee
        callee.self_value = instance
        callee.self_class = cls
        callee.guard = None if certain else self._guard(instance if instance is not None
                                                        else cls, func.attr, call, cls)
        return callee

    def _guard(self, obj, attr, call, cls=None):
        cls = cls if cls is not None else type(obj)
        return cls, attr, self.fsrc.where(call)

    def _receiver_class(self, node):
        """``(class, an instance or None, certain)`` of the object ``node`` names, or None."""
        if isinstance(node, gast.Name):
            if node.id in self._params():
                return self._param_class(node.id)
            if node.id not in self.local_names:
                return None
            value = self._single_assignments().get(node.id)
            if value is None:
                return None
            if isinstance(value, gast.Call):
                ok, cls = self.static_value(value.func)
                if ok and _user_class(cls):
                    return cls, None, True       # ``s = Spring(...)``: exactly a Spring
                return None
            ok, obj = self.static_value(value)   # ``s = spring``: the global object
            if ok and _user_class(type(obj)):
                return type(obj), obj, False
            return None
        if isinstance(node, gast.Attribute):
            path, base = _dotted(node)
            if path is None or not self.fsrc.has_self or base.id != self._self_name() \
                    or self.fsrc.self_value is None:
                return None
            obj = self.fsrc.self_value          # ``self.spring``: as this instance holds it
            for attr in path.split(".")[1:]:
                try:
                    obj = inspect.getattr_static(obj, attr)
                except AttributeError:
                    return None
                if isinstance(obj, (property, types.FunctionType, staticmethod, classmethod)) \
                        or hasattr(type(obj), "__get__"):
                    return None
            if _user_class(type(obj)):
                return type(obj), obj, False
        return None

    def _params(self):
        args = self.fsrc.node.args
        return [a.id for a in list(getattr(args, "posonlyargs", []) or []) + list(args.args)
                + list(args.kwonlyargs)]

    def _param_class(self, pname):
        """A parameter's class from its default object or its annotation (checked at run time)."""
        fn = self.fsrc.fn
        if pname == self._self_name() and self.fsrc.has_self:
            return None
        if fn is not None:
            defaults = {}
            code_args = self._params()
            positional = [a.id for a in list(getattr(self.fsrc.node.args, "posonlyargs", [])
                                             or []) + list(self.fsrc.node.args.args)]
            for p, v in zip(positional[len(positional) - len(fn.__defaults__ or ()):],
                            fn.__defaults__ or ()):
                defaults[p] = v
            defaults.update(fn.__kwdefaults__ or {})
            if pname in defaults and pname in code_args and _user_class(type(defaults[pname])):
                return type(defaults[pname]), defaults[pname], False
        for a in list(self.fsrc.node.args.args) + list(self.fsrc.node.args.kwonlyargs):
            if a.id == pname and a.annotation is not None:
                saved, self.local_names = self.local_names, set()
                try:
                    ok, cls = self.static_value(a.annotation)
                finally:
                    self.local_names = saved
                if ok and isinstance(cls, type) and _user_class(cls):
                    return cls, None, False
        return None

    def _single_assignments(self):
        """Locals assigned exactly once, by ``v = value`` (``{name: value node}``)."""
        if getattr(self, "_single", None) is None:
            stores, values, declared = {}, {}, set()
            for n in _walk(self.fsrc.node):
                if isinstance(n, gast.Name) and isinstance(n.ctx, (gast.Store, gast.Del)):
                    stores[n.id] = stores.get(n.id, 0) + 1
                elif isinstance(n, (gast.Global, gast.Nonlocal)):
                    declared.update(n.names)
                elif isinstance(n, gast.Assign) and len(n.targets) == 1 \
                        and isinstance(n.targets[0], gast.Name):
                    values[n.targets[0].id] = n.value
            self._single = {v: node for v, node in values.items()
                            if stores.get(v) == 1 and v not in declared}
        return self._single

    def classify(self, value, name, call=None):
        hit = registry.lookup(value)
        if hit is not None:
            prim, ns = hit
            return Callee("nondiff" if prim.nondiff else "primitive", name, prim=prim, namespace=ns)
        if isinstance(value, types.MethodType) and isinstance(value.__func__, types.FunctionType) \
                and _module_root(value.__func__) not in LIBRARY_ROOTS:
            return _user(self.policy, name, fn=value.__func__, self_value=value.__self__)
        if isinstance(value, functools.partial) or self.policy.is_traced_derivative(value) \
                or isinstance(getattr(getattr(value, "__s2sgrad__", None), "fn", None),
                              types.MethodType):
            # unwrapped (or traced) by the dynamic dispatcher, which passes a derivative of a
            # bound method its instance
            return Callee("dynamic", name)
        if isinstance(value, types.FunctionType):
            if _module_root(value) in LIBRARY_ROOTS:
                return Callee("norule", name)
            return _user(self.policy, name, fn=value)
        if isinstance(value, type):
            if value in (list, tuple, dict):
                return Callee("container", name)
            if _holds_no_derivative(value):
                return Callee("nondiff", name)
            # any other class (a user's, map, ...): an error if it is given a value that
            # carries a derivative, never a silently dropped one
            return Callee("norule", name)
        call_method = getattr(type(value), "__call__", None)
        if isinstance(call_method, types.FunctionType) and _module_root(call_method) not in LIBRARY_ROOTS:
            return _user(self.policy, name, fn=call_method, self_value=value)
        if callable(value):
            return Callee("norule", name)
        return Callee("dynamic", name)


def _user_class(cls):
    """A class written by the user (not a library's, not a builtin), made the usual way."""
    return isinstance(cls, type) and type(cls) is type and _module_root(cls) not in LIBRARY_ROOTS \
        and cls.__new__ is object.__new__


def _plain_method(cls, attr):
    """``cls``'s plain function ``attr`` (found on the class, not an instance), or None."""
    try:
        method = inspect.getattr_static(cls, attr)
    except AttributeError:
        return None
    if isinstance(method, types.FunctionType) and _module_root(method) not in LIBRARY_ROOTS:
        return method
    return None


def _user(policy, name, fn, **kwargs):
    """A user function to transform; or, when its source cannot be transformed, a call
    through the dynamic dispatcher, which traces it (mixed mode: the caller stays
    generated code).  ``callee.reason`` then says why."""
    reason = policy.untransformable(fn)
    if reason is None:
        return Callee("user", name, fn=fn, **kwargs)
    callee = Callee("dynamic", name, fn=fn, receiver=kwargs.get("receiver"))
    callee.reason = reason
    return callee


class TransformEverything:
    """The compiler's policy when no driver gives one: every user callee is transformed,
    and a failure is an error (no callee is traced at run time).

    The driver hands the compiler its own policy (``driver.routes.Policy``): which
    callees cannot be transformed (``untransformable``), remembering a failure
    (``record_failure``, ``known_failure``), and whether a callee may be traced
    at run time (``traces``).
    """

    traces = False

    def untransformable(self, fn):
        return None

    def record_failure(self, fn, exc):
        raise exc

    def known_failure(self, fn):
        return None

    def is_traced_derivative(self, fn):
        from ..sites import is_traced_derivative
        return is_traced_derivative(fn)


def _describe(node):
    path, _ = _dotted(node)
    if path is not None:
        return path
    try:
        import astor
        return astor.to_source(gast.gast_to_ast(node)).strip()
    except Exception:
        return "<expression>"


def _holds_no_derivative(cls):
    """Classes whose instances carry no derivative: integers, booleans, strings, ranges,
    slices, and NumPy's integer and boolean scalar types."""
    import numpy
    if issubclass(cls, numpy.generic):
        return not issubclass(cls, numpy.inexact)
    return issubclass(cls, (int, str, bytes, range, slice, type(None), BaseException))
