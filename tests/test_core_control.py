"""Control flow: branches (both sides), early returns, loops of every kind, break/continue.

The programs and their points are ``constructs.CONTROL``; ``test_forward.py`` checks them in forward mode.
"""

import pytest

import constructs
from gradcheck import check_grad


@pytest.mark.parametrize("name, point", constructs.params(constructs.CONTROL))
def test_control_flow(name, point, code):
    constructs.run(check_grad, name, point)
