"""The version of s2sgrad (one place; the package, the cache key and generated headers read it)."""

__version__ = "0.1.0"
