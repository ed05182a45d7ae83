"""Keep the tests' disk cache out of the user's cache directory."""

import os
import tempfile

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir():
    with tempfile.TemporaryDirectory(prefix="s2sgrad-test-cache-") as d:
        old = os.environ.get("S2SGRAD_CACHE_DIR")
        os.environ["S2SGRAD_CACHE_DIR"] = os.path.join(d, "cache")
        yield
        if old is None:
            os.environ.pop("S2SGRAD_CACHE_DIR", None)
        else:
            os.environ["S2SGRAD_CACHE_DIR"] = old


CODES = ("general", "specialized")


@pytest.fixture(params=CODES)
def code(request):
    """Run the test twice: on the general code (``signature=None``) and on code specialized to
    its arguments' signature (``s2sgrad.driver.specialize``).  ``gradcheck.check_grad`` and
    ``tangentcheck.check_jvp`` then also assert that the specialized derivatives are the general
    ones.  Use it as an argument, or with ``pytestmark = pytest.mark.usefixtures("code")``."""
    from s2sgrad.driver import specialize
    with specialize.using(request.param):
        yield request.param


@pytest.fixture
def fresh_call_path(monkeypatch):
    """No disk cache, empty in-process caches, counters and call sites (``driver.calls``):
    for tests of what the call path keeps between calls."""
    from s2sgrad.driver import cache, calls
    monkeypatch.setenv("S2SGRAD_CACHE", "off")
    cache.forget()
    cache.stats.clear()
    calls._SITES.clear()
    yield
    cache.forget()
    calls._SITES.clear()


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "auto_code: the test checks what the call path chooses by itself (code "
        "specialized to the call, or emit=True, example=... beside it): skipped when "
        "S2SGRAD_CODE forces general or specialized code for the whole run")


def pytest_collection_modifyitems(config, items):
    from s2sgrad.driver import specialize
    if specialize.current() == "auto":
        return
    skip = pytest.mark.skip(reason=f"S2SGRAD_CODE={specialize.current()}: the call path's own "
                                   "choice is what this test checks")
    for item in items:
        if item.get_closest_marker("auto_code"):
            item.add_marker(skip)
