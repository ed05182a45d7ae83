"""Assignments, containers, indexing and in-place writes.

The programs and their inputs are ``constructs.DATA``; ``test_forward.py`` checks them in forward mode.
"""

import pytest

import constructs
from gradcheck import check_grad


@pytest.mark.parametrize("name, point", constructs.params(constructs.DATA))
def test_data(name, point):
    constructs.run(check_grad, name, point)
