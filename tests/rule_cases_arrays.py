"""Rule test cases for arrays (see rule_cases.py for the format)."""

import numpy as np  # noqa: F401

from rule_cases import C, R, POS, UNIT  # noqa: F401

CASES = {}
