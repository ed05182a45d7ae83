"""Autograd's example programs, in plain numpy, differentiate and match finite differences."""

import numpy as np
import pytest

from autograd_style import log_posterior, rnn_loss, training_loss
from gradcheck import check_grad


@pytest.mark.parametrize("seed", [0, 1])
def test_neural_net_with_a_list_of_weight_tuples(seed):
    rng = np.random.default_rng(seed)
    params = [(rng.normal(size=(3, 4)), rng.normal(size=4)),
              (rng.normal(size=(4, 2)), rng.normal(size=2))]
    X = rng.normal(size=(5, 3))
    T = np.eye(2)[rng.integers(0, 2, 5)]
    g = check_grad(log_posterior, params, X, T, 0.1)
    assert isinstance(g, list) and all(isinstance(layer, tuple) for layer in g)


def test_logistic_regression():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(6, 3))
    y = (rng.uniform(size=6) > 0.5).astype(float)
    check_grad(training_loss, rng.normal(size=3), X, y)


def test_rnn_over_time_with_dict_parameters():
    rng = np.random.default_rng(3)
    params = {"init hiddens": rng.normal(size=(1, 3)), "change": rng.normal(size=(5, 3)),
              "predict": rng.normal(size=(3, 2))}
    inputs = rng.normal(size=(4, 6, 2))
    targets = rng.normal(size=(4, 6, 2))
    check_grad(rnn_loss, params, inputs, targets)
