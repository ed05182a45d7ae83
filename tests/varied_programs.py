"""Ordinary user programs of many shapes (the compiler's stress test)."""

import math
import numpy as np

SCALE = 1.7

def p_while_stack(x):
    stack = [x]
    total = 0.0
    while len(stack) > 0:
        v = stack.pop()
        total = total + np.sum(v ** 2)
        if v.shape[0] > 1:
            stack.append(v[1:] * 0.5)
    return total

def p_items(params):
    s = 0.0
    for k, v in params.items():
        s = s + np.sum(np.sin(v)) * len(k)
    return s

def p_chain(x):
    return x.reshape(2, 3).sum(axis=1).max() + x.reshape((3, 2)).T.dot(np.ones(3)).sum()

def p_all(x):
    if np.all(x > -10):
        y = x * 2
    else:
        y = x
    return np.sum(y ** 3)

def p_diffs(x):
    y = 0.0
    for i in range(len(x) - 1):
        y = y + (x[i + 1] - x[i]) ** 2
    return y

def polar(a, b):
    return math.hypot(a, b), math.atan2(b, a)

def p_tuple_ret(x):
    acc = 0.0
    for i in range(3):
        r, th = polar(x[0] + i, x[1])
        acc = acc + r * th
    return acc

def p_shape(x):
    n = x.shape[0]
    out = 0.0
    for i in range(n):
        out = out + x[i] * SCALE * i
    return out

def p_norm_einsum(A):
    return np.linalg.norm(A) + np.sum(np.einsum('ij,jk->ik', A, A.T)) + np.linalg.det(A @ A.T + np.eye(2))

def p_matrix(x):
    M = np.array([[x[0], x[1]], [x[2], x[3]]])
    return np.sum(M @ M)

def p_genexp(x):
    return sum(x[i] ** 2 for i in range(len(x))) + max(x[0], x[1] * 2)

def p_nested_closure(x):
    def fact(n, v):
        if n <= 1:
            return v
        return v * fact(n - 1, v * 0.9 + x[0])
    return fact(4, x[1])

def p_slices_assign(x):
    y = np.zeros(6)
    y[::2] = x[:3]
    y[1::2] = np.cos(x[3:])
    y[-1] += y[0] * y[2]
    return np.sum(y * np.arange(6))

def p_while_break(x):
    t = 0.0
    y = x
    while True:
        y = y * 0.8 + 0.1
        t += 1.0
        if y < 0.3 or t > 20:
            break
    return y * t + x

def p_list_index_update(xs):
    ys = list(xs)
    ys[0] = ys[0] * 2
    return sum(v * v for v in ys)
