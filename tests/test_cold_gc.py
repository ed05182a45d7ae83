"""The cyclic garbage collector is paused while a transform runs (driver.pipeline) and left as
it was found: enabled again after it, still off if the program had turned it off."""

import gc

import numpy as np
import pytest

import s2sgrad
from s2sgrad.driver import pipeline


def _f(x):
    y = np.sin(x) * x
    return np.sum(y ** 2)


def _grad_fd(f, x, eps=1e-6):
    return np.array([(f(x + eps * e) - f(x - eps * e)) / (2 * eps) for e in np.eye(len(x))])


@pytest.fixture
def collector():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_during_a_transform_and_enabled_after(collector, monkeypatch):
    gc.enable()
    pipeline.forget()
    seen = []
    transform = pipeline._transform

    def watching(fn, request):
        seen.append(gc.isenabled())
        return transform(fn, request)

    monkeypatch.setattr(pipeline, "_transform", watching)
    x = np.array([0.3, -1.2, 2.0])
    g = s2sgrad.grad(_f)(x)
    assert seen and not any(seen)           # off while transforming
    assert gc.isenabled()                   # on again after
    np.testing.assert_allclose(g, _grad_fd(_f, x), rtol=1e-6, atol=1e-8)


def test_a_program_that_turned_it_off_keeps_it_off(collector):
    gc.disable()
    pipeline.forget()
    x = np.array([0.5, 0.1])
    g = s2sgrad.grad(_f)(x)
    assert not gc.isenabled()
    np.testing.assert_allclose(g, _grad_fd(_f, x), rtol=1e-6, atol=1e-8)


def test_enabled_again_after_a_transform_that_fails(collector):
    gc.enable()
    pipeline.forget()

    def bad(x):
        return np.sum(x) + undefined_name    # noqa: F821

    with pytest.raises(Exception):
        s2sgrad.grad(bad, fallback="never")(np.ones(2))
    assert gc.isenabled()
