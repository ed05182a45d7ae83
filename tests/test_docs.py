"""docs/ stays true: the compiler walk-through shows what the compiler prints, code blocks run."""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def _stages_module():
    spec = importlib.util.spec_from_file_location("s2sgrad_docs_stages",
                                                  os.path.join(DOCS, "stages.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _read(name):
    with open(os.path.join(DOCS, name), encoding="utf-8") as f:
        return f.read()


def _energy(stages):
    return stages.load_function(os.path.join(DOCS, "example.py:energy"))


def test_compiler_walkthrough_shows_every_stage_as_the_compiler_prints_it():
    """Every stage in reverse and in forward mode has its block, equal to what s2sgrad.show
    prints now (the passes as diffs against the stage before, as docs/stages.py makes them)."""
    import s2sgrad
    stages = _stages_module()
    blocks = stages.doc_blocks(_energy(stages))
    expected = set(s2sgrad.stages("reverse")) | {"forward-" + n for n in s2sgrad.stages("forward")}
    assert set(blocks) == expected
    shown = stages.markdown_blocks(_read("compiler.md"))
    assert set(shown) == expected, (sorted(shown), sorted(expected))
    stale = [name for name in blocks if shown[name] != blocks[name][1]]
    assert not stale, (f"docs/compiler.md shows stale output for stages {stale}; refresh it with "
                       f"python docs/stages.py --update docs/compiler.md and reread the prose "
                       f"around those blocks")


def test_the_walkthrough_blocks_are_what_the_operators_compile():
    """The codegen blocks are the modules grad and jvp compile; a pass's diff applied to the
    stage before gives the stage after (the diffs are not made up)."""
    import difflib
    import s2sgrad
    stages = _stages_module()
    energy = _energy(stages)
    shown = stages.markdown_blocks(_read("compiler.md"))
    assert shown["codegen"] == s2sgrad.grad(energy, emit=True).rstrip("\n")
    assert shown["forward-codegen"] == s2sgrad.jvp(energy, emit=True).rstrip("\n")
    # e = e + choice may broadcast e (it starts as 0.0): the general code keeps e's shape
    assert "_tape.append(e)" in shown["transform"] and "_tape.append(e)" in shown["codegen"]
    assert "d_e = _rt.unbroadcast(d_e, e)" in shown["codegen"]
    for mode, prefix in (("reverse", ""), ("forward", "forward-")):
        outputs = dict(stages.stages(energy, (0,), mode))
        names = s2sgrad.stages(mode)
        for before, after in zip(names[names.index("transform"):], names[names.index("transform") + 1:-1]):
            block = shown[prefix + after]
            if block.startswith("# "):        # "changes nothing here"
                assert outputs[before] == outputs[after], (mode, after)
                continue
            assert outputs[before] != outputs[after]
            diff = block.splitlines()
            assert diff[:2] == [f"--- after {before}", f"+++ after {after}"]
            removed = [ln[1:] for ln in diff[2:] if ln.startswith("-")]
            added = [ln[1:] for ln in diff[2:] if ln.startswith("+")]
            real = list(difflib.ndiff(outputs[before].splitlines(), outputs[after].splitlines()))
            assert removed == [ln[2:] for ln in real if ln.startswith("- ")]
            assert added == [ln[2:] for ln in real if ln.startswith("+ ")]


def test_stages_script_uses_only_the_public_show():
    """docs/stages.py reaches into no internals: s2sgrad.show and s2sgrad.stages only."""
    import ast
    tree = ast.parse(_read("stages.py"))
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("s2sgrad"), node.module
        elif isinstance(node, ast.Import):
            assert all(a.name == "s2sgrad" or not a.name.startswith("s2sgrad")
                       for a in node.names), [a.name for a in node.names]
            assert all(a.name != "unittest.mock" and a.name != "unittest" for a in node.names)
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "s2sgrad"):
            used.add(node.attr)
    assert used == {"show", "stages"}, used


def test_pipeline_at_a_glance_lists_the_stages_of_the_driver():
    """The numbered lines of "The pipeline at a glance" are driver/pipeline.py's STAGES:
    name, module, in order, the optional ones marked so."""
    from s2sgrad.driver.pipeline import STAGES
    text = _read("compiler.md")
    section = text[text.index("## The pipeline at a glance"):text.index("## The running example")]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    rows = re.findall(r"^ +(\d+)\. (\w+) +(\S.*?)(?: {2,}(optional.*))?$", block, re.M)
    assert [int(n) for n, *_ in rows] == list(range(1, len(STAGES) + 1))
    assert [(name, module) for _, name, module, _ in rows] == [(s.name, s.module) for s in STAGES]
    assert [bool(note) for *_, note in rows] == [s.optional for s in STAGES]
    every = ("reverse", "split", "forward", "batched")
    for (*_, note), s in zip(rows, STAGES):
        if s.modes != every:
            assert note == f"optional, {' and '.join(s.modes)} modes", (s.name, note)


def test_the_example_function_is_what_the_walkthrough_says():
    text = _read("compiler.md")
    shown = re.search(r"`docs/example.py`:\n\n```python\n(.*?)```", text, re.S).group(1)
    assert shown.strip() in _read("example.py")


def _runnable_blocks(name):
    """The ```python blocks of a doc that are whole programs (they import s2sgrad)."""
    blocks = re.findall(r"```python\n(.*?)```", _read(name), re.S)
    return [b for b in blocks if "import s2sgrad" in b]


@pytest.mark.parametrize("doc", ["autograd-migration.md", "../README.md"])
def test_code_blocks_run(doc, tmp_path):
    blocks = _runnable_blocks(doc)
    assert blocks, f"{doc} has no runnable block"
    import s2sgrad
    for k, block in enumerate(blocks):
        code = "\n".join(line for line in block.splitlines()
                          if not line.startswith(("import ", "from ")))
        missing = [api for api in re.findall(r"\bs2sgrad\.(\w+)", code)
                   if not hasattr(s2sgrad, api)]
        if missing:   # documented ahead of a merge: runs once the API lands
            continue
        path = tmp_path / f"block{k}.py"
        path.write_text(block)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))   # this checkout's s2sgrad
        run = subprocess.run([sys.executable, str(path)], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120, env=env)
        assert run.returncode == 0, f"{doc}, block {k}:\n{block}\n{run.stderr}"
        # a block may state what it prints in comments "# prints: ..."
        for expected in re.findall(r"# prints: (.*)", block):
            assert expected.strip() in run.stdout, (doc, k, expected, run.stdout)


def test_architecture_stage_table_is_the_driver_stages():
    from s2sgrad.driver.pipeline import STAGES
    text = _read("architecture.md")
    rows = re.findall(r"^\| (\w+)( \(optional\))? \| (.+?) \| (.+?) \|$", text, re.M)
    rows = [r for r in rows if r[0] != "stage"]
    every = ("reverse", "split", "forward", "batched")
    assert [name for name, *_ in rows] == [s.name for s in STAGES]
    for (name, optional, modules, modes), s in zip(rows, STAGES):
        assert bool(optional) == s.optional, name
        assert [m.strip("` ") for m in modules.split(",")] == \
            [m.strip() for m in s.module.split(",")], name
        assert modes == ("all" if s.modes == every else ", ".join(s.modes)), name


def test_architecture_counts_the_modules_that_handle_while():
    """"while is handled in N modules": the modules named are those whose source handles it."""
    text = " ".join(_read("architecture.md").split())
    said = re.search(r"`while` is handled in (\d+) modules: (.*?)\. ", text)
    named = re.findall(r"`([\w/]+\.py)`", said.group(2))
    package = os.path.join(ROOT, "s2sgrad")
    handling = []
    for folder, _, files in os.walk(package):
        for fname in files:
            if fname.endswith(".py"):
                path = os.path.join(folder, fname)
                with open(path, encoding="utf-8") as f:
                    if "gast.While" in f.read():
                        handling.append(os.path.relpath(path, package).replace(os.sep, "/"))
    assert int(said.group(1)) == len(named)
    assert sorted(named) == sorted(handling)
