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
