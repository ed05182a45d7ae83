"""docs/coverage.md is generated from the registry and must be up to date."""

import os

from s2sgrad.coverage import table

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_coverage_doc_is_up_to_date():
    path = os.path.join(ROOT, "docs", "coverage.md")
    with open(path) as f:
        assert f.read() == table(), "regenerate it: python -m s2sgrad.coverage > docs/coverage.md"
