"""The README's commands, links and examples table say what the repository does.

The test command prints pytest's summary line, ``.ci/run`` runs that very
command, every link stays inside the repository, every example is in the table
and takes ``--out DIR`` and ``--full``.
"""

import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _test_command():
    lines = README.splitlines()
    return lines[lines.index("# The tests") + 1]


def test_the_readme_test_command_prints_the_summary_line(tmp_path):
    command = _test_command()
    pytest_args = command.split("python -m pytest", 1)[1].split()
    (tmp_path / "test_one.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
    # The repository's pytest configuration (addopts) with the README's own arguments.
    r = subprocess.run([sys.executable, "-m", "pytest", *pytest_args, "-p", "no:cacheprovider",
                        "-c", os.path.join(ROOT, "pyproject.toml"), "--rootdir", str(tmp_path),
                        str(tmp_path / "test_one.py")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"^1 passed in [0-9.]+s", r.stdout, re.M), r.stdout


def test_ci_runs_the_readme_test_command(tmp_path):
    """``.ci/run`` evaluates the README's line: with a stub python3 it records what it ran."""
    script = open(os.path.join(ROOT, ".ci", "run")).read()
    assert "README.md" in script and "pytest" not in script.replace("# ", "").split("\n", 3)[-1]
    # Run .ci/run on a copy whose README's test command is a harmless echo.
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci" / "run").write_text(script)
    (tmp_path / "README.md").write_text(
        README.replace(_test_command(), "echo ran the README command > ran.txt"))
    r = subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ran.txt").read_text() == "ran the README command\n"


def _links(text):
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    targets += [t for t in re.findall(r"`([^`\s]+)`", text) if t.startswith(("../", "/"))]
    return [t for t in targets if not re.match(r"[a-z]+://", t) and not t.startswith("#")]


@pytest.mark.parametrize("doc", ["README.md", "docs/compiler.md", "docs/autograd-migration.md",
                                 "generated_samples/README.md"])
def test_links_stay_inside_the_repository_and_exist(doc):
    path = os.path.join(ROOT, doc)
    for target in _links(open(path, encoding="utf-8").read()):
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), target.split("#")[0]))
        assert resolved.startswith(ROOT + os.sep), f"{doc} links outside the repository: {target}"
        assert os.path.exists(resolved), f"{doc} links to a missing file: {target}"


def test_the_link_check_catches_a_link_outside():
    found = _links("see `../shared/DESIGN.md` and [x](../other/y.md), [ok](docs/a.md), "
                   "[web](https://numpy.org)")
    assert sorted(found) == ["../other/y.md", "../shared/DESIGN.md", "docs/a.md"]


EXAMPLE_FILES = sorted(f for f in os.listdir(EXAMPLES) if f.endswith(".py"))


def test_the_examples_table_lists_every_example():
    section = README.split("## Examples", 1)[1].split("\n## ", 1)[0]
    listed = re.findall(r"^\| `([a-z_]+\.py)` \|", section, re.M)
    assert sorted(listed) == EXAMPLE_FILES


@pytest.mark.parametrize("example", EXAMPLE_FILES)
def test_every_example_takes_out_and_full(example):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, example), "--help"],
                       capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    assert "--out" in r.stdout and "--full" in r.stdout


def test_derivatives_writes_its_figures_to_out(tmp_path):
    pytest.importorskip("matplotlib", reason="plotting needs the examples extra (matplotlib)")
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "derivatives.py"),
                        "--out", str(tmp_path / "figs")],
                       capture_output=True, text=True, cwd=tmp_path, env=ENV)
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["figs"]                # no folder named --out
    for png in ("tanh.png", "sinc.png"):
        assert (tmp_path / "figs" / png).stat().st_size > 1000
    # tanh(x / 2)'s first derivative is (1 - tanh(x / 2)^2) / 2, at most 1/2 at x = 0.
    assert "order 1: values in [+0.002, +0.500]" in r.stdout


def test_quickstart_full_checks_and_out_saves_the_source(tmp_path):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "quickstart.py"), "--full",
                        "--out", str(tmp_path / "src")],
                       capture_output=True, text=True, cwd=tmp_path, env=ENV)
    assert r.returncode == 0, r.stderr
    diff = float(re.search(r"largest difference: (\S+)", r.stdout).group(1))
    assert diff < 1e-7
    text = (tmp_path / "src" / "quickstart_loss_grad.py").read_text()
    assert text.startswith("# Generated by s2sgrad") and "def grad_loss(" in text
    compile(text, "quickstart_loss_grad.py", "exec")
