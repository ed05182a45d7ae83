"""Print what each stage of s2sgrad's compiler makes of one function.

    python docs/stages.py                          # the function of docs/compiler.md
    python docs/stages.py examples/quickstart.py:loss
    python docs/stages.py module.py:function --wrt 0 1
    python docs/stages.py --update docs/compiler.md   # refresh the stage outputs it shows

Each stage is printed under a ``== name ==`` header.  The stages are the real
passes, called one at a time as ``s2sgrad.transform.program.Program`` calls them
(this script reaches into s2sgrad's internals, so it follows them when they
change; ``tests/test_docs.py`` checks that docs/compiler.md shows its output).
"""

import argparse
import importlib.util
import os
import re
import sys
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))


def load_function(target):
    path, _, func = target.partition(":")
    path = os.path.abspath(path)
    name = "s2sgrad_stages_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, func)


def _statements(stmts):
    from s2sgrad.codegen import _block
    return "\n".join(_block(stmts, "", [None]))


def _build(fn, wrt, optimize=True):
    """Run the reverse transform of ``fn`` alone: ``(builder, fwd, bwd, seed, grads)``."""
    from s2sgrad.frontend.source import FunctionSource
    from s2sgrad.transform import reverse
    from s2sgrad.transform.program import Job, Program, Spec
    program = Program()
    fsrc = FunctionSource.of(fn)
    job = Job(fsrc, ("entry", fn))
    program.jobs[job.key] = job
    spec = Spec(job, [job.param_names[w] for w in wrt], split=False)
    spec.grad_name = program.module.fresh_function_name(f"grad_{job.base_name}")
    builder = reverse.ReverseBuilder(program, spec)
    if optimize:
        fwd, bwd, seed, grads = builder.build()
    else:
        with mock.patch.object(reverse, "optimize", lambda stmts, shapes: stmts):
            fwd, bwd, seed, grads = builder.build()
    return builder, fwd, bwd, seed, grads


def stages(fn, wrt=(0,)):
    """``[(stage name, text)]`` for ``fn`` differentiated with respect to ``wrt``."""
    import gast

    import s2sgrad
    from s2sgrad.analysis.activity import Activity
    from s2sgrad.analysis.tape import prune
    from s2sgrad.codegen import to_source
    from s2sgrad.frontend.normalize import normalize
    from s2sgrad.frontend.source import FunctionSource

    out = []
    # 1. frontend: the parsed function and what its free names refer to
    fsrc = FunctionSource.of(fn)
    names = sorted({n.id for n in gast.walk(fsrc.node) if isinstance(n, gast.Name)
                    and isinstance(n.ctx, gast.Load)})
    lines = [to_source(fsrc.node), ""]
    for nm in names:
        kind, value = fsrc.resolve(nm)
        if kind:
            shown = getattr(value, "__name__", None) or type(value).__name__
            lines.append(f"# {nm}: {kind} -> {shown}")
    lines.append(f"# read from {fsrc.display_file}, lines {fsrc.node.lineno}-"
                 f"{fsrc.node.end_lineno}")
    out.append(("frontend", "\n".join(lines)))

    # 2. normalize: the core language
    norm = normalize(fsrc)
    out.append(("normalize", to_source(norm.node) + f"\n\n# the result is {norm.return_name!r}"))

    # 3. activity
    params = [a.id for a in norm.node.args.args]
    activity = Activity(norm, [params[w] for w in wrt])
    out.append(("activity", "\n".join([
        f"varied: {', '.join(sorted(activity.varied))}",
        f"useful: {', '.join(sorted(activity.useful))}",
        f"active: {', '.join(sorted(activity.active))}"])))

    # 4. reverse: forward and backward sweeps, every overwrite saved, rules inlined
    _, fwd, bwd, seed, grads = _build(fn, wrt, optimize=False)
    out.append(("reverse", "# forward sweep\n" + _statements(fwd)
                + "\n\n# backward sweep\n" + _statements(bwd)))

    # 5. optimize: the backward sweep simplified for this function
    builder, fwd, bwd, seed, grads = _build(fn, wrt, optimize=True)
    out.append(("optimize", "# backward sweep\n" + _statements(bwd)))

    # 6. tape pruning: only saves the backward sweep reads survive
    live = set(grads) | ({norm.return_name} if norm.return_name else set())
    fwd, bwd = prune(fwd, bwd, live)
    out.append(("prune", "# forward sweep\n" + _statements(fwd)
                + "\n\n# backward sweep\n" + _statements(bwd)))

    # 7. codegen: the module, as grad(f, emit=True) returns it
    out.append(("codegen", s2sgrad.grad(fn, tuple(wrt) if len(wrt) > 1 else wrt[0],
                                        emit=True).rstrip("\n")))
    return out


MARKER = re.compile(r"(<!-- stage: (\w+) -->\n```\w*\n)(.*?)(```)", re.S)


def markdown_blocks(text):
    """``{stage name: block text}`` for each ``<!-- stage: name -->`` code block in ``text``."""
    return {m.group(2): m.group(3).rstrip("\n") for m in MARKER.finditer(text)}


def update_markdown(path, outputs):
    """Rewrite the stage blocks of the Markdown file ``path`` with ``outputs``."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = MARKER.sub(lambda m: m.group(1) + outputs[m.group(2)] + "\n" + m.group(4), text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target", nargs="?", default=os.path.join(HERE, "example.py:energy"),
                        help="module.py:function (default: docs/example.py:energy)")
    parser.add_argument("--wrt", type=int, nargs="*", default=[0])
    parser.add_argument("--update", metavar="FILE.md",
                        help="rewrite the <!-- stage: NAME --> code blocks of FILE.md instead")
    args = parser.parse_args(argv)
    outputs = stages(load_function(args.target), args.wrt)
    if args.update:
        update_markdown(args.update, dict(outputs))
        return
    for stage, text in outputs:
        print(f"== {stage} ==")
        print(text)
        print()


if __name__ == "__main__":
    main()
