"""Programs the generated code (the source transformation) once differentiated silently wrong,
found by the tester.  Each is refused under ``fallback="never"`` at the user's line, and
under the default ``fallback="auto"`` the tracer gives the derivative, checked here against
central finite differences in grad and jvp, on general and specialized code."""

import numpy as np
import pytest

import s2sgrad
from gradcheck import check_grad
from tangentcheck import check_jvp

pytestmark = pytest.mark.usefixtures("code")


def repeats_in_place(x):
    l = [x, 2 * x, x * x]
    l *= 2
    return l[3] + 10 * l[5]


def repeats_a_name(x):
    l = [x, 2 * x, x * x]
    m = l * 2
    return m[3] + 10 * m[5]


def repeats_a_tuple(x):
    t = (x, 2 * x, x * x)
    m = t * 2
    return m[3] + 10 * m[5]


def joins_names(x):
    l = [x, 2 * x]
    l2 = [x * x]
    m = l + l2
    return m[0] + 10 * m[2]


def joins_a_slice(x):
    l = [x, 2 * x, x * x]
    m = l[1:] + l
    return m[1] + 10 * m[2]


@pytest.mark.parametrize("f", [repeats_in_place, repeats_a_name, repeats_a_tuple, joins_names,
                               joins_a_slice])
def test_joining_or_repeating_a_container_held_by_a_name(f):
    # ``l * 2`` where ``l`` holds a list was differentiated as arithmetic: a zero gradient
    # (15 expected at 0.7 for repeats_in_place) in the general code, or a crash
    with pytest.raises(s2sgrad.errors.UnsupportedError, match=r"test_hunt_generated\.py:\d+"):
        s2sgrad.grad(f, fallback="never")(0.7)
    for x in (0.7, 1.6):
        check_grad(f, x)
        check_jvp(f, x)
