"""Functions that change lists and dicts in ways the generated code does not follow, for
tests/test_container_semantics.py."""

import numpy as np

def rev(x):
    l = [x[0], 2.0 * x[1], 3.0 * x[2]]
    l.reverse()
    return l[0] * 1.0 + l[1] * 2.0 + l[2] * 4.0

def upd(x):
    d = {"a": x[0]}
    d.update(b=x[1] * 3.0)
    return d["a"] + d["b"]

def ior(x):
    d = {"a": x[0]}
    d |= {"b": x[1] * 3.0}
    return d["a"] + d["b"]

def iadd_list(x):
    l = [x[0]]
    l += [x[1] * 3.0]
    return l[0] * l[1]

def remove(x):
    l = [x[0], x[1], x[2] * 2.0]
    l.remove(l[1])
    return l[0] * 1.0 + l[1] * 5.0

def intsum(x):
    return x.sum(dtype=int) * x[0]


def untraceable_helper(acc, v):
    try:                    # (a try statement: the compiler traces this helper)
        acc.append(v ** 2)
    except ValueError:
        pass


def helper_changes_its_argument(x):
    acc = [x[0]]
    untraceable_helper(acc, x[1])
    return acc[0] * 2.0 + acc[1] * 3.0

def insert(x):
    l = [x[0], x[1]]
    l.insert(0, x[2] * 2.0)
    return l[0] * 1.0 + l[1] * 5.0 + l[2] * 7.0

def sort_list(x):
    l = [x[0], x[1] * -3.0, x[2]]
    l.sort()
    return l[0] * 1.0 + l[1] * 5.0 + l[2] * 7.0

def extend(x):
    l = [x[0]]
    l.extend([x[1] * 2.0, x[2]])
    return l[0] + l[1] * 5.0 + l[2] * 7.0

def clear_(x):
    l = [x[0]]
    l.clear()
    l.append(x[1])
    return l[0] * 3.0

def setdefault(x):
    d = {"a": x[0]}
    v = d.setdefault("b", x[1] * 2.0)
    return d["a"] + v * 3.0

def popitem(x):
    d = {"a": x[0], "b": x[1] * 2.0}
    k, v = d.popitem()
    return v * 3.0 + d["a"]

def mul_list(x):
    l = [x[0]] * 2
    return l[0] * l[1]

def star_dict(x):
    d = {"a": x[0]}
    e = {**d, "b": x[1]}
    return e["a"] * e["b"]
