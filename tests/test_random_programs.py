"""Property-based tests: random programs from the README's constructs get right derivatives.

``random_programs.py`` builds each program (a real module file: the compiler reads source)
and checks its gradient against central finite differences and forward mode against reverse
mode.  Here Hypothesis draws the programs (and shrinks a failing one to a small program),
from every construct, those of the memory model (``MEMORY_MODEL``: issue 12, items 1-4)
included.  The long run is ``benchmarks/random_programs.py``.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import random_programs as rp


class DataChooser:
    """The generator's choices drawn by Hypothesis (so that it can shrink a failure)."""

    def __init__(self, data):
        self.data = data

    def integer(self, lo, hi):
        return self.data.draw(st.integers(lo, hi))

    def choice(self, options):
        return self.data.draw(st.sampled_from(list(options)))

    def real(self, lo, hi):
        return round(self.data.draw(st.floats(lo, hi)), 2)


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_random_programs_have_right_derivatives(data):
    program = rp.build(DataChooser(data), rp.CONSTRUCTS)
    outcome = rp.check(program, seed=0)
    assert outcome.status in ("ok", "nonsmooth"), rp.describe_failure(program, outcome)


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_random_programs_specialized_to_random_signatures(data):
    """The same checks on the general code, then on code specialized to the arguments'
    signature (the same derivatives to 1e-12), and ``entry(x, p)`` with ``p`` of a random
    signature (a float, a NumPy scalar, a 0-d array, axes of length 1, a matrix, float32,
    complex): its gradients right against finite differences on both codes, and equal."""
    chooser = DataChooser(data)
    program = rp.build(chooser, rp.CONSTRUCTS)
    program.argument = chooser.choice(sorted(rp.ARGUMENTS))
    outcome = rp.check(program, seed=0, specialized=True)
    assert outcome.status in ("ok", "nonsmooth"), rp.describe_failure(program, outcome)


def test_the_arguments_have_the_signatures_they_are_named_by():
    from s2sgrad.signature import abstract_of
    rng = np.random.default_rng(0)
    for text, (make, _) in rp.ARGUMENTS.items():
        assert repr(abstract_of(make(rng))) == text


@pytest.mark.parametrize("argument", sorted(rp.ARGUMENTS))
def test_every_argument_signature_in_a_small_program(argument):
    program = rp.build(rp.RandomChooser(3), rp.SAFE, statements=(1, 2))
    program.argument = argument
    outcome = rp.check(program, seed=1, specialized=True)
    assert outcome.status == "ok", rp.describe_failure(program, outcome)


@pytest.mark.parametrize("seed", range(4))
def test_programs_use_the_constructs_they_are_built_from(seed):
    program = rp.build(rp.RandomChooser(seed), rp.CONSTRUCTS, statements=(6, 8))
    text = program.source()
    assert program.constructs, text
    for construct in program.constructs - {"assign"}:
        marks = rp.STATEMENT_MARKS[construct]
        assert any(m in text for m in marks), (construct, text)
    compile(text, "<program>", "exec")


def test_safe_programs_copy_an_array_before_writing_it():
    for seed in range(20):
        program = rp.build(rp.RandomChooser(seed), rp.SAFE)
        lines = [ln.strip() for block in program.body for ln in block]
        for k, ln in enumerate(lines):
            if ln.startswith(("y[", "z[")) or ln.startswith(("y +=", "y -=", "z *=")):
                assert lines[k - 1] == f"{ln[0]} = {ln[0]}.copy()", "\n".join(lines)


WRONG_RULE = """
import s2sgrad


@s2sgrad.custom_vjp
def cube(v):
    return v ** 3


@cube.defvjp
def _cube_vjp(g, ans, v):
    return g * 2.0 * v * v        # wrong on purpose: the derivative is 3 v^2


@cube.defjvp
def _cube_jvp(t, ans, v):
    return t * 3.0 * v * v
"""


def test_the_checker_finds_a_wrong_gradient(monkeypatch):
    monkeypatch.setitem(rp.HELPERS, "cube", WRONG_RULE)
    program = rp.Program([["z = cube(y)"]], {"assign"}, {"cube"})
    outcome = rp.check(program, seed=3)
    assert (outcome.status, outcome.kind) == ("wrong", "grad"), outcome
    assert "finite differences" in outcome.detail


def test_the_checker_passes_a_right_gradient():
    program = rp.Program([["z = np.tanh(y) * s"], ["s = s * np.sum(z)"]], {"assign"}, set())
    assert rp.check(program, seed=1).status == "ok"


def test_shrinking_keeps_the_failure_and_drops_the_rest(monkeypatch):
    monkeypatch.setitem(rp.HELPERS, "cube", WRONG_RULE)
    program = rp.Program([["s = s * 0.5"], ["z = cube(y)"], ["y = np.sin(z)"]],
                         {"assign"}, {"cube"})
    small = rp.shrink(program, lambda o: o.status == "wrong", seed=3)
    assert small.body == [["z = cube(y)"]]
    assert small.helpers == {"cube"}


def test_the_long_run_counts_every_program():
    counts, wrong, errors = rp.run(3, seed=5, mode="safe")
    assert counts["programs"] == 3
    assert counts["ok"] + counts["nonsmooth"] + counts["wrong"] + counts["error"] \
        + counts["invalid"] == 3
    assert len(wrong) == counts["wrong"]
    assert sum(len(v) for v in errors.values()) == counts["error"]
    np.testing.assert_equal(counts["invalid"], 0)


@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_random_programs_have_right_hessian_vector_products(data):
    # (a closure given to a user function is traced at run time; differentiating that trace
    # again is an error today, not a wrong number: left out here, counted by the long run)
    constructs = tuple(c for c in rp.SAFE if c != "closure_user")
    program = rp.build(DataChooser(data), constructs, statements=(1, 3))
    outcome = rp.check(program, seed=1, second=True)
    assert outcome.status in ("ok", "nonsmooth"), rp.describe_failure(program, outcome)
