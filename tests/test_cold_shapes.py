"""The cold transform's shortcuts give the same results as the work they skip.

``analysis.shapes.Shapes._solve`` re-evaluates a definition only when a variable it read
changed in the previous round: the values it finds must be those of evaluating every
definition in every round (the reference below, the solver as it was written first), for
every function the shape analysis sees while the workloads of ``benchmarks/bench_cold.py``
and the examples are differentiated with specialized code.
"""

import os
import sys

import numpy as np
import pytest

import s2sgrad
from s2sgrad.analysis import shapes as shapes_mod
from s2sgrad.analysis.shapes import Shapes
from s2sgrad.driver import pipeline
from s2sgrad.rules.shapes import join
from s2sgrad.signature import ANY

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _reference_solve(shapes, defs, top, assigned):
    """Every definition evaluated in every round on the previous round's values."""
    env = shapes.env
    env.clear()
    for v in top:
        env[v] = ANY
    for p, a in shapes.params.items():
        env[p] = join(env.get(p), a)
    for _ in range(shapes_mod._MAX_ROUNDS):
        new = dict(env)
        for p, a in shapes.params.items():
            if p not in shapes.seeds:
                new[p] = join(new.get(p), a)
        for seed, primal in shapes.seeds.items():
            if primal in env:
                new[seed] = join(new.get(seed), env[primal])
        for v, value, part, guards in defs:
            if guards and not shapes._live(guards):
                continue
            a = shapes._eval(value, part)
            if a is None:
                continue
            new[v] = join(new.get(v), a)
        if new == env:
            break
        env.clear()
        env.update(new)
    else:
        for v in assigned:
            env[v] = ANY
    return dict(env)


@pytest.fixture
def compared(monkeypatch, fresh_call_path):
    """Each ``Shapes`` solved both ways; the list of (fast, reference) environments.  (No
    cache and no call site kept from another test: the analysis runs.)"""
    seen = []
    solve = Shapes._solve

    def both(self, stmts):
        solve(self, stmts)
        fast = dict(self.env)
        defs, top = self._definitions(stmts)
        assigned = {v for v, _, _, _ in defs} | top
        reference = _reference_solve(self, defs, top, assigned)
        self.env.clear()
        self.env.update(fast)
        seen.append((fast, reference))

    monkeypatch.setattr(Shapes, "_solve", both)
    pipeline.forget()
    yield seen
    pipeline.forget()


def _workloads():
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    try:
        import cold_workloads
    finally:
        sys.path.remove(os.path.join(ROOT, "benchmarks"))
    return cold_workloads.WORKLOADS


@pytest.mark.parametrize("name", ["physics", "rnn", "mlp", "gmm"])
def test_the_solver_finds_the_values_of_evaluating_every_round(compared, name):
    f, args = _workloads()[name]()
    s2sgrad.grad(f)(*args)
    assert len(compared) >= 4, "the specialized build ran no shape analysis"
    for fast, reference in compared:
        assert fast == reference


def _loop_and_branch(x, n):
    total = 0.0
    acc = x
    for i in range(n):
        if i > 2:
            acc = acc * np.sin(acc) + total
        else:
            acc = np.stack([acc, acc])[0]
        total = total + np.sum(acc)
    flag = total > 1.0
    if flag:
        total = total + 1.0
    return total


def test_the_solver_on_loops_branches_and_kinds_that_change(compared):
    x = np.linspace(0.1, 0.9, 4)
    g = s2sgrad.grad(_loop_and_branch)(x, 5)
    assert compared
    for fast, reference in compared:
        assert fast == reference
    eps = 1e-6
    fd = np.array([(_loop_and_branch(x + eps * e, 5) - _loop_and_branch(x - eps * e, 5))
                   / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
