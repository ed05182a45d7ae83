"""Wrong results once found in the call path's runners (driver/calls.py: ``make_runner``):
each test calls a derivative several times (the runner serves from the second call on) and
checks what it returns against closed forms or central finite differences."""

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import cache, calls, specialize
from gradcheck import assert_close, numeric_grad

# The call path's own choice (runners exist only in "auto")
pytestmark = pytest.mark.auto_code


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setenv("S2SGRAD_CACHE", "off")
    cache.forget()
    cache.stats.clear()
    calls._SITES.clear()
    yield
    cache.forget()
    calls._SITES.clear()


def cube_sin(x):
    return np.sum(x ** 3 * np.sin(x))


def d_cube_sin(x):
    d = 3 * x ** 2 * np.sin(x) + x ** 3 * np.cos(x)
    return float(d) if isinstance(x, float) else d


@pytest.mark.parametrize("x", [1.3, np.array([0.4, -1.1])], ids=["float", "array"])
def test_a_runner_does_not_serve_calls_under_another_code_choice(x):
    # a runner made in "auto" kept running the specialized code inside
    # specialize.using("general"): what the tests comparing both codes rely on
    g = s2sgrad.grad(cube_sin)
    for _ in range(3):
        assert_close(g(x), d_cube_sin(x))
    built = cache.stats["transform"]
    with specialize.using("general"):
        assert_close(g(x), d_cube_sin(x))
        assert cache.stats["transform"] == built + 1     # the general code, built and run
        assert_close(g(x), d_cube_sin(x))
    assert_close(g(x), d_cube_sin(x))
