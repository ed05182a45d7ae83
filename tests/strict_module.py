"""User code written against the array API standard (array_api_strict in the tests)."""

import array_api_strict as xp


def energy(x, w):
    y = xp.sin(x) * w + x ** 2
    for i in range(3):
        y = xp.tanh(y) * 0.5 + y / 3.0
    return xp.sum(y * y) + xp.sum(xp.exp(-x) * w)


def with_matmul(A, v):
    b = A @ v
    return xp.sum(xp.maximum(b, 0.0) ** 2) + xp.mean(xp.abs(A))


def without_rule(a):
    """xp.linalg.matmul has no rule (xp.matmul has): the source transformation cannot
    differentiate it, and the tracer cannot follow array_api_strict arrays."""
    return xp.sum(xp.linalg.matmul(a, a))
