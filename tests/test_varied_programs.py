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
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_program(name):
    check_grad(getattr(progs, name), *CASES[name])
