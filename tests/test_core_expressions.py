"""Expressions: arithmetic, powers, numpy and math functions, builtins, broadcasting.

The programs and their points are ``constructs.EXPRESSIONS``; ``test_forward.py`` checks them in
forward mode.
"""

import pytest

import constructs
from gradcheck import check_grad


@pytest.mark.parametrize("name, point", constructs.params(constructs.EXPRESSIONS))
def test_expressions(name, point, code):
    constructs.run(check_grad, name, point)
