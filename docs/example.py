"""The function docs/compiler.md follows through the compiler (python docs/stages.py prints each stage)."""

import numpy as np


def energy(x, steps):
    e = 0.0
    for xi in x[:steps]:
        e += np.exp(-xi) if xi > 0 else 1.0 - xi
    return e / steps
