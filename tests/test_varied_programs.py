"""A stress test: many ordinary programs, each checked against finite differences."""

import numpy as np
import pytest

import varied_programs as progs
from gradcheck import check_grad

rng = np.random.default_rng(0)
CASES = {
    "p_while_stack": (rng.normal(size=4),),
    "p_items": ({"ab": rng.normal(size=2), "c": rng.normal(size=3)},),
    "p_chain": (rng.normal(size=6),),
    "p_all": (rng.normal(size=3),),
    "p_diffs": (rng.normal(size=5),),
    "p_tuple_ret": (rng.uniform(0.5, 1, size=2),),
    "p_shape": (rng.normal(size=4),),
    "p_norm_einsum": (rng.normal(size=(2, 2)),),
    "p_matrix": (rng.normal(size=4),),
    "p_genexp": (rng.normal(size=3),),
    "p_nested_closure": (rng.uniform(0.1, 0.5, size=2),),
    "p_slices_assign": (rng.normal(size=6),),
    "p_while_break": (0.9,),
    "p_list_index_update": ([1.0, 2.0, 3.0],),
    "q_outer_accumulate": (rng.normal(size=3),),
    "q_matvec_recurrence": (rng.normal(size=3), rng.normal(size=(3, 3))),
    "q_dict_built": (rng.normal(size=3),),
    "q_list_item_write": (rng.normal(size=3),),
    "q_nested_return": (rng.normal(size=3),),
    "q_while_continue": (rng.normal(size=2),),
    "q_recursion_tuples": (0.7,),
    "q_kwonly_and_lambda_default": (rng.normal(size=3),),
    "q_math_mix": (0.77,),
    "q_relu_family": (rng.normal(size=5),),
    "q_comp_cond": (rng.normal(size=4),),
    "q_swap_loop": (rng.uniform(0.2, 0.9, size=2),),
    "q_running_stats": (rng.normal(size=5),),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_program(name, code):
    check_grad(getattr(progs, name), *CASES[name])


@pytest.mark.parametrize("name", sorted(n for n, args in CASES.items()
                                        if isinstance(args[0], (float, np.ndarray))))
def test_hessian_of_program(name):
    """Forward mode over the generated gradient, batched: the Hessian is the finite-difference
    Jacobian of the gradient (itself checked above)."""
    import warnings

    import s2sgrad
    from test_operators import numeric_jacobian
    f, args = getattr(progs, name), CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # transformed, not traced
        H = s2sgrad.hessian(f)(*args)
    g = s2sgrad.grad(f)
    np.testing.assert_allclose(H, numeric_jacobian(lambda x: g(x, *args[1:]), args[0]),
                               rtol=1e-5, atol=1e-6)
