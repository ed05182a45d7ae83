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



def q_outer_accumulate(x):
    n = len(x)
    A = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            A[i, j] += x[i] * x[j] + (i - j)
    return np.sum(A @ x)


def q_matvec_recurrence(x, M):
    h = x
    for _ in range(4):
        h = np.tanh(M.dot(h)) + 0.1 * h
    return h @ h


def q_dict_built(x):
    d = {}
    d["a"] = x
    d["b"] = x * 2.0
    return d["a"] @ d["b"]


def q_list_item_write(x):
    xs = [x, x * 2.0]
    xs[0] = xs[0] + 1.0
    return np.sum(xs[0] * xs[1])


def q_nested_return(x):
    for i in range(3):
        for j in range(3):
            if x[i] * x[j] > 0.5:
                return x[i] * x[j] * (i + j)
    return np.sum(x)


def q_while_continue(x):
    k = 0
    s = 0.0
    while k < 6:
        k += 1
        if k % 2 == 0:
            continue
        s = s + np.sin(x * k)
    return np.sum(s)


def pair(x, n):
    if n == 0:
        return x, x * x
    a, b = pair(x * 0.9, n - 1)
    return a + b, a * b


def q_recursion_tuples(x):
    a, b = pair(x, 3)
    return a + b


def scaled(x, *, scale=1.0):
    return x * scale


def q_kwonly_and_lambda_default(x):
    f = lambda v, s=2.0: v * s
    return np.sum(scaled(x, scale=3.0) * f(x)) + np.sum(f(x, 0.5))


def q_math_mix(x):
    return math.exp(x) * np.sin(x) + abs(x - 0.3) + math.floor(x * 3) * x


def q_relu_family(x):
    a = np.where(x > 0, x, 0.1 * x)
    b = x.clip(0)
    c = np.maximum(x, 0)
    d = abs(x)
    return np.sum(a * b + c * d)


def q_comp_cond(x):
    ys = [v if v > 0 else -v * 2 for v in x]
    return sum(ys)


def q_swap_loop(x):
    a, b = x[0], x[1]
    for _ in range(5):
        a, b = b, a * b + 0.1
    return a + b


def q_running_stats(x):
    mean = 0.0
    m2 = 0.0
    for k, v in enumerate(x):
        delta = v - mean
        mean += delta / (k + 1)
        m2 += delta * (v - mean)
    return m2 / (len(x) - 1)
