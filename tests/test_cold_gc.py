"""The collector after a transform (driver/cache.py ``_no_collection``): what the transform
allocated is moved to the oldest generation, nothing stays frozen, and objects a user froze
stay frozen."""

import gc

import pytest

from s2sgrad.driver import cache


def _transform_allocating(made):
    def transform(fn, options):
        made.extend([[] for _ in range(1000)])      # tracked objects, kept
        raise RuntimeError("stop")
    return transform


def _f(x):
    return x * x


def test_what_a_transform_kept_is_in_the_oldest_generation(monkeypatch):
    monkeypatch.setenv("S2SGRAD_CACHE", "off")
    made = []
    with pytest.raises(RuntimeError):
        cache.lookup(_f, ("cold-gc-test", 1), _transform_allocating(made))
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    assert gc.get_count()[0] < 100     # no young collection pending over them
    young = {id(o) for o in gc.get_objects(generation=0)}
    assert not any(id(o) in young for o in made)
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(o) in oldest for o in made)


def test_objects_a_user_froze_stay_frozen(monkeypatch):
    monkeypatch.setenv("S2SGRAD_CACHE", "off")
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        made = []
        with pytest.raises(RuntimeError):
            cache.lookup(_f, ("cold-gc-test", 2), _transform_allocating(made))
        assert gc.isenabled()
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
