"""generated_samples/ holds the current gradients of every module in examples/.

Regenerate with ``s2sgrad gen examples -o generated_samples`` (see generated_samples/README.md).
"""

import ast
import importlib
import os
import sys

import numpy as np
import pytest

from s2sgrad.checkin import check, is_generated, module_files, output_path
from gradcheck import assert_close, numeric_grad

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(ROOT, "examples")
SAMPLES = os.path.join(ROOT, "generated_samples")
REGENERATE = "regenerate with: s2sgrad gen examples -o generated_samples"
EXAMPLE_FILES = module_files(EXAMPLES)


def test_there_are_examples():
    assert any(p.endswith("quickstart.py") for p in EXAMPLE_FILES)


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=os.path.basename)
def test_sample_is_up_to_date(example):
    problems = check(example, output_path(example, SAMPLES, many=True))
    assert not problems, "\n".join(problems + [REGENERATE])


def test_no_sample_without_its_example():
    expected = {os.path.basename(output_path(p, SAMPLES, many=True)) for p in EXAMPLE_FILES}
    extra = [f for f in os.listdir(SAMPLES) if f.endswith(".py") and f not in expected]
    assert not extra, f"samples without an example: {extra}; {REGENERATE}"


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=os.path.basename)
def test_sample_imports_only_numpy_the_runtime_and_its_example(example):
    sample = output_path(example, SAMPLES, many=True)
    assert is_generated(sample)
    with open(sample, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    stem = os.path.splitext(os.path.basename(example))[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name.split(".")[0] for a in node.names} <= {"numpy", "scipy"}, \
                ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            allowed = node.module in (stem, "numpy") or (
                node.module == "s2sgrad" and [a.name for a in node.names] == ["runtime"])
            assert allowed, ast.unparse(node)


def test_quickstart_sample_matches_finite_differences(monkeypatch):
    monkeypatch.syspath_prepend(SAMPLES)
    monkeypatch.syspath_prepend(EXAMPLES)
    for name in ("quickstart", "quickstart_grad"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    quickstart = importlib.import_module("quickstart")
    sample = importlib.import_module("quickstart_grad")
    rng = np.random.default_rng(0)
    w, x, y = rng.normal(size=3), rng.normal(size=(8, 3)), rng.normal(size=8)
    assert_close(sample.loss_grad(w, x, y), numeric_grad(quickstart.loss, (w, x, y)))
    assert_close(sample.loss_grad(w, x, y, 1), numeric_grad(quickstart.loss, (w, x, y, 1)))
    value, _ = sample.grad_loss(w, x, y)
    assert value == pytest.approx(quickstart.loss(w, x, y))
    assert_close(sample.smooth_abs_grad(0.3), numeric_grad(quickstart.smooth_abs, (0.3,)))
    for name in ("quickstart", "quickstart_grad"):
        sys.modules.pop(name, None)
