"""The package is layered (docs/architecture.md): no import cycle, and no layer imports one above it.

Imports are read from the source, the ones inside functions included: a lazy import
hides a cycle from Python, not from a reader.  (``../shared/tools/import_cycles.py``
reports the same graph; this test computes it itself, so it needs nothing outside
this repository.)
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "s2sgrad")

# The layers, top to bottom, by module-name prefix (docs/architecture.md).  Anything not
# named in the surface, the driver or the bottom is the compiler (with the runtime, the rule
# library and the tracing engine).
SURFACE = ("s2sgrad.__main__", "s2sgrad.api", "s2sgrad.operators", "s2sgrad.custom",
           "s2sgrad.gradcheck", "s2sgrad.cli", "s2sgrad.checkin", "s2sgrad.coverage",
           "s2sgrad.optim", "s2sgrad.wrt")
DRIVER = ("s2sgrad.driver",)
BOTTOM = ("s2sgrad.sites", "s2sgrad.naming", "s2sgrad.syntax", "s2sgrad.loader",
          "s2sgrad.errorsite", "s2sgrad.errors", "s2sgrad.version", "s2sgrad.signature")
AST_PASSES = ("s2sgrad.frontend", "s2sgrad.analysis", "s2sgrad.transform", "s2sgrad.codegen",
              "s2sgrad.rules")


def package_modules(root=PACKAGE):
    """``{module name: (path, is a package's __init__)}`` for every .py file under ``root``."""
    top = os.path.basename(root)
    out = {}
    for folder, _, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        parts = [top] + ([] if rel == "." else rel.split(os.sep))
        for fname in files:
            if not fname.endswith(".py"):
                continue
            path = os.path.join(folder, fname)
            if fname == "__init__.py":
                out[".".join(parts)] = (path, True)
            else:
                out[".".join(parts + [fname[:-3]])] = (path, False)
    return out


def _owner(name, modules):
    """The module of the package that importing ``name`` loads (its longest known prefix)."""
    parts = name.split(".")
    for k in range(len(parts), 0, -1):
        candidate = ".".join(parts[:k])
        if candidate in modules:
            return candidate
    return None


def _imported_names(node, module, is_init):
    """The dotted names an import statement of ``module`` asks for."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:                     # relative: from the module's own package, up level - 1
        base = module.split(".") if is_init else module.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        head = ".".join(base + ([node.module] if node.module else []))
    else:
        head = node.module or ""
    # ``from p import x``: x may be a submodule of p or a name defined in p; p is loaded either way
    return [head] + [f"{head}.{alias.name}" for alias in node.names]


def import_graph(root=PACKAGE):
    """``{module: {imported module: line}}`` over the package's own modules.

    Every import counts, at module level or inside a function; a package's
    ``__init__`` importing its own children is left out (re-exporting them is not a
    dependency of the package on itself).
    """
    modules = package_modules(root)
    top = os.path.basename(root)
    graph = {}
    for module, (path, is_init) in modules.items():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        edges = graph[module] = {}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for name in _imported_names(node, module, is_init):
                if name.split(".")[0] != top:
                    continue
                target = _owner(name, modules)
                if target is None or target == module:
                    continue
                if is_init and target.startswith(module + "."):
                    continue
                edges.setdefault(target, node.lineno)
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _in(module, prefixes):
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer(module):
    """2 for the surface, 1 for the driver, 0 for the compiler and what is below it."""
    if module == "s2sgrad" or _in(module, SURFACE):     # the package re-exports the surface
        return 3
    if _in(module, DRIVER):
        return 2
    return 0 if _in(module, BOTTOM) else 1


def _describe(graph, edges):
    modules = package_modules()
    return "\n".join(f"  {a} -> {b}   ({os.path.relpath(modules[a][0], ROOT)}:{graph[a][b]})"
                     for a, b in edges)


def test_the_walker_sees_imports_inside_functions_and_relative_imports(tmp_path):
    """The graph is what the source says (checked on a small package made here)."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .a import f\n")
    (pkg / "a.py").write_text("import os\n\ndef f():\n    from .sub import b\n    return b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from .. import a\nfrom ..a import f\nimport pkg.sub.c\n")
    (pkg / "sub" / "c.py").write_text("X = 1\n")
    graph = import_graph(str(pkg))
    assert graph["pkg"] == {}                              # an __init__ re-exporting its child
    assert graph["pkg.a"] == {"pkg.sub": 4, "pkg.sub.b": 4}   # inside a function counts
    assert graph["pkg.sub.b"] == {"pkg": 1, "pkg.a": 1, "pkg.sub.c": 3}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]
    graph["pkg.a"].pop("pkg.sub.b")
    assert cycles(graph) == []


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50          # the whole package was read
    found = cycles(graph)
    report = []
    for component in found:
        members = set(component)
        report.append(f"a cycle of {len(component)} modules:")
        report.append(_describe(graph, [(a, b) for a in component for b in sorted(graph[a])
                                        if b in members]))
    assert not found, "\n".join(report)


def test_no_layer_imports_a_layer_above_it():
    """The surface may import the driver and the compiler, the driver the compiler, the
    compiler neither (the runtime reaches the dynamic dispatcher by registration)."""
    graph = import_graph()
    modules = package_modules()
    upward = [(a, b) for a in sorted(graph) for b in sorted(graph[a])
              if (not modules[b][1] or b == "s2sgrad") and layer(b) > layer(a)]
    assert not upward, "imports pointing up a layer:\n" + _describe(graph, upward)


def test_the_ast_passes_never_import_the_fallback():
    graph = import_graph()
    wrong = [(a, b) for a in sorted(graph) if _in(a, AST_PASSES)
             for b in sorted(graph[a]) if _in(b, ("s2sgrad.fallback",))]
    assert not wrong, "the compiler's passes import the tracing engine:\n" + _describe(graph, wrong)


@pytest.mark.parametrize("module", SURFACE + DRIVER + AST_PASSES)
def test_every_layer_prefix_names_modules_that_exist(module):
    assert any(_in(m, (module,)) for m in package_modules()), module
