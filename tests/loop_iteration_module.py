"""Loops over what a function is given, for tests/test_loop_iteration.py."""

import numpy as np


def over_int_keys(x, d):
    s = 0.0
    for k in d:             # the keys 0 and 1, not the values
        s = s + k * x + d[k] * x
    return s


def over_str_keys(x, d):
    s = 0.0
    for k in d:
        s = s + d[k] * x
    return s


def enumerate_keys(x, d):
    s = 0.0
    for i, k in enumerate(d):
        s = s + (i + k) * x
    return s


def zip_keys(x, d, w):
    s = 0.0
    for k, v in zip(d, w):
        s = s + k * v * x
    return s


def over_set(x, values):
    s = 0.0
    for v in values:
        s = s + v * x
    return s


def over_list(x, ws):
    s = 0.0
    for w in ws:
        s = s + np.sum(np.sin(w * x))
    return s


def over_rows(a):
    s = 0.0
    for row in a:
        s = s + np.sum(row ** 2) * row[0]
    return s


def over_items(x, d):
    s = 0.0
    for k, v in d.items():
        s = s + k * v * x
    return s


def over_slice_and_literal(x, ws):
    s = 0.0
    for w in ws[1:]:
        s = s + np.sum(w) * x
    for c in [1.0, 2.0]:
        s = s + c * x
    return s


def enumerate_reversed(x):
    l = [x[0], 2.0 * x[1], x[2] ** 2]
    s = 0.0
    for i, v in enumerate(reversed(l)):
        s = s + (i + 1.0) * v
    return s


def zip_reversed(x):
    s = 0.0
    for a, b in zip(reversed(x), x):
        s = s + a * b
    return s
