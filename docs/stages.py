"""Print what each stage of s2sgrad's compiler makes of one function.

    python docs/stages.py                          # the function of docs/compiler.md, reverse mode
    python docs/stages.py --mode forward           # the same function in forward mode
    python docs/stages.py examples/quickstart.py:loss
    python docs/stages.py module.py:function --wrt 0 1
    python docs/stages.py --diff                   # the passes as diffs, as docs/compiler.md shows them
    python docs/stages.py --update docs/compiler.md   # refresh the stage outputs it shows

Each stage is printed under a ``== name ==`` header.  Every line comes from
the public call ``s2sgrad.show(fn, stage, wrt, mode=...)`` (the stage names
from ``s2sgrad.stages(mode)``): this script knows nothing of s2sgrad's
internals, so it shows what a user sees, and ``tests/test_docs.py`` checks
that docs/compiler.md shows its output.

``--diff`` (and docs/compiler.md) print each stage between ``transform`` and
``codegen`` (the optional passes that tidy the generated module) as a unified
diff against the stage before it, so that what the pass did stands out;
``s2sgrad show module.py:function --stage NAME`` prints any of them whole.
"""

import argparse
import difflib
import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# docs/compiler.md shows these modes; a block of a mode other than the first is named
# "<mode>-<stage>" (``<!-- stage: forward-share -->``), one of the first "<stage>".
DOC_MODES = ("reverse", "forward")


def load_function(target):
    path, _, func = target.partition(":")
    path = os.path.abspath(path)
    name = "s2sgrad_stages_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return getattr(module, func)


def _wrt(wrt):
    wrt = tuple(wrt)
    return wrt[0] if len(wrt) == 1 else wrt


def stages(fn, wrt=(0,), mode="reverse"):
    """``[(stage name, text)]``: ``s2sgrad.show`` of ``fn`` for every stage of ``mode``."""
    import s2sgrad
    return [(name, s2sgrad.show(fn, name, _wrt(wrt), mode=mode).rstrip("\n"))
            for name in s2sgrad.stages(mode)]


def _diff(before, after, old, new):
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                      f"after {old}", f"after {new}", n=2, lineterm=""))
    if not lines:
        return "text", f"# {new} changes nothing here: the module is as {old} left it"
    return "diff", "\n".join(lines)


def shown(outputs):
    """``[(stage name, language, text)]`` as docs/compiler.md shows ``outputs``: the passes
    between ``transform`` and ``codegen`` as diffs against the stage before, the rest whole."""
    names = [name for name, _ in outputs]
    first, last = names.index("transform"), names.index("codegen")
    out = []
    for k, (name, text) in enumerate(outputs):
        if first < k < last:
            lang, text = _diff(outputs[k - 1][1], text, names[k - 1], name)
        else:
            lang = "text" if name == "activity" else "python"
        out.append((name, lang, text))
    return out


def doc_blocks(fn, wrt=(0,)):
    """``{block name: (language, text)}``: every stage of every mode of ``DOC_MODES``.

    In the modes after the first, a stage before ``transform`` (the front end, which
    does not depend on the mode) is shown as a diff against the first mode's.
    """
    blocks = {}
    first = dict(stages(fn, wrt, DOC_MODES[0]))
    for mode in DOC_MODES:
        prefix = "" if mode == DOC_MODES[0] else mode + "-"
        outputs = stages(fn, wrt, mode)
        front = [name for name, _ in outputs][:[name for name, _ in outputs].index("transform")]
        for name, lang, text in shown(outputs):
            if prefix and name in front and name in first:
                lang, text = _diff(first[name], text, f"{name} ({DOC_MODES[0]})",
                                   f"{name} ({mode})")
                if lang == "text":
                    text = f"# {name} in {mode} mode is the same as in {DOC_MODES[0]} mode (above)"
            blocks[prefix + name] = (lang, text)
    return blocks


MARKER = re.compile(r"(<!-- stage: ([\w-]+) -->\n```)(\w*)\n(.*?)(```)", re.S)


def markdown_blocks(text):
    """``{block name: block text}`` for each ``<!-- stage: name -->`` code block in ``text``."""
    return {m.group(2): m.group(4).rstrip("\n") for m in MARKER.finditer(text)}


def update_markdown(path, blocks):
    """Rewrite the stage blocks of the Markdown file ``path`` with ``blocks`` (``doc_blocks``)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    unknown = sorted(set(markdown_blocks(text)) - set(blocks))
    if unknown:
        raise SystemExit(f"{path}: no stage named {', '.join(unknown)}; the blocks are "
                         f"{', '.join(blocks)}")
    missing = sorted(set(blocks) - set(markdown_blocks(text)))
    if missing:
        print(f"{path}: note: no block for {', '.join(missing)}", file=sys.stderr)

    def block(m):
        lang, body = blocks[m.group(2)]
        return m.group(1) + lang + "\n" + body + "\n" + m.group(5)

    text = MARKER.sub(block, text)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("target", nargs="?", default=os.path.join(HERE, "example.py:energy"),
                        help="module.py:function (default: docs/example.py:energy)")
    parser.add_argument("--wrt", type=int, nargs="+", default=[0])
    parser.add_argument("--mode", default="reverse",
                        choices=("reverse", "split", "forward", "batched"))
    parser.add_argument("--diff", action="store_true",
                        help="print the passes between transform and codegen as diffs")
    parser.add_argument("--update", metavar="FILE.md",
                        help="rewrite the <!-- stage: NAME --> code blocks of FILE.md instead "
                             f"(every stage in {' and '.join(DOC_MODES)} mode)")
    args = parser.parse_args(argv)
    fn = load_function(args.target)
    if args.update:
        update_markdown(args.update, doc_blocks(fn, args.wrt))
        return
    outputs = stages(fn, args.wrt, args.mode)
    rows = shown(outputs) if args.diff else [(n, None, t) for n, t in outputs]
    for stage, _, text in rows:
        print(f"== {stage} ==")
        print(text)
        print()


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))    # the s2sgrad of this checkout
    main()
