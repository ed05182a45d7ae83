"""Issue 14: a first gradient imports only the rule modules of what the program calls.

The analysis of log-sum-exp shifts (``analysis/shift.py``) asks whether a callee is
NumPy's log, sum, exp, squeeze or max; it used to look all five up, which imported the
reduction and shape rules for a program calling none of them.  Checked in a new
interpreter (rule modules, once loaded, stay loaded).
"""

import numpy as np

from fresh_process import run_json


def test_elementwise_code_loads_no_reduction_or_shape_rules(tmp_path):
    out = run_json("""
        import json
        import numpy as np
        import s2sgrad
        from s2sgrad.rules import registry

        def f(x, y):
            u = np.exp(x)
            z = np.multiply(u, y)
            w = np.log(z + 1.0)
            return w * x

        gx, gy = s2sgrad.grad(f, wrt=(0, 1))(0.7, 1.3)     # (reverse mode: two arguments)
        print(json.dumps({"g": [float(gx), float(gy)],
                          "loaded": sorted(registry._MODULES_LOADED)}))
    """, tmp_path)
    x, y = 0.7, 1.3
    z = np.exp(x) * y
    want = [np.log(z + 1.0) + x * z / (z + 1.0),       # of log(e^x y + 1) x
            x * np.exp(x) / (z + 1.0)]
    np.testing.assert_allclose(out["g"], want, rtol=1e-12)
    assert "numpy" in out["loaded"]
    assert not {"arrays_reductions", "arrays_shapes"} & set(out["loaded"]), out["loaded"]


def test_a_log_sum_exp_shift_is_still_found(tmp_path):
    # the shift carries no derivative: no adjoint of s, no max_vjp; the gradient is the softmax
    out = run_json("""
        import json
        import numpy as np
        import s2sgrad

        def lse(a):
            s = np.max(a, axis=0, keepdims=True)
            return np.sum(np.log(np.sum(np.exp(a - s), axis=0, keepdims=True)) + s)

        a = np.array([0.3, -1.2, 2.5, 0.9])
        g = s2sgrad.grad(lse)(a)
        print(json.dumps({"g": list(map(float, g)), "code": s2sgrad.grad(lse, emit=True)}))
    """, tmp_path)
    a = np.array([0.3, -1.2, 2.5, 0.9])
    want = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    np.testing.assert_allclose(out["g"], want, rtol=1e-12)
    assert "max_vjp" not in out["code"] and "d_s" not in out["code"], out["code"]
