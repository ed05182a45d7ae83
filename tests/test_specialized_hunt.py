"""Programs on which code specialized to the arguments' signature once went wrong (issue 14).

Each test runs on the general code and on specialized code (the ``code`` fixture): gradients
against central finite differences at several points, and the specialized ones against the
general ones (``gradcheck.check_grad``); a gradient shares no memory with an input.
"""

import numpy as np
import pytest

import s2sgrad

from gradcheck import check_grad

pytestmark = [pytest.mark.usefixtures("code"),
              pytest.mark.filterwarnings("error::s2sgrad.FallbackWarning")]

rng = np.random.default_rng(1414)


def _independent(g, *args):
    for a in args:
        if isinstance(g, np.ndarray) and isinstance(a, np.ndarray):
            assert not np.shares_memory(g, a)


# -- the seed folded to 1.0 (reverse.py): only where the sweep reads it as a whole value --------


def returns_its_argument(x, y):
    z = y * 2.0
    return x


@pytest.mark.parametrize("x", [1.5, -0.25, np.array(0.75)], ids=["float", "negative", "0-d"])
def test_returned_argument_is_its_own_seed(x):
    # the seed d_x is x's gradient too: folding it to 1.0 left d_x unbound (NameError)
    g = check_grad(returns_its_argument, x, 2.0, wrt=(0, 1))
    assert float(g[0]) == 1.0 and float(g[1]) == 0.0
    vg = s2sgrad.value_and_grad(returns_its_argument, (0, 1))(x, 2.0)
    assert float(vg[0]) == float(x) and float(vg[1][0]) == 1.0
